/* nook userns — the capability probe (capability_report): what this host and this
 * user can do without root, each finding measured in throwaway namespaces. */
#ifndef NOOK_USERNS_CAPS_H
#define NOOK_USERNS_CAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nook/caps.h"
#include "util/error.h"

/* Host facts the probe measures; the adapter maps them to contract capabilities. */
typedef enum nook_host_fact {
        NOOK_FACT_USERNS = 1ull << 0,            /* can create a user namespace and map itself */
        NOOK_FACT_MOUNTNS = 1ull << 1,           /* mount namespace + tmpfs/bind/remount-ro inside it */
        NOOK_FACT_PIDNS = 1ull << 2,             /* pid namespace + fresh procfs mount */
        NOOK_FACT_NETNS = 1ull << 3,             /* network namespace with loopback up */
        NOOK_FACT_OVERLAY = 1ull << 4,           /* kernel overlayfs (userxattr) inside a user namespace */
        NOOK_FACT_FUSE = 1ull << 5,              /* /dev/fuse usable: a libfuse3 mount in a user namespace */
        NOOK_FACT_FUSE_OVERLAYFS = 1ull << 6,    /* fuse-overlayfs present and answers --version */
        NOOK_FACT_TMPFS_XATTR = 1ull << 7,       /* user.* xattrs on tmpfs */
        NOOK_FACT_SLIRP4NETNS = 1ull << 8,       /* slirp4netns present and answers --version */
        NOOK_FACT_TUN = 1ull << 9,               /* /dev/net/tun openable (in a user+net namespace) */
        NOOK_FACT_SECCOMP = 1ull << 10,          /* seccomp filters with ERRNO, KILL_PROCESS, LOG actions */
        NOOK_FACT_NFTABLES = 1ull << 11,         /* an nftables table can be added in a user+net namespace */
        NOOK_FACT_CGROUP2 = 1ull << 12,          /* cgroup v2 mounted */
        NOOK_FACT_CGROUP_DELEGATED = 1ull << 13, /* own cgroup v2 subtree writable by this user */
        NOOK_FACT_PIDFD = 1ull << 14,            /* pidfd_open + pidfd_send_signal */
        NOOK_FACT_CLONE3 = 1ull << 15,           /* clone3 syscall */
        NOOK_FACT_OPENAT2 = 1ull << 16,          /* openat2 with RESOLVE_IN_ROOT */
        NOOK_FACT_CLOSE_RANGE = 1ull << 17,      /* close_range */
        NOOK_FACT_SUBUID = 1ull << 18,   /* /etc/subuid and /etc/subgid ranges for this user + newuidmap/newgidmap */
        NOOK_FACT_NESTED = 1ull << 19,   /* running inside another container or user namespace */
        NOOK_FACT_RUN_DIR = 1ull << 20,  /* run dir usable (owned by caller, 0700, not a symlink, or creatable) */
        NOOK_FACT_DATA_DIR = 1ull << 21, /* data dir usable */
        NOOK_FACT_PROCFS_MOUNT = 1ull << 22,  /* a fresh procfs can be mounted in a new pid+user namespace */
        NOOK_FACT_MOUNT_SETATTR = 1ull << 23, /* mount_setattr (recursive read-only) */
        NOOK_FACT_KEYRING = 1ull << 24,       /* the kernel keyring of this uid (nook secret's store) */
} nook_host_fact;

typedef struct nook_probe_options {
        const char *run_dir;         /* the run dir nook would use (may not exist yet) */
        const char *data_dir;        /* the data dir nook would use (may not exist yet) */
        const char *run_dir_origin;  /* where run_dir came from ("$XDG_RUNTIME_DIR/nook"), or NULL */
        const char *data_dir_origin; /* where data_dir came from, or NULL */
} nook_probe_options;

typedef struct nook_probe_finding {
        char *name;  /* stable id, snake_case */
        char *title; /* short human title */
        bool ok;
        bool required;
        char *detail; /* what was measured (may name host paths: CLI only) */
        char *remedy; /* exact command or setting; NULL when ok */
} nook_probe_finding;

typedef struct nook_probe {
        uint64_t facts; /* bitwise OR of nook_host_fact */
        nook_probe_finding *findings;
        size_t n_findings;
        char **missing;               /* NULL-terminated; names of required findings that failed */
        char *degraded_reason;        /* NULL when nothing optional that matters is missing */
        char *kernel_release;         /* uname -r */
        char *cpu_architecture;       /* "x86_64", "aarch64", ... */
        char *fuse_overlayfs_version; /* NULL when absent */
        char *slirp4netns_version;    /* NULL when absent */
        char *cgroup_controllers;     /* delegated controllers, space separated, or NULL */
        uint64_t max_user_namespaces;
        uint64_t duration_us; /* how long the probe took */
} nook_probe;

/* Runs every probe.  Creates nothing that outlives the call (throwaway children and
 * namespaces only; temporary mount points are removed).  Fails only on ENOMEM;
 * everything the host lacks is a finding, not an error. */
int nook_caps_probe(const nook_probe_options *opts, nook_probe **ret, nook_error **err);
nook_probe *nook_probe_free(nook_probe *p);
const nook_probe_finding *nook_probe_find(const nook_probe *p, const char *name);

/* ---- fix lines (caps-fix.c) ---- */

#define CAPS_SUBID_MIN 100000u /* useradd(8)'s SUB_UID_MIN */

/* The lowest start >= CAPS_SUBID_MIN of count ids overlapping no line of either text
 * (/etc/subuid's and /etc/subgid's contents, either may be NULL); -ENOSPC when none
 * fits below 2^32-1, -ENOMEM. */
int caps_subid_free_range(const char *subuid_text, const char *subgid_text, uint64_t count, uint64_t *ret_start);
/* "sudo usermod --add-subuids S-E --add-subgids S-E USER"; NULL on ENOMEM. */
char *caps_subid_fix(const char *user, uint64_t start, uint64_t count);

/* The container engine nook runs inside, from its markers (/run/.containerenv,
 * /.dockerenv, container= in the environment, which names it when set). */
typedef enum caps_outer {
        CAPS_OUTER_NONE,
        CAPS_OUTER_PODMAN,
        CAPS_OUTER_DOCKER,
        CAPS_OUTER_NOOK,
        CAPS_OUTER_OTHER,
} caps_outer;
caps_outer caps_outer_runtime(bool containerenv, bool dockerenv, const char *container_env);

enum {
        CAPS_OUTER_SECCOMP = 1u << 0, /* a seccomp (and AppArmor) profile that allows namespaces and mounts */
        CAPS_OUTER_UNMASK = 1u << 1,  /* an unmasked /proc */
        CAPS_OUTER_FUSE = 1u << 2,    /* /dev/fuse */
        CAPS_OUTER_TUN = 1u << 3,     /* /dev/net/tun */
};
/* "podman run --security-opt unmask=ALL …" in the engine's own flags (both podman's and
 * docker's when the engine is unknown); NULL when that engine has no such switch (an
 * outer nook session has only seccomp=) or on ENOMEM. */
char *caps_outer_flags(caps_outer o, unsigned want);

static inline void nook_probe_freep(nook_probe **p) {
        nook_probe_free(*p);
}

#endif
