/* nook userns — the mount plan of an environment: the spec's workspace and mounts,
 * aliases resolved through the operator's configuration, every source opened once and
 * every destination checked; made without any side effect (resolve_mounts), then handed
 * to the holder by prepare_environment. */
#ifndef NOOK_USERNS_MOUNTS_H
#define NOOK_USERNS_MOUNTS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/adapter.h"
#include "proto/proto.h"
#include "util/error.h"

/* Looks an alias up in the operator's configuration (NAME=PATH entries). */
const char *nook_alias_lookup(const nook_adapter_config *c, const char *name);

enum { NOOK_MOUNT_KIND_SNAPSHOT = 2 };

/* Where socket_relay puts each relayed host socket inside: <dir>/<relay ref>. */
#define NOOK_RELAY_DIR "/run/nook/relay"

/* The PREPARE message carries one fd per host source, and the root's and the writable
 * layer's (proto.h): the plan refuses more host sources than this. */
#define NOOK_MAX_HOST_SOURCES (NOOK_MSG_MAX_FDS - 8)

typedef struct nook_mount_entry {
        char *ref;
        int kind; /* NOOK_MOUNT_KIND_BIND, _TMPFS, _SNAPSHOT */
        bool read_only;
        bool is_file; /* a single file bound by itself */
        char *alias;  /* NULL for tmpfs */
        char *source; /* host path (bind, snapshot) */
        int fd;       /* the source opened once (nook_host_open, S31), or -1 */
        char *dest;
        char *options; /* tmpfs options, validated */
        char *audit;   /* "none", or what more than the file is exposed */
} nook_mount_entry;

typedef struct nook_mount_list {
        nook_mount_entry *e;
        size_t n;
        bool follow_within; /* symlink_policy follow_within_alias */
} nook_mount_list;

int nook_mounts_plan(const nook_adapter_config *c, const nook_environment *env, nook_mount_list *ret, nook_error **err);
void nook_mount_list_clear(nook_mount_list *l);
int nook_mounts_check_root(const nook_mount_list *l, int rootfd, nook_error **err);

#endif
