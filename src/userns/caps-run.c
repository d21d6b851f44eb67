/* nook userns — capability_report, measuring half: two throwaway children unshare user,
 * mount, pid and net namespaces (unshare(2); mount(2) of tmpfs, bind, overlay, fuse, proc;
 * mount_setattr(2); /dev/net/tun; libnftables) and report step by step over CLOEXEC pipes;
 * the parent spawns `fuse-overlayfs`/`slirp4netns --version` and reaps everything. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <dlfcn.h>
#include <nftables/libnftables.h>
#include <seccomp.h>

#include "util/error.h"
#include "util/macro.h"
#include "util/proc.h"
#include "util/strbuf.h"
#include "util/clock.h"

#include "userns/caps-run.h"

const char *caps_errname(int e) {
        const char *n = strerrorname_np(e);
        return n ? n : "E?";
}

const char *caps_errdesc(int e) {
        const char *d = strerrordesc_np(e);
        return d ? d : "unknown error";
}

static int write_file(const char *path, const char *s) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0)
                return negative_errno();
        size_t n = strlen(s);
        if (write(fd, s, n) != (ssize_t)n)
                return negative_errno();
        return 0;
}

int caps_read_text(const char *path, char *buf, size_t size) {
        ssize_t n = nook_read_small(path, buf, size);
        if (n < 0)
                return (int)n;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
                buf[--n] = 0;
        return 0;
}

int64_t caps_read_sysctl(const char *path) {
        char buf[64];
        if (caps_read_text(path, buf, sizeof(buf)) < 0)
                return -1;
        char *end;
        errno = 0;
        long long v = strtoll(buf, &end, 10);
        return errno || end == buf || v < 0 ? -1 : (int64_t)v;
}

/* ---- children ------------------------------------------------------------------------ */

static void report(struct reporter *rep, probe_step s, int err, const char *fmt, ...) _printf_(4, 5);
static void report(struct reporter *rep, probe_step s, int err, const char *fmt, ...) {
        struct record r = { .step = s, .err = err };
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r.msg, sizeof(r.msg), fmt, ap);
        va_end(ap);
        rep->done |= 1ull << s;
        (void)!write(rep->fd, &r, sizeof(r));
}

static void report_ok(struct reporter *rep, probe_step s) {
        report(rep, s, ST_OK, "%s", "ok");
}

static void skip_rest(struct reporter *rep, probe_step from, probe_step to, const char *why) {
        for (int s = from; s <= (int)to; s++)
                if (!(rep->done & (1ull << s)))
                        report(rep, (probe_step)s, ST_SKIPPED, "%s", why);
}

/* Stdio to /dev/null (the library never prints, children included), the report pipe
 * on fd 3, every other inherited fd closed. */
static int child_setup(const struct child_ctx *c) {
        /* prctl(2): die with the prober; getppid() closes the race with its early exit. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != c->parent)
                _exit(1);
        signal(SIGCHLD, SIG_DFL);
        setpgid(0, 0); /* its own group, so that a timeout kills the pid-1 grandchild too */
        int keep = c->out >= 3 ? c->out : fcntl(c->out, F_DUPFD_CLOEXEC, 3); /* out of stdio's way */
        if (keep < 0 || dup2(c->devnull, 0) < 0 || dup2(c->devnull, 1) < 0 || dup2(c->devnull, 2) < 0 ||
            (keep != 3 && dup3(keep, 3, O_CLOEXEC) < 0))
                _exit(1);
        if (syscall(SYS_close_range, 4u, ~0u, 0u) < 0) {
                struct rlimit rl;
                rlim_t max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? rl.rlim_cur : 65536;
                for (int fd = 4; fd < (int)max; fd++)
                        close(fd);
        }
        return 3;
}

/* user_namespaces(7): without CAP_SETGID in the parent namespace, "deny" must be written
 * to setgroups before gid_map, and a single line may map only our own effective id.
 * When map == unshare_step, one record covers both. */
