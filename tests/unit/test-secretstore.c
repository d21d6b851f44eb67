/* Unit tests of src/userns/secretstore.c: the grammar of a secret's NAME (no keyring
 * call), and nook_secret_store_get, the reader prepare_secrets uses, against the kernel
 * keyring of the user running the test (skipped where keyctl is unusable); the verbs are
 * tested from outside by tests/integration/secret-store.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nook/secret.h"
#include "userns/secretstore.h"
#include "util/error.h"

/* The message of the refusal of name, or NULL when name is accepted. */
static char *refusal(const char *name) {
        nook_error *err = NULL;
        int r = nook_secret_store_name_check(name, &err);
        if (r == 0) {
                assert_null(err);
                return NULL;
        }
        assert_int_equal(r, -EINVAL);
        assert_non_null(err);
        assert_int_equal(nook_error_get_errno(err), EINVAL);
        char *m = strdup(nook_error_get_message(err));
        nook_error_free(err);
        return m;
}

static void test_name_accepts_letters_digits_dot_underscore_dash(void **state) {
        const char *good[] = { "a", "Z", "7", "api-token", "db.password_2", "A-._z9", "0.-_" };
        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                assert_null(refusal(good[i]));
}

static void test_name_of_128_bytes_accepted_129_refused(void **state) {
        char name[NOOK_SECRET_NAME_MAX + 2];
        memset(name, 'k', NOOK_SECRET_NAME_MAX);
        name[NOOK_SECRET_NAME_MAX] = 0;
        assert_null(refusal(name));
        name[NOOK_SECRET_NAME_MAX] = 'k';
        name[NOOK_SECRET_NAME_MAX + 1] = 0;
        _cleanup_free_ char *m = refusal(name);
        assert_non_null(m);
        assert_non_null(strstr(m, "129 bytes long"));
        assert_non_null(strstr(m, "at most 128"));
}

static void test_name_empty_refused(void **state) {
        _cleanup_free_ char *m = refusal("");
        assert_non_null(m);
        assert_non_null(strstr(m, "cannot be empty"));
        _cleanup_free_ char *m2 = refusal(NULL);
        assert_non_null(m2);
}

static void test_name_must_start_with_letter_or_digit(void **state) {
        const char *bad[] = { ".hidden", "-opt", "_x" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *m = refusal(bad[i]);
                assert_non_null(m);
                assert_non_null(strstr(m, "starts with"));
        }
}

/* Each refusal names the offending character; bytes that would not print are shown by
 * their value, and the name itself is shown with them replaced. */
static void test_name_refusal_names_the_character(void **state) {
        _cleanup_free_ char *slash = refusal("a/b");
        assert_non_null(strstr(slash, "holds '/'"));
        _cleanup_free_ char *colon = refusal("nook:x");
        assert_non_null(strstr(colon, "holds ':'"));
        _cleanup_free_ char *space = refusal("a b");
        assert_non_null(strstr(space, "holds ' '"));
        _cleanup_free_ char *bracket = refusal("x]");
        assert_non_null(strstr(bracket, "holds ']'"));
        _cleanup_free_ char *nl = refusal("a\nb");
        assert_non_null(strstr(nl, "the byte 0x0a"));
        assert_null(strchr(nl, '\n'));
        _cleanup_free_ char *esc = refusal("\x1b[31m");
        assert_non_null(strstr(esc, "starts with the byte 0x1b"));
        assert_null(strchr(esc, '\x1b'));
        _cleanup_free_ char *utf8 = refusal("caf\xc3\xa9");
        assert_non_null(strstr(utf8, "the byte 0xc3"));
}

/* The public check is the same rule. */
static void test_public_check_is_the_same_grammar(void **state) {
        nook_error *err = NULL;
        assert_int_equal(nook_secret_name_check("ok-name", &err), 0);
        assert_null(err);
        assert_int_equal(nook_secret_name_check("not ok", &err), -EINVAL);
        assert_non_null(err);
        nook_error_free(err);
}

/* A name of this run's own, removed by the test's teardown. */
static char stored_name[64];

static int remove_stored(void **state) {
        nook_error *err = NULL;
        (void)nook_secret_remove(stored_name, &err);
        nook_error_free(err);
        return 0;
}

/* Any bytes, NUL and a trailing newline included, come back as they were stored; a
 * replaced value comes back replaced; a removed one is -ENOENT. */
static void test_get_returns_the_stored_bytes(void **state) {
        snprintf(stored_name, sizeof(stored_name), "unit-get-%d", (int)getpid());
        static const char value[] = "a\0b\xff\n"; /* 5 bytes */
        nook_error *err = NULL;
        int r = nook_secret_create(stored_name, value, 5, 0, NULL, &err);
        if (r == -EOPNOTSUPP) {
                nook_error_free(err);
                skip(); /* keyctl refused or missing here: the integration test covers that */
        }
        assert_int_equal(r, 0);
        void *got = NULL;
        size_t len = 0;
        const char *why = "unset";
        assert_int_equal(nook_secret_store_get(stored_name, &got, &len, &why), 0);
        assert_null(why);
        assert_int_equal(len, 5);
        assert_memory_equal(got, value, 5);
        nook_secret_store_value_free(got, len);

        nook_secret_info *info = NULL;
        assert_int_equal(nook_secret_create(stored_name, "longer value", 12, NOOK_SECRET_REPLACE, &info, &err), 0);
        assert_int_equal(info->size, 12);
        assert_int_equal(info->permissions, NOOK_SECRET_PERM_POSSESSOR_ONLY);
        nook_secret_info_free(info);
        assert_int_equal(nook_secret_store_get(stored_name, &got, &len, NULL), 0);
        assert_int_equal(len, 12);
        assert_memory_equal(got, "longer value", 12);
        nook_secret_store_value_free(got, len);

        assert_int_equal(nook_secret_remove(stored_name, &err), 0);
        assert_int_equal(nook_secret_store_get(stored_name, &got, &len, NULL), -ENOENT);
        assert_int_equal(nook_secret_store_get("bad name", &got, &len, NULL), -EINVAL);
        assert_int_equal(nook_secret_remove(stored_name, &err), -ENOENT);
        assert_non_null(strstr(nook_error_get_message(err), "no secret named"));
        nook_error_free(err);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_name_accepts_letters_digits_dot_underscore_dash),
                cmocka_unit_test(test_name_of_128_bytes_accepted_129_refused),
                cmocka_unit_test(test_name_empty_refused),
                cmocka_unit_test(test_name_must_start_with_letter_or_digit),
                cmocka_unit_test(test_name_refusal_names_the_character),
                cmocka_unit_test(test_public_check_is_the_same_grammar),
                cmocka_unit_test_teardown(test_get_returns_the_stored_bytes, remove_stored),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
