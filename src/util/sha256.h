/* nook util — SHA-256 digests in the contract's "sha256:<64 hex>" form. */
#ifndef NOOK_UTIL_SHA256_H
#define NOOK_UTIL_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOOK_DIGEST_LEN (7 + 64)

/* Streaming, for data that does not fit in memory at once (layers). */
typedef struct nook_sha256 {
        uint32_t h[8];
        uint64_t len;
        unsigned char buf[64];
        size_t used;
} nook_sha256;

void nook_sha256_init(nook_sha256 *c);
void nook_sha256_update(nook_sha256 *c, const void *data, size_t size);
void nook_sha256_final(nook_sha256 *c, char out[NOOK_DIGEST_LEN + 1]);

/* out receives "sha256:" + 64 lowercase hex digits + NUL. */
int nook_sha256_digest(const void *data, size_t size, char out[NOOK_DIGEST_LEN + 1]);
/* true when s is exactly "sha256:" followed by 64 lowercase hex digits. */
bool nook_digest_valid(const char *s);

#endif
