/* nook userns — resolve_image (a name or digest of the local store, checked against
 * expected_digest and expected_architecture) and the store's listing, inspect, rm and
 * prune.  Importing is import.c; nothing here reaches the network. */
#include <dirent.h>
#include <jansson.h>
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

/* A JSON string of s (NULL: null); bytes that are not UTF-8 (a layer's skipped file
 * names come from the archive) become U+FFFD, as in every JSON nook writes. */
static json_t *jstr(const char *s) {
        if (!s)
                return json_null();
        json_t *v = json_string(s);
        if (v)
                return v;
        _cleanup_free_ char *fixed = nook_utf8_fix(s);
        return fixed ? json_string(fixed) : NULL;
}
/* A NULL-terminated vector as an array of strings; NULL as null. */
static json_t *jstrv(char **v) {
        if (!v)
                return json_null();
        json_t *a = json_array();
        for (size_t i = 0; a && v[i]; i++)
                if (json_array_append_new(a, jstr(v[i])) < 0) {
                        json_decref(a);
                        a = NULL;
                }
        return a;
}

/* Compact text of v (consumed); NULL when v is (an allocation failed on the way). */
static char *jtext(json_t *v) {
        char *t = v ? json_dumps(v, JSON_COMPACT) : NULL;
        json_decref(v);
        return t;
}

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
                ret->nook =
                        jtext(json_pack("{s:o,s:o,s:o}", "architecture", jstr(im.architecture ? im.architecture : ""),
                                        "entrypoint", jstrv(im.entrypoint), "cmd", jstrv(im.cmd)));
                if (!ret->nook)
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
                nook_store_name_decode(e->d_name, name, sizeof(name));
                if (nook_digest_valid(buf))
                        r = fn(name, e->d_name, buf, userdata);
        }
        closedir(d);
        return r;
}

/* ---- nook images ---- */

typedef struct listing {
        nook_store *s;
        json_t *a;
        const users *u;
        char **seen; /* digests listed so far */
        size_t n_seen;
} listing;

typedef struct names_of {
        const char *digest;
        json_t *names;
} names_of;

static int add_name_if(const char *name, const char *file, const char *digest, void *userdata) {
        names_of *o = userdata;
        if (strcmp(digest, o->digest) == 0 && json_array_append_new(o->names, jstr(name)) < 0)
                return -ENOMEM;
        return 0;
}

/* The names of digest, as an array; NULL when an allocation failed. */
static json_t *names_json(nook_store *s, const char *digest) {
        names_of o = { digest, json_array() };
        if (o.names && each_name(s, add_name_if, &o) < 0) {
                json_decref(o.names);
                return NULL;
        }
        return o.names;
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
        const char *user = user_of(l->u, digest);
        json_t *row = json_pack("{s:o,s:s,s:I,s:I,s:I,s:o,s:b}", "names", names_json(l->s, digest), "digest", digest,
                                "created_ms", (json_int_t)created, "size", (json_int_t)im.size, "layers",
                                (json_int_t)im.n_layers, "architecture", jstr(im.architecture ? im.architecture : ""),
                                "in_use", user != NULL);
        nook_image_clear(&im);
        return json_array_append_new(l->a, row) < 0 ? -ENOMEM : 0;
}

static int do_list(nook_store *s, nook_call_ctx *ctx, char **ret_json, nook_error **err) {
        users u;
        int r = live_users(ctx, &u, err);
        if (r < 0)
                return r;
        listing l = { s, json_array(), &u, NULL, 0 };
        r = l.a ? each_name(s, list_one, &l) : -ENOMEM;
        for (size_t i = 0; i < l.n_seen; i++)
                free(l.seen[i]);
        free(l.seen);
        strv_free(u.digests);
        if (r < 0) {
                json_decref(l.a);
                return nook_error_sys(err, -r, "listing the images");
        }
        return (*ret_json = jtext(l.a)) ? 0 : nook_error_oom(err);
}

/* ---- nook image inspect ---- */

