/* nook userns — the helpers that carry a session's network: slirp4netns (userspace
 * networking: the sandbox's tap0, its NAT to the host, ports published through its API
 * socket) and nook-netd (the egress allowlist: an nftables ruleset in the session's netns
 * and the resolver that opens it name by name).  Both run in the host's pid namespace,
 * out of the workload's (S33), and watch an exit pipe whose write end only the holder
 * keeps (NOOK_MSG_HOLD): when the session ends, however it ends, they end (S29). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "userns/caps-run.h"
#include "userns/network.h"
#include "userns/proof.h"
#include "util/fault.h"
#include "util/macro.h"
#include "util/proc.h"
#include "util/strbuf.h"

#define READY_MS 10000

/* fds[i] becomes fd 3+i of the program; stdout and stderr go to out (a log in the
 * session dir), stdin is /dev/null; nothing else is inherited and the environment is
 * empty (no secret of ours reaches a helper).  The program is not our child (a double
 * fork): it ends with the holder (its exit fd), cleanup kills it without waiting for the
 * kernel to take its tap device down (~20 ms), and a long-lived caller (nook serve) is
 * left no zombie to reap. */
static _Noreturn void exec_helper(int exe, const char *path, char *const argv[], const int *fds, int n, int out) {
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        int high[4 + 64], high_exe = exe >= 0 ? fcntl(exe, F_DUPFD_CLOEXEC, 64) : -1;
        /* above every target first, so that placing one never clobbers another */
        for (int i = 0; i < n; i++)
                if ((high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 64)) < 0)
                        _exit(125);
        if (devnull < 0 || (exe >= 0 && high_exe < 0) || dup2(devnull, 0) < 0 ||
            dup2(out >= 0 ? out : devnull, 1) < 0 || dup2(out >= 0 ? out : devnull, 2) < 0)
                _exit(125);
        for (int i = 0; i < n; i++)
                if (dup2(high[i], 3 + i) < 0)
                        _exit(125);
        /* our own helper itself (proof.c, opened once) right after them, closed by the exec */
        if (exe >= 0 && dup3(high_exe, 3 + n, O_CLOEXEC) < 0)
                _exit(125);
        syscall(SYS_close_range, exe >= 0 ? 4 + n : 3 + n, ~0U, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        char *envp[] = { NULL };
        if (exe >= 0)
                syscall(SYS_execveat, 3 + n, "", argv, envp, AT_EMPTY_PATH);
        else
                execve(path, argv, envp);
        _exit(127);
}

/* The program is exe (an fd of one of our helpers), or path when exe is -1. */
static pid_t spawn(int exe, const char *path, char *const argv[], const int *fds, int n, int out) {
        int pp[2];
        if (pipe2(pp, O_CLOEXEC) < 0)
                return -1;
        pid_t mid = fork();
        if (mid == 0) {
                pid_t g = fork();
                if (g == 0)
                        exec_helper(exe, path, argv, fds, n, out);
                _exit(write(pp[1], &g, sizeof(g)) == sizeof(g) && g > 0 ? 0 : 1);
        }
        close(pp[1]);
        pid_t g = -1;
        int e = errno;
        if (mid > 0) {
                (void)waitpid(mid, NULL, 0);
                if (read(pp[0], &g, sizeof(g)) != sizeof(g))
                        g = -1, e = EAGAIN;
        }
        close(pp[0]);
        errno = e;
        return g;
}

