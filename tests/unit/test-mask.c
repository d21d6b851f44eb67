/* Unit tests of src/util/mask.c: each encoding found inside text, any split of the input
 * giving the same output, streams kept apart, overlaps, weak values, and a randomised
 * check that nothing of a secret survives, and the stream against a naive matcher over
 * random texts cut at random.  The encoders here are the test's own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/macro.h"
#include "util/mask.h"

/* ---- helpers ---- */

typedef struct sink {
        char *buf;
        size_t len, cap;
        size_t calls;
} sink;

static int sink_emit(const void *b, size_t n, void *userdata) {
        sink *k = userdata;
        assert_true(n > 0);
        if (k->len + n + 1 > k->cap) {
                k->cap = (k->len + n + 1) * 2;
                k->buf = realloc(k->buf, k->cap);
                assert_non_null(k->buf);
        }
        memcpy(k->buf + k->len, b, n);
        k->len += n;
        k->buf[k->len] = '\0';
        k->calls++;
        return 0;
}

static void sink_done(sink *k) {
        free(k->buf);
        *k = (sink){ 0 };
}

/* Masks in through one stream, fed in the pieces that the split points cut (sorted,
 * each in [0, n]), with nook_mask_feed() or (room) nook_mask_feed_room(); the output is
 * NUL-terminated, its length in *ret_len. */
static char *mask_split_with(const nook_mask *m, const void *in, size_t n, const size_t *cuts, size_t n_cuts, bool room,
                             size_t *ret_len) {
        nook_mask_stream *s = NULL;
        assert_int_equal(nook_mask_stream_new(m, &s), 0);
        sink k = { .buf = calloc(1, 1), .cap = 1 };
        assert_non_null(k.buf);
        size_t at = 0;
        for (size_t i = 0; i <= n_cuts; i++) {
                size_t to = i < n_cuts ? cuts[i] : n;
                /* each piece in a buffer of its own, junk after it: a read past a feed's
                 * end sees other bytes than the stream's next ones */
                char *buf = malloc(NOOK_MASK_ROOM + to - at + 64), *piece = buf + NOOK_MASK_ROOM;
                assert_non_null(buf);
                memset(buf, 0x5a, NOOK_MASK_ROOM);
                memcpy(piece, (const char *)in + at, to - at);
                memset(piece + (to - at), 0xa5, 64);
                if (room)
                        assert_int_equal(nook_mask_feed_room(s, piece, to - at, sink_emit, &k), 0);
                else
                        assert_int_equal(nook_mask_feed(s, piece, to - at, sink_emit, &k), 0);
                free(buf);
                at = to;
        }
        assert_int_equal(nook_mask_flush(s, sink_emit, &k), 0);
        nook_mask_stream_free(s);
        k.buf[k.len] = '\0';
        if (ret_len)
                *ret_len = k.len;
        return k.buf;
}

static char *mask_split(const nook_mask *m, const void *in, size_t n, const size_t *cuts, size_t n_cuts,
                        size_t *ret_len) {
        return mask_split_with(m, in, n, cuts, n_cuts, false, ret_len);
}

static char *mask_all(const nook_mask *m, const void *in, size_t n, size_t *ret_len) {
        return mask_split(m, in, n, NULL, 0, ret_len);
}

static char *mask_str(const nook_mask *m, const char *in) {
        return mask_all(m, in, strlen(in), NULL);
}

static nook_mask *build1(const char *ref, const void *value, size_t len) {
        nook_mask *m = NULL;
        assert_int_equal(nook_mask_new(&m), 0);
        assert_int_equal(nook_mask_add(m, ref, value, len), 0);
        assert_int_equal(nook_mask_build(m), 0);
        return m;
}

