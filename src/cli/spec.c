/* nook CLI — the options `run`, `exec` and `session create` share, and the contract
 * requests they turn into: prepare_session, prepare_rootfs, prepare_environment,
 * start_process and cleanup (CONTRACT.md; the ext "nook" objects carry the flags),
 * built with jansson.  A seccomp profile file is parsed here only to be carried (as
 * strictly as the library reads requests: no doubled key); the library judges it. */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "run.h"
#include "util/hostpath.h"
#include "util/macro.h"
#include "util/strbuf.h"

void cli_session_opts_done(cli_session_opts *s) {
        cli_secrets_done(s);
        json_decref(s->labels);
        s->labels = NULL;
        free(s->rootfs);
        s->rootfs = NULL;
        free(s->image_resolved);
        s->image_resolved = NULL;
        for (size_t i = 0; i < s->n_mounts; i++) {
                free(s->mounts[i].ref);
                free(s->mounts[i].alias);
                free(s->mounts[i].dest);
                free(s->mounts[i].options);
                free(s->mounts[i].flag);
        }
        free(s->mounts);
        s->mounts = NULL;
        s->n_mounts = 0;
        for (size_t i = 0; i < s->n_aliases; i++)
                free(s->aliases[i]);
        free(s->aliases);
        s->aliases = NULL;
        s->n_aliases = 0;
        free(s->ws_ref);
        free(s->ws_flag);
        free(s->ws_dest);
        s->ws_ref = s->ws_flag = s->ws_dest = NULL;
        cli_net_done(s);
}

void cli_process_opts_done(cli_process_opts *p) {
        cli_env_done(&p->env);
        json_decref(p->seccomp_profile);
        p->seccomp_profile = NULL;
        json_decref(p->rlimits);
        p->rlimits = NULL;
        free(p->caps);
        p->caps = NULL;
}

int cli_getopt_error(int c, char **argv, const struct option *longopts, const char *verb) {
        const char *opt = argv[optind - 1];
        if (c == ':')
                return cli_usage_error(verb, "option '%s' needs a value", opt);
        if (optopt && optopt < 0x100)
                return cli_usage_error(verb, "unknown option '-%c'", optopt);
        return cli_usage_error(verb, "unknown option '%s'", opt);
}

/* ---- options ---------------------------------------------------------------------------- */

/* Made absolute against the cwd, opened once the way the library and the holder open a
 * source (nook_host_open, S31); the name handed on is the kernel's (d_path), which has
 * no symlink in it, so the library's own open of it follows none either. */
char *cli_host_real_path(const char *path, struct stat *st) {
        _cleanup_free_ char *abs = NULL;
        if (path[0] != '/') {
                _cleanup_free_ char *cwd = getcwd(NULL, 0);
                if (!cwd || asprintf(&abs, "%s/%s", cwd, path) < 0)
                        return NULL;
        }
        _cleanup_close_ int fd = nook_host_open(abs ? abs : path, 0);
        char buf[PATH_MAX];
        int r = fd < 0 ? fd : fstat(fd, st) < 0 ? -errno : nook_fd_path(fd, buf, sizeof(buf));
        if (r < 0) {
                errno = -r;
                return NULL;
        }
        return strdup(buf);
}

const char *cli_host_path_error(int e) {
        return e == ELOOP ? "it goes through a symlink that you (or a sandbox of yours) could change, and nook "
                            "follows none (SECURITY.md S31): give the real path"
                          : strerror(e);
}

static int opt_rootfs(const char *arg, cli_session_opts *s, const char *verb) {
        struct stat st;
        char *real = cli_host_real_path(arg, &st);
        if (!real)
                return cli_usage_error(verb, "--rootfs %s: %s (the directory to use as the sandbox's root)", arg,
                                       cli_host_path_error(errno));
        if (!S_ISDIR(st.st_mode)) {
                free(real);
                return cli_usage_error(verb,
                                       "--rootfs %s: not a directory (images arrive with the images stage; "
                                       "until then give an unpacked root directory)",
                                       arg);
        }
        free(s->rootfs);
        s->rootfs = real;
        return 0;
}

static bool hostname_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 64)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
                      *s == '.'))
                        return false;
        return true;
}

static int opt_memory(const char *arg, cli_session_opts *s, const char *verb) {
        uint64_t bytes = 0;
        if (strcmp(arg, "-1") == 0 || strcmp(arg, "0") == 0 || strcmp(arg, "unlimited") == 0) {
                s->memory_mb = CLI_UNLIMITED_MEMORY_MB;
                return 0;
        }
        int r = cli_parse_size(arg, &bytes);
        if (r < 0)
                return cli_usage_error(verb,
                                       "--memory '%s': expected a size such as 512m, 1g or 1.5g (k, m, g, t; "
                                       "a bare number is bytes), or -1 for no limit",
                                       arg);
        uint64_t mb = (bytes + (1u << 20) - 1) >> 20;
        if (mb < 1)
                return cli_usage_error(verb, "--memory '%s': at least 1m", arg);
        if (r == -ERANGE || mb > CLI_UNLIMITED_MEMORY_MB)
                return cli_usage_error(verb, "--memory '%s': at most 16t (or -1 for no limit)", arg);
        s->memory_mb = mb;
        return 0;
}

static int opt_pids(const char *arg, cli_session_opts *s, const char *verb) {
        char *end;
        errno = 0;
        long long n = strtoll(arg, &end, 10);
        if (errno || end == arg || *end || n < -1 || (unsigned long long)n > CLI_UNLIMITED_PIDS)
                return cli_usage_error(verb,
                                       "--pids-limit '%s': expected a number of processes from 1 to %llu (0 or "
                                       "-1 for no limit)",
                                       arg, CLI_UNLIMITED_PIDS);
        s->pids = n <= 0 ? CLI_UNLIMITED_PIDS : (uint64_t)n;
        return 0;
}

static int opt_disk(const char *arg, cli_session_opts *s, const char *verb) {
        uint64_t bytes = 0;
        if (strcmp(arg, "-1") == 0 || strcmp(arg, "0") == 0 || strcmp(arg, "unlimited") == 0) {
                s->disk_mb = 0;
                return 0;
        }
        int r = cli_parse_size(arg, &bytes);
        uint64_t mb = r < 0 ? 0 : (bytes + (1u << 20) - 1) >> 20;
        if (r == -ERANGE || mb > CLI_UNLIMITED_MEMORY_MB)
                return cli_usage_error(verb, "--disk '%s': at most 16t (or -1 for no limit)", arg);
        if (r < 0 || mb < 1)
                return cli_usage_error(verb,
                                       "--disk '%s': expected a size of at least 1m such as 512m or 10g (k, m, g, "
                                       "t; a bare number is bytes), or -1 for no limit",
                                       arg);
        s->disk_mb = mb;
        return 0;
}

static int opt_cpus(const char *arg, cli_session_opts *s, const char *verb) {
        char *end;
        errno = 0;
        double v = strtod(arg, &end);
        if (errno || end == arg || *end || !(v >= 0.01 && v <= 1024))
                return cli_usage_error(verb,
                                       "--cpus '%s': expected a number of CPUs from 0.01 to 1024 (1.5 for one "
                                       "and a half)",
                                       arg);
        s->cpus = v;
        s->cpus_arg = arg;
        return 0;
}

/* ---- mounts: -v, --tmpfs, --mount, --workspace ------------------------------------------ */

#define WORKSPACE_ALIAS "nook-workspace" /* the alias of --workspace PATH */

bool cli_is_mount_opt(int c) {
        return c == 'v' || c == OPT_TMPFS || c == OPT_MOUNT || c == OPT_WORKSPACE || c == OPT_WORKSPACE_DEST ||
               c == OPT_DENY_SINGLE_FILE;
}

static int oom(void) {
        fputs("nook: out of memory\n", stderr);
        return EXIT_NOOK;
}

/* A source that is a host path (the operator speaking) rather than an alias name. */
static bool is_host_path(const char *src) {
        return strchr(src, '/') || src[0] == '.' || src[0] == '~';
}

