/* nook fuzz — the CLI's option parsers (src/cli/spec.c, args.c: -v, --tmpfs, --mount,
 * --workspace, --env-file, -e, limits...) and the requests they build.  The CLI sources
 * but main.c are linked in; nook_runtime_call is wrapped (-Wl,--wrap), so the requests of
 * `nook run` reach the library's codec and never a sandbox.  Input: options separated by
 * "\x1e", each a byte choosing the option and its value (file contents for --env-file
 * and seccomp=FILE).  Oracles: every request is JSON, and carries the mounts, the
 * environment and the argv as the options gave them (bytes that are not UTF-8 become
 * U+FFFD, as strbuf.c says and cli_json_str does). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/codec.h"
#include "fuzz-common.h"
#include "run.h"
#include "util/error.h"
#include "util/strbuf.h"

/* main.c's globals (the --storage and --alias options) */
const char *arg_storage = NULL;
char **arg_aliases = NULL;
size_t arg_n_aliases = 0;

enum { OPT_X_SECCOMP_FILE = 0x1000, OPT_X_ARGV, OPT_X_IMAGE, OPT_X_FLAG_I, OPT_X_FLAG_T };

static const int options[] = {
        'v',
        OPT_TMPFS,
        OPT_MOUNT,
        OPT_WORKSPACE,
        OPT_WORKSPACE_DEST,
        OPT_DENY_SINGLE_FILE,
        OPT_NAME,
        OPT_ROOTFS,
        OPT_ROOTFS_RW,
        OPT_ROOTFS_DRIVER,
        OPT_KEEP_UPPER,
        OPT_READ_ONLY,
        OPT_NETWORK,
        OPT_HOSTNAME,
        OPT_USERNS,
        OPT_MEMORY,
        OPT_PIDS_LIMIT,
        OPT_CPUS,
        'e',
        OPT_ENV_FILE,
        'w',
        'u',
        OPT_TIMEOUT,
        OPT_SECURITY_OPT,
        OPT_X_ARGV,
        OPT_X_SECCOMP_FILE,
        OPT_X_IMAGE,
        OPT_X_FLAG_I,
        OPT_X_FLAG_T,
};

/* What the options said, for the wrapper's oracles. */
static const cli_session_opts *cur_s;
static const cli_process_opts *cur_p;

int __real_nook_runtime_call(nook_runtime *rt, const char *method, const char *request_json, char **ret_result_json,
                             nook_error **err);
int __wrap_nook_runtime_call(nook_runtime *rt, const char *method, const char *request_json, char **ret_result_json,
                             nook_error **err);

static const char *str_at(json_t *doc, const char *path) {
        json_t *v = json_object_get(doc, path);
        return json_string_value(v);
}

/* A value as JSON text carries it: nook_strbuf_json_string turns bytes that are not
 * UTF-8 into U+FFFD (as Go's encoding/json does for podman); all else stays as given. */
static bool same_text(const char *got, const char *given) {
        if (!got)
                return false;
        nook_strbuf b = NOOK_STRBUF_INIT;
        nook_strbuf_json_string(&b, given);
        char *enc = nook_strbuf_steal(&b);
        json_t *v = enc ? json_loads(enc, JSON_DECODE_ANY, NULL) : NULL;
        FUZZ_CHECK(json_is_string(v), "nook_strbuf_json_string wrote no JSON string: %s", enc ? enc : "(null)");
        bool same = strcmp(got, json_string_value(v)) == 0;
        json_decref(v);
        free(enc);
        return same;
}

/* The mounts of the request's environment are the options' mounts, in order. */
static void check_mounts(const char *method, json_t *env) {
        json_t *mounts = json_object_get(json_object_get(json_object_get(env, "spec"), "filesystem"), "mounts");
        FUZZ_CHECK(json_array_size(mounts) == cur_s->n_mounts, "%s: %zu mounts in the request, %zu given", method,
                   json_array_size(mounts), cur_s->n_mounts);
        for (size_t i = 0; i < cur_s->n_mounts; i++) {
                json_t *m = json_array_get(mounts, i);
                const cli_mount *c = &cur_s->mounts[i];
                const char *dest = str_at(m, "destination_path"), *ref = str_at(m, "mount_ref");
                FUZZ_CHECK(same_text(dest, c->dest), "%s: mount %zu's destination changed: %s -> %s", method, i,
                           c->dest, dest ? dest : "(none)");
                FUZZ_CHECK(same_text(ref, c->ref), "%s: mount %zu's ref changed", method, i);
                const char *alias = str_at(m, "source_alias");
                FUZZ_CHECK(!c->alias == !alias && (!alias || same_text(alias, c->alias)),
                           "%s: mount %zu's source changed", method, i);
        }
}

