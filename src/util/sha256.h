/* nook util — SHA-256 digests in the contract's "sha256:<64 hex>" form. */
#ifndef NOOK_UTIL_SHA256_H
#define NOOK_UTIL_SHA256_H

#include <stdbool.h>
#include <stddef.h>

#define NOOK_DIGEST_LEN (7 + 64)

/* out receives "sha256:" + 64 lowercase hex digits + NUL. */
int nook_sha256_digest(const void *data, size_t size, char out[NOOK_DIGEST_LEN + 1]);
/* true when s is exactly "sha256:" followed by 64 lowercase hex digits. */
bool nook_digest_valid(const char *s);

#endif
