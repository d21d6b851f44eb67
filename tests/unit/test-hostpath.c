/* Unit tests of src/util/hostpath.c: a host path opened once without following a
 * symlink the caller could change (S31), and the holder's reopen proving the inode. */
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

#include "util/hostpath.h"
#include "util/macro.h"

static char dir[PATH_MAX];

static int setup(void **state) {
        snprintf(dir, sizeof(dir), "%s/nook-hostpath.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(dir))
                return -1;
        char p[PATH_MAX + 32];
        snprintf(p, sizeof(p), "%s/real", dir);
        if (mkdir(p, 0700) < 0)
                return -1;
        snprintf(p, sizeof(p), "%s/real/file", dir);
        int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
                return -1;
        close(fd);
        snprintf(p, sizeof(p), "%s/link", dir);
        return symlink("real", p);
}

static int teardown(void **state) {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static void same(int fd, const char *path) {
        struct stat a, b;
        assert_int_equal(fstat(fd, &a), 0);
        assert_int_equal(stat(path, &b), 0);
        assert_true(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
}

static void test_plain_path_opens_the_inode_and_names_it(void **state) {
        char p[PATH_MAX + 32], name[PATH_MAX];
        snprintf(p, sizeof(p), "%s/real/../real/./file", dir);
        _cleanup_close_ int fd = nook_host_open(p, 0);
        assert_true(fd >= 0);
        same(fd, p);
        assert_int_equal(nook_fd_path(fd, name, sizeof(name)), 0);
        snprintf(p, sizeof(p), "%s/real/file", dir);
        assert_string_equal(name, p);
        assert_int_equal(nook_host_open(p, O_DIRECTORY), -ENOTDIR);
        assert_int_equal(nook_host_open("relative/path", 0), -EINVAL);
}

/* a symlink in a directory the caller owns is one a sandbox of theirs could swap */
static void test_symlink_in_our_directory_is_refused(void **state) {
        char p[PATH_MAX + 32];
        snprintf(p, sizeof(p), "%s/link/file", dir);
        assert_int_equal(nook_host_open(p, 0), -ELOOP);
        snprintf(p, sizeof(p), "%s/link", dir);
        assert_int_equal(nook_host_open(p, O_DIRECTORY), -ELOOP);
}

/* /bin -> usr/bin (merged /usr) lives in /, which only root may change: followed,
 * unless we are root ourselves (then no directory is out of our reach) */
static void test_symlink_in_root_owned_directory_is_followed(void **state) {
        struct stat st;
        if (lstat("/bin", &st) < 0 || !S_ISLNK(st.st_mode) || stat("/", &st) < 0 || st.st_uid != 0)
                skip();
        _cleanup_close_ int fd = nook_host_open("/bin", O_DIRECTORY);
        if (geteuid() == 0) {
                assert_int_equal(fd, -ELOOP);
                return;
        }
        assert_true(fd >= 0);
        same(fd, "/bin");
}

static void test_reopen_proves_the_inode(void **state) {
        char real[PATH_MAX + 32], moved[PATH_MAX + 32], file[PATH_MAX + 64];
        snprintf(real, sizeof(real), "%s/real", dir);
        snprintf(moved, sizeof(moved), "%s/moved", dir);
        _cleanup_close_ int fd = nook_host_open(real, O_DIRECTORY);
        assert_true(fd >= 0);
        _cleanup_close_ int again = nook_host_reopen(fd, O_DIRECTORY);
        assert_true(again >= 0);
        same(again, real);
        /* renamed: the kernel's name follows the inode, still the same one */
        assert_int_equal(rename(real, moved), 0);
        _cleanup_close_ int after = nook_host_reopen(fd, O_DIRECTORY);
        assert_true(after >= 0);
        same(after, moved);
        /* removed and replaced: its name ends in " (deleted)", nothing is reopened */
        snprintf(file, sizeof(file), "%s/file", moved);
        _cleanup_close_ int f = nook_host_open(file, 0);
        assert_true(f >= 0);
        assert_int_equal(unlink(file), 0);
        int w = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(w >= 0);
        close(w);
        assert_int_equal(nook_host_reopen(f, 0), -ENOENT);
        assert_int_equal(rename(moved, real), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_plain_path_opens_the_inode_and_names_it),
                cmocka_unit_test(test_symlink_in_our_directory_is_refused),
                cmocka_unit_test(test_symlink_in_root_owned_directory_is_followed),
                cmocka_unit_test(test_reopen_proves_the_inode),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
