/* Unit tests of src/core/egress.c: every accepted form and its canonical rule, and
 * every refused form with the message that says what to write instead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "core/egress.h"
#include "util/error.h"

static const struct accepted {
        const char *text, *canonical, *scheme, *host;
        int proto;
        uint16_t port;
        bool is_ip;
} accepted[] = {
        { "api.github.com", "https://api.github.com:443", "https", "api.github.com", IPPROTO_TCP, 443, false },
        { "API.GitHub.COM.", "https://api.github.com:443", "https", "api.github.com", IPPROTO_TCP, 443, false },
        { "example.com:8080", "tcp://example.com:8080", "tcp", "example.com", IPPROTO_TCP, 8080, false },
        { "https://example.com", "https://example.com:443", "https", "example.com", IPPROTO_TCP, 443, false },
        { "https://example.com:8443", "https://example.com:8443", "https", "example.com", IPPROTO_TCP, 8443, false },
        { "HTTP://Example.com", "http://example.com:80", "http", "example.com", IPPROTO_TCP, 80, false },
        { "http://a-b.c9.example:1", "http://a-b.c9.example:1", "http", "a-b.c9.example", IPPROTO_TCP, 1, false },
        { "tcp://db.internal:5432", "tcp://db.internal:5432", "tcp", "db.internal", IPPROTO_TCP, 5432, false },
        { "udp://ntp.example.org:123", "udp://ntp.example.org:123", "udp", "ntp.example.org", IPPROTO_UDP, 123, false },
        { "tcp:443:api.github.com", "tcp://api.github.com:443", "tcp", "api.github.com", IPPROTO_TCP, 443, false },
        { "udp:53:resolver.example", "udp://resolver.example:53", "udp", "resolver.example", IPPROTO_UDP, 53, false },
        { "10.0.2.60", "https://10.0.2.60:443", "https", "10.0.2.60", IPPROTO_TCP, 443, true },
        { "tcp://192.168.0.1:65535", "tcp://192.168.0.1:65535", "tcp", "192.168.0.1", IPPROTO_TCP, 65535, true },
        { "udp:53:0.0.0.0", "udp://0.0.0.0:53", "udp", "0.0.0.0", IPPROTO_UDP, 53, true },
        { "localhost", "https://localhost:443", "https", "localhost", IPPROTO_TCP, 443, false },
        { "tcp:443", "tcp://tcp:443", "tcp", "tcp", IPPROTO_TCP, 443, false }, /* a host named tcp */
        { "1e100.net", "https://1e100.net:443", "https", "1e100.net", IPPROTO_TCP, 443, false },
};

static void test_accepts_every_form_in_canonical_shape(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(accepted); i++) {
                const struct accepted *a = &accepted[i];
                _cleanup_(nook_error_freep) nook_error *err = NULL;
                nook_egress_rule r;
                int ret = nook_egress_parse(a->text, &r, &err);
                if (ret < 0)
                        fail_msg("%s: %s", a->text, nook_error_get_message(err));
                assert_null(err);
                assert_string_equal(r.canonical, a->canonical);
                assert_string_equal(r.scheme, a->scheme);
                assert_string_equal(r.host, a->host);
                assert_int_equal(r.proto, a->proto);
                assert_int_equal(r.port, a->port);
                assert_int_equal(r.is_ip, a->is_ip);
        }
}

static void test_ip_is_in_network_order(void **state) {
        nook_egress_rule r;
        assert_int_equal(nook_egress_parse("tcp://10.0.2.60:8443", &r, NULL), 0);
        assert_int_equal(r.ip, inet_addr("10.0.2.60"));
}

