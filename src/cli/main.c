/* nook CLI — entry point: global options, verb dispatch, --version and help. */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "util/trace.h"

const char *arg_storage = NULL;
char **arg_aliases = NULL;
size_t arg_n_aliases = 0;

/* An alias name as the requests use it (source_alias, workspace_ref): letters, digits,
 * '_', '.', '-', starting with a letter or digit. */
static bool alias_name_valid(const char *s, size_t n) {
        if (n == 0 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
                if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
                        return false;
        }
        return true;
}

/* --alias NAME=PATH: PATH absolute and existing, stored as its real path. */
static int opt_alias(const char *arg) {
        const char *eq = strchr(arg, '=');
        size_t n = eq ? (size_t)(eq - arg) : 0;
        if (!eq || !alias_name_valid(arg, n))
                return cli_usage_error(NULL,
                                       "--alias '%s': expected NAME=PATH, NAME being 1 to 64 letters, digits, "
                                       "'_', '.' and '-' (starting with a letter or digit)",
                                       arg);
        if (n == strlen("nook-rootfs") && strncmp(arg, "nook-rootfs", n) == 0)
                return cli_usage_error(NULL, "--alias '%s': nook-rootfs is the name nook gives --rootfs", arg);
        if (eq[1] != '/')
                return cli_usage_error(NULL, "--alias '%s': PATH must be absolute", arg);
        _cleanup_free_ char *name = strndup(arg, n);
        if (!name)
                return EXIT_NOOK;
        if (cli_alias_given(name))
                return cli_usage_error(NULL, "--alias '%s': %s is given twice", arg, name);
        struct stat st;
        _cleanup_free_ char *real = cli_host_real_path(eq + 1, &st);
        if (!real) {
                int e = errno;
                return cli_usage_error(NULL, "--alias '%s': %s%s%s", arg, eq + 1, e == ENOENT ? "" : ": ",
                                       e == ENOENT ? " does not exist" : cli_host_path_error(e));
        }
        char *entry = NULL;
        char **nv = realloc(arg_aliases, (arg_n_aliases + 1) * sizeof(char *));
        if (!nv || asprintf(&entry, "%s=%s", name, real) < 0) {
                if (nv)
                        arg_aliases = nv;
                fputs("nook: out of memory\n", stderr);
                return EXIT_NOOK;
        }
        arg_aliases = nv;
        arg_aliases[arg_n_aliases++] = entry;
        return 0;
}

static void help_main(FILE *f);

static const cli_verb verbs[] = {
        { "run", "run a command in a new sandbox (removed when it ends, unless -d)", cmd_run, help_run },
        { "exec", "run a command in an existing session (the warm path)", cmd_exec, help_exec },
        { "attach", "attach to a process started with -d (-dit: a shell), detach with ctrl-p ctrl-q", cmd_attach,
          help_attach },
        { "cp", "copy files between a session and the host (SESSION:PATH)", cmd_cp, help_cp },
        { "session", "create, list, inspect and remove sessions", cmd_session, help_session },
        { "image", "import, list, inspect and remove images (no registry: files)", cmd_image, help_image },
        { "images", "list the images of the local store", cmd_images, help_images },
        { "load", "add an image from an oci-archive or docker-archive (-i FILE, or stdin)", cmd_load, help_load },
        { "save", "write an image as an oci-archive (-o FILE, or stdout)", cmd_save, help_save },
        { "secret", "create, list, inspect and remove named secrets (kept in memory only)", cmd_secret, help_secret },
        { "ps", "list the processes of the sessions", cmd_ps, help_ps },
        { "logs", "print a process's captured output (-f to follow)", cmd_logs, help_logs },
        { "kill", "send a signal to a process", cmd_kill, help_kill },
        { "stop", "stop processes: SIGTERM, then SIGKILL after -t seconds (podman stop)", cmd_stop, help_stop },
        { "rm", "remove sessions (-f: with running processes)", cmd_rm, help_rm },
        { "wait", "wait for processes to end and print their exit codes", cmd_wait, help_wait },
        { "inspect", "a session, process or image as JSON", cmd_inspect, help_inspect },
        { "top", "the processes running in a session", cmd_top, help_top },
        { "port", "the ports a session publishes", cmd_port, help_port },
        { "rmi", "remove images (nook image rm)", cmd_rmi, help_rmi },
        { "stats", "show what a process uses: cpu, memory, processes, writes", cmd_stats, help_stats },
        { "gc", "remove sessions whose owner is gone", cmd_gc, help_gc },
        { "caps", "tell whether this machine can run rootless sandboxes, and how to fix what is missing", cmd_caps,
          help_caps },
        { "call", "run one call of the IsolationRuntime contract (JSON on stdin, JSON on stdout)", cmd_call,
          help_call },
        { "serve", "serve the contract as JSON-RPC 2.0 on stdin/stdout or a Unix socket", cmd_serve, help_serve },
        { "journal", "list the journal of calls (the audit log), or repair it", cmd_journal, help_journal },
        { "info", "the host, store, run dir and drivers, and what 'nook caps' finds", cmd_info, help_info },
        { "version", "print the version", cmd_version, help_version },
};

