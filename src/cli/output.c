/* nook CLI — error reporting and small output helpers; the only place that prints
 * errors (the library never does). */
#include <langinfo.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "util/clock.h"
#include "util/strbuf.h"

int cli_report(const nook_error *err) {
        fprintf(stderr, "nook: %s\n", nook_error_get_message(err));
        const char *hint = nook_error_get_hint(err);
        if (hint)
                fprintf(stderr, "hint: %s\n", hint);
        return EXIT_NOOK;
}

int cli_usage_error(const char *verb, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        fputs("nook: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        fprintf(stderr, "Run 'nook %s%s--help' for usage.\n", verb ? verb : "", verb ? " " : "");
        return EXIT_NOOK;
}

bool cli_is_help(const char *arg) {
        return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

static bool utf8(void) {
        const char *cs = nl_langinfo(CODESET);
        return cs && strcmp(cs, "UTF-8") == 0;
}

const char *cli_mark(bool ok) {
        if (utf8())
                return ok ? "✓" : "✗";
        return ok ? "ok" : "NO";
}

bool cli_color(FILE *f) {
        const char *term = getenv("TERM");
        return isatty(fileno(f)) && !getenv("NO_COLOR") && term && strcmp(term, "dumb") != 0;
}

int cli_open_runtime(nook_runtime **ret) {
        return cli_open_runtime_aliases(NULL, ret);
}

bool cli_alias_given(const char *name) {
        size_t n = strlen(name);
        for (size_t i = 0; i < arg_n_aliases; i++)
                if (strncmp(arg_aliases[i], name, n) == 0 && arg_aliases[i][n] == '=')
                        return true;
        return false;
}

int cli_open_runtime_aliases(const char *const *aliases, nook_runtime **ret) {
        size_t n = 0;
        while (aliases && aliases[n])
                n++;
        _cleanup_free_ const char **all = calloc(arg_n_aliases + n + 1, sizeof(char *));
        if (!all) {
                fputs("nook: out of memory\n", stderr);
                return -1;
        }
        for (size_t i = 0; i < arg_n_aliases; i++)
                all[i] = arg_aliases[i];
        for (size_t i = 0; i < n; i++)
                all[arg_n_aliases + i] = aliases[i];
        nook_options o = NOOK_OPTIONS_INIT;
        o.data_dir = arg_storage;
        o.aliases = arg_n_aliases + n ? all : NULL;
        o.secret_sources = (const char *const *)arg_secret_sources;
        nook_error *err = NULL;
        if (nook_runtime_open(&o, ret, &err) < 0) {
                cli_report(err);
                nook_error_free(err);
                return -1;
        }
        return 0;
}

char *cli_json_get(const char *json, const char *pointer) {
        char *v = NULL;
        return nook_json_get(json, pointer, &v) < 0 ? NULL : v;
}

/* Bytes that are not UTF-8 become U+FFFD (nook_utf8_fix), the rule of
 * nook_strbuf_json_string, so that the requests carry what they carried when the CLI
 * wrote them with it; jansson would refuse the whole string. */
json_t *cli_json_str(const char *s) {
        json_t *v = json_string(s);
        if (v)
                return v;
        _cleanup_free_ char *fixed = nook_utf8_fix(s);
        return fixed ? json_string(fixed) : NULL;
}
json_t *cli_json_str_or_null(const char *s) {
        return s ? cli_json_str(s) : json_null();
}

char *cli_json_text(json_t *v) {
        /* 15 digits give back any decimal a person types (--cpus 0.1 stays 0.1, not
         * jansson's default 17-digit 0.10000000000000001) */
        char *text = v ? json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
        json_decref(v);
        return text;
}

int cli_json_print(json_t *v) {
        _cleanup_free_ char *text = cli_json_text(v);
        if (!text) {
                fputs("nook: out of memory\n", stderr);
                return EXIT_NOOK;
        }
        printf("%s\n", text);
        return fflush(stdout) == 0 ? 0 : EXIT_NOOK;
}

void cli_format_ago(long long ms, char *buf, size_t size) {
        if (ms <= 0) {
                snprintf(buf, size, "-");
                return;
        }
        long long s = ((long long)nook_wall_ms() - ms) / 1000;
        if (s < 0)
                s = 0;
        if (s < 60)
                snprintf(buf, size, "%llds ago", s);
        else if (s < 3600)
                snprintf(buf, size, "%lldm ago", s / 60);
        else if (s < 86400)
                snprintf(buf, size, "%lldh ago", s / 3600);
        else
                snprintf(buf, size, "%lldd ago", s / 86400);
}
