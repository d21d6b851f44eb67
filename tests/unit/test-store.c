/* Unit tests of src/userns/store.c, the image store under a data dir: opened (and
 * refused) in a temp dir, blobs checked against their digest (S20), names stored and
 * looked up by name, digest or digest prefix, layers committed from a staging dir, and
 * the staging dirs a killed import left swept while a live one is kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "fixtures.h"
#include "userns/image.h"
#include "util/error.h"
#include "util/macro.h"
#include "util/sha256.h"

static char top[PATH_MAX - 64]; /* the test's temp dir */
static char data[PATH_MAX];     /* top/data: the store's data dir */
static nook_store store = { -1, -1, -1, -1, -1, -1, -1, NULL };

static int setup(void **state) {
        if (!nook_test_mkdtemp(top, sizeof(top), "test-store"))
                return -1;
        snprintf(data, sizeof(data), "%s/data", top);
        nook_error *err = NULL;
        int r = nook_store_open(data, true, &store, &err);
        nook_error_free(err);
        return r;
}

static int teardown(void **state) {
        nook_store_close(&store);
        nook_test_rm_rf(top);
        return 0;
}

static void digest_of(const char *text, char out[NOOK_DIGEST_LEN + 1]) {
        assert_int_equal(nook_sha256_digest(text, strlen(text), out), 0);
}

/* Stores text as a blob; its digest in out. */
static void put(const char *text, char out[NOOK_DIGEST_LEN + 1]) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        digest_of(text, out);
        assert_int_equal(nook_store_put_blob(&store, out, text, strlen(text), &err), 0);
        assert_null(err);
}

static bool exists_at(int dirfd, const char *path) {
        struct stat st;
        return fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void test_open_makes_the_layout_private(void **state) {
        const char *dirs[] = { "images", "images/blobs/sha256", "images/names", "images/tmp", "layers" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                struct stat st;
                assert_int_equal(fstatat(store.data_fd, dirs[i], &st, AT_SYMLINK_NOFOLLOW), 0);
                assert_true(S_ISDIR(st.st_mode));
                assert_int_equal(st.st_mode & 07777, 0700);
        }
        assert_true(exists_at(store.images_fd, "lock"));
        assert_string_equal(store.data_dir, data);
        /* opened again, without create: the same store */
        nook_store again;
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_store_open(data, false, &again, &err), 0);
        assert_null(err);
        nook_store_close(&again);
        assert_int_equal(again.data_fd, -1);
        assert_null(again.data_dir);
}

static void test_open_without_create_on_an_empty_dir_says_so(void **state) {
        char empty[PATH_MAX + 8];
        snprintf(empty, sizeof(empty), "%s/empty", top);
        assert_int_equal(mkdir(empty, 0700), 0);
        nook_store s = { 0 };
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_store_open(empty, false, &s, &err), -ENOENT);
        nook_test_assert_error(err, NOOK_ERROR_POLICY_DENIAL, ENOENT, "the image store is empty");
        assert_int_equal(nook_error_get_retry(err), NOOK_RETRY_USER_ACTION_NEEDED);
        assert_int_equal(nook_test_count_entries(empty), 0); /* nothing made */
}

/* S25: a data dir others may enter is refused, with a hint naming the fix */
static void test_open_refuses_a_data_dir_open_to_others(void **state) {
        char open_dir[PATH_MAX + 8];
        snprintf(open_dir, sizeof(open_dir), "%s/shared", top);
        assert_int_equal(mkdir(open_dir, 0700), 0);
        assert_int_equal(chmod(open_dir, 0755), 0);
        nook_store s = { 0 };
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_store_open(open_dir, true, &s, &err), -EPERM);
        nook_test_assert_error(err, NOOK_ERROR_ISOLATION_FAILURE, EPERM, "opening the image store in");
        assert_non_null(strstr(nook_error_get_hint(err), "chmod 700"));
        assert_int_equal(nook_test_count_entries(open_dir), 0);
}

