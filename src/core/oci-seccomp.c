/* nook core — the OCI runtime-spec seccomp profile (`linux.seccomp`) read with jansson
 * (JSON_REJECT_DUPLICATES) into a nook_seccomp_profile: known keys only, every value
 * type- and range-checked, every error naming the JSON pointer of its field. */
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/oci-seccomp.h"
#include "core/schema.h"

#define MAX_RULES 4096
#define MAX_NAMES 512
#define MAX_ARGS 6
#define MAX_ERRNO_RET 4095 /* the kernel's MAX_ERRNO */
#define MAX_NAME_LEN 64

/* A value quoted in a message: printable ASCII of bounded length, else a placeholder, so
 * that a file cannot put terminal escapes into what `nook` prints. */
static const char *shown(const char *s) {
        size_t n = 0;
        for (; s[n]; n++)
                if (n >= MAX_NAME_LEN || s[n] < 0x20 || s[n] > 0x7e || s[n] == '"')
                        return "(unprintable or too long)";
        return s;
}

/* The message names the pointer too: the CLI prints only the message. */
_printf_(4, 5) static int fail(nook_error **err, nook_error_kind kind, const char *ptr, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (!msg)
                return nook_error_oom(err);
        char shown_ptr[192]; /* the pointer may hold an unknown key: printable in the message */
        snprintf(shown_ptr, sizeof(shown_ptr), "%s", ptr);
        for (char *c = shown_ptr; *c; c++)
                if (*c < 0x20 || *c > 0x7e)
                        *c = '?';
        return nook_error_field(err, kind, ptr, "seccomp profile%s%s: %s", *ptr ? " at " : "", shown_ptr, msg);
}

#define CV NOOK_ERROR_CONTRACT_VIOLATION

static int wrong_type(nook_error **err, const char *ptr, const char *want, const json_t *v) {
        return fail(err, CV, ptr, "expected %s, got %s", want, nook_json_type_name(v));
}

/* ptr + "/" + key, with key escaped as RFC 6901 says (~ → ~0, / → ~1). */
static void child_pointer(char *out, size_t size, const char *ptr, const char *key) {
        size_t n = (size_t)snprintf(out, size, "%s/", ptr);
        for (const char *c = key; *c && n + 3 < size; c++) {
                if (*c == '~' || *c == '/') {
                        out[n++] = '~';
                        out[n++] = *c == '~' ? '0' : '1';
                } else
                        out[n++] = *c;
        }
        out[n < size ? n : size - 1] = 0;
}

static int unknown_key(nook_error **err, const char *ptr, const char *key) {
        char p[160];
        child_pointer(p, sizeof(p), ptr, key);
        static const char *const docker[] = { "archMap", "includes", "excludes", "comment", "name" };
        for (size_t i = 0; i < ELEMENTSOF(docker); i++)
                if (strcmp(key, docker[i]) == 0)
                        return fail(err, CV, p,
                                    "unknown key \"%s\": this looks like Docker's profile format; nook reads the "
                                    "OCI runtime-spec linux.seccomp object (\"architectures\" instead of "
                                    "\"archMap\", \"names\" instead of \"name\", no includes/excludes/comment)",
                                    key);
        if (strcmp(key, "listenerPath") == 0 || strcmp(key, "listenerMetadata") == 0)
                return fail(err, CV, p, "\"%s\" is not supported: nook does not implement SCMP_ACT_NOTIFY", key);
        return fail(err, CV, p, "unknown key \"%s\"", shown(key));
}

static int check_keys(json_t *obj, const char *ptr, const char *const *allowed, nook_error **err) {
        const char *key;
        json_t *v;
        json_object_foreach(obj, key, v) {
                bool ok = false;
                for (size_t i = 0; allowed[i] && !ok; i++)
                        ok = strcmp(key, allowed[i]) == 0;
                if (!ok)
                        return unknown_key(err, ptr, key);
        }
        return 0;
}

