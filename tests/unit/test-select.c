/* Unit tests of src/core/select.c: accepted adapters, minimum class, required
 * capabilities and the fallback's downgrade rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/macro.h"

#include "core/contract.h"
#include "core/select.h"

static const char *REPORT =
        "{\"report_ref\":\"r\",\"adapter_ref\":\"nook.userns\",\"adapter_kind\":\"os_sandbox\",\"adapter_version\":"
        "\"1\",\"capability_version\":\"1\",\"health\":\"healthy\",\"supported_classes\":[\"sandbox\",\"container\"],"
        "\"platform\":{\"platform\":\"linux\",\"os\":\"linux\",\"cpu_architecture\":\"x86_64\"},"
        "\"capabilities\":{\"capabilities\":[\"audit_log\",\"read_only_root\"]},\"log_retention\":\"durable\","
        "\"trust\":{\"locality\":\"local\",\"tenancy\":\"shared_allowed\",\"auditability\":\"required\","
        "\"cleanup\":\"required\",\"data_residency\":\"local_only\",\"secret_isolation\":\"none\"}}";

static void *parse(const nook_schema *s, const char *text) {
        json_auto_t *j = json_loads(text, 0, NULL);
        assert_non_null(j);
        void *out = calloc(1, s->size);
        nook_error *err = NULL;
        if (nook_schema_parse(s, j, "", out, &err) < 0)
                fail_msg("parse failed: %s", nook_error_get_message(err));
        return out;
}

static void drop(const nook_schema *s, void *p) {
        nook_schema_clear(s, p);
        free(p);
}

/* Runs the check for an environment whose spec is `spec`; returns its value. */
static int check(const char *spec, char **note, nook_error **err) {
        char text[2048];
        snprintf(text, sizeof(text), "{\"environment_id\":\"e\",\"spec\":%s}", spec);
        nook_environment *env = parse(&nook_schema_environment, text);
        nook_capability_report *rep = parse(&nook_schema_capability_report, REPORT);
        int r = nook_select_check(env, "nook.userns", rep, note, err);
        drop(&nook_schema_environment, env);
        drop(&nook_schema_capability_report, rep);
        return r;
}

static void test_no_requirement_is_accepted(void **state) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        _cleanup_free_ char *note = NULL;
        assert_int_equal(check("{}", &note, &err), 0);
        assert_null(note);
}

static void test_delivered_capabilities_are_accepted(void **state) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        _cleanup_free_ char *note = NULL;
        assert_int_equal(check("{\"requirement\":{\"minimum_class\":\"sandbox\",\"required_capabilities\":{"
                               "\"capabilities\":[\"audit_log\",\"read_"
                               "only_root\"]}}}",
                               &note, &err),
                         0);
        assert_null(note);
}

static void test_missing_capability_is_denied_by_default(void **state) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_true(check("{\"requirement\":{\"minimum_class\":\"sandbox\",\"required_capabilities\":{\"capabilities\":"
                          "[\"egress_allowlist\"]}}}",
                          NULL, &err) < 0);
        assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_POLICY_DENIAL);
        assert_non_null(strstr(nook_error_get_message(err), "egress_allowlist"));
}

static void test_test_only_host_process_fallback_still_denies(void **state) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_true(check("{\"requirement\":{\"minimum_class\":\"sandbox\",\"required_capabilities\":{\"capabilities\":"
                          "[\"secret_mount\"]},"
                          "\"fallback\":\"test_only_host_process\"}}",
                          NULL, &err) < 0);
        assert_non_null(strstr(nook_error_get_message(err), "never runs workloads as host processes"));
}

static void test_approving_fallback_accepts_and_notes_the_downgrade(void **state) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        _cleanup_free_ char *note = NULL;
        assert_int_equal(
                check("{\"requirement\":{\"minimum_class\":\"sandbox\",\"required_capabilities\":{\"capabilities\":["
                      "\"egress_allowlist\",\"audit_"
                      "log\"]},"
                      "\"fallback\":{\"allow_if_package_and_policy_approve\":{\"accepted_capability_downgrades\":"
                      "[\"egress_allowlist\"]}}}}",
                      &note, &err),
                0);
        assert_non_null(note);
        assert_non_null(strstr(note, "egress_allowlist"));
        assert_null(strstr(note, "audit_log"));
}

/* The fallback gives up only what it lists: a capability it does not name is still
 * refused, and the message says which. */
