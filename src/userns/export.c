/* nook userns — `nook save`: a stored image written as an oci-archive (an OCI image
 * layout in a tar, libarchive's writer).  The store keeps layers unpacked, not their
 * blobs, so each layer is written again as an uncompressed tar from its directory:
 * owners and modes from NOOK_OVERRIDE_XATTR, overlay whiteouts (0/0 character devices,
 * the opaque xattr) back to ".wh." entries, names sorted and times in whole seconds,
 * so that the same layer always gives the same bytes (save, load, save: same digests).
 * The config's rootfs.diff_ids and the manifest name these new layers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "userns/archive-dl.h"
#include "userns/image.h"
#include "userns/stages.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/macro.h"

#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MAX_DEPTH 512

static inline void archive_entry_freep(struct archive_entry **e) {
        if (*e)
                archive_entry_free(*e);
}

/* ---- a layer dir -> tar ------------------------------------------------------------------ */

typedef struct sink {
        int fd;
        nook_sha256 sha;
        uint64_t size;
} sink;

static la_ssize_t sink_write(struct archive *a, void *userdata, const void *buf, size_t n) {
        sink *k = userdata;
        for (size_t done = 0; done < n;) {
                ssize_t w = write(k->fd, (const char *)buf + done, n - done);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0) {
                        archive_set_error(a, errno, "writing the archive");
                        return -1;
                }
                done += (size_t)w;
        }
        nook_sha256_update(&k->sha, buf, n);
        k->size += n;
        return (la_ssize_t)n;
}

typedef struct walk {
        struct archive *a;
        struct archive_entry_linkresolver *links;
        char path[4096];
        nook_error **err;
} walk;

