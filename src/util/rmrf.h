/* nook util — removing a directory tree a workload made (SECURITY.md S24, S35): below
 * dir fds, never following a symlink, never crossing a mount, iterative with a bounded
 * number of fds and a constant stack whatever the depth. */
#ifndef NOOK_UTIL_RMRF_H
#define NOOK_UTIL_RMRF_H

#include <limits.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

/* The walk never holds more than this many fds of its own at once. */
#define NOOK_RMRF_MAX_FDS 8

/* Where a removal stopped: the first failure, for the message the user reads. */
typedef struct nook_rmrf_report {
        int error;               /* -errno, 0 when everything went */
        char step[24];           /* "open", "unlink", "rmdir", "reopen ..", "mount point", ... */
        unsigned long depth;     /* levels below the named entry (0: the entry itself) */
        char name[NAME_MAX + 1]; /* the entry it stopped at */
        uint64_t removed;        /* entries removed, the stopping one excluded */
} nook_rmrf_report;

/* Removes name below dirfd and everything under it: 0 (gone, or never there) or the
 * -errno of the first entry it could not remove, where it stops (what is left stays
 * for a retry).  Directories that are the caller's own are made 0700 before they are
 * entered or emptied (a workload's 0000 and 0555 dirs); anything owned by another id
 * fails with EACCES/EPERM.  A directory on another device (a mount point) fails with
 * EBUSY; one that changed under the walk (renamed away, swapped) with ESTALE.  report
 * may be NULL. */
int nook_rm_rf_at(int dirfd, const char *name);
int nook_rm_rf_report_at(int dirfd, const char *name, nook_rmrf_report *report);

/* Prints the report as "<step> '<name>' <depth> levels down: <strerror>" into buf. */
void nook_rmrf_report_format(const nook_rmrf_report *report, char *buf, size_t size);

/* Defined in test builds only (-Dfault_injection=true): when set, called each time the
 * walk has entered a directory, with its fd and depth (unit tests swap dirs there). */
extern void (*nook_rmrf_test_hook)(int fd, unsigned long depth);

#endif