static const char B64_STD[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char B64_URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* RFC 4648 base64, with padding. */
static char *b64(const uint8_t *v, size_t n, const char *alphabet) {
        char *o = malloc(4 * (n / 3 + 1) + 1), *p = o;
        for (size_t i = 0; i < n; i += 3) {
                uint32_t x =
                        (uint32_t)v[i] << 16 | (i + 1 < n ? (uint32_t)v[i + 1] << 8 : 0) | (i + 2 < n ? v[i + 2] : 0);
                *p++ = alphabet[x >> 18 & 63];
                *p++ = alphabet[x >> 12 & 63];
                *p++ = i + 1 < n ? alphabet[x >> 6 & 63] : '=';
                *p++ = i + 2 < n ? alphabet[x & 63] : '=';
        }
        *p = '\0';
        return o;
}

static char *hex(const uint8_t *v, size_t n, bool upper) {
        char *o = malloc(2 * n + 1);
        for (size_t i = 0; i < n; i++)
                sprintf(o + 2 * i, upper ? "%02X" : "%02x", v[i]);
        o[2 * n] = '\0';
        return o;
}

static char *url(const uint8_t *v, size_t n) {
        char *o = malloc(3 * n + 1), *p = o;
        for (size_t i = 0; i < n; i++)
                if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~", v[i]) && v[i])
                        *p++ = (char)v[i];
                else
                        p += sprintf(p, "%%%02X", v[i]);
        *p = '\0';
        return o;
}

static char *json(const uint8_t *v, size_t n) {
        char *o = malloc(6 * n + 1), *p = o;
        for (size_t i = 0; i < n; i++)
                if (v[i] == '"' || v[i] == '\\')
                        p += sprintf(p, "\\%c", v[i]);
                else if (v[i] && strchr("\b\f\n\r\t", v[i]))
                        p += sprintf(p, "\\%c", "bfnrt"[strchr("\b\f\n\r\t", v[i]) - "\b\f\n\r\t"]);
                else if (v[i] < 0x20)
                        p += sprintf(p, "\\u%04x", v[i]);
                else
                        *p++ = (char)v[i];
        *p = '\0';
        return o;
}

static bool contains(const char *hay, size_t n, const char *needle) {
        return memmem(hay, n, needle, strlen(needle)) != NULL;
}

static const char *ref_of_weak(const nook_mask *m, size_t i, const char **why) {
        return nook_mask_weak(m, i, why);
}

/* ---- tests ---- */

static void test_ref_grammar(void **state) {
        _cleanup_(nook_mask_freep) nook_mask *m = NULL;
        assert_int_equal(nook_mask_new(&m), 0);
        char long_ref[NOOK_MASK_REF_MAX + 2];
        memset(long_ref, 'a', sizeof(long_ref) - 1);
        long_ref[sizeof(long_ref) - 1] = '\0';
        const char *bad[] = { "", "a b", "a]", "x\n", "[REDACTED:x]", "é", long_ref, NULL };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(nook_mask_add(m, bad[i], "0123456789", 10), -EINVAL);
        long_ref[NOOK_MASK_REF_MAX] = '\0';
        assert_int_equal(nook_mask_add(m, long_ref, "0123456789", 10), 0);
        assert_int_equal(nook_mask_add(m, "db.password-1_X", "0123456789", 10), 0);
        assert_null(nook_mask_weak(m, 0, NULL));
}

static void test_raw_masked_inside_text(void **state) {
        _cleanup_(nook_mask_freep) nook_mask *m = build1("db", "hunter2hunter2", 14);
        _cleanup_free_ char *o = mask_str(m, "login ok, password=hunter2hunter2; again:hunter2hunter2\n");
        assert_string_equal(o, "login ok, password=[REDACTED:db]; again:[REDACTED:db]\n");
        _cleanup_free_ char *same = mask_str(m, "hunter2hunter hunter2hunter3 no secret here");
        assert_string_equal(same, "hunter2hunter hunter2hunter3 no secret here");
}

static void test_hex_lower_and_upper(void **state) {
        const char v[] = "s3cr3t-t0ken!";
        _cleanup_(nook_mask_freep) nook_mask *m = build1("tok", v, strlen(v));
        _cleanup_free_ char *lo = hex((const uint8_t *)v, strlen(v), false);
        _cleanup_free_ char *up = hex((const uint8_t *)v, strlen(v), true);
        char in[256];
        snprintf(in, sizeof(in), "a=%s b=%s.", lo, up);
        _cleanup_free_ char *o = mask_str(m, in);
        assert_string_equal(o, "a=[REDACTED:tok] b=[REDACTED:tok].");
}

/* The characters of enc that carry only the secret's bits: with every neighbour byte
 * flipped, the others all change. */
static void core_range(const char *enc, const char *flipped, size_t *lo, size_t *hi) {
        size_t best = 0, n = strlen(enc);
        *lo = *hi = 0;
        for (size_t i = 0; i < n;) {
                size_t j = i;
                while (j < n && enc[j] == flipped[j] && enc[j] != '=')
                        j++;
                if (j - i > best) {
                        best = j - i;
                        *lo = i;
                        *hi = j;
                }
                i = j + 1;
        }
}

static void test_base64_every_alignment_both_alphabets(void **state) {
        /* \xfb\xef\xbe encodes as "++++" (std) and "----" (url); \xff\xff\xff as "////" */
        const uint8_t secret[] = "\xfb\xef\xbe\xff\xff\xffkey=Zq8.v1!\x01\x80tail";
        size_t n = sizeof(secret) - 1;
        _cleanup_(nook_mask_freep) nook_mask *m = build1("b64", secret, n);
        const char *alphabets[] = { B64_STD, B64_URL };
        for (size_t a = 0; a < 2; a++)
                for (size_t pre = 0; pre < 6; pre++)
                        for (size_t suf = 1; suf < 4; suf++) {
                                uint8_t buf[64], flip[64];
                                for (size_t i = 0; i < pre; i++)
                                        buf[i] = (uint8_t)(0x41 + 7 * i);
                                memcpy(buf + pre, secret, n);
                                for (size_t i = 0; i < suf; i++)
                                        buf[pre + n + i] = (uint8_t)(0x30 + 5 * i);
                                memcpy(flip, buf, pre + n + suf);
                                for (size_t i = 0; i < pre; i++)
                                        flip[i] ^= 0xff;
                                for (size_t i = 0; i < suf; i++)
                                        flip[pre + n + i] ^= 0xff;
                                _cleanup_free_ char *enc = b64(buf, pre + n + suf, alphabets[a]);
                                _cleanup_free_ char *fenc = b64(flip, pre + n + suf, alphabets[a]);
                                size_t lo, hi;
                                core_range(enc, fenc, &lo, &hi);
                                assert_true(hi - lo >= (8 * n) / 6 - 2);
                                char in[256], want[256];
                                snprintf(in, sizeof(in), "data: %s\n", enc);
                                snprintf(want, sizeof(want), "data: %.*s[REDACTED:b64]%s\n", (int)lo, enc, enc + hi);
                                _cleanup_free_ char *o = mask_str(m, in);
                                assert_string_equal(o, want);
                        }
}

static void test_url_encoding_and_form_plus(void **state) {
        const char v[] = "p@ss w0rd/?&=x";
        _cleanup_(nook_mask_freep) nook_mask *m = build1("u", v, strlen(v));
        _cleanup_free_ char *o = mask_str(m, "GET /?pw=p%40ss%20w0rd%2F%3F%26%3Dx&b=p%40ss+w0rd%2f%3f%26%3dx HTTP/1.1");
        assert_string_equal(o, "GET /?pw=[REDACTED:u]&b=[REDACTED:u] HTTP/1.1");
        _cleanup_free_ char *raw = mask_str(m, "[p@ss w0rd/?&=x]");
        assert_string_equal(raw, "[[REDACTED:u]]");
}

static void test_url_variant_equal_to_raw_is_the_raw_pattern(void **state) {
        _cleanup_(nook_mask_freep) nook_mask *m = build1("plain", "Abc-def_123.x~", 14);
        _cleanup_free_ char *o = mask_str(m, "?k=Abc-def_123.x~&");
        assert_string_equal(o, "?k=[REDACTED:plain]&");
}

static void test_json_escaping(void **state) {
        const char v[] = "a\"b\\c/d\n\te\x01zz";
        _cleanup_(nook_mask_freep) nook_mask *m = build1("j", v, strlen(v));
        _cleanup_free_ char *o = mask_str(m, "{\"k\":\"a\\\"b\\\\c/d\\n\\te\\u0001zz\","
                                             "\"l\":\"a\\\"b\\\\c\\/d\\n\\te\\u0001zz\","
                                             "\"u\":\"a\\\"b\\\\c/d\\n\\te\\u0001zz\"}");
        assert_string_equal(o, "{\"k\":\"[REDACTED:j]\",\"l\":\"[REDACTED:j]\",\"u\":\"[REDACTED:j]\"}");
        /* Python's ensure_ascii form of non-ASCII UTF-8, with a surrogate pair */
        _cleanup_(nook_mask_freep) nook_mask *u = build1("py", "p\xc3\xa4ssw\xc3\xb6rd-\xf0\x9f\x94\x91", 15);
        _cleanup_free_ char *po = mask_str(u, "{\"pw\": \"p\\u00e4ssw\\u00f6rd-\\ud83d\\udd11\"}");
        assert_string_equal(po, "{\"pw\": \"[REDACTED:py]\"}");
}

static void test_every_split_gives_the_same_output(void **state) {
        _cleanup_(nook_mask_freep) nook_mask *m = NULL;
        assert_int_equal(nook_mask_new(&m), 0);
        assert_int_equal(nook_mask_add(m, "a", "correct horse battery", 21), 0);
        assert_int_equal(nook_mask_add(m, "b", "ZZtokenZZtoken", 14), 0);
        assert_int_equal(nook_mask_add(m, "c", "ZZtokenZZ", 9), 0);
        assert_int_equal(nook_mask_build(m), 0);
        const char in[] = "x correct horse battery y correct+horse+battery ZZtokenZZtokenZZtokenZZ "
                          "636f727265637420686f727365206261747465727 Y29ycmVjdCBob3JzZSBiYXR0ZXJ5 "
                          "ZZtokenZZ ZZtokenZ correct horse batter";
        size_t n = sizeof(in) - 1, want_len;
        _cleanup_free_ char *want = mask_all(m, in, n, &want_len);
        assert_string_equal(want, "x [REDACTED:a] y [REDACTED:a] [REDACTED:b][REDACTED:c] "
                                  "636f727265637420686f727365206261747465727 [REDACTED:a] "
                                  "[REDACTED:c] ZZtokenZ correct horse batter");
        for (size_t cut = 0; cut <= n; cut++) {
                _cleanup_free_ char *o = mask_split(m, in, n, &cut, 1, NULL);
                assert_string_equal(o, want);
        }
        size_t ones[sizeof(in)];
        for (size_t i = 0; i < n; i++)
                ones[i] = i + 1;
        _cleanup_free_ char *bytewise = mask_split(m, in, n, ones, n - 1, NULL);
        assert_string_equal(bytewise, want);
        srand(7);
        for (int round = 0; round < 300; round++) {
                size_t cuts[12];
                for (size_t i = 0; i < ELEMENTSOF(cuts); i++)
                        cuts[i] = (size_t)rand() % (n + 1);
                for (size_t i = 1; i < ELEMENTSOF(cuts); i++) /* insertion sort */
                        for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
                                size_t t = cuts[j];
                                cuts[j] = cuts[j - 1];
                                cuts[j - 1] = t;
                        }
                _cleanup_free_ char *o = mask_split(m, in, n, cuts, ELEMENTSOF(cuts), NULL);
                assert_string_equal(o, want);
        }
}

