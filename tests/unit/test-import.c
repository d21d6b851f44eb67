/* Unit tests of src/userns/import.c on OCI image layouts built in a temp dir (blobs
 * written here, a layer tar made with libarchive): the manifest an index picks (by tag,
 * by this machine's architecture in a nested index, refused when ambiguous), digests and
 * media types checked before anything is named (S20), and a second import reusing the
 * layer.  No namespace is needed: import only unpacks into the store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixtures.h"
#include "userns/image.h"
#include "util/error.h"
#include "util/macro.h"
#include "util/sha256.h"

#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define LAYER_TAR "application/vnd.oci.image.layer.v1.tar"

static char top[PATH_MAX - 256];
static char layout[PATH_MAX - 128], data[PATH_MAX];
static nook_adapter_config cfg;

typedef struct blob {
        char digest[NOOK_DIGEST_LEN + 1];
        size_t size;
} blob;

static int setup(void **state) {
        if (!nook_test_mkdtemp(top, sizeof(top), "test-import"))
                return -1;
        snprintf(layout, sizeof(layout), "%s/layout", top);
        snprintf(data, sizeof(data), "%s/data", top);
        cfg = (nook_adapter_config){ .data_dir = data, .run_dir = top };
        char p[PATH_MAX + 32];
        assert_int_equal(mkdir(layout, 0700), 0);
        snprintf(p, sizeof(p), "%s/blobs", layout);
        assert_int_equal(mkdir(p, 0700), 0);
        snprintf(p, sizeof(p), "%s/blobs/sha256", layout);
        assert_int_equal(mkdir(p, 0700), 0);
        return 0;
}

static int teardown(void **state) {
        nook_test_rm_rf(top);
        return 0;
}

static void write_at(const char *rel, const void *bytes, size_t n) {
        char p[PATH_MAX + 200];
        snprintf(p, sizeof(p), "%s/%s", layout, rel);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, bytes, n), (ssize_t)n);
        close(fd);
}

/* A blob of the layout; stored under its digest unless tamper, then other bytes are. */
static blob put_blob(const void *bytes, size_t n, bool tamper) {
        blob b = { .size = n };
        assert_int_equal(nook_sha256_digest(bytes, n, b.digest), 0);
        char rel[100];
        snprintf(rel, sizeof(rel), "blobs/sha256/%s", b.digest + 7);
        if (!tamper)
                write_at(rel, bytes, n);
        else {
                char *copy = malloc(n);
                assert_non_null(copy);
                memcpy(copy, bytes, n);
                copy[n - 1] ^= 1;
                write_at(rel, copy, n);
                free(copy);
        }
        return b;
}

static blob put_text(const char *text, bool tamper) {
        return put_blob(text, strlen(text), tamper);
}

/* A layer: one file "hello" holding "hi\n". */
static blob put_layer(bool tamper) {
        static char buf[16384];
        size_t used = 0;
        struct archive *a = archive_write_new();
        archive_write_set_format_pax_restricted(a);
        assert_int_equal(archive_write_open_memory(a, buf, sizeof(buf), &used), ARCHIVE_OK);
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, "hello");
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, 3);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        assert_int_equal(archive_write_data(a, "hi\n", 3), 3);
        archive_entry_free(e);
        archive_write_close(a);
        archive_write_free(a);
        return put_blob(buf, used, tamper);
}

static blob put_config(const char *arch) {
        char text[512];
        snprintf(text, sizeof(text),
                 "{\"architecture\":\"%s\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/hello\"]},"
                 "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
                 arch);
        return put_text(text, false);
}

static blob put_manifest(const blob *config, const blob *layer, const char *layer_type, bool tamper) {
        char text[1024];
        snprintf(text, sizeof(text),
                 "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MANIFEST "\",\"config\":{\"mediaType\":"
                 "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},\"layers\":[{"
                 "\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}]}",
                 config->digest, config->size, layer_type, layer->digest, layer->size);
        return put_text(text, tamper);
}

/* index.json (or, with put, a nested index blob) listing entries: each is
 * {mediaType, digest, size[, annotations | platform]} spliced from the strings. */
