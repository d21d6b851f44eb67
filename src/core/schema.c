/* nook core — the codec engine: strict parsing (types, ranges, identifiers, paths,
 * enums, externally tagged variants) with a JSON pointer in every error, encoding
 * and freeing, all driven by the field tables in contract.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/schema.h"
#include "util/sha256.h"
#include "util/strbuf.h"

static inline void *slot(const void *obj, size_t offset) {
        return (char *)obj + offset;
}

char *nook_pointer_join(const char *base, const char *name) {
        nook_strbuf b = NOOK_STRBUF_INIT;
        nook_strbuf_puts(&b, base);
        nook_strbuf_putn(&b, "/", 1);
        for (const char *p = name; *p; p++) {
                if (*p == '~')
                        nook_strbuf_puts(&b, "~0");
                else if (*p == '/')
                        nook_strbuf_puts(&b, "~1");
                else
                        nook_strbuf_putn(&b, p, 1);
        }
        return nook_strbuf_steal(&b);
}

char *nook_pointer_index(const char *base, size_t i) {
        char *s = NULL;
        return asprintf(&s, "%s/%zu", base, i) < 0 ? NULL : s;
}

const char *nook_json_type_name(const json_t *v) {
        switch (json_typeof(v)) {
        case JSON_OBJECT:
                return "an object";
        case JSON_ARRAY:
                return "an array";
        case JSON_STRING:
                return "a string";
        case JSON_INTEGER:
                return "an integer";
        case JSON_REAL:
                return "a number";
        case JSON_TRUE:
        case JSON_FALSE:
                return "a boolean";
        case JSON_NULL:
                return "null";
        }
        return "a value";
}

static int wrong_type(const char *ptr, const char *want, const json_t *v, nook_error **err) {
        return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, ptr, "expected %s, got %s", want,
                                nook_json_type_name(v));
}

/* Control characters: C0, DEL and C1 (U+0080..U+009F, UTF-8 0xC2 0x80..0x9F). */
static bool has_control(const char *s) {
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if (*p < 0x20 || *p == 0x7f)
                        return true;
                if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
                        return true;
        }
        return false;
}

bool nook_id_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        return n > 0 && n <= NOOK_MAX_ID && !has_control(s);
}

bool nook_path_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n > NOOK_MAX_PATH || s[0] != '/' || has_control(s))
                return false;
        if (n == 1)
                return true;
        if (s[n - 1] == '/')
                return false;
        for (const char *c = s + 1;;) {
                size_t len = strcspn(c, "/");
                if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
                        return false;
                if (!c[len])
                        return true;
                c += len + 1;
        }
}

bool nook_envname_valid(const char *s) {
        if (!s || !*s || strlen(s) > 255 || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
                        return false;
        return true;
}

static int parse_string(const nook_field *f, json_t *v, const char *ptr, char **out, nook_error **err) {
        if (!json_is_string(v))
                return wrong_type(ptr, "a string", v, err);
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        size_t max = f->max_len ? f->max_len : NOOK_MAX_STRING;
        switch (f->type) {
        case NOOK_F_ID:
                if (!nook_id_valid(s))
                        return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, ptr,
                                                "identifier must be 1 to %d bytes without control characters",
                                                NOOK_MAX_ID);
                break;
        case NOOK_F_HASH:
                if (!nook_digest_valid(s))
                        return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, ptr,
                                                "expected \"sha256:\" followed by 64 lowercase hex digits");
                break;
        case NOOK_F_PATH:
                if (!nook_path_valid(s))
                        return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, ptr,
                                                "expected an absolute, normalised path (no '.', '..', '//' or "
                                                "trailing '/', at most %d bytes, no control characters)",
                                                NOOK_MAX_PATH);
                break;
        case NOOK_F_ENVNAME:
                if (!nook_envname_valid(s))
                        return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, ptr,
                                                "expected an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
                break;
        default:
                if (len > max)
                        return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, ptr,
                                                "string of %zu bytes exceeds the limit of %zu", len, max);
        }
        *out = strdup(s);
        return *out ? 0 : nook_error_oom(err);
}

