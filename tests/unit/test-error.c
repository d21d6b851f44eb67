/* Unit tests of src/util/error.c: raising, prefixing, and the AgentError JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "util/error.h"

static json_t *as_json(const nook_error *e) {
        _cleanup_free_ char *s = nook_error_to_json(e);
        assert_non_null(s);
        json_error_t je;
        json_t *j = json_loads(s, 0, &je);
        assert_non_null(j);
        return j;
}

static void test_set_returns_negative_errno_and_fills_fields(void **state) {
        _cleanup_(nook_error_freep) nook_error *e = NULL;
        assert_int_equal(nook_error_set(&e, NOOK_ERROR_TIMEOUT, NOOK_RETRY_RETRYABLE, ETIMEDOUT, "slow %d", 3),
                         -ETIMEDOUT);
        assert_int_equal(nook_error_get_kind(e), NOOK_ERROR_TIMEOUT);
        assert_int_equal(nook_error_get_retry(e), NOOK_RETRY_RETRYABLE);
        assert_int_equal(nook_error_get_errno(e), ETIMEDOUT);
        assert_string_equal(nook_error_get_message(e), "slow 3");
        assert_int_equal(nook_error_set(&e, NOOK_ERROR_TIMEOUT, NOOK_RETRY_RETRYABLE, 0, "x"), -EINVAL);
}

static void test_sys_appends_strerror_and_classifies_retry(void **state) {
        _cleanup_(nook_error_freep) nook_error *e = NULL;
        assert_int_equal(nook_error_sys(&e, EACCES, "open %s", "x"), -EACCES);
        assert_string_equal(nook_error_get_message(e), "open x: Permission denied");
        assert_int_equal(nook_error_get_retry(e), NOOK_RETRY_USER_ACTION_NEEDED);
}

static void test_prefix_adds_context_and_keeps_the_value(void **state) {
        _cleanup_(nook_error_freep) nook_error *e = NULL;
        int r = nook_error_sys(&e, ENOENT, "stat");
        assert_int_equal(nook_error_prefix(&e, r, "prepare_rootfs"), -ENOENT);
        assert_string_equal(nook_error_get_message(e), "prepare_rootfs: stat: No such file or directory");
}

static void test_null_err_is_allowed(void **state) {
        assert_int_equal(nook_error_set(NULL, NOOK_ERROR_TIMEOUT, NOOK_RETRY_RETRYABLE, EIO, "x"), -EIO);
        assert_int_equal(nook_error_field(NULL, NOOK_ERROR_CONTRACT_VIOLATION, "/a", "x"), -EINVAL);
        assert_null(nook_error_free(NULL));
}

static void test_json_missing_required_field(void **state) {
        _cleanup_(nook_error_freep) nook_error *e = NULL;
        nook_error_field(&e, NOOK_ERROR_MISSING_REQUIRED_FIELD, "/process/argv", "missing");
        json_auto_t *j = as_json(e);
        json_auto_t *want = json_loads("{\"MissingRequiredField\":{\"field\":\"/process/argv\"}}", 0, NULL);
        assert_true(json_equal(j, want));
        assert_string_equal(nook_error_get_pointer(e), "/process/argv");
}

static void test_json_contract_violation_names_the_pointer(void **state) {
        _cleanup_(nook_error_freep) nook_error *e = NULL;
        nook_error_field(&e, NOOK_ERROR_CONTRACT_VIOLATION, "/a/0", "bad \"quote\"\n\x01");
        json_auto_t *j = as_json(e);
        const char *msg = json_string_value(json_object_get(json_object_get(j, "ContractViolation"), "message"));
        assert_string_equal(msg, "/a/0: bad \"quote\"\n\x01");
}

static void test_json_classified(void **state) {
        _cleanup_(nook_error_freep) nook_error *e = NULL;
        nook_error_set(&e, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_NOT_RETRYABLE, EPERM, "no");
        json_auto_t *j = as_json(e);
        json_auto_t *want = json_loads("{\"Classified\":{\"kind\":\"PolicyDenial\",\"retry\":\"NotRetryable\","
                                       "\"context\":{\"message\":\"no\",\"policy_refs\":[],\"source\":null,"
                                       "\"destination\":null,\"subject\":null,\"privacy\":null,"
                                       "\"redacted_summary\":\"no\"},\"causal_ids\":{\"run_id\":null,\"turn_id\":null,"
                                       "\"attempt_id\":null,\"event_id\":null,\"tool_call_id\":null,\"span_id\":null,"
                                       "\"related\":[]}}}",
                                       0, NULL);
        assert_true(json_equal(j, want));
}

static void test_not_implemented_is_a_classified_isolation_failure(void **state) {
        _cleanup_(nook_error_freep) nook_error *e = NULL;
        assert_int_equal(nook_error_not_implemented(&e, "prepare_session"), -ENOSYS);
        json_auto_t *j = as_json(e);
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "Classified"), "kind")),
                            "IsolationFailure");
        assert_non_null(strstr(nook_error_get_message(e), "not implemented"));
}

static void test_every_kind_has_a_contract_name(void **state) {
        for (int k = NOOK_ERROR_MISSING_REQUIRED_FIELD; k <= NOOK_ERROR_CLASSIFIED_HOST_CONFIGURATION_NEEDED; k++)
                assert_true(strlen(nook_error_kind_name((nook_error_kind)k)) > 0);
        for (int r = NOOK_RETRY_RETRYABLE; r <= NOOK_RETRY_HOST_CONFIGURATION_NEEDED; r++)
                assert_true(strlen(nook_retry_name((nook_retry)r)) > 0);
}

static void test_hint_and_dup(void **state) {
        _cleanup_(nook_error_freep) nook_error *e = NULL;
        nook_error_set(&e, NOOK_ERROR_JOURNAL_FAILURE, NOOK_RETRY_USER_ACTION_NEEDED, EIO, "corrupt");
        nook_error_set_hint(&e, "run %s", "nook journal repair");
        _cleanup_(nook_error_freep) nook_error *d = nook_error_dup(e);
        assert_string_equal(nook_error_get_hint(d), "run nook journal repair");
        assert_string_equal(nook_error_get_message(d), "corrupt");
}

/* The step of a workload's start travels with the error (the CLI's 126 and 127 read it,
 * never the message): kept by prefix and dup, cleared by a new error, absent in the
 * contract's JSON. */
