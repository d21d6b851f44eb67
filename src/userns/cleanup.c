/* nook userns — cleanup and gc: the holder is killed through a pidfd after its start
 * time is checked (a recycled pid is never signalled), which ends every process of
 * the session and its namespaces and mounts with it (pid_namespaces(7)); then the
 * session dir goes, removed below fds without following links (S24); journal rows of
 * its resources are released.  What cannot be removed makes the status repair_needed,
 * with specifics. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "userns/cleanup.h"
#include "userns/idmap.h"
#include "userns/image.h"
#include "userns/limits.h"
#include "userns/network.h"
#include "userns/proof.h"
#include "userns/session.h"
#include "userns/stages.h"
#include "util/clock.h"
#include "util/proc.h"
#include "util/rmrf.h"
#include "util/strbuf.h"
#include "util/trace.h"

/* 0: gone (or never ours); -errno: still there.  S32: only a process proven to be
 * this user's holder (of the session dir dir_fd, when known) is signalled, through the
 * pidfd that pinned it while it was checked; a record naming any other pid signals
 * nothing. */
static int stop_process(pid_t pid, uint64_t start, int dir_fd) {
        _cleanup_close_ int pfd = -1;
        int r = nook_holder_pin(pid, start, dir_fd, &pfd);
        if (r < 0)
                return r == -ESRCH || r == -EPERM ? 0 : r;
        if (syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
                return -errno;
        struct pollfd p = { .fd = pfd, .events = POLLIN };
        r = poll(&p, 1, 5000);
        (void)waitpid(pid, NULL, WNOHANG); /* ours when this process made the session */
        return r > 0 ? 0 : -ETIMEDOUT;
}

int nook_resource_copy_pid(const nook_resource *r, void *userdata) {
        nook_resource *out = userdata;
        if (strcmp(r->kind, "session") == 0 && r->pid > 0) {
                out->pid = r->pid;
                out->pid_start = r->pid_start;
        }
        return 0;
}

typedef struct release_ctx {
        nook_journal *j;
        const char *ref; /* only resources with this ref, or all of the environment */
} release_ctx;

static int release_one(const nook_resource *res, void *userdata) {
        release_ctx *c = userdata;
        if (!c->ref || strcmp(res->ref, c->ref) == 0)
                (void)nook_journal_resource_release(c->j, res->id, NULL);
        return 0;
}

/* The record goes last (S35): a removal that stops short (a mount inside, an error on
 * the way) leaves the session dir with its state file and a "repair" note saying where
 * it stopped, so that the session stays listed as repair_needed and `nook gc` tries
 * again; nothing of it is forgotten.  The walk itself is iterative and bounded in fds
 * and stack (util/rmrf.c): a workload's deep tree does not defeat it. */
static int remove_session_dir(int runfd, const char *ref, nook_rmrf_report *rep, char *where, size_t size) {
        *rep = (nook_rmrf_report){ 0 };
        snprintf(where, size, "%s", ref);
        int fd = openat(runfd, ref, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : nook_rm_rf_report_at(runfd, ref, rep);
        _cleanup_closedir_ DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return nook_rm_rf_report_at(runfd, ref, rep);
        }
        struct dirent *e;
        while ((e = readdir(d)))
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "state") &&
                    strcmp(e->d_name, "repair")) {
                        int r = nook_rm_rf_report_at(dirfd(d), e->d_name, rep);
                        if (r < 0) {
                                snprintf(where, size, "%s/%.200s", ref, e->d_name);
                                return r;
                        }
                }
        (void)unlinkat(dirfd(d), "repair", 0);
        (void)unlinkat(dirfd(d), "state", 0);
        return nook_rm_rf_report_at(runfd, ref, rep);
}

/* Files a workload chowned to subordinate ids (kernel overlayfs under the subuid
 * identity writes them into the upper dir as they are) are removable only where those
 * ids are mapped: a child enters a new user namespace, newuidmap maps it as the
 * session's was, and the child removes the tree there (user_namespaces(7)); its report
 * comes back over a pipe. */
