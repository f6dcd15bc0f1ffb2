/* test_common_store_index.c - the trail's secondary keys and scans.
 *
 * A trail of 300 records (requests and responses, statuses from 200 to
 * 503 and none, a dozen paths, one path with a NUL, keys with a dup
 * suffix) written out of time order. Every scan — by time, by a status
 * range, by a path prefix; forwards and backwards; whole or in pages —
 * must give what a plain walk of the records, filtered here, gives, in
 * the same order. Then the cases where the index cannot answer: a trail
 * written before it existed, and a batch that was discarded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "store.h"
#include "store_index.h"
#include "store_proof.h"
#include "store_verify.h"
#include "trailedit.h"

#include "trailtmp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_TX 150

static const char *const uris[] = {
    "/", "/a", "/a/b", "/a/b?x=1", "/ab", "/api/v1/users",
    "/api/v1/users/42", "/api/v2", "http://h.example/a/c", "/static/x.png",
    "/q#frag", "/n\0ul",
};
static const uint32_t uri_lens[] = { 1, 2, 4, 8, 3, 13, 16, 7, 20, 13, 7, 5 };
static const uint32_t statuses[] = { 200, 200, 201, 204, 301, 404, 404, 500,
                                     503, 0 };
static const struct msg_header hdrs[] = {
    { BYTES_LIT("Host"), BYTES_LIT("example.com") },
};

/* Transaction i: a request and its response; every 7th pair is logged
 * twice (a dup key), times interleave across connections. */
static struct audit_record make(int i, enum record_kind kind)
{
    static char uids[N_TX][17];
    snprintf(uids[i], sizeof(uids[i]), "%016x", 0x100 + i % 9);
    uint64_t ts = 1000 + (uint64_t)((i * 37) % N_TX) * 10 +
                  (kind == RECORD_RESPONSE ? 3 : 0);
    struct audit_record r = {
        .kind = kind,
        .uid = bytes_of(uids[i]),
        .idx = (uint32_t)i,
        .ts_ns = ts,
        .req_ts_ns = ts - (kind == RECORD_RESPONSE ? 3 : 0),
        .addr = { BYTES_LIT("192.0.2.1"), 40000, BYTES_LIT("192.0.2.2"), 80 },
        .method = BYTES_LIT("GET"),
        .uri = { uris[i % 12], uri_lens[i % 12] },
        .version = BYTES_LIT("1.1"),
        .headers = hdrs,
        .n_headers = 1,
        .body = BYTES_LIT("the body"),
        .body_len = 8,
    };
    if (kind == RECORD_RESPONSE) {
        r.status = statuses[i % 10];
        r.outcome = r.status ? BYTES_LIT("ok") : BYTES_LIT("timeout");
        r.latency_ns = (uint64_t)i;
    }
    return r;
}

static void build(const char *dir)
{
    store_t *s = NULL;
    char err[256] = "";
    assert_int_equal(store_open(dir, STORE_CREATE, &s, err, sizeof(err)), 0);
    for (int i = 0; i < N_TX; i++) {
        struct audit_record q = make(i, RECORD_REQUEST);
        struct audit_record a = make(i, RECORD_RESPONSE);
        assert_int_equal(store_put(s, &q), 0);
        assert_int_equal(store_put(s, &a), 0);
        if (i % 7 == 0)
            assert_int_equal(store_put(s, &a), 0);
        if (i % 40 == 39)
            assert_int_equal(store_commit(s, false, err, sizeof(err)), 0);
    }
    assert_int_equal(store_commit(s, true, err, sizeof(err)), 0);
    store_close(&s);
}

static store_t *open_ro(const char *dir)
{
    store_t *s = NULL;
    char err[256];
    assert_int_equal(store_open(dir, 0, &s, err, sizeof(err)), 0);
    return s;
}

/* What a record must match: the narrowing, written out again. */
struct want {
    uint64_t since, until;
    int kind;
    bool by_status;
    uint32_t lo, hi;
    const char *path;
    size_t path_len;
};

