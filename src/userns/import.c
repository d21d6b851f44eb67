/* nook userns — `nook image import`: an OCI image layout dir, an oci-archive, a
 * docker-archive (docker/podman save) or a plain rootfs tarball, read with libarchive
 * and never from the network.  Digests and sizes are checked while streaming and
 * before anything is named (S20); each layer is unpacked once into a staging dir and
 * renamed into layers/<hex> (layer.c). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "userns/archive-dl.h"
#include "userns/image.h"
#include "userns/session.h"
#include "util/error.h"
#include "util/macro.h"
#include "util/strbuf.h"

#define SMALL_MAX (4u << 20) /* manifests, configs, index.json */
#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

/* One entry of an archive (or file of a layout dir) the import needs. */
typedef struct member {
        char *path;
        int64_t size;
        char *data; /* small members, read in the first pass */
} member;

typedef struct layer_ref {
        char *digest; /* as the manifest names it; for docker-archive the diff_id */
        char *path;   /* member path */
        int64_t size; /* -1: unknown */
        bool staged;  /* unpacked and verified in the staging dir, not yet in the store */
} layer_ref;

typedef struct import {
        nook_store *store;
        const nook_import_options *o;
        const char *file; /* the archive, or the layout dir */
        char *selector;   /* ":tag" or "@digest" given after a layout dir, without the mark */
        bool layout;      /* a directory */
        member **m;       /* each allocated alone: pointers to them stay valid */
        size_t n_m;
        char *manifest; /* the OCI manifest, as stored */
        size_t manifest_len;
        char manifest_digest[NOOK_DIGEST_LEN + 1];
        char *config;
        size_t config_len;
        char config_digest[NOOK_DIGEST_LEN + 1];
        layer_ref *layers;
        size_t n_layers;
        char *name;           /* as it will be stored */
        uint64_t small_bytes; /* read whole in the first pass */
        bool rootfs_tar;      /* a plain rootfs tarball: one layer, config made here */
        uint64_t done, total;
        unsigned unpacked, reused;
        nook_layer_stats sum;
        nook_error **err;
} import;

static int bad(import *im, int e, const char *fmt, ...) _printf_(3, 4);
static int bad(import *im, int e, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        nook_error_setv(im->err, NOOK_ERROR_INVALID_PACKAGE, NOOK_RETRY_NOT_RETRYABLE, e, fmt, ap);
        va_end(ap);
        return -e;
}

static member *find_member(import *im, const char *path) {
        while (path[0] == '.' && path[1] == '/')
                path += 2;
        for (size_t i = 0; i < im->n_m; i++)
                if (strcmp(im->m[i]->path, path) == 0)
                        return im->m[i];
        return NULL;
}

static member *add_member(import *im, const char *path, int64_t size) {
        member **v = reallocarray(im->m, im->n_m + 1, sizeof(*v));
        if (!v)
                return NULL;
        im->m = v;
        member *m = calloc(1, sizeof(*m));
        if (!m || !(m->path = strdup(path))) {
                free(m);
                return NULL;
        }
        m->size = size;
        return v[im->n_m++] = m;
}

/* Members read whole in the first pass: the JSON documents, and blobs small enough to
 * be manifests or configs, within a memory budget (the rest are layers, streamed). */
#define SMALL_BUDGET (64u << 20)
static bool wanted_small(import *im, const char *path, int64_t size) {
        bool want = size >= 0 && size <= SMALL_MAX &&
                    (strcmp(path, "index.json") == 0 || strcmp(path, "manifest.json") == 0 ||
                     strcmp(path, "oci-layout") == 0 || strcmp(path, "repositories") == 0 ||
                     (strlen(path) > 5 && strcmp(path + strlen(path) - 5, ".json") == 0) ||
                     (strncmp(path, "blobs/", 6) == 0 && im->small_bytes + (uint64_t)size <= SMALL_BUDGET));
        if (want)
                im->small_bytes += (uint64_t)size;
        return want;
}

/* The first file of a compressed archive tells an image archive (which nook reads as a
 * plain tar) from a rootfs tarball. */
