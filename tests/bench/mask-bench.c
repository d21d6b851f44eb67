/* nook bench — throughput of the secret masker (src/util/mask.c), built with the tests
 * and run by hand or by `./dev bench --only secrets`, never by `meson test` (timings on
 * a shared machine prove nothing):
 *
 *   build/tests/mask-bench [-r] [MiB [REPEAT]]
 *
 * Sets of secrets of 20-64 bytes, with every encoding: none, 1, 10 and 100 of random
 * bytes (about 19 patterns each: URL and JSON forms differ from the raw one) and 100
 * tokens (base64url characters, about 9); three texts of MiB MiB (256): random bytes,
 * base64 (76 columns), log-like words.  Figures, best of REPEAT (5) runs:
 *
 *   alone    MB/s of the masker over 64 KiB feeds already in cache (as read(2) leaves
 *            them), emit copying out; ratio: against no secret (a pass-through);
 *   ns/B     the masker's own cost: the time in nook_mask_feed() over those feeds,
 *            emit copying nothing;
 *   capture  a monitor's loop: a thread writes the text into a pipe, the main thread
 *            reads 64 KiB at a time and writes to a file (memfd), unmasked ("raw") or
 *            masked with the set: "masked", nook_mask_feed() with each emit a write
 *            (two writes per read when the last read ended with bytes held back);
 *            "room", nook_mask_feed_room() into a buffer with NOOK_MASK_ROOM bytes in
 *            front (one write per read); "gathered", nook_mask_feed() with the emits
 *            copied into one write per read.  ratio = masked / raw, the ">= 0.8x"
 *            figure.  The four runs take turns, REPEAT times, so that a change in the
 *            machine's load weighs on each alike.
 *
 * With -r, each row is also printed as a line "result TEXT SET KEY=VALUE..." for scripts
 * (tests/bench/bench.py), and each set's size as "result - SET table_bytes=N". */
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
#define ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))
static int repeat = 5;
static bool results; /* -r */

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
        if (n_secrets) {
                printf("%s secrets: built in %.1f ms, %zu bytes (%.2f MiB) of tables\n", what, (now() - t0) * 1e3,
                       nook_mask_size(m), (double)nook_mask_size(m) / 1048576.0);
                if (results)
                        printf("result - %zu-%s table_bytes=%zu\n", n_secrets, make == make_token ? "tokens" : "random",
                               nook_mask_size(m));
        }
        return m;
}

