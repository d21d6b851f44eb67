/* nook CLI — `nook serve --stdio | --socket PATH`: the contract as JSON-RPC 2.0, one
 * message a line (serve-rpc.c); this half is the transport: stdin/stdout or a Unix
 * socket (bound under umask 0177, peers checked with SO_PEERCRED, unix(7)), one writer
 * thread per connection, and signals through a signalfd (signalfd(2)). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "serve.h"
#include "util/clock.h"

void help_serve(FILE *f) {
        fputs("Usage: nook serve --stdio | --socket PATH [--workers N]\n"
              "\n"
              "Serves the IsolationRuntime contract as JSON-RPC 2.0, one message a line: a\n"
              "request's method is a call name ('nook call --help' lists them), its params the\n"
              "call's request, its result the call's result; a failing call's error carries the\n"
              "AgentError in error.data. Calls of different sessions run in parallel; calls naming\n"
              "the same environment_id, or the same process_ref, run in the order they arrived.\n"
              "\n"
              "More methods:\n"
              "  wait_exit {process_ref, timeout_ms?}\n"
              "                  answers {process_ref, exited, exit_code} once the process has\n"
              "                  exited (or timeout_ms has passed: exited false)\n"
              "  subscribe_output {process_ref, stream?, cursor?}\n"
              "                  sends \"output\" notifications (ProcessIoFrame) as the stream grows,\n"
              "                  up to its end; then answers {process_ref, stream, cursor, frames,\n"
              "                  eof, exit_code}\n"
              "  $/cancelRequest {id}\n"
              "                  a request of this connection still queued is answered with a\n"
              "                  Cancellation error, and so is a wait or a subscription; a call\n"
              "                  that has started runs to its end\n"
              "\n"
              "Options:\n"
              "  --stdio         read requests from standard input, answer on standard output;\n"
              "                  at the end of the input, finish every request read, then exit 0\n"
              "  --socket PATH   listen on a Unix socket, created mode 0600; only processes of\n"
              "                  this user may connect. An existing socket nobody listens on is\n"
              "                  replaced; any other file is not\n"
              "  --workers N     contract calls run at once (1 to 64; default 8)\n"
              "  -h, --help      print this help\n"
              "\n"
              "SIGTERM, SIGINT or SIGHUP: stop reading and accepting, answer queued requests with\n"
              "Cancellation, let the running calls finish and be answered, remove the socket,\n"
              "exit 0; a second signal exits at once.\n"
              "\n"
              "Example:\n"
              "  echo '{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"runtime_ref\"}' | nook serve --stdio\n"
              "\n"
              "See docs/protocol.md (\"nook serve\") and docs/nook_client.py, a client.\n",
              f);
}

/* ---- connections -------------------------------------------------------------------- */

serve_conn *serve_conn_ref(serve_conn *c) {
        pthread_mutex_lock(&c->lock);
        c->refs++;
        pthread_mutex_unlock(&c->lock);
        return c;
}

/* The writer holds the last reference: when only it is left, nothing can be sent any
 * more, and it ends once the output is written. */
void serve_conn_unref(serve_conn *c) {
        pthread_mutex_lock(&c->lock);
        if (--c->refs <= 1)
                pthread_cond_signal(&c->cond);
        pthread_mutex_unlock(&c->lock);
}

void serve_conn_send_locked(serve_conn *c, char *text) {
        _cleanup_free_ char *t = text;
        if (!t || c->broken)
                return;
        size_t n = strlen(t);
        if (c->out_len + n + 1 > SERVE_MAX_OUTPUT) {
                fprintf(stderr,
                        "nook serve: connection %u has %u MiB of answers it does not read: closing it; later "
                        "answers to it are dropped\n",
                        c->no, SERVE_MAX_OUTPUT >> 20);
                c->broken = true;
                if (c->own_fds)
                        shutdown(c->out_fd, SHUT_RDWR);
                pthread_cond_signal(&c->cond);
                return;
        }
        if (c->out_len + n + 1 > c->out_cap) {
                size_t cap = c->out_cap ? c->out_cap : 4096;
                while (cap < c->out_len + n + 1)
                        cap *= 2;
                char *nb = realloc(c->out, cap);
                if (!nb) {
                        fprintf(stderr, "nook serve: out of memory: an answer to connection %u is dropped\n", c->no);
                        return;
                }
                c->out = nb;
                c->out_cap = cap;
        }
        memcpy(c->out + c->out_len, t, n);
        c->out[c->out_len + n] = '\n';
        c->out_len += n + 1;
        pthread_cond_signal(&c->cond);
}

