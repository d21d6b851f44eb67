/* nook userns — capability_report, the run and data dirs: lstat/statfs of each (or of
 * its nearest existing ancestor, nothing is created), user xattrs on the store
 * (getxattr(2) answers EOPNOTSUPP where the filesystem keeps none), a run dir on FUSE;
 * each fix names the real path and a place that works instead. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "userns/caps-run.h"
#include "userns/caps.h"
#include "util/macro.h"
#include "util/strbuf.h"

struct dirs {
        struct dir_finding *out;
        size_t n;
        bool oom;
};

#define dir_take(b, sb) nook_strbuf_steal_oom((sb), &(b)->oom)
#define dir_fmt(b, ...) nook_asprintf_oom(&(b)->oom, __VA_ARGS__)

/* Takes detail and remedy; the remedy is dropped when ok. */
static void dir_add(struct dirs *b, const char *name, const char *title, uint64_t fact, bool ok, bool required,
                    char *detail, char *remedy) {
        if (ok)
                free(TAKE_PTR(remedy));
        if (b->n == CAPS_DIR_FINDINGS || !detail || (!ok && !remedy)) {
                free(detail);
                free(remedy);
                b->oom = true;
                return;
        }
        b->out[b->n++] = (struct dir_finding){ .name = name,
                                               .title = title,
                                               .fact = fact,
                                               .ok = ok,
                                               .required = required,
                                               .detail = detail,
                                               .remedy = remedy };
}

#define FUSE_MAGIC 0x65735546u /* fuse and fuseblk (linux/magic.h FUSE_SUPER_MAGIC) */

static const char *fs_name(long magic) {
        static const struct {
                uint32_t magic;
                const char *name;
        } t[] = {
                { 0xEF53, "ext4" },      { 0x01021994, "tmpfs" },  { 0x6969, "nfs" },        { 0x794c7630, "overlay" },
                { 0x58465342, "xfs" },   { 0x9123683E, "btrfs" },  { FUSE_MAGIC, "fuse" },   { 0x2fc12fc1, "zfs" },
                { 0xFF534D42, "cifs" },  { 0xFE534D42, "smb2" },   { 0x0BD00BD0, "lustre" }, { 0x47504653, "gpfs" },
                { 0x00c36400, "ceph" },  { 0x19830326, "beegfs" }, { 0x01021997, "9p" },     { 0x73717368, "squashfs" },
                { 0x858458f6, "ramfs" }, { 0xF2F52010, "f2fs" },
        };
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                if ((uint32_t)magic == t[i].magic)
                        return t[i].name;
        return "other";
}

static bool fs_is_network(const char *fs) {
        static const char *const net[] = { "nfs", "cifs", "smb2", "lustre", "gpfs", "ceph", "beegfs", "9p" };
        for (size_t i = 0; i < ELEMENTSOF(net); i++)
                if (strcmp(fs, net[i]) == 0)
                        return true;
        return false;
}

static const char *path_fs(const char *path) {
        struct statfs s;
        return statfs(path, &s) == 0 ? fs_name((long)s.f_type) : "unknown";
}

/* The path itself when it exists, else its nearest existing ancestor ("." for none). */
static void existing(const char *path, char *buf, size_t size) {
        snprintf(buf, size, "%s", path);
        struct stat st;
        while (lstat(buf, &st) < 0) {
                char *slash = strrchr(buf, '/');
                if (!slash) {
                        snprintf(buf, size, ".");
                        return;
                }
                slash[slash == buf ? 1 : 0] = 0;
                if (strcmp(buf, "/") == 0)
                        return;
        }
}

/* xattr(7): a filesystem without a handler for the user.* namespace answers
 * EOPNOTSUPP for any user.* name; one with a handler answers ENODATA for a name the
 * file does not carry.  Nothing is written. */
static bool keeps_user_xattrs(const char *path, int *ret_errno) {
        char buf[1];
        ssize_t n = lgetxattr(path, "user.nook.probe", buf, sizeof(buf));
        *ret_errno = n < 0 ? errno : 0;
        return !(n < 0 && (errno == EOPNOTSUPP || errno == ENOTSUP));
}

/* What nook itself checks before it uses a dir (src/userns/session.c nook_rundir_open;
 * src/core/journal.c): ours, 0700, not a symlink; or creatable in a writable ancestor. */
static bool dir_usable(const char *path, bool data) {
        struct stat st;
        char at[PATH_MAX];
        existing(path, at, sizeof(at));
        if (lstat(path, &st) == 0) {
                if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 07777) != 0700)
                        return false;
        } else if (stat(at, &st) < 0 || !S_ISDIR(st.st_mode) || access(at, W_OK | X_OK) < 0)
                return false;
        int e;
        struct statfs sf;
        if (statfs(at, &sf) == 0 && (uint32_t)sf.f_type == FUSE_MAGIC)
                return false;
        return !data || keeps_user_xattrs(at, &e);
}

