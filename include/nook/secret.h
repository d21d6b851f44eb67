/* nook — the named secret store (the `nook secret` verbs): values kept in the kernel's
 * per-user keyring, in memory only, never in a file.  Each secret is a key of type
 * "user" described "nook:secret:NAME" in the caller's user keyring (@u), with
 * possessor-only permissions: a process of the same uid that does not possess that
 * keyring (a sandbox's workload) can neither read nor see it.  Sessions take a stored
 * secret by NAME (prepare_secrets).  No call here ever returns a value. */
#ifndef NOOK_SECRET_H
#define NOOK_SECRET_H

#include <stddef.h>
#include <stdint.h>

#include "nook/error.h"
#include "nook/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A NAME is 1..NOOK_SECRET_NAME_MAX bytes of [A-Za-z0-9._-], starting with a letter or
 * a digit (the grammar of secret refs, which redaction markers "[REDACTED:<ref>]" show). */
#define NOOK_SECRET_NAME_MAX 128
/* A value is 1..NOOK_SECRET_VALUE_MAX bytes, any bytes (the "user" key type's limit);
 * the kernel's quota for the user (/proc/sys/kernel/keys/maxbytes, 20000 bytes by
 * default, for all of the user's keys) usually ends it sooner. */
#define NOOK_SECRET_VALUE_MAX 32767

/* The permission mask nook gives each key: everything for a possessor, nothing else. */
#define NOOK_SECRET_PERM_POSSESSOR_ONLY 0x3f000000u

/* nook_secret_create flags */
#define NOOK_SECRET_REPLACE 1u /* replace the value of an existing NAME instead of refusing */

typedef struct nook_secret_info {
        const char *name;     /* NAME */
        size_t size;          /* bytes of the value */
        const char *driver;   /* where values live: "keyring" */
        int32_t key;          /* the key's serial number (its id in /proc/keys, in hex there) */
        uint32_t uid;         /* whose keyring holds it */
        uint32_t permissions; /* the key's permission mask (keyctl_setperm(3)) */
} nook_secret_info;

typedef struct nook_secrets nook_secrets;

/* 0 when name follows the grammar above, else -EINVAL with a message naming the problem. */
NOOK_EXPORT int nook_secret_name_check(const char *name, nook_error **err);
/* Stores len bytes of value under name.  -EEXIST when name exists and flags lack
 * NOOK_SECRET_REPLACE; -EINVAL for a bad name or an empty or oversized value;
 * -EDQUOT over the kernel's key quota; -EOPNOTSUPP when the kernel keyring is unusable
 * here (the message says why and names the alternatives).  ret (may be NULL): what was
 * stored, for nook_secret_info_free. */
NOOK_EXPORT int nook_secret_create(const char *name, const void *value, size_t len, unsigned flags,
                                   nook_secret_info **ret, nook_error **err);
/* What is stored under name; -ENOENT when nothing is. */
NOOK_EXPORT int nook_secret_inspect(const char *name, nook_secret_info **ret, nook_error **err);
/* Frees and returns NULL; accepts NULL. */
NOOK_EXPORT nook_secret_info *nook_secret_info_free(nook_secret_info *info);
/* Every stored secret, sorted by name. */
NOOK_EXPORT int nook_secret_list(nook_secrets **ret, nook_error **err);
NOOK_EXPORT size_t nook_secrets_count(const nook_secrets *list);
/* The i-th secret (i < count), valid until the list is freed. */
NOOK_EXPORT const nook_secret_info *nook_secrets_get(const nook_secrets *list, size_t i);
/* Frees and returns NULL; accepts NULL. */
NOOK_EXPORT nook_secrets *nook_secrets_free(nook_secrets *list);
/* Destroys the key stored under name: revoked (its payload freed and wiped at once,
 * keyctl_revoke(3)) and unlinked; -ENOENT when nothing is stored under name. */
NOOK_EXPORT int nook_secret_remove(const char *name, nook_error **err);

#ifdef __cplusplus
}
#endif

#endif