static int parse_enum(const nook_field *f, json_t *v, const char *ptr, int *out, nook_error **err) {
        if (!json_is_string(v))
                return wrong_type(ptr, "a string", v, err);
        const char *s = json_string_value(v);
        for (int i = 0; f->values[i]; i++)
                if (strcmp(f->values[i], s) == 0) {
                        *out = i;
                        return 0;
                }
        nook_strbuf b = NOOK_STRBUF_INIT;
        for (int i = 0; f->values[i]; i++)
                nook_strbuf_printf(&b, "%s%s", i ? ", " : "", f->values[i]);
        _cleanup_free_ char *list = nook_strbuf_steal(&b);
        return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, ptr, "must be one of %s", list ? list : "?");
}

static int parse_uint(const nook_field *f, json_t *v, const char *ptr, uint64_t *out, nook_error **err) {
        if (!json_is_integer(v))
                return wrong_type(ptr, "an integer", v, err);
        json_int_t i = json_integer_value(v);
        if (i < 0 || (uint64_t)i < f->umin || (uint64_t)i > f->umax)
                return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, ptr,
                                        "%" JSON_INTEGER_FORMAT " is out of range [%" PRIu64 ", %" PRIu64 "]", i,
                                        f->umin, f->umax);
        *out = (uint64_t)i;
        return 0;
}

static int parse_number(const nook_field *f, json_t *v, const char *ptr, double *out, nook_error **err) {
        if (!json_is_number(v))
                return wrong_type(ptr, "a number", v, err);
        double d = json_number_value(v);
        if (!(d >= f->dmin && d <= f->dmax))
                return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, ptr, "%g is out of range [%g, %g]", d,
                                        f->dmin, f->dmax);
        *out = d;
        return 0;
}

static int parse_value(const nook_field *f, json_t *v, const char *ptr, void *dst, nook_error **err);
static int parse_map(const nook_field *f, json_t *v, const char *ptr, nook_array *out, nook_error **err);

static int parse_array(const nook_field *f, json_t *v, const char *ptr, nook_array *out, nook_error **err) {
        if (!json_is_array(v))
                return wrong_type(ptr, "an array", v, err);
        size_t n = json_array_size(v);
        size_t max = f->max_items ? f->max_items : NOOK_MAX_ITEMS;
        if (n > max)
                return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, ptr, "%zu elements exceed the limit of %zu",
                                        n, max);
        if (n == 0 && (f->flags & NOOK_NONEMPTY))
                return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, ptr, "must not be empty");
        out->items = n ? calloc(n, f->elem_size) : NULL;
        if (n && !out->items)
                return nook_error_oom(err);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *p = nook_pointer_index(ptr, i);
                if (!p)
                        return nook_error_oom(err);
                int r = parse_value(f->elem, json_array_get(v, i), p, (char *)out->items + i * f->elem_size, err);
                if (r < 0)
                        return r;
                out->n = i + 1;
        }
        out->n = n;
        return 0;
}

static int parse_variant_payload(const nook_alt *a, json_t *payload, const char *ptr, nook_variant *out,
                                 nook_error **err) {
        if (a->raw) {
                out->data = json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY);
                return out->data ? 0 : nook_error_oom(err);
        }
        if (!a->schema) {
                if (!json_is_null(payload) && !(json_is_object(payload) && json_object_size(payload) == 0))
                        return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, ptr,
                                                "variant '%s' takes no payload", a->tag);
                return 0;
        }
        out->data = calloc(1, a->schema->size);
        if (!out->data)
                return nook_error_oom(err);
        return nook_schema_parse(a->schema, payload, ptr, out->data, err);
}

