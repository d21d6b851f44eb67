/* Unit tests of src/userns/mounts.c, from outside: requests written as JSON and parsed by
 * core's codec, aliases pointing into a temp dir, then the mount plan's exact facts
 * (sources opened once by fd, S31; destinations refused, S4/S6; order; limits) and
 * nook_mounts_check_root against a root dir made in the same temp dir.
 *
 * Test JSON is written with ' for " (see parse()). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "core/contract.h"
#include "core/schema.h"
#include "proto/proto.h"
#include "userns/mounts.h"
#include "util/error.h"

#include "fixtures.h"

#define CV NOOK_ERROR_CONTRACT_VIOLATION
#define DENIED NOOK_ERROR_POLICY_DENIAL
#define MPTR(i) "/environment/spec/filesystem/mounts/" #i "/destination_path"
#define WSPTR "/environment/spec/filesystem/workspace"
/* NOOK_MAX_HOST_SOURCES (mounts.h), spelled out: the PREPARE message's fds
 * less the root's, the writable layer's and spares */
#define MAX_HOST_SOURCES (NOOK_MSG_MAX_FDS - 8)

/* ======================================================================== fixture */

static char dir[PATH_MAX];
static char aliases_buf[10][PATH_MAX + 32];
static const char *aliases[11];
static nook_adapter_config config;

static void path_of(char *buf, size_t size, const char *rel) {
        assert_true((size_t)snprintf(buf, size, "%s/%s", dir, rel) < size);
}

static void make_dir(const char *rel) {
        char p[PATH_MAX + 64];
        path_of(p, sizeof(p), rel);
        assert_int_equal(mkdir(p, 0700), 0);
}

static void make_file(const char *rel) {
        char p[PATH_MAX + 64];
        path_of(p, sizeof(p), rel);
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        close(fd);
}

static void make_link(const char *target, const char *rel) {
        char p[PATH_MAX + 64];
        path_of(p, sizeof(p), rel);
        assert_int_equal(symlink(target, p), 0);
}

/* <tmp>/data/{sub/,link -> /etc}, cache/, file, fifo, lnk -> data, and root/ (the
 * session's root for check_root: mnt/, f, etc/hosts, in-root-dir/, abs -> /in-root-dir).
 * Aliases name them; "datax" shares a prefix with "data". */
static int setup(void **state) {
        if (!nook_test_mkdtemp(dir, sizeof(dir), "nook-mounts"))
                return -1;
        make_dir("data");
        make_dir("data/sub");
        make_link("/etc", "data/link");
        make_dir("cache");
        make_file("file");
        char p[PATH_MAX + 64];
        path_of(p, sizeof(p), "fifo");
        assert_int_equal(mkfifo(p, 0600), 0);
        make_link("data", "lnk");
        make_dir("root");
        make_dir("root/mnt");
        make_file("root/f");
        make_dir("root/etc");
        make_file("root/etc/hosts");
        make_dir("root/in-root-dir");
        make_link("/in-root-dir", "root/abs");
        static const char *const named[][2] = {
                { "data", "data" },        { "datax", "cache" },  { "cache", "cache" }, { "file", "file" },
                { "escape", "data/link" }, { "lnk", "lnk" },      { "via", "lnk/sub" }, { "gone", "missing" },
                { "fifo", "fifo" },        { "sub", "data/sub" },
        };
        for (size_t i = 0; i < 10; i++) {
                snprintf(aliases_buf[i], sizeof(aliases_buf[i]), "%s=%s/%s", named[i][0], dir, named[i][1]);
                aliases[i] = aliases_buf[i];
        }
        aliases[10] = NULL;
        config = (nook_adapter_config){ .aliases = aliases };
        return 0;
}

static int teardown(void **state) {
        nook_test_rm_rf(dir);
        return 0;
}

/* ======================================================================== helpers */

typedef struct req {
        nook_env_req *r;
} req;

static void req_done(req *q) {
        if (q->r) {
                nook_schema_clear(&nook_schema_env_req, q->r);
                free(q->r);
        }
        q->r = NULL;
}
#define _cleanup_req_ _cleanup_(req_done)

