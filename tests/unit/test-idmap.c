/* Unit tests of src/userns/idmap.c: which identity "auto" resolves to for the user
 * running the test (with or without an /etc/subuid range), and the id maps written for a
 * child that made its own user namespace, read back from /proc/<pid>/{uid,gid}_map and
 * setgroups.  Those need user namespaces: skipped with the reason when there are none. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/contract.h"
#include "fixtures.h"
#include "userns/idmap.h"
#include "userns/session.h"
#include "util/error.h"
#include "util/macro.h"

/* Whether file has a line "<name or uid>:<start>:<count>" with count > 0 for id: the
 * rule of subuid(5), read independently of idmap.c. */
static bool has_range(const char *file, const char *name, unsigned id) {
        FILE *f = fopen(file, "re");
        if (!f)
                return false;
        char line[512], ids[16];
        snprintf(ids, sizeof(ids), "%u", id);
        bool found = false;
        while (!found && fgets(line, sizeof(line), f)) {
                char *first = strtok(line, ":\n"), *start = strtok(NULL, ":\n"), *count = strtok(NULL, ":\n");
                found = first && start && count && (!strcmp(first, ids) || (name && !strcmp(first, name))) &&
                        strtoul(count, NULL, 10) > 0;
        }
        fclose(f);
        return found;
}

static bool this_user_has_ranges(void) {
        struct passwd *pw = getpwuid(getuid());
        const char *name = pw ? pw->pw_name : NULL;
        return has_range("/etc/subuid", name, getuid()) && has_range("/etc/subgid", name, getgid()) &&
               (access("/usr/bin/newuidmap", X_OK) == 0 || access("/bin/newuidmap", X_OK) == 0) &&
               (access("/usr/bin/newgidmap", X_OK) == 0 || access("/bin/newgidmap", X_OK) == 0);
}

static void test_explicit_identities_pass_through(void **state) {
        const int modes[] = { NOOK_IDENTITY_ROOT, NOOK_IDENTITY_KEEP_ID };
        for (size_t i = 0; i < ELEMENTSOF(modes); i++) {
                int got = -1;
                _cleanup_(nook_error_freep) nook_error *err = NULL;
                assert_int_equal(nook_identity_resolve(modes[i], getuid(), &got, &err), 0);
                assert_int_equal(got, modes[i]);
                assert_null(err);
        }
}

/* auto: subuid when this user has both ranges and the tools, else root, never an error */
static void test_auto_follows_the_subuid_files(void **state) {
        int got = -1;
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_identity_resolve(NOOK_IDENTITY_AUTO, getuid(), &got, &err), 0);
        assert_null(err);
        assert_int_equal(got, this_user_has_ranges() ? NOOK_IDENTITY_SUBUID : NOOK_IDENTITY_ROOT);
}

/* subuid asked for: granted with ranges; without, a HostConfigurationNeeded error naming
 * what is missing */
static void test_subuid_without_ranges_is_host_configuration(void **state) {
        int got = -1;
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        int r = nook_identity_resolve(NOOK_IDENTITY_SUBUID, getuid(), &got, &err);
        if (this_user_has_ranges()) {
                assert_int_equal(r, 0);
                assert_int_equal(got, NOOK_IDENTITY_SUBUID);
                return;
        }
        assert_int_equal(r, -ENOENT);
        assert_int_equal(got, -1); /* untouched on failure */
        nook_test_assert_error(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, ENOENT,
                               "identity subuid needs /etc/subuid and /etc/subgid ranges for this user");
        assert_int_equal(nook_error_get_retry(err), NOOK_RETRY_HOST_CONFIGURATION_NEEDED);
}

/* A child in a user namespace of its own, waiting for its maps; the parent's ends of its
 * pipes.  false (and the child gone) when user namespaces cannot be made here. */
typedef struct child {
        pid_t pid;
        int ready; /* child -> parent: one byte once unshared, or EOF when unshare failed */
        int go;    /* parent -> child: closed when the maps are written */
        int report;
} child;

static bool child_start(child *c) {
        int ready[2], go[2], report[2];
        assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
        assert_int_equal(pipe2(go, O_CLOEXEC), 0);
        assert_int_equal(pipe2(report, O_CLOEXEC), 0);
        c->pid = fork();
        assert_true(c->pid >= 0);
        if (c->pid == 0) {
                close(ready[0]);
                close(go[1]);
                close(report[0]);
                if (unshare(CLONE_NEWUSER) < 0)
                        _exit(2);
                (void)!write(ready[1], "r", 1);
                char b;
                (void)!read(go[0], &b, 1);
                /* inside, after the maps: who am I */
                char line[64];
                int n = snprintf(line, sizeof(line), "%u %u\n", (unsigned)getuid(), (unsigned)getgid());
                (void)!write(report[1], line, (size_t)n);
                _exit(0);
        }
        close(ready[1]);
        close(go[0]);
        close(report[1]);
        c->ready = ready[0];
        c->go = go[1];
        c->report = report[0];
        char b;
        if (read(c->ready, &b, 1) == 1)
                return true;
        int status;
        assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
        close(c->ready);
        close(c->go);
        close(c->report);
        return false;
}

/* Lets the child go and returns what it saw inside ("uid gid"). */
static void child_finish(child *c, char *seen, size_t size) {
        close(c->go);
        ssize_t n = read(c->report, seen, size - 1);
        seen[n > 0 ? n : 0] = 0;
        int status;
        assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(c->ready);
        close(c->report);
}

