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

#endif