static void test_longest_name_fits(void **state) {
        /* 4 labels of 63 and one of 1: 253 characters, the most DNS allows */
        char name[300], text[320];
        memset(name, 'a', 253);
        name[253] = '\0';
        name[63] = name[127] = name[191] = name[251] = '.';
        snprintf(text, sizeof(text), "udp://%s:65535", name);
        nook_egress_rule r;
        assert_int_equal(nook_egress_parse(text, &r, NULL), 0);
        assert_int_equal(strlen(r.host), 253);
        assert_int_equal(strlen(r.canonical), strlen(text));
        /* one more is too long */
        snprintf(text, sizeof(text), "%s.b", name);
        assert_int_equal(nook_egress_parse(text, &r, NULL), -EINVAL);
}

static const struct refused {
        const char *text, *message;
} refused[] = {
        { "", "an egress rule is empty; write a host (api.example.com) or scheme://host:port (https, http, tcp, udp)" },
        { "*.github.com", "egress rule '*.github.com': wildcards are not supported; name each host (api.example.com)" },
        { "https://*.example.com",
          "egress rule 'https://*.example.com': wildcards are not supported; name each host (api.example.com)" },
        { "x/y", "egress rule 'x/y': a rule names a host and a port, not a path; write https://x" },
        { "https://api.github.com/repos",
          "egress rule 'https://api.github.com/repos': a rule names a host and a port, not a path; "
          "write https://api.github.com" },
        { "http://h.example:8080/", "egress rule 'http://h.example:8080/': a rule names a host and a port, not a path; "
                                    "write http://h.example" },
        { "https://h.example?q=1",
          "egress rule 'https://h.example?q=1': a rule names a host and a port, not a query; write https://h.example" },
        { "https://h.example#top",
          "egress rule 'https://h.example#top': a rule names a host and a port, not a query; write https://h.example" },
        { "https://user:pw@h.example",
          "egress rule 'https://user:pw@h.example': credentials (user@) have no place in an egress rule; "
          "write https://HOST[:PORT]" },
        { "https://[2001:db8::1]:443",
          "egress rule 'https://[2001:db8::1]:443': IPv6 destinations are not supported: sandboxes have IPv4 only" },
        { "2001:db8::1", "egress rule '2001:db8::1': IPv6 destinations are not supported: sandboxes have IPv4 only" },
        { "[::1]", "egress rule '[::1]': IPv6 destinations are not supported: sandboxes have IPv4 only" },
        { "tcp:443:[::1]",
          "egress rule 'tcp:443:[::1]': IPv6 destinations are not supported: sandboxes have IPv4 only" },
        { "ftp://h.example",
          "egress rule 'ftp://h.example': unknown scheme 'ftp'; write https://, http://, tcp:// or udp://" },
        { "://h.example", "egress rule '://h.example': unknown scheme ''; write https://, http://, tcp:// or udp://" },
        { "tcp://h.example", "egress rule 'tcp://h.example': a tcp rule needs a port; write tcp://h.example:PORT" },
        { "udp://H.example", "egress rule 'udp://H.example': a udp rule needs a port; write udp://h.example:PORT" },
        { "h.example:0", "egress rule 'h.example:0': the port must be a number from 1 to 65535" },
        { "h.example:65536", "egress rule 'h.example:65536': the port must be a number from 1 to 65535" },
        { "h.example:", "egress rule 'h.example:': the port must be a number from 1 to 65535" },
        { "h.example:+80", "egress rule 'h.example:+80': the port must be a number from 1 to 65535" },
        { "h.example:http", "egress rule 'h.example:http': the port must be a number from 1 to 65535" },
        { "tcp:x:h.example", "egress rule 'tcp:x:h.example': the port must be a number from 1 to 65535" },
        { "tcp:443:", "egress rule 'tcp:443:': it names no host" },
        { "tcp:443:h.example:80", "egress rule 'tcp:443:h.example:80': write tcp:PORT:HOST or tcp://HOST:PORT" },
        { "https://", "egress rule 'https://': it names no host" },
        { "https://:443", "egress rule 'https://:443': it names no host" },
        { ".", "egress rule '.': it names no host" },
        { "a..b", "egress rule 'a..b': the host name has an empty label (two dots in a row, or a leading dot)" },
        { ".a", "egress rule '.a': the host name has an empty label (two dots in a row, or a leading dot)" },
        { "a.b..", "egress rule 'a.b..': the host name has an empty label (two dots in a row, or a leading dot)" },
        { "-a.example", "egress rule '-a.example': a label of the host name starts or ends with a hyphen" },
        { "a-.example", "egress rule 'a-.example': a label of the host name starts or ends with a hyphen" },
        { "a_b.example", "egress rule 'a_b.example': a host name has letters, digits, hyphens and dots only" },
        { "a%2eb", "egress rule 'a%2eb': a host name has letters, digits, hyphens and dots only" },
        { "10.1", "egress rule '10.1': it is neither a host name nor an IPv4 address (a.b.c.d, each 0-255, no leading "
                  "zeros)" },
        { "1.2.3.4.5", "egress rule '1.2.3.4.5': it is neither a host name nor an IPv4 address (a.b.c.d, each 0-255, "
                       "no leading zeros)" },
        { "1.2.3.256", "egress rule '1.2.3.256': it is neither a host name nor an IPv4 address (a.b.c.d, each 0-255, "
                       "no leading zeros)" },
        { "010.0.0.1", "egress rule '010.0.0.1': it is neither a host name nor an IPv4 address (a.b.c.d, each 0-255, "
                       "no leading zeros)" },
        { "host.example.123", "egress rule 'host.example.123': it is neither a host name nor an IPv4 address "
                              "(a.b.c.d, each 0-255, no leading zeros)" },
        { "a b", "an egress rule holds a space, a control or a non-ASCII character; write a host (api.example.com) or "
                 "scheme://host:port" },
        { "a\x1b[2Jb", "an egress rule holds a space, a control or a non-ASCII character; write a host "
                       "(api.example.com) or scheme://host:port" },
        { "h\xc3\xa9.example", "an egress rule holds a space, a control or a non-ASCII character; write a host "
                               "(api.example.com) or scheme://host:port" },
};