/* The last line the helper wrote to its log, for an error message. */
void nook_net_log_tail(const nook_session *s, const char *log, char *buf, size_t size) {
        buf[0] = 0;
        _cleanup_close_ int fd = openat(s->dir_fd, log, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        char all[4096];
        ssize_t n = fd < 0 ? -1 : pread(fd, all, sizeof(all) - 1, 0);
        if (n <= 0)
                return;
        all[n] = 0;
        while (n > 0 && (all[n - 1] == '\n' || all[n - 1] == ' '))
                all[--n] = 0;
        const char *last = strrchr(all, '\n');
        last = last ? last + 1 : all;
        size_t len = strlen(last);
        if (len >= size)
                len = size - 1;
        memcpy(buf, last, len);
        buf[len] = 0;
}

/* Waits for the ready byte on rfd; a helper that exits first is reported (its log). */
static int await_ready(const nook_session *s, pid_t pid, int rfd, const char *what, const char *log, nook_error **err) {
        struct pollfd p = { .fd = rfd, .events = POLLIN };
        int n = poll(&p, 1, READY_MS);
        char buf[256] = "";
        ssize_t got = n > 0 ? read(rfd, buf, sizeof(buf) - 1) : 0;
        if (got > 0 && (buf[0] == '1' || buf[0] == 'R'))
                return 0;
        if (n == 0)
                kill(pid, SIGKILL); /* just spawned, not yet ready: still the pid we made */
        char tail[512];
        if (got > 1 && buf[0] == 'E') { /* nook-netd: "E<errno> <message>" */
                buf[got] = 0;
                buf[strcspn(buf, "\n")] = 0;
                char *msg = strchr(buf, ' ');
                int e = atoi(buf + 1);
                return nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_HOST_CONFIGURATION_NEEDED,
                                      e > 0 ? e : EIO, "configure_network: %s: %s", what, msg ? msg + 1 : buf);
        }
        nook_net_log_tail(s, log, tail, sizeof(tail));
        nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_HOST_CONFIGURATION_NEEDED,
                       n == 0 ? ETIMEDOUT : EIO, "configure_network: %s %s%s%s", what,
                       n == 0 ? "was not ready within 10 s" : "exited while starting", *tail ? ": " : "", tail);
        return nook_error_set_hint(err, "run 'nook caps' to see whether userspace networking works here; the "
                                        "helper's log is in the session dir"),
               -EIO;
}

static int open_log(const nook_session *s, const char *name) {
        return openat(s->dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
}

/* Starts one of our helpers (argv[0] names it and its log, <name>.log in the session
 * dir) with fds, waits for its ready byte on ready[0] and records it; closes both ends of
 * ready. */
static int start_helper(const nook_session *s, int prog, char *const argv[], const int *fds, int n, int ready[2],
                        pid_t *ret_pid, uint64_t *ret_start, nook_error **err) {
        char log_name[64];
        snprintf(log_name, sizeof(log_name), "%s.log", argv[0]);
        _cleanup_close_ int log = open_log(s, log_name);
        pid_t child = spawn(prog, NULL, argv, fds, n, log);
        int e = errno;
        close(ready[1]);
        int r = child < 0 ? nook_error_sys(err, e, "configure_network: starting %s", argv[0])
                          : await_ready(s, child, ready[0], argv[0], log_name, err);
        close(ready[0]);
        if (r < 0)
                return r;
        *ret_pid = child;
        (void)nook_proc_start_time(child, ret_start);
        return 0;
}

/* Both helpers' exit pipe: the write end goes to the holder first, so that from the
 * moment a helper exists its life is tied to the session's. */
static int exit_pipe(const nook_session *s, int *ret_read, nook_error **err) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return nook_error_sys(err, errno, "configure_network: creating a pipe");
        nook_msg m = NOOK_MSG_INIT(NOOK_MSG_HOLD), reply = NOOK_MSG_INIT(0);
        int r = nook_msg_add_fd(&m, p[1]);
        if (r < 0)
                r = nook_session_compose_error(err, r, "the holder's exit fd");
        else
                r = nook_session_request(s, NULL, &m, &reply, 5000, "configure_network: handing the holder an exit fd",
                                         err);
        nook_msg_done(&m);
        nook_msg_done(&reply);
        close(p[1]);
        if (r < 0) {
                close(p[0]);
                return r;
        }
        *ret_read = p[0];
        return 0;
}

