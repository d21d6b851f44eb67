/* nook-holder — a process's monitor (one per start_process, forked by the holder): owns
 * the workload's stdio (pipes or a pty of the session's devpts), appends its output to
 * capture logs with one write per chunk, up to the io policy's max_bytes (S34), serves
 * stdin/signal/stats/resize on a control socket, enforces the timeout, and records the
 * exit status; it survives the client that asked for it (DESIGN.md "Processes").  The
 * session's memory, process and disk limits are the holder's (limits.c).  It forks the
 * workload into the workloads' pid namespace (setns(2)) and stays outside, out of the
 * workload's sight and reach (S33); the holder gets the workload's pidfd. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "helper.h"
#include "util/macro.h"
#include "util/clock.h"
#include "util/mask.h"

#define CHUNK 65536
#define STDIN_BUFFER_MAX (1u << 20)
#define TRUNCATED "\n[nook: output truncated at %llu bytes (the io policy's max_bytes)]\n"

/* A capture log: it keeps at most max bytes; past them a marker ends it, or (fail) the
 * process is killed; what comes after is read and dropped, so the workload never
 * blocks on a full pipe. */
typedef struct capture {
        int fd;
        int times_fd; /* out.times / err.times: when the bytes were written, or -1 */
        uint64_t n_times;
        int64_t last_ms;
        uint64_t max, written;
        bool fail, full;
        nook_mask_stream *mask; /* the session's secrets masked before a byte is kept, or NULL */
        struct mon *m;
} capture;

typedef struct mon {
        holder *h;
        int pdir; /* the process's state dir */
        capture out_log, err_log;
        int out_fd, err_fd; /* read ends (pty master for both when pty) */
        int in_fd;          /* write end of stdin, -1 when closed */
        int ctl;            /* listening control socket */
        int pidfd;
        pid_t pid;
        bool pty, exited, timed_out;
        const char *killed_by;
        int64_t deadline, grace_deadline;
        char *pending; /* stdin bytes not yet written */
        size_t n_pending;
        bool close_after_pending;
        int64_t eof_next;  /* pty: when to give the terminal its EOF character again, 0 never */
        unsigned eof_wait; /* and the wait after that, ms */
} mon;

static void kill_tree(mon *m, const char *why);

static void write_all(int fd, const char *buf, size_t n) {
        for (size_t off = 0; off < n;) {
                ssize_t w = write(fd, buf + off, n - off);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        break; /* disk full: the output is lost, the workload goes on */
                off += (size_t)w;
        }
}

/* When the byte at offset of a log was written (nook logs -t, --since): records of two
 * u64, the offset and the wall clock in ms (nook_log_time_at() reads them), one per
 * 10 ms at most, then (past 64 Ki records: 1 MiB) one a second, so that a chatty
 * workload cannot grow the file faster than 16 bytes a second. */
#define TIMES_FINE 65536
static void note_time(capture *c, uint64_t offset) {
        int64_t ms = nook_wall_ms();
        if (c->times_fd < 0 || (c->n_times && ms - c->last_ms < (c->n_times < TIMES_FINE ? 10 : 1000)))
                return;
        uint64_t rec[2] = { offset, (uint64_t)ms };
        write_all(c->times_fd, (const char *)rec, sizeof(rec));
        c->last_ms = ms;
        c->n_times++;
}

/* Appends output within the log's bound; the log is the only copy, so a short write
 * is retried. */
static int keep(const void *buf, size_t n, void *userdata) {
        capture *c = userdata;
        size_t k = c->full ? 0 : c->max - c->written < (uint64_t)n ? (size_t)(c->max - c->written) : n;
        if (k)
                note_time(c, c->written);
        write_all(c->fd, buf, k);
        c->written += k;
        if (!c->full && k < n) {
                c->full = true;
                if (c->fail)
                        kill_tree(c->m, "output");
                else {
                        char mark[128];
                        int l = snprintf(mark, sizeof(mark), TRUNCATED, (unsigned long long)c->max);
                        write_all(c->fd, mark, (size_t)l);
                }
        }
        return 0;
}

