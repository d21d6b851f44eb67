/* nook util — the streaming secret masker: every occurrence of a secret value, or of one
 * of its common encodings, in a byte stream becomes "[REDACTED:<ref>]" before the bytes
 * reach a log, a frame or a reader.
 *
 * What is looked for, per value of NOOK_MASK_MIN_VALUE..NOOK_MASK_MAX_VALUE bytes: the
 * raw bytes; hex (lower, upper); base64 and base64url at each of the three alignments
 * the value can have inside a longer base64 text (the characters that depend only on the
 * value's bytes; padding ignored); URL percent-encoding of every byte outside
 * A-Z a-z 0-9 - . _ ~ (upper and lower hex digits, space as %20 or +); the value as it
 * appears inside a JSON string (\" \\ \n \r \t \b \f, \u00XX for the other controls,
 * with and without \/, upper or lower hex, DEL kept or escaped, and Python's ensure_ascii
 * \uXXXX form for non-ASCII UTF-8).  A value with newlines also has each of its lines
 * (a trailing \r stripped) looked for on its own, raw.  A value or a line too short to
 * mask without masking ordinary text is not looked for and is reported
 * (nook_mask_weak()), never silently dropped.
 *
 * Matching: every byte covered by an occurrence of any pattern is removed; each maximal
 * run of overlapping occurrences becomes one marker per secret, in order of start
 * (leftmost, then longest), so a value inside another or two overlapping values leave
 * nothing of either.  The output does not depend on how the input is split into feeds.
 *
 * A compiled set (nook_mask) is immutable once built and may be shared by any number of
 * streams, in any threads; a stream (one per captured fd: stdout and stderr of a process
 * each have their own) is used by one thread at a time.  A secret is found only within
 * one stream: when several streams are interleaved into one log, mask each before
 * interleaving; a value that the workload itself splits across two fds, or that two
 * writers interleave into one pipe, is not found. */
#ifndef NOOK_UTIL_MASK_H
#define NOOK_UTIL_MASK_H

#include <stdbool.h>
#include <stddef.h>

/* Shorter values are reported weak and not masked: see mask.c (min_length). */
#define NOOK_MASK_MIN_VALUE 8
/* Longer values are masked only through their lines (PEM bundles stay well below). */
#define NOOK_MASK_MAX_VALUE 16384
/* Bytes a caller of nook_mask_feed_room() leaves in front of what it feeds. */
#define NOOK_MASK_ROOM 64
/* A ref is 1..NOOK_MASK_REF_MAX bytes of [A-Za-z0-9._-]: nothing that could end the
 * marker or inject text next to it. */
#define NOOK_MASK_REF_MAX 128

/* n bytes of ref are a ref of that grammar. */
bool nook_mask_ref_valid(const char *ref, size_t n);

typedef struct nook_mask nook_mask;
typedef struct nook_mask_stream nook_mask_stream;

/* Receives masked bytes, in order; a negative return stops the feed, which returns it. */
typedef int (*nook_mask_emit)(const void *buf, size_t len, void *userdata);

/* 0 or -ENOMEM. */
int nook_mask_new(nook_mask **ret);
/* Copies value (any bytes) under ref.  -EINVAL: ref outside the grammar; -EBUSY: the set
 * is built; -ENOMEM.  A value too short or too long is accepted and reported weak. */
int nook_mask_add(nook_mask *m, const char *ref, const void *value, size_t len);
/* Compiles the patterns; the values' copies are wiped.  The compiled set lives in one
 * mapping, read-only, excluded from core dumps, locked in memory when RLIMIT_MEMLOCK
 * allows (best effort).  -EBUSY: already built; -E2BIG: more than 1 GiB of patterns;
 * -ENOMEM. */
int nook_mask_build(nook_mask *m);
/* The i-th downgrade: the ref of a value (or of a line of it) that is not masked in
 * full, with why (a constant string that names no secret byte); NULL past the last. */
const char *nook_mask_weak(const nook_mask *m, size_t i, const char **ret_why);
/* Bytes held by the built set (the mapping), for a report. */
size_t nook_mask_size(const nook_mask *m);
/* Wipes every copy of secret material (values, patterns, tables) and frees; NULL. */
nook_mask *nook_mask_free(nook_mask *m);
static inline void nook_mask_freep(nook_mask **m) {
        nook_mask_free(*m);
}

/* A stream over a built set (which must outlive it).  -EINVAL: not built; -ENOMEM. */
int nook_mask_stream_new(const nook_mask *m, nook_mask_stream **ret);
/* Masks len bytes: what can no longer be the start of a match is passed to emit before
 * it returns; at most (longest pattern - 1) bytes are held back.  0, or emit's negative
 * value (the stream then keeps failing with it). */
int nook_mask_feed(nook_mask_stream *s, const void *in, size_t len, nook_mask_emit emit, void *userdata);
/* The same, for a caller that leaves NOOK_MASK_ROOM bytes of its own in front of in
 * (in[-NOOK_MASK_ROOM] .. in[-1]), which the stream may overwrite: the bytes it held back
 * from the last feed are copied there, so that they and the new ones reach emit in one
 * call (a monitor that writes what emit gets then makes one write per read, not two).
 * Those bytes may be the start of a secret: the room is as sensitive as the buffer. */
int nook_mask_feed_room(nook_mask_stream *s, void *in, size_t len, nook_mask_emit emit, void *userdata);
/* End of stream: the held-back bytes, masked.  Feeding may go on, as a new stream (no
 * match spans a flush). */
int nook_mask_flush(nook_mask_stream *s, nook_mask_emit emit, void *userdata);
/* Wipes the held-back bytes and frees; NULL. */
nook_mask_stream *nook_mask_stream_free(nook_mask_stream *s);
static inline void nook_mask_stream_freep(nook_mask_stream **s) {
        nook_mask_stream_free(*s);
}

#endif
