/* Unit tests of src/proto/proto.c, the message format between the client and the
 * session's helpers: messages built with nook_msg_add*, sent over a socketpair with fds
 * as SCM_RIGHTS and read back field by field; frames that are forged, cut short or too
 * large are refused with the errno the callers act on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fixtures.h"
#include "proto/proto.h"
#include "util/macro.h"

/* The frame header as it travels (proto.c): magic, type, length of the fields, fds. */
struct wire_header {
        uint32_t magic, type, len, n_fds;
};

struct wire_field {
        uint16_t tag, pad;
        uint32_t len;
};

static int sp[2] = { -1, -1 };

static int setup(void **state) {
        return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp);
}

static int teardown(void **state) {
        for (int i = 0; i < 2; i++)
                if (sp[i] >= 0)
                        close(sp[i]);
        sp[0] = sp[1] = -1;
        return 0;
}

static void send_raw(const void *p, size_t n) {
        assert_int_equal(write(sp[0], p, n), (ssize_t)n);
}

static void test_fields_and_an_fd_travel_intact(void **state) {
        int pipefd[2];
        assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
        nook_msg m = NOOK_MSG_INIT(NOOK_MSG_PREPARE);
        assert_int_equal(nook_msg_add_str(&m, T_ROOTFS, "/some/root"), 0);
        assert_int_equal(nook_msg_add_u64(&m, T_MEMORY_MAX, 1ull << 40), 0);
        assert_int_equal(nook_msg_add_str(&m, T_LOWER, "top/diff"), 0);
        assert_int_equal(nook_msg_add_str(&m, T_LOWER, "bottom/diff"), 0);
        assert_int_equal(nook_msg_add(&m, T_DATA, "abcde", 5), 0); /* padded to 8 on the wire */
        assert_int_equal(nook_msg_add(&m, T_CLOSE, NULL, 0), 0);
        assert_int_equal(nook_msg_add_fd(&m, pipefd[1]), 0);
        /* six 8-byte field heads; values padded to 4: 12 + 8 + 12 + 12 + 8 + 0 */
        assert_int_equal(m.len, 6 * 8 + 52);
        assert_int_equal(nook_msg_send(sp[0], &m), 0);
        nook_msg_done(&m);
        /* sent fds stay the caller's */
        assert_int_equal(fcntl(pipefd[1], F_GETFD), FD_CLOEXEC);

        nook_msg r = NOOK_MSG_INIT(0);
        assert_int_equal(nook_msg_recv(sp[1], &r, 1000), 0);
        assert_int_equal(r.type, NOOK_MSG_PREPARE);
        assert_string_equal(nook_msg_str(&r, T_ROOTFS), "/some/root");
        assert_int_equal(nook_msg_u64(&r, T_MEMORY_MAX, 7), 1ull << 40);
        assert_string_equal(nook_msg_str(&r, T_LOWER), "top/diff"); /* the first of a repeated tag */
        assert_true(nook_msg_has(&r, T_CLOSE));
        assert_false(nook_msg_has(&r, T_HOSTNAME));
        assert_null(nook_msg_str(&r, T_HOSTNAME));
        assert_int_equal(nook_msg_u64(&r, T_HOSTNAME, 7), 7);

        /* iteration gives every field in order, with its exact length */
        const uint16_t tags[] = { T_ROOTFS, T_MEMORY_MAX, T_LOWER, T_LOWER, T_DATA, T_CLOSE };
        const uint32_t lens[] = { 11, 8, 9, 12, 5, 0 };
        size_t off = 0, i = 0;
        uint16_t tag;
        const void *data;
        uint32_t len;
        while (nook_msg_next(&r, &off, &tag, &data, &len)) {
                assert_true(i < ELEMENTSOF(tags));
                assert_int_equal(tag, tags[i]);
                assert_int_equal(len, lens[i]);
                if (tag == T_LOWER && i == 3)
                        assert_string_equal(data, "bottom/diff");
                if (tag == T_DATA)
                        assert_memory_equal(data, "abcde", 5);
                i++;
        }
        assert_int_equal(i, ELEMENTSOF(tags));
        assert_int_equal(off, r.len);

        /* the fd arrived close-on-exec and is the pipe's write end */
        assert_int_equal(r.n_fds, 1);
        assert_int_equal(fcntl(r.fds[0], F_GETFD), FD_CLOEXEC);
        assert_int_equal(write(r.fds[0], "x", 1), 1);
        char c = 0;
        assert_int_equal(read(pipefd[0], &c, 1), 1);
        assert_int_equal(c, 'x');
        assert_int_equal(nook_msg_take_fd(&r, 1), -1);
        int fd = nook_msg_take_fd(&r, 0);
        assert_true(fd >= 0);
        assert_int_equal(nook_msg_take_fd(&r, 0), -1); /* taken once */
        nook_msg_done(&r);
        assert_int_equal(fcntl(fd, F_GETFD), FD_CLOEXEC); /* taken: done() left it open */
        close(fd);
        close(pipefd[0]);
        close(pipefd[1]);
}

