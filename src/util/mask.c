/* nook util — the streaming secret masker (mask.h): the patterns of each value and its
 * encodings compiled into one Aho–Corasick automaton behind a 4-byte prefilter, and the
 * streams that rewrite every byte they pass with it.
 *
 * Written here rather than taken from a library: Debian's multi-pattern matchers with a
 * C API (libhyperscan5, libvectorscan5) find pattern ends in a stream but rewrite
 * nothing — the hold-back of a possible match's start and its replacement would still
 * be ours — and they bring libstdc++ and 13-16 MB installed (hyperscan is x86 only,
 * vectorscan on amd64 needs SSE4.2) into the static helper that captures output, which
 * links only util and proto.  What this file costs is measured by
 * tests/bench/mask-bench.c (figures in the commit adding it). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "util/macro.h"
#include "util/mask.h"
#include "util/strbuf.h"

#define STR_(x) #x
#define STR(x) STR_(x)
#define MARKER_PREFIX "[REDACTED:"
#define MARKER_MAX (sizeof(MARKER_PREFIX) + NOOK_MASK_REF_MAX + 1)

/* min_length: 8 bytes, for a whole value, a line of one and an encoded form alike.  A
 * shorter value ("admin", a 4-digit PIN, "true") is found all over ordinary output, so
 * masking it would mangle the log and, by where the markers fall, point at the value;
 * and it is guessable in a few thousand tries, masked or not.  8 is where GitLab draws
 * the same line for masked CI variables (gitlab-foss issue 13784); 8 characters of a
 * random base64 token still carry 48 bits.  Every pattern (an encoded form, a line) is
 * at least this long too, which the prefilter relies on. */
#define MIN NOOK_MASK_MIN_VALUE
_Static_assert(MIN >= 8, "the prefilter's keys need patterns of 8 bytes or more");
#define MAX_PATTERN_BYTES ((size_t)1 << 30)

#define MIN_S STR(NOOK_MASK_MIN_VALUE)
#define MAX_S STR(NOOK_MASK_MAX_VALUE)
static const char WHY_SHORT[] = "shorter than " MIN_S " bytes: not masked";
static const char WHY_LINE[] = "a line shorter than " MIN_S " bytes is masked only inside the whole value";
static const char WHY_LONG[] = "longer than " MAX_S " bytes: only its lines of " MIN_S " to " MAX_S " bytes are masked";
static const char WHY_LONG_BINARY[] = "longer than " MAX_S " bytes and not text: not masked";

/* The prefilter (scan()): hashed sets of 4-byte groups ("grams") and 8-byte keys.
 * any: the gram at each offset 0..L-4 of every pattern, L the shortest pattern's
 * length; first: the first KEY bytes of every pattern (all patterns have them).  A gram
 * at i+L-4 absent from any rules out a pattern starting anywhere in [i, i+L-3): one
 * lookup decides L-3 positions (the stride), so one short secret slows the scan for all
 * (L is capped at SPAN_MAX: past it the sets fill faster than the stride pays).
 *
 * any is a Bloom filter with two bits per gram in one 64-bit word, tested in two stages:
 * the scan's hot loop tests one bit (one load, no second miss), and only a window whose
 * gram passes has the other bit tested, in the word already loaded.  It is sized for
 * 1 bit in ANY_DENSITY / 2 set: about 1 window in 32 passes stage 1 and 1 in 1000 both
 * (random text; measured by tests/bench/mask-bench.c).  first holds 1 bit in 128. */
#define GRAM 4
#define KEY 8
#define SPAN_MAX 64
#define ANY_DENSITY 64
#define FIRST_DENSITY 128
#define SET_BITS_MIN 12
#define SET_BITS_MAX 24

/* The value is followed by PAD zero bytes: nook_utf8_seq() reads up to 3 bytes ahead. */
#define PAD 4

typedef struct secret {
        uint8_t *value; /* len + PAD bytes, until build: wiped then */
        size_t len;
        char ref[NOOK_MASK_REF_MAX + 1];
        char marker[MARKER_MAX];
        size_t marker_len;
} secret;

typedef struct weak {
        size_t secret;
        const char *why;
} weak;

struct nook_mask {
        secret *secrets;
        size_t n_secrets, cap_secrets;
        weak *weak;
        size_t n_weak, cap_weak;
        bool built;
        /* The compiled set, in one mapping (map, map_size).  States are numbered
         * breadth-first, 0 the root; a state's edges are edge_byte[edges[s] ..
         * edges[s+1]), sorted by byte, and edge e leads to state e + 1 (each state but
         * the root is the target of one edge, numbered in the same order). */
        void *map;
        size_t map_size;
        uint32_t n_states, n_patterns, max_len, min_len;
        unsigned first_bits, any_bits; /* log2 of their sizes in bits */
        uint32_t *root;                /* [256]: the root's transitions, dense */
        uint32_t *fail, *edges;
        /* report: the first state at or down the fail chain where a pattern ends, or 0 */
        uint32_t *report;
        /* the bytes a stream in this state keeps: the depth of the first state down
         * the fail chain that has edges */
        uint32_t *hold;
        uint8_t *edge_byte;
        /* per pattern, in the order of the states where they end (term, ascending):
         * that state, the pattern's length, its secret */
        uint32_t *term, *plen, *psec;
        uint64_t *first, *any;
};

/* ---- memory that held secret bytes is wiped before it is given back ---- */

static void wipe_free(void *p, size_t size) {
        if (!p)
                return;
        explicit_bzero(p, size);
        free(p);
}

