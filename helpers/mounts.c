/* nook-holder — the in-namespace half of prepare_environment (driver "dir"): the root
 * directory under a writable overlay (kernel overlayfs, userxattr) on a session tmpfs,
 * fresh /proc, minimal /dev with its own devpts, read-only /sys, masked and read-only
 * paths (S14), /etc files, hostname, then pivot_root(2).  Every target inside the new
 * root is opened without following symlinks and mounted onto the fd (S4, S6, S7). */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helper.h"
#include "mountspec.h"
#include "util/hostpath.h"
#include "util/macro.h"

#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#define MOUNT_ATTR_NOEXEC 0x00000008
struct mount_attr {
        uint64_t attr_set, attr_clr, propagation, userns_fd;
};
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

#define PROC_FLAGS (MS_NOSUID | MS_NODEV | MS_NOEXEC)

typedef struct build {
        holder *h;
        const nook_msg *msg;
        int root_fd;          /* the new root */
        char root_path[4096]; /* its name here (d_path), for the checks of S6 */
        bool writable;        /* files may be written into the new root (overlay upper) */
        char *notes;
        size_t notes_size;
        hstatus *st;
} build;

static void note(build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(build *b, const char *fmt, ...) {
        size_t used = strlen(b->notes);
        if (used + 3 >= b->notes_size)
                return;
        if (used) {
                strcat(b->notes, "; ");
                used += 2;
        }
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(b->notes + used, b->notes_size - used, fmt, ap);
        va_end(ap);
}

static const char *fdpath(char buf[32], int fd) {
        snprintf(buf, 32, "/proc/self/fd/%d", fd);
        return buf;
}

/* Opens path below dirfd, refusing symlinks in any component (openat2(2)
 * RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH; kernels before 5.6: one component at a time
 * with O_NOFOLLOW). */
static int open_beneath(int dirfd, const char *path, int flags) {
        struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
                                .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
        int fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
        if (fd >= 0 || errno != ENOSYS)
                return fd;
        return openat(dirfd, path, flags | O_CLOEXEC | O_NOFOLLOW);
}

/* A directory of the new root that must be a real directory (S6): created when the
 * root is writable and it is missing. */
static int need_dir(build *b, const char *name, mode_t mode) {
        int fd = open_beneath(b->root_fd, name, O_PATH | O_DIRECTORY);
        if (fd < 0 && errno == ENOENT && b->writable) {
                if (mkdirat(b->root_fd, name, mode) < 0 && errno != EEXIST)
                        return hfail(b->st, errno, "creating /%s in the root", name);
                fd = open_beneath(b->root_fd, name, O_PATH | O_DIRECTORY);
        }
        if (fd < 0 && (errno == ELOOP || errno == ENOTDIR || errno == EXDEV))
                return hfail(b->st, errno, "/%s in the root is a symlink or not a directory: refused", name);
        if (fd < 0)
                return hfail(b->st, errno, "opening /%s in the root", name);
        return fd;
}

static int mount_fd(const char *src, int fd, const char *type, unsigned long flags, const char *data) {
        char p[32];
        return mount(src, fdpath(p, fd), type, flags, data);
}

/* The mount on fd, and every mount under it, read-only.  mount_setattr(2) changes that
 * one attribute; the old remount must repeat the flags the mount has, else it would
 * clear nosuid or nodev that an outer user namespace locked (a FUSE root, a nested
 * session) and fail with EPERM. */
static int read_only_tree(int fd) {
        struct mount_attr a = { .attr_set = MOUNT_ATTR_RDONLY };
        if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) == 0)
                return 0;
        struct statvfs sv;
        if (fstatvfs(fd, &sv) < 0)
                return -1;
        unsigned long keep = (sv.f_flag & ST_NOSUID ? MS_NOSUID : 0) | (sv.f_flag & ST_NODEV ? MS_NODEV : 0) |
                             (sv.f_flag & ST_NOEXEC ? MS_NOEXEC : 0) | (sv.f_flag & ST_NOATIME ? MS_NOATIME : 0) |
                             (sv.f_flag & ST_NODIRATIME ? MS_NODIRATIME : 0) |
                             (sv.f_flag & ST_RELATIME ? MS_RELATIME : 0);
        return mount_fd(NULL, fd, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | keep, NULL);
}

/* ---- host sources (SECURITY.md S31) ------------------------------------------------------
 *
 * A host source (the root directory, a -v or alias source, the workspace) is resolved
 * once, by the client, without following a symlink a sandbox could swap
 * (nook_host_open); its fd comes with PREPARE and is the identity of what may be
 * mounted.  We cannot mount from that fd: its mount belongs to the client's mount
 * namespace, and mount(2) MS_BIND and open_tree(2) refuse a source from another
 * namespace (EINVAL, fs/namespace.c check_mnt; clone_private_mount for overlay's
 * layers).  So the kernel's name of it (d_path) is opened here, in our copy of that
 * namespace, with no symlink followed at all, and used only when st_dev/st_ino match the
 * client's fd (nook_host_reopen): a swap in between fails the match, or the open
 * (ELOOP), and nothing is mounted.  From then on only our fd is used, as
 * /proc/self/fd/N (a bind's source, overlay's lowerdir): no path is resolved again.
 * After a bind, the destination reached anew must be that inode (apply_one, below). */
