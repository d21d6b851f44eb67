/* nook — the error type of the public API.
 *
 * Every failing call fills one nook_error: what kind of failure it is (the
 * contract's AgentError variants and Classified kinds), whether retrying can help,
 * the errno behind it, a message, for request errors the JSON pointer of the
 * offending field, and for a workload that did not start the step that failed.
 * nook_error_to_json() renders the contract's AgentError JSON. */
#ifndef NOOK_ERROR_H
#define NOOK_ERROR_H

#include "nook/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nook_error nook_error;

typedef enum nook_error_kind {
        /* top-level AgentError variants */
        NOOK_ERROR_MISSING_REQUIRED_FIELD = 1,
        NOOK_ERROR_CONTRACT_VIOLATION,
        NOOK_ERROR_HOST_CONFIGURATION_NEEDED,
        /* Classified kinds */
        NOOK_ERROR_INVALID_PACKAGE,
        NOOK_ERROR_INVALID_STATE_TRANSITION,
        NOOK_ERROR_POLICY_DENIAL,
        NOOK_ERROR_JOURNAL_FAILURE,
        NOOK_ERROR_ISOLATION_FAILURE,
        NOOK_ERROR_CANCELLATION,
        NOOK_ERROR_CHILD_LIFECYCLE_FAILURE,
        NOOK_ERROR_TIMEOUT,
        NOOK_ERROR_RECOVERY_REPAIR_NEEDED,
        NOOK_ERROR_CLASSIFIED_HOST_CONFIGURATION_NEEDED,
} nook_error_kind;

typedef enum nook_retry {
        NOOK_RETRY_RETRYABLE = 1,
        NOOK_RETRY_NOT_RETRYABLE,
        NOOK_RETRY_REPAIR_NEEDED,
        NOOK_RETRY_USER_ACTION_NEEDED,
        NOOK_RETRY_HOST_CONFIGURATION_NEEDED,
} nook_retry;

/* Which step of starting a workload failed (start_process): NONE for every other
 * failure.  With the errno it says what a shell would: EXEC with ENOENT is a command
 * not found (127), EXEC with another errno one that cannot be executed (126). */
typedef enum nook_exec_stage {
        NOOK_EXEC_STAGE_NONE = 0,
        NOOK_EXEC_STAGE_SETUP, /* ids, capabilities, seccomp, stdio: before the working directory */
        NOOK_EXEC_STAGE_CWD,   /* changing into the working directory */
        NOOK_EXEC_STAGE_EXEC,  /* execve(2) of the command */
} nook_exec_stage;

NOOK_EXPORT nook_error_kind nook_error_get_kind(const nook_error *err);
NOOK_EXPORT nook_retry nook_error_get_retry(const nook_error *err);
/* Positive errno behind the failure, 0 when there is none. */
NOOK_EXPORT int nook_error_get_errno(const nook_error *err);
/* The message: names the stage, the object and the system error; never a secret
 * and never a host path (those go to the hint). */
NOOK_EXPORT const char *nook_error_get_message(const nook_error *err);
/* JSON pointer of the offending request field ("" for the whole request), or NULL. */
NOOK_EXPORT const char *nook_error_get_pointer(const nook_error *err);
/* Human advice for a person at a terminal (may name host paths and commands), or NULL. */
NOOK_EXPORT const char *nook_error_get_hint(const nook_error *err);
NOOK_EXPORT nook_exec_stage nook_error_get_exec_stage(const nook_error *err);
/* Contract name of the kind: "MissingRequiredField", "PolicyDenial", ... */
NOOK_EXPORT const char *nook_error_kind_name(nook_error_kind kind);
NOOK_EXPORT const char *nook_retry_name(nook_retry retry);
/* The AgentError JSON (one line, newly allocated; free()); NULL only on ENOMEM. */
NOOK_EXPORT char *nook_error_to_json(const nook_error *err);
/* Frees and returns NULL; accepts NULL. */
NOOK_EXPORT nook_error *nook_error_free(nook_error *err);

#ifdef __cplusplus
}
#endif

#endif