static int rm_rf_mapped(int parent, const char *ref, nook_rmrf_report *rep, char *where, size_t size) {
        nook_trace("rm_rf_mapped");
        int sync[2], back[2];
        if (pipe2(sync, O_CLOEXEC) < 0)
                return -errno;
        if (pipe2(back, O_CLOEXEC) < 0) {
                close(sync[0]);
                close(sync[1]);
                return -errno;
        }
        pid_t pid = fork();
        if (pid < 0) {
                close(sync[0]);
                close(sync[1]);
                close(back[0]);
                close(back[1]);
                return -errno;
        }
        if (pid == 0) {
                char c;
                close(sync[1]);
                close(back[0]);
                if (unshare(CLONE_NEWUSER) < 0 || read(sync[0], &c, 1) != 1 || setresgid(0, 0, 0) < 0 ||
                    setresuid(0, 0, 0) < 0)
                        _exit(1);
                int q = remove_session_dir(parent, ref, rep, where, size);
                if (write(back[1], rep, sizeof(*rep)) != (ssize_t)sizeof(*rep) ||
                    write(back[1], where, size) != (ssize_t)size)
                        _exit(3);
                _exit(q < 0 ? 2 : 0);
        }
        close(sync[0]);
        close(back[1]);
        uint32_t count;
        nook_error *e = NULL;
        /* the child must have unshared before its map is written: give it the moment */
        int r = -EAGAIN;
        for (int i = 0; i < 200 && r < 0; i++) {
                char path[64], self[64], child[64];
                snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
                ssize_t a = readlink("/proc/self/ns/user", self, sizeof(self) - 1);
                ssize_t b = readlink(path, child, sizeof(child) - 1);
                if (a > 0 && b > 0 && (a != b || memcmp(self, child, (size_t)a) != 0))
                        r = nook_idmap_write(pid, NOOK_IDENTITY_SUBUID, getuid(), getgid(), &count, &e);
                else
                        usleep(1000);
        }
        nook_error_free(e);
        if (r == 0 && write(sync[1], "m", 1) != 1)
                r = -EPIPE;
        close(sync[1]);
        nook_rmrf_report got;
        char at[256];
        bool reported = read(back[0], &got, sizeof(got)) == (ssize_t)sizeof(got) && size <= sizeof(at) &&
                        read(back[0], at, size) == (ssize_t)size;
        close(back[0]);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (r < 0)
                return r;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (reported && got.error < 0) {
                *rep = got;
                at[size - 1] = 0;
                snprintf(where, size, "%s", at);
                return got.error;
        }
        return -EACCES;
}