static void test_blobs_are_checked_against_their_digest(void **state) {
        const char *text = "{\"schemaVersion\":2}";
        char d[NOOK_DIGEST_LEN + 1], other[NOOK_DIGEST_LEN + 1];
        digest_of(text, d);
        digest_of("something else", other);
        assert_false(nook_store_has_blob(&store, d));
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_store_put_blob(&store, other, text, strlen(text), &err), -EBADMSG);
        nook_test_assert_error(err, NOOK_ERROR_INVALID_PACKAGE, EBADMSG, "digest mismatch");
        assert_false(nook_store_has_blob(&store, other));
        assert_int_equal(nook_test_count_entries(data), 2); /* images, layers: no temp file anywhere */
        char blobs[PATH_MAX + 32];
        snprintf(blobs, sizeof(blobs), "%s/images/blobs/sha256", data);
        assert_int_equal(nook_test_count_entries(blobs), 0);

        put(text, d);
        put(text, d); /* twice: already there, fine */
        assert_true(nook_store_has_blob(&store, d));
        assert_int_equal(nook_test_count_entries(blobs), 1);
        char *back = NULL;
        size_t len = 0;
        nook_error *e2 = NULL;
        assert_int_equal(nook_store_read_blob(&store, d, 1024, &back, &len, &e2), 0);
        assert_null(e2);
        assert_int_equal(len, strlen(text));
        assert_string_equal(back, text);
        free(back);

        assert_int_equal(nook_store_read_blob(&store, d, strlen(text) - 1, &back, &len, &e2), -EFBIG);
        nook_test_assert_error(e2, NOOK_ERROR_INVALID_PACKAGE, EFBIG, "is larger than 18 bytes");
        e2 = nook_error_free(e2);
        assert_int_equal(nook_store_read_blob(&store, "sha256:../../etc", 1024, &back, &len, &e2), -EINVAL);
        nook_test_assert_error(e2, NOOK_ERROR_INVALID_PACKAGE, EINVAL, "not a sha256 digest: 'sha256:../../etc'");
        e2 = nook_error_free(e2);
        assert_int_equal(nook_store_read_blob(&store, other, 1024, &back, &len, &e2), -ENOENT);
        nook_test_assert_error(e2, NOOK_ERROR_ISOLATION_FAILURE, ENOENT, "of the store: No such file or directory");
        nook_error_free(e2);
        assert_false(nook_store_has_blob(&store, "sha256:short"));
}

static void test_name_normalization(void **state) {
        static const char *const cases[][2] = {
                { "busybox", "busybox:latest" },
                { "busybox:1.36", "busybox:1.36" },
                { "localhost:5000/app", "localhost:5000/app:latest" }, /* a port is no tag */
                { "localhost:5000/app:v2", "localhost:5000/app:v2" },
                { "quay.io/org/sub/img", "quay.io/org/sub/img:latest" },
                { "a_b-c.d", "a_b-c.d:latest" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *n = nook_image_name_normalize(cases[i][0]);
                assert_non_null(n);
                assert_string_equal(n, cases[i][1]);
        }
        static const char *const refused[] = { "",     "a b",    "a\tb",       "x@sha256:00", "sha256:0123",
                                               "/abs", "trail/", "a/b:",       "back\\slash", "nl\n",
                                               "\x01", "\x7f",   "caf\xc3\xa9" };
        for (size_t i = 0; i < ELEMENTSOF(refused); i++)
                assert_null(nook_image_name_normalize(refused[i]));
        char longest[257];
        memset(longest, 'a', 255);
        longest[255] = 0;
        _cleanup_free_ char *n = nook_image_name_normalize(longest);
        assert_non_null(n);
        assert_int_equal(strlen(n), 255 + strlen(":latest"));
        longest[255] = 'a';
        longest[256] = 0;
        assert_null(nook_image_name_normalize(longest));
}

static void lookup_ok(const char *ref, const char *want) {
        char got[NOOK_DIGEST_LEN + 1] = "";
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        if (nook_store_lookup(&store, ref, got, &err) < 0)
                fail_msg("lookup '%s': %s", ref, nook_error_get_message(err));
        assert_string_equal(got, want);
}

static void lookup_fails(const char *ref, int e, const char *part) {
        char got[NOOK_DIGEST_LEN + 1] = "";
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_store_lookup(&store, ref, got, &err), -e);
        nook_test_assert_error(err, NOOK_ERROR_POLICY_DENIAL, e, part);
        assert_int_equal(nook_error_get_retry(err), NOOK_RETRY_USER_ACTION_NEEDED);
}