/* realloc() would leave the old block's bytes behind in the heap. */
static void *grow(void *old, size_t old_size, size_t new_size) {
        void *p = malloc(new_size);
        if (!p)
                return NULL;
        if (old) {
                memcpy(p, old, old_size);
                wipe_free(old, old_size);
        }
        return p;
}

/* Room for need more elements of size elem in *v (n used of *cap). */
static bool reserve(void **v, size_t *cap, size_t n, size_t need, size_t elem) {
        if (n + need <= *cap)
                return true;
        size_t c = *cap ? *cap : 16;
        while (c < n + need)
                c *= 2;
        void *p = grow(*v, *cap * elem, c * elem);
        if (!p)
                return false;
        *v = p;
        *cap = c;
        return true;
}

/* ---- adding values ---- */

int nook_mask_new(nook_mask **ret) {
        nook_mask *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        *ret = m;
        return 0;
}

bool nook_mask_ref_valid(const char *ref, size_t n) {
        if (!ref || n == 0 || n > NOOK_MASK_REF_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = ref[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '_' || c == '-'))
                        return false;
        }
        return true;
}

static int add_weak(nook_mask *m, size_t sec, const char *why) {
        if (!reserve((void **)&m->weak, &m->cap_weak, m->n_weak, 1, sizeof(weak)))
                return -ENOMEM;
        m->weak[m->n_weak++] = (weak){ .secret = sec, .why = why };
        return 0;
}

/* true when the whole value is well-formed UTF-8 (the PAD zeros end a sequence cut
 * short at its end). */
static bool utf8_valid(const uint8_t *v, size_t n) {
        for (size_t i = 0, seq; i < n; i += seq)
                if ((seq = nook_utf8_seq(v + i)) == 0 || i + seq > n)
                        return false;
        return true;
}

/* A value has lines when it is text (UTF-8) with a newline: a PEM key, a kubeconfig.
 * The 0x0a bytes of binary data end no line, and its pieces would be patterns as short
 * as the minimum, which sets the prefilter's stride for every pattern (scan()). */
static bool has_lines(const uint8_t *v, size_t n) {
        return memchr(v, '\n', n) && utf8_valid(v, n);
}

/* What of value cannot be masked, for nook_mask_weak(). */
static int report_weak(nook_mask *m, size_t idx, const uint8_t *v, size_t n) {
        if (n < MIN)
                return add_weak(m, idx, WHY_SHORT);
        bool lines = has_lines(v, n);
        if (n > NOOK_MASK_MAX_VALUE)
                return add_weak(m, idx, lines ? WHY_LONG : WHY_LONG_BINARY);
        if (!lines)
                return 0;
        for (size_t start = 0; start <= n;) {
                const uint8_t *nl = memchr(v + start, '\n', n - start);
                size_t end = nl ? (size_t)(nl - v) : n, len = end - start;
                if (len > 0 && v[end - 1] == '\r')
                        len--;
                if (len > 0 && len < MIN)
                        return add_weak(m, idx, WHY_LINE);
                start = end + 1;
        }
        return 0;
}

int nook_mask_add(nook_mask *m, const char *ref, const void *value, size_t len) {
        if (!ref || !nook_mask_ref_valid(ref, strlen(ref)) || (!value && len > 0))
                return -EINVAL;
        if (m->built)
                return -EBUSY;
        if (!reserve((void **)&m->secrets, &m->cap_secrets, m->n_secrets, 1, sizeof(secret)))
                return -ENOMEM;
        if (len > SIZE_MAX - PAD)
                return -ENOMEM;
        secret *s = &m->secrets[m->n_secrets];
        *s = (secret){ .len = len };
        s->value = calloc(len + PAD, 1);
        if (!s->value)
                return -ENOMEM;
        if (len)
                memcpy(s->value, value, len);
        strcpy(s->ref, ref);
        s->marker_len = (size_t)snprintf(s->marker, sizeof(s->marker), MARKER_PREFIX "%s]", ref);
        m->n_secrets++;
        int r = report_weak(m, m->n_secrets - 1, s->value, len);
        if (r < 0) {
                wipe_free(s->value, len + PAD);
                m->n_secrets--;
        }
        return r;
}

const char *nook_mask_weak(const nook_mask *m, size_t i, const char **ret_why) {
        if (!m || i >= m->n_weak)
                return NULL;
        if (ret_why)
                *ret_why = m->weak[i].why;
        return m->secrets[m->weak[i].secret].ref;
}

size_t nook_mask_size(const nook_mask *m) {
        return m ? m->map_size : 0;
}

/* ---- the patterns of a value ---- */

typedef struct pat {
        size_t off;
        uint32_t len, secret;
} pat;

/* All patterns, back to back in pool; the one being written starts at start. */
typedef struct patlist {
        uint8_t *pool;
        size_t used, cap;
        pat *v;
        size_t n, cap_v;
        size_t start;
        bool failed;
} patlist;

static void patlist_done(patlist *p) {
        wipe_free(p->pool, p->cap);
        wipe_free(p->v, p->cap_v * sizeof(pat));
        *p = (patlist){ 0 };
}

static void put(patlist *p, const void *b, size_t n) {
        if (n == 0)
                return;
        if (p->failed || !reserve((void **)&p->pool, &p->cap, p->used, n, 1)) {
                p->failed = true;
                return;
        }
        memcpy(p->pool + p->used, b, n);
        p->used += n;
}

static void putc1(patlist *p, uint8_t c) {
        put(p, &c, 1);
}

