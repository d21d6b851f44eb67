/* nook CLI — `nook run`'s podman habits (issue 14): --entrypoint, --platform, --ulimit,
 * --cap-add/--cap-drop, the flags accepted for podman's sake (--init, -v :z), and every
 * podman run flag nook does not have, matched exactly (no abbreviation of a nook flag
 * swallows it) and answered with what to use instead. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include "run.h"
#include "util/rlimit.h"

/* podman run's flags that nook has no equivalent for: the message names what to do. */
static const struct podman_flag {
        const char *name;
        int has_arg;
        const char *instead;
} podman_flags[] = {
        { "privileged", optional_argument,
          "nook has no privileged mode: the sandbox keeps podman's default capabilities; --security-opt "
          "seccomp=unconfined lifts the seccomp filter" },
        { "pod", required_argument,
          "nook has no pods: make one session (nook session create --name NAME) and run each command in it "
          "with 'nook exec NAME'" },
        { "device", required_argument, "nook passes no host devices into a sandbox" },
        { "gpus", required_argument, "nook passes no host devices (GPUs included) into a sandbox" },
        { "restart", required_argument,
          "nook has no restart policy: run 'nook run' under systemd, Slurm or a shell loop" },
        { "pid", required_argument, "every nook sandbox has its own pid namespace; there is no sharing" },
        { "ipc", required_argument, "every nook sandbox has its own IPC namespace; there is no sharing" },
        { "uts", required_argument, "every nook sandbox has its own hostname (--hostname NAME)" },
        { "cgroupns", required_argument,
          "nook places the session in a cgroup itself (its limits: --memory, "
          "--pids-limit, --cpus)" },
        { "cgroups", required_argument, "nook places the session in a cgroup itself" },
        { "cgroup-parent", required_argument, "nook places the session in a cgroup itself" },
        { "cpu-shares", required_argument, "nook's cpu limit is --cpus N" },
        { "cpuset-cpus", required_argument, "nook's cpu limit is --cpus N" },
        { "cpuset-mems", required_argument, "nook's cpu limit is --cpus N" },
        { "cpu-quota", required_argument, "nook's cpu limit is --cpus N" },
        { "cpu-period", required_argument, "nook's cpu limit is --cpus N" },
        { "memory-swap", required_argument, "nook's memory limit is --memory SIZE (tmpfs files included)" },
        { "memory-reservation", required_argument, "nook's memory limit is --memory SIZE" },
        { "oom-kill-disable", optional_argument, "over --memory, every process of the session is killed" },
        { "oom-score-adj", required_argument, "nook sets no OOM score" },
        { "blkio-weight", required_argument, "nook's disk limit is --disk SIZE (what the writable layer holds)" },
        { "shm-size", required_argument, "give /dev/shm a size with --tmpfs /dev/shm:size=SIZE" },
        { "sysctl", required_argument, "nook sets no sysctls in a sandbox" },
        { "health-cmd", required_argument, "nook has no health checks: 'nook exec SESSION CMD' runs one" },
        { "log-driver", required_argument,
          "nook keeps each process's output in capture logs ('nook logs "
          "REF'); --log-max SIZE bounds them" },
        { "log-opt", required_argument, "nook's capture logs are bounded with --log-max SIZE" },
        { "expose", required_argument, "nothing to expose: -p PORT publishes a port on 127.0.0.1" },
        { "publish-all", optional_argument, "publish each port with -p PORT" },
        { "ip", required_argument, "slirp4netns gives the sandbox 10.0.2.100; nook sets no address" },
        { "ip6", required_argument, "nook's sandboxes have no IPv6 address of their choosing" },
        { "mac-address", required_argument, "nook sets no MAC address" },
        { "network-alias", required_argument, "nook has no networks between sandboxes; --add-host NAME:IP" },
        { "dns-search", required_argument, "nook sets only resolvers: --dns IP" },
        { "dns-option", required_argument, "nook sets only resolvers: --dns IP" },
        { "no-hosts", optional_argument, "nook always writes /etc/hosts (add lines with --add-host NAME:IP)" },
        { "stop-signal", required_argument, "send any signal with 'nook kill --signal SIG REF'" },
        { "stop-timeout", required_argument, "'nook kill --grace DURATION REF' waits before the kill" },
        { "sig-proxy", required_argument, "nook always forwards SIGINT, SIGTERM and SIGHUP to the command" },
        { "attach", required_argument, "nook run is attached to stdout and stderr unless -d; -i adds stdin" },
        { "detach-keys", required_argument, "nook has no detach keys: start with -d instead" },
        { "replace", optional_argument, "remove the old session first: nook session rm NAME" },
        { "pull", required_argument,
          "nook never pulls: import the image from a file (podman save -o app.tar IMAGE; nook image import "
          "app.tar)" },
        { "arch", required_argument, "nook runs images of this machine's architecture (--platform linux/ARCH)" },
        { "os", required_argument, "nook runs Linux images only" },
        { "variant", required_argument, "nook runs images of this machine's architecture" },
        { "creds", required_argument, "nook never pulls: import the image from a file (nook image import FILE)" },
        { "authfile", required_argument, "nook never pulls: import the image from a file (nook image import FILE)" },
        { "tls-verify", required_argument, "nook never pulls: import the image from a file (nook image import FILE)" },
        { "cidfile", required_argument, "nook run -d --json prints the session and the process ref" },
        { "pidfile", required_argument, "nook run -d --json prints the session and the process ref" },
        { "conmon-pidfile", required_argument, "nook has no conmon: nook run -d --json prints the refs" },
        { "env-host", optional_argument, "copy a variable of yours with -e NAME (no value)" },
        { "unsetenv", required_argument, "nook sets only what you give (-e) and the image's Env" },
        { "group-add", required_argument, "the workload's groups are its user's (-u USER[:GROUP])" },
        { "uidmap", required_argument, "choose an identity with --userns root|keep-id|subuid" },
        { "gidmap", required_argument, "choose an identity with --userns root|keep-id|subuid" },
        { "subuidname", required_argument, "nook uses your /etc/subuid range: --userns subuid" },
        { "subgidname", required_argument, "nook uses your /etc/subgid range: --userns subuid" },
        { "volumes-from", required_argument, "nook has no volumes: bind the same host directory with -v" },
        { "image-volume", required_argument, "nook makes no volumes for an image's VOLUME: -v or --tmpfs" },
        { "systemd", required_argument, "nook has no systemd mode" },
        { "passwd-entry", required_argument, "--userns keep-id gives your user an /etc/passwd entry" },
        { "read-only-tmpfs", required_argument, "with --read-only, add writable places with --tmpfs DST" },
        { "annotation", required_argument, "nook keeps labels: --label KEY=VALUE" },
        { "label-file", required_argument, "give each label with --label KEY=VALUE" },
        { "tz", required_argument, "set TZ with -e TZ=ZONE" },
        { "umask", required_argument, "set it in the command: sh -c 'umask 022; exec CMD'" },
        { "preserve-fds", required_argument, "nook passes only stdin, stdout and stderr" },
        { "init-path", required_argument, "nook reaps the sandbox's processes itself (--init is accepted)" },
        { "hostuser", required_argument, "--userns keep-id gives your user an /etc/passwd entry" },
        { "http-proxy", required_argument, "set the proxy variables with -e" },
        { "personality", required_argument, "nook sets no personality" },
        { "requires", required_argument, "nook has no container dependencies" },
        { "sdnotify", required_argument, "nook has no sd_notify support" },
        { "pod-id-file", required_argument, "nook has no pods: a session plays that part" },
        { "rdt-class", required_argument, "nook sets no RDT class" },
        { "chrootdirs", required_argument, "nook has no chroot directories" },
        { "decryption-key", required_argument, "nook imports only unencrypted images" },
        { "health-interval", required_argument, "nook has no health checks" },
        { "no-healthcheck", optional_argument, "nook has no health checks (none to disable)" },
        { "seccomp-policy", required_argument, "nook's seccomp is --security-opt seccomp=unconfined|FILE" },
        { "device-cgroup-rule", required_argument, "nook passes no host devices into a sandbox" },
        { "blkio-weight-device", required_argument, "nook's disk limit is --disk SIZE" },
        { "device-read-bps", required_argument, "nook has no I/O limits (--disk SIZE bounds what is written)" },
        { "device-write-bps", required_argument, "nook has no I/O limits (--disk SIZE bounds what is written)" },
        { "memory-swappiness", required_argument, "nook's memory limit is --memory SIZE" },
        { "kernel-memory", required_argument, "nook's memory limit is --memory SIZE" },
        { "cpu-rt-period", required_argument, "nook's cpu limit is --cpus N" },
        { "cpu-rt-runtime", required_argument, "nook's cpu limit is --cpus N" },
};

