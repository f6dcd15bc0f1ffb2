/* store_index.c - the trail's secondary keys and scans (store_index.h).
 *
 * Writing: store_put() calls store_index_put() with the record's key and
 * chain entry; the entries go into the same batch as the record, so a
 * record and its index land together or not at all.
 *
 * Reading: a scan by time walks "x" (or "t") keys in either direction. A
 * narrowed scan first gathers the fixed-width tails (tk) of the index
 * keys in its range, which come grouped by status or path rather than
 * in time order, sorts them, then reads each value by key. Within one
 * status or one exact path the keys are in time order, so the walk seeks
 * past what is outside the time range instead of stepping through it.
 * In "u" keys the path ends with a NUL (a NUL inside a path is written
 * as 0x01), so that each exact path's keys are contiguous.
 */
#include "store_private.h"
#include "errbuf.h"
#include "mpcheck.h"
#include "mpobj.h"
#include "store_index.h"
#include "urlsplit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TK 25                     /* ts:8 uid:8 idx:4 kind:1 dup:4 */
#define X_KEY (1 + TK)
#define H_KEY (1 + 2 + TK)
#define P_KEY_MAX (1 + STORE_INDEX_PATH_MAX + 1 + TK)

static void put_be(uint8_t *dst, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--, v >>= 8)
        dst[i] = (uint8_t)v;
}

/* The tk of a "t" key (22 or 26 bytes). */
static void tk_of_key(const uint8_t *k, size_t klen, uint8_t tk[TK])
{
    memcpy(tk, k + 1, 21);
    if (klen == STORE_KEY_DUP_LEN)
        memcpy(tk + 21, k + 22, 4);
    else
        memset(tk + 21, 0, 4);
}

/* The "t" key of a tk into k; returns its length. */
static size_t key_of_tk(const uint8_t tk[TK], uint8_t *k)
{
    k[0] = 't';
    memcpy(k + 1, tk, 21);
    if (!store_get_be(tk + 21, 4))
        return STORE_KEY_BASE_LEN;
    memcpy(k + 22, tk + 21, 4);
    return STORE_KEY_DUP_LEN;
}

/* The path of r as a "u" key holds it, into buf; returns its length. */
static size_t index_path(const struct audit_record *r, uint8_t *buf)
{
    struct url_parts u;
    urlsplit(r->uri, &u);
    size_t n = u.path.n < STORE_INDEX_PATH_MAX ? u.path.n
                                               : STORE_INDEX_PATH_MAX;
    for (size_t i = 0; i < n; i++)
        buf[i] = u.path.p[i] ? (uint8_t)u.path.p[i] : 1;
    return n;
}

/* ---- writing -------------------------------------------------------- */

/* The "x" value of r, in s->index_sb: [seq, r without headers and
 * body]. The index has its own buffers: the record's value and chain
 * entry are still in s->enc and s->sb. */
static int summary(store_t *s, const struct audit_record *r, uint64_t seq)
{
    struct audit_record sum = *r;
    sum.headers = NULL;
    sum.n_headers = 0;
    sum.body.p = NULL;
    sum.body.n = 0;
    frame_writer_reset(s->index_enc);
    size_t before = frame_writer_bytes(s->index_enc);
    if (frame_add_record(s->index_enc, &sum) < 0)
        return -ENOMEM;
    const void *body;
    size_t blen;
    frame_writer_finish(s->index_enc, 0, 0, false, &body, &blen);
    if (!body || blen <= before)
        return -ENOMEM;
    msgpack_packer pk;
    msgpack_sbuffer_clear(&s->index_sb);
    msgpack_packer_init(&pk, &s->index_sb, msgpack_sbuffer_write);
    if (msgpack_pack_array(&pk, 2) || msgpack_pack_uint64(&pk, seq) ||
        msgpack_sbuffer_write(&s->index_sb, (const char *)body + before,
                              blen - before))
        return -ENOMEM;
    return 0;
}

/* The "i" value: {"v":1, "from":seq}, seq as a uint64. */
#define MARKER_LEN 18
static void marker(uint64_t from, uint8_t m[MARKER_LEN])
{
    static const uint8_t head[10] = { 0x82, 0xa1, 'v', 0x01, 0xa4,
                                      'f',  'r',  'o', 'm',  0xcf };
    memcpy(m, head, sizeof(head));
    put_be(m + sizeof(head), from, 8);
}