static bool image_member(const char *p) {
        size_t n = strlen(p);
        bool hex = n >= 64;
        for (size_t i = 0; hex && i < 64; i++)
                hex = (p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f');
        return (strncmp(p, "blobs", 5) == 0 && (p[5] == 0 || p[5] == '/')) || !strcmp(p, "oci-layout") ||
               !strcmp(p, "index.json") || !strcmp(p, "manifest.json") || !strcmp(p, "repositories") ||
               (hex && (p[64] == '/' || !strcmp(p + 64, ".json")));
}

static struct archive *open_outer(import *im) {
        struct archive *a = archive_read_new();
        if (!a)
                return NULL;
        archive_read_support_filter_all(a);
        archive_read_support_format_tar(a);
        if (archive_read_open_filename(a, im->file, 1 << 16) != ARCHIVE_OK) {
                bad(im, archive_errno(a) > 0 ? archive_errno(a) : EINVAL,
                    "%s: not a readable tar (%s): give an oci-archive, a docker-archive, an OCI layout dir or a "
                    "rootfs tarball",
                    im->file, archive_error_string(a));
                archive_read_free(a);
                return NULL;
        }
        return a;
}

/* First pass over an archive: names and sizes of every member, the bytes of the small
 * ones.  On an uncompressed tar, libarchive seeks over the rest. */
static int scan_archive(import *im) {
        struct archive *a = open_outer(im);
        if (!a)
                return -EINVAL;
        int r = 0;
        struct archive_entry *ae;
        for (int ar; r == 0 && (ar = archive_read_next_header(a, &ae)) != ARCHIVE_EOF;) {
                if (ar < ARCHIVE_WARN) {
                        r = bad(im, archive_errno(a) > 0 ? archive_errno(a) : EIO,
                                "%s: not a readable tar (%s): truncated or not an image archive", im->file,
                                archive_error_string(a));
                        break;
                }
                const char *p = archive_entry_pathname(ae);
                while (p && p[0] == '.' && p[1] == '/')
                        p += 2;
                if (archive_filter_code(a, 0) != ARCHIVE_FILTER_NONE) {
                        if (p && image_member(p)) {
                                r = bad(im, EPROTONOSUPPORT,
                                        "%s: a compressed image archive (%s): decompress it first (gunzip, zstd -d); "
                                        "image archives are read as plain tars",
                                        im->file, archive_filter_name(a, 0));
                                break;
                        }
                        im->rootfs_tar = true; /* image archives are plain tars; a compressed tar is a rootfs */
                        break;
                }
                if (archive_entry_filetype(ae) != AE_IFREG)
                        continue;
                while (p && p[0] == '.' && p[1] == '/')
                        p += 2;
                member *m = p ? add_member(im, p, archive_entry_size(ae)) : NULL;
                if (!m)
                        r = nook_error_oom(im->err);
                else if (wanted_small(im, p, m->size)) {
                        m->data = malloc((size_t)m->size + 1);
                        la_ssize_t n = m->data ? archive_read_data(a, m->data, (size_t)m->size) : -1;
                        if (n != m->size)
                                r = bad(im, EIO, "%s: member %s is truncated", im->file, p);
                        else
                                m->data[n] = 0;
                }
        }
        archive_read_free(a);
        if (r == 0 && !im->rootfs_tar && !find_member(im, "index.json") && !find_member(im, "manifest.json"))
                im->rootfs_tar = true;
        return r;
}

static int read_layout_file(import *im, const char *path, member **ret) {
        member *m = find_member(im, path);
        if (m) {
                *ret = m;
                return 0;
        }
        _cleanup_close_ int dfd = open(im->file, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        /* a layout dir is input too: nothing in it may lead out of it */
        struct open_how how = { .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
                                .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
        _cleanup_close_ int fd = dfd < 0 ? -1 : (int)syscall(SYS_openat2, dfd, path, &how, sizeof(how));
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return bad(im, errno, "%s: missing %s", im->file, path);
        if (!(m = add_member(im, path, st.st_size)))
                return nook_error_oom(im->err);
        if (S_ISREG(st.st_mode) && st.st_size <= SMALL_MAX) {
                m->data = malloc((size_t)st.st_size + 1);
                if (!m->data || read(fd, m->data, (size_t)st.st_size) != st.st_size)
                        return bad(im, EIO, "%s: reading %s", im->file, path);
                m->data[st.st_size] = 0;
        }
        *ret = m;
        return 0;
}

/* The bytes of a blob named by digest, checked against it and its size (S20). */
static int small_blob(import *im, const char *digest, int64_t size, member **ret) {
        if (!nook_digest_valid(digest))
                return bad(im, EINVAL, "%s: '%.80s' is not a sha256 digest (refused before any use as a path)",
                           im->file, digest);
        char path[100];
        snprintf(path, sizeof(path), "blobs/sha256/%s", digest + 7);
        member *m = NULL;
        if (im->layout) {
                int r = read_layout_file(im, path, &m);
                if (r < 0)
                        return r;
        } else if (!(m = find_member(im, path)))
                return bad(im, ENOENT, "%s: the manifest points to blob %.19s…, which the archive lacks", im->file,
                           digest);
        if (!m->data)
                return bad(im, EFBIG, "%s: blob %.19s… is too large for a manifest or config", im->file, digest);
        char actual[NOOK_DIGEST_LEN + 1];
        nook_sha256_digest(m->data, (size_t)m->size, actual);
        if (strcmp(actual, digest) != 0)
                return bad(im, EBADMSG, "%s: blob %.19s… does not match its digest (it hashes to %.19s…)", im->file,
                           digest, actual);
        if (size >= 0 && size != m->size)
                return bad(im, EBADMSG, "%s: blob %.19s… is %lld bytes, the descriptor says %lld", im->file, digest,
                           (long long)m->size, (long long)size);
        *ret = m;
        return 0;
}

static bool known_layer_type(const char *t) {
        static const char *const known[] = {
                "application/vnd.oci.image.layer.v1.tar",
                "application/vnd.oci.image.layer.v1.tar+gzip",
                "application/vnd.oci.image.layer.v1.tar+zstd",
                "application/vnd.oci.image.layer.nondistributable.v1.tar",
                "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
                "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "application/vnd.docker.image.rootfs.diff.tar",
        };
        for (size_t i = 0; i < ELEMENTSOF(known); i++)
                if (strcmp(t, known[i]) == 0)
                        return true;
        return false;
}

static int check_platform(import *im, json_t *config) {
        const char *arch = json_string_value(json_object_get(config, "architecture"));
        const char *os = json_string_value(json_object_get(config, "os"));
        if ((arch && strcmp(arch, nook_oci_arch()) != 0) || (os && strcmp(os, "linux") != 0))
                return bad(im, ENOEXEC, "%s: the image is for %s/%s, this machine is linux/%s", im->file, os ? os : "?",
                           arch ? arch : "?", nook_oci_arch());
        return 0;
}

/* From an OCI manifest's bytes: config and layers, every digest checked. */
static int use_manifest(import *im, member *mm, const char *digest) {
        json_error_t je;
        json_t *m = json_loadb(mm->data, (size_t)mm->size, JSON_REJECT_DUPLICATES, &je);
        const char *mt = json_string_value(json_object_get(m, "mediaType"));
        json_t *cfg = json_object_get(m, "config"), *layers = json_object_get(m, "layers");
        const char *cdig_json = json_string_value(json_object_get(cfg, "digest"));
        char cdig[NOOK_DIGEST_LEN + 1] = "";
        if (cdig_json && nook_digest_valid(cdig_json))
                memcpy(cdig, cdig_json, sizeof(cdig));
        int r = 0;
        if (!m || (mt && strcmp(mt, OCI_MANIFEST) != 0 && strcmp(mt, DOCKER_MANIFEST) != 0) || !cdig_json ||
            !json_is_array(layers))
                r = bad(im, EBADMSG, "%s: manifest %.19s… is not an image manifest (media type %s)", im->file, digest,
                        mt ? mt : "missing");
        member *cm = NULL;
        if (r == 0)
                r = small_blob(im, cdig, json_integer_value(json_object_get(cfg, "size")), &cm);
        json_t *config = r == 0 ? json_loadb(cm->data, (size_t)cm->size, JSON_REJECT_DUPLICATES, &je) : NULL;
        if (r == 0 && !json_is_object(config))
                r = bad(im, EBADMSG, "%s: the image config is not JSON: %s", im->file, je.text);
        if (r == 0)
                r = check_platform(im, config);
        json_decref(config);
        im->n_layers = r == 0 ? json_array_size(layers) : 0;
        im->layers = r == 0 ? calloc(im->n_layers + 1, sizeof(*im->layers)) : NULL;
        for (size_t i = 0; r == 0 && i < im->n_layers; i++) {
                json_t *l = json_array_get(layers, i);
                const char *ld = json_string_value(json_object_get(l, "digest"));
                const char *lt = json_string_value(json_object_get(l, "mediaType"));
                if (!ld || !nook_digest_valid(ld))
                        r = bad(im, EINVAL, "%s: layer %zu's digest '%.80s' is not a sha256 digest", im->file, i,
                                ld ? ld : "");
                else if (!lt || !known_layer_type(lt))
                        r = bad(im, EPROTONOSUPPORT, "%s: layer %zu has the unknown media type '%.100s'", im->file, i,
                                lt ? lt : "");
                else {
                        im->layers[i].digest = strdup(ld);
                        im->layers[i].size = json_integer_value(json_object_get(l, "size"));
                        if (asprintf(&im->layers[i].path, "blobs/sha256/%s", ld + 7) < 0)
                                im->layers[i].path = NULL;
                        if (!im->layers[i].digest || !im->layers[i].path)
                                r = nook_error_oom(im->err);
                        else if (!im->layout && !find_member(im, im->layers[i].path))
                                r = bad(im, ENOENT, "%s: the manifest points to layer %.19s…, which the archive lacks",
                                        im->file, ld);
                }
        }
        json_decref(m);
        if (r < 0)
                return r;
        if (!(im->manifest = malloc((size_t)mm->size + 1)) || !(im->config = malloc((size_t)cm->size + 1)))
                return nook_error_oom(im->err);
        memcpy(im->manifest, mm->data, (size_t)mm->size);
        im->manifest_len = (size_t)mm->size;
        memcpy(im->config, cm->data, (size_t)cm->size);
        im->config_len = (size_t)cm->size;
        snprintf(im->manifest_digest, sizeof(im->manifest_digest), "%s", digest);
        snprintf(im->config_digest, sizeof(im->config_digest), "%s", cdig);
        return 0;
}

/* index.json: the manifest whose ref name is the tag asked for, or the only one; an
 * index inside picks this machine's platform.  Two manifests with one tag: refused. */
static int pick_from_index(import *im, member *idx, int depth) {
        json_error_t je;
        json_t *j = json_loadb(idx->data, (size_t)idx->size, JSON_REJECT_DUPLICATES, &je);
        json_t *ms = json_object_get(j, "manifests");
        if (!json_is_array(ms) || json_array_size(ms) == 0) {
                json_decref(j);
                return bad(im, EBADMSG, "%s: the image index lists no manifest", im->file);
        }
        const char *want = im->selector;
        json_t *chosen = NULL;
        unsigned matches = 0;
        size_t i;
        json_t *d;
        json_array_foreach(ms, i, d) {
                const char *ref = json_string_value(
                        json_object_get(json_object_get(d, "annotations"), "org.opencontainers.image.ref.name"));
                const char *dig = json_string_value(json_object_get(d, "digest"));
                json_t *plat = json_object_get(d, "platform");
                const char *arch = json_string_value(json_object_get(plat, "architecture"));
                bool ok = depth > 0        ? !arch || strcmp(arch, nook_oci_arch()) == 0
                          : !want          ? true
                          : want[0] == '@' ? dig && strcmp(dig, want + 1) == 0
                                           : ref && (strcmp(ref, want) == 0 ||
                                                     (strrchr(ref, ':') && strcmp(strrchr(ref, ':') + 1, want) == 0));
                if (ok) {
                        matches++;
                        chosen = chosen ? chosen : d;
                }
        }
        int r = 0;
        if (matches == 0)
                r = bad(im, ENOENT, "%s: no image %s%s in the index", im->file, want ? "tagged " : "",
                        want ? want : "for this platform");
        else if (matches > 1 && (want || depth == 0))
                r = bad(im, EEXIST, "%s: %u manifests match %s: ambiguous, refused (name one by @sha256:…)", im->file,
                        matches, want ? want : "(no tag given)");
        const char *dig = chosen ? json_string_value(json_object_get(chosen, "digest")) : NULL;
        const char *mt = chosen ? json_string_value(json_object_get(chosen, "mediaType")) : NULL;
        member *mm = NULL;
        if (r == 0 && !(dig && nook_digest_valid(dig)))
                r = bad(im, EINVAL, "%s: a manifest digest '%.80s' is not a sha256 digest", im->file, dig ? dig : "");
        if (r == 0)
                r = small_blob(im, dig, json_integer_value(json_object_get(chosen, "size")), &mm);
        if (r == 0 && !im->name && depth == 0 && chosen) {
                const char *ref = json_string_value(
                        json_object_get(json_object_get(chosen, "annotations"), "org.opencontainers.image.ref.name"));
                if (ref && (strchr(ref, '/') || strchr(ref, ':')))
                        im->name = nook_image_name_normalize(ref);
        }
        if (r == 0 && mt && (strcmp(mt, OCI_INDEX) == 0 || strcmp(mt, DOCKER_LIST) == 0)) {
                char *saved = im->selector;
                im->selector = NULL;
                r = depth < 2 ? pick_from_index(im, mm, depth + 1)
                              : bad(im, ELOOP, "%s: image indexes nest too deep", im->file);
                im->selector = saved;
        } else if (r == 0)
                r = use_manifest(im, mm, dig);
        json_decref(j);
        return r;
}

/* docker-archive: manifest.json names the config file and the layer tars; the
 * config's diff_ids are the layers' digests (uncompressed tars).  An OCI manifest is
 * written for it, so that the store holds one kind. */
static int from_docker(import *im, member *mf) {
        json_error_t je;
        json_t *j = json_loadb(mf->data, (size_t)mf->size, JSON_REJECT_DUPLICATES, &je);
        json_t *chosen = NULL, *e;
        size_t i;
        unsigned matches = 0;
        json_array_foreach(j, i, e) {
                json_t *tags = json_object_get(e, "RepoTags"), *t;
                size_t k;
                bool ok = !im->selector;
                json_array_foreach(tags, k, t) {
                        const char *s = json_string_value(t);
                        const char *colon = s ? strrchr(s, ':') : NULL;
                        ok |= s && im->selector &&
                              (strcmp(s, im->selector) == 0 || (colon && strcmp(colon + 1, im->selector) == 0));
                }
                if (ok) {
                        matches++;
                        chosen = chosen ? chosen : e;
                }
        }
        int r = !chosen       ? bad(im, ENOENT, "%s: no image %s in manifest.json", im->file,
                              im->selector ? im->selector : "")
                : matches > 1 ? bad(im, EEXIST, "%s: manifest.json holds %u images: name one with FILE:TAG", im->file,
                                    matches)
                              : 0;
        const char *cpath = json_string_value(json_object_get(chosen, "Config"));
        json_t *lpaths = json_object_get(chosen, "Layers");
        member *cm = r == 0 && cpath ? find_member(im, cpath) : NULL;
        if (r == 0 && (!cm || !cm->data))
                r = bad(im, ENOENT, "%s: the config %s named by manifest.json is missing", im->file,
                        cpath ? cpath : "");
        json_t *config = r == 0 ? json_loadb(cm->data, (size_t)cm->size, JSON_REJECT_DUPLICATES, &je) : NULL;
        json_t *diff_ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
        if (r == 0 && (!json_is_array(lpaths) || json_array_size(lpaths) != json_array_size(diff_ids)))
                r = bad(im, EBADMSG, "%s: manifest.json's layers do not match the config's diff_ids", im->file);
        if (r == 0)
                r = check_platform(im, config);
        if (r == 0 && !im->name) {
                const char *tag = json_string_value(json_array_get(json_object_get(chosen, "RepoTags"), 0));
                im->name = tag ? nook_image_name_normalize(tag) : NULL;
        }
        nook_strbuf b = NOOK_STRBUF_INIT;
        char cdig[NOOK_DIGEST_LEN + 1] = "";
        if (r == 0) {
                nook_sha256_digest(cm->data, (size_t)cm->size, cdig);
                nook_strbuf_printf(&b,
                                   "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MANIFEST "\",\"config\":{\"mediaType\":"
                                   "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%lld},"
                                   "\"layers\":[",
                                   cdig, (long long)cm->size);
                im->n_layers = json_array_size(lpaths);
                im->layers = calloc(im->n_layers + 1, sizeof(*im->layers));
        }
        for (i = 0; r == 0 && i < im->n_layers; i++) {
                const char *p = json_string_value(json_array_get(lpaths, i));
                const char *d = json_string_value(json_array_get(diff_ids, i));
                member *lm = p ? find_member(im, p) : NULL;
                if (!d || !nook_digest_valid(d))
                        r = bad(im, EINVAL, "%s: diff_id %zu is not a sha256 digest", im->file, i);
                else if (!lm)
                        r = bad(im, ENOENT, "%s: layer %s named by manifest.json is missing", im->file, p ? p : "");
                else {
                        im->layers[i] = (layer_ref){ strdup(d), strdup(lm->path), lm->size };
                        nook_strbuf_printf(&b,
                                           "%s{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
                                           "\"digest\":\"%s\",\"size\":%lld}",
                                           i ? "," : "", d, (long long)lm->size);
                }
        }
        nook_strbuf_puts(&b, "]}");
        if (r == 0) {
                im->manifest_len = b.len;
                im->manifest = nook_strbuf_steal(&b);
                im->config = malloc((size_t)cm->size + 1);
                if (!im->manifest || !im->config)
                        r = nook_error_oom(im->err);
                else {
                        memcpy(im->config, cm->data, (size_t)cm->size);
                        im->config_len = (size_t)cm->size;
                        nook_sha256_digest(im->manifest, im->manifest_len, im->manifest_digest);
                        memcpy(im->config_digest, cdig, sizeof(cdig));
                }
        }
        nook_strbuf_done(&b);
        json_decref(config);
        json_decref(j);
        return r;
}

/* The raw bytes of a layer pass through here on their way to libarchive: hashed,
 * counted, reported. */
typedef struct reader {
        import *im;
        struct archive *outer; /* reading from an archive member, or */
        int fd;                /* from a file */
        nook_sha256 sha;
        uint64_t n;
        nook_layer_stats *st;
        const char *digest;
        char buf[1 << 16];
} reader;

static la_ssize_t reader_read(struct archive *a, void *userdata, const void **buf) {
        reader *rd = userdata;
        la_ssize_t n = rd->outer ? archive_read_data(rd->outer, rd->buf, sizeof(rd->buf))
                                 : read(rd->fd, rd->buf, sizeof(rd->buf));
        if (n < 0) {
                archive_set_error(a, rd->outer ? archive_errno(rd->outer) : errno, "reading the layer: %s",
                                  rd->outer ? archive_error_string(rd->outer) : strerror(errno));
                return -1;
        }
        nook_sha256_update(&rd->sha, rd->buf, (size_t)n);
        rd->n += (uint64_t)n;
        rd->st->compressed_in = rd->n;
        rd->im->done += (uint64_t)n;
        if (rd->im->o->progress && n > 0) {
                char what[64];
                snprintf(what, sizeof(what), "layer %.19s", rd->digest);
                rd->im->o->progress(what, rd->im->done, rd->im->total, rd->im->o->userdata);
        }
        *buf = rd->buf;
        return n;
}

static void write_info(int dirfd, const nook_layer_stats *st) {
        char text[1024];
        int n = snprintf(text, sizeof(text),
                         "entries=%llu\nbytes=%llu\nforeign_owners=%llu\nskipped=%llu\nskipped_names=%s\n"
                         "xattrs_dropped=%llu\nwhiteouts=%llu\n",
                         (unsigned long long)st->entries, (unsigned long long)st->bytes,
                         (unsigned long long)st->foreign_owners, (unsigned long long)st->skipped, st->skipped_names,
                         (unsigned long long)st->xattrs_dropped, (unsigned long long)st->whiteouts);
        _cleanup_close_ int fd = openat(dirfd, "info", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0 && write(fd, text, (size_t)n) == n)
                (void)fsync(fd);
}

static void sum_stats(nook_layer_stats *sum, const nook_layer_stats *st) {
        sum->entries += st->entries;
        sum->bytes += st->bytes;
        sum->foreign_owners += st->foreign_owners;
        sum->skipped += st->skipped;
        sum->xattrs_dropped += st->xattrs_dropped;
        if (st->skipped_names[0] && !sum->skipped_names[0])
                snprintf(sum->skipped_names, sizeof(sum->skipped_names), "%s", st->skipped_names);
}

/* One layer from its raw stream into layers/<hex>: unpacked in the staging dir, the
 * rest of the stream hashed too, digest and size compared, then renamed. */
static int unpack_layer(import *im, nook_staging *t, layer_ref *l, struct archive *outer, int fd,
                        const nook_layer_limits *lim) {
        nook_layer_stats st = { 0 };
        reader *rd = calloc(1, sizeof(*rd));
        if (!rd)
                return nook_error_oom(im->err);
        *rd = (reader){ .im = im, .outer = outer, .fd = fd, .st = &st, .digest = l->digest };
        nook_sha256_init(&rd->sha);
        const char *hex = l->digest ? l->digest + 7 : "rootfs";
        int r = 0;
        _cleanup_close_ int lfd = -1, dfd = -1;
        if (mkdirat(t->fd, hex, 0700) < 0 || (lfd = openat(t->fd, hex, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
            mkdirat(lfd, "diff", 0755) < 0 || (dfd = openat(lfd, "diff", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                r = nook_error_sys(im->err, errno, "creating a staging dir for layer %.19s", hex);
        struct archive *a = r == 0 ? archive_read_new() : NULL;
        if (r == 0 && !a)
                r = nook_error_oom(im->err);
        if (r == 0) {
                archive_read_support_filter_gzip(a);
                archive_read_support_filter_zstd(a);
                archive_read_support_filter_none(a);
                archive_read_support_format_tar(a);
                archive_read_support_format_empty(a);
                if (archive_read_open(a, rd, NULL, reader_read, NULL) != ARCHIVE_OK)
                        r = bad(im, archive_errno(a) > 0 ? archive_errno(a) : EIO, "layer %.19s…: %s", hex,
                                archive_error_string(a));
        }
        if (r == 0)
                r = nook_layer_unpack(a, dfd, lim, &st, im->err);
        if (a)
                archive_read_free(a);
        /* the digest covers every byte of the blob, past the tar's end marker too */
        for (la_ssize_t n; r == 0 && (n = outer ? archive_read_data(outer, rd->buf, sizeof(rd->buf))
                                                : read(fd, rd->buf, sizeof(rd->buf))) != 0;) {
                if (n < 0) {
                        r = bad(im, EIO, "layer %.19s…: reading: %s", hex,
                                outer ? archive_error_string(outer) : strerror(errno));
                        break;
                }
                nook_sha256_update(&rd->sha, rd->buf, (size_t)n);
                rd->n += (uint64_t)n;
        }
        char actual[NOOK_DIGEST_LEN + 1];
        nook_sha256_final(&rd->sha, actual);
        uint64_t n = rd->n;
        free(rd);
        if (r < 0)
                return nook_error_prefix(im->err, r, "%s: layer %.19s…", im->file, hex);
        if (im->rootfs_tar) {
                free(l->digest);
                if (!(l->digest = strdup(actual)))
                        return nook_error_oom(im->err);
                if (renameat(t->fd, hex, t->fd, actual + 7) < 0)
                        return nook_error_sys(im->err, errno, "staging the rootfs layer");
                hex = actual + 7;
                close(lfd);
                lfd = openat(t->fd, hex, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        } else if (strcmp(actual, l->digest) != 0)
                return bad(im, EBADMSG,
                           "%s: layer %.19s… does not match its digest (the bytes hash to %.19s…): "
                           "damaged or tampered with; nothing was stored",
                           im->file, l->digest, actual);
        else if (l->size >= 0 && (uint64_t)l->size != n)
                return bad(im, EBADMSG, "%s: layer %.19s… is %llu bytes, the manifest says %lld", im->file, l->digest,
                           (unsigned long long)n, (long long)l->size);
        write_info(lfd, &st);
        sum_stats(&im->sum, &st);
        for (size_t i = 0; i < im->n_layers; i++) /* a layer listed twice is unpacked once */
                if (im->layers[i].digest && strcmp(im->layers[i].digest, l->digest) == 0)
                        im->layers[i].staged = true;
        l->staged = true;
        im->unpacked++;
        return 0;
}

static bool have_layer(import *im, size_t i) {
        return im->layers[i].staged || (!im->rootfs_tar && nook_store_has_layer(im->store, im->layers[i].digest));
}

/* Every layer verified: only now do they enter the store, so a failed import leaves
 * it as it was (a crash between renames leaves whole layers, which prune removes). */
static int commit_layers(import *im, nook_staging *t) {
        for (size_t i = 0; i < im->n_layers; i++) {
                layer_ref *l = &im->layers[i];
                if (!l->staged || nook_store_has_layer(im->store, l->digest))
                        continue;
                int r = nook_store_commit_layer(im->store, t, l->digest + 7, l->digest, im->err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int unpack_layers(import *im, nook_staging *t) {
        nook_layer_limits lim;
        nook_layer_limits_from_env(&lim);
        bool need_any = false;
        for (size_t i = 0; i < im->n_layers; i++) {
                bool have = have_layer(im, i);
                if (have)
                        im->reused++;
                else {
                        need_any = true;
                        im->total += im->layers[i].size > 0 ? (uint64_t)im->layers[i].size : 0;
                }
        }
        if (!need_any)
                return 0;
        if (im->layout) {
                _cleanup_close_ int dfd = open(im->file, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                for (size_t i = 0; i < im->n_layers; i++) {
                        if (have_layer(im, i))
                                continue;
                        _cleanup_close_ int fd =
                                dfd < 0 ? -1 : openat(dfd, im->layers[i].path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                        if (fd < 0)
                                return bad(im, ENOENT, "%s: the manifest points to layer %.19s…, which is missing",
                                           im->file, im->layers[i].digest);
                        int r = unpack_layer(im, t, &im->layers[i], NULL, fd, &lim);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        if (im->rootfs_tar) {
                _cleanup_close_ int fd = open(im->file, O_RDONLY | O_CLOEXEC);
                struct stat st;
                if (fd < 0 || fstat(fd, &st) < 0)
                        return nook_error_sys(im->err, errno, "opening %s", im->file);
                im->total = (uint64_t)st.st_size;
                return unpack_layer(im, t, &im->layers[0], NULL, fd, &lim);
        }
        /* second pass: the layers in archive order, each unpacked from its member */
        struct archive *a = open_outer(im);
        if (!a)
                return -EINVAL;
        int r = 0;
        struct archive_entry *ae;
        for (int ar; r == 0 && (ar = archive_read_next_header(a, &ae)) != ARCHIVE_EOF;) {
                if (ar < ARCHIVE_WARN) {
                        r = bad(im, EIO, "%s: %s", im->file, archive_error_string(a));
                        break;
                }
                const char *p = archive_entry_pathname(ae);
                while (p && p[0] == '.' && p[1] == '/')
                        p += 2;
                for (size_t i = 0; r == 0 && p && i < im->n_layers; i++)
                        if (strcmp(im->layers[i].path, p) == 0 && !have_layer(im, i)) {
                                r = unpack_layer(im, t, &im->layers[i], a, -1, &lim);
                                break;
                        }
        }
        archive_read_free(a);
        for (size_t i = 0; r == 0 && i < im->n_layers; i++)
                if (!have_layer(im, i))
                        r = bad(im, ENOENT, "%s: layer %.19s… was not found in the archive", im->file,
                                im->layers[i].digest);
        return r;
}

/* A plain rootfs tarball: one layer, a config and manifest made here. */
static int rootfs_manifest(import *im) {
        const char *digest = im->layers[0].digest;
        nook_strbuf b = NOOK_STRBUF_INIT;
        nook_strbuf_printf(&b,
                           "{\"architecture\":\"%s\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/usr/local/sbin:"
                           "/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"],\"Cmd\":[\"/bin/sh\"]},\"rootfs\":"
                           "{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
                           nook_oci_arch(), digest);
        im->config_len = b.len;
        im->config = nook_strbuf_steal(&b);
        if (!im->config)
                return nook_error_oom(im->err);
        nook_sha256_digest(im->config, im->config_len, im->config_digest);
        nook_strbuf_printf(&b,
                           "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MANIFEST "\",\"config\":{\"mediaType\":"
                           "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},\"layers\":"
                           "[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":"
                           "%lld}]}",
                           im->config_digest, im->config_len, digest, (long long)im->total);
        im->manifest_len = b.len;
        im->manifest = nook_strbuf_steal(&b);
        if (!im->manifest)
                return nook_error_oom(im->err);
        nook_sha256_digest(im->manifest, im->manifest_len, im->manifest_digest);
        return 0;
}

static char *base_name(const char *path) {
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return NULL;
        size_t n = strlen(copy);
        while (n > 1 && copy[n - 1] == '/')
                copy[--n] = 0;
        char *b = strrchr(copy, '/') ? strrchr(copy, '/') + 1 : copy;
        static const char *const ext[] = { ".tar.gz", ".tar.zst", ".tgz", ".tar" };
        for (size_t i = 0; i < ELEMENTSOF(ext); i++) {
                size_t bl = strlen(b), el = strlen(ext[i]);
                if (bl > el && strcmp(b + bl - el, ext[i]) == 0) {
                        b[bl - el] = 0;
                        break;
                }
        }
        char *lower = strdup(b);
        for (char *c = lower; c && *c; c++)
                *c = (*c >= 'A' && *c <= 'Z') ? (char)(*c - 'A' + 'a') : *c;
        return lower;
}

static void import_done(import *im) {
        for (size_t i = 0; i < im->n_m; i++) {
                free(im->m[i]->path);
                free(im->m[i]->data);
                free(im->m[i]);
        }
        free(im->m);
        for (size_t i = 0; im->layers && i < im->n_layers; i++) {
                free(im->layers[i].digest);
                free(im->layers[i].path);
        }
        free(im->layers);
        free(im->manifest);
        free(im->config);
        free(im->name);
        free(im->selector);
}

static int locate(import *im, char **ret_file) {
        const char *src = im->o->source;
        struct stat st;
        if (stat(src, &st) == 0) {
                im->layout = S_ISDIR(st.st_mode);
                return (*ret_file = strdup(src)) ? 0 : nook_error_oom(im->err);
        }
        /* DIR:tag or DIR@sha256:… (a layout dir only: files are read whole) */
        const char *at = strchr(src, '@');
        const char *colon = strrchr(src, ':');
        const char *mark = at ? at : colon;
        if (mark && mark > src) {
                _cleanup_free_ char *dir = strndup(src, (size_t)(mark - src));
                if (dir && stat(dir, &st) == 0) {
                        im->layout = S_ISDIR(st.st_mode);
                        if (!(im->selector = strdup(at ? mark : mark + 1)))
                                return nook_error_oom(im->err);
                        *ret_file = TAKE_PTR(dir);
                        return 0;
                }
        }
        nook_error_sys(im->err, errno, "%s", src);
        nook_error_set_hint(im->err, "give an OCI layout dir (DIR or DIR:TAG), an oci-archive or docker-archive tar "
                                     "(podman save, docker save, skopeo copy), or a rootfs tarball");
        return -ENOENT;
}

int nook_image_import(const nook_adapter_config *c, const nook_import_options *o, char **ret_json, nook_error **err) {
import im = {.o = o, .err = err };
        int loaded = nook_archive_load(err);
        if (loaded < 0)
                return loaded;
        if (o->name && !(im.name = nook_image_name_normalize(o->name)))
                return nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_USER_ACTION_NEEDED, EINVAL,
                                      "'%.200s' is not an image name (letters, digits, . _ - / and one :tag; "
                                      "no spaces, no @, not a digest)",
                                      o->name);
        _cleanup_free_ char *file = NULL;
        int r = locate(&im, &file);
        im.file = file;
        nook_store store;
        if (r == 0)
                r = nook_store_open(c->data_dir, true, &store, err);
        if (r < 0) {
                import_done(&im);
                return r;
        }
        im.store = &store;
        if (im.layout) {
                member *idx = NULL;
                r = read_layout_file(&im, "index.json", &idx);
                if (r == 0 && !idx->data)
                        r = bad(&im, EFBIG, "%s: index.json is too large", file);
                if (r == 0)
                        r = pick_from_index(&im, idx, 0);
        } else if ((r = scan_archive(&im)) == 0 && !im.rootfs_tar) {
                member *idx = find_member(&im, "index.json"), *mf = find_member(&im, "manifest.json");
                r = idx && idx->data ? pick_from_index(&im, idx, 0) : from_docker(&im, mf);
        } else if (r == 0) {
                im.n_layers = 1;
                if (!(im.layers = calloc(2, sizeof(*im.layers))))
                        r = nook_error_oom(err);
                else
                        im.layers[0].size = -1;
        }
        if (r == 0 && !im.name) {
                _cleanup_free_ char *b = base_name(file);
                nook_strbuf n = NOOK_STRBUF_INIT;
                nook_strbuf_printf(&n, "%s%s%s", b ? b : "image", im.selector && im.selector[0] != '@' ? ":" : "",
                                   im.selector && im.selector[0] != '@' ? im.selector : "");
                _cleanup_free_ char *s = nook_strbuf_steal(&n);
                im.name = s ? nook_image_name_normalize(s) : NULL;
                if (!im.name)
                        r = nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_USER_ACTION_NEEDED, EINVAL,
                                           "%s: no usable image name in it or its file name: give --name", file);
        }
        /* shared: rm and prune wait for the import, imports run side by side */
        nook_staging t = { .fd = -1, .lock_fd = -1 };
        if (r == 0)
                r = nook_store_lock(&store, LOCK_SH, err);
        if (r == 0)
                r = nook_store_staging(&store, &t, err);
        if (r == 0)
                r = unpack_layers(&im, &t);
        if (r == 0 && im.rootfs_tar)
                r = rootfs_manifest(&im);
        if (r == 0)
                r = commit_layers(&im, &t);
        /* layers first, then the blobs that name them, then the name: a crash leaves
         * only unreferenced layers, which prune removes */
        if (r == 0)
                r = nook_store_put_blob(&store, im.config_digest, im.config, im.config_len, err);
        if (r == 0)
                r = nook_store_put_blob(&store, im.manifest_digest, im.manifest, im.manifest_len, err);
        if (r == 0)
                r = nook_store_set_name(&store, im.name, im.manifest_digest, err);
        if (t.fd >= 0)
                nook_store_staging_done(&store, &t);
        if (r == 0) {
                /* the name is printable ASCII (nook_image_name_normalize) */
                json_t *res = json_pack(
                        "{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "name", im.name, "digest",
                        im.manifest_digest, "config_digest", im.config_digest, "architecture", nook_oci_arch(),
                        "layers", (json_int_t)im.n_layers, "unpacked", (json_int_t)im.unpacked, "reused",
                        (json_int_t)im.reused, "size", (json_int_t)im.sum.bytes, "entries", (json_int_t)im.sum.entries,
                        "foreign_owners", (json_int_t)im.sum.foreign_owners, "skipped", (json_int_t)im.sum.skipped,
                        "xattrs_dropped", (json_int_t)im.sum.xattrs_dropped);
                *ret_json = res ? json_dumps(res, JSON_COMPACT) : NULL;
                json_decref(res);
                if (!*ret_json)
                        r = nook_error_oom(err);
        }
        import_done(&im);
        nook_store_close(&store);
        return r;
}
