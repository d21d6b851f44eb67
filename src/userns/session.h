/* nook userns — what the stage files share: the run dir, the session record kept in
 * <run dir>/s-<id>/state, the process records under p/<ref>/, and talking to the
 * session's holder and monitors.  The other concerns stages share have a header each:
 * proof.h (is that process our holder), idmap.h, mounts.h (the mount plan), io.h (exit
 * waits and capture frames), cleanup.h (ending a session). */
#ifndef NOOK_USERNS_SESSION_H
#define NOOK_USERNS_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/adapter.h"
#include "proto/proto.h"
#include "proto/record.h"
#include "util/error.h"

#define NOOK_SESSION_REF_LEN 27 /* "s-" + 24 hex + NUL */
#define NOOK_PROCESS_REF_LEN 44 /* "p-" + 24 hex + "-" + 16 hex + NUL */
/* The hint when a step of the sandbox's set-up is refused (EPERM) while nook runs under a
 * seccomp filter: an outer container's or nook session's (docs/nested.md). */
#define NOOK_HINT_OUTER_SECCOMP                                                                         \
        "nook runs under a seccomp filter (an outer container or nook session) that denies this step: " \
        "start the outer one with --security-opt seccomp=unconfined (podman: or --cap-add SYS_ADMIN); " \
        "see docs/nested.md, and 'nook caps'"

typedef struct nook_session {
        char ref[NOOK_SESSION_REF_LEN];
        char *run_dir;
        char *dir;  /* for messages and for the holder; this process goes through dir_fd */
        int dir_fd; /* the session dir, opened below the run dir fd without following, checked */
        char *environment_id;
        char *name;
        int identity; /* nook_identity actually used (never auto) */
        uid_t uid;    /* the caller, outside */
        gid_t gid;
        uid_t inner_uid; /* the caller as the session sees it: 0, or uid in keep-id */
        gid_t inner_gid;
        uint32_t subid_count; /* ids mapped beyond the caller (subuid identity) */
        bool own_netns;
        pid_t holder_pid;
        uint64_t holder_start;
        pid_t owner_pid; /* 0: the session lives until cleanup */
        uint64_t owner_start;
        bool detached;
        char *ticket;
        char *rootfs; /* host path of the root directory (driver dir) */
        bool rootfs_rw;
        bool read_only;
        bool prepared;
        char *hostname;
        char *notes;     /* downgrades taken, one line */
        char *labels;    /* --label "KEY=VALUE" entries, separated by '\x1f' (the record is lines) */
        char *mounts;    /* the applied mount plan, one line ("; "-separated) */
        char *workspace; /* the workspace's destination: the default cwd of processes */
        int64_t created_ms;
        /* an image root (prepare_rootfs): the manifest digest, the driver and why */
        char *image;
        char *image_store; /* the data dir whose store holds the image */
        char *driver;      /* "overlay", "fuse-overlayfs", "copy", "dir" */
        char *driver_reason;
        char *upper;               /* host path of the writable layer when it lives on disk */
        bool keep_upper;           /* a named writable layer: cleanup keeps it */
        uint64_t owners_collapsed; /* image entries whose owner shows as the one mapped id */
        /* the network (network.h): chosen at prepare_session, set up by configure_network */
        char *net;         /* "none", "host" or "slirp4netns" */
        char *net_ports;   /* asked, then published: "IP:HOSTPORT:PORT/PROTO" space-separated */
        char *net_dns;     /* resolvers the sandbox is given (space-separated), or NULL: the default */
        char *net_hosts;   /* --add-host "NAME:IP" space-separated */
        bool net_loopback; /* slirp4netns: 10.0.2.2 is the host's loopback */
        char *net_egress;  /* canonical egress rules (space-separated); "-" = every destination refused */
        bool net_ready;    /* configure_network completed */
        pid_t slirp_pid;
        uint64_t slirp_start;
        pid_t netd_pid;
        uint64_t netd_start;
        pid_t portfwd_pid; /* nook-portfwd, when TCP ports are published */
        uint64_t portfwd_start;
        /* prepare_secrets: what the holder holds, "ref:file:/path ref:env:NAME ..." (never a value) */
        char *secrets;
} nook_session;

/* The state file's table: the key of each field, in the order written (record.h). */
extern const nook_record nook_session_record;

