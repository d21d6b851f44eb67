/* Unit tests of helpers/dns.c: the question of queries and responses, empty replies,
 * the addresses of an answer through CNAME chains, TTLs capped in place, and hostile
 * packets (truncated, looping, oversized names) refused without reading out of bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "dns.h"
#include "util/macro.h"

/* A query for allowed.test A, id 0x1234, RD. */
static const uint8_t query[] = { 0x12, 0x34, 0x01, 0x00, 0,   1, 0,   0,   0,   0,   0, 0, 7, 'a', 'l',
                                 'l',  'o',  'w',  'e',  'd', 4, 't', 'e', 's', 't', 0, 0, 1, 0,   1 };

typedef struct pkt {
        uint8_t b[1024];
        size_t n;
} pkt;

static void put(pkt *p, const void *s, size_t n) {
        assert_true(p->n + n <= sizeof(p->b));
        memcpy(p->b + p->n, s, n);
        p->n += n;
}

static void put16(pkt *p, uint16_t v) {
        uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
        put(p, b, 2);
}

static void put_rr(pkt *p, const void *owner, size_t owner_len, uint16_t type, uint32_t ttl, const void *rdata,
                   uint16_t rdlen) {
        put(p, owner, owner_len);
        put16(p, type);
        put16(p, DNS_CLASS_IN);
        put16(p, (uint16_t)(ttl >> 16));
        put16(p, (uint16_t)ttl);
        put16(p, rdlen);
        put(p, rdata, rdlen);
}

/* A response to query: its question, then ancount records added by the caller. */
static pkt response(uint16_t ancount) {
        pkt p = { .n = 0 };
        put(&p, query, sizeof(query));
        p.b[2] = 0x81;
        p.b[3] = 0x80;
        p.b[7] = (uint8_t)ancount;
        return p;
}

static void test_query_question_is_lowercased(void **state) {
        uint8_t q[sizeof(query)];
        memcpy(q, query, sizeof(q));
        q[13] = 'A';
        dns_question dq;
        assert_int_equal(dns_parse_query(q, sizeof(q), &dq), 0);
        assert_string_equal(dq.name, "allowed.test");
        assert_int_equal(dq.id, 0x1234);
        assert_int_equal(dq.type, DNS_TYPE_A);
        assert_int_equal(dq.class, DNS_CLASS_IN);
        assert_int_equal(dq.end, sizeof(q));
        /* a query is not a response, and the other way round */
        assert_int_equal(dns_parse_response(q, sizeof(q), &dq), -EBADMSG);
}

static void test_hostile_queries_are_refused(void **state) {
        dns_question dq;
        for (size_t n = 0; n < sizeof(query); n++) /* every truncation */
                assert_int_equal(dns_parse_query(query, n, &dq), -EBADMSG);
        uint8_t self[] = { 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1 };
        assert_int_equal(dns_parse_query(self, sizeof(self), &dq), -EBADMSG);
        uint8_t loop[] = { 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0xc0, 12, 0, 1, 0, 1 };
        assert_int_equal(dns_parse_query(loop, sizeof(loop), &dq), -EBADMSG);
        uint8_t forward[] = { 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 16, 0, 1, 1, 'a', 0, 0, 1, 0, 1 };
        assert_int_equal(dns_parse_query(forward, sizeof(forward), &dq), -EBADMSG);
        uint8_t ext[] = { 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41, 'a', 0, 0, 1, 0, 1 };
        assert_int_equal(dns_parse_query(ext, sizeof(ext), &dq), -EBADMSG);
        uint8_t dot[] = { 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'a', '.', 'b', 0, 0, 1, 0, 1 };
        assert_int_equal(dns_parse_query(dot, sizeof(dot), &dq), -EBADMSG);
        uint8_t two[sizeof(query)];
        memcpy(two, query, sizeof(two));
        two[5] = 2; /* QDCOUNT 2 */
        assert_int_equal(dns_parse_query(two, sizeof(two), &dq), -EBADMSG);
        two[5] = 1;
        two[2] = 0x29; /* opcode UPDATE */
        assert_int_equal(dns_parse_query(two, sizeof(two), &dq), -EBADMSG);
        /* a name of five 63-byte labels is longer than 255 */
        pkt p = { .n = 0 };
        put(&p, query, 12);
        for (int i = 0; i < 5; i++) {
                uint8_t label[64];
                label[0] = 63;
                memset(label + 1, 'a', 63);
                put(&p, label, sizeof(label));
        }
        put(&p, "\0\0\1\0\1", 5);
        assert_int_equal(dns_parse_query(p.b, p.n, &dq), -EBADMSG);
}

static void test_empty_reply_keeps_id_question_and_rd(void **state) {
        dns_question dq;
        assert_int_equal(dns_parse_query(query, sizeof(query), &dq), 0);
        uint8_t out[512];
        size_t n = dns_empty_reply(query, &dq, DNS_RCODE_REFUSED, out, sizeof(out));
        assert_int_equal(n, sizeof(query));
        const uint8_t want[12] = { 0x12, 0x34, 0x81, 0x85, 0, 1, 0, 0, 0, 0, 0, 0 };
        assert_memory_equal(out, want, 12);
        assert_memory_equal(out + 12, query + 12, sizeof(query) - 12);
        n = dns_empty_reply(query, NULL, DNS_RCODE_FORMERR, out, sizeof(out));
        assert_int_equal(n, 12);
        assert_int_equal(out[3], 0x81);
        assert_int_equal(out[5], 0);
        assert_int_equal(dns_empty_reply(query, &dq, 0, out, 20), 0);
}

