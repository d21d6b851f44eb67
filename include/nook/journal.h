/* nook — reading the journal (the audit log of every call), typed. */
#ifndef NOOK_JOURNAL_H
#define NOOK_JOURNAL_H

#include <stddef.h>

#include "nook/error.h"
#include "nook/export.h"
#include "nook/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nook_journal_entry {
        long long id;
        long long started_ms;  /* Unix time in milliseconds */
        long long finished_ms; /* 0 while not finished */
        const char *method;
        const char *idempotency_key; /* NULL when the call had none */
        const char *request_hash;    /* "sha256:<hex>" of the redacted request */
        const char *status;          /* "intent", "done", "failed", "interrupted" */
        const char *environment_id;  /* NULL when the call names none */
        const char *request_json;    /* redacted request */
        const char *result_json;     /* redacted result, or NULL */
        const char *error_json;      /* AgentError, or NULL */
        int owner_pid;
        const char *notes; /* what the call accepted to give up (downgrades), one per line, or NULL */
} nook_journal_entry;

/* Return 0 to go on, anything else to stop (that value is returned). */
typedef int (*nook_journal_visit_fn)(const nook_journal_entry *entry, void *userdata);

/* Visits the newest `limit` calls (0: all), oldest first. */
NOOK_EXPORT int nook_runtime_journal_list(nook_runtime *rt, size_t limit, nook_journal_visit_fn fn, void *userdata,
                                          nook_error **err);
/* The same as a JSON array (newly allocated; free()). */
NOOK_EXPORT int nook_runtime_journal_list_json(nook_runtime *rt, size_t limit, char **ret_json, nook_error **err);

/* Moves an unreadable or corrupt journal aside (journal.db.corrupt-<time>, kept for
 * inspection) so that the next call starts a fresh one.  *ret_moved_to (may be NULL)
 * gets the new name of the old file, or NULL when there was nothing to repair. */
NOOK_EXPORT int nook_journal_repair(const nook_options *opts, char **ret_moved_to, nook_error **err);

#ifdef __cplusplus
}
#endif

#endif
