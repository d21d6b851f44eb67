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

#include "userns/image.h"
#include "userns/limits.h"
#include "userns/session.h"
#include "userns/stages.h"
#include "util/proc.h"
#include "util/strbuf.h"

static void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

/* 0: gone (or never ours); -errno: still there. */
static int stop_process(pid_t pid, uint64_t start) {
        if (pid <= 0)
                return 0;
        _cleanup_close_ int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pfd < 0)
                return errno == ESRCH ? 0 : -errno;
        uint64_t now;
        /* the pidfd pins the process we checked: the start time tells it is the one we made */
        if (nook_proc_start_time(pid, &now) < 0 || (start && now != start))
                return 0;
        if (syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
                return -errno;
        struct pollfd p = { .fd = pfd, .events = POLLIN };
        int r = poll(&p, 1, 5000);
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

/* Files a workload chowned to subordinate ids (kernel overlayfs under the subuid
 * identity writes them into the upper dir as they are) are removable only where those
 * ids are mapped: a child enters a new user namespace, newuidmap maps it as the
 * session's was, and the child removes the tree there (user_namespaces(7)). */
static int rm_rf_mapped(int parent, const char *name) {
        int sync[2];
        if (pipe2(sync, O_CLOEXEC) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid < 0) {
                close(sync[0]);
                close(sync[1]);
                return -errno;
        }
        if (pid == 0) {
                char c;
                close(sync[1]);
                if (unshare(CLONE_NEWUSER) < 0 || read(sync[0], &c, 1) != 1 || setresgid(0, 0, 0) < 0 ||
                    setresuid(0, 0, 0) < 0)
                        _exit(1);
                _exit(nook_rm_rf_at(parent, name) < 0 ? 2 : 0);
        }
        close(sync[0]);
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
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        return r < 0 ? r : WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EACCES;
}

/* Ends one session; appends what is left to `left`. */
void nook_session_reclaim(const nook_adapter_config *c, nook_journal *j, const char *environment_id, const char *ref,
                          pid_t pid, uint64_t start, nook_strbuf *left) {
        int r = stop_process(pid, start);
        if (r < 0)
                nook_strbuf_printf(left, "%sthe holder (pid %d) did not die: %s", left->len ? "; " : "", (int)pid,
                                   strerror(-r));
        _cleanup_free_ char *dir = NULL;
        if (r >= 0 && asprintf(&dir, "%s/%s", c->run_dir, ref) >= 0)
                nook_limits_release(dir); /* the session's cgroup, now empty */
        _cleanup_close_ int runfd = open(c->run_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int q = runfd >= 0 ? nook_rm_rf_at(runfd, ref) : (errno == ENOENT ? 0 : -errno);
        if ((q == -EACCES || q == -EPERM) && runfd >= 0)
                q = rm_rf_mapped(runfd, ref) == 0 ? 0 : q;
        if (q < 0)
                nook_strbuf_printf(left, "%sthe session dir %s could not be removed: %s", left->len ? "; " : "", ref,
                                   strerror(-q));
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
        nook_session_reclaim(ctx->config, ctx->journal, env, ref, pid, start, &left);
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
        unsigned reclaimed;
        nook_strbuf *left;
} gc_ctx;

/* A held "session" row whose dir is gone, or whose dir has no record: the client that
 * made it died mid-way. */
static int gc_resource(const nook_resource *res, void *userdata) {
        gc_ctx *g = userdata;
        if (strcmp(res->kind, "session") != 0)
                return 0;
        _cleanup_(nook_session_freep) nook_session *s = NULL;
        if (nook_session_load(g->c->run_dir, res->ref, &s, NULL) == 0)
                return 0; /* a complete session: judged by its record */
        nook_session_reclaim(g->c, g->j, res->environment_id, res->ref, res->pid, res->pid_start, g->left);
        (void)nook_journal_resource_release(g->j, res->id, NULL);
        g->reclaimed++;
        return 0;
}

static void gc_dirs(gc_ctx *g) {
        _cleanup_(closedirp) DIR *d = opendir(g->c->run_dir);
        struct dirent *e;
        while (d && (e = readdir(d))) {
                if (strncmp(e->d_name, "s-", 2) != 0 || strlen(e->d_name) != NOOK_SESSION_REF_LEN - 1)
                        continue;
                _cleanup_(nook_session_freep) nook_session *s = NULL;
                if (nook_session_load(g->c->run_dir, e->d_name, &s, NULL) < 0)
                        continue; /* no record yet: being created, or left for gc_resource */
                if (nook_session_alive(s) && !owner_gone(s))
                        continue;
                nook_session_reclaim(g->c, g->j, s->environment_id, s->ref, s->holder_pid, s->holder_start, g->left);
                g->reclaimed++;
        }
}

int nook_userns_gc(void *state, nook_call_ctx *ctx, unsigned *ret_reclaimed, char **ret_summary, nook_error **err) {
        nook_strbuf left = NOOK_STRBUF_INIT;
        gc_ctx g = { .c = ctx->config, .j = ctx->journal, .left = &left };
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
                                      "gc: could not remove everything: %s", what);
        return 0;
}