static int names_cmp(const void *x, const void *y) {
        return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The entries of dirfd, sorted (the tar's order, the same each time). */
static int sorted_names(int dirfd, char ***ret, size_t *ret_n) {
        int dup = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
        DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
        if (!d) {
                if (dup >= 0)
                        close(dup);
                return -errno;
        }
        char **v = NULL;
        size_t n = 0;
        int r = 0;
        for (struct dirent *e; r == 0 && (e = readdir(d));) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                        continue;
                char **nv = realloc(v, (n + 1) * sizeof(*v));
                if (!nv || !(nv[n] = strdup(e->d_name)))
                        r = -ENOMEM;
                if (nv)
                        v = nv;
                if (r == 0)
                        n++;
        }
        closedir(d);
        if (r == 0 && n)
                qsort(v, n, sizeof(*v), names_cmp);
        *ret = v;
        *ret_n = n;
        return r;
}

static void names_free(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

/* Owner and mode as the image gave them (layer.c), else those of the file. */
static void original_owner(int fd, struct archive_entry *e, const struct stat *st) {
        char v[64];
        ssize_t n = fd >= 0 ? fgetxattr(fd, NOOK_OVERRIDE_XATTR, v, sizeof(v) - 1) : -1;
        unsigned uid, gid, mode;
        if (n > 0 && (v[n] = 0, sscanf(v, "%u:%u:%o", &uid, &gid, &mode) == 3)) {
                archive_entry_set_uid(e, uid);
                archive_entry_set_gid(e, gid);
                archive_entry_set_perm(e, mode & 07777);
        } else {
                archive_entry_set_uid(e, 0);
                archive_entry_set_gid(e, 0);
                archive_entry_set_perm(e, st->st_mode & 07777);
        }
}

static int write_entry(walk *w, struct archive_entry *e, int fd) {
        struct archive_entry *sparse = NULL;
        archive_entry_linkify(w->links, &e, &sparse);
        if (e && archive_write_header(w->a, e) != ARCHIVE_OK)
                return nook_error_set(w->err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_NOT_RETRYABLE, EIO,
                                      "writing '%.200s': %s", w->path, archive_error_string(w->a));
        /* a second link to a file carries no data (the linkresolver made it a hardlink) */
        if (e && fd >= 0 && archive_entry_size(e) > 0) {
                char buf[65536];
                ssize_t n;
                while ((n = read(fd, buf, sizeof(buf))) > 0)
                        if (archive_write_data(w->a, buf, (size_t)n) < 0)
                                return nook_error_set(w->err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_NOT_RETRYABLE,
                                                      EIO, "writing '%.200s': %s", w->path, archive_error_string(w->a));
                if (n < 0)
                        return nook_error_sys(w->err, errno, "reading '%.200s' from the store", w->path);
        }
        return 0;
}

static int walk_dir(walk *w, int dirfd, unsigned depth);

/* A whiteout entry (".wh.NAME" or ".wh..wh..opq") in the directory of w->path's prefix. */
static int whiteout(walk *w, size_t dir_len, const char *name) {
        _cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();
        if (!e)
                return nook_error_oom(w->err);
        snprintf(w->path + dir_len, sizeof(w->path) - dir_len, ".wh.%s", name);
        archive_entry_set_pathname(e, w->path);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0);
        archive_entry_set_size(e, 0);
        archive_entry_set_nlink(e, 1); /* not a link of another entry (archive_entry_linkify) */
        return write_entry(w, e, -1);
}

static int one_entry(walk *w, int dirfd, const char *name, unsigned depth) {
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return nook_error_sys(w->err, errno, "reading '%.200s' in the store", w->path);
        size_t len = strlen(w->path), dir_len = len - strlen(name);
        if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 0 && minor(st.st_rdev) == 0)
                return whiteout(w, dir_len, name);
        _cleanup_close_ int fd = -1;
        if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
                fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
                if (fd < 0 || fstat(fd, &st) < 0)
                        return nook_error_sys(w->err, errno, "opening '%.200s' in the store", w->path);
        }
        _cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();
        if (!e)
                return nook_error_oom(w->err);
        archive_entry_copy_stat(e, &st);
        archive_entry_set_mtime(e, st.st_mtim.tv_sec, 0);
        archive_entry_unset_atime(e);
        archive_entry_unset_ctime(e);
        archive_entry_set_uname(e, NULL);
        archive_entry_set_gname(e, NULL);
        original_owner(fd, e, &st);
        if (S_ISDIR(st.st_mode)) {
                w->path[len] = '/';
                w->path[len + 1] = 0;
        }
        archive_entry_set_pathname(e, w->path);
        if (S_ISLNK(st.st_mode)) {
                char target[4096];
                ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
                if (n < 0)
                        return nook_error_sys(w->err, errno, "reading the link '%.200s' in the store", w->path);
                target[n] = 0;
                archive_entry_set_symlink(e, target);
        } else if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
                return 0; /* never unpacked (S19): nothing else can be here */
        if (!S_ISREG(st.st_mode))
                archive_entry_set_size(e, 0);
        int r = write_entry(w, e, S_ISREG(st.st_mode) ? fd : -1);
        if (r == 0 && S_ISDIR(st.st_mode)) {
                char y;
                if (fgetxattr(fd, NOOK_OPAQUE_XATTR, &y, 1) == 1 && y == 'y') {
                        r = whiteout(w, len + 1, ".wh..opq");
                        w->path[len + 1] = 0;
                }
                if (r == 0)
                        r = depth < MAX_DEPTH
                                    ? walk_dir(w, fd, depth + 1)
                                    : nook_error_set(w->err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_NOT_RETRYABLE,
                                                     ELOOP, "'%.200s' nests too deep", w->path);
        }
        return r;
}

static int walk_dir(walk *w, int dirfd, unsigned depth) {
        char **names = NULL;
        size_t n = 0;
        int r = sorted_names(dirfd, &names, &n);
        if (r < 0) {
                names_free(names, n);
                return nook_error_sys(w->err, -r, "listing '%.200s' in the store", w->path);
        }
        size_t len = strlen(w->path);
        for (size_t i = 0; r == 0 && i < n; i++) {
                if (len + strlen(names[i]) + 2 >= sizeof(w->path)) {
                        r = nook_error_set(w->err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_NOT_RETRYABLE, ENAMETOOLONG,
                                           "a path of the layer is too long");
                        break;
                }
                snprintf(w->path + len, sizeof(w->path) - len, "%s", names[i]);
                r = one_entry(w, dirfd, names[i], depth);
                w->path[len] = 0;
        }
        names_free(names, n);
        return r;
}

