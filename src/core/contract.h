/* nook core — the IsolationRuntime contract as C structs (CONTRACT.md "Main shapes"),
 * one per request and result of the 16 calls.  Parsed and encoded by the field
 * tables in contract.c; adapters see only these types. */
#ifndef NOOK_CORE_CONTRACT_H
#define NOOK_CORE_CONTRACT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/schema.h"

/* ---- enums (index = position in the matching *_values[] table of contract.c) ---- */

typedef enum {
        NOOK_CLASS_HOST_PROCESS,
        NOOK_CLASS_SANDBOX,
        NOOK_CLASS_CONTAINER,
        NOOK_CLASS_LIGHTWEIGHT_VM,
        NOOK_CLASS_REMOTE_SANDBOX
} nook_isolation_class;
typedef enum {
        NOOK_FALLBACK_DENY,
        NOOK_FALLBACK_ALLOW_IF_APPROVED,
        NOOK_FALLBACK_TEST_ONLY_HOST_PROCESS
} nook_fallback_tag;
typedef enum { NOOK_ROOT_READ_ONLY, NOOK_ROOT_WRITABLE_LAYER } nook_root_mode;
typedef enum {
        NOOK_WS_NONE,
        NOOK_WS_SNAPSHOT,
        NOOK_WS_LIVE_READ_ONLY,
        NOOK_WS_LIVE_WRITABLE,
        NOOK_WS_SCRATCH
} nook_workspace_mode;
typedef enum { NOOK_MOUNT_READ_ONLY, NOOK_MOUNT_WRITABLE } nook_mount_mode;
typedef enum { NOOK_SYMLINK_DENY_ESCAPES, NOOK_SYMLINK_FOLLOW_WITHIN_ALIAS } nook_symlink_policy;
typedef enum { NOOK_SFM_AUDIT_EXPANDED_PARENT, NOOK_SFM_DENY_SINGLE_FILE } nook_single_file_policy;
typedef enum {
        NOOK_NET_DISABLED,
        NOOK_NET_ALLOWLIST,
        NOOK_NET_EGRESS_SCOPED,
        NOOK_NET_EXPOSED_PORTS,
        NOOK_NET_SOCKET_RELAY,
        NOOK_NET_ADAPTER_DEFINED_DENIED
} nook_network_tag;
typedef enum { NOOK_AMBIENT_DENIED, NOOK_AMBIENT_EXPLICIT_REFS_ONLY } nook_ambient_secrets;
typedef enum { NOOK_OWN_AGENT_OWNED, NOOK_OWN_HOST_MANAGED, NOOK_OWN_DETACHED_BY_INTENT } nook_ownership_class;
typedef enum {
        NOOK_CAPTURE_OFF,
        NOOK_CAPTURE_METADATA_ONLY,
        NOOK_CAPTURE_REDACTED_SUMMARY,
        NOOK_CAPTURE_CONTENT_REF,
        NOOK_CAPTURE_RAW_IF_ALLOWED
} nook_capture;
typedef enum { NOOK_TRUNC_WITH_MARKER, NOOK_TRUNC_FAIL_IF_EXCEEDED } nook_truncation;
typedef enum { NOOK_TERM_PIPE, NOOK_TERM_PTY } nook_terminal_mode;
typedef enum { NOOK_STDIN_CLOSED, NOOK_STDIN_CONTENT_REF } nook_stdin_tag;
typedef enum { NOOK_STREAM_STDIN, NOOK_STREAM_STDOUT, NOOK_STREAM_STDERR } nook_stream;
typedef enum { NOOK_ENCODING_UTF8, NOOK_ENCODING_BASE64 } nook_encoding;
typedef enum { NOOK_SIGNAL_INTERRUPT, NOOK_SIGNAL_TERMINATE, NOOK_SIGNAL_KILL } nook_signal;
typedef enum {
        NOOK_TERMINAL_COMPLETED,
        NOOK_TERMINAL_FAILED,
        NOOK_TERMINAL_TIMED_OUT,
        NOOK_TERMINAL_CANCELLED,
        NOOK_TERMINAL_DENIED_BEFORE_EXECUTION,
        NOOK_TERMINAL_UNKNOWN
} nook_terminal_status;
typedef enum { NOOK_CLEANUP_COMPLETED, NOOK_CLEANUP_REPAIR_NEEDED } nook_cleanup_status;
typedef enum { NOOK_HEALTH_TAG_HEALTHY, NOOK_HEALTH_TAG_DEGRADED, NOOK_HEALTH_TAG_UNSUPPORTED_HOST } nook_health_tag;

