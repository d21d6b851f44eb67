/* Unit tests of src/userns/layer.c (and the name rules of store.c): tars made in memory
 * with libarchive's writer, unpacked into a temp dir, the result looked at with stat(2)
 * and getxattr(2). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixtures.h"
#include "userns/image.h"
#include "userns/session.h"
#include "util/error.h"
#include "util/rmrf.h"

typedef struct entry {
        const char *name;
        unsigned type; /* AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR, 0 = hard link */
        mode_t mode;
        const char *data; /* content, symlink or hard link target */
        unsigned uid, gid;
} entry;

typedef struct tarbuf {
        char buf[1 << 16];
        size_t used;
} tarbuf;

static void make_tar(tarbuf *t, const entry *e, size_t n) {
        struct archive *a = archive_write_new();
        archive_write_set_format_pax_restricted(a);
        assert_int_equal(archive_write_open_memory(a, t->buf, sizeof(t->buf), &t->used), ARCHIVE_OK);
        for (size_t i = 0; i < n; i++) {
                struct archive_entry *ae = archive_entry_new();
                archive_entry_set_pathname(ae, e[i].name);
                archive_entry_set_perm(ae, e[i].mode);
                archive_entry_set_uid(ae, e[i].uid);
                archive_entry_set_gid(ae, e[i].gid);
                if (e[i].type == 0) {
                        archive_entry_set_filetype(ae, AE_IFREG);
                        archive_entry_set_hardlink(ae, e[i].data);
                } else {
                        archive_entry_set_filetype(ae, e[i].type);
                        if (e[i].type == AE_IFLNK)
                                archive_entry_set_symlink(ae, e[i].data);
                        if (e[i].type == AE_IFCHR)
                                archive_entry_set_rdev(ae, makedev(1, 3));
                        if (e[i].type == AE_IFREG && e[i].data)
                                archive_entry_set_size(ae, (la_int64_t)strlen(e[i].data));
                }
                assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
                if (e[i].type == AE_IFREG && e[i].data)
                        archive_write_data(a, e[i].data, strlen(e[i].data));
                archive_entry_free(ae);
        }
        archive_write_close(a);
        archive_write_free(a);
}

static char dir[64];
static int dfd = -1;

static int setup(void **state) {
        snprintf(dir, sizeof(dir), "/tmp/nook-test-layer.XXXXXX");
        assert_non_null(mkdtemp(dir));
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return dfd < 0;
}

static int teardown(void **state) {
        close(dfd);
        int parent = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        nook_rm_rf_at(parent, dir + 5);
        close(parent);
        return 0;
}

/* Unpacks; returns the result (0 or -errno), the error in *ret_err. */
static int unpack_err(const entry *e, size_t n, nook_layer_stats *st, nook_error **ret_err) {
        tarbuf *t = calloc(1, sizeof(*t));
        make_tar(t, e, n);
        struct archive *a = archive_read_new();
        archive_read_support_format_tar(a);
        assert_int_equal(archive_read_open_memory(a, t->buf, t->used), ARCHIVE_OK);
        nook_layer_limits lim = { .max_bytes = 1 << 20, .max_entries = 100, .max_ratio = 1000 };
        nook_layer_stats local = { 0 };
        int r = nook_layer_unpack(a, dfd, &lim, st ? st : &local, ret_err);
        archive_read_free(a);
        free(t);
        return r;
}

/* The same, any error freed. */
static int unpack(const entry *e, size_t n, nook_layer_stats *st) {
        nook_error *err = NULL;
        int r = unpack_err(e, n, st, &err);
        nook_error_free(err);
        return r;
}

/* Unpacking fails with -e, an InvalidPackage error naming the entry and why. */
static void unpack_fails(const entry *e, size_t n, int errnum, const char *part) {
        nook_error *err = NULL;
        assert_int_equal(unpack_err(e, n, NULL, &err), -errnum);
        nook_test_assert_error(err, NOOK_ERROR_INVALID_PACKAGE, errnum, part);
        assert_int_equal(nook_error_get_retry(err), NOOK_RETRY_NOT_RETRYABLE);
        nook_error_free(err);
}

static mode_t mode_of(const char *path) {
        struct stat s;
        return fstatat(dfd, path, &s, AT_SYMLINK_NOFOLLOW) == 0 ? s.st_mode : 0;
}