void serve_conn_send(serve_conn *c, char *text) {
        pthread_mutex_lock(&c->lock);
        serve_conn_send_locked(c, text);
        pthread_mutex_unlock(&c->lock);
}

static int write_all(int fd, const char *p, size_t n) {
        while (n) {
                ssize_t k = write(fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

static void conn_free(serve_conn *c) {
        serve *s = c->s;
        if (c->own_fds)
                close(c->in_fd);
        pthread_mutex_destroy(&c->lock);
        pthread_cond_destroy(&c->cond);
        free(c->out);
        free(c->line);
        free(c);
        pthread_mutex_lock(&s->lock);
        s->n_conns--;
        pthread_mutex_unlock(&s->lock);
        serve_wake(s);
}

static void *writer_main(void *p) {
        serve_conn *c = p;
        pthread_mutex_lock(&c->lock);
        for (;;) {
                while (!c->out_len && c->refs > 1)
                        pthread_cond_wait(&c->cond, &c->lock);
                if (!c->out_len)
                        break;
                char *buf = TAKE_PTR(c->out);
                size_t n = c->out_len;
                c->out_len = c->out_cap = 0;
                pthread_mutex_unlock(&c->lock);
                int r = write_all(c->out_fd, buf, n);
                free(buf);
                pthread_mutex_lock(&c->lock);
                if (r < 0 && !c->broken) {
                        if (r != -EPIPE && r != -ECONNRESET)
                                fprintf(stderr, "nook serve: connection %u: writing an answer: %s\n", c->no,
                                        r == -EAGAIN ? "the client has read nothing for 30 s" : strerror(-r));
                        c->broken = true;
                        if (c->own_fds) /* the main loop sees the end of its input */
                                shutdown(c->out_fd, SHUT_RDWR);
                }
        }
        pthread_mutex_unlock(&c->lock);
        conn_free(c);
        return NULL;
}

/* A connection with two references: the reader's (the main loop's, until the input ends)
 * and the writer's. */
static serve_conn *conn_new(serve *s, int in_fd, int out_fd, bool own_fds) {
        serve_conn *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        *c = (serve_conn){ .s = s, .in_fd = in_fd, .out_fd = out_fd, .own_fds = own_fds, .refs = 2 };
        c->no = ++s->conn_counter; /* main thread only */
        pthread_mutex_init(&c->lock, NULL);
        pthread_cond_init(&c->cond, NULL);
        pthread_attr_t attr;
        pthread_t t;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_mutex_lock(&s->lock);
        s->n_conns++;
        pthread_mutex_unlock(&s->lock);
        int r = pthread_create(&t, &attr, writer_main, c);
        pthread_attr_destroy(&attr);
        if (r != 0) {
                fprintf(stderr, "nook serve: cannot start a thread for a connection: %s\n", strerror(r));
                c->own_fds = false; /* the caller closes */
                conn_free(c);
                return NULL;
        }
        return c;
}

/* ---- reading lines ------------------------------------------------------------------ */

static void line_end(serve_conn *c) {
        if (c->too_long)
                serve_line_too_long(c, c->len);
        else
                serve_line(c, c->line, c->len);
        c->len = 0;
        c->too_long = false;
}

static bool line_grow(serve_conn *c, size_t need) {
        if (need <= c->cap)
                return true;
        size_t cap = c->cap ? c->cap : 65536;
        while (cap < need)
                cap *= 2;
        char *nb = realloc(c->line, cap);
        if (!nb)
                return false;
        c->line = nb;
        c->cap = cap;
        return true;
}

/* Splits input into lines; a line past NOOK_MAX_REQUEST_BYTES is not kept (only
 * counted) and is refused when its newline comes. */
static void feed(serve_conn *c, const char *buf, size_t n) {
        for (size_t i = 0; i < n;) {
                const char *nl = memchr(buf + i, '\n', n - i);
                size_t take = nl ? (size_t)(nl - (buf + i)) : n - i;
                /* out of memory: refused as an oversized line is */
                if (!c->too_long && (c->len + take > NOOK_MAX_REQUEST_BYTES || !line_grow(c, c->len + take + 1)))
                        c->too_long = true;
                if (!c->too_long)
                        memcpy(c->line + c->len, buf + i, take);
                c->len += take;
                i += take;
                if (nl) {
                        line_end(c);
                        i++;
                }
        }
}

/* false once the input has ended (or failed). */
static bool read_some(serve_conn *c) {
        char buf[65536];
        ssize_t n = read(c->in_fd, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return true;
        if (n < 0 && errno != ECONNRESET)
                fprintf(stderr, "nook serve: connection %u: reading: %s\n", c->no, strerror(errno));
        if (n <= 0) {
                if (c->len || c->too_long)
                        line_end(c); /* a last line without its newline */
                return false;
        }
        feed(c, buf, (size_t)n);
        pthread_mutex_lock(&c->lock);
        bool broken = c->broken;
        pthread_mutex_unlock(&c->lock);
        return !broken;
}

/* ---- the socket --------------------------------------------------------------------- */

/* A socket file at path: refused unless it is a socket nobody listens on (a server that
 * died), which is removed. */
static int clear_stale(const char *path, const struct sockaddr_un *sa) {
        struct stat st;
        if (lstat(path, &st) < 0) {
                if (errno == ENOENT)
                        return 0;
                fprintf(stderr, "nook serve: %s: %s\n", path, strerror(errno));
                return -1;
        }
        if (!S_ISSOCK(st.st_mode)) {
                fprintf(stderr, "nook serve: %s exists and is not a socket: refusing to replace it\n", path);
                return -1;
        }
        _cleanup_close_ int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int r = probe < 0 ? -1 : connect(probe, (const struct sockaddr *)sa, sizeof(*sa));
        int e = errno;
        if (r == 0) {
                fprintf(stderr, "nook serve: another server listens on %s\n", path);
                return -1;
        }
        if (e != ECONNREFUSED) {
                fprintf(stderr, "nook serve: %s: cannot tell whether a server listens there: %s\n", path, strerror(e));
                return -1;
        }
        if (unlink(path) < 0) {
                fprintf(stderr, "nook serve: removing the stale socket %s: %s\n", path, strerror(errno));
                return -1;
        }
        fprintf(stderr, "nook serve: removed the stale socket %s (nobody listened on it)\n", path);
        return 0;
}

static int socket_listen(const char *path, struct stat *ret_st) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "nook serve: socket path too long (at most %zu bytes): %s\n", sizeof(sa.sun_path) - 1,
                        path);
                return -1;
        }
        memcpy(sa.sun_path, path, strlen(path));
        if (clear_stale(path, &sa) < 0)
                return -1;
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                fprintf(stderr, "nook serve: socket: %s\n", strerror(errno));
                return -1;
        }
        /* bind(2) creates the file with 0777 & ~umask: 0600 from its first moment (no
         * thread runs yet, so the process-wide umask is ours to change) */
        mode_t old = umask(0177);
        int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        int e = errno;
        umask(old);
        if (r < 0) {
                fprintf(stderr, "nook serve: binding %s: %s\n", path, strerror(e));
                return -1;
        }
        if (listen(fd, 64) < 0 || lstat(path, ret_st) < 0) {
                fprintf(stderr, "nook serve: listening on %s: %s\n", path, strerror(errno));
                unlink(path);
                return -1;
        }
        return TAKE_FD(fd);
}

