/* nook userns — the limits of a session and of its processes (S34): what goes to the
 * holder, how each limit is enforced here, and the delegated cgroup v2 when there is
 * one.  The holder's half is helpers/limits.c. */
#ifndef NOOK_USERNS_LIMITS_H
#define NOOK_USERNS_LIMITS_H

#include "core/contract.h"
#include "proto/proto.h"
#include "userns/session.h"
#include "util/strbuf.h"

/* prepare_environment, before PREPARE is sent: the session's limits (spec.resources)
 * into m; with a delegated cgroup v2 the session gets its own cgroup, the holder is
 * moved into it and the workloads' cgroup dir is attached to m.  Never fails the
 * stage: what cannot be used is recorded and enforced otherwise.  *ret_cgroup_fd gets
 * the fd attached to m (or stays -1): the caller closes it after the send. */
int nook_limits_prepare(const nook_session *s, const nook_resources *res, nook_msg *m, int *ret_cgroup_fd);
/* After PREPARE succeeded (the driver is known): <session>/limits, how each limit is
 * enforced, for start_process to report. */
int nook_limits_record(const nook_session *s, const nook_environment_spec *spec, const char *notes);
/* The process's timeout: its own timeout_ms, else the session's, tightened by its
 * rlimits' (ResourceLimits) when those ask one. */
uint64_t nook_limits_timeout_ms(const nook_environment_spec *spec, const nook_process_spec *p);
/* start_process: the process's limits into m (timeout, memory, processes, rlimits, the
 * capture logs' bounds), a summary line and the report of how each is enforced. */
int nook_limits_spawn(const nook_session *s, const nook_environment_spec *spec, const nook_process_spec *p, nook_msg *m,
                      nook_strbuf *sum, nook_limits_report *rep);
/* How the session's limits are enforced, "memory=HOW pids=HOW cpus=HOW disk=HOW" (HOW as
 * in nook_limits_report), into buf; false before prepare_environment recorded them. */
bool nook_limits_describe(int session_dir_fd, char *buf, size_t size);
/* cleanup: the session's cgroup, once the holder is gone. */
void nook_limits_release(int session_dir_fd);

#endif
