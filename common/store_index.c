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
#include "store_view.h"
#include "urlsplit.h"

#include <errno.h>
#include <stdio.h>
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

/* ---- the index database ---------------------------------------------- */

struct store_idx {
    leveldb_t *db;                /* NULL: none (missing, or failed) */
    leveldb_options_t *opt;
    leveldb_writebatch_t *batch;  /* entries of the trail's pending batch */
    bool tried;                   /* the open was attempted */
    uint64_t upto;                /* the last chain entry it holds */
    uint64_t failures;            /* index writes that failed */
    bool wrote;                   /* this process wrote to it */
    frame_writer_t *enc;          /* a summary's record map */
    msgpack_sbuffer sb;           /* a summary */
    char *view;                   /* a reader's view of it */
};

#define INDEX_DIR "index"
#define CATCH_UP_BATCH 1000u

/* The index's path, <trail>/index. false when it does not fit. */
static bool index_path_of(const store_t *s, char *buf, size_t size)
{
    return (size_t)snprintf(buf, size, "%s/" INDEX_DIR, s->path) < size;
}

static struct store_idx *idx_new(void)
{
    struct store_idx *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    msgpack_sbuffer_init(&x->sb);
    x->opt = leveldb_options_create();
    x->batch = leveldb_writebatch_create();
    x->enc = frame_writer_new(FRAME_LOG, "store");
    if (!x->opt || !x->batch || !x->enc) {
        if (x->opt)
            leveldb_options_destroy(x->opt);
        if (x->batch)
            leveldb_writebatch_destroy(x->batch);
        frame_writer_destroy(&x->enc);
        free(x);
        return NULL;
    }
    leveldb_options_set_compression(x->opt, leveldb_snappy_compression);
    return x;
}

void store_index_close(store_t *s)
{
    struct store_idx *x = s->idx;
    if (!x)
        return;
    /* A writer leaves its last entries in a table, not in its log: a
     * reader's open then has nothing to replay. A range past every key
     * makes LevelDB write the memtable out and compact nothing (compacting
     * level 0 here cost 40-60 ms at the end of every run, 8% of a medium
     * bench; a reader that finds four tables waiting compacts them in its
     * background thread, and its answers measured the same). */
    if (x->db && x->wrote)
        leveldb_compact_range(x->db, "\xff", 1, "\xff", 1);
    if (x->db)
        leveldb_close(x->db);
    store_view_remove(x->view);
    free(x->view);
    leveldb_options_destroy(x->opt);
    leveldb_writebatch_destroy(x->batch);
    frame_writer_destroy(&x->enc);
    msgpack_sbuffer_destroy(&x->sb);
    free(x);
    s->idx = NULL;
}

/* "i": {"v":1, "upto":seq}, seq as a uint64. */
#define MARKER_LEN 18
static const uint8_t marker_head[10] = { 0x82, 0xa1, 'v', 0x01, 0xa4,
                                         'u',  'p',  't', 'o',  0xcf };

static void marker(uint64_t upto, uint8_t m[MARKER_LEN])
{
    memcpy(m, marker_head, sizeof(marker_head));
    put_be(m + sizeof(marker_head), upto, 8);
}

static uint64_t read_marker(store_t *s)
{
    char *e = NULL;
    size_t vl;
    uint64_t upto = 0;
    char *v = leveldb_get(s->idx->db, s->ro, "i", 1, &vl, &e);
    if (e) {
        leveldb_free(e);
        return 0;
    }
    if (v && vl == MARKER_LEN && !memcmp(v, marker_head, 10))
        upto = store_get_be((const uint8_t *)v + 10, 8);
    if (v)
        leveldb_free(v);
    return upto;
}

/* Writes the pending index entries with the marker `upto`. */
static void write_batch(store_t *s, uint64_t upto)
{
    struct store_idx *x = s->idx;
    uint8_t m[MARKER_LEN];
    char *e = NULL;
    marker(upto, m);
    leveldb_writebatch_put(x->batch, "i", 1, (const char *)m, MARKER_LEN);
    leveldb_write(x->db, s->wo, x->batch, &e);
    leveldb_writebatch_clear(x->batch);
    if (e) {
        /* the trail is fine; the index says where it stopped, and the
         * next writer to open the trail takes it from there */
        leveldb_free(e);
        x->failures++;
        leveldb_close(x->db);
        x->db = NULL;
        return;
    }
    x->upto = upto;
    x->wrote = true;
}

/* Indexes the records of chain entries x->upto + 1 .. committed_seq,
 * which a logger that ended early (or an older hark) left out. */