extern const char *const nook_class_values[];
extern const char *const nook_signal_values[];
extern const char *const nook_stream_values[];
extern const char *const nook_terminal_status_values[];
extern const char *const nook_capability_values[]; /* the contract's capability names */
extern const char *const nook_trust_field_values[];
extern const char *const nook_retention_values[];
typedef enum {
        NOOK_RETENTION_EPHEMERAL,
        NOOK_RETENTION_RUN_SCOPED,
        NOOK_RETENTION_SESSION_SCOPED,
        NOOK_RETENTION_DURABLE,
        NOOK_RETENTION_PERSISTENT,
        NOOK_RETENTION_HOST_POLICY
} nook_retention;

/* ---- ExecutionEnvironment ---- */

/* IsolationCapabilitySet: the crate's capability names, as indexes into
 * nook_capability_values[] (requests: any order; the report: declaration order). */
typedef struct nook_capability_set {
        nook_array capabilities; /* int */
} nook_capability_set;

typedef enum { NOOK_LOCALITY_ANY, NOOK_LOCALITY_LOCAL, NOOK_LOCALITY_REMOTE } nook_locality;
typedef enum { NOOK_TENANCY_SHARED_ALLOWED, NOOK_TENANCY_DEDICATED } nook_tenancy;
typedef enum { NOOK_LEVEL_NONE, NOOK_LEVEL_BEST_EFFORT, NOOK_LEVEL_REQUIRED } nook_level; /* auditability, secrets */
typedef enum { NOOK_CLEANUP_BEST_EFFORT, NOOK_CLEANUP_GUARANTEE_REQUIRED } nook_cleanup_guarantee;
typedef enum { NOOK_RESIDENCY_ANY, NOOK_RESIDENCY_LOCAL_ONLY, NOOK_RESIDENCY_REGION } nook_residency_tag;
typedef enum {
        NOOK_TRUST_LOCALITY,
        NOOK_TRUST_TENANCY,
        NOOK_TRUST_AUDITABILITY,
        NOOK_TRUST_CLEANUP,
        NOOK_TRUST_DATA_RESIDENCY,
        NOOK_TRUST_SECRET_ISOLATION
} nook_trust_field;

/* IsolationTrustRequirement: all six fields, in requests and in the report. */
typedef struct nook_trust {
        int locality;                /* nook_locality */
        int tenancy;                 /* nook_tenancy */
        int auditability;            /* nook_level */
        int cleanup;                 /* nook_cleanup_guarantee */
        nook_variant data_residency; /* nook_residency_tag; region: the JSON string */
        int secret_isolation;        /* nook_level */
} nook_trust;

/* The payload of fallback allow_if_package_and_policy_approve. */
typedef struct nook_fallback_allow {
        nook_array accepted_classes;               /* int (nook_isolation_class) */
        nook_array accepted_capability_downgrades; /* int (nook_capability_values) */
        nook_array accepted_trust_downgrades;      /* int (nook_trust_field) */
        char *required_policy_refs;                /* JSON */
} nook_fallback_allow;

typedef struct nook_requirement {
        int minimum_class; /* nook_isolation_class, -1 when absent */
        nook_trust trust;
        bool has_trust;
        nook_array preferred_adapters; /* char * */
        nook_variant fallback;         /* nook_fallback_tag; allow: nook_fallback_allow */
        nook_capability_set required_capabilities;
} nook_requirement;

