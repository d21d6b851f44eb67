/* nook userns — seccomp: nook's default profile or an OCI profile compiled with libseccomp
 * (seccomp_init(3), seccomp_rule_add(3), seccomp_export_bpf(3)) into classic BPF once per
 * profile, cached by hash as <cache_dir>/<hex>.bpf (parent half); installed in the child
 * just before execve with seccomp(2) SECCOMP_SET_MODE_FILTER (child half). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>

#include "userns/seccomp.h"
#include "util/fault.h"
#include "util/sha256.h"
#include "util/strbuf.h"

/* Bump whenever the default profile below changes: programs cached for the old one are
 * then never read again (the version is part of the hash). */
#define NOOK_SECCOMP_DEFAULT_VERSION 1

/* Limits of the profile (and of src/core/oci-seccomp.c, which reports them per field). */
#define MAX_RULES 4096
#define MAX_NAMES 512
#define MAX_ARGS 6
/* SECCOMP_RET_ERRNO carries 16 bits, but the kernel's MAX_ERRNO is 4095. */
#define MAX_ERRNO_RET 4095

static void seccomp_releasep(scmp_filter_ctx *ctx) {
        if (*ctx)
                seccomp_release(*ctx);
}

void nook_seccomp_program_clear(nook_seccomp_program *p) {
        if (!p)
                return;
        free(p->insns);
        *p = (nook_seccomp_program){ 0 };
}

/* ====================================================================== the default */

/* Not namespaced, or not needed by a workload, and reachable by sandbox root: EPERM.
 * umount, stime, clock_settime64, clock_adjtime64 and quotactl_fd are the 32-bit, time64
 * and fd variants of listed calls (they exist on the compat arches of the filter). */
static const char *const default_denied[] = {
        /* kernel keyrings are not namespaced (Docker's default profile denies them too) */
        "keyctl",
        "add_key",
        "request_key",
        /* large kernel attack surface, a history of privilege escalations */
        "bpf",
        "perf_event_open",
        "userfaultfd",
        "io_uring_setup",
        "io_uring_enter",
        "io_uring_register",
        /* the running kernel itself */
        "kexec_load",
        "kexec_file_load",
        "init_module",
        "finit_module",
        "delete_module",
        /* mounts: the old and the new mount API (CVE-2022-0185 went through fsconfig) */
        "fsopen",
        "fsconfig",
        "fsmount",
        "fspick",
        "open_tree",
        "move_mount",
        "mount_setattr",
        "mount",
        "umount",
        "umount2",
        "pivot_root",
        /* host-global state: swap, power, accounting, clocks, kernel log, quotas, ports */
        "swapon",
        "swapoff",
        "reboot",
        "acct",
        "settimeofday",
        "stime",
        "clock_settime",
        "clock_settime64",
        "clock_adjtime",
        "clock_adjtime64",
        "adjtimex",
        "syslog",
        "quotactl",
        "quotactl_fd",
        "lookup_dcookie",
        "nfsservctl",
        "vhangup",
        "iopl",
        "ioperm",
};

/* The default profile fails closed: a name this libseccomp cannot resolve would leave
 * the call allowed, so it is an error here (user profiles skip such names instead). */
static int rule_add(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n_cmp,
                    const struct scmp_arg_cmp *cmp, nook_error **err) {
        int nr = seccomp_syscall_resolve_name(name);
        if (nr == __NR_SCMP_ERROR) {
                const struct scmp_version *v = seccomp_version();
                return nook_error_set(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, NOOK_RETRY_HOST_CONFIGURATION_NEEDED,
                                      ENOSYS, "seccomp: libseccomp %u.%u.%u does not know the system call %s", v->major,
                                      v->minor, v->micro, name);
        }
        int r = seccomp_rule_add_array(ctx, action, nr, n_cmp, cmp);
        if (r < 0)
                return nook_error_sys(err, -r, "seccomp: add the default rule for %s", name);
        return 0;
}

