/* nook-holder — the session's limits without a delegated cgroup (S34, cgroup v2's
 * semantics as the model): every task of the session's pid namespace is counted and
 * charged, whoever its parent is now (proc(5) /proc/PID/stat, smaps_rollup); the
 * session's tmpfs mounts are sized from the memory limit and their pages charged to it
 * (statfs(2)); a writable layer on disk is measured by walking it.  Going over kills
 * every workload task of the session, as memory.oom.group would. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "helper.h"
#include "util/clock.h"
#include "util/macro.h"

#define TICK_MS 100
#define WALK_MIN_MS 1000
#define WALK_DEPTH 128
#define KILL_ROUNDS 16

/* The tighter of two limits, 0 meaning none. */
static uint64_t tighter(uint64_t a, uint64_t b) {
        return !a ? b : !b ? a : a < b ? a : b;
}

/* The limits in force: the session's, tightened by each running process's own (a
 * process's limits apply to the whole session while it runs; docs/cli.md). */
static uint64_t memory_limit(const hlimits *l) {
        uint64_t v = l->memory_max;
        for (size_t i = 0; i < l->n_mon; i++)
                v = tighter(v, l->mon[i].memory_max);
        return v;
}

static uint64_t pids_limit(const hlimits *l) {
        uint64_t v = l->pids_max;
        for (size_t i = 0; i < l->n_mon; i++)
                v = tighter(v, l->mon[i].pids_max);
        return v;
}

void limits_from_prepare(holder *h, nook_msg *m) {
        hlimits *l = &h->lim;
        l->memory_max = nook_msg_u64(m, T_MEMORY_MAX, 0);
        l->pids_max = nook_msg_u64(m, T_PIDS_MAX, 0);
        l->disk_max = nook_msg_u64(m, T_DISK_MAX, 0);
        uint64_t cg = nook_msg_u64(m, T_CGROUP, 0);
        int fd = cg ? nook_msg_take_fd(m, (unsigned)(cg - 1)) : -1;
        if (fd >= 0) {
                l->cgroup = true;
                l->cgroup_fd = fd;
        }
}

/* size=N[k|m|g|t] or N% of RAM (tmpfs(5)); 0 when absent or unreadable. */
static uint64_t tmpfs_size(const char *v) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (errno || end == v)
                return 0;
        struct sysinfo si;
        switch (*end) {
        case '%':
                return sysinfo(&si) == 0 ? (uint64_t)si.totalram * si.mem_unit / 100 * n : 0;
        case 'k':
        case 'K':
                return n << 10;
        case 'm':
        case 'M':
                return n << 20;
        case 'g':
        case 'G':
                return n << 30;
        case 't':
        case 'T':
                return n << 40;
        default:
                return n;
        }
}

void limits_tmpfs_clamp(const holder *h, char *data, size_t size, bool layer) {
        uint64_t cap = layer ? tighter(h->lim.memory_max, h->lim.disk_max) : h->lim.memory_max;
        if (!cap)
                return;
        char copy[512], out[512] = "";
        snprintf(copy, sizeof(copy), "%s", data);
        uint64_t asked = 0;
        for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (!strncmp(t, "size=", 5))
                        asked = tmpfs_size(t + 5);
                else
                        snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s,", t);
        }
        /* absent or unreadable is tmpfs's default, half of RAM: more than the cap */
        uint64_t v = asked && asked < cap ? asked : cap;
        snprintf(out + strlen(out), sizeof(out) - strlen(out), "size=%llu", (unsigned long long)v);
        snprintf(data, size, "%s", out);
}

void limits_tmpfs_charge(holder *h, int fd) {
        hlimits *l = &h->lim;
        if (l->n_tmpfs >= ELEMENTSOF(l->tmpfs_fd))
                return;
        int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (d >= 0)
                l->tmpfs_fd[l->n_tmpfs++] = d;
}

static uint64_t fs_used(int fd) {
        struct statfs sf;
        if (fd < 0 || fstatfs(fd, &sf) < 0)
                return 0;
        return (uint64_t)(sf.f_blocks - sf.f_bfree) * (uint64_t)sf.f_bsize;
}

/* Pages of the session's tmpfs mounts, but for the driver copy of the image. */
static uint64_t tmpfs_bytes(const hlimits *l) {
        uint64_t sum = 0;
        for (size_t i = 0; i < l->n_tmpfs; i++)
                sum += fs_used(l->tmpfs_fd[i]);
        return sum > l->copy_base ? sum - l->copy_base : 0;
}

