/* nook helpers — a mount of the plan as the holder receives it (mountspec.h). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

#include "mountspec.h"

/* One field of a T_MOUNT group into pm; what is wrong with it, or NULL. */
static const char *mount_field(plan_mount *pm, uint16_t tag, const void *d, uint32_t len) {
        bool str = tag == M_KIND || tag == M_DEST || tag == M_OPTIONS;
        if (str && (len == 0 || memchr(d, 0, len) != (const char *)d + len - 1))
                return "a string field that is not one string";
        if (!str && len != sizeof(uint64_t))
                return "a number field of the wrong size";
        uint64_t v = 0;
        if (!str)
                memcpy(&v, d, sizeof(v));
        if (!str && tag != M_FD && v > 1)
                return "a flag other than 0 or 1";
        switch ((nook_mount_tag)tag) {
        case M_KIND:
                pm->kind = d;
                return strcmp(d, "bind") && strcmp(d, "tmpfs") && strcmp(d, "snapshot") ? "an unknown kind" : NULL;
        case M_READ_ONLY:
                pm->ro = v;
                return NULL;
        case M_IS_FILE:
                pm->file = v;
                return NULL;
        case M_FOLLOW:
                pm->follow = v;
                return NULL;
        case M_DEST:
                pm->dest = d;
                return pm->dest[0] == '/' ? NULL : "a relative destination";
        case M_OPTIONS:
                pm->options = d;
                return NULL;
        case M_FD:
                pm->fd = v;
                return NULL;
        }
        return "an unknown field";
}

const char *holder_mount_parse(const void *data, uint32_t len, plan_mount *pm) {
        nook_msg g;
        if (!nook_msg_group(data, len, &g))
                return "a truncated field";
        *pm = (plan_mount){ .fd = UINT64_MAX };
        uint32_t seen = 0;
        size_t off = 0;
        uint16_t tag;
        const void *d;
        uint32_t n;
        while (nook_msg_next(&g, &off, &tag, &d, &n)) {
                if (tag < M_KIND || tag > M_FD)
                        return "an unknown field";
                if (seen & (1u << tag))
                        return "a field given twice";
                seen |= 1u << tag;
                const char *why = mount_field(pm, tag, d, n);
                if (why)
                        return why;
        }
        const uint32_t required =
                1u << M_KIND | 1u << M_READ_ONLY | 1u << M_IS_FILE | 1u << M_FOLLOW | 1u << M_DEST | 1u << M_OPTIONS;
        return (seen & required) == required ? NULL : "a missing field";
}

bool holder_path_under(const char *path, const char *dir) {
        size_t n = strlen(dir);
        return strncmp(path, dir, n) == 0 && (path[n] == 0 || path[n] == '/');
}

unsigned long holder_tmpfs_flags(const char *options, char *data, size_t size) {
        unsigned long flags = MS_NOSUID | MS_NODEV;
        char copy[256];
        snprintf(copy, sizeof(copy), "%s", options);
        data[0] = 0;
        for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (!strcmp(t, "noexec"))
                        flags |= MS_NOEXEC;
                else if (!strcmp(t, "exec"))
                        flags &= ~(unsigned long)MS_NOEXEC;
                else if (!strncmp(t, "size=", 5) || !strncmp(t, "mode=", 5))
                        snprintf(data + strlen(data), size - strlen(data), "%s%s", data[0] ? "," : "", t);
        }
        return flags;
}
