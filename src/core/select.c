/* nook core — selection: accepted adapters, minimum isolation class, trust, required
 * capabilities, and the fallback that may accept a downgrade. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/select.h"
#include "util/strbuf.h"

static bool has_int(const nook_array *a, int v) {
        for (size_t i = 0; i < a->n; i++)
                if (((const int *)a->items)[i] == v)
                        return true;
        return false;
}

/* host_process < sandbox < container < lightweight_vm; remote_sandbox is its own
 * kind and is met only by itself. */
static bool class_met(const nook_capability_report *report, int wanted) {
        for (size_t i = 0; i < report->supported_classes.n; i++) {
                int have = ((int *)report->supported_classes.items)[i];
                if (have == wanted)
                        return true;
                if (wanted != NOOK_CLASS_REMOTE_SANDBOX && have != NOOK_CLASS_REMOTE_SANDBOX && have >= wanted)
                        return true;
        }
        return false;
}

/* accepted_adapters: the environment takes an adapter that provides one of these
 * isolation classes (IsolationAdapterRequirement). */
static int check_adapters(const nook_environment_spec *spec, const nook_capability_report *report,
                          const char *runtime_ref, nook_error **err) {
        nook_strbuf b = NOOK_STRBUF_INIT;
        for (size_t i = 0; i < spec->accepted_adapters.n; i++) {
                int want = ((const nook_adapter_requirement *)spec->accepted_adapters.items)[i].required_class;
                if (class_met(report, want)) {
                        nook_strbuf_done(&b);
                        return 0;
                }
                nook_strbuf_printf(&b, "%s%s", i ? ", " : "", nook_class_values[want]);
        }
        _cleanup_free_ char *list = nook_strbuf_steal(&b);
        if (spec->accepted_adapters.n == 0)
                return 0;
        return nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_NOT_RETRYABLE, EPERM,
                              "prepare_session: the environment accepts adapters of class %s only; %s provides "
                              "sandbox and container isolation",
                              list ? list : "?", runtime_ref);
}

/* Does the offered trust meet the required one, field by field?  Levels are ordered
 * (none < best_effort < required); locality and residency "any" accept everything. */
static bool trust_met(const nook_trust *need, const nook_trust *have, int field) {
        switch (field) {
        case NOOK_TRUST_LOCALITY:
                return need->locality == NOOK_LOCALITY_ANY || need->locality == have->locality;
        case NOOK_TRUST_TENANCY:
                return need->tenancy == NOOK_TENANCY_SHARED_ALLOWED || have->tenancy == NOOK_TENANCY_DEDICATED;
        case NOOK_TRUST_AUDITABILITY:
                return have->auditability >= need->auditability;
        case NOOK_TRUST_CLEANUP:
                return have->cleanup >= need->cleanup;
        case NOOK_TRUST_DATA_RESIDENCY:
                /* a region cannot be promised by a machine that does not know its own */
                return need->data_residency.tag == NOOK_RESIDENCY_ANY ||
                       (need->data_residency.tag == NOOK_RESIDENCY_LOCAL_ONLY &&
                        have->data_residency.tag == NOOK_RESIDENCY_LOCAL_ONLY);
        case NOOK_TRUST_SECRET_ISOLATION:
                return have->secret_isolation >= need->secret_isolation;
        }
        return false;
}

typedef struct gaps {
        nook_strbuf all;     /* everything missing, for the message */
        nook_strbuf refused; /* what the fallback does not accept */
        size_t n_all, n_refused;
} gaps;

/* One missing thing, "<prefix><what>"; accepted: the fallback gives it up. */
static void gap(gaps *g, bool accepted, const char *prefix, const char *what) {
        nook_strbuf_printf(&g->all, "%s%s%s", g->n_all++ ? ", " : "", prefix, what);
        if (!accepted)
                nook_strbuf_printf(&g->refused, "%s%s%s", g->n_refused++ ? ", " : "", prefix, what);
}

static void find_gaps(const nook_requirement *req, const nook_capability_report *report, gaps *g) {
        const nook_fallback_allow *allow =
                req->fallback.tag == NOOK_FALLBACK_ALLOW_IF_APPROVED ? req->fallback.data : NULL;
        static const nook_fallback_allow none = { 0 };
        if (!allow)
                allow = &none;
        if (req->minimum_class >= 0 && !class_met(report, req->minimum_class)) {
                bool ok = false;
                for (size_t i = 0; i < allow->accepted_classes.n; i++)
                        ok |= class_met(report, ((const int *)allow->accepted_classes.items)[i]);
                gap(g, ok, "isolation class ", nook_class_values[req->minimum_class]);
        }
        if (req->has_trust)
                for (int f = NOOK_TRUST_LOCALITY; f <= NOOK_TRUST_SECRET_ISOLATION; f++)
                        if (!trust_met(&req->trust, &report->trust, f))
                                gap(g, has_int(&allow->accepted_trust_downgrades, f), "trust ",
                                    nook_trust_field_values[f]);
        for (size_t i = 0; i < req->required_capabilities.capabilities.n; i++) {
                int cap = ((const int *)req->required_capabilities.capabilities.items)[i];
                if (!has_int(&report->capabilities.capabilities, cap))
                        gap(g, has_int(&allow->accepted_capability_downgrades, cap), "", nook_capability_values[cap]);
        }
}

int nook_select_check(const nook_environment *env, const char *runtime_ref, const nook_capability_report *report,
                      char **ret_downgrade, nook_error **err) {
        const nook_environment_spec *spec = &env->spec;
        int r = check_adapters(spec, report, runtime_ref, err);
        if (r < 0)
                return r;
        if (ret_downgrade)
                *ret_downgrade = NULL;
        if (!spec->has_requirement)
                return 0;
        const nook_requirement *req = &spec->requirement;
        gaps g = { .all = NOOK_STRBUF_INIT, .refused = NOOK_STRBUF_INIT };
        find_gaps(req, report, &g);
        _cleanup_free_ char *all = nook_strbuf_steal(&g.all);
        _cleanup_free_ char *refused = nook_strbuf_steal(&g.refused);
        if (g.n_all == 0)
                return 0;
        if (!all || !refused)
                return nook_error_oom(err);

        if (req->fallback.tag == NOOK_FALLBACK_ALLOW_IF_APPROVED && g.n_refused == 0) {
                if (ret_downgrade && asprintf(ret_downgrade,
                                              "downgrade accepted by fallback allow_if_package_and_policy_approve: "
                                              "this host lacks %s",
                                              all) < 0)
                        return nook_error_oom(err);
                return 0;
        }
        if (req->fallback.tag == NOOK_FALLBACK_ALLOW_IF_APPROVED)
                return nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_HOST_CONFIGURATION_NEEDED, EPERM,
                                      "prepare_session: the environment requires %s, which %s cannot deliver on "
                                      "this host, and its fallback does not accept %s; run 'nook caps' to see what "
                                      "is missing",
                                      all, runtime_ref, refused);
        /* "deny" refuses; "test_only_host_process" would run the workload as a plain host
         * process, which nook never does, so it refuses too and says why. */
        return nook_error_set(
                err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_HOST_CONFIGURATION_NEEDED, EPERM,
                "prepare_session: the environment requires %s, which %s cannot deliver on this host "
                "(fallback %s%s); run 'nook caps' to see what is missing",
                all, runtime_ref, req->fallback.tag == NOOK_FALLBACK_DENY ? "deny" : "test_only_host_process",
                req->fallback.tag == NOOK_FALLBACK_DENY ? "" : ": nook never runs workloads as host processes");
}
