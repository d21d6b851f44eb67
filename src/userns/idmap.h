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

/* The host ids a session of an identity maps: the caller's own, and under subuid its
 * first /etc/subuid and /etc/subgid ranges (as nook_idmap_write maps them). */
typedef struct nook_host_ids {
        uid_t uid;
        gid_t gid;
        unsigned long uid_start, uid_count, gid_start, gid_count;
} nook_host_ids;
void nook_idmap_host_ids(int identity, uid_t uid, gid_t gid, nook_host_ids *ret);
/* A file of host owner:group shows as itself in the session (kernel overlayfs can copy
 * it up); one that does not shows as the overflow id, and a copy-up fails (EOVERFLOW). */
bool nook_idmap_host_mapped(const nook_host_ids *ids, uid_t owner, gid_t group);
/* keep-id: the caller's entry as podman gives it inside (its host passwd name, home and
 * group name; "user", "/" when the host has none, or one that cannot be a passwd field). */
typedef struct nook_host_identity {
        char name[64];
        char group[64];
        char home[256];
} nook_host_identity;
void nook_host_identity_get(uid_t uid, gid_t gid, nook_host_identity *ret);

#endif
