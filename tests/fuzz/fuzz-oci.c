/* nook fuzz — image import and the store (src/userns/import.c, store.c, image.c): OCI
 * index, manifest and config parsing, docker-archive manifest.json, names, listing,
 * inspect, rm and prune, through the public nook_runtime_image_* calls.  Input: parts
 * separated by "\n=====\n": a mode byte and index.json (manifest.json for a
 * docker-archive), the manifest, the config, a layer tar, and a tag or name.  The
 * placeholders @LAYER@, @CONFIG@, @MANIFEST@ (and @LAYERSIZE@, @CONFIGSIZE@,
 * @MANIFESTSIZE@; @MANIFEST@ in the tag too) become the digests and sizes of those
 * parts, so that mutations get past the digest checks (S20).  Oracles: every answer and
 * error is JSON; an image that imported loads, with every layer in the store, and can
 * be removed. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz-common.h"
#include "nook/image.h"
#include "userns/image.h"
#include "util/macro.h"
#include "util/sha256.h"

enum { MODE_LAYOUT, MODE_OCI_ARCHIVE, MODE_DOCKER_ARCHIVE, MODE_ROOTFS_TAR };
#define MODE_SELECTOR 0x04 /* source "DIR:TAG" / "DIR@sha256:..." (a layout dir) */
#define MODE_NAME 0x08     /* --name */

typedef struct doc {
        char *text;
        size_t len;
        char digest[NOOK_DIGEST_LEN + 1];
        char size[24];
} doc;

static void doc_from(doc *d, const fuzz_part *p) {
        d->text = fuzz_strdup_part(p);
        d->len = p->size;
}

static void doc_seal(doc *d) {
        nook_sha256_digest(d->text, d->len, d->digest);
        snprintf(d->size, sizeof(d->size), "%zu", d->len);
}

static void fill(doc *d, const doc *what, const char *name, const char *size_name) {
        fuzz_replace(&d->text, &d->len, size_name, what->size);
        fuzz_replace(&d->text, &d->len, name, what->digest);
}

static void check_json(const char *text, const char *what) {
        json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
        FUZZ_CHECK(v, "%s is not JSON: %s", what, text ? text : "(null)");
        json_decref(v);
}

static void check_error(nook_error *err, const char *what) {
        FUZZ_CHECK(err && nook_error_get_message(err), "%s failed without an error", what);
        char *ej = nook_error_to_json(err);
        check_json(ej, "an error");
        free(ej);
}

static void add_member(struct archive *a, const char *name, const void *data, size_t size) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)size);
        FUZZ_CHECK(archive_write_header(a, e) == ARCHIVE_OK, "tar header %s", name);
        FUZZ_CHECK(size == 0 || archive_write_data(a, data, size) == (la_ssize_t)size, "tar data %s", name);
        archive_entry_free(e);
}

static void blob_name(char *buf, size_t n, const doc *d) {
        snprintf(buf, n, "blobs/sha256/%s", d->digest + 7);
}

