/* nook userns — prepare_secrets: each secret the spec names (spec.secrets.secret_mounts,
 * env_secrets) gets its value from where the operator or the host says, and the values
 * go, once, to the session's holder (helpers/secrets.c), which alone keeps them: in a
 * locked mapping, as read-only files bound at prepare_environment, in each workload's
 * environment at exec, and in the masker every monitor runs the output through.  Here
 * a value lives only in a buffer that is wiped as soon as it is sent; the session
 * record and the journal get refs and destinations, never a value (SECURITY.md S26).
 *
 * Where a value comes from, first match wins: the request's ext secret_values (a host
 * that holds values), the operator's sources (nook_options.secret_sources, then
 * ~/.config/nook/secrets: "REF=file:PATH|env:VAR|fd:N|store:NAME"), then the named
 * store (`nook secret create REF`). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/schema.h"
#include "nook/runtime.h"
#include "userns/secretstore.h"
#include "userns/session.h"
#include "userns/stages.h"
#include "util/fault.h"
#include "util/macro.h"
#include "util/secmem.h"
#include "util/strbuf.h"

#define VALUE_MAX (1u << 20) /* bytes of one value (the contract's bound on "value") */

/* A value in secret memory (util/secmem.h: locked, not dumped, wiped when freed). */
typedef struct value {
        void *buf;
        size_t len, cap; /* cap: the allocation's size */
} value;

static void value_wipe(value *v) {
        nook_secmem_free(v->buf, v->cap);
        *v = (value){ 0 };
}

static int value_alloc(value *v, size_t cap) {
        v->buf = nook_secmem_alloc(cap);
        v->cap = cap;
        v->len = 0;
        return v->buf ? 0 : -ENOMEM;
}

static int not_found(nook_error **err, const char *ref, const char *where, int e) {
        return nook_error_set(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, NOOK_RETRY_USER_ACTION_NEEDED, e,
                              "prepare_secrets: secret %s: %s", ref, where);
}

/* Reads fd to its end, at most VALUE_MAX bytes. */
static int read_fd(int fd, value *v) {
        return nook_secmem_read_fd(fd, VALUE_MAX, &v->buf, &v->len, &v->cap);
}

static int from_file(const char *ref, const char *path, value *v, nook_error **err) {
        _cleanup_close_ int fd = path[0] == '/' ? open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY) : -1;
        struct stat st;
        if (path[0] != '/')
                return not_found(err, ref, "file: needs an absolute path", EINVAL);
        if (fd < 0)
                return not_found(err, ref, errno == ENOENT ? "its file does not exist" : "its file cannot be opened",
                                 errno);
        if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode))
                return not_found(err, ref, "its file is a directory", EISDIR);
        int r = read_fd(fd, v);
        return r < 0 ? not_found(err, ref, r == -EFBIG ? "its file holds more than 1 MiB" : "reading its file", -r) : 0;
}

/* The variable is read once and wiped from our environment, where /proc/<pid>/environ
 * would show it for as long as we run (the kernel reads it from our memory). */
static int from_env(const char *ref, const char *var, value *v, nook_error **err) {
        char *val = getenv(var);
        if (!val)
                return not_found(err, ref,
                                 "its variable is not in nook's environment (an env: source is read once, then "
                                 "wiped from nook's environment)",
                                 ENOENT);
        if (value_alloc(v, strlen(val) + 1) < 0)
                return nook_error_oom(err);
        v->len = strlen(val);
        memcpy(v->buf, val, v->len);
        explicit_bzero(val, v->len);
        unsetenv(var);
        return 0;
}

static int from_fd(const char *ref, uint64_t fd, value *v, nook_error **err) {
        if (fd > 1u << 20 || fcntl((int)fd, F_GETFD) < 0)
                return not_found(err, ref, "its fd is not open in nook", EBADF);
        int r = read_fd((int)fd, v);
        close((int)fd);
        return r < 0 ? not_found(err, ref, r == -EFBIG ? "its fd gave more than 1 MiB" : "reading its fd", -r) : 0;
}