static void test_done_closes_received_fds(void **state) {
        int pipefd[2];
        assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
        nook_msg m = NOOK_MSG_INIT(NOOK_MSG_PING);
        assert_int_equal(nook_msg_add_fd(&m, pipefd[0]), 0);
        assert_int_equal(nook_msg_add_fd(&m, pipefd[1]), 0);
        assert_int_equal(nook_msg_send(sp[0], &m), 0);
        nook_msg_done(&m);
        nook_msg r = NOOK_MSG_INIT(0);
        assert_int_equal(nook_msg_recv(sp[1], &r, 1000), 0);
        assert_int_equal(r.len, 0);
        assert_int_equal(r.n_fds, 2);
        int got[2] = { r.fds[0], r.fds[1] };
        nook_msg_done(&r);
        assert_int_equal(fcntl(got[0], F_GETFD), -1);
        assert_int_equal(errno, EBADF);
        assert_int_equal(fcntl(got[1], F_GETFD), -1);
        assert_int_equal(errno, EBADF);
        close(pipefd[0]);
        close(pipefd[1]);
}

/* A field that is not NUL-terminated inside its length is no string; a u64 field of
 * another length is no number. */
static void test_typed_access_checks_the_field(void **state) {
        nook_msg m = NOOK_MSG_INIT(NOOK_MSG_SPAWN);
        assert_int_equal(nook_msg_add(&m, T_CWD, "/tmp", 4), 0);
        assert_int_equal(nook_msg_add(&m, T_HOSTNAME, "", 0), 0);
        assert_int_equal(nook_msg_add(&m, T_UID, "\1\0\0\0", 4), 0);
        assert_int_equal(nook_msg_add_str(&m, T_ENV, ""), 0);
        assert_null(nook_msg_str(&m, T_CWD));
        assert_null(nook_msg_str(&m, T_HOSTNAME));
        assert_true(nook_msg_has(&m, T_HOSTNAME));
        assert_int_equal(nook_msg_u64(&m, T_UID, 99), 99);
        assert_string_equal(nook_msg_str(&m, T_ENV), "");
        nook_msg_done(&m);
}

/* A field whose length runs past the end of the message ends the iteration: no read
 * beyond the buffer, and the fields after it are not found. */
static void test_field_running_past_the_end_stops_iteration(void **state) {
        struct {
                struct wire_header h;
                struct wire_field f1;
                char v1[4];
                struct wire_field f2;
        } frame = { { NOOK_MSG_MAGIC, NOOK_MSG_PING, 2 * sizeof(struct wire_field) + 4, 0 },
                    { T_CWD, 0, 2 },
                    "/a",
                    { T_HOSTNAME, 0, 64 } };
        send_raw(&frame, sizeof(frame));
        nook_msg r = NOOK_MSG_INIT(0);
        assert_int_equal(nook_msg_recv(sp[1], &r, 1000), 0);
        assert_int_equal(r.len, 20);
        assert_null(nook_msg_str(&r, T_CWD)); /* "/a" is not NUL-terminated inside its length */
        assert_true(nook_msg_has(&r, T_CWD));
        assert_false(nook_msg_has(&r, T_HOSTNAME));
        size_t off = 0;
        uint16_t tag;
        const void *data;
        uint32_t len;
        assert_true(nook_msg_next(&r, &off, &tag, &data, &len));
        assert_int_equal(off, 12);
        assert_false(nook_msg_next(&r, &off, &tag, &data, &len));
        assert_int_equal(off, 12);
        nook_msg_done(&r);
}

