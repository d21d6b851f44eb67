/* What unit tests share: a private temp dir under $TMPDIR and its removal, counting the
 * entries of a dir (and so this process's open fds), and an exact check of a nook_error.
 * Include after <cmocka.h>; every function is static inline, so a test that uses only
 * some of them builds warning-free. */
#ifndef NOOK_TESTS_UNIT_FIXTURES_H
#define NOOK_TESTS_UNIT_FIXTURES_H

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nook/error.h"

/* Removes path and everything below it, making dirs searchable first (tests leave
 * 0000 dirs behind on purpose).  Never follows a symlink. */
static inline void nook_test_rm_rf(const char *path) {
        struct stat st;
        if (lstat(path, &st) < 0)
                return;
        if (!S_ISDIR(st.st_mode)) {
                unlink(path);
                return;
        }
        chmod(path, 0700);
        DIR *d = opendir(path);
        for (struct dirent *e; d && (e = readdir(d));) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                        continue;
                char *sub = NULL;
                if (asprintf(&sub, "%s/%s", path, e->d_name) < 0)
                        continue;
                nook_test_rm_rf(sub);
                free(sub);
        }
        if (d)
                closedir(d);
        rmdir(path);
}

/* Makes <$TMPDIR or /tmp>/<prefix>.XXXXXX (mode 0700) into buf; false on failure. */
static inline bool nook_test_mkdtemp(char *buf, size_t size, const char *prefix) {
        const char *t = getenv("TMPDIR");
        int n = snprintf(buf, size, "%s/%s.XXXXXX", t && *t ? t : "/tmp", prefix);
        return n > 0 && (size_t)n < size && mkdtemp(buf) != NULL;
}

/* Entries of dir, "." and ".." not counted. */
static inline size_t nook_test_count_entries(const char *dir) {
        DIR *d = opendir(dir);
        assert_non_null(d);
        size_t n = 0;
        for (struct dirent *e; (e = readdir(d));)
                if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                        n++;
        closedir(d);
        return n;
}

/* This process's open fds (the one opendir holds included). */
static inline size_t nook_test_count_fds(void) {
        return nook_test_count_entries("/proc/self/fd");
}

/* err is set, of that kind and errno, and its message contains part. */
static inline void nook_test_assert_error(const nook_error *err, nook_error_kind kind, int errnum, const char *part) {
        assert_non_null(err);
        assert_string_equal(nook_error_kind_name(nook_error_get_kind(err)), nook_error_kind_name(kind));
        assert_int_equal(nook_error_get_errno(err), errnum);
        const char *msg = nook_error_get_message(err);
        assert_non_null(msg);
        if (!strstr(msg, part))
                fail_msg("error message '%s' does not contain '%s'", msg, part);
}

#endif
