/* nook userns — capability_report, findings half: turns the steps measured by caps-run.c
 * and what the parent reads itself (/proc, cgroupfs, /etc/sub[ug]id, statfs of the dirs)
 * into findings with remedies, facts, health and the summary. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <nftables/libnftables.h>
#include <seccomp.h>

#include "userns/caps.h"
#include "util/error.h"
#include "util/macro.h"
#include "util/strbuf.h"

#include "userns/caps-run.h"
#include "util/clock.h"

/* ---- findings ----------------------------------------------------------------------- */

struct builder {
        nook_probe *p;
        size_t cap;
        bool oom;
};

#define take(b, sb) nook_strbuf_steal_oom((sb), &(b)->oom)
#define fmt(b, ...) nook_asprintf_oom(&(b)->oom, __VA_ARGS__)

/* "start the outer container with podman run --device /dev/fuse …" in the flags of the
 * engine nook runs in (both podman's and docker's when unknown); NULL outside one, or
 * when that engine has no such switch. */
static char *outer_start(struct builder *b, const struct host *h, unsigned want) {
        if (h->outer == CAPS_OUTER_NONE)
                return NULL;
        _cleanup_free_ char *flags = caps_outer_flags(h->outer, want);
        return flags ? fmt(b, "start the outer container with %s", flags) : NULL;
}

/* Takes detail and remedy; the remedy is dropped when ok.  Sets fact when ok. */
static void add(struct builder *b, const char *name, const char *title, uint64_t fact, bool ok, bool required,
                char *detail, char *remedy) {
        nook_probe *p = b->p;
        if (ok)
                free(TAKE_PTR(remedy));
        else if (!remedy)
                remedy = fmt(b, "%s", "see docs/nested.md");
        if (p->n_findings == b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 32;
                nook_probe_finding *f = realloc(p->findings, cap * sizeof(*f));
                if (!f) {
                        free(detail);
                        free(remedy);
                        b->oom = true;
                        return;
                }
                p->findings = f;
                b->cap = cap;
        }
        nook_probe_finding *f = &p->findings[p->n_findings++];
        *f = (nook_probe_finding){ .name = strdup(name),
                                   .title = strdup(title),
                                   .ok = ok,
                                   .required = required,
                                   .detail = detail,
                                   .remedy = remedy };
        if (!f->name || !f->title || !f->detail)
                b->oom = true;
        if (ok)
                p->facts |= fact;
}

static bool step_ok(const struct probe_run *run, probe_step s) {
        return run->steps[s].err == ST_OK;
}

static const struct step_result *first_failed(const struct probe_run *run, const probe_step *steps, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!step_ok(run, steps[i]))
                        return &run->steps[steps[i]];
        return NULL;
}

static void put_step(nook_strbuf *sb, const struct step_result *s) {
        if (s->err == ST_OK)
                nook_strbuf_puts(sb, "ok");
        else if (s->err == ST_SKIPPED)
                nook_strbuf_printf(sb, "not measured: %s", s->msg);
        else if (s->err < 0)
                nook_strbuf_puts(sb, s->msg);
        else
                nook_strbuf_printf(sb, "%s: %s (%s)", s->msg, caps_errname(s->err), caps_errdesc(s->err));
}

/* A step that never answered (timed out, or its child died): no host setting to blame. */
static char *hang_remedy(struct builder *b, int err, char *remedy) {
        if (err != ST_UNREPORTED)
                return remedy;
        free(remedy);
        return fmt(b, "run 'nook caps' again; if this step does not answer again, a kernel operation hangs on this "
                      "host (a stuck FUSE mount or network operation): see docs/nested.md");
}

static bool kernel_at_least(const struct host *h, unsigned major, unsigned minor) {
        return h->kmajor > major || (h->kmajor == major && h->kminor >= minor);
}

/* Why user namespaces fail, from the sysctls that gate them and the errno seen. */
static char *userns_remedy(struct builder *b, const struct host *h, int e, nook_strbuf *d) {
        if (h->max_userns == 0) {
                nook_strbuf_puts(d, "; cause: user.max_user_namespaces is 0");
                return fmt(b, "sudo sysctl -w user.max_user_namespaces=15000 (keep it: echo "
                              "user.max_user_namespaces=15000 | sudo tee /etc/sysctl.d/90-nook-userns.conf)");
        }
        if (e == ENOSPC) {
                nook_strbuf_printf(d,
                                   "; cause: the limit of user namespaces is reached (user.max_user_namespaces "
                                   "= %" PRId64 ", or the nesting depth of 32)",
                                   h->max_userns);
                return fmt(b, "sudo sysctl -w user.max_user_namespaces=15000");
        }
        if (h->unpriv_clone == 0 && h->uid != 0) {
                nook_strbuf_puts(d, "; cause: kernel.unprivileged_userns_clone is 0 (Debian/Ubuntu kernel switch)");
                return fmt(b, "sudo sysctl -w kernel.unprivileged_userns_clone=1 (keep it: echo "
                              "kernel.unprivileged_userns_clone=1 | sudo tee /etc/sysctl.d/90-nook-userns.conf)");
        }
        if (h->apparmor_restrict == 1) {
                nook_strbuf_puts(d, "; cause: kernel.apparmor_restrict_unprivileged_userns is 1 (Ubuntu 23.10+): "
                                    "AppArmor lets the namespace be created but withholds its capabilities");
                return fmt(b, "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor "
                              "profile for nook that allows 'userns,' (/etc/apparmor.d/)");
        }
        if (e == EPERM && h->seccomp_mode == 2) {
                nook_strbuf_puts(d, "; cause: EPERM while the sysctls allow user namespaces and this process runs "
                                    "under a seccomp filter: probably a container's seccomp profile (Docker's "
                                    "default profile denies unshare)");
                _cleanup_free_ char *start = outer_start(b, h, CAPS_OUTER_SECCOMP);
                return start ? fmt(b, "%s (its seccomp profile denies user namespaces); see docs/nested.md", start)
                             : fmt(b, "run nook outside this seccomp filter, or under a profile that allows "
                                      "user namespaces; see docs/nested.md");
        }
        if (e == EPERM) {
                nook_strbuf_puts(d, "; cause: EPERM while the sysctls allow user namespaces and no seccomp filter "
                                    "is active: an LSM policy (SELinux, AppArmor) or a chroot denies it");
                return fmt(b, "allow user namespace creation for this user in the LSM policy, or run nook outside "
                              "the chroot; see docs/nested.md");
        }
        if (e == EINVAL || e == ENOSYS) {
                nook_strbuf_puts(d, "; cause: kernel built without CONFIG_USER_NS");
                return fmt(b, "boot a kernel built with CONFIG_USER_NS=y");
        }
        if (e == EUSERS) {
                nook_strbuf_puts(d, "; cause: nesting depth of 32 user namespaces reached");
                return fmt(b, "run nook from a less deeply nested namespace; see docs/nested.md");
        }
        return fmt(b, "see docs/nested.md");
}

static void finding_userns(struct builder *b, const struct probe_run *run, const struct host *h) {
        static const probe_step steps[] = { S_USERNS, S_IDMAP };
        const struct step_result *bad = first_failed(run, steps, ELEMENTSOF(steps));
        nook_strbuf d = NOOK_STRBUF_INIT;
        char *remedy = NULL;
        if (!bad) {
                nook_strbuf_printf(&d,
                                   "created a user namespace and mapped uid 0 to %u, gid 0 to %u (setgroups "
                                   "deny)",
                                   (unsigned)h->uid, (unsigned)h->gid);
                if (h->uid == 0 && h->uid_map_identity)
                        nook_strbuf_puts(&d, "; measured as real root: an unprivileged user may get a different "
                                             "answer (run 'nook caps' as that user)");
        } else {
                put_step(&d, bad);
                remedy = hang_remedy(b, bad->err, userns_remedy(b, h, bad->err, &d));
        }
        add(b, "userns", "user namespaces for this user", NOOK_FACT_USERNS, !bad, true, take(b, &d), remedy);

        bool known = h->max_userns >= 0;
        add(b, "max_user_namespaces", "user namespace limit", 0, !known || h->max_userns > 0, false,
            known ? fmt(b, "user.max_user_namespaces = %" PRId64, h->max_userns)
                  : fmt(b, "/proc/sys/user/max_user_namespaces is absent (kernel before 4.9): no limit to check"),
            fmt(b, "sudo sysctl -w user.max_user_namespaces=15000"));
        b->p->max_user_namespaces = known ? (uint64_t)h->max_userns : 0;
}