static void test_names_set_looked_up_and_unset(void **state) {
        char a[NOOK_DIGEST_LEN + 1], b[NOOK_DIGEST_LEN + 1];
        put("{\"manifest\":\"a\"}", a);
        put("{\"manifest\":\"b\"}", b);
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_store_set_name(&store, "docker.io/library/debian:12", a, &err), 0);
        assert_int_equal(nook_store_set_name(&store, "localhost/app:latest", b, &err), 0);
        assert_null(err);
        /* '/' and ':' are encoded: a name is one file, never a path */
        assert_true(exists_at(store.names_fd, "docker.io%2Flibrary%2Fdebian%3A12"));
        assert_true(exists_at(store.names_fd, "localhost%2Fapp%3Alatest"));
        char names[PATH_MAX + 32];
        snprintf(names, sizeof(names), "%s/images/names", data);
        assert_int_equal(nook_test_count_entries(names), 2); /* no temp file left */

        lookup_ok("docker.io/library/debian:12", a);
        lookup_ok("app", b); /* a short name finds localhost/NAME, as podman's does */
        lookup_ok("app:latest", b);
        lookup_ok(a, a); /* a digest in the store */
        char pinned[NOOK_DIGEST_LEN + 16];
        snprintf(pinned, sizeof(pinned), "app@%s", a); /* NAME@DIGEST: the digest decides */
        lookup_ok(pinned, a);
        lookup_fails("docker.io/library/debian", ENOENT, "no image 'docker.io/library/debian' in the store");
        lookup_fails("debian:12", ENOENT, "no image 'debian:12' in the store");

        /* a name set again points to the new digest */
        assert_int_equal(nook_store_set_name(&store, "docker.io/library/debian:12", b, &err), 0);
        lookup_ok("docker.io/library/debian:12", b);

        assert_int_equal(nook_store_unset_name(&store, "docker.io/library/debian:12"), 0);
        lookup_fails("docker.io/library/debian:12", ENOENT, "no image 'docker.io/library/debian:12'");
        assert_int_equal(nook_store_unset_name(&store, "docker.io/library/debian:12"), -ENOENT);
        assert_int_equal(nook_test_count_entries(names), 1);
}

