/* nook CLI — `nook session create|ls|inspect|rm`: sessions that outlive one command,
 * for the warm path (`nook exec`).  create runs the stages up to a prepared
 * environment; rm is the contract's cleanup. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "listing.h"
#include "run.h"
#include "util/random.h"

void help_session(FILE *f) {
        fputs("Usage: nook session create [IMAGE | --rootfs DIR] [--name NAME] [-v SRC:DST]... [OPTIONS]\n"
              "       nook session ls [--json]\n"
              "       nook session inspect SESSION [--json]\n"
              "       nook session rm SESSION...\n"
              "\n"
              "A session is a prepared sandbox (its namespaces, its root, its holder process)\n"
              "that any number of commands run in ('nook exec'). SESSION is a session's name,\n"
              "environment id or ref.\n"
              "\n"
              "  create    prepare a session and print its name (or its environment id); it\n"
              "            stays until 'nook session rm'. Options, as 'nook run':\n"
              "              IMAGE or --rootfs DIR, --rootfs-driver D, --keep-upper NAME,\n"
              "              --name NAME, --rootfs-rw, --read-only,\n"
              "              --network slirp4netns[:OPTS]|none|host, -p PORTS,\n"
              "              --egress TARGET, --dns IP, --add-host NAME:IP, --hostname NAME,\n"
              "              --userns auto|root|keep-id|subuid, --json, --verbose,\n"
              "              -q/--quiet (no line on stderr for each downgrade taken),\n"
              "              --label KEY=VALUE (kept with the session, shown by inspect),\n"
              "              -v SRC:DST[:ro|rw], --tmpfs DST[:OPTS],\n"
              "              --mount type=bind|tmpfs,..., --workspace ALIAS[:MODE],\n"
              "              --workspace-dest DIR, --deny-single-file,\n"
              "              --memory SIZE, --pids-limit N, --cpus N, --disk SIZE,\n"
              "              --secret NAME[,type=mount|env][,target=...][,src=SOURCE]\n"
              "            (the session's mounts, limits and secrets: every 'nook exec'\n"
              "            has them)\n"
              "  ls        list the sessions: name, identity, state, network, processes\n"
              "            (running/all), age, root directory\n"
              "  inspect   everything about one session: identity, state, root, network,\n"
              "            hostname, holder pid, downgrades taken (notes), the mount\n"
              "            plan (destination, kind, mode, ref), the secrets it holds (refs\n"
              "            and destinations, never a value), processes\n"
              "  rm        remove sessions: every process, the holder, mounts and run-dir\n"
              "            state; exit 125 when any could not be removed completely;\n"
              "            --after REF waits until process REF has ended first ('nook run\n"
              "            -d --rm' starts one in the background)\n"
              "\n"
              "  --json      machine-readable output (create, ls, inspect)\n"
              "  -h, --help  print this help\n"
              "\n"
              "Example:\n"
              "  nook session create --name work -v ./proj:/src debian\n"
              "  nook exec work -- make test\n"
              "  nook session rm work\n",
              f);
}

/* ---- create ------------------------------------------------------------------------------ */

static const struct option create_options[] = {
        CLI_SESSION_OPTIONS, CLI_LIMIT_OPTIONS, CLI_MOUNT_OPTIONS, CLI_COMMON_OPTIONS, { NULL, 0, NULL, 0 },
};