static bool child_userns(struct reporter *rep, probe_step unshare_step, probe_step map, const struct child_ctx *c) {
        if (unshare(CLONE_NEWUSER) < 0) {
                report(rep, unshare_step, errno, "unshare(CLONE_NEWUSER)");
                return false;
        }
        if (map != unshare_step)
                report_ok(rep, unshare_step);
        /* ENOENT: kernels before 3.19 have no setgroups file. */
        int r = write_file("/proc/self/setgroups", "deny");
        if (r < 0 && r != -ENOENT) {
                report(rep, map, -r, "write \"deny\" to /proc/self/setgroups");
                return false;
        }
        char line[64];
        snprintf(line, sizeof(line), "0 %u 1", (unsigned)c->uid);
        if ((r = write_file("/proc/self/uid_map", line)) < 0) {
                report(rep, map, -r, "write \"%s\" to /proc/self/uid_map", line);
                return false;
        }
        snprintf(line, sizeof(line), "0 %u 1", (unsigned)c->gid);
        if ((r = write_file("/proc/self/gid_map", line)) < 0) {
                report(rep, map, -r, "write \"%s\" to /proc/self/gid_map", line);
                return false;
        }
        report_ok(rep, map);
        /* Re-arm: prctl(2) clears the parent-death signal on some credential changes. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        return true;
}

static bool child_mountns(struct reporter *rep) {
        if (unshare(CLONE_NEWNS) < 0) {
                report(rep, S_MOUNTNS, errno, "unshare(CLONE_NEWNS)");
                return false;
        }
        /* mount_namespaces(7): the copy keeps shared propagation; make it private so
         * nothing mounted here propagates back to the caller's namespace. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
                report(rep, S_MOUNTNS, errno, "make / private (MS_REC|MS_PRIVATE)");
                return false;
        }
        report_ok(rep, S_MOUNTNS);
        return true;
}

/* Everything below happens on a tmpfs over the private dir, seen only in this
 * namespace: nothing touches the disk (a busy ext4 journal costs tens of ms). */
static bool child_tmpfs(struct reporter *rep, const char *dir) {
        if (!dir) {
                report(rep, S_TMPFS, ST_FAILED, "no private temp dir for the probe");
                return false;
        }
        if (mount("nook-probe", dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=1m") < 0 || chdir(dir) < 0) {
                report(rep, S_TMPFS, errno, "mount -t tmpfs");
                return false;
        }
        report_ok(rep, S_TMPFS);
        return true;
}

static void expect_erofs(struct reporter *rep, probe_step s, const char *path) {
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0) {
                close(fd);
                report(rep, s, ST_FAILED, "a file could still be created through the read-only mount");
        } else if (errno != EROFS)
                report(rep, s, ST_FAILED, "creating a file through the read-only mount failed with %s, not EROFS",
                       caps_errname(errno));
        else
                report_ok(rep, s);
}

static void child_bind_ro(struct reporter *rep) {
        if (mkdir("src", 0700) < 0 || mkdir("ro", 0700) < 0 || write_file("src/f", "x") < 0) {
                report(rep, S_BIND, errno, "create files on the tmpfs");
                return;
        }
        if (mount("src", "ro", NULL, MS_BIND, NULL) < 0) {
                report(rep, S_BIND, errno, "bind mount");
                report(rep, S_REMOUNT_RO, ST_SKIPPED, "needs a bind mount");
                return;
        }
        report_ok(rep, S_BIND);
        /* mount(2): a bind mount's flags change only through MS_REMOUNT|MS_BIND; nosuid and
         * nodev of the tmpfs are repeated so the kernel is not asked to clear them. */
        if (mount(NULL, "ro", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0) {
                report(rep, S_REMOUNT_RO, errno, "remount the bind mount read-only");
                return;
        }
        expect_erofs(rep, S_REMOUNT_RO, "ro/new");
}

static void child_mount_setattr(struct reporter *rep) {
        struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
        if (mkdir("rec", 0700) < 0 || mount("src", "rec", NULL, MS_BIND | MS_REC, NULL) < 0) {
                report(rep, S_MOUNT_SETATTR, errno, "recursive bind mount");
                return;
        }
        if (syscall(SYS_mount_setattr, AT_FDCWD, "rec", AT_RECURSIVE, &attr, sizeof(attr)) < 0) {
                report(rep, S_MOUNT_SETATTR, errno, "mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY)");
                return;
        }
        expect_erofs(rep, S_MOUNT_SETATTR, "rec/new");
}

static void child_tmpfs_xattr(struct reporter *rep) {
        if (setxattr("src/f", "user.nook.probe", "1", 1, 0) < 0)
                report(rep, S_TMPFS_XATTR, errno, "setxattr user.nook.probe on a tmpfs file");
        else
                report_ok(rep, S_TMPFS_XATTR);
}

/* Relative paths (cwd is the tmpfs) keep TMPDIR's ',' or ':' out of the option string. */
static void child_overlay(struct reporter *rep) {
        static const char *const dirs[] = { "o", "o/lower", "o/upper", "o/work", "o/merged" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                if (mkdir(dirs[i], 0700) < 0) {
                        report(rep, S_OVERLAY, errno, "mkdir %s", dirs[i]);
                        return;
                }
        if (write_file("o/lower/f", "lower") < 0) {
                report(rep, S_OVERLAY, errno, "write a file into lowerdir");
                return;
        }
        if (mount("overlay", "o/merged", "overlay", 0, "lowerdir=o/lower,upperdir=o/upper,workdir=o/work,userxattr") <
            0) {
                report(rep, S_OVERLAY, errno, "mount -t overlay -o userxattr");
                return;
        }
        /* Appending to a lower file forces a copy-up; a new file lands in upper directly. */
        _cleanup_close_ int a = open("o/merged/f", O_WRONLY | O_APPEND | O_CLOEXEC);
        _cleanup_close_ int n = open("o/merged/n", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        int e = a < 0 || n < 0 ? errno : 0;
        if (!e && (write(a, "+", 1) != 1 || write(n, "n", 1) != 1))
                e = errno;
        struct stat st;
        if (e)
                report(rep, S_OVERLAY, e, "write through the overlay");
        else if (stat("o/upper/f", &st) < 0 || stat("o/upper/n", &st) < 0)
                report(rep, S_OVERLAY, ST_FAILED, "writes through the overlay did not land in upperdir");
        else
                report_ok(rep, S_OVERLAY);
}

static void child_pidns(struct reporter *rep) {
        if (unshare(CLONE_NEWPID) < 0) {
                report(rep, S_PIDNS, errno, "unshare(CLONE_NEWPID)");
                return;
        }
        pid_t pid = fork();
        if (pid < 0) {
                report(rep, S_PIDNS, errno, "fork into the new pid namespace");
                return;
        }
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getpid() != 1)
                        report(rep, S_PIDNS, ST_FAILED, "the first child has pid %d, not 1", (int)getpid());
                else
                        report_ok(rep, S_PIDNS);
                /* In a user namespace procfs mounts only while an unmasked procfs is fully
                 * visible (fs/namespace.c mount_too_revealing(); mount_namespaces(7)). */
                if (mkdir("proc", 0700) < 0 ||
                    mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                        report(rep, S_PROCFS, errno, "mount -t proc in the new pid namespace");
                else
                        report_ok(rep, S_PROCFS);
                _exit(3);
        }
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        /* The grandchild's records are not in our bitmask: exit status 3 says both went out. */
        if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
                rep->done |= (1ull << S_PIDNS) | (1ull << S_PROCFS);
}

/* A raw mount(2) rather than libfuse's fuse_session_mount(): libfuse writes to stderr
 * on some paths, falls back to exec'ing fusermount3, and as (mapped) root may fork
 * /bin/mount to update a regular-file /etc/mtab.  The kernel path measured is the same:
 * FUSE in a user namespace (FS_USERNS_MOUNT since 4.18).  The kernel queues FUSE_INIT and
 * returns; nothing touches the mount, so no request waits for an answer (fuse(4)). */
static void child_fuse(struct reporter *rep, const char *why) {
        _cleanup_close_ int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                report(rep, S_FUSE_DEV, errno, "open /dev/fuse read-write");
                report(rep, S_FUSE_MOUNT, ST_SKIPPED, "needs /dev/fuse");
                return;
        }
        report_ok(rep, S_FUSE_DEV);
        if (why) {
                report(rep, S_FUSE_MOUNT, ST_SKIPPED, "%s", why);
                return;
        }
        char opts[96];
        snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0", fd);
        if (mkdir("fuse", 0700) < 0 || mount("nook-probe", "fuse", "fuse", MS_NOSUID | MS_NODEV, opts) < 0) {
                report(rep, S_FUSE_MOUNT, errno, "mount -t fuse");
                return;
        }
        report_ok(rep, S_FUSE_MOUNT);
        umount2("fuse", MNT_DETACH);
}

/* The namespaces a session's holder is cloned with besides user, mount and pid
 * (src/userns/prepare.c), and its hostname: a container's seccomp profile may refuse
 * sethostname while it allows the namespaces (rootless podman: "setting the hostname:
 * Operation not permitted"). */
static void child_session_ns(struct reporter *rep) {
        if (unshare(CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP) < 0) {
                report(rep, S_SESSION_NS, errno, "unshare(CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWCGROUP)");
                report(rep, S_HOSTNAME, ST_SKIPPED, "needs a UTS namespace (see session_namespaces)");
                return;
        }
        report_ok(rep, S_SESSION_NS);
        if (sethostname("nook-probe", 10) < 0)
                report(rep, S_HOSTNAME, errno, "sethostname in a new UTS namespace");
        else
                report_ok(rep, S_HOSTNAME);
}

/* The session's /dev: its own devpts instance and the host's device nodes bound onto
 * files (helpers/mounts.c mount_dev()). */
static void child_dev(struct reporter *rep) {
        if (mkdir("pts", 0755) < 0 ||
            mount("devpts", "pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") < 0)
                report(rep, S_DEVPTS, errno, "mount -t devpts -o newinstance");
        else
                report_ok(rep, S_DEVPTS);
        int fd = open("null", O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (fd < 0 || close(fd) < 0 || mount("/dev/null", "null", NULL, MS_BIND, NULL) < 0)
                report(rep, S_DEV_BIND, errno, "bind /dev/null onto a file");
        else
                report_ok(rep, S_DEV_BIND);
}

/* Last: it changes this child's root.  pivot_root(2) with new_root == put_old, as the
 * holder does: the old root ends up under the new one and is detached. */
static void child_pivot_root(struct reporter *rep) {
        if (mkdir("newroot", 0755) < 0 ||
            mount("nook-probe-root", "newroot", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") < 0 ||
            chdir("newroot") < 0) {
                report(rep, S_PIVOT_ROOT, errno, "mount a tmpfs for the new root");
                return;
        }
        if (syscall(SYS_pivot_root, ".", ".") < 0) {
                report(rep, S_PIVOT_ROOT, errno, "pivot_root");
                return;
        }
        if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
                report(rep, S_PIVOT_ROOT, errno, "detach the old root after pivot_root");
        else
                report_ok(rep, S_PIVOT_ROOT);
}

static _Noreturn void child_mount_main(const struct child_ctx *c) {
        struct reporter rep = { .fd = child_setup(c) };
        const char *why = NULL;
        if (!child_userns(&rep, S_USERNS, S_IDMAP, c))
                why = "needs a user namespace (see userns)";
        else if (!child_mountns(&rep))
                why = "needs a mount namespace (see mountns)";
        else if (!child_tmpfs(&rep, c->dir))
                why = "needs a tmpfs in the mount namespace (see mountns)";
        if (!why) {
                child_bind_ro(&rep);
                child_mount_setattr(&rep);
                child_tmpfs_xattr(&rep);
                child_overlay(&rep);
                child_pidns(&rep);
                child_session_ns(&rep);
                child_dev(&rep);
        }
        child_fuse(&rep, why);
        if (!why)
                child_pivot_root(&rep);
        skip_rest(&rep, S_USERNS, S_PIVOT_ROOT, why ? why : "not reached");
        _exit(0);
}

static void child_lo_up(struct reporter *rep) {
        _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr = { 0 };
        strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
        if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
                report(rep, S_LO_UP, errno, "SIOCGIFFLAGS on lo");
                return;
        }
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
                report(rep, S_LO_UP, errno, "SIOCSIFFLAGS IFF_UP on lo");
                return;
        }
        if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0 || !(ifr.ifr_flags & IFF_UP))
                report(rep, S_LO_UP, ST_FAILED, "lo is not up after SIOCSIFFLAGS");
        else
                report_ok(rep, S_LO_UP);
}

/* slirp4netns opens /dev/net/tun inside the session's user+net namespace and creates a
 * tap device there (TUNSETIFF needs CAP_NET_ADMIN over that namespace only). */
static void child_tun(struct reporter *rep, const char *why) {
        _cleanup_close_ int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                report(rep, S_TUN_OPEN, errno, "open /dev/net/tun read-write");
                report(rep, S_TUN_SETIFF, ST_SKIPPED, "needs /dev/net/tun");
                return;
        }
        report_ok(rep, S_TUN_OPEN);
        if (why) {
                report(rep, S_TUN_SETIFF, ST_SKIPPED, "%s", why);
                return;
        }
        struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
        strncpy(ifr.ifr_name, "nookprobe0", IFNAMSIZ - 1);
        if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
                report(rep, S_TUN_SETIFF, errno, "TUNSETIFF (create a tap device)");
                return;
        }
        report_ok(rep, S_TUN_SETIFF);
        /* Closing a non-persistent tap unregisters it synchronously (~20 ms of RCU waits);
         * a persistent one goes with the throwaway namespace, which the kernel dismantles
         * asynchronously once our child exits (net_namespace.c cleanup_net()). */
        ioctl(fd, TUNSETPERSIST, 1);
}

