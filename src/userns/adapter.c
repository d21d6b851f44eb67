/* nook userns — the rootless adapter's operations table and capability_report (the
 * probe is caps.c); each stage lives in its own file (DESIGN.md "Layers"); the stages
 * not built yet answer a Classified IsolationFailure "not implemented". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "config.h"
#include "userns/adapter.h"
#include "userns/caps.h"
#include "userns/stages.h"
#include "util/random.h"
#include "util/scrub.h"
#include "util/strbuf.h"

#define ADAPTER_REF "nook.userns"

/* Contract capability → host facts it needs, and whether nook implements it yet.  A
 * capability is reported only when both hold: the report never promises what this
 * build cannot do. */
static const struct {
        const char *name;
        uint64_t needs;
        bool implemented;
} capability_table[] = {
        { "read_only_root", NOOK_FACT_USERNS | NOOK_FACT_MOUNTNS, true },
        { "writable_layer", NOOK_FACT_USERNS | NOOK_FACT_MOUNTNS | NOOK_FACT_OVERLAY, true },
        { "mount_read_only_enforcement", NOOK_FACT_USERNS | NOOK_FACT_MOUNTNS, true },
        { "single_file_mount_expansion_audit", NOOK_FACT_USERNS | NOOK_FACT_MOUNTNS, true },
        { "no_network_guarantee", NOOK_FACT_USERNS | NOOK_FACT_NETNS, true },
        { "egress_allowlist",
          NOOK_FACT_USERNS | NOOK_FACT_NETNS | NOOK_FACT_NFTABLES | NOOK_FACT_SLIRP4NETNS | NOOK_FACT_TUN, true },
        { "secret_isolation", NOOK_FACT_USERNS | NOOK_FACT_MOUNTNS, true },
        { "secret_mount", NOOK_FACT_USERNS | NOOK_FACT_MOUNTNS, true },
        { "secret_redaction", NOOK_FACT_USERNS | NOOK_FACT_PIDNS, true },
        { "process_timeout", NOOK_FACT_USERNS | NOOK_FACT_PIDNS | NOOK_FACT_PIDFD, true },
        { "process_signal", NOOK_FACT_USERNS | NOOK_FACT_PIDNS | NOOK_FACT_PIDFD, true },
        { "process_rlimits", NOOK_FACT_USERNS | NOOK_FACT_PIDNS, true },
        { "content_ref_io", NOOK_FACT_USERNS | NOOK_FACT_PIDNS, true },
        /* output reaches the host only as the io policy allows, with the session's
         * secret values masked by the monitor before a byte is kept */
        { "io_redaction", NOOK_FACT_USERNS | NOOK_FACT_PIDNS, true },
        { "process_stats", NOOK_FACT_USERNS | NOOK_FACT_PIDNS | NOOK_FACT_PROCFS_MOUNT, true },
        { "cleanup", NOOK_FACT_USERNS | NOOK_FACT_PIDFD, true },
        { "detach", NOOK_FACT_USERNS, true },
        { "reclaim", NOOK_FACT_USERNS | NOOK_FACT_PIDFD, true },
        { "audit_log", NOOK_FACT_DATA_DIR, true },
};

static int userns_open(const nook_adapter_config *config, void **ret_state, nook_error **err) {
        *ret_state = NULL;
        return 0;
}

static void userns_close(void *state) {
}

static char *random_ref(const char *prefix) {
        char hex[25];
        char *s = NULL;
        if (nook_random_hex_into(hex, 12) < 0 || asprintf(&s, "%s-%s", prefix, hex) < 0)
                return NULL;
        return s;
}
static char *finding_text(const char *s, const nook_adapter_config *c, bool host_paths) {
        return host_paths ? strdup(s) : nook_scrub_paths(s, c->data_dir, c->run_dir);
}

static int fill_findings(const nook_probe *p, const nook_adapter_config *c, bool host_paths,
                         nook_capability_report *ret, nook_error **err) {
        ret->findings.items = calloc(p->n_findings + 1, sizeof(nook_finding_result));
        if (!ret->findings.items)
                return nook_error_oom(err);
        for (size_t i = 0; i < p->n_findings; i++) {
                const nook_probe_finding *f = &p->findings[i];
                nook_finding_result *o = &((nook_finding_result *)ret->findings.items)[i];
                o->name = strdup(f->name);
                o->title = f->title ? strdup(f->title) : NULL;
                o->ok = f->ok;
                o->required = f->required;
                o->detail = finding_text(f->detail ? f->detail : "", c, host_paths);
                o->remedy = f->remedy ? finding_text(f->remedy, c, host_paths) : NULL;
                ret->findings.n = i + 1;
                if (!o->name || !o->detail || (f->remedy && !o->remedy))
                        return nook_error_oom(err);
        }
        return 0;
}

static int fill_health(const nook_probe *p, nook_capability_report *ret, nook_error **err) {
        if (p->missing && p->missing[0]) {
                nook_health_unsupported *u = calloc(1, sizeof(*u));
                if (!u)
                        return nook_error_oom(err);
                ret->health = (nook_variant){ .tag = NOOK_HEALTH_TAG_UNSUPPORTED_HOST, .data = u };
                for (char **m = p->missing; *m; m++)
                        if (nook_array_push_str(&u->missing_prerequisites, *m, err) < 0)
                                return -ENOMEM;
                return 0;
        }
        if (p->degraded_reason) {
                nook_health_degraded *d = calloc(1, sizeof(*d));
                if (!d || !(d->reason = strdup(p->degraded_reason))) {
                        free(d);
                        return nook_error_oom(err);
                }
                ret->health = (nook_variant){ .tag = NOOK_HEALTH_TAG_DEGRADED, .data = d };
                return 0;
        }
        ret->health = (nook_variant){ .tag = NOOK_HEALTH_TAG_HEALTHY };
        return 0;
}

