/* nook util — resource limit names (getrlimit(2)). */
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#include "util/macro.h"
#include "util/rlimit.h"

int nook_rlimit_by_name(const char *name) {
        static const struct {
                const char *name;
                int resource;
        } names[] = {
                { "as", RLIMIT_AS },           { "core", RLIMIT_CORE },         { "cpu", RLIMIT_CPU },
                { "data", RLIMIT_DATA },       { "fsize", RLIMIT_FSIZE },       { "locks", RLIMIT_LOCKS },
                { "memlock", RLIMIT_MEMLOCK }, { "msgqueue", RLIMIT_MSGQUEUE }, { "nice", RLIMIT_NICE },
                { "nofile", RLIMIT_NOFILE },   { "nproc", RLIMIT_NPROC },       { "rss", RLIMIT_RSS },
                { "rtprio", RLIMIT_RTPRIO },   { "rttime", RLIMIT_RTTIME },     { "sigpending", RLIMIT_SIGPENDING },
                { "stack", RLIMIT_STACK },
        };
        if (strncasecmp(name, "RLIMIT_", 7) == 0)
                name += 7;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcasecmp(name, names[i].name) == 0)
                        return names[i].resource;
        return -1;
}