/* One chunk of output, through the secrets' masker when the session holds secrets (a
 * value split across reads is still found: the masker holds back what could begin
 * one).  1: a chunk was read; 0: end of file (or pty hangup), the held-back bytes
 * kept; -1: nothing to read now. */
/* The one read buffer, with room in front for the bytes the masker held back (one
 * write per read).  With secrets it is locked in memory and wiped when we end: what it
 * holds between reads is the last chunk only (a wipe per read cost 15% of the
 * throughput). */
static char room[NOOK_MASK_ROOM + CHUNK];

static int pump(int from, capture *c) {
        char *buf = room + NOOK_MASK_ROOM;
        ssize_t n = read(from, buf, CHUNK);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return -1;
        if (n <= 0) {
                if (c->mask)
                        (void)nook_mask_flush(c->mask, keep, c);
                return 0;
        }
        if (c->mask)
                (void)nook_mask_feed_room(c->mask, buf, (size_t)n, keep, c);
        else
                keep(buf, (size_t)n, c);
        return 1;
}

static void drain(mon *m) {
        if (m->out_fd >= 0) {
                fcntl(m->out_fd, F_SETFL, O_NONBLOCK);
                while (pump(m->out_fd, &m->out_log) == 1)
                        ;
        }
        if (m->err_fd >= 0) {
                fcntl(m->err_fd, F_SETFL, O_NONBLOCK);
                while (pump(m->err_fd, &m->err_log) == 1)
                        ;
        }
        /* what the masker still holds: the process has ended, or its output is no
         * longer read (an unread pipe) */
        if (m->out_log.mask)
                (void)nook_mask_flush(m->out_log.mask, keep, &m->out_log);
        if (m->err_log.mask)
                (void)nook_mask_flush(m->err_log.mask, keep, &m->err_log);
}

/* Descendants of the workload from a procfs of the session's pid namespace (proc(5)
 * stat fields 4, 14, 15, 24): cpu time, resident memory and the number of processes of
 * its tree.  The root's /proc shows the workloads' namespace, where we have no pid. */
typedef struct tree {
        uint64_t cpu_ms, rss, nproc;
} tree;

static void tree_measure(int proc_fd, pid_t root, tree *t) {
        *t = (tree){ 0 };
        _cleanup_closedir_ DIR *d = NULL;
        int dfd = proc_fd >= 0 ? openat(proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                               : open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d) {
                if (dfd >= 0)
                        close(dfd);
                return;
        }
        pid_t pids[4096], ppids[4096];
        uint64_t cpu[4096], rss[4096];
        size_t n = 0;
        long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
        struct dirent *e;
        while ((e = readdir(d)) && n < ELEMENTSOF(pids)) {
                char path[300], buf[1024];
                if (e->d_name[0] < '1' || e->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof(path), "%s/stat", e->d_name);
                _cleanup_close_ int fd = openat(dirfd(d), path, O_RDONLY | O_CLOEXEC);
                ssize_t len = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
                if (len <= 0)
                        continue;
                buf[len] = 0;
                char *p = strrchr(buf, ')');
                unsigned long long ut = 0, st = 0, rs = 0;
                int ppid = 0;
                if (!p ||
                    sscanf(p + 2,
                           "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %*u %*u %llu",
                           &ppid, &ut, &st, &rs) != 4)
                        continue;
                pids[n] = (pid_t)atoi(e->d_name);
                ppids[n] = ppid;
                cpu[n] = (ut + st) * 1000 / (uint64_t)(tick > 0 ? tick : 100);
                rss[n] = rs * (uint64_t)page;
                n++;
        }
        bool in[4096] = { false };
        for (bool grew = true; grew;) {
                grew = false;
                for (size_t i = 0; i < n; i++) {
                        if (in[i])
                                continue;
                        bool take = pids[i] == root;
                        for (size_t j = 0; j < n && !take; j++)
                                take = in[j] && pids[j] == ppids[i];
                        if (take) {
                                in[i] = grew = true;
                                t->cpu_ms += cpu[i];
                                t->rss += rss[i];
                                t->nproc++;
                        }
                }
        }
}

