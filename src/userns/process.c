/* nook userns — start_process: the only stage that launches a workload.  The client
 * composes the command (argv, env, cwd, user, limits, capabilities, the compiled
 * seccomp program) and asks the holder, which forks a monitor (helpers/monitor.c) that
 * answers once the workload has exec'd; with the ext wait_ms it then waits for the
 * exit record and returns the first frames (one round trip for short commands). */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "userns/idmap.h"
#include "userns/image.h"
#include "userns/io.h"
#include "userns/limits.h"
#include "userns/seccomp.h"
#include "userns/network.h"
#include "userns/session.h"
#include "userns/stages.h"
#include "util/rmrf.h"
#include "util/strbuf.h"
#include "util/random.h"

/* podman's default set (SECURITY.md S9): no CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_SYS_PTRACE. */
#define DEFAULT_CAPS                                                                                      \
        ((1ull << CAP_CHOWN) | (1ull << CAP_DAC_OVERRIDE) | (1ull << CAP_FOWNER) | (1ull << CAP_FSETID) | \
         (1ull << CAP_KILL) | (1ull << CAP_SETGID) | (1ull << CAP_SETUID) | (1ull << CAP_SETPCAP) |       \
         (1ull << CAP_NET_BIND_SERVICE) | (1ull << CAP_SYS_CHROOT) | (1ull << CAP_SETFCAP))

/* The ext's capabilities ("CHOWN,KILL", names with or without CAP_) as bits, each one of
 * DEFAULT_CAPS: a process never gets more than podman's default set (S9). */
static int process_caps(const nook_process_spec *p, uint64_t *ret, nook_error **err) {
        static const struct {
                const char *name;
                int cap;
        } names[] = { { "CHOWN", CAP_CHOWN },
                      { "DAC_OVERRIDE", CAP_DAC_OVERRIDE },
                      { "FOWNER", CAP_FOWNER },
                      { "FSETID", CAP_FSETID },
                      { "KILL", CAP_KILL },
                      { "SETGID", CAP_SETGID },
                      { "SETUID", CAP_SETUID },
                      { "SETPCAP", CAP_SETPCAP },
                      { "NET_BIND_SERVICE", CAP_NET_BIND_SERVICE },
                      { "SYS_CHROOT", CAP_SYS_CHROOT },
                      { "SETFCAP", CAP_SETFCAP } };
        *ret = DEFAULT_CAPS;
        if (!p->has_nook || !p->nook.capabilities)
                return 0;
        _cleanup_free_ char *copy = strdup(p->nook.capabilities);
        if (!copy)
                return nook_error_oom(err);
        uint64_t caps = 0;
        for (char *w = copy, *next; w && *w; w = next) {
                next = strchr(w, ',');
                if (next)
                        *next++ = 0;
                const char *name = strncasecmp(w, "CAP_", 4) == 0 ? w + 4 : w;
                size_t i = 0;
                while (i < ELEMENTSOF(names) && strcasecmp(names[i].name, name) != 0)
                        i++;
                if (i == ELEMENTSOF(names))
                        return nook_error_field(err, NOOK_ERROR_POLICY_DENIAL, "/process/nook/capabilities",
                                                "capability '%s' is not granted: a sandbox keeps at most podman's "
                                                "default set (CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, "
                                                "SETUID, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, SETFCAP)",
                                                w);
                caps |= 1ull << names[i].cap;
        }
        *ret = caps;
        return 0;
}

/* ref is a secret the session's holder holds (prepare_secrets; the record lists
 * "ref:kind:target" words). */
static bool secret_held(const nook_session *s, const char *ref) {
        size_t n = strlen(ref);
        for (const char *p = s->secrets; p && *p;) {
                if (!strncmp(p, ref, n) && p[n] == ':')
                        return true;
                p = strchr(p, ' ');
                p = p ? p + 1 : NULL;
        }
        return false;
}

