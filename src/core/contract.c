/* nook core — the field tables of every contract type (CONTRACT.md "Main shapes"):
 * names, types, defaults and limits, plus the cross-field checks the tables cannot
 * express.  The engine in schema.c does the parsing and encoding. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#include "core/contract.h"
#include "core/egress.h"
#include "core/oci-seccomp.h"
#include "util/rlimit.h"

#define F_(st, member, jname, ty, fl, ...)                                                                         \
        {                                                                                                          \
                .name = jname, .type = ty, .offset = offsetof(st, member), .has_offset = NOOK_NO_HAS, .flags = fl, \
                .def_enum = -1, __VA_ARGS__                                                                        \
        }
#define ID(st, m, fl) F_(st, m, #m, NOOK_F_ID, fl)
#define STR(st, m, fl) F_(st, m, #m, NOOK_F_STRING, fl)
#define HASH(st, m, fl) F_(st, m, #m, NOOK_F_HASH, fl)
#define PATH(st, m, fl, def) F_(st, m, #m, NOOK_F_PATH, fl, .sdef = def)
#define ENVNAME(st, m, fl) F_(st, m, #m, NOOK_F_ENVNAME, fl)
#define BOOL(st, m, def) F_(st, m, #m, NOOK_F_BOOL, 0, .bdef = def)
#define BOOL_OPT(st, m) F_(st, m, #m, NOOK_F_BOOL, 0, .has_offset = offsetof(st, has_##m))
#define UINT(st, m, lo, hi, def) F_(st, m, #m, NOOK_F_UINT, 0, .umin = lo, .umax = hi, .udef = def)
#define UINT_REQ(st, m, lo, hi) F_(st, m, #m, NOOK_F_UINT, NOOK_REQ, .umin = lo, .umax = hi)
#define UINT_OPT(st, m, lo, hi) \
        F_(st, m, #m, NOOK_F_UINT, 0, .umin = lo, .umax = hi, .has_offset = offsetof(st, has_##m))
/* an Option<u64> the crate writes as null when None */
#define UINT_NULL(st, m, hi) F_(st, m, #m, NOOK_F_UINT, NOOK_ENC_NULL, .umax = hi, .has_offset = offsetof(st, has_##m))
#define ENUM(st, m, vals, def) F_(st, m, #m, NOOK_F_ENUM, 0, .values = vals, .def_enum = def)
#define ENUM_REQ(st, m, vals) F_(st, m, #m, NOOK_F_ENUM, NOOK_REQ, .values = vals)
#define OBJ(st, m, jname, sch, fl) F_(st, m, jname, NOOK_F_OBJECT, fl, .schema = &sch)
#define OBJ_OPT(st, m, sch) F_(st, m, #m, NOOK_F_OBJECT, 0, .schema = &sch, .has_offset = offsetof(st, has_##m))
#define JSON(st, m) F_(st, m, #m, NOOK_F_JSON, 0)
#define ARR(st, m, jname, elemf, etype, fl) \
        F_(st, m, jname, NOOK_F_ARRAY, fl, .elem = &elemf, .elem_size = sizeof(etype))
#define VARIANT(st, m, jname, alttab, def) \
        F_(st, m, jname, NOOK_F_VARIANT, 0, .alts = alttab, .n_alts = ELEMENTSOF(alttab), .def_enum = def)
#define IDEMPOTENCY(st) ID(st, idempotency_key, 0)

static const nook_field elem_id = { .type = NOOK_F_ID };
static const nook_field elem_string = { .type = NOOK_F_STRING };

const char *const nook_class_values[] = { "host_process",   "sandbox",        "container",
                                          "lightweight_vm", "remote_sandbox", NULL };
static const nook_field elem_class = { .type = NOOK_F_ENUM, .values = nook_class_values };
static const char *const root_values[] = { "read_only", "writable_layer", NULL };
static const char *const workspace_values[] = {
        "none", "snapshot", "live_read_only", "live_writable", "scratch", NULL
};
static const char *const mount_mode_values[] = { "read_only", "writable", NULL };
static const char *const symlink_values[] = { "deny_escapes", "follow_within_alias", NULL };
static const char *const single_file_values[] = { "audit_expanded_parent", "deny_single_file", NULL };
static const char *const ambient_values[] = { "denied", "explicit_refs_only", NULL };
static const char *const ownership_values[] = { "agent_owned", "host_managed", "detached_by_intent", NULL };
static const char *const capture_values[] = {
        "off", "metadata_only", "redacted_summary", "content_ref", "raw_content_if_policy_allows", NULL
};
static const char *const truncation_values[] = { "truncate_with_marker", "fail_if_exceeded", NULL };
static const char *const terminal_values[] = { "pipe", "pty", NULL };
const char *const nook_stream_values[] = { "stdin", "stdout", "stderr", NULL };
static const char *const encoding_values[] = { "utf8", "base64", NULL };
const char *const nook_signal_values[] = { "interrupt", "terminate", "kill", NULL };
const char *const nook_terminal_status_values[] = {
        "completed", "failed", "timed_out", "cancelled", "denied_before_execution", "unknown", NULL
};
static const char *const cleanup_status_values[] = { "completed", "repair_needed", NULL };
const char *const nook_capability_values[] = {
        "read_only_root",
        "writable_layer",
        "mount_read_only_enforcement",
        "single_file_mount_expansion_audit",
        "no_network_guarantee",
        "egress_allowlist",
        "secret_isolation",
        "secret_mount",
        "secret_redaction",
        "process_timeout",
        "process_signal",
        "process_rlimits",
        "content_ref_io",
        "io_redaction",
        "process_stats",
        "cleanup",
        "detach",
        "reclaim",
        "audit_log",
        NULL,
};

static const nook_field elem_capability = { .type = NOOK_F_ENUM, .values = nook_capability_values };
const char *const nook_trust_field_values[] = { "locality", "tenancy",        "auditability",
                                                "cleanup",  "data_residency", "secret_isolation",
                                                NULL };
static const nook_field elem_trust_field = { .type = NOOK_F_ENUM, .values = nook_trust_field_values };
const char *const nook_retention_values[] = { "ephemeral",   "run_scoped", "session_scoped", "durable", "persistent",
                                              "host_policy", NULL };

/* ---- ExecutionEnvironment ---- */

/* A capability set is {"capabilities": [...]}, and {} when empty (enums.md). */
static const nook_field capability_set_fields[] = {
        ARR(nook_capability_set, capabilities, "capabilities", elem_capability, int, NOOK_ENC_OMIT_EMPTY),
};
static const nook_schema schema_capability_set = NOOK_SCHEMA(nook_capability_set, capability_set_fields, NULL);

static const char *const locality_values[] = { "any", "local", "remote", NULL };
static const char *const tenancy_values[] = { "shared_allowed", "dedicated", NULL };
static const char *const level_values[] = { "none", "best_effort", "required", NULL };
static const char *const cleanup_guarantee_values[] = { "best_effort", "required", NULL };
static const nook_alt residency_alts[] = {
        { .tag = "any" },
        { .tag = "local_only" },
        { .tag = "region", .raw = true },
};
static int validate_trust(void *obj, const char *ptr, nook_error **err) {
        nook_trust *t = obj;
        if (t->data_residency.tag == NOOK_RESIDENCY_REGION && t->data_residency.data &&
            ((const char *)t->data_residency.data)[0] != '"') {
                _cleanup_free_ char *p = nook_pointer_join(ptr, "data_residency");
                return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, p ? p : ptr,
                                        "expected {\"region\": \"NAME\"} with a string");
        }
        return 0;
}
static const nook_field trust_fields[] = {
        ENUM_REQ(nook_trust, locality, locality_values),
        ENUM_REQ(nook_trust, tenancy, tenancy_values),
        ENUM_REQ(nook_trust, auditability, level_values),
        ENUM_REQ(nook_trust, cleanup, cleanup_guarantee_values),
        F_(nook_trust, data_residency, "data_residency", NOOK_F_VARIANT, NOOK_REQ, .alts = residency_alts,
           .n_alts = ELEMENTSOF(residency_alts), .def_enum = -1),
        ENUM_REQ(nook_trust, secret_isolation, level_values),
};
static const nook_schema schema_trust = NOOK_SCHEMA(nook_trust, trust_fields, validate_trust);

