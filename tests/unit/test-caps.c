/* Unit tests of the capability probe (src/userns/caps.c): the report is well formed,
 * consistent with its facts, and the probe leaves no process, file or fd behind.  They
 * hold for any host (root, an unprivileged user, inside `unshare -r`): assertions are
 * about the shape and honesty of the report, never about what this host offers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "fixtures.h"
#include "userns/caps.h"

/* A fresh directory per test, under the caller's TMPDIR; removed in teardown. */
struct fixture {
        char root[512];
};

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        if (!nook_test_mkdtemp(f->root, sizeof(f->root), "test-caps"))
                return -1;
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        nook_test_rm_rf(f->root);
        free(f);
        return 0;
}

static char *path_in(const struct fixture *f, const char *name) {
        char *p = NULL;
        assert_true(asprintf(&p, "%s/%s", f->root, name) > 0);
        return p;
}

static nook_probe *probe(const char *run_dir, const char *data_dir) {
        nook_probe_options opts = { .run_dir = run_dir, .data_dir = data_dir };
        nook_probe *p = NULL;
        nook_error *err = NULL;
        assert_int_equal(nook_caps_probe(&opts, &p, &err), 0);
        assert_null(err);
        assert_non_null(p);
        return p;
}

static const nook_probe_finding *must_find(const nook_probe *p, const char *name) {
        const nook_probe_finding *f = nook_probe_find(p, name);
        if (!f)
                fail_msg("finding %s missing", name);
        return f;
}

static bool is_snake_case(const char *s) {
        if (!s || !(*s >= 'a' && *s <= 'z'))
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
                        return false;
        return s[-1] != '_';
}

static void test_findings_are_well_formed(void **state) {
        struct fixture *fx = *state;
        char *run = path_in(fx, "run"), *data = path_in(fx, "data");
        nook_probe *p = probe(run, data);
        assert_true(p->n_findings >= 20);
        for (size_t i = 0; i < p->n_findings; i++) {
                const nook_probe_finding *f = &p->findings[i];
                if (!is_snake_case(f->name))
                        fail_msg("finding name '%s' is not snake_case", f->name);
                assert_non_null(f->title);
                assert_true(f->title[0] != 0);
                assert_non_null(f->detail);
                assert_true(f->detail[0] != 0);
                if (f->ok != (f->remedy == NULL))
                        fail_msg("%s: ok=%d but remedy=%s", f->name, f->ok, f->remedy ? f->remedy : "NULL");
                if (f->remedy)
                        assert_true(f->remedy[0] != 0);
                /* without any of these every session is refused: the host is unsupported */
                static const char *const required[] = { "userns",     "mountns", "session_namespaces",
                                                        "hostname",   "devpts",  "dev_nodes",
                                                        "pivot_root", "run_dir", "data_dir" };
                bool must_be_required = false;
                for (size_t k = 0; k < sizeof(required) / sizeof(required[0]); k++)
                        must_be_required |= strcmp(f->name, required[k]) == 0;
                if (f->required != must_be_required)
                        fail_msg("%s: required=%d", f->name, f->required);
                for (size_t j = 0; j < i; j++)
                        if (strcmp(p->findings[j].name, f->name) == 0)
                                fail_msg("finding name %s appears twice", f->name);
        }
        static const char *const expected[] = {
                "userns",
                "max_user_namespaces",
                "mountns",
                "session_namespaces",
                "hostname",
                "devpts",
                "dev_nodes",
                "pivot_root",
                "pidns_procfs",
                "netns",
                "overlay_in_userns",
                "fuse",
                "fuse_overlayfs",
                "tmpfs_user_xattr",
                "slirp4netns",
                "tun",
                "nftables_in_userns",
                "seccomp",
                "cgroup_v2",
                "cgroup_delegation",
                "cgroup_controllers",
                "pidfd",
                "clone3",
                "openat2",
                "close_range",
                "mount_setattr",
                "kernel_keyring",
                "subuid",
                "nested",
                "run_dir",
                "run_dir_not_fuse",
                "data_dir",
                "data_dir_user_xattr",
        };
        for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
                must_find(p, expected[i]);
        assert_non_null(p->kernel_release);
        assert_non_null(p->cpu_architecture);
        assert_true(p->duration_us > 0);
        /* Not a performance assertion: the children's 2 s deadline bounds the probe. */
        assert_true(p->duration_us < 10u * 1000u * 1000u);
        print_message("probe took %llu us (uid %u)\n", (unsigned long long)p->duration_us, (unsigned)geteuid());
        nook_probe_free(p);
        free(run);
        free(data);
}

