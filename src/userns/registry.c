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

#include "userns/session.h"
#include "userns/stages.h"

static void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

static const char *identity_name(int id) {
        return id == NOOK_IDENTITY_KEEP_ID ? "keep-id" : id == NOOK_IDENTITY_SUBUID ? "subuid" : "root";
}

int nook_userns_sessions(void *state, nook_call_ctx *ctx, nook_session_visit_fn fn, void *userdata, nook_error **err) {
        _cleanup_(closedirp) DIR *d = opendir(ctx->config->run_dir);
        if (!d)
                return errno == ENOENT ? 0 : nook_error_sys(err, errno, "listing the run dir");
        struct dirent *e;
        while ((e = readdir(d))) {
                if (strncmp(e->d_name, "s-", 2) != 0)
                        continue;
                _cleanup_(nook_session_freep) nook_session *s = NULL;
                if (nook_session_load(ctx->config->run_dir, e->d_name, &s, NULL) < 0)
                        continue;
                bool alive = nook_session_alive(s);
                /* the holder records fuse-overlayfs's death (helpers/holder.c) */
                _cleanup_free_ char *notes = NULL;
                char died[64] = "";
                _cleanup_free_ char *dpath = NULL;
                if (s->driver && asprintf(&dpath, "%s/rootfs-died", s->dir) >= 0) {
                        FILE *f = fopen(dpath, "re");
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
                _cleanup_free_ char *rpath = NULL;
                if (asprintf(&rpath, "%s/repair", s->dir) >= 0) {
                        _cleanup_close_ int rfd = open(rpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                        ssize_t n = rfd < 0 ? -1 : read(rfd, repair, sizeof(repair) - 1);
                        repair[n > 0 ? n : 0] = 0;
                        if (rfd >= 0 && !repair[0])
                                snprintf(repair, sizeof(repair), "removal incomplete");
                }
                _cleanup_free_ char *repair_notes = NULL;
                if (repair[0] && asprintf(&repair_notes,
                                          "%s%sremoval stopped: %s; 'nook gc' or 'nook session rm' "
                                          "tries again",
                                          notes      ? notes
                                          : s->notes ? s->notes
                                                     : "",
                                          notes || s->notes ? "; " : "", repair) < 0)
                        repair_notes = NULL;
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
                        .notes = repair_notes ? repair_notes
                                 : notes      ? notes
                                              : s->notes,
                        .mounts = s->mounts,
                        .network = s->own_netns ? "none" : "host",
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
                };
                int r = fn(&i, userdata);
                if (r)
                        return r;
        }
        return 0;
}

static void read_meta(const nook_session *s, const char *ref, char *command, size_t size, bool *terminal,
                      long long *started) {
        _cleanup_free_ char *p = NULL;
        if (asprintf(&p, "%s/p/%s/meta", s->dir, ref) < 0)
                return;
        _cleanup_fclose_ FILE *f = fopen(p, "re");
        char line[256];
        while (f && fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = 0;
                if (strncmp(line, "command=", 8) == 0)
                        snprintf(command, size, "%.64s", line + 8);
                else if (strncmp(line, "terminal=", 9) == 0)
                        *terminal = line[9] == '1';
        }
        struct stat st;
        if (p && stat(p, &st) == 0)
                *started = (long long)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

static int visit_processes(const nook_session *s, nook_process_visit_fn fn, void *userdata) {
        _cleanup_free_ char *pdir = NULL;
        if (asprintf(&pdir, "%s/p", s->dir) < 0)
                return -ENOMEM;
        _cleanup_(closedirp) DIR *d = opendir(pdir);
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
                        .state = rec.present                       ? "exited"
                                 : nook_process_lost(s, e->d_name) ? "lost"
                                                                   : "running",
                        .exit_code = rec.exit_code,
                        .terminal = terminal,
                        .started_ms = started,
                        .finished_ms = rec.finished_ms,
                };
                int r = fn(&i, userdata);
                if (r)
                        return r;
        }
        return 0;
}

int nook_userns_processes(void *state, nook_call_ctx *ctx, const char *environment_id, nook_process_visit_fn fn,
                          void *userdata, nook_error **err) {
        _cleanup_(closedirp) DIR *d = opendir(ctx->config->run_dir);
        if (!d)
                return errno == ENOENT ? 0 : nook_error_sys(err, errno, "listing the run dir");
        struct dirent *e;
        while ((e = readdir(d))) {
                if (strncmp(e->d_name, "s-", 2) != 0)
                        continue;
                _cleanup_(nook_session_freep) nook_session *s = NULL;
                if (nook_session_load(ctx->config->run_dir, e->d_name, &s, NULL) < 0)
                        continue;
                if (environment_id && strcmp(environment_id, s->environment_id) != 0)
                        continue;
                int r = visit_processes(s, fn, userdata);
                if (r)
                        return r;
        }
        return 0;
}

int nook_userns_process_log(void *state, nook_call_ctx *ctx, const char *ref, int stream, int *ret_fd,
                            nook_error **err) {
        _cleanup_(nook_session_freep) nook_session *s = NULL;
        int r = nook_process_session(ctx->config, ref, &s, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *p = NULL;
        if (asprintf(&p, "%s/p/%s/%s", s->dir, ref, stream == 2 ? "err" : "out") < 0)
                return nook_error_oom(err);
        /* the monitor creates the logs right after it starts: wait for them briefly */
        for (int i = 0; i < 100; i++) {
                int fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                if (fd >= 0) {
                        *ret_fd = fd;
                        return 0;
                }
                if (errno != ENOENT)
                        break;
                usleep(10000);
        }
        return nook_error_sys(err, errno, "opening the capture log");
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
