/* store_verify.c - checks the trail's hash chain (store.h).
 *
 * One pass over the chain ("s" keys) checks each entry against the record
 * it names and remembers the record's key, with the checkpoints ("c"
 * keys, in seq order too) read alongside: each is compared with the
 * chain's hash at its seq when the walk gets there, and the body segments
 * (store_body.h) alongside: a record whose body is in a segment must name
 * the next entry there, intact, and the last must end where the meta
 * says. One pass over the records ("t" keys) then finds any the chain
 * does not name. Reads verify
 * LevelDB's checksums and skip its cache: a verify touches every block
 * once. A read error is an error (-EIO), never taken for the end of the
 * trail.
 */
#include "store_private.h"
#include "mpcheck.h"
#include "mpobj.h"
#include "store_verify.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const uint8_t zero_hash[STORE_HASH_BYTES];

/* What one verification holds while it walks. */
struct walk {
    store_t *s;
    const struct store_verify_opts *opts;
    struct store_verify *out;
    leveldb_readoptions_t *ro;    /* checksums on, cache off */
    leveldb_iterator_t *it;
    leveldb_iterator_t *cit;      /* the checkpoints */
    struct store_cp cp;           /* the next one, when have_cp */
    bool have_cp;
    msgpack_zone cz;              /* holds cp */
    fpset_t *chained;             /* record keys the chain names */
    struct store_body_walk bodies; /* the segments, alongside */
    char body_why[200];
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

/* Where an iterator is after a move: 1 on an entry, 0 at the end, -EIO
 * (why in out) on a read error. LevelDB's iterator steps over a block it
 * cannot read and only remembers the error, so it is asked each time. */
static int stopped(struct walk *w, leveldb_iterator_t *it)
{
    char err[200];
    if (store_iter_status(it, err, sizeof(err)) == 0)
        return leveldb_iter_valid(it) ? 1 : 0;
    snprintf(w->out->why, sizeof(w->out->why), "reading the trail: %s",
             err);
    return -EIO;
}

/* Loads the checkpoint under w->cit into w->cp (have_cp false past the
 * last one). */
static int load_checkpoint(struct walk *w)
{
    size_t kl, vl;
    w->have_cp = false;
    int rc = stopped(w, w->cit);
    if (rc <= 0)
        return rc;
    const uint8_t *k = (const uint8_t *)leveldb_iter_key(w->cit, &kl);
    if (kl < 1 || k[0] != 'c')
        return 0;
    uint64_t seq = kl == STORE_CP_KEY_LEN ? store_get_be(k + 1, 8) : 0;
    const char *v = leveldb_iter_value(w->cit, &vl);
    if (!store_checkpoint_read(&w->cz, v, vl, &w->cp) || w->cp.seq != seq ||
        !seq)
        return bad(w->out, seq, "checkpoint malformed (edited)");
    w->have_cp = true;
    return 0;
}

/* A checkpoint's signature, when it is by the key we were given. */
static int check_signature(struct walk *w, uint64_t seq)
{
    const uint8_t *pk = w->opts ? w->opts->pubkey : NULL;
    if (!pk || !w->cp.sig)
        return 0;
    if (memcmp(w->cp.key, pk, STORE_SIGN_PUBLIC_BYTES)) {
        w->out->other_key++;
        return 0;
    }
    uint8_t msg[STORE_CP_MSG_LEN];
    store_checkpoint_message(w->cp.seq, w->cp.head, w->cp.time_ns,
                             w->cp.final, msg);
    if (crypto_sign_verify_detached(w->cp.sig, msg, sizeof(msg), pk) != 0)
        return bad(w->out, seq, "checkpoint signature invalid (forged or "
                                "edited)");
    w->out->signed_ok++;
    w->out->last_signed_seq = seq;
    w->out->last_signed_final = w->cp.final;
    return 0;
}

/* The checkpoints at seq, whose chain hash is now w->prev. */
static int check_checkpoints(struct walk *w, uint64_t seq)
{
    while (w->have_cp && w->cp.seq <= seq) {
        if (w->cp.seq < seq)
            return bad(w->out, w->cp.seq, "checkpoint out of order "
                                          "(edited)");
        if (memcmp(w->cp.head, w->prev, STORE_HASH_BYTES))
            return bad(w->out, seq, "checkpoint does not match the chain: "
                       "the records up to here were rewritten (or the "
                       "checkpoint edited)");
        int rc = check_signature(w, seq);
        if (rc < 0)
            return rc;
        w->out->checkpoints++;
        leveldb_iter_next(w->cit);
        if ((rc = load_checkpoint(w)) < 0)
            return rc;
    }
    return 0;
}

/* Reads "m": the last seq and head hash it records (*hash NULL when it
 * does not hold them), and where the bodies end (*have_end false when it
 * does not say). Returns the value to free, or NULL with *rc 0 (absent)
 * or -EIO. */
static char *read_meta(struct walk *w, uint64_t *seq, const uint8_t **hash,
                       struct store_body_pos *end, bool *have_end, int *rc)
{
    *have_end = false;
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
    *have_end = store_meta_body_end(&o, end);
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
    struct store_body_pos end;
    bool have_end;
    int rc;
    char *v = read_meta(w, &mseq, &mhash, &end, &have_end, &rc);
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
    } else if (!have_end && w->bodies.entries) {
        rc = bad(w->out, last, "meta key does not say where the bodies "
                               "end (edited)");
    } else if (have_end &&
               store_body_check_end(&w->bodies, &end, w->body_why,
                                    sizeof(w->body_why)) < 0) {
        rc = bad(w->out, last, "%s", w->body_why);
    }
    leveldb_free(v);
    return rc;
}

