/* store.c - the audit trail in LevelDB: time-ordered records, hash chain.
 *
 * A record is encoded once in the codebase: frame_add_record() packs it
 * into a FRAME_LOG writer and the item's bytes (everything behind the
 * frame header) are the stored value. Decoding goes through
 * frame_decode_record(), so the bus and the trail share one decoder too.
 * Stored bytes are checked (mpcheck.h) before msgpack-c builds anything,
 * as on the bus: a trail edited by hand must not crash a reader.
 * Verification is in store_verify.c, the query protocol in store_query.c.
 */
#include "store_private.h"
#include "store_view.h"
#include "clock.h"
#include "errbuf.h"
#include "mpcheck.h"
#include "mpobj.h"
#include "store_sha256.h"
#include "uid.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* LevelDB's memtable. The trail's records are small now that bodies are
 * in segments; 16 MiB halves the compactions of 8 (a fifth of the
 * logger's time on 1 GB of capture), and larger ones cost more memory
 * than they save. */
#define WRITE_BUFFER (16u << 20)
#define VALUE_DEPTH 8             /* a record: map > headers > pair */
#define CP_LABEL "hark checkpoint" /* 15 bytes, then final:1 seq:8 ... */

/* ---- keys and the chain --------------------------------------------- */

static void put_be(uint8_t *dst, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        dst[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

uint64_t store_get_be(const uint8_t *p, int width)
{
    uint64_t v = 0;
    for (int i = 0; i < width; i++)
        v = (v << 8) | p[i];
    return v;
}

static size_t record_key(const struct audit_record *r, uint32_t dup,
                         uint8_t *k)
{
    k[0] = 't';
    put_be(k + 1, r->ts_ns, 8);
    put_be(k + 9, uid_value(r->uid), 8);
    put_be(k + 17, r->idx, 4);
    k[21] = (uint8_t)r->kind;
    if (!dup)
        return STORE_KEY_BASE_LEN;
    put_be(k + 22, dup, 4);
    return STORE_KEY_DUP_LEN;
}

static void seq_key(uint64_t seq, uint8_t *k)
{
    k[0] = 's';
    put_be(k + 1, seq, 8);
}

/* A packed str key (msgpack-c's packers return 0 or -1). */
static int pack_key(msgpack_packer *pk, const char *key)
{
    return msgpack_pack_str_with_body(pk, key, strlen(key));
}

char *store_key_describe(const void *key, size_t len, char *buf, size_t size)
{
    const uint8_t *k = key;
    if (len < STORE_KEY_BASE_LEN || k[0] != 't') {
        snprintf(buf, size, "(not a record key)");
        return buf;
    }
    int n = snprintf(buf, size, "ts %llu uid %016llx idx %u %s",
                     (unsigned long long)store_get_be(k + 1, 8),
                     (unsigned long long)store_get_be(k + 9, 8),
                     (unsigned)store_get_be(k + 17, 4),
                     k[21] == RECORD_REQUEST    ? "request"
                     : k[21] == RECORD_RESPONSE ? "response"
                     : k[21] == RECORD_OUTAGE   ? "outage"
                                                : "?");
    if (len == STORE_KEY_DUP_LEN && n > 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, " dup %u",
                 (unsigned)store_get_be(k + 22, 4));
    return buf;
}

int store_chain_hash(const uint8_t prev[STORE_HASH_BYTES], const void *key,
                     size_t klen, const void *value, size_t vlen,
                     uint8_t out[STORE_HASH_BYTES])
{
    const struct store_sha256_part parts[] = {
        { prev, STORE_HASH_BYTES }, { key, klen }, { value, vlen },
    };
    return store_sha256(parts, 3, out);
}

bool store_chain_entry(msgpack_zone *z, const void *v, size_t n,
                       struct bytes *key, const uint8_t **hash)
{
    msgpack_object o;
    if (mpcheck_unpack(z, v, n, 3, &o) < 0 ||
        o.type != MSGPACK_OBJECT_ARRAY || o.via.array.size != 2)
        return false;
    const msgpack_object *a = o.via.array.ptr;
    if (a[0].type != MSGPACK_OBJECT_BIN || a[1].type != MSGPACK_OBJECT_BIN ||
        a[1].via.bin.size != STORE_HASH_BYTES || a[0].via.bin.size == 0 ||
        a[0].via.bin.size > STORE_KEY_MAX)
        return false;
    key->p = a[0].via.bin.ptr;
    key->n = a[0].via.bin.size;
    *hash = (const uint8_t *)a[1].via.bin.ptr;
    return true;
}

void store_checkpoint_message(uint64_t seq,
                              const uint8_t head[STORE_HASH_BYTES],
                              uint64_t time_ns, bool final,
                              uint8_t out[STORE_CP_MSG_LEN])
{
    memcpy(out, CP_LABEL, 15);
    out[15] = final ? 1 : 0;
    put_be(out + 16, seq, 8);
    memcpy(out + 24, head, STORE_HASH_BYTES);
    put_be(out + 56, time_ns, 8);
}

bool store_checkpoint_read(msgpack_zone *z, const void *v, size_t n,
                           struct store_cp *cp)
{
    msgpack_object o;
    memset(cp, 0, sizeof(*cp));
    if (mpcheck_unpack(z, v, n, 2, &o) < 0 || o.type != MSGPACK_OBJECT_MAP)
        return false;
    uint64_t version = 0;
    struct bytes b;
    bool have_seq = false;
    for (uint32_t i = 0; i < o.via.map.size; i++) {
        const msgpack_object *k = &o.via.map.ptr[i].key;
        const msgpack_object *val = &o.via.map.ptr[i].val;
        const uint8_t **bin = NULL;
        uint32_t want = 0;
        bool ok = true;
        if (mpobj_key(k, "v")) {
            ok = mpobj_uint(val, &version);
        } else if (mpobj_key(k, "seq")) {
            ok = have_seq = mpobj_uint(val, &cp->seq);
        } else if (mpobj_key(k, "time")) {
            ok = mpobj_uint(val, &cp->time_ns);
        } else if (mpobj_key(k, "final")) {
            ok = val->type == MSGPACK_OBJECT_BOOLEAN;
            cp->final = ok && val->via.boolean;
        } else if (mpobj_key(k, "head")) {
            bin = &cp->head;
            want = STORE_HASH_BYTES;
        } else if (mpobj_key(k, "key")) {
            bin = &cp->key;
            want = STORE_SIGN_PUBLIC_BYTES;
        } else if (mpobj_key(k, "sig")) {
            bin = &cp->sig;
            want = STORE_SIG_BYTES;
        }
        if (bin && (ok = mpobj_bin(val, want, want, &b)))
            *bin = (const uint8_t *)b.p;
        if (!ok)
            return false;
    }
    return version == 1 && have_seq && cp->head && !cp->key == !cp->sig;
}

int store_iter_status(const leveldb_iterator_t *it, char *err,
                      size_t errlen)
{
    char *e = NULL;
    leveldb_iter_get_error(it, &e);
    if (!e)
        return 0;
    errbuf_set(err, errlen, "%s", e);
    leveldb_free(e);
    return -EIO;
}

/* ---- open ----------------------------------------------------------- */

static bool db_has(store_t *s, const uint8_t *k, size_t n, int *err)
{
    char *e = NULL;
    size_t vlen;
    char *v = leveldb_get(s->db, s->ro, (const char *)k, n, &vlen, &e);
    if (e) {
        *err = -EIO;
        leveldb_free(e);
        return false;
    }
    if (!v)
        return false;
    leveldb_free(v);
    return true;
}

/* Puts it on the last entry before key k (or the last of all). */
static void seek_before(leveldb_iterator_t *it, const char *k)
{
    leveldb_iter_seek(it, k, 1);
    if (leveldb_iter_valid(it))
        leveldb_iter_prev(it);
    else
        leveldb_iter_seek_to_last(it);
}

/* The last checkpoint's seq and whether it is final (the last "c"). */
static int read_last_checkpoint(store_t *s, leveldb_iterator_t *it,
                                char *err, size_t errlen)
{
    s->cp_seq = 0;
    s->cp_final = false;
    seek_before(it, "d");
    size_t kl = 0, vl = 0;
    int rc = store_iter_status(it, err, errlen);
    const char *k = leveldb_iter_valid(it) ? leveldb_iter_key(it, &kl) : NULL;
    if (rc < 0 || !k || kl != STORE_CP_KEY_LEN || k[0] != 'c')
        return rc;
    struct store_cp cp;
    const char *v = leveldb_iter_value(it, &vl);
    if (!store_checkpoint_read(&s->zone, v, vl, &cp)) {
        errbuf_set(err, errlen, "the last checkpoint is malformed; run "
                   "`hark verify`");
        return -EIO;
    }
    s->cp_seq = cp.seq;
    s->cp_final = cp.final;
    return 0;
}

/* Orders record keys as LevelDB does (bytewise, a prefix first). */
static int key_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

/* The largest record ("t") key of the DB: the last key before "u". */
static void read_key_max(store_t *s, leveldb_iterator_t *it)
{
    char *e = NULL;
    size_t kl = 0;
    s->key_max_known = false;
    seek_before(it, "u");
    const char *k = leveldb_iter_valid(it) ? leveldb_iter_key(it, &kl) : NULL;
    leveldb_iter_get_error(it, &e);
    if (e) {
        leveldb_free(e);
        return;
    }
    s->key_max_len = 0;
    if (k && k[0] == 't') {
        if (kl > STORE_KEY_MAX)
            return;
        memcpy(s->key_max, k, kl);
        s->key_max_len = kl;
    }
    s->key_max_known = true;
}

/* max := k when k is larger. */
static void raise_key_max(uint8_t *max, size_t *max_len, const uint8_t *k,
                          size_t kl)
{
    if (!*max_len || key_cmp(k, kl, max, *max_len) > 0) {
        memcpy(max, k, kl);
        *max_len = kl;
    }
}

/* The last committed chain entry: *seq 0 for an empty trail. The head is
 * the last "s" entry (the meta key is only a check for verify), so a
 * writer never reuses a sequence number. */
static int read_head(store_t *s, uint64_t *seq,
                     uint8_t hash[STORE_HASH_BYTES], char *err,
                     size_t errlen)
{
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ro);
    if (!it)
        return -ENOMEM;
    int rc = 0;
    *seq = 0;
    memset(hash, 0, STORE_HASH_BYTES);
    seek_before(it, "t");
    size_t kl = 0, vl = 0;
    const char *k = leveldb_iter_valid(it) ? leveldb_iter_key(it, &kl) : NULL;
    if ((rc = store_iter_status(it, err, errlen)) < 0) {
        /* a damaged block: the entry found is not the head */
    } else if (k && kl == STORE_SEQ_KEY_LEN && k[0] == 's') {
        const char *v = leveldb_iter_value(it, &vl);
        struct bytes key;
        const uint8_t *h;
        *seq = store_get_be((const uint8_t *)k + 1, 8);
        if (!store_chain_entry(&s->zone, v, vl, &key, &h)) {
            errbuf_set(err, errlen,
                       "chain entry %llu (the head) is malformed; run `hark "
                       "verify`", (unsigned long long)*seq);
            rc = -EIO;
        } else {
            memcpy(hash, h, STORE_HASH_BYTES);
        }
    }
    if (rc == 0)
        rc = read_last_checkpoint(s, it, err, errlen);
    if (rc == 0)
        read_key_max(s, it);
    leveldb_iter_destroy(it);
    return rc;
}

static int load_head(store_t *s, char *err, size_t errlen)
{
    int rc = read_head(s, &s->seq, s->hash, err, errlen);
    s->committed_seq = s->seq;
    memcpy(s->committed_hash, s->hash, STORE_HASH_BYTES);
    return rc;
}

/* Where the committed bodies end, from the meta key: 1 and *end, 0 when
 * the meta does not say (no meta, or a trail from before segments), or
 * -EIO. */
static int read_body_end(store_t *s, struct store_body_pos *end, char *err,
                         size_t errlen)
{
    char *e = NULL;
    size_t vl = 0;
    char *v = leveldb_get(s->db, s->ro, "m", 1, &vl, &e);
    if (e) {
        errbuf_set(err, errlen, "reading the meta key: %s", e);
        leveldb_free(e);
        return -EIO;
    }
    msgpack_object o;
    bool ok = v && mpcheck_unpack(&s->zone, v, vl, 2, &o) == 0 &&
              store_meta_body_end(&o, end);
    leveldb_free(v);
    return ok ? 1 : 0;
}

bool store_meta_body_end(const msgpack_object *meta,
                         struct store_body_pos *end)
{
    const msgpack_object o = *meta;
    if (o.type != MSGPACK_OBJECT_MAP)
        return false;
    unsigned have = 0;
    struct bytes b;
    uint64_t seg = 0;
    for (uint32_t i = 0; i < o.via.map.size; i++) {
        const msgpack_object *k = &o.via.map.ptr[i].key;
        const msgpack_object *val = &o.via.map.ptr[i].val;
        if (mpobj_key(k, "body_seg") && mpobj_uint(val, &seg) &&
            seg <= UINT32_MAX) {
            end->seg = (uint32_t)seg;
            have |= 1;
        } else if (mpobj_key(k, "body_off") && mpobj_uint(val, &end->off)) {
            have |= 2;
        } else if (mpobj_key(k, "body_chain") &&
                   mpobj_bin(val, STORE_HASH_BYTES, STORE_HASH_BYTES, &b)) {
            memcpy(end->chain, b.p, STORE_HASH_BYTES);
            have |= 4;
        }
    }
    return have == 7;
}

/* The writer's side of the bodies: cuts what a dead logger left past the
 * committed end. */
static int open_bodies(store_t *s, char *err, size_t errlen)
{
    struct store_body_pos end;
    int rc = read_body_end(s, &end, err, errlen);
    if (rc < 0)
        return rc;
    return store_body_recover(s->bodies, rc == 1 ? &end : NULL,
                              &s->bodies_dropped, &s->bodies_missing, err,
                              errlen);
}

static bool trail_exists(const char *path)
{
    char cur[4096];
    struct stat st;
    if ((size_t)snprintf(cur, sizeof(cur), "%s/CURRENT", path) >= sizeof(cur))
        return false;
    return stat(cur, &st) == 0;
}

/* Everything but the DB itself; 0 or -ENOMEM (s is freed by the caller). */
static int store_alloc(store_t *s, unsigned flags)
{
    s->opt = leveldb_options_create();
    s->bloom = leveldb_filterpolicy_create_bloom(10);
    s->ro = leveldb_readoptions_create();
    s->wo = leveldb_writeoptions_create();
    s->batch = leveldb_writebatch_create();
    s->enc = frame_writer_new(FRAME_LOG, "store");
    s->pending_keys = fpset_new();
    s->bodies = store_body_new(s->path);
    if (!s->opt || !s->bloom || !s->ro || !s->wo || !s->batch || !s->enc ||
        !s->pending_keys || !s->bodies)
        return -ENOMEM;
    leveldb_options_set_create_if_missing(s->opt, (flags & STORE_CREATE) != 0);
    leveldb_options_set_write_buffer_size(s->opt, WRITE_BUFFER);
    leveldb_options_set_compression(s->opt, leveldb_snappy_compression);
    /* Bloom filters make the collision check of each put cheap. */
    leveldb_options_set_filter_policy(s->opt, s->bloom);
    return 0;
}

int store_open(const char *path, unsigned flags, store_t **out, char *err,
               size_t errlen)
{
    *out = NULL;
    if (!(flags & STORE_CREATE) && !trail_exists(path)) {
        errbuf_set(err, errlen, "no audit trail at %s", path);
        return -ENOENT;
    }
    if (sodium_init() < 0) {
        errbuf_set(err, errlen, "libsodium failed to initialise");
        return -EIO;
    }
    store_t *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    if (!(s->path = strdup(path))) {
        free(s);
        return -ENOMEM;
    }
    msgpack_sbuffer_init(&s->sb);
    msgpack_sbuffer_init(&s->records);
    if (!msgpack_zone_init(&s->zone, 4096)) {
        free(s->path);
        free(s);
        return -ENOMEM;
    }
    int rc = store_alloc(s, flags);
    if (rc < 0)
        goto fail;
    /* A reader opens a view, never the trail's own files. */
    if (!(flags & STORE_CREATE)) {
        char view[STORE_VIEW_PATH];
        rc = store_view_make(path, view, err, errlen);
        if (rc == 0 && !(s->view = strdup(view))) {
            store_view_remove(view);
            rc = -ENOMEM;
        }
        if (rc < 0 && rc != -EXDEV)
            goto fail;
        rc = 0;
    }
    char *e = NULL;
    s->db = leveldb_open(s->opt, s->view ? s->view : path, &e);
    if (e) {
        errbuf_set(err, errlen, "%s", e);
        /* "IO error: lock DIR/LOCK: already held by process" (same
         * process) or "...: Resource temporarily unavailable". */
        rc = strstr(e, "lock ") && strstr(e, "LOCK") ? -EBUSY : -EIO;
        leveldb_free(e);
        goto fail;
    }
    rc = load_head(s, err, errlen);
    if (rc == 0 && (flags & STORE_CREATE))
        rc = open_bodies(s, err, errlen);
    if (rc < 0 && (flags & STORE_CREATE))
        goto fail;
    if (rc == 0 && (flags & STORE_CREATE) && store_index_open(s, true) < 0) {
        rc = -ENOMEM;
        goto fail;
    }
    *out = s;
    return 0;
fail:
    store_close(&s);
    return rc;
}

void store_close(store_t **sp)
{
    if (!sp || !*sp)
        return;
    store_t *s = *sp;
    if (s->db)
        leveldb_close(s->db);
    store_view_remove(s->view);
    free(s->view);
    if (s->opt)
        leveldb_options_destroy(s->opt);
    if (s->bloom)
        leveldb_filterpolicy_destroy(s->bloom);
    if (s->ro)
        leveldb_readoptions_destroy(s->ro);
    if (s->wo)
        leveldb_writeoptions_destroy(s->wo);
    if (s->batch)
        leveldb_writebatch_destroy(s->batch);
    frame_writer_destroy(&s->enc);
    fpset_destroy(&s->pending_keys);
    store_body_destroy(&s->bodies);
    free(s->value);
    msgpack_sbuffer_destroy(&s->sb);
    msgpack_sbuffer_destroy(&s->records);
    store_index_close(s);
    msgpack_zone_destroy(&s->zone);
    sodium_memzero(s->sign_sk, sizeof(s->sign_sk));
    free(s->path);
    free(s);
    *sp = NULL;
}

/* ---- write ---------------------------------------------------------- */

void store_batch_put(store_t *s, const void *k, size_t kl, const void *v,
                     size_t vl)
{
    leveldb_writebatch_put(s->batch, k, kl, v, vl);
    s->pending_bytes += kl + vl;
}

int store_record_bytes(frame_writer_t *w, const struct audit_record *r,
                       const uint8_t **value, size_t *vlen)
{
    frame_writer_reset(w);
    size_t before = frame_writer_bytes(w);
    int rc = frame_add_record(w, r);
    if (rc < 0)
        return rc;
    const void *body;
    size_t blen;
    frame_writer_finish(w, 0, 0, false, &body, &blen);
    if (!body || blen <= before)
        return -ENOMEM;
    *value = (const uint8_t *)body + before;
    *vlen = blen - before;
    /* The frame packer does not report a write it could not grow the
     * buffer for: a value that is not one whole item is never stored. */
    if (mpcheck_size(*value, *vlen, VALUE_DEPTH) != (long)*vlen)
        return -ENOMEM;
    return 0;
}

/* The first key for r that is neither stored nor pending. */
static int free_key(store_t *s, const struct audit_record *r, uint8_t *key,
                    size_t *klen)
{
    int dberr = 0;
    for (uint32_t dup = 0;; dup++) {
        *klen = record_key(r, dup, key);
        bool past = s->key_max_known &&
                    (!s->key_max_len ||
                     key_cmp(key, *klen, s->key_max, s->key_max_len) > 0);
        if (!fpset_has(s->pending_keys, key, *klen) &&
            (past || !db_has(s, key, *klen, &dberr)))
            break;
        if (dberr)
            return dberr;
        if (dup == UINT32_MAX)
            return -EIO;
    }
    raise_key_max(s->pending_key_max, &s->pending_key_max_len, key, *klen);
    return fpset_add(s->pending_keys, key, *klen);
}

/* LevelDB words errors as text; a full disk is worth telling apart. */
static int write_error(const char *e)
{
    return strstr(e, strerror(ENOSPC)) || strstr(e, strerror(EDQUOT))
               ? -ENOSPC
               : -EIO;
}

/* A reader or writer needs the DB open: after a failed reopen it is not. */
static int need_db(const store_t *s)
{
    return s->db ? 0 : -EIO;
}

/* The stored value of a record whose body is in a segment: the
 * reference, then the map (store_private.h), in s->value. */
static int value_with_ref(store_t *s, const struct store_body_ref *ref,
                          const uint8_t *map, size_t mlen,
                          const uint8_t **value, size_t *vlen)
{
    size_t n = STORE_REF_PREFIX_LEN + mlen;
    if (n > s->value_cap) {
        uint8_t *p = realloc(s->value, n);
        if (!p)
            return -ENOMEM;
        s->value = p;
        s->value_cap = n;
    }
    s->value[0] = 0x92;
    s->value[1] = 0xc4;
    s->value[2] = STORE_BODY_REF_BYTES;
    store_body_ref_pack(ref, s->value + 3);
    memcpy(s->value + STORE_REF_PREFIX_LEN, map, mlen);
    *value = s->value;
    *vlen = n;
    return 0;
}

/* A chain entry, [bin key, bin hash], into out (room for
 * STORE_CHAIN_ENTRY_MAX); its length. */
#define STORE_CHAIN_ENTRY_MAX (5 + STORE_KEY_MAX + STORE_HASH_BYTES)
static size_t chain_entry(const uint8_t *key, size_t klen,
                          const uint8_t hash[STORE_HASH_BYTES], uint8_t *out)
{
    out[0] = 0x92;
    out[1] = 0xc4;
    out[2] = (uint8_t)klen;
    memcpy(out + 3, key, klen);
    out[3 + klen] = 0xc4;
    out[4 + klen] = STORE_HASH_BYTES;
    memcpy(out + 5 + klen, hash, STORE_HASH_BYTES);
    return 5 + klen + STORE_HASH_BYTES;
}

int store_put(store_t *s, const struct audit_record *r)
{
    if (r->kind != RECORD_REQUEST && r->kind != RECORD_RESPONSE &&
        r->kind != RECORD_OUTAGE)
        return -EINVAL;
    if (need_db(s) < 0)
        return -EIO;
    /* A long body goes to a segment and the record keeps a reference;
     * a trail opened only for reading keeps it inline. */
    struct audit_record bodiless;
    struct store_body_ref ref;
    bool apart = r->body.n > STORE_BODY_INLINE_MAX &&
                 store_body_writing(s->bodies);
    if (apart) {
        bodiless = *r;
        bodiless.body = (struct bytes){ NULL, 0 };
    }
    const uint8_t *value;
    size_t vlen = 0, klen = 0;
    uint8_t key[STORE_KEY_MAX];
    int rc = store_record_bytes(s->enc, apart ? &bodiless : r, &value, &vlen);
    if (rc == 0)
        rc = free_key(s, r, key, &klen);
    if (rc == 0 && apart &&
        (rc = store_body_prepare(s->bodies, r->body.p, r->body.n, &ref)) == 0)
        rc = value_with_ref(s, &ref, value, vlen, &value, &vlen);
    uint8_t hash[STORE_HASH_BYTES];
    if (rc == 0 && store_chain_hash(s->hash, key, klen, value, vlen, hash) < 0)
        rc = -ENOMEM;
    if (rc == 0 && store_index_put(s, key, klen, r, s->seq + 1) < 0)
        rc = -ENOMEM;
    if (rc < 0)
        return rc;

    /* Nothing fails from here on: the body, the record and its chain
     * entry go in together. */
    if (apart) {
        store_body_append(s->bodies, r->body.p, &ref);
        s->pending_bytes += STORE_BODY_HEADER_BYTES + r->body.n;
    }
    uint8_t sk[STORE_SEQ_KEY_LEN], entry[STORE_CHAIN_ENTRY_MAX];
    seq_key(s->seq + 1, sk);
    size_t elen = chain_entry(key, klen, hash, entry);
    store_batch_put(s, key, klen, value, vlen);
    store_batch_put(s, sk, sizeof(sk), entry, elen);
    s->seq++;
    memcpy(s->hash, hash, STORE_HASH_BYTES);
    s->pending++;
    return 0;
}

/* The batch is in the DB: it becomes the committed state. */
static void committed(store_t *s)
{
    leveldb_writebatch_clear(s->batch);
    fpset_clear(s->pending_keys);
    if (s->pending_key_max_len)
        raise_key_max(s->key_max, &s->key_max_len, s->pending_key_max,
                      s->pending_key_max_len);
    s->pending_key_max_len = 0;
    store_body_commit(s->bodies);
    s->bytes_written += s->pending_bytes;
    s->pending_bytes = 0;
    s->pending = 0;
    s->pending_producers = 0;
    s->cp_pending = false;
    s->committed_seq = s->seq;
    memcpy(s->committed_hash, s->hash, STORE_HASH_BYTES);
    store_index_committed(s);
}

/* Opens the DB again after a failed write and finds out what of the
 * pending batch landed: 0 (none of it), 1 (all of it: now committed), or
 * -errno (still failing, or the trail changed under us). */
static int reopen(store_t *s, char *err, size_t errlen)
{
    if (s->db)
        leveldb_close(s->db);
    char *e = NULL;
    s->db = leveldb_open(s->opt, s->path, &e);
    if (e) {
        errbuf_set(err, errlen, "%s", e);
        int rc = write_error(e);
        leveldb_free(e);
        s->db = NULL;
        return rc;
    }
    uint64_t seq;
    uint8_t hash[STORE_HASH_BYTES];
    uint64_t cp_seq = s->cp_seq;
    bool cp_final = s->cp_final;
    int rc = read_head(s, &seq, hash, err, errlen);
    s->cp_seq = cp_seq; /* ours includes the pending checkpoint */
    s->cp_final = cp_final;
    if (rc < 0)
        return rc;
    if (seq == s->committed_seq &&
        !memcmp(hash, s->committed_hash, STORE_HASH_BYTES))
        return 0;
    if (seq == s->seq && !memcmp(hash, s->hash, STORE_HASH_BYTES)) {
        committed(s);
        return 1;
    }
    errbuf_set(err, errlen, "the trail changed while it could not be "
               "written (its head is seq %llu, the logger's seq %llu)",
               (unsigned long long)seq, (unsigned long long)s->committed_seq);
    return -EIO;
}

/* The meta entry for the head, and where the bodies end, into the
 * batch. 0 or -ENOMEM. */
static int put_meta(store_t *s)
{
    msgpack_packer pk;
    struct store_body_pos end;
    store_body_end(s->bodies, true, &end);
    msgpack_sbuffer_clear(&s->sb);
    msgpack_packer_init(&pk, &s->sb, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, 6) || pack_key(&pk, "v") ||
        msgpack_pack_uint32(&pk, 1) || pack_key(&pk, "last_seq") ||
        msgpack_pack_uint64(&pk, s->seq) || pack_key(&pk, "last_hash") ||
        msgpack_pack_bin_with_body(&pk, s->hash, STORE_HASH_BYTES) ||
        pack_key(&pk, "body_seg") || msgpack_pack_uint32(&pk, end.seg) ||
        pack_key(&pk, "body_off") || msgpack_pack_uint64(&pk, end.off) ||
        pack_key(&pk, "body_chain") ||
        msgpack_pack_bin_with_body(&pk, end.chain, STORE_HASH_BYTES))
        return -ENOMEM;
    /* After a failed write the batch holds an older meta too; the last
     * put of a key in a batch wins. */
    store_batch_put(s, "m", 1, s->sb.data, s->sb.size);
    return 0;
}

int store_commit(store_t *s, bool sync, char *err, size_t errlen)
{
    if (!store_dirty(s))
        return 0;
    if (s->broken) {
        int rc = reopen(s, err, errlen);
        if (rc < 0)
            return rc;
        s->broken = false;
        if (rc == 1)
            return 0;
    }
    /* Bodies reach the disk before the records that name them. */
    int rc = store_body_flush(s->bodies, sync, err, errlen);
    if (rc < 0)
        return rc;
    if (put_meta(s) < 0) {
        errbuf_set(err, errlen, "out of memory");
        return -ENOMEM;
    }
    char *e = NULL;
    leveldb_writeoptions_set_sync(s->wo, sync);
    leveldb_write(s->db, s->wo, s->batch, &e);
    if (e) {
        errbuf_set(err, errlen, "%s", e);
        rc = write_error(e);
        leveldb_free(e);
        s->broken = true;
        return rc;
    }
    committed(s);
    return 0;
}

uint32_t store_discard(store_t *s)
{
    uint32_t n = s->pending;
    leveldb_writebatch_clear(s->batch);
    fpset_clear(s->pending_keys);
    s->pending_key_max_len = 0;
    store_body_discard(s->bodies);
    s->pending_bytes = 0;
    s->pending = 0;
    s->pending_producers = 0;
    s->seq = s->committed_seq;
    memcpy(s->hash, s->committed_hash, STORE_HASH_BYTES);
    store_index_discard(s);
    if (s->cp_pending) {
        /* the checkpoint went with the batch: the last committed one is
         * no longer known exactly; an extra checkpoint is harmless */
        s->cp_pending = false;
        s->cp_seq = 0;
        s->cp_final = false;
    }
    return n;
}

uint32_t store_pending(const store_t *s) { return s->pending; }
bool store_dirty(const store_t *s)
{
    return s->pending || s->cp_pending || s->pending_producers;
}
uint64_t store_pending_bytes(const store_t *s) { return s->pending_bytes; }
uint64_t store_bytes_written(const store_t *s) { return s->bytes_written; }
uint64_t store_last_seq(const store_t *s) { return s->committed_seq; }

void store_head(const store_t *s, uint8_t hash[STORE_HASH_BYTES])
{
    memcpy(hash, s->committed_hash, STORE_HASH_BYTES);
}

/* ---- checkpoints ---------------------------------------------------- */

void store_sign_with(store_t *s, const uint8_t sk[STORE_SIGN_SECRET_BYTES])
{
    memcpy(s->sign_sk, sk, STORE_SIGN_SECRET_BYTES);
    crypto_sign_ed25519_sk_to_pk(s->sign_pk, s->sign_sk);
    s->signing = true;
}

bool store_signing(const store_t *s) { return s->signing; }

void store_sign_public(const store_t *s, uint8_t pk[STORE_SIGN_PUBLIC_BYTES])
{
    memcpy(pk, s->sign_pk, STORE_SIGN_PUBLIC_BYTES);
}

uint64_t store_uncheckpointed(const store_t *s)
{
    return s->seq > s->cp_seq ? s->seq - s->cp_seq : 0;
}

int store_checkpoint(store_t *s, bool final)
{
    if (!s->seq || (s->cp_seq == s->seq && (s->cp_final || !final)))
        return 0;
    uint64_t now = clock_wall_ns();
    uint8_t sig[STORE_SIG_BYTES], msg[STORE_CP_MSG_LEN];
    if (s->signing) {
        store_checkpoint_message(s->seq, s->hash, now, final, msg);
        crypto_sign_detached(sig, NULL, msg, sizeof(msg), s->sign_sk);
    }
    msgpack_packer pk;
    msgpack_sbuffer_clear(&s->sb);
    msgpack_packer_init(&pk, &s->sb, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, s->signing ? 7 : 5) || pack_key(&pk, "v") ||
        msgpack_pack_uint32(&pk, 1) || pack_key(&pk, "seq") ||
        msgpack_pack_uint64(&pk, s->seq) || pack_key(&pk, "head") ||
        msgpack_pack_bin_with_body(&pk, s->hash, STORE_HASH_BYTES) ||
        pack_key(&pk, "time") || msgpack_pack_uint64(&pk, now) ||
        pack_key(&pk, "final") ||
        (final ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk)))
        return -ENOMEM;
    if (s->signing &&
        (pack_key(&pk, "key") ||
         msgpack_pack_bin_with_body(&pk, s->sign_pk, STORE_SIGN_PUBLIC_BYTES) ||
         pack_key(&pk, "sig") ||
         msgpack_pack_bin_with_body(&pk, sig, sizeof(sig))))
        return -ENOMEM;
    uint8_t k[STORE_CP_KEY_LEN];
    k[0] = 'c';
    put_be(k + 1, s->seq, 8);
    store_batch_put(s, k, sizeof(k), s->sb.data, s->sb.size);
    s->cp_seq = s->seq;
    s->cp_final = final;
    s->cp_pending = true;
    return 0;
}