/* Removes the socket file if it is still the one we bound. */
static void socket_remove(const char *path, const struct stat *bound) {
        struct stat st;
        if (lstat(path, &st) == 0 && st.st_dev == bound->st_dev && st.st_ino == bound->st_ino)
                (void)unlink(path);
}

/* A peer of another uid is closed before a byte is read (the 0600 mode already keeps
 * other users out; this holds even when the file's mode or directory is changed). */
static serve_conn *accept_one(serve *s, int lfd) {
        _cleanup_close_ int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
                if (errno == EMFILE || errno == ENFILE || errno == ENOMEM) {
                        fprintf(stderr, "nook serve: accepting a connection: %s\n", strerror(errno));
                        usleep(100 * 1000); /* the backlog stays readable: do not spin */
                }
                return NULL;
        }
        struct ucred uc = { 0 };
        socklen_t len = sizeof(uc);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0 || uc.uid != getuid()) {
                fprintf(stderr, "nook serve: refused a connection from uid %u (pid %d): only uid %u may connect\n",
                        (unsigned)uc.uid, (int)uc.pid, (unsigned)getuid());
                return NULL;
        }
        pthread_mutex_lock(&s->lock);
        bool full = s->n_conns >= SERVE_MAX_CONNS;
        pthread_mutex_unlock(&s->lock);
        if (full) {
                fprintf(stderr, "nook serve: refused a connection: %d are open already\n", SERVE_MAX_CONNS);
                return NULL;
        }
        /* a client that stops reading its answers for this long is dropped */
        struct timeval tv = { .tv_sec = 30 };
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        serve_conn *c = conn_new(s, fd, fd, true);
        if (c)
                TAKE_FD(fd);
        return c;
}