static void test_refuses_with_what_to_write(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                _cleanup_(nook_error_freep) nook_error *err = NULL;
                nook_egress_rule r;
                memset(&r, 0x5a, sizeof(r));
                nook_egress_rule before = r;
                int ret = nook_egress_parse(refused[i].text, &r, &err);
                if (ret != -EINVAL)
                        fail_msg("%s: accepted as %s", refused[i].text, r.canonical);
                assert_non_null(err);
                assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_CONTRACT_VIOLATION);
                assert_int_equal(nook_error_get_errno(err), EINVAL);
                assert_string_equal(nook_error_get_message(err), refused[i].message);
                assert_memory_equal(&r, &before, sizeof(r)); /* untouched on failure */
        }
}

static void test_refuses_null_and_overlong_text(void **state) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        nook_egress_rule r;
        assert_int_equal(nook_egress_parse(NULL, &r, &err), -EINVAL);
        char text[400];
        memset(text, 'a', sizeof(text) - 1);
        text[sizeof(text) - 1] = '\0';
        assert_int_equal(nook_egress_parse(text, &r, &err), -EINVAL);
        assert_string_equal(nook_error_get_message(err), "an egress rule is longer than 300 characters");
        /* a label too long */
        char label[80];
        memset(label, 'a', 64);
        strcpy(label + 64, ".example");
        assert_int_equal(nook_egress_parse(label, &r, &err), -EINVAL);
        assert_non_null(strstr(nook_error_get_message(err), "a label of the host name is longer than 63 characters"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_accepts_every_form_in_canonical_shape),
                cmocka_unit_test(test_ip_is_in_network_order),
                cmocka_unit_test(test_longest_name_fits),
                cmocka_unit_test(test_refuses_with_what_to_write),
                cmocka_unit_test(test_refuses_null_and_overlong_text),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