/* layers/<hex>/diff as a tar into fd; its digest and size. */
static int layer_tar(nook_store *s, const char *digest, int fd, char ret_digest[NOOK_DIGEST_LEN + 1],
                     uint64_t *ret_size, nook_error **err) {
        char p[128];
        snprintf(p, sizeof(p), "%s/diff", digest + 7);
        _cleanup_close_ int dir = openat(s->layers_fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir < 0)
                return nook_error_sys(err, errno, "layer %.19s… is missing from the store", digest);
        sink k = { .fd = fd };
        nook_sha256_init(&k.sha);
        struct archive *a = archive_write_new();
        walk w = { .a = a, .links = archive_entry_linkresolver_new(), .err = err };
        int r = a && w.links ? 0 : nook_error_oom(err);
        if (r == 0) {
                archive_entry_linkresolver_set_strategy(w.links, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
                if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
                    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
                    archive_write_open(a, &k, NULL, sink_write, NULL) != ARCHIVE_OK)
                        r = nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_NOT_RETRYABLE, EIO,
                                           "starting a layer tar: %s", archive_error_string(a));
        }
        if (r == 0)
                r = walk_dir(&w, dir, 0);
        if (r == 0 && archive_write_close(a) != ARCHIVE_OK)
                r = nook_error_set(err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_NOT_RETRYABLE, EIO,
                                   "finishing a layer tar: %s", archive_error_string(a));
        if (w.links)
                archive_entry_linkresolver_free(w.links);
        if (a)
                archive_write_free(a);
        if (r == 0) {
                nook_sha256_final(&k.sha, ret_digest);
                *ret_size = k.size;
        }
        return r;
}

/* ---- the archive ------------------------------------------------------------------------- */

typedef struct saved_layer {
        int fd; /* an unnamed file under images/tmp holding the tar */
        char digest[NOOK_DIGEST_LEN + 1];
        uint64_t size;
} saved_layer;

typedef struct save {
        nook_store *store;
        const nook_save_options *o;
        nook_image im;
        saved_layer *layers;
        char *config, *manifest, *index;
        char config_digest[NOOK_DIGEST_LEN + 1], manifest_digest[NOOK_DIGEST_LEN + 1];
        char name[512];
        struct archive *out;
        nook_error **err;
} save;

static void save_done(save *v) {
        for (size_t i = 0; v->layers && i < v->im.n_layers; i++)
                if (v->layers[i].fd >= 0)
                        close(v->layers[i].fd);
        free(v->layers);
        free(v->config);
        free(v->manifest);
        free(v->index);
        nook_image_clear(&v->im);
        if (v->out)
                archive_write_free(v->out);
}

/* An unnamed file under images/tmp: O_TMPFILE, else (NFS has none) a named one
 * unlinked at once. */
