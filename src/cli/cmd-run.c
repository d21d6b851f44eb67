/* nook CLI — `nook run` (a one-shot session: prepare_session, prepare_rootfs,
 * prepare_environment, start_process, attach, cleanup) and `nook exec` (the warm path:
 * one more process in a prepared session).  Exit codes as podman's: the command's own,
 * 126 not executable, 127 not found, 125 nook's error. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "listing.h"
#include "run.h"
#include "util/trace.h"
#include "util/random.h"

static const char run_usage[] =
        "Usage: nook run [OPTIONS] IMAGE [--] [COMMAND [ARG...]]\n"
        "       nook run [OPTIONS] --rootfs DIR [--] [COMMAND [ARG...]]\n"
        "\n"
        "Runs COMMAND in a new sandbox whose root is IMAGE (from 'nook images') or DIR,\n"
        "read-only under a writable layer that is thrown away, attached to this terminal,\n"
        "and removes the sandbox when the command ends. The exit code is the command's\n"
        "own (128+N when signal N ended it); 125 when nook fails, 126 when COMMAND cannot\n"
        "be executed, 127 when it is not found. With an IMAGE: its Entrypoint, then\n"
        "COMMAND or else its Cmd, in its WorkingDir as its User with its Env; without\n"
        "COMMAND on a DIR, /bin/sh of the root. Options go before IMAGE.\n"
        "\n"
        "Session:\n"
        "  --rootfs DIR          the root directory of the sandbox instead of an IMAGE\n"
        "  --rootfs-driver D     how an IMAGE or DIR becomes the root: auto (default: for an\n"
        "                        IMAGE fuse-overlayfs for exact owners with a subuid range,\n"
        "                        else overlay; for a DIR overlay, or fuse-overlayfs when\n"
        "                        DIR holds files of owners the sandbox does not map, as a\n"
        "                        DIR of root's), overlay, fuse-overlayfs, copy ('nook\n"
        "                        session inspect' says which and why)\n"
        "  --keep-upper NAME     keep the writable layer under the name NAME, and start from\n"
        "                        it again next time (an IMAGE only)\n"
        "  --name NAME           name the session (for exec, logs, session rm)\n"
        "  -d, --detach          start COMMAND and keep the session: print the session and\n"
        "                        the process ref, and return\n"
        "  --rm                  remove the session when COMMAND ends (the default when\n"
        "                        attached; with -d, a background 'nook session rm --after'\n"
        "                        waits for COMMAND and removes it)\n"
        "  --rootfs-rw           bind DIR read-write: writes land in DIR itself\n"
        "  --read-only           make the whole root read-only (no writable layer)\n"
        "  --network MODE        slirp4netns (default: userspace networking, as rootless\n"
        "                        podman; slirp4netns:allow_host_loopback=true reaches the\n"
        "                        host's 127.0.0.1 as 10.0.2.2, host.containers.internal),\n"
        "                        none (loopback only) or host (the host's network: a\n"
        "                        downgrade, reported)\n"
        "  -p, --publish [IP:][HOSTPORT:]PORT[/tcp|udp]\n"
        "                        publish PORT of the sandbox on HOSTPORT (default: PORT)\n"
        "                        of 127.0.0.1 (or IP); repeatable\n"
        "  --egress TARGET       let the sandbox reach only TARGET: host, host:port,\n"
        "                        https://host[:port], http://..., tcp://host:port,\n"
        "                        udp://host:port (an IPv4 address or a name, which only\n"
        "                        nook's resolver in the sandbox answers); repeatable; any\n"
        "                        other destination is refused at once\n"
        "  --dns IP[:PORT]       the sandbox's resolver (with --egress: the one nook's\n"
        "                        resolver asks, on the host's side); repeatable\n"
        "  --add-host NAME:IP    a line of the sandbox's /etc/hosts; repeatable\n"
        "  --hostname NAME       hostname inside (default: nook)\n"
        "  --label KEY=VALUE     a label kept with the session ('nook session inspect' shows\n"
        "                        it); repeatable\n"
        "  --userns MODE         auto (default: subuid when usable, else root), root (you\n"
        "                        are root inside), keep-id (your own uid inside, with your\n"
        "                        name in /etc/passwd and /etc/group and HOME your home dir,\n"
        "                        as podman), subuid\n"
        "\n"
        "Secrets (held in memory only; masked as [REDACTED:NAME] in all output):\n"
        "  --secret NAME[,type=mount|env][,target=PATH|VAR][,mode=0400][,uid=N][,gid=N]\n"
        "               [,src=file:PATH|env:VAR|fd:N|store:NAME]\n"
        "                        a file at /run/secrets/NAME (or target), read-only, or\n"
        "                        (type=env) variable NAME (or target) of every process;\n"
        "                        the value comes from src=, else nook --secret-source\n"
        "                        NAME=SOURCE, ~/.config/nook/secrets, else 'nook secret\n"
        "                        create NAME'; repeatable\n"
        "\n"
        "Mounts (planned and checked before the sandbox is built):\n"
        "  -v, --volume SRC:DST[:ro|rw][,z|Z]\n"
        "                        bind SRC at DST (absolute), read-write unless ro (z and Z\n"
        "                        are accepted with a note: nook relabels nothing). SRC\n"
        "                        with a '/' or starting with '.' or '~' is a host path;\n"
        "                        a bare name is an alias the operator configured (nook\n"
        "                        --alias NAME=PATH, $NOOK_ALIASES, ~/.config/nook/aliases)\n"
        "  --tmpfs DST[:OPTS]    an empty tmpfs at DST; OPTS: size=256m, mode=1777,\n"
        "                        noexec, exec, nosuid, nodev (comma-separated; podman's rw,\n"
        "                        notmpcopyup and atime options are accepted, any other is\n"
        "                        refused by name)\n"
        "  --mount type=bind,src=SRC,dst=DST[,readonly]\n"
        "  --mount type=tmpfs,dst=DST[,tmpfs-size=SIZE][,tmpfs-mode=OCTAL]\n"
        "                        docker's syntax (source, destination and target also\n"
        "                        spelled src, dst; ro for readonly)\n"
        "  --workspace ALIAS[:MODE]\n"
        "                        the workspace ALIAS (or a host PATH) at /workspace, where\n"
        "                        COMMAND starts unless -w; MODE: live_writable or rw\n"
        "                        (default), live_read_only or ro, snapshot (changes stay\n"
        "                        in the sandbox), or --workspace scratch (empty, per session)\n"
        "  --workspace-dest DIR  mount the workspace at DIR instead of /workspace\n"
        "  --deny-single-file    refuse mounts of single files (by default they are\n"
        "                        allowed, and audited when more than the file is exposed)\n"
        "\n"
        "Process:\n"
        "  -i, --interactive     forward standard input to COMMAND\n"
        "  -t, --tty             give COMMAND a terminal (a pty of the sandbox) sized as\n"
        "                        ours; with -i our terminal is put in raw mode\n"
        "  -e, --env NAME=VALUE  set a variable (NAME alone copies ours); repeatable\n"
        "  --env-file FILE       variables from FILE: NAME=VALUE lines, '#' comments\n"
        "  -w, --workdir DIR     working directory inside (absolute; default /, or the\n"
        "                        workspace when one is mounted)\n"
        "  -u, --user USER[:GROUP]  user inside: a name of the root's /etc/passwd or uid[:gid]\n"
        "  --timeout DURATION    kill COMMAND after DURATION (30s, 500ms, 2m, 1h30m; a bare\n"
        "                        number is seconds; default: none)\n"
        "  --log-max SIZE        each capture log (stdout, stderr) keeps SIZE bytes, then\n"
        "                        ends with a marker (default 1g)\n"
        "  --ulimit NAME=SOFT[:HARD]\n"
        "                        a setrlimit(2) limit of COMMAND (nofile=1024:2048, core=0;\n"
        "                        as, cpu, data, fsize, locks, memlock, msgqueue, nice, nproc,\n"
        "                        rss, rtprio, rttime, sigpending, stack), at most your own\n"
        "                        hard limit\n"
        "  --entrypoint CMD      replaces the image's Entrypoint (and, as podman, its Cmd);\n"
        "                        '[\"CMD\", \"ARG\"]' for several words, '' for none\n"
        "  --cap-drop CAP[,CAP]  drop capabilities of podman's default set (ALL for every one)\n"
        "  --cap-add CAP[,CAP]   keep them again (nook grants none outside the default set:\n"
        "                        CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID,\n"
        "                        SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, SETFCAP)\n"
        "  --init                accepted: nook's holder is the sandbox's init and reaps\n"
        "                        every orphan already\n"
        "  --platform linux/ARCH accepted for this machine's architecture; another is refused\n"
        "                        (nook emulates none)\n"
        "  --security-opt seccomp=unconfined|FILE\n"
        "                        no seccomp filter, or an OCI seccomp profile JSON file\n"
        "                        instead of nook's default filter\n"
        "\n"
        "Limits (of the whole session: every process in it, however started or reparented;\n"
        "a delegated cgroup v2 when there is one, else nook counts them):\n"
        "  -m, --memory SIZE     memory, tmpfs files included (512m, 1g; -1 for none, the\n"
        "                        default); above it every process of the session is killed\n"
        "  --pids-limit N        tasks (processes and threads; -1 for none, the default):\n"
        "                        forks past it fail\n"
        "  --cpus N              CPUs the session may use (1.5 for one and a half): cpu.max of\n"
        "                        a delegated cgroup v2 cpu controller; without one, accepted\n"
        "                        and reported as a downgrade\n"
        "  --disk SIZE           what the writable layer may hold (-1 for none, the default):\n"
        "                        a tmpfs size for a directory root, watched for an image\n"
        "\n"
        "Output:\n"
        "  --json                with -d: print {\"session\": ..., \"process_ref\": ...}\n"
        "  --verbose             print each stage's time and how the limits are enforced\n"
        "  -q, --quiet           no line on stderr for each downgrade taken (when auto falls\n"
        "                        back: a copy instead of an overlay, a weaker network, a limit\n"
        "                        nothing enforces...; 'nook session inspect' keeps them)\n"
        "  -h, --help            print this help\n"
        "\n"
        "podman's run flags that nook has not (--privileged, --pod, --restart, --pid...)\n"
        "are refused with what to use instead.\n"
        "\n"
        "Signals: SIGINT, SIGTERM and SIGHUP are forwarded to COMMAND (a third Ctrl-C kills\n"
        "it; SIGTERM and SIGHUP are followed by a kill 10 s later); with -it, keys go to\n"
        "COMMAND's terminal as typed. Whatever happens, the session is removed (unless -d).\n"
        "\n"
        "Examples:\n"
        "  nook image import app.tar && nook run app -- sh -c 'id; hostname'\n"
        "  nook run -it --rootfs-driver overlay --userns keep-id app sh\n"
        "  nook run --rootfs ./rootfs -- sh -c 'id; hostname'\n"
        "  nook run -it --rootfs ./rootfs -- sh\n"
        "  nook run -d --name work --rootfs ./rootfs -- sleep 1000\n"
        "  nook run -v ./proj:/src -w /src --rootfs ./rootfs -- make\n"
        "  nook run -v ~/data:/data:ro --tmpfs /scratch:size=256m --rootfs ./rootfs -- sh\n"
        "  nook --alias proj=$HOME/proj run --workspace proj:snapshot --rootfs ./rootfs -- sh\n";

void help_run(FILE *f) {
        fputs(run_usage, f);
}

void help_exec(FILE *f) {
        fputs("Usage: nook exec [OPTIONS] SESSION [--] COMMAND [ARG...]\n"
              "\n"
              "Runs COMMAND in a session that already exists (made by 'nook run -d' or 'nook\n"
              "session create'): no stage is repeated, so this is the fast way to run many\n"
              "commands in one sandbox. SESSION is a session's name, environment id or ref\n"
              "('nook session ls'). Exit codes as 'nook run'; the session stays. Mounts and\n"
              "the workspace are the session's, fixed when it was made (-v, --tmpfs, --mount,\n"
              "--workspace are refused here).\n"
              "\n"
              "Options:\n"
              "  -d, --detach          start COMMAND and print its process ref\n"
              "  -i, --interactive     forward standard input to COMMAND\n"
              "  -t, --tty             give COMMAND a terminal sized as ours (raw mode with -i)\n"
              "  -e, --env NAME=VALUE  set a variable (NAME alone copies ours); repeatable\n"
              "  --env-file FILE       variables from FILE: NAME=VALUE lines, '#' comments\n"
              "  -w, --workdir DIR     working directory inside (absolute)\n"
              "  -u, --user USER[:GROUP]  user inside\n"
              "  --timeout DURATION    kill COMMAND after DURATION (default: none)\n"
              "  --log-max SIZE        each capture log keeps SIZE bytes, then a marker (default 1g)\n"
              "  --json                with -d: print {\"process_ref\": ...}\n"
              "  --verbose             print the stage's time and how limits are enforced\n"
              "  -q, --quiet           accepted (the session's downgrades were reported when it\n"
              "                        was made)\n"
              "  -h, --help            print this help\n"
              "\n"
              "Example:\n"
              "  nook exec work -- sh -c 'echo hi > /tmp/x'; nook exec work cat /tmp/x\n",
              f);
}

static const struct option run_options[] = {
        CLI_PROCESS_OPTIONS,
        CLI_SESSION_OPTIONS,
        CLI_LIMIT_OPTIONS,
        { "security-opt", required_argument, NULL, OPT_SECURITY_OPT },
        { "rm", no_argument, NULL, OPT_RM },
        { "entrypoint", required_argument, NULL, OPT_ENTRYPOINT },
        { "init", no_argument, NULL, OPT_INIT },
        { "platform", required_argument, NULL, OPT_PLATFORM },
        { "cap-add", required_argument, NULL, OPT_CAP_ADD },
        { "cap-drop", required_argument, NULL, OPT_CAP_DROP },
        CLI_MOUNT_OPTIONS,
        CLI_COMMON_OPTIONS,
        { NULL, 0, NULL, 0 },
};

static const struct option exec_options[] = {
        CLI_PROCESS_OPTIONS,
        { "quiet", no_argument, NULL, 'q' }, /* the session's downgrades were said when it was made */
        CLI_MOUNT_OPTIONS,                   /* only to refuse them by name */
        { "secret", required_argument, NULL, OPT_SECRET },
        CLI_COMMON_OPTIONS,
        { NULL, 0, NULL, 0 },
};

