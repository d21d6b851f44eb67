/* nook core — the journal: one SQLite file (WAL; rollback journal on network
 * filesystems, where WAL's shared-memory index cannot work) holding calls, resources and
 * detach tickets.  The idempotency check and the intent row share one BEGIN IMMEDIATE
 * transaction; owners are told apart by pid, start time and boot id (proc(5)). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>

#include "core/journal.h"
#include "util/fault.h"
#include "util/trace.h"
#include "util/fs.h"
#include "util/proc.h"
#include "util/clock.h"

/* errno values that mark "this file is not a journal we can use": nook_journal_repair_file()
 * moves such files aside and leaves every other failure (locks, permissions) alone. */
#define JOURNAL_EDAMAGED EUCLEAN
#define JOURNAL_ENEWER EPROTONOSUPPORT

#define JOURNAL_BUSY_TIMEOUT_MS 5000
#define JOURNAL_WAL_PAGES 128

enum {
        Q_BEGIN,
        Q_COMMIT,
        Q_ROLLBACK,
        Q_CALL_FIND,
        Q_CALL_INSERT,
        Q_CALL_RETRY,
        Q_CALL_INTERRUPT,
        Q_CALL_END,
        Q_CALL_STATUS,
        Q_CALL_INTENTS,
        Q_ENV_INTENTS,
        Q_ENV_NEEDS_REPAIR,
        Q_ENV_RECONCILE,
        Q_ENV_RETIRE,
        Q_CALL_LIST,
        Q_CALL_NOTE,
        Q_RES_ADD,
        Q_RES_SET_PID,
        Q_RES_RELEASE,
        Q_RES_EXISTS,
        Q_RES_HELD_ENV,
        Q_RES_HELD_ALL,
        Q_TICKET_ADD,
        Q_TICKET_GET,
        Q_TICKET_CLAIM,
        _Q_MAX,
};

#define RES_COLUMNS "id, environment_id, kind, ref, pid, pid_start, detail, created_ms, released_ms"

static const char *const queries[_Q_MAX] = {
        [Q_BEGIN] = "BEGIN IMMEDIATE",
        [Q_COMMIT] = "COMMIT",
        [Q_ROLLBACK] = "ROLLBACK",
        [Q_CALL_FIND] = "SELECT id, request_hash, status, result, owner_pid, owner_start, owner_boot, "
                        "environment_id FROM calls WHERE method = ?1 AND idem_key = ?2",
        [Q_CALL_INSERT] = "INSERT INTO calls (method, idem_key, request_hash, request, environment_id, status, "
                          "owner_pid, owner_start, owner_boot, started_ms) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, 'intent', ?6, ?7, ?8, ?9)",
        [Q_CALL_RETRY] = "UPDATE calls SET status = 'intent', result = NULL, error = NULL, finished_ms = NULL, "
                         "owner_pid = ?2, owner_start = ?3, owner_boot = ?4, started_ms = ?5, "
                         "request_hash = ?6, request = ?7 "
                         "WHERE id = ?1 AND status = 'failed'",
        [Q_CALL_INTERRUPT] = "UPDATE calls SET status = 'interrupted', finished_ms = ?5 WHERE id = ?1 "
                             "AND status = 'intent' AND owner_pid = ?2 AND owner_start = ?3 AND owner_boot = ?4",
        [Q_CALL_END] = "UPDATE calls SET status = ?2, result = ?3, error = ?4, finished_ms = ?5 "
                       "WHERE id = ?1 AND status = 'intent'",
        [Q_CALL_STATUS] = "SELECT status FROM calls WHERE id = ?1",
        [Q_CALL_INTENTS] = "SELECT id, owner_pid, owner_start, owner_boot FROM calls WHERE status = 'intent'",
        [Q_ENV_INTENTS] = "SELECT id, owner_pid, owner_start, owner_boot FROM calls "
                          "WHERE environment_id = ?1 AND status = 'intent'",
        [Q_ENV_NEEDS_REPAIR] = "SELECT EXISTS (SELECT 1 FROM calls WHERE environment_id = ?1 "
                               "AND status = 'interrupted' AND reconciled_ms IS NULL)",
        [Q_ENV_RECONCILE] = "UPDATE calls SET reconciled_ms = ?2 WHERE environment_id = ?1 "
                            "AND status = 'interrupted' AND reconciled_ms IS NULL",
        /* a session's derived keys ("env:...") are freed once it is cleaned up, so the
         * same environment id can be prepared again; the rows stay, keyed "...#<id>" */
        [Q_ENV_RETIRE] = "UPDATE calls SET idem_key = idem_key || '#' || id WHERE environment_id = ?1 "
                         "AND idem_key LIKE 'env:%' AND instr(idem_key, '#') = 0 AND status != 'intent'",
        [Q_CALL_LIST] = "SELECT id, started_ms, finished_ms, method, idem_key, request_hash, status, "
                        "environment_id, request, result, error, owner_pid, notes "
                        "FROM (SELECT * FROM calls ORDER BY id DESC LIMIT ?1) ORDER BY id",
        [Q_CALL_NOTE] = "UPDATE calls SET notes = coalesce(notes || char(10), '') || ?2 WHERE id = ?1",
        [Q_RES_ADD] = "INSERT INTO resources (environment_id, kind, ref, pid, pid_start, detail, created_ms) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        [Q_RES_SET_PID] = "UPDATE resources SET pid = ?2, pid_start = ?3 WHERE id = ?1",
        [Q_RES_RELEASE] = "UPDATE resources SET released_ms = ?2 WHERE id = ?1 AND released_ms IS NULL",
        [Q_RES_EXISTS] = "SELECT 1 FROM resources WHERE id = ?1",
        [Q_RES_HELD_ENV] = "SELECT " RES_COLUMNS " FROM resources "
                           "WHERE environment_id = ?1 AND released_ms IS NULL ORDER BY id DESC",
        [Q_RES_HELD_ALL] = "SELECT " RES_COLUMNS " FROM resources WHERE released_ms IS NULL ORDER BY id DESC",
        [Q_TICKET_ADD] = "INSERT INTO tickets (ticket_ref, environment_id, created_ms) VALUES (?1, ?2, ?3) "
                         "ON CONFLICT (ticket_ref) DO NOTHING",
        [Q_TICKET_GET] = "SELECT environment_id, claimed_ms FROM tickets WHERE ticket_ref = ?1",
        [Q_TICKET_CLAIM] = "UPDATE tickets SET claimed_ms = ?2 WHERE ticket_ref = ?1 AND claimed_ms IS NULL",
};

/* migrations[v] takes a journal from schema version v to v + 1; each runs in its own
 * transaction together with the user_version bump.  Never edit a released step: add one. */
