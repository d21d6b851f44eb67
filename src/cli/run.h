/* nook CLI — what `run`, `exec` and `session create` share: their options, the requests
 * they build (spec.c) and the attached terminal (attach.c). */
#ifndef NOOK_CLI_RUN_H
#define NOOK_CLI_RUN_H

#include <getopt.h>

#include "cli.h"
#include "util/clock.h"

#define CLI_UNLIMITED_MEMORY_MB 16777216ull /* the contract's ceiling: no limit */
#define CLI_UNLIMITED_PIDS 4194304ull
#define CLI_MAX_TIMEOUT_MS 2678400000ull /* 31 days: the contract's ceiling */
#define CLI_ROOTFS_ALIAS "nook-rootfs"
#define CLI_LOG_MAX (1ull << 30) /* bytes a capture log keeps by default */

/* One mount of -v, --tmpfs or --mount, as the request carries it. */
typedef struct cli_mount {
        char *ref;     /* mount_ref: "v0", "v1"... for binds, "t0"... for tmpfs */
        char *alias;   /* source_alias (the operator's name, or the ref when the CLI made it); NULL for tmpfs */
        char *dest;    /* destination_path inside */
        char *options; /* tmpfs options as given ("size=256m,noexec"), or NULL */
        bool read_only, tmpfs;
        bool host;  /* a host path: alias is the ref, added to the aliases */
        char *flag; /* how it was given ("-v ./a:/b"), for messages */
} cli_mount;

/* How the session is built (run, session create) and the limits of a process. */
typedef struct cli_session_opts {
        const char *name;
        char *rootfs;         /* real path of --rootfs */
        const char *image;    /* IMAGE (when no --rootfs) */
        char *image_resolved; /* resolve_image's result, when the caller already asked */
        const char *driver;   /* --rootfs-driver */
        const char *upper;    /* --keep-upper NAME: a persistent writable layer */
        bool rootfs_rw, read_only;
        const char *network; /* "slirp4netns" | "none" | "host" (netopts.c) */
        bool net_loopback;   /* slirp4netns:allow_host_loopback=true */
        json_t *net_ports;   /* -p: the ext's port objects */
        json_t *net_dns;     /* --dns */
        json_t *net_hosts;   /* --add-host */
        json_t *net_egress;  /* --egress: spec.network egress_scoped rules */
        const char *hostname;
        const char *userns; /* "auto" | "root" | "keep-id" | "subuid" */
        uint64_t memory_mb;
        uint64_t pids;
        uint64_t disk_mb; /* --disk: what the writable layer may hold; 0: no limit */
        double cpus;
        const char *cpus_arg; /* NULL when --cpus was not given */
        /* -v, --tmpfs, --mount in order; the host paths of -v (and of --workspace PATH)
         * become "NAME=PATH" aliases for nook_options.aliases */
        cli_mount *mounts;
        size_t n_mounts;
        unsigned n_binds, n_tmpfs;
        char **aliases;
        size_t n_aliases;
        /* --workspace: ws_mode NULL when not given; ws_ref NULL for scratch */
        char *ws_ref, *ws_flag, *ws_dest;
        const char *ws_mode;
        bool deny_single_file;
        bool quiet;     /* -q: no line on stderr for the downgrades taken (session inspect has them) */
        json_t *labels; /* --label KEY=VALUE: the ext's labels, or NULL */
        /* --secret (secretopts.c): spec.secrets' secret_mounts and env_secrets */
        json_t *sec_mounts, *sec_envs;
        unsigned n_secrets;
} cli_session_opts;

#define CLI_SESSION_OPTS_INIT                                                                     \
        {                                                                                         \
                .network = "slirp4netns", .userns = "auto", .memory_mb = CLI_UNLIMITED_MEMORY_MB, \
                .pids = CLI_UNLIMITED_PIDS, .cpus = 1                                             \
        }

