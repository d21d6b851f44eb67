/* nook userns — collect_stats: while the process runs, its monitor measures the tree
 * (cpu time, resident memory, process count from the session's /proc) and the
 * writable layer (statfs of its tmpfs); after the exit, the record's rusage.  What
 * cannot be measured is absent, never 0. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userns/network.h"
#include "userns/session.h"
#include "userns/stages.h"
#include "util/random.h"

int nook_userns_collect_stats(void *state, nook_call_ctx *ctx, const nook_process_ref_req *req, nook_stats_result *ret,
                              nook_error **err) {
        _cleanup_(nook_session_freep) nook_session *s = NULL;
        int r = nook_process_session(ctx->config, req->process_ref, &s, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *rnd = nook_random_hex(8);
        if (!rnd || asprintf(&ret->snapshot_ref, "stats-%s", rnd) < 0 || !(ret->process_ref = strdup(req->process_ref)))
                return nook_error_oom(err);
        nook_exit_record rec;
        if (nook_exit_record_read(s, req->process_ref, &rec) == 0 && rec.present) {
                ret->exit_code = (uint64_t)rec.exit_code;
                ret->has_exit_code = true;
                if (!rec.exec_failed[0]) {
                        ret->cpu_millis = rec.cpu_ms;
                        ret->has_cpu_millis = true;
                }
                return asprintf(&ret->redacted_summary, "exited with %d%s%s%s%s", rec.exit_code,
                                rec.timed_out ? " (timed out)" : "",
                                rec.killed_by[0] && !rec.timed_out ? " (killed: " : "",
                                rec.timed_out ? "" : rec.killed_by, /* memory, pids, disk, output (S34) */
                                rec.killed_by[0] && !rec.timed_out ? ")" : "") < 0
                               ? nook_error_oom(err)
                               : 0;
        }
        if (nook_process_unmonitored(s, req->process_ref))
                return nook_error_set(err, NOOK_ERROR_CHILD_LIFECYCLE_FAILURE, NOOK_RETRY_NOT_RETRYABLE, EOWNERDEAD,
                                      "collect_stats: the process's monitor was killed: what it uses is no longer "
                                      "measured (it still runs; nook kill and its timeout still work)");
        if (nook_process_lost(s, req->process_ref))
                return nook_error_set(err, NOOK_ERROR_CHILD_LIFECYCLE_FAILURE, NOOK_RETRY_REPAIR_NEEDED, EOWNERDEAD,
                                      "collect_stats: the process is lost: its monitor died without recording "
                                      "an exit status");
        nook_msg m = NOOK_MSG_INIT(NOOK_MSG_STATS), reply = NOOK_MSG_INIT(0);
        r = nook_session_request(s, req->process_ref, &m, &reply, 10000, "collect_stats", err);
        if (r >= 0) {
                ret->cpu_millis = nook_msg_u64(&reply, T_CPU_MS, 0);
                ret->has_cpu_millis = nook_msg_has(&reply, T_CPU_MS);
                ret->memory_bytes = nook_msg_u64(&reply, T_RSS, 0);
                ret->has_memory_bytes = nook_msg_has(&reply, T_RSS);
                ret->process_count = nook_msg_u64(&reply, T_NPROC, 0);
                ret->has_process_count = nook_msg_has(&reply, T_NPROC);
                ret->filesystem_bytes = nook_msg_u64(&reply, T_FS_BYTES, 0);
                ret->has_filesystem_bytes = nook_msg_has(&reply, T_FS_BYTES);
                uint64_t net = 0;
                /* the session's interfaces: every process of it shares the one netns */
                if (s->own_netns && nook_net_bytes(s, &net) == 0) {
                        ret->network_bytes = net;
                        ret->has_network_bytes = true;
                }
                _cleanup_free_ char *desc = s->net && strcmp(s->net, "slirp4netns") == 0 ? nook_net_describe(s) : NULL;
                bool died = desc && strstr(desc, "died");
                ret->redacted_summary = died ? strdup("running; the network's helper died: the sandbox has no network")
                                             : strdup("running");
        }
        nook_msg_done(&m);
        nook_msg_done(&reply);
        if (r < 0 && nook_exit_record_read(s, req->process_ref, &rec) == 0 && rec.present) {
                /* it ended between the two looks */
                if (err)
                        nook_error_free(TAKE_PTR(*err));
                ret->exit_code = (uint64_t)rec.exit_code;
                ret->has_exit_code = true;
                return 0;
        }
        return r;
}