static int get_uint(json_t *v, const char *ptr, uint64_t max, uint64_t *out, nook_error **err) {
        if (!json_is_integer(v))
                return wrong_type(err, ptr, "a non-negative integer", v);
        json_int_t i = json_integer_value(v);
        if (i < 0 || (uint64_t)i > max)
                return fail(err, CV, ptr, "%lld is out of range 0..%llu", (long long)i, (unsigned long long)max);
        *out = (uint64_t)i;
        return 0;
}

/* ========================================================================== names */

static int parse_action(json_t *v, const char *ptr, int *out, nook_error **err) {
        static const struct {
                const char *name;
                int action;
        } actions[] = {
                { "SCMP_ACT_ALLOW", NOOK_SECCOMP_ACT_ALLOW },
                { "SCMP_ACT_ERRNO", NOOK_SECCOMP_ACT_ERRNO },
                { "SCMP_ACT_KILL", NOOK_SECCOMP_ACT_KILL_THREAD }, /* libseccomp: SCMP_ACT_KILL kills the thread */
                { "SCMP_ACT_KILL_THREAD", NOOK_SECCOMP_ACT_KILL_THREAD },
                { "SCMP_ACT_KILL_PROCESS", NOOK_SECCOMP_ACT_KILL_PROCESS },
                { "SCMP_ACT_TRAP", NOOK_SECCOMP_ACT_TRAP },
                { "SCMP_ACT_LOG", NOOK_SECCOMP_ACT_LOG },
        };
        if (!json_is_string(v))
                return wrong_type(err, ptr, "an action name (a string)", v);
        const char *s = json_string_value(v);
        for (size_t i = 0; i < ELEMENTSOF(actions); i++)
                if (strcmp(s, actions[i].name) == 0) {
                        *out = actions[i].action;
                        return 0;
                }
        if (strcmp(s, "SCMP_ACT_TRACE") == 0 || strcmp(s, "SCMP_ACT_NOTIFY") == 0)
                return fail(err, CV, ptr, "action %s is not supported by nook", s);
        return fail(err, CV, ptr,
                    "unknown action \"%s\" (expected SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, "
                    "SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP or SCMP_ACT_LOG)",
                    shown(s));
}

static int parse_op(json_t *v, const char *ptr, int *out, nook_error **err) {
        static const struct {
                const char *name;
                int op;
        } ops[] = {
                { "SCMP_CMP_NE", NOOK_SECCOMP_OP_NE },
                { "SCMP_CMP_LT", NOOK_SECCOMP_OP_LT },
                { "SCMP_CMP_LE", NOOK_SECCOMP_OP_LE },
                { "SCMP_CMP_EQ", NOOK_SECCOMP_OP_EQ },
                { "SCMP_CMP_GE", NOOK_SECCOMP_OP_GE },
                { "SCMP_CMP_GT", NOOK_SECCOMP_OP_GT },
                { "SCMP_CMP_MASKED_EQ", NOOK_SECCOMP_OP_MASKED_EQ },
        };
        if (!json_is_string(v))
                return wrong_type(err, ptr, "a comparison name (a string)", v);
        const char *s = json_string_value(v);
        for (size_t i = 0; i < ELEMENTSOF(ops); i++)
                if (strcmp(s, ops[i].name) == 0) {
                        *out = ops[i].op;
                        return 0;
                }
        return fail(err, CV, ptr,
                    "unknown comparison \"%s\" (expected SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, "
                    "SCMP_CMP_GE, SCMP_CMP_GT or SCMP_CMP_MASKED_EQ)",
                    shown(s));
}

static bool arch_known(const char *s) {
        static const char *const arches[] = {
                "SCMP_ARCH_X86",     "SCMP_ARCH_X86_64",   "SCMP_ARCH_X32",         "SCMP_ARCH_ARM",
                "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",     "SCMP_ARCH_MIPS64",      "SCMP_ARCH_MIPS64N32",
                "SCMP_ARCH_MIPSEL",  "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
                "SCMP_ARCH_PPC64",   "SCMP_ARCH_PPC64LE",  "SCMP_ARCH_S390",        "SCMP_ARCH_S390X",
                "SCMP_ARCH_PARISC",  "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",
        };
        for (size_t i = 0; i < ELEMENTSOF(arches); i++)
                if (strcmp(s, arches[i]) == 0)
                        return true;
        return false;
}

