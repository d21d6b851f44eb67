/* nook CLI — the options `run`, `exec` and `session create` share, and the contract
 * requests they turn into: prepare_session, prepare_rootfs, prepare_environment,
 * start_process and cleanup (CONTRACT.md; the ext "nook" objects carry the flags).
 * JSON is only written here, never parsed: values the library must judge (a seccomp
 * profile file) are spliced in as they are and validated by the library. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "run.h"
#include "util/strbuf.h"

void cli_session_opts_done(cli_session_opts *s) {
        free(s->rootfs);
        s->rootfs = NULL;
}

void cli_process_opts_done(cli_process_opts *p) {
        cli_env_done(&p->env);
        free(p->seccomp_profile);
        p->seccomp_profile = NULL;
}

double cli_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

int cli_getopt_error(int c, char **argv, const struct option *longopts, const char *verb) {
        const char *opt = argv[optind - 1];
        if (c == ':')
                return cli_usage_error(verb, "option '%s' needs a value", opt);
        if (optopt && optopt < 0x100)
                return cli_usage_error(verb, "unknown option '-%c'", optopt);
        return cli_usage_error(verb, "unknown option '%s'", opt);
}

/* ---- options ---------------------------------------------------------------------------- */

static int opt_rootfs(const char *arg, cli_session_opts *s, const char *verb) {
        char *real = realpath(arg, NULL);
        struct stat st;
        if (!real || stat(real, &st) < 0) {
                int e = errno;
                free(real);
                return cli_usage_error(verb, "--rootfs %s: %s (the directory to use as the sandbox's root)", arg,
                                       strerror(e));
        }
        if (!S_ISDIR(st.st_mode)) {
                free(real);
                return cli_usage_error(verb,
                                       "--rootfs %s: not a directory (images arrive with the images stage; "
                                       "until then give an unpacked root directory)",
                                       arg);
        }
        free(s->rootfs);
        s->rootfs = real;
        return 0;
}

static bool hostname_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 64)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
                      *s == '.'))
                        return false;
        return true;
}

static int opt_memory(const char *arg, cli_session_opts *s, const char *verb) {
        uint64_t bytes = 0;
        if (strcmp(arg, "-1") == 0 || strcmp(arg, "0") == 0 || strcmp(arg, "unlimited") == 0) {
                s->memory_mb = CLI_UNLIMITED_MEMORY_MB;
                return 0;
        }
        int r = cli_parse_size(arg, &bytes);
        if (r < 0)
                return cli_usage_error(verb,
                                       "--memory '%s': expected a size such as 512m, 1g or 1.5g (k, m, g, t; "
                                       "a bare number is bytes), or -1 for no limit",
                                       arg);
        uint64_t mb = (bytes + (1u << 20) - 1) >> 20;
        if (mb < 1)
                return cli_usage_error(verb, "--memory '%s': at least 1m", arg);
        if (r == -ERANGE || mb > CLI_UNLIMITED_MEMORY_MB)
                return cli_usage_error(verb, "--memory '%s': at most 16t (or -1 for no limit)", arg);
        s->memory_mb = mb;
        return 0;
}

static int opt_pids(const char *arg, cli_session_opts *s, const char *verb) {
        char *end;
        errno = 0;
        long long n = strtoll(arg, &end, 10);
        if (errno || end == arg || *end || n < -1 || (unsigned long long)n > CLI_UNLIMITED_PIDS)
                return cli_usage_error(verb,
                                       "--pids-limit '%s': expected a number of processes from 1 to %llu (0 or "
                                       "-1 for no limit)",
                                       arg, CLI_UNLIMITED_PIDS);
        s->pids = n <= 0 ? CLI_UNLIMITED_PIDS : (uint64_t)n;
        return 0;
}

static int opt_cpus(const char *arg, cli_session_opts *s, const char *verb) {
        char *end;
        errno = 0;
        double v = strtod(arg, &end);
        if (errno || end == arg || *end || !(v >= 0.01 && v <= 1024))
                return cli_usage_error(verb,
                                       "--cpus '%s': expected a number of CPUs from 0.01 to 1024 (1.5 for one "
                                       "and a half)",
                                       arg);
        s->cpus = v;
        s->cpus_arg = arg;
        return 0;
}