static bool env_has(char *const *v, size_t n, const char *name) {
        size_t len = strlen(name);
        for (size_t i = 0; i < n; i++)
                if (strncmp(v[i], name, len) == 0 && v[i][len] == '=')
                        return true;
        return false;
}

/* keep-id's HOME, as podman's: the home of the uid's entry in the root's /etc/passwd (the
 * one prepare_environment added when the root had none: the host's home dir). */
static char *keep_id_home(const nook_adapter_config *c, const nook_session *s) {
        _cleanup_free_ char *text = NULL;
        if (nook_session_read_root_file(c, s, "etc/passwd", 1u << 20, &text) == 0) {
                char id[16];
                snprintf(id, sizeof(id), "%u", (unsigned)s->inner_uid);
                for (char *line = text; line && *line;) {
                        char *next = strchr(line, '\n');
                        if (next)
                                *next++ = 0;
                        char *f[7] = { line };
                        for (int i = 1; i < 7 && f[i - 1]; i++)
                                if ((f[i] = strchr(f[i - 1], ':')))
                                        *f[i]++ = 0;
                        if (f[6] && strcmp(f[2], id) == 0 && f[5][0] == '/' && !strstr(f[5], "/.."))
                                return strdup(f[5]);
                        line = next;
                }
        }
        nook_host_identity h;
        nook_host_identity_get(s->uid, s->gid, &h);
        return strdup(h.home);
}

/* env: the plain values (ext env_values), the image's Env, then the defaults a login
 * would set. */
static int add_env(const nook_adapter_config *c, const nook_session *s, const nook_process_spec *p, char **image_env,
                   uid_t uid, nook_msg *m, nook_error **err) {
        size_t n_image = 0;
        while (image_env && image_env[n_image])
                n_image++;
        char **seen = calloc(p->env_values.n + p->env.n + n_image + 1, sizeof(char *));
        size_t n = 0;
        int r = seen ? 0 : -ENOMEM;
        for (size_t i = 0; r >= 0 && i < p->env_values.n; i++) {
                _cleanup_free_ char *kv = NULL;
                if (asprintf(&kv, "%s=%s", p->env_values.keys[i], p->env_values.values[i]) < 0)
                        r = -ENOMEM;
                else if ((r = nook_msg_add_str(m, T_ENV, kv)) >= 0)
                        seen[n++] = TAKE_PTR(kv);
        }
        /* the contract's own entries (a host that sends only the crate's types): the
         * value is the redacted_value the host wrote, since raw values never travel there
         * (CONTRACT.md "IsolatedProcessSpec"); env_values win */
        for (size_t i = 0; r >= 0 && i < p->env.n; i++) {
                const nook_env_entry *e = &((const nook_env_entry *)p->env.items)[i];
                _cleanup_free_ char *kv = NULL;
                if (e->value_ref && !env_has(seen, n, e->name)) {
                        /* a value held elsewhere: a secret of the session, which the holder
                         * puts into the environment at exec (never this text) */
                        if (!secret_held(s, e->value_ref)) {
                                r = -ENOKEY;
                                break;
                        }
                        if (asprintf(&kv, "%s=%s", e->name, e->value_ref) < 0)
                                r = -ENOMEM;
                        else if ((r = nook_msg_add_str(m, T_ENV_SECRET, kv)) >= 0)
                                seen[n++] = TAKE_PTR(kv);
                        continue;
                }
                if (!e->redacted_value || env_has(seen, n, e->name))
                        continue;
                if (asprintf(&kv, "%s=%s", e->name, e->redacted_value) < 0)
                        r = -ENOMEM;
                else if ((r = nook_msg_add_str(m, T_ENV, kv)) >= 0)
                        seen[n++] = TAKE_PTR(kv);
        }
        /* the image's config is untrusted (S22): NAME=value with a sane NAME only */
        for (size_t i = 0; r >= 0 && i < n_image; i++) {
                const char *kv = image_env[i], *eq = strchr(kv, '=');
                bool ok = eq && eq > kv && eq - kv < 256 && strlen(kv) < 65536;
                for (const char *ch = kv; ok && ch < eq; ch++)
                        ok = (*ch >= 'A' && *ch <= 'Z') || (*ch >= 'a' && *ch <= 'z') || (*ch >= '0' && *ch <= '9') ||
                             *ch == '_';
                _cleanup_free_ char *name = ok ? strndup(kv, (size_t)(eq - kv)) : NULL;
                if (!name || env_has(seen, n, name))
                        continue;
                if ((r = nook_msg_add_str(m, T_ENV, kv)) >= 0 && !(seen[n++] = strdup(kv)))
                        r = -ENOMEM;
        }
        _cleanup_free_ char *home =
                s->identity == NOOK_IDENTITY_KEEP_ID && uid == s->inner_uid && uid != 0 && !env_has(seen, n, "HOME")
                        ? keep_id_home(c, s)
                        : NULL;
        const char *defaults[][2] = {
                { "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
                { "HOME", home       ? home
                          : uid == 0 ? "/root"
                                     : "/" },
                { "HOSTNAME", s->hostname ? s->hostname : "nook" },
                { "TERM", p->terminal_mode == NOOK_TERM_PTY ? "xterm" : NULL },
                { "container", "nook" },
        };
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(defaults); i++) {
                if (!defaults[i][1] || env_has(seen, n, defaults[i][0]))
                        continue;
                _cleanup_free_ char *kv = NULL;
                r = asprintf(&kv, "%s=%s", defaults[i][0], defaults[i][1]) < 0 ? -ENOMEM
                                                                               : nook_msg_add_str(m, T_ENV, kv);
        }
        for (size_t i = 0; seen && i < n; i++)
                free(seen[i]);
        free(seen);
        if (r == -ENOKEY)
                return nook_error_set(err, NOOK_ERROR_INVALID_STATE_TRANSITION, NOOK_RETRY_NOT_RETRYABLE, ENOKEY,
                                      "start_process: an env entry's value_ref names a secret this session does not "
                                      "hold; prepare_secrets gives the session its secrets (spec.secrets)");
        return r < 0 ? nook_session_compose_error(err, r, "start_process: the environment") : 0;
}

