/* nook util — resource limit names, as podman's --ulimit and the contract's
 * posix_rlimits spell them. */
#pragma once

/* The RLIMIT_ of name ("nofile", "NOFILE", "RLIMIT_NOFILE"), or -1. */
int nook_rlimit_by_name(const char *name);

/* The names, for messages. */
#define NOOK_RLIMIT_NAMES                                                                                  \
        "as, core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, " \
        "sigpending, stack"
