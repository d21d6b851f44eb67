/* nook library — the entry point: picks the adapter by name from this build's table
 * (as crun picks a cgroup backend) and opens the core's runtime over it.  This is the
 * only file that names adapters: the core knows the interface (core/adapter.h), each
 * adapter knows the core, and neither knows the other's insides. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "core/adapter.h"
#include "core/journal.h"
#include "core/runtime-internal.h"
#include "nook/runtime.h"
#include "userns/adapter.h"
#include "util/error.h"
#include "util/strbuf.h"
#if NOOK_FAKE_ADAPTER
#include "fake/fake.h"
#endif

static const nook_adapter_ops *const adapters[] = {
        &nook_userns_adapter, /* the first is the default */
#if NOOK_FAKE_ADAPTER
        &nook_fake_adapter,
#endif
};

static const nook_adapter_ops *find_adapter(const char *name, nook_error **err) {
        if (!name || !*name)
                return adapters[0];
        for (size_t i = 0; i < ELEMENTSOF(adapters); i++)
                if (strcmp(adapters[i]->name, name) == 0)
                        return adapters[i];
        _cleanup_(nook_strbuf_done) nook_strbuf have = NOOK_STRBUF_INIT;
        for (size_t i = 0; i < ELEMENTSOF(adapters); i++)
                nook_strbuf_printf(&have, "%s%s", i ? ", " : "", adapters[i]->name);
        nook_error_set(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, NOOK_RETRY_USER_ACTION_NEEDED, EINVAL,
                       "unknown adapter '%s' (this build has: %s)", name, have.s ? have.s : "");
        return NULL;
}

int nook_runtime_open(const nook_options *opts, nook_runtime **ret, nook_error **err) {
        if (opts && opts->version != NOOK_OPTIONS_VERSION)
                return nook_error_set(err, NOOK_ERROR_CONTRACT_VIOLATION, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                      "nook_options version %u is not supported (expected %u)", opts->version,
                                      NOOK_OPTIONS_VERSION);
        const char *name = opts && opts->adapter ? opts->adapter : getenv("NOOK_ADAPTER");
        const nook_adapter_ops *ops = find_adapter(name, err);
        if (!ops)
                return -EINVAL;
        return nook_runtime_open_ops(ops, opts, ret, err);
}

/* A public entry point too: the runtime opts describe is opened for the journal path it
 * uses, and that journal is repaired (core/journal.c). */
int nook_journal_repair(const nook_options *opts, char **ret_moved_to, nook_error **err) {
        _cleanup_(nook_runtime_freep) nook_runtime *rt = NULL;
        int r = nook_runtime_open(opts, &rt, err);
        if (r < 0)
                return r;
        return nook_journal_repair_file(nook_runtime_journal_path(rt), ret_moved_to, err);
}