static const char *const migrations[NOOK_JOURNAL_SCHEMA_VERSION] = {
        /* 1: calls and the resources they create */
        "CREATE TABLE calls ("
        " id INTEGER PRIMARY KEY,"
        " method TEXT NOT NULL,"
        " idem_key TEXT,"
        " request_hash TEXT NOT NULL,"
        " request TEXT NOT NULL,"
        " environment_id TEXT,"
        " status TEXT NOT NULL CHECK (status IN ('intent', 'done', 'failed', 'interrupted')),"
        " result TEXT,"
        " error TEXT,"
        " owner_pid INTEGER NOT NULL,"
        " owner_start INTEGER NOT NULL,"
        " owner_boot TEXT NOT NULL,"
        " started_ms INTEGER NOT NULL,"
        " finished_ms INTEGER);"
        "CREATE UNIQUE INDEX calls_idem ON calls (method, idem_key) WHERE idem_key IS NOT NULL;"
        "CREATE INDEX calls_environment ON calls (environment_id);"
        "CREATE TABLE resources ("
        " id INTEGER PRIMARY KEY,"
        " environment_id TEXT,"
        " kind TEXT NOT NULL,"
        " ref TEXT NOT NULL,"
        " pid INTEGER NOT NULL DEFAULT 0,"
        " pid_start INTEGER NOT NULL DEFAULT 0,"
        " detail TEXT,"
        " created_ms INTEGER NOT NULL,"
        " released_ms INTEGER,"
        " call_id INTEGER REFERENCES calls (id));"
        "CREATE INDEX resources_environment ON resources (environment_id);",
        /* 2: detach tickets; cleanup marks interrupted calls reconciled; open intents indexed */
        "ALTER TABLE calls ADD COLUMN reconciled_ms INTEGER;"
        "CREATE TABLE tickets ("
        " ticket_ref TEXT PRIMARY KEY,"
        " environment_id TEXT NOT NULL,"
        " created_ms INTEGER NOT NULL,"
        " claimed_ms INTEGER);"
        "CREATE INDEX calls_intent ON calls (status) WHERE status = 'intent';",
        /* 3: what a call accepted to give up (a downgrade), one line each */
        "ALTER TABLE calls ADD COLUMN notes TEXT;",
};

/* How many of calls, resources, tickets exist at each schema version. */
static const int tables_at_version[NOOK_JOURNAL_SCHEMA_VERSION + 1] = { 0, 2, 3, 3 };

struct nook_journal {
        sqlite3 *db;
        char *path;
        nook_owner self;
        sqlite3_stmt *stmts[_Q_MAX];
};

/* A trace span around each public write (util/trace.h): what the journal costs a start. */
static void trace_endp(const char *const *point) {
        nook_trace(*point);
}
#define JOURNAL_SPAN                                                                    \
        _cleanup_(trace_endp) __attribute__((unused)) const char *const journal_span_ = \
                (nook_trace("journal {"), "journal }")

static bool streq(const char *a, const char *b) {
        return a && b && strcmp(a, b) == 0;
}

/* ---- owners ---- */

const char *nook_call_status_name(nook_call_status s) {
        switch (s) {
        case NOOK_CALL_INTENT:
                return "intent";
        case NOOK_CALL_DONE:
                return "done";
        case NOOK_CALL_FAILED:
                return "failed";
        case NOOK_CALL_INTERRUPTED:
                return "interrupted";
        }
        return "unknown";
}

int nook_owner_self(nook_owner *ret) {
        nook_owner o = { .pid = getpid() };
        int r = nook_proc_start_time(o.pid, &o.start_time);
        if (r < 0)
                return r;
        r = nook_proc_boot_id(o.boot_id);
        if (r < 0)
                return r;
        *ret = o;
        return 0;
}

/* boot is the current boot id, or "" when it cannot be read.  When liveness cannot be
 * told (a /proc read failing other than with ENOENT/ESRCH) the owner counts as alive: a
 * live call wrongly marked interrupted is worse than an "in progress" answer. */
static bool owner_alive(const nook_owner *o, const char *boot) {
        if (o->pid <= 0)
                return false;
        if (boot[0] && strcmp(o->boot_id, boot) != 0)
                return false;
        uint64_t start;
        int r = nook_proc_start_time(o->pid, &start);
        if (r == -ENOENT || r == -ESRCH)
                return false;
        return r < 0 || start == o->start_time;
}

bool nook_owner_alive(const nook_owner *o) {
        char boot[40];
        if (!o)
                return false;
        if (nook_proc_boot_id(boot) < 0)
                boot[0] = 0;
        return owner_alive(o, boot);
}

/* ---- errors ---- */

static const char *sqlite_code_name(int rc) {
        switch (rc & 0xff) {
        case SQLITE_CORRUPT:
                return "SQLITE_CORRUPT";
        case SQLITE_NOTADB:
                return "SQLITE_NOTADB";
        case SQLITE_FULL:
                return "SQLITE_FULL";
        case SQLITE_BUSY:
                return "SQLITE_BUSY";
        case SQLITE_LOCKED:
                return "SQLITE_LOCKED";
        case SQLITE_READONLY:
                return "SQLITE_READONLY";
        case SQLITE_CANTOPEN:
                return "SQLITE_CANTOPEN";
        case SQLITE_PERM:
                return "SQLITE_PERM";
        case SQLITE_IOERR:
                return "SQLITE_IOERR";
        case SQLITE_NOMEM:
                return "SQLITE_NOMEM";
        case SQLITE_CONSTRAINT:
                return "SQLITE_CONSTRAINT";
        case SQLITE_AUTH:
                return "SQLITE_AUTH";
        default:
                return "SQLITE_ERROR";
        }
}

static int damaged_error(const char *path, const char *what, nook_error **err) {
        int r = nook_error_set(err, NOOK_ERROR_JOURNAL_FAILURE, NOOK_RETRY_REPAIR_NEEDED, JOURNAL_EDAMAGED,
                               "journal database is corrupt or not a database (%s)", what);
        nook_error_set_hint(err,
                            "the journal file %s cannot be read; run 'nook journal repair' to move it aside "
                            "and start a new one",
                            path);
        return r;
}

/* Turns an SQLite result code into a JournalFailure.  Messages carry no host path
 * (they reach programs as JSON); the hint names the file. */
static int sqlite_error(const char *path, sqlite3 *db, int rc, nook_error **err) {
        int sys = db ? sqlite3_system_errno(db) : 0, r;
        const char *name = sqlite_code_name(rc);

        switch (rc & 0xff) {
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return damaged_error(path, name, err);
        case SQLITE_IOERR:
                if (sys != ENOSPC && sys != EDQUOT) {
                        int e = sys > 0 ? sys : EIO;
                        r = nook_error_set(err, NOOK_ERROR_JOURNAL_FAILURE, NOOK_RETRY_NOT_RETRYABLE, e,
                                           "journal I/O error (%s, extended code %d): %s", name, rc, strerror(e));
                        nook_error_set_hint(err, "reading or writing the journal file %s failed", path);
                        return r;
                }
                __attribute__((fallthrough));
        case SQLITE_FULL:
                r = nook_error_set(err, NOOK_ERROR_JOURNAL_FAILURE, NOOK_RETRY_USER_ACTION_NEEDED, ENOSPC,
                                   "journal database cannot grow: disk full (%s)", name);
                nook_error_set_hint(err, "free space on the filesystem holding the journal file %s", path);
                return r;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                r = nook_error_set(err, NOOK_ERROR_JOURNAL_FAILURE, NOOK_RETRY_RETRYABLE, EBUSY,
                                   "journal database is locked by another process (%s, extended code %d)", name, rc);
                nook_error_set_hint(err, "another process holds the journal file %s; try again", path);
                return r;
        case SQLITE_READONLY:
        case SQLITE_CANTOPEN:
        case SQLITE_PERM:
        case SQLITE_AUTH: {
                /* the errno is only known when SQLite recorded the failing system call */
                int e = sys > 0 ? sys : EACCES;
                r = nook_error_set(err, NOOK_ERROR_JOURNAL_FAILURE, NOOK_RETRY_USER_ACTION_NEEDED, e,
                                   "journal database %s (%s)%s%s",
                                   (rc & 0xff) == SQLITE_READONLY ? "is read-only" : "cannot be opened", name,
                                   sys > 0 ? ": " : "", sys > 0 ? strerror(sys) : "");
                nook_error_set_hint(err, "check that the journal file %s and its directory are writable by you", path);
                return r;
        }
        case SQLITE_NOMEM:
                return nook_error_oom(err);
        default:
                r = nook_error_set(err, NOOK_ERROR_JOURNAL_FAILURE, NOOK_RETRY_NOT_RETRYABLE, EIO,
                                   "journal query failed (%s, code %d): %s", name, rc, sqlite3_errstr(rc));
                nook_error_set_hint(err, "the journal file is %s", path);
                return r;
        }
}