static void catch_up(store_t *s)
{
    struct store_idx *x = s->idx;
    store_decoder_t *d = store_decoder_new();
    uint64_t seq = x->upto;
    while (d && x->db && seq < s->committed_seq) {
        uint8_t sk[STORE_SEQ_KEY_LEN], key[STORE_KEY_MAX];
        size_t vl, rl;
        char *e = NULL;
        seq++;
        sk[0] = 's';
        put_be(sk + 1, seq, 8);
        char *v = leveldb_get(s->db, s->ro, (const char *)sk, sizeof(sk),
                              &vl, &e);
        struct bytes k = { NULL, 0 };
        const uint8_t *h;
        bool ok = !e && v && store_chain_entry(&s->zone, v, vl, &k, &h);
        size_t kl = ok ? k.n : 0;
        if (ok)
            memcpy(key, k.p, kl);
        if (v)
            leveldb_free(v);
        if (e)
            leveldb_free(e);
        e = NULL;
        char *rec = ok ? leveldb_get(s->db, s->ro, (const char *)key, kl,
                                     &rl, &e)
                       : NULL;
        struct audit_record r;
        /* a record that does not read is left out: verify names it */
        if (rec && store_decode(d, rec, rl, &r) == 0)
            store_index_put(s, key, kl, &r, seq);
        if (rec)
            leveldb_free(rec);
        if (e) {
            leveldb_free(e);
            break;
        }
        if (seq % CATCH_UP_BATCH == 0 || seq == s->committed_seq)
            write_batch(s, seq);
    }
    leveldb_writebatch_clear(x->batch);
    store_decoder_destroy(&d);
}

int store_index_open(store_t *s, bool create)
{
    char path[4200];
    if (!s->idx && !(s->idx = idx_new()))
        return -ENOMEM;
    struct store_idx *x = s->idx;
    if (x->tried)
        return 0;
    x->tried = true;
    if (!s->db || !index_path_of(s, path, sizeof(path)))
        return 0;
    /* a reader, as for the trail itself, opens a view of the index */
    char view[STORE_VIEW_PATH];
    if (!create) {
        int rc = store_view_make(path, view, NULL, 0);
        if (rc == 0 && !(x->view = strdup(view))) {
            store_view_remove(view);
            rc = -ENOMEM;
        }
        if (rc < 0 && rc != -EXDEV)
            return 0; /* no index to read: scans read records */
        if (rc == 0)
            snprintf(path, sizeof(path), "%s", view);
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        char *e = NULL;
        leveldb_options_set_create_if_missing(x->opt, create);
        x->db = leveldb_open(x->opt, path, &e);
        if (e) {
            leveldb_free(e);
            x->db = NULL;
            return 0; /* no index (or no room for one): scans read records */
        }
        x->upto = read_marker(s);
        if (x->upto <= s->committed_seq || !create)
            break;
        /* ahead of the trail (the trail lost its last batch in a crash
         * the index survived): built again */
        leveldb_close(x->db);
        x->db = NULL;
        leveldb_destroy_db(x->opt, path, &e);
        if (e) {
            leveldb_free(e);
            return 0;
        }
    }
    if (create && x->db && x->upto < s->committed_seq)
        catch_up(s);
    return 0;
}

/* ---- writing -------------------------------------------------------- */

/* The "x" value of r, in x->sb: [seq, r without headers and body]. */
static int summary(struct store_idx *x, const struct audit_record *r,
                   uint64_t seq)
{
    struct audit_record sum = *r;
    sum.headers = NULL;
    sum.n_headers = 0;
    sum.body.p = NULL;
    sum.body.n = 0;
    frame_writer_reset(x->enc);
    size_t before = frame_writer_bytes(x->enc);
    if (frame_add_record(x->enc, &sum) < 0)
        return -ENOMEM;
    const void *body;
    size_t blen;
    frame_writer_finish(x->enc, 0, 0, false, &body, &blen);
    if (!body || blen <= before)
        return -ENOMEM;
    msgpack_packer pk;
    msgpack_sbuffer_clear(&x->sb);
    msgpack_packer_init(&pk, &x->sb, msgpack_sbuffer_write);
    if (msgpack_pack_array(&pk, 2) || msgpack_pack_uint64(&pk, seq) ||
        msgpack_sbuffer_write(&x->sb, (const char *)body + before,
                              blen - before))
        return -ENOMEM;
    return 0;
}

static void put(struct store_idx *x, const void *k, size_t kl,
                const void *v, size_t vl)
{
    leveldb_writebatch_put(x->batch, k, kl, v, vl);
}

