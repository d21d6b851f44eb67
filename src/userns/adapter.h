/* nook userns — the rootless adapter, as the library's table of adapters names it
 * (src/lib/open.c).  Its stages are in stages.h. */
#ifndef NOOK_USERNS_ADAPTER_H
#define NOOK_USERNS_ADAPTER_H

#include "core/adapter.h"

extern const nook_adapter_ops nook_userns_adapter;

#endif
