/* nook helpers — a mount of the plan as the holder receives it: a T_MOUNT group of
 * tagged fields (proto.h), checked field by field before anything is mounted, and the
 * few pure rules the holder applies to it.  No system call here: unit-tested alone
 * (tests/unit/test-helpers-mountspec.c). */
#ifndef NOOK_HELPERS_MOUNTSPEC_H
#define NOOK_HELPERS_MOUNTSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h"

typedef struct plan_mount {
        const char *kind, *dest, *options;
        bool ro, file, follow;
        uint64_t fd; /* index of the source's fd in the message, or UINT64_MAX */
} plan_mount;

/* A T_MOUNT group into pm: its fields by tag, in any order, each once; all but M_FD
 * present.  pm points into data.  What is wrong with it, or NULL. */
const char *holder_mount_parse(const void *data, uint32_t len, plan_mount *pm);

/* path is dir or below it (by components: /proc is not under /pro). */
bool holder_path_under(const char *path, const char *dir);

/* A tmpfs's mount flags (always nosuid and nodev; noexec when asked, the last of
 * "noexec" and "exec" winning) and its data (the size= and mode= options,
 * comma-separated, into data of size bytes); other options are left out: the plan
 * validated them (src/userns/mounts.c). */
unsigned long holder_tmpfs_flags(const char *options, char *data, size_t size);

#endif