typedef struct cli_process_opts {
        char **argv; /* the command (points into main's argv) */
        size_t argc;
        cli_env env;
        const char *workdir, *user;
        bool interactive, tty, detach, json, verbose;
        uint64_t timeout_ms;     /* 0: none (the contract's maximum) */
        uint64_t log_max;        /* --log-max: bytes each capture log keeps; 0: CLI_LOG_MAX */
        const char *seccomp_arg; /* NULL, "unconfined" or a file */
        json_t *seccomp_profile; /* the file's JSON object, carried into the request */
        json_t *rlimits;         /* --ulimit: the process's posix_rlimits, or NULL */
        char *caps;              /* --cap-add/--cap-drop: the capabilities kept ("CHOWN,KILL"), or NULL */
} cli_process_opts;

/* run's own flags (runflags.c). */
typedef struct cli_run_flags {
        char **entrypoint; /* --entrypoint: the words (none for ''), owned */
        bool entrypoint_set;
        unsigned caps; /* bits over runflags.c's default set */
        bool caps_set;
} cli_run_flags;

void cli_session_opts_done(cli_session_opts *s);
/* resolve_image of s->image, kept in s->image_resolved (cli_session_up then uses its
 * digest); 0 or the exit code after reporting. */
int cli_resolve_image(nook_runtime *rt, cli_session_opts *s, bool verbose);
/* The root options agree with each other (IMAGE or --rootfs DIR); else reports, 125. */
int cli_root_check(const cli_session_opts *s, const char *verb);
void cli_process_opts_done(cli_process_opts *p);

/* Long-only option codes shared by the verbs' getopt tables. */
enum {
        OPT_NAME = 0x100,
        OPT_ROOTFS,
        OPT_ROOTFS_RW,
        OPT_READ_ONLY,
        OPT_NETWORK,
        OPT_ENV_FILE,
        OPT_HOSTNAME,
        OPT_USERNS,
        OPT_TIMEOUT,
        OPT_MEMORY,
        OPT_PIDS_LIMIT,
        OPT_CPUS,
        OPT_SECURITY_OPT,
        OPT_JSON,
        OPT_VERBOSE,
        OPT_RM,
        OPT_TMPFS,
        OPT_MOUNT,
        OPT_WORKSPACE,
        OPT_WORKSPACE_DEST,
        OPT_DENY_SINGLE_FILE,
        OPT_ROOTFS_DRIVER,
        OPT_KEEP_UPPER,
        OPT_DISK,
        OPT_LOG_MAX,
        OPT_DNS,
        OPT_ADD_HOST,
        OPT_EGRESS,
        OPT_SECRET,
        OPT_ENTRYPOINT,
        OPT_INIT,
        OPT_PLATFORM,
        OPT_ULIMIT,
        OPT_CAP_ADD,
        OPT_CAP_DROP,
        OPT_LABEL,
        OPT_PODMAN_BASE = 0x400, /* podman's flags that nook has not: runflags.c's table */
};

/* The getopt entries of each option family, spliced into the verbs' tables so that a flag
 * is spelled once: run = process + session + limits + mounts + common, exec = process +
 * mounts (refused by name) + common, session create = session + mounts + common. */
#define CLI_COMMON_OPTIONS                                                                        \
        { "json", no_argument, NULL, OPT_JSON }, { "verbose", no_argument, NULL, OPT_VERBOSE }, { \
                "help", no_argument, NULL, 'h'                                                    \
        }
#define CLI_PROCESS_OPTIONS                                                                                         \
        { "detach", no_argument, NULL, 'd' }, { "interactive", no_argument, NULL, 'i' },                            \
                { "tty", no_argument, NULL, 't' }, { "env", required_argument, NULL, 'e' },                         \
                { "env-file", required_argument, NULL, OPT_ENV_FILE }, { "workdir", required_argument, NULL, 'w' }, \
                { "user", required_argument, NULL, 'u' }, { "timeout", required_argument, NULL, OPT_TIMEOUT },      \
                { "ulimit", required_argument, NULL, OPT_ULIMIT }, {                                                \
                "log-max", required_argument, NULL, OPT_LOG_MAX                                                     \
        }