static void write_archive(const char *path, int mode, const doc *idx, const doc *man, const doc *cfg,
                          const doc *layer) {
        struct archive *a = archive_write_new();
        FUZZ_CHECK(a && archive_write_set_format_pax_restricted(a) == ARCHIVE_OK &&
                           archive_write_open_filename(a, path) == ARCHIVE_OK,
                   "writing %s", path);
        char name[100];
        if (mode == MODE_DOCKER_ARCHIVE) {
                add_member(a, "manifest.json", idx->text, idx->len);
                add_member(a, "config.json", cfg->text, cfg->len);
                add_member(a, "layer.tar", layer->text, layer->len);
        } else {
                add_member(a, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
                add_member(a, "index.json", idx->text, idx->len);
                const doc *blobs[] = { man, cfg, layer };
                for (size_t i = 0; i < ELEMENTSOF(blobs); i++) {
                        blob_name(name, sizeof(name), blobs[i]);
                        add_member(a, name, blobs[i]->text, blobs[i]->len);
                }
        }
        FUZZ_CHECK(archive_write_close(a) == ARCHIVE_OK, "closing %s", path);
        archive_write_free(a);
}

static void write_layout(int wfd, const doc *idx, const doc *man, const doc *cfg, const doc *layer) {
        FUZZ_CHECK(mkdirat(wfd, "in", 0700) == 0 && mkdirat(wfd, "in/blobs", 0700) == 0 &&
                           mkdirat(wfd, "in/blobs/sha256", 0700) == 0,
                   "making the layout dir");
        FUZZ_CHECK(fuzz_write_file(wfd, "in/oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30) == 0 &&
                           fuzz_write_file(wfd, "in/index.json", idx->text, idx->len) == 0,
                   "writing the layout");
        const doc *blobs[] = { man, cfg, layer };
        for (size_t i = 0; i < ELEMENTSOF(blobs); i++) {
                char name[120];
                snprintf(name, sizeof(name), "in/blobs/sha256/%s", blobs[i]->digest + 7);
                FUZZ_CHECK(fuzz_write_file(wfd, name, blobs[i]->text, blobs[i]->len) == 0, "writing %s", name);
        }
}

static void progress(const char *what, uint64_t done, uint64_t total, void *userdata) {
        FUZZ_CHECK(what && *what, "progress without a subject");
}

static nook_runtime *runtime(const char *w) {
        static nook_runtime *rt;
        if (rt)
                return rt;
        char *data, *run;
        FUZZ_CHECK(asprintf(&data, "%s/data", w) > 0 && asprintf(&run, "%s/run", w) > 0, "out of memory");
        nook_options o = NOOK_OPTIONS_INIT;
        o.data_dir = data;
        o.run_dir = run;
        o.adapter = "userns";
        nook_error *err = NULL;
        FUZZ_CHECK(nook_runtime_open(&o, &rt, &err) == 0, "opening the runtime");
        free(data);
        free(run);
        return rt;
}

/* An imported image: listed, inspected by name and digest, loaded with its layers in
 * the store, removed; every answer JSON. */
static void use_image(nook_runtime *rt, const char *w, const char *answer) {
        json_t *a = json_loads(answer, 0, NULL);
        const char *name = json_string_value(json_object_get(a, "name"));
        const char *digest = json_string_value(json_object_get(a, "digest"));
        FUZZ_CHECK(name && digest && nook_digest_valid(digest), "the import answer lacks name or digest: %s", answer);
        char *out = NULL, *data = NULL;
        nook_error *err = NULL;
        FUZZ_CHECK(nook_runtime_images(rt, &out, &err) == 0, "listing images");
        check_json(out, "the image list");
        free(out);
        const char *refs[] = { name, digest };
        for (size_t i = 0; i < ELEMENTSOF(refs); i++) {
                FUZZ_CHECK(nook_runtime_image_inspect(rt, refs[i], &out, &err) == 0, "inspecting %s: %s", refs[i],
                           nook_error_get_message(err));
                check_json(out, "image inspect");
                free(out);
        }
        FUZZ_CHECK(asprintf(&data, "%s/data", w) > 0, "out of memory");
        nook_image im = { 0 };
        FUZZ_CHECK(nook_image_load_from(data, digest, true, &im, &err) == 0, "an imported image does not load: %s",
                   nook_error_get_message(err));
        nook_store st;
        FUZZ_CHECK(nook_store_open(data, false, &st, &err) == 0, "opening the store");
        for (size_t i = 0; i < im.n_layers; i++)
                FUZZ_CHECK(nook_store_has_layer(&st, im.layers[i]), "S20: layer %s of an imported image is missing",
                           im.layers[i]);
        nook_store_close(&st);
        nook_image_clear(&im);
        free(data);
        FUZZ_CHECK(nook_runtime_image_remove(rt, digest, &out, &err) == 0, "removing %s: %s", digest,
                   nook_error_get_message(err));
        check_json(out, "image rm");
        free(out);
        FUZZ_CHECK(nook_runtime_image_prune(rt, &out, &err) == 0, "prune");
        check_json(out, "image prune");
        free(out);
        json_decref(a);
}

static void import(nook_runtime *rt, const char *w, int mode, const char *extra) {
        char *source;
        bool layout = (mode & 3) == MODE_LAYOUT;
        if (layout && (mode & MODE_SELECTOR) && extra)
                FUZZ_CHECK(asprintf(&source, "%s/in%s%s", w, extra[0] == '@' ? "" : ":", extra) > 0, "oom");
        else
                FUZZ_CHECK(asprintf(&source, "%s/%s", w, layout ? "in" : "in.tar") > 0, "oom");
        nook_import_options o = NOOK_IMPORT_OPTIONS_INIT;
        o.source = source;
        o.name = (mode & MODE_NAME) ? extra : NULL;
        o.progress = progress;
        char *out = NULL;
        nook_error *err = NULL;
        int r = nook_runtime_image_import(rt, &o, &out, &err);
        if (getenv("NOOK_FUZZ_VERBOSE")) /* what a seed reaches: ./dev fuzz oci --verbose */
                dprintf(2, "import: %s\n", r == 0 ? out : nook_error_get_message(err));
        if (r == 0) {
                FUZZ_CHECK(!err, "an import succeeded with an error set");
                check_json(out, "the import answer");
                use_image(rt, w, out);
        } else
                check_error(err, "import");
        nook_error_free(err);
        free(out);
        free(source);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        const char *w = fuzz_workdir("oci");
        nook_runtime *rt = runtime(w);
        int mode = data[0];
        fuzz_part p[5] = { 0 };
        size_t n = fuzz_split(data + 1, size - 1, "\n=====\n", p, 5);
        doc idx, man, cfg, layer;
        doc_from(&idx, &p[0]);
        doc_from(&man, &p[1]);
        doc_from(&cfg, &p[2]);
        doc_from(&layer, &p[3]);
        fuzz_tar_fix_checksums((uint8_t *)layer.text, layer.len);
        doc_seal(&layer);
        fill(&cfg, &layer, "@LAYER@", "@LAYERSIZE@");
        doc_seal(&cfg);
        fill(&man, &cfg, "@CONFIG@", "@CONFIGSIZE@");
        fill(&man, &layer, "@LAYER@", "@LAYERSIZE@");
        doc_seal(&man);
        fill(&idx, &man, "@MANIFEST@", "@MANIFESTSIZE@");
        fill(&idx, &cfg, "@CONFIG@", "@CONFIGSIZE@");
        fill(&idx, &layer, "@LAYER@", "@LAYERSIZE@");
        char *extra = n > 4 ? fuzz_strdup_part(&p[4]) : NULL;
        size_t extra_len = n > 4 ? p[4].size : 0;
        if (extra)
                fuzz_replace(&extra, &extra_len, "@MANIFEST@", man.digest);
        int wfd = open(w, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        FUZZ_CHECK(wfd >= 0, "opening %s", w);
        char *tar = NULL;
        FUZZ_CHECK(asprintf(&tar, "%s/in.tar", w) > 0, "out of memory");
        switch (mode & 3) {
        case MODE_LAYOUT:
                write_layout(wfd, &idx, &man, &cfg, &layer);
                break;
        case MODE_ROOTFS_TAR:
                FUZZ_CHECK(fuzz_write_file(wfd, "in.tar", layer.text, layer.len) == 0, "writing in.tar");
                break;
        default:
                write_archive(tar, mode & 3, &idx, &man, &cfg, &layer);
        }
        import(rt, w, mode, extra);
        fuzz_rm_rf(wfd, "in");
        fuzz_rm_rf(wfd, "in.tar");
        fuzz_rm_rf(wfd, "data");
        close(wfd);
        free(tar);
        free(extra);
        free(idx.text);
        free(man.text);
        free(cfg.text);
        free(layer.text);
        return 0;
}
