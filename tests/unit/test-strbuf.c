/* Unit tests of src/util/strbuf.c and src/util/sha256.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "util/sha256.h"
#include "util/strbuf.h"

static void test_grows_and_steals(void **state) {
        nook_strbuf b = NOOK_STRBUF_INIT;
        for (int i = 0; i < 1000; i++)
                nook_strbuf_printf(&b, "%d,", i);
        _cleanup_free_ char *s = nook_strbuf_steal(&b);
        assert_non_null(s);
        assert_true(strncmp(s, "0,1,2,", 6) == 0);
        assert_non_null(strstr(s, "999,"));
        assert_null(b.s);
}

static void test_empty_steal_is_empty_string(void **state) {
        nook_strbuf b = NOOK_STRBUF_INIT;
        _cleanup_free_ char *s = nook_strbuf_steal(&b);
        assert_string_equal(s, "");
}

static void test_json_string_escapes_controls_and_keeps_utf8(void **state) {
        nook_strbuf b = NOOK_STRBUF_INIT;
        nook_strbuf_json_string(&b, "a\"b\\c\n\t\x01\x7f é");
        _cleanup_free_ char *s = nook_strbuf_steal(&b);
        assert_string_equal(s, "\"a\\\"b\\\\c\\n\\t\\u0001\\u007f é\"");
}

/* The one rule of nook's JSON writers for bytes that are not UTF-8 (image names and
 * skipped file names from archives, a CLI argument in another encoding). */
static void test_utf8_fix_replaces_only_stray_bytes(void **state) {
        char *f = nook_utf8_fix("caf\xc3\xa9");
        assert_string_equal(f, "caf\xc3\xa9");
        free(f);
        /* latin-1 é, a lone continuation byte, an overlong '/', a surrogate half */
        f = nook_utf8_fix("caf\xe9|\x80|\xc0\xaf|\xed\xa0\x80");
        assert_string_equal(f, "caf\xef\xbf\xbd|\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
                               "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
        free(f);
        f = nook_utf8_fix("");
        assert_string_equal(f, "");
        free(f);
}

static void test_sha256_of_empty_and_abc(void **state) {
        char d[NOOK_DIGEST_LEN + 1];
        assert_int_equal(nook_sha256_digest("", 0, d), 0);
        assert_string_equal(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_int_equal(nook_sha256_digest("abc", 3, d), 0);
        assert_string_equal(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_true(nook_digest_valid(d));
}

static void test_digest_grammar(void **state) {
        assert_false(nook_digest_valid(NULL));
        assert_false(nook_digest_valid("sha256:"));
        assert_false(nook_digest_valid("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
        assert_false(nook_digest_valid("sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        assert_false(nook_digest_valid("sha256:../../../../etc/passwd00000000000000000000000000000000000000000"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_grows_and_steals),
                cmocka_unit_test(test_empty_steal_is_empty_string),
                cmocka_unit_test(test_json_string_escapes_controls_and_keeps_utf8),
                cmocka_unit_test(test_utf8_fix_replaces_only_stray_bytes),
                cmocka_unit_test(test_sha256_of_empty_and_abc),
                cmocka_unit_test(test_digest_grammar),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