#define N_PODMAN (sizeof(podman_flags) / sizeof(podman_flags[0]))

struct option *cli_options_with_podman(const struct option *base) {
        size_t n = 0;
        while (base[n].name)
                n++;
        struct option *o = calloc(n + N_PODMAN + 1, sizeof(*o));
        if (!o)
                return NULL;
        memcpy(o, base, n * sizeof(*o));
        for (size_t i = 0; i < N_PODMAN; i++)
                o[n + i] = (struct option){ podman_flags[i].name, podman_flags[i].has_arg, NULL,
                                            OPT_PODMAN_BASE + (int)i };
        return o;
}

int cli_podman_flag(int opt, const char *verb) {
        if (opt < OPT_PODMAN_BASE || opt >= OPT_PODMAN_BASE + (int)N_PODMAN)
                return 1;
        const struct podman_flag *f = &podman_flags[opt - OPT_PODMAN_BASE];
        return cli_usage_error(verb, "--%s is podman's, not nook's: %s", f->name, f->instead);
}

int cli_podman_short(int c, const char *verb) {
        static const struct {
                char c;
                const char *flag;
        } map[] = { { 'P', "publish-all" }, { 'c', "cpu-shares" }, { 'a', "attach" } };
        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
                if (map[i].c == c)
                        for (size_t k = 0; k < N_PODMAN; k++)
                                if (strcmp(podman_flags[k].name, map[i].flag) == 0)
                                        return cli_usage_error(verb, "-%c (--%s) is podman's, not nook's: %s", c,
                                                               map[i].flag, podman_flags[k].instead);
        return 1;
}

