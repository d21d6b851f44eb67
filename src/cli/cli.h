/* nook CLI — shared declarations of the verbs and the output helpers.  The CLI is a
 * client of the public API only (include/nook/). */
#ifndef NOOK_CLI_H
#define NOOK_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "nook/nook.h"

#define EXIT_NOOK 125 /* nook's own error, as podman's 125 */

/* Global options (set by main before a verb runs). */
extern const char *arg_storage;

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
int cmd_journal(int argc, char **argv);
void help_journal(FILE *f);

/* Opens the runtime with the global options; on failure reports and returns -1. */
int cli_open_runtime(nook_runtime **ret);
/* Prints "nook: <message>" (and "hint: ...") on stderr; returns EXIT_NOOK. */
int cli_report(const nook_error *err);
/* Prints "nook: <formatted>" and a pointer to --help on stderr; returns EXIT_NOOK. */
int cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* true when argv[i] is -h or --help. */
bool cli_is_help(const char *arg);
/* ✓ / ✗ on UTF-8 terminals, "ok" / "NO" elsewhere. */
const char *cli_mark(bool ok);
bool cli_color(FILE *f);

#endif