static void test_two_streams_are_independent(void **state) {
        _cleanup_(nook_mask_freep) nook_mask *m = NULL;
        assert_int_equal(nook_mask_new(&m), 0);
        assert_int_equal(nook_mask_add(m, "out", "stdout-secret-1", 15), 0);
        assert_int_equal(nook_mask_add(m, "err", "stderr-secret-2", 15), 0);
        assert_int_equal(nook_mask_build(m), 0);
        nook_mask_stream *o = NULL, *e = NULL;
        assert_int_equal(nook_mask_stream_new(m, &o), 0);
        assert_int_equal(nook_mask_stream_new(m, &e), 0);
        sink ko = { 0 }, ke = { 0 };
        const char *po[] = { "1 stdout-se", "cret", "-1 2" }, *pe[] = { "a stderr-sec", "ret-2 ", "stdout-secret-1" };
        for (size_t i = 0; i < 3; i++) {
                assert_int_equal(nook_mask_feed(o, po[i], strlen(po[i]), sink_emit, &ko), 0);
                assert_int_equal(nook_mask_feed(e, pe[i], strlen(pe[i]), sink_emit, &ke), 0);
        }
        assert_int_equal(nook_mask_flush(o, sink_emit, &ko), 0);
        assert_int_equal(nook_mask_flush(e, sink_emit, &ke), 0);
        assert_string_equal(ko.buf, "1 [REDACTED:out] 2");
        assert_string_equal(ke.buf, "a [REDACTED:err] [REDACTED:out]");
        /* a secret whose halves go to two streams is in neither: mask.h says so */
        nook_mask_stream_free(o);
        nook_mask_stream_free(e);
        sink_done(&ko);
        sink_done(&ke);
}

static void test_prefix_of_another_secret(void **state) {
        _cleanup_(nook_mask_freep) nook_mask *m = NULL;
        assert_int_equal(nook_mask_new(&m), 0);
        assert_int_equal(nook_mask_add(m, "short", "correcthorse", 12), 0);
        assert_int_equal(nook_mask_add(m, "long", "correcthorsebattery", 19), 0);
        assert_int_equal(nook_mask_build(m), 0);
        _cleanup_free_ char *o = mask_str(m, "1 correcthorsebattery 2 correcthorse staple 3 correcthorsebatter");
        assert_string_equal(o, "1 [REDACTED:long] 2 [REDACTED:short] staple 3 [REDACTED:short]batter");
}

