/* nook util — a session's cgroup v2 where the user's own cgroup is delegated to it
 * (cgroups(7) "Cgroups v2 delegation"; systemd Delegate=yes): memory.max, pids.max and
 * cpu.max on a leaf for the workloads, nook's helpers in a sibling leaf. */
#ifndef NOOK_UTIL_CGROUP_H
#define NOOK_UTIL_CGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct nook_cgroup_limits {
        uint64_t memory_max; /* bytes, 0 = none */
        uint64_t pids_max;   /* tasks, 0 = none */
        double cpus;         /* 0 = none */
} nook_cgroup_limits;

/* The cgroup v2 path of "0::PATH" in the text of /proc/self/cgroup, without its leading
 * '/' ("" for the root); -ENOENT when there is none (cgroup v1 only). */
int nook_cgroup_parse_self(const char *text, char *out, size_t size);
/* Whether path (relative to root_fd, the cgroup2 mount) is delegated to uid: the dir,
 * its cgroup.procs and cgroup.subtree_control are uid's (what Delegate=yes chowns).
 * 0, -EPERM when not, or -errno. */
int nook_cgroup_delegated(int root_fd, const char *path, uid_t uid);
/* Makes parent/name with the leaves helpers/ and work/: the controllers the limits need
 * are enabled down to them (-EOPNOTSUPP when parent lacks one, -EBUSY when parent has
 * processes of its own: cgroups(7) "no internal processes"), the limits written to
 * work/, and helper moved into helpers/.  *ret_work: an fd of work/ (its cgroup.procs
 * is what a workload writes "0" into).  What was made is removed on failure. */
int nook_cgroup_make(int root_fd, const char *parent, const char *name, const nook_cgroup_limits *l, pid_t helper,
                     int *ret_work);
/* Removes path/work, path/helpers and path once their processes are gone (waits up
 * to a second for them); -ENOENT is success. */
int nook_cgroup_remove(int root_fd, const char *path);

/* The same on this system's cgroup2 mount (/sys/fs/cgroup), for the caller's cgroup:
 * the path a session ref gets under it when it is delegated to us, making it, and
 * removing it. */
int nook_cgroup_session_path(const char *ref, char *out, size_t size);
int nook_cgroup_session_make(const char *path, const nook_cgroup_limits *l, pid_t helper, int *ret_work);
int nook_cgroup_session_remove(const char *path);

#endif
