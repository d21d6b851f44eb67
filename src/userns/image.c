/* nook userns — resolve_image (a name or digest of the local store, checked against
 * expected_digest and expected_architecture) and the store's listing, inspect, rm and
 * prune.  Importing is import.c; nothing here reaches the network. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "userns/image.h"
#include "userns/session.h"
#include "userns/stages.h"
#include "util/error.h"
#include "util/macro.h"
#include "util/rmrf.h"
#include "util/strbuf.h"

static void json_strv(nook_strbuf *b, const char *key, char **v);

int nook_userns_resolve_image(void *state, nook_call_ctx *ctx, const nook_resolve_image_req *req,
                              nook_resolve_image_result *ret, nook_error **err) {
        const nook_image_request *q = &req->image;
        nook_store store;
        int r = nook_store_open(ctx->config->data_dir, false, &store, err);
        if (r < 0)
                return nook_error_prefix(err, r, "resolve_image %s", q->image_ref);
        char digest[NOOK_DIGEST_LEN + 1];
        nook_image im = { 0 };
        r = nook_store_lookup(&store, q->image_ref, digest, err);
        if (r == 0)
                r = nook_image_load(&store, digest, &im, err);
        nook_store_close(&store);
        if (r < 0)
                return nook_error_prefix(err, r, "resolve_image");
        if (q->expected_digest && strcmp(q->expected_digest, im.digest) != 0 &&
            strcmp(q->expected_digest, im.config_digest) != 0)
                r = nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_NOT_RETRYABLE, EBADMSG,
                                   "resolve_image: '%.200s' is %s, not the expected %s", q->image_ref, im.digest,
                                   q->expected_digest);
        else if (q->expected_architecture && (!im.architecture || strcmp(q->expected_architecture, im.architecture)))
                r = nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_NOT_RETRYABLE, ENOEXEC,
                                   "resolve_image: '%.200s' is for %s, not the expected %s", q->image_ref,
                                   im.architecture ? im.architecture : "an unknown architecture",
                                   q->expected_architecture);
        if (r == 0 && (!(ret->image_ref = strdup(im.digest)) || !(ret->digest = strdup(im.digest))))
                r = nook_error_oom(err);
        if (r == 0) { /* ext: what a client needs to compose the command, docker's way */
                nook_strbuf b = NOOK_STRBUF_INIT;
                nook_strbuf_puts(&b, "{\"architecture\":");
                nook_strbuf_json_string(&b, im.architecture ? im.architecture : "");
                json_strv(&b, "entrypoint", im.entrypoint);
                json_strv(&b, "cmd", im.cmd);
                nook_strbuf_puts(&b, "}");
                if (!(ret->nook = nook_strbuf_steal(&b)))
                        r = nook_error_oom(err);
        }
        nook_image_clear(&im);
        return r;
}

/* Which live sessions use which image. */
typedef struct users {
        char **digests; /* "sha256:... s-ref" */
        size_t n;
        const char *data_dir;
} users;

static int collect_user(const nook_session_info *s, void *userdata) {
        users *u = userdata;
        /* sessions of this user may run images of other stores (NOOK_STORAGE) */
        if (!s->image || strcmp(s->state, "dead") == 0 || !s->image_store || strcmp(s->image_store, u->data_dir) != 0)
                return 0;
        char **v = reallocarray(u->digests, u->n + 2, sizeof(char *));
        if (!v)
                return -ENOMEM;
        u->digests = v;
        if (asprintf(&v[u->n], "%s %s", s->image, s->name ? s->name : s->ref) < 0)
                return -ENOMEM;
        v[++u->n] = NULL;
        return 0;
}

static const char *user_of(const users *u, const char *digest) {
        for (size_t i = 0; i < u->n; i++)
                if (strncmp(u->digests[i], digest, NOOK_DIGEST_LEN) == 0)
                        return u->digests[i] + NOOK_DIGEST_LEN + 1;
        return NULL;
}

static int live_users(nook_call_ctx *ctx, users *ret, nook_error **err) {
        *ret = (users){ .data_dir = ctx->config->data_dir };
        int r = nook_userns_sessions(NULL, ctx, collect_user, ret, err);
        return r == -ENOMEM ? nook_error_oom(err) : r;
}

