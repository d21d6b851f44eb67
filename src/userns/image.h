/* nook userns — the image store (store.c), layer unpacking (layer.c), archive and
 * layout import (image.c) and the rootfs drivers (rootfs.c) share these types. */
#ifndef NOOK_USERNS_IMAGE_H
#define NOOK_USERNS_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/adapter.h"
#include "nook/error.h"
#include "nook/image.h"
#include "util/macro.h"
#include "util/sha256.h"

struct archive;

/* The xattr fuse-overlayfs reads a layer's original owner and mode from ("uid:gid:mode",
 * mode in octal); present on the layer root, it switches fuse-overlayfs into that mode
 * (fuse-overlayfs utils.h, direct.c). */
#define NOOK_OVERRIDE_XATTR "user.containers.override_stat"
/* kernel overlayfs with `userxattr` (overlayfs(5), "User xattr"). */
#define NOOK_OPAQUE_XATTR "user.overlay.opaque"

/* Caps on what one layer may expand to (S21); from $NOOK_LIMIT_LAYER_BYTES,
 * $NOOK_LIMIT_LAYER_ENTRIES and $NOOK_LIMIT_LAYER_RATIO when set. */
typedef struct nook_layer_limits {
        uint64_t max_bytes;   /* expanded file bytes */
        uint64_t max_entries; /* tar entries */
        uint64_t max_ratio;   /* expanded ÷ compressed, checked past 64 MiB expanded */
} nook_layer_limits;

void nook_layer_limits_from_env(nook_layer_limits *l);

typedef struct nook_layer_stats {
        uint64_t entries;
        uint64_t bytes;          /* expanded file bytes */
        uint64_t foreign_owners; /* entries owned by a uid or gid other than 0 */
        uint64_t skipped;        /* device nodes and sockets, never created (S19) */
        uint64_t xattrs_dropped; /* trusted.*, security.*, ACLs, reserved user.* (S19) */
        uint64_t whiteouts;
        char skipped_names[256]; /* the first skipped entries, ", "-separated */
        uint64_t compressed_in;  /* set by the reader: raw bytes read so far */
} nook_layer_stats;

/* Unpacks the tar stream a (filters and format already set, opened) into the empty
 * directory dirfd.  Every entry is created relative to dirfd without following a
 * symlink (S15–S17); whiteouts become 0/0 character devices and opaque markers the
 * user.overlay.opaque xattr (S18); every file and directory carries its original
 * owner and mode in NOOK_OVERRIDE_XATTR while staying owned by the caller. */
int nook_layer_unpack(struct archive *a, int dirfd, const nook_layer_limits *limits, nook_layer_stats *st,
                      nook_error **err);

/* The store: <data>/images/{blobs/sha256,names,tmp}, <data>/layers/<hex>/{diff,info}. */
typedef struct nook_store {
        int data_fd;
        int images_fd;
        int blobs_fd; /* images/blobs/sha256 */
        int names_fd;
        int tmp_fd;
        int layers_fd;
        int lock_fd; /* images/lock: flock shared by users of images, exclusive by rm/prune */
        char *data_dir;
} nook_store;

int nook_store_open(const char *data_dir, bool create, nook_store *ret, nook_error **err);
void nook_store_close(nook_store *s);
/* flock on images/lock: LOCK_SH or LOCK_EX. */
int nook_store_lock(nook_store *s, int how, nook_error **err);

/* A staging directory under images/tmp, locked (flock) while its creator lives, so gc
 * and prune can tell abandoned ones; removed by nook_store_staging_done. */
typedef struct nook_staging {
        int fd;
        int lock_fd;
        char name[64];
} nook_staging;
int nook_store_staging(nook_store *s, nook_staging *ret, nook_error **err);
void nook_store_staging_done(nook_store *s, nook_staging *t);
/* Removes staging dirs nobody holds; returns how many. */
unsigned nook_store_sweep(nook_store *s);