static void test_lookup_by_digest_and_prefix(void **state) {
        char a[NOOK_DIGEST_LEN + 1], missing[NOOK_DIGEST_LEN + 1];
        put("{\"manifest\":\"prefix\"}", a);
        digest_of("never stored", missing);
        char msg[128];
        snprintf(msg, sizeof(msg), "no image %s in the store", missing);
        lookup_fails(missing, ENOENT, msg);

        char prefix[20];
        snprintf(prefix, sizeof(prefix), "%.12s", a + 7); /* as `nook images` shows it */
        lookup_ok(prefix, a);
        snprintf(prefix, sizeof(prefix), "%.11s", a + 7); /* too short to be a prefix */
        lookup_fails(prefix, ENOENT, "no image '");

        /* two blobs sharing the prefix: refused, never a guess; one more digit decides */
        char hex[65];
        memset(hex, 'e', 64);
        hex[64] = 0;
        for (int i = 0; i < 2; i++) {
                hex[20] = (char)('0' + i);
                int fd = openat(store.blobs_fd, hex, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
                assert_true(fd >= 0);
                close(fd);
        }
        lookup_fails("eeeeeeeeeeeeeeee", EEXIST, "'eeeeeeeeeeeeeeee' matches more than one blob");
        char want[NOOK_DIGEST_LEN + 1];
        snprintf(want, sizeof(want), "sha256:%s", hex);
        hex[21] = 0;
        lookup_ok(hex, want);
}

/* a name file that does not hold a digest names nothing */
static void test_damaged_name_file_names_nothing(void **state) {
        int fd = openat(store.names_fd, "broken%3Alatest", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        const char junk[] = "sha256:not-a-digest-at-all-but-long-enough-to-be-read-as-one-xxxxxxx\n";
        assert_int_equal(write(fd, junk, sizeof(junk) - 1), (ssize_t)sizeof(junk) - 1);
        close(fd);
        lookup_fails("broken", ENOENT, "no image 'broken' in the store");
}

static void test_layers_commit_from_staging(void **state) {
        char d[NOOK_DIGEST_LEN + 1];
        digest_of("layer bytes", d);
        assert_false(nook_store_has_layer(&store, d));
        assert_false(nook_store_has_layer(&store, "sha256:../../etc"));
        nook_staging t;
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_store_staging(&store, &t, &err), 0);
        assert_null(err);
        char want[32];
        snprintf(want, sizeof(want), "import-%d-", (int)getpid());
        assert_memory_equal(t.name, want, strlen(want));
        assert_int_equal(strlen(t.name), strlen(want) + 16);
        assert_int_equal(mkdirat(t.fd, "x", 0700), 0);
        assert_int_equal(mkdirat(t.fd, "x/diff", 0700), 0);

        assert_int_equal(nook_store_commit_layer(&store, &t, "x", "sha256:nothex", &err), -EINVAL);
        nook_test_assert_error(err, NOOK_ERROR_INVALID_PACKAGE, EINVAL, "not a sha256 digest: 'sha256:nothex'");
        err = nook_error_free(err);
        assert_int_equal(nook_store_commit_layer(&store, &t, "x", d, &err), 0);
        assert_null(err);
        assert_true(nook_store_has_layer(&store, d));
        assert_false(exists_at(t.fd, "x"));

        /* the same layer again (a concurrent import won): fine, the first one stays */
        assert_int_equal(mkdirat(t.fd, "y", 0700), 0);
        assert_int_equal(mkdirat(t.fd, "y/diff", 0700), 0);
        assert_int_equal(mkdirat(t.fd, "y/diff/other", 0700), 0);
        assert_int_equal(nook_store_commit_layer(&store, &t, "y", d, &err), 0);
        char p[100];
        snprintf(p, sizeof(p), "%s/diff/other", d + 7);
        assert_false(exists_at(store.layers_fd, p));

        /* a staged name that is not there */
        assert_int_equal(nook_store_commit_layer(&store, &t, "gone",
                                                 "sha256:"
                                                 "0000000000000000000000000000000000000000000000000000000000000000",
                                                 &err),
                         -ENOENT);
        nook_test_assert_error(err, NOOK_ERROR_ISOLATION_FAILURE, ENOENT,
                               "moving layer sha256:000000000000 into the store");

        char name[64];
        snprintf(name, sizeof(name), "%s", t.name);
        nook_store_staging_done(&store, &t);
        assert_false(exists_at(store.tmp_fd, name));
        assert_int_equal(t.fd, -1);
        assert_int_equal(t.name[0], 0);

        /* a layer dir without its diff is not a layer */
        char other[NOOK_DIGEST_LEN + 1];
        digest_of("half", other);
        assert_int_equal(mkdirat(store.layers_fd, other + 7, 0700), 0);
        assert_false(nook_store_has_layer(&store, other));
}

static void make_leftover(const char *name, bool with_lock) {
        assert_int_equal(mkdirat(store.tmp_fd, name, 0700), 0);
        char p[128];
        snprintf(p, sizeof(p), "%s/layer", name);
        assert_int_equal(mkdirat(store.tmp_fd, p, 0700), 0);
        snprintf(p, sizeof(p), "%s/layer/diff", name);
        assert_int_equal(mkdirat(store.tmp_fd, p, 0700), 0);
        if (with_lock) {
                snprintf(p, sizeof(p), "%s/.lock", name);
                int fd = openat(store.tmp_fd, p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
                assert_true(fd >= 0);
                close(fd);
        }
}

/* A staging dir whose lock nobody holds was left by a killed import: swept; the one a
 * live import holds stays, and so do names starting with a dot. */
static void test_sweep_removes_only_abandoned_staging_dirs(void **state) {
        nook_staging live;
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_store_staging(&store, &live, &err), 0);
        make_leftover("import-1-dead", true);
        make_leftover("import-2-nolock", false);
        make_leftover(".hidden", false);
        assert_int_equal(nook_store_sweep(&store), 2);
        assert_true(exists_at(store.tmp_fd, live.name));
        assert_true(exists_at(store.tmp_fd, ".hidden"));
        assert_false(exists_at(store.tmp_fd, "import-1-dead"));
        assert_false(exists_at(store.tmp_fd, "import-2-nolock"));
        assert_int_equal(nook_store_sweep(&store), 0);
        /* once its importer lets go, it is abandoned too */
        assert_int_equal(flock(live.lock_fd, LOCK_UN), 0);
        assert_int_equal(nook_store_sweep(&store), 1);
        assert_false(exists_at(store.tmp_fd, live.name));
        nook_store_staging_done(&store, &live);
}

static void test_image_load_reads_manifest_and_config(void **state) {
        char cfg[NOOK_DIGEST_LEN + 1], l1[NOOK_DIGEST_LEN + 1], l2[NOOK_DIGEST_LEN + 1], m[NOOK_DIGEST_LEN + 1];
        put("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/bin\",\"A=b\"],"
            "\"Entrypoint\":[\"/bin/sh\",\"-c\"],\"Cmd\":[\"echo hi\"],\"WorkingDir\":\"/w\",\"User\":\"1:2\"}}",
            cfg);
        digest_of("layer one", l1);
        digest_of("layer two", l2);
        char text[1024];
        snprintf(text, sizeof(text),
                 "{\"config\":{\"digest\":\"%s\"},\"layers\":[{\"digest\":\"%s\"},{\"digest\":\"%s\"}]}", cfg, l1, l2);
        put(text, m);
        /* the per-layer facts import writes next to each diff dir */
        char p[100];
        snprintf(p, sizeof(p), "%s", l1 + 7);
        assert_int_equal(mkdirat(store.layers_fd, p, 0700), 0);
        snprintf(p, sizeof(p), "%s/info", l1 + 7);
        int fd = openat(store.layers_fd, p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        const char info[] = "entries=3\nbytes=1000\nforeign_owners=2\n";
        assert_int_equal(write(fd, info, sizeof(info) - 1), (ssize_t)sizeof(info) - 1);
        close(fd);

        nook_image im;
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_image_load(&store, m, &im, &err), 0);
        assert_null(err);
        assert_string_equal(im.digest, m);
        assert_string_equal(im.config_digest, cfg);
        assert_int_equal(im.n_layers, 2);
        assert_string_equal(im.layers[0], l1);
        assert_string_equal(im.layers[1], l2);
        assert_null(im.layers[2]);
        assert_string_equal(im.architecture, "amd64");
        assert_string_equal(im.os, "linux");
        assert_string_equal(im.env[1], "A=b");
        assert_null(im.env[2]);
        assert_string_equal(im.entrypoint[1], "-c");
        assert_string_equal(im.cmd[0], "echo hi");
        assert_string_equal(im.workdir, "/w");
        assert_string_equal(im.user, "1:2");
        assert_int_equal(im.size, 1000);
        assert_int_equal(im.foreign_owners, 2);
        nook_image_clear(&im);
        assert_null(im.layers);

        /* the start path's variant: no per-layer facts */
        assert_int_equal(nook_image_load_from(data, m, false, &im, &err), 0);
        assert_int_equal(im.n_layers, 2);
        assert_int_equal(im.size, 0);
        nook_image_clear(&im);
}

static void test_image_load_refuses_a_damaged_manifest(void **state) {
        char m[NOOK_DIGEST_LEN + 1], bad_layer[NOOK_DIGEST_LEN + 1], cfg[NOOK_DIGEST_LEN + 1];
        put("{\"layers\":[]}", m);
        nook_image im;
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_image_load(&store, m, &im, &err), -EBADMSG);
        char part[64];
        snprintf(part, sizeof(part), "image %.19s: its manifest in the store is damaged", m);
        nook_test_assert_error(err, NOOK_ERROR_INVALID_PACKAGE, EBADMSG, part);
        err = nook_error_free(err);

        digest_of("config", cfg);
        char text[512];
        snprintf(text, sizeof(text), "{\"config\":{\"digest\":\"%s\"},\"layers\":[{\"digest\":\"sha256:12\"}]}", cfg);
        put(text, bad_layer);
        assert_int_equal(nook_image_load(&store, bad_layer, &im, &err), -EBADMSG);
        nook_test_assert_error(err, NOOK_ERROR_INVALID_PACKAGE, EBADMSG, "layer 0 of its manifest is damaged");
        err = nook_error_free(err);

        /* the config blob is missing: the image is damaged, the user can repair it */
        char ok[NOOK_DIGEST_LEN + 1];
        snprintf(text, sizeof(text), "{\"config\":{\"digest\":\"%s\"},\"layers\":[]}", cfg);
        put(text, ok);
        assert_int_equal(nook_image_load(&store, ok, &im, &err), -ENOENT);
        nook_test_assert_error(err, NOOK_ERROR_INVALID_PACKAGE, ENOENT, "its config is missing from the store");
        assert_int_equal(nook_error_get_retry(err), NOOK_RETRY_USER_ACTION_NEEDED);
}