/* Parses {"environment":{"environment_id":"env-1","spec":{"filesystem":FS}}} (FS with '
 * for "); r is 0 or the codec's -errno, with *err set. */
static int try_parse(const char *fs, req *out, nook_error **err) {
        _cleanup_free_ char *text = NULL;
        assert_true(asprintf(&text, "{'environment':{'environment_id':'env-1','spec':{'filesystem':%s}}}", fs) > 0);
        for (char *c = text; *c; c++)
                if (*c == '\'')
                        *c = '"';
        json_error_t je;
        json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &je);
        if (!v)
                fail_msg("test JSON does not parse (%s): %s", je.text, text);
        nook_env_req *r = calloc(1, sizeof(*r));
        assert_non_null(r);
        int rc = nook_schema_parse(&nook_schema_env_req, v, "", r, err);
        json_decref(v);
        if (rc < 0) {
                nook_schema_clear(&nook_schema_env_req, r);
                free(r);
                r = NULL;
        }
        out->r = r;
        return rc;
}

static req parse(const char *fs) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        req q = { 0 };
        if (try_parse(fs, &q, &err) < 0)
                fail_msg("codec refused %s at '%s': %s", fs, nook_error_get_pointer(err), nook_error_get_message(err));
        return q;
}

/* Plans fs and expects success; err stays NULL. */
static nook_mount_list plan_ok(const char *fs) {
        _cleanup_req_ req q = parse(fs);
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        nook_mount_list l = { 0 };
        int r = nook_mounts_plan(&config, &q.r->environment, &l, &err);
        if (r < 0)
                fail_msg("plan of %s refused: %s", fs, nook_error_get_message(err));
        assert_int_equal(r, 0);
        assert_null(err);
        return l;
}

/* Plans fs and expects a refusal returning -errnum; no fd leaks, the list stays as it was. */
static void plan_refused(const char *fs, nook_error **err, int errnum) {
        _cleanup_req_ req q = parse(fs);
        size_t fds = nook_test_count_fds();
        nook_mount_entry sentinel;
        nook_mount_list l = { .e = &sentinel, .n = 7 };
        int r = nook_mounts_plan(&config, &q.r->environment, &l, err);
        assert_int_equal(r, -errnum);
        assert_ptr_equal(l.e, &sentinel);
        assert_int_equal(l.n, 7);
        assert_int_equal(nook_test_count_fds(), fds);
}

static void assert_pointer(const nook_error *err, const char *ptr) {
        const char *p = nook_error_get_pointer(err);
        if (!p || strcmp(p, ptr) != 0)
                fail_msg("error pointer '%s', expected '%s'", p ? p : "(null)", ptr);
}

/* fd is an O_PATH | O_CLOEXEC fd of the inode at path */
static void assert_fd_of(int fd, const char *path) {
        assert_true(fd >= 0);
        int fl = fcntl(fd, F_GETFL);
        assert_true(fl >= 0 && (fl & O_PATH));
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        struct stat a, b;
        assert_int_equal(fstat(fd, &a), 0);
        assert_int_equal(stat(path, &b), 0);
        assert_true(a.st_dev == b.st_dev);
        assert_true(a.st_ino == b.st_ino);
}

/* ======================================================================== aliases */

static void test_alias_lookup_matches_whole_names_only(void **state) {
        char p[PATH_MAX + 64];
        path_of(p, sizeof(p), "data");
        assert_string_equal(nook_alias_lookup(&config, "data"), p);
        path_of(p, sizeof(p), "cache");
        assert_string_equal(nook_alias_lookup(&config, "datax"), p);
        assert_null(nook_alias_lookup(&config, "dat"));
        assert_null(nook_alias_lookup(&config, "data="));
        assert_null(nook_alias_lookup(&config, "nope"));
        nook_adapter_config none = { 0 };
        assert_null(nook_alias_lookup(&none, "data"));
}

/* ======================================================================== plans */

