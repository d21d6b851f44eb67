/* nook core — the runtime: configuration, dispatch of the 16 calls (validate → journal
 * intent → selection → adapter → journal result), replay of recorded results, and the
 * typed views (caps, journal) the CLI presents. */
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "core/adapter.h"
#include "core/codec.h"
#include "core/journal.h"
#include "core/redact.h"
#include "core/runtime-internal.h"
#include "core/select.h"
#include "nook/caps.h"
#include "nook/runtime.h"
#include "util/fault.h"
#include "util/sha256.h"

struct nook_runtime {
        const nook_adapter_ops *ops;
        void *state;
        nook_adapter_config config;
        char *data_dir;
        char *run_dir;
        char *journal_path;
        size_t max_request;
        nook_journal *journal;          /* opened on the first journaled call */
        nook_capability_report *report; /* measured once per runtime, for selection */
};

static const char *const method_names[] = {
        "runtime_ref",       "capability_report", "prepare_session",
        "resolve_image",     "prepare_rootfs",    "resolve_mounts",
        "configure_network", "prepare_secrets",   "prepare_environment",
        "start_process",     "stream_io",         "signal_process",
        "collect_stats",     "cleanup",           "detach",
        "reclaim",           "read_content",      NULL,
};

const char *const *nook_runtime_methods(void) {
        return method_names;
}

const char *nook_version(void) {
        return NOOK_VERSION;
}

static char *home_dir(void) {
        const char *h = getenv("HOME");
        if (h && h[0] == '/')
                return strdup(h);
        struct passwd pw, *res = NULL;
        char buf[4096];
        if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) == 0 && res && res->pw_dir)
                return strdup(res->pw_dir);
        return NULL;
}

/* NOOK_STORAGE, else $XDG_DATA_HOME/nook, else ~/.local/share/nook (DESIGN.md "Storage"). */
static char *resolve_data_dir(const nook_options *o) {
        char *s = NULL;
        if (o && o->data_dir)
                return strdup(o->data_dir);
        const char *e = getenv("NOOK_STORAGE");
        if (e && e[0] == '/')
                return strdup(e);
        e = getenv("XDG_DATA_HOME");
        if (e && e[0] == '/')
                return asprintf(&s, "%s/nook", e) < 0 ? NULL : s;
        _cleanup_free_ char *home = home_dir();
        if (!home)
                return NULL;
        return asprintf(&s, "%s/.local/share/nook", home) < 0 ? NULL : s;
}

/* $XDG_RUNTIME_DIR/nook, else /tmp/nook-<uid> (verified by the session stage before use). */
static char *resolve_run_dir(const nook_options *o) {
        char *s = NULL;
        if (o && o->run_dir)
                return strdup(o->run_dir);
        const char *e = getenv("XDG_RUNTIME_DIR");
        if (e && e[0] == '/')
                return asprintf(&s, "%s/nook", e) < 0 ? NULL : s;
        return asprintf(&s, "/tmp/nook-%u", (unsigned)getuid()) < 0 ? NULL : s;
}

static const nook_adapter_ops *find_adapter(const char *name, nook_error **err) {
        if (!name || strcmp(name, "userns") == 0)
                return &nook_userns_adapter;
#if NOOK_FAKE_ADAPTER
        if (strcmp(name, "fake") == 0)
                return &nook_fake_adapter;
#endif
        nook_error_set(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, NOOK_RETRY_USER_ACTION_NEEDED, EINVAL,
                       "unknown adapter '%s' (this build has: userns%s)", name, NOOK_FAKE_ADAPTER ? ", fake" : "");
        return NULL;
}

nook_runtime *nook_runtime_free(nook_runtime *rt) {
        if (!rt)
                return NULL;
        if (rt->ops && rt->ops->close)
                rt->ops->close(rt->state);
        nook_journal_close(rt->journal);
        if (rt->report) {
                nook_schema_clear(&nook_schema_capability_report, rt->report);
                free(rt->report);
        }
        free(rt->data_dir);
        free(rt->run_dir);
        free(rt->journal_path);
        free(rt);
        return NULL;
}