static const nook_field fallback_allow_fields[] = {
        ARR(nook_fallback_allow, accepted_classes, "accepted_classes", elem_class, int, 0),
        ARR(nook_fallback_allow, accepted_capability_downgrades, "accepted_capability_downgrades", elem_capability, int,
            0),
        ARR(nook_fallback_allow, accepted_trust_downgrades, "accepted_trust_downgrades", elem_trust_field, int, 0),
        JSON(nook_fallback_allow, required_policy_refs),
};
static const nook_schema schema_fallback_allow = NOOK_SCHEMA(nook_fallback_allow, fallback_allow_fields, NULL);
static const nook_alt fallback_alts[] = {
        { .tag = "deny" },
        { .tag = "allow_if_package_and_policy_approve", .schema = &schema_fallback_allow },
        { .tag = "test_only_host_process" },
};
static const nook_field requirement_fields[] = {
        /* the class is the requirement's core and has no evident default: required, as the
         * crate writes it; the other fields default to asking nothing */
        ENUM_REQ(nook_requirement, minimum_class, nook_class_values),
        OBJ_OPT(nook_requirement, trust, schema_trust),
        ARR(nook_requirement, preferred_adapters, "preferred_adapters", elem_id, char *, 0),
        VARIANT(nook_requirement, fallback, "fallback", fallback_alts, NOOK_FALLBACK_DENY),
        OBJ(nook_requirement, required_capabilities, "required_capabilities", schema_capability_set, 0),
};
static const nook_schema schema_requirement = NOOK_SCHEMA(nook_requirement, requirement_fields, NULL);

static const nook_field image_request_fields[] = {
        ID(nook_image_request, image_ref, NOOK_REQ),
        HASH(nook_image_request, expected_digest, 0),
        ID(nook_image_request, expected_architecture, 0),
        ID(nook_image_request, credential_alias_ref, 0),
};
const nook_schema nook_schema_image_request = NOOK_SCHEMA(nook_image_request, image_request_fields, NULL);

static const nook_field rootfs_request_fields[] = {
        ID(nook_rootfs_request, rootfs_ref, NOOK_REQ),
        BOOL(nook_rootfs_request, read_only, false),
        ID(nook_rootfs_request, writable_layer_ref, 0),
};
const nook_schema nook_schema_rootfs_request = NOOK_SCHEMA(nook_rootfs_request, rootfs_request_fields, NULL);

static const nook_field resources_fields[] = {
        F_(nook_resources, cpus, "cpus", NOOK_F_NUMBER, 0, .dmin = 0.01, .dmax = 1024, .ddef = 1),
        UINT(nook_resources, memory_mb, 1, 16u * 1024 * 1024, 1024),
        UINT(nook_resources, timeout_ms, 1, 31ull * 24 * 3600 * 1000, 120000),
        UINT(nook_resources, process_count, 1, 4194304, 32),
        UINT_OPT(nook_resources, disk_mb, 1, 16u * 1024 * 1024), /* ext */
};
static const nook_schema schema_resources = NOOK_SCHEMA(nook_resources, resources_fields, NULL);

/* A process's rlimits: the same ResourceLimits, all four required as the crate writes
 * them; 0 asks for no limit of that kind.  cpus is the crate's u16. */
static const nook_field resource_limits_fields[] = {
        F_(nook_resources, cpus, "cpus", NOOK_F_NUMBER, NOOK_REQ, .dmin = 0, .dmax = 65535),
        UINT_REQ(nook_resources, memory_mb, 0, 16u * 1024 * 1024),
        UINT_REQ(nook_resources, timeout_ms, 0, 31ull * 24 * 3600 * 1000),
        UINT_REQ(nook_resources, process_count, 0, 4194304),
};
static const nook_schema schema_resource_limits = NOOK_SCHEMA(nook_resources, resource_limits_fields, NULL);

static const nook_field workspace_fields[] = {
        ID(nook_workspace, workspace_ref, 0),
        ENUM(nook_workspace, mode, workspace_values, NOOK_WS_NONE),
        ID(nook_workspace, mount_ref, 0),
        PATH(nook_workspace, destination_path, 0, "/workspace"),
};
static const nook_schema schema_workspace = NOOK_SCHEMA(nook_workspace, workspace_fields, NULL);

static const char *const mount_kind_values[] = { "bind", "tmpfs", NULL };
static const nook_field mount_ext_fields[] = {
        ENUM(nook_mount_ext, type, mount_kind_values, NOOK_MOUNT_KIND_BIND),
        F_(nook_mount_ext, options, "options", NOOK_F_STRING, 0, .max_len = 256),
};
static const nook_schema schema_mount_ext = NOOK_SCHEMA(nook_mount_ext, mount_ext_fields, NULL);

static int validate_mount_policy(void *obj, const char *ptr, nook_error **err) {
        nook_mount_policy *m = obj;
        bool tmpfs = m->has_nook && m->nook.type == NOOK_MOUNT_KIND_TMPFS;
        if (!tmpfs && !m->source_alias) {
                _cleanup_free_ char *p = nook_pointer_join(ptr, "source_alias");
                return nook_error_field(err, NOOK_ERROR_MISSING_REQUIRED_FIELD, p ? p : ptr, "missing");
        }
        return 0;
}

static const nook_field mount_policy_fields[] = {
        ID(nook_mount_policy, mount_ref, NOOK_REQ),
        ID(nook_mount_policy, source_alias, 0),
        PATH(nook_mount_policy, destination_path, NOOK_REQ, NULL),
        ENUM(nook_mount_policy, mode, mount_mode_values, NOOK_MOUNT_READ_ONLY),
        JSON(nook_mount_policy, expansion_audit),
        JSON(nook_mount_policy, policy_refs),
        OBJ_OPT(nook_mount_policy, nook, schema_mount_ext),
};
static const nook_schema schema_mount_policy =
        NOOK_SCHEMA(nook_mount_policy, mount_policy_fields, validate_mount_policy);
static const nook_field elem_mount_policy = { .type = NOOK_F_OBJECT, .schema = &schema_mount_policy };

static const nook_field filesystem_fields[] = {
        ENUM(nook_filesystem, root, root_values, NOOK_ROOT_READ_ONLY),
        OBJ(nook_filesystem, workspace, "workspace", schema_workspace, 0),
        ARR(nook_filesystem, mounts, "mounts", elem_mount_policy, nook_mount_policy, 0),
        ENUM(nook_filesystem, symlink_policy, symlink_values, NOOK_SYMLINK_DENY_ESCAPES),
        ENUM(nook_filesystem, single_file_mount_expansion, single_file_values, NOOK_SFM_AUDIT_EXPANDED_PARENT),
};
static const nook_schema schema_filesystem = NOOK_SCHEMA(nook_filesystem, filesystem_fields, NULL);

/* ptr/field/i, each part escaped as a JSON pointer token (RFC 6901). */
static char *pointer_index(const char *ptr, const char *field, size_t i) {
        char idx[32];
        snprintf(idx, sizeof(idx), "%zu", i);
        _cleanup_free_ char *f = nook_pointer_join(ptr, field);
        return f ? nook_pointer_join(f, idx) : NULL;
}

