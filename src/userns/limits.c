/* nook userns — the limits of a session and its processes (S34): prepare_environment
 * hands the session's limits to the holder (helpers/limits.c counts every process of
 * the session and sizes its tmpfs from them) or to a delegated cgroup v2
 * (util/cgroup.c); <session>/limits records how each is enforced; start_process adds
 * the process's own, bounds its capture logs by the io policy and reports. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "userns/limits.h"
#include "util/cgroup.h"

#define UNLIMITED_MEMORY_MB (16ull * 1024 * 1024)
#define UNLIMITED_PROCESSES 4194304ull

/* <session>/limits: "NAME=HOW VALUE" lines; HOW as in nook_limits_report. */
typedef struct record {
        char memory[16], pids[16], cpus[16], disk[16];
        uint64_t memory_max, pids_max;
        char cgroup[520]; /* the session's cgroup, relative to the cgroup2 mount, or "" */
} record;

/* Reached below the session dir fd, never by path (S32); a record that is not a
 * regular file of this user reads as the defaults. */
static void record_read(int dir_fd, record *r) {
        *r = (record){ .memory = "watchdog", .pids = "watchdog", .cpus = "not_enforced", .disk = "none" };
        char line[512];
        int fd = dir_fd < 0 ? -1 : openat(dir_fd, "limits", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid())) {
                close(fd);
                fd = -1;
        }
        FILE *f = fd >= 0 ? fdopen(fd, "re") : NULL;
        if (fd >= 0 && !f)
                close(fd);
        while (f && fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = 0;
                unsigned long long v = 0;
                char how[16];
                if (sscanf(line, "memory=%15s %llu", how, &v) >= 1)
                        snprintf(r->memory, sizeof(r->memory), "%s", how), r->memory_max = v;
                else if (sscanf(line, "process_count=%15s %llu", how, &v) >= 1)
                        snprintf(r->pids, sizeof(r->pids), "%s", how), r->pids_max = v;
                else if (sscanf(line, "cpus=%15s", how) == 1)
                        snprintf(r->cpus, sizeof(r->cpus), "%s", how);
                else if (sscanf(line, "disk=%15s", how) == 1)
                        snprintf(r->disk, sizeof(r->disk), "%s", how);
                else if (!strncmp(line, "cgroup=", 7))
                        snprintf(r->cgroup, sizeof(r->cgroup), "%s", line + 7);
        }
        if (f)
                fclose(f);
}

