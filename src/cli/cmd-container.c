/* nook CLI — podman's container verbs on nook's sessions and processes: `nook stop`
 * (signal_process: SIGTERM, then SIGKILL after -t), `nook rm` (the contract's cleanup,
 * refused while processes run unless -f), `nook wait` (process_wait) and `nook inspect`
 * (a session, a process or an image as JSON). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "listing.h"
#include "run.h"

void help_stop(FILE *f) {
        fputs("Usage: nook stop [-t SECONDS] [-a] PROCESS|SESSION...\n"
              "\n"
              "Stops processes as 'podman stop' does: SIGTERM, then SIGKILL to the process\n"
              "group when it is still there after SECONDS. A SESSION means every process\n"
              "running in it; the session itself stays (remove it with 'nook rm'). PROCESS\n"
              "and SESSION are refs, names or unique starts of refs ('nook ps'). Prints each\n"
              "one stopped; a process that had already ended is not an error.\n"
              "\n"
              "  -t, --time SECONDS  seconds to wait before SIGKILL (default 10; 0: SIGKILL now)\n"
              "  -a, --all           every running process of every session\n"
              "  -h, --help          print this help\n",
              f);
}

void help_rm(FILE *f) {
        fputs("Usage: nook rm [-f] SESSION...\n"
              "\n"
              "Removes sessions (as 'nook session rm'): every process, the holder, mounts and\n"
              "run-dir state. As 'podman rm', a session with running processes is refused\n"
              "unless -f is given ('nook stop SESSION' first). SESSION is a name, environment\n"
              "id, ref or a unique start of one. Images are removed with 'nook rmi'.\n"
              "\n"
              "  -f, --force  remove sessions whose processes still run (they are killed)\n"
              "  -h, --help   print this help\n",
              f);
}

void help_wait(FILE *f) {
        fputs("Usage: nook wait PROCESS|SESSION...\n"
              "\n"
              "Waits until each process (a SESSION: its first process, the command of 'nook\n"
              "run -d') has ended and prints its exit code, one a line, as 'podman wait'.\n"
              "Exit code 0 once all have ended; 125 when one cannot be waited for.\n"
              "\n"
              "  -h, --help  print this help\n",
              f);
}

void help_inspect(FILE *f) {
        fputs("Usage: nook inspect [--format json] [--type session|process|image] NAME...\n"
              "\n"
              "Prints a JSON array with one object per NAME, as 'podman inspect': a session\n"
              "(the fields of 'nook session inspect --json', with its processes), a process\n"
              "(its ref, session, command, state, exit code, times) or an image (as 'nook\n"
              "image inspect'). Each object says which in \"kind\". NAME is a process or\n"
              "session ref, a session's name or environment id, a unique start of a ref, or\n"
              "an image.\n"
              "\n"
              "  -f, --format json  the only format (Go templates are not supported: use jq)\n"
              "  -t, --type TYPE    only look NAME up as a session, process or image\n"
              "  -h, --help         print this help\n",
              f);
}

/* ---- stop --------------------------------------------------------------------------------- */

/* signal_process: sig (kill, terminate, interrupt) to ref; the response in *out when out. */
int cli_send_signal(nook_runtime *rt, const char *ref, const char *sig, uint64_t grace_ms, char **out) {
        _cleanup_free_ char *req = cli_json_text(json_pack("{s:o,s:s,s:I}", "process_ref", cli_json_str(ref), "signal",
                                                           sig, "grace_ms", (json_int_t)grace_ms));
        if (!req) {
                fputs("nook: out of memory\n", stderr);
                return EXIT_NOOK;
        }
        _cleanup_free_ char *resp = NULL;
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        if (nook_runtime_call(rt, "signal_process", req, &resp, &err) < 0)
                return cli_report(err);
        if (out)
                *out = TAKE_PTR(resp);
        return 0;
}

static bool running(const char *state) {
        /* unmonitored: running on without its monitor (S33); signals still reach it */
        return strcmp(state, "running") == 0 || strcmp(state, "unmonitored") == 0;
}

/* Signals every process of refs (SIGTERM with a grace of secs, or SIGKILL), then waits
 * for each to end. */