static void test_answer_addresses_follow_cnames_in_any_order(void **state) {
        /* target.test A first, then the chain allowed.test -> mid.test -> target.test, and
         * an A of an unrelated name that must not count */
        pkt p = response(5);
        const uint8_t target[] = { 6, 't', 'a', 'r', 'g', 'e', 't', 4, 't', 'e', 's', 't', 0 };
        const uint8_t mid[] = { 3, 'm', 'i', 'd', 0xc0, 20 }; /* mid + the "test" of the question */
        const uint8_t other[] = { 5, 'o', 't', 'h', 'e', 'r', 0 };
        const uint8_t qname_ptr[] = { 0xc0, 12 };
        const uint8_t a1[] = { 10, 0, 2, 70 }, a2[] = { 10, 0, 2, 71 }, a3[] = { 10, 0, 2, 99 };
        size_t target_at = p.n;
        put_rr(&p, target, sizeof(target), DNS_TYPE_A, 300, a1, 4);
        put_rr(&p, mid, sizeof(mid), DNS_TYPE_CNAME, 300, target, sizeof(target));
        put_rr(&p, qname_ptr, 2, DNS_TYPE_CNAME, 100000, mid, sizeof(mid));
        put_rr(&p, target, sizeof(target), DNS_TYPE_A, 30, a2, 4);
        put_rr(&p, other, sizeof(other), DNS_TYPE_A, 300, a3, 4);
        dns_question dq;
        assert_int_equal(dns_parse_response(p.b, p.n, &dq), 0);
        dns_a a[8];
        assert_int_equal(dns_answer_addrs(p.b, p.n, &dq, 86400, a, ELEMENTSOF(a)), 2);
        assert_int_equal(a[0].addr, inet_addr("10.0.2.70"));
        assert_int_equal(a[0].ttl, 300);
        assert_int_equal(a[1].addr, inet_addr("10.0.2.71"));
        assert_int_equal(a[1].ttl, 30);
        /* the TTL cap rewrites every answer record above it, in place */
        assert_int_equal(dns_answer_addrs(p.b, p.n, &dq, 60, a, ELEMENTSOF(a)), 2);
        assert_int_equal(a[0].ttl, 60);
        assert_int_equal(a[1].ttl, 30);
        const uint8_t sixty[4] = { 0, 0, 0, 60 };
        assert_memory_equal(p.b + target_at + sizeof(target) + 4, sixty, 4);
        /* at most max */
        assert_int_equal(dns_answer_addrs(p.b, p.n, &dq, 60, a, 1), 1);
}

static void test_hostile_answers_are_refused(void **state) {
        const uint8_t qname_ptr[] = { 0xc0, 12 };
        const uint8_t a1[] = { 10, 0, 2, 70 };
        pkt p = response(1);
        put_rr(&p, qname_ptr, 2, DNS_TYPE_A, 300, a1, 4);
        dns_question dq;
        dns_a a[4];
        assert_int_equal(dns_parse_response(p.b, p.n, &dq), 0);
        assert_int_equal(dns_answer_addrs(p.b, p.n, &dq, 60, a, 4), 1);
        for (size_t n = dq.end; n < p.n; n++) /* every truncation of the record */
                assert_int_equal(dns_answer_addrs(p.b, n, &dq, 60, a, 4), -EBADMSG);
        /* more records announced than present */
        p.b[7] = 2;
        assert_int_equal(dns_answer_addrs(p.b, p.n, &dq, 60, a, 4), -EBADMSG);
        /* a CNAME whose target overruns its rdata */
        pkt c = response(1);
        const uint8_t target[] = { 6, 't', 'a', 'r', 'g', 'e', 't', 0 };
        put_rr(&c, qname_ptr, 2, DNS_TYPE_CNAME, 300, target, sizeof(target));
        c.b[c.n - sizeof(target) - 1] = 3; /* rdlength 3 */
        c.n -= sizeof(target) - 3;
        assert_int_equal(dns_parse_response(c.b, c.n, &dq), 0);
        assert_int_equal(dns_answer_addrs(c.b, c.n, &dq, 60, a, 4), -EBADMSG);
        /* an A record whose rdata is not 4 bytes gives no address */
        pkt w = response(1);
        const uint8_t five[] = { 10, 0, 2, 70, 1 };
        put_rr(&w, qname_ptr, 2, DNS_TYPE_A, 300, five, 5);
        assert_int_equal(dns_parse_response(w.b, w.n, &dq), 0);
        assert_int_equal(dns_answer_addrs(w.b, w.n, &dq, 60, a, 4), 0);
}

static void test_ids(void **state) {
        uint8_t q[sizeof(query)];
        memcpy(q, query, sizeof(q));
        assert_int_equal(dns_get_id(q), 0x1234);
        dns_set_id(q, 0xbeef);
        assert_int_equal(q[0], 0xbe);
        assert_int_equal(q[1], 0xef);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_query_question_is_lowercased),
                cmocka_unit_test(test_hostile_queries_are_refused),
                cmocka_unit_test(test_empty_reply_keeps_id_question_and_rd),
                cmocka_unit_test(test_answer_addresses_follow_cnames_in_any_order),
                cmocka_unit_test(test_hostile_answers_are_refused),
                cmocka_unit_test(test_ids),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
