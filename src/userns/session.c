/* nook userns — prepare_session: the run dir (0700, verified), the session dir and its
 * control socket, then nook-holder cloned into new user, mount, pid, ipc, uts, cgroup
 * (and net) namespaces (clone3(2), user_namespaces(7)) with its id maps written from
 * outside; plus the session record every later stage reads. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "userns/session.h"
#include "userns/stages.h"
#include "util/fault.h"
#include "util/proc.h"
#include "util/sha256.h"
#include "util/strbuf.h"

int64_t nook_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *nook_random_hex(size_t nbytes) {
        unsigned char b[32];
        if (nbytes > sizeof(b) || getrandom(b, nbytes, 0) != (ssize_t)nbytes)
                return NULL;
        char *s = malloc(nbytes * 2 + 1);
        for (size_t i = 0; s && i < nbytes; i++)
                snprintf(s + 2 * i, 3, "%02x", b[i]);
        return s;
}

int nook_rundir_open(const char *run_dir, nook_error **err) {
        if (mkdir(run_dir, 0700) < 0 && errno != EEXIST) {
                /* $XDG_RUNTIME_DIR/nook: the parent exists; /tmp/nook-<uid>: /tmp exists */
                int e = errno;
                nook_error_sys(err, e, "creating the run dir");
                return nook_error_set_hint(err, "cannot create %s; set XDG_RUNTIME_DIR to a directory of yours",
                                           run_dir),
                       -e;
        }
        int fd = open(run_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
                int e = errno;
                if (fd >= 0)
                        close(fd);
                nook_error_sys(err, e, "opening the run dir (a symlink there is refused)");
                nook_error_set_hint(err, "%s must be a directory of yours, mode 0700, not a symlink", run_dir);
                return -e;
        }
        /* S25 (CVE-2021-41091): a /tmp/nook-<uid> made by someone else, or opened to
         * others, would let them reach our sessions. */
        if (st.st_uid != getuid() || (st.st_mode & 077)) {
                close(fd);
                nook_error_set(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, NOOK_RETRY_USER_ACTION_NEEDED, EPERM,
                               "the run dir is not private to this user (owner %u, mode %04o): refused",
                               (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
                nook_error_set_hint(err, "%s must be owned by you with mode 0700; remove it or set XDG_RUNTIME_DIR",
                                    run_dir);
                return -EPERM;
        }
        return fd;
}

void nook_session_ref_for(const char *environment_id, char ret[NOOK_SESSION_REF_LEN]) {
        char d[NOOK_DIGEST_LEN + 1];
        _cleanup_free_ char *seed = NULL;
        if (asprintf(&seed, "nook-session\n%u\n%s", (unsigned)getuid(), environment_id) < 0 ||
            nook_sha256_digest(seed, strlen(seed), d) < 0)
                memset(d, '0', sizeof(d) - 1);
        snprintf(ret, NOOK_SESSION_REF_LEN, "s-%.24s", d + 7);
}

nook_session *nook_session_free(nook_session *s) {
        if (!s)
                return NULL;
        free(s->run_dir);
        free(s->dir);
        free(s->environment_id);
        free(s->name);
        free(s->ticket);
        free(s->rootfs);
        free(s->hostname);
        free(s->notes);
        free(s->mounts);
        free(s->workspace);
        free(s->image);
        free(s->image_store);
        free(s->driver);
        free(s->driver_reason);
        free(s->upper);
        free(s);
        return NULL;
}

static void set_str(char **dst, const char *v) {
        free(*dst);
        *dst = *v ? strdup(v) : NULL;
}

static void parse_state_line(nook_session *s, const char *k, const char *v) {
        unsigned long long n = strtoull(v, NULL, 10);
        if (strcmp(k, "environment_id") == 0)
                set_str(&s->environment_id, v);
        else if (strcmp(k, "name") == 0)
                set_str(&s->name, v);
        else if (strcmp(k, "identity") == 0)
                s->identity = (int)n;
        else if (strcmp(k, "uid") == 0)
                s->uid = (uid_t)n;
        else if (strcmp(k, "gid") == 0)
                s->gid = (gid_t)n;
        else if (strcmp(k, "inner_uid") == 0)
                s->inner_uid = (uid_t)n;
        else if (strcmp(k, "inner_gid") == 0)
                s->inner_gid = (gid_t)n;
        else if (strcmp(k, "subid_count") == 0)
                s->subid_count = (uint32_t)n;
        else if (strcmp(k, "own_netns") == 0)
                s->own_netns = n != 0;
        else if (strcmp(k, "holder_pid") == 0)
                s->holder_pid = (pid_t)n;
        else if (strcmp(k, "holder_start") == 0)
                s->holder_start = n;
        else if (strcmp(k, "owner_pid") == 0)
                s->owner_pid = (pid_t)n;
        else if (strcmp(k, "owner_start") == 0)
                s->owner_start = n;
        else if (strcmp(k, "detached") == 0)
                s->detached = n != 0;
        else if (strcmp(k, "ticket") == 0)
                set_str(&s->ticket, v);
        else if (strcmp(k, "rootfs") == 0)
                set_str(&s->rootfs, v);
        else if (strcmp(k, "rootfs_rw") == 0)
                s->rootfs_rw = n != 0;
        else if (strcmp(k, "read_only") == 0)
                s->read_only = n != 0;
        else if (strcmp(k, "prepared") == 0)
                s->prepared = n != 0;
        else if (strcmp(k, "hostname") == 0)
                set_str(&s->hostname, v);
        else if (strcmp(k, "notes") == 0)
                set_str(&s->notes, v);
        else if (strcmp(k, "mounts") == 0)
                set_str(&s->mounts, v);
        else if (strcmp(k, "workspace") == 0)
                set_str(&s->workspace, v);
        else if (strcmp(k, "created_ms") == 0)
                s->created_ms = (int64_t)n;
        else if (strcmp(k, "image") == 0)
                set_str(&s->image, v);
        else if (strcmp(k, "image_store") == 0)
                set_str(&s->image_store, v);
        else if (strcmp(k, "driver") == 0)
                set_str(&s->driver, v);
        else if (strcmp(k, "driver_reason") == 0)
                set_str(&s->driver_reason, v);
        else if (strcmp(k, "upper") == 0)
                set_str(&s->upper, v);
        else if (strcmp(k, "keep_upper") == 0)
                s->keep_upper = n != 0;
        else if (strcmp(k, "owners_collapsed") == 0)
                s->owners_collapsed = n;
}

int nook_session_load(const char *run_dir, const char *ref, nook_session **ret, nook_error **err) {
        _cleanup_(nook_session_freep) nook_session *s = calloc(1, sizeof(*s));
        if (!s)
                return nook_error_oom(err);
        snprintf(s->ref, sizeof(s->ref), "%s", ref);
        if (asprintf(&s->dir, "%s/%s", run_dir, ref) < 0 || !(s->run_dir = strdup(run_dir)))
                return nook_error_oom(err);
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/state", s->dir) < 0)
                return nook_error_oom(err);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return errno == ENOENT || errno == ENOTDIR ? -ENOENT
                                                           : nook_error_sys(err, errno, "reading a session record");
        /* a line of any length: a fixed buffer would read the rest of a long value (a mount
         * plan of many mounts) as keys of their own */
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, f) > 0) {
                line[strcspn(line, "\n")] = 0;
                char *eq = strchr(line, '=');
                if (eq) {
                        *eq = 0;
                        parse_state_line(s, line, eq + 1);
                }
        }
        if (!s->environment_id)
                return -ENOENT;
        *ret = TAKE_PTR(s);
        return 0;
}

