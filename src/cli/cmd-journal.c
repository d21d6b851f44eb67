/* nook CLI — `nook journal`: the audit log of every call (redacted), newest last;
 * `nook journal repair` moves a corrupt journal aside. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

void help_journal(FILE *f) {
        fputs("Usage: nook journal [--json] [--limit N]\n"
              "       nook journal repair\n"
              "\n"
              "Lists the journal: every call with its method, status (intent, done, failed,\n"
              "interrupted), idempotency key and environment. Requests and results are stored\n"
              "redacted: argv as a count, env as its names, secret values never.\n"
              "\n"
              "  --json      print the entries as a JSON array (with requests, results, errors)\n"
              "  --limit N   only the newest N entries (default 50; 0 for all)\n"
              "  repair      move a corrupt or unreadable journal aside (kept as\n"
              "              journal.db.corrupt-<time>) so that nook starts a new one\n"
              "  -h, --help  print this help\n",
              f);
}

static int print_entry(const nook_journal_entry *e, void *userdata) {
        char when[32] = "-";
        time_t t = (time_t)(e->started_ms / 1000);
        struct tm tm;
        if (localtime_r(&t, &tm))
                strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        printf("%-6lld %-19s %-20s %-11s %-24s %s\n", e->id, when, e->method, e->status,
               e->idempotency_key ? e->idempotency_key : "-", e->environment_id ? e->environment_id : "-");
        if (e->notes)
                printf("       note: %s\n", e->notes);
        return 0;
}

static int journal_repair(void) {
        nook_options o = NOOK_OPTIONS_INIT;
        o.data_dir = arg_storage;
        char *moved = NULL;
        nook_error *err = NULL;
        if (nook_journal_repair(&o, &moved, &err) < 0) {
                int rc = cli_report(err);
                nook_error_free(err);
                return rc;
        }
        if (moved)
                printf("The journal could not be read; it was moved to %s and a new one will be started.\n", moved);
        else
                printf("The journal is healthy; nothing to repair.\n");
        free(moved);
        return 0;
}

int cmd_journal(int argc, char **argv) {
        bool json = false;
        long limit = 50;
        for (int i = 1; i < argc; i++) {
                if (cli_is_help(argv[i])) {
                        help_journal(stdout);
                        return 0;
                } else if (strcmp(argv[i], "--json") == 0)
                        json = true;
                else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
                        char *end;
                        limit = strtol(argv[++i], &end, 10);
                        if (*end || limit < 0)
                                return cli_usage_error("journal", "--limit needs a number >= 0, got '%s'", argv[i]);
                } else if (strcmp(argv[i], "repair") == 0 && argc == 2)
                        return journal_repair();
                else
                        return cli_usage_error("journal", "unknown argument '%s'", argv[i]);
        }
        nook_runtime *rt = NULL;
        if (cli_open_runtime(&rt) < 0)
                return EXIT_NOOK;
        nook_error *err = NULL;
        int rc = 0, r;
        if (json) {
                char *out = NULL;
                r = nook_runtime_journal_list_json(rt, (size_t)limit, &out, &err);
                if (r >= 0)
                        printf("%s\n", out);
                free(out);
        } else {
                printf("%-6s %-19s %-20s %-11s %-24s %s\n", "ID", "STARTED", "METHOD", "STATUS", "KEY", "ENVIRONMENT");
                r = nook_runtime_journal_list(rt, (size_t)limit, print_entry, NULL, &err);
        }
        if (r < 0)
                rc = cli_report(err);
        nook_error_free(err);
        nook_runtime_free(rt);
        return rc;
}