static bool wanted(const struct want *w, const struct audit_record *r)
{
    if (r->ts_ns < w->since || r->ts_ns >= w->until ||
        (w->kind && (int)r->kind != w->kind))
        return false;
    if (w->by_status && (r->kind != RECORD_RESPONSE || r->status < w->lo ||
                         r->status > w->hi))
        return false;
    if (w->path) {
        struct bytes u = r->uri;
        if (!strncmp(u.p, "http://h.example", 16))
            u = BYTES_LIT("/a/c"); /* its path, after the authority */
        const char *q = memchr(u.p, '?', u.n), *h = memchr(u.p, '#', u.n);
        size_t n = u.n;
        if (q)
            n = (size_t)(q - u.p);
        if (h && (size_t)(h - u.p) < n)
            n = (size_t)(h - u.p);
        if (n < w->path_len || memcmp(u.p, w->path, w->path_len))
            return false;
    }
    return true;
}

struct found {
    uint8_t keys[1000][STORE_KEY_MAX];
    size_t lens[1000];
    size_t n;
};

/* The reference: every record key in key order, through store_iter. */
static void reference(store_t *s, const struct want *w, bool reverse,
                      struct found *f)
{
    store_iter_t *it = store_iter_new(s, 0, UINT64_MAX, NULL, 0);
    struct audit_record r;
    struct found all = { .n = 0 };
    while (store_iter_next(it, &r) == 1) {
        if (!wanted(w, &r))
            continue;
        size_t kl;
        const void *k = store_iter_key(it, &kl);
        memcpy(all.keys[all.n], k, kl);
        all.lens[all.n++] = kl;
    }
    store_iter_destroy(&it);
    f->n = 0;
    for (size_t i = 0; i < all.n; i++) {
        size_t j = reverse ? all.n - 1 - i : i;
        memcpy(f->keys[f->n], all.keys[j], all.lens[j]);
        f->lens[f->n++] = all.lens[j];
    }
}

/* Runs a scan, pages of `page` (0: one), keeping what matches w (the
 * scan may give more). Checks summaries as it goes. */
static void scan(store_t *s, const struct want *w, bool reverse,
                 bool summaries, size_t page, struct found *f)
{
    uint8_t after[STORE_KEY_MAX];
    size_t after_len = 0;
    f->n = 0;
    for (;;) {
        struct store_scan_opts o = {
            .since_ns = w->since, .until_ns = w->until, .reverse = reverse,
            .summaries = summaries, .kind = w->kind,
            .by_status = w->by_status,
            .status_lo = w->lo, .status_hi = w->hi, .path = w->path,
            .path_len = w->path_len, .after = after_len ? after : NULL,
            .after_len = after_len,
        };
        store_scan_t *sc = store_scan_new(s, &o);
        assert_non_null(sc);
        struct audit_record r;
        size_t got = 0;
        int rc;
        while ((rc = store_scan_next(sc, &r)) == 1) {
            size_t kl;
            const void *k = store_scan_key(sc, &kl);
            assert_non_null(k);
            if (store_scan_summaries(sc)) {
                assert_int_equal(r.n_headers, 0);
                assert_int_equal(r.body.n, 0);
                assert_int_equal(r.body_len, 8);
                assert_true(store_scan_seq(sc) > 0);
            }
            memcpy(after, k, kl);
            after_len = kl;
            if (wanted(w, &r)) {
                memcpy(f->keys[f->n], k, kl);
                f->lens[f->n++] = kl;
            }
            if (page && ++got == page)
                break;
        }
        assert_true(rc >= 0);
        store_scan_destroy(&sc);
        if (!page || got < page)
            return;
    }
}

static void same(const struct found *a, const struct found *b,
                 const char *what)
{
    if (a->n != b->n)
        fail_msg("%s: %zu records, want %zu", what, a->n, b->n);
    for (size_t i = 0; i < a->n; i++)
        if (a->lens[i] != b->lens[i] ||
            memcmp(a->keys[i], b->keys[i], a->lens[i]))
            fail_msg("%s: record %zu differs", what, i);
}

