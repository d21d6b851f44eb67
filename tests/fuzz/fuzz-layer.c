/* nook fuzz — layer unpacking (src/userns/layer.c): a tar stream (plain, gzip or zstd;
 * header checksums of a plain tar are fixed up first) through libarchive into a fresh
 * dir.  The process runs in an empty dir of its own (cwd/) next to a sentinel dir, so
 * that a name resolved against the cwd or "/proc/self/cwd/.." lands somewhere checked.
 * Oracles after every input (S15-S19): the scratch dir holds exactly cwd/, sentinel/
 * and layer/; cwd/ is empty; the sentinel file is unchanged and has one link; inside
 * the layer, no device but 0/0 whiteouts, no socket, no hard link leading out, no
 * overlayfs xattr but opaque, and nook's owner xattr well formed. */
#include <archive.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fuzz-common.h"
#include "userns/image.h"
#include "util/macro.h"

#define SENTINEL_TEXT "the layer must never reach this file\n"

static char *work; /* the scratch dir */
static struct stat sentinel_st;

/* libFuzzer is given paths relative to where it started: made absolute before the
 * chdir, and crash files go there too unless -artifact_prefix says otherwise. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
        char cwd[4096];
        FUZZ_CHECK(getcwd(cwd, sizeof(cwd)), "getcwd");
        char **nv = calloc((size_t)*argc + 2, sizeof(char *));
        FUZZ_CHECK(nv, "out of memory");
        bool prefix = false;
        int n = 0;
        for (int i = 0; i < *argc; i++) {
                const char *a = (*argv)[i];
                prefix |= strncmp(a, "-artifact_prefix=", 17) == 0;
                if (i > 0 && a[0] != '-' && a[0] != '/')
                        FUZZ_CHECK(asprintf(&nv[n++], "%s/%s", cwd, a) > 0, "out of memory");
                else if (strncmp(a, "-artifact_prefix=", 17) == 0 && a[17] != '/')
                        FUZZ_CHECK(asprintf(&nv[n++], "-artifact_prefix=%s/%s", cwd, a + 17) > 0, "out of memory");
                else
                        nv[n++] = (char *)a;
        }
        if (!prefix)
                FUZZ_CHECK(asprintf(&nv[n++], "-artifact_prefix=%s/", cwd) > 0, "out of memory");
        *argc = n;
        *argv = nv;

        work = strdup(fuzz_workdir("layer"));
        int wfd = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        FUZZ_CHECK(wfd >= 0 && mkdirat(wfd, "cwd", 0700) == 0 && mkdirat(wfd, "sentinel", 0700) == 0,
                   "making the scratch dirs");
        FUZZ_CHECK(fuzz_write_file(wfd, "sentinel/keep", SENTINEL_TEXT, strlen(SENTINEL_TEXT)) == 0, "sentinel");
        FUZZ_CHECK(fstatat(wfd, "sentinel/keep", &sentinel_st, 0) == 0, "stat sentinel");
        close(wfd);
        char *cwd_dir;
        FUZZ_CHECK(asprintf(&cwd_dir, "%s/cwd", work) > 0 && chdir(cwd_dir) == 0, "chdir");
        free(cwd_dir);
        return 0;
}

static void check_names(int dfd, const char *where, const char *const *want, size_t n_want) {
        int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd < 0 ? NULL : fdopendir(fd);
        FUZZ_CHECK(d, "listing %s", where);
        size_t seen = 0;
        for (struct dirent *e; (e = readdir(d));) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                        continue;
                bool known = false;
                for (size_t i = 0; i < n_want; i++)
                        known |= strcmp(e->d_name, want[i]) == 0;
                FUZZ_CHECK(known, "escape: '%s' appeared in %s", e->d_name, where);
                seen++;
        }
        closedir(d);
        FUZZ_CHECK(seen == n_want, "%s lost an entry (%zu of %zu)", where, seen, n_want);
}

static void check_outside(int wfd) {
        static const char *const top[] = { "cwd", "sentinel", "layer" };
        static const char *const sentinel[] = { "keep" };
        check_names(wfd, work, top, 3);
        int cfd = openat(wfd, "cwd", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int sfd = openat(wfd, "sentinel", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        FUZZ_CHECK(cfd >= 0 && sfd >= 0, "escape: cwd/ or sentinel/ was replaced");
        check_names(cfd, "cwd/", NULL, 0);
        check_names(sfd, "sentinel/", sentinel, 1);
        struct stat st;
        char buf[sizeof(SENTINEL_TEXT) + 8];
        int kfd = openat(sfd, "keep", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        ssize_t n = kfd < 0 ? -1 : read(kfd, buf, sizeof(buf));
        FUZZ_CHECK(kfd >= 0 && fstat(kfd, &st) == 0, "escape: sentinel/keep was replaced");
        FUZZ_CHECK(n == (ssize_t)strlen(SENTINEL_TEXT) && memcmp(buf, SENTINEL_TEXT, (size_t)n) == 0,
                   "escape: sentinel/keep was written");
        FUZZ_CHECK(st.st_ino == sentinel_st.st_ino && st.st_mode == sentinel_st.st_mode &&
                           st.st_uid == sentinel_st.st_uid && st.st_nlink == 1,
                   "escape: sentinel/keep changed (mode %o, %ju links)", st.st_mode, (uintmax_t)st.st_nlink);
        close(kfd);
        close(cfd);
        close(sfd);
}

typedef struct walk {
        int root_dev;
        ino_t inos[4096];
        unsigned links[4096]; /* how often each multiply linked inode was met */
        nlink_t nlink[4096];
        size_t n;
        bool complete; /* the unpack succeeded: every file and dir has nook's owner xattr */
} walk;

