/* nook fake — an in-memory adapter implementing all 16 calls without namespaces, so
 * that the core's journal, idempotency, selection and redaction rules are tested on
 * their own.  Test builds only (-Dfake_adapter=true).  NOOK_FAKE_CAPS (comma list)
 * overrides the capabilities it reports; NOOK_FAKE_FAIL=<method> makes one fail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake/fake.h"
#include "util/sha256.h"
#include "util/strbuf.h"

typedef struct fake_session {
        char *environment_id;
        char *ref;
        bool prepared;
        bool cleaned;
} fake_session;

typedef struct fake_process {
        char *ref;
        char *output; /* argv joined by spaces + "\n" */
        bool signalled;
} fake_process;

typedef struct fake_state {
        fake_session sessions[64];
        size_t n_sessions;
        fake_process procs[256];
        size_t n_procs;
        char *tickets[64];
        bool claimed[64];
        size_t n_tickets;
        unsigned counter;
} fake_state;

static int fake_open(const nook_adapter_config *config, void **ret_state, nook_error **err) {
        fake_state *s = calloc(1, sizeof(*s));
        if (!s)
                return nook_error_oom(err);
        *ret_state = s;
        return 0;
}

static void fake_close(void *state) {
        fake_state *s = state;
        if (!s)
                return;
        for (size_t i = 0; i < s->n_sessions; i++) {
                free(s->sessions[i].environment_id);
                free(s->sessions[i].ref);
        }
        for (size_t i = 0; i < s->n_procs; i++) {
                free(s->procs[i].ref);
                free(s->procs[i].output);
        }
        for (size_t i = 0; i < s->n_tickets; i++)
                free(s->tickets[i]);
        free(s);
}

static char *new_ref(fake_state *s, const char *kind) {
        char *r = NULL;
        return asprintf(&r, "fake-%s-%u", kind, ++s->counter) < 0 ? NULL : r;
}

static int injected(const char *method, nook_error **err) {
        const char *f = getenv("NOOK_FAKE_FAIL");
        if (f && strcmp(f, method) == 0)
                return nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_RETRYABLE, EIO,
                                      "%s: injected failure (NOOK_FAKE_FAIL)", method);
        return 0;
}

static fake_session *find_session(fake_state *s, const char *env) {
        for (size_t i = 0; i < s->n_sessions; i++)
                if (!s->sessions[i].cleaned && strcmp(s->sessions[i].environment_id, env) == 0)
                        return &s->sessions[i];
        return NULL;
}

static fake_process *find_process(fake_state *s, const char *ref) {
        for (size_t i = 0; i < s->n_procs; i++)
                if (strcmp(s->procs[i].ref, ref) == 0)
                        return &s->procs[i];
        return NULL;
}

static int fake_capability_report(void *state, nook_call_ctx *ctx, const nook_empty_req *req,
                                  nook_capability_report *ret, nook_error **err) {
        ret->report_ref = strdup("fake-report");
        ret->adapter_ref = strdup("nook.userns");
        ret->adapter_kind = strdup("os_sandbox");
        ret->adapter_version = strdup("fake");
        ret->capability_version = strdup("1");
        ret->health.tag = NOOK_HEALTH_TAG_HEALTHY;
        ret->platform.platform = strdup("linux");
        ret->platform.os = strdup("linux");
        ret->platform.cpu_architecture = strdup("fake");
        ret->supported_classes.items = calloc(2, sizeof(int));
        if (!ret->supported_classes.items)
                return nook_error_oom(err);
        ((int *)ret->supported_classes.items)[0] = NOOK_CLASS_SANDBOX;
        ((int *)ret->supported_classes.items)[1] = NOOK_CLASS_CONTAINER;
        ret->supported_classes.n = 2;
        const char *caps = getenv("NOOK_FAKE_CAPS");
        for (size_t i = 0; nook_capability_values[i]; i++)
                if (!caps || strstr(caps, nook_capability_values[i]))
                        if (nook_array_push_int(&ret->capabilities.capabilities, (int)i, err) < 0)
                                return -ENOMEM;
        ret->trust =
                (nook_trust){ .locality = NOOK_LOCALITY_LOCAL, .data_residency = { .tag = NOOK_RESIDENCY_LOCAL_ONLY } };
        ret->log_retention = NOOK_RETENTION_RUN_SCOPED;
        return 0;
}

