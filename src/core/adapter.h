/* nook core — the adapter trait: 16 typed operations (plus the ext read_content), one
 * adapter per runtime.  The core validates, journals and encodes; the adapter acts.
 * Adding an adapter touches no core file beyond its registration in runtime.c. */
#ifndef NOOK_CORE_ADAPTER_H
#define NOOK_CORE_ADAPTER_H

#include <stdint.h>

#include "core/contract.h"
#include "core/journal.h"
#include "nook/caps.h"
#include "nook/image.h"
#include "nook/session.h"

typedef struct nook_adapter_config {
        const char *data_dir;
        const char *run_dir;
        const char *data_dir_origin; /* where data_dir came from: "$NOOK_STORAGE", ... (static text) */
        const char *run_dir_origin;  /* where run_dir came from: "$XDG_RUNTIME_DIR/nook", ... */
        const char *const *aliases;  /* NULL-terminated "NAME=PATH": the operator's host paths */
        /* NULL-terminated "REF=SOURCE" (file:PATH, env:VAR, fd:N, store:NAME): where the
         * operator keeps secret values (prepare_secrets) */
        const char *const *secret_sources;
} nook_adapter_config;

/* What every operation gets besides its request. */
typedef struct nook_call_ctx {
        nook_journal *journal; /* open journal for journaled calls (record resources first), else NULL */
        int64_t call_id;       /* the call's journal row, 0 when not journaled */
        const nook_adapter_config *config;
        const char *downgrade; /* prepare_session: what the fallback accepted this host lacks, or NULL */
        char *note;            /* set (malloc'd) by the adapter: what this call gave up, journaled and
                                  returned by nook_runtime_last_note (a secret too short to mask) */
        bool host_paths;       /* capability_report for people (nook_runtime_probe): findings keep host paths;
                                  otherwise they are scrubbed (CONTRACT.md "Errors") */
} nook_call_ctx;

#define NOOK_OP(name, req_t, res_t) \
        int (*name)(void *state, nook_call_ctx *ctx, const req_t *req, res_t *ret, nook_error **err)

typedef struct nook_adapter_ops {
        const char *name;        /* "userns", "fake" */
        const char *runtime_ref; /* the contract's runtime_ref: "nook.userns" */
        int (*open)(const nook_adapter_config *config, void **ret_state, nook_error **err);
        void (*close)(void *state);
        NOOK_OP(capability_report, nook_empty_req, nook_capability_report);
        NOOK_OP(prepare_session, nook_env_req, nook_ref_result);
        NOOK_OP(resolve_image, nook_resolve_image_req, nook_resolve_image_result);
        NOOK_OP(prepare_rootfs, nook_prepare_rootfs_req, nook_ref_result);
        NOOK_OP(resolve_mounts, nook_env_req, nook_mount_plan);
        NOOK_OP(configure_network, nook_env_req, nook_ref_result);
        NOOK_OP(prepare_secrets, nook_prepare_secrets_req, nook_secrets_result);
        NOOK_OP(prepare_environment, nook_env_req, nook_ref_result);
        NOOK_OP(start_process, nook_start_process_req, nook_start_result);
        NOOK_OP(stream_io, nook_stream_io_req, nook_io_frame);
        NOOK_OP(signal_process, nook_signal_req, nook_signal_result);
        NOOK_OP(collect_stats, nook_process_ref_req, nook_stats_result);
        NOOK_OP(cleanup, nook_cleanup_req, nook_cleanup_result);
        NOOK_OP(detach, nook_env_req, nook_detach_result);
        NOOK_OP(reclaim, nook_reclaim_req, nook_reclaim_result);
        NOOK_OP(read_content, nook_read_content_req, nook_content_result);
        /* Beyond the contract, for nook/session.h; NULL when the adapter has none. */
        int (*sessions)(void *state, nook_call_ctx *ctx, nook_session_visit_fn fn, void *userdata, nook_error **err);
        int (*processes)(void *state, nook_call_ctx *ctx, const char *environment_id, nook_process_visit_fn fn,
                         void *userdata, nook_error **err);
        int (*process_log)(void *state, nook_call_ctx *ctx, const char *ref, int stream, int *ret_fd, nook_error **err);
        int (*process_wait)(void *state, nook_call_ctx *ctx, const char *ref, int timeout_ms, int *ret_exit_code,
                            nook_error **err);
        int (*process_write)(void *state, nook_call_ctx *ctx, const char *ref, const void *data, size_t len,
                             bool close_stdin, nook_error **err);
        int (*process_resize)(void *state, nook_call_ctx *ctx, const char *ref, unsigned rows, unsigned cols,
                              nook_error **err);
        /* an O_PATH fd of the live session's root (nook cp) */
        int (*session_root)(void *state, nook_call_ctx *ctx, const char *environment_id, int *ret_root_fd,
                            int *ret_userns_fd, nook_error **err);
        int (*gc)(void *state, nook_call_ctx *ctx, unsigned *ret_reclaimed, char **ret_summary, nook_error **err);
        /* nook/image.h: verb NOOK_IMAGE_*; o for import, arg the image for inspect and rm */
        int (*image)(void *state, nook_call_ctx *ctx, int verb, const nook_import_options *o, const char *arg,
                     char **ret_json, nook_error **err);
        int (*image_save)(void *state, nook_call_ctx *ctx, const nook_save_options *o, char **ret_json,
                          nook_error **err);
} nook_adapter_ops;

enum { NOOK_IMAGE_IMPORT, NOOK_IMAGE_LIST, NOOK_IMAGE_INSPECT, NOOK_IMAGE_REMOVE, NOOK_IMAGE_PRUNE };

/* The runtime over the adapter ops (core/runtime.c): what nook_runtime_open() (src/lib,
 * which picks ops from its table of adapters) calls.  The core names no adapter. */
int nook_runtime_open_ops(const nook_adapter_ops *ops, const nook_options *opts, nook_runtime **ret, nook_error **err);

#endif
