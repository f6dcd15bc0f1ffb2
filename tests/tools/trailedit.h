/* trailedit.h - editing an audit trail's LevelDB directly, as someone
 * with write access to its files would: cutting its end, rewriting its
 * chain consistently, reordering it. For tests only (the unit tests of
 * the store, and tests/tools/trail_edit.c for the end-to-end ones).
 *
 * Each function works on an open leveldb_t (and the trail's directory,
 * for the body segments) and returns 0 or -1. Key layout: store.h. Chain
 * entries are [bin8 key, bin8 hash] (the key follows the bytes 0x92 0xc4
 * len). The meta keeps where the bodies end unless a function says it
 * moves it.
 */
#ifndef HARK_TRAILEDIT_H
#define HARK_TRAILEDIT_H

#include <leveldb/c.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Where the meta says the bodies end (store_body.h). */
struct te_body_end {
    uint64_t seg, off;
    uint8_t chain[TE_HASH];
    int known;
};

static inline struct te_body_end te_meta_body_end(leveldb_t *db)
{
    struct te_body_end end = { 0, 0, { 0 }, 0 };
    size_t vl;
    char *v = te_get(db, "m", 1, &vl);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    if (v && msgpack_unpack_next(&u, v, vl, NULL) == MSGPACK_UNPACK_SUCCESS &&
        u.data.type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < u.data.via.map.size; i++) {
            msgpack_object k = u.data.via.map.ptr[i].key;
            msgpack_object o = u.data.via.map.ptr[i].val;
            if (k.type != MSGPACK_OBJECT_STR)
                continue;
            if (k.via.str.size == 8 && !memcmp(k.via.str.ptr, "body_seg", 8))
                end.seg = o.via.u64, end.known |= 1;
            if (k.via.str.size == 8 && !memcmp(k.via.str.ptr, "body_off", 8))
                end.off = o.via.u64, end.known |= 2;
            if (k.via.str.size == 10 &&
                !memcmp(k.via.str.ptr, "body_chain", 10) &&
                o.type == MSGPACK_OBJECT_BIN && o.via.bin.size == TE_HASH) {
                memcpy(end.chain, o.via.bin.ptr, TE_HASH);
                end.known |= 4;
            }
        }
    }
    msgpack_unpacked_destroy(&u);
    if (v)
        leveldb_free(v);
    end.known = end.known == 7;
    return end;
}

/* The meta for head (seq, hash), saying the bodies end at `end` (when
 * known), as the logger writes it. */