/* libnftables is loaded here, in the probe's throwaway child, and nowhere on the start
 * path: linking it would cost every nook process ~0.8 ms of dynamic loading
 * (libnftables, libnftnl, libmnl, libxtables, libgmp; measured). */
typedef struct nft_api {
        struct nft_ctx *(*ctx_new)(uint32_t flags);
        int (*buffer_output)(struct nft_ctx *ctx);
        int (*buffer_error)(struct nft_ctx *ctx);
        int (*run)(struct nft_ctx *ctx, const char *buf);
        const char *(*error_buffer)(struct nft_ctx *ctx);
        void (*ctx_free)(struct nft_ctx *ctx);
} nft_api;

static bool nft_load(nft_api *a) {
        void *h = dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!h)
                return false;
        a->ctx_new = (struct nft_ctx * (*)(uint32_t)) dlsym(h, "nft_ctx_new");
        a->buffer_output = (int (*)(struct nft_ctx *))dlsym(h, "nft_ctx_buffer_output");
        a->buffer_error = (int (*)(struct nft_ctx *))dlsym(h, "nft_ctx_buffer_error");
        a->run = (int (*)(struct nft_ctx *, const char *))dlsym(h, "nft_run_cmd_from_buffer");
        a->error_buffer = (const char *(*)(struct nft_ctx *))dlsym(h, "nft_ctx_get_error_buffer");
        a->ctx_free = (void (*)(struct nft_ctx *))dlsym(h, "nft_ctx_free");
        return a->ctx_new && a->buffer_output && a->buffer_error && a->run && a->error_buffer && a->ctx_free;
}

