/* Unit tests of src/core/redact.c: what reaches the journal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/contract.h"
#include "core/redact.h"

static char *redacted(const nook_schema *s, const char *text) {
        json_auto_t *j = json_loads(text, 0, NULL);
        assert_non_null(j);
        json_auto_t *r = nook_redact(s, j);
        assert_non_null(r);
        return json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
}

static void test_argv_becomes_a_count_and_env_its_names(void **state) {
        _cleanup_free_ char *s =
                redacted(&nook_schema_start_process_req,
                         "{\"process\":{\"process_id\":\"p\",\"argv\":[\"sh\",\"-c\",\"curl -H 'Auth: SECRET1'\"],"
                         "\"env\":[{\"name\":\"A\",\"redacted_value\":\"x\"},{\"name\":\"B\"}],"
                         "\"env_values\":{\"C\":\"SECRET2\"}},\"environment\":{\"environment_id\":\"e\",\"spec\":{}}}");
        assert_null(strstr(s, "SECRET1"));
        assert_null(strstr(s, "SECRET2"));
        assert_non_null(strstr(s, "\"argv_count\":3"));
        assert_non_null(strstr(s, "\"env\":[\"A\",\"B\"]"));
        assert_non_null(strstr(s, "\"env_values\":{\"redacted_keys\":[\"C\"]}"));
}

static void test_secret_values_keep_only_their_names(void **state) {
        _cleanup_free_ char *s = redacted(&nook_schema_prepare_secrets_req,
                                          "{\"environment\":{\"environment_id\":\"e\",\"spec\":{}},\"secret_values\":{"
                                          "\"db\":{\"value\":\"SECRET3\"},\"key\":{\"file\":\"/home/u/key\"}}}");
        assert_null(strstr(s, "SECRET3"));
        assert_null(strstr(s, "/home/u/key"));
        assert_non_null(strstr(s, "\"redacted_keys\":[\"db\",\"key\"]"));
}

static void test_stdin_data_keeps_only_its_length(void **state) {
        _cleanup_free_ char *s = redacted(&nook_schema_stream_io_req,
                                          "{\"process_ref\":\"p\",\"stream\":\"stdin\",\"data\":\"SECRET4\"}");
        assert_null(strstr(s, "SECRET4"));
        assert_non_null(strstr(s, "\"data\":{\"redacted_bytes\":7}"));
}

static void test_output_in_results_is_not_kept_and_the_shape_is(void **state) {
        json_auto_t *j =
                json_loads("{\"process_ref\":\"p\",\"adapter_session_ref\":\"s\",\"io_frames\":["
                           "{\"stream_ref\":\"x\",\"stream\":\"stdout\",\"raw_content_present\":true,\"content_hash\":"
                           "\"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\","
                           "\"data\":\"OUTPUT5\",\"content_refs\":[\"x/stdout/0-7\"]}]}",
                           0, NULL);
        json_auto_t *r = nook_redact_result(&nook_schema_start_result, j);
        _cleanup_free_ char *s = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
        assert_null(strstr(s, "OUTPUT5"));
        assert_null(strstr(s, "\"data\""));
        assert_non_null(strstr(s, "\"raw_content_present\":false"));
        assert_non_null(strstr(s, "x/stdout/0-7")); /* the bytes stay reachable by content ref */
        /* a replayed result still parses as the contract's type */
        nook_start_result parsed = { 0 };
        nook_error *err = NULL;
        assert_int_equal(nook_schema_parse(&nook_schema_start_result, r, "", &parsed, &err), 0);
        nook_schema_clear(&nook_schema_start_result, &parsed);
}

static void test_unknown_fields_are_kept(void **state) {
        _cleanup_free_ char *s = redacted(&nook_schema_env_req,
                                          "{\"environment\":{\"environment_id\":\"e\",\"spec\":{\"x_host\":{\"y\":1}}},"
                                          "\"trace\":\"t-1\"}");
        assert_non_null(strstr(s, "\"x_host\":{\"y\":1}"));
        assert_non_null(strstr(s, "\"trace\":\"t-1\""));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_argv_becomes_a_count_and_env_its_names),
                cmocka_unit_test(test_secret_values_keep_only_their_names),
                cmocka_unit_test(test_stdin_data_keeps_only_its_length),
                cmocka_unit_test(test_output_in_results_is_not_kept_and_the_shape_is),
                cmocka_unit_test(test_unknown_fields_are_kept),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