static int journal_error(nook_journal *j, int rc, nook_error **err) {
        return sqlite_error(j->path, j->db, rc, err);
}

static int fault_error(int r, const char *point, nook_error **err) {
        return nook_error_set(err, NOOK_ERROR_JOURNAL_FAILURE, nook_retry_for_errno(-r), -r,
                              "journal failure at %s (injected fault): %s", point, strerror(-r));
}

static int bad_argument(nook_error **err, const char *what) {
        return nook_error_set(err, NOOK_ERROR_JOURNAL_FAILURE, NOOK_RETRY_NOT_RETRYABLE, EINVAL, "journal: %s", what);
}

/* ---- statements ---- */

/* Prepared once per connection, reset (not finalized) when the borrowing scope ends. */
static int stmt(nook_journal *j, unsigned q, sqlite3_stmt **ret, nook_error **err) {
        if (!j->stmts[q]) {
                int rc = sqlite3_prepare_v3(j->db, queries[q], -1, SQLITE_PREPARE_PERSISTENT, &j->stmts[q], NULL);
                if (rc != SQLITE_OK)
                        return journal_error(j, rc, err);
        } else if (sqlite3_stmt_busy(j->stmts[q]))
                /* a visit callback called back into the query it is being fed from */
                return nook_error_set(err, NOOK_ERROR_JOURNAL_FAILURE, NOOK_RETRY_NOT_RETRYABLE, EBUSY,
                                      "journal query re-entered from its own visit callback");
        *ret = j->stmts[q];
        return 0;
}

static void stmt_resetp(sqlite3_stmt **s) {
        if (*s) {
                sqlite3_reset(*s);
                sqlite3_clear_bindings(*s);
        }
}
#define _cleanup_stmt_ _cleanup_(stmt_resetp)

static void stmt_finalizep(sqlite3_stmt **s) {
        sqlite3_finalize(*s);
}

/* 1 on a row, 0 when done, negative on error. */
static int step(nook_journal *j, sqlite3_stmt *s, nook_error **err) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
                return 1;
        if (rc == SQLITE_DONE)
                return 0;
        return journal_error(j, rc, err);
}

static int bind_text(sqlite3_stmt *s, int i, const char *v) {
        return sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

/* A parameter for jbind(): text (NULL binds SQL NULL; the string must outlive the step)
 * or an integer. */
typedef struct jval {
        bool is_text;
        const char *text;
        int64_t num;
} jval;
#define JT(v) ((jval){ .is_text = true, .text = (v) })
#define JI(v) ((jval){ .num = (int64_t)(v) })
#define JOWNER(o) JI((o)->pid), JI((o)->start_time), JT((o)->boot_id)

static int bind_values(nook_journal *j, sqlite3_stmt *s, const jval *v, size_t n, nook_error **err) {
        for (size_t i = 0; i < n; i++) {
                int rc = v[i].is_text ? bind_text(s, (int)i + 1, v[i].text)
                                      : sqlite3_bind_int64(s, (int)i + 1, v[i].num);
                if (rc != SQLITE_OK)
                        return journal_error(j, rc, err);
        }
        return 0;
}
/* jbind(j, s, err, JT(a), JI(b), ...) binds ?1, ?2, ... in order. */
#define jbind(j, s, err, ...) \
        bind_values(j, s, (const jval[]){ __VA_ARGS__ }, sizeof((const jval[]){ __VA_ARGS__ }) / sizeof(jval), err)

static void column_owner(sqlite3_stmt *s, int first, nook_owner *ret) {
        const char *boot = (const char *)sqlite3_column_text(s, first + 2);
        *ret = (nook_owner){ .pid = (pid_t)sqlite3_column_int64(s, first),
                             .start_time = (uint64_t)sqlite3_column_int64(s, first + 1) };
        snprintf(ret->boot_id, sizeof(ret->boot_id), "%s", boot ? boot : "");
}

/* Runs a statement that returns no rows. */
static int exec_q(nook_journal *j, unsigned q, nook_error **err) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = stmt(j, q, &s, err);
        if (r < 0)
                return r;
        r = step(j, s, err);
        return r < 0 ? r : 0;
}

/* Rolls back an open transaction when the scope ends without COMMIT. */
static void txn_abortp(nook_journal **j) {
        if (*j && !sqlite3_get_autocommit((*j)->db))
                (void)exec_q(*j, Q_ROLLBACK, NULL);
}
#define _cleanup_txn_ _cleanup_(txn_abortp)

static int txn_begin(nook_journal *j, nook_journal **ret_guard, nook_error **err) {
        int r = exec_q(j, Q_BEGIN, err);
        if (r < 0)
                return r;
        *ret_guard = j;
        return 0;
}

static int txn_commit(nook_journal **guard, nook_error **err) {
        int r = exec_q(*guard, Q_COMMIT, err);
        if (r < 0)
                return r;
        *guard = NULL;
        return 0;
}

/* ---- open, schema ---- */

/* Creates the file 0600 (umask-independent) so SQLite never creates it with the
 * caller's umask; SQLite gives -wal and -shm the mode of the database file. Says whether
 * it is on a network filesystem: WAL keeps its index in a shared mmap (the -shm file),
 * which those do not keep coherent between hosts: https://www.sqlite.org/wal.html#noshm */
static int precreate_file(const char *path, bool *ret_network) {
        struct statfs sf;
        _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd >= 0) {
                if (fchmod(fd, 0600) < 0 || fstatfs(fd, &sf) < 0)
                        return negative_errno();
        } else if (errno != EEXIST || statfs(path, &sf) < 0)
                return negative_errno();
        *ret_network = nook_fs_is_network(sf.f_type);
        return 0;
}

static bool companion_nonempty(const char *path, const char *suffix) {
        char name[PATH_MAX];
        struct stat st;
        if ((size_t)snprintf(name, sizeof(name), "%s%s", path, suffix) >= sizeof(name))
                return true;
        return stat(name, &st) == 0 && st.st_size > 0;
}

static uint32_t be32(const uint8_t *p) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A file shorter than the page count its header vouches for was cut short (a partial
 * copy, a full disk); SQLite would only notice when a query reaches a missing page.
 * The header: https://www.sqlite.org/fileformat2.html#the_database_header.  Read through
 * SQLite's own file handle: closing a second fd on the file would drop the POSIX locks
 * this process holds on it (fcntl(2)).  Not judged while a -wal or hot -journal may
 * still hold pages not yet written back. */
