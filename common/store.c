/* store.c - the audit trail in LevelDB: time-ordered records, hash chain.
 *
 * A record is encoded once in the codebase: frame_add_record() packs it
 * into a FRAME_LOG writer and the item's bytes (everything behind the
 * frame header) are the stored value. Decoding goes through
 * frame_decode_record(), so the bus and the trail share one decoder too.
 * Stored bytes are checked with frame_msgpack_check() before msgpack-c
 * builds anything, as on the bus: a trail edited by hand must not crash
 * a reader.
 */
#include "store.h"
#include "cursor.h"

#include <errno.h>
#include <stdarg.h>
#include <leveldb/c.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define KEY_BASE_LEN 22           /* "t" ts:8 uid:8 idx:4 kind:1 */
#define KEY_DUP_LEN 26            /* + dup:4 */
#define SEQ_KEY_LEN 9             /* "s" seq:8 */
#define WRITE_BUFFER (8u << 20)

static const uint8_t zero_hash[STORE_HASH_BYTES];

/* Keys of the pending batch, so a record colliding with one not yet
 * written gets a dup suffix too (LevelDB cannot read its own batch). */
struct keyset {
    uint8_t (*keys)[KEY_DUP_LEN + 1]; /* [0] = length, 0 when empty */
    size_t cap, n;
};

struct store {
    leveldb_t *db;
    leveldb_options_t *opt;
    leveldb_filterpolicy_t *bloom;
    leveldb_readoptions_t *ro;
    leveldb_writeoptions_t *wo;
    leveldb_writebatch_t *batch;
    frame_writer_t *enc;
    msgpack_sbuffer sb;
    struct keyset pending_keys;
    uint32_t pending;
    uint64_t pending_bytes;
    uint64_t bytes_written;
    /* chain head including the pending batch, and as last committed */
    uint64_t seq, committed_seq;
    uint8_t hash[STORE_HASH_BYTES], committed_hash[STORE_HASH_BYTES];
    /* query serving */
    msgpack_zone zone;
    msgpack_sbuffer records;
};

struct store_decoder {
    frame_reader_t *reader;
    msgpack_zone zone;
    msgpack_object obj;
    const msgpack_object *records; /* last reply */
    uint32_t n_records;
};

struct store_iter {
    store_t *s;
    leveldb_iterator_t *it;
    store_decoder_t *dec;
    uint64_t until_ns;
    uint8_t start[STORE_KEY_MAX];
    size_t start_len;
    bool skip_start;              /* `after` given: skip that key itself */
    bool started;
};

/* ---- small helpers -------------------------------------------------- */

