/* nook util — raising and decorating nook_error values (crun style: errno and a
 * message, context added at each stage boundary, the same negative value returned). */
#ifndef NOOK_UTIL_ERROR_H
#define NOOK_UTIL_ERROR_H

#include <stdarg.h>

#include "nook/error.h"
#include "util/macro.h"

/* The retry class of a failed system call: retryable for a passing condition (EAGAIN,
 * EINTR, EBUSY, ENOMEM, ETIMEDOUT), user action for a permission or a full or read-only
 * filesystem, else not retryable.  One table for every caller, so that the journal and
 * the stages agree. */
nook_retry nook_retry_for_errno(int errnum);

/* Sets *err (err may be NULL) and returns -errnum, or -EINVAL when errnum is 0. */
int nook_error_set(nook_error **err, nook_error_kind kind, nook_retry retry, int errnum, const char *fmt, ...)
        _printf_(5, 6);
int nook_error_setv(nook_error **err, nook_error_kind kind, nook_retry retry, int errnum, const char *fmt, va_list ap)
        _printf_(5, 0);
/* A failed system call: IsolationFailure, retry class chosen from errno; the message
 * gets ": <strerror>" appended.  errnum is positive. */
int nook_error_sys(nook_error **err, int errnum, const char *fmt, ...) _printf_(3, 4);
/* A request field error; pointer is the JSON pointer ("" for the whole request).
 * kind is NOOK_ERROR_MISSING_REQUIRED_FIELD or NOOK_ERROR_CONTRACT_VIOLATION. */
int nook_error_field(nook_error **err, nook_error_kind kind, const char *pointer, const char *fmt, ...) _printf_(4, 5);
/* A function that is not built yet: Classified IsolationFailure, NotRetryable. */
int nook_error_not_implemented(nook_error **err, const char *what);
/* Prepends "<prefix>: " to the message of an existing error; returns r unchanged.
 * With no error set it raises an IsolationFailure from r. */
int nook_error_prefix(nook_error **err, int r, const char *fmt, ...) _printf_(3, 4);
/* Sets the human hint (may name host paths and commands).  Returns 0. */
int nook_error_set_hint(nook_error **err, const char *fmt, ...) _printf_(2, 3);
/* Marks an existing error as a failure of that step of starting a workload. */
void nook_error_set_exec_stage(nook_error **err, nook_exec_stage stage);
/* Overrides kind and retry of an existing error, keeping its message. */
void nook_error_reclassify(nook_error **err, nook_error_kind kind, nook_retry retry);
/* Replaces the message with `message`, which it takes (freed when it cannot be used). */
void nook_error_take_message(nook_error **err, char *message);
int nook_error_oom(nook_error **err);
nook_error *nook_error_dup(const nook_error *e);

static inline void nook_error_freep(nook_error **e) {
        nook_error_free(*e);
}

#endif
