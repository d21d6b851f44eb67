/* nook proto — the client/helper message format: header + TLV fields over a unix
 * stream socket, fds as SCM_RIGHTS with the header (unix(7), cmsg(3)). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto/proto.h"
#include "util/macro.h"
#include "util/clock.h"

struct header {
        uint32_t magic;
        uint32_t type;
        uint32_t len;
        uint32_t n_fds;
};

struct field {
        uint16_t tag;
        uint16_t pad;
        uint32_t len;
};

/* Every buffer is wiped before it is freed or moved: a message may carry secret values
 * (NOOK_MSG_SECRETS), and no copy of one may linger in freed heap. */
void nook_msg_done(nook_msg *m) {
        if (m->buf)
                explicit_bzero(m->buf, m->cap);
        free(m->buf);
        m->buf = NULL;
        m->len = m->cap = 0;
        for (unsigned i = 0; m->owns_fds && i < m->n_fds; i++)
                if (m->fds[i] >= 0)
                        close(m->fds[i]);
        m->n_fds = 0;
}

static int grow(nook_msg *m, size_t extra) {
        if (m->failed)
                return -ENOMEM;
        if (m->len + extra > NOOK_MSG_MAX) {
                m->failed = true;
                return -E2BIG;
        }
        if (m->len + extra <= m->cap)
                return 0;
        size_t cap = m->cap ? m->cap : 512;
        while (cap < m->len + extra)
                cap *= 2;
        char *b = malloc(cap);
        if (!b) {
                m->failed = true;
                return -ENOMEM;
        }
        if (m->buf) {
                memcpy(b, m->buf, m->len);
                explicit_bzero(m->buf, m->cap);
                free(m->buf);
        }
        m->buf = b;
        m->cap = cap;
        return 0;
}

int nook_msg_add(nook_msg *m, uint16_t tag, const void *data, uint32_t len) {
        size_t padded = (len + 3u) & ~3u;
        int r = grow(m, sizeof(struct field) + padded);
        if (r < 0)
                return r;
        struct field f = { .tag = tag, .len = len };
        memcpy(m->buf + m->len, &f, sizeof(f));
        if (len)
                memcpy(m->buf + m->len + sizeof(f), data, len);
        memset(m->buf + m->len + sizeof(f) + len, 0, padded - len);
        m->len += sizeof(f) + padded;
        return 0;
}

int nook_msg_add_str(nook_msg *m, uint16_t tag, const char *s) {
        return nook_msg_add(m, tag, s, (uint32_t)strlen(s) + 1);
}

int nook_msg_add_u64(nook_msg *m, uint16_t tag, uint64_t v) {
        return nook_msg_add(m, tag, &v, sizeof(v));
}

int nook_msg_add_group(nook_msg *m, uint16_t tag, const nook_msg *sub) {
        if (sub->failed)
                return -ENOMEM;
        return nook_msg_add(m, tag, sub->buf, (uint32_t)sub->len);
}

int nook_msg_add_fd(nook_msg *m, int fd) {
        if (m->n_fds >= NOOK_MSG_MAX_FDS)
                return -E2BIG;
        m->fds[m->n_fds++] = fd;
        return 0;
}

static int write_all(int sock, const void *p, size_t n) {
        while (n > 0) {
                ssize_t w = send(sock, p, n, MSG_NOSIGNAL);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return -errno;
                p = (const char *)p + w;
                n -= (size_t)w;
        }
        return 0;
}

int nook_msg_send(int sock, const nook_msg *m) {
        if (m->failed)
                return -ENOMEM;
        struct header h = { .magic = NOOK_MSG_MAGIC, .type = m->type, .len = (uint32_t)m->len, .n_fds = m->n_fds };
        struct iovec iov = { .iov_base = &h, .iov_len = sizeof(h) };
        union {
                char buf[CMSG_SPACE(sizeof(int) * NOOK_MSG_MAX_FDS)];
                struct cmsghdr align;
        } u;
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (m->n_fds) {
                memset(&u, 0, sizeof(u));
                mh.msg_control = u.buf;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * m->n_fds);
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * m->n_fds);
                memcpy(CMSG_DATA(c), m->fds, sizeof(int) * m->n_fds);
        }
        ssize_t w;
        do
                w = sendmsg(sock, &mh, MSG_NOSIGNAL);
        while (w < 0 && errno == EINTR);
        if (w < 0)
                return -errno;
        if ((size_t)w < sizeof(h)) {
                int r = write_all(sock, (char *)&h + w, sizeof(h) - (size_t)w);
                if (r < 0)
                        return r;
        }
        return m->len ? write_all(sock, m->buf, m->len) : 0;
}

static int wait_readable(int sock, int64_t deadline) {
        if (deadline < 0)
                return 0;
        for (;;) {
                int64_t left = deadline - nook_mono_ms();
                if (left <= 0)
                        return -ETIMEDOUT;
                struct pollfd p = { .fd = sock, .events = POLLIN };
                int r = poll(&p, 1, (int)left);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r > 0)
                        return 0;
        }
}

