/* nook util — random hex names (random.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

#include "util/random.h"

int nook_random_hex_into(char *buf, size_t nbytes) {
        unsigned char raw[32];
        if (nbytes > sizeof(raw))
                return -EINVAL;
        for (size_t got = 0; got < nbytes;) {
                ssize_t n = getrandom(raw + got, nbytes - got, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                got += (size_t)n;
        }
        for (size_t i = 0; i < nbytes; i++)
                snprintf(buf + 2 * i, 3, "%02x", raw[i]);
        buf[2 * nbytes] = 0;
        return 0;
}

char *nook_random_hex(size_t nbytes) {
        char *s = nbytes <= 32 ? malloc(nbytes * 2 + 1) : NULL;
        if (s && nook_random_hex_into(s, nbytes) < 0) {
                free(s);
                return NULL;
        }
        return s;
}