/* A name from the root's /etc/passwd or /etc/group (read inside the root, S22). */
static int lookup_id(const nook_adapter_config *c, const nook_session *s, bool group, const char *name,
                     uint32_t *ret_id, uint32_t *ret_gid) {
        _cleanup_free_ char *text = NULL;
        if (nook_session_read_root_file(c, s, group ? "etc/group" : "etc/passwd", 1u << 20, &text) < 0)
                return -ENOENT;
        for (char *line = text; line && *line;) {
                char *next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                char *f[4] = { line, NULL, NULL, NULL };
                for (int i = 1; i < 4 && f[i - 1]; i++)
                        if ((f[i] = strchr(f[i - 1], ':')))
                                *f[i]++ = 0;
                if (f[2] && strcmp(f[0], name) == 0) {
                        *ret_id = (uint32_t)strtoul(f[2], NULL, 10);
                        if (ret_gid)
                                *ret_gid = f[3] ? (uint32_t)strtoul(f[3], NULL, 10) : *ret_id;
                        return 0;
                }
                line = next;
        }
        return -ENOENT;
}

static bool mapped(const nook_session *s, uint32_t id, bool group) {
        if (s->identity == NOOK_IDENTITY_SUBUID)
                return id <= s->subid_count;
        return id == (group ? s->inner_gid : s->inner_uid);
}

