/* nook userns — prepare_environment: the holder builds the root and pivots into it
 * (helpers/mounts.c); here the client checks the session and composes /etc files. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "userns/idmap.h"
#include "userns/image.h"
#include "userns/limits.h"
#include "userns/mounts.h"
#include "userns/network.h"
#include "userns/session.h"
#include "userns/stages.h"
#include "util/hostpath.h"
#include "util/proc.h"
#include "util/rootfile.h"
#include "util/strbuf.h"

static int add_etc(nook_msg *m, const char *name, const char *content) {
        size_t nl = strlen(name), cl = strlen(content);
        _cleanup_free_ char *buf = malloc(nl + cl + 2);
        if (!buf)
                return -ENOMEM;
        memcpy(buf, name, nl + 1);
        memcpy(buf + nl + 1, content, cl + 1);
        return nook_msg_add(m, T_ETC_FILE, buf, (uint32_t)(nl + cl + 2));
}

/* keep-id: the caller's uid and gid get names inside, so that `id`, `whoami` and `ls -l`
 * work, as podman's keep-id gives them: the host's user name, group name and home dir.
 * The root's own files are read as the workload will see them (the directory, or the
 * image's topmost layer that has them, S22, size-capped) and left unchanged when they name
 * the id already; else the holder puts the extended copy in the session's writable layer,
 * or binds it over /etc/passwd from the session dir when the root is not ours to write
 * (helpers/mounts.c etc_file): the image's and the directory's files on disk never change. */
