/* nook userns — proving who a pid is before nook trusts or signals it (S32): a pidfd
 * (pidfd_open(2)) pins the process while /proc/<pid> tells its start time, owner,
 * executable and the session it was started for (proc(5)); the peer of a control
 * socket is checked with SO_PEERCRED (unix(7)) before a byte is sent. */
#include <errno.h>
#include <fcntl.h>
#include <link.h>
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
#include "util/macro.h"
#include "util/proc.h"
#include "util/strbuf.h"

/* ---- finding the helpers ------------------------------------------------------------ */

/* The helpers' dir relative to the dir of the file nook runs from: an installed layout
 * (bin/nook, lib/.../libnook.so and libexec/nook/ under one prefix: meson.build computes
 * the relative paths), else the build tree (src/nook, tests/test-*, helpers/). */
#define HELPERS_FROM_BUILD_TREE "../helpers"

typedef struct object_search {
        uintptr_t addr;
        bool found, main_program;
        char name[4096];
} object_search;

static int find_object(struct dl_phdr_info *info, size_t size, void *data) {
        object_search *o = data;
        for (int i = 0; i < info->dlpi_phnum; i++) {
                const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
                uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
                if (ph->p_type != PT_LOAD || o->addr < lo || o->addr >= lo + ph->p_memsz)
                        continue;
                /* dl_iterate_phdr(3): the main program comes first, with an empty name */
                o->main_program = !info->dlpi_name || !*info->dlpi_name;
                snprintf(o->name, sizeof(o->name), "%s", o->main_program ? "" : info->dlpi_name);
                o->found = true;
                return 1;
        }
        return 0;
}

/* The dir of the file this code was loaded from, opened (O_PATH) once: the nook program
 * as the kernel started it (/proc/self/exe, whatever argv[0] or PATH say), checked to
 * hold that very file (same dev:ino) after it is opened, or libnook.so as the dynamic
 * loader mapped it into another program. */
static int own_dir(const char **ret_rel, char **ret_path, nook_error **err) {
        object_search o = { .addr = (uintptr_t)&find_object };
        char path[4096];
        if (dl_iterate_phdr(find_object, &o) == 0 || !o.found)
                return nook_error_set(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, NOOK_RETRY_USER_ACTION_NEEDED, ENOENT,
                                      "finding nook's helpers: which file nook runs from is unknown");
        if (o.main_program) {
                ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
                if (n <= 0 || (size_t)n >= sizeof(path) - 1)
                        return nook_error_sys(err, n < 0 ? errno : ENAMETOOLONG,
                                              "finding nook's helpers: reading /proc/self/exe");
                path[n] = 0;
                *ret_rel = NOOK_HELPERS_FROM_BINDIR;
        } else {
                if (!realpath(o.name, path))
                        return nook_error_sys(err, errno, "finding nook's helpers: resolving %s", o.name);
                *ret_rel = NOOK_HELPERS_FROM_LIBDIR;
        }
        char *slash = strrchr(path, '/');
        if (path[0] != '/' || !slash)
                return nook_error_set(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, NOOK_RETRY_USER_ACTION_NEEDED, ENOENT,
                                      "finding nook's helpers: nook runs from '%s', not a path", path);
        *slash = 0;
        _cleanup_close_ int dir = open(slash == path ? "/" : path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0)
                return nook_error_sys(err, errno, "finding nook's helpers: opening %s", path);
        struct stat self, there;
        if (o.main_program &&
            (stat("/proc/self/exe", &self) < 0 || fstatat(dir, slash + 1, &there, AT_SYMLINK_NOFOLLOW) < 0 ||
             self.st_dev != there.st_dev || self.st_ino != there.st_ino))
                return nook_error_set(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, NOOK_RETRY_USER_ACTION_NEEDED, ESTALE,
                                      "finding nook's helpers: %s/%s is no longer the program running (replaced "
                                      "or moved meanwhile); run nook again",
                                      path, slash + 1);
        if (!(*ret_path = strdup(path)))
                return nook_error_oom(err);
        return TAKE_FD(dir);
}

static uid_t overflow_uid(void) {
        char buf[32];
        return nook_read_small("/proc/sys/kernel/overflowuid", buf, sizeof(buf)) > 0 ? (uid_t)strtoul(buf, NULL, 10)
                                                                                     : (uid_t)65534;
}