int nook_session_find(const nook_adapter_config *c, const char *environment_id, nook_session **ret, nook_error **err) {
        char ref[NOOK_SESSION_REF_LEN];
        nook_session_ref_for(environment_id, ref);
        return nook_session_load(c->run_dir, ref, ret, err);
}

int nook_session_need(const nook_adapter_config *c, const char *env, const char *stage, nook_session **ret,
                      nook_error **err) {
        int r = nook_session_find(c, env, ret, err);
        if (r == -ENOENT)
                return nook_error_set(err, NOOK_ERROR_INVALID_STATE_TRANSITION, NOOK_RETRY_NOT_RETRYABLE, ENOENT,
                                      "%s: no session for this environment; call prepare_session first", stage);
        if (r < 0)
                return r;
        if (!nook_session_alive(*ret))
                return nook_error_set(err, NOOK_ERROR_RECOVERY_REPAIR_NEEDED, NOOK_RETRY_REPAIR_NEEDED, EOWNERDEAD,
                                      "%s: the session's holder is gone (killed?); run cleanup for the environment",
                                      stage);
        return 0;
}

/* The record is one "key=value" a line: a value holding a newline would add keys. */
static bool one_line_values(const nook_session *s) {
        const char *v[] = { s->environment_id, s->name,          s->ticket,    s->rootfs, s->hostname,
                            s->notes,          s->mounts,        s->workspace, s->image,  s->image_store,
                            s->driver,         s->driver_reason, s->upper };
        for (size_t i = 0; i < ELEMENTSOF(v); i++)
                if (v[i] && strchr(v[i], '\n'))
                        return false;
        return true;
}

