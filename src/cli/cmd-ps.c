/* nook CLI — processes: `nook ps` (the listing), `nook logs` (a capture log from a byte
 * cursor, -f to follow: cmd-logs.c), `nook kill` (signal_process with grace), `nook stats`
 * (collect_stats), and `nook gc` (reclaiming sessions whose owner is gone). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "listing.h"
#include "run.h"
#include "util/strbuf.h"

void help_ps(FILE *f) {
        fputs("Usage: nook ps [SESSION] [--json | -q]\n"
              "\n"
              "Lists the processes of every session (or of SESSION): process ref, session,\n"
              "command (its name only: arguments may hold secrets), state (running, exited,\n"
              "unmonitored when its monitor was killed: it runs on, its output is no longer\n"
              "captured, kill and its timeout still work; lost when nobody can tell its end),\n"
              "exit code and start time. SESSION as in 'nook session' (or a unique start of\n"
              "its ref). Exited processes are listed too (-a, --all are accepted).\n"
              "\n"
              "  --json       a JSON array, one object per process\n"
              "  -q, --quiet  only the process refs, one a line\n"
              "  -h, --help   print this help\n",
              f);
}

void help_kill(FILE *f) {
        fputs("Usage: nook kill [--signal SIGNAL] [--grace DURATION] PROCESS\n"
              "\n"
              "Sends a signal to a process (PROCESS as in 'nook logs'). Says whether it was\n"
              "delivered; a process that has already exited is not an error (exit code 0).\n"
              "\n"
              "  -s, --signal SIGNAL  kill (default), terminate or interrupt; also KILL, TERM,\n"
              "                       INT, SIGKILL, SIGTERM, SIGINT, 9, 15, 2\n"
              "  --grace DURATION     after DURATION (2s, 500ms), kill the process group if it\n"
              "                       is still there (with terminate or interrupt)\n"
              "  -h, --help           print this help\n"
              "\n"
              "Example:\n"
              "  nook kill --signal terminate --grace 2s work\n",
              f);
}

void help_stats(FILE *f) {
        fputs("Usage: nook stats [--watch] [--json] PROCESS\n"
              "\n"
              "Shows what a process (and its children) uses: cpu time, resident memory, number\n"
              "of processes, bytes written to the writable layer, bytes through the session's\n"
              "network (received + sent, all its processes; none for --network none or host),\n"
              "and the exit code once it has ended. What cannot be measured here is shown as\n"
              "'-' (absent in JSON), never 0.\n"
              "PROCESS as in 'nook logs'.\n"
              "\n"
              "  --watch     one more line every second, until the process exits or Ctrl-C\n"
              "  --json      the contract's ProcessStatsSnapshot (one a line with --watch)\n"
              "  -h, --help  print this help\n",
              f);
}

void help_gc(FILE *f) {
        fputs("Usage: nook gc [--json]\n"
              "\n"
              "Removes every session whose holder died, and every session made by a 'nook run'\n"
              "(or a program) that is gone without detaching it, with whatever they left:\n"
              "processes, mounts, run-dir files. Sessions kept on purpose ('nook run -d',\n"
              "'nook session create') stay. Exit 125 when something could not be removed.\n"
              "\n"
              "  --json      print {\"reclaimed\": N, \"summary\": \"...\"}\n"
              "  -h, --help  print this help\n",
              f);
}

static int print_text(nook_strbuf *b) {
        _cleanup_free_ char *t = nook_strbuf_steal(b);
        if (!t) {
                fputs("nook: out of memory\n", stderr);
                return EXIT_NOOK;
        }
        printf("%s\n", t);
        return fflush(stdout) == 0 ? 0 : EXIT_NOOK;
}

/* ---- ps ----------------------------------------------------------------------------------- */