/* A place that works instead, for the fix line: the first usable candidate that is not
 * the dir being fixed; NULL when none is. */
static char *instead(struct dirs *b, const char *current, bool data) {
        const char *x = secure_getenv(data ? "XDG_DATA_HOME" : "XDG_RUNTIME_DIR"), *home = secure_getenv("HOME");
        unsigned uid = (unsigned)geteuid();
        char cand[5][PATH_MAX] = { "" };
        if (x && x[0] == '/')
                snprintf(cand[0], PATH_MAX, "%s/nook", x);
        if (data) {
                if (home && home[0] == '/')
                        snprintf(cand[1], PATH_MAX, "%s/.local/share/nook", home);
                snprintf(cand[2], PATH_MAX, "/var/tmp/nook-data-%u", uid);
        } else {
                snprintf(cand[1], PATH_MAX, "/run/user/%u/nook", uid);
                snprintf(cand[2], PATH_MAX, "/dev/shm/nook-%u", uid);
                snprintf(cand[3], PATH_MAX, "/tmp/nook-%u", uid);
        }
        if (home && home[0] == '/')
                snprintf(cand[4], PATH_MAX, "%s/.cache/nook-%s", home, data ? "data" : "run");
        for (size_t i = 0; i < ELEMENTSOF(cand); i++)
                if (cand[i][0] && (!current || strcmp(cand[i], current) != 0) && dir_usable(cand[i], data))
                        return dir_fmt(b, "%s", cand[i]);
        return NULL;
}

struct dir_check {
        const char *name, *title, *path, *origin, *env;
        uint64_t fact;
        bool data;
};

/* "export NOOK_RUNTIME_DIR=/tmp/nook-1000 (nook creates it 0700)", or without a
 * candidate, the variable and what it needs. */
static void put_instead(struct dirs *b, nook_strbuf *r, const struct dir_check *c) {
        _cleanup_free_ char *alt = instead(b, c->path, c->data);
        if (alt)
                nook_strbuf_printf(r, "export %s=%s (nook creates it, mode 0700)", c->env, alt);
        else
                nook_strbuf_printf(r, "export %s=DIR with DIR a directory of yours%s", c->env,
                                   c->data ? " on a local disk (ext4, xfs, btrfs)" : "");
}

static void put_fs_note(nook_strbuf *d, const struct dir_check *c, const char *fs) {
        if (c->data && fs_is_network(fs))
                nook_strbuf_printf(d,
                                   "; warning: %s is a network filesystem: SQLite WAL does not work there, so "
                                   "the journal will use rollback mode; node-local storage is better (e.g. "
                                   "NOOK_STORAGE=/node-local/scratch)",
                                   fs);
}

/* The dir does not exist: nook will create it 0700 if the nearest existing ancestor
 * is writable.  Nothing is created here. */
static void dir_missing(struct dirs *b, const struct dir_check *c) {
        char anc[PATH_MAX];
        existing(c->path, anc, sizeof(anc));
        struct stat st;
        bool dir = stat(anc, &st) == 0 && S_ISDIR(st.st_mode);
        bool ok = dir && access(anc, W_OK | X_OK) == 0;
        const char *fs = path_fs(anc);
        nook_strbuf d = NOOK_STRBUF_INIT, r = NOOK_STRBUF_INIT;
        nook_strbuf_printf(&d, "%s (%s) does not exist yet; nearest existing ancestor %s (%s) %s", c->path, c->origin,
                           anc, fs,
                           !dir ? "is not a directory"
                           : ok ? "is writable: nook will create it with mode 0700"
                                : "is not writable by this user: nook cannot create it");
        put_fs_note(&d, c, fs);
        if (!ok) {
                put_instead(b, &r, c);
                nook_strbuf_printf(&r, "; or create it: sudo install -d -m 0700 -o %u -g %u %s", (unsigned)geteuid(),
                                   (unsigned)getegid(), c->path);
        }
        dir_add(b, c->name, c->title, c->fact, ok, true, dir_take(b, &d), ok ? NULL : dir_take(b, &r));
        nook_strbuf_done(&r);
}