static int resolve_user(const nook_adapter_config *c, const nook_session *s, const nook_process_spec *p, uint32_t *uid,
                        uint32_t *gid, nook_error **err) {
        *uid = s->inner_uid;
        *gid = s->inner_gid;
        if (!p->user_parsed.set)
                return 0;
        if (p->user_parsed.numeric) {
                *uid = p->user_parsed.uid;
                *gid = p->user_parsed.has_gid ? p->user_parsed.gid : *uid;
        } else if (lookup_id(c, s, false, p->user_parsed.name, uid, gid) < 0)
                return nook_error_set(err, NOOK_ERROR_CONTRACT_VIOLATION, NOOK_RETRY_NOT_RETRYABLE, ENOENT,
                                      "start_process: user '%s' is not in the root's /etc/passwd", p->user_parsed.name);
        if (p->user_parsed.group[0] && lookup_id(c, s, true, p->user_parsed.group, gid, NULL) < 0)
                return nook_error_set(err, NOOK_ERROR_CONTRACT_VIOLATION, NOOK_RETRY_NOT_RETRYABLE, ENOENT,
                                      "start_process: group '%s' is not in the root's /etc/group",
                                      p->user_parsed.group);
        if (!mapped(s, *uid, false) || !mapped(s, *gid, true))
                return nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_USER_ACTION_NEEDED, EINVAL,
                                      "start_process: uid %u / gid %u is not mapped in this session's %s identity "
                                      "(only %s); use the subuid identity (needs /etc/subuid) for other ids",
                                      *uid, *gid,
                                      s->identity == NOOK_IDENTITY_KEEP_ID ? "keep-id"
                                      : s->identity == NOOK_IDENTITY_ROOT  ? "root"
                                                                           : "subuid",
                                      s->identity == NOOK_IDENTITY_SUBUID ? "the subordinate range"
                                                                          : "the caller's own id");
        return 0;
}

static int add_seccomp(const nook_adapter_config *c, const nook_process_spec *p, nook_msg *m, nook_error **err) {
        const nook_seccomp_choice *choice = &p->nook.seccomp;
        if (p->has_nook && choice->mode == NOOK_SECCOMP_UNCONFINED)
                return 0;
        _cleanup_free_ char *cache = NULL;
        if (asprintf(&cache, "%s/seccomp", c->data_dir) < 0)
                return nook_error_oom(err);
        nook_seccomp_program prog = { 0 };
        const nook_seccomp_profile *profile =
                p->has_nook && choice->mode == NOOK_SECCOMP_PROFILE ? choice->profile : NULL;
        int r = nook_seccomp_compile(profile, p->has_nook && p->nook.allow_nested_userns, cache, &prog, err);
        if (r < 0)
                return nook_error_prefix(err, r, "start_process: compiling the seccomp profile");
        r = nook_msg_add(m, T_SECCOMP, prog.insns, (uint32_t)(prog.n_insns * 8));
        nook_seccomp_program_clear(&prog);
        return r < 0 ? nook_session_compose_error(err, r, "start_process: the seccomp program") : 0;
}

/* The image's User ("uid[:gid]", "name[:group]"), as the request's user would be. */
static bool image_user(const char *spec, nook_process_spec *p) {
        char u[128];
        if (!spec || strlen(spec) >= sizeof(u))
                return false;
        snprintf(u, sizeof(u), "%s", spec);
        char *colon = strchr(u, ':');
        if (colon)
                *colon++ = 0;
        const char *parts[2] = { u, colon };
        bool digits[2] = { true, true };
        for (int k = 0; k < 2; k++)
                for (const char *c = parts[k]; c && *c; c++) {
                        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                              *c == '_' || *c == '-' || *c == '.'))
                                return false;
                        digits[k] &= *c >= '0' && *c <= '9';
                }
        if (!u[0] || strlen(u) > 63 || (colon && (!*colon || strlen(colon) > 63)))
                return false;
        p->user_parsed.set = true;
        p->user_parsed.numeric = digits[0];
        if (digits[0])
                p->user_parsed.uid = (uint32_t)strtoul(u, NULL, 10);
        else
                snprintf(p->user_parsed.name, sizeof(p->user_parsed.name), "%s", u);
        if (colon && digits[1]) {
                p->user_parsed.has_gid = true;
                p->user_parsed.gid = (uint32_t)strtoul(colon, NULL, 10);
        } else if (colon)
                snprintf(p->user_parsed.group, sizeof(p->user_parsed.group), "%s", colon);
        return true;
}

