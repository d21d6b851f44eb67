/* nook userns — prepare_rootfs: the root of a session is a directory the operator
 * names by alias (driver "dir"), or an image of the store under a writable layer of the
 * session's own (drivers overlay, fuse-overlayfs, copy; "auto" picks, and says why).
 * The holder mounts it in prepare_environment (helpers/rootfs.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "userns/idmap.h"
#include "userns/image.h"
#include "userns/mounts.h"
#include "userns/session.h"
#include "userns/stages.h"
#include "util/fs.h"
#include "util/hostpath.h"
#include "util/rootfile.h"
#include "util/sha256.h"
#include "util/strbuf.h"

#define FUSE_OVERLAYFS "/usr/bin/fuse-overlayfs"

static bool has_control(const char *s) {
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

const char *nook_fuse_overlayfs_path(void) {
        const char *p = getenv("NOOK_FUSE_OVERLAYFS");
        return p && *p ? p : FUSE_OVERLAYFS;
}

/* The directory an alias names: it must exist and be a directory. */
static int check_root_dir(const char *ref, const char *path, nook_error **err) {
        struct stat st;
        int e = path[0] != '/' || has_control(path) ? EINVAL : stat(path, &st) < 0 ? errno : 0;
        if (!e && !S_ISDIR(st.st_mode))
                e = ENOTDIR;
        if (!e)
                return 0;
        nook_error_sys(err, e, "the root directory of alias '%s'", ref);
        nook_error_set_hint(err, "%s must be an existing directory (the root of the sandbox)", path);
        return -e;
}

/* A root that is neither an alias nor an image says what it could have been. */
static int unknown_root(int r, const char *ref, nook_error **err) {
        if (r == -ENOENT)
                nook_error_set_hint(err,
                                    "rootfs_ref '%s' is neither an alias the operator configured nor an image of the "
                                    "store (nook images; nook image import FILE)",
                                    ref);
        return r;
}

/* Looking for an entry of a directory root whose owner the session does not map. */
typedef struct owner_scan {
        nook_host_ids ids;
        unsigned budget; /* entries still to look at */
        char path[1024]; /* the first one found, below the root */
        uid_t uid;
        gid_t gid;
} owner_scan;

static bool scan_dir(owner_scan *o, int fd, const char *prefix, int depth, bool dirs_only) {
        int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d) {
                if (dfd >= 0)
                        close(dfd);
                return false;
        }
        bool found = false;
        for (struct dirent *e; !found && o->budget && (e = readdir(d));) {
                struct stat st;
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
                    (dirs_only && e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) ||
                    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                o->budget--;
                char p[1024];
                snprintf(p, sizeof(p), "%.700s/%s", prefix, e->d_name);
                if (!nook_idmap_host_mapped(&o->ids, st.st_uid, st.st_gid)) {
                        snprintf(o->path, sizeof(o->path), "%s", p);
                        o->uid = st.st_uid;
                        o->gid = st.st_gid;
                        found = true;
                } else if (depth > 0 && S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int sub =
                                openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        found = sub >= 0 && scan_dir(o, sub, p, depth - 1, dirs_only);
                }
        }
        closedir(d);
        return found;
}

/* Kernel overlayfs copies a file up under its owner, which must be mapped in the
 * session's user namespace (fs/overlayfs/copy_up.c: ovl_set_attr, chown fails with
 * EOVERFLOW otherwise).  A root unpacked by root, or another user's, is full of such
 * files and directories; one that is yours may hold a few.  Every entry of the top
 * level, then the directories (not the files: this runs on every start, and a busybox
 * root's 400 files in bin/ cost 0.9 ms) of a bounded walk three levels down. */
static bool foreign_owner(const nook_session *s, const char *path, owner_scan *o) {
        *o = (owner_scan){ .budget = 4096 };
        nook_idmap_host_ids(s->identity, s->uid, s->gid, &o->ids);
        _cleanup_close_ int root = nook_host_open(path, O_DIRECTORY);
        return root >= 0 && (scan_dir(o, root, "", 0, false) || scan_dir(o, root, "", 3, true));
}

/* What auto may copy when nothing else gives a writable layer over foreign owners: a
 * small tree (a site's busybox or conda root) is copied in a blink; a whole system root
 * (`--rootfs /`) would take minutes and its size in disk, so it is never copied unless
 * asked for (--rootfs-driver copy). */
enum { COPY_MAX_ENTRIES = 10000 };
#define COPY_MAX_BYTES (256ull << 20)

