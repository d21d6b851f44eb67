/* nook userns — the capability probe's measuring half (caps-run.c): the steps the
 * throwaway children take, the helpers the parent spawns, and their collected results,
 * shared with the findings half (caps.c). */
#ifndef NOOK_USERNS_CAPS_RUN_H
#define NOOK_USERNS_CAPS_RUN_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/utsname.h>

#include "util/error.h"

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442 /* the same number on every architecture (asm-generic/unistd.h) */
#endif
#ifndef MOUNT_ATTR_SIZE_VER0
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_SIZE_VER0 32
struct mount_attr {
        uint64_t attr_set, attr_clr, propagation, userns_fd;
};
#endif

#define PROBE_TIMEOUT_US (2u * 1000u * 1000u) /* a hung FUSE or netlink call never hangs the probe */
#define KILL_GRACE_US (500u * 1000u)          /* how long a SIGKILLed helper may take to die */
#define MSG_MAX 200
#define SUBID_WANT 65536u

/* ---- what the children measure, step by step ---------------------------------------- */

typedef enum probe_step {
        /* child "mount": user + mount (+ pid) namespace */
        S_USERNS,        /* unshare(CLONE_NEWUSER) */
        S_IDMAP,         /* setgroups deny, uid_map, gid_map */
        S_MOUNTNS,       /* unshare(CLONE_NEWNS), / made rprivate */
        S_TMPFS,         /* tmpfs mounted over the private temp dir (in the child's namespace only) */
        S_BIND,          /* bind mount on that tmpfs */
        S_REMOUNT_RO,    /* MS_REMOUNT|MS_BIND|MS_RDONLY, then a write fails with EROFS */
        S_MOUNT_SETATTR, /* mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY), then EROFS */
        S_TMPFS_XATTR,   /* setxattr user.nook.probe on a tmpfs file */
        S_OVERLAY,       /* overlay (userxattr) with its dirs on that tmpfs, written through */
        S_PIDNS,         /* unshare(CLONE_NEWPID) + fork: the child is pid 1 */
        S_PROCFS,        /* that child mounts a fresh procfs */
        S_FUSE_DEV,      /* open /dev/fuse O_RDWR */
        S_FUSE_MOUNT,    /* mount -t fuse with that fd */
        /* what a session's holder does besides (helpers/mounts.c), in the same child */
        S_SESSION_NS, /* unshare(CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWCGROUP) */
        S_HOSTNAME,   /* sethostname in that UTS namespace */
        S_DEVPTS,     /* mount -t devpts -o newinstance */
        S_DEV_BIND,   /* bind /dev/null onto a file (the session's /dev nodes) */
        S_PIVOT_ROOT, /* pivot_root(".", ".") into a tmpfs, the old root detached */
        /* child "net": user + net namespace */
        S_NET_USERNS, /* unshare(CLONE_NEWUSER) + id maps */
        S_NETNS,      /* unshare(CLONE_NEWNET) */
        S_LO_UP,      /* SIOCSIFFLAGS IFF_UP on lo */
        S_TUN_OPEN,   /* open /dev/net/tun O_RDWR */
        S_TUN_SETIFF, /* TUNSETIFF: a tap device in the namespace */
        S_NFT,        /* libnftables: add table inet nook_probe */
        N_STEPS,
} probe_step;

/* err of a step: 0, a positive errno, or one of these. */
enum { ST_OK = 0, ST_SKIPPED = -1, ST_FAILED = -2, ST_UNREPORTED = -3 };

/* One record per step; writes of less than PIPE_BUF bytes are atomic (pipe(7)). */
struct record {
        int32_t step;
        int32_t err;
        char msg[MSG_MAX];
};

struct step_result {
        int err;
        char msg[MSG_MAX];
};

enum { H_MOUNT, H_NET, H_FUSE_OVERLAYFS, H_SLIRP4NETNS, N_HELPERS };

struct helper {
        pid_t pid; /* > 0 until reaped; leads its own process group, killed as a group */
        int fd;    /* read end of its pipe; -1 at EOF */
        int status;
        bool started, exited, killed, stuck;
        char *path; /* the program, for the --version helpers */
        size_t len;
        char buf[8192];
};

struct probe_run {
        char *dir; /* private mkdtemp dir; removed before the probe returns */
        int dir_errno;
        int devnull;
        struct helper h[N_HELPERS];
        struct step_result steps[N_STEPS];
};

/* What the parent reads about itself; shared by several findings. */
struct host {
        uid_t uid;
        gid_t gid;
        struct utsname uts;
        unsigned kmajor, kminor;
        int64_t max_userns, unpriv_clone, apparmor_restrict; /* -1: sysctl absent */
        int seccomp_mode, seccomp_filters;                   /* -1: unknown */
        char uid_map[128];                                   /* lines joined by ", " */
        bool uid_map_identity;                               /* or unreadable */
        char tmp_base[PATH_MAX];
        int outer; /* caps_outer: the container engine around this process */
};

struct child_ctx {
        const char *dir;
        int out, devnull;
        uid_t uid;
        gid_t gid;
        pid_t parent;
};

struct reporter {
        int fd;
        uint64_t done; /* bit per step already reported */
};

/* The run and data dirs' findings (caps-dirs.c), for caps.c to add in this order. */
#define CAPS_DIR_FINDINGS 4
struct dir_finding {
        const char *name, *title; /* static text */
        uint64_t fact;            /* nook_host_fact set when ok */
        bool ok, required;
        char *detail, *remedy; /* malloc'd; remedy NULL when ok */
};
struct nook_probe_options;
/* -ENOMEM (what was filled is still to be freed). */
int caps_dir_findings(const struct nook_probe_options *opts, uid_t uid, struct dir_finding out[CAPS_DIR_FINDINGS]);

const char *caps_errdesc(int e);
const char *caps_errname(int e);
int caps_find_program(const char *name, char **ret);
void caps_probe_run_collect(struct probe_run *run, uint64_t deadline);
void caps_probe_run_free(struct probe_run *run);
void caps_probe_run_freep(struct probe_run **run);
struct probe_run *caps_probe_run_new(void);
int caps_probe_run_start(struct probe_run *run, const struct host *host, nook_error **err);
int64_t caps_read_sysctl(const char *path);
int caps_read_text(const char *path, char *buf, size_t size);

#endif
