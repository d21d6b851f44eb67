/* Unit tests of src/userns/session.c that need no holder: the run dir opened and refused
 * (S25, S32), session refs, and the session record written by nook_session_save and read
 * back by nook_session_load_at in a temp run dir — every field, a value longer than any
 * line buffer, and the records and dirs that are refused. */
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
#include <sys/wait.h>
#include <unistd.h>

#include "fixtures.h"
#include "userns/session.h"
#include "util/error.h"
#include "util/macro.h"
#include "util/sha256.h"

static char top[PATH_MAX - 64];
static char run[PATH_MAX], data[PATH_MAX];
static nook_adapter_config cfg;

static int setup(void **state) {
        if (!nook_test_mkdtemp(top, sizeof(top), "test-session"))
                return -1;
        snprintf(run, sizeof(run), "%s/run", top);
        snprintf(data, sizeof(data), "%s/data", top);
        cfg = (nook_adapter_config){ .data_dir = data, .run_dir = run };
        return 0;
}

static int teardown(void **state) {
        nook_test_rm_rf(top);
        return 0;
}

static void test_run_dir_is_made_private(void **state) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_rundir_open(&cfg, false, &err), -ENOENT);
        assert_null(err); /* none yet is no error */
        int fd = nook_rundir_open(&cfg, true, &err);
        assert_true(fd >= 0);
        assert_null(err);
        struct stat st;
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        close(fd);
        fd = nook_rundir_open(&cfg, false, &err);
        assert_true(fd >= 0);
        close(fd);
        /* missing parents are made too (NOOK_RUNTIME_DIR=<data dir>/run) */
        char deep[PATH_MAX + 16];
        snprintf(deep, sizeof(deep), "%s/a/b/run", top);
        nook_adapter_config c2 = { .data_dir = data, .run_dir = deep };
        fd = nook_rundir_open(&c2, true, &err);
        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        close(fd);
}

static void test_run_dir_open_to_others_is_refused(void **state) {
        assert_int_equal(mkdir(run, 0700), 0);
        assert_int_equal(chmod(run, 0750), 0);
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_rundir_open(&cfg, true, &err), -EPERM);
        nook_test_assert_error(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, EPERM, "is not private to this user (owner");
        assert_non_null(strstr(nook_error_get_message(err), "mode 0750): refused"));
        assert_null(strstr(nook_error_get_message(err), top)); /* host paths: the hint's alone */
        /* the hint gives a working alternative under the (local) data dir */
        char want[PATH_MAX + 40];
        snprintf(want, sizeof(want), "NOOK_RUNTIME_DIR=%s/run", data);
        assert_non_null(strstr(nook_error_get_hint(err), want));
        struct stat st;
        assert_int_equal(stat(run, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0750); /* not "fixed" behind the user's back */
}

static void test_run_dir_symlink_is_refused(void **state) {
        char real[PATH_MAX + 16];
        snprintf(real, sizeof(real), "%s/real", top);
        assert_int_equal(mkdir(real, 0700), 0);
        assert_int_equal(symlink(real, run), 0);
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_rundir_open(&cfg, true, &err), -ENOTDIR);
        nook_test_assert_error(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, ENOTDIR, "is a symlink: refused");
}

static void test_session_ref_is_a_stable_digest_of_user_and_environment(void **state) {
        char a[NOOK_SESSION_REF_LEN], b[NOOK_SESSION_REF_LEN], c[NOOK_SESSION_REF_LEN];
        nook_session_ref_for("env-1", a);
        nook_session_ref_for("env-1", b);
        nook_session_ref_for("env-2", c);
        assert_string_equal(a, b);
        assert_string_not_equal(a, c);
        assert_int_equal(strlen(a), NOOK_SESSION_REF_LEN - 1);
        char seed[128], d[NOOK_DIGEST_LEN + 1], want[NOOK_SESSION_REF_LEN];
        int n = snprintf(seed, sizeof(seed), "nook-session\n%u\nenv-1", (unsigned)getuid());
        assert_int_equal(nook_sha256_digest(seed, (size_t)n, d), 0);
        snprintf(want, sizeof(want), "s-%.24s", d + 7);
        assert_string_equal(a, want); /* tests/lib/lib.sh session_ref relies on this */
}