static int check_header(nook_journal *j, nook_error **err) {
        sqlite3_file *f = NULL;
        sqlite3_int64 size = 0;
        uint8_t h[100];
        if (sqlite3_file_control(j->db, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || !f || !f->pMethods ||
            f->pMethods->xFileSize(f, &size) != SQLITE_OK || size < (sqlite3_int64)sizeof(h) ||
            f->pMethods->xRead(f, h, sizeof(h), 0) != SQLITE_OK)
                return 0;
        if (memcmp(h, "SQLite format 3", 16) != 0)
                return 0; /* SQLite answers SQLITE_NOTADB for it */
        uint32_t page_size = h[16] << 8 | h[17], pages = be32(h + 28);
        if (page_size == 1)
                page_size = 65536;
        if (pages == 0 || be32(h + 24) != be32(h + 92) || (uint64_t)pages * page_size <= (uint64_t)size)
                return 0;
        if (companion_nonempty(j->path, "-wal") || companion_nonempty(j->path, "-journal"))
                return 0;
        return damaged_error(j->path, "file is shorter than its header says: truncated", err);
}

static int user_version(nook_journal *j, int *ret, nook_error **err) {
        _cleanup_(stmt_finalizep) sqlite3_stmt *s = NULL;
        int rc = sqlite3_prepare_v2(j->db, "PRAGMA user_version", -1, &s, NULL);
        if (rc != SQLITE_OK)
                return journal_error(j, rc, err);
        int r = step(j, s, err);
        if (r < 0)
                return r;
        *ret = r > 0 ? sqlite3_column_int(s, 0) : 0;
        return 0;
}

static int newer_error(const char *path, int v, nook_error **err) {
        int r = nook_error_set(err, NOOK_ERROR_JOURNAL_FAILURE, NOOK_RETRY_USER_ACTION_NEEDED, JOURNAL_ENEWER,
                               "journal schema version %d is newer than this nook understands (%d); upgrade nook", v,
                               NOOK_JOURNAL_SCHEMA_VERSION);
        nook_error_set_hint(err,
                            "the journal file %s was written by a newer nook; upgrade nook, or run "
                            "'nook journal repair' to move it aside and start a new one",
                            path);
        return r;
}

/* The tables a version promises are there: a file whose user_version survived but whose
 * schema did not (a truncated file, someone else's database) is damaged. */
static int check_schema(nook_journal *j, int v, nook_error **err) {
        _cleanup_(stmt_finalizep) sqlite3_stmt *s = NULL;
        int rc = sqlite3_prepare_v2(j->db,
                                    "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                                    "AND name IN ('calls', 'resources', 'tickets')",
                                    -1, &s, NULL);
        if (rc != SQLITE_OK)
                return journal_error(j, rc, err);
        int r = step(j, s, err);
        if (r < 0)
                return r;
        if (sqlite3_column_int(s, 0) != tables_at_version[v])
                return damaged_error(j->path, "tables missing for its schema version", err);
        return 0;
}

/* One step, in one transaction; the version is read again under the write lock, so two
 * processes opening a new file at once migrate it once. */
static int migrate_step(nook_journal *j, int target, int *v, nook_error **err) {
        _cleanup_txn_ nook_journal *txn = NULL;
        int r = txn_begin(j, &txn, err);
        if (r < 0)
                return r;
        r = user_version(j, v, err);
        if (r < 0 || *v >= target)
                return r < 0 ? r : txn_commit(&txn, err);
        int rc = sqlite3_exec(j->db, migrations[*v], NULL, NULL, NULL);
        if ((rc & 0xff) == SQLITE_ERROR) /* the schema is not the one its version promises */
                return damaged_error(j->path, "schema does not match its version", err);
        if (rc != SQLITE_OK)
                return journal_error(j, rc, err);
        char sql[64];
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", *v + 1);
        rc = sqlite3_exec(j->db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
                return journal_error(j, rc, err);
        r = txn_commit(&txn, err);
        if (r < 0)
                return r;
        (*v)++;
        return 0;
}

static int migrate(nook_journal *j, int target, nook_error **err) {
        int v, r = user_version(j, &v, err);
        if (r < 0)
                return r;
        if (v > NOOK_JOURNAL_SCHEMA_VERSION)
                return newer_error(j->path, v, err);
        if (v < 0)
                return damaged_error(j->path, "negative schema version", err);
        while (v < target) {
                r = migrate_step(j, target, &v, err);
                if (r < 0)
                        return r;
                if (v > NOOK_JOURNAL_SCHEMA_VERSION)
                        return newer_error(j->path, v, err);
        }
        return check_schema(j, v, err);
}

/* Connection settings; no I/O yet. */
static void connection_setup(nook_journal *j) {
        sqlite3_extended_result_codes(j->db, 1);
        sqlite3_busy_timeout(j->db, JOURNAL_BUSY_TIMEOUT_MS);
        /* the file is data, not code: no writable_schema tricks, no functions with side
         * effects reachable from triggers or views stored in it */
        sqlite3_db_config(j->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
        sqlite3_db_config(j->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
        /* Most opens are one CLI call: closing the last connection would checkpoint and
         * delete the WAL (two fsyncs), and the next write would recreate it (two more,
         * the file and its directory).  Left in place, the WAL is checkpointed by
         * whichever commit passes JOURNAL_WAL_PAGES, which also bounds what the next
         * open has to scan (wal.html#ckpt).  It also leaves a damaged file's -wal as
         * it was, for repair to move aside with it. */
        sqlite3_db_config(j->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
}

/* Switching a new file to WAL takes the exclusive lock without calling the busy handler
 * (pagerExclusiveLock() in SQLite's pager.c), so two processes opening a new journal at
 * once can get SQLITE_BUSY here whatever busy_timeout says: wait as it would. */
static int set_journal_mode(nook_journal *j, bool network, nook_error **err) {
        const char *sql = network ? "PRAGMA journal_mode = DELETE" : "PRAGMA journal_mode = WAL";
        for (unsigned waited_ms = 0;; waited_ms += 2) {
                int rc = sqlite3_exec(j->db, sql, NULL, NULL, NULL);
                if (rc == SQLITE_OK)
                        return 0;
                if ((rc & 0xff) != SQLITE_BUSY || waited_ms >= JOURNAL_BUSY_TIMEOUT_MS)
                        return journal_error(j, rc, err);
                (void)nanosleep(&(struct timespec){ .tv_nsec = 2 * 1000 * 1000 }, NULL);
        }
}

static int configure(nook_journal *j, bool network, nook_error **err) {
        int r = set_journal_mode(j, network, err);
        if (r < 0)
                return r;
        int rc = sqlite3_exec(j->db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;", NULL, NULL, NULL);
        if (rc != SQLITE_OK)
                return journal_error(j, rc, err);
        sqlite3_wal_autocheckpoint(j->db, JOURNAL_WAL_PAGES);
        return 0;
}

static int open_prepare_path(const char *path, bool *ret_network, nook_error **err) {
        int r = nook_mkdir_parents(path);
        if (r < 0) {
                r = nook_error_set(err, NOOK_ERROR_JOURNAL_FAILURE, nook_retry_for_errno(-r), -r,
                                   "cannot create the journal directory: %s", strerror(-r));
                nook_error_set_hint(err, "creating the directory of the journal file %s failed", path);
                return r;
        }
        r = precreate_file(path, ret_network);
        if (r < 0) {
                r = nook_error_set(err, NOOK_ERROR_JOURNAL_FAILURE, nook_retry_for_errno(-r), -r,
                                   "cannot create the journal database: %s", strerror(-r));
                nook_error_set_hint(err, "creating the journal file %s failed", path);
                return r;
        }
        return 0;
}

static int journal_open_at(const char *path, int target, nook_journal **ret, nook_error **err) {
        if (!path || !*path)
                return bad_argument(err, "no journal path");
        bool network = false;
        int r = open_prepare_path(path, &network, err);
        if (r < 0)
                return r;
        _cleanup_(nook_journal_closep) nook_journal *j = calloc(1, sizeof(*j));
        if (!j || !(j->path = strdup(path)))
                return nook_error_oom(err);
        r = nook_owner_self(&j->self);
        if (r < 0)
                return nook_error_set(err, NOOK_ERROR_JOURNAL_FAILURE, NOOK_RETRY_NOT_RETRYABLE, -r,
                                      "journal: cannot read this process's identity from /proc: %s", strerror(-r));
        int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
#ifdef SQLITE_OPEN_EXRESCODE
        flags |= SQLITE_OPEN_EXRESCODE;
#endif
        int rc = sqlite3_open_v2(path, &j->db, flags, NULL);
        if (rc != SQLITE_OK)
                return journal_error(j, rc, err);
        connection_setup(j);
        r = check_header(j, err);
        if (r < 0)
                return r;
        r = configure(j, network, err);
        if (r < 0)
                return r;
        r = migrate(j, target, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(j);
        return 0;
}

int nook_journal_open(const char *path, nook_journal **ret, nook_error **err) {
        JOURNAL_SPAN;
        return journal_open_at(path, NOOK_JOURNAL_SCHEMA_VERSION, ret, err);
}

int nook_journal_create_at_version(const char *path, int version, nook_error **err) {
        if (version < 0 || version > NOOK_JOURNAL_SCHEMA_VERSION)
                return bad_argument(err, "no such schema version");
        _cleanup_(nook_journal_closep) nook_journal *j = NULL;
        return journal_open_at(path, version, &j, err);
}

nook_journal *nook_journal_close(nook_journal *j) {
        if (!j)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(j->stmts); i++)
                sqlite3_finalize(j->stmts[i]);
        sqlite3_close_v2(j->db);
        free(j->path);
        free(j);
        return NULL;
}

const char *nook_journal_path(const nook_journal *j) {
        return j ? j->path : NULL;
}

/* ---- calls ---- */

typedef struct found_call {
        int64_t id;
        char *hash;
        char *status;
        char *result;
        char *environment_id;
        nook_owner owner;
} found_call;

static void found_call_done(found_call *f) {
        free(f->hash);
        free(f->status);
        free(f->result);
        free(f->environment_id);
}

static char *column_strdup(sqlite3_stmt *s, int col, bool *oom) {
        const char *v = (const char *)sqlite3_column_text(s, col);
        char *d = v ? strdup(v) : NULL;
        if (v && !d)
                *oom = true;
        return d;
}

/* 1 and *f filled when the (method, key) row exists, 0 when not. */
static int call_find(nook_journal *j, const nook_call_intent *in, found_call *f, nook_error **err) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = stmt(j, Q_CALL_FIND, &s, err);
        if (r < 0)
                return r;
        r = jbind(j, s, err, JT(in->method), JT(in->idempotency_key));
        if (r < 0)
                return r;
        r = step(j, s, err);
        if (r <= 0)
                return r;
        bool oom = false;
        f->id = sqlite3_column_int64(s, 0);
        f->hash = column_strdup(s, 1, &oom);
        f->status = column_strdup(s, 2, &oom);
        f->result = column_strdup(s, 3, &oom);
        column_owner(s, 4, &f->owner);
        f->environment_id = column_strdup(s, 7, &oom);
        return oom ? nook_error_oom(err) : 1;
}

static int call_insert(nook_journal *j, const nook_call_intent *in, int64_t *ret_id, nook_error **err) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = stmt(j, Q_CALL_INSERT, &s, err);
        if (r < 0)
                return r;
        r = jbind(j, s, err, JT(in->method), JT(in->idempotency_key), JT(in->request_hash), JT(in->request_json),
                  JT(in->environment_id), JOWNER(&j->self), JI(nook_wall_ms()));
        if (r < 0)
                return r;
        r = step(j, s, err);
        if (r < 0)
                return r;
        *ret_id = sqlite3_last_insert_rowid(j->db);
        return 0;
}

static int call_retry(nook_journal *j, int64_t id, const nook_call_intent *in, nook_error **err) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = stmt(j, Q_CALL_RETRY, &s, err);
        if (r < 0)
                return r;
        r = jbind(j, s, err, JI(id), JOWNER(&j->self), JI(nook_wall_ms()), JT(in->request_hash), JT(in->request_json));
        if (r < 0)
                return r;
        r = step(j, s, err);
        return r < 0 ? r : 0;
}

/* intent -> interrupted, only while the row still has that owner; 1 when changed. */
static int call_interrupt(nook_journal *j, int64_t id, const nook_owner *o, nook_error **err) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = stmt(j, Q_CALL_INTERRUPT, &s, err);
        if (r < 0)
                return r;
        r = jbind(j, s, err, JI(id), JOWNER(o), JI(nook_wall_ms()));
        if (r < 0)
                return r;
        r = step(j, s, err);
        return r < 0 ? r : sqlite3_changes(j->db) > 0;
}

static int interrupted_error(const nook_call_intent *in, const found_call *f, nook_error **err) {
        if (f->environment_id)
                return nook_error_set(err, NOOK_ERROR_RECOVERY_REPAIR_NEEDED, NOOK_RETRY_REPAIR_NEEDED, EOWNERDEAD,
                                      "call %s (idempotency key %s) of environment %s was interrupted: its owner "
                                      "process %d died before it finished; run cleanup for the environment or "
                                      "'nook gc'",
                                      in->method, in->idempotency_key, f->environment_id, (int)f->owner.pid);
        return nook_error_set(err, NOOK_ERROR_RECOVERY_REPAIR_NEEDED, NOOK_RETRY_REPAIR_NEEDED, EOWNERDEAD,
                              "call %s (idempotency key %s) was interrupted: its owner process %d died before it "
                              "finished; run 'nook gc'",
                              in->method, in->idempotency_key, (int)f->owner.pid);
}

/* The key is known: decide per journal.h; may commit (an intent found dead is marked
 * interrupted before the error is returned). */
static int begin_existing(nook_journal *j, nook_journal **txn, const nook_call_intent *in, const found_call *f,
                          nook_begin_outcome *ret, nook_error **err) {
        /* A failed call left no result to protect: its key may be retried, with a
         * corrected request too (the row takes the new request and hash). */
        if (streq(f->status, "failed")) {
                *ret = NOOK_BEGIN_RETRY;
                return call_retry(j, f->id, in, err);
        }
        if (!streq(f->hash, in->request_hash))
                return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, "/idempotency_key",
                                        "idempotency key %s was already used for a different %s request",
                                        in->idempotency_key, in->method);
        if (streq(f->status, "done")) {
                *ret = NOOK_BEGIN_REPLAY;
                return 0;
        }
        if (streq(f->status, "intent")) {
                if (owner_alive(&f->owner, j->self.boot_id))
                        return nook_error_set(err, NOOK_ERROR_INVALID_STATE_TRANSITION, NOOK_RETRY_RETRYABLE, EBUSY,
                                              "call %s (idempotency key %s) is in progress in pid %d", in->method,
                                              in->idempotency_key, (int)f->owner.pid);
                int r = call_interrupt(j, f->id, &f->owner, err);
                if (r < 0)
                        return r;
                r = txn_commit(txn, err);
                if (r < 0)
                        return r;
        }
        return interrupted_error(in, f, err);
}

static int call_end(nook_journal *j, int64_t id, nook_call_status st, const char *result, const char *error,
                    nook_error **err);

/* The after_intent fault stands for a failure right after the intent commit: the row is
 * marked failed (with the error) so that the same key can be retried. */
static int after_intent_fault(nook_journal *j, int64_t id, nook_error **err) {
        int r = nook_fault("journal.after_intent");
        if (r >= 0)
                return 0;
        _cleanup_(nook_error_freep) nook_error *local = NULL;
        nook_error **e = err ? err : &local;
        r = fault_error(r, "journal.after_intent", e);
        _cleanup_free_ char *json = nook_error_to_json(*e);
        (void)call_end(j, id, NOOK_CALL_FAILED, NULL, json, NULL);
        return r;
}

int nook_journal_begin(nook_journal *j, const nook_call_intent *in, nook_begin_outcome *ret_outcome,
                       int64_t *ret_call_id, char **ret_result, nook_error **err) {
        JOURNAL_SPAN;
        if (!j || !in || !in->method || !in->request_hash || !in->request_json)
                return bad_argument(err, "call intent without method, request hash or request");
        _cleanup_(found_call_done) found_call f = { 0 };
        _cleanup_txn_ nook_journal *txn = NULL;
        int r = txn_begin(j, &txn, err);
        if (r < 0)
                return r;
        if (in->idempotency_key) {
                r = call_find(j, in, &f, err);
                if (r < 0)
                        return r;
        }
        nook_begin_outcome outcome = NOOK_BEGIN_NEW;
        int64_t id = f.id;
        if (r == 0)
                r = call_insert(j, in, &id, err);
        else
                r = begin_existing(j, &txn, in, &f, &outcome, err);
        if (r < 0)
                return r;
        r = txn_commit(&txn, err);
        if (r < 0)
                return r;
        if (outcome != NOOK_BEGIN_REPLAY) {
                r = after_intent_fault(j, id, err);
                if (r < 0)
                        return r;
        }
        _cleanup_free_ char *result = NULL;
        if (outcome == NOOK_BEGIN_REPLAY && ret_result && f.result && !(result = strdup(f.result)))
                return nook_error_oom(err);
        if (ret_outcome)
                *ret_outcome = outcome;
        if (ret_call_id)
                *ret_call_id = id;
        if (ret_result)
                *ret_result = TAKE_PTR(result);
        return 0;
}

/* Why a call could not move to st: it does not exist, or it is no longer an intent. */
static int call_state_error(nook_journal *j, int64_t id, nook_call_status st, nook_error **err) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = stmt(j, Q_CALL_STATUS, &s, err);
        if (r < 0)
                return r;
        r = jbind(j, s, err, JI(id));
        if (r < 0)
                return r;
        r = step(j, s, err);
        if (r < 0)
                return r;
        if (r == 0)
                return nook_error_set(err, NOOK_ERROR_JOURNAL_FAILURE, NOOK_RETRY_NOT_RETRYABLE, ENOENT,
                                      "journal has no call %" PRId64, id);
        return nook_error_set(err, NOOK_ERROR_INVALID_STATE_TRANSITION, NOOK_RETRY_NOT_RETRYABLE, EALREADY,
                              "call %" PRId64 " is %s, not in progress: it cannot become %s", id,
                              (const char *)sqlite3_column_text(s, 0), nook_call_status_name(st));
}