static void test_layer_names_are_clamped_into_the_root(void **state) {
        const entry e[] = {
                { "../../x", AE_IFREG, 0644, "x", 0, 0 },
                { "/abs", AE_IFREG, 0644, "a", 0, 0 },
                { "a/../../b", AE_IFREG, 0644, "b", 0, 0 },
                { ".//c/./d", AE_IFREG, 0644, "d", 0, 0 },
        };
        assert_int_equal(unpack(e, 4, NULL), 0);
        assert_true(S_ISREG(mode_of("x")));
        assert_true(S_ISREG(mode_of("abs")));
        assert_true(S_ISREG(mode_of("b")));
        assert_true(S_ISREG(mode_of("c/d")));
}

static void test_layer_refuses_a_write_through_a_symlinked_parent(void **state) {
        const entry e[] = {
                { "s", AE_IFLNK, 0777, "/tmp", 0, 0 },
                { "s/nook-layer-escape", AE_IFREG, 0644, "pwned", 0, 0 },
        };
        /* O_NOFOLLOW | O_DIRECTORY on the symlink "s": ENOTDIR (open(2)) */
        unpack_fails(e, 2, ENOTDIR, "entry 's/nook-layer-escape': a parent is a symlink or not a directory (refused)");
        assert_int_equal(access("/tmp/nook-layer-escape", F_OK), -1);
        assert_int_equal(errno, ENOENT);
}

static void test_layer_hard_links_only_to_earlier_entries(void **state) {
        const entry ok[] = {
                { "t", AE_IFREG, 0600, "target", 0, 0 },
                { "h", 0, 0600, "t", 0, 0 },
        };
        assert_int_equal(unpack(ok, 2, NULL), 0);
        struct stat a, b;
        assert_int_equal(fstatat(dfd, "t", &a, 0), 0);
        assert_int_equal(fstatat(dfd, "h", &b, 0), 0);
        assert_int_equal(a.st_ino, b.st_ino);
        const entry out[] = { { "h2", 0, 0600, "../../../etc/passwd", 0, 0 } };
        /* clamped into the root, the target is etc/passwd of this layer: not there */
        unpack_fails(out, 1, ENOENT,
                     "entry 'h2': a hard link to an entry not extracted before it in this layer (refused)");
        assert_int_equal(mode_of("h2"), 0);
        /* nor to a directory */
        const entry to_dir[] = { { "d", AE_IFDIR, 0755, NULL, 0, 0 }, { "h3", 0, 0600, "d", 0, 0 } };
        /* EISDIR: it was ENOENT, a stale errno from an earlier call, before issue 10 */
        unpack_fails(to_dir, 2, EISDIR,
                     "entry 'h3': a hard link to an entry not extracted before it in this layer (refused)");
        assert_int_equal(mode_of("h3"), 0);
}

/* One ustar header, by hand: libarchive's writer never makes a hard link without a
 * target, which is what the fuzzer found (libarchive then reads file type 0). */
static void raw_header(char *h, const char *name, char typeflag) {
        memset(h, 0, 512);
        snprintf(h, 100, "%s", name);
        memcpy(h + 100, "0000644", 8);
        memcpy(h + 108, "0000000", 8);
        memcpy(h + 116, "0000000", 8);
        memcpy(h + 124, "00000000000", 12);
        memcpy(h + 136, "00000000000", 12);
        h[156] = typeflag;
        memcpy(h + 257, "ustar", 6);
        memcpy(h + 263, "00", 2);
        memset(h + 148, ' ', 8);
        unsigned sum = 0;
        for (int i = 0; i < 512; i++)
                sum += (unsigned char)h[i];
        snprintf(h + 148, 8, "%06o", sum);
}

static void test_layer_skips_a_hard_link_without_target(void **state) {
        static char tar[512 * 4];
        raw_header(tar, "keep", '0');
        raw_header(tar + 512, "keep", '1'); /* no linkname */
        struct archive *a = archive_read_new();
        archive_read_support_format_tar(a);
        assert_int_equal(archive_read_open_memory(a, tar, sizeof(tar)), ARCHIVE_OK);
        nook_layer_limits lim = { .max_bytes = 1 << 20, .max_entries = 100, .max_ratio = 1000 };
        nook_layer_stats st = { 0 };
        nook_error *err = NULL;
        assert_int_equal(nook_layer_unpack(a, dfd, &lim, &st, &err), 0);
        nook_error_free(err);
        archive_read_free(a);
        assert_int_equal(st.skipped, 1);
        assert_true(S_ISREG(mode_of("keep"))); /* the entry it would have replaced is kept */
}

