/* nook unit tests — the journal (src/core/journal.c): calls and idempotency, owners,
 * resources, tickets, migrations, damaged files and repair, two processes racing on one
 * key, fault points.  Each test runs in its own mkdtemp directory under $TMPDIR or /tmp. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "config.h"
#include "core/journal.h"
#include "util/error.h"

typedef struct fixture {
        char dir[1024];
        char path[2048]; /* <dir>/data/journal.db: the data dir does not exist yet */
} fixture;

static int setup(void **state) {
        fixture *f = calloc(1, sizeof(*f));
        if (!f)
                return -1;
        const char *tmp = getenv("TMPDIR");
        snprintf(f->dir, sizeof(f->dir), "%s/nook-test-journal-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(f->dir)) {
                free(f);
                return -1;
        }
        snprintf(f->path, sizeof(f->path), "%s/data/journal.db", f->dir);
        *state = f;
        return 0;
}

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *ftw) {
        (void)st, (void)type, (void)ftw;
        return remove(p);
}

static int teardown(void **state) {
        fixture *f = *state;
        unsetenv("NOOK_FAULT");
        int r = nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(f);
        return r;
}

/* ---- helpers ---- */

static nook_journal *open_ok(const char *path) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        nook_journal *j = NULL;
        int r = nook_journal_open(path, &j, &err);
        if (r < 0)
                fail_msg("open: %s", nook_error_get_message(err));
        assert_non_null(j);
        return j;
}

static nook_call_intent intent(const char *method, const char *key, const char *hash) {
        return (nook_call_intent){ .method = method,
                                   .idempotency_key = key,
                                   .request_hash = hash,
                                   .request_json = "{\"r\":1}",
                                   .environment_id = "env-1" };
}

static int64_t begin_new(nook_journal *j, const nook_call_intent *in) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        nook_begin_outcome o = 0;
        int64_t id = 0;
        char *res = (char *)"untouched";
        assert_int_equal(nook_journal_begin(j, in, &o, &id, &res, &err), 0);
        assert_null(err);
        assert_int_equal(o, NOOK_BEGIN_NEW);
        assert_null(res);
        assert_true(id > 0);
        return id;
}

static void sql(const char *path, const char *q) {
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        char *msg = NULL;
        if (sqlite3_exec(db, q, NULL, NULL, &msg) != SQLITE_OK)
                fail_msg("%s: %s", q, msg);
        sqlite3_close(db);
}

static int64_t sql_int(const char *path, const char *q) {
        sqlite3 *db = NULL;
        sqlite3_stmt *s = NULL;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, q, -1, &s, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        int64_t v = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
        sqlite3_close(db);
        return v;
}

/* The text of the first column of the first row, newly allocated (NULL for SQL NULL). */
static char *sql_text(const char *path, const char *q) {
        sqlite3 *db = NULL;
        sqlite3_stmt *s = NULL;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, q, -1, &s, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        const char *t = (const char *)sqlite3_column_text(s, 0);
        char *v = t ? strdup(t) : NULL;
        sqlite3_finalize(s);
        sqlite3_close(db);
        return v;
}

static void write_file(const char *path, const void *data, size_t n) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, n), (ssize_t)n);
        close(fd);
}

static off_t file_size(const char *path) {
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        return st.st_size;
}

static bool exists(const char *path) {
        return access(path, F_OK) == 0;
}

/* Removes the journal with its -wal and -shm (a WAL left behind would still supply
 * the pages of the old database). */
static void remove_journal(const char *path) {
        char p[PATH_MAX];
        unlink(path);
        snprintf(p, sizeof(p), "%s-wal", path);
        unlink(p);
        snprintf(p, sizeof(p), "%s-shm", path);
        unlink(p);
}

/* A journal with enough rows to span many pages, closed (checkpointed into the main file). */
static void make_big_journal(const char *path) {
        nook_journal *j = open_ok(path);
        char key[32], big[2048];
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        for (int i = 0; i < 200; i++) {
                snprintf(key, sizeof(key), "key-%d", i);
                nook_call_intent in = intent("run", key, "sha256:aa");
                in.request_json = big;
                int64_t id = begin_new(j, &in);
                assert_int_equal(nook_journal_finish(j, id, "{\"ok\":true}", NULL), 0);
        }
        nook_journal_close(j);
        sql(path, "PRAGMA wal_checkpoint(TRUNCATE)"); /* everything in the main file */
}

/* The damaged-journal error: JournalFailure, the remedy and the file in the hint, no
 * host path in the message. */
static void assert_damaged(const nook_error *err, const fixture *f) {
        assert_non_null(err);
        assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_JOURNAL_FAILURE);
        assert_non_null(strstr(nook_error_get_message(err), "corrupt or not a database"));
        assert_null(strstr(nook_error_get_message(err), f->dir));
        assert_non_null(nook_error_get_hint(err));
        assert_non_null(strstr(nook_error_get_hint(err), "nook journal repair"));
        assert_non_null(strstr(nook_error_get_hint(err), f->path));
}

static int count_visit(const nook_journal_entry *e, void *userdata) {
        (void)e;
        (*(unsigned *)userdata)++;
        return 0;
}

/* Opening may notice the damage, or the first query that reaches a damaged page does:
 * either way a JournalFailure that names the remedy, never a crash. */
static void assert_journal_damaged(const fixture *f) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        nook_journal *j = NULL;
        int r = nook_journal_open(f->path, &j, &err);
        if (r < 0) {
                assert_null(j);
                assert_damaged(err, f);
                return;
        }
        unsigned n = 0;
        r = nook_journal_list(j, 0, count_visit, &n, &err);
        if (r >= 0) {
                nook_call_intent in = intent("run", "fresh-key", "sha256:aa");
                r = nook_journal_begin(j, &in, NULL, NULL, NULL, &err);
        }
        nook_journal_close(j);
        assert_true(r < 0);
        assert_damaged(err, f);
}

/* ---- open ---- */