/* The real path of a host source: "~" and "~/..." are our home; it must exist. */
static int host_source(const char *flag, const char *src, const char *verb, char **ret) {
        _cleanup_free_ char *expanded = NULL;
        if (src[0] == '~') {
                if (src[1] && src[1] != '/')
                        return cli_usage_error(verb, "%s: '%.*s' is not expanded by nook: give the path", flag,
                                               (int)strcspn(src, "/"), src);
                const char *home = getenv("HOME");
                if (!home || home[0] != '/') {
                        struct passwd *pw = getpwuid(getuid());
                        home = pw ? pw->pw_dir : NULL;
                }
                if (!home)
                        return cli_usage_error(verb, "%s: no home directory to expand '~' in (HOME is unset)", flag);
                if (asprintf(&expanded, "%s%s", home, src + 1) < 0)
                        return oom();
        }
        struct stat st;
        char *real = cli_host_real_path(expanded ? expanded : src, &st);
        if (!real) {
                int e = errno;
                if (e == ENOENT)
                        return cli_usage_error(verb, "%s: %s does not exist", flag, src);
                return cli_usage_error(verb, "%s: %s: %s", flag, src, cli_host_path_error(e));
        }
        *ret = real;
        return 0;
}

/* Adds "name=real" to the aliases given to nook_runtime_open; takes real. */
static int add_alias(cli_session_opts *s, const char *flag, const char *name, char *real, const char *verb) {
        _cleanup_free_ char *path = real;
        if (cli_alias_given(name))
                return cli_usage_error(verb,
                                       "%s: nook names this host path '%s' in the request, and --alias %s names "
                                       "another: choose another --alias name",
                                       flag, name, name);
        char **nv = realloc(s->aliases, (s->n_aliases + 1) * sizeof(char *));
        if (!nv)
                return oom();
        s->aliases = nv;
        if (asprintf(&s->aliases[s->n_aliases], "%s=%s", name, path) < 0)
                return oom();
        s->n_aliases++;
        return 0;
}

/* "/data/" and "/a//b" as docker takes them: "/data", "/a/b" ("." and ".." stay, for
 * the library to refuse). */
static char *dest_dup(const char *dst) {
        char *d = strdup(dst), *w = d;
        if (!d)
                return NULL;
        for (const char *r = dst; *r; r++)
                if (!(*r == '/' && w > d && w[-1] == '/'))
                        *w++ = *r;
        while (w > d + 1 && w[-1] == '/')
                w--;
        *w = 0;
        return d;
}

static int check_dest(const char *flag, const char *dst, const char *verb) {
        if (!*dst)
                return cli_usage_error(verb, "%s: missing the destination (an absolute path inside the sandbox)", flag);
        if (dst[0] != '/')
                return cli_usage_error(verb, "%s: the destination '%s' must be an absolute path inside the sandbox",
                                       flag, dst);
        return 0;
}

/* src: a host path, an alias name, or NULL for tmpfs. */
static int add_mount(cli_session_opts *s, const char *verb, const char *flag, const char *src, const char *dst, bool ro,
                     const char *options) {
        int r = check_dest(flag, dst, verb);
        if (r)
                return r;
        bool tmpfs = !src;
        if (src && !*src)
                return cli_usage_error(verb, "%s: missing the source (a host path, or an alias name)", flag);
        char ref[32];
        snprintf(ref, sizeof(ref), "%c%u", tmpfs ? 't' : 'v', tmpfs ? s->n_tmpfs : s->n_binds);
        const char *alias = src;
        bool host = src && is_host_path(src);
        if (host) {
                char *real = NULL;
                if ((r = host_source(flag, src, verb, &real)) || (r = add_alias(s, flag, ref, real, verb)))
                        return r;
                alias = ref;
        }
        cli_mount *nv = realloc(s->mounts, (s->n_mounts + 1) * sizeof(*nv));
        if (!nv)
                return oom();
        s->mounts = nv;
        cli_mount *m = &s->mounts[s->n_mounts];
        *m = (cli_mount){
                .ref = strdup(ref),
                .alias = alias ? strdup(alias) : NULL,
                .dest = dest_dup(dst),
                .options = options && *options ? strdup(options) : NULL,
                .read_only = ro,
                .tmpfs = tmpfs,
                .host = host,
                .flag = strdup(flag),
        };
        s->n_mounts++; /* freed by cli_session_opts_done whatever happens next */
        if (!m->ref || (alias && !m->alias) || !m->dest || (options && *options && !m->options) || !m->flag)
                return oom();
        if (tmpfs)
                s->n_tmpfs++;
        else
                s->n_binds++;
        return 0;
}

/* --label KEY=VALUE (podman's): kept in the session record, shown by session inspect. */
static int opt_label(const char *arg, cli_session_opts *s, const char *verb) {
        const char *eq = strchr(arg, '=');
        bool ok = eq && eq > arg && eq - arg <= 128 && strlen(eq + 1) <= 4096;
        for (const char *c = arg; ok && *c; c++)
                ok = (unsigned char)*c >= 0x20 && *c != 0x7f;
        if (!ok)
                return cli_usage_error(verb,
                                       "--label '%s': expected KEY=VALUE (KEY 1 to 128 bytes, VALUE at most 4096, "
                                       "no control character)",
                                       arg);
        if (!s->labels && !(s->labels = json_array()))
                return oom();
        if (json_array_size(s->labels) >= 64)
                return cli_usage_error(verb, "--label: at most 64 labels");
        return json_array_append_new(s->labels, cli_json_str(arg)) < 0 ? oom() : 0;
}

/* What podman's other -v options are, for the refusal. */
static const char *volume_opt_kind(const char *o) {
        if (strcmp(o, "O") == 0)
                return "overlay volumes (--workspace DIR:snapshot keeps the writes in the sandbox)";
        if (strcmp(o, "U") == 0 || strncmp(o, "idmap", 5) == 0)
                return "ownership changes of host files";
        if (strstr(o, "shared") || strstr(o, "slave") || strstr(o, "private") || strstr(o, "bind"))
                return "mount propagation choice (every bind is private and recursive)";
        return "such option";
}

/* -v SRC:DST[:OPTS], OPTS a comma list of ro, rw, z and Z. */
static int opt_volume(const char *arg, cli_session_opts *s, const char *verb) {
        _cleanup_free_ char *flag = NULL, *copy = strdup(arg);
        if (!copy || asprintf(&flag, "-v %s", arg) < 0)
                return oom();
        char *dst = strchr(copy, ':');
        if (!dst) {
                if (arg[0] == '/')
                        return cli_usage_error(verb,
                                               "%s: expected SRC:DST[:ro|rw]; nook has no anonymous volumes "
                                               "(--tmpfs %s gives an empty writable directory)",
                                               flag, arg);
                return cli_usage_error(verb,
                                       "%s: expected SRC:DST[:ro|rw] (SRC a host path or an alias name, DST an "
                                       "absolute path inside)",
                                       flag);
        }
        *dst++ = 0;
        char *opts = strchr(dst, ':');
        if (opts)
                *opts++ = 0;
        if (opts && strchr(opts, ':'))
                return cli_usage_error(verb,
                                       "%s: too many ':' (SRC:DST[:ro|rw]; a path holding ':' needs --mount "
                                       "type=bind,src=SRC,dst=DST)",
                                       flag);
        bool ro = false, seen_ro = false, seen_rw = false;
        if (opts) {
                if (!*opts)
                        return cli_usage_error(verb, "%s: empty options after ':' (ro or rw)", flag);
                for (char *o = opts, *next; o; o = next) {
                        next = strchr(o, ',');
                        if (next)
                                *next++ = 0;
                        if (strcmp(o, "ro") == 0)
                                seen_ro = ro = true;
                        else if (strcmp(o, "rw") == 0)
                                seen_rw = true;
                        else if (strcmp(o, "z") == 0 || strcmp(o, "Z") == 0)
                                /* podman relabels for SELinux; nook never changes a host file's label */
                                fprintf(stderr, "nook: note: %s: '%s' accepted: nook does no SELinux relabelling\n",
                                        flag, o);
                        else
                                return cli_usage_error(verb,
                                                       "%s: unknown option '%s' (ro, rw, and z or Z, accepted "
                                                       "without relabelling; nook has no %s)",
                                                       flag, o, volume_opt_kind(o));
                }
                if (seen_ro && seen_rw)
                        return cli_usage_error(verb, "%s: ro and rw contradict each other: choose one", flag);
        }
        return add_mount(s, verb, flag, copy, dst, ro, NULL);
}

