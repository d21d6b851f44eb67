/* nook userns — unpacking one image layer (libarchive's tar reader) into a staging
 * directory, without root: every entry is created relative to the layer's dir fd,
 * parents are opened one component at a time with O_NOFOLLOW, owners and modes are
 * kept in the user.containers.override_stat xattr, whiteouts become overlayfs's own
 * forms (S15–S19, S21). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "userns/archive-dl.h"
#include "userns/image.h"
#include "userns/session.h"
#include "util/error.h"
#include "util/fault.h"
#include "util/macro.h"
#include "util/rmrf.h"

#define NAME_MAX_LEN 4095
#define RATIO_FLOOR (64ull << 20)

static uint64_t env_u64(const char *name, uint64_t def) {
        const char *v = getenv(name);
        if (!v || !*v)
                return def;
        char *end;
        unsigned long long n = strtoull(v, &end, 10);
        uint64_t mult = *end == 'k' || *end == 'K'   ? 1ull << 10
                        : *end == 'm' || *end == 'M' ? 1ull << 20
                        : *end == 'g' || *end == 'G' ? 1ull << 30
                                                     : 1;
        return n ? n * mult : def;
}

void nook_layer_limits_from_env(nook_layer_limits *l) {
        l->max_bytes = env_u64("NOOK_LIMIT_LAYER_BYTES", 64ull << 30);
        l->max_entries = env_u64("NOOK_LIMIT_LAYER_ENTRIES", 1000000);
        l->max_ratio = env_u64("NOOK_LIMIT_LAYER_RATIO", 200);
}

/* A directory whose final mode, owner and time are set once the layer is complete
 * (a 0555 directory must stay writable while entries are created in it). */
typedef struct dir_fix {
        char *path;
        mode_t mode;
        struct timespec mtime;
        unsigned depth;
} dir_fix;

typedef struct unpack {
        int root;
        const nook_layer_limits *lim;
        nook_layer_stats *st;
        uint64_t streamed; /* file bytes that came out of the decompressor */
        dir_fix *dirs;
        size_t n_dirs, cap_dirs;
        /* the parent directory of the last entry, kept open: tar entries come grouped */
        char *cached_path;
        int cached_fd;
        nook_error **err;
} unpack;

/* not an AE_IF* value (those are S_IF* ones) */
#define TYPE_HARDLINK 1u

static void cache_drop(unpack *u) {
        free(u->cached_path);
        u->cached_path = NULL;
        if (u->cached_fd >= 0)
                close(u->cached_fd);
        u->cached_fd = -1;
}

/* Lexical clean, rooted at the layer: "", "." and empty components vanish, ".." stops
 * at the root (S15: "../../x" and "/x" both land at x inside).  "" is the root. */
static int clean_name(const char *in, char *out) {
        size_t n = 0;
        for (const char *p = in; *p;) {
                while (*p == '/')
                        p++;
                const char *e = strchrnul(p, '/');
                size_t len = (size_t)(e - p);
                if (len == 0 || (len == 1 && p[0] == '.')) {
                } else if (len == 2 && p[0] == '.' && p[1] == '.') {
                        while (n > 0 && out[n - 1] != '/')
                                n--;
                        if (n > 0)
                                n--;
                } else {
                        if (len > 255 || n + len + 2 > NAME_MAX_LEN)
                                return -ENAMETOOLONG;
                        if (n)
                                out[n++] = '/';
                        memcpy(out + n, p, len);
                        n += len;
                }
                p = e;
        }
        out[n] = 0;
        return 0;
}

static int fail(unpack *u, int e, const char *name, const char *what) {
        return nook_error_set(u->err, NOOK_ERROR_INVALID_PACKAGE, NOOK_RETRY_NOT_RETRYABLE, e, "entry '%.200s': %s",
                              name, what);
}

static int set_override(int fd, uid_t uid, gid_t gid, mode_t mode) {
        char v[64];
        int n = snprintf(v, sizeof(v), "%u:%u:0%o", (unsigned)uid, (unsigned)gid, (unsigned)(mode & 07777));
        return fsetxattr(fd, NOOK_OVERRIDE_XATTR, v, (size_t)n, 0) < 0 ? -errno : 0;
}

