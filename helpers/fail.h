/* nook helpers — how a helper's step fails: errno and a message for the client, carried
 * back in the reply (T_ERRNO, T_MESSAGE); the helper itself never prints. */
#ifndef NOOK_HELPERS_FAIL_H
#define NOOK_HELPERS_FAIL_H

#include <stdbool.h>

typedef struct hstatus {
        int err;
        char msg[512];
} hstatus;

/* Sets st (the message gets ": <strerror>" when err is not 0) and returns -st->err;
 * err 0 is recorded as EIO. */
int hfail(hstatus *st, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Started by the user's own nook: true when we run with more privilege than the caller
 * (setuid, setgid, file capabilities), which would hand the caller's choice of
 * namespaces and sockets to a privileged process: the helper then exits 126. */
bool hprivileged(void);

/* Joins the session's user, then network namespace (setns(2)) and closes both fds. */
int hjoin_session(int userns_fd, int netns_fd, hstatus *st);

#endif