/* A finding that depends on child steps: ok when all are ok; detail names the first
 * failure; remedy for a dependency is "fix that first". */
static void finding_steps(struct builder *b, const struct probe_run *run, const char *name, const char *title,
                          uint64_t fact, bool required, const probe_step *steps, size_t n, const char *ok_detail,
                          const char *remedy) {
        const struct step_result *bad = first_failed(run, steps, n);
        /* The net child's own user namespace failing is the userns finding's failure. */
        bool dep = bad && (bad->err == ST_SKIPPED || bad == &run->steps[S_NET_USERNS]);
        nook_strbuf d = NOOK_STRBUF_INIT;
        if (!bad)
                nook_strbuf_puts(&d, ok_detail);
        else if (bad == &run->steps[S_NET_USERNS] && bad->err != ST_SKIPPED)
                nook_strbuf_puts(&d, "not measured: needs a user namespace (see userns)");
        else
                put_step(&d, bad);
        add(b, name, title, fact, !bad, required, take(b, &d),
            hang_remedy(b, bad ? bad->err : ST_OK,
                        dep ? fmt(b, "fix the finding named in the detail first") : fmt(b, "%s", remedy)));
}

/* Where an outer container's profile is the likely cause, its engine's own flags. */
static char *outer_remedy(struct builder *b, const struct host *h, unsigned want, const char *what) {
        _cleanup_free_ char *flags = h->outer != CAPS_OUTER_NONE ? caps_outer_flags(h->outer, want) : NULL;
        if (flags)
                return fmt(b, "the outer container denies %s: start it with %s (see docs/nested.md)", what, flags);
        if (h->seccomp_mode == 2)
                return fmt(b,
                           "a seccomp filter on this process denies %s: run nook outside it, or under a profile "
                           "that allows it (see docs/nested.md)",
                           what);
        return fmt(b,
                   "a security module (AppArmor, SELinux) denies %s in a user namespace: allow it for nook "
                   "(see docs/nested.md)",
                   what);
}

static void finding_mount_pid_net(struct builder *b, const struct probe_run *run, const struct host *h) {
        static const probe_step mnt[] = { S_MOUNTNS, S_TMPFS, S_BIND, S_REMOUNT_RO };
        _cleanup_free_ char *mnt_fix = outer_remedy(b, h, CAPS_OUTER_SECCOMP, "mounts in a user namespace");
        _cleanup_free_ char *net_fix = outer_remedy(b, h, CAPS_OUTER_SECCOMP, "network namespaces");
        finding_steps(b, run, "mountns", "mount namespace: tmpfs, bind and read-only remount", NOOK_FACT_MOUNTNS, true,
                      mnt, ELEMENTSOF(mnt),
                      "in a throwaway user namespace: unshare(CLONE_NEWNS), / made private, a tmpfs mounted, "
                      "bind-mounted and remounted read-only (a write through it then failed with EROFS)",
                      run->dir ? (mnt_fix ? mnt_fix : "see docs/nested.md")
                               : "set TMPDIR to a writable directory: the probe needs a private temp dir there");

        const struct step_result *pid = &run->steps[S_PIDNS], *proc = &run->steps[S_PROCFS];
        nook_strbuf d = NOOK_STRBUF_INIT;
        char *remedy = NULL;
        nook_strbuf_puts(&d, "pid namespace (first child is pid 1): ");
        put_step(&d, pid);
        if (pid->err == ST_OK) {
                nook_strbuf_puts(&d, "; fresh procfs mount: ");
                put_step(&d, proc);
        }
        if (pid->err == ST_SKIPPED)
                remedy = fmt(b, "fix the finding named in the detail first");
        else if (pid->err != ST_OK)
                remedy = outer_remedy(b, h, CAPS_OUTER_SECCOMP, "pid namespaces");
        else if (proc->err == EPERM) {
                nook_strbuf_puts(&d, " — a container masks parts of /proc; nook will bind the existing /proc "
                                     "(downgrade)");
                _cleanup_free_ char *start = outer_start(b, h, CAPS_OUTER_UNMASK);
                _cleanup_free_ char *any = start ? NULL : caps_outer_flags(CAPS_OUTER_OTHER, CAPS_OUTER_UNMASK);
                remedy = start                         ? fmt(b, "%s (an unmasked /proc); see docs/nested.md", start)
                         : h->outer == CAPS_OUTER_NOOK ? fmt(b, "nothing to do: an outer nook session always "
                                                                "masks /proc; sessions bind it (reported)")
                                                       : fmt(b,
                                                             "an outer container masks /proc: start it with "
                                                             "an unmasked one (%s); see docs/nested.md",
                                                             any ? any : "");
        } else
                remedy = fmt(b, "see docs/nested.md");
        remedy = hang_remedy(b, pid->err == ST_OK ? proc->err : pid->err, remedy);
        if (pid->err == ST_OK)
                b->p->facts |= NOOK_FACT_PIDNS;
        add(b, "pidns_procfs", "pid namespace and a fresh /proc", NOOK_FACT_PROCFS_MOUNT,
            pid->err == ST_OK && proc->err == ST_OK, false, take(b, &d), remedy);

        static const probe_step net[] = { S_NET_USERNS, S_NETNS, S_LO_UP };
        finding_steps(b, run, "netns", "network namespace with loopback", NOOK_FACT_NETNS, false, net, ELEMENTSOF(net),
                      "in a throwaway user namespace: unshare(CLONE_NEWNET) and lo brought up (SIOCSIFFLAGS IFF_UP)",
                      net_fix ? net_fix : "see docs/nested.md");
}

/* What every session's holder does after its namespaces exist (helpers/mounts.c):
 * each step its own required finding, named after it, since any one of them failing
 * refuses every session. */
static void findings_session(struct builder *b, const struct probe_run *run, const struct host *h) {
        static const struct {
                probe_step step;
                const char *name, *title, *ok, *what;
        } t[] = {
                { S_SESSION_NS, "session_namespaces", "UTS, IPC and cgroup namespaces of a session",
                  "unshare(CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWCGROUP) in a throwaway user namespace: ok",
                  "UTS, IPC or cgroup namespaces" },
                { S_HOSTNAME, "hostname", "sethostname in a session's UTS namespace",
                  "sethostname in a new UTS namespace: ok", "sethostname" },
                { S_DEVPTS, "devpts", "a devpts instance of a session's own (/dev/pts)",
                  "mount -t devpts -o newinstance in a throwaway user+mount namespace: ok", "devpts mounts" },
                { S_DEV_BIND, "dev_nodes", "device nodes bound into a session's /dev",
                  "/dev/null bound onto a file in a throwaway user+mount namespace: ok",
                  "bind mounts of device nodes" },
                { S_PIVOT_ROOT, "pivot_root", "pivot_root into a session's root",
                  "pivot_root into a tmpfs in a throwaway user+mount namespace, old root detached: ok", "pivot_root" },
        };
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                const struct step_result *s = &run->steps[t[i].step];
                nook_strbuf d = NOOK_STRBUF_INIT;
                char *remedy = NULL;
                if (s->err == ST_OK)
                        nook_strbuf_puts(&d, t[i].ok);
                else {
                        put_step(&d, s);
                        if (s->err != ST_SKIPPED)
                                nook_strbuf_puts(&d, ": every session does this, so every session would fail here");
                        remedy = s->err == ST_SKIPPED ? fmt(b, "fix the finding named in the detail first")
                                                      : outer_remedy(b, h, CAPS_OUTER_SECCOMP, t[i].what);
                }
                add(b, t[i].name, t[i].title, 0, s->err == ST_OK, true, take(b, &d), hang_remedy(b, s->err, remedy));
        }
}