static void test_approving_fallback_accepts_only_what_it_lists(void **state) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        _cleanup_free_ char *note = NULL;
        assert_true(check("{\"requirement\":{\"minimum_class\":\"sandbox\",\"required_capabilities\":{\"capabilities\":"
                          "[\"egress_allowlist\","
                          "\"secret_mount\"]},\"fallback\":{\"allow_if_package_and_policy_approve\":{"
                          "\"accepted_capability_downgrades\":[\"egress_allowlist\"]}}}}",
                          &note, &err) < 0);
        assert_null(note);
        assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_POLICY_DENIAL);
        assert_non_null(strstr(nook_error_get_message(err), "does not accept secret_mount"));
}

/* Trust: each field against what the host offers; a weaker offer is a gap the
 * fallback may accept by field name. */
#define TRUST(loc, ten, aud, cl, res, sec)                                                                       \
        "{\"requirement\":{\"minimum_class\":\"sandbox\",\"trust\":{\"locality\":\"" loc "\",\"tenancy\":\"" ten \
        "\",\"auditability\":\"" aud "\",\"cleanup\":\"" cl "\",\"data_residency\":" res                         \
        ",\"secret_isolation\":\"" sec "\"}"
static void test_trust_is_checked_field_by_field(void **state) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(check(TRUST("local", "shared_allowed", "required", "required", "\"local_only\"", "none") "}}",
                               NULL, &err),
                         0);
        assert_true(check(TRUST("remote", "shared_allowed", "none", "best_effort", "\"any\"", "none") "}}", NULL,
                          &err) < 0);
        assert_non_null(strstr(nook_error_get_message(err), "trust locality"));
        nook_error_free(TAKE_PTR(err));
        assert_true(
                check(TRUST("any", "dedicated", "none", "best_effort", "{\"region\":\"eu-west-1\"}", "required") "}}",
                      NULL, &err) < 0);
        const char *m = nook_error_get_message(err);
        assert_non_null(strstr(m, "trust tenancy"));
        assert_non_null(strstr(m, "trust data_residency"));
        assert_non_null(strstr(m, "trust secret_isolation"));
        nook_error_free(TAKE_PTR(err));
        _cleanup_free_ char *note = NULL;
        assert_int_equal(check(TRUST("any", "dedicated", "none", "best_effort", "\"any\"",
                                     "none") ",\"fallback\":{\"allow_if_package_and_policy_approve\":{"
                                             "\"accepted_trust_downgrades\":[\"tenancy\"]}}}}",
                               &note, &err),
                         0);
        assert_non_null(strstr(note, "trust tenancy"));
}

static void test_minimum_class(void **state) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(check("{\"requirement\":{\"minimum_class\":\"sandbox\"}}", NULL, &err), 0);
        assert_int_equal(check("{\"requirement\":{\"minimum_class\":\"host_process\"}}", NULL, &err), 0);
        assert_true(check("{\"requirement\":{\"minimum_class\":\"lightweight_vm\"}}", NULL, &err) < 0);
        assert_non_null(strstr(nook_error_get_message(err), "lightweight_vm"));
        assert_true(check("{\"requirement\":{\"minimum_class\":\"remote_sandbox\"}}", NULL, &err) < 0);
}

static void test_accepted_adapters(void **state) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(check("{\"accepted_adapters\":[]}", NULL, &err), 0);
        assert_int_equal(check("{\"accepted_adapters\":[{\"required_class\":\"remote_sandbox\"},"
                               "{\"required_class\":\"container\"}]}",
                               NULL, &err),
                         0);
        assert_true(check("{\"accepted_adapters\":[{\"required_class\":\"lightweight_vm\"},"
                          "{\"required_class\":\"remote_sandbox\"}]}",
                          NULL, &err) < 0);
        assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_POLICY_DENIAL);
        assert_non_null(strstr(nook_error_get_message(err), "lightweight_vm, remote_sandbox"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_no_requirement_is_accepted),
                cmocka_unit_test(test_delivered_capabilities_are_accepted),
                cmocka_unit_test(test_missing_capability_is_denied_by_default),
                cmocka_unit_test(test_test_only_host_process_fallback_still_denies),
                cmocka_unit_test(test_approving_fallback_accepts_and_notes_the_downgrade),
                cmocka_unit_test(test_approving_fallback_accepts_only_what_it_lists),
                cmocka_unit_test(test_trust_is_checked_field_by_field),
                cmocka_unit_test(test_minimum_class),
                cmocka_unit_test(test_accepted_adapters),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