static int session_create(int argc, char **argv) {
        _cleanup_(cli_session_opts_done) cli_session_opts s = CLI_SESSION_OPTS_INIT;
        bool json = false, verbose = false;
        int opt;
        optind = 1;
        opterr = 0;
        while ((opt = getopt_long(argc, argv, ":v:p:qh", create_options, NULL)) != -1) {
                if (opt == 'h') {
                        help_session(stdout);
                        return 0;
                }
                if (opt == '?' || opt == ':')
                        return cli_getopt_error(opt, argv, create_options, "session");
                if (opt == OPT_JSON)
                        json = true;
                else if (opt == OPT_VERBOSE)
                        verbose = true;
                else if ((opt = cli_session_opt(opt, optarg, &s, "session")) != 0)
                        return opt;
        }
        if (optind < argc && !s.rootfs)
                s.image = argv[optind++];
        if (optind < argc)
                return cli_usage_error("session", "unexpected argument '%s' (session create takes one IMAGE)",
                                       argv[optind]);
        if (!s.rootfs && !s.image)
                return cli_usage_error("session", "session create needs an IMAGE (nook images) or --rootfs DIR");
        if (s.rootfs_rw && s.read_only)
                return cli_usage_error("session", "--rootfs-rw and --read-only contradict each other: choose one");
        int rc = cli_root_check(&s, "session");
        if (rc)
                return rc;
        rc = cli_session_check(&s, "session");
        if (rc)
                return rc;
        _cleanup_close_ int sigfd = cli_signals_block();
        _cleanup_(cli_runtime_freep) nook_runtime *rt = NULL;
        if (cli_session_runtime(&s, &rt) < 0)
                return EXIT_NOOK;
        char env[80] = "session-";
        if (s.name)
                snprintf(env, sizeof(env), "%s", s.name);
        else if (nook_random_hex_into(env + 8, 6) < 0)
                return EXIT_NOOK;
        if (s.name) {
                _cleanup_free_ char *other = NULL;
                _cleanup_(cli_error_freep) nook_error *err = NULL;
                int r = nook_runtime_session_resolve(rt, s.name, &other, &err);
                if (r < 0 && r != -ENOENT)
                        return cli_report(err); /* the run dir refused, say */
                if (r != -ENOENT)
                        return cli_usage_error("session",
                                               "a session named '%s' exists already (remove it with "
                                               "'nook session rm %s')",
                                               s.name, s.name);
        }
        rc = cli_session_up(rt, env, &s, false, sigfd, verbose);
        if (rc) {
                (void)cli_session_abandon(rt, env, "create", verbose);
                return rc;
        }
        if (json)
                return cli_json_print(json_pack("{s:o}", "session", cli_json_str(env)));
        printf("%s\n", env);
        return fflush(stdout) == 0 ? 0 : EXIT_NOOK;
}

/* ---- ls and inspect ---------------------------------------------------------------------- */

static void count_processes(const cli_processes *p, const char *env, unsigned *running, unsigned *total) {
        *running = *total = 0;
        for (size_t i = 0; i < p->n; i++)
                if (strcmp(p->v[i].env, env) == 0) {
                        (*total)++;
                        /* unmonitored: running on without its monitor (S33) */
                        *running += strcmp(p->v[i].state, "running") == 0 || strcmp(p->v[i].state, "unmonitored") == 0;
                }
}

json_t *cli_json_session(const cli_session_row *r) {
        json_t *o = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "name", cli_json_str_or_null(r->name),
                              "environment_id", cli_json_str_or_null(r->env), "ref", cli_json_str_or_null(r->ref),
                              "identity", cli_json_str_or_null(r->identity), "state", cli_json_str_or_null(r->state),
                              "rootfs", cli_json_str_or_null(r->rootfs), "image", cli_json_str_or_null(r->image),
                              "rootfs_driver", cli_json_str_or_null(r->driver), "rootfs_driver_reason",
                              cli_json_str_or_null(r->driver_reason), "writable_layer", cli_json_str_or_null(r->upper));
        int q = 0;
        if (r->image)
                q |= json_object_set_new(o, "owners_collapsed", json_integer((json_int_t)r->owners_collapsed));
        q |= json_object_set_new(o, "network", cli_json_str_or_null(r->network));
        q |= json_object_set_new(o, "hostname", cli_json_str_or_null(r->hostname));
        q |= json_object_set_new(o, "ports", cli_json_str_or_null(r->ports));
        q |= json_object_set_new(o, "notes", cli_json_str_or_null(r->notes));
        q |= json_object_set_new(o, "mounts", cli_json_str_or_null(r->mounts));
        q |= json_object_set_new(o, "secrets", cli_json_str_or_null(r->secrets));
        json_t *labels = json_object();
        _cleanup_free_ char *lines = r->labels ? strdup(r->labels) : NULL;
        for (char *l = lines, *next; l && *l; l = next) {
                next = strchr(l, '\n');
                if (next)
                        *next++ = 0;
                char *eq = strchr(l, '=');
                if (eq) {
                        *eq = 0;
                        q |= json_object_set_new(labels, l, cli_json_str(eq + 1));
                }
        }
        q |= json_object_set_new(o, "labels", labels);
        q |= json_object_set_new(o, "holder_pid", json_integer(r->holder_pid));
        q |= json_object_set_new(o, "created_ms", json_integer(r->created_ms));
        q |= json_object_set_new(o, "owned_by_caller", json_boolean(r->owned));
        if (q) {
                json_decref(o);
                return NULL;
        }
        return o;
}

