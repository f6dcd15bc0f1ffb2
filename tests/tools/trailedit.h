/* trailedit.h - editing an audit trail's LevelDB directly, as someone
 * with write access to its files would: cutting its end, rewriting its
 * chain consistently, reordering it. For tests only (the unit tests of
 * the store, and tests/tools/trail_edit.c for the end-to-end ones).
 *
 * Each function works on an open leveldb_t and returns 0 or -1. Key
 * layout: store.h. Chain entries are [bin8 key, bin8 hash] (the key
 * follows the bytes 0x92 0xc4 len).
 */
#ifndef HARK_TRAILEDIT_H
#define HARK_TRAILEDIT_H

#include <leveldb/c.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TE_HASH 32
#define TE_KEY_MAX 32
#define TE_MAX_SEQ 4096

static inline void te_key(char prefix, uint64_t seq, uint8_t k[9])
{
    k[0] = (uint8_t)prefix;
    for (int i = 8; i >= 1; i--, seq >>= 8)
        k[i] = (uint8_t)seq;
}

/* The value of key k, or NULL; free with leveldb_free. */
static inline char *te_get(leveldb_t *db, const void *k, size_t kl,
                           size_t *vl)
{
    leveldb_readoptions_t *ro = leveldb_readoptions_create();
    char *e = NULL;
    char *v = leveldb_get(db, ro, k, kl, vl, &e);
    leveldb_readoptions_destroy(ro);
    if (e) {
        leveldb_free(e);
        return NULL;
    }
    return v;
}

static inline int te_put(leveldb_t *db, const void *k, size_t kl,
                         const void *v, size_t vl)
{
    leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
    char *e = NULL;
    leveldb_put(db, wo, k, kl, v, vl, &e);
    leveldb_writeoptions_destroy(wo);
    if (e)
        leveldb_free(e);
    return e ? -1 : 0;
}

static inline int te_delete(leveldb_t *db, const void *k, size_t kl)
{
    leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
    char *e = NULL;
    leveldb_delete(db, wo, k, kl, &e);
    leveldb_writeoptions_destroy(wo);
    if (e)
        leveldb_free(e);
    return e ? -1 : 0;
}

/* Chain entry seq's value, or NULL when it is shorter than min. */
static inline char *te_entry(leveldb_t *db, uint64_t seq, size_t min,
                             size_t *vl)
{
    uint8_t k[9];
    te_key('s', seq, k);
    char *v = te_get(db, k, sizeof(k), vl);
    if (v && *vl < min) {
        leveldb_free(v);
        v = NULL;
    }
    return v;
}

/* The record key chain entry seq names, into key; its length or -1. */
static inline int te_entry_key(leveldb_t *db, uint64_t seq,
                               uint8_t key[TE_KEY_MAX])
{
    size_t vl;
    char *v = te_entry(db, seq, 3, &vl);
    int n = v ? (uint8_t)v[2] : -1;
    if (n > TE_KEY_MAX || (v && vl < 3u + (size_t)n))
        n = -1;
    if (n >= 0)
        memcpy(key, v + 3, (size_t)n);
    if (v)
        leveldb_free(v);
    return n;
}

/* The hash chain entry seq holds (its last 32 bytes). */
static inline int te_entry_hash(leveldb_t *db, uint64_t seq,
                                uint8_t out[TE_HASH])
{
    size_t vl;
    char *v = te_entry(db, seq, TE_HASH + 1, &vl);
    if (!v)
        return -1;
    memcpy(out, v + vl - TE_HASH, TE_HASH);
    leveldb_free(v);
    return 0;
}

/* The last chain entry's seq (entries are dense from 1). */
static inline uint64_t te_last_seq(leveldb_t *db)
{
    uint64_t seq = 0;
    uint8_t h[TE_HASH];
    while (seq < TE_MAX_SEQ && te_entry_hash(db, seq + 1, h) == 0)
        seq++;
    return seq;
}

