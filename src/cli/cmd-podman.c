/* nook CLI — what a podman user types first: `nook version`, `nook info` (the host,
 * the store and the run dir, and the findings of the same probe as `nook caps`),
 * `nook rmi` (nook image rm), and for a verb nook does not have, what to use instead. */
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cli.h"

void help_version(FILE *f) {
        fputs("Usage: nook version [--format json]\n"
              "\n"
              "Prints nook's version and the OS/architecture it runs on (also: nook --version).\n"
              "\n"
              "  -f, --format json  {\"version\": ..., \"os\": ..., \"arch\": ..., \"os_arch\": ...}\n"
              "  -h, --help         print this help\n",
              f);
}

void help_info(FILE *f) {
        fputs("Usage: nook info [--format json]\n"
              "\n"
              "Describes this host as nook sees it, as 'podman info': host name, kernel,\n"
              "architecture, whether nook runs rootless, the data dir (image store, journal),\n"
              "the run dir (sessions), the rootfs drivers and network modes available, and\n"
              "the health and every finding of 'nook caps' (the same probe, not a second one).\n"
              "\n"
              "  -f, --format json  one JSON object (findings as in 'nook caps --json')\n"
              "  -h, --help         print this help\n",
              f);
}

void help_rmi(FILE *f) {
        fputs("Usage: nook rmi IMAGE...\n"
              "\n"
              "Removes images: the same as 'nook image rm' (a name goes; an image goes with its\n"
              "last name; refused while a session uses it).\n"
              "\n"
              "  -h, --help  print this help\n",
              f);
}

/* --format json (or -f json); 1 when given, 0 when not, EXIT_NOOK after reporting. */
static int format_json(int argc, char **argv, const char *verb, void (*help)(FILE *)) {
        int json = 0;
        for (int i = 1; i < argc; i++) {
                const char *v = NULL;
                if (cli_is_help(argv[i])) {
                        help(stdout);
                        return -1;
                } else if (strcmp(argv[i], "--json") == 0)
                        v = "json";
                else if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--format") == 0)
                        v = i + 1 < argc ? argv[++i] : "";
                else if (strncmp(argv[i], "--format=", 9) == 0)
                        v = argv[i] + 9;
                else
                        return cli_usage_error(verb, "unexpected argument '%s'", argv[i]);
                if (strcmp(v, "json") != 0)
                        return cli_usage_error(verb,
                                               "--format '%s': nook prints text or JSON (--format json), no Go "
                                               "templates; pick fields with jq",
                                               v);
                json = 1;
        }
        return json;
}

/* podman's and the OCI's names for the machine's architecture */
static const char *oci_arch(const char *machine) {
        static const char *const map[][2] = { { "x86_64", "amd64" },   { "aarch64", "arm64" },   { "armv7l", "arm" },
                                              { "i686", "386" },       { "ppc64le", "ppc64le" }, { "s390x", "s390x" },
                                              { "riscv64", "riscv64" } };
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (strcmp(machine, map[i][0]) == 0)
                        return map[i][1];
        return machine;
}

int cmd_version(int argc, char **argv) {
        int json = format_json(argc, argv, "version", help_version);
        if (json < 0)
                return 0;
        if (json > 1)
                return json;
        struct utsname u;
        if (uname(&u) < 0)
                snprintf(u.machine, sizeof(u.machine), "unknown");
        char os_arch[80];
        snprintf(os_arch, sizeof(os_arch), "linux/%s", oci_arch(u.machine));
        if (json)
                return cli_json_print(json_pack("{s:s,s:s,s:s,s:s}", "version", nook_version(), "os", "linux", "arch",
                                                oci_arch(u.machine), "os_arch", os_arch));
        printf("Version:      %s\nOS/Arch:      %s\n", nook_version(), os_arch);
        return fflush(stdout) == 0 ? 0 : EXIT_NOOK;
}

/* ---- info --------------------------------------------------------------------------------- */

static bool finding_ok(const nook_caps *c, const char *name) {
        for (size_t i = 0; i < nook_caps_count(c); i++)
                if (strcmp(nook_caps_get(c, i)->name, name) == 0)
                        return nook_caps_get(c, i)->ok;
        return false;
}