/* Ends the pattern being written: kept when it is long enough, else dropped. */
static void pat_end(patlist *p, size_t sec) {
        size_t len = p->used - p->start;
        if (p->failed)
                return;
        if (len < MIN) {
                if (len > 0)
                        explicit_bzero(p->pool + p->start, len);
                p->used = p->start;
                return;
        }
        if (!reserve((void **)&p->v, &p->cap_v, p->n, 1, sizeof(pat))) {
                p->failed = true;
                return;
        }
        p->v[p->n++] = (pat){ .off = p->start, .len = (uint32_t)len, .secret = (uint32_t)sec };
        p->start = p->used;
}

static const char HEX_LOWER[] = "0123456789abcdef", HEX_UPPER[] = "0123456789ABCDEF";
static const char B64_STD[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char B64_URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void gen_hex(patlist *p, const uint8_t *v, size_t n, const char *digits, size_t sec) {
        for (size_t i = 0; i < n; i++) {
                putc1(p, (uint8_t)digits[v[i] >> 4]);
                putc1(p, (uint8_t)digits[v[i] & 15]);
        }
        pat_end(p, sec);
}

/* The value at byte offset align (0..2) of a longer text, base64-encoded: character i
 * of the encoding carries bits [6i, 6i+6) of the text, and those lying wholly inside the
 * value's bits [8 align, 8 (align + n)) are the pattern; the characters at either edge
 * mix in the neighbours' bits and are left out. */
static void gen_base64(patlist *p, const uint8_t *v, size_t n, unsigned align, const char *alphabet, size_t sec) {
        size_t bit0 = 8 * (size_t)align, bit1 = 8 * ((size_t)align + n);
        for (size_t i = (bit0 + 5) / 6; i < bit1 / 6; i++) {
                unsigned x = 0;
                for (size_t b = 6 * i - bit0; b < 6 * i - bit0 + 6; b++)
                        x = x << 1 | ((v[b / 8] >> (7 - b % 8)) & 1u);
                putc1(p, (uint8_t)alphabet[x]);
        }
        pat_end(p, sec);
}

/* RFC 3986 percent-encoding of everything outside the unreserved set; with plus, a
 * space is '+' (application/x-www-form-urlencoded). */
static void gen_url(patlist *p, const uint8_t *v, size_t n, const char *digits, bool plus, size_t sec) {
        for (size_t i = 0; i < n; i++) {
                uint8_t c = v[i];
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '.' || c == '_' || c == '~')
                        putc1(p, c);
                else if (c == ' ' && plus)
                        putc1(p, '+');
                else {
                        putc1(p, '%');
                        putc1(p, (uint8_t)digits[c >> 4]);
                        putc1(p, (uint8_t)digits[c & 15]);
                }
        }
        pat_end(p, sec);
}

enum {
        J_SLASH = 1, /* '/' as \/ */
        J_UPPER = 2, /* \u00XX with upper-case hex (jansson), else lower (Python) */
        J_DEL = 4,   /* 0x7f as \u007f (nook's own writers) */
        J_ASCII = 8, /* non-ASCII as \uXXXX, surrogate pairs above U+FFFF (Python's default) */
};

static void put_u(patlist *p, uint32_t u, const char *digits) {
        const uint8_t e[6] = { '\\',
                               'u',
                               (uint8_t)digits[u >> 12 & 15],
                               (uint8_t)digits[u >> 8 & 15],
                               (uint8_t)digits[u >> 4 & 15],
                               (uint8_t)digits[u & 15] };
        put(p, e, sizeof(e));
}

/* The code point of the well-formed UTF-8 sequence of len bytes at s. */
static uint32_t utf8_decode(const uint8_t *s, size_t len) {
        uint32_t u = len == 1 ? s[0] : len == 2 ? s[0] & 0x1fu : len == 3 ? s[0] & 0x0fu : s[0] & 0x07u;
        for (size_t k = 1; k < len; k++)
                u = u << 6 | (s[k] & 0x3fu);
        return u;
}

/* The value as it appears between the quotes of a JSON string (RFC 8259 section 7). */
static void gen_json(patlist *p, const uint8_t *v, size_t n, unsigned flags, size_t sec) {
        const char *digits = flags & J_UPPER ? HEX_UPPER : HEX_LOWER;
        static const char short_escape[][2] = {
                ['"'] = "\"", ['\\'] = "\\", ['\n'] = "n", ['\r'] = "r", ['\t'] = "t", ['\b'] = "b", ['\f'] = "f"
        };
        for (size_t i = 0; i < n; i++) {
                uint8_t c = v[i];
                size_t seq;
                if (c < sizeof(short_escape) / sizeof(short_escape[0]) && short_escape[c][0]) {
                        putc1(p, '\\');
                        putc1(p, (uint8_t)short_escape[c][0]);
                } else if (c == '/' && (flags & J_SLASH))
                        put(p, "\\/", 2);
                else if (c < 0x20 || (c == 0x7f && (flags & J_DEL)))
                        put_u(p, c, digits);
                else if (c >= 0x80 && (flags & J_ASCII) && (seq = nook_utf8_seq(v + i)) > 0 && i + seq <= n) {
                        uint32_t u = utf8_decode(v + i, seq);
                        if (u >= 0x10000) {
                                put_u(p, 0xd800 + ((u - 0x10000) >> 10), digits);
                                put_u(p, 0xdc00 + ((u - 0x10000) & 0x3ff), digits);
                        } else
                                put_u(p, u, digits);
                        i += seq - 1;
                } else
                        putc1(p, c);
        }
        pat_end(p, sec);
}

