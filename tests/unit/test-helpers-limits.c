/* Unit tests of the pure parts of helpers/limits.c (nook-holder's limits without a
 * cgroup, S34), compiled into this test: tmpfs sizes clamped to the memory and disk
 * limits, the RLIMIT_NPROC fence a SPAWN gets, the limits a PREPARE carries, and the
 * writable layer measured by walking it.  Nothing here needs a namespace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixtures.h"
#include "helper.h"
#include "proto/proto.h"

static holder h;

static int setup(void **state) {
        memset(&h, 0, sizeof(h));
        h.upper_fd = -1;
        h.lim.cgroup_fd = h.lim.proc_fd = h.lim.copy_fd = -1;
        return 0;
}

static int teardown(void **state) {
        free(h.lim.mon);
        if (h.lim.cgroup_fd >= 0)
                close(h.lim.cgroup_fd);
        return 0;
}

static void clamp(bool layer, const char *in, const char *want) {
        char data[512];
        snprintf(data, sizeof(data), "%s", in);
        limits_tmpfs_clamp(&h, data, sizeof(data), layer);
        assert_string_equal(data, want);
}

static void test_tmpfs_size_clamped_to_the_limits(void **state) {
        clamp(false, "mode=0755,size=1g", "mode=0755,size=1g"); /* no limit: as asked */
        h.lim.memory_max = 64u << 20;
        clamp(false, "mode=0755,size=1g", "mode=0755,size=67108864");
        clamp(false, "mode=0755", "mode=0755,size=67108864"); /* absent is half of RAM: capped */
        clamp(false, "size=1m,mode=01777", "mode=01777,size=1048576");
        clamp(false, "size=2048", "size=2048");
        clamp(false, "size=junk", "size=67108864"); /* unreadable: capped */
        clamp(false, "size=1t", "size=67108864");
        /* the writable layer: the tighter of memory and disk */
        h.lim.disk_max = 8u << 20;
        clamp(true, "mode=0755", "mode=0755,size=8388608");
        clamp(false, "mode=0755", "mode=0755,size=67108864"); /* other tmpfs: memory only */
        h.lim.memory_max = 0;
        clamp(true, "size=16m", "size=8388608");
}

static uint64_t fence(uint64_t uid, uint64_t own_pids) {
        nook_msg m = NOOK_MSG_INIT(NOOK_MSG_SPAWN);
        assert_int_equal(nook_msg_add_u64(&m, T_UID, uid), 0);
        if (own_pids)
                assert_int_equal(nook_msg_add_u64(&m, T_PIDS_MAX, own_pids), 0);
        limits_spawn(&h, &m);
        uint64_t v = nook_msg_has(&m, T_NPROC_RLIMIT) ? nook_msg_u64(&m, T_NPROC_RLIMIT, 0) : UINT64_MAX;
        nook_msg_done(&m);
        return v;
}

static void test_nproc_fence_of_a_spawn(void **state) {
        uint64_t other = (uint64_t)getuid() + 1;
        assert_int_equal(fence(other, 0), UINT64_MAX); /* no limit: no fence */
        h.lim.pids_max = 10;
        assert_int_equal(fence(other, 0), 11);  /* + the monitor about to be forked */
        assert_int_equal(fence(other, 4), 5);   /* the process's own, tighter */
        assert_int_equal(fence(other, 50), 11); /* looser: the session's */
        /* as the holder's own uid, the holder and each monitor count against it too */
        assert_int_equal(fence(getuid(), 0), 12);
        nook_msg mon = NOOK_MSG_INIT(NOOK_MSG_SPAWN);
        assert_int_equal(nook_msg_add_u64(&mon, T_PIDS_MAX, 3), 0);
        assert_int_equal(nook_msg_add_str(&mon, T_PROCESS_REF, "p-1"), 0);
        limits_monitor_add(&h, 4242, &mon);
        nook_msg_done(&mon);
        assert_int_equal(h.lim.n_mon, 1);
        assert_string_equal(h.lim.mon[0].ref, "p-1");
        assert_int_equal(fence(other, 0), 4);        /* a running process's limit holds for all */
        assert_int_equal(fence(getuid(), 0), 3 + 3); /* + holder + one monitor */
        limits_monitor_gone(&h, 4242);
        assert_int_equal(h.lim.n_mon, 0);
        assert_int_equal(fence(other, 0), 11);
        /* a delegated cgroup counts tasks exactly: no fence */
        h.lim.cgroup = true;
        assert_int_equal(fence(other, 0), UINT64_MAX);
}