int nook_session_save(const nook_session *s, nook_error **err) {
        if (!one_line_values(s))
                return nook_error_sys(err, EINVAL, "writing the session record: a value holds a newline");
        nook_strbuf b = NOOK_STRBUF_INIT;
        nook_strbuf_printf(&b,
                           "environment_id=%s\nname=%s\nidentity=%d\nuid=%u\ngid=%u\ninner_uid=%u\ninner_gid=%u\n"
                           "subid_count=%u\nown_netns=%d\nholder_pid=%d\nholder_start=%llu\nowner_pid=%d\n"
                           "owner_start=%llu\ndetached=%d\nticket=%s\nrootfs=%s\nrootfs_rw=%d\nread_only=%d\n"
                           "prepared=%d\nhostname=%s\nnotes=%s\nmounts=%s\nworkspace=%s\ncreated_ms=%lld\n",
                           s->environment_id, s->name ? s->name : "", s->identity, (unsigned)s->uid, (unsigned)s->gid,
                           (unsigned)s->inner_uid, (unsigned)s->inner_gid, s->subid_count, s->own_netns,
                           (int)s->holder_pid, (unsigned long long)s->holder_start, (int)s->owner_pid,
                           (unsigned long long)s->owner_start, s->detached, s->ticket ? s->ticket : "",
                           s->rootfs ? s->rootfs : "", s->rootfs_rw, s->read_only, s->prepared,
                           s->hostname ? s->hostname : "", s->notes ? s->notes : "", s->mounts ? s->mounts : "",
                           s->workspace ? s->workspace : "", (long long)s->created_ms);
        nook_strbuf_printf(&b,
                           "image=%s\nimage_store=%s\ndriver=%s\ndriver_reason=%s\nupper=%s\nkeep_upper=%d\nowners_"
                           "collapsed=%llu\n",
                           s->image ? s->image : "", s->image_store ? s->image_store : "", s->driver ? s->driver : "",
                           s->driver_reason ? s->driver_reason : "", s->upper ? s->upper : "", s->keep_upper,
                           (unsigned long long)s->owners_collapsed);
        _cleanup_free_ char *text = nook_strbuf_steal(&b);
        _cleanup_free_ char *tmp = NULL, *path = NULL;
        if (!text || asprintf(&tmp, "%s/.state.tmp", s->dir) < 0 || asprintf(&path, "%s/state", s->dir) < 0)
                return nook_error_oom(err);
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        size_t len = strlen(text);
        if (fd < 0 || write(fd, text, len) != (ssize_t)len || rename(tmp, path) < 0)
                return nook_error_sys(err, errno, "writing the session record");
        return 0;
}

bool nook_session_alive(const nook_session *s) {
        return s->holder_pid > 0 && nook_proc_alive(s->holder_pid, s->holder_start);
}