static void test_find_by_name(void **state) {
        nook_probe *p = probe(NULL, NULL);
        for (size_t i = 0; i < p->n_findings; i++)
                assert_ptr_equal(nook_probe_find(p, p->findings[i].name), &p->findings[i]);
        assert_null(nook_probe_find(p, "no_such_finding"));
        assert_null(nook_probe_find(p, NULL));
        assert_null(nook_probe_find(NULL, "userns"));
        assert_null(nook_probe_free(p));
        assert_null(nook_probe_free(NULL));
}

static void set_tmpdir(const char *value) {
        if (value)
                setenv("TMPDIR", value, 1);
        else
                unsetenv("TMPDIR");
}

/* No child (the test is a subreaper, so orphaned grandchildren would be ours too), no
 * file in TMPDIR, no fd, and not one byte on stdout or stderr.  Everything is measured
 * and restored first, asserted after, so a failure cannot leak into the next test. */
static void test_probe_leaves_nothing_behind(void **state) {
        struct fixture *fx = *state;
        char *tmp = path_in(fx, "tmp");
        assert_int_equal(mkdir(tmp, 0700), 0);
        char *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
        fflush(stdout);
        fflush(stderr);
        int out = memfd_create("test-caps-output", MFD_CLOEXEC);
        assert_true(out >= 0);
        int saved1 = fcntl(1, F_DUPFD_CLOEXEC, 3), saved2 = fcntl(2, F_DUPFD_CLOEXEC, 3);
        size_t fds_before = nook_test_count_fds();

        set_tmpdir(tmp);
        dup2(out, 1);
        dup2(out, 2);
        nook_probe_options opts = { 0 };
        nook_probe *p = NULL;
        nook_error *err = NULL;
        int r = nook_caps_probe(&opts, &p, &err);
        dup2(saved1, 1);
        dup2(saved2, 2);
        set_tmpdir(old);

        size_t fds_after = nook_test_count_fds();
        size_t left_in_tmpdir = nook_test_count_entries(tmp);
        struct stat st;
        assert_int_equal(fstat(out, &st), 0);
        errno = 0;
        pid_t child = waitpid(-1, NULL, WNOHANG);
        int child_errno = errno;
        close(out);
        close(saved1);
        close(saved2);
        free(old);
        free(tmp);

        assert_int_equal(r, 0);
        assert_null(err);
        assert_int_equal(st.st_size, 0);
        assert_int_equal(fds_after, fds_before);
        assert_int_equal(left_in_tmpdir, 0);
        assert_int_equal(child, -1);
        assert_int_equal(child_errno, ECHILD);
        nook_probe_free(p);
}

/* A TMPDIR the probe cannot use is a finding (mountns names it), never an error. */
static void test_unusable_tmpdir_is_a_finding(void **state) {
        struct fixture *fx = *state;
        char *gone = path_in(fx, "does-not-exist");
        char *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
        set_tmpdir(gone);
        nook_probe_options opts = { 0 };
        nook_probe *p = NULL;
        nook_error *err = NULL;
        int r = nook_caps_probe(&opts, &p, &err);
        set_tmpdir(old);
        assert_int_equal(r, 0);
        assert_null(err);
        const nook_probe_finding *m = must_find(p, "mountns");
        if (must_find(p, "userns")->ok) {
                assert_false(m->ok);
                assert_non_null(strstr(m->detail, "temp dir"));
                assert_non_null(strstr(m->remedy, "TMPDIR"));
        }
        struct stat st;
        assert_int_equal(lstat(gone, &st), -1);
        nook_probe_free(p);
        free(old);
        free(gone);
}

