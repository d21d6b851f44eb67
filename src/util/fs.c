/* nook util — directories made the way nook makes them: 0700, parents included. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <stdint.h>
#include <sys/stat.h>

#include "util/fs.h"
#include "util/macro.h"

static int mkdir_one(const char *dir) {
        if (mkdir(dir, 0700) == 0)
                /* ours: make it exactly 0700 whatever the umask took away */
                return chmod(dir, 0700) < 0 ? negative_errno() : 0;
        int saved = errno;
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
                return 0;
        return -saved;
}

/* mkdir -p of the directory holding path; existing directories are left as they are. */
int nook_mkdir_parents(const char *path) {
        _cleanup_free_ char *dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
                return 0;
        *slash = 0;
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
                return 0;
        for (char *p = dir + 1;; p++) {
                if (*p != '/' && *p != 0)
                        continue;
                char saved = *p;
                *p = 0;
                int r = mkdir_one(dir);
                *p = saved;
                if (r < 0)
                        return r;
                if (saved == 0)
                        return 0;
        }
}

#ifndef LUSTRE_SUPER_MAGIC
#define LUSTRE_SUPER_MAGIC 0x0BD00BD0
#endif
#ifndef GPFS_SUPER_MAGIC
#define GPFS_SUPER_MAGIC 0x47504653
#endif

bool nook_fs_is_network(long f_type) {
        switch ((uint32_t)f_type) {
        case NFS_SUPER_MAGIC:
        case SMB_SUPER_MAGIC:
        case CIFS_SUPER_MAGIC:
        case SMB2_SUPER_MAGIC:
        case CEPH_SUPER_MAGIC:
        case LUSTRE_SUPER_MAGIC:
        case GPFS_SUPER_MAGIC:
                return true;
        default:
                return false;
        }
}