static const char *health_name(nook_health h) {
        return h == NOOK_HEALTH_HEALTHY ? "healthy" : h == NOOK_HEALTH_DEGRADED ? "degraded" : "unsupported_host";
}

/* Everything info shows, as JSON (the text form is printed from it). */
static json_t *info_json(nook_runtime *rt, const nook_caps *c) {
        struct utsname u;
        if (uname(&u) < 0)
                memset(&u, 0, sizeof(u));
        json_t *drivers = json_array(), *nets = json_array(), *findings = json_array(), *caps = json_array();
        int q = !drivers || !nets || !findings || !caps;
        /* what --rootfs-driver and --network can take on this host, from the probe */
        if (finding_ok(c, "overlay_in_userns"))
                q |= json_array_append_new(drivers, json_string("overlay"));
        if (finding_ok(c, "fuse_overlayfs") && finding_ok(c, "fuse"))
                q |= json_array_append_new(drivers, json_string("fuse-overlayfs"));
        q |= json_array_append_new(drivers, json_string("copy"));
        if (finding_ok(c, "slirp4netns") && finding_ok(c, "tun"))
                q |= json_array_append_new(nets, json_string("slirp4netns"));
        q |= json_array_append_new(nets, json_string("none"));
        q |= json_array_append_new(nets, json_string("host"));
        for (size_t i = 0; i < nook_caps_count(c); i++) {
                const nook_finding *f = nook_caps_get(c, i);
                q |= json_array_append_new(findings, json_pack("{s:s,s:s,s:b,s:b,s:o,s:o}", "name", f->name, "title",
                                                               f->title, "ok", f->ok, "required", f->required, "detail",
                                                               cli_json_str_or_null(f->detail), "remedy",
                                                               cli_json_str_or_null(f->remedy)));
        }
        for (const char *const *p = nook_caps_capabilities(c); *p; p++)
                q |= json_array_append_new(caps, json_string(*p));
        json_t *host = json_pack("{s:o,s:s,s:o,s:o,s:s,s:b,s:I,s:b}", "hostname", cli_json_str(u.nodename), "os",
                                 "linux", "kernel", cli_json_str(u.release), "arch", cli_json_str(oci_arch(u.machine)),
                                 "version", nook_version(), "rootless", geteuid() != 0, "uid", (json_int_t)geteuid(),
                                 "subuid", finding_ok(c, "subuid"));
        const char *reason = nook_caps_health_reason(c);
        json_t *o = json_pack("{s:o,s:{s:o,s:o},s:o,s:o,s:o,s:s,s:o,s:o,s:o}", "host", host, "store", "data_dir",
                              cli_json_str(nook_runtime_data_dir(rt)), "journal",
                              cli_json_str(nook_runtime_journal_path(rt)), "run_dir",
                              cli_json_str(nook_runtime_run_dir(rt)), "rootfs_drivers", drivers, "networks", nets,
                              "health", health_name(nook_caps_health(c)), "health_reason", cli_json_str_or_null(reason),
                              "capabilities", caps, "findings", findings);
        if (q && o) {
                json_decref(o);
                o = NULL;
        }
        return o;
}

static void print_list(const char *label, json_t *a) {
        printf("%s", label);
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v) printf("%s%s", i ? ", " : "", json_string_value(v));
        printf("\n");
}

