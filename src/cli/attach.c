/* nook CLI — an attached process: its capture logs copied to our stdout and stderr as
 * they grow (inotify(7) on the log files, which also reports the monitor closing them
 * when the process ends), our stdin forwarded (-i), our terminal in raw mode with its
 * size followed (-t, SIGWINCH), and our signals forwarded to the workload.  Signals
 * arrive through a signalfd(2), so no handler ever interrupts a library call. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "listing.h"
#include "run.h"

#define CHUNK 65536

int cli_signals_block(void) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGHUP);
        sigaddset(&set, SIGQUIT);
        sigaddset(&set, SIGWINCH);
        /* EPIPE on our stdout is handled where it happens (the workload is told to stop) */
        signal(SIGPIPE, SIG_IGN);
        if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
                return -errno;
        int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        return fd < 0 ? -errno : fd;
}

/* Reads every pending signal: 1 + the last terminating one, bit 0x100 set when the
 * window changed. */
static int signals_read(int sigfd) {
        int last = 0;
        struct signalfd_siginfo si;
        while (sigfd >= 0 && read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (si.ssi_signo == SIGWINCH)
                        last |= 0x100;
                else
                        last = (last & 0x100) | (int)si.ssi_signo;
        }
        return last;
}

int cli_signal_take(int sigfd) {
        return signals_read(sigfd) & 0xff;
}

bool cli_tty_size(unsigned *rows, unsigned *cols) {
        struct winsize ws;
        for (int fd = 0; fd <= 1; fd++)
                if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
                        *rows = ws.ws_row;
                        *cols = ws.ws_col;
                        return true;
                }
        return false;
}

/* ---- the terminal ------------------------------------------------------------------------- */

typedef struct raw_tty {
        bool active;
        struct termios saved;
} raw_tty;

static void raw_tty_restore(raw_tty *t) {
        if (t->active)
                (void)tcsetattr(STDIN_FILENO, TCSADRAIN, &t->saved);
        t->active = false;
}

static void raw_tty_enter(raw_tty *t) {
        if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &t->saved) < 0)
                return;
        struct termios raw = t->saved;
        /* cfmakeraw(3), keeping output post-processing: the pty inside already turns
         * "\n" into "\r\n", and our own messages after the end are written restored */
        cfmakeraw(&raw);
        raw.c_oflag = t->saved.c_oflag;
        if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0)
                t->active = true;
}

/* ---- the copy loop ------------------------------------------------------------------------ */

typedef struct attach {
        nook_runtime *rt;
        const char *ref;
        const cli_process_opts *p;
        int log[2];      /* stdout (or pty) and stderr capture logs */
        bool to_ok[2];   /* our stdout / stderr still take output */
        bool stopping;   /* the workload was told to stop because our stdout closed */
        bool stdin_open; /* still forwarding our stdin */
        char in[CHUNK];  /* stdin bytes read, not yet accepted by the monitor */
        size_t n_in;
        bool in_eof; /* our stdin ended: close the process's after what is pending */
        unsigned interrupts;
        bool unmonitored; /* its monitor was killed: the holder records its end (S33) */
        /* nook attach: the detach sequence (ctrl-p,ctrl-q), how much of it was typed and
         * held back so far, and whether it was typed in full */
        const char *keys;
        size_t n_keys, matched;
        bool detached;
} attach;

static void attach_done(attach *a) {
        for (int i = 0; i < 2; i++)
                if (a->log[i] >= 0)
                        close(a->log[i]);
}

