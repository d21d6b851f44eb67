/* nook core — redaction of journaled payloads: argv as a count, env as its keys,
 * secret values and raw output never, everything else (unknown fields included) kept. */
#ifndef NOOK_CORE_REDACT_H
#define NOOK_CORE_REDACT_H

#include <jansson.h>

#include "core/schema.h"

/* A redacted deep copy of v, read through schema s (NULL on ENOMEM). */
json_t *nook_redact(const nook_schema *s, const json_t *v);

#endif