/* argv and the environment of start_process are the options', byte for byte. */
static void check_process(json_t *proc) {
        json_t *argv = json_object_get(proc, "argv"), *env = json_object_get(proc, "env_values");
        FUZZ_CHECK(json_array_size(argv) == cur_p->argc, "start_process: argv has %zu words, %zu given",
                   json_array_size(argv), cur_p->argc);
        for (size_t i = 0; i < cur_p->argc; i++) {
                const char *w = json_string_value(json_array_get(argv, i));
                FUZZ_CHECK(same_text(w, cur_p->argv[i]), "start_process: argv[%zu] changed", i);
        }
        FUZZ_CHECK(json_object_size(env) == cur_p->env.n, "start_process: %zu variables in the request, %zu given",
                   json_object_size(env), cur_p->env.n);
        for (size_t i = 0; i < cur_p->env.n; i++) {
                const char *v = json_string_value(json_object_get(env, cur_p->env.names[i]));
                FUZZ_CHECK(same_text(v, cur_p->env.values[i]), "start_process: the value of %s changed",
                           cur_p->env.names[i]);
        }
}

static const char *canned_result(const char *method) {
        if (strcmp(method, "resolve_image") == 0)
                return "{\"digest\":\"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}";
        if (strcmp(method, "start_process") == 0)
                return "{\"process_ref\":\"p-fuzz\",\"redacted_summary\":\"fuzz\"}";
        if (strcmp(method, "cleanup") == 0)
                return "{\"status\":\"completed\"}";
        return "\"fuzz-ref\"";
}

int __wrap_nook_runtime_sessions(nook_runtime *rt, nook_session_visit_fn fn, void *userdata, nook_error **err);

/* The session list (run's downgrade lines read its notes): none, as no runtime is open. */
int __wrap_nook_runtime_sessions(nook_runtime *rt, nook_session_visit_fn fn, void *userdata, nook_error **err) {
        return 0;
}

int __wrap_nook_runtime_call(nook_runtime *rt, const char *method, const char *request_json, char **ret_result_json,
                             nook_error **err) {
        /* as strict as the library: the CLI writes no doubled key (a seccomp profile with
         * one is refused with the option) */
        json_t *doc = json_loads(request_json, JSON_REJECT_DUPLICATES, NULL);
        FUZZ_CHECK(doc, "the CLI wrote a %s request that is not JSON: %s", method, request_json);
        json_t *env = json_object_get(doc, "environment");
        if (env && cur_s && strcmp(method, "cleanup") != 0) /* cleanup names the environment alone */
                check_mounts(method, env);
        if (strcmp(method, "start_process") == 0)
                check_process(json_object_get(doc, "process"));
        json_decref(doc);
        const nook_method_info *m = nook_method_lookup(method);
        FUZZ_CHECK(m, "the CLI calls an unknown method %s", method);
        json_t *parsed = NULL;
        void *req = NULL;
        int r = nook_codec_parse_request(m, request_json, strlen(request_json), NOOK_MAX_REQUEST_BYTES, &parsed, &req,
                                         err);
        if (r < 0)
                return r; /* the library's own refusal reaches the CLI's error reporting */
        nook_codec_free_request(m, req);
        json_decref(parsed);
        *ret_result_json = strdup(canned_result(method));
        return *ret_result_json ? 0 : nook_error_oom(err);
}

