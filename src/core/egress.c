/* nook core — the egress rule grammar (egress.h): the contract's allowlist hosts and
 * egress_scoped rules and the CLI's --egress, checked strictly and written in one
 * canonical form, scheme://host:port.  nook-netd enforces what this accepts. */
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/egress.h"
#include "util/error.h"

/* Longer text cannot be a rule (the longest canonical form is 267 bytes). */
#define RULE_TEXT_MAX 300

static const struct scheme {
        const char *name;
        int proto;
        uint16_t default_port; /* 0: the rule must name one */
} schemes[] = {
        { "https", IPPROTO_TCP, 443 },
        { "http", IPPROTO_TCP, 80 },
        { "tcp", IPPROTO_TCP, 0 },
        { "udp", IPPROTO_UDP, 0 },
};

_printf_(3, 4) static int refuse(nook_error **err, const char *text, const char *fmt, ...) {
        char why[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        return nook_error_set(err, NOOK_ERROR_CONTRACT_VIOLATION, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                              "egress rule '%s': %s", text, why);
}

static const struct scheme *scheme_find(const char *name, size_t len) {
        for (size_t i = 0; i < ELEMENTSOF(schemes); i++)
                if (strlen(schemes[i].name) == len && strncasecmp(schemes[i].name, name, len) == 0)
                        return &schemes[i];
        return NULL;
}

static bool all_digits(const char *s, size_t len) {
        if (len == 0)
                return false;
        for (size_t i = 0; i < len; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

/* 1..65535 in decimal; *ret untouched when it is not. */
static bool parse_port(const char *s, size_t len, uint16_t *ret) {
        if (!all_digits(s, len) || len > 5)
                return false;
        unsigned v = 0;
        for (size_t i = 0; i < len; i++)
                v = v * 10 + (unsigned)(s[i] - '0');
        if (v == 0 || v > 65535)
                return false;
        *ret = (uint16_t)v;
        return true;
}

/* Four decimal parts of 0..255 without leading zeros (which some resolvers read as
 * octal: 010.0.0.1 would not mean what it seems). */
static bool parse_quad(const char *s, uint32_t *ret) {
        uint8_t b[4];
        const char *p = s;
        for (int i = 0; i < 4; i++) {
                size_t len = strspn(p, "0123456789");
                if (len == 0 || len > 3 || (len > 1 && p[0] == '0') || p[len] != (i == 3 ? '\0' : '.'))
                        return false;
                unsigned v = 0;
                for (size_t k = 0; k < len; k++)
                        v = v * 10 + (unsigned)(p[k] - '0');
                if (v > 255)
                        return false;
                b[i] = (uint8_t)v;
                p += len + 1;
        }
        memcpy(ret, b, 4);
        return true;
}

/* A DNS name (RFC 1123 labels) or a dotted quad, into r->host; NULL when it is one,
 * else why it is not. */
static const char *parse_host(const char *s, size_t len, nook_egress_rule *r) {
        if (len > 0 && s[len - 1] == '.')
                len--;
        if (len == 0)
                return "it names no host";
        if (len > NOOK_EGRESS_HOST_MAX)
                return "the host name is longer than 253 characters";
        char host[NOOK_EGRESS_HOST_MAX + 1];
        for (size_t i = 0; i < len; i++)
                host[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
        host[len] = '\0';

        const char *last = host;
        for (const char *label = host;; label++) {
                size_t n = strcspn(label, ".");
                if (n == 0)
                        return "the host name has an empty label (two dots in a row, or a leading dot)";
                if (n > 63)
                        return "a label of the host name is longer than 63 characters";
                if (strspn(label, "abcdefghijklmnopqrstuvwxyz0123456789-") < n)
                        return "a host name has letters, digits, hyphens and dots only";
                if (label[0] == '-' || label[n - 1] == '-')
                        return "a label of the host name starts or ends with a hyphen";
                last = label;
                label += n;
                if (*label == '\0')
                        break;
        }
        /* A name whose last label is a number is an address (as URL parsers read it): it
         * must be a whole dotted quad, not 10.1 or 1.2.3.4.5. */
        r->is_ip = all_digits(last, strlen(last));
        if (r->is_ip && !parse_quad(host, &r->ip))
                return "it is neither a host name nor an IPv4 address (a.b.c.d, each 0-255, no leading zeros)";
        memcpy(r->host, host, len + 1);
        return NULL;
}

/* The host[:port] part: no credentials, IPv6, path, query or wildcard. */
static int parse_authority(const char *text, const char *scheme, const char *s, const char **ret_host,
                           size_t *ret_host_len, const char **ret_port, nook_error **err) {
        size_t hostlen = strcspn(s, ":/?#");
        const char *colon = strchr(s, ':');
        if (strchr(s, '@'))
                return refuse(err, text, "credentials (user@) have no place in an egress rule; write %s://HOST[:PORT]",
                              scheme);
        if (s[0] == '[' || (colon && strchr(colon + 1, ':')))
                return refuse(err, text, "IPv6 destinations are not supported: sandboxes have IPv4 only");
        if (strchr(s, '/'))
                return refuse(err, text, "a rule names a host and a port, not a path; write %s://%.*s", scheme,
                              (int)hostlen, s);
        if (strchr(s, '?') || strchr(s, '#'))
                return refuse(err, text, "a rule names a host and a port, not a query; write %s://%.*s", scheme,
                              (int)hostlen, s);
        if (strchr(s, '*'))
                return refuse(err, text, "wildcards are not supported; name each host (api.example.com)");
        *ret_host = s;
        *ret_host_len = colon ? (size_t)(colon - s) : strlen(s);
        *ret_port = colon ? colon + 1 : NULL;
        return 0;
}

static int finish(const char *text, const struct scheme *sc, const char *host, size_t host_len, const char *port,
                  size_t port_len, nook_egress_rule *ret, nook_error **err) {
        nook_egress_rule r = { .proto = sc->proto, .port = sc->default_port };
        snprintf(r.scheme, sizeof(r.scheme), "%s", sc->name);
        const char *why = parse_host(host, host_len, &r);
        if (why)
                return refuse(err, text, "%s", why);
        if (port && !parse_port(port, port_len, &r.port))
                return refuse(err, text, "the port must be a number from 1 to 65535");
        if (r.port == 0)
                return refuse(err, text, "a %s rule needs a port; write %s://%s:PORT", sc->name, sc->name, r.host);
        snprintf(r.canonical, sizeof(r.canonical), "%s://%s:%u", r.scheme, r.host, (unsigned)r.port);
        *ret = r;
        return 0;
}

int nook_egress_parse(const char *text, nook_egress_rule *ret, nook_error **err) {
        if (!text || !*text)
                return nook_error_set(err, NOOK_ERROR_CONTRACT_VIOLATION, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                      "an egress rule is empty; write a host (api.example.com) or "
                                      "scheme://host:port (https, http, tcp, udp)");
        /* neither echoed nor accepted: the message may reach a terminal (S8) */
        size_t len = strnlen(text, RULE_TEXT_MAX + 1);
        for (size_t i = 0; i < len; i++)
                if (text[i] <= ' ' || text[i] > '~')
                        return nook_error_set(err, NOOK_ERROR_CONTRACT_VIOLATION, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                              "an egress rule holds a space, a control or a non-ASCII character; "
                                              "write a host (api.example.com) or scheme://host:port");
        if (len > RULE_TEXT_MAX)
                return nook_error_set(err, NOOK_ERROR_CONTRACT_VIOLATION, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                      "an egress rule is longer than %d characters", RULE_TEXT_MAX);

        const char *sep = strstr(text, "://");
        if (sep) {
                const struct scheme *sc = scheme_find(text, (size_t)(sep - text));
                if (!sc)
                        return refuse(err, text, "unknown scheme '%.*s'; write https://, http://, tcp:// or udp://",
                                      (int)(sep - text), text);
                const char *host, *port;
                size_t host_len;
                int r = parse_authority(text, sc->name, sep + 3, &host, &host_len, &port, err);
                if (r < 0)
                        return r;
                return finish(text, sc, host, host_len, port, port ? strlen(port) : 0, ret, err);
        }

        /* PROTO:PORT:HOST, the form of the contract's samples ("tcp:443:api.github.com") */
        const struct scheme *sc = scheme_find(text, strcspn(text, ":"));
        if (sc && sc->default_port == 0 && text[3] == ':' && strchr(text + 4, ':')) {
                const char *port = text + 4, *host = strchr(port, ':') + 1;
                char proto[4];
                snprintf(proto, sizeof(proto), "%s", sc->name);
                const char *h, *p;
                size_t h_len;
                int r = parse_authority(text, proto, host, &h, &h_len, &p, err);
                if (r < 0)
                        return r;
                if (p)
                        return refuse(err, text, "write %s:PORT:HOST or %s://HOST:PORT", proto, proto);
                return finish(text, sc, h, h_len, port, (size_t)(host - 1 - port), ret, err);
        }

        /* host (https) or host:port (tcp) */
        const char *host, *port;
        size_t host_len;
        int r = parse_authority(text, "https", text, &host, &host_len, &port, err);
        if (r < 0)
                return r;
        return finish(text, &schemes[port ? 2 : 0], host, host_len, port, port ? strlen(port) : 0, ret, err);
}