int cli_session_opt(int c, const char *arg, cli_session_opts *s, const char *verb) {
        switch (c) {
        case OPT_NAME:
                if (!cli_name_valid(arg))
                        return cli_usage_error(verb,
                                               "--name '%s': a name is 1 to 64 letters, digits, '_', '.' and "
                                               "'-', starting with a letter or digit",
                                               arg);
                s->name = arg;
                return 0;
        case OPT_ROOTFS:
                return opt_rootfs(arg, s, verb);
        case OPT_ROOTFS_RW:
                s->rootfs_rw = true;
                return 0;
        case OPT_READ_ONLY:
                s->read_only = true;
                return 0;
        case OPT_NETWORK:
                if (strcmp(arg, "none") != 0 && strcmp(arg, "host") != 0)
                        return cli_usage_error(verb,
                                               "--network '%s': choose none (own network namespace with "
                                               "loopback only) or host (the host's network, a downgrade); "
                                               "userspace networking arrives with its own stage",
                                               arg);
                s->network = arg;
                return 0;
        case OPT_HOSTNAME:
                if (!hostname_valid(arg))
                        return cli_usage_error(verb,
                                               "--hostname '%s': a hostname is 1 to 64 letters, digits, '-' "
                                               "and '.'",
                                               arg);
                s->hostname = arg;
                return 0;
        case OPT_USERNS:
                if (strcmp(arg, "auto") != 0 && strcmp(arg, "root") != 0 && strcmp(arg, "keep-id") != 0 &&
                    strcmp(arg, "subuid") != 0)
                        return cli_usage_error(verb,
                                               "--userns '%s': choose root (you are root inside), keep-id "
                                               "(your own uid inside), subuid (needs /etc/subuid) or auto "
                                               "(subuid when usable, else root); nook always uses a user "
                                               "namespace",
                                               arg);
                s->userns = arg;
                return 0;
        case OPT_MEMORY:
                return opt_memory(arg, s, verb);
        case OPT_PIDS_LIMIT:
                return opt_pids(arg, s, verb);
        case OPT_CPUS:
                return opt_cpus(arg, s, verb);
        }
        return 1;
}

static int opt_seccomp(const char *arg, cli_process_opts *p, const char *verb) {
        if (strcmp(arg, "unconfined") == 0) {
                p->seccomp_arg = arg;
                return 0;
        }
        _cleanup_free_ char *text = NULL;
        int r = cli_read_file(arg, 1u << 20, &text, NULL);
        if (r < 0)
                return cli_usage_error(verb,
                                       "--security-opt seccomp=%s: %s (give unconfined, or an OCI seccomp "
                                       "profile JSON file)",
                                       arg,
                                       r == -EFBIG     ? "larger than 1 MiB"
                                       : r == -EBADMSG ? "holds a NUL byte"
                                                       : strerror(-r));
        /* The library parses it; asking it whether this is JSON at all gives the person a
         * message about the file before any sandbox is built. */
        const char *first = text + strspn(text, " \t\r\n");
        _cleanup_free_ char *whole = NULL;
        if (*first != '{' || nook_json_get(text, "", &whole) < 0)
                return cli_usage_error(verb,
                                       "--security-opt seccomp=%s: not a JSON object (an OCI seccomp profile, "
                                       "as podman and docker take)",
                                       arg);
        free(p->seccomp_profile);
        p->seccomp_profile = TAKE_PTR(text);
        p->seccomp_arg = arg;
        return 0;
}

static int opt_security(const char *arg, cli_process_opts *p, const char *verb) {
        if (strncmp(arg, "seccomp=", 8) == 0 && arg[8])
                return opt_seccomp(arg + 8, p, verb);
        /* always so in nook (SECURITY.md): accepted for podman habits */
        if (strcmp(arg, "no-new-privileges") == 0 || strcmp(arg, "no-new-privileges=true") == 0)
                return 0;
        return cli_usage_error(verb,
                               "--security-opt '%s': nook takes seccomp=unconfined, seccomp=FILE (an OCI "
                               "seccomp profile) or no-new-privileges (always on)",
                               arg);
}

