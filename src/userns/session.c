/* nook userns — the run dir (0700, verified) and the session record every stage reads
 * and writes: load, find, save, the holder's liveness and its control socket.  The stage
 * that makes a session is prepare.c. */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
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
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "userns/idmap.h"
#include "userns/mounts.h"
#include "userns/proof.h"
#include "userns/session.h"
#include "userns/stages.h"
#include "util/fault.h"
#include "util/fs.h"
#include "util/proc.h"
#include "util/rmrf.h"
#include "util/sha256.h"
#include "util/strbuf.h"
#include "util/clock.h"
#include "util/random.h"

#ifndef FUSE_SUPER_MAGIC
#define FUSE_SUPER_MAGIC 0x65735546
#endif

/* Where a private run dir can be had instead: under the data dir when it is on a local
 * filesystem (a run dir on a filesystem shared between hosts would mix their pids), else
 * a fresh one from mktemp(1). */
static bool local_fs(const char *path) {
        struct statfs sf;
        _cleanup_free_ char *p = path ? strdup(path) : NULL;
        /* the data dir itself, or the nearest dir above it that exists */
        for (char *slash; p && statfs(p, &sf) < 0 && (slash = strrchr(p, '/')) && slash != p;)
                *slash = 0;
        /* FUSE too: sshfs and its kind are as shared as NFS */
        return p && statfs(p, &sf) == 0 && !nook_fs_is_network(sf.f_type) && (uint32_t)sf.f_type != FUSE_SUPER_MAGIC;
}

static void rundir_hint(const nook_adapter_config *c, nook_error **err) {
        if (local_fs(c->data_dir))
                nook_error_set_hint(err,
                                    "set NOOK_RUNTIME_DIR to a directory of yours, for example "
                                    "NOOK_RUNTIME_DIR=%s/run (nook creates it 0700); if %s is yours, remove it",
                                    c->data_dir, c->run_dir);
        else
                nook_error_set_hint(err,
                                    "set NOOK_RUNTIME_DIR to a directory of yours, mode 0700, on a local "
                                    "filesystem, for example NOOK_RUNTIME_DIR=$(mktemp -d); if %s is yours, "
                                    "remove it",
                                    c->run_dir);
}