static void child_nft(struct reporter *rep) {
        nft_api nft;
        if (!nft_load(&nft)) {
                report(rep, S_NFT, ST_FAILED, "libnftables.so.1 cannot be loaded (install libnftables1)");
                return;
        }
        struct nft_ctx *ctx = nft.ctx_new(NFT_CTX_DEFAULT);
        if (!ctx) {
                report(rep, S_NFT, ENOMEM, "nft_ctx_new");
                return;
        }
        /* Buffered output and errors: libnftables would otherwise print to stdout/stderr. */
        if (nft.buffer_output(ctx) < 0 || nft.buffer_error(ctx) < 0)
                report(rep, S_NFT, ST_FAILED, "nft_ctx_buffer_output/error failed");
        else if (nft.run(ctx, "add table inet nook_probe") == 0)
                report_ok(rep, S_NFT);
        else {
                const char *e = nft.error_buffer(ctx);
                if (e && strncmp(e, "Error: ", 7) == 0)
                        e += 7;
                size_t n = e ? strcspn(e, "\n") : 0;
                report(rep, S_NFT, ST_FAILED, "nft 'add table inet nook_probe': %.*s", (int)n,
                       n ? e : "failed without a message");
        }
        nft.ctx_free(ctx);
}

static _Noreturn void child_net_main(const struct child_ctx *c) {
        struct reporter rep = { .fd = child_setup(c) };
        const char *why = NULL;
        if (!child_userns(&rep, S_NET_USERNS, S_NET_USERNS, c))
                why = "needs a user namespace (see userns)";
        else if (unshare(CLONE_NEWNET) < 0) {
                report(&rep, S_NETNS, errno, "unshare(CLONE_NEWNET)");
                why = "needs a network namespace (see netns)";
        } else
                report_ok(&rep, S_NETNS);
        if (!why)
                child_lo_up(&rep);
        child_tun(&rep, why);
        if (!why)
                child_nft(&rep);
        skip_rest(&rep, S_NET_USERNS, S_NFT, why ? why : "not reached");
        _exit(0);
}