/* /bin/sh of the root, looked up inside it (an absolute symlink resolves in the root). */
static bool root_has_sh(const char *root) {
        _cleanup_close_ int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
        _cleanup_close_ int fd = rfd < 0 ? -1 : (int)syscall(SYS_openat2, rfd, "bin/sh", &how, sizeof(how));
        return fd >= 0 || (rfd >= 0 && errno == ENOSYS);
}

static char *default_shell[] = { (char *)"/bin/sh", NULL };

typedef struct run_ctx {
        cli_session_opts s;
        cli_process_opts p;
        bool rm;
        int sigfd;
        nook_runtime *rt;
        char env_id[80];
        bool session_made; /* prepare_session was called: cleanup is owed */
        bool session_up;   /* ... and the session was prepared to the end */
        char *ref;
        char **image_argv; /* Entrypoint + (COMMAND or Cmd), owned */
        cli_run_flags f;
} run_ctx;

static void run_ctx_done(run_ctx *c) {
        cli_session_opts_done(&c->s);
        cli_process_opts_done(&c->p);
        free(c->ref);
        strv_free(c->image_argv);
        cli_run_flags_done(&c->f);
        nook_runtime_free(c->rt);
        if (c->sigfd >= 0)
                close(c->sigfd);
}

static size_t strv_len(char **v) {
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

/* head's words, then argc words of argv; NULL when out of memory. */
static char **argv_join(char **head, char **argv, size_t argc) {
        size_t h = strv_len(head);
        char **v = calloc(h + argc + 1, sizeof(char *));
        for (size_t i = 0; v && i < h + argc; i++)
                if (!(v[i] = strdup(i < h ? head[i] : argv[i - h])))
                        return strv_free(v);
        return v;
}

/* run's own options: 0 handled, 1 not one of them, else the exit code after reporting. */
static int run_opt(run_ctx *c, int opt, const char *arg) {
        switch (opt) {
        case OPT_RM:
                c->rm = true;
                return 0;
        case OPT_INIT: /* the holder is the sandbox's init already: it reaps every orphan */
                return 0;
        case OPT_ENTRYPOINT:
                return cli_opt_entrypoint(arg, &c->f, "run");
        case OPT_PLATFORM:
                return cli_opt_platform(arg, "run");
        case OPT_CAP_ADD:
        case OPT_CAP_DROP:
                return cli_opt_cap(arg, opt == OPT_CAP_ADD, &c->f, "run");
        }
        return cli_podman_flag(opt, "run");
}

/* -1: go on; else the exit code (help printed, or a usage error reported). */
static int parse_run(run_ctx *c, int argc, char **argv) {
        int opt;
        optind = 1;
        opterr = 0;
        _cleanup_free_ struct option *options = cli_options_with_podman(run_options);
        if (!options)
                return EXIT_NOOK;
        while ((opt = getopt_long(argc, argv, "+:dite:w:u:v:p:m:qh", options, NULL)) != -1) {
                if (opt == 'h') {
                        help_run(stdout);
                        return 0;
                }
                /* podman's flag without its value, or one of its letters: what to use instead */
                if (opt == ':' && cli_podman_flag(optopt, "run") != 1)
                        return EXIT_NOOK;
                if (opt == '?' && optopt && cli_podman_short(optopt, "run") != 1)
                        return EXIT_NOOK;
                if (opt == '?' || opt == ':')
                        return cli_getopt_error(opt, argv, options, "run");
                if (opt == 'm') /* podman's -m */
                        opt = OPT_MEMORY;
                int r = run_opt(c, opt, optarg);
                if (r == 0)
                        continue;
                if (r != 1)
                        return r;
                r = cli_session_opt(opt, optarg, &c->s, "run");
                if (r == 1)
                        r = cli_process_opt(opt, optarg, &c->p, "run");
                if (r != 0)
                        return r == 1 ? cli_usage_error("run", "unexpected option '%s'", argv[optind - 1]) : r;
        }
        if (!c->s.rootfs && optind < argc)
                c->s.image = argv[optind++];
        if (optind < argc && strcmp(argv[optind], "--") == 0)
                optind++;
        c->p.argv = argv + optind;
        c->p.argc = (size_t)(argc - optind);
        if (!c->s.rootfs && !c->s.image)
                return cli_usage_error("run", "missing IMAGE (nook images lists them; nook image import FILE adds "
                                              "one) or --rootfs DIR");
        int rc = cli_root_check(&c->s, "run");
        if (rc)
                return rc;
        if (c->s.rootfs_rw && c->s.read_only)
                return cli_usage_error("run", "--rootfs-rw and --read-only contradict each other: choose one");
        if (c->p.json && !c->p.detach)
                return cli_usage_error("run", "--json goes with -d (attached, the output is the command's own)");
        rc = cli_session_check(&c->s, "run");
        if (rc)
                return rc;
        if (c->s.image)
                return -1;                           /* the image's Entrypoint and Cmd: cmd_run asks the store */
        if (c->f.entrypoint && c->f.entrypoint[0]) { /* a directory has no Entrypoint: --entrypoint's words lead */
                c->image_argv = argv_join(c->f.entrypoint, c->p.argv, c->p.argc);
                if (!c->image_argv)
                        return EXIT_NOOK;
                c->p.argv = c->image_argv;
                c->p.argc = strv_len(c->image_argv);
        }
        if (!c->p.argc) {
                if (!root_has_sh(c->s.rootfs))
                        return cli_usage_error("run",
                                               "%s has no /bin/sh to run by default: give a command "
                                               "(nook run --rootfs %s -- COMMAND)",
                                               c->s.rootfs, c->s.rootfs);
                c->p.argv = default_shell;
                c->p.argc = 1;
        }
        return -1;
}

/* docker's rule: the image's Entrypoint, then COMMAND if given, else the image's Cmd.
 * --entrypoint replaces the Entrypoint and, as podman's, drops the image's Cmd too
 * ('' leaves no Entrypoint at all). */
static int image_command(run_ctx *c) {
        /* resolve_image answers Entrypoint and Cmd (ext), and the session reuses its digest */
        int rc = cli_resolve_image(c->rt, &c->s, c->p.verbose);
        if (rc)
                return rc;
        const char *res = c->s.image_resolved;
        size_t n = 0, cap = c->p.argc + strv_len(c->f.entrypoint) + 64;
        char **v = calloc(cap + 1, sizeof(char *));
        if (!v)
                return EXIT_NOOK;
        for (int part = 0; part < 2; part++) {
                if (part == 0 && c->f.entrypoint_set) {
                        for (size_t i = 0; c->f.entrypoint[i] && n < cap; i++)
                                v[n++] = strdup(c->f.entrypoint[i]);
                        continue;
                }
                if (part == 1 && (c->p.argc || c->f.entrypoint_set)) {
                        for (size_t i = 0; i < c->p.argc && n < cap; i++)
                                v[n++] = strdup(c->p.argv[i]);
                        break;
                }
                for (int i = 0; n < cap; i++) {
                        char ptr[64];
                        snprintf(ptr, sizeof(ptr), "/nook/%s/%d", part ? "cmd" : "entrypoint", i);
                        char *a = cli_json_get(res, ptr);
                        if (!a)
                                break;
                        v[n++] = a;
                }
        }
        if (!n) {
                strv_free(v);
                if (c->f.entrypoint_set)
                        return cli_usage_error("run", "--entrypoint '' and no COMMAND: nothing to run; give a command");
                return cli_usage_error("run", "the image %s names no command (no Entrypoint, no Cmd): give one",
                                       c->s.image);
        }
        for (size_t i = 0; i < n; i++)
                if (!v[i]) {
                        strv_free(v);
                        return EXIT_NOOK;
                }
        c->image_argv = v;
        c->p.argv = v;
        c->p.argc = n;
        return 0;
}

static int name_taken(nook_runtime *rt, const char *name, const char *verb) {
        _cleanup_free_ char *env = NULL;
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        int r = nook_runtime_session_resolve(rt, name, &env, &err);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return cli_report(err);
        return cli_usage_error(verb,
                               "a session named '%s' exists already: use 'nook exec %s ...', or remove it "
                               "with 'nook session rm %s'",
                               name, name, name);
}

/* The stages up to a prepared session; on failure or a signal, the session is removed. */
static int run_prepare(run_ctx *c) {
        int rc = c->s.name ? name_taken(c->rt, c->s.name, "run") : 0;
        if (rc)
                return rc;
        c->session_made = true;
        rc = cli_session_up(c->rt, c->env_id, &c->s, !c->p.detach, c->sigfd, c->p.verbose);
        c->session_up = rc == 0;
        return rc;
}

/* --verbose: how start_process says the limits are enforced (a limit asked for and not
 * enforced is a downgrade cli_session_up reported). */
static void show_limits(const cli_process_opts *p, const char *summary) {
        if (p->verbose && summary)
                fprintf(stderr, "nook: %s\n", summary);
}

/* -d --rm: 'nook session rm --after REF ENV' in its own session, with /dev/null for its
 * stdio (a caller reading our stdout sees its end when we return): it waits for the
 * process and removes the session, as podman's conmon does for --rm. */
static int remove_after(const char *env_id, const char *ref) {
        char *argv[10];
        int n = 0;
        argv[n++] = (char *)"nook";
        if (arg_storage) {
                argv[n++] = (char *)"--storage";
                argv[n++] = (char *)arg_storage;
        }
        const char *tail[] = { "session", "rm", "--after", ref, env_id };
        for (size_t i = 0; i < ELEMENTSOF(tail); i++)
                argv[n++] = (char *)tail[i];
        argv[n] = NULL;
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t at;
        posix_spawn_file_actions_init(&fa);
        posix_spawnattr_init(&at);
        for (int fd = 0; fd < 3; fd++)
                posix_spawn_file_actions_addopen(&fa, fd, "/dev/null", fd ? O_WRONLY : O_RDONLY, 0);
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK);
        sigset_t none;
        sigemptyset(&none);
        posix_spawnattr_setsigmask(&at, &none);
        pid_t pid;
        extern char **environ;
        int r = posix_spawn(&pid, "/proc/self/exe", &fa, &at, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&at);
        if (r == 0)
                return 0;
        fprintf(stderr,
                "nook: --rm: starting the removal after the process: %s (remove it with 'nook session rm %s')\n",
                strerror(r), env_id);
        return EXIT_NOOK;
}

