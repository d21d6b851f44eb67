/* nook-holder — the workload's last steps before execve(2), in its fork of the monitor
 * (in the workloads' pid namespace, S33): session and controlling tty, stdio, rlimits,
 * cwd, groups and ids, capabilities (S9), no_new_privs (S10), seccomp (S8, S13), every
 * other fd marked close-on-exec (S2), then the command, searched in PATH inside the
 * sandbox.  Only async-signal-safe calls: the monitor may be mid-allocation when it forks. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helper.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static _Noreturn void fail(const spawn_plan *p, const char *stage, int err) {
        struct spawn_failure f = { .err = err };
        strncpy(f.stage, stage, sizeof(f.stage) - 1);
        (void)!write(p->status_fd, &f, sizeof(f));
        _exit(127);
}

/* S9: nothing inheritable or ambient; the bounding set cut to `keep` (no CAP_SYS_ADMIN,
 * CAP_NET_ADMIN, CAP_SYS_PTRACE by default), so that file capabilities in the image
 * gain nothing; a uid-0 workload keeps `keep` as permitted and effective.  Every
 * number a capability set can hold is dropped, the kernel answering EINVAL past its
 * last (prctl(2) PR_CAPBSET_DROP): no file is read here, inside the sandbox's root,
 * where /proc/sys/kernel/cap_last_cap could be shadowed (S6). */
static void set_caps(const spawn_plan *p) {
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                fail(p, "clearing ambient capabilities", errno);
        for (int c = 0; c < 64; c++)
                if (!(p->caps & (1ull << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
                        fail(p, "dropping the bounding set", errno);
}

static void set_ids(const spawn_plan *p) {
        if (p->set_groups && setgroups(p->n_groups, p->groups) < 0)
                fail(p, "setgroups", errno);
        if (setresgid(p->gid, p->gid, p->gid) < 0)
                fail(p, "setresgid", errno);
        if (setresuid(p->uid, p->uid, p->uid) < 0)
                fail(p, "setresuid", errno);
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2] = { { 0 } };
        if (p->uid == 0) {
                d[0].effective = d[0].permitted = (uint32_t)p->caps;
                d[1].effective = d[1].permitted = (uint32_t)(p->caps >> 32);
        }
        if (syscall(SYS_capset, &h, d) < 0)
                fail(p, "capset", errno);
}

static void set_stdio(const spawn_plan *p) {
        if (setsid() < 0)
                fail(p, "setsid", errno);
        if (p->pty && ioctl(p->stdin_fd, TIOCSCTTY, 0) < 0)
                fail(p, "taking the terminal", errno);
        int fds[3] = { p->stdin_fd, p->stdout_fd, p->stderr_fd };
        for (int i = 0; i < 3; i++)
                if (dup3(fds[i], i, 0) < 0 && !(fds[i] == i && fcntl(i, F_SETFD, 0) == 0))
                        fail(p, "setting up stdio", errno);
}

static _Noreturn void exec_path(const spawn_plan *p) {
        const char *cmd = p->argv[0];
        if (strchr(cmd, '/')) {
                execve(cmd, p->argv, p->envp);
                fail(p, "exec", errno);
        }
        const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        for (char **e = p->envp; *e; e++)
                if (strncmp(*e, "PATH=", 5) == 0)
                        path = *e + 5;
        int seen = ENOENT;
        char buf[4096];
        for (const char *s = path;; s++) {
                const char *end = strchr(s, ':');
                size_t len = end ? (size_t)(end - s) : strlen(s);
                if (len + strlen(cmd) + 2 < sizeof(buf)) {
                        memcpy(buf, len ? s : ".", len ? len : 1);
                        size_t n = len ? len : 1;
                        buf[n] = '/';
                        strcpy(buf + n + 1, cmd);
                        execve(buf, p->argv, p->envp);
                        if (errno != ENOENT && errno != ENOTDIR)
                                seen = errno;
                }
                if (!end)
                        break;
                s = end;
        }
        fail(p, "exec", seen);
}

/* The holder ignores SIGPIPE and blocks the signals it reads through a signalfd; a
 * workload starts with every disposition at its default and nothing blocked
 * (signal(7): ignored signals survive execve). */
static void reset_signals(void) {
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void)sigaction(sig, &dfl, NULL);
        sigset_t none;
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
}

_Noreturn void spawn_exec(const spawn_plan *p) {
        char go;
        if (read(p->go_fd, &go, 1) != 1)
                fail(p, "waiting for the monitor", EPIPE);
        close(p->go_fd);
        reset_signals();
        set_stdio(p);
        /* No parent-death signal: when the monitor dies, the holder becomes our parent and
         * keeps the timeout, nook kill and the exit record working (workloads.c). */
        /* A delegated cgroup v2 holds the session's memory and tasks (S34): join it
         * before anything else runs here (cgroups(7) "cgroup.procs": "0" is us). */
        if (p->cgroup_fd >= 0) {
                int fd = openat(p->cgroup_fd, "cgroup.procs", O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0 || write(fd, "0", 1) != 1)
                        fail(p, "joining the session's cgroup", errno);
                close(fd);
        }
        for (size_t i = 0; i < p->n_rlimits; i++) {
                struct rlimit rl = { .rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard };
                if (setrlimit((int)p->rlimits[i].resource, &rl) < 0)
                        fail(p, "setrlimit", errno);
        }
        /* S2, S22 (runc CVE-2024-21626): no fd of the holder or monitor survives to the
         * chdir (a cwd "/proc/self/fd/N" or an image symlink to it would land outside
         * the root), and the cwd is resolved inside the root without magic links. */
        if (syscall(SYS_close_range, 3, (unsigned)p->status_fd - 1, 0) < 0 ||
            syscall(SYS_close_range, (unsigned)p->status_fd + 1, ~0U, 0) < 0)
                for (int fd = 3; fd < 65536; fd++)
                        if (fd != p->status_fd)
                                close(fd);
        if (p->cwd) {
                struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                                        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
                int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC); /* the session's, after pivot_root */
                int fd = root < 0 ? -1 : (int)syscall(SYS_openat2, root, p->cwd, &how, sizeof(how));
                if (root >= 0) {
                        int e = errno;
                        close(root);
                        errno = e;
                }
                if (fd < 0 && errno == ENOSYS)
                        fd = chdir(p->cwd) < 0 ? -1 : -2;
                else if (fd >= 0 && fchdir(fd) < 0) {
                        int e = errno;
                        close(fd);
                        fail(p, "cwd", e);
                }
                if (fd == -1)
                        fail(p, "cwd", errno);
                if (fd >= 0)
                        close(fd);
        }
        set_caps(p);
        set_ids(p);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                fail(p, "no_new_privs", errno);
        if (p->seccomp) {
                struct sock_fprog prog = { .len = (unsigned short)p->seccomp_len,
                                           .filter = (struct sock_filter *)p->seccomp };
                if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
                        fail(p, "seccomp", errno);
        }
        /* S2 (runc CVE-2024-21626): only 0-2 cross execve; the status pipe stays open
         * until the exec succeeds, since it is marked like every other fd. */
        if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
                for (int fd = 3; fd < 65536; fd++)
                        fcntl(fd, F_SETFD, FD_CLOEXEC);
        exec_path(p);
}
