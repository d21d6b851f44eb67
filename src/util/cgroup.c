/* nook util — cgroup v2 for a session when the user's cgroup is delegated (S34;
 * cgroups(7) "Cgroups v2 delegation", Documentation/admin-guide/cgroup-v2.rst): every
 * file is reached below an fd of the cgroup2 mount, without following links. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "util/cgroup.h"
#include "util/macro.h"

#define CGROUP2_MAGIC 0x63677270 /* CGROUP2_SUPER_MAGIC, statfs(2) */
#define CPU_PERIOD_US 100000

int nook_cgroup_parse_self(const char *text, char *out, size_t size) {
        for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                if (strncmp(line, "0::/", 4) != 0)
                        continue;
                size_t n = strcspn(line + 4, "\n");
                if (n >= size || memmem(line + 4, n, "..", 2))
                        return -ENAMETOOLONG;
                memcpy(out, line + 4, n);
                out[n] = 0;
                return 0;
        }
        return -ENOENT;
}

static const char *dir_or_dot(const char *path) {
        return *path ? path : ".";
}

int nook_cgroup_delegated(int root_fd, const char *path, uid_t uid) {
        _cleanup_close_ int dir = openat(root_fd, dir_or_dot(path), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir < 0)
                return -errno;
        static const char *const files[] = { ".", "cgroup.procs", "cgroup.subtree_control" };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                struct stat st;
                if (fstatat(dir, files[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                if (st.st_uid != uid)
                        return -EPERM;
        }
        return 0;
}

static int write_at(int dir, const char *file, const char *text) {
        /* O_CREAT for trees that are not a cgroupfs (tests); cgroupfs files exist */
        _cleanup_close_ int fd = openat(dir, file, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
        size_t n = strlen(text);
        if (fd < 0)
                return -errno;
        return write(fd, text, n) == (ssize_t)n ? 0 : -errno;
}

static int read_at(int dir, const char *file, char *buf, size_t size) {
        _cleanup_close_ int fd = openat(dir, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, buf, size - 1) : -1;
        if (n < 0)
                return -errno;
        buf[n] = 0;
        return 0;
}

static bool has_word(const char *list, const char *word) {
        size_t n = strlen(word);
        for (const char *p = list; (p = strstr(p, word)); p += n)
                if ((p == list || p[-1] == ' ' || p[-1] == '+') && (p[n] == 0 || p[n] == ' ' || p[n] == '\n'))
                        return true;
        return false;
}

/* "+memory +pids +cpu" for what the limits need, from what parent offers. */
static int controllers(int parent, const nook_cgroup_limits *l, char *out, size_t size) {
        char have[512];
        int r = read_at(parent, "cgroup.controllers", have, sizeof(have));
        if (r < 0)
                return r;
        const char *want[] = { l->memory_max ? "memory" : NULL, l->pids_max ? "pids" : NULL,
                               l->cpus > 0 ? "cpu" : NULL };
        out[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                if (!want[i])
                        continue;
                if (!has_word(have, want[i]))
                        return -EOPNOTSUPP;
                snprintf(out + strlen(out), size - strlen(out), "%s+%s", out[0] ? " " : "", want[i]);
        }
        return 0;
}

static int write_limits(int work, const nook_cgroup_limits *l) {
        char v[64];
        int r = 0;
        if (l->memory_max) {
                snprintf(v, sizeof(v), "%llu", (unsigned long long)l->memory_max);
                r = write_at(work, "memory.max", v);
                /* no swap to run over the limit with, where swap is accounted */
                if (r >= 0)
                        (void)write_at(work, "memory.swap.max", "0");
        }
        if (r >= 0 && l->pids_max) {
                snprintf(v, sizeof(v), "%llu", (unsigned long long)l->pids_max);
                r = write_at(work, "pids.max", v);
        }
        if (r >= 0 && l->cpus > 0) {
                snprintf(v, sizeof(v), "%llu %d", (unsigned long long)(l->cpus * CPU_PERIOD_US + 0.5), CPU_PERIOD_US);
                r = write_at(work, "cpu.max", v);
        }
        return r;
}

static int make_in(int parent, const char *name, const nook_cgroup_limits *l, pid_t helper, int *ret_work) {
        char ctl[64];
        int r = controllers(parent, l, ctl, sizeof(ctl));
        if (r >= 0 && ctl[0])
                r = write_at(parent, "cgroup.subtree_control", ctl);
        if (r < 0)
                return r;
        if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST)
                return -errno;
        _cleanup_close_ int top = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (top < 0)
                return -errno;
        if (ctl[0] && (r = write_at(top, "cgroup.subtree_control", ctl)) < 0)
                return r;
        if ((mkdirat(top, "helpers", 0755) < 0 && errno != EEXIST) ||
            (mkdirat(top, "work", 0755) < 0 && errno != EEXIST))
                return -errno;
        _cleanup_close_ int work = openat(top, "work", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (work < 0)
                return -errno;
        if ((r = write_limits(work, l)) < 0)
                return r;
        if (helper > 0) {
                _cleanup_close_ int helpers = openat(top, "helpers", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                char pid[24];
                snprintf(pid, sizeof(pid), "%d", (int)helper);
                if (helpers < 0 || (r = write_at(helpers, "cgroup.procs", pid)) < 0)
                        return helpers < 0 ? -errno : r;
        }
        *ret_work = TAKE_FD(work);
        return 0;
}

int nook_cgroup_make(int root_fd, const char *parent, const char *name, const nook_cgroup_limits *l, pid_t helper,
                     int *ret_work) {
        if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
                return -EINVAL;
        _cleanup_close_ int p = openat(root_fd, dir_or_dot(parent), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (p < 0)
                return -errno;
        int r = make_in(p, name, l, helper, ret_work);
        if (r < 0) {
                char path[4096];
                snprintf(path, sizeof(path), "%s%s%s", parent, *parent ? "/" : "", name);
                (void)nook_cgroup_remove(root_fd, path);
        }
        return r;
}

int nook_cgroup_remove(int root_fd, const char *path) {
        _cleanup_close_ int top = openat(root_fd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (top < 0)
                return errno == ENOENT ? 0 : -errno;
        /* a cgroup with processes cannot go (EBUSY): the session's die with its holder,
         * a moment after; files a test tree holds go first (a cgroupfs has none to
         * remove: unlinkat fails there and rmdir alone is what counts) */
        static const char *const files[] = { "cgroup.procs", "memory.max", "memory.swap.max",
                                             "pids.max",     "cpu.max",    "cgroup.subtree_control" };
        static const char *const leaves[] = { "work", "helpers" };
        int r = 0;
        for (int tries = 0; tries < 50; tries++) {
                r = 0;
                for (size_t i = 0; i < ELEMENTSOF(leaves); i++) {
                        _cleanup_close_ int leaf =
                                openat(top, leaves[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        for (size_t k = 0; leaf >= 0 && k < ELEMENTSOF(files); k++)
                                (void)unlinkat(leaf, files[k], 0);
                        if (unlinkat(top, leaves[i], AT_REMOVEDIR) < 0 && errno != ENOENT)
                                r = -errno;
                }
                for (size_t k = 0; r == 0 && k < ELEMENTSOF(files); k++)
                        (void)unlinkat(top, files[k], 0);
                if (r == 0 && unlinkat(root_fd, path, AT_REMOVEDIR) < 0 && errno != ENOENT)
                        r = -errno;
                if (r != -EBUSY)
                        break;
                nanosleep(&(struct timespec){ .tv_nsec = 20000000 }, NULL);
        }
        return r;
}

/* ---- this system's cgroup2 mount ------------------------------------------------------- */

static int open_root(void) {
        int fd = open("/sys/fs/cgroup", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct statfs sf;
        if (fd >= 0 && (fstatfs(fd, &sf) < 0 || sf.f_type != CGROUP2_MAGIC)) {
                close(fd);
                return -EOPNOTSUPP;
        }
        return fd < 0 ? -errno : fd;
}

int nook_cgroup_session_path(const char *ref, char *out, size_t size) {
        char text[4096], own[2048];
        _cleanup_close_ int self = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
        ssize_t n = self >= 0 ? read(self, text, sizeof(text) - 1) : -1;
        if (n < 0)
                return -errno;
        text[n] = 0;
        int r = nook_cgroup_parse_self(text, own, sizeof(own));
        _cleanup_close_ int root = r < 0 ? -1 : open_root();
        if (r >= 0 && root < 0)
                r = root;
        if (r >= 0)
                r = nook_cgroup_delegated(root, own, getuid());
        if (r >= 0 && (size_t)snprintf(out, size, "%s%snook-%s", own, *own ? "/" : "", ref) >= size)
                r = -ENAMETOOLONG;
        return r;
}

int nook_cgroup_session_make(const char *path, const nook_cgroup_limits *l, pid_t helper, int *ret_work) {
        _cleanup_close_ int root = open_root();
        if (root < 0)
                return root;
        char parent[4096];
        snprintf(parent, sizeof(parent), "%s", path);
        char *slash = strrchr(parent, '/');
        const char *name = slash ? slash + 1 : parent;
        if (slash)
                *slash = 0;
        return nook_cgroup_make(root, slash ? parent : "", name, l, helper, ret_work);
}

int nook_cgroup_session_remove(const char *path) {
        _cleanup_close_ int root = open_root();
        return root < 0 ? root : nook_cgroup_remove(root, path);
}
