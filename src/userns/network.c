/* nook userns — configure_network: the network prepare_session chose (netplan.c), set up
 * in the session's network namespace.  none: loopback only (the holder brought it up);
 * host: the host's namespace, a downgrade reported at prepare_session; slirp4netns: the
 * userspace network, then, when spec.network restricts egress, nook-netd's ruleset and
 * resolver, then the published ports.  Each helper is journaled before it exists and
 * dies with the holder (slirp.c).  Called again on a configured session it answers the
 * same ref. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userns/network.h"
#include "userns/session.h"
#include "userns/stages.h"
#include "util/macro.h"

static const char *const mode_names[] = { "auto", "none", "host", "slirp4netns" };

static bool streq_ptr(const char *a, const char *b) {
        return a == b || (a && b && strcmp(a, b) == 0);
}

static const char *egress_name(const char *rules) {
        return !rules ? "unrestricted" : strcmp(rules, "-") == 0 ? "refused everywhere" : rules;
}

/* The mode and egress policy this request asks must be those the session was prepared
 * with, and the environment not yet prepared. */
static int check_mode(const nook_session *s, const nook_env_req *req, int *ret_mode, nook_error **err) {
        int mode;
        int r = nook_net_mode(req, &mode, err);
        if (r < 0)
                return nook_error_prefix(err, r, "configure_network");
        const char *had = s->net ? s->net : s->own_netns ? "none" : "host";
        if (strcmp(had, mode_names[mode]) != 0)
                return nook_error_set(err, NOOK_ERROR_INVALID_STATE_TRANSITION, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                      "configure_network: the session was prepared with the %s network and this "
                                      "request asks for %s; prepare a new session for another network",
                                      had, mode_names[mode]);
        _cleanup_free_ char *egress = NULL;
        if ((r = nook_net_egress(req, &egress, err)) < 0)
                return nook_error_prefix(err, r, "configure_network");
        if (!streq_ptr(egress, s->net_egress))
                return nook_error_set(err, NOOK_ERROR_INVALID_STATE_TRANSITION, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                      "configure_network: the session was prepared with egress %s and this "
                                      "request asks for %s; prepare a new session for another policy",
                                      egress_name(s->net_egress), egress_name(egress));
        /* a workload may already run once the environment is prepared: a network (and
         * above all an egress ruleset) started under it would come too late */
        if (mode == NOOK_NETMODE_SLIRP4NETNS && s->prepared && !s->net_ready)
                return nook_error_set(err, NOOK_ERROR_INVALID_STATE_TRANSITION, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                      "configure_network: the environment is already prepared; configure_network "
                                      "comes before prepare_environment (prepare a new session)");
        *ret_mode = mode;
        return 0;
}

typedef struct started {
        int64_t slirp_res, netd_res, portfwd_res;
} started;

static int journal_helper(nook_call_ctx *ctx, const nook_session *s, const char *kind, int64_t *ret_id,
                          nook_error **err) {
        *ret_id = 0;
        nook_resource res = { .environment_id = s->environment_id, .kind = kind, .ref = s->ref };
        return ctx->journal ? nook_journal_resource_add(ctx->journal, &res, ret_id, err) : 0;
}

/* A failed configuration takes its helpers down again, so that the stage can be retried. */
static void undo(nook_call_ctx *ctx, nook_session *s, const started *st) {
        (void)nook_net_stop_now(s);
        if (ctx->journal && st->slirp_res > 0)
                (void)nook_journal_resource_release(ctx->journal, st->slirp_res, NULL);
        if (ctx->journal && st->netd_res > 0)
                (void)nook_journal_resource_release(ctx->journal, st->netd_res, NULL);
        if (ctx->journal && st->portfwd_res > 0)
                (void)nook_journal_resource_release(ctx->journal, st->portfwd_res, NULL);
        s->slirp_pid = s->netd_pid = s->portfwd_pid = 0;
        s->slirp_start = s->netd_start = s->portfwd_start = 0;
        (void)nook_session_save(s, NULL);
}

static int slirp_up(nook_call_ctx *ctx, nook_session *s, nook_error **err) {
        started st = { 0 };
        int r = 0;
        /* the ruleset first: there is no moment when the namespace has a way out and no
         * rules (nook-netd's upstream sockets are the host's, it does not need slirp) */
        if (s->net_egress) {
                if ((r = journal_helper(ctx, s, "nook-netd", &st.netd_res, err)) >= 0)
                        r = nook_netd_start(s, err);
                if (r >= 0 && ctx->journal)
                        r = nook_journal_resource_set_pid(ctx->journal, st.netd_res, s->netd_pid, s->netd_start, err);
        }
        if (r >= 0)
                r = journal_helper(ctx, s, "slirp4netns", &st.slirp_res, err);
        if (r >= 0)
                r = nook_slirp_start(s, err);
        if (r >= 0 && ctx->journal)
                r = nook_journal_resource_set_pid(ctx->journal, st.slirp_res, s->slirp_pid, s->slirp_start, err);
        /* published TCP ports: nook-portfwd, journaled like the others */
        bool tcp = s->net_ports && strstr(s->net_ports, "/tcp");
        if (r >= 0 && tcp)
                r = journal_helper(ctx, s, "nook-portfwd", &st.portfwd_res, err);
        if (r >= 0)
                r = nook_net_publish(s, err);
        if (r >= 0 && tcp && ctx->journal)
                r = nook_journal_resource_set_pid(ctx->journal, st.portfwd_res, s->portfwd_pid, s->portfwd_start, err);
        if (r >= 0) {
                s->net_ready = true;
                r = nook_session_save(s, err);
        }
        if (r < 0)
                undo(ctx, s, &st);
        return r;
}

int nook_userns_configure_network(void *state, nook_call_ctx *ctx, const nook_env_req *req, nook_ref_result *ret,
                                  nook_error **err) {
        (void)state;
        _cleanup_(nook_session_freep) nook_session *s = NULL;
        int r = nook_session_need(ctx->config, req->environment.environment_id, "configure_network", &s, err);
        if (r < 0)
                return r;
        int mode = NOOK_NETMODE_NONE;
        if ((r = check_mode(s, req, &mode, err)) < 0)
                return r;
        if (mode == NOOK_NETMODE_SLIRP4NETNS && !s->net_ready && (r = slirp_up(ctx, s, err)) < 0)
                return r;
        if (!s->own_netns)
                ret->ref = strdup("netns-host");
        else if (asprintf(&ret->ref, "netns-%s", s->ref + 2) < 0)
                ret->ref = NULL;
        return ret->ref ? 0 : nook_error_oom(err);
}