static void kill_tree(mon *m, const char *why) {
        if (m->exited)
                return;
        if (why && !m->killed_by)
                m->killed_by = why;
        kill(-m->pid, SIGKILL);
        syscall(SYS_pidfd_send_signal, m->pidfd, SIGKILL, NULL, 0);
}

static void flush_stdin(mon *m) {
        while (m->in_fd >= 0 && m->n_pending) {
                ssize_t w = write(m->in_fd, m->pending, m->n_pending);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0 && errno == EAGAIN)
                        return;
                if (w < 0) { /* EPIPE: the workload closed its stdin */
                        m->n_pending = 0;
                        break;
                }
                memmove(m->pending, m->pending + w, m->n_pending - (size_t)w);
                m->n_pending -= (size_t)w;
        }
        if (m->in_fd >= 0 && m->close_after_pending && !m->n_pending) {
                if (!m->pty)
                        close(m->in_fd);
                else
                        m->eof_next = nook_mono_ms(); /* the end of input, as a terminal gives it */
                m->in_fd = -1;
        }
}

/* A terminal has no end of input but its EOF character (VEOF, ^D): a read of an empty
 * line returns 0.  One sent while the program is not yet reading in its final terminal
 * mode is lost (a shell that starts in canonical mode and switches to its line editor
 * drops it: `nook run -it IMAGE sh </dev/null` waited forever), so it is sent again
 * whenever the terminal's input queue is empty, with a growing wait (50 ms to 1 s), as
 * long as the process lives: each read of a closed pipe returns 0 too. */