int nook_runtime_open(const nook_options *opts, nook_runtime **ret, nook_error **err) {
        if (opts && opts->version != NOOK_OPTIONS_VERSION)
                return nook_error_set(err, NOOK_ERROR_CONTRACT_VIOLATION, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                      "nook_options version %u is not supported (expected %u)", opts->version,
                                      NOOK_OPTIONS_VERSION);
        _cleanup_(nook_runtime_freep) nook_runtime *rt = calloc(1, sizeof(*rt));
        if (!rt)
                return nook_error_oom(err);
        const char *adapter = opts && opts->adapter ? opts->adapter : getenv("NOOK_ADAPTER");
        rt->ops = find_adapter(adapter && *adapter ? adapter : NULL, err);
        if (!rt->ops)
                return -EINVAL;
        rt->data_dir = resolve_data_dir(opts);
        rt->run_dir = resolve_run_dir(opts);
        if (!rt->data_dir || !rt->run_dir)
                return nook_error_set(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, NOOK_RETRY_USER_ACTION_NEEDED, ENOENT,
                                      "cannot find a data dir: set NOOK_STORAGE or HOME");
        if (asprintf(&rt->journal_path, "%s/journal.db", rt->data_dir) < 0)
                return nook_error_oom(err);
        rt->max_request = opts && opts->max_request_bytes ? opts->max_request_bytes : NOOK_MAX_REQUEST_BYTES;
        rt->config = (nook_adapter_config){ .data_dir = rt->data_dir, .run_dir = rt->run_dir };
        int r = rt->ops->open(&rt->config, &rt->state, err);
        if (r < 0)
                return nook_error_prefix(err, r, "opening the %s adapter", rt->ops->name);
        *ret = TAKE_PTR(rt);
        return 0;
}

const char *nook_runtime_data_dir(const nook_runtime *rt) {
        return rt->data_dir;
}

const char *nook_runtime_journal_path(const nook_runtime *rt) {
        return rt->journal_path;
}

static int ensure_journal(nook_runtime *rt, nook_error **err) {
        if (rt->journal)
                return 0;
        return nook_journal_open(rt->journal_path, &rt->journal, err);
}

static int ensure_report(nook_runtime *rt, nook_error **err) {
        if (rt->report)
                return 0;
        nook_capability_report *rep = nook_codec_new_result(nook_method_get(NOOK_M_CAPABILITY_REPORT));
        if (!rep)
                return nook_error_oom(err);
        nook_empty_req empty = { 0 };
        nook_call_ctx ctx = { .config = &rt->config };
        int r = rt->ops->capability_report(rt->state, &ctx, &empty, rep, err);
        if (r < 0) {
                nook_codec_free_result(nook_method_get(NOOK_M_CAPABILITY_REPORT), rep);
                return r;
        }
        rt->report = rep;
        return 0;
}

