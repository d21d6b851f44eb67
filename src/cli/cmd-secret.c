/* nook CLI — `nook secret create|ls|inspect|rm`: the named secret store (nook/secret.h),
 * values kept in the kernel's per-user keyring, never in a file.  A value is read into
 * locked memory (util/secmem.h), handed to the library, wiped; it is never printed. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util/secmem.h"

void help_secret(FILE *f) {
        fputs("Usage: nook secret create [--replace] [--env] NAME FILE|-|VAR\n"
              "       nook secret ls [--json] [-q]\n"
              "       nook secret inspect [--json] NAME...\n"
              "       nook secret rm NAME... | --all\n"
              "\n"
              "Named secrets, kept in memory only: in the kernel's keyring of your uid (one key\n"
              "per secret, readable only by processes that possess that keyring: not by a\n"
              "sandbox), never in a file; gone at reboot. NAME is 1 to 128 letters, digits,\n"
              "'.', '_' and '-', starting with a letter or digit.\n"
              "\n"
              "  create    store the bytes of FILE (as they are: a trailing newline is kept),\n"
              "            of stdin with '-', or with --env of the environment variable VAR;\n"
              "            1 to 32767 bytes; prints NAME. An existing NAME is refused unless\n"
              "            --replace is given\n"
              "  ls        NAME, SIZE (bytes), DRIVER (keyring), KEY (the key's serial);\n"
              "            -q: names only; --json: an array of objects\n"
              "  inspect   what is stored under each NAME, and where; never the value\n"
              "  rm        destroy each NAME's key (--all: every secret); prints each NAME\n"
              "\n"
              "Where keyctl is refused (docker's and podman's default seccomp profiles, nook's\n"
              "own sandboxes), every command says so: give values with --secret-source\n"
              "REF=file:PATH (a file on a tmpfs such as /dev/shm), REF=env:VAR or REF=fd:N.\n"
              "\n"
              "Examples:\n"
              "  printf %s \"$TOKEN\" | nook secret create api-token -\n"
              "  nook secret create --replace db-password ./db-password.txt\n"
              "  nook secret ls\n"
              "  nook secret rm api-token\n",
              f);
}

static void secrets_freep(nook_secrets **l) {
        nook_secrets_free(*l);
}
static void secret_info_freep(nook_secret_info **i) {
        nook_secret_info_free(*i);
}

/* ---- create ----------------------------------------------------------------------------- */

typedef struct value_buf {
        void *p; /* nook_secmem_alloc'd, of cap bytes */
        size_t len, cap;
} value_buf;

static void value_buf_done(value_buf *v) {
        nook_secmem_free(v->p, v->cap);
        *v = (value_buf){ 0 };
}

/* The value of `create`: the bytes of FILE, of stdin ("-"), or of our environment
 * variable VAR (--env).  0, or EXIT_NOOK after saying why (never quoting the value). */
static int read_value(const char *src, bool env, value_buf *v) {
        if (env) {
                const char *val = getenv(src);
                if (!val)
                        return cli_usage_error("secret", "secret create --env: the environment variable %s is not set",
                                               src);
                v->cap = strnlen(val, (size_t)NOOK_SECRET_VALUE_MAX + 1);
                if (!(v->p = nook_secmem_alloc(v->cap))) {
                        fputs("nook: out of memory\n", stderr);
                        return EXIT_NOOK;
                }
                v->len = v->cap;
                memcpy(v->p, val, v->len);
        } else {
                _cleanup_close_ int fd = -1;
                if (strcmp(src, "-") != 0 && (fd = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
                        fprintf(stderr, "nook: secret create: %s: %s\n", src, strerror(errno));
                        return EXIT_NOOK;
                }
                int in = fd >= 0 ? fd : STDIN_FILENO;
                const char *what = fd >= 0 ? src : "stdin";
                struct stat st;
                if (fstat(in, &st) < 0) {
                        fprintf(stderr, "nook: secret create: %s: %s\n", what, strerror(errno));
                        return EXIT_NOOK;
                }
                if (S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode))
                        return cli_usage_error("secret", "secret create: %s is a %s: give a file, or - for stdin", what,
                                               S_ISDIR(st.st_mode) ? "directory" : "block device");
                int r = nook_secmem_read_fd(in, NOOK_SECRET_VALUE_MAX, &v->p, &v->len, &v->cap);
                if (r == -EFBIG)
                        v->len = (size_t)NOOK_SECRET_VALUE_MAX + 1; /* said below */
                else if (r < 0) {
                        fprintf(stderr, "nook: secret create: reading %s: %s\n", what, strerror(-r));
                        return EXIT_NOOK;
                }
        }
        if (v->len > NOOK_SECRET_VALUE_MAX) {
                fprintf(stderr,
                        "nook: secret create: the value %s %s is more than %d bytes, the most a kernel key holds\n",
                        env                     ? "of variable"
                        : strcmp(src, "-") == 0 ? "on"
                                                : "in",
                        strcmp(src, "-") == 0 ? "stdin" : src, NOOK_SECRET_VALUE_MAX);
                return EXIT_NOOK;
        }
        return 0;
}