static int from_store(const char *ref, const char *name, value *v, nook_error **err) {
        const char *why = NULL;
        int r = nook_secret_store_get(name, &v->buf, &v->len, &why);
        v->cap = v->len; /* nook_secret_store_value_free(buf, len) is nook_secmem_free */
        if (r == -ENOENT)
                return 1;
        if (r == -EOPNOTSUPP)
                return not_found(err, ref, why ? why : "the named store (kernel keyring) is not available here", -r);
        return r < 0 ? not_found(err, ref, "reading it from the named store", -r) : 0;
}

/* An operator source "file:PATH", "env:VAR", "fd:N" or "store:NAME". */
static int from_source(const char *ref, const char *src, value *v, nook_error **err) {
        if (!strncmp(src, "file:", 5))
                return from_file(ref, src + 5, v, err);
        if (!strncmp(src, "env:", 4))
                return from_env(ref, src + 4, v, err);
        if (!strncmp(src, "fd:", 3)) {
                char *end;
                unsigned long fd = strtoul(src + 3, &end, 10);
                if (end == src + 3 || *end)
                        return not_found(err, ref, "its source fd:N needs a number", EINVAL);
                return from_fd(ref, fd, v, err);
        }
        if (!strncmp(src, "store:", 6)) {
                int r = from_store(ref, src + 6, v, err);
                return r == 1 ? not_found(err, ref, "its source names a secret the named store does not have", ENOENT)
                              : r;
        }
        return not_found(err, ref, "its source is not file:PATH, env:VAR, fd:N or store:NAME", EINVAL);
}

static int resolve(const nook_adapter_config *c, const nook_prepare_secrets_req *req, const char *ref, value *v,
                   nook_error **err) {
        for (size_t i = 0; i < req->secret_values.n; i++) {
                const nook_named_secret *ns = &((nook_named_secret *)req->secret_values.items)[i];
                if (strcmp(ns->secret_ref, ref) != 0)
                        continue;
                const nook_secret_source *s = &ns->source;
                if (s->file)
                        return from_file(ref, s->file, v, err);
                if (s->env)
                        return from_env(ref, s->env, v, err);
                if (s->has_fd)
                        return from_fd(ref, s->fd, v, err);
                if (value_alloc(v, strlen(s->value) + 1) < 0)
                        return nook_error_oom(err);
                v->len = strlen(s->value);
                memcpy(v->buf, s->value, v->len);
                return 0;
        }
        size_t n = strlen(ref);
        for (size_t i = 0; c->secret_sources && c->secret_sources[i]; i++)
                if (!strncmp(c->secret_sources[i], ref, n) && c->secret_sources[i][n] == '=')
                        return from_source(ref, c->secret_sources[i] + n + 1, v, err);
        int r = from_store(ref, ref, v, err);
        if (r != 1)
                return r;
        return not_found(err, ref,
                         "no value: give it a source (--secret-source REF=file:PATH|env:VAR|fd:N, a line REF=SOURCE "
                         "in ~/.config/nook/secrets, or `nook secret create REF`), or pass it in the request's "
                         "secret_values",
                         ENOENT);
}

/* A secret's destination: the DestinationRef's id, the file's absolute path inside. */
static int mount_dest(const nook_secret_mount *sm, size_t i, char **ret, nook_error **err) {
        char *id = NULL;
        if (nook_json_get(sm->destination, "/id", &id) < 0 || !nook_path_valid(id) || !strcmp(id, "/")) {
                free(id);
                return nook_error_set(err, NOOK_ERROR_CONTRACT_VIOLATION, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                      "prepare_secrets: secret_mounts/%zu (%s): destination.id must be the absolute "
                                      "path of a file inside the sandbox, such as /run/secrets/token",
                                      i, sm->secret_ref);
        }
        *ret = id;
        return 0;
}

static int add_one(nook_msg *m, const char *ref, const char *kind, const char *target, const value *v,
                   const nook_secret_file_ext *ext) {
        nook_msg g = NOOK_MSG_INIT(0);
        nook_msg_add_str(&g, S_REF, ref);
        nook_msg_add_str(&g, S_KIND, kind);
        nook_msg_add_str(&g, S_TARGET, target);
        nook_msg_add(&g, S_VALUE, v->buf, (uint32_t)v->len);
        if (ext && ext->has_mode)
                nook_msg_add_u64(&g, S_MODE, ext->mode);
        if (ext && ext->has_uid)
                nook_msg_add_u64(&g, S_UID, ext->uid);
        if (ext && ext->has_gid)
                nook_msg_add_u64(&g, S_GID, ext->gid);
        int r = g.failed ? -ENOMEM : nook_msg_add_group(m, T_SECRET, &g);
        nook_msg_done(&g); /* wipes the value's copy */
        return r;
}