/* Syscall names are [a-z0-9_]; a well-formed name this libseccomp does not know is kept
 * and skipped when compiling (runtime-spec: profiles outlive kernels). */
static bool syscall_name_valid(const char *s, size_t len) {
        if (len == 0 || len > MAX_NAME_LEN || strlen(s) != len)
                return false;
        for (const char *c = s; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
                        return false;
        return true;
}

/* ========================================================================== lists */

/* A NULL-terminated copy of an array of strings, each validated by check (NULL: a syscall name). */
static int parse_strings(json_t *v, const char *ptr, size_t max, const char *what, bool (*check)(const char *),
                         char ***out, nook_error **err) {
        if (!json_is_array(v))
                return wrong_type(err, ptr, "an array", v);
        size_t n = json_array_size(v);
        if (n > max)
                return fail(err, CV, ptr, "%zu entries exceed the limit of %zu", n, max);
        _cleanup_strv_free_ char **list = calloc(n + 1, sizeof(char *));
        if (!list)
                return nook_error_oom(err);
        for (size_t i = 0; i < n; i++) {
                char p[192];
                snprintf(p, sizeof(p), "%s/%zu", ptr, i);
                json_t *e = json_array_get(v, i);
                if (!json_is_string(e))
                        return wrong_type(err, p, what, e);
                const char *s = json_string_value(e);
                bool ok = check ? check(s) : syscall_name_valid(s, json_string_length(e));
                if (!ok)
                        return fail(err, CV, p, "\"%s\" is not %s", shown(s), what);
                list[i] = strdup(s);
                if (!list[i])
                        return nook_error_oom(err);
        }
        *out = TAKE_PTR(list);
        return 0;
}

/* runtime-spec flags: TSYNC is what nook does anyway (the filter is installed in a
 * single-threaded child before execve); the others are not implemented and rejected
 * rather than ignored. */
static int parse_flags(json_t *v, nook_error **err) {
        static const char *const unsupported[] = { "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                                   "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
                                                   "SECCOMP_FILTER_FLAG_NEW_LISTENER",
                                                   "SECCOMP_FILTER_FLAG_TSYNC_ESRCH" };
        if (!json_is_array(v))
                return wrong_type(err, "/flags", "an array", v);
        for (size_t i = 0; i < json_array_size(v); i++) {
                json_t *e = json_array_get(v, i);
                char p[48];
                snprintf(p, sizeof(p), "/flags/%zu", i);
                if (!json_is_string(e))
                        return wrong_type(err, p, "a flag name (a string)", e);
                const char *s = json_string_value(e);
                if (strcmp(s, "SECCOMP_FILTER_FLAG_TSYNC") == 0)
                        continue;
                for (size_t k = 0; k < ELEMENTSOF(unsupported); k++)
                        if (strcmp(s, unsupported[k]) == 0)
                                return fail(err, CV, p, "flag %s is not supported by nook", s);
                return fail(err, CV, p, "\"%s\" is not a seccomp flag name (SECCOMP_FILTER_FLAG_TSYNC, ...)", shown(s));
        }
        return 0;
}

/* ========================================================================== rules */

static int parse_arg(json_t *v, const char *ptr, nook_seccomp_arg *out, nook_error **err) {
        static const char *const keys[] = { "index", "value", "valueTwo", "op", NULL };
        if (!json_is_object(v))
                return wrong_type(err, ptr, "an object", v);
        int r = check_keys(v, ptr, keys, err);
        if (r < 0)
                return r;
        char p[4][160];
        for (size_t i = 0; i < 4; i++) {
                child_pointer(p[i], sizeof(p[i]), ptr, keys[i]);
                if (i != 2 && !json_object_get(v, keys[i]))
                        return fail(err, NOOK_ERROR_MISSING_REQUIRED_FIELD, p[i], "\"%s\" is required", keys[i]);
        }
        uint64_t index;
        r = get_uint(json_object_get(v, "index"), p[0], MAX_ARGS - 1, &index, err);
        if (r >= 0)
                r = get_uint(json_object_get(v, "value"), p[1], INT64_MAX, &out->value, err);
        json_t *two = json_object_get(v, "valueTwo");
        if (r >= 0 && two)
                r = get_uint(two, p[2], INT64_MAX, &out->value_two, err);
        if (r >= 0)
                r = parse_op(json_object_get(v, "op"), p[3], &out->op, err);
        out->index = r >= 0 ? (unsigned)index : 0;
        return r;
}

static int parse_args(json_t *v, const char *ptr, nook_seccomp_rule *rule, nook_error **err) {
        if (!json_is_array(v))
                return wrong_type(err, ptr, "an array", v);
        size_t n = json_array_size(v);
        if (n > MAX_ARGS)
                return fail(err, CV, ptr, "%zu argument comparisons exceed the limit of %d", n, MAX_ARGS);
        if (n == 0)
                return 0;
        rule->args = calloc(n, sizeof(nook_seccomp_arg));
        if (!rule->args)
                return nook_error_oom(err);
        rule->n_args = n;
        for (size_t i = 0; i < n; i++) {
                char p[192];
                snprintf(p, sizeof(p), "%s/%zu", ptr, i);
                int r = parse_arg(json_array_get(v, i), p, &rule->args[i], err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_errno_ret(json_t *v, const char *ptr, int action, int *out, nook_error **err) {
        if (action != NOOK_SECCOMP_ACT_ERRNO)
                return fail(err, CV, ptr, "an errno is only valid with SCMP_ACT_ERRNO");
        uint64_t u;
        int r = get_uint(v, ptr, MAX_ERRNO_RET, &u, err);
        if (r < 0)
                return r;
        if (u == 0)
                return fail(err, CV, ptr, "errno 0 (pretend success) is not supported; use 1..%d", MAX_ERRNO_RET);
        *out = (int)u;
        return 0;
}

static int parse_rule(json_t *v, const char *ptr, nook_seccomp_rule *rule, nook_error **err) {
        static const char *const keys[] = { "names", "action", "errnoRet", "args", NULL };
        if (!json_is_object(v))
                return wrong_type(err, ptr, "an object", v);
        int r = check_keys(v, ptr, keys, err);
        if (r < 0)
                return r;
        char p[160];
        for (size_t i = 0; i < 2; i++)
                if (!json_object_get(v, keys[i])) {
                        child_pointer(p, sizeof(p), ptr, keys[i]);
                        return fail(err, NOOK_ERROR_MISSING_REQUIRED_FIELD, p, "\"%s\" is required", keys[i]);
                }
        child_pointer(p, sizeof(p), ptr, "names");
        r = parse_strings(json_object_get(v, "names"), p, MAX_NAMES, "a system call name", NULL, &rule->names, err);
        child_pointer(p, sizeof(p), ptr, "action");
        if (r >= 0)
                r = parse_action(json_object_get(v, "action"), p, &rule->action, err);
        json_t *e = json_object_get(v, "errnoRet");
        child_pointer(p, sizeof(p), ptr, "errnoRet");
        if (r >= 0 && e)
                r = parse_errno_ret(e, p, rule->action, &rule->errno_ret, err);
        json_t *a = json_object_get(v, "args");
        child_pointer(p, sizeof(p), ptr, "args");
        if (r >= 0 && a)
                r = parse_args(a, p, rule, err);
        return r;
}

static int parse_rules(json_t *v, nook_seccomp_profile *p, nook_error **err) {
        if (!json_is_array(v))
                return wrong_type(err, "/syscalls", "an array", v);
        size_t n = json_array_size(v);
        if (n > MAX_RULES)
                return fail(err, CV, "/syscalls", "%zu rules exceed the limit of %d", n, MAX_RULES);
        if (n == 0)
                return 0;
        p->rules = calloc(n, sizeof(nook_seccomp_rule));
        if (!p->rules)
                return nook_error_oom(err);
        p->n_rules = n;
        for (size_t i = 0; i < n; i++) {
                char ptr[64];
                snprintf(ptr, sizeof(ptr), "/syscalls/%zu", i);
                int r = parse_rule(json_array_get(v, i), ptr, &p->rules[i], err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ======================================================================= the object */

static int parse_profile(json_t *doc, nook_seccomp_profile *p, nook_error **err) {
        static const char *const keys[] = { "defaultAction", "defaultErrnoRet", "architectures",
                                            "flags",         "syscalls",        NULL };
        int r = check_keys(doc, "", keys, err);
        if (r < 0)
                return r;
        json_t *v = json_object_get(doc, "defaultAction");
        if (!v)
                return fail(err, NOOK_ERROR_MISSING_REQUIRED_FIELD, "/defaultAction", "\"defaultAction\" is required");
        r = parse_action(v, "/defaultAction", &p->default_action, err);
        if (r >= 0 && (v = json_object_get(doc, "defaultErrnoRet")))
                r = parse_errno_ret(v, "/defaultErrnoRet", p->default_action, &p->default_errno, err);
        if (r >= 0 && (v = json_object_get(doc, "architectures"))) {
                r = parse_strings(v, "/architectures", 32, "an architecture name (SCMP_ARCH_X86_64, ...)", arch_known,
                                  &p->architectures, err);
                /* An empty list means nook's choice: the native arch and its compat arches. */
                if (r >= 0 && p->architectures && !p->architectures[0])
                        p->architectures = strv_free(p->architectures);
        }
        if (r >= 0 && (v = json_object_get(doc, "flags")))
                r = parse_flags(v, err);
        if (r >= 0 && (v = json_object_get(doc, "syscalls")))
                r = parse_rules(v, p, err);
        return r;
}

/* jansson's message quotes the input near the error: keep it printable. */
static void sanitise(char *s) {
        for (; *s; s++)
                if (*s < 0x20 || *s > 0x7e)
                        *s = '?';
}

void nook_seccomp_profile_clear(nook_seccomp_profile *p) {
        if (!p)
                return;
        strv_free(p->architectures);
        for (size_t i = 0; p->rules && i < p->n_rules; i++) {
                strv_free(p->rules[i].names);
                free(p->rules[i].args);
        }
        free(p->rules);
        *p = (nook_seccomp_profile){ 0 };
}

int nook_oci_seccomp_parse(const char *json_text, size_t len, nook_seccomp_profile *ret, nook_error **err) {
        if (!json_text || !ret)
                return fail(err, CV, "", "no profile text");
        if (len > NOOK_OCI_SECCOMP_MAX_BYTES)
                return fail(err, CV, "", "%zu bytes exceed the limit of %u bytes", len, NOOK_OCI_SECCOMP_MAX_BYTES);
        json_error_t jerr;
        _cleanup_(json_decrefp) json_t *doc = json_loadb(json_text, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!doc) {
                sanitise(jerr.text);
                return fail(err, CV, "", "malformed JSON at line %d, column %d: %s%s", jerr.line, jerr.column,
                            jerr.text,
                            strstr(jerr.text, "too big integer") ? " (nook reads integers up to 2^63-1)" : "");
        }
        if (!json_is_object(doc))
                return fail(err, CV, "", "expected an object (the OCI linux.seccomp format), got %s",
                            nook_json_type_name(doc));
        _cleanup_(nook_seccomp_profile_clear) nook_seccomp_profile p = { 0 };
        int r = parse_profile(doc, &p, err);
        if (r < 0)
                return r;
        *ret = p;
        p = (nook_seccomp_profile){ 0 };
        return 0;
}
