/* nook proto — the message format between the client and the session's helpers
 * (nook-holder and its monitors): a header, then tag-length-value fields, over a
 * unix stream socket, with file descriptors passed as SCM_RIGHTS (unix(7)).  Shared
 * by both sides; links nothing but libc. */
#ifndef NOOK_PROTO_PROTO_H
#define NOOK_PROTO_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOOK_MSG_MAGIC 0x6e6f6f6bu /* "nook" */
#define NOOK_MSG_MAX (8u * 1024u * 1024u)
/* fds one message carries: PREPARE passes every host mount source (S31); the kernel
 * takes at most SCM_MAX_FD (253) in one SCM_RIGHTS message */
#define NOOK_MSG_MAX_FDS 128

typedef enum nook_msg_type {
        NOOK_MSG_PING = 1,  /* -> REPLY: is the holder alive and set up */
        NOOK_MSG_PREPARE,   /* -> REPLY: build the root filesystem and pivot (prepare_environment) */
        NOOK_MSG_SPAWN,     /* -> REPLY from the new monitor once the workload runs (or failed) */
        NOOK_MSG_STDIN,     /* to a monitor: write T_DATA to the workload's stdin, or T_CLOSE it */
        NOOK_MSG_SIGNAL,    /* to a monitor: T_SIGNAL, T_GRACE_MS; to the holder with T_PROCESS_REF */
        NOOK_MSG_STATS,     /* to a monitor: -> REPLY with T_CPU_MS, T_RSS, T_NPROC, T_FS_BYTES */
        NOOK_MSG_RESIZE,    /* to a monitor: T_ROWS, T_COLS of the pty */
        NOOK_MSG_HOLD,      /* -> REPLY: keep the fds (exit fds of the network's helpers) until the holder ends */
        NOOK_MSG_NET_READY, /* -> REPLY: the fd slirp4netns writes "1" to once up; spawn nothing before */
        NOOK_MSG_SECRETS,   /* -> REPLY: hold the T_SECRET values (prepare_secrets); T_MESSAGE lists weak ones */
        NOOK_MSG_ROOT,      /* -> REPLY with an O_PATH fd of the session's root (nook cp resolves paths below it) */

        /* monitor -> holder on its link: T_PID, T_DEADLINE_MS and the workload's pidfd */
        NOOK_MSG_STARTED = 20,
        NOOK_MSG_REPLY = 100,
} nook_msg_type;

