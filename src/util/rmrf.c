/* nook util — nook_rm_rf_at: removing a tree the workload made, iteratively, below dir
 * fds (openat(2) O_NOFOLLOW, fstatat(2) AT_SYMLINK_NOFOLLOW, unlinkat(2) on the parent's
 * fd); the innermost directories keep their fds, the others are closed and entered again
 * through ".." (dev/ino checked) when the walk climbs back to them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "util/fault.h"
#include "util/macro.h"
#include "util/rmrf.h"

#if NOOK_FAULT_INJECTION
void (*nook_rmrf_test_hook)(int fd, unsigned long depth);
#endif

/* Directory streams kept open at once; one fd more for the directory being entered and
 * one for the O_PATH fd that opens a closed one: NOOK_RMRF_MAX_FDS in all. */
#define WINDOW (NOOK_RMRF_MAX_FDS - 2)

typedef struct frame {
        DIR *d; /* NULL while closed: only the innermost WINDOW frames keep theirs */
        dev_t dev;
        ino_t ino;
        char *name; /* its name in the parent frame (frame 0: the caller's name) */
} frame;

/* frames[0] is the named directory, frames[n-1] the one being emptied; lo..n-1 are
 * open.  The stack is on the heap: its size follows the depth, the C stack does not. */
typedef struct walk {
        int top; /* the caller's dirfd: the parent of frames[0] */
        uid_t euid;
        frame *f;
        size_t n, cap, lo;
        nook_rmrf_report *rep;
} walk;

static int fail(walk *w, int error, const char *step, const char *name, size_t depth) {
        if (w->rep->error == 0) {
                w->rep->error = error;
                snprintf(w->rep->step, sizeof(w->rep->step), "%s", step);
                snprintf(w->rep->name, sizeof(w->rep->name), "%s", name);
                w->rep->depth = depth;
        }
        return error;
}

/* 0, or -EISDIR unrecorded when `probe` and name turned out to be a directory. */
static int unlink_entry(walk *w, int dirfd, const char *name, int flags, size_t depth, bool probe) {
        bool dir = flags & AT_REMOVEDIR;
        int r = nook_fault(dir ? "rmrf.rmdir" : "rmrf.unlink");
        if (r == 0 && unlinkat(dirfd, name, flags) < 0)
                r = -errno;
        if (r == 0) {
                w->rep->removed++;
                return 0;
        }
        if (r == -ENOENT)
                return 0;
        /* unlink(2): EISDIR, "pathname refers to a directory (Linux-specific)" */
        if (probe && r == -EISDIR)
                return r;
        return fail(w, r, dir ? "rmdir" : "unlink", name, depth);
}

/* Opens the directory name (stat'ed as st) below pfd, without following a link, and
 * checks it is the one stat'ed.  Ours but closed (a workload's 0000, overlayfs's
 * work/work): made 0700 through an O_PATH fd that names that very inode, so a name
 * swapped for a symlink in between is never chmod'ed through (chmod(2) follows). */
static int open_dir(walk *w, int pfd, const char *name, const struct stat *st, size_t depth) {
        int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == EACCES && st->st_uid == w->euid) {
                _cleanup_close_ int p = openat(pfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                struct stat pst;
                if (p < 0 || fstat(p, &pst) < 0)
                        return fail(w, -errno, "open", name, depth);
                if (pst.st_dev != st->st_dev || pst.st_ino != st->st_ino)
                        return fail(w, -ESTALE, "open", name, depth);
                char path[32];
                snprintf(path, sizeof(path), "/proc/self/fd/%d", p);
                if (chmod(path, 0700) < 0)
                        return fail(w, -errno, "chmod", name, depth);
                fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (fd < 0)
                return fail(w, -errno, "open", name, depth);
        struct stat fst;
        if (fstat(fd, &fst) < 0 || fst.st_dev != st->st_dev || fst.st_ino != st->st_ino) {
                close(fd);
                return fail(w, -ESTALE, "open", name, depth); /* swapped under us */
        }
        /* entries of a directory we own but may not write (0555) still go */
        if ((fst.st_mode & 0700) != 0700 && fst.st_uid == w->euid)
                (void)fchmod(fd, 0700);
        return fd;
}

/* Enters the directory name below pfd (the innermost frame's fd, or the caller's). */
static int push(walk *w, int pfd, const char *name, const struct stat *st) {
        size_t depth = w->n;
        if (w->n == w->cap) {
                size_t cap = w->cap ? w->cap * 2 : 64;
                frame *f = reallocarray(w->f, cap, sizeof(frame));
                if (!f)
                        return fail(w, -ENOMEM, "descend", name, depth);
                w->f = f;
                w->cap = cap;
        }
        _cleanup_free_ char *copy = strdup(name);
        if (!copy)
                return fail(w, -ENOMEM, "descend", name, depth);
        if (w->n - w->lo >= WINDOW) { /* never the innermost: WINDOW >= 2 */
                closedir(w->f[w->lo].d);
                w->f[w->lo++].d = NULL;
        }
        int fd = open_dir(w, pfd, name, st, depth);
        if (fd < 0)
                return fd;
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return fail(w, -errno, "open", name, depth);
        }
        w->f[w->n++] = (frame){ .d = d, .dev = st->st_dev, .ino = st->st_ino, .name = TAKE_PTR(copy) };
#if NOOK_FAULT_INJECTION
        if (nook_rmrf_test_hook)
                nook_rmrf_test_hook(dirfd(d), depth);
#endif
        return 0;
}

