/* nook-holder — pid 1 of a session: keeps its user, mount, pid, ipc, uts, cgroup and
 * net namespaces alive, reaps its children, and serves the control socket (PING,
 * PREPARE, SPAWN, SIGNAL).  Started by prepare_session (src/userns/session.c) inside the
 * new namespaces; refuses to run setuid or with capabilities in the initial user
 * namespace (S12).  Workloads run one pid namespace further down (workloads.c, S33). */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper.h"
#include "util/macro.h"

/* S12 (bubblewrap CVE-2020-5291): a helper made setuid, or started with privileges of
 * the initial user namespace, refuses to run.  In our own user namespace we hold every
 * capability by design (user_namespaces(7)); what must never be true is that those
 * capabilities are the host's.  uid_map "0 0 4294967295" is the initial namespace. */
static bool privileged_outside(void) {
        if (getauxval(AT_SECURE) || geteuid() != getuid() || getegid() != getgid())
                return true;
        char buf[128] = "";
        int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return true;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return true;
        buf[n] = 0;
        unsigned a, b;
        unsigned long c;
        return sscanf(buf, "%u %u %lu", &a, &b, &c) == 3 && a == 0 && b == 0 && c == 4294967295ul;
}

static void lo_up(void) {
        _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0)
                return;
        struct ifreq ifr = { 0 };
        strcpy(ifr.ifr_name, "lo");
        if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
                ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
                (void)ioctl(s, SIOCSIFFLAGS, &ifr);
        }
}

/* fd 4 was opened by the client in its own mount namespace; mount(2) refuses
 * targets reached through another namespace's mounts (EINVAL), so reopen the same
 * directory by path in ours (a copy: the path exists) and check it is the same inode. */
static int reopen_here(int fd) {
        char link[32], path[4096];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, path, sizeof(path) - 1);
        if (n <= 0)
                return -1;
        path[n] = 0;
        int here = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat a, b;
        if (here < 0 || fstat(fd, &a) < 0 || fstat(here, &b) < 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
                if (here >= 0)
                        close(here);
                return -1;
        }
        close(fd);
        return here;
}

/* fuse-overlayfs dying leaves the root answering ENOTCONN; its status is kept in the
 * session dir for session inspect and cleanup to report.  The init of the workloads'
 * namespace dying takes every workload with it (pid_namespaces(7)): no more can start.
 * Our other children are monitors and the workloads they left to us. */