/* One of podman's --tmpfs options that nook cannot honour: why, or NULL when it is one
 * the library takes (size, mode, noexec, exec, nosuid, nodev) or one that asks what nook
 * does anyway (rw, notmpcopyup, and the atime family, left to the kernel). */
static const char *tmpfs_opt_refused(const char *o) {
        static const char *const as_is[] = { "rw",          "notmpcopyup",   "relatime", "norelatime",
                                             "strictatime", "nostrictatime", "atime",    "noatime",
                                             "diratime",    "nodiratime",    "async" };
        for (size_t i = 0; i < ELEMENTSOF(as_is); i++)
                if (strcmp(o, as_is[i]) == 0)
                        return "";
        if (!strncmp(o, "size=", 5) || !strncmp(o, "mode=", 5) || !strcmp(o, "noexec") || !strcmp(o, "exec") ||
            !strcmp(o, "nosuid") || !strcmp(o, "nodev"))
                return NULL;
        if (strcmp(o, "ro") == 0)
                return "a read-only tmpfs would stay empty";
        if (strcmp(o, "suid") == 0 || strcmp(o, "dev") == 0)
                return "nook mounts every tmpfs nosuid and nodev";
        if (strcmp(o, "tmpcopyup") == 0)
                return "nook never copies the image's files into a tmpfs (it starts empty)";
        if (!strncmp(o, "uid=", 4) || !strncmp(o, "gid=", 4) || strcmp(o, "U") == 0)
                return "the tmpfs belongs to the session's user (chown it in the command)";
        if (!strncmp(o, "nr_inodes=", 10) || !strncmp(o, "nr_blocks=", 10))
                return "size=SIZE is the tmpfs's only bound";
        if (!strcmp(o, "sync") || !strcmp(o, "dirsync") || !strcmp(o, "mand") || !strcmp(o, "nomand"))
                return "nook mounts tmpfs without it";
        return "not a tmpfs option";
}

/* --tmpfs DST[:OPTS]: podman's option list; the library gets size, mode, noexec, exec,
 * nosuid, nodev; each other option is refused by name, or (rw...) asks the default. */
static int opt_tmpfs(const char *arg, cli_session_opts *s, const char *verb) {
        _cleanup_free_ char *flag = NULL, *copy = strdup(arg);
        if (!copy || asprintf(&flag, "--tmpfs %s", arg) < 0)
                return oom();
        char *opts = strchr(copy, ':');
        if (opts) {
                *opts++ = 0;
                if (!*opts)
                        return cli_usage_error(verb,
                                               "%s: empty options after ':' (size=256m, mode=1777, noexec, "
                                               "nosuid, nodev, exec)",
                                               flag);
        }
        _cleanup_(nook_strbuf_done) nook_strbuf kept = NOOK_STRBUF_INIT;
        _cleanup_free_ char *list = opts ? strdup(opts) : NULL;
        for (char *o = list, *next; o; o = next) {
                next = strchr(o, ',');
                if (next)
                        *next++ = 0;
                const char *why = tmpfs_opt_refused(o);
                if (why && *why)
                        return cli_usage_error(verb,
                                               "%s: option '%s': %s (nook takes size=SIZE, mode=OCTAL, noexec, "
                                               "exec, nosuid, nodev; rw, notmpcopyup and the atime options ask "
                                               "nothing more)",
                                               flag, o, why);
                if (!why)
                        nook_strbuf_printf(&kept, "%s%s", kept.len ? "," : "", o);
        }
        _cleanup_free_ char *given = kept.len ? nook_strbuf_steal(&kept) : NULL;
        return add_mount(s, verb, flag, NULL, copy, false, given);
}