/* A manifest gone from the store, or whose bytes changed, is a damaged image the user
 * repairs by importing it again: InvalidPackage, UserActionNeeded (never a retry), the
 * image named by its name and short digest, the store's path in the hint only. */
static void test_image_load_names_a_missing_or_changed_manifest(void **state) {
        char cfg[NOOK_DIGEST_LEN + 1], m[NOOK_DIGEST_LEN + 1];
        put("{\"architecture\":\"amd64\"}", cfg);
        char text[512];
        snprintf(text, sizeof(text), "{\"config\":{\"digest\":\"%s\"},\"layers\":[]}", cfg);
        put(text, m);
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_store_set_name(&store, "localhost/damaged:1", m, &err), 0);

        assert_int_equal(unlinkat(store.blobs_fd, m + 7, 0), 0);
        nook_image im;
        assert_int_equal(nook_image_load_from(data, m, false, &im, &err), -ENOENT);
        char part[128];
        snprintf(part, sizeof(part), "image localhost/damaged:1 (%.19s): its manifest is missing from the store", m);
        nook_test_assert_error(err, NOOK_ERROR_INVALID_PACKAGE, ENOENT, part);
        assert_int_equal(nook_error_get_retry(err), NOOK_RETRY_USER_ACTION_NEEDED);
        assert_null(strstr(nook_error_get_message(err), data));
        assert_non_null(strstr(nook_error_get_hint(err), "nook image import FILE --name localhost/damaged:1"));
        assert_non_null(strstr(nook_error_get_hint(err), data));
        err = nook_error_free(err);

        /* the same bytes with one changed: a blob is checked against its digest */
        text[strlen(text) - 2] = ' ';
        int fd = openat(store.blobs_fd, m + 7, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
        assert_int_equal(nook_image_load(&store, m, &im, &err), -EBADMSG);
        nook_test_assert_error(err, NOOK_ERROR_INVALID_PACKAGE, EBADMSG,
                               "its manifest in the store is damaged (its bytes do not match its digest)");
        assert_int_equal(nook_error_get_retry(err), NOOK_RETRY_USER_ACTION_NEEDED);
        err = nook_error_free(err);

        /* storing the blob again (an import) repairs it */
        snprintf(text, sizeof(text), "{\"config\":{\"digest\":\"%s\"},\"layers\":[]}", cfg);
        char again[NOOK_DIGEST_LEN + 1];
        put(text, again);
        assert_string_equal(again, m);
        assert_int_equal(nook_image_load(&store, m, &im, &err), 0);
        assert_null(err);
        assert_string_equal(im.architecture, "amd64");
        nook_image_clear(&im);
}