static void test_open_creates_file_0600_and_dirs_0700_whatever_the_umask(void **state) {
        fixture *f = *state;
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/a/b/journal.db", f->dir);
        mode_t old = umask(0277); /* would give 0500 dirs and a 0400 file */
        nook_journal *j = open_ok(path);
        umask(old);
        nook_journal_close(j);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        snprintf(path, sizeof(path), "%s/a/b", f->dir);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        snprintf(path, sizeof(path), "%s/a", f->dir);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
}

static void test_open_leaves_existing_directory_mode_alone(void **state) {
        fixture *f = *state;
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s/data", f->dir);
        assert_int_equal(mkdir(dir, 0755), 0);
        assert_int_equal(chmod(dir, 0755), 0);
        nook_journal_close(open_ok(f->path));
        struct stat st;
        assert_int_equal(stat(dir, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0755);
}

static void test_open_uses_wal_and_current_schema(void **state) {
        fixture *f = *state;
        nook_journal *j = open_ok(f->path);
        assert_string_equal(nook_journal_path(j), f->path);
        _cleanup_free_ char *mode = sql_text(f->path, "PRAGMA journal_mode");
        assert_string_equal(mode, "wal");
        assert_int_equal(sql_int(f->path, "PRAGMA user_version"), NOOK_JOURNAL_SCHEMA_VERSION);
        nook_journal_close(j);
        /* opening again is a no-op on the schema */
        nook_journal_close(open_ok(f->path));
        assert_int_equal(sql_int(f->path, "PRAGMA user_version"), NOOK_JOURNAL_SCHEMA_VERSION);
}

static void test_open_zero_length_file_initialises_it(void **state) {
        fixture *f = *state;
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s/data", f->dir);
        assert_int_equal(mkdir(dir, 0700), 0);
        write_file(f->path, "", 0);
        nook_journal *j = open_ok(f->path);
        nook_call_intent in = intent("run", "k", "sha256:aa");
        begin_new(j, &in);
        nook_journal_close(j);
        assert_int_equal(sql_int(f->path, "SELECT count(*) FROM calls"), 1);
}

static void test_open_in_unwritable_directory_is_user_action_needed(void **state) {
        fixture *f = *state;
        if (geteuid() == 0)
                skip(); /* root writes anywhere */
        char dir[PATH_MAX], path[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s/ro", f->dir);
        snprintf(path, sizeof(path), "%s/ro/sub/journal.db", f->dir);
        assert_int_equal(mkdir(dir, 0500), 0);
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        nook_journal *j = NULL;
        assert_int_equal(nook_journal_open(path, &j, &err), -EACCES);
        assert_null(j);
        assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_JOURNAL_FAILURE);
        assert_int_equal(nook_error_get_retry(err), NOOK_RETRY_USER_ACTION_NEEDED);
        assert_null(strstr(nook_error_get_message(err), f->dir));
        assert_non_null(strstr(nook_error_get_hint(err), path));
        chmod(dir, 0700);
}

static void test_open_read_only_file_is_user_action_needed(void **state) {
        fixture *f = *state;
        if (geteuid() == 0)
                skip();
        nook_journal *j = open_ok(f->path);
        nook_call_intent in = intent("run", "k", "sha256:aa");
        begin_new(j, &in);
        nook_journal_close(j);
        sql(f->path, "PRAGMA wal_checkpoint(TRUNCATE)");
        assert_int_equal(chmod(f->path, 0400), 0);
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        j = NULL;
        int r = nook_journal_open(f->path, &j, &err);
        if (r == 0) { /* SQLite may open it read-only: then the first write fails */
                nook_call_intent other = intent("run", "k2", "sha256:aa");
                r = nook_journal_begin(j, &other, NULL, NULL, NULL, &err);
        }
        nook_journal_close(j);
        assert_true(r < 0);
        assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_JOURNAL_FAILURE);
        assert_int_equal(nook_error_get_retry(err), NOOK_RETRY_USER_ACTION_NEEDED);
        assert_null(strstr(nook_error_get_message(err), f->dir));
        assert_non_null(strstr(nook_error_get_hint(err), f->path));
        chmod(f->path, 0600);
}

/* ---- calls ---- */

static void test_begin_finish_then_same_key_replays_the_result(void **state) {
        fixture *f = *state;
        nook_journal *j = open_ok(f->path);
        nook_call_intent in = intent("create_environment", "key-1", "sha256:aa");
        int64_t id = begin_new(j, &in);
        assert_int_equal(nook_journal_finish(j, id, "{\"environment_id\":\"env-1\"}", NULL), 0);

        _cleanup_(nook_error_freep) nook_error *err = NULL;
        nook_begin_outcome o = 0;
        int64_t id2 = 0;
        _cleanup_free_ char *res = NULL;
        assert_int_equal(nook_journal_begin(j, &in, &o, &id2, &res, &err), 0);
        assert_int_equal(o, NOOK_BEGIN_REPLAY);
        assert_int_equal(id2, id);
        assert_string_equal(res, "{\"environment_id\":\"env-1\"}");
        nook_journal_close(j);
        assert_int_equal(sql_int(f->path, "SELECT count(*) FROM calls"), 1);
        _cleanup_free_ char *status = sql_text(f->path, "SELECT status FROM calls");
        assert_string_equal(status, "done");
}

static void test_same_key_different_request_is_contract_violation_and_row_unchanged(void **state) {
        fixture *f = *state;
        nook_journal *j = open_ok(f->path);
        nook_call_intent in = intent("run", "key-1", "sha256:aa");
        int64_t id = begin_new(j, &in);
        assert_int_equal(nook_journal_finish(j, id, "{\"a\":1}", NULL), 0);

        nook_call_intent other = intent("run", "key-1", "sha256:bb");
        other.request_json = "{\"r\":2}";
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        nook_begin_outcome o = 0;
        assert_int_equal(nook_journal_begin(j, &other, &o, NULL, NULL, &err), -EINVAL);
        assert_int_equal(o, 0); /* untouched */
        assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_CONTRACT_VIOLATION);
        assert_string_equal(nook_error_get_pointer(err), "/idempotency_key");
        assert_string_equal(nook_error_get_message(err),
                            "idempotency key key-1 was already used for a different run request");
        nook_journal_close(j);
        _cleanup_free_ char *row =
                sql_text(f->path, "SELECT request_hash || ' ' || request || ' ' || status || ' ' || result FROM calls");
        assert_string_equal(row, "sha256:aa {\"r\":1} done {\"a\":1}");
}