typedef struct nook_image_request {
        char *image_ref;
        char *expected_digest;
        char *expected_architecture;
        char *credential_alias_ref;
} nook_image_request;

typedef struct nook_rootfs_request {
        char *rootfs_ref;
        bool read_only;
        char *writable_layer_ref;
} nook_rootfs_request;

typedef struct nook_resources {
        double cpus;
        uint64_t memory_mb;
        uint64_t timeout_ms;
        uint64_t process_count;
        uint64_t disk_mb; /* ext: what the writable layer may hold */
        bool has_disk_mb;
} nook_resources;

typedef struct nook_workspace {
        char *workspace_ref;
        int mode; /* nook_workspace_mode */
        char *mount_ref;
        char *destination_path;
} nook_workspace;

typedef enum { NOOK_MOUNT_KIND_BIND, NOOK_MOUNT_KIND_TMPFS } nook_mount_kind;

typedef struct nook_mount_ext {
        int type;      /* nook_mount_kind */
        char *options; /* tmpfs: "size=256m,mode=1777,noexec" */
} nook_mount_ext;

typedef struct nook_mount_policy {
        char *mount_ref;
        char *source_alias; /* required for binds; none for tmpfs */
        char *destination_path;
        int mode;              /* nook_mount_mode */
        char *expansion_audit; /* JSON */
        char *policy_refs;     /* JSON */
        nook_mount_ext nook;   /* ext */
        bool has_nook;
} nook_mount_policy;

typedef struct nook_filesystem {
        int root; /* nook_root_mode */
        nook_workspace workspace;
        nook_array mounts; /* nook_mount_policy */
        int symlink_policy;
        int single_file_mount_expansion;
} nook_filesystem;

typedef struct nook_net_allowlist {
        nook_array hosts; /* char * */
} nook_net_allowlist;

typedef struct nook_net_rules {
        nook_array rules; /* char *: egress rules (core/egress.h grammar) */
} nook_net_rules;

typedef struct nook_net_ports {
        nook_array ports; /* uint64_t: ports inside, 1..65535 */
} nook_net_ports;

typedef struct nook_net_relay {
        nook_array relay_refs; /* char *: operator aliases naming host unix sockets */
} nook_net_relay;

/* ext of a secret mount: the file's mode and owner inside (podman's --secret mode=,
 * uid=, gid=); absent: 0400, owned by the session's default process user */
typedef struct nook_secret_file_ext {
        uint64_t mode, uid, gid;
        bool has_mode, has_uid, has_gid;
} nook_secret_file_ext;

typedef struct nook_secret_mount {
        char *secret_ref;
        char *mount_ref;
        char *destination;          /* JSON: DestinationRef, id = the absolute path inside */
        char *redaction_policy_ref; /* JSON */
        nook_secret_file_ext nook;  /* ext */
        bool has_nook;
} nook_secret_mount;

typedef struct nook_env_secret {
        char *secret_ref;
        char *env_key;
        char *destination;          /* JSON */
        char *redaction_policy_ref; /* JSON */
} nook_env_secret;

typedef struct nook_secrets {
        int ambient;
        nook_array secret_mounts; /* nook_secret_mount */
        nook_array env_secrets;   /* nook_env_secret */
        bool teardown_required;
} nook_secrets;

typedef struct nook_detach_policy {
        bool allowed;
} nook_detach_policy;

typedef struct nook_ownership {
        int ownership_class;
        nook_detach_policy detach_policy;
        char *reclaim_policy;     /* JSON */
        char *on_parent_cancel;   /* JSON */
        char *on_parent_complete; /* JSON */
} nook_ownership;

typedef struct nook_stream_policy {
        int default_capture;
        uint64_t max_bytes;
        int truncation_policy;
        char *content_ref_mode;     /* JSON */
        char *redaction_policy_ref; /* JSON */
} nook_stream_policy;

