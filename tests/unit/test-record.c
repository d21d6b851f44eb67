/* Unit tests of src/proto/record.c and the records that use it: the session's state
 * file (src/userns/session.c) and a process's exit record.  Every field of each table
 * round-trips; a file as the earlier hand-written code wrote it still loads, and is
 * written again byte for byte; malformed values are refused; the checks on the state
 * file (owner, mode, size, no symlink: SECURITY.md S32) still hold. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/record.h"
#include "userns/session.h"
#include "util/macro.h"
#include "util/rmrf.h"

/* ---- the engine, on a table of its own ---------------------------------------------- */

typedef struct sample {
        char *text;
        char word[8];
        bool flag;
        int i32;
        int64_t i64;
        uint32_t u32;
        uint64_t u64;
} sample;

static const nook_rec_field sample_fields[] = {
        NOOK_REC(sample, text, NOOK_REC_STR),  NOOK_REC(sample, word, NOOK_REC_CHARS),
        NOOK_REC(sample, flag, NOOK_REC_BOOL), NOOK_REC(sample, i32, NOOK_REC_INT),
        NOOK_REC(sample, i64, NOOK_REC_INT),   NOOK_REC_NAMED("unsigned", sample, u32, NOOK_REC_UINT),
        NOOK_REC(sample, u64, NOOK_REC_UINT),
};
static const nook_record sample_record = NOOK_RECORD(sample_fields);

static int parse(const char *text, sample *s) {
        return nook_record_parse(&sample_record, text, strlen(text), s);
}

static char *format(const nook_record *r, const void *obj) {
        nook_strbuf b = NOOK_STRBUF_INIT;
        int e = nook_record_format(r, obj, &b);
        char *text = nook_strbuf_steal(&b);
        assert_non_null(text);
        if (e < 0) {
                assert_int_equal(e, -EINVAL);
                assert_string_equal(text, ""); /* nothing half-written */
                free(text);
                return NULL;
        }
        return text;
}

static void test_tables_are_consistent(void **state) {
        assert_true(nook_record_valid(&sample_record));
        assert_true(nook_record_valid(&nook_session_record));
        assert_true(nook_record_valid(&nook_exit_record_desc));
        /* a key given twice in one table could never be read back into the second field */
        static const nook_rec_field twice[] = { NOOK_REC(sample, flag, NOOK_REC_BOOL),
                                                NOOK_REC_NAMED("flag", sample, i32, NOOK_REC_INT) };
        assert_false(nook_record_valid(&(nook_record)NOOK_RECORD(twice)));
        static const nook_rec_field narrow[] = { NOOK_REC(sample, flag, NOOK_REC_INT) };
        assert_false(nook_record_valid(&(nook_record)NOOK_RECORD(narrow)));
}

static void test_format_then_parse_is_identity(void **state) {
        sample a = { .text = (char *)"a = b",
                     .word = "seven..",
                     .flag = true,
                     .i32 = INT32_MIN,
                     .i64 = INT64_MIN,
                     .u32 = UINT32_MAX,
                     .u64 = UINT64_MAX };
        _cleanup_free_ char *text = format(&sample_record, &a);
        assert_string_equal(text, "text=a = b\nword=seven..\nflag=1\ni32=-2147483648\ni64=-9223372036854775808\n"
                                  "unsigned=4294967295\nu64=18446744073709551615\n");
        sample b = { 0 };
        assert_int_equal(parse(text, &b), 0);
        assert_string_equal(b.text, a.text);
        assert_string_equal(b.word, a.word);
        assert_true(b.flag);
        assert_int_equal(b.i32, a.i32);
        assert_true(b.i64 == a.i64 && b.u32 == a.u32 && b.u64 == a.u64);
        nook_record_clear(&sample_record, &b);
        assert_null(b.text);
}

