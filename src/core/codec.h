/* nook core — the call table: for each method, its request and result schemas, how
 * its idempotency key is found, and whether it is journaled; parsing a request text
 * into its typed struct and encoding a typed result. */
#ifndef NOOK_CORE_CODEC_H
#define NOOK_CORE_CODEC_H

#include <jansson.h>
#include <stdbool.h>

#include "core/contract.h"

typedef enum nook_method {
        NOOK_M_RUNTIME_REF,
        NOOK_M_CAPABILITY_REPORT,
        NOOK_M_PREPARE_SESSION,
        NOOK_M_RESOLVE_IMAGE,
        NOOK_M_PREPARE_ROOTFS,
        NOOK_M_RESOLVE_MOUNTS,
        NOOK_M_CONFIGURE_NETWORK,
        NOOK_M_PREPARE_SECRETS,
        NOOK_M_PREPARE_ENVIRONMENT,
        NOOK_M_START_PROCESS,
        NOOK_M_STREAM_IO,
        NOOK_M_SIGNAL_PROCESS,
        NOOK_M_COLLECT_STATS,
        NOOK_M_CLEANUP,
        NOOK_M_DETACH,
        NOOK_M_RECLAIM,
        NOOK_M_READ_CONTENT,
        NOOK_M_COUNT,
} nook_method;

typedef enum nook_key_mode {
        NOOK_KEY_EXPLICIT,    /* deduplicated only with a top-level idempotency_key */
        NOOK_KEY_ENVIRONMENT, /* else "env:<environment id>" (keys are scoped per method) */
        NOOK_KEY_PROCESS,     /* effect_intent.idempotency_key, else environment id + process id */
        NOOK_KEY_ROOTFS,      /* else derived from the ext environment_id, when given */
} nook_key_mode;

typedef struct nook_method_info {
        const char *name;
        nook_method id;
        const nook_schema *request;
        const nook_schema *result; /* NULL: the result is a bare string (nook_ref_result) */
        nook_key_mode key;
        bool journaled;
} nook_method_info;

const nook_method_info *nook_method_lookup(const char *name);
const nook_method_info *nook_method_get(nook_method id);

/* Parses request text of len bytes (NULL, empty or blank = {}) of at most max_bytes:
 * strict JSON (duplicate keys, NUL bytes and invalid UTF-8 rejected), then the
 * method's schema.  *ret_json gets the parsed document (for redaction), *ret_req the
 * typed request (nook_codec_free_request). */
int nook_codec_parse_request(const nook_method_info *m, const char *text, size_t len, size_t max_bytes,
                             json_t **ret_json, void **ret_req, nook_error **err);
void *nook_codec_free_request(const nook_method_info *m, void *req);
void *nook_codec_new_result(const nook_method_info *m);
void *nook_codec_free_result(const nook_method_info *m, void *result);
json_t *nook_codec_encode_result(const nook_method_info *m, const void *result);

/* The call's idempotency key (newly allocated) or NULL when it has none. */
char *nook_codec_idempotency_key(const nook_method_info *m, const void *req);
/* The environment the call is about, or NULL. */
const char *nook_codec_environment_id(const nook_method_info *m, const void *req);
/* The environment spec of env-carrying calls, or NULL. */
const nook_environment *nook_codec_environment(const nook_method_info *m, const void *req);
bool nook_codec_is_journaled(const nook_method_info *m, const void *req);

/* Compact JSON text of v with sorted keys (the canonical form hashed for idempotency). */
char *nook_json_canonical(const json_t *v);

#endif
