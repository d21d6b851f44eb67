/* Unit tests of src/userns/seccomp.c and src/core/oci-seccomp.c, proved from outside:
 * compiled programs are applied in forked children (no_new_privs first, as nook does) and
 * the denied calls fail there with the promised errno while ordinary ones keep working;
 * a control child without the filter shows the kernel would have behaved otherwise; the
 * cache is checked on disk; every rejection of the OCI parser names its JSON pointer.
 * Holds as root and as an unprivileged user: parts a host cannot show are skipped with a
 * message (user namespaces disabled, no IA32 emulation). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include "config.h"
#include "core/oci-seccomp.h"
#include "fixtures.h"
#include "userns/seccomp.h"
#include "util/error.h"
#include "util/sha256.h"

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#define KEYCTL_GET_KEYRING_ID 0
#define KEY_SPEC_SESSION_KEYRING (-3)
#define X32_SYSCALL_BIT 0x40000000L

#define CV NOOK_ERROR_CONTRACT_VIOLATION
#define MISS NOOK_ERROR_MISSING_REQUIRED_FIELD

/* ======================================================================== fixture */

struct fixture {
        char root[512];
        char cache[600];
};

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        if (!nook_test_mkdtemp(f->root, sizeof(f->root), "test-seccomp"))
                return -1;
        snprintf(f->cache, sizeof(f->cache), "%s/cache", f->root);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        nook_test_rm_rf(f->root);
        free(f);
        return 0;
}

static double now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void compile_ok(const nook_seccomp_profile *p, bool nested, const char *cache, nook_seccomp_program *out) {
        nook_error *err = NULL;
        int r = nook_seccomp_compile(p, nested, cache, out, &err);
        if (r < 0)
                fail_msg("compile: %d %s", r, err ? nook_error_get_message(err) : "(no error)");
        assert_null(err);
        assert_non_null(out->insns);
        assert_true(out->n_insns > 0 && out->n_insns <= BPF_MAXINSNS);
        assert_true(nook_digest_valid(out->hash));
}

static char *jq(const char *s) {
        char *r = strdup(s);
        assert_non_null(r);
        for (char *p = r; *p; p++)
                if (*p == '\'')
                        *p = '"';
        return r;
}

/* Test JSON is written with ' for ". */
static void parse_ok(const char *text, nook_seccomp_profile *p) {
        _cleanup_free_ char *json = jq(text);
        nook_error *err = NULL;
        int r = nook_oci_seccomp_parse(json, strlen(json), p, &err);
        if (r < 0)
                fail_msg("parse: %s", nook_error_get_message(err));
        assert_null(err);
}

/* ===================================================================== children */

/* What a child saw: one (return value, errno) per named probe, in shared memory, so the
 * parent asserts with cmocka (a child must not: it would report twice). */
struct probe {
        const char *name; /* a literal: same address in parent and child */
        long ret;
        int err;
};
struct shared {
        size_t n;
        struct probe p[160];
        char dir[600];
};

static long record(struct shared *s, const char *name, long ret) {
        int e = errno;
        if (s->n < ELEMENTSOF(s->p))
                s->p[s->n++] = (struct probe){ name, ret, ret < 0 ? e : 0 };
        return ret;
}

static const struct probe *find(const struct shared *s, const char *name) {
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->p[i].name, name) == 0)
                        return &s->p[i];
        fail_msg("probe %s did not run", name);
        return NULL;
}

static void assert_errno(const struct shared *s, const char *name, int e) {
        const struct probe *p = find(s, name);
        if (p->ret != -1 || p->err != e)
                fail_msg("%s: expected -1/%s, got %ld/%s", name, strerrorname_np(e), p->ret,
                         p->err ? strerrorname_np(p->err) : "0");
}

static void assert_works(const struct shared *s, const char *name) {
        const struct probe *p = find(s, name);
        if (p->ret < 0)
                fail_msg("%s: expected success, got %ld/%s", name, p->ret, strerrorname_np(p->err));
}

static struct shared *shared_new(void) {
        struct shared *s = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        assert_true(s != MAP_FAILED);
        memset(s, 0, sizeof(*s));
        return s;
}

static void shared_free(struct shared *s) {
        munmap(s, sizeof(*s));
}

typedef int (*child_fn)(struct shared *s);

/* Runs fn in a forked child in its own session (no controlling tty of the test runner is
 * ever reachable), with no_new_privs and, when prog is given, the program applied.  The
 * child leaves through exit_group(2) itself: no atexit handler (or sanitizer leak check)
 * runs under the filter.  Returns the exit status, or 1000 + the signal that killed it. */
static int run_child(const nook_seccomp_program *prog, child_fn fn, struct shared *s) {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                /* cmocka traps these to report a crash; the child must die of them instead. */
                static const int sigs[] = { SIGSYS, SIGSEGV, SIGILL, SIGFPE, SIGBUS, SIGABRT };
                for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
                        signal(sigs[i], SIG_DFL);
                (void)setsid();
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                        syscall(SYS_exit_group, 90);
                if (prog) {
                        int r = nook_seccomp_apply(prog->insns, prog->n_insns);
                        if (r < 0)
                                syscall(SYS_exit_group, 91);
                }
                syscall(SYS_exit_group, fn(s));
        }
        int status;
        while (waitpid(pid, &status, 0) < 0)
                assert_int_equal(errno, EINTR);
        return WIFSIGNALED(status) ? 1000 + WTERMSIG(status) : WEXITSTATUS(status);
}

static void run_child_ok(const nook_seccomp_program *prog, child_fn fn, struct shared *s) {
        int st = run_child(prog, fn, s);
        if (st != 0)
                fail_msg("child exited with %d (91: apply failed, 1000+n: signal n)", st);
}

/* ===================================================================== compiling */

static void test_default_compiles_and_second_compile_is_a_cache_hit(void **state) {
        struct fixture *fx = *state;
        nook_seccomp_program a = { 0 }, b = { 0 };
        compile_ok(NULL, false, fx->cache, &a);

        struct stat dir;
        assert_int_equal(stat(fx->cache, &dir), 0);
        assert_int_equal(dir.st_mode & 07777, 0700);
        char path[800];
        snprintf(path, sizeof(path), "%s/%s.bpf", fx->cache, a.hash + 7);
        struct stat s1, s2;
        assert_int_equal(lstat(path, &s1), 0);
        assert_true(S_ISREG(s1.st_mode));
        assert_int_equal(s1.st_mode & 07777, 0600);
        assert_int_equal((size_t)s1.st_size, a.n_insns * sizeof(struct sock_filter));
        assert_int_equal(nook_test_count_entries(fx->cache), 1); /* no temp file left */

        compile_ok(NULL, false, fx->cache, &b);
        assert_int_equal(lstat(path, &s2), 0);
        assert_int_equal(s1.st_ino, s2.st_ino);
        assert_true(s1.st_mtim.tv_sec == s2.st_mtim.tv_sec && s1.st_mtim.tv_nsec == s2.st_mtim.tv_nsec);
        assert_string_equal(a.hash, b.hash);
        assert_int_equal(a.n_insns, b.n_insns);
        assert_memory_equal(a.insns, b.insns, a.n_insns * sizeof(struct sock_filter));

        /* Without a cache the compiler yields the very same program. */
        nook_seccomp_program c = { 0 };
        compile_ok(NULL, false, NULL, &c);
        assert_int_equal(a.n_insns, c.n_insns);
        assert_memory_equal(a.insns, c.insns, a.n_insns * sizeof(struct sock_filter));
        nook_seccomp_program_clear(&a);
        nook_seccomp_program_clear(&b);
        nook_seccomp_program_clear(&c);
        assert_null(a.insns);
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

static void test_compile_and_cache_hit_cost(void **state) {
        struct fixture *fx = *state;
        enum { N = 31 };
        double miss[N], hit[N];
        size_t n_insns = 0;
        for (int i = 0; i < N; i++) {
                nook_seccomp_program p = { 0 };
                double t0 = now_us();
                compile_ok(NULL, false, NULL, &p);
                miss[i] = now_us() - t0;
                n_insns = p.n_insns;
                nook_seccomp_program_clear(&p);
        }
        nook_seccomp_program warm = { 0 };
        compile_ok(NULL, false, fx->cache, &warm);
        nook_seccomp_program_clear(&warm);
        for (int i = 0; i < N; i++) {
                nook_seccomp_program p = { 0 };
                double t0 = now_us();
                compile_ok(NULL, false, fx->cache, &p);
                hit[i] = now_us() - t0;
                nook_seccomp_program_clear(&p);
        }
        qsort(miss, N, sizeof(double), cmp_double);
        qsort(hit, N, sizeof(double), cmp_double);
        print_message("default profile: %zu BPF instructions; compile (no cache) median %.0f us, "
                      "min %.0f us; cache hit median %.0f us, min %.0f us\n",
                      n_insns, miss[N / 2], miss[0], hit[N / 2], hit[0]);
        assert_true(hit[N / 2] < miss[N / 2]);
}

static void write_file(const char *path, const void *data, size_t size, mode_t mode) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, size), (ssize_t)size);
        close(fd);
}