/* Blobs by digest: verified before being named. */
bool nook_store_has_blob(nook_store *s, const char *digest);
int nook_store_read_blob(nook_store *s, const char *digest, size_t max, char **ret, size_t *ret_len, nook_error **err);
int nook_store_put_blob(nook_store *s, const char *digest, const void *data, size_t len, nook_error **err);
bool nook_store_has_layer(nook_store *s, const char *digest);
/* Moves staged/<name> into layers/<hex> (losing a race to an identical layer is fine). */
int nook_store_commit_layer(nook_store *s, nook_staging *t, const char *name, const char *digest, nook_error **err);

int nook_store_set_name(nook_store *s, const char *name, const char *manifest_digest, nook_error **err);
int nook_store_unset_name(nook_store *s, const char *name); /* normalized; -errno */
/* A name file of images/names decoded (%XX) into out. */
void nook_store_name_decode(const char *enc, char *out, size_t size);
/* The manifest digest a name, a digest or a unique digest prefix (12+ hex) names. */
int nook_store_lookup(nook_store *s, const char *ref, char ret[NOOK_DIGEST_LEN + 1], nook_error **err);

/* A name as stored: "name:tag" with ":latest" added when no tag is given; NULL for what
 * is not a reference (printable ASCII without spaces, @ or a backslash; not a digest). */
char *nook_image_name_normalize(const char *name);

/* An image as the store knows it: manifest, config and the per-layer facts. */
typedef struct nook_image {
        char digest[NOOK_DIGEST_LEN + 1]; /* of the manifest */
        char config_digest[NOOK_DIGEST_LEN + 1];
        char **layers; /* digests, bottom first, NULL-terminated */
        size_t n_layers;
        char *architecture, *os;
        char **env, **entrypoint, **cmd; /* NULL-terminated or NULL */
        char *workdir, *user;
        uint64_t foreign_owners; /* entries whose owner collapses in single-id modes */
        uint64_t size;           /* expanded bytes */
} nook_image;

void nook_image_clear(nook_image *im);
int nook_image_load(nook_store *s, const char *digest, nook_image *ret, nook_error **err);
/* The same from the store of data_dir, opened and closed around it; without stats,
 * foreign_owners and size stay 0 (the start path needs the config and layer list only). */
int nook_image_load_from(const char *data_dir, const char *digest, bool stats, nook_image *ret, nook_error **err);
/* Raises "image NAME (sha256:…): <what>" for an image whose manifest, config or layer
 * is missing (ENOENT) or damaged (EBADMSG) in the store of data_dir: InvalidPackage,
 * UserActionNeeded (importing it again repairs it), the store's path in the hint only. */
int nook_image_damaged(nook_error **err, const char *data_dir, const char *digest, int errnum, const char *fmt, ...)
        _printf_(5, 6);

/* import.c: `nook image import`. */
int nook_image_import(const nook_adapter_config *c, const nook_import_options *o, char **ret_json, nook_error **err);

/* rootfs.c: a small file of the session's root read from the host side, inside the
 * root (S22): the directory's, or the topmost image layer's that has it (a whiteout
 * ends the search).  -ENOENT when absent. */
struct nook_session;
int nook_session_read_root_file(const nook_adapter_config *c, const struct nook_session *s, const char *path,
                                size_t max, char **ret);

/* rootfs.c: the root of a session prepare_rootfs did not bind to it (the contract's
 * request names no session): taken from the environment's spec.rootfs, else spec.image,
 * checked, journaled and saved as prepare_rootfs would. */
int nook_rootfs_adopt(nook_call_ctx *ctx, struct nook_session *s, const nook_environment *env, nook_error **err);

/* process.c: an image's WorkingDir nook will use: absolute, no "..", not under /proc
 * (S22); others are ignored (the process starts in /). */
bool nook_image_workdir_ok(const char *w);

/* rootfs.c: the fuse-overlayfs program ($NOOK_FUSE_OVERLAYFS overrides). */
const char *nook_fuse_overlayfs_path(void);

/* The OCI architecture name of this machine ("amd64", "arm64"...). */
const char *nook_oci_arch(void);

#endif
