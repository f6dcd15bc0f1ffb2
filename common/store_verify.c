/* store_verify.c - checks the trail's hash chain (store.h).
 *
 * One pass over the chain ("s" keys) checks each entry against the record
 * it names and remembers the record's key; one pass over the records
 * ("t" keys) then finds any the chain does not name. Reads verify
 * LevelDB's checksums and skip its cache: a verify touches every block
 * once.
 */
#include "store_private.h"
#include "mpcheck.h"
#include "mpobj.h"
#include "store_verify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const uint8_t zero_hash[STORE_HASH_BYTES];

/* What one verification holds while it walks. */
struct walk {
    store_t *s;
    struct store_verify *out;
    leveldb_readoptions_t *ro;    /* checksums on, cache off */
    leveldb_iterator_t *it;
    fpset_t *chained;             /* record keys the chain names */
    uint8_t prev[STORE_HASH_BYTES];
    char desc[160];
};

static int bad(struct store_verify *out, uint64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the first problem found; returns -EBADMSG. */
static int bad(struct store_verify *out, uint64_t seq, const char *fmt, ...)
{
    out->bad_seq = seq;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->why, sizeof(out->why), fmt, ap);
    va_end(ap);
    return -EBADMSG;
}

static const char *describe(struct walk *w, struct bytes key)
{
    return store_key_describe(key.p, key.n, w->desc, sizeof(w->desc));
}

/* Reads "m": the last seq and head hash it records (*hash NULL when it
 * does not hold them). Returns the value to free, or NULL with *rc 0
 * (absent) or -EIO. */
static char *read_meta(struct walk *w, uint64_t *seq, const uint8_t **hash,
                       int *rc)
{
    char *e = NULL;
    size_t vl = 0;
    char *v = leveldb_get(w->s->db, w->s->ro, "m", 1, &vl, &e);
    *seq = 0;
    *hash = NULL;
    *rc = 0;
    if (e) {
        snprintf(w->out->why, sizeof(w->out->why), "reading meta: %s", e);
        leveldb_free(e);
        *rc = -EIO;
        return NULL;
    }
    msgpack_object o;
    if (!v || mpcheck_unpack(&w->s->zone, v, vl, 2, &o) < 0 ||
        o.type != MSGPACK_OBJECT_MAP)
        return v;
    struct bytes b;
    for (uint32_t i = 0; i < o.via.map.size; i++) {
        const msgpack_object *k = &o.via.map.ptr[i].key;
        const msgpack_object *val = &o.via.map.ptr[i].val;
        if (mpobj_key(k, "last_seq"))
            mpobj_uint(val, seq);
        else if (mpobj_key(k, "last_hash") &&
                 mpobj_bin(val, STORE_HASH_BYTES, STORE_HASH_BYTES, &b))
            *hash = (const uint8_t *)b.p;
    }
    return v;
}

/* Checks "m" against the chain's end: last entry `last`, hash w->prev. */
static int verify_meta(struct walk *w, uint64_t last)
{
    uint64_t mseq;
    const uint8_t *mhash;
    int rc;
    char *v = read_meta(w, &mseq, &mhash, &rc);
    if (!v && rc < 0)
        return rc;
    if (!v)
        return last ? bad(w->out, last, "meta key missing") : 0;
    if (!mhash) {
        rc = bad(w->out, last, "meta key malformed");
    } else if (mseq > last) {
        rc = bad(w->out, last + 1,
                 "chain entries missing at the end (deleted): meta says the "
                 "last is seq %llu", (unsigned long long)mseq);
    } else if (mseq < last) {
        rc = bad(w->out, mseq + 1,
                 "chain entries after the meta's last seq %llu (inserted)",
                 (unsigned long long)mseq);
    } else if (memcmp(mhash, w->prev, STORE_HASH_BYTES)) {
        rc = bad(w->out, last, "meta head hash differs from the chain's "
                               "last entry (edited)");
    }
    leveldb_free(v);
    return rc;
}