static void gen_json_variants(patlist *p, const uint8_t *v, size_t n, size_t sec) {
        bool slash = memchr(v, '/', n), del = memchr(v, 0x7f, n), high = false, ctl = false;
        for (size_t i = 0; i < n; i++) {
                high |= v[i] >= 0x80;
                ctl |= v[i] < 0x20 && v[i] != '\n' && v[i] != '\r' && v[i] != '\t' && v[i] != '\b' && v[i] != '\f';
        }
        bool ascii = high && utf8_valid(v, n);
        for (unsigned f = 0; f < 16; f++) {
                if (((f & J_SLASH) && !slash) || ((f & J_DEL) && !del) || ((f & J_ASCII) && !ascii) ||
                    ((f & J_UPPER) && !ctl && !del && !ascii))
                        continue;
                gen_json(p, v, n, f, sec);
        }
}

/* Each line on its own, raw, a trailing \r stripped (a multi-line key printed line by
 * line, or through a terminal that turns \n into \r\n). */
static void gen_lines(patlist *p, const uint8_t *v, size_t n, size_t sec) {
        if (!has_lines(v, n))
                return;
        for (size_t start = 0; start <= n;) {
                const uint8_t *nl = memchr(v + start, '\n', n - start);
                size_t end = nl ? (size_t)(nl - v) : n, len = end - start;
                if (len > 0 && v[end - 1] == '\r')
                        len--;
                if (len <= NOOK_MASK_MAX_VALUE) {
                        put(p, v + start, len);
                        pat_end(p, sec);
                }
                start = end + 1;
        }
}

static void gen_secret(patlist *p, const secret *s, size_t sec) {
        const uint8_t *v = s->value;
        size_t n = s->len;
        if (n >= MIN && n <= NOOK_MASK_MAX_VALUE) {
                put(p, v, n);
                pat_end(p, sec);
                gen_hex(p, v, n, HEX_LOWER, sec);
                gen_hex(p, v, n, HEX_UPPER, sec);
                for (unsigned a = 0; a < 3; a++) {
                        gen_base64(p, v, n, a, B64_STD, sec);
                        gen_base64(p, v, n, a, B64_URL, sec);
                }
                bool space = memchr(v, ' ', n);
                gen_url(p, v, n, HEX_UPPER, false, sec);
                gen_url(p, v, n, HEX_LOWER, false, sec);
                if (space) {
                        gen_url(p, v, n, HEX_UPPER, true, sec);
                        gen_url(p, v, n, HEX_LOWER, true, sec);
                }
                gen_json_variants(p, v, n, sec);
        }
        if (n >= MIN)
                gen_lines(p, v, n, sec);
}

/* ---- compiling ---- */

static int cmp_pat(const void *a, const void *b, void *pool_) {
        const uint8_t *pool = pool_;
        const pat *x = a, *y = b;
        int c = memcmp(pool + x->off, pool + y->off, x->len < y->len ? x->len : y->len);
        if (c)
                return c;
        if (x->len != y->len)
                return x->len < y->len ? -1 : 1;
        /* the same bytes twice: the one generated first (the earlier value, the raw form
         * before an encoding equal to it) comes first and is kept */
        return x->off < y->off ? -1 : x->off > y->off;
}

/* Sorts the patterns and drops repeats; returns the number of trie states (1 + each
 * pattern's length beyond its common prefix with the one before it). */
static size_t sort_patterns(patlist *p) {
        if (p->n > 1)
                qsort_r(p->v, p->n, sizeof(pat), cmp_pat, p->pool);
        size_t kept = 0, states = 1;
        for (size_t i = 0; i < p->n; i++) {
                const pat *cur = &p->v[i];
                size_t lcp = 0;
                if (kept > 0) {
                        const pat *prev = &p->v[kept - 1];
                        size_t lim = prev->len < cur->len ? prev->len : cur->len;
                        while (lcp < lim && p->pool[prev->off + lcp] == p->pool[cur->off + lcp])
                                lcp++;
                        if (lcp == cur->len && prev->len == cur->len)
                                continue;
                }
                states += cur->len - lcp;
                p->v[kept++] = *cur;
        }
        p->n = kept;
        return states;
}

static size_t carve(size_t *size, size_t bytes) {
        size_t off = *size;
        *size += (bytes + 63) & ~(size_t)63;
        return off;
}

static unsigned set_bits(size_t members, size_t density) {
        unsigned b = SET_BITS_MIN;
        while (b < SET_BITS_MAX && ((size_t)1 << b) < members * density)
                b++;
        return b;
}

/* One anonymous mapping for every table: wiped and unmapped as a whole, kept out of
 * core dumps (MADV_DONTDUMP, madvise(2)). */