static int secret_create(int argc, char **argv) {
        static const struct option opts[] = { { "replace", no_argument, NULL, 'r' },
                                              { "env", optional_argument, NULL, 'e' },
                                              { "driver", required_argument, NULL, 'd' },
                                              { "help", no_argument, NULL, 'h' },
                                              {} };
        bool replace = false, env = false;
        optind = 1;
        opterr = 0;
        for (int c; (c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1;)
                switch (c) {
                case 'r':
                        replace = true;
                        break;
                case 'e': /* podman's --env=true */
                        if (optarg && strcmp(optarg, "true") != 0 && strcmp(optarg, "false") != 0)
                                return cli_usage_error("secret", "--env takes true or false, got '%s'", optarg);
                        env = !optarg || strcmp(optarg, "true") == 0;
                        break;
                case 'd':
                        if (strcmp(optarg, "keyring") != 0)
                                return cli_usage_error("secret",
                                                       "--driver %s: nook's only driver is keyring (memory only); "
                                                       "podman's file and pass drivers keep values on disk",
                                                       optarg);
                        break;
                case 'h':
                        help_secret(stdout);
                        return 0;
                default:
                        return cli_usage_error("secret", "unknown option '%s' of secret create", argv[optind - 1]);
                }
        if (argc - optind != 2)
                return cli_usage_error("secret", "secret create takes NAME and %s",
                                       env ? "the name of an environment variable" : "FILE (or - for stdin)");
        const char *name = argv[optind], *src = argv[optind + 1];
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        if (nook_secret_name_check(name, &err) < 0)
                return cli_report(err);
        _cleanup_(value_buf_done) value_buf v = { 0 };
        int rc = read_value(src, env, &v);
        if (rc)
                return rc;
        if (nook_secret_create(name, v.p, v.len, replace ? NOOK_SECRET_REPLACE : 0, NULL, &err) < 0)
                return cli_report(err);
        printf("%s\n", name);
        return fflush(stdout) == 0 ? 0 : EXIT_NOOK;
}

/* ---- ls and inspect --------------------------------------------------------------------- */

static json_t *json_secret(const nook_secret_info *s, bool full) {
        json_t *o = json_pack("{s:o,s:I,s:s,s:I}", "name", cli_json_str(s->name), "size", (json_int_t)s->size, "driver",
                              s->driver, "key", (json_int_t)s->key);
        if (!o || !full)
                return o;
        char perm[16], where[96];
        snprintf(perm, sizeof(perm), "%08x", s->permissions);
        snprintf(where, sizeof(where), "the kernel keyring of uid %u: memory only, gone at reboot", s->uid);
        int q = json_object_set_new(o, "uid", json_integer(s->uid));
        q |= json_object_set_new(o, "permissions", json_string(perm));
        q |= json_object_set_new(o, "possessor_only", json_boolean(s->permissions == NOOK_SECRET_PERM_POSSESSOR_ONLY));
        q |= json_object_set_new(o, "location", json_string(where));
        if (q) {
                json_decref(o);
                return NULL;
        }
        return o;
}

static int secret_ls(int argc, char **argv) {
        static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
                                              { "quiet", no_argument, NULL, 'q' },
                                              { "help", no_argument, NULL, 'h' },
                                              {} };
        bool json = false, quiet = false;
        optind = 1;
        opterr = 0;
        for (int c; (c = getopt_long(argc, argv, "qh", opts, NULL)) != -1;)
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 'q':
                        quiet = true;
                        break;
                case 'h':
                        help_secret(stdout);
                        return 0;
                default:
                        return cli_usage_error("secret", "unknown option '%s' of secret ls", argv[optind - 1]);
                }
        if (optind != argc)
                return cli_usage_error("secret", "secret ls takes no argument, got '%s'", argv[optind]);
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        _cleanup_(secrets_freep) nook_secrets *l = NULL;
        if (nook_secret_list(&l, &err) < 0)
                return cli_report(err);
        size_t n = nook_secrets_count(l);
        if (json) {
                json_t *a = json_array();
                for (size_t i = 0; a && i < n; i++)
                        if (json_array_append_new(a, json_secret(nook_secrets_get(l, i), false)) < 0) {
                                json_decref(a);
                                a = NULL;
                        }
                return cli_json_print(a);
        }
        int w = 4;
        for (size_t i = 0; i < n; i++) {
                int len = (int)strlen(nook_secrets_get(l, i)->name);
                w = len > w ? len : w;
        }
        if (!quiet)
                printf("%-*s  %-6s  %-7s  %s\n", w, "NAME", "SIZE", "DRIVER", "KEY");
        for (size_t i = 0; i < n; i++) {
                const nook_secret_info *s = nook_secrets_get(l, i);
                if (quiet)
                        printf("%s\n", s->name);
                else
                        printf("%-*s  %-6zu  %-7s  %d\n", w, s->name, s->size, s->driver, (int)s->key);
        }
        return fflush(stdout) == 0 ? 0 : EXIT_NOOK;
}

