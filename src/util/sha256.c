/* nook util — SHA-256 (FIPS 180-4), built in: nook hashes small requests on every
 * call, and loading and initialising OpenSSL's libcrypto cost about 2 ms per process
 * here (measured: a program linked with -lcrypto starts 1.0 ms slower, and the first
 * EVP digest initialises the library for another 1 ms) — most of a cold start. */
#include <errno.h>
#include <string.h>

#include "util/sha256.h"

static const uint32_t K[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t ror(uint32_t x, unsigned n) {
        return (x >> n) | (x << (32 - n));
}

static void block(uint32_t h[8], const unsigned char *p) {
        uint32_t w[64];
        for (int i = 0; i < 16; i++)
                w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
                       p[4 * i + 3];
        for (int i = 16; i < 64; i++) {
                uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
                uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
                w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
        for (int i = 0; i < 64; i++) {
                uint32_t t1 = k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
                uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
                k = g;
                g = f;
                f = e;
                e = d + t1;
                d = c;
                c = b;
                b = a;
                a = t1 + t2;
        }
        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
        h[4] += e;
        h[5] += f;
        h[6] += g;
        h[7] += k;
}

void nook_sha256_init(nook_sha256 *c) {
        static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
        memcpy(c->h, iv, sizeof(iv));
        c->len = 0;
        c->used = 0;
}

void nook_sha256_update(nook_sha256 *c, const void *data, size_t size) {
        const unsigned char *p = data;
        c->len += size;
        if (c->used) {
                size_t take = size < 64 - c->used ? size : 64 - c->used;
                memcpy(c->buf + c->used, p, take);
                c->used += take;
                p += take;
                size -= take;
                if (c->used < 64)
                        return;
                block(c->h, c->buf);
                c->used = 0;
        }
        for (; size >= 64; p += 64, size -= 64)
                block(c->h, p);
        memcpy(c->buf, p, size);
        c->used = size;
}

void nook_sha256_final(nook_sha256 *c, char out[NOOK_DIGEST_LEN + 1]) {
        uint64_t bits = c->len * 8;
        unsigned char pad = 0x80;
        nook_sha256_update(c, &pad, 1);
        unsigned char zero[64] = { 0 };
        nook_sha256_update(c, zero, c->used <= 56 ? 56 - c->used : 120 - c->used);
        unsigned char be[8];
        for (int i = 0; i < 8; i++)
                be[i] = (unsigned char)(bits >> (56 - 8 * i));
        nook_sha256_update(c, be, 8);
        static const char hex[] = "0123456789abcdef";
        memcpy(out, "sha256:", 7);
        for (int i = 0; i < 32; i++) {
                unsigned char byte = (unsigned char)(c->h[i / 4] >> (24 - 8 * (i % 4)));
                out[7 + 2 * i] = hex[byte >> 4];
                out[8 + 2 * i] = hex[byte & 15];
        }
        out[NOOK_DIGEST_LEN] = 0;
}

int nook_sha256_digest(const void *data, size_t size, char out[NOOK_DIGEST_LEN + 1]) {
        nook_sha256 c;
        nook_sha256_init(&c);
        nook_sha256_update(&c, data, size);
        nook_sha256_final(&c, out);
        return 0;
}

bool nook_digest_valid(const char *s) {
        if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s) != NOOK_DIGEST_LEN)
                return false;
        for (const char *p = s + 7; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        return true;
}