static void put_be(uint8_t *dst, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        dst[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t get_be(const uint8_t *p, int width)
{
    uint64_t v = 0;
    for (int i = 0; i < width; i++)
        v = (v << 8) | p[i];
    return v;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Connection ids are 16 hex digits; anything else (a bad producer) still
 * gets a stable number so its records sort the same on every run. */
static uint64_t uid_number(struct bytes uid)
{
    uint64_t v = 0;
    bool hex = uid.n >= 1 && uid.n <= 16;
    for (uint32_t i = 0; hex && i < uid.n; i++) {
        char c = uid.p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            hex = false;
        v = (v << 4) | (uint64_t)(d & 0xf);
    }
    if (hex)
        return v;
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (uint32_t i = 0; i < uid.n; i++)
        h = (h ^ (uint8_t)uid.p[i]) * 1099511628211ull;
    return h;
}

static size_t record_key(const struct audit_record *r, uint32_t dup,
                         uint8_t *k)
{
    k[0] = 't';
    put_be(k + 1, r->ts_ns, 8);
    put_be(k + 9, uid_number(r->uid), 8);
    put_be(k + 17, r->idx, 4);
    k[21] = (uint8_t)r->kind;
    if (!dup)
        return KEY_BASE_LEN;
    put_be(k + 22, dup, 4);
    return KEY_DUP_LEN;
}

static void seq_key(uint64_t seq, uint8_t *k)
{
    k[0] = 's';
    put_be(k + 1, seq, 8);
}

char *store_key_describe(const void *key, size_t len, char *buf, size_t size)
{
    const uint8_t *k = key;
    if (len < KEY_BASE_LEN || k[0] != 't') {
        snprintf(buf, size, "(not a record key)");
        return buf;
    }
    int n = snprintf(buf, size, "ts %llu uid %016llx idx %u %s",
                     (unsigned long long)get_be(k + 1, 8),
                     (unsigned long long)get_be(k + 9, 8),
                     (unsigned)get_be(k + 17, 4),
                     k[21] == RECORD_REQUEST    ? "request"
                     : k[21] == RECORD_RESPONSE ? "response"
                                                : "?");
    if (len == KEY_DUP_LEN && n > 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, " dup %u",
                 (unsigned)get_be(k + 22, 4));
    return buf;
}

/* ---- pending key set ------------------------------------------------ */

static uint64_t key_hash(const uint8_t *k, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ k[i]) * 1099511628211ull;
    return h;
}

static bool keyset_has(const struct keyset *ks, const uint8_t *k, size_t n)
{
    if (!ks->cap)
        return false;
    size_t mask = ks->cap - 1;
    for (size_t i = key_hash(k, n) & mask;; i = (i + 1) & mask) {
        const uint8_t *e = ks->keys[i];
        if (!e[0])
            return false;
        if (e[0] == n && !memcmp(e + 1, k, n))
            return true;
    }
}

static void keyset_insert_nogrow(struct keyset *ks, const uint8_t *k,
                                 size_t n)
{
    size_t i = key_hash(k, n) & (ks->cap - 1);
    while (ks->keys[i][0])
        i = (i + 1) & (ks->cap - 1);
    ks->keys[i][0] = (uint8_t)n;
    memcpy(ks->keys[i] + 1, k, n);
    ks->n++;
}

static int keyset_add(struct keyset *ks, const uint8_t *k, size_t n)
{
    if ((ks->n + 1) * 2 > ks->cap) {
        struct keyset bigger = { NULL, ks->cap ? ks->cap * 2 : 1024, 0 };
        bigger.keys = calloc(bigger.cap, sizeof(*bigger.keys));
        if (!bigger.keys)
            return -ENOMEM;
        for (size_t i = 0; i < ks->cap; i++)
            if (ks->keys[i][0])
                keyset_insert_nogrow(&bigger, ks->keys[i] + 1,
                                     ks->keys[i][0]);
        free(ks->keys);
        *ks = bigger;
    }
    keyset_insert_nogrow(ks, k, n);
    return 0;
}

static void keyset_clear(struct keyset *ks)
{
    if (ks->n)
        memset(ks->keys, 0, ks->cap * sizeof(*ks->keys));
    ks->n = 0;
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

/* Reads a chain entry: [bin key, bin hash]. */
static bool parse_chain_entry(msgpack_zone *z, const void *v, size_t n,
                              struct bytes *key, const uint8_t **hash)
{
    msgpack_object o;
    size_t off = 0;
    long used = frame_msgpack_check(v, n, 3);
    if (used < 0 || (size_t)used != n)
        return false;
    msgpack_zone_clear(z);
    if (msgpack_unpack(v, n, &off, z, &o) != MSGPACK_UNPACK_SUCCESS ||
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

/* The chain head is the last "s" entry (the meta key is only a check for
 * verify), so a writer never reuses a sequence number. */
static int load_head(store_t *s, char *err, size_t errlen)
{
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ro);
    if (!it)
        return -ENOMEM;
    int rc = 0;
    leveldb_iter_seek(it, "t", 1);
    if (leveldb_iter_valid(it))
        leveldb_iter_prev(it);
    else
        leveldb_iter_seek_to_last(it);
    size_t kl = 0, vl = 0;
    const char *k = leveldb_iter_valid(it) ? leveldb_iter_key(it, &kl) : NULL;
    if (k && kl == SEQ_KEY_LEN && k[0] == 's') {
        const char *v = leveldb_iter_value(it, &vl);
        struct bytes key;
        const uint8_t *hash;
        s->seq = get_be((const uint8_t *)k + 1, 8);
        if (!parse_chain_entry(&s->zone, v, vl, &key, &hash)) {
            set_err(err, errlen,
                    "chain entry %llu (the head) is malformed; run `hark "
                    "verify`", (unsigned long long)s->seq);
            rc = -EIO;
        } else {
            memcpy(s->hash, hash, STORE_HASH_BYTES);
        }
    }
    leveldb_iter_destroy(it);
    s->committed_seq = s->seq;
    memcpy(s->committed_hash, s->hash, STORE_HASH_BYTES);
    return rc;
}

static bool trail_exists(const char *path)
{
    char cur[4096];
    struct stat st;
    if ((size_t)snprintf(cur, sizeof(cur), "%s/CURRENT", path) >= sizeof(cur))
        return false;
    return stat(cur, &st) == 0;
}

int store_open(const char *path, unsigned flags, store_t **out, char *err,
               size_t errlen)
{
    *out = NULL;
    if (!(flags & STORE_CREATE) && !trail_exists(path)) {
        set_err(err, errlen, "no audit trail at %s", path);
        return -ENOENT;
    }
    if (sodium_init() < 0) {
        set_err(err, errlen, "libsodium failed to initialise");
        return -EIO;
    }
    store_t *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    msgpack_sbuffer_init(&s->sb);
    msgpack_sbuffer_init(&s->records);
    int rc = -ENOMEM;
    if (!msgpack_zone_init(&s->zone, 4096)) {
        free(s);
        return -ENOMEM;
    }
    s->opt = leveldb_options_create();
    s->bloom = leveldb_filterpolicy_create_bloom(10);
    s->ro = leveldb_readoptions_create();
    s->wo = leveldb_writeoptions_create();
    s->batch = leveldb_writebatch_create();
    s->enc = frame_writer_new(FRAME_LOG, "store");
    if (!s->opt || !s->bloom || !s->ro || !s->wo || !s->batch || !s->enc)
        goto fail;
    leveldb_options_set_create_if_missing(s->opt, (flags & STORE_CREATE) != 0);
    leveldb_options_set_write_buffer_size(s->opt, WRITE_BUFFER);
    leveldb_options_set_compression(s->opt, leveldb_snappy_compression);
    /* Bloom filters make the collision check of each put cheap. */
    leveldb_options_set_filter_policy(s->opt, s->bloom);
    char *e = NULL;
    s->db = leveldb_open(s->opt, path, &e);
    if (e) {
        set_err(err, errlen, "%s", e);
        /* "IO error: lock DIR/LOCK: already held by process" (same
         * process) or "...: Resource temporarily unavailable". */
        rc = strstr(e, "lock ") && strstr(e, "LOCK") ? -EBUSY : -EIO;
        leveldb_free(e);
        goto fail;
    }
    rc = load_head(s, err, errlen);
    if (rc < 0 && (flags & STORE_CREATE))
        goto fail;
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
    msgpack_sbuffer_destroy(&s->sb);
    msgpack_sbuffer_destroy(&s->records);
    msgpack_zone_destroy(&s->zone);
    free(s->pending_keys.keys);
    free(s);
    *sp = NULL;
}

/* ---- write ---------------------------------------------------------- */

static void batch_put(store_t *s, const void *k, size_t kl, const void *v,
                      size_t vl)
{
    leveldb_writebatch_put(s->batch, k, kl, v, vl);
    s->pending_bytes += kl + vl;
}

int store_put(store_t *s, const struct audit_record *r)
{
    if (r->kind != RECORD_REQUEST && r->kind != RECORD_RESPONSE)
        return -EINVAL;
    /* The one encoding of a record: the item frame_add_record() packs. */
    frame_writer_reset(s->enc);
    size_t before = frame_writer_bytes(s->enc);
    int rc = frame_add_record(s->enc, r);
    if (rc < 0)
        return rc;
    const void *body;
    size_t blen;
    frame_writer_finish(s->enc, 0, 0, false, &body, &blen);
    if (!body || blen <= before)
        return -ENOMEM;
    const uint8_t *value = (const uint8_t *)body + before;
    size_t vlen = blen - before;

    uint8_t key[STORE_KEY_MAX];
    size_t klen = 0;
    int dberr = 0;
    for (uint32_t dup = 0;; dup++) {
        klen = record_key(r, dup, key);
        if (!keyset_has(&s->pending_keys, key, klen) &&
            !db_has(s, key, klen, &dberr))
            break;
        if (dberr)
            return dberr;
        if (dup == UINT32_MAX)
            return -EIO;
    }
    if (keyset_add(&s->pending_keys, key, klen) < 0)
        return -ENOMEM;

    uint8_t hash[STORE_HASH_BYTES];
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, s->hash, STORE_HASH_BYTES);
    crypto_hash_sha256_update(&h, key, klen);
    crypto_hash_sha256_update(&h, value, vlen);
    crypto_hash_sha256_final(&h, hash);

    uint8_t sk[SEQ_KEY_LEN];
    seq_key(s->seq + 1, sk);
    msgpack_packer pk;
    msgpack_sbuffer_clear(&s->sb);
    msgpack_packer_init(&pk, &s->sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_bin_with_body(&pk, key, klen);
    msgpack_pack_bin_with_body(&pk, hash, STORE_HASH_BYTES);
    if (!s->sb.data)
        return -ENOMEM;

    batch_put(s, key, klen, value, vlen);
    batch_put(s, sk, sizeof(sk), s->sb.data, s->sb.size);
    s->seq++;
    memcpy(s->hash, hash, STORE_HASH_BYTES);
    s->pending++;
    return 0;
}

int store_commit(store_t *s, bool sync, char *err, size_t errlen)
{
    if (!s->pending)
        return 0;
    msgpack_packer pk;
    msgpack_sbuffer_clear(&s->sb);
    msgpack_packer_init(&pk, &s->sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_uint32(&pk, 1);
    msgpack_pack_str_with_body(&pk, "last_seq", 8);
    msgpack_pack_uint64(&pk, s->seq);
    msgpack_pack_str_with_body(&pk, "last_hash", 9);
    msgpack_pack_bin_with_body(&pk, s->hash, STORE_HASH_BYTES);
    if (!s->sb.data)
        return -ENOMEM;
    /* After a failed write the batch holds an older meta too; the last
     * put of a key in a batch wins. */
    batch_put(s, "m", 1, s->sb.data, s->sb.size);

    char *e = NULL;
    leveldb_writeoptions_set_sync(s->wo, sync);
    leveldb_write(s->db, s->wo, s->batch, &e);
    if (e) {
        set_err(err, errlen, "%s", e);
        leveldb_free(e);
        return -EIO;
    }
    leveldb_writebatch_clear(s->batch);
    keyset_clear(&s->pending_keys);
    s->bytes_written += s->pending_bytes;
    s->pending_bytes = 0;
    s->pending = 0;
    s->committed_seq = s->seq;
    memcpy(s->committed_hash, s->hash, STORE_HASH_BYTES);
    return 0;
}

uint32_t store_pending(const store_t *s) { return s->pending; }
uint64_t store_bytes_written(const store_t *s) { return s->bytes_written; }
uint64_t store_last_seq(const store_t *s) { return s->committed_seq; }

void store_head(const store_t *s, uint8_t hash[STORE_HASH_BYTES])
{
    memcpy(hash, s->committed_hash, STORE_HASH_BYTES);
}

/* ---- decode --------------------------------------------------------- */

store_decoder_t *store_decoder_new(void)
{
    store_decoder_t *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->reader = frame_reader_new();
    if (!d->reader || !msgpack_zone_init(&d->zone, 16 * 1024)) {
        frame_reader_destroy(&d->reader);
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
    msgpack_zone_destroy(&(*d)->zone);
    free(*d);
    *d = NULL;
}

/* Checks and unpacks one whole MessagePack value into d->obj. */
static bool unpack_whole(store_decoder_t *d, const void *p, size_t n)
{
    long used = frame_msgpack_check(p, n, FRAME_MAX_DEPTH);
    if (used < 0 || (size_t)used != n || n > FRAME_MAX_BYTES)
        return false;
    size_t off = 0;
    msgpack_zone_clear(&d->zone);
    d->records = NULL;
    d->n_records = 0;
    return msgpack_unpack(p, n, &off, &d->zone, &d->obj) ==
           MSGPACK_UNPACK_SUCCESS;
}

static int decode_object(store_decoder_t *d, const msgpack_object *o,
                         struct audit_record *out)
{
    return frame_decode_record(d->reader, o, out);
}

int store_decode(store_decoder_t *d, const void *value, size_t len,
                 struct audit_record *out)
{
    if (!unpack_whole(d, value, len))
        return -EBADMSG;
    return decode_object(d, &d->obj, out);
}

/* ---- iterate -------------------------------------------------------- */

store_iter_t *store_iter_new(store_t *s, uint64_t since_ns, uint64_t until_ns,
                             const void *after, size_t after_len)
{
    store_iter_t *it = calloc(1, sizeof(*it));
    if (!it)
        return NULL;
    it->s = s;
    it->until_ns = until_ns;
    it->it = leveldb_create_iterator(s->db, s->ro);
    it->dec = store_decoder_new();
    if (!it->it || !it->dec) {
        store_iter_destroy(&it);
        return NULL;
    }
    const uint8_t *a = after;
    if (a && after_len >= KEY_BASE_LEN && after_len <= STORE_KEY_MAX &&
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
    free(*it);
    *it = NULL;
}

int store_iter_next(store_iter_t *it, struct audit_record *out)
{
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
    if (!leveldb_iter_valid(it->it))
        return 0;
    size_t kl, vl;
    const uint8_t *k = (const uint8_t *)leveldb_iter_key(it->it, &kl);
    if (kl < KEY_BASE_LEN || k[0] != 't' || get_be(k + 1, 8) >= it->until_ns)
        return 0;
    const char *v = leveldb_iter_value(it->it, &vl);
    return store_decode(it->dec, v, vl, out) == 0 ? 1 : -EBADMSG;
}

const void *store_iter_key(const store_iter_t *it, size_t *len)
{
    return leveldb_iter_key(it->it, len);
}

const void *store_iter_value(const store_iter_t *it, size_t *len)
{
    return leveldb_iter_value(it->it, len);
}

/* ---- verify --------------------------------------------------------- */

/* Keyed 64-bit fingerprints (SipHash with a random key, so an inserted
 * key cannot be crafted to collide) of the keys the chain references. */
struct fpset {
    uint64_t *v;
    size_t cap, n;
    uint8_t key[crypto_shorthash_KEYBYTES];
};

static uint64_t fp_of(const struct fpset *fs, const void *k, size_t n)
{
    uint8_t out[crypto_shorthash_BYTES];
    uint64_t v;
    crypto_shorthash(out, k, n, fs->key);
    memcpy(&v, out, sizeof(v));
    return v ? v : 1; /* 0 marks an empty slot */
}

static bool fpset_has(const struct fpset *fs, uint64_t v)
{
    for (size_t i = v & (fs->cap - 1);; i = (i + 1) & (fs->cap - 1)) {
        if (fs->v[i] == v)
            return true;
        if (!fs->v[i])
            return false;
    }
}

static int fpset_add(struct fpset *fs, uint64_t v)
{
    if ((fs->n + 1) * 2 > fs->cap) {
        size_t cap = fs->cap ? fs->cap * 2 : 4096;
        uint64_t *nv = calloc(cap, sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        for (size_t i = 0; i < fs->cap; i++) {
            if (!fs->v[i])
                continue;
            size_t j = fs->v[i] & (cap - 1);
            while (nv[j])
                j = (j + 1) & (cap - 1);
            nv[j] = fs->v[i];
        }
        free(fs->v);
        fs->v = nv;
        fs->cap = cap;
    }
    size_t j = v & (fs->cap - 1);
    while (fs->v[j] && fs->v[j] != v)
        j = (j + 1) & (fs->cap - 1);
    if (!fs->v[j]) {
        fs->v[j] = v;
        fs->n++;
    }
    return 0;
}

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

/* Checks "m" against the chain's end. */
static int verify_meta(store_t *s, struct store_verify *out, uint64_t last,
                       const uint8_t *head)
{
    char *e = NULL;
    size_t vl = 0;
    char *v = leveldb_get(s->db, s->ro, "m", 1, &vl, &e);
    if (e) {
        snprintf(out->why, sizeof(out->why), "reading meta: %s", e);
        leveldb_free(e);
        return -EIO;
    }
    if (!v)
        return last ? bad(out, last, "meta key missing") : 0;
    uint64_t mseq = 0;
    const uint8_t *mhash = NULL;
    msgpack_object o;
    size_t off = 0;
    long used = frame_msgpack_check(v, vl, 2);
    msgpack_zone_clear(&s->zone);
    if (used >= 0 && (size_t)used == vl &&
        msgpack_unpack(v, vl, &off, &s->zone, &o) == MSGPACK_UNPACK_SUCCESS &&
        o.type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < o.via.map.size; i++) {
            const msgpack_object *k = &o.via.map.ptr[i].key;
            const msgpack_object *val = &o.via.map.ptr[i].val;
            if (k->type != MSGPACK_OBJECT_STR)
                continue;
            if (k->via.str.size == 8 &&
                !memcmp(k->via.str.ptr, "last_seq", 8) &&
                val->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                mseq = val->via.u64;
            else if (k->via.str.size == 9 &&
                     !memcmp(k->via.str.ptr, "last_hash", 9) &&
                     val->type == MSGPACK_OBJECT_BIN &&
                     val->via.bin.size == STORE_HASH_BYTES)
                mhash = (const uint8_t *)val->via.bin.ptr;
        }
    }
    int rc = 0;
    if (!mhash) {
        rc = bad(out, last, "meta key malformed");
    } else if (mseq > last) {
        rc = bad(out, last + 1,
                 "chain entries missing at the end (deleted): meta says the "
                 "last is seq %llu", (unsigned long long)mseq);
    } else if (mseq < last) {
        rc = bad(out, mseq + 1,
                 "chain entries after the meta's last seq %llu (inserted)",
                 (unsigned long long)mseq);
    } else if (memcmp(mhash, head, STORE_HASH_BYTES)) {
        rc = bad(out, last, "meta head hash differs from the chain's "
                            "last entry (edited)");
    }
    leveldb_free(v);
    return rc;
}

int store_verify(store_t *s, struct store_verify *out)
{
    memset(out, 0, sizeof(*out));
    struct fpset fs = { NULL, 0, 0, { 0 } };
    randombytes_buf(fs.key, sizeof(fs.key));
    uint8_t prev[STORE_HASH_BYTES];
    memcpy(prev, zero_hash, sizeof(prev));
    char desc[160];
    int rc = 0;
    leveldb_readoptions_t *ro = leveldb_readoptions_create();
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ro);
    if (!ro || !it) {
        rc = -ENOMEM;
        goto out;
    }
    leveldb_readoptions_set_verify_checksums(ro, 1);
    leveldb_readoptions_set_fill_cache(ro, 0);

    uint64_t expect = 1;
    for (leveldb_iter_seek(it, "s", 1); leveldb_iter_valid(it);
         leveldb_iter_next(it), expect++) {
        size_t kl, vl, rl;
        const uint8_t *k = (const uint8_t *)leveldb_iter_key(it, &kl);
        if (kl < 1 || k[0] != 's')
            break;
        uint64_t seq = kl == SEQ_KEY_LEN ? get_be(k + 1, 8) : 0;
        if (seq > expect) {
            rc = bad(out, expect, "chain entry missing (deleted); the next "
                                  "one is seq %llu", (unsigned long long)seq);
            goto out;
        }
        if (seq != expect) {
            rc = bad(out, expect, "unexpected chain key (edited)");
            goto out;
        }
        const char *v = leveldb_iter_value(it, &vl);
        struct bytes key;
        const uint8_t *hash;
        if (!parse_chain_entry(&s->zone, v, vl, &key, &hash)) {
            rc = bad(out, seq, "chain entry malformed (edited)");
            goto out;
        }
        char *e = NULL;
        char *rec = leveldb_get(s->db, ro, key.p, key.n, &rl, &e);
        if (e) {
            snprintf(out->why, sizeof(out->why), "reading a record: %s", e);
            leveldb_free(e);
            rc = -EIO;
            goto out;
        }
        if (!rec) {
            rc = bad(out, seq, "record missing (deleted): %s",
                     store_key_describe(key.p, key.n, desc, sizeof(desc)));
            goto out;
        }
        uint8_t h[STORE_HASH_BYTES];
        crypto_hash_sha256_state st;
        crypto_hash_sha256_init(&st);
        crypto_hash_sha256_update(&st, prev, sizeof(prev));
        crypto_hash_sha256_update(&st, (const uint8_t *)key.p, key.n);
        crypto_hash_sha256_update(&st, (const uint8_t *)rec, rl);
        crypto_hash_sha256_final(&st, h);
        leveldb_free(rec);
        if (memcmp(h, hash, sizeof(h))) {
            rc = bad(out, seq, "hash mismatch: the record or its chain "
                               "entry was edited (%s)",
                     store_key_describe(key.p, key.n, desc, sizeof(desc)));
            goto out;
        }
        memcpy(prev, hash, sizeof(prev));
        if (fpset_add(&fs, fp_of(&fs, key.p, key.n)) < 0) {
            rc = -ENOMEM;
            goto out;
        }
        out->records = seq;
    }
    rc = verify_meta(s, out, out->records, prev);
    if (rc < 0)
        goto out;

    /* Every record must be one the chain references. */
    for (leveldb_iter_seek(it, "t", 1); leveldb_iter_valid(it);
         leveldb_iter_next(it)) {
        size_t kl;
        const char *k = leveldb_iter_key(it, &kl);
        if (kl < 1 || k[0] != 't')
            break;
        if (!fs.cap || !fpset_has(&fs, fp_of(&fs, k, kl))) {
            rc = bad(out, 0, "record not in the chain (inserted): %s",
                     store_key_describe(k, kl, desc, sizeof(desc)));
            goto out;
        }
    }
    memcpy(out->head, prev, sizeof(prev));
out:
    if (it)
        leveldb_iter_destroy(it);
    if (ro)
        leveldb_readoptions_destroy(ro);
    free(fs.v);
    return rc;
}

/* ---- query socket --------------------------------------------------- */

static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

int store_query_encode(msgpack_sbuffer *sb, const struct store_query *q)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, q->after ? 5 : 4);
    pack_str(&pk, "v");
    msgpack_pack_uint32(&pk, STORE_QUERY_VERSION);
    pack_str(&pk, "since");
    msgpack_pack_uint64(&pk, q->since_ns);
    pack_str(&pk, "until");
    msgpack_pack_uint64(&pk, q->until_ns);
    pack_str(&pk, "limit");
    msgpack_pack_uint32(&pk, q->limit);
    if (q->after) {
        pack_str(&pk, "after");
        msgpack_pack_bin_with_body(&pk, q->after, q->after_len);
    }
    return sb->data ? 0 : -ENOMEM;
}

static int serve_error(msgpack_sbuffer *reply, const char *why)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(reply);
    msgpack_packer_init(&pk, reply, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    pack_str(&pk, "v");
    msgpack_pack_uint32(&pk, STORE_QUERY_VERSION);
    pack_str(&pk, "error");
    pack_str(&pk, why);
    return reply->data ? 0 : -ENOMEM;
}

static bool key_is(const msgpack_object *k, const char *s)
{
    size_t n = strlen(s);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
           !memcmp(k->via.str.ptr, s, n);
}

int store_query_serve(store_t *s, const void *req, size_t len,
                      msgpack_sbuffer *reply)
{
    struct store_query q = { 0, UINT64_MAX, 0, NULL, 0 };
    msgpack_object o;
    size_t off = 0;
    long used = frame_msgpack_check(req, len, 2);
    msgpack_zone_clear(&s->zone);
    if (used < 0 || (size_t)used != len ||
        msgpack_unpack(req, len, &off, &s->zone, &o) !=
            MSGPACK_UNPACK_SUCCESS ||
        o.type != MSGPACK_OBJECT_MAP)
        return serve_error(reply, "malformed request");
    bool have_v = false;
    for (uint32_t i = 0; i < o.via.map.size; i++) {
        const msgpack_object *k = &o.via.map.ptr[i].key;
        const msgpack_object *v = &o.via.map.ptr[i].val;
        bool uint = v->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
        if (key_is(k, "v")) {
            if (!uint || v->via.u64 != STORE_QUERY_VERSION)
                return serve_error(reply, "unsupported query version");
            have_v = true;
        } else if (key_is(k, "since") && uint) {
            q.since_ns = v->via.u64;
        } else if (key_is(k, "until") && uint) {
            q.until_ns = v->via.u64;
        } else if (key_is(k, "limit") && uint) {
            q.limit = v->via.u64 > UINT32_MAX ? UINT32_MAX
                                              : (uint32_t)v->via.u64;
        } else if (key_is(k, "after") && v->type == MSGPACK_OBJECT_BIN) {
            q.after = v->via.bin.ptr;
            q.after_len = v->via.bin.size;
        } else if (!key_is(k, "after") || v->type != MSGPACK_OBJECT_NIL) {
            return serve_error(reply, "malformed request");
        }
    }
    if (!have_v)
        return serve_error(reply, "request without version");
    uint32_t cap = STORE_REPLY_MAX_RECORDS;
    if (q.limit && q.limit < cap)
        cap = q.limit;
    /* q.after borrows req; the iterator copies it. */
    store_iter_t *it = store_iter_new(s, q.since_ns, q.until_ns, q.after,
                                      q.after_len);
    if (!it)
        return serve_error(reply, "out of memory");
    msgpack_packer rp;
    msgpack_sbuffer_clear(&s->records);
    msgpack_packer_init(&rp, &s->records, msgpack_sbuffer_write);
    uint32_t n = 0;
    uint8_t last[STORE_KEY_MAX];
    size_t last_len = 0;
    bool more = false;
    struct audit_record rec;
    int rc;
    while ((rc = store_iter_next(it, &rec)) != 0) {
        if (n == cap || s->records.size >= STORE_REPLY_MAX_BYTES) {
            more = true;
            break;
        }
        size_t kl, vl;
        const void *k = store_iter_key(it, &kl);
        const void *v = store_iter_value(it, &vl);
        if (rc > 0) /* a checked, whole MessagePack map: embed as is */
            msgpack_sbuffer_write(&s->records, v, vl);
        else       /* undecodable: a nil keeps the client's count honest */
            msgpack_pack_nil(&rp);
        if (kl <= sizeof(last)) {
            memcpy(last, k, kl);
            last_len = kl;
        }
        n++;
    }
    store_iter_destroy(&it);

    msgpack_packer pk;
    msgpack_sbuffer_clear(reply);
    msgpack_packer_init(&pk, reply, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pack_str(&pk, "v");
    msgpack_pack_uint32(&pk, STORE_QUERY_VERSION);
    pack_str(&pk, "records");
    msgpack_pack_array(&pk, n);
    if (s->records.size)
        msgpack_sbuffer_write(reply, s->records.data, s->records.size);
    pack_str(&pk, "next");
    if (more && last_len)
        msgpack_pack_bin_with_body(&pk, last, last_len);
    else
        msgpack_pack_nil(&pk);
    return reply->data && (!n || s->records.data) ? 0 : -ENOMEM;
}

int store_reply_read(store_decoder_t *d, const void *reply, size_t len,
                     uint32_t *n, const void **next, size_t *next_len,
                     char *err, size_t errlen)
{
    *n = 0;
    *next = NULL;
    *next_len = 0;
    if (!unpack_whole(d, reply, len) || d->obj.type != MSGPACK_OBJECT_MAP) {
        set_err(err, errlen, "malformed reply");
        return -EBADMSG;
    }
    bool have_v = false, have_records = false;
    const msgpack_object_map *m = &d->obj.via.map;
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key, *v = &m->ptr[i].val;
        if (key_is(k, "v")) {
            have_v = v->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                     v->via.u64 == STORE_QUERY_VERSION;
        } else if (key_is(k, "error")) {
            char text[256];
            size_t tl = 0;
            if (v->type == MSGPACK_OBJECT_STR) {
                tl = v->via.str.size < sizeof(text) - 1 ? v->via.str.size
                                                        : sizeof(text) - 1;
                memcpy(text, v->via.str.ptr, tl);
            }
            text[tl] = '\0';
            set_err(err, errlen, "%s", text);
            return -EREMOTEIO;
        } else if (key_is(k, "records")) {
            if (v->type != MSGPACK_OBJECT_ARRAY)
                break;
            d->records = v->via.array.ptr;
            d->n_records = v->via.array.size;
            have_records = true;
        } else if (key_is(k, "next")) {
            if (v->type == MSGPACK_OBJECT_BIN) {
                *next = v->via.bin.ptr;
                *next_len = v->via.bin.size;
            } else if (v->type != MSGPACK_OBJECT_NIL) {
                break;
            }
        }
    }
    if (!have_v || !have_records) {
        d->records = NULL;
        d->n_records = 0;
        set_err(err, errlen, "malformed reply");
        return -EBADMSG;
    }
    *n = d->n_records;
    return 0;
}

int store_reply_record(store_decoder_t *d, uint32_t i,
                       struct audit_record *out)
{
    if (i >= d->n_records)
        return -EBADMSG;
    return decode_object(d, &d->records[i], out);
}
