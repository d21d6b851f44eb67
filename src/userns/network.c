/* nook userns — configure_network: the session's own network namespace with loopback
 * only (made by prepare_session when the spec asks for no network), or the host's,
 * reported as a downgrade.  Userspace networking (slirp4netns) is not built yet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userns/session.h"
#include "userns/stages.h"

int nook_userns_configure_network(void *state, nook_call_ctx *ctx, const nook_env_req *req, nook_ref_result *ret,
                                  nook_error **err) {
        _cleanup_(nook_session_freep) nook_session *s = NULL;
        int r = nook_session_need(ctx->config, req->environment.environment_id, "configure_network", &s, err);
        if (r < 0)
                return r;
        int tag = req->environment.spec.network.tag;
        if (tag != NOOK_NET_DISABLED && tag != NOOK_NET_ADAPTER_DEFINED_DENIED)
                return nook_error_not_implemented(err, "configure_network with egress, allowlists or published ports "
                                                       "(userspace networking)");
        if (!s->own_netns)
                ret->ref = strdup("netns-host");
        else if (asprintf(&ret->ref, "netns-%s", s->ref + 2) < 0)
                ret->ref = NULL;
        return ret->ref ? 0 : nook_error_oom(err);
}
