/* Unit tests of src/core/select.c: accepted adapters, minimum class, required
 * capabilities and the fallback's downgrade rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/contract.h"
#include "core/select.h"

static const char *REPORT =
        "{\"report_ref\":\"r\",\"adapter_ref\":\"nook.userns\",\"adapter_kind\":\"os_sandbox\",\"adapter_version\":"
        "\"1\",\"capability_version\":\"1\",\"health\":\"healthy\",\"supported_classes\":[\"sandbox\",\"container\"],"
        "\"platform\":{\"platform\":\"linux\",\"os\":\"linux\",\"cpu_architecture\":\"x86_64\"},"
        "\"capabilities\":{\"capabilities\":[\"audit_log\",\"read_only_root\"]}}";

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
        assert_int_equal(
                check("{\"requirement\":{\"required_capabilities\":[\"audit_log\",\"read_only_root\"]}}", &note, &err),
                0);
        assert_null(note);
}

static void test_missing_capability_is_denied_by_default(void **state) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_true(check("{\"requirement\":{\"required_capabilities\":[\"egress_allowlist\"]}}", NULL, &err) < 0);
        assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_POLICY_DENIAL);
        assert_non_null(strstr(nook_error_get_message(err), "egress_allowlist"));
}

static void test_test_only_host_process_fallback_still_denies(void **state) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_true(
                check("{\"requirement\":{\"required_capabilities\":[\"x\"],\"fallback\":\"test_only_host_process\"}}",
                      NULL, &err) < 0);
        assert_non_null(strstr(nook_error_get_message(err), "never runs workloads as host processes"));
}

static void test_approving_fallback_accepts_and_notes_the_downgrade(void **state) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        _cleanup_free_ char *note = NULL;
        assert_int_equal(check("{\"requirement\":{\"required_capabilities\":[\"egress_allowlist\",\"audit_log\"],"
                               "\"fallback\":{\"allow_if_package_and_policy_approve\":{}}}}",
                               &note, &err),
                         0);
        assert_non_null(note);
        assert_non_null(strstr(note, "egress_allowlist"));
        assert_null(strstr(note, "audit_log"));
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
        assert_int_equal(check("{\"accepted_adapters\":[\"a\",\"nook.userns\"]}", NULL, &err), 0);
        assert_true(check("{\"accepted_adapters\":[\"a\",\"b\"]}", NULL, &err) < 0);
        assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_POLICY_DENIAL);
        assert_non_null(strstr(nook_error_get_message(err), "a, b"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_no_requirement_is_accepted),
                cmocka_unit_test(test_delivered_capabilities_are_accepted),
                cmocka_unit_test(test_missing_capability_is_denied_by_default),
                cmocka_unit_test(test_test_only_host_process_fallback_still_denies),
                cmocka_unit_test(test_approving_fallback_accepts_and_notes_the_downgrade),
                cmocka_unit_test(test_minimum_class),
                cmocka_unit_test(test_accepted_adapters),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