/* Opens (creating when missing) the directory `path` below the layer root, one
 * component at a time, never following a symlink (S16): a symlink or a file where a
 * directory is expected fails the layer. */
static int open_dir(unpack *u, const char *path, const char *entry) {
        if (u->cached_path && strcmp(u->cached_path, path) == 0)
                return u->cached_fd;
        cache_drop(u);
        int fd = fcntl(u->root, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return nook_error_sys(u->err, errno, "duplicating the layer fd");
        char comp[256];
        for (const char *p = path; *p;) {
                const char *e = strchrnul(p, '/');
                snprintf(comp, sizeof(comp), "%.*s", (int)(e - p), p);
                int next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0 && errno == ENOENT) {
                        /* a parent the tar does not list: root-owned 0755, as docker does */
                        if (mkdirat(fd, comp, 0700) < 0) {
                                close(fd);
                                return fail(u, errno, entry, "creating a parent directory");
                        }
                        next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (next >= 0)
                                (void)set_override(next, 0, 0, 0755);
                        size_t plen = (size_t)(e - path);
                        if (u->n_dirs == u->cap_dirs) {
                                size_t cap = u->cap_dirs ? u->cap_dirs * 2 : 256;
                                dir_fix *d = realloc(u->dirs, cap * sizeof(*d));
                                if (!d) {
                                        close(fd);
                                        if (next >= 0)
                                                close(next);
                                        return nook_error_oom(u->err);
                                }
                                u->dirs = d;
                                u->cap_dirs = cap;
                        }
                        dir_fix *f = &u->dirs[u->n_dirs];
                        *f = (dir_fix){ .path = strndup(path, plen), .mode = 0755, .mtime = { 0, UTIME_OMIT } };
                        for (size_t i = 0; i < plen; i++)
                                f->depth += path[i] == '/';
                        if (f->path)
                                u->n_dirs++;
                }
                int e2 = errno;
                close(fd);
                if (next < 0)
                        return fail(u, e2, entry,
                                    e2 == ELOOP || e2 == ENOTDIR ? "a parent is a symlink or not a directory (refused)"
                                                                 : "opening a parent directory");
                fd = next;
                p = *e ? e + 1 : e;
        }
        u->cached_path = strdup(path);
        u->cached_fd = fd;
        if (!u->cached_path) {
                cache_drop(u);
                return nook_error_oom(u->err);
        }
        return fd;
}

static int add_dir_fix(unpack *u, const char *path, mode_t mode, struct archive_entry *ae) {
        for (size_t i = u->n_dirs; i-- > 0;)
                if (strcmp(u->dirs[i].path, path) == 0) {
                        u->dirs[i].mode = mode;
                        u->dirs[i].mtime = (struct timespec){ archive_entry_mtime(ae), archive_entry_mtime_nsec(ae) };
                        return 0;
                }
        if (u->n_dirs == u->cap_dirs) {
                size_t cap = u->cap_dirs ? u->cap_dirs * 2 : 256;
                dir_fix *d = realloc(u->dirs, cap * sizeof(*d));
                if (!d)
                        return nook_error_oom(u->err);
                u->dirs = d;
                u->cap_dirs = cap;
        }
        dir_fix *f = &u->dirs[u->n_dirs];
        *f = (dir_fix){ .path = strdup(path),
                        .mode = mode,
                        .mtime = { archive_entry_mtime(ae), archive_entry_mtime_nsec(ae) } };
        if (!f->path)
                return nook_error_oom(u->err);
        for (const char *c = path; *c; c++)
                f->depth += *c == '/';
        u->n_dirs++;
        return 0;
}

/* Forgets the pending fixes of the directory path and of everything below it: they
 * are gone, and what now has that name (a symlink, a file) must not get their mode. */
static void forget_dirs(unpack *u, const char *path) {
        size_t len = strlen(path), kept = 0;
        for (size_t i = 0; i < u->n_dirs; i++) {
                const char *p = u->dirs[i].path;
                if (strncmp(p, path, len) == 0 && (p[len] == 0 || p[len] == '/'))
                        free(u->dirs[i].path);
                else
                        u->dirs[kept++] = u->dirs[i];
        }
        u->n_dirs = kept;
}