typedef struct nook_io_policy {
        nook_stream_policy stdout_policy; /* "stdout" */
        nook_stream_policy stderr_policy; /* "stderr" */
} nook_io_policy;

/* IsolationAdapterRequirement: an adapter is accepted when it provides this class. */
typedef struct nook_adapter_requirement {
        int required_class; /* nook_isolation_class */
} nook_adapter_requirement;

typedef struct nook_environment_spec {
        char *environment_id;
        char *kind; /* JSON */
        nook_requirement requirement;
        bool has_requirement;
        nook_image_request image;
        bool has_image;
        nook_rootfs_request rootfs;
        bool has_rootfs;
        nook_resources resources;
        nook_filesystem filesystem;
        nook_variant network; /* nook_network_tag */
        nook_secrets secrets;
        char *lifecycle; /* JSON */
        nook_ownership ownership;
        nook_array accepted_adapters; /* nook_adapter_requirement */
        nook_io_policy io_policy;
        char *stats_policy; /* JSON */
} nook_environment_spec;

typedef struct nook_environment {
        char *environment_id;
        char *requirement_ref; /* JSON */
        char *sidecar_ref;     /* JSON */
        nook_environment_spec spec;
        char *source;                      /* JSON */
        char *destination;                 /* JSON */
        char *policy_refs;                 /* JSON */
        char *runtime_package_fingerprint; /* JSON */
} nook_environment;

/* ---- process ---- */

typedef struct nook_env_entry {
        char *name;
        char *value_ref;
        char *redacted_value;
        bool raw_value_present;
} nook_env_entry;

typedef enum { NOOK_SECCOMP_DEFAULT, NOOK_SECCOMP_UNCONFINED, NOOK_SECCOMP_PROFILE } nook_seccomp_mode;

struct nook_seccomp_profile;

typedef struct nook_seccomp_choice {
        int mode;                             /* nook_seccomp_mode */
        struct nook_seccomp_profile *profile; /* PROFILE: parsed OCI profile */
        char *text;                           /* PROFILE: its JSON, for encoding back */
} nook_seccomp_choice;

typedef struct nook_process_ext {
        uint64_t tty_rows, tty_cols;
        bool stdin_open; /* stdin is a pipe the caller writes through stream_io */
        /* "default" (absent), "unconfined", or an OCI seccomp profile object */
        nook_seccomp_choice seccomp;
        bool allow_nested_userns;
        /* the capabilities the process keeps, "CHOWN,KILL" (a subset of podman's default
         * set, SECURITY.md S9; "" none), or NULL for the whole default set */
        char *capabilities;
} nook_process_ext;

typedef struct nook_process_spec {
        char *process_id;
        nook_array argv; /* char * */
        char *cwd;
        nook_array env; /* nook_env_entry */
        char *user;     /* JSON */
        int terminal_mode;
        uint64_t timeout_ms;
        bool has_timeout_ms;
        nook_resources rlimits; /* the crate's ResourceLimits for this process; 0: no limit of that kind */
        bool has_rlimits;
        char *posix_rlimits;     /* ext JSON: named setrlimit(2) limits */
        nook_variant stdin_spec; /* "stdin": nook_stdin_tag; content_ref payload raw */
        nook_stream_policy stdout_policy;
        bool has_stdout_policy;
        nook_stream_policy stderr_policy;
        bool has_stderr_policy;
        char *stats_policy;     /* JSON */
        char *ownership;        /* JSON */
        nook_strmap env_values; /* ext, secret-grade: values never journaled */
        nook_process_ext nook;  /* ext; zeroed when absent (rows/cols 0 mean 24x80) */
        bool has_nook;
        /* Derived while validating (not JSON fields): `user` and `posix_rlimits` as the
         * adapter needs them. */
        struct {
                bool set;
                bool numeric; /* uid (and gid when has_gid) given as numbers */
                bool has_gid;
                uint32_t uid, gid;
                char name[64];  /* user name to look up in the root's /etc/passwd */
                char group[64]; /* group name, or "" */
        } user_parsed;
        struct {
                int resource; /* RLIMIT_* */
                uint64_t soft, hard;
        } rlimit_parsed[16];
        size_t n_rlimits;
} nook_process_spec;