static void terminal_eof(mon *m) {
        int64_t now = nook_mono_ms();
        if (!m->eof_next || now < m->eof_next || m->out_fd < 0)
                return;
        int queued = 0;
        int slave = ioctl(m->out_fd, TIOCGPTPEER, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (slave < 0 || ioctl(slave, TIOCINQ, &queued) < 0)
                queued = 0;
        if (slave >= 0)
                close(slave);
        if (!queued) {
                struct termios t;
                char eof = tcgetattr(m->out_fd, &t) == 0 && t.c_cc[VEOF] != _POSIX_VDISABLE ? (char)t.c_cc[VEOF] : 4;
                if (write(m->out_fd, &eof, 1) < 0 && errno != EAGAIN && errno != EINTR) {
                        m->eof_next = 0; /* the terminal is gone */
                        return;
                }
        }
        m->eof_wait = m->eof_wait ? (m->eof_wait * 2 > 1000 ? 1000 : m->eof_wait * 2) : 50;
        m->eof_next = now + m->eof_wait;
}

static void reply_u64s(int fd, const uint16_t *tags, const uint64_t *vals, size_t n) {
        nook_msg r = NOOK_MSG_INIT(NOOK_MSG_REPLY);
        nook_msg_add_u64(&r, T_ERRNO, 0);
        for (size_t i = 0; i < n; i++)
                nook_msg_add_u64(&r, tags[i], vals[i]);
        (void)nook_msg_send(fd, &r);
        nook_msg_done(&r);
}

static void on_stdin(mon *m, int fd, const nook_msg *q) {
        if (m->in_fd < 0)
                return (void)nook_msg_reply_error(fd, EPIPE, "stdin of this process is closed");
        size_t off = 0;
        uint16_t tag;
        const void *d;
        uint32_t len;
        while (nook_msg_next(q, &off, &tag, &d, &len)) {
                if (tag != T_DATA || !len)
                        continue;
                if (m->n_pending + len > STDIN_BUFFER_MAX)
                        return (void)nook_msg_reply_error(fd, EAGAIN, "stdin buffer full: the process is not reading");
                char *p = realloc(m->pending, m->n_pending + len);
                if (!p)
                        return (void)nook_msg_reply_error(fd, ENOMEM, "buffering stdin");
                memcpy(p + m->n_pending, d, len);
                m->pending = p;
                m->n_pending += len;
        }
        if (nook_msg_u64(q, T_CLOSE, 0))
                m->close_after_pending = true;
        flush_stdin(m);
        reply_u64s(fd, NULL, NULL, 0);
}

static void on_signal(mon *m, int fd, const nook_msg *q) {
        int sig = (int)nook_msg_u64(q, T_SIGNAL, SIGTERM);
        uint64_t grace = nook_msg_u64(q, T_GRACE_MS, 0);
        uint64_t delivered = 0;
        if (!m->exited && syscall(SYS_pidfd_send_signal, m->pidfd, sig, NULL, 0) == 0) {
                delivered = 1;
                if (sig != SIGKILL && grace)
                        m->grace_deadline = nook_mono_ms() + (int64_t)grace;
                else if (sig == SIGKILL)
                        kill(-m->pid, SIGKILL);
        }
        reply_u64s(fd, (uint16_t[]){ T_DELIVERED }, &delivered, 1);
}

static void on_stats(mon *m, int fd) {
        tree t;
        tree_measure(m->h->proc_fd, m->pid, &t);
        uint64_t fs = 0;
        bool has_fs = limits_layer_bytes(m->h, &fs); /* the real layer, on disk for an image */
        uint16_t tags[] = { T_CPU_MS, T_RSS, T_NPROC, T_FS_BYTES };
        uint64_t vals[] = { t.cpu_ms, t.rss, t.nproc, fs };
        reply_u64s(fd, tags, vals, has_fs ? 4 : 3);
}

static void on_resize(mon *m, int fd, const nook_msg *q) {
        struct winsize ws = { .ws_row = (unsigned short)nook_msg_u64(q, T_ROWS, 24),
                              .ws_col = (unsigned short)nook_msg_u64(q, T_COLS, 80) };
        if (!m->pty || ioctl(m->out_fd, TIOCSWINSZ, &ws) < 0)
                return (void)nook_msg_reply_error(fd, m->pty ? errno : ENOTTY, "resizing the terminal");
        reply_u64s(fd, NULL, NULL, 0);
}

static void serve_ctl(mon *m) {
        _cleanup_close_ int fd = accept4(m->ctl, NULL, NULL, SOCK_CLOEXEC);
        struct ucred cr;
        socklen_t len = sizeof(cr);
        if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || cr.uid != m->h->peer_uid)
                return;
        nook_msg q = NOOK_MSG_INIT(0);
        if (nook_msg_recv(fd, &q, 2000) < 0)
                return nook_msg_done(&q);
        switch (q.type) {
        case NOOK_MSG_STDIN:
                on_stdin(m, fd, &q);
                break;
        case NOOK_MSG_SIGNAL:
                on_signal(m, fd, &q);
                break;
        case NOOK_MSG_STATS:
                on_stats(m, fd);
                break;
        case NOOK_MSG_RESIZE:
                on_resize(m, fd, &q);
                break;
        default:
                nook_msg_reply_error(fd, EOPNOTSUPP, "unknown request");
        }
        nook_msg_done(&q);
}

