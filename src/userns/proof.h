/* nook userns — which programs are nook's helpers, and proving that a process is one of
 * this user's holders before it is trusted or signalled (SECURITY.md S32). */
#ifndef NOOK_USERNS_PROOF_H
#define NOOK_USERNS_PROOF_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"

struct stat;

/* Opens the helper program `name` once (O_PATH | O_CLOEXEC), for execveat(2) of that
 * very file (AT_EMPTY_PATH): from $NOOK_HELPERS_DIR when set, else relative to the file
 * nook runs from (/proc/self/exe, or libnook.so): libexec/nook of the same install, or
 * when there is none helpers/ of the build tree.  No compiled-in absolute path.  A helper someone other than
 * root or us could change is refused.  The fd, or -errno with *err set. */
int nook_helper_open(const char *name, nook_error **err);

/* proof.c (S32): pid is this user's nook-holder started at `start` (and, when dir_fd
 * is not -1, started for that session dir: its dev:ino is in the holder's argv),
 * checked through a pidfd that pins it while /proc is read; 0 and the pidfd (when
 * ret_pidfd), -ESRCH when it is gone, -EPERM when it is some other process. */
int nook_holder_pin(pid_t pid, uint64_t start, int dir_fd, int *ret_pidfd);
/* The session dir a proven holder was started for (path and dev:ino in its argv),
 * opened without following and checked to be that very dir. */
int nook_holder_session_dir(pid_t pid, uint64_t start, int *ret_dirfd);
/* How a session dir is named in the holder's argv: "<dev>:<ino>" in hex. */
void nook_holder_dir_id(const struct stat *st, char ret[48]);
/* The peer of a connected control socket is this user's and is the holder holder_pid
 * (or, for a monitor, a process in that holder's user namespace), and the holder pinned
 * by holder_pidfd still runs.  0 or -errno. */
int nook_peer_check(int fd, pid_t holder_pid, bool monitor, int holder_pidfd);

/* All four uids of /proc/<pid>/status (real, effective, saved, filesystem) are ours;
 * procfd is the process's /proc/<pid> directory. */
bool nook_proc_owned_by_us(int procfd);

#endif