static void test_bind_mounts_hold_the_aliased_inodes(void **state) {
        nook_mount_list l = plan_ok("{'mounts':[{'mount_ref':'m-d','source_alias':'data','destination_path':'/data',"
                                    "'mode':'writable'},"
                                    "{'mount_ref':'m-f','source_alias':'file','destination_path':'/etc/conf'}]}");
        assert_int_equal(l.n, 2);
        assert_false(l.follow_within);
        char p[PATH_MAX + 64];

        const nook_mount_entry *d = &l.e[0];
        assert_string_equal(d->ref, "m-d");
        assert_int_equal(d->kind, NOOK_MOUNT_KIND_BIND);
        assert_string_equal(d->alias, "data");
        path_of(p, sizeof(p), "data");
        assert_string_equal(d->source, p);
        assert_fd_of(d->fd, p);
        assert_string_equal(d->dest, "/data");
        assert_false(d->read_only);
        assert_false(d->is_file);
        assert_string_equal(d->options, "");
        assert_string_equal(d->audit, "none");

        /* mode absent: read_only (the contract's default); a file bound by itself */
        const nook_mount_entry *f = &l.e[1];
        assert_string_equal(f->ref, "m-f");
        assert_int_equal(f->kind, NOOK_MOUNT_KIND_BIND);
        path_of(p, sizeof(p), "file");
        assert_string_equal(f->source, p);
        assert_fd_of(f->fd, p);
        assert_string_equal(f->dest, "/etc/conf");
        assert_true(f->read_only);
        assert_true(f->is_file);
        assert_string_equal(f->audit, "none");
        assert_true(d->fd != f->fd);
        nook_mount_list_clear(&l);
}

static void test_tmpfs_carries_validated_options_and_no_fd(void **state) {
        nook_mount_list l =
                plan_ok("{'mounts':[{'mount_ref':'t-1','destination_path':'/tmp','mode':'writable',"
                        "'nook':{'type':'tmpfs','options':'size=64m,mode=1777,noexec,nosuid,nodev'}},"
                        "{'mount_ref':'t-2','source_alias':'nope','destination_path':'/run','nook':{'type':'tmpfs'}},"
                        "{'mount_ref':'t-3','destination_path':'/var','nook':{'type':'tmpfs','options':'size=50%'}}]}");
        assert_int_equal(l.n, 3);
        assert_string_equal(l.e[0].ref, "t-1");
        assert_int_equal(l.e[0].kind, NOOK_MOUNT_KIND_TMPFS);
        assert_int_equal(l.e[0].fd, -1);
        assert_null(l.e[0].alias);
        assert_null(l.e[0].source);
        assert_false(l.e[0].read_only);
        assert_false(l.e[0].is_file);
        assert_string_equal(l.e[0].options, "size=64m,mode=1777,noexec,nosuid,nodev");
        /* a tmpfs takes no source: an alias given with it is not looked up */
        assert_string_equal(l.e[1].ref, "t-2");
        assert_int_equal(l.e[1].kind, NOOK_MOUNT_KIND_TMPFS);
        assert_int_equal(l.e[1].fd, -1);
        assert_null(l.e[1].alias);
        assert_true(l.e[1].read_only);
        assert_string_equal(l.e[1].options, "");
        assert_string_equal(l.e[2].options, "size=50%");
        nook_mount_list_clear(&l);
}

static void test_tmpfs_options_outside_the_list_are_refused(void **state) {
        static const char *const bad[] = { "size=",      "size=1x", "size=1mm", "mode=",     "mode=8",
                                           "mode=17777", "uid=0",   "rw",       "exec,size", "size=1m,dev" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
                _cleanup_free_ char *fs = NULL;
                assert_true(asprintf(&fs,
                                     "{'mounts':[{'mount_ref':'t-1','destination_path':'/tmp',"
                                     "'nook':{'type':'tmpfs','options':'%s'}}]}",
                                     bad[i]) > 0);
                _cleanup_(nook_error_freep) nook_error *err = NULL;
                plan_refused(fs, &err, EINVAL);
                nook_test_assert_error(err, CV, EINVAL, "tmpfs options");
                nook_test_assert_error(err, CV, EINVAL, bad[i]);
                assert_pointer(err, "/environment/spec/filesystem/mounts/0/nook/options");
        }
}

