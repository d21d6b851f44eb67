/* nook — the local image store, for programs that manage images for people (the
 * `nook image` verbs): import from an OCI layout, an oci-archive, a docker-archive or a
 * rootfs tarball (no registry, no network), list, inspect, remove, prune.  Results are
 * JSON (docs/cli.md shows their fields); sessions reach images through resolve_image
 * and prepare_rootfs. */
#ifndef NOOK_IMAGE_H
#define NOOK_IMAGE_H

#include <stdint.h>

#include "nook/error.h"
#include "nook/export.h"
#include "nook/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Called as work advances: what ("layer sha256:abcd…"), bytes done and total (0: unknown). */
typedef void (*nook_progress_fn)(const char *what, uint64_t done, uint64_t total, void *userdata);

#define NOOK_IMPORT_OPTIONS_VERSION 1

typedef struct nook_import_options {
        unsigned version;   /* NOOK_IMPORT_OPTIONS_VERSION */
        const char *source; /* a file, or an OCI layout dir with an optional ":tag" or "@sha256:..." */
        const char *name;   /* NULL: the name the archive carries, else the file's base name */
        nook_progress_fn progress;
        void *userdata;
} nook_import_options;

#define NOOK_IMPORT_OPTIONS_INIT \
        { .version = NOOK_IMPORT_OPTIONS_VERSION }

/* {"name","digest","architecture","layers","unpacked","reused","size","foreign_owners","skipped"} */
NOOK_EXPORT int nook_runtime_image_import(nook_runtime *rt, const nook_import_options *opts, char **ret_json,
                                          nook_error **err);
#define NOOK_SAVE_OPTIONS_VERSION 1

typedef struct nook_save_options {
        unsigned version;  /* NOOK_SAVE_OPTIONS_VERSION */
        const char *image; /* a name, a digest or a digest prefix */
        int fd;            /* the oci-archive (a tar of an OCI image layout) is written here */
        nook_progress_fn progress;
        void *userdata;
} nook_save_options;

#define NOOK_SAVE_OPTIONS_INIT \
        { .version = NOOK_SAVE_OPTIONS_VERSION, .fd = -1 }

/* Writes the image as an oci-archive, its layers as uncompressed tars made again from
 * the store (the same image always gives the same bytes); nook_runtime_image_import
 * reads it back.  {"name","digest" (of the manifest written),"stored_digest","layers"} */
NOOK_EXPORT int nook_runtime_image_save(nook_runtime *rt, const nook_save_options *opts, char **ret_json,
                                        nook_error **err);
/* [{"names":[..],"digest","created_ms","size","layers","architecture","in_use"}] */
NOOK_EXPORT int nook_runtime_images(nook_runtime *rt, char **ret_json, nook_error **err);
/* image: a name, a digest or a digest prefix of 12+ hex digits. */
NOOK_EXPORT int nook_runtime_image_inspect(nook_runtime *rt, const char *image, char **ret_json, nook_error **err);
/* Removes the name (or, given a digest, every name); the image and its layers go with
 * its last name unless a live session uses it (refused, naming the session). */
NOOK_EXPORT int nook_runtime_image_remove(nook_runtime *rt, const char *image, char **ret_json, nook_error **err);
/* Removes layers and blobs no name and no live session uses, and abandoned imports. */
NOOK_EXPORT int nook_runtime_image_prune(nook_runtime *rt, char **ret_json, nook_error **err);

#ifdef __cplusplus
}
#endif

#endif
