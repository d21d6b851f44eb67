/* nook userns — resolve_mounts: the mount plan of an environment (workspace modes and
 * the spec's mounts), aliases mapped to host paths only through the operator's
 * configuration, every destination and source checked before anything is mounted; the
 * holder applies the plan inside the session (helpers/binds.c). */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "userns/mounts.h"
#include "proto/proto.h"
#include "userns/stages.h"
#include "util/hostpath.h"
#include "util/strbuf.h"

const char *nook_alias_lookup(const nook_adapter_config *c, const char *name) {
        size_t n = strlen(name);
        for (size_t i = 0; c->aliases && c->aliases[i]; i++)
                if (strncmp(c->aliases[i], name, n) == 0 && c->aliases[i][n] == '=')
                        return c->aliases[i] + n + 1;
        return NULL;
}

void nook_mount_list_clear(nook_mount_list *l) {
        for (size_t i = 0; i < l->n; i++) {
                nook_mount_entry *e = &l->e[i];
                free(e->ref);
                free(e->alias);
                free(e->source);
                if (e->fd >= 0)
                        close(e->fd);
                free(e->dest);
                free(e->options);
                free(e->audit);
        }
        free(l->e);
        *l = (nook_mount_list){ 0 };
}

static bool under(const char *path, const char *dir) {
        size_t n = strlen(dir);
        return strncmp(path, dir, n) == 0 && (path[n] == 0 || path[n] == '/');
}

/* tmpfs options nook passes on: size=N[k|m|g|%], mode=OCTAL, noexec, exec, nosuid, nodev. */
static bool tmpfs_options_ok(const char *o) {
        if (!o)
                return true;
        _cleanup_free_ char *copy = strdup(o);
        for (char *save = NULL, *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save)) {
                if (!strcmp(t, "noexec") || !strcmp(t, "exec") || !strcmp(t, "nosuid") || !strcmp(t, "nodev"))
                        continue;
                char *end;
                if (!strncmp(t, "size=", 5)) {
                        strtoull(t + 5, &end, 10);
                        if (end != t + 5 && (!*end || (strchr("kKmMgG%", *end) && !end[1])))
                                continue;
                } else if (!strncmp(t, "mode=", 5)) {
                        unsigned long m = strtoul(t + 5, &end, 8);
                        if (end != t + 5 && !*end && m <= 07777)
                                continue;
                }
                return false;
        }
        return copy != NULL;
}

typedef struct planner {
        const nook_adapter_config *c;
        nook_mount_list *l;
        nook_error **err;
        int n_fds; /* host sources opened */
} planner;

#define fail_at(p, ptr, kind, ...) nook_error_field((p)->err, kind, ptr, __VA_ARGS__)

/* S31: the alias's path is resolved here once, never through a symlink a sandbox could
 * swap (nook_host_open); the fd decides the type now and goes to the holder, which
 * mounts exactly that inode (helpers/mounts.c).  An existing file or directory. */
static int open_source(planner *p, const char *ref, const char *alias, const char *source, struct stat *st) {
        _cleanup_close_ int fd = nook_host_open(source, 0);
        /* a unix socket binds like a file (an ssh-agent's, socket_relay) */
        int e = fd < 0                                                                  ? -fd
                : fstat(fd, st) < 0                                                     ? errno
                : S_ISDIR(st->st_mode) || S_ISREG(st->st_mode) || S_ISSOCK(st->st_mode) ? 0
                                                                                        : EINVAL;
        if (!e)
                return TAKE_FD(fd);
        if (e == ELOOP) {
                nook_error_set(p->err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_USER_ACTION_NEEDED, e,
                               "mount %s: the source of alias '%s' goes through a symlink that you (or a sandbox "
                               "of yours) could change: nook follows none (SECURITY.md S31)",
                               ref, alias);
                nook_error_set_hint(p->err, "%s: name the directory by its real path", source);
                return -e;
        }
        nook_error_set(p->err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_USER_ACTION_NEEDED, e,
                       "mount %s: the source of alias '%s' is not an existing file or directory", ref, alias);
        nook_error_set_hint(p->err, "%s: %s", source, strerror(e));
        return -e;
}