/* WorkingDir from an image: absolute, clean, and never into /proc (S22). */
bool nook_image_workdir_ok(const char *w) {
        if (!w || w[0] != '/' || strlen(w) > 1024 || strstr(w, "/..") ||
            (strncmp(w, "/proc", 5) == 0 && (w[5] == 0 || w[5] == '/')))
                return false;
        for (const char *c = w; *c; c++)
                if ((unsigned char)*c < 0x20)
                        return false;
        return true;
}

static int build_spawn(const nook_adapter_config *c, const nook_session *s, const nook_start_process_req *req,
                       const char *ref, nook_msg *m, nook_strbuf *sum, nook_limits_report *rep, nook_error **err) {
        nook_process_spec pc = req->process; /* a shallow copy: the image may fill in user */
        const nook_process_spec *p = &pc;
        nook_image im = { 0 };
        if (s->image) {
                /* the image's Env, User and WorkingDir apply: a damaged image is refused, never
                 * run without them (as root, say, instead of its User) */
                int q = nook_image_load_from(c->data_dir, s->image, false, &im, err);
                if (q < 0)
                        return nook_error_prefix(err, q, "start_process");
                if (!pc.user_parsed.set && im.user && !image_user(im.user, &pc)) {
                        nook_image_clear(&im);
                        return nook_error_set(err, NOOK_ERROR_INVALID_PACKAGE, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                              "start_process: the image's User is not uid[:gid] or name[:group]");
                }
        }
        const char *cwd = p->cwd                              ? p->cwd
                          : s->workspace                      ? s->workspace
                          : nook_image_workdir_ok(im.workdir) ? im.workdir
                                                              : "/";
        uint32_t uid, gid;
        int r = resolve_user(c, s, p, &uid, &gid, err);
        if (r < 0) {
                nook_image_clear(&im);
                return r;
        }
        r = nook_msg_add_str(m, T_PROCESS_REF, ref);
        for (size_t i = 0; r >= 0 && i < p->argv.n; i++)
                r = nook_msg_add_str(m, T_ARGV, ((char **)p->argv.items)[i]);
        if (r >= 0)
                r = nook_msg_add_str(m, T_CWD, cwd);
        if (r >= 0)
                r = nook_msg_add_u64(m, T_UID, uid);
        if (r >= 0)
                r = nook_msg_add_u64(m, T_GID, gid);
        /* With a subordinate range setgroups(2) is allowed: groups set exactly (S11). */
        if (r >= 0 && s->identity == NOOK_IDENTITY_SUBUID)
                r = nook_msg_add_u64(m, T_GROUPS, gid);
        if (r >= 0)
                r = nook_msg_add_u64(m, T_TERMINAL, p->terminal_mode == NOOK_TERM_PTY);
        if (r >= 0)
                r = nook_msg_add_u64(m, T_ROWS, p->has_nook && p->nook.tty_rows ? p->nook.tty_rows : 24);
        if (r >= 0)
                r = nook_msg_add_u64(m, T_COLS, p->has_nook && p->nook.tty_cols ? p->nook.tty_cols : 80);
        if (r >= 0)
                r = nook_msg_add_u64(m, T_STDIN_OPEN, p->has_nook && p->nook.stdin_open);
        uint64_t caps = DEFAULT_CAPS;
        int q = r >= 0 ? process_caps(p, &caps, err) : 0;
        if (q < 0) {
                nook_image_clear(&im);
                return q;
        }
        if (r >= 0)
                r = nook_msg_add_u64(m, T_CAPS, caps);
        if (r >= 0)
                r = nook_limits_spawn(s, &req->environment.spec, p, m, sum, rep); /* S34 */
        if (r < 0) {
                nook_image_clear(&im);
                return nook_session_compose_error(err, r, "start_process");
        }
        r = add_env(c, s, p, im.env, uid, m, err);
        nook_image_clear(&im);
        if (r < 0)
                return r;
        return add_seccomp(c, p, m, err);
}

