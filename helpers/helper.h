/* nook helpers — what nook-holder's parts share: the holder's state, the in-namespace
 * halves of prepare_environment (mounts.c) and start_process (monitor.c, spawn.c), and
 * the workloads' pid namespace with the holder's record of each workload (workloads.c). */
#ifndef NOOK_HELPERS_HELPER_H
#define NOOK_HELPERS_HELPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "fail.h"
#include "proto/proto.h"
#include "proto/record.h"

/* limits.c: the session's limits (S34), kept by the holder; monitors inherit a copy. */
typedef struct hmonitor {
        pid_t pid;
        uint64_t memory_max, pids_max; /* this process's own, 0 = none */
        char ref[68];                  /* its process ref (p/<ref> in the session dir) */
} hmonitor;

typedef struct hlimits {
        uint64_t memory_max, pids_max, disk_max; /* the session's, 0 = none */
        bool cgroup;                             /* a delegated cgroup v2 holds memory and tasks */
        int cgroup_fd;                           /* the workloads' cgroup dir, or -1 */
        int proc_fd;                             /* the session's procfs (pid 1 is the holder), or -1 */
        int tmpfs_fd[8];                         /* the session's tmpfs mounts, charged to memory */
        size_t n_tmpfs;
        bool upper_on_disk; /* the writable layer is a host dir: measured by walking it */
        uint64_t copy_base; /* driver copy: session tmpfs bytes that are the image itself */
        int copy_fd;        /* driver copy: the session tmpfs holding root and layer, or -1 */
        hmonitor *mon;      /* live monitors */
        size_t n_mon;
        int64_t next_tick, next_walk, walk_cost;
        uint64_t layer_bytes, free_at_walk; /* the last walk, and the host fs's free bytes then */
} hlimits;

/* secrets.c: the values of prepare_secrets, in one locked mapping (arena). */
typedef struct hsecret {
        const char *ref;            /* in the arena */
        const char *target;         /* destination path, or the variable's name */
        char *env;                  /* "NAME=value" (env secrets), in the arena */
        const unsigned char *value; /* len bytes and a NUL, in the arena */
        size_t len;
        bool is_env;
        uint32_t mode;     /* file mode */
        uint64_t uid, gid; /* file owner inside, UINT64_MAX: the default process user */
} hsecret;

typedef struct hsecrets {
        unsigned char *arena;
        size_t arena_size, used;
        hsecret *v;
        size_t n;
        struct nook_mask *mask; /* every value and its encodings: the monitors' capture */
        bool held, built;       /* built: mask compiled (after the answer to SECRETS) */
        int build_err;
        int dir_fd;       /* the secret files' file system, kept to wipe them at the end; -1 */
        char notes[1024]; /* downgrades: weak values, no memory lock */
} hsecrets;

typedef struct holder {
        int listen_fd;  /* the session's control socket (bound by the client) */
        int session_fd; /* the session dir, opened by the client before clone */
        int signal_fd;  /* SIGCHLD, SIGTERM, SIGINT, SIGHUP */
        int devnull_fd; /* the host's /dev/null, opened before pivot_root (S7) */
        int userns_fd;  /* our user namespace (nook cp works in it), opened while /proc is the host's; -1 */
        int upper_fd;   /* the writable layer's upper dir (session tmpfs, or on disk for an image), or -1 */
        uid_t peer_uid; /* the client's uid as this user namespace sees it */
        bool own_netns;
        bool prepared;      /* pivoted into the session root */
        pid_t fuse_pid;     /* fuse-overlayfs serving the root, or 0 */
        const char *driver; /* root driver used (image, or a directory under a writable layer), or NULL */
        char driver_why[512];
        /* S33: the workloads' pid namespace, nested in the session's (workloads.c) */
        int pidns_fd;   /* that namespace, for setns(2) by each monitor; -1 before PREPARE */
        pid_t init_pid; /* its init, our child; 0 once it died */
        int proc_fd;    /* a procfs of the session's pid namespace, mounted nowhere, or -1 */
        char *title;    /* our argv strings, rewritten by the init (its cmdline) */
        size_t title_size;
        struct workload *work; /* one per started process, until it is reaped */
        size_t n_work;
        hlimits lim;
        /* NOOK_MSG_HOLD: write ends of the pipes slirp4netns and nook-netd watch; they
         * close when we end, which ends them (their exit fd) */
        int held[8];
        unsigned n_held;
        /* NOOK_MSG_NET_READY: slirp4netns's ready fd, read before the first spawn, -1
         * after; net_failed once it ended without "1" */
        int net_ready_fd;
        bool net_failed;
        hsecrets sec;
} holder;

