/* nook core — reading an OCI runtime-spec seccomp profile (the `linux.seccomp` object, as
 * a person passes it with `--security-opt seccomp=FILE`) into a nook_seccomp_profile,
 * which src/userns/seccomp.c compiles. */
#ifndef NOOK_CORE_OCI_SECCOMP_H
#define NOOK_CORE_OCI_SECCOMP_H

#include <stddef.h>

#include "userns/seccomp.h"
#include "util/error.h"

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