/* The body of the record entry seq names, when it is in a segment: the
 * next one there, intact. A value that does not unpack has no body to
 * check (readers report it). */
static int verify_body(struct walk *w, uint64_t seq, struct bytes key,
                       const char *rec, size_t rl)
{
    msgpack_object o;
    const msgpack_object *map;
    struct store_body_ref ref;
    if (mpcheck_unpack(&w->s->zone, rec, rl, FRAME_MAX_DEPTH, &o) < 0 ||
        store_value_split(&o, &ref, &map) != 1)
        return 0;
    int rc = store_body_check(w->s->bodies, &w->bodies, &ref, w->body_why,
                              sizeof(w->body_why));
    if (rc == -EBADMSG)
        return bad(w->out, seq, "record %s: %s", describe(w, key),
                   w->body_why);
    if (rc == -EIO)
        snprintf(w->out->why, sizeof(w->out->why), "%s", w->body_why);
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
    int rc = store_chain_hash(w->prev, key.p, key.n, rec, rl, h);
    if (rc == 0 && memcmp(h, hash, sizeof(h)))
        rc = bad(w->out, seq, "hash mismatch: the record or its chain "
                              "entry was edited (%s)", describe(w, key));
    if (rc == 0)
        rc = verify_body(w, seq, key, rec, rl);
    leveldb_free(rec);
    if (rc < 0)
        return rc;
    memcpy(w->prev, hash, sizeof(w->prev));
    if (w->opts && w->opts->head && !w->out->head_seq &&
        !memcmp(hash, w->opts->head, STORE_HASH_BYTES))
        w->out->head_seq = seq;
    return fpset_add(w->chained, key.p, key.n);
}

/* Every entry from seq 1 on, in sequence, with its checkpoints. */
static int verify_chain(struct walk *w)
{
    uint64_t expect = 1;
    leveldb_iter_seek(w->cit, "c", 1);
    int rc = load_checkpoint(w);
    if (rc < 0)
        return rc;
    for (leveldb_iter_seek(w->it, "s", 1);; leveldb_iter_next(w->it),
                                           expect++) {
        if ((rc = stopped(w, w->it)) <= 0)
            return rc;
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
        if ((rc = verify_entry(w, seq, v, vl)) < 0 ||
            (rc = check_checkpoints(w, seq)) < 0)
            return rc;
        w->out->records = seq;
    }
    return 0;
}

