/* nook userns — ending a session, shared by cleanup, gc, detach's expiry and reclaim. */
#ifndef NOOK_USERNS_CLEANUP_H
#define NOOK_USERNS_CLEANUP_H

#include <stdint.h>
#include <sys/types.h>

#include "core/adapter.h"

struct nook_strbuf;
/* Ends one session (the holder through a pidfd once proven, nook_holder_pin,
 * bound to dir_fd when the session dir is known, else -1; then its dir) and releases,
 * reconciles and retires its journal rows; what is left is appended to `left`
 * ("; "-separated). */
void nook_session_reclaim(const nook_adapter_config *c, nook_journal *j, const char *environment_id, const char *ref,
                          int dir_fd, pid_t pid, uint64_t start, struct nook_strbuf *left);

/* A nook_resource_visit_fn keeping the pid and start time of a "session" resource. */
int nook_resource_copy_pid(const nook_resource *r, void *userdata);

#endif