static void finding_overlay(struct builder *b, const struct probe_run *run, const struct host *h) {
        const struct step_result *o = &run->steps[S_OVERLAY];
        nook_strbuf d = NOOK_STRBUF_INIT;
        nook_strbuf_printf(&d,
                           "kernel %s; overlayfs (userxattr) in a throwaway user+mount namespace, lower, upper and "
                           "work dirs on a tmpfs: ",
                           h->uts.release);
        put_step(&d, o);
        if (o->err == ST_OK)
                nook_strbuf_puts(&d, " (a copy-up and a new file landed in upperdir)");
        if (o->err == ST_OK && run->steps[S_TMPFS_XATTR].err != ST_OK)
                nook_strbuf_puts(&d, "; but upper dirs on a tmpfs cannot carry overlay's user.overlay.* xattrs on "
                                     "this kernel (see tmpfs_user_xattr)");
        char *remedy;
        if (o->err == ST_SKIPPED)
                remedy = fmt(b, "fix the finding named in the detail first");
        else if (!kernel_at_least(h, 5, 11))
                remedy = fmt(b,
                             "kernel 5.11 or newer is needed for overlayfs in a user namespace (this is %s); "
                             "or install fuse-overlayfs: sudo apt-get install fuse-overlayfs",
                             h->uts.release);
        else
                remedy = fmt(b, "install fuse-overlayfs (sudo apt-get install fuse-overlayfs); kernel overlay fails "
                                "here (a nested container or an LSM policy); see docs/nested.md");
        add(b, "overlay_in_userns", "kernel overlayfs in a user namespace", NOOK_FACT_OVERLAY, o->err == ST_OK, false,
            take(b, &d), hang_remedy(b, o->err, remedy));
}

static char *device_remedy(struct builder *b, const struct host *h, const char *dev, int e, const char *module,
                           const char *pkg) {
        /* in a container, the device is the engine's to give */
        _cleanup_free_ char *start =
                e == ENOENT || e == EACCES || e == EPERM
                        ? outer_start(b, h, strcmp(dev, "/dev/fuse") == 0 ? CAPS_OUTER_FUSE : CAPS_OUTER_TUN)
                        : NULL;
        if (start)
                return fmt(b, "%s", start);
        if (e == EACCES)
                return fmt(b,
                           "sudo chmod 0666 %s (distributions ship it 0666; keep it with a udev rule: "
                           "KERNEL==\"%s\", MODE=\"0666\")",
                           dev, strrchr(dev, '/') + 1);
        if (e == ENOENT || e == ENODEV || e == ENXIO)
                return fmt(b, "sudo modprobe %s%s%s", module, pkg ? ", or install it: sudo apt-get install " : "",
                           pkg ? pkg : "");
        return fmt(b, "a container or LSM policy denies %s; see docs/nested.md", dev);
}

static void put_device_mode(nook_strbuf *d, const char *dev) {
        struct stat st;
        if (stat(dev, &st) == 0)
                nook_strbuf_printf(d, " (%s is mode 0%03o, owner uid %u)", dev, (unsigned)(st.st_mode & 07777),
                                   (unsigned)st.st_uid);
}

static void finding_fuse_tmpfs(struct builder *b, const struct probe_run *run, const struct host *h) {
        const struct step_result *dev = &run->steps[S_FUSE_DEV], *mnt = &run->steps[S_FUSE_MOUNT];
        nook_strbuf d = NOOK_STRBUF_INIT;
        nook_strbuf_puts(&d, "open /dev/fuse read-write in a user namespace: ");
        put_step(&d, dev);
        if (dev->err == EACCES)
                put_device_mode(&d, "/dev/fuse");
        if (dev->err == ST_OK) {
                nook_strbuf_puts(&d, "; a FUSE mount (raw mount(2) with that fd) in a throwaway user+mount "
                                     "namespace: ");
                put_step(&d, mnt);
        }
        char *remedy;
        if (dev->err > 0)
                remedy = device_remedy(b, h, "/dev/fuse", dev->err, "fuse", "fuse3");
        else if (mnt->err == ST_SKIPPED || dev->err == ST_SKIPPED)
                remedy = fmt(b, "fix the finding named in the detail first");
        else if (!kernel_at_least(h, 4, 18))
                remedy = fmt(b, "kernel 4.18 or newer is needed for FUSE in a user namespace (this is %s)",
                             h->uts.release);
        else
                remedy = fmt(b, "a container or LSM policy denies FUSE mounts; see docs/nested.md");
        add(b, "fuse", "FUSE in a user namespace", NOOK_FACT_FUSE, dev->err == ST_OK && mnt->err == ST_OK, false,
            take(b, &d), hang_remedy(b, dev->err == ST_OK ? mnt->err : dev->err, remedy));

        const struct step_result *x = &run->steps[S_TMPFS_XATTR];
        nook_strbuf_puts(&d, "setxattr(\"user.nook.probe\") on a file on a tmpfs mounted in a throwaway namespace: ");
        put_step(&d, x);
        if (x->err == EOPNOTSUPP)
                nook_strbuf_printf(&d, " — tmpfs supports user.* xattrs from kernel 6.6 (this is %s)", h->uts.release);
        add(b, "tmpfs_user_xattr", "user xattrs on tmpfs", NOOK_FACT_TMPFS_XATTR, x->err == ST_OK, false, take(b, &d),
            hang_remedy(b, x->err,
                        x->err == ST_SKIPPED
                                ? fmt(b, "fix the finding named in the detail first")
                                : fmt(b, "upgrade to kernel 6.6 or newer (user.* xattrs on tmpfs); until then keep "
                                         "upper dirs on a disk filesystem (ext4, xfs, btrfs)")));
}

static void finding_net_devices(struct builder *b, const struct probe_run *run, const struct host *h) {
        const struct step_result *open_ = &run->steps[S_TUN_OPEN], *setiff = &run->steps[S_TUN_SETIFF];
        nook_strbuf d = NOOK_STRBUF_INIT;
        nook_strbuf_puts(&d, "open /dev/net/tun read-write in a user namespace: ");
        put_step(&d, open_);
        if (open_->err == EACCES)
                put_device_mode(&d, "/dev/net/tun");
        if (open_->err == ST_OK) {
                nook_strbuf_puts(&d, "; a tap device in a throwaway user+net namespace (TUNSETIFF): ");
                put_step(&d, setiff);
        }
        char *remedy = open_->err > 0              ? device_remedy(b, h, "/dev/net/tun", open_->err, "tun", NULL)
                       : setiff->err == ST_SKIPPED ? fmt(b, "fix the finding named in the detail first")
                                                   : fmt(b, "see docs/nested.md");
        add(b, "tun", "/dev/net/tun in a user+net namespace", NOOK_FACT_TUN,
            open_->err == ST_OK && setiff->err == ST_OK, false, take(b, &d),
            hang_remedy(b, open_->err == ST_OK ? setiff->err : open_->err, remedy));

        static const probe_step nft[] = { S_NET_USERNS, S_NETNS, S_NFT };
        finding_steps(b, run, "nftables_in_userns", "nftables in a user+net namespace", NOOK_FACT_NFTABLES, false, nft,
                      ELEMENTSOF(nft), "libnftables added table inet nook_probe in a throwaway user+net namespace",
                      "load nf_tables on the host (a user namespace cannot load modules): sudo modprobe nf_tables; "
                      "keep it: echo nf_tables | sudo tee /etc/modules-load.d/nook.conf. Without it nook cannot "
                      "enforce allowlist/egress_scoped network policies");
}