/* ---- decode --------------------------------------------------------- */

store_decoder_t *store_decoder_new(void)
{
    store_decoder_t *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->reader = frame_reader_new();
    if (!d->reader) {
        free(d);
        return NULL;
    }
    return d;
}

void store_decoder_destroy(store_decoder_t **d)
{
    if (!d || !*d)
        return;
    frame_reader_destroy(&(*d)->reader);
    free(*d);
    *d = NULL;
}

int store_decoder_unpack(store_decoder_t *d, const void *p, size_t n,
                         const msgpack_object **out)
{
    d->records = NULL;
    d->n_records = 0;
    d->keys = d->seqs = NULL;
    return frame_unpack(d->reader, p, n, out) == 0 ? 0 : -EBADMSG;
}

int store_value_split(const msgpack_object *o, struct store_body_ref *ref,
                      const msgpack_object **map)
{
    *map = o;
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return 0;
    /* [reference, map]: the body is in a segment */
    const msgpack_object *a = o->via.array.ptr;
    if (o->via.array.size != 2 || a[0].type != MSGPACK_OBJECT_BIN ||
        !store_body_ref_unpack(a[0].via.bin.ptr, a[0].via.bin.size, ref))
        return -EBADMSG;
    *map = &a[1];
    return 1;
}

int store_decode(store_decoder_t *d, const void *value, size_t len,
                 struct audit_record *out)
{
    const msgpack_object *o;
    d->has_ref = false;
    if (store_decoder_unpack(d, value, len, &o) < 0)
        return -EBADMSG;
    int split = store_value_split(o, &d->ref, &o);
    if (split < 0)
        return -EBADMSG;
    d->has_ref = split == 1;
    int rc = frame_decode_record(d->reader, o, out);
    /* a body is in one place: the record or its segment */
    return rc == 0 && d->has_ref && out->body.n ? -EBADMSG : rc;
}

