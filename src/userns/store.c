/* nook userns — the image store under the data dir: blobs by digest, names, unpacked
 * layers, staging dirs held by flock(2) while their importer lives.  Everything is owned
 * by the caller (original owners live in xattrs, layer.c), so removal never needs a
 * user namespace. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "userns/image.h"
#include "userns/session.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/macro.h"
#include "util/rmrf.h"
#include "util/random.h"

static int open_sub(int dirfd, const char *name, bool create) {
        if (create && mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
                return -errno;
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

void nook_store_close(nook_store *s) {
        int *fds[] = { &s->data_fd, &s->images_fd, &s->blobs_fd, &s->names_fd, &s->tmp_fd, &s->layers_fd, &s->lock_fd };
        for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                if (*fds[i] >= 0)
                        close(*fds[i]);
                *fds[i] = -1;
        }
        free(s->data_dir);
        s->data_dir = NULL;
}

int nook_store_open(const char *data_dir, bool create, nook_store *ret, nook_error **err) {
        nook_store s = { -1, -1, -1, -1, -1, -1, -1, strdup(data_dir) };
        if (!s.data_dir)
                return nook_error_oom(err);
        _cleanup_free_ char *probe = NULL;
        int e = create ? (asprintf(&probe, "%s/images", data_dir) < 0 ? -ENOMEM : nook_mkdir_parents(probe)) : 0;
        if (e < 0) {
                e = -e;
                nook_store_close(&s);
                nook_error_sys(err, e, "creating the image store in the data dir");
                return nook_error_set_hint(err, "the data dir is %s", data_dir), -e;
        }
        s.data_fd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r = s.data_fd < 0 ? -errno : 0;
        struct stat st;
        if (r == 0 && fstat(s.data_fd, &st) == 0 && (st.st_uid != geteuid() || (st.st_mode & 077)))
                r = -EPERM; /* S25: the store is the caller's alone */
        int blobs_parent = -1;
        if (r == 0 && (r = s.images_fd = open_sub(s.data_fd, "images", create)) >= 0 &&
            (r = blobs_parent = open_sub(s.images_fd, "blobs", create)) >= 0 &&
            (r = s.blobs_fd = open_sub(blobs_parent, "sha256", create)) >= 0 &&
            (r = s.names_fd = open_sub(s.images_fd, "names", create)) >= 0 &&
            (r = s.tmp_fd = open_sub(s.images_fd, "tmp", create)) >= 0 &&
            (r = s.layers_fd = open_sub(s.data_fd, "layers", create)) >= 0) {
                s.lock_fd = openat(s.images_fd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
                r = s.lock_fd < 0 ? -errno : 0;
        }
        if (blobs_parent >= 0)
                close(blobs_parent);
        if (r < 0) {
                nook_store_close(&s);
                if (r == -ENOENT && !create)
                        return nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_USER_ACTION_NEEDED, ENOENT,
                                              "the image store is empty (no image imported yet)");
                nook_error_sys(err, -r, "opening the image store in the data dir");
                if (r == -EPERM)
                        nook_error_set_hint(err, "%s must be owned by you and closed to others (chmod 700)", data_dir);
                else
                        nook_error_set_hint(err, "the data dir is %s", data_dir);
                return r;
        }
        *ret = s;
        return 0;
}

int nook_store_lock(nook_store *s, int how, nook_error **err) {
        while (flock(s->lock_fd, how) < 0)
                if (errno != EINTR)
                        return nook_error_sys(err, errno, "locking the image store");
        return 0;
}

