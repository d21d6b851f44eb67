/* nook-holder — the session's secrets (prepare_secrets; SECURITY.md S26).  The values
 * come once, in NOOK_MSG_SECRETS, and live from then on in one anonymous mapping of ours:
 * locked in memory when RLIMIT_MEMLOCK allows (never swapped), excluded from core dumps,
 * wiped when the holder ends.  From them:
 *  - the masker (util/mask.h) that every monitor (a fork of ours) runs its capture
 *    through, so that no value, nor a common encoding of it, reaches a capture log,
 *    a frame or an attached terminal;
 *  - the "NAME=value" strings added to each workload's environment at exec (spawn.c),
 *    never to ours or a helper's, never to an argv;
 *  - the files bound read-only at their destinations by prepare_environment
 *    (mounts.c, holder_secrets_write): written into a ramfs of this mount namespace
 *    (ramfs, not tmpfs: its pages are never swapped, and tmpfs's noswap is refused in
 *    a user namespace), unreachable from the host and, once the old root is detached,
 *    from anything but the binds.
 * The holder is non-dumpable (holder.c): no process of the sandbox reads our memory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include "helper.h"
#include "util/macro.h"
#include "util/mask.h"

#define SECRETS_MAX 256
#define SECRETS_BYTES_MAX (4u << 20) /* all values together: the mapping is locked */

static bool env_name_ok(const char *s) {
        if (!s || !*s || (*s >= '0' && *s <= '9'))
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
                        return false;
        return true;
}

/* One T_SECRET group, checked; pointers into the message. */
typedef struct incoming {
        const char *ref, *kind, *target;
        const unsigned char *value;
        uint32_t len;
        uint64_t mode, uid, gid;
} incoming;

static const char *parse_one(const void *data, uint32_t len, incoming *in) {
        nook_msg g;
        if (!nook_msg_group(data, len, &g))
                return "a malformed secret";
        *in = (incoming){ .mode = 0400, .uid = UINT64_MAX, .gid = UINT64_MAX };
        size_t off = 0;
        uint16_t tag;
        const void *d;
        uint32_t l;
        bool have_value = false;
        while (nook_msg_next(&g, &off, &tag, &d, &l)) {
                if (tag == S_VALUE) {
                        in->value = d;
                        in->len = l;
                        have_value = true;
                }
        }
        in->ref = nook_msg_str(&g, S_REF);
        in->kind = nook_msg_str(&g, S_KIND);
        in->target = nook_msg_str(&g, S_TARGET);
        in->mode = nook_msg_u64(&g, S_MODE, 0400);
        in->uid = nook_msg_u64(&g, S_UID, UINT64_MAX);
        in->gid = nook_msg_u64(&g, S_GID, UINT64_MAX);
        if (!in->ref || !nook_mask_ref_valid(in->ref, strlen(in->ref)))
                return "a secret ref outside [A-Za-z0-9._-]{1,128}";
        if (!have_value || in->len == 0)
                return "a secret without a value";
        if (!in->kind || (strcmp(in->kind, "file") != 0 && strcmp(in->kind, "env") != 0))
                return "a secret of an unknown kind";
        if (!strcmp(in->kind, "env")) {
                if (!env_name_ok(in->target))
                        return "an environment variable name outside [A-Za-z_][A-Za-z0-9_]*";
                if (memchr(in->value, 0, in->len))
                        return "an environment secret holding a NUL byte (it cannot be a variable's value)";
        } else if (!in->target || in->target[0] != '/' || strlen(in->target) >= 4096) {
                return "a secret file destination that is not an absolute path";
        } else if (in->mode > 07777 || (in->mode & 06000)) {
                return "a secret file mode outside 0000..0777 (or with setuid/setgid bits)";
        }
        return NULL;
}

static void *arena_put(hsecrets *s, const void *a, size_t na, const void *b, size_t nb) {
        unsigned char *p = s->arena + s->used;
        memcpy(p, a, na);
        if (nb)
                memcpy(p + na, b, nb);
        p[na + nb] = 0;
        s->used += na + nb + 1;
        return p;
}

/* The same secrets again (a retried prepare_secrets): nothing to do. */
static bool same_as_held(const hsecrets *s, const incoming *in, size_t n) {
        if (n != s->n)
                return false;
        for (size_t i = 0; i < n; i++) {
                const hsecret *h = &s->v[i];
                if (strcmp(h->ref, in[i].ref) != 0 || strcmp(h->target, in[i].target) != 0 ||
                    h->is_env != !strcmp(in[i].kind, "env") || h->len != in[i].len ||
                    memcmp(h->value, in[i].value, h->len) != 0)
                        return false;
        }
        return true;
}

