/* store_proof.c - one record's place in the hash chain (store_proof.h).
 *
 * Reads go through the trail's own read options: a proof is a handful of
 * gets and, without a hint, one walk over the chain entries (small
 * values, no record bodies).
 */
#include "store_private.h"
#include "store_proof.h"
#include "store_sha256.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value under k, to free with leveldb_free(), or NULL: *rc 0 when
 * absent, -EIO on a read error. */
static char *get(store_t *s, const void *k, size_t kl, size_t *vl, int *rc)
{
    char *e = NULL;
    char *v = leveldb_get(s->db, s->ro, k, kl, vl, &e);
    *rc = 0;
    if (e) {
        leveldb_free(e);
        *rc = -EIO;
        return NULL;
    }
    return v;
}

static void seq_key(uint64_t seq, uint8_t k[STORE_SEQ_KEY_LEN])
{
    k[0] = 's';
    for (int i = 8; i >= 1; i--, seq >>= 8)
        k[i] = (uint8_t)(seq & 0xff);
}

/* Whether chain entry seq exists and names key (any key when key is
 * NULL): 1 with its hash, 0, or -EIO. */
static int entry(store_t *s, uint64_t seq, const void *key, size_t klen,
                 uint8_t hash[STORE_HASH_BYTES])
{
    uint8_t k[STORE_SEQ_KEY_LEN];
    size_t vl;
    int rc;
    seq_key(seq, k);
    char *v = get(s, k, sizeof(k), &vl, &rc);
    if (!v)
        return rc;
    struct bytes ek;
    const uint8_t *h;
    rc = store_chain_entry(&s->zone, v, vl, &ek, &h) &&
         (!key || (ek.n == klen && !memcmp(ek.p, key, klen)));
    if (rc)
        memcpy(hash, h, STORE_HASH_BYTES);
    leveldb_free(v);
    return rc;
}

/* Walks the chain entries for the one naming key: its seq, 0 when none
 * does, or -EIO. */
static int64_t find_entry(store_t *s, const void *key, size_t klen)
{
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ro);
    if (!it)
        return -ENOMEM;
    int64_t found = 0;
    for (leveldb_iter_seek(it, "s", 1); leveldb_iter_valid(it);
         leveldb_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = (const uint8_t *)leveldb_iter_key(it, &kl);
        if (kl != STORE_SEQ_KEY_LEN || k[0] != 's')
            break;
        const char *v = leveldb_iter_value(it, &vl);
        struct bytes ek;
        const uint8_t *h;
        if (store_chain_entry(&s->zone, v, vl, &ek, &h) && ek.n == klen &&
            !memcmp(ek.p, key, klen)) {
            found = (int64_t)store_get_be(k + 1, 8);
            break;
        }
    }
    char err[8];
    if (store_iter_status(it, err, sizeof(err)) < 0)
        found = -EIO;
    leveldb_iter_destroy(it);
    return found;
}

/* The first checkpoint at or after seq into out. 0 or -EIO. */
static int covering_checkpoint(store_t *s, uint64_t seq,
                               struct store_proof *out)
{
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ro);
    if (!it)
        return -ENOMEM;
    uint8_t k[STORE_CP_KEY_LEN];
    seq_key(seq, k);
    k[0] = 'c';
    leveldb_iter_seek(it, (const char *)k, sizeof(k));
    size_t kl = 0, vl = 0;
    const char *ck = leveldb_iter_valid(it) ? leveldb_iter_key(it, &kl)
                                            : NULL;
    const char *v = ck ? leveldb_iter_value(it, &vl) : NULL;
    struct store_cp cp;
    if (ck && kl == STORE_CP_KEY_LEN && ck[0] == 'c' &&
        store_checkpoint_read(&s->zone, v, vl, &cp)) {
        out->cp_seq = cp.seq;
        out->cp_signed = cp.sig != NULL;
        out->cp_final = cp.final;
        /* cp borrows the iterator's value, and entry() reuses the zone */
        uint8_t h[STORE_HASH_BYTES], head[STORE_HASH_BYTES];
        memcpy(head, cp.head, sizeof(head));
        out->cp_matches = entry(s, cp.seq, NULL, 0, h) == 1 &&
                          !memcmp(h, head, sizeof(h));
    }
    char err[8];
    int rc = store_iter_status(it, err, sizeof(err));
    leveldb_iter_destroy(it);
    return rc;
}

