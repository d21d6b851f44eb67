/* nook util — host paths opened once, by fd (SECURITY.md S31): the client resolves a
 * mount source or root directory without following a symlink a sandbox could change;
 * the holder, in its own mount namespace, reaches the same inode again and proves it. */
#ifndef NOOK_UTIL_HOSTPATH_H
#define NOOK_UTIL_HOSTPATH_H

#include <stddef.h>

/* Opens the absolute path once, O_PATH | O_CLOEXEC (| O_DIRECTORY from flags), one
 * component at a time.  A symlink is followed only where neither the caller nor any
 * sandbox of theirs can change it: in a directory owned by root, writable by no group
 * and no other, and not writable by the caller (/bin -> usr/bin, /home -> /data/home).
 * Any other symlink fails the open with -ELOOP.  fd or -errno. */
int nook_host_open(const char *path, int flags);

/* The kernel's name of fd (d_path, read from /proc/self/fd): absolute, without
 * symlinks.  0, or -errno (-ENAMETOOLONG, -EINVAL when it names no path). */
int nook_fd_path(int fd, char *buf, size_t size);

/* fd was opened in another mount namespace (the client's, received with SCM_RIGHTS):
 * opens its path here without following any symlink and returns the new fd only when
 * it is the same inode (st_dev, st_ino, type); -ESTALE when it is not. */
int nook_host_reopen(int fd, int flags);

#endif