static int print_detached(const char *session, const char *ref, bool json) {
        if (json) {
                json_t *o = json_object();
                int r = session ? json_object_set_new(o, "session", cli_json_str(session)) : 0;
                r |= json_object_set_new(o, "process_ref", cli_json_str(ref));
                if (r) {
                        json_decref(o);
                        o = NULL;
                }
                _cleanup_free_ char *s = cli_json_text(o);
                if (!s) {
                        fputs("nook: out of memory\n", stderr);
                        return EXIT_NOOK;
                }
                printf("%s\n", s);
        } else if (session)
                printf("%s\n%s\n", session, ref);
        else
                printf("%s\n", ref);
        if (fflush(stdout) == 0)
                return 0;
        fprintf(stderr, "nook: writing the %s: %s\n", session ? "session name" : "process ref", strerror(errno));
        return EXIT_NOOK;
}

/* Attached: copy until the end; the command's exit code, or 125. */
static int attach_and_wait(nook_runtime *rt, const char *ref, const cli_process_opts *p, int sigfd) {
        int code = 0;
        double t0 = cli_now_ms();
        int rc = cli_attach(rt, ref, p, sigfd, &code);
        nook_trace("exit seen");
        if (p->verbose)
                fprintf(stderr, "nook: %-19s %7.1f ms\n", "attached", cli_now_ms() - t0);
        if (rc)
                return rc;
        if (code == 137)
                cli_explain_kill(rt, ref, p);
        return code;
}