#define R RECORD_REQUEST
#define A RECORD_RESPONSE
static const struct want wants[] = {
    { 0, UINT64_MAX, 0, false, 0, 0, NULL, 0 },
    { 1200, 2000, 0, false, 0, 0, NULL, 0 },
    { 0, UINT64_MAX, R, false, 0, 0, NULL, 0 },
    { 1200, 2000, A, false, 0, 0, NULL, 0 },
    { 0, UINT64_MAX, 0, true, 200, 200, NULL, 0 },
    { 0, UINT64_MAX, A, true, 400, 599, NULL, 0 },
    { 1100, 1800, 0, true, 200, 299, NULL, 0 },
    { 0, UINT64_MAX, 0, true, 0, 0, NULL, 0 },
    { 0, UINT64_MAX, 0, true, 600, 999, NULL, 0 },
    { 0, UINT64_MAX, 0, false, 0, 0, "/a", 2 },
    { 0, UINT64_MAX, R, false, 0, 0, "/a/", 3 },
    { 1300, 1700, 0, false, 0, 0, "/api/v1/users", 13 },
    { 0, UINT64_MAX, A, false, 0, 0, "/q", 2 },
    { 0, UINT64_MAX, 0, false, 0, 0, "/n", 2 },
    { 0, UINT64_MAX, 0, false, 0, 0, "/zzz", 4 },
    { 5000, 6000, 0, false, 0, 0, NULL, 0 },
};

static void test_scans(void **state)
{
    struct trailtmp *fx = *state;
    build(fx->dir);
    store_t *s = open_ro(fx->dir);
    assert_true(store_indexed(s));
    static struct found ref, got;
    char what[128];
    for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++)
        for (int rev = 0; rev <= 1; rev++)
            for (int sum = 0; sum <= 1; sum++)
                for (size_t page = 0; page <= 7; page += 7) {
                    snprintf(what, sizeof(what), "want %zu rev %d sum %d "
                             "page %zu", i, rev, sum, page);
                    reference(s, &wants[i], rev, &ref);
                    scan(s, &wants[i], rev, sum, page, &got);
                    same(&got, &ref, what);
                }
    store_close(&s);
}

static void test_narrowed(void **state)
{
    /* a narrowed scan reads only what its index names */
    struct trailtmp *fx = *state;
    build(fx->dir);
    store_t *s = open_ro(fx->dir);
    struct store_scan_opts o = { .since_ns = 0, .until_ns = UINT64_MAX,
                                 .summaries = true, .by_status = true,
                                 .status_lo = 500, .status_hi = 599 };
    store_scan_t *sc = store_scan_new(s, &o);
    assert_true(store_scan_narrowed(sc));
    struct audit_record r;
    size_t n = 0;
    while (store_scan_next(sc, &r) == 1) {
        assert_int_equal(r.kind, RECORD_RESPONSE);
        assert_true(r.status >= 500 && r.status <= 599);
        n++;
    }
    /* statuses 500 and 503: i % 10 in {7, 8}, plus their dups */
    assert_true(n >= 30);
    store_scan_destroy(&sc);
    store_close(&s);
}

static void test_summary_seq(void **state)
{
    /* the seq of a summary is the record's chain entry */
    struct trailtmp *fx = *state;
    build(fx->dir);
    store_t *s = open_ro(fx->dir);
    struct store_scan_opts o = { .until_ns = UINT64_MAX, .summaries = true };
    store_scan_t *sc = store_scan_new(s, &o);
    struct audit_record r;
    int n = 0;
    while (store_scan_next(sc, &r) == 1 && n++ < 40) {
        size_t kl;
        const void *k = store_scan_key(sc, &kl);
        struct store_proof p;
        assert_int_equal(store_proof(s, k, kl, 0, &p), 0);
        assert_int_equal(p.seq, store_scan_seq(sc));
        assert_true(p.verifies);
    }
    store_scan_destroy(&sc);
    struct store_verify v;
    assert_int_equal(store_verify(s, NULL, &v), 0);
    store_close(&s);
}