/* parents before children; equal depth keeps the request's order */
static void test_plan_is_ordered_parents_first(void **state) {
        nook_mount_list l = plan_ok("{'workspace':{'mode':'scratch','destination_path':'/w/x/y'},'mounts':["
                                    "{'mount_ref':'a','source_alias':'sub','destination_path':'/a/b/c'},"
                                    "{'mount_ref':'b','source_alias':'data','destination_path':'/a'},"
                                    "{'mount_ref':'c','destination_path':'/a/b','nook':{'type':'tmpfs'}},"
                                    "{'mount_ref':'d','source_alias':'cache','destination_path':'/z'}]}");
        static const char *const want[] = { "/a", "/z", "/a/b", "/w/x/y", "/a/b/c" };
        assert_int_equal(l.n, 5);
        for (size_t i = 0; i < l.n; i++)
                assert_string_equal(l.e[i].dest, want[i]);
        /* entries moved whole: each fd still goes with its own source */
        char p[PATH_MAX + 64];
        path_of(p, sizeof(p), "data/sub");
        assert_string_equal(l.e[4].ref, "a");
        assert_fd_of(l.e[4].fd, p);
        path_of(p, sizeof(p), "data");
        assert_string_equal(l.e[0].ref, "b");
        assert_fd_of(l.e[0].fd, p);
        assert_string_equal(l.e[3].ref, "workspace");
        assert_int_equal(l.e[3].fd, -1);
        nook_mount_list_clear(&l);
}

/* ======================================================================== workspace */

static void test_workspace_modes_are_planned_as_documented(void **state) {
        nook_mount_list l = plan_ok("{'workspace':{'mode':'none','workspace_ref':'data'}}");
        assert_int_equal(l.n, 0);
        nook_mount_list_clear(&l);

        /* scratch: a tmpfs at /workspace, ref "workspace", mode=0755 */
        l = plan_ok("{'workspace':{'mode':'scratch'}}");
        assert_int_equal(l.n, 1);
        assert_string_equal(l.e[0].ref, "workspace");
        assert_string_equal(l.e[0].dest, "/workspace");
        assert_int_equal(l.e[0].kind, NOOK_MOUNT_KIND_TMPFS);
        assert_string_equal(l.e[0].options, "mode=0755");
        assert_int_equal(l.e[0].fd, -1);
        assert_false(l.e[0].read_only);
        nook_mount_list_clear(&l);

        char p[PATH_MAX + 64];
        path_of(p, sizeof(p), "data");
        static const struct {
                const char *mode;
                int kind;
                bool ro;
        } modes[] = {
                { "live_read_only", NOOK_MOUNT_KIND_BIND, true },
                { "live_writable", NOOK_MOUNT_KIND_BIND, false },
                { "snapshot", NOOK_MOUNT_KIND_SNAPSHOT, false },
        };
        for (size_t i = 0; i < 3; i++) {
                _cleanup_free_ char *fs = NULL;
                assert_true(asprintf(&fs,
                                     "{'workspace':{'mode':'%s','workspace_ref':'data','mount_ref':'m-ws',"
                                     "'destination_path':'/work'}}",
                                     modes[i].mode) > 0);
                l = plan_ok(fs);
                assert_int_equal(l.n, 1);
                assert_string_equal(l.e[0].ref, "m-ws");
                assert_string_equal(l.e[0].dest, "/work");
                assert_string_equal(l.e[0].alias, "data");
                assert_string_equal(l.e[0].source, p);
                assert_int_equal(l.e[0].kind, modes[i].kind);
                assert_true(l.e[0].read_only == modes[i].ro);
                assert_fd_of(l.e[0].fd, p);
                nook_mount_list_clear(&l);
        }
}