/* Each egress rule parses (core/egress.h) before any stage acts on the request (S30). */
static int validate_rules(const nook_array *a, const char *ptr, const char *field, nook_error **err) {
        if (a->n > 256) {
                _cleanup_free_ char *p = nook_pointer_join(ptr, field);
                return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, p ? p : ptr,
                                        "at most 256 egress destinations (got %zu)", a->n);
        }
        for (size_t i = 0; i < a->n; i++) {
                nook_egress_rule rule;
                nook_error *why = NULL;
                if (nook_egress_parse(((char **)a->items)[i], &rule, &why) == 0)
                        continue;
                _cleanup_free_ char *p = pointer_index(ptr, field, i);
                int r = nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, p ? p : ptr, "%s",
                                         why ? nook_error_get_message(why) : "not an egress rule");
                nook_error_free(why);
                return r;
        }
        return 0;
}
static int validate_allowlist(void *obj, const char *ptr, nook_error **err) {
        return validate_rules(&((nook_net_allowlist *)obj)->hosts, ptr, "hosts", err);
}
static int validate_rules_obj(void *obj, const char *ptr, nook_error **err) {
        return validate_rules(&((nook_net_rules *)obj)->rules, ptr, "rules", err);
}
static const nook_field allowlist_fields[] = {
        ARR(nook_net_allowlist, hosts, "hosts", elem_id, char *, NOOK_REQ),
};
static const nook_schema schema_allowlist = NOOK_SCHEMA(nook_net_allowlist, allowlist_fields, validate_allowlist);
static const nook_field rules_fields[] = {
        ARR(nook_net_rules, rules, "rules", elem_string, char *, NOOK_REQ),
};
static const nook_schema schema_rules = NOOK_SCHEMA(nook_net_rules, rules_fields, validate_rules_obj);
static const nook_field elem_port = { .type = NOOK_F_UINT, .umin = 1, .umax = 65535 };
static const nook_field ports_fields[] = {
        ARR(nook_net_ports, ports, "ports", elem_port, uint64_t, NOOK_REQ),
};
static const nook_schema schema_ports = NOOK_SCHEMA(nook_net_ports, ports_fields, NULL);
static const nook_field relay_fields[] = {
        ARR(nook_net_relay, relay_refs, "relay_refs", elem_id, char *, NOOK_REQ),
};
static const nook_schema schema_relay = NOOK_SCHEMA(nook_net_relay, relay_fields, NULL);
static const nook_alt network_alts[] = {
        { .tag = "disabled" },
        { .tag = "allowlist", .schema = &schema_allowlist },
        { .tag = "egress_scoped", .schema = &schema_rules },
        { .tag = "exposed_ports", .schema = &schema_ports },
        { .tag = "socket_relay", .schema = &schema_relay },
        { .tag = "adapter_defined_denied" },
};

static const nook_field secret_file_ext_fields[] = {
        UINT_OPT(nook_secret_file_ext, mode, 0, 0777),
        UINT_OPT(nook_secret_file_ext, uid, 0, 4294967294u),
        UINT_OPT(nook_secret_file_ext, gid, 0, 4294967294u),
};
static const nook_schema schema_secret_file_ext = NOOK_SCHEMA(nook_secret_file_ext, secret_file_ext_fields, NULL);

static const nook_field secret_mount_fields[] = {
        ID(nook_secret_mount, secret_ref, NOOK_REQ),
        ID(nook_secret_mount, mount_ref, 0),
        F_(nook_secret_mount, destination, "destination", NOOK_F_JSON, NOOK_REQ), /* DestinationRef: id = path */
        JSON(nook_secret_mount, redaction_policy_ref),
        OBJ_OPT(nook_secret_mount, nook, schema_secret_file_ext),
};
static const nook_schema schema_secret_mount = NOOK_SCHEMA(nook_secret_mount, secret_mount_fields, NULL);
static const nook_field elem_secret_mount = { .type = NOOK_F_OBJECT, .schema = &schema_secret_mount };
static const nook_field env_secret_fields[] = {
        ID(nook_env_secret, secret_ref, NOOK_REQ),
        ENVNAME(nook_env_secret, env_key, NOOK_REQ),
        JSON(nook_env_secret, destination),
        JSON(nook_env_secret, redaction_policy_ref),
};
static const nook_schema schema_env_secret = NOOK_SCHEMA(nook_env_secret, env_secret_fields, NULL);
static const nook_field elem_env_secret = { .type = NOOK_F_OBJECT, .schema = &schema_env_secret };
static const nook_field secrets_fields[] = {
        ENUM(nook_secrets, ambient, ambient_values, NOOK_AMBIENT_DENIED),
        ARR(nook_secrets, secret_mounts, "secret_mounts", elem_secret_mount, nook_secret_mount, 0),
        ARR(nook_secrets, env_secrets, "env_secrets", elem_env_secret, nook_env_secret, 0),
        BOOL(nook_secrets, teardown_required, true),
};
static const nook_schema schema_secrets = NOOK_SCHEMA(nook_secrets, secrets_fields, NULL);

static const nook_field detach_policy_fields[] = {
        BOOL(nook_detach_policy, allowed, false),
};
static const nook_schema schema_detach_policy = NOOK_SCHEMA(nook_detach_policy, detach_policy_fields, NULL);
static const nook_field ownership_fields[] = {
        ENUM(nook_ownership, ownership_class, ownership_values, NOOK_OWN_AGENT_OWNED),
        OBJ(nook_ownership, detach_policy, "detach_policy", schema_detach_policy, 0),
        JSON(nook_ownership, reclaim_policy),
        JSON(nook_ownership, on_parent_cancel),
        JSON(nook_ownership, on_parent_complete),
};
static const nook_schema schema_ownership = NOOK_SCHEMA(nook_ownership, ownership_fields, NULL);

static const nook_field stream_policy_fields[] = {
        ENUM(nook_stream_policy, default_capture, capture_values, NOOK_CAPTURE_REDACTED_SUMMARY),
        UINT(nook_stream_policy, max_bytes, 0, 1ull << 40, 65536),
        ENUM(nook_stream_policy, truncation_policy, truncation_values, NOOK_TRUNC_WITH_MARKER),
        JSON(nook_stream_policy, content_ref_mode),
        JSON(nook_stream_policy, redaction_policy_ref),
};
static const nook_schema schema_stream_policy = NOOK_SCHEMA(nook_stream_policy, stream_policy_fields, NULL);
static const nook_field io_policy_fields[] = {
        OBJ(nook_io_policy, stdout_policy, "stdout", schema_stream_policy, 0),
        OBJ(nook_io_policy, stderr_policy, "stderr", schema_stream_policy, 0),
};
static const nook_schema schema_io_policy = NOOK_SCHEMA(nook_io_policy, io_policy_fields, NULL);

static const nook_field adapter_requirement_fields[] = {
        ENUM_REQ(nook_adapter_requirement, required_class, nook_class_values),
};
static const nook_schema schema_adapter_requirement =
        NOOK_SCHEMA(nook_adapter_requirement, adapter_requirement_fields, NULL);
static const nook_field elem_adapter_requirement = { .type = NOOK_F_OBJECT, .schema = &schema_adapter_requirement };