/* readonly / readonly=true|false|1|0 of --mount. */
static int mount_bool(const char *flag, const char *key, const char *v, bool *ret, const char *verb) {
        if (!v || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
                *ret = true;
        else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
                *ret = false;
        else
                return cli_usage_error(verb, "%s: %s=%s: expected true or false", flag, key, v);
        return 0;
}

/* --mount type=bind|tmpfs,KEY=VALUE,... (docker's keys). */
static int opt_mount(const char *arg, cli_session_opts *s, const char *verb) {
        _cleanup_free_ char *flag = NULL, *copy = strdup(arg), *options = NULL;
        if (!copy || asprintf(&flag, "--mount %s", arg) < 0)
                return oom();
        const char *type = NULL, *src = NULL, *dst = NULL, *size = NULL, *mode = NULL;
        bool ro = false, ro_given = false;
        for (char *kv = copy, *next; kv; kv = next) {
                next = strchr(kv, ',');
                if (next)
                        *next++ = 0;
                char *v = strchr(kv, '=');
                if (v)
                        *v++ = 0;
                const char **slot = NULL;
                if (strcmp(kv, "type") == 0)
                        slot = &type;
                else if (strcmp(kv, "source") == 0 || strcmp(kv, "src") == 0)
                        slot = &src;
                else if (strcmp(kv, "destination") == 0 || strcmp(kv, "dst") == 0 || strcmp(kv, "target") == 0)
                        slot = &dst;
                else if (strcmp(kv, "tmpfs-size") == 0)
                        slot = &size;
                else if (strcmp(kv, "tmpfs-mode") == 0)
                        slot = &mode;
                else if (strcmp(kv, "readonly") == 0 || strcmp(kv, "ro") == 0) {
                        if (ro_given)
                                return cli_usage_error(verb, "%s: readonly is given twice", flag);
                        ro_given = true;
                        int r = mount_bool(flag, kv, v, &ro, verb);
                        if (r)
                                return r;
                        continue;
                } else if (!*kv)
                        return cli_usage_error(verb, "%s: an empty KEY=VALUE (a doubled or trailing ',')", flag);
                else
                        return cli_usage_error(verb,
                                               "%s: unknown key '%s' (type, source or src, destination or dst or "
                                               "target, readonly or ro, tmpfs-size, tmpfs-mode)",
                                               flag, kv);
                if (!v || !*v)
                        return cli_usage_error(verb, "%s: %s needs a value (%s=...)", flag, kv, kv);
                if (*slot)
                        return cli_usage_error(verb, "%s: %s is given twice", flag, kv);
                *slot = v;
        }
        if (!type)
                return cli_usage_error(verb, "%s: missing type=bind or type=tmpfs", flag);
        if (!dst)
                return cli_usage_error(verb, "%s: missing dst=PATH (the absolute path inside)", flag);
        if (strcmp(type, "bind") == 0) {
                if (size || mode)
                        return cli_usage_error(verb, "%s: %s goes with type=tmpfs, not type=bind", flag,
                                               size ? "tmpfs-size" : "tmpfs-mode");
                if (!src)
                        return cli_usage_error(verb, "%s: missing src=PATH (a host path, or an alias name)", flag);
                return add_mount(s, verb, flag, src, dst, ro, NULL);
        }
        if (strcmp(type, "tmpfs") != 0)
                return cli_usage_error(verb,
                                       "%s: unknown type '%s' (bind or tmpfs; nook has no named volumes: bind a "
                                       "directory)",
                                       flag, type);
        if (src)
                return cli_usage_error(verb, "%s: a tmpfs has no source: leave out src=", flag);
        if (ro_given && ro)
                return cli_usage_error(verb, "%s: a read-only tmpfs would stay empty: leave out readonly", flag);
        _cleanup_(nook_strbuf_done) nook_strbuf b = NOOK_STRBUF_INIT; /* a bad tmpfs-mode after tmpfs-size */
        if (size) {
                uint64_t bytes = 0;
                if (cli_parse_size(size, &bytes) < 0 || bytes == 0)
                        return cli_usage_error(verb, "%s: tmpfs-size=%s: expected a size such as 67108864, 64m or 1g",
                                               flag, size);
                nook_strbuf_printf(&b, "size=%llu", (unsigned long long)bytes);
        }
        if (mode) {
                char *end;
                errno = 0;
                unsigned long m = strtoul(mode, &end, 8);
                if (errno || *end || mode[0] < '0' || mode[0] > '7' || m > 07777)
                        return cli_usage_error(verb, "%s: tmpfs-mode=%s: expected an octal mode such as 1777 or 700",
                                               flag, mode);
                nook_strbuf_printf(&b, "%smode=%lo", size ? "," : "", m);
        }
        options = nook_strbuf_steal(&b);
        if ((size || mode) && !options)
                return oom();
        return add_mount(s, verb, flag, NULL, dst, false, options);
}

/* --workspace ALIAS[:MODE] (MODE snapshot, live_read_only or ro, live_writable or rw,
 * scratch); "scratch" or ":scratch" alone is an empty workspace. */
static int opt_workspace(const char *arg, cli_session_opts *s, const char *verb) {
        static const char *const modes[][2] = {
                { "snapshot", "snapshot" }, { "live_read_only", "live_read_only" },
                { "ro", "live_read_only" }, { "live_writable", "live_writable" },
                { "rw", "live_writable" },  { "scratch", "scratch" },
        };
        if (s->ws_mode)
                return cli_usage_error(verb, "--workspace %s: one workspace only (given before as %s)", arg,
                                       s->ws_flag + strlen("--workspace "));
        _cleanup_free_ char *flag = NULL, *ref = strdup(arg);
        if (!ref || asprintf(&flag, "--workspace %s", arg) < 0)
                return oom();
        char *colon = strrchr(ref, ':');
        const char *mode = "live_writable";
        if (colon) {
                *colon = 0;
                mode = NULL;
                for (size_t i = 0; i < ELEMENTSOF(modes); i++)
                        if (strcmp(colon + 1, modes[i][0]) == 0)
                                mode = modes[i][1];
                if (!mode)
                        return cli_usage_error(verb,
                                               "%s: unknown mode '%s' (snapshot, live_read_only or ro, "
                                               "live_writable or rw, scratch)",
                                               flag, colon + 1);
        } else if (strcmp(ref, "scratch") == 0) {
                mode = "scratch";
                ref[0] = 0;
        } else if (strcmp(ref, "none") == 0)
                return cli_usage_error(verb, "%s: leave out --workspace for none", flag);
        if (strcmp(mode, "scratch") == 0 && *ref)
                return cli_usage_error(verb,
                                       "%s: a scratch workspace starts empty and takes no alias (--workspace "
                                       "scratch)",
                                       flag);
        if (strcmp(mode, "scratch") != 0 && !*ref)
                return cli_usage_error(verb,
                                       "%s: which workspace? give ALIAS:%s (an alias of --alias, $NOOK_ALIASES "
                                       "or ~/.config/nook/aliases) or PATH:%s",
                                       flag, colon ? colon + 1 : mode, colon ? colon + 1 : mode);
        if (*ref && is_host_path(ref)) {
                char *real = NULL;
                int r = host_source(flag, ref, verb, &real);
                if (r || (r = add_alias(s, flag, WORKSPACE_ALIAS, real, verb)))
                        return r;
                free(ref);
                if (!(ref = strdup(WORKSPACE_ALIAS)))
                        return oom();
        }
        s->ws_mode = mode;
        s->ws_ref = *ref ? TAKE_PTR(ref) : NULL;
        s->ws_flag = TAKE_PTR(flag);
        return 0;
}

/* The library refuses the rest ("/a/../a"). */
static bool same_dest(const char *a, const char *b) {
        return strcmp(a, b) == 0; /* both made by dest_dup */
}

/* The host path of -v (or --workspace) that nook names `name` in this request, or NULL. */
static const char *generated_alias(const cli_session_opts *s, const char *name) {
        size_t n = strlen(name);
        for (size_t i = 0; i < s->n_aliases; i++)
                if (strncmp(s->aliases[i], name, n) == 0 && s->aliases[i][n] == '=')
                        return s->aliases[i] + n + 1;
        return NULL;
}

int cli_root_check(const cli_session_opts *s, const char *verb) {
        if (s->image && s->rootfs_rw)
                return cli_usage_error(verb, "--rootfs-rw goes with --rootfs DIR, not with an image");
        if (s->rootfs_rw && s->driver)
                return cli_usage_error(verb, "--rootfs-driver and --rootfs-rw contradict each other: --rootfs-rw "
                                             "binds DIR itself, with no writable layer to drive; choose one");
        if (s->rootfs && s->upper)
                return cli_usage_error(verb, "--keep-upper goes with an IMAGE; with --rootfs DIR use "
                                             "--rootfs-rw to keep writes in DIR");
        return 0;
}

int cli_session_check(const cli_session_opts *s, const char *verb) {
        int rc = cli_net_check(s, verb);
        if (rc)
                return rc;
        if (s->ws_dest && !s->ws_mode)
                return cli_usage_error(verb, "--workspace-dest %s goes with --workspace ALIAS[:MODE]", s->ws_dest);
        /* an alias name typed by the person must not be one nook gives a host path here */
        for (size_t i = 0; i <= s->n_mounts; i++) {
                const char *name = i < s->n_mounts ? s->mounts[i].alias : s->ws_ref;
                const char *flag = i < s->n_mounts ? s->mounts[i].flag : s->ws_flag;
                bool host = i < s->n_mounts ? s->mounts[i].host
                                            : s->ws_ref && strcmp(s->ws_ref, WORKSPACE_ALIAS) == 0 &&
                                                      generated_alias(s, WORKSPACE_ALIAS);
                const char *path = name && !host ? generated_alias(s, name) : NULL;
                if (path)
                        return cli_usage_error(verb,
                                               "%s: '%s' is the name nook gives the host path %s in this request: "
                                               "name your directory with 'nook --alias OTHER=PATH' and use OTHER",
                                               flag, name, path);
                if (name && !host && strcmp(name, CLI_ROOTFS_ALIAS) == 0)
                        return cli_usage_error(verb, "%s: '%s' is the name of --rootfs, not a mount source", flag,
                                               name);
        }
        const char *ws_dest = s->ws_mode ? (s->ws_dest ? s->ws_dest : "/workspace") : NULL;
        for (size_t i = 0; i < s->n_mounts; i++) {
                if (ws_dest && same_dest(s->mounts[i].dest, ws_dest))
                        return cli_usage_error(verb, "%s: %s is the workspace's destination (%s%s)", s->mounts[i].flag,
                                               ws_dest, s->ws_dest ? "--workspace-dest " : "",
                                               s->ws_dest ? s->ws_dest : "the default; --workspace-dest moves it");
                for (size_t j = 0; j < i; j++)
                        if (same_dest(s->mounts[i].dest, s->mounts[j].dest))
                                return cli_usage_error(verb, "%s and %s: two mounts on %s", s->mounts[j].flag,
                                                       s->mounts[i].flag, s->mounts[i].dest);
        }
        return 0;
}

int cli_session_runtime(const cli_session_opts *s, nook_runtime **ret) {
        _cleanup_free_ char *rootfs = NULL;
        _cleanup_free_ const char **aliases = calloc(s->n_aliases + 2, sizeof(char *));
        if (!aliases || (s->rootfs && asprintf(&rootfs, "%s=%s", CLI_ROOTFS_ALIAS, s->rootfs) < 0)) {
                oom();
                return -1;
        }
        size_t n = 0;
        if (rootfs)
                aliases[n++] = rootfs;
        for (size_t i = 0; i < s->n_aliases; i++)
                aliases[n++] = s->aliases[i];
        return cli_open_runtime_aliases(aliases, ret);
}

int cli_session_opt(int c, const char *arg, cli_session_opts *s, const char *verb) {
        switch (c) {
        case 'v':
                return opt_volume(arg, s, verb);
        case OPT_TMPFS:
                return opt_tmpfs(arg, s, verb);
        case OPT_MOUNT:
                return opt_mount(arg, s, verb);
        case OPT_WORKSPACE:
                return opt_workspace(arg, s, verb);
        case OPT_WORKSPACE_DEST:
                if (arg[0] != '/')
                        return cli_usage_error(verb, "--workspace-dest '%s': give an absolute path inside the sandbox",
                                               arg);
                free(s->ws_dest);
                if (!(s->ws_dest = dest_dup(arg)))
                        return oom();
                return 0;
        case OPT_DENY_SINGLE_FILE:
                s->deny_single_file = true;
                return 0;
        case OPT_NAME:
                if (!cli_name_valid(arg))
                        return cli_usage_error(verb,
                                               "--name '%s': a name is 1 to 64 letters, digits, '_', '.' and "
                                               "'-', starting with a letter or digit",
                                               arg);
                s->name = arg;
                return 0;
        case OPT_ROOTFS:
                return opt_rootfs(arg, s, verb);
        case OPT_ROOTFS_RW:
                s->rootfs_rw = true;
                return 0;
        case OPT_ROOTFS_DRIVER:
                if (strcmp(arg, "auto") && strcmp(arg, "overlay") && strcmp(arg, "fuse-overlayfs") &&
                    strcmp(arg, "copy"))
                        return cli_usage_error(verb, "--rootfs-driver %s: auto, overlay, fuse-overlayfs or copy", arg);
                s->driver = arg;
                return 0;
        case OPT_KEEP_UPPER:
                for (const char *ch = arg; *ch; ch++)
                        if (!((*ch >= 'a' && *ch <= 'z') || (*ch >= 'A' && *ch <= 'Z') || (*ch >= '0' && *ch <= '9') ||
                              *ch == '.' || *ch == '_' || *ch == '-') ||
                            arg[0] == '.')
                                return cli_usage_error(verb, "--keep-upper %s: a name of letters, digits, . _ -", arg);
                s->upper = arg;
                return 0;
        case OPT_READ_ONLY:
                s->read_only = true;
                return 0;
        case 'q':
                s->quiet = true;
                return 0;
        case OPT_LABEL:
                return opt_label(arg, s, verb);
        case OPT_NETWORK:
        case 'p':
        case OPT_DNS:
        case OPT_ADD_HOST:
        case OPT_EGRESS:
                return cli_net_opt(c, arg, s, verb);
        case OPT_SECRET:
                return cli_secret_opt(arg, s, verb);
        case OPT_HOSTNAME:
                if (!hostname_valid(arg))
                        return cli_usage_error(verb,
                                               "--hostname '%s': a hostname is 1 to 64 letters, digits, '-' "
                                               "and '.'",
                                               arg);
                s->hostname = arg;
                return 0;
        case OPT_USERNS:
                if (strcmp(arg, "auto") != 0 && strcmp(arg, "root") != 0 && strcmp(arg, "keep-id") != 0 &&
                    strcmp(arg, "subuid") != 0)
                        return cli_usage_error(verb,
                                               "--userns '%s': choose root (you are root inside), keep-id "
                                               "(your own uid inside), subuid (needs /etc/subuid) or auto "
                                               "(subuid when usable, else root); nook always uses a user "
                                               "namespace",
                                               arg);
                s->userns = arg;
                return 0;
        case OPT_MEMORY:
                return opt_memory(arg, s, verb);
        case OPT_PIDS_LIMIT:
                return opt_pids(arg, s, verb);
        case OPT_CPUS:
                return opt_cpus(arg, s, verb);
        case OPT_DISK:
                return opt_disk(arg, s, verb);
        }
        return 1;
}

static int opt_seccomp(const char *arg, cli_process_opts *p, const char *verb) {
        if (strcmp(arg, "unconfined") == 0) {
                p->seccomp_arg = arg;
                return 0;
        }
        _cleanup_free_ char *text = NULL;
        int r = cli_read_file(arg, 1u << 20, &text, NULL);
        if (r < 0)
                return cli_usage_error(verb,
                                       "--security-opt seccomp=%s: %s (give unconfined, or an OCI seccomp "
                                       "profile JSON file)",
                                       arg,
                                       r == -EFBIG     ? "larger than 1 MiB"
                                       : r == -EBADMSG ? "holds a NUL byte"
                                                       : strerror(-r));
        /* The library judges the profile; whether this is a JSON object at all is said
         * about the file before any sandbox is built.  A doubled key is refused as the
         * library refuses it in a request (JSON_REJECT_DUPLICATES): carried as parsed, it
         * would silently keep the last value. */
        json_error_t jerr;
        json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(v)) {
                bool dup = !v && json_error_code(&jerr) == json_error_duplicate_key;
                json_decref(v);
                if (dup)
                        return cli_usage_error(verb, "--security-opt seccomp=%s: line %d: %s", arg, jerr.line,
                                               jerr.text);
                return cli_usage_error(verb,
                                       "--security-opt seccomp=%s: not a JSON object (an OCI seccomp profile, "
                                       "as podman and docker take)",
                                       arg);
        }
        json_decref(p->seccomp_profile);
        p->seccomp_profile = v;
        p->seccomp_arg = arg;
        return 0;
}