/* The version line: the first line naming the program (fuse-overlayfs prints
 * fusermount3's version first), else the first non-empty line. */
static char *version_line(struct builder *b, const struct helper *h, const char *name) {
        char text[sizeof(h->buf)];
        memcpy(text, h->buf, h->len);
        text[h->len] = 0;
        const char *first = NULL, *named = NULL;
        size_t first_n = 0, named_n = 0;
        for (const char *l = text; *l;) {
                size_t n = strcspn(l, "\n");
                if (n && !first)
                        first = l, first_n = n;
                if (n && !named && strncmp(l, name, strlen(name)) == 0)
                        named = l, named_n = n;
                l += n + (l[n] == '\n');
        }
        if (!named)
                named = first, named_n = first_n;
        return named ? fmt(b, "%.*s", (int)named_n, named) : NULL;
}

static void finding_program(struct builder *b, const struct helper *h, const char *id, const char *name,
                            const char *title, uint64_t fact, char **ret_version) {
        nook_strbuf d = NOOK_STRBUF_INIT;
        char *v = NULL;
        bool ok = false;
        if (!h->path)
                nook_strbuf_printf(&d, "%s not found in PATH or /usr/bin", name);
        else if (!h->started)
                nook_strbuf_printf(&d, "%s: could not be started: %s (%s)", h->path, caps_errname(h->status),
                                   caps_errdesc(h->status));
        else if (h->killed)
                nook_strbuf_printf(&d, "%s: no answer to --version within %u s", h->path, PROBE_TIMEOUT_US / 1000000u);
        else if (!(v = version_line(b, h, name)) || !WIFEXITED(h->status) || WEXITSTATUS(h->status) != 0)
                nook_strbuf_printf(&d, "%s --version failed (%s %d)", h->path,
                                   WIFSIGNALED(h->status) ? "signal" : "exit status",
                                   WIFSIGNALED(h->status) ? WTERMSIG(h->status) : WEXITSTATUS(h->status));
        else {
                nook_strbuf_printf(&d, "%s --version: %s", h->path, v);
                ok = true;
        }
        if (ok)
                *ret_version = TAKE_PTR(v);
        free(v);
        add(b, id, title, fact, ok, false, take(b, &d),
            h->path ? fmt(b, "reinstall it: sudo apt-get install --reinstall %s", name)
                    : fmt(b, "sudo apt-get install %s", name));
}

/* ---- in-process findings ---------------------------------------------------------------- */

static void finding_seccomp(struct builder *b, const struct host *h) {
        static const struct {
                uint32_t action;
                const char *name;
                bool needed;
        } actions[] = {
                { SECCOMP_RET_ERRNO, "errno", true },
                { SECCOMP_RET_KILL_PROCESS, "kill_process", true },
                { SECCOMP_RET_LOG, "log", true },
                { SECCOMP_RET_USER_NOTIF, "user_notif", false },
        };
        nook_strbuf d = NOOK_STRBUF_INIT;
        int mode = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
        bool ok = mode >= 0;
        if (mode < 0)
                nook_strbuf_printf(&d, "prctl(PR_GET_SECCOMP): %s; ", caps_errname(errno));
        nook_strbuf_puts(&d, "SECCOMP_GET_ACTION_AVAIL:");
        for (size_t i = 0; i < ELEMENTSOF(actions); i++) {
                uint32_t a = actions[i].action;
                bool avail = syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &a) == 0;
                nook_strbuf_printf(&d, " %s %s", actions[i].name, avail ? "yes" : "no");
                if (actions[i].needed && !avail)
                        ok = false;
        }
        const struct scmp_version *v = seccomp_version();
        nook_strbuf_printf(&d, "; libseccomp %u.%u.%u API level %u", v ? v->major : 0, v ? v->minor : 0,
                           v ? v->micro : 0, seccomp_api_get());
        if (h->seccomp_mode == 2)
                nook_strbuf_printf(&d,
                                   "; this process already runs under %d seccomp filter(s) (nested): nook's "
                                   "filter stacks on them",
                                   h->seccomp_filters);
        else if (h->seccomp_mode == 0)
                nook_strbuf_puts(&d, "; this process runs under no seccomp filter");
        add(b, "seccomp", "seccomp filters (errno, kill_process, log)", NOOK_FACT_SECCOMP, ok, false, take(b, &d),
            fmt(b, "boot a kernel 4.14 or newer built with CONFIG_SECCOMP_FILTER=y"));
}

/* Each syscall called with harmless arguments: ENOSYS means missing (or hidden by a
 * seccomp filter, as Docker's default profile does for clone3). */
static void finding_syscalls(struct builder *b, const struct probe_run *run) {
        nook_strbuf d = NOOK_STRBUF_INIT;
        int fd = (int)syscall(SYS_pidfd_open, getpid(), 0u);
        int e = fd < 0 ? errno : 0;
        if (fd >= 0 && syscall(SYS_pidfd_send_signal, fd, 0, NULL, 0u) < 0)
                e = errno;
        if (fd >= 0)
                close(fd);
        nook_strbuf_printf(&d, "pidfd_open(getpid()) and pidfd_send_signal(signal 0): %s", e ? caps_errname(e) : "ok");
        add(b, "pidfd", "pidfd_open and pidfd_send_signal", NOOK_FACT_PIDFD, !e, false, take(b, &d),
            fmt(b, "kernel 5.3 or newer (or an outer seccomp profile that allows pidfd_open)"));

        e = syscall(SYS_clone3, NULL, (size_t)0) < 0 ? errno : 0;
        nook_strbuf_printf(&d, "clone3 with size 0: %s (%s)", caps_errname(e),
                           e == ENOSYS  ? "missing"
                           : e == EPERM ? "denied by a seccomp filter"
                                        : "present");
        add(b, "clone3", "clone3", NOOK_FACT_CLONE3, e != ENOSYS && e != EPERM && e != 0, false, take(b, &d),
            fmt(b, "kernel 5.3 or newer (an outer container's seccomp profile may hide clone3 with ENOSYS)"));

        struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
        fd = (int)syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof(how));
        e = fd < 0 ? errno : 0;
        if (fd >= 0)
                close(fd);
        nook_strbuf_printf(&d, "openat2(\"/\", RESOLVE_IN_ROOT): %s", e ? caps_errname(e) : "ok");
        add(b, "openat2", "openat2 with RESOLVE_IN_ROOT", NOOK_FACT_OPENAT2, !e, false, take(b, &d),
            fmt(b, "kernel 5.6 or newer"));

        e = syscall(SYS_close_range, ~0u, ~0u, 0u) < 0 ? errno : 0;
        nook_strbuf_printf(&d, "close_range on an empty fd range: %s", e ? caps_errname(e) : "ok");
        add(b, "close_range", "close_range", NOOK_FACT_CLOSE_RANGE, !e, false, take(b, &d),
            fmt(b, "kernel 5.9 or newer"));

        /* the named secret store (nook secret): keyctl reaches this uid's keyring */
        long ring = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -4 /* KEY_SPEC_USER_KEYRING */, 1);
        e = ring < 0 ? errno : 0;
        if (e)
                nook_strbuf_printf(&d, "keyctl(KEYCTL_GET_KEYRING_ID, @u): %s (%s)", caps_errname(e),
                                   e == ENOSYS                 ? "no kernel keys, or hidden by a seccomp filter"
                                   : e == EPERM || e == EACCES ? "denied by a seccomp filter or a security module"
                                                               : "refused");
        else
                nook_strbuf_printf(&d, "keyctl(KEYCTL_GET_KEYRING_ID, @u): your user keyring %ld", ring);
        add(b, "kernel_keyring", "kernel keyring (nook secret's store)", NOOK_FACT_KEYRING, !e, false, take(b, &d),
            fmt(b, "nook secret cannot keep values here (docker's and podman's default seccomp profiles block "
                   "keyctl): give each value with --secret-source REF=file:PATH (a file on /dev/shm), env:VAR or "
                   "fd:N, or run nook outside that container"));

        e = syscall(SYS_mount_setattr, -1, "", 0u, NULL, (size_t)0) < 0 ? errno : 0;
        const struct step_result *s = &run->steps[S_MOUNT_SETATTR];
        nook_strbuf_printf(&d,
                           "mount_setattr with invalid arguments: %s (%s); recursive read-only on a bind mount "
                           "in a throwaway user+mount namespace: ",
                           caps_errname(e), e == ENOSYS ? "missing" : "present");
        put_step(&d, s);
        add(b, "mount_setattr", "mount_setattr (recursive read-only)", NOOK_FACT_MOUNT_SETATTR,
            e != ENOSYS && s->err == ST_OK, false, take(b, &d),
            e == ENOSYS
                    ? fmt(b, "kernel 5.12 or newer")
                    : hang_remedy(b, s->err,
                                  s->err == ST_SKIPPED ? fmt(b, "fix the finding named in the detail first")
                                                       : fmt(b, "a container or LSM policy denies mount_setattr; see "
                                                                "docs/nested.md")));
}