void limits_image_root(holder *h, const nook_msg *m, int top) {
        hlimits *l = &h->lim;
        bool copy = h->driver && !strcmp(h->driver, "copy");
        const char *upper = nook_msg_str(m, T_UPPER);
        char path[4096];
        if (h->upper_fd >= 0)
                close(h->upper_fd); /* the tmpfs's own upper/ is not used by an image root */
        h->upper_fd = -1;
        if (!copy && upper && (size_t)snprintf(path, sizeof(path), "%s/upper", upper) < sizeof(path)) {
                h->upper_fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                l->upper_on_disk = h->upper_fd >= 0;
        }
        int fd = top;
        uint64_t used = fs_used(fd);
        uint64_t room = copy ? tighter(l->memory_max, l->disk_max) : l->memory_max;
        if (copy) {
                l->copy_base = used;
                l->copy_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        }
        if (!room)
                return;
        char data[64], p[32];
        snprintf(data, sizeof(data), "size=%llu", (unsigned long long)(used + room));
        snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
        (void)mount(NULL, p, NULL, MS_REMOUNT | MS_NOSUID | MS_NODEV, data);
}

void limits_prepared(holder *h, char *notes, size_t size) {
        hlimits *l = &h->lim;
        /* the session's own procfs (workloads.c: a detached mount of our pid namespace,
         * where every task of the session has a pid, the nested workloads' included);
         * the root's /proc shows only the workloads' namespace */
        if (h->proc_fd >= 0 && (l->proc_fd = fcntl(h->proc_fd, F_DUPFD_CLOEXEC, 3)) >= 0)
                return;
        if ((l->memory_max || l->pids_max) && !l->cgroup)
                snprintf(notes + strlen(notes), size - strlen(notes),
                         "%smemory and process limits not counted: no procfs of the session's pid namespace",
                         *notes ? "; " : "");
}

/* ---- processes -------------------------------------------------------------------- */

/* nook's own: the holder (pid 1), fuse-overlayfs, the workloads' init (S33) and the
 * monitors are never counted or killed. */
static bool helper_pid(const holder *h, pid_t pid) {
        if (pid == 1 || pid == h->fuse_pid || (h->init_pid && pid == h->init_pid))
                return true;
        for (size_t i = 0; i < h->lim.n_mon; i++)
                if (h->lim.mon[i].pid == pid)
                        return true;
        return false;
}

static ssize_t read_at(int dirfd, const char *path, char *buf, size_t size) {
        int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        ssize_t n = read(fd, buf, size - 1);
        close(fd);
        if (n >= 0)
                buf[n] = 0;
        return n;
}

typedef struct task_info {
        pid_t pid;
        uint64_t threads, rss;
} task_info;

typedef void (*task_fn)(holder *h, const task_info *t, void *data);

/* Calls fn for each live (not zombie) process of the session that is not one of nook's
 * helpers, whatever its parent: orphans are reparented to us, pid 1, and the nested
 * namespaces of workloads are visible from ours.  Returns how many. */
static size_t each_workload(holder *h, task_fn fn, void *data) {
        int dfd = openat(h->lim.proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d) {
                if (dfd >= 0)
                        close(dfd);
                return 0;
        }
        size_t n = 0;
        long page = sysconf(_SC_PAGESIZE);
        for (struct dirent *e; (e = readdir(d));) {
                if (e->d_name[0] < '1' || e->d_name[0] > '9')
                        continue;
                task_info t = { .pid = (pid_t)atoi(e->d_name) };
                char path[300], buf[1024], state = 0;
                long threads = 0, rss = 0;
                snprintf(path, sizeof(path), "%s/stat", e->d_name);
                if (helper_pid(h, t.pid) || read_at(h->lim.proc_fd, path, buf, sizeof(buf)) <= 0)
                        continue;
                /* proc(5) stat: fields 3 (state), 20 (num_threads), 24 (rss, pages) */
                char *p = strrchr(buf, ')');
                if (!p ||
                    sscanf(p + 2,
                           "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %ld %*d "
                           "%*u %*u %ld",
                           &state, &threads, &rss) != 3 ||
                    state == 'Z' || state == 'X')
                        continue;
                t.threads = threads > 0 ? (uint64_t)threads : 1;
                t.rss = rss > 0 ? (uint64_t)rss * (uint64_t)page : 0;
                if (fn)
                        fn(h, &t, data);
                n++;
        }
        closedir(d);
        return n;
}

typedef struct usage {
        uint64_t tasks, rss, pss;
} usage;