static int opt_security(const char *arg, cli_process_opts *p, const char *verb) {
        if (strncmp(arg, "seccomp=", 8) == 0 && arg[8])
                return opt_seccomp(arg + 8, p, verb);
        /* always so in nook (SECURITY.md): accepted for podman habits */
        if (strcmp(arg, "no-new-privileges") == 0 || strcmp(arg, "no-new-privileges=true") == 0)
                return 0;
        return cli_usage_error(verb,
                               "--security-opt '%s': nook takes seccomp=unconfined, seccomp=FILE (an OCI "
                               "seccomp profile) or no-new-privileges (always on)",
                               arg);
}

int cli_process_opt(int c, const char *arg, cli_process_opts *p, const char *verb) {
        uint64_t ms;
        switch (c) {
        case 'd':
                p->detach = true;
                return 0;
        case 'i':
                p->interactive = true;
                return 0;
        case 't':
                p->tty = true;
                return 0;
        case OPT_ULIMIT:
                return cli_opt_ulimit(arg, p, verb);
        case 'e':
                return cli_env_add(&p->env, arg, verb, "-e") < 0 ? EXIT_NOOK : 0;
        case OPT_ENV_FILE:
                return cli_env_file(&p->env, arg, verb) < 0 ? EXIT_NOOK : 0;
        case 'w':
                if (arg[0] != '/')
                        return cli_usage_error(verb, "--workdir '%s': give an absolute path inside the sandbox", arg);
                p->workdir = arg;
                return 0;
        case 'u':
                if (!*arg)
                        return cli_usage_error(verb, "--user needs USER[:GROUP] or UID[:GID]");
                p->user = arg;
                return 0;
        case OPT_TIMEOUT:
                if (cli_parse_duration(arg, &ms) < 0)
                        return cli_usage_error(verb,
                                               "--timeout '%s': expected a duration such as 30s, 500ms, 2m or "
                                               "1h30m (a bare number is seconds; 0 for none)",
                                               arg);
                if (ms > CLI_MAX_TIMEOUT_MS)
                        return cli_usage_error(verb, "--timeout '%s': at most 31 days (744h)", arg);
                p->timeout_ms = ms;
                return 0;
        case OPT_LOG_MAX: {
                uint64_t bytes = 0;
                if (cli_parse_size(arg, &bytes) < 0 || bytes < 1 || bytes > (1ull << 40))
                        return cli_usage_error(verb,
                                               "--log-max '%s': expected a size from 1 byte to 1t such as 64k or "
                                               "512m (k, m, g, t; a bare number is bytes)",
                                               arg);
                p->log_max = bytes;
                return 0;
        }
        case OPT_SECURITY_OPT:
                return opt_security(arg, p, verb);
        case OPT_JSON:
                p->json = true;
                return 0;
        case OPT_VERBOSE:
                p->verbose = true;
                return 0;
        }
        return 1;
}