static char *dir_remedy(struct dirs *b, const struct dir_check *c, const struct stat *st) {
        nook_strbuf r = NOOK_STRBUF_INIT;
        if (S_ISLNK(st->st_mode))
                nook_strbuf_printf(&r, "rm %s (nook creates the directory itself, mode 0700); or ", c->path);
        else if (!S_ISDIR(st->st_mode))
                nook_strbuf_printf(&r, "mv %s %s.old; or ", c->path, c->path);
        else if (st->st_uid != geteuid() && strncmp(c->path, "/tmp/", 5) == 0)
                nook_strbuf_printf(&r,
                                   "another user created %s first: ask root to remove it (sudo rm -rf %s); "
                                   "meanwhile ",
                                   c->path, c->path);
        else if (st->st_uid != geteuid())
                nook_strbuf_printf(&r, "sudo chown %u:%u %s; or ", (unsigned)geteuid(), (unsigned)getegid(), c->path);
        else {
                nook_strbuf_printf(&r, "chmod 0700 %s", c->path);
                return dir_take(b, &r);
        }
        put_instead(b, &r, c);
        return dir_take(b, &r);
}

static void finding_dir(struct dirs *b, const struct dir_check *c) {
        struct stat st;
        if (!c->path) {
                nook_strbuf r = NOOK_STRBUF_INIT;
                put_instead(b, &r, c);
                dir_add(b, c->name, c->title, c->fact, false, true, dir_fmt(b, "no path: %s", c->origin),
                        dir_take(b, &r));
                return;
        }
        if (lstat(c->path, &st) < 0) {
                if (errno == ENOENT)
                        dir_missing(b, c);
                else {
                        int e = errno;
                        nook_strbuf r = NOOK_STRBUF_INIT;
                        nook_strbuf_printf(&r, "check the permissions of the directories above %s; or ", c->path);
                        put_instead(b, &r, c);
                        dir_add(b, c->name, c->title, c->fact, false, true,
                                dir_fmt(b, "%s (%s): lstat: %s", c->path, c->origin, caps_errname(e)), dir_take(b, &r));
                }
                return;
        }
        char target[PATH_MAX] = "";
        const char *fs = path_fs(c->path);
        nook_strbuf d = NOOK_STRBUF_INIT;
        bool ok = false;
        nook_strbuf_printf(&d, "%s (%s) ", c->path, c->origin);
        if (S_ISLNK(st.st_mode)) {
                ssize_t n = readlink(c->path, target, sizeof(target) - 1);
                target[n > 0 ? n : 0] = 0;
                nook_strbuf_printf(&d, "is a symlink (to %s): nook refuses a symlinked directory here", target);
        } else if (!S_ISDIR(st.st_mode))
                nook_strbuf_puts(&d, "exists but is not a directory");
        else if (st.st_uid != geteuid())
                nook_strbuf_printf(&d, "is owned by uid %u, not by this user (uid %u)", (unsigned)st.st_uid,
                                   (unsigned)geteuid());
        else if ((st.st_mode & 07777) != 0700)
                nook_strbuf_printf(&d, "has mode 0%03o, not 0700%s", (unsigned)(st.st_mode & 07777),
                                   st.st_mode & 077 ? ": group or others have access" : "");
        else {
                nook_strbuf_printf(&d, "exists: a directory owned by this user (uid %u), mode 0700, on %s",
                                   (unsigned)st.st_uid, fs);
                put_fs_note(&d, c, fs);
                ok = true;
        }
        if (!ok)
                nook_strbuf_puts(&d, ": nook refuses it");
        dir_add(b, c->name, c->title, c->fact, ok, true, dir_take(b, &d), ok ? NULL : dir_remedy(b, c, &st));
}

/* Images record owners and modes of their files as user.* xattrs in the store
 * (src/userns/layer.c); NFS before 4.2 and tmpfs before Linux 6.6 keep none, ramfs
 * never: every import then fails. */
static void finding_store_xattr(struct dirs *b, const struct dir_check *c) {
        char at[PATH_MAX];
        existing(c->path ? c->path : ".", at, sizeof(at));
        int e = 0;
        bool ok = !c->path || keeps_user_xattrs(at, &e);
        nook_strbuf d = NOOK_STRBUF_INIT, r = NOOK_STRBUF_INIT;
        if (!c->path)
                nook_strbuf_puts(&d, "not measured: no data dir (see data_dir)");
        else if (ok)
                nook_strbuf_printf(&d, "getxattr(user.*) on %s (%s): %s: user xattrs are kept", at, path_fs(at),
                                   e ? caps_errname(e) : "ok");
        else {
                nook_strbuf_printf(&d,
                                   "getxattr(user.*) on %s (%s): %s: this filesystem keeps no user xattrs, so "
                                   "image imports fail (\"the store does not keep user xattrs\"); --rootfs DIR "
                                   "still works",
                                   at, path_fs(at), caps_errname(e));
                put_instead(b, &r, c);
        }
        dir_add(b, "data_dir_user_xattr", "user xattrs in the data dir (the image store)", 0, ok, false,
                dir_take(b, &d), ok ? NULL : dir_take(b, &r));
        nook_strbuf_done(&r);
}

