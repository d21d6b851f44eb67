/* nook CLI — `nook caps`: one screen telling a person whether this machine can run
 * rootless sandboxes, what is missing and the command that fixes each gap; --json
 * prints the contract's IsolationCapabilityReport for programs. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void help_caps(FILE *f) {
        fputs("Usage: nook caps [--json]\n"
              "\n"
              "Probes this machine, as the current user, for everything nook needs: user\n"
              "namespaces, overlay filesystems, FUSE, userspace networking, seccomp, nftables,\n"
              "cgroup delegation, subordinate ids, nesting inside another container, and the\n"
              "run and data directories. Every finding is measured in throwaway namespaces;\n"
              "nothing is left behind. Each gap comes with the command or setting that fixes it,\n"
              "runnable as printed (see docs/troubleshooting.md). The verdict: cannot run when\n"
              "a required finding fails (every session would be refused), degraded when any\n"
              "other finding that takes something from sessions fails, healthy otherwise.\n"
              "\n"
              "Options:\n"
              "  --json      print the IsolationCapabilityReport JSON (same as\n"
              "              'echo {} | nook call capability_report')\n"
              "  -h, --help  print this help\n",
              f);
}

static int caps_json(nook_runtime *rt) {
        char *out = NULL;
        nook_error *err = NULL;
        if (nook_runtime_call(rt, "capability_report", "{}", &out, &err) < 0) {
                int rc = cli_report(err);
                nook_error_free(err);
                return rc;
        }
        printf("%s\n", out);
        free(out);
        return 0;
}

static void print_verdict(const nook_caps *c, bool color) {
        const char *reason = nook_caps_health_reason(c);
        const char *on = "", *off = color ? "\033[0m" : "";
        switch (nook_caps_health(c)) {
        case NOOK_HEALTH_HEALTHY:
                on = color ? "\033[1;32m" : "";
                printf("%s%s This machine can run rootless sandboxes.%s\n", on, cli_mark(true), off);
                break;
        case NOOK_HEALTH_DEGRADED:
                on = color ? "\033[1;33m" : "";
                printf("%s! This machine can run rootless sandboxes, degraded: %s%s\n", on, reason ? reason : "", off);
                break;
        case NOOK_HEALTH_UNSUPPORTED_HOST:
                on = color ? "\033[1;31m" : "";
                printf("%s%s This machine cannot run rootless sandboxes (%s).%s\n", on, cli_mark(false),
                       reason ? reason : "", off);
                break;
        }
}

static int caps_human(nook_runtime *rt) {
        nook_caps *c = NULL;
        nook_error *err = NULL;
        if (nook_runtime_probe(rt, &c, &err) < 0) {
                int rc = cli_report(err);
                nook_error_free(err);
                return rc;
        }
        bool color = cli_color(stdout);
        print_verdict(c, color);
        putchar('\n');
        size_t gaps = 0, width = 0;
        for (size_t i = 0; i < nook_caps_count(c); i++)
                if (strlen(nook_caps_get(c, i)->title) > width)
                        width = strlen(nook_caps_get(c, i)->title);
        for (size_t i = 0; i < nook_caps_count(c); i++) {
                const nook_finding *f = nook_caps_get(c, i);
                const char *on = !color ? "" : f->ok ? "\033[32m" : f->required ? "\033[31m" : "\033[33m";
                printf("%s%s%s %-*s  %s\n", on, cli_mark(f->ok), color ? "\033[0m" : "", (int)width, f->title,
                       f->detail);
                if (!f->ok && f->remedy) {
                        printf("    fix: %s\n", f->remedy);
                        gaps++;
                }
        }
        putchar('\n');
        const char *const *caps = nook_caps_capabilities(c);
        printf("Contract capabilities delivered now:");
        size_t n = 0;
        for (; caps[n]; n++)
                printf(" %s", caps[n]);
        printf("%s\n", n ? "" : " none");
        printf("Data dir: %s\n", nook_runtime_data_dir(rt));
        if (gaps)
                printf("%zu finding%s can be fixed as shown; details: docs/troubleshooting.md\n", gaps,
                       gaps == 1 ? "" : "s");
        nook_caps_free(c);
        return 0;
}

int cmd_caps(int argc, char **argv) {
        bool json = false;
        for (int i = 1; i < argc; i++) {
                if (cli_is_help(argv[i])) {
                        help_caps(stdout);
                        return 0;
                } else if (strcmp(argv[i], "--json") == 0)
                        json = true;
                else
                        return cli_usage_error("caps", "unknown argument '%s'", argv[i]);
        }
        nook_runtime *rt = NULL;
        if (cli_open_runtime(&rt) < 0)
                return EXIT_NOOK;
        int rc = json ? caps_json(rt) : caps_human(rt);
        nook_runtime_free(rt);
        return rc;
}
