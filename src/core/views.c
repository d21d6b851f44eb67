/* nook core — typed views for programs that present results to people: the
 * capability findings (nook/caps.h) and the journal listing (nook/journal.h). */
#include <stdlib.h>
#include <string.h>

#include "core/adapter.h"
#include "core/codec.h"
#include "core/journal.h"
#include "core/runtime-internal.h"
#include "nook/caps.h"
#include "nook/journal.h"

struct nook_caps {
        nook_capability_report *report;
        nook_finding *findings;
        size_t n;
        const char **capabilities; /* NULL-terminated, pointing into report */
        char *reason;
};

nook_caps *nook_caps_free(nook_caps *c) {
        if (!c)
                return NULL;
        nook_codec_free_result(nook_method_get(NOOK_M_CAPABILITY_REPORT), c->report);
        free(c->findings);
        free(c->capabilities);
        free(c->reason);
        free(c);
        return NULL;
}

static void nook_caps_freep(nook_caps **c) {
        nook_caps_free(*c);
}

static int caps_fill(nook_caps *c, nook_error **err) {
        const nook_capability_report *rep = c->report;
        c->n = rep->findings.n;
        c->findings = calloc(c->n + 1, sizeof(nook_finding));
        c->capabilities = calloc(rep->capabilities.capabilities.n + 1, sizeof(char *));
        if (!c->findings || !c->capabilities)
                return nook_error_oom(err);
        for (size_t i = 0; i < c->n; i++) {
                const nook_finding_result *f = &((nook_finding_result *)rep->findings.items)[i];
                c->findings[i] = (nook_finding){ .name = f->name,
                                                 .title = f->title ? f->title : f->name,
                                                 .ok = f->ok,
                                                 .required = f->required,
                                                 .detail = f->detail,
                                                 .remedy = f->remedy };
        }
        for (size_t i = 0; i < rep->capabilities.capabilities.n; i++)
                c->capabilities[i] = nook_capability_values[((int *)rep->capabilities.capabilities.items)[i]];
        if (rep->health.tag == NOOK_HEALTH_TAG_DEGRADED)
                c->reason = strdup(((nook_health_degraded *)rep->health.data)->reason);
        else if (rep->health.tag == NOOK_HEALTH_TAG_UNSUPPORTED_HOST) {
                const nook_array *m = &((nook_health_unsupported *)rep->health.data)->missing_prerequisites;
                size_t len = 64;
                for (size_t i = 0; i < m->n; i++)
                        len += strlen(((char **)m->items)[i]) + 2;
                c->reason = calloc(1, len);
                if (c->reason) {
                        strcpy(c->reason, "missing: ");
                        for (size_t i = 0; i < m->n; i++) {
                                if (i)
                                        strcat(c->reason, ", ");
                                strcat(c->reason, ((char **)m->items)[i]);
                        }
                }
        }
        return 0;
}

int nook_runtime_probe(nook_runtime *rt, nook_caps **ret, nook_error **err) {
        const nook_method_info *m = nook_method_get(NOOK_M_CAPABILITY_REPORT);
        _cleanup_(nook_caps_freep) nook_caps *c = calloc(1, sizeof(*c));
        if (!c || !(c->report = nook_codec_new_result(m)))
                return nook_error_oom(err);
        int r = nook_runtime_capability_report(rt, c->report, err);
        if (r < 0)
                return r;
        r = caps_fill(c, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

size_t nook_caps_count(const nook_caps *c) {
        return c ? c->n : 0;
}

const nook_finding *nook_caps_get(const nook_caps *c, size_t i) {
        return c && i < c->n ? &c->findings[i] : NULL;
}

nook_health nook_caps_health(const nook_caps *c) {
        switch (c->report->health.tag) {
        case NOOK_HEALTH_TAG_DEGRADED:
                return NOOK_HEALTH_DEGRADED;
        case NOOK_HEALTH_TAG_UNSUPPORTED_HOST:
                return NOOK_HEALTH_UNSUPPORTED_HOST;
        default:
                return NOOK_HEALTH_HEALTHY;
        }
}

const char *nook_caps_health_reason(const nook_caps *c) {
        return c->reason;
}

const char *const *nook_caps_capabilities(const nook_caps *c) {
        return c->capabilities;
}

int nook_runtime_journal_list(nook_runtime *rt, size_t limit, nook_journal_visit_fn fn, void *userdata,
                              nook_error **err) {
        nook_journal *j = NULL;
        int r = nook_runtime_journal(rt, &j, err);
        if (r < 0)
                return r;
        return nook_journal_list(j, limit, fn, userdata, err);
}

static json_t *text_or_null(const char *s, bool parse) {
        if (!s)
                return json_null();
        if (parse) {
                json_t *v = json_loads(s, JSON_DECODE_ANY, NULL);
                if (v)
                        return v;
        }
        return json_string(s);
}

static int append_entry(const nook_journal_entry *e, void *userdata) {
        json_t *arr = userdata;
        json_t *o =
                json_pack("{sI sI sI ss ss ss ss ss so* so* so* si so*}", "id", (json_int_t)e->id, "started_ms",
                          (json_int_t)e->started_ms, "finished_ms", (json_int_t)e->finished_ms, "method", e->method,
                          "status", e->status, "request_hash", e->request_hash ? e->request_hash : "",
                          "idempotency_key", e->idempotency_key ? e->idempotency_key : "", "environment_id",
                          e->environment_id ? e->environment_id : "", "request", text_or_null(e->request_json, true),
                          "result", text_or_null(e->result_json, true), "error", text_or_null(e->error_json, true),
                          "owner_pid", e->owner_pid, "notes", text_or_null(e->notes, false));
        if (!o || json_array_append_new(arr, o) < 0)
                return -ENOMEM;
        return 0;
}

int nook_runtime_journal_list_json(nook_runtime *rt, size_t limit, char **ret_json, nook_error **err) {
        json_auto_t *arr = json_array();
        if (!arr)
                return nook_error_oom(err);
        int r = nook_runtime_journal_list(rt, limit, append_entry, arr, err);
        if (r < 0)
                return r;
        char *s = json_dumps(arr, JSON_INDENT(2));
        if (!s)
                return nook_error_oom(err);
        *ret_json = s;
        return 0;
}