static const nook_field environment_spec_fields[] = {
        ID(nook_environment_spec, environment_id, 0),
        JSON(nook_environment_spec, kind),
        OBJ_OPT(nook_environment_spec, requirement, schema_requirement),
        OBJ_OPT(nook_environment_spec, image, nook_schema_image_request),
        OBJ_OPT(nook_environment_spec, rootfs, nook_schema_rootfs_request),
        OBJ(nook_environment_spec, resources, "resources", schema_resources, 0),
        OBJ(nook_environment_spec, filesystem, "filesystem", schema_filesystem, 0),
        VARIANT(nook_environment_spec, network, "network", network_alts, NOOK_NET_DISABLED),
        OBJ(nook_environment_spec, secrets, "secrets", schema_secrets, 0),
        JSON(nook_environment_spec, lifecycle),
        OBJ(nook_environment_spec, ownership, "ownership", schema_ownership, 0),
        ARR(nook_environment_spec, accepted_adapters, "accepted_adapters", elem_adapter_requirement,
            nook_adapter_requirement, 0),
        OBJ(nook_environment_spec, io_policy, "io_policy", schema_io_policy, 0),
        JSON(nook_environment_spec, stats_policy),
};
const nook_schema nook_schema_environment_spec = NOOK_SCHEMA(nook_environment_spec, environment_spec_fields, NULL);

static int validate_environment(void *obj, const char *ptr, nook_error **err) {
        nook_environment *e = obj;
        if (e->spec.environment_id && strcmp(e->spec.environment_id, e->environment_id) != 0) {
                _cleanup_free_ char *p = nook_pointer_join(ptr, "spec");
                _cleanup_free_ char *q = p ? nook_pointer_join(p, "environment_id") : NULL;
                return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, q ? q : ptr,
                                        "differs from %s/environment_id", ptr);
        }
        return 0;
}

static const nook_field environment_fields[] = {
        ID(nook_environment, environment_id, NOOK_REQ),
        JSON(nook_environment, requirement_ref),
        JSON(nook_environment, sidecar_ref),
        OBJ(nook_environment, spec, "spec", nook_schema_environment_spec, NOOK_REQ),
        JSON(nook_environment, source),
        JSON(nook_environment, destination),
        JSON(nook_environment, policy_refs),
        JSON(nook_environment, runtime_package_fingerprint),
};
const nook_schema nook_schema_environment = NOOK_SCHEMA(nook_environment, environment_fields, validate_environment);

/* ---- process ---- */

static int validate_env_entry(void *obj, const char *ptr, nook_error **err) {
        nook_env_entry *e = obj;
        if (e->raw_value_present) {
                _cleanup_free_ char *p = nook_pointer_join(ptr, "raw_value_present");
                return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, p ? p : ptr,
                                        "raw values are not accepted in env entries: send plain values in "
                                        "env_values and secret values through env_secrets");
        }
        return 0;
}
static const nook_field env_entry_fields[] = {
        ENVNAME(nook_env_entry, name, NOOK_REQ),
        ID(nook_env_entry, value_ref, 0),
        STR(nook_env_entry, redacted_value, 0),
        BOOL(nook_env_entry, raw_value_present, false),
};
static const nook_schema schema_env_entry = NOOK_SCHEMA(nook_env_entry, env_entry_fields, validate_env_entry);
static const nook_field elem_env_entry = { .type = NOOK_F_OBJECT, .schema = &schema_env_entry };

static const nook_alt stdin_alts[] = {
        { .tag = "closed" },
        { .tag = "content_ref", .raw = true },
};

static bool all_digits(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

static bool name_ok(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 32 || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
                      *s == '-' || *s == '.'))
                        return false;
        return true;
}

/* user: "uid[:gid]", "name[:group]", or {"uid": n, "gid": n} / {"name": s}. */
static int parse_user(nook_process_spec *p, const char *ptr, nook_error **err) {
        _cleanup_free_ char *at = nook_pointer_join(ptr, "user");
        json_auto_t *v = json_loads(p->user, JSON_DECODE_ANY, NULL);
        char spec[160] = "";
        if (json_is_string(v) && json_string_length(v) < sizeof(spec))
                snprintf(spec, sizeof(spec), "%s", json_string_value(v));
        else if (json_is_object(v) && json_is_integer(json_object_get(v, "uid"))) {
                json_t *g = json_object_get(v, "gid");
                snprintf(spec, sizeof(spec), "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(v, "uid")));
                if (json_is_integer(g))
                        snprintf(spec + strlen(spec), sizeof(spec) - strlen(spec), ":%" JSON_INTEGER_FORMAT,
                                 json_integer_value(g));
        } else if (json_is_object(v) && json_is_string(json_object_get(v, "name")) &&
                   json_string_length(json_object_get(v, "name")) < 64)
                snprintf(spec, sizeof(spec), "%s", json_string_value(json_object_get(v, "name")));
        char *colon = strchr(spec, ':');
        if (colon)
                *colon++ = 0;
        bool ok = spec[0] && (all_digits(spec) || name_ok(spec)) && (!colon || all_digits(colon) || name_ok(colon));
        if (ok && all_digits(spec) && (strlen(spec) > 10 || strtoull(spec, NULL, 10) > 0xfffffffeull))
                ok = false;
        if (ok && colon && all_digits(colon) && (strlen(colon) > 10 || strtoull(colon, NULL, 10) > 0xfffffffeull))
                ok = false;
        if (!ok)
                return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, at ? at : ptr,
                                        "expected \"uid[:gid]\", \"name[:group]\" or {\"uid\": n, \"gid\": n}");
        p->user_parsed.set = true;
        p->user_parsed.numeric = all_digits(spec);
        if (p->user_parsed.numeric)
                p->user_parsed.uid = (uint32_t)strtoul(spec, NULL, 10);
        else
                snprintf(p->user_parsed.name, sizeof(p->user_parsed.name), "%s", spec);
        if (colon && all_digits(colon)) {
                p->user_parsed.has_gid = true;
                p->user_parsed.gid = (uint32_t)strtoul(colon, NULL, 10);
        } else if (colon)
                snprintf(p->user_parsed.group, sizeof(p->user_parsed.group), "%s", colon);
        return 0;
}

static int rlimit_one(nook_process_spec *p, const char *name, json_t *val, const char *at, nook_error **err) {
        int res = nook_rlimit_by_name(name);
        json_t *soft = json_is_object(val) ? json_object_get(val, "soft") : val;
        json_t *hard = json_is_object(val) ? json_object_get(val, "hard") : val;
        if (res < 0 || !json_is_integer(soft) || !json_is_integer(hard) || json_integer_value(soft) < 0 ||
            json_integer_value(hard) < json_integer_value(soft) || p->n_rlimits >= ELEMENTSOF(p->rlimit_parsed))
                return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, at,
                                        "expected a limit name (nofile, nproc, core, as, cpu, ...) with a number or "
                                        "{\"soft\": n, \"hard\": n}, soft <= hard");
        p->rlimit_parsed[p->n_rlimits].resource = res;
        p->rlimit_parsed[p->n_rlimits].soft = (uint64_t)json_integer_value(soft);
        p->rlimit_parsed[p->n_rlimits].hard = (uint64_t)json_integer_value(hard);
        p->n_rlimits++;
        return 0;
}

/* ext posix_rlimits: {"nofile": 1024, "core": {"soft": 0, "hard": 0}} or the OCI form
 * [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024}]. */