static int add(planner *p, const char *ptr, const char *ref, int kind, bool ro, const char *alias, const char *dest,
               const char *options, int sfm) {
        if (!strcmp(dest, "/"))
                return fail_at(p, ptr, NOOK_ERROR_CONTRACT_VIOLATION, "mount %s: the destination cannot be /", ref);
        if (under(dest, "/proc") || under(dest, "/sys"))
                return fail_at(p, ptr, NOOK_ERROR_CONTRACT_VIOLATION,
                               "mount %s: %s is at or under /proc or /sys, which nook owns (SECURITY.md S6)", ref,
                               dest);
        for (size_t i = 0; i < p->l->n; i++)
                if (!strcmp(p->l->e[i].dest, dest))
                        return fail_at(p, ptr, NOOK_ERROR_CONTRACT_VIOLATION,
                                       "mount %s: destination %s is already taken by another mount", ref, dest);
        const char *source = NULL;
        struct stat st = { 0 };
        _cleanup_close_ int fd = -1;
        if (alias) {
                source = nook_alias_lookup(p->c, alias);
                if (!source)
                        return nook_error_set(p->err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_USER_ACTION_NEEDED, ENOENT,
                                              "mount %s: '%s' is not an alias the operator configured (--alias "
                                              "NAME=PATH, $NOOK_ALIASES, ~/.config/nook/aliases)",
                                              ref, alias);
                if ((fd = open_source(p, ref, alias, source, &st)) < 0)
                        return fd;
                if (S_ISREG(st.st_mode) && kind == NOOK_MOUNT_KIND_SNAPSHOT)
                        return fail_at(p, ptr, NOOK_ERROR_CONTRACT_VIOLATION,
                                       "mount %s: a snapshot workspace needs a directory (%s)", ref, dest);
                if ((S_ISREG(st.st_mode) || S_ISSOCK(st.st_mode)) && sfm == NOOK_SFM_DENY_SINGLE_FILE)
                        return nook_error_set(p->err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_NOT_RETRYABLE, EPERM,
                                              "mount %s: single-file mounts are denied by the environment "
                                              "(single_file_mount_expansion: deny_single_file)",
                                              ref);
                if (++p->n_fds > NOOK_MAX_HOST_SOURCES)
                        return fail_at(p, ptr, NOOK_ERROR_CONTRACT_VIOLATION,
                                       "mount %s: more than %d mounts of host paths in one environment", ref,
                                       NOOK_MAX_HOST_SOURCES);
        }
        char optr[128];
        snprintf(optr, sizeof(optr), "%.*s/nook/options", (int)(strlen(ptr) - strlen("/destination_path")), ptr);
        if (kind == NOOK_MOUNT_KIND_TMPFS && !tmpfs_options_ok(options))
                return fail_at(p, strstr(ptr, "/destination_path") ? optr : ptr, NOOK_ERROR_CONTRACT_VIOLATION,
                               "mount %s: tmpfs options '%s' are not size=N[kmg%%], mode=OCTAL, noexec, exec, nosuid, "
                               "nodev",
                               ref, options);
        nook_mount_entry *n = realloc(p->l->e, (p->l->n + 1) * sizeof(*n));
        if (!n)
                return nook_error_oom(p->err);
        p->l->e = n;
        nook_mount_entry *e = &n[p->l->n++];
        *e = (nook_mount_entry){
                .kind = kind, .read_only = ro, .is_file = S_ISREG(st.st_mode) || S_ISSOCK(st.st_mode), .fd = TAKE_FD(fd)
        };
        e->ref = strdup(ref);
        e->alias = alias ? strdup(alias) : NULL;
        e->source = source ? strdup(source) : NULL;
        e->dest = strdup(dest);
        e->options = strdup(options ? options : "");
        /* nook binds a single file by itself (a file mount point is made for it): nothing
         * more than the file is exposed, so the audit says "none". */
        e->audit = strdup("none");
        if (!e->ref || !e->dest || !e->options || !e->audit || (alias && !e->alias) || (source && !e->source))
                return nook_error_oom(p->err);
        return 0;
}