/* Removes what an earlier entry of this layer left at name (any type); path is its
 * full name below the layer root.  dfd is the cached parent (open_dir): it holds the
 * parent of what goes, never something below it, so it stays open and valid.
 * Returns 1 when a directory is kept, 2 when a whiteout went, 0 otherwise. */
static int clear_slot(unpack *u, int dfd, const char *name, const char *path, bool keep_dir, const char *entry) {
        struct stat st;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : fail(u, errno, entry, "inspecting an earlier entry");
        if (keep_dir && S_ISDIR(st.st_mode))
                return 1;
        int r = nook_rm_rf_at(dfd, name);
        if (r < 0)
                return fail(u, -r, entry, "replacing an earlier entry");
        if (S_ISDIR(st.st_mode))
                forget_dirs(u, path);
        return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0) ? 2 : 0;
}

static bool xattr_kept(const char *name) {
        /* user.* only; never the names that steer overlayfs or fuse-overlayfs (S18, S19) */
        return strncmp(name, "user.", 5) == 0 && strncmp(name, "user.overlay.", 13) != 0 &&
               strncmp(name, "user.containers.", 16) != 0 && strncmp(name, "user.fuseoverlayfs.", 19) != 0;
}

static void apply_xattrs(unpack *u, int fd, struct archive_entry *ae) {
        const char *name;
        const void *value;
        size_t size;
        archive_entry_xattr_reset(ae);
        while (archive_entry_xattr_next(ae, &name, &value, &size) == ARCHIVE_OK)
                if (!xattr_kept(name) || fsetxattr(fd, name, value, size, 0) < 0)
                        u->st->xattrs_dropped++;
}