typedef struct nook_effect_intent {
        char *effect_id;
        char *kind;        /* JSON */
        char *subject_ref; /* JSON */
        char *source;      /* JSON */
        char *destination; /* JSON */
        char *policy_refs; /* JSON */
        char *idempotency_key;
        char *dedupe_key;
        char *content_refs; /* JSON */
        char *redacted_summary;
} nook_effect_intent;

/* ---- requests ---- */

typedef struct nook_empty_req {
        char *idempotency_key;
} nook_empty_req;

/* ext "nook" object of environment calls: how the session is built (CLI flags). */
typedef enum { NOOK_IDENTITY_AUTO, NOOK_IDENTITY_ROOT, NOOK_IDENTITY_KEEP_ID, NOOK_IDENTITY_SUBUID } nook_identity;
/* auto: what spec.network asks (disabled -> none; allowlist, egress_scoped,
 * exposed_ports -> slirp4netns); the others are the operator's explicit choice. */
typedef enum { NOOK_NETMODE_AUTO, NOOK_NETMODE_NONE, NOOK_NETMODE_HOST, NOOK_NETMODE_SLIRP4NETNS } nook_netmode;

/* One published port (-p [IP:]HOSTPORT:PORT[/PROTO]); host_ip "" means 127.0.0.1 (S28). */
typedef struct nook_port_map {
        char *host_ip;
        uint64_t host_port; /* 0: the same as container_port */
        uint64_t container_port;
        int protocol; /* 0 tcp, 1 udp */
} nook_port_map;

typedef struct nook_session_ext {
        int identity;             /* nook_identity */
        int network;              /* nook_netmode; "host" is an explicit downgrade */
        nook_array ports;         /* nook_port_map */
        nook_array dns;           /* char *: IPv4 resolvers (IP or IP:PORT) */
        nook_array add_hosts;     /* char *: "NAME:IPv4" lines for /etc/hosts */
        bool allow_host_loopback; /* slirp4netns: 10.0.2.2 reaches the host's 127.0.0.1 */
        char *hostname;
        char *name;           /* a person's name for the session (CLI --name) */
        bool owned_by_caller; /* the session ends with the calling process (nook gc) */
        nook_array labels;    /* char *: "KEY=VALUE" (CLI --label), kept in the session record */
} nook_session_ext;

typedef struct nook_env_req { /* prepare_session, resolve_mounts, configure_network, prepare_environment, detach */
        nook_environment environment;
        nook_session_ext nook; /* ext; zeroed (auto identity, no network) when absent */
        bool has_nook;
        char *idempotency_key;
} nook_env_req;

typedef struct nook_resolve_image_req {
        nook_image_request image;
        char *idempotency_key;
} nook_resolve_image_req;

typedef struct nook_rootfs_ext {
        bool rootfs_rw; /* bind the directory read-write instead of under a writable layer */
        char *driver;   /* image roots: auto (default), overlay, fuse-overlayfs, copy */
} nook_rootfs_ext;

typedef struct nook_prepare_rootfs_req {
        nook_rootfs_request rootfs;
        nook_rootfs_ext nook; /* ext */
        bool has_nook;
        char *environment_id; /* ext */
        char *idempotency_key;
} nook_prepare_rootfs_req;

typedef struct nook_secret_source {
        char *file;  /* path on the caller's side */
        char *env;   /* variable of the caller */
        uint64_t fd; /* fd of the caller */
        bool has_fd;
        char *value; /* the value itself */
} nook_secret_source;

typedef struct nook_prepare_secrets_req {
        nook_environment environment;
        nook_array secret_values; /* nook_named_secret, from the ext object map */
        char *idempotency_key;
} nook_prepare_secrets_req;