/* Each kind of damage is ignored and the file replaced by the real program. */
static void test_corrupt_cache_files_are_replaced(void **state) {
        struct fixture *fx = *state;
        nook_seccomp_program good = { 0 };
        compile_ok(NULL, false, fx->cache, &good);
        size_t size = good.n_insns * sizeof(struct sock_filter);
        char path[800], target[800];
        snprintf(path, sizeof(path), "%s/%s.bpf", fx->cache, good.hash + 7);
        snprintf(target, sizeof(target), "%s/elsewhere", fx->root);
        _cleanup_free_ char *big = calloc(BPF_MAXINSNS + 1, sizeof(struct sock_filter));
        assert_non_null(big);
        memcpy(big, good.insns, size);
        static const struct sock_filter not_ret = BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0);

        enum { TRUNCATED, EMPTY, OVERSIZED, NO_RETURN, SYMLINK, FIFO, N_DAMAGE };
        for (int d = 0; d < N_DAMAGE; d++) {
                unlink(path);
                if (d == TRUNCATED)
                        write_file(path, good.insns, size - 3, 0600);
                else if (d == EMPTY)
                        write_file(path, "", 0, 0600);
                else if (d == OVERSIZED)
                        write_file(path, big, (BPF_MAXINSNS + 1) * sizeof(struct sock_filter), 0600);
                else if (d == NO_RETURN) {
                        write_file(path, good.insns, size, 0600);
                        int fd = open(path, O_WRONLY | O_CLOEXEC);
                        assert_int_equal(pwrite(fd, &not_ret, sizeof(not_ret), (off_t)(size - sizeof(not_ret))),
                                         (ssize_t)sizeof(not_ret));
                        close(fd);
                } else if (d == SYMLINK) {
                        write_file(target, good.insns, size, 0600);
                        assert_int_equal(symlink(target, path), 0);
                } else
                        assert_int_equal(mkfifo(path, 0600), 0);

                nook_seccomp_program p = { 0 };
                compile_ok(NULL, false, fx->cache, &p); /* a FIFO must not block it */
                assert_int_equal(p.n_insns, good.n_insns);
                assert_memory_equal(p.insns, good.insns, size);
                struct stat st;
                assert_int_equal(lstat(path, &st), 0);
                if (!S_ISREG(st.st_mode) || (size_t)st.st_size != size)
                        fail_msg("damage %d: cache file not replaced", d);
                _cleanup_free_ char *onfile = malloc(size);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                assert_int_equal(read(fd, onfile, size), (ssize_t)size);
                close(fd);
                assert_memory_equal(onfile, good.insns, size);
                assert_int_equal(nook_test_count_entries(fx->cache), 1);
                nook_seccomp_program_clear(&p);
        }
        /* The symlink was replaced, its target never written through. */
        struct stat t;
        assert_int_equal(stat(target, &t), 0);
        assert_int_equal((size_t)t.st_size, size);
        nook_seccomp_program_clear(&good);
}

/* Concurrent compiles of one profile into one empty cache, released together: all get
 * the same program and one file remains (unique temp names, atomic rename(2)). */
