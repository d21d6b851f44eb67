/* nook-holder — the root of prepare_environment under a writable layer: kernel
 * overlayfs over the store's layer dirs or the user's directory (userxattr),
 * fuse-overlayfs started here in its own mount namespace and mounted through a
 * /dev/fuse fd we open, or a private merged copy. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "helper.h"
#include "util/hostpath.h"
#include "util/macro.h"

/* overlayfs(5): ',' ':' '\' inside a path are escaped with '\'. */
static size_t put_escaped(char *out, size_t n, size_t size, const char *s) {
        for (; *s && n + 3 < size; s++) {
                if (*s == ',' || *s == ':' || *s == '\\')
                        out[n++] = '\\';
                out[n++] = *s;
        }
        out[n] = 0;
        return n;
}

/* What lies under the writable layer: the store's layers of an image (T_LOWER names
 * under the layers dir, our cwd), or the user's directory, by our fd of it (S31). */
typedef struct root_lower {
        const nook_msg *m;
        int layers; /* an image: the store's layers dir; -1 for a directory */
        int dir;    /* a directory root: its fd; -1 for an image */
} root_lower;

/* "lowerdir=A:B:C" relative to the layers dir (our cwd while mounting: shorter than
 * absolute paths, so more layers fit in the one page mount(2) takes); a directory root
 * is its fd, which fuse-overlayfs inherits. */
static int lower_option(const root_lower *lo, char *out, size_t size) {
        const nook_msg *m = lo->m;
        size_t n = (size_t)snprintf(out, size, "lowerdir=");
        if (lo->dir >= 0)
                return (int)(n + (size_t)snprintf(out + n, size - n, "/proc/self/fd/%d", lo->dir));
        size_t off = 0, count = 0;
        uint16_t tag;
        const void *d;
        uint32_t len;
        while (nook_msg_next(m, &off, &tag, &d, &len))
                if (tag == T_LOWER && len && ((const char *)d)[len - 1] == 0) {
                        if (count++)
                                out[n++] = ':';
                        n = put_escaped(out, n, size, d);
                        if (n + 64 >= size)
                                return -E2BIG;
                }
        return count ? (int)n : -EINVAL;
}

/* The writable layer (S31): the client's fd of its dir reached again here and proved
 * the same inode (nook_host_reopen); upper/ and work/ opened below it, never through a
 * symlink.  The kernel gets them as /proc/self/fd/N (no path is resolved again);
 * fuse-overlayfs, another program, the kernel's name of the dir (d_path, no symlink). */
typedef struct upper_dirs {
        int up, work;
        char path[4096];
} upper_dirs;

static void upper_close(upper_dirs *u) {
        if (u->up >= 0)
                close(u->up);
        if (u->work >= 0)
                close(u->work);
}

