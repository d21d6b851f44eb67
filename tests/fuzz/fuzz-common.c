/* nook fuzz — helpers the targets share: scratch dirs (mkdtemp(3), removed at exit),
 * input splitting, file writing, tar header checksums (POSIX ustar: the sum of the
 * header's bytes with the checksum field read as spaces). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "fuzz-common.h"
#include "userns/session.h"
#include "util/macro.h"
#include "util/rmrf.h"

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

_Noreturn void fuzz_fail(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        dprintf(2, "nook-fuzz: ");
        vdprintf(2, fmt, ap);
        dprintf(2, "\n");
        va_end(ap);
        abort();
}

static char workdir[4096];

static void workdir_remove(void) {
        if (!workdir[0])
                return;
        char *slash = strrchr(workdir, '/');
        *slash = 0;
        _cleanup_close_ int parent = open(workdir[0] ? workdir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (parent >= 0)
                (void)nook_rm_rf_at(parent, slash + 1);
        workdir[0] = 0;
}

static bool usable_base(const char *dir, bool want_tmpfs) {
        struct statfs sf;
        if (!dir || dir[0] != '/' || access(dir, W_OK | X_OK) < 0 || statfs(dir, &sf) < 0)
                return false;
        return !want_tmpfs || sf.f_type == TMPFS_MAGIC;
}

const char *fuzz_workdir(const char *target) {
        if (workdir[0])
                return workdir;
        const char *base = getenv("NOOK_FUZZ_TMPDIR");
        if (!usable_base(base, false))
                base = usable_base("/dev/shm", true) ? "/dev/shm" : getenv("TMPDIR");
        if (!usable_base(base, false))
                base = "/tmp";
        /* the pid in the name: smoke.sh and ./dev fuzz remove what a crashed run left */
        snprintf(workdir, sizeof(workdir), "%s/nook-fuzz-%s-%d-XXXXXX", base, target, (int)getpid());
        if (!mkdtemp(workdir))
                fuzz_fail("cannot make a scratch dir under %s: %s", base, strerror(errno));
        atexit(workdir_remove);
        return workdir;
}

size_t fuzz_split(const uint8_t *data, size_t size, const char *sep, fuzz_part *parts, size_t max) {
        size_t n = 0, seplen = strlen(sep);
        while (n + 1 < max) {
                const uint8_t *hit = memmem(data, size, sep, seplen);
                if (!hit)
                        break;
                parts[n++] = (fuzz_part){ data, (size_t)(hit - data) };
                size -= (size_t)(hit - data) + seplen;
                data = hit + seplen;
        }
        parts[n++] = (fuzz_part){ data, size };
        return n;
}

char *fuzz_strdup_part(const fuzz_part *p) {
        char *s = malloc(p->size + 1);
        if (!s)
                abort();
        if (p->size)
                memcpy(s, p->data, p->size);
        s[p->size] = 0;
        return s;
}

int fuzz_write_file(int dirfd, const char *name, const void *data, size_t size) {
        _cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        for (size_t done = 0; done < size;) {
                ssize_t n = write(fd, (const char *)data + done, size - done);
                if (n < 0)
                        return -errno;
                done += (size_t)n;
        }
        return 0;
}

void fuzz_rm_rf(int dirfd, const char *name) {
        int r = nook_rm_rf_at(dirfd, name);
        if (r < 0)
                fuzz_fail("cannot remove %s: %s", name, strerror(-r));
}

/* A tar number field: octal text, or base-256 when the first byte has its top bit. */
static uint64_t tar_number(const uint8_t *f, size_t n) {
        uint64_t v = 0;
        if (f[0] & 0x80) {
                for (size_t i = 1; i < n; i++)
                        v = v << 8 | f[i];
                return v;
        }
        for (size_t i = 0; i < n && f[i] >= '0' && f[i] <= '7'; i++)
                v = v * 8 + (uint64_t)(f[i] - '0');
        return v;
}

void fuzz_tar_fix_checksums(uint8_t *tar, size_t size) {
        static const uint8_t zero[512];
        for (size_t off = 0; off + 512 <= size;) {
                uint8_t *h = tar + off;
                if (memcmp(h, zero, 512) == 0) {
                        off += 512;
                        continue;
                }
                if (memcmp(h + 257, "ustar", 5) != 0)
                        return;
                unsigned sum = 8 * ' ';
                for (size_t i = 0; i < 512; i++)
                        sum += i >= 148 && i < 156 ? 0 : h[i];
                char field[9];
                snprintf(field, sizeof(field), "%06o", sum & 0777777);
                memcpy(h + 148, field, 6);
                h[154] = 0;
                h[155] = ' ';
                uint64_t body = tar_number(h + 124, 12);
                if (body > size)
                        return;
                off += 512 + (size_t)((body + 511) / 512 * 512);
        }
}

void fuzz_replace(char **text, size_t *len, const char *pattern, const char *with) {
        size_t plen = strlen(pattern), wlen = strlen(with);
        for (size_t at = 0; at + plen <= *len;) {
                char *hit = memmem(*text + at, *len - at, pattern, plen);
                if (!hit)
                        return;
                size_t pos = (size_t)(hit - *text);
                char *nt = malloc(*len - plen + wlen + 1);
                if (!nt)
                        abort();
                memcpy(nt, *text, pos);
                memcpy(nt + pos, with, wlen);
                memcpy(nt + pos + wlen, *text + pos + plen, *len - pos - plen);
                *len = *len - plen + wlen;
                nt[*len] = 0;
                free(*text);
                *text = nt;
                at = pos + wlen;
        }
}

void fuzz_quiet_stderr(void) {
        static FILE *devnull;
        if (!devnull && !(devnull = fopen("/dev/null", "we")))
                abort();
        stderr = devnull;
}
