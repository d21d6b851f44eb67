/* nook userns — identities: which one "auto" means here, and the id maps of a child in a
 * new user namespace (newuidmap/newgidmap for a subordinate range). */
#ifndef NOOK_USERNS_IDMAP_H
#define NOOK_USERNS_IDMAP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/contract.h" /* nook_identity */
#include "util/error.h"

/* Writes the id maps of a child in a new user namespace. */
int nook_idmap_write(pid_t child, int identity, uid_t uid, gid_t gid, uint32_t *ret_count, nook_error **err);
/* Resolves "auto" to subuid (ranges and newuidmap present) or root. */
int nook_identity_resolve(int requested, uid_t uid, int *ret, nook_error **err);

#endif