static void test_layer_owners_in_xattr_modes_exact_devices_skipped(void **state) {
        const entry e[] = {
                { "ro", AE_IFDIR, 0555, NULL, 0, 0 },     { "ro/f", AE_IFREG, 0444, "f", 0, 0 },
                { "shadow", AE_IFREG, 0640, "s", 0, 42 }, { "suid", AE_IFREG, 04755, "#!/bin/sh\n", 0, 0 },
                { "null", AE_IFCHR, 0666, NULL, 0, 0 },
        };
        nook_layer_stats st = { 0 };
        assert_int_equal(unpack(e, 5, &st), 0);
        assert_int_equal(mode_of("ro") & 07777, 0555);
        assert_int_equal(mode_of("suid") & 07777, 04755);
        assert_int_equal(mode_of("null"), 0);
        assert_int_equal(st.skipped, 1);
        assert_int_equal(st.foreign_owners, 1);
        char v[64] = "";
        char p[128];
        snprintf(p, sizeof(p), "%s/shadow", dir);
        assert_true(getxattr(p, NOOK_OVERRIDE_XATTR, v, sizeof(v) - 1) > 0);
        assert_string_equal(v, "0:42:0640");
        struct stat s;
        assert_int_equal(fstatat(dfd, "shadow", &s, 0), 0);
        assert_int_equal(s.st_uid, geteuid()); /* stored as the caller's own file */
}

static void test_layer_whiteouts_become_overlay_forms(void **state) {
        const entry e[] = {
                { "etc/.wh.gone", AE_IFREG, 0644, NULL, 0, 0 },
                { "opq/.wh..wh..opq", AE_IFREG, 0644, NULL, 0, 0 },
        };
        assert_int_equal(unpack(e, 2, NULL), 0);
        struct stat s;
        assert_int_equal(fstatat(dfd, "etc/gone", &s, AT_SYMLINK_NOFOLLOW), 0);
        assert_true(S_ISCHR(s.st_mode) && s.st_rdev == makedev(0, 0));
        char p[128], v[4] = "";
        snprintf(p, sizeof(p), "%s/opq", dir);
        assert_int_equal(getxattr(p, NOOK_OPAQUE_XATTR, v, sizeof(v)), 1);
        assert_int_equal(mode_of("opq/.wh..wh..opq"), 0);
        const entry bad[] = { { ".wh...", AE_IFREG, 0644, NULL, 0, 0 } };
        unpack_fails(bad, 1, EINVAL, "entry '.wh...': a malformed whiteout (refused)");
        const entry link[] = { { ".wh.x", AE_IFLNK, 0777, "y", 0, 0 } };
        unpack_fails(link, 1, EINVAL, "entry '.wh.x': a whiteout that is not a plain file (refused)");
}

static void test_layer_root_never_changes_type(void **state) {
        const entry e[] = { { ".", AE_IFLNK, 0777, "/tmp", 0, 0 } };
        unpack_fails(e, 1, EINVAL, "entry '.': the layer root would change type (refused)");
        struct stat s;
        assert_int_equal(fstat(dfd, &s), 0);
        assert_true(S_ISDIR(s.st_mode));
}

static void test_layer_entry_cap(void **state) {
        entry e[101];
        char names[101][8];
        for (int i = 0; i < 101; i++) {
                snprintf(names[i], sizeof(names[i]), "f%d", i);
                e[i] = (entry){ names[i], AE_IFREG, 0644, NULL, 0, 0 };
        }
        assert_int_equal(unpack(e, 101, NULL), -EFBIG);
}

static void test_store_image_names(void **state) {
        char *n = nook_image_name_normalize("debian");
        assert_string_equal(n, "debian:latest");
        free(n);
        n = nook_image_name_normalize("docker.io/library/debian:12");
        assert_string_equal(n, "docker.io/library/debian:12");
        free(n);
        n = nook_image_name_normalize("localhost:5000/app");
        assert_string_equal(n, "localhost:5000/app:latest");
        free(n);
        const char *bad[] = {
                "",     "a b",  "sha256:abc", "x@sha256:00", "/abs",   "trail/",
                "tag:", "a\\b", "l\xef\xbf",  "caf\xc3\xa9", "del\x7f"
        }; /* ASCII only: bad UTF-8, é, DEL */
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_null(nook_image_name_normalize(bad[i]));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_layer_names_are_clamped_into_the_root, setup, teardown),
                cmocka_unit_test_setup_teardown(test_layer_refuses_a_write_through_a_symlinked_parent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_layer_hard_links_only_to_earlier_entries, setup, teardown),
                cmocka_unit_test_setup_teardown(test_layer_skips_a_hard_link_without_target, setup, teardown),
                cmocka_unit_test_setup_teardown(test_layer_owners_in_xattr_modes_exact_devices_skipped, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_layer_whiteouts_become_overlay_forms, setup, teardown),
                cmocka_unit_test_setup_teardown(test_layer_root_never_changes_type, setup, teardown),
                cmocka_unit_test_setup_teardown(test_layer_entry_cap, setup, teardown),
                cmocka_unit_test(test_store_image_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