/* ---- requests ---------------------------------------------------------------------------- */

/* filesystem.mounts, .workspace and .single_file_mount_expansion of the spec; -1 on
 * ENOMEM (jansson's setters take NULL for a failed allocation and return -1). */
static int put_mounts(json_t *fs, const cli_session_opts *s) {
        int r = 0;
        if (s->n_mounts) {
                json_t *mounts = json_array();
                for (size_t i = 0; i < s->n_mounts; i++) {
                        const cli_mount *m = &s->mounts[i];
                        json_t *o = json_pack("{s:o}", "mount_ref", cli_json_str(m->ref));
                        if (m->alias)
                                r |= json_object_set_new(o, "source_alias", cli_json_str(m->alias));
                        r |= json_object_set_new(o, "destination_path", cli_json_str(m->dest));
                        r |= json_object_set_new(o, "mode", json_string(m->read_only ? "read_only" : "writable"));
                        if (m->tmpfs) {
                                json_t *ext = json_pack("{s:s}", "type", "tmpfs");
                                if (m->options)
                                        r |= json_object_set_new(ext, "options", cli_json_str(m->options));
                                r |= json_object_set_new(o, "nook", ext);
                        }
                        r |= json_array_append_new(mounts, o);
                }
                r |= json_object_set_new(fs, "mounts", mounts);
        }
        if (s->ws_mode) {
                json_t *ws = json_object();
                if (s->ws_ref)
                        r |= json_object_set_new(ws, "workspace_ref", cli_json_str(s->ws_ref));
                r |= json_object_set_new(ws, "mode", cli_json_str(s->ws_mode));
                r |= json_object_set_new(ws, "destination_path", cli_json_str(s->ws_dest ? s->ws_dest : "/workspace"));
                r |= json_object_set_new(fs, "workspace", ws);
        }
        if (s->deny_single_file)
                r |= json_object_set_new(fs, "single_file_mount_expansion", json_string("deny_single_file"));
        return r;
}

/* The request's environment; NULL on ENOMEM. */
static json_t *environment(const char *env_id, const cli_session_opts *s, uint64_t timeout_ms) {
        json_t *res = json_pack("{s:f,s:I,s:I,s:I}", "cpus", s ? s->cpus : 1.0, "memory_mb",
                                (json_int_t)(s ? s->memory_mb : CLI_UNLIMITED_MEMORY_MB), "timeout_ms",
                                (json_int_t)(timeout_ms ? timeout_ms : CLI_MAX_TIMEOUT_MS), "process_count",
                                (json_int_t)(s ? s->pids : CLI_UNLIMITED_PIDS));
        int r = 0;
        if (s && s->disk_mb)
                r |= json_object_set_new(res, "disk_mb", json_integer((json_int_t)s->disk_mb));
        json_t *fs = json_pack("{s:s}", "root", s && s->read_only ? "read_only" : "writable_layer");
        if (s)
                r |= put_mounts(fs, s);
        json_t *env = json_pack("{s:o,s:{s:o,s:o}}", "environment_id", cli_json_str(env_id), "spec", "resources", res,
                                "filesystem", fs);
        json_t *net = s ? cli_net_policy(s) : NULL;
        if (net)
                r |= json_object_set_new(json_object_get(env, "spec"), "network", net);
        json_t *sec = s ? cli_secrets_spec(s) : NULL;
        if (sec)
                r |= json_object_set_new(json_object_get(env, "spec"), "secrets", sec);
        if (r) {
                json_decref(env);
                return NULL;
        }
        return env;
}

/* Sends req (released here); NULL req: out of memory. */
static int call(nook_runtime *rt, const char *method, json_t *req, bool verbose, char **ret, nook_error **err) {
        _cleanup_free_ char *text = cli_json_text(req);
        if (!text) {
                fputs("nook: out of memory\n", stderr);
                return -ENOMEM;
        }
        /* NOOK_CLI_DEBUG=1 (not in --help): each request as sent; -e values included */
        const char *debug = getenv("NOOK_CLI_DEBUG");
        if (debug && *debug && strcmp(debug, "0") != 0)
                fprintf(stderr, "nook: debug: %s %s\n", method, text);
        double t0 = verbose ? cli_now_ms() : 0;
        int r = nook_runtime_call(rt, method, text, ret, err);
        if (verbose)
                fprintf(stderr, "nook: %-19s %7.1f ms%s\n", method, cli_now_ms() - t0, r < 0 ? " (failed)" : "");
        return r;
}

/* A hint for the error people meet first with a root directory they unpacked themselves. */
static void hint_ownership(const nook_error *err, const cli_session_opts *s) {
        if (nook_error_get_errno(err) != EOVERFLOW)
                return;
        fprintf(stderr,
                "hint: files of %s are owned by a user or group this session does not map (the root and keep-id "
                "identities map only your own uid and gid): 'chown -R %u:%u %s', or --userns subuid when the "
                "owners are in your /etc/subuid range\n",
                s->rootfs, (unsigned)getuid(), (unsigned)getgid(), s->rootfs);
}

/* An error about a mount or the workspace names the option it came from: the pointer
 * (/environment/spec/filesystem/mounts/1/destination_path) or the mount refs the
 * message names ("v0") mean nothing to the person who typed -v. */