/* --entrypoint CMD or '["CMD", "ARG"]' (podman's JSON form); '' clears the image's. */
int cli_opt_entrypoint(const char *arg, cli_run_flags *f, const char *verb) {
        strv_free(f->entrypoint);
        f->entrypoint = NULL;
        if (arg[0] != '[') {
                f->entrypoint = calloc(2, sizeof(char *));
                if (!f->entrypoint || (arg[0] && !(f->entrypoint[0] = strdup(arg))))
                        return EXIT_NOOK;
                f->entrypoint_set = true;
                return 0;
        }
        json_error_t jerr;
        json_t *v = json_loads(arg, 0, &jerr);
        size_t n = json_is_array(v) ? json_array_size(v) : 0;
        bool ok = json_is_array(v) && n < 256;
        for (size_t i = 0; ok && i < n; i++)
                ok = json_is_string(json_array_get(v, i));
        if (!ok) {
                json_decref(v);
                return cli_usage_error(verb,
                                       "--entrypoint '%s': a command, or a JSON array of strings such as "
                                       "'[\"/bin/sh\", \"-c\"]'",
                                       arg);
        }
        f->entrypoint = calloc(n + 1, sizeof(char *));
        for (size_t i = 0; f->entrypoint && i < n; i++)
                if (!(f->entrypoint[i] = strdup(json_string_value(json_array_get(v, i))))) {
                        json_decref(v);
                        return EXIT_NOOK;
                }
        json_decref(v);
        f->entrypoint_set = f->entrypoint != NULL;
        return f->entrypoint ? 0 : EXIT_NOOK;
}

