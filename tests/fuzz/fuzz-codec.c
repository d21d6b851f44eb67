/* nook fuzz — the JSON codec (src/core/codec.c, schema.c, redact.c) over the request and
 * result types of every call.  Input: one byte choosing the call (low 7 bits, modulo the
 * number of calls) and request (top bit clear) or result (set), then the JSON text.
 * Oracles: what parses encodes into text that parses again and encodes the same (a
 * fixpoint), with the same idempotency key; a redacted result keeps its contract shape
 * (the journal replays it); every refusal is an error whose JSON form is JSON. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "core/redact.h"
#include "fuzz-common.h"
#include "nook/runtime.h"

static void check_error(nook_error *err, const char *what) {
        FUZZ_CHECK(err, "%s refused without an error", what);
        const char *msg = nook_error_get_message(err);
        FUZZ_CHECK(msg && *msg, "%s refused with an empty message", what);
        char *ej = nook_error_to_json(err);
        json_t *v = ej ? json_loads(ej, 0, NULL) : NULL;
        FUZZ_CHECK(v, "%s: the error's JSON form is not JSON: %s", what, ej ? ej : "(null)");
        json_decref(v);
        free(ej);
        nook_error_free(err);
}

/* Parses text as m's request; NULL after a checked refusal. */
static void *parse_request(const nook_method_info *m, const char *text, size_t len, json_t **ret_doc) {
        nook_error *err = NULL;
        void *req = NULL;
        if (nook_codec_parse_request(m, text, len, NOOK_MAX_REQUEST_BYTES, ret_doc, &req, &err) < 0) {
                check_error(err, m->name);
                return NULL;
        }
        FUZZ_CHECK(!err, "%s: accepted, yet an error is set", m->name);
        return req;
}

static char *encode_canonical(const nook_schema *s, const void *obj) {
        json_t *e = nook_schema_encode(s, obj);
        FUZZ_CHECK(e, "%s: encoding failed", s->name);
        char *t = nook_json_canonical(e);
        FUZZ_CHECK(t, "%s: dumping the encoding failed", s->name);
        json_decref(e);
        return t;
}

static bool streq_null(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void fuzz_request(const nook_method_info *m, const char *text, size_t len) {
        json_t *doc = NULL;
        void *req = parse_request(m, text, len, &doc);
        if (!req)
                return;
        char *key = nook_codec_idempotency_key(m, req);
        (void)nook_codec_is_journaled(m, req);
        (void)nook_codec_environment(m, req);
        json_t *red = nook_redact(m->request, doc);
        char *rtext = red ? nook_json_canonical(red) : NULL;
        FUZZ_CHECK(rtext, "%s: redacting the request failed", m->name);

        char *t1 = encode_canonical(m->request, req);
        json_t *doc2 = NULL;
        void *req2 = parse_request(m, t1, strlen(t1), &doc2);
        FUZZ_CHECK(req2, "%s: the encoding of an accepted request is refused: %s", m->name, t1);
        char *t2 = encode_canonical(m->request, req2);
        FUZZ_CHECK(strcmp(t1, t2) == 0, "%s: encoding is not a fixpoint:\n  %s\n  %s", m->name, t1, t2);
        char *key2 = nook_codec_idempotency_key(m, req2);
        FUZZ_CHECK(streq_null(key, key2), "%s: the idempotency key changes through encoding: %s / %s", m->name,
                   key ? key : "(none)", key2 ? key2 : "(none)");
        FUZZ_CHECK(streq_null(nook_codec_environment_id(m, req), nook_codec_environment_id(m, req2)),
                   "%s: the environment id changes through encoding", m->name);
        free(key2);
        free(t2);
        nook_codec_free_request(m, req2);
        json_decref(doc2);
        free(t1);
        free(rtext);
        json_decref(red);
        free(key);
        nook_codec_free_request(m, req);
        json_decref(doc);
}

/* Parses v as a result of schema s into a new struct, or NULL after a checked refusal. */
static void *parse_result(const nook_method_info *m, json_t *v) {
        void *res = calloc(1, m->result->size);
        FUZZ_CHECK(res, "out of memory");
        nook_error *err = NULL;
        if (nook_schema_parse(m->result, v, "", res, &err) < 0) {
                check_error(err, m->name);
                free(res);
                return NULL;
        }
        return res;
}

static void free_result(const nook_method_info *m, void *res) {
        nook_schema_clear(m->result, res);
        free(res);
}

static void fuzz_result(const nook_method_info *m, const char *text, size_t len) {
        if (!m->result) /* a bare string: nothing to parse */
                return;
        json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
        void *res = v ? parse_result(m, v) : NULL;
        json_decref(v);
        if (!res)
                return;
        char *t1 = encode_canonical(m->result, res);
        json_t *e1 = json_loads(t1, 0, NULL);
        void *res2 = e1 ? parse_result(m, e1) : NULL;
        FUZZ_CHECK(res2, "%s: the encoding of an accepted result is refused: %s", m->name, t1);
        char *t2 = encode_canonical(m->result, res2);
        FUZZ_CHECK(strcmp(t1, t2) == 0, "%s result: encoding is not a fixpoint:\n  %s\n  %s", m->name, t1, t2);
        /* what the journal keeps is what a replay answers: it must still be a result */
        json_t *red = nook_redact_result(m->result, e1);
        FUZZ_CHECK(red, "%s: redacting the result failed", m->name);
        void *res3 = parse_result(m, red);
        char *rt = json_dumps(red, JSON_COMPACT);
        FUZZ_CHECK(res3, "%s: the redacted result a replay answers is not a %s result: %s", m->name, m->name, rt);
        free(rt);
        free_result(m, res3);
        json_decref(red);
        free(t2);
        free_result(m, res2);
        json_decref(e1);
        free(t1);
        free_result(m, res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        const nook_method_info *m = nook_method_get((nook_method)((data[0] & 0x7f) % NOOK_M_COUNT));
        const char *text = (const char *)data + 1;
        if (data[0] & 0x80)
                fuzz_result(m, text, size - 1);
        else
                fuzz_request(m, text, size - 1);
        return 0;
}
