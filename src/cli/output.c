/* nook CLI — error reporting and small output helpers; the only place that prints
 * errors (the library never does). */
#include <langinfo.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

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
        nook_options o = NOOK_OPTIONS_INIT;
        o.data_dir = arg_storage;
        nook_error *err = NULL;
        if (nook_runtime_open(&o, ret, &err) < 0) {
                cli_report(err);
                nook_error_free(err);
                return -1;
        }
        return 0;
}
