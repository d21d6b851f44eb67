/* nook CLI — the network options of run and session create: --network, -p/--publish,
 * --dns, --add-host, --egress, checked here as podman users type them, and the ext and
 * spec.network they become in the requests (spec.c). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/run.h"

static int push(json_t **arr, json_t *v) {
        if (!*arr)
                *arr = json_array();
        if (!*arr || !v || json_array_append_new(*arr, v) < 0) {
                fputs("nook: out of memory\n", stderr);
                return EXIT_NOOK;
        }
        return 0;
}

static bool ipv4(const char *s) {
        struct in_addr a;
        return inet_pton(AF_INET, s, &a) == 1;
}

static bool port_of(const char *s, size_t n, unsigned *ret) {
        unsigned v = 0;
        if (n == 0 || n > 5)
                return false;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (unsigned)(s[i] - '0');
        }
        *ret = v;
        return v >= 1 && v <= 65535;
}

/* -p [IP:][HOSTPORT:]PORT[/tcp|udp]: docker's grammar; the host port defaults to PORT
 * (docker picks a random one; a stable port is what a person typing -p 8080 expects),
 * the address to 127.0.0.1 (S28: never every interface unless asked). */
static int opt_publish(const char *arg, cli_session_opts *s, const char *verb) {
        char buf[128];
        if (strlen(arg) >= sizeof(buf))
                return cli_usage_error(verb, "-p '%.40s...': too long", arg);
        snprintf(buf, sizeof(buf), "%s", arg);
        const char *proto = "tcp";
        char *slash = strchr(buf, '/');
        if (slash) {
                *slash = 0;
                proto = slash + 1;
                if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0)
                        return cli_usage_error(verb, "-p %s: the protocol is tcp or udp, not '%s'", arg, proto);
        }
        char *parts[3];
        int n = 0;
        for (char *p = buf, *save = NULL, *t; n < 3 && (t = strtok_r(p, ":", &save)); p = NULL)
                parts[n++] = t;
        unsigned cport = 0, hport = 0;
        const char *ip = "127.0.0.1";
        size_t colons = 0;
        for (const char *c = buf; c < buf + strlen(arg) && *c; c++)
                colons += *c == ':';
        bool ok = n >= 1 && port_of(parts[n - 1], strlen(parts[n - 1]), &cport);
        if (ok && n == 2)
                ok = port_of(parts[0], strlen(parts[0]), &hport) || (ipv4(parts[0]) && colons == 2 && (ip = parts[0]));
        if (ok && n == 3)
                ok = ipv4(parts[0]) && port_of(parts[1], strlen(parts[1]), &hport) && (ip = parts[0]);
        if (!ok || n > 3 || colons > 2)
                return cli_usage_error(verb,
                                       "-p %s: write [IP:][HOSTPORT:]PORT[/tcp|udp], e.g. -p 8080:80 (host port 8080 "
                                       "on 127.0.0.1 to port 80 inside), -p 0.0.0.0:8080:80 for every interface",
                                       arg);
        json_t *m = json_pack("{s:s,s:I,s:I,s:s}", "host_ip", ip, "host_port", (json_int_t)(hport ? hport : cport),
                              "container_port", (json_int_t)cport, "protocol", proto);
        return push(&s->net_ports, m);
}

/* --network none | host | slirp4netns[:allow_host_loopback=true|false] (podman's
 * spelling; "private" is podman's name for its default) */
static int opt_network(const char *arg, cli_session_opts *s, const char *verb) {
        if (strcmp(arg, "none") == 0 || strcmp(arg, "host") == 0) {
                s->network = arg;
                return 0;
        }
        if (strcmp(arg, "private") == 0 || strncmp(arg, "slirp4netns", 11) == 0) {
                s->network = "slirp4netns";
                const char *o = arg[0] == 's' ? arg + 11 : "";
                if (*o == ':') {
                        o++;
                        if (strcmp(o, "allow_host_loopback=true") == 0)
                                s->net_loopback = true;
                        else if (strcmp(o, "allow_host_loopback=false") == 0)
                                s->net_loopback = false;
                        else
                                return cli_usage_error(verb,
                                                       "--network %s: slirp4netns takes allow_host_loopback=true "
                                                       "(10.0.2.2 reaches the host's 127.0.0.1) or =false",
                                                       arg);
                } else if (*o)
                        o = NULL;
                if (o)
                        return 0;
        }
        if (strcmp(arg, "pasta") == 0 || strncmp(arg, "pasta:", 6) == 0)
                return cli_usage_error(verb,
                                       "--network %s: nook does not drive pasta yet; use slirp4netns (the "
                                       "default)",
                                       arg);
        return cli_usage_error(verb,
                               "--network '%s': choose slirp4netns (userspace networking, the default; "
                               ":allow_host_loopback=true to reach the host's 127.0.0.1 as 10.0.2.2), none "
                               "(loopback only) or host (the host's network, a downgrade)",
                               arg);
}

