/* nook userns — prepare_session: the session dir and its control socket in the run dir
 * (session.c: 0700, verified), then nook-holder cloned into new user, mount, pid, ipc,
 * uts, cgroup (and net) namespaces (clone3(2), user_namespaces(7)) with its id maps
 * written from outside, and the session record every later stage reads. */
#include <errno.h>
#include <fcntl.h>
#include <keyutils.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "userns/idmap.h"
#include "userns/mounts.h"
#include "userns/network.h"
#include "userns/proof.h"
#include "userns/session.h"
#include "userns/stages.h"
#include "util/clock.h"
#include "util/fault.h"
#include "util/fs.h"
#include "util/proc.h"
#include "util/rmrf.h"
#include "util/trace.h"

typedef struct holder_launch {
        int helper_fd;   /* nook-holder, opened once (proof.c) */
        const char *dir; /* the session dir's path, for the holder's argv */
        int ctl_fd, dir_fd;
        int identity;
        bool own_netns;
        uid_t uid;
        gid_t gid;
        pid_t pid;
        int ready_fd;
        int go_fd; /* the holder reads its go byte once its id maps are written */
        uint32_t subid_count;
        nook_idmap_job maps;
} holder_launch;

/* keep-id: the holder runs as the caller's uid inside, which would lose every
 * capability at execve(2); ambient capabilities carry them over (capabilities(7)). */
static void raise_ambient(void) {
        struct __user_cap_header_struct {
                uint32_t version;
                int pid;
        } h = { 0x20080522, 0 };
        struct {
                uint32_t effective, permitted, inheritable;
        } d[2];
        if (syscall(SYS_capget, &h, d) < 0)
                return;
        d[0].inheritable = d[0].permitted;
        d[1].inheritable = d[1].permitted;
        if (syscall(SYS_capset, &h, d) < 0)
                return;
        for (int c = 0; c < 64; c++)
                if (c < 32 ? (d[0].permitted & (1u << c)) : (d[1].permitted & (1u << (c - 32))))
                        (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0);
}

static _Noreturn void holder_child(const holder_launch *l, int go_fd, char *const argv[]) {
        char b;
        /* Wait until the parent has written our id maps. */
        if (read(go_fd, &b, 1) != 1)
                _exit(125);
        if (l->identity == NOOK_IDENTITY_KEEP_ID)
                raise_ambient();
        /* A session keyring of its own (anonymous, empty) for the holder and so for every
         * process of the session, as runc and crun give each container: the caller's may
         * link the user keyring (a login's does: pam_keyinit), and a workload possessing
         * it could read the named secrets of `nook secret` wherever its seccomp profile
         * lets it call keyctl (--security-opt seccomp=unconfined).  keyctl refused or
         * missing here is refused or missing for the workloads too (seccomp filters are
         * inherited); any other failure (the uid's key quota full) stops the session. */
        if (keyctl_join_session_keyring(NULL) < 0 && errno != ENOSYS && errno != EPERM && errno != EACCES)
                _exit(124);
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        /* the program above 5 first, so that placing 3-5 cannot clobber it; then at 6, the
         * one fd kept past close_range, closed by the execveat itself (O_CLOEXEC) */
        int exe = fcntl(l->helper_fd, F_DUPFD_CLOEXEC, 64);
        if (devnull < 0 || exe < 0 || dup3(l->ctl_fd, 3, 0) < 0 || dup3(l->dir_fd, 4, 0) < 0 ||
            dup3(l->ready_fd, 5, 0) < 0 || dup3(devnull, 0, 0) < 0 || dup3(devnull, 1, 0) < 0 ||
            dup3(devnull, 2, 0) < 0 || dup3(exe, 6, O_CLOEXEC) < 0)
                _exit(125);
        syscall(SYS_close_range, 7, ~0U, 0);
        char *envp[] = { NULL };
        syscall(SYS_execveat, 6, "", argv, envp, AT_EMPTY_PATH);
        _exit(127);
}

static pid_t clone_namespaces(bool own_netns) {
        uint64_t flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP |
                         (own_netns ? CLONE_NEWNET : 0);
        struct clone_args a = { .flags = flags, .exit_signal = SIGCHLD };
        pid_t pid = (pid_t)syscall(SYS_clone3, &a, sizeof(a));
        if (pid < 0 && errno == ENOSYS) /* before 5.3: clone(2) with no stack acts like fork(2) */
                pid = (pid_t)syscall(SYS_clone, (unsigned long)flags | SIGCHLD, 0, 0, 0, 0);
        return pid;
}