static void test_workspace_refusals(void **state) {
        {
                _cleanup_(nook_error_freep) nook_error *err = NULL;
                plan_refused("{'workspace':{'mode':'live_writable'}}", &err, EINVAL);
                nook_test_assert_error(err, NOOK_ERROR_MISSING_REQUIRED_FIELD, EINVAL, "missing");
                assert_pointer(err, WSPTR "/workspace_ref");
        }
        {
                _cleanup_(nook_error_freep) nook_error *err = NULL;
                plan_refused("{'workspace':{'mode':'snapshot','workspace_ref':'file'}}", &err, EINVAL);
                nook_test_assert_error(err, CV, EINVAL, "mount workspace: a snapshot workspace needs a directory");
                assert_pointer(err, WSPTR);
        }
        {
                _cleanup_(nook_error_freep) nook_error *err = NULL;
                plan_refused("{'workspace':{'mode':'scratch','destination_path':'/proc/w'}}", &err, EINVAL);
                nook_test_assert_error(err, CV, EINVAL, "/proc/w is at or under /proc or /sys");
                assert_pointer(err, WSPTR);
        }
        {
                /* the workspace is planned first: a mount on its destination is the duplicate */
                _cleanup_(nook_error_freep) nook_error *err = NULL;
                plan_refused("{'workspace':{'mode':'scratch'},'mounts':[{'mount_ref':'m-1','source_alias':'data',"
                             "'destination_path':'/workspace'}]}",
                             &err, EINVAL);
                nook_test_assert_error(err, CV, EINVAL, "mount m-1: destination /workspace is already taken");
                assert_pointer(err, MPTR(0));
        }
}

/* ======================================================================== refusals */

static void test_destinations_nook_owns_are_refused(void **state) {
        static const struct {
                const char *dest, *msg;
        } bad[] = {
                { "/", "mount m-1: the destination cannot be /" },
                { "/proc", "mount m-1: /proc is at or under /proc or /sys, which nook owns" },
                { "/proc/sys", "mount m-1: /proc/sys is at or under /proc or /sys" },
                { "/sys", "mount m-1: /sys is at or under /proc or /sys" },
                { "/sys/fs/cgroup", "mount m-1: /sys/fs/cgroup is at or under /proc or /sys" },
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
                _cleanup_free_ char *fs = NULL;
                assert_true(asprintf(&fs,
                                     "{'mounts':[{'mount_ref':'m-0','source_alias':'cache','destination_path':'/c'},"
                                     "{'mount_ref':'m-1','source_alias':'data','destination_path':'%s'}]}",
                                     bad[i].dest) > 0);
                _cleanup_(nook_error_freep) nook_error *err = NULL;
                plan_refused(fs, &err, EINVAL);
                nook_test_assert_error(err, CV, EINVAL, bad[i].msg);
                assert_pointer(err, MPTR(1));
                assert_int_equal(nook_error_get_retry(err), NOOK_RETRY_NOT_RETRYABLE);
        }
        /* a name that merely starts like them is the user's */
        nook_mount_list l =
                plan_ok("{'mounts':[{'mount_ref':'m-1','source_alias':'data','destination_path':'/processes'},"
                        "{'mount_ref':'m-2','source_alias':'cache','destination_path':'/system'}]}");
        assert_int_equal(l.n, 2);
        nook_mount_list_clear(&l);
}

/* relative, '..', '.', '//' and trailing '/' never reach the plan: the codec refuses them */
static void test_unnormalised_destinations_are_refused_by_the_codec(void **state) {
        static const char *const bad[] = {
                "data", "data/x", "/data/../etc", "/./proc", "//proc", "/proc/", "", "/a/.."
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
                _cleanup_free_ char *fs = NULL;
                assert_true(asprintf(&fs,
                                     "{'mounts':[{'mount_ref':'m-1','source_alias':'data','destination_path':'%s'}]}",
                                     bad[i]) > 0);
                _cleanup_(nook_error_freep) nook_error *err = NULL;
                req q = { 0 };
                assert_int_equal(try_parse(fs, &q, &err), -EINVAL);
                assert_null(q.r);
                nook_test_assert_error(err, CV, EINVAL, "expected an absolute, normalised path");
                assert_pointer(err, MPTR(0));
        }
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        req q = { 0 };
        assert_int_equal(try_parse("{'workspace':{'mode':'scratch','destination_path':'w/../x'}}", &q, &err), -EINVAL);
        nook_test_assert_error(err, CV, EINVAL, "expected an absolute, normalised path");
        assert_pointer(err, WSPTR "/destination_path");
}

static void test_duplicate_destination_is_refused(void **state) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        plan_refused("{'mounts':[{'mount_ref':'m-1','source_alias':'data','destination_path':'/d'},"
                     "{'mount_ref':'m-2','destination_path':'/d','nook':{'type':'tmpfs'}}]}",
                     &err, EINVAL);
        nook_test_assert_error(err, CV, EINVAL, "mount m-2: destination /d is already taken by another mount");
        assert_pointer(err, MPTR(1));
}