/* The workload's setup failed (T_EXEC_STAGE: the step, from helpers/spawn.c); the
 * step travels on the error too (nook_error_get_exec_stage), for callers that map it to
 * an exit code as a shell does. */
static int spawn_error(const nook_msg *reply, const nook_process_spec *p, nook_error **err) {
        int e = (int)nook_msg_u64(reply, T_ERRNO, EIO);
        const char *stage = nook_msg_str(reply, T_EXEC_STAGE);
        const char *cmd = ((char **)p->argv.items)[0];
        nook_exec_stage st = !stage                       ? NOOK_EXEC_STAGE_NONE
                             : strcmp(stage, "exec") == 0 ? NOOK_EXEC_STAGE_EXEC
                             : strcmp(stage, "cwd") == 0  ? NOOK_EXEC_STAGE_CWD
                                                          : NOOK_EXEC_STAGE_SETUP;
        int r;
        if (st == NOOK_EXEC_STAGE_EXEC && e == ENOENT)
                r = nook_error_set(err, NOOK_ERROR_CHILD_LIFECYCLE_FAILURE, NOOK_RETRY_NOT_RETRYABLE, ENOENT,
                                   "start_process: %s: command not found in the sandbox", cmd);
        /* the errno decides whether trying again can help: EAGAIN from fork(2) at the
         * session's process limit may pass, EACCES on the command needs the user */
        else if (st == NOOK_EXEC_STAGE_EXEC)
                r = nook_error_set(err, NOOK_ERROR_CHILD_LIFECYCLE_FAILURE, nook_retry_for_errno(e), e,
                                   "start_process: %s: cannot execute: %s", cmd, strerror(e));
        else if (st == NOOK_EXEC_STAGE_CWD)
                r = nook_error_set(err, NOOK_ERROR_CHILD_LIFECYCLE_FAILURE, nook_retry_for_errno(e), e,
                                   "start_process: working directory %s: %s", p->cwd ? p->cwd : "/", strerror(e));
        else {
                const char *msg = nook_msg_str(reply, T_MESSAGE);
                r = nook_error_set(err, NOOK_ERROR_CHILD_LIFECYCLE_FAILURE, nook_retry_for_errno(e), e,
                                   "start_process: %s: %s",
                                   stage ? stage
                                   : msg ? msg
                                         : "starting the workload",
                                   strerror(e));
        }
        nook_error_set_exec_stage(err, st);
        return r;
}

/* The holder refused to spawn: slirp4netns, started by configure_network, never came up
 * (its readiness is awaited at the first spawn). */
static int network_down(const nook_session *s, nook_error **err) {
        char tail[512];
        nook_net_log_tail(s, "slirp4netns.log", tail, sizeof(tail));
        nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_HOST_CONFIGURATION_NEEDED, ENETDOWN,
                       "start_process: the session's network did not come up: slirp4netns %s%s",
                       *tail ? "said: " : "ended or was not ready within 10 s", tail);
        return nook_error_set_hint(err, "run 'nook caps' to see whether userspace networking works here, or run "
                                        "with --network none"),
               -ENETDOWN;
}