/* A downgrade a call accepted is kept with its row, one line per note. */
static void test_notes_are_kept_with_the_call(void **state) {
        fixture *f = *state;
        nook_journal *j = open_ok(f->path);
        nook_call_intent in = intent("prepare_session", "env:n", "sha256:aa");
        int64_t id = begin_new(j, &in);
        assert_int_equal(nook_journal_note(j, id, "this host lacks egress_allowlist", NULL), 0);
        assert_int_equal(nook_journal_note(j, id, "second", NULL), 0);
        assert_int_equal(nook_journal_finish(j, id, "\"s-1\"", NULL), 0);
        nook_journal_close(j);
        _cleanup_free_ char *row = sql_text(f->path, "SELECT notes FROM calls");
        assert_string_equal(row, "this host lacks egress_allowlist\nsecond");
}

static void test_failed_call_with_same_key_is_retried(void **state) {
        fixture *f = *state;
        nook_journal *j = open_ok(f->path);
        nook_call_intent in = intent("run", "key-1", "sha256:aa");
        int64_t id = begin_new(j, &in);
        assert_int_equal(nook_journal_fail(j, id, "{\"Classified\":{}}", NULL), 0);

        nook_begin_outcome o = 0;
        int64_t id2 = 0;
        char *res = (char *)"untouched";
        assert_int_equal(nook_journal_begin(j, &in, &o, &id2, &res, NULL), 0);
        assert_int_equal(o, NOOK_BEGIN_RETRY);
        assert_int_equal(id2, id);
        assert_null(res);
        _cleanup_free_ char *row = sql_text(f->path, "SELECT status || ' ' || ifnull(error, '-') FROM calls");
        assert_string_equal(row, "intent -");
        assert_int_equal(nook_journal_finish(j, id, "{}", NULL), 0);
        nook_journal_close(j);
}

static void test_intent_with_live_owner_is_in_progress(void **state) {
        fixture *f = *state;
        nook_journal *j = open_ok(f->path);
        nook_call_intent in = intent("run", "key-1", "sha256:aa");
        begin_new(j, &in);
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_journal_begin(j, &in, NULL, NULL, NULL, &err), -EBUSY);
        assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_INVALID_STATE_TRANSITION);
        assert_int_equal(nook_error_get_retry(err), NOOK_RETRY_RETRYABLE);
        char want[128];
        snprintf(want, sizeof(want), "in progress in pid %d", (int)getpid());
        assert_non_null(strstr(nook_error_get_message(err), want));
        nook_journal_close(j);
}

static void assert_interrupted(const nook_error *err, pid_t pid) {
        char want[512];
        snprintf(want, sizeof(want),
                 "call run (idempotency key key-1) of environment env-1 was interrupted: its owner process %d "
                 "died before it finished; run cleanup for the environment or 'nook gc'",
                 (int)pid);
        assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_RECOVERY_REPAIR_NEEDED);
        assert_int_equal(nook_error_get_retry(err), NOOK_RETRY_REPAIR_NEEDED);
        assert_string_equal(nook_error_get_message(err), want);
}

static void test_intent_of_a_dead_child_is_interrupted_until_reconciled(void **state) {
        fixture *f = *state;
        nook_journal_close(open_ok(f->path));
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                nook_journal *cj = NULL;
                nook_call_intent in = intent("run", "key-1", "sha256:aa");
                if (nook_journal_open(f->path, &cj, NULL) < 0 ||
                    nook_journal_begin(cj, &in, NULL, NULL, NULL, NULL) < 0)
                        _exit(1);
                _exit(0); /* dies without finishing */
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        nook_journal *j = open_ok(f->path);
        bool needs = false;
        assert_int_equal(nook_journal_environment_needs_repair(j, "env-1", &needs, NULL), 0);
        assert_true(needs); /* a dead intent counts before anyone reaps it */

        nook_call_intent in = intent("run", "key-1", "sha256:aa");
        for (int i = 0; i < 2; i++) { /* the first turns it interrupted, the second finds it so */
                _cleanup_(nook_error_freep) nook_error *err = NULL;
                assert_int_equal(nook_journal_begin(j, &in, NULL, NULL, NULL, &err), -EOWNERDEAD);
                assert_interrupted(err, pid);
        }
        _cleanup_free_ char *st = sql_text(f->path, "SELECT status FROM calls");
        assert_string_equal(st, "interrupted");
        assert_int_equal(nook_journal_environment_needs_repair(j, "env-1", &needs, NULL), 0);
        assert_true(needs);
        assert_int_equal(nook_journal_environment_needs_repair(j, "env-2", &needs, NULL), 0);
        assert_false(needs);

        assert_int_equal(nook_journal_reconcile_environment(j, "env-1", NULL), 0);
        assert_int_equal(nook_journal_environment_needs_repair(j, "env-1", &needs, NULL), 0);
        assert_false(needs);
        assert_int_equal(sql_int(f->path, "SELECT count(*) FROM calls WHERE reconciled_ms > 0"), 1);
        nook_journal_close(j);
}

