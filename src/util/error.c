/* nook util — the one error type: kind, retry class, errno, message, JSON pointer,
 * a human hint and the failed step of starting a workload; rendered as the contract's
 * AgentError JSON without a JSON library (util links nothing). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#include "config.h"
#include "util/error.h"
#include "util/strbuf.h"

struct nook_error {
        nook_error_kind kind;
        nook_retry retry;
        int errnum;
        char *message;
        char *pointer;
        char *hint;
        nook_exec_stage exec_stage;
};

static nook_error oom_error = {
        .kind = NOOK_ERROR_ISOLATION_FAILURE,
        .retry = NOOK_RETRY_RETRYABLE,
        .errnum = ENOMEM,
        .message = (char *)"out of memory",
};

static bool is_static(const nook_error *e) {
        return e == &oom_error;
}

nook_error *nook_error_free(nook_error *e) {
        if (!e || is_static(e))
                return NULL;
        free(e->message);
        free(e->pointer);
        free(e->hint);
        free(e);
        return NULL;
}

static nook_error *ensure(nook_error **err) {
        if (!err)
                return NULL;
        if (*err && is_static(*err))
                *err = NULL;
        if (!*err) {
                *err = calloc(1, sizeof(nook_error));
                if (!*err) {
                        *err = &oom_error;
                        return NULL;
                }
        }
        return *err;
}

int nook_error_setv(nook_error **err, nook_error_kind kind, nook_retry retry, int errnum, const char *fmt, va_list ap) {
        int r = errnum > 0 ? -errnum : -EINVAL;
        nook_error *e = ensure(err);
        if (!e)
                return r;
        char *msg = NULL;
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        free(e->message);
        free(e->pointer);
        free(e->hint);
        *e = (nook_error){ .kind = kind, .retry = retry, .errnum = errnum > 0 ? errnum : 0, .message = msg };
        return r;
}

int nook_error_set(nook_error **err, nook_error_kind kind, nook_retry retry, int errnum, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = nook_error_setv(err, kind, retry, errnum, fmt, ap);
        va_end(ap);
        return r;
}

nook_retry nook_retry_for_errno(int errnum) {
        switch (errnum) {
        case EAGAIN:
        case EINTR:
        case EBUSY:
        case ENOMEM:
        case ETIMEDOUT:
                return NOOK_RETRY_RETRYABLE;
        case EPERM:
        case EACCES:
        case ENOSPC:
        case EDQUOT:
        case EROFS:
                return NOOK_RETRY_USER_ACTION_NEEDED;
        default:
                return NOOK_RETRY_NOT_RETRYABLE;
        }
}

int nook_error_sys(nook_error **err, int errnum, const char *fmt, ...) {
        if (errnum < 0)
                errnum = -errnum;
        if (errnum == 0)
                errnum = EIO;
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        return nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, nook_retry_for_errno(errnum), errnum, "%s: %s",
                              msg ? msg : "?", strerror(errnum));
}

int nook_error_field(nook_error **err, nook_error_kind kind, const char *pointer, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = nook_error_setv(err, kind, NOOK_RETRY_NOT_RETRYABLE, EINVAL, fmt, ap);
        va_end(ap);
        if (err && *err && !is_static(*err))
                (*err)->pointer = strdup(pointer ? pointer : "");
        return r;
}

int nook_error_not_implemented(nook_error **err, const char *what) {
        return nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_NOT_RETRYABLE, ENOSYS,
                              "%s is not implemented in this version of nook (%s)", what, NOOK_VERSION);
}

int nook_error_prefix(nook_error **err, int r, const char *fmt, ...) {
        if (r >= 0)
                r = -EIO;
        if (!err)
                return r;
        _cleanup_free_ char *prefix = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&prefix, fmt, ap) < 0)
                prefix = NULL;
        va_end(ap);
        if (!*err)
                return nook_error_sys(err, -r, "%s", prefix ? prefix : "?");
        if (is_static(*err) || !prefix)
                return r;
        char *msg = NULL;
        if (asprintf(&msg, "%s: %s", prefix, (*err)->message ? (*err)->message : "") < 0)
                return r;
        free((*err)->message);
        (*err)->message = msg;
        return r;
}

int nook_error_set_hint(nook_error **err, const char *fmt, ...) {
        if (!err || !*err || is_static(*err))
                return 0;
        char *hint = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&hint, fmt, ap) < 0)
                hint = NULL;
        va_end(ap);
        free((*err)->hint);
        (*err)->hint = hint;
        return 0;
}

void nook_error_take_message(nook_error **err, char *message) {
        if (!err || !*err || is_static(*err) || !message) {
                free(message);
                return;
        }
        free((*err)->message);
        (*err)->message = message;
}

void nook_error_reclassify(nook_error **err, nook_error_kind kind, nook_retry retry) {
        if (!err || !*err || is_static(*err))
                return;
        (*err)->kind = kind;
        (*err)->retry = retry;
}

void nook_error_set_exec_stage(nook_error **err, nook_exec_stage stage) {
        if (err && *err && !is_static(*err))
                (*err)->exec_stage = stage;
}

int nook_error_oom(nook_error **err) {
        if (err) {
                nook_error_free(*err);
                *err = &oom_error;
        }
        return -ENOMEM;
}

static char *xstrdup0(const char *s) {
        return s ? strdup(s) : NULL;
}

nook_error *nook_error_dup(const nook_error *e) {
        if (!e)
                return NULL;
        if (is_static(e))
                return (nook_error *)e;
        nook_error *n = calloc(1, sizeof(*n));
        if (!n)
                return &oom_error;
        *n = (nook_error){ .kind = e->kind, .retry = e->retry, .errnum = e->errnum, .exec_stage = e->exec_stage };
        n->message = xstrdup0(e->message);
        n->pointer = xstrdup0(e->pointer);
        n->hint = xstrdup0(e->hint);
        return n;
}

nook_error_kind nook_error_get_kind(const nook_error *e) {
        return e ? e->kind : NOOK_ERROR_ISOLATION_FAILURE;
}
nook_retry nook_error_get_retry(const nook_error *e) {
        return e ? e->retry : NOOK_RETRY_NOT_RETRYABLE;
}
int nook_error_get_errno(const nook_error *e) {
        return e ? e->errnum : 0;
}
const char *nook_error_get_message(const nook_error *e) {
        return e && e->message ? e->message : "unknown error";
}
const char *nook_error_get_pointer(const nook_error *e) {
        return e ? e->pointer : NULL;
}
const char *nook_error_get_hint(const nook_error *e) {
        return e ? e->hint : NULL;
}
nook_exec_stage nook_error_get_exec_stage(const nook_error *e) {
        return e ? e->exec_stage : NOOK_EXEC_STAGE_NONE;
}

const char *nook_error_kind_name(nook_error_kind kind) {
        switch (kind) {
        case NOOK_ERROR_MISSING_REQUIRED_FIELD:
                return "MissingRequiredField";
        case NOOK_ERROR_CONTRACT_VIOLATION:
                return "ContractViolation";
        case NOOK_ERROR_HOST_CONFIGURATION_NEEDED:
        case NOOK_ERROR_CLASSIFIED_HOST_CONFIGURATION_NEEDED:
                return "HostConfigurationNeeded";
        case NOOK_ERROR_INVALID_PACKAGE:
                return "InvalidPackage";
        case NOOK_ERROR_INVALID_STATE_TRANSITION:
                return "InvalidStateTransition";
        case NOOK_ERROR_POLICY_DENIAL:
                return "PolicyDenial";
        case NOOK_ERROR_JOURNAL_FAILURE:
                return "JournalFailure";
        case NOOK_ERROR_ISOLATION_FAILURE:
                return "IsolationFailure";
        case NOOK_ERROR_CANCELLATION:
                return "Cancellation";
        case NOOK_ERROR_CHILD_LIFECYCLE_FAILURE:
                return "ChildLifecycleFailure";
        case NOOK_ERROR_TIMEOUT:
                return "Timeout";
        case NOOK_ERROR_RECOVERY_REPAIR_NEEDED:
                return "RecoveryRepairNeeded";
        }
        return "IsolationFailure";
}

const char *nook_retry_name(nook_retry retry) {
        switch (retry) {
        case NOOK_RETRY_RETRYABLE:
                return "Retryable";
        case NOOK_RETRY_NOT_RETRYABLE:
                return "NotRetryable";
        case NOOK_RETRY_REPAIR_NEEDED:
                return "RepairNeeded";
        case NOOK_RETRY_USER_ACTION_NEEDED:
                return "UserActionNeeded";
        case NOOK_RETRY_HOST_CONFIGURATION_NEEDED:
                return "HostConfigurationNeeded";
        }
        return "NotRetryable";
}

char *nook_error_to_json(const nook_error *e) {
        _cleanup_(nook_strbuf_done) nook_strbuf b = NOOK_STRBUF_INIT;
        const char *msg = nook_error_get_message(e);
        nook_error_kind kind = nook_error_get_kind(e);

        switch (kind) {
        case NOOK_ERROR_MISSING_REQUIRED_FIELD:
                nook_strbuf_puts(&b, "{\"MissingRequiredField\":{\"field\":");
                nook_strbuf_json_string(&b, e && e->pointer ? e->pointer : "");
                nook_strbuf_puts(&b, "}}");
                break;
        case NOOK_ERROR_CONTRACT_VIOLATION:
        case NOOK_ERROR_HOST_CONFIGURATION_NEEDED:
                nook_strbuf_printf(&b, "{\"%s\":{\"message\":", nook_error_kind_name(kind));
                if (e && e->pointer)
                        nook_strbuf_json_stringf(&b, "%s: %s", e->pointer[0] ? e->pointer : "(request)", msg);
                else
                        nook_strbuf_json_string(&b, msg);
                nook_strbuf_puts(&b, "}}");
                break;
        default:
                /* The crate's ErrorContext and CausalIds, every field present (enums.md):
                 * nook knows no run, turn or policy of the host's, so those are null/[]. */
                nook_strbuf_printf(&b, "{\"Classified\":{\"kind\":\"%s\",\"retry\":\"%s\",\"context\":{\"message\":",
                                   nook_error_kind_name(kind), nook_retry_name(nook_error_get_retry(e)));
                nook_strbuf_json_string(&b, msg);
                nook_strbuf_puts(&b, ",\"policy_refs\":[],\"source\":null,\"destination\":null,\"subject\":null,"
                                     "\"privacy\":null,\"redacted_summary\":");
                nook_strbuf_json_string(&b, msg);
                nook_strbuf_puts(&b, "},\"causal_ids\":{\"run_id\":null,\"turn_id\":null,\"attempt_id\":null,"
                                     "\"event_id\":null,\"tool_call_id\":null,\"span_id\":null,\"related\":[]}}}");
                break;
        }
        return nook_strbuf_steal(&b);
}