static void mountinfo_unescape(char *s) {
        char *w = s;
        for (char *r = s; *r; r++) {
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
                    r[3] <= '7') {
                        *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
                        r += 3;
                } else
                        *w++ = *r;
        }
        *w = 0;
}

struct mounts {
        char cg2[PATH_MAX];      /* cgroup2 mount point, "" when none */
        char cg2_root[PATH_MAX]; /* its root within the hierarchy */
        bool cg1;                /* cgroup v1 hierarchies mounted too */
        char proc_masks[512];    /* mount points over /proc paths */
        unsigned n_proc_masks;
};

/* proc(5) /proc/self/mountinfo: "id parent maj:min root mountpoint opts [tags] - fstype src sopts". */
static void read_mounts(struct mounts *m) {
        *m = (struct mounts){ 0 };
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        while (f && getline(&line, &cap, f) > 0) {
                char *save = NULL, *field[5] = { 0 };
                char *sep = strstr(line, " - ");
                if (!sep)
                        continue;
                *sep = 0;
                char *fstype = strtok_r(sep + 3, " \n", &save);
                save = NULL;
                for (size_t i = 0; i < 5; i++)
                        field[i] = strtok_r(i ? NULL : line, " ", &save);
                if (!fstype || !field[4])
                        continue;
                mountinfo_unescape(field[3]);
                mountinfo_unescape(field[4]);
                if (strcmp(fstype, "cgroup2") == 0 && !m->cg2[0]) {
                        snprintf(m->cg2, sizeof(m->cg2), "%s", field[4]);
                        snprintf(m->cg2_root, sizeof(m->cg2_root), "%s", field[3]);
                } else if (strcmp(fstype, "cgroup") == 0)
                        m->cg1 = true;
                /* binfmt_misc and nfsd on empty procfs dirs are normal host mounts, not masks */
                if (strncmp(field[4], "/proc/", 6) == 0 && strcmp(field[4], "/proc/sys/fs/binfmt_misc") != 0 &&
                    strcmp(field[4], "/proc/fs/nfsd") != 0 && m->n_proc_masks++ < 6) {
                        size_t len = strlen(m->proc_masks);
                        snprintf(m->proc_masks + len, sizeof(m->proc_masks) - len, "%s%s", len ? ", " : "", field[4]);
                }
        }
}

static bool has_word(const char *list, const char *word) {
        size_t n = strlen(word);
        for (const char *p = list; (p = strstr(p, word)); p += n)
                if ((p == list || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ' || p[n] == '\n'))
                        return true;
        return false;
}

static void finding_cgroup_controllers(struct builder *b, const struct mounts *m, const char *dir, bool delegated) {
        char ctl[512] = "", path[PATH_MAX + 32];
        snprintf(path, sizeof(path), "%s/cgroup.controllers", dir);
        int r = dir[0] ? caps_read_text(path, ctl, sizeof(ctl)) : -ENOENT;
        bool all = has_word(ctl, "cpu") && has_word(ctl, "memory") && has_word(ctl, "pids");
        nook_strbuf d = NOOK_STRBUF_INIT;
        if (r < 0)
                nook_strbuf_printf(&d, "no cgroup.controllers to read (%s)",
                                   dir[0] ? caps_errname(-r) : "no cgroup v2");
        else
                nook_strbuf_printf(&d, "%s: %s", path, ctl[0] ? ctl : "(none)");
        if (r >= 0 && m->cg1)
                nook_strbuf_puts(&d, " (cgroup v1 hierarchies are mounted too: controllers bound there are not "
                                     "available in v2)");
        if (!delegated)
                nook_strbuf_puts(&d, "; not delegated to this user");
        if (delegated && ctl[0] && !(b->p->cgroup_controllers = strdup(ctl)))
                b->oom = true;
        char *remedy;
        if (m->cg1)
                remedy = fmt(b, "boot with systemd.unified_cgroup_hierarchy=1 on the kernel command line (cgroup v2 "
                                "only); without the controllers nook enforces limits with rlimits and a watchdog");
        else if (!delegated)
                remedy = fmt(b, "fix cgroup_delegation first");
        else
                remedy = fmt(b, "delegate them to user sessions: sudo mkdir -p /etc/systemd/system/user@.service.d "
                                "&& printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' | sudo tee "
                                "/etc/systemd/system/user@.service.d/delegate.conf && sudo systemctl "
                                "daemon-reload (then log in again); without them nook enforces limits with rlimits "
                                "and a watchdog");
        add(b, "cgroup_controllers", "cgroup v2 controllers (cpu, memory, pids)", 0, delegated && all, false,
            take(b, &d), remedy);
}

static void finding_cgroup(struct builder *b, const struct mounts *m) {
        char own[PATH_MAX] = "", dir[PATH_MAX] = "";
        _cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        while (f && getline(&line, &cap, f) > 0)
                if (strncmp(line, "0::", 3) == 0) {
                        snprintf(own, sizeof(own), "%.*s", (int)strcspn(line + 3, "\n"), line + 3);
                        break;
                }
        nook_strbuf d = NOOK_STRBUF_INIT;
        if (m->cg2[0]) {
                /* own is relative to the cgroup namespace root; strip the mount's root when
                 * the mount shows a subtree (bind-mounted into a container) */
                size_t rl = strcmp(m->cg2_root, "/") == 0 ? 0 : strlen(m->cg2_root);
                const char *rel = rl && strncmp(own, m->cg2_root, rl) == 0 ? own + rl : own;
                snprintf(dir, sizeof(dir), "%s%s", m->cg2, strcmp(rel, "/") == 0 ? "" : rel);
                nook_strbuf_printf(&d, "cgroup2 mounted at %s%s; own cgroup %s", m->cg2,
                                   m->cg1 ? " (hybrid: cgroup v1 hierarchies mounted too)" : "",
                                   own[0] ? own : "(no 0:: line in /proc/self/cgroup)");
        } else
                nook_strbuf_puts(&d, "no cgroup2 mount in /proc/self/mountinfo");
        add(b, "cgroup_v2", "cgroup v2", NOOK_FACT_CGROUP2, m->cg2[0] != 0, false, take(b, &d),
            fmt(b, "boot with systemd.unified_cgroup_hierarchy=1 on the kernel command line"));

        bool w_dir = false, w_procs = false, w_sub = false;
        if (m->cg2[0] && own[0]) {
                char p[PATH_MAX + 32];
                w_dir = access(dir, W_OK) == 0;
                snprintf(p, sizeof(p), "%s/cgroup.procs", dir);
                w_procs = access(p, W_OK) == 0;
                snprintf(p, sizeof(p), "%s/cgroup.subtree_control", dir);
                w_sub = access(p, W_OK) == 0;
                nook_strbuf_printf(&d,
                                   "%s writable by uid %u: directory %s, cgroup.procs %s, cgroup.subtree_control "
                                   "%s",
                                   dir, (unsigned)geteuid(), w_dir ? "yes" : "no", w_procs ? "yes" : "no",
                                   w_sub ? "yes" : "no");
        } else
                nook_strbuf_puts(&d, "not measured: no cgroup v2 cgroup of this process");
        bool delegated = w_dir && w_procs && w_sub;
        add(b, "cgroup_delegation", "delegated cgroup v2 subtree", NOOK_FACT_CGROUP_DELEGATED, delegated, false,
            take(b, &d),
            fmt(b, "run under systemd with Delegate=yes, e.g. `systemd-run --user --scope -p Delegate=yes nook …`; "
                   "without it nook enforces limits with rlimits and a watchdog"));
        finding_cgroup_controllers(b, m, dir, delegated);
}

struct subid {
        uint64_t total, first_start, first_count;
        unsigned ranges;
        int err;
};

/* subuid(5): "name-or-uid:start:count" per line. */
static void parse_subid(const char *file, const char *user, uid_t id, struct subid *r) {
        *r = (struct subid){ 0 };
        _cleanup_fclose_ FILE *f = fopen(file, "re");
        if (!f) {
                r->err = errno;
                return;
        }
        char idstr[16];
        snprintf(idstr, sizeof(idstr), "%u", (unsigned)id);
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, f) > 0) {
                char *save = NULL;
                char *who = strtok_r(line, ":\n", &save), *start = strtok_r(NULL, ":\n", &save),
                     *count = strtok_r(NULL, ":\n", &save);
                if (!who || !start || !count || (strcmp(who, idstr) != 0 && (!user || strcmp(who, user) != 0)))
                        continue;
                char *e1, *e2;
                errno = 0;
                unsigned long long s = strtoull(start, &e1, 10), c = strtoull(count, &e2, 10);
                if (errno || *e1 || *e2)
                        continue;
                if (r->ranges++ == 0)
                        r->first_start = s, r->first_count = c;
                r->total += c;
        }
}