static int write_all(int fd, const char *buf, size_t len) {
        while (len) {
                ssize_t n = write(fd, buf, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN) { /* a non-blocking stdout shared with another program */
                        struct pollfd p = { .fd = fd, .events = POLLOUT };
                        (void)poll(&p, 1, 1000);
                        continue;
                }
                if (n < 0)
                        return -errno;
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

/* false when the call failed (the process having just ended is a success). */
static bool signal_workload(attach *a, const char *sig, unsigned grace_ms) {
        _cleanup_free_ char *req = cli_json_text(json_pack("{s:o,s:s,s:I}", "process_ref", cli_json_str(a->ref),
                                                           "signal", sig, "grace_ms", (json_int_t)grace_ms));
        _cleanup_free_ char *out = NULL;
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        return req && nook_runtime_call(a->rt, "signal_process", req, &out, &err) == 0;
}

/* Copies what the logs hold now; our closed stdout tells the workload to stop, as a
 * closed pipe would. */
static void copy_logs(attach *a) {
        static char buf[CHUNK];
        for (int i = 0; i < 2; i++) {
                if (a->log[i] < 0)
                        continue;
                for (;;) {
                        ssize_t n = read(a->log[i], buf, sizeof(buf));
                        if (n <= 0)
                                break;
                        if (!a->to_ok[i])
                                continue;
                        if (write_all(i + 1, buf, (size_t)n) < 0) {
                                a->to_ok[i] = false;
                                if (i == 0 && !a->stopping) {
                                        a->stopping = true;
                                        signal_workload(a, "terminate", 2000);
                                }
                        }
                }
        }
}

/* false when the signal could not be handed to the process's monitor. */
static bool forward_signal(attach *a, int sig) {
        if (sig == SIGINT) {
                /* a third Ctrl-C ends a workload that ignores the first two */
                a->interrupts++;
                return signal_workload(a, a->interrupts >= 3 ? "kill" : "interrupt", 0);
        }
        /* SIGTERM, SIGHUP (our terminal went away), SIGQUIT: ended for sure in 10 s */
        return signal_workload(a, "terminate", 10000);
}

static void forward_resize(attach *a) {
        unsigned rows, cols;
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        if (a->p->tty && cli_tty_size(&rows, &cols))
                (void)nook_runtime_process_resize(a->rt, a->ref, rows, cols, &err);
}

/* Hands pending stdin bytes to the monitor; false while it is full (try again soon). */
static bool flush_stdin(attach *a) {
        if (!a->n_in && !a->in_eof)
                return true;
        /* The end of our stdin closes the process's; on a terminal the monitor gives it
         * as the EOF character instead (the pty stays the process's terminal). */
        bool close_now = a->in_eof;
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        int r = nook_runtime_process_write(a->rt, a->ref, a->in, a->n_in, close_now, &err);
        if (r < 0 && nook_error_get_errno(err) == EAGAIN)
                return false;
        /* written, or the process no longer reads its stdin (EPIPE): either way done */
        a->n_in = 0;
        if (r < 0 || a->in_eof)
                a->stdin_open = false;
        return true;
}

/* Takes the detach sequence out of the n bytes read into a->in (as podman does: a
 * prefix of it is held back until the next byte shows whether it goes on; a prefix
 * that does not go on is passed through).  The room kept free in a->in holds them. */
static void scan_keys(attach *a, size_t n) {
        char out[sizeof(a->in)];
        size_t o = 0;
        for (size_t i = 0; i < n && !a->detached; i++) {
                char c = a->in[i];
                if (c == a->keys[a->matched]) {
                        a->detached = ++a->matched == a->n_keys;
                        continue;
                }
                memcpy(out + o, a->keys, a->matched);
                o += a->matched;
                a->matched = 0;
                if (c == a->keys[0])
                        a->matched = 1;
                else
                        out[o++] = c;
        }
        memcpy(a->in, out, o);
        a->n_in = o;
}

static void read_stdin(attach *a) {
        ssize_t n = read(STDIN_FILENO, a->in, sizeof(a->in) - (a->keys ? 16 : 0));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n <= 0) {
                /* nook attach to a terminal: the end of our input is not the end of its
                 * shell (no ^D sent); the process keeps running, we only stop reading */
                if (a->keys && a->p->tty) {
                        a->stdin_open = false;
                        return;
                }
                a->in_eof = true;
        } else if (a->keys)
                scan_keys(a, (size_t)n);
        else
                a->n_in = (size_t)n;
        (void)flush_stdin(a);
}

/* 1: exited (*code set); 0: running; EXIT_NOOK: reported failure. */
static int check_exit(attach *a, int timeout_ms, int *code) {
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        int r = nook_runtime_process_wait(a->rt, a->ref, timeout_ms, code, &err);
        if (r < 0)
                return cli_report(err);
        return r;
}

static int watch_logs(attach *a) {
        int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        for (int i = 0; in >= 0 && i < 2; i++) {
                char path[64];
                snprintf(path, sizeof(path), "/proc/self/fd/%d", a->log[i]);
                if (a->log[i] >= 0 && inotify_add_watch(in, path, IN_MODIFY | IN_CLOSE_WRITE) < 0) {
                        close(in);
                        return -1;
                }
        }
        return in;
}

/* Drains the inotify queue: 2 when a writer closed a log (the monitor ended), 1 for
 * growth only, 0 for nothing. */
static int inotify_drain(int in) {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        int what = 0;
        ssize_t n;
        while ((n = read(in, buf, sizeof(buf))) > 0)
                for (char *p = buf; p < buf + n;) {
                        const struct inotify_event *e = (const struct inotify_event *)p;
                        if (e->mask & IN_CLOSE_WRITE)
                                what = 2;
                        else if (!what)
                                what = 1;
                        p += sizeof(*e) + e->len;
                }
        return what;
}

/* nook ps's "unmonitored": the monitor was killed, the process runs on under the holder. */
static bool unmonitored(attach *a) {
        _cleanup_(cli_processes_done) cli_processes all = { 0 };
        if (cli_processes_load(a->rt, NULL, &all))
                return false;
        for (size_t i = 0; i < all.n; i++)
                if (strcmp(all.v[i].ref, a->ref) == 0)
                        return strcmp(all.v[i].state, "unmonitored") == 0;
        return false;
}

/* Has it ended?  -1: no; 0: yes, with *code; EXIT_NOOK: reported failure.  closed: the
 * monitor closed the logs, which it does only when it ends, after the exit record. */
static int ended(attach *a, bool closed, int *code) {
        int r = check_exit(a, 0, code);
        if (r == 0 && closed && !a->unmonitored) {
                /* the monitor is gone without an exit record: give it a moment, then say so */
                r = check_exit(a, 500, code);
                if (r == 0 && (a->unmonitored = unmonitored(a))) {
                        fprintf(stderr,
                                "nook: the monitor of process %s was killed: its output is no longer shown; it "
                                "runs on (Ctrl-C or 'nook kill' end it, its timeout still applies)\n",
                                a->ref);
                        return -1;
                }
                if (r == 0) {
                        fprintf(stderr,
                                "nook: the monitor of process %s ended without recording an exit status "
                                "(killed?); the process is lost\n",
                                a->ref);
                        return EXIT_NOOK;
                }
        }
        if (r == 1) {
                copy_logs(a);
                return 0;
        }
        return r == 0 ? -1 : r;
}

static bool monitor_answers(attach *a) {
        _cleanup_free_ char *req = cli_json_text(json_pack("{s:o}", "process_ref", cli_json_str(a->ref)));
        _cleanup_free_ char *out = NULL;
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        /* out of memory says nothing about the monitor: it is taken to answer */
        return !req || nook_runtime_call(a->rt, "collect_stats", req, &out, &err) == 0;
}

/* The first moments are watched by looking (1, 2, 4, 8 ms apart): most short commands
 * end there, and an inotify instance with watches costs up to 20 ms to close (the
 * kernel waits for an SRCU grace period, fsnotify_destroy_group()).  Longer-running
 * processes are then followed through inotify. */
#define LOOK_PHASE_MS 25

static int attach_loop(attach *a, int sigfd, int *ret_code) {
        _cleanup_close_ int in = -1;
        bool watching = false; /* past the looking phase: inotify, or 100 ms looks without it */
        int step_ms = 1;
        double t0 = cli_now_ms(), last_check = t0;
        int rc = ended(a, false, ret_code);
        while (rc < 0 && !a->detached) {
                if (!watching && cli_now_ms() - t0 >= LOOK_PHASE_MS) {
                        watching = true;
                        in = watch_logs(a);
                        /* It may have ended before the watch was set, or its monitor may have
                         * died then (its closing the logs is what the watch would have seen):
                         * a monitor that does not answer is asked about once, here. */
                        rc = ended(a, false, ret_code);
                        if (rc < 0 && !monitor_answers(a))
                                rc = ended(a, true, ret_code);
                        if (rc >= 0)
                                break;
                }
                int idle_ms = !watching ? step_ms : in >= 0 ? 1000 : 100;
                copy_logs(a);
                struct pollfd p[3] = {
                        { .fd = in, .events = POLLIN },
                        { .fd = sigfd, .events = POLLIN },
                        { .fd = a->stdin_open && !a->n_in && !a->in_eof ? STDIN_FILENO : -1, .events = POLLIN },
                };
                bool backlog = a->stdin_open && (a->n_in || a->in_eof);
                int n = poll(p, 3, backlog && idle_ms > 50 ? 50 : idle_ms);
                if (n < 0 && errno != EINTR) {
                        fprintf(stderr, "nook: waiting for process %s: %s\n", a->ref, strerror(errno));
                        return EXIT_NOOK;
                }
                int sigs = n > 0 && p[1].revents ? signals_read(sigfd) : 0;
                if (sigs & 0x100)
                        forward_resize(a);
                /* a signal its monitor cannot take: is the process still there at all? */
                bool unanswered = (sigs & 0xff) && !forward_signal(a, sigs & 0xff);
                if (n > 0 && p[2].revents)
                        read_stdin(a);
                else if (backlog)
                        (void)flush_stdin(a);
                int events = n > 0 && p[0].revents ? inotify_drain(in) : 0;
                if (events == 2 || unanswered || cli_now_ms() - last_check >= idle_ms) {
                        last_check = cli_now_ms();
                        step_ms = step_ms < 8 ? step_ms * 2 : 8;
                        rc = ended(a, events == 2 || unanswered, ret_code);
                }
        }
        return rc;
}

static int attach_run(nook_runtime *rt, const char *ref, const cli_process_opts *p, int sigfd, const char *keys,
                      int *ret_code, bool *ret_detached) {
        _cleanup_(attach_done) attach a = { .rt = rt,
                                            .ref = ref,
                                            .p = p,
                                            .log = { -1, -1 },
                                            .to_ok = { true, true },
                                            .stdin_open = p->interactive,
                                            /* typed keys only: piped data is passed as it is */
                                            .keys = keys && *keys && isatty(STDIN_FILENO) ? keys : NULL,
                                            .n_keys = keys ? strlen(keys) : 0 };
        for (int i = 0; i < (p->tty ? 1 : 2); i++) {
                _cleanup_(cli_error_freep) nook_error *err = NULL;
                if (nook_runtime_process_log(rt, ref, i + 1, &a.log[i], &err) < 0)
                        return cli_report(err);
                /* re-attached: what it wrote before is 'nook logs', not replayed here */
                if (ret_detached)
                        (void)lseek(a.log[i], 0, SEEK_END);
        }
        _cleanup_(raw_tty_restore) raw_tty tty = { 0 };
        if (p->tty && p->interactive)
                raw_tty_enter(&tty);
        int rc = attach_loop(&a, sigfd, ret_code);
        raw_tty_restore(&tty);
        if (a.detached)
                rc = 0;
        if (ret_detached)
                *ret_detached = a.detached;
        return rc;
}

int cli_attach(nook_runtime *rt, const char *ref, const cli_process_opts *p, int sigfd, int *ret_code) {
        return attach_run(rt, ref, p, sigfd, NULL, ret_code, NULL);
}

int cli_reattach(nook_runtime *rt, const char *ref, const cli_process_opts *p, int sigfd, const char *keys,
                 int *ret_code, bool *ret_detached) {
        *ret_detached = false;
        return attach_run(rt, ref, p, sigfd, keys, ret_code, ret_detached);
}

typedef struct kill_reason {
        const char *ref;
        char by[16];
} kill_reason;

static int find_ended(const nook_process_info *i, void *userdata) {
        kill_reason *e = userdata;
        if (strcmp(i->ref, e->ref) != 0)
                return 0;
        snprintf(e->by, sizeof(e->by), "%s", i->ended_by ? i->ended_by : "");
        return 1;
}

/* Why nook killed the command, from the process's record (nook_process_info.ended_by). */
void cli_explain_kill(nook_runtime *rt, const char *ref, const cli_process_opts *p) {
        kill_reason e = { .ref = ref };
        char session[32];
        /* the session is named by the process ref: "p-<session id>-<n>" -> "s-<session id>" */
        snprintf(session, sizeof(session), "s-%.24s", ref + 2);
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        if (strlen(ref) < 26 || nook_runtime_processes(rt, session, find_ended, &e, &err) < 0)
                return;
        char d[32];
        cli_format_duration(p->timeout_ms, d, sizeof(d));
        if (!strcmp(e.by, "timeout"))
                fprintf(stderr, "nook: the command timed out after %s and was killed\n",
                        p->timeout_ms ? d : "the maximum time");
        else if (!strcmp(e.by, "output"))
                fprintf(stderr, "nook: the command was killed: its output went over --log-max (the io policy's "
                                "max_bytes)\n");
        else if (!strcmp(e.by, "memory") || !strcmp(e.by, "disk") || !strcmp(e.by, "pids"))
                fprintf(stderr, "nook: the command was killed: the session went over its %s limit (%s)\n",
                        !strcmp(e.by, "pids") ? "process" : e.by,
                        !strcmp(e.by, "memory") ? "--memory"
                        : !strcmp(e.by, "disk") ? "--disk"
                                                : "--pids-limit");
}