/* Pid gone, pid reused (start time differs), machine rebooted (boot id differs). */
static void test_owner_identity_decides_liveness(void **state) {
        fixture *f = *state;
        static const char *const fakes[] = {
                "UPDATE calls SET owner_pid = 2147483000",
                "UPDATE calls SET owner_start = owner_start + 1",
                "UPDATE calls SET owner_boot = '00000000-0000-0000-0000-000000000000'",
        };
        for (size_t i = 0; i < sizeof(fakes) / sizeof(fakes[0]); i++) {
                nook_journal *j = open_ok(f->path);
                char key[16];
                snprintf(key, sizeof(key), "k%zu", i);
                nook_call_intent in = intent("run", key, "sha256:aa");
                begin_new(j, &in);
                char q[256];
                snprintf(q, sizeof(q), "%s WHERE idem_key = '%s'", fakes[i], key);
                sql(f->path, q);
                _cleanup_(nook_error_freep) nook_error *err = NULL;
                assert_int_equal(nook_journal_begin(j, &in, NULL, NULL, NULL, &err), -EOWNERDEAD);
                assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_RECOVERY_REPAIR_NEEDED);
                nook_journal_close(j);
        }

        nook_owner o;
        assert_int_equal(nook_owner_self(&o), 0);
        assert_int_equal(o.pid, getpid());
        assert_int_equal(strlen(o.boot_id), 36);
        assert_true(nook_owner_alive(&o));
        nook_owner reused = o, rebooted = o, gone = o;
        reused.start_time++;
        rebooted.boot_id[0] = rebooted.boot_id[0] == '0' ? '1' : '0';
        gone.pid = 2147483000;
        assert_false(nook_owner_alive(&reused));
        assert_false(nook_owner_alive(&rebooted));
        assert_false(nook_owner_alive(&gone));
        assert_false(nook_owner_alive(NULL));
}

static void test_null_key_is_always_new_and_keys_are_per_method(void **state) {
        fixture *f = *state;
        nook_journal *j = open_ok(f->path);
        nook_call_intent in = intent("caps", NULL, "sha256:aa");
        int64_t a = begin_new(j, &in), b = begin_new(j, &in);
        assert_true(b > a);
        nook_call_intent x = intent("run", "same", "sha256:aa"), y = intent("cleanup", "same", "sha256:bb");
        begin_new(j, &x);
        begin_new(j, &y);
        nook_journal_close(j);
        assert_int_equal(sql_int(f->path, "SELECT count(*) FROM calls"), 4);
}

static void test_finish_twice_and_unknown_call_fail(void **state) {
        fixture *f = *state;
        nook_journal *j = open_ok(f->path);
        nook_call_intent in = intent("run", "k", "sha256:aa");
        int64_t id = begin_new(j, &in);
        assert_int_equal(nook_journal_finish(j, id, "{}", NULL), 0);
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_journal_finish(j, id, "{}", &err), -EALREADY);
        assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_INVALID_STATE_TRANSITION);
        assert_int_equal(nook_journal_fail(j, 4242, "{}", &err), -ENOENT);
        assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_JOURNAL_FAILURE);
        nook_journal_close(j);
}

static void test_reap_interrupted_counts_only_dead_intents(void **state) {
        fixture *f = *state;
        nook_journal *j = open_ok(f->path);
        char key[16];
        for (int i = 0; i < 5; i++) {
                snprintf(key, sizeof(key), "k%d", i);
                nook_call_intent in = intent("run", key, "sha256:aa");
                int64_t id = begin_new(j, &in);
                if (i == 4)
                        assert_int_equal(nook_journal_finish(j, id, "{}", NULL), 0);
        }
        /* k0..k2 lose their owner; k3 stays live, k4 is done */
        sql(f->path, "UPDATE calls SET owner_pid = 2147483000 WHERE idem_key IN ('k0', 'k1', 'k2')");
        unsigned n = 99;
        assert_int_equal(nook_journal_reap_interrupted(j, &n, NULL), 0);
        assert_int_equal(n, 3);
        assert_int_equal(nook_journal_reap_interrupted(j, &n, NULL), 0);
        assert_int_equal(n, 0);
        assert_int_equal(nook_journal_reap_interrupted(j, NULL, NULL), 0);
        nook_journal_close(j);
        assert_int_equal(sql_int(f->path, "SELECT count(*) FROM calls WHERE status = 'interrupted'"), 3);
        assert_int_equal(sql_int(f->path, "SELECT count(*) FROM calls WHERE status = 'intent'"), 1);
}

typedef struct listed {
        unsigned n;
        long long ids[8];
        long long finished_id;
        bool finished_seen;
        nook_journal *reenter; /* call list again from the visitor */
} listed;

static int list_visit(const nook_journal_entry *e, void *userdata) {
        listed *l = userdata;
        if (l->reenter) {
                _cleanup_(nook_error_freep) nook_error *err = NULL;
                assert_int_equal(nook_journal_list(l->reenter, 0, list_visit, l, &err), -EBUSY);
                assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_JOURNAL_FAILURE);
                return 5;
        }
        if (l->n == 8)
                return 7;
        l->ids[l->n++] = e->id;
        assert_non_null(e->method);
        assert_non_null(e->status);
        assert_string_equal(e->request_json, "{\"r\":1}");
        assert_int_equal(e->owner_pid, getpid());
        assert_null(e->idempotency_key);
        assert_string_equal(e->environment_id, "env-1");
        assert_string_equal(e->request_hash, "sha256:aa");
        if (e->id == l->finished_id) {
                l->finished_seen = true;
                assert_string_equal(e->status, "done");
                assert_string_equal(e->result_json, "{\"n\":1}");
                assert_true(e->finished_ms >= e->started_ms && e->started_ms > 0);
        } else {
                assert_string_equal(e->status, "intent");
                assert_int_equal(e->finished_ms, 0);
                assert_null(e->result_json);
        }
        return 0;
}

