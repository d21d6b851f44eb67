/* nook userns — detach and reclaim: detach hands a session to a ticket (recorded in the
 * journal) and unties it from its owner, so that gc leaves it alone; reclaim, from any
 * process and after the detaching one died, ends what the ticket holds, once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userns/cleanup.h"
#include "userns/session.h"
#include "userns/stages.h"
#include "util/strbuf.h"
#include "util/random.h"

int nook_userns_detach(void *state, nook_call_ctx *ctx, const nook_env_req *req, nook_detach_result *ret,
                       nook_error **err) {
        if (!req->environment.spec.ownership.detach_policy.allowed)
                return nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_NOT_RETRYABLE, EPERM,
                                      "detach: refused: spec.ownership.detach_policy.allowed is false");
        if (!ctx->journal)
                return nook_error_set(err, NOOK_ERROR_JOURNAL_FAILURE, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                      "detach: tickets live in the journal, which is not open");
        _cleanup_(nook_session_freep) nook_session *s = NULL;
        int r = nook_session_find(ctx->config, req->environment.environment_id, &s, err);
        if (r == -ENOENT)
                return nook_error_set(err, NOOK_ERROR_INVALID_STATE_TRANSITION, NOOK_RETRY_NOT_RETRYABLE, ENOENT,
                                      "detach: no session for this environment");
        if (r < 0)
                return r;
        if (!nook_session_alive(s))
                return nook_error_set(err, NOOK_ERROR_RECOVERY_REPAIR_NEEDED, NOOK_RETRY_REPAIR_NEEDED, EOWNERDEAD,
                                      "detach: the session's holder is gone; run cleanup for the environment");
        if (!s->ticket) {
                _cleanup_free_ char *rnd = nook_random_hex(16);
                if (!rnd || asprintf(&s->ticket, "ticket-%s", rnd) < 0)
                        return nook_error_oom(err);
                /* recorded before the session is handed over */
                r = nook_journal_ticket_add(ctx->journal, s->ticket, s->environment_id, err);
                if (r < 0)
                        return nook_error_prefix(err, r, "detach");
        }
        s->detached = true;
        s->owner_pid = 0;
        if ((r = nook_session_save(s, err)) < 0)
                return nook_error_prefix(err, r, "detach");
        ret->host_ack_ref = strdup(s->ticket);
        ret->redacted_summary = strdup("session detached: reclaim the ticket to end it; gc leaves it alone");
        return ret->host_ack_ref && ret->redacted_summary ? 0 : nook_error_oom(err);
}

int nook_userns_reclaim(void *state, nook_call_ctx *ctx, const nook_reclaim_req *req, nook_reclaim_result *ret,
                        nook_error **err) {
        if (!ctx->journal)
                return nook_error_set(err, NOOK_ERROR_JOURNAL_FAILURE, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                      "reclaim: tickets live in the journal, which is not open");
        _cleanup_free_ char *env = NULL;
        bool claimed = false;
        int r = nook_journal_ticket_get(ctx->journal, req->ticket_ref, &env, &claimed, err);
        if (r < 0)
                return nook_error_prefix(err, r, "reclaim");
        ret->ticket_ref = strdup(req->ticket_ref);
        if (!ret->ticket_ref)
                return nook_error_oom(err);
        if (claimed) {
                ret->status = NOOK_CLEANUP_COMPLETED;
                ret->redacted_summary = strdup("already reclaimed");
                return ret->redacted_summary ? 0 : nook_error_oom(err);
        }
        _cleanup_(nook_session_freep) nook_session *s = NULL;
        r = nook_session_find(ctx->config, env, &s, err);
        if (r < 0 && r != -ENOENT)
                return r;
        char ref[NOOK_SESSION_REF_LEN];
        nook_session_ref_for(env, ref);
        nook_strbuf left = NOOK_STRBUF_INIT;
        nook_session_reclaim(ctx->config, ctx->journal, env, ref, s ? s->dir_fd : -1, s ? s->holder_pid : 0,
                             s ? s->holder_start : 0, &left);
        _cleanup_free_ char *what = nook_strbuf_steal(&left);
        if (!what || !*what)
                (void)nook_journal_ticket_claim(ctx->journal, req->ticket_ref, NULL);
        ret->status = what && *what ? NOOK_CLEANUP_REPAIR_NEEDED : NOOK_CLEANUP_COMPLETED;
        ret->redacted_summary = strdup(what && *what ? what : s ? "session removed" : "the session was already gone");
        return ret->redacted_summary ? 0 : nook_error_oom(err);
}
