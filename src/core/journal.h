/* nook core — the journal: SQLite (WAL) file in the data dir recording every call
 * (intent before any effect, then done/failed), the resources each stage creates
 * (recorded before they exist) and detach tickets. */
#ifndef NOOK_CORE_JOURNAL_H
#define NOOK_CORE_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "nook/journal.h"
#include "util/error.h"

typedef struct nook_journal nook_journal;

#define NOOK_JOURNAL_SCHEMA_VERSION 3

/* Who owns a call: the process that wrote its intent.  A call whose owner is gone
 * (pid dead, or pid reused: start time differs, or the machine rebooted: boot id
 * differs) is interrupted. */
typedef struct nook_owner {
        pid_t pid;
        uint64_t start_time; /* field 22 of /proc/<pid>/stat, clock ticks since boot */
        char boot_id[40];    /* /proc/sys/kernel/random/boot_id */
} nook_owner;

/* Fills *ret with this process's identity. */
int nook_owner_self(nook_owner *ret);
/* true when the owner process still runs (same pid, start time and boot). */
bool nook_owner_alive(const nook_owner *o);

typedef enum nook_call_status {
        NOOK_CALL_INTENT = 1,
        NOOK_CALL_DONE,
        NOOK_CALL_FAILED,
        NOOK_CALL_INTERRUPTED,
} nook_call_status;

const char *nook_call_status_name(nook_call_status s);

/* Opens (creating the file 0600 and its directory 0700 if missing) and migrates to
 * NOOK_JOURNAL_SCHEMA_VERSION.  WAL mode; rollback journal on NFS, where WAL's
 * shared memory does not work.  A file that is not a database, is corrupt, or has a
 * newer schema fails with JournalFailure naming the file in the hint and
 * "nook journal repair" as the remedy; never a crash. */
int nook_journal_open(const char *path, nook_journal **ret, nook_error **err);
nook_journal *nook_journal_close(nook_journal *j);
static inline void nook_journal_closep(nook_journal **j) {
        nook_journal_close(*j);
}
const char *nook_journal_path(const nook_journal *j);

/* What nook_journal_begin() found. */
typedef enum nook_begin_outcome {
        NOOK_BEGIN_NEW = 1, /* intent recorded; *ret_call_id is the new row: go on */
        NOOK_BEGIN_REPLAY,  /* same key, same hash, done before: *ret_result is the recorded result */
        NOOK_BEGIN_RETRY,   /* same key, failed before: row reset to intent (new request), go on */
} nook_begin_outcome;

typedef struct nook_call_intent {
        const char *method;
        const char *idempotency_key; /* NULL: not deduplicated, always NEW */
        const char *request_hash;    /* "sha256:<hex>" of the redacted request */
        const char *request_json;    /* redacted request */
        const char *environment_id;  /* NULL when the call names none */
} nook_call_intent;

/* Records the intent of a call, atomically with the idempotency check (BEGIN IMMEDIATE):
 * - key unknown: insert intent, NOOK_BEGIN_NEW;
 * - key known, not failed, different hash: ContractViolation "idempotency key reused
 *   with a different request" (nothing written);
 * - known, same hash, done: NOOK_BEGIN_REPLAY with the recorded result;
 * - known, failed (any hash): NOOK_BEGIN_RETRY (status back to intent, owner = self, the
 *   row takes the new request and hash: a failure left no result to protect);
 * - known, same hash, intent with a live owner: InvalidStateTransition, Retryable
 *   ("in progress in pid N");
 * - known, same hash, intent whose owner is gone: the row becomes interrupted, and the
 *   call fails with RecoveryRepairNeeded / RepairNeeded naming the environment and the
 *   remedy (cleanup, or nook gc);
 * - known, interrupted: the same RecoveryRepairNeeded error.
 * Keys are scoped per method. */
int nook_journal_begin(nook_journal *j, const nook_call_intent *intent, nook_begin_outcome *ret_outcome,
                       int64_t *ret_call_id, char **ret_result, nook_error **err);
