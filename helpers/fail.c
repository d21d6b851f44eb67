/* nook helpers — hfail, hprivileged and hjoin_session (fail.h). */
#include <errno.h>
#include <sched.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fail.h"

int hfail(hstatus *st, int err, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
        va_end(ap);
        if (err && n >= 0 && (size_t)n < sizeof(st->msg))
                snprintf(st->msg + n, sizeof(st->msg) - (size_t)n, ": %s", strerror(err));
        st->err = err ? err : EIO;
        return -st->err;
}

bool hprivileged(void) {
        if (getauxval(AT_SECURE) || geteuid() != getuid() || getegid() != getgid())
                return true;
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2] = { 0 };
        if (syscall(SYS_capget, &h, d) < 0)
                return true;
        return d[0].effective || d[1].effective;
}

int hjoin_session(int userns_fd, int netns_fd, hstatus *st) {
        if (setns(userns_fd, CLONE_NEWUSER) < 0)
                return hfail(st, errno, "joining the session's user namespace");
        if (setns(netns_fd, CLONE_NEWNET) < 0)
                return hfail(st, errno, "joining the session's network namespace");
        close(userns_fd);
        close(netns_fd);
        return 0;
}