int nook_rundir_open(const nook_adapter_config *c, bool create, nook_error **err) {
        /* mkdir(2) never follows a symlink in the last component: a planted one is EEXIST */
        bool made = create && mkdir(c->run_dir, 0700) == 0;
        if (create && !made && errno == ENOENT) { /* NOOK_RUNTIME_DIR=<data dir>/run, say */
                _cleanup_free_ char *below = NULL;
                int r = asprintf(&below, "%s/x", c->run_dir) < 0 ? -ENOMEM : nook_mkdir_parents(below);
                errno = r < 0 ? -r : EEXIST; /* made 0700 with its parents; checked below */
        }
        if (create && !made && errno != EEXIST) {
                int e = errno;
                nook_error_sys(err, e, "creating the run dir");
                return rundir_hint(c, err), -e;
        }
        _cleanup_close_ int fd = open(c->run_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && !create)
                return -ENOENT;
        struct stat st;
        if (fd < 0) {
                int e = errno;
                if (lstat(c->run_dir, &st) == 0 && S_ISLNK(st.st_mode))
                        nook_error_set(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, NOOK_RETRY_USER_ACTION_NEEDED, e,
                                       "the run dir is a symlink: refused");
                else
                        nook_error_sys(err, e, "opening the run dir");
                return rundir_hint(c, err), -e;
        }
        if (made) /* ours: exactly 0700 whatever the umask took away */
                (void)fchmod(fd, 0700);
        if (fstat(fd, &st) < 0) {
                int e = errno;
                nook_error_sys(err, e, "checking the run dir");
                return nook_error_set_hint(err, "the run dir is %s", c->run_dir), -e;
        }
        /* S25, S32 (CVE-2021-41091, podman's /tmp/podman-run-<uid> checks): a dir made
         * by someone else, or open to others, would let them forge records and sockets
         * that we read and talk to.  Checked on the fd: what we use is what we checked. */
        if (st.st_uid != getuid() || (st.st_mode & 077)) {
                nook_error_set(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, NOOK_RETRY_USER_ACTION_NEEDED, EPERM,
                               "the run dir is not private to this user (owner %u, mode %04o): refused",
                               (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
                return rundir_hint(c, err), -EPERM;
        }
        return TAKE_FD(fd);
}

void nook_session_ref_for(const char *environment_id, char ret[NOOK_SESSION_REF_LEN]) {
        char d[NOOK_DIGEST_LEN + 1];
        _cleanup_free_ char *seed = NULL;
        if (asprintf(&seed, "nook-session\n%u\n%s", (unsigned)getuid(), environment_id) < 0 ||
            nook_sha256_digest(seed, strlen(seed), d) < 0)
                memset(d, '0', sizeof(d) - 1);
        snprintf(ret, NOOK_SESSION_REF_LEN, "s-%.24s", d + 7);
}

/* The session record: every key of <run>/<ref>/state, in the order it is written. */
#define F(member, type) NOOK_REC(nook_session, member, type)
static const nook_rec_field session_fields[] = {
        F(environment_id, NOOK_REC_STR),
        F(name, NOOK_REC_STR),
        F(identity, NOOK_REC_INT),
        F(uid, NOOK_REC_UINT),
        F(gid, NOOK_REC_UINT),
        F(inner_uid, NOOK_REC_UINT),
        F(inner_gid, NOOK_REC_UINT),
        F(subid_count, NOOK_REC_UINT),
        F(own_netns, NOOK_REC_BOOL),
        F(holder_pid, NOOK_REC_INT),
        F(holder_start, NOOK_REC_UINT),
        F(owner_pid, NOOK_REC_INT),
        F(owner_start, NOOK_REC_UINT),
        F(detached, NOOK_REC_BOOL),
        F(ticket, NOOK_REC_STR),
        F(rootfs, NOOK_REC_STR),
        F(rootfs_rw, NOOK_REC_BOOL),
        F(read_only, NOOK_REC_BOOL),
        F(prepared, NOOK_REC_BOOL),
        F(hostname, NOOK_REC_STR),
        F(notes, NOOK_REC_STR),
        F(mounts, NOOK_REC_STR),
        F(workspace, NOOK_REC_STR),
        F(created_ms, NOOK_REC_INT),
        F(image, NOOK_REC_STR),
        F(image_store, NOOK_REC_STR),
        F(driver, NOOK_REC_STR),
        F(driver_reason, NOOK_REC_STR),
        F(upper, NOOK_REC_STR),
        F(keep_upper, NOOK_REC_BOOL),
        F(owners_collapsed, NOOK_REC_UINT),
        F(net, NOOK_REC_STR),
        F(net_ports, NOOK_REC_STR),
        F(net_dns, NOOK_REC_STR),
        F(net_hosts, NOOK_REC_STR),
        F(net_loopback, NOOK_REC_BOOL),
        F(net_egress, NOOK_REC_STR),
        F(net_ready, NOOK_REC_BOOL),
        F(slirp_pid, NOOK_REC_INT),
        F(slirp_start, NOOK_REC_UINT),
        F(netd_pid, NOOK_REC_INT),
        F(netd_start, NOOK_REC_UINT),
        F(portfwd_pid, NOOK_REC_INT),
        F(portfwd_start, NOOK_REC_UINT),
        F(secrets, NOOK_REC_STR),
        F(labels, NOOK_REC_STR),
};
#undef F

const nook_record nook_session_record = NOOK_RECORD(session_fields);

nook_session *nook_session_free(nook_session *s) {
        if (!s)
                return NULL;
        if (s->dir_fd >= 0)
                close(s->dir_fd);
        free(s->run_dir);
        free(s->dir);
        nook_record_clear(&nook_session_record, s);
        free(s);
        return NULL;
}

static bool is_session_ref(const char *ref) {
        if (strlen(ref) != NOOK_SESSION_REF_LEN - 1 || strncmp(ref, "s-", 2) != 0)
                return false;
        for (const char *c = ref + 2; *c; c++)
                if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
                        return false;
        return true;
}

/* The messages name the session by its ref; where it lives on the host is the hint's. */
static int refuse(nook_error **err, bool record, const char *dir, const char *ref) {
        if (record)
                nook_error_set(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, NOOK_RETRY_USER_ACTION_NEEDED, EPERM,
                               "the record of session %s is not this user's record of this session: refused", ref);
        else
                nook_error_set(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, NOOK_RETRY_USER_ACTION_NEEDED, EPERM,
                               "the dir of session %s is not a private directory of this user: refused", ref);
        return nook_error_set_hint(err, "nook did not make it: remove %s/%s", dir, ref), -EPERM;
}

/* Reads the record of the session dir dfd (its "state": a regular file of ours, 0600,
 * opened without following; O_NONBLOCK so that a planted fifo cannot hang us). */
static int read_record(int dfd, nook_session *s) {
        _cleanup_close_ int fd = openat(dfd, "state", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        struct stat st;
        if (fd < 0)
                return errno == ENOENT ? -ENOENT : -EPERM;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077) ||
            st.st_size > 65536)
                return -EPERM;
        /* a malformed record was not written by nook: refused like a foreign one */
        int r = nook_record_read_fd(&nook_session_record, fd, 65536, s);
        if (r < 0)
                return r == -ENOMEM ? r : -EPERM;
        if (!s->environment_id)
                return -ENOENT;
        /* a record of this user for this very dir: the ref is what its environment gets */
        char want[NOOK_SESSION_REF_LEN];
        nook_session_ref_for(s->environment_id, want);
        return strcmp(want, s->ref) == 0 && s->uid == getuid() ? 0 : -EPERM;
}

int nook_session_load_at(int runfd, const char *run_dir, const char *ref, nook_session **ret, nook_error **err) {
        if (!is_session_ref(ref))
                return -ENOENT;
        _cleanup_(nook_session_freep) nook_session *s = calloc(1, sizeof(*s));
        if (!s)
                return nook_error_oom(err);
        s->dir_fd = -1;
        snprintf(s->ref, sizeof(s->ref), "%s", ref);
        if (asprintf(&s->dir, "%s/%s", run_dir, ref) < 0 || !(s->run_dir = strdup(run_dir)))
                return nook_error_oom(err);
        /* S32: the session dir is reached below the checked run dir fd, never through a
         * symlink, and checked on its own fd like the run dir */
        s->dir_fd = openat(runfd, ref, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (s->dir_fd < 0 && errno == ENOENT)
                return -ENOENT;
        if (s->dir_fd < 0 || fstat(s->dir_fd, &st) < 0 || st.st_uid != getuid() || (st.st_mode & 077))
                return refuse(err, false, run_dir, ref);
        int r = read_record(s->dir_fd, s);
        if (r == -EPERM)
                return refuse(err, true, run_dir, ref);
        if (r < 0)
                return r == -ENOMEM ? nook_error_oom(err) : r;
        *ret = TAKE_PTR(s);
        return 0;
}

int nook_session_load(const nook_adapter_config *c, const char *ref, nook_session **ret, nook_error **err) {
        _cleanup_close_ int runfd = nook_rundir_open(c, false, err);
        if (runfd < 0)
                return runfd;
        return nook_session_load_at(runfd, c->run_dir, ref, ret, err);
}

int nook_session_find(const nook_adapter_config *c, const char *environment_id, nook_session **ret, nook_error **err) {
        char ref[NOOK_SESSION_REF_LEN];
        nook_session_ref_for(environment_id, ref);
        return nook_session_load(c, ref, ret, err);
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

int nook_session_save(const nook_session *s, nook_error **err) {
        nook_strbuf b = NOOK_STRBUF_INIT;
        /* one "key=value" a line: a value holding a newline would add keys */
        if (nook_record_format(&nook_session_record, s, &b) == -EINVAL)
                return nook_error_sys(err, EINVAL, "writing the session record: a value holds a newline");
        _cleanup_free_ char *text = nook_strbuf_steal(&b);
        if (!text)
                return nook_error_oom(err);
        /* a fresh temp file (a leftover one is removed, never written through), renamed
         * over the record, both below the session dir fd */
        (void)unlinkat(s->dir_fd, ".state.tmp", 0);
        _cleanup_close_ int fd =
                openat(s->dir_fd, ".state.tmp", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        size_t len = strlen(text);
        if (fd < 0 || write(fd, text, len) != (ssize_t)len || renameat(s->dir_fd, ".state.tmp", s->dir_fd, "state") < 0)
                return nook_error_sys(err, errno, "writing the session record");
        return 0;
}

bool nook_session_alive(const nook_session *s) {
        return nook_holder_pin(s->holder_pid, s->holder_start, s->dir_fd, NULL) == 0;
}

bool nook_holder_serves(pid_t pid, uint64_t start, const char *environment_id) {
        _cleanup_close_ int dfd = -1;
        if (nook_holder_session_dir(pid, start, &dfd) < 0)
                return false;
        _cleanup_(nook_session_freep) nook_session *s = calloc(1, sizeof(*s));
        if (!s)
                return true; /* cannot tell: never take a session on a doubt */
        s->dir_fd = -1;
        nook_session_ref_for(environment_id, s->ref);
        int r = read_record(dfd, s);
        if (r == -ENOMEM)
                return true;
        return r == 0 && strcmp(s->environment_id, environment_id) == 0 && s->holder_pid == pid &&
               s->holder_start == start;
}

int nook_session_openat(const nook_session *s, const char *process_ref, const char *name, int flags, mode_t mode) {
        char path[128];
        if (strchr(process_ref, '/') || (name && strchr(name, '/')) ||
            (size_t)snprintf(path, sizeof(path), "p/%s%s%s", process_ref, name ? "/" : "", name ? name : "") >=
                    sizeof(path))
                return -EINVAL;
        /* S32: nothing below the session dir is followed (openat2(2) RESOLVE_NO_SYMLINKS) */
        struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC),
                                .mode = flags & O_CREAT ? mode : 0,
                                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
        int fd = (int)syscall(SYS_openat2, s->dir_fd, path, &how, sizeof(how));
        return fd < 0 ? negative_errno() : fd;
}

/* The control socket's dir: the session dir, or p/<process_ref> below it. */
static int socket_dir(const nook_session *s, const char *process_ref) {
        if (!process_ref)
                return fcntl(s->dir_fd, F_DUPFD_CLOEXEC, 3);
        int fd = nook_session_openat(s, process_ref, NULL, O_PATH | O_DIRECTORY, 0);
        return fd < 0 ? (errno = -fd, -1) : fd;
}

int nook_session_connect(const nook_session *s, const char *process_ref, int *ret_fd, nook_error **err) {
        /* S32: before a byte goes out, the holder is proven (pidfd, start time, owner,
         * nook-holder, holding this session dir) and the socket's peer is checked */
        _cleanup_close_ int pidfd = -1;
        if (nook_holder_pin(s->holder_pid, s->holder_start, s->dir_fd, &pidfd) < 0)
                return nook_error_set(err, NOOK_ERROR_RECOVERY_REPAIR_NEEDED, NOOK_RETRY_REPAIR_NEEDED, EOWNERDEAD,
                                      "the session's holder is gone; run cleanup for the environment");
        _cleanup_close_ int dfd = socket_dir(s, process_ref);
        struct stat st;
        if (dfd < 0 || fstatat(dfd, "ctl.sock", &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISSOCK(st.st_mode) ||
            st.st_uid != getuid()) {
                if (process_ref)
                        return nook_error_set(err, NOOK_ERROR_INVALID_STATE_TRANSITION, NOOK_RETRY_NOT_RETRYABLE,
                                              ENOENT, "the process's monitor is not running (the process has ended)");
                return nook_error_set(err, NOOK_ERROR_RECOVERY_REPAIR_NEEDED, NOOK_RETRY_REPAIR_NEEDED, ENOENT,
                                      "the session's control socket is missing; run cleanup for the environment");
        }
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
        /* SO_PEERCRED names who called listen(2) last: the holder (it listens again on
         * the socket the client bound) or a monitor of this session (unix(7)) */
        int r = nook_peer_check(fd, s->holder_pid, process_ref != NULL, pidfd);
        if (r < 0) {
                nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_NOT_RETRYABLE, -r,
                               "the control socket of %s %s is not served by this session's %s: refused",
                               process_ref ? "process" : "session", process_ref ? process_ref : s->ref,
                               process_ref ? "monitor" : "holder");
                return nook_error_set_hint(err, "the socket is in %s%s%s", s->dir, process_ref ? "/p/" : "",
                                           process_ref ? process_ref : ""),
                       r;
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
                return nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, nook_retry_for_errno((int)e), (int)e, "%s: %s",
                                      what, m ? m : strerror((int)e));
        }
        return 0;
}

int nook_session_compose_error(nook_error **err, int r, const char *what) {
        if (r == -ENOMEM)
                return nook_error_oom(err);
        if (r == -E2BIG)
                return nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_NOT_RETRYABLE, E2BIG,
                                      "%s: the request is larger than one message to the session may be (%u "
                                      "bytes, %u open host sources)",
                                      what, NOOK_MSG_MAX, NOOK_MSG_MAX_FDS);
        return nook_error_sys(err, -r, "%s: composing the request", what);
}

int nook_process_session(const nook_adapter_config *c, const char *process_ref, nook_session **ret, nook_error **err) {
        size_t n = strlen(process_ref);
        bool ok = n == NOOK_PROCESS_REF_LEN - 1 && strncmp(process_ref, "p-", 2) == 0 && process_ref[26] == '-';
        for (size_t i = 2; ok && i < n; i++)
                ok = i == 26 || (process_ref[i] >= '0' && process_ref[i] <= '9') ||
                     (process_ref[i] >= 'a' && process_ref[i] <= 'f');
        char ref[NOOK_SESSION_REF_LEN];
        snprintf(ref, sizeof(ref), "s-%.24s", process_ref + 2);
        int r = ok ? nook_session_load(c, ref, ret, err) : -ENOENT;
        if (r == -ENOENT)
                return nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_NOT_RETRYABLE, ENOENT,
                                      "unknown process_ref (no such process in a live session of this user)");
        return r;
}

