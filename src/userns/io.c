/* nook userns — stream_io and the ext read_content: frames read from a process's
 * capture logs by byte cursor (pread, from any process, after the starter is gone),
 * shaped by the stream's io policy; stdin writes and close go to the monitor. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "userns/io.h"
#include "userns/session.h"
#include "userns/stages.h"
#include "util/clock.h"
#include "util/sha256.h"
#include "util/strbuf.h"

#define FRAME_CEILING (16u * 1024u * 1024u)

/* A file of the process dir, opened below the session dir fd without following (S32). */
static FILE *pfopen(const nook_session *s, const char *ref, const char *name) {
        int fd = nook_session_openat(s, ref, name, O_RDONLY | O_NONBLOCK, 0);
        FILE *f = fd >= 0 ? fdopen(fd, "re") : NULL;
        if (fd >= 0 && !f)
                close(fd);
        return f;
}

static off_t log_size(const nook_session *s, const char *ref, const char *log) {
        _cleanup_close_ int fd = nook_session_openat(s, ref, log, O_RDONLY | O_NONBLOCK, 0);
        struct stat st;
        return fd >= 0 && fstat(fd, &st) == 0 ? st.st_size : 0;
}

/* Waits until `done` holds or timeout_ms passes, looking again after 1, 2, 4 … ms (at
 * most every 20 ms).  Not inotify(7): on recent kernels closing an inotify instance
 * that had watches costs 2-20 ms (measured on 6.18), more than the whole wait of a
 * short command. */
static void wait_dir(const nook_session *s, const char *ref, int64_t timeout_ms,
                     bool (*done)(const nook_session *, const char *, void *), void *data) {
        int64_t deadline = nook_mono_ms() + timeout_ms;
        for (int64_t step = 1; !done(s, ref, data);) {
                int64_t left = deadline - nook_mono_ms();
                if (left <= 0)
                        return;
                struct timespec ts = { .tv_nsec = (long)((step < left ? step : left) * 1000000) };
                nanosleep(&ts, NULL);
                if (step < 20)
                        step *= 2;
        }
}

static bool has_exited(const nook_session *s, const char *ref, void *data) {
        nook_exit_record *rec = data;
        return nook_exit_record_read(s, ref, rec) == 0 && rec->present;
}

int nook_process_wait(const nook_session *s, const char *process_ref, int64_t timeout_ms, nook_exit_record *ret) {
        wait_dir(s, process_ref, timeout_ms, has_exited, ret);
        return has_exited(s, process_ref, ret) ? 1 : 0;
}

typedef struct grow_wait {
        const char *log;
        uint64_t cursor;
} grow_wait;

static bool grew_or_exited(const nook_session *s, const char *ref, void *data) {
        grow_wait *g = data;
        nook_exit_record rec;
        return (uint64_t)log_size(s, ref, g->log) > g->cursor || has_exited(s, ref, &rec);
}

static bool utf8_valid(const unsigned char *p, size_t n) {
        for (size_t i = 0; i < n;) {
                unsigned char c = p[i];
                size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
                if (!len || i + len > n || (c == 0))
                        return false;
                for (size_t k = 1; k < len; k++)
                        if ((p[i + k] & 0xc0) != 0x80)
                                return false;
                if ((len == 2 && c < 0xc2) || (len == 3 && c == 0xe0 && p[i + 1] < 0xa0) ||
                    (len == 3 && c == 0xed && p[i + 1] >= 0xa0) ||
                    (len == 4 && (c > 0xf4 || (c == 0xf0 && p[i + 1] < 0x90))))
                        return false;
                i += len;
        }
        return true;
}