static void write_index(const char *const *entries, size_t n) {
        char text[4096] = "{\"schemaVersion\":2,\"manifests\":[";
        for (size_t i = 0; i < n; i++)
                snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%s", i ? "," : "", entries[i]);
        strcat(text, "]}");
        write_at("index.json", text, strlen(text));
        write_at("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
}

static char *entry(const char *type, const blob *b, const char *extra) {
        char *s = NULL;
        assert_true(asprintf(&s, "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu%s%s}", type, b->digest, b->size,
                             extra ? "," : "", extra ? extra : "") > 0);
        return s;
}

#define TAGGED(t) "\"annotations\":{\"org.opencontainers.image.ref.name\":\"" t "\"}"

/* The usual image: one manifest tagged ref; its manifest digest in ret (may be NULL). */
static void simple_layout(const char *ref, blob *ret) {
        blob layer = put_layer(false), config = put_config(nook_oci_arch());
        blob m = put_manifest(&config, &layer, LAYER_TAR, false);
        char extra[128];
        snprintf(extra, sizeof(extra), "\"annotations\":{\"org.opencontainers.image.ref.name\":\"%s\"}", ref);
        _cleanup_free_ char *e = entry(OCI_MANIFEST, &m, extra);
        const char *const entries[] = { e };
        write_index(entries, 1);
        if (ret)
                *ret = m;
}

static int import(const char *source, const char *name, char **ret_json, nook_error **err) {
        nook_import_options o = NOOK_IMPORT_OPTIONS_INIT;
        o.source = source;
        o.name = name;
        *ret_json = NULL;
        return nook_image_import(&cfg, &o, ret_json, err);
}

static void import_fails(const char *source, const char *name, nook_error_kind kind, int e, const char *part) {
        _cleanup_free_ char *json = NULL;
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(import(source, name, &json, &err), -e);
        assert_null(json);
        nook_test_assert_error(err, kind, e, part);
}

static void assert_json_has(const char *json, const char *part) {
        if (!strstr(json, part))
                fail_msg("'%s' not in %s", part, json);
}

/* nothing named, no layer: the store as a failed import must leave it */
static void assert_store_has_no_image(void) {
        char p[PATH_MAX + 32];
        snprintf(p, sizeof(p), "%s/images/names", data);
        struct stat st;
        if (stat(p, &st) == 0)
                assert_int_equal(nook_test_count_entries(p), 0);
        snprintf(p, sizeof(p), "%s/layers", data);
        if (stat(p, &st) == 0)
                assert_int_equal(nook_test_count_entries(p), 0);
        snprintf(p, sizeof(p), "%s/images/tmp", data);
        if (stat(p, &st) == 0)
                assert_int_equal(nook_test_count_entries(p), 0);
}

static void test_layout_imports_named_by_its_ref_and_reuses_layers(void **state) {
        blob m;
        simple_layout("example.org/hello:1", &m);
        _cleanup_free_ char *json = NULL;
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        if (import(layout, NULL, &json, &err) < 0)
                fail_msg("import: %s", nook_error_get_message(err));
        assert_json_has(json, "\"name\":\"example.org/hello:1\"");
        char part[128];
        snprintf(part, sizeof(part), "\"digest\":\"%s\"", m.digest);
        assert_json_has(json, part);
        assert_json_has(json, "\"layers\":1,\"unpacked\":1,\"reused\":0,\"size\":3,\"entries\":1");

        /* the layer's file, unpacked, and the name that finds the manifest */
        nook_store s;
        assert_int_equal(nook_store_open(data, false, &s, &err), 0);
        char got[NOOK_DIGEST_LEN + 1];
        assert_int_equal(nook_store_lookup(&s, "example.org/hello:1", got, &err), 0);
        assert_string_equal(got, m.digest);
        nook_image im;
        assert_int_equal(nook_image_load(&s, got, &im, &err), 0);
        assert_int_equal(im.n_layers, 1);
        assert_true(nook_store_has_layer(&s, im.layers[0]));
        char p[200];
        snprintf(p, sizeof(p), "%s/diff/hello", im.layers[0] + 7);
        int fd = openat(s.layers_fd, p, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        char buf[8] = "";
        assert_int_equal(read(fd, buf, sizeof(buf)), 3);
        close(fd);
        assert_string_equal(buf, "hi\n");
        assert_string_equal(im.cmd[0], "/hello");
        nook_image_clear(&im);
        nook_store_close(&s);

        /* again, under another name: the layer is reused, nothing unpacked */
        free(json);
        assert_int_equal(import(layout, "again", &json, &err), 0);
        assert_json_has(json, "\"name\":\"again:latest\"");
        assert_json_has(json, "\"layers\":1,\"unpacked\":0,\"reused\":1");
}

static void test_a_tag_after_the_dir_selects_the_manifest(void **state) {
        blob layer = put_layer(false), config = put_config(nook_oci_arch());
        blob m1 = put_manifest(&config, &layer, LAYER_TAR, false);
        blob m2 = put_manifest(&config, &layer, "application/vnd.oci.image.layer.v1.tar+gzip", false);
        _cleanup_free_ char *e1 = entry(OCI_MANIFEST, &m1, TAGGED("one"));
        _cleanup_free_ char *e2 = entry(OCI_MANIFEST, &m2, TAGGED("two"));
        const char *const entries[] = { e1, e2 };
        write_index(entries, 2);

        /* no tag given, two manifests: refused, never a guess */
        import_fails(layout, NULL, NOOK_ERROR_INVALID_PACKAGE, EEXIST,
                     ": 2 manifests match (no tag given): ambiguous, refused");
        char src[PATH_MAX + 8];
        snprintf(src, sizeof(src), "%s:nope", layout);
        import_fails(src, NULL, NOOK_ERROR_INVALID_PACKAGE, ENOENT, ": no image tagged nope in the index");
        assert_store_has_no_image();

        snprintf(src, sizeof(src), "%s:one", layout);
        _cleanup_free_ char *json = NULL;
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        if (import(src, NULL, &json, &err) < 0)
                fail_msg("import: %s", nook_error_get_message(err));
        char part[128];
        snprintf(part, sizeof(part), "\"digest\":\"%s\"", m1.digest);
        assert_json_has(json, part);
        assert_json_has(json, "\"name\":\"layout:one\""); /* the dir's name and the tag */

        snprintf(src, sizeof(src), "%s@%s", layout, m2.digest);
        free(json);
        json = NULL;
        assert_int_equal(import(src, "by-digest", &json, &err), 0);
        snprintf(part, sizeof(part), "\"digest\":\"%s\"", m2.digest);
        assert_json_has(json, part);
}

/* a multi-platform image: the nested index's manifest for this machine */
static void test_nested_index_picks_this_architecture(void **state) {
        blob layer = put_layer(false);
        blob mine_cfg = put_config(nook_oci_arch()), other_cfg = put_config("nookarch");
        blob mine = put_manifest(&mine_cfg, &layer, LAYER_TAR, false);
        blob other = put_manifest(&other_cfg, &layer, LAYER_TAR, false);
        char plat[96], text[2048];
        snprintf(plat, sizeof(plat), "\"platform\":{\"architecture\":\"%s\",\"os\":\"linux\"}", nook_oci_arch());
        _cleanup_free_ char *eo = entry(OCI_MANIFEST, &other, "\"platform\":{\"architecture\":\"nookarch\"}");
        _cleanup_free_ char *em = entry(OCI_MANIFEST, &mine, plat);
        snprintf(text, sizeof(text), "{\"schemaVersion\":2,\"mediaType\":\"" OCI_INDEX "\",\"manifests\":[%s,%s]}", eo,
                 em);
        blob inner = put_text(text, false);
        _cleanup_free_ char *ei = entry(OCI_INDEX, &inner, TAGGED("multi"));
        const char *const entries[] = { ei };
        write_index(entries, 1);
        _cleanup_free_ char *json = NULL;
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        if (import(layout, NULL, &json, &err) < 0)
                fail_msg("import: %s", nook_error_get_message(err));
        char part[128];
        snprintf(part, sizeof(part), "\"digest\":\"%s\"", mine.digest);
        assert_json_has(json, part);
}

static void test_image_for_another_platform_is_refused(void **state) {
        blob layer = put_layer(false), config = put_config("nookarch");
        blob m = put_manifest(&config, &layer, LAYER_TAR, false);
        _cleanup_free_ char *e = entry(OCI_MANIFEST, &m, TAGGED("x"));
        const char *const entries[] = { e };
        write_index(entries, 1);
        char part[128];
        snprintf(part, sizeof(part), ": the image is for linux/nookarch, this machine is linux/%s", nook_oci_arch());
        import_fails(layout, NULL, NOOK_ERROR_INVALID_PACKAGE, ENOEXEC, part);
        assert_store_has_no_image();
}

/* S20: a layer whose bytes are not its digest is found out while streaming; nothing of
 * the image is named and no layer enters the store */
static void test_tampered_layer_is_refused_and_nothing_stored(void **state) {
        blob layer = put_layer(true), config = put_config(nook_oci_arch());
        blob m = put_manifest(&config, &layer, LAYER_TAR, false);
        _cleanup_free_ char *e = entry(OCI_MANIFEST, &m, TAGGED("x"));
        const char *const entries[] = { e };
        write_index(entries, 1);
        char part[160];
        snprintf(part, sizeof(part), ": layer %.19s… does not match its digest (the bytes hash to", layer.digest);
        import_fails(layout, NULL, NOOK_ERROR_INVALID_PACKAGE, EBADMSG, part);
        assert_store_has_no_image();
}

static void test_tampered_manifest_is_refused(void **state) {
        blob layer = put_layer(false), config = put_config(nook_oci_arch());
        blob m = put_manifest(&config, &layer, LAYER_TAR, true);
        _cleanup_free_ char *e = entry(OCI_MANIFEST, &m, TAGGED("x"));
        const char *const entries[] = { e };
        write_index(entries, 1);
        char part[160];
        snprintf(part, sizeof(part), ": blob %.19s… does not match its digest", m.digest);
        import_fails(layout, NULL, NOOK_ERROR_INVALID_PACKAGE, EBADMSG, part);
        assert_store_has_no_image();
}

static void test_manifest_size_must_match_its_descriptor(void **state) {
        blob layer = put_layer(false), config = put_config(nook_oci_arch());
        blob m = put_manifest(&config, &layer, LAYER_TAR, false);
        m.size += 1;
        _cleanup_free_ char *e = entry(OCI_MANIFEST, &m, TAGGED("x"));
        const char *const entries[] = { e };
        write_index(entries, 1);
        char part[160];
        snprintf(part, sizeof(part), "is %zu bytes, the descriptor says %zu", m.size - 1, m.size);
        import_fails(layout, NULL, NOOK_ERROR_INVALID_PACKAGE, EBADMSG, part);
}

static void test_unknown_layer_media_type_is_refused(void **state) {
        blob layer = put_layer(false), config = put_config(nook_oci_arch());
        blob m = put_manifest(&config, &layer, "application/vnd.example.layer.v1.squashfs", false);
        _cleanup_free_ char *e = entry(OCI_MANIFEST, &m, TAGGED("x"));
        const char *const entries[] = { e };
        write_index(entries, 1);
        import_fails(layout, NULL, NOOK_ERROR_INVALID_PACKAGE, EPROTONOSUPPORT,
                     ": layer 0 has the unknown media type 'application/vnd.example.layer.v1.squashfs'");
        assert_store_has_no_image();
}

/* a digest is checked before it is used as a path: no "../" out of the layout */
static void test_digest_that_is_a_path_is_refused(void **state) {
        blob fake = { .digest = "sha256:../../../../etc/passwd", .size = 10 };
        _cleanup_free_ char *e = entry(OCI_MANIFEST, &fake, TAGGED("x"));
        const char *const entries[] = { e };
        write_index(entries, 1);
        import_fails(layout, NULL, NOOK_ERROR_INVALID_PACKAGE, EINVAL,
                     ": a manifest digest 'sha256:../../../../etc/passwd' is not a sha256 digest");
}

static void test_empty_index_and_bad_names_are_refused(void **state) {
        write_index(NULL, 0);
        import_fails(layout, NULL, NOOK_ERROR_INVALID_PACKAGE, EBADMSG, ": the image index lists no manifest");
        simple_layout("ok:1", NULL);
        import_fails(layout, "bad name", NOOK_ERROR_POLICY_DENIAL, EINVAL, "'bad name' is not an image name");
        char missing[PATH_MAX + 16];
        snprintf(missing, sizeof(missing), "%s/missing", top);
        _cleanup_free_ char *json = NULL;
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(import(missing, NULL, &json, &err), -ENOENT);
        nook_test_assert_error(err, NOOK_ERROR_ISOLATION_FAILURE, ENOENT, "No such file or directory");
        assert_non_null(strstr(nook_error_get_hint(err), "give an OCI layout dir"));
        assert_store_has_no_image();
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_layout_imports_named_by_its_ref_and_reuses_layers, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_a_tag_after_the_dir_selects_the_manifest, setup, teardown),
                cmocka_unit_test_setup_teardown(test_nested_index_picks_this_architecture, setup, teardown),
                cmocka_unit_test_setup_teardown(test_image_for_another_platform_is_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_tampered_layer_is_refused_and_nothing_stored, setup, teardown),
                cmocka_unit_test_setup_teardown(test_tampered_manifest_is_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_manifest_size_must_match_its_descriptor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unknown_layer_media_type_is_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_digest_that_is_a_path_is_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_empty_index_and_bad_names_are_refused, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