static void test_monitor_ref_outside_the_alphabet_is_not_kept(void **state) {
        nook_msg mon = NOOK_MSG_INIT(NOOK_MSG_SPAWN);
        assert_int_equal(nook_msg_add_str(&mon, T_PROCESS_REF, "../p"), 0);
        limits_monitor_add(&h, 1, &mon);
        nook_msg_done(&mon);
        assert_int_equal(h.lim.n_mon, 1);
        assert_string_equal(h.lim.mon[0].ref, "");
}

static void test_prepare_carries_the_limits_and_the_cgroup_fd(void **state) {
        int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        nook_msg m = NOOK_MSG_INIT(NOOK_MSG_PREPARE);
        assert_int_equal(nook_msg_add_u64(&m, T_MEMORY_MAX, 1u << 30), 0);
        assert_int_equal(nook_msg_add_u64(&m, T_PIDS_MAX, 64), 0);
        assert_int_equal(nook_msg_add_u64(&m, T_DISK_MAX, 1u << 20), 0);
        assert_int_equal(nook_msg_add_u64(&m, T_CGROUP, 1), 0); /* fd index + 1 */
        assert_int_equal(nook_msg_add_fd(&m, fd), 0);
        limits_from_prepare(&h, &m);
        assert_int_equal(h.lim.memory_max, 1u << 30);
        assert_int_equal(h.lim.pids_max, 64);
        assert_int_equal(h.lim.disk_max, 1u << 20);
        assert_true(h.lim.cgroup);
        assert_int_equal(h.lim.cgroup_fd, fd);
        assert_int_equal(m.fds[0], -1); /* taken out of the message */
        nook_msg_done(&m);
        /* without T_CGROUP: none */
        h.lim.cgroup = false;
        h.lim.cgroup_fd = -1;
        close(fd);
        nook_msg m2 = NOOK_MSG_INIT(NOOK_MSG_PREPARE);
        limits_from_prepare(&h, &m2);
        assert_false(h.lim.cgroup);
        assert_int_equal(h.lim.cgroup_fd, -1);
        assert_int_equal(h.lim.memory_max, 0);
        nook_msg_done(&m2);
}

static void test_layer_bytes_walk_the_upper_dir(void **state) {
        uint64_t bytes = 7;
        assert_false(limits_layer_bytes(&h, &bytes)); /* nothing to measure */
        assert_int_equal(limits_timeout(&h), -1);     /* nothing armed */
        char dir[PATH_MAX];
        assert_true(nook_test_mkdtemp(dir, sizeof(dir), "test-helpers-limits"));
        h.upper_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(h.upper_fd >= 0);
        assert_int_equal(mkdirat(h.upper_fd, "d", 0700), 0);
        int fd = openat(h.upper_fd, "d/f", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        static char buf[65536];
        memset(buf, 'x', sizeof(buf));
        assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
        assert_int_equal(fsync(fd), 0);
        close(fd);
        struct stat d, f;
        assert_int_equal(fstatat(h.upper_fd, "d", &d, 0), 0);
        assert_int_equal(fstatat(h.upper_fd, "d/f", &f, 0), 0);
        assert_true(limits_layer_bytes(&h, &bytes));
        assert_int_equal(bytes, (uint64_t)(d.st_blocks + f.st_blocks) * 512);
        assert_true(bytes >= sizeof(buf));
        /* a disk limit on an on-disk layer arms the holder's timer */
        h.lim.disk_max = 1;
        h.lim.upper_on_disk = true;
        assert_true(limits_timeout(&h) >= 0);
        close(h.upper_fd);
        h.upper_fd = -1;
        nook_test_rm_rf(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_tmpfs_size_clamped_to_the_limits, setup, teardown),
                cmocka_unit_test_setup_teardown(test_nproc_fence_of_a_spawn, setup, teardown),
                cmocka_unit_test_setup_teardown(test_monitor_ref_outside_the_alphabet_is_not_kept, setup, teardown),
                cmocka_unit_test_setup_teardown(test_prepare_carries_the_limits_and_the_cgroup_fd, setup, teardown),
                cmocka_unit_test_setup_teardown(test_layer_bytes_walk_the_upper_dir, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
