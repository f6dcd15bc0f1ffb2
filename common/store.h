/* store.h - the audit trail: records in LevelDB, ordered by time, chained.
 *
 * Written by the logger alone; read by `hark query|export|verify`. Layout
 * (all integers big-endian, so LevelDB's bytewise order is time order):
 *
 *   "t" ts_ns:8 uid:8 idx:4 kind:1 [dup:4]  -> the record (MessagePack map,
 *                                             frame_add_record's encoding),
 *                                             or [bin ref, that map] when its
 *                                             body is in a segment
 *   "s" seq:8                              -> [bin key, bin sha256]
 *   "c" seq:8                              -> checkpoint {"v":1, "seq", "head",
 *                                             "time", "final", ["key", "sig"]}
 *   "m"                                    -> {"v":1, "last_seq", "last_hash",
 *                                             "body_seg", "body_off",
 *                                             "body_chain"}
 *   "p" producer id                        -> seq:8, the last frame of that
 *                                             producer committed (below)
 *
 * A body longer than 512 bytes is not in LevelDB: it is appended to a
 * segment file under <db>/bodies/ (store_body.h), and the record's map
 * holds an empty body (body_len still says how long it was) behind a
 * reference to it: segment, offset, length and the body's SHA-256. The
 * meta key says where the committed bodies end. Readers get records
 * whole: store_iter_next() reads the body back, and a query reply
 * carries it.
 *
 * uid is uid_value() of the connection id (uid.h). `dup` is only
 * present when distinct records share the first 22 bytes (two log steps
 * of one kind in a policy); it is the smallest free n >= 1.
 * The chain: entry seq (from 1, in write order) holds the record's key and
 * sha256(previous entry's hash || key || value), the first one chaining
 * from 32 zero bytes; "m" holds the last entry. A record, its chain entry
 * and the new meta go in one write batch, after its body is written. As
 * the value holds the body's digest, the chain covers the bodies too;
 * `hark verify` reads every segment alongside. The chain stays out of the
 * records, so the same capture gives the same records (and the same
 * `hark query --json`) however shards interleaved; the chain follows
 * write order, so its head may differ between two such runs. Secondary
 * keys (summaries, status, url.path) live beside the trail, outside the
 * chain, in a database of their own: store_index.h.
 *
 * A checkpoint records the head (seq and hash) at a moment, signed with
 * the logger's Ed25519 key when it has one (store_checkpoint_message()
 * is what is signed). The chain alone cannot show a cut at its end or a
 * consistent rewrite; a signature by a key kept outside the trail can
 * (store_verify.h). `final` marks the checkpoint a logger writes when it
 * ends cleanly.
 *
 * LevelDB has no read-only mode: every open takes <db>/LOCK. While the
 * logger runs, store_open() fails with -EBUSY; `hark query` then asks the
 * logger over its query socket (store_query.h), export and verify
 * (store_verify.h) ask the user to stop it.
 *
 * Ownership: records given to store_put() are only read during the call;
 * records and bytes returned by iterators and decoders borrow LevelDB's
 * or the reply's memory and are valid until the next call on the same
 * object.
 */
#ifndef HARK_STORE_H
#define HARK_STORE_H

#include "frame.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_HASH_BYTES 32
#define STORE_SIGN_SECRET_BYTES 64 /* Ed25519, libsodium's layout */
#define STORE_SIGN_PUBLIC_BYTES 32
#define STORE_KEY_MAX 32          /* "t" key with its dup suffix: 26 */

typedef struct store store_t;
typedef struct store_iter store_iter_t;
typedef struct store_decoder store_decoder_t;

/* ---- open / write ------------------------------------------------- */

#define STORE_CREATE 1u           /* create the trail when missing */

/* Opens the trail at path. Returns 0 and *out, or -ENOENT (no trail and
 * no STORE_CREATE), -EBUSY (another process holds it: the logger),
 * -ENOMEM, -EIO; err gets LevelDB's message on failure. */
int store_open(const char *path, unsigned flags, store_t **out, char *err,
               size_t errlen);
/* Drops an uncommitted batch, closes the DB; NULLs *s; safe twice. */
void store_close(store_t **s);

/* Adds a record (read during the call) with its chain entry to the
 * pending batch. 0, -EINVAL (not a request, response or outage),
 * -ENOMEM, -EIO. An outage is keyed by its start and an empty uid. */
int store_put(store_t *s, const struct audit_record *r);

/* Writes the pending batch atomically (fsync when sync). 0, or -ENOSPC
 * (the disk is full) or -EIO with LevelDB's message in err: the batch
 * stays pending for a retry. After a failure the next commit reopens the
 * DB first (LevelDB may keep failing, or hold half a record, until
 * then); it finds out whether the failed batch landed after all, and
 * fails with -EIO when the trail changed meanwhile. */
int store_commit(store_t *s, bool sync, char *err, size_t errlen);