static int fake_prepare_session(void *state, nook_call_ctx *ctx, const nook_env_req *req, nook_ref_result *ret,
                                nook_error **err) {
        fake_state *s = state;
        int r = injected("prepare_session", err);
        if (r < 0)
                return r;
        fake_session *se = find_session(s, req->environment.environment_id);
        if (!se) {
                if (s->n_sessions == ELEMENTSOF(s->sessions))
                        return nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_RETRYABLE, EAGAIN,
                                              "fake: too many sessions");
                se = &s->sessions[s->n_sessions++];
                se->environment_id = strdup(req->environment.environment_id);
                se->ref = new_ref(s, "session");
        }
        ret->ref = se->ref ? strdup(se->ref) : NULL;
        return ret->ref ? 0 : nook_error_oom(err);
}

static int need_session(fake_state *s, const char *env, const char *stage, fake_session **ret, nook_error **err) {
        *ret = env ? find_session(s, env) : NULL;
        if (!*ret)
                return nook_error_set(err, NOOK_ERROR_INVALID_STATE_TRANSITION, NOOK_RETRY_NOT_RETRYABLE, ENOENT,
                                      "%s: no session for this environment; call prepare_session first", stage);
        return 0;
}

static int fake_resolve_image(void *state, nook_call_ctx *ctx, const nook_resolve_image_req *req,
                              nook_resolve_image_result *ret, nook_error **err) {
        char d[NOOK_DIGEST_LEN + 1];
        nook_sha256_digest(req->image.image_ref, strlen(req->image.image_ref), d);
        if (req->image.expected_digest && strcmp(req->image.expected_digest, d) != 0)
                return nook_error_set(err, NOOK_ERROR_INVALID_PACKAGE, NOOK_RETRY_NOT_RETRYABLE, EBADMSG,
                                      "resolve_image: digest mismatch");
        ret->image_ref = strdup(req->image.image_ref);
        ret->digest = strdup(d);
        return ret->image_ref && ret->digest ? 0 : nook_error_oom(err);
}

static int fake_prepare_rootfs(void *state, nook_call_ctx *ctx, const nook_prepare_rootfs_req *req,
                               nook_ref_result *ret, nook_error **err) {
        ret->ref = new_ref(state, "rootfs");
        return ret->ref ? 0 : nook_error_oom(err);
}

static int fake_resolve_mounts(void *state, nook_call_ctx *ctx, const nook_env_req *req, nook_mount_plan *ret,
                               nook_error **err) {
        const nook_array *m = &req->environment.spec.filesystem.mounts;
        ret->nook.items = calloc(m->n + 1, sizeof(nook_mount_ref));
        if (!ret->nook.items)
                return nook_error_oom(err);
        for (size_t i = 0; i < m->n; i++) {
                const nook_mount_policy *p = &((nook_mount_policy *)m->items)[i];
                nook_mount_ref *o = &((nook_mount_ref *)ret->nook.items)[i];
                ret->nook.n = i + 1;
                if (nook_array_push_str(&ret->mounts, p->mount_ref, err) < 0)
                        return -ENOMEM;
                o->mount_ref = strdup(p->mount_ref);
                o->source_alias = strdup(p->source_alias);
                o->destination_path = strdup(p->destination_path);
                o->mode = p->mode;
                o->expansion_audit = strdup("none");
                if (!o->mount_ref || !o->source_alias || !o->destination_path || !o->expansion_audit)
                        return nook_error_oom(err);
        }
        return 0;
}

static int fake_configure_network(void *state, nook_call_ctx *ctx, const nook_env_req *req, nook_ref_result *ret,
                                  nook_error **err) {
        fake_session *se;
        int r = need_session(state, req->environment.environment_id, "configure_network", &se, err);
        if (r < 0)
                return r;
        ret->ref = new_ref(state, "netns");
        return ret->ref ? 0 : nook_error_oom(err);
}

static int fake_prepare_secrets(void *state, nook_call_ctx *ctx, const nook_prepare_secrets_req *req,
                                nook_secrets_result *ret, nook_error **err) {
        const nook_secrets *sec = &req->environment.spec.secrets;
        for (size_t i = 0; i < sec->secret_mounts.n; i++) {
                const nook_secret_mount *m = &((nook_secret_mount *)sec->secret_mounts.items)[i];
                bool found = false;
                for (size_t j = 0; j < req->secret_values.n; j++)
                        found |= strcmp(((nook_named_secret *)req->secret_values.items)[j].secret_ref, m->secret_ref) ==
                                 0;
                if (!found)
                        return nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_USER_ACTION_NEEDED, ENOENT,
                                              "prepare_secrets: no value given for secret %s", m->secret_ref);
                if (nook_array_push_str(&ret->secret_mount_refs, m->mount_ref ? m->mount_ref : m->secret_ref, err) < 0)
                        return -ENOMEM;
        }
        ret->teardown_required = sec->teardown_required;
        return 0;
}