int store_index_put(store_t *s, const uint8_t *key, size_t klen,
                    const struct audit_record *r, uint64_t seq)
{
    uint8_t tk[TK], k[P_KEY_MAX], m[MARKER_LEN];
    /* everything that can fail comes before the first put */
    if (summary(s, r, seq) < 0)
        return -ENOMEM;
    tk_of_key(key, klen, tk);
    if (!s->index_from) {
        marker(seq, m);
        store_batch_put(s, "i", 1, m, MARKER_LEN);
        s->index_from = seq;
        s->index_pending = true;
    }
    k[0] = 'x';
    memcpy(k + 1, tk, TK);
    store_batch_put(s, k, X_KEY, s->index_sb.data, s->index_sb.size);
    if (r->kind == RECORD_RESPONSE) {
        k[0] = 'h';
        put_be(k + 1, r->status > 0xffff ? 0xffff : r->status, 2);
        memcpy(k + 3, tk, TK);
        store_batch_put(s, k, H_KEY, "", 0);
    }
    k[0] = 'u';
    size_t n = index_path(r, k + 1);
    k[1 + n] = 0;
    memcpy(k + 2 + n, tk, TK);
    store_batch_put(s, k, 2 + n + TK, "", 0);
    return 0;
}

int store_index_load(store_t *s, char *err, size_t errlen)
{
    char *e = NULL;
    size_t vl;
    char *v = leveldb_get(s->db, s->ro, "i", 1, &vl, &e);
    s->index_from = 0;
    s->index_pending = false;
    if (e) {
        errbuf_set(err, errlen, "%s", e);
        leveldb_free(e);
        return -EIO;
    }
    msgpack_object o;
    if (v && mpcheck_unpack(&s->zone, v, vl, 2, &o) == 0 &&
        o.type == MSGPACK_OBJECT_MAP)
        for (uint32_t i = 0; i < o.via.map.size; i++)
            if (mpobj_key(&o.via.map.ptr[i].key, "from"))
                mpobj_uint(&o.via.map.ptr[i].val, &s->index_from);
    if (v)
        leveldb_free(v);
    return 0;
}

bool store_indexed(store_t *s)
{
    return s->committed_seq == 0 || s->index_from == 1;
}

/* ---- scanning ------------------------------------------------------- */

struct store_scan {
    store_t *s;
    struct store_scan_opts o;
    uint8_t after[TK];            /* o.after as a tk */
    bool has_after;
    uint8_t path[STORE_INDEX_PATH_MAX];
    size_t path_len;
    bool summaries, narrowed;
    leveldb_iterator_t *it;
    bool started;
    uint8_t (*tks)[TK];           /* gathered, sorted */
    size_t n, cap, pos;
    char *got;                    /* the value read for a gathered tk */
    /* the current record */
    uint8_t key[STORE_KEY_MAX];
    size_t key_len;
    uint64_t seq;
    const uint8_t *item;
    size_t item_len;
    store_decoder_t *dec;
    bool failed;
    char error[256];
};

static int tk_cmp(const void *a, const void *b)
{
    return memcmp(a, b, TK);
}

static int tk_rcmp(const void *a, const void *b)
{
    return memcmp(b, a, TK);
}

/* Keeps tk when it is in range and past `after`. 0 or -ENOMEM. */
static int gather(store_scan_t *sc, const uint8_t *tk)
{
    uint64_t ts = store_get_be(tk, 8);
    if (ts < sc->o.since_ns || ts >= sc->o.until_ns ||
        (sc->o.kind && tk[20] != sc->o.kind))
        return 0;
    if (sc->has_after) {
        int c = memcmp(tk, sc->after, TK);
        if (sc->o.reverse ? c >= 0 : c <= 0)
            return 0;
    }
    if (sc->n == sc->cap) {
        if (sc->cap >= STORE_SCAN_GATHER_MAX)
            return -E2BIG;
        size_t cap = sc->cap ? sc->cap * 2 : 1024;
        void *p = realloc(sc->tks, cap * TK);
        if (!p)
            return -ENOMEM;
        sc->tks = p;
        sc->cap = cap;
    }
    memcpy(sc->tks[sc->n++], tk, TK);
    return 0;
}