static void test_unknown_alias_is_refused(void **state) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        plan_refused("{'mounts':[{'mount_ref':'m-0','source_alias':'data','destination_path':'/d'},"
                     "{'mount_ref':'m-1','source_alias':'dat','destination_path':'/x'}]}",
                     &err, ENOENT);
        nook_test_assert_error(err, DENIED, ENOENT, "mount m-1: 'dat' is not an alias the operator configured");
        assert_int_equal(nook_error_get_retry(err), NOOK_RETRY_USER_ACTION_NEEDED);

        /* no aliases configured at all */
        nook_adapter_config saved = config;
        config = (nook_adapter_config){ 0 };
        _cleanup_(nook_error_freep) nook_error *err2 = NULL;
        plan_refused("{'mounts':[{'mount_ref':'m-1','source_alias':'data','destination_path':'/d'}]}", &err2, ENOENT);
        config = saved;
        nook_test_assert_error(err2, DENIED, ENOENT, "'data' is not an alias the operator configured");
}

/* S31: an alias whose path goes through a symlink in a directory the user (or a sandbox
 * of theirs) can write is refused, whatever the symlink policy says */
static void test_symlinked_sources_are_refused(void **state) {
        static const struct {
                const char *alias, *rel;
        } bad[] = {
                { "escape", "data/link" }, /* data/link -> /etc: leaves the alias */
                { "lnk", "lnk" },          /* lnk -> data: the alias dir itself a symlink */
                { "via", "lnk/sub" },      /* a symlinked parent */
        };
        static const char *const policies[] = { "deny_escapes", "follow_within_alias" };
        for (size_t k = 0; k < 2; k++)
                for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
                        _cleanup_free_ char *fs = NULL;
                        assert_true(asprintf(&fs,
                                             "{'symlink_policy':'%s','mounts':[{'mount_ref':'m-0','source_alias':"
                                             "'data','destination_path':'/d'},{'mount_ref':'m-1','source_alias':'%s',"
                                             "'destination_path':'/x'}]}",
                                             policies[k], bad[i].alias) > 0);
                        _cleanup_(nook_error_freep) nook_error *err = NULL;
                        plan_refused(fs, &err, ELOOP);
                        _cleanup_free_ char *msg = NULL;
                        assert_true(asprintf(&msg, "mount m-1: the source of alias '%s' goes through a symlink",
                                             bad[i].alias) > 0);
                        nook_test_assert_error(err, DENIED, ELOOP, msg);
                        char p[PATH_MAX + 64];
                        path_of(p, sizeof(p), bad[i].rel);
                        const char *hint = nook_error_get_hint(err);
                        assert_non_null(hint);
                        assert_true(strncmp(hint, p, strlen(p)) == 0);
                }
        /* the policy is carried to the holder */
        nook_mount_list l = plan_ok("{'symlink_policy':'follow_within_alias'}");
        assert_true(l.follow_within);
        nook_mount_list_clear(&l);
}

static void test_missing_or_special_sources_are_refused(void **state) {
        {
                _cleanup_(nook_error_freep) nook_error *err = NULL;
                plan_refused("{'mounts':[{'mount_ref':'m-1','source_alias':'gone','destination_path':'/g'}]}", &err,
                             ENOENT);
                nook_test_assert_error(err, DENIED, ENOENT,
                                       "mount m-1: the source of alias 'gone' is not an existing file or directory");
        }
        {
                _cleanup_(nook_error_freep) nook_error *err = NULL;
                plan_refused("{'mounts':[{'mount_ref':'m-1','source_alias':'fifo','destination_path':'/p'}]}", &err,
                             EINVAL);
                nook_test_assert_error(err, DENIED, EINVAL, "the source of alias 'fifo' is not an existing file");
        }
}