static int write_file(unpack *u, struct archive *a, int dfd, const char *base, const char *entry, mode_t mode,
                      struct archive_entry *ae) {
        _cleanup_close_ int fd = openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return fail(u, errno, entry, "creating the file");
        const void *buf;
        size_t size;
        int64_t off;
        int r;
        /* the size a file claims counts, holes of sparse files included: a copy of the
         * root (driver copy) writes them out */
        int64_t declared = archive_entry_size(ae);
        u->st->bytes += declared > 0 ? (uint64_t)declared : 0;
        if (u->st->bytes > u->lim->max_bytes)
                return nook_error_set(u->err, NOOK_ERROR_INVALID_PACKAGE, NOOK_RETRY_NOT_RETRYABLE, EFBIG,
                                      "the layer expands past %llu bytes (NOOK_LIMIT_LAYER_BYTES)",
                                      (unsigned long long)u->lim->max_bytes);
        while ((r = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK) {
                u->streamed += size;
                if (u->streamed > RATIO_FLOOR && u->streamed / (u->st->compressed_in + 1) > u->lim->max_ratio)
                        return nook_error_set(u->err, NOOK_ERROR_INVALID_PACKAGE, NOOK_RETRY_NOT_RETRYABLE, EFBIG,
                                              "the layer expands more than %llu times its compressed size: a "
                                              "decompression bomb (NOOK_LIMIT_LAYER_RATIO)",
                                              (unsigned long long)u->lim->max_ratio);
                for (size_t done = 0; done < size;) {
                        ssize_t n = pwrite(fd, (const char *)buf + done, size - done, off + (off_t)done);
                        if (n < 0)
                                return nook_error_sys(u->err, errno, "writing '%.200s' into the store", entry);
                        done += (size_t)n;
                }
        }
        if (r != ARCHIVE_EOF)
                return nook_error_set(u->err, NOOK_ERROR_INVALID_PACKAGE, NOOK_RETRY_NOT_RETRYABLE, EIO,
                                      "entry '%.200s': %s", entry, archive_error_string(a));
        if (ftruncate(fd, archive_entry_size(ae)) < 0)
                return nook_error_sys(u->err, errno, "writing '%.200s' into the store", entry);
        apply_xattrs(u, fd, ae);
        int e = set_override(fd, archive_entry_uid(ae), archive_entry_gid(ae), mode);
        if (e < 0)
                return nook_error_sys(u->err, -e, "recording the owner of '%.200s' (user xattrs on the store)", entry);
        struct timespec ts[2] = { { archive_entry_mtime(ae), archive_entry_mtime_nsec(ae) },
                                  { archive_entry_mtime(ae), archive_entry_mtime_nsec(ae) } };
        if (fchmod(fd, mode & 07777) < 0 || futimens(fd, ts) < 0)
                return nook_error_sys(u->err, errno, "setting the mode of '%.200s'", entry);
        return 0;
}

/* ".wh..wh..opq" makes its directory opaque; ".wh.NAME" hides NAME of lower layers.
 * Only these exact forms, naming a sibling (S18). */
static int whiteout(unpack *u, int dfd, const char *base, const char *entry, struct archive_entry *ae) {
        if (archive_entry_filetype(ae) != AE_IFREG || archive_entry_hardlink(ae))
                return fail(u, EINVAL, entry, "a whiteout that is not a plain file (refused)");
        const char *target = base + 4;
        u->st->whiteouts++;
        if (strcmp(target, ".wh..opq") == 0)
                return fsetxattr(dfd, NOOK_OPAQUE_XATTR, "y", 1, 0) < 0
                               ? nook_error_sys(u->err, errno, "marking the directory of '%.200s' opaque", entry)
                               : 0;
        if (!*target || strcmp(target, ".") == 0 || strcmp(target, "..") == 0 || strncmp(target, ".wh.", 4) == 0)
                return fail(u, EINVAL, entry, "a malformed whiteout (refused)");
        /* OCI image-spec (layer.md, Whiteouts): a whiteout applies to lower layers only;
         * what this layer already put at that name stays, and hides the lower entry (a
         * directory by becoming opaque) */
        struct stat st;
        if (fstatat(dfd, target, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                if (!S_ISDIR(st.st_mode))
                        return 0;
                _cleanup_close_ int fd = openat(dfd, target, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                return fd < 0 || fsetxattr(fd, NOOK_OPAQUE_XATTR, "y", 1, 0) < 0
                               ? nook_error_sys(u->err, errno, "marking '%.200s' opaque", entry)
                               : 0;
        }
        if (errno != ENOENT)
                return fail(u, errno, entry, "inspecting an earlier entry");
        /* overlayfs(5): a whiteout is a 0/0 character device; since Linux 5.8 it needs no
         * CAP_MKNOD (vfs_mknod: "whiteout" exception, commit a3c751a50fe6). */
        if (mknodat(dfd, target, S_IFCHR | 0, makedev(0, 0)) < 0)
                return nook_error_sys(u->err, errno, "creating the whiteout for '%.200s'", entry);
        return 0;
}

static void note_skipped(unpack *u, const char *entry) {
        u->st->skipped++;
        size_t used = strlen(u->st->skipped_names);
        if (used + strlen(entry) + 3 < sizeof(u->st->skipped_names))
                snprintf(u->st->skipped_names + used, sizeof(u->st->skipped_names) - used, "%s/%s", used ? ", " : "",
                         entry);
}

/* A directory entry; slot is clear_slot's answer (1: one is there already, 2: it
 * replaces this layer's whiteout). */
static int make_dir(unpack *u, int dfd, const char *base, const char *name, const char *raw, int slot,
                    struct archive_entry *ae) {
        if (slot != 1 && mkdirat(dfd, base, 0700) < 0)
                return fail(u, errno, raw, "creating the directory");
        _cleanup_close_ int fd = openat(dfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return fail(u, errno, raw, "opening the directory");
        /* it replaces this layer's whiteout: the lower directory stays hidden */
        if (slot == 2 && fsetxattr(fd, NOOK_OPAQUE_XATTR, "y", 1, 0) < 0)
                return nook_error_sys(u->err, errno, "marking '%.200s' opaque", raw);
        apply_xattrs(u, fd, ae);
        mode_t mode = archive_entry_perm(ae);
        int r = set_override(fd, (uid_t)archive_entry_uid(ae), (gid_t)archive_entry_gid(ae), mode);
        if (r < 0)
                return nook_error_sys(u->err, -r, "recording the owner of '%.200s'", raw);
        return add_dir_fix(u, name, mode, ae);
}

/* A hard link to an entry this layer already made, never out (S17). */
static int make_hardlink(unpack *u, const char *base, const char *name, const char *raw, struct archive_entry *ae) {
        char target[NAME_MAX_LEN + 1];
        if (clean_name(archive_entry_hardlink(ae), target) < 0 || !*target)
                return fail(u, EINVAL, raw, "a hard link without a valid target");
        char *ts = strrchr(target, '/');
        const char *tbase = ts ? ts + 1 : target;
        if (ts)
                *ts = 0;
        _cleanup_free_ char *dname = strdup(name);
        if (!dname)
                return nook_error_oom(u->err);
        int tfd = open_dir(u, ts ? target : "", raw);
        if (tfd < 0)
                return tfd;
        struct stat st;
        int found = fstatat(tfd, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
        if (found)
                return fail(u, found, raw, "a hard link to an entry not extracted before it in this layer (refused)");
        int tdup = fcntl(tfd, F_DUPFD_CLOEXEC, 3);
        char *ds = strrchr(dname, '/');
        if (ds)
                *ds = 0;
        int ddfd = open_dir(u, ds ? dname : "", raw);
        /* linkat without AT_SYMLINK_FOLLOW links a symlink itself, not its target */
        int e = ddfd < 0 ? 0 : linkat(tdup, tbase, ddfd, base, 0) < 0 ? errno : 0;
        if (tdup >= 0)
                close(tdup);
        if (ddfd < 0)
                return ddfd;
        return e ? fail(u, e, raw, "creating the hard link") : 0;
}

static int one_entry(unpack *u, struct archive *a, struct archive_entry *ae) {
        const char *raw = archive_entry_pathname(ae);
        if (!raw)
                return fail(u, EINVAL, "?", "no name");
        char name[NAME_MAX_LEN + 1];
        if (clean_name(raw, name) < 0)
                return fail(u, ENAMETOOLONG, raw, "name too long");
        mode_t mode = archive_entry_perm(ae);
        /* a hard link has a type of its own here; libarchive's 0 is a type it does not know */
        unsigned type = archive_entry_hardlink(ae) ? TYPE_HARDLINK : archive_entry_filetype(ae);
        uid_t uid = (uid_t)archive_entry_uid(ae);
        gid_t gid = (gid_t)archive_entry_gid(ae);
        if (!*name) { /* the layer root: "." or "/" may set its mode, never its type (S16) */
                if (type != AE_IFDIR)
                        return fail(u, EINVAL, raw, "the layer root would change type (refused)");
                int r = set_override(u->root, uid, gid, mode);
                return r < 0 ? nook_error_sys(u->err, -r, "recording the layer root's owner") : 0;
        }
        if (uid || gid)
                u->st->foreign_owners++;
        char *slash = strrchr(name, '/');
        const char *base = slash ? slash + 1 : name;
        if (slash)
                *slash = 0;
        int dfd = open_dir(u, slash ? name : "", raw);
        if (dfd < 0)
                return dfd;
        if (slash)
                *slash = '/';
        if (strncmp(base, ".wh.", 4) == 0)
                return whiteout(u, dfd, base, raw, ae);
        if (type != AE_IFDIR && type != AE_IFREG && type != AE_IFLNK && type != AE_IFIFO && type != TYPE_HARDLINK) {
                note_skipped(u, name); /* S19: never a device node; nor a type we do not know */
                return 0;
        }
        int r = clear_slot(u, dfd, base, name, type == AE_IFDIR, raw);
        if (r < 0)
                return r;
        switch (type) {
        case AE_IFDIR:
                return make_dir(u, dfd, base, name, raw, r, ae);
        case AE_IFREG:
                return write_file(u, a, dfd, base, raw, mode, ae);
        case AE_IFLNK: {
                const char *target = archive_entry_symlink(ae);
                if (!target || symlinkat(target, dfd, base) < 0)
                        return fail(u, target ? errno : EINVAL, raw, "creating the symlink");
                struct timespec ts[2] = { { archive_entry_mtime(ae), 0 }, { archive_entry_mtime(ae), 0 } };
                (void)utimensat(dfd, base, ts, AT_SYMLINK_NOFOLLOW);
                return 0;
        }
        case AE_IFIFO: {
                if (mkfifoat(dfd, base, 0600) < 0)
                        return fail(u, errno, raw, "creating the fifo");
                _cleanup_close_ int fd = openat(dfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                char p[32];
                snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
                if (fd < 0 || chmod(p, mode & 07777) < 0)
                        return fail(u, errno, raw, "setting the fifo's mode");
                return 0;
        }
        case TYPE_HARDLINK:
                return make_hardlink(u, base, name, raw, ae);
        }
        return 0; /* not reached: the types made are those let through above */
}

static int fix_dirs(unpack *u) {
        /* deepest first: a parent that loses its write bit must come last */
        unsigned max = 0;
        for (size_t i = 0; i < u->n_dirs; i++)
                max = u->dirs[i].depth > max ? u->dirs[i].depth : max;
        for (unsigned d = max + 1; d-- > 0;)
                for (size_t i = 0; i < u->n_dirs; i++) {
                        dir_fix *f = &u->dirs[i];
                        if (f->depth != d)
                                continue;
                        char *slash = strrchr(f->path, '/');
                        if (slash)
                                *slash = 0;
                        int dfd = open_dir(u, slash ? f->path : "", slash ? slash + 1 : f->path);
                        if (slash)
                                *slash = '/';
                        if (dfd < 0)
                                return dfd;
                        const char *base = slash ? slash + 1 : f->path;
                        struct timespec ts[2] = { f->mtime, f->mtime };
                        if (fchmodat(dfd, base, f->mode & 07777, AT_SYMLINK_NOFOLLOW) < 0 && errno == EOPNOTSUPP) {
                                /* glibc < 2.32 and kernels without fchmodat2: the dir was
                                 * opened without following, so its fd names it safely */
                                _cleanup_close_ int fd =
                                        openat(dfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                                if (fd < 0 || fchmod(fd, f->mode & 07777) < 0)
                                        return nook_error_sys(u->err, errno, "setting the mode of '%.200s'", f->path);
                        }
                        (void)utimensat(dfd, base, ts, AT_SYMLINK_NOFOLLOW);
                }
        return 0;
}

int nook_layer_unpack(struct archive *a, int dirfd, const nook_layer_limits *limits, nook_layer_stats *st,
                      nook_error **err) {
        unpack u = { .root = dirfd, .lim = limits, .st = st, .cached_fd = -1, .err = err };
        int loaded = nook_archive_load(err);
        if (loaded < 0)
                return loaded;
        if (set_override(dirfd, 0, 0, 0755) < 0)
                return nook_error_sys(err, errno, "the store does not keep user xattrs (needed for owners)");
        int r = 0;
        struct archive_entry *ae;
        for (int ar; r >= 0 && (ar = archive_read_next_header(a, &ae)) != ARCHIVE_EOF;) {
                if (ar < ARCHIVE_WARN) {
                        r = nook_error_set(err, NOOK_ERROR_INVALID_PACKAGE, NOOK_RETRY_NOT_RETRYABLE,
                                           archive_errno(a) > 0 ? archive_errno(a) : EIO, "%s",
                                           archive_error_string(a) ? archive_error_string(a) : "unreadable tar");
                        break;
                }
                if (++st->entries > limits->max_entries) {
                        r = nook_error_set(err, NOOK_ERROR_INVALID_PACKAGE, NOOK_RETRY_NOT_RETRYABLE, EFBIG,
                                           "the layer has more than %llu entries (NOOK_LIMIT_LAYER_ENTRIES)",
                                           (unsigned long long)limits->max_entries);
                        break;
                }
                if (st->entries == 64 && (r = nook_fault("layer.mid_unpack")) < 0) {
                        r = nook_error_sys(err, -r, "unpacking (fault injected)");
                        break;
                }
                r = one_entry(&u, a, ae);
        }
        if (r >= 0)
                r = fix_dirs(&u);
        cache_drop(&u);
        for (size_t i = 0; i < u.n_dirs; i++)
                free(u.dirs[i].path);
        free(u.dirs);
        return r;
}