typedef struct tree_size {
        unsigned entries;
        unsigned long long bytes;
} tree_size;

static bool tree_small_at(tree_size *t, int fd, int depth) {
        int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d) {
                if (dfd >= 0)
                        close(dfd);
                return true; /* unreadable: the copy leaves it out */
        }
        bool small = depth > 0;
        for (struct dirent *e; small && (e = readdir(d));) {
                struct stat st;
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
                    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                t->bytes += S_ISREG(st.st_mode) ? (unsigned long long)st.st_size : 0;
                small = ++t->entries <= COPY_MAX_ENTRIES && t->bytes <= COPY_MAX_BYTES;
                if (small && S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int sub =
                                openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        small = sub < 0 || tree_small_at(t, sub, depth - 1);
                }
        }
        closedir(d);
        return small;
}

static bool tree_small(const char *path) {
        tree_size t = { 0 };
        _cleanup_close_ int root = nook_host_open(path, O_DIRECTORY);
        return root >= 0 && tree_small_at(&t, root, 64);
}

static bool fuse_usable(void) {
        return access(nook_fuse_overlayfs_path(), X_OK) == 0 && access("/dev/fuse", R_OK | W_OK) == 0;
}

/* The driver of a directory root (sent to the holder, which tries "auto:A,B" in that
 * order) and why.  --rootfs-rw binds the directory itself: "dir". */
static int dir_driver(nook_session *s, const char *path, const char *want, nook_error **err) {
        free(s->driver);
        free(s->driver_reason);
        s->driver = s->driver_reason = NULL;
        if (s->rootfs_rw) {
                s->driver = strdup("dir");
                s->driver_reason = strdup("--rootfs-rw: the directory itself, read-write, with no writable layer");
                return s->driver && s->driver_reason ? 0 : nook_error_oom(err);
        }
        owner_scan o;
        bool foreign = foreign_owner(s, path, &o);
        const char *driver;
        char why[768];
        if (want && strcmp(want, "auto") != 0) {
                driver = want;
                if (foreign && !strcmp(want, "overlay"))
                        snprintf(why, sizeof(why),
                                 "asked for; %.300s is owned by %u:%u, not mapped in this session: writing it fails "
                                 "(EOVERFLOW)",
                                 o.path, (unsigned)o.uid, (unsigned)o.gid);
                else
                        snprintf(why, sizeof(why), "asked for%s",
                                 strcmp(want, "overlay") ? "; owners show as root" : "");
        } else if (foreign) {
                bool fuse = fuse_usable(), small = tree_small(path);
                driver = fuse ? (small ? "auto:fuse-overlayfs,copy" : "auto:fuse-overlayfs,overlay")
                              : (small ? "auto:copy" : "auto:overlay,fuse-overlayfs");
                snprintf(why, sizeof(why),
                         "%.300s is owned by %u:%u, not mapped in this session: kernel overlayfs could not copy it up "
                         "(EOVERFLOW); %s",
                         o.path, (unsigned)o.uid, (unsigned)o.gid,
                         fuse    ? "fuse-overlayfs can, every owner shows as root"
                         : small ? "fuse-overlayfs or /dev/fuse is unusable here: a private copy of the directory"
                                 : "fuse-overlayfs or /dev/fuse is unusable here and the directory is too big to copy "
                                   "(over 10000 entries or 256 MiB): kernel overlayfs, writing such files fails; "
                                   "--rootfs-driver copy copies it anyway");
        } else {
                driver = "auto";
                snprintf(why, sizeof(why),
                         "the directory's owners are mapped in this session: kernel overlayfs, the "
                         "fastest");
        }
        s->driver = strdup(driver);
        s->driver_reason = strdup(why);
        return s->driver && s->driver_reason ? 0 : nook_error_oom(err);
}

static bool driver_known(const char *want) {
        return !want || !strcmp(want, "auto") || !strcmp(want, "overlay") || !strcmp(want, "fuse-overlayfs") ||
               !strcmp(want, "copy");
}

static int unknown_driver(const char *want, nook_error **err) {
        return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, "/nook/driver",
                                "unknown rootfs driver '%.64s' (auto, overlay, fuse-overlayfs, copy)", want);
}

