/* Unit tests of helpers/mountspec.c: a mount of the plan as the holder receives it (a
 * T_MOUNT group of tagged fields), refused field by field before anything is mounted,
 * and the tmpfs flags and the path rule the holder applies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/mount.h>

#include "mountspec.h"
#include "proto/proto.h"

/* A group with every field; skip leaves one out, twice gives one two times. */
static nook_msg group(const char *kind, const char *dest, uint16_t skip, uint16_t twice) {
        nook_msg g = NOOK_MSG_INIT(0);
        for (uint16_t t = M_KIND; t <= M_FD; t++) {
                for (int n = 0; t != skip && n < (t == twice ? 2 : 1); n++) {
                        if (t == M_KIND)
                                assert_int_equal(nook_msg_add_str(&g, t, kind), 0);
                        else if (t == M_DEST)
                                assert_int_equal(nook_msg_add_str(&g, t, dest), 0);
                        else if (t == M_OPTIONS)
                                assert_int_equal(nook_msg_add_str(&g, t, "size=1m"), 0);
                        else
                                assert_int_equal(nook_msg_add_u64(&g, t, t == M_FD ? 3 : t == M_READ_ONLY), 0);
                }
        }
        return g;
}

static const char *parse(nook_msg *g, plan_mount *pm) {
        const char *why = holder_mount_parse(g->buf, (uint32_t)g->len, pm);
        return why ? why : "ok";
}

static void test_a_whole_group_is_read_field_by_field(void **state) {
        nook_msg g = group("bind", "/data", 0, 0);
        plan_mount pm;
        assert_string_equal(parse(&g, &pm), "ok");
        assert_string_equal(pm.kind, "bind");
        assert_string_equal(pm.dest, "/data");
        assert_string_equal(pm.options, "size=1m");
        assert_true(pm.ro);
        assert_false(pm.file);
        assert_false(pm.follow);
        assert_int_equal(pm.fd, 3);
        nook_msg_done(&g);
        /* M_FD is the one optional field (tmpfs has no source) */
        g = group("tmpfs", "/t", M_FD, 0);
        assert_string_equal(parse(&g, &pm), "ok");
        assert_true(pm.fd == UINT64_MAX);
        nook_msg_done(&g);
}

static void test_a_missing_repeated_or_bad_field_is_refused(void **state) {
        plan_mount pm;
        for (uint16_t t = M_KIND; t < M_FD; t++) {
                nook_msg g = group("bind", "/data", t, 0);
                assert_string_equal(parse(&g, &pm), "a missing field");
                nook_msg_done(&g);
                g = group("bind", "/data", 0, t);
                assert_string_equal(parse(&g, &pm), "a field given twice");
                nook_msg_done(&g);
        }
        nook_msg g = group("overlay", "/data", 0, 0);
        assert_string_equal(parse(&g, &pm), "an unknown kind");
        nook_msg_done(&g);
        g = group("bind", "data", 0, 0);
        assert_string_equal(parse(&g, &pm), "a relative destination");
        nook_msg_done(&g);
        /* a tag past the group's, a flag that is not 0 or 1, a number of the wrong size */
        g = group("bind", "/data", 0, 0);
        assert_int_equal(nook_msg_add_u64(&g, M_FD + 1, 0), 0);
        assert_string_equal(parse(&g, &pm), "an unknown field");
        nook_msg_done(&g);
        g = group("bind", "/data", M_FOLLOW, 0);
        assert_int_equal(nook_msg_add_u64(&g, M_FOLLOW, 2), 0);
        assert_string_equal(parse(&g, &pm), "a flag other than 0 or 1");
        nook_msg_done(&g);
        g = group("bind", "/data", M_IS_FILE, 0);
        assert_int_equal(nook_msg_add(&g, M_IS_FILE, "\1", 1), 0);
        assert_string_equal(parse(&g, &pm), "a number field of the wrong size");
        nook_msg_done(&g);
        /* a string with a NUL inside, or none at its end */
        g = group("bind", "/data", M_DEST, 0);
        assert_int_equal(nook_msg_add(&g, M_DEST, "/a\0/b", 6), 0);
        assert_string_equal(parse(&g, &pm), "a string field that is not one string");
        nook_msg_done(&g);
        g = group("bind", "/data", M_DEST, 0);
        assert_int_equal(nook_msg_add(&g, M_DEST, "/ab", 3), 0);
        assert_string_equal(parse(&g, &pm), "a string field that is not one string");
        nook_msg_done(&g);
}

static void test_a_truncated_group_is_refused(void **state) {
        nook_msg g = group("bind", "/data", 0, 0);
        plan_mount pm;
        assert_string_equal(holder_mount_parse(g.buf, (uint32_t)g.len - 3, &pm), "a truncated field");
        nook_msg_done(&g);
}

static void test_under_compares_whole_components(void **state) {
        assert_true(holder_path_under("/proc", "/proc"));
        assert_true(holder_path_under("/proc/sys/kernel", "/proc"));
        assert_false(holder_path_under("/processes", "/proc"));
        assert_false(holder_path_under("/pro", "/proc"));
        assert_false(holder_path_under("/sys", "/proc"));
}

static void test_tmpfs_flags_keep_nosuid_nodev_and_only_size_and_mode(void **state) {
        char data[64];
        assert_int_equal(holder_tmpfs_flags("", data, sizeof(data)), MS_NOSUID | MS_NODEV);
        assert_string_equal(data, "");
        assert_int_equal(holder_tmpfs_flags("size=64m,noexec,mode=0700,uid=0", data, sizeof(data)),
                         MS_NOSUID | MS_NODEV | MS_NOEXEC);
        assert_string_equal(data, "size=64m,mode=0700");
        assert_int_equal(holder_tmpfs_flags("noexec,exec", data, sizeof(data)), MS_NOSUID | MS_NODEV);
        assert_int_equal(holder_tmpfs_flags("exec,noexec", data, sizeof(data)), MS_NOSUID | MS_NODEV | MS_NOEXEC);
        /* data never overflows its buffer */
        char small[8];
        holder_tmpfs_flags("size=123456789", small, sizeof(small));
        assert_int_equal(strlen(small), sizeof(small) - 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_a_whole_group_is_read_field_by_field),
                cmocka_unit_test(test_a_missing_repeated_or_bad_field_is_refused),
                cmocka_unit_test(test_a_truncated_group_is_refused),
                cmocka_unit_test(test_under_compares_whole_components),
                cmocka_unit_test(test_tmpfs_flags_keep_nosuid_nodev_and_only_size_and_mode),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