/* A helper nook may run: a regular executable file that only root or this user can
 * change.  Its owner is root, us, or the overflow uid (nook nested in a user namespace
 * where the host's root is unmapped: user_namespaces(7)); not writable by others, nor
 * by a group other than our own (a user-private group, umask 002). */
static int check_helper(int fd, const char *dir, const char *name, nook_error **err) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return nook_error_sys(err, errno, "checking the helper %s/%s", dir, name);
        const char *bad = S_ISLNK(st.st_mode)       ? "a symbolic link (nook follows none to a helper)"
                          : !S_ISREG(st.st_mode)    ? "not a regular file"
                          : !(st.st_mode & S_IXUSR) ? "not executable"
                          : (st.st_mode & S_IWOTH)  ? "writable by anyone"
                          : (st.st_mode & S_IWGRP) && st.st_gid != getgid() ? "writable by its group"
                          : st.st_uid != 0 && st.st_uid != getuid() && st.st_uid != overflow_uid()
                                  ? "owned by another user"
                                  : NULL;
        if (!bad)
                return 0;
        nook_error_set(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, NOOK_RETRY_USER_ACTION_NEEDED, EPERM,
                       "refusing the helper %s/%s: %s (owner %u, mode %04o)", dir, name, bad, (unsigned)st.st_uid,
                       (unsigned)(st.st_mode & 07777));
        nook_error_set_hint(err, "only root or you may be able to change nook's helpers: reinstall nook");
        return -EPERM;
}

/* Opens name in dir (O_PATH, no symlink): the fd, -ENOENT when there is none. */
static int open_in(int dir, const char *shown, const char *name, nook_error **err) {
        _cleanup_close_ int fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
                return -ENOENT;
        if (fd < 0)
                return nook_error_sys(err, errno, "opening the helper %s/%s", shown, name);
        int r = check_helper(fd, shown, name, err);
        return r < 0 ? r : TAKE_FD(fd);
}

static int helper_not_found(const char *name, const char *where, nook_error **err) {
        nook_error_set(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, NOOK_RETRY_USER_ACTION_NEEDED, ENOENT,
                       "finding the helper %s: not in %s", name, where);
        nook_error_set_hint(err, "install nook as a whole (meson install: bin/nook with libexec/nook/ beside it), "
                                 "or set NOOK_HELPERS_DIR to the dir of nook-holder");
        return -ENOENT;
}

int nook_helper_open(const char *name, nook_error **err) {
        const char *env = secure_getenv("NOOK_HELPERS_DIR");
        if (env && *env) {
                _cleanup_close_ int dir = open(env, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (dir < 0)
                        return nook_error_sys(err, errno, "opening NOOK_HELPERS_DIR=%s", env);
                int fd = open_in(dir, env, name, err);
                return fd == -ENOENT ? helper_not_found(name, env, err) : fd;
        }
        const char *rel = NULL;
        _cleanup_free_ char *self = NULL;
        _cleanup_close_ int top = own_dir(&rel, &self, err);
        if (top < 0)
                return top;
        const char *const candidates[] = { rel, HELPERS_FROM_BUILD_TREE };
        _cleanup_(nook_strbuf_done) nook_strbuf tried = NOOK_STRBUF_INIT;
        for (size_t i = 0; i < ELEMENTSOF(candidates); i++) {
                _cleanup_free_ char *shown = NULL;
                if (asprintf(&shown, "%s/%s", self, candidates[i]) < 0)
                        return nook_error_oom(err);
                nook_strbuf_printf(&tried, "%s%s", i ? " nor in " : "", shown);
                _cleanup_close_ int dir = openat(top, candidates[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (dir < 0)
                        continue;
                /* the first layout that exists is nook's: a helper missing from it is not
                 * looked for in a later one (where someone might have put one) */
                int fd = open_in(dir, shown, name, err);
                return fd == -ENOENT ? helper_not_found(name, shown, err) : fd;
        }
        return helper_not_found(name, tried.s ? tried.s : self, err);
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
        _cleanup_close_ int helper = nook_helper_open("nook-holder", NULL);
        if (helper >= 0 && fstat(helper, &want) == 0 && exe.st_dev == want.st_dev && exe.st_ino == want.st_ino)
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
