/* nook CLI — `nook top` (a session's processes as its pid namespace numbers them, read
 * from /proc: descendants of the holder outside the holder's own pid namespace) and
 * `nook port` (the ports a session publishes, in podman's format). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "listing.h"

void help_top(FILE *f) {
        fputs("Usage: nook top SESSION\n"
              "\n"
              "Lists the processes running in a session, as 'podman top': the user and pid\n"
              "as the session sees them (its user and pid namespaces), the parent pid, how\n"
              "long each has run and its command name (not its arguments: they may hold\n"
              "secrets). nook's own helpers (the namespace's init, monitors) are left out.\n"
              "SESSION is a name, environment id, ref or a unique start of one, or one of\n"
              "its processes.\n"
              "\n"
              "  -h, --help  print this help\n",
              f);
}

void help_port(FILE *f) {
        fputs("Usage: nook port SESSION [PORT[/PROTO]]\n"
              "       nook port -a\n"
              "\n"
              "Lists the ports a session publishes (-p), as 'podman port': one line per port,\n"
              "'80/tcp -> 127.0.0.1:8080'. With PORT (the port inside), only the host\n"
              "address it is published on.\n"
              "\n"
              "  -a, --all   the ports of every session\n"
              "  -h, --help  print this help\n",
              f);
}

/* ---- top ---------------------------------------------------------------------------------- */

typedef struct proc_row {
        int pid, ppid;
} proc_row;

/* A line of /proc/PID/status ("Uid:", "NSpid:"): the last (innermost) number of it, or
 * the first; -1 when absent. */
static long status_field(int dirfd, const char *key, bool last) {
        _cleanup_close_ int fd = openat(dirfd, "status", O_RDONLY | O_CLOEXEC);
        char buf[4096];
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return -1;
        buf[n] = 0;
        size_t k = strlen(key);
        for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                if (strncmp(l, key, k) != 0)
                        continue;
                long v = -1;
                for (char *p = l + k, *end; *p && *p != '\n'; p = end) {
                        long x = strtol(p, &end, 10);
                        if (end == p)
                                break;
                        v = x;
                        if (!last)
                                break;
                }
                return v;
        }
        return -1;
}

static int read_text(int dirfd, const char *name, char *buf, size_t size) {
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);
        if (n < 0)
                return -1;
        buf[n] = 0;
        return 0;
}

/* The parent pid and start time (clock ticks after boot) from /proc/PID/stat; the
 * command name in it may hold ')' and spaces: fields are counted from its last ')'. */
static int stat_fields(int dirfd, int *ret_ppid, unsigned long long *ret_start) {
        char buf[1024];
        if (read_text(dirfd, "stat", buf, sizeof(buf)) < 0)
                return -1;
        char *p = strrchr(buf, ')');
        if (!p)
                return -1;
        char state;
        return sscanf(p + 1, " %c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &state,
                      ret_ppid, ret_start) == 3
                       ? 0
                       : -1;
}

/* The inner uid that maps to host uid `uid` in /proc/HOLDER/uid_map ("inner outer
 * count" lines), else -1. */
static long inner_uid(int holder_dir, long uid) {
        char buf[4096];
        if (read_text(holder_dir, "uid_map", buf, sizeof(buf)) < 0)
                return -1;
        for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                unsigned long in, out, count;
                if (sscanf(l, "%lu %lu %lu", &in, &out, &count) == 3 && (unsigned long)uid >= out &&
                    (unsigned long)uid - out < count)
                        return (long)(in + ((unsigned long)uid - out));
        }
        return -1;
}

static void printable(char *s) {
        /* a workload names itself (prctl PR_SET_NAME): no terminal escapes from it */
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        *s = '?';
        if (s[-1] == '?')
                s[-1] = 0; /* comm's trailing newline */
}