typedef enum nook_tag {
        /* replies */
        T_ERRNO = 1,  /* u64: 0 ok, else the errno of the failure */
        T_MESSAGE,    /* str: what failed, for the error message */
        T_PID,        /* u64: the workload's pid in the session */
        T_DELIVERED,  /* u64: 1 when a signal reached a running process */
        T_CPU_MS,     /* u64 */
        T_RSS,        /* u64: bytes */
        T_NPROC,      /* u64 */
        T_FS_BYTES,   /* u64: bytes used in the writable layer */
        T_EXEC_STAGE, /* str: which setup step of the workload failed */
        /* PREPARE */
        T_ROOTFS = 20, /* str: host path of the root directory (driver dir) */
        T_ROOTFS_RW,   /* u64: 1 = bind it read-write (--rootfs-rw) */
        T_ROOT_RO,     /* u64: 1 = the root is read-only (no writable layer) */
        T_HOSTNAME,    /* str */
        T_ETC_FILE,    /* str: "<path>\0<content>" to bind over /etc/<path> (hosts, resolv.conf, passwd, group) */
        T_MOUNT = 27,  /* group of M_* fields, repeated, in order: one mount of the plan (25, 26 unused) */
        T_DRIVER,     /* str: image root driver "overlay", "fuse-overlayfs", "copy", "auto"; in a reply: the one used */
        T_LAYERS_DIR, /* str: host path of the store's layers dir */
        T_LOWER,      /* str, repeated: a layer's name under T_LAYERS_DIR ("<hex>/diff"), top first */
        T_UPPER,      /* str: host dir holding upper/ and work/ of the writable layer */
        T_FUSE_BIN,   /* str: the fuse-overlayfs program */
        T_SQUASH,     /* u64: 1 = one id mapped: fuse-overlayfs shows every owner as root */
        T_WORKDIR,    /* str: the image's WorkingDir, made (as docker does) when missing */
        T_ROOTFS_FD,  /* u64: index of the fd of T_ROOTFS in the message (S31: the holder mounts that inode) */
        T_UPPER_FD,   /* u64: index of the fd of T_UPPER in the message */
        T_THROWAWAY,  /* u64: 1 = the writable layer is removed with the session: no sync at unmount */
        /* SPAWN */
        T_PROCESS_REF = 40, /* str */
        T_ARGV,             /* str, repeated */
        T_ENV,              /* str "NAME=value", repeated */
        T_CWD,              /* str */
        T_UID,              /* u64 */
        T_GID,              /* u64 */
        T_GROUPS,           /* u64, repeated: supplementary groups (subuid identity only) */
        T_TERMINAL,         /* u64: 1 = pty */
        T_ROWS,             /* u64 */
        T_COLS,             /* u64 */
        T_STDIN_OPEN,       /* u64: 1 = stdin is a pipe the client may write, else /dev/null */
        T_TIMEOUT_MS,       /* u64: 0 = none */
        T_RLIMIT,           /* bytes: struct nook_rlimit_msg, repeated */
        T_SECCOMP,          /* bytes: struct sock_filter[]; absent = unconfined */
        T_CAPS,             /* u64: capability bits kept for a uid-0 workload */
        T_MEMORY_MAX,       /* u64: bytes (PREPARE: the session's; SPAWN: tighter while it runs) */
        T_PIDS_MAX,         /* u64: tasks (PREPARE: the session's; SPAWN: tighter while it runs) */
        /* STDIN / SIGNAL */
        T_DATA = 70, /* bytes */
        T_CLOSE,     /* u64 */
        T_SIGNAL,    /* u64 */
        T_GRACE_MS,  /* u64 */
        /* STARTED */
        T_DEADLINE_MS = 90, /* u64: CLOCK_MONOTONIC ms when the timeout ends the workload, 0 none */
        /* limits (S34; helpers/limits.c) */
        T_DISK_MAX = 91, /* u64, PREPARE: bytes the writable layer may hold */
        T_CGROUP,        /* u64, PREPARE: 1 = a delegated cgroup v2 holds memory and tasks; its dir is the fd */
        T_NPROC_RLIMIT,  /* u64, SPAWN (added by the holder): RLIMIT_NPROC of the workload */
        T_OUT_MAX,       /* u64, SPAWN: bytes the stdout (or pty) capture log keeps */
        T_ERR_MAX,       /* u64, SPAWN: bytes the stderr capture log keeps */
        T_OUT_FAIL,      /* u64, SPAWN: 1 = kill the process past T_OUT_MAX (else a marker ends the log) */
        T_ERR_FAIL,      /* u64, SPAWN: the same for stderr */
        /* SECRETS (helpers/secrets.c) */
        T_SECRET = 100, /* group of S_* fields, repeated: one secret */
        T_SECRET_UID,   /* u64, PREPARE: owner of mounted secrets without S_UID (the default process user) */
        T_SECRET_GID,   /* u64, PREPARE: their group without S_GID */
        T_ENV_SECRET,   /* str "NAME=REF", SPAWN, repeated: variable NAME gets the value of held secret REF */
        T_SECRET_USER,  /* str, PREPARE: the image's User ("uid[:gid]", "name[:group]"): owner of secret files */
} nook_tag;