static int parse_rlimits(nook_process_spec *p, const char *ptr, nook_error **err) {
        _cleanup_free_ char *at = nook_pointer_join(ptr, "posix_rlimits");
        json_auto_t *v = json_loads(p->posix_rlimits, JSON_DECODE_ANY, NULL);
        const char *key;
        json_t *val;
        size_t i;
        if (json_is_object(v)) {
                json_object_foreach(v, key, val) {
                        _cleanup_free_ char *k = nook_pointer_join(at ? at : ptr, key);
                        int r = rlimit_one(p, key, val, k ? k : ptr, err);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        if (json_is_array(v)) {
                json_array_foreach(v, i, val) {
                        _cleanup_free_ char *k = nook_pointer_index(at ? at : ptr, i);
                        json_t *t = json_object_get(val, "type");
                        int r = rlimit_one(p, json_is_string(t) ? json_string_value(t) : "", val, k ? k : ptr, err);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, at ? at : ptr, "expected an object or an array");
}

static int validate_process_spec(void *obj, const char *ptr, nook_error **err) {
        nook_process_spec *p = obj;
        if (p->user) {
                int r = parse_user(p, ptr, err);
                if (r < 0)
                        return r;
        }
        if (p->posix_rlimits && strcmp(p->posix_rlimits, "null") != 0) {
                int r = parse_rlimits(p, ptr, err);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < p->env_values.n; i++)
                if (!nook_envname_valid(p->env_values.keys[i])) {
                        _cleanup_free_ char *a = nook_pointer_join(ptr, "env_values");
                        _cleanup_free_ char *b = a ? nook_pointer_join(a, p->env_values.keys[i]) : NULL;
                        return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, b ? b : ptr,
                                                "expected an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
                }
        return 0;
}

static int seccomp_parse(json_t *v, const char *ptr, void *dst, nook_error **err) {
        nook_seccomp_choice *c = dst;
        if (json_is_string(v) && strcmp(json_string_value(v), "default") == 0) {
                c->mode = NOOK_SECCOMP_DEFAULT;
                return 0;
        }
        if (json_is_string(v) && strcmp(json_string_value(v), "unconfined") == 0) {
                c->mode = NOOK_SECCOMP_UNCONFINED;
                return 0;
        }
        if (!json_is_object(v))
                return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, ptr,
                                        "expected \"default\", \"unconfined\" or an OCI seccomp profile object");
        _cleanup_free_ char *text = json_dumps(v, JSON_COMPACT);
        nook_seccomp_profile *p = calloc(1, sizeof(*p));
        if (!text || !p) {
                free(p);
                return nook_error_oom(err);
        }
        int r = nook_oci_seccomp_parse(text, strlen(text), p, err);
        if (r < 0) {
                free(p);
                /* the parser's pointers are relative to the profile */
                const char *inner = err && *err ? nook_error_get_pointer(*err) : NULL;
                _cleanup_free_ char *full = NULL;
                if (inner && asprintf(&full, "%s%s", ptr, inner) >= 0)
                        nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, full, "%s", nook_error_get_message(*err));
                return r;
        }
        c->mode = NOOK_SECCOMP_PROFILE;
        c->profile = p;
        c->text = TAKE_PTR(text);
        return 0;
}

static json_t *seccomp_encode(const void *src) {
        const nook_seccomp_choice *c = src;
        if (c->mode == NOOK_SECCOMP_PROFILE && c->text)
                return json_loads(c->text, 0, NULL);
        return c->mode == NOOK_SECCOMP_UNCONFINED ? json_string("unconfined") : NULL;
}

static void seccomp_clear(void *dst) {
        nook_seccomp_choice *c = dst;
        if (c->profile) {
                nook_seccomp_profile_clear(c->profile);
                free(c->profile);
        }
        free(c->text);
        *c = (nook_seccomp_choice){ 0 };
}

static const nook_custom seccomp_custom = { seccomp_parse, seccomp_encode, seccomp_clear };

static const nook_field process_ext_fields[] = {
        UINT(nook_process_ext, tty_rows, 1, 10000, 24),
        UINT(nook_process_ext, tty_cols, 1, 10000, 80),
        BOOL(nook_process_ext, stdin_open, false),
        F_(nook_process_ext, seccomp, "seccomp", NOOK_F_CUSTOM, 0, .custom = &seccomp_custom),
        BOOL(nook_process_ext, allow_nested_userns, false),
        STR(nook_process_ext, capabilities, 0),
};
static const nook_schema schema_process_ext = NOOK_SCHEMA(nook_process_ext, process_ext_fields, NULL);

static const nook_field process_spec_fields[] = {
        ID(nook_process_spec, process_id, NOOK_REQ),
        ARR(nook_process_spec, argv, "argv", elem_string, char *, NOOK_REQ | NOOK_NONEMPTY | NOOK_REDACT_COUNT),
        PATH(nook_process_spec, cwd, 0, NULL),
        ARR(nook_process_spec, env, "env", elem_env_entry, nook_env_entry, NOOK_REDACT_NAMES),
        JSON(nook_process_spec, user),
        ENUM(nook_process_spec, terminal_mode, terminal_values, NOOK_TERM_PIPE),
        UINT_OPT(nook_process_spec, timeout_ms, 1, 31ull * 24 * 3600 * 1000),
        OBJ_OPT(nook_process_spec, rlimits, schema_resource_limits),
        JSON(nook_process_spec, posix_rlimits), /* ext */
        VARIANT(nook_process_spec, stdin_spec, "stdin", stdin_alts, NOOK_STDIN_CLOSED),
        OBJ_OPT(nook_process_spec, stdout_policy, schema_stream_policy),
        OBJ_OPT(nook_process_spec, stderr_policy, schema_stream_policy),
        JSON(nook_process_spec, stats_policy),
        JSON(nook_process_spec, ownership),
        F_(nook_process_spec, env_values, "env_values", NOOK_F_STRMAP, NOOK_SECRET),
        OBJ_OPT(nook_process_spec, nook, schema_process_ext),
};
const nook_schema nook_schema_process_spec = NOOK_SCHEMA(nook_process_spec, process_spec_fields, validate_process_spec);

static const nook_field effect_intent_fields[] = {
        ID(nook_effect_intent, effect_id, NOOK_REQ), JSON(nook_effect_intent, kind),
        JSON(nook_effect_intent, subject_ref),       JSON(nook_effect_intent, source),
        JSON(nook_effect_intent, destination),       JSON(nook_effect_intent, policy_refs),
        ID(nook_effect_intent, idempotency_key, 0),  ID(nook_effect_intent, dedupe_key, 0),
        JSON(nook_effect_intent, content_refs),      STR(nook_effect_intent, redacted_summary, 0),
};
const nook_schema nook_schema_effect_intent = NOOK_SCHEMA(nook_effect_intent, effect_intent_fields, NULL);

/* ---- requests ---- */

static const nook_field empty_req_fields[] = { IDEMPOTENCY(nook_empty_req) };
const nook_schema nook_schema_empty_req = NOOK_SCHEMA(nook_empty_req, empty_req_fields, NULL);

static const char *const identity_values[] = { "auto", "root", "keep-id", "subuid", NULL };
static const char *const netmode_values[] = { "auto", "none", "host", "slirp4netns", NULL };
static const char *const port_proto_values[] = { "tcp", "udp", NULL };
static const nook_field port_map_fields[] = {
        STR(nook_port_map, host_ip, 0),
        UINT(nook_port_map, host_port, 0, 65535, 0),
        UINT_REQ(nook_port_map, container_port, 1, 65535),
        ENUM(nook_port_map, protocol, port_proto_values, 0),
};
static int validate_port_map(void *obj, const char *ptr, nook_error **err) {
        nook_port_map *m = obj;
        struct in_addr a;
        if (m->host_ip && *m->host_ip && inet_pton(AF_INET, m->host_ip, &a) != 1) {
                _cleanup_free_ char *p = nook_pointer_join(ptr, "host_ip");
                return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, p ? p : ptr,
                                        "'%s' is not an IPv4 address of this host (ports are published on "
                                        "127.0.0.1 unless an address is given)",
                                        m->host_ip);
        }
        return 0;
}
static const nook_schema schema_port_map = NOOK_SCHEMA(nook_port_map, port_map_fields, validate_port_map);
static const nook_field elem_port_map = { .type = NOOK_F_OBJECT, .schema = &schema_port_map };
static const nook_field session_ext_fields[] = {
        ENUM(nook_session_ext, identity, identity_values, NOOK_IDENTITY_AUTO),
        ENUM(nook_session_ext, network, netmode_values, NOOK_NETMODE_AUTO),
        ARR(nook_session_ext, ports, "ports", elem_port_map, nook_port_map, 0),
        ARR(nook_session_ext, dns, "dns", elem_string, char *, 0),
        ARR(nook_session_ext, add_hosts, "add_hosts", elem_string, char *, 0),
        BOOL(nook_session_ext, allow_host_loopback, false),
        F_(nook_session_ext, hostname, "hostname", NOOK_F_ID, 0, .max_len = 64),
        ID(nook_session_ext, name, 0),
        BOOL(nook_session_ext, owned_by_caller, false),
        ARR(nook_session_ext, labels, "labels", elem_string, char *, 0),
};
/* "IPv4" or "IPv4:PORT" (--dns); "NAME:IPv4" (--add-host) */
static bool ipv4_port(const char *s, bool port_ok) {
        char ip[16];
        unsigned port = 53;
        char extra;
        struct in_addr a;
        int n = sscanf(s, "%15[0-9.]:%u%c", ip, &port, &extra);
        if (n == 1 && strchr(s, ':'))
                return false;
        return (n == 1 || (n == 2 && port_ok)) && port >= 1 && port <= 65535 && inet_pton(AF_INET, ip, &a) == 1;
}
static bool host_entry(const char *s) {
        const char *colon = strchr(s, ':');
        if (!colon || colon == s || colon - s > 253)
                return false;
        for (const char *c = s; c < colon; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
                      *c == '.'))
                        return false;
        return ipv4_port(colon + 1, false);
}
static int validate_net_ext(const nook_session_ext *e, const char *ptr, nook_error **err) {
        for (size_t i = 0; i < e->dns.n + e->add_hosts.n; i++) {
                bool dns = i < e->dns.n;
                const char *v = dns ? ((char **)e->dns.items)[i] : ((char **)e->add_hosts.items)[i - e->dns.n];
                if (dns ? ipv4_port(v, true) : host_entry(v))
                        continue;
                _cleanup_free_ char *p = pointer_index(ptr, dns ? "dns" : "add_hosts", dns ? i : i - e->dns.n);
                return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, p ? p : ptr,
                                        dns ? "'%s' is not a resolver: give an IPv4 address (IP or IP:PORT)"
                                            : "'%s' is not a host entry: give NAME:IPv4",
                                        v);
        }
        return 0;
}
/* "KEY=VALUE": KEY 1 to 128 bytes without '=', VALUE at most 4096, no control character;
 * at most 64 of them (they are kept in the session record, one line). */