json_t *cli_json_process(const cli_process_row *p) {
        return json_pack(
                "{s:o,s:o,s:o,s:o,s:o,s:o,s:b,s:I,s:I}", "process_ref", cli_json_str_or_null(p->ref), "session_ref",
                cli_json_str_or_null(p->session_ref), "environment_id", cli_json_str_or_null(p->env), "command",
                cli_json_str_or_null(p->command), "state", cli_json_str_or_null(p->state), "exit_code",
                strcmp(p->state, "exited") == 0 ? json_integer(p->exit_code) : json_null(), "terminal", p->terminal,
                "started_ms", (json_int_t)p->started_ms, "finished_ms", (json_int_t)p->finished_ms);
}

static int session_ls(nook_runtime *rt, bool json) {
        _cleanup_(cli_sessions_done) cli_sessions l = { 0 };
        _cleanup_(cli_processes_done) cli_processes p = { 0 };
        int rc = cli_sessions_load(rt, &l);
        if (!rc)
                rc = cli_processes_load(rt, NULL, &p);
        if (rc)
                return rc;
        if (json) {
                json_t *a = json_array();
                int q = 0;
                for (size_t i = 0; i < l.n; i++) {
                        unsigned running, total;
                        count_processes(&p, l.v[i].env, &running, &total);
                        json_t *o = cli_json_session(&l.v[i]);
                        q |= json_object_set_new(o, "processes_running", json_integer(running));
                        q |= json_object_set_new(o, "processes", json_integer(total));
                        q |= json_array_append_new(a, o);
                }
                if (q) {
                        json_decref(a);
                        a = NULL;
                }
                return cli_json_print(a);
        }
        printf("%-24s %-8s %-13s %-7s %-6s %-9s %s\n", "SESSION", "IDENTITY", "STATE", "NETWORK", "PROCS", "CREATED",
               "ROOTFS");
        for (size_t i = 0; i < l.n; i++) {
                const cli_session_row *r = &l.v[i];
                unsigned running, total;
                count_processes(&p, r->env, &running, &total);
                char procs[24], ago[32];
                snprintf(procs, sizeof(procs), "%u/%u", running, total);
                cli_format_ago(r->created_ms, ago, sizeof(ago));
                char root[64];
                if (r->image) /* the image's digest as 'nook images' shows it, and the driver */
                        snprintf(root, sizeof(root), "%.12s (%s)", r->image + 7, r->driver ? r->driver : "?");
                printf("%-24s %-8s %-13s %-7s %-6s %-9s %s\n", cli_session_label(r), r->identity ? r->identity : "-",
                       r->state ? r->state : "-", r->network ? r->network : "-", procs, ago,
                       r->image    ? root
                       : r->rootfs ? r->rootfs
                                   : "-");
        }
        return fflush(stdout) == 0 ? 0 : EXIT_NOOK;
}

static void print_when(const char *label, long long ms) {
        char when[32] = "-", ago[32];
        time_t t = (time_t)(ms / 1000);
        struct tm tm;
        if (ms > 0 && localtime_r(&t, &tm))
                strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        cli_format_ago(ms, ago, sizeof(ago));
        printf("%-13s %s (%s)\n", label, when, ago);
}