/* ---- holders that died ------------------------------------------------------------- */

#define REAP_EVERY_MS 2000
#define REAP_MAX 64

/* A child's state letter and name from /proc/<pid>/stat ("pid (comm) S ..."). */
static bool child_zombie_holder(pid_t pid) {
        char path[64], buf[256];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return false;
        buf[n] = 0;
        const char *open_paren = strchr(buf, '('), *close_paren = strrchr(buf, ')');
        return open_paren && close_paren && close_paren - open_paren - 1 == (ptrdiff_t)strlen("nook-holder") &&
               strncmp(open_paren + 1, "nook-holder", strlen("nook-holder")) == 0 && close_paren[1] == ' ' &&
               close_paren[2] == 'Z';
}

/* prepare_session clones each session's holder: it is our child while we run.  One that
 * dies on its own (killed) stays a zombie that no call reaps (cleanup proves a holder
 * before it waits for it, and a zombie proves nothing).  Our zombie children named
 * nook-holder that were zombies at the last look too (REAP_EVERY_MS ago: any call that
 * waits for its own holder has done so by then) are reaped.  The children are listed in
 * /proc/self/task/<tid>/children (proc(5)). */
static size_t zombie_holders(pid_t *ret, size_t max) {
        _cleanup_closedir_ DIR *d = opendir("/proc/self/task");
        size_t n = 0;
        struct dirent *e;
        while (d && (e = readdir(d)) && n < max) {
                if (e->d_name[0] == '.')
                        continue;
                char path[64 + sizeof(e->d_name)];
                snprintf(path, sizeof(path), "/proc/self/task/%s/children", e->d_name);
                _cleanup_fclose_ FILE *f = fopen(path, "re");
                int pid;
                while (f && n < max && fscanf(f, "%d", &pid) == 1)
                        if (child_zombie_holder(pid))
                                ret[n++] = pid;
        }
        return n;
}

typedef struct reaper {
        pid_t seen[REAP_MAX];
        size_t n_seen;
        int64_t next_ms;
} reaper;

static void reap_holders(reaper *r) {
        if (nook_mono_ms() < r->next_ms)
                return;
        r->next_ms = nook_mono_ms() + REAP_EVERY_MS;
        pid_t now[REAP_MAX];
        size_t n = zombie_holders(now, REAP_MAX);
        for (size_t i = 0; i < n; i++)
                for (size_t k = 0; k < r->n_seen; k++)
                        if (now[i] == r->seen[k]) {
                                (void)waitpid(now[i], NULL, WNOHANG);
                                now[i] = 0;
                                break;
                        }
        r->n_seen = 0;
        for (size_t i = 0; i < n; i++)
                if (now[i])
                        r->seen[r->n_seen++] = now[i];
}