/* A session dir for environment env in the run dir, and a record pointing to it. */
static nook_session *new_session(const char *env, int *runfd) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        *runfd = nook_rundir_open(&cfg, true, &err);
        assert_true(*runfd >= 0);
        nook_session *s = calloc(1, sizeof(*s));
        assert_non_null(s);
        nook_session_ref_for(env, s->ref);
        assert_int_equal(mkdirat(*runfd, s->ref, 0700), 0);
        s->dir_fd = openat(*runfd, s->ref, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(s->dir_fd >= 0);
        s->environment_id = strdup(env);
        s->uid = getuid();
        s->gid = getgid();
        return s;
}

static void test_record_round_trip_keeps_every_field(void **state) {
        int runfd;
        _cleanup_(nook_session_freep) nook_session *s = new_session("env-all", &runfd);
        s->name = strdup("my-session");
        s->identity = 3;
        s->inner_uid = 0;
        s->inner_gid = 0;
        s->subid_count = 65535;
        s->own_netns = true;
        s->holder_pid = 4242;
        s->holder_start = 123456789012ull;
        s->owner_pid = 77;
        s->owner_start = 55;
        s->detached = true;
        s->ticket = strdup("tk-1");
        s->rootfs = strdup("/x/root");
        s->rootfs_rw = true;
        s->read_only = true;
        s->prepared = true;
        s->hostname = strdup("box");
        s->notes = strdup("procfs bound from the host: nested");
        /* a mount plan longer than any fixed line buffer (read_record reads any length) */
        size_t big = 20000;
        s->mounts = malloc(big + 1);
        assert_non_null(s->mounts);
        for (size_t i = 0; i < big; i++)
                s->mounts[i] = i % 50 == 49 ? ';' : (char)('a' + i % 26);
        s->mounts[big] = 0;
        memcpy(s->mounts + 100, "key=value", 9); /* an '=' inside a value stays in it */
        s->workspace = strdup("/workspace");
        s->created_ms = 1700000000123;
        s->image = strdup("sha256:"
                          "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
        s->image_store = strdup("/x/data");
        s->driver = strdup("fuse-overlayfs");
        s->driver_reason = strdup("overlay: EPERM");
        s->upper = strdup("/x/upper");
        s->keep_upper = true;
        s->owners_collapsed = 12;
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_session_save(s, &err), 0);
        assert_null(err);

        struct stat st;
        assert_int_equal(fstatat(s->dir_fd, "state", &st, AT_SYMLINK_NOFOLLOW), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(fstatat(s->dir_fd, ".state.tmp", &st, AT_SYMLINK_NOFOLLOW), -1);

        _cleanup_(nook_session_freep) nook_session *l = NULL;
        assert_int_equal(nook_session_load_at(runfd, run, s->ref, &l, &err), 0);
        assert_null(err);
        assert_string_equal(l->ref, s->ref);
        assert_string_equal(l->run_dir, run);
        char dir[PATH_MAX + 40];
        snprintf(dir, sizeof(dir), "%s/%s", run, s->ref);
        assert_string_equal(l->dir, dir);
        assert_true(l->dir_fd >= 0);
        assert_string_equal(l->environment_id, "env-all");
        assert_string_equal(l->name, "my-session");
        assert_int_equal(l->identity, 3);
        assert_int_equal(l->uid, getuid());
        assert_int_equal(l->gid, getgid());
        assert_int_equal(l->inner_uid, 0);
        assert_int_equal(l->subid_count, 65535);
        assert_true(l->own_netns);
        assert_int_equal(l->holder_pid, 4242);
        assert_int_equal(l->holder_start, 123456789012ull);
        assert_int_equal(l->owner_pid, 77);
        assert_int_equal(l->owner_start, 55);
        assert_true(l->detached);
        assert_string_equal(l->ticket, "tk-1");
        assert_string_equal(l->rootfs, "/x/root");
        assert_true(l->rootfs_rw);
        assert_true(l->read_only);
        assert_true(l->prepared);
        assert_string_equal(l->hostname, "box");
        assert_string_equal(l->notes, s->notes);
        assert_string_equal(l->mounts, s->mounts);
        assert_string_equal(l->workspace, "/workspace");
        assert_int_equal(l->created_ms, 1700000000123);
        assert_string_equal(l->image, s->image);
        assert_string_equal(l->image_store, "/x/data");
        assert_string_equal(l->driver, "fuse-overlayfs");
        assert_string_equal(l->driver_reason, "overlay: EPERM");
        assert_string_equal(l->upper, "/x/upper");
        assert_true(l->keep_upper);
        assert_int_equal(l->owners_collapsed, 12);
        close(runfd);
}

/* unset strings and false flags come back unset and false */
static void test_record_round_trip_of_a_bare_session(void **state) {
        int runfd;
        _cleanup_(nook_session_freep) nook_session *s = new_session("env-bare", &runfd);
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_session_save(s, &err), 0);
        _cleanup_(nook_session_freep) nook_session *l = NULL;
        assert_int_equal(nook_session_load_at(runfd, run, s->ref, &l, &err), 0);
        assert_string_equal(l->environment_id, "env-bare");
        assert_null(l->name);
        assert_null(l->ticket);
        assert_null(l->mounts);
        assert_null(l->image);
        assert_false(l->own_netns || l->detached || l->prepared || l->keep_upper || l->rootfs_rw);
        assert_int_equal(l->holder_pid, 0);
        close(runfd);
}

