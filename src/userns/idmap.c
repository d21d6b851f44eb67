/* nook userns — id maps of a new user namespace (user_namespaces(7)): one id written
 * from outside for the root and keep-id identities (setgroups denied first, S11), or
 * the caller plus its /etc/subuid and /etc/subgid ranges through the system's
 * newuidmap(1)/newgidmap(1) for the subuid identity. */
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <pwd.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "userns/idmap.h"

extern char **environ;

static int write_proc(pid_t pid, const char *file, const char *text) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = write(fd, text, strlen(text));
        int e = errno;
        close(fd);
        return n == (ssize_t)strlen(text) ? 0 : -(n < 0 ? e : EIO);
}

typedef struct subid {
        unsigned long start, count;
} subid;

/* The first range of at least one id for the user's name or uid (subuid(5)). */
static bool subid_range(const char *file, const char *user, uid_t id, subid *ret) {
        _cleanup_fclose_ FILE *f = fopen(file, "re");
        if (!f)
                return false;
        char line[512], idstr[16];
        snprintf(idstr, sizeof(idstr), "%u", (unsigned)id);
        while (fgets(line, sizeof(line), f)) {
                char *save = NULL; /* strtok_r: nook serve prepares sessions on several threads */
                char *name = strtok_r(line, ":\n", &save), *start = strtok_r(NULL, ":\n", &save),
                     *count = strtok_r(NULL, ":\n", &save);
                if (!name || !start || !count || (strcmp(name, idstr) != 0 && (!user || strcmp(name, user) != 0)))
                        continue;
                ret->start = strtoul(start, NULL, 10);
                ret->count = strtoul(count, NULL, 10);
                if (ret->count > 0)
                        return true;
        }
        return false;
}

static char *user_name(uid_t uid) {
        struct passwd pw, *res = NULL;
        char buf[4096];
        return getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res ? strdup(res->pw_name) : NULL;
}

/* A passwd field of the generated line: no ':' or newline, never empty. */
static void passwd_field(char *dst, size_t size, const char *v, const char *fallback) {
        bool ok = v && *v && strlen(v) < size && !strpbrk(v, ":\n\r");
        snprintf(dst, size, "%s", ok ? v : fallback);
}

void nook_host_identity_get(uid_t uid, gid_t gid, nook_host_identity *ret) {
        struct passwd pw, *res = NULL;
        struct group gr, *gres = NULL;
        char buf[4096], gbuf[4096];
        bool have = getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res;
        passwd_field(ret->name, sizeof(ret->name), have ? res->pw_name : NULL, "user");
        /* the home is a path inside: absolute, no "..", else "/" */
        const char *home = have ? res->pw_dir : NULL;
        passwd_field(ret->home, sizeof(ret->home), home && home[0] == '/' && !strstr(home, "/..") ? home : NULL, "/");
        bool g = getgrgid_r(gid, &gr, gbuf, sizeof(gbuf), &gres) == 0 && gres;
        passwd_field(ret->group, sizeof(ret->group), g ? gres->gr_name : NULL, ret->name);
}

/* path: the caller's buffer (one static buffer, shared by nook serve's workers, once
 * made a thread run newgidmap for newuidmap). */
static const char *find_tool(const char *name, char path[static 64]) {
        const char *dirs[] = { "/usr/bin", "/bin", "/usr/sbin", "/sbin" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                snprintf(path, 64, "%s/%s", dirs[i], name);
                if (access(path, X_OK) == 0)
                        return path;
        }
        return NULL;
}

/* The tool can map ids for us: setuid root or with file capabilities (or we are root).
 * Nested in a user namespace where the host's root is unmapped (an outer nook session,
 * a rootless container), a setuid-root file shows the overflow uid as its owner and
 * set-user-ID grants nothing (user_namespaces(7)): the ranges of /etc/subuid, which
 * name host ids, cannot be used from there. */
