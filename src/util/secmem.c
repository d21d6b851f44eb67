/* nook util — locked, wiped memory for secret values (mlock(2), madvise(2)
 * MADV_DONTDUMP, explicit_bzero(3)). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/secmem.h"

static size_t pages_of(size_t len) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        if (len == 0)
                len = 1;
        return (len + page - 1) / page * page;
}

void *nook_secmem_alloc(size_t len) {
        size_t size = pages_of(len), page = (size_t)sysconf(_SC_PAGESIZE);
        if (size < len) { /* overflow */
                errno = ENOMEM;
                return NULL;
        }
        void *p = NULL;
        int r = posix_memalign(&p, page, size);
        if (r != 0) {
                errno = r;
                return NULL;
        }
        /* both best effort: RLIMIT_MEMLOCK may be spent (64 KiB on older systems) */
        (void)mlock(p, size);
        (void)madvise(p, size, MADV_DONTDUMP);
        return p;
}

void nook_secmem_free(void *p, size_t len) {
        if (!p)
                return;
        size_t size = pages_of(len);
        explicit_bzero(p, size);
        /* the pages go back to the heap: dumpable and unlocked again, as malloc expects */
        (void)madvise(p, size, MADV_DODUMP);
        (void)munlock(p, size);
        free(p);
}