static int host_source(build *b, uint64_t index, int flags, const char *what) {
        const nook_msg *m = b->msg;
        if (index >= m->n_fds || m->fds[index] < 0)
                return hfail(b->st, EBADF, "%s: the request carries no fd of it", what);
        int fd = nook_host_reopen(m->fds[index], flags);
        if (fd == -ESTALE || fd == -ELOOP || fd == -ENOENT || fd == -ENOTDIR)
                return hfail(b->st, -fd, "%s changed after nook opened it: refused (SECURITY.md S31)", what);
        return fd < 0 ? hfail(b->st, -fd, "reopening %s", what) : fd;
}

/* The mount on fd dst is the inode of src (a bind, checked after mounting). */
static bool same_inode(int src, int dst) {
        struct stat a, b;
        return fstat(src, &a) == 0 && fstat(dst, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The user's directory itself as the root (--rootfs-rw, or read-only when overlayfs is
 * unavailable), bound from our fd of it and checked after (S31). */
static int bind_root(build *b, int top, int root, int src, bool ro) {
        if (mount_fd(fdpath((char[32]){ 0 }, src), root, NULL, MS_BIND | MS_REC, NULL) < 0)
                return hfail(b->st, errno, "binding the root directory");
        /* an fd opened before a mount still names what is under it: reopen to reach
         * the new mount */
        b->root_fd = openat(top, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (b->root_fd < 0)
                return hfail(b->st, errno, "opening the root");
        if (!same_inode(src, b->root_fd))
                return hfail(b->st, ESTALE, "the root directory changed while it was mounted: refused");
        if (ro && read_only_tree(b->root_fd) < 0)
                return hfail(b->st, errno, "making the root read-only");
        b->writable = false; /* never write nook's files into the user's own directory */
        return 0;
}

/* The writable layer: a tmpfs over the session's mnt dir (in this mount namespace only)
 * holding upper/ and work/, and the root dir as an overlay of the user's directory. */
static int mount_overlay_root(build *b, bool image, bool rw) {
        hstatus *st = b->st;
        _cleanup_close_ int mnt = openat(b->h->session_fd, "mnt", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (mnt < 0)
                return hfail(st, errno, "opening the session mount dir");
        char opts[64];
        snprintf(opts, sizeof(opts), "mode=0755,size=%llu%s", 50ull, "%");
        limits_tmpfs_clamp(b->h, opts, sizeof(opts), !image); /* S34: a directory root's layer */
        if (mount_fd("nook", mnt, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
                return hfail(st, errno, "mounting the session tmpfs");
        _cleanup_close_ int top = openat(b->h->session_fd, "mnt", O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (top >= 0)
                limits_tmpfs_charge(b->h, top);
        if (top < 0 || mkdirat(top, "upper", 0755) < 0 || mkdirat(top, "work", 0700) < 0 ||
            mkdirat(top, "root", 0755) < 0)
                return hfail(st, errno, "creating the writable layer's dirs");
        b->h->upper_fd = openat(top, "upper", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int root = openat(top, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return hfail(st, errno, "opening the root mount point");
        if (image) { /* an image: its layers under the writable layer the client made */
                int r = holder_image_root(b->h, b->msg, top, root, &b->h->driver, b->h->driver_why,
                                          sizeof(b->h->driver_why), st);
                if (r < 0)
                        return r;
                if (b->h->driver_why[0])
                        note(b, "%s", b->h->driver_why);
                limits_image_root(b->h, b->msg, top);
                b->writable = true;
                b->root_fd = openat(top, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
                return b->root_fd < 0 ? hfail(st, errno, "opening the root") : 0;
        }
        _cleanup_close_ int src =
                host_source(b, nook_msg_u64(b->msg, T_ROOTFS_FD, UINT64_MAX), O_DIRECTORY, "the root directory");
        if (src < 0)
                return src;
        if (rw)
                return bind_root(b, top, root, src, false);
        /* the directory under the tmpfs's upper/: overlayfs, or fuse-overlayfs or a
         * copy when its owners are not mapped here (the client chose, T_DRIVER) */
        const char *want = nook_msg_str(b->msg, T_DRIVER);
        if (fchdir(top) < 0)
                return hfail(st, errno, "entering the session tmpfs");
        if (holder_dir_root(b->h, b->msg, top, root, src, &b->h->driver, b->h->driver_why, sizeof(b->h->driver_why),
                            st) < 0) {
                if (want && strncmp(want, "auto", 4) != 0)
                        return -st->err; /* asked for: that driver or an error */
                /* Nothing writable works (kernel < 5.11, nested, NFS, no FUSE): the
                 * directory read-only, writes refused.  Reported, not silent. */
                note(b, "no writable layer (%s%s%s): the root is read-only", b->h->driver_why,
                     b->h->driver_why[0] ? "; " : "", st->msg);
                b->h->driver = "read-only";
                *st = (hstatus){ 0 };
                return bind_root(b, top, root, src, true);
        }
        if (b->h->driver_why[0])
                note(b, "%s", b->h->driver_why);
        b->writable = true; /* the writable layer is on the session tmpfs */
        b->root_fd = openat(top, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
        return b->root_fd < 0 ? hfail(st, errno, "opening the root") : 0;
}

static int mount_proc(build *b) {
        _cleanup_close_ int fd = need_dir(b, "proc", 0555);
        if (fd < 0)
                return fd;
        /* the procfs of the workloads' own pid namespace, mounted by its init (S33) */
        int e = 0, r = holder_pidns_start(b->h, fd, &e, b->st);
        if (r < 0 || e == 0)
                return r;
        /* Nested in a container that masks /proc, the kernel refuses a fresh procfs
         * (mount_too_revealing()); bind the existing one instead, and say so. */
        if (mount_fd("/proc", fd, NULL, MS_BIND | MS_REC, NULL) < 0)
                return hfail(b->st, errno, "mounting /proc (a fresh procfs failed: %s)", strerror(e));
        note(b,
             "procfs bound from the host (a fresh one was refused: %s): nook's processes are visible inside, "
             "though out of reach of signals",
             strerror(e));
        return 0;
}

static int dev_node(build *b, int dev, const char *name) {
        _cleanup_close_ int fd = openat(dev, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (fd < 0)
                return hfail(b->st, errno, "creating /dev/%s", name);
        char host[32];
        snprintf(host, sizeof(host), "/dev/%s", name);
        if (mount_fd(host, fd, NULL, MS_BIND, NULL) < 0) {
                if (strcmp(name, "tty") == 0)
                        return 0; /* no controlling tty to share here */
                return hfail(b->st, errno, "binding %s", host);
        }
        return 0;
}

static int mount_dev(build *b) {
        _cleanup_close_ int fd = need_dir(b, "dev", 0755);
        if (fd < 0)
                return fd;
        char data[64] = "mode=0755,size=65536k";
        limits_tmpfs_clamp(b->h, data, sizeof(data), false);
        if (mount_fd("tmpfs", fd, "tmpfs", MS_NOSUID | MS_NOEXEC, data) < 0)
                return hfail(b->st, errno, "mounting /dev");
        _cleanup_close_ int dev = open_beneath(b->root_fd, "dev", O_DIRECTORY);
        if (dev < 0)
                return hfail(b->st, errno, "opening /dev");
        limits_tmpfs_charge(b->h, dev);
        static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
        for (size_t i = 0; i < ELEMENTSOF(nodes); i++)
                if (dev_node(b, dev, nodes[i]) < 0)
                        return -b->st->err;
        if (mkdirat(dev, "pts", 0755) < 0 || mkdirat(dev, "shm", 01777) < 0)
                return hfail(b->st, errno, "creating /dev/pts and /dev/shm");
        _cleanup_close_ int pts = openat(dev, "pts", O_PATH | O_DIRECTORY | O_CLOEXEC);
        /* A devpts instance of our own: the sandbox never sees the caller's terminals (S8). */
        if (mount_fd("devpts", pts, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") < 0)
                return hfail(b->st, errno, "mounting /dev/pts");
        _cleanup_close_ int shm = openat(dev, "shm", O_PATH | O_DIRECTORY | O_CLOEXEC);
        snprintf(data, sizeof(data), "mode=1777,size=65536k");
        limits_tmpfs_clamp(b->h, data, sizeof(data), false);
        if (mount_fd("shm", shm, "tmpfs", MS_NOSUID | MS_NODEV, data) < 0)
                return hfail(b->st, errno, "mounting /dev/shm");
        _cleanup_close_ int shm_top = openat(dev, "shm", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (shm_top >= 0)
                limits_tmpfs_charge(b->h, shm_top);
        static const char *const links[][2] = { { "pts/ptmx", "ptmx" },
                                                { "/proc/self/fd", "fd" },
                                                { "/proc/self/fd/0", "stdin" },
                                                { "/proc/self/fd/1", "stdout" },
                                                { "/proc/self/fd/2", "stderr" } };
        for (size_t i = 0; i < ELEMENTSOF(links); i++)
                if (symlinkat(links[i][0], dev, links[i][1]) < 0)
                        return hfail(b->st, errno, "creating /dev/%s", links[i][1]);
        return fchmodat(dev, "shm", 01777, 0) < 0 ? hfail(b->st, errno, "chmod /dev/shm") : 0;
}

static int mount_sys(build *b) {
        _cleanup_close_ int fd = need_dir(b, "sys", 0555);
        if (fd < 0)
                return fd;
        if (b->h->own_netns && mount_fd("sysfs", fd, "sysfs", MS_RDONLY | PROC_FLAGS, NULL) == 0)
                return 0;
        /* sysfs can be mounted only by the owner of the network namespace; sharing the
         * host's, bind it and make the whole tree read-only (mount_setattr(2)). */
        if (mount_fd("/sys", fd, NULL, MS_BIND | MS_REC, NULL) < 0)
                return hfail(b->st, errno, "binding /sys");
        _cleanup_close_ int top = open_beneath(b->root_fd, "sys", O_PATH | O_DIRECTORY);
        struct mount_attr a = { .attr_set = MOUNT_ATTR_RDONLY };
        if (top < 0 || (syscall(SYS_mount_setattr, top, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) < 0 &&
                        mount_fd(NULL, top, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | PROC_FLAGS, NULL) < 0))
                return hfail(b->st, errno, "making /sys read-only");
        return 0;
}

/* S14: what podman masks and makes read-only, from sources of our own (S7). */
static int mask_paths(build *b) {
        static const char *const files[] = { "proc/kcore",        "proc/keys",        "proc/latency_stats",
                                             "proc/timer_list",   "proc/timer_stats", "proc/sched_debug",
                                             "proc/sysrq-trigger" };
        static const char *const dirs[] = { "proc/acpi", "proc/scsi", "sys/firmware" };
        static const char *const ro[] = { "proc/asound", "proc/bus", "proc/fs", "proc/irq", "proc/sys" };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_close_ int fd = openat(b->root_fd, files[i], O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (fd >= 0 && mount_fd("/dev/null", fd, NULL, MS_BIND, NULL) < 0)
                        return hfail(b->st, errno, "masking /%s", files[i]);
        }
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_close_ int fd = openat(b->root_fd, dirs[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd >= 0 && mount_fd("tmpfs", fd, "tmpfs", MS_RDONLY | PROC_FLAGS, "size=0") < 0)
                        return hfail(b->st, errno, "masking /%s", dirs[i]);
        }
        for (size_t i = 0; i < ELEMENTSOF(ro); i++) {
                _cleanup_close_ int fd = openat(b->root_fd, ro[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        continue;
                char p[32];
                if (mount(fdpath(p, fd), fdpath(p, fd), NULL, MS_BIND | MS_REC, NULL) < 0)
                        return hfail(b->st, errno, "binding /%s", ro[i]);
                _cleanup_close_ int top = openat(b->root_fd, ro[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (top < 0 || mount_fd(NULL, top, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | PROC_FLAGS, NULL) < 0)
                        return hfail(b->st, errno, "making /%s read-only", ro[i]);
        }
        return 0;
}

/* /etc/<name> with nook's content: written into the writable layer, or bound from a
 * file in the session dir over an existing regular file when the root is not ours to
 * write; otherwise left as it is, and noted. */
static int etc_file(build *b, const char *name, const char *content) {
        char rel[128];
        snprintf(rel, sizeof(rel), "etc/%s", name);
        if (strchr(name, '/') || strlen(name) > 64)
                return hfail(b->st, EINVAL, "bad /etc file name");
        size_t len = strlen(content);
        if (b->writable) {
                _cleanup_close_ int etc = open_beneath(b->root_fd, "etc", O_DIRECTORY);
                if (etc < 0) {
                        note(b, "no /etc in the root: %s not written", name);
                        return 0;
                }
                /* A root owned by ids this namespace does not map (say, the host's root)
                 * cannot be written even through the overlay (capabilities(7): inode ids
                 * must be mapped): then bind our file instead, below. */
                struct stat st;
                bool symlink = fstatat(etc, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
                if (!symlink || unlinkat(etc, name, 0) == 0) {
                        _cleanup_close_ int fd =
                                openat(etc, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
                        if (fd >= 0 && write(fd, content, len) == (ssize_t)len)
                                return 0;
                        if (fd >= 0 || (errno != EACCES && errno != EPERM && errno != EROFS && errno != EOVERFLOW))
                                return hfail(b->st, errno, "writing /%s", rel);
                }
        }
        _cleanup_close_ int target = open_beneath(b->root_fd, rel, O_PATH);
        struct stat st;
        if (target < 0 || fstat(target, &st) < 0 || !S_ISREG(st.st_mode)) {
                note(b, "/etc/%s left as the root has it", name);
                return 0;
        }
        char src[80];
        snprintf(src, sizeof(src), "etc-%s", name);
        _cleanup_close_ int fd =
                openat(b->h->session_fd, src, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, content, len) != (ssize_t)len)
                return hfail(b->st, errno, "writing the session's copy of /%s", rel);
        if (mount_fd(fdpath((char[32]){ 0 }, fd), target, NULL, MS_BIND, NULL) < 0)
                return hfail(b->st, errno, "binding /%s", rel);
        return 0;
}

static int etc_files(build *b, const nook_msg *m) {
        size_t off = 0;
        uint16_t tag;
        const void *d;
        uint32_t len;
        while (nook_msg_next(m, &off, &tag, &d, &len)) {
                if (tag != T_ETC_FILE || len < 2)
                        continue;
                const char *name = d;
                size_t nlen = strnlen(name, len);
                if (nlen + 1 >= len || ((const char *)d)[len - 1] != 0)
                        return hfail(b->st, EINVAL, "malformed /etc file");
                if (etc_file(b, name, name + nlen + 1) < 0)
                        return -b->st->err;
        }
        return 0;
}

/* ---- the mount plan (resolve_mounts, applied here) ------------------------------------ */

/* The path so far, resolved from the root and never leaving it: with deny_escapes
 * (RESOLVE_BENEATH) an absolute symlink or a ".." past the root is refused (SECURITY.md
 * S4); with follow_within_alias (RESOLVE_IN_ROOT) symlinks read as if the root were "/". */
static int open_step(int rootfd, int dirfd, const char *prefix, const char *comp, bool follow, int flags) {
        struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC),
                                .resolve = RESOLVE_NO_MAGICLINKS | (follow ? RESOLVE_IN_ROOT : RESOLVE_BENEATH) };
        int fd = (int)syscall(SYS_openat2, rootfd, prefix, &how, sizeof(how));
        if (fd < 0 && errno == ENOSYS) /* no openat2: no symlink followed at all */
                fd = openat(dirfd, comp, flags | O_CLOEXEC | O_NOFOLLOW);
        return fd;
}

/* The destination's parent, every missing directory made with mkdirat(2) on the fd of
 * its verified parent (S5: a racing symlink cannot redirect the creation); *ret_last is
 * the final component. */
static int walk_parent(build *b, const plan_mount *pm, char *path, const char **ret_last) {
        int cur = fcntl(b->root_fd, F_DUPFD_CLOEXEC, 3);
        char *comp = path + 1, *slash;
        while (cur >= 0 && (slash = strchr(comp, '/'))) {
                *slash = 0;
                int next = open_step(b->root_fd, cur, path + 1, comp, pm->follow, O_PATH | O_DIRECTORY);
                if (next < 0 && errno == ENOENT) {
                        if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST) {
                                int e = errno;
                                close(cur);
                                return hfail(b->st, e, "creating %s for the mount on %s", path, pm->dest);
                        }
                        next = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                }
                int e = errno;
                close(cur);
                if (next < 0)
                        return hfail(b->st, e, "mount destination %s: %s%s", pm->dest, path,
                                     e == EXDEV || e == ELOOP ? " leads out of the root (refused)" : "");
                *slash = '/';
                comp = slash + 1;
                cur = next;
        }
        *ret_last = comp;
        return cur;
}

/* S6: a destination is judged by what it resolved to, not by its spelling.  At or under
 * the root's /proc or /sys by the kernel's name of the fd (d_path: every symlink
 * resolved, pk -> proc/sys/kernel and /apk -> /proc/sys/kernel under
 * follow_within_alias alike), or on a procfs or sysfs however reached (fstatfs(2)), it
 * is refused: those are nook's (the masks of S14, the facts the workload's setup reads). */
static int kernel_dest(build *b, int fd, const plan_mount *pm) {
        struct statfs sf;
        char path[4096];
        size_t n = strlen(b->root_path);
        if (fstatfs(fd, &sf) < 0 || nook_fd_path(fd, path, sizeof(path)) < 0)
                return hfail(b->st, errno, "mount destination %s", pm->dest);
        const char *rel = strncmp(path, b->root_path, n) == 0 && (path[n] == '/' || !path[n]) ? path + n : NULL;
        if (!rel)
                return hfail(b->st, EXDEV, "mount destination %s leads out of the root (refused)", pm->dest);
        if (sf.f_type == PROC_SUPER_MAGIC || sf.f_type == SYSFS_MAGIC || holder_path_under(rel, "/proc") ||
            holder_path_under(rel, "/sys"))
                return hfail(b->st, EPERM,
                             "mount destination %s reaches %s, at or under /proc or /sys, which nook owns: refused "
                             "(SECURITY.md S6)",
                             pm->dest, rel[0] ? rel : "/");
        return 0;
}

static int open_target(build *b, const plan_mount *pm, bool create) {
        char path[4096];
        snprintf(path, sizeof(path), "%s", pm->dest);
        const char *last = NULL;
        _cleanup_close_ int parent = walk_parent(b, pm, path, &last);
        if (parent < 0 || !last)
                return parent < 0 ? parent : hfail(b->st, EINVAL, "bad mount destination %s", pm->dest);
        int flags = O_PATH | (pm->file ? 0 : O_DIRECTORY);
        int fd = open_step(b->root_fd, parent, path + 1, last, pm->follow, flags);
        if (fd < 0 && errno == ENOENT && create) {
                if (pm->file) {
                        int w = openat(parent, last, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
                        if (w >= 0)
                                close(w);
                } else
                        (void)mkdirat(parent, last, 0755);
                fd = openat(parent, last, flags | O_NOFOLLOW | O_CLOEXEC);
        }
        if (fd < 0)
                return hfail(b->st, errno, "mount destination %s%s", pm->dest,
                             errno == ENOTDIR ? ": a file mount point where a directory is needed, or the reverse"
                             : errno == EXDEV || errno == ELOOP ? ": leads out of the root (refused)"
                                                                : "");
        struct stat st;
        /* a relayed unix socket (socket_relay) is bound like a file */
        if (fstat(fd, &st) < 0 || (pm->file ? !S_ISREG(st.st_mode) && !S_ISSOCK(st.st_mode) : !S_ISDIR(st.st_mode))) {
                close(fd);
                return hfail(b->st, EINVAL, "mount destination %s is not a %s", pm->dest,
                             pm->file ? "regular file" : "directory");
        }
        /* before mounting (S6); a directory made under /proc or /sys would have failed:
         * procfs and sysfs refuse mkdir, the masks are read-only */
        if (create && kernel_dest(b, fd, pm) < 0) {
                close(fd);
                return -b->st->err;
        }
        return fd;
}

static int make_read_only(build *b, const plan_mount *pm) {
        _cleanup_close_ int top = open_target(b, pm, false); /* the new mount, reached anew */
        if (top < 0 || read_only_tree(top) < 0)
                return top < 0 ? top : hfail(b->st, errno, "making %s read-only", pm->dest);
        return 0;
}

static int snapshot_layer(build *b, const plan_mount *pm, int src, int dst, int n) {
        _cleanup_close_ int top = openat(b->h->session_fd, "mnt", O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        char up[32], work[32], data[8192];
        snprintf(up, sizeof(up), "ws-upper-%d", n);
        snprintf(work, sizeof(work), "ws-work-%d", n);
        if (top < 0 || mkdirat(top, up, 0755) < 0 || mkdirat(top, work, 0700) < 0 || fchdir(top) < 0)
                return hfail(b->st, errno, "making the snapshot layer of %s", pm->dest);
        /* the lower layer by our fd of the source (S31) */
        snprintf(data, sizeof(data), "lowerdir=/proc/self/fd/%d,upperdir=%s,workdir=%s,userxattr", src, up, work);
        if (mount_fd("overlay", dst, "overlay", 0, data) < 0)
                return hfail(b->st, errno, "mounting the snapshot of %s", pm->dest);
        return 0;
}

static int apply_one(build *b, const plan_mount *pm, int n) {
        _cleanup_close_ int dst = open_target(b, pm, true);
        if (dst < 0)
                return dst;
        if (!strcmp(pm->kind, "tmpfs")) {
                char data[256];
                unsigned long flags = holder_tmpfs_flags(pm->options, data, sizeof(data));
                limits_tmpfs_clamp(b->h, data, sizeof(data), false);
                if (mount_fd("tmpfs", dst, "tmpfs", flags, data) < 0)
                        return hfail(b->st, errno, "mounting a tmpfs on %s", pm->dest);
                _cleanup_close_ int top = open_target(b, pm, false);
                if (top >= 0)
                        limits_tmpfs_charge(b->h, top);
                return 0;
        }
        char what[4200]; /* errors name the destination, never the host path (docs/cli.md) */
        snprintf(what, sizeof(what), "the source of %s", pm->dest);
        _cleanup_close_ int src = host_source(b, pm->fd, pm->file ? 0 : O_DIRECTORY, what);
        struct stat ss, ds;
        if (src < 0)
                return src;
        if (fstat(src, &ss) < 0 || S_ISDIR(ss.st_mode) == (bool)pm->file)
                return hfail(b->st, EINVAL, "the source of %s changed type since it was planned", pm->dest);
        if (!strcmp(pm->kind, "snapshot"))
                return snapshot_layer(b, pm, src, dst, n);
        char p[32];
        if (mount(fdpath(p, src), fdpath((char[32]){ 0 }, dst), NULL, MS_BIND | MS_REC, NULL) < 0)
                return hfail(b->st, errno, "binding %s", pm->dest);
        /* re-check (S4): the destination reached again is the source we opened */
        _cleanup_close_ int top = open_target(b, pm, false);
        if (top < 0 || fstat(top, &ds) < 0 || ds.st_dev != ss.st_dev || ds.st_ino != ss.st_ino)
                return top < 0 ? top : hfail(b->st, EXDEV, "%s changed while it was being mounted: refused", pm->dest);
        return pm->ro ? make_read_only(b, pm) : 0;
}

static int apply_mounts(build *b, const nook_msg *m) {
        size_t off = 0;
        uint16_t tag;
        const void *d;
        uint32_t len;
        int n = 0;
        while (nook_msg_next(m, &off, &tag, &d, &len)) {
                plan_mount pm;
                if (tag != T_MOUNT)
                        continue;
                const char *why = holder_mount_parse(d, len, &pm);
                if (why)
                        return hfail(b->st, EINVAL, "malformed mount plan: mount %d has %s", n, why);
                int r = apply_one(b, &pm, n++);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The secret files (secrets.c), each bound read-only, nosuid, nodev and noexec at its
 * destination, reached like a mount of the plan (no symlink out of the root, nothing
 * under /proc or /sys) and checked to be that file after the bind (S4). */
/* An id of the image's User spec part: digits, or a name in the root's etc/passwd
 * (etc/group when group), read beneath the root without following a symlink (S22). */
static bool lookup_id(build *b, const char *part, bool group, uint32_t *ret_id, uint32_t *ret_gid) {
        char *end;
        unsigned long v = strtoul(part, &end, 10);
        if (*part && !*end && v < 4294967295ul) {
                *ret_id = (uint32_t)v;
                return true;
        }
        _cleanup_close_ int fd = open_beneath(b->root_fd, group ? "etc/group" : "etc/passwd", O_RDONLY);
        _cleanup_fclose_ FILE *f = fd >= 0 ? fdopen(fd, "re") : NULL;
        if (f)
                fd = -1; /* the FILE has it */
        char line[1024];
        size_t n = strlen(part);
        for (int lines = 0; f && lines < 10000 && fgets(line, sizeof(line), f); lines++) {
                char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2 || (size_t)(c1 - line) != n || strncmp(line, part, n) != 0)
                        continue;
                *ret_id = (uint32_t)strtoul(c2 + 1, &end, 10);
                char *c3 = strchr(c2 + 1, ':');
                if (ret_gid && c3)
                        *ret_gid = (uint32_t)strtoul(c3 + 1, NULL, 10);
                return end != c2 + 1;
        }
        return false;
}

/* The default owner of the secret files: the user the processes run as by default
 * (the image's User), else the session's own id; the secret's uid=/gid= win. */
static void secret_owner(build *b, const nook_msg *m, uid_t *uid, gid_t *gid) {
        *uid = (uid_t)nook_msg_u64(m, T_SECRET_UID, getuid());
        *gid = (gid_t)nook_msg_u64(m, T_SECRET_GID, getgid());
        const char *spec = nook_msg_str(m, T_SECRET_USER);
        char u[128];
        if (!spec || strlen(spec) >= sizeof(u))
                return;
        snprintf(u, sizeof(u), "%s", spec);
        char *colon = strchr(u, ':');
        if (colon)
                *colon++ = 0;
        uint32_t id, g = (uint32_t)*gid;
        if (!lookup_id(b, u, false, &id, &g)) {
                note(b, "secret files owned by the session's own id: the image's User %s is not in its /etc/passwd",
                     spec);
                return;
        }
        if (colon && !lookup_id(b, colon, true, &g, NULL))
                g = (uint32_t)*gid;
        *uid = (uid_t)id;
        *gid = (gid_t)g;
}

static int apply_secrets(build *b, const nook_msg *m) {
        hsecrets *s = &b->h->sec;
        uid_t uid;
        gid_t gid;
        if (!s->n)
                return 0;
        secret_owner(b, m, &uid, &gid);
        if (holder_secrets_write(b->h, uid, gid, b->notes, b->notes_size, b->st) < 0)
                return -b->st->err;
        for (size_t i = 0; i < s->n; i++) {
                const hsecret *v = &s->v[i];
                if (v->is_env)
                        continue;
                plan_mount pm = { .kind = "secret", .dest = v->target, .ro = true, .file = true, .fd = UINT64_MAX };
                char name[24], p[32];
                snprintf(name, sizeof(name), "%zu", i);
                _cleanup_close_ int src = openat(s->dir_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                _cleanup_close_ int dst = src < 0 ? -1 : open_target(b, &pm, true);
                if (src < 0)
                        return hfail(b->st, errno, "opening secret %s", v->ref);
                if (dst < 0)
                        return dst;
                if (mount(fdpath(p, src), fdpath((char[32]){ 0 }, dst), NULL, MS_BIND, NULL) < 0)
                        return hfail(b->st, errno, "binding secret %s at %s", v->ref, v->target);
                _cleanup_close_ int top = open_target(b, &pm, false);
                struct mount_attr a = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                                    MOUNT_ATTR_NOEXEC };
                if (top < 0 || !same_inode(src, top))
                        return top < 0 ? top
                                       : hfail(b->st, EXDEV, "%s changed while it was being mounted: refused",
                                               v->target);
                if (syscall(SYS_mount_setattr, top, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0 &&
                    mount_fd(NULL, top, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                             NULL) < 0)
                        return hfail(b->st, errno, "making secret %s read-only", v->ref);
        }
        holder_secrets_unstage(b->h);
        return 0;
}

/* The image's WorkingDir, made when the image lacks it (docker does the same), one
 * component at a time without following a symlink; a failure is a note, not an error:
 * the process then says which directory it could not enter. */
static void make_workdir(build *b, const char *path) {
        if (!path || !b->writable)
                return;
        int fd = openat(b->root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        char comp[256];
        for (const char *p = path; fd >= 0 && *p;) {
                while (*p == '/')
                        p++;
                const char *e = strchrnul(p, '/');
                if (e == p)
                        break;
                snprintf(comp, sizeof(comp), "%.*s", (int)(e - p), p);
                int next = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0 && errno == ENOENT && mkdirat(fd, comp, 0755) == 0)
                        next = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0)
                        note(b, "the image's WorkingDir %s could not be made: %s", path, strerror(errno));
                close(fd);
                fd = next;
                p = e;
        }
        if (fd >= 0)
                close(fd);
}

/* Verified after every mount of the plan (S6): /proc and /sys of the root are still the
 * procfs and sysfs nook mounted, and so is /proc/sys/kernel, whose facts the
 * workload's setup may read. */
static int check_kernel_dirs(build *b) {
        static const struct {
                const char *path;
                long magic;
        } want[] = { { "proc", PROC_SUPER_MAGIC }, { "proc/sys/kernel", PROC_SUPER_MAGIC }, { "sys", SYSFS_MAGIC } };
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                _cleanup_close_ int fd = open_beneath(b->root_fd, want[i].path, O_PATH | O_DIRECTORY);
                struct statfs sf;
                if (fd < 0 || fstatfs(fd, &sf) < 0 || sf.f_type != want[i].magic)
                        return hfail(b->st, fd < 0 ? errno : EPERM,
                                     "/%s in the root is not what nook mounted there: refused (SECURITY.md S6)",
                                     want[i].path);
        }
        return 0;
}

/* pivot_root(2) with new_root == put_old: the old root ends up stacked under the new
 * one and is detached right away (the trick runc and bubblewrap use). */
static int pivot(build *b) {
        if (fchdir(b->root_fd) < 0)
                return hfail(b->st, errno, "entering the new root");
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                return hfail(b->st, errno, "pivot_root");
        if (umount2(".", MNT_DETACH) < 0)
                return hfail(b->st, errno, "detaching the old root");
        if (chdir("/") < 0)
                return hfail(b->st, errno, "chdir /");
        return 0;
}

int holder_prepare(holder *h, const nook_msg *m, char *notes, size_t notes_size, hstatus *st) {
        build b = { .h = h, .msg = m, .root_fd = -1, .notes = notes, .notes_size = notes_size, .st = st };
        const char *hostname = nook_msg_str(m, T_HOSTNAME);
        bool image = nook_msg_has(m, T_LAYERS_DIR);
        if (!image && !nook_msg_has(m, T_ROOTFS_FD))
                return hfail(st, EINVAL, "no root directory given");
        int r = mount_overlay_root(&b, image, nook_msg_u64(m, T_ROOTFS_RW, 0) == 1);
        if (r >= 0 && (r = nook_fd_path(b.root_fd, b.root_path, sizeof(b.root_path))) < 0)
                r = hfail(st, -r, "naming the root");
        if (r >= 0)
                r = mount_proc(&b);
        if (r >= 0)
                r = mount_dev(&b);
        if (r >= 0)
                r = mount_sys(&b);
        if (r >= 0)
                r = mask_paths(&b);
        if (r >= 0)
                r = etc_files(&b, m);
        if (r >= 0)
                r = apply_mounts(&b, m);
        if (r >= 0)
                r = apply_secrets(&b, m);
        if (r >= 0)
                make_workdir(&b, nook_msg_str(m, T_WORKDIR));
        if (r >= 0)
                r = check_kernel_dirs(&b);
        if (r >= 0 && hostname && sethostname(hostname, strlen(hostname)) < 0)
                r = hfail(st, errno, "setting the hostname");
        if (r >= 0 && nook_msg_u64(m, T_ROOT_RO, 0) == 1 && b.writable && read_only_tree(b.root_fd) < 0)
                r = hfail(st, errno, "making the root read-only");
        if (r >= 0)
                r = pivot(&b);
        if (b.root_fd >= 0)
                close(b.root_fd);
        return r;
}
