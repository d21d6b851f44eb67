/* nook util — files read inside a root (rootfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/macro.h"
#include "util/rootfile.h"

int nook_root_read_file(const char *root, const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rfd < 0)
                return -errno;
        return nook_root_read_file_at(rfd, path, max, ret, ret_len);
}

int nook_root_read_file_at(int rfd, const char *path, size_t max, char **ret, size_t *ret_len) {
        struct open_how how = { .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
                                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
        _cleanup_close_ int fd = (int)syscall(SYS_openat2, rfd, path, &how, sizeof(how));
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return -EINVAL;
        char *buf = malloc(max + 1);
        if (!buf)
                return -ENOMEM;
        size_t len = 0;
        for (ssize_t n; len < max && (n = read(fd, buf + len, max - len)) != 0;) {
                if (n < 0) {
                        free(buf);
                        return -errno;
                }
                len += (size_t)n;
        }
        buf[len] = 0;
        *ret = buf;
        if (ret_len)
                *ret_len = len;
        return 0;
}
