/* nook util — /proc/<pid>/stat, the boot id and our seccomp mode (proc(5)). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/macro.h"
#include "util/proc.h"

ssize_t nook_read_small(const char *path, char *buf, size_t size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        ssize_t n = read(fd, buf, size - 1);
        if (n < 0)
                return negative_errno();
        buf[n] = 0;
        return n;
}

int nook_proc_start_time(pid_t pid, uint64_t *ret) {
        char path[64], buf[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        ssize_t n = nook_read_small(path, buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        /* comm (field 2) may contain spaces and parentheses: fields resume after the last ')'. */
        char *p = strrchr(buf, ')');
        if (!p)
                return -EBADMSG;
        p++;
        /* p now points before field 3; field 22 is 19 fields further. */
        for (int field = 3; field < 22; field++) {
                p = strchr(p + 1, ' ');
                if (!p)
                        return -EBADMSG;
        }
        errno = 0;
        char *end;
        unsigned long long v = strtoull(p + 1, &end, 10);
        if (errno || end == p + 1)
                return -EBADMSG;
        *ret = v;
        return 0;
}

bool nook_proc_alive(pid_t pid, uint64_t start) {
        char path[64], buf[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        if (pid <= 0 || nook_read_small(path, buf, sizeof(buf)) < 0)
                return false;
        const char *p = strrchr(buf, ')');
        if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X' || p[2] == 'x')
                return false;
        uint64_t now;
        return start == 0 || (nook_proc_start_time(pid, &now) == 0 && now == start);
}

int nook_proc_boot_id(char ret[40]) {
        char buf[64];
        ssize_t n = nook_read_small("/proc/sys/kernel/random/boot_id", buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        buf[strcspn(buf, "\n")] = 0;
        if (strlen(buf) >= 40)
                return -EBADMSG;
        strcpy(ret, buf);
        return 0;
}

bool nook_proc_self_seccomp_filtered(void) {
        char buf[8192];
        if (nook_read_small("/proc/self/status", buf, sizeof(buf)) <= 0)
                return false;
        const char *m = strstr(buf, "\nSeccomp:");
        return m && atoi(m + strlen("\nSeccomp:")) == 2;
}
