/* nook — rootless isolation runtime: umbrella header of the public API. */
#ifndef NOOK_NOOK_H
#define NOOK_NOOK_H

#include "nook/error.h"
#include "nook/export.h"
#include "nook/caps.h"
#include "nook/journal.h"
#include "nook/runtime.h"
#include "nook/session.h"
#include "nook/image.h"
#include "nook/secret.h"

#endif
