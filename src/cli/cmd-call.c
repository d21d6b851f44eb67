/* nook CLI — `nook call METHOD`: one contract call, request JSON on stdin (or
 * --request FILE), result JSON on stdout; on failure the AgentError JSON on stdout,
 * the message for people on stderr, exit 125 (CONTRACT.md "Protocol"). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void help_call(FILE *f) {
        fputs("Usage: nook call METHOD [--request FILE]\n"
              "\n"
              "Runs one call of the IsolationRuntime contract. The request is JSON, read from\n"
              "standard input (or FILE); the result JSON is written to standard output.\n"
              "On failure the AgentError JSON is written to standard output, a message for\n"
              "people to standard error, and the exit code is 125.\n"
              "\n"
              "Methods:\n",
              f);
        const char *const *m = nook_runtime_methods();
        for (size_t i = 0; m[i]; i++)
                fprintf(f, "  %s\n", m[i]);
        fputs("\n"
              "Options:\n"
              "  --request FILE  read the request from FILE instead of standard input\n"
              "  -h, --help      print this help\n"
              "\n"
              "Example:\n"
              "  echo '{}' | nook call capability_report\n"
              "\n"
              "Requests are limited to 4 MiB; see docs/protocol.md for every call's JSON.\n",
              f);
}

/* Reads the whole input; stores at most cap bytes but counts all of them, so that an
 * oversized request is reported with its real size. */
static int read_all(int fd, size_t cap, char **ret, size_t *ret_len) {
        size_t size = 0, alloc = 65536;
        char *buf = malloc(alloc + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                char chunk[65536];
                ssize_t n = read(fd, chunk, sizeof(chunk));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int e = errno;
                        free(buf);
                        return -e;
                }
                if (n == 0)
                        break;
                if (size < cap) {
                        size_t take = (size_t)n < cap - size ? (size_t)n : cap - size;
                        if (size + take > alloc) {
                                while (size + take > alloc)
                                        alloc *= 2;
                                char *nb = realloc(buf, alloc + 1);
                                if (!nb) {
                                        free(buf);
                                        return -ENOMEM;
                                }
                                buf = nb;
                        }
                        memcpy(buf + size, chunk, take);
                }
                size += (size_t)n;
        }
        buf[size < cap ? size : cap] = 0;
        *ret = buf;
        *ret_len = size;
        return 0;
}

int cmd_call(int argc, char **argv) {
        const char *method = NULL, *file = NULL;
        for (int i = 1; i < argc; i++) {
                if (cli_is_help(argv[i])) {
                        help_call(stdout);
                        return 0;
                } else if (strcmp(argv[i], "--request") == 0 && i + 1 < argc)
                        file = argv[++i];
                else if (strncmp(argv[i], "--request=", 10) == 0)
                        file = argv[i] + 10;
                else if (argv[i][0] == '-' && argv[i][1])
                        return cli_usage_error("call", "unknown option '%s'", argv[i]);
                else if (!method)
                        method = argv[i];
                else
                        return cli_usage_error("call", "unexpected argument '%s' (one METHOD only)", argv[i]);
        }
        if (!method)
                return cli_usage_error("call", "missing METHOD (for example: nook call capability_report)");

        int fd = STDIN_FILENO;
        if (file && strcmp(file, "-") != 0) {
                fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0) {
                        fprintf(stderr, "nook: cannot open request file %s: %s\n", file, strerror(errno));
                        return EXIT_NOOK;
                }
        } else if (isatty(fd))
                fputs("nook: reading the request JSON from the terminal; end it with Ctrl-D\n", stderr);
        char *req = NULL;
        size_t len = 0;
        int r = read_all(fd, NOOK_MAX_REQUEST_BYTES + 1, &req, &len);
        if (fd != STDIN_FILENO)
                close(fd);
        if (r < 0) {
                fprintf(stderr, "nook: reading the request: %s\n", strerror(-r));
                return EXIT_NOOK;
        }

        nook_runtime *rt = NULL;
        if (cli_open_runtime(&rt) < 0) {
                free(req);
                return EXIT_NOOK;
        }
        char *result = NULL;
        nook_error *err = NULL;
        /* An oversized request is passed with its real length; the library refuses it
         * before looking at the bytes, of which only the first cap were kept. */
        r = nook_runtime_call_buf(rt, method, req, len, &result, &err);
        int rc = 0;
        if (r < 0) {
                char *ej = nook_error_to_json(err);
                if (ej)
                        printf("%s\n", ej);
                free(ej);
                rc = cli_report(err);
        } else {
                printf("%s\n", result);
                /* a downgrade is never silent: the person at the terminal sees it too */
                const char *note = nook_runtime_last_note(rt);
                if (note)
                        fprintf(stderr, "nook: note: %s\n", note);
        }
        free(result);
        free(req);
        nook_error_free(err);
        nook_runtime_free(rt);
        if (fflush(stdout) != 0)
                return EXIT_NOOK;
        return rc;
}
