/* A static test program run inside sandboxes by the security suite: each subcommand
 * tries one thing an attacker would and prints "ok" or "denied <errno name>".  It
 * never decides a test; the shell test reads what it printed. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static int report(long r) {
        if (r >= 0)
                printf("ok\n");
        else
                printf("denied %s\n", strerrorname_np(errno) ? strerrorname_np(errno) : "?");
        return 0;
}

/* deeptree PATH DEPTH [ZERO_EVERY [LINK]]: PATH/d/d/.../d, DEPTH levels, made below fds
 * (no path grows with the depth), a file and a symlink to LINK at the bottom; with
 * ZERO_EVERY, every ZERO_EVERY-th level is left mode 0000 (teardown's "odd modes"). */
static int deeptree(const char *path, long depth, long zero_every, const char *link) {
        if (mkdir(path, 0755) < 0)
                return report(-1);
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        for (long i = 0; fd >= 0 && i < depth; i++) {
                int next = mkdirat(fd, "d", 0755) < 0
                                   ? -1
                                   : openat(fd, "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next >= 0 && zero_every > 0 && i % zero_every == zero_every - 1 && fchmod(fd, 0) < 0) {
                        close(next);
                        next = -1;
                }
                close(fd);
                fd = next;
        }
        if (fd < 0)
                return report(-1);
        int f = openat(fd, "file", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        long r = f < 0 || write(f, "x\n", 2) != 2 || (link && symlinkat(link, fd, "link") < 0) ? -1 : 0;
        if (f >= 0)
                close(f);
        close(fd);
        return report(r);
}

static int tiocsti(unsigned long extra) {
        int fd = posix_openpt(O_RDWR | O_NOCTTY);
        if (fd < 0 || grantpt(fd) < 0 || unlockpt(fd) < 0)
                return report(-1);
        char c = 'x';
        return report(syscall(SYS_ioctl, fd, (unsigned long)TIOCSTI | extra, &c));
}

/* Holds mib MiB of touched anonymous memory until killed; with detach, in a grandchild
 * whose parent exited (reparented to the session's init), and "held" printed once the
 * memory is there. */
static int hog(int mib, bool detach) {
        if (detach) {
                pid_t p = fork();
                if (p < 0)
                        return report(-1);
                if (p > 0) {
                        waitpid(p, NULL, 0);
                        return 0;
                }
                if (fork() != 0)
                        _exit(0);
                signal(SIGPIPE, SIG_IGN); /* the monitor reading our stdout is gone */
        }
        size_t n = (size_t)mib << 20;
        char *m = malloc(n);
        if (!m)
                return report(-1);
        for (size_t i = 0; i < n; i += 4096)
                m[i] = 1;
        printf("held %d\n", mib);
        fflush(stdout);
        for (;;)
                pause();
}

/* connects to the unix socket at path and copies what it sends to stdout */
static int unix_read(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return report(-1);
        char buf[4096];
        for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;)
                fwrite(buf, 1, (size_t)n, stdout);
        return 0;
}

int main(int argc, char **argv) {
        const char *what = argc > 1 ? argv[1] : "";
        if (!strcmp(what, "keyctl"))
                return report(syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0));
        if (!strcmp(what, "bpf"))
                return report(syscall(SYS_bpf, 0, NULL, 0));
        if (!strcmp(what, "userfaultfd"))
                return report(syscall(SYS_userfaultfd, 0));
        if (!strcmp(what, "unshare-user"))
                return report(unshare(CLONE_NEWUSER));
        if (!strcmp(what, "clone3")) {
                struct clone_args a = { .exit_signal = SIGCHLD };
                long r = syscall(SYS_clone3, &a, sizeof(a));
                if (r == 0)
                        _exit(0);
                if (r > 0)
                        waitpid((pid_t)r, NULL, 0);
                return report(r);
        }
        if (!strcmp(what, "tiocsti"))
                return tiocsti(0);
        if (!strcmp(what, "tiocsti-high"))
                return tiocsti(1ul << 32);
        if (!strcmp(what, "mount"))
                return report(syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, NULL));
        if (!strcmp(what, "open-tree"))
                return report(syscall(SYS_open_tree, AT_FDCWD, "/", 0));
        if (!strcmp(what, "open") && argc > 2) /* open PATH read-only */
                return report(open(argv[2], O_RDONLY));
        if (!strcmp(what, "open-write") && argc > 2)
                return report(open(argv[2], O_WRONLY));
        if (!strcmp(what, "ptrace") && argc > 2)
                return report(ptrace(PTRACE_ATTACH, atoi(argv[2]), 0, 0));
        if (!strcmp(what, "setuid0"))
                return report(setuid(0));
        if (!strcmp(what, "fds")) {
                for (int fd = 0; fd < 1024; fd++)
                        if (fcntl(fd, F_GETFD) >= 0)
                                printf("%d\n", fd);
                return 0;
        }
        if (!strcmp(what, "deeptree") && argc > 3)
                return deeptree(argv[2], atol(argv[3]), argc > 4 ? atol(argv[4]) : 0, argc > 5 ? argv[5] : NULL);
        if (!strcmp(what, "unix-read") && argc > 2)
                return unix_read(argv[2]);
        if (!strcmp(what, "hog") && argc > 2) /* hog MIB [detach]: hold MIB MiB of memory */
                return hog(atoi(argv[2]), argc > 3 && !strcmp(argv[3], "detach"));
        fprintf(stderr,
                "usage: nook-probe keyctl|bpf|userfaultfd|unshare-user|clone3|tiocsti|tiocsti-high|mount|"
                "open-tree|open PATH|open-write PATH|ptrace PID|setuid0|fds|deeptree PATH DEPTH [ZERO_EVERY [LINK]]|"
                "hog MIB [detach]|unix-read PATH\n");
        return 2;
}