static int parse_variant(const nook_field *f, json_t *v, const char *ptr, nook_variant *out, nook_error **err) {
        const char *tag;
        json_t *payload = NULL;
        if (json_is_string(v))
                tag = json_string_value(v);
        else if (json_is_object(v) && json_object_size(v) == 1) {
                void *it = json_object_iter(v);
                tag = json_object_iter_key(it);
                payload = json_object_iter_value(it);
        } else
                return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, ptr,
                                        "expected a variant name or an object with exactly one key, got %s",
                                        nook_json_type_name(v));
        for (size_t i = 0; i < f->n_alts; i++) {
                const nook_alt *a = &f->alts[i];
                if (strcmp(a->tag, tag) != 0)
                        continue;
                out->tag = (int)i;
                if (!payload) {
                        if (a->schema || a->raw)
                                return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, ptr,
                                                        "variant '%s' needs a payload: {\"%s\": {...}}", tag, tag);
                        return 0;
                }
                _cleanup_free_ char *p = nook_pointer_join(ptr, tag);
                if (!p)
                        return nook_error_oom(err);
                return parse_variant_payload(a, payload, p, out, err);
        }
        nook_strbuf b = NOOK_STRBUF_INIT;
        for (size_t i = 0; i < f->n_alts; i++)
                nook_strbuf_printf(&b, "%s%s", i ? ", " : "", f->alts[i].tag);
        _cleanup_free_ char *list = nook_strbuf_steal(&b);
        return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, ptr, "unknown variant; expected one of %s",
                                list ? list : "?");
}

static int parse_strmap(json_t *v, const char *ptr, nook_strmap *out, nook_error **err) {
        if (!json_is_object(v))
                return wrong_type(ptr, "an object", v, err);
        size_t n = json_object_size(v);
        if (n > NOOK_MAX_ITEMS)
                return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, ptr, "%zu entries exceed the limit of %d",
                                        n, NOOK_MAX_ITEMS);
        out->keys = calloc(n + 1, sizeof(char *));
        out->values = calloc(n + 1, sizeof(char *));
        if (!out->keys || !out->values)
                return nook_error_oom(err);
        const char *key;
        json_t *val;
        json_object_foreach(v, key, val) {
                _cleanup_free_ char *p = nook_pointer_join(ptr, key);
                if (!p)
                        return nook_error_oom(err);
                if (!json_is_string(val))
                        return wrong_type(p, "a string", val, err);
                if (!nook_id_valid(key))
                        return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, p,
                                                "key must be 1 to %d bytes without control characters", NOOK_MAX_ID);
                out->keys[out->n] = strdup(key);
                out->values[out->n] = strdup(json_string_value(val));
                out->n++;
                if (!out->keys[out->n - 1] || !out->values[out->n - 1])
                        return nook_error_oom(err);
        }
        return 0;
}

static int parse_map(const nook_field *f, json_t *v, const char *ptr, nook_array *out, nook_error **err) {
        if (!json_is_object(v))
                return wrong_type(ptr, "an object", v, err);
        size_t n = json_object_size(v);
        if (n > NOOK_MAX_ITEMS)
                return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, ptr, "%zu entries exceed the limit of %d",
                                        n, NOOK_MAX_ITEMS);
        out->items = n ? calloc(n, f->elem_size) : NULL;
        if (n && !out->items)
                return nook_error_oom(err);
        const char *key;
        json_t *val;
        json_object_foreach(v, key, val) {
                _cleanup_free_ char *p = nook_pointer_join(ptr, key);
                if (!p)
                        return nook_error_oom(err);
                if (!nook_id_valid(key))
                        return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, p,
                                                "key must be 1 to %d bytes without control characters", NOOK_MAX_ID);
                char *item = (char *)out->items + out->n * f->elem_size;
                if (!(*(char **)item = strdup(key)))
                        return nook_error_oom(err);
                out->n++;
                int r = parse_value(f->elem, val, p, item + f->elem->offset, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_value(const nook_field *f, json_t *v, const char *ptr, void *dst, nook_error **err) {
        switch (f->type) {
        case NOOK_F_STRING:
        case NOOK_F_ID:
        case NOOK_F_HASH:
        case NOOK_F_PATH:
        case NOOK_F_ENVNAME:
                return parse_string(f, v, ptr, dst, err);
        case NOOK_F_BOOL:
                if (!json_is_boolean(v))
                        return wrong_type(ptr, "a boolean", v, err);
                *(bool *)dst = json_is_true(v);
                return 0;
        case NOOK_F_UINT:
                return parse_uint(f, v, ptr, dst, err);
        case NOOK_F_NUMBER:
                return parse_number(f, v, ptr, dst, err);
        case NOOK_F_ENUM:
                return parse_enum(f, v, ptr, dst, err);
        case NOOK_F_OBJECT:
                return nook_schema_parse(f->schema, v, ptr, dst, err);
        case NOOK_F_ARRAY:
                return parse_array(f, v, ptr, dst, err);
        case NOOK_F_VARIANT:
                return parse_variant(f, v, ptr, dst, err);
        case NOOK_F_JSON: {
                char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                if (!s)
                        return nook_error_oom(err);
                *(char **)dst = s;
                return 0;
        }
        case NOOK_F_STRMAP:
                return parse_strmap(v, ptr, dst, err);
        case NOOK_F_MAP:
                return parse_map(f, v, ptr, dst, err);
        case NOOK_F_CUSTOM:
                return f->custom->parse(v, ptr, dst, err);
        }
        return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, ptr, "unsupported field type");
}