/* ---- the main loop ------------------------------------------------------------------ */

typedef struct loop {
        serve *s;
        int sigfd, listen_fd;
        const char *path;
        struct stat bound;
        serve_conn *reading[SERVE_MAX_CONNS + 1];
        size_t n_reading;
        bool stdio, stopping;
        reaper reaper;
} loop;

static bool has_room(serve *s, serve_conn *c) {
        pthread_mutex_lock(&s->lock);
        bool room = c->queued < SERVE_MAX_QUEUED && c->queued_bytes < SERVE_MAX_QUEUED_BYTES;
        pthread_mutex_unlock(&s->lock);
        return room;
}

static void stop_listening(loop *l) {
        if (l->listen_fd < 0)
                return;
        close(l->listen_fd);
        l->listen_fd = -1;
        socket_remove(l->path, &l->bound);
}

/* The first signal: no more input or connections; queued requests and waits are
 * answered with Cancellation, running calls finish.  A second one: out at once. */
static void on_signal(loop *l) {
        struct signalfd_siginfo si;
        if (read(l->sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
                return;
        if (l->stopping) {
                fprintf(stderr, "nook serve: %s again: exiting without waiting\n", strsignal((int)si.ssi_signo));
                if (l->listen_fd >= 0)
                        socket_remove(l->path, &l->bound);
                _exit(1);
        }
        l->stopping = true;
        fprintf(stderr, "nook serve: %s: finishing the running calls\n", strsignal((int)si.ssi_signo));
        stop_listening(l);
        serve_cancel_all(l->s);
        for (size_t i = 0; i < l->n_reading; i++)
                serve_conn_unref(l->reading[i]);
        l->n_reading = 0;
}

static bool finished(loop *l) {
        pthread_mutex_lock(&l->s->lock);
        bool done = l->s->n_conns == 0 && (l->stdio || l->stopping);
        pthread_mutex_unlock(&l->s->lock);
        return done;
}

static int run_loop(loop *l) {
        while (!finished(l)) {
                struct pollfd p[SERVE_MAX_CONNS + 3];
                size_t which[SERVE_MAX_CONNS + 3], np = 0;
                p[np++] = (struct pollfd){ .fd = l->sigfd, .events = POLLIN };
                p[np++] = (struct pollfd){ .fd = l->s->wake_fd, .events = POLLIN };
                if (l->listen_fd >= 0)
                        p[np++] = (struct pollfd){ .fd = l->listen_fd, .events = POLLIN };
                size_t first = np;
                for (size_t i = 0; i < l->n_reading; i++)
                        if (has_room(l->s, l->reading[i])) {
                                which[np] = i;
                                p[np++] = (struct pollfd){ .fd = l->reading[i]->in_fd, .events = POLLIN };
                        }
                int n = poll(p, np, REAP_EVERY_MS);
                if (n < 0 && errno != EINTR) {
                        fprintf(stderr, "nook serve: poll: %s\n", strerror(errno));
                        return EXIT_NOOK;
                }
                reap_holders(&l->reaper);
                if (n <= 0)
                        continue;
                if (p[0].revents) {
                        on_signal(l);
                        continue;
                }
                uint64_t v;
                if (p[1].revents)
                        (void)!read(l->s->wake_fd, &v, sizeof(v));
                /* backwards: a connection whose input ended is replaced by the last one,
                 * which was looked at already */
                for (size_t k = np; k-- > first;) {
                        size_t i = which[k];
                        if (!p[k].revents || read_some(l->reading[i]))
                                continue;
                        serve_conn_unref(l->reading[i]);
                        l->reading[i] = l->reading[--l->n_reading];
                }
                if (l->listen_fd >= 0 && p[2].revents) {
                        serve_conn *c = accept_one(l->s, l->listen_fd);
                        if (c)
                                l->reading[l->n_reading++] = c;
                }
        }
        return 0;
}

/* SIGINT, SIGTERM and SIGHUP arrive through a signalfd: blocked here, before any thread
 * starts, every thread inherits the mask.  Broken pipes are write errors, not signals. */
static int signals_block(void) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGHUP);
        signal(SIGPIPE, SIG_IGN);
        if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
                return -errno;
        int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        return fd < 0 ? -errno : fd;
}