/* The session's limits (S34): run and session create. */
#define CLI_LIMIT_OPTIONS                                                                                             \
        { "memory", required_argument, NULL, OPT_MEMORY }, { "pids-limit", required_argument, NULL, OPT_PIDS_LIMIT }, \
                { "cpus", required_argument, NULL, OPT_CPUS }, {                                                      \
                "disk", required_argument, NULL, OPT_DISK                                                             \
        }
#define CLI_SESSION_OPTIONS                                                                                           \
        { "name", required_argument, NULL, OPT_NAME }, { "rootfs", required_argument, NULL, OPT_ROOTFS },             \
                { "rootfs-rw", no_argument, NULL, OPT_ROOTFS_RW },                                                    \
                { "rootfs-driver", required_argument, NULL, OPT_ROOTFS_DRIVER },                                      \
                { "keep-upper", required_argument, NULL, OPT_KEEP_UPPER },                                            \
                { "read-only", no_argument, NULL, OPT_READ_ONLY },                                                    \
                { "network", required_argument, NULL, OPT_NETWORK }, { "net", required_argument, NULL, OPT_NETWORK }, \
                { "publish", required_argument, NULL, 'p' }, { "dns", required_argument, NULL, OPT_DNS },             \
                { "add-host", required_argument, NULL, OPT_ADD_HOST },                                                \
                { "egress", required_argument, NULL, OPT_EGRESS }, { "secret", required_argument, NULL, OPT_SECRET }, \
                { "hostname", required_argument, NULL, OPT_HOSTNAME }, { "quiet", no_argument, NULL, 'q' },           \
                { "label", required_argument, NULL, OPT_LABEL }, {                                                    \
                "userns", required_argument, NULL, OPT_USERNS                                                         \
        }
#define CLI_MOUNT_OPTIONS                                                                            \
        { "volume", required_argument, NULL, 'v' }, { "tmpfs", required_argument, NULL, OPT_TMPFS }, \
                { "mount", required_argument, NULL, OPT_MOUNT },                                     \
                { "workspace", required_argument, NULL, OPT_WORKSPACE },                             \
                { "workspace-dest", required_argument, NULL, OPT_WORKSPACE_DEST }, {                 \
                "deny-single-file", no_argument, NULL, OPT_DENY_SINGLE_FILE                          \
        }

/* true for the mount options' codes ('v' included): exec refuses them by name. */
bool cli_is_mount_opt(int c);

/* Handles one option of the session (--rootfs, --name, --userns, limits...) or process
 * (-e, -w, -u, -i, -t, --timeout...) families: 0 when handled, 1 when not one of
 * them, EXIT_NOOK after a usage error was reported. */
int cli_session_opt(int c, const char *arg, cli_session_opts *s, const char *verb);
int cli_process_opt(int c, const char *arg, cli_process_opts *p, const char *verb);
/* Reports getopt's '?' and ':' answers; returns EXIT_NOOK. */
int cli_getopt_error(int c, char **argv, const struct option *longopts, const char *verb);
/* What is checked once every option is read (--workspace-dest without --workspace, two
 * mounts on one destination): 0, or EXIT_NOOK after reporting. */
int cli_session_check(const cli_session_opts *s, const char *verb);
/* nook_runtime_open with the root directory's alias and the mounts' aliases; -1 after
 * reporting. */
int cli_session_runtime(const cli_session_opts *s, nook_runtime **ret);

/* ---- runflags.c: podman's run flags ---- */

/* base followed by podman's flags nook has not (each answered by cli_podman_flag);
 * malloc'd, or NULL. */
struct option *cli_options_with_podman(const struct option *base);
/* 1 when opt is not one of podman's flags; else EXIT_NOOK after saying what to use. */
int cli_podman_flag(int opt, const char *verb);
/* The same for podman's one-letter flags (-P, -c, -a) getopt did not know (optopt). */
int cli_podman_short(int c, const char *verb);
int cli_opt_entrypoint(const char *arg, cli_run_flags *f, const char *verb);
int cli_opt_platform(const char *arg, const char *verb);
int cli_opt_ulimit(const char *arg, cli_process_opts *p, const char *verb);
int cli_opt_cap(const char *arg, bool add, cli_run_flags *f, const char *verb);
char *cli_caps_list(const cli_run_flags *f);
void cli_run_flags_done(cli_run_flags *f);