/* newuidmap/newgidmap work when setuid root or holding file capabilities. */
static const char *idmap_helper(const char *name, char **ret_path, bool *ret_ok) {
        *ret_ok = false;
        if (caps_find_program(name, ret_path) < 0 || !*ret_path)
                return "not found";
        struct stat st;
        if (stat(*ret_path, &st) == 0 && (st.st_mode & S_ISUID) && st.st_uid == 0) {
                *ret_ok = true;
                return "setuid root";
        }
        if (getxattr(*ret_path, "security.capability", NULL, 0) > 0) {
                *ret_ok = true;
                return "with file capabilities";
        }
        /* user_namespaces(7): an unmapped owner shows as the overflow uid; set-user-ID to
         * an id unmapped in our namespace grants nothing. */
        if (st.st_mode & S_ISUID)
                return "setuid, but to an owner unmapped in this user namespace";
        return "neither setuid root nor with file capabilities";
}

static void put_subid(nook_strbuf *d, const char *file, const struct subid *s) {
        if (s->err && s->err != ENOENT)
                nook_strbuf_printf(d, "%s unreadable (%s)", file, caps_errname(s->err));
        else if (!s->ranges)
                nook_strbuf_printf(d, "%s: no range", file);
        else
                nook_strbuf_printf(d, "%s: %u range(s), %" PRIu64 " ids (first %" PRIu64 "..%" PRIu64 ")", file,
                                   s->ranges, s->total, s->first_start, s->first_start + s->first_count - 1);
}

static char *read_all(const char *path) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        nook_strbuf sb = NOOK_STRBUF_INIT;
        char buf[4096];
        size_t n;
        while (f && sb.len < (4u << 20) && (n = fread(buf, 1, sizeof(buf), f)) > 0)
                nook_strbuf_putn(&sb, buf, n);
        return nook_strbuf_steal(&sb);
}

/* A range no other line of /etc/subuid or /etc/subgid holds (subuid(5): ranges must not
 * overlap, or two users share file owners). */
static void put_subid_fix(struct builder *b, nook_strbuf *r, const char *user) {
        _cleanup_free_ char *su = read_all("/etc/subuid"), *sg = read_all("/etc/subgid");
        uint64_t start;
        int e = caps_subid_free_range(su, sg, SUBID_WANT, &start);
        _cleanup_free_ char *line = e == 0 ? caps_subid_fix(user ? user : "$USER", start, SUBID_WANT) : NULL;
        if (e == -ENOMEM || (e == 0 && !line))
                b->oom = true;
        else if (line)
                nook_strbuf_puts(r, line);
        else
                nook_strbuf_printf(r,
                                   "no %u ids are free below 2^32 in /etc/subuid and /etc/subgid: ask root to "
                                   "free a range for %s",
                                   SUBID_WANT, user ? user : "$USER");
}

static void finding_subuid(struct builder *b, const struct host *h) {
        struct passwd pw, *res = NULL;
        char buf[16384];
        const char *user = getpwuid_r(h->uid, &pw, buf, sizeof(buf), &res) == 0 && res ? pw.pw_name : NULL;
        struct subid su, sg;
        parse_subid("/etc/subuid", user, h->uid, &su);
        parse_subid("/etc/subgid", user, h->uid, &sg);
        _cleanup_free_ char *nu = NULL, *ng = NULL;
        bool nu_ok, ng_ok;
        const char *nu_state = idmap_helper("newuidmap", &nu, &nu_ok);
        const char *ng_state = idmap_helper("newgidmap", &ng, &ng_ok);
        bool ranges = su.total >= SUBID_WANT && sg.total >= SUBID_WANT;
        bool ok = ranges && nu_ok && ng_ok;
        nook_strbuf d = NOOK_STRBUF_INIT;
        nook_strbuf_printf(&d, "uid %u (%s): ", (unsigned)h->uid, user ? user : "no passwd entry");
        put_subid(&d, "/etc/subuid", &su);
        nook_strbuf_puts(&d, "; ");
        put_subid(&d, "/etc/subgid", &sg);
        nook_strbuf_printf(&d, "; newuidmap %s (%s), newgidmap %s (%s)", nu ? nu : "", nu_state, ng ? ng : "",
                           ng_state);
        if (!ranges && (su.total || sg.total))
                nook_strbuf_printf(&d, "; %u ids are wanted so that images' ids up to 65535 map", SUBID_WANT);
        if (!h->uid_map_identity)
                nook_strbuf_printf(&d,
                                   "; this process is inside a user namespace (uid_map \"%s\"): the outer "
                                   "user's ranges cannot be used from here",
                                   h->uid_map);
        if (!ok)
                nook_strbuf_printf(&d,
                                   "; without them nook uses single-id identity (uid 0 in a session is "
                                   "this user, uid %u): file owners from images collapse to that one id",
                                   (unsigned)h->uid);
        nook_strbuf r = NOOK_STRBUF_INIT;
        if (!h->uid_map_identity)
                nook_strbuf_puts(&r, "run nook as the host user, outside this user namespace");
        else if (!ranges)
                put_subid_fix(b, &r, user);
        if (h->uid_map_identity && (!nu || !ng))
                nook_strbuf_printf(&r, "%ssudo apt-get install uidmap", r.len ? "; " : "");
        else if (h->uid_map_identity && (!nu_ok || !ng_ok))
                nook_strbuf_printf(&r, "%ssudo chmod u+s %s %s (or reinstall uidmap)", r.len ? "; " : "", nu, ng);
        add(b, "subuid", "subordinate id ranges (subuid identity mode)", NOOK_FACT_SUBUID, ok, false, take(b, &d),
            ok ? NULL : take(b, &r));
        nook_strbuf_done(&r);
}