/* a newline in a value would add keys to the record: refused, the record as it was */
static void test_save_refuses_a_value_with_a_newline(void **state) {
        int runfd;
        _cleanup_(nook_session_freep) nook_session *s = new_session("env-nl", &runfd);
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_session_save(s, &err), 0);
        s->hostname = strdup("box\nholder_pid=1");
        assert_int_equal(nook_session_save(s, &err), -EINVAL);
        nook_test_assert_error(err, NOOK_ERROR_ISOLATION_FAILURE, EINVAL,
                               "writing the session record: a value holds a newline");
        _cleanup_(nook_session_freep) nook_session *l = NULL;
        nook_error *e2 = NULL;
        assert_int_equal(nook_session_load_at(runfd, run, s->ref, &l, &e2), 0);
        assert_null(l->hostname);
        assert_int_equal(l->holder_pid, 0);
        close(runfd);
}

static void write_state(int dirfd, const char *text, mode_t mode) {
        (void)unlinkat(dirfd, "state", 0);
        int fd = openat(dirfd, "state", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        assert_int_equal(fchmod(fd, mode), 0);
        close(fd);
}

static void load_refused(int runfd, const char *ref, const char *part) {
        nook_session *l = NULL;
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_session_load_at(runfd, run, ref, &l, &err), -EPERM);
        assert_null(l);
        nook_test_assert_error(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, EPERM, part);
        /* the message names the session by its ref; the host path is the hint's alone */
        assert_null(strstr(nook_error_get_message(err), top));
        assert_non_null(strstr(nook_error_get_message(err), ref));
        char hint[PATH_MAX + 64];
        snprintf(hint, sizeof(hint), "nook did not make it: remove %s/%s", run, ref);
        assert_string_equal(nook_error_get_hint(err), hint);
}

static void load_absent(int runfd, const char *ref) {
        nook_session *l = NULL;
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_session_load_at(runfd, run, ref, &l, &err), -ENOENT);
        assert_null(l);
        assert_null(err); /* no session is no error */
}

/* S32: only a private dir of ours holding our private record of this very environment */
static void test_load_refuses_what_nook_did_not_make(void **state) {
        int runfd;
        _cleanup_(nook_session_freep) nook_session *s = new_session("env-ok", &runfd);
        char text[256];
        snprintf(text, sizeof(text), "environment_id=env-ok\nuid=%u\n", (unsigned)getuid());

        load_absent(runfd, "not-a-ref");
        load_absent(runfd, "s-0123456789abcdef01234567"); /* a ref, no such dir */
        load_absent(runfd, s->ref);                       /* the dir, no record yet */
        write_state(s->dir_fd, "name=x\n", 0600);
        load_absent(runfd, s->ref); /* a record without its environment */

        write_state(s->dir_fd, text, 0600);
        nook_session *l = NULL;
        nook_error *err = NULL;
        assert_int_equal(nook_session_load_at(runfd, run, s->ref, &l, &err), 0);
        l = nook_session_free(l);

        write_state(s->dir_fd, text, 0644);
        load_refused(runfd, s->ref, "is not this user's record of this session: refused");
        /* the record of another environment planted in this session's dir */
        write_state(s->dir_fd, "environment_id=env-other\n", 0600);
        load_refused(runfd, s->ref, "is not this user's record of this session: refused");
        /* a record naming another user */
        snprintf(text, sizeof(text), "environment_id=env-ok\nuid=%u\n", (unsigned)getuid() + 1);
        write_state(s->dir_fd, text, 0600);
        load_refused(runfd, s->ref, "is not this user's record of this session: refused");
        /* a symlink as the record */
        assert_int_equal(unlinkat(s->dir_fd, "state", 0), 0);
        assert_int_equal(symlinkat("/etc/passwd", s->dir_fd, "state"), 0);
        load_refused(runfd, s->ref, "is not this user's record of this session: refused");
        /* a fifo as the record: refused, never waited on */
        assert_int_equal(unlinkat(s->dir_fd, "state", 0), 0);
        assert_int_equal(mkfifoat(s->dir_fd, "state", 0600), 0);
        load_refused(runfd, s->ref, "is not this user's record of this session: refused");

        /* a session dir others may enter */
        assert_int_equal(fchmod(s->dir_fd, 0755), 0);
        load_refused(runfd, s->ref, "is not a private directory of this user: refused");
        /* a symlink as the session dir */
        char other[NOOK_SESSION_REF_LEN];
        nook_session_ref_for("env-link", other);
        char target[PATH_MAX + 40];
        snprintf(target, sizeof(target), "%s/%s", run, s->ref);
        assert_int_equal(symlinkat(target, runfd, other), 0);
        load_refused(runfd, other, "is not a private directory of this user: refused");
        close(runfd);
}