static void test_overlapping_occurrences_leave_nothing(void **state) {
        _cleanup_(nook_mask_freep) nook_mask *m = NULL;
        assert_int_equal(nook_mask_new(&m), 0);
        assert_int_equal(nook_mask_add(m, "A", "abcdefgh1234", 12), 0);
        assert_int_equal(nook_mask_add(m, "B", "1234ijklmnop", 12), 0);
        assert_int_equal(nook_mask_add(m, "C", "abababab", 8), 0);
        assert_int_equal(nook_mask_build(m), 0);
        _cleanup_free_ char *o = mask_str(m, "<abcdefgh1234ijklmnop> <ababababab> <abcdefgh1234abcdefgh1234>");
        assert_string_equal(o, "<[REDACTED:A][REDACTED:B]> <[REDACTED:C]> <[REDACTED:A][REDACTED:A]>");
}

static void test_multiline_secret_lines_masked_one_by_one(void **state) {
        const char key[] = "-----BEGIN TEST KEY-----\r\nMIIEvQIBADANBgkqhkiG9w0BAQEF\r\nshort\r\n"
                           "AASCBKcwggSjAgEAAoIBAQC7\r\n-----END TEST KEY-----\r\n";
        _cleanup_(nook_mask_freep) nook_mask *m = build1("pem", key, strlen(key));
        const char *why = NULL;
        assert_string_equal(ref_of_weak(m, 0, &why), "pem");
        assert_non_null(strstr(why, "line shorter than 8"));
        assert_null(ref_of_weak(m, 1, NULL));
        /* whole: one marker; printed with \n only (each line found alone); short stays */
        char in[512];
        snprintf(in, sizeof(in), "%s|", key);
        _cleanup_free_ char *whole = mask_str(m, in);
        assert_string_equal(whole, "[REDACTED:pem]|");
        _cleanup_free_ char *o = mask_str(m, "-----BEGIN TEST KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEF\nshort\n"
                                             "AASCBKcwggSjAgEAAoIBAQC7\n-----END TEST KEY-----\n");
        assert_string_equal(o, "[REDACTED:pem]\n[REDACTED:pem]\nshort\n[REDACTED:pem]\n[REDACTED:pem]\n");
}

static void test_short_value_is_weak_and_not_masked(void **state) {
        _cleanup_(nook_mask_freep) nook_mask *m = NULL;
        assert_int_equal(nook_mask_new(&m), 0);
        assert_int_equal(nook_mask_add(m, "pin", "1234", 4), 0);
        assert_int_equal(nook_mask_add(m, "empty", "", 0), 0);
        assert_int_equal(nook_mask_add(m, "ok", "12345678", 8), 0);
        assert_int_equal(nook_mask_build(m), 0);
        const char *why = NULL;
        assert_string_equal(nook_mask_weak(m, 0, &why), "pin");
        assert_string_equal(why, "shorter than 8 bytes: not masked");
        assert_string_equal(nook_mask_weak(m, 1, &why), "empty");
        assert_null(nook_mask_weak(m, 2, &why));
        _cleanup_free_ char *o = mask_str(m, "pin 1234, id 12345678");
        assert_string_equal(o, "pin 1234, id [REDACTED:ok]");
}

static void test_too_long_value_masked_by_lines(void **state) {
        size_t n = NOOK_MASK_MAX_VALUE + 100;
        _cleanup_free_ char *v = malloc(n + 1);
        for (size_t i = 0; i < n; i++)
                v[i] = i % 50 == 49 ? '\n' : (char)('a' + (i * 7 + i / 50) % 26);
        v[n] = '\0';
        _cleanup_(nook_mask_freep) nook_mask *m = build1("big", v, n);
        const char *why = NULL;
        assert_string_equal(nook_mask_weak(m, 0, &why), "big");
        assert_non_null(strstr(why, "only its lines"));
        size_t olen;
        _cleanup_free_ char *o = mask_all(m, v, 200, &olen);
        assert_string_equal(o, "[REDACTED:big]\n[REDACTED:big]\n[REDACTED:big]\n[REDACTED:big]\n");
}

/* At most (longest pattern - 1) bytes wait for the next feed; flush lets them go. */
static void test_holds_back_only_a_possible_start(void **state) {
        _cleanup_(nook_mask_freep) nook_mask *m = build1("s", "SECRETVALUE123", 14);
        nook_mask_stream *s = NULL;
        assert_int_equal(nook_mask_stream_new(m, &s), 0);
        sink k = { 0 };
        assert_int_equal(nook_mask_feed(s, "hello SECRETVAL", 15, sink_emit, &k), 0);
        assert_int_equal(k.len, 6);
        assert_memory_equal(k.buf, "hello ", 6);
        assert_int_equal(nook_mask_feed(s, "UE12", 4, sink_emit, &k), 0);
        assert_int_equal(k.len, 6);
        assert_int_equal(nook_mask_flush(s, sink_emit, &k), 0);
        assert_string_equal(k.buf, "hello SECRETVALUE12");
        assert_int_equal(nook_mask_feed(s, "3 SECRETVALUE123 and more text", 30, sink_emit, &k), 0);
        assert_string_equal(k.buf, "hello SECRETVALUE123 [REDACTED:s] and more text");
        nook_mask_stream_free(s);
        sink_done(&k);
}

/* With room in front of the feed, the bytes held back from the last one go out with the
 * new ones, in one emit; without, in two (when the new ones are many: a few are copied
 * after them either way). */
