/* nook core — selection: accepted adapters, minimum isolation class, required
 * capabilities, and the fallback that may accept a downgrade. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/select.h"
#include "util/strbuf.h"

static bool has_string(const nook_array *a, const char *s) {
        for (size_t i = 0; i < a->n; i++)
                if (strcmp(((char **)a->items)[i], s) == 0)
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

static int check_adapters(const nook_environment_spec *spec, const char *runtime_ref, nook_error **err) {
        if (spec->accepted_adapters.n == 0 || has_string(&spec->accepted_adapters, runtime_ref))
                return 0;
        nook_strbuf b = NOOK_STRBUF_INIT;
        for (size_t i = 0; i < spec->accepted_adapters.n; i++)
                nook_strbuf_printf(&b, "%s%s", i ? ", " : "", ((char **)spec->accepted_adapters.items)[i]);
        _cleanup_free_ char *list = nook_strbuf_steal(&b);
        return nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_NOT_RETRYABLE, EPERM,
                              "prepare_session: adapter %s is not among the environment's accepted_adapters (%s)",
                              runtime_ref, list ? list : "?");
}

int nook_select_check(const nook_environment *env, const char *runtime_ref, const nook_capability_report *report,
                      char **ret_downgrade, nook_error **err) {
        const nook_environment_spec *spec = &env->spec;
        int r = check_adapters(spec, runtime_ref, err);
        if (r < 0)
                return r;
        if (ret_downgrade)
                *ret_downgrade = NULL;
        if (!spec->has_requirement)
                return 0;
        const nook_requirement *req = &spec->requirement;

        nook_strbuf missing = NOOK_STRBUF_INIT;
        size_t n_missing = 0;
        if (req->minimum_class >= 0 && !class_met(report, req->minimum_class)) {
                nook_strbuf_printf(&missing, "isolation class %s", nook_class_values[req->minimum_class]);
                n_missing++;
        }
        for (size_t i = 0; i < req->required_capabilities.n; i++) {
                const char *cap = ((char **)req->required_capabilities.items)[i];
                if (has_string(&report->capabilities.capabilities, cap))
                        continue;
                nook_strbuf_printf(&missing, "%s%s", n_missing ? ", " : "", cap);
                n_missing++;
        }
        _cleanup_free_ char *list = nook_strbuf_steal(&missing);
        if (n_missing == 0)
                return 0;
        if (!list)
                return nook_error_oom(err);

        if (req->fallback.tag == NOOK_FALLBACK_ALLOW_IF_APPROVED) {
                if (ret_downgrade && asprintf(ret_downgrade,
                                              "downgrade accepted by fallback allow_if_package_and_policy_approve: "
                                              "this host lacks %s",
                                              list) < 0)
                        return nook_error_oom(err);
                return 0;
        }
        /* "deny" refuses; "test_only_host_process" would run the workload as a plain host
         * process, which nook never does, so it refuses too and says why. */
        return nook_error_set(
                err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_HOST_CONFIGURATION_NEEDED, EPERM,
                "prepare_session: the environment requires %s, which %s cannot deliver on this host "
                "(fallback %s%s); run 'nook caps' to see what is missing",
                list, runtime_ref, req->fallback.tag == NOOK_FALLBACK_DENY ? "deny" : "test_only_host_process",
                req->fallback.tag == NOOK_FALLBACK_DENY ? "" : ": nook never runs workloads as host processes");
}