static void seek(leveldb_iterator_t *it, const uint8_t *k, size_t n)
{
    leveldb_iter_seek(it, (const char *)k, n);
}

/* "h" keys of statuses lo..hi in the time range. */
static int gather_status(store_scan_t *sc)
{
    uint8_t k[H_KEY];
    uint32_t st = sc->o.status_lo;
    k[0] = 'h';
    put_be(k + 1, st, 2);
    put_be(k + 3, sc->o.since_ns, 8);
    seek(sc->it, k, 11);
    while (leveldb_iter_valid(sc->it)) {
        size_t kl;
        const uint8_t *key = (const uint8_t *)leveldb_iter_key(sc->it, &kl);
        if (kl != H_KEY || key[0] != 'h')
            break;
        uint32_t kst = (uint32_t)store_get_be(key + 1, 2);
        if (kst > sc->o.status_hi)
            break;
        uint64_t ts = store_get_be(key + 3, 8);
        if (kst != st || ts >= sc->o.until_ns) {
            /* the next status, from `since` on */
            st = kst != st ? kst : kst + 1;
            put_be(k + 1, st, 2);
            seek(sc->it, k, 11);
            continue;
        }
        int rc = gather(sc, key + 3);
        if (rc < 0)
            return rc;
        leveldb_iter_next(sc->it);
    }
    return 0;
}

/* "u" keys under the path prefix in the time range. */
static int gather_path(store_scan_t *sc)
{
    uint8_t k[P_KEY_MAX];
    k[0] = 'u';
    memcpy(k + 1, sc->path, sc->path_len);
    seek(sc->it, k, 1 + sc->path_len);
    while (leveldb_iter_valid(sc->it)) {
        size_t kl;
        const uint8_t *key = (const uint8_t *)leveldb_iter_key(sc->it, &kl);
        if (kl < 2 + TK || kl > P_KEY_MAX || key[0] != 'u' ||
            kl - 2 - TK < sc->path_len ||
            memcmp(key + 1, sc->path, sc->path_len))
            break;
        size_t n = kl - 2 - TK;   /* this key's path */
        const uint8_t *tk = key + 2 + n;
        uint64_t ts = store_get_be(tk, 8);
        if (ts < sc->o.since_ns || ts >= sc->o.until_ns) {
            /* within this path: on to `since`, or past its last key */
            memcpy(k + 1, key + 1, n);
            k[1 + n] = ts < sc->o.since_ns ? 0 : 1;
            put_be(k + 2 + n, sc->o.since_ns, 8);
            seek(sc->it, k, ts < sc->o.since_ns ? 2 + n + 8 : 2 + n);
            continue;
        }
        int rc = gather(sc, tk);
        if (rc < 0)
            return rc;
        leveldb_iter_next(sc->it);
    }
    return 0;
}

/* Fills the gathered list. 0, -E2BIG (too many: scan by time), -ENOMEM,
 * -EIO. */
static int gather_all(store_scan_t *sc)
{
    int rc = sc->o.by_status ? gather_status(sc) : gather_path(sc);
    if (rc == 0 && store_iter_status(sc->it, sc->error,
                                     sizeof(sc->error)) < 0)
        rc = -EIO;
    if (rc == 0 && sc->n > 1)
        qsort(sc->tks, sc->n, TK, sc->o.reverse ? tk_rcmp : tk_cmp);
    return rc;
}