static int upper_open(const nook_msg *m, upper_dirs *u, hstatus *st) {
        uint64_t i = nook_msg_u64(m, T_UPPER_FD, UINT64_MAX);
        if (i >= m->n_fds || m->fds[i] < 0)
                return hfail(st, EBADF, "the request carries no fd of the writable layer");
        _cleanup_close_ int dir = nook_host_reopen(m->fds[i], O_DIRECTORY);
        if (dir < 0)
                return hfail(st, -dir, "the writable layer changed after nook opened it: refused (SECURITY.md S31)");
        u->up = openat(dir, "upper", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        u->work = openat(dir, "work", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int r = u->up < 0 || u->work < 0 ? -errno : nook_fd_path(dir, u->path, sizeof(u->path));
        return r < 0 ? hfail(st, -r, "opening the writable layer's upper/ and work/") : 0;
}

static int upper_options(const upper_dirs *u, bool by_fd, char *out, size_t n, size_t size) {
        if (by_fd) {
                n += (size_t)snprintf(out + n, size - n, ",upperdir=/proc/self/fd/%d,workdir=/proc/self/fd/%d", u->up,
                                      u->work);
                return n + 2 >= size ? -E2BIG : (int)n;
        }
        n += (size_t)snprintf(out + n, size - n, ",upperdir=");
        n = put_escaped(out, n, size, u->path);
        n += (size_t)snprintf(out + n, size - n, "/upper,workdir=");
        n = put_escaped(out, n, size, u->path);
        n += (size_t)snprintf(out + n, size - n, "/work");
        return n + 2 >= size ? -E2BIG : (int)n;
}

/* More layers than fit in mount(2)'s one page of options (images may have 127): the new
 * mount API takes them one at a time ("lowerdir+", Linux 6.8, overlayfs(5)). */
static int mount_overlay_layers(const nook_msg *m, const upper_dirs *u, int root, hstatus *st) {
        _cleanup_close_ int fs = fsopen("overlay", FSOPEN_CLOEXEC);
        if (fs < 0)
                return hfail(st, errno, "the image has too many layers for mount(2), and fsopen failed");
        size_t off = 0;
        uint16_t tag;
        const void *d;
        uint32_t len;
        while (nook_msg_next(m, &off, &tag, &d, &len))
                if (tag == T_LOWER && len && ((const char *)d)[len - 1] == 0 &&
                    fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", d, 0) < 0)
                        return hfail(st, errno, "the image has too many layers for this kernel's overlayfs");
        char up[32], work[32];
        snprintf(up, sizeof(up), "/proc/self/fd/%d", u->up);
        snprintf(work, sizeof(work), "/proc/self/fd/%d", u->work);
        if (fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", up, 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_STRING, "workdir", work, 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0)
                return hfail(st, errno, "configuring overlayfs over the image's layers");
        if (nook_msg_u64(m, T_THROWAWAY, 0) == 1)
                (void)fsconfig(fs, FSCONFIG_SET_FLAG, "volatile", NULL, 0); /* see mount_kernel_overlay */
        if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return hfail(st, errno, "configuring overlayfs over the image's layers");
        _cleanup_close_ int mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (mnt < 0 || move_mount(mnt, "", root, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return hfail(st, errno, "mounting overlayfs over the image's layers");
        return 0;
}

static int mount_kernel_overlay(const root_lower *lo, const upper_dirs *u, int root, hstatus *st) {
        char data[4096];
        int n = lower_option(lo, data, sizeof(data));
        if (n >= 0)
                n = upper_options(u, true, data, (size_t)n, sizeof(data));
        if (n == -E2BIG)
                return mount_overlay_layers(lo->m, u, root, st);
        if (n < 0)
                return hfail(st, -n, "the image names no layer");
        size_t k = (size_t)n;
        /* A writable layer removed with the session needs no syncfs of its filesystem
         * at unmount (overlayfs(5) "volatile"): on the disk of the run dir (/tmp/nook-UID
         * without XDG_RUNTIME_DIR) that sync was most of a run's teardown.  A kept layer
         * (--keep-upper) is synced as before.  Kernels before 5.10 refuse the option. */
        bool throwaway = nook_msg_u64(lo->m, T_THROWAWAY, 0) == 1;
        snprintf(data + k, sizeof(data) - k, ",userxattr%s", throwaway ? ",volatile" : "");
        char p[32];
        snprintf(p, sizeof(p), "/proc/self/fd/%d", root);
        /* a directory root keeps its setuid files and devices, as it always did */
        unsigned long flags = lo->dir >= 0 ? 0 : MS_NOSUID | MS_NODEV;
        int r = mount("overlay", p, "overlay", flags, data);
        if (r < 0 && errno == EINVAL && throwaway) {
                data[k] = 0;
                snprintf(data + k, sizeof(data) - k, ",userxattr");
                r = mount("overlay", p, "overlay", flags, data);
        }
        if (r < 0)
                return hfail(st, errno, "mounting overlayfs over %s",
                             lo->dir >= 0 ? "the root directory" : "the image's layers");
        return 0;
}

/* fuse-overlayfs runs from a memfd copy whose mode (0111) it cannot read: execve(2)
 * then leaves it non-dumpable (fs/exec.c would_dump), so no workload of the session,
 * same uid or not, can ptrace it, open its /proc/<pid>/mem, root or fds (S1, S3) —
 * it holds the host's mount tree.  CAP_DAC_* are out of the effective set for the
 * exec only, or the permission check would pass. */
static int sealed_copy(const char *bin) {
        _cleanup_close_ int in = open(bin, O_RDONLY | O_CLOEXEC);
        int fd = (int)syscall(SYS_memfd_create, "fuse-overlayfs", MFD_CLOEXEC);
        struct stat s;
        if (in < 0 || fd < 0 || fstat(in, &s) < 0) {
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        for (off_t off = 0; off < s.st_size;)
                if (sendfile(fd, in, &off, (size_t)(s.st_size - off)) <= 0) {
                        close(fd);
                        return -1;
                }
        if (fchmod(fd, 0111) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

static void drop_dac_effective(void) {
        struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
        struct __user_cap_data_struct data[2];
        if (syscall(SYS_capget, &hdr, data) < 0)
                return;
        data[0].effective &= ~((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH));
        (void)syscall(SYS_capset, &hdr, data);
}

_Noreturn static void fuse_child(holder *h, const root_lower *lo, const upper_dirs *u, int fuse_fd, int exe,
                                 bool squash) {
        char opts[65536], fdarg[32]; /* an argument, not mount(2)'s page: 127 layers fit */
        int n = lower_option(lo, opts, sizeof(opts));
        if (n >= 0)
                n = upper_options(u, false, opts, (size_t)n, sizeof(opts));
        if (n < 0)
                _exit(126);
        /* xattr_permissions=2: owners and modes the workload sets are kept in the upper
         * layer's user.fuseoverlayfs.override_stat, so the upper stays the caller's
         * files, removable without a user namespace */
        n += snprintf(opts + n, sizeof(opts) - (size_t)n, ",xattr_permissions=2");
        if (squash) /* one id mapped: every owner shows as it (root, or the caller in keep-id) */
                snprintf(opts + n, sizeof(opts) - (size_t)n, ",squash_to_uid=%u,squash_to_gid=%u", (unsigned)getuid(),
                         (unsigned)getgid());
        /* its own mount namespace: pivot_root in ours must not move its root or cwd */
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            (lo->layers >= 0 && fchdir(lo->layers) < 0) || (lo->dir >= 0 && fcntl(lo->dir, F_SETFD, 0) < 0))
                _exit(126);
        int log = openat(h->session_fd, "fuse-overlayfs.log", O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC,
                         0600);
        if (log >= 0) {
                dup2(log, 1);
                dup2(log, 2);
        }
        dup2(h->devnull_fd, 0);
        if (fcntl(fuse_fd, F_SETFD, 0) < 0)
                _exit(126);
        snprintf(fdarg, sizeof(fdarg), "/dev/fd/%d", fuse_fd);
        char *argv[] = { "fuse-overlayfs", "-f", "-o", opts, fdarg, NULL };
        char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
        drop_dac_effective();
        syscall(SYS_execveat, exe, "", argv, envp, AT_EMPTY_PATH);
        _exit(127);
}

static int mount_fuse_overlayfs(holder *h, const root_lower *lo, const upper_dirs *u, int root, hstatus *st) {
        const nook_msg *m = lo->m;
        const char *bin = nook_msg_str(m, T_FUSE_BIN);
        if (!bin)
                return hfail(st, ENOENT, "fuse-overlayfs is not installed");
        _cleanup_close_ int exe = sealed_copy(bin);
        if (exe < 0)
                return hfail(st, errno, "reading %s", bin);
        _cleanup_close_ int fuse = open("/dev/fuse", O_RDWR | O_CLOEXEC);
        if (fuse < 0)
                return hfail(st, errno, "opening /dev/fuse");
        /* allow_other in a user namespace admits only processes of this namespace and
         * its children (fs/fuse/dir.c fuse_allow_current_process); without it, a
         * workload running as another uid of the image could not read its own root */
        char data[160], p[32];
        snprintf(data, sizeof(data), "fd=%d,rootmode=40000,user_id=%u,group_id=%u,default_permissions,allow_other",
                 fuse, (unsigned)getuid(), (unsigned)getgid()); /* mapped in every identity (keep-id too) */
        snprintf(p, sizeof(p), "/proc/self/fd/%d", root);
        if (mount("fuse-overlayfs", p, "fuse.fuse-overlayfs", MS_NOSUID | MS_NODEV, data) < 0)
                return hfail(st, errno, "mounting FUSE for fuse-overlayfs");
        pid_t pid = fork();
        if (pid < 0)
                return hfail(st, errno, "starting fuse-overlayfs");
        if (pid == 0)
                fuse_child(h, lo, u, fuse, exe, nook_msg_u64(m, T_SQUASH, 0) == 1);
        h->fuse_pid = pid;
        /* only the daemon holds /dev/fuse now: when it dies the connection aborts and
         * every access fails with ENOTCONN instead of hanging */
        return 0;
}

/* ---- copy: the layers merged into a private directory ---- */

/* skipped: NULL copies all or fails; else (a directory of someone else's) what we may
 * not read is left out and counted, as overlayfs would refuse it too. */
static int copy_tree(int src, int dst, unsigned *skipped);

/* What a whiteout or an opaque directory of an upper layer hides goes, subdirectories
 * included; never following a symlink (the tree is the image's, inside our tmpfs). */
static void remove_tree(int dirfd, const char *name) {
        if (unlinkat(dirfd, name, 0) == 0 || errno != EISDIR)
                return;
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        for (struct dirent *e; d && (e = readdir(d));)
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                        remove_tree(fd, e->d_name);
        if (d)
                closedir(d);
        else if (fd >= 0)
                close(fd);
        (void)unlinkat(dirfd, name, AT_REMOVEDIR);
}

static void empty_dir(int fd) {
        DIR *d = fdopendir(openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        for (struct dirent *e; d && (e = readdir(d));)
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                        remove_tree(fd, e->d_name);
        if (d)
                closedir(d);
}

static bool skip_unreadable(unsigned *skipped, int fd) {
        if (fd >= 0 || !skipped || errno != EACCES)
                return false;
        (*skipped)++;
        return true;
}

static int copy_entry(int src, int dst, const char *name, unsigned *skipped) {
        struct stat s;
        if (fstatat(src, name, &s, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (S_ISCHR(s.st_mode) && s.st_rdev == makedev(0, 0)) { /* a whiteout: the lower entry goes */
                remove_tree(dst, name);
                return 0;
        }
        struct stat d;
        bool exists = fstatat(dst, name, &d, AT_SYMLINK_NOFOLLOW) == 0;
        if (exists && !(S_ISDIR(s.st_mode) && S_ISDIR(d.st_mode))) {
                remove_tree(dst, name);
                exists = false;
        }
        if (S_ISDIR(s.st_mode)) {
                if (!(exists && S_ISDIR(d.st_mode)) && mkdirat(dst, name, 0700) < 0)
                        return -errno;
                _cleanup_close_ int sfd = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                _cleanup_close_ int dfd = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (dfd >= 0 && skip_unreadable(skipped, sfd)) /* an empty directory in its place */
                        return fchmod(dfd, s.st_mode & 07777) < 0 ? -errno : 0;
                if (sfd < 0 || dfd < 0)
                        return -errno;
                char v[4];
                if (!skipped && fgetxattr(sfd, "user.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y')
                        empty_dir(dfd);
                int r = copy_tree(sfd, dfd, skipped);
                if (r < 0)
                        return r;
                return fchmod(dfd, s.st_mode & 07777) < 0 ? -errno : 0;
        }
        if (S_ISLNK(s.st_mode)) {
                char t[4096];
                ssize_t n = readlinkat(src, name, t, sizeof(t) - 1);
                if (n < 0)
                        return -errno;
                t[n] = 0;
                return symlinkat(t, dst, name) < 0 ? -errno : 0;
        }
        if (S_ISFIFO(s.st_mode))
                return mkfifoat(dst, name, s.st_mode & 07777) < 0 ? -errno : 0;
        if (!S_ISREG(s.st_mode))
                return 0;
        _cleanup_close_ int in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (skip_unreadable(skipped, in))
                return 0;
        _cleanup_close_ int out = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (in < 0 || out < 0)
                return -errno;
        for (off_t left = s.st_size; left > 0;) {
                /* copy_file_range(2) refuses some pairs of filesystems (EXDEV before 5.19
                 * and for tmpfs targets); sendfile(2) takes any */
                ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
                if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP))
                        n = sendfile(out, in, NULL, (size_t)left);
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                left -= n;
        }
        return fchmod(out, s.st_mode & 07777) < 0 ? -errno : 0;
}

static int copy_tree(int src, int dst, unsigned *skipped) {
        DIR *d = fdopendir(openat(src, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!d)
                return -errno;
        int r = 0;
        for (struct dirent *e; r == 0 && (e = readdir(d));)
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                        r = copy_entry(src, dst, e->d_name, skipped);
        closedir(d);
        return r;
}

static int copy_layers(const root_lower *lo, int root, char *why, size_t why_size, hstatus *st) {
        _cleanup_close_ int dst = openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dst < 0)
                return hfail(st, errno, "opening the root mount point");
        if (lo->dir >= 0) {
                unsigned skipped = 0;
                int r = copy_tree(lo->dir, dst, &skipped);
                if (r < 0) {
                        empty_dir(dst); /* the next way must not find half a copy */
                        return hfail(st, -r, "copying the root directory");
                }
                if (skipped)
                        snprintf(why + strlen(why), why_size - strlen(why),
                                 "%s%u entries of the root directory that you may not read are left out of the copy",
                                 why[0] ? "; " : "", skipped);
        } else {
                const char *lower[512];
                size_t n = 0, off = 0;
                uint16_t tag;
                const void *d;
                uint32_t len;
                while (nook_msg_next(lo->m, &off, &tag, &d, &len) && n < ELEMENTSOF(lower))
                        if (tag == T_LOWER && len && ((const char *)d)[len - 1] == 0)
                                lower[n++] = d;
                for (size_t i = n; i-- > 0;) { /* bottom first */
                        _cleanup_close_ int src =
                                openat(lo->layers, lower[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        int r = src < 0 ? -errno : copy_tree(src, dst, NULL);
                        if (r < 0) {
                                empty_dir(dst);
                                return hfail(st, -r, "copying layer %zu of the image", n - i);
                        }
                }
        }
        /* pivot_root(2) wants a mount point */
        char p[32];
        snprintf(p, sizeof(p), "/proc/self/fd/%d", root);
        return mount(p, p, NULL, MS_BIND, NULL) < 0 ? hfail(st, errno, "binding the copied root") : 0;
}

/* fuse-overlayfs answered FUSE's INIT, a getattr and a readdir of its root: it serves.
 * The root is reached by name from top: an fd of the mount point taken before the mount
 * (root) names the directory under it, and /proc/self/fd/N jumps to that, crossing no
 * mount (path_openat, nd_jump_link).  A daemon that dies at start leaves ENOTCONN here;
 * its mount is taken away and the daemon reaped, so that it is not reported as the
 * session's root dying later. */
static int fuse_serving(holder *h, int top, hstatus *st) {
        _cleanup_close_ int fd = openat(top, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int e = fd < 0 ? errno : 0;
        struct stat s;
        if (!e && fstat(fd, &s) < 0)
                e = errno;
        DIR *d = e ? NULL : fdopendir(fcntl(fd, F_DUPFD_CLOEXEC, 3));
        if (!e && !d)
                e = errno;
        errno = 0;
        if (d && !readdir(d)) /* "." at least: NULL is a failure */
                e = errno ? errno : EIO;
        if (d)
                closedir(d);
        if (!e)
                return 0;
        char p[48], died[48] = "";
        snprintf(p, sizeof(p), "/proc/self/fd/%d/root", top);
        (void)umount2(p, MNT_DETACH);
        int status;
        if (h->fuse_pid > 0 && kill(h->fuse_pid, SIGKILL) == 0 && waitpid(h->fuse_pid, &status, 0) == h->fuse_pid &&
            WIFEXITED(status))
                snprintf(died, sizeof(died), ", it exited with status %d", WEXITSTATUS(status));
        h->fuse_pid = 0;
        return hfail(st, e,
                     "fuse-overlayfs did not serve the root%s (its output: fuse-overlayfs.log in the session dir)",
                     died);
}

static int try_driver(holder *h, const root_lower *lo, const upper_dirs *u, const char *d, int top, int root, char *why,
                      size_t why_size, hstatus *st) {
        if (!strcmp(d, "overlay"))
                return mount_kernel_overlay(lo, u, root, st);
        if (!strcmp(d, "fuse-overlayfs")) {
                int r = mount_fuse_overlayfs(h, lo, u, root, st);
                return r < 0 ? r : fuse_serving(h, top, st);
        }
        return copy_layers(lo, root, why, why_size, st);
}

/* The drivers to try for want: "auto" is overlay, fuse-overlayfs, copy; "auto:A,B,…"
 * exactly A, B, …; "auto:A" A first, then the others in auto's order; anything else
 * that one driver alone (asked for: never another). */
static size_t driver_order(const char *want, const char *order[4]) {
        static const char *const all[] = { "overlay", "fuse-overlayfs", "copy" };
        size_t n = 0;
        if (strncmp(want, "auto", 4) != 0 || (want[4] && want[4] != ':')) {
                order[n++] = want;
                return n;
        }
        const char *list = want[4] ? want + 5 : "";
        for (const char *c = list; *c && n < 3;) {
                size_t len = strcspn(c, ",");
                for (size_t i = 0; i < ELEMENTSOF(all); i++)
                        if (strlen(all[i]) == len && !strncmp(c, all[i], len))
                                order[n++] = all[i];
                c += len + (c[len] == ',');
        }
        if (!strchr(list, ','))
                for (size_t i = 0; i < ELEMENTSOF(all); i++)
                        if (!(n && order[0] == all[i]))
                                order[n++] = all[i];
        return n;
}

/* Builds the root on the directory fd root (the mount point "root" of the session
 * tmpfs at top) from lo under the writable layer u; *driver gets the driver used, the
 * reasons a driver was passed over go to why. */
static int build_root(holder *h, const root_lower *lo, const upper_dirs *u, int top, int root, const char **driver,
                      char *why, size_t why_size, hstatus *st) {
        const char *want = nook_msg_str(lo->m, T_DRIVER);
        const char *order[4];
        size_t n = driver_order(want ? want : "auto", order);
        why[0] = 0;
        int r = -1;
        for (size_t i = 0; r < 0 && i < n; i++) {
                if (i > 0)
                        snprintf(why + strlen(why), why_size - strlen(why), "%s%s failed here (%s)", why[0] ? "; " : "",
                                 order[i - 1], st->msg);
                *driver = order[i];
                r = try_driver(h, lo, u, order[i], top, root, why, why_size, st);
        }
        if (r < 0 && n == 1 && strncmp(want, "auto", 4) != 0) /* asked for: never another */
                snprintf(st->msg + strlen(st->msg), sizeof(st->msg) - strlen(st->msg),
                         " (--rootfs-driver %s was asked for: 'nook caps' tells what this host lacks; "
                         "--rootfs-driver auto passes over a driver that fails)",
                         want);
        if (r >= 0 && !strcmp(*driver, "copy"))
                snprintf(why + strlen(why), why_size - strlen(why),
                         "%sdegraded: the root is a private copy of the %s (slower start, more memory)",
                         why[0] ? "; " : "", lo->dir >= 0 ? "directory" : "image");
        return r < 0 ? r : 0;
}

int holder_image_root(holder *h, const nook_msg *m, int top, int root, const char **driver, char *why, size_t why_size,
                      hstatus *st) {
        const char *dir = nook_msg_str(m, T_LAYERS_DIR);
        const char *upper = nook_msg_str(m, T_UPPER);
        if (!nook_msg_has(m, T_DRIVER) || !dir || !upper || upper[0] != '/')
                return hfail(st, EINVAL, "an image root needs its layers and its writable layer");
        _cleanup_close_ int layers = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (layers < 0 || fchdir(layers) < 0)
                return hfail(st, errno, "opening the store's layers");
        _cleanup_(upper_close) upper_dirs u = { .up = -1, .work = -1 };
        if (upper_open(m, &u, st) < 0)
                return -st->err;
        root_lower lo = { .m = m, .layers = layers, .dir = -1 };
        return build_root(h, &lo, &u, top, root, driver, why, why_size, st);
}

int holder_dir_root(holder *h, const nook_msg *m, int top, int root, int src, const char **driver, char *why,
                    size_t why_size, hstatus *st) {
        _cleanup_(upper_close) upper_dirs u = { .up = -1, .work = -1 };
        u.up = openat(top, "upper", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        u.work = openat(top, "work", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int r = u.up < 0 || u.work < 0 ? -errno : nook_fd_path(top, u.path, sizeof(u.path));
        if (r < 0)
                return hfail(st, -r, "opening the writable layer's upper/ and work/");
        root_lower lo = { .m = m, .layers = -1, .dir = src };
        return build_root(h, &lo, &u, top, root, driver, why, why_size, st);
}