/* The chain covers a body kept in a segment only through its digest in
 * the record: 1 when the segment still holds those bytes (or the body is
 * in the record), 0 when they were edited or are gone, -ENOMEM. */
static int body_intact(store_t *s, const void *value, size_t vlen)
{
    store_decoder_t *d = store_decoder_new();
    if (!d)
        return -ENOMEM;
    struct audit_record r;
    int rc = store_decode(d, value, vlen, &r) < 0 ? 0 : 1;
    if (rc == 1 && d->has_ref) {
        uint8_t *buf = malloc(d->ref.len ? d->ref.len : 1);
        uint8_t digest[STORE_SHA256_BYTES];
        const struct store_sha256_part part = { buf, d->ref.len };
        if (!buf)
            rc = -ENOMEM;
        else
            rc = store_body_read(s->bodies, &d->ref, buf) == 0 &&
                 store_sha256(&part, 1, digest) == 0 &&
                 !memcmp(digest, d->ref.digest, sizeof(digest));
        free(buf);
    }
    store_decoder_destroy(&d);
    return rc;
}

int store_proof(store_t *s, const void *key, size_t klen, uint64_t seq_hint,
                struct store_proof *out)
{
    memset(out, 0, sizeof(*out));
    if (!s->db)
        return -EIO;
    size_t vl;
    int rc;
    char *value = get(s, key, klen, &vl, &rc);
    if (!value)
        return rc ? rc : -ENOENT;
    out->last_seq = s->committed_seq;
    uint8_t hash[STORE_HASH_BYTES], prev[STORE_HASH_BYTES] = { 0 };
    rc = seq_hint ? entry(s, seq_hint, key, klen, hash) : 0;
    if (rc == 1) {
        out->seq = seq_hint;
    } else if (rc == 0) {
        int64_t seq = find_entry(s, key, klen);
        rc = seq < 0 ? (int)seq : 0;
        if (seq > 0 && entry(s, (uint64_t)seq, key, klen, hash) == 1)
            out->seq = (uint64_t)seq;
    }
    if (rc < 0)
        goto done;
    if (!out->seq) {
        snprintf(out->why, sizeof(out->why), "no chain entry names this "
                 "record: it was inserted into the trail");
        goto done;
    }
    memcpy(out->hash, hash, sizeof(hash));
    if (out->seq > 1 && entry(s, out->seq - 1, NULL, 0, prev) != 1) {
        snprintf(out->why, sizeof(out->why), "chain entry %llu, before "
                 "this record's, is missing or malformed",
                 (unsigned long long)out->seq - 1);
        goto checkpoint;
    }
    uint8_t h[STORE_HASH_BYTES];
    store_chain_hash(prev, key, klen, value, vl, h);
    out->verifies = !memcmp(h, hash, sizeof(h));
    if (!out->verifies) {
        snprintf(out->why, sizeof(out->why), "the record's bytes do not "
                 "hash to its chain entry %llu: the record or the entry "
                 "was edited", (unsigned long long)out->seq);
    } else if ((rc = body_intact(s, value, vl)) <= 0) {
        out->verifies = false;
        if (rc == 0)
            snprintf(out->why, sizeof(out->why), "the record's body in its "
                     "segment file was edited or is gone: it no longer "
                     "matches the digest chain entry %llu covers",
                     (unsigned long long)out->seq);
        else
            goto done;
    }
checkpoint:
    rc = covering_checkpoint(s, out->seq, out);
done:
    leveldb_free(value);
    return rc;
}