/* The one place that turns a method id into a typed adapter call. */
static int invoke(nook_runtime *rt, nook_call_ctx *ctx, nook_method id, const void *req, void *res, nook_error **err) {
        const nook_adapter_ops *o = rt->ops;
        void *s = rt->state;
        switch (id) {
        case NOOK_M_RUNTIME_REF: {
                nook_ref_result *r = res;
                r->ref = strdup(o->runtime_ref);
                return r->ref ? 0 : nook_error_oom(err);
        }
        case NOOK_M_CAPABILITY_REPORT:
                return o->capability_report(s, ctx, req, res, err);
        case NOOK_M_PREPARE_SESSION:
                return o->prepare_session(s, ctx, req, res, err);
        case NOOK_M_RESOLVE_IMAGE:
                return o->resolve_image(s, ctx, req, res, err);
        case NOOK_M_PREPARE_ROOTFS:
                return o->prepare_rootfs(s, ctx, req, res, err);
        case NOOK_M_RESOLVE_MOUNTS:
                return o->resolve_mounts(s, ctx, req, res, err);
        case NOOK_M_CONFIGURE_NETWORK:
                return o->configure_network(s, ctx, req, res, err);
        case NOOK_M_PREPARE_SECRETS:
                return o->prepare_secrets(s, ctx, req, res, err);
        case NOOK_M_PREPARE_ENVIRONMENT:
                return o->prepare_environment(s, ctx, req, res, err);
        case NOOK_M_START_PROCESS:
                return o->start_process(s, ctx, req, res, err);
        case NOOK_M_STREAM_IO:
                return o->stream_io(s, ctx, req, res, err);
        case NOOK_M_SIGNAL_PROCESS:
                return o->signal_process(s, ctx, req, res, err);
        case NOOK_M_COLLECT_STATS:
                return o->collect_stats(s, ctx, req, res, err);
        case NOOK_M_CLEANUP:
                return o->cleanup(s, ctx, req, res, err);
        case NOOK_M_DETACH:
                return o->detach(s, ctx, req, res, err);
        case NOOK_M_RECLAIM:
                return o->reclaim(s, ctx, req, res, err);
        case NOOK_M_READ_CONTENT:
                return o->read_content(s, ctx, req, res, err);
        case NOOK_M_COUNT:
                break;
        }
        return nook_error_set(err, NOOK_ERROR_CONTRACT_VIOLATION, NOOK_RETRY_NOT_RETRYABLE, EINVAL, "bad method id");
}

/* Selection runs where a session is created: the adapter must satisfy the
 * environment's requirement on this host, or the fallback must accept the gap. */
static int select_for(nook_runtime *rt, const nook_method_info *m, const void *req, nook_error **err) {
        if (m->id != NOOK_M_PREPARE_SESSION)
                return 0;
        int r = ensure_report(rt, err);
        if (r < 0)
                return nook_error_prefix(err, r, "prepare_session: measuring host capabilities");
        _cleanup_free_ char *note = NULL;
        return nook_select_check(nook_codec_environment(m, req), rt->ops->runtime_ref, rt->report, &note, err);
}

typedef struct call_state {
        const nook_method_info *m;
        json_t *doc;
        void *req;
        void *res;
        char *key;
        int64_t call_id;
        bool journaled;
} call_state;

static void call_state_done(call_state *c) {
        json_decref(c->doc);
        nook_codec_free_request(c->m, c->req);
        nook_codec_free_result(c->m, c->res);
        free(c->key);
}

static int journal_begin(nook_runtime *rt, call_state *c, char **ret_replay, nook_error **err) {
        int r = ensure_journal(rt, err);
        if (r < 0)
                return r;
        json_auto_t *red = nook_redact(c->m->request, c->doc);
        _cleanup_free_ char *text = red ? nook_json_canonical(red) : NULL;
        if (!text)
                return nook_error_oom(err);
        char hash[NOOK_DIGEST_LEN + 1];
        if (nook_sha256_digest(text, strlen(text), hash) < 0)
                return nook_error_sys(err, EIO, "hashing the request");
        nook_call_intent intent = {
                .method = c->m->name,
                .idempotency_key = c->key,
                .request_hash = hash,
                .request_json = text,
                .environment_id = nook_codec_environment_id(c->m, c->req),
        };
        nook_begin_outcome outcome;
        r = nook_journal_begin(rt->journal, &intent, &outcome, &c->call_id, ret_replay, err);
        if (r < 0)
                return r;
        return outcome == NOOK_BEGIN_REPLAY ? 1 : 0;
}

static int journal_failure(nook_runtime *rt, call_state *c, int r, nook_error **err) {
        if (!c->journaled || !c->call_id)
                return r;
        _cleanup_free_ char *ej = nook_error_to_json(err ? *err : NULL);
        _cleanup_(nook_error_freep) nook_error *jerr = NULL;
        /* The call's own error is what the caller needs; a journal problem on top of it
         * leaves the row as intent, which a later call reports as interrupted. */
        (void)nook_journal_fail(rt->journal, c->call_id, ej ? ej : "{}", &jerr);
        return r;
}