static int stop_refs(nook_runtime *rt, char **refs, size_t n, unsigned secs) {
        int rc = 0;
        for (size_t i = 0; i < n; i++)
                if (cli_send_signal(rt, refs[i], secs ? "terminate" : "kill", (uint64_t)secs * 1000, NULL) != 0)
                        rc = EXIT_NOOK;
        for (size_t i = 0; i < n; i++) {
                int code;
                _cleanup_(cli_error_freep) nook_error *err = NULL;
                /* the monitor sends SIGKILL at secs; a few more seconds for it to be reaped */
                int r = nook_runtime_process_wait(rt, refs[i], (int)secs * 1000 + 5000, &code, &err);
                if (r < 0)
                        rc = cli_report(err);
                else if (r == 0) {
                        fprintf(stderr, "nook: %s is still running %us after SIGKILL was due\n", refs[i], secs);
                        rc = EXIT_NOOK;
                }
        }
        return rc;
}

/* The running processes named by arg (a process, or a session's), or all (arg NULL). */
static int stop_one(nook_runtime *rt, const char *arg, unsigned secs) {
        _cleanup_(cli_ref_done) cli_ref ref = { 0 };
        if (arg) {
                int rc = cli_ref_resolve(rt, arg, &ref);
                if (rc)
                        return rc;
        }
        _cleanup_(cli_processes_done) cli_processes p = { 0 };
        int rc = cli_processes_load(rt, ref.env, &p);
        if (rc)
                return rc;
        _cleanup_free_ char **refs = calloc(p.n + 1, sizeof(char *));
        size_t n = 0;
        if (!refs)
                return EXIT_NOOK;
        for (size_t i = 0; i < p.n; i++)
                if (running(p.v[i].state) && (!ref.process || strcmp(p.v[i].ref, ref.process) == 0))
                        refs[n++] = p.v[i].ref;
        rc = stop_refs(rt, refs, n, secs);
        if (!rc && arg)
                printf("%s\n", arg);
        return rc;
}

static int parse_secs(const char *v, unsigned *ret) {
        char *end = NULL;
        errno = 0;
        unsigned long n = v ? strtoul(v, &end, 10) : 0;
        if (!v || !*v || *end || errno || v[0] == '-' || n > 3600)
                return cli_usage_error("stop", "--time needs whole seconds from 0 to 3600, got '%s'", v ? v : "");
        *ret = (unsigned)n;
        return 0;
}

int cmd_stop(int argc, char **argv) {
        unsigned secs = 10;
        bool all = false;
        int first = 0, rc;
        for (int i = 1; i < argc; i++) {
                if (cli_is_help(argv[i])) {
                        help_stop(stdout);
                        return 0;
                } else if (strcmp(argv[i], "-t") == 0 || strcmp(argv[i], "--time") == 0) {
                        if ((rc = parse_secs(i + 1 < argc ? argv[++i] : NULL, &secs)) != 0)
                                return rc;
                } else if (strncmp(argv[i], "--time=", 7) == 0) {
                        if ((rc = parse_secs(argv[i] + 7, &secs)) != 0)
                                return rc;
                } else if (strcmp(argv[i], "-a") == 0 || strcmp(argv[i], "--all") == 0)
                        all = true;
                else if (argv[i][0] == '-' && argv[i][1])
                        return cli_usage_error("stop", "unknown option '%s'", argv[i]);
                else if (!first)
                        first = i;
        }
        if (!first == !all)
                return cli_usage_error("stop", all ? "--all takes no PROCESS or SESSION"
                                                   : "missing PROCESS or SESSION (nook ps, nook session ls)");
        _cleanup_(cli_runtime_freep) nook_runtime *rt = NULL;
        if (cli_open_runtime(&rt) < 0)
                return EXIT_NOOK;
        if (all)
                return stop_one(rt, NULL, secs) || fflush(stdout) != 0 ? EXIT_NOOK : 0;
        rc = 0;
        for (int i = first; i < argc; i++) {
                if (strcmp(argv[i], "-t") == 0 || strcmp(argv[i], "--time") == 0)
                        i++; /* its value */
                else if (argv[i][0] != '-' || !argv[i][1])
                        rc |= stop_one(rt, argv[i], secs) ? EXIT_NOOK : 0;
        }
        return fflush(stdout) == 0 ? rc : EXIT_NOOK;
}

/* ---- rm ----------------------------------------------------------------------------------- */