/* ---- starting, collecting and reaping helpers ----------------------------------------- */

/* Called before the leader is reaped, so its pid cannot name another group yet. */
static void helper_kill(struct helper *h) {
        h->killed = true;
        kill(-h->pid, SIGKILL);
}

/* When the caller is a child subreaper (prctl(2) PR_SET_CHILD_SUBREAPER), the killed
 * group's other members become its children: reap them by group (waitpid(2), -pgid).
 * Otherwise this returns ECHILD at once. */
static void reap_group(pid_t pgid) {
        uint64_t until = nook_mono_us() + 100000;
        for (;;) {
                pid_t r = waitpid(-pgid, NULL, WNOHANG);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0 || (r == 0 && nook_mono_us() >= until))
                        return;
                if (r == 0)
                        nanosleep(&(struct timespec){ .tv_nsec = 100000 }, NULL);
        }
}

/* Reaps h, killing it at the deadline.  A task in uninterruptible sleep (a FUSE request
 * nobody answers) ignores SIGKILL until it wakes: after KILL_GRACE_US it is left to die
 * on its own ("stuck") rather than hang the probe. */
static void helper_reap(struct helper *h, uint64_t deadline) {
        pid_t pgid = h->pid;
        uint64_t grace = 0;
        while (h->pid > 0) {
                pid_t r = waitpid(h->pid, &h->status, WNOHANG);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r == h->pid)
                        h->exited = true;
                if (r != 0) { /* reaped, or ECHILD: the application ignores SIGCHLD */
                        h->pid = -1;
                        break;
                }
                uint64_t now = nook_mono_us();
                if (!h->killed && now >= deadline)
                        helper_kill(h);
                if (h->killed && !grace)
                        grace = now + KILL_GRACE_US;
                if (grace && now >= grace) {
                        h->stuck = true;
                        h->pid = -1;
                        break;
                }
                nanosleep(&(struct timespec){ .tv_nsec = 100000 }, NULL);
        }
        if (h->killed && pgid > 0)
                reap_group(pgid);
}

