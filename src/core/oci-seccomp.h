/* nook core — reading an OCI runtime-spec seccomp profile (the `linux.seccomp` object, as
 * a person passes it with `--security-opt seccomp=FILE`) into a nook_seccomp_profile,
 * which an adapter compiles (src/userns/seccomp.c).  The profile is plain data and the
 * core's: the contract carries it, and the core knows no adapter. */
#ifndef NOOK_CORE_OCI_SECCOMP_H
#define NOOK_CORE_OCI_SECCOMP_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* An OCI runtime-spec seccomp profile. */
typedef struct nook_seccomp_arg {
        unsigned index; /* 0..5 */
        uint64_t value;
        uint64_t value_two;
        int op; /* NOOK_SECCOMP_OP_* */
} nook_seccomp_arg;

enum {
        NOOK_SECCOMP_OP_NE = 1,
        NOOK_SECCOMP_OP_LT,
        NOOK_SECCOMP_OP_LE,
        NOOK_SECCOMP_OP_EQ,
        NOOK_SECCOMP_OP_GE,
        NOOK_SECCOMP_OP_GT,
        NOOK_SECCOMP_OP_MASKED_EQ,
};

enum {
        NOOK_SECCOMP_ACT_ALLOW = 1,
        NOOK_SECCOMP_ACT_ERRNO,
        NOOK_SECCOMP_ACT_KILL_PROCESS,
        NOOK_SECCOMP_ACT_KILL_THREAD,
        NOOK_SECCOMP_ACT_TRAP,
        NOOK_SECCOMP_ACT_LOG,
};

typedef struct nook_seccomp_rule {
        char **names;  /* NULL-terminated syscall names; unknown names are skipped */
        int action;    /* NOOK_SECCOMP_ACT_* */
        int errno_ret; /* for ERRNO; 0 means EPERM */
        nook_seccomp_arg *args;
        size_t n_args;
} nook_seccomp_rule;

typedef struct nook_seccomp_profile {
        int default_action; /* NOOK_SECCOMP_ACT_* */
        int default_errno;
        char **architectures; /* NULL-terminated OCI names (SCMP_ARCH_X86_64, ...); NULL: native + compat */
        nook_seccomp_rule *rules;
        size_t n_rules;
} nook_seccomp_profile;

void nook_seccomp_profile_clear(nook_seccomp_profile *p);

#define NOOK_OCI_SECCOMP_MAX_BYTES (4u << 20)

/* Parses len bytes of json_text (need not be NUL-terminated): strict JSON, duplicate keys
 * rejected, only the runtime-spec keys (defaultAction, defaultErrnoRet, architectures,
 * flags, syscalls[].names/action/errnoRet/args[].index/value/valueTwo/op).  Limits: 4 MiB
 * of text, 4096 rules, 512 names per rule, 6 comparisons per rule with index 0..5, errnoRet
 * 1..4095, values 0..2^63-1 (jansson's integers).  Unknown action, op, arch or flag names
 * are errors; unknown syscall names are kept (the compiler skips them).
 * On success *ret owns the profile (nook_seccomp_profile_clear()).  On failure *ret is
 * untouched and *err is a ContractViolation (MissingRequiredField for an absent required
 * key) whose pointer names the field, and whose message names it too for a person. */
int nook_oci_seccomp_parse(const char *json_text, size_t len, nook_seccomp_profile *ret, nook_error **err);

#endif