/* ---- iterate -------------------------------------------------------- */

struct store_iter {
    store_t *s;
    leveldb_iterator_t *it;
    store_decoder_t *dec;
    struct store_whole whole;     /* the last record, its body put back */
    uint64_t until_ns;
    uint8_t start[STORE_KEY_MAX];
    size_t start_len;
    bool skip_start;              /* `after` given: skip that key itself */
    bool started;
    bool failed;                  /* LevelDB could not read on */
    char error[256];
};

store_iter_t *store_iter_new(store_t *s, uint64_t since_ns, uint64_t until_ns,
                             const void *after, size_t after_len)
{
    if (need_db(s) < 0)
        return NULL;
    store_iter_t *it = calloc(1, sizeof(*it));
    if (!it)
        return NULL;
    it->s = s;
    it->until_ns = until_ns;
    it->it = leveldb_create_iterator(s->db, s->ro);
    it->dec = store_decoder_new();
    if (!it->it || !it->dec || store_whole_init(&it->whole) < 0) {
        store_iter_destroy(&it);
        return NULL;
    }
    const uint8_t *a = after;
    if (a && after_len >= STORE_KEY_BASE_LEN && after_len <= STORE_KEY_MAX &&
        a[0] == 't') {
        memcpy(it->start, a, after_len);
        it->start_len = after_len;
        it->skip_start = true;
    } else {
        it->start[0] = 't';
        put_be(it->start + 1, since_ns, 8);
        it->start_len = 9;
    }
    return it;
}