static int apply_default(const nook_field *f, void *dst, nook_error **err) {
        switch (f->type) {
        case NOOK_F_STRING:
        case NOOK_F_ID:
        case NOOK_F_PATH:
                if (f->sdef && !(*(char **)dst = strdup(f->sdef)))
                        return nook_error_oom(err);
                return 0;
        case NOOK_F_BOOL:
                *(bool *)dst = f->bdef;
                return 0;
        case NOOK_F_UINT:
                *(uint64_t *)dst = f->udef;
                return 0;
        case NOOK_F_NUMBER:
                *(double *)dst = f->ddef;
                return 0;
        case NOOK_F_ENUM:
                *(int *)dst = f->def_enum;
                return 0;
        case NOOK_F_VARIANT:
                ((nook_variant *)dst)->tag = f->def_enum;
                return 0;
        case NOOK_F_OBJECT: {
                /* An absent optional object with a presence flag stays zeroed; any other
                 * absent object is its defaults: parse {} so nested defaults apply. */
                if (f->has_offset != NOOK_NO_HAS)
                        return 0;
                _cleanup_(json_decrefp) json_t *empty = json_object();
                if (!empty)
                        return nook_error_oom(err);
                return nook_schema_parse(f->schema, empty, "", dst, err);
        }
        case NOOK_F_HASH:
        case NOOK_F_ENVNAME:
        case NOOK_F_ARRAY:
        case NOOK_F_JSON:
        case NOOK_F_STRMAP:
        case NOOK_F_MAP:
        case NOOK_F_CUSTOM:
                return 0;
        }
        return 0;
}