static int map_tables(nook_mask *m, uint32_t states, const patlist *p) {
        size_t size = 0, n_edges = states - 1, patterns = p->n;
        m->min_len = SPAN_MAX;
        for (size_t i = 0; i < p->n; i++)
                if (p->v[i].len < m->min_len)
                        m->min_len = p->v[i].len;
        m->first_bits = set_bits(patterns, FIRST_DENSITY);
        m->any_bits = set_bits(patterns * (m->min_len - GRAM + 1), ANY_DENSITY);
        size_t o_root = carve(&size, 256 * sizeof(uint32_t)), o_fail = carve(&size, states * sizeof(uint32_t)),
               o_edges = carve(&size, ((size_t)states + 1) * sizeof(uint32_t)),
               o_report = carve(&size, states * sizeof(uint32_t)), o_hold = carve(&size, states * sizeof(uint32_t)),
               o_eb = carve(&size, n_edges), o_term = carve(&size, patterns * sizeof(uint32_t)),
               o_plen = carve(&size, patterns * sizeof(uint32_t)), o_psec = carve(&size, patterns * sizeof(uint32_t)),
               o_first = carve(&size, ((size_t)1 << m->first_bits) / 8),
               o_any = carve(&size, ((size_t)1 << m->any_bits) / 8);
        uint8_t *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED)
                return -ENOMEM;
        (void)madvise(base, size, MADV_DONTDUMP);
        m->map = base;
        m->map_size = size;
        m->n_states = states;
        m->n_patterns = (uint32_t)patterns;
        m->root = (uint32_t *)(base + o_root);
        m->fail = (uint32_t *)(base + o_fail);
        m->edges = (uint32_t *)(base + o_edges);
        m->report = (uint32_t *)(base + o_report);
        m->hold = (uint32_t *)(base + o_hold);
        m->edge_byte = base + o_eb;
        m->term = (uint32_t *)(base + o_term);
        m->plen = (uint32_t *)(base + o_plen);
        m->psec = (uint32_t *)(base + o_psec);
        m->first = (uint64_t *)(base + o_first);
        m->any = (uint64_t *)(base + o_any);
        return 0;
}

typedef struct node {
        uint32_t lo, hi, depth; /* the sorted patterns [lo, hi) share this state's prefix */
} node;

/* The trie, breadth-first from the sorted patterns: a state's patterns are a range of
 * the sorted list, split among its children by their byte at its depth. */
static void fill_trie(nook_mask *m, const patlist *p, node *q) {
        uint32_t n_edges = 0, n_term = 0;
        q[0] = (node){ 0, (uint32_t)p->n, 0 };
        for (uint32_t u = 0; u < m->n_states; u++) {
                node s = q[u];
                uint32_t k = s.lo;
                m->edges[u] = n_edges;
                if (k < s.hi && p->v[k].len == s.depth) { /* the shortest sorts first */
                        m->report[u] = u;
                        m->term[n_term] = u;
                        m->plen[n_term] = p->v[k].len;
                        m->psec[n_term++] = p->v[k++].secret;
                }
                while (k < s.hi) {
                        uint8_t c = p->pool[p->v[k].off + s.depth];
                        uint32_t j = k + 1;
                        while (j < s.hi && p->pool[p->v[j].off + s.depth] == c)
                                j++;
                        m->edge_byte[n_edges++] = c;
                        q[n_edges] = (node){ k, j, s.depth + 1 }; /* the state edge n_edges - 1 leads to */
                        k = j;
                }
        }
        m->edges[m->n_states] = n_edges;
        for (uint32_t e = m->edges[0]; e < m->edges[1]; e++)
                m->root[m->edge_byte[e]] = e + 1;
        for (uint32_t i = 0; i < p->n; i++)
                if (p->v[i].len > m->max_len)
                        m->max_len = p->v[i].len;
}

/* The automaton's transition from st on c: down the fail chain to a state with an edge
 * on c, the root's table at the end (amortised O(1) per byte). */
static uint32_t step(const nook_mask *m, uint32_t st, uint8_t c) {
        for (; st != 0; st = m->fail[st]) {
                uint32_t a = m->edges[st], b = m->edges[st + 1];
                while (b - a > 8) {
                        uint32_t mid = a + (b - a) / 2;
                        if (m->edge_byte[mid] <= c)
                                a = mid;
                        else
                                b = mid;
                }
                for (; a < b; a++)
                        if (m->edge_byte[a] == c)
                                return a + 1;
        }
        return m->root[c];
}

/* Fail, report and hold links, breadth-first: each needs only shallower states. */
static void link_states(nook_mask *m, const node *q) {
        for (uint32_t u = 0; u < m->n_states; u++)
                for (uint32_t e = m->edges[u]; e < m->edges[u + 1]; e++) {
                        uint32_t v = e + 1;
                        uint32_t f = u == 0 ? 0 : step(m, m->fail[u], m->edge_byte[e]);
                        m->fail[v] = f;
                        if (m->report[v] == 0)
                                m->report[v] = m->report[f];
                        m->hold[v] = m->edges[v + 1] > m->edges[v] ? q[v].depth : m->hold[f];
                }
}

/* Fibonacci hashing of the 4 bytes at s (one unaligned load; the same byte order at
 * build and at scan): the bits past 31 of the product depend on every byte.  In any (of
 * 1 << wb words), a gram's word is picked by the top wb bits, its stage-1 bit by the 6
 * below them and its stage-2 bit by bits 34..39 (wb <= 18: none overlap). */
static inline uint64_t gram_hash(const uint8_t *s) {
        uint32_t v;
        memcpy(&v, s, sizeof(v));
        return (uint64_t)v * 0x9e3779b97f4a7c15u;
}

/* The same for the KEY bytes at s, bits bits of it. */
static inline uint32_t key_hash(const uint8_t *s, unsigned bits) {
        uint64_t v;
        memcpy(&v, s, sizeof(v));
        return (uint32_t)((v * 0x9e3779b97f4a7c15u) >> (64 - bits));
}

static inline bool bit_test(const uint64_t *set, uint32_t h) {
        return set[h >> 6] >> (h & 63) & 1;
}

