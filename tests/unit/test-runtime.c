/* Unit tests of the runtime dispatch (src/core/runtime.c) through the public API,
 * over the in-memory fake adapter: journaling, idempotent replay, conflicts, retry,
 * interrupted calls, redaction, selection and the "no effect before validation" rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "nook/nook.h"
#include "util/error.h"

#define ENV(id, extra) "{\"environment_id\":\"" id "\",\"spec\":{\"environment_id\":\"" id "\"" extra "}}"

typedef struct fixture {
        char dir[64];
        nook_runtime *rt;
} fixture;

static int setup(void **state) {
        fixture *f = calloc(1, sizeof(*f));
        strcpy(f->dir, "/tmp/nook-test-runtime.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        unsetenv("NOOK_FAKE_FAIL");
        unsetenv("NOOK_FAKE_CAPS");
        unsetenv("NOOK_FAULT");
        nook_options o = NOOK_OPTIONS_INIT;
        o.data_dir = f->dir;
        o.adapter = "fake";
        nook_error *err = NULL;
        assert_int_equal(nook_runtime_open(&o, &f->rt, &err), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        fixture *f = *state;
        nook_runtime_free(f->rt);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

/* Calls and returns 0 or the negative error; *out gets the result or AgentError JSON. */
static int call(fixture *f, const char *method, const char *req, char **out, nook_error **err) {
        char *res = NULL;
        int r = nook_runtime_call(f->rt, method, req, &res, err);
        *out = r < 0 ? nook_error_to_json(*err) : res;
        return r;
}

static int count_entry(const nook_journal_entry *e, void *userdata) {
        (*(int *)userdata)++;
        return 0;
}

static int journal_rows(fixture *f) {
        int n = 0;
        nook_error *err = NULL;
        assert_int_equal(nook_runtime_journal_list(f->rt, 0, count_entry, &n, &err), 0);
        return n;
}

static char *journal_text(fixture *f) {
        char *s = NULL;
        nook_error *err = NULL;
        assert_int_equal(nook_runtime_journal_list_json(f->rt, 0, &s, &err), 0);
        return s;
}

static void test_runtime_ref_names_the_adapter(void **state) {
        fixture *f = *state;
        char *out;
        nook_error *err = NULL;
        assert_int_equal(call(f, "runtime_ref", NULL, &out, &err), 0);
        assert_string_equal(out, "\"nook.userns\"");
        free(out);
}

static void test_unknown_method_is_a_contract_violation_and_journals_nothing(void **state) {
        fixture *f = *state;
        char *out;
        nook_error *err = NULL;
        assert_true(call(f, "prepare_sesion", "{}", &out, &err) < 0);
        assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_CONTRACT_VIOLATION);
        assert_non_null(strstr(nook_error_get_message(err), "prepare_sesion"));
        assert_int_equal(journal_rows(f), 0);
        free(out);
        nook_error_free(err);
}

static void test_same_key_same_request_replays_without_calling_the_adapter(void **state) {
        fixture *f = *state;
        const char *req = "{\"environment\":" ENV("e1", "") "}";
        char *a, *b;
        nook_error *err = NULL;
        assert_int_equal(call(f, "prepare_session", req, &a, &err), 0);
        /* Were the adapter called again, this would fail: the replay must not call it. */
        setenv("NOOK_FAKE_FAIL", "prepare_session", 1);
        assert_int_equal(call(f, "prepare_session", req, &b, &err), 0);
        unsetenv("NOOK_FAKE_FAIL");
        assert_string_equal(a, b);
        assert_int_equal(journal_rows(f), 1);
        free(a);
        free(b);
}

static void test_same_key_different_request_is_refused_and_changes_nothing(void **state) {
        fixture *f = *state;
        char *a, *b;
        nook_error *err = NULL;
        assert_int_equal(
                call(f, "prepare_session", "{\"idempotency_key\":\"k1\",\"environment\":" ENV("e1", "") "}", &a, &err),
                0);
        _cleanup_free_ char *before = journal_text(f);
        assert_true(call(f, "prepare_session", "{\"idempotency_key\":\"k1\",\"environment\":" ENV("e2", "") "}", &b,
                         &err) < 0);
        assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_CONTRACT_VIOLATION);
        _cleanup_free_ char *after = journal_text(f);
        assert_string_equal(before, after);
        free(a);
        free(b);
        nook_error_free(err);
}