static void name_decode(const char *enc, char *out, size_t size) {
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

typedef int (*name_fn)(const char *name, const char *file, const char *digest, void *userdata);

static int each_name(nook_store *s, name_fn fn, void *userdata) {
        int fd = openat(s->names_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                if (fd >= 0)
                        close(fd);
                return -errno;
        }
        int r = 0;
        for (struct dirent *e; r == 0 && (e = readdir(d));) {
                if (e->d_name[0] == '.')
                        continue;
                _cleanup_close_ int nfd = openat(s->names_fd, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                char buf[NOOK_DIGEST_LEN + 2] = "";
                ssize_t n = nfd < 0 ? -1 : read(nfd, buf, sizeof(buf) - 1);
                if (n < NOOK_DIGEST_LEN)
                        continue;
                buf[NOOK_DIGEST_LEN] = 0;
                char name[512];
                name_decode(e->d_name, name, sizeof(name));
                if (nook_digest_valid(buf))
                        r = fn(name, e->d_name, buf, userdata);
        }
        closedir(d);
        return r;
}

/* ---- nook images ---- */

typedef struct listing {
        nook_store *s;
        nook_strbuf *b;
        const users *u;
        char **seen; /* digests listed so far */
        size_t n_seen;
} listing;

typedef struct names_of {
        const char *digest;
        nook_strbuf *b;
        unsigned n;
} names_of;

static int add_name_if(const char *name, const char *file, const char *digest, void *userdata) {
        names_of *o = userdata;
        if (strcmp(digest, o->digest) == 0) {
                nook_strbuf_puts(o->b, o->n++ ? "," : "");
                nook_strbuf_json_string(o->b, name);
        }
        return 0;
}

static int list_one(const char *name, const char *file, const char *digest, void *userdata) {
        listing *l = userdata;
        for (size_t i = 0; i < l->n_seen; i++)
                if (strcmp(l->seen[i], digest) == 0)
                        return 0;
        char **v = reallocarray(l->seen, l->n_seen + 1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        l->seen = v;
        if (!(v[l->n_seen] = strdup(digest)))
                return -ENOMEM;
        l->n_seen++;
        nook_image im = { 0 };
        if (nook_image_load(l->s, digest, &im, NULL) < 0)
                return 0; /* damaged: inspect says why */
        struct stat st;
        char path[80];
        snprintf(path, sizeof(path), "%s", digest + 7);
        long long created = fstatat(l->s->blobs_fd, path, &st, 0) == 0 ? (long long)st.st_mtime * 1000 : 0;
        nook_strbuf_puts(l->b, l->n_seen > 1 ? ",{\"names\":[" : "{\"names\":[");
        names_of o = { digest, l->b, 0 };
        each_name(l->s, add_name_if, &o);
        const char *user = user_of(l->u, digest);
        nook_strbuf_printf(l->b,
                           "],\"digest\":\"%s\",\"created_ms\":%lld,\"size\":%llu,\"layers\":%zu,"
                           "\"architecture\":\"%s\",\"in_use\":%s}",
                           digest, created, (unsigned long long)im.size, im.n_layers,
                           im.architecture ? im.architecture : "", user ? "true" : "false");
        nook_image_clear(&im);
        return 0;
}

static int do_list(nook_store *s, nook_call_ctx *ctx, char **ret_json, nook_error **err) {
        users u;
        int r = live_users(ctx, &u, err);
        if (r < 0)
                return r;
        nook_strbuf b = NOOK_STRBUF_INIT;
        nook_strbuf_puts(&b, "[");
        listing l = { s, &b, &u, NULL, 0 };
        r = each_name(s, list_one, &l);
        nook_strbuf_puts(&b, "]");
        for (size_t i = 0; i < l.n_seen; i++)
                free(l.seen[i]);
        free(l.seen);
        strv_free(u.digests);
        if (r < 0) {
                nook_strbuf_done(&b);
                return nook_error_sys(err, -r, "listing the images");
        }
        return (*ret_json = nook_strbuf_steal(&b)) ? 0 : nook_error_oom(err);
}

/* ---- nook image inspect ---- */

static void json_strv(nook_strbuf *b, const char *key, char **v) {
        nook_strbuf_printf(b, ",\"%s\":", key);
        if (!v) {
                nook_strbuf_puts(b, "null");
                return;
        }
        nook_strbuf_puts(b, "[");
        for (size_t i = 0; v[i]; i++) {
                nook_strbuf_puts(b, i ? "," : "");
                nook_strbuf_json_string(b, v[i]);
        }
        nook_strbuf_puts(b, "]");
}

static void layer_json(nook_store *s, nook_strbuf *b, const char *digest) {
        char p[100], buf[1024] = "";
        snprintf(p, sizeof(p), "%s/info", digest + 7);
        _cleanup_close_ int fd = openat(s->layers_fd, p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
        buf[n > 0 ? n : 0] = 0;
        nook_strbuf_printf(b, "{\"digest\":\"%s\",\"present\":%s", digest,
                           nook_store_has_layer(s, digest) ? "true" : "false");
        for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
                char *eq = strchr(line, '=');
                if (!eq)
                        continue;
                *eq = 0;
                nook_strbuf_printf(b, ",\"%s\":", line);
                if (strcmp(line, "skipped_names") == 0)
                        nook_strbuf_json_string(b, eq + 1);
                else
                        nook_strbuf_printf(b, "%llu", strtoull(eq + 1, NULL, 10));
        }
        nook_strbuf_puts(b, "}");
}

static int do_inspect(nook_store *s, nook_call_ctx *ctx, const char *ref, char **ret_json, nook_error **err) {
        char digest[NOOK_DIGEST_LEN + 1];
        nook_image im = { 0 };
        int r = nook_store_lookup(s, ref, digest, err);
        if (r == 0)
                r = nook_image_load(s, digest, &im, err);
        users u = { 0 };
        if (r == 0)
                r = live_users(ctx, &u, err);
        if (r < 0)
                return r;
        nook_strbuf b = NOOK_STRBUF_INIT;
        nook_strbuf_puts(&b, "{\"names\":[");
        names_of o = { digest, &b, 0 };
        each_name(s, add_name_if, &o);
        nook_strbuf_printf(&b, "],\"digest\":\"%s\",\"config_digest\":\"%s\",\"architecture\":", im.digest,
                           im.config_digest);
        nook_strbuf_json_string(&b, im.architecture ? im.architecture : "");
        nook_strbuf_puts(&b, ",\"os\":");
        nook_strbuf_json_string(&b, im.os ? im.os : "");
        nook_strbuf_printf(&b, ",\"size\":%llu,\"config\":{\"User\":", (unsigned long long)im.size);
        nook_strbuf_json_string(&b, im.user ? im.user : "");
        nook_strbuf_puts(&b, ",\"WorkingDir\":");
        nook_strbuf_json_string(&b, im.workdir ? im.workdir : "");
        json_strv(&b, "Env", im.env);
        json_strv(&b, "Entrypoint", im.entrypoint);
        json_strv(&b, "Cmd", im.cmd);
        nook_strbuf_puts(&b, "},\"layers\":[");
        for (size_t i = 0; i < im.n_layers; i++) {
                nook_strbuf_puts(&b, i ? "," : "");
                layer_json(s, &b, im.layers[i]);
        }
        /* A user namespace shows only the ids it maps (user_namespaces(7)) */
        nook_strbuf_printf(&b,
                           "],\"ownership\":{\"foreign_owners\":%llu,\"subuid\":\"exact (fuse-overlayfs presents "
                           "the recorded owners)\",\"single_id\":\"%llu entries owned by other ids show as the one "
                           "mapped id; modes stay exact\"}",
                           (unsigned long long)im.foreign_owners, (unsigned long long)im.foreign_owners);
        const char *user = user_of(&u, digest);
        nook_strbuf_puts(&b, ",\"in_use_by\":");
        if (user)
                nook_strbuf_json_string(&b, user);
        else
                nook_strbuf_puts(&b, "null");
        nook_strbuf_puts(&b, "}");
        strv_free(u.digests);
        nook_image_clear(&im);
        return (*ret_json = nook_strbuf_steal(&b)) ? 0 : nook_error_oom(err);
}

/* ---- rm and prune ---- */

typedef struct refs {
        char **layers; /* digests of layers any named image uses */
        char **blobs;  /* manifests and configs of named images */
        size_t n_layers, n_blobs;
} refs;

static bool in_list(char **v, size_t n, const char *d) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i], d) == 0)
                        return true;
        return false;
}