/* The index database of the trail at dir, removed (an older hark's
 * trail) or opened raw. */
static void drop_index(const char *dir)
{
    char path[TRAILTMP_PATH + 16];
    snprintf(path, sizeof(path), "%s/index", dir);
    leveldb_options_t *o = leveldb_options_create();
    char *e = NULL;
    leveldb_destroy_db(o, path, &e);
    assert_null(e);
    leveldb_options_destroy(o);
}

static leveldb_t *open_index(const char *dir)
{
    char path[TRAILTMP_PATH + 16];
    snprintf(path, sizeof(path), "%s/index", dir);
    leveldb_t *db = trailtmp_raw(path);
    assert_non_null(db);
    return db;
}

/* Sets the index's "i" to say it holds entries up to seq. */
static void set_upto(const char *dir, uint64_t seq)
{
    uint8_t m[18] = { 0x82, 0xa1, 'v', 0x01, 0xa4, 'u', 'p', 't', 'o',
                      0xcf };
    for (int i = 17; i >= 10; i--, seq >>= 8)
        m[i] = (uint8_t)seq;
    leveldb_t *db = open_index(dir);
    assert_int_equal(te_put(db, "i", 1, m, sizeof(m)), 0);
    leveldb_close(db);
}

/* A writer opens and closes the trail: it indexes what is missing. */
static void writer_pass(const char *dir)
{
    store_t *s = NULL;
    char err[256];
    assert_int_equal(store_open(dir, STORE_CREATE, &s, err, sizeof(err)),
                     0);
    store_close(&s);
}

/* Every scan, summaries included, gives what the records give. */
static void scans_agree(const char *dir, bool indexed)
{
    static struct found ref, got;
    store_t *s = open_ro(dir);
    assert_int_equal(store_indexed(s), indexed);
    for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++) {
        reference(s, &wants[i], true, &ref);
        scan(s, &wants[i], true, true, 5, &got);
        same(&got, &ref, indexed ? "indexed" : "not indexed");
    }
    store_close(&s);
}

static void test_not_indexed(void **state)
{
    /* a trail from before the index: scans read the records, until a
     * logger opens it and indexes it */
    struct trailtmp *fx = *state;
    build(fx->dir);
    drop_index(fx->dir);
    scans_agree(fx->dir, false);
    writer_pass(fx->dir);
    scans_agree(fx->dir, true);
}

static void test_index_behind(void **state)
{
    /* the logger ended between a commit and its index write */
    struct trailtmp *fx = *state;
    build(fx->dir);
    set_upto(fx->dir, 100);
    scans_agree(fx->dir, false);
    writer_pass(fx->dir);
    scans_agree(fx->dir, true);
}

static void test_index_ahead(void **state)
{
    /* the trail lost a batch its index kept: the index is built again */
    struct trailtmp *fx = *state;
    build(fx->dir);
    set_upto(fx->dir, 100000);
    scans_agree(fx->dir, false);
    writer_pass(fx->dir);
    scans_agree(fx->dir, true);
    store_t *s = open_ro(fx->dir);
    struct store_scan_opts o = { .until_ns = UINT64_MAX, .summaries = true };
    store_scan_t *sc = store_scan_new(s, &o);
    struct audit_record r;
    size_t n = 0;
    while (store_scan_next(sc, &r) == 1)
        n++;
    assert_int_equal(n, 2 * N_TX + (N_TX + 6) / 7);
    store_scan_destroy(&sc);
    store_close(&s);
}