static int capability_index(const char *name) {
        for (int i = 0; nook_capability_values[i]; i++)
                if (strcmp(nook_capability_values[i], name) == 0)
                        return i;
        return -1;
}

static int fill_capabilities(const nook_probe *p, nook_capability_report *ret, nook_error **err) {
        for (size_t i = 0; i < ELEMENTSOF(capability_table); i++) {
                bool host = (p->facts & capability_table[i].needs) == capability_table[i].needs;
                int r = host && capability_table[i].implemented
                                ? nook_array_push_int(&ret->capabilities.capabilities,
                                                      capability_index(capability_table[i].name), err)
                                : nook_array_push_str(&ret->unsupported_requirements, capability_table[i].name, err);
                if (r < 0)
                        return r;
        }
        if (p->facts & NOOK_FACT_USERNS) {
                ret->supported_classes.items = calloc(2, sizeof(int));
                if (!ret->supported_classes.items)
                        return nook_error_oom(err);
                ((int *)ret->supported_classes.items)[0] = NOOK_CLASS_SANDBOX;
                ((int *)ret->supported_classes.items)[1] = NOOK_CLASS_CONTAINER;
                ret->supported_classes.n = 2;
        }
        return 0;
}

static int userns_capability_report(void *state, nook_call_ctx *ctx, const nook_empty_req *req,
                                    nook_capability_report *ret, nook_error **err) {
        const nook_adapter_config *c = ctx->config;
        nook_probe_options opts = { .run_dir = c->run_dir,
                                    .data_dir = c->data_dir,
                                    .run_dir_origin = c->run_dir_origin,
                                    .data_dir_origin = c->data_dir_origin };
        _cleanup_(nook_probe_freep) nook_probe *p = NULL;
        int r = nook_caps_probe(&opts, &p, err);
        if (r < 0)
                return nook_error_prefix(err, r, "capability_report");
        struct utsname u;
        uname(&u);
        ret->report_ref = random_ref("report");
        ret->adapter_ref = strdup(ADAPTER_REF);
        ret->adapter_kind = strdup("os_sandbox");
        ret->adapter_version = strdup(NOOK_VERSION);
        ret->capability_version = strdup("1");
        ret->platform.platform = strdup("linux");
        ret->platform.os = strdup("linux");
        ret->platform.cpu_architecture = strdup(p->cpu_architecture ? p->cpu_architecture : u.machine);
        /* What nook offers, field by field: the sandbox runs on this machine, on a kernel
         * shared with its other users; every stage is journaled before it acts; cleanup
         * and gc remove what a session made, after any crash; no data leaves the
         * machine; secret values are held by the session's own holder (locked memory,
         * never on disk, masked from output), on a kernel shared with the machine's
         * other users: best effort, not the required isolation of a separate kernel. */
        ret->trust = (nook_trust){ .locality = NOOK_LOCALITY_LOCAL,
                                   .tenancy = NOOK_TENANCY_SHARED_ALLOWED,
                                   .auditability = NOOK_LEVEL_REQUIRED,
                                   .cleanup = NOOK_CLEANUP_GUARANTEE_REQUIRED,
                                   .data_residency = { .tag = NOOK_RESIDENCY_LOCAL_ONLY },
                                   .secret_isolation = NOOK_LEVEL_BEST_EFFORT };
        /* the journal stays in the data dir across sessions and reboots until pruned */
        ret->log_retention = NOOK_RETENTION_DURABLE;
        if (!ret->report_ref || !ret->adapter_ref || !ret->adapter_kind || !ret->adapter_version ||
            !ret->capability_version || !ret->platform.platform || !ret->platform.os || !ret->platform.cpu_architecture)
                return nook_error_oom(err);
        if ((r = fill_health(p, ret, err)) < 0 || (r = fill_capabilities(p, ret, err)) < 0)
                return r;
        return fill_findings(p, c, ctx->host_paths, ret, err);
}

const nook_adapter_ops nook_userns_adapter = {
        .name = "userns",
        .runtime_ref = ADAPTER_REF,
        .open = userns_open,
        .close = userns_close,
        .capability_report = userns_capability_report,
        .prepare_session = nook_userns_prepare_session,
        .resolve_image = nook_userns_resolve_image,
        .prepare_rootfs = nook_userns_prepare_rootfs,
        .resolve_mounts = nook_userns_resolve_mounts,
        .configure_network = nook_userns_configure_network,
        .prepare_secrets = nook_userns_prepare_secrets,
        .prepare_environment = nook_userns_prepare_environment,
        .start_process = nook_userns_start_process,
        .stream_io = nook_userns_stream_io,
        .signal_process = nook_userns_signal_process,
        .collect_stats = nook_userns_collect_stats,
        .cleanup = nook_userns_cleanup,
        .detach = nook_userns_detach,
        .reclaim = nook_userns_reclaim,
        .read_content = nook_userns_read_content,
        .sessions = nook_userns_sessions,
        .processes = nook_userns_processes,
        .process_log = nook_userns_process_log,
        .process_wait = nook_userns_process_wait,
        .process_write = nook_userns_process_write,
        .process_resize = nook_userns_process_resize,
        .session_root = nook_userns_session_root,
        .gc = nook_userns_gc,
        .image = nook_userns_image,
        .image_save = nook_userns_image_save,
};
