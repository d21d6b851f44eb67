/* nook util — memory for secret values: page-aligned, locked in RAM when RLIMIT_MEMLOCK
 * allows (mlock(2)), left out of core dumps (MADV_DONTDUMP), wiped before it is freed. */
#ifndef NOOK_UTIL_SECMEM_H
#define NOOK_UTIL_SECMEM_H

#include <stddef.h>

/* At least len bytes (one page for 0), whole pages of their own; NULL with errno set.
 * Locking is best effort: a value is never refused because the limit is reached. */
void *nook_secmem_alloc(size_t len);
/* Wipes the pages of an allocation of len bytes and frees them; NULL is fine. */
void nook_secmem_free(void *p, size_t len);
/* fd to its end into secret memory growing as needed: *ret (allocated for *ret_cap
 * bytes, which nook_secmem_free takes) holds *ret_len bytes.  0; -EFBIG when fd holds
 * more than max bytes (nothing returned); -ENOMEM; -errno of read(2). */
int nook_secmem_read_fd(int fd, size_t max, void **ret, size_t *ret_len, size_t *ret_cap);

#endif