void caps_probe_run_free(struct probe_run *run) {
        if (!run)
                return;
        for (size_t i = 0; i < N_HELPERS; i++) {
                helper_reap(&run->h[i], 0);
                closep(&run->h[i].fd);
                free(run->h[i].path);
        }
        /* Only the children's namespaces ever saw anything inside it (a tmpfs over it):
         * here it is still empty. */
        if (run->dir) {
                rmdir(run->dir);
                free(run->dir);
        }
        closep(&run->devnull);
        free(run);
}

void caps_probe_run_freep(struct probe_run **run) {
        caps_probe_run_free(*run);
}

static int start_child(struct probe_run *run, struct helper *h, const struct host *host,
                       void (*fn)(const struct child_ctx *), nook_error **err) {
        pid_t parent = getpid();
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return nook_error_sys(err, errno, "pipe");
        /* fork(2) without exec: the child calls only this file's code and libnftables;
         * glibc keeps malloc usable after fork in a multithreaded process. */
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(p[0]);
                close(p[1]);
                return nook_error_sys(err, e, "fork");
        }
        if (pid == 0) {
                struct child_ctx c = { .dir = run->dir,
                                       .out = p[1],
                                       .devnull = run->devnull,
                                       .uid = host->uid,
                                       .gid = host->gid,
                                       .parent = parent };
                fn(&c);
                _exit(0);
        }
        close(p[1]);
        setpgid(pid, pid); /* also done by the child: whichever runs first wins the race */
        fcntl(p[0], F_SETFL, O_NONBLOCK);
        *h = (struct helper){ .pid = pid, .fd = p[0], .started = true };
        return 0;
}