static void recv_fails(int want) {
        nook_msg r = NOOK_MSG_INIT(0);
        assert_int_equal(nook_msg_recv(sp[1], &r, 200), want);
        nook_msg_done(&r);
}

static void test_forged_headers_are_bad_messages(void **state) {
        struct wire_header wrong_magic = { 0x6b6f6f6e, NOOK_MSG_PING, 0, 0 };
        send_raw(&wrong_magic, sizeof(wrong_magic));
        recv_fails(-EBADMSG);
        struct wire_header unaligned = { NOOK_MSG_MAGIC, NOOK_MSG_PING, 6, 0 };
        send_raw(&unaligned, sizeof(unaligned));
        recv_fails(-EBADMSG);
        struct wire_header huge = { NOOK_MSG_MAGIC, NOOK_MSG_PING, NOOK_MSG_MAX + 4, 0 };
        send_raw(&huge, sizeof(huge));
        recv_fails(-EBADMSG);
        /* at the limit itself, the header is accepted: the body is then awaited */
        struct wire_header max = { NOOK_MSG_MAGIC, NOOK_MSG_PING, NOOK_MSG_MAX, 0 };
        send_raw(&max, sizeof(max));
        nook_msg r = NOOK_MSG_INIT(0);
        assert_int_equal(nook_msg_recv(sp[1], &r, 50), -ETIMEDOUT);
        nook_msg_done(&r);
}

/* half a header, and the peer says no more: the rest is awaited until the deadline */
static void test_half_a_header_times_out(void **state) {
        struct wire_header h = { NOOK_MSG_MAGIC, NOOK_MSG_REPLY, 16, 0 };
        send_raw(&h, 8);
        recv_fails(-ETIMEDOUT);
}

static void test_peer_gone_mid_frame_is_connreset(void **state) {
        struct wire_header h = { NOOK_MSG_MAGIC, NOOK_MSG_REPLY, 16, 0 };
        send_raw(&h, 8);
        close(sp[0]);
        sp[0] = -1;
        recv_fails(-ECONNRESET);
}

static void test_peer_gone_mid_body_is_connreset(void **state) {
        struct wire_header h = { NOOK_MSG_MAGIC, NOOK_MSG_REPLY, 16, 0 };
        send_raw(&h, sizeof(h));
        send_raw("12345678", 8);
        close(sp[0]);
        sp[0] = -1;
        recv_fails(-ECONNRESET);
}

static void test_peer_gone_before_anything_is_connreset(void **state) {
        close(sp[0]);
        sp[0] = -1;
        recv_fails(-ECONNRESET);
}

static void test_nothing_sent_times_out(void **state) {
        recv_fails(-ETIMEDOUT);
        /* a body that never comes in full times out too */
        struct wire_header h = { NOOK_MSG_MAGIC, NOOK_MSG_REPLY, 16, 0 };
        send_raw(&h, sizeof(h));
        send_raw("1234", 4);
        nook_msg r = NOOK_MSG_INIT(0);
        assert_int_equal(nook_msg_recv(sp[1], &r, 50), -ETIMEDOUT);
        nook_msg_done(&r);
}

static void test_sending_to_a_closed_peer_is_epipe(void **state) {
        close(sp[1]);
        sp[1] = -1;
        nook_msg m = NOOK_MSG_INIT(NOOK_MSG_PING);
        assert_int_equal(nook_msg_add_u64(&m, T_PID, 1), 0);
        assert_int_equal(nook_msg_send(sp[0], &m), -EPIPE); /* MSG_NOSIGNAL: no SIGPIPE */
        nook_msg_done(&m);
}

/* Past NOOK_MSG_MAX a message is refused while being built, and stays refused: a
 * half-built message is never sent. */