static int finish(nook_runtime *rt, call_state *c, char **ret_result_json, nook_error **err) {
        json_auto_t *out = nook_codec_encode_result(c->m, c->res);
        _cleanup_free_ char *text = out ? json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        if (!text)
                return nook_error_oom(err);
        if (c->journaled) {
                const nook_schema *rs = c->m->result;
                json_auto_t *red = rs ? nook_redact(rs, out) : json_incref(out);
                _cleanup_free_ char *rtext = red ? json_dumps(red, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
                if (!rtext)
                        return nook_error_oom(err);
                int r = nook_fault("journal.before_result");
                if (r < 0)
                        return nook_error_set(err, NOOK_ERROR_JOURNAL_FAILURE, NOOK_RETRY_RETRYABLE, -r,
                                              "%s: recording the result (injected fault)", c->m->name);
                r = nook_journal_finish(rt->journal, c->call_id, rtext, err);
                if (r < 0)
                        return nook_error_prefix(err, r, "%s: recording the result", c->m->name);
        }
        *ret_result_json = TAKE_PTR(text);
        return 0;
}

int nook_runtime_call(nook_runtime *rt, const char *method, const char *request_json, char **ret_result_json,
                      nook_error **err) {
        return nook_runtime_call_buf(rt, method, request_json, request_json ? strlen(request_json) : 0, ret_result_json,
                                     err);
}

int nook_runtime_call_buf(nook_runtime *rt, const char *method, const char *request, size_t request_len,
                          char **ret_result_json, nook_error **err) {
        _cleanup_(call_state_done) call_state c = { .m = nook_method_lookup(method) };
        if (!c.m)
                return nook_error_set(err, NOOK_ERROR_CONTRACT_VIOLATION, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                      "unknown method '%s'; the calls are: runtime_ref, capability_report, "
                                      "prepare_session, resolve_image, prepare_rootfs, resolve_mounts, "
                                      "configure_network, prepare_secrets, prepare_environment, start_process, "
                                      "stream_io, signal_process, collect_stats, cleanup, detach, reclaim "
                                      "(and read_content)",
                                      method ? method : "(null)");
        int r = nook_codec_parse_request(c.m, request, request_len, rt->max_request, &c.doc, &c.req, err);
        if (r < 0)
                return r;
        c.journaled = nook_codec_is_journaled(c.m, c.req);
        if (c.journaled) {
                c.key = nook_codec_idempotency_key(c.m, c.req);
                _cleanup_free_ char *replay = NULL;
                r = journal_begin(rt, &c, &replay, err);
                if (r < 0)
                        return r;
                if (r == 1) {
                        *ret_result_json = TAKE_PTR(replay);
                        return 0;
                }
        }
        c.res = nook_codec_new_result(c.m);
        if (!c.res)
                return journal_failure(rt, &c, nook_error_oom(err), err);
        r = select_for(rt, c.m, c.req, err);
        if (r < 0)
                return journal_failure(rt, &c, r, err);
        nook_call_ctx ctx = { .journal = c.journaled ? rt->journal : NULL,
                              .call_id = c.call_id,
                              .config = &rt->config };
        r = invoke(rt, &ctx, c.m->id, c.req, c.res, err);
        if (r < 0)
                return journal_failure(rt, &c, r, err);
        return finish(rt, &c, ret_result_json, err);
}

int nook_runtime_capability_report(nook_runtime *rt, nook_capability_report *ret, nook_error **err) {
        nook_empty_req empty = { 0 };
        nook_call_ctx ctx = { .config = &rt->config };
        return rt->ops->capability_report(rt->state, &ctx, &empty, ret, err);
}

int nook_runtime_journal(nook_runtime *rt, nook_journal **ret, nook_error **err) {
        int r = ensure_journal(rt, err);
        if (r < 0)
                return r;
        *ret = rt->journal;
        return 0;
}