static void test_facts_match_findings(void **state) {
        static const struct {
                const char *name;
                uint64_t fact;
        } map[] = {
                { "userns", NOOK_FACT_USERNS },
                { "mountns", NOOK_FACT_MOUNTNS },
                { "pidns_procfs", NOOK_FACT_PROCFS_MOUNT },
                { "netns", NOOK_FACT_NETNS },
                { "overlay_in_userns", NOOK_FACT_OVERLAY },
                { "fuse", NOOK_FACT_FUSE },
                { "fuse_overlayfs", NOOK_FACT_FUSE_OVERLAYFS },
                { "tmpfs_user_xattr", NOOK_FACT_TMPFS_XATTR },
                { "slirp4netns", NOOK_FACT_SLIRP4NETNS },
                { "tun", NOOK_FACT_TUN },
                { "seccomp", NOOK_FACT_SECCOMP },
                { "nftables_in_userns", NOOK_FACT_NFTABLES },
                { "cgroup_v2", NOOK_FACT_CGROUP2 },
                { "cgroup_delegation", NOOK_FACT_CGROUP_DELEGATED },
                { "pidfd", NOOK_FACT_PIDFD },
                { "clone3", NOOK_FACT_CLONE3 },
                { "openat2", NOOK_FACT_OPENAT2 },
                { "close_range", NOOK_FACT_CLOSE_RANGE },
                { "subuid", NOOK_FACT_SUBUID },
                { "run_dir", NOOK_FACT_RUN_DIR },
                { "data_dir", NOOK_FACT_DATA_DIR },
                { "mount_setattr", NOOK_FACT_MOUNT_SETATTR },
                { "kernel_keyring", NOOK_FACT_KEYRING },
        };
        nook_probe *p = probe(NULL, NULL);
        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
                bool fact = (p->facts & map[i].fact) != 0;
                if (must_find(p, map[i].name)->ok != fact)
                        fail_msg("%s: finding ok=%d, fact=%d", map[i].name, must_find(p, map[i].name)->ok, fact);
        }
        /* "nested" is ok when NOT nested. */
        assert_int_equal(must_find(p, "nested")->ok, !(p->facts & NOOK_FACT_NESTED));
        /* A fresh procfs needs a pid namespace; namespaces need a user namespace. */
        if (p->facts & NOOK_FACT_PROCFS_MOUNT)
                assert_true(p->facts & NOOK_FACT_PIDNS);
        if (!(p->facts & NOOK_FACT_USERNS))
                assert_int_equal(p->facts & (NOOK_FACT_MOUNTNS | NOOK_FACT_PIDNS | NOOK_FACT_NETNS | NOOK_FACT_OVERLAY |
                                             NOOK_FACT_NFTABLES),
                                 0);
        assert_true((p->fuse_overlayfs_version != NULL) == !!(p->facts & NOOK_FACT_FUSE_OVERLAYFS));
        assert_true((p->slirp4netns_version != NULL) == !!(p->facts & NOOK_FACT_SLIRP4NETNS));
        if (p->cgroup_controllers)
                assert_true(p->facts & NOOK_FACT_CGROUP_DELEGATED);
        nook_probe_free(p);
}

static void test_health_summary_is_consistent(void **state) {
        nook_probe *p = probe(NULL, NULL);
        size_t n = 0;
        assert_non_null(p->missing);
        for (size_t i = 0; i < p->n_findings; i++)
                if (p->findings[i].required && !p->findings[i].ok) {
                        assert_non_null(p->missing[n]);
                        assert_string_equal(p->missing[n], p->findings[i].name);
                        n++;
                }
        assert_null(p->missing[n]);
        if (n) {
                assert_null(p->degraded_reason); /* unsupported, not degraded */
        } else {
                bool overlay_driver = (p->facts & NOOK_FACT_OVERLAY) ||
                                      ((p->facts & NOOK_FACT_FUSE) && (p->facts & NOOK_FACT_FUSE_OVERLAYFS));
                bool says_no_overlay = p->degraded_reason && strstr(p->degraded_reason, "no overlay driver");
                assert_int_equal(says_no_overlay, !overlay_driver);
        }
        if (p->degraded_reason)
                print_message("degraded: %s\n", p->degraded_reason);
        nook_probe_free(p);
}

static void test_run_dir_with_mode_0755_is_not_ok(void **state) {
        struct fixture *fx = *state;
        char *run = path_in(fx, "run"), *data = path_in(fx, "data");
        assert_int_equal(mkdir(run, 0700), 0);
        assert_int_equal(chmod(run, 0755), 0);
        assert_int_equal(mkdir(data, 0700), 0);
        nook_probe *p = probe(run, data);
        const nook_probe_finding *r = must_find(p, "run_dir"), *d = must_find(p, "data_dir");
        assert_false(r->ok);
        assert_non_null(strstr(r->detail, "0755"));
        assert_non_null(strstr(r->remedy, "chmod 0700"));
        assert_false(p->facts & NOOK_FACT_RUN_DIR);
        assert_true(d->ok);
        assert_true(p->facts & NOOK_FACT_DATA_DIR);
        nook_probe_free(p);
        free(run);
        free(data);
}

static void test_symlinked_run_dir_is_not_ok(void **state) {
        struct fixture *fx = *state;
        char *real = path_in(fx, "real"), *run = path_in(fx, "run");
        assert_int_equal(mkdir(real, 0700), 0);
        assert_int_equal(symlink(real, run), 0);
        nook_probe *p = probe(run, NULL);
        const nook_probe_finding *r = must_find(p, "run_dir");
        assert_false(r->ok);
        assert_non_null(strstr(r->detail, "symlink"));
        assert_non_null(r->remedy);
        nook_probe_free(p);
        free(real);
        free(run);
}