static int launch_holder(holder_launch *l, nook_error **err) {
        char peer[16], net[2] = { l->own_netns ? '1' : '0', 0 }, id[48];
        snprintf(peer, sizeof(peer), "%u", l->identity == NOOK_IDENTITY_KEEP_ID ? (unsigned)l->uid : 0u);
        /* the session it holds, by path and inode, in its cmdline: what clients read to
         * prove a holder is this session's (S32; /proc/<pid>/fd is closed to us under
         * keep-id, where the holder's user namespace maps no root to own it) */
        struct stat st;
        if (fstat(l->dir_fd, &st) < 0)
                return nook_error_sys(err, errno, "checking the session dir");
        nook_holder_dir_id(&st, id);
        char *argv[] = { (char *)"nook-holder", peer, net, (char *)l->dir, id, NULL };
        int go[2], ready[2];
        if (pipe2(go, O_CLOEXEC) < 0)
                return nook_error_sys(err, errno, "creating a pipe");
        if (pipe2(ready, O_CLOEXEC) < 0) {
                close(go[0]);
                close(go[1]);
                return nook_error_sys(err, errno, "creating a pipe");
        }
        l->ready_fd = ready[1];
        nook_trace("clone");
        pid_t pid = clone_namespaces(l->own_netns);
        if (pid == 0) {
                close(go[1]);
                holder_child(l, go[0], argv);
        }
        int e = errno;
        close(go[0]);
        close(ready[1]);
        if (pid < 0) {
                close(go[1]);
                close(ready[0]);
                nook_error_sys(err, e, "creating the session's namespaces");
                if (e == EPERM && nook_proc_self_seccomp_filtered())
                        return nook_error_set_hint(err, NOOK_HINT_OUTER_SECCOMP), -e;
                return nook_error_set_hint(err, "run 'nook caps' to see whether user namespaces work here"), -e;
        }
        l->pid = pid;
        l->ready_fd = ready[0];
        l->go_fd = go[1];
        return nook_idmap_start(pid, l->identity, l->uid, l->gid, &l->maps, &l->subid_count, err);
}

/* After launch_holder (r its result): waits for the id maps, then lets the holder go on
 * (or, when something failed, closes its go pipe unwritten: it exits). */
static int release_holder(holder_launch *l, int r, nook_error **err) {
        int q = nook_idmap_finish(&l->maps, r < 0 ? NULL : err);
        nook_trace("idmaps written");
        if (r >= 0 && q >= 0 && write(l->go_fd, "g", 1) != 1)
                q = nook_error_sys(err, errno, "starting the holder");
        if (l->go_fd >= 0)
                close(l->go_fd);
        l->go_fd = -1;
        return r < 0 ? r : q;
}

/* The holder says 'R' once it is set up; EOF first means it died: its exit code says why. */
static int await_ready(holder_launch *l, nook_error **err) {
        struct pollfd p = { .fd = l->ready_fd, .events = POLLIN };
        int n = poll(&p, 1, 10000);
        char c = 0;
        if (n > 0 && read(l->ready_fd, &c, 1) == 1 && c == 'R')
                return 0;
        int status = 0;
        if (n == 0)
                kill(l->pid, SIGKILL);
        waitpid(l->pid, &status, 0);
        l->pid = 0;
        if (n == 0)
                return nook_error_set(err, NOOK_ERROR_CHILD_LIFECYCLE_FAILURE, NOOK_RETRY_RETRYABLE, ETIMEDOUT,
                                      "prepare_session: the holder did not start within 10 s");
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return nook_error_set(err, NOOK_ERROR_CHILD_LIFECYCLE_FAILURE, NOOK_RETRY_NOT_RETRYABLE, EIO,
                              "prepare_session: the holder exited during setup (status %d%s)", code,
                              code == 126   ? ": it refuses to run setuid or with host privileges"
                              : code == 124 ? ": it could not get a session keyring of its own (is the "
                                              "uid's key quota full? nook secret ls)"
                                            : "");
}