static int write_meta(const nook_session *s, const char *ref, const nook_start_process_req *req) {
        _cleanup_free_ char *text = NULL;
        const char *argv0 = ((char **)req->process.argv.items)[0];
        const char *base = strrchr(argv0, '/') ? strrchr(argv0, '/') + 1 : argv0;
        const nook_io_policy *io = &req->environment.spec.io_policy;
        const nook_stream_policy *o = req->process.has_stdout_policy ? &req->process.stdout_policy : &io->stdout_policy;
        const nook_stream_policy *e = req->process.has_stderr_policy ? &req->process.stderr_policy : &io->stderr_policy;
        /* the effective policy of each stream (the process's own over the environment's):
         * every later stream_io and read_content shapes its frames by it */
        if (asprintf(&text,
                     "command=%.64s\nprocess_id=%s\nterminal=%d\nstdout_capture=%d\nstdout_max=%llu\n"
                     "stdout_truncation=%d\nstdout_ref_mode=%d\nstderr_capture=%d\nstderr_max=%llu\n"
                     "stderr_truncation=%d\nstderr_ref_mode=%d\n",
                     base, req->process.process_id, req->process.terminal_mode == NOOK_TERM_PTY, o->default_capture,
                     (unsigned long long)o->max_bytes, o->truncation_policy,
                     nook_io_ref_mode_allows(o->content_ref_mode), e->default_capture, (unsigned long long)e->max_bytes,
                     e->truncation_policy, nook_io_ref_mode_allows(e->content_ref_mode)) < 0)
                return -ENOMEM;
        for (char *c = text; *c; c++)
                if ((unsigned char)*c < 0x20 && *c != '\n')
                        *c = '?';
        _cleanup_close_ int fd = nook_session_openat(s, ref, "meta", O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0)
                return fd;
        size_t len = strlen(text);
        return write(fd, text, len) == (ssize_t)len ? 0 : negative_errno();
}

