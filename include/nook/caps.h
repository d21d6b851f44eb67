/* nook — the host capability probe, typed for programs that present it to people.
 *
 * Programs that want the contract's IsolationCapabilityReport call
 * nook_runtime_call(rt, "capability_report", "{}", ...); this header gives the same
 * findings as C structs (what `nook caps` prints), for people: their detail and remedy
 * name host paths (the data and run dirs, a place to use instead) so that each remedy
 * can be run as printed, where the contract's JSON has "<data dir>" and "<run dir>". */
#ifndef NOOK_CAPS_H
#define NOOK_CAPS_H

#include <stddef.h>

#include "nook/error.h"
#include "nook/export.h"
#include "nook/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nook_finding {
        const char *name;   /* stable identifier, e.g. "userns", "overlay_in_userns" */
        const char *title;  /* short human title, e.g. "user namespaces for this user" */
        int ok;             /* 1: available / fine; 0: missing or broken */
        int required;       /* 1: nook cannot run sandboxes at all without it */
        const char *detail; /* what was measured */
        const char *remedy; /* the command or setting that fixes it; NULL when ok */
} nook_finding;

typedef struct nook_caps nook_caps;

typedef enum nook_health {
        NOOK_HEALTH_HEALTHY = 1,
        NOOK_HEALTH_DEGRADED,
        NOOK_HEALTH_UNSUPPORTED_HOST,
} nook_health;

/* Probes the host (in throwaway namespaces; nothing outlives the call). */
NOOK_EXPORT int nook_runtime_probe(nook_runtime *rt, nook_caps **ret, nook_error **err);
NOOK_EXPORT size_t nook_caps_count(const nook_caps *caps);
NOOK_EXPORT const nook_finding *nook_caps_get(const nook_caps *caps, size_t i);
NOOK_EXPORT nook_health nook_caps_health(const nook_caps *caps);
/* Why the host is degraded or unsupported (one line), or NULL when healthy. */
NOOK_EXPORT const char *nook_caps_health_reason(const nook_caps *caps);
/* Contract capabilities the host delivers, NULL-terminated. */
NOOK_EXPORT const char *const *nook_caps_capabilities(const nook_caps *caps);
NOOK_EXPORT nook_caps *nook_caps_free(nook_caps *caps);

#ifdef __cplusplus
}
#endif

#endif