static void test_failed_call_is_retried_on_the_same_row(void **state) {
        fixture *f = *state;
        const char *req = "{\"environment\":" ENV("e1", "") "}";
        char *a, *b;
        nook_error *err = NULL;
        setenv("NOOK_FAKE_FAIL", "prepare_session", 1);
        assert_true(call(f, "prepare_session", req, &a, &err) < 0);
        unsetenv("NOOK_FAKE_FAIL");
        nook_error_free(TAKE_PTR(err));
        _cleanup_free_ char *j1 = journal_text(f);
        assert_non_null(strstr(j1, "\"failed\""));
        assert_int_equal(call(f, "prepare_session", req, &b, &err), 0);
        _cleanup_free_ char *j2 = journal_text(f);
        assert_non_null(strstr(j2, "\"done\""));
        assert_int_equal(journal_rows(f), 1);
        free(a);
        free(b);
}

static void test_call_whose_owner_died_is_interrupted_and_needs_repair(void **state) {
#if !NOOK_FAULT_INJECTION
        skip();
#endif
        fixture *f = *state;
        const char *req = "{\"environment\":" ENV("e9", "") "}";
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                nook_options o = NOOK_OPTIONS_INIT;
                o.data_dir = f->dir;
                o.adapter = "fake";
                nook_runtime *rt = NULL;
                nook_error *e = NULL;
                char *out = NULL;
                setenv("NOOK_FAULT", "journal.before_result:kill", 1);
                if (nook_runtime_open(&o, &rt, &e) == 0)
                        nook_runtime_call(rt, "prepare_session", req, &out, &e);
                _exit(0); /* not reached when the fault fires */
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        char *out;
        nook_error *err = NULL;
        assert_true(call(f, "prepare_session", req, &out, &err) < 0);
        assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_RECOVERY_REPAIR_NEEDED);
        assert_int_equal(nook_error_get_retry(err), NOOK_RETRY_REPAIR_NEEDED);
        _cleanup_free_ char *j = journal_text(f);
        assert_non_null(strstr(j, "\"interrupted\""));
        free(out);
        nook_error_free(err);
}

static void test_journal_holds_argv_as_count_env_as_keys_and_no_secret_or_output(void **state) {
        fixture *f = *state;
        char *out;
        nook_error *err = NULL;
        assert_int_equal(call(f, "prepare_session", "{\"environment\":" ENV("e1", "") "}", &out, &err), 0);
        free(out);
        const char *start = "{\"environment\":" ENV(
                "e1", "") ",\"wait_ms\":100,"
                          "\"process\":{\"process_id\":\"p1\",\"argv\":[\"echo\",\"ARGV-SECRET-1\"],"
                          "\"env\":[{\"name\":\"TOKEN\",\"redacted_value\":\"[redacted]\"}],"
                          "\"env_values\":{\"PLAIN\":\"ENV-SECRET-2\"}},"
                          "\"effect_intent\":{\"effect_id\":\"fx1\"}}";
        assert_int_equal(call(f, "start_process", start, &out, &err), 0);
        assert_non_null(strstr(out, "ARGV-SECRET-1")); /* the caller gets the output */
        free(out);
        const char *secrets = "{\"environment\":" ENV(
                "e1",
                ",\"secrets\":{\"secret_mounts\":[{\"secret_ref\":\"s1\","
                "\"destination\":\"/run/secrets/s1\"}]}") ",\"secret_values\":{\"s1\":{\"value\":\"VALUE-SECRET-3\"}}}";
        assert_int_equal(call(f, "prepare_secrets", secrets, &out, &err), 0);
        free(out);
        _cleanup_free_ char *j = journal_text(f);
        assert_null(strstr(j, "ARGV-SECRET-1"));
        assert_null(strstr(j, "ENV-SECRET-2"));
        assert_null(strstr(j, "VALUE-SECRET-3"));
        assert_non_null(strstr(j, "\"argv_count\": 2"));
        assert_non_null(strstr(j, "\"PLAIN\""));
        assert_non_null(strstr(j, "\"TOKEN\""));
}

static void expect_denied(fixture *f, const char *env_extra_json, nook_error_kind kind) {
        char req[2048];
        snprintf(req, sizeof(req), "{\"environment\":{\"environment_id\":\"sel\",\"spec\":{%s}}}", env_extra_json);
        char *out;
        nook_error *err = NULL;
        assert_true(call(f, "prepare_session", req, &out, &err) < 0);
        if (nook_error_get_kind(err) != kind)
                fail_msg("%s: %s", req, out);
        free(out);
        nook_error_free(err);
}

