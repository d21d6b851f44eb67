/* nook core — descriptor-driven JSON codec: each contract type is a table of fields
 * (name, type, offset, rules); one engine parses with strict validation (JSON pointer
 * in every error), encodes, and frees.  The contract's shapes are read and written here
 * only.  jansson itself is used by three more parts, each for a format of its own
 * (tests/lib/structure.py holds the list): the CLI for its --json output,
 * src/userns/import.c and store.c for the OCI image documents (index, manifests,
 * config), which are the image format's, not the contract's, and image.c for the
 * image verbs' answers. */
#ifndef NOOK_CORE_SCHEMA_H
#define NOOK_CORE_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

typedef enum nook_field_type {
        NOOK_F_STRING,  /* char *: any string (strict UTF-8, no NUL) */
        NOOK_F_ID,      /* char *: identifier: non-empty, <= 512 bytes, no control characters */
        NOOK_F_HASH,    /* char *: "sha256:<64 lowercase hex>" */
        NOOK_F_PATH,    /* char *: absolute, normalised path inside the sandbox */
        NOOK_F_ENVNAME, /* char *: environment variable name [A-Za-z_][A-Za-z0-9_]* */
        NOOK_F_BOOL,    /* bool */
        NOOK_F_UINT,    /* uint64_t in [min, max] */
        NOOK_F_NUMBER,  /* double in [min, max] (integers accepted) */
        NOOK_F_ENUM,    /* int: index into values[] */
        NOOK_F_OBJECT,  /* embedded struct described by schema */
        NOOK_F_ARRAY,   /* nook_array of elem */
        NOOK_F_VARIANT, /* nook_variant: externally tagged enum, see nook_alt */
        NOOK_F_JSON,    /* char *: any JSON value nook does not interpret, kept as compact text */
        NOOK_F_STRMAP,  /* nook_strmap: object of string values */
        NOOK_F_CUSTOM,  /* parsed, encoded and cleared by the field's custom hooks */
        NOOK_F_MAP,     /* nook_array of elements whose first member is the key (char *);
                         * each value parses by elem at elem->offset inside the element */
} nook_field_type;

enum {
        NOOK_REQ = 1u << 0,          /* missing -> MissingRequiredField */
        NOOK_NONEMPTY = 1u << 1,     /* ARRAY: at least one element */
        NOOK_NULLABLE = 1u << 2,     /* JSON null accepted as "absent" */
        NOOK_SECRET = 1u << 3,       /* never journaled: maps keep their keys, strings their length */
        NOOK_REDACT_COUNT = 1u << 4, /* journaled as "<name>_count": number of elements (argv) */
        NOOK_REDACT_NAMES = 1u << 5, /* array of objects journaled as the list of their first field (env) */
        /* Encoding (enums.md "Field by field"): how an absent value is written. */
        NOOK_ENC_NULL = 1u << 6,       /* absent (NULL string, has_ flag false) written as null, not left out */
        NOOK_ENC_OMIT_EMPTY = 1u << 7, /* ARRAY: left out when it has no element */
};

typedef struct nook_array {
        void *items; /* elements of elem_size bytes each */
        size_t n;
} nook_array;

typedef struct nook_variant {
        int tag;    /* index into alts[]; -1 when absent */
        void *data; /* struct of alts[tag].schema, char * JSON text for raw alts, or NULL */
} nook_variant;

typedef struct nook_strmap {
        char **keys;
        char **values;
        size_t n;
} nook_strmap;

typedef struct nook_schema nook_schema;
typedef struct nook_field nook_field;

/* A field type the tables cannot describe (a union of shapes): its own hooks. */
typedef struct nook_custom {
        int (*parse)(json_t *v, const char *ptr, void *dst, nook_error **err);
        json_t *(*encode)(const void *src); /* NULL result: omitted */
        void (*clear)(void *dst);
} nook_custom;

typedef struct nook_alt {
        const char *tag;
        const nook_schema *schema; /* payload shape; NULL with raw=false: unit variant */
        bool raw;                  /* payload kept as JSON text */
} nook_alt;

struct nook_field {
        const char *name;
        nook_field_type type;
        size_t offset;
        size_t has_offset; /* offset of a bool "present" flag, or NOOK_NO_HAS */
        unsigned flags;
        const nook_schema *schema; /* OBJECT */
        const nook_field *elem;    /* ARRAY element (its offset is 0) */
        size_t elem_size;          /* ARRAY */
        size_t max_items;          /* ARRAY; 0: NOOK_MAX_ITEMS */
        const char *const *values; /* ENUM, NULL-terminated */
        const nook_alt *alts;      /* VARIANT */
        size_t n_alts;
        int def_enum;              /* ENUM / VARIANT default when absent (-1: none) */
        uint64_t umin, umax, udef; /* UINT */
        double dmin, dmax, ddef;   /* NUMBER */
        bool bdef;                 /* BOOL */
        const char *sdef;          /* STRING / ID / PATH default */
        const nook_custom *custom; /* CUSTOM */
        size_t max_len;            /* STRING: 0 = NOOK_MAX_STRING */
};

/* Called after an object parsed; may add cross-field checks.  ptr is the object's
 * JSON pointer. */
typedef int (*nook_validate_fn)(void *obj, const char *ptr, nook_error **err);

struct nook_schema {
        const char *name;
        size_t size;
        const nook_field *fields;
        size_t n_fields;
        nook_validate_fn validate;
};

#define NOOK_NO_HAS ((size_t)-1)
#define NOOK_MAX_ID 512
#define NOOK_MAX_STRING (256u * 1024u)
#define NOOK_MAX_PATH 4096
#define NOOK_MAX_ITEMS 4096

/* Parses JSON value v (at pointer ptr) into the zeroed struct out.  On failure out is
 * freed back to zero and *err names the field. */
int nook_schema_parse(const nook_schema *s, json_t *v, const char *ptr, void *out, nook_error **err);
/* Encodes struct in as a new JSON object (NULL on ENOMEM). */
json_t *nook_schema_encode(const nook_schema *s, const void *in);
/* Fills a zeroed struct with every field's default (variants absent unless they have
 * one); required fields stay empty.  For results that adapters fill in. */
int nook_schema_defaults(const nook_schema *s, void *obj);
/* Frees what the struct owns (not the struct itself) and zeroes it. */
void nook_schema_clear(const nook_schema *s, void *obj);

/* Appends to a nook_array of char * (a copy of v) or of int; -ENOMEM fills *err. */
int nook_array_push_str(nook_array *a, const char *v, nook_error **err);
int nook_array_push_int(nook_array *a, int v, nook_error **err);

/* "an object", "a string", ... for messages about a wrong type. */
const char *nook_json_type_name(const json_t *v);

/* Single-value checks, shared with hand-written validators. */
bool nook_id_valid(const char *s);
bool nook_path_valid(const char *s);
bool nook_envname_valid(const char *s);
/* Appends "/<escaped name>" to a JSON pointer (newly allocated). */
char *nook_pointer_join(const char *base, const char *name);
char *nook_pointer_index(const char *base, size_t i);

#define NOOK_SCHEMA(type, fieldtab, fn) \
        { .name = #type, .size = sizeof(type), .fields = fieldtab, .n_fields = ELEMENTSOF(fieldtab), .validate = fn }

#endif