static json_t *layer_json(nook_store *s, const char *digest) {
        char p[100], buf[1024] = "";
        snprintf(p, sizeof(p), "%s/info", digest + 7);
        _cleanup_close_ int fd = openat(s->layers_fd, p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
        buf[n > 0 ? n : 0] = 0;
        json_t *o = json_pack("{s:s,s:b}", "digest", digest, "present", nook_store_has_layer(s, digest));
        for (char *save = NULL, *line = strtok_r(buf, "\n", &save); o && line; line = strtok_r(NULL, "\n", &save)) {
                char *eq = strchr(line, '=');
                if (!eq)
                        continue;
                *eq = 0;
                json_t *v = strcmp(line, "skipped_names") == 0 ? jstr(eq + 1)
                                                               : json_integer((json_int_t)strtoull(eq + 1, NULL, 10));
                if (json_object_set_new(o, line, v) < 0) {
                        json_decref(o);
                        o = NULL;
                }
        }
        return o;
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
        json_t *layers = json_array();
        for (size_t i = 0; layers && i < im.n_layers; i++)
                if (json_array_append_new(layers, layer_json(s, im.layers[i])) < 0) {
                        json_decref(layers);
                        layers = NULL;
                }
        /* A user namespace shows only the ids it maps (user_namespaces(7)) */
        char single_id[128];
        snprintf(single_id, sizeof(single_id),
                 "%llu entries owned by other ids show as the one mapped id; modes stay exact",
                 (unsigned long long)im.foreign_owners);
        json_t *o = json_pack("{s:o,s:s,s:s,s:o,s:o,s:I,s:{s:o,s:o,s:o,s:o,s:o},s:o,s:{s:I,s:s,s:s},s:o}", "names",
                              names_json(s, digest), "digest", im.digest, "config_digest", im.config_digest,
                              "architecture", jstr(im.architecture ? im.architecture : ""), "os",
                              jstr(im.os ? im.os : ""), "size", (json_int_t)im.size, "config", "User",
                              jstr(im.user ? im.user : ""), "WorkingDir", jstr(im.workdir ? im.workdir : ""), "Env",
                              jstrv(im.env), "Entrypoint", jstrv(im.entrypoint), "Cmd", jstrv(im.cmd), "layers", layers,
                              "ownership", "foreign_owners", (json_int_t)im.foreign_owners, "subuid",
                              "exact (fuse-overlayfs presents the recorded owners)", "single_id", single_id,
                              "in_use_by", jstr(user_of(&u, digest)));
        strv_free(u.digests);
        nook_image_clear(&im);
        return (*ret_json = jtext(o)) ? 0 : nook_error_oom(err);
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
        json_t *names;      /* the names removed */
} untag;

static int untag_one(const char *name, const char *file, const char *digest, void *userdata) {
        untag *t = userdata;
        if (strcmp(digest, t->digest) != 0)
                return 0;
        if (unlinkat(t->s->names_fd, file, 0) < 0)
                return -errno;
        return json_array_append_new(t->names, jstr(name)) < 0 ? -ENOMEM : 0;
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
        json_t *untagged = json_array(), *o = NULL;
        if (!untagged)
                r = -ENOMEM;
        else if (by_name && c.n > 1) {
                r = nook_store_unset_name(s, norm);
                if (r == 0 && json_array_append_new(untagged, jstr(norm)) == 0)
                        o = json_pack("{s:O,s:n}", "untagged", untagged, "deleted");
        } else {
                untag t = { s, digest, untagged };
                r = each_name(s, untag_one, &t);
                unsigned nl = 0, nb = 0;
                if (r == 0)
                        r = sweep_unreferenced(s, &u, &nl, &nb);
                o = json_pack("{s:O,s:s,s:I}", "untagged", untagged, "deleted", digest, "layers_removed",
                              (json_int_t)nl);
        }
        json_decref(untagged);
        strv_free(u.digests);
        if (r < 0) {
                json_decref(o);
                return nook_error_sys(err, -r, "removing image %s", ref);
        }
        return (*ret_json = jtext(o)) ? 0 : nook_error_oom(err);
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
        *ret_json = jtext(json_pack("{s:I,s:I,s:I}", "layers_removed", (json_int_t)nl, "blobs_removed", (json_int_t)nb,
                                    "abandoned_imports_removed", (json_int_t)staging));
        return !*ret_json ? nook_error_oom(err) : 0;
}

/* 0 when the data dir exists or nook could make it (its nearest existing ancestor is a
 * directory we may write); else the errno that says why not. */
static int data_dir_creatable(const char *dir) {
        char path[4096];
        snprintf(path, sizeof(path), "%s", dir);
        for (;;) {
                struct stat st;
                if (stat(path, &st) == 0)
                        return !S_ISDIR(st.st_mode) ? ENOTDIR : access(path, W_OK | X_OK) < 0 ? errno : 0;
                if (errno != ENOENT)
                        return errno;
                char *slash = strrchr(path, '/');
                if (!slash || slash == path)
                        return ENOENT;
                *slash = 0;
        }
}

int nook_userns_image(void *state, nook_call_ctx *ctx, int verb, const nook_import_options *o, const char *arg,
                      char **ret_json, nook_error **err) {
        if (verb == NOOK_IMAGE_IMPORT)
                return nook_image_import(ctx->config, o, ret_json, err);
        nook_store s;
        int r = nook_store_open(ctx->config->data_dir, verb != NOOK_IMAGE_LIST, &s, err);
        if (r == -ENOENT && verb == NOOK_IMAGE_LIST) {
                /* no store yet: no image, if an import could make one there */
                int e = data_dir_creatable(ctx->config->data_dir);
                if (e) {
                        nook_error_free(*err);
                        *err = NULL;
                        nook_error_sys(err, e, "the data dir %s cannot hold an image store", ctx->config->data_dir);
                        nook_error_set_hint(err, "give a directory you can write: --storage DIR or NOOK_STORAGE");
                        return -e;
                }
                nook_error_free(*err);
                *err = NULL;
                return (*ret_json = strdup("[]")) ? 0 : nook_error_oom(err);
        }
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