static void test_missing_dirs_under_writable_parent_are_ok_and_not_created(void **state) {
        struct fixture *fx = *state;
        char *run = path_in(fx, "a/b/run"), *data = path_in(fx, "c/data"), *a = path_in(fx, "a"), *c = path_in(fx, "c");
        nook_probe *p = probe(run, data);
        assert_true(must_find(p, "run_dir")->ok);
        assert_true(must_find(p, "data_dir")->ok);
        assert_non_null(strstr(must_find(p, "run_dir")->detail, "0700"));
        struct stat st;
        assert_int_equal(lstat(a, &st), -1);
        assert_int_equal(lstat(c, &st), -1);
        assert_int_equal(nook_test_count_entries(fx->root), 0);
        nook_probe_free(p);
        free(run);
        free(data);
        free(a);
        free(c);
}

/* Under `unshare -r` (or any user namespace) the nested finding says so, quoting the map. */
static void test_nested_finding_reports_user_namespace(void **state) {
        char map[256] = "";
        FILE *f = fopen("/proc/self/uid_map", "re");
        assert_non_null(f);
        unsigned long long in = 0, out = 0, n = 0;
        int fields = fscanf(f, "%llu %llu %llu", &in, &out, &n);
        int more = fgetc(f) == '\n' ? fgetc(f) : EOF;
        fclose(f);
        bool identity = fields == 3 && in == 0 && out == 0 && n == 4294967295ull && more == EOF;
        snprintf(map, sizeof(map), "%llu %llu %llu", in, out, n);
        nook_probe *p = probe(NULL, NULL);
        const nook_probe_finding *nested = must_find(p, "nested");
        if (identity)
                assert_null(strstr(nested->detail, "inside a user namespace"));
        else {
                assert_false(nested->ok);
                assert_true(p->facts & NOOK_FACT_NESTED);
                assert_non_null(strstr(nested->detail, "inside a user namespace"));
                assert_non_null(strstr(nested->detail, map));
        }
        nook_probe_free(p);
}

/* subuid is the finding that differs between users: its text stays in it. */
static void test_subuid_detail_stays_in_its_finding(void **state) {
        nook_probe *p = probe(NULL, NULL);
        for (size_t i = 0; i < p->n_findings; i++) {
                const nook_probe_finding *f = &p->findings[i];
                if (strcmp(f->name, "subuid") == 0)
                        continue;
                assert_null(strstr(f->detail, "/etc/subuid"));
                assert_null(strstr(f->detail, "newuidmap"));
        }
        assert_non_null(strstr(must_find(p, "subuid")->detail, "/etc/subuid"));
        if (!must_find(p, "subuid")->ok)
                assert_non_null(strstr(must_find(p, "subuid")->detail, "single-id"));
        nook_probe_free(p);
}

/* ---- fix lines (caps-fix.c) ---- */

static void test_free_subid_range_skips_every_line(void **state) {
        uint64_t start = 0;
        /* none: useradd's first range */
        assert_int_equal(caps_subid_free_range(NULL, NULL, 65536, &start), 0);
        assert_int_equal(start, 100000);
        assert_int_equal(caps_subid_free_range("", "", 65536, &start), 0);
        assert_int_equal(start, 100000);
        /* the first range taken, in either file; lines out of order; a gap too small */
        assert_int_equal(
                caps_subid_free_range("bob:231072:65536\nalice:100000:65536\n", "carol:165536:1000\n", 65536, &start),
                0);
        assert_int_equal(start, 296608);
        /* a gap that fits exactly is used */
        assert_int_equal(caps_subid_free_range("a:100000:65536\nb:231072:65536\n", NULL, 65536, &start), 0);
        assert_int_equal(start, 165536);
        /* a range that starts below 100000 and ends inside the first candidate */
        assert_int_equal(caps_subid_free_range("a:90000:20000\n", NULL, 65536, &start), 0);
        assert_int_equal(start, 110000);
        /* overlapping and nested lines, by name or by uid; comments and junk are skipped */
        assert_int_equal(caps_subid_free_range("# c\n1000:100000:70000\nx:150000:10\nbad\ny:1:2:3x\nz::5\n",
                                               "w:169999:2\n", 100, &start),
                         0);
        assert_int_equal(start, 170001);
        /* the subgid file alone */
        assert_int_equal(caps_subid_free_range(NULL, "g:100000:65536", 65536, &start), 0);
        assert_int_equal(start, 165536);
        /* nothing fits below 2^32-1 */
        start = 7;
        assert_int_equal(caps_subid_free_range("a:100000:4294850000\n", NULL, 65536, &start), -ENOSPC);
        assert_int_equal(start, 7);
}