static bool is_executable(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* PATH search of our own (absolute entries only: a library never runs "./x"), then
 * /usr/bin.  0 with *ret NULL when absent; -ENOMEM. */
int caps_find_program(const char *name, char **ret) {
        const char *path = getenv("PATH");
        _cleanup_free_ char *copy = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
        if (!copy)
                return -ENOMEM;
        char *save = NULL;
        for (char *d = strtok_r(copy, ":", &save);; d = strtok_r(NULL, ":", &save)) {
                const char *dir = d ? d : "/usr/bin";
                char *cand = NULL;
                if (dir[0] == '/' && asprintf(&cand, "%s/%s", dir, name) < 0)
                        return -ENOMEM;
                if (cand && is_executable(cand)) {
                        *ret = cand;
                        return 0;
                }
                free(cand);
                if (!d)
                        break;
        }
        *ret = NULL;
        return 0;
}

/* `<program> --version`: stdin /dev/null, stdout and stderr into a CLOEXEC pipe. */
static int spawn_version(struct probe_run *run, struct helper *h, const char *name, nook_error **err) {
        int r = caps_find_program(name, &h->path);
        if (r < 0)
                return nook_error_oom(err);
        h->fd = -1;
        if (!h->path)
                return 0;
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return nook_error_sys(err, errno, "pipe");
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, all;
        sigemptyset(&none);
        sigfillset(&all);
        posix_spawn_file_actions_init(&fa);
        posix_spawnattr_init(&attr);
        posix_spawn_file_actions_adddup2(&fa, run->devnull, 0);
        posix_spawn_file_actions_adddup2(&fa, p[1], 1);
        posix_spawn_file_actions_adddup2(&fa, p[1], 2);
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 34)
        posix_spawn_file_actions_addclosefrom_np(&fa, 3); /* fds the application leaked without CLOEXEC */
#endif
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        /* Its own process group: a timeout kills whatever it started, too. */
        posix_spawnattr_setpgroup(&attr, 0);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
        char *argv[] = { h->path, (char *)"--version", NULL };
        pid_t pid;
        r = posix_spawn(&pid, h->path, &fa, &attr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        close(p[1]);
        if (r != 0) {
                close(p[0]);
                h->status = r; /* not started: status holds the errno */
                return 0;
        }
        fcntl(p[0], F_SETFL, O_NONBLOCK);
        h->pid = pid;
        h->fd = p[0];
        h->started = true;
        return 0;
}

static void helper_read(struct helper *h) {
        for (;;) {
                char scratch[512];
                size_t room = sizeof(h->buf) - 1 - h->len;
                ssize_t n = room ? read(h->fd, h->buf + h->len, room) : read(h->fd, scratch, sizeof(scratch));
                if (n > 0) {
                        h->len += room ? (size_t)n : 0;
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n == 0 || errno != EAGAIN) {
                        closep(&h->fd);
                        h->fd = -1;
                }
                return;
        }
}

void caps_probe_run_collect(struct probe_run *run, uint64_t deadline) {
        for (;;) {
                struct pollfd pfd[N_HELPERS];
                struct helper *who[N_HELPERS];
                nfds_t n = 0;
                for (size_t i = 0; i < N_HELPERS; i++)
                        if (run->h[i].fd >= 0) {
                                pfd[n] = (struct pollfd){ .fd = run->h[i].fd, .events = POLLIN };
                                who[n++] = &run->h[i];
                        }
                uint64_t now = nook_mono_us();
                if (n == 0 || now >= deadline)
                        break;
                int r = poll(pfd, n, (int)((deadline - now + 999) / 1000));
                if (r < 0 && errno != EINTR)
                        break;
                for (nfds_t i = 0; r > 0 && i < n; i++)
                        if (pfd[i].revents)
                                helper_read(who[i]);
        }
        for (size_t i = 0; i < N_HELPERS; i++) {
                struct helper *h = &run->h[i];
                /* Still writing at the deadline, or a descendant holds the pipe. */
                if (h->fd >= 0 && h->pid > 0)
                        helper_kill(h);
                helper_reap(h, deadline);
                closep(&h->fd);
                h->fd = -1;
        }
        for (size_t k = H_MOUNT; k <= H_NET; k++) {
                const struct helper *h = &run->h[k];
                for (size_t off = 0; off + sizeof(struct record) <= h->len; off += sizeof(struct record)) {
                        struct record rec;
                        memcpy(&rec, h->buf + off, sizeof(rec));
                        if (rec.step < 0 || rec.step >= N_STEPS)
                                continue;
                        rec.msg[MSG_MAX - 1] = 0;
                        run->steps[rec.step].err = rec.err;
                        memcpy(run->steps[rec.step].msg, rec.msg, MSG_MAX);
                }
        }
        for (int s = 0; s < N_STEPS; s++) {
                const struct helper *h = &run->h[s < S_NET_USERNS ? H_MOUNT : H_NET];
                if (run->steps[s].err != ST_UNREPORTED)
                        continue;
                if (h->killed)
                        snprintf(run->steps[s].msg, MSG_MAX, "timed out: no answer within %u s%s",
                                 PROBE_TIMEOUT_US / 1000000u,
                                 h->stuck ? " (the probe child is stuck in the kernel, not dying on SIGKILL)" : "");
                else
                        snprintf(run->steps[s].msg, MSG_MAX, "not measured: the probe child ended early (%s %d)",
                                 WIFSIGNALED(h->status) ? "signal" : "exit status",
                                 WIFSIGNALED(h->status) ? WTERMSIG(h->status) : WEXITSTATUS(h->status));
        }
}

struct probe_run *caps_probe_run_new(void) {
        struct probe_run *run = calloc(1, sizeof(*run));
        if (!run)
                return NULL;
        run->devnull = -1;
        for (size_t i = 0; i < N_HELPERS; i++)
                run->h[i] = (struct helper){ .pid = -1, .fd = -1 };
        for (int s = 0; s < N_STEPS; s++)
                run->steps[s].err = ST_UNREPORTED;
        return run;
}

int caps_probe_run_start(struct probe_run *run, const struct host *host, nook_error **err) {
        run->devnull = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (run->devnull < 0)
                return nook_error_sys(err, errno, "open /dev/null");
        char *tmpl = NULL;
        if (asprintf(&tmpl, "%s/nook-probe.XXXXXX", host->tmp_base) < 0)
                return nook_error_oom(err);
        if (mkdtemp(tmpl))
                run->dir = tmpl;
        else {
                run->dir_errno = errno;
                free(tmpl);
        }
        int r = start_child(run, &run->h[H_MOUNT], host, child_mount_main, err);
        if (r >= 0)
                r = start_child(run, &run->h[H_NET], host, child_net_main, err);
        if (r >= 0)
                r = spawn_version(run, &run->h[H_FUSE_OVERLAYFS], "fuse-overlayfs", err);
        if (r >= 0)
                r = spawn_version(run, &run->h[H_SLIRP4NETNS], "slirp4netns", err);
        return r;
}