/* ---- netopts.c: --network, -p, --dns, --add-host, --egress ---- */

bool cli_is_net_opt(int c);
/* 0, 1 when c is not a network option, or the exit code after reporting. */
int cli_net_opt(int c, const char *arg, cli_session_opts *s, const char *verb);
/* The network options agree with each other; else reports, 125. */
int cli_net_check(const cli_session_opts *s, const char *verb);
/* Adds network, ports, dns, add_hosts, allow_host_loopback to the ext object; 0 or -1. */
int cli_net_ext(const cli_session_opts *s, json_t *ext);
/* spec.network for --egress, or NULL (disabled: the ext's mode decides). */
json_t *cli_net_policy(const cli_session_opts *s);
void cli_net_done(cli_session_opts *s);

/* ---- secretopts.c: --secret, --secret-source ---- */

/* --secret SPEC into s; 0 or the exit code after reporting. */
int cli_secret_opt(const char *arg, cli_session_opts *s, const char *verb);
/* spec.secrets for the --secret options, or NULL when none was given. */
json_t *cli_secrets_spec(const cli_session_opts *s);
void cli_secrets_done(cli_session_opts *s);

/* ---- spec.c: the requests ---- */

/* prepare_session, prepare_rootfs and prepare_environment for env_id.  0; or EXIT_NOOK
 * after reporting; or 128+N when signal N arrived on sigfd meanwhile.  The caller
 * cleans up in every case but success. */
int cli_session_up(nook_runtime *rt, const char *env_id, const cli_session_opts *s, bool owned_by_caller, int sigfd,
                   bool verbose);
/* cleanup of env_id; 0 when completed, else EXIT_NOOK with the reason reported. */
int cli_session_down(nook_runtime *rt, const char *env_id, const char *plan_ref, bool verbose);
/* cleanup after cli_session_up failed (its error reported): quiet, and 0, when no session
 * was left behind; else as cli_session_down. */
int cli_session_abandon(nook_runtime *rt, const char *env_id, const char *plan_ref, bool verbose);
/* start_process; s gives the limits (NULL: none).  0 with the process ref and the
 * redacted summary of how limits are enforced; else the exit code after reporting:
 * 127 command not found, 126 not executable, 125 anything else. */
int cli_start(nook_runtime *rt, const char *env_id, const cli_session_opts *s, const cli_process_opts *p,
              const char *process_id, const char *effect_id, char **ret_ref, char **ret_summary, char **ret_cpus);
/* A monotonic clock in ms, for --verbose timings. */
static inline double cli_now_ms(void) {
        return (double)nook_mono_us() / 1000.0;
}

/* ---- attach.c: signals, the terminal, the attached process ---- */

/* Blocks SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGWINCH (delivered through the returned
 * signalfd instead: no handler runs inside the library) and ignores SIGPIPE. */
int cli_signals_block(void);
/* The last terminating signal that arrived (SIGWINCH is dropped), or 0. */
int cli_signal_take(int sigfd);
/* Our terminal's size, from stdin, else stdout; false when neither is a terminal. */
bool cli_tty_size(unsigned *rows, unsigned *cols);
/* Copies the process's output to ours until it exits, forwarding stdin (-i), the
 * terminal (-t) and signals.  0 with its exit code, or EXIT_NOOK after reporting. */
int cli_attach(nook_runtime *rt, const char *ref, const cli_process_opts *p, int sigfd, int *ret_code);
/* The same for a process started earlier (nook attach): its output from now on, and
 * keys (bytes, "" or NULL for none) typed in full detach, leaving it running
 * (*ret_detached).  Our stdin ending does not end a terminal's shell. */
int cli_reattach(nook_runtime *rt, const char *ref, const cli_process_opts *p, int sigfd, const char *keys,
                 int *ret_code, bool *ret_detached);
/* When a process was killed (137), says why (timeout, watchdog) on stderr. */
void cli_explain_kill(nook_runtime *rt, const char *ref, const cli_process_opts *p);

#endif