static bool tool_usable(const char *name) {
        char path[64];
        struct stat st;
        if (!find_tool(name, path) || stat(path, &st) < 0)
                return false;
        return geteuid() == 0 || ((st.st_mode & S_ISUID) && st.st_uid == 0) ||
               getxattr(path, "security.capability", NULL, 0) > 0;
}

int nook_identity_resolve(int requested, uid_t uid, int *ret, nook_error **err) {
        if (requested != NOOK_IDENTITY_AUTO && requested != NOOK_IDENTITY_SUBUID) {
                *ret = requested;
                return 0;
        }
        _cleanup_free_ char *name = user_name(uid);
        subid u, g;
        bool ranges = subid_range("/etc/subuid", name, uid, &u) && subid_range("/etc/subgid", name, getgid(), &g);
        bool tools = tool_usable("newuidmap") && tool_usable("newgidmap");
        bool ok = ranges && tools;
        if (!ok && requested == NOOK_IDENTITY_SUBUID)
                return nook_error_set(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, NOOK_RETRY_HOST_CONFIGURATION_NEEDED,
                                      ENOENT,
                                      ranges ? "identity subuid needs newuidmap and newgidmap setuid root (or with "
                                               "file capabilities) and usable here: nested in a user namespace "
                                               "they map nothing (run 'nook caps')"
                                             : "identity subuid needs /etc/subuid and /etc/subgid ranges for this "
                                               "user and newuidmap/newgidmap (run 'nook caps')");
        *ret = ok ? NOOK_IDENTITY_SUBUID : NOOK_IDENTITY_ROOT;
        return 0;
}