/* slirp4netns's ready fd, to the holder (NOOK_MSG_NET_READY). */
static int hand_ready(const nook_session *s, int rfd, nook_error **err) {
        nook_msg m = NOOK_MSG_INIT(NOOK_MSG_NET_READY), reply = NOOK_MSG_INIT(0);
        int r = nook_msg_add_fd(&m, rfd);
        if (r < 0)
                r = nook_session_compose_error(err, r, "the holder's network ready fd");
        else
                r = nook_session_request(s, NULL, &m, &reply, 5000,
                                         "configure_network: handing the holder slirp4netns's ready fd", err);
        nook_msg_done(&m);
        nook_msg_done(&reply);
        return r;
}

int nook_slirp_start(nook_session *s, nook_error **err) {
        _cleanup_free_ char *prog = NULL;
        if (caps_find_program("slirp4netns", &prog) < 0)
                return nook_error_oom(err);
        if (!prog) {
                nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_HOST_CONFIGURATION_NEEDED, ENOENT,
                               "configure_network: slirp4netns is not installed (userspace networking)");
                return nook_error_set_hint(err, "install it (Debian: apt-get install slirp4netns), or run with "
                                                "--network none"),
                       -ENOENT;
        }
        /* slirp4netns opens /dev/net/tun in the session's namespaces (slirp4netns(1)); a
         * container or an outer nook session that does not pass the device has none */
        struct stat tun;
        if (stat("/dev/net/tun", &tun) < 0 || !S_ISCHR(tun.st_mode)) {
                nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_HOST_CONFIGURATION_NEEDED, ENODEV,
                               "configure_network: there is no /dev/net/tun here (nested in a container or a nook "
                               "session that does not pass it): slirp4netns cannot give the sandbox a network");
                return nook_error_set_hint(err, "run with --network none (loopback only), or give the outer "
                                                "container the device (--device /dev/net/tun); see docs/nested.md"),
                       -ENODEV;
        }
        _cleanup_close_ int exit_rd = -1;
        int r = exit_pipe(s, &exit_rd, err);
        if (r < 0)
                return r;
        int ready[2];
        if (pipe2(ready, O_CLOEXEC) < 0)
                return nook_error_sys(err, errno, "configure_network: creating a pipe");
        _cleanup_close_ int log = open_log(s, "slirp4netns.log");
        char pid[16];
        snprintf(pid, sizeof(pid), "%d", (int)s->holder_pid);
        /* the sandbox (its own mount namespace, pivoted into an empty dir) needs root in
         * the session's user namespace: keep-id maps none */
        bool sandbox = s->identity != NOOK_IDENTITY_KEEP_ID;
        char *argv[16];
        int a = 0;
        argv[a++] = (char *)"slirp4netns";
        argv[a++] = (char *)"--configure";
        argv[a++] = (char *)"--mtu=65520";
        if (!s->net_loopback)
                argv[a++] = (char *)"--disable-host-loopback";
        if (sandbox)
                argv[a++] = (char *)"--enable-sandbox";
        argv[a++] = (char *)"--enable-seccomp";
        argv[a++] = (char *)"--ready-fd=3";
        argv[a++] = (char *)"--exit-fd=4";
        argv[a++] = (char *)"--api-socket=/proc/self/fd/5/slirp.sock";
        argv[a++] = pid;
        argv[a++] = (char *)"tap0";
        argv[a] = NULL;
        int fds[] = { ready[1], exit_rd, s->dir_fd };
        pid_t child = spawn(-1, prog, argv, fds, 3, log);
        int e = errno;
        close(ready[1]);
        if (child < 0) {
                close(ready[0]);
                return nook_error_sys(err, e, "configure_network: starting slirp4netns");
        }
        s->slirp_pid = child;
        (void)nook_proc_start_time(child, &s->slirp_start);
        /* UDP ports are published through its API socket: wait for it.  Otherwise the holder
         * waits, before the first spawn, while the root is built in between (slirp4netns
         * takes 10 ms and more to come up, most of it loading its libraries). */
        if (s->net_ports && strstr(s->net_ports, "/udp"))
                r = await_ready(s, child, ready[0], "slirp4netns", "slirp4netns.log", err);
        else
                r = hand_ready(s, ready[0], err);
        close(ready[0]);
        if (r < 0) {
                s->slirp_pid = 0;
                s->slirp_start = 0;
                return r;
        }
        if (!sandbox) {
                static const char note[] = "slirp4netns runs without its mount sandbox (keep-id maps no root "
                                           "in the session to make one)";
                char *n = NULL;
                if (asprintf(&n, "%s%s%s", s->notes ? s->notes : "", s->notes ? "; " : "", note) >= 0) {
                        free(s->notes);
                        s->notes = n;
                }
        }
        return nook_fault("network.after_slirp");
}