static void fill_prefilter(nook_mask *m, const patlist *p) {
        for (size_t i = 0; i < p->n; i++) {
                const uint8_t *s = p->pool + p->v[i].off;
                uint32_t h = key_hash(s, m->first_bits);
                m->first[h >> 6] |= (uint64_t)1 << (h & 63);
                for (size_t j = 0; j + GRAM <= m->min_len; j++) {
                        uint64_t g = gram_hash(s + j);
                        unsigned wb = m->any_bits - 6;
                        m->any[g >> (64 - wb)] |= (uint64_t)1 << ((g >> (58 - wb)) & 63) | (uint64_t)1
                                                                                                   << ((g >> 34) & 63);
                }
        }
}

static int compile(nook_mask *m, patlist *p) {
        size_t states = sort_patterns(p);
        if (p->used > MAX_PATTERN_BYTES || states >= UINT32_MAX / 2)
                return -E2BIG;
        int r = map_tables(m, (uint32_t)states, p);
        if (r < 0)
                return r;
        node *q = malloc(states * sizeof(node));
        if (!q)
                return -ENOMEM;
        fill_trie(m, p, q);
        link_states(m, q);
        fill_prefilter(m, p);
        wipe_free(q, states * sizeof(node));
        /* Immutable from here; kept in RAM when RLIMIT_MEMLOCK allows (often 64 KiB or
         * 8 MiB): a failed mlock(2) only means the set may be swapped. */
        (void)mprotect(m->map, m->map_size, PROT_READ);
        (void)mlock(m->map, m->map_size);
        return 0;
}

static void unmap_tables(nook_mask *m) {
        if (!m->map)
                return;
        (void)mprotect(m->map, m->map_size, PROT_READ | PROT_WRITE);
        explicit_bzero(m->map, m->map_size);
        (void)munmap(m->map, m->map_size);
        m->map = NULL;
        m->map_size = 0;
}

int nook_mask_build(nook_mask *m) {
        if (m->built)
                return -EBUSY;
        patlist p = { 0 };
        for (size_t i = 0; i < m->n_secrets; i++)
                gen_secret(&p, &m->secrets[i], i);
        int r = p.failed ? -ENOMEM : p.used > MAX_PATTERN_BYTES ? -E2BIG : compile(m, &p);
        patlist_done(&p);
        if (r < 0) {
                unmap_tables(m);
                return r;
        }
        for (size_t i = 0; i < m->n_secrets; i++) {
                wipe_free(m->secrets[i].value, m->secrets[i].len + PAD);
                m->secrets[i].value = NULL;
        }
        m->built = true;
        return 0;
}

nook_mask *nook_mask_free(nook_mask *m) {
        if (!m)
                return NULL;
        unmap_tables(m);
        for (size_t i = 0; i < m->n_secrets; i++)
                wipe_free(m->secrets[i].value, m->secrets[i].len + PAD);
        wipe_free(m->secrets, m->cap_secrets * sizeof(secret));
        free(m->weak);
        free(m);
        return NULL;
}

/* ---- streams ---- */

/* Output goes out in place (a run of the caller's input) or through the out buffer
 * (markers, bytes kept from an earlier feed, short runs between them): a feed without
 * a match costs no copy, and markers close together no emit each. */
#define OUT_CAP 65536
#define INPLACE_MIN 512
#define EXIT_HOLD 3

struct nook_mask_stream {
        const nook_mask *m;
        uint32_t state;
        int failed;
        uint64_t pos;       /* bytes fed */
        uint64_t done;      /* bytes decided (emitted or masked); [done, pos) are in ring */
        uint64_t cover_end; /* the end of the masked bytes that began last */
        uint32_t cover_sec; /* the secret of their last marker */
        size_t ring_mask;
        uint8_t *ring;      /* byte of position x at x & ring_mask */
        uint32_t *best_len; /* the longest occurrence found that starts there, 0 none */
        uint32_t *best_sec;
        nook_mask_emit emit; /* of the current feed */
        void *userdata;
        const uint8_t *in; /* the current feed's bytes, in[0] at position in_pos */
        uint64_t in_pos;
        const uint8_t *pend; /* pending output: pend_len bytes of in, or out_len of out */
        size_t pend_len;
        size_t out_len;
        uint8_t out[OUT_CAP];
};