void store_iter_destroy(store_iter_t **it)
{
    if (!it || !*it)
        return;
    if ((*it)->it)
        leveldb_iter_destroy((*it)->it);
    store_decoder_destroy(&(*it)->dec);
    store_whole_fini(&(*it)->whole);
    free(*it);
    *it = NULL;
}

int store_iter_next(store_iter_t *it, struct audit_record *out)
{
    it->whole.have = false;
    if (it->failed)
        return -EIO;
    if (!it->started) {
        it->started = true;
        leveldb_iter_seek(it->it, (const char *)it->start, it->start_len);
        size_t kl;
        if (it->skip_start && leveldb_iter_valid(it->it)) {
            const char *k = leveldb_iter_key(it->it, &kl);
            if (kl == it->start_len && !memcmp(k, it->start, kl))
                leveldb_iter_next(it->it);
        }
    } else if (leveldb_iter_valid(it->it)) {
        leveldb_iter_next(it->it);
    }
    /* LevelDB steps over a block it cannot read and only remembers the
     * error: ask each time, or a damaged block reads as missing records */
    if (store_iter_status(it->it, it->error, sizeof(it->error)) < 0) {
        it->failed = true;
        return -EIO;
    }
    if (!leveldb_iter_valid(it->it))
        return 0;
    size_t kl, vl;
    const uint8_t *k = (const uint8_t *)leveldb_iter_key(it->it, &kl);
    if (kl < STORE_KEY_BASE_LEN || k[0] != 't' ||
        store_get_be(k + 1, 8) >= it->until_ns)
        return 0;
    const char *v = leveldb_iter_value(it->it, &vl);
    if (store_decode(it->dec, v, vl, out) != 0 ||
        store_whole_fill(it->s, it->dec, &it->whole, out) < 0)
        return -EBADMSG;
    return 1;
}

