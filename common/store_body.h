/* store_body.h - the trail's bodies: append-only segment files beside
 * LevelDB (the key-value separation of WiscKey, FAST '16).
 *
 * Bodies are most of a trail's bytes. Kept in LevelDB they were copied
 * by every compaction, so writing got slower as the trail grew; appended
 * to a segment each is written once. A record keeps a reference to its
 * body (segment, offset, length, SHA-256 of the body) and the record's
 * chain entry covers that reference, so the chain covers every body.
 *
 * Layout: <db>/bodies/NNNNNNNN.seg, numbered from 0; a body goes into a
 * new segment when it would take the current one past
 * STORE_BODY_SEGMENT_BYTES (a larger body gets a segment of its own).
 * Each body is one entry:
 *
 *   "HKB1" len:4 digest:32 chain:32 body[len]      (integers big-endian)
 *
 * digest = sha256(body); chain = sha256(previous entry's chain || digest),
 * the first entry chaining from 32 zero bytes, across segments. Entries
 * are in the order of the records' chain entries, so `hark verify` walks
 * both together. The trail's meta key holds where the committed bodies
 * end (segment, offset, chain).
 *
 * Writes follow the trail's batches: an appended body is pending until
 * the batch it belongs to commits, and is written (and synced with the
 * batch) before the batch is: a committed record never names a body
 * that is not on disk. Bodies past the committed end (a logger that died
 * mid-batch, a torn write) are cut off when the trail is next opened for
 * writing; an offset the trail may name is never written twice.
 *
 * The writer keeps at most STORE_BODY_BUFFER bytes in memory (more only
 * while writes fail: the batch stays pending for a retry, as the records
 * do). One object is used by one thread.
 */
#ifndef HARK_STORE_BODY_H
#define HARK_STORE_BODY_H

#include "store_sha256.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_BODY_SEGMENT_BYTES (64u << 20)
#define STORE_BODY_BUFFER (1u << 20)
#define STORE_BODY_WRITEBACK (8u << 20) /* started every this many bytes */
#define STORE_BODY_HEADER_BYTES 72
#define STORE_BODY_MAX (64u << 20)     /* longer bodies are refused */
#define STORE_BODY_REF_BYTES 48        /* seg:4 off:8 len:4 digest:32 */

/* Where a body is. */
struct store_body_ref {
    uint32_t seg;
    uint64_t off;                 /* of its entry's header */
    uint32_t len;
    uint8_t digest[STORE_SHA256_BYTES];
};

/* The end of the bodies: where the next entry goes, and the chain of
 * the last one. */
struct store_body_pos {
    uint32_t seg;
    uint64_t off;
    uint8_t chain[STORE_SHA256_BYTES];
};

void store_body_ref_pack(const struct store_body_ref *r,
                         uint8_t out[STORE_BODY_REF_BYTES]);
/* False when n is not STORE_BODY_REF_BYTES or the length is over
 * STORE_BODY_MAX. */
bool store_body_ref_unpack(const void *p, size_t n, struct store_body_ref *r);

typedef struct store_body store_body_t;

/* The bodies of the trail at db_path; nothing is opened yet. NULL on
 * ENOMEM. */
store_body_t *store_body_new(const char *db_path);
/* Drops what is pending (not written), closes files; NULLs *b. */
void store_body_destroy(store_body_t **b);

/* ---- writer ---- */

/* Makes the directory and finds where to write: after `committed` (NULL
 * when the trail does not say: a trail from before segments, or one
 * whose meta is gone), cutting off what lies past it; *dropped gets the
 * bytes cut. Without `committed`, writing starts in a segment after
 * every existing one. When a segment is shorter than committed says (a
 * crash lost what the system had not written), writing goes on in the
 * next one, and *missing gets the bytes missing. 0 or -errno (the reason
 * in err). */
int store_body_recover(store_body_t *b, const struct store_body_pos *committed,
                       uint64_t *dropped, uint64_t *missing, char *err,
                       size_t errlen);

/* Checks body (n bytes, 0 < n <= STORE_BODY_MAX), fills *ref with its
 * digest and the place it will take, and makes room for it, without
 * adding it, so that store_body_append() cannot fail. 0, -EINVAL (not
 * writing, or a bad length), -ENOMEM. */
int store_body_prepare(store_body_t *b, const void *body, size_t n,
                       struct store_body_ref *ref);

/* Adds the body just prepared (the same bytes, read during the call,
 * and ref) as pending. May write pending bodies out; a failed write is
 * kept for store_body_flush() to retry. */
void store_body_append(store_body_t *b, const void *body,
                       const struct store_body_ref *ref);

/* True once store_body_recover() succeeded. */
bool store_body_writing(const store_body_t *b);

/* Writes out every pending byte, with fdatasync when sync. 0, or
 * -ENOSPC (disk full) or -EIO with the reason in err; what failed stays
 * pending. */
int store_body_flush(store_body_t *b, bool sync, char *err, size_t errlen);

/* The pending bodies are committed (flushed first). */
void store_body_commit(store_body_t *b);

/* Forgets the pending bodies: files go back to the committed end. */
void store_body_discard(store_body_t *b);

/* The end of the bodies, pending ones included or not. */
void store_body_end(const store_body_t *b, bool pending,
                    struct store_body_pos *out);
/* Body bytes (entries) appended since the last commit or discard. */
uint64_t store_body_pending(const store_body_t *b);

/* ---- reader ---- */

/* Reads the body ref names into buf (ref->len bytes), checking its
 * entry's header against ref (not the digest of the bytes: verify does
 * that). 0, -EBADMSG (no such entry, or another), -EIO. */
int store_body_read(store_body_t *b, const struct store_body_ref *ref,
                    void *buf);

/* ---- verify ---- */

/* A walk over the entries in order, from the first. */
struct store_body_walk {
    struct store_body_pos at;
    uint64_t entries, bytes;
};

/* Checks that ref names the entry after w->at, that the entry's header
 * holds ref's length and digest, that its bytes hash to it and its
 * chain follows; then steps over it. 0, -EBADMSG (why says what is
 * wrong), -EIO (why has the reason), -ENOMEM. */
int store_body_check(store_body_t *b, struct store_body_walk *w,
                     const struct store_body_ref *ref, char *why,
                     size_t whylen);

/* The walk is over: it must end where `end` (the meta's) says, at the
 * same chain. 0 or -EBADMSG. */
int store_body_check_end(const struct store_body_walk *w,
                         const struct store_body_pos *end, char *why,
                         size_t whylen);

#endif