static int dir_root(nook_call_ctx *ctx, nook_session *s, const nook_prepare_rootfs_req *req, const char *path,
                    nook_error **err) {
        int e = check_root_dir(req->rootfs.rootfs_ref, path, err);
        if (e < 0)
                return e;
        if (s->prepared && (!s->rootfs || strcmp(s->rootfs, path) != 0))
                return nook_error_set(err, NOOK_ERROR_INVALID_STATE_TRANSITION, NOOK_RETRY_NOT_RETRYABLE, EBUSY,
                                      "prepare_rootfs: the session already runs on another root");
        const char *want = req->has_nook ? req->nook.driver : NULL;
        if (!driver_known(want))
                return unknown_driver(want, err);
        if (want && strcmp(want, "auto") && req->nook.rootfs_rw)
                return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, "/nook/driver",
                                        "rootfs_rw binds the directory itself, with no writable layer: no driver");
        free(s->rootfs);
        s->rootfs = strdup(path);
        s->rootfs_rw = req->nook.rootfs_rw;
        if (!s->rootfs)
                return nook_error_oom(err);
        return s->prepared ? 0 : dir_driver(s, path, want, err);
}

int nook_session_read_root_file(const nook_adapter_config *c, const nook_session *s, const char *path, size_t max,
                                char **ret) {
        if (s->rootfs) { /* the root opened as prepare_environment opens it (S31) */
                _cleanup_close_ int root = nook_host_open(s->rootfs, O_DIRECTORY);
                return root < 0 ? root : nook_root_read_file_at(root, path, max, ret, NULL);
        }
        if (!s->image)
                return -ENOENT;
        /* the writable layer first: a kept one may hold a changed /etc/passwd */
        if (s->upper) {
                _cleanup_free_ char *up = NULL;
                int q = asprintf(&up, "%s/upper", s->upper) < 0 ? -ENOMEM
                                                                : nook_root_read_file(up, path, max, ret, NULL);
                if (q == 0 || q == -EINVAL || q == -ENOMEM)
                        return q == -EINVAL ? -ENOENT : q;
        }
        nook_image im = { 0 };
        int r = nook_image_load_from(c->data_dir, s->image, false, &im, NULL);
        for (size_t i = im.n_layers; r >= 0 && i-- > 0;) {
                _cleanup_free_ char *dir = NULL;
                if (asprintf(&dir, "%s/layers/%s/diff", c->data_dir, im.layers[i] + 7) < 0)
                        dir = NULL;
                r = dir ? nook_root_read_file(dir, path, max, ret, NULL) : -ENOMEM;
                if (r == 0 || r == -EINVAL) /* found, or a whiteout (not a regular file) */
                        break;
                r = 0;
        }
        nook_image_clear(&im);
        return r == 0 && *ret ? 0 : r < 0 ? r : -ENOENT;
}

/* auto: exact owners need fuse-overlayfs (the store keeps them in xattrs) and a subuid
 * range to show them in; otherwise owners collapse whatever the driver, and kernel
 * overlayfs is the fastest.  The holder falls back overlay → fuse-overlayfs → copy. */
static void choose_driver(nook_session *s, const char *want, const char **ret, const char **why) {
        bool fuse_ok = fuse_usable();
        if (want && strcmp(want, "auto") != 0) {
                *ret = want;
                *why = "asked for";
        } else if (s->identity == NOOK_IDENTITY_SUBUID && fuse_ok) {
                *ret = "auto:fuse-overlayfs"; /* the holder falls back to overlay, then copy */
                *why = "subuid identity: fuse-overlayfs shows the image's owners exactly";
        } else if (s->identity == NOOK_IDENTITY_SUBUID) {
                *ret = "auto";
                *why = "subuid identity, but fuse-overlayfs or /dev/fuse is unusable here: kernel overlayfs, "
                       "owners collapse";
        } else {
                *ret = "auto";
                *why = "one id mapped: owners collapse to it with any driver; kernel overlayfs is the fastest";
        }
}

static int read_small(int dirfd, const char *name, char *buf, size_t size) {
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);
        buf[n > 0 ? n : 0] = 0;
        buf[strcspn(buf, "\n")] = 0;
        return n > 0 ? 0 : -ENOENT;
}

static int write_small(int dirfd, const char *name, const char *text) {
        _cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        return fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -errno;
}