static int call_end(nook_journal *j, int64_t id, nook_call_status st, const char *result, const char *error,
                    nook_error **err) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = stmt(j, Q_CALL_END, &s, err);
        if (r < 0)
                return r;
        r = jbind(j, s, err, JI(id), JT(nook_call_status_name(st)), JT(result), JT(error), JI(nook_wall_ms()));
        if (r < 0)
                return r;
        r = step(j, s, err);
        if (r < 0)
                return r;
        return sqlite3_changes(j->db) > 0 ? 0 : call_state_error(j, id, st, err);
}

int nook_journal_finish(nook_journal *j, int64_t call_id, const char *result_json, nook_error **err) {
        JOURNAL_SPAN;
        int r = nook_fault("journal.before_finish");
        if (r < 0)
                return fault_error(r, "journal.before_finish", err);
        return call_end(j, call_id, NOOK_CALL_DONE, result_json, NULL, err);
}

int nook_journal_note(nook_journal *j, int64_t call_id, const char *note, nook_error **err) {
        JOURNAL_SPAN;
        if (!note)
                return bad_argument(err, "empty note");
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = stmt(j, Q_CALL_NOTE, &s, err);
        if (r < 0)
                return r;
        r = jbind(j, s, err, JI(call_id), JT(note));
        if (r >= 0)
                r = step(j, s, err);
        return r < 0 ? r : 0;
}