/* One request on slirp4netns's API socket (its JSON is ours to write: no user text in
 * it but numbers and a checked address); *ok when it answered "return". */
static int api_call(const nook_session *s, const char *json, char *answer, size_t size) {
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/slirp.sock", s->dir_fd);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;
        size_t len = strlen(json);
        if (write(fd, json, len) != (ssize_t)len || shutdown(fd, SHUT_WR) < 0)
                return -errno;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        size_t got = 0;
        while (got < size - 1 && poll(&p, 1, 5000) > 0) {
                ssize_t n = read(fd, answer + got, size - 1 - got);
                if (n <= 0)
                        break;
                got += (size_t)n;
        }
        answer[got] = 0;
        return got ? 0 : -EIO;
}

/* A host socket for a published port: bound (and, for TCP, listening) here, so that a
 * taken port is named before anything is started; a UDP one is only tried (slirp4netns
 * binds it). */
static int host_socket(const char *ip, unsigned port, bool udp, int *ret) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
                return -EINVAL;
        _cleanup_close_ int fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || (!udp && listen(fd, 128) < 0))
                return -errno;
        *ret = udp ? -1 : TAKE_FD(fd);
        return 0;
}

static int port_error(nook_error **err, int r, const char *proto, unsigned hport, unsigned cport, const char *ip) {
        nook_error_sys(err, -r, "configure_network: publishing %s port %u on %s", proto, hport, ip);
        return nook_error_set_hint(err,
                                   r == -EADDRINUSE      ? "another program listens there: choose another host "
                                                           "port (-p OTHER:%u)"
                                   : r == -EADDRNOTAVAIL ? "%u: that address is not one of this host's"
                                                         : "port %u",
                                   cport),
               r;
}

typedef struct published {
        int fds[NOOK_NET_MAX_TCP_PORTS];
        char port[NOOK_NET_MAX_TCP_PORTS][8];
        int n;
} published;

static void published_close(published *p) {
        for (int i = 0; i < p->n; i++)
                close(p->fds[i]);
        p->n = 0;
}

/* Binds every published port; UDP ones go to slirp4netns's API now, TCP ones are left
 * listening in *ret for nook-portfwd. */
static int bind_ports(const nook_session *s, published *ret, nook_error **err) {
        ret->n = 0;
        for (const char *w = s->net_ports; w && *w;) {
                size_t n = strcspn(w, " ");
                char ip[64], proto[8];
                unsigned hport, cport;
                _cleanup_free_ char *one = strndup(w, n);
                if (!one)
                        return nook_error_oom(err);
                if (sscanf(one, "%63[^:]:%u:%u/%7s", ip, &hport, &cport, proto) != 4)
                        return nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                              "configure_network: a published port reads '%s'", one);
                bool udp = strcmp(proto, "udp") == 0;
                if (!udp && ret->n == NOOK_NET_MAX_TCP_PORTS)
                        return nook_error_set(err, NOOK_ERROR_CONTRACT_VIOLATION, NOOK_RETRY_USER_ACTION_NEEDED, E2BIG,
                                              "configure_network: at most %d published TCP ports",
                                              NOOK_NET_MAX_TCP_PORTS);
                int fd = -1;
                int r = host_socket(ip, hport, udp, &fd);
                if (r < 0)
                        return port_error(err, r, proto, hport, cport, ip);
                if (!udp) {
                        ret->fds[ret->n] = fd;
                        snprintf(ret->port[ret->n++], sizeof(ret->port[0]), "%u", cport);
                } else {
                        char req[256], ans[512];
                        snprintf(req, sizeof(req),
                                 "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"udp\",\"host_addr\":"
                                 "\"%s\",\"host_port\":%u,\"guest_port\":%u}}",
                                 ip, hport, cport);
                        r = api_call(s, req, ans, sizeof(ans));
                        if (r < 0 || !strstr(ans, "\"return\""))
                                return nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_RETRYABLE,
                                                      r < 0 ? -r : EADDRINUSE,
                                                      "configure_network: slirp4netns did not publish udp port %u "
                                                      "on %s: %s",
                                                      hport, ip, r < 0 ? strerror(-r) : ans);
                }
                w += n + (w[n] == ' ');
        }
        return 0;
}