/* A kept writable layer belongs to one image and serves one session at a time. */
static int claim_upper(nook_call_ctx *ctx, nook_session *s, int fd, const char *named, nook_error **err) {
        char owner[128], image[NOOK_DIGEST_LEN + 2];
        if (read_small(fd, "image", image, sizeof(image)) == 0 && strcmp(image, s->image) != 0)
                return nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_USER_ACTION_NEEDED, EEXIST,
                                      "the writable layer '%s' was made on image %.19s…, not on %.19s…: give "
                                      "another name",
                                      named, image, s->image);
        if (read_small(fd, "session", owner, sizeof(owner)) == 0 && strcmp(owner, s->ref) != 0) {
                nook_session *o = NULL;
                bool busy = nook_session_load(ctx->config, owner, &o, NULL) == 0 && nook_session_alive(o);
                nook_session_free(o);
                if (busy)
                        return nook_error_set(err, NOOK_ERROR_INVALID_STATE_TRANSITION, NOOK_RETRY_USER_ACTION_NEEDED,
                                              EBUSY, "the writable layer '%s' is in use by another session", named);
        }
        if (write_small(fd, "image", s->image) < 0 || write_small(fd, "session", s->ref) < 0)
                return nook_error_sys(err, errno, "claiming the writable layer %s", named);
        return 0;
}

/* <data dir>/uppers/NAME, made if missing: a writable layer kept by name. */
static int named_upper_dir(nook_call_ctx *ctx, const char *named, char **ret, nook_error **err) {
        for (const char *c = named; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' ||
                      *c == '_' || *c == '-') ||
                    named[0] == '.')
                        return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, "/rootfs/writable_layer_ref",
                                                "a writable layer's name is letters, digits, . _ - only");
        _cleanup_free_ char *dir = NULL;
        if (asprintf(&dir, "%s/uppers/%s/x", ctx->config->data_dir, named) < 0)
                return nook_error_oom(err);
        int r = nook_mkdir_parents(dir);
        if (r < 0)
                return nook_error_sys(err, -r, "creating the writable layer %s", named);
        dir[strlen(dir) - 2] = 0;
        *ret = TAKE_PTR(dir);
        return 0;
}

/* A named writable layer made before any session uses it: its upper and work dirs. */
static int named_upper(nook_call_ctx *ctx, const char *named, nook_error **err) {
        _cleanup_free_ char *dir = NULL;
        int r = named_upper_dir(ctx, named, &dir, err);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || (mkdirat(fd, "upper", 0755) < 0 && errno != EEXIST) ||
            (mkdirat(fd, "work", 0700) < 0 && errno != EEXIST))
                return nook_error_sys(err, errno, "creating the writable layer %s", named);
        return 0;
}

/* The writable layer: per session (it goes with cleanup), or the persistent one a
 * writable_layer_ref names under the data dir (kept). */
static int make_upper(nook_call_ctx *ctx, nook_session *s, const char *named, nook_error **err) {
        _cleanup_free_ char *dir = NULL;
        if (named) {
                int r = named_upper_dir(ctx, named, &dir, err);
                if (r < 0)
                        return r;
        } else if (asprintf(&dir, "%s/rootfs", s->dir) < 0)
                return nook_error_oom(err);
        else if (mkdirat(s->dir_fd, "rootfs", 0700) < 0 && errno != EEXIST)
                return nook_error_sys(err, errno, "creating the session's writable layer");
        /* a session's own layer is reached below the session dir fd (S32) */
        _cleanup_close_ int fd = named ? open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                                       : openat(s->dir_fd, "rootfs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || (mkdirat(fd, "upper", 0755) < 0 && errno != EEXIST) ||
            (mkdirat(fd, "work", 0700) < 0 && errno != EEXIST))
                return nook_error_sys(err, errno, "creating the writable layer's dirs");
        int r = named ? claim_upper(ctx, s, fd, named, err) : 0;
        if (r < 0)
                return r;
        free(s->upper);
        s->upper = TAKE_PTR(dir);
        s->keep_upper = named != NULL;
        return 0;
}

/* The image a rootfs_ref names, with every layer present in the store. */
static int image_check(nook_call_ctx *ctx, const char *ref, char digest[NOOK_DIGEST_LEN + 1], nook_image *im,
                       nook_error **err) {
        nook_store store;
        int r = nook_store_open(ctx->config->data_dir, false, &store, err);
        if (r < 0)
                return r;
        r = nook_store_lock(&store, LOCK_SH, err);
        if (r == 0)
                r = nook_store_lookup(&store, ref, digest, err);
        if (r == 0)
                r = nook_image_load(&store, digest, im, err);
        for (size_t i = 0; r == 0 && i < im->n_layers; i++)
                if (!nook_store_has_layer(&store, im->layers[i]))
                        r = nook_error_set(err, NOOK_ERROR_INVALID_PACKAGE, NOOK_RETRY_USER_ACTION_NEEDED, ENOENT,
                                           "image %.19s…: layer %.19s… is missing from the store (import the image "
                                           "again)",
                                           digest, im->layers[i]);
        nook_store_close(&store);
        if (r < 0)
                nook_image_clear(im);
        return r;
}