int nook_exit_record_read(const nook_session *s, const char *process_ref, nook_exit_record *ret) {
        *ret = (nook_exit_record){ 0 };
        _cleanup_close_ int fd = nook_session_openat(s, process_ref, "exit", O_RDONLY | O_NONBLOCK, 0);
        if (fd < 0)
                return fd == -ENOENT ? 0 : fd;
        /* written whole and renamed into place: a record that does not parse is not one */
        int r = nook_record_read_fd(&nook_exit_record_desc, fd, 4096, ret);
        if (r < 0) {
                *ret = (nook_exit_record){ 0 };
                return r;
        }
        ret->present = true;
        return 0;
}

bool nook_process_unmonitored(const nook_session *s, const char *process_ref) {
        _cleanup_close_ int fd = nook_session_openat(s, process_ref, "unmonitored", O_PATH, 0);
        return fd >= 0 && nook_session_alive(s);
}

bool nook_process_lost(const nook_session *s, const char *process_ref) {
        nook_exit_record rec;
        if (nook_exit_record_read(s, process_ref, &rec) == 0 && rec.present)
                return false;
        if (!nook_session_alive(s))
                return true;
        if (nook_process_unmonitored(s, process_ref)) /* the holder watches it */
                return false;
        int fd = -1;
        _cleanup_(nook_error_freep) nook_error *e = NULL;
        if (nook_session_connect(s, process_ref, &fd, &e) == 0) {
                close(fd);
                return false;
        }
        /* the monitor removes its socket only after writing the record: look once more */
        return !(nook_exit_record_read(s, process_ref, &rec) == 0 && rec.present);
}
