/* nook userns — a process's output and exit as the stages read them: waiting for the
 * exit record and one frame of a capture log. */
#ifndef NOOK_USERNS_IO_H
#define NOOK_USERNS_IO_H

#include <stdbool.h>
#include <stdint.h>

#include "core/adapter.h"
#include "userns/session.h"

/* Waits up to timeout_ms for the exit record (looking at the process dir);
 * 1 when the process has exited (*ret filled), 0 when still running. */
int nook_process_wait(const nook_session *s, const char *process_ref, int64_t timeout_ms, nook_exit_record *ret);
/* content_ref_mode (JSON text, as the codec keeps it) is content_ref_if_policy_allows. */
bool nook_io_ref_mode_allows(const char *content_ref_mode);
/* One frame of a capture log from cursor, at most max bytes, shaped by policy (NULL: the
 * stream's policy as start_process recorded it); eof/exit_code set once the process has
 * exited and the log is read to its end. */
int nook_io_frame_fill(const nook_session *s, const char *process_ref, int stream, uint64_t cursor, uint64_t max,
                       const nook_stream_policy *policy, nook_io_frame *f, nook_error **err);

#endif