static void findings_dirs(struct builder *b, const nook_probe_options *opts, const struct host *h) {
        struct dir_finding df[CAPS_DIR_FINDINGS] = { 0 };
        if (caps_dir_findings(opts, h->uid, df) < 0)
                b->oom = true;
        for (size_t i = 0; i < ELEMENTSOF(df); i++)
                if (df[i].name)
                        add(b, df[i].name, df[i].title, df[i].fact, df[i].ok, df[i].required, df[i].detail,
                            df[i].remedy);
                else {
                        free(df[i].detail);
                        free(df[i].remedy);
                }
}

/* ---- nesting ----------------------------------------------------------------------- */

static bool finding_ok(const nook_probe *p, const char *name) {
        const nook_probe_finding *f = nook_probe_find(p, name);
        return f && f->ok;
}

/* Nothing to fix by itself: the flags that give a nested nook the most, in the engine's
 * own words. */
static char *nested_remedy(struct builder *b, const struct host *h) {
        caps_outer o = h->outer == CAPS_OUTER_NONE ? CAPS_OUTER_OTHER : h->outer;
        _cleanup_free_ char *flags =
                caps_outer_flags(o, CAPS_OUTER_SECCOMP | CAPS_OUTER_UNMASK | CAPS_OUTER_FUSE | CAPS_OUTER_TUN);
        return fmt(b,
                   "nothing to fix by itself; for everything nook can do nested, start the outer container "
                   "with %s (see docs/nested.md)",
                   flags ? flags : "");
}

static void finding_nested(struct builder *b, const struct host *h, const struct mounts *m) {
        nook_strbuf d = NOOK_STRBUF_INIT;
        const char *sep = "";
        if (!h->uid_map_identity) {
                nook_strbuf_printf(&d,
                                   "inside a user namespace: /proc/self/uid_map is \"%s\", not the initial "
                                   "namespace's \"0 0 4294967295\" (e.g. unshare -r or a rootless container); "
                                   "only ids mapped there exist",
                                   h->uid_map);
                sep = "; ";
        }
        static const struct {
                const char *path, *what;
        } markers[] = { { "/run/.containerenv", "Podman" }, { "/.dockerenv", "Docker" } };
        for (size_t i = 0; i < ELEMENTSOF(markers); i++)
                if (access(markers[i].path, F_OK) == 0) {
                        nook_strbuf_printf(&d, "%s%s exists (%s container marker)", sep, markers[i].path,
                                           markers[i].what);
                        sep = "; ";
                }
        const char *env = getenv("container");
        if (env && *env) {
                nook_strbuf_printf(&d, "%scontainer=%s in the environment", sep, env);
                sep = "; ";
        }
        struct stat kc, dn;
        bool kcore_masked = stat("/proc/kcore", &kc) == 0 && stat("/dev/null", &dn) == 0 && S_ISCHR(kc.st_mode) &&
                            kc.st_rdev == dn.st_rdev;
        if (kcore_masked || m->n_proc_masks) {
                nook_strbuf_printf(&d, "%s/proc is masked (", sep);
                if (kcore_masked)
                        nook_strbuf_printf(&d, "/proc/kcore is /dev/null%s", m->n_proc_masks ? "; " : "");
                if (m->n_proc_masks)
                        nook_strbuf_printf(&d, "mounts over %s%s", m->proc_masks, m->n_proc_masks > 6 ? ", …" : "");
                nook_strbuf_puts(&d, ")");
                sep = "; ";
        }
        if (h->seccomp_mode == 2) {
                nook_strbuf_printf(&d, "%sthis process runs under %d seccomp filter(s)", sep, h->seccomp_filters);
                sep = "; ";
        }
        bool nested = *sep != 0;
        if (!nested)
                nook_strbuf_puts(&d, "not nested: uid_map is the identity, no container marker, /proc is not "
                                     "masked, no seccomp filter");
        else {
                static const char *const affected[] = { "mountns", "pidns_procfs", "netns", "overlay_in_userns",
                                                        "nftables_in_userns" };
                const char *s2 = ". Failing probes nesting can explain: ";
                if (!finding_ok(b->p, "userns")) {
                        nook_strbuf_printf(&d, "%suserns (and every probe that needs a user namespace)", s2);
                        s2 = ", ";
                }
                for (size_t i = 0; i < ELEMENTSOF(affected) && finding_ok(b->p, "userns"); i++)
                        if (!finding_ok(b->p, affected[i])) {
                                nook_strbuf_printf(&d, "%s%s", s2, affected[i]);
                                s2 = ", ";
                        }
                if (*s2 == '.')
                        nook_strbuf_puts(&d, ". No probe failed because of it");
        }
        if (nested)
                b->p->facts |= NOOK_FACT_NESTED;
        add(b, "nested", "not nested in another container or user namespace", 0, !nested, false, take(b, &d),
            !h->uid_map_identity
                    ? fmt(b, "run nook directly as the host user rather than inside another user namespace "
                             "(unshare -r, a rootless container); see docs/nested.md")
                    : nested_remedy(b, h));
}

/* ---- the probe -------------------------------------------------------------------------- */

static void host_read(struct host *h) {
        *h = (struct host){ .uid = geteuid(), .gid = getegid(), .seccomp_mode = -1, .seccomp_filters = -1 };
        uname(&h->uts);
        sscanf(h->uts.release, "%u.%u", &h->kmajor, &h->kminor);
        h->max_userns = caps_read_sysctl("/proc/sys/user/max_user_namespaces");
        h->unpriv_clone = caps_read_sysctl("/proc/sys/kernel/unprivileged_userns_clone");
        h->apparmor_restrict = caps_read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
        char buf[4096];
        if (caps_read_text("/proc/self/status", buf, sizeof(buf)) == 0) {
                const char *s = strstr(buf, "\nSeccomp:"), *f = strstr(buf, "\nSeccomp_filters:");
                if (s)
                        h->seccomp_mode = atoi(s + 9);
                if (f)
                        h->seccomp_filters = atoi(f + 17);
        }
        /* The map without its column padding: "0 1001 1", lines joined by ", ". */
        if (caps_read_text("/proc/self/uid_map", buf, sizeof(buf)) == 0) {
                nook_strbuf m = NOOK_STRBUF_INIT;
                char *save = NULL;
                for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                        unsigned long long in, out, n;
                        if (sscanf(l, "%llu %llu %llu", &in, &out, &n) == 3)
                                nook_strbuf_printf(&m, "%s%llu %llu %llu", m.len ? ", " : "", in, out, n);
                }
                _cleanup_free_ char *map = nook_strbuf_steal(&m);
                snprintf(h->uid_map, sizeof(h->uid_map), "%s", map ? map : "");
                h->uid_map_identity = strcmp(h->uid_map, "0 0 4294967295") == 0;
        } else
                h->uid_map_identity = true; /* unreadable: nothing to say */
        h->outer = caps_outer_runtime(access("/run/.containerenv", F_OK) == 0, access("/.dockerenv", F_OK) == 0,
                                      getenv("container"));
        const char *t = secure_getenv("TMPDIR");
        snprintf(h->tmp_base, sizeof(h->tmp_base), "%s", t && t[0] == '/' ? t : "/tmp");
}

static const char *const finding_order[] = {
        "userns",
        "max_user_namespaces",
        "mountns",
        "session_namespaces",
        "hostname",
        "devpts",
        "dev_nodes",
        "pivot_root",
        "pidns_procfs",
        "netns",
        "overlay_in_userns",
        "fuse",
        "fuse_overlayfs",
        "tmpfs_user_xattr",
        "slirp4netns",
        "tun",
        "nftables_in_userns",
        "seccomp",
        "cgroup_v2",
        "cgroup_delegation",
        "cgroup_controllers",
        "pidfd",
        "clone3",
        "openat2",
        "close_range",
        "mount_setattr",
        "kernel_keyring",
        "subuid",
        "nested",
        "run_dir",
        "run_dir_not_fuse",
        "data_dir",
        "data_dir_user_xattr",
};

