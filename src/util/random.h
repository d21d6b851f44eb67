/* nook util — random names: the hex suffixes of session ids, process refs, tickets and
 * staging dirs (getrandom(2); never blocks after early boot). */
#ifndef NOOK_UTIL_RANDOM_H
#define NOOK_UTIL_RANDOM_H

#include <stddef.h>

/* Writes 2*nbytes hex digits and a NUL into buf (2*nbytes+1 bytes); nbytes <= 32.
 * 0 or -errno. */
int nook_random_hex_into(char *buf, size_t nbytes);

/* The same, allocated (free()); NULL when it fails. */
char *nook_random_hex(size_t nbytes);

#endif