int cli_process_opt(int c, const char *arg, cli_process_opts *p, const char *verb) {
        uint64_t ms;
        switch (c) {
        case 'd':
                p->detach = true;
                return 0;
        case 'i':
                p->interactive = true;
                return 0;
        case 't':
                p->tty = true;
                return 0;
        case 'e':
                return cli_env_add(&p->env, arg, verb, "-e") < 0 ? EXIT_NOOK : 0;
        case OPT_ENV_FILE:
                return cli_env_file(&p->env, arg, verb) < 0 ? EXIT_NOOK : 0;
        case 'w':
                if (arg[0] != '/')
                        return cli_usage_error(verb, "--workdir '%s': give an absolute path inside the sandbox", arg);
                p->workdir = arg;
                return 0;
        case 'u':
                if (!*arg)
                        return cli_usage_error(verb, "--user needs USER[:GROUP] or UID[:GID]");
                p->user = arg;
                return 0;
        case OPT_TIMEOUT:
                if (cli_parse_duration(arg, &ms) < 0)
                        return cli_usage_error(verb,
                                               "--timeout '%s': expected a duration such as 30s, 500ms, 2m or "
                                               "1h30m (a bare number is seconds; 0 for none)",
                                               arg);
                if (ms > CLI_MAX_TIMEOUT_MS)
                        return cli_usage_error(verb, "--timeout '%s': at most 31 days (744h)", arg);
                p->timeout_ms = ms;
                return 0;
        case OPT_SECURITY_OPT:
                return opt_security(arg, p, verb);
        case OPT_JSON:
                p->json = true;
                return 0;
        case OPT_VERBOSE:
                p->verbose = true;
                return 0;
        }
        return 1;
}

/* ---- requests ---------------------------------------------------------------------------- */

static void put_environment(nook_strbuf *b, const char *env_id, const cli_session_opts *s, uint64_t timeout_ms) {
        nook_strbuf_puts(b, "{\"environment_id\":");
        nook_strbuf_json_string(b, env_id);
        nook_strbuf_printf(b,
                           ",\"spec\":{\"resources\":{\"cpus\":%g,\"memory_mb\":%llu,\"timeout_ms\":%llu,"
                           "\"process_count\":%llu},\"filesystem\":{\"root\":\"%s\"}}}",
                           s ? s->cpus : 1.0, (unsigned long long)(s ? s->memory_mb : CLI_UNLIMITED_MEMORY_MB),
                           (unsigned long long)(timeout_ms ? timeout_ms : CLI_MAX_TIMEOUT_MS),
                           (unsigned long long)(s ? s->pids : CLI_UNLIMITED_PIDS),
                           s && s->read_only ? "read_only" : "writable_layer");
}

static int call(nook_runtime *rt, const char *method, nook_strbuf *req, bool verbose, char **ret, nook_error **err) {
        _cleanup_free_ char *text = nook_strbuf_steal(req);
        if (!text) {
                fputs("nook: out of memory\n", stderr);
                return -ENOMEM;
        }
        double t0 = verbose ? cli_now_ms() : 0;
        int r = nook_runtime_call(rt, method, text, ret, err);
        if (verbose)
                fprintf(stderr, "nook: %-19s %7.1f ms%s\n", method, cli_now_ms() - t0, r < 0 ? " (failed)" : "");
        return r;
}

/* A hint for the error people meet first with a root directory they unpacked themselves. */
static void hint_ownership(const nook_error *err, const cli_session_opts *s) {
        if (nook_error_get_errno(err) != EOVERFLOW)
                return;
        fprintf(stderr,
                "hint: files of %s are owned by a user or group this session does not map (the root and keep-id "
                "identities map only your own uid and gid): 'chown -R %u:%u %s', or --userns subuid when the "
                "owners are in your /etc/subuid range\n",
                s->rootfs, (unsigned)getuid(), (unsigned)getgid(), s->rootfs);
}