/* Every process of /proc with its parent, for the descendants of the holder. */
static int proc_table(proc_row **ret, size_t *ret_n) {
        _cleanup_(closedirp) DIR *d = opendir("/proc");
        if (!d)
                return -errno;
        proc_row *v = NULL;
        size_t n = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
                int pid = atoi(e->d_name);
                if (pid <= 0)
                        continue;
                _cleanup_close_ int fd = openat(dirfd(d), e->d_name, O_PATH | O_DIRECTORY | O_CLOEXEC);
                int ppid;
                unsigned long long start;
                if (fd < 0 || stat_fields(fd, &ppid, &start) < 0)
                        continue;
                proc_row *nv = realloc(v, (n + 1) * sizeof(*v));
                if (!nv) {
                        free(v);
                        return -ENOMEM;
                }
                v = nv;
                v[n++] = (proc_row){ pid, ppid };
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static bool descends(const proc_row *v, size_t n, int pid, int root) {
        for (size_t hops = 0; pid > 1 && hops < n; hops++) {
                if (pid == root)
                        return true;
                size_t i = 0;
                while (i < n && v[i].pid != pid)
                        i++;
                if (i == n)
                        return false;
                pid = v[i].ppid;
        }
        return false;
}

static void top_row(int fd, int holder_dir, double uptime, long ticks) {
        int ppid;
        unsigned long long start;
        char comm[64] = "?", elapsed[32] = "?";
        long pid = status_field(fd, "NSpid:", true), uid = status_field(fd, "Uid:", false);
        if (pid <= 1 || stat_fields(fd, &ppid, &start) < 0)
                return; /* 1: the namespace's init (nook-init) */
        _cleanup_close_ int pfd = -1;
        char path[32];
        snprintf(path, sizeof(path), "/proc/%d", ppid);
        pfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        struct stat ns, pns;
        long inner_ppid = pfd >= 0 ? status_field(pfd, "NSpid:", true) : -1;
        /* a parent outside the session's namespace (its monitor) is 0 there, as in its /proc */
        if (fstatat(fd, "ns/pid", &ns, 0) < 0 || pfd < 0 || fstatat(pfd, "ns/pid", &pns, 0) < 0 ||
            ns.st_ino != pns.st_ino)
                inner_ppid = 0;
        if (read_text(fd, "comm", comm, sizeof(comm)) == 0 && comm[0])
                printable(comm);
        if (ticks > 0 && uptime > 0)
                cli_format_duration((uint64_t)(uptime - (double)start / (double)ticks) * 1000, elapsed,
                                    sizeof(elapsed));
        long in_uid = inner_uid(holder_dir, uid);
        char user[24];
        snprintf(user, sizeof(user), in_uid >= 0 ? "%ld" : "?", in_uid);
        printf("%-8s %-7ld %-7ld %-10s %s\n", user, pid, inner_ppid, elapsed, comm);
}

static int top_session(const cli_session_row *r) {
        char path[32];
        snprintf(path, sizeof(path), "/proc/%d", r->holder_pid);
        _cleanup_close_ int holder_dir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        struct stat own;
        if (r->holder_pid <= 0 || holder_dir < 0 || fstatat(holder_dir, "ns/pid", &own, 0) < 0) {
                fprintf(stderr, "nook: session '%s' is not running (its holder is gone): 'nook rm %s'\n",
                        cli_session_label(r), cli_session_label(r));
                return EXIT_NOOK;
        }
        _cleanup_free_ proc_row *v = NULL;
        size_t n = 0;
        int e = proc_table(&v, &n);
        if (e < 0) {
                fprintf(stderr, "nook: reading /proc: %s\n", strerror(-e));
                return EXIT_NOOK;
        }
        char up[64] = "";
        _cleanup_close_ int root = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
        double uptime = read_text(root, "uptime", up, sizeof(up)) == 0 ? strtod(up, NULL) : 0;
        long ticks = sysconf(_SC_CLK_TCK);
        printf("%-8s %-7s %-7s %-10s %s\n", "USER", "PID", "PPID", "ELAPSED", "COMMAND");
        for (size_t i = 0; i < n; i++) {
                if (v[i].pid == r->holder_pid || !descends(v, n, v[i].pid, r->holder_pid))
                        continue;
                snprintf(path, sizeof(path), "%d", v[i].pid);
                _cleanup_close_ int fd = openat(root, path, O_PATH | O_DIRECTORY | O_CLOEXEC);
                struct stat ns;
                /* in the holder's namespace: a monitor (nook's, not the session's) */
                if (fd < 0 || fstatat(fd, "ns/pid", &ns, 0) < 0 || ns.st_ino == own.st_ino)
                        continue;
                top_row(fd, holder_dir, uptime, ticks);
        }
        return fflush(stdout) == 0 ? 0 : EXIT_NOOK;
}

int cmd_top(int argc, char **argv) {
        const char *arg = NULL;
        for (int i = 1; i < argc; i++) {
                if (cli_is_help(argv[i])) {
                        help_top(stdout);
                        return 0;
                } else if (argv[i][0] == '-' && argv[i][1])
                        return cli_usage_error("top", "unknown option '%s' (nook top takes no ps options)", argv[i]);
                else if (!arg)
                        arg = argv[i];
                else
                        return cli_usage_error("top",
                                               "unexpected argument '%s': nook top takes one SESSION and no ps "
                                               "format descriptors",
                                               argv[i]);
        }
        if (!arg)
                return cli_usage_error("top", "missing SESSION (nook session ls lists them)");
        _cleanup_(cli_runtime_freep) nook_runtime *rt = NULL;
        if (cli_open_runtime(&rt) < 0)
                return EXIT_NOOK;
        _cleanup_(cli_ref_done) cli_ref ref = { 0 };
        _cleanup_(cli_sessions_done) cli_sessions l = { 0 };
        int rc = cli_ref_resolve(rt, arg, &ref);
        if (!rc && ref.process) {
                _cleanup_(cli_processes_done) cli_processes p = { 0 };
                if ((rc = cli_processes_load(rt, NULL, &p)) == 0)
                        for (size_t i = 0; i < p.n && !ref.env; i++)
                                if (strcmp(p.v[i].ref, ref.process) == 0)
                                        ref.env = strdup(p.v[i].env);
        }
        if (!rc)
                rc = cli_sessions_load(rt, &l);
        if (rc)
                return rc;
        const cli_session_row *r = ref.env ? cli_sessions_find(&l, ref.env) : NULL;
        if (!r) {
                fprintf(stderr, "nook: session '%s' went away meanwhile\n", arg);
                return EXIT_NOOK;
        }
        return top_session(r);
}

/* ---- port --------------------------------------------------------------------------------- */

/* Each "IP:HOSTPORT:PORT/PROTO" of ports as podman prints it; with want ("80",
 * "80/tcp"), only the host address of that port.  How many were printed. */
static size_t print_ports(const char *ports, const char *want, const char *prefix) {
        size_t printed = 0;
        for (const char *w = ports; w && *w;) {
                size_t n = strcspn(w, " ");
                char one[128];
                snprintf(one, sizeof(one), "%.*s", (int)(n < sizeof(one) ? n : sizeof(one) - 1), w);
                w += n + (w[n] == ' ');
                char *c2 = strrchr(one, ':');
                if (!c2)
                        continue;
                *c2 = 0;
                const char *inner = c2 + 1;
                size_t plen = strcspn(inner, "/");
                bool match = !want || strcmp(want, inner) == 0 ||
                             (!strchr(want, '/') && strlen(want) == plen && strncmp(want, inner, plen) == 0 &&
                              strcmp(inner + plen, "/tcp") == 0);
                if (!match)
                        continue;
                if (want)
                        printf("%s\n", one);
                else
                        printf("%s%s -> %s\n", prefix, inner, one);
                printed++;
        }
        return printed;
}

int cmd_port(int argc, char **argv) {
        const char *arg = NULL, *want = NULL;
        bool all = false;
        for (int i = 1; i < argc; i++) {
                if (cli_is_help(argv[i])) {
                        help_port(stdout);
                        return 0;
                } else if (strcmp(argv[i], "-a") == 0 || strcmp(argv[i], "--all") == 0)
                        all = true;
                else if (argv[i][0] == '-' && argv[i][1])
                        return cli_usage_error("port", "unknown option '%s'", argv[i]);
                else if (!arg)
                        arg = argv[i];
                else if (!want)
                        want = argv[i];
                else
                        return cli_usage_error("port", "unexpected argument '%s'", argv[i]);
        }
        if (!arg == !all || (all && want))
                return cli_usage_error("port", all ? "--all takes no SESSION" : "missing SESSION (or --all)");
        _cleanup_(cli_runtime_freep) nook_runtime *rt = NULL;
        if (cli_open_runtime(&rt) < 0)
                return EXIT_NOOK;
        _cleanup_free_ char *env = NULL;
        _cleanup_(cli_sessions_done) cli_sessions l = { 0 };
        int rc = arg ? cli_session_resolve(rt, arg, &env) : 0;
        if (!rc)
                rc = cli_sessions_load(rt, &l);
        if (rc)
                return rc;
        size_t printed = 0;
        for (size_t i = 0; i < l.n; i++) {
                if (env && strcmp(l.v[i].env, env) != 0)
                        continue;
                char prefix[96] = "";
                if (all)
                        snprintf(prefix, sizeof(prefix), "%s\t", cli_session_label(&l.v[i]));
                printed += print_ports(l.v[i].ports, want, prefix);
        }
        if (want && !printed) {
                fprintf(stderr, "nook: session '%s' publishes no port %s ('nook port %s' lists them)\n", arg, want,
                        arg);
                return EXIT_NOOK;
        }
        return fflush(stdout) == 0 ? 0 : EXIT_NOOK;
}
