/* nook CLI — `nook logs`: a process's capture logs (nook_runtime_process_log), from a
 * byte cursor, the last N lines or a time on (the times the monitor records beside
 * each log, nook_log_offset_since), with each line's time (-t), -f to follow. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "listing.h"
#include "run.h"
#include "util/clock.h"

void help_logs(FILE *f) {
        fputs("Usage: nook logs [-f] [-t] [--tail N] [--since TIME] [--cursor N] [--stdout|--stderr] PROCESS\n"
              "\n"
              "Prints a process's captured output: its stdout to our stdout and its stderr to\n"
              "our stderr (with a terminal, everything is in stdout). PROCESS is a process ref\n"
              "(or a unique start of one, 'nook ps'), or a session, meaning the first process\n"
              "started in it (the command of 'nook run').\n"
              "\n"
              "  -f, --follow      keep printing new output until the process exits\n"
              "  -t, --timestamps  start each line with the time it was written (RFC 3339, to\n"
              "                    10 ms; to a second past 64 Ki writes)\n"
              "  --tail N          only the last N lines of each stream (-1: all)\n"
              "  --since TIME      only what was written since TIME: a duration back from now\n"
              "                    (10m, 1h30m, 30s), an RFC 3339 time (2026-01-02T15:04:05Z,\n"
              "                    ...+01:00; without a zone: local time) or Unix seconds\n"
              "  --cursor N        start at byte N of the stream (with --stdout or --stderr)\n"
              "  --stdout          only standard output\n"
              "  --stderr          only standard error\n"
              "  -h, --help        print this help\n",
              f);
}

typedef struct log_opts {
        bool follow, stamps;
        bool want[2]; /* stdout, stderr */
        uint64_t cursor;
        bool has_cursor, has_since;
        long long tail; /* the last N lines of each stream; -1: all */
        long long since_ms;
} log_opts;

/* One stream: its log, its times (with -t or --since), where we are in it. */
typedef struct log_stream {
        int fd, times, out;
        bool ok;       /* false once our output is closed: the reader has what it wanted */
        bool at_start; /* the next byte starts a line */
} log_stream;

/* Puts fd at the start of its last n lines (a last line without its newline counts). */
static int seek_tail(int fd, long long n) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (n == 0)
                return lseek(fd, 0, SEEK_END) < 0 ? -errno : 0;
        off_t pos = st.st_size;
        long long seen = 0;
        char buf[8192];
        bool last = true; /* the byte at pos - 1 is the file's last one */
        while (pos > 0) {
                size_t len = pos < (off_t)sizeof(buf) ? (size_t)pos : sizeof(buf);
                ssize_t r = pread(fd, buf, len, pos - (off_t)len);
                if (r != (ssize_t)len)
                        return r < 0 ? -errno : -EIO;
                for (size_t i = len; i-- > 0;) {
                        /* the newline that ends the file ends the last line: not a boundary */
                        if (buf[i] == '\n' && !(last && i == len - 1) && ++seen >= n)
                                return lseek(fd, pos - (off_t)len + (off_t)i + 1, SEEK_SET) < 0 ? -errno : 0;
                        last = false;
                }
                pos -= (off_t)len;
        }
        return lseek(fd, 0, SEEK_SET) < 0 ? -errno : 0;
}

/* --since: a duration back from now ("10m"), Unix seconds, or an RFC 3339 time. */
static int parse_since(const char *s, long long *ret_ms) {
        size_t n = strlen(s);
        if (n == 0)
                return -EINVAL;
        bool digits = strspn(s, "0123456789") == n;
        uint64_t d;
        if (!digits && s[n - 1] >= 'a' && s[n - 1] <= 'z' && cli_parse_duration(s, &d) == 0) {
                *ret_ms = (long long)nook_wall_ms() - (long long)d;
                return 0;
        }
        if (digits) {
                *ret_ms = strtoll(s, NULL, 10) * 1000;
                return 0;
        }
        struct tm tm = { .tm_isdst = -1 };
        const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!p)
                return -EINVAL;
        long long ms = 0;
        if (*p == '.' && p[1] >= '0' && p[1] <= '9') {
                long long scale = 100;
                for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
                        ms += (*p - '0') * scale;
        }
        time_t t;
        if (!*p)
                t = mktime(&tm); /* no zone: local time */
        else if ((p[0] == 'Z' || p[0] == 'z') && !p[1])
                t = timegm(&tm);
        else if ((p[0] == '+' || p[0] == '-') && strlen(p) == 6 && p[3] == ':') {
                int hh = atoi(p + 1), mm = atoi(p + 4);
                t = timegm(&tm) - (p[0] == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
        } else
                return -EINVAL;
        *ret_ms = (long long)t * 1000 + ms;
        return 0;
}