static void req_prepare_session(nook_strbuf *b, const char *env_id, const cli_session_opts *s, bool owned) {
        nook_strbuf_puts(b, "{\"environment\":");
        put_environment(b, env_id, s, 0);
        nook_strbuf_printf(b, ",\"nook\":{\"identity\":\"%s\",\"network\":\"%s\"", s->userns, s->network);
        if (s->hostname) {
                nook_strbuf_puts(b, ",\"hostname\":");
                nook_strbuf_json_string(b, s->hostname);
        }
        if (s->name) {
                nook_strbuf_puts(b, ",\"name\":");
                nook_strbuf_json_string(b, s->name);
        }
        nook_strbuf_printf(b, ",\"owned_by_caller\":%s}}", owned ? "true" : "false");
}

static void req_prepare_rootfs(nook_strbuf *b, const char *env_id, const cli_session_opts *s) {
        nook_strbuf_printf(b,
                           "{\"rootfs\":{\"rootfs_ref\":\"%s\",\"read_only\":%s},\"environment_id\":", CLI_ROOTFS_ALIAS,
                           s->read_only ? "true" : "false");
        nook_strbuf_json_string(b, env_id);
        nook_strbuf_printf(b, ",\"nook\":{\"rootfs_rw\":%s}}", s->rootfs_rw ? "true" : "false");
}

static void req_prepare_environment(nook_strbuf *b, const char *env_id, const cli_session_opts *s) {
        nook_strbuf_puts(b, "{\"environment\":");
        put_environment(b, env_id, s, 0);
        nook_strbuf_puts(b, "}");
}

int cli_session_up(nook_runtime *rt, const char *env_id, const cli_session_opts *s, bool owned_by_caller, int sigfd,
                   bool verbose) {
        static const char *const methods[] = { "prepare_session", "prepare_rootfs", "prepare_environment" };
        for (size_t i = 0; i < ELEMENTSOF(methods); i++) {
                nook_strbuf b = NOOK_STRBUF_INIT;
                if (i == 0)
                        req_prepare_session(&b, env_id, s, owned_by_caller);
                else if (i == 1)
                        req_prepare_rootfs(&b, env_id, s);
                else
                        req_prepare_environment(&b, env_id, s);
                _cleanup_free_ char *out = NULL;
                _cleanup_(cli_error_freep) nook_error *err = NULL;
                if (call(rt, methods[i], &b, verbose, &out, &err) < 0) {
                        if (!err)
                                return EXIT_NOOK;
                        int rc = cli_report(err);
                        hint_ownership(err, s);
                        return rc;
                }
                /* a signal that came meanwhile stops here: the caller removes the session */
                int sig = cli_signal_take(sigfd);
                if (sig)
                        return 128 + sig;
        }
        return 0;
}

int cli_session_down(nook_runtime *rt, const char *env_id, const char *plan_ref, bool verbose) {
        nook_strbuf b = NOOK_STRBUF_INIT;
        nook_strbuf_puts(&b, "{\"environment\":{\"environment_id\":");
        nook_strbuf_json_string(&b, env_id);
        nook_strbuf_printf(&b, ",\"spec\":{}},\"cleanup_plan_ref\":\"%s\"}", plan_ref);
        _cleanup_free_ char *out = NULL;
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        if (call(rt, "cleanup", &b, verbose, &out, &err) < 0) {
                cli_report(err);
                fprintf(stderr, "hint: run 'nook session rm %s' to try again, or 'nook gc'\n", env_id);
                return EXIT_NOOK;
        }
        _cleanup_free_ char *status = cli_json_get(out, "/status");
        if (status && strcmp(status, "completed") == 0)
                return 0;
        _cleanup_free_ char *summary = cli_json_get(out, "/redacted_summary");
        fprintf(stderr, "nook: session %s was not removed completely (%s): %s\n", env_id, status ? status : "?",
                summary ? summary : "no details");
        fprintf(stderr, "hint: run 'nook session rm %s' to try again\n", env_id);
        return EXIT_NOOK;
}