int nook_session_connect(const nook_session *s, const char *process_ref, int *ret_fd, nook_error **err) {
        _cleanup_free_ char *dir = NULL;
        if (process_ref ? asprintf(&dir, "%s/p/%s", s->dir, process_ref) < 0 : !(dir = strdup(s->dir)))
                return nook_error_oom(err);
        _cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return nook_error_sys(err, errno, "opening the session dir");
        /* sun_path is 108 bytes; the dir fd keeps deep run dirs reachable. */
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/ctl.sock", dfd);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return nook_error_sys(err, errno, "creating a socket");
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int e = errno;
                if ((e == ENOENT || e == ECONNREFUSED) && process_ref)
                        return nook_error_set(err, NOOK_ERROR_INVALID_STATE_TRANSITION, NOOK_RETRY_NOT_RETRYABLE, e,
                                              "the process's monitor is not running (the process has ended)");
                if (e == ENOENT || e == ECONNREFUSED)
                        return nook_error_set(err, NOOK_ERROR_RECOVERY_REPAIR_NEEDED, NOOK_RETRY_REPAIR_NEEDED, e,
                                              "the session's holder is gone; run cleanup for the environment");
                return nook_error_sys(err, e, "connecting to the %s", process_ref ? "monitor" : "holder");
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int nook_session_request(const nook_session *s, const char *process_ref, nook_msg *req, nook_msg *reply, int timeout_ms,
                         const char *what, nook_error **err) {
        _cleanup_close_ int fd = -1;
        int r = nook_session_connect(s, process_ref, &fd, err);
        if (r < 0)
                return r;
        r = nook_msg_send(fd, req);
        if (r < 0)
                return nook_error_sys(err, -r, "%s: sending the request", what);
        r = nook_msg_recv(fd, reply, timeout_ms);
        if (r == -ECONNRESET)
                return nook_error_set(err, NOOK_ERROR_CHILD_LIFECYCLE_FAILURE, NOOK_RETRY_REPAIR_NEEDED, EPIPE,
                                      "%s: the %s died while answering", what, process_ref ? "monitor" : "holder");
        if (r < 0)
                return nook_error_sys(err, -r, "%s: waiting for the answer", what);
        uint64_t e = nook_msg_u64(reply, T_ERRNO, EIO);
        if (e) {
                /* the helper's message already ends with strerror */
                const char *m = nook_msg_str(reply, T_MESSAGE);
                return nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE,
                                      e == EAGAIN || e == EBUSY ? NOOK_RETRY_RETRYABLE : NOOK_RETRY_NOT_RETRYABLE,
                                      (int)e, "%s: %s", what, m ? m : strerror((int)e));
        }
        return 0;
}

int nook_helper_path(const char *name, char **ret, nook_error **err) {
        char *p = NULL;
        const char *dir = secure_getenv("NOOK_HELPERS_DIR");
        if (dir && *dir) {
                if (asprintf(&p, "%s/%s", dir, name) < 0)
                        return nook_error_oom(err);
        } else {
                /* Running from the build tree (tests, ./dev): use the helpers built beside us. */
                char exe[4096];
                ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
                size_t blen = strlen(NOOK_BUILD_ROOT);
                if (n > 0 && (exe[n] = 0, strncmp(exe, NOOK_BUILD_ROOT "/", blen + 1) == 0)) {
                        if (asprintf(&p, "%s/helpers/%s", NOOK_BUILD_ROOT, name) < 0)
                                return nook_error_oom(err);
                } else if (asprintf(&p, "%s/%s", NOOK_LIBEXECDIR, name) < 0)
                        return nook_error_oom(err);
        }
        if (access(p, X_OK) < 0) {
                int e = errno;
                nook_error_sys(err, e, "finding the helper %s", name);
                nook_error_set_hint(err, "%s is missing: reinstall nook, or set NOOK_HELPERS_DIR", p);
                free(p);
                return -e;
        }
        *ret = p;
        return 0;
}

