/* nook userns — the rootless adapter's operations, one stage file each, gathered into
 * nook_userns_adapter by adapter.c. */
#ifndef NOOK_USERNS_STAGES_H
#define NOOK_USERNS_STAGES_H

#include "core/adapter.h"

int nook_userns_prepare_session(void *state, nook_call_ctx *ctx, const nook_env_req *req, nook_ref_result *ret,
                                nook_error **err);
int nook_userns_resolve_mounts(void *state, nook_call_ctx *ctx, const nook_env_req *req, nook_mount_plan *ret,
                               nook_error **err);
int nook_userns_resolve_image(void *state, nook_call_ctx *ctx, const nook_resolve_image_req *req,
                              nook_resolve_image_result *ret, nook_error **err);
int nook_userns_image(void *state, nook_call_ctx *ctx, int verb, const nook_import_options *o, const char *arg,
                      char **ret_json, nook_error **err);
int nook_userns_prepare_rootfs(void *state, nook_call_ctx *ctx, const nook_prepare_rootfs_req *req,
                               nook_ref_result *ret, nook_error **err);
int nook_userns_configure_network(void *state, nook_call_ctx *ctx, const nook_env_req *req, nook_ref_result *ret,
                                  nook_error **err);
int nook_userns_prepare_secrets(void *state, nook_call_ctx *ctx, const nook_prepare_secrets_req *req,
                                nook_secrets_result *ret, nook_error **err);
int nook_userns_prepare_environment(void *state, nook_call_ctx *ctx, const nook_env_req *req, nook_ref_result *ret,
                                    nook_error **err);
int nook_userns_start_process(void *state, nook_call_ctx *ctx, const nook_start_process_req *req,
                              nook_start_result *ret, nook_error **err);
int nook_userns_stream_io(void *state, nook_call_ctx *ctx, const nook_stream_io_req *req, nook_io_frame *ret,
                          nook_error **err);
int nook_userns_read_content(void *state, nook_call_ctx *ctx, const nook_read_content_req *req,
                             nook_content_result *ret, nook_error **err);
int nook_userns_signal_process(void *state, nook_call_ctx *ctx, const nook_signal_req *req, nook_signal_result *ret,
                               nook_error **err);
int nook_userns_collect_stats(void *state, nook_call_ctx *ctx, const nook_process_ref_req *req, nook_stats_result *ret,
                              nook_error **err);
int nook_userns_cleanup(void *state, nook_call_ctx *ctx, const nook_cleanup_req *req, nook_cleanup_result *ret,
                        nook_error **err);

int nook_userns_detach(void *state, nook_call_ctx *ctx, const nook_env_req *req, nook_detach_result *ret,
                       nook_error **err);
int nook_userns_reclaim(void *state, nook_call_ctx *ctx, const nook_reclaim_req *req, nook_reclaim_result *ret,
                        nook_error **err);
int nook_userns_gc(void *state, nook_call_ctx *ctx, unsigned *ret_reclaimed, char **ret_summary, nook_error **err);
int nook_userns_sessions(void *state, nook_call_ctx *ctx, nook_session_visit_fn fn, void *userdata, nook_error **err);
int nook_userns_processes(void *state, nook_call_ctx *ctx, const char *environment_id, nook_process_visit_fn fn,
                          void *userdata, nook_error **err);
int nook_userns_image_save(void *state, nook_call_ctx *ctx, const nook_save_options *o, char **ret_json,
                           nook_error **err);
int nook_userns_session_root(void *state, nook_call_ctx *ctx, const char *environment_id, int *ret_root_fd,
                             int *ret_userns_fd, nook_error **err);
int nook_userns_process_log(void *state, nook_call_ctx *ctx, const char *ref, int stream, int *ret_fd,
                            nook_error **err);
int nook_userns_process_wait(void *state, nook_call_ctx *ctx, const char *ref, int timeout_ms, int *ret_exit_code,
                             nook_error **err);
int nook_userns_process_write(void *state, nook_call_ctx *ctx, const char *ref, const void *data, size_t len,
                              bool close_stdin, nook_error **err);
int nook_userns_process_resize(void *state, nook_call_ctx *ctx, const char *ref, unsigned rows, unsigned cols,
                               nook_error **err);

#endif