/* Checks chain entry seq (value v) against the record it names. */
static int verify_entry(struct walk *w, uint64_t seq, const char *v,
                        size_t vl)
{
    struct bytes key;
    const uint8_t *hash;
    if (!store_chain_entry(&w->s->zone, v, vl, &key, &hash))
        return bad(w->out, seq, "chain entry malformed (edited)");
    char *e = NULL;
    size_t rl;
    char *rec = leveldb_get(w->s->db, w->ro, key.p, key.n, &rl, &e);
    if (e) {
        snprintf(w->out->why, sizeof(w->out->why), "reading a record: %s",
                 e);
        leveldb_free(e);
        return -EIO;
    }
    if (!rec)
        return bad(w->out, seq, "record missing (deleted): %s",
                   describe(w, key));
    uint8_t h[STORE_HASH_BYTES];
    store_chain_hash(w->prev, key.p, key.n, rec, rl, h);
    leveldb_free(rec);
    if (memcmp(h, hash, sizeof(h)))
        return bad(w->out, seq, "hash mismatch: the record or its chain "
                                "entry was edited (%s)", describe(w, key));
    memcpy(w->prev, hash, sizeof(w->prev));
    return fpset_add(w->chained, key.p, key.n);
}

/* Every entry from seq 1 on, in sequence. */
static int verify_chain(struct walk *w)
{
    uint64_t expect = 1;
    for (leveldb_iter_seek(w->it, "s", 1); leveldb_iter_valid(w->it);
         leveldb_iter_next(w->it), expect++) {
        size_t kl, vl;
        const uint8_t *k = (const uint8_t *)leveldb_iter_key(w->it, &kl);
        if (kl < 1 || k[0] != 's')
            break;
        uint64_t seq = kl == STORE_SEQ_KEY_LEN ? store_get_be(k + 1, 8) : 0;
        if (seq > expect)
            return bad(w->out, expect, "chain entry missing (deleted); the "
                       "next one is seq %llu", (unsigned long long)seq);
        if (seq != expect)
            return bad(w->out, expect, "unexpected chain key (edited)");
        const char *v = leveldb_iter_value(w->it, &vl);
        int rc = verify_entry(w, seq, v, vl);
        if (rc < 0)
            return rc;
        w->out->records = seq;
    }
    return 0;
}

/* Every record must be one the chain names. */
static int verify_no_extra(struct walk *w)
{
    for (leveldb_iter_seek(w->it, "t", 1); leveldb_iter_valid(w->it);
         leveldb_iter_next(w->it)) {
        size_t kl;
        const char *k = leveldb_iter_key(w->it, &kl);
        if (kl < 1 || k[0] != 't')
            break;
        if (!fpset_has(w->chained, k, kl))
            return bad(w->out, 0, "record not in the chain (inserted): %s",
                       store_key_describe(k, kl, w->desc, sizeof(w->desc)));
    }
    return 0;
}

int store_verify(store_t *s, struct store_verify *out)
{
    struct walk w = { .s = s, .out = out };
    memset(out, 0, sizeof(*out));
    memcpy(w.prev, zero_hash, sizeof(w.prev));
    w.ro = leveldb_readoptions_create();
    w.it = leveldb_create_iterator(s->db, s->ro);
    w.chained = fpset_new();
    int rc = -ENOMEM;
    if (w.ro && w.it && w.chained) {
        leveldb_readoptions_set_verify_checksums(w.ro, 1);
        leveldb_readoptions_set_fill_cache(w.ro, 0);
        rc = verify_chain(&w);
    }
    if (rc == 0)
        rc = verify_meta(&w, out->records);
    if (rc == 0)
        rc = verify_no_extra(&w);
    if (rc == 0)
        memcpy(out->head, w.prev, sizeof(w.prev));
    if (w.it)
        leveldb_iter_destroy(w.it);
    if (w.ro)
        leveldb_readoptions_destroy(w.ro);
    fpset_destroy(&w.chained);
    return rc;
}