/* S24: teardown works below a dir fd, never follows a symlink, and crosses no mount. */
int nook_rm_rf_at(int parent, const char *name) {
        struct stat st;
        if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlinkat(parent, name, 0) < 0 && errno != ENOENT ? -errno : 0;
        int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == EACCES && st.st_uid == geteuid()) {
                /* ours but closed (overlayfs's work/work is 0000, image dirs 0555): opened
                 * as O_PATH without following, the fd names the very dir we chmod */
                _cleanup_close_ int pfd = openat(parent, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                char p[32];
                snprintf(p, sizeof(p), "/proc/self/fd/%d", pfd);
                if (pfd >= 0 && chmod(p, 0700) == 0)
                        fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (fd < 0)
                return -errno;
        struct stat top;
        if (fstat(fd, &top) < 0 || top.st_dev != st.st_dev || top.st_ino != st.st_ino) {
                close(fd);
                return -ESTALE; /* swapped under us */
        }
        /* entries of a dir we own but may not write (0555) still go */
        if ((top.st_mode & 0700) != 0700 && top.st_uid == geteuid())
                (void)fchmod(fd, 0700);
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        int r = 0;
        struct dirent *e;
        while ((e = readdir(d)))
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                        struct stat cst;
                        if (fstatat(dirfd(d), e->d_name, &cst, AT_SYMLINK_NOFOLLOW) == 0 && cst.st_dev != top.st_dev)
                                r = -EBUSY; /* a mount point: never descend */
                        else {
                                int q = nook_rm_rf_at(dirfd(d), e->d_name);
                                if (q < 0)
                                        r = q;
                        }
                }
        closedir(d);
        if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
                r = -errno;
        return r;
}

int nook_process_session(const nook_adapter_config *c, const char *process_ref, nook_session **ret, nook_error **err) {
        size_t n = strlen(process_ref);
        bool ok = n == NOOK_PROCESS_REF_LEN - 1 && strncmp(process_ref, "p-", 2) == 0 && process_ref[26] == '-';
        for (size_t i = 2; ok && i < n; i++)
                ok = i == 26 || (process_ref[i] >= '0' && process_ref[i] <= '9') ||
                     (process_ref[i] >= 'a' && process_ref[i] <= 'f');
        char ref[NOOK_SESSION_REF_LEN];
        snprintf(ref, sizeof(ref), "s-%.24s", process_ref + 2);
        int r = ok ? nook_session_load(c->run_dir, ref, ret, err) : -ENOENT;
        if (r == -ENOENT)
                return nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_NOT_RETRYABLE, ENOENT,
                                      "unknown process_ref (no such process in a live session of this user)");
        return r;
}

int nook_exit_record_read(const nook_session *s, const char *process_ref, nook_exit_record *ret) {
        *ret = (nook_exit_record){ 0 };
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/p/%s/exit", s->dir, process_ref) < 0)
                return -ENOMEM;
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? 0 : -errno;
        char line[256];
        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = 0;
                char *v = strchr(line, '=');
                if (!v)
                        continue;
                *v++ = 0;
                long long n = strtoll(v, NULL, 10);
                if (strcmp(line, "exit_code") == 0)
                        ret->exit_code = (int)n;
                else if (strcmp(line, "signal") == 0)
                        ret->signal = (int)n;
                else if (strcmp(line, "timed_out") == 0)
                        ret->timed_out = n != 0;
                else if (strcmp(line, "killed_by") == 0)
                        snprintf(ret->killed_by, sizeof(ret->killed_by), "%s", v);
                else if (strcmp(line, "cpu_ms") == 0)
                        ret->cpu_ms = (uint64_t)n;
                else if (strcmp(line, "maxrss") == 0)
                        ret->maxrss = (uint64_t)n;
                else if (strcmp(line, "finished_ms") == 0)
                        ret->finished_ms = n;
                else if (strcmp(line, "exec_failed") == 0)
                        snprintf(ret->exec_failed, sizeof(ret->exec_failed), "%s", v);
                else if (strcmp(line, "errno") == 0)
                        ret->exec_errno = (int)n;
        }
        ret->present = true;
        return 0;
}

/* ---- prepare_session ---------------------------------------------------------------- */