static int session_ns(const nook_session *s, int *ret_user, int *ret_net, nook_error **err) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)s->holder_pid);
        *ret_user = open(path, O_RDONLY | O_CLOEXEC);
        snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)s->holder_pid);
        *ret_net = open(path, O_RDONLY | O_CLOEXEC);
        if (*ret_user >= 0 && *ret_net >= 0 && nook_session_alive(s))
                return 0;
        return nook_error_sys(err, errno ? errno : ESRCH, "configure_network: opening the session's namespaces");
}

int nook_net_publish(nook_session *s, nook_error **err) {
        published p = { .n = 0 };
        int r = bind_ports(s, &p, err);
        if (r < 0 || p.n == 0) {
                published_close(&p);
                return r;
        }
        _cleanup_close_ int prog = nook_helper_open("nook-portfwd", err);
        _cleanup_close_ int userns = -1, netns = -1, exit_rd = -1;
        int ready[2] = { -1, -1 };
        if ((r = prog) < 0 || (r = session_ns(s, &userns, &netns, err)) < 0 || (r = exit_pipe(s, &exit_rd, err)) < 0 ||
            (pipe2(ready, O_CLOEXEC) < 0 && (r = nook_error_sys(err, errno, "configure_network: a pipe")) < 0)) {
                published_close(&p);
                return r;
        }
        char *argv[2 + NOOK_NET_MAX_TCP_PORTS + 1] = { (char *)"nook-portfwd", s->ref };
        int fds[4 + NOOK_NET_MAX_TCP_PORTS] = { userns, netns, ready[1], exit_rd };
        for (int i = 0; i < p.n; i++) {
                argv[2 + i] = p.port[i];
                fds[4 + i] = p.fds[i];
        }
        r = start_helper(s, prog, argv, fds, 4 + p.n, ready, &s->portfwd_pid, &s->portfwd_start, err);
        published_close(&p);
        return r;
}

/* nook-netd's configuration (helpers/netd.c): the host's resolvers, or --dns; the rules. */
static int netd_config(const nook_session *s, nook_strbuf *b) {
        int n = 0;
        for (const char *w = s->net_dns; w && *w; n++) {
                size_t len = strcspn(w, " ");
                nook_strbuf_printf(b, "upstream %.*s\n", (int)len, w);
                w += len + (w[len] == ' ');
        }
        _cleanup_fclose_ FILE *f = n ? NULL : fopen("/etc/resolv.conf", "re");
        char line[512];
        while (f && fgets(line, sizeof(line), f)) {
                char addr[128];
                if (sscanf(line, " nameserver %127s", addr) == 1 && strchr(addr, '.') && n < 3) {
                        nook_strbuf_printf(b, "upstream %s\n", addr);
                        n++;
                }
        }
        for (const char *w = strcmp(s->net_egress, "-") ? s->net_egress : ""; *w;) {
                size_t len = strcspn(w, " ");
                /* canonical: scheme://host:port */
                char scheme[8], host[256];
                unsigned port;
                _cleanup_free_ char *one = strndup(w, len);
                if (one && sscanf(one, "%7[a-z]://%255[^:]:%u", scheme, host, &port) == 3)
                        nook_strbuf_printf(b, "rule %s %s %u\n", strcmp(scheme, "udp") ? "tcp" : "udp", host, port);
                w += len + (w[len] == ' ');
        }
        return n;
}