/* The mount plan, one mount (with its exposure audit) a line. */
static void print_mounts(const char *mounts) {
        if (!mounts || !*mounts) {
                printf("%-13s none\n", "Mounts:");
                return;
        }
        printf("Mounts:\n");
        for (const char *p = mounts; *p;) {
                size_t n = strcspn(p, ";");
                const char *e = p + n;
                while (*p == ' ')
                        p++, n--;
                if (n)
                        printf("  %.*s\n", (int)n, p);
                p = *e ? e + 1 : e;
        }
}

static int session_inspect(nook_runtime *rt, const char *arg, bool json) {
        _cleanup_free_ char *env = NULL;
        int rc = cli_session_resolve(rt, arg, &env);
        if (rc)
                return rc;
        _cleanup_(cli_sessions_done) cli_sessions l = { 0 };
        _cleanup_(cli_processes_done) cli_processes p = { 0 };
        rc = cli_sessions_load(rt, &l);
        if (!rc)
                rc = cli_processes_load(rt, env, &p);
        if (rc)
                return rc;
        const cli_session_row *r = cli_sessions_find(&l, env);
        if (!r) {
                fprintf(stderr, "nook: session '%s' went away meanwhile\n", arg);
                return EXIT_NOOK;
        }
        if (json) {
                json_t *o = cli_json_session(r), *a = json_array();
                int q = 0;
                for (size_t i = 0; i < p.n; i++)
                        q |= json_array_append_new(a, cli_json_process(&p.v[i]));
                q |= json_object_set_new(o, "processes", a);
                if (q) {
                        json_decref(o);
                        o = NULL;
                }
                return cli_json_print(o);
        }
        printf("%-13s %s\n", "Session:", cli_session_label(r));
        printf("%-13s %s\n", "Environment:", r->env);
        printf("%-13s %s\n", "Ref:", r->ref);
        printf("%-13s %s\n", "State:", r->state ? r->state : "-");
        printf("%-13s %s\n", "Identity:", r->identity ? r->identity : "-");
        if (r->image) {
                printf("%-13s %s\n", "Image:", r->image);
                printf("%-13s %s (%s)\n", "Rootfs:", r->driver ? r->driver : "-",
                       r->driver_reason ? r->driver_reason : "");
                printf("%-13s %s\n", "Upper dir:", r->upper ? r->upper : "-");
                if (r->owners_collapsed)
                        printf("%-13s %llu entries of the image show %s as owner (modes exact; %s shows them)\n",
                               "Owners:", r->owners_collapsed,
                               r->identity && !strcmp(r->identity, "subuid") ? "the owner on disk"
                                                                             : "the one mapped id",
                               r->identity && !strcmp(r->identity, "subuid") ? "--rootfs-driver fuse-overlayfs"
                                                                             : "--userns subuid with a subuid range");
        } else {
                printf("%-13s %s\n", "Rootfs:", r->rootfs ? r->rootfs : "-");
                if (r->driver) /* under a writable layer (not --rootfs-rw): which driver, why */
                        printf("%-13s %s (%s)\n", "Driver:", r->driver, r->driver_reason ? r->driver_reason : "");
        }
        printf("%-13s %s\n", "Network:", r->network ? r->network : "-");
        printf("%-13s %s\n", "Hostname:", r->hostname ? r->hostname : "-");
        if (r->holder_pid > 0)
                printf("%-13s %d\n", "Holder pid:", r->holder_pid);
        else
                printf("%-13s - (gone: remove the session with 'nook session rm %s')\n",
                       "Holder pid:", cli_session_label(r));
        print_when("Created:", r->created_ms);
        printf("%-13s %s\n",
               "Lifetime:", r->owned ? "ends with the command that made it (nook run)" : "until 'nook session rm'");
        printf("%-13s %s\n", "Notes:", r->notes && *r->notes ? r->notes : "none (nothing was downgraded)");
        print_mounts(r->mounts);
        printf("%-13s %s\n", "Secrets:", r->secrets && *r->secrets ? r->secrets : "none");
        if (!r->labels || !*r->labels)
                printf("%-13s none\n", "Labels:");
        for (const char *lab = r->labels; lab && *lab;) {
                const char *nl = strchr(lab, '\n');
                int len = nl ? (int)(nl - lab) : (int)strlen(lab);
                printf("%-13s %.*s\n", lab == r->labels ? "Labels:" : "", len, lab);
                lab = nl ? nl + 1 : NULL;
        }
        printf("Processes:%s\n", p.n ? "" : "    none");
        for (size_t i = 0; i < p.n; i++) {
                char ago[32], code[16] = "";
                cli_format_ago(p.v[i].started_ms, ago, sizeof(ago));
                if (strcmp(p.v[i].state, "exited") == 0)
                        snprintf(code, sizeof(code), " (%d)", p.v[i].exit_code);
                printf("  %s  %-12s %s%s, started %s\n", p.v[i].ref, p.v[i].command ? p.v[i].command : "?",
                       p.v[i].state, code, ago);
        }
        return fflush(stdout) == 0 ? 0 : EXIT_NOOK;
}