static void test_single_file_denied_by_the_environment(void **state) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        plan_refused("{'single_file_mount_expansion':'deny_single_file','mounts':[{'mount_ref':'m-0',"
                     "'source_alias':'data','destination_path':'/d'},{'mount_ref':'m-1','source_alias':'file',"
                     "'destination_path':'/f'}]}",
                     &err, EPERM);
        nook_test_assert_error(err, DENIED, EPERM, "mount m-1: single-file mounts are denied by the environment");
        assert_int_equal(nook_error_get_retry(err), NOOK_RETRY_NOT_RETRYABLE);
        /* directories are not single files */
        nook_mount_list l = plan_ok("{'single_file_mount_expansion':'deny_single_file','mounts':[{'mount_ref':'m-0',"
                                    "'source_alias':'data','destination_path':'/d'}]}");
        assert_int_equal(l.n, 1);
        assert_false(l.e[0].is_file);
        nook_mount_list_clear(&l);
}

/* every bind/snapshot source is an fd in the PREPARE message: at most MAX_HOST_SOURCES */
static char *many_mounts(size_t binds, size_t tmpfs, const char *workspace) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        assert_non_null(f);
        fprintf(f, "{'workspace':%s,'mounts':[", workspace);
        for (size_t i = 0; i < binds + tmpfs; i++)
                fprintf(f, "%s{'mount_ref':'m-%zu','destination_path':'/m%zu',%s}", i ? "," : "", i, i,
                        i < binds ? "'source_alias':'data'" : "'nook':{'type':'tmpfs'}");
        fprintf(f, "]}");
        assert_int_equal(fclose(f), 0);
        return buf;
}

static void test_host_sources_are_limited(void **state) {
        assert_int_equal(MAX_HOST_SOURCES, 120);
        size_t fds = nook_test_count_fds();
        {
                /* tmpfs mounts hold no fd and are not counted */
                _cleanup_free_ char *fs = many_mounts(MAX_HOST_SOURCES, 5, "{'mode':'scratch'}");
                nook_mount_list l = plan_ok(fs);
                assert_int_equal(l.n, MAX_HOST_SOURCES + 6);
                assert_int_equal(nook_test_count_fds(), fds + MAX_HOST_SOURCES);
                nook_mount_list_clear(&l);
                assert_int_equal(nook_test_count_fds(), fds);
        }
        {
                _cleanup_free_ char *fs = many_mounts(MAX_HOST_SOURCES + 1, 0, "{'mode':'none'}");
                _cleanup_(nook_error_freep) nook_error *err = NULL;
                plan_refused(fs, &err, EINVAL);
                nook_test_assert_error(err, CV, EINVAL, "mount m-120: more than 120 mounts of host paths");
                assert_pointer(err, MPTR(120));
        }
        {
                /* the workspace's source counts too */
                _cleanup_free_ char *fs =
                        many_mounts(MAX_HOST_SOURCES, 0, "{'mode':'live_writable','workspace_ref':'cache'}");
                _cleanup_(nook_error_freep) nook_error *err = NULL;
                plan_refused(fs, &err, EINVAL);
                nook_test_assert_error(err, CV, EINVAL, "mount m-119: more than 120 mounts of host paths");
                assert_pointer(err, MPTR(119));
        }
        assert_int_equal(nook_test_count_fds(), fds);
}

/* ======================================================================== fds */

static void test_clear_closes_every_fd(void **state) {
        size_t fds = nook_test_count_fds();
        nook_mount_list l = plan_ok("{'workspace':{'mode':'snapshot','workspace_ref':'cache'},'mounts':["
                                    "{'mount_ref':'m-1','source_alias':'data','destination_path':'/d'},"
                                    "{'mount_ref':'m-2','source_alias':'file','destination_path':'/f'},"
                                    "{'mount_ref':'m-3','destination_path':'/t','nook':{'type':'tmpfs'}}]}");
        assert_int_equal(l.n, 4);
        assert_int_equal(nook_test_count_fds(), fds + 3);
        int held[4];
        for (size_t i = 0; i < l.n; i++)
                held[i] = l.e[i].fd;
        nook_mount_list_clear(&l);
        assert_int_equal(nook_test_count_fds(), fds);
        for (size_t i = 0; i < 4; i++)
                if (held[i] >= 0)
                        assert_int_equal(fcntl(held[i], F_GETFD), -1);
        assert_null(l.e);
        assert_int_equal(l.n, 0);
        nook_mount_list_clear(&l); /* a cleared list clears again harmlessly */
        assert_int_equal(nook_test_count_fds(), fds);
}

