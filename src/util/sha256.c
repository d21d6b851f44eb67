/* nook util — SHA-256 through OpenSSL's libcrypto EVP interface. */
#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

#include "util/sha256.h"

int nook_sha256_digest(const void *data, size_t size, char out[NOOK_DIGEST_LEN + 1]) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        if (!EVP_Digest(data, size, md, &len, EVP_sha256(), NULL) || len != 32)
                return -EIO;
        static const char hex[] = "0123456789abcdef";
        memcpy(out, "sha256:", 7);
        for (unsigned i = 0; i < 32; i++) {
                out[7 + 2 * i] = hex[md[i] >> 4];
                out[7 + 2 * i + 1] = hex[md[i] & 15];
        }
        out[NOOK_DIGEST_LEN] = 0;
        return 0;
}

bool nook_digest_valid(const char *s) {
        if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s) != NOOK_DIGEST_LEN)
                return false;
        for (const char *p = s + 7; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        return true;
}