static void test_empty_string_is_none(void **state) {
        sample a = { 0 };
        _cleanup_free_ char *text = format(&sample_record, &a);
        assert_string_equal(text, "text=\nword=\nflag=0\ni32=0\ni64=0\nunsigned=0\nu64=0\n");
        sample b = { .text = strdup("old") };
        assert_int_equal(parse(text, &b), 0);
        assert_null(b.text);
}

static void test_unknown_keys_and_blank_lines_are_skipped(void **state) {
        sample s = { 0 };
        assert_int_equal(parse("\nnewer_field=x\ni32=7\n\nmonitor_lost=1", &s), 0);
        assert_int_equal(s.i32, 7);
}

static void test_last_of_a_repeated_key_wins(void **state) {
        sample s = { 0 };
        assert_int_equal(parse("text=first\ntext=second\ni32=1\ni32=2\n", &s), 0);
        assert_string_equal(s.text, "second"); /* "first" freed: ASan says if not */
        assert_int_equal(s.i32, 2);
        nook_record_clear(&sample_record, &s);
}

static void test_malformed_values_are_refused(void **state) {
        static const char *const bad[] = {
                "i32=",           "i32=1x",
                "i32= 1",         "i32=+1",
                "i32=-",          "i32=2147483648",
                "i32=0x10",       "i64=9223372036854775808",
                "unsigned=-1",    "unsigned=4294967296",
                "u64=-0",         "u64=18446744073709551616",
                "flag=2",         "flag=",
                "flag=true",      "word=eight...",
                "no equals sign", "text=ok\ngarbage\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                sample s = { 0 };
                if (parse(bad[i], &s) != -EINVAL)
                        fail_msg("accepted: %s", bad[i]);
                nook_record_clear(&sample_record, &s);
        }
        sample s = { 0 };
        assert_int_equal(nook_record_parse(&sample_record, "i32=1\0i32=2\n", 12, &s), -EINVAL);
        assert_int_equal(parse("word=seven..\ni32=-2147483648\nunsigned=4294967295", &s), 0);
}

static void test_a_newline_in_a_value_is_never_written(void **state) {
        sample a = { .text = (char *)"x\nflag=1" };
        assert_null(format(&sample_record, &a));
        sample b = { .word = "a\nb" };
        assert_null(format(&sample_record, &b));
}

static void test_read_fd_refuses_past_its_limit(void **state) {
        FILE *f = tmpfile();
        assert_non_null(f);
        assert_true(fputs("i32=12\n", f) >= 0 && fflush(f) == 0);
        sample s = { 0 };
        assert_int_equal(lseek(fileno(f), 0, SEEK_SET), 0);
        assert_int_equal(nook_record_read_fd(&sample_record, fileno(f), 6, &s), -EFBIG);
        assert_int_equal(lseek(fileno(f), 0, SEEK_SET), 0);
        assert_int_equal(nook_record_read_fd(&sample_record, fileno(f), 7, &s), 0);
        assert_int_equal(s.i32, 12);
        fclose(f);
}

/* ---- the exit record -------------------------------------------------------------- */

static void test_exit_record_as_the_monitor_wrote_it(void **state) {
        const char *old = "exit_code=137\nsignal=9\ntimed_out=1\nkilled_by=memory\ncpu_ms=12\nmaxrss=1048576\n"
                          "finished_ms=1700000000001\nmonitor_lost=1\n";
        nook_exit_record r = { 0 };
        assert_int_equal(nook_record_parse(&nook_exit_record_desc, old, strlen(old), &r), 0);
        assert_int_equal(r.exit_code, 137);
        assert_int_equal(r.signal, 9);
        assert_true(r.timed_out && r.monitor_lost);
        assert_string_equal(r.killed_by, "memory");
        assert_true(r.cpu_ms == 12 && r.maxrss == 1048576 && r.finished_ms == 1700000000001);
        const char *exec = "exit_code=127\nexec_failed=exec\nerrno=2\n";
        nook_exit_record e = { 0 };
        assert_int_equal(nook_record_parse(&nook_exit_record_desc, exec, strlen(exec), &e), 0);
        assert_int_equal(e.exit_code, 127);
        assert_string_equal(e.exec_failed, "exec");
        assert_int_equal(e.exec_errno, 2);
        /* and what the table writes reads back the same */
        _cleanup_free_ char *text = format(&nook_exit_record_desc, &r);
        nook_exit_record back = { 0 };
        assert_int_equal(nook_record_parse(&nook_exit_record_desc, text, strlen(text), &back), 0);
        assert_memory_equal(&back, &r, sizeof(r));
}