/* personality(2): the kernel reads the persona as an unsigned int (kernel/exec_domain.c),
 * so only the low 32 bits are compared.  Allowed, as in Docker's default profile:
 * PER_LINUX (0), PER_LINUX32 (8), UNAME26 (0x20000), PER_LINUX32|UNAME26 (0x20008) and the
 * query 0xffffffff; anything else (READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE, MMAP_PAGE_ZERO,
 * foreign execution domains) is EPERM.  A default-allow filter cannot say "EPERM unless
 * A0 is one of these" in one rule: libseccomp compares each argument at most once per
 * rule, rules of one syscall are ORed, and an ALLOW rule equal to the default action is
 * refused (seccomp_rule_add(3)).  So the complement is a union of single masked compares:
 * with bit 31 clear a value is allowed iff no bit outside PER_LINUX32|UNAME26 is set, with
 * bit 31 set iff all 32 bits are set — 29 + 31 rules. */
static int add_personality_rules(scmp_filter_ctx ctx, nook_error **err) {
        const uint64_t free_bits = PER_LINUX32 | UNAME26, top = UINT64_C(1) << 31;
        for (unsigned b = 0; b < 31; b++) {
                uint64_t bit = UINT64_C(1) << b;
                int r;
                if (!(free_bits & bit)) {
                        struct scmp_arg_cmp stray = SCMP_A0(SCMP_CMP_MASKED_EQ, top | bit, bit);
                        r = rule_add(ctx, SCMP_ACT_ERRNO(EPERM), "personality", 1, &stray, err);
                        if (r < 0)
                                return r;
                }
                struct scmp_arg_cmp hole = SCMP_A0(SCMP_CMP_MASKED_EQ, top | bit, top);
                r = rule_add(ctx, SCMP_ACT_ERRNO(EPERM), "personality", 1, &hole, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* clone(2)'s flags are argument 0, except on s390/s390x where the kernel is built with
 * CLONE_BACKWARDS2 and the new stack comes first (clone(2) NOTES; Docker's default
 * profile has the same s390 special case). */
static unsigned clone_flags_arg(void) {
        uint32_t native = seccomp_arch_native();
        return native == SCMP_ARCH_S390 || native == SCMP_ARCH_S390X ? 1 : 0;
}

static int add_special_rules(scmp_filter_ctx ctx, bool allow_nested_userns, nook_error **err) {
        /* clone3(2) passes its flags in a struct seccomp cannot read: ENOSYS makes libc
         * fall back to clone(2), whose flags the rule below can inspect. */
        int r = rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL, err);
        if (r < 0)
                return r;
        /* ioctl(2): the kernel takes the request as unsigned int (fs/ioctl.c), so a request
         * with high bits set is the same ioctl (CVE-2019-10063): compare the low 32 bits. */
        static const uint64_t tty_inject[] = { TIOCSTI, TIOCLINUX };
        for (size_t i = 0; i < ELEMENTSOF(tty_inject); i++) {
                struct scmp_arg_cmp c = SCMP_A1(SCMP_CMP_MASKED_EQ, UINT64_C(0xffffffff), tty_inject[i]);
                r = rule_add(ctx, SCMP_ACT_ERRNO(EPERM), "ioctl", 1, &c, err);
                if (r < 0)
                        return r;
        }
        if (!allow_nested_userns) {
                struct scmp_arg_cmp unshare_c = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER);
                struct scmp_arg_cmp clone_c = { clone_flags_arg(), SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER };
                r = rule_add(ctx, SCMP_ACT_ERRNO(EPERM), "unshare", 1, &unshare_c, err);
                if (r >= 0)
                        r = rule_add(ctx, SCMP_ACT_ERRNO(EPERM), "clone", 1, &clone_c, err);
                if (r < 0)
                        return r;
        }
        return add_personality_rules(ctx, err);
}

static int add_default_rules(scmp_filter_ctx ctx, bool allow_nested_userns, nook_error **err) {
        for (size_t i = 0; i < ELEMENTSOF(default_denied); i++) {
                int r = rule_add(ctx, SCMP_ACT_ERRNO(EPERM), default_denied[i], 0, NULL, err);
                if (r < 0)
                        return r;
        }
        return add_special_rules(ctx, allow_nested_userns, err);
}

/* ================================================================ profile → libseccomp */

static int scmp_action(int action, int errno_ret, uint32_t *ret) {
        switch (action) {
        case NOOK_SECCOMP_ACT_ALLOW:
                *ret = SCMP_ACT_ALLOW;
                return 0;
        case NOOK_SECCOMP_ACT_ERRNO:
                if (errno_ret < 0 || errno_ret > MAX_ERRNO_RET)
                        return -EINVAL;
                *ret = SCMP_ACT_ERRNO(errno_ret ? (uint16_t)errno_ret : EPERM);
                return 0;
        case NOOK_SECCOMP_ACT_KILL_PROCESS:
                *ret = SCMP_ACT_KILL_PROCESS;
                return 0;
        case NOOK_SECCOMP_ACT_KILL_THREAD:
                *ret = SCMP_ACT_KILL_THREAD;
                return 0;
        case NOOK_SECCOMP_ACT_TRAP:
                *ret = SCMP_ACT_TRAP;
                return 0;
        case NOOK_SECCOMP_ACT_LOG:
                *ret = SCMP_ACT_LOG;
                return 0;
        }
        return -EINVAL;
}

static int scmp_op(int op, enum scmp_compare *ret) {
        static const enum scmp_compare ops[] = {
                [NOOK_SECCOMP_OP_NE] = SCMP_CMP_NE,
                [NOOK_SECCOMP_OP_LT] = SCMP_CMP_LT,
                [NOOK_SECCOMP_OP_LE] = SCMP_CMP_LE,
                [NOOK_SECCOMP_OP_EQ] = SCMP_CMP_EQ,
                [NOOK_SECCOMP_OP_GE] = SCMP_CMP_GE,
                [NOOK_SECCOMP_OP_GT] = SCMP_CMP_GT,
                [NOOK_SECCOMP_OP_MASKED_EQ] = SCMP_CMP_MASKED_EQ,
        };
        if (op < NOOK_SECCOMP_OP_NE || op > NOOK_SECCOMP_OP_MASKED_EQ)
                return -EINVAL;
        *ret = ops[op];
        return 0;
}

/* "SCMP_ARCH_X86_64" → the libseccomp token (0 when unknown). */
static uint32_t arch_token(const char *oci_name) {
        char name[32];
        size_t n = strlen("SCMP_ARCH_");
        if (strncmp(oci_name, "SCMP_ARCH_", n) != 0 || strlen(oci_name + n) >= sizeof(name))
                return 0;
        size_t i = 0;
        for (const char *c = oci_name + n; *c; c++)
                name[i++] = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
        name[i] = 0;
        return seccomp_arch_resolve_name(name);
}

static int err_at(nook_error **err, const char *pointer, const char *msg) {
        return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, pointer, "seccomp profile: %s", msg);
}