int nook_mask_stream_new(const nook_mask *m, nook_mask_stream **ret) {
        if (!m || !m->built)
                return -EINVAL;
        size_t cap = 1;
        while (cap < (size_t)m->max_len + 1)
                cap *= 2;
        nook_mask_stream *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->m = m;
        s->in_pos = UINT64_MAX;
        s->ring_mask = cap - 1;
        s->ring = calloc(cap, 1);
        s->best_len = calloc(cap, sizeof(uint32_t));
        s->best_sec = calloc(cap, sizeof(uint32_t));
        if (!s->ring || !s->best_len || !s->best_sec) {
                nook_mask_stream_free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

nook_mask_stream *nook_mask_stream_free(nook_mask_stream *s) {
        if (!s)
                return NULL;
        size_t cap = s->ring_mask + 1;
        wipe_free(s->ring, cap);
        wipe_free(s->best_len, cap * sizeof(uint32_t));
        wipe_free(s->best_sec, cap * sizeof(uint32_t));
        wipe_free(s, sizeof(*s));
        return NULL;
}

static void out_flush(nook_mask_stream *s) {
        const void *b = s->pend_len ? (const void *)s->pend : s->out;
        size_t n = s->pend_len ? s->pend_len : s->out_len;
        if (n > 0 && !s->failed) {
                int r = s->emit(b, n, s->userdata);
                if (r < 0)
                        s->failed = r;
        }
        s->pend_len = s->out_len = 0;
}

/* n (<= OUT_CAP) bytes through the out buffer. */
static void out_put(nook_mask_stream *s, const void *b, size_t n) {
        if (s->pend_len || s->out_len + n > OUT_CAP)
                out_flush(s);
        memcpy(s->out + s->out_len, b, n);
        s->out_len += n;
}

/* The n bytes of the current feed at position x: in place when they follow the pending
 * bytes of in or are many, else copied after what the out buffer holds. */
static void out_input(nook_mask_stream *s, uint64_t x, size_t n) {
        const uint8_t *b = s->in + (x - s->in_pos);
        if (s->pend_len && s->pend + s->pend_len == b) {
                s->pend_len += n;
                return;
        }
        if (s->out_len && n < INPLACE_MIN && s->out_len + n <= OUT_CAP) {
                memcpy(s->out + s->out_len, b, n);
                s->out_len += n;
                return;
        }
        out_flush(s);
        s->pend = b;
        s->pend_len = n;
}

/* Decides the bytes [done, upto): no occurrence can start there any more.  An
 * occurrence that reaches past the covered bytes starts a marker, unless it overlaps
 * bytes covered for the same secret; covered bytes are dropped, the others passed on. */
static void resolve(nook_mask_stream *s, uint64_t upto) {
        const nook_mask *m = s->m;
        for (uint64_t x = s->done; x < upto; x++) {
                size_t slot = x & s->ring_mask;
                uint32_t len = s->best_len[slot];
                if (len && x + len > s->cover_end) {
                        uint32_t sec = s->best_sec[slot];
                        if (x >= s->cover_end || sec != s->cover_sec)
                                out_put(s, m->secrets[sec].marker, m->secrets[sec].marker_len);
                        s->cover_end = x + len;
                        s->cover_sec = sec;
                }
                if (x < s->cover_end)
                        continue;
                if (x >= s->in_pos)
                        out_input(s, x, 1);
                else
                        out_put(s, &s->ring[slot], 1);
        }
        s->done = upto;
}

/* The pattern that ends in state t (one of term). */
static uint32_t pattern_of(const nook_mask *m, uint32_t t) {
        uint32_t a = 0, b = m->n_patterns;
        while (b - a > 1) {
                uint32_t mid = a + (b - a) / 2;
                if (m->term[mid] <= t)
                        a = mid;
                else
                        b = mid;
        }
        return a;
}

/* Every pattern that ends at pos (state st): the longest per start is kept. */
static void record(nook_mask_stream *s, uint32_t st) {
        const nook_mask *m = s->m;
        for (uint32_t t = m->report[st]; t != 0; t = m->report[m->fail[t]]) {
                uint32_t k = pattern_of(m, t), len = m->plen[k];
                size_t slot = (s->pos - len) & s->ring_mask;
                if (len > s->best_len[slot]) {
                        s->best_len[slot] = len;
                        s->best_sec[slot] = m->psec[k];
                }
        }
}

/* true when none of the last h bytes can start a pattern, judged by their first gram
 * (from the ring, then from the bytes ahead); false when too few are known. */
static bool none_starts(const nook_mask_stream *s, uint32_t h, const uint8_t *ahead, size_t n_ahead) {
        for (uint64_t x = s->pos - h; x < s->pos; x++) {
                uint8_t b[KEY];
                for (uint64_t k = 0; k < KEY; k++) {
                        uint64_t y = x + k;
                        if (y >= s->pos && y - s->pos >= n_ahead)
                                return false;
                        b[k] = y < s->pos ? s->ring[y & s->ring_mask] : ahead[y - s->pos];
                }
                if (bit_test(s->m->first, key_hash(b, s->m->first_bits)))
                        return false;
        }
        return true;
}

/* One byte through the automaton.  When the state's held bytes cannot start a pattern
 * (the prefilter says so), the stream drops back to the root and to scan(): the
 * occurrences found are the same, whatever the split. */
static void slow_step(nook_mask_stream *s, uint8_t c, const uint8_t *ahead, size_t n_ahead) {
        const nook_mask *m = s->m;
        size_t slot = s->pos & s->ring_mask;
        s->ring[slot] = c;
        s->best_len[slot] = 0;
        uint32_t st = step(m, s->state, c);
        s->pos++;
        if (m->report[st])
                record(s, st);
        uint32_t h = m->hold[st];
        if (h <= EXIT_HOLD && none_starts(s, h, ahead, n_ahead)) {
                h = 0;
                st = 0;
        }
        if (s->pos - h > s->done)
                resolve(s, s->pos - h);
        s->state = st;
}

/* Bit 0: the gram at g passes stage 1 (its first bit is set in any, of 1 << wb words). */
static _always_inline_ uint64_t gram_maybe(const uint64_t *any, unsigned wb, const uint8_t *g) {
        uint64_t h = gram_hash(g);
        return any[h >> (64 - wb)] >> ((h >> (58 - wb)) & 63);
}

/* Whether the gram at g passes both stages: both its bits are set. */
static inline bool gram_in(const uint64_t *any, unsigned wb, const uint8_t *g) {
        uint64_t h = gram_hash(g), w = any[h >> (64 - wb)];
        return (w >> ((h >> (58 - wb)) & 63)) & (w >> ((h >> 34) & 63)) & 1;
}

/* The first of the blocks of four windows from i on (while i < end) whose grams do not
 * all fail stage 1, or end; the gram of the window at i is at g + i.  A load, a multiply
 * and three shifts per window, one branch per block. */
static _always_inline_ size_t skip_loop(const uint64_t *any, unsigned wb, const uint8_t *g, size_t i, size_t end,
                                        size_t stride) {
        for (; i < end; i += 4 * stride) {
                const uint8_t *b = g + i;
                uint64_t maybe = gram_maybe(any, wb, b) | gram_maybe(any, wb, b + stride) |
                                 gram_maybe(any, wb, b + 2 * stride) | gram_maybe(any, wb, b + 3 * stride);
                if (maybe & 1)
                        break;
        }
        return i;
}

/* skip_loop() for each size of any, the size a constant in each: a word's index and a
 * bit's are then plain shifts, with no mask and no register for the size (10 % less time
 * in the loop, measured inside mask-bench's capture).  Out of line, the loop has the
 * registers to itself. */
static _noinline_ size_t skip_blocks(const uint64_t *any, unsigned wb, const uint8_t *g, size_t i, size_t end,
                                     size_t stride) {
        _Static_assert(SET_BITS_MIN - 6 == 6 && SET_BITS_MAX - 6 == 18, "one case per size");
        switch (wb) {
        case 6:
                return skip_loop(any, 6, g, i, end, stride);
        case 7:
                return skip_loop(any, 7, g, i, end, stride);
        case 8:
                return skip_loop(any, 8, g, i, end, stride);
        case 9:
                return skip_loop(any, 9, g, i, end, stride);
        case 10:
                return skip_loop(any, 10, g, i, end, stride);
        case 11:
                return skip_loop(any, 11, g, i, end, stride);
        case 12:
                return skip_loop(any, 12, g, i, end, stride);
        case 13:
                return skip_loop(any, 13, g, i, end, stride);
        case 14:
                return skip_loop(any, 14, g, i, end, stride);
        case 15:
                return skip_loop(any, 15, g, i, end, stride);
        case 16:
                return skip_loop(any, 16, g, i, end, stride);
        case 17:
                return skip_loop(any, 17, g, i, end, stride);
        default:
                return skip_loop(any, 18, g, i, end, stride);
        }
}

/* The first position in [i, n) where a pattern may start, or where too few bytes are
 * left to tell.  The window of stride positions at i is ruled out when its gram (at
 * i + L - 4) fails either stage; a window that passes has each of its positions
 * checked against first. */
static size_t scan(const nook_mask *m, const uint8_t *in, size_t i, size_t n) {
        const size_t len = m->min_len, stride = len - GRAM + 1, off = len - GRAM;
        const uint64_t *any = m->any;
        const unsigned wb = m->any_bits - 6;
        for (;;) {
                if (i + len + 3 * stride <= n)
                        i = skip_blocks(any, wb, in + off, i, n - len - 3 * stride + 1, stride);
                /* the windows of the block it stopped at, one by one */
                bool maybe = false;
                for (size_t k = 0; k < 4 && i + len <= n; k++, i += stride)
                        if ((maybe = gram_in(any, wb, in + i + off)))
                                break;
                if (!maybe) {
                        if (i + len > n)
                                break;
                        continue;
                }
                for (size_t e = i + stride; i < e; i++)
                        if (i + KEY > n || bit_test(m->first, key_hash(in + i, m->first_bits)))
                                return i;
        }
        for (; i + KEY <= n; i++)
                if (bit_test(m->first, key_hash(in + i, m->first_bits)))
                        return i;
        return i;
}

/* in: the feed's bytes; room: the same pointer when the caller leaves NOOK_MASK_ROOM bytes
 * in front of them, else NULL.  The bytes held back from the last feed, when they fit,
 * are copied there and passed on in place, in one run with the new ones. */
static int feed(nook_mask_stream *s, const uint8_t *in, uint8_t *room, size_t n, nook_mask_emit emit, void *userdata) {
        if (s->failed)
                return s->failed;
        s->emit = emit;
        s->userdata = userdata;
        const nook_mask *m = s->m;
        s->in = in;
        s->in_pos = s->pos;
        if (room && s->pos - s->done <= NOOK_MASK_ROOM) {
                size_t held = (size_t)(s->pos - s->done);
                uint8_t *to = room - held;
                for (size_t k = 0; k < held; k++)
                        to[k] = s->ring[(s->done + k) & s->ring_mask];
                s->in = to;
                s->in_pos = s->done;
        }
        for (size_t i = 0; i < n && !s->failed; i++) {
                if (s->state == 0 && s->done == s->pos) {
                        size_t j = m->n_patterns ? scan(m, in, i, n) : n;
                        if (j > i)
                                out_input(s, s->pos, j - i);
                        s->pos += j - i;
                        s->done = s->pos;
                        i = j;
                        if (i == n)
                                break;
                }
                slow_step(s, in[i], in + i + 1, n - i - 1);
        }
        out_flush(s);
        s->in = NULL;
        s->in_pos = UINT64_MAX;
        return s->failed;
}

int nook_mask_feed(nook_mask_stream *s, const void *in, size_t len, nook_mask_emit emit, void *userdata) {
        return feed(s, in, NULL, len, emit, userdata);
}

int nook_mask_feed_room(nook_mask_stream *s, void *in, size_t len, nook_mask_emit emit, void *userdata) {
        return feed(s, in, in, len, emit, userdata);
}

int nook_mask_flush(nook_mask_stream *s, nook_mask_emit emit, void *userdata) {
        if (s->failed)
                return s->failed;
        s->emit = emit;
        s->userdata = userdata;
        resolve(s, s->pos);
        s->state = 0;
        out_flush(s);
        return s->failed;
}