static int make_session_dir(int runfd, const char *ref, int *ret_dirfd, int *ret_ctl, nook_error **err) {
        if (mkdirat(runfd, ref, 0700) < 0)
                return errno == EEXIST ? -EEXIST : nook_error_sys(err, errno, "creating the session dir");
        _cleanup_close_ int dfd = openat(runfd, ref, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0 || mkdirat(dfd, "mnt", 0700) < 0 || mkdirat(dfd, "p", 0700) < 0)
                return nook_error_sys(err, errno, "creating the session dir");
        _cleanup_close_ int ctl = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/ctl.sock", dfd);
        if (ctl < 0 || bind(ctl, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ctl, 64) < 0)
                return nook_error_sys(err, errno, "creating the session's control socket");
        *ret_dirfd = TAKE_FD(dfd);
        *ret_ctl = TAKE_FD(ctl);
        return 0;
}

/* Another client is creating this very session: wait for its record. */
static int await_other(const nook_adapter_config *c, const char *env, nook_session **ret, nook_error **err) {
        for (int i = 0; i < 200; i++) {
                int r = nook_session_find(c, env, ret, err);
                if (r != -ENOENT)
                        return r;
                usleep(50 * 1000);
        }
        return nook_error_set(err, NOOK_ERROR_INVALID_STATE_TRANSITION, NOOK_RETRY_REPAIR_NEEDED, EEXIST,
                              "prepare_session: a session dir for this environment exists without a record (a "
                              "crashed client?); run cleanup for the environment or 'nook gc'");
}

static void undo(const nook_call_ctx *ctx, int runfd, const char *ref, pid_t holder, int64_t res_id) {
        if (holder > 0) {
                kill(holder, SIGKILL);
                waitpid(holder, NULL, 0);
        }
        if (runfd >= 0)
                (void)nook_rm_rf_at(runfd, ref);
        if (ctx->journal && res_id > 0)
                (void)nook_journal_resource_release(ctx->journal, res_id, NULL);
}

static int existing(const nook_session *s, nook_ref_result *ret, nook_error **err) {
        if (!nook_session_alive(s))
                return nook_error_set(err, NOOK_ERROR_RECOVERY_REPAIR_NEEDED, NOOK_RETRY_REPAIR_NEEDED, EOWNERDEAD,
                                      "prepare_session: this environment's session lost its holder (killed?); "
                                      "run cleanup for it, or 'nook gc', then prepare it again");
        ret->ref = strdup(s->ref);
        return ret->ref ? 0 : nook_error_oom(err);
}

static nook_session *new_record(const nook_adapter_config *c, const nook_env_req *req, const char *ref,
                                const holder_launch *l) {
        nook_session *s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        snprintf(s->ref, sizeof(s->ref), "%s", ref);
        s->dir_fd = fcntl(l->dir_fd, F_DUPFD_CLOEXEC, 3);
        s->run_dir = strdup(c->run_dir);
        if (asprintf(&s->dir, "%s/%s", c->run_dir, ref) < 0)
                s->dir = NULL;
        s->environment_id = strdup(req->environment.environment_id);
        s->name = req->nook.name ? strdup(req->nook.name) : NULL;
        s->hostname = strdup(req->nook.hostname ? req->nook.hostname : "nook");
        s->identity = l->identity;
        s->uid = l->uid;
        s->gid = l->gid;
        s->inner_uid = l->identity == NOOK_IDENTITY_KEEP_ID ? l->uid : 0;
        s->inner_gid = l->identity == NOOK_IDENTITY_KEEP_ID ? l->gid : 0;
        s->subid_count = l->subid_count;
        s->own_netns = l->own_netns;
        s->holder_pid = l->pid;
        (void)nook_proc_start_time(l->pid, &s->holder_start);
        if (req->nook.owned_by_caller) {
                s->owner_pid = getpid();
                (void)nook_proc_start_time(s->owner_pid, &s->owner_start);
        }
        s->created_ms = nook_wall_ms();
        nook_strbuf lb = NOOK_STRBUF_INIT;
        for (size_t i = 0; i < req->nook.labels.n; i++) /* checked by the codec: no control character */
                nook_strbuf_printf(&lb, "%s%s", i ? "\x1f" : "", ((char *const *)req->nook.labels.items)[i]);
        s->labels = req->nook.labels.n ? nook_strbuf_steal(&lb) : NULL;
        if (req->nook.labels.n && !s->labels)
                return nook_session_free(s);
        if (s->dir_fd < 0 || !s->run_dir || !s->dir || !s->environment_id || !s->hostname)
                return nook_session_free(s);
        return s;
}