/* A failure to report: errno and a message naming the step. */

/* mounts.c: builds the root of the session from a PREPARE message and pivots into it.
 * On success *notes may hold downgrades taken ("procfs bound from the host: ..."). */
int holder_prepare(holder *h, const nook_msg *m, char *notes, size_t notes_size, hstatus *st);

/* rootfs.c: the root on the directory fd root, the mount point "root" of the session
 * tmpfs top (drivers overlay, fuse-overlayfs, copy, or auto: the first that works, in
 * T_DRIVER's order); *driver gets the one used, why the reasons auto passed others over.
 * An image's layers under its writable layer, or the user's directory src under the
 * tmpfs's upper/. */
int holder_image_root(holder *h, const nook_msg *m, int top, int root, const char **driver, char *why, size_t why_size,
                      hstatus *st);
int holder_dir_root(holder *h, const nook_msg *m, int top, int root, int src, const char **driver, char *why,
                    size_t why_size, hstatus *st);

/* workloads.c: creates the workloads' pid namespace and its init, which mounts that
 * namespace's procfs on proc_dir (a dir of the new root); *ret_proc_errno is not 0 when
 * the namespace exists but its procfs was refused (nested: the caller binds another). */
int holder_pidns_start(holder *h, int proc_dir, int *ret_proc_errno, hstatus *st);
/* A monitor was forked for process ref; link is our end of its socket, on which it
 * hands over the workload's pid, pidfd and deadline once it runs (NOOK_MSG_STARTED). */
int holder_workload_add(holder *h, const char *ref, pid_t monitor, int link);
/* In a fork of the holder: closes the fds of the record. */
void holder_workloads_forget(holder *h);
/* A child of ours ended: a monitor (if its workload outlives it, the kernel made us the
 * workload's parent, and we take over its timeout and exit record) or such a workload. */
void holder_workload_reaped(holder *h, pid_t pid, int status, const struct rusage *ru);
/* NOOK_MSG_SIGNAL from the client for a process whose monitor does not answer. */
void holder_workload_signal(holder *h, int fd, const nook_msg *m);
/* A process ref as the client makes them: [a-z0-9-], at most 64. */
bool holder_ref_ok(const char *ref);
/* Writes dirfd/name through a temporary file and rename(2). */
int holder_write_file_at(int dirfd, const char *name, const char *content);
/* A process's exit record from its wait status and rusage (cpu and peak memory), as the
 * monitor and, when the monitor died first, the holder record it. */
void holder_exit_record(int status, const struct rusage *ru, bool timed_out, const char *killed_by,
                        nook_exit_record *ret);
/* A process's exit record (record.h), written the same way as dirfd/"exit". */
int holder_write_exit_at(int dirfd, const nook_exit_record *rec);
/* poll(2) timeout until the next deadline we enforce (-1: none), and enforcing them. */
int holder_workloads_timeout(const holder *h);
void holder_workloads_timers(holder *h);

/* secrets.c: NOOK_MSG_SECRETS (replies; idempotent for the same secrets); at PREPARE,
 * the secret files written (owner uid:gid unless the secret names one) into a
 * ramfs mounted on the session dir's "secrets" (mounts.c binds each), then unstaged
 * once bound; each workload's environment gets the env secrets (envp reallocated, NULL
 * when out of memory); wipe: every copy of the values, at the holder's end. */