int nook_schema_defaults(const nook_schema *s, void *obj) {
        for (size_t i = 0; i < s->n_fields; i++) {
                const nook_field *f = &s->fields[i];
                if (f->type == NOOK_F_OBJECT && (f->flags & NOOK_REQ)) {
                        int r = nook_schema_defaults(f->schema, slot(obj, f->offset));
                        if (r < 0)
                                return r;
                        continue;
                }
                if (f->flags & NOOK_REQ) {
                        if (f->type == NOOK_F_VARIANT)
                                ((nook_variant *)slot(obj, f->offset))->tag = -1;
                        continue;
                }
                int r = apply_default(f, slot(obj, f->offset), NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

int nook_schema_parse(const nook_schema *s, json_t *v, const char *ptr, void *out, nook_error **err) {
        if (!json_is_object(v))
                return wrong_type(ptr[0] ? ptr : "", "an object", v, err);
        int r = 0;
        for (size_t i = 0; i < s->n_fields && r >= 0; i++) {
                const nook_field *f = &s->fields[i];
                json_t *fv = json_object_get(v, f->name);
                _cleanup_free_ char *p = nook_pointer_join(ptr, f->name);
                if (!p)
                        r = nook_error_oom(err);
                else if (!fv || json_is_null(fv)) {
                        if (f->flags & NOOK_REQ)
                                r = nook_error_field(err, NOOK_ERROR_MISSING_REQUIRED_FIELD, p, "missing");
                        else
                                r = apply_default(f, slot(out, f->offset), err);
                } else {
                        r = parse_value(f, fv, p, slot(out, f->offset), err);
                        if (r >= 0 && f->has_offset != NOOK_NO_HAS)
                                *(bool *)slot(out, f->has_offset) = true;
                }
        }
        if (r >= 0 && s->validate)
                r = s->validate(out, ptr, err);
        if (r < 0)
                nook_schema_clear(s, out);
        return r;
}

static void clear_value(const nook_field *f, void *dst) {
        switch (f->type) {
        case NOOK_F_STRING:
        case NOOK_F_ID:
        case NOOK_F_HASH:
        case NOOK_F_PATH:
        case NOOK_F_ENVNAME:
        case NOOK_F_JSON:
                /* a secret value (secret_values' "value") leaves no copy in freed heap */
                if ((f->flags & NOOK_SECRET) && *(char **)dst)
                        explicit_bzero(*(char **)dst, strlen(*(char **)dst));
                free(*(char **)dst);
                *(char **)dst = NULL;
                return;
        case NOOK_F_OBJECT:
                nook_schema_clear(f->schema, dst);
                return;
        case NOOK_F_ARRAY: {
                nook_array *a = dst;
                for (size_t i = 0; i < a->n; i++)
                        clear_value(f->elem, (char *)a->items + i * f->elem_size);
                free(a->items);
                *a = (nook_array){ 0 };
                return;
        }
        case NOOK_F_CUSTOM:
                f->custom->clear(dst);
                return;
        case NOOK_F_MAP: {
                nook_array *a = dst;
                for (size_t i = 0; i < a->n; i++) {
                        char *item = (char *)a->items + i * f->elem_size;
                        free(*(char **)item);
                        clear_value(f->elem, item + f->elem->offset);
                }
                free(a->items);
                *a = (nook_array){ 0 };
                return;
        }
        case NOOK_F_VARIANT: {
                nook_variant *var = dst;
                if (var->data && var->tag >= 0 && (size_t)var->tag < f->n_alts) {
                        const nook_alt *a = &f->alts[var->tag];
                        if (a->schema)
                                nook_schema_clear(a->schema, var->data);
                }
                free(var->data);
                *var = (nook_variant){ .tag = -1 };
                return;
        }
        case NOOK_F_STRMAP: {
                nook_strmap *m = dst;
                for (size_t i = 0; i < m->n; i++) {
                        free(m->keys[i]);
                        free(m->values[i]);
                }
                free(m->keys);
                free(m->values);
                *m = (nook_strmap){ 0 };
                return;
        }
        case NOOK_F_BOOL:
        case NOOK_F_UINT:
        case NOOK_F_NUMBER:
        case NOOK_F_ENUM:
                return;
        }
}

void nook_schema_clear(const nook_schema *s, void *obj) {
        if (!obj)
                return;
        for (size_t i = 0; i < s->n_fields; i++)
                clear_value(&s->fields[i], slot(obj, s->fields[i].offset));
        memset(obj, 0, s->size);
        /* Variants read "absent" as tag -1, not 0. */
        for (size_t i = 0; i < s->n_fields; i++)
                if (s->fields[i].type == NOOK_F_VARIANT)
                        ((nook_variant *)slot(obj, s->fields[i].offset))->tag = -1;
}

static json_t *encode_value(const nook_field *f, const void *src);

static json_t *encode_array(const nook_field *f, const nook_array *a) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < a->n; i++) {
                json_t *e = encode_value(f->elem, (const char *)a->items + i * f->elem_size);
                if (!e || json_array_append_new(arr, e) < 0) {
                        json_decref(arr);
                        return NULL;
                }
        }
        return arr;
}

static json_t *encode_variant(const nook_field *f, const nook_variant *var) {
        if (var->tag < 0 || (size_t)var->tag >= f->n_alts)
                return NULL;
        const nook_alt *a = &f->alts[var->tag];
        if (!a->schema && !a->raw)
                return json_string(a->tag);
        json_t *payload = NULL;
        if (a->raw)
                payload = var->data ? json_loads(var->data, JSON_DECODE_ANY, NULL) : json_object();
        else
                payload = var->data ? nook_schema_encode(a->schema, var->data) : json_object();
        return payload ? json_pack("{so}", a->tag, payload) : NULL;
}

static json_t *encode_value(const nook_field *f, const void *src) {
        switch (f->type) {
        case NOOK_F_STRING:
        case NOOK_F_ID:
        case NOOK_F_HASH:
        case NOOK_F_PATH:
        case NOOK_F_ENVNAME: {
                const char *s = *(char *const *)src;
                return s ? json_string(s) : NULL;
        }
        case NOOK_F_JSON: {
                const char *s = *(char *const *)src;
                return s ? json_loads(s, JSON_DECODE_ANY, NULL) : NULL;
        }
        case NOOK_F_BOOL:
                return json_boolean(*(const bool *)src);
        case NOOK_F_UINT:
                return json_integer((json_int_t) * (const uint64_t *)src);
        case NOOK_F_NUMBER: {
                double d = *(const double *)src;
                if (d == (double)(json_int_t)d)
                        return json_integer((json_int_t)d);
                return json_real(d);
        }
        case NOOK_F_ENUM: {
                int i = *(const int *)src;
                return i >= 0 ? json_string(f->values[i]) : NULL;
        }
        case NOOK_F_OBJECT:
                return nook_schema_encode(f->schema, src);
        case NOOK_F_ARRAY:
                return encode_array(f, src);
        case NOOK_F_VARIANT:
                return encode_variant(f, src);
        case NOOK_F_CUSTOM:
                return f->custom->encode(src);
        case NOOK_F_MAP: {
                const nook_array *a = src;
                json_t *o = json_object();
                for (size_t i = 0; o && i < a->n; i++) {
                        const char *item = (const char *)a->items + i * f->elem_size;
                        json_t *e = encode_value(f->elem, item + f->elem->offset);
                        if (!e || json_object_set_new(o, *(char *const *)item, e) < 0) {
                                json_decref(o);
                                return NULL;
                        }
                }
                return o;
        }
        case NOOK_F_STRMAP: {
                const nook_strmap *m = src;
                json_t *o = json_object();
                for (size_t i = 0; o && i < m->n; i++)
                        json_object_set_new(o, m->keys[i], json_string(m->values[i]));
                return o;
        }
        }
        return NULL;
}

json_t *nook_schema_encode(const nook_schema *s, const void *in) {
        json_t *o = json_object();
        if (!o)
                return NULL;
        for (size_t i = 0; i < s->n_fields; i++) {
                const nook_field *f = &s->fields[i];
                const void *src = slot(in, f->offset);
                json_t *v = NULL;
                if (f->has_offset != NOOK_NO_HAS && !*(const bool *)slot(in, f->has_offset))
                        v = NULL;
                else if (f->type == NOOK_F_ARRAY && (f->flags & NOOK_ENC_OMIT_EMPTY) &&
                         ((const nook_array *)src)->n == 0)
                        continue;
                else
                        v = encode_value(f, src);
                if (!v && (f->flags & NOOK_ENC_NULL))
                        v = json_null();
                if (v && json_object_set_new(o, f->name, v) < 0) {
                        json_decref(o);
                        return NULL;
                }
        }
        return o;
}

int nook_array_push_str(nook_array *a, const char *v, nook_error **err) {
        char *copy = strdup(v);
        char **items = copy ? realloc(a->items, (a->n + 1) * sizeof(char *)) : NULL;
        if (!items) {
                free(copy);
                return nook_error_oom(err);
        }
        a->items = items;
        items[a->n++] = copy;
        return 0;
}

int nook_array_push_int(nook_array *a, int v, nook_error **err) {
        int *items = realloc(a->items, (a->n + 1) * sizeof(int));
        if (!items)
                return nook_error_oom(err);
        a->items = items;
        items[a->n++] = v;
        return 0;
}