int nook_journal_fail(nook_journal *j, int64_t call_id, const char *error_json, nook_error **err) {
        JOURNAL_SPAN;
        int r = nook_fault("journal.before_finish");
        if (r < 0)
                return fault_error(r, "journal.before_finish", err);
        return call_end(j, call_id, NOOK_CALL_FAILED, NULL, error_json, err);
}

typedef struct open_call {
        int64_t id;
        nook_owner owner;
} open_call;

/* Intent rows (of one environment, or all) whose owner is gone; within the caller's
 * transaction, so the owners read here are the ones the guarded update compares. */
static int dead_intents(nook_journal *j, const char *env, open_call **ret, size_t *ret_n, nook_error **err) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = stmt(j, env ? Q_ENV_INTENTS : Q_CALL_INTENTS, &s, err);
        if (r < 0)
                return r;
        if (env && (r = jbind(j, s, err, JT(env))) < 0)
                return r;
        _cleanup_free_ open_call *v = NULL;
        size_t n = 0, cap = 0;
        while ((r = step(j, s, err)) > 0) {
                open_call c = { .id = sqlite3_column_int64(s, 0) };
                column_owner(s, 1, &c.owner);
                if (owner_alive(&c.owner, j->self.boot_id))
                        continue;
                if (n == cap) {
                        open_call *nv = reallocarray(v, cap ? cap * 2 : 8, sizeof(*v));
                        if (!nv)
                                return nook_error_oom(err);
                        v = nv;
                        cap = cap ? cap * 2 : 8;
                }
                v[n++] = c;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

static int interrupt_dead(nook_journal *j, const char *env, unsigned *ret_count, nook_error **err) {
        _cleanup_free_ open_call *v = NULL;
        size_t n = 0;
        unsigned count = 0;
        int r = dead_intents(j, env, &v, &n, err);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                r = call_interrupt(j, v[i].id, &v[i].owner, err);
                count += r > 0;
        }
        if (r < 0)
                return r;
        if (ret_count)
                *ret_count = count;
        return 0;
}

int nook_journal_reap_interrupted(nook_journal *j, unsigned *ret_count, nook_error **err) {
        JOURNAL_SPAN;
        _cleanup_txn_ nook_journal *txn = NULL;
        unsigned count = 0;
        int r = txn_begin(j, &txn, err);
        if (r < 0)
                return r;
        r = interrupt_dead(j, NULL, &count, err);
        if (r < 0)
                return r;
        r = txn_commit(&txn, err);
        if (r < 0)
                return r;
        if (ret_count)
                *ret_count = count;
        return 0;
}