static void put_process(nook_strbuf *b, const cli_process_opts *p, const char *process_id) {
        nook_strbuf_puts(b, "{\"process_id\":");
        nook_strbuf_json_string(b, process_id);
        nook_strbuf_puts(b, ",\"argv\":[");
        for (size_t i = 0; i < p->argc; i++) {
                if (i)
                        nook_strbuf_puts(b, ",");
                nook_strbuf_json_string(b, p->argv[i]);
        }
        nook_strbuf_puts(b, "]");
        if (p->workdir) {
                nook_strbuf_puts(b, ",\"cwd\":");
                nook_strbuf_json_string(b, p->workdir);
        }
        if (p->user) {
                nook_strbuf_puts(b, ",\"user\":");
                nook_strbuf_json_string(b, p->user);
        }
        nook_strbuf_printf(b, ",\"terminal_mode\":\"%s\",\"timeout_ms\":%llu", p->tty ? "pty" : "pipe",
                           (unsigned long long)(p->timeout_ms ? p->timeout_ms : CLI_MAX_TIMEOUT_MS));
        if (p->env.n) {
                nook_strbuf_puts(b, ",\"env_values\":{");
                for (size_t i = 0; i < p->env.n; i++) {
                        if (i)
                                nook_strbuf_puts(b, ",");
                        nook_strbuf_json_string(b, p->env.names[i]);
                        nook_strbuf_puts(b, ":");
                        nook_strbuf_json_string(b, p->env.values[i]);
                }
                nook_strbuf_puts(b, "}");
        }
        nook_strbuf_printf(b, ",\"nook\":{\"stdin_open\":%s", p->interactive ? "true" : "false");
        unsigned rows, cols;
        if (p->tty && cli_tty_size(&rows, &cols))
                nook_strbuf_printf(b, ",\"tty_rows\":%u,\"tty_cols\":%u", rows, cols);
        if (p->seccomp_profile) {
                nook_strbuf_puts(b, ",\"seccomp\":");
                nook_strbuf_puts(b, p->seccomp_profile);
        } else if (p->seccomp_arg)
                nook_strbuf_puts(b, ",\"seccomp\":\"unconfined\"");
        nook_strbuf_puts(b, "}}");
}

/* podman's codes: 127 the command was not found, 126 it could not be executed. */
static int start_failure(const nook_error *err, const cli_process_opts *p, const char *env_id) {
        const char *msg = nook_error_get_message(err);
        const char *ptr = nook_error_get_pointer(err);
        bool lifecycle = nook_error_get_kind(err) == NOOK_ERROR_CHILD_LIFECYCLE_FAILURE;
        if (p->seccomp_profile && ptr && strncmp(ptr, "/process/nook/seccomp", 21) == 0) {
                fprintf(stderr, "nook: --security-opt seccomp=%s: %s\n", p->seccomp_arg, msg);
                return EXIT_NOOK;
        }
        cli_report(err);
        if (nook_error_get_kind(err) == NOOK_ERROR_RECOVERY_REPAIR_NEEDED)
                fprintf(stderr,
                        "hint: the session cannot run anything more: remove it with 'nook session rm %s' "
                        "(or 'nook gc')\n",
                        env_id);
        if (lifecycle && nook_error_get_errno(err) == ENOENT && strstr(msg, "not found"))
                return 127;
        if (lifecycle && strstr(msg, "cannot execute"))
                return 126;
        return EXIT_NOOK;
}

int cli_start(nook_runtime *rt, const char *env_id, const cli_session_opts *s, const cli_process_opts *p,
              const char *process_id, const char *effect_id, char **ret_ref, char **ret_summary) {
        nook_strbuf b = NOOK_STRBUF_INIT;
        nook_strbuf_puts(&b, "{\"environment\":");
        put_environment(&b, env_id, s, p->timeout_ms);
        nook_strbuf_puts(&b, ",\"process\":");
        put_process(&b, p, process_id);
        nook_strbuf_puts(&b, ",\"effect_intent\":{\"effect_id\":");
        nook_strbuf_json_string(&b, effect_id);
        nook_strbuf_puts(&b, "}}");
        _cleanup_free_ char *out = NULL;
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        if (call(rt, "start_process", &b, p->verbose, &out, &err) < 0)
                return err ? start_failure(err, p, env_id) : EXIT_NOOK;
        char *ref = cli_json_get(out, "/process_ref");
        if (!ref) {
                fputs("nook: start_process returned no process_ref\n", stderr);
                return EXIT_NOOK;
        }
        *ret_ref = ref;
        if (ret_summary)
                *ret_summary = cli_json_get(out, "/redacted_summary");
        return 0;
}