static void test_feed_room_joins_held_and_new_bytes(void **state) {
        _cleanup_(nook_mask_freep) nook_mask *m = build1("s", "SECRETVALUE123", 14);
        char long_piece[700], want[800];
        snprintf(long_piece, sizeof(long_piece), "UE12, then %0600d more.", 0);
        snprintf(want, sizeof(want), "hello SECRETVAL%s. [REDACTED:s] end.", long_piece);
        const char *const pieces[] = { "hello SECRETVAL", long_piece, ". SECRETVALUE1", "23 end." };
        static const size_t calls[2][4] = { { 1, 3, 4, 5 }, { 1, 2, 3, 4 } }; /* emits so far */
        for (int room = 0; room < 2; room++) {
                _cleanup_(nook_mask_stream_freep) nook_mask_stream *s = NULL;
                assert_int_equal(nook_mask_stream_new(m, &s), 0);
                sink k = { 0 };
                for (size_t i = 0; i < ELEMENTSOF(pieces); i++) {
                        char buf[NOOK_MASK_ROOM + sizeof(long_piece)];
                        memset(buf, '#', sizeof(buf));
                        size_t n = strlen(pieces[i]);
                        memcpy(buf + NOOK_MASK_ROOM, pieces[i], n);
                        if (room)
                                assert_int_equal(nook_mask_feed_room(s, buf + NOOK_MASK_ROOM, n, sink_emit, &k), 0);
                        else
                                assert_int_equal(nook_mask_feed(s, buf + NOOK_MASK_ROOM, n, sink_emit, &k), 0);
                        assert_int_equal(k.calls, calls[room][i]);
                }
                assert_int_equal(nook_mask_flush(s, sink_emit, &k), 0);
                assert_int_equal(k.calls, calls[room][3]);
                assert_string_equal(k.buf, want);
                sink_done(&k);
        }
        /* more held back than the room holds: the two emits again, the same bytes */
        char v[100], in[200];
        for (size_t i = 0; i < sizeof(v); i++)
                v[i] = (char)('a' + (i * 7) % 26);
        _cleanup_(nook_mask_freep) nook_mask *big = build1("big", v, sizeof(v));
        memcpy(in, "<<", 2);
        memcpy(in + 2, v, 90); /* 90 bytes that may start the secret: held */
        memcpy(in + 92, "..", 2);
        size_t cut = 92, len;
        _cleanup_free_ char *o = mask_split_with(big, in, 94, &cut, 1, true, &len);
        assert_memory_equal(o, in, 94);
        assert_int_equal(len, 94);
}

static int failing_emit(const void *b, size_t n, void *userdata) {
        return -EPIPE;
}

static void test_emit_failure_stops_the_stream(void **state) {
        _cleanup_(nook_mask_freep) nook_mask *m = build1("s", "SECRETVALUE123", 14);
        _cleanup_(nook_mask_stream_freep) nook_mask_stream *s = NULL;
        assert_int_equal(nook_mask_stream_new(m, &s), 0);
        assert_int_equal(nook_mask_feed(s, "abc", 3, failing_emit, NULL), -EPIPE);
        sink k = { 0 };
        assert_int_equal(nook_mask_feed(s, "abc", 3, sink_emit, &k), -EPIPE);
        assert_int_equal(nook_mask_flush(s, sink_emit, &k), -EPIPE);
        assert_int_equal(k.len, 0);
}

static void test_lifecycle(void **state) {
        nook_mask *m = NULL;
        assert_int_equal(nook_mask_new(&m), 0);
        nook_mask_stream *s = NULL;
        assert_int_equal(nook_mask_stream_new(m, &s), -EINVAL);
        assert_int_equal(nook_mask_add(m, "a", "0123456789", 10), 0);
        assert_int_equal(nook_mask_build(m), 0);
        assert_int_equal(nook_mask_build(m), -EBUSY);
        assert_int_equal(nook_mask_add(m, "b", "0123456789", 10), -EBUSY);
        assert_true(nook_mask_size(m) > 0);
        assert_int_equal(nook_mask_stream_new(m, &s), 0);
        assert_null(nook_mask_stream_free(s));
        /* free wipes the mapping before it unmaps it (ASan sees no stray access) */
        assert_null(nook_mask_free(m));
        assert_null(nook_mask_free(NULL));
        assert_null(nook_mask_stream_free(NULL));
        /* an empty set passes everything through */
        _cleanup_(nook_mask_freep) nook_mask *e = NULL;
        assert_int_equal(nook_mask_new(&e), 0);
        assert_int_equal(nook_mask_build(e), 0);
        _cleanup_free_ char *o = mask_str(e, "nothing to hide");
        assert_string_equal(o, "nothing to hide");
}

/* ---- randomised: secrets and their encodings dropped into random text ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint32_t rnd(void) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return (uint32_t)(rng_state >> 11);
}

#define N_SECRETS 12

#define FUZZ_MAX 200

typedef struct fuzz_secret {
        uint8_t v[FUZZ_MAX];
        size_t n;
        char *enc[12]; /* forms that must never survive */
        size_t n_enc;
} fuzz_secret;