static int tmp_file(save *v) {
        int fd = openat(v->store->tmp_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        for (unsigned i = 0; fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EEXIST) && i < 16; i++) {
                char name[64];
                snprintf(name, sizeof(name), "save-%d-%u-%llx", (int)getpid(), i, (unsigned long long)nook_mono_us());
                fd = openat(v->store->tmp_fd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (fd >= 0)
                        (void)unlinkat(v->store->tmp_fd, name, 0);
        }
        return fd >= 0 ? fd : nook_error_sys(v->err, errno, "making a temporary file under the store's images/tmp");
}

static int make_layers(save *v) {
        v->layers = calloc(v->im.n_layers ? v->im.n_layers : 1, sizeof(*v->layers));
        if (!v->layers)
                return nook_error_oom(v->err);
        for (size_t i = 0; i < v->im.n_layers; i++)
                v->layers[i].fd = -1;
        for (size_t i = 0; i < v->im.n_layers; i++) {
                saved_layer *l = &v->layers[i];
                if (v->o->progress) {
                        char what[64];
                        snprintf(what, sizeof(what), "layer %.19s", v->im.layers[i]);
                        v->o->progress(what, i, v->im.n_layers, v->o->userdata);
                }
                int fd = tmp_file(v);
                if (fd < 0)
                        return fd;
                l->fd = fd;
                int r = layer_tar(v->store, v->im.layers[i], fd, l->digest, &l->size, v->err);
                if (r < 0)
                        return nook_error_prefix(v->err, r, "image %s", v->name[0] ? v->name : v->im.digest);
        }
        return 0;
}

static char *dump(json_t *j) {
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        return s;
}

/* The config with the new layers' diff_ids, the manifest and the index naming it. */
static int make_documents(save *v) {
        char *cfg = NULL;
        size_t len = 0;
        int r = nook_store_read_blob(v->store, v->im.config_digest, 4u << 20, &cfg, &len, v->err);
        if (r < 0)
                return r;
        json_t *config = json_loadb(cfg, len, 0, NULL);
        free(cfg);
        json_t *ids = json_array(), *layers = json_array();
        for (size_t i = 0; ids && layers && i < v->im.n_layers; i++) {
                json_array_append_new(ids, json_string(v->layers[i].digest));
                json_array_append_new(layers, json_pack("{s:s,s:s,s:I}", "mediaType", OCI_LAYER, "digest",
                                                        v->layers[i].digest, "size", (json_int_t)v->layers[i].size));
        }
        json_t *rootfs = json_pack("{s:s,s:o}", "type", "layers", "diff_ids", ids);
        if (!json_is_object(config) || !rootfs || !layers || json_object_set_new(config, "rootfs", rootfs) < 0) {
                json_decref(config);
                json_decref(layers);
                return nook_error_set(v->err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_NOT_RETRYABLE, EBADMSG,
                                      "image %.19s: its config in the store is not a JSON object", v->im.digest);
        }
        if (!(v->config = dump(config)) || nook_sha256_digest(v->config, strlen(v->config), v->config_digest) < 0)
                return nook_error_oom(v->err);
        v->manifest = dump(json_pack("{s:i,s:s,s:{s:s,s:s,s:I},s:o}", "schemaVersion", 2, "mediaType", OCI_MANIFEST,
                                     "config", "mediaType", OCI_CONFIG, "digest", v->config_digest, "size",
                                     (json_int_t)strlen(v->config), "layers", layers));
        if (!v->manifest || nook_sha256_digest(v->manifest, strlen(v->manifest), v->manifest_digest) < 0)
                return nook_error_oom(v->err);
        json_t *m = json_pack("{s:s,s:s,s:I}", "mediaType", OCI_MANIFEST, "digest", v->manifest_digest, "size",
                              (json_int_t)strlen(v->manifest));
        if (m && v->name[0])
                json_object_set_new(m, "annotations", json_pack("{s:s}", "org.opencontainers.image.ref.name", v->name));
        v->index = dump(json_pack("{s:i,s:s,s:[o]}", "schemaVersion", 2, "mediaType", OCI_INDEX, "manifests", m));
        return v->index ? 0 : nook_error_oom(v->err);
}

static int out_fail(save *v, const char *what) {
        int e = archive_errno(v->out) > 0 ? archive_errno(v->out) : EIO;
        return nook_error_set(v->err, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_NOT_RETRYABLE, e, "writing %s: %s", what,
                              archive_error_string(v->out) ? archive_error_string(v->out) : strerror(e));
}

/* One member of the archive: bytes from data, or from fd when data is NULL. */
static int add_member(save *v, const char *path, mode_t type, const char *data, int fd, uint64_t size) {
        _cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();
        if (!e)
                return nook_error_oom(v->err);
        archive_entry_set_pathname(e, path);
        archive_entry_set_filetype(e, type == S_IFDIR ? AE_IFDIR : AE_IFREG);
        archive_entry_set_perm(e, type == S_IFDIR ? 0755 : 0644);
        archive_entry_set_size(e, type == S_IFDIR ? 0 : (la_int64_t)size);
        archive_entry_set_mtime(e, 0, 0);
        if (archive_write_header(v->out, e) != ARCHIVE_OK)
                return out_fail(v, path);
        if (data && archive_write_data(v->out, data, size) < 0)
                return out_fail(v, path);
        if (!data && fd >= 0) {
                char buf[65536];
                ssize_t n;
                if (lseek(fd, 0, SEEK_SET) < 0)
                        return nook_error_sys(v->err, errno, "reading back a layer");
                while ((n = read(fd, buf, sizeof(buf))) > 0)
                        if (archive_write_data(v->out, buf, (size_t)n) < 0)
                                return out_fail(v, path);
                if (n < 0)
                        return nook_error_sys(v->err, errno, "reading back a layer");
        }
        return 0;
}

static int blob_path(const char *digest, char *p, size_t size) {
        return snprintf(p, size, "blobs/sha256/%s", digest + 7) < (int)size ? 0 : -ENAMETOOLONG;
}

static int write_archive(save *v) {
        static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
        v->out = archive_write_new();
        if (!v->out)
                return nook_error_oom(v->err);
        /* no padding of the last block, to a file or to stdout (libarchive pads on fd 1):
         * the same image gives the same bytes wherever it goes */
        if (archive_write_set_format_pax_restricted(v->out) != ARCHIVE_OK ||
            archive_write_set_bytes_in_last_block(v->out, 1) != ARCHIVE_OK ||
            archive_write_open_fd(v->out, v->o->fd) != ARCHIVE_OK)
                return out_fail(v, "the archive");
        char p[128];
        int r = add_member(v, "oci-layout", S_IFREG, layout, -1, strlen(layout));
        if (r == 0)
                r = add_member(v, "index.json", S_IFREG, v->index, -1, strlen(v->index));
        if (r == 0)
                r = add_member(v, "blobs/", S_IFDIR, NULL, -1, 0);
        if (r == 0)
                r = add_member(v, "blobs/sha256/", S_IFDIR, NULL, -1, 0);
        if (r == 0 && (r = blob_path(v->manifest_digest, p, sizeof(p))) == 0)
                r = add_member(v, p, S_IFREG, v->manifest, -1, strlen(v->manifest));
        if (r == 0 && (r = blob_path(v->config_digest, p, sizeof(p))) == 0)
                r = add_member(v, p, S_IFREG, v->config, -1, strlen(v->config));
        for (size_t i = 0; r == 0 && i < v->im.n_layers; i++) {
                bool dup = false; /* two identical layers: one blob */
                for (size_t k = 0; k < i; k++)
                        dup = dup || strcmp(v->layers[k].digest, v->layers[i].digest) == 0;
                if (!dup && (r = blob_path(v->layers[i].digest, p, sizeof(p))) == 0)
                        r = add_member(v, p, S_IFREG, NULL, v->layers[i].fd, v->layers[i].size);
        }
        if (r == 0 && archive_write_close(v->out) != ARCHIVE_OK)
                r = out_fail(v, "the end of the archive");
        return r;
}

static int find_name(save *v, const char *ref) {
        if (strncmp(ref, "sha256:", 7) != 0 && strspn(ref, "0123456789abcdef") != strlen(ref)) {
                _cleanup_free_ char *n = nook_image_name_normalize(ref);
                snprintf(v->name, sizeof(v->name), "%s", n ? n : "");
        }
        return 0;
}

int nook_userns_image_save(void *state, nook_call_ctx *ctx, const nook_save_options *o, char **ret_json,
                           nook_error **err) {
        int r = nook_archive_load(err);
        if (r < 0)
                return r;
        nook_store s;
        r = nook_store_open(ctx->config->data_dir, false, &s, err);
        if (r < 0)
                return r;
        save v = { .store = &s, .o = o, .err = err };
        char digest[NOOK_DIGEST_LEN + 1];
        r = nook_store_lock(&s, LOCK_SH, err);
        if (r == 0)
                r = nook_store_lookup(&s, o->image, digest, err);
        if (r == 0)
                r = nook_image_load(&s, digest, &v.im, err);
        if (r == 0)
                r = find_name(&v, o->image);
        if (r == 0)
                r = make_layers(&v);
        if (r == 0)
                r = make_documents(&v);
        if (r == 0)
                r = write_archive(&v);
        if (r == 0 && o->progress)
                o->progress("done", v.im.n_layers, v.im.n_layers, o->userdata);
        if (r == 0) {
                json_t *j = json_pack("{s:s?,s:s,s:s,s:I}", "name", v.name[0] ? v.name : NULL, "digest",
                                      v.manifest_digest, "stored_digest", digest, "layers", (json_int_t)v.im.n_layers);
                if (!(*ret_json = dump(j)))
                        r = nook_error_oom(err);
        }
        save_done(&v);
        nook_store_close(&s);
        return r;
}