store_scan_t *store_scan_new(store_t *s, const struct store_scan_opts *o)
{
    if (!s->db)
        return NULL;
    store_scan_t *sc = calloc(1, sizeof(*sc));
    if (!sc)
        return NULL;
    sc->s = s;
    sc->o = *o;
    sc->o.after = NULL;
    sc->o.path = NULL;
    const uint8_t *a = o->after;
    if (a && o->after_len >= STORE_KEY_BASE_LEN &&
        o->after_len <= STORE_KEY_DUP_LEN && a[0] == 't') {
        tk_of_key(a, o->after_len, sc->after);
        sc->has_after = true;
    }
    bool indexed = store_indexed(s);
    sc->summaries = o->summaries && indexed;
    sc->narrowed = indexed && (o->by_status || o->path);
    if (o->path) {
        struct audit_record r = { .uri = { o->path, (uint32_t)o->path_len } };
        sc->path_len = index_path(&r, sc->path);
        sc->o.by_status = false;  /* one narrowing: the path */
    }
    sc->it = leveldb_create_iterator(s->db, s->ro);
    sc->dec = store_decoder_new();
    if (!sc->it || !sc->dec) {
        store_scan_destroy(&sc);
        return NULL;
    }
    return sc;
}

void store_scan_destroy(store_scan_t **scp)
{
    if (!scp || !*scp)
        return;
    store_scan_t *sc = *scp;
    if (sc->it)
        leveldb_iter_destroy(sc->it);
    if (sc->got)
        leveldb_free(sc->got);
    store_decoder_destroy(&sc->dec);
    free(sc->tks);
    free(sc);
    *scp = NULL;
}

/* Positions the time walk on its first key. */
static void start_walk(store_scan_t *sc)
{
    uint8_t k[STORE_KEY_MAX];
    size_t n;
    char prefix = sc->summaries ? 'x' : 't';
    uint64_t after_ts = store_get_be(sc->after, 8);
    /* an `after` before the range (forward) or past it (backwards) says
     * nothing the range does not */
    if (sc->has_after && (sc->o.reverse ? after_ts >= sc->o.until_ns
                                        : after_ts < sc->o.since_ns))
        sc->has_after = false;
    if (sc->has_after && sc->summaries) {
        k[0] = 'x';
        memcpy(k + 1, sc->after, TK);
        n = X_KEY;
    } else if (sc->has_after) {
        n = key_of_tk(sc->after, k);
    } else {
        k[0] = (uint8_t)prefix;
        put_be(k + 1, sc->o.reverse ? sc->o.until_ns : sc->o.since_ns, 8);
        n = 9;
    }
    seek(sc->it, k, n);
    if (!sc->o.reverse) {
        size_t kl;
        if (sc->has_after && leveldb_iter_valid(sc->it)) {
            const char *at = leveldb_iter_key(sc->it, &kl);
            if (kl == n && !memcmp(at, k, n))
                leveldb_iter_next(sc->it);
        }
        return;
    }
    /* backwards: the last key before k */
    if (leveldb_iter_valid(sc->it))
        leveldb_iter_prev(sc->it);
    else
        leveldb_iter_seek_to_last(sc->it);
}

/* The summary's [seq, map]: the map's bytes and seq. false when it is
 * not one. */
static bool split_summary(const uint8_t *v, size_t n, uint64_t *seq,
                          const uint8_t **item, size_t *item_len)
{
    static const uint8_t widths[4] = { 1, 2, 4, 8 };
    size_t at = 2;
    if (n < 3 || v[0] != 0x92)
        return false;
    if (v[1] < 0x80) {
        *seq = v[1];
    } else if (v[1] >= 0xcc && v[1] <= 0xcf) {
        size_t w = widths[v[1] - 0xcc];
        if (n < 2 + w + 1)
            return false;
        *seq = store_get_be(v + 2, (int)w);
        at += w;
    } else {
        return false;
    }
    *item = v + at;
    *item_len = n - at;
    return true;
}

/* Sets the current record from key k (a "t" key, or an "x" key for a
 * summary) and its value. */
static int take(store_scan_t *sc, const uint8_t *k, size_t kl,
                const uint8_t *v, size_t vl, struct audit_record *out)
{
    if (sc->summaries) {
        sc->key_len = key_of_tk(k + 1, sc->key);
        if (!split_summary(v, vl, &sc->seq, &sc->item, &sc->item_len))
            return -EBADMSG;
    } else {
        memcpy(sc->key, k, kl);
        sc->key_len = kl;
        sc->seq = 0;
        sc->item = v;
        sc->item_len = vl;
    }
    return store_decode(sc->dec, sc->item, sc->item_len, out) == 0
               ? 1
               : -EBADMSG;
}

