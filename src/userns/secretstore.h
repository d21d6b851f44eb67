/* nook userns — the named secret store (`nook secret create|ls|rm|inspect`): values kept
 * in memory only, in the kernel's per-user keyring, never in a file.  This is the part
 * prepare_secrets uses: reading one value by name. */
#ifndef NOOK_USERNS_SECRETSTORE_H
#define NOOK_USERNS_SECRETSTORE_H

#include <stddef.h>

#include "nook/error.h"

/* The value stored under name: a new buffer of *ret_len bytes that the caller hands back
 * to nook_secret_store_value_free (which wipes it).  0; -ENOENT: no such secret;
 * -EOPNOTSUPP: the kernel keyring is unusable here (*ret_why, when not NULL, gets a
 * constant sentence saying why and what to use instead); another -errno otherwise. */
int nook_secret_store_get(const char *name, void **ret_value, size_t *ret_len, const char **ret_why);
/* Wipes len bytes of value and frees it; NULL is fine. */
void nook_secret_store_value_free(void *value, size_t len);

/* 0 when name is a secret's NAME: 1..128 bytes of [A-Za-z0-9._-] starting with a letter
 * or a digit; else -EINVAL with a message naming the problem (no keyring call). */
int nook_secret_store_name_check(const char *name, nook_error **err);

#endif