nook_session *nook_session_free(nook_session *s);
static inline void nook_session_freep(nook_session **s) {
        nook_session_free(*s);
}

/* The run dir, opened without following a symlink and checked on its fd (S25, S32): a
 * directory of this user that group and others cannot enter.  create: made 0700 when
 * missing; otherwise -ENOENT (no error set) when there is none yet.  A refusal names the
 * dir and a working alternative (NOOK_RUNTIME_DIR).  Returns the fd. */
int nook_rundir_open(const nook_adapter_config *c, bool create, nook_error **err);

/* The session ref an environment id always gets: opaque, stable per user. */
void nook_session_ref_for(const char *environment_id, char ret[NOOK_SESSION_REF_LEN]);
/* Loads <run>/<ref>/state below the run dir fd: the session dir and the record are
 * opened without following and must be this user's, private, and name this ref (S32);
 * -ENOENT (no error set) when there is no such session, -EPERM with an error naming the
 * path when what is there was not made by nook for this user. */
int nook_session_load_at(int runfd, const char *run_dir, const char *ref, nook_session **ret, nook_error **err);
int nook_session_load(const nook_adapter_config *c, const char *ref, nook_session **ret, nook_error **err);
int nook_session_find(const nook_adapter_config *c, const char *environment_id, nook_session **ret, nook_error **err);
/* The live session of env for a stage, or an error naming the stage: none yet
 * (InvalidStateTransition), or its holder is gone (RecoveryRepairNeeded). */
int nook_session_need(const nook_adapter_config *c, const char *env, const char *stage, nook_session **ret,
                      nook_error **err);
/* Opens p/<process_ref>[/<name>] below the session dir without following any symlink
 * (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS); O_CLOEXEC added.  fd, or -errno. */
int nook_session_openat(const nook_session *s, const char *process_ref, const char *name, int flags, mode_t mode);
/* Writes the state file atomically (temp file + rename). */
int nook_session_save(const nook_session *s, nook_error **err);
/* true while the session's holder runs: proven (nook_holder_pin) to be this user's
 * nook-holder with the recorded pid and start time, holding this session dir. */
bool nook_session_alive(const nook_session *s);
/* true when pid (with that start time) is a holder of ours whose own session dir, reached
 * through the holder (/proc/<pid>/fd/4), has the complete record of environment_id: a
 * live session, whichever run dir it is in. */
bool nook_holder_serves(pid_t pid, uint64_t start, const char *environment_id);
/* Connects to the holder's control socket (or a monitor's, when process_ref is set);
 * the holder is proven first and the socket's peer checked (SO_PEERCRED) before the fd
 * is handed out, so nothing is sent to a planted socket (S32). */
int nook_session_connect(const nook_session *s, const char *process_ref, int *ret_fd, nook_error **err);
/* One request, one reply; the reply's T_ERRNO becomes an error naming `what`. */
int nook_session_request(const nook_session *s, const char *process_ref, nook_msg *req, nook_msg *reply, int timeout_ms,
                         const char *what, nook_error **err);
/* A request to the holder or a monitor that could not be composed (r from nook_msg_add…): ENOMEM is
 * out of memory (Retryable), E2BIG a request past the message's bounds (NotRetryable:
 * the same request fails again), anything else the system error; names `what`. */
int nook_session_compose_error(nook_error **err, int r, const char *what);

/* Process refs: "p-<session id>-<16 hex>"; the session is found from the ref. */
int nook_process_session(const nook_adapter_config *c, const char *process_ref, nook_session **ret, nook_error **err);

/* A process's exit record (p/<ref>/exit), when it has one (record.h): 0 with present
 * false when there is none yet; -EINVAL when it does not parse. */
int nook_exit_record_read(const nook_session *s, const char *process_ref, nook_exit_record *ret);

/* true when the process has no exit record and never will: its monitor (or the whole
 * session) died, so nobody watches it any more. */
bool nook_process_lost(const nook_session *s, const char *process_ref);
/* true when the process runs on without its monitor (killed from outside):
 * the holder adopted it, kills it on nook kill and its timeout, and records its exit;
 * its output is no longer captured (S33). */
bool nook_process_unmonitored(const nook_session *s, const char *process_ref);

#endif