static bool names_ref(const char *msg, const char *ref) {
        size_t n = strlen(ref);
        for (const char *p = strstr(msg, ref); p; p = strstr(p + 1, ref)) {
                bool before = p == msg || !(p[-1] == '_' || p[-1] == '-' || (p[-1] >= '0' && p[-1] <= '9') ||
                                            ((p[-1] | 0x20) >= 'a' && (p[-1] | 0x20) <= 'z'));
                char c = p[n];
                bool after =
                        !(c == '_' || c == '-' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'));
                if (before && after)
                        return true;
        }
        return false;
}

/* Which mount the error's pointer names: its index, s->n_mounts for the workspace, or -1. */
static long pointed_mount(const nook_error *err, const cli_session_opts *s, const char **ret_field) {
        static const char fs[] = "/environment/spec/filesystem/";
        const char *ptr = nook_error_get_pointer(err);
        *ret_field = NULL;
        if (!ptr || strncmp(ptr, fs, strlen(fs)) != 0)
                return -1;
        const char *rest = ptr + strlen(fs);
        if (strncmp(rest, "mounts/", 7) == 0) {
                char *end;
                unsigned long i = strtoul(rest + 7, &end, 10);
                if (end == rest + 7 || i >= s->n_mounts)
                        return -1;
                *ret_field = *end == '/' ? end + 1 : NULL;
                return (long)i;
        }
        if (strncmp(rest, "workspace", 9) == 0 && (rest[9] == '/' || !rest[9]) && s->ws_flag) {
                *ret_field = rest[9] == '/' ? rest + 10 : NULL;
                return (long)s->n_mounts;
        }
        return -1;
}

static int report_mount_error(const nook_error *err, const cli_session_opts *s) {
        const char *msg = nook_error_get_message(err), *field;
        long i = pointed_mount(err, s, &field);
        const char *flag = i < 0 ? NULL : (size_t)i < s->n_mounts ? s->mounts[i].flag : s->ws_flag;
        if (!flag)
                return cli_report(err);
        _cleanup_free_ char *dest_flag = NULL;
        if ((size_t)i == s->n_mounts && s->ws_dest && field && strcmp(field, "destination_path") == 0 &&
            asprintf(&dest_flag, "--workspace-dest %s", s->ws_dest) >= 0)
                flag = dest_flag;
        /* the codec's "expected ..." needs the field; the plan's "mount v0: ..." says it */
        if (field && names_ref(msg, (size_t)i < s->n_mounts ? s->mounts[i].ref : "workspace"))
                field = NULL;
        fprintf(stderr, "nook: %s: %s%s%s\n", flag, field ? field : "", field ? ": " : "", msg);
        const char *hint = nook_error_get_hint(err);
        if (hint)
                fprintf(stderr, "hint: %s\n", hint);
        return EXIT_NOOK;
}

/* After a message that names mount refs, which option each one is. */
static void explain_refs(const nook_error *err, const cli_session_opts *s) {
        const char *msg = nook_error_get_message(err), *hint = nook_error_get_hint(err);
        const char *field;
        long named = pointed_mount(err, s, &field);
        for (size_t i = 0; i < s->n_mounts; i++)
                if ((long)i != named &&
                    (names_ref(msg, s->mounts[i].ref) || (hint && names_ref(hint, s->mounts[i].ref))))
                        fprintf(stderr, "nook: (mount %s is %s)\n", s->mounts[i].ref, s->mounts[i].flag);
        if (s->ws_ref && strcmp(s->ws_ref, WORKSPACE_ALIAS) == 0 && names_ref(msg, WORKSPACE_ALIAS))
                fprintf(stderr, "nook: (%s is %s)\n", WORKSPACE_ALIAS, s->ws_flag);
}

static json_t *req_prepare_session(const char *env_id, const cli_session_opts *s, bool owned) {
        json_t *ext = json_pack("{s:o}", "identity", cli_json_str(s->userns));
        int r = cli_net_ext(s, ext);
        if (s->hostname)
                r |= json_object_set_new(ext, "hostname", cli_json_str(s->hostname));
        if (s->name)
                r |= json_object_set_new(ext, "name", cli_json_str(s->name));
        r |= json_object_set_new(ext, "owned_by_caller", json_boolean(owned));
        if (s->labels)
                r |= json_object_set(ext, "labels", s->labels);
        json_t *req = json_pack("{s:o,s:o}", "environment", environment(env_id, s, 0), "nook", ext);
        if (r) {
                json_decref(req);
                return NULL;
        }
        return req;
}

static json_t *req_resolve_image(const cli_session_opts *s) {
        return json_pack("{s:{s:o}}", "image", "image_ref", cli_json_str(s->image));
}

int cli_resolve_image(nook_runtime *rt, cli_session_opts *s, bool verbose) {
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        if (call(rt, "resolve_image", req_resolve_image(s), verbose, &s->image_resolved, &err) < 0)
                return err ? cli_report(err) : EXIT_NOOK;
        return 0;
}

/* image_digest: what resolve_image answered, so that the root is that very image */
static json_t *req_prepare_rootfs(const char *env_id, const cli_session_opts *s, const char *image_digest) {
        json_t *rootfs =
                json_pack("{s:o,s:b}", "rootfs_ref", cli_json_str(image_digest ? image_digest : CLI_ROOTFS_ALIAS),
                          "read_only", s->read_only);
        int r = 0;
        if (s->upper)
                r |= json_object_set_new(rootfs, "writable_layer_ref", cli_json_str(s->upper));
        json_t *ext = json_pack("{s:b}", "rootfs_rw", s->rootfs_rw);
        if (s->driver)
                r |= json_object_set_new(ext, "driver", cli_json_str(s->driver));
        json_t *req = json_pack("{s:o,s:o,s:o}", "rootfs", rootfs, "environment_id", cli_json_str(env_id), "nook", ext);
        if (r) {
                json_decref(req);
                return NULL;
        }
        return req;
}

static json_t *req_prepare_environment(const char *env_id, const cli_session_opts *s) {
        return json_pack("{s:o}", "environment", environment(env_id, s, 0));
}

typedef struct found_session {
        const char *env;
        char *notes, *limits;
        char identity[16];
        unsigned long long owners_collapsed;
        bool found;
} found_session;

static int find_session(const nook_session_info *i, void *userdata) {
        found_session *f = userdata;
        if (strcmp(i->environment_id, f->env) != 0)
                return 0;
        f->found = true;
        f->notes = i->notes ? strdup(i->notes) : NULL;
        f->limits = i->limits ? strdup(i->limits) : NULL;
        snprintf(f->identity, sizeof(f->identity), "%s", i->identity ? i->identity : "?");
        f->owners_collapsed = i->image ? i->owners_collapsed : 0;
        return 1;
}

/* A limit asked for that the session does not hold: HOW is "not_enforced" in limits. */
static bool not_enforced(const char *limits, const char *name) {
        char want[32];
        snprintf(want, sizeof(want), "%s=not_enforced", name);
        const char *at = limits ? strstr(limits, want) : NULL;
        return at && (at == limits || at[-1] == ' ');
}

/* What the session gave up, one line on stderr each (issue 14: a downgrade is never
 * silent): the notes session inspect shows ("; "-separated), then the limits asked for
 * that nothing enforces.  --quiet leaves them to session inspect. */
static void report_downgrades(nook_runtime *rt, const char *env_id, const cli_session_opts *s) {
        if (s->quiet)
                return;
        found_session f = { .env = env_id };
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        if (nook_runtime_sessions(rt, find_session, &f, &err) < 0 && !f.found)
                return;
        for (char *note = f.notes, *next; note && *note; note = next) {
                next = strstr(note, "; ");
                if (next) {
                        *next = 0;
                        next += 2;
                }
                fprintf(stderr, "nook: downgrade: %s\n", note);
        }
        /* auto could not give the image's owners (no subuid range, or no driver that
         * shows them): what the files' owners look like inside is weaker than asked */
        if (f.owners_collapsed && strcmp(s->userns, "auto") == 0)
                fprintf(stderr,
                        "nook: downgrade: %llu entries of the image owned by other ids show as the one id mapped "
                        "(identity %s: %s)\n",
                        f.owners_collapsed, f.identity,
                        strcmp(f.identity, "subuid") != 0 ? "no /etc/subuid and /etc/subgid range for this user"
                                                          : "the root driver cannot show them");
        if (s->cpus_arg && not_enforced(f.limits, "cpus"))
                fprintf(stderr,
                        "nook: downgrade: --cpus %s is not enforced: this user has no delegated cgroup v2 cpu "
                        "controller (run 'nook caps' for how to get one)\n",
                        s->cpus_arg);
        if (s->disk_mb && not_enforced(f.limits, "disk"))
                fputs("nook: downgrade: --disk is not enforced: with --rootfs-rw writes land in the directory "
                      "itself\n",
                      stderr);
        free(f.notes);
        free(f.limits);
}

int cli_session_up(nook_runtime *rt, const char *env_id, const cli_session_opts *s, bool owned_by_caller, int sigfd,
                   bool verbose) {
        /* the image first: a missing one fails before any namespace exists */
        static const char *const methods[] = { "resolve_image",     "prepare_session", "prepare_rootfs",
                                               "configure_network", "prepare_secrets", "prepare_environment" };
        _cleanup_free_ char *digest = s->image_resolved ? cli_json_get(s->image_resolved, "/digest") : NULL;
        for (size_t i = 0; i < ELEMENTSOF(methods); i++) {
                if (i == 0 && (!s->image || digest))
                        continue;
                /* none and host need no setting up: not a round trip on the start path */
                if (i == 3 && strcmp(s->network, "slirp4netns") != 0)
                        continue;
                if (i == 4 && !s->sec_mounts && !s->sec_envs)
                        continue;
                json_t *req = i == 0   ? req_resolve_image(s)
                              : i == 1 ? req_prepare_session(env_id, s, owned_by_caller)
                              : i == 2 ? req_prepare_rootfs(env_id, s, digest)
                              : i == 3 ? req_prepare_session(env_id, s, owned_by_caller)
                                       : req_prepare_environment(env_id, s);
                _cleanup_free_ char *out = NULL;
                _cleanup_(cli_error_freep) nook_error *err = NULL;
                if (call(rt, methods[i], req, verbose, &out, &err) < 0) {
                        if (!err)
                                return EXIT_NOOK;
                        int rc = report_mount_error(err, s);
                        explain_refs(err, s);
                        hint_ownership(err, s);
                        return rc;
                }
                if (i == 0 && !(digest = cli_json_get(out, "/digest")))
                        return EXIT_NOOK;
                /* a secret too short to mask is a downgrade the user must see */
                const char *note = i == 4 ? nook_runtime_last_note(rt) : NULL;
                if (note)
                        fprintf(stderr, "nook: warning: %s\n", note);
                /* a signal that came meanwhile stops here: the caller removes the session */
                int sig = cli_signal_take(sigfd);
                if (sig)
                        return 128 + sig;
        }
        report_downgrades(rt, env_id, s);
        return 0;
}

/* Whether a session of env_id exists: after a failed start, the cleanup's own failure is
 * worth reporting (with a 'session rm' hint) only when something was left to remove. */
static bool session_left(nook_runtime *rt, const char *env_id) {
        _cleanup_free_ char *env = NULL;
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        return nook_runtime_session_resolve(rt, env_id, &env, &err) == 0;
}

static int session_down(nook_runtime *rt, const char *env_id, const char *plan_ref, bool verbose, bool only_if_left) {
        json_t *req = json_pack("{s:{s:o,s:{}},s:o}", "environment", "environment_id", cli_json_str(env_id), "spec",
                                "cleanup_plan_ref", cli_json_str(plan_ref));
        _cleanup_free_ char *out = NULL;
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        if (call(rt, "cleanup", req, verbose, &out, &err) < 0) {
                /* the start's error was reported already; the cleanup failing the same way
                 * (no journal, no run dir) while no session exists says nothing new */
                if (only_if_left && !session_left(rt, env_id))
                        return 0;
                if (!err)
                        return EXIT_NOOK;
                cli_report(err);
                fprintf(stderr, "hint: run 'nook session rm %s' to try again, or 'nook gc'\n", env_id);
                return EXIT_NOOK;
        }
        _cleanup_free_ char *status = cli_json_get(out, "/status");
        if (status && strcmp(status, "completed") == 0)
                return 0;
        _cleanup_free_ char *summary = cli_json_get(out, "/redacted_summary");
        fprintf(stderr, "nook: session %s was not removed completely (%s): %s\n", env_id, status ? status : "?",
                summary ? summary : "no details");
        fprintf(stderr, "hint: run 'nook session rm %s' to try again\n", env_id);
        return EXIT_NOOK;
}

int cli_session_down(nook_runtime *rt, const char *env_id, const char *plan_ref, bool verbose) {
        return session_down(rt, env_id, plan_ref, verbose, false);
}

int cli_session_abandon(nook_runtime *rt, const char *env_id, const char *plan_ref, bool verbose) {
        return session_down(rt, env_id, plan_ref, verbose, true);
}

static json_t *process(const cli_process_opts *p, const char *process_id, const char *cwd) {
        json_t *argv = json_array();
        int r = 0;
        for (size_t i = 0; i < p->argc; i++)
                r |= json_array_append_new(argv, cli_json_str(p->argv[i]));
        json_t *o = json_pack("{s:o,s:o}", "process_id", cli_json_str(process_id), "argv", argv);
        if (cwd)
                r |= json_object_set_new(o, "cwd", cli_json_str(cwd));
        if (p->user)
                r |= json_object_set_new(o, "user", cli_json_str(p->user));
        r |= json_object_set_new(o, "terminal_mode", json_string(p->tty ? "pty" : "pipe"));
        r |= json_object_set_new(o, "timeout_ms",
                                 json_integer((json_int_t)(p->timeout_ms ? p->timeout_ms : CLI_MAX_TIMEOUT_MS)));
        /* the capture logs (which the terminal is copied from) keep this much (S34) */
        json_int_t log_max = (json_int_t)(p->log_max ? p->log_max : CLI_LOG_MAX);
        r |= json_object_set_new(o, "stdout_policy", json_pack("{s:I}", "max_bytes", log_max));
        r |= json_object_set_new(o, "stderr_policy", json_pack("{s:I}", "max_bytes", log_max));
        if (p->env.n) {
                json_t *env = json_object();
                /* names are letters, digits and '_' (cli_env_add) */
                for (size_t i = 0; i < p->env.n; i++)
                        r |= json_object_set_new(env, p->env.names[i], cli_json_str(p->env.values[i]));
                r |= json_object_set_new(o, "env_values", env);
        }
        json_t *ext = json_pack("{s:b}", "stdin_open", p->interactive);
        unsigned rows, cols;
        if (p->tty && cli_tty_size(&rows, &cols)) {
                r |= json_object_set_new(ext, "tty_rows", json_integer(rows));
                r |= json_object_set_new(ext, "tty_cols", json_integer(cols));
        }
        if (p->caps)
                r |= json_object_set_new(ext, "capabilities", cli_json_str(p->caps));
        if (p->rlimits)
                r |= json_object_set(o, "posix_rlimits", p->rlimits);
        if (p->seccomp_profile)
                r |= json_object_set(ext, "seccomp", p->seccomp_profile);
        else if (p->seccomp_arg)
                r |= json_object_set_new(ext, "seccomp", json_string("unconfined"));
        r |= json_object_set_new(o, "nook", ext);
        if (r) {
                json_decref(o);
                return NULL;
        }
        return o;
}

/* podman's codes: 127 the command was not found, 126 it could not be executed. */
static int start_failure(const nook_error *err, const cli_process_opts *p, const char *env_id) {
        const char *msg = nook_error_get_message(err);
        const char *ptr = nook_error_get_pointer(err);
        if (p->seccomp_profile && ptr && strncmp(ptr, "/process/nook/seccomp", 21) == 0) {
                fprintf(stderr, "nook: --security-opt seccomp=%s: %s\n", p->seccomp_arg, msg);
                return EXIT_NOOK;
        }
        cli_report(err);
        if (nook_error_get_kind(err) == NOOK_ERROR_RECOVERY_REPAIR_NEEDED)
                fprintf(stderr,
                        "hint: the session cannot run anything more: remove it with 'nook session rm %s' "
                        "(or 'nook gc')\n",
                        env_id);
        if (nook_error_get_exec_stage(err) != NOOK_EXEC_STAGE_EXEC)
                return EXIT_NOOK;
        return nook_error_get_errno(err) == ENOENT ? 127 : 126;
}

int cli_start(nook_runtime *rt, const char *env_id, const cli_session_opts *s, const cli_process_opts *p,
              const char *process_id, const char *effect_id, char **ret_ref, char **ret_summary, char **ret_cpus) {
        /* with a workspace, the command starts in it unless -w says otherwise */
        const char *cwd = p->workdir;
        if (!cwd && s && s->ws_mode)
                cwd = s->ws_dest ? s->ws_dest : "/workspace";
        /* wait_ms 0: the CLI attaches to the process itself (or leaves it, -d) */
        json_t *req = json_pack("{s:o,s:o,s:{s:o},s:i}", "environment", environment(env_id, s, p->timeout_ms),
                                "process", process(p, process_id, cwd), "effect_intent", "effect_id",
                                cli_json_str(effect_id), "wait_ms", 0);
        _cleanup_free_ char *out = NULL;
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        if (call(rt, "start_process", req, p->verbose, &out, &err) < 0)
                return err ? start_failure(err, p, env_id) : EXIT_NOOK;
        char *ref = cli_json_get(out, "/process_ref");
        if (!ref) {
                fputs("nook: start_process returned no process_ref\n", stderr);
                return EXIT_NOOK;
        }
        *ret_ref = ref;
        if (ret_summary)
                *ret_summary = cli_json_get(out, "/redacted_summary");
        if (ret_cpus)
                *ret_cpus = cli_json_get(out, "/limits/cpus");
        return 0;
}