static int fake_prepare_environment(void *state, nook_call_ctx *ctx, const nook_env_req *req, nook_ref_result *ret,
                                    nook_error **err) {
        fake_session *se;
        int r = need_session(state, req->environment.environment_id, "prepare_environment", &se, err);
        if (r < 0)
                return r;
        se->prepared = true;
        ret->ref = new_ref(state, "prepared");
        return ret->ref ? 0 : nook_error_oom(err);
}

static int frame_for(fake_process *p, int stream, uint64_t cursor, nook_io_frame *f, nook_error **err) {
        const char *out = stream == NOOK_STREAM_STDOUT ? p->output : "";
        size_t len = strlen(out);
        if (cursor > len)
                cursor = len;
        char hash[NOOK_DIGEST_LEN + 1];
        nook_sha256_digest(out + cursor, len - cursor, hash);
        f->stream_ref = strdup(p->ref);
        f->stream = stream;
        f->cursor = len;
        f->byte_count = len - cursor;
        f->content_hash = strdup(hash);
        f->raw_content_present = true;
        f->data = strdup(out + cursor);
        f->eof = f->has_eof = true;
        f->exit_code = 0;
        f->has_exit_code = true;
        return f->stream_ref && f->content_hash && f->data ? 0 : nook_error_oom(err);
}

static int fake_start_process(void *state, nook_call_ctx *ctx, const nook_start_process_req *req,
                              nook_start_result *ret, nook_error **err) {
        fake_state *s = state;
        fake_session *se;
        int r = need_session(s, req->environment.environment_id, "start_process", &se, err);
        if (r < 0)
                return r;
        if ((r = injected("start_process", err)) < 0)
                return r;
        if (s->n_procs == ELEMENTSOF(s->procs))
                return nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_RETRYABLE, EAGAIN, "fake: full");
        fake_process *p = &s->procs[s->n_procs];
        nook_strbuf b = NOOK_STRBUF_INIT;
        for (size_t i = 0; i < req->process.argv.n; i++)
                nook_strbuf_printf(&b, "%s%s", i ? " " : "", ((char **)req->process.argv.items)[i]);
        nook_strbuf_puts(&b, "\n");
        p->output = nook_strbuf_steal(&b);
        p->ref = new_ref(s, "process");
        if (!p->output || !p->ref)
                return nook_error_oom(err);
        s->n_procs++;
        ret->process_ref = strdup(p->ref);
        ret->adapter_session_ref = strdup(se->ref);
        ret->terminal_status = NOOK_TERMINAL_UNKNOWN;
        if (!ret->process_ref || !ret->adapter_session_ref)
                return nook_error_oom(err);
        if (req->has_wait_ms) {
                ret->terminal_status = NOOK_TERMINAL_COMPLETED;
                ret->io_frames.items = calloc(1, sizeof(nook_io_frame));
                if (!ret->io_frames.items)
                        return nook_error_oom(err);
                ret->io_frames.n = 1;
                return frame_for(p, NOOK_STREAM_STDOUT, 0, ret->io_frames.items, err);
        }
        return 0;
}

static int need_process(fake_state *s, const char *ref, fake_process **ret, nook_error **err) {
        *ret = find_process(s, ref);
        if (!*ret)
                return nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_NOT_RETRYABLE, ENOENT,
                                      "unknown process_ref");
        return 0;
}

static int fake_stream_io(void *state, nook_call_ctx *ctx, const nook_stream_io_req *req, nook_io_frame *ret,
                          nook_error **err) {
        fake_process *p;
        int r = need_process(state, req->process_ref, &p, err);
        if (r < 0)
                return r;
        return frame_for(p, req->stream, req->has_cursor ? req->cursor : 0, ret, err);
}

static int fake_signal_process(void *state, nook_call_ctx *ctx, const nook_signal_req *req, nook_signal_result *ret,
                               nook_error **err) {
        fake_process *p;
        int r = need_process(state, req->process_ref, &p, err);
        if (r < 0)
                return r;
        ret->process_ref = strdup(p->ref);
        ret->signal = req->signal;
        ret->delivered = false; /* fake processes have always exited already */
        ret->redacted_summary = strdup("process already exited");
        return ret->process_ref && ret->redacted_summary ? 0 : nook_error_oom(err);
}

