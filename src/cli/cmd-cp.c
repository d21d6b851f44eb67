/* nook CLI — `nook cp`: files and directories between a session and the host, by fd.
 * The session side is resolved below an O_PATH fd of the session's root (handed over by
 * its holder, nook_runtime_session_root) with openat2(2) RESOLVE_IN_ROOT: a symlink in
 * the session reads as if that root were "/", so no link, "..", or swap made by the
 * workload leads out of it.  The host side is opened with nook_host_open (S31: no symlink
 * anyone but root could change).  Below those two starting points every entry is
 * reached with *at(2) calls on the fd of its verified parent and O_NOFOLLOW, created
 * with O_EXCL, and checked again (type, inode) after it is opened.
 *
 * Plain fds, not libarchive: a tar stream between the two sides would need a second,
 * path-based extractor (archive_write_disk resolves each entry by name, however
 * guarded); walking with the fds the kernel verified keeps one resolution per entry. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "util/hostpath.h"

#define MAX_DEPTH 256

void help_cp(FILE *f) {
        fputs("Usage: nook cp [OPTIONS] SESSION:SRC HOST_DST\n"
              "       nook cp [OPTIONS] HOST_SRC SESSION:DST\n"
              "\n"
              "Copies a file or a directory (recursively) out of a session or into it, as\n"
              "'podman cp' does.  SESSION is a session name, ref or environment id (nook ps,\n"
              "nook session ls); its path is the one its processes see (mounts included).\n"
              "Write ./a:b for a host path holding a colon.\n"
              "\n"
              "When DST is an existing directory (or ends with '/'), SRC goes into it under\n"
              "its own name; otherwise DST is the copy's name (its parent must exist).\n"
              "Symbolic links are copied as links, never followed; device nodes, fifos and\n"
              "sockets are skipped (and said so).  Modes and modification times are kept;\n"
              "set-user-ID and set-group-ID bits are dropped.\n"
              "\n"
              "Safety: a symlink in the session resolves inside the session's root and a\n"
              "symlink a workload planted on the host side is never followed: cp cannot be\n"
              "made to read or write outside the two places named.\n"
              "\n"
              "Options:\n"
              "  -a, --archive  keep owners too (ids as the session maps them); without it\n"
              "                 copies are yours: root in the session, or you with keep-id\n"
              "  -h, --help     print this help\n"
              "\n"
              "Examples:\n"
              "  nook cp dev:/etc/os-release .\n"
              "  nook cp ./src dev:/work/\n",
              f);
}

typedef struct cp {
        bool archive;
        bool out; /* session -> host */
        unsigned skipped, owners_kept_not;
        char skipped_first[128];
        char where[4096]; /* the entry being copied, for messages */
} cp;

/* ---- the two starting points ------------------------------------------------------------ */

/* openat2 below the session root, symlinks resolved inside it. */
static int open_in_root(int root, const char *path, int flags) {
        struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC),
                                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
        for (int tries = 0;; tries++) {
                int fd = (int)syscall(SYS_openat2, root, *path ? path : ".", &how, sizeof(how));
                /* EAGAIN: a rename raced the walk (openat2(2)); try again a few times */
                if (fd >= 0 || errno != EAGAIN || tries == 8)
                        return fd < 0 ? -errno : fd;
        }
}

static int open_host(const char *path, int flags) {
        if (path[0] == '/')
                return nook_host_open(path, flags);
        char cwd[4096];
        if (!getcwd(cwd, sizeof(cwd)))
                return -errno;
        _cleanup_free_ char *abs = NULL;
        if (asprintf(&abs, "%s/%s", cwd, path) < 0)
                return -ENOMEM;
        return nook_host_open(abs, flags);
}

/* One side's directory at path (O_PATH). */
static int open_dir(int root, const char *path) {
        return root >= 0 ? open_in_root(root, path, O_PATH | O_DIRECTORY) : open_host(*path ? path : ".", O_DIRECTORY);
}

/* Splits path into its parent (opened) and last component (copied into name). */
static int open_parent(int root, const char *path, char *name, size_t size) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        size_t n = strlen(p);
        while (n > 1 && p[n - 1] == '/')
                p[--n] = 0;
        char *slash = strrchr(p, '/');
        const char *last = slash ? slash + 1 : p;
        if (!*last || strcmp(last, ".") == 0 || strcmp(last, "..") == 0 || strlen(last) >= size)
                return -EISDIR;
        memcpy(name, last, strlen(last) + 1); /* fits: checked above */
        if (slash)
                slash[slash == p ? 1 : 0] = 0;
        return open_dir(root, slash ? p : "");
}

/* ---- entries ------------------------------------------------------------------------- */