/* Every record must be one the chain names. */
static int verify_no_extra(struct walk *w)
{
    for (leveldb_iter_seek(w->it, "t", 1);; leveldb_iter_next(w->it)) {
        int rc = stopped(w, w->it);
        if (rc <= 0)
            return rc;
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

/* What the chain cannot show by itself: a checkpoint past its end, a
 * head it does not hold, records no signature covers. */
static int verify_anchors(struct walk *w)
{
    struct store_verify *out = w->out;
    uint64_t last = out->records;
    char hex[STORE_HASH_BYTES * 2 + 1];
    if (w->have_cp)
        return bad(out, last + 1, "a checkpoint names seq %llu, but the "
                   "chain ends at seq %llu: records were cut from the end",
                   (unsigned long long)w->cp.seq, (unsigned long long)last);
    if (w->opts && w->opts->head && !out->head_seq) {
        sodium_bin2hex(hex, sizeof(hex), w->opts->head, STORE_HASH_BYTES);
        return bad(out, 0, "the head %.16s... is not in the chain: records "
                   "were cut or rewritten", hex);
    }
    if (!w->opts || !w->opts->pubkey)
        return 0;
    if (!out->signed_ok)
        return bad(out, 0, "no checkpoint signed by this key%s",
                   out->other_key ? " (some are signed by another key)"
                                  : " (was logger.sign_key set when the "
                                    "trail was written?)");
    if (out->last_signed_seq < last)
        return bad(out, out->last_signed_seq + 1,
                   "records %llu to %llu are not covered by a signed "
                   "checkpoint: added after signing, or the logger was "
                   "killed before it signed them",
                   (unsigned long long)out->last_signed_seq + 1,
                   (unsigned long long)last);
    if (!out->last_signed_final)
        return bad(out, last, "the last signed checkpoint is not a final "
                   "one: the trail may have been cut here, or its logger "
                   "was killed; compare with the head hark run printed "
                   "(--head)");
    return 0;
}

int store_verify(store_t *s, const struct store_verify_opts *opts,
                 struct store_verify *out)
{
    struct walk w = { .s = s, .opts = opts, .out = out };
    memset(out, 0, sizeof(*out));
    memcpy(w.prev, zero_hash, sizeof(w.prev));
    if (!s->db) {
        snprintf(out->why, sizeof(out->why), "the trail is not open");
        return -EIO;
    }
    if (!msgpack_zone_init(&w.cz, 1024))
        return -ENOMEM;
    w.ro = leveldb_readoptions_create();
    w.chained = fpset_new();
    int rc = -ENOMEM;
    if (w.ro) {
        leveldb_readoptions_set_verify_checksums(w.ro, 1);
        leveldb_readoptions_set_fill_cache(w.ro, 0);
        w.it = leveldb_create_iterator(s->db, w.ro);
        w.cit = leveldb_create_iterator(s->db, w.ro);
    }
    if (w.it && w.cit && w.chained)
        rc = verify_chain(&w);
    if (rc == 0)
        rc = verify_meta(&w, out->records);
    if (rc == 0)
        rc = verify_no_extra(&w);
    if (rc == 0)
        rc = verify_anchors(&w);
    if (rc == 0 || rc == -EBADMSG)
        memcpy(out->head, w.prev, sizeof(w.prev));
    out->bodies = w.bodies.entries;
    out->body_bytes = w.bodies.bytes;
    if (w.it)
        leveldb_iter_destroy(w.it);
    if (w.cit)
        leveldb_iter_destroy(w.cit);
    if (w.ro)
        leveldb_readoptions_destroy(w.ro);
    fpset_destroy(&w.chained);
    msgpack_zone_destroy(&w.cz);
    return rc;
}