static int add_identity_files(const nook_session *s, const nook_adapter_config *c, int rootfd, nook_msg *m) {
        nook_host_identity id;
        nook_host_identity_get(s->uid, s->gid, &id);
        const char *files[2] = { "passwd", "group" };
        for (int i = 0; i < 2; i++) {
                _cleanup_free_ char *old = NULL;
                const char *path = i ? "etc/group" : "etc/passwd";
                /* a directory root: through the fd opened once for the holder (S31) */
                int q = rootfd >= 0 ? nook_root_read_file_at(rootfd, path, 1u << 20, &old, NULL)
                                    : nook_session_read_root_file(c, s, path, 1u << 20, &old);
                if (q < 0)
                        old = strdup("");
                if (!old)
                        return -ENOMEM;
                char idstr[24];
                snprintf(idstr, sizeof(idstr), ":%u:", (unsigned)(i ? s->gid : s->uid));
                bool present = false;
                for (char *line = old; line && *line && !present;
                     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                        char *c1 = strchr(line, ':');
                        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                        present = c2 && strncmp(c2, idstr, strlen(idstr)) == 0;
                }
                if (present)
                        continue;
                nook_strbuf b = NOOK_STRBUF_INIT;
                nook_strbuf_puts(&b, old);
                if (*old && old[strlen(old) - 1] != '\n')
                        nook_strbuf_puts(&b, "\n");
                if (i)
                        nook_strbuf_printf(&b, "%s:x:%u:\n", id.group, (unsigned)s->gid);
                else
                        nook_strbuf_printf(&b, "%s:x:%u:%u:%s:%s:/bin/sh\n", id.name, (unsigned)s->uid,
                                           (unsigned)s->gid, id.name, id.home);
                _cleanup_free_ char *text = nook_strbuf_steal(&b);
                if (!text || add_etc(m, files[i], text) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* One T_MOUNT group a mount; each host source goes as the fd the plan opened (S31),
 * named by its index. */
static int add_mounts(const nook_mount_list *l, nook_msg *m) {
        static const char *const kinds[] = { "bind", "tmpfs", "snapshot" };
        for (size_t i = 0; i < l->n; i++) {
                const nook_mount_entry *e = &l->e[i];
                nook_msg g = NOOK_MSG_INIT(0);
                nook_msg_add_str(&g, M_KIND, kinds[e->kind]);
                nook_msg_add_u64(&g, M_READ_ONLY, e->read_only);
                nook_msg_add_u64(&g, M_IS_FILE, e->is_file);
                nook_msg_add_u64(&g, M_FOLLOW, l->follow_within);
                nook_msg_add_str(&g, M_DEST, e->dest);
                nook_msg_add_str(&g, M_OPTIONS, e->options);
                if (e->fd >= 0)
                        nook_msg_add_u64(&g, M_FD, m->n_fds);
                int r = e->fd >= 0 ? nook_msg_add_fd(m, e->fd) : 0;
                if (r >= 0)
                        r = nook_msg_add_group(m, T_MOUNT, &g);
                nook_msg_done(&g);
                if (r < 0)
                        return r;
        }
        return 0;
}

static uint64_t image_foreign_owners(const nook_adapter_config *c, const char *digest) {
        nook_image im = { 0 };
        uint64_t n = nook_image_load_from(c->data_dir, digest, true, &im, NULL) == 0 ? im.foreign_owners : 0;
        nook_image_clear(&im);
        return n;
}

/* Every layer of im still unpacked in the store: the holder would mount a missing one
 * as an empty lower (or fuse-overlayfs would die on it), far from the cause. */
static int check_layers(const nook_adapter_config *c, const nook_image *im, nook_error **err) {
        _cleanup_free_ char *dir = NULL;
        if (asprintf(&dir, "%s/layers", c->data_dir) < 0)
                return nook_error_oom(err);
        _cleanup_close_ int fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        for (size_t i = 0; i < im->n_layers; i++) {
                char name[80];
                snprintf(name, sizeof(name), "%s/diff", im->layers[i] + 7);
                int e = fd < 0 ? errno : faccessat(fd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0 ? errno : 0;
                if (e == ENOENT || e == ENOTDIR)
                        return nook_image_damaged(err, c->data_dir, im->digest, ENOENT,
                                                  "layer %zu (%.19s) is missing from the store", i, im->layers[i]);
                if (e) {
                        nook_error_sys(err, e, "image %.19s: checking layer %zu (%.19s) in the store", im->digest, i,
                                       im->layers[i]);
                        return nook_error_set_hint(err, "the image store is in %s", c->data_dir), -e;
                }
        }
        return 0;
}

/* An image root: its layers top first, the writable layer, the driver. */
static int add_image(const nook_session *s, const nook_adapter_config *c, int upper, nook_msg *m, nook_error **err) {
        nook_image im = { 0 };
        int r = nook_image_load_from(c->data_dir, s->image, false, &im, err);
        if (r >= 0)
                r = check_layers(c, &im, err);
        if (r < 0) {
                nook_image_clear(&im);
                return r;
        }
        _cleanup_free_ char *layers = NULL;
        if (asprintf(&layers, "%s/layers", c->data_dir) < 0)
                r = -ENOMEM;
        if (r >= 0)
                r = nook_msg_add_str(m, T_DRIVER, s->driver ? s->driver : "auto");
        if (r >= 0)
                r = nook_msg_add_str(m, T_LAYERS_DIR, layers);
        for (size_t i = im.n_layers; r >= 0 && i-- > 0;) {
                char name[80];
                snprintf(name, sizeof(name), "%s/diff", im.layers[i] + 7);
                r = nook_msg_add_str(m, T_LOWER, name);
        }
        if (r >= 0)
                r = nook_msg_add_u64(m, T_UPPER_FD, m->n_fds);
        if (r >= 0)
                r = nook_msg_add_fd(m, upper);
        if (r >= 0)
                r = nook_msg_add_str(m, T_UPPER, s->upper);
        if (r >= 0 && !s->keep_upper)
                r = nook_msg_add_u64(m, T_THROWAWAY, 1);
        if (r >= 0)
                r = nook_msg_add_str(m, T_FUSE_BIN, nook_fuse_overlayfs_path());
        if (r >= 0)
                r = nook_msg_add_u64(m, T_SQUASH, s->identity != NOOK_IDENTITY_SUBUID);
        if (r >= 0 && nook_image_workdir_ok(im.workdir))
                r = nook_msg_add_str(m, T_WORKDIR, im.workdir);
        /* the default owner of secret files: the image's User (resolved by the holder in
         * the root's /etc/passwd; an unusable one leaves them to the session's own id) */
        if (r >= 0 && im.user && *im.user && strlen(im.user) < 128)
                r = nook_msg_add_str(m, T_SECRET_USER, im.user);
        nook_image_clear(&im);
        return r < 0 ? nook_session_compose_error(err, r, "the image's layers") : 0;
}

/* The root directory, resolved once (S31) the way mount sources are (nook_host_open):
 * its fd is checked here and mounted by the holder. */
static int open_root(const nook_session *s, nook_error **err) {
        int fd = nook_host_open(s->rootfs, O_DIRECTORY);
        if (fd == -ELOOP) {
                nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_USER_ACTION_NEEDED, ELOOP,
                               "the root directory goes through a symlink that you (or a sandbox of yours) could "
                               "change: nook follows none (SECURITY.md S31)");
                nook_error_set_hint(err, "%s: name the directory by its real path", s->rootfs);
        } else if (fd < 0) {
                nook_error_sys(err, -fd, "opening the root directory");
                nook_error_set_hint(err, "%s must be an existing directory (the root of the sandbox)", s->rootfs);
        }
        return fd;
}

static int build_prepare(const nook_session *s, const nook_adapter_config *c, const nook_env_req *req, int rootfd,
                         int upper, nook_msg *m, nook_error **err) {
        _cleanup_free_ char *hosts = NULL, *net_resolv = NULL;
        if (nook_net_etc(s, &net_resolv, &hosts) < 0)
                return nook_error_oom(err);
        char hostname[80];
        snprintf(hostname, sizeof(hostname), "%s\n", s->hostname ? s->hostname : "nook");
        bool root_ro = s->read_only || req->environment.spec.filesystem.root == NOOK_ROOT_READ_ONLY;
        if (s->image) {
                int q = add_image(s, c, upper, m, err);
                if (q < 0)
                        return q;
        }
        int r = s->image ? 0 : nook_msg_add_str(m, T_ROOTFS, s->rootfs);
        if (r >= 0 && !s->image && (r = nook_msg_add_u64(m, T_ROOTFS_FD, m->n_fds)) >= 0)
                r = nook_msg_add_fd(m, rootfd);
        /* a directory under a writable layer: the driver prepare_rootfs chose; with
         * fuse-overlayfs every owner shows as the session's root, as with a copy */
        if (r >= 0 && !s->image && !s->rootfs_rw && s->driver && (r = nook_msg_add_str(m, T_DRIVER, s->driver)) >= 0 &&
            (r = nook_msg_add_str(m, T_FUSE_BIN, nook_fuse_overlayfs_path())) >= 0)
                r = nook_msg_add_u64(m, T_SQUASH, 1);
        if (r >= 0)
                r = nook_msg_add_u64(m, T_ROOTFS_RW, s->rootfs_rw);
        if (r >= 0)
                r = nook_msg_add_u64(m, T_ROOT_RO, root_ro);
        if (r >= 0)
                r = nook_msg_add_str(m, T_HOSTNAME, s->hostname ? s->hostname : "nook");
        if (r >= 0)
                r = add_etc(m, "hosts", hosts);
        if (r >= 0)
                r = add_etc(m, "hostname", hostname);
        if (r >= 0 && net_resolv)
                r = add_etc(m, "resolv.conf", net_resolv);
        if (r >= 0 && !s->own_netns) {
                _cleanup_free_ char *resolv = NULL;
                if (nook_root_read_file("/", "etc/resolv.conf", 65536, &resolv, NULL) == 0)
                        r = add_etc(m, "resolv.conf", resolv);
        }
        if (r >= 0 && s->identity == NOOK_IDENTITY_KEEP_ID)
                r = add_identity_files(s, c, rootfd, m);
        return r < 0 ? nook_session_compose_error(err, r, "the root and /etc files") : 0;
}

/* What session inspect shows of the mounts, and the workspace's destination. */
static int describe_mounts(nook_session *s, const nook_env_req *req, const nook_mount_list *mounts) {
        nook_strbuf b = NOOK_STRBUF_INIT;
        for (size_t i = 0; i < mounts->n; i++) {
                const nook_mount_entry *e = &mounts->e[i];
                nook_strbuf_printf(&b, "%s%s %s %s (%s, audit: %s)", i ? "; " : "", e->dest,
                                   e->kind == NOOK_MOUNT_KIND_TMPFS      ? "tmpfs"
                                   : e->kind == NOOK_MOUNT_KIND_SNAPSHOT ? "snapshot"
                                   : e->is_file                          ? "file"
                                                                         : "bind",
                                   e->read_only ? "ro" : "rw", e->ref, e->audit);
        }
        const nook_workspace *w = &req->environment.spec.filesystem.workspace;
        free(s->workspace);
        s->workspace =
                w->mode != NOOK_WS_NONE ? strdup(w->destination_path ? w->destination_path : "/workspace") : NULL;
        free(s->mounts);
        s->mounts = nook_strbuf_steal(&b);
        return s->mounts && (w->mode == NOOK_WS_NONE || s->workspace) ? 0 : -ENOMEM;
}

/* The PREPARE request and its answer: the plan's mounts with the fds of their sources,
 * the root's fd or the image's layers and writable layer's fd, all open until the
 * holder has answered.  *asked: the holder was asked (a failure then spoils the
 * session). */
static int request_prepare(nook_call_ctx *ctx, nook_session *s, const nook_env_req *req, nook_msg *reply, bool *asked,
                           nook_error **err) {
        _cleanup_close_ int rootfd = s->image ? -1 : open_root(s, err);
        if (!s->image && rootfd < 0)
                return rootfd;
        /* the writable layer is nook's own dir (session dir, or the data dir's uppers/):
         * its last component never a symlink; the holder mounts that inode */
        _cleanup_close_ int upper = s->image ? open(s->upper, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
        if (s->image && upper < 0) {
                nook_error_sys(err, errno, "opening the writable layer");
                nook_error_set_hint(err, "%s", s->upper);
                return -nook_error_get_errno(*err);
        }
        _cleanup_(nook_mount_list_clear) nook_mount_list mounts = { 0 };
        int r = nook_mounts_plan(ctx->config, &req->environment, &mounts, err);
        if (r < 0)
                return r;
        /* an image root exists only once mounted: the holder checks it (S4) */
        if (rootfd >= 0 && (r = nook_mounts_check_root(&mounts, rootfd, err)) < 0)
                return r;
        nook_msg m = NOOK_MSG_INIT(NOOK_MSG_PREPARE);
        _cleanup_close_ int cgroup = -1;
        /* each step names its own cause (a damaged image is the user's to repair, not a
         * retry); nothing was asked of the holder until the request is sent */
        r = build_prepare(s, ctx->config, req, rootfd, upper, &m, err);
        if (r >= 0 && (r = add_mounts(&mounts, &m)) < 0)
                r = nook_session_compose_error(err, r, "the mounts");
        if (r >= 0 && describe_mounts(s, req, &mounts) < 0)
                r = nook_error_oom(err);
        /* S34: the holder sizes tmpfs from them; last, as it may move the holder into a
         * cgroup of its own */
        if (r >= 0 && (r = nook_limits_prepare(s, &req->environment.spec.resources, &m, &cgroup)) < 0)
                r = nook_session_compose_error(err, r, "the limits");
        if (r >= 0) {
                *asked = true;
                r = nook_session_request(s, NULL, &m, reply, 30000, "prepare_environment", err);
        }
        nook_msg_done(&m);
        return r;
}

int nook_userns_prepare_environment(void *state, nook_call_ctx *ctx, const nook_env_req *req, nook_ref_result *ret,
                                    nook_error **err) {
        _cleanup_(nook_session_freep) nook_session *s = NULL;
        int r = nook_session_need(ctx->config, req->environment.environment_id, "prepare_environment", &s, err);
        if (r < 0)
                return r;
        /* the root prepare_rootfs checked without a session (or none yet): the spec names it */
        if (!s->rootfs && !s->image && (r = nook_rootfs_adopt(ctx, s, &req->environment, err)) < 0)
                return nook_error_prefix(err, r, "prepare_environment");
        if (!s->prepared) {
                nook_msg reply = NOOK_MSG_INIT(0);
                bool asked = false;
                r = request_prepare(ctx, s, req, &reply, &asked, err);
                if (r < 0 && !asked) { /* the session is as it was: fix the cause, call again */
                        nook_msg_done(&reply);
                        return nook_error_prefix(err, r, "prepare_environment");
                }
                const char *notes = nook_msg_str(&reply, T_MESSAGE);
                if (r >= 0 && notes && *notes) { /* after the downgrades prepare_session noted */
                        char *all = NULL;
                        if (asprintf(&all, "%s%s%s", s->notes ? s->notes : "", s->notes ? "; " : "", notes) >= 0) {
                                free(s->notes);
                                s->notes = all;
                        }
                }
                const char *used = nook_msg_str(&reply, T_DRIVER);
                /* the holder tries "auto" in order overlay first, "auto:D" D first */
                const char *first = !s->driver                        ? NULL
                                    : !strcmp(s->driver, "auto")      ? "overlay"
                                    : !strncmp(s->driver, "auto:", 5) ? s->driver + 5
                                                                      : s->driver;
                bool fell_back = used && first &&
                                 (strncmp(used, first, strlen(used)) != 0 ||
                                  (first[strlen(used)] && first[strlen(used)] != ','));
                if (r >= 0 && used && (!s->driver || strcmp(used, s->driver) != 0)) {
                        free(s->driver);
                        s->driver = strdup(used);
                        /* the fallback decides who sees exact owners */
                        if (s->identity == NOOK_IDENTITY_SUBUID && strcmp(used, "fuse-overlayfs") != 0 && s->image)
                                s->owners_collapsed = image_foreign_owners(ctx->config, s->image);
                }
                /* the choice was journaled by prepare_rootfs; a fallback is journaled too */
                if (r >= 0 && fell_back && ctx->journal) {
                        _cleanup_free_ char *detail = NULL;
                        if (asprintf(&detail, "{\"driver\":\"%s\",\"stage\":\"fallback\"}", used) >= 0) {
                                nook_resource res = { .environment_id = req->environment.environment_id,
                                                      .kind = "rootfs",
                                                      .ref = s->ref,
                                                      .detail = detail };
                                (void)nook_journal_resource_add(ctx->journal, &res, NULL, NULL);
                        }
                }
                nook_msg_done(&reply);
                if (r < 0) {
                        /* sethostname(2) under podman's and docker's default profiles */
                        nook_error_set_hint(err,
                                            r == -EPERM && nook_proc_self_seccomp_filtered()
                                                    ? NOOK_HINT_OUTER_SECCOMP
                                                    : "the session cannot be used; remove it (cleanup) and try again");
                        return r;
                }
                s->prepared = true;
                /* start_process reports how each limit is enforced from this record: without
                 * it the report would be a guess */
                if ((r = nook_limits_record(s, &req->environment.spec, s->notes)) < 0) {
                        nook_error_sys(err, -r, "prepare_environment: recording how the session's limits are enforced");
                        return nook_error_set_hint(err,
                                                   "the session cannot be used; remove it (cleanup) and try again"),
                               r;
                }
                if ((r = nook_session_save(s, err)) < 0)
                        return nook_error_prefix(err, r, "prepare_environment");
        }
        return asprintf(&ret->ref, "env-%s", s->ref + 2) < 0 ? nook_error_oom(err) : 0;
}
