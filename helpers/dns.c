/* nook helpers — DNS wire parsing and building for nook-netd (dns.h; RFC 1035 §4.1,
 * compression §4.1.4).  Hostile input is the normal case: every read is checked
 * against the packet's length, compression pointers must point backwards and are
 * followed a bounded number of times, and no name grows past 255 bytes. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "dns.h"

#define FLAG_QR 0x8000
#define FLAG_OPCODE 0x7800
#define FLAG_RD 0x0100
#define FLAG_RA 0x0080
#define MAX_JUMPS 16
#define MAX_CHAIN 8 /* names a CNAME chain may lead through */

static uint16_t get16(const uint8_t *p) {
        return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}

uint16_t dns_get_id(const uint8_t *p) {
        return get16(p);
}

void dns_set_id(uint8_t *p, uint16_t id) {
        put16(p, id);
}

/* The name at off into out (256 bytes: lowercase, dotted); *ret_next is the offset
 * just past it where it starts (past the first pointer when compressed). */
static int read_name(const uint8_t *p, size_t n, size_t off, char *out, size_t *ret_next) {
        size_t len = 0, next = 0;
        int jumps = 0;
        for (;;) {
                if (off >= n)
                        return -EBADMSG;
                uint8_t b = p[off];
                if ((b & 0xc0) == 0xc0) {
                        if (off + 1 >= n || ++jumps > MAX_JUMPS)
                                return -EBADMSG;
                        size_t target = (size_t)(b & 0x3f) << 8 | p[off + 1];
                        if (next == 0)
                                next = off + 2;
                        /* only backwards: a pointer to itself or forward could loop */
                        if (target >= off)
                                return -EBADMSG;
                        off = target;
                        continue;
                }
                if (b & 0xc0) /* the extended label types (RFC 6891 §5) */
                        return -EBADMSG;
                if (b == 0)
                        break;
                if (off + 1 + b > n || len + (len > 0) + b > 253)
                        return -EBADMSG;
                if (len > 0)
                        out[len++] = '.';
                for (size_t i = 0; i < b; i++) {
                        uint8_t c = p[off + 1 + i];
                        if (c <= ' ' || c > '~' || c == '.')
                                return -EBADMSG;
                        out[len++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
                }
                off += 1 + b;
        }
        out[len] = '\0';
        *ret_next = next ? next : off + 1;
        return 0;
}

static int parse_question(const uint8_t *p, size_t n, bool response, dns_question *ret) {
        if (n < DNS_HEADER_SIZE)
                return -EBADMSG;
        dns_question q = { .id = get16(p), .flags = get16(p + 2) };
        if (!!(q.flags & FLAG_QR) != response || (q.flags & FLAG_OPCODE) != 0 || get16(p + 4) != 1)
                return -EBADMSG;
        size_t off;
        if (read_name(p, n, DNS_HEADER_SIZE, q.name, &off) < 0 || off + 4 > n)
                return -EBADMSG;
        q.type = get16(p + off);
        q.class = get16(p + off + 2);
        q.end = off + 4;
        *ret = q;
        return 0;
}

int dns_parse_query(const uint8_t *p, size_t n, dns_question *ret) {
        return parse_question(p, n, false, ret);
}

int dns_parse_response(const uint8_t *p, size_t n, dns_question *ret) {
        return parse_question(p, n, true, ret);
}

size_t dns_empty_reply(const uint8_t *p, const dns_question *q, int rcode, uint8_t *out, size_t size) {
        size_t qlen = q ? q->end - DNS_HEADER_SIZE : 0;
        if (size < DNS_HEADER_SIZE + qlen)
                return 0;
        memset(out, 0, DNS_HEADER_SIZE);
        put16(out, get16(p));
        put16(out + 2, (uint16_t)(FLAG_QR | (get16(p + 2) & FLAG_RD) | FLAG_RA | (rcode & 0xf)));
        put16(out + 4, q ? 1 : 0);
        if (q)
                memcpy(out + DNS_HEADER_SIZE, p + DNS_HEADER_SIZE, qlen);
        return DNS_HEADER_SIZE + qlen;
}

typedef struct chain {
        char names[MAX_CHAIN][256];
        size_t n;
} chain;

static bool chain_has(const chain *c, const char *name) {
        for (size_t i = 0; i < c->n; i++)
                if (strcmp(c->names[i], name) == 0)
                        return true;
        return false;
}

/* One walk over the answer section: CNAMEs from a name of the chain add their target
 * (*grew says so); with ret, A records of a chain name are collected and TTLs capped. */
static int walk_answers(uint8_t *p, size_t n, const dns_question *q, chain *c, bool *grew, uint32_t ttl_cap, dns_a *ret,
                        size_t max, size_t *found) {
        size_t off = q->end;
        for (unsigned i = 0, count = get16(p + 6); i < count; i++) {
                char owner[256], target[256];
                if (read_name(p, n, off, owner, &off) < 0 || off + 10 > n)
                        return -EBADMSG;
                uint16_t type = get16(p + off), class = get16(p + off + 2), rdlen = get16(p + off + 8);
                uint32_t ttl = get32(p + off + 4);
                size_t rdata = off + 10;
                if (rdata + rdlen > n)
                        return -EBADMSG;
                bool ours = chain_has(c, owner) && class == DNS_CLASS_IN;
                if (ours && type == DNS_TYPE_CNAME && !ret) {
                        size_t end;
                        if (read_name(p, rdata + rdlen, rdata, target, &end) < 0 || end != rdata + rdlen)
                                return -EBADMSG;
                        if (!chain_has(c, target) && c->n < MAX_CHAIN) {
                                strcpy(c->names[c->n++], target);
                                *grew = true;
                        }
                }
                if (ret && ttl > ttl_cap) {
                        p[off + 4] = (uint8_t)(ttl_cap >> 24);
                        p[off + 5] = (uint8_t)(ttl_cap >> 16);
                        put16(p + off + 6, (uint16_t)ttl_cap);
                        ttl = ttl_cap;
                }
                if (ret && ours && type == DNS_TYPE_A && rdlen == 4 && *found < max) {
                        memcpy(&ret[*found].addr, p + rdata, 4);
                        ret[(*found)++].ttl = ttl;
                }
                off = rdata + rdlen;
        }
        return 0;
}

int dns_answer_addrs(uint8_t *p, size_t n, const dns_question *q, uint32_t ttl_cap, dns_a *ret, size_t max) {
        chain c = { .n = 1 };
        strcpy(c.names[0], q->name);
        bool grew = true;
        /* CNAMEs may come in any order: walk until the chain stops growing */
        for (int pass = 0; grew && pass < MAX_CHAIN; pass++) {
                grew = false;
                if (walk_answers(p, n, q, &c, &grew, 0, NULL, 0, NULL) < 0)
                        return -EBADMSG;
        }
        size_t found = 0;
        if (walk_answers(p, n, q, &c, &grew, ttl_cap, ret, max, &found) < 0)
                return -EBADMSG;
        return (int)found;
}