/* What a stage gets when it needs the session: none yet, or its holder is gone. */
static void test_need_names_the_stage(void **state) {
        int runfd;
        _cleanup_(nook_session_freep) nook_session *s = new_session("env-need", &runfd);
        nook_session *got = NULL;
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_session_need(&cfg, "env-none", "prepare_rootfs", &got, &err), -ENOENT);
        nook_test_assert_error(err, NOOK_ERROR_INVALID_STATE_TRANSITION, ENOENT,
                               "prepare_rootfs: no session for this environment; call prepare_session first");
        err = nook_error_free(err);

        /* a holder that ran and is gone: a child reaped */
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(0);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
        s->holder_pid = pid;
        s->holder_start = 1;
        assert_int_equal(nook_session_save(s, &err), 0);
        assert_int_equal(nook_session_need(&cfg, "env-need", "start_process", &got, &err), -EOWNERDEAD);
        nook_test_assert_error(err, NOOK_ERROR_RECOVERY_REPAIR_NEEDED, EOWNERDEAD,
                               "start_process: the session's holder is gone (killed?); run cleanup");
        assert_int_equal(nook_error_get_retry(err), NOOK_RETRY_REPAIR_NEEDED);
        got = nook_session_free(got);
        err = nook_error_free(err);
        /* this very process is no holder either */
        s->holder_pid = getpid();
        assert_int_equal(nook_session_save(s, &err), 0);
        assert_int_equal(nook_session_need(&cfg, "env-need", "collect_stats", &got, &err), -EOWNERDEAD);
        nook_session_free(got);
        close(runfd);
}

/* A request that could not be composed says why: out of memory is retryable, a request
 * past a message's bounds is not (the same request fails again), any other errno is
 * classified as the system error it is. */
static void test_compose_error_keeps_the_cause(void **state) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_session_compose_error(&err, -ENOMEM, "prepare_environment"), -ENOMEM);
        assert_int_equal(nook_error_get_retry(err), NOOK_RETRY_RETRYABLE);
        err = nook_error_free(err);
        assert_int_equal(nook_session_compose_error(&err, -E2BIG, "prepare_environment: the mounts"), -E2BIG);
        nook_test_assert_error(err, NOOK_ERROR_ISOLATION_FAILURE, E2BIG,
                               "prepare_environment: the mounts: the request is larger than one message");
        assert_int_equal(nook_error_get_retry(err), NOOK_RETRY_NOT_RETRYABLE);
        err = nook_error_free(err);
        assert_int_equal(nook_session_compose_error(&err, -ENOSPC, "start_process"), -ENOSPC);
        nook_test_assert_error(err, NOOK_ERROR_ISOLATION_FAILURE, ENOSPC, "start_process: composing the request");
        assert_int_equal(nook_error_get_retry(err), NOOK_RETRY_USER_ACTION_NEEDED);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_run_dir_is_made_private, setup, teardown),
                cmocka_unit_test_setup_teardown(test_run_dir_open_to_others_is_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_run_dir_symlink_is_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_session_ref_is_a_stable_digest_of_user_and_environment, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_record_round_trip_keeps_every_field, setup, teardown),
                cmocka_unit_test_setup_teardown(test_record_round_trip_of_a_bare_session, setup, teardown),
                cmocka_unit_test_setup_teardown(test_save_refuses_a_value_with_a_newline, setup, teardown),
                cmocka_unit_test_setup_teardown(test_load_refuses_what_nook_did_not_make, setup, teardown),
                cmocka_unit_test_setup_teardown(test_need_names_the_stage, setup, teardown),
                cmocka_unit_test(test_compose_error_keeps_the_cause),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