static void help_main(FILE *f) {
        fputs("Usage: nook [--storage DIR] [--alias NAME=PATH]... COMMAND [OPTIONS]\n"
              "\n"
              "nook runs code in sandboxes built without root: user namespaces, an overlay root\n"
              "filesystem, userspace networking and secrets kept off disk.\n"
              "\n"
              "Commands:\n",
              f);
        for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
                fprintf(f, "  %-9s %s\n", verbs[i].name, verbs[i].summary);
        fputs("  help      show help for a command\n"
              "\n"
              "Global options:\n"
              "  --storage DIR  data dir (image store, journal); default $NOOK_STORAGE,\n"
              "                 else $XDG_DATA_HOME/nook, else ~/.local/share/nook\n"
              "  --alias NAME=PATH\n"
              "                 let requests name the host directory PATH as NAME (a\n"
              "                 workspace or mount source: --workspace NAME, -v NAME:/dst);\n"
              "                 repeatable; added to $NOOK_ALIASES and ~/.config/nook/aliases\n"
              "  --secret-source REF=SOURCE\n"
              "                 where the value of secret REF comes from (--secret REF):\n"
              "                 file:PATH, env:VAR (read once, then wiped from nook's own\n"
              "                 environment), fd:N or store:NAME (nook secret create);\n"
              "                 repeatable; added to ~/.config/nook/secrets\n"
              "  --version      print the version and exit\n"
              "  -h, --help     print this help and exit\n"
              "\n"
              "Exit codes: 0 success; 125 nook's own error (the message says what and how to fix it);\n"
              "run and exec: the command's own code, 126 not executable, 127 not found.\n"
              "Run 'nook COMMAND --help' for a command's options. Documentation: docs/cli.md.\n",
              f);
}

static const cli_verb *find_verb(const char *name) {
        for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
                if (strcmp(verbs[i].name, name) == 0)
                        return &verbs[i];
        return NULL;
}

static int cmd_help(int argc, char **argv) {
        if (argc < 2) {
                help_main(stdout);
                return 0;
        }
        const cli_verb *v = find_verb(argv[1]);
        if (!v) {
                const char *names[ELEMENTSOF(verbs)];
                for (size_t k = 0; k < ELEMENTSOF(verbs); k++)
                        names[k] = verbs[k].name;
                return cli_unknown_verb(argv[1], names, ELEMENTSOF(names));
        }
        v->help(stdout);
        return 0;
}

/* A closed stdin, stdout or stderr (`nook run -i ... <&-`, a batch job started without
 * one) becomes /dev/null: else the next fd nook opens (a signalfd, a socket) would take
 * its number and be read or written as if it were that stream. */
static void std_fds_open(void) {
        for (int fd = 0; fd < 3; fd++)
                if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
                        (void)open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY); /* the lowest free fd: this one */
}

int main(int argc, char **argv) {
        nook_trace("client start");
        std_fds_open();
        /* only the character set (for ✓ on UTF-8 terminals): loading every category costs a
         * dozen file reads on each start */
        setlocale(LC_CTYPE, "");
        int i = 1;
        for (; i < argc && argv[i][0] == '-'; i++) {
                if (cli_is_help(argv[i])) {
                        help_main(stdout);
                        return 0;
                }
                if (strcmp(argv[i], "--version") == 0) {
                        printf("nook version %s\n", nook_version());
                        return 0;
                }
                if (strcmp(argv[i], "--storage") == 0 && i + 1 < argc) {
                        arg_storage = argv[++i];
                        if (arg_storage[0] != '/')
                                return cli_usage_error(NULL, "--storage needs an absolute path, got '%s'", arg_storage);
                        continue;
                }
                if (strncmp(argv[i], "--storage=", 10) == 0) {
                        arg_storage = argv[i] + 10;
                        if (arg_storage[0] != '/')
                                return cli_usage_error(NULL, "--storage needs an absolute path, got '%s'", arg_storage);
                        continue;
                }
                /* options with a value, as "--opt VALUE" or "--opt=VALUE" */
                static const struct {
                        const char *name, *value;
                        int (*fn)(const char *);
                } valued[] = { { "--alias", "NAME=PATH", opt_alias },
                               { "--secret-source", "REF=SOURCE", cli_opt_secret_source } };
                size_t k = 0, n = 0;
                for (; k < ELEMENTSOF(valued); k++) {
                        n = strlen(valued[k].name);
                        if (strncmp(argv[i], valued[k].name, n) == 0 && (argv[i][n] == '=' || !argv[i][n]))
                                break;
                }
                if (k < ELEMENTSOF(valued)) {
                        if (!argv[i][n] && i + 1 >= argc)
                                return cli_usage_error(NULL, "%s needs %s", valued[k].name, valued[k].value);
                        int r = valued[k].fn(argv[i][n] ? argv[i] + n + 1 : argv[++i]);
                        if (r)
                                return r;
                        continue;
                }
                return cli_usage_error(NULL, "unknown global option '%s'", argv[i]);
        }
        if (i >= argc) {
                help_main(stderr);
                return EXIT_NOOK;
        }
        if (strcmp(argv[i], "help") == 0)
                return cmd_help(argc - i, argv + i);
        const cli_verb *v = find_verb(argv[i]);
        if (!v) {
                const char *names[ELEMENTSOF(verbs) + 1];
                for (size_t k = 0; k < ELEMENTSOF(verbs); k++)
                        names[k] = verbs[k].name;
                names[ELEMENTSOF(verbs)] = "help";
                return cli_unknown_verb(argv[i], names, ELEMENTSOF(names));
        }
        return v->run(argc - i, argv + i);
}