typedef struct nook_named_secret {
        char *secret_ref;
        nook_secret_source source;
} nook_named_secret;

typedef struct nook_start_process_req {
        nook_environment environment;
        nook_process_spec process;
        nook_effect_intent effect_intent;
        uint64_t wait_ms;
        bool has_wait_ms;
        char *idempotency_key;
} nook_start_process_req;

typedef struct nook_stream_io_req {
        char *process_ref;
        int stream;
        uint64_t cursor;
        bool has_cursor;
        uint64_t max_bytes;
        bool has_max_bytes;
        char *data;
        int encoding;
        bool close;
        uint64_t wait_ms;
        char *idempotency_key;
} nook_stream_io_req;

typedef struct nook_signal_req {
        char *process_ref;
        int signal;
        uint64_t grace_ms;
        char *idempotency_key;
} nook_signal_req;

typedef struct nook_process_ref_req { /* collect_stats */
        char *process_ref;
        char *idempotency_key;
} nook_process_ref_req;

typedef struct nook_cleanup_req {
        nook_environment environment;
        char *cleanup_plan_ref;
        char *idempotency_key;
} nook_cleanup_req;

typedef struct nook_reclaim_req {
        char *ticket_ref;
        char *idempotency_key;
} nook_reclaim_req;

typedef struct nook_read_content_req { /* ext */
        char *content_ref;
        uint64_t max_bytes;
        bool has_max_bytes;
        char *idempotency_key;
} nook_read_content_req;

/* ---- results ---- */

typedef struct nook_ref_result { /* results that are a bare string */
        char *ref;
} nook_ref_result;

typedef struct nook_health_degraded {
        char *reason;
} nook_health_degraded;

typedef struct nook_health_unsupported {
        nook_array missing_prerequisites; /* char * */
} nook_health_unsupported;

typedef struct nook_platform {
        char *platform;
        char *os;
        char *cpu_architecture;
        bool emulation_supported;
} nook_platform;

typedef struct nook_finding_result {
        char *name;
        char *title;
        bool ok;
        bool required;
        char *detail;
        char *remedy;
} nook_finding_result;

typedef struct nook_capability_report {
        char *report_ref;
        char *adapter_ref;
        char *adapter_kind;
        char *adapter_version;
        char *capability_version;
        nook_variant health;          /* nook_health_tag */
        nook_array supported_classes; /* int (nook_isolation_class) */
        nook_platform platform;
        nook_capability_set capabilities;
        nook_trust trust;                    /* what this host offers */
        nook_array unsupported_requirements; /* char * */
        int log_retention;                   /* RetentionClass of the journal */
        nook_array findings;                 /* nook_finding_result (ext) */
} nook_capability_report;

typedef struct nook_resolve_image_result {
        char *image_ref;
        char *digest;
        char *redacted_credential_alias;
        char *nook; /* ext JSON: {"entrypoint", "cmd", "architecture"} of the image */
} nook_resolve_image_result;

typedef struct nook_mount_ref {
        char *mount_ref;
        char *source_alias;
        char *destination_path;
        int mode;
        char *expansion_audit;
} nook_mount_ref;

typedef struct nook_mount_plan {
        nook_array mounts;                   /* char *: the mount refs, in mount order */
        nook_array expanded_exposure_audits; /* char * */
        nook_array nook;                     /* ext nook_mount_ref: each mount's alias, destination, mode, audit */
} nook_mount_plan;

typedef struct nook_secrets_result {
        nook_array secret_mount_refs; /* char * */
        bool teardown_required;
} nook_secrets_result;

typedef struct nook_io_frame {
        char *stream_ref;
        int stream;
        uint64_t cursor;
        uint64_t byte_count;
        char *content_hash;
        nook_array content_refs; /* char * */
        bool raw_content_present;
        bool truncated;
        char *redacted_summary;
        char *data;     /* ext */
        char *encoding; /* ext: "base64" when data is not UTF-8 */
        bool eof;       /* ext */
        bool has_eof;
        uint64_t exit_code; /* ext */
        bool has_exit_code;
} nook_io_frame;