static void check_xattrs(const char *path, const struct stat *st, bool complete) {
        char names[8192];
        ssize_t n = llistxattr(path, names, sizeof(names));
        FUZZ_CHECK(n >= 0 || errno == E2BIG, "listing the xattrs of %s: %s", path, strerror(errno));
        bool owner = false;
        for (ssize_t i = 0; i > -1 && i < n; i += (ssize_t)strlen(names + i) + 1) {
                const char *x = names + i;
                FUZZ_CHECK(strncmp(x, "user.overlay.", 13) != 0 || strcmp(x, NOOK_OPAQUE_XATTR) == 0,
                           "%s carries the overlayfs xattr %s", path, x);
                FUZZ_CHECK(strncmp(x, "trusted.", 8) != 0 && strncmp(x, "security.", 9) != 0, "%s carries %s", path, x);
                if (strcmp(x, NOOK_OVERRIDE_XATTR) == 0) {
                        char v[64];
                        ssize_t vn = lgetxattr(path, x, v, sizeof(v) - 1);
                        unsigned uid, gid, mode;
                        char tail;
                        FUZZ_CHECK(vn > 0, "reading %s of %s", x, path);
                        v[vn] = 0;
                        FUZZ_CHECK(sscanf(v, "%u:%u:%o%c", &uid, &gid, &mode, &tail) == 3 && mode <= 07777,
                                   "%s: malformed %s '%s'", path, x, v);
                        owner = true;
                }
        }
        FUZZ_CHECK(owner || !complete || !(S_ISREG(st->st_mode) || S_ISDIR(st->st_mode)),
                   "%s has no owner xattr after a complete unpack", path);
}