static int validate_labels(const nook_session_ext *e, const char *ptr, nook_error **err) {
        for (size_t i = 0; i < e->labels.n; i++) {
                const char *l = ((char *const *)e->labels.items)[i], *eq = strchr(l, '=');
                bool ok = i < 64 && eq && eq > l && eq - l <= 128 && strlen(eq + 1) <= 4096;
                for (const char *c = l; ok && *c; c++)
                        ok = (unsigned char)*c >= 0x20 && *c != 0x7f;
                if (!ok) {
                        _cleanup_free_ char *at = nook_pointer_join(ptr, "labels");
                        _cleanup_free_ char *p = at ? nook_pointer_index(at, i) : NULL;
                        return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, p ? p : ptr,
                                                "a label is KEY=VALUE (KEY 1 to 128 bytes, VALUE at most 4096, no "
                                                "control character), at most 64 labels");
                }
        }
        return 0;
}

static int validate_session_ext(void *obj, const char *ptr, nook_error **err) {
        nook_session_ext *e = obj;
        int r = validate_net_ext(e, ptr, err);
        if (r < 0)
                return r;
        if ((r = validate_labels(e, ptr, err)) < 0)
                return r;
        if (e->hostname) {
                size_t n = strlen(e->hostname);
                bool ok = n > 0 && n <= 64;
                for (const char *c = e->hostname; ok && *c; c++)
                        ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                             *c == '-' || *c == '.';
                if (!ok) {
                        _cleanup_free_ char *p = nook_pointer_join(ptr, "hostname");
                        return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, p ? p : ptr,
                                                "a hostname is 1 to 64 letters, digits, '-' and '.'");
                }
        }
        return 0;
}
static const nook_schema schema_session_ext = NOOK_SCHEMA(nook_session_ext, session_ext_fields, validate_session_ext);

static const nook_field env_req_fields[] = {
        OBJ(nook_env_req, environment, "environment", nook_schema_environment, NOOK_REQ),
        OBJ_OPT(nook_env_req, nook, schema_session_ext),
        IDEMPOTENCY(nook_env_req),
};
const nook_schema nook_schema_env_req = NOOK_SCHEMA(nook_env_req, env_req_fields, NULL);

static const nook_field resolve_image_req_fields[] = {
        OBJ(nook_resolve_image_req, image, "image", nook_schema_image_request, NOOK_REQ),
        IDEMPOTENCY(nook_resolve_image_req),
};
const nook_schema nook_schema_resolve_image_req = NOOK_SCHEMA(nook_resolve_image_req, resolve_image_req_fields, NULL);

static const nook_field rootfs_ext_fields[] = {
        BOOL(nook_rootfs_ext, rootfs_rw, false),
        ID(nook_rootfs_ext, driver, 0),
};
static const nook_schema schema_rootfs_ext = NOOK_SCHEMA(nook_rootfs_ext, rootfs_ext_fields, NULL);

static const nook_field prepare_rootfs_req_fields[] = {
        OBJ(nook_prepare_rootfs_req, rootfs, "rootfs", nook_schema_rootfs_request, NOOK_REQ),
        OBJ_OPT(nook_prepare_rootfs_req, nook, schema_rootfs_ext),
        ID(nook_prepare_rootfs_req, environment_id, 0),
        IDEMPOTENCY(nook_prepare_rootfs_req),
};
const nook_schema nook_schema_prepare_rootfs_req =
        NOOK_SCHEMA(nook_prepare_rootfs_req, prepare_rootfs_req_fields, NULL);

static int validate_secret_source(void *obj, const char *ptr, nook_error **err) {
        nook_secret_source *s = obj;
        int n = !!s->file + !!s->env + !!s->has_fd + !!s->value;
        if (n != 1)
                return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, ptr,
                                        "exactly one of file, env, fd or value is required (got %d)", n);
        return 0;
}
static const nook_field secret_source_fields[] = {
        STR(nook_secret_source, file, 0),
        ENVNAME(nook_secret_source, env, 0),
        UINT_OPT(nook_secret_source, fd, 0, 1u << 20),
        F_(nook_secret_source, value, "value", NOOK_F_STRING, NOOK_SECRET, .max_len = 1u << 20),
};
static const nook_schema schema_secret_source =
        NOOK_SCHEMA(nook_secret_source, secret_source_fields, validate_secret_source);
static const nook_field elem_secret_source = { .type = NOOK_F_OBJECT,
                                               .schema = &schema_secret_source,
                                               .offset = offsetof(nook_named_secret, source) };

static const nook_field prepare_secrets_req_fields[] = {
        OBJ(nook_prepare_secrets_req, environment, "environment", nook_schema_environment, NOOK_REQ),
        F_(nook_prepare_secrets_req, secret_values, "secret_values", NOOK_F_MAP, NOOK_SECRET,
           .elem = &elem_secret_source, .elem_size = sizeof(nook_named_secret)),
        IDEMPOTENCY(nook_prepare_secrets_req),
};
const nook_schema nook_schema_prepare_secrets_req =
        NOOK_SCHEMA(nook_prepare_secrets_req, prepare_secrets_req_fields, NULL);