static int ps_json(const cli_sessions *s, const cli_processes *p) {
        json_t *a = json_array();
        int q = 0;
        for (size_t i = 0; i < p->n; i++) {
                const cli_process_row *r = &p->v[i];
                const cli_session_row *sr = cli_sessions_find(s, r->env);
                q |= json_array_append_new(
                        a, json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:b,s:I,s:I,s:o}", "process_ref", cli_json_str(r->ref),
                                     "session", cli_json_str(sr ? cli_session_label(sr) : r->env), "environment_id",
                                     cli_json_str(r->env), "command", cli_json_str(r->command ? r->command : ""),
                                     "state", cli_json_str(r->state), "exit_code",
                                     strcmp(r->state, "exited") == 0 ? json_integer(r->exit_code) : json_null(),
                                     "terminal", r->terminal, "started_ms", (json_int_t)r->started_ms, "finished_ms",
                                     (json_int_t)r->finished_ms, "ended_by", cli_json_str_or_null(r->ended_by)));
        }
        if (q) {
                json_decref(a);
                a = NULL;
        }
        return cli_json_print(a);
}

int cmd_ps(int argc, char **argv) {
        bool json = false, quiet = false;
        const char *session = NULL;
        for (int i = 1; i < argc; i++) {
                if (cli_is_help(argv[i])) {
                        help_ps(stdout);
                        return 0;
                } else if (strcmp(argv[i], "--json") == 0)
                        json = true;
                else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0)
                        quiet = true;
                else if (strcmp(argv[i], "-aq") == 0 || strcmp(argv[i], "-qa") == 0)
                        quiet = true; /* podman habit: ps -aq */
                else if (strcmp(argv[i], "-a") == 0 || strcmp(argv[i], "--all") == 0)
                        continue; /* podman habit: nook ps always shows exited processes too */
                else if (argv[i][0] == '-' && argv[i][1])
                        return cli_usage_error("ps", "unknown option '%s'", argv[i]);
                else if (!session)
                        session = argv[i];
                else
                        return cli_usage_error("ps", "unexpected argument '%s' (one SESSION at most)", argv[i]);
        }
        if (json && quiet)
                return cli_usage_error("ps", "--json and -q contradict each other: choose one");
        _cleanup_(cli_runtime_freep) nook_runtime *rt = NULL;
        if (cli_open_runtime(&rt) < 0)
                return EXIT_NOOK;
        _cleanup_free_ char *env = NULL;
        if (session && cli_session_resolve(rt, session, &env) != 0)
                return EXIT_NOOK;
        _cleanup_(cli_sessions_done) cli_sessions s = { 0 };
        _cleanup_(cli_processes_done) cli_processes p = { 0 };
        int rc = cli_sessions_load(rt, &s);
        if (!rc)
                rc = cli_processes_load(rt, env, &p);
        if (rc)
                return rc;
        if (json)
                return ps_json(&s, &p);
        if (quiet) {
                for (size_t i = 0; i < p.n; i++)
                        printf("%s\n", p.v[i].ref);
                return fflush(stdout) == 0 ? 0 : EXIT_NOOK;
        }
        nook_strbuf b = NOOK_STRBUF_INIT;
        nook_strbuf_printf(&b, "%-44s %-20s %-12s %-11s %-5s %s", "PROCESS", "SESSION", "COMMAND", "STATE", "EXIT",
                           "STARTED");
        for (size_t i = 0; i < p.n; i++) {
                const cli_process_row *r = &p.v[i];
                const cli_session_row *sr = cli_sessions_find(&s, r->env);
                const char *label = sr ? cli_session_label(sr) : r->env;
                bool exited = strcmp(r->state, "exited") == 0;
                char code[16] = "-", ago[32];
                if (exited)
                        snprintf(code, sizeof(code), "%d", r->exit_code);
                cli_format_ago(r->started_ms, ago, sizeof(ago));
                nook_strbuf_printf(&b, "\n%-44s %-20s %-12s %-11s %-5s %s", r->ref, label,
                                   r->command ? r->command : "?", r->state, code, ago);
        }
        return print_text(&b);
}

/* ---- kill --------------------------------------------------------------------------------- */

