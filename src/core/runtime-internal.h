/* nook core — what the runtime shares with the typed views (views.c). */
#ifndef NOOK_CORE_RUNTIME_INTERNAL_H
#define NOOK_CORE_RUNTIME_INTERNAL_H

#include "core/contract.h"
#include "core/journal.h"
#include "nook/runtime.h"

/* A fresh capability report from the adapter into *ret (a zeroed result struct). */
int nook_runtime_capability_report(nook_runtime *rt, nook_capability_report *ret, nook_error **err);
/* The runtime's journal, opened on first use. */
int nook_runtime_journal(nook_runtime *rt, nook_journal **ret, nook_error **err);

static inline void nook_runtime_freep(nook_runtime **rt) {
        nook_runtime_free(*rt);
}

#endif