static int image_root(nook_call_ctx *ctx, nook_session *s, const nook_prepare_rootfs_req *req, nook_error **err) {
        char digest[NOOK_DIGEST_LEN + 1];
        nook_image im = { 0 };
        int r = image_check(ctx, req->rootfs.rootfs_ref, digest, &im, err);
        if (r < 0)
                return r;
        if (s->prepared && (!s->image || strcmp(s->image, digest) != 0)) {
                nook_image_clear(&im);
                return nook_error_set(err, NOOK_ERROR_INVALID_STATE_TRANSITION, NOOK_RETRY_NOT_RETRYABLE, EBUSY,
                                      "the session already runs on another root");
        }
        const char *want = req->has_nook ? req->nook.driver : NULL;
        if (!driver_known(want)) {
                nook_image_clear(&im);
                return unknown_driver(want, err);
        }
        const char *driver, *why;
        choose_driver(s, want, &driver, &why);
        free(s->image);
        free(s->driver);
        free(s->driver_reason);
        s->image = strdup(digest);
        free(s->image_store);
        s->image_store = strdup(ctx->config->data_dir);
        s->driver = strdup(driver);
        s->driver_reason = strdup(why);
        s->owners_collapsed =
                s->identity == NOOK_IDENTITY_SUBUID && strstr(driver, "fuse-overlayfs") ? 0 : im.foreign_owners;
        nook_image_clear(&im);
        if (!s->image || !s->driver || !s->driver_reason)
                return nook_error_oom(err);
        return s->prepared ? 0 : make_upper(ctx, s, req->rootfs.writable_layer_ref, err);
}

/* The root of session s from req (prepare_rootfs with the session's environment_id, or
 * adopted by prepare_environment from the spec): recorded, then saved. */
static int session_root(nook_call_ctx *ctx, nook_session *s, const nook_prepare_rootfs_req *req,
                        const char *environment_id, nook_error **err) {
        /* an alias the operator configured names a directory; anything else an image */
        const char *path = nook_alias_lookup(ctx->config, req->rootfs.rootfs_ref);
        int r = path ? dir_root(ctx, s, req, path, err) : image_root(ctx, s, req, err);
        if (r < 0)
                return path ? r : unknown_root(r, req->rootfs.rootfs_ref, err);
        s->read_only = req->rootfs.read_only;
        if (ctx->journal && s->driver) {
                _cleanup_free_ char *detail = NULL;
                nook_strbuf b = NOOK_STRBUF_INIT;
                nook_strbuf_printf(&b, "{\"driver\":\"%s\",", s->driver);
                if (s->image)
                        nook_strbuf_printf(&b, "\"image\":\"%s\"", s->image);
                else {
                        nook_strbuf_puts(&b, "\"directory\":");
                        nook_strbuf_json_string(&b, s->rootfs);
                }
                nook_strbuf_puts(&b, ",\"reason\":");
                nook_strbuf_json_string(&b, s->driver_reason);
                nook_strbuf_puts(&b, "}");
                detail = nook_strbuf_steal(&b);
                nook_resource res = {
                        .environment_id = environment_id, .kind = "rootfs", .ref = s->ref, .detail = detail
                };
                if ((r = nook_journal_resource_add(ctx->journal, &res, NULL, err)) < 0)
                        return r;
        }
        return nook_session_save(s, err);
}

typedef struct held_ref {
        const char *ref;
        bool *found;
} held_ref;

static int same_unbound_root(const nook_resource *res, void *userdata) {
        held_ref *h = userdata;
        if (!res->environment_id && strcmp(res->kind, "rootfs") == 0 && strcmp(res->ref, h->ref) == 0) {
                *h->found = true;
                return 1;
        }
        return 0;
}

/* The contract's own prepare_rootfs names no session (the crate's RootfsRequest alone):
 * the root is checked now (an alias's directory, or an image whose layers are all in
 * the store), a writable_layer_ref's layer is made now, and the session whose spec names
 * the root adopts it at prepare_environment.  The ref is a function of the request, so
 * the call is idempotent. */
