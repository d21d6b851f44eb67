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

#include "userns/proto.h"

typedef struct holder {
        int listen_fd;  /* the session's control socket (bound by the client) */
        int session_fd; /* the session dir, opened by the client before clone */
        int signal_fd;  /* SIGCHLD, SIGTERM, SIGINT, SIGHUP */
        int devnull_fd; /* the host's /dev/null, opened before pivot_root (S7) */
        int upper_fd;   /* root of the tmpfs holding the writable layer, or -1 */
        uid_t peer_uid; /* the client's uid as this user namespace sees it */
        bool own_netns;
        bool prepared;      /* pivoted into the session root */
        pid_t fuse_pid;     /* fuse-overlayfs serving the root, or 0 */
        const char *driver; /* image root driver used, or NULL */
        char driver_why[512];
        /* S33: the workloads' pid namespace, nested in the session's (workloads.c) */
        int pidns_fd;   /* that namespace, for setns(2) by each monitor; -1 before PREPARE */
        pid_t init_pid; /* its init, our child; 0 once it died */
        int proc_fd;    /* a procfs of the session's pid namespace, mounted nowhere, or -1 */
        char *title;    /* our argv strings, rewritten by the init (its cmdline) */
        size_t title_size;
        struct workload *work; /* one per started process, until it is reaped */
        size_t n_work;
} holder;

/* A failure to report: errno and a message naming the step. */
typedef struct hstatus {
        int err;
        char msg[512];
} hstatus;

int hfail(hstatus *st, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* mounts.c: builds the root of the session from a PREPARE message and pivots into it.
 * On success *notes may hold downgrades taken ("procfs bound from the host: ..."). */
int holder_prepare(holder *h, const nook_msg *m, char *notes, size_t notes_size, hstatus *st);

/* rootfs.c: the image root on the directory fd root (drivers overlay, fuse-overlayfs,
 * copy, or auto: the first that works); *driver gets the one used, why the reasons
 * auto passed others over. */
int holder_image_root(holder *h, const nook_msg *m, int root, const char **driver, char *why, size_t why_size,
                      hstatus *st);

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
/* poll(2) timeout until the next deadline we enforce (-1: none), and enforcing them. */
int holder_workloads_timeout(const holder *h);
void holder_workloads_timers(holder *h);

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
        int go_fd; /* one byte once the holder has our pidfd; EOF: the monitor died first */
} spawn_plan;

struct spawn_failure {
        char stage[32];
        int err;
};

_Noreturn void spawn_exec(const spawn_plan *p);

/* Runs `fmt` into a buffer; helpers never print. */
#endif
