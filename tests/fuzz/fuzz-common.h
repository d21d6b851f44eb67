/* nook fuzz — what the libFuzzer targets of tests/fuzz share: a private scratch dir,
 * splitting one input into parts, writing files, and aborting with a message when an
 * oracle fails (libFuzzer reports an abort() as a crash and keeps the input). */
#ifndef NOOK_FUZZ_COMMON_H
#define NOOK_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every target defines this (libFuzzer's entry point). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An oracle failed: prints "nook-fuzz: <message>" on fd 2 and aborts. */
_Noreturn void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define FUZZ_CHECK(cond, ...)                   \
        do {                                    \
                if (!(cond))                    \
                        fuzz_fail(__VA_ARGS__); \
        } while (0)

/* A directory of this process's own, made once: under /dev/shm when it is a writable
 * tmpfs (fast, and it keeps user xattrs on Linux >= 6.6), else under $TMPDIR or /tmp.
 * Removed at exit; a crashed run leaves it (nook-fuzz-<target>-<pid>-XXXXXX). */
const char *fuzz_workdir(const char *target);

/* One piece of an input split at a separator. */
typedef struct fuzz_part {
        const uint8_t *data;
        size_t size;
} fuzz_part;

/* Splits data at each occurrence of sep into at most max parts (the last one keeps the
 * rest, separators included); returns how many. */
size_t fuzz_split(const uint8_t *data, size_t size, const char *sep, fuzz_part *parts, size_t max);
/* A NUL-terminated copy of a part (abort on ENOMEM). */
char *fuzz_strdup_part(const fuzz_part *p);

/* Writes size bytes to dirfd/name (created 0600, replaced when present); 0 or -errno. */
int fuzz_write_file(int dirfd, const char *name, const void *data, size_t size);
/* Empties the directory dirfd/name and removes it (nook_rm_rf_at); aborts when it
 * cannot: leftovers would make the next input see state of this one. */
void fuzz_rm_rf(int dirfd, const char *name);

/* Recomputes the header checksum of every ustar/GNU header block in a tar image, so
 * that mutated headers reach the code behind libarchive's checksum test. */
void fuzz_tar_fix_checksums(uint8_t *tar, size_t size);

/* Replaces every occurrence of pattern in *text (length *len) by with; the buffer is
 * reallocated (abort on ENOMEM). */
void fuzz_replace(char **text, size_t *len, const char *pattern, const char *with);

/* The CLI prints usage errors on stderr: a target driving it sends stdio's stderr to
 * /dev/null (fd 2 stays, for libFuzzer and the sanitizers). */
void fuzz_quiet_stderr(void);

#endif