bool cli_is_net_opt(int c) {
        return c == OPT_NETWORK || c == 'p' || c == OPT_DNS || c == OPT_ADD_HOST || c == OPT_EGRESS;
}

int cli_net_opt(int c, const char *arg, cli_session_opts *s, const char *verb) {
        switch (c) {
        case OPT_NETWORK:
                return opt_network(arg, s, verb);
        case 'p':
                return opt_publish(arg, s, verb);
        case OPT_DNS: {
                char ip[16];
                unsigned port = 53;
                char extra;
                int n = sscanf(arg, "%15[0-9.]:%u%c", ip, &port, &extra);
                if (!((n == 1 && !strchr(arg, ':')) || n == 2) || !ipv4(ip) || port < 1 || port > 65535)
                        return cli_usage_error(verb, "--dns '%s': give a resolver's IPv4 address (IP or IP:PORT)", arg);
                return push(&s->net_dns, json_string(arg));
        }
        case OPT_ADD_HOST: {
                const char *colon = strchr(arg, ':');
                if (!colon || colon == arg || !ipv4(colon + 1))
                        return cli_usage_error(verb, "--add-host '%s': write NAME:IPv4 (e.g. db:10.0.2.2)", arg);
                return push(&s->net_hosts, json_string(arg));
        }
        case OPT_EGRESS:
                /* the grammar is checked by the library (core/egress.c), one place for every caller */
                return push(&s->net_egress, json_string(arg));
        }
        return 1;
}

int cli_net_check(const cli_session_opts *s, const char *verb) {
        bool slirp = strcmp(s->network, "slirp4netns") == 0;
        if (!slirp && s->net_ports)
                return cli_usage_error(verb,
                                       "-p publishes ports of the slirp4netns network, and --network %s has "
                                       "none: drop --network %s",
                                       s->network, s->network);
        if (!slirp && s->net_egress)
                return cli_usage_error(verb, "--egress restricts the slirp4netns network, and --network %s %s",
                                       s->network,
                                       strcmp(s->network, "host") == 0 ? "cannot be restricted" : "has no egress");
        if (!slirp && s->net_dns)
                return cli_usage_error(verb, "--dns with --network %s: %s", s->network,
                                       strcmp(s->network, "host") == 0 ? "the host's /etc/resolv.conf is used"
                                                                       : "the sandbox has no network to resolve on");
        return 0;
}

int cli_net_ext(const cli_session_opts *s, json_t *ext) {
        int r = json_object_set_new(ext, "network", cli_json_str(s->network));
        if (s->net_ports)
                r |= json_object_set(ext, "ports", s->net_ports);
        if (s->net_dns)
                r |= json_object_set(ext, "dns", s->net_dns);
        if (s->net_hosts)
                r |= json_object_set(ext, "add_hosts", s->net_hosts);
        if (s->net_loopback)
                r |= json_object_set_new(ext, "allow_host_loopback", json_true());
        return r;
}

json_t *cli_net_policy(const cli_session_opts *s) {
        if (!s->net_egress)
                return NULL;
        return json_pack("{s:{s:O}}", "egress_scoped", "rules", s->net_egress);
}

void cli_net_done(cli_session_opts *s) {
        json_decref(s->net_ports);
        json_decref(s->net_dns);
        json_decref(s->net_hosts);
        json_decref(s->net_egress);
        s->net_ports = s->net_dns = s->net_hosts = s->net_egress = NULL;
}
