/* nook-holder — the workloads' pid namespace (S33): nested in the session's, with a small
 * init of ours as its pid 1, so that no workload can see, signal or inspect the holder,
 * a monitor or fuse-overlayfs (pid_namespaces(7)); and the holder's record of each
 * workload — its pidfd, handed over by its monitor — with which nook kill, the timeout
 * and the exit record still work when the monitor is gone. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helper.h"
#include "util/clock.h"
#include "util/macro.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define INIT_NAME "nook-init"

typedef struct workload {
        char ref[72];
        pid_t monitor;    /* our child; 0 once reaped */
        int link;         /* our end of the monitor's link, until it reported; else -1 */
        pid_t pid;        /* the workload, as the session's pid namespace numbers it */
        int pidfd;        /* the workload: signals never reach a recycled pid */
        int64_t deadline; /* CLOCK_MONOTONIC ms: its timeout, 0 none */
        int64_t kill_at;  /* the grace of a signal we delivered ends here, 0 none */
        bool adopted;     /* its monitor died first: the kernel made us its parent */
        bool timed_out;
        const char *killed_by;
} workload;

bool holder_ref_ok(const char *r) {
        if (!r || !*r || strlen(r) > 64)
                return false;
        for (const char *c = r; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-'))
                        return false;
        return true;
}

int holder_write_file_at(int dirfd, const char *name, const char *content) {
        char tmp[64];
        snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
        _cleanup_close_ int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        size_t len = strlen(content);
        if (fd < 0 || write(fd, content, len) != (ssize_t)len)
                return -errno;
        return renameat(dirfd, tmp, dirfd, name) < 0 ? -errno : 0;
}

void holder_exit_record(int status, const struct rusage *ru, bool timed_out, const char *killed_by,
                        nook_exit_record *ret) {
        *ret = (nook_exit_record){
                .exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                .signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0,
                .timed_out = timed_out,
                .cpu_ms = (uint64_t)(ru->ru_utime.tv_sec * 1000 + ru->ru_utime.tv_usec / 1000 +
                                     ru->ru_stime.tv_sec * 1000 + ru->ru_stime.tv_usec / 1000),
                .maxrss = (uint64_t)ru->ru_maxrss * 1024ull,
                .finished_ms = nook_wall_ms(),
        };
        snprintf(ret->killed_by, sizeof(ret->killed_by), "%s", killed_by ? killed_by : "");
}

int holder_write_exit_at(int dirfd, const nook_exit_record *rec) {
        nook_strbuf b = NOOK_STRBUF_INIT;
        int r = nook_record_format(&nook_exit_record_desc, rec, &b);
        _cleanup_free_ char *text = nook_strbuf_steal(&b);
        if (r < 0 || !text)
                return r < 0 ? r : -ENOMEM;
        return holder_write_file_at(dirfd, "exit", text);
}

/* ---- the namespace and its init ------------------------------------------------------ */

/* pid 1 of the workloads' namespace: it mounts the namespace's procfs (proc(5): a
 * procfs shows the pid namespace of the process that mounts it), then only reaps the
 * orphans the kernel reparents to it.  It handles no signal at all: the kernel drops
 * every signal sent to a namespace's init from inside that namespace unless the init
 * has a handler for it, SIGKILL and SIGSTOP included (pid_namespaces(7)), so no workload
 * can stop or kill it; SIGCHLD is blocked and read with sigwaitinfo(2).  Non-dumpable
 * like the holder it is a fork of (S1, S3); its name and cmdline say nook-init. */
static _Noreturn void init_main(holder *h, int proc_dir, int report) {
        (void)prctl(PR_SET_NAME, INIT_NAME);
        if (h->title && h->title_size > strlen(INIT_NAME)) {
                memset(h->title, 0, h->title_size);
                memcpy(h->title, INIT_NAME, strlen(INIT_NAME));
        }
        int e = 0;
        if (fchdir(proc_dir) < 0 || mount("proc", ".", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                e = errno;
        (void)!write(report, &e, sizeof(e));
        /* pivot_root(2) then moves this cwd (the old root) to the new root */
        if (chdir("/") < 0)
                _exit(125);
        (void)syscall(SYS_close_range, 0, ~0U, 0);
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void)sigaction(sig, &dfl, NULL);
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigprocmask(SIG_SETMASK, &chld, NULL);
        for (;;) {
                siginfo_t si;
                if (sigwaitinfo(&chld, &si) < 0 && errno != EINTR)
                        _exit(125);
                while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
        }
}

/* Monitors measure their workload's tree in a procfs of the session's pid namespace
 * (the root's /proc shows the workloads' namespace, where no monitor has a pid): a
 * detached mount (fsmount(2)) that no path of the root reaches, held by fd only. */
static void session_procfs(holder *h) {
        _cleanup_close_ int fs = fsopen("proc", FSOPEN_CLOEXEC);
        if (fs < 0 || fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return;
        h->proc_fd = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
}

/* unshare(CLONE_NEWPID) puts only our next child in the new namespace, as its init
 * (pid_namespaces(7)); setns(2) back to our own then keeps monitors and helpers out of
 * it.  Each monitor enters it with setns(pidns_fd) before it forks its workload: one
 * clone per session, none per process. */
int holder_pidns_start(holder *h, int proc_dir, int *ret_proc_errno, hstatus *st) {
        if (h->pidns_fd >= 0)
                return hfail(st, EALREADY, "the workloads' pid namespace exists already");
        session_procfs(h);
        _cleanup_close_ int own = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
        if (own < 0 || unshare(CLONE_NEWPID) < 0)
                return hfail(st, errno, "creating the workloads' pid namespace");
        int report[2] = { -1, -1 };
        pid_t pid = pipe2(report, O_CLOEXEC) < 0 ? -1 : fork();
        int e = errno;
        if (pid == 0) {
                close(report[0]);
                init_main(h, proc_dir, report[1]);
        }
        /* the file of a namespace without its init yet is ENOENT (pidns_for_children_get) */
        _cleanup_close_ int ns = pid > 0 ? open("/proc/self/ns/pid_for_children", O_RDONLY | O_CLOEXEC) : -1;
        if (pid > 0 && ns < 0)
                e = errno;
        /* back to our own (it cannot fail, but if it did, every monitor would land in the
         * workloads' namespace: be sure) */
        if (setns(own, CLONE_NEWPID) < 0) {
                e = errno;
                close(TAKE_FD(ns));
        }
        if (pid > 0 && ns < 0) {
                kill(pid, SIGKILL);
                pid = -1;
        }
        if (report[1] >= 0)
                close(report[1]);
        _cleanup_close_ int rd = report[0];
        if (pid < 0)
                return hfail(st, e, "starting the init of the workloads' pid namespace");
        h->init_pid = pid;
        h->pidns_fd = TAKE_FD(ns);
        int err = 0;
        if (read(rd, &err, sizeof(err)) != (ssize_t)sizeof(err))
                err = EIO;
        *ret_proc_errno = err;
        return 0;
}

/* ---- the record of each workload ------------------------------------------------------ */

int holder_workload_add(holder *h, const char *ref, pid_t monitor, int link) {
        if (!holder_ref_ok(ref))
                return -EINVAL;
        workload *v = realloc(h->work, (h->n_work + 1) * sizeof(*v));
        if (!v)
                return -ENOMEM;
        h->work = v;
        workload *w = &v[h->n_work++];
        *w = (workload){ .monitor = monitor, .link = link, .pidfd = -1 };
        snprintf(w->ref, sizeof(w->ref), "%s", ref);
        return 0;
}

void holder_workloads_forget(holder *h) {
        for (size_t i = 0; i < h->n_work; i++) {
                if (h->work[i].link >= 0)
                        close(h->work[i].link);
                if (h->work[i].pidfd >= 0)
                        close(h->work[i].pidfd);
        }
        free(h->work);
        h->work = NULL;
        h->n_work = 0;
}

static void drop(holder *h, workload *w) {
        if (w->link >= 0)
                close(w->link);
        if (w->pidfd >= 0)
                close(w->pidfd);
        *w = h->work[--h->n_work];
}

/* What the monitor handed over once its workload ran (NOOK_MSG_STARTED); read once it
 * is there, or the link closed (the monitor ended, or died, before). */
static void pull(workload *w) {
        struct pollfd p = { .fd = w->link, .events = POLLIN };
        if (w->link < 0 || poll(&p, 1, 0) <= 0)
                return;
        nook_msg m = NOOK_MSG_INIT(0);
        if (nook_msg_recv(w->link, &m, 1000) == 0 && m.type == NOOK_MSG_STARTED) {
                w->pid = (pid_t)nook_msg_u64(&m, T_PID, 0);
                w->deadline = (int64_t)nook_msg_u64(&m, T_DEADLINE_MS, 0);
                w->pidfd = nook_msg_take_fd(&m, 0);
        }
        nook_msg_done(&m);
        close(w->link);
        w->link = -1;
}

static workload *find(holder *h, pid_t monitor, pid_t pid, const char *ref) {
        for (size_t i = 0; i < h->n_work; i++) {
                workload *w = &h->work[i];
                if ((monitor && w->monitor == monitor) || (pid && w->pid == pid) || (ref && !strcmp(w->ref, ref)))
                        return w;
        }
        return NULL;
}

/* The workload's process dir, p/<ref> below the session dir, or -1. */
static int open_pdir(const holder *h, const workload *w) {
        char rel[96];
        snprintf(rel, sizeof(rel), "p/%s", w->ref);
        return openat(h->session_fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static void write_in_pdir(holder *h, const workload *w, const char *name, const char *content) {
        _cleanup_close_ int pdir = open_pdir(h, w);
        if (pdir >= 0)
                (void)holder_write_file_at(pdir, name, content);
}
/* The monitor died with its workload still running (or a zombie not yet reaped): the
 * kernel reparented the workload to us, the reaper of the monitor's pid namespace
 * (kernel/exit.c find_child_reaper), so we may wait for it.  waitid(P_PIDFD) fails
 * with ECHILD when the monitor had reaped it already: then nobody knows its status and
 * the process stays "lost".  The mark "unmonitored" tells nook ps the truth meanwhile. */
static void monitor_gone(holder *h, workload *w) {
        w->monitor = 0;
        pull(w);
        siginfo_t si = { 0 };
        if (w->pidfd < 0 || waitid((idtype_t)P_PIDFD, (id_t)w->pidfd, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
                return drop(h, w);
        w->adopted = true;
        char rec[64];
        snprintf(rec, sizeof(rec), "since_ms=%lld\n", (long long)nook_wall_ms());
        write_in_pdir(h, w, "unmonitored", rec);
        char rel[96];
        snprintf(rel, sizeof(rel), "p/%s/ctl.sock", w->ref);
        (void)unlinkat(h->session_fd, rel, 0); /* clients then fail fast and ask us */
}

static void record_exit(holder *h, workload *w, int status, const struct rusage *ru) {
        nook_exit_record rec;
        holder_exit_record(status, ru, w->timed_out, w->killed_by, &rec);
        rec.monitor_lost = true;
        _cleanup_close_ int pdir = open_pdir(h, w);
        if (pdir >= 0)
                (void)holder_write_exit_at(pdir, &rec);
}

void holder_workload_reaped(holder *h, pid_t pid, int status, const struct rusage *ru) {
        workload *w = find(h, pid, 0, NULL);
        if (w)
                return monitor_gone(h, w);
        if (!(w = find(h, 0, pid, NULL))) { /* its monitor died in this same batch */
                for (size_t i = 0; i < h->n_work; i++)
                        pull(&h->work[i]);
                w = find(h, 0, pid, NULL);
        }
        if (!w)
                return;
        record_exit(h, w, status, ru);
        drop(h, w);
}

/* SIGKILL through the pidfd; and to its process group while we are its parent and
 * have not reaped it: its pid (the group's id) cannot have been given to anybody else. */
static void kill_workload(workload *w, const char *why) {
        if (why && !w->killed_by)
                w->killed_by = why;
        (void)syscall(SYS_pidfd_send_signal, w->pidfd, SIGKILL, NULL, 0);
        if (w->adopted && w->pid > 0)
                (void)kill(-w->pid, SIGKILL);
}

void holder_workload_signal(holder *h, int fd, const nook_msg *m) {
        const char *ref = nook_msg_str(m, T_PROCESS_REF);
        int sig = (int)nook_msg_u64(m, T_SIGNAL, SIGTERM);
        if (sig != SIGINT && sig != SIGTERM && sig != SIGKILL)
                return (void)nook_msg_reply_error(fd, EINVAL, "signals are interrupt, terminate or kill");
        workload *w = ref ? find(h, 0, 0, ref) : NULL;
        if (w)
                pull(w);
        uint64_t delivered = 0, grace = nook_msg_u64(m, T_GRACE_MS, 0);
        if (w && w->pidfd >= 0 && syscall(SYS_pidfd_send_signal, w->pidfd, sig, NULL, 0) == 0) {
                delivered = 1;
                if (sig == SIGKILL)
                        kill_workload(w, NULL);
                else if (grace)
                        w->kill_at = nook_mono_ms() + (int64_t)grace;
        }
        nook_msg r = NOOK_MSG_INIT(NOOK_MSG_REPLY);
        nook_msg_add_u64(&r, T_ERRNO, 0);
        nook_msg_add_u64(&r, T_DELIVERED, delivered);
        (void)nook_msg_send(fd, &r);
        nook_msg_done(&r);
}

/* The timeout is the monitor's while it lives (it records timed_out itself); we enforce
 * it for a workload we adopted, and the grace of signals we delivered. */
int holder_workloads_timeout(const holder *h) {
        int64_t next = -1, now = nook_mono_ms();
        for (size_t i = 0; i < h->n_work; i++) {
                const workload *w = &h->work[i];
                int64_t c[] = { w->adopted ? w->deadline : 0, w->kill_at };
                for (size_t k = 0; k < ELEMENTSOF(c); k++)
                        if (w->pidfd >= 0 && c[k] > 0 && (next < 0 || c[k] < next))
                                next = c[k];
        }
        /* timeouts reach 31 days: more ms than an int holds */
        return next < 0 ? -1 : next <= now ? 0 : next - now > 3600000 ? 3600000 : (int)(next - now);
}

void holder_workloads_timers(holder *h) {
        int64_t now = nook_mono_ms();
        for (size_t i = 0; i < h->n_work; i++) {
                workload *w = &h->work[i];
                if (w->pidfd < 0)
                        continue;
                if (w->adopted && w->deadline > 0 && now >= w->deadline) {
                        w->deadline = 0;
                        w->timed_out = true;
                        kill_workload(w, "timeout");
                }
                if (w->kill_at > 0 && now >= w->kill_at) {
                        w->kill_at = 0;
                        kill_workload(w, NULL);
                }
        }
}
