/* nook userns — sessions and processes as records for people and terminals (nook/
 * session.h): listing the run dir, a process's raw capture log, waiting for its exit,
 * stdin bytes and pty size through its monitor. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "userns/io.h"
#include "userns/network.h"
#include "userns/limits.h"
#include "userns/session.h"
#include "userns/stages.h"

static const char *identity_name(int id) {
        return id == NOOK_IDENTITY_KEEP_ID ? "keep-id" : id == NOOK_IDENTITY_SUBUID ? "subuid" : "root";
}

/* The sessions of the checked run dir (S32): the dir listed is the one checked, each
 * session loaded below its fd; what nook did not make for this user is left out. */
static int visit_run_dir(nook_call_ctx *ctx, int (*fn)(nook_session *s, void *userdata), void *userdata,
                         nook_error **err) {
        _cleanup_close_ int runfd = nook_rundir_open(ctx->config, false, err);
        if (runfd == -ENOENT)
                return 0;
        if (runfd < 0)
                return runfd;
        int dfd = fcntl(runfd, F_DUPFD_CLOEXEC, 3);
        _cleanup_closedir_ DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d) {
                if (dfd >= 0)
                        close(dfd);
                return nook_error_sys(err, errno, "listing the run dir");
        }
        struct dirent *e;
        while ((e = readdir(d))) {
                _cleanup_(nook_session_freep) nook_session *s = NULL;
                if (nook_session_load_at(runfd, ctx->config->run_dir, e->d_name, &s, NULL) < 0)
                        continue;
                int r = fn(s, userdata);
                if (r)
                        return r;
        }
        return 0;
}

typedef struct session_visit {
        nook_session_visit_fn fn;
        void *userdata;
} session_visit;