/* "/syscalls/<i>/<field>", or "/syscalls/<i>/<field>/<j>[/<sub>]" when j is not SIZE_MAX. */
static int err_rule(nook_error **err, size_t i, const char *field, size_t j, const char *sub, const char *msg) {
        char ptr[96];
        if (j == SIZE_MAX)
                snprintf(ptr, sizeof(ptr), "/syscalls/%zu/%s", i, field);
        else
                snprintf(ptr, sizeof(ptr), "/syscalls/%zu/%s/%zu%s%s", i, field, j, sub ? "/" : "", sub ? sub : "");
        return err_at(err, ptr, msg);
}

static int err_arch(nook_error **err, size_t i, const char *msg) {
        char ptr[64];
        snprintf(ptr, sizeof(ptr), "/architectures/%zu", i);
        return err_at(err, ptr, msg);
}

static int check_rule(const nook_seccomp_rule *rule, size_t i, nook_error **err) {
        uint32_t act;
        if (scmp_action(rule->action, rule->errno_ret, &act) < 0)
                return err_rule(err, i, "action", SIZE_MAX, NULL, "invalid action or errnoRet");
        if (!rule->names)
                return err_rule(err, i, "names", SIZE_MAX, NULL, "no syscall names");
        size_t n = 0;
        while (rule->names[n])
                n++;
        if (n > MAX_NAMES)
                return err_rule(err, i, "names", SIZE_MAX, NULL, "more than 512 names in one rule");
        if (rule->n_args > MAX_ARGS || (rule->n_args && !rule->args))
                return err_rule(err, i, "args", SIZE_MAX, NULL, "more than 6 argument comparisons");
        for (size_t j = 0; j < rule->n_args; j++) {
                enum scmp_compare op;
                if (rule->args[j].index >= MAX_ARGS)
                        return err_rule(err, i, "args", j, "index", "index out of range 0..5");
                if (scmp_op(rule->args[j].op, &op) < 0)
                        return err_rule(err, i, "args", j, "op", "invalid comparison");
        }
        return 0;
}

