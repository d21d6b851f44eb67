/* nook util — NOOK_FAULT fault injection; compiled to a no-op unless the build
 * enables it, so release binaries never read the variable. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util/fault.h"

#if NOOK_FAULT_INJECTION
static int errno_from_name(const char *s) {
        static const struct {
                const char *name;
                int value;
        } names[] = {
                { "ENOSPC", ENOSPC }, { "EIO", EIO },       { "EACCES", EACCES }, { "EPERM", EPERM },
                { "ENOMEM", ENOMEM }, { "EAGAIN", EAGAIN }, { "EINTR", EINTR },   { "EDQUOT", EDQUOT },
                { "EBUSY", EBUSY },   { "ENOENT", ENOENT }, { "EEXIST", EEXIST }, { "EROFS", EROFS },
        };
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (strcmp(s, names[i].name) == 0)
                        return names[i].value;
        char *end;
        long v = strtol(s, &end, 10);
        return (*s && !*end && v > 0 && v < 4096) ? (int)v : EIO;
}

int nook_fault(const char *point) {
        const char *spec = getenv("NOOK_FAULT");
        if (!spec || !*spec)
                return 0;
        size_t plen = strlen(point);
        for (const char *p = spec; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
                if (strncmp(p, point, plen) != 0 || p[plen] != ':')
                        continue;
                const char *action = p + plen + 1;
                if (strncmp(action, "kill", 4) == 0 && (action[4] == 0 || action[4] == ','))
                        raise(SIGKILL);
                if (strncmp(action, "errno=", 6) == 0) {
                        char name[32];
                        size_t n = strcspn(action + 6, ",");
                        if (n >= sizeof(name))
                                n = sizeof(name) - 1;
                        memcpy(name, action + 6, n);
                        name[n] = 0;
                        return -errno_from_name(name);
                }
        }
        return 0;
}
#else
int nook_fault(const char *point) {
        (void)point;
        return 0;
}
#endif
