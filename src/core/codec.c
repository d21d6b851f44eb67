/* nook core — the call table and request/result (de)serialisation: size cap, strict
 * JSON (jansson with JSON_REJECT_DUPLICATES; jansson rejects invalid UTF-8 and NUL
 * in strings by itself), schema validation, idempotency key derivation. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "nook/runtime.h"

static const nook_method_info methods[NOOK_M_COUNT] = {
        { "runtime_ref", NOOK_M_RUNTIME_REF, &nook_schema_empty_req, NULL, NOOK_KEY_EXPLICIT, false },
        { "capability_report", NOOK_M_CAPABILITY_REPORT, &nook_schema_empty_req, &nook_schema_capability_report,
          NOOK_KEY_EXPLICIT, false },
        { "prepare_session", NOOK_M_PREPARE_SESSION, &nook_schema_env_req, NULL, NOOK_KEY_ENVIRONMENT, true },
        { "resolve_image", NOOK_M_RESOLVE_IMAGE, &nook_schema_resolve_image_req, &nook_schema_resolve_image_result,
          NOOK_KEY_EXPLICIT, true },
        { "prepare_rootfs", NOOK_M_PREPARE_ROOTFS, &nook_schema_prepare_rootfs_req, NULL, NOOK_KEY_ROOTFS, true },
        { "resolve_mounts", NOOK_M_RESOLVE_MOUNTS, &nook_schema_env_req, &nook_schema_mount_plan, NOOK_KEY_EXPLICIT,
          true },
        { "configure_network", NOOK_M_CONFIGURE_NETWORK, &nook_schema_env_req, NULL, NOOK_KEY_ENVIRONMENT, true },
        { "prepare_secrets", NOOK_M_PREPARE_SECRETS, &nook_schema_prepare_secrets_req, &nook_schema_secrets_result,
          NOOK_KEY_ENVIRONMENT, true },
        { "prepare_environment", NOOK_M_PREPARE_ENVIRONMENT, &nook_schema_env_req, NULL, NOOK_KEY_ENVIRONMENT, true },
        { "start_process", NOOK_M_START_PROCESS, &nook_schema_start_process_req, &nook_schema_start_result,
          NOOK_KEY_PROCESS, true },
        { "stream_io", NOOK_M_STREAM_IO, &nook_schema_stream_io_req, &nook_schema_io_frame, NOOK_KEY_EXPLICIT, true },
        { "signal_process", NOOK_M_SIGNAL_PROCESS, &nook_schema_signal_req, &nook_schema_signal_result,
          NOOK_KEY_EXPLICIT, true },
        { "collect_stats", NOOK_M_COLLECT_STATS, &nook_schema_process_ref_req, &nook_schema_stats_result,
          NOOK_KEY_EXPLICIT, false },
        { "cleanup", NOOK_M_CLEANUP, &nook_schema_cleanup_req, &nook_schema_cleanup_result, NOOK_KEY_EXPLICIT, true },
        { "detach", NOOK_M_DETACH, &nook_schema_env_req, &nook_schema_detach_result, NOOK_KEY_ENVIRONMENT, true },
        { "reclaim", NOOK_M_RECLAIM, &nook_schema_reclaim_req, &nook_schema_reclaim_result, NOOK_KEY_EXPLICIT, true },
        { "read_content", NOOK_M_READ_CONTENT, &nook_schema_read_content_req, &nook_schema_content_result,
          NOOK_KEY_EXPLICIT, false },
};

static const nook_field ref_fields[] = {
        { .name = "ref", .type = NOOK_F_ID, .offset = 0, .has_offset = NOOK_NO_HAS, .def_enum = -1 },
};
static const nook_schema schema_ref_result = NOOK_SCHEMA(nook_ref_result, ref_fields, NULL);

const nook_method_info *nook_method_lookup(const char *name) {
        if (!name)
                return NULL;
        for (size_t i = 0; i < NOOK_M_COUNT; i++)
                if (strcmp(methods[i].name, name) == 0)
                        return &methods[i];
        return NULL;
}

const nook_method_info *nook_method_get(nook_method id) {
        return id < NOOK_M_COUNT ? &methods[id] : NULL;
}

int nook_codec_parse_request(const nook_method_info *m, const char *text, size_t len, size_t max_bytes,
                             json_t **ret_json, void **ret_req, nook_error **err) {
        if (text && len > max_bytes)
                return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, "",
                                        "request of %zu bytes exceeds the limit of %zu bytes", len, max_bytes);
        size_t blank = 0;
        while (text && blank < len && text[blank] && strchr(" \t\r\n", text[blank]))
                blank++;
        if (!text || blank == len) {
                text = "{}";
                len = 2;
        }
        json_error_t jerr;
        json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!doc) {
                /* jansson quotes the text "near" the error: it may be a secret value (an
                 * unterminated string, an unquoted token); line and column say where.  A
                 * duplicate key keeps it: the key is a name, and naming it is the help. */
                char *near = strstr(jerr.text, " near '");
                if (near && strncmp(jerr.text, "duplicate object key", 20) != 0)
                        *near = 0;
                return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, "",
                                        "malformed JSON at line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
        }
        void *req = calloc(1, m->request->size);
        if (!req) {
                json_decref(doc);
                return nook_error_oom(err);
        }
        int r = nook_schema_parse(m->request, doc, "", req, err);
        if (r < 0) {
                free(req);
                json_decref(doc);
                return r;
        }
        *ret_json = doc;
        *ret_req = req;
        return 0;
}

