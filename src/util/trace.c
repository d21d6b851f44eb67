/* nook util — start-path trace points (trace.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "util/trace.h"

static int trace_fd = -2; /* -2: not looked up yet; -1: off */

static int lookup(void) {
        const char *s = getenv("NOOK_TRACE_FD");
        char *end;
        long v = s && *s ? strtol(s, &end, 10) : -1;
        if (!s || !*s || *end || v < 3 || v > 1 << 20)
                return -1;
        /* the caller's fd, not a workload's: never inherited by what nook starts */
        return fcntl((int)v, F_SETFD, FD_CLOEXEC) == 0 ? (int)v : -1;
}

void nook_trace(const char *point) {
        if (trace_fd == -2)
                trace_fd = lookup();
        if (trace_fd < 0)
                return;
        int e = errno;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        char line[160];
        int n = snprintf(line, sizeof(line), "%lld %d %s\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec,
                         (int)getpid(), point);
        if (n > 0)
                (void)!write(trace_fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
        errno = e;
}
