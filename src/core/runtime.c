/* nook core — the runtime: configuration, dispatch of the 16 calls (validate → journal
 * intent → selection → adapter → journal result), replay of recorded results, and the
 * typed views (caps, journal) the CLI presents. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h" /* NOOK_VERSION */
#include "core/adapter.h"
#include "core/codec.h"
#include "core/journal.h"
#include "core/redact.h"
#include "core/runtime-internal.h"
#include "core/select.h"
#include "nook/caps.h"
#include "nook/runtime.h"
#include "nook/session.h"
#include "util/scrub.h"
#include "util/fault.h"
#include "util/sha256.h"
#include "util/trace.h"

struct nook_runtime {
        const nook_adapter_ops *ops;
        void *state;
        nook_adapter_config config;
        char *data_dir;
        char *run_dir;
        char *journal_path;
        size_t max_request;
        char **aliases;                 /* NULL-terminated NAME=PATH */
        char **secret_sources;          /* NULL-terminated REF=SOURCE: options, then ~/.config/nook/secrets */
        nook_journal *journal;          /* opened on the first journaled call */
        nook_capability_report *report; /* measured once per runtime, for selection */
        char *last_note;                /* what the last call accepted to give up, or NULL */
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
static char *resolve_data_dir(const nook_options *o, const char **ret_origin) {
        char *s = NULL;
        *ret_origin = "the data_dir option (nook --storage)";
        if (o && o->data_dir)
                return strdup(o->data_dir);
        *ret_origin = "$NOOK_STORAGE";
        const char *e = getenv("NOOK_STORAGE");
        if (e && e[0] == '/')
                return strdup(e);
        *ret_origin = "$XDG_DATA_HOME/nook";
        e = getenv("XDG_DATA_HOME");
        if (e && e[0] == '/')
                return asprintf(&s, "%s/nook", e) < 0 ? NULL : s;
        *ret_origin = "~/.local/share/nook: no NOOK_STORAGE or XDG_DATA_HOME";
        _cleanup_free_ char *home = home_dir();
        if (!home)
                return NULL;
        return asprintf(&s, "%s/.local/share/nook", home) < 0 ? NULL : s;
}

/* NOOK_RUNTIME_DIR, else $XDG_RUNTIME_DIR/nook, else /tmp/nook-<uid> (opened and
 * checked by every verb before use: src/userns/session.c nook_rundir_open). */
static char *resolve_run_dir(const nook_options *o, const char **ret_origin) {
        char *s = NULL;
        *ret_origin = "the run_dir option";
        if (o && o->run_dir)
                return strdup(o->run_dir);
        *ret_origin = "$NOOK_RUNTIME_DIR";
        const char *n = getenv("NOOK_RUNTIME_DIR");
        if (n && n[0] == '/')
                return strdup(n);
        *ret_origin = "$XDG_RUNTIME_DIR/nook";
        const char *e = getenv("XDG_RUNTIME_DIR");
        if (e && e[0] == '/')
                return asprintf(&s, "%s/nook", e) < 0 ? NULL : s;
        *ret_origin = "/tmp/nook-<uid>: no NOOK_RUNTIME_DIR or XDG_RUNTIME_DIR";
        return asprintf(&s, "/tmp/nook-%u", (unsigned)getuid()) < 0 ? NULL : s;
}

/* One "NAME=VALUE" entry of a map (aliases: VALUE an absolute path; secret sources:
 * "file:", "env:", "fd:" or "store:" and the rest); blanks, comments and other lines
 * are skipped. */
static int push_entry(char ***v, size_t *n, const char *entry, size_t len, bool secret) {
        while (len && (entry[len - 1] == '\n' || entry[len - 1] == '\r' || entry[len - 1] == ' '))
                len--;
        while (len && (*entry == ' ' || *entry == '\t')) {
                entry++;
                len--;
        }
        const char *eq = memchr(entry, '=', len);
        if (!len || *entry == '#' || !eq || eq == entry)
                return 0;
        if (!secret && eq[1] != '/')
                return 0; /* not NAME=/absolute/path */
        char **nv = realloc(*v, (*n + 2) * sizeof(char *));
        if (!nv)
                return -ENOMEM;
        *v = nv;
        if (!(nv[*n] = strndup(entry, len)))
                return -ENOMEM;
        nv[++*n] = NULL;
        return 0;
}

static int push_entries_from(char ***v, size_t *n, const char *text, const char *seps) {
        for (const char *p = text; p && *p;) {
                size_t len = strcspn(p, seps);
                if (push_entry(v, n, p, len, false) < 0)
                        return -ENOMEM;
                p += len;
                if (*p)
                        p++;
        }
        return 0;
}

/* A map: the options' entries first (they win), then (aliases) $NOOK_ALIASES, then the
 * config file ~/.config/nook/<file> (one entry a line). */
static int load_map(const char *const *given, const char *file, bool secret, char ***ret) {
        char **v = calloc(1, sizeof(char *));
        size_t n = 0;
        int r = v ? 0 : -ENOMEM;
        for (size_t i = 0; r >= 0 && given && given[i]; i++)
                r = push_entry(&v, &n, given[i], strlen(given[i]), secret);
        if (r >= 0 && !secret)
                r = push_entries_from(&v, &n, getenv("NOOK_ALIASES"), ";\n");
        _cleanup_free_ char *path = NULL;
        const char *cfg = getenv("XDG_CONFIG_HOME");
        _cleanup_free_ char *home = home_dir();
        if (cfg && cfg[0] == '/')
                r = r < 0 || asprintf(&path, "%s/nook/%s", cfg, file) < 0 ? -ENOMEM : r;
        else if (home)
                r = r < 0 || asprintf(&path, "%s/.config/nook/%s", home, file) < 0 ? -ENOMEM : r;
        _cleanup_fclose_ FILE *f = path ? fopen(path, "re") : NULL;
        char line[4096];
        while (r >= 0 && f && fgets(line, sizeof(line), f))
                r = push_entry(&v, &n, line, strlen(line), secret);
        if (r < 0) {
                strv_free(v);
                return r;
        }
        *ret = v;
        return 0;
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
        strv_free(rt->aliases);
        strv_free(rt->secret_sources);
        free(rt->last_note);
        free(rt->data_dir);
        free(rt->run_dir);
        free(rt->journal_path);
        free(rt);
        return NULL;
}

int nook_runtime_open_ops(const nook_adapter_ops *ops, const nook_options *opts, nook_runtime **ret, nook_error **err) {
        _cleanup_(nook_runtime_freep) nook_runtime *rt = calloc(1, sizeof(*rt));
        if (!rt)
                return nook_error_oom(err);
        rt->ops = ops;
        const char *data_origin = NULL, *run_origin = NULL;
        rt->data_dir = resolve_data_dir(opts, &data_origin);
        rt->run_dir = resolve_run_dir(opts, &run_origin);
        if (!rt->data_dir || !rt->run_dir)
                return nook_error_set(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, NOOK_RETRY_USER_ACTION_NEEDED, ENOENT,
                                      "cannot find a data dir: set NOOK_STORAGE or HOME");
        if (asprintf(&rt->journal_path, "%s/journal.db", rt->data_dir) < 0)
                return nook_error_oom(err);
        rt->max_request = opts && opts->max_request_bytes ? opts->max_request_bytes : NOOK_MAX_REQUEST_BYTES;
        if (load_map(opts ? opts->aliases : NULL, "aliases", false, &rt->aliases) < 0 ||
            load_map(opts && opts->version >= 2 ? opts->secret_sources : NULL, "secrets", true, &rt->secret_sources) <
                    0)
                return nook_error_oom(err);
        rt->config = (nook_adapter_config){ .data_dir = rt->data_dir,
                                            .run_dir = rt->run_dir,
                                            .data_dir_origin = data_origin,
                                            .run_dir_origin = run_origin,
                                            .aliases = (const char *const *)rt->aliases,
                                            .secret_sources = (const char *const *)rt->secret_sources };
        int r = rt->ops->open(&rt->config, &rt->state, err);
        if (r < 0)
                return nook_error_prefix(err, r, "opening the %s adapter", rt->ops->name);
        *ret = TAKE_PTR(rt);
        return 0;
}

const char *nook_runtime_data_dir(const nook_runtime *rt) {
        return rt->data_dir;
}

const char *nook_runtime_run_dir(const nook_runtime *rt) {
        return rt->run_dir;
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
/* A requirement that asks for nothing: no class, every trust field at its weakest, no
 * capability. */
static bool asks_nothing(const nook_requirement *need) {
        const nook_trust *t = &need->trust;
        bool weakest_trust = !need->has_trust ||
                             (t->locality == NOOK_LOCALITY_ANY && t->tenancy == NOOK_TENANCY_SHARED_ALLOWED &&
                              t->auditability == NOOK_LEVEL_NONE && t->cleanup == NOOK_CLEANUP_BEST_EFFORT &&
                              t->data_residency.tag == NOOK_RESIDENCY_ANY && t->secret_isolation == NOOK_LEVEL_NONE);
        return need->minimum_class < 0 && weakest_trust && need->required_capabilities.capabilities.n == 0;
}

/* Selection runs where a session is created: the adapter must satisfy the
 * environment's requirement on this host, or the fallback must accept the gap.  An
 * accepted gap is never silent: *ret_note says what was given up, for the journal and
 * the session. */
static int select_for(nook_runtime *rt, const nook_method_info *m, const void *req, char **ret_note, nook_error **err) {
        if (m->id != NOOK_M_PREPARE_SESSION)
                return 0;
        const nook_environment *env = nook_codec_environment(m, req);
        /* The probe costs ~10 ms: run it only when there is something to check against it. */
        if ((!env->spec.has_requirement || asks_nothing(&env->spec.requirement)) &&
            env->spec.accepted_adapters.n == 0) {
                nook_capability_report none = { .health = { .tag = -1 } };
                return nook_select_check(env, rt->ops->runtime_ref, &none, NULL, err);
        }
        int r = ensure_report(rt, err);
        if (r < 0)
                return nook_error_prefix(err, r, "prepare_session: measuring host capabilities");
        return nook_select_check(env, rt->ops->runtime_ref, rt->report, ret_note, err);
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
        /* The same call in progress in another process (two clients racing on one
         * key): wait for its outcome rather than fail, up to 10 s. */
        for (int tries = 0;; tries++) {
                r = nook_journal_begin(rt->journal, &intent, &outcome, &c->call_id, ret_replay, err);
                if (r != -EBUSY || tries >= 200)
                        break;
                if (err)
                        nook_error_free(TAKE_PTR(*err));
                usleep(50 * 1000);
        }
        if (r < 0)
                return r;
        return outcome == NOOK_BEGIN_REPLAY ? 1 : 0;
}

/* No host path leaves the library in an error's message (JSON, journal): the dirs are
 * named ("<data dir>"); the CLI's person still gets the original, as the hint, when the
 * error has none. */
static int scrub_error(nook_runtime *rt, int r, nook_error **err) {
        if (!err || !*err)
                return r;
        const char *m = nook_error_get_message(*err);
        char *clean = nook_scrub_paths(m, rt->config.data_dir, rt->config.run_dir);
        if (!clean || strcmp(clean, m) == 0) {
                free(clean);
                return r;
        }
        if (!nook_error_get_hint(*err))
                nook_error_set_hint(err, "%s", m);
        nook_error_take_message(err, clean);
        return r;
}

static int journal_failure(nook_runtime *rt, call_state *c, int r, nook_error **err) {
        scrub_error(rt, r, err);
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
                json_auto_t *red = rs ? nook_redact_result(rs, out) : json_incref(out);
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

static int call_buf(nook_runtime *rt, const char *method, const char *request, size_t request_len,
                    char **ret_result_json, nook_error **err);

int nook_runtime_call_buf(nook_runtime *rt, const char *method, const char *request, size_t request_len,
                          char **ret_result_json, nook_error **err) {
        char span[64];
        snprintf(span, sizeof(span), "call %.40s {", method ? method : "?");
        nook_trace(span);
        int r = call_buf(rt, method, request, request_len, ret_result_json, err);
        span[strlen(span) - 1] = '}';
        nook_trace(span);
        return r < 0 ? scrub_error(rt, r, err) : r;
}

static int call_buf(nook_runtime *rt, const char *method, const char *request, size_t request_len,
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
        free(rt->last_note);
        rt->last_note = NULL;
        _cleanup_free_ char *note = NULL;
        r = select_for(rt, c.m, c.req, &note, err);
        if (r < 0)
                return journal_failure(rt, &c, r, err);
        /* the downgrade is journaled before the session exists (journal before effect) */
        if (note && c.journaled && (r = nook_journal_note(rt->journal, c.call_id, note, err)) < 0)
                return journal_failure(rt, &c, r, err);
        nook_call_ctx ctx = { .journal = c.journaled ? rt->journal : NULL,
                              .call_id = c.call_id,
                              .config = &rt->config,
                              .downgrade = note };
        r = invoke(rt, &ctx, c.m->id, c.req, c.res, err);
        _cleanup_free_ char *adapter_note = TAKE_PTR(ctx.note);
        if (r < 0)
                return journal_failure(rt, &c, r, err);
        if (adapter_note && c.journaled && (r = nook_journal_note(rt->journal, c.call_id, adapter_note, err)) < 0)
                return journal_failure(rt, &c, r, err);
        rt->last_note = note ? TAKE_PTR(note) : TAKE_PTR(adapter_note);
        return finish(rt, &c, ret_result_json, err);
}

const char *nook_runtime_last_note(const nook_runtime *rt) {
        return rt ? rt->last_note : NULL;
}

int nook_runtime_capability_report(nook_runtime *rt, nook_capability_report *ret, nook_error **err) {
        nook_empty_req empty = { 0 };
        /* for nook_runtime_probe (nook/caps.h): findings for people, real paths in them */
        nook_call_ctx ctx = { .config = &rt->config, .host_paths = true };
        return rt->ops->capability_report(rt->state, &ctx, &empty, ret, err);
}

int nook_runtime_journal(nook_runtime *rt, nook_journal **ret, nook_error **err) {
        int r = ensure_journal(rt, err);
        if (r < 0)
                return r;
        *ret = rt->journal;
        return 0;
}

/* ---- nook/session.h: beyond the contract ---------------------------------------------- */

static int ext_op(nook_runtime *rt, const void *op, bool journal, nook_call_ctx *ctx, nook_error **err) {
        if (!op)
                return nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_NOT_RETRYABLE, ENOTSUP,
                                      "the %s adapter has no sessions to list or attach to", rt->ops->name);
        *ctx = (nook_call_ctx){ .config = &rt->config };
        if (journal) {
                int r = ensure_journal(rt, err);
                if (r < 0)
                        return r;
                ctx->journal = rt->journal;
        }
        return 0;
}

int nook_runtime_sessions(nook_runtime *rt, nook_session_visit_fn fn, void *userdata, nook_error **err) {
        nook_call_ctx ctx;
        int r = ext_op(rt, (const void *)rt->ops->sessions, false, &ctx, err);
        return r < 0 ? r : rt->ops->sessions(rt->state, &ctx, fn, userdata, err);
}

typedef struct resolve_ctx {
        const char *want;
        char *env;
        unsigned matches;
} resolve_ctx;

static int resolve_one(const nook_session_info *s, void *userdata) {
        resolve_ctx *c = userdata;
        if (strcmp(s->ref, c->want) == 0 || strcmp(s->environment_id, c->want) == 0 ||
            (s->name && strcmp(s->name, c->want) == 0)) {
                c->matches++;
                free(c->env);
                c->env = strdup(s->environment_id);
        }
        return 0;
}

int nook_runtime_session_resolve(nook_runtime *rt, const char *session, char **ret_environment_id, nook_error **err) {
        resolve_ctx c = { .want = session };
        int r = nook_runtime_sessions(rt, resolve_one, &c, err);
        if (r < 0) {
                free(c.env);
                return r;
        }
        if (c.matches != 1) {
                free(c.env);
                return nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_USER_ACTION_NEEDED,
                                      c.matches ? EEXIST : ENOENT, "%s session '%s'",
                                      c.matches ? "more than one" : "no", session);
        }
        *ret_environment_id = c.env;
        return 0;
}

int nook_runtime_session_root(nook_runtime *rt, const char *session, int *ret_root_fd, int *ret_userns_fd,
                              nook_error **err) {
        nook_call_ctx ctx;
        int r = ext_op(rt, (const void *)rt->ops->session_root, false, &ctx, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *env = NULL;
        if ((r = nook_runtime_session_resolve(rt, session, &env, err)) < 0)
                return r;
        return rt->ops->session_root(rt->state, &ctx, env, ret_root_fd, ret_userns_fd, err);
}

int nook_runtime_processes(nook_runtime *rt, const char *session, nook_process_visit_fn fn, void *userdata,
                           nook_error **err) {
        nook_call_ctx ctx;
        int r = ext_op(rt, (const void *)rt->ops->processes, false, &ctx, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *env = NULL;
        if (session && (r = nook_runtime_session_resolve(rt, session, &env, err)) < 0)
                return r;
        return rt->ops->processes(rt->state, &ctx, env, fn, userdata, err);
}

int nook_runtime_process_log(nook_runtime *rt, const char *process_ref, int stream, int *ret_fd, nook_error **err) {
        nook_call_ctx ctx;
        int r = ext_op(rt, (const void *)rt->ops->process_log, false, &ctx, err);
        return r < 0 ? r : rt->ops->process_log(rt->state, &ctx, process_ref, stream, ret_fd, err);
}

/* stream 3 and 4: records of two u64, offset and wall-clock ms, offsets ascending
 * (helpers/monitor.c, note_time) */
static int64_t times_count(int fd) {
        struct stat st;
        return fstat(fd, &st) < 0 ? -errno : (int64_t)(st.st_size / 16);
}

static int times_rec(int fd, int64_t i, uint64_t rec[2]) {
        return pread(fd, rec, 16, (off_t)i * 16) == 16 ? 0 : -EIO;
}

int nook_log_time_at(int times_fd, unsigned long long offset, long long *ret_ms) {
        int64_t n = times_count(times_fd), lo = 0, hi = n - 1;
        uint64_t rec[2];
        if (n <= 0)
                return n < 0 ? (int)n : -ENODATA;
        while (lo < hi) { /* the last record at or before offset (else the first) */
                int64_t mid = lo + (hi - lo + 1) / 2;
                if (times_rec(times_fd, mid, rec) < 0)
                        return -EIO;
                if (rec[0] <= offset)
                        lo = mid;
                else
                        hi = mid - 1;
        }
        if (times_rec(times_fd, lo, rec) < 0)
                return -EIO;
        *ret_ms = (long long)rec[1];
        return 0;
}

int nook_log_offset_since(int times_fd, long long ms, unsigned long long *ret_offset) {
        int64_t n = times_count(times_fd), lo = 0, hi = n;
        uint64_t rec[2];
        if (n < 0)
                return (int)n;
        while (lo < hi) { /* the first record at ms or later */
                int64_t mid = lo + (hi - lo) / 2;
                if (times_rec(times_fd, mid, rec) < 0)
                        return -EIO;
                if ((long long)rec[1] >= ms)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        if (lo == n)
                return 0;
        if (times_rec(times_fd, lo, rec) < 0)
                return -EIO;
        *ret_offset = rec[0];
        return 1;
}

int nook_runtime_process_wait(nook_runtime *rt, const char *process_ref, int timeout_ms, int *ret_exit_code,
                              nook_error **err) {
        nook_call_ctx ctx;
        int r = ext_op(rt, (const void *)rt->ops->process_wait, false, &ctx, err);
        return r < 0 ? r : rt->ops->process_wait(rt->state, &ctx, process_ref, timeout_ms, ret_exit_code, err);
}

int nook_runtime_process_write(nook_runtime *rt, const char *process_ref, const void *data, size_t len,
                               bool close_stdin, nook_error **err) {
        nook_call_ctx ctx;
        int r = ext_op(rt, (const void *)rt->ops->process_write, false, &ctx, err);
        return r < 0 ? r : rt->ops->process_write(rt->state, &ctx, process_ref, data, len, close_stdin, err);
}

int nook_runtime_process_resize(nook_runtime *rt, const char *process_ref, unsigned rows, unsigned cols,
                                nook_error **err) {
        nook_call_ctx ctx;
        int r = ext_op(rt, (const void *)rt->ops->process_resize, false, &ctx, err);
        return r < 0 ? r : rt->ops->process_resize(rt->state, &ctx, process_ref, rows, cols, err);
}

static int image_op(nook_runtime *rt, int verb, const nook_import_options *o, const char *arg, char **ret_json,
                    nook_error **err) {
        if (!rt->ops->image)
                return nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_NOT_RETRYABLE, ENOTSUP,
                                      "the %s adapter has no image store", rt->ops->name);
        nook_call_ctx ctx = { .config = &rt->config };
        return rt->ops->image(rt->state, &ctx, verb, o, arg, ret_json, err);
}

int nook_runtime_image_import(nook_runtime *rt, const nook_import_options *opts, char **ret_json, nook_error **err) {
        if (!opts || opts->version != NOOK_IMPORT_OPTIONS_VERSION || !opts->source)
                return nook_error_set(err, NOOK_ERROR_CONTRACT_VIOLATION, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                      "image import: options of an unknown version, or no source");
        return image_op(rt, NOOK_IMAGE_IMPORT, opts, NULL, ret_json, err);
}

int nook_runtime_image_save(nook_runtime *rt, const nook_save_options *opts, char **ret_json, nook_error **err) {
        if (!opts || opts->version != NOOK_SAVE_OPTIONS_VERSION || !opts->image || opts->fd < 0)
                return nook_error_set(err, NOOK_ERROR_CONTRACT_VIOLATION, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                      "image save: options of an unknown version, no image or no fd");
        if (!rt->ops->image_save)
                return nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_NOT_RETRYABLE, ENOTSUP,
                                      "the %s adapter has no image store", rt->ops->name);
        nook_call_ctx ctx = { .config = &rt->config };
        return rt->ops->image_save(rt->state, &ctx, opts, ret_json, err);
}

int nook_runtime_images(nook_runtime *rt, char **ret_json, nook_error **err) {
        return image_op(rt, NOOK_IMAGE_LIST, NULL, NULL, ret_json, err);
}

int nook_runtime_image_inspect(nook_runtime *rt, const char *image, char **ret_json, nook_error **err) {
        return image_op(rt, NOOK_IMAGE_INSPECT, NULL, image, ret_json, err);
}

int nook_runtime_image_remove(nook_runtime *rt, const char *image, char **ret_json, nook_error **err) {
        return image_op(rt, NOOK_IMAGE_REMOVE, NULL, image, ret_json, err);
}

int nook_runtime_image_prune(nook_runtime *rt, char **ret_json, nook_error **err) {
        return image_op(rt, NOOK_IMAGE_PRUNE, NULL, NULL, ret_json, err);
}

int nook_runtime_gc(nook_runtime *rt, unsigned *ret_reclaimed, char **ret_summary, nook_error **err) {
        nook_call_ctx ctx;
        int r = ext_op(rt, (const void *)rt->ops->gc, true, &ctx, err);
        return r < 0 ? r : rt->ops->gc(rt->state, &ctx, ret_reclaimed, ret_summary, err);
}
