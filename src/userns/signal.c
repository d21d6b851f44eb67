/* nook userns — signal_process: the monitor sends the signal through the workload's
 * pidfd (pidfd_send_signal(2): never a recycled pid) and, after grace_ms, escalates
 * interrupt/terminate to SIGKILL of the process group.  When the monitor is gone or does
 * not answer, the holder does the same through the pidfd the monitor handed it (S33).
 * An exited process gives delivered: false, not an error. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userns/session.h"
#include "userns/stages.h"

int nook_userns_signal_process(void *state, nook_call_ctx *ctx, const nook_signal_req *req, nook_signal_result *ret,
                               nook_error **err) {
        _cleanup_(nook_session_freep) nook_session *s = NULL;
        int r = nook_process_session(ctx->config, req->process_ref, &s, err);
        if (r < 0)
                return r;
        static const int sigs[] = { SIGINT, SIGTERM, SIGKILL };
        ret->process_ref = strdup(req->process_ref);
        ret->signal = req->signal;
        if (!ret->process_ref)
                return nook_error_oom(err);
        nook_exit_record rec;
        if (nook_exit_record_read(s, req->process_ref, &rec) == 0 && rec.present) {
                ret->delivered = false;
                return asprintf(&ret->redacted_summary, "the process had already exited (code %d)", rec.exit_code) < 0
                               ? nook_error_oom(err)
                               : 0;
        }
        nook_msg m = NOOK_MSG_INIT(NOOK_MSG_SIGNAL), reply = NOOK_MSG_INIT(0);
        _cleanup_(nook_error_freep) nook_error *e2 = NULL;
        r = nook_msg_add_u64(&m, T_SIGNAL, (uint64_t)sigs[req->signal]);
        if (r >= 0)
                r = nook_msg_add_u64(&m, T_GRACE_MS, req->grace_ms);
        if (r >= 0)
                r = nook_session_request(s, req->process_ref, &m, &reply, 3000, "signal_process", &e2);
        /* the monitor is gone (killed from outside: the workload cannot reach it) or
         * stopped: the holder holds the workload's pidfd too */
        if (r < 0 && nook_msg_add_str(&m, T_PROCESS_REF, req->process_ref) >= 0) {
                nook_msg_done(&reply);
                reply = (nook_msg)NOOK_MSG_INIT(0);
                r = nook_session_request(s, NULL, &m, &reply, 10000, "signal_process", NULL);
        }
        ret->delivered = r >= 0 && nook_msg_u64(&reply, T_DELIVERED, 0) == 1;
        nook_msg_done(&m);
        nook_msg_done(&reply);
        const char *what = req->signal == NOOK_SIGNAL_KILL        ? "SIGKILL"
                           : req->signal == NOOK_SIGNAL_TERMINATE ? "SIGTERM"
                                                                  : "SIGINT";
        if (ret->delivered && req->grace_ms && req->signal != NOOK_SIGNAL_KILL)
                r = asprintf(&ret->redacted_summary, "%s delivered; SIGKILL to its process group after %llu ms", what,
                             (unsigned long long)req->grace_ms);
        else if (ret->delivered)
                r = asprintf(&ret->redacted_summary, "%s delivered", what);
        else
                r = asprintf(&ret->redacted_summary, "not delivered: the process is no longer running");
        return r < 0 ? nook_error_oom(err) : 0;
}