/* uname's machine as OCI names it (the Go names podman uses). */
static const char *oci_arch(const char *machine) {
        static const char *const map[][2] = {
                { "x86_64", "amd64" },    { "aarch64", "arm64" }, { "i686", "386" },
                { "i386", "386" },        { "armv7l", "arm" },    { "armv6l", "arm" },
                { "ppc64le", "ppc64le" }, { "s390x", "s390x" },   { "riscv64", "riscv64" },
        };
        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
                if (strcmp(machine, map[i][0]) == 0)
                        return map[i][1];
        return machine;
}

/* --platform OS/ARCH[/VARIANT]: this machine's only; nook emulates nothing. */
int cli_opt_platform(const char *arg, const char *verb) {
        struct utsname u;
        if (uname(&u) < 0)
                return cli_usage_error(verb, "--platform: uname: %s", strerror(errno));
        const char *here = oci_arch(u.machine);
        _cleanup_free_ char *copy = strdup(arg);
        if (!copy)
                return EXIT_NOOK;
        char *arch = strchr(copy, '/');
        if (arch)
                *arch++ = 0;
        char *variant = arch ? strchr(arch, '/') : NULL;
        if (variant)
                *variant++ = 0;
        if (strcmp(copy, "linux") != 0 || !arch || !*arch)
                return cli_usage_error(verb, "--platform %s: nook runs linux/%s (this machine) only", arg, here);
        if (strcmp(arch, here) != 0 && strcmp(arch, u.machine) != 0)
                return cli_usage_error(verb,
                                       "--platform %s: this machine is linux/%s and nook emulates no other "
                                       "architecture: run a linux/%s image, or use a machine of that "
                                       "architecture",
                                       arg, here, here);
        return 0;
}

/* One RLIMIT value of --ulimit: a number, or -1 / unlimited. */
static bool ulimit_value(const char *s, json_int_t *ret) {
        if (strcmp(s, "-1") == 0 || strcmp(s, "unlimited") == 0) {
                *ret = -1;
                return true;
        }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || *end || s[0] == '-' || v > (unsigned long long)INT64_MAX)
                return false;
        *ret = (json_int_t)v;
        return true;
}

/* --ulimit NAME=SOFT[:HARD] (podman's, and docker's): setrlimit(2) in the workload,
 * through the process's posix_rlimits. */
int cli_opt_ulimit(const char *arg, cli_process_opts *p, const char *verb) {
        _cleanup_free_ char *copy = strdup(arg);
        if (!copy)
                return EXIT_NOOK;
        char *eq = strchr(copy, '=');
        if (eq)
                *eq++ = 0;
        const char *name = copy;
        int resource = nook_rlimit_by_name(name);
        bool known = resource >= 0;
        if (!eq || !known)
                return cli_usage_error(verb,
                                       "--ulimit %s: expected NAME=SOFT[:HARD], NAME one of " NOOK_RLIMIT_NAMES
                                       " (nofile=1024:2048)",
                                       arg);
        char *colon = strchr(eq, ':');
        if (colon)
                *colon++ = 0;
        json_int_t soft, hard;
        if (!ulimit_value(eq, &soft) || !ulimit_value(colon ? colon : eq, &hard))
                return cli_usage_error(verb, "--ulimit %s: SOFT and HARD are numbers (or -1 for unlimited)", arg);
        if (soft < 0 || hard < 0)
                return cli_usage_error(verb,
                                       "--ulimit %s: nook cannot raise a limit to unlimited: a sandbox's limits "
                                       "stay within yours (ulimit -H -a shows them); give a number",
                                       arg);
        if (soft > hard)
                return cli_usage_error(verb, "--ulimit %s: the soft limit is above the hard one", arg);
        /* raising a hard limit needs CAP_SYS_RESOURCE of the host: a sandbox stays within ours */
        struct rlimit mine;
        if (getrlimit(resource, &mine) == 0 && mine.rlim_max != RLIM_INFINITY && (rlim_t)hard > mine.rlim_max)
                return cli_usage_error(verb,
                                       "--ulimit %s: above your own hard limit (%llu): a sandbox cannot raise it; "
                                       "give at most %llu",
                                       arg, (unsigned long long)mine.rlim_max, (unsigned long long)mine.rlim_max);
        if (!p->rlimits && !(p->rlimits = json_object()))
                return EXIT_NOOK;
        char low[16];
        size_t n = 0;
        for (; name[n] && n < sizeof(low) - 1; n++)
                low[n] = (char)(name[n] >= 'A' && name[n] <= 'Z' ? name[n] + 32 : name[n]);
        low[n] = 0;
        if (json_object_set_new(p->rlimits, low, json_pack("{s:I,s:I}", "soft", soft, "hard", hard)) < 0)
                return EXIT_NOOK;
        return 0;
}