/* Read-only: an intent whose owner is gone counts as interrupted even before a reap. */
int nook_journal_environment_needs_repair(nook_journal *j, const char *environment_id, bool *ret, nook_error **err) {
        JOURNAL_SPAN;
        if (!environment_id)
                return bad_argument(err, "no environment id");
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = stmt(j, Q_ENV_NEEDS_REPAIR, &s, err);
        if (r < 0)
                return r;
        r = jbind(j, s, err, JT(environment_id));
        if (r < 0)
                return r;
        r = step(j, s, err);
        if (r < 0)
                return r;
        bool needs = r > 0 && sqlite3_column_int(s, 0) != 0;
        if (!needs) {
                _cleanup_free_ open_call *v = NULL;
                size_t n = 0;
                r = dead_intents(j, environment_id, &v, &n, err);
                if (r < 0)
                        return r;
                needs = n > 0;
        }
        *ret = needs;
        return 0;
}

int nook_journal_reconcile_environment(nook_journal *j, const char *environment_id, nook_error **err) {
        JOURNAL_SPAN;
        if (!environment_id)
                return bad_argument(err, "no environment id");
        _cleanup_txn_ nook_journal *txn = NULL;
        int r = txn_begin(j, &txn, err);
        if (r < 0)
                return r;
        r = interrupt_dead(j, environment_id, NULL, err);
        if (r < 0)
                return r;
        {
                _cleanup_stmt_ sqlite3_stmt *s = NULL;
                r = stmt(j, Q_ENV_RECONCILE, &s, err);
                if (r < 0)
                        return r;
                r = jbind(j, s, err, JT(environment_id), JI(nook_wall_ms()));
                if (r < 0)
                        return r;
                r = step(j, s, err);
                if (r < 0)
                        return r;
        }
        return txn_commit(&txn, err);
}

int nook_journal_retire_environment(nook_journal *j, const char *environment_id, nook_error **err) {
        JOURNAL_SPAN;
        if (!environment_id)
                return bad_argument(err, "no environment id");
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = stmt(j, Q_ENV_RETIRE, &s, err);
        if (r < 0)
                return r;
        r = jbind(j, s, err, JT(environment_id));
        if (r < 0)
                return r;
        r = step(j, s, err);
        return r < 0 ? r : 0;
}

int nook_journal_list(nook_journal *j, size_t limit, nook_journal_visit_fn fn, void *userdata, nook_error **err) {
        if (!fn)
                return bad_argument(err, "no visit function");
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = stmt(j, Q_CALL_LIST, &s, err);
        if (r < 0)
                return r;
        r = jbind(j, s, err, JI(limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit));
        if (r < 0)
                return r;
        while ((r = step(j, s, err)) > 0) {
                const nook_journal_entry e = {
                        .id = sqlite3_column_int64(s, 0),
                        .started_ms = sqlite3_column_int64(s, 1),
                        .finished_ms = sqlite3_column_int64(s, 2),
                        .method = (const char *)sqlite3_column_text(s, 3),
                        .idempotency_key = (const char *)sqlite3_column_text(s, 4),
                        .request_hash = (const char *)sqlite3_column_text(s, 5),
                        .status = (const char *)sqlite3_column_text(s, 6),
                        .environment_id = (const char *)sqlite3_column_text(s, 7),
                        .request_json = (const char *)sqlite3_column_text(s, 8),
                        .result_json = (const char *)sqlite3_column_text(s, 9),
                        .error_json = (const char *)sqlite3_column_text(s, 10),
                        .owner_pid = sqlite3_column_int(s, 11),
                        .notes = (const char *)sqlite3_column_text(s, 12),
                };
                r = fn(&e, userdata);
                if (r != 0)
                        return r;
        }
        return r;
}

/* ---- resources ---- */

int nook_journal_resource_add(nook_journal *j, const nook_resource *res, int64_t *ret_id, nook_error **err) {
        JOURNAL_SPAN;
        if (!res || !res->kind || !res->ref)
                return bad_argument(err, "resource without kind or ref");
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = stmt(j, Q_RES_ADD, &s, err);
        if (r < 0)
                return r;
        r = jbind(j, s, err, JT(res->environment_id), JT(res->kind), JT(res->ref), JI(res->pid), JI(res->pid_start),
                  JT(res->detail), JI(res->created_ms > 0 ? res->created_ms : nook_wall_ms()));
        if (r < 0)
                return r;
        r = step(j, s, err);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = sqlite3_last_insert_rowid(j->db);
        return 0;
}

static int resource_missing(nook_journal *j, int64_t id, nook_error **err) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = stmt(j, Q_RES_EXISTS, &s, err);
        if (r < 0)
                return r;
        r = jbind(j, s, err, JI(id));
        if (r < 0)
                return r;
        r = step(j, s, err);
        if (r != 0)
                return r < 0 ? r : 0;
        return nook_error_set(err, NOOK_ERROR_JOURNAL_FAILURE, NOOK_RETRY_NOT_RETRYABLE, ENOENT,
                              "journal has no resource %" PRId64, id);
}

int nook_journal_resource_set_pid(nook_journal *j, int64_t id, pid_t pid, uint64_t pid_start, nook_error **err) {
        JOURNAL_SPAN;
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = stmt(j, Q_RES_SET_PID, &s, err);
        if (r < 0)
                return r;
        r = jbind(j, s, err, JI(id), JI(pid), JI(pid_start));
        if (r < 0)
                return r;
        r = step(j, s, err);
        if (r < 0)
                return r;
        return sqlite3_changes(j->db) > 0 ? 0 : resource_missing(j, id, err);
}

/* Releasing twice is not an error: cleanup may run again after a crash. */
int nook_journal_resource_release(nook_journal *j, int64_t id, nook_error **err) {
        JOURNAL_SPAN;
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = stmt(j, Q_RES_RELEASE, &s, err);
        if (r < 0)
                return r;
        r = jbind(j, s, err, JI(id), JI(nook_wall_ms()));
        if (r < 0)
                return r;
        r = step(j, s, err);
        if (r < 0)
                return r;
        return sqlite3_changes(j->db) > 0 ? 0 : resource_missing(j, id, err);
}

int nook_journal_resources_held(nook_journal *j, const char *environment_id, nook_resource_visit_fn fn, void *userdata,
                                nook_error **err) {
        JOURNAL_SPAN;
        if (!fn)
                return bad_argument(err, "no visit function");
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = stmt(j, environment_id ? Q_RES_HELD_ENV : Q_RES_HELD_ALL, &s, err);
        if (r < 0)
                return r;
        if (environment_id && (r = jbind(j, s, err, JT(environment_id))) < 0)
                return r;
        while ((r = step(j, s, err)) > 0) {
                const nook_resource res = {
                        .id = sqlite3_column_int64(s, 0),
                        .environment_id = (const char *)sqlite3_column_text(s, 1),
                        .kind = (const char *)sqlite3_column_text(s, 2),
                        .ref = (const char *)sqlite3_column_text(s, 3),
                        .pid = (pid_t)sqlite3_column_int64(s, 4),
                        .pid_start = (uint64_t)sqlite3_column_int64(s, 5),
                        .detail = (const char *)sqlite3_column_text(s, 6),
                        .created_ms = sqlite3_column_int64(s, 7),
                        .released_ms = sqlite3_column_int64(s, 8),
                };
                r = fn(&res, userdata);
                if (r != 0)
                        return r;
        }
        return r;
}

/* ---- tickets ---- */