static const nook_field start_process_req_fields[] = {
        OBJ(nook_start_process_req, environment, "environment", nook_schema_environment, NOOK_REQ),
        OBJ(nook_start_process_req, process, "process", nook_schema_process_spec, NOOK_REQ),
        OBJ(nook_start_process_req, effect_intent, "effect_intent", nook_schema_effect_intent, NOOK_REQ),
        UINT_OPT(nook_start_process_req, wait_ms, 0, 24ull * 3600 * 1000),
        IDEMPOTENCY(nook_start_process_req),
};
const nook_schema nook_schema_start_process_req = NOOK_SCHEMA(nook_start_process_req, start_process_req_fields, NULL);

/* RFC 4648 base64 with padding, no whitespace. */
static bool base64_valid(const char *s) {
        size_t n = strlen(s), pad = 0;
        if (n % 4)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                             c == '/';
                if (c == '=' && i >= n - 2)
                        pad++;
                else if (!alpha || pad)
                        return false;
        }
        return true;
}

static int validate_stream_io(void *obj, const char *ptr, nook_error **err) {
        nook_stream_io_req *r = obj;
        if (r->data && r->encoding == NOOK_ENCODING_BASE64 && !base64_valid(r->data)) {
                _cleanup_free_ char *p = nook_pointer_join(ptr, "data");
                return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, p ? p : ptr,
                                        "not valid base64 (RFC 4648, padded, no whitespace)");
        }
        if (r->stream != NOOK_STREAM_STDIN && (r->data || r->close)) {
                _cleanup_free_ char *p = nook_pointer_join(ptr, r->data ? "data" : "close");
                return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, p ? p : ptr,
                                        "only the stdin stream takes data or close");
        }
        return 0;
}
static const nook_field stream_io_req_fields[] = {
        ID(nook_stream_io_req, process_ref, NOOK_REQ),
        ENUM_REQ(nook_stream_io_req, stream, nook_stream_values),
        UINT_OPT(nook_stream_io_req, cursor, 0, 1ull << 62),
        UINT_OPT(nook_stream_io_req, max_bytes, 1, 16u * 1024 * 1024),
        F_(nook_stream_io_req, data, "data", NOOK_F_STRING, NOOK_SECRET, .max_len = 4u * 1024 * 1024),
        ENUM(nook_stream_io_req, encoding, encoding_values, NOOK_ENCODING_UTF8),
        BOOL(nook_stream_io_req, close, false),
        UINT(nook_stream_io_req, wait_ms, 0, 3600u * 1000, 0),
        IDEMPOTENCY(nook_stream_io_req),
};
const nook_schema nook_schema_stream_io_req = NOOK_SCHEMA(nook_stream_io_req, stream_io_req_fields, validate_stream_io);

static const nook_field signal_req_fields[] = {
        ID(nook_signal_req, process_ref, NOOK_REQ),
        ENUM_REQ(nook_signal_req, signal, nook_signal_values),
        UINT(nook_signal_req, grace_ms, 0, 3600u * 1000, 0),
        IDEMPOTENCY(nook_signal_req),
};
const nook_schema nook_schema_signal_req = NOOK_SCHEMA(nook_signal_req, signal_req_fields, NULL);

static const nook_field process_ref_req_fields[] = {
        ID(nook_process_ref_req, process_ref, NOOK_REQ),
        IDEMPOTENCY(nook_process_ref_req),
};
const nook_schema nook_schema_process_ref_req = NOOK_SCHEMA(nook_process_ref_req, process_ref_req_fields, NULL);

static const nook_field cleanup_req_fields[] = {
        OBJ(nook_cleanup_req, environment, "environment", nook_schema_environment, NOOK_REQ),
        ID(nook_cleanup_req, cleanup_plan_ref, NOOK_REQ),
        IDEMPOTENCY(nook_cleanup_req),
};
const nook_schema nook_schema_cleanup_req = NOOK_SCHEMA(nook_cleanup_req, cleanup_req_fields, NULL);

static const nook_field reclaim_req_fields[] = {
        ID(nook_reclaim_req, ticket_ref, NOOK_REQ),
        IDEMPOTENCY(nook_reclaim_req),
};
const nook_schema nook_schema_reclaim_req = NOOK_SCHEMA(nook_reclaim_req, reclaim_req_fields, NULL);

static const nook_field read_content_req_fields[] = {
        ID(nook_read_content_req, content_ref, NOOK_REQ),
        UINT_OPT(nook_read_content_req, max_bytes, 1, 16u * 1024 * 1024),
        IDEMPOTENCY(nook_read_content_req),
};
const nook_schema nook_schema_read_content_req = NOOK_SCHEMA(nook_read_content_req, read_content_req_fields, NULL);

/* ---- results ---- */

static const nook_field degraded_fields[] = { STR(nook_health_degraded, reason, NOOK_REQ) };
static const nook_schema schema_degraded = NOOK_SCHEMA(nook_health_degraded, degraded_fields, NULL);
static const nook_field unsupported_fields[] = {
        ARR(nook_health_unsupported, missing_prerequisites, "missing_prerequisites", elem_string, char *, NOOK_REQ),
};
static const nook_schema schema_unsupported = NOOK_SCHEMA(nook_health_unsupported, unsupported_fields, NULL);
static const nook_alt health_alts[] = {
        { .tag = "healthy" },
        { .tag = "degraded", .schema = &schema_degraded },
        { .tag = "unsupported_host", .schema = &schema_unsupported },
};
static const nook_field platform_fields[] = {
        STR(nook_platform, platform, NOOK_REQ),
        STR(nook_platform, os, NOOK_REQ),
        STR(nook_platform, cpu_architecture, NOOK_REQ),
        BOOL(nook_platform, emulation_supported, false),
};
static const nook_schema schema_platform = NOOK_SCHEMA(nook_platform, platform_fields, NULL);
static const nook_field finding_fields[] = {
        ID(nook_finding_result, name, NOOK_REQ),    STR(nook_finding_result, title, 0),
        BOOL(nook_finding_result, ok, false),       BOOL(nook_finding_result, required, false),
        STR(nook_finding_result, detail, NOOK_REQ), STR(nook_finding_result, remedy, 0),
};
static const nook_schema schema_finding = NOOK_SCHEMA(nook_finding_result, finding_fields, NULL);
static const nook_field elem_finding = { .type = NOOK_F_OBJECT, .schema = &schema_finding };

static const nook_field capability_report_fields[] = {
        ID(nook_capability_report, report_ref, NOOK_REQ),
        ID(nook_capability_report, adapter_ref, NOOK_REQ),
        ID(nook_capability_report, adapter_kind, NOOK_REQ),
        STR(nook_capability_report, adapter_version, NOOK_REQ),
        STR(nook_capability_report, capability_version, NOOK_REQ),
        VARIANT(nook_capability_report, health, "health", health_alts, -1),
        ARR(nook_capability_report, supported_classes, "supported_classes", elem_class, int, NOOK_ENC_OMIT_EMPTY),
        OBJ(nook_capability_report, platform, "platform", schema_platform, NOOK_REQ),
        OBJ(nook_capability_report, capabilities, "capabilities", schema_capability_set, NOOK_REQ),
        OBJ(nook_capability_report, trust, "trust", schema_trust, NOOK_REQ),
        ARR(nook_capability_report, unsupported_requirements, "unsupported_requirements", elem_string, char *,
            NOOK_ENC_OMIT_EMPTY),
        ENUM_REQ(nook_capability_report, log_retention, nook_retention_values),
        ARR(nook_capability_report, findings, "findings", elem_finding, nook_finding_result, 0),
};
const nook_schema nook_schema_capability_report = NOOK_SCHEMA(nook_capability_report, capability_report_fields, NULL);

