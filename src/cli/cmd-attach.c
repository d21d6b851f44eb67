/* nook CLI — `nook attach`: back to a process started with `run -d`/`-dit` or `exec -d`.
 * Its monitor keeps the pty (or pipes) and the stdin it was started with; attaching
 * reads the capture logs from their end and writes stdin through the monitor
 * (attach.c), until the process ends or the detach keys are typed. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listing.h"
#include "run.h"

#define DEFAULT_DETACH_KEYS "ctrl-p,ctrl-q"

void help_attach(FILE *f) {
        fputs("Usage: nook attach [OPTIONS] PROCESS\n"
              "\n"
              "Attaches to a running process started with 'nook run -d' (-dit for a shell) or\n"
              "'nook exec -d': its output from now on on ours, our input to its stdin (when it\n"
              "was started with -i), its terminal when it has one (raw mode, resized with ours).\n"
              "The detach keys (ctrl-p ctrl-q) leave it running; attach again any time.\n"
              "\n"
              "PROCESS is a process ref from 'nook ps' (or a unique prefix of one, 4+ characters),\n"
              "or a session (its first process: the command of 'nook run').\n"
              "\n"
              "Options:\n"
              "  --detach-keys KEYS  the sequence that detaches: a comma-separated list of\n"
              "                      ctrl-X (X a letter or one of @ [ \\ ] ^ _) and single\n"
              "                      characters; \"\" for none (default " DEFAULT_DETACH_KEYS ")\n"
              "  --no-stdin          do not forward our input\n"
              "  -h, --help          print this help\n"
              "\n"
              "Exit status: the process's own code when it ends while attached; 0 when\n"
              "detached; 125 when there is nothing to attach to (it has ended: 'nook logs').\n"
              "Without a terminal, the end of our input closes the process's stdin; with one,\n"
              "it only stops forwarding (the shell goes on).\n"
              "\n"
              "Example:\n"
              "  nook run -dit --name dev debian bash   # prints the session and process\n"
              "  nook attach dev                        # ... ctrl-p ctrl-q, later again\n",
              f);
}

/* "ctrl-p,ctrl-q" -> "\x10\x11"; false for what is not a key. */
static bool parse_keys(const char *spec, char *out, size_t size) {
        size_t n = 0;
        for (const char *p = spec; *p;) {
                const char *end = strchr(p, ',');
                size_t len = end ? (size_t)(end - p) : strlen(p);
                char c;
                if (len == 1)
                        c = *p;
                else if (len == 6 && strncmp(p, "ctrl-", 5) == 0 && strchr("abcdefghijklmnopqrstuvwxyz@[\\]^_", p[5]))
                        c = p[5] >= 'a' && p[5] <= 'z' ? (char)(p[5] - 'a' + 1) : (char)(p[5] - '@');
                else
                        return false;
                if (n + 1 >= size)
                        return false;
                out[n++] = c;
                p += len + (end ? 1 : 0);
                if (end && !*p)
                        return false;
        }
        out[n] = 0;
        return true;
}

/* The process's row: whether it has a terminal, and whether it still runs. */
static int process_row(nook_runtime *rt, const char *ref, bool *ret_terminal, char **ret_state, int *ret_code) {
        _cleanup_(cli_processes_done) cli_processes all = { 0 };
        int rc = cli_processes_load(rt, NULL, &all);
        if (rc)
                return rc;
        for (size_t i = 0; i < all.n; i++)
                if (strcmp(all.v[i].ref, ref) == 0) {
                        *ret_terminal = all.v[i].terminal;
                        *ret_code = all.v[i].exit_code;
                        *ret_state = strdup(all.v[i].state);
                        return *ret_state ? 0 : EXIT_NOOK;
                }
        fprintf(stderr, "nook: attach: process %s is gone\n", ref);
        return EXIT_NOOK;
}

int cmd_attach(int argc, char **argv) {
        const char *arg = NULL, *spec = DEFAULT_DETACH_KEYS;
        bool no_stdin = false;
        for (int i = 1; i < argc; i++) {
                if (cli_is_help(argv[i])) {
                        help_attach(stdout);
                        return 0;
                } else if (strcmp(argv[i], "--detach-keys") == 0 || strncmp(argv[i], "--detach-keys=", 14) == 0) {
                        spec = argv[i][13] == '=' ? argv[i] + 14 : i + 1 < argc ? argv[++i] : NULL;
                        if (!spec)
                                return cli_usage_error("attach", "--detach-keys needs KEYS (ctrl-p,ctrl-q)");
                } else if (strcmp(argv[i], "--no-stdin") == 0)
                        no_stdin = true;
                else if (strcmp(argv[i], "--sig-proxy") == 0 || strcmp(argv[i], "--sig-proxy=true") == 0)
                        continue; /* podman's default, and ours: our signals go to the process */
                else if (argv[i][0] == '-' && argv[i][1])
                        return cli_usage_error("attach", "unknown option '%s'", argv[i]);
                else if (!arg)
                        arg = argv[i];
                else
                        return cli_usage_error("attach", "unexpected argument '%s' (one PROCESS)", argv[i]);
        }
        char keys[32];
        if (!parse_keys(spec, keys, sizeof(keys)))
                return cli_usage_error("attach",
                                       "--detach-keys '%s': expected keys such as ctrl-p,ctrl-q (ctrl-X with X a "
                                       "letter or one of @[\\]^_, or single characters, comma-separated; \"\" for "
                                       "none)",
                                       spec);
        if (!arg)
                return cli_usage_error("attach", "missing PROCESS (a process ref from 'nook ps', or a session)");
        _cleanup_close_ int sigfd = cli_signals_block();
        if (sigfd < 0) {
                fprintf(stderr, "nook: setting up signal handling: %s\n", strerror(-sigfd));
                return EXIT_NOOK;
        }
        _cleanup_(cli_runtime_freep) nook_runtime *rt = NULL;
        if (cli_open_runtime(&rt) < 0)
                return EXIT_NOOK;
        _cleanup_free_ char *ref = NULL, *state = NULL;
        bool terminal = false;
        int code = 0;
        int rc = cli_process_resolve(rt, arg, &ref);
        if (rc == 0)
                rc = process_row(rt, ref, &terminal, &state, &code);
        if (rc)
                return rc;
        if (strcmp(state, "running") != 0 && strcmp(state, "unmonitored") != 0) {
                fprintf(stderr, "nook: attach: process %s is %s", ref, state);
                if (strcmp(state, "exited") == 0)
                        fprintf(stderr, " (code %d)", code);
                fprintf(stderr, ": there is nothing to attach to\nhint: 'nook logs %s' prints its output\n", ref);
                return EXIT_NOOK;
        }
        if (strcmp(state, "unmonitored") == 0) {
                fprintf(stderr,
                        "nook: attach: the monitor of process %s was killed: its terminal, output and "
                        "input are gone with it ('nook kill' ends it)\n",
                        ref);
                return EXIT_NOOK;
        }
        cli_process_opts p = { .tty = terminal, .interactive = !no_stdin };
        bool detached = false;
        unsigned rows, cols;
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        /* our terminal's size now: the process may have been started on another one */
        if (terminal && cli_tty_size(&rows, &cols))
                (void)nook_runtime_process_resize(rt, ref, rows, cols, &err);
        rc = cli_reattach(rt, ref, &p, sigfd, keys, &code, &detached);
        if (rc)
                return rc;
        if (detached) {
                fprintf(stderr, "\nnook: detached from %s (still running; 'nook attach %s' to come back)\n", ref, ref);
                return 0;
        }
        if (code == 137)
                cli_explain_kill(rt, ref, &p);
        return code;
}
