/* nook util — host paths opened once (SECURITY.md S31): openat2(2) RESOLVE_NO_SYMLINKS,
 * else a walk of openat(2) O_PATH | O_NOFOLLOW one component at a time that follows
 * only symlinks no sandbox can change; the holder's reopen compares st_dev/st_ino. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/hostpath.h"
#include "util/macro.h"

#define MAX_LINKS 40 /* path_resolution(7): ELOOP past 40 */

/* A symlink in this directory is one the operator's system made: only root may
 * replace it.  Owner root, no group or other write bit, and not writable by us (an ACL,
 * or running as root: then nothing is trusted).  A sandbox writes with at most our
 * rights (its root is us, its other ids our subordinate ids, never host root), so it
 * cannot swap such a link; a link in any directory we may write, it can. */
static bool link_trusted(int dirfd) {
        struct stat st;
        return fstat(dirfd, &st) == 0 && st.st_uid == 0 && !(st.st_mode & (S_IWGRP | S_IWOTH)) &&
               faccessat(dirfd, "", W_OK, AT_EMPTY_PATH | AT_EACCESS) < 0;
}

/* The walk: buf holds what is left to resolve; a followed symlink's target is put in
 * front of it (from "/" when absolute, else from the directory holding the link). */
static int walk(char *buf, size_t size, int flags, bool trust_links) {
        _cleanup_close_ int cur = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        int links = 0;
        char *rest = buf;
        while (cur >= 0) {
                while (*rest == '/')
                        rest++;
                if (!*rest) {
                        struct stat st;
                        if ((flags & O_DIRECTORY) && (fstat(cur, &st) < 0 || !S_ISDIR(st.st_mode)))
                                return -ENOTDIR;
                        return TAKE_FD(cur);
                }
                char comp[NAME_MAX + 1];
                size_t len = strcspn(rest, "/");
                if (len > NAME_MAX)
                        return -ENAMETOOLONG;
                memcpy(comp, rest, len);
                comp[len] = 0;
                rest += len;
                _cleanup_close_ int next = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                struct stat st;
                if (next < 0 || fstat(next, &st) < 0)
                        return negative_errno();
                if (!S_ISLNK(st.st_mode)) {
                        if (*rest && !S_ISDIR(st.st_mode))
                                return -ENOTDIR;
                        close(cur);
                        cur = TAKE_FD(next);
                        continue;
                }
                if (!trust_links || ++links > MAX_LINKS || !link_trusted(cur))
                        return -ELOOP;
                char target[PATH_MAX];
                ssize_t n = readlinkat(next, "", target, sizeof(target) - 1);
                if (n <= 0)
                        return n < 0 ? negative_errno() : -ENOENT;
                target[n] = 0;
                size_t tail = strlen(rest);
                if ((size_t)n + tail + 1 > size)
                        return -ENAMETOOLONG;
                memmove(buf + n, rest, tail + 1);
                memcpy(buf, target, (size_t)n);
                rest = buf;
                if (target[0] == '/') {
                        close(cur);
                        cur = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
                }
        }
        return negative_errno();
}

static int open_path(const char *path, int flags, bool trust_links) {
        if (path[0] != '/')
                return -EINVAL;
        /* the common case in one call: no symlink anywhere */
        struct open_how how = { .flags = (uint64_t)((flags & O_DIRECTORY) | O_PATH | O_CLOEXEC),
                                .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
        int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
        if (fd >= 0 || (errno != ELOOP && errno != ENOSYS))
                return fd >= 0 ? fd : negative_errno();
        char buf[2 * PATH_MAX];
        if (strlen(path) >= sizeof(buf))
                return -ENAMETOOLONG;
        strcpy(buf, path);
        return walk(buf, sizeof(buf), flags, trust_links);
}

int nook_host_open(const char *path, int flags) {
        return open_path(path, flags, true);
}

int nook_fd_path(int fd, char *buf, size_t size) {
        char link[32];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, buf, size);
        if (n < 0)
                return negative_errno();
        if ((size_t)n >= size)
                return -ENAMETOOLONG;
        buf[n] = 0;
        return buf[0] == '/' ? 0 : -EINVAL;
}

/* d_path names the object from the root of the mount namespace it lives in; ours is a
 * copy of that one made when the session began (clone(2) CLONE_NEWNS), so the name
 * leads to the same inode here unless something changed it since — then the identity
 * check fails and nothing is mounted.  No symlink is followed: d_path has none. */
int nook_host_reopen(int fd, int flags) {
        char path[PATH_MAX];
        int r = nook_fd_path(fd, path, sizeof(path));
        if (r < 0)
                return r;
        _cleanup_close_ int here = open_path(path, flags, false);
        struct stat a, b;
        if (here < 0)
                return here;
        if (fstat(fd, &a) < 0 || fstat(here, &b) < 0)
                return negative_errno();
        if (a.st_dev != b.st_dev || a.st_ino != b.st_ino || (a.st_mode & S_IFMT) != (b.st_mode & S_IFMT))
                return -ESTALE;
        return TAKE_FD(here);
}