static void test_concurrent_compiles_share_one_cache_file(void **state) {
        struct fixture *fx = *state;
        nook_seccomp_program want = { 0 };
        compile_ok(NULL, false, NULL, &want);
        enum { N = 8 };
        int gate[2];
        assert_int_equal(pipe2(gate, O_CLOEXEC), 0);
        pid_t pids[N];
        for (int i = 0; i < N; i++) {
                fflush(NULL);
                pids[i] = fork();
                assert_true(pids[i] >= 0);
                if (pids[i] == 0) {
                        char c;
                        close(gate[1]);
                        (void)read(gate[0], &c, 1); /* EOF when the parent opens the gate */
                        nook_seccomp_program p = { 0 };
                        nook_error *err = NULL;
                        bool ok = nook_seccomp_compile(NULL, false, fx->cache, &p, &err) == 0 &&
                                  p.n_insns == want.n_insns &&
                                  memcmp(p.insns, want.insns, want.n_insns * sizeof(struct sock_filter)) == 0;
                        syscall(SYS_exit_group, ok ? 0 : 1);
                }
        }
        close(gate[0]);
        close(gate[1]);
        for (int i = 0; i < N; i++) {
                int st;
                assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
                assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        assert_int_equal(nook_test_count_entries(fx->cache), 1);
        nook_seccomp_program hit = { 0 };
        compile_ok(NULL, false, fx->cache, &hit);
        assert_memory_equal(hit.insns, want.insns, want.n_insns * sizeof(struct sock_filter));
        nook_seccomp_program_clear(&hit);
        nook_seccomp_program_clear(&want);
}

static void assert_compile_fails(const char *cache, int want_r, const char *want_in_message) {
        nook_seccomp_program p = { 0 };
        nook_error *err = NULL;
        assert_int_equal(nook_seccomp_compile(NULL, false, cache, &p, &err), want_r);
        assert_non_null(err);
        assert_null(p.insns);
        if (!strstr(nook_error_get_message(err), want_in_message))
                fail_msg("message '%s' lacks '%s'", nook_error_get_message(err), want_in_message);
        assert_null(strstr(nook_error_get_message(err), cache)); /* host paths go to the hint */
        assert_non_null(nook_error_get_hint(err));
        nook_error_free(err);
}

static void test_cache_dir_is_made_0700_and_must_be_ours_and_real(void **state) {
        struct fixture *fx = *state;
        char deep[800], link[800], shared_dir[800];
        /* Only the last component is created. */
        snprintf(deep, sizeof(deep), "%s/missing/cache", fx->root);
        assert_compile_fails(deep, -ENOENT, "create the cache directory");
        assert_int_equal(access(deep, F_OK), -1);
        /* A symlink to a directory is refused (S25). */
        assert_int_equal(mkdir(fx->cache, 0700), 0);
        snprintf(link, sizeof(link), "%s/link", fx->root);
        assert_int_equal(symlink(fx->cache, link), 0);
        assert_compile_fails(link, -ENOTDIR, "a symlink is refused"); /* O_DIRECTORY|O_NOFOLLOW */
        assert_int_equal(nook_test_count_entries(fx->cache), 0);
        /* A directory others may write is refused. */
        snprintf(shared_dir, sizeof(shared_dir), "%s/shared", fx->root);
        assert_int_equal(mkdir(shared_dir, 0700), 0);
        assert_int_equal(chmod(shared_dir, 0777), 0);
        assert_compile_fails(shared_dir, -EPERM, "writable by others");
        assert_int_equal(nook_test_count_entries(shared_dir), 0);
}

static void test_cache_write_failure_is_not_fatal_and_leaves_no_temp_file(void **state) {
        struct fixture *fx = *state;
        if (!NOOK_FAULT_INJECTION)
                skip();
        setenv("NOOK_FAULT", "seccomp.before_cache_rename:errno=ENOSPC", 1);
        nook_seccomp_program p = { 0 };
        compile_ok(NULL, false, fx->cache, &p);
        unsetenv("NOOK_FAULT");
        assert_int_equal(nook_test_count_entries(fx->cache), 0);
        nook_seccomp_program_clear(&p);
        compile_ok(NULL, false, fx->cache, &p);
        assert_int_equal(nook_test_count_entries(fx->cache), 1);
        nook_seccomp_program_clear(&p);
}

static const char *const SMALL_PROFILE = "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':["
                                         "{'names':['mkdir','mkdirat','no_such_syscall_nook'],"
                                         "'action':'SCMP_ACT_ERRNO','errnoRet':13},"
                                         "{'names':['fchmod'],'action':'SCMP_ACT_ERRNO','args':"
                                         "[{'index':1,'value':2048,'valueTwo':2048,'op':'SCMP_CMP_MASKED_EQ'}]}]}";

static void test_hash_covers_profile_nesting_and_default(void **state) {
        nook_seccomp_program d0 = { 0 }, d1 = { 0 }, p0 = { 0 }, p0b = { 0 }, q0 = { 0 };
        compile_ok(NULL, false, NULL, &d0);
        compile_ok(NULL, true, NULL, &d1);
        assert_string_not_equal(d0.hash, d1.hash);
        assert_true(d1.n_insns < d0.n_insns); /* no userns rules */

        nook_seccomp_profile p = { 0 }, q = { 0 };
        parse_ok(SMALL_PROFILE, &p);
        compile_ok(&p, false, NULL, &p0);
        compile_ok(&p, false, NULL, &p0b);
        assert_string_equal(p0.hash, p0b.hash);
        assert_string_not_equal(p0.hash, d0.hash);
        /* errnoRet 13 → 1 changes the program and the hash. */
        p.rules[0].errno_ret = 1;
        compile_ok(&p, false, NULL, &q0);
        assert_string_not_equal(p0.hash, q0.hash);
        /* errnoRet absent means EPERM: the same program as an explicit 1. */
        parse_ok("{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['mkdir','mkdirat','no_such_syscall_nook'],"
                 "'action':'SCMP_ACT_ERRNO'},{'names':['fchmod'],'action':'SCMP_ACT_ERRNO','args':"
                 "[{'index':1,'value':2048,'valueTwo':2048,'op':'SCMP_CMP_MASKED_EQ'}]}]}",
                 &q);
        nook_seccomp_program q1 = { 0 };
        compile_ok(&q, false, NULL, &q1);
        assert_string_equal(q0.hash, q1.hash);
        nook_seccomp_profile_clear(&p);
        nook_seccomp_profile_clear(&q);
        assert_null(p.rules);
        nook_seccomp_program *all[] = { &d0, &d1, &p0, &p0b, &q0, &q1 };
        for (size_t i = 0; i < ELEMENTSOF(all); i++)
                nook_seccomp_program_clear(all[i]);
        (void)state;
}

static void test_compile_leaks_no_fd(void **state) {
        struct fixture *fx = *state;
        size_t before = nook_test_count_fds();
        for (int i = 0; i < 3; i++) { /* miss, hit, hit */
                nook_seccomp_program p = { 0 };
                compile_ok(NULL, false, fx->cache, &p);
                nook_seccomp_program_clear(&p);
        }
        char bad[800];
        snprintf(bad, sizeof(bad), "%s/no/such", fx->root);
        nook_seccomp_program p = { 0 };
        nook_error *err = NULL;
        assert_true(nook_seccomp_compile(NULL, false, bad, &p, &err) < 0);
        nook_error_free(err);
        assert_int_equal(nook_test_count_fds(), before);
}

static void test_compile_checks_profiles_built_by_code(void **state) {
        nook_seccomp_arg arg = { .index = 6, .op = NOOK_SECCOMP_OP_EQ };
        char *names[] = { (char *)"getpid", NULL };
        nook_seccomp_rule rule = { .names = names, .action = NOOK_SECCOMP_ACT_ERRNO, .args = &arg, .n_args = 1 };
        nook_seccomp_profile p = { .default_action = NOOK_SECCOMP_ACT_ALLOW, .rules = &rule, .n_rules = 1 };
        nook_seccomp_program out = { 0 };
        nook_error *err = NULL;
        assert_int_equal(nook_seccomp_compile(&p, false, NULL, &out, &err), -EINVAL);
        assert_string_equal(nook_error_get_pointer(err), "/syscalls/0/args/0/index");
        err = nook_error_free(err);
        arg = (nook_seccomp_arg){ .index = 0, .op = 99 };
        assert_int_equal(nook_seccomp_compile(&p, false, NULL, &out, &err), -EINVAL);
        assert_string_equal(nook_error_get_pointer(err), "/syscalls/0/args/0/op");
        err = nook_error_free(err);
        p.default_action = 42;
        assert_int_equal(nook_seccomp_compile(&p, false, NULL, &out, &err), -EINVAL);
        assert_string_equal(nook_error_get_pointer(err), "/defaultAction");
        err = nook_error_free(err);
        assert_null(out.insns);
        (void)state;
}

/* ============================================================ the default profile */

static int child_kernel_facilities(struct shared *s) {
        record(s, "keyctl", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
        /* The thread keyring dies with the child; request_key with no type never upcalls. */
        record(s, "add_key", syscall(SYS_add_key, "user", "nook", "x", 1, -1 /* KEY_SPEC_THREAD_KEYRING */));
        record(s, "request_key", syscall(SYS_request_key, NULL, NULL, NULL, 0));
        record(s, "bpf", syscall(SYS_bpf, 0, NULL, 0));
        record(s, "perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
        record(s, "userfaultfd", syscall(SYS_userfaultfd, O_CLOEXEC));
        record(s, "io_uring_setup", syscall(SYS_io_uring_setup, 1, NULL));
        record(s, "mount", syscall(SYS_mount, "none", "/nonexistent-nook", "tmpfs", 0, NULL));
        record(s, "umount2", syscall(SYS_umount2, "/nonexistent-nook", 0));
        record(s, "pivot_root", syscall(SYS_pivot_root, "/nonexistent-nook", "/nonexistent-nook"));
        record(s, "fsopen", syscall(SYS_fsopen, "tmpfs", 0));
        record(s, "fsmount", syscall(SYS_fsmount, -1, 0, 0));
        record(s, "fspick", syscall(SYS_fspick, -1, "", 0));
        record(s, "fsconfig", syscall(SYS_fsconfig, -1, 0, NULL, NULL, 0));
        record(s, "open_tree", syscall(SYS_open_tree, AT_FDCWD, "/", 1 /* OPEN_TREE_CLONE */));
        record(s, "move_mount", syscall(SYS_move_mount, -1, "", -1, "", 0));
#ifdef SYS_mount_setattr
        record(s, "mount_setattr", syscall(SYS_mount_setattr, -1, "", 0, NULL, 0));
#endif
        /* Arguments the kernel rejects before acting, should the filter be missing. */
        record(s, "kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0x100));
        record(s, "init_module", syscall(SYS_init_module, NULL, 0, ""));
        record(s, "finit_module", syscall(SYS_finit_module, -1, "", 0));
        record(s, "delete_module", syscall(SYS_delete_module, "nook_no_such_module", O_NONBLOCK));
        record(s, "swapon", syscall(SYS_swapon, "/nonexistent-nook", 0));
        record(s, "swapoff", syscall(SYS_swapoff, "/nonexistent-nook"));
        record(s, "reboot", syscall(SYS_reboot, 0, 0, 0, NULL));
        record(s, "acct", syscall(SYS_acct, "/nonexistent-nook/acct"));
        record(s, "settimeofday", syscall(SYS_settimeofday, NULL, NULL));
        record(s, "clock_settime", syscall(SYS_clock_settime, CLOCK_REALTIME, NULL));
        record(s, "clock_adjtime", syscall(SYS_clock_adjtime, CLOCK_REALTIME, NULL));
        record(s, "adjtimex", syscall(SYS_adjtimex, NULL));
        record(s, "syslog", syscall(SYS_syslog, 10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0));
        record(s, "quotactl", syscall(SYS_quotactl, 0, NULL, 0, NULL));
        record(s, "vhangup", syscall(SYS_vhangup)); /* own session: no controlling tty */
#if defined(__x86_64__) || defined(__i386__)
        record(s, "iopl", syscall(SYS_iopl, 0));
        record(s, "ioperm", syscall(SYS_ioperm, 0, 0, 0));
#endif
        record(s, "clone3", syscall(SYS_clone3, NULL, 0));
        return 0;
}

static void test_default_denies_unnamespaced_kernel_facilities(void **state) {
        nook_seccomp_program prog = { 0 };
        compile_ok(NULL, false, NULL, &prog);
        struct shared *s = shared_new();
        run_child_ok(&prog, child_kernel_facilities, s);
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->p[i].name, "clone3") != 0)
                        assert_errno(s, s->p[i].name, EPERM);
        assert_errno(s, "clone3", ENOSYS);
        assert_true(s->n >= 33);

        /* Control: without the filter clone3(NULL, 0) is EINVAL, not ENOSYS, and keyctl
         * on one's own session keyring works — the filter is what said no. */
        struct shared *c = shared_new();
        run_child_ok(NULL, child_kernel_facilities, c);
        assert_errno(c, "clone3", EINVAL);
        const struct probe *k = find(c, "keyctl");
        if (k->ret < 0)
                print_message("note: keyctl fails here even without a filter (%s)\n", strerrorname_np(k->err));
        shared_free(s);
        shared_free(c);
        nook_seccomp_program_clear(&prog);
        (void)state;
}

static int child_userns(struct shared *s) {
        record(s, "unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER));
        return 0;
}

/* Each attempt from a process still in the original user namespace: once in a new one
 * with no id mapping, a further one is EPERM from the kernel (user_namespaces(7)). */
static int child_userns_all(struct shared *s) {
        long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
        if (pid == 0)
                syscall(SYS_exit_group, 0);
        record(s, "clone(CLONE_NEWUSER)", pid);
        if (pid > 0)
                waitpid((pid_t)pid, NULL, 0);
        pid = fork();
        if (pid == 0)
                syscall(SYS_exit_group,
                        record(s, "unshare(CLONE_NEWUSER|CLONE_NEWNS)", unshare(CLONE_NEWUSER | CLONE_NEWNS)) < 0);
        if (pid > 0)
                waitpid((pid_t)pid, NULL, 0);
        record(s, "unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER));
        return 0;
}

static void test_default_denies_new_user_namespaces_unless_allowed(void **state) {
        nook_seccomp_program deny = { 0 }, allow = { 0 };
        compile_ok(NULL, false, NULL, &deny);
        compile_ok(NULL, true, NULL, &allow);
        struct shared *s = shared_new();
        run_child_ok(&deny, child_userns_all, s);
        assert_errno(s, "unshare(CLONE_NEWUSER|CLONE_NEWNS)", EPERM);
        assert_errno(s, "clone(CLONE_NEWUSER)", EPERM);
        assert_errno(s, "unshare(CLONE_NEWUSER)", EPERM);
        shared_free(s);

        struct shared *c = shared_new();
        run_child_ok(NULL, child_userns, c);
        const struct probe *ctl = find(c, "unshare(CLONE_NEWUSER)");
        if (ctl->ret < 0) {
                print_message("skip: unshare(CLONE_NEWUSER) fails here without any filter (%s): the allowed "
                              "half is not shown\n",
                              strerrorname_np(ctl->err));
        } else {
                struct shared *a = shared_new();
                run_child_ok(&allow, child_userns_all, a);
                assert_works(a, "unshare(CLONE_NEWUSER|CLONE_NEWNS)");
                assert_works(a, "clone(CLONE_NEWUSER)");
                assert_works(a, "unshare(CLONE_NEWUSER)");
                shared_free(a);
        }
        shared_free(c);
        nook_seccomp_program_clear(&deny);
        nook_seccomp_program_clear(&allow);
        (void)state;
}

/* A pty of our own made the controlling tty of the child's new session: TIOCSTI on one's
 * controlling tty needs no privilege (unless dev.tty.legacy_tiocsti=0), which is exactly
 * the injection S8 is about. */
static int child_tty(struct shared *s) {
        int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0)
                return 10;
        int t = open(ptsname(m), O_RDWR | O_CLOEXEC);
        if (t < 0)
                return 11;
        signal(SIGHUP, SIG_IGN); /* closing the master hangs up our own controlling tty */
        (void)ioctl(t, TIOCSCTTY, 0);
        char c = 'x', sub = 7 /* TIOCL_GETMOUSEREPORTING */;
        struct winsize ws;
        record(s, "TIOCSTI", ioctl(t, TIOCSTI, &c));
        record(s, "TIOCSTI|1<<32", syscall(SYS_ioctl, t, (unsigned long)TIOCSTI | 0x100000000UL, &c));
        record(s, "TIOCSTI|0xffffffff00000000",
               syscall(SYS_ioctl, t, (unsigned long)TIOCSTI | 0xffffffff00000000UL, &c));
        record(s, "TIOCSTI on master", ioctl(m, TIOCSTI, &c));
        record(s, "TIOCLINUX", ioctl(t, TIOCLINUX, &sub));
        record(s, "TIOCGWINSZ", ioctl(t, TIOCGWINSZ, &ws));
        close(t);
        close(m);
        return 0;
}

static void test_default_denies_tty_injection_and_its_high_bit_alias(void **state) {
        nook_seccomp_program prog = { 0 };
        compile_ok(NULL, false, NULL, &prog);
        struct shared *s = shared_new();
        run_child_ok(&prog, child_tty, s);
        assert_errno(s, "TIOCSTI", EPERM);
        assert_errno(s, "TIOCSTI|1<<32", EPERM);
        assert_errno(s, "TIOCSTI|0xffffffff00000000", EPERM);
        assert_errno(s, "TIOCSTI on master", EPERM);
        assert_errno(s, "TIOCLINUX", EPERM);
        assert_works(s, "TIOCGWINSZ");

        /* Control: without the filter TIOCLINUX on a pty is not EPERM (ENOTTY/EINVAL), and
         * TIOCSTI on the controlling tty goes through — high bits included. */
        struct shared *c = shared_new();
        run_child_ok(NULL, child_tty, c);
        assert_true(find(c, "TIOCLINUX")->err != EPERM);
        const struct probe *sti = find(c, "TIOCSTI"), *hi = find(c, "TIOCSTI|1<<32");
        if (sti->ret < 0)
                print_message("note: TIOCSTI fails here even without a filter (%s; dev.tty.legacy_tiocsti=0?)\n",
                              strerrorname_np(sti->err));
        else
                assert_true(hi->ret == 0); /* the kernel ignores the high bits: the alias is real */
        shared_free(s);
        shared_free(c);
        nook_seccomp_program_clear(&prog);
        (void)state;
}

static const unsigned long allowed_personas[] = {
        0, PER_LINUX32, UNAME26, PER_LINUX32 | UNAME26, 0xffffffffUL, 0x100000000UL, 0xffffffff00000008UL
};

static bool persona_allowed(unsigned long v) {
        uint32_t low = (uint32_t)v;
        return low == 0 || low == PER_LINUX32 || low == UNAME26 || low == (PER_LINUX32 | UNAME26) || low == 0xffffffffu;
}

static const char *persona_names[] = {
        "p 0",   "p 1",   "p 2",   "p 3",   "p 4",   "p 5",   "p 6",   "p 7",   "p 8",   "p 9",   "p 10",  "p 11",
        "p 12",  "p 13",  "p 14",  "p 15",  "p 16",  "p 17",  "p 18",  "p 19",  "p 20",  "p 21",  "p 22",  "p 23",
        "p 24",  "p 25",  "p 26",  "p 27",  "p 28",  "p 29",  "p 30",  "p 31",  "p ~0",  "p ~1",  "p ~2",  "p ~3",
        "p ~4",  "p ~5",  "p ~6",  "p ~7",  "p ~8",  "p ~9",  "p ~10", "p ~11", "p ~12", "p ~13", "p ~14", "p ~15",
        "p ~16", "p ~17", "p ~18", "p ~19", "p ~20", "p ~21", "p ~22", "p ~23", "p ~24", "p ~25", "p ~26", "p ~27",
        "p ~28", "p ~29", "p ~30", "p ~31", "a 0",   "a 1",   "a 2",   "a 3",   "a 4",   "a 5",   "a 6",   "x 0",
        "x 1",   "x 2",   "x 3",   "x 4",   "x 5",   "x 6",   "x 7",   "final",
};
/* Probe i: bit i alone (0..31), all 32 bits but bit i-32 (32..63), the allowed list
 * (64..70), and a few named ones (71..78). */
static unsigned long persona_value(size_t i) {
        static const unsigned long extra[] = {
                PER_LINUX | READ_IMPLIES_EXEC,
                ADDR_NO_RANDOMIZE,
                MMAP_PAGE_ZERO,
                PER_BSD,
                0x20009,
                0x7fffffffUL,
                0x80000000UL,
                0x100400000UL,
        };
        if (i < 32)
                return 1UL << i;
        if (i < 64)
                return 0xffffffffUL & ~(1UL << (i - 32));
        if (i < 71)
                return allowed_personas[i - 64];
        return extra[i - 71];
}

static int child_personality(struct shared *s) {
        for (size_t i = 0; i < 79; i++) {
                record(s, persona_names[i], syscall(SYS_personality, persona_value(i)));
                syscall(SYS_personality, PER_LINUX);
        }
        record(s, "final", syscall(SYS_personality, 0xffffffffUL));
        return 0;
}

static void test_default_personality_allows_only_harmless_values(void **state) {
        nook_seccomp_program prog = { 0 };
        compile_ok(NULL, false, NULL, &prog);
        struct shared *s = shared_new();
        run_child_ok(&prog, child_personality, s);
        for (size_t i = 0; i < 79; i++) {
                unsigned long v = persona_value(i);
                const struct probe *p = find(s, persona_names[i]);
                bool denied = p->ret == -1 && p->err == EPERM;
                if (denied == persona_allowed(v))
                        fail_msg("personality(%#lx): %s, got %ld/%s", v, persona_allowed(v) ? "allowed" : "EPERM",
                                 p->ret, p->err ? strerrorname_np(p->err) : "0");
        }
        assert_int_equal(find(s, "final")->ret, PER_LINUX);
        /* Control: READ_IMPLIES_EXEC is accepted by the kernel itself. */
        struct shared *c = shared_new();
        run_child_ok(NULL, child_personality, c);
        assert_works(c, "x 0");
        shared_free(s);
        shared_free(c);
        nook_seccomp_program_clear(&prog);
        (void)state;
}

static void *thread_main(void *arg) {
        return arg;
}

static int child_ordinary(struct shared *s) {
        char path[700];
        snprintf(path, sizeof(path), "%s/ordinary", s->dir);
        record(s, "getpid", syscall(SYS_getpid));
        int fd = (int)record(s, "open", open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        record(s, "write", write(fd, "hello", 5));
        char buf[8] = { 0 };
        record(s, "pread", pread(fd, buf, 5, 0));
        record(s, "content", memcmp(buf, "hello", 5) == 0 ? 0 : -1);
        record(s, "close", close(fd));
        pid_t pid = fork();
        if (pid == 0)
                syscall(SYS_exit_group, 7);
        int st = 0;
        record(s, "fork", pid);
        record(s, "wait", waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 7 ? 0 : -1);
        pthread_t t;
        int r = pthread_create(&t, NULL, thread_main, NULL); /* clone3 → ENOSYS → clone */
        record(s, "pthread_create", r == 0 ? 0 : (errno = r, -1));
        if (r == 0)
                pthread_join(t, NULL);
        record(s, "unshare(CLONE_NEWUTS) passes the filter", unshare(CLONE_NEWUTS) == 0 || errno != EPERM ? 0 : -1);
        record(s, "personality query", syscall(SYS_personality, 0xffffffffUL));
        pid = fork();
        if (pid == 0) {
                execl("/bin/true", "true", (char *)NULL);
                syscall(SYS_exit_group, 127);
        }
        record(s, "execve", waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1);
        return 0;
}

static void test_default_keeps_ordinary_syscalls(void **state) {
        struct fixture *fx = *state;
        nook_seccomp_program prog = { 0 };
        compile_ok(NULL, false, NULL, &prog);
        struct shared *s = shared_new();
        snprintf(s->dir, sizeof(s->dir), "%s", fx->root);
        run_child_ok(&prog, child_ordinary, s);
        static const char *const names[] = { "getpid", "open", "write", "pread",          "content",
                                             "close",  "fork", "wait",  "pthread_create", "personality query",
                                             "execve" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                assert_works(s, names[i]);
        /* The unprivileged case: unshare(CLONE_NEWUTS) may be EPERM from the kernel (no
         * CAP_SYS_ADMIN); only as root does it show the filter lets it through. */
        if (geteuid() == 0)
                assert_works(s, "unshare(CLONE_NEWUTS) passes the filter");
        shared_free(s);
        nook_seccomp_program_clear(&prog);
}

#if defined(__x86_64__)
/* The i386 entry from a 64-bit process: arguments in ebx, ecx, edx; the kernel zeroes
 * r8-r11 on return.  seccomp sees AUDIT_ARCH_I386 and the i386 numbers. */
static long int80(long nr, long a, long b, long c) {
        long ret;
        __asm__ volatile("int $0x80"
                         : "=a"(ret)
                         : "a"(nr), "b"(a), "c"(b), "d"(c)
                         : "memory", "r8", "r9", "r10", "r11");
        return ret;
}

static int child_int80_getpid(struct shared *s) {
        long r = int80(20 /* getpid */, 0, 0, 0);
        s->p[0] = (struct probe){ "int80 getpid", r, 0 };
        s->n = 1;
        return 0;
}

static long neg(struct shared *s, const char *name, long r) {
        if (s->n < ELEMENTSOF(s->p))
                s->p[s->n++] = (struct probe){ name, r < 0 ? -1 : r, r < 0 ? (int)-r : 0 };
        return r;
}

static int child_int80(struct shared *s) {
        neg(s, "i386 getpid", int80(20, 0, 0, 0));
        neg(s, "i386 keyctl", int80(288, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
        neg(s, "i386 unshare(CLONE_NEWUSER)", int80(310, CLONE_NEWUSER, 0, 0));
        neg(s, "i386 personality(READ_IMPLIES_EXEC)", int80(136, READ_IMPLIES_EXEC, 0, 0));
        neg(s, "i386 personality query", int80(136, 0xffffffffL, 0, 0));
        neg(s, "i386 ioctl(TIOCSTI)", int80(54, 0, TIOCSTI, 0));
        neg(s, "i386 clone3", int80(435, 0, 0, 0));
        neg(s, "i386 mount", int80(21, 0, 0, 0));
        return 0;
}

static int child_x32(struct shared *s) {
        record(s, "x32 keyctl", syscall(X32_SYSCALL_BIT | 250, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
        record(s, "x32 unshare(CLONE_NEWUSER)", syscall(X32_SYSCALL_BIT | 272, CLONE_NEWUSER));
        record(s, "x32 mount", syscall(X32_SYSCALL_BIT | 165, NULL, NULL, NULL, 0, NULL));
        return 0;
}
#endif

static void test_default_covers_the_i386_entry(void **state) {
#if defined(__x86_64__)
        struct shared *probe = shared_new();
        int st = run_child(NULL, child_int80_getpid, probe);
        bool ia32 = st == 0 && probe->n == 1 && probe->p[0].ret > 0;
        shared_free(probe);
        if (!ia32) {
                print_message("skip: no IA32 emulation in this kernel (int $0x80 getpid: status %d)\n", st);
                skip();
        }
        nook_seccomp_program prog = { 0 };
        compile_ok(NULL, false, NULL, &prog);
        struct shared *s = shared_new();
        run_child_ok(&prog, child_int80, s);
        assert_works(s, "i386 getpid");
        assert_works(s, "i386 personality query");
        assert_errno(s, "i386 keyctl", EPERM);
        assert_errno(s, "i386 unshare(CLONE_NEWUSER)", EPERM);
        assert_errno(s, "i386 personality(READ_IMPLIES_EXEC)", EPERM);
        assert_errno(s, "i386 ioctl(TIOCSTI)", EPERM);
        assert_errno(s, "i386 clone3", ENOSYS);
        assert_errno(s, "i386 mount", EPERM);
        shared_free(s);
        nook_seccomp_program_clear(&prog);
#else
        print_message("skip: not x86_64\n");
        skip();
#endif
        (void)state;
}

/* x32 numbers reach the filter before the kernel decides whether it has the x32 ABI. */
static void test_default_covers_the_x32_entry(void **state) {
#if defined(__x86_64__)
        nook_seccomp_program prog = { 0 };
        compile_ok(NULL, false, NULL, &prog);
        struct shared *s = shared_new();
        run_child_ok(&prog, child_x32, s);
        assert_errno(s, "x32 keyctl", EPERM);
        assert_errno(s, "x32 unshare(CLONE_NEWUSER)", EPERM);
        assert_errno(s, "x32 mount", EPERM);
        shared_free(s);
        nook_seccomp_program_clear(&prog);
#else
        print_message("skip: not x86_64\n");
        skip();
#endif
        (void)state;
}

/* ================================================================== child half */

static int child_apply_garbage(struct shared *s) {
        static const struct sock_filter no_return[] = { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0) };
        record(s, "garbage", nook_seccomp_apply(no_return, 1) == -EINVAL ? 0 : -1);
        return 0;
}

static int child_apply_without_nnp(struct shared *s) {
        static const struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
        int r = nook_seccomp_apply(allow, 1);
        errno = -r;
        record(s, "without no_new_privs", r < 0 ? -1 : 0);
        return 0;
}

static void test_apply_rejects_bad_programs_and_needs_no_new_privs(void **state) {
        static const struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
        assert_int_equal(nook_seccomp_apply(NULL, 1), -EINVAL);
        assert_int_equal(nook_seccomp_apply(allow, 0), -EINVAL);
        assert_int_equal(nook_seccomp_apply(allow, BPF_MAXINSNS + 1), -EINVAL);
        struct shared *s = shared_new();
        run_child_ok(NULL, child_apply_garbage, s);
        assert_works(s, "garbage");
        shared_free(s);

        /* run_child sets no_new_privs; this child must not. */
        s = shared_new();
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                syscall(SYS_exit_group, child_apply_without_nnp(s));
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        const struct probe *p = find(s, "without no_new_privs");
        if (geteuid() != 0)
                assert_errno(s, "without no_new_privs", EACCES);
        else
                print_message("note: root holds CAP_SYS_ADMIN: seccomp(2) without no_new_privs gave %ld\n", p->ret);
        shared_free(s);
        (void)state;
}

/* ================================================================ OCI profiles */

static int child_small_profile(struct shared *s) {
        char path[700];
        snprintf(path, sizeof(path), "%s/denied", s->dir);
        record(s, "mkdir", mkdir(path, 0700));
        record(s, "mkdirat", syscall(SYS_mkdirat, AT_FDCWD, path, 0700));
        snprintf(path, sizeof(path), "%s/file", s->dir);
        int fd = (int)record(s, "open", open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
        record(s, "fchmod 04755", fchmod(fd, 04755));
        record(s, "fchmod 0755", fchmod(fd, 0755));
        record(s, "fchmod 0700", fchmod(fd, 0700));
        record(s, "fchmod 0777", fchmod(fd, 0777));
        record(s, "getpid", syscall(SYS_getpid));
        close(fd);
        return 0;
}

static void test_oci_profile_denies_mkdir_with_eacces_and_masks_setuid_chmod(void **state) {
        struct fixture *fx = *state;
        nook_seccomp_profile p = { 0 };
        parse_ok(SMALL_PROFILE, &p);
        nook_seccomp_program prog = { 0 };
        compile_ok(&p, false, fx->cache, &prog); /* the unknown name is skipped */
        struct shared *s = shared_new();
        snprintf(s->dir, sizeof(s->dir), "%s", fx->root);
        run_child_ok(&prog, child_small_profile, s);
        assert_errno(s, "mkdir", EACCES);
        assert_errno(s, "mkdirat", EACCES);
        assert_errno(s, "fchmod 04755", EPERM); /* errnoRet absent: EPERM */
        assert_works(s, "fchmod 0755");
        assert_works(s, "getpid");
        shared_free(s);
        nook_seccomp_program_clear(&prog);
        nook_seccomp_profile_clear(&p);
}

/* Same-index comparisons are ORed (one libseccomp rule each), as runc does. */
static void test_oci_same_index_comparisons_are_ored(void **state) {
        struct fixture *fx = *state;
        nook_seccomp_profile p = { 0 };
        parse_ok("{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['fchmod'],'action':'SCMP_ACT_ERRNO',"
                 "'errnoRet':1,'args':[{'index':1,'value':511,'op':'SCMP_CMP_EQ'},"
                 "{'index':1,'value':448,'op':'SCMP_CMP_EQ'}]},"
                 "{'names':['getpid'],'action':'SCMP_ACT_ALLOW'}]}",
                 &p);
        nook_seccomp_program prog = { 0 };
        compile_ok(&p, false, NULL, &prog); /* the ALLOW rule repeats the default: skipped */
        struct shared *s = shared_new();
        snprintf(s->dir, sizeof(s->dir), "%s", fx->root);
        run_child_ok(&prog, child_small_profile, s);
        assert_errno(s, "fchmod 0777", EPERM);
        assert_errno(s, "fchmod 0700", EPERM);
        assert_works(s, "fchmod 0755");
        assert_works(s, "mkdir");
        shared_free(s);
        nook_seccomp_program_clear(&prog);
        nook_seccomp_profile_clear(&p);
}

static int child_getppid(struct shared *s) {
        record(s, "getpid", syscall(SYS_getpid));
        record(s, "getppid", syscall(SYS_getppid));
        return 0;
}

static void test_oci_kill_and_trap_actions_end_the_process_with_sigsys(void **state) {
        static const char *const actions[] = { "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD",
                                               "SCMP_ACT_TRAP" };
        for (size_t i = 0; i < ELEMENTSOF(actions); i++) {
                char text[256];
                snprintf(text, sizeof(text),
                         "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['getppid'],'action':'%s'}]}",
                         actions[i]);
                nook_seccomp_profile p = { 0 };
                parse_ok(text, &p);
                nook_seccomp_program prog = { 0 };
                compile_ok(&p, false, NULL, &prog);
                struct shared *s = shared_new();
                int st = run_child(&prog, child_getppid, s);
                if (st != 1000 + SIGSYS)
                        fail_msg("%s: child status %d, expected death by SIGSYS", actions[i], st);
                assert_works(s, "getpid");
                shared_free(s);
                nook_seccomp_program_clear(&prog);
                nook_seccomp_profile_clear(&p);
        }
        (void)state;
}

/* An allow-list profile: only what the child does after apply is allowed. */
static void test_oci_default_errno_with_an_allow_list(void **state) {
        nook_seccomp_profile p = { 0 };
        parse_ok("{'defaultAction':'SCMP_ACT_ERRNO','defaultErrnoRet':95,'architectures':[],"
                 "'flags':['SECCOMP_FILTER_FLAG_TSYNC'],"
                 "'syscalls':[{'names':['getpid','exit_group','exit'],'action':'SCMP_ACT_ALLOW'}]}",
                 &p);
        assert_null(p.architectures);
        nook_seccomp_program prog = { 0 };
        compile_ok(&p, false, NULL, &prog);
        struct shared *s = shared_new();
        run_child_ok(&prog, child_getppid, s);
        assert_works(s, "getpid");
        assert_errno(s, "getppid", EOPNOTSUPP);
        shared_free(s);
        nook_seccomp_program_clear(&prog);
        nook_seccomp_profile_clear(&p);
        (void)state;
}

static void test_oci_parse_reads_every_field(void **state) {
        nook_seccomp_profile p = { 0 };
        parse_ok("{'defaultAction':'SCMP_ACT_ERRNO','defaultErrnoRet':38,"
                 "'architectures':['SCMP_ARCH_X86_64','SCMP_ARCH_X86','SCMP_ARCH_AARCH64'],"
                 "'syscalls':[{'names':['read','write'],'action':'SCMP_ACT_ALLOW'},"
                 "{'names':['clone'],'action':'SCMP_ACT_ALLOW','args':[{'index':0,'value':2114060288,"
                 "'valueTwo':0,'op':'SCMP_CMP_MASKED_EQ'}]},"
                 "{'names':['personality'],'action':'SCMP_ACT_LOG','args':[{'index':5,'value':9223372036854775807,"
                 "'op':'SCMP_CMP_GE'}]},{'names':[],'action':'SCMP_ACT_TRAP'}]}",
                 &p);
        assert_int_equal(p.default_action, NOOK_SECCOMP_ACT_ERRNO);
        assert_int_equal(p.default_errno, 38);
        assert_string_equal(p.architectures[0], "SCMP_ARCH_X86_64");
        assert_string_equal(p.architectures[2], "SCMP_ARCH_AARCH64");
        assert_null(p.architectures[3]);
        assert_int_equal(p.n_rules, 4);
        assert_string_equal(p.rules[0].names[1], "write");
        assert_null(p.rules[0].names[2]);
        assert_int_equal(p.rules[0].n_args, 0);
        assert_int_equal(p.rules[1].n_args, 1);
        assert_int_equal(p.rules[1].args[0].op, NOOK_SECCOMP_OP_MASKED_EQ);
        assert_int_equal(p.rules[1].args[0].value, 2114060288);
        assert_int_equal(p.rules[1].args[0].value_two, 0);
        assert_int_equal(p.rules[2].action, NOOK_SECCOMP_ACT_LOG);
        assert_int_equal(p.rules[2].args[0].index, 5);
        assert_int_equal(p.rules[2].args[0].value, INT64_MAX);
        assert_int_equal(p.rules[2].args[0].op, NOOK_SECCOMP_OP_GE);
        assert_null(p.rules[3].names[0]);
        /* It compiles (foreign arches are accepted by libseccomp). */
        nook_seccomp_program prog = { 0 };
        compile_ok(&p, false, NULL, &prog);
        nook_seccomp_program_clear(&prog);
        nook_seccomp_profile_clear(&p);
        (void)state;
}

struct reject {
        const char *json;
        nook_error_kind kind;
        const char *pointer;
        const char *in_message;
};

static const struct reject rejects[] = {
        { "{", CV, "", "malformed JSON" },
        { "{'defaultAction':'SCMP_ACT_ALLOW'} x", CV, "", "malformed JSON" },
        { "[]", CV, "", "expected an object" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','defaultAction':'SCMP_ACT_ERRNO'}", CV, "", "duplicate" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['a'],'names':['b'],'action':'SCMP_ACT_LOG'}]}", CV,
          "", "duplicate" },
        { "{}", MISS, "/defaultAction", "required" },
        { "{'defaultAction':1}", CV, "/defaultAction", "got an integer" },
        { "{'defaultAction':'SCMP_ACT_FOO'}", CV, "/defaultAction", "unknown action \"SCMP_ACT_FOO\"" },
        { "{'defaultAction':'SCMP_ACT_NOTIFY'}", CV, "/defaultAction", "not supported" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['a'],'action':'SCMP_ACT_ERRNO'},"
          "{'names':['b'],'action':'SCMP_ACT_BOGUS'}]}",
          CV, "/syscalls/1/action", "SCMP_ACT_BOGUS" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['a'],'action':'SCMP_ACT_ERRNO',"
          "'args':[{'index':0,'value':1,'op':'SCMP_CMP_LIKE'}]}]}",
          CV, "/syscalls/0/args/0/op", "unknown comparison \"SCMP_CMP_LIKE\"" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['a'],'action':'SCMP_ACT_ERRNO',"
          "'args':[{'index':6,'value':1,'op':'SCMP_CMP_EQ'}]}]}",
          CV, "/syscalls/0/args/0/index", "out of range 0..5" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['a'],'action':'SCMP_ACT_ERRNO',"
          "'args':[{'index':-1,'value':1,'op':'SCMP_CMP_EQ'}]}]}",
          CV, "/syscalls/0/args/0/index", "out of range" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['a'],'action':'SCMP_ACT_ERRNO',"
          "'args':[{'index':0,'value':'1','op':'SCMP_CMP_EQ'}]}]}",
          CV, "/syscalls/0/args/0/value", "got a string" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['a'],'action':'SCMP_ACT_ERRNO',"
          "'args':[{'index':0,'value':1.5,'op':'SCMP_CMP_EQ'}]}]}",
          CV, "/syscalls/0/args/0/value", "got a number" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['a'],'action':'SCMP_ACT_ERRNO',"
          "'args':[{'index':0,'value':-1,'op':'SCMP_CMP_EQ'}]}]}",
          CV, "/syscalls/0/args/0/value", "out of range" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['a'],'action':'SCMP_ACT_ERRNO',"
          "'args':[{'index':0,'value':18446744073709551615,'op':'SCMP_CMP_EQ'}]}]}",
          CV, "", "2^63-1" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['a'],'action':'SCMP_ACT_ERRNO',"
          "'args':[{'index':0,'value':1}]}]}",
          MISS, "/syscalls/0/args/0/op", "required" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['a'],'action':'SCMP_ACT_ERRNO',"
          "'args':[{'index':0,'op':'SCMP_CMP_EQ'}]}]}",
          MISS, "/syscalls/0/args/0/value", "required" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['a'],'action':'SCMP_ACT_ERRNO',"
          "'args':[{'index':0,'value':1,'op':'SCMP_CMP_EQ','extra':1}]}]}",
          CV, "/syscalls/0/args/0/extra", "unknown key" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['a'],'action':'SCMP_ACT_ERRNO','args':[1]}]}", CV,
          "/syscalls/0/args/0", "expected an object" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['a'],'action':'SCMP_ACT_ERRNO','args':{}}]}", CV,
          "/syscalls/0/args", "expected an array" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':'mkdir','action':'SCMP_ACT_ERRNO'}]}", CV,
          "/syscalls/0/names", "expected an array" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':[1],'action':'SCMP_ACT_ERRNO'}]}", CV,
          "/syscalls/0/names/0", "got an integer" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['ok','Mk Dir'],'action':'SCMP_ACT_ERRNO'}]}", CV,
          "/syscalls/0/names/1", "not a system call name" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'action':'SCMP_ACT_ERRNO'}]}", MISS, "/syscalls/0/names",
          "required" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['a']}]}", MISS, "/syscalls/0/action", "required" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['a'],'action':'SCMP_ACT_ALLOW','errnoRet':1}]}", CV,
          "/syscalls/0/errnoRet", "only valid with SCMP_ACT_ERRNO" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['a'],'action':'SCMP_ACT_ERRNO','errnoRet':0}]}", CV,
          "/syscalls/0/errnoRet", "errno 0" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['a'],'action':'SCMP_ACT_ERRNO','errnoRet':5000}]}",
          CV, "/syscalls/0/errnoRet", "out of range" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['a'],'action':'SCMP_ACT_ERRNO','errnoRet':'13'}]}",
          CV, "/syscalls/0/errnoRet", "got a string" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','defaultErrnoRet':1}", CV, "/defaultErrnoRet", "only valid" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['a'],'action':'SCMP_ACT_ERRNO','includes':{}}]}", CV,
          "/syscalls/0/includes", "Docker's profile format" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','archMap':[]}", CV, "/archMap", "Docker's profile format" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','a/b~c':1}", CV, "/a~1b~0c", "unknown key" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','\\u001b[2J':1}", CV, "/\x1b[2J", "unknown key \"(unprintable" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','listenerPath':'/x'}", CV, "/listenerPath", "SCMP_ACT_NOTIFY" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','architectures':['SCMP_ARCH_X86_64','SCMP_ARCH_VAX']}", CV,
          "/architectures/1", "not an architecture name" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','architectures':'SCMP_ARCH_X86_64'}", CV, "/architectures",
          "expected an array" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','flags':['SECCOMP_FILTER_FLAG_LOG']}", CV, "/flags/0", "not supported" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','flags':['BOGUS']}", CV, "/flags/0", "not a seccomp flag" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':{}}", CV, "/syscalls", "expected an array" },
        { "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[null]}", CV, "/syscalls/0", "got null" },
};