static void test_selection_denies_missing_capability_unless_fallback_accepts(void **state) {
        fixture *f = *state;
        setenv("NOOK_FAKE_CAPS", "audit_log,cleanup", 1);
        expect_denied(f,
                      "\"requirement\":{\"minimum_class\":\"sandbox\",\"required_capabilities\":{\"capabilities\":["
                      "\"egress_allowlist\"]}}",
                      NOOK_ERROR_POLICY_DENIAL);
        expect_denied(f,
                      "\"requirement\":{\"minimum_class\":\"sandbox\",\"required_capabilities\":{\"capabilities\":["
                      "\"egress_allowlist\"]},\"fallback\":"
                      "\"test_only_host_process\"}",
                      NOOK_ERROR_POLICY_DENIAL);
        char *out;
        nook_error *err = NULL;
        assert_int_equal(
                call(f, "prepare_session",
                     "{\"environment\":{\"environment_id\":\"sel2\",\"spec\":{\"requirement\":{\"minimum_class\":"
                     "\"sandbox\","
                     "\"required_capabilities\":{\"capabilities\":[\"egress_allowlist\",\"audit_log\"]},\"fallback\":{"
                     "\"allow_if_package_and_policy_approve\":{\"accepted_capability_downgrades\":[\"egress_"
                     "allowlist\"]}}}}}}",
                     &out, &err),
                0);
        free(out);
        assert_int_equal(call(f, "prepare_session",
                              "{\"environment\":{\"environment_id\":\"sel3\",\"spec\":{\"requirement\":{\"minimum_"
                              "class\":\"sandbox\","
                              "\"required_capabilities\":{\"capabilities\":[\"audit_log\"]}}}}}",
                              &out, &err),
                         0);
        free(out);
        unsetenv("NOOK_FAKE_CAPS");
}

static void test_selection_checks_class_and_accepted_adapters(void **state) {
        fixture *f = *state;
        expect_denied(f, "\"requirement\":{\"minimum_class\":\"lightweight_vm\"}", NOOK_ERROR_POLICY_DENIAL);
        expect_denied(f, "\"accepted_adapters\":[{\"required_class\":\"lightweight_vm\"}]", NOOK_ERROR_POLICY_DENIAL);
        char *out;
        nook_error *err = NULL;
        assert_int_equal(
                call(f, "prepare_session",
                     "{\"environment\":{\"environment_id\":\"ok\",\"spec\":{\"accepted_adapters\":[{\"required_class\":"
                     "\"remote_sandbox\"},{\"required_class\":\"container\"}],\"requirement\":{\"minimum_class\":"
                     "\"container\"}}}}",
                     &out, &err),
                0);
        free(out);
}

static void test_bad_input_leaves_the_journal_unchanged(void **state) {
        fixture *f = *state;
        char *out;
        nook_error *err = NULL;
        assert_int_equal(call(f, "prepare_session", "{\"environment\":" ENV("e1", "") "}", &out, &err), 0);
        free(out);
        _cleanup_free_ char *before = journal_text(f);
        static const char *const bad[] = {
                "{\"environment\":",                                                /* malformed */
                "{\"environment\":{\"environment_id\":7,\"spec\":{}}}",             /* wrong type */
                "{\"environment\":{\"environment_id\":\"a\\u0001b\",\"spec\":{}}}", /* control character */
                "{\"environment\":{\"environment_id\":\"e\",\"environment_id\":\"f\",\"spec\":{}}}", /* duplicate */
                "{\"environment\":{\"environment_id\":\"\xff\xfe\",\"spec\":{}}}",                   /* invalid UTF-8 */
                "{\"environment\":{\"environment_id\":\"e\",\"spec\":{\"resources\":{\"memory_mb\":-1}}}}",
                "{\"environment\":{\"spec\":{}}}", /* missing */
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_true(call(f, "prepare_session", bad[i], &out, &err) < 0);
                free(out);
                nook_error_free(TAKE_PTR(err));
        }
        /* oversized */
        size_t n = NOOK_MAX_REQUEST_BYTES + 16;
        char *big = malloc(n + 1);
        memset(big, ' ', n);
        memcpy(big, "{\"x\":\"", 6);
        big[n - 2] = '"';
        big[n - 1] = '}';
        big[n] = 0;
        assert_true(call(f, "prepare_session", big, &out, &err) < 0);
        assert_non_null(strstr(nook_error_get_message(err), "exceeds"));
        free(out);
        free(big);
        nook_error_free(TAKE_PTR(err));
        _cleanup_free_ char *after = journal_text(f);
        assert_string_equal(before, after);
}