typedef struct holder_launch {
        const char *helper;
        int ctl_fd, dir_fd;
        int identity;
        bool own_netns;
        uid_t uid;
        gid_t gid;
        pid_t pid;
        int ready_fd;
        uint32_t subid_count;
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
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull < 0 || dup3(l->ctl_fd, 3, 0) < 0 || dup3(l->dir_fd, 4, 0) < 0 || dup3(l->ready_fd, 5, 0) < 0 ||
            dup3(devnull, 0, 0) < 0 || dup3(devnull, 1, 0) < 0 || dup3(devnull, 2, 0) < 0)
                _exit(125);
        syscall(SYS_close_range, 6, ~0U, 0);
        char *envp[] = { NULL };
        execve(l->helper, argv, envp);
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
        int go[2], ready[2];
        if (pipe2(go, O_CLOEXEC) < 0)
                return nook_error_sys(err, errno, "creating a pipe");
        if (pipe2(ready, O_CLOEXEC) < 0) {
                close(go[0]);
                close(go[1]);
                return nook_error_sys(err, errno, "creating a pipe");
        }
        char peer[16], net[2] = { l->own_netns ? '1' : '0', 0 };
        snprintf(peer, sizeof(peer), "%u", l->identity == NOOK_IDENTITY_KEEP_ID ? (unsigned)l->uid : 0u);
        char *argv[] = { (char *)"nook-holder", peer, net, NULL };
        l->ready_fd = ready[1];
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
                return nook_error_set_hint(err, "run 'nook caps' to see whether user namespaces work here"), -e;
        }
        l->pid = pid;
        l->ready_fd = ready[0];
        int r = nook_idmap_write(pid, l->identity, l->uid, l->gid, &l->subid_count, err);
        if (r >= 0 && write(go[1], "g", 1) != 1)
                r = nook_error_sys(err, errno, "starting the holder");
        close(go[1]);
        return r;
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
                              code == 126 ? ": it refuses to run setuid or with host privileges" : "");
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
        s->created_ms = nook_now_ms();
        if (!s->run_dir || !s->dir || !s->environment_id || !s->hostname)
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
        holder_launch l = { .uid = getuid(),
                            .gid = getgid(),
                            .own_netns = req->nook.network != NOOK_NETMODE_HOST,
                            .ctl_fd = -1,
                            .dir_fd = -1,
                            .ready_fd = -1 };
        if ((r = nook_identity_resolve(req->nook.identity, l.uid, &l.identity, err)) < 0)
                return nook_error_prefix(err, r, "prepare_session");
        _cleanup_free_ char *helper = NULL;
        if ((r = nook_helper_path("nook-holder", &helper, err)) < 0)
                return nook_error_prefix(err, r, "prepare_session");
        l.helper = helper;
        _cleanup_close_ int runfd = nook_rundir_open(c->run_dir, err);
        if (runfd < 0)
                return nook_error_prefix(err, runfd, "prepare_session");
        char ref[NOOK_SESSION_REF_LEN];
        nook_session_ref_for(env, ref);
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
        if (l.dir_fd >= 0)
                close(l.dir_fd);
        if (l.ctl_fd >= 0)
                close(l.ctl_fd);
        uint64_t start = 0;
        if (r >= 0 && ctx->journal && nook_proc_start_time(l.pid, &start) == 0)
                (void)nook_journal_resource_set_pid(ctx->journal, res_id, l.pid, start, NULL);
        if (r >= 0 && (r = nook_fault("session.after_holder")) < 0)
                nook_error_sys(err, -r, "injected fault");
        if (r >= 0)
                r = await_ready(&l, err);
        if (r >= 0 && !(s = new_record(c, req, ref, &l)))
                r = nook_error_oom(err);
        if (r >= 0)
                r = nook_session_save(s, err);
        if (l.ready_fd >= 0)
                close(l.ready_fd);
        if (r < 0) {
                undo(ctx, runfd, ref, l.pid, res_id);
                return nook_error_prefix(err, r, "prepare_session");
        }
        ret->ref = strdup(ref);
        return ret->ref ? 0 : nook_error_oom(err);
}

bool nook_process_lost(const nook_session *s, const char *process_ref) {
        nook_exit_record rec;
        if (nook_exit_record_read(s, process_ref, &rec) == 0 && rec.present)
                return false;
        if (!nook_session_alive(s))
                return true;
        int fd = -1;
        _cleanup_(nook_error_freep) nook_error *e = NULL;
        if (nook_session_connect(s, process_ref, &fd, &e) == 0) {
                close(fd);
                return false;
        }
        /* the monitor removes its socket only after writing the record: look once more */
        return !(nook_exit_record_read(s, process_ref, &rec) == 0 && rec.present);
}