static void read_proc(pid_t pid, const char *file, char *buf, size_t size) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        ssize_t n = read(fd, buf, size - 1);
        close(fd);
        assert_true(n >= 0);
        buf[n] = 0;
        /* squeeze the kernel's column padding: "0 1000 1\n" */
        char *w = buf;
        for (char *r = buf; *r; r++)
                if (*r != ' ' || (w > buf && w[-1] != ' ' && w[-1] != '\n'))
                        *w++ = *r;
        *w = 0;
}

static void single_id(int identity, unsigned inside_uid, unsigned inside_gid) {
        child c;
        if (!child_start(&c))
                skip();
        uint32_t count = 99;
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        int r = nook_idmap_write(c.pid, identity, getuid(), getgid(), &count, &err);
        char uid_map[128], gid_map[128], setgroups[32], want[64], seen[64];
        read_proc(c.pid, "uid_map", uid_map, sizeof(uid_map));
        read_proc(c.pid, "gid_map", gid_map, sizeof(gid_map));
        read_proc(c.pid, "setgroups", setgroups, sizeof(setgroups));
        child_finish(&c, seen, sizeof(seen));
        if (r < 0)
                fail_msg("nook_idmap_write: %s", nook_error_get_message(err));
        assert_int_equal(count, 0); /* no ids beyond the caller's */
        snprintf(want, sizeof(want), "%u %u 1\n", inside_uid, (unsigned)getuid());
        assert_string_equal(uid_map, want);
        snprintf(want, sizeof(want), "%u %u 1\n", inside_gid, (unsigned)getgid());
        assert_string_equal(gid_map, want);
        assert_string_equal(setgroups, "deny\n"); /* S11 */
        snprintf(want, sizeof(want), "%u %u\n", inside_uid, inside_gid);
        assert_string_equal(seen, want);
}

static void test_root_maps_the_caller_to_0_and_denies_setgroups(void **state) {
        single_id(NOOK_IDENTITY_ROOT, 0, 0);
}

static void test_keep_id_keeps_the_callers_ids(void **state) {
        single_id(NOOK_IDENTITY_KEEP_ID, (unsigned)getuid(), (unsigned)getgid());
}

/* subuid: 0 is the caller, 1.. the range (newuidmap); without a range, an error before
 * any tool runs */
static void test_subuid_maps_the_range_or_says_what_is_missing(void **state) {
        child c;
        if (!child_start(&c))
                skip();
        uint32_t count = 99;
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        int r = nook_idmap_write(c.pid, NOOK_IDENTITY_SUBUID, getuid(), getgid(), &count, &err);
        char uid_map[256], seen[64];
        read_proc(c.pid, "uid_map", uid_map, sizeof(uid_map));
        child_finish(&c, seen, sizeof(seen));
        struct passwd *pw = getpwuid(getuid());
        const char *name = pw ? pw->pw_name : NULL;
        if (!has_range("/etc/subuid", name, getuid()) || !has_range("/etc/subgid", name, getgid())) {
                assert_int_equal(r, -ENOENT);
                nook_test_assert_error(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, ENOENT,
                                       "no /etc/subuid or /etc/subgid range for this user");
                assert_int_equal(count, 0);
                assert_string_equal(uid_map, ""); /* nothing written */
                return;
        }
        if (r < 0)
                fail_msg("nook_idmap_write: %s", nook_error_get_message(err));
        char want[64];
        snprintf(want, sizeof(want), "0 %u 1\n1 ", (unsigned)getuid());
        assert_memory_equal(uid_map, want, strlen(want));
        unsigned long first = 0, n = 0;
        assert_int_equal(sscanf(uid_map + strlen(want), "%lu %lu", &first, &n), 2);
        assert_int_equal(count, n);
        assert_true(n >= 1 && n <= 65535); /* capped: no overflow id in the middle */
        assert_string_equal(seen, "0 0\n");
}

/* A process whose namespace already has its maps: the first write is refused, and the
 * error names the step */
static void test_writing_maps_twice_is_refused_naming_the_step(void **state) {
        child c;
        if (!child_start(&c))
                skip();
        uint32_t count;
        nook_error *err = NULL;
        assert_int_equal(nook_idmap_write(c.pid, NOOK_IDENTITY_ROOT, getuid(), getgid(), &count, &err), 0);
        int r = nook_idmap_write(c.pid, NOOK_IDENTITY_ROOT, getuid(), getgid(), &count, &err);
        char seen[64];
        child_finish(&c, seen, sizeof(seen));
        assert_int_equal(r, -EPERM);
        nook_test_assert_error(err, NOOK_ERROR_ISOLATION_FAILURE, EPERM,
                               "denying setgroups in the new user namespace: Operation not permitted");
        nook_error_free(err);
}

static void test_gone_child_is_enoent(void **state) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(0);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        uint32_t count = 7;
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_idmap_write(pid, NOOK_IDENTITY_KEEP_ID, getuid(), getgid(), &count, &err), -ENOENT);
        nook_test_assert_error(err, NOOK_ERROR_ISOLATION_FAILURE, ENOENT,
                               "denying setgroups in the new user namespace: No such file or directory");
        assert_int_equal(count, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_explicit_identities_pass_through),
                cmocka_unit_test(test_auto_follows_the_subuid_files),
                cmocka_unit_test(test_subuid_without_ranges_is_host_configuration),
                cmocka_unit_test(test_root_maps_the_caller_to_0_and_denies_setgroups),
                cmocka_unit_test(test_keep_id_keeps_the_callers_ids),
                cmocka_unit_test(test_subuid_maps_the_range_or_says_what_is_missing),
                cmocka_unit_test(test_writing_maps_twice_is_refused_naming_the_step),
                cmocka_unit_test(test_gone_child_is_enoent),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
