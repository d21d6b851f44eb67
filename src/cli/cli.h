/* nook CLI — shared declarations of the verbs and the output helpers.  The CLI is a
 * client of the public API only (include/nook/). */
#ifndef NOOK_CLI_H
#define NOOK_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include <jansson.h>

#include "nook/nook.h"
#include "util/macro.h"

#define EXIT_NOOK 125 /* nook's own error, as podman's 125 */

/* Global options (set by main before a verb runs). */
extern const char *arg_storage;
/* --alias NAME=PATH entries (PATH made real), given to every nook_runtime_open. */
extern char **arg_aliases;
extern size_t arg_n_aliases;
/* true when --alias gave NAME. */
bool cli_alias_given(const char *name);

/* The real path of a host path the person typed (relative to the cwd), resolved as the
 * library and the holder resolve mount sources (no symlink a sandbox could swap, S31);
 * NULL with errno set.  *st: what it names.  cli_host_path_error(errno) says why not. */
char *cli_host_real_path(const char *path, struct stat *st);
const char *cli_host_path_error(int e);

typedef struct cli_verb {
        const char *name;
        const char *summary;
        int (*run)(int argc, char **argv);
        void (*help)(FILE *f);
} cli_verb;

int cmd_caps(int argc, char **argv);
void help_caps(FILE *f);
int cmd_call(int argc, char **argv);
void help_call(FILE *f);
int cmd_attach(int argc, char **argv);
void help_attach(FILE *f);
int cmd_cp(int argc, char **argv);
void help_cp(FILE *f);
int cmd_load(int argc, char **argv);
void help_load(FILE *f);
int cmd_save(int argc, char **argv);
void help_save(FILE *f);
int cmd_journal(int argc, char **argv);
void help_journal(FILE *f);
int cmd_run(int argc, char **argv);
void help_run(FILE *f);
int cmd_exec(int argc, char **argv);
void help_exec(FILE *f);
int cmd_session(int argc, char **argv);
void help_session(FILE *f);
int cmd_ps(int argc, char **argv);
void help_ps(FILE *f);
int cmd_logs(int argc, char **argv);
void help_logs(FILE *f);
int cmd_kill(int argc, char **argv);
void help_kill(FILE *f);
int cmd_stats(int argc, char **argv);
void help_stats(FILE *f);
int cmd_image(int argc, char **argv);
void help_image(FILE *f);
int cmd_images(int argc, char **argv);
void help_images(FILE *f);
int cmd_gc(int argc, char **argv);
void help_gc(FILE *f);
int cmd_serve(int argc, char **argv);
void help_serve(FILE *f);
int cmd_secret(int argc, char **argv);
void help_secret(FILE *f);
/* podman's verbs (cmd-container.c, cmd-top.c, cmd-podman.c) */
int cmd_stop(int argc, char **argv);
void help_stop(FILE *f);
int cmd_rm(int argc, char **argv);
void help_rm(FILE *f);
int cmd_wait(int argc, char **argv);
void help_wait(FILE *f);
int cmd_inspect(int argc, char **argv);
void help_inspect(FILE *f);
int cmd_top(int argc, char **argv);
void help_top(FILE *f);
int cmd_port(int argc, char **argv);
void help_port(FILE *f);
int cmd_rmi(int argc, char **argv);
void help_rmi(FILE *f);
int cmd_version(int argc, char **argv);
void help_version(FILE *f);
int cmd_info(int argc, char **argv);
void help_info(FILE *f);
/* An unknown verb: what nook uses instead (podman's verbs), or the nearest of verbs
 * for a typo, on stderr; EXIT_NOOK. */
int cli_unknown_verb(const char *name, const char *const *verbs, size_t n);

static inline void cli_error_freep(nook_error **e) {
        nook_error_free(*e);
}
static inline void cli_runtime_freep(nook_runtime **rt) {
        nook_runtime_free(*rt);
}

/* Opens the runtime with the global options; on failure reports and returns -1. */
int cli_open_runtime(nook_runtime **ret);
/* The same with NULL-terminated "NAME=PATH" aliases added (to those of --alias). */
/* --secret-source REF=SOURCE (global) and --secret ...,src=SOURCE: "REF=SOURCE" entries
 * for nook_options.secret_sources (secretopts.c). */
extern char **arg_secret_sources;
extern size_t arg_n_secret_sources;
int cli_opt_secret_source(const char *arg);
int cli_open_runtime_aliases(const char *const *aliases, nook_runtime **ret);
/* The value at JSON pointer `pointer` of a result, newly allocated; NULL when absent. */
char *cli_json_get(const char *json, const char *pointer);
/* The JSON the CLI writes (requests, --json output) is built with jansson.  s as a JSON
 * string: bytes that are not UTF-8 become U+FFFD, as nook_strbuf_json_string does (a file
 * name typed in another encoding), since jansson refuses them.  NULL on ENOMEM. */
json_t *cli_json_str(const char *s);
/* cli_json_str(s), or JSON null when s is NULL. */
json_t *cli_json_str_or_null(const char *s);
/* The compact text of v (one line, keys in the order they were set); v is released.
 * NULL on ENOMEM, v NULL included. */
char *cli_json_text(json_t *v);
/* Prints cli_json_text(v) and a newline on stdout; 0, or EXIT_NOOK after reporting. */
int cli_json_print(json_t *v);
/* "3s ago", "2m ago", ... for a wall-clock time in ms; "-" for 0. */
void cli_format_ago(long long ms, char *buf, size_t size);
/* Prints "nook: <message>" (and "hint: ...") on stderr; returns EXIT_NOOK. */
int cli_report(const nook_error *err);
int cli_send_signal(nook_runtime *rt, const char *ref, const char *sig, uint64_t grace_ms, char **out);
/* Prints "nook: <formatted>" and a pointer to --help on stderr; returns EXIT_NOOK. */
int cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* true when argv[i] is -h or --help. */
bool cli_is_help(const char *arg);
/* ✓ / ✗ on UTF-8 terminals, "ok" / "NO" elsewhere. */
const char *cli_mark(bool ok);
bool cli_color(FILE *f);

/* ---- args.c: option values ---- */

/* "30s", "500ms", "2m", "1h30m", "1.5s"; a bare number is seconds.  -EINVAL, -ERANGE. */
int cli_parse_duration(const char *s, uint64_t *ret_ms);
/* "512m", "1g", "1.5GiB", "4096k"; a bare number is bytes.  -EINVAL, -ERANGE. */
int cli_parse_size(const char *s, uint64_t *ret_bytes);
void cli_format_duration(uint64_t ms, char *buf, size_t size);
void cli_format_bytes(uint64_t bytes, char *buf, size_t size);
/* A session name: [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 64 bytes. */
bool cli_name_valid(const char *s);
/* Reads a whole text file of at most max bytes (-EFBIG beyond, -EBADMSG with a NUL). */
int cli_read_file(const char *path, size_t max, char **ret, size_t *ret_len);

/* Environment variables for a process, in order, one value per name. */
typedef struct cli_env {
        char **names;
        char **values;
        size_t n;
} cli_env;
/* "NAME=VALUE" or "NAME" (copied from our environment when set); `where` names the
 * option in errors.  Reports usage errors itself. */
int cli_env_add(cli_env *e, const char *arg, const char *verb, const char *where);
int cli_env_file(cli_env *e, const char *path, const char *verb);
void cli_env_done(cli_env *e);

#endif