static void test_subid_fix_line_is_runnable(void **state) {
        char *s = caps_subid_fix("alice", 296608, 65536);
        assert_string_equal(s, "sudo usermod --add-subuids 296608-362143 --add-subgids 296608-362143 alice");
        free(s);
}

static void test_outer_runtime_from_markers(void **state) {
        assert_int_equal(caps_outer_runtime(false, false, NULL), CAPS_OUTER_NONE);
        assert_int_equal(caps_outer_runtime(false, false, ""), CAPS_OUTER_NONE);
        assert_int_equal(caps_outer_runtime(true, false, NULL), CAPS_OUTER_PODMAN);
        assert_int_equal(caps_outer_runtime(false, true, NULL), CAPS_OUTER_DOCKER);
        /* container= names the engine when set: podman sets it, a nook session too */
        assert_int_equal(caps_outer_runtime(false, true, "podman"), CAPS_OUTER_PODMAN);
        assert_int_equal(caps_outer_runtime(true, true, "nook"), CAPS_OUTER_NOOK);
        assert_int_equal(caps_outer_runtime(false, false, "docker"), CAPS_OUTER_DOCKER);
        assert_int_equal(caps_outer_runtime(false, false, "lxc"), CAPS_OUTER_OTHER);
        assert_int_equal(caps_outer_runtime(true, false, "oci"), CAPS_OUTER_PODMAN);
}

static void expect_flags(caps_outer o, unsigned want, const char *expected) {
        char *s = caps_outer_flags(o, want);
        if (!expected)
                assert_null(s);
        else {
                assert_non_null(s);
                assert_string_equal(s, expected);
        }
        free(s);
}

static void test_outer_flags_are_the_engines_own(void **state) {
        expect_flags(CAPS_OUTER_PODMAN, CAPS_OUTER_UNMASK, "podman run --security-opt unmask=ALL …");
        expect_flags(CAPS_OUTER_DOCKER, CAPS_OUTER_UNMASK, "docker run --security-opt systempaths=unconfined …");
        expect_flags(CAPS_OUTER_PODMAN, CAPS_OUTER_SECCOMP | CAPS_OUTER_FUSE,
                     "podman run --security-opt seccomp=unconfined --device /dev/fuse …");
        expect_flags(CAPS_OUTER_DOCKER, CAPS_OUTER_SECCOMP | CAPS_OUTER_TUN,
                     "docker run --security-opt seccomp=unconfined --security-opt apparmor=unconfined --device "
                     "/dev/net/tun …");
        /* unknown engine: both, each in its own words */
        expect_flags(CAPS_OUTER_OTHER, CAPS_OUTER_UNMASK,
                     "podman run --security-opt unmask=ALL …; or docker run --security-opt systempaths=unconfined …");
        /* an outer nook session has a seccomp switch and nothing else */
        expect_flags(CAPS_OUTER_NOOK, CAPS_OUTER_SECCOMP | CAPS_OUTER_UNMASK,
                     "nook run --security-opt seccomp=unconfined …");
        expect_flags(CAPS_OUTER_NOOK, CAPS_OUTER_UNMASK | CAPS_OUTER_FUSE, NULL);
}

int main(void) {
        /* Orphans of the probe would be re-parented to us: waitpid() then sees them too. */
        prctl(PR_SET_CHILD_SUBREAPER, 1);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_findings_are_well_formed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_find_by_name, setup, teardown),
                cmocka_unit_test_setup_teardown(test_probe_leaves_nothing_behind, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unusable_tmpdir_is_a_finding, setup, teardown),
                cmocka_unit_test_setup_teardown(test_facts_match_findings, setup, teardown),
                cmocka_unit_test_setup_teardown(test_health_summary_is_consistent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_run_dir_with_mode_0755_is_not_ok, setup, teardown),
                cmocka_unit_test_setup_teardown(test_symlinked_run_dir_is_not_ok, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_dirs_under_writable_parent_are_ok_and_not_created, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_nested_finding_reports_user_namespace, setup, teardown),
                cmocka_unit_test_setup_teardown(test_subuid_detail_stays_in_its_finding, setup, teardown),
                cmocka_unit_test(test_free_subid_range_skips_every_line),
                cmocka_unit_test(test_subid_fix_line_is_runnable),
                cmocka_unit_test(test_outer_runtime_from_markers),
                cmocka_unit_test(test_outer_flags_are_the_engines_own),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