static int plan_workspace(planner *p, const nook_filesystem *fs) {
        const nook_workspace *w = &fs->workspace;
        const char *ptr = "/environment/spec/filesystem/workspace";
        const char *dest = w->destination_path ? w->destination_path : "/workspace";
        const char *ref = w->mount_ref ? w->mount_ref : "workspace";
        switch (w->mode) {
        case NOOK_WS_NONE:
                return 0;
        case NOOK_WS_SCRATCH:
                return add(p, ptr, ref, NOOK_MOUNT_KIND_TMPFS, false, NULL, dest, "mode=0755",
                           fs->single_file_mount_expansion);
        default:
                if (!w->workspace_ref)
                        return nook_error_field(p->err, NOOK_ERROR_MISSING_REQUIRED_FIELD,
                                                "/environment/spec/filesystem/workspace/workspace_ref", "missing");
                return add(p, ptr, ref, w->mode == NOOK_WS_SNAPSHOT ? NOOK_MOUNT_KIND_SNAPSHOT : NOOK_MOUNT_KIND_BIND,
                           w->mode == NOOK_WS_LIVE_READ_ONLY, w->workspace_ref, dest, NULL,
                           fs->single_file_mount_expansion);
        }
}

static size_t depth(const char *path) {
        size_t n = 0;
        for (; *path; path++)
                n += *path == '/';
        return n;
}

/* Parents before children (as podman sorts them): a mount never hides one made before
 * it; mounts of equal depth keep the order the request gave. */
static void order_by_depth(nook_mount_list *l) {
        for (size_t i = 1; i < l->n; i++)
                for (size_t j = i; j > 0 && depth(l->e[j - 1].dest) > depth(l->e[j].dest); j--) {
                        nook_mount_entry t = l->e[j];
                        l->e[j] = l->e[j - 1];
                        l->e[j - 1] = t;
                }
}

/* socket_relay: each relay ref is an operator alias naming a host unix socket (an
 * ssh-agent's), bound by itself at /run/nook/relay/<ref> and nothing else of the host
 * (the session has no network: netplan.c). */
static int plan_relays(planner *p, const nook_variant *net) {
        if (net->tag != NOOK_NET_SOCKET_RELAY || !net->data)
                return 0;
        const nook_array *a = &((const nook_net_relay *)net->data)->relay_refs;
        for (size_t i = 0; i < a->n; i++) {
                const char *ref = ((char **)a->items)[i];
                char ptr[96], dest[300];
                snprintf(ptr, sizeof(ptr), "/environment/spec/network/socket_relay/relay_refs/%zu", i);
                snprintf(dest, sizeof(dest), "%s/%s", NOOK_RELAY_DIR, ref);
                int r = add(p, ptr, ref, NOOK_MOUNT_KIND_BIND, false, ref, dest, NULL, NOOK_SFM_AUDIT_EXPANDED_PARENT);
                struct stat st;
                if (r >= 0 && (fstat(p->l->e[p->l->n - 1].fd, &st) < 0 || !S_ISSOCK(st.st_mode)))
                        return nook_error_set(p->err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_USER_ACTION_NEEDED, EINVAL,
                                              "socket_relay %s: the alias's source is not a unix socket", ref);
                if (r < 0)
                        return r;
        }
        return 0;
}

int nook_mounts_plan(const nook_adapter_config *c, const nook_environment *env, nook_mount_list *ret,
                     nook_error **err) {
        const nook_filesystem *fs = &env->spec.filesystem;
        nook_mount_list l = { .follow_within = fs->symlink_policy == NOOK_SYMLINK_FOLLOW_WITHIN_ALIAS };
        planner p = { .c = c, .l = &l, .err = err };
        int r = plan_workspace(&p, fs);
        for (size_t i = 0; r >= 0 && i < fs->mounts.n; i++) {
                const nook_mount_policy *m = &((nook_mount_policy *)fs->mounts.items)[i];
                char ptr[96];
                snprintf(ptr, sizeof(ptr), "/environment/spec/filesystem/mounts/%zu/destination_path", i);
                bool tmpfs = m->has_nook && m->nook.type == NOOK_MOUNT_KIND_TMPFS;
                r = add(&p, ptr, m->mount_ref, tmpfs ? NOOK_MOUNT_KIND_TMPFS : NOOK_MOUNT_KIND_BIND,
                        m->mode == NOOK_MOUNT_READ_ONLY, tmpfs ? NULL : m->source_alias, m->destination_path,
                        tmpfs ? m->nook.options : NULL, fs->single_file_mount_expansion);
        }
        if (r >= 0)
                r = plan_relays(&p, &env->spec.network);
        if (r < 0) {
                nook_mount_list_clear(&l);
                return r;
        }
        order_by_depth(&l);
        *ret = l;
        return 0;
}