static void info_text(json_t *o) {
        json_t *h = json_object_get(o, "host"), *s = json_object_get(o, "store");
        printf("host:\n  hostname: %s\n  os: linux\n  kernel: %s\n  arch: %s\n  rootless: %s\n  uid: %lld\n"
               "  subuid range: %s\n",
               json_string_value(json_object_get(h, "hostname")), json_string_value(json_object_get(h, "kernel")),
               json_string_value(json_object_get(h, "arch")),
               json_is_true(json_object_get(h, "rootless")) ? "true" : "false",
               (long long)json_integer_value(json_object_get(h, "uid")),
               json_is_true(json_object_get(h, "subuid")) ? "yes" : "no (single-id identities)");
        printf("store:\n  data dir: %s\n  journal: %s\nrun dir: %s\n",
               json_string_value(json_object_get(s, "data_dir")), json_string_value(json_object_get(s, "journal")),
               json_string_value(json_object_get(o, "run_dir")));
        print_list("rootfs drivers: ", json_object_get(o, "rootfs_drivers"));
        print_list("networks: ", json_object_get(o, "networks"));
        const char *reason = json_string_value(json_object_get(o, "health_reason"));
        printf("health: %s%s%s\n", json_string_value(json_object_get(o, "health")), reason ? " (" : "",
               reason ? reason : "");
        if (reason)
                printf(")\n");
        printf("findings ('nook caps' says how to fix each 'no'):\n");
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(o, "findings"), i, f) {
                printf("  %-22s %-3s %s\n", json_string_value(json_object_get(f, "name")),
                       json_is_true(json_object_get(f, "ok")) ? "ok" : "no",
                       json_string_value(json_object_get(f, "title")));
        }
        print_list("capabilities: ", json_object_get(o, "capabilities"));
        printf("version: %s\n", nook_version());
}

int cmd_info(int argc, char **argv) {
        int json = format_json(argc, argv, "info", help_info);
        if (json < 0)
                return 0;
        if (json > 1)
                return json;
        _cleanup_(cli_runtime_freep) nook_runtime *rt = NULL;
        if (cli_open_runtime(&rt) < 0)
                return EXIT_NOOK;
        nook_caps *c = NULL;
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        if (nook_runtime_probe(rt, &c, &err) < 0)
                return cli_report(err);
        json_t *o = info_json(rt, c);
        nook_caps_free(c);
        if (json)
                return cli_json_print(o);
        if (!o) {
                fputs("nook: out of memory\n", stderr);
                return EXIT_NOOK;
        }
        info_text(o);
        json_decref(o);
        return fflush(stdout) == 0 ? 0 : EXIT_NOOK;
}

/* ---- rmi ---------------------------------------------------------------------------------- */

int cmd_rmi(int argc, char **argv) {
        for (int i = 1; i < argc; i++)
                if (cli_is_help(argv[i])) {
                        help_rmi(stdout);
                        return 0;
                }
        _cleanup_free_ char **args = calloc((size_t)argc + 2, sizeof(char *));
        if (!args)
                return EXIT_NOOK;
        args[0] = "image";
        args[1] = "rm";
        for (int i = 1; i < argc; i++)
                args[i + 1] = argv[i];
        return cmd_image(argc + 1, args);
}

/* ---- verbs nook does not have -------------------------------------------------------------- */