/* MB/s of the masker alone (best of repeat). */
static double masker_alone(const nook_mask *m, const uint8_t *t, size_t n) {
        double best = 0;
        for (int r = 0; r < repeat; r++) {
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

/* ns per byte in nook_mask_feed() alone, over the text's feeds copied into a buffer
 * first (as read(2) leaves them), emit copying nothing (best of repeat). */
static double masker_cost(const nook_mask *m, const uint8_t *t, size_t n) {
        static uint8_t buf[CHUNK];
        double best = 1e9;
        for (int r = 0; r < repeat; r++) {
                nook_mask_stream *s = NULL;
                if (nook_mask_stream_new(m, &s) < 0)
                        return 0;
                size_t total = 0;
                double dt = 0;
                for (size_t off = 0; off + CHUNK <= n; off += CHUNK) {
                        memcpy(buf, t + off, CHUNK);
                        double t0 = now();
                        nook_mask_feed(s, buf, CHUNK, count_emit, &total);
                        dt += now() - t0;
                }
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

/* How a capture passes the bytes: unmasked, masked with each emit a write, masked and
 * gathered into one write per read, masked with room in front of the read buffer. */
typedef enum how { RAW, MASKED, GATHERED, ROOM, N_HOW } how;

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

/* MB/s of one capture. */
static double capture_once(const nook_mask *m, how h, const uint8_t *t, size_t n, int logfd) {
        int p[2];
        if (pipe(p) < 0)
                return 0;
        feeder f = { p[1], t, n };
        pthread_t th;
        logfile l = { logfd, 0 };
        nook_mask_stream *s = NULL;
        if (h != RAW && nook_mask_stream_new(m, &s) < 0)
                return 0;
        static uint8_t room_buf[NOOK_MASK_ROOM + CHUNK];
        uint8_t *buf = room_buf + NOOK_MASK_ROOM;
        double t0 = now();
        pthread_create(&th, NULL, feed_pipe, &f);
        for (;;) {
                ssize_t r = read(p[0], buf, CHUNK);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        break;
                static gather g;
                g.l = &l;
                if (h == GATHERED) {
                        nook_mask_feed(s, buf, (size_t)r, gather_emit, &g);
                        log_write(g.buf, g.len, &l);
                        g.len = 0;
                } else if (h == ROOM)
                        nook_mask_feed_room(s, buf, (size_t)r, log_write, &l);
                else if (h == MASKED)
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

/* MB/s of each way of capturing, taking turns (best of repeat). */
static void capture(const nook_mask *m, const uint8_t *t, size_t n, int logfd, double ret[N_HOW]) {
        for (int k = 0; k < N_HOW; k++)
                ret[k] = 0;
        for (int r = 0; r < repeat; r++)
                for (int k = 0; k < N_HOW; k++) {
                        double v = capture_once(m, (how)k, t, n, logfd);
                        ret[k] = v > ret[k] ? v : ret[k];
                }
}

int main(int argc, char **argv) {
        results = argc > 1 && strcmp(argv[1], "-r") == 0;
        argc -= results;
        argv += results;
        size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
        repeat = argc > 2 ? atoi(argv[2]) : 5;
        size_t n = mib << 20;
        uint8_t *text = malloc(n);
        int logfd = memfd_create("mask-bench-log", MFD_CLOEXEC);
        if (!text || logfd < 0 || n < CHUNK || repeat < 1)
                return 1;
        printf("mask-bench: %zu MiB per text, %d KiB feeds, best of %d; MB/s\n", mib, CHUNK / 1024, repeat);
        static const struct {
                const char *name, *key; /* key: for the result lines */
                size_t n;
                void (*make)(uint8_t *, size_t);
        } sets[] = {
                { "none", "0", 0, NULL },
                { "1 random", "1-random", 1, make_random },
                { "10 random", "10-random", 10, make_random },
                { "100 random", "100-random", 100, make_random },
                { "100 tokens", "100-tokens", 100, make_token },
        };
        nook_mask *masks[ELEMENTS(sets)];
        for (size_t k = 0; k < ELEMENTS(sets); k++)
                if (!(masks[k] = make_set(sets[k].n, sets[k].make, sets[k].name)))
                        return 1;
        static const struct {
                const char *name, *key;
                void (*make)(uint8_t *, size_t);
        } texts[] = { { "random bytes", "random", make_random },
                      { "base64", "base64", make_base64 },
                      { "log words", "log", make_printable } };
        printf("\n%-12s %-10s | %7s %5s %6s | %8s %7s %5s %7s %5s %8s %5s\n", "text", "secrets", "alone", "ratio",
               "ns/B", "capt:raw", "masked", "ratio", "room", "ratio", "gathered", "ratio");
        for (size_t i = 0; i < ELEMENTS(texts); i++) {
                texts[i].make(text, n);
                (void)capture_once(NULL, RAW, text, n, logfd); /* the log file's pages, once */
                double a0 = 0;
                for (size_t k = 0; k < ELEMENTS(sets); k++) {
                        double a = masker_alone(masks[k], text, n), cost = masker_cost(masks[k], text, n);
                        double c[N_HOW];
                        a0 = k == 0 ? a : a0;
                        capture(masks[k], text, n, logfd, c);
                        printf("%-12s %-10s | %7.0f %5.2f %6.3f | %8.0f %7.0f %5.2f %7.0f %5.2f %8.0f %5.2f\n",
                               texts[i].name, sets[k].name, a, a / a0, cost, c[RAW], c[MASKED], c[MASKED] / c[RAW],
                               c[ROOM], c[ROOM] / c[RAW], c[GATHERED], c[GATHERED] / c[RAW]);
                        if (results)
                                printf("result %s %s alone=%.0f alone_ratio=%.3f ns_per_byte=%.4f raw=%.0f masked=%.0f "
                                       "ratio=%.3f room=%.0f room_ratio=%.3f gathered=%.0f gathered_ratio=%.3f\n",
                                       texts[i].key, sets[k].key, a, a / a0, cost, c[RAW], c[MASKED],
                                       c[MASKED] / c[RAW], c[ROOM], c[ROOM] / c[RAW], c[GATHERED],
                                       c[GATHERED] / c[RAW]);
                        fflush(stdout);
                }
        }
        for (size_t k = 0; k < ELEMENTS(sets); k++)
                nook_mask_free(masks[k]);
        free(text);
        close(logfd);
        return 0;
}