static const char *signal_name(const char *s) {
        static const struct {
                const char *contract;
                const char *names[4];
        } map[] = {
                { "kill", { "KILL", "SIGKILL", "9", NULL } },
                { "terminate", { "TERM", "SIGTERM", "15", NULL } },
                { "interrupt", { "INT", "SIGINT", "2", NULL } },
        };
        for (size_t i = 0; i < ELEMENTSOF(map); i++) {
                if (strcasecmp(s, map[i].contract) == 0)
                        return map[i].contract;
                for (size_t j = 0; map[i].names[j]; j++)
                        if (strcasecmp(s, map[i].names[j]) == 0)
                                return map[i].contract;
        }
        return NULL;
}

int cmd_kill(int argc, char **argv) {
        const char *sig = "kill", *arg = NULL;
        uint64_t grace = 0;
        for (int i = 1; i < argc; i++) {
                const char *v = NULL;
                if (cli_is_help(argv[i])) {
                        help_kill(stdout);
                        return 0;
                } else if ((strcmp(argv[i], "-s") == 0 || strcmp(argv[i], "--signal") == 0) && i + 1 < argc)
                        v = argv[++i];
                else if (strncmp(argv[i], "--signal=", 9) == 0)
                        v = argv[i] + 9;
                else if (strcmp(argv[i], "--grace") == 0 || strncmp(argv[i], "--grace=", 8) == 0) {
                        const char *g = argv[i][7] == '=' ? argv[i] + 8 : i + 1 < argc ? argv[++i] : NULL;
                        if (!g || cli_parse_duration(g, &grace) < 0 || grace > 3600000)
                                return cli_usage_error("kill",
                                                       "--grace needs a duration up to 1h (2s, 500ms), got "
                                                       "'%s'",
                                                       g ? g : "");
                        continue;
                } else if (argv[i][0] == '-' && argv[i][1])
                        return cli_usage_error("kill", "unknown option '%s'", argv[i]);
                else if (!arg)
                        arg = argv[i];
                else
                        return cli_usage_error("kill", "unexpected argument '%s' (one PROCESS)", argv[i]);
                if (v && !(sig = signal_name(v)))
                        return cli_usage_error("kill",
                                               "--signal '%s': nook sends kill, terminate or interrupt "
                                               "(SIGKILL, SIGTERM, SIGINT)",
                                               v);
        }
        if (!arg)
                return cli_usage_error("kill", "missing PROCESS (a process ref from 'nook ps', or a session)");
        if (grace && strcmp(sig, "kill") == 0)
                return cli_usage_error("kill", "--grace goes with --signal terminate or interrupt (kill is "
                                               "immediate)");
        _cleanup_(cli_runtime_freep) nook_runtime *rt = NULL;
        if (cli_open_runtime(&rt) < 0)
                return EXIT_NOOK;
        _cleanup_free_ char *ref = NULL;
        int rc = cli_process_resolve(rt, arg, &ref);
        if (rc)
                return rc;
        _cleanup_free_ char *out = NULL;
        rc = cli_send_signal(rt, ref, sig, (uint64_t)grace, &out);
        if (rc)
                return rc;
        _cleanup_free_ char *delivered = cli_json_get(out, "/delivered");
        _cleanup_free_ char *summary = cli_json_get(out, "/redacted_summary");
        if (delivered && strcmp(delivered, "true") == 0)
                printf("%s: %s\n", ref, summary ? summary : "delivered");
        else
                printf("%s: not delivered: %s\n", ref, summary ? summary : "the process is no longer running");
        return fflush(stdout) == 0 ? 0 : EXIT_NOOK;
}

/* ---- stats -------------------------------------------------------------------------------- */

static void stats_row(const char *json, const char *ref) {
        static const char *const fields[] = { "/cpu_millis",       "/memory_bytes",  "/process_count",
                                              "/filesystem_bytes", "/network_bytes", "/exit_code" };
        char col[6][32];
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                _cleanup_free_ char *v = cli_json_get(json, fields[i]);
                unsigned long long n = v ? strtoull(v, NULL, 10) : 0;
                if (!v)
                        snprintf(col[i], sizeof(col[i]), "-");
                else if (i == 0)
                        snprintf(col[i], sizeof(col[i]), "%llu.%03llus", n / 1000, n % 1000);
                else if (i == 1 || i == 3 || i == 4)
                        cli_format_bytes(n, col[i], sizeof(col[i]));
                else
                        snprintf(col[i], sizeof(col[i]), "%s", v);
        }
        printf("%-44s %-10s %-10s %-5s %-10s %-10s %s\n", ref, col[0], col[1], col[2], col[3], col[4], col[5]);
}