static int rm_one(nook_runtime *rt, const char *arg, bool force) {
        _cleanup_(cli_ref_done) cli_ref ref = { 0 };
        int rc = cli_ref_resolve(rt, arg, &ref);
        if (rc)
                return rc;
        if (ref.process) {
                fprintf(stderr,
                        "nook: '%s' is a process: nook rm removes sessions; stop the process with "
                        "'nook stop %s' ('nook ps' shows its session)\n",
                        arg, arg);
                return EXIT_NOOK;
        }
        _cleanup_(cli_processes_done) cli_processes p = { 0 };
        if ((rc = cli_processes_load(rt, ref.env, &p)) != 0)
                return rc;
        size_t n = 0;
        for (size_t i = 0; i < p.n; i++)
                n += running(p.v[i].state);
        if (n && !force) {
                fprintf(stderr,
                        "nook: session '%s' has %zu running process%s: stop %s first ('nook stop %s') or "
                        "remove it anyway with 'nook rm -f %s'\n",
                        arg, n, n == 1 ? "" : "es", n == 1 ? "it" : "them", arg, arg);
                return EXIT_NOOK;
        }
        if (cli_session_down(rt, ref.env, "rm", false) != 0)
                return EXIT_NOOK;
        printf("%s\n", arg);
        return 0;
}

int cmd_rm(int argc, char **argv) {
        bool force = false;
        int n = 0;
        for (int i = 1; i < argc; i++) {
                if (cli_is_help(argv[i])) {
                        help_rm(stdout);
                        return 0;
                } else if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--force") == 0)
                        force = true;
                else if (argv[i][0] == '-' && argv[i][1])
                        return cli_usage_error("rm", "unknown option '%s'", argv[i]);
                else
                        n++;
        }
        if (!n)
                return cli_usage_error("rm", "missing SESSION (nook session ls lists them)");
        _cleanup_(cli_runtime_freep) nook_runtime *rt = NULL;
        if (cli_open_runtime(&rt) < 0)
                return EXIT_NOOK;
        int rc = 0;
        for (int i = 1; i < argc; i++)
                if (argv[i][0] != '-' || !argv[i][1])
                        rc |= rm_one(rt, argv[i], force) ? EXIT_NOOK : 0;
        return fflush(stdout) == 0 ? rc : EXIT_NOOK;
}

/* ---- wait --------------------------------------------------------------------------------- */

int cmd_wait(int argc, char **argv) {
        int n = 0;
        for (int i = 1; i < argc; i++) {
                if (cli_is_help(argv[i])) {
                        help_wait(stdout);
                        return 0;
                } else if (argv[i][0] == '-' && argv[i][1])
                        return cli_usage_error("wait", "unknown option '%s'", argv[i]);
                n++;
        }
        if (!n)
                return cli_usage_error("wait", "missing PROCESS or SESSION (nook ps lists them)");
        _cleanup_(cli_runtime_freep) nook_runtime *rt = NULL;
        if (cli_open_runtime(&rt) < 0)
                return EXIT_NOOK;
        for (int i = 1; i < argc; i++) {
                _cleanup_free_ char *ref = NULL;
                int rc = cli_process_resolve(rt, argv[i], &ref);
                if (rc)
                        return rc;
                int code;
                _cleanup_(cli_error_freep) nook_error *err = NULL;
                if (nook_runtime_process_wait(rt, ref, -1, &code, &err) < 0)
                        return cli_report(err);
                printf("%d\n", code);
                if (fflush(stdout) != 0)
                        return EXIT_NOOK;
        }
        return 0;
}

/* ---- inspect ------------------------------------------------------------------------------ */

static json_t *with_kind(json_t *o, const char *kind) {
        if (o && json_object_set_new(o, "kind", json_string(kind)) < 0) {
                json_decref(o);
                return NULL;
        }
        return o;
}

static json_t *inspect_session(nook_runtime *rt, const char *env) {
        _cleanup_(cli_sessions_done) cli_sessions l = { 0 };
        _cleanup_(cli_processes_done) cli_processes p = { 0 };
        if (cli_sessions_load(rt, &l) != 0 || cli_processes_load(rt, env, &p) != 0)
                return NULL;
        const cli_session_row *r = cli_sessions_find(&l, env);
        json_t *o = r ? with_kind(cli_json_session(r), "session") : NULL, *a = json_array();
        for (size_t i = 0; o && a && i < p.n; i++)
                if (json_array_append_new(a, cli_json_process(&p.v[i])) < 0)
                        break;
        if (!o || !a || json_object_set_new(o, "processes", a) < 0) {
                json_decref(o);
                return NULL;
        }
        return o;
}