static void test_list_gives_newest_calls_oldest_first(void **state) {
        fixture *f = *state;
        nook_journal *j = open_ok(f->path);
        nook_call_intent keyless = intent("caps", NULL, "sha256:aa");
        int64_t first = begin_new(j, &keyless);
        assert_int_equal(nook_journal_finish(j, first, "{\"n\":1}", NULL), 0);
        for (int i = 0; i < 9; i++)
                begin_new(j, &keyless);
        listed l = { .finished_id = first };
        assert_int_equal(nook_journal_list(j, 3, list_visit, &l, NULL), 0);
        assert_int_equal(l.n, 3);
        assert_true(l.ids[0] == first + 7 && l.ids[1] == first + 8 && l.ids[2] == first + 9);
        assert_false(l.finished_seen);
        l = (listed){ .finished_id = first };
        assert_int_equal(nook_journal_list(j, 0, list_visit, &l, NULL), 7); /* the visitor stopped */
        assert_int_equal(l.n, 8);
        assert_true(l.finished_seen && l.ids[0] == first);
        l = (listed){ .reenter = j };
        assert_int_equal(nook_journal_list(j, 0, list_visit, &l, NULL), 5);
        nook_journal_close(j);
}

/* ---- resources ---- */

typedef struct held {
        unsigned n;
        int64_t ids[8];
        pid_t pids[8];
        nook_journal *release_from_callback;
} held;

static int held_visit(const nook_resource *r, void *userdata) {
        held *h = userdata;
        assert_true(h->n < 8);
        assert_int_equal(r->released_ms, 0);
        assert_true(r->created_ms > 0);
        h->pids[h->n] = r->pid;
        h->ids[h->n++] = r->id;
        if (h->release_from_callback)
                assert_int_equal(nook_journal_resource_release(h->release_from_callback, r->id, NULL), 0);
        return 0;
}

static void test_resources_are_held_until_released(void **state) {
        fixture *f = *state;
        nook_journal *j = open_ok(f->path);
        nook_resource r = { .environment_id = "env-1", .kind = "holder", .ref = "run/env-1/holder" };
        int64_t a = 0, b = 0, c = 0;
        assert_int_equal(nook_journal_resource_add(j, &r, &a, NULL), 0);
        r.kind = "mount";
        r.ref = "/merged";
        r.detail = "{\"fs\":\"overlay\"}";
        assert_int_equal(nook_journal_resource_add(j, &r, &b, NULL), 0);
        nook_resource other = { .environment_id = "env-2", .kind = "dir", .ref = "run/env-2" };
        assert_int_equal(nook_journal_resource_add(j, &other, &c, NULL), 0);
        assert_int_equal(nook_journal_resource_set_pid(j, a, 1234, 99, NULL), 0);

        held h = { 0 };
        assert_int_equal(nook_journal_resources_held(j, "env-1", held_visit, &h, NULL), 0);
        assert_int_equal(h.n, 2);
        assert_true(h.ids[0] == b && h.ids[1] == a); /* newest first: torn down in reverse */
        assert_int_equal(h.pids[1], 1234);
        h = (held){ 0 };
        assert_int_equal(nook_journal_resources_held(j, NULL, held_visit, &h, NULL), 0);
        assert_int_equal(h.n, 3);

        assert_int_equal(nook_journal_resource_release(j, b, NULL), 0);
        assert_int_equal(nook_journal_resource_release(j, b, NULL), 0); /* twice: fine */
        h = (held){ 0 };
        assert_int_equal(nook_journal_resources_held(j, "env-1", held_visit, &h, NULL), 0);
        assert_true(h.n == 1 && h.ids[0] == a);

        /* cleanup releases while it walks */
        h = (held){ .release_from_callback = j };
        assert_int_equal(nook_journal_resources_held(j, NULL, held_visit, &h, NULL), 0);
        assert_int_equal(h.n, 2);
        h = (held){ 0 };
        assert_int_equal(nook_journal_resources_held(j, NULL, held_visit, &h, NULL), 0);
        assert_int_equal(h.n, 0);

        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_journal_resource_release(j, 999, &err), -ENOENT);
        assert_int_equal(nook_journal_resource_set_pid(j, 999, 1, 1, &err), -ENOENT);
        nook_journal_close(j);
        assert_int_equal(sql_int(f->path, "SELECT pid_start FROM resources WHERE kind = 'holder'"), 99);
}

/* ---- tickets ---- */

static void test_tickets_add_get_claim_once(void **state) {
        fixture *f = *state;
        nook_journal *j = open_ok(f->path);
        assert_int_equal(nook_journal_ticket_add(j, "tkt-secret", "env-1", NULL), 0);
        assert_int_equal(nook_journal_ticket_add(j, "tkt-secret", "env-1", NULL), 0); /* same: no-op */
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_journal_ticket_add(j, "tkt-secret", "env-2", &err), -EEXIST);

        _cleanup_free_ char *env = NULL;
        bool claimed = true;
        assert_int_equal(nook_journal_ticket_get(j, "tkt-secret", &env, &claimed, NULL), 0);
        assert_string_equal(env, "env-1");
        assert_false(claimed);
        assert_int_equal(nook_journal_ticket_claim(j, "tkt-secret", NULL), 0);
        assert_int_equal(nook_journal_ticket_get(j, "tkt-secret", NULL, &claimed, NULL), 0);
        assert_true(claimed);
        assert_int_equal(nook_journal_ticket_claim(j, "tkt-secret", &err), -EALREADY);
        assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_POLICY_DENIAL);

        char *none = (char *)"untouched";
        assert_int_equal(nook_journal_ticket_get(j, "tkt-unknown", &none, NULL, &err), -ENOENT);
        assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_POLICY_DENIAL);
        assert_null(strstr(nook_error_get_message(err), "tkt-unknown")); /* a bearer token */
        assert_string_equal(none, "untouched");
        assert_int_equal(nook_journal_ticket_claim(j, "tkt-unknown", &err), -ENOENT);
        assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_POLICY_DENIAL);
        nook_journal_close(j);
}

/* ---- schema ---- */