static void assert_rejected(const char *json, size_t len, nook_error_kind kind, const char *pointer,
                            const char *in_message) {
        char *names[] = { (char *)"sentinel", NULL };
        nook_seccomp_rule rule = { .names = names };
        nook_seccomp_profile p = { .default_action = 77, .rules = &rule, .n_rules = 1 };
        nook_error *err = NULL;
        int r = nook_oci_seccomp_parse(json, len, &p, &err);
        if (r >= 0)
                fail_msg("accepted: %.200s", json);
        assert_int_equal(r, -EINVAL);
        assert_non_null(err);
        const char *msg = nook_error_get_message(err), *ptr = nook_error_get_pointer(err);
        if (nook_error_get_kind(err) != kind || !ptr || strcmp(ptr, pointer) != 0 || !strstr(msg, in_message))
                fail_msg("%.200s\n  got %s at '%s': %s\n  want %s at '%s' containing '%s'", json,
                         nook_error_kind_name(nook_error_get_kind(err)), ptr ? ptr : "(null)", msg,
                         nook_error_kind_name(kind), pointer, in_message);
        /* A person reads only the message: it names the field and the profile. */
        assert_non_null(strstr(msg, "seccomp profile"));
        if (*pointer && !strchr(pointer, 0x1b))
                assert_non_null(strstr(msg, pointer));
        for (const char *c = msg; *c; c++) /* nothing a terminal would interpret */
                assert_true(*c >= 0x20 && *c != 0x7f);
        /* Output untouched. */
        assert_int_equal(p.default_action, 77);
        assert_ptr_equal(p.rules, &rule);
        nook_error_free(err);
}