/* "ref:file:/path ref:env:NAME ..." for the record and session inspect: no value. */
static int describe(nook_strbuf *b, const char *ref, const char *kind, const char *target) {
        return nook_strbuf_printf(b, "%s%s:%s:%s", b->len ? " " : "", ref, kind, target) ? 0 : -ENOMEM;
}

/* Each ref's value is read once (an env: source is gone after its first read), even
 * when the spec uses it twice (a file and a variable). */
typedef struct resolved {
        const char *ref;
        value v;
} resolved;

static int compose(const nook_adapter_config *c, const nook_prepare_secrets_req *req, nook_msg *m, nook_strbuf *desc,
                   nook_error **err) {
        const nook_secrets *want = &req->environment.spec.secrets;
        size_t total = want->secret_mounts.n + want->env_secrets.n, n_res = 0;
        resolved *res = calloc(total ? total : 1, sizeof(resolved));
        int r = res ? 0 : nook_error_oom(err);
        for (size_t i = 0; r >= 0 && i < total; i++) {
                bool env = i >= want->secret_mounts.n;
                const nook_secret_mount *sm = env ? NULL : &((nook_secret_mount *)want->secret_mounts.items)[i];
                const nook_env_secret *es =
                        env ? &((nook_env_secret *)want->env_secrets.items)[i - want->secret_mounts.n] : NULL;
                const char *ref = env ? es->secret_ref : sm->secret_ref;
                _cleanup_free_ char *dest = NULL;
                if (!env && (r = mount_dest(sm, i, &dest, err)) < 0)
                        break;
                const char *target = env ? es->env_key : dest;
                size_t k = 0;
                while (k < n_res && strcmp(res[k].ref, ref) != 0)
                        k++;
                if (k == n_res) {
                        res[k].ref = ref;
                        n_res++;
                        r = resolve(c, req, ref, &res[k].v, err);
                        if (r >= 0 && res[k].v.len == 0)
                                r = not_found(err, ref, "its value is empty", EINVAL);
                        if (r < 0)
                                break;
                }
                r = add_one(m, ref, env ? "env" : "file", target, &res[k].v, sm && sm->has_nook ? &sm->nook : NULL);
                if (r < 0) {
                        r = nook_session_compose_error(err, r, "prepare_secrets");
                        break;
                }
                if (describe(desc, ref, env ? "env" : "file", target) < 0)
                        r = nook_error_oom(err);
        }
        for (size_t k = 0; res && k < n_res; k++)
                value_wipe(&res[k].v);
        free(res);
        return r;
}

/* A value named in secret_values that no secret of the spec uses is a mistake of the
 * host's, said before any value is read. */
static int check_values(const nook_prepare_secrets_req *req, nook_error **err) {
        const nook_secrets *want = &req->environment.spec.secrets;
        for (size_t j = 0; j < req->secret_values.n; j++) {
                const char *ref = ((nook_named_secret *)req->secret_values.items)[j].secret_ref;
                bool used = false;
                for (size_t i = 0; i < want->secret_mounts.n && !used; i++)
                        used = !strcmp(((nook_secret_mount *)want->secret_mounts.items)[i].secret_ref, ref);
                for (size_t i = 0; i < want->env_secrets.n && !used; i++)
                        used = !strcmp(((nook_env_secret *)want->env_secrets.items)[i].secret_ref, ref);
                if (!used)
                        return nook_error_set(err, NOOK_ERROR_CONTRACT_VIOLATION, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                              "prepare_secrets: secret_values names %s, which no secret_mounts or "
                                              "env_secrets entry of the spec uses",
                                              ref);
        }
        if (want->ambient == NOOK_AMBIENT_DENIED && (want->secret_mounts.n || want->env_secrets.n))
                return nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_NOT_RETRYABLE, EPERM,
                                      "prepare_secrets: spec.secrets.ambient is \"denied\" but the spec names "
                                      "secrets; use \"explicit_refs_only\" to give them");
        return 0;
}