static char *base64(const unsigned char *p, size_t n) {
        static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        char *o = malloc(4 * ((n + 2) / 3) + 1), *q = o;
        for (size_t i = 0; o && i < n; i += 3) {
                uint32_t v =
                        (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
                *q++ = t[v >> 18 & 63];
                *q++ = t[v >> 12 & 63];
                *q++ = i + 1 < n ? t[v >> 6 & 63] : '=';
                *q++ = i + 2 < n ? t[v & 63] : '=';
        }
        if (o)
                *q = 0;
        return o;
}

bool nook_io_ref_mode_allows(const char *content_ref_mode) {
        /* the codec keeps the field as JSON text: the enum value with its quotes */
        return content_ref_mode && strcmp(content_ref_mode, "\"content_ref_if_policy_allows\"") == 0;
}

/* How one stream's frames are shaped (the process's stdout_policy/stderr_policy, else the
 * environment's io_policy, as start_process recorded it in the process's meta). */
typedef struct stream_policy {
        int capture;
        bool ref_mode; /* content_ref_mode: content_ref_if_policy_allows */
        uint64_t max;
} stream_policy;

/* Content refs: asked for by content_ref and raw_content_if_policy_allows, and by
 * redacted_summary when content_ref_mode allows them; never under off or metadata_only. */
static bool gives_refs(const stream_policy *p) {
        return p->capture == NOOK_CAPTURE_CONTENT_REF || p->capture == NOOK_CAPTURE_RAW_IF_ALLOWED ||
               (p->capture == NOOK_CAPTURE_REDACTED_SUMMARY && p->ref_mode);
}

/* Summaries summarise: counts, never the bytes.  Not even a preview under raw content:
 * the journal keeps a frame's summary and drops its data (core/redact.c), and nook has
 * no redaction of output content (io_redaction is not delivered), so a preview would
 * put raw output where raw content never goes. */
static char *summary_of(const unsigned char *p, size_t n) {
        size_t lines = 0;
        for (size_t i = 0; i < n; i++)
                lines += p[i] == '\n';
        if (n && p[n - 1] != '\n')
                lines++;
        char *s = NULL;
        return asprintf(&s, "%zu byte%s, %zu line%s", n, n == 1 ? "" : "s", lines, lines == 1 ? "" : "s") < 0 ? NULL
                                                                                                              : s;
}

static int raw_data(nook_io_frame *f, const unsigned char *buf, size_t n) {
        if (utf8_valid(buf, n)) {
                f->data = malloc(n + 1);
                if (f->data) {
                        memcpy(f->data, buf, n);
                        f->data[n] = 0;
                }
        } else if ((f->data = base64(buf, n)) && !(f->encoding = strdup("base64"))) {
                free(f->data);
                f->data = NULL;
        }
        f->raw_content_present = f->data != NULL; /* true exactly when the frame carries the bytes */
        return f->data ? 0 : -ENOMEM;
}

/* A frame's fields by the stream's policy: content_hash always (the contract requires it;
 * under off nothing is captured and it is the hash of zero bytes); content refs when the
 * policy asks for them and the frame has bytes (a ref to an empty range names nothing);
 * the bytes themselves (ext data) only under raw_content_if_policy_allows. */
static int shape(nook_io_frame *f, const unsigned char *buf, size_t n, const stream_policy *p, const char *ref,
                 const char *stream, uint64_t start, nook_error **err) {
        char hash[NOOK_DIGEST_LEN + 1];
        nook_sha256_digest(buf, p->capture == NOOK_CAPTURE_OFF ? 0 : n, hash);
        if (!(f->content_hash = strdup(hash)))
                return nook_error_oom(err);
        f->redacted_summary = p->capture == NOOK_CAPTURE_OFF ? strdup("capture off") : summary_of(buf, n);
        if (!f->redacted_summary)
                return nook_error_oom(err);
        if (gives_refs(p) && n > 0) {
                char *cref = NULL;
                if (asprintf(&cref, "%s/%s/%llu-%llu", ref, stream, (unsigned long long)start,
                             (unsigned long long)(start + n)) < 0)
                        return nook_error_oom(err);
                if (!(f->content_refs.items = calloc(1, sizeof(char *))))
                        return free(cref), nook_error_oom(err);
                ((char **)f->content_refs.items)[0] = cref;
                f->content_refs.n = 1;
        }
        if (p->capture == NOOK_CAPTURE_RAW_IF_ALLOWED && raw_data(f, buf, n) < 0)
                return nook_error_oom(err);
        return 0;
}

static void read_policy(const nook_session *s, const char *ref, const char *stream, stream_policy *ret) {
        *ret = (stream_policy){ .capture = NOOK_CAPTURE_REDACTED_SUMMARY, .max = 65536 };
        _cleanup_fclose_ FILE *f = pfopen(s, ref, "meta");
        char line[256], key1[32], key2[32], key3[32];
        snprintf(key1, sizeof(key1), "%s_capture=", stream);
        snprintf(key2, sizeof(key2), "%s_max=", stream);
        snprintf(key3, sizeof(key3), "%s_ref_mode=", stream);
        while (f && fgets(line, sizeof(line), f)) {
                if (strncmp(line, key1, strlen(key1)) == 0)
                        ret->capture = atoi(line + strlen(key1));
                else if (strncmp(line, key2, strlen(key2)) == 0)
                        ret->max = strtoull(line + strlen(key2), NULL, 10);
                else if (strncmp(line, key3, strlen(key3)) == 0)
                        ret->ref_mode = atoi(line + strlen(key3)) == 1;
        }
}

int nook_io_frame_fill(const nook_session *s, const char *process_ref, int stream, uint64_t cursor, uint64_t max,
                       const nook_stream_policy *policy, nook_io_frame *f, nook_error **err) {
        const char *sname = stream == NOOK_STREAM_STDERR ? "stderr" : "stdout";
        stream_policy sp;
        read_policy(s, process_ref, sname, &sp);
        if (policy) {
                sp.capture = policy->default_capture;
                sp.ref_mode = nook_io_ref_mode_allows(policy->content_ref_mode);
        }
        if (max == 0 || max > FRAME_CEILING)
                max = max ? FRAME_CEILING : sp.max ? sp.max : 65536;
        _cleanup_close_ int fd = nook_session_openat(s, process_ref, stream == NOOK_STREAM_STDERR ? "err" : "out",
                                                     O_RDONLY | O_NONBLOCK, 0);
        struct stat st = { 0 };
        /* no log yet is an empty one; any other failure is the frame's, with its cause */
        if ((fd < 0 && fd != -ENOENT) || (fd >= 0 && fstat(fd, &st) < 0))
                return nook_error_sys(err, fd < 0 ? -fd : errno, "stream_io: reading the %s capture log", sname);
        uint64_t size = (uint64_t)st.st_size, start = cursor > size ? size : cursor;
        size_t n = (size_t)(size - start < max ? size - start : max);
        _cleanup_free_ unsigned char *buf = malloc(n + 1);
        if (!buf)
                return nook_error_oom(err);
        for (size_t got = 0; got < n;) {
                ssize_t k = pread(fd, buf + got, n - got, (off_t)(start + got));
                if (k <= 0) {
                        n = got;
                        break;
                }
                got += (size_t)k;
        }
        f->stream = stream;
        f->cursor = start + n;
        f->byte_count = n;
        f->truncated = start + n < size;
        if (asprintf(&f->stream_ref, "%s/%s", process_ref, sname) < 0)
                return nook_error_oom(err);
        int r = shape(f, buf, n, &sp, process_ref, sname, start, err);
        if (r < 0)
                return r;
        nook_exit_record rec;
        if (start + n >= size && nook_exit_record_read(s, process_ref, &rec) == 0 && rec.present) {
                /* the monitor drained every pipe before it wrote the record */
                if ((uint64_t)log_size(s, process_ref, stream == NOOK_STREAM_STDERR ? "err" : "out") == start + n) {
                        f->eof = f->has_eof = true;
                        f->exit_code = (uint64_t)rec.exit_code;
                        f->has_exit_code = true;
                }
        }
        return 0;
}

static int b64val(char c) {
        return c >= 'A' && c <= 'Z'   ? c - 'A'
               : c >= 'a' && c <= 'z' ? c - 'a' + 26
               : c >= '0' && c <= '9' ? c - '0' + 52
               : c == '+'             ? 62
               : c == '/'             ? 63
                                      : -1;
}

/* The codec checked the alphabet and padding already. */
static size_t unbase64(const char *in, unsigned char *out) {
        size_t n = 0;
        for (size_t i = 0; in[i] && in[i + 1] && in[i + 2] && in[i + 3]; i += 4) {
                uint32_t v = (uint32_t)b64val(in[i]) << 18 | (uint32_t)b64val(in[i + 1]) << 12;
                out[n++] = (unsigned char)(v >> 16);
                if (in[i + 2] != '=') {
                        v |= (uint32_t)b64val(in[i + 2]) << 6;
                        out[n++] = (unsigned char)(v >> 8);
                }
                if (in[i + 3] != '=')
                        out[n++] = (unsigned char)(v | (uint32_t)b64val(in[i + 3]));
        }
        return n;
}

static int write_stdin(const nook_session *s, const nook_stream_io_req *req, nook_io_frame *ret, nook_error **err) {
        nook_exit_record rec;
        if (nook_exit_record_read(s, req->process_ref, &rec) == 0 && rec.present)
                return nook_error_set(err, NOOK_ERROR_INVALID_STATE_TRANSITION, NOOK_RETRY_NOT_RETRYABLE, EPIPE,
                                      "stream_io: the process has exited; its stdin is gone");
        size_t len = req->data ? strlen(req->data) : 0;
        _cleanup_free_ unsigned char *bytes = malloc(len + 1);
        if (!bytes)
                return nook_error_oom(err);
        if (req->data && req->encoding == NOOK_ENCODING_BASE64)
                len = unbase64(req->data, bytes);
        else if (req->data)
                memcpy(bytes, req->data, len);
        nook_msg m = NOOK_MSG_INIT(NOOK_MSG_STDIN), reply = NOOK_MSG_INIT(0);
        int r = len ? nook_msg_add(&m, T_DATA, bytes, (uint32_t)len) : 0;
        if (r >= 0 && req->close)
                r = nook_msg_add_u64(&m, T_CLOSE, 1);
        r = r < 0 ? nook_session_compose_error(err, r, "stream_io: writing stdin")
                  : nook_session_request(s, req->process_ref, &m, &reply, 10000, "stream_io: writing stdin", err);
        nook_msg_done(&m);
        nook_msg_done(&reply);
        if (r < 0)
                return r;
        ret->stream = NOOK_STREAM_STDIN;
        ret->byte_count = len;
        if (asprintf(&ret->stream_ref, "%s/stdin", req->process_ref) < 0 ||
            asprintf(&ret->redacted_summary, "%zu bytes written%s", len, req->close ? ", stdin closed" : "") < 0)
                return nook_error_oom(err);
        return 0;
}

static uint64_t saved_cursor(const nook_session *s, const char *ref, const char *stream) {
        char name[32];
        snprintf(name, sizeof(name), ".cursor-%s", stream);
        _cleanup_fclose_ FILE *f = pfopen(s, ref, name);
        unsigned long long v = 0;
        return f && fscanf(f, "%llu", &v) == 1 ? v : 0;
}

static void save_cursor(const nook_session *s, const char *ref, const char *stream, uint64_t v) {
        char name[32], tmp[40];
        snprintf(name, sizeof(name), ".cursor-%s", stream);
        snprintf(tmp, sizeof(tmp), ".cursor-%s.%d", stream, (int)getpid());
        _cleanup_close_ int dfd = nook_session_openat(s, ref, NULL, O_PATH | O_DIRECTORY, 0);
        if (dfd < 0)
                return;
        (void)unlinkat(dfd, tmp, 0);
        _cleanup_close_ int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        char text[32];
        int n = snprintf(text, sizeof(text), "%llu\n", (unsigned long long)v);
        if (fd >= 0 && write(fd, text, (size_t)n) == n)
                (void)renameat(dfd, tmp, dfd, name);
}

int nook_userns_stream_io(void *state, nook_call_ctx *ctx, const nook_stream_io_req *req, nook_io_frame *ret,
                          nook_error **err) {
        _cleanup_(nook_session_freep) nook_session *s = NULL;
        int r = nook_process_session(ctx->config, req->process_ref, &s, err);
        if (r < 0)
                return r;
        if (req->stream == NOOK_STREAM_STDIN)
                return write_stdin(s, req, ret, err);
        const char *sname = req->stream == NOOK_STREAM_STDERR ? "stderr" : "stdout";
        uint64_t cursor = req->has_cursor ? req->cursor : saved_cursor(s, req->process_ref, sname);
        grow_wait g = { .log = req->stream == NOOK_STREAM_STDERR ? "err" : "out", .cursor = cursor };
        wait_dir(s, req->process_ref, (int64_t)req->wait_ms, grew_or_exited, &g);
        stream_policy sp;
        read_policy(s, req->process_ref, sname, &sp);
        uint64_t max = req->has_max_bytes ? req->max_bytes : 0;
        if (sp.max && (!max || max > sp.max))
                max = sp.max;
        r = nook_io_frame_fill(s, req->process_ref, req->stream, cursor, max, NULL, ret, err);
        if (r >= 0)
                save_cursor(s, req->process_ref, sname, ret->cursor);
        return r;
}

int nook_userns_read_content(void *state, nook_call_ctx *ctx, const nook_read_content_req *req,
                             nook_content_result *ret, nook_error **err) {
        char ref[NOOK_PROCESS_REF_LEN], stream[8];
        unsigned long long a, b;
        int used = 0;
        if (sscanf(req->content_ref, "%43[^/]/%7[a-z]/%llu-%llu%n", ref, stream, &a, &b, &used) != 4 ||
            (size_t)used != strlen(req->content_ref) || b < a || (strcmp(stream, "stdout") && strcmp(stream, "stderr")))
                return nook_error_field(err, NOOK_ERROR_CONTRACT_VIOLATION, "/content_ref",
                                        "not a content ref nook issued (<process_ref>/<stream>/<start>-<end>)");
        _cleanup_(nook_session_freep) nook_session *s = NULL;
        int r = nook_process_session(ctx->config, ref, &s, err);
        if (r < 0)
                return r;
        /* refs are easy to spell: only a stream whose policy gives them is read back */
        stream_policy sp;
        read_policy(s, ref, stream, &sp);
        if (!gives_refs(&sp))
                return nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_NOT_RETRYABLE, EACCES,
                                      "read_content: the io policy of this process's %s gives no content refs "
                                      "(capture %s)",
                                      stream,
                                      sp.capture == NOOK_CAPTURE_OFF             ? "off"
                                      : sp.capture == NOOK_CAPTURE_METADATA_ONLY ? "metadata_only"
                                                                                 : "redacted_summary without "
                                                                                   "content_ref_mode");
        uint64_t len = b - a;
        if (req->has_max_bytes && len > req->max_bytes)
                len = req->max_bytes;
        nook_stream_policy raw = { .default_capture = NOOK_CAPTURE_RAW_IF_ALLOWED };
        nook_io_frame f = { 0 };
        r = nook_io_frame_fill(s, ref, strcmp(stream, "stderr") == 0 ? NOOK_STREAM_STDERR : NOOK_STREAM_STDOUT, a,
                               len ? len : 1, &raw, &f, err);
        if (r >= 0) {
                ret->content_ref = strdup(req->content_ref);
                ret->byte_count = len ? f.byte_count : 0;
                ret->content_hash = TAKE_PTR(f.content_hash);
                ret->data = len ? TAKE_PTR(f.data) : strdup("");
                ret->encoding = TAKE_PTR(f.encoding);
                if (!ret->content_ref || !ret->data)
                        r = nook_error_oom(err);
        }
        nook_schema_clear(&nook_schema_io_frame, &f);
        return r;
}
