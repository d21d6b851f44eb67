/* nook userns — seccomp: the default profile (SECURITY.md S8, S13) or an OCI seccomp
 * profile, compiled with libseccomp into a BPF program once per profile and cached by
 * hash (parent half), and installed in the workload just before execve (child half,
 * raw seccomp(2): helpers do not link libseccomp). */
#ifndef NOOK_USERNS_SECCOMP_H
#define NOOK_USERNS_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/oci-seccomp.h"
#include "util/error.h"

/* A compiled program: the BPF instructions (struct sock_filter[]) ready for
 * seccomp(SECCOMP_SET_MODE_FILTER). */
typedef struct nook_seccomp_program {
        void *insns; /* struct sock_filter * */
        size_t n_insns;
        char hash[72]; /* "sha256:..." of the profile that produced it */
} nook_seccomp_program;

void nook_seccomp_program_clear(nook_seccomp_program *p);

/* Parent half.  profile NULL: nook's default profile.  cache_dir (may be NULL: no cache)
 * holds <hash>.bpf files (0600, written to a temp name and renamed); a cached program
 * is read back instead of compiling.  The default profile:
 *  - allows everything not listed (like podman's default is an allow-list, nook's is a
 *    deny-list of what is not namespaced or not needed: documented in the .c);
 *  - ERRNO(EPERM): keyctl, add_key, request_key, bpf, perf_event_open, userfaultfd,
 *    io_uring_setup/enter/register, kexec_load, kexec_file_load, init_module,
 *    finit_module, delete_module, fsopen, fsconfig, fsmount, fspick, open_tree,
 *    move_mount, mount_setattr, mount, umount2, pivot_root, swapon, swapoff, reboot,
 *    acct, settimeofday, clock_settime, clock_adjtime, adjtimex, syslog, quotactl,
 *    lookup_dcookie, nfsservctl, vhangup, iopl, ioperm, personality (except the
 *    harmless values 0, 8, 0x20000, 0x20008, 0xffffffff), ptrace? (no: allowed, the
 *    workload lacks CAP_SYS_PTRACE and may debug its own children);
 *  - unshare / clone with CLONE_NEWUSER → EPERM unless allow_nested_userns;
 *  - clone3 → ENOSYS (libc falls back to clone, whose flags can be inspected);
 *  - ioctl TIOCSTI and TIOCLINUX → EPERM, compared on the low 32 bits
 *    (SCMP_CMP_MASKED_EQ 0xffffffff) so that high-bit aliases do not pass (S8);
 *  - on every architecture the kernel accepts for this machine (x86_64: also x86 and
 *    x32; aarch64: also arm), so that a 32-bit syscall entry cannot bypass it. */
int nook_seccomp_compile(const nook_seccomp_profile *profile, bool allow_nested_userns, const char *cache_dir,
                         nook_seccomp_program *ret, nook_error **err);

/* Child half: no_new_privs must already be set.  Returns -errno; async-signal-safe
 * (called between fork and execve). */
int nook_seccomp_apply(const void *insns, size_t n_insns);

#endif