int cmd_run(int argc, char **argv) {
        _cleanup_(run_ctx_done) run_ctx c = { .s = CLI_SESSION_OPTS_INIT, .sigfd = -1 };
        int rc = parse_run(&c, argc, argv);
        if (rc >= 0)
                return rc;
        if (c.f.caps_set && !(c.p.caps = cli_caps_list(&c.f)))
                return EXIT_NOOK;
        if ((c.sigfd = cli_signals_block()) < 0) {
                fprintf(stderr, "nook: setting up signal handling: %s\n", strerror(-c.sigfd));
                return EXIT_NOOK;
        }
        if (cli_session_runtime(&c.s, &c.rt) < 0)
                return EXIT_NOOK;
        char hex[13];
        if (!c.s.name && nook_random_hex_into(hex, 6) < 0)
                return EXIT_NOOK;
        snprintf(c.env_id, sizeof(c.env_id), "%s%s", c.s.name ? "" : "run-", c.s.name ? c.s.name : hex);
        if (c.s.image && (rc = image_command(&c)) != 0)
                return rc;

        rc = run_prepare(&c);
        _cleanup_free_ char *summary = NULL;
        if (rc == 0)
                rc = cli_start(c.rt, c.env_id, &c.s, &c.p, "main", "run", &c.ref, &summary, NULL);
        if (rc == 0) {
                show_limits(&c.p, summary);
                if (!c.p.detach)
                        rc = attach_and_wait(c.rt, c.ref, &c.p, c.sigfd);
                else {
                        /* kept only when it was asked for to the end and its name was shown */
                        int sig = cli_signal_take(c.sigfd);
                        rc = sig ? 128 + sig : print_detached(c.env_id, c.ref, c.p.json);
                        if (rc == 0 && c.rm)
                                rc = remove_after(c.env_id, c.ref);
                        if (rc == 0)
                                return 0;
                }
        }
        /* Whatever happened, a session of ours is removed: a failure to remove it wins
         * over a success of the command, never over its failure. */
        if (c.session_made) {
                int down = c.session_up ? cli_session_down(c.rt, c.env_id, "run", c.p.verbose)
                                        : cli_session_abandon(c.rt, c.env_id, "run", c.p.verbose);
                if (down && rc == 0)
                        rc = down;
        }
        return rc;
}

