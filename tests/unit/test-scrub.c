/* Unit tests of src/util/scrub.c: no host path of nook's dirs in text meant for JSON,
 * the journal or an error, whatever punctuation follows it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/macro.h"
#include "util/scrub.h"

#define DATA "/srv/u7/share/nook"
#define RUN "/srv/u7/run/nook"

static void expect(const char *in, const char *want) {
        _cleanup_free_ char *got = nook_scrub_paths(in, DATA, RUN);
        assert_non_null(got);
        assert_string_equal(got, want);
}

static void test_dirs_are_named_whatever_follows(void **state) {
        expect("opening " DATA "/images: denied", "opening <data dir>/images: denied");
        expect("the store '" DATA "' is gone", "the store '<data dir>' is gone");
        expect("in \"" RUN "\".", "in \"<run dir>\".");
        expect(DATA ".\n", "<data dir>.\n");
        expect("(" RUN ")", "(<run dir>)");
}

static void test_ancestors_are_named_too(void **state) {
        expect("/srv/u7/share is full", "<data dir>/.. is full");
        expect("/srv/u7 is full", "<data dir>/../.. is full");
}

/* a longer name is another dir: only its ancestors that are nook's are named */
static void test_a_longer_name_is_not_a_dir_of_nook(void **state) {
        expect(DATA "x/y", "<data dir>/../nookx/y");
        expect(DATA "_old", "<data dir>/../nook_old");
        expect(RUN "-2 left", "<run dir>/../nook-2 left");
}

static void test_shared_dirs_and_other_text_stay(void **state) {
        setenv("HOME", "/", 1);
        expect("/tmp/x and /home are shared", "/tmp/x and /home are shared");
        expect("no path here", "no path here");
        assert_null(nook_scrub_paths(NULL, DATA, RUN));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dirs_are_named_whatever_follows),
                cmocka_unit_test(test_ancestors_are_named_too),
                cmocka_unit_test(test_a_longer_name_is_not_a_dir_of_nook),
                cmocka_unit_test(test_shared_dirs_and_other_text_stay),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