static void test_oci_rejections_name_their_json_pointer(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(rejects); i++) {
                _cleanup_free_ char *json = jq(rejects[i].json);
                assert_rejected(json, strlen(json), rejects[i].kind, rejects[i].pointer, rejects[i].in_message);
        }
        (void)state;
}

/* Caps: 4096 rules, 512 names, 6 comparisons, 4 MiB of text. */
static void test_oci_rejects_oversized_profiles(void **state) {
        size_t cap = 200000;
        _cleanup_free_ char *json = malloc(cap);
        assert_non_null(json);
        size_t n = (size_t)snprintf(json, cap, "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[");
        for (int i = 0; i < 4097; i++)
                n += (size_t)snprintf(json + n, cap - n, "%s{\"names\":[],\"action\":\"SCMP_ACT_LOG\"}", i ? "," : "");
        n += (size_t)snprintf(json + n, cap - n, "]}");
        assert_true(n < cap);
        assert_rejected(json, n, CV, "/syscalls", "4097 rules exceed the limit of 4096");

        n = (size_t)snprintf(json, cap, "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[");
        for (int i = 0; i < 513; i++)
                n += (size_t)snprintf(json + n, cap - n, "%s\"getpid\"", i ? "," : "");
        n += (size_t)snprintf(json + n, cap - n, "],\"action\":\"SCMP_ACT_LOG\"}]}");
        assert_rejected(json, n, CV, "/syscalls/0/names", "513 entries exceed the limit of 512");

        n = (size_t)snprintf(json, cap,
                             "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"a\"],"
                             "\"action\":\"SCMP_ACT_LOG\",\"args\":[");
        for (int i = 0; i < 7; i++)
                n += (size_t)snprintf(json + n, cap - n, "%s{\"index\":%d,\"value\":0,\"op\":\"SCMP_CMP_EQ\"}",
                                      i ? "," : "", i % 6);
        n += (size_t)snprintf(json + n, cap - n, "]}]}");
        assert_rejected(json, n, CV, "/syscalls/0/args", "7 argument comparisons exceed the limit of 6");

        size_t huge = NOOK_OCI_SECCOMP_MAX_BYTES + 1;
        _cleanup_free_ char *blank = malloc(huge);
        assert_non_null(blank);
        memset(blank, ' ', huge);
        assert_rejected(blank, huge, CV, "", "exceed the limit");
        (void)state;
}