static const struct {
        const char *verb, *answer;
} elsewhere[] = {
        { "pull", "nook has no registry: images arrive as files. Fetch one with podman or skopeo and import it: "
                  "'skopeo copy docker://IMAGE oci-archive:img.tar && nook image import img.tar'" },
        { "push", "nook has no registry to push to: images arrive as files ('nook image import')" },
        { "login", "nook has no registry, so nothing to log in to: images arrive as files ('nook image import')" },
        { "logout", "nook has no registry, so nothing to log out of" },
        { "search", "nook has no registry to search: images arrive as files ('nook image import')" },
        { "build", "nook builds no images: build with podman or buildah, then 'podman save -o app.tar app && nook "
                   "image import app.tar'" },
        { "commit", "nook has no commit: '--keep-upper NAME' on nook run keeps a session's writable layer under "
                    "NAME, and the next run with it starts from there" },
        { "tag", "nook has no tag: give an image its name when importing it ('nook image import --name NAME FILE')" },
        { "import", "use 'nook image import FILE' (a rootfs tarball, an OCI or docker archive, an OCI layout)" },
        { "export", "nook has no export of a session's root; '--keep-upper NAME' keeps its writable layer" },
        { "history", "use 'nook image inspect IMAGE' (its config and layers)" },
        { "create", "use 'nook session create IMAGE' (a session is what podman calls a container)" },
        { "start", "nook has no stopped session to start: 'nook exec SESSION CMD' runs a command in a session, "
                   "'nook run -d' makes one" },
        { "restart", "nook has no restart: 'nook exec SESSION CMD' starts a command again in a session" },
        { "pause", "nook has no pause: stop processes with 'nook stop' or signal them with 'nook kill'" },
        { "unpause", "nook has no pause or unpause: 'nook stop' and 'nook kill' end processes" },
        { "container", "nook's containers are sessions: 'nook session create|ls|inspect|rm', and 'nook ps'" },
        { "network", "nook has no networks to manage: each session has its own (--network slirp4netns|none|host, "
                     "-p, --egress, --dns, --add-host)" },
        { "volume", "nook has no volumes: bind host directories with -v SRC:DST, --mount or --workspace" },
        { "pod", "nook has no pods: a session is one sandbox that many processes share ('nook exec')" },
        { "system", "use 'nook info' and 'nook caps' (the host), 'nook gc' and 'nook image prune' (cleaning up)" },
        { "events", "use 'nook journal' (every call nook made, the audit log)" },
        { "diff", "use 'nook session inspect SESSION': its writable layer (Upper dir) holds what changed" },
        { "mount", "nook has no mount verb: the writable layer of a session is shown by 'nook session inspect'" },
        { "rename", "nook has no rename: a session's name is given when it is made (--name)" },
        { "update", "nook has no update: limits are fixed when a session is made (--memory, --pids-limit, ...)" },
        { "healthcheck", "nook has no health checks: 'nook exec SESSION CMD' runs one by hand" },
        { "unshare", "nook has no unshare; 'nook run --rootfs / --rootfs-rw --network host sh' comes close" },
        { "kube", "nook has no Kubernetes support" },
        { "play", "nook has no Kubernetes support: start each container with 'nook run -d --name NAME ...'" },
        { "compose", "nook has no compose: start each service with 'nook run -d --name NAME -p ...'" },
        { "init", "nook has no created-but-not-started state: 'nook session create' prepares a session, 'nook "
                  "exec' runs in it" },
        { "untag", "use 'nook image rm NAME' (a name goes; the image with its last name)" },
        { "unmount", "nook has no mount verb: 'nook session inspect' shows a session's writable layer" },
        { "umount", "nook has no mount verb: 'nook session inspect' shows a session's writable layer" },
        { "auto-update", "nook has no registry to update from: import the new image ('nook image import')" },
        { "farm", "nook builds no images, on this host or any other" },
        { "generate", "nook generates no unit files: run 'nook run' from a systemd unit or a Slurm job" },
        { "machine", "nook needs no machine: it runs on this Linux host ('nook caps')" },
        { "manifest", "nook has no registry, so no manifest lists: 'nook image inspect IMAGE' shows its manifest" },
};

static size_t distance(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b), d[32];
        if (la > 30 || lb > 30)
                return 99;
        for (size_t j = 0; j <= lb; j++)
                d[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t prev = d[0];
                d[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t t = d[j], sub = prev + (a[i - 1] != b[j - 1]);
                        d[j] = d[j] + 1 < d[j - 1] + 1 ? d[j] + 1 : d[j - 1] + 1;
                        if (sub < d[j])
                                d[j] = sub;
                        prev = t;
                }
        }
        return d[lb];
}

int cli_unknown_verb(const char *name, const char *const *verbs, size_t n) {
        for (size_t i = 0; i < ELEMENTSOF(elsewhere); i++)
                if (strcmp(name, elsewhere[i].verb) == 0) {
                        fprintf(stderr, "nook: unknown command '%s': %s\n", name, elsewhere[i].answer);
                        return EXIT_NOOK;
                }
        const char *near = NULL;
        size_t best = 3;
        for (size_t i = 0; i < n; i++) {
                size_t d = distance(name, verbs[i]);
                if (d < best && d < strlen(verbs[i])) {
                        best = d;
                        near = verbs[i];
                }
        }
        if (near)
                fprintf(stderr, "nook: unknown command '%s'; did you mean 'nook %s'?\n", name, near);
        else
                fprintf(stderr, "nook: unknown command '%s'\n", name);
        fputs("hint: 'nook --help' lists the commands\n", stderr);
        return EXIT_NOOK;
}