static int visit_session(nook_session *s, void *userdata) {
        session_visit *v = userdata;
        bool alive = nook_session_alive(s);
        /* the holder records fuse-overlayfs's death (helpers/holder.c) */
        _cleanup_free_ char *notes = NULL;
        char died[64] = "";
        int dfd = s->driver ? openat(s->dir_fd, "rootfs-died", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) : -1;
        if (dfd >= 0) {
                FILE *f = fdopen(dfd, "re");
                if (!f)
                        close(dfd);
                if (f) {
                        if (!fgets(died, sizeof(died), f))
                                died[0] = 0;
                        died[strcspn(died, "\n")] = 0;
                        fclose(f);
                        if (asprintf(&notes,
                                     "%s%sfuse-overlayfs died (%s): the root answers 'transport "
                                     "endpoint is not connected'; remove the session",
                                     s->notes ? s->notes : "", s->notes ? "; " : "", died) < 0)
                                notes = NULL;
                }
        }
        /* a removal that stopped short (cleanup.c) says where, in <dir>/repair */
        char repair[512] = "";
        _cleanup_close_ int rfd = openat(s->dir_fd, "repair", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (rfd >= 0) {
                ssize_t n = read(rfd, repair, sizeof(repair) - 1);
                repair[n > 0 ? n : 0] = 0;
                if (!repair[0])
                        snprintf(repair, sizeof(repair), "removal incomplete");
        }
        _cleanup_free_ char *repair_notes = NULL;
        const char *base = notes ? notes : s->notes;
        if (repair[0] && asprintf(&repair_notes, "%s%sremoval stopped: %s; 'nook gc' or 'nook session rm' tries again",
                                  base ? base : "", base ? "; " : "", repair) < 0)
                repair_notes = NULL;
        _cleanup_free_ char *net = nook_net_describe(s);
        _cleanup_free_ char *labels = s->labels ? strdup(s->labels) : NULL;
        for (char *c = labels; c && *c; c++)
                if (*c == '\x1f')
                        *c = '\n';
        char limits[96];
        bool have_limits = nook_limits_describe(s->dir_fd, limits, sizeof(limits));
        nook_session_info i = {
                .ref = s->ref,
                .environment_id = s->environment_id,
                .name = s->name,
                .identity = identity_name(s->identity),
                .state = repair[0]     ? "repair_needed"
                         : !alive      ? "dead"
                         : s->prepared ? "prepared"
                                       : "created",
                .rootfs = s->rootfs,
                .notes = repair_notes ? repair_notes : base,
                .mounts = s->mounts,
                .network = net            ? net
                           : s->own_netns ? "none"
                                          : "host",
                .hostname = s->hostname,
                .holder_pid = alive ? (int)s->holder_pid : 0,
                .created_ms = s->created_ms,
                .owned_by_caller = s->owner_pid > 0,
                .image = s->image,
                .image_store = s->image_store,
                .driver = s->driver   ? s->driver
                          : s->rootfs ? "dir"
                                      : NULL,
                .driver_reason = s->driver_reason,
                .upper = s->upper,
                .owners_collapsed = s->owners_collapsed,
                .secrets = s->secrets,
                .ports = s->net_ports,
                .limits = have_limits ? limits : NULL,
                .labels = labels,
        };
        return v->fn(&i, v->userdata);
}

int nook_userns_sessions(void *state, nook_call_ctx *ctx, nook_session_visit_fn fn, void *userdata, nook_error **err) {
        session_visit v = { fn, userdata };
        return visit_run_dir(ctx, visit_session, &v, err);
}

static void read_meta(const nook_session *s, const char *ref, char *command, size_t size, bool *terminal,
                      long long *started) {
        int fd = nook_session_openat(s, ref, "meta", O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
        _cleanup_fclose_ FILE *f = fd >= 0 ? fdopen(fd, "re") : NULL;
        if (fd >= 0 && !f)
                close(fd);
        char line[256];
        while (f && fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = 0;
                if (strncmp(line, "command=", 8) == 0)
                        snprintf(command, size, "%.64s", line + 8);
                else if (strncmp(line, "terminal=", 9) == 0)
                        *terminal = line[9] == '1';
        }
        struct stat st;
        if (f && fstat(fileno(f), &st) == 0)
                *started = (long long)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

static int visit_processes(const nook_session *s, nook_process_visit_fn fn, void *userdata) {
        int pfd = openat(s->dir_fd, "p", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_closedir_ DIR *d = pfd >= 0 ? fdopendir(pfd) : NULL;
        if (pfd >= 0 && !d)
                close(pfd);
        struct dirent *e;
        while (d && (e = readdir(d))) {
                if (strncmp(e->d_name, "p-", 2) != 0)
                        continue;
                char command[80] = "?";
                bool terminal = false;
                long long started = 0;
                read_meta(s, e->d_name, command, sizeof(command), &terminal, &started);
                nook_exit_record rec;
                (void)nook_exit_record_read(s, e->d_name, &rec);
                nook_process_info i = {
                        .ref = e->d_name,
                        .session_ref = s->ref,
                        .environment_id = s->environment_id,
                        .command = command,
                        .state = rec.present                              ? "exited"
                                 : nook_process_unmonitored(s, e->d_name) ? "unmonitored"
                                 : nook_process_lost(s, e->d_name)        ? "lost"
                                                                          : "running",
                        .exit_code = rec.exit_code,
                        .terminal = terminal,
                        .started_ms = started,
                        .finished_ms = rec.finished_ms,
                        .ended_by = !rec.present       ? NULL
                                    : rec.timed_out    ? "timeout"
                                    : rec.killed_by[0] ? rec.killed_by
                                                       : NULL,
                };
                int r = fn(&i, userdata);
                if (r)
                        return r;
        }
        return 0;
}

typedef struct process_visit {
        const char *environment_id;
        nook_process_visit_fn fn;
        void *userdata;
} process_visit;

static int visit_session_processes(nook_session *s, void *userdata) {
        process_visit *v = userdata;
        if (v->environment_id && strcmp(v->environment_id, s->environment_id) != 0)
                return 0;
        return visit_processes(s, v->fn, v->userdata);
}

int nook_userns_processes(void *state, nook_call_ctx *ctx, const char *environment_id, nook_process_visit_fn fn,
                          void *userdata, nook_error **err) {
        process_visit v = { environment_id, fn, userdata };
        return visit_run_dir(ctx, visit_session_processes, &v, err);
}

int nook_userns_session_root(void *state, nook_call_ctx *ctx, const char *environment_id, int *ret_root_fd,
                             int *ret_userns_fd, nook_error **err) {
        _cleanup_(nook_session_freep) nook_session *s = NULL;
        int r = nook_session_need(ctx->config, environment_id, "cp", &s, err);
        if (r < 0)
                return r;
        nook_msg m = NOOK_MSG_INIT(NOOK_MSG_ROOT), reply = NOOK_MSG_INIT(0);
        r = nook_session_request(s, NULL, &m, &reply, 5000, "opening the session root", err);
        if (r == 0 && reply.n_fds != 1 && reply.n_fds != 2)
                r = nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_NOT_RETRYABLE, EPROTO,
                                   "opening the session root: the holder sent no fd");
        if (r == 0) {
                *ret_root_fd = reply.fds[0];
                *ret_userns_fd = reply.n_fds == 2 ? reply.fds[1] : -1;
                reply.fds[0] = reply.n_fds == 2 ? (reply.fds[1] = -1) : -1;
        }
        nook_msg_done(&m);
        nook_msg_done(&reply);
        return r;
}

int nook_userns_process_log(void *state, nook_call_ctx *ctx, const char *ref, int stream, int *ret_fd,
                            nook_error **err) {
        _cleanup_(nook_session_freep) nook_session *s = NULL;
        int r = nook_process_session(ctx->config, ref, &s, err);
        if (r < 0)
                return r;
        /* the monitor creates the logs right after it starts: wait for them briefly */
        static const char *const names[] = { "out", "out", "err", "out.times", "err.times" };
        int fd = -ENOENT;
        for (int i = 0; i < (stream > 2 ? 1 : 100) && fd == -ENOENT; i++) {
                fd = nook_session_openat(s, ref, names[stream >= 1 && stream <= 4 ? stream : 1], O_RDONLY | O_NONBLOCK,
                                         0);
                if (fd == -ENOENT)
                        usleep(10000);
        }
        if (fd < 0)
                return nook_error_sys(err, -fd, "opening the capture log");
        *ret_fd = fd;
        return 0;
}

int nook_userns_process_wait(void *state, nook_call_ctx *ctx, const char *ref, int timeout_ms, int *ret_exit_code,
                             nook_error **err) {
        _cleanup_(nook_session_freep) nook_session *s = NULL;
        int r = nook_process_session(ctx->config, ref, &s, err);
        if (r < 0)
                return r;
        nook_exit_record rec;
        int64_t t = timeout_ms < 0 ? INT64_MAX / 4 : timeout_ms;
        for (;;) {
                int64_t slice = t > 1000 ? 1000 : t;
                if (nook_process_wait(s, ref, slice, &rec) == 1) {
                        *ret_exit_code = rec.exit_code;
                        return 1;
                }
                if (nook_process_lost(s, ref))
                        return nook_error_set(err, NOOK_ERROR_CHILD_LIFECYCLE_FAILURE, NOOK_RETRY_REPAIR_NEEDED,
                                              EOWNERDEAD,
                                              "the process is lost: its monitor (or the session's holder) died "
                                              "without recording an exit status");
                t -= slice;
                if (t <= 0)
                        return 0;
        }
}

int nook_userns_process_write(void *state, nook_call_ctx *ctx, const char *ref, const void *data, size_t len,
                              bool close_stdin, nook_error **err) {
        _cleanup_(nook_session_freep) nook_session *s = NULL;
        int r = nook_process_session(ctx->config, ref, &s, err);
        if (r < 0)
                return r;
        nook_msg m = NOOK_MSG_INIT(NOOK_MSG_STDIN), reply = NOOK_MSG_INIT(0);
        r = len ? nook_msg_add(&m, T_DATA, data, (uint32_t)len) : 0;
        if (r >= 0 && close_stdin)
                r = nook_msg_add_u64(&m, T_CLOSE, 1);
        r = r < 0 ? nook_error_oom(err) : nook_session_request(s, ref, &m, &reply, 10000, "writing stdin", err);
        nook_msg_done(&m);
        nook_msg_done(&reply);
        return r;
}

int nook_userns_process_resize(void *state, nook_call_ctx *ctx, const char *ref, unsigned rows, unsigned cols,
                               nook_error **err) {
        _cleanup_(nook_session_freep) nook_session *s = NULL;
        int r = nook_process_session(ctx->config, ref, &s, err);
        if (r < 0)
                return r;
        nook_msg m = NOOK_MSG_INIT(NOOK_MSG_RESIZE), reply = NOOK_MSG_INIT(0);
        r = nook_msg_add_u64(&m, T_ROWS, rows);
        if (r >= 0)
                r = nook_msg_add_u64(&m, T_COLS, cols);
        r = r < 0 ? nook_error_oom(err) : nook_session_request(s, ref, &m, &reply, 5000, "resizing the terminal", err);
        nook_msg_done(&m);
        nook_msg_done(&reply);
        return r;
}