static void weak_notes(hsecrets *s) {
        const char *why;
        const char *ref;
        for (size_t i = 0; (ref = nook_mask_weak(s->mask, i, &why)); i++) {
                size_t used = strlen(s->notes);
                snprintf(s->notes + used, sizeof(s->notes) - used, "%ssecret %s: %s", used ? "; " : "", ref, why);
        }
}

static int hold(hsecrets *s, const incoming *in, size_t n, hstatus *st) {
        size_t bytes = 0;
        for (size_t i = 0; i < n; i++)
                bytes += strlen(in[i].ref) + strlen(in[i].target) + 2 * (size_t)in[i].len + 8;
        if (bytes > SECRETS_BYTES_MAX)
                return hfail(st, E2BIG, "the secrets hold more than %u bytes together", SECRETS_BYTES_MAX);
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        s->arena_size = (bytes + page - 1) / page * page;
        void *a = mmap(NULL, s->arena_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (a == MAP_FAILED)
                return hfail(st, errno, "mapping memory for the secrets");
        s->arena = a;
        (void)madvise(a, s->arena_size, MADV_DONTDUMP);
        if (mlock(a, s->arena_size) < 0)
                snprintf(s->notes, sizeof(s->notes),
                         "the secrets could not be locked in memory (RLIMIT_MEMLOCK): they may be swapped");
        s->v = calloc(n ? n : 1, sizeof(hsecret));
        nook_mask *mask = NULL;
        if (!s->v || nook_mask_new(&mask) < 0)
                return hfail(st, ENOMEM, "holding the secrets");
        s->mask = mask;
        for (size_t i = 0; i < n; i++) {
                hsecret *h = &s->v[i];
                h->is_env = !strcmp(in[i].kind, "env");
                h->ref = arena_put(s, in[i].ref, strlen(in[i].ref), NULL, 0);
                h->target = arena_put(s, in[i].target, strlen(in[i].target), NULL, 0);
                h->value = arena_put(s, in[i].value, in[i].len, NULL, 0);
                h->len = in[i].len;
                if (h->is_env) {
                        size_t tl = strlen(in[i].target);
                        char *e = arena_put(s, in[i].target, tl + 1, in[i].value, in[i].len);
                        e[tl] = '=';
                        h->env = e;
                }
                h->mode = (uint32_t)in[i].mode;
                h->uid = in[i].uid;
                h->gid = in[i].gid;
                s->n = i + 1;
                int r = nook_mask_add(mask, h->ref, h->value, h->len);
                if (r < 0)
                        return hfail(st, -r, "adding secret %s to the redaction set", h->ref);
        }
        weak_notes(s); /* known from the values: the set is built once we answered */
        s->held = true;
        return 0;
}

/* The masker's tables (~0.5 ms for 10 secrets) are built after the answer, while the
 * client journals the call and composes the next: off the start path.  A workload is
 * never started without them (holder_secrets_ready). */
static void build_mask(hsecrets *s) {
        if (!s->held || s->built || s->build_err)
                return;
        int r = nook_mask_build(s->mask);
        if (r < 0)
                s->build_err = -r;
        else
                s->built = true;
}

bool holder_secrets_ready(holder *h, int fd) {
        hsecrets *s = &h->sec;
        build_mask(s);
        if (!s->held || s->built)
                return true;
        char msg[128];
        snprintf(msg, sizeof(msg), "building the redaction set of the secrets: %s", strerror(s->build_err));
        nook_msg_reply_error(fd, s->build_err, msg);
        return false;
}

void holder_secrets_take(holder *h, int fd, nook_msg *m) {
        hstatus st = { 0 };
        hsecrets *s = &h->sec;
        incoming *in = calloc(SECRETS_MAX, sizeof(incoming));
        size_t n = 0, off = 0;
        uint16_t tag;
        const void *d;
        uint32_t len;
        const char *bad = in ? NULL : "out of memory";
        while (!bad && nook_msg_next(m, &off, &tag, &d, &len)) {
                if (tag != T_SECRET)
                        continue;
                if (n == SECRETS_MAX)
                        bad = "more than 256 secrets";
                else
                        bad = parse_one(d, len, &in[n++]);
        }
        for (size_t i = 0; !bad && i < n; i++)
                for (size_t j = 0; !bad && j < i; j++)
                        if (!strcmp(in[i].kind, in[j].kind) && !strcmp(in[i].target, in[j].target))
                                bad = "two secrets with the same destination";
        if (bad)
                hfail(&st, EINVAL, "prepare_secrets: %s", bad);
        else if (s->held && !same_as_held(s, in, n))
                hfail(&st, EALREADY,
                      "the session already holds other secrets (prepare_secrets ran); "
                      "prepare a new session for these");
        else if (!s->held && h->prepared)
                hfail(&st, EINVAL,
                      "the environment is already prepared: prepare_secrets comes before "
                      "prepare_environment (prepare a new session)");
        else if (!s->held && hold(s, in, n, &st) < 0)
                holder_secrets_wipe(h);
        free(in);
        if (st.err) {
                nook_msg_reply_error(fd, st.err, st.msg);
                return;
        }
        nook_msg r = NOOK_MSG_INIT(NOOK_MSG_REPLY);
        nook_msg_add_u64(&r, T_ERRNO, 0);
        if (s->notes[0])
                nook_msg_add_str(&r, T_MESSAGE, s->notes);
        (void)nook_msg_send(fd, &r);
        nook_msg_done(&r);
        build_mask(s);
}

/* ---- files (prepare_environment) ---------------------------------------------------- */

static int write_value(int fd, const unsigned char *v, size_t n) {
        for (size_t off = 0; off < n;) {
                ssize_t w = write(fd, v + off, n - off);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return w < 0 ? -errno : -EIO;
                off += (size_t)w;
        }
        return 0;
}

int holder_secrets_write(holder *h, uid_t uid, gid_t gid, char *notes, size_t notes_size, hstatus *st) {
        hsecrets *s = &h->sec;
        bool any = false;
        for (size_t i = 0; i < s->n; i++)
                any |= !s->v[i].is_env;
        if (!any)
                return 0;
        if (mkdirat(h->session_fd, "secrets", 0700) < 0 && errno != EEXIST)
                return hfail(st, errno, "making the secrets' mount point");
        _cleanup_close_ int at = openat(h->session_fd, "secrets", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        char p[32];
        snprintf(p, sizeof(p), "/proc/self/fd/%d", at);
        unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
        if (at < 0)
                return hfail(st, errno, "opening the secrets' mount point");
        if (mount("nook-secrets", p, "ramfs", flags, "mode=0700") < 0) {
                /* no ramfs here: a tmpfs sized to the values, which the kernel may swap */
                size_t bytes = 0;
                for (size_t i = 0; i < s->n; i++)
                        bytes += (s->v[i].len + 4095) / 4096 * 4096;
                char data[96];
                snprintf(data, sizeof(data), "mode=0700,size=%zu,nr_inodes=%zu", bytes + 4096, s->n + 4);
                if (mount("nook-secrets", p, "tmpfs", flags, data) < 0)
                        return hfail(st, errno, "mounting the secrets' file system");
                size_t used = strlen(notes);
                snprintf(notes + used, notes_size - used,
                         "%ssecret files on a tmpfs (no ramfs here): they may be swapped", used ? "; " : "");
        }
        /* reached anew by name (the fd of the mount point is the dir under the mount),
         * and checked to be memory before a byte is written: never the run dir's disk */
        struct statfs sf;
        s->dir_fd = openat(h->session_fd, "secrets", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (s->dir_fd < 0 || fstatfs(s->dir_fd, &sf) < 0)
                return hfail(st, errno, "opening the secrets' file system");
        if (sf.f_type != RAMFS_MAGIC && sf.f_type != TMPFS_MAGIC)
                return hfail(st, EXDEV, "the secrets' file system is not in memory: refused (SECURITY.md S26)");
        for (size_t i = 0; i < s->n; i++) {
                hsecret *v = &s->v[i];
                if (v->is_env)
                        continue;
                char name[24];
                snprintf(name, sizeof(name), "%zu", i);
                _cleanup_close_ int fd =
                        openat(s->dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                int r = fd < 0 ? -errno : write_value(fd, v->value, v->len);
                if (r >= 0 && fchown(fd, v->uid == UINT64_MAX ? uid : (uid_t)v->uid,
                                     v->gid == UINT64_MAX ? gid : (gid_t)v->gid) < 0)
                        r = -errno;
                if (r >= 0 && fchmod(fd, (mode_t)v->mode) < 0)
                        r = -errno;
                if (r == -EINVAL)
                        return hfail(st, EINVAL,
                                     "secret %s: its owner %llu:%llu is not mapped in this session (a single-id "
                                     "identity maps one id: leave uid= and gid= out, or use --userns subuid)",
                                     v->ref, (unsigned long long)(v->uid == UINT64_MAX ? uid : v->uid),
                                     (unsigned long long)(v->gid == UINT64_MAX ? gid : v->gid));
                if (r < 0)
                        return hfail(st, -r, "writing secret %s", v->ref);
        }
        return 0;
}

/* The staging mount point goes once every file is bound: the files stay reachable
 * through their binds and our dir_fd only. */
void holder_secrets_unstage(holder *h) {
        char p[32];
        _cleanup_close_ int at = openat(h->session_fd, "secrets", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (at < 0)
                return;
        snprintf(p, sizeof(p), "/proc/self/fd/%d", at);
        (void)umount2(p, MNT_DETACH);
        (void)unlinkat(h->session_fd, "secrets", AT_REMOVEDIR);
}

static const hsecret *by_ref(const hsecrets *s, const char *ref, size_t n) {
        for (size_t i = 0; i < s->n; i++)
                if (strlen(s->v[i].ref) == n && !strncmp(s->v[i].ref, ref, n))
                        return &s->v[i];
        return NULL;
}

/* NAME=value into v (n entries, room for one more), replacing a plain NAME. */
static size_t put_env(char **v, size_t n, char *kv, size_t name_len) {
        size_t k = 0;
        while (k < n && strncmp(v[k], kv, name_len + 1) != 0)
                k++;
        v[k] = kv;
        return n + (k == n);
}

char **holder_secrets_envp(const holder *h, const nook_msg *q, char **envp, char **ret_block, size_t *ret_size) {
        const hsecrets *s = &h->sec;
        size_t n = 0, extra = 0, block = 0, off = 0;
        uint16_t tag;
        const void *d;
        uint32_t len;
        *ret_block = NULL;
        *ret_size = 0;
        while (envp && envp[n])
                n++;
        for (size_t i = 0; i < s->n; i++)
                extra += s->v[i].is_env;
        /* value_ref entries (T_ENV_SECRET "NAME=REF"): strings of their own, wiped by
         * the caller once the workload runs */
        while (nook_msg_next(q, &off, &tag, &d, &len)) {
                const char *eq = tag == T_ENV_SECRET && len && ((const char *)d)[len - 1] == 0 ? strchr(d, '=') : NULL;
                const hsecret *v = eq ? by_ref(s, eq + 1, strlen(eq + 1)) : NULL;
                if (!v)
                        continue;
                if (memchr(v->value, 0, v->len))
                        return NULL;
                block += (size_t)(eq - (const char *)d) + 1 + v->len + 1;
                extra++;
        }
        if (!envp || !extra)
                return envp;
        char **nv = realloc(envp, (n + extra + 1) * sizeof(char *));
        char *b = block ? malloc(block) : NULL;
        if (!nv || (block && !b)) {
                free(b);
                return NULL;
        }
        for (size_t i = 0; i < s->n; i++)
                if (s->v[i].is_env)
                        n = put_env(nv, n, s->v[i].env, strlen(s->v[i].target));
        off = 0;
        size_t used = 0;
        while (b && nook_msg_next(q, &off, &tag, &d, &len)) {
                const char *eq = tag == T_ENV_SECRET && len && ((const char *)d)[len - 1] == 0 ? strchr(d, '=') : NULL;
                const hsecret *v = eq ? by_ref(s, eq + 1, strlen(eq + 1)) : NULL;
                if (!v)
                        continue;
                size_t nl = (size_t)(eq - (const char *)d);
                char *kv = b + used;
                memcpy(kv, d, nl + 1);
                memcpy(kv + nl + 1, v->value, v->len);
                kv[nl + 1 + v->len] = 0;
                used += nl + 1 + v->len + 1;
                n = put_env(nv, n, kv, nl);
        }
        nv[n] = NULL;
        *ret_block = b;
        *ret_size = block;
        return nv;
}

void holder_secrets_wipe(holder *h) {
        hsecrets *s = &h->sec;
        if (s->dir_fd >= 0) {
                for (size_t i = 0; i < s->n; i++) {
                        char name[24];
                        snprintf(name, sizeof(name), "%zu", i);
                        int fd = openat(s->dir_fd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
                        if (fd < 0)
                                continue;
                        static const unsigned char zero[4096];
                        for (size_t off = 0; off < s->v[i].len; off += sizeof(zero))
                                (void)!write(fd, zero,
                                             s->v[i].len - off < sizeof(zero) ? s->v[i].len - off : sizeof(zero));
                        (void)ftruncate(fd, 0);
                        close(fd);
                }
                close(s->dir_fd);
                s->dir_fd = -1;
        }
        s->mask = nook_mask_free(s->mask);
        if (s->arena) {
                explicit_bzero(s->arena, s->arena_size);
                munmap(s->arena, s->arena_size);
        }
        free(s->v);
        *s = (hsecrets){ .dir_fd = -1 };
}