static void add_usage(holder *h, const task_info *t, void *data) {
        usage *u = data;
        u->tasks += t->threads;
        u->rss += t->rss;
}

/* Proportional set size (proc(5) smaps_rollup): pages shared by the session's
 * processes counted once, as a memory cgroup charges them; rss when unreadable. */
static void add_pss(holder *h, const task_info *t, void *data) {
        usage *u = data;
        char path[64], buf[4096];
        snprintf(path, sizeof(path), "%d/smaps_rollup", (int)t->pid);
        const char *p = read_at(h->lim.proc_fd, path, buf, sizeof(buf)) > 0 ? strstr(buf, "\nPss:") : NULL;
        unsigned long long kb;
        u->pss += p && sscanf(p + 5, "%llu", &kb) == 1 ? kb << 10 : t->rss;
}

static void kill_one(holder *h, const task_info *t, void *data) {
        (void)kill(t->pid, SIGKILL);
}

/* Each running process's record says why (its monitor writes it into the exit record),
 * then every workload process goes; killed ones linger until reaped, so a few rounds. */
static void kill_workloads(holder *h, const char *why) {
        for (size_t i = 0; i < h->lim.n_mon; i++) {
                char rel[96];
                snprintf(rel, sizeof(rel), "p/%s/killed_by", h->lim.mon[i].ref);
                int fd = openat(h->session_fd, rel, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (fd >= 0) {
                        (void)!write(fd, why, strlen(why));
                        close(fd);
                }
        }
        for (int round = 0; round < KILL_ROUNDS && each_workload(h, kill_one, NULL) > 0; round++)
                nanosleep(&(struct timespec){ .tv_nsec = 2000000 }, NULL);
}

void limits_spawn(holder *h, nook_msg *m) {
        hlimits *l = &h->lim;
        uint64_t pids = tighter(pids_limit(l), nook_msg_u64(m, T_PIDS_MAX, 0));
        if (!pids || l->cgroup)
                return;
        /* RLIMIT_NPROC is checked by fork(2) against the tasks of the caller's real uid
         * in its user namespace (kernel/ucount.c), which includes nook's own helpers
         * when the workload runs as the holder's uid: those get room on top.  The fence
         * refuses a fork at once; the count in limits_tick is the exact one. */
        uint64_t base = 1; /* the monitor about to be forked */
        if ((uid_t)nook_msg_u64(m, T_UID, 0) == getuid()) {
                base += 1 + l->n_mon;
                char path[32], buf[1024];
                snprintf(path, sizeof(path), "%d/stat", (int)h->fuse_pid);
                const char *p = h->fuse_pid > 0 && l->proc_fd >= 0 && read_at(l->proc_fd, path, buf, sizeof(buf)) > 0
                                        ? strrchr(buf, ')')
                                        : NULL;
                long threads = 0;
                if (p &&
                    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %ld",
                           &threads) == 1 &&
                    threads > 0)
                        base += (uint64_t)threads;
        }
        (void)nook_msg_add_u64(m, T_NPROC_RLIMIT, pids + base);
}