static int fail(cp *c, int e, const char *what) {
        fprintf(stderr, "nook: cp: %s '%s': %s\n", what, c->where, strerror(e));
        return -e;
}

static void skip(cp *c, const char *kind) {
        if (!c->skipped++)
                snprintf(c->skipped_first, sizeof(c->skipped_first), "%.100s (%s)", c->where, kind);
}

static void set_owner(cp *c, int dfd, const char *name, const struct stat *st) {
        if (c->archive && fchownat(dfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
                c->owners_kept_not++;
}

static void set_times(int dfd, const char *name, const struct stat *st) {
        struct timespec ts[2] = { st->st_atim, st->st_mtim };
        (void)utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW);
}

static int copy_data(cp *c, int in, int out) {
        char buf[65536];
        for (;;) {
                ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
                if (n == 0)
                        return 0;
                if (n > 0)
                        continue;
                if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
                        return fail(c, errno, "copying");
                break;
        }
        for (;;) {
                ssize_t n = read(in, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return fail(c, errno, "reading");
                if (n == 0)
                        return 0;
                for (ssize_t done = 0; done < n;) {
                        ssize_t w = write(out, buf + done, (size_t)(n - done));
                        if (w < 0 && errno != EINTR)
                                return fail(c, errno, "writing");
                        done += w > 0 ? w : 0;
                }
        }
}

/* Opens sname below sdir without following, and checks it is still what st says. */
static int open_same(cp *c, int sdir, const char *sname, int flags, const struct stat *st) {
        int fd = openat(sdir, sname, flags | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return fail(c, errno, "opening");
        struct stat now;
        if (fstat(fd, &now) < 0 || now.st_dev != st->st_dev || now.st_ino != st->st_ino ||
            (now.st_mode & S_IFMT) != (st->st_mode & S_IFMT)) {
                close(fd);
                return fail(c, ESTALE, "changed while being copied (refused)");
        }
        return fd;
}

static int copy_file(cp *c, int sdir, const char *sname, int ddir, const char *dname, const struct stat *st) {
        _cleanup_close_ int in = open_same(c, sdir, sname, O_RDONLY, st);
        if (in < 0)
                return in;
        /* a new file; or an existing regular file, never through a symlink (O_NOFOLLOW:
         * ELOOP) and never another kind of file (checked before it is truncated) */
        _cleanup_close_ int out = openat(ddir, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out < 0 && errno == EEXIST) {
                out = openat(ddir, dname, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
                struct stat ex;
                if (out >= 0 && (fstat(out, &ex) < 0 || !S_ISREG(ex.st_mode))) {
                        close(out);
                        out = -1;
                        errno = EEXIST;
                }
                if (out >= 0 && ftruncate(out, 0) < 0)
                        return fail(c, errno, "truncating the existing");
        }
        if (out < 0)
                return fail(c, errno == ELOOP ? ELOOP : errno,
                            errno == ELOOP    ? "refusing to write through the symlink at the destination of"
                            : errno == EEXIST ? "the destination is not a regular file, for"
                                              : "creating the copy of");
        int r = copy_data(c, in, out);
        if (r < 0)
                return r;
        if (fchmod(out, st->st_mode & 01777) < 0)
                return fail(c, errno, "setting the mode of");
        struct timespec ts[2] = { st->st_atim, st->st_mtim };
        (void)futimens(out, ts);
        if (c->archive && fchown(out, st->st_uid, st->st_gid) < 0)
                c->owners_kept_not++;
        return 0;
}

static int copy_link(cp *c, int sdir, const char *sname, int ddir, const char *dname, const struct stat *st) {
        char target[4096];
        ssize_t n = readlinkat(sdir, sname, target, sizeof(target) - 1);
        if (n < 0)
                return fail(c, errno, "reading the symlink");
        target[n] = 0;
        /* the link is data: created, never followed; an existing link is replaced */
        if (symlinkat(target, ddir, dname) < 0) {
                struct stat ex;
                if (errno != EEXIST)
                        return fail(c, errno, "creating the symlink");
                if (fstatat(ddir, dname, &ex, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISLNK(ex.st_mode) ||
                    unlinkat(ddir, dname, 0) < 0 || symlinkat(target, ddir, dname) < 0)
                        return fail(c, EEXIST, "the destination exists and is not a symlink, for");
        }
        set_owner(c, ddir, dname, st);
        set_times(ddir, dname, st);
        return 0;
}

static int copy_entry(cp *c, int sdir, const char *sname, int ddir, const char *dname, unsigned depth);

static int copy_dir(cp *c, int sdir, const char *sname, int ddir, const char *dname, const struct stat *st,
                    unsigned depth) {
        if (depth >= MAX_DEPTH)
                return fail(c, ELOOP, "directories nest deeper than 256 levels at");
        _cleanup_close_ int in = open_same(c, sdir, sname, O_RDONLY | O_DIRECTORY, st);
        if (in < 0)
                return in;
        if (mkdirat(ddir, dname, 0700) < 0 && errno != EEXIST)
                return fail(c, errno, "creating the directory for");
        /* an existing directory is entered, never a symlink to one */
        _cleanup_close_ int out = openat(ddir, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (out < 0)
                return fail(c, errno == ELOOP || errno == ENOTDIR ? EEXIST : errno,
                            "the destination is not a directory (a symlink is never entered), for");
        int dup = fcntl(in, F_DUPFD_CLOEXEC, 3);
        DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
        if (!d) {
                if (dup >= 0)
                        close(dup);
                return fail(c, errno, "listing");
        }
        size_t len = strlen(c->where);
        int r = 0;
        for (struct dirent *e; r == 0 && (e = readdir(d));) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                        continue;
                snprintf(c->where + len, sizeof(c->where) - len, "/%s", e->d_name);
                r = copy_entry(c, in, e->d_name, out, e->d_name, depth + 1);
                c->where[len] = 0;
        }
        closedir(d);
        if (r < 0)
                return r;
        if (fchmod(out, st->st_mode & 01777) < 0)
                return fail(c, errno, "setting the mode of");
        struct timespec ts[2] = { st->st_atim, st->st_mtim };
        (void)futimens(out, ts);
        if (c->archive && fchown(out, st->st_uid, st->st_gid) < 0)
                c->owners_kept_not++;
        return 0;
}

static int copy_entry(cp *c, int sdir, const char *sname, int ddir, const char *dname, unsigned depth) {
        struct stat st;
        if (fstatat(sdir, sname, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return fail(c, errno, "reading");
        switch (st.st_mode & S_IFMT) {
        case S_IFREG:
                return copy_file(c, sdir, sname, ddir, dname, &st);
        case S_IFDIR:
                return copy_dir(c, sdir, sname, ddir, dname, &st, depth);
        case S_IFLNK:
                return copy_link(c, sdir, sname, ddir, dname, &st);
        default:
                skip(c, S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device node"
                        : S_ISFIFO(st.st_mode)                     ? "a fifo"
                                                                   : "a socket");
                return 0;
        }
}

/* ---- the verb ---------------------------------------------------------------------------- */

/* "SESSION:PATH" (a colon before any slash) -> session and path; NULL for a host path. */
static char *split_session(const char *arg, const char **ret_path) {
        const char *colon = strchr(arg, ':'), *slash = strchr(arg, '/');
        if (!colon || colon == arg || (slash && slash < colon))
                return NULL;
        *ret_path = colon + 1;
        return strndup(arg, (size_t)(colon - arg));
}

static const char *why(int e) {
        return e == ENOSYS  ? "nook cp needs openat2(2) (Linux 5.6 or later) to resolve paths inside a session"
               : e == ELOOP ? "a symlink on the way that nook does not follow (give the real path)"
                            : strerror(e);
}

/* The source's parent dir and its last component; 0 or EXIT_NOOK after reporting. */
static int open_src(int root, const char *src, int *ret_dir, char *name, size_t size) {
        int dir = open_parent(root, src, name, size);
        if (dir < 0) {
                fprintf(stderr, "nook: cp: source '%s': %s\n", src,
                        dir == -EISDIR ? "name a file or directory below /" : why(-dir));
                return EXIT_NOOK;
        }
        *ret_dir = dir;
        struct stat st;
        if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                fprintf(stderr, "nook: cp: source '%s': %s\n", src, strerror(errno));
                return EXIT_NOOK;
        }
        return 0;
}

/* An existing directory (followed inside the session's root; on the host only where
 * nook_host_open allows) takes the copy under the source's name (*name left empty);
 * otherwise the parent and the copy's name. */
static int open_dst(int root, const char *dst, int *ret_dir, char *name, size_t size) {
        size_t n = strlen(dst);
        int dir = open_dir(root, dst);
        name[0] = 0;
        if ((dir == -ENOENT || dir == -ENOTDIR) && n && dst[n - 1] != '/')
                dir = open_parent(root, dst, name, size);
        if (dir < 0) {
                fprintf(stderr, "nook: cp: destination '%s': %s\n", dst, why(-dir));
                return EXIT_NOOK;
        }
        *ret_dir = dir;
        return 0;
}

/* In a child: the host side is opened first, with our own view of owners (nook_host_open
 * trusts root-owned directories, and in the session's user namespace our own files would
 * show as root's); then the session's user namespace is joined (a FUSE root serves only
 * processes in it, and owners map as inside), non-dumpable: nothing of the session can
 * reach this process or its host fds. */
static int copy_child(cp *c, int root, int userns, const char *src, const char *dst) {
        _cleanup_close_ int sdir = -1, ddir = -1;
        char sname[256], dname[256];
        int rc = c->out ? open_dst(-1, dst, &ddir, dname, sizeof(dname))
                        : open_src(-1, src, &sdir, sname, sizeof(sname));
        if (rc)
                return rc;
        if (prctl(PR_SET_DUMPABLE, 0) < 0) {
                fprintf(stderr, "nook: cp: making the copier non-dumpable: %s\n", strerror(errno));
                return EXIT_NOOK;
        }
        /* nested under a seccomp filter that refuses setns: copy from outside, which
         * works on every root but a FUSE one */
        if (userns >= 0 && setns(userns, CLONE_NEWUSER) < 0)
                fprintf(stderr,
                        "nook: cp: note: cannot join the session's user namespace (%s): copying from "
                        "outside (a fuse-overlayfs root refuses that; -a keeps only your own id)\n",
                        strerror(errno));
        rc = c->out ? open_src(root, src, &sdir, sname, sizeof(sname))
                    : open_dst(root, dst, &ddir, dname, sizeof(dname));
        if (rc)
                return rc;
        if (!dname[0])
                snprintf(dname, sizeof(dname), "%s", sname);
        snprintf(c->where, sizeof(c->where), "%s", src);
        if (copy_entry(c, sdir, sname, ddir, dname, 0) < 0)
                return EXIT_NOOK;
        if (c->skipped)
                fprintf(stderr, "nook: cp: %u device nodes, fifos or sockets skipped (first: %s)\n", c->skipped,
                        c->skipped_first);
        if (c->owners_kept_not)
                fprintf(stderr,
                        "nook: cp: -a: %u owners have no id on the other side (not mapped in the session's user "
                        "namespace); those entries are yours\n",
                        c->owners_kept_not);
        return 0;
}

static int parse(int argc, char **argv, cp *c, const char **src, const char **dst) {
        int i = 1, n = 0;
        const char *pos[2] = { NULL, NULL };
        for (; i < argc; i++) {
                if (cli_is_help(argv[i])) {
                        help_cp(stdout);
                        return 0;
                } else if (strcmp(argv[i], "-a") == 0 || strcmp(argv[i], "--archive") == 0)
                        c->archive = true;
                else if (strcmp(argv[i], "--") == 0 && n == 0) {
                        for (i++; i < argc && n < 2; i++)
                                pos[n++] = argv[i];
                        if (i < argc)
                                n = 3;
                        break;
                } else if (argv[i][0] == '-' && argv[i][1])
                        return cli_usage_error("cp", "unknown option '%s' (-a keeps owners)", argv[i]);
                else if (n < 2)
                        pos[n++] = argv[i];
                else
                        n = 3;
        }
        if (n != 2)
                return cli_usage_error("cp", "expected SRC and DST, one of them SESSION:PATH");
        *src = pos[0];
        *dst = pos[1];
        return -1;
}

int cmd_cp(int argc, char **argv) {
        cp c = { 0 };
        const char *src = NULL, *dst = NULL, *spath = NULL, *dpath = NULL;
        int rc = parse(argc, argv, &c, &src, &dst);
        if (rc >= 0)
                return rc;
        _cleanup_free_ char *ss = split_session(src, &spath), *ds = split_session(dst, &dpath);
        if ((ss != NULL) == (ds != NULL))
                return cli_usage_error("cp", ss ? "both SRC and DST name a session: copy through the host"
                                                : "neither SRC nor DST names a session (SESSION:PATH); ./a:b is a host "
                                                  "path with a colon");
        c.out = ss != NULL;
        if (!*(c.out ? spath : dpath))
                return cli_usage_error("cp", "'%s': a path in the session after the colon", c.out ? src : dst);
        _cleanup_(cli_runtime_freep) nook_runtime *rt = NULL;
        if (cli_open_runtime(&rt) < 0)
                return EXIT_NOOK;
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        _cleanup_close_ int root = -1, userns = -1;
        if (nook_runtime_session_root(rt, c.out ? ss : ds, &root, &userns, &err) < 0)
                return cli_report(err);
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
                fprintf(stderr, "nook: cp: fork: %s\n", strerror(errno));
                return EXIT_NOOK;
        }
        if (pid == 0)
                _exit(copy_child(&c, root, userns, c.out ? spath : src, c.out ? dst : dpath));
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return EXIT_NOOK;
        return WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_NOOK;
}