static json_t *inspect_process(nook_runtime *rt, const char *ref) {
        _cleanup_(cli_processes_done) cli_processes p = { 0 };
        _cleanup_(cli_sessions_done) cli_sessions l = { 0 };
        if (cli_sessions_load(rt, &l) != 0 || cli_processes_load(rt, NULL, &p) != 0)
                return NULL;
        for (size_t i = 0; i < p.n; i++)
                if (strcmp(p.v[i].ref, ref) == 0) {
                        const cli_session_row *s = cli_sessions_find(&l, p.v[i].env);
                        json_t *o = with_kind(cli_json_process(&p.v[i]), "process");
                        if (o && json_object_set_new(o, "session", cli_json_str(s ? cli_session_label(s) : p.v[i].env)))
                                json_decref(o), o = NULL;
                        return o;
                }
        return NULL;
}

static json_t *inspect_image(nook_runtime *rt, const char *name, bool report) {
        _cleanup_free_ char *out = NULL;
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        if (nook_runtime_image_inspect(rt, name, &out, &err) < 0) {
                if (report)
                        cli_report(err);
                return NULL;
        }
        return with_kind(json_loads(out, 0, NULL), "image");
}

static json_t *inspect_one(nook_runtime *rt, const char *arg, const char *type) {
        if (type && strcmp(type, "image") == 0)
                return inspect_image(rt, arg, true);
        _cleanup_(cli_ref_done) cli_ref r = { 0 };
        int rc = cli_ref_lookup(rt, arg, &r);
        if (rc == -ENOENT && !type) {
                json_t *o = inspect_image(rt, arg, false);
                if (o)
                        return o;
        }
        if (rc == 0 && type && strcmp(type, r.process ? "process" : "session") != 0)
                rc = -ENOENT;
        if (rc == -ENOENT) {
                fprintf(stderr, "nook: no %s '%s'\n", type ? type : "process, session or image", arg);
                fputs("hint: 'nook ps', 'nook session ls' and 'nook images' list them\n", stderr);
        }
        if (rc)
                return NULL;
        json_t *o = r.process ? inspect_process(rt, r.process) : inspect_session(rt, r.env);
        if (!o)
                fprintf(stderr, "nook: '%s' went away meanwhile\n", arg);
        return o;
}

int cmd_inspect(int argc, char **argv) {
        const char *type = NULL;
        int n = 0;
        for (int i = 1; i < argc; i++) {
                const char *v = NULL;
                bool fmt = strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--format") == 0;
                bool typ = strcmp(argv[i], "-t") == 0 || strcmp(argv[i], "--type") == 0;
                if (cli_is_help(argv[i])) {
                        help_inspect(stdout);
                        return 0;
                } else if (fmt || typ) {
                        if (!(v = i + 1 < argc ? argv[++i] : NULL))
                                return cli_usage_error("inspect", "%s needs a value", argv[i]);
                } else if (strncmp(argv[i], "--format=", 9) == 0 || strncmp(argv[i], "--type=", 7) == 0) {
                        fmt = argv[i][2] == 'f';
                        typ = !fmt;
                        v = strchr(argv[i], '=') + 1;
                } else if (argv[i][0] == '-' && argv[i][1])
                        return cli_usage_error("inspect", "unknown option '%s'", argv[i]);
                else
                        argv[++n] = argv[i]; /* NAMEs move to the front, options are done with */
                if (fmt && strcmp(v, "json") != 0)
                        return cli_usage_error("inspect",
                                               "--format '%s': nook prints JSON only (no Go templates); pick "
                                               "fields with jq, e.g. nook inspect NAME | jq '.[0].state'",
                                               v);
                if (typ && strcmp(v, "session") != 0 && strcmp(v, "process") != 0 && strcmp(v, "image") != 0 &&
                    strcmp(v, "container") != 0)
                        return cli_usage_error("inspect", "--type '%s': session, process or image", v);
                if (typ)
                        type = strcmp(v, "container") == 0 ? "session" : v;
        }
        if (!n)
                return cli_usage_error("inspect", "missing NAME (a process, a session or an image)");
        _cleanup_(cli_runtime_freep) nook_runtime *rt = NULL;
        if (cli_open_runtime(&rt) < 0)
                return EXIT_NOOK;
        json_t *a = json_array();
        int rc = 0;
        for (int i = 1; a && i <= n; i++) {
                json_t *o = inspect_one(rt, argv[i], type);
                if (!o)
                        rc = EXIT_NOOK;
                else if (json_array_append_new(a, o) < 0)
                        json_decref(a), a = NULL;
        }
        char *text = a ? json_dumps(a, JSON_INDENT(4) | JSON_PRESERVE_ORDER) : NULL;
        json_decref(a);
        if (!text) {
                fputs("nook: out of memory\n", stderr);
                return EXIT_NOOK;
        }
        printf("%s\n", text);
        free(text);
        return fflush(stdout) == 0 ? rc : EXIT_NOOK;
}