static int parse_args(int argc, char **argv, bool *stdio, const char **path, unsigned *workers) {
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                if (cli_is_help(a)) {
                        help_serve(stdout);
                        return 1;
                } else if (strcmp(a, "--stdio") == 0)
                        *stdio = true;
                else if (strcmp(a, "--socket") == 0 && i + 1 < argc)
                        *path = argv[++i];
                else if (strncmp(a, "--socket=", 9) == 0)
                        *path = a + 9;
                else if ((strcmp(a, "--workers") == 0 && i + 1 < argc) || strncmp(a, "--workers=", 10) == 0) {
                        const char *v = a[9] == '=' ? a + 10 : argv[++i];
                        char *end = NULL;
                        unsigned long n = strtoul(v, &end, 10);
                        if (!*v || *end || n < 1 || n > SERVE_MAX_WORKERS)
                                return cli_usage_error("serve", "--workers '%s': a number from 1 to %d", v,
                                                       SERVE_MAX_WORKERS);
                        *workers = (unsigned)n;
                } else
                        return cli_usage_error("serve", "unknown option '%s'", a);
        }
        if (*stdio == !!*path)
                return cli_usage_error("serve", "give one of --stdio and --socket PATH");
        if (*path && !**path)
                return cli_usage_error("serve", "--socket needs a path");
        return 0;
}

static int serve_run(loop *l, unsigned workers) {
        serve *s = l->s;
        s->n_workers = workers;
        json_object_seed(0); /* jansson's hash seed, once, before threads */
        if (serve_start_workers(s) < 0) {
                serve_stop_workers(s);
                return EXIT_NOOK;
        }
        int rc = 0;
        if (l->stdio) {
                if (isatty(STDIN_FILENO))
                        fputs("nook serve: reading JSON-RPC requests from the terminal, one a line; end with "
                              "Ctrl-D\n",
                              stderr);
                l->reading[l->n_reading] = conn_new(s, STDIN_FILENO, STDOUT_FILENO, false);
                if (!l->reading[l->n_reading++])
                        rc = EXIT_NOOK;
        } else
                fprintf(stderr, "nook serve: listening on %s\n", l->path);
        if (rc == 0)
                rc = run_loop(l);
        stop_listening(l);
        serve_stop_workers(s);
        return rc;
}

int cmd_serve(int argc, char **argv) {
        bool stdio = false;
        const char *path = NULL;
        unsigned workers = SERVE_DEFAULT_WORKERS;
        int r = parse_args(argc, argv, &stdio, &path, &workers);
        if (r)
                return r == 1 ? 0 : r;
        int sigfd = signals_block();
        if (sigfd < 0) {
                fprintf(stderr, "nook serve: signals: %s\n", strerror(-sigfd));
                return EXIT_NOOK;
        }
        serve s = { .wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
        loop l = { .s = &s, .sigfd = sigfd, .listen_fd = -1, .path = path, .stdio = stdio };
        if (s.wake_fd < 0)
                fprintf(stderr, "nook serve: eventfd: %s\n", strerror(errno));
        else if (!stdio)
                l.listen_fd = socket_listen(path, &l.bound);
        int rc = EXIT_NOOK;
        if (s.wake_fd >= 0 && (stdio || l.listen_fd >= 0)) {
                pthread_mutex_init(&s.lock, NULL);
                pthread_cond_init(&s.work, NULL);
                rc = serve_run(&l, workers);
                pthread_cond_destroy(&s.work);
                pthread_mutex_destroy(&s.lock);
        }
        if (s.wake_fd >= 0)
                close(s.wake_fd);
        close(sigfd);
        return rc;
}
