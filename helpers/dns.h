/* nook helpers — the DNS wire format as nook-netd reads and writes it (RFC 1035 §4):
 * the one question of a query or a response, empty replies, and the IPv4 addresses an
 * answer gives for a name.  Every input is the sandbox's or an upstream's and is read
 * with bounds checks only; nothing here allocates. */
#ifndef NOOK_HELPERS_DNS_H
#define NOOK_HELPERS_DNS_H

#include <stddef.h>
#include <stdint.h>

#define DNS_HEADER_SIZE 12
#define DNS_TYPE_A 1
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_AAAA 28
#define DNS_CLASS_IN 1
#define DNS_RCODE_FORMERR 1
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_REFUSED 5

typedef struct dns_question {
        uint16_t id;
        uint16_t flags;
        char name[256]; /* lowercase, dotted, no trailing dot; "" is the root */
        uint16_t type, class;
        size_t end; /* offset just past the question */
} dns_question;

typedef struct dns_a {
        uint32_t addr; /* network order */
        uint32_t ttl;
} dns_a;

/* The header and the single question of a query (QR 0, opcode QUERY, QDCOUNT 1), or of
 * a response (QR 1).  -EBADMSG for anything else; names with bytes other than
 * printable ASCII (or a dot inside a label) are refused too. */
int dns_parse_query(const uint8_t *p, size_t n, dns_question *ret);
int dns_parse_response(const uint8_t *p, size_t n, dns_question *ret);

/* A reply to the query p (whose question is q, or q NULL for none: the header alone)
 * with rcode and no records, into out (at least DNS_HEADER_SIZE + 260 bytes); returns
 * its length. */
size_t dns_empty_reply(const uint8_t *p, const dns_question *q, int rcode, uint8_t *out, size_t size);

/* The A records (class IN) of the answer section of response p for q->name and the
 * names a CNAME chain from it leads to, at most max of them into ret; lowers every
 * answer TTL above ttl_cap to ttl_cap in place (so that no client keeps an address
 * longer than it is allowed).  Returns how many, or -EBADMSG. */
int dns_answer_addrs(uint8_t *p, size_t n, const dns_question *q, uint32_t ttl_cap, dns_a *ret, size_t max);

/* The two bytes of the id. */
uint16_t dns_get_id(const uint8_t *p);
void dns_set_id(uint8_t *p, uint16_t id);

#endif
