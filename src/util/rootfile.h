/* nook util — reading a file of a root directory (an image, a session's root) resolved
 * inside that root, so that a symlink in it cannot lead out (SECURITY.md S22). */
#ifndef NOOK_UTIL_ROOTFILE_H
#define NOOK_UTIL_ROOTFILE_H

#include <stddef.h>

/* Reads <root>/<path> resolved inside the root (openat2 RESOLVE_IN_ROOT: a symlink in
 * the image cannot lead outside, S22), at most max bytes.  -ENOENT when absent. */
int nook_root_read_file(const char *root, const char *path, size_t max, char **ret, size_t *ret_len);
/* The same below the root's directory fd. */
int nook_root_read_file_at(int rootfd, const char *path, size_t max, char **ret, size_t *ret_len);

#endif