static inline int te_put_meta(leveldb_t *db, uint64_t seq,
                              const uint8_t hash[TE_HASH])
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_uint32(&pk, 1);
    msgpack_pack_str_with_body(&pk, "last_seq", 8);
    msgpack_pack_uint64(&pk, seq);
    msgpack_pack_str_with_body(&pk, "last_hash", 9);
    msgpack_pack_bin_with_body(&pk, hash, TE_HASH);
    int rc = te_put(db, "m", 1, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* Deletes the checkpoints of seq > after. */
static inline int te_drop_checkpoints(leveldb_t *db, uint64_t after,
                                      uint64_t last)
{
    for (uint64_t seq = after + 1; seq <= last; seq++) {
        uint8_t k[9];
        te_key('c', seq, k);
        if (te_delete(db, k, sizeof(k)) < 0)
            return -1;
    }
    return 0;
}

/* Cuts the chain after seq keep (records and chain entries up to last)
 * and fixes the meta key, as someone hiding the newest records would.
 * Checkpoints are left alone. */
static inline int te_cut_after(leveldb_t *db, uint64_t keep, uint64_t last)
{
    for (uint64_t seq = keep + 1; seq <= last; seq++) {
        uint8_t key[TE_KEY_MAX], k[9];
        int kl = te_entry_key(db, seq, key);
        te_key('s', seq, k);
        if (kl < 0 || te_delete(db, key, (size_t)kl) < 0 ||
            te_delete(db, k, sizeof(k)) < 0)
            return -1;
    }
    uint8_t h[TE_HASH];
    if (te_entry_hash(db, keep, h) < 0)
        return -1;
    return te_put_meta(db, keep, h);
}

/* Replaces the head hash a checkpoint value holds (after "head": bin8
 * of 32), keeping everything else, its signature included. */
static inline int te_fix_checkpoint(leveldb_t *db, uint64_t seq,
                                    const uint8_t head[TE_HASH])
{
    uint8_t k[9];
    size_t vl;
    te_key('c', seq, k);
    char *v = te_get(db, k, sizeof(k), &vl);
    if (!v)
        return 0; /* no checkpoint at seq */
    static const char tag[] = "\xa4head\xc4\x20";
    char *at = memmem(v, vl, tag, sizeof(tag) - 1);
    int rc = -1;
    if (at && (size_t)(at - v) + sizeof(tag) - 1 + TE_HASH <= vl) {
        memcpy(at + sizeof(tag) - 1, head, TE_HASH);
        rc = te_put(db, k, sizeof(k), v, vl);
    }
    leveldb_free(v);
    return rc;
}

/* Recomputes every chain entry from the records it names, seq 1 to
 * last, then the meta and the heads the checkpoints hold: a consistent
 * rewrite that only a signature or a kept head can tell. order[i] is the
 * seq whose record becomes entry i + 1 (reordering), or NULL. */
static inline int te_rechain(leveldb_t *db, uint64_t last,
                             const uint64_t *order)
{
    if (last >= TE_MAX_SEQ)
        return -1;
    uint8_t(*keys)[TE_KEY_MAX] = calloc(last + 1, TE_KEY_MAX);
    int *klen = calloc(last + 1, sizeof(int));
    uint8_t prev[TE_HASH] = { 0 };
    int rc = keys && klen ? 0 : -1;
    for (uint64_t seq = 1; rc == 0 && seq <= last; seq++)
        if ((klen[seq] = te_entry_key(db, seq, keys[seq])) < 0)
            rc = -1;
    for (uint64_t i = 1; rc == 0 && i <= last; i++) {
        uint64_t from = order ? order[i - 1] : i;
        size_t rl;
        char *rec = te_get(db, keys[from], (size_t)klen[from], &rl);
        if (!rec || from < 1 || from > last) {
            rc = -1;
            break;
        }
        crypto_hash_sha256_state h;
        crypto_hash_sha256_init(&h);
        crypto_hash_sha256_update(&h, prev, sizeof(prev));
        crypto_hash_sha256_update(&h, keys[from], (size_t)klen[from]);
        crypto_hash_sha256_update(&h, (uint8_t *)rec, rl);
        crypto_hash_sha256_final(&h, prev);
        leveldb_free(rec);
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_array(&pk, 2);
        msgpack_pack_bin_with_body(&pk, keys[from], (size_t)klen[from]);
        msgpack_pack_bin_with_body(&pk, prev, sizeof(prev));
        uint8_t k[9];
        te_key('s', i, k);
        rc = te_put(db, k, sizeof(k), sb.data, sb.size);
        msgpack_sbuffer_destroy(&sb);
        if (rc == 0)
            rc = te_fix_checkpoint(db, i, prev);
    }
    if (rc == 0)
        rc = te_put_meta(db, last, prev);
    free(keys);
    free(klen);
    return rc;
}

#endif