static int record_write(int dir_fd, const record *r) {
        (void)unlinkat(dir_fd, ".limits.tmp", 0);
        int fd = openat(dir_fd, ".limits.tmp", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        FILE *f = fdopen(fd, "we");
        if (!f) {
                int e = -errno;
                close(fd);
                return e;
        }
        fprintf(f, "memory=%s %llu\nprocess_count=%s %llu\ncpus=%s\ndisk=%s\ncgroup=%s\n", r->memory,
                (unsigned long long)r->memory_max, r->pids, (unsigned long long)r->pids_max, r->cpus, r->disk,
                r->cgroup);
        if (fclose(f) != 0)
                return -errno;
        return renameat(dir_fd, ".limits.tmp", dir_fd, "limits") < 0 ? -errno : 0;
}

int nook_limits_prepare(const nook_session *s, const nook_resources *res, nook_msg *m, int *ret_cgroup_fd) {
        int r = 0;
        if (res->memory_mb < UNLIMITED_MEMORY_MB)
                r = nook_msg_add_u64(m, T_MEMORY_MAX, res->memory_mb << 20);
        if (r >= 0 && res->process_count < UNLIMITED_PROCESSES)
                r = nook_msg_add_u64(m, T_PIDS_MAX, res->process_count);
        if (r >= 0 && res->has_disk_mb)
                r = nook_msg_add_u64(m, T_DISK_MAX, res->disk_mb << 20);
        if (r < 0)
                return -ENOMEM;
        record rec;
        record_read(s->dir_fd, &rec);
        nook_cgroup_limits cl = { .memory_max = res->memory_mb < UNLIMITED_MEMORY_MB ? res->memory_mb << 20 : 0,
                                  .pids_max = res->process_count < UNLIMITED_PROCESSES ? res->process_count : 0,
                                  .cpus = res->cpus };
        int fd = -1;
        /* the path is recorded before the cgroup exists: cleanup removes what was made */
        if (nook_cgroup_session_path(s->ref, rec.cgroup, sizeof(rec.cgroup)) == 0 &&
            record_write(s->dir_fd, &rec) == 0 && nook_cgroup_session_make(rec.cgroup, &cl, s->holder_pid, &fd) == 0) {
                /* the caller closes it after the send: the message carries borrowed
                 * fds (the root's, the sources') and owns none */
                *ret_cgroup_fd = fd;
                int index = (int)m->n_fds;
                if (nook_msg_add_fd(m, fd) < 0 || nook_msg_add_u64(m, T_CGROUP, (uint64_t)index + 1) < 0)
                        return -ENOMEM;
        } else {
                rec.cgroup[0] = 0;
                (void)record_write(s->dir_fd, &rec);
        }
        return 0;
}

int nook_limits_record(const nook_session *s, const nook_environment_spec *spec, const char *notes) {
        const nook_resources *res = &spec->resources;
        record rec;
        record_read(s->dir_fd, &rec);
        bool cg = rec.cgroup[0] != 0;
        bool uncounted = notes && strstr(notes, "limits not counted");
        const char *procs = cg ? "cgroup" : uncounted ? "not_enforced" : "watchdog";
        rec.memory_max = res->memory_mb < UNLIMITED_MEMORY_MB ? res->memory_mb << 20 : 0;
        rec.pids_max = res->process_count < UNLIMITED_PROCESSES ? res->process_count : 0;
        snprintf(rec.memory, sizeof(rec.memory), "%s", rec.memory_max ? procs : "none");
        snprintf(rec.pids, sizeof(rec.pids), "%s", rec.pids_max ? procs : "none");
        snprintf(rec.cpus, sizeof(rec.cpus), "%s", cg ? "cgroup" : "not_enforced");
        bool no_layer = s->read_only || spec->filesystem.root == NOOK_ROOT_READ_ONLY;
        const char *disk = !res->has_disk_mb ? "none"
                           : no_layer        ? "none"
                           : s->rootfs_rw    ? "not_enforced" /* writes land in the user's own dir */
                           : s->image && !(s->driver && !strcmp(s->driver, "copy")) ? "watchdog"
                                                                                    : "tmpfs";
        snprintf(rec.disk, sizeof(rec.disk), "%s", disk);
        return record_write(s->dir_fd, &rec);
}

bool nook_limits_describe(int session_dir_fd, char *buf, size_t size) {
        if (session_dir_fd < 0 || faccessat(session_dir_fd, "limits", F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                return false;
        record rec;
        record_read(session_dir_fd, &rec);
        snprintf(buf, size, "memory=%s pids=%s cpus=%s disk=%s", rec.memory, rec.pids, rec.cpus, rec.disk);
        return true;
}

/* The enforcement of a process's limit: the session's way, but a limit tighter than
 * the session's is the holder's count even where a cgroup holds the session's. */
static const char *how(const char *session_how, uint64_t session_max, uint64_t own) {
        if (!own)
                return session_how;
        if (!strcmp(session_how, "not_enforced"))
                return session_how;
        return !strcmp(session_how, "cgroup") && session_max && session_max <= own ? "cgroup" : "watchdog";
}

static int add_logs(const nook_environment_spec *spec, const nook_process_spec *p, nook_msg *m, nook_strbuf *sum,
                    nook_limits_report *rep) {
        const nook_stream_policy *o = p->has_stdout_policy ? &p->stdout_policy : &spec->io_policy.stdout_policy;
        const nook_stream_policy *e = p->has_stderr_policy ? &p->stderr_policy : &spec->io_policy.stderr_policy;
        int r = nook_msg_add_u64(m, T_OUT_MAX, o->max_bytes);
        if (r >= 0)
                r = nook_msg_add_u64(m, T_ERR_MAX, e->max_bytes);
        if (r >= 0)
                r = nook_msg_add_u64(m, T_OUT_FAIL, o->truncation_policy == NOOK_TRUNC_FAIL_IF_EXCEEDED);
        if (r >= 0)
                r = nook_msg_add_u64(m, T_ERR_FAIL, e->truncation_policy == NOOK_TRUNC_FAIL_IF_EXCEEDED);
        const char *ow =
                o->truncation_policy == NOOK_TRUNC_FAIL_IF_EXCEEDED ? "fail_if_exceeded" : "truncate_with_marker";
        nook_strbuf_printf(sum, ", output %llu/%llu bytes kept (%s)", (unsigned long long)o->max_bytes,
                           (unsigned long long)e->max_bytes, ow);
        rep->output = strdup(ow);
        return r;
}

uint64_t nook_limits_timeout_ms(const nook_environment_spec *spec, const nook_process_spec *p) {
        uint64_t t = p->has_timeout_ms ? p->timeout_ms : spec->resources.timeout_ms;
        if (p->has_rlimits && p->rlimits.timeout_ms && p->rlimits.timeout_ms < t)
                t = p->rlimits.timeout_ms;
        return t;
}

int nook_limits_spawn(const nook_session *s, const nook_environment_spec *spec, const nook_process_spec *p, nook_msg *m,
                      nook_strbuf *sum, nook_limits_report *rep) {
        const nook_resources *res = &spec->resources;
        record rec;
        record_read(s->dir_fd, &rec);
        /* the process's own ResourceLimits (rlimits) tighten the session's; 0 asks nothing */
        const nook_resources *own = p->has_rlimits ? &p->rlimits : NULL;
        uint64_t timeout = nook_limits_timeout_ms(spec, p);
        int r = nook_msg_add_u64(m, T_TIMEOUT_MS, timeout);
        nook_strbuf_printf(sum, "limits: timeout %llu ms (monitor)", (unsigned long long)timeout);
        uint64_t mem = res->memory_mb < UNLIMITED_MEMORY_MB ? res->memory_mb << 20 : 0;
        uint64_t pids = res->process_count < UNLIMITED_PROCESSES ? res->process_count : 0;
        if (own && own->memory_mb && (!mem || (own->memory_mb << 20) < mem))
                mem = own->memory_mb << 20;
        if (own && own->process_count && (!pids || own->process_count < pids))
                pids = own->process_count;
        if (r >= 0 && mem)
                r = nook_msg_add_u64(m, T_MEMORY_MAX, mem);
        if (r >= 0 && pids)
                r = nook_msg_add_u64(m, T_PIDS_MAX, pids);
        const char *mh = how(rec.memory, rec.memory_max, mem), *ph = how(rec.pids, rec.pids_max, pids);
        if (mem || rec.memory_max)
                nook_strbuf_printf(
                        sum, ", memory %llu MiB for the whole session (%s)",
                        (unsigned long long)(mem && (!rec.memory_max || mem < rec.memory_max) ? mem : rec.memory_max) >>
                                20,
                        mh);
        if (pids || rec.pids_max)
                nook_strbuf_printf(
                        sum, ", processes %llu in the session (%s)",
                        (unsigned long long)(pids && (!rec.pids_max || pids < rec.pids_max) ? pids : rec.pids_max),
                        !strcmp(ph, "watchdog") ? "fork refused past it, then the watchdog" : ph);
        nook_strbuf_printf(sum, ", cpus %g %s", res->cpus,
                           !strcmp(rec.cpus, "cgroup") ? "(cgroup)"
                                                       : "not enforced (needs a delegated cgroup v2 cpu controller)");
        nook_strbuf_printf(sum, ", disk %s", rec.disk);
        for (size_t i = 0; r >= 0 && i < p->n_rlimits; i++) {
                struct nook_rlimit_msg rl = { .resource = (uint32_t)p->rlimit_parsed[i].resource,
                                              .soft = p->rlimit_parsed[i].soft,
                                              .hard = p->rlimit_parsed[i].hard };
                r = nook_msg_add(m, T_RLIMIT, &rl, sizeof(rl));
        }
        if (p->n_rlimits)
                nook_strbuf_printf(sum, ", %zu rlimit%s (setrlimit)", p->n_rlimits, p->n_rlimits == 1 ? "" : "s");
        if (r >= 0)
                r = add_logs(spec, p, m, sum, rep);
        rep->memory = strdup(mem || rec.memory_max ? mh : "none");
        rep->process_count = strdup(pids || rec.pids_max ? ph : "none");
        rep->cpus = strdup(rec.cpus);
        rep->disk = strdup(rec.disk);
        rep->timeout = strdup("monitor");
        if (!rep->memory || !rep->process_count || !rep->cpus || !rep->disk || !rep->timeout || !rep->output)
                return -ENOMEM;
        return r;
}

void nook_limits_release(int session_dir_fd) {
        record rec;
        record_read(session_dir_fd, &rec);
        if (rec.cgroup[0])
                (void)nook_cgroup_session_remove(rec.cgroup);
}