static void test_exit_record_too_long_a_stage_is_refused(void **state) {
        const char *bad = "exit_code=126\nexec_failed=0123456789012345678901234567890123456789\n";
        nook_exit_record r = { 0 };
        assert_int_equal(nook_record_parse(&nook_exit_record_desc, bad, strlen(bad), &r), -EINVAL);
}

/* ---- the session's state file ----------------------------------------------------- */

typedef struct rundir {
        char path[64];
        int fd;
} rundir;

static int setup_run(void **state) {
        rundir *d = calloc(1, sizeof(*d));
        const char *tmp = getenv("TMPDIR");
        snprintf(d->path, sizeof(d->path), "%s/nook-record.XXXXXX", tmp && strlen(tmp) < 32 ? tmp : "/tmp");
        assert_non_null(mkdtemp(d->path));
        d->fd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(d->fd >= 0);
        *state = d;
        return 0;
}

static int teardown_run(void **state) {
        rundir *d = *state;
        close(d->fd);
        char *slash = strrchr(d->path, '/');
        *slash = 0;
        _cleanup_close_ int parent = open(slash == d->path ? "/" : d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_int_equal(nook_rm_rf_at(parent, slash + 1), 0);
        free(d);
        return 0;
}

/* An empty session of environment id env, its dir made below the run dir. */
static nook_session *new_session(const rundir *d, const char *env) {
        nook_session *s = calloc(1, sizeof(*s));
        assert_non_null(s);
        nook_session_ref_for(env, s->ref);
        s->environment_id = strdup(env);
        s->uid = getuid();
        assert_int_equal(mkdirat(d->fd, s->ref, 0700), 0);
        s->dir_fd = openat(d->fd, s->ref, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(s->dir_fd >= 0);
        return s;
}

static char *read_state(const rundir *d, const char *ref) {
        char path[64];
        snprintf(path, sizeof(path), "%s/state", ref);
        _cleanup_close_ int fd = openat(d->fd, path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        char *buf = calloc(1, 65536);
        assert_true(read(fd, buf, 65535) > 0);
        return buf;
}

static void write_state(const rundir *d, const char *ref, const char *text, mode_t mode) {
        char path[64];
        snprintf(path, sizeof(path), "%s/state", ref);
        _cleanup_close_ int fd = openat(d->fd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        assert_true(fd >= 0);
        assert_int_equal(fchmod(fd, mode), 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
}

/* Every field of the table set to a value of its own (strings named after their key),
 * then saved, loaded and compared field by field: a field the table misses or maps
 * twice shows here. */
static void test_session_every_field_round_trips(void **state) {
        rundir *d = *state;
        _cleanup_(nook_session_freep) nook_session *s = new_session(d, "env.round-trip");
        const nook_record *r = &nook_session_record;
        for (size_t i = 0; i < r->n_fields; i++) {
                const nook_rec_field *f = &r->fields[i];
                void *p = (char *)s + f->offset;
                int64_t v = (int64_t)(i + 1) * (i % 2 ? -1000003 : 1000003);
                switch (f->type) {
                case NOOK_REC_STR:
                        if (strcmp(f->name, "environment_id") != 0)
                                assert_true(asprintf((char **)p, "%s value: a=b, c", f->name) > 0);
                        break;
                case NOOK_REC_BOOL:
                        *(bool *)p = true;
                        break;
                case NOOK_REC_INT:
                case NOOK_REC_UINT:
                        if (strcmp(f->name, "uid") == 0)
                                break;
                        if (f->size == 4)
                                *(int32_t *)p = (int32_t)v;
                        else
                                *(int64_t *)p = v * 1000003;
                        break;
                case NOOK_REC_CHARS:
                        fail_msg("the session record has no fixed-size strings");
                }
        }
        nook_error *err = NULL;
        assert_int_equal(nook_session_save(s, &err), 0);
        _cleanup_(nook_session_freep) nook_session *back = NULL;
        assert_int_equal(nook_session_load_at(d->fd, d->path, s->ref, &back, &err), 0);
        for (size_t i = 0; i < r->n_fields; i++) {
                const nook_rec_field *f = &r->fields[i];
                const void *a = (char *)s + f->offset, *b = (char *)back + f->offset;
                if (f->type == NOOK_REC_STR)
                        assert_string_equal(*(char *const *)a, *(char *const *)b);
                else if (memcmp(a, b, f->size) != 0)
                        fail_msg("%s does not read back as saved", f->name);
        }
        assert_string_equal(back->notes, "notes value: a=b, c");
        assert_int_equal(back->identity, s->identity);
        assert_true(back->created_ms == s->created_ms && back->created_ms < 0);
}

/* A record as nook wrote it before the table (its printf): it loads, and the table
 * writes the very same bytes again. */
static const char OLD_STATE[] =
        "environment_id=env.old\nname=web\nidentity=2\nuid=%u\ngid=1000\ninner_uid=0\ninner_gid=0\n"
        "subid_count=65536\nown_netns=1\nholder_pid=4242\nholder_start=987654\nowner_pid=0\n"
        "owner_start=0\ndetached=1\nticket=\nrootfs=/home/u/root\nrootfs_rw=0\nread_only=1\n"
        "prepared=1\nhostname=nook\nnotes=no writable layer\nmounts=/data bind ro (v0, audit: none); "
        "/tmp tmpfs\nworkspace=/workspace\ncreated_ms=1700000000000\n"
        "image=sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nimage_store=/data\n"
        "driver=overlay\ndriver_reason=native overlayfs works\nupper=\nkeep_upper=0\nowners_collapsed=17\n";
/* The keys a session of issue 12 added, as a session made before them is written again: no
 * network helper, nothing published. */
static const char NET_DEFAULTS[] = "net=\nnet_ports=\nnet_dns=\nnet_hosts=\nnet_loopback=0\nnet_egress=\n"
                                   "net_ready=0\nslirp_pid=0\nslirp_start=0\nnetd_pid=0\nnetd_start=0\n"
                                   "portfwd_pid=0\nportfwd_start=0\nsecrets=\nlabels=\n";

static void test_session_old_format_loads_and_is_written_with_defaults(void **state) {
        rundir *d = *state;
        _cleanup_(nook_session_freep) nook_session *dir = new_session(d, "env.old");
        _cleanup_free_ char *old = NULL;
        assert_true(asprintf(&old, OLD_STATE, (unsigned)getuid()) > 0);
        write_state(d, dir->ref, old, 0600);
        nook_error *err = NULL;
        _cleanup_(nook_session_freep) nook_session *s = NULL;
        assert_int_equal(nook_session_load_at(d->fd, d->path, dir->ref, &s, &err), 0);
        assert_string_equal(s->environment_id, "env.old");
        assert_string_equal(s->name, "web");
        assert_int_equal(s->identity, 2);
        assert_int_equal(s->uid, getuid());
        assert_int_equal(s->gid, 1000);
        assert_int_equal(s->subid_count, 65536);
        assert_true(s->own_netns && s->detached && !s->rootfs_rw && s->read_only && s->prepared && !s->keep_upper);
        assert_int_equal(s->holder_pid, 4242);
        assert_int_equal(s->holder_start, 987654);
        assert_int_equal(s->owner_pid, 0);
        assert_null(s->ticket);
        assert_null(s->upper);
        assert_string_equal(s->rootfs, "/home/u/root");
        assert_string_equal(s->mounts, "/data bind ro (v0, audit: none); /tmp tmpfs");
        assert_string_equal(s->driver_reason, "native overlayfs works");
        assert_true(s->created_ms == 1700000000000);
        assert_int_equal(s->owners_collapsed, 17);
        assert_null(s->net);
        assert_int_equal(s->slirp_pid, 0);
        assert_int_equal(nook_session_save(s, &err), 0);
        _cleanup_free_ char *again = read_state(d, s->ref);
        _cleanup_free_ char *want = NULL;
        assert_true(asprintf(&want, "%s%s", old, NET_DEFAULTS) > 0);
        assert_string_equal(again, want);
}

static void expect_refused(const rundir *d, const char *ref) {
        nook_error *err = NULL;
        nook_session *s = NULL;
        assert_int_equal(nook_session_load_at(d->fd, d->path, ref, &s, &err), -EPERM);
        assert_null(s);
        assert_non_null(err);
        nook_error_free(err);
}

static void test_session_malformed_or_exposed_file_is_refused(void **state) {
        rundir *d = *state;
        _cleanup_(nook_session_freep) nook_session *dir = new_session(d, "env.old");
        _cleanup_free_ char *good = NULL;
        assert_true(asprintf(&good, OLD_STATE, (unsigned)getuid()) > 0);
        _cleanup_free_ char *bad = NULL;
        assert_true(asprintf(&bad, "%sholder_pid=42x\n", good) > 0);
        write_state(d, dir->ref, bad, 0600);
        expect_refused(d, dir->ref);
        write_state(d, dir->ref, good, 0644); /* S32: open to others */
        expect_refused(d, dir->ref);
        _cleanup_free_ char *big = calloc(1, 70000);
        memset(big, '\n', 69999);
        memcpy(big, good, strlen(good));
        write_state(d, dir->ref, big, 0600); /* past the size limit */
        expect_refused(d, dir->ref);
        char path[64];
        snprintf(path, sizeof(path), "%s/state", dir->ref);
        assert_int_equal(unlinkat(d->fd, path, 0), 0);
        assert_int_equal(symlinkat("/etc/passwd", d->fd, path), 0); /* never followed */
        expect_refused(d, dir->ref);
        /* and a record naming another environment than its dir's */
        assert_int_equal(unlinkat(d->fd, path, 0), 0);
        _cleanup_free_ char *other = strdup(good);
        memcpy(other + strlen("environment_id=env."), "new", 3);
        write_state(d, dir->ref, other, 0600);
        expect_refused(d, dir->ref);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tables_are_consistent),
                cmocka_unit_test(test_format_then_parse_is_identity),
                cmocka_unit_test(test_empty_string_is_none),
                cmocka_unit_test(test_unknown_keys_and_blank_lines_are_skipped),
                cmocka_unit_test(test_last_of_a_repeated_key_wins),
                cmocka_unit_test(test_malformed_values_are_refused),
                cmocka_unit_test(test_a_newline_in_a_value_is_never_written),
                cmocka_unit_test(test_read_fd_refuses_past_its_limit),
                cmocka_unit_test(test_exit_record_as_the_monitor_wrote_it),
                cmocka_unit_test(test_exit_record_too_long_a_stage_is_refused),
                cmocka_unit_test_setup_teardown(test_session_every_field_round_trips, setup_run, teardown_run),
                cmocka_unit_test_setup_teardown(test_session_old_format_loads_and_is_written_with_defaults, setup_run,
                                                teardown_run),
                cmocka_unit_test_setup_teardown(test_session_malformed_or_exposed_file_is_refused, setup_run,
                                                teardown_run),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