static inline int te_put_meta_end(leveldb_t *db, uint64_t seq,
                                  const uint8_t hash[TE_HASH],
                                  const struct te_body_end *end)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, end->known ? 6 : 3);
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_uint32(&pk, 1);
    msgpack_pack_str_with_body(&pk, "last_seq", 8);
    msgpack_pack_uint64(&pk, seq);
    msgpack_pack_str_with_body(&pk, "last_hash", 9);
    msgpack_pack_bin_with_body(&pk, hash, TE_HASH);
    if (end->known) {
        msgpack_pack_str_with_body(&pk, "body_seg", 8);
        msgpack_pack_uint32(&pk, (uint32_t)end->seg);
        msgpack_pack_str_with_body(&pk, "body_off", 8);
        msgpack_pack_uint64(&pk, end->off);
        msgpack_pack_str_with_body(&pk, "body_chain", 10);
        msgpack_pack_bin_with_body(&pk, end->chain, TE_HASH);
    }
    int rc = te_put(db, "m", 1, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* The meta for head (seq, hash); where the bodies end stays as it was. */
static inline int te_put_meta(leveldb_t *db, uint64_t seq,
                              const uint8_t hash[TE_HASH])
{
    struct te_body_end end = te_meta_body_end(db);
    return te_put_meta_end(db, seq, hash, &end);
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

/* ---- bodies in segment files (store_body.h) ---- */

#define TE_REF 48                 /* seg:4 off:8 len:4 digest:32 */
#define TE_BODY_HDR 72            /* "HKB1" len:4 digest:32 chain:32 */

struct te_ref {
    uint64_t seg, off, len;
    uint8_t digest[TE_HASH];
};

static inline uint64_t te_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static inline void te_put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* The reference a stored value holds (it starts 0x92 0xc4 0x30): 1, or 0
 * when its body is inline. */
static inline int te_value_ref(const char *v, size_t vl, struct te_ref *r)
{
    const uint8_t *p = (const uint8_t *)v;
    if (vl < 3 + TE_REF || p[0] != 0x92 || p[1] != 0xc4 || p[2] != TE_REF)
        return 0;
    r->seg = te_be(p + 3, 4);
    r->off = te_be(p + 7, 8);
    r->len = te_be(p + 15, 4);
    memcpy(r->digest, p + 19, TE_HASH);
    return 1;
}

static inline void te_seg_path(const char *dir, uint64_t seg, char *out,
                               size_t n)
{
    snprintf(out, n, "%s/bodies/%08llu.seg", dir, (unsigned long long)seg);
}

/* The reference of the record chain entry seq names: 1, 0 (inline), -1. */
static inline int te_entry_ref(leveldb_t *db, uint64_t seq, struct te_ref *r)
{
    uint8_t key[TE_KEY_MAX];
    int kl = te_entry_key(db, seq, key);
    size_t vl;
    char *v = kl < 0 ? NULL : te_get(db, key, (size_t)kl, &vl);
    if (!v)
        return -1;
    int rc = te_value_ref(v, vl, r);
    leveldb_free(v);
    return rc;
}

/* After te_cut_after(db, keep, ...): the bodies of the records cut go
 * too (the segments are cut where the last kept body ends) and the meta
 * says so, with that body's chain. */
static inline int te_bodies_cut(const char *dir, leveldb_t *db,
                                uint64_t keep)
{
    struct te_body_end end = te_meta_body_end(db);
    if (!end.known)
        return 0;
    struct te_ref r;
    uint64_t seg = 0, off = 0;
    uint8_t chain[TE_HASH] = { 0 };
    for (uint64_t seq = keep; seq >= 1; seq--) {
        int rc = te_entry_ref(db, seq, &r);
        if (rc < 0)
            return -1;
        if (rc == 0)
            continue;
        char path[4200];
        te_seg_path(dir, r.seg, path, sizeof(path));
        FILE *f = fopen(path, "rb");
        uint8_t hdr[TE_BODY_HDR];
        int ok = f && fseek(f, (long)r.off, SEEK_SET) == 0 &&
                 fread(hdr, 1, sizeof(hdr), f) == sizeof(hdr);
        if (f)
            fclose(f);
        if (!ok)
            return -1;
        seg = r.seg;
        off = r.off + TE_BODY_HDR + r.len;
        memcpy(chain, hdr + 40, TE_HASH);
        break;
    }
    for (uint64_t s = seg + 1; s <= end.seg; s++) {
        char path[4200];
        te_seg_path(dir, s, path, sizeof(path));
        remove(path);
    }
    char path[4200];
    te_seg_path(dir, seg, path, sizeof(path));
    if (truncate(path, (off_t)off) != 0 && off)
        return -1;
    end.seg = seg;
    end.off = off;
    memcpy(end.chain, chain, TE_HASH);
    uint8_t h[TE_HASH];
    return te_entry_hash(db, keep, h) || te_put_meta_end(db, keep, h, &end);
}

/* Writes the bodies again in the order the chain (entries 1 to last) now
 * names their records, as the logger would have written them (into one
 * segment: the tests' trails are small), and puts
 * the new references into the records: follow with te_rechain(db, last,
 * NULL) for their chain. */
static inline int te_bodies_reorder(const char *dir, leveldb_t *db,
                                    uint64_t last)
{
    struct te_body_end end = te_meta_body_end(db);
    if (!end.known || last >= TE_MAX_SEQ)
        return 0;
    char **bodies = calloc(last + 1, sizeof(char *));
    struct te_ref *refs = calloc(last + 1, sizeof(*refs));
    int *has = calloc(last + 1, sizeof(int));
    int rc = bodies && refs && has ? 0 : -1;
    for (uint64_t seq = 1; rc == 0 && seq <= last; seq++) {
        if ((has[seq] = te_entry_ref(db, seq, &refs[seq])) < 0) {
            rc = -1;
            break;
        }
        if (!has[seq])
            continue;
        char path[4200];
        te_seg_path(dir, refs[seq].seg, path, sizeof(path));
        FILE *f = fopen(path, "rb");
        bodies[seq] = malloc(refs[seq].len ? refs[seq].len : 1);
        if (!f || !bodies[seq] ||
            fseek(f, (long)(refs[seq].off + TE_BODY_HDR), SEEK_SET) ||
            fread(bodies[seq], 1, refs[seq].len, f) != refs[seq].len)
            rc = -1;
        if (f)
            fclose(f);
    }
    uint64_t seg = 0, off = 0;
    uint8_t chain[TE_HASH] = { 0 };
    FILE *out = NULL;
    for (uint64_t seq = 1; rc == 0 && seq <= last; seq++) {
        if (!has[seq])
            continue;
        struct te_ref *r = &refs[seq];
        char path[4200];
        if (!out) {
            for (uint64_t s = 0; s <= end.seg; s++) {
                te_seg_path(dir, s, path, sizeof(path));
                remove(path);
            }
            te_seg_path(dir, 0, path, sizeof(path));
            out = fopen(path, "wb");
            if (!out) {
                rc = -1;
                break;
            }
        }
        uint8_t hdr[TE_BODY_HDR];
        crypto_hash_sha256_state h;
        crypto_hash_sha256_init(&h);
        crypto_hash_sha256_update(&h, chain, TE_HASH);
        crypto_hash_sha256_update(&h, r->digest, TE_HASH);
        crypto_hash_sha256_final(&h, chain);
        memcpy(hdr, "HKB1", 4);
        te_put_be(hdr + 4, r->len, 4);
        memcpy(hdr + 8, r->digest, TE_HASH);
        memcpy(hdr + 40, chain, TE_HASH);
        if (fwrite(hdr, 1, sizeof(hdr), out) != sizeof(hdr) ||
            fwrite(bodies[seq], 1, r->len, out) != r->len) {
            rc = -1;
            break;
        }
        /* the record's reference moves with its body */
        uint8_t key[TE_KEY_MAX];
        int kl = te_entry_key(db, seq, key);
        size_t vl;
        char *v = kl < 0 ? NULL : te_get(db, key, (size_t)kl, &vl);
        if (!v) {
            rc = -1;
            break;
        }
        te_put_be((uint8_t *)v + 3, seg, 4);
        te_put_be((uint8_t *)v + 7, off, 8);
        rc = te_put(db, key, (size_t)kl, v, vl);
        leveldb_free(v);
        off += TE_BODY_HDR + r->len;
    }
    if (out && fclose(out) != 0)
        rc = -1;
    for (uint64_t seq = 0; bodies && seq <= last; seq++)
        free(bodies[seq]);
    free(bodies);
    free(refs);
    free(has);
    if (rc == 0) {
        end.seg = seg;
        end.off = off;
        memcpy(end.chain, chain, TE_HASH);
        uint8_t h[TE_HASH];
        rc = te_entry_hash(db, last, h) || te_put_meta_end(db, last, h, &end);
    }
    return rc;
}

#endif