static void test_migration_from_version_1_keeps_rows(void **state) {
        fixture *f = *state;
        assert_int_equal(nook_journal_create_at_version(f->path, 1, NULL), 0);
        assert_int_equal(sql_int(f->path, "PRAGMA user_version"), 1);
        assert_int_equal(sql_int(f->path, "SELECT count(*) FROM sqlite_master WHERE name = 'tickets'"), 0);
        sql(f->path, "INSERT INTO calls (method, idem_key, request_hash, request, environment_id, status, "
                     "owner_pid, owner_start, owner_boot, started_ms) "
                     "VALUES ('run', 'old-key', 'sha256:aa', '{}', 'env-1', 'done', 1, 1, 'b', 1)");

        nook_journal *j = open_ok(f->path);
        assert_int_equal(sql_int(f->path, "PRAGMA user_version"), 3);
        assert_int_equal(sql_int(f->path, "SELECT count(*) FROM calls WHERE notes IS NULL"), 1);
        assert_int_equal(sql_int(f->path, "SELECT count(*) FROM calls WHERE idem_key = 'old-key'"), 1);
        assert_int_equal(sql_int(f->path, "SELECT count(*) FROM sqlite_master WHERE name = 'tickets'"), 1);
        assert_int_equal(sql_int(f->path, "SELECT count(*) FROM calls WHERE reconciled_ms IS NULL"), 1);
        assert_int_equal(nook_journal_ticket_add(j, "t", "env-1", NULL), 0);
        nook_call_intent in = intent("run", "old-key", "sha256:aa");
        nook_begin_outcome o = 0;
        assert_int_equal(nook_journal_begin(j, &in, &o, NULL, NULL, NULL), 0);
        assert_int_equal(o, NOOK_BEGIN_REPLAY);
        nook_journal_close(j);

        char other[PATH_MAX];
        snprintf(other, sizeof(other), "%s/v0.db", f->dir);
        assert_int_equal(nook_journal_create_at_version(other, 0, NULL), 0);
        assert_int_equal(sql_int(other, "PRAGMA user_version"), 0);
        assert_int_equal(nook_journal_create_at_version(other, 4, NULL), -EINVAL);
}

static void test_newer_schema_is_refused_with_the_file_in_the_hint(void **state) {
        fixture *f = *state;
        nook_journal_close(open_ok(f->path));
        sql(f->path, "PRAGMA user_version = 99");
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        nook_journal *j = NULL;
        assert_true(nook_journal_open(f->path, &j, &err) < 0);
        assert_null(j);
        assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_JOURNAL_FAILURE);
        assert_string_equal(nook_error_get_message(err),
                            "journal schema version 99 is newer than this nook understands (3); upgrade nook");
        assert_non_null(strstr(nook_error_get_hint(err), f->path));
        assert_int_equal(sql_int(f->path, "PRAGMA user_version"), 99); /* left alone */
}

/* ---- damaged files ---- */

static void test_random_bytes_are_journal_failure_not_a_crash(void **state) {
        fixture *f = *state;
        nook_journal_close(open_ok(f->path));
        remove_journal(f->path);
        char junk[16384];
        uint32_t x = 2463534242u;
        for (size_t i = 0; i < sizeof(junk); i++) {
                x ^= x << 13, x ^= x >> 17, x ^= x << 5;
                junk[i] = (char)x;
        }
        write_file(f->path, junk, sizeof(junk));
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        nook_journal *j = NULL;
        assert_int_equal(nook_journal_open(f->path, &j, &err), -EUCLEAN);
        assert_null(j);
        assert_damaged(err, f);
        assert_string_equal(nook_error_get_message(err),
                            "journal database is corrupt or not a database (SQLITE_NOTADB)");
        assert_int_equal(nook_error_get_retry(err), NOOK_RETRY_REPAIR_NEEDED);
}

static void test_truncated_journal_is_journal_failure(void **state) {
        fixture *f = *state;
        make_big_journal(f->path);
        off_t size = file_size(f->path);
        assert_true(size > 100000);
        assert_int_equal(truncate(f->path, size / 2), 0);
        assert_journal_damaged(f);
        assert_int_equal(truncate(f->path, 1000), 0); /* the first 1000 bytes of a real journal */
        assert_journal_damaged(f);
}