static void test_oversized_message_is_refused_and_never_sent(void **state) {
        size_t chunk = 1u << 20;
        char *big = calloc(1, chunk);
        assert_non_null(big);
        nook_msg m = NOOK_MSG_INIT(NOOK_MSG_STDIN);
        int r = 0;
        size_t added = 0;
        while ((r = nook_msg_add(&m, T_DATA, big, (uint32_t)chunk)) == 0)
                added++;
        free(big);
        assert_int_equal(r, -E2BIG);
        assert_int_equal(added, NOOK_MSG_MAX / (chunk + sizeof(struct wire_field)));
        assert_true(m.failed);
        assert_int_equal(nook_msg_add_u64(&m, T_CLOSE, 1), -ENOMEM);
        assert_int_equal(nook_msg_send(sp[0], &m), -ENOMEM);
        nook_msg_done(&m);
        recv_fails(-ETIMEDOUT); /* nothing was written */
}

static void test_fd_count_is_capped(void **state) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        nook_msg m = NOOK_MSG_INIT(NOOK_MSG_PREPARE);
        for (unsigned i = 0; i < NOOK_MSG_MAX_FDS; i++)
                assert_int_equal(nook_msg_add_fd(&m, fd), 0);
        assert_int_equal(nook_msg_add_fd(&m, fd), -E2BIG);
        assert_int_equal(m.n_fds, NOOK_MSG_MAX_FDS);
        nook_msg_done(&m); /* fds added, not received: still the caller's, open */
        assert_int_equal(fcntl(fd, F_GETFD), FD_CLOEXEC);
        close(fd);
}

static void test_reply_error_carries_errno_and_message(void **state) {
        assert_int_equal(nook_msg_reply_error(sp[0], ENOSPC, "mounting /workspace"), 0);
        assert_int_equal(nook_msg_reply_error(sp[0], 0, NULL), 0);
        nook_msg r = NOOK_MSG_INIT(0);
        assert_int_equal(nook_msg_recv(sp[1], &r, 1000), 0);
        assert_int_equal(r.type, NOOK_MSG_REPLY);
        assert_int_equal(nook_msg_u64(&r, T_ERRNO, 0), ENOSPC);
        assert_string_equal(nook_msg_str(&r, T_MESSAGE), "mounting /workspace");
        nook_msg_done(&r);
        /* an errno of 0 would read as success: it becomes EIO */
        r = (nook_msg)NOOK_MSG_INIT(0);
        assert_int_equal(nook_msg_recv(sp[1], &r, 1000), 0);
        assert_int_equal(nook_msg_u64(&r, T_ERRNO, 0), EIO);
        assert_false(nook_msg_has(&r, T_MESSAGE));
        nook_msg_done(&r);
}

/* ---- T_MOUNT groups: a mount of the plan, its fields tagged, its fd in the message's list (S31) */

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
                cmocka_unit_test_setup_teardown(test_fields_and_an_fd_travel_intact, setup, teardown),
                cmocka_unit_test_setup_teardown(test_done_closes_received_fds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_typed_access_checks_the_field, setup, teardown),
                cmocka_unit_test_setup_teardown(test_field_running_past_the_end_stops_iteration, setup, teardown),
                cmocka_unit_test_setup_teardown(test_forged_headers_are_bad_messages, setup, teardown),
                cmocka_unit_test_setup_teardown(test_half_a_header_times_out, setup, teardown),
                cmocka_unit_test_setup_teardown(test_peer_gone_mid_frame_is_connreset, setup, teardown),
                cmocka_unit_test_setup_teardown(test_peer_gone_mid_body_is_connreset, setup, teardown),
                cmocka_unit_test_setup_teardown(test_peer_gone_before_anything_is_connreset, setup, teardown),
                cmocka_unit_test_setup_teardown(test_nothing_sent_times_out, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sending_to_a_closed_peer_is_epipe, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oversized_message_is_refused_and_never_sent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fd_count_is_capped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reply_error_carries_errno_and_message, setup, teardown),
                cmocka_unit_test(test_groups_keep_their_fields_order_and_fds),
                cmocka_unit_test(test_a_truncated_group_is_refused),
                cmocka_unit_test(test_a_failed_group_is_not_added),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
