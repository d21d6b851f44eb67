/* nook bench — throughput of the secret masker (src/util/mask.c), built with the tests
 * and run by hand, never by `meson test` (timings on a shared machine prove nothing):
 *
 *   build/tests/mask-bench [MiB]
 *
 * Two sets of 100 secrets of 20-64 bytes, with every encoding: random bytes (about 19
 * patterns each: URL and JSON forms differ from the raw one) and tokens (base64url
 * characters, about 9); three texts: random bytes, base64 (76 columns), log-like
 * words.  Figures, best of REPEAT runs:
 *
 *   alone    the masker over 64 KiB feeds already in cache (as read(2) leaves them),
 *            emit copying out: no secret (a memcpy-like pass-through) vs the set;
 *   ns/B     the masker's own cost with the set: one cached 64 KiB feed again and
 *            again, emit copying nothing;
 *   capture  a monitor's loop: a thread writes the text into a pipe, the main thread
 *            reads 64 KiB at a time and writes to a file (memfd) — unmasked ("raw"),
 *            masked with an empty set, masked with the set (each emit a write), and
 *            masked with the set gathered into one write per read; ratio = masked/raw,
 *            the ">= 0.8x" figure. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "util/mask.h"

#define CHUNK 65536
#define REPEAT 5

static uint64_t rng = 0x2545f4914f6cdd1du;
static uint64_t rnd(void) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make_random(uint8_t *t, size_t n) {
        for (size_t i = 0; i < n; i++)
                t[i] = (uint8_t)(rnd() >> 24);
}

static void make_base64(uint8_t *t, size_t n) {
        static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (size_t i = 0; i < n; i++)
                t[i] = i % 77 == 76 ? '\n' : (uint8_t)a[rnd() >> 58];
}

static void make_printable(uint8_t *t, size_t n) {
        static const char words[][8] = { "the ",  "job ",   "took ",  "12ms ", "GET ",  "/api/v1 ", "200 ",   "ok\n",
                                         "user=", "alice ", "retry ", "3 ",    "INFO ", "path ",    "done\n", "id=" };
        for (size_t i = 0; i < n;) {
                const char *w = words[rnd() >> 60];
                for (size_t k = 0; w[k] && i < n; k++)
                        t[i++] = (uint8_t)w[k];
        }
}

typedef struct sink {
        uint8_t buf[CHUNK + 4096];
        size_t total;
} sink;

static int sink_emit(const void *b, size_t n, void *userdata) {
        sink *k = userdata;
        for (size_t off = 0; off < n; off += sizeof(k->buf)) {
                size_t c = n - off < sizeof(k->buf) ? n - off : sizeof(k->buf);
                memcpy(k->buf, (const uint8_t *)b + off, c);
        }
        k->total += n;
        return 0;
}

/* Tokens: base64url characters, as API keys and bearer tokens are. */
static void make_token(uint8_t *t, size_t n) {
        static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for (size_t i = 0; i < n; i++)
                t[i] = (uint8_t)a[rnd() >> 58];
}

static nook_mask *make_set(size_t n_secrets, void (*make)(uint8_t *, size_t), const char *what) {
        nook_mask *m = NULL;
        if (nook_mask_new(&m) < 0)
                return NULL;
        for (size_t i = 0; i < n_secrets; i++) {
                uint8_t v[64];
                size_t len = 20 + rnd() % 45;
                make(v, len);
                char ref[32];
                snprintf(ref, sizeof(ref), "secret-%zu", i);
                if (nook_mask_add(m, ref, v, len) < 0)
                        return nook_mask_free(m);
        }
        double t0 = now();
        if (nook_mask_build(m) < 0)
                return nook_mask_free(m);
        if (n_secrets)
                printf("%zu %s: built in %.1f ms, %zu bytes (%.2f MiB) of tables\n", n_secrets, what,
                       (now() - t0) * 1e3, nook_mask_size(m), (double)nook_mask_size(m) / 1048576.0);
        return m;
}

/* MB/s of the masker alone (best of REPEAT). */
static double masker_alone(const nook_mask *m, const uint8_t *t, size_t n) {
        double best = 0;
        for (int r = 0; r < REPEAT; r++) {
                nook_mask_stream *s = NULL;
                if (nook_mask_stream_new(m, &s) < 0)
                        return 0;
                static sink k;
                k.total = 0;
                static uint8_t buf[CHUNK];
                double t0 = now();
                for (size_t off = 0; off < n; off += CHUNK) {
                        /* as read(2) would leave it: in cache */
                        size_t c = n - off < CHUNK ? n - off : CHUNK;
                        memcpy(buf, t + off, c);
                        nook_mask_feed(s, buf, c, sink_emit, &k);
                }
                nook_mask_flush(s, sink_emit, &k);
                double dt = now() - t0;
                nook_mask_stream_free(s);
                if (n / dt / 1e6 > best)
                        best = n / dt / 1e6;
        }
        return best;
}

static int count_emit(const void *b, size_t n, void *userdata) {
        *(size_t *)userdata += n;
        return 0;
}

/* ns per byte of the masker alone (best of REPEAT). */
static double masker_cost(const nook_mask *m, const uint8_t *t, size_t n) {
        static uint8_t buf[CHUNK];
        memcpy(buf, t, CHUNK);
        double best = 1e9;
        for (int r = 0; r < REPEAT; r++) {
                nook_mask_stream *s = NULL;
                if (nook_mask_stream_new(m, &s) < 0)
                        return 0;
                size_t total = 0;
                double t0 = now();
                for (size_t off = 0; off + CHUNK <= n; off += CHUNK)
                        nook_mask_feed(s, buf, CHUNK, count_emit, &total);
                double dt = now() - t0;
                nook_mask_stream_free(s);
                best = dt * 1e9 / (double)n < best ? dt * 1e9 / (double)n : best;
        }
        return best;
}