static void walk_dir(walk *w, char *path, size_t len) {
        DIR *d = opendir(path);
        FUZZ_CHECK(d, "opening %s: %s", path, strerror(errno));
        for (struct dirent *e; (e = readdir(d));) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                        continue;
                size_t el = strlen(e->d_name);
                FUZZ_CHECK(len + el + 2 < 8192, "path too deep");
                path[len] = '/';
                memcpy(path + len + 1, e->d_name, el + 1);
                struct stat st;
                FUZZ_CHECK(lstat(path, &st) == 0, "lstat %s", path);
                FUZZ_CHECK(!S_ISBLK(st.st_mode) && !S_ISSOCK(st.st_mode), "S19: %s is a device or socket", path);
                FUZZ_CHECK(!S_ISCHR(st.st_mode) || st.st_rdev == makedev(0, 0), "S19: %s is a character device", path);
                FUZZ_CHECK((int)st.st_dev == w->root_dev, "%s is on another filesystem", path);
                /* user.* xattrs are read with read permission (xattr(7)); a dir is entered
                 * with x; nook_rm_rf_at opens closed dirs the same way at the end */
                if (!S_ISLNK(st.st_mode)) {
                        FUZZ_CHECK(chmod(path, (st.st_mode & 07777) | (S_ISDIR(st.st_mode) ? 0700 : 0600)) == 0,
                                   "chmod %s", path);
                        check_xattrs(path, &st, w->complete);
                }
                if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 && w->n < ELEMENTSOF(w->inos)) {
                        size_t i = 0;
                        while (i < w->n && w->inos[i] != st.st_ino)
                                i++;
                        if (i == w->n)
                                w->inos[w->n++] = st.st_ino, w->links[i] = 0, w->nlink[i] = st.st_nlink;
                        w->links[i]++;
                }
                if (S_ISDIR(st.st_mode))
                        walk_dir(w, path, len + 1 + el);
                path[len] = 0;
        }
        closedir(d);
}

static void check_inside(bool complete) {
        walk *w = calloc(1, sizeof(*w));
        char *path = malloc(8192);
        FUZZ_CHECK(w && path, "out of memory");
        snprintf(path, 8192, "%s/layer", work);
        struct stat st;
        FUZZ_CHECK(lstat(path, &st) == 0 && S_ISDIR(st.st_mode), "the layer dir was replaced");
        w->root_dev = (int)st.st_dev;
        w->complete = complete;
        walk_dir(w, path, strlen(path));
        /* S17: each link of a file in the layer is in the layer */
        for (size_t i = 0; i < w->n; i++)
                FUZZ_CHECK(w->links[i] == w->nlink[i], "S17: a file of the layer has %ju links, %u of them inside",
                           (uintmax_t)w->nlink[i], w->links[i]);
        free(path);
        free(w);
}

static int unpack(const uint8_t *data, size_t size, int lfd) {
        uint8_t *tar = malloc(size ? size : 1);
        FUZZ_CHECK(tar, "out of memory");
        if (size)
                memcpy(tar, data, size);
        fuzz_tar_fix_checksums(tar, size);
        struct archive *a = archive_read_new();
        FUZZ_CHECK(a, "archive_read_new");
        archive_read_support_filter_gzip(a);
        archive_read_support_filter_zstd(a);
        archive_read_support_filter_none(a);
        archive_read_support_format_tar(a);
        archive_read_support_format_empty(a);
        nook_layer_limits lim = { .max_bytes = 8u << 20, .max_entries = 2048, .max_ratio = 200 };
        nook_layer_stats st = { .compressed_in = size };
        nook_error *err = NULL;
        int r = archive_read_open_memory(a, tar, size) == ARCHIVE_OK ? nook_layer_unpack(a, lfd, &lim, &st, &err)
                                                                     : -EINVAL;
        FUZZ_CHECK(r >= 0 || r == -EINVAL || err, "the unpack failed (%d) without an error", r);
        FUZZ_CHECK(memchr(st.skipped_names, 0, sizeof(st.skipped_names)), "skipped_names unterminated");
        if (getenv("NOOK_FUZZ_VERBOSE")) /* what a seed reaches */
                dprintf(2, "unpack: %s (%llu entries, %llu skipped, %llu whiteouts)\n",
                        r >= 0 ? "ok"
                        : err  ? nook_error_get_message(err)
                               : "not a tar",
                        (unsigned long long)st.entries, (unsigned long long)st.skipped,
                        (unsigned long long)st.whiteouts);
        nook_error_free(err);
        archive_read_free(a);
        free(tar);
        return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        int wfd = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        FUZZ_CHECK(wfd >= 0 && mkdirat(wfd, "layer", 0700) == 0, "making layer/");
        int lfd = openat(wfd, "layer", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        FUZZ_CHECK(lfd >= 0, "opening layer/");
        int r = unpack(data, size, lfd);
        close(lfd);
        check_outside(wfd);
        check_inside(r >= 0);
        fuzz_rm_rf(wfd, "layer");
        close(wfd);
        return 0;
}
