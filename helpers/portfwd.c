/* nook-portfwd — a session's published TCP ports, carried from the host into the
 * session's network namespace without a userspace TCP stack in between.
 *
 * slirp4netns's own port forwarding (add_hostfwd) passes every byte through libslirp's
 * TCP implementation: host -> sandbox ran at 0.6x of podman's (whose rootlessport
 * connects inside the namespace).  Here the listening sockets are bound by nook on the
 * host (a taken port is an error before anything starts); we join the session's user and
 * network namespaces, where each connection we make goes to the sandbox's address over
 * the namespace's own loopback route, and move the bytes with splice(2) through a pipe
 * per direction, never copying them to userspace.  No library does this (socat copies;
 * rootlessport is Go): ~250 lines, measured in ./dev bench's network rows.
 *
 *   nook-portfwd SESSION-REF PORT...
 *
 * fd 3: the session's user namespace, 4: its network namespace, 5: readiness ("R", or
 * "E<errno> <message>" and exit 1), 6: the exit fd (EOF when the holder ends: we end),
 * 7...: one listening TCP socket per PORT, in order, each forwarded to 10.0.2.100:PORT.
 * Exits 126 without a word when run with more privilege than the caller. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fail.h"

enum { FD_USERNS = 3, FD_NETNS = 4, FD_READY = 5, FD_EXIT = 6, FD_LISTEN = 7 };
#define MAX_PORTS 64
#define MAX_CONNS 1024
#define GUEST 0x0a000264 /* 10.0.2.100, slirp4netns's --configure address */

/* One direction of a connection: from -> pipe -> to. */
typedef struct half {
        int from, to, pipe[2];
        size_t pending; /* bytes in the pipe */
        bool eof;       /* from said EOF (and to was shut down once the pipe drained) */
} half;

typedef struct conn {
        int host, guest;
        half up, down; /* host -> guest, guest -> host */
        bool used;
} conn;

static conn conns[MAX_CONNS];
static size_t max_conns; /* what our fd limit allows: each connection holds 6 fds */
static unsigned ports[MAX_PORTS];

static void conn_close(conn *c) {
        int fds[] = { c->host, c->guest, c->up.pipe[0], c->up.pipe[1], c->down.pipe[0], c->down.pipe[1] };
        for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        *c = (conn){ .used = false };
}

/* Moves what can be moved now; -1 when the connection is over (an error, or both ways
 * ended), else 0.  Called on every event of either socket (edge-triggered): it runs
 * until each side would block. */
static int pump(half *h) {
        for (;;) {
                while (h->pending > 0) {
                        ssize_t n =
                                splice(h->pipe[0], NULL, h->to, NULL, h->pending, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                        if (n < 0)
                                return errno == EAGAIN ? 0 : -1;
                        h->pending -= (size_t)n;
                }
                if (h->eof)
                        return 0;
                ssize_t n = splice(h->from, NULL, h->pipe[1], NULL, 1 << 20, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                if (n < 0)
                        return errno == EAGAIN ? 0 : -1;
                if (n == 0) {
                        h->eof = true;
                        (void)shutdown(h->to, SHUT_WR);
                        return 0;
                }
                h->pending += (size_t)n;
        }
}

static void serve_conn(conn *c) {
        if (pump(&c->up) < 0 || pump(&c->down) < 0 || (c->up.eof && c->down.eof && !c->up.pending && !c->down.pending))
                conn_close(c);
}

static int half_init(half *h, int from, int to) {
        *h = (half){ .from = from, .to = to, .pipe = { -1, -1 } };
        if (pipe2(h->pipe, O_CLOEXEC | O_NONBLOCK) < 0)
                return -1;
        (void)fcntl(h->pipe[1], F_SETPIPE_SZ, 1 << 18); /* fewer rounds; the default where refused */
        return 0;
}

/* A host connection on listener i: a connection to the sandbox's PORT made from inside
 * the namespace (it goes over the namespace's loopback, never through slirp4netns). */
static void accept_one(int ep, int i) {
        int host = accept4(FD_LISTEN + i, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (host < 0)
                return;
        conn *c = NULL;
        for (size_t k = 0; k < max_conns && !c; k++)
                if (!conns[k].used)
                        c = &conns[k];
        int guest = c ? socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0) : -1;
        struct sockaddr_in sa = { .sin_family = AF_INET,
                                  .sin_port = htons((uint16_t)ports[i]),
                                  .sin_addr.s_addr = htonl(GUEST) };
        if (guest < 0 || (connect(guest, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)) {
                close(host); /* the sandbox refused: so do we */
                if (guest >= 0)
                        close(guest);
                return;
        }
        *c = (conn){ .host = host, .guest = guest, .used = true };
        c->up.pipe[0] = c->up.pipe[1] = c->down.pipe[0] = c->down.pipe[1] = -1;
        int one = 1;
        (void)setsockopt(host, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof(one));
        (void)setsockopt(guest, IPPROTO_TCP, 1, &one, sizeof(one));
        struct epoll_event eh = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c };
        if (half_init(&c->up, host, guest) < 0 || half_init(&c->down, guest, host) < 0 ||
            epoll_ctl(ep, EPOLL_CTL_ADD, host, &eh) < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, guest, &eh) < 0)
                conn_close(c);
}

static int start(int nports, hstatus *st) {
        if (hjoin_session(FD_USERNS, FD_NETNS, st) < 0)
                return -st->err;
        /* nothing more to gain: sockets need no capability */
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2] = { 0 };
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || syscall(SYS_capset, &h, d) < 0)
                return hfail(st, errno, "dropping capabilities");
        for (int i = 0; i < nports; i++) {
                int fl = fcntl(FD_LISTEN + i, F_GETFL);
                if (fl < 0 || fcntl(FD_LISTEN + i, F_SETFL, fl | O_NONBLOCK) < 0)
                        return hfail(st, errno, "listening socket %d", i);
        }
        return 0;
}

