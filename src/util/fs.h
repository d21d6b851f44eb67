/* nook util — directories made the way nook makes them: 0700, parents included. */
#ifndef NOOK_UTIL_FS_H
#define NOOK_UTIL_FS_H

/* mkdir -p of the directory holding path (0700 for those it creates); existing
 * directories are left as they are.  0 or -errno. */
int nook_mkdir_parents(const char *path);

#endif