static int new_process_dir(const nook_session *s, char ref[NOOK_PROCESS_REF_LEN], nook_error **err) {
        _cleanup_free_ char *rnd = nook_random_hex(8);
        if (!rnd)
                return nook_error_oom(err);
        snprintf(ref, NOOK_PROCESS_REF_LEN, "p-%s-%s", s->ref + 2, rnd);
        _cleanup_close_ int pfd = openat(s->dir_fd, "p", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (pfd < 0 || mkdirat(pfd, ref, 0700) < 0)
                return nook_error_sys(err, errno, "start_process: creating the process dir");
        return 0;
}

static void remove_process_dir(const nook_session *s, const char *ref) {
        _cleanup_close_ int fd = openat(s->dir_fd, "p", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0)
                (void)nook_rm_rf_at(fd, ref);
}

/* How long start_process waits for the end (0: it answers once the workload runs).
 * ext wait_ms says; without it (a host holding only the crate's types), a batch process
 * that nothing can feed (stdin closed, a pipe) is waited for, as the crate's own fake
 * answers, up to its timeout, which ends it anyway; one that takes input, or a pty, is
 * answered at once and driven with stream_io. */
static uint64_t wait_ms(const nook_start_process_req *req) {
        if (req->has_wait_ms)
                return req->wait_ms;
        const nook_process_spec *p = &req->process;
        bool batch = p->stdin_spec.tag == NOOK_STDIN_CLOSED && p->terminal_mode == NOOK_TERM_PIPE &&
                     !(p->has_nook && p->nook.stdin_open);
        if (!batch)
                return 0;
        /* the monitor's kill and its record land within 5 s of the timeout */
        return nook_limits_timeout_ms(&req->environment.spec, p) + 5000;
}

/* Wait for the end and hand back the first frames of each stream. */
static int finish_waiting(const nook_session *s, const nook_start_process_req *req, const char *ref,
                          nook_start_result *ret, nook_error **err) {
        nook_exit_record rec;
        if (nook_process_wait(s, ref, (int64_t)wait_ms(req), &rec) <= 0)
                return 0;
        ret->terminal_status = rec.timed_out        ? NOOK_TERMINAL_TIMED_OUT
                               : rec.exit_code == 0 ? NOOK_TERMINAL_COMPLETED
                                                    : NOOK_TERMINAL_FAILED;
        const nook_io_policy *io = &req->environment.spec.io_policy;
        ret->io_frames.items = calloc(2, sizeof(nook_io_frame));
        if (!ret->io_frames.items)
                return nook_error_oom(err);
        for (int i = 0; i < 2; i++) {
                const nook_stream_policy *pol = i == 0 ? &io->stdout_policy : &io->stderr_policy;
                const nook_stream_policy *over = i == 0 ? &req->process.stdout_policy : &req->process.stderr_policy;
                bool has_over = i == 0 ? req->process.has_stdout_policy : req->process.has_stderr_policy;
                nook_io_frame *f = &((nook_io_frame *)ret->io_frames.items)[i];
                ret->io_frames.n = (size_t)i + 1;
                int r = nook_io_frame_fill(s, ref, i == 0 ? NOOK_STREAM_STDOUT : NOOK_STREAM_STDERR, 0,
                                           (has_over ? over : pol)->max_bytes, has_over ? over : pol, f, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int nook_userns_start_process(void *state, nook_call_ctx *ctx, const nook_start_process_req *req,
                              nook_start_result *ret, nook_error **err) {
        _cleanup_(nook_session_freep) nook_session *s = NULL;
        int r = nook_session_find(ctx->config, req->environment.environment_id, &s, err);
        if (r == -ENOENT || (r == 0 && !s->prepared))
                return nook_error_set(err, NOOK_ERROR_INVALID_STATE_TRANSITION, NOOK_RETRY_NOT_RETRYABLE, ENOENT,
                                      "start_process: the environment is not prepared (prepare_session, "
                                      "prepare_rootfs and prepare_environment first)");
        if (r < 0)
                return r;
        if (!nook_session_alive(s))
                return nook_error_set(err, NOOK_ERROR_RECOVERY_REPAIR_NEEDED, NOOK_RETRY_REPAIR_NEEDED, EOWNERDEAD,
                                      "start_process: the session's holder is gone; run cleanup for the environment");
        char ref[NOOK_PROCESS_REF_LEN];
        if ((r = new_process_dir(s, ref, err)) < 0)
                return r;
        nook_msg m = NOOK_MSG_INIT(NOOK_MSG_SPAWN), reply = NOOK_MSG_INIT(0);
        nook_strbuf sum = NOOK_STRBUF_INIT;
        r = build_spawn(ctx->config, s, req, ref, &m, &sum, &ret->limits, err);
        ret->has_limits = r >= 0;
        int q = r >= 0 ? write_meta(s, ref, req) : 0;
        if (q < 0)
                r = nook_error_sys(err, -q, "start_process: recording the process");
        if (r >= 0) {
                _cleanup_(nook_error_freep) nook_error *e2 = NULL;
                r = nook_session_request(s, NULL, &m, &reply, 30000, "start_process", &e2);
                if (r < 0 && nook_msg_u64(&reply, T_ERRNO, 0) == ENETDOWN)
                        r = network_down(s, err);
                else if (r < 0 && nook_msg_has(&reply, T_ERRNO))
                        r = spawn_error(&reply, &req->process, err);
                else if (r < 0 && err)
                        *err = TAKE_PTR(e2);
        }
        nook_msg_done(&m);
        nook_msg_done(&reply);
        ret->redacted_summary = nook_strbuf_steal(&sum);
        if (r < 0) {
                remove_process_dir(s, ref);
                return r;
        }
        ret->process_ref = strdup(ref);
        ret->adapter_session_ref = strdup(s->ref);
        ret->terminal_status = NOOK_TERMINAL_UNKNOWN;
        if (!ret->process_ref || !ret->adapter_session_ref)
                return nook_error_oom(err);
        return wait_ms(req) ? finish_waiting(s, req, ref, ret, err) : 0;
}
