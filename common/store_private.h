/* store_private.h - what the trail's files share: the key layout
 * (store.h describes it), the state of an open trail and the chain's
 * hash. Only store.c, store_verify.c, store_query.c, store_proof.c and
 * store_index.c include it.
 */
#ifndef HARK_STORE_PRIVATE_H
#define HARK_STORE_PRIVATE_H

#include "fpset.h"
#include "store.h"
#include "store_body.h"

#include <leveldb/c.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#define STORE_KEY_BASE_LEN 22     /* "t" ts:8 uid:8 idx:4 kind:1 */
#define STORE_KEY_DUP_LEN 26      /* + dup:4 */
#define STORE_SEQ_KEY_LEN 9       /* "s" seq:8 */
#define STORE_CP_KEY_LEN 9        /* "c" seq:8 */
#define STORE_CP_MSG_LEN 64       /* what a checkpoint's signature covers */
#define STORE_SIG_BYTES 64
/* Bodies longer than this go to a segment (store_body.h); a shorter one
 * costs less inline than its reference would. */
#define STORE_BODY_INLINE_MAX 512
/* A record whose body is in a segment is stored as
 * [bin reference (STORE_BODY_REF_BYTES), the record's map with an empty
 * body]: 0x92 0xc4 0x30, the reference, the map. */
#define STORE_REF_PREFIX_LEN (3 + STORE_BODY_REF_BYTES)

struct store {
    char *path;
    char *view;                   /* a reader's view of it (store_view.h) */
    leveldb_t *db;                /* NULL after a failed reopen */
    leveldb_options_t *opt;
    leveldb_filterpolicy_t *bloom;
    leveldb_readoptions_t *ro;
    leveldb_writeoptions_t *wo;
    leveldb_writebatch_t *batch;
    frame_writer_t *enc;
    msgpack_sbuffer sb;
    store_body_t *bodies;
    uint8_t *value;               /* a record's value with a reference */
    size_t value_cap;
    uint64_t bodies_dropped, bodies_missing; /* found at open */
    /* Keys of the pending batch, so a record colliding with one not yet
     * written gets a dup suffix too (LevelDB cannot read its batch). */
    fpset_t *pending_keys;
    /* The largest record key committed and pending: a new key past it is
     * in neither, and needs no lookup (most are: keys start with time). */
    uint8_t key_max[STORE_KEY_MAX], pending_key_max[STORE_KEY_MAX];
    size_t key_max_len, pending_key_max_len; /* 0: none */
    bool key_max_known;           /* key_max was read from the DB */
    uint32_t pending;
    uint32_t pending_producers;   /* "p" entries in the batch */
    uint64_t pending_bytes;
    uint64_t bytes_written;
    /* chain head including the pending batch, and as last committed */
    uint64_t seq, committed_seq;
    uint8_t hash[STORE_HASH_BYTES], committed_hash[STORE_HASH_BYTES];
    /* A write failed: LevelDB may hold a half-written log record or a
     * sticky error, so the next commit reopens the DB first. */
    bool broken;
    char broken_why[256];
    /* checkpoints: the last one (pending included), the signing key */
    uint64_t cp_seq;
    bool cp_final, cp_pending;
    bool signing;
    uint8_t sign_sk[STORE_SIGN_SECRET_BYTES];
    uint8_t sign_pk[STORE_SIGN_PUBLIC_BYTES];
    /* chain entries, meta and query requests are unpacked here */
    msgpack_zone zone;
    msgpack_sbuffer records;      /* a query reply's records */
    /* the secondary keys (store_index.h), in their own database */
    struct store_idx *idx;
};

struct store_decoder {
    frame_reader_t *reader;       /* its zone holds the last value */
    bool has_ref;                 /* the last value's body is in a segment */
    struct store_body_ref ref;
    const msgpack_object *records; /* of the last reply read */
    uint32_t n_records;
    const msgpack_object *keys, *seqs; /* its "keys", "seqs", or NULL */
};

/* Adds a put to the pending batch, counting its bytes. */
void store_batch_put(store_t *s, const void *k, size_t kl, const void *v,
                     size_t vl);