static void test_exec_stage_is_a_field(void **state) {
        _cleanup_(nook_error_freep) nook_error *e = NULL;
        assert_int_equal(nook_error_get_exec_stage(NULL), NOOK_EXEC_STAGE_NONE);
        nook_error_set(&e, NOOK_ERROR_CHILD_LIFECYCLE_FAILURE, NOOK_RETRY_NOT_RETRYABLE, ENOENT, "x");
        assert_int_equal(nook_error_get_exec_stage(e), NOOK_EXEC_STAGE_NONE);
        nook_error_set_exec_stage(&e, NOOK_EXEC_STAGE_EXEC);
        nook_error_set_exec_stage(NULL, NOOK_EXEC_STAGE_CWD);
        assert_int_equal(nook_error_prefix(&e, -ENOENT, "run"), -ENOENT);
        assert_int_equal(nook_error_get_exec_stage(e), NOOK_EXEC_STAGE_EXEC);
        assert_int_equal(nook_error_get_errno(e), ENOENT);
        _cleanup_(nook_error_freep) nook_error *d = nook_error_dup(e);
        assert_int_equal(nook_error_get_exec_stage(d), NOOK_EXEC_STAGE_EXEC);
        _cleanup_free_ char *text = nook_error_to_json(e);
        assert_null(strstr(text, "stage"));
        nook_error_set(&e, NOOK_ERROR_TIMEOUT, NOOK_RETRY_RETRYABLE, ETIMEDOUT, "y");
        assert_int_equal(nook_error_get_exec_stage(e), NOOK_EXEC_STAGE_NONE);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_set_returns_negative_errno_and_fills_fields),
                cmocka_unit_test(test_sys_appends_strerror_and_classifies_retry),
                cmocka_unit_test(test_prefix_adds_context_and_keeps_the_value),
                cmocka_unit_test(test_null_err_is_allowed),
                cmocka_unit_test(test_json_missing_required_field),
                cmocka_unit_test(test_json_contract_violation_names_the_pointer),
                cmocka_unit_test(test_json_classified),
                cmocka_unit_test(test_not_implemented_is_a_classified_isolation_failure),
                cmocka_unit_test(test_every_kind_has_a_contract_name),
                cmocka_unit_test(test_hint_and_dup),
                cmocka_unit_test(test_exec_stage_is_a_field),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