static int unbound_root(nook_call_ctx *ctx, const nook_prepare_rootfs_req *req, nook_ref_result *ret,
                        nook_error **err) {
        const char *path = nook_alias_lookup(ctx->config, req->rootfs.rootfs_ref);
        char digest[NOOK_DIGEST_LEN + 1] = "";
        nook_image im = { 0 };
        int r = path ? check_root_dir(req->rootfs.rootfs_ref, path, err)
                     : image_check(ctx, req->rootfs.rootfs_ref, digest, &im, err);
        nook_image_clear(&im);
        if (r < 0)
                return path ? r : unknown_root(r, req->rootfs.rootfs_ref, err);
        if (req->rootfs.writable_layer_ref && (r = named_upper(ctx, req->rootfs.writable_layer_ref, err)) < 0)
                return r;
        /* the ref: a digest of what was asked, never a path */
        nook_strbuf b = NOOK_STRBUF_INIT;
        nook_strbuf_printf(&b, "%s\n%s", req->rootfs.rootfs_ref,
                           req->rootfs.writable_layer_ref ? req->rootfs.writable_layer_ref : "");
        _cleanup_free_ char *key = nook_strbuf_steal(&b);
        char hash[NOOK_DIGEST_LEN + 1];
        if (!key || nook_sha256_digest(key, strlen(key), hash) < 0 || asprintf(&ret->ref, "rootfs-%.24s", hash + 7) < 0)
                return nook_error_oom(err);
        bool recorded = false;
        if (ctx->journal)
                (void)nook_journal_resources_held(ctx->journal, NULL, same_unbound_root,
                                                  &(held_ref){ ret->ref, &recorded }, NULL);
        if (ctx->journal && !recorded) { /* the same request again: one record */
                nook_strbuf d = NOOK_STRBUF_INIT;
                nook_strbuf_puts(&d, "{\"rootfs_ref\":");
                nook_strbuf_json_string(&d, req->rootfs.rootfs_ref);
                nook_strbuf_printf(&d, ",\"image\":\"%s\",\"writable_layer_ref\":", digest);
                if (req->rootfs.writable_layer_ref)
                        nook_strbuf_json_string(&d, req->rootfs.writable_layer_ref);
                else
                        nook_strbuf_puts(&d, "null");
                nook_strbuf_puts(&d, ",\"adopted_at\":\"prepare_environment\"}");
                _cleanup_free_ char *detail = nook_strbuf_steal(&d);
                nook_resource res = { .kind = "rootfs", .ref = ret->ref, .detail = detail };
                if (!detail || (r = nook_journal_resource_add(ctx->journal, &res, NULL, err)) < 0)
                        return detail ? r : nook_error_oom(err);
        }
        return 0;
}

int nook_userns_prepare_rootfs(void *state, nook_call_ctx *ctx, const nook_prepare_rootfs_req *req,
                               nook_ref_result *ret, nook_error **err) {
        int r;
        if (!req->environment_id) {
                r = unbound_root(ctx, req, ret, err);
                return r < 0 ? nook_error_prefix(err, r, "prepare_rootfs") : 0;
        }
        _cleanup_(nook_session_freep) nook_session *s = NULL;
        r = nook_session_need(ctx->config, req->environment_id, "prepare_rootfs", &s, err);
        if (r < 0)
                return r;
        if ((r = session_root(ctx, s, req, req->environment_id, err)) < 0)
                return nook_error_prefix(err, r, "prepare_rootfs");
        return asprintf(&ret->ref, "rootfs-%s", s->ref + 2) < 0 ? nook_error_oom(err) : 0;
}

int nook_rootfs_adopt(nook_call_ctx *ctx, nook_session *s, const nook_environment *env, nook_error **err) {
        const nook_environment_spec *spec = &env->spec;
        nook_prepare_rootfs_req req = { 0 };
        if (spec->has_rootfs)
                req.rootfs = spec->rootfs;
        else if (spec->has_image)
                req.rootfs = (nook_rootfs_request){ .rootfs_ref = spec->image.image_ref,
                                                    .read_only = spec->filesystem.root == NOOK_ROOT_READ_ONLY };
        else
                return nook_error_set(err, NOOK_ERROR_INVALID_STATE_TRANSITION, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                      "no root filesystem: the environment's spec names no rootfs or image, and "
                                      "prepare_rootfs was not called with its environment_id");
        return session_root(ctx, s, &req, env->environment_id, err);
}