int cmd_stats(int argc, char **argv) {
        bool watch = false, json = false;
        const char *arg = NULL;
        for (int i = 1; i < argc; i++) {
                if (cli_is_help(argv[i])) {
                        help_stats(stdout);
                        return 0;
                } else if (strcmp(argv[i], "--watch") == 0 || strcmp(argv[i], "-w") == 0)
                        watch = true;
                else if (strcmp(argv[i], "--json") == 0)
                        json = true;
                else if (strcmp(argv[i], "--no-stream") == 0)
                        watch = false; /* podman habit */
                else if (argv[i][0] == '-' && argv[i][1])
                        return cli_usage_error("stats", "unknown option '%s'", argv[i]);
                else if (!arg)
                        arg = argv[i];
                else
                        return cli_usage_error("stats", "unexpected argument '%s' (one PROCESS)", argv[i]);
        }
        if (!arg)
                return cli_usage_error("stats", "missing PROCESS (a process ref from 'nook ps', or a session)");
        _cleanup_close_ int sigfd = watch ? cli_signals_block() : -1;
        _cleanup_(cli_runtime_freep) nook_runtime *rt = NULL;
        if (cli_open_runtime(&rt) < 0)
                return EXIT_NOOK;
        _cleanup_free_ char *ref = NULL;
        int rc = cli_process_resolve(rt, arg, &ref);
        if (rc)
                return rc;
        _cleanup_free_ char *req = cli_json_text(json_pack("{s:o}", "process_ref", cli_json_str(ref)));
        if (!req) {
                fputs("nook: out of memory\n", stderr);
                return EXIT_NOOK;
        }
        if (!json)
                printf("%-44s %-10s %-10s %-5s %-10s %-10s %s\n", "PROCESS", "CPU", "MEMORY", "PIDS", "WRITTEN",
                       "NET IO", "EXIT");
        for (;;) {
                _cleanup_free_ char *out = NULL;
                _cleanup_(cli_error_freep) nook_error *err = NULL;
                if (nook_runtime_call(rt, "collect_stats", req, &out, &err) < 0)
                        return cli_report(err);
                if (json)
                        printf("%s\n", out);
                else
                        stats_row(out, ref);
                if (fflush(stdout) != 0)
                        return EXIT_NOOK;
                _cleanup_free_ char *code = cli_json_get(out, "/exit_code");
                if (!watch || code)
                        return 0;
                struct pollfd p = { .fd = sigfd, .events = POLLIN };
                if (poll(&p, 1, 1000) > 0 && cli_signal_take(sigfd))
                        return 0;
        }
}

/* ---- gc ----------------------------------------------------------------------------------- */

int cmd_gc(int argc, char **argv) {
        bool json = false;
        for (int i = 1; i < argc; i++) {
                if (cli_is_help(argv[i])) {
                        help_gc(stdout);
                        return 0;
                } else if (strcmp(argv[i], "--json") == 0)
                        json = true;
                else
                        return cli_usage_error("gc", "unknown argument '%s'", argv[i]);
        }
        _cleanup_(cli_runtime_freep) nook_runtime *rt = NULL;
        if (cli_open_runtime(&rt) < 0)
                return EXIT_NOOK;
        unsigned n = 0;
        _cleanup_free_ char *summary = NULL;
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        int r = nook_runtime_gc(rt, &n, &summary, &err);
        if (json) {
                int rc = cli_json_print(json_pack("{s:I,s:o}", "reclaimed", (json_int_t)n, "summary",
                                                  cli_json_str(summary ? summary
                                                               : r < 0 ? nook_error_get_message(err)
                                                                       : "")));
                if (r < 0)
                        return cli_report(err);
                return rc;
        }
        if (r < 0)
                return cli_report(err);
        printf("%s\n", summary ? summary : "done");
        return fflush(stdout) == 0 ? 0 : EXIT_NOOK;
}
