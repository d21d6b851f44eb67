/* nook userns — capability_report, fix lines: the parts of a remedy that must be exact
 * to be runnable as printed (a free subordinate id range computed from /etc/subuid and
 * /etc/subgid, the outer container engine's own flags).  Pure functions of their
 * inputs, so that unit tests reach every case. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userns/caps.h"
#include "util/macro.h"
#include "util/strbuf.h"

struct range {
        uint64_t start, end; /* [start, end) */
};

static int by_start(const void *a, const void *b) {
        uint64_t x = ((const struct range *)a)->start, y = ((const struct range *)b)->start;
        return x < y ? -1 : x > y;
}

/* subuid(5): "name-or-uid:start:count" per line; anything else is skipped. */
static int collect(const char *text, struct range **v, size_t *n, size_t *cap) {
        for (const char *l = text; l && *l;) {
                size_t len = strcspn(l, "\n");
                char line[256];
                snprintf(line, sizeof(line), "%.*s", (int)(len < sizeof(line) ? len : sizeof(line) - 1), l);
                l += len + (l[len] == '\n');
                char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL, *e1, *e2;
                if (!c1 || !c2 || c1 == line)
                        continue;
                errno = 0;
                unsigned long long s = strtoull(c1 + 1, &e1, 10), c = strtoull(c2 + 1, &e2, 10);
                if (errno || e1 != c2 || e2 == c2 + 1 || (*e2 && *e2 != ' ' && *e2 != '\r') || c == 0)
                        continue;
                if (*n == *cap) {
                        size_t nc = *cap ? *cap * 2 : 32;
                        struct range *nv = realloc(*v, nc * sizeof(*nv));
                        if (!nv)
                                return -ENOMEM;
                        *v = nv;
                        *cap = nc;
                }
                (*v)[(*n)++] = (struct range){ s, s + c };
        }
        return 0;
}

int caps_subid_free_range(const char *subuid_text, const char *subgid_text, uint64_t count, uint64_t *ret_start) {
        _cleanup_free_ struct range *v = NULL;
        size_t n = 0, cap = 0;
        if (collect(subuid_text, &v, &n, &cap) < 0 || collect(subgid_text, &v, &n, &cap) < 0)
                return -ENOMEM;
        if (n)
                qsort(v, n, sizeof(*v), by_start);
        /* useradd(8)'s SUB_UID_MIN; ids end below 2^32-1 (the invalid id, (uid_t)-1) */
        uint64_t start = CAPS_SUBID_MIN;
        for (size_t i = 0; i < n; i++) {
                if (v[i].end <= start)
                        continue;
                if (v[i].start >= start + count)
                        break;
                start = v[i].end;
        }
        if (start + count > UINT32_MAX)
                return -ENOSPC;
        *ret_start = start;
        return 0;
}

char *caps_subid_fix(const char *user, uint64_t start, uint64_t count) {
        char *s = NULL;
        uint64_t last = start + count - 1;
        if (asprintf(&s, "sudo usermod --add-subuids %" PRIu64 "-%" PRIu64 " --add-subgids %" PRIu64 "-%" PRIu64 " %s",
                     start, last, start, last, user) < 0)
                return NULL;
        return s;
}

caps_outer caps_outer_runtime(bool containerenv, bool dockerenv, const char *container_env) {
        const char *e = container_env ? container_env : "";
        if (strcmp(e, "podman") == 0)
                return CAPS_OUTER_PODMAN;
        if (strcmp(e, "docker") == 0)
                return CAPS_OUTER_DOCKER;
        if (strcmp(e, "nook") == 0)
                return CAPS_OUTER_NOOK;
        if (containerenv)
                return CAPS_OUTER_PODMAN;
        if (dockerenv)
                return CAPS_OUTER_DOCKER;
        return *e ? CAPS_OUTER_OTHER : CAPS_OUTER_NONE;
}

static void put_engine(nook_strbuf *sb, const char *engine, unsigned want) {
        bool podman = strcmp(engine, "podman") == 0;
        nook_strbuf_printf(sb, "%s run", engine);
        if (want & CAPS_OUTER_SECCOMP)
                /* docker-default's AppArmor profile denies mount(2) besides: both go */
                nook_strbuf_puts(sb, podman ? " --security-opt seccomp=unconfined"
                                            : " --security-opt seccomp=unconfined --security-opt apparmor=unconfined");
        if (want & CAPS_OUTER_UNMASK)
                nook_strbuf_puts(sb, podman ? " --security-opt unmask=ALL" : " --security-opt systempaths=unconfined");
        if (want & CAPS_OUTER_FUSE)
                nook_strbuf_puts(sb, " --device /dev/fuse");
        if (want & CAPS_OUTER_TUN)
                nook_strbuf_puts(sb, " --device /dev/net/tun");
        nook_strbuf_puts(sb, " …");
}

char *caps_outer_flags(caps_outer o, unsigned want) {
        nook_strbuf sb = NOOK_STRBUF_INIT;
        switch (o) {
        case CAPS_OUTER_PODMAN:
                put_engine(&sb, "podman", want);
                break;
        case CAPS_OUTER_DOCKER:
                put_engine(&sb, "docker", want);
                break;
        case CAPS_OUTER_NOOK:
                /* an outer nook session: its seccomp filter is the one switch; it masks
                 * /proc and gives no /dev/fuse or /dev/net/tun in any case */
                if (!(want & CAPS_OUTER_SECCOMP))
                        return NULL;
                nook_strbuf_puts(&sb, "nook run --security-opt seccomp=unconfined …");
                break;
        default:
                put_engine(&sb, "podman", want);
                nook_strbuf_puts(&sb, "; or ");
                put_engine(&sb, "docker", want);
                break;
        }
        return nook_strbuf_steal(&sb);
}