/* The fields of one T_SECRET group: S_REF, S_KIND, S_TARGET and S_VALUE required. */
typedef enum nook_secret_tag {
        S_REF = 1, /* str: the secret's ref, [A-Za-z0-9._-], named in "[REDACTED:<ref>]" */
        S_KIND,    /* str: "file" (a read-only file at S_TARGET) or "env" (variable S_TARGET of every process) */
        S_TARGET,  /* str: absolute path inside the root, or a variable name */
        S_VALUE,   /* bytes: the value (wiped from every buffer once held: proto.c) */
        S_MODE,    /* u64: file mode bits (default 0400) */
        S_UID,     /* u64: file owner inside the session (default T_SECRET_UID) */
        S_GID,     /* u64: file group inside the session (default T_SECRET_GID) */
} nook_secret_tag;

/* The fields of one T_MOUNT group: each at most once, every one but M_FD required; an
 * unknown one is an error (the holder refuses the plan rather than guess). */
typedef enum nook_mount_tag {
        M_KIND = 1,  /* str: "bind", "tmpfs" or "snapshot" */
        M_READ_ONLY, /* u64: 1 = made read-only after mounting */
        M_IS_FILE,   /* u64: 1 = a single file, else a directory */
        M_FOLLOW,    /* u64: 1 = symlinks in the destination resolve inside the root (follow_within_alias) */
        M_DEST,      /* str: absolute path inside the root */
        M_OPTIONS,   /* str: tmpfs options, validated */
        M_FD,        /* u64: index of the source's fd in the message (bind, snapshot; S31) */
} nook_mount_tag;

struct nook_rlimit_msg {
        uint32_t resource;
        uint32_t pad;
        uint64_t soft;
        uint64_t hard;
};

typedef struct nook_msg {
        uint32_t type;
        char *buf; /* the fields */
        size_t len, cap;
        int fds[NOOK_MSG_MAX_FDS];
        unsigned n_fds;
        bool failed;   /* an allocation failed while building */
        bool owns_fds; /* fds were received: nook_msg_done closes them */
} nook_msg;

#define NOOK_MSG_INIT(t) \
        { .type = (t) } /* fds past n_fds are never read */

void nook_msg_done(nook_msg *m); /* frees the buffer and closes received fds */
int nook_msg_add(nook_msg *m, uint16_t tag, const void *data, uint32_t len);
int nook_msg_add_str(nook_msg *m, uint16_t tag, const char *s);
int nook_msg_add_u64(nook_msg *m, uint16_t tag, uint64_t v);
/* Attaches fd to the message (not owned: the caller keeps it). */
int nook_msg_add_fd(nook_msg *m, int fd);

/* Sends the whole message; -errno on failure. */
int nook_msg_send(int sock, const nook_msg *m);
/* Receives one message, waiting at most timeout_ms (-1: forever); received fds are
 * O_CLOEXEC (MSG_CMSG_CLOEXEC) and owned by m.  -ECONNRESET when the peer closed. */
int nook_msg_recv(int sock, nook_msg *m, int timeout_ms);

/* Field access.  next: iterate (start with *off = 0); returns false at the end. */
bool nook_msg_next(const nook_msg *m, size_t *off, uint16_t *tag, const void **data, uint32_t *len);
/* The first string field with tag (NUL-terminated inside its length), or NULL. */
const char *nook_msg_str(const nook_msg *m, uint16_t tag);
uint64_t nook_msg_u64(const nook_msg *m, uint16_t tag, uint64_t def);
bool nook_msg_has(const nook_msg *m, uint16_t tag);
/* Takes a received fd out of the message (index in arrival order), or -1. */
int nook_msg_take_fd(nook_msg *m, unsigned index);

/* A group: the fields of sub (a message built like any other, its fds not carried)
 * added to m as one field with tag; a repeated group keeps its order. */
int nook_msg_add_group(nook_msg *m, uint16_t tag, const nook_msg *sub);
/* A group field's data as a message to read with nook_msg_next and the getters: a view
 * into m's buffer, without fds; never nook_msg_done() it.  false when its length is not
 * a whole number of fields. */
bool nook_msg_group(const void *data, uint32_t len, nook_msg *ret);

/* A reply carrying an error: errno e and a message. */
int nook_msg_reply_error(int sock, int e, const char *message);

#endif
