/* nook userns — proving who a pid is before nook trusts or signals it (S32): a pidfd
 * (pidfd_open(2)) pins the process while /proc/<pid> tells its start time, owner,
 * executable and the session it was started for (proc(5)); the peer of a control
 * socket is checked with SO_PEERCRED (unix(7)) before a byte is sent. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "userns/proof.h"
#include "util/proc.h"

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

bool nook_proc_owned_by_us(int procfd) {
        _cleanup_close_ int fd = openat(procfd, "status", O_RDONLY | O_CLOEXEC);
        _cleanup_fclose_ FILE *f = fd < 0 ? NULL : fdopen(fd, "re");
        if (f)
                fd = -1;
        char line[256];
        unsigned u[4];
        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "Uid: %u %u %u %u", &u[0], &u[1], &u[2], &u[3]) == 4)
                        return u[0] == getuid() && u[1] == getuid() && u[2] == getuid() && u[3] == getuid();
        return false;
}

/* The process runs nook-holder: the very file this nook would start (same dev/ino), or
 * a file of that name (a holder started before nook was upgraded runs a replaced,
 * "(deleted)" file).  Following /proc/<pid>/exe needs ptrace read access
 * (PTRACE_MODE_READ_FSCREDS, proc(5)): the holder is non-dumpable, but we own its user
 * namespace, so we have it; another user's process is refused before this (uids). */
static bool runs_holder(int procfd) {
        struct stat exe, want;
        if (fstatat(procfd, "exe", &exe, 0) < 0)
                return false;
        _cleanup_free_ char *helper = NULL;
        if (nook_helper_path("nook-holder", &helper, NULL) == 0 && stat(helper, &want) == 0 &&
            exe.st_dev == want.st_dev && exe.st_ino == want.st_ino)
                return true;
        char target[4096];
        ssize_t n = readlinkat(procfd, "exe", target, sizeof(target) - 1);
        if (n <= 0)
                return false;
        target[n] = 0;
        const char *base = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
        return strcmp(base, "nook-holder") == 0 || strcmp(base, "nook-holder (deleted)") == 0;
}

void nook_holder_dir_id(const struct stat *st, char ret[48]) {
        snprintf(ret, 48, "%llx:%llx", (unsigned long long)st->st_dev, (unsigned long long)st->st_ino);
}

/* The session dir the holder was started for, by path and dev:ino: its argv, "nook-holder
 * PEER NET SESSION_DIR DEV:INO" (session.c launch_holder).  /proc/<pid>/cmdline can be
 * read whatever the holder's dumpability (proc(5)); /proc/<pid>/fd cannot under keep-id,
 * where no root of the holder's user namespace owns its /proc entries. */
static int holder_argv(int procfd, char *buf, size_t size, const char **ret_dir, const char **ret_id) {
        _cleanup_close_ int fd = openat(procfd, "cmdline", O_RDONLY | O_CLOEXEC);
        size_t n = 0;
        while (fd >= 0 && n < size - 1) {
                ssize_t k = read(fd, buf + n, size - 1 - n);
                if (k <= 0)
                        break;
                n += (size_t)k;
        }
        if (n == 0 || n >= size - 1)
                return -EPERM;
        buf[n] = 0;
        const char *argv[6];
        int argc = 0;
        for (char *p = buf; p < buf + n && argc < 6; p += strlen(p) + 1)
                argv[argc++] = p;
        if (argc != 5 || argv[3][0] != '/')
                return -EPERM;
        *ret_dir = argv[3];
        *ret_id = argv[4];
        return 0;
}

/* The holder was started for the session dir dir_fd (the same dev:ino). */
static bool holds_dir(int procfd, int dir_fd) {
        char buf[8192], want[48];
        const char *dir, *id;
        struct stat st;
        if (fstat(dir_fd, &st) < 0 || holder_argv(procfd, buf, sizeof(buf), &dir, &id) < 0)
                return false;
        nook_holder_dir_id(&st, want);
        return strcmp(id, want) == 0;
}

int nook_holder_pin(pid_t pid, uint64_t start, int dir_fd, int *ret_pidfd) {
        if (pid <= 0 || start == 0)
                return -ESRCH;
        _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0)
                return errno == ESRCH ? -ESRCH : -errno;
        char path[32];
        snprintf(path, sizeof(path), "/proc/%d", (int)pid);
        _cleanup_close_ int procfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        uint64_t now = 0;
        if (procfd < 0 || nook_proc_start_time(pid, &now) < 0)
                return -ESRCH;
        if (now != start || !nook_proc_owned_by_us(procfd) || !runs_holder(procfd) ||
            (dir_fd >= 0 && !holds_dir(procfd, dir_fd)))
                return -EPERM;
        /* Still running now, so every fact above was read of the process the pidfd
         * pins: a pid is not reused before its process is reaped. */
        if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
                return -ESRCH;
        if (ret_pidfd)
                *ret_pidfd = TAKE_FD(pidfd);
        return 0;
}

int nook_holder_session_dir(pid_t pid, uint64_t start, int *ret_dirfd) {
        _cleanup_close_ int pidfd = -1;
        int r = nook_holder_pin(pid, start, -1, &pidfd);
        if (r < 0)
                return r;
        char path[32], buf[8192], have[48];
        const char *dir, *id;
        snprintf(path, sizeof(path), "/proc/%d", (int)pid);
        _cleanup_close_ int procfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (procfd < 0 || holder_argv(procfd, buf, sizeof(buf), &dir, &id) < 0)
                return -EPERM;
        /* the dir named there, if it is still the one the holder was started for */
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (dfd < 0 || fstat(dfd, &st) < 0 || st.st_uid != getuid() || (st.st_mode & 077))
                return -EPERM;
        nook_holder_dir_id(&st, have);
        if (strcmp(have, id) != 0)
                return -EPERM;
        if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
                return -ESRCH;
        *ret_dirfd = TAKE_FD(dfd);
        return 0;
}

/* The user namespace of pid is the holder's: a process of this session (a monitor). */
static bool in_holder_userns(pid_t pid, pid_t holder) {
        char a[48], b[48];
        struct stat sa, sb;
        snprintf(a, sizeof(a), "/proc/%d/ns/user", (int)pid);
        snprintf(b, sizeof(b), "/proc/%d/ns/user", (int)holder);
        return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int nook_peer_check(int fd, pid_t holder_pid, bool monitor, int holder_pidfd) {
        struct ucred cr;
        socklen_t len = sizeof(cr);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
                return -errno;
        if (cr.uid != getuid() || cr.pid <= 0)
                return -EPERM;
        if (monitor) {
                _cleanup_close_ int peer = (int)syscall(SYS_pidfd_open, cr.pid, 0);
                if (peer < 0 || cr.pid == holder_pid || !in_holder_userns(cr.pid, holder_pid) ||
                    syscall(SYS_pidfd_send_signal, peer, 0, NULL, 0) < 0)
                        return -EPERM;
        } else if (cr.pid != holder_pid)
                return -EPERM;
        /* the holder proven before the connection is still that process */
        return syscall(SYS_pidfd_send_signal, holder_pidfd, 0, NULL, 0) < 0 ? -ESRCH : 0;
}