/* With the root known (prepare_environment), a destination that exists in it must be of
 * the source's type: a file onto a directory, or the reverse, is refused here, naming the
 * mount, before the holder is asked to mount anything. */
int nook_mounts_check_root(const nook_mount_list *l, int root, nook_error **err) {
        for (size_t i = 0; root >= 0 && i < l->n; i++) {
                const nook_mount_entry *e = &l->e[i];
                struct open_how how = { .flags = O_PATH | O_CLOEXEC,
                                        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
                _cleanup_close_ int fd = (int)syscall(SYS_openat2, root, e->dest + 1, &how, sizeof(how));
                struct stat st;
                if (fd < 0 || fstat(fd, &st) < 0)
                        continue; /* created at mount time */
                /* a tmpfs is a directory: onto a file it would fail in the holder, unnamed */
                bool tmpfs = e->kind == NOOK_MOUNT_KIND_TMPFS;
                if ((tmpfs || !e->is_file) != S_ISDIR(st.st_mode))
                        return nook_error_set(err, NOOK_ERROR_CONTRACT_VIOLATION, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                              "mount %s: the source is a %s but %s in the root is a %s", e->ref,
                                              tmpfs        ? "tmpfs"
                                              : e->is_file ? "file"
                                                           : "directory",
                                              e->dest, S_ISDIR(st.st_mode) ? "directory" : "file");
        }
        return 0;
}

int nook_userns_resolve_mounts(void *state, nook_call_ctx *ctx, const nook_env_req *req, nook_mount_plan *ret,
                               nook_error **err) {
        nook_mount_list l;
        int r = nook_mounts_plan(ctx->config, &req->environment, &l, err);
        if (r < 0)
                return nook_error_prefix(err, r, "resolve_mounts");
        ret->mounts.items = calloc(l.n + 1, sizeof(char *));
        ret->nook.items = calloc(l.n + 1, sizeof(nook_mount_ref));
        ret->expanded_exposure_audits.items = calloc(l.n + 1, sizeof(char *));
        bool oom = !ret->mounts.items || !ret->nook.items || !ret->expanded_exposure_audits.items;
        for (size_t i = 0; !oom && i < l.n; i++) {
                /* the contract's plan is the refs; what each is goes in the ext detail */
                ((char **)ret->mounts.items)[i] = strdup(l.e[i].ref);
                ret->mounts.n = i + 1;
                nook_mount_ref *m = &((nook_mount_ref *)ret->nook.items)[i];
                m->mount_ref = strdup(l.e[i].ref);
                m->source_alias = l.e[i].alias ? strdup(l.e[i].alias) : NULL;
                m->destination_path = strdup(l.e[i].dest);
                m->mode = l.e[i].read_only ? NOOK_MOUNT_READ_ONLY : NOOK_MOUNT_WRITABLE;
                m->expansion_audit = strdup(l.e[i].audit);
                ret->nook.n = i + 1;
                oom = !((char **)ret->mounts.items)[i] || !m->mount_ref || !m->destination_path ||
                      !m->expansion_audit || (l.e[i].alias && !m->source_alias);
                if (!oom && l.e[i].is_file) {
                        char *a = NULL;
                        if (asprintf(&a, "mount %s (%s): single file bound by itself; nothing more is exposed",
                                     l.e[i].ref, l.e[i].dest) < 0)
                                oom = true;
                        else
                                ((char **)ret->expanded_exposure_audits.items)[ret->expanded_exposure_audits.n++] = a;
                }
        }
        nook_mount_list_clear(&l);
        return oom ? nook_error_oom(err) : 0;
}