/* The parent of frame i was closed: enter it again through "..", which never is a
 * symlink, and accept it only if it is the directory recorded on the way down — a
 * directory moved elsewhere meanwhile would otherwise lead the walk out of the tree. */
static int reopen_parent(walk *w, size_t i) {
        frame *p = &w->f[i - 1];
        int fd = openat(dirfd(w->f[i].d), "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return fail(w, -errno, "reopen ..", w->f[i].name, i);
        struct stat st;
        if (fstat(fd, &st) < 0 || st.st_dev != p->dev || st.st_ino != p->ino) {
                close(fd);
                return fail(w, -ESTALE, "reopen ..", w->f[i].name, i);
        }
        p->d = fdopendir(fd);
        if (!p->d) {
                close(fd);
                return fail(w, -errno, "reopen ..", w->f[i].name, i);
        }
        w->lo = i - 1;
        return 0;
}

/* The innermost directory is empty: close it and remove it from its parent. */
static int pop(walk *w) {
        size_t i = w->n - 1;
        if (i > 0 && !w->f[i - 1].d) {
                int r = reopen_parent(w, i);
                if (r < 0)
                        return r;
        }
        int pfd = i > 0 ? dirfd(w->f[i - 1].d) : w->top;
        closedir(w->f[i].d);
        w->f[i].d = NULL;
        _cleanup_free_ char *name = w->f[i].name;
        w->n--;
        if (w->lo > w->n)
                w->lo = w->n;
        return unlink_entry(w, pfd, name, AT_REMOVEDIR, i, false);
}

/* One entry of the innermost directory, or its end. */
static int step(walk *w) {
        frame *t = &w->f[w->n - 1];
        errno = 0;
        struct dirent *e = readdir(t->d);
        if (!e)
                return errno ? fail(w, -errno, "readdir", t->name, w->n - 1) : pop(w);
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                return 0;
        int fd = dirfd(t->d);
        if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) {
                int r = unlink_entry(w, fd, e->d_name, 0, w->n, true);
                if (r != -EISDIR)
                        return r;
        }
        struct stat st;
        if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : fail(w, -errno, "stat", e->d_name, w->n);
        if (!S_ISDIR(st.st_mode))
                return unlink_entry(w, fd, e->d_name, 0, w->n, false);
        /* a mount point (or another filesystem's subvolume): never descend */
        if (st.st_dev != t->dev)
                return fail(w, -EBUSY, "mount point", e->d_name, w->n);
        return push(w, fd, e->d_name, &st);
}

int nook_rm_rf_report_at(int dirfd, const char *name, nook_rmrf_report *report) {
        nook_rmrf_report local;
        walk w = { .top = dirfd, .euid = geteuid(), .rep = report ? report : &local };
        *w.rep = (nook_rmrf_report){ 0 };
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : fail(&w, -errno, "stat", name, 0);
        if (!S_ISDIR(st.st_mode))
                return unlink_entry(&w, dirfd, name, 0, 0, false);
        int r = push(&w, dirfd, name, &st);
        while (r == 0 && w.n > 0)
                r = step(&w);
        for (size_t i = 0; i < w.n; i++) {
                if (w.f[i].d)
                        closedir(w.f[i].d);
                free(w.f[i].name);
        }
        free(w.f);
        return r;
}

int nook_rm_rf_at(int dirfd, const char *name) {
        return nook_rm_rf_report_at(dirfd, name, NULL);
}

void nook_rmrf_report_format(const nook_rmrf_report *rep, char *buf, size_t size) {
        if (rep->depth)
                snprintf(buf, size, "%s '%s' %lu level%s down: %s", rep->step, rep->name, rep->depth,
                         rep->depth == 1 ? "" : "s", strerror(-rep->error));
        else
                snprintf(buf, size, "%s '%s': %s", rep->step, rep->name, strerror(-rep->error));
}