int main(int argc, char **argv) {
        if (hprivileged() || argc < 3 || argc - 2 > MAX_PORTS)
                return 126;
        /* nook starts us with execveat(2) of an fd: before Linux 6.14 that names the
         * process after the fd ("6"), and nook finds its helpers by name */
        prctl(PR_SET_NAME, "nook-portfwd");
        prctl(PR_SET_DUMPABLE, 0); /* the sandbox shares the user namespace we join */
        signal(SIGPIPE, SIG_IGN);
        int nports = argc - 2;
        for (int i = 0; i < nports; i++) {
                char *end;
                unsigned long p = strtoul(argv[2 + i], &end, 10);
                if (*end || p == 0 || p > 65535)
                        return 126;
                ports[i] = (unsigned)p;
        }
        syscall(SYS_close_range, FD_LISTEN + nports, ~0U, 0);
        /* As many connections as the hard fd limit allows (6 fds each); those beyond are
         * accepted and closed at once. */
        struct rlimit nofile;
        if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
                nofile.rlim_cur = nofile.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &nofile);
        }
        size_t room = getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur > 64 + (rlim_t)nports
                              ? (size_t)(nofile.rlim_cur - 64 - (rlim_t)nports) / 6
                              : 0;
        max_conns = room < MAX_CONNS ? room : MAX_CONNS;
        hstatus st = { 0 };
        int ep = epoll_create1(EPOLL_CLOEXEC);
        if (ep < 0)
                hfail(&st, errno, "epoll");
        if (ep < 0 || start(nports, &st) < 0) {
                dprintf(FD_READY, "E%d %s\n", st.err, st.msg);
                return 1;
        }
        struct epoll_event e = { .events = EPOLLIN, .data.ptr = NULL };
        e.data.u64 = 0;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, FD_EXIT, &e) < 0)
                return 1;
        for (int i = 0; i < nports; i++) {
                e.data.u64 = (uint64_t)(i + 1);
                if (epoll_ctl(ep, EPOLL_CTL_ADD, FD_LISTEN + i, &e) < 0)
                        return 1;
        }
        if (write(FD_READY, "R", 1) != 1)
                return 1;
        close(FD_READY);
        /* listener events carry 1..nports, the exit fd 0, connections their conn (an
         * address far above MAX_PORTS) */
        for (;;) {
                struct epoll_event ev[64];
                int n = epoll_wait(ep, ev, 64, -1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return 1;
                for (int k = 0; k < n; k++) {
                        uint64_t tag = ev[k].data.u64;
                        if (tag == 0)
                                return 0; /* the holder ended */
                        if (tag <= (uint64_t)nports)
                                accept_one(ep, (int)tag - 1);
                        else if (((conn *)ev[k].data.ptr)->used)
                                serve_conn(ev[k].data.ptr);
                }
        }
}