const char *store_iter_error(const store_iter_t *it)
{
    return it->failed ? it->error : NULL;
}

const void *store_iter_key(const store_iter_t *it, size_t *len)
{
    *len = 0;
    return leveldb_iter_valid(it->it) ? leveldb_iter_key(it->it, len) : NULL;
}

const void *store_iter_value(const store_iter_t *it, size_t *len)
{
    *len = 0;
    return leveldb_iter_valid(it->it) ? leveldb_iter_value(it->it, len)
                                      : NULL;
}

const void *store_iter_record(store_iter_t *it, size_t *len)
{
    size_t vl;
    const void *v = store_iter_value(it, &vl);
    return store_whole_bytes(&it->whole, it->dec, v, vl, len);
}

/* ---- records read whole --------------------------------------------- */

int store_whole_init(struct store_whole *w)
{
    memset(w, 0, sizeof(*w));
    w->enc = frame_writer_new(FRAME_LOG, "store");
    return w->enc ? 0 : -ENOMEM;
}

void store_whole_fini(struct store_whole *w)
{
    frame_writer_destroy(&w->enc);
    free(w->body);
    w->body = NULL;
    w->cap = 0;
}

int store_whole_fill(store_t *s, const store_decoder_t *d,
                     struct store_whole *w, struct audit_record *out)
{
    w->have = false;
    if (d->has_ref) {
        /* a segment that cannot be read loses this body, not the walk */
        const struct store_body_ref *ref = &d->ref;
        if (ref->len > w->cap) {
            uint8_t *p = realloc(w->body, ref->len);
            if (!p)
                return -ENOMEM;
            w->body = p;
            w->cap = ref->len;
        }
        if (store_body_read(s->bodies, ref, w->body) < 0)
            return -EIO;
        out->body = (struct bytes){ (const char *)w->body, ref->len };
    }
    w->rec = *out;
    w->have = true;
    return 0;
}

const void *store_whole_bytes(struct store_whole *w, const store_decoder_t *d,
                              const void *value, size_t vlen, size_t *len)
{
    *len = 0;
    if (!w->have)
        return NULL;
    if (!d->has_ref) {
        *len = vlen;
        return value;
    }
    const uint8_t *v;
    if (store_record_bytes(w->enc, &w->rec, &v, len) < 0) {
        *len = 0;
        return NULL;
    }
    return v;
}

uint64_t store_bodies_dropped(const store_t *s) { return s->bodies_dropped; }
uint64_t store_bodies_missing(const store_t *s) { return s->bodies_missing; }