int store_index_put(store_t *s, const uint8_t *key, size_t klen,
                    const struct audit_record *r, uint64_t seq)
{
    struct store_idx *x = s->idx;
    uint8_t tk[TK], k[P_KEY_MAX];
    if (!x || !x->db)
        return 0;
    if (summary(x, r, seq) < 0)
        return -ENOMEM;
    tk_of_key(key, klen, tk);
    k[0] = 'x';
    memcpy(k + 1, tk, TK);
    put(x, k, X_KEY, x->sb.data, x->sb.size);
    if (r->kind == RECORD_RESPONSE) {
        k[0] = 'h';
        put_be(k + 1, r->status > 0xffff ? 0xffff : r->status, 2);
        memcpy(k + 3, tk, TK);
        put(x, k, H_KEY, "", 0);
    }
    k[0] = 'u';
    size_t n = index_path(r, k + 1);
    k[1 + n] = 0;
    memcpy(k + 2 + n, tk, TK);
    put(x, k, 2 + n + TK, "", 0);
    return 0;
}

void store_index_committed(store_t *s)
{
    if (s->idx && s->idx->db)
        write_batch(s, s->committed_seq);
}

void store_index_discard(store_t *s)
{
    if (s->idx)
        leveldb_writebatch_clear(s->idx->batch);
}

bool store_indexed(store_t *s)
{
    if (store_index_open(s, false) < 0 || !s->idx->db)
        return false;
    return s->idx->upto == s->committed_seq;
}

uint64_t store_index_failures(const store_t *s)
{
    return s->idx ? s->idx->failures : 0;
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
    leveldb_iterator_t *it;       /* the walk: "x" (index) or "t" (trail) */
    leveldb_iterator_t *git;      /* the gathering: "h" or "u" (index) */
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
    struct store_whole whole;     /* a record's body put back */
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
    seek(sc->git, k, 11);
    while (leveldb_iter_valid(sc->git)) {
        size_t kl;
        const uint8_t *key = (const uint8_t *)leveldb_iter_key(sc->git, &kl);
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
            seek(sc->git, k, 11);
            continue;
        }
        int rc = gather(sc, key + 3);
        if (rc < 0)
            return rc;
        leveldb_iter_next(sc->git);
    }
    return 0;
}

/* "u" keys under the path prefix in the time range. */
static int gather_path(store_scan_t *sc)
{
    uint8_t k[P_KEY_MAX];
    k[0] = 'u';
    memcpy(k + 1, sc->path, sc->path_len);
    seek(sc->git, k, 1 + sc->path_len);
    while (leveldb_iter_valid(sc->git)) {
        size_t kl;
        const uint8_t *key = (const uint8_t *)leveldb_iter_key(sc->git, &kl);
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
            seek(sc->git, k, ts < sc->o.since_ns ? 2 + n + 8 : 2 + n);
            continue;
        }
        int rc = gather(sc, tk);
        if (rc < 0)
            return rc;
        leveldb_iter_next(sc->git);
    }
    return 0;
}

/* Fills the gathered list. 0, -E2BIG (too many: scan by time), -ENOMEM,
 * -EIO. */
static int gather_all(store_scan_t *sc)
{
    int rc = sc->o.by_status ? gather_status(sc) : gather_path(sc);
    if (rc == 0 && store_iter_status(sc->git, sc->error,
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
    leveldb_t *idb = indexed ? s->idx->db : NULL;
    sc->it = leveldb_create_iterator(sc->summaries ? idb : s->db, s->ro);
    sc->git = sc->narrowed ? leveldb_create_iterator(idb, s->ro) : NULL;
    sc->dec = store_decoder_new();
    if (!sc->it || (sc->narrowed && !sc->git) || !sc->dec ||
        store_whole_init(&sc->whole) < 0) {
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
    if (sc->git)
        leveldb_iter_destroy(sc->git);
    if (sc->got)
        leveldb_free(sc->got);
    store_decoder_destroy(&sc->dec);
    store_whole_fini(&sc->whole);
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
    if (store_decode(sc->dec, sc->item, sc->item_len, out) < 0 ||
        store_whole_fill(sc->s, sc->dec, &sc->whole, out) < 0)
        return -EBADMSG;
    /* a record whose body is in a segment travels re-encoded with it */
    sc->item = store_whole_bytes(&sc->whole, sc->dec, sc->item, sc->item_len,
                                 &sc->item_len);
    return 1;
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
    sc->got = leveldb_get(sc->summaries ? sc->s->idx->db : sc->s->db,
                          sc->s->ro, (const char *)k, kl, &vl, &e);
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