/* Inside rootless podman the container's root is fuse-overlayfs: /tmp/nook-<uid>
 * then lives on FUSE, served by a daemon outside nook's control. */
static void finding_run_fuse(struct dirs *b, const struct dir_check *c) {
        char at[PATH_MAX];
        existing(c->path ? c->path : ".", at, sizeof(at));
        struct statfs sf;
        bool fuse = c->path && statfs(at, &sf) == 0 && (uint32_t)sf.f_type == FUSE_MAGIC;
        nook_strbuf d = NOOK_STRBUF_INIT, r = NOOK_STRBUF_INIT;
        if (fuse) {
                nook_strbuf_printf(&d,
                                   "%s (%s) is on a FUSE filesystem (inside a container, usually its "
                                   "fuse-overlayfs root): every session's sockets, state and mount points would "
                                   "go through that FUSE daemon, and be lost with it",
                                   at, c->origin);
                put_instead(b, &r, c);
        } else
                nook_strbuf_printf(&d, "%s is on %s, not on FUSE", at, c->path ? path_fs(at) : "nothing");
        dir_add(b, "run_dir_not_fuse", "run directory not on FUSE", 0, !fuse, false, dir_take(b, &d),
                fuse ? dir_take(b, &r) : NULL);
        nook_strbuf_done(&r);
}

int caps_dir_findings(const struct nook_probe_options *opts, uid_t uid, struct dir_finding out[CAPS_DIR_FINDINGS]) {
        struct dirs bb = { .out = out }, *b = &bb;
        _cleanup_free_ char *run = NULL, *data = NULL;
        bool run_given = opts && opts->run_dir, data_given = opts && opts->data_dir;
        struct dir_check rc = { "run_dir",
                                "run directory",
                                run_given ? opts->run_dir : NULL,
                                run_given && opts->run_dir_origin ? opts->run_dir_origin : "the run_dir option",
                                "NOOK_RUNTIME_DIR",
                                NOOK_FACT_RUN_DIR,
                                false };
        struct dir_check dc = { "data_dir",
                                "data directory",
                                data_given ? opts->data_dir : NULL,
                                data_given && opts->data_dir_origin ? opts->data_dir_origin : "the data_dir option",
                                "NOOK_STORAGE",
                                NOOK_FACT_DATA_DIR,
                                true };
        /* the runtime's own resolution (src/core/runtime.c), for callers without one */
        if (!rc.path) {
                const char *n = secure_getenv("NOOK_RUNTIME_DIR"), *x = secure_getenv("XDG_RUNTIME_DIR");
                int r = n && n[0] == '/'   ? asprintf(&run, "%s", n)
                        : x && x[0] == '/' ? asprintf(&run, "%s/nook", x)
                                           : asprintf(&run, "/tmp/nook-%u", (unsigned)uid);
                if (r < 0)
                        b->oom = true;
                rc.path = run;
                rc.origin = n && n[0] == '/'   ? "$NOOK_RUNTIME_DIR"
                            : x && x[0] == '/' ? "$XDG_RUNTIME_DIR/nook"
                                               : "/tmp/nook-<uid>: no NOOK_RUNTIME_DIR or XDG_RUNTIME_DIR";
        }
        if (!dc.path) {
                const char *s = secure_getenv("NOOK_STORAGE"), *x = secure_getenv("XDG_DATA_HOME"),
                           *home = secure_getenv("HOME");
                int r = s && s[0] == '/'         ? asprintf(&data, "%s", s)
                        : x && x[0] == '/'       ? asprintf(&data, "%s/nook", x)
                        : home && home[0] == '/' ? asprintf(&data, "%s/.local/share/nook", home)
                                                 : 0;
                if (r < 0)
                        b->oom = true;
                dc.path = data;
                dc.origin = s && s[0] == '/'         ? "$NOOK_STORAGE"
                            : x && x[0] == '/'       ? "$XDG_DATA_HOME/nook"
                            : home && home[0] == '/' ? "~/.local/share/nook: no NOOK_STORAGE or XDG_DATA_HOME"
                                                     : "no NOOK_STORAGE, XDG_DATA_HOME or HOME to derive it from";
        }
        finding_dir(b, &rc);
        finding_run_fuse(b, &rc);
        finding_dir(b, &dc);
        finding_store_xattr(b, &dc);
        return b->oom ? -ENOMEM : 0;
}