/* lo..hi bytes: the shortest sets the prefilter's stride (mask.c scan()). */
static void fuzz_secret_make(fuzz_secret *f, bool binary, size_t lo, size_t hi) {
        static const char printable[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-.:@!\"\\ ";
        f->n = lo + rnd() % (hi - lo + 1);
        for (size_t i = 0; i < f->n; i++)
                f->v[i] = binary ? (uint8_t)rnd() : (uint8_t)printable[rnd() % (sizeof(printable) - 1)];
        f->n_enc = 0;
        f->enc[f->n_enc] = malloc(f->n + 1);
        memcpy(f->enc[f->n_enc], f->v, f->n);
        f->enc[f->n_enc++][f->n] = '\0';
        f->enc[f->n_enc++] = hex(f->v, f->n, false);
        f->enc[f->n_enc++] = hex(f->v, f->n, true);
        f->enc[f->n_enc++] = url(f->v, f->n);
        f->enc[f->n_enc++] = json(f->v, f->n);
        for (size_t a = 0; a < 3; a++) {
                uint8_t buf[FUZZ_MAX + 8] = { 0 };
                memcpy(buf + a, f->v, f->n);
                for (size_t k = 0; k < 2; k++) {
                        char *e = b64(buf, a + f->n, k ? B64_URL : B64_STD);
                        /* the characters of whole 6-bit groups of the value's bits (what
                         * test_base64_every_alignment_both_alphabets checks by flipping) */
                        size_t from = (8 * a + 5) / 6, to = 8 * (a + f->n) / 6;
                        memmove(e, e + from, to - from);
                        e[to - from] = '\0';
                        f->enc[f->n_enc++] = e;
                }
        }
}

/* Text: random words and bytes, with the secrets' forms dropped in; base64 forms sit
 * inside a longer base64 text at a random offset. */
static size_t fuzz_text(char *out, size_t cap, fuzz_secret *s, bool binary) {
        size_t n = 0;
        while (n + 6 * FUZZ_MAX + 100 < cap) {
                uint32_t what = rnd() % 10;
                fuzz_secret *f = &s[rnd() % N_SECRETS];
                if (what < 4) {
                        size_t k = 1 + rnd() % 40;
                        for (size_t i = 0; i < k; i++)
                                out[n++] = binary ? (char)rnd() : (char)(' ' + rnd() % 95);
                } else if (what < 8) {
                        const char *e = f->enc[rnd() % 5];
                        size_t len = e == f->enc[0] ? f->n : strlen(e);
                        memcpy(out + n, e, len);
                        n += len;
                } else {
                        uint8_t buf[FUZZ_MAX + 16];
                        size_t pre = rnd() % 6, suf = rnd() % 4;
                        for (size_t i = 0; i < pre; i++)
                                buf[i] = (uint8_t)rnd();
                        memcpy(buf + pre, f->v, f->n);
                        for (size_t i = 0; i < suf; i++)
                                buf[pre + f->n + i] = (uint8_t)rnd();
                        _cleanup_free_ char *e = b64(buf, pre + f->n + suf, what == 8 ? B64_STD : B64_URL);
                        n += (size_t)sprintf(out + n, "%s", e);
                }
        }
        return n;
}

static void fuzz_round(bool binary, size_t lo, size_t hi) {
        fuzz_secret s[N_SECRETS];
        _cleanup_(nook_mask_freep) nook_mask *m = NULL;
        assert_int_equal(nook_mask_new(&m), 0);
        for (size_t i = 0; i < N_SECRETS; i++) {
                fuzz_secret_make(&s[i], binary && i % 2, lo, hi);
                char ref[16];
                snprintf(ref, sizeof(ref), "k%zu", i);
                assert_int_equal(nook_mask_add(m, ref, s[i].v, s[i].n), 0);
        }
        assert_int_equal(nook_mask_build(m), 0);
        static char text[20000];
        size_t n = fuzz_text(text, sizeof(text), s, binary), olen, rlen, slen;
        _cleanup_free_ char *o = mask_all(m, text, n, &olen);
        for (size_t i = 0; i < N_SECRETS; i++)
                for (size_t e = 0; e < s[i].n_enc; e++) {
                        size_t len = e == 0 ? s[i].n : strlen(s[i].enc[e]);
                        if (memmem(o, olen, s[i].enc[e], len))
                                fail_msg("secret %zu (%zu bytes) survives in form %zu", i, s[i].n, e);
                }
        /* no pattern at all is left: masking again changes nothing */
        _cleanup_free_ char *again = mask_all(m, o, olen, &rlen);
        assert_int_equal(rlen, olen);
        assert_memory_equal(again, o, olen);
        size_t cuts[40];
        for (size_t i = 0; i < ELEMENTSOF(cuts); i++)
                cuts[i] = i == 0 ? rnd() % 64 : cuts[i - 1] + rnd() % (2 * n / ELEMENTSOF(cuts));
        for (size_t i = 0; i < ELEMENTSOF(cuts); i++)
                if (cuts[i] > n)
                        cuts[i] = n;
        _cleanup_free_ char *split = mask_split(m, text, n, cuts, ELEMENTSOF(cuts), &slen);
        assert_int_equal(slen, olen);
        assert_memory_equal(split, o, olen);
        assert_true(contains(o, olen, "[REDACTED:k"));
        for (size_t i = 0; i < N_SECRETS; i++)
                for (size_t e = 0; e < s[i].n_enc; e++)
                        free(s[i].enc[e]);
}

static void test_random_texts_keep_no_secret(void **state) {
        static const size_t lengths[][2] = { { 20, 64 }, { 8, 12 }, { 65, FUZZ_MAX } };
        for (int round = 0; round < 60; round++)
                fuzz_round(round % 2, lengths[round % 3][0], lengths[round % 3][1]);
}

/* ---- differential: the stream against a naive matcher over the same patterns ---- */

/* Values of the letters and digits below: their URL and JSON forms are the raw bytes and
 * they have no line, so the patterns are exactly these: raw, hex (lower, upper) and the
 * base64 and base64url cores at the three alignments (what mask.h lists). */
#define REF_FORMS 9

typedef struct ref_secret {
        uint8_t v[FUZZ_MAX];
        size_t n;
        char *form[REF_FORMS];
        size_t len[REF_FORMS];
} ref_secret;

static void ref_secret_forms(ref_secret *r) {
        r->form[0] = malloc(r->n + 1);
        memcpy(r->form[0], r->v, r->n);
        r->form[0][r->n] = '\0';
        r->form[1] = hex(r->v, r->n, false);
        r->form[2] = hex(r->v, r->n, true);
        for (size_t a = 0; a < 3; a++) {
                uint8_t buf[FUZZ_MAX + 8] = { 0 };
                memcpy(buf + a, r->v, r->n);
                for (size_t k = 0; k < 2; k++) {
                        char *e = b64(buf, a + r->n, k ? B64_URL : B64_STD);
                        size_t from = (8 * a + 5) / 6, to = 8 * (a + r->n) / 6;
                        memmove(e, e + from, to - from);
                        e[to - from] = '\0';
                        r->form[3 + 2 * a + k] = e;
                }
        }
        for (size_t f = 0; f < REF_FORMS; f++)
                r->len[f] = strlen(r->form[f]);
}

/* The output mask.h defines, from every occurrence of every form at every position:
 * the longest per start (the earlier secret for the same bytes), then each run of
 * overlapping occurrences as one marker per secret in order of start. */
static char *ref_mask(const ref_secret *sec, size_t n_sec, const char *in, size_t n, size_t *ret_len) {
        size_t *best = calloc(n + 1, sizeof(size_t)), *who = calloc(n + 1, sizeof(size_t));
        char *o = malloc(n * 32 + 1);
        assert_true(best && who && o);
        for (size_t x = 0; x < n; x++)
                for (size_t i = 0; i < n_sec; i++)
                        for (size_t f = 0; f < REF_FORMS; f++) {
                                size_t len = sec[i].len[f];
                                if (len > best[x] && len <= n - x && in[x] == sec[i].form[f][0] &&
                                    memcmp(in + x, sec[i].form[f], len) == 0) {
                                        best[x] = len;
                                        who[x] = i;
                                }
                        }
        size_t olen = 0, cover_end = 0, cover_sec = SIZE_MAX;
        for (size_t x = 0; x < n; x++) {
                if (best[x] && x + best[x] > cover_end) {
                        if (x >= cover_end || who[x] != cover_sec)
                                olen += (size_t)sprintf(o + olen, "[REDACTED:r%zu]", who[x]);
                        cover_end = x + best[x];
                        cover_sec = who[x];
                }
                if (x >= cover_end)
                        o[olen++] = in[x];
        }
        o[olen] = '\0';
        free(best);
        free(who);
        *ret_len = olen;
        return o;
}

/* A run of text that comes close to the forms: random letters of a small alphabet (any
 * byte when it is NULL), a form, a form cut short, two forms glued over a shared stretch,
 * a form repeated. */
static size_t diff_text(char *out, size_t cap, const ref_secret *sec, size_t n_sec, const char *alphabet) {
        size_t n = 0, k = alphabet ? strlen(alphabet) : 0;
        while (n + 4 * FUZZ_MAX * 2 + 64 < cap) {
                const ref_secret *r = &sec[rnd() % n_sec];
                size_t f = rnd() % 3 ? 0 : rnd() % REF_FORMS, len = r->len[f];
                switch (rnd() % 6) {
                case 0:
                case 1:
                        for (size_t i = 1 + rnd() % 24; i > 0; i--)
                                out[n++] = alphabet ? alphabet[rnd() % k] : (char)rnd();
                        break;
                case 2:
                        memcpy(out + n, r->form[f], len);
                        n += len;
                        break;
                case 3: {
                        size_t cut = len - 1 - rnd() % 4;
                        memcpy(out + n, r->form[f], cut);
                        n += cut;
                        break;
                }
                case 4: { /* the tail of one form runs into another, or into itself */
                        const ref_secret *q = &sec[rnd() % n_sec];
                        size_t keep = rnd() % len;
                        memcpy(out + n, r->form[f] + keep, len - keep);
                        n += len - keep;
                        memcpy(out + n, q->form[f], q->len[f]);
                        n += q->len[f];
                        break;
                }
                default:
                        for (size_t i = 0, shift = 1 + rnd() % len; i < 2 * len; i++)
                                out[n++] = r->form[f][(i * shift / 2) % len];
                        break;
                }
        }
        return n;
}

/* Random cuts (sorted), sometimes a feed of one byte or of nothing. */
static size_t diff_cuts(size_t *cuts, size_t max, size_t n) {
        size_t count = rnd() % (max + 1);
        for (size_t i = 0; i < count; i++)
                cuts[i] = rnd() % 4 == 0 && i > 0 ? cuts[i - 1] + rnd() % 2 : rnd() % (n + 1);
        for (size_t i = 0; i < count; i++)
                if (cuts[i] > n)
                        cuts[i] = n;
        for (size_t i = 1; i < count; i++) /* insertion sort */
                for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
                        size_t t = cuts[j];
                        cuts[j] = cuts[j - 1];
                        cuts[j - 1] = t;
                }
        return count;
}