/* A file in the scratch dir holding the part's bytes; its path. */
static const char *file_of(const fuzz_part *p, const char *name) {
        static char path[4200];
        snprintf(path, sizeof(path), "%s/%s", fuzz_workdir("cli"), name);
        int dfd = open(fuzz_workdir("cli"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        FUZZ_CHECK(dfd >= 0 && fuzz_write_file(dfd, name, p->data, p->size) == 0, "writing %s", path);
        close(dfd);
        return path;
}

typedef struct run_opts {
        cli_session_opts s;
        cli_process_opts p;
        char *argv[16];
        char *values[64]; /* option values: the options keep pointers into them */
        size_t n_values;
        char seccomp_arg[4300];
} run_opts;

/* One option: 0 handled, else the CLI's exit code for a usage error. */
static int one_option(run_opts *o, const fuzz_part *p) {
        int code = options[p->data[0] % ELEMENTSOF(options)];
        fuzz_part rest = { p->data + 1, p->size - 1 };
        char *v = o->values[o->n_values++] = fuzz_strdup_part(&rest);
        switch (code) {
        case OPT_ENV_FILE:
                return cli_process_opt(code, file_of(&rest, "env-file"), &o->p, "run");
        case OPT_X_SECCOMP_FILE:
                snprintf(o->seccomp_arg, sizeof(o->seccomp_arg), "seccomp=%s", file_of(&rest, "seccomp.json"));
                return cli_process_opt(OPT_SECURITY_OPT, o->seccomp_arg, &o->p, "run");
        case OPT_X_ARGV:
                if (o->p.argc + 1 < ELEMENTSOF(o->argv))
                        o->argv[o->p.argc++] = v;
                return 0;
        case OPT_X_IMAGE:
                o->s.image = v;
                return 0;
        case OPT_X_FLAG_I:
                return cli_process_opt('i', v, &o->p, "run");
        case OPT_X_FLAG_T:
                return cli_process_opt('t', v, &o->p, "run");
        }
        int r = cli_session_opt(code, v, &o->s, "run");
        return r == 1 ? cli_process_opt(code, v, &o->p, "run") : r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static bool once;
        if (!once) {
                fuzz_quiet_stderr();
                setenv("HOME", fuzz_workdir("cli"), 1);
                once = true;
        }
        fuzz_part parts[48];
        size_t n = fuzz_split(data, size, "\x1e", parts, ELEMENTSOF(parts));
        run_opts *o = calloc(1, sizeof(*o));
        FUZZ_CHECK(o, "out of memory");
        o->s = (cli_session_opts)CLI_SESSION_OPTS_INIT;
        o->p.argv = o->argv;
        int rc = 0;
        for (size_t i = 0; rc == 0 && i < n && o->n_values < ELEMENTSOF(o->values); i++)
                if (parts[i].size > 0)
                        rc = one_option(o, &parts[i]);
        if (rc == 0 && o->p.argc == 0)
                o->argv[o->p.argc++] = "true";
        if (rc == 0 && o->s.rootfs) /* IMAGE or --rootfs DIR, as cmd-run.c takes them */
                o->s.image = NULL;
        else if (rc == 0 && !o->s.image)
                o->s.image = "busybox";
        if (rc == 0)
                rc = cli_session_check(&o->s, "run") || cli_root_check(&o->s, "run");
        if (rc == 0) {
                cur_s = &o->s;
                cur_p = &o->p;
                nook_runtime *rt = NULL; /* never used: the wrapper answers */
                char *ref = NULL, *summary = NULL, *cpus = NULL;
                if (cli_session_up(rt, "env.fuzz", &o->s, true, -1, false) == 0 &&
                    cli_start(rt, "env.fuzz", &o->s, &o->p, "proc.fuzz", "effect.fuzz", &ref, &summary, &cpus) == 0)
                        FUZZ_CHECK(ref && strcmp(ref, "p-fuzz") == 0, "start_process's ref got lost");
                (void)cli_session_down(rt, "env.fuzz", "plan.fuzz", false);
                free(ref);
                free(summary);
                free(cpus);
                cur_s = NULL;
                cur_p = NULL;
        }
        cli_session_opts_done(&o->s);
        cli_process_opts_done(&o->p);
        for (size_t i = 0; i < o->n_values; i++)
                free(o->values[i]);
        free(o);
        return 0;
}