/* ======================================================================== check_root */

static void test_check_root_refuses_type_mismatches(void **state) {
        char p[PATH_MAX + 64];
        path_of(p, sizeof(p), "root");
        _cleanup_close_ int root = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(root >= 0);
        static const struct {
                const char *alias, *dest, *msg;
        } bad[] = {
                { "file", "/mnt", "mount m-1: the source is a file but /mnt in the root is a directory" },
                { "data", "/f", "mount m-1: the source is a directory but /f in the root is a file" },
                { "data", "/etc/hosts", "mount m-1: the source is a directory but /etc/hosts in the root is a file" },
                /* /abs -> /in-root-dir resolves inside the root, not on the host */
                { "file", "/abs", "mount m-1: the source is a file but /abs in the root is a directory" },
                /* a tmpfs is a directory: onto a file the holder would fail without naming it */
                { NULL, "/f", "mount m-1: the source is a tmpfs but /f in the root is a file" },
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
                _cleanup_free_ char *fs = NULL;
                _cleanup_free_ char *m1 = NULL;
                if (bad[i].alias)
                        assert_true(asprintf(&m1, "'source_alias':'%s','destination_path':'%s'", bad[i].alias,
                                             bad[i].dest) > 0);
                else
                        assert_true(asprintf(&m1, "'destination_path':'%s','nook':{'type':'tmpfs'}", bad[i].dest) > 0);
                assert_true(
                        asprintf(&fs,
                                 "{'mounts':[{'mount_ref':'m-0','source_alias':'cache','destination_path':'/mnt/c'},"
                                 "{'mount_ref':'m-1',%s}]}",
                                 m1) > 0);
                nook_mount_list l = plan_ok(fs);
                _cleanup_(nook_error_freep) nook_error *err = NULL;
                assert_int_equal(nook_mounts_check_root(&l, root, &err), -EINVAL);
                nook_test_assert_error(err, CV, EINVAL, bad[i].msg);
                nook_mount_list_clear(&l);
        }
        /* same types, or absent from the root (made at mount time): passes */
        nook_mount_list l = plan_ok("{'workspace':{'mode':'scratch'},'mounts':["
                                    "{'mount_ref':'m-1','source_alias':'data','destination_path':'/mnt'},"
                                    "{'mount_ref':'m-2','source_alias':'file','destination_path':'/f'},"
                                    "{'mount_ref':'m-3','source_alias':'file','destination_path':'/etc/absent'},"
                                    "{'mount_ref':'m-4','source_alias':'data','destination_path':'/nowhere/deep'},"
                                    "{'mount_ref':'m-5','destination_path':'/etc','nook':{'type':'tmpfs'}}]}");
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_mounts_check_root(&l, root, &err), 0);
        assert_null(err);
        nook_mount_list_clear(&l);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_alias_lookup_matches_whole_names_only),
                cmocka_unit_test(test_bind_mounts_hold_the_aliased_inodes),
                cmocka_unit_test(test_tmpfs_carries_validated_options_and_no_fd),
                cmocka_unit_test(test_tmpfs_options_outside_the_list_are_refused),
                cmocka_unit_test(test_plan_is_ordered_parents_first),
                cmocka_unit_test(test_workspace_modes_are_planned_as_documented),
                cmocka_unit_test(test_workspace_refusals),
                cmocka_unit_test(test_destinations_nook_owns_are_refused),
                cmocka_unit_test(test_unnormalised_destinations_are_refused_by_the_codec),
                cmocka_unit_test(test_duplicate_destination_is_refused),
                cmocka_unit_test(test_unknown_alias_is_refused),
                cmocka_unit_test(test_symlinked_sources_are_refused),
                cmocka_unit_test(test_missing_or_special_sources_are_refused),
                cmocka_unit_test(test_single_file_denied_by_the_environment),
                cmocka_unit_test(test_host_sources_are_limited),
                cmocka_unit_test(test_clear_closes_every_fd),
                cmocka_unit_test(test_check_root_refuses_type_mismatches),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