static int read_all(int sock, void *p, size_t n, int64_t deadline) {
        while (n > 0) {
                int r = wait_readable(sock, deadline);
                if (r < 0)
                        return r;
                ssize_t got = recv(sock, p, n, 0);
                if (got < 0 && errno == EINTR)
                        continue;
                if (got < 0)
                        return -errno;
                if (got == 0)
                        return -ECONNRESET;
                p = (char *)p + got;
                n -= (size_t)got;
        }
        return 0;
}

static void take_cmsg_fds(nook_msg *m, struct msghdr *mh) {
        m->owns_fds = true;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                int fds[NOOK_MSG_MAX_FDS * 2];
                if (n > ELEMENTSOF(fds))
                        n = ELEMENTSOF(fds);
                memcpy(fds, CMSG_DATA(c), n * sizeof(int));
                for (size_t i = 0; i < n; i++) {
                        if (m->n_fds < NOOK_MSG_MAX_FDS)
                                m->fds[m->n_fds++] = fds[i];
                        else
                                close(fds[i]);
                }
        }
}

int nook_msg_recv(int sock, nook_msg *m, int timeout_ms) {
        int64_t deadline = timeout_ms < 0 ? -1 : nook_mono_ms() + timeout_ms;
        struct header h;
        union {
                char buf[CMSG_SPACE(sizeof(int) * NOOK_MSG_MAX_FDS)];
                struct cmsghdr align;
        } u;
        struct iovec iov = { .iov_base = &h, .iov_len = sizeof(h) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
        int r = wait_readable(sock, deadline);
        if (r < 0)
                return r;
        ssize_t got;
        do
                got = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        while (got < 0 && errno == EINTR);
        if (got < 0)
                return -errno;
        if (got == 0)
                return -ECONNRESET;
        take_cmsg_fds(m, &mh);
        if ((size_t)got < sizeof(h) && (r = read_all(sock, (char *)&h + got, sizeof(h) - (size_t)got, deadline)) < 0)
                return r;
        if (h.magic != NOOK_MSG_MAGIC || h.len > NOOK_MSG_MAX || (h.len & 3u))
                return -EBADMSG;
        m->type = h.type;
        m->len = 0;
        if (h.len) {
                if ((r = grow(m, h.len)) < 0)
                        return r;
                if ((r = read_all(sock, m->buf, h.len, deadline)) < 0)
                        return r;
                m->len = h.len;
        }
        return 0;
}

bool nook_msg_next(const nook_msg *m, size_t *off, uint16_t *tag, const void **data, uint32_t *len) {
        if (*off + sizeof(struct field) > m->len)
                return false;
        struct field f;
        memcpy(&f, m->buf + *off, sizeof(f));
        size_t padded = ((size_t)f.len + 3u) & ~(size_t)3u;
        if (*off + sizeof(f) + padded > m->len)
                return false;
        *tag = f.tag;
        *data = m->buf + *off + sizeof(f);
        *len = f.len;
        *off += sizeof(f) + padded;
        return true;
}

static bool find(const nook_msg *m, uint16_t tag, const void **data, uint32_t *len) {
        size_t off = 0;
        uint16_t t;
        while (nook_msg_next(m, &off, &t, data, len))
                if (t == tag)
                        return true;
        return false;
}

const char *nook_msg_str(const nook_msg *m, uint16_t tag) {
        const void *d;
        uint32_t len;
        if (!find(m, tag, &d, &len) || len == 0 || ((const char *)d)[len - 1] != 0)
                return NULL;
        return d;
}

uint64_t nook_msg_u64(const nook_msg *m, uint16_t tag, uint64_t def) {
        const void *d;
        uint32_t len;
        uint64_t v;
        if (!find(m, tag, &d, &len) || len != sizeof(v))
                return def;
        memcpy(&v, d, sizeof(v));
        return v;
}

bool nook_msg_has(const nook_msg *m, uint16_t tag) {
        const void *d;
        uint32_t len;
        return find(m, tag, &d, &len);
}

bool nook_msg_group(const void *data, uint32_t len, nook_msg *ret) {
        *ret = (nook_msg){ .buf = (char *)data, .len = len };
        size_t off = 0;
        uint16_t tag;
        const void *d;
        uint32_t n;
        while (nook_msg_next(ret, &off, &tag, &d, &n))
                ;
        return off == len;
}

int nook_msg_take_fd(nook_msg *m, unsigned index) {
        if (index >= m->n_fds)
                return -1;
        int fd = m->fds[index];
        m->fds[index] = -1;
        return fd;
}

int nook_msg_reply_error(int sock, int e, const char *message) {
        nook_msg r = NOOK_MSG_INIT(NOOK_MSG_REPLY);
        nook_msg_add_u64(&r, T_ERRNO, (uint64_t)(e > 0 ? e : EIO));
        if (message)
                nook_msg_add_str(&r, T_MESSAGE, message);
        int ret = nook_msg_send(sock, &r);
        nook_msg_done(&r);
        return ret;
}
