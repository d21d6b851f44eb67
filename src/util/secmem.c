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

int nook_secmem_read_fd(int fd, size_t max, void **ret, size_t *ret_len, size_t *ret_cap) {
        size_t cap = 4096, len = 0;
        char *buf = nook_secmem_alloc(cap);
        int r = buf ? 0 : -ENOMEM;
        while (r == 0) {
                if (len == cap) {
                        /* one byte past max shows a larger value */
                        size_t ncap = len > max ? 0 : cap * 2 > max + 1 ? max + 1 : cap * 2;
                        char *nb = ncap > cap ? nook_secmem_alloc(ncap) : NULL;
                        if (!nb) {
                                r = ncap > cap ? -ENOMEM : -EFBIG;
                                break;
                        }
                        memcpy(nb, buf, len);
                        nook_secmem_free(buf, cap);
                        buf = nb;
                        cap = ncap;
                }
                ssize_t n = read(fd, buf + len, cap - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = n < 0 ? -errno : 0;
                        break;
                }
                len += (size_t)n;
        }
        if (r == 0 && len > max)
                r = -EFBIG;
        if (r < 0) {
                nook_secmem_free(buf, cap);
                return r;
        }
        *ret = buf;
        *ret_len = len;
        *ret_cap = cap;
        return 0;
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