static int push(char ***v, size_t *n, const char *d) {
        if (in_list(*v, *n, d))
                return 0;
        char **nv = reallocarray(*v, *n + 2, sizeof(char *));
        if (!nv)
                return -ENOMEM;
        *v = nv;
        if (!(nv[*n] = strdup(d)))
                return -ENOMEM;
        nv[++*n] = NULL;
        return 0;
}

static int ref_image(nook_store *s, refs *f, const char *digest) {
        nook_image im = { 0 };
        if (nook_image_load(s, digest, &im, NULL) < 0)
                return push(&f->blobs, &f->n_blobs, digest);
        int r = push(&f->blobs, &f->n_blobs, digest);
        if (r == 0)
                r = push(&f->blobs, &f->n_blobs, im.config_digest);
        for (size_t i = 0; r == 0 && i < im.n_layers; i++)
                r = push(&f->layers, &f->n_layers, im.layers[i]);
        nook_image_clear(&im);
        return r;
}

static int ref_named(const char *name, const char *file, const char *digest, void *userdata) {
        return ref_image(((void **)userdata)[0], ((void **)userdata)[1], digest);
}

/* Everything no name and no live session references goes; returns bytes freed. */
static int sweep_unreferenced(nook_store *s, const users *u, unsigned *ret_layers, unsigned *ret_blobs) {
        refs f = { 0 };
        void *ud[2] = { s, &f };
        int r = each_name(s, ref_named, ud);
        for (size_t i = 0; r == 0 && i < u->n; i++) {
                char d[NOOK_DIGEST_LEN + 1];
                snprintf(d, sizeof(d), "%.*s", NOOK_DIGEST_LEN, u->digests[i]);
                r = ref_image(s, &f, d);
        }
        unsigned nl = 0, nb = 0;
        for (int pass = 0; r == 0 && pass < 2; pass++) {
                int dir = pass ? s->blobs_fd : s->layers_fd;
                int fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
                for (struct dirent *e; d && (e = readdir(d));) {
                        char dg[NOOK_DIGEST_LEN + 1];
                        snprintf(dg, sizeof(dg), "sha256:%.64s", e->d_name);
                        if (e->d_name[0] == '.' || !nook_digest_valid(dg) || strlen(e->d_name) != 64)
                                continue;
                        if (pass ? in_list(f.blobs, f.n_blobs, dg) : in_list(f.layers, f.n_layers, dg))
                                continue;
                        if (nook_rm_rf_at(dir, e->d_name) == 0)
                                pass ? nb++ : nl++;
                }
                if (d)
                        closedir(d);
                else if (fd >= 0)
                        close(fd);
        }
        strv_free(f.layers);
        strv_free(f.blobs);
        *ret_layers = nl;
        *ret_blobs = nb;
        return r;
}