/* The big-endian number in p[0..width). */
uint64_t store_get_be(const uint8_t *p, int width);

/* A chain entry's hash: sha256(prev || key || value). 0 or -ENOMEM. */
int store_chain_hash(const uint8_t prev[STORE_HASH_BYTES], const void *key,
                     size_t klen, const void *value, size_t vlen,
                     uint8_t out[STORE_HASH_BYTES]);

/* What a checkpoint's signature covers: a fixed label, then seq, head,
 * time and the final flag, big-endian. */
void store_checkpoint_message(uint64_t seq,
                              const uint8_t head[STORE_HASH_BYTES],
                              uint64_t time_ns, bool final,
                              uint8_t out[STORE_CP_MSG_LEN]);

/* A checkpoint value, unpacked into z; key and sig are NULL when it is
 * not signed. */
struct store_cp {
    uint64_t seq, time_ns;
    const uint8_t *head, *key, *sig;
    bool final;
};
bool store_checkpoint_read(msgpack_zone *z, const void *v, size_t n,
                           struct store_cp *cp);

/* 0, or -EIO with LevelDB's message in err when the iterator met a read
 * error: it steps over a block it cannot read and only remembers the
 * error, so a walk asks after every move. */
int store_iter_status(const leveldb_iterator_t *it, char *err,
                      size_t errlen);

/* Reads a chain entry, [bin key, bin hash], unpacked into z. */
bool store_chain_entry(msgpack_zone *z, const void *v, size_t n,
                       struct bytes *key, const uint8_t **hash);

/* The record bytes frame_add_record() packs for r, in w (reset first)
 * until its next use. 0 or -ENOMEM. */
int store_record_bytes(frame_writer_t *w, const struct audit_record *r,
                       const uint8_t **value, size_t *vlen);

/* A stored value o: 1 with *ref and *map when its body is in a segment,
 * 0 with *map = o when it is a record map alone, -EBADMSG. */
int store_value_split(const msgpack_object *o, struct store_body_ref *ref,
                      const msgpack_object **map);

/* Where the meta map says the committed bodies end; false when it does
 * not say (a trail from before segments). */
bool store_meta_body_end(const msgpack_object *meta,
                         struct store_body_pos *end);

/* The secondary keys' side of the trail (store_index.c). The index has
 * a database of its own, <trail>/index, written after each commit of the
 * trail: its compactions never rewrite the records. store_index_open()
 * opens it (a writer creates it, and indexes what it lacks); the others
 * follow the trail's own write, discard and close. An index that cannot
 * be opened or written is left behind, never an error of the trail. */
struct store_idx;
int store_index_open(store_t *s, bool create);
void store_index_close(store_t *s);
/* Adds the index entries of r (stored under key, chain entry seq) to the
 * index's pending batch. 0 or -ENOMEM (nothing added). */
int store_index_put(store_t *s, const uint8_t *key, size_t klen,
                    const struct audit_record *r, uint64_t seq);
void store_index_committed(store_t *s);
void store_index_discard(store_t *s);

/* A record read whole (store_iter, store_scan): a body the trail keeps
 * in a segment read back into a buffer reused from record to record. */
struct store_whole {
    uint8_t *body;
    size_t cap;
    frame_writer_t *enc;          /* re-encodes the record with its body */
    struct audit_record rec;      /* the last record filled */
    bool have;
};
int store_whole_init(struct store_whole *w);
void store_whole_fini(struct store_whole *w);
/* After store_decode(d) gave out: puts its body back (out->body points
 * into w until the next fill). 0, -ENOMEM or -EIO (segment unreadable). */
int store_whole_fill(store_t *s, const store_decoder_t *d,
                     struct store_whole *w, struct audit_record *out);
/* The bytes of the last filled record with its body: value itself when it
 * was stored whole, else re-encoded into w. NULL when none was filled. */
const void *store_whole_bytes(struct store_whole *w, const store_decoder_t *d,
                              const void *value, size_t vlen, size_t *len);

/* Checks and unpacks one whole value into d (forgetting the last reply).
 * 0 or -EBADMSG. */
int store_decoder_unpack(store_decoder_t *d, const void *p, size_t n,
                         const msgpack_object **out);

#endif