int nook_store_staging(nook_store *s, nook_staging *ret, nook_error **err) {
        _cleanup_free_ char *hex = nook_random_hex(8);
        if (!hex)
                return nook_error_oom(err);
        nook_staging t = { .fd = -1, .lock_fd = -1 };
        snprintf(t.name, sizeof(t.name), "import-%d-%s", (int)getpid(), hex);
        if (mkdirat(s->tmp_fd, t.name, 0700) < 0)
                return nook_error_sys(err, errno, "creating a staging dir in the store");
        t.fd = openat(s->tmp_fd, t.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (t.fd >= 0)
                t.lock_fd = openat(t.fd, ".lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (t.lock_fd < 0 || flock(t.lock_fd, LOCK_EX | LOCK_NB) < 0) {
                int e = errno;
                nook_store_staging_done(s, &t);
                return nook_error_sys(err, e, "locking a staging dir in the store");
        }
        *ret = t;
        return 0;
}

void nook_store_staging_done(nook_store *s, nook_staging *t) {
        if (t->name[0])
                (void)nook_rm_rf_at(s->tmp_fd, t->name);
        if (t->fd >= 0)
                close(t->fd);
        if (t->lock_fd >= 0)
                close(t->lock_fd);
        *t = (nook_staging){ .fd = -1, .lock_fd = -1 };
}

unsigned nook_store_sweep(nook_store *s) {
        int fd = openat(s->tmp_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                if (fd >= 0)
                        close(fd);
                return 0;
        }
        unsigned n = 0;
        for (struct dirent *e; (e = readdir(d));) {
                if (e->d_name[0] == '.')
                        continue;
                char lock[300];
                snprintf(lock, sizeof(lock), "%s/.lock", e->d_name);
                _cleanup_close_ int lfd = openat(s->tmp_fd, lock, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
                /* a staging dir whose lock nobody holds was left by a killed import */
                if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) < 0)
                        continue;
                if (nook_rm_rf_at(s->tmp_fd, e->d_name) == 0)
                        n++;
        }
        closedir(d);
        return n;
}

static const char *hex_of(const char *digest) {
        return nook_digest_valid(digest) ? digest + 7 : NULL;
}