static void print_secret(const nook_secret_info *s) {
        printf("%-13s %s\n", "Name:", s->name);
        printf("%-13s %zu bytes\n", "Size:", s->size);
        printf("%-13s %s\n", "Driver:", s->driver);
        printf("%-13s %d (%08x in /proc/keys)\n", "Key:", (int)s->key, (unsigned)s->key);
        if (s->permissions == NOOK_SECRET_PERM_POSSESSOR_ONLY)
                printf("%-13s possessor only (%08x): no process that lacks your user keyring, a "
                       "sandbox's included, can read or see it\n",
                       "Permissions:", s->permissions);
        else
                printf("%-13s %08x (not nook's possessor-only %08x: 'nook secret create --replace' "
                       "restores it)\n",
                       "Permissions:", s->permissions, NOOK_SECRET_PERM_POSSESSOR_ONLY);
        printf("%-13s the kernel keyring of uid %u: memory only, gone at reboot\n", "Location:", s->uid);
}

static int secret_inspect(int argc, char **argv) {
        bool json = false;
        int n = 0;
        for (int i = 1; i < argc; i++) {
                if (cli_is_help(argv[i])) {
                        help_secret(stdout);
                        return 0;
                }
                if (strcmp(argv[i], "--showsecret") == 0 || strncmp(argv[i], "--showsecret=", 13) == 0)
                        return cli_usage_error("secret", "secret inspect: nook never shows a secret's value "
                                                         "(podman's --showsecret has no nook equivalent): a stored "
                                                         "value goes only into the sandboxes given it");
                if (strcmp(argv[i], "--json") == 0)
                        json = true;
                else if (argv[i][0] == '-')
                        return cli_usage_error("secret", "unknown option '%s' of secret inspect", argv[i]);
                else
                        argv[++n] = argv[i];
        }
        if (n == 0)
                return cli_usage_error("secret", "secret inspect needs a NAME");
        int rc = 0;
        json_t *a = json ? json_array() : NULL;
        for (int i = 1; i <= n; i++) {
                _cleanup_(cli_error_freep) nook_error *err = NULL;
                _cleanup_(secret_info_freep) nook_secret_info *s = NULL;
                if (nook_secret_inspect(argv[i], &s, &err) < 0) {
                        rc = cli_report(err);
                        continue;
                }
                if (json) {
                        if (a && json_array_append_new(a, json_secret(s, true)) < 0) {
                                json_decref(a);
                                a = NULL;
                        }
                        continue;
                }
                if (i > 1)
                        putchar('\n');
                print_secret(s);
        }
        if (json && cli_json_print(a) != 0)
                rc = EXIT_NOOK;
        if (fflush(stdout) != 0)
                rc = EXIT_NOOK;
        return rc;
}

/* ---- rm ----------------------------------------------------------------------------------- */

static int secret_rm(int argc, char **argv) {
        bool all = false;
        int n = 0;
        for (int i = 1; i < argc; i++) {
                if (cli_is_help(argv[i])) {
                        help_secret(stdout);
                        return 0;
                }
                if (strcmp(argv[i], "--all") == 0 || strcmp(argv[i], "-a") == 0)
                        all = true;
                else if (argv[i][0] == '-')
                        return cli_usage_error("secret", "unknown option '%s' of secret rm", argv[i]);
                else
                        argv[++n] = argv[i];
        }
        if (all == (n > 0))
                return cli_usage_error("secret", all ? "secret rm takes NAMEs or --all, not both"
                                                     : "secret rm needs a NAME (or --all)");
        _cleanup_(secrets_freep) nook_secrets *l = NULL;
        if (all) {
                _cleanup_(cli_error_freep) nook_error *err = NULL;
                if (nook_secret_list(&l, &err) < 0)
                        return cli_report(err);
        }
        size_t count = all ? nook_secrets_count(l) : (size_t)n;
        int rc = 0;
        for (size_t i = 0; i < count; i++) {
                const char *name = all ? nook_secrets_get(l, i)->name : argv[i + 1];
                _cleanup_(cli_error_freep) nook_error *err = NULL;
                if (nook_secret_remove(name, &err) < 0) {
                        rc = cli_report(err);
                        continue;
                }
                printf("%s\n", name);
        }
        if (fflush(stdout) != 0)
                rc = EXIT_NOOK;
        return rc;
}

int cmd_secret(int argc, char **argv) {
        if (argc < 2) {
                help_secret(stderr);
                return EXIT_NOOK;
        }
        const char *sub = argv[1];
        if (cli_is_help(sub)) {
                help_secret(stdout);
                return 0;
        }
        if (strcmp(sub, "create") == 0)
                return secret_create(argc - 1, argv + 1);
        if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0)
                return secret_ls(argc - 1, argv + 1);
        if (strcmp(sub, "inspect") == 0)
                return secret_inspect(argc - 1, argv + 1);
        if (strcmp(sub, "rm") == 0 || strcmp(sub, "remove") == 0)
                return secret_rm(argc - 1, argv + 1);
        return cli_usage_error("secret", "unknown command 'secret %s' (create, ls, inspect, rm)", sub);
}