void holder_secrets_take(holder *h, int fd, nook_msg *m);
/* Before a spawn: the masker is built (or its failure answered on fd: false). */
bool holder_secrets_ready(holder *h, int fd);
int holder_secrets_write(holder *h, uid_t uid, gid_t gid, char *notes, size_t notes_size, hstatus *st);
void holder_secrets_unstage(holder *h);
/* envp (reallocated) with the env secrets and the T_ENV_SECRET entries of q; the
 * latter's strings in *ret_block (*ret_size bytes), which the caller wipes and frees.
 * NULL: out of memory, or a value_ref secret holding a NUL byte. */
char **holder_secrets_envp(const holder *h, const nook_msg *q, char **envp, char **ret_block, size_t *ret_size);
void holder_secrets_wipe(holder *h);

/* monitor.c: the monitor's life, in a fork of the holder; never returns. conn is the
 * client's connection, answered once the workload runs or failed; link, the holder's
 * (holder_workload_add), gets the workload's pidfd. */
_Noreturn void monitor_main(holder *h, int conn, nook_msg *m, int link);

/* spawn.c: in the workload's fork of the monitor — set up credentials, limits,
 * seccomp and exec; on failure writes {stage, errno} to status_fd and _exits 127. */
typedef struct spawn_plan {
        char **argv;
        char **envp;
        const char *cwd;
        uid_t uid;
        gid_t gid;
        gid_t *groups;
        size_t n_groups;
        bool set_groups;
        uint64_t caps; /* for uid 0 */
        const struct nook_rlimit_msg *rlimits;
        size_t n_rlimits;
        const void *seccomp; /* struct sock_filter[] or NULL */
        size_t seccomp_len;  /* instructions */
        int stdin_fd, stdout_fd, stderr_fd;
        bool pty;
        int status_fd;
        int go_fd;        /* one byte once the holder has our pidfd; EOF: the monitor died first */
        char *secret_env; /* the value_ref variables' strings (secrets.c), wiped once exec'd */
        size_t secret_env_size;
        int cgroup_fd; /* the workloads' cgroup v2 dir to join first, or -1 */
} spawn_plan;

struct spawn_failure {
        char stage[32];
        int err;
};

_Noreturn void spawn_exec(const spawn_plan *p);

/* Runs `fmt` into a buffer; helpers never print. */

/* limits.c — the session's limits without a cgroup (S34). */
/* PREPARE: the limits, before anything is mounted (tmpfs sizes follow them). */
void limits_from_prepare(holder *h, nook_msg *m);
/* tmpfs(5) data for a session tmpfs: its size= (a percentage of RAM, or absent = half of
 * it) clamped to the memory limit, and for the writable layer of a directory root to
 * the disk limit too; rewritten in place. */
void limits_tmpfs_clamp(const holder *h, char *data, size_t size, bool layer);
/* A mounted session tmpfs (an fd on its root): its pages are charged to memory. */
void limits_tmpfs_charge(holder *h, int fd);
/* An image root was built (h->driver) over the session tmpfs at top: the writable
 * layer is the on-disk upper dir of the PREPARE message m, or with the copy driver the
 * tmpfs itself, which then holds the image (not charged) and may grow by the layer's
 * room only. */
void limits_image_root(holder *h, const nook_msg *m, int top);
/* After pivot_root: the session's own /proc, kept open; a note when it is not ours. */
void limits_prepared(holder *h, char *notes, size_t size);
/* SPAWN, before the monitor's fork: adds T_NPROC_RLIMIT; after it, remembers the
 * monitor; when it is reaped, forgets it. */
void limits_spawn(holder *h, nook_msg *m);
void limits_monitor_add(holder *h, pid_t pid, const nook_msg *m);
void limits_monitor_gone(holder *h, pid_t pid);
/* The holder's poll timeout for the next look (-1: none), and the look itself. */
int limits_timeout(const holder *h);
void limits_tick(holder *h);
/* Bytes the writable layer holds; false when it cannot be measured here. */
bool limits_layer_bytes(holder *h, uint64_t *ret);

#endif