static void test_oci_arch_names_this_machine(void **state) {
        struct utsname u;
        assert_int_equal(uname(&u), 0);
        static const char *const known[][2] = { { "x86_64", "amd64" }, { "aarch64", "arm64" }, { "armv7l", "arm" } };
        for (size_t i = 0; i < ELEMENTSOF(known); i++)
                if (strcmp(u.machine, known[i][0]) == 0) {
                        assert_string_equal(nook_oci_arch(), known[i][1]);
                        return;
                }
        skip();
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_open_makes_the_layout_private, setup, teardown),
                cmocka_unit_test_setup_teardown(test_open_without_create_on_an_empty_dir_says_so, setup, teardown),
                cmocka_unit_test_setup_teardown(test_open_refuses_a_data_dir_open_to_others, setup, teardown),
                cmocka_unit_test_setup_teardown(test_blobs_are_checked_against_their_digest, setup, teardown),
                cmocka_unit_test(test_name_normalization),
                cmocka_unit_test_setup_teardown(test_names_set_looked_up_and_unset, setup, teardown),
                cmocka_unit_test_setup_teardown(test_lookup_by_digest_and_prefix, setup, teardown),
                cmocka_unit_test_setup_teardown(test_damaged_name_file_names_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_layers_commit_from_staging, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sweep_removes_only_abandoned_staging_dirs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_image_load_reads_manifest_and_config, setup, teardown),
                cmocka_unit_test_setup_teardown(test_image_load_refuses_a_damaged_manifest, setup, teardown),
                cmocka_unit_test_setup_teardown(test_image_load_names_a_missing_or_changed_manifest, setup, teardown),
                cmocka_unit_test(test_oci_arch_names_this_machine),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