static void reap(holder *h) {
        int status;
        struct rusage ru;
        for (pid_t pid; (pid = wait4(-1, &status, WNOHANG, &ru)) > 0;) {
                limits_monitor_gone(h, pid);
                if (pid == h->init_pid)
                        h->init_pid = 0;
                else if (pid != h->fuse_pid)
                        holder_workload_reaped(h, pid, status, &ru);
                else {
                        h->fuse_pid = 0;
                        char line[64];
                        int n = snprintf(line, sizeof(line), "%s=%d\n", WIFSIGNALED(status) ? "signal" : "exit_code",
                                         WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
                        int fd = openat(h->session_fd, "rootfs-died", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                        if (fd >= 0) {
                                (void)!write(fd, line, (size_t)n);
                                close(fd);
                        }
                }
        }
}

/* Only the user who made the session talks to it (S27): SO_PEERCRED as this user
 * namespace sees the peer (unix(7)); ids not mapped here read as the overflow id. */
static bool peer_ok(const holder *h, int fd) {
        struct ucred cr;
        socklen_t len = sizeof(cr);
        return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 && cr.uid == h->peer_uid;
}

static void reply_ok(int fd, const char *notes, const char *driver) {
        nook_msg r = NOOK_MSG_INIT(NOOK_MSG_REPLY);
        nook_msg_add_u64(&r, T_ERRNO, 0);
        if (notes && *notes)
                nook_msg_add_str(&r, T_MESSAGE, notes);
        if (driver)
                nook_msg_add_str(&r, T_DRIVER, driver);
        (void)nook_msg_send(fd, &r);
        nook_msg_done(&r);
}

static void handle_prepare(holder *h, int fd, nook_msg *m) {
        hstatus st = { 0 };
        char notes[1024] = "";
        if (h->prepared) {
                nook_msg_reply_error(fd, EALREADY, "the session root is already prepared");
                return;
        }
        limits_from_prepare(h, m); /* tmpfs sizes follow the limits */
        if (holder_prepare(h, m, notes, sizeof(notes), &st) < 0) {
                nook_msg_reply_error(fd, st.err, st.msg);
                /* A half-built root cannot be rebuilt in this mount namespace: the
                 * client sees the error and cleans the session up. */
                return;
        }
        h->prepared = true;
        limits_prepared(h, notes, sizeof(notes));
        reply_ok(fd, notes, h->driver);
}

/* The session's network came up: slirp4netns starts while the root is built and the
 * workload set up, and is waited for here, not by configure_network (the start path). */
static bool net_up(holder *h, int fd) {
        if (h->net_ready_fd >= 0) {
                struct pollfd p = { .fd = h->net_ready_fd, .events = POLLIN };
                char b = 0;
                int n = poll(&p, 1, 10000);
                h->net_failed = n <= 0 || read(h->net_ready_fd, &b, 1) != 1 || b != '1';
                close(h->net_ready_fd);
                h->net_ready_fd = -1;
        }
        if (h->net_failed)
                nook_msg_reply_error(fd, ENETDOWN,
                                     "the session's network did not come up: slirp4netns ended or was not "
                                     "ready within 10 s (its log: slirp4netns.log in the session dir)");
        return !h->net_failed;
}

static void handle_spawn(holder *h, int fd, nook_msg *m) {
        if (!h->prepared) {
                nook_msg_reply_error(fd, EINVAL, "the session is not prepared (prepare_environment first)");
                return;
        }
        if (!net_up(h, fd) || !holder_secrets_ready(h, fd))
                return;
        if (h->pidns_fd < 0 || h->init_pid <= 0) {
                nook_msg_reply_error(fd, ESRCH, "the init of the session's workloads is gone; clean the session up");
                return;
        }
        /* the monitor hands the workload's pidfd over on this link (workloads.c) */
        int link[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, link) < 0) {
                nook_msg_reply_error(fd, errno, "creating the monitor's link");
                return;
        }
        limits_spawn(h, m);
        pid_t pid = fork();
        if (pid < 0) {
                nook_msg_reply_error(fd, errno, "forking a monitor");
                close(link[0]);
                close(link[1]);
                return;
        }
        if (pid == 0) {
                close(h->listen_fd);
                close(h->signal_fd);
                close(link[0]);
                holder_workloads_forget(h);
                sigset_t all;
                sigemptyset(&all);
                sigprocmask(SIG_SETMASK, &all, NULL);
                monitor_main(h, fd, m, link[1]);
        }
        close(link[1]);
        if (holder_workload_add(h, nook_msg_str(m, T_PROCESS_REF), pid, link[0]) < 0)
                close(link[0]); /* the monitor still works, without our backstop */
        limits_monitor_add(h, pid, m);
}

/* The fds stay open (CLOEXEC: no workload or fuse-overlayfs gets one) until we end. */
static void handle_hold(holder *h, int fd, nook_msg *m) {
        if (m->n_fds == 0 || h->n_held + m->n_fds > ELEMENTSOF(h->held)) {
                nook_msg_reply_error(fd, m->n_fds ? EMFILE : EINVAL, "the holder keeps at most 8 helper exit fds");
                return;
        }
        for (unsigned i = 0; i < m->n_fds; i++) {
                h->held[h->n_held++] = m->fds[i];
                m->fds[i] = -1;
        }
        reply_ok(fd, NULL, NULL);
}

static void handle_net_ready(holder *h, int fd, nook_msg *m) {
        if (m->n_fds != 1 || h->net_ready_fd >= 0) {
                nook_msg_reply_error(fd, EINVAL, "one network ready fd, once");
                return;
        }
        h->net_ready_fd = m->fds[0];
        m->fds[0] = -1;
        reply_ok(fd, NULL, NULL);
}

/* nook cp: an O_PATH fd of our root, the session's, after pivot_root.  The client
 * (proven ours by peer_ok) resolves every path below it with RESOLVE_IN_ROOT; the fd
 * grants it nothing it could not do by running a command in the session. */
static void handle_root(const holder *h, int fd) {
        int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0) {
                nook_msg_reply_error(fd, errno, "opening the session root");
                return;
        }
        nook_msg r = NOOK_MSG_INIT(NOOK_MSG_REPLY);
        nook_msg_add_u64(&r, T_ERRNO, 0);
        nook_msg_add_fd(&r, root);
        /* and our user namespace: the client's copier joins it, since FUSE (fuse-overlayfs,
         * allow_other) serves only processes in the namespace that mounted it */
        if (h->userns_fd >= 0)
                nook_msg_add_fd(&r, h->userns_fd);
        (void)nook_msg_send(fd, &r);
        nook_msg_done(&r);
        close(root);
}

