/* nook util — facts about processes from /proc. */
#ifndef NOOK_UTIL_PROC_H
#define NOOK_UTIL_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads at most size-1 bytes of a small file (a /proc or /sys entry) into buf,
 * NUL-terminated; the length read, or -errno. */
ssize_t nook_read_small(const char *path, char *buf, size_t size);

/* Start time of pid (field 22 of /proc/<pid>/stat, clock ticks since boot).
 * -ENOENT when the process does not exist. */
int nook_proc_start_time(pid_t pid, uint64_t *ret);
/* true when pid runs (not a zombie waiting to be reaped) and, when start is not 0, has
 * that start time (so a recycled pid is not taken for it). */
bool nook_proc_alive(pid_t pid, uint64_t start);
/* The kernel's boot id (36 characters + NUL). */
int nook_proc_boot_id(char ret[40]);
/* This process runs under a seccomp filter (Seccomp: 2 in /proc/self/status, proc(5)):
 * an outer container's or nook session's, which may deny what a sandbox needs. */
bool nook_proc_self_seccomp_filtered(void);

#endif