/* Profiles may be built by code as well as by the OCI parser: check what compile relies on. */
static int check_profile(const nook_seccomp_profile *p, nook_error **err) {
        uint32_t act;
        if (scmp_action(p->default_action, p->default_errno, &act) < 0)
                return err_at(err, "/defaultAction", "invalid default action or defaultErrnoRet");
        for (size_t i = 0; p->architectures && p->architectures[i]; i++)
                if (arch_token(p->architectures[i]) == 0)
                        return err_arch(err, i, "architecture unknown to libseccomp");
        if (p->n_rules > MAX_RULES || (p->n_rules && !p->rules))
                return err_at(err, "/syscalls", "more than 4096 rules");
        for (size_t i = 0; i < p->n_rules; i++) {
                int r = check_rule(&p->rules[i], i, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Same-index comparisons cannot share a rule in libseccomp (seccomp_rule_add(3)); like
 * runc, such a rule becomes one rule per comparison, i.e. they are ORed. */
static bool repeats_index(const nook_seccomp_rule *rule) {
        unsigned seen = 0;
        for (size_t j = 0; j < rule->n_args; j++) {
                if (seen & (1u << rule->args[j].index))
                        return true;
                seen |= 1u << rule->args[j].index;
        }
        return false;
}

static int add_profile_rule(scmp_filter_ctx ctx, const nook_seccomp_rule *rule, size_t i, uint32_t act,
                            nook_error **err) {
        struct scmp_arg_cmp cmp[MAX_ARGS];
        for (size_t j = 0; j < rule->n_args; j++) {
                enum scmp_compare op = SCMP_CMP_EQ;
                (void)scmp_op(rule->args[j].op, &op);
                cmp[j] = (struct scmp_arg_cmp){ rule->args[j].index, op, rule->args[j].value, rule->args[j].value_two };
        }
        bool split = repeats_index(rule);
        for (size_t j = 0; rule->names[j]; j++) {
                int nr = seccomp_syscall_resolve_name(rule->names[j]);
                if (nr == __NR_SCMP_ERROR)
                        continue; /* unknown to this libseccomp: skipped, as runc and crun do */
                int r = 0;
                if (!split)
                        r = seccomp_rule_add_array(ctx, act, nr, (unsigned)rule->n_args, cmp);
                for (size_t k = 0; split && r >= 0 && k < rule->n_args; k++)
                        r = seccomp_rule_add_array(ctx, act, nr, 1, &cmp[k]);
                if (r == -ENOMEM)
                        return nook_error_oom(err);
                if (r < 0)
                        return err_rule(err, i, "names", j, NULL, "libseccomp refused the rule");
        }
        return 0;
}

static int add_profile_rules(scmp_filter_ctx ctx, const nook_seccomp_profile *p, uint32_t def, nook_error **err) {
        for (size_t i = 0; i < p->n_rules; i++) {
                uint32_t act;
                (void)scmp_action(p->rules[i].action, p->rules[i].errno_ret, &act);
                /* libseccomp refuses (EACCES) a rule whose action is the default: it is a no-op. */
                if (act == def)
                        continue;
                int r = add_profile_rule(ctx, &p->rules[i], i, act, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* NULL: the native arch and the compat arches this machine's kernel may accept, so that a
 * 32-bit (or x32) syscall entry meets the same rules.  seccomp_init() adds the native one. */
static int add_arches(scmp_filter_ctx ctx, char *const *names, nook_error **err) {
        static const struct {
                uint32_t native, compat[2];
        } compat[] = {
                { SCMP_ARCH_X86_64, { SCMP_ARCH_X86, SCMP_ARCH_X32 } },
                { SCMP_ARCH_AARCH64, { SCMP_ARCH_ARM, 0 } },
                { SCMP_ARCH_S390X, { SCMP_ARCH_S390, 0 } },
                { SCMP_ARCH_PPC64, { SCMP_ARCH_PPC, 0 } },
                { SCMP_ARCH_MIPS64, { SCMP_ARCH_MIPS, SCMP_ARCH_MIPS64N32 } },
                { SCMP_ARCH_MIPSEL64, { SCMP_ARCH_MIPSEL, SCMP_ARCH_MIPSEL64N32 } },
        };
        uint32_t want[8] = { 0 };
        size_t n = 0;
        if (!names) {
                for (size_t i = 0; i < ELEMENTSOF(compat); i++)
                        if (compat[i].native == seccomp_arch_native())
                                for (size_t k = 0; k < 2 && compat[i].compat[k]; k++)
                                        want[n++] = compat[i].compat[k];
        }
        for (size_t i = 0; names && names[i]; i++) {
                int r = seccomp_arch_add(ctx, arch_token(names[i]));
                if (r < 0 && r != -EEXIST)
                        return err_arch(err, i, "libseccomp cannot add this architecture");
        }
        for (size_t i = 0; i < n; i++) {
                int r = seccomp_arch_add(ctx, want[i]);
                if (r < 0 && r != -EEXIST)
                        return nook_error_sys(err, -r, "seccomp: add compat architecture %#" PRIx32, want[i]);
        }
        return 0;
}

/* ========================================================================= hashing */

static void serialise_profile(nook_strbuf *b, const nook_seccomp_profile *p) {
        uint32_t act = 0;
        (void)scmp_action(p->default_action, p->default_errno, &act);
        nook_strbuf_printf(b, "profile\ndefault %#" PRIx32 "\n", act);
        if (!p->architectures)
                nook_strbuf_puts(b, "arches native+compat\n");
        for (size_t i = 0; p->architectures && p->architectures[i]; i++)
                nook_strbuf_printf(b, "arch %zu:%s\n", strlen(p->architectures[i]), p->architectures[i]);
        nook_strbuf_printf(b, "rules %zu\n", p->n_rules);
        for (size_t i = 0; i < p->n_rules; i++) {
                const nook_seccomp_rule *rule = &p->rules[i];
                (void)scmp_action(rule->action, rule->errno_ret, &act);
                nook_strbuf_printf(b, "rule %#" PRIx32 " args %zu\n", act, rule->n_args);
                for (size_t j = 0; rule->names[j]; j++)
                        nook_strbuf_printf(b, "name %zu:%s\n", strlen(rule->names[j]), rule->names[j]);
                for (size_t j = 0; j < rule->n_args; j++)
                        nook_strbuf_printf(b, "arg %u %d %#" PRIx64 " %#" PRIx64 "\n", rule->args[j].index,
                                           rule->args[j].op, rule->args[j].value, rule->args[j].value_two);
                nook_strbuf_puts(b, "end\n");
        }
}

/* sha256 of a canonical text of everything the program depends on: the profile (or the
 * default's version), nesting, libseccomp's version and API level (its BPF generator and
 * the actions it finds in the kernel), and the native arch. */
static int profile_hash(const nook_seccomp_profile *p, bool nested, char out[NOOK_DIGEST_LEN + 1], nook_error **err) {
        _cleanup_(nook_strbuf_done) nook_strbuf b = NOOK_STRBUF_INIT;
        const struct scmp_version *v = seccomp_version();
        nook_strbuf_printf(&b, "nook-seccomp 1\nlibseccomp %u.%u.%u api %u\nnative %#" PRIx32 "\nnested %d\n", v->major,
                           v->minor, v->micro, seccomp_api_get(), seccomp_arch_native(), nested ? 1 : 0);
        if (p)
                serialise_profile(&b, p);
        else
                nook_strbuf_printf(&b, "default-profile %d\n", NOOK_SECCOMP_DEFAULT_VERSION);
        if (b.failed)
                return nook_error_oom(err);
        int r = nook_sha256_digest(b.s, b.len, out);
        if (r < 0)
                return nook_error_sys(err, -r, "seccomp: hash the profile");
        return 0;
}

/* ======================================================================= compiling */

static int read_full(int fd, void *buf, size_t size) {
        for (size_t done = 0; done < size;) {
                ssize_t n = pread(fd, (char *)buf + done, size - done, (off_t)done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EBADMSG;
                done += (size_t)n;
        }
        return 0;
}

static int write_full(int fd, const void *buf, size_t size) {
        for (size_t done = 0; done < size;) {
                ssize_t n = write(fd, (const char *)buf + done, size - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                done += (size_t)n;
        }
        return 0;
}

/* libseccomp writes the program to an fd (seccomp_export_bpf(3)); a memfd keeps it off disk. */
static int export_bpf(scmp_filter_ctx ctx, void **ret, size_t *ret_n, nook_error **err) {
        _cleanup_close_ int fd = memfd_create("nook-seccomp", MFD_CLOEXEC);
        if (fd < 0)
                return nook_error_sys(err, errno, "seccomp: memfd_create");
        int r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return nook_error_sys(err, r == -ECANCELED ? EIO : -r, "seccomp: seccomp_export_bpf");
        struct stat st;
        if (fstat(fd, &st) < 0)
                return nook_error_sys(err, errno, "seccomp: fstat the exported program");
        size_t size = (size_t)st.st_size, n = size / sizeof(struct sock_filter);
        if (size == 0 || size % sizeof(struct sock_filter))
                return nook_error_sys(err, EIO, "seccomp: libseccomp exported %zu bytes of BPF", size);
        if (n > BPF_MAXINSNS)
                return nook_error_set(err, NOOK_ERROR_CONTRACT_VIOLATION, NOOK_RETRY_NOT_RETRYABLE, E2BIG,
                                      "seccomp: the profile compiles to %zu BPF instructions, the kernel accepts "
                                      "at most %d",
                                      n, BPF_MAXINSNS);
        _cleanup_free_ void *insns = malloc(size);
        if (!insns)
                return nook_error_oom(err);
        r = read_full(fd, insns, size);
        if (r < 0)
                return nook_error_sys(err, -r, "seccomp: read the exported program");
        *ret = TAKE_PTR(insns);
        *ret_n = n;
        return 0;
}

static int compile_bpf(const nook_seccomp_profile *p, bool nested, void **ret, size_t *ret_n, nook_error **err) {
        uint32_t def = SCMP_ACT_ALLOW;
        if (p)
                (void)scmp_action(p->default_action, p->default_errno, &def);
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = seccomp_init(def);
        if (!ctx)
                return nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                      "seccomp: seccomp_init refused the default action (kernel or libseccomp "
                                      "too old for it?)");
        /* nook sets no_new_privs itself before nook_seccomp_apply; the attribute only
         * matters to seccomp_load(3), which nook does not use. */
        int r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        /* A syscall from an arch the filter lacks kills the whole process, not a thread
         * (SECCOMP_RET_KILL_PROCESS, seccomp(2); kernels before 4.14 only kill the thread). */
        if (r >= 0 && seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0)
                r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_THREAD);
        if (r < 0)
                return nook_error_sys(err, -r, "seccomp: set filter attributes");
        r = add_arches(ctx, p ? p->architectures : NULL, err);
        if (r < 0)
                return r;
        r = p ? add_profile_rules(ctx, p, def, err) : add_default_rules(ctx, nested, err);
        if (r < 0)
                return r;
        return export_bpf(ctx, ret, ret_n, err);
}

/* ========================================================================== cache */

/* The cache dir may be created (its last component only, 0700); it must be a real
 * directory owned by the caller and writable by no one else (SECURITY.md S25): whoever
 * can write it chooses the filter of every later sandbox. */
static int cache_dir_open(const char *path, nook_error **err) {
        if (mkdir(path, 0700) < 0 && errno != EEXIST) {
                int r = nook_error_sys(err, errno, "seccomp: create the cache directory");
                nook_error_set_hint(err, "seccomp cache directory: %s", path);
                return r;
        }
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                int r = nook_error_sys(err, errno, "seccomp: open the cache directory (a symlink is refused)");
                nook_error_set_hint(err, "seccomp cache directory: %s", path);
                return r;
        }
        struct stat st;
        if (fstat(fd, &st) < 0)
                return nook_error_sys(err, errno, "seccomp: fstat the cache directory");
        if (st.st_uid != geteuid() || (st.st_mode & 022)) {
                int r = nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_USER_ACTION_NEEDED, EPERM,
                                       "seccomp: the cache directory is not owned by the caller or is writable "
                                       "by others");
                nook_error_set_hint(err, "remove %s or make it yours with mode 0700", path);
                return r;
        }
        return TAKE_FD(fd);
}

/* 0 with the program, or < 0 when the file is missing or unusable (not a regular file of
 * ours, empty, not a whole number of instructions, longer than BPF_MAXINSNS, or not ending
 * in a return as the kernel requires): the caller then compiles and replaces it. */
static int cache_load(int dirfd, const char *name, void **ret, size_t *ret_n) {
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
                return -EBADMSG;
        size_t size = (size_t)st.st_size, n = size / sizeof(struct sock_filter);
        if (st.st_size <= 0 || size % sizeof(struct sock_filter) || n > BPF_MAXINSNS)
                return -EBADMSG;
        _cleanup_free_ struct sock_filter *insns = malloc(size);
        if (!insns)
                return -ENOMEM;
        int r = read_full(fd, insns, size);
        if (r < 0)
                return r;
        if (BPF_CLASS(insns[n - 1].code) != BPF_RET)
                return -EBADMSG;
        *ret = TAKE_PTR(insns);
        *ret_n = n;
        return 0;
}

/* Written to a unique temp name in the same dir, fsync'ed, then rename(2)d over the final
 * name: readers see the old file or the whole new one, and concurrent compiles of one
 * profile just replace identical content. */
static int cache_store(int dirfd, const char *name, const void *insns, size_t n) {
        uint64_t rnd = 0;
        static unsigned counter;
        if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
                rnd = (uint64_t)__atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
        char tmp[NOOK_DIGEST_LEN + 64];
        snprintf(tmp, sizeof(tmp), ".%s.%jd.%016" PRIx64 ".tmp", name, (intmax_t)getpid(), rnd);
        _cleanup_close_ int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        int r = write_full(fd, insns, n * sizeof(struct sock_filter));
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0)
                r = nook_fault("seccomp.before_cache_rename");
        if (r >= 0 && renameat(dirfd, tmp, dirfd, name) < 0)
                r = -errno;
        if (r < 0)
                (void)unlinkat(dirfd, tmp, 0);
        return r;
}

int nook_seccomp_compile(const nook_seccomp_profile *profile, bool allow_nested_userns, const char *cache_dir,
                         nook_seccomp_program *ret, nook_error **err) {
        if (!ret)
                return nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                      "seccomp: no program to compile into");
        int r = profile ? check_profile(profile, err) : 0;
        if (r < 0)
                return r;
        char hash[NOOK_DIGEST_LEN + 1];
        r = profile_hash(profile, allow_nested_userns, hash, err);
        if (r < 0)
                return r;
        char name[NOOK_DIGEST_LEN + 8];
        snprintf(name, sizeof(name), "%s.bpf", hash + strlen("sha256:"));
        _cleanup_close_ int dirfd = -1;
        if (cache_dir) {
                dirfd = cache_dir_open(cache_dir, err);
                if (dirfd < 0)
                        return dirfd;
        }
        _cleanup_free_ void *insns = NULL;
        size_t n = 0;
        if (dirfd < 0 || cache_load(dirfd, name, &insns, &n) < 0) {
                r = compile_bpf(profile, allow_nested_userns, &insns, &n, err);
                if (r < 0)
                        return r;
                /* Best effort: a full or read-only disk costs a compile next time, nothing more. */
                if (dirfd >= 0)
                        (void)cache_store(dirfd, name, insns, n);
        }
        ret->insns = TAKE_PTR(insns);
        ret->n_insns = n;
        memcpy(ret->hash, hash, sizeof(hash));
        return 0;
}

/* ========================================================================== child */

/* Only raw system calls: async-signal-safe between fork and execve.  The kernel refuses
 * a filter without no_new_privs unless the caller has CAP_SYS_ADMIN (EACCES, seccomp(2));
 * prctl(PR_SET_SECCOMP) is the same operation for kernels without seccomp(2). */
int nook_seccomp_apply(const void *insns, size_t n_insns) {
        if (!insns || n_insns == 0 || n_insns > BPF_MAXINSNS)
                return -EINVAL;
        struct sock_fprog prog = { .len = (unsigned short)n_insns, .filter = (struct sock_filter *)insns };
#ifdef SYS_seccomp
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0)
                return 0;
        if (errno != ENOSYS)
                return -errno;
#endif
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0)
                return 0;
        return -errno;
}