/* podman's default capability set: all nook grants (SECURITY.md S9). */
static const char *const default_caps[] = { "CHOWN",  "DAC_OVERRIDE", "FOWNER",  "FSETID",           "KILL",
                                            "SETGID", "SETUID",       "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT",
                                            "SETFCAP" };
#define N_CAPS (sizeof(default_caps) / sizeof(default_caps[0]))

static int cap_index(const char *name) {
        if (strncasecmp(name, "CAP_", 4) == 0)
                name += 4;
        for (size_t i = 0; i < N_CAPS; i++)
                if (strcasecmp(name, default_caps[i]) == 0)
                        return (int)i;
        return -1;
}

/* --cap-add / --cap-drop NAME[,NAME]: the set starts as podman's default; ALL drops every
 * one; an add of a capability outside the default set is refused by name (nook never
 * grants more, S9: no SYS_ADMIN, NET_ADMIN, SYS_PTRACE...). */
int cli_opt_cap(const char *arg, bool add, cli_run_flags *f, const char *verb) {
        if (!f->caps_set) {
                f->caps = (1u << N_CAPS) - 1;
                f->caps_set = true;
        }
        _cleanup_free_ char *copy = strdup(arg);
        if (!copy)
                return EXIT_NOOK;
        for (char *c = copy, *next; c; c = next) {
                next = strchr(c, ',');
                if (next)
                        *next++ = 0;
                if (strcasecmp(c, "ALL") == 0) {
                        if (add)
                                return cli_usage_error(verb, "--cap-add ALL: nook grants at most podman's default "
                                                             "capabilities (CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, "
                                                             "SETGID, SETUID, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, "
                                                             "SETFCAP), which a sandbox has already");
                        f->caps = 0;
                        continue;
                }
                int i = cap_index(c);
                if (i < 0)
                        return cli_usage_error(verb,
                                               "--cap-%s %s: %s; nook's sandboxes have at most podman's default "
                                               "set: CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID, "
                                               "SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, SETFCAP",
                                               add ? "add" : "drop", c,
                                               add ? "nook does not grant it (SECURITY.md S9)"
                                                   : "not a capability a sandbox has");
                if (add)
                        f->caps |= 1u << i;
                else
                        f->caps &= ~(1u << i);
        }
        return 0;
}

/* The capabilities the process keeps, "CHOWN,KILL" (process ext "capabilities"), or NULL
 * when neither --cap-add nor --cap-drop was given. */
char *cli_caps_list(const cli_run_flags *f) {
        if (!f->caps_set)
                return NULL;
        char buf[256] = "";
        for (size_t i = 0; i < N_CAPS; i++)
                if (f->caps & (1u << i)) {
                        strcat(buf, buf[0] ? "," : "");
                        strcat(buf, default_caps[i]);
                }
        return strdup(buf);
}

void cli_run_flags_done(cli_run_flags *f) {
        strv_free(f->entrypoint);
        f->entrypoint = NULL;
}
