/* Unit tests of src/util/cgroup.c against a fake cgroup2 tree in a temp dir (plain
 * files where the kernel has control files): delegation, the session's cgroup with its
 * controllers, limits and helper, refusals, removal. */
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
#include <sys/stat.h>
#include <unistd.h>

#include "util/cgroup.h"
#include "util/macro.h"

typedef struct tree {
        char dir[64];
        int root;
} tree;

static void put(int root, const char *path, const char *text) {
        int fd = openat(root, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

static char *get(int root, const char *path) {
        static char buf[256];
        int fd = openat(root, path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        buf[n > 0 ? n : 0] = 0;
        return buf;
}

/* user.slice/u.scope as systemd leaves a delegated scope: ours, no process of its own. */
static int setup(void **state) {
        tree *t = calloc(1, sizeof(*t));
        snprintf(t->dir, sizeof(t->dir), "/tmp/nook-cgroup-test.XXXXXX");
        assert_non_null(mkdtemp(t->dir));
        t->root = open(t->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_int_equal(mkdirat(t->root, "user.slice", 0755), 0);
        assert_int_equal(mkdirat(t->root, "user.slice/u.scope", 0755), 0);
        put(t->root, "user.slice/u.scope/cgroup.controllers", "cpuset cpu io memory pids\n");
        put(t->root, "user.slice/u.scope/cgroup.subtree_control", "");
        put(t->root, "user.slice/u.scope/cgroup.procs", "");
        *state = t;
        return 0;
}

static int teardown(void **state) {
        tree *t = *state;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
        assert_int_equal(system(cmd), 0);
        close(t->root);
        free(t);
        return 0;
}

static void test_parse_self(void **state) {
        char p[256];
        assert_int_equal(nook_cgroup_parse_self("0::/user.slice/u.scope\n", p, sizeof(p)), 0);
        assert_string_equal(p, "user.slice/u.scope");
        assert_int_equal(nook_cgroup_parse_self("12:pids:/x\n1:name=systemd:/y\n0::/\n", p, sizeof(p)), 0);
        assert_string_equal(p, "");
        assert_int_equal(nook_cgroup_parse_self("12:pids:/x\n", p, sizeof(p)), -ENOENT);
        assert_int_equal(nook_cgroup_parse_self("0::/a/../../etc\n", p, sizeof(p)), -ENAMETOOLONG);
        assert_int_equal(nook_cgroup_parse_self("0::/abcdef\n", p, 4), -ENAMETOOLONG);
}

static void test_delegated(void **state) {
        tree *t = *state;
        assert_int_equal(nook_cgroup_delegated(t->root, "user.slice/u.scope", getuid()), 0);
        assert_int_equal(nook_cgroup_delegated(t->root, "user.slice/u.scope", getuid() + 1), -EPERM);
        assert_int_equal(nook_cgroup_delegated(t->root, "user.slice/none", getuid()), -ENOENT);
        /* a symlink in the tree is never followed */
        assert_int_equal(symlinkat("u.scope", t->root, "user.slice/link"), 0);
        assert_true(nook_cgroup_delegated(t->root, "user.slice/link", getuid()) < 0);
        /* a scope whose control files are not ours is not delegated */
        assert_int_equal(unlinkat(t->root, "user.slice/u.scope/cgroup.subtree_control", 0), 0);
        assert_int_equal(nook_cgroup_delegated(t->root, "user.slice/u.scope", getuid()), -ENOENT);
}

static void test_make_writes_limits_and_moves_helper(void **state) {
        tree *t = *state;
        nook_cgroup_limits l = { .memory_max = 32u << 20, .pids_max = 5, .cpus = 1.5 };
        int work = -1;
        assert_int_equal(nook_cgroup_make(t->root, "user.slice/u.scope", "nook-s-1", &l, 4242, &work), 0);
        assert_true(work >= 0);
        assert_string_equal(get(t->root, "user.slice/u.scope/cgroup.subtree_control"), "+memory +pids +cpu");
        assert_string_equal(get(t->root, "user.slice/u.scope/nook-s-1/cgroup.subtree_control"), "+memory +pids +cpu");
        assert_string_equal(get(work, "memory.max"), "33554432");
        assert_string_equal(get(work, "memory.swap.max"), "0");
        assert_string_equal(get(work, "pids.max"), "5");
        assert_string_equal(get(work, "cpu.max"), "150000 100000");
        assert_string_equal(get(t->root, "user.slice/u.scope/nook-s-1/helpers/cgroup.procs"), "4242");
        /* the helpers' leaf carries no limit: nook's own processes are not counted */
        assert_null(get(t->root, "user.slice/u.scope/nook-s-1/helpers/pids.max"));
        close(work);
        assert_int_equal(nook_cgroup_remove(t->root, "user.slice/u.scope/nook-s-1"), 0);
        struct stat st;
        assert_int_equal(fstatat(t->root, "user.slice/u.scope/nook-s-1", &st, 0), -1);
        assert_int_equal(nook_cgroup_remove(t->root, "user.slice/u.scope/nook-s-1"), 0);
}

static void test_only_needed_controllers(void **state) {
        tree *t = *state;
        nook_cgroup_limits l = { .pids_max = 7 };
        int work = -1;
        assert_int_equal(nook_cgroup_make(t->root, "user.slice/u.scope", "nook-s-2", &l, 0, &work), 0);
        assert_string_equal(get(t->root, "user.slice/u.scope/cgroup.subtree_control"), "+pids");
        assert_null(get(work, "memory.max"));
        assert_null(get(work, "cpu.max"));
        close(work);
        assert_int_equal(nook_cgroup_remove(t->root, "user.slice/u.scope/nook-s-2"), 0);
}

static void test_missing_controller_refused_and_nothing_left(void **state) {
        tree *t = *state;
        put(t->root, "user.slice/u.scope/cgroup.controllers", "cpu io pids\n");
        nook_cgroup_limits l = { .memory_max = 1u << 20, .pids_max = 5 };
        int work = -1;
        assert_int_equal(nook_cgroup_make(t->root, "user.slice/u.scope", "nook-s-3", &l, 1, &work), -EOPNOTSUPP);
        assert_int_equal(work, -1);
        struct stat st;
        assert_int_equal(fstatat(t->root, "user.slice/u.scope/nook-s-3", &st, 0), -1);
        /* "memoryx" is not "memory" */
        put(t->root, "user.slice/u.scope/cgroup.controllers", "memoryx pids\n");
        assert_int_equal(nook_cgroup_make(t->root, "user.slice/u.scope", "nook-s-3", &l, 1, &work), -EOPNOTSUPP);
}

static void test_bad_names_refused(void **state) {
        tree *t = *state;
        nook_cgroup_limits l = { .pids_max = 5 };
        int work = -1;
        assert_int_equal(nook_cgroup_make(t->root, "user.slice/u.scope", "../x", &l, 0, &work), -EINVAL);
        assert_int_equal(nook_cgroup_make(t->root, "user.slice/u.scope", "..", &l, 0, &work), -EINVAL);
        assert_int_equal(nook_cgroup_make(t->root, "user.slice/u.scope", "", &l, 0, &work), -EINVAL);
        assert_int_equal(nook_cgroup_make(t->root, "user.slice/none", "n", &l, 0, &work), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_self),
                cmocka_unit_test_setup_teardown(test_delegated, setup, teardown),
                cmocka_unit_test_setup_teardown(test_make_writes_limits_and_moves_helper, setup, teardown),
                cmocka_unit_test_setup_teardown(test_only_needed_controllers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_controller_refused_and_nothing_left, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_names_refused, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