static _Noreturn void finish(mon *m) {
        drain(m);
        explicit_bzero(room, sizeof(room));
        int status = 0;
        struct rusage ru = { 0 };
        while (wait4(m->pid, &status, 0, &ru) < 0 && errno == EINTR)
                ;
        char why[16] = "";
        /* the holder says why before it kills the session's processes (limits.c) */
        if (!m->killed_by && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
                _cleanup_close_ int fd = openat(m->pdir, "killed_by", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                ssize_t n = fd >= 0 ? read(fd, why, sizeof(why) - 1) : -1;
                if (n > 0 && strspn(why, "abcdefghijklmnopqrstuvwxyz") == (size_t)n)
                        m->killed_by = why;
        }
        nook_exit_record rec;
        holder_exit_record(status, &ru, m->timed_out, m->killed_by, &rec);
        (void)holder_write_exit_at(m->pdir, &rec);
        (void)unlinkat(m->pdir, "ctl.sock", 0);
        _exit(0);
}

static int poll_timeout(const mon *m) {
        int64_t next = -1, now = nook_mono_ms();
        int64_t cands[] = { m->deadline, m->grace_deadline, m->eof_next };
        for (size_t i = 0; i < ELEMENTSOF(cands); i++)
                if (cands[i] > 0 && (next < 0 || cands[i] < next))
                        next = cands[i];
        if (next < 0)
                return -1;
        /* timeouts reach 31 days: more ms than an int holds */
        return next <= now ? 0 : next - now > 3600000 ? 3600000 : (int)(next - now);
}

static void on_timers(mon *m) {
        terminal_eof(m);
        int64_t now = nook_mono_ms();
        if (m->deadline > 0 && now >= m->deadline) {
                m->timed_out = true;
                m->deadline = 0;
                kill_tree(m, "timeout");
        }
        if (m->grace_deadline > 0 && now >= m->grace_deadline) {
                m->grace_deadline = 0;
                kill_tree(m, NULL);
        }
}

static _Noreturn void loop(mon *m) {
        for (;;) {
                struct pollfd p[5] = {
                        { .fd = m->pidfd, .events = POLLIN },
                        { .fd = m->out_fd, .events = POLLIN },
                        { .fd = m->err_fd, .events = POLLIN },
                        { .fd = m->ctl, .events = POLLIN },
                        { .fd = m->n_pending ? m->in_fd : -1, .events = POLLOUT },
                };
                int r = poll(p, ELEMENTSOF(p), poll_timeout(m));
                if (r < 0 && errno != EINTR)
                        finish(m);
                if (p[1].revents & (POLLIN | POLLHUP | POLLERR) && pump(m->out_fd, &m->out_log) == 0)
                        m->out_fd = -1; /* EOF (or pty hangup): nothing more to read */
                if (p[2].revents & (POLLIN | POLLHUP | POLLERR) && pump(m->err_fd, &m->err_log) == 0)
                        m->err_fd = -1;
                if (p[3].revents & POLLIN)
                        serve_ctl(m);
                if (p[4].revents & (POLLOUT | POLLERR))
                        flush_stdin(m);
                on_timers(m);
                if (p[0].revents & POLLIN) {
                        m->exited = true;
                        finish(m);
                }
        }
}

/* ---- setting up ------------------------------------------------------------------ */

static int open_logs(mon *m, const nook_msg *q, hstatus *st) {
        m->out_log = (capture){ .max = nook_msg_u64(q, T_OUT_MAX, UINT64_MAX),
                                .fail = nook_msg_u64(q, T_OUT_FAIL, 0),
                                .times_fd = -1,
                                .m = m };
        m->err_log = (capture){ .max = nook_msg_u64(q, T_ERR_MAX, UINT64_MAX),
                                .fail = nook_msg_u64(q, T_ERR_FAIL, 0),
                                .times_fd = -1,
                                .m = m };
        /* one masker stream per captured fd: stdout and stderr are separate texts */
        if (m->h->sec.mask && (nook_mask_stream_new(m->h->sec.mask, &m->out_log.mask) < 0 ||
                               nook_mask_stream_new(m->h->sec.mask, &m->err_log.mask) < 0))
                return hfail(st, ENOMEM, "masking the secrets in the output");
        if (m->h->sec.mask)
                (void)mlock(room, sizeof(room)); /* best effort, as the holder's values */
        m->out_log.fd = openat(m->pdir, "out", O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
        m->err_log.fd = openat(m->pdir, "err", O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (m->out_log.fd < 0 || m->err_log.fd < 0)
                return hfail(st, errno, "creating the capture logs");
        /* without them only logs -t and --since go without times */
        m->out_log.times_fd =
                openat(m->pdir, "out.times", O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
        m->err_log.times_fd =
                openat(m->pdir, "err.times", O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
        /* bound relative to the process dir: no /proc/self here (see tree_measure); the
         * cwd goes back to the root at once, the workload's cwd is set from it */
        m->ctl = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "ctl.sock" };
        int r = m->ctl < 0 || fchdir(m->pdir) < 0 ? -1 : bind(m->ctl, (struct sockaddr *)&sa, sizeof(sa));
        int e = errno;
        if (chdir("/") < 0)
                return hfail(st, errno, "returning to the root");
        if (r < 0 || listen(m->ctl, 16) < 0)
                return hfail(st, r < 0 ? e : errno, "creating the process's control socket");
        return 0;
}

/* The workload's stdio: a pty of the session's own devpts (TIOCGPTPEER, ioctl_tty(2)),
 * or pipes; stdin is /dev/null unless the client keeps it open. */
static int make_stdio(mon *m, const nook_msg *q, int child[3], hstatus *st) {
        if (m->pty) {
                int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
                int unlock = 0;
                if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0)
                        return hfail(st, errno, "opening a pty");
                struct winsize ws = { .ws_row = (unsigned short)nook_msg_u64(q, T_ROWS, 24),
                                      .ws_col = (unsigned short)nook_msg_u64(q, T_COLS, 80) };
                (void)ioctl(master, TIOCSWINSZ, &ws);
                int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
                if (slave < 0)
                        return hfail(st, errno, "opening the pty's terminal");
                m->out_fd = master;
                m->err_fd = -1;
                m->in_fd = nook_msg_u64(q, T_STDIN_OPEN, 0) ? master : -1;
                child[0] = child[1] = child[2] = slave;
                return 0;
        }
        int out[2], err[2], in[2] = { -1, -1 };
        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
                return hfail(st, errno, "creating pipes");
        if (nook_msg_u64(q, T_STDIN_OPEN, 0) && pipe2(in, O_CLOEXEC) < 0)
                return hfail(st, errno, "creating the stdin pipe");
        m->out_fd = out[0];
        m->err_fd = err[0];
        m->in_fd = in[1];
        if (in[1] >= 0)
                fcntl(in[1], F_SETFL, O_NONBLOCK);
        child[0] = in[0] >= 0 ? in[0] : m->h->devnull_fd;
        child[1] = out[1];
        child[2] = err[1];
        return 0;
}

static char **strings(const nook_msg *q, uint16_t want) {
        size_t n = 0, off = 0;
        uint16_t tag;
        const void *d;
        uint32_t len;
        while (nook_msg_next(q, &off, &tag, &d, &len))
                n += tag == want;
        char **v = calloc(n + 1, sizeof(char *));
        off = n = 0;
        while (v && nook_msg_next(q, &off, &tag, &d, &len))
                if (tag == want && len && ((const char *)d)[len - 1] == 0)
                        v[n++] = (char *)d;
        return v;
}

/* The holder's RLIMIT_NPROC for the session's process limit (limits.c): merged with a
 * requested one, the lower values kept (raising a hard limit would fail). */
static size_t nproc_fence(const nook_msg *q, struct nook_rlimit_msg *rl, size_t nr) {
        uint64_t v = nook_msg_u64(q, T_NPROC_RLIMIT, 0);
        if (!v)
                return nr;
        for (size_t i = 0; i < nr; i++)
                if (rl[i].resource == RLIMIT_NPROC) {
                        rl[i].soft = rl[i].soft < v ? rl[i].soft : v;
                        rl[i].hard = rl[i].hard < v ? rl[i].hard : v;
                        return nr;
                }
        rl[nr] = (struct nook_rlimit_msg){ .resource = RLIMIT_NPROC, .soft = v, .hard = v };
        return nr + 1;
}

static void plan_from(const holder *h, const nook_msg *q, spawn_plan *p) {
        size_t off = 0, nr = 0, ng = 0;
        uint16_t tag;
        const void *d;
        uint32_t len;
        static struct nook_rlimit_msg rl[16];
        static gid_t groups[64];
        while (nook_msg_next(q, &off, &tag, &d, &len)) {
                if (tag == T_RLIMIT && len == sizeof(rl[0]) && nr < ELEMENTSOF(rl) - 1)
                        memcpy(&rl[nr++], d, sizeof(rl[0]));
                else if (tag == T_GROUPS && len == 8 && ng < ELEMENTSOF(groups)) {
                        uint64_t g;
                        memcpy(&g, d, sizeof(g));
                        groups[ng++] = (gid_t)g;
                } else if (tag == T_SECCOMP && len && len % 8 == 0) {
                        p->seccomp = d;
                        p->seccomp_len = len / 8;
                }
        }
        nr = nproc_fence(q, rl, nr);
        p->argv = strings(q, T_ARGV);
        p->envp = holder_secrets_envp(h, q, strings(q, T_ENV), &p->secret_env, &p->secret_env_size);
        p->cwd = nook_msg_str(q, T_CWD);
        p->uid = (uid_t)nook_msg_u64(q, T_UID, 0);
        p->gid = (gid_t)nook_msg_u64(q, T_GID, 0);
        p->groups = groups;
        p->n_groups = ng;
        p->set_groups = ng > 0;
        p->caps = nook_msg_u64(q, T_CAPS, 0);
        p->rlimits = rl;
        p->n_rlimits = nr;
}

/* The holder's backstop (workloads.c): the workload's pid, its deadline and a pidfd. */
static void hand_over(mon *m, int link) {
        nook_msg r = NOOK_MSG_INIT(NOOK_MSG_STARTED);
        nook_msg_add_u64(&r, T_PID, (uint64_t)m->pid);
        nook_msg_add_u64(&r, T_DEADLINE_MS, (uint64_t)(m->deadline > 0 ? m->deadline : 0));
        nook_msg_add_fd(&r, m->pidfd);
        (void)nook_msg_send(link, &r);
        nook_msg_done(&r);
        close(link);
}

/* Forks the workload and waits for its execve: the status pipe is O_CLOEXEC, so EOF
 * without a record means the exec happened. */
static int start(mon *m, const nook_msg *q, int link, struct spawn_failure *fail, hstatus *st) {
        int child[3] = { -1, -1, -1 };
        if (make_stdio(m, q, child, st) < 0)
                return -st->err;
        int status[2], go[2];
        if (pipe2(status, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
                return hfail(st, errno, "creating the status pipe");
        spawn_plan p = { .stdin_fd = child[0],
                         .stdout_fd = child[1],
                         .stderr_fd = child[2],
                         .pty = m->pty,
                         .status_fd = status[1],
                         .go_fd = go[0],
                         .cgroup_fd = m->h->lim.cgroup_fd };
        plan_from(m->h, q, &p);
        if (!p.envp)
                return hfail(st, EINVAL,
                             "the environment: out of memory, or a secret named by a value_ref holds a "
                             "NUL byte (it cannot be a variable's value)");
        if (!p.argv || !p.argv[0])
                return hfail(st, EINVAL, "no command");
        m->pid = fork();
        if (m->pid < 0)
                return hfail(st, errno, "forking the workload");
        if (m->pid == 0) {
                close(go[1]);
                spawn_exec(&p);
        }
        close(status[1]);
        close(go[0]);
        if (child[0] != m->h->devnull_fd && child[0] != child[1])
                close(child[0]);
        close(child[1]);
        if (child[2] != child[1])
                close(child[2]);
        /* The holder has the workload's pidfd before it runs a single instruction of its
         * own: if we die from here on, the workload is still the holder's to kill (S33);
         * if we die before, it never gets its go and ends. */
        m->pidfd = (int)syscall(SYS_pidfd_open, m->pid, 0);
        int pidfd_errno = errno;
        if (m->pidfd >= 0) {
                hand_over(m, link);
                (void)!write(go[1], "g", 1);
        }
        close(go[1]);
        ssize_t n;
        do
                n = read(status[0], fail, sizeof(*fail));
        while (n < 0 && errno == EINTR);
        if (p.secret_env) {
                explicit_bzero(p.secret_env, p.secret_env_size);
                free(p.secret_env);
        }
        close(status[0]);
        if (m->pidfd < 0)
                return hfail(st, pidfd_errno, "pidfd_open");
        return n == (ssize_t)sizeof(*fail) ? 1 : 0;
}

static void write_info(mon *m) {
        char info[128];
        snprintf(info, sizeof(info), "pid=%d\nstarted_ms=%lld\npty=%d\n", (int)m->pid, (long long)nook_wall_ms(),
                 m->pty);
        (void)holder_write_file_at(m->pdir, "info", info);
}

_Noreturn void monitor_main(holder *h, int conn, nook_msg *q, int link) {
        mon m = { .h = h, .pdir = -1, .out_fd = -1, .err_fd = -1, .in_fd = -1, .ctl = -1, .pidfd = -1 };
        hstatus st = { 0 };
        setsid();
        (void)prctl(PR_SET_NAME, "nook-monitor");
        const char *ref = nook_msg_str(q, T_PROCESS_REF);
        char rel[80];
        snprintf(rel, sizeof(rel), "p/%s", ref ? ref : "");
        m.pty = nook_msg_u64(q, T_TERMINAL, 0) == 1;
        if (!holder_ref_ok(ref))
                hfail(&st, EINVAL, "bad process ref");
        else if ((m.pdir = openat(h->session_fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                hfail(&st, errno, "opening the process dir");
        /* our next child, the workload, is the workloads' namespace's (S33) */
        else if (open_logs(&m, q, &st) == 0 && setns(h->pidns_fd, CLONE_NEWPID) < 0)
                hfail(&st, errno, "entering the workloads' pid namespace");
        struct spawn_failure fail = { 0 };
        uint64_t timeout = nook_msg_u64(q, T_TIMEOUT_MS, 0);
        m.deadline = timeout ? nook_mono_ms() + (int64_t)timeout : 0;
        int r = st.err ? -st.err : start(&m, q, link, &fail, &st);
        if (r < 0 || r == 1) {
                if (r == 1) {
                        /* exec failed: record the podman-style exit code the CLI reports */
                        nook_exit_record rec = { .exit_code = fail.err == ENOENT ? 127 : 126, .exec_errno = fail.err };
                        snprintf(rec.exec_failed, sizeof(rec.exec_failed), "%s", fail.stage);
                        waitpid(m.pid, NULL, 0);
                        if (m.pdir >= 0)
                                (void)holder_write_exit_at(m.pdir, &rec);
                        hfail(&st, fail.err, "%s", fail.stage);
                }
                nook_msg r2 = NOOK_MSG_INIT(NOOK_MSG_REPLY);
                nook_msg_add_u64(&r2, T_ERRNO, (uint64_t)st.err);
                nook_msg_add_str(&r2, T_MESSAGE, st.msg);
                if (r == 1)
                        nook_msg_add_str(&r2, T_EXEC_STAGE, fail.stage);
                (void)nook_msg_send(conn, &r2);
                _exit(1);
        }
        write_info(&m);
        uint64_t pid = (uint64_t)m.pid;
        reply_u64s(conn, (uint16_t[]){ T_PID }, &pid, 1);
        close(conn);
        loop(&m);
}
