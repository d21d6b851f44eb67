/* nook util — directories made the way nook makes them (0700, parents included), and
 * the kind of filesystem that holds them. */
#ifndef NOOK_UTIL_FS_H
#define NOOK_UTIL_FS_H

#include <stdbool.h>

/* mkdir -p of the directory holding path (0700 for those it creates); existing
 * directories are left as they are.  0 or -errno. */
int nook_mkdir_parents(const char *path);

/* True for a filesystem that hosts share (NFS, SMB/CIFS, Ceph, Lustre, GPFS): no coherent
 * shared mmap for SQLite's WAL index, and pids that mean nothing across hosts.
 * f_type is struct statfs's. */
bool nook_fs_is_network(long f_type);

#endif
