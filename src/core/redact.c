/* nook core — schema-driven redaction: fields flagged NOOK_SECRET, NOOK_REDACT_COUNT
 * or NOOK_REDACT_NAMES in contract.c are reduced before anything reaches the journal. */
#include <stdio.h>
#include <string.h>

#include "core/redact.h"

static json_t *redact(const nook_schema *s, const json_t *v, bool result);

static json_t *secret_summary(const json_t *v) {
        if (json_is_object(v)) {
                json_t *keys = json_array();
                const char *k;
                json_t *val;
                json_object_foreach((json_t *)v, k, val) json_array_append_new(keys, json_string(k));
                return json_pack("{so}", "redacted_keys", keys);
        }
        if (json_is_string(v))
                return json_pack("{sI}", "redacted_bytes", (json_int_t)json_string_length(v));
        return json_string("[redacted]");
}

static json_t *names_of(const json_t *v) {
        json_t *out = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
                json_t *n = json_is_object(e) ? json_object_get(e, "name") : NULL;
                json_array_append_new(out, json_is_string(n) ? json_copy(n) : json_null());
        }
        return out;
}

static json_t *redact_variant(const nook_field *f, const json_t *v, bool result) {
        if (!json_is_object(v) || json_object_size(v) != 1)
                return json_deep_copy(v);
        void *it = json_object_iter((json_t *)v);
        const char *tag = json_object_iter_key(it);
        for (size_t i = 0; i < f->n_alts; i++)
                if (strcmp(f->alts[i].tag, tag) == 0 && f->alts[i].schema)
                        return json_pack("{so}", tag, redact(f->alts[i].schema, json_object_iter_value(it), result));
        return json_deep_copy(v);
}

static json_t *redact_value_mode(const nook_field *f, const json_t *v, bool result) {
        switch (f->type) {
        case NOOK_F_OBJECT:
                return redact(f->schema, v, result);
        case NOOK_F_ARRAY: {
                if (!json_is_array(v) || f->elem->type != NOOK_F_OBJECT)
                        return json_deep_copy(v);
                json_t *out = json_array();
                size_t i;
                json_t *e;
                json_array_foreach(v, i, e) json_array_append_new(out, redact(f->elem->schema, e, result));
                return out;
        }
        case NOOK_F_VARIANT:
                return redact_variant(f, v, result);
        default:
                return json_deep_copy(v);
        }
}

static json_t *redact(const nook_schema *s, const json_t *v, bool result) {
        if (!json_is_object(v))
                return json_deep_copy(v);
        json_t *out = json_object();
        if (!out)
                return NULL;
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)v, key, val) {
                const nook_field *f = NULL;
                for (size_t i = 0; s && i < s->n_fields; i++)
                        if (strcmp(s->fields[i].name, key) == 0)
                                f = &s->fields[i];
                if (!f) {
                        json_object_set_new(out, key, json_deep_copy(val));
                } else if ((f->flags & NOOK_SECRET) && result) {
                        if (json_object_get(v, "raw_content_present"))
                                json_object_set_new(out, "raw_content_present", json_false());
                } else if (f->flags & NOOK_SECRET) {
                        json_object_set_new(out, key, secret_summary(val));
                } else if ((f->flags & NOOK_REDACT_COUNT) && json_is_array(val)) {
                        char name[128];
                        snprintf(name, sizeof(name), "%s_count", key);
                        json_object_set_new(out, name, json_integer((json_int_t)json_array_size(val)));
                } else if ((f->flags & NOOK_REDACT_NAMES) && json_is_array(val)) {
                        json_object_set_new(out, key, names_of(val));
                } else if (strcmp(key, "raw_content_present") == 0 && result && json_object_get(out, key)) {
                        /* already set false by a dropped secret field */
                } else {
                        json_object_set_new(out, key, redact_value_mode(f, val, result));
                }
        }
        return out;
}

json_t *nook_redact(const nook_schema *s, const json_t *v) {
        return redact(s, v, false);
}

json_t *nook_redact_result(const nook_schema *s, const json_t *v) {
        return redact(s, v, true);
}