int nook_netd_start(nook_session *s, nook_error **err) {
        _cleanup_close_ int prog = nook_helper_open("nook-netd", err);
        if (prog < 0)
                return prog;
        int r;
        nook_strbuf conf = NOOK_STRBUF_INIT;
        int upstreams = netd_config(s, &conf);
        _cleanup_free_ char *text = nook_strbuf_steal(&conf);
        if (!text)
                return nook_error_oom(err);
        if (upstreams == 0 && strcmp(s->net_egress, "-") != 0)
                return nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_HOST_CONFIGURATION_NEEDED, ENOENT,
                                      "configure_network: no IPv4 resolver in the host's /etc/resolv.conf for the "
                                      "sandbox's names; give one with --dns IP");
        _cleanup_close_ int userns = -1, netns = -1;
        if ((r = session_ns(s, &userns, &netns, err)) < 0)
                return r;
        int cfg[2], ready[2];
        if (pipe2(cfg, O_CLOEXEC) < 0)
                return nook_error_sys(err, errno, "configure_network: creating a pipe");
        size_t len = strlen(text);
        /* a pipe holds 64 KiB: rules beyond that are refused by the contract's bounds */
        if (write(cfg[1], text, len) != (ssize_t)len) {
                close(cfg[0]);
                close(cfg[1]);
                return nook_error_sys(err, errno ? errno : E2BIG, "configure_network: the egress rules");
        }
        close(cfg[1]);
        _cleanup_close_ int exit_rd = -1;
        if ((r = exit_pipe(s, &exit_rd, err)) < 0 || pipe2(ready, O_CLOEXEC) < 0) {
                close(cfg[0]);
                return r < 0 ? r : nook_error_sys(err, errno, "configure_network: creating a pipe");
        }
        char *argv[] = { (char *)"nook-netd", s->ref, NULL };
        int fds[] = { userns, netns, ready[1], exit_rd, cfg[0] };
        r = start_helper(s, prog, argv, fds, 5, ready, &s->netd_pid, &s->netd_start, err);
        close(cfg[0]);
        return r < 0 ? r : nook_fault("network.after_netd");
}

/* comm, uid and start time: a helper of ours.  (Its exe is closed to us: slirp4netns
 * becomes root of the session's user namespace and so non-dumpable.) */
bool nook_net_helper_alive(pid_t pid, uint64_t start, const char *program) {
        if (pid <= 0 || !nook_proc_alive(pid, start))
                return false;
        char path[64], buf[64];
        snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
        if (nook_read_small(path, buf, sizeof(buf)) <= 0)
                return false;
        buf[strcspn(buf, "\n")] = 0;
        if (strncmp(buf, program, 15) != 0)
                return false;
        snprintf(path, sizeof(path), "/proc/%d", (int)pid);
        _cleanup_close_ int procfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return procfd >= 0 && nook_proc_owned_by_us(procfd);
}

int nook_net_helper_stop(pid_t pid, uint64_t start, const char *program) {
        if (pid <= 0)
                return 0;
        _cleanup_close_ int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pfd < 0)
                return errno == ESRCH ? 0 : -errno;
        /* proven after the pidfd is held: the signal cannot reach a pid reused since */
        if (!nook_net_helper_alive(pid, start, program))
                return 0;
        /* SIGKILL cannot be caught: it is gone once the kernel has taken its tap device
         * down, which we do not wait for (init reaps it) */
        if (syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
                return -errno;
        return 0;
}

int nook_net_stop_now(const nook_session *s) {
        int a = nook_net_helper_stop(s->slirp_pid, s->slirp_start, "slirp4netns");
        int b = nook_net_helper_stop(s->netd_pid, s->netd_start, "nook-netd");
        int c = nook_net_helper_stop(s->portfwd_pid, s->portfwd_start, "nook-portfwd");
        return a < 0 ? a : b < 0 ? b : c;
}
