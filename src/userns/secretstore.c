/* nook userns — the named secret store: a stub until the keyring store lands. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "userns/secretstore.h"

int nook_secret_store_get(const char *name, void **ret_value, size_t *ret_len, const char **ret_why) {
        (void)name;
        *ret_value = NULL;
        *ret_len = 0;
        if (ret_why)
                *ret_why = NULL;
        return -ENOENT;
}

void nook_secret_store_value_free(void *value, size_t len) {
        if (value)
                explicit_bzero(value, len);
        free(value);
}