/* ---- exec ------------------------------------------------------------------------------- */

int cmd_exec(int argc, char **argv) {
        _cleanup_(cli_process_opts_done) cli_process_opts p = { 0 };
        int opt;
        optind = 1;
        opterr = 0;
        while ((opt = getopt_long(argc, argv, "+:dite:w:u:v:qh", exec_options, NULL)) != -1) {
                if (opt == 'h') {
                        help_exec(stdout);
                        return 0;
                }
                if (opt == '?' || opt == ':')
                        return cli_getopt_error(opt, argv, exec_options, "exec");
                if (opt == 'q')
                        continue;
                if (opt == OPT_SECRET)
                        return cli_usage_error("exec",
                                               "exec does not take --secret: a session's secrets are given when it "
                                               "is prepared ('nook run' or 'nook session create'), and every 'nook "
                                               "exec' in it has its env secrets and files");
                if (cli_is_mount_opt(opt))
                        return cli_usage_error("exec",
                                               "exec does not take %s: a session's mounts and workspace are fixed "
                                               "when it is prepared (give them to 'nook run' or 'nook session "
                                               "create')",
                                               opt == 'v'                  ? "-v"
                                               : opt == OPT_TMPFS          ? "--tmpfs"
                                               : opt == OPT_MOUNT          ? "--mount"
                                               : opt == OPT_WORKSPACE      ? "--workspace"
                                               : opt == OPT_WORKSPACE_DEST ? "--workspace-dest"
                                                                           : "--deny-single-file");
                int r = cli_process_opt(opt, optarg, &p, "exec");
                if (r != 0)
                        return r == 1 ? cli_usage_error("exec", "unexpected option '%s'", argv[optind - 1]) : r;
        }
        if (optind >= argc)
                return cli_usage_error("exec", "missing SESSION and COMMAND (nook exec SESSION -- COMMAND...)");
        const char *session = argv[optind++];
        if (optind < argc && strcmp(argv[optind], "--") == 0)
                optind++;
        if (optind >= argc)
                return cli_usage_error("exec", "missing COMMAND to run in session '%s'", session);
        if (p.json && !p.detach)
                return cli_usage_error("exec", "--json goes with -d (attached, the output is the command's own)");
        p.argv = argv + optind;
        p.argc = (size_t)(argc - optind);

        _cleanup_close_ int sigfd = cli_signals_block();
        if (sigfd < 0) {
                fprintf(stderr, "nook: setting up signal handling: %s\n", strerror(-sigfd));
                return EXIT_NOOK;
        }
        _cleanup_(cli_runtime_freep) nook_runtime *rt = NULL;
        if (cli_open_runtime(&rt) < 0)
                return EXIT_NOOK;
        _cleanup_free_ char *env = NULL;
        if (cli_session_resolve(rt, session, &env) != 0)
                return EXIT_NOOK;
        char id[32] = "exec-";
        if (nook_random_hex_into(id + 5, 6) < 0)
                return EXIT_NOOK;
        _cleanup_free_ char *ref = NULL, *summary = NULL;
        int rc = cli_start(rt, env, NULL, &p, id, id, &ref, &summary, NULL);
        if (rc)
                return rc;
        show_limits(&p, summary);
        if (p.detach)
                return print_detached(NULL, ref, p.json);
        return attach_and_wait(rt, ref, &p, sigfd);
}