static size_t order_of(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(finding_order); i++)
                if (name && strcmp(name, finding_order[i]) == 0)
                        return i;
        return ELEMENTSOF(finding_order);
}

static int cmp_finding(const void *a, const void *b) {
        size_t x = order_of(((const nook_probe_finding *)a)->name), y = order_of(((const nook_probe_finding *)b)->name);
        return x < y ? -1 : x > y;
}

static void degraded_reasons(struct builder *b);

static void summarise(struct builder *b, const struct host *h) {
        nook_probe *p = b->p;
        qsort(p->findings, p->n_findings, sizeof(*p->findings), cmp_finding);
        size_t n = 0;
        p->missing = calloc(p->n_findings + 1, sizeof(char *));
        if (!p->missing) {
                b->oom = true;
                return;
        }
        for (size_t i = 0; i < p->n_findings; i++)
                if (p->findings[i].required && !p->findings[i].ok && !(p->missing[n++] = strdup(p->findings[i].name)))
                        b->oom = true;
        if (!(p->kernel_release = strdup(h->uts.release)) || !(p->cpu_architecture = strdup(h->uts.machine)))
                b->oom = true;
        /* A host without user or mount namespaces is unsupported, not degraded. */
        if (n)
                return;
        degraded_reasons(b);
}

/* Every optional finding that fails and takes something from sessions, in one line:
 * docs/troubleshooting.md's "Breaks" of each.  "nested", "max_user_namespaces" and
 * "tmpfs_user_xattr" explain other findings and take nothing themselves. */
static void degraded_reasons(struct builder *b) {
        static const struct {
                const char *names; /* space separated: one phrase when any of them fails */
                const char *why;
        } weakens[] = {
                { "pidns_procfs", "a fresh /proc cannot be mounted: the existing /proc is bound instead" },
                { "netns", "no network namespace: network isolation cannot be delivered" },
                { "slirp4netns tun", "no userspace network: the default network fails (--network none works)" },
                { "nftables_in_userns", "no nftables in a user namespace: --egress and allowlists are refused" },
                { "seccomp",
                  "seccomp filters unavailable: the default syscall filter of workloads cannot be installed" },
                { "cgroup_v2 cgroup_delegation cgroup_controllers",
                  "no delegated cgroup v2 controllers: limits are enforced with rlimits and a watchdog" },
                { "subuid", "no subordinate id range: file owners from images collapse to one id" },
                { "kernel_keyring", "no kernel keyring: nook secret cannot keep values (use --secret-source)" },
                { "pidfd clone3 openat2 close_range mount_setattr",
                  "missing system calls: slower or weaker fallbacks (see the findings)" },
                { "data_dir_user_xattr", "the data dir keeps no user xattrs: images cannot be imported" },
                { "run_dir_not_fuse", "the run dir is on FUSE: sessions depend on that FUSE daemon" },
        };
        nook_probe *p = b->p;
        uint64_t f = p->facts;
        nook_strbuf d = NOOK_STRBUF_INIT;
        const char *sep = "";
        if (!(f & NOOK_FACT_OVERLAY) && !((f & NOOK_FACT_FUSE) && (f & NOOK_FACT_FUSE_OVERLAYFS))) {
                nook_strbuf_puts(&d, "no overlay driver: kernel overlayfs in a user namespace and fuse-overlayfs "
                                     "both unavailable; the copy driver will be used");
                sep = "; ";
        } else if ((f & NOOK_FACT_SUBUID) && !((f & NOOK_FACT_FUSE) && (f & NOOK_FACT_FUSE_OVERLAYFS))) {
                nook_strbuf_puts(&d, "no fuse-overlayfs: under the subuid identity, owners from images collapse");
                sep = "; ";
        }
        for (size_t i = 0; i < ELEMENTSOF(weakens); i++) {
                bool failed = false;
                for (size_t k = 0; k < p->n_findings && !failed; k++) {
                        const nook_probe_finding *x = &p->findings[k];
                        size_t len = strlen(x->name);
                        for (const char *w = weakens[i].names; (w = strstr(w, x->name)); w += len)
                                if ((w == weakens[i].names || w[-1] == ' ') && (w[len] == 0 || w[len] == ' '))
                                        failed |= !x->ok;
                }
                if (failed) {
                        nook_strbuf_printf(&d, "%s%s", sep, weakens[i].why);
                        sep = "; ";
                }
        }
        if (d.len)
                p->degraded_reason = take(b, &d);
        nook_strbuf_done(&d);
}

int nook_caps_probe(const nook_probe_options *opts, nook_probe **ret, nook_error **err) {
        uint64_t t0 = nook_mono_us();
        _cleanup_(nook_probe_freep) nook_probe *p = calloc(1, sizeof(*p));
        _cleanup_(caps_probe_run_freep) struct probe_run *run = caps_probe_run_new();
        if (!p || !run)
                return nook_error_oom(err);
        struct host h;
        host_read(&h);
        int r = caps_probe_run_start(run, &h, err);
        if (r < 0)
                return nook_error_prefix(err, r, "capability_report");

        /* While the children work: what this process can read or call itself. */
        struct builder b = { .p = p };
        struct mounts m;
        read_mounts(&m);
        finding_seccomp(&b, &h);
        finding_cgroup(&b, &m);
        finding_subuid(&b, &h);
        findings_dirs(&b, opts, &h);

        caps_probe_run_collect(run, nook_mono_us() + PROBE_TIMEOUT_US);
        if (!run->dir && run->steps[S_TMPFS].err == ST_FAILED)
                snprintf(run->steps[S_TMPFS].msg, MSG_MAX,
                         "could not create the probe's temp dir under %.100s: %s "
                         "(set TMPDIR to a writable directory)",
                         h.tmp_base, caps_errname(run->dir_errno));
        finding_userns(&b, run, &h);
        finding_mount_pid_net(&b, run, &h);
        findings_session(&b, run, &h);
        finding_overlay(&b, run, &h);
        finding_fuse_tmpfs(&b, run, &h);
        finding_net_devices(&b, run, &h);
        finding_program(&b, &run->h[H_FUSE_OVERLAYFS], "fuse_overlayfs", "fuse-overlayfs", "fuse-overlayfs",
                        NOOK_FACT_FUSE_OVERLAYFS, &p->fuse_overlayfs_version);
        finding_program(&b, &run->h[H_SLIRP4NETNS], "slirp4netns", "slirp4netns", "slirp4netns (user-mode networking)",
                        NOOK_FACT_SLIRP4NETNS, &p->slirp4netns_version);
        finding_syscalls(&b, run);
        finding_nested(&b, &h, &m);
        summarise(&b, &h);
        caps_probe_run_free(TAKE_PTR(run));
        if (b.oom)
                return nook_error_oom(err);
        p->duration_us = nook_mono_us() - t0;
        *ret = TAKE_PTR(p);
        return 0;
}

nook_probe *nook_probe_free(nook_probe *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_findings; i++) {
                free(p->findings[i].name);
                free(p->findings[i].title);
                free(p->findings[i].detail);
                free(p->findings[i].remedy);
        }
        free(p->findings);
        strv_free(p->missing);
        free(p->degraded_reason);
        free(p->kernel_release);
        free(p->cpu_architecture);
        free(p->fuse_overlayfs_version);
        free(p->slirp4netns_version);
        free(p->cgroup_controllers);
        free(p);
        return NULL;
}

const nook_probe_finding *nook_probe_find(const nook_probe *p, const char *name) {
        if (!p || !name)
                return NULL;
        for (size_t i = 0; i < p->n_findings; i++)
                if (p->findings[i].name && strcmp(p->findings[i].name, name) == 0)
                        return &p->findings[i];
        return NULL;
}