static int fake_collect_stats(void *state, nook_call_ctx *ctx, const nook_process_ref_req *req, nook_stats_result *ret,
                              nook_error **err) {
        fake_process *p;
        int r = need_process(state, req->process_ref, &p, err);
        if (r < 0)
                return r;
        ret->snapshot_ref = new_ref(state, "stats");
        ret->process_ref = strdup(p->ref);
        ret->exit_code = 0;
        ret->has_exit_code = true;
        return ret->snapshot_ref && ret->process_ref ? 0 : nook_error_oom(err);
}

static int fake_cleanup(void *state, nook_call_ctx *ctx, const nook_cleanup_req *req, nook_cleanup_result *ret,
                        nook_error **err) {
        fake_session *se = find_session(state, req->environment.environment_id);
        if (se)
                se->cleaned = true;
        ret->cleanup_plan_ref = strdup(req->cleanup_plan_ref);
        ret->status = NOOK_CLEANUP_COMPLETED;
        ret->redacted_summary = strdup(se ? "session removed" : "nothing to clean");
        return ret->cleanup_plan_ref && ret->redacted_summary ? 0 : nook_error_oom(err);
}

static int fake_detach(void *state, nook_call_ctx *ctx, const nook_env_req *req, nook_detach_result *ret,
                       nook_error **err) {
        fake_state *s = state;
        if (!req->environment.spec.ownership.detach_policy.allowed)
                return nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_NOT_RETRYABLE, EPERM,
                                      "detach: refused, spec.ownership.detach_policy.allowed is false");
        fake_session *se;
        int r = need_session(s, req->environment.environment_id, "detach", &se, err);
        if (r < 0)
                return r;
        if (s->n_tickets == ELEMENTSOF(s->tickets))
                return nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_RETRYABLE, EAGAIN, "fake: full");
        s->tickets[s->n_tickets] = new_ref(s, "ticket");
        if (!s->tickets[s->n_tickets])
                return nook_error_oom(err);
        ret->host_ack_ref = strdup(s->tickets[s->n_tickets++]);
        return ret->host_ack_ref ? 0 : nook_error_oom(err);
}

static int fake_reclaim(void *state, nook_call_ctx *ctx, const nook_reclaim_req *req, nook_reclaim_result *ret,
                        nook_error **err) {
        fake_state *s = state;
        for (size_t i = 0; i < s->n_tickets; i++)
                if (strcmp(s->tickets[i], req->ticket_ref) == 0) {
                        s->claimed[i] = true;
                        ret->ticket_ref = strdup(req->ticket_ref);
                        ret->status = NOOK_CLEANUP_COMPLETED;
                        return ret->ticket_ref ? 0 : nook_error_oom(err);
                }
        return nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_NOT_RETRYABLE, ENOENT,
                              "reclaim: unknown ticket");
}

static int fake_read_content(void *state, nook_call_ctx *ctx, const nook_read_content_req *req,
                             nook_content_result *ret, nook_error **err) {
        fake_process *p;
        int r = need_process(state, req->content_ref, &p, err);
        if (r < 0)
                return r;
        ret->content_ref = strdup(p->ref);
        ret->data = strdup(p->output);
        ret->byte_count = strlen(p->output);
        return ret->content_ref && ret->data ? 0 : nook_error_oom(err);
}

const nook_adapter_ops nook_fake_adapter = {
        .name = "fake",
        .runtime_ref = "nook.userns",
        .open = fake_open,
        .close = fake_close,
        .capability_report = fake_capability_report,
        .prepare_session = fake_prepare_session,
        .resolve_image = fake_resolve_image,
        .prepare_rootfs = fake_prepare_rootfs,
        .resolve_mounts = fake_resolve_mounts,
        .configure_network = fake_configure_network,
        .prepare_secrets = fake_prepare_secrets,
        .prepare_environment = fake_prepare_environment,
        .start_process = fake_start_process,
        .stream_io = fake_stream_io,
        .signal_process = fake_signal_process,
        .collect_stats = fake_collect_stats,
        .cleanup = fake_cleanup,
        .detach = fake_detach,
        .reclaim = fake_reclaim,
        .read_content = fake_read_content,
};