/* ---- rm ----------------------------------------------------------------------------------- */

/* after: a process ref whose end the removal waits for (run -d --rm starts this). */
static int session_rm(nook_runtime *rt, int argc, char **argv, const char *after) {
        int rc = 0;
        int code = 0;
        _cleanup_(cli_error_freep) nook_error *werr = NULL;
        if (after && nook_runtime_process_wait(rt, after, -1, &code, &werr) < 0)
                return cli_report(werr);
        for (int i = 0; i < argc; i++) {
                _cleanup_free_ char *env = NULL;
                if (cli_session_resolve(rt, argv[i], &env) != 0) {
                        rc = EXIT_NOOK;
                        continue;
                }
                if (cli_session_down(rt, env, "rm", false) != 0) {
                        rc = EXIT_NOOK;
                        continue;
                }
                printf("%s\n", argv[i]);
        }
        if (fflush(stdout) != 0)
                rc = EXIT_NOOK;
        return rc;
}

int cmd_session(int argc, char **argv) {
        if (argc < 2) {
                help_session(stderr);
                return EXIT_NOOK;
        }
        const char *sub = argv[1];
        if (cli_is_help(sub)) {
                help_session(stdout);
                return 0;
        }
        if (strcmp(sub, "create") == 0)
                return session_create(argc - 1, argv + 1);
        if (strcmp(sub, "ls") != 0 && strcmp(sub, "list") != 0 && strcmp(sub, "inspect") != 0 && strcmp(sub, "rm") != 0)
                return cli_usage_error("session", "unknown subcommand '%s' (create, ls, inspect, rm)", sub);
        bool json = false;
        const char *after = NULL;
        int n = 0;
        char **args = calloc((size_t)argc, sizeof(char *));
        if (!args)
                return EXIT_NOOK;
        int rc = -1;
        for (int i = 2; i < argc && rc < 0; i++) {
                if (cli_is_help(argv[i])) {
                        help_session(stdout);
                        rc = 0;
                } else if (strcmp(argv[i], "--json") == 0 && strcmp(sub, "rm") != 0)
                        json = true;
                else if (strcmp(argv[i], "--after") == 0 && sub[0] == 'r' && i + 1 < argc)
                        after = argv[++i];
                else if (argv[i][0] == '-' && argv[i][1])
                        rc = cli_usage_error("session", "unknown option '%s' for session %s", argv[i], sub);
                else
                        args[n++] = argv[i];
        }
        if (rc < 0 && sub[0] == 'l' && n)
                rc = cli_usage_error("session", "session ls takes no argument, got '%s'", args[0]);
        if (rc < 0 && sub[0] == 'i' && n != 1)
                rc = cli_usage_error("session", "session inspect takes one SESSION");
        if (rc < 0 && sub[0] == 'r' && !n)
                rc = cli_usage_error("session", "session rm needs at least one SESSION");
        _cleanup_(cli_runtime_freep) nook_runtime *rt = NULL;
        if (rc < 0 && cli_open_runtime(&rt) < 0)
                rc = EXIT_NOOK;
        if (rc < 0)
                rc = sub[0] == 'l'   ? session_ls(rt, json)
                     : sub[0] == 'i' ? session_inspect(rt, args[0], json)
                                     : session_rm(rt, n, args, after);
        free(args);
        return rc;
}