static const nook_field resolve_image_result_fields[] = {
        ID(nook_resolve_image_result, image_ref, NOOK_REQ),
        HASH(nook_resolve_image_result, digest, NOOK_REQ),
        STR(nook_resolve_image_result, redacted_credential_alias, NOOK_ENC_NULL),
        JSON(nook_resolve_image_result, nook),
};
const nook_schema nook_schema_resolve_image_result =
        NOOK_SCHEMA(nook_resolve_image_result, resolve_image_result_fields, NULL);

static const nook_field mount_ref_fields[] = {
        ID(nook_mount_ref, mount_ref, NOOK_REQ),
        ID(nook_mount_ref, source_alias, 0),
        PATH(nook_mount_ref, destination_path, NOOK_REQ, NULL),
        ENUM(nook_mount_ref, mode, mount_mode_values, NOOK_MOUNT_READ_ONLY),
        STR(nook_mount_ref, expansion_audit, 0),
};
static const nook_schema schema_mount_ref = NOOK_SCHEMA(nook_mount_ref, mount_ref_fields, NULL);
static const nook_field elem_mount_ref = { .type = NOOK_F_OBJECT, .schema = &schema_mount_ref };
static const nook_field mount_plan_fields[] = {
        ARR(nook_mount_plan, mounts, "mounts", elem_id, char *, NOOK_ENC_OMIT_EMPTY),
        ARR(nook_mount_plan, expanded_exposure_audits, "expanded_exposure_audits", elem_string, char *,
            NOOK_ENC_OMIT_EMPTY),
        ARR(nook_mount_plan, nook, "nook", elem_mount_ref, nook_mount_ref, NOOK_ENC_OMIT_EMPTY), /* ext */
};
const nook_schema nook_schema_mount_plan = NOOK_SCHEMA(nook_mount_plan, mount_plan_fields, NULL);

static const nook_field secrets_result_fields[] = {
        ARR(nook_secrets_result, secret_mount_refs, "secret_mount_refs", elem_id, char *, NOOK_ENC_OMIT_EMPTY),
        BOOL(nook_secrets_result, teardown_required, true),
};
const nook_schema nook_schema_secrets_result = NOOK_SCHEMA(nook_secrets_result, secrets_result_fields, NULL);

static const nook_field io_frame_fields[] = {
        ID(nook_io_frame, stream_ref, NOOK_REQ),
        ENUM_REQ(nook_io_frame, stream, nook_stream_values),
        UINT(nook_io_frame, cursor, 0, 1ull << 62, 0),
        UINT(nook_io_frame, byte_count, 0, 1ull << 62, 0),
        HASH(nook_io_frame, content_hash, NOOK_REQ),
        ARR(nook_io_frame, content_refs, "content_refs", elem_id, char *, NOOK_ENC_OMIT_EMPTY),
        BOOL(nook_io_frame, raw_content_present, false),
        BOOL(nook_io_frame, truncated, false),
        STR(nook_io_frame, redacted_summary, 0),
        F_(nook_io_frame, data, "data", NOOK_F_STRING, NOOK_SECRET, .max_len = 32u * 1024 * 1024),
        F_(nook_io_frame, encoding, "encoding", NOOK_F_STRING, 0, .max_len = 16),
        BOOL_OPT(nook_io_frame, eof),
        UINT_OPT(nook_io_frame, exit_code, 0, 255),
};
const nook_schema nook_schema_io_frame = NOOK_SCHEMA(nook_io_frame, io_frame_fields, NULL);
static const nook_field elem_io_frame = { .type = NOOK_F_OBJECT, .schema = &nook_schema_io_frame };

static const nook_field limits_report_fields[] = {
        STR(nook_limits_report, memory, 0),  STR(nook_limits_report, process_count, 0),
        STR(nook_limits_report, cpus, 0),    STR(nook_limits_report, disk, 0),
        STR(nook_limits_report, timeout, 0), STR(nook_limits_report, output, 0),
};
static const nook_schema schema_limits_report = NOOK_SCHEMA(nook_limits_report, limits_report_fields, NULL);

static const nook_field start_result_fields[] = {
        ID(nook_start_result, process_ref, NOOK_REQ),
        ID(nook_start_result, adapter_session_ref, NOOK_ENC_NULL),
        ENUM(nook_start_result, terminal_status, nook_terminal_status_values, NOOK_TERMINAL_UNKNOWN),
        STR(nook_start_result, external_operation_id, NOOK_ENC_NULL),
        ARR(nook_start_result, io_frames, "io_frames", elem_io_frame, nook_io_frame, NOOK_ENC_OMIT_EMPTY),
        STR(nook_start_result, redacted_summary, 0),
        OBJ_OPT(nook_start_result, limits, schema_limits_report), /* ext */
};
const nook_schema nook_schema_start_result = NOOK_SCHEMA(nook_start_result, start_result_fields, NULL);

static const nook_field signal_result_fields[] = {
        ID(nook_signal_result, process_ref, NOOK_REQ),
        ENUM_REQ(nook_signal_result, signal, nook_signal_values),
        BOOL(nook_signal_result, delivered, false),
        STR(nook_signal_result, redacted_summary, 0),
};
const nook_schema nook_schema_signal_result = NOOK_SCHEMA(nook_signal_result, signal_result_fields, NULL);

static const nook_field stats_result_fields[] = {
        ID(nook_stats_result, snapshot_ref, NOOK_REQ),
        ID(nook_stats_result, process_ref, NOOK_REQ),
        UINT_NULL(nook_stats_result, cpu_millis, 1ull << 62),
        UINT_NULL(nook_stats_result, memory_bytes, 1ull << 62),
        UINT_NULL(nook_stats_result, process_count, 1ull << 62),
        UINT_NULL(nook_stats_result, filesystem_bytes, 1ull << 62),
        UINT_NULL(nook_stats_result, network_bytes, 1ull << 62),
        UINT_NULL(nook_stats_result, exit_code, 255),
        STR(nook_stats_result, redacted_summary, 0),
};
const nook_schema nook_schema_stats_result = NOOK_SCHEMA(nook_stats_result, stats_result_fields, NULL);

static const nook_field cleanup_result_fields[] = {
        ID(nook_cleanup_result, cleanup_plan_ref, NOOK_REQ),
        ENUM_REQ(nook_cleanup_result, status, cleanup_status_values),
        STR(nook_cleanup_result, external_operation_id, NOOK_ENC_NULL),
        STR(nook_cleanup_result, redacted_summary, 0),
};
const nook_schema nook_schema_cleanup_result = NOOK_SCHEMA(nook_cleanup_result, cleanup_result_fields, NULL);

static const nook_field detach_result_fields[] = {
        ID(nook_detach_result, host_ack_ref, NOOK_REQ),
        STR(nook_detach_result, redacted_summary, 0),
};
const nook_schema nook_schema_detach_result = NOOK_SCHEMA(nook_detach_result, detach_result_fields, NULL);

static const nook_field reclaim_result_fields[] = {
        ID(nook_reclaim_result, ticket_ref, NOOK_REQ),
        ENUM_REQ(nook_reclaim_result, status, cleanup_status_values),
        STR(nook_reclaim_result, redacted_summary, 0),
};
const nook_schema nook_schema_reclaim_result = NOOK_SCHEMA(nook_reclaim_result, reclaim_result_fields, NULL);

static const nook_field content_result_fields[] = {
        ID(nook_content_result, content_ref, NOOK_REQ),
        UINT(nook_content_result, byte_count, 0, 1ull << 62, 0),
        HASH(nook_content_result, content_hash, 0),
        F_(nook_content_result, data, "data", NOOK_F_STRING, NOOK_SECRET, .max_len = 32u * 1024 * 1024),
        F_(nook_content_result, encoding, "encoding", NOOK_F_STRING, 0, .max_len = 16),
};
const nook_schema nook_schema_content_result = NOOK_SCHEMA(nook_content_result, content_result_fields, NULL);
