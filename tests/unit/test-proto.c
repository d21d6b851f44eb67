/* Unit tests of src/userns/proto.c: the message format between the client and the
 * session's helpers; here the groups a mount of the plan travels in (T_MOUNT) and the
 * fds that stay beside them, in the message's own list (SCM_RIGHTS, S31). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "userns/proto.h"
#include "util/macro.h"

static void add_mount(nook_msg *m, const char *dest, int fd) {
        nook_msg g = NOOK_MSG_INIT(0);
        assert_int_equal(nook_msg_add_str(&g, M_KIND, fd >= 0 ? "bind" : "tmpfs"), 0);
        assert_int_equal(nook_msg_add_str(&g, M_DEST, dest), 0);
        if (fd >= 0) {
                assert_int_equal(nook_msg_add_u64(&g, M_FD, m->n_fds), 0);
                assert_int_equal(nook_msg_add_fd(m, fd), 0);
        }
        assert_int_equal(nook_msg_add_group(m, T_MOUNT, &g), 0);
        nook_msg_done(&g);
}

static void test_groups_keep_their_fields_order_and_fds(void **state) {
        nook_msg m = NOOK_MSG_INIT(NOOK_MSG_PREPARE);
        assert_int_equal(nook_msg_add_str(&m, T_HOSTNAME, "h"), 0);
        add_mount(&m, "/data", 7);
        add_mount(&m, "/tmp/x", -1); /* 6 bytes + NUL: padded inside the group */
        add_mount(&m, "/work", 9);
        assert_int_equal(m.n_fds, 2);
        static const char *const dests[] = { "/data", "/tmp/x", "/work" };
        size_t off = 0, i = 0;
        uint16_t tag;
        const void *d;
        uint32_t len;
        while (nook_msg_next(&m, &off, &tag, &d, &len)) {
                if (tag != T_MOUNT)
                        continue;
                nook_msg g;
                assert_true(nook_msg_group(d, len, &g));
                assert_string_equal(nook_msg_str(&g, M_DEST), dests[i]);
                uint64_t fd = nook_msg_u64(&g, M_FD, UINT64_MAX);
                if (i == 1)
                        assert_true(fd == UINT64_MAX && !nook_msg_has(&g, M_FD));
                else
                        assert_int_equal(m.fds[fd], i == 0 ? 7 : 9);
                i++;
        }
        assert_int_equal(i, 3);
        assert_string_equal(nook_msg_str(&m, T_HOSTNAME), "h");
        nook_msg_done(&m); /* the fds are the caller's: not closed */
}

static void test_a_truncated_group_is_refused(void **state) {
        nook_msg g = NOOK_MSG_INIT(0);
        assert_int_equal(nook_msg_add_str(&g, M_DEST, "/data"), 0);
        nook_msg view;
        assert_true(nook_msg_group(g.buf, (uint32_t)g.len, &view));
        assert_false(nook_msg_group(g.buf, (uint32_t)g.len - 4, &view));
        assert_false(nook_msg_group(g.buf, 4, &view));
        assert_true(nook_msg_group(g.buf, 0, &view)); /* empty: no field at all */
        nook_msg_done(&g);
}

static void test_a_failed_group_is_not_added(void **state) {
        nook_msg m = NOOK_MSG_INIT(NOOK_MSG_PREPARE);
        nook_msg g = NOOK_MSG_INIT(0);
        g.failed = true;
        assert_int_equal(nook_msg_add_group(&m, T_MOUNT, &g), -ENOMEM);
        assert_int_equal(m.len, 0);
        nook_msg_done(&m);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_groups_keep_their_fields_order_and_fds),
                cmocka_unit_test(test_a_truncated_group_is_refused),
                cmocka_unit_test(test_a_failed_group_is_not_added),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