static void serve_one(holder *h) {
        _cleanup_close_ int fd = accept4(h->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
                return;
        if (!peer_ok(h, fd))
                return;
        nook_msg m = NOOK_MSG_INIT(0);
        if (nook_msg_recv(fd, &m, 5000) < 0) {
                nook_msg_done(&m);
                return;
        }
        switch (m.type) {
        case NOOK_MSG_PING:
                reply_ok(fd, h->prepared ? "prepared" : "created", NULL);
                break;
        case NOOK_MSG_PREPARE:
                handle_prepare(h, fd, &m);
                break;
        case NOOK_MSG_SPAWN:
                handle_spawn(h, fd, &m);
                break;
        case NOOK_MSG_SIGNAL:
                holder_workload_signal(h, fd, &m);
                break;
        case NOOK_MSG_HOLD:
                handle_hold(h, fd, &m);
                break;
        case NOOK_MSG_NET_READY:
                handle_net_ready(h, fd, &m);
                break;
        case NOOK_MSG_SECRETS:
                holder_secrets_take(h, fd, &m);
                break;
        case NOOK_MSG_ROOT:
                if (h->prepared)
                        handle_root(h, fd);
                else
                        nook_msg_reply_error(fd, EAGAIN, "the session has no root yet (prepare_environment)");
                break;
        default:
                nook_msg_reply_error(fd, EOPNOTSUPP, "unknown request");
        }
        nook_msg_done(&m);
}

static int setup_signals(void) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGCHLD);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        sigprocmask(SIG_BLOCK, &set, NULL);
        signal(SIGPIPE, SIG_IGN);
        return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* argv: nook-holder PEER_UID OWN_NETNS(0|1) [SESSION_DIR DEV:INO]; fd 3 control socket,
 * 4 session dir, 5 readiness pipe (one byte 'R', then closed).  The session dir's path
 * and inode are not used here: they name the session to clients proving who we are
 * through /proc/<pid>/cmdline (S32, src/userns/proof.c). */
int main(int argc, char **argv) {
        if (privileged_outside() || argc < 3)
                return 126;
        /* nook starts us with execveat(2) of an fd: before Linux 6.14 that names the
         * process after the fd ("6"), and nook finds its helpers by name */
        prctl(PR_SET_NAME, "nook-holder");
        holder h = { .listen_fd = 3,
                     .session_fd = 4,
                     .upper_fd = -1,
                     .pidns_fd = -1,
                     .net_ready_fd = -1,
                     .proc_fd = -1,
                     .sec = { .dir_fd = -1 },
                     .lim = { .cgroup_fd = -1, .proc_fd = -1, .copy_fd = -1 } };
        /* the argv strings are contiguous: the init rewrites them (its /proc/1/cmdline) */
        h.title = argv[0];
        h.title_size = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) - argv[0]);
        h.peer_uid = (uid_t)strtoul(argv[1], NULL, 10);
        h.own_netns = strcmp(argv[2], "1") == 0;
        /* Non-dumpable from the start: no process of the sandbox can open our
         * /proc/<pid>/exe, mem or fds (S1, S3; proc(5) "PR_SET_DUMPABLE"). */
        prctl(PR_SET_DUMPABLE, 0);
        setsid();
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return 125;
        h.devnull_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        h.userns_fd = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
        h.session_fd = reopen_here(4);
        if (h.session_fd < 0)
                return 125;
        if (h.own_netns)
                lo_up();
        h.signal_fd = setup_signals();
        if (h.signal_fd < 0 || h.devnull_fd < 0)
                return 125;
        fcntl(3, F_SETFD, FD_CLOEXEC);
        /* The client bound and listened; listening again makes SO_PEERCRED of every
         * later connection name us (af_unix.c unix_listen() sets the peer credentials
         * each time), which clients check before they send a byte (S32). */
        if (listen(3, 64) < 0)
                return 125;
        if (write(5, "R", 1) != 1)
                return 125;
        close(5);
        for (;;) {
                struct pollfd p[2] = { { .fd = h.listen_fd, .events = POLLIN },
                                       { .fd = h.signal_fd, .events = POLLIN } };
                int wt = holder_workloads_timeout(&h), lt = limits_timeout(&h);
                if (poll(p, 2, wt < 0 ? lt : lt < 0 ? wt : wt < lt ? wt : lt) < 0 && errno != EINTR)
                        return 125;
                holder_workloads_timers(&h);
                limits_tick(&h);
                if (p[1].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        while (read(h.signal_fd, &si, sizeof(si)) == sizeof(si))
                                if (si.ssi_signo != SIGCHLD) {
                                        holder_secrets_wipe(&h);
                                        return 0; /* as pid 1, our exit ends the session */
                                }
                        reap(&h);
                }
                if (p[0].revents & POLLIN)
                        serve_one(&h);
        }
}
