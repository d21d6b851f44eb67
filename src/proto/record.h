/* nook proto — the records kept as files in the session dir: "key=value", one a line
 * (the session's state, a process's exit).  Each record is one table of fields (name,
 * type, offset) read and written by one engine; shared with the helpers, so it links
 * nothing but libc and util. */
#ifndef NOOK_PROTO_RECORD_H
#define NOOK_PROTO_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/strbuf.h"

typedef enum nook_rec_type {
        NOOK_REC_STR,   /* char *, owned: written "" when NULL, "" read as NULL */
        NOOK_REC_CHARS, /* char[size]: a value that does not fit is refused */
        NOOK_REC_BOOL,  /* bool: "0" or "1" */
        NOOK_REC_INT,   /* signed integer of size 4 or 8 (int, pid_t, int64_t): decimal */
        NOOK_REC_UINT,  /* unsigned integer of size 4 or 8 (uid_t, uint64_t): decimal digits */
} nook_rec_type;

typedef struct nook_rec_field {
        const char *name; /* the key on disk */
        nook_rec_type type;
        size_t offset;
        size_t size; /* of the member: the integer's width, the CHARS array */
} nook_rec_field;

typedef struct nook_record {
        const nook_rec_field *fields;
        size_t n_fields;
} nook_record;

/* A table line: the key is the member's name, or name given explicitly. */
#define NOOK_REC_NAMED(name, st, member, type) \
        { name, type, offsetof(st, member), sizeof(((st *)0)->member) }
#define NOOK_REC(st, member, type) NOOK_REC_NAMED(#member, st, member, type)
#define NOOK_RECORD(tab) \
        { tab, sizeof(tab) / sizeof((tab)[0]) }

/* Reads the lines of text (len bytes, the last newline optional) into obj.  Empty
 * lines and unknown keys are skipped (a newer writer's fields); a key given twice: the
 * last one wins.  -EINVAL for a NUL byte, a non-empty line without '=', a number that
 * does not parse or fit its field, a bool other than 0/1, a value too long for its
 * CHARS field; -ENOMEM.  On failure obj may hold some values: nook_record_clear it. */
int nook_record_parse(const nook_record *r, const char *text, size_t len, void *obj);
/* The same from fd, read to its end: -EFBIG past max bytes, -errno when read fails. */
int nook_record_read_fd(const nook_record *r, int fd, size_t max, void *obj);
/* Appends obj as "key=value\n" lines in table order.  -EINVAL (nothing appended) when a
 * value holds a newline: it would read back as keys of its own. */
int nook_record_format(const nook_record *r, const void *obj, nook_strbuf *out);
/* Frees the STR fields of obj and sets them to NULL. */
void nook_record_clear(const nook_record *r, void *obj);
/* true when every field's size suits its type (a check for tests). */
bool nook_record_valid(const nook_record *r);

/* A process's exit record (p/<ref>/exit): written by its monitor, or by the holder
 * when the monitor died first; read by nook_exit_record_read. */
typedef struct nook_exit_record {
        bool present;
        int exit_code;
        int signal;
        bool timed_out;
        char killed_by[16];
        uint64_t cpu_ms;
        uint64_t maxrss;
        int64_t finished_ms;
        char exec_failed[40]; /* the setup step that failed, or "" */
        int exec_errno;
        bool monitor_lost; /* recorded by the holder: the monitor had died */
} nook_exit_record;

extern const nook_record nook_exit_record_desc;

#endif
