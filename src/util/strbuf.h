/* nook util — a growable string buffer; on allocation failure it goes into an
 * error state and nook_strbuf_steal() returns NULL. */
#ifndef NOOK_UTIL_STRBUF_H
#define NOOK_UTIL_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/macro.h"

typedef struct nook_strbuf {
        char *s;
        size_t len;
        size_t cap;
        bool failed;
} nook_strbuf;

#define NOOK_STRBUF_INIT \
        { NULL, 0, 0, false }

void nook_strbuf_done(nook_strbuf *b);
bool nook_strbuf_putn(nook_strbuf *b, const char *s, size_t n);
bool nook_strbuf_puts(nook_strbuf *b, const char *s);
bool nook_strbuf_printf(nook_strbuf *b, const char *fmt, ...) _printf_(2, 3);
/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0 for a byte that starts none: the rule by
 * which nook's JSON writers replace such bytes with U+FFFD. */
size_t nook_utf8_seq(const unsigned char *p);
/* A copy of s with each byte that starts no UTF-8 sequence replaced by U+FFFD (for a JSON
 * library that refuses such strings); NULL when allocation fails. */
char *nook_utf8_fix(const char *s);
/* Appends s as a quoted JSON string (control characters escaped; UTF-8 kept). */
bool nook_strbuf_json_string(nook_strbuf *b, const char *s);
bool nook_strbuf_json_stringf(nook_strbuf *b, const char *fmt, ...) _printf_(2, 3);
/* The NUL-terminated string (never NULL unless allocation failed); the buffer is emptied. */
char *nook_strbuf_steal(nook_strbuf *b);
/* For a builder that checks for memory once, at the end: the string, or NULL with
 * *oom set. */
char *nook_strbuf_steal_oom(nook_strbuf *b, bool *oom);
char *nook_asprintf_oom(bool *oom, const char *fmt, ...) _printf_(2, 3);

#endif