static int ticket_lookup(nook_journal *j, const char *ref, char **ret_env, bool *ret_claimed, nook_error **err) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = stmt(j, Q_TICKET_GET, &s, err);
        if (r < 0)
                return r;
        r = jbind(j, s, err, JT(ref));
        if (r < 0)
                return r;
        r = step(j, s, err);
        if (r < 0)
                return r;
        /* the ticket is a bearer token: it never appears in a message */
        if (r == 0)
                return nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_NOT_RETRYABLE, ENOENT,
                                      "unknown detach ticket");
        bool oom = false;
        _cleanup_free_ char *env = column_strdup(s, 0, &oom);
        if (oom)
                return nook_error_oom(err);
        if (ret_claimed)
                *ret_claimed = sqlite3_column_type(s, 1) != SQLITE_NULL;
        if (ret_env)
                *ret_env = TAKE_PTR(env);
        return 0;
}

int nook_journal_ticket_add(nook_journal *j, const char *ticket_ref, const char *environment_id, nook_error **err) {
        JOURNAL_SPAN;
        if (!ticket_ref || !environment_id)
                return bad_argument(err, "ticket without reference or environment");
        {
                _cleanup_stmt_ sqlite3_stmt *s = NULL;
                int r = stmt(j, Q_TICKET_ADD, &s, err);
                if (r < 0)
                        return r;
                r = jbind(j, s, err, JT(ticket_ref), JT(environment_id), JI(nook_wall_ms()));
                if (r < 0)
                        return r;
                r = step(j, s, err);
                if (r < 0)
                        return r;
                if (sqlite3_changes(j->db) > 0)
                        return 0;
        }
        /* the ticket exists: adding it again for the same environment is a no-op */
        _cleanup_free_ char *env = NULL;
        int r = ticket_lookup(j, ticket_ref, &env, NULL, err);
        if (r < 0)
                return r;
        if (!streq(env, environment_id))
                return nook_error_set(err, NOOK_ERROR_INVALID_STATE_TRANSITION, NOOK_RETRY_NOT_RETRYABLE, EEXIST,
                                      "detach ticket already holds another environment");
        return 0;
}

int nook_journal_ticket_get(nook_journal *j, const char *ticket_ref, char **ret_environment_id, bool *ret_claimed,
                            nook_error **err) {
        if (!ticket_ref)
                return bad_argument(err, "no ticket reference");
        return ticket_lookup(j, ticket_ref, ret_environment_id, ret_claimed, err);
}

int nook_journal_ticket_claim(nook_journal *j, const char *ticket_ref, nook_error **err) {
        JOURNAL_SPAN;
        if (!ticket_ref)
                return bad_argument(err, "no ticket reference");
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = stmt(j, Q_TICKET_CLAIM, &s, err);
        if (r < 0)
                return r;
        r = jbind(j, s, err, JT(ticket_ref), JI(nook_wall_ms()));
        if (r < 0)
                return r;
        r = step(j, s, err);
        if (r < 0)
                return r;
        if (sqlite3_changes(j->db) > 0)
                return 0;
        r = ticket_lookup(j, ticket_ref, NULL, NULL, err);
        if (r < 0)
                return r;
        return nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_NOT_RETRYABLE, EALREADY,
                              "detach ticket was already reclaimed");
}

/* ---- repair ---- */

/* 1 when the open journal passes PRAGMA quick_check, 0 when it reports damage. */
static int quick_check(nook_journal *j, nook_error **err) {
        _cleanup_(stmt_finalizep) sqlite3_stmt *s = NULL;
        int rc = sqlite3_prepare_v2(j->db, "PRAGMA quick_check", -1, &s, NULL);
        if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB)
                return 0;
        if (rc != SQLITE_OK)
                return journal_error(j, rc, err);
        rc = sqlite3_step(s);
        if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB)
                return 0;
        if (rc != SQLITE_ROW)
                return journal_error(j, rc, err);
        return streq((const char *)sqlite3_column_text(s, 0), "ok");
}

/* 1 when path needs to be moved aside, 0 when it is a healthy journal. */
static int needs_repair(const char *path, nook_error **err) {
        _cleanup_(nook_error_freep) nook_error *open_err = NULL;
        _cleanup_(nook_journal_closep) nook_journal *j = NULL;
        int r = nook_journal_open(path, &j, &open_err);
        if (r == -JOURNAL_EDAMAGED || r == -JOURNAL_ENEWER)
                return 1;
        if (r < 0) {
                if (err) {
                        nook_error_free(*err);
                        *err = TAKE_PTR(open_err);
                }
                return r;
        }
        r = quick_check(j, err);
        return r < 0 ? r : !r;
}

static const char *const repair_companions[] = { "-wal", "-shm", "-journal" };

/* The companions go first: a stale -wal or -journal next to a new database would be
 * replayed into it. */
static int move_aside(const char *path, const char *suffix) {
        for (size_t i = 0; i < ELEMENTSOF(repair_companions); i++) {
                _cleanup_free_ char *from = NULL, *to = NULL;
                if (asprintf(&from, "%s%s", path, repair_companions[i]) < 0 ||
                    asprintf(&to, "%s%s%s", path, suffix, repair_companions[i]) < 0)
                        return -ENOMEM;
                if (rename(from, to) < 0 && errno != ENOENT)
                        return negative_errno();
        }
        _cleanup_free_ char *to = NULL;
        if (asprintf(&to, "%s%s", path, suffix) < 0)
                return -ENOMEM;
        return rename(path, to) < 0 ? negative_errno() : 0;
}

/* ".corrupt-<UTC time>", with "-N" added when an earlier repair took that name. */
static int repair_suffix(const char *path, char **ret) {
        char stamp[32];
        struct tm tm;
        time_t t = time(NULL);
        strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", gmtime_r(&t, &tm));
        for (unsigned n = 0; n < 1000; n++) {
                _cleanup_free_ char *suffix = NULL, *probe = NULL;
                char count[16] = "";
                if (n > 0)
                        snprintf(count, sizeof(count), "-%u", n);
                if (asprintf(&suffix, ".corrupt-%s%s", stamp, count) < 0 || asprintf(&probe, "%s%s", path, suffix) < 0)
                        return -ENOMEM;
                if (access(probe, F_OK) < 0 && errno == ENOENT) {
                        *ret = TAKE_PTR(suffix);
                        return 0;
                }
        }
        return -EEXIST;
}

int nook_journal_repair_file(const char *path, char **ret_moved_to, nook_error **err) {
        if (!path || !*path)
                return bad_argument(err, "no journal path");
        struct stat st;
        int r = 0;
        if (lstat(path, &st) < 0 && errno == ENOENT)
                r = 0; /* nothing there: the next open starts a new journal */
        else
                r = needs_repair(path, err);
        if (r < 0)
                return r;
        if (r == 0) {
                if (ret_moved_to)
                        *ret_moved_to = NULL;
                return 0;
        }
        _cleanup_free_ char *suffix = NULL, *moved = NULL;
        r = repair_suffix(path, &suffix);
        if (r >= 0)
                r = move_aside(path, suffix);
        if (r >= 0 && asprintf(&moved, "%s%s", path, suffix) < 0)
                r = -ENOMEM;
        if (r < 0) {
                r = nook_error_set(err, NOOK_ERROR_JOURNAL_FAILURE, nook_retry_for_errno(-r), -r,
                                   "cannot move the damaged journal aside: %s", strerror(-r));
                nook_error_set_hint(err, "renaming the journal file %s failed", path);
                return r;
        }
        if (ret_moved_to)
                *ret_moved_to = TAKE_PTR(moved);
        return 0;
}
