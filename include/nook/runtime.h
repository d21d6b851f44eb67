/* nook — the runtime handle and the 16 calls of the IsolationRuntime contract.
 *
 * A nook_runtime holds one adapter (the rootless "nook.userns" one by default), the
 * journal and the configuration.  Every call takes the contract's request JSON and
 * returns its result JSON (see docs/protocol.md); a failing call returns a negative
 * errno-style value and fills *err, leaving *ret_result_json untouched. */
#ifndef NOOK_RUNTIME_H
#define NOOK_RUNTIME_H

#include <stddef.h>

#include "nook/error.h"
#include "nook/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nook_runtime nook_runtime;

#define NOOK_OPTIONS_VERSION 2

typedef struct nook_options {
        unsigned version;         /* NOOK_OPTIONS_VERSION */
        const char *data_dir;     /* NULL: $NOOK_STORAGE, else $XDG_DATA_HOME/nook, else ~/.local/share/nook */
        const char *run_dir;      /* NULL: $XDG_RUNTIME_DIR/nook, else /tmp/nook-<uid> */
        const char *adapter;      /* NULL or "userns"; "fake" only in test builds */
        size_t max_request_bytes; /* 0: NOOK_MAX_REQUEST_BYTES */
        /* NULL-terminated "NAME=PATH" entries mapping the names requests use (rootfs_ref,
         * source_alias) to host paths; added to $NOOK_ALIASES (entries separated by
         * newlines or ';') and ~/.config/nook/aliases (one entry a line). */
        const char *const *aliases;
        /* (version 2) NULL-terminated "REF=SOURCE" entries saying where the value of a
         * secret ref (prepare_secrets) comes from: file:PATH, env:VAR (read once, then
         * wiped from this process's environment), fd:N, or store:NAME (`nook secret`);
         * added to ~/.config/nook/secrets (one entry a line).  A ref with no source is
         * looked up in the named store under its own name. */
        const char *const *secret_sources;
} nook_options;

#define NOOK_OPTIONS_INIT \
        { .version = NOOK_OPTIONS_VERSION }

/* Requests larger than this are refused before parsing. */
#define NOOK_MAX_REQUEST_BYTES (4u * 1024u * 1024u)

NOOK_EXPORT int nook_runtime_open(const nook_options *opts, nook_runtime **ret, nook_error **err);
/* Calls one contract method.  method: "capability_report", "prepare_session", ...
 * request_json: the request (NULL or "" means {}).  *ret_result_json: newly
 * allocated JSON text, free() it. */
NOOK_EXPORT int nook_runtime_call(nook_runtime *rt, const char *method, const char *request_json,
                                  char **ret_result_json, nook_error **err);
/* The same with an explicit length: request bytes may hold anything (a NUL byte is
 * rejected as malformed JSON instead of silently ending the request). */
NOOK_EXPORT int nook_runtime_call_buf(nook_runtime *rt, const char *method, const char *request, size_t request_len,
                                      char **ret_result_json, nook_error **err);
/* What the last successful call accepted to give up (a downgrade the environment's
 * fallback allowed: "this host lacks ..."), or NULL.  Valid until the next call.  Also
 * journaled and kept with the session (session inspect). */
NOOK_EXPORT const char *nook_runtime_last_note(const nook_runtime *rt);
/* Frees and returns NULL; accepts NULL. */
NOOK_EXPORT nook_runtime *nook_runtime_free(nook_runtime *rt);

/* The data dir, run dir and journal file the runtime uses (host paths: for people, not
 * for JSON). */
NOOK_EXPORT const char *nook_runtime_data_dir(const nook_runtime *rt);
NOOK_EXPORT const char *nook_runtime_run_dir(const nook_runtime *rt);
NOOK_EXPORT const char *nook_runtime_journal_path(const nook_runtime *rt);

/* Reads one value out of a result: the string, number or boolean at JSON pointer
 * `pointer` ("/process_ref", "/io_frames/0/exit_code"; "" for the whole document) as
 * newly allocated text (numbers and booleans spelled as in JSON; objects and arrays
 * as compact JSON).  -ENOENT when absent, -EINVAL when json is not JSON. */
NOOK_EXPORT int nook_json_get(const char *json, const char *pointer, char **ret);

/* NULL-terminated list of the method names nook_runtime_call() accepts. */
NOOK_EXPORT const char *const *nook_runtime_methods(void);
NOOK_EXPORT const char *nook_version(void);

#ifdef __cplusplus
}
#endif

#endif