bool nook_store_has_blob(nook_store *s, const char *digest) {
        const char *hex = hex_of(digest);
        return hex && faccessat(s->blobs_fd, hex, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int nook_store_read_blob(nook_store *s, const char *digest, size_t max, char **ret, size_t *ret_len, nook_error **err) {
        const char *hex = hex_of(digest);
        if (!hex)
                return nook_error_set(err, NOOK_ERROR_INVALID_PACKAGE, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                      "not a sha256 digest: '%.80s'", digest);
        _cleanup_close_ int fd = openat(s->blobs_fd, hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return nook_error_sys(err, errno, "blob %.19s of the store", digest);
        struct stat st;
        if (fstat(fd, &st) < 0 || (uint64_t)st.st_size > max)
                return nook_error_set(err, NOOK_ERROR_INVALID_PACKAGE, NOOK_RETRY_NOT_RETRYABLE, EFBIG,
                                      "blob %.19s is larger than %zu bytes", digest, max);
        char *buf = malloc((size_t)st.st_size + 1);
        if (!buf)
                return nook_error_oom(err);
        ssize_t n = read(fd, buf, (size_t)st.st_size);
        if (n != st.st_size) {
                free(buf);
                return nook_error_sys(err, n < 0 ? errno : EIO, "reading blob %.19s", digest);
        }
        buf[n] = 0;
        *ret = buf;
        if (ret_len)
                *ret_len = (size_t)n;
        return 0;
}

int nook_store_put_blob(nook_store *s, const char *digest, const void *data, size_t len, nook_error **err) {
        char actual[NOOK_DIGEST_LEN + 1];
        nook_sha256_digest(data, len, actual);
        const char *hex = hex_of(digest);
        if (!hex || strcmp(actual, digest) != 0)
                return nook_error_set(err, NOOK_ERROR_INVALID_PACKAGE, NOOK_RETRY_NOT_RETRYABLE, EBADMSG,
                                      "digest mismatch: the manifest says %.80s, the bytes are %s (S20)", digest,
                                      actual);
        /* a blob already there is kept only when its bytes still match: importing an
         * image again repairs a damaged one */
        _cleanup_free_ char *have = NULL;
        size_t have_len = 0;
        char have_digest[NOOK_DIGEST_LEN + 1];
        if (nook_store_read_blob(s, digest, len, &have, &have_len, NULL) == 0 &&
            nook_sha256_digest(have, have_len, have_digest) == 0 && strcmp(have_digest, digest) == 0)
                return 0;
        char tmp[100];
        snprintf(tmp, sizeof(tmp), ".%s.%d", hex, (int)getpid());
        _cleanup_close_ int fd = openat(s->blobs_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        int e = fd < 0 ? errno : write(fd, data, len) != (ssize_t)len ? (errno ? errno : EIO) : 0;
        if (!e && fsync(fd) < 0)
                e = errno;
        if (!e && renameat(s->blobs_fd, tmp, s->blobs_fd, hex) < 0)
                e = errno;
        if (e) {
                (void)unlinkat(s->blobs_fd, tmp, 0);
                return nook_error_sys(err, e, "storing blob %.19s", digest);
        }
        return 0;
}

bool nook_store_has_layer(nook_store *s, const char *digest) {
        const char *hex = hex_of(digest);
        char p[80];
        snprintf(p, sizeof(p), "%s/diff", hex ? hex : "-");
        return hex && faccessat(s->layers_fd, p, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int nook_store_commit_layer(nook_store *s, nook_staging *t, const char *name, const char *digest, nook_error **err) {
        const char *hex = hex_of(digest);
        if (!hex)
                return nook_error_set(err, NOOK_ERROR_INVALID_PACKAGE, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                      "not a sha256 digest: '%.80s'", digest);
        if (renameat(t->fd, name, s->layers_fd, hex) == 0)
                return 0;
        int e = errno;
        if ((e == EEXIST || e == ENOTEMPTY) && nook_store_has_layer(s, digest))
                return 0; /* a concurrent import of the same layer won: identical by digest */
        return nook_error_sys(err, e, "moving layer %.19s into the store", digest);
}

/* Names are files under images/names, spelled with %XX for every byte outside
 * [A-Za-z0-9._-] so that '/' and ':' of references stay one path component. */
static void name_encode(const char *name, char *out, size_t size) {
        size_t n = 0;
        for (const unsigned char *c = (const unsigned char *)name; *c && n + 4 < size; c++) {
                if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' ||
                    *c == '_' || *c == '-')
                        out[n++] = (char)*c;
                else
                        n += (size_t)snprintf(out + n, size - n, "%%%02X", *c);
        }
        out[n] = 0;
}

char *nook_image_name_normalize(const char *name) {
        size_t len = strlen(name);
        if (!len || len > 255)
                return NULL;
        /* printable ASCII, as references are: a byte past 0x7f could be invalid UTF-8, which
         * JSON answers would show as U+FFFD, a name no later lookup could give back */
        for (const char *c = name; *c; c++)
                if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f || *c == '@' || *c == '\\')
                        return NULL;
        const char *slash = strrchr(name, '/');
        const char *colon = strchr(slash ? slash : name, ':');
        if (name[0] == '/' || name[len - 1] == '/' || name[len - 1] == ':' || strncmp(name, "sha256:", 7) == 0)
                return NULL;
        char *r = NULL;
        return asprintf(&r, "%s%s", name, colon ? "" : ":latest") < 0 ? NULL : r;
}

int nook_store_set_name(nook_store *s, const char *name, const char *manifest_digest, nook_error **err) {
        char enc[1024], tmp[1100];
        name_encode(name, enc, sizeof(enc));
        snprintf(tmp, sizeof(tmp), ".%s.%d", enc, (int)getpid());
        _cleanup_close_ int fd = openat(s->names_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        char line[NOOK_DIGEST_LEN + 2];
        int n = snprintf(line, sizeof(line), "%s\n", manifest_digest);
        if (fd < 0 || write(fd, line, (size_t)n) != n || renameat(s->names_fd, tmp, s->names_fd, enc) < 0) {
                int e = errno;
                (void)unlinkat(s->names_fd, tmp, 0);
                return nook_error_sys(err, e, "naming image %s", name);
        }
        return 0;
}

int nook_store_unset_name(nook_store *s, const char *name) {
        char enc[1024];
        name_encode(name, enc, sizeof(enc));
        return unlinkat(s->names_fd, enc, 0) < 0 ? -errno : 0;
}

static int read_name_at(int names_fd, const char *file, char ret[NOOK_DIGEST_LEN + 1]) {
        _cleanup_close_ int fd = openat(names_fd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        char buf[NOOK_DIGEST_LEN + 2];
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
        if (n < NOOK_DIGEST_LEN)
                return -ENOENT;
        buf[NOOK_DIGEST_LEN] = 0;
        if (!nook_digest_valid(buf))
                return -EBADMSG;
        memcpy(ret, buf, NOOK_DIGEST_LEN + 1);
        return 0;
}

int nook_store_lookup(nook_store *s, const char *ref, char ret[NOOK_DIGEST_LEN + 1], nook_error **err) {
        const char *at = strchr(ref, '@');
        if (at)
                ref = at + 1; /* name@sha256:...: the digest decides */
        if (nook_digest_valid(ref)) {
                if (!nook_store_has_blob(s, ref))
                        return nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_USER_ACTION_NEEDED, ENOENT,
                                              "no image %.80s in the store", ref);
                memcpy(ret, ref, NOOK_DIGEST_LEN + 1);
                return 0;
        }
        _cleanup_free_ char *norm = nook_image_name_normalize(ref);
        char enc[1024];
        if (norm) {
                name_encode(norm, enc, sizeof(enc));
                if (read_name_at(s->names_fd, enc, ret) == 0)
                        return 0;
        }
        /* a short name finds what podman save names localhost/NAME, as podman does */
        _cleanup_free_ char *local = NULL;
        if (norm && !strchr(ref, '/') && asprintf(&local, "localhost/%s", norm) >= 0) {
                name_encode(local, enc, sizeof(enc));
                if (read_name_at(s->names_fd, enc, ret) == 0)
                        return 0;
        }
        /* a digest prefix, as `nook images` shows it (12 hex digits or more) */
        size_t len = strlen(ref);
        bool hex = len >= 12 && len < 64;
        for (size_t i = 0; hex && i < len; i++)
                hex = (ref[i] >= '0' && ref[i] <= '9') || (ref[i] >= 'a' && ref[i] <= 'f');
        unsigned found = 0;
        if (hex) {
                int fd = openat(s->blobs_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
                for (struct dirent *e; d && (e = readdir(d));)
                        if (strncmp(e->d_name, ref, len) == 0 && strlen(e->d_name) == 64) {
                                snprintf(ret, NOOK_DIGEST_LEN + 1, "sha256:%s", e->d_name);
                                found++;
                        }
                if (d)
                        closedir(d);
                else if (fd >= 0)
                        close(fd);
        }
        if (found == 1)
                return 0;
        return nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_USER_ACTION_NEEDED, found ? EEXIST : ENOENT,
                              found ? "'%.200s' matches more than one blob: give more digits"
                                    : "no image '%.200s' in the store (nook images lists them; nook image import "
                                      "FILE adds one)",
                              ref);
}

const char *nook_oci_arch(void) {
        static const char *const map[][2] = { { "x86_64", "amd64" },   { "aarch64", "arm64" },   { "armv7l", "arm" },
                                              { "i686", "386" },       { "ppc64le", "ppc64le" }, { "s390x", "s390x" },
                                              { "riscv64", "riscv64" } };
        struct utsname u;
        if (uname(&u) == 0)
                for (size_t i = 0; i < ELEMENTSOF(map); i++)
                        if (strcmp(u.machine, map[i][0]) == 0)
                                return map[i][1];
        return "unknown";
}

void nook_image_clear(nook_image *im) {
        strv_free(im->layers);
        strv_free(im->env);
        strv_free(im->entrypoint);
        strv_free(im->cmd);
        free(im->architecture);
        free(im->os);
        free(im->workdir);
        free(im->user);
        *im = (nook_image){ 0 };
}

int nook_image_load_from(const char *data_dir, const char *digest, bool stats, nook_image *ret, nook_error **err) {
        nook_store store;
        int r;
        if (stats)
                r = nook_store_open(data_dir, false, &store, err);
        else {
                /* the start path (start_process, prepare_environment): the blobs dir alone,
                 * one open instead of the store's seven, no per-layer info files */
                _cleanup_free_ char *blobs = NULL;
                store = (nook_store){ -1, -1, -1, -1, -1, -1, -1, strdup(data_dir) };
                if (!store.data_dir || asprintf(&blobs, "%s/images/blobs/sha256", data_dir) < 0) {
                        nook_store_close(&store);
                        return nook_error_oom(err);
                }
                store.blobs_fd = open(blobs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                r = store.blobs_fd < 0 ? -errno : 0;
                if (r == -ENOENT) /* the whole store is gone: so is this image */
                        r = nook_image_damaged(err, data_dir, digest, ENOENT, "its manifest is missing from the store");
                else if (r < 0) {
                        nook_error_sys(err, -r, "opening the image store in the data dir");
                        nook_error_set_hint(err, "the data dir is %s", data_dir);
                }
                if (r < 0)
                        nook_store_close(&store);
        }
        if (r < 0)
                return r;
        r = nook_image_load(&store, digest, ret, err);
        nook_store_close(&store);
        return r;
}

void nook_store_name_decode(const char *enc, char *out, size_t size) {
        size_t n = 0;
        for (const char *c = enc; *c && n + 1 < size; c++) {
                unsigned v;
                if (*c == '%' && sscanf(c + 1, "%2X", &v) == 1) {
                        out[n++] = (char)v;
                        c += 2;
                } else
                        out[n++] = *c;
        }
        out[n] = 0;
}

/* The first name the store of data_dir gives digest, decoded; "" when it has none. */
static void first_name(const char *data_dir, const char *digest, char *out, size_t size) {
        out[0] = 0;
        _cleanup_free_ char *names = NULL;
        if (!data_dir || asprintf(&names, "%s/images/names", data_dir) < 0)
                return;
        int fd = open(names, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                if (fd >= 0)
                        close(fd);
                return;
        }
        for (struct dirent *e; (e = readdir(d));) {
                char dg[NOOK_DIGEST_LEN + 1];
                if (e->d_name[0] != '.' && read_name_at(dirfd(d), e->d_name, dg) == 0 && strcmp(dg, digest) == 0) {
                        nook_store_name_decode(e->d_name, out, size);
                        break;
                }
        }
        closedir(d);
}

int nook_image_damaged(nook_error **err, const char *data_dir, const char *digest, int errnum, const char *fmt, ...) {
        /* the image as the user knows it: a name is the user's own word, never a host path */
        char name[256];
        first_name(data_dir, digest, name, sizeof(name));
        _cleanup_free_ char *what = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&what, fmt, ap) < 0)
                what = NULL;
        va_end(ap);
        int r = nook_error_set(err, NOOK_ERROR_INVALID_PACKAGE, NOOK_RETRY_USER_ACTION_NEEDED, errnum,
                               "image %s%s%.19s%s: %s", name, name[0] ? " (" : "", digest, name[0] ? ")" : "",
                               what ? what : "damaged in the store");
        nook_error_set_hint(err,
                            "import the image again (nook image import FILE --name %s): importing puts back what is "
                            "missing or damaged; the image store is in %s",
                            name[0] ? name : "NAME", data_dir ? data_dir : "the data dir");
        return r;
}

/* A manifest or config blob of image digest, checked against its own digest: a blob
 * that is gone or whose bytes changed is a damaged image, not a failed system call. */
static int load_blob(nook_store *s, const char *image, const char *digest, const char *what, char **ret,
                     nook_error **err) {
        size_t len = 0;
        _cleanup_(nook_error_freep) nook_error *e = NULL;
        int r = nook_store_read_blob(s, digest, 4u << 20, ret, &len, &e);
        char actual[NOOK_DIGEST_LEN + 1] = "";
        if (r == 0 && (nook_sha256_digest(*ret, len, actual) < 0 || strcmp(actual, digest) != 0)) {
                free(*ret);
                *ret = NULL;
                r = -EBADMSG;
        }
        if (r == -ENOENT)
                return nook_image_damaged(err, s->data_dir, image, ENOENT, "its %s is missing from the store", what);
        if (r == -EBADMSG || r == -EFBIG)
                return nook_image_damaged(err, s->data_dir, image, EBADMSG,
                                          "its %s in the store is damaged (its bytes do not match its digest)", what);
        if (r < 0 && err) {
                nook_error_free(*err);
                *err = TAKE_PTR(e);
                return nook_error_prefix(err, r, "image %.19s: reading its %s", image, what);
        }
        return r;
}

static char **strv_from_json(json_t *a) {
        if (!json_is_array(a))
                return NULL;
        size_t n = json_array_size(a);
        char **v = calloc(n + 1, sizeof(char *));
        for (size_t i = 0; v && i < n; i++) {
                const char *str = json_string_value(json_array_get(a, i));
                if (!(v[i] = strdup(str ? str : "")))
                        return strv_free(v);
        }
        return v;
}

static char *dup_str(json_t *o, const char *key) {
        const char *v = json_string_value(json_object_get(o, key));
        return v && *v ? strdup(v) : NULL;
}

/* The layer's facts, written by import next to its diff dir. */
static void layer_info(nook_store *s, const char *digest, nook_image *im) {
        char p[100];
        snprintf(p, sizeof(p), "%s/info", digest + 7);
        _cleanup_close_ int fd = openat(s->layers_fd, p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        char buf[1024];
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return;
        buf[n] = 0;
        char *save = NULL;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                unsigned long long v;
                if (sscanf(line, "foreign_owners=%llu", &v) == 1)
                        im->foreign_owners += v;
                else if (sscanf(line, "bytes=%llu", &v) == 1)
                        im->size += v;
        }
}

int nook_image_load(nook_store *s, const char *digest, nook_image *ret, nook_error **err) {
        _cleanup_free_ char *mtext = NULL, *ctext = NULL;
        int r = load_blob(s, digest, digest, "manifest", &mtext, err);
        if (r < 0)
                return r;
        json_error_t je;
        json_t *m = json_loads(mtext, JSON_REJECT_DUPLICATES, &je);
        const char *cdig = json_string_value(json_object_get(json_object_get(m, "config"), "digest"));
        json_t *layers = json_object_get(m, "layers");
        nook_image im = { 0 };
        if (!cdig || !nook_digest_valid(cdig) || !json_is_array(layers)) {
                json_decref(m);
                return nook_image_damaged(err, s->data_dir, digest, EBADMSG, "its manifest in the store is damaged");
        }
        snprintf(im.digest, sizeof(im.digest), "%s", digest);
        snprintf(im.config_digest, sizeof(im.config_digest), "%s", cdig);
        im.n_layers = json_array_size(layers);
        im.layers = calloc(im.n_layers + 1, sizeof(char *));
        for (size_t i = 0; im.layers && i < im.n_layers; i++) {
                const char *d = json_string_value(json_object_get(json_array_get(layers, i), "digest"));
                bool valid = d && nook_digest_valid(d);
                im.layers[i] = valid ? strdup(d) : NULL;
                if (!im.layers[i]) {
                        json_decref(m); /* d pointed into it */
                        nook_image_clear(&im);
                        return valid ? nook_error_oom(err)
                                     : nook_image_damaged(err, s->data_dir, digest, EBADMSG,
                                                          "layer %zu of its manifest is damaged", i);
                }
                if (s->layers_fd >= 0) /* sizes and owner counts: listings and prepare_rootfs only */
                        layer_info(s, im.layers[i], &im);
        }
        json_decref(m);
        if (!im.layers || (r = load_blob(s, digest, im.config_digest, "config", &ctext, err)) < 0) {
                nook_image_clear(&im);
                return r < 0 ? r : nook_error_oom(err);
        }
        json_t *c = json_loads(ctext, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(c)) { /* import checked it: the bytes match, the parse does not */
                json_decref(c);
                nook_image_clear(&im);
                return nook_image_damaged(err, s->data_dir, digest, EBADMSG, "its config in the store is damaged");
        }
        json_t *cc = json_object_get(c, "config");
        im.architecture = dup_str(c, "architecture");
        im.os = dup_str(c, "os");
        im.env = strv_from_json(json_object_get(cc, "Env"));
        im.entrypoint = strv_from_json(json_object_get(cc, "Entrypoint"));
        im.cmd = strv_from_json(json_object_get(cc, "Cmd"));
        im.workdir = dup_str(cc, "WorkingDir");
        im.user = dup_str(cc, "User");
        json_decref(c);
        *ret = im;
        return 0;
}