static void diff_round(size_t n_sec, size_t lo, size_t hi, const char *alphabet, const char *filler) {
        static ref_secret sec[128];
        static char text[40000];
        _cleanup_(nook_mask_freep) nook_mask *m = NULL;
        assert_int_equal(nook_mask_new(&m), 0);
        size_t k = strlen(alphabet);
        for (size_t i = 0; i < n_sec; i++) {
                ref_secret *r = &sec[i];
                r->n = lo + rnd() % (hi - lo + 1);
                size_t period = rnd() % 3 ? r->n : 1 + rnd() % 4; /* some repeat themselves */
                for (size_t j = 0; j < r->n; j++)
                        r->v[j] = j < period ? (uint8_t)alphabet[rnd() % k] : r->v[j - period];
                ref_secret_forms(r);
                char ref[32];
                snprintf(ref, sizeof(ref), "r%zu", i);
                assert_int_equal(nook_mask_add(m, ref, r->v, r->n), 0);
        }
        assert_int_equal(nook_mask_build(m), 0);
        size_t n = diff_text(text, sizeof(text), sec, n_sec, filler), want_len, got_len;
        _cleanup_free_ char *want = ref_mask(sec, n_sec, text, n, &want_len);
        for (int split = 0; split < 4; split++) {
                size_t cuts[64];
                size_t n_cuts = split == 0 ? 0 : diff_cuts(cuts, split == 3 ? ELEMENTSOF(cuts) : 8, n);
                _cleanup_free_ char *got = mask_split_with(m, text, n, cuts, n_cuts, split % 2, &got_len);
                if (got_len != want_len || memcmp(got, want, want_len) != 0) {
                        size_t d = 0;
                        while (d < got_len && d < want_len && got[d] == want[d])
                                d++;
                        fail_msg("%zu secrets of %zu-%zu bytes, %zu cuts: output differs at byte %zu of %zu "
                                 "(want %zu bytes): ...%.40s... vs ...%.40s...",
                                 n_sec, lo, hi, n_cuts, d, got_len, want_len, got + (d > 20 ? d - 20 : 0),
                                 want + (d > 20 ? d - 20 : 0));
                }
        }
        for (size_t i = 0; i < n_sec; i++)
                for (size_t f = 0; f < REF_FORMS; f++)
                        free(sec[i].form[f]);
}

