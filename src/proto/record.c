/* nook proto — the "key=value" records of the session dir: one engine reads and writes
 * every record from its field table (record.h); the exit record's table lives here,
 * shared by the monitor and the holder that write it and the client that reads it. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/record.h"

static const nook_rec_field exit_fields[] = {
        NOOK_REC(nook_exit_record, exit_code, NOOK_REC_INT),
        NOOK_REC(nook_exit_record, signal, NOOK_REC_INT),
        NOOK_REC(nook_exit_record, timed_out, NOOK_REC_BOOL),
        NOOK_REC(nook_exit_record, killed_by, NOOK_REC_CHARS),
        NOOK_REC(nook_exit_record, cpu_ms, NOOK_REC_UINT),
        NOOK_REC(nook_exit_record, maxrss, NOOK_REC_UINT),
        NOOK_REC(nook_exit_record, finished_ms, NOOK_REC_INT),
        NOOK_REC(nook_exit_record, exec_failed, NOOK_REC_CHARS),
        NOOK_REC_NAMED("errno", nook_exit_record, exec_errno, NOOK_REC_INT),
        NOOK_REC(nook_exit_record, monitor_lost, NOOK_REC_BOOL),
};

const nook_record nook_exit_record_desc = NOOK_RECORD(exit_fields);

static inline void *slot(const void *obj, size_t offset) {
        return (char *)obj + offset;
}

static bool digits(const char *s) {
        return *s && strspn(s, "0123456789") == strlen(s);
}

/* Decimal only, nothing around it: strtoll/strtoull alone would take " 1", "+1", "1x"
 * and, unsigned, "-1". */
static int parse_int(const nook_rec_field *f, const char *v, void *dst) {
        errno = 0;
        if (f->type == NOOK_REC_INT) {
                if (!digits(v[0] == '-' ? v + 1 : v))
                        return -EINVAL;
                long long n = strtoll(v, NULL, 10);
                if (errno || (f->size == 4 && (n < INT32_MIN || n > INT32_MAX)))
                        return -EINVAL;
                if (f->size == 4)
                        *(int32_t *)dst = (int32_t)n;
                else
                        *(int64_t *)dst = (int64_t)n;
                return 0;
        }
        if (!digits(v))
                return -EINVAL;
        unsigned long long n = strtoull(v, NULL, 10);
        if (errno || (f->size == 4 && n > UINT32_MAX))
                return -EINVAL;
        if (f->size == 4)
                *(uint32_t *)dst = (uint32_t)n;
        else
                *(uint64_t *)dst = (uint64_t)n;
        return 0;
}

static int parse_value(const nook_rec_field *f, const char *v, void *dst) {
        switch (f->type) {
        case NOOK_REC_STR: {
                char *s = *v ? strdup(v) : NULL;
                if (*v && !s)
                        return -ENOMEM;
                free(*(char **)dst);
                *(char **)dst = s;
                return 0;
        }
        case NOOK_REC_CHARS:
                if (strlen(v) >= f->size)
                        return -EINVAL;
                memcpy(dst, v, strlen(v) + 1);
                return 0;
        case NOOK_REC_BOOL:
                if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
                        return -EINVAL;
                *(bool *)dst = v[0] == '1';
                return 0;
        case NOOK_REC_INT:
        case NOOK_REC_UINT:
                return parse_int(f, v, dst);
        }
        return -EINVAL;
}

static const nook_rec_field *lookup(const nook_record *r, const char *key) {
        for (size_t i = 0; i < r->n_fields; i++)
                if (strcmp(r->fields[i].name, key) == 0)
                        return &r->fields[i];
        return NULL;
}

int nook_record_parse(const nook_record *r, const char *text, size_t len, void *obj) {
        if (memchr(text, 0, len))
                return -EINVAL;
        _cleanup_free_ char *copy = strndup(text, len);
        if (!copy)
                return -ENOMEM;
        for (char *line = copy, *next; *line; line = next) {
                next = strchrnul(line, '\n');
                if (*next)
                        *next++ = 0;
                if (!*line)
                        continue;
                char *eq = strchr(line, '=');
                if (!eq)
                        return -EINVAL;
                *eq = 0;
                const nook_rec_field *f = lookup(r, line);
                int e = f ? parse_value(f, eq + 1, slot(obj, f->offset)) : 0;
                if (e < 0)
                        return e;
        }
        return 0;
}

int nook_record_read_fd(const nook_record *r, int fd, size_t max, void *obj) {
        _cleanup_free_ char *buf = malloc(max + 1);
        if (!buf)
                return -ENOMEM;
        size_t len = 0;
        /* one byte past max: a file that grew past the limit is refused, not cut */
        for (ssize_t n; len <= max && (n = read(fd, buf + len, max + 1 - len)) != 0;) {
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                len += (size_t)n;
        }
        return len > max ? -EFBIG : nook_record_parse(r, buf, len, obj);
}

static const char *text_of(const nook_rec_field *f, const void *obj) {
        if (f->type == NOOK_REC_STR)
                return *(char *const *)slot(obj, f->offset);
        return f->type == NOOK_REC_CHARS ? slot(obj, f->offset) : NULL;
}

int nook_record_format(const nook_record *r, const void *obj, nook_strbuf *out) {
        for (size_t i = 0; i < r->n_fields; i++) {
                const char *s = text_of(&r->fields[i], obj);
                if (s && strchr(s, '\n'))
                        return -EINVAL;
        }
        for (size_t i = 0; i < r->n_fields; i++) {
                const nook_rec_field *f = &r->fields[i];
                const void *v = slot(obj, f->offset);
                switch (f->type) {
                case NOOK_REC_STR:
                case NOOK_REC_CHARS: {
                        const char *s = text_of(f, obj);
                        nook_strbuf_printf(out, "%s=%s\n", f->name, s ? s : "");
                        break;
                }
                case NOOK_REC_BOOL:
                        nook_strbuf_printf(out, "%s=%d\n", f->name, *(const bool *)v ? 1 : 0);
                        break;
                case NOOK_REC_INT:
                        nook_strbuf_printf(out, "%s=%" PRId64 "\n", f->name,
                                           f->size == 4 ? (int64_t) * (const int32_t *)v : *(const int64_t *)v);
                        break;
                case NOOK_REC_UINT:
                        nook_strbuf_printf(out, "%s=%" PRIu64 "\n", f->name,
                                           f->size == 4 ? (uint64_t) * (const uint32_t *)v : *(const uint64_t *)v);
                        break;
                }
        }
        return out->failed ? -ENOMEM : 0;
}

void nook_record_clear(const nook_record *r, void *obj) {
        for (size_t i = 0; i < r->n_fields; i++)
                if (r->fields[i].type == NOOK_REC_STR) {
                        char **s = slot(obj, r->fields[i].offset);
                        free(*s);
                        *s = NULL;
                }
}

bool nook_record_valid(const nook_record *r) {
        for (size_t i = 0; i < r->n_fields; i++) {
                const nook_rec_field *f = &r->fields[i];
                bool ok = f->type == NOOK_REC_STR     ? f->size == sizeof(char *)
                          : f->type == NOOK_REC_BOOL  ? f->size == sizeof(bool)
                          : f->type == NOOK_REC_CHARS ? f->size > 0
                                                      : f->size == 4 || f->size == 8;
                if (!ok || lookup(r, f->name) != f)
                        return false;
        }
        return true;
}