static int fail(store_scan_t *sc, int rc)
{
    sc->failed = true;
    if (rc != -EIO)
        errbuf_set(sc->error, sizeof(sc->error), "out of memory");
    return rc;
}

static int next_walk(store_scan_t *sc, struct audit_record *out)
{
    for (;;) {
        if (!sc->started) {
            sc->started = true;
            start_walk(sc);
        } else if (leveldb_iter_valid(sc->it)) {
            if (sc->o.reverse)
                leveldb_iter_prev(sc->it);
            else
                leveldb_iter_next(sc->it);
        }
        if (store_iter_status(sc->it, sc->error, sizeof(sc->error)) < 0)
            return fail(sc, -EIO);
        if (!leveldb_iter_valid(sc->it))
            return 0;
        size_t kl, vl;
        const uint8_t *k = (const uint8_t *)leveldb_iter_key(sc->it, &kl);
        if (sc->summaries ? kl != X_KEY || k[0] != 'x'
                          : kl < STORE_KEY_BASE_LEN || kl > STORE_KEY_MAX ||
                                k[0] != 't')
            return 0;
        uint64_t ts = store_get_be(k + 1, 8);
        if (sc->o.reverse ? ts < sc->o.since_ns : ts >= sc->o.until_ns)
            return 0;
        /* start_walk only lands outside the range within `after`'s own
         * time: a few keys at most */
        if (ts < sc->o.since_ns || ts >= sc->o.until_ns ||
            (sc->o.kind && k[21] != sc->o.kind))
            continue;
        const uint8_t *v = (const uint8_t *)leveldb_iter_value(sc->it, &vl);
        return take(sc, k, kl, v, vl, out);
    }
}

static int next_gathered(store_scan_t *sc, struct audit_record *out)
{
    if (!sc->started) {
        sc->started = true;
        int rc = gather_all(sc);
        if (rc == -E2BIG) {
            /* too many to sort: read the time range instead */
            sc->narrowed = false;
            sc->started = false;
            free(sc->tks);
            sc->tks = NULL;
            sc->n = sc->cap = 0;
            return next_walk(sc, out);
        }
        if (rc < 0)
            return fail(sc, rc);
    }
    if (sc->got) {
        leveldb_free(sc->got);
        sc->got = NULL;
    }
    if (sc->pos == sc->n)
        return 0;
    const uint8_t *tk = sc->tks[sc->pos++];
    uint8_t k[STORE_KEY_MAX];
    size_t kl;
    if (sc->summaries) {
        k[0] = 'x';
        memcpy(k + 1, tk, TK);
        kl = X_KEY;
    } else {
        kl = key_of_tk(tk, k);
    }
    char *e = NULL;
    size_t vl;
    sc->got = leveldb_get(sc->s->db, sc->s->ro, (const char *)k, kl, &vl,
                          &e);
    if (e) {
        errbuf_set(sc->error, sizeof(sc->error), "%s", e);
        leveldb_free(e);
        return fail(sc, -EIO);
    }
    if (!sc->got)
        return -EBADMSG; /* an index entry without its record */
    return take(sc, k, kl, (const uint8_t *)sc->got, vl, out);
}

int store_scan_next(store_scan_t *sc, struct audit_record *out)
{
    if (sc->failed)
        return -EIO;
    sc->item = NULL;
    sc->key_len = 0;
    return sc->narrowed ? next_gathered(sc, out) : next_walk(sc, out);
}

const char *store_scan_error(const store_scan_t *sc)
{
    return sc->failed ? sc->error : NULL;
}

const void *store_scan_key(const store_scan_t *sc, size_t *len)
{
    *len = sc->key_len;
    return sc->key_len ? sc->key : NULL;
}

uint64_t store_scan_seq(const store_scan_t *sc)
{
    return sc->seq;
}

const void *store_scan_item(const store_scan_t *sc, size_t *len)
{
    *len = sc->item ? sc->item_len : 0;
    return sc->item;
}

bool store_scan_summaries(const store_scan_t *sc)
{
    return sc->summaries;
}

bool store_scan_narrowed(const store_scan_t *sc)
{
    return sc->narrowed;
}