#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

static void test_stream_equals_naive_matcher(void **state) {
        static const struct {
                size_t n_sec, lo, hi;
                const char *alphabet;
                bool any_byte; /* between the forms, random bytes rather than the alphabet */
        } shapes[] = {
                { 1, 8, 8, "ab", false },   /* the shortest, self-overlapping */
                { 3, 8, 12, "abc", false }, /* overlaps everywhere */
                { 10, 8, 16, "abcdefgh01", false },
                { 10, 20, 64, ALNUM, false },
                { 100, 20, 64, ALNUM, false },
                { 100, 20, 64, ALNUM, true },             /* the prefilter's false positives */
                { 40, 8, 64, "0123456789abcdef", false }, /* text that looks like hex */
                { 5, 70, 120, "xyXY", false },            /* every pattern past the prefilter's span */
        };
        for (int round = 0; round < 80; round++) {
                size_t s = (size_t)round % ELEMENTSOF(shapes);
                diff_round(shapes[s].n_sec, shapes[s].lo, shapes[s].hi, shapes[s].alphabet,
                           shapes[s].any_byte ? NULL : shapes[s].alphabet);
        }
}

/* The prefilter decides windows of (shortest pattern - 3) positions, four to a block,
 * and a window near a feed's end waits for more bytes: a secret at every offset from
 * the stream's start, cut by every feed boundary near it, is found; the bytes between
 * (random, so some windows pass the prefilter's first stage) go through unchanged. */
static void test_found_at_every_offset_and_cut(void **state) {
        _cleanup_(nook_mask_freep) nook_mask *m = NULL;
        assert_int_equal(nook_mask_new(&m), 0);
        const char a[] = "k3Jq-9vR_shortest!", b[] = "the-longer-one:Zx81b0Q"; /* 18 and 22 bytes */
        assert_int_equal(nook_mask_add(m, "a", a, strlen(a)), 0);
        assert_int_equal(nook_mask_add(m, "b", b, strlen(b)), 0);
        for (size_t i = 0; i < 20; i++) { /* more patterns: a fuller prefilter */
                char ref[32], v[24];
                snprintf(ref, sizeof(ref), "x%zu", i);
                for (size_t k = 0; k < sizeof(v); k++)
                        v[k] = (char)(' ' + rnd() % 95);
                assert_int_equal(nook_mask_add(m, ref, v, sizeof(v)), 0);
        }
        assert_int_equal(nook_mask_build(m), 0);
        _cleanup_free_ char *b_hex = hex((const uint8_t *)b, strlen(b), false);
        char filler[256];
        for (size_t k = 0; k < sizeof(filler); k++)
                filler[k] = (char)(0x80 | rnd()); /* no form of a printable secret */
        for (size_t off = 0; off < 160; off++) {
                char in[512], want[512];
                size_t n = 0, w = 0;
                memcpy(in + n, filler, off), n += off;
                memcpy(in + n, a, strlen(a)), n += strlen(a);
                memcpy(in + n, filler + 100, 9), n += 9;
                memcpy(in + n, b_hex, strlen(b_hex)), n += strlen(b_hex);
                memcpy(in + n, filler + 200, 5), n += 5;
                w += (size_t)snprintf(want + w, sizeof(want) - w, "%.*s[REDACTED:a]", (int)off, filler);
                w += (size_t)snprintf(want + w, sizeof(want) - w, "%.9s[REDACTED:b]%.5s", filler + 100, filler + 200);
                size_t len;
                _cleanup_free_ char *o = mask_all(m, in, n, &len);
                assert_int_equal(len, w);
                assert_memory_equal(o, want, w);
                for (size_t cut = off > 24 ? off - 24 : 0; cut <= off + 48 && cut <= n; cut++) {
                        size_t cuts[2] = { cut, cut + 1 + off % 7 < n ? cut + 1 + off % 7 : n };
                        _cleanup_free_ char *c = mask_split_with(m, in, n, cuts, 1 + off % 2, cut % 2, &len);
                        assert_int_equal(len, w);
                        assert_memory_equal(c, want, w);
                }
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ref_grammar),
                cmocka_unit_test(test_raw_masked_inside_text),
                cmocka_unit_test(test_hex_lower_and_upper),
                cmocka_unit_test(test_base64_every_alignment_both_alphabets),
                cmocka_unit_test(test_url_encoding_and_form_plus),
                cmocka_unit_test(test_url_variant_equal_to_raw_is_the_raw_pattern),
                cmocka_unit_test(test_json_escaping),
                cmocka_unit_test(test_every_split_gives_the_same_output),
                cmocka_unit_test(test_two_streams_are_independent),
                cmocka_unit_test(test_prefix_of_another_secret),
                cmocka_unit_test(test_overlapping_occurrences_leave_nothing),
                cmocka_unit_test(test_multiline_secret_lines_masked_one_by_one),
                cmocka_unit_test(test_short_value_is_weak_and_not_masked),
                cmocka_unit_test(test_too_long_value_masked_by_lines),
                cmocka_unit_test(test_holds_back_only_a_possible_start),
                cmocka_unit_test(test_feed_room_joins_held_and_new_bytes),
                cmocka_unit_test(test_emit_failure_stops_the_stream),
                cmocka_unit_test(test_lifecycle),
                cmocka_unit_test(test_random_texts_keep_no_secret),
                cmocka_unit_test(test_stream_equals_naive_matcher),
                cmocka_unit_test(test_found_at_every_offset_and_cut),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