int nook_userns_prepare_session(void *state, nook_call_ctx *ctx, const nook_env_req *req, nook_ref_result *ret,
                                nook_error **err) {
        const nook_adapter_config *c = ctx->config;
        const char *env = req->environment.environment_id;
        _cleanup_(nook_session_freep) nook_session *s = NULL;
        int r = nook_session_find(c, env, &s, err);
        if (r == 0)
                return existing(s, ret, err);
        if (r != -ENOENT)
                return r;
        /* Bad mounts are refused before any namespace work starts. */
        nook_mount_list plan;
        if ((r = nook_mounts_plan(c, &req->environment, &plan, err)) < 0)
                return nook_error_prefix(err, r, "prepare_session");
        nook_mount_list_clear(&plan);
        int netmode;
        if ((r = nook_net_mode(req, &netmode, err)) < 0)
                return nook_error_prefix(err, r, "prepare_session");
        holder_launch l = { .uid = getuid(),
                            .gid = getgid(),
                            .own_netns = netmode != NOOK_NETMODE_HOST,
                            .helper_fd = -1,
                            .ctl_fd = -1,
                            .dir_fd = -1,
                            .ready_fd = -1,
                            .go_fd = -1,
                            .maps = NOOK_IDMAP_JOB_INIT };
        if ((r = nook_identity_resolve(req->nook.identity, l.uid, &l.identity, err)) < 0)
                return nook_error_prefix(err, r, "prepare_session");
        _cleanup_close_ int helper = nook_helper_open("nook-holder", err);
        if (helper < 0)
                return nook_error_prefix(err, helper, "prepare_session");
        l.helper_fd = helper;
        _cleanup_close_ int runfd = nook_rundir_open(c, true, err);
        if (runfd < 0)
                return nook_error_prefix(err, runfd, "prepare_session");
        char ref[NOOK_SESSION_REF_LEN];
        nook_session_ref_for(env, ref);
        _cleanup_free_ char *dir = NULL;
        if (asprintf(&dir, "%s/%s", c->run_dir, ref) < 0)
                return nook_error_oom(err);
        l.dir = dir;
        /* Recorded before it exists: a crash from here on leaves a row that gc follows. */
        int64_t res_id = 0;
        nook_resource res = { .environment_id = env, .kind = "session", .ref = ref };
        if (ctx->journal && (r = nook_journal_resource_add(ctx->journal, &res, &res_id, err)) < 0)
                return nook_error_prefix(err, r, "prepare_session");
        r = make_session_dir(runfd, ref, &l.dir_fd, &l.ctl_fd, err);
        if (r == -EEXIST) {
                if (ctx->journal)
                        (void)nook_journal_resource_release(ctx->journal, res_id, NULL);
                r = await_other(c, env, &s, err);
                return r < 0 ? r : existing(s, ret, err);
        }
        if (r >= 0 && (r = nook_fault("session.before_holder")) < 0)
                nook_error_sys(err, -r, "injected fault");
        if (r >= 0)
                r = launch_holder(&l, err);
        if (l.ctl_fd >= 0)
                close(l.ctl_fd);
        /* the holder's pid is journaled while newuidmap and newgidmap run */
        uint64_t start = 0;
        if (l.pid > 0 && ctx->journal && nook_proc_start_time(l.pid, &start) == 0)
                (void)nook_journal_resource_set_pid(ctx->journal, res_id, l.pid, start, NULL);
        if (l.pid > 0)
                r = release_holder(&l, r, err);
        if (r >= 0 && (r = nook_fault("session.after_holder")) < 0)
                nook_error_sys(err, -r, "injected fault");
        if (r >= 0)
                r = await_ready(&l, err);
        nook_trace("holder ready");
        if (r >= 0 && !(s = new_record(c, req, ref, &l)))
                r = nook_error_oom(err);
        /* a downgrade the fallback accepted stays with the session (session inspect) */
        if (r >= 0 && ctx->downgrade && !(s->notes = strdup(ctx->downgrade)))
                r = nook_error_oom(err);
        if (r >= 0)
                r = nook_net_record(s, req, netmode, err);
        if (r >= 0)
                r = nook_session_save(s, err);
        if (l.ready_fd >= 0)
                close(l.ready_fd);
        if (l.dir_fd >= 0)
                close(l.dir_fd);
        if (r < 0) {
                undo(ctx, runfd, ref, l.pid, res_id);
                return nook_error_prefix(err, r, "prepare_session");
        }
        ret->ref = strdup(ref);
        return ret->ref ? 0 : nook_error_oom(err);
}
