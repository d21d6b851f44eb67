/* nook fake — an adapter that answers every call from memory, for the core's tests
 * (built with -Dfake_adapter=true). */
#ifndef NOOK_FAKE_FAKE_H
#define NOOK_FAKE_FAKE_H

#include "core/adapter.h"

extern const nook_adapter_ops nook_fake_adapter;

#endif