void limits_monitor_add(holder *h, pid_t pid, const nook_msg *m) {
        hlimits *l = &h->lim;
        hmonitor *v = realloc(l->mon, (l->n_mon + 1) * sizeof(*v));
        if (!v)
                return; /* its own limits are not added: the session's still hold */
        l->mon = v;
        hmonitor *n = &v[l->n_mon++];
        *n = (hmonitor){ .pid = pid,
                         .memory_max = nook_msg_u64(m, T_MEMORY_MAX, 0),
                         .pids_max = nook_msg_u64(m, T_PIDS_MAX, 0) };
        const char *ref = nook_msg_str(m, T_PROCESS_REF);
        /* the monitor refuses refs that are not [a-z0-9-]{1,64}; so do we */
        if (ref && strlen(ref) < sizeof(n->ref) && strspn(ref, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen(ref))
                snprintf(n->ref, sizeof(n->ref), "%s", ref);
}

void limits_monitor_gone(holder *h, pid_t pid) {
        hlimits *l = &h->lim;
        for (size_t i = 0; i < l->n_mon; i++)
                if (l->mon[i].pid == pid) {
                        l->mon[i] = l->mon[--l->n_mon];
                        return;
                }
}

/* ---- the writable layer ---------------------------------------------------------- */

/* Bytes below root (st_blocks, so sparse files count what they hold), without
 * following links, with at most WALK_DEPTH directories open; false when a directory
 * could not be read or lies deeper: the layer is then not fully measured. */
static bool walk(int root, uint64_t *ret) {
        DIR *stack[WALK_DEPTH];
        size_t depth = 0;
        bool ok = true;
        uint64_t sum = 0;
        int fd = openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                if (fd >= 0)
                        close(fd);
                return false;
        }
        stack[depth++] = d;
        while (depth) {
                DIR *cur = stack[depth - 1];
                struct dirent *e = readdir(cur);
                if (!e) {
                        closedir(cur);
                        depth--;
                        continue;
                }
                struct stat st;
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
                    fstatat(dirfd(cur), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                sum += (uint64_t)st.st_blocks * 512;
                if (!S_ISDIR(st.st_mode))
                        continue;
                int c = depth < WALK_DEPTH
                                ? openat(dirfd(cur), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                                : -1;
                DIR *cd = c >= 0 ? fdopendir(c) : NULL;
                if (!cd) {
                        if (c >= 0)
                                close(c);
                        ok = false;
                        continue;
                }
                stack[depth++] = cd;
        }
        *ret = sum;
        return ok;
}

bool limits_layer_bytes(holder *h, uint64_t *ret) {
        if (h->lim.copy_fd >= 0) {
                uint64_t used = fs_used(h->lim.copy_fd);
                *ret = used > h->lim.copy_base ? used - h->lim.copy_base : 0;
                return true;
        }
        if (h->upper_fd < 0)
                return false;
        (void)walk(h->upper_fd, ret);
        return true;
}

/* An on-disk layer is walked at most every WALK_MIN_MS (or ten times what a walk
 * costs), and at once when the host filesystem lost more free space since the last
 * walk than the layer had left: a fast writer is caught within a tick or two.  On a
 * tmpfs the layer is bounded by the tmpfs's size. */
static bool layer_over(holder *h, int64_t now) {
        hlimits *l = &h->lim;
        if (!l->disk_max || !l->upper_on_disk || h->upper_fd < 0)
                return false;
        struct statfs sf;
        uint64_t avail = fstatfs(h->upper_fd, &sf) == 0 ? (uint64_t)sf.f_bavail * (uint64_t)sf.f_bsize : 0;
        bool due = now >= l->next_walk ||
                   (l->free_at_walk > avail && l->free_at_walk - avail + l->layer_bytes > l->disk_max);
        if (!due)
                return false;
        uint64_t bytes = 0;
        bool ok = walk(h->upper_fd, &bytes);
        int64_t end = nook_mono_ms();
        l->walk_cost = end - now;
        l->next_walk = end + (l->walk_cost * 10 > WALK_MIN_MS ? l->walk_cost * 10 : WALK_MIN_MS);
        l->layer_bytes = bytes;
        l->free_at_walk = avail;
        /* a layer that cannot be measured (too deep, unreadable) counts as full */
        return !ok || bytes > l->disk_max;
}

/* ---- the look ---------------------------------------------------------------------- */

static bool armed(const holder *h) {
        const hlimits *l = &h->lim;
        bool procs = l->proc_fd >= 0 && !l->cgroup && (memory_limit(l) || pids_limit(l));
        return procs || (l->disk_max && l->upper_on_disk && h->upper_fd >= 0);
}

int limits_timeout(const holder *h) {
        if (!armed(h))
                return -1;
        int64_t left = h->lim.next_tick - nook_mono_ms();
        return left <= 0 ? 0 : (int)left;
}

static const char *over_limit(holder *h, int64_t now) {
        hlimits *l = &h->lim;
        uint64_t mem = memory_limit(l), pids = pids_limit(l);
        if (l->proc_fd >= 0 && !l->cgroup && (mem || pids)) {
                usage u = { 0 };
                each_workload(h, add_usage, &u);
                if (pids && u.tasks > pids)
                        return "pids";
                uint64_t shm = mem ? tmpfs_bytes(l) : 0;
                /* rss counts shared pages once per process: only above the limit is the
                 * proportional size worth its cost */
                if (mem && u.rss + shm > mem) {
                        each_workload(h, add_pss, &u);
                        if (u.pss + shm > mem)
                                return "memory";
                }
        }
        return layer_over(h, now) ? "disk" : NULL;
}

void limits_tick(holder *h) {
        int64_t now = nook_mono_ms();
        if (!armed(h) || now < h->lim.next_tick)
                return;
        h->lim.next_tick = now + TICK_MS;
        const char *why = over_limit(h, now);
        if (why)
                kill_workloads(h, why);
}
