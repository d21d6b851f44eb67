/* nook userns — libarchive through dlopen(3) (archive-dl.h): loaded once, on the first
 * import, RTLD_LOCAL; the soname of libarchive 3 is libarchive.so.13. */
#define NOOK_ARCHIVE_DL_IMPL
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include "userns/archive-dl.h"
#include "util/error.h"

nook_archive_api nook_archive;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool loaded;
static char why[256]; /* why not, when not */

static void load(void) {
        void *h = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                const char *e = dlerror();
                snprintf(why, sizeof(why), "%s", e ? e : "libarchive.so.13: not found");
                return;
        }
        nook_archive_api api;
#define NOOK_ARCHIVE_SYM(name)                                                                     \
        if (!(*(void **)&api.name = dlsym(h, #name))) {                                            \
                snprintf(why, sizeof(why), "libarchive.so.13 has no %s (older than 3.6?)", #name); \
                return;                                                                            \
        }
        NOOK_ARCHIVE_FUNCS(NOOK_ARCHIVE_SYM)
#undef NOOK_ARCHIVE_SYM
        nook_archive = api;
        loaded = true;
}

int nook_archive_load(nook_error **err) {
        (void)pthread_once(&once, load);
        if (loaded)
                return 0;
        nook_error_set(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, NOOK_RETRY_USER_ACTION_NEEDED, ENOENT,
                       "cannot load libarchive, which nook reads images and tarballs with: %s", why);
        nook_error_set_hint(err,
                            "install libarchive 3.6 or later (Debian and Ubuntu: libarchive13; Fedora: libarchive)");
        return -ENOENT;
}