static void test_garbage_page_is_journal_failure(void **state) {
        fixture *f = *state;
        make_big_journal(f->path);
        int page = (int)sql_int(f->path, "PRAGMA page_size");
        char junk[65536];
        memset(junk, 0xa5, sizeof(junk));
        int fd = open(f->path, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        for (int p = 1; p < 8; p++) /* pages 2..8: the tables' and indexes' roots */
                assert_int_equal(pwrite(fd, junk, page, (off_t)page * p), page);
        close(fd);
        assert_journal_damaged(f);
}

/* The header kept, everything after it garbage: the schema itself is unreadable. */
static void test_smashed_first_page_is_journal_failure(void **state) {
        fixture *f = *state;
        make_big_journal(f->path);
        off_t size = file_size(f->path);
        int fd = open(f->path, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        char junk[4096];
        for (off_t off = 100; off < size; off += (off_t)sizeof(junk)) {
                for (size_t i = 0; i < sizeof(junk); i++)
                        junk[i] = (char)(((size_t)off + i) * 7);
                size_t n = size - off < (off_t)sizeof(junk) ? (size_t)(size - off) : sizeof(junk);
                assert_int_equal(pwrite(fd, junk, n, off), (ssize_t)n);
        }
        close(fd);
        assert_journal_damaged(f);
        _cleanup_free_ char *moved = NULL;
        assert_int_equal(nook_journal_repair_file(f->path, &moved, NULL), 0);
        assert_non_null(moved);
        nook_journal_close(open_ok(f->path));
}

static void test_repair_moves_a_corrupt_journal_aside(void **state) {
        fixture *f = *state;
        nook_journal *j = open_ok(f->path);
        nook_call_intent in = intent("run", "k", "sha256:aa");
        begin_new(j, &in);
        nook_journal_close(j);
        char wal[PATH_MAX];
        snprintf(wal, sizeof(wal), "%s-wal", f->path);
        write_file(wal, "stale", 5);
        static const char junk[] = "this is not a database, not at all, not even close to one ......................";
        write_file(f->path, junk, sizeof(junk) - 1);

        _cleanup_free_ char *moved = NULL;
        assert_int_equal(nook_journal_repair_file(f->path, &moved, NULL), 0);
        assert_non_null(moved);
        char prefix[PATH_MAX];
        snprintf(prefix, sizeof(prefix), "%s.corrupt-", f->path);
        assert_int_equal(strncmp(moved, prefix, strlen(prefix)), 0);
        assert_int_equal(strlen(moved), strlen(prefix) + 15); /* YYYYmmddTHHMMSS */
        assert_true(exists(moved));
        assert_false(exists(f->path));
        assert_false(exists(wal));
        char moved_wal[PATH_MAX];
        snprintf(moved_wal, sizeof(moved_wal), "%s-wal", moved);
        assert_true(exists(moved_wal));

        j = open_ok(f->path);
        unsigned n = 0;
        assert_int_equal(nook_journal_list(j, 0, count_visit, &n, NULL), 0);
        assert_int_equal(n, 0);
        nook_journal_close(j);

        /* a second damaged file in the same second gets its own name */
        remove_journal(f->path);
        write_file(f->path, junk, sizeof(junk) - 1);
        _cleanup_free_ char *moved2 = NULL;
        assert_int_equal(nook_journal_repair_file(f->path, &moved2, NULL), 0);
        assert_non_null(moved2);
        assert_string_not_equal(moved, moved2);
        assert_true(exists(moved) && exists(moved2));
}

static void test_repair_moves_truncated_and_newer_journals_aside(void **state) {
        fixture *f = *state;
        make_big_journal(f->path);
        assert_int_equal(truncate(f->path, file_size(f->path) / 2), 0);
        _cleanup_free_ char *moved = NULL;
        assert_int_equal(nook_journal_repair_file(f->path, &moved, NULL), 0);
        assert_non_null(moved);
        nook_journal_close(open_ok(f->path));

        sql(f->path, "PRAGMA user_version = 99");
        _cleanup_free_ char *moved2 = NULL;
        assert_int_equal(nook_journal_repair_file(f->path, &moved2, NULL), 0);
        assert_non_null(moved2);
        nook_journal_close(open_ok(f->path));
}

static void test_repair_leaves_a_healthy_or_missing_journal_alone(void **state) {
        fixture *f = *state;
        char *moved = (char *)"untouched";
        assert_int_equal(nook_journal_repair_file(f->path, &moved, NULL), 0);
        assert_null(moved);
        assert_false(exists(f->path));

        nook_journal *j = open_ok(f->path);
        nook_call_intent in = intent("run", "k", "sha256:aa");
        begin_new(j, &in);
        nook_journal_close(j);
        moved = (char *)"untouched";
        assert_int_equal(nook_journal_repair_file(f->path, &moved, NULL), 0);
        assert_null(moved);
        assert_int_equal(sql_int(f->path, "SELECT count(*) FROM calls"), 1);
}

/* ---- two processes, one key ---- */

#define RACE_KEYS 300
#define RACE_ROUNDS 3

typedef struct race_report {
        int code;
        unsigned fresh, replayed, in_progress;
        char message[256];
} race_report;

static void race_child(const char *path, int start_fd, int out_fd) {
        race_report rep = { 0 };
        char c;
        (void)!read(start_fd, &c, 1); /* EOF when the parent lets both go */
        nook_journal *j = NULL;
        nook_error *err = NULL;
        for (unsigned i = 0; i < RACE_KEYS && rep.code == 0; i++) {
                if (i % 100 == 0) { /* reopen now and then: opening races too */
                        j = nook_journal_close(j);
                        if (nook_journal_open(path, &j, &err) < 0) {
                                rep.code = 1;
                                break;
                        }
                }
                char key[32], result[32];
                snprintf(key, sizeof(key), "key-%u", i);
                snprintf(result, sizeof(result), "{\"n\":%u}", i);
                nook_call_intent in = intent("run", key, "sha256:aa");
                nook_begin_outcome o = 0;
                int64_t id = 0;
                char *res = NULL;
                if (nook_journal_begin(j, &in, &o, &id, &res, &err) < 0) {
                        if (nook_error_get_kind(err) == NOOK_ERROR_INVALID_STATE_TRANSITION)
                                rep.in_progress++;
                        else
                                rep.code = 2;
                } else if (o == NOOK_BEGIN_NEW) {
                        rep.fresh++;
                        if (nook_journal_finish(j, id, result, &err) < 0)
                                rep.code = 3;
                } else if (o == NOOK_BEGIN_REPLAY && res && strcmp(res, result) == 0)
                        rep.replayed++;
                else
                        rep.code = 4;
                free(res);
        }
        if (rep.code)
                snprintf(rep.message, sizeof(rep.message), "%s", err ? nook_error_get_message(err) : "?");
        nook_error_free(err);
        nook_journal_close(j);
        (void)!write(out_fd, &rep, sizeof(rep));
        _exit(0);
}

static void test_two_processes_racing_on_one_key_get_one_new(void **state) {
        fixture *f = *state;
        for (int round = 0; round < RACE_ROUNDS; round++) {
                char path[PATH_MAX];
                snprintf(path, sizeof(path), "%s/race-%d/journal.db", f->dir, round);
                int start[2], out[2];
                assert_int_equal(pipe2(start, O_CLOEXEC), 0);
                assert_int_equal(pipe2(out, O_CLOEXEC), 0);
                pid_t pids[2];
                for (int i = 0; i < 2; i++) {
                        pids[i] = fork();
                        assert_true(pids[i] >= 0);
                        if (pids[i] == 0) {
                                close(start[1]);
                                close(out[0]);
                                race_child(path, start[0], out[1]);
                        }
                }
                close(start[0]);
                close(out[1]);
                close(start[1]); /* go */
                unsigned fresh = 0, replayed = 0, in_progress = 0;
                for (int i = 0; i < 2; i++) {
                        race_report rep;
                        assert_int_equal(read(out[0], &rep, sizeof(rep)), (ssize_t)sizeof(rep));
                        if (rep.code)
                                fail_msg("child failed (%d): %s", rep.code, rep.message);
                        fresh += rep.fresh, replayed += rep.replayed, in_progress += rep.in_progress;
                }
                close(out[0]);
                for (int i = 0; i < 2; i++) {
                        int status = 0;
                        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
                        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
                }
                assert_int_equal(fresh, RACE_KEYS); /* exactly one NEW per key */
                assert_int_equal(fresh + replayed + in_progress, 2 * RACE_KEYS);
                assert_int_equal(sql_int(path, "SELECT count(*) FROM calls WHERE status = 'done'"), RACE_KEYS);
                assert_int_equal(sql_int(path, "SELECT count(*) FROM calls"), RACE_KEYS);
        }
}

/* Another process holding the write lock for a while: begin waits (busy_timeout) rather
 * than failing. */
static void test_begin_waits_for_a_writer_in_another_process(void **state) {
        fixture *f = *state;
        nook_journal_close(open_ok(f->path));
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                sqlite3 *db = NULL;
                if (sqlite3_open(f->path, &db) != SQLITE_OK ||
                    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
                        _exit(1);
                (void)!write(p[1], "L", 1);
                usleep(300 * 1000);
                _exit(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : 2);
        }
        close(p[1]);
        char c = 0;
        assert_int_equal(read(p[0], &c, 1), 1);
        close(p[0]);
        nook_journal *j = open_ok(f->path); /* reading needs no lock in WAL mode */
        nook_call_intent in = intent("run", "k", "sha256:aa");
        begin_new(j, &in);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        nook_journal_close(j);
}

/* ---- fault points ---- */

static void test_fault_after_intent_fails_the_call_and_allows_retry(void **state) {
        fixture *f = *state;
        if (!NOOK_FAULT_INJECTION)
                skip();
        nook_journal *j = open_ok(f->path);
        nook_call_intent in = intent("run", "k", "sha256:aa");
        setenv("NOOK_FAULT", "journal.after_intent:errno=ENOSPC", 1);
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        nook_begin_outcome o = 0;
        assert_int_equal(nook_journal_begin(j, &in, &o, NULL, NULL, &err), -ENOSPC);
        assert_int_equal(o, 0);
        assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_JOURNAL_FAILURE);
        assert_int_equal(nook_error_get_errno(err), ENOSPC);
        unsetenv("NOOK_FAULT");
        _cleanup_free_ char *row = sql_text(f->path, "SELECT status || ' ' || error FROM calls");
        assert_non_null(strstr(row, "failed {\"Classified\":{\"kind\":\"JournalFailure\""));

        int64_t id = 0;
        assert_int_equal(nook_journal_begin(j, &in, &o, &id, NULL, NULL), 0);
        assert_int_equal(o, NOOK_BEGIN_RETRY);

        setenv("NOOK_FAULT", "journal.before_finish:errno=EIO", 1);
        assert_int_equal(nook_journal_finish(j, id, "{}", &err), -EIO);
        assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_JOURNAL_FAILURE);
        assert_int_equal(nook_journal_fail(j, id, "{}", &err), -EIO);
        unsetenv("NOOK_FAULT");
        assert_int_equal(nook_journal_finish(j, id, "{}", NULL), 0);
        nook_journal_close(j);
}