/* Forgets the pending batch (records and checkpoint): the head goes back
 * to the last commit. Returns the records dropped. */
uint32_t store_discard(store_t *s);

/* Records in the pending batch; store_dirty() is true when the batch
 * holds anything, a checkpoint alone included. */
uint32_t store_pending(const store_t *s);
bool store_dirty(const store_t *s);
/* Bytes the pending batch adds to the trail (records, chain, bodies). */
uint64_t store_pending_bytes(const store_t *s);
/* Key and value bytes committed since open (records, chain, meta). */
uint64_t store_bytes_written(const store_t *s);
/* Found when the trail was opened for writing: bytes of bodies past the
 * committed end that were cut off (a logger that died mid-batch), and
 * bytes of committed bodies that were missing (the system went down
 * before they reached the disk; `hark verify` names their records). */
uint64_t store_bodies_dropped(const store_t *s);
uint64_t store_bodies_missing(const store_t *s);
/* Sequence number and hash of the last committed chain entry. */
uint64_t store_last_seq(const store_t *s);
void store_head(const store_t *s, uint8_t hash[STORE_HASH_BYTES]);

/* ---- producers on the acknowledged link (bus.h) -------------------- */

/* A producer that connects to the logger with an acknowledged output is
 * named by its routing id ("correlate:<incarnation>"). The last of its
 * frame sequence numbers whose records are committed goes into the same
 * write batch as those records, so a restarted logger knows which frames
 * a producer sends again it already holds. One entry per producer: the
 * first commit of a new incarnation removes its predecessors'. */
#define STORE_PRODUCER_ID_MAX 96

/* 0 and *seq, -ENOENT when id has committed nothing, -EIO. */
int store_producer_get(store_t *s, struct bytes id, uint64_t *seq);
/* Puts seq for id in the pending batch: the next store_commit() writes
 * it even with no record pending. With `first`, other incarnations of
 * the same producer (same id up to the last ':') are removed in the same
 * batch, when they can be read. 0, or -EINVAL (id too long or empty). */
int store_producer_put(store_t *s, struct bytes id, uint64_t seq,
                       bool first);

/* ---- checkpoints -------------------------------------------------- */

/* Signs checkpoints with this Ed25519 secret key from now on (copied;
 * wiped at close). */
void store_sign_with(store_t *s, const uint8_t sk[STORE_SIGN_SECRET_BYTES]);
bool store_signing(const store_t *s);
void store_sign_public(const store_t *s,
                       uint8_t pk[STORE_SIGN_PUBLIC_BYTES]);

/* Records (pending included) after the last checkpoint. */
uint64_t store_uncheckpointed(const store_t *s);

/* Adds a checkpoint of the head, pending records included, to the
 * pending batch; signed when a key is set. Does nothing on an empty
 * trail, or when the head already has one (a final one, when `final`).
 * 0 or -ENOMEM. */
int store_checkpoint(store_t *s, bool final);

/* ---- read --------------------------------------------------------- */

/* Records with since_ns <= ts < until_ns in key order, starting after the
 * key `after` when given (continuing a paged query). NULL on ENOMEM. */
store_iter_t *store_iter_new(store_t *s, uint64_t since_ns, uint64_t until_ns,
                             const void *after, size_t after_len);
void store_iter_destroy(store_iter_t **it);
/* Moves to the next record: 1 and *out, 0 at the end, -EBADMSG when the
 * stored value does not decode (its key and value are still readable;
 * the next call moves on), -EIO when LevelDB cannot read on (every call
 * after says so again; store_iter_error() has its message). */
int store_iter_next(store_iter_t *it, struct audit_record *out);
const char *store_iter_error(const store_iter_t *it);
/* The current record's key and stored value; NULL (and *len 0) past the
 * end. A value whose body is in a segment holds a reference to it. */
const void *store_iter_key(const store_iter_t *it, size_t *len);
const void *store_iter_value(const store_iter_t *it, size_t *len);
/* The record store_iter_next() just returned (1) as one value with its
 * body in it, as frame_add_record() packs it: what a query reply
 * carries. NULL (and *len 0) when that call did not return a record or
 * memory ran out. Valid until the next call on it. */
const void *store_iter_record(store_iter_t *it, size_t *len);

/* Decodes record values (stored bytes, or the records of a reply). */
store_decoder_t *store_decoder_new(void);
void store_decoder_destroy(store_decoder_t **d);
/* One stored value: 0 or -EBADMSG. *out borrows value and d. A record
 * whose body is in a segment decodes with an empty body (body_len still
 * says how long it is); store_iter_next() reads it. */
int store_decode(store_decoder_t *d, const void *value, size_t len,
                 struct audit_record *out);

/* Writes the ts, uid, idx and kind of a "t" key as text, for messages. */
char *store_key_describe(const void *key, size_t len, char *buf, size_t size);


#endif
