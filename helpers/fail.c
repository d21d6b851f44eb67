/* nook helpers — hfail (fail.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fail.h"

int hfail(hstatus *st, int err, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
        va_end(ap);
        if (err && n >= 0 && (size_t)n < sizeof(st->msg))
                snprintf(st->msg + n, sizeof(st->msg) - (size_t)n, ": %s", strerror(err));
        st->err = err ? err : EIO;
        return -st->err;
}