/* Starts the tool; its pid, or -errno. */
static pid_t spawn_tool(const char *tool, pid_t pid, unsigned long inside_self, unsigned long self, const subid *r) {
        char buf[64];
        const char *path = find_tool(tool, buf);
        if (!path)
                return -ENOENT;
        char a[6][24];
        snprintf(a[0], sizeof(a[0]), "%d", (int)pid);
        snprintf(a[1], sizeof(a[1]), "%lu", inside_self);
        snprintf(a[2], sizeof(a[2]), "%lu", self);
        snprintf(a[3], sizeof(a[3]), "1");
        snprintf(a[4], sizeof(a[4]), "%lu", r->start);
        snprintf(a[5], sizeof(a[5]), "%lu", r->count > 65535 ? 65535ul : r->count);
        char one[] = "1";
        char *argv[] = { (char *)tool, a[0], a[1], a[2], a[3], one, a[4], a[5], NULL };
        pid_t child;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        int r2 = posix_spawn(&child, path, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        return r2 != 0 ? -r2 : child;
}

/* 0 when the tool exited 0; -EPERM when it failed; -errno when it cannot be waited for. */
static int reap_tool(pid_t child) {
        int status;
        while (waitpid(child, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EPERM;
}

/* newuidmap and newgidmap write different files of the namespace and neither reads what
 * the other writes (user_namespaces(7), "Defining user and group ID mappings"): they run
 * at once, which halves the largest part of a subuid session's start (two exec(2)s of a
 * setuid program, each loading its libraries and reading /etc/login.defs), and the caller
 * may do its own work (journal the holder's pid) until nook_idmap_finish. */
static int start_tools(pid_t child, uid_t uid, gid_t gid, const subid *u, const subid *g, nook_idmap_job *job,
                       nook_error **err) {
        pid_t up = spawn_tool("newuidmap", child, 0, uid, u);
        if (up < 0)
                return nook_error_sys(err, -up, "newuidmap");
        pid_t gp = spawn_tool("newgidmap", child, 0, gid, g);
        if (gp < 0) {
                (void)reap_tool(up);
                return nook_error_sys(err, -gp, "newgidmap");
        }
        job->uidmap = up;
        job->gidmap = gp;
        return 0;
}

int nook_idmap_finish(nook_idmap_job *job, nook_error **err) {
        int ru = job->uidmap > 0 ? reap_tool(job->uidmap) : 0;
        int rg = job->gidmap > 0 ? reap_tool(job->gidmap) : 0;
        *job = (nook_idmap_job)NOOK_IDMAP_JOB_INIT;
        if (ru < 0)
                return nook_error_sys(err, -ru, "newuidmap");
        if (rg < 0)
                return nook_error_sys(err, -rg, "newgidmap");
        return 0;
}

int nook_idmap_write(pid_t child, int identity, uid_t uid, gid_t gid, uint32_t *ret_count, nook_error **err) {
        nook_idmap_job job = NOOK_IDMAP_JOB_INIT;
        int r = nook_idmap_start(child, identity, uid, gid, &job, ret_count, err);
        return r < 0 ? r : nook_idmap_finish(&job, err);
}

int nook_idmap_start(pid_t child, int identity, uid_t uid, gid_t gid, nook_idmap_job *job, uint32_t *ret_count,
                     nook_error **err) {
        char map[64];
        int r;
        *ret_count = 0;
        if (identity == NOOK_IDENTITY_SUBUID) {
                _cleanup_free_ char *name = user_name(uid);
                subid u, g;
                if (!subid_range("/etc/subuid", name, uid, &u) || !subid_range("/etc/subgid", name, gid, &g))
                        return nook_error_set(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED,
                                              NOOK_RETRY_HOST_CONFIGURATION_NEEDED, ENOENT,
                                              "no /etc/subuid or /etc/subgid range for this user");
                /* 0 -> the caller, 1..N -> the range (capped at 65535 ids: enough for
                 * every id an image uses, without an overflow id in the middle). */
                if ((r = start_tools(child, uid, gid, &u, &g, job, err)) < 0)
                        return r;
                *ret_count = (uint32_t)(u.count > 65535 ? 65535 : u.count);
                return 0;
        }
        unsigned inside_uid = identity == NOOK_IDENTITY_KEEP_ID ? (unsigned)uid : 0;
        unsigned inside_gid = identity == NOOK_IDENTITY_KEEP_ID ? (unsigned)gid : 0;
        /* S11: in a single-id namespace setgroups(2) stays denied, so no process inside
         * can drop a supplementary group that a negative ACL keys on. */
        if ((r = write_proc(child, "setgroups", "deny")) < 0)
                return nook_error_sys(err, -r, "denying setgroups in the new user namespace");
        snprintf(map, sizeof(map), "%u %u 1\n", inside_uid, (unsigned)uid);
        if ((r = write_proc(child, "uid_map", map)) < 0)
                return nook_error_sys(err, -r, "writing uid_map");
        snprintf(map, sizeof(map), "%u %u 1\n", inside_gid, (unsigned)gid);
        if ((r = write_proc(child, "gid_map", map)) < 0)
                return nook_error_sys(err, -r, "writing gid_map");
        return 0;
}

void nook_idmap_host_ids(int identity, uid_t uid, gid_t gid, nook_host_ids *ret) {
        *ret = (nook_host_ids){ .uid = uid, .gid = gid };
        if (identity != NOOK_IDENTITY_SUBUID)
                return;
        _cleanup_free_ char *name = user_name(uid);
        subid u, g;
        if (subid_range("/etc/subuid", name, uid, &u)) { /* as nook_idmap_write maps it */
                ret->uid_start = u.start;
                ret->uid_count = u.count > 65535 ? 65535 : u.count;
        }
        if (subid_range("/etc/subgid", name, gid, &g)) {
                ret->gid_start = g.start;
                ret->gid_count = g.count > 65535 ? 65535 : g.count;
        }
}

bool nook_idmap_host_mapped(const nook_host_ids *ids, uid_t owner, gid_t group) {
        bool u = owner == ids->uid || (owner >= ids->uid_start && owner - ids->uid_start < ids->uid_count);
        bool g = group == ids->gid || (group >= ids->gid_start && group - ids->gid_start < ids->gid_count);
        return u && g;
}
