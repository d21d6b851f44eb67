/* nook userns — identities: which one "auto" means here, and the id maps of a child in a
 * new user namespace (newuidmap/newgidmap for a subordinate range). */
#ifndef NOOK_USERNS_IDMAP_H
#define NOOK_USERNS_IDMAP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/contract.h" /* nook_identity */
#include "util/error.h"

/* newuidmap and newgidmap started by nook_idmap_start and not yet waited for. */
typedef struct nook_idmap_job {
        pid_t uidmap, gidmap; /* 0: none */
} nook_idmap_job;
#define NOOK_IDMAP_JOB_INIT \
        { 0, 0 }

/* Writes the id maps of a child in a new user namespace. */
int nook_idmap_write(pid_t child, int identity, uid_t uid, gid_t gid, uint32_t *ret_count, nook_error **err);
/* The same in two halves: start writes the maps of the root and keep-id identities at
 * once and starts newuidmap and newgidmap for the subuid one (*ret_count: the range's
 * size); finish waits for them (always call it after a successful start; nothing to wait
 * for is 0).  What the caller does in between overlaps the two setuid execs. */
int nook_idmap_start(pid_t child, int identity, uid_t uid, gid_t gid, nook_idmap_job *job, uint32_t *ret_count,
                     nook_error **err);
int nook_idmap_finish(nook_idmap_job *job, nook_error **err);
/* Resolves "auto" to subuid (ranges and newuidmap present) or root. */
int nook_identity_resolve(int requested, uid_t uid, int *ret, nook_error **err);

#endif