/* Notes in the session dir why its removal stopped: `session ls` shows repair_needed. */
static void note_repair(int runfd, const char *ref, const char *why) {
        _cleanup_close_ int dfd = openat(runfd, ref, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (dfd < 0 || fstatat(dfd, "state", &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                return; /* no record: the journal's held row keeps it for gc */
        _cleanup_close_ int fd = openat(dfd, "repair", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0)
                (void)!write(fd, why, strlen(why));
}

static int stop_net_helper(const nook_resource *res, void *userdata) {
        nook_strbuf *left = userdata;
        if (res->pid <= 0 || (strcmp(res->kind, "slirp4netns") != 0 && strcmp(res->kind, "nook-netd") != 0 &&
                              strcmp(res->kind, "nook-portfwd") != 0))
                return 0;
        /* the holder is gone and the namespace with it: nothing of the helper's is worth
         * waiting for (slirp4netns noticed its exit fd only ~25 ms later), so at once */
        int r = nook_net_helper_stop(res->pid, res->pid_start, res->kind);
        if (r < 0)
                nook_strbuf_printf(left, "%s%s (pid %d) did not end: %s", left->len ? "; " : "", res->kind,
                                   (int)res->pid, strerror(-r));
        return 0;
}

/* Ends one session; appends what is left to `left`. */
void nook_session_reclaim(const nook_adapter_config *c, nook_journal *j, const char *environment_id, const char *ref,
                          int dir_fd, pid_t pid, uint64_t start, nook_strbuf *left) {
        nook_trace("holder kill");
        int r = stop_process(pid, start, dir_fd);
        nook_trace("holder gone");
        if (r < 0)
                nook_strbuf_printf(left, "%sthe holder (pid %d) did not die: %s", left->len ? "; " : "", (int)pid,
                                   strerror(-r));
        /* slirp4netns and nook-netd end with the holder (their exit fd): make sure */
        if (r >= 0 && j)
                (void)nook_journal_resources_held(j, environment_id, stop_net_helper, left, NULL);
        /* the session dir goes below the checked run dir fd (S32), never by path */
        _cleanup_close_ int runfd = nook_rundir_open(c, false, NULL);
        if (r >= 0 && runfd >= 0) { /* the session's cgroup, now empty */
                _cleanup_close_ int own =
                        dir_fd >= 0 ? -1 : openat(runfd, ref, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                nook_limits_release(dir_fd >= 0 ? dir_fd : own);
        }
        nook_trace("session dir rm");
        nook_rmrf_report rep = { 0 };
        char where[256] = "", why[768];
        int q = runfd >= 0 ? remove_session_dir(runfd, ref, &rep, where, sizeof(where)) : runfd == -ENOENT ? 0 : runfd;
        if ((q == -EACCES || q == -EPERM) && runfd >= 0) {
                nook_rmrf_report mapped = { 0 };
                char at[sizeof(where)];
                int m = rm_rf_mapped(runfd, ref, &mapped, at, sizeof(at));
                if (m == 0 || mapped.error < 0) {
                        q = m;
                        rep = mapped;
                        memcpy(where, at, sizeof(where));
                }
        }
        if (q < 0) {
                if (runfd < 0)
                        snprintf(why, sizeof(why), "the run dir is refused (not private to this user)");
                else if (rep.error < 0) {
                        nook_rmrf_report_format(&rep, why, sizeof(why) / 2);
                        snprintf(why + strlen(why), sizeof(why) - strlen(why), " (in %s)", where);
                } else
                        snprintf(why, sizeof(why), "%s", strerror(-q));
                nook_strbuf_printf(left, "%sthe session dir %s could not be removed: %s", left->len ? "; " : "", ref,
                                   why);
                if (runfd >= 0)
                        note_repair(runfd, ref, why);
        }
        nook_trace("session dir gone");
        if (j && r >= 0 && q >= 0) {
                release_ctx rc = { .j = j };
                (void)nook_journal_resources_held(j, environment_id, release_one, &rc, NULL);
                /* the environment may be prepared again, and its interrupted calls are settled */
                (void)nook_journal_reconcile_environment(j, environment_id, NULL);
                (void)nook_journal_retire_environment(j, environment_id, NULL);
        }
}

int nook_userns_cleanup(void *state, nook_call_ctx *ctx, const nook_cleanup_req *req, nook_cleanup_result *ret,
                        nook_error **err) {
        const char *env = req->environment.environment_id;
        _cleanup_(nook_session_freep) nook_session *s = NULL;
        int r = nook_session_find(ctx->config, env, &s, err);
        if (r < 0 && r != -ENOENT)
                return r;
        char ref[NOOK_SESSION_REF_LEN];
        nook_session_ref_for(env, ref);
        nook_strbuf left = NOOK_STRBUF_INIT;
        /* Without a record (a client killed mid-way) the journal still knows the holder. */
        pid_t pid = s ? s->holder_pid : 0;
        uint64_t start = s ? s->holder_start : 0;
        if (!s && ctx->journal) {
                nook_resource found = { 0 };
                (void)nook_journal_resources_held(ctx->journal, env, nook_resource_copy_pid, &found, NULL);
                pid = found.pid;
                start = found.pid_start;
        }
        nook_session_reclaim(ctx->config, ctx->journal, env, ref, s ? s->dir_fd : -1, pid, start, &left);
        /* a kept writable layer stays; overlayfs leaves work/work at mode 0, which would
         * stop the user's own rm -rf of the data dir */
        if (s && s->keep_upper && s->upper) {
                _cleanup_close_ int up = open(s->upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                _cleanup_close_ int work =
                        up < 0 ? -1 : openat(up, "work", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                _cleanup_close_ int ww =
                        work < 0 ? -1 : openat(work, "work", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                char p[32];
                snprintf(p, sizeof(p), "/proc/self/fd/%d", ww);
                if (ww >= 0)
                        (void)chmod(p, 0700);
                if (up >= 0) /* free for the next session */
                        (void)unlinkat(up, "session", 0);
        }
        _cleanup_free_ char *what = nook_strbuf_steal(&left);
        ret->cleanup_plan_ref = strdup(req->cleanup_plan_ref);
        ret->status = what && *what ? NOOK_CLEANUP_REPAIR_NEEDED : NOOK_CLEANUP_COMPLETED;
        ret->redacted_summary = strdup(what && *what ? what
                                       : s || pid    ? "session removed: holder, processes, mounts and run dir"
                                                     : "nothing to clean");
        return ret->cleanup_plan_ref && ret->redacted_summary ? 0 : nook_error_oom(err);
}

static bool owner_gone(const nook_session *s) {
        return s->owner_pid > 0 && !s->detached && !nook_proc_alive(s->owner_pid, s->owner_start);
}

typedef struct gc_ctx {
        const nook_adapter_config *c;
        nook_journal *j;
        int runfd; /* the checked run dir, or -1 when there is none yet */
        unsigned reclaimed;
        unsigned stuck; /* sessions left repair_needed: tried again by the next gc */
        nook_strbuf *left;
} gc_ctx;

/* One session; what it left goes to g->left and it counts as stuck (the others go on). */
static bool gc_reclaim(gc_ctx *g, const char *env, const char *ref, int dir_fd, pid_t pid, uint64_t start) {
        size_t before = g->left->len;
        nook_session_reclaim(g->c, g->j, env, ref, dir_fd, pid, start, g->left);
        bool done = g->left->len == before;
        if (done)
                g->reclaimed++;
        else
                g->stuck++;
        return done;
}

/* A held "session" row whose dir is gone, or whose dir has no record: the client that
 * made it died mid-way.  S32: unless its holder, proven, serves a complete record of
 * its own: a live session of another run dir (another XDG_RUNTIME_DIR, same data dir),
 * whose liveness the holder tells, not what this run dir shows. */
/* A root prepare_rootfs checked without a session (rootfs.c unbound_root): once a
 * session adopted its named writable layer, the layer is that session's (kept by name);
 * a layer no session ever took is removed (it is empty: nothing ran on it). */
static void gc_unbound_rootfs(gc_ctx *g, const nook_resource *res) {
        /* a minute's grace: the session that names it may be on its way to adopt it */
        if (nook_wall_ms() - res->created_ms < 60000)
                return;
        const char *key = "\"writable_layer_ref\":\"";
        const char *at = res->detail ? strstr(res->detail, key) : NULL;
        char name[256] = "";
        if (at)
                sscanf(at + strlen(key), "%255[A-Za-z0-9._-]", name);
        if (name[0] && name[0] != '.') {
                _cleanup_free_ char *dir = NULL;
                _cleanup_close_ int uppers = -1;
                if (asprintf(&dir, "%s/uppers", g->c->data_dir) >= 0)
                        uppers = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                _cleanup_close_ int layer =
                        uppers >= 0 ? openat(uppers, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
                struct stat st;
                if (layer >= 0 && fstatat(layer, "session", &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT &&
                    nook_rm_rf_at(uppers, name) < 0)
                        return; /* kept held: the next gc tries again */
        }
        (void)nook_journal_resource_release(g->j, res->id, NULL);
}

static int gc_resource(const nook_resource *res, void *userdata) {
        gc_ctx *g = userdata;
        if (strcmp(res->kind, "rootfs") == 0 && !res->environment_id) {
                gc_unbound_rootfs(g, res);
                return 0;
        }
        if (strcmp(res->kind, "session") != 0)
                return 0;
        _cleanup_(nook_session_freep) nook_session *s = NULL;
        int r = g->runfd >= 0 ? nook_session_load_at(g->runfd, g->c->run_dir, res->ref, &s, NULL) : -ENOENT;
        if (r != -ENOENT)
                return 0; /* a record: judged by it (gc_dirs), or not ours to judge */
        if (nook_holder_serves(res->pid, res->pid_start, res->environment_id))
                return 0;
        /* the row stays held until its dir is gone: the next gc tries again */
        if (gc_reclaim(g, res->environment_id, res->ref, -1, res->pid, res->pid_start))
                (void)nook_journal_resource_release(g->j, res->id, NULL);
        return 0;
}

static void gc_dirs(gc_ctx *g) {
        int dfd = g->runfd >= 0 ? fcntl(g->runfd, F_DUPFD_CLOEXEC, 3) : -1;
        _cleanup_closedir_ DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (dfd >= 0 && !d)
                close(dfd);
        struct dirent *e;
        while (d && (e = readdir(d))) {
                _cleanup_(nook_session_freep) nook_session *s = NULL;
                if (nook_session_load_at(g->runfd, g->c->run_dir, e->d_name, &s, NULL) < 0)
                        continue; /* no record yet (being created, or left for gc_resource), or not ours */
                if (nook_session_alive(s) && !owner_gone(s))
                        continue;
                (void)gc_reclaim(g, s->environment_id, s->ref, s->dir_fd, s->holder_pid, s->holder_start);
        }
}

int nook_userns_gc(void *state, nook_call_ctx *ctx, unsigned *ret_reclaimed, char **ret_summary, nook_error **err) {
        _cleanup_close_ int runfd = nook_rundir_open(ctx->config, false, err);
        if (runfd < 0 && runfd != -ENOENT)
                return nook_error_prefix(err, runfd, "gc");
        nook_strbuf left = NOOK_STRBUF_INIT;
        gc_ctx g = { .c = ctx->config, .j = ctx->journal, .runfd = runfd, .left = &left };
        gc_dirs(&g);
        if (ctx->journal) {
                (void)nook_journal_reap_interrupted(ctx->journal, NULL, NULL);
                (void)nook_journal_resources_held(ctx->journal, NULL, gc_resource, &g, NULL);
        }
        /* imports killed mid-way leave staging dirs that nobody holds */
        unsigned imports = 0;
        nook_store store;
        if (nook_store_open(ctx->config->data_dir, false, &store, NULL) == 0) {
                imports = nook_store_sweep(&store);
                nook_store_close(&store);
        }
        _cleanup_free_ char *what = nook_strbuf_steal(&left);
        if (ret_reclaimed)
                *ret_reclaimed = g.reclaimed;
        if (ret_summary && asprintf(ret_summary, "%u session%s reclaimed%s%s%s", g.reclaimed,
                                    g.reclaimed == 1 ? "" : "s", imports ? ", abandoned imports removed" : "",
                                    what && *what ? "; left: " : "", what && *what ? what : "") < 0)
                return nook_error_oom(err);
        if (what && *what)
                return nook_error_set(err, NOOK_ERROR_RECOVERY_REPAIR_NEEDED, NOOK_RETRY_REPAIR_NEEDED, EBUSY,
                                      "gc: %u session%s reclaimed; %u left repair_needed (the next 'nook gc' tries "
                                      "again): %s",
                                      g.reclaimed, g.reclaimed == 1 ? "" : "s", g.stuck, what);
        return 0;
}
