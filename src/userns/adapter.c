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
        { "egress_allowlist", NOOK_FACT_USERNS | NOOK_FACT_NETNS | NOOK_FACT_NFTABLES, false },
        { "secret_isolation", NOOK_FACT_USERNS | NOOK_FACT_MOUNTNS, false },
        { "secret_mount", NOOK_FACT_USERNS | NOOK_FACT_MOUNTNS, false },
        { "secret_redaction", NOOK_FACT_USERNS, false },
        { "process_timeout", NOOK_FACT_USERNS | NOOK_FACT_PIDNS | NOOK_FACT_PIDFD, true },
        { "process_signal", NOOK_FACT_USERNS | NOOK_FACT_PIDNS | NOOK_FACT_PIDFD, true },
        { "process_rlimits", NOOK_FACT_USERNS | NOOK_FACT_PIDNS, true },
        { "content_ref_io", NOOK_FACT_USERNS | NOOK_FACT_PIDNS, true },
        { "io_redaction", NOOK_FACT_USERNS | NOOK_FACT_PIDNS, false },
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
/* JSON results never carry host paths (CONTRACT.md "Errors"): the dirs nook uses, the
 * home directory and the user-specific ancestors of the dirs are named, not spelled
 * out ("<data dir>/.."). */
typedef struct subst {
        char *path;
        char *name;
} subst;

static bool shared_dir(const char *p) {
        static const char *const shared[] = { "/", "/tmp", "/var/tmp", "/var", "/home", "/run", "/run/user", "/usr" };
        for (size_t i = 0; i < ELEMENTSOF(shared); i++)
                if (strcmp(p, shared[i]) == 0)
                        return true;
        return false;
}

static size_t add_with_ancestors(subst *out, size_t n, size_t max, const char *path, const char *name) {
        if (!path || path[0] != '/' || n >= max)
                return n;
        char *p = strdup(path);
        char *label = strdup(name);
        for (; p && label && !shared_dir(p) && n < max;) {
                out[n++] = (subst){ .path = p, .name = label };
                char *slash = strrchr(p, '/');
                if (!slash)
                        return n;
                p = strndup(p, slash == p ? 1 : (size_t)(slash - p));
                char *up = NULL;
                label = asprintf(&up, "%s/..", label) < 0 ? NULL : up;
        }
        free(p);
        free(label);
        return n;
}

static int by_length_desc(const void *a, const void *b) {
        size_t la = strlen(((const subst *)a)->path), lb = strlen(((const subst *)b)->path);
        return la < lb ? 1 : la > lb ? -1 : 0;
}

static char *scrub_paths(const char *text, const nook_adapter_config *c) {
        if (!text)
                return NULL;
        subst subs[48];
        size_t n = add_with_ancestors(subs, 0, ELEMENTSOF(subs), c->data_dir, "<data dir>");
        n = add_with_ancestors(subs, n, ELEMENTSOF(subs), c->run_dir, "<run dir>");
        const char *home = getenv("HOME");
        if (home && home[0] == '/' && !shared_dir(home) && n < ELEMENTSOF(subs))
                subs[n++] = (subst){ .path = strdup(home), .name = strdup("~") };
        qsort(subs, n, sizeof(subst), by_length_desc);
        nook_strbuf b = NOOK_STRBUF_INIT;
        for (const char *p = text; *p;) {
                size_t i = 0;
                for (; i < n; i++) {
                        size_t len = subs[i].path ? strlen(subs[i].path) : 0;
                        /* whole components only: "/tmp/ab" must not match inside "/tmp/abc" */
                        if (len && subs[i].name && strncmp(p, subs[i].path, len) == 0 &&
                            (p[len] == 0 || p[len] == '/' || p[len] == ' ' || p[len] == ')' || p[len] == ',' ||
                             p[len] == ':' || p[len] == ';')) {
                                nook_strbuf_puts(&b, subs[i].name);
                                p += len;
                                break;
                        }
                }
                if (i == n)
                        nook_strbuf_putn(&b, p++, 1);
        }
        for (size_t i = 0; i < n; i++) {
                free(subs[i].path);
                free(subs[i].name);
        }
        return nook_strbuf_steal(&b);
}

static int push_string(nook_array *a, const char *s, nook_error **err) {
        char **items = realloc(a->items, (a->n + 1) * sizeof(char *));
        if (!items)
                return nook_error_oom(err);
        a->items = items;
        if (!(items[a->n] = strdup(s)))
                return nook_error_oom(err);
        a->n++;
        return 0;
}

static int fill_findings(const nook_probe *p, const nook_adapter_config *c, nook_capability_report *ret,
                         nook_error **err) {
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
                o->detail = scrub_paths(f->detail ? f->detail : "", c);
                o->remedy = f->remedy ? scrub_paths(f->remedy, c) : NULL;
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
                        if (push_string(&u->missing_prerequisites, *m, err) < 0)
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

static int fill_capabilities(const nook_probe *p, nook_capability_report *ret, nook_error **err) {
        for (size_t i = 0; i < ELEMENTSOF(capability_table); i++) {
                bool host = (p->facts & capability_table[i].needs) == capability_table[i].needs;
                nook_array *dst = host && capability_table[i].implemented ? &ret->capabilities.capabilities
                                                                          : &ret->unsupported_requirements;
                if (push_string(dst, capability_table[i].name, err) < 0)
                        return -ENOMEM;
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
        nook_probe_options opts = { .run_dir = c->run_dir, .data_dir = c->data_dir };
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
        ret->trust = strdup("\"unprivileged_user_namespaces\"");
        ret->log_retention = strdup("{\"journal\":\"local\"}");
        if (!ret->report_ref || !ret->adapter_ref || !ret->adapter_kind || !ret->adapter_version ||
            !ret->capability_version || !ret->platform.platform || !ret->platform.os ||
            !ret->platform.cpu_architecture || !ret->trust || !ret->log_retention)
                return nook_error_oom(err);
        if ((r = fill_health(p, ret, err)) < 0 || (r = fill_capabilities(p, ret, err)) < 0)
                return r;
        return fill_findings(p, c, ret, err);
}

#define NOT_YET(op, req_t, res_t, issue)                                                                          \
        static int userns_##op(void *state, nook_call_ctx *ctx, const req_t *req, res_t *ret, nook_error **err) { \
                return nook_error_not_implemented(err, #op " (" issue ")");                                       \
        }

NOT_YET(prepare_secrets, nook_prepare_secrets_req, nook_secrets_result, "secrets")

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
        .prepare_secrets = userns_prepare_secrets,
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
        .gc = nook_userns_gc,
        .image = nook_userns_image,
};