static int result(const nook_prepare_secrets_req *req, nook_secrets_result *ret, nook_error **err) {
        const nook_secrets *want = &req->environment.spec.secrets;
        for (size_t i = 0; i < want->secret_mounts.n; i++) {
                const nook_secret_mount *sm = &((nook_secret_mount *)want->secret_mounts.items)[i];
                if (nook_array_push_str(&ret->secret_mount_refs, sm->mount_ref ? sm->mount_ref : sm->secret_ref, err) <
                    0)
                        return -ENOMEM;
        }
        ret->teardown_required = want->teardown_required;
        return 0;
}

int nook_userns_prepare_secrets(void *state, nook_call_ctx *ctx, const nook_prepare_secrets_req *req,
                                nook_secrets_result *ret, nook_error **err) {
        (void)state;
        const nook_secrets *want = &req->environment.spec.secrets;
        int r = check_values(req, err);
        if (r < 0)
                return r;
        if (want->secret_mounts.n == 0 && want->env_secrets.n == 0)
                return result(req, ret, err);
        _cleanup_(nook_session_freep) nook_session *s = NULL;
        if ((r = nook_session_need(ctx->config, req->environment.environment_id, "prepare_secrets", &s, err)) < 0)
                return r;
        if (s->prepared && !s->secrets)
                return nook_error_set(err, NOOK_ERROR_INVALID_STATE_TRANSITION, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                      "prepare_secrets: the environment is already prepared; prepare_secrets comes "
                                      "before prepare_environment (prepare a new session)");
        nook_msg m = NOOK_MSG_INIT(NOOK_MSG_SECRETS);
        nook_strbuf desc = NOOK_STRBUF_INIT;
        r = compose(ctx->config, req, &m, &desc, err);
        if (r >= 0 && s->secrets && strcmp(s->secrets, desc.s ? desc.s : "") != 0)
                r = nook_error_set(err, NOOK_ERROR_INVALID_STATE_TRANSITION, NOOK_RETRY_NOT_RETRYABLE, EALREADY,
                                   "prepare_secrets: the session already holds other secrets (%s); prepare a new "
                                   "session for these",
                                   s->secrets);
        /* recorded before the holder has them: a crash in between leaves a record
         * that names what may be held, and the holder's end wipes it all */
        if (r >= 0 && !s->secrets) {
                s->secrets = nook_strbuf_steal(&desc);
                r = s->secrets ? nook_session_save(s, err) : nook_error_oom(err);
        }
        nook_strbuf_done(&desc);
        nook_msg reply = NOOK_MSG_INIT(0);
        if (r >= 0 && (r = nook_fault("secrets.after_record")) < 0)
                r = nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_RETRYABLE, -r,
                                   "prepare_secrets: fault injected");
        if (r >= 0)
                r = nook_session_request(s, NULL, &m, &reply, 10000, "prepare_secrets", err);
        if (r < 0 && err && *err && nook_error_get_errno(*err) == EALREADY) {
                /* the holder holds other values under the same refs */
                nook_error_free(*err);
                *err = NULL;
                r = nook_error_set(err, NOOK_ERROR_INVALID_STATE_TRANSITION, NOOK_RETRY_NOT_RETRYABLE, EALREADY,
                                   "prepare_secrets: the session already holds other values for these secrets; "
                                   "prepare a new session for them");
        }
        nook_msg_done(&m);
        if (r >= 0 && (r = nook_fault("secrets.after_holder")) < 0)
                r = nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_RETRYABLE, -r,
                                   "prepare_secrets: fault injected");
        const char *weak = r >= 0 ? nook_msg_str(&reply, T_MESSAGE) : NULL;
        if (weak && !(ctx->note = strdup(weak)))
                r = nook_error_oom(err);
        if (weak && (!s->notes || !strstr(s->notes, weak))) {
                char *notes = NULL;
                if (asprintf(&notes, "%s%s%s", s->notes ? s->notes : "", s->notes ? "; " : "", weak) >= 0) {
                        free(s->notes);
                        s->notes = notes;
                        r = nook_session_save(s, err);
                }
        }
        nook_msg_done(&reply);
        return r < 0 ? r : result(req, ret, err);
}
