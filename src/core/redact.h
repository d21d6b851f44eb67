/* nook core — redaction of journaled payloads: argv as a count, env as its keys,
 * secret values and raw output never, everything else (unknown fields included) kept. */
#ifndef NOOK_CORE_REDACT_H
#define NOOK_CORE_REDACT_H

#include <jansson.h>

#include "core/schema.h"

/* A redacted deep copy of request v, read through schema s (NULL on ENOMEM): secret
 * strings become {"redacted_bytes": n}, secret maps {"redacted_keys": [...]}. */
json_t *nook_redact(const nook_schema *s, const json_t *v);
/* The same for a result, which must keep its contract shape when it is replayed:
 * secret fields (raw output) are dropped and raw_content_present becomes false; the
 * content refs still lead to the bytes. */
json_t *nook_redact_result(const nook_schema *s, const json_t *v);

#endif
