/* Unit tests of src/util/rmrf.c (SECURITY.md S24, S35): a tree 20,000 deep with an fd
 * limit just above the walk's budget, 0000 and 0555 modes, NAME_MAX names, a wide dir,
 * symlinks to a sentinel dir that must survive, and (test builds) dirs swapped for a
 * symlink or moved out of the tree while the walk is inside. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "util/macro.h"
#include "util/rmrf.h"

typedef struct fixture {
        char dir[64];
        int fd;  /* the test's dir: holds "tree" and "outside" */
        int out; /* "outside": the sentinel dir the walk must never touch */
} fixture;

static int setup(void **state) {
        fixture *f = calloc(1, sizeof(*f));
        const char *tmp = getenv("TMPDIR");
        snprintf(f->dir, sizeof(f->dir), "%s/nook-rmrf.XXXXXX", tmp && strlen(tmp) < 32 ? tmp : "/tmp");
        assert_non_null(mkdtemp(f->dir));
        f->fd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(f->fd >= 0);
        assert_int_equal(mkdirat(f->fd, "outside", 0755), 0);
        f->out = openat(f->fd, "outside", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(f->out >= 0);
        int s = openat(f->out, "sentinel", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(s >= 0 && write(s, "keep\n", 5) == 5);
        close(s);
        assert_int_equal(mkdirat(f->out, "sub", 0755), 0);
        *state = f;
        return 0;
}

/* What must survive: outside/sentinel with its bytes, outside/sub, nothing else gone. */
static void assert_outside_intact(const fixture *f) {
        char buf[16] = "";
        int s = openat(f->out, "sentinel", O_RDONLY | O_CLOEXEC);
        assert_true(s >= 0);
        assert_int_equal(read(s, buf, sizeof(buf)), 5);
        close(s);
        assert_string_equal(buf, "keep\n");
        struct stat st;
        assert_int_equal(fstatat(f->out, "sub", &st, AT_SYMLINK_NOFOLLOW), 0);
        assert_true(S_ISDIR(st.st_mode));
}

static int teardown(void **state) {
        fixture *f = *state;
        assert_outside_intact(f);
        assert_int_equal(nook_rm_rf_at(f->fd, "outside"), 0);
        (void)nook_rm_rf_at(f->fd, "moved");
        close(f->out);
        close(f->fd);
        assert_int_equal(rmdir(f->dir), 0);
        free(f);
        return 0;
}

/* tree/<name>/<name>/... depth levels; every zero_every-th left 0000, every 100th named
 * with NAME_MAX bytes; a file, a 0000 file and a symlink to outside at the bottom. */
static void make_deep(fixture *f, long depth, long zero_every) {
        char longname[NAME_MAX + 1];
        memset(longname, 'n', NAME_MAX);
        longname[NAME_MAX] = 0;
        assert_int_equal(mkdirat(f->fd, "tree", 0755), 0);
        int fd = openat(f->fd, "tree", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        for (long i = 0; fd >= 0 && i < depth; i++) {
                const char *name = i % 100 == 99 ? longname : "d";
                int next = mkdirat(fd, name, 0755) < 0 ? -1 : openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                /* closed once its child is made and open: nothing more is made in it */
                if (next >= 0 && zero_every && i % zero_every == zero_every - 1)
                        assert_int_equal(fchmod(fd, 0), 0);
                close(fd);
                fd = next;
        }
        assert_true(fd >= 0);
        int file = openat(fd, "file", O_WRONLY | O_CREAT | O_CLOEXEC, 0);
        assert_true(file >= 0);
        close(file);
        char target[80];
        snprintf(target, sizeof(target), "%s/outside", f->dir);
        assert_int_equal(symlinkat(target, fd, "link"), 0);
        close(fd);
}

static void assert_gone(const fixture *f, const char *name) {
        struct stat st;
        assert_int_equal(fstatat(f->fd, name, &st, AT_SYMLINK_NOFOLLOW), -1);
        assert_int_equal(errno, ENOENT);
}

/* The highest fd number open, plus one. */
static int fd_ceiling(void) {
        int top = 0;
        for (int fd = 0; fd < 4096; fd++)
                if (fcntl(fd, F_GETFD) >= 0)
                        top = fd + 1;
        return top;
}

#if NOOK_FAULT_INJECTION
static int hook_base, hook_most;
static void count_fds(int fd, unsigned long depth) {
        int n = 0;
        for (int i = hook_base; i < hook_base + 64; i++)
                n += fcntl(i, F_GETFD) >= 0;
        if (n > hook_most)
                hook_most = n;
}
#endif

static void test_deep_tree_with_few_fds(void **state) {
        fixture *f = *state;
        make_deep(f, 20000, 1000);
        struct rlimit saved, low;
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
        /* fds are numbered lowest first: any fd past the walk's budget would get EMFILE */
        int base = fd_ceiling();
        low = saved;
        low.rlim_cur = (rlim_t)(base + NOOK_RMRF_MAX_FDS);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
#if NOOK_FAULT_INJECTION
        hook_base = base;
        hook_most = 0;
        nook_rmrf_test_hook = count_fds;
#endif
        nook_rmrf_report rep;
        int r = nook_rm_rf_report_at(f->fd, "tree", &rep);
#if NOOK_FAULT_INJECTION
        nook_rmrf_test_hook = NULL;
        assert_true(hook_most >= 2 && hook_most <= NOOK_RMRF_MAX_FDS);
#endif
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
        if (r < 0)
                fail_msg("%s '%s' at depth %lu: %s", rep.step, rep.name, rep.depth, strerror(-r));
        assert_int_equal(rep.error, 0);
        assert_int_equal(rep.removed, 20000 + 1 + 2); /* the dirs, "tree", file and link */
        assert_gone(f, "tree");
        assert_int_equal(fd_ceiling(), base);
}

static void test_odd_modes(void **state) {
        fixture *f = *state;
        /* tree/closed (0000) holding a 0000 dir holding a file; tree/ro (0555) holding a
         * file; tree itself 0500 */
        assert_int_equal(mkdirat(f->fd, "tree", 0755), 0);
        int t = openat(f->fd, "tree", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_int_equal(mkdirat(t, "closed", 0755), 0);
        assert_int_equal(mkdirat(t, "closed/inner", 0755), 0);
        close(openat(t, "closed/inner/f", O_WRONLY | O_CREAT | O_CLOEXEC, 0));
        assert_int_equal(mkdirat(t, "ro", 0755), 0);
        close(openat(t, "ro/f", O_WRONLY | O_CREAT | O_CLOEXEC, 0));
        assert_int_equal(fchmodat(t, "closed/inner", 0, 0), 0);
        assert_int_equal(fchmodat(t, "closed", 0, 0), 0);
        assert_int_equal(fchmodat(t, "ro", 0555, 0), 0);
        assert_int_equal(fchmod(t, 0500), 0);
        close(t);
        assert_int_equal(nook_rm_rf_at(f->fd, "tree"), 0);
        assert_gone(f, "tree");
}

static void test_wide_dir_and_links(void **state) {
        fixture *f = *state;
        assert_int_equal(mkdirat(f->fd, "tree", 0755), 0);
        int t = openat(f->fd, "tree", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char name[32], target[80];
        snprintf(target, sizeof(target), "%s/outside", f->dir);
        for (int i = 0; i < 5000; i++) {
                snprintf(name, sizeof(name), "f%d", i);
                close(openat(t, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
                if (i % 500 == 0) {
                        snprintf(name, sizeof(name), "l%d", i);
                        assert_int_equal(symlinkat(target, t, name), 0);
                        snprintf(name, sizeof(name), "d%d", i);
                        assert_int_equal(mkdirat(t, name, 0755), 0);
                }
        }
        close(t);
        /* a symlink as the named entry itself goes alone */
        assert_int_equal(symlinkat(target, f->fd, "toplink"), 0);
        assert_int_equal(nook_rm_rf_at(f->fd, "toplink"), 0);
        assert_gone(f, "toplink");
        assert_int_equal(nook_rm_rf_at(f->fd, "tree"), 0);
        assert_gone(f, "tree");
        assert_int_equal(nook_rm_rf_at(f->fd, "never-there"), 0);
}

#if NOOK_FAULT_INJECTION
static int swap_parent;
static char swap_target[80];
static unsigned long swap_at;

/* At depth swap_at, the next dir "d" becomes a symlink to outside (renamed away first). */
static void swap_to_link(int fd, unsigned long depth) {
        if (depth != swap_at)
                return;
        assert_int_equal(renameat(fd, "d", fd, "d-away"), 0);
        assert_int_equal(symlinkat(swap_target, fd, "d"), 0);
}

/* At depth swap_at, a dir 10 levels up (closed by then: beyond the walk's window) moves
 * into outside: climbing back through ".." must stop there, not carry on in outside. */
static void move_out(int fd, unsigned long depth) {
        if (depth != swap_at)
                return;
        char path[64] = "tree";
        for (int i = 0; i < 10; i++)
                strcat(path, "/d");
        assert_int_equal(renameat(swap_parent, path, swap_parent, "outside/moved"), 0);
}
#endif

static void test_swapped_during_removal(void **state) {
#if NOOK_FAULT_INJECTION
        fixture *f = *state;
        make_deep(f, 60, 0);
        snprintf(swap_target, sizeof(swap_target), "%s/outside", f->dir);
        swap_at = 30;
        nook_rmrf_test_hook = swap_to_link;
        int r = nook_rm_rf_at(f->fd, "tree");
        nook_rmrf_test_hook = NULL;
        assert_int_equal(r, 0);
        assert_gone(f, "tree");
        assert_outside_intact(f);

        make_deep(f, 60, 0);
        swap_parent = f->fd;
        swap_at = 40;
        nook_rmrf_test_hook = move_out;
        nook_rmrf_report rep;
        r = nook_rm_rf_report_at(f->fd, "tree", &rep);
        nook_rmrf_test_hook = NULL;
        assert_int_equal(r, -ESTALE);
        assert_string_equal(rep.step, "reopen ..");
        assert_int_equal(rep.depth, 10); /* from the moved dir up to what now is outside */
        /* what moved was emptied (it was the tree's) and stays; outside is untouched */
        int moved = openat(f->out, "moved", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        assert_true(moved >= 0);
        DIR *d = fdopendir(moved);
        int entries = 0;
        for (struct dirent *e; (e = readdir(d));)
                entries += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
        closedir(d);
        assert_int_equal(entries, 0);
        assert_int_equal(nook_rm_rf_at(f->fd, "tree"), 0);
#else
        skip();
#endif
}

static void test_fault_stops_and_reports(void **state) {
#if NOOK_FAULT_INJECTION
        fixture *f = *state;
        make_deep(f, 5, 0);
        setenv("NOOK_FAULT", "rmrf.rmdir:errno=EIO", 1);
        nook_rmrf_report rep;
        int r = nook_rm_rf_report_at(f->fd, "tree", &rep);
        unsetenv("NOOK_FAULT");
        assert_int_equal(r, -EIO);
        assert_string_equal(rep.step, "rmdir");
        assert_int_equal(rep.depth, 5);
        char text[512];
        nook_rmrf_report_format(&rep, text, sizeof(text));
        assert_string_equal(text, "rmdir 'd' 5 levels down: Input/output error");
        assert_int_equal(nook_rm_rf_at(f->fd, "tree"), 0);
        assert_gone(f, "tree");
#else
        skip();
#endif
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_deep_tree_with_few_fds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_odd_modes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wide_dir_and_links, setup, teardown),
                cmocka_unit_test_setup_teardown(test_swapped_during_removal, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fault_stops_and_reports, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