/* intent -> done with the redacted result JSON. */
int nook_journal_finish(nook_journal *j, int64_t call_id, const char *result_json, nook_error **err);
/* intent -> failed with the AgentError JSON. */
int nook_journal_fail(nook_journal *j, int64_t call_id, const char *error_json, nook_error **err);
/* Adds a line to the call's notes: what it accepted to give up (a downgrade). */
int nook_journal_note(nook_journal *j, int64_t call_id, const char *note, nook_error **err);
/* Marks every intent row whose owner is gone as interrupted; *ret_count (may be NULL)
 * gets how many. */
int nook_journal_reap_interrupted(nook_journal *j, unsigned *ret_count, nook_error **err);
/* true when the environment has an interrupted call not yet reconciled by cleanup. */
int nook_journal_environment_needs_repair(nook_journal *j, const char *environment_id, bool *ret, nook_error **err);
/* After a successful cleanup/reclaim: interrupted calls of the environment are marked
 * reconciled (status stays interrupted; a reconciled_ms timestamp is set). */
int nook_journal_reconcile_environment(nook_journal *j, const char *environment_id, nook_error **err);

/* After a successful cleanup: the environment's derived idempotency keys ("env:<id>")
 * are retired (renamed "env:<id>#<row>"), so that preparing the same environment id
 * again runs instead of replaying the old session. */
int nook_journal_retire_environment(nook_journal *j, const char *environment_id, nook_error **err);

/* Visits calls, newest `limit` (0: all), oldest first. */
int nook_journal_list(nook_journal *j, size_t limit, nook_journal_visit_fn fn, void *userdata, nook_error **err);

/* Resources: a row written before the resource exists, released after it is gone. */
typedef struct nook_resource {
        int64_t id;
        const char *environment_id;
        const char *kind;   /* "holder", "monitor", "mount", "dir", "helper", ... */
        const char *ref;    /* what identifies it (a path inside the run dir, a mount point, ...) */
        pid_t pid;          /* 0 when not a process */
        uint64_t pid_start; /* start time of pid (clock ticks), to survive pid reuse */
        const char *detail; /* JSON, may be NULL */
        int64_t created_ms;
        int64_t released_ms; /* 0 while held */
} nook_resource;

int nook_journal_resource_add(nook_journal *j, const nook_resource *r, int64_t *ret_id, nook_error **err);
/* Sets pid and pid_start once the process exists. */
int nook_journal_resource_set_pid(nook_journal *j, int64_t id, pid_t pid, uint64_t pid_start, nook_error **err);
int nook_journal_resource_release(nook_journal *j, int64_t id, nook_error **err);
typedef int (*nook_resource_visit_fn)(const nook_resource *r, void *userdata);
/* Held (unreleased) resources of one environment (NULL: all), newest first. */
int nook_journal_resources_held(nook_journal *j, const char *environment_id, nook_resource_visit_fn fn, void *userdata,
                                nook_error **err);

/* Tickets: detach hands an environment to a ticket; reclaim claims it once. */
int nook_journal_ticket_add(nook_journal *j, const char *ticket_ref, const char *environment_id, nook_error **err);
/* *ret_environment_id: the environment the ticket holds (newly allocated).  Unknown
 * ticket: -ENOENT with PolicyDenial.  *ret_claimed: true when already reclaimed. */
int nook_journal_ticket_get(nook_journal *j, const char *ticket_ref, char **ret_environment_id, bool *ret_claimed,
                            nook_error **err);
/* Claims an unclaimed ticket.  Already claimed: -EALREADY with PolicyDenial; unknown:
 * -ENOENT with PolicyDenial.  Adding a ticket that exists for the same environment is a
 * no-op; for another environment it is -EEXIST (InvalidStateTransition). */
int nook_journal_ticket_claim(nook_journal *j, const char *ticket_ref, nook_error **err);

/* Moves a journal file that cannot be used (not a database, corrupt, PRAGMA quick_check
 * not "ok", or a newer schema) aside to <path>.corrupt-<YYYYmmddTHHMMSS> (UTC), its -wal,
 * -shm and -journal files alongside with the same suffix.  *ret_moved_to (may be NULL)
 * gets the new name, or NULL when the file is healthy or missing (nothing done).
 * Locked or unreadable files are not moved: their error is returned. */
int nook_journal_repair_file(const char *path, char **ret_moved_to, nook_error **err);

/* Test hook: create a database at an older schema version (for migration tests). */
int nook_journal_create_at_version(const char *path, int version, nook_error **err);

#endif