/* A Docker-style profile at its 4096-rule and 512-name limits still parses and compiles. */
static void test_oci_profile_at_the_limits_compiles(void **state) {
        size_t cap = 400000;
        _cleanup_free_ char *json = malloc(cap);
        assert_non_null(json);
        size_t n = (size_t)snprintf(json, cap, "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[");
        for (int i = 0; i < 512; i++)
                n += (size_t)snprintf(json + n, cap - n, "%s\"nook_unknown_%d\"", i ? "," : "", i);
        n += (size_t)snprintf(json + n, cap - n, "],\"action\":\"SCMP_ACT_ERRNO\"}");
        for (int i = 1; i < 4096; i++)
                n += (size_t)snprintf(json + n, cap - n, ",{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\"}");
        n += (size_t)snprintf(json + n, cap - n, "]}");
        nook_seccomp_profile p = { 0 };
        nook_error *err = NULL;
        assert_int_equal(nook_oci_seccomp_parse(json, n, &p, &err), 0);
        assert_int_equal(p.n_rules, 4096);
        nook_seccomp_program prog = { 0 };
        compile_ok(&p, false, NULL, &prog);
        nook_seccomp_program_clear(&prog);
        nook_seccomp_profile_clear(&p);
        (void)state;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_default_compiles_and_second_compile_is_a_cache_hit, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_compile_and_cache_hit_cost, setup, teardown),
                cmocka_unit_test_setup_teardown(test_corrupt_cache_files_are_replaced, setup, teardown),
                cmocka_unit_test_setup_teardown(test_concurrent_compiles_share_one_cache_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cache_dir_is_made_0700_and_must_be_ours_and_real, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cache_write_failure_is_not_fatal_and_leaves_no_temp_file, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_hash_covers_profile_nesting_and_default, setup, teardown),
                cmocka_unit_test_setup_teardown(test_compile_leaks_no_fd, setup, teardown),
                cmocka_unit_test_setup_teardown(test_compile_checks_profiles_built_by_code, setup, teardown),
                cmocka_unit_test_setup_teardown(test_default_denies_unnamespaced_kernel_facilities, setup, teardown),
                cmocka_unit_test_setup_teardown(test_default_denies_new_user_namespaces_unless_allowed, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_default_denies_tty_injection_and_its_high_bit_alias, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_default_personality_allows_only_harmless_values, setup, teardown),
                cmocka_unit_test_setup_teardown(test_default_keeps_ordinary_syscalls, setup, teardown),
                cmocka_unit_test_setup_teardown(test_default_covers_the_i386_entry, setup, teardown),
                cmocka_unit_test_setup_teardown(test_default_covers_the_x32_entry, setup, teardown),
                cmocka_unit_test_setup_teardown(test_apply_rejects_bad_programs_and_needs_no_new_privs, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_oci_profile_denies_mkdir_with_eacces_and_masks_setuid_chmod, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_oci_same_index_comparisons_are_ored, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oci_kill_and_trap_actions_end_the_process_with_sigsys, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_oci_default_errno_with_an_allow_list, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oci_parse_reads_every_field, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oci_rejections_name_their_json_pointer, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oci_rejects_oversized_profiles, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oci_profile_at_the_limits_compiles, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