static void test_discarded(void **state)
{
    /* a discarded batch leaves nothing in the index either */
    struct trailtmp *fx = *state;
    store_t *s = NULL;
    char err[256];
    assert_int_equal(store_open(fx->dir, STORE_CREATE, &s, err,
                                sizeof(err)), 0);
    struct audit_record r = make(1, RECORD_REQUEST);
    assert_int_equal(store_put(s, &r), 0);
    assert_int_equal(store_discard(s), 1);
    assert_int_equal(store_put(s, &r), 0);
    assert_int_equal(store_commit(s, true, err, sizeof(err)), 0);
    store_close(&s);
    s = open_ro(fx->dir);
    assert_true(store_indexed(s));
    struct store_scan_opts o = { .until_ns = UINT64_MAX, .summaries = true };
    store_scan_t *sc = store_scan_new(s, &o);
    struct audit_record got;
    assert_int_equal(store_scan_next(sc, &got), 1);
    assert_true(store_scan_summaries(sc));
    assert_int_equal(store_scan_seq(sc), 1);
    assert_int_equal(store_scan_next(sc, &got), 0);
    store_scan_destroy(&sc);
    store_close(&s);
}

/* Bodies longer than a record keeps inline live in segment files: a
 * scan gives them back whole, walking or narrowed, and its items carry
 * them (what the query socket sends); summaries only say how long. */
static void test_long_bodies(void **state)
{
    struct trailtmp *fx = *state;
    static char bodies[20][3000];
    store_t *s = NULL;
    char err[256] = "";
    assert_int_equal(store_open(fx->dir, STORE_CREATE, &s, err, sizeof(err)),
                     0);
    for (int i = 0; i < 20; i++) {
        memset(bodies[i], 'a' + i, sizeof(bodies[i]));
        struct audit_record a = make(i, RECORD_RESPONSE);
        a.body = (struct bytes){ bodies[i], (uint32_t)(1000 + i * 100) };
        a.body_len = a.body.n;
        assert_int_equal(store_put(s, &a), 0);
    }
    assert_int_equal(store_commit(s, true, err, sizeof(err)), 0);
    store_close(&s);

    s = open_ro(fx->dir);
    store_decoder_t *d = store_decoder_new();
    const struct store_scan_opts opts[] = {
        { .until_ns = UINT64_MAX },
        { .until_ns = UINT64_MAX, .reverse = true },
        { .until_ns = UINT64_MAX, .by_status = true, .status_lo = 200,
          .status_hi = 599 },
        { .until_ns = UINT64_MAX, .summaries = true },
    };
    for (size_t j = 0; j < sizeof(opts) / sizeof(opts[0]); j++) {
        store_scan_t *sc = store_scan_new(s, &opts[j]);
        assert_non_null(sc);
        struct audit_record r;
        int n = 0;
        while (store_scan_next(sc, &r) == 1) {
            int i = (int)r.idx;
            uint32_t len = 1000 + (uint32_t)i * 100;
            assert_int_equal(r.body_len, len);
            if (opts[j].summaries) {
                assert_int_equal(r.body.n, 0);
            } else {
                assert_int_equal(r.body.n, len);
                assert_memory_equal(r.body.p, bodies[i], len);
                size_t il;
                const void *item = store_scan_item(sc, &il);
                struct audit_record again;
                assert_int_equal(store_decode(d, item, il, &again), 0);
                assert_int_equal(again.body.n, len);
                assert_memory_equal(again.body.p, bodies[i], len);
            }
            n++;
        }
        assert_int_equal(n, opts[j].by_status ? 18 : 20); /* 2 with no status */
        store_scan_destroy(&sc);
    }
    store_decoder_destroy(&d);
    store_close(&s);
}

/* Each test in a trail directory of its own. */
#define TEST(f) cmocka_unit_test_setup_teardown(f, trailtmp_setup, \
                                                trailtmp_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_scans),
        TEST(test_narrowed),
        TEST(test_summary_seq),
        TEST(test_not_indexed),
        TEST(test_index_behind),
        TEST(test_index_ahead),
        TEST(test_discarded),
        TEST(test_long_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