/* ---- capture through a pipe into a file ---- */

typedef struct feeder {
        int fd;
        const uint8_t *t;
        size_t n;
} feeder;

static void *feed_pipe(void *arg) {
        feeder *f = arg;
        for (size_t off = 0; off < f->n;) {
                ssize_t w = write(f->fd, f->t + off, f->n - off < CHUNK ? f->n - off : CHUNK);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        break;
                off += (size_t)w;
        }
        close(f->fd);
        return NULL;
}

typedef struct logfile {
        int fd;
        size_t off;
} logfile;

static int log_write(const void *b, size_t n, void *userdata) {
        logfile *l = userdata;
        if (l->off > ((size_t)64 << 20))
                l->off = 0; /* keep the file small: the page cache work is the same */
        for (size_t done = 0; done < n;) {
                ssize_t w = pwrite(l->fd, (const uint8_t *)b + done, n - done, (off_t)(l->off + done));
                if (w <= 0)
                        return -EIO;
                done += (size_t)w;
        }
        l->off += n;
        return 0;
}

/* MB/s of one capture: m NULL for none. */
static bool gathered;

/* The monitor's way, when coalescing: what one read gives is written at once. */
typedef struct gather {
        uint8_t buf[2 * CHUNK];
        size_t len;
        logfile *l;
} gather;

static int gather_emit(const void *b, size_t n, void *userdata) {
        gather *g = userdata;
        if (g->len + n > sizeof(g->buf)) {
                int r = log_write(g->buf, g->len, g->l);
                g->len = 0;
                if (r < 0)
                        return r;
                if (n > sizeof(g->buf))
                        return log_write(b, n, g->l);
        }
        memcpy(g->buf + g->len, b, n);
        g->len += n;
        return 0;
}

static double capture_once(const nook_mask *m, const uint8_t *t, size_t n, int logfd) {
        int p[2];
        if (pipe(p) < 0)
                return 0;
        feeder f = { p[1], t, n };
        pthread_t th;
        logfile l = { logfd, 0 };
        nook_mask_stream *s = NULL;
        if (m && nook_mask_stream_new(m, &s) < 0)
                return 0;
        static uint8_t buf[CHUNK];
        double t0 = now();
        pthread_create(&th, NULL, feed_pipe, &f);
        for (;;) {
                ssize_t r = read(p[0], buf, sizeof(buf));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        break;
                static gather g;
                g.l = &l;
                if (s && gathered) {
                        nook_mask_feed(s, buf, (size_t)r, gather_emit, &g);
                        log_write(g.buf, g.len, &l);
                        g.len = 0;
                } else if (s)
                        nook_mask_feed(s, buf, (size_t)r, log_write, &l);
                else
                        log_write(buf, (size_t)r, &l);
        }
        if (s)
                nook_mask_flush(s, log_write, &l);
        double dt = now() - t0;
        pthread_join(th, NULL);
        close(p[0]);
        nook_mask_stream_free(s);
        return n / dt / 1e6;
}

static double capture(const nook_mask *m, const uint8_t *t, size_t n, int logfd) {
        double best = 0;
        for (int r = 0; r < REPEAT; r++) {
                double v = capture_once(m, t, n, logfd);
                best = v > best ? v : best;
        }
        return best;
}

int main(int argc, char **argv) {
        size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
        size_t n = mib << 20;
        uint8_t *text = malloc(n);
        int logfd = memfd_create("mask-bench-log", MFD_CLOEXEC);
        if (!text || logfd < 0 || n == 0)
                return 1;
        printf("mask-bench: %zu MiB per text, %d KiB feeds, best of %d; MB/s\n", mib, CHUNK / 1024, REPEAT);
        nook_mask *none = make_set(0, NULL, NULL);
        nook_mask *sets[] = { make_set(100, make_random, "random-byte secrets"), make_set(100, make_token, "tokens") };
        static const char *const set_names[] = { "100 random", "100 tokens" };
        if (!none || !sets[0] || !sets[1])
                return 1;
        static const struct {
                const char *name;
                void (*make)(uint8_t *, size_t);
        } texts[] = { { "random bytes", make_random }, { "base64", make_base64 }, { "log words", make_printable } };
        printf("\n%-12s %-10s | %7s %7s %5s %5s | %7s %7s %7s %5s %8s %5s\n", "text", "secrets", "alone:0", "set",
               "ratio", "ns/B", "capt:raw", "empty", "set", "ratio", "gathered", "ratio");
        for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
                texts[i].make(text, n);
                double a0 = masker_alone(none, text, n), craw = capture(NULL, text, n, logfd);
                double c0 = capture(none, text, n, logfd);
                for (size_t k = 0; k < 2; k++) {
                        double a = masker_alone(sets[k], text, n), cost = masker_cost(sets[k], text, n);
                        double c = capture(sets[k], text, n, logfd);
                        gathered = true;
                        double g = capture(sets[k], text, n, logfd);
                        gathered = false;
                        printf("%-12s %-10s | %7.0f %7.0f %5.2f %5.3f | %7.0f %7.0f %7.0f %5.2f %8.0f %5.2f\n",
                               texts[i].name, set_names[k], a0, a, a / a0, cost, craw, c0, c, c / craw, g, g / craw);
                }
        }
        nook_mask_free(none);
        nook_mask_free(sets[0]);
        nook_mask_free(sets[1]);
        free(text);
        close(logfd);
        return 0;
}