typedef struct untag {
        nook_store *s;
        const char *digest; /* remove every name of it */
        nook_strbuf *b;
        unsigned n;
} untag;

static int untag_one(const char *name, const char *file, const char *digest, void *userdata) {
        untag *t = userdata;
        if (strcmp(digest, t->digest) != 0)
                return 0;
        if (unlinkat(t->s->names_fd, file, 0) < 0)
                return -errno;
        nook_strbuf_puts(t->b, t->n++ ? "," : "");
        nook_strbuf_json_string(t->b, name);
        return 0;
}

typedef struct count_names {
        const char *digest;
        unsigned n;
} count_names;

static int count_one(const char *name, const char *file, const char *digest, void *userdata) {
        count_names *c = userdata;
        c->n += strcmp(digest, c->digest) == 0;
        return 0;
}

static int do_remove(nook_store *s, nook_call_ctx *ctx, const char *ref, char **ret_json, nook_error **err) {
        char digest[NOOK_DIGEST_LEN + 1];
        int r = nook_store_lookup(s, ref, digest, err);
        users u = { 0 };
        if (r == 0)
                r = live_users(ctx, &u, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *norm = nook_image_name_normalize(ref);
        count_names c = { digest, 0 };
        each_name(s, count_one, &c);
        /* removing one of several names only untags; the last name takes the image */
        bool by_name = norm && !strchr(ref, '@') && !nook_digest_valid(ref);
        const char *user = user_of(&u, digest);
        if (user && (!by_name || c.n <= 1)) {
                nook_error_set(err, NOOK_ERROR_INVALID_STATE_TRANSITION, NOOK_RETRY_USER_ACTION_NEEDED, EBUSY,
                               "image %s (%.19s…) is in use by session %s", ref, digest, user);
                nook_error_set_hint(err, "remove the session first (nook session rm %s), then the image", user);
                strv_free(u.digests); /* user points into it */
                return -EBUSY;
        }
        nook_strbuf b = NOOK_STRBUF_INIT;
        nook_strbuf_puts(&b, "{\"untagged\":[");
        if (by_name && c.n > 1) {
                r = nook_store_unset_name(s, norm);
                nook_strbuf_json_string(&b, norm);
                nook_strbuf_puts(&b, "],\"deleted\":null");
        } else {
                untag t = { s, digest, &b, 0 };
                r = each_name(s, untag_one, &t);
                unsigned nl = 0, nb = 0;
                if (r == 0)
                        r = sweep_unreferenced(s, &u, &nl, &nb);
                nook_strbuf_printf(&b, "],\"deleted\":\"%s\",\"layers_removed\":%u", digest, nl);
        }
        nook_strbuf_puts(&b, "}");
        strv_free(u.digests);
        if (r < 0) {
                nook_strbuf_done(&b);
                return nook_error_sys(err, -r, "removing image %s", ref);
        }
        return (*ret_json = nook_strbuf_steal(&b)) ? 0 : nook_error_oom(err);
}

static int do_prune(nook_store *s, nook_call_ctx *ctx, char **ret_json, nook_error **err) {
        users u;
        int r = live_users(ctx, &u, err);
        if (r < 0)
                return r;
        unsigned staging = nook_store_sweep(s), nl = 0, nb = 0;
        r = sweep_unreferenced(s, &u, &nl, &nb);
        strv_free(u.digests);
        if (r < 0)
                return nook_error_sys(err, -r, "pruning the image store");
        return asprintf(ret_json, "{\"layers_removed\":%u,\"blobs_removed\":%u,\"abandoned_imports_removed\":%u}", nl,
                        nb, staging) < 0
                       ? nook_error_oom(err)
                       : 0;
}

int nook_userns_image(void *state, nook_call_ctx *ctx, int verb, const nook_import_options *o, const char *arg,
                      char **ret_json, nook_error **err) {
        if (verb == NOOK_IMAGE_IMPORT)
                return nook_image_import(ctx->config, o, ret_json, err);
        nook_store s;
        int r = nook_store_open(ctx->config->data_dir, verb != NOOK_IMAGE_LIST, &s, err);
        if (r == -ENOENT && verb == NOOK_IMAGE_LIST)
                return (*ret_json = strdup("[]")) ? 0 : nook_error_oom(err);
        if (r < 0)
                return r;
        /* rm and prune wait for imports and session starts (shared holders) */
        r = nook_store_lock(&s, verb == NOOK_IMAGE_REMOVE || verb == NOOK_IMAGE_PRUNE ? LOCK_EX : LOCK_SH, err);
        if (r == 0)
                switch (verb) {
                case NOOK_IMAGE_LIST:
                        r = do_list(&s, ctx, ret_json, err);
                        break;
                case NOOK_IMAGE_INSPECT:
                        r = do_inspect(&s, ctx, arg, ret_json, err);
                        break;
                case NOOK_IMAGE_REMOVE:
                        r = do_remove(&s, ctx, arg, ret_json, err);
                        break;
                default:
                        r = do_prune(&s, ctx, ret_json, err);
                }
        nook_store_close(&s);
        return r;
}
