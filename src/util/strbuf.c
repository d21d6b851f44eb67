/* nook util — growable string buffer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"

void nook_strbuf_done(nook_strbuf *b) {
        free(b->s);
        *b = (nook_strbuf)NOOK_STRBUF_INIT;
}

static bool grow(nook_strbuf *b, size_t extra) {
        if (b->failed)
                return false;
        if (b->len + extra + 1 <= b->cap)
                return true;
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + extra + 1) {
                if (cap > SIZE_MAX / 2) {
                        b->failed = true;
                        return false;
                }
                cap *= 2;
        }
        char *n = realloc(b->s, cap);
        if (!n) {
                b->failed = true;
                return false;
        }
        b->s = n;
        b->cap = cap;
        return true;
}

bool nook_strbuf_putn(nook_strbuf *b, const char *s, size_t n) {
        if (!grow(b, n))
                return false;
        memcpy(b->s + b->len, s, n);
        b->len += n;
        b->s[b->len] = 0;
        return true;
}

bool nook_strbuf_puts(nook_strbuf *b, const char *s) {
        return nook_strbuf_putn(b, s, strlen(s));
}

static bool vprintf_buf(nook_strbuf *b, const char *fmt, va_list ap) _printf_(2, 0);
static bool vprintf_buf(nook_strbuf *b, const char *fmt, va_list ap) {
        va_list aq;
        va_copy(aq, ap);
        int n = vsnprintf(NULL, 0, fmt, aq);
        va_end(aq);
        if (n < 0 || !grow(b, (size_t)n)) {
                b->failed = true;
                return false;
        }
        vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
        b->len += (size_t)n;
        return true;
}

bool nook_strbuf_printf(nook_strbuf *b, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        bool ok = vprintf_buf(b, fmt, ap);
        va_end(ap);
        return ok;
}

size_t nook_utf8_seq(const unsigned char *p) {
        if (p[0] < 0x80)
                return 1;
        if (p[0] >= 0xc2 && p[0] <= 0xdf)
                return (p[1] & 0xc0) == 0x80 ? 2 : 0;
        if (p[0] >= 0xe0 && p[0] <= 0xef) {
                unsigned char lo = p[0] == 0xe0 ? 0xa0 : 0x80, hi = p[0] == 0xed ? 0x9f : 0xbf;
                return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
        }
        if (p[0] >= 0xf0 && p[0] <= 0xf4) {
                unsigned char lo = p[0] == 0xf0 ? 0x90 : 0x80, hi = p[0] == 0xf4 ? 0x8f : 0xbf;
                return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80 ? 4 : 0;
        }
        return 0;
}

char *nook_utf8_fix(const char *s) {
        nook_strbuf b = NOOK_STRBUF_INIT;
        for (const unsigned char *p = (const unsigned char *)s; *p;) {
                size_t k = nook_utf8_seq(p);
                nook_strbuf_putn(&b, k ? (const char *)p : "\xef\xbf\xbd", k ? k : 3);
                p += k ? k : 1;
        }
        return nook_strbuf_steal(&b);
}

bool nook_strbuf_json_string(nook_strbuf *b, const char *s) {
        nook_strbuf_putn(b, "\"", 1);
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if (*p >= 0x80) {
                        /* invalid UTF-8 (say, a file name in a message) becomes U+FFFD: the
                         * output stays valid JSON */
                        size_t n = nook_utf8_seq(p);
                        if (n) {
                                nook_strbuf_putn(b, (const char *)p, n);
                                p += n - 1;
                        } else
                                nook_strbuf_puts(b, "\ufffd");
                        continue;
                }
                switch (*p) {
                case '"':
                        nook_strbuf_puts(b, "\\\"");
                        break;
                case '\\':
                        nook_strbuf_puts(b, "\\\\");
                        break;
                case '\n':
                        nook_strbuf_puts(b, "\\n");
                        break;
                case '\t':
                        nook_strbuf_puts(b, "\\t");
                        break;
                case '\r':
                        nook_strbuf_puts(b, "\\r");
                        break;
                default:
                        if (*p < 0x20 || *p == 0x7f)
                                nook_strbuf_printf(b, "\\u%04x", *p);
                        else
                                nook_strbuf_putn(b, (const char *)p, 1);
                }
        }
        return nook_strbuf_putn(b, "\"", 1);
}

bool nook_strbuf_json_stringf(nook_strbuf *b, const char *fmt, ...) {
        nook_strbuf tmp = NOOK_STRBUF_INIT;
        va_list ap;
        va_start(ap, fmt);
        vprintf_buf(&tmp, fmt, ap);
        va_end(ap);
        bool ok = !tmp.failed && nook_strbuf_json_string(b, tmp.s ? tmp.s : "");
        nook_strbuf_done(&tmp);
        return ok;
}

char *nook_strbuf_steal(nook_strbuf *b) {
        if (b->failed) {
                nook_strbuf_done(b);
                return NULL;
        }
        if (!b->s) {
                if (!grow(b, 0))
                        return NULL;
                b->s[0] = 0;
        }
        char *s = b->s;
        *b = (nook_strbuf)NOOK_STRBUF_INIT;
        return s;
}

char *nook_strbuf_steal_oom(nook_strbuf *b, bool *oom) {
        char *s = nook_strbuf_steal(b);
        if (!s)
                *oom = true;
        return s;
}

char *nook_asprintf_oom(bool *oom, const char *fmt, ...) {
        char *s = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0) {
                s = NULL;
                *oom = true;
        }
        va_end(ap);
        return s;
}