static int write_all(log_stream *s, const char *buf, size_t n) {
        for (size_t off = 0; s->ok && off < n;) {
                ssize_t w = write(s->out, buf + off, n - off);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        s->ok = false;
                else
                        off += (size_t)w;
        }
        return s->ok ? 0 : -EPIPE;
}

/* "2026-12-06T23:40:00.123+01:00 " for the byte at offset */
static void stamp(int times, uint64_t offset, char *buf, size_t size) {
        long long ms;
        struct tm tm;
        time_t t;
        char zone[8] = "";
        if (nook_log_time_at(times, offset, &ms) < 0 || (t = (time_t)(ms / 1000), !localtime_r(&t, &tm))) {
                snprintf(buf, size, "%-29s ", "-");
                return;
        }
        size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
        strftime(zone, sizeof(zone), "%z", &tm); /* +0100 -> +01:00 */
        snprintf(buf + n, size - n, ".%03lld%.3s:%.2s ", ms % 1000, zone, zone[0] ? zone + 3 : "");
}

/* Copies what the log holds past our position, a time before each line with -t. */
static int copy_log(log_stream *s) {
        static char buf[65536];
        for (;;) {
                off_t pos = s->times >= 0 ? lseek(s->fd, 0, SEEK_CUR) : 0;
                ssize_t n = read(s->fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : 0;
                if (s->times < 0) {
                        if (write_all(s, buf, (size_t)n) < 0)
                                return -EPIPE;
                        continue;
                }
                for (ssize_t i = 0; i < n && s->ok;) {
                        if (s->at_start) {
                                char t[64];
                                stamp(s->times, (uint64_t)(pos + i), t, sizeof(t));
                                (void)write_all(s, t, strlen(t));
                        }
                        char *nl = memchr(buf + i, '\n', (size_t)(n - i));
                        ssize_t end = nl ? nl - buf + 1 : n;
                        (void)write_all(s, buf + i, (size_t)(end - i));
                        s->at_start = nl != NULL;
                        i = end;
                }
                if (!s->ok)
                        return -EPIPE;
        }
}

static int follow_logs(nook_runtime *rt, const char *ref, log_stream st[2], int sigfd) {
        _cleanup_close_ int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        for (int i = 0; i < 2 && in >= 0; i++) {
                char path[64];
                snprintf(path, sizeof(path), "/proc/self/fd/%d", st[i].fd);
                if (st[i].fd >= 0)
                        (void)inotify_add_watch(in, path, IN_MODIFY | IN_CLOSE_WRITE);
        }
        for (;;) {
                for (int i = 0; i < 2; i++)
                        if (st[i].fd >= 0)
                                (void)copy_log(&st[i]);
                if (!st[0].ok && !st[1].ok)
                        return 0;
                int code;
                _cleanup_(cli_error_freep) nook_error *err = NULL;
                int r = nook_runtime_process_wait(rt, ref, 0, &code, &err);
                if (r < 0)
                        return cli_report(err);
                if (r == 1) {
                        for (int i = 0; i < 2; i++)
                                if (st[i].fd >= 0)
                                        (void)copy_log(&st[i]);
                        return 0;
                }
                struct pollfd p[2] = { { .fd = in, .events = POLLIN }, { .fd = sigfd, .events = POLLIN } };
                if (poll(p, 2, in >= 0 ? 1000 : 200) > 0) {
                        if (p[1].revents && cli_signal_take(sigfd))
                                return 0; /* Ctrl-C ends following, as podman logs -f */
                        char buf[4096];
                        while (read(in, buf, sizeof(buf)) > 0)
                                ;
                }
        }
}

/* Opens stream i of ref (and its times) and puts it where the options say. */
static int open_stream(nook_runtime *rt, const char *ref, int i, const log_opts *o, log_stream *s) {
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        if (nook_runtime_process_log(rt, ref, i + 1, &s->fd, &err) < 0)
                return cli_report(err);
        if ((o->stamps || o->has_since) && nook_runtime_process_log(rt, ref, i + 3, &s->times, NULL) < 0) {
                fprintf(stderr,
                        "nook: %s has no record of when its output was written (it was started by a nook "
                        "that did not record it): drop %s, or use --tail N\n",
                        ref, o->stamps ? "-t" : "--since");
                return EXIT_NOOK;
        }
        off_t start = 0;
        unsigned long long since = 0;
        if (o->has_cursor)
                start = (off_t)o->cursor;
        if (o->has_since)
                start = nook_log_offset_since(s->times, o->since_ms, &since) == 1 ? (off_t)since
                                                                                  : lseek(s->fd, 0, SEEK_END);
        if (lseek(s->fd, start, SEEK_SET) < 0)
                return cli_usage_error("logs", "--cursor %llu: %s", (unsigned long long)start, strerror(errno));
        int r = o->tail >= 0 ? seek_tail(s->fd, o->tail) : 0;
        if (r < 0) {
                fprintf(stderr, "nook: reading the log of %s: %s\n", ref, strerror(-r));
                return EXIT_NOOK;
        }
        if (lseek(s->fd, 0, SEEK_CUR) < start) /* --since and --tail: the later start */
                (void)lseek(s->fd, start, SEEK_SET);
        s->at_start = true; /* a cursor a person gave, or a line start */
        return 0;
}

static int logs_option(int argc, char **argv, int *i, log_opts *o, bool *only) {
        const char *a = argv[*i];
        if (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0)
                o->follow = true;
        else if (strcmp(a, "-t") == 0 || strcmp(a, "--timestamps") == 0)
                o->stamps = true;
        else if (strcmp(a, "--stdout") == 0 || strcmp(a, "--stderr") == 0) {
                bool out = a[5] == 'o';
                o->want[0] = *only ? o->want[0] || out : out;
                o->want[1] = *only ? o->want[1] || !out : !out;
                *only = true;
        } else if (strcmp(a, "--cursor") == 0 || strcmp(a, "--tail") == 0 || strcmp(a, "--since") == 0 ||
                   strncmp(a, "--cursor=", 9) == 0 || strncmp(a, "--tail=", 7) == 0 || strncmp(a, "--since=", 8) == 0) {
                const char *eq = strchr(a, '=');
                const char *v = eq ? eq + 1 : *i + 1 < argc ? argv[++*i] : NULL;
                char *end = NULL;
                errno = 0;
                long long n = v && a[2] != 's' ? strtoll(v, &end, 10) : 0;
                bool bad = !v || !*v || (a[2] != 's' && (*end || errno));
                if (a[2] == 'c') {
                        if (bad || n < 0)
                                return cli_usage_error("logs", "--cursor needs a byte offset (a number >= 0)");
                        o->cursor = (uint64_t)n;
                        o->has_cursor = true;
                } else if (a[2] == 't') {
                        if (bad || n < -1)
                                return cli_usage_error("logs", "--tail needs a number of lines (-1: all), got '%s'",
                                                       v ? v : "");
                        o->tail = n;
                } else {
                        if (bad || parse_since(v, &o->since_ms) < 0)
                                return cli_usage_error("logs",
                                                       "--since needs a duration (10m, 1h30m) or a time "
                                                       "(2026-01-02T15:04:05Z, Unix seconds), got '%s'",
                                                       v ? v : "");
                        o->has_since = true;
                }
        } else
                return cli_usage_error("logs", "unknown option '%s'", a);
        return 0;
}

int cmd_logs(int argc, char **argv) {
        log_opts o = { .want = { true, true }, .tail = -1 };
        const char *arg = NULL;
        bool only = false;
        for (int i = 1; i < argc; i++) {
                if (cli_is_help(argv[i])) {
                        help_logs(stdout);
                        return 0;
                } else if (argv[i][0] == '-' && argv[i][1]) {
                        int rc = logs_option(argc, argv, &i, &o, &only);
                        if (rc)
                                return rc;
                } else if (!arg)
                        arg = argv[i];
                else
                        return cli_usage_error("logs", "unexpected argument '%s' (one PROCESS)", argv[i]);
        }
        if (!arg)
                return cli_usage_error("logs", "missing PROCESS (a process ref from 'nook ps', or a session)");
        if (o.has_cursor && (o.tail >= 0 || o.has_since))
                return cli_usage_error("logs", "--cursor and --tail or --since all say where to start: choose one");
        if (o.has_cursor && o.want[0] && o.want[1])
                return cli_usage_error("logs", "--cursor is a byte offset in one stream: add --stdout or --stderr");
        _cleanup_close_ int sigfd = o.follow ? cli_signals_block() : -1;
        _cleanup_(cli_runtime_freep) nook_runtime *rt = NULL;
        if (cli_open_runtime(&rt) < 0)
                return EXIT_NOOK;
        _cleanup_free_ char *ref = NULL;
        int rc = cli_process_resolve(rt, arg, &ref);
        if (rc)
                return rc;
        log_stream st[2] = { { .fd = -1, .times = -1, .out = 1, .ok = true },
                             { .fd = -1, .times = -1, .out = 2, .ok = true } };
        for (int i = 0; i < 2 && !rc; i++)
                if (o.want[i])
                        rc = open_stream(rt, ref, i, &o, &st[i]);
        if (!rc && !o.stamps)
                for (int i = 0; i < 2; i++) /* --since alone: the times were for the start */
                        if (st[i].times >= 0)
                                close(st[i].times), st[i].times = -1;
        if (!rc && o.follow)
                rc = follow_logs(rt, ref, st, sigfd);
        else
                for (int i = 0; i < 2 && !rc; i++)
                        if (st[i].fd >= 0)
                                (void)copy_log(&st[i]);
        for (int i = 0; i < 2; i++) {
                if (st[i].fd >= 0)
                        close(st[i].fd);
                if (st[i].times >= 0)
                        close(st[i].times);
        }
        return rc;
}
