/* nook — sessions and processes, typed, for programs that present them to people (the
 * `nook ps`, `nook logs`, `nook session` verbs) or attach a terminal: listing, raw
 * capture logs, waiting, stdin bytes, terminal size, and reclaiming abandoned
 * sessions.  Everything else goes through the contract (nook_runtime_call). */
#ifndef NOOK_SESSION_H
#define NOOK_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "nook/error.h"
#include "nook/export.h"
#include "nook/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nook_session_info {
        const char *ref; /* "s-..." */
        const char *environment_id;
        const char *name;     /* NULL when unnamed */
        const char *identity; /* "root", "keep-id", "subuid" */
        const char *state;    /* "created", "prepared", "dead" (its holder is gone) */
        const char *rootfs;   /* host path, or NULL */
        const char *notes;    /* downgrades taken, or NULL */
        const char *mounts;   /* the mount plan applied, "; "-separated ("/data bind ro (ref)"), or NULL */
        const char *network;  /* "none", "host" */
        const char *hostname;
        int holder_pid;
        long long created_ms;
        bool owned_by_caller; /* ends with the process that made it (nook run) */
        /* an image root: the image's manifest digest, the rootfs driver and why it was
         * chosen, and how many of the image's entries show a collapsed owner (single-id
         * identities); NULL / 0 otherwise */
        const char *image;
        const char *image_store; /* the data dir holding it */
        const char *driver;
        const char *driver_reason;
        const char *upper; /* host path of the writable layer, when on disk */
        unsigned long long owners_collapsed;
        /* the secrets the session holds, "ref:file:/path ref:env:NAME ..." (never a value), or NULL */
        const char *secrets;
        /* the ports published (-p), "IP:HOSTPORT:PORT/PROTO" space-separated, or NULL */
        const char *ports;
        /* how its limits are enforced, "memory=HOW pids=HOW cpus=HOW disk=HOW" (HOW: cgroup,
         * watchdog, tmpfs, not_enforced, none), or NULL before prepare_environment */
        const char *limits;
        /* the session's labels (--label), "KEY=VALUE" entries, one a line; or NULL */
        const char *labels;
} nook_session_info;

typedef struct nook_process_info {
        const char *ref; /* "p-..." */
        const char *session_ref;
        const char *environment_id;
        const char *command; /* argv[0]'s base name only (arguments may hold secrets) */
        const char *state;   /* "running", "exited" */
        int exit_code;       /* when exited */
        bool terminal;
        long long started_ms;
        long long finished_ms; /* 0 while running */
        /* when exited and nook ended it: "timeout", or the limit it went over: "memory",
         * "pids", "disk", "output" (SECURITY.md S34); NULL otherwise */
        const char *ended_by;
} nook_process_info;

typedef int (*nook_session_visit_fn)(const nook_session_info *s, void *userdata);
typedef int (*nook_process_visit_fn)(const nook_process_info *p, void *userdata);

/* An O_PATH directory fd of a live session's root (session: ref, environment id or
 * name), as its processes see it, mounts included, and an fd of its user namespace (-1
 * when unknown): a FUSE root answers only processes that joined it (setns(2)).  Resolve
 * paths below the root with openat2(2) RESOLVE_IN_ROOT, never as a host path: the
 * workload owns what is there. */
NOOK_EXPORT int nook_runtime_session_root(nook_runtime *rt, const char *session, int *ret_root_fd, int *ret_userns_fd,
                                          nook_error **err);

NOOK_EXPORT int nook_runtime_sessions(nook_runtime *rt, nook_session_visit_fn fn, void *userdata, nook_error **err);
/* session: a session ref, environment id or name; NULL for all. */
NOOK_EXPORT int nook_runtime_processes(nook_runtime *rt, const char *session, nook_process_visit_fn fn, void *userdata,
                                       nook_error **err);
/* The environment id of a session given by ref, environment id or name (newly
 * allocated); -ENOENT with an error naming it when there is none. */
NOOK_EXPORT int nook_runtime_session_resolve(nook_runtime *rt, const char *session, char **ret_environment_id,
                                             nook_error **err);

/* A read-only fd of a process's capture log (stream 1: stdout, or the pty; 2: stderr),
 * or of when its bytes were written (3: of stdout, 4: of stderr; -ENOENT for a process
 * started by a nook that did not record them), for the two functions below. */
NOOK_EXPORT int nook_runtime_process_log(nook_runtime *rt, const char *process_ref, int stream, int *ret_fd,
                                         nook_error **err);
/* When the byte at offset of a log was written, in ms since the epoch (to 10 ms, or to
 * a second for a log past 64 Ki writes); -ENODATA when nothing was recorded. */
NOOK_EXPORT int nook_log_time_at(int times_fd, unsigned long long offset, long long *ret_ms);
/* The offset of the first byte written at ms or later: 1 and *ret_offset; 0 when
 * nothing was written since. */
NOOK_EXPORT int nook_log_offset_since(int times_fd, long long ms, unsigned long long *ret_offset);
/* Waits up to timeout_ms (-1: forever): 1 and *ret_exit_code once it has exited, 0
 * while it runs. */
NOOK_EXPORT int nook_runtime_process_wait(nook_runtime *rt, const char *process_ref, int timeout_ms, int *ret_exit_code,
                                          nook_error **err);
NOOK_EXPORT int nook_runtime_process_write(nook_runtime *rt, const char *process_ref, const void *data, size_t len,
                                           bool close_stdin, nook_error **err);
NOOK_EXPORT int nook_runtime_process_resize(nook_runtime *rt, const char *process_ref, unsigned rows, unsigned cols,
                                            nook_error **err);

/* Reclaims every session whose holder died, or whose owner is gone and which was not
 * detached; *ret_reclaimed (may be NULL) gets how many; *ret_summary (may be NULL) a
 * line on what was found, newly allocated. */
NOOK_EXPORT int nook_runtime_gc(nook_runtime *rt, unsigned *ret_reclaimed, char **ret_summary, nook_error **err);

#ifdef __cplusplus
}
#endif

#endif