void *nook_codec_free_request(const nook_method_info *m, void *req) {
        if (req) {
                nook_schema_clear(m->request, req);
                free(req);
        }
        return NULL;
}

static const nook_schema *result_schema(const nook_method_info *m) {
        return m->result ? m->result : &schema_ref_result;
}

void *nook_codec_new_result(const nook_method_info *m) {
        const nook_schema *s = result_schema(m);
        void *r = calloc(1, s->size);
        if (r && nook_schema_defaults(s, r) < 0) {
                free(r);
                return NULL;
        }
        return r;
}

void *nook_codec_free_result(const nook_method_info *m, void *result) {
        if (result) {
                nook_schema_clear(result_schema(m), result);
                free(result);
        }
        return NULL;
}

json_t *nook_codec_encode_result(const nook_method_info *m, const void *result) {
        if (!m->result) {
                const nook_ref_result *r = result;
                return json_string(r->ref ? r->ref : "");
        }
        return nook_schema_encode(m->result, result);
}

static const nook_environment *env_of(const nook_method_info *m, const void *req) {
        switch (m->id) {
        case NOOK_M_PREPARE_SESSION:
        case NOOK_M_RESOLVE_MOUNTS:
        case NOOK_M_CONFIGURE_NETWORK:
        case NOOK_M_PREPARE_ENVIRONMENT:
        case NOOK_M_DETACH:
                return &((const nook_env_req *)req)->environment;
        case NOOK_M_PREPARE_SECRETS:
                return &((const nook_prepare_secrets_req *)req)->environment;
        case NOOK_M_START_PROCESS:
                return &((const nook_start_process_req *)req)->environment;
        case NOOK_M_CLEANUP:
                return &((const nook_cleanup_req *)req)->environment;
        default:
                return NULL;
        }
}

const nook_environment *nook_codec_environment(const nook_method_info *m, const void *req) {
        return env_of(m, req);
}

const char *nook_codec_environment_id(const nook_method_info *m, const void *req) {
        if (m->id == NOOK_M_PREPARE_ROOTFS)
                return ((const nook_prepare_rootfs_req *)req)->environment_id;
        const nook_environment *e = env_of(m, req);
        return e ? e->environment_id : NULL;
}

/* Every request struct starts its own idempotency_key field at a different offset;
 * the schema knows where. */
static const char *explicit_key(const nook_method_info *m, const void *req) {
        for (size_t i = 0; i < m->request->n_fields; i++)
                if (strcmp(m->request->fields[i].name, "idempotency_key") == 0)
                        return *(char *const *)((const char *)req + m->request->fields[i].offset);
        return NULL;
}

char *nook_codec_idempotency_key(const nook_method_info *m, const void *req) {
        const char *k = explicit_key(m, req);
        char *s = NULL;
        if (k)
                return strdup(k);
        switch (m->key) {
        case NOOK_KEY_ENVIRONMENT:
                return asprintf(&s, "env:%s", nook_codec_environment_id(m, req)) < 0 ? NULL : s;
        case NOOK_KEY_ROOTFS: {
                const char *env = nook_codec_environment_id(m, req);
                return env && asprintf(&s, "env:%s", env) >= 0 ? s : NULL;
        }
        case NOOK_KEY_PROCESS: {
                const nook_start_process_req *r = req;
                if (r->effect_intent.idempotency_key)
                        return strdup(r->effect_intent.idempotency_key);
                return asprintf(&s, "env:%s/process:%s", r->environment.environment_id, r->process.process_id) < 0
                               ? NULL
                               : s;
        }
        case NOOK_KEY_EXPLICIT:
                return NULL;
        }
        return NULL;
}

bool nook_codec_is_journaled(const nook_method_info *m, const void *req) {
        if (m->id == NOOK_M_STREAM_IO) {
                /* reads are not effects; writes to stdin and closing it are */
                const nook_stream_io_req *r = req;
                return r->stream == NOOK_STREAM_STDIN && (r->data || r->close);
        }
        return m->journaled;
}

char *nook_json_canonical(const json_t *v) {
        return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

int nook_json_get(const char *json, const char *pointer, char **ret) {
        json_auto_t *doc = json ? json_loads(json, JSON_DECODE_ANY, NULL) : NULL;
        if (!doc)
                return -EINVAL;
        json_t *v = doc;
        /* RFC 6901: "/a/0/b~1c" */
        for (const char *p = pointer; v && p && *p == '/';) {
                p++;
                size_t len = strcspn(p, "/");
                char key[512];
                size_t k = 0;
                for (size_t i = 0; i < len && k + 1 < sizeof(key); i++) {
                        if (p[i] == '~' && i + 1 < len && (p[i + 1] == '0' || p[i + 1] == '1'))
                                key[k++] = p[++i] == '0' ? '~' : '/';
                        else
                                key[k++] = p[i];
                }
                key[k] = 0;
                if (json_is_object(v))
                        v = json_object_get(v, key);
                else if (json_is_array(v) && key[0] >= '0' && key[0] <= '9')
                        v = json_array_get(v, strtoul(key, NULL, 10));
                else
                        v = NULL;
                p += len;
        }
        if (!v || json_is_null(v))
                return -ENOENT;
        char *s = json_is_string(v) ? strdup(json_string_value(v)) : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}