static void test_fault_kill_after_intent_leaves_an_interrupted_call(void **state) {
        fixture *f = *state;
        if (!NOOK_FAULT_INJECTION)
                skip();
        nook_journal_close(open_ok(f->path));
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                nook_journal *cj = NULL;
                nook_call_intent in = intent("run", "key-1", "sha256:aa");
                setenv("NOOK_FAULT", "journal.after_intent:kill", 1);
                if (nook_journal_open(f->path, &cj, NULL) == 0)
                        (void)nook_journal_begin(cj, &in, NULL, NULL, NULL, NULL);
                _exit(0);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        nook_journal *j = open_ok(f->path);
        nook_call_intent in = intent("run", "key-1", "sha256:aa");
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_journal_begin(j, &in, NULL, NULL, NULL, &err), -EOWNERDEAD);
        assert_interrupted(err, pid);
        nook_journal_close(j);
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
                T(test_open_creates_file_0600_and_dirs_0700_whatever_the_umask),
                T(test_open_leaves_existing_directory_mode_alone),
                T(test_open_uses_wal_and_current_schema),
                T(test_open_zero_length_file_initialises_it),
                T(test_open_in_unwritable_directory_is_user_action_needed),
                T(test_open_read_only_file_is_user_action_needed),
                T(test_begin_finish_then_same_key_replays_the_result),
                T(test_same_key_different_request_is_contract_violation_and_row_unchanged),
                T(test_notes_are_kept_with_the_call),
                T(test_failed_call_with_same_key_is_retried),
                T(test_intent_with_live_owner_is_in_progress),
                T(test_intent_of_a_dead_child_is_interrupted_until_reconciled),
                T(test_owner_identity_decides_liveness),
                T(test_null_key_is_always_new_and_keys_are_per_method),
                T(test_finish_twice_and_unknown_call_fail),
                T(test_reap_interrupted_counts_only_dead_intents),
                T(test_list_gives_newest_calls_oldest_first),
                T(test_resources_are_held_until_released),
                T(test_tickets_add_get_claim_once),
                T(test_migration_from_version_1_keeps_rows),
                T(test_newer_schema_is_refused_with_the_file_in_the_hint),
                T(test_random_bytes_are_journal_failure_not_a_crash),
                T(test_truncated_journal_is_journal_failure),
                T(test_garbage_page_is_journal_failure),
                T(test_smashed_first_page_is_journal_failure),
                T(test_repair_moves_a_corrupt_journal_aside),
                T(test_repair_moves_truncated_and_newer_journals_aside),
                T(test_repair_leaves_a_healthy_or_missing_journal_alone),
                T(test_two_processes_racing_on_one_key_get_one_new),
                T(test_begin_waits_for_a_writer_in_another_process),
                T(test_fault_after_intent_fails_the_call_and_allows_retry),
                T(test_fault_kill_after_intent_leaves_an_interrupted_call),
#undef T
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