/* ext: how each limit of a started process is enforced here (S34): "cgroup" (a
 * delegated cgroup v2), "watchdog" (the holder counts the session), "tmpfs" (a tmpfs
 * size), "rlimit", "monitor", "not_enforced", or "none" (no limit asked). */
typedef struct nook_limits_report {
        char *memory;
        char *process_count;
        char *cpus;
        char *disk;
        char *timeout;
        char *output;
} nook_limits_report;

typedef struct nook_start_result {
        char *process_ref;
        char *adapter_session_ref;
        int terminal_status;
        char *external_operation_id;
        nook_array io_frames; /* nook_io_frame */
        char *redacted_summary;
        nook_limits_report limits; /* ext */
        bool has_limits;
} nook_start_result;

typedef struct nook_signal_result {
        char *process_ref;
        int signal;
        bool delivered;
        char *redacted_summary;
} nook_signal_result;

typedef struct nook_stats_result {
        char *snapshot_ref;
        char *process_ref;
        uint64_t cpu_millis;
        bool has_cpu_millis;
        uint64_t memory_bytes;
        bool has_memory_bytes;
        uint64_t process_count;
        bool has_process_count;
        uint64_t filesystem_bytes;
        bool has_filesystem_bytes;
        uint64_t network_bytes;
        bool has_network_bytes;
        uint64_t exit_code;
        bool has_exit_code;
        char *redacted_summary;
} nook_stats_result;

typedef struct nook_cleanup_result {
        char *cleanup_plan_ref;
        int status; /* nook_cleanup_status */
        char *external_operation_id;
        char *redacted_summary;
} nook_cleanup_result;

typedef struct nook_detach_result {
        char *host_ack_ref;
        char *redacted_summary;
} nook_detach_result;

typedef struct nook_reclaim_result {
        char *ticket_ref;
        int status; /* nook_cleanup_status */
        char *redacted_summary;
} nook_reclaim_result;

typedef struct nook_content_result { /* ext read_content */
        char *content_ref;
        uint64_t byte_count;
        char *content_hash;
        char *data;
        char *encoding; /* "base64" when data is not UTF-8 */
} nook_content_result;

/* ---- schemas ---- */

extern const nook_schema nook_schema_environment;
extern const nook_schema nook_schema_environment_spec;
extern const nook_schema nook_schema_process_spec;
extern const nook_schema nook_schema_effect_intent;
extern const nook_schema nook_schema_image_request;
extern const nook_schema nook_schema_rootfs_request;

extern const nook_schema nook_schema_empty_req;
extern const nook_schema nook_schema_env_req;
extern const nook_schema nook_schema_resolve_image_req;
extern const nook_schema nook_schema_prepare_rootfs_req;
extern const nook_schema nook_schema_prepare_secrets_req;
extern const nook_schema nook_schema_start_process_req;
extern const nook_schema nook_schema_stream_io_req;
extern const nook_schema nook_schema_signal_req;
extern const nook_schema nook_schema_process_ref_req;
extern const nook_schema nook_schema_cleanup_req;
extern const nook_schema nook_schema_reclaim_req;
extern const nook_schema nook_schema_read_content_req;

extern const nook_schema nook_schema_capability_report;
extern const nook_schema nook_schema_resolve_image_result;
extern const nook_schema nook_schema_mount_plan;
extern const nook_schema nook_schema_secrets_result;
extern const nook_schema nook_schema_io_frame;
extern const nook_schema nook_schema_start_result;
extern const nook_schema nook_schema_signal_result;
extern const nook_schema nook_schema_stats_result;
extern const nook_schema nook_schema_cleanup_result;
extern const nook_schema nook_schema_detach_result;
extern const nook_schema nook_schema_reclaim_result;
extern const nook_schema nook_schema_content_result;

#endif