static void test_detach_needs_policy_and_reclaim_takes_the_ticket(void **state) {
        fixture *f = *state;
        char *out;
        nook_error *err = NULL;
        assert_int_equal(call(f, "prepare_session", "{\"environment\":" ENV("d1", "") "}", &out, &err), 0);
        free(out);
        assert_true(call(f, "detach", "{\"environment\":" ENV("d1", "") "}", &out, &err) < 0);
        assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_POLICY_DENIAL);
        free(out);
        nook_error_free(TAKE_PTR(err));
        assert_int_equal(call(f, "detach",
                              "{\"idempotency_key\":\"d\",\"environment\":" ENV(
                                      "d1", ",\"ownership\":{\"detach_policy\":{\"allowed\":true}}") "}",
                              &out, &err),
                         0);
        json_t *res = json_loads(out, 0, NULL);
        const char *ticket = json_string_value(json_object_get(res, "host_ack_ref"));
        assert_non_null(ticket);
        char req[256];
        snprintf(req, sizeof(req), "{\"ticket_ref\":\"%s\"}", ticket);
        free(out);
        assert_int_equal(call(f, "reclaim", req, &out, &err), 0);
        assert_non_null(strstr(out, "completed"));
        free(out);
        json_decref(res);
        assert_true(call(f, "reclaim", "{\"ticket_ref\":\"nope\"}", &out, &err) < 0);
        assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_POLICY_DENIAL);
        free(out);
        nook_error_free(err);
}

static void test_reads_are_not_journaled_writes_are(void **state) {
        fixture *f = *state;
        char *out;
        nook_error *err = NULL;
        assert_int_equal(call(f, "capability_report", "{}", &out, &err), 0);
        free(out);
        assert_int_equal(call(f, "runtime_ref", "", &out, &err), 0);
        free(out);
        assert_int_equal(journal_rows(f), 0);
}

static void test_options_with_unknown_version_are_refused(void **state) {
        nook_options o = NOOK_OPTIONS_INIT;
        o.version = 99;
        nook_runtime *rt = NULL;
        nook_error *err = NULL;
        assert_true(nook_runtime_open(&o, &rt, &err) < 0);
        assert_null(rt);
        nook_error_free(err);
}

/* The library's entry point picks the adapter from its table (src/lib/open.c): an
 * unknown name is refused, naming it and the adapters this build has, and nothing is
 * created in the data dir. */
static void test_unknown_adapter_is_refused_naming_those_built(void **state) {
        fixture *f = *state;
        nook_options o = NOOK_OPTIONS_INIT;
        o.data_dir = f->dir;
        o.adapter = "nosuch";
        nook_runtime *rt = NULL;
        nook_error *err = NULL;
        assert_int_equal(nook_runtime_open(&o, &rt, &err), -EINVAL);
        assert_null(rt);
        assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_HOST_CONFIGURATION_NEEDED);
        assert_int_equal(nook_error_get_errno(err), EINVAL);
        assert_non_null(strstr(nook_error_get_message(err), "unknown adapter 'nosuch'"));
        assert_non_null(strstr(nook_error_get_message(err), "this build has: userns, fake"));
        nook_error_free(err);
        err = NULL;
        /* NOOK_ADAPTER names it when the options do not */
        o.adapter = NULL;
        setenv("NOOK_ADAPTER", "alsonot", 1);
        assert_int_equal(nook_runtime_open(&o, &rt, &err), -EINVAL);
        unsetenv("NOOK_ADAPTER");
        assert_non_null(strstr(nook_error_get_message(err), "unknown adapter 'alsonot'"));
        nook_error_free(err);
        /* a name in the table opens, and opening journals nothing yet */
        o.adapter = "fake";
        err = NULL;
        assert_int_equal(nook_runtime_open(&o, &rt, &err), 0);
        struct stat st;
        char journal[96];
        snprintf(journal, sizeof(journal), "%s/journal.db", f->dir);
        assert_int_equal(stat(journal, &st), -1); /* opening journals nothing */
        nook_runtime_free(rt);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_runtime_ref_names_the_adapter, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unknown_adapter_is_refused_naming_those_built, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unknown_method_is_a_contract_violation_and_journals_nothing, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_same_key_same_request_replays_without_calling_the_adapter, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_same_key_different_request_is_refused_and_changes_nothing, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_failed_call_is_retried_on_the_same_row, setup, teardown),
                cmocka_unit_test_setup_teardown(test_call_whose_owner_died_is_interrupted_and_needs_repair, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_journal_holds_argv_as_count_env_as_keys_and_no_secret_or_output,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_selection_denies_missing_capability_unless_fallback_accepts, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_selection_checks_class_and_accepted_adapters, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_input_leaves_the_journal_unchanged, setup, teardown),
                cmocka_unit_test_setup_teardown(test_detach_needs_policy_and_reclaim_takes_the_ticket, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reads_are_not_journaled_writes_are, setup, teardown),
                cmocka_unit_test(test_options_with_unknown_version_are_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
