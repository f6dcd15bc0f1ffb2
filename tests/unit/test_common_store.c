/* test_common_store.c - the audit trail: order, chain, reopen, tamper.
 *
 * Each test builds a trail in its own temporary directory. Tampering is
 * done with LevelDB directly, as someone with access to the files would.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "store.h"
#include "store_query.h"
#include "store_verify.h"

#include <errno.h>
#include <ftw.h>
#include <leveldb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fixture {
    char dir[64];
};

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    return remove(path);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/hark-store-XXXXXX");
    if (!mkdtemp(fx->dir)) {
        free(fx);
        return -1;
    }
    /* the trail lives in a subdirectory: store_open creates it */
    strcat(fx->dir, "/db");
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    char *slash = strrchr(fx->dir, '/');
    *slash = '\0';
    nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

static const struct msg_header hdrs[] = {
    { BYTES_LIT("Host"), BYTES_LIT("example.com") },
    { BYTES_LIT("Accept"), BYTES_LIT("*/*") },
};

static struct audit_record make(enum record_kind kind, uint64_t ts,
                                const char *uid, uint32_t idx)
{
    struct audit_record r = {
        .kind = kind,
        .uid = bytes_of(uid),
        .idx = idx,
        .ts_ns = ts,
        .addr = { BYTES_LIT("192.0.2.1"), 40000, BYTES_LIT("192.0.2.2"), 80 },
        .route = { BYTES_LIT("g"), BYTES_LIT("/"), BYTES_LIT("audit"), 1 },
        .step = BYTES_LIT("log"),
        .method = BYTES_LIT("GET"),
        .uri = BYTES_LIT("/x?y=1"),
        .host = BYTES_LIT("example.com"),
        .version = BYTES_LIT("1.1"),
        .headers = hdrs,
        .n_headers = 2,
        .body = BYTES_LIT("body\0bytes"),
        .body_len = 100,
    };
    if (kind == RECORD_RESPONSE) {
        r.status = 200;
        r.reason = BYTES_LIT("OK");
        r.outcome = BYTES_LIT("ok");
        r.latency_ns = 7;
    }
    return r;
}

static store_t *open_rw(const char *dir)
{
    store_t *s = NULL;
    char err[256] = "";
    int rc = store_open(dir, STORE_CREATE, &s, err, sizeof(err));
    if (rc)
        fail_msg("store_open %s: %d %s", dir, rc, err);
    return s;
}

static void put_commit(store_t *s, const struct audit_record *r, size_t n)
{
    char err[256];
    for (size_t i = 0; i < n; i++)
        assert_int_equal(store_put(s, &r[i]), 0);
    assert_int_equal(store_commit(s, true, err, sizeof(err)), 0);
    assert_int_equal(store_pending(s), 0);
}

/* Six records written out of time order, in two batches. */
static void build_trail(const char *dir)
{
    struct audit_record a[] = {
        make(RECORD_REQUEST, 3000, "00000000000000c3", 0),
        make(RECORD_REQUEST, 1000, "00000000000000a1", 0),
        make(RECORD_RESPONSE, 3500, "00000000000000c3", 0),
    };
    struct audit_record b[] = {
        make(RECORD_RESPONSE, 1200, "00000000000000a1", 0),
        make(RECORD_REQUEST, 2000, "00000000000000b2", 1),
        make(RECORD_RESPONSE, 2100, "00000000000000b2", 1),
    };
    store_t *s = open_rw(dir);
    put_commit(s, a, 3);
    put_commit(s, b, 3);
    assert_int_equal(store_last_seq(s), 6);
    store_close(&s);
    assert_null(s);
    store_close(&s); /* safe twice */
}

static uint64_t expect_verify_ok(const char *dir)
{
    store_t *s = NULL;
    char err[256];
    assert_int_equal(store_open(dir, 0, &s, err, sizeof(err)), 0);
    struct store_verify v;
    int rc = store_verify(s, &v);
    if (rc)
        fail_msg("verify: %d seq %llu: %s", rc, (unsigned long long)v.bad_seq,
                 v.why);
    uint8_t head[STORE_HASH_BYTES];
    store_head(s, head);
    assert_memory_equal(head, v.head, sizeof(head));
    store_close(&s);
    return v.records;
}

/* Runs verify and checks it fails at seq with a reason containing why. */
static void expect_verify_bad(const char *dir, uint64_t seq, const char *why)
{
    store_t *s = NULL;
    char err[256];
    assert_int_equal(store_open(dir, 0, &s, err, sizeof(err)), 0);
    struct store_verify v;
    assert_int_equal(store_verify(s, &v), -EBADMSG);
    if (v.bad_seq != seq || !strstr(v.why, why))
        fail_msg("verify: want seq %llu '%s', got seq %llu '%s'",
                 (unsigned long long)seq, why, (unsigned long long)v.bad_seq,
                 v.why);
    store_close(&s);
}

static void test_order_and_fields(void **state)
{
    struct fixture *fx = *state;
    build_trail(fx->dir);
    store_t *s = NULL;
    char err[256];
    assert_int_equal(store_open(fx->dir, 0, &s, err, sizeof(err)), 0);
    store_iter_t *it = store_iter_new(s, 0, UINT64_MAX, NULL, 0);
    assert_non_null(it);
    static const uint64_t want_ts[] = { 1000, 1200, 2000, 2100, 3000, 3500 };
    static const char *const want_uid[] = {
        "00000000000000a1", "00000000000000a1", "00000000000000b2",
        "00000000000000b2", "00000000000000c3", "00000000000000c3",
    };
    struct audit_record r;
    size_t n = 0;
    int rc;
    while ((rc = store_iter_next(it, &r)) == 1) {
        assert_true(n < 6);
        assert_int_equal(r.ts_ns, want_ts[n]);
        assert_true(bytes_eq(r.uid, want_uid[n]));
        assert_int_equal(r.kind, n % 2 ? RECORD_RESPONSE : RECORD_REQUEST);
        assert_true(bytes_eq(r.method, "GET"));
        assert_true(bytes_eq(r.uri, "/x?y=1"));
        assert_int_equal(r.n_headers, 2);
        assert_true(bytes_eq(r.headers[1].name, "Accept"));
        assert_true(bytes_eq(r.headers[1].value, "*/*"));
        assert_int_equal(r.body.n, 10);
        assert_memory_equal(r.body.p, "body\0bytes", 10);
        assert_int_equal(r.body_len, 100);
        assert_int_equal(r.addr.src_port, 40000);
        assert_true(bytes_eq(r.route.policy, "audit"));
        if (r.kind == RECORD_RESPONSE) {
            assert_int_equal(r.status, 200);
            assert_true(bytes_eq(r.outcome, "ok"));
            assert_int_equal(r.latency_ns, 7);
        }
        size_t kl;
        const uint8_t *k = store_iter_key(it, &kl);
        assert_int_equal(kl, 22);
        assert_int_equal(k[0], 't');
        n++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, 6);
    store_iter_destroy(&it);
    assert_null(it);

    /* [since, until) */
    it = store_iter_new(s, 1200, 3000, NULL, 0);
    n = 0;
    while (store_iter_next(it, &r) == 1) {
        assert_true(r.ts_ns >= 1200 && r.ts_ns < 3000);
        n++;
    }
    assert_int_equal(n, 3);
    store_iter_destroy(&it);
    store_close(&s);
    assert_int_equal(expect_verify_ok(fx->dir), 6);
}

/* Same (ts, uid, idx, kind) twice, in one batch and across batches: all
 * kept, none overwritten (the chain would call that an edit). */
static void test_duplicate_keys(void **state)
{
    struct fixture *fx = *state;
    store_t *s = open_rw(fx->dir);
    struct audit_record r[3] = {
        make(RECORD_REQUEST, 5, "00000000000000aa", 0),
        make(RECORD_REQUEST, 5, "00000000000000aa", 0),
        make(RECORD_REQUEST, 5, "00000000000000aa", 0),
    };
    r[1].step = BYTES_LIT("second");
    r[2].step = BYTES_LIT("third");
    put_commit(s, r, 2);
    put_commit(s, r + 2, 1);
    store_iter_t *it = store_iter_new(s, 0, UINT64_MAX, NULL, 0);
    struct audit_record got;
    static const char *const steps[] = { "log", "second", "third" };
    static const size_t key_len[] = { 22, 26, 26 };
    for (int i = 0; i < 3; i++) {
        assert_int_equal(store_iter_next(it, &got), 1);
        assert_true(bytes_eq(got.step, steps[i]));
        size_t kl;
        store_iter_key(it, &kl);
        assert_int_equal(kl, key_len[i]);
    }
    assert_int_equal(store_iter_next(it, &got), 0);
    store_iter_destroy(&it);
    store_close(&s);
    assert_int_equal(expect_verify_ok(fx->dir), 3);
}

/* A uid that is not 16 hex digits still sorts and reads back. */
static void test_odd_uid(void **state)
{
    struct fixture *fx = *state;
    store_t *s = open_rw(fx->dir);
    struct audit_record r = make(RECORD_REQUEST, 9, "not-hex", 0);
    put_commit(s, &r, 1);
    store_iter_t *it = store_iter_new(s, 0, UINT64_MAX, NULL, 0);
    struct audit_record got;
    assert_int_equal(store_iter_next(it, &got), 1);
    assert_true(bytes_eq(got.uid, "not-hex"));
    store_iter_destroy(&it);
    /* not a request or response */
    r.kind = (enum record_kind)7;
    assert_int_equal(store_put(s, &r), -EINVAL);
    store_close(&s);
}

static void test_reopen_continues_chain(void **state)
{
    struct fixture *fx = *state;
    build_trail(fx->dir);
    store_t *s = open_rw(fx->dir);
    assert_int_equal(store_last_seq(s), 6);
    uint8_t head6[STORE_HASH_BYTES];
    store_head(s, head6);
    struct audit_record r = make(RECORD_REQUEST, 500, "00000000000000d4", 0);
    put_commit(s, &r, 1);
    assert_int_equal(store_last_seq(s), 7);
    uint8_t head7[STORE_HASH_BYTES];
    store_head(s, head7);
    assert_memory_not_equal(head6, head7, sizeof(head6));
    assert_true(store_bytes_written(s) > 0);
    /* an uncommitted record is dropped at close */
    r.ts_ns = 600;
    assert_int_equal(store_put(s, &r), 0);
    assert_int_equal(store_pending(s), 1);
    store_close(&s);
    assert_int_equal(expect_verify_ok(fx->dir), 7);
    s = open_rw(fx->dir);
    assert_int_equal(store_last_seq(s), 7);
    uint8_t again[STORE_HASH_BYTES];
    store_head(s, again);
    assert_memory_equal(again, head7, sizeof(again));
    store_close(&s);
}

/* The last committed frame per producer incarnation: written with the
 * batch (even one without records), read back after a reopen, and the
 * first commit of a new incarnation removes the older one's entry. */
static void test_producers(void **state)
{
    struct fixture *fx = *state;
    char err[256];
    struct bytes a1 = BYTES_LIT("correlate:00000000000000a1");
    struct bytes a2 = BYTES_LIT("correlate:00000000000000a2");
    struct bytes h = BYTES_LIT("hark:0000000000000001");
    uint64_t seq = 99;
    store_t *s = open_rw(fx->dir);
    assert_int_equal(store_producer_get(s, a1, &seq), -ENOENT);
    struct audit_record r = make(RECORD_REQUEST, 100, "00000000000000d1", 0);
    assert_int_equal(store_put(s, &r), 0);
    assert_int_equal(store_producer_put(s, a1, 7, true), 0);
    assert_int_equal(store_producer_put(s, h, 0, true), 0);
    /* not visible before the commit */
    assert_int_equal(store_producer_get(s, a1, &seq), -ENOENT);
    assert_int_equal(store_commit(s, true, err, sizeof(err)), 0);
    assert_int_equal(store_producer_get(s, a1, &seq), 0);
    assert_int_equal(seq, 7);
    /* an uncommitted update is dropped with the batch at close */
    assert_int_equal(store_producer_put(s, a1, 9, false), 0);
    store_close(&s);

    s = open_rw(fx->dir);
    assert_int_equal(store_producer_get(s, a1, &seq), 0);
    assert_int_equal(seq, 7);
    /* a batch of only a producer's progress (an eof) is committed */
    assert_int_equal(store_producer_put(s, a1, 8, false), 0);
    assert_int_equal(store_pending(s), 0);
    assert_int_equal(store_commit(s, true, err, sizeof(err)), 0);
    assert_int_equal(store_producer_get(s, a1, &seq), 0);
    assert_int_equal(seq, 8);
    /* the next incarnation of correlate replaces it; hark's stays */
    assert_int_equal(store_producer_put(s, a2, 0, true), 0);
    assert_int_equal(store_commit(s, true, err, sizeof(err)), 0);
    assert_int_equal(store_producer_get(s, a1, &seq), -ENOENT);
    assert_int_equal(store_producer_get(s, a2, &seq), 0);
    assert_int_equal(seq, 0);
    assert_int_equal(store_producer_get(s, h, &seq), 0);
    /* ids that do not fit */
    char big[STORE_PRODUCER_ID_MAX + 2];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(store_producer_put(s, bytes_of(big), 1, true), -EINVAL);
    assert_int_equal(store_producer_put(s, bytes_of(""), 1, true), -EINVAL);
    store_close(&s);
    /* the chain does not include them: verify still passes */
    assert_int_equal(expect_verify_ok(fx->dir), 1);
}

/* An outage record is stored like the others: keyed by its start,
 * chained, decoded with who, until, reason and what it lost. */
static void test_outage_record(void **state)
{
    struct fixture *fx = *state;
    static const struct record_count lost[] = {
        { BYTES_LIT("open_connections"), 12 },
        { BYTES_LIT("waits"), 0 },
    };
    struct audit_record in[2] = {
        make(RECORD_REQUEST, 200, "00000000000000d1", 0),
        { .kind = RECORD_OUTAGE, .ts_ns = 150, .until_ns = 450,
          .who = BYTES_LIT("reassemble-1"),
          .reason = BYTES_LIT("killed by signal 9 (Killed)"),
          .route.next_step = -1, .lost = lost, .n_lost = 2 },
    };
    store_t *s = open_rw(fx->dir);
    put_commit(s, in, 2);
    store_iter_t *it = store_iter_new(s, 0, UINT64_MAX, NULL, 0);
    struct audit_record r;
    assert_int_equal(store_iter_next(it, &r), 1);
    assert_int_equal(r.kind, RECORD_OUTAGE);
    assert_int_equal(r.ts_ns, 150);
    assert_int_equal(r.until_ns, 450);
    assert_true(bytes_eq(r.who, "reassemble-1"));
    assert_true(bytes_eq(r.reason, "killed by signal 9 (Killed)"));
    assert_int_equal(r.n_lost, 2);
    assert_true(bytes_eq(r.lost[0].name, "open_connections"));
    assert_int_equal(r.lost[0].n, 12);
    assert_int_equal(r.lost[1].n, 0);
    assert_int_equal(r.n_headers, 0);
    assert_int_equal(r.uid.n, 0);
    assert_int_equal(store_iter_next(it, &r), 1);
    assert_int_equal(r.kind, RECORD_REQUEST);
    assert_int_equal(store_iter_next(it, &r), 0);
    store_iter_destroy(&it);
    store_close(&s);
    assert_int_equal(expect_verify_ok(fx->dir), 2);
}

static void test_open_errors(void **state)
{
    struct fixture *fx = *state;
    store_t *s = NULL, *t = NULL;
    char err[256] = "";
    assert_int_equal(store_open(fx->dir, 0, &s, err, sizeof(err)), -ENOENT);
    assert_null(s);
    assert_non_null(strstr(err, "no audit trail at"));
    s = open_rw(fx->dir);
    /* LevelDB's lock: a second open fails, as when the logger runs */
    assert_int_equal(store_open(fx->dir, 0, &t, err, sizeof(err)), -EBUSY);
    assert_null(t);
    assert_non_null(strstr(err, "LOCK"));
    store_close(&s);
    assert_int_equal(store_open(fx->dir, 0, &t, err, sizeof(err)), 0);
    store_close(&t);
    /* an empty trail verifies */
    assert_int_equal(expect_verify_ok(fx->dir), 0);
}

/* The query protocol: paged replies carry every record once. */
static void test_query_pages(void **state)
{
    struct fixture *fx = *state;
    build_trail(fx->dir);
    store_t *s = NULL;
    char err[256];
    assert_int_equal(store_open(fx->dir, 0, &s, err, sizeof(err)), 0);
    store_decoder_t *d = store_decoder_new();
    msgpack_sbuffer req, reply;
    msgpack_sbuffer_init(&req);
    msgpack_sbuffer_init(&reply);
    uint8_t after[STORE_KEY_MAX];
    size_t after_len = 0;
    uint64_t seen[8];
    size_t total = 0, pages = 0;
    for (;;) {
        struct store_query q = { 1100, UINT64_MAX, 2,
                                 after_len ? after : NULL, after_len };
        assert_int_equal(store_query_encode(&req, &q), 0);
        assert_int_equal(store_query_serve(s, req.data, req.size, &reply), 0);
        uint32_t n;
        const void *next;
        size_t next_len;
        assert_int_equal(store_reply_read(d, reply.data, reply.size, &n, &next,
                                          &next_len, err, sizeof(err)), 0);
        assert_true(n <= 2);
        for (uint32_t i = 0; i < n; i++) {
            struct audit_record r;
            assert_int_equal(store_reply_record(d, i, &r), 0);
            assert_true(total < 8);
            seen[total++] = r.ts_ns;
            assert_true(bytes_eq(r.headers[0].name, "Host"));
        }
        assert_int_equal(store_reply_record(d, n, &(struct audit_record){0}),
                         -EBADMSG);
        pages++;
        if (!next)
            break;
        assert_true(next_len <= sizeof(after));
        memcpy(after, next, next_len);
        after_len = next_len;
    }
    static const uint64_t want[] = { 1200, 2000, 2100, 3000, 3500 };
    assert_int_equal(total, 5);
    assert_memory_equal(seen, want, sizeof(want));
    assert_int_equal(pages, 3);

    /* bad requests get an error reply, never silence */
    assert_int_equal(store_query_serve(s, "\xc1", 1, &reply), 0);
    uint32_t n;
    const void *next;
    size_t next_len;
    assert_int_equal(store_reply_read(d, reply.data, reply.size, &n, &next,
                                      &next_len, err, sizeof(err)),
                     -EREMOTEIO);
    assert_string_equal(err, "malformed request");
    assert_int_equal(store_reply_read(d, "\x90", 1, &n, &next, &next_len, err,
                                      sizeof(err)),
                     -EBADMSG);
    msgpack_sbuffer_destroy(&req);
    msgpack_sbuffer_destroy(&reply);
    store_decoder_destroy(&d);
    store_close(&s);
}

/* ---- tampering ------------------------------------------------------ */

static leveldb_t *raw_open(const char *dir)
{
    leveldb_options_t *o = leveldb_options_create();
    char *e = NULL;
    leveldb_t *db = leveldb_open(o, dir, &e);
    leveldb_options_destroy(o);
    if (e)
        fail_msg("leveldb_open: %s", e);
    return db;
}

/* Key of the n-th (0-based, time order) record. */
static size_t nth_key(const char *dir, int n, uint8_t *key)
{
    store_t *s = NULL;
    char err[256];
    assert_int_equal(store_open(dir, 0, &s, err, sizeof(err)), 0);
    store_iter_t *it = store_iter_new(s, 0, UINT64_MAX, NULL, 0);
    struct audit_record r;
    for (int i = 0; i <= n; i++)
        assert_int_equal(store_iter_next(it, &r), 1);
    size_t kl;
    const void *k = store_iter_key(it, &kl);
    memcpy(key, k, kl);
    store_iter_destroy(&it);
    store_close(&s);
    return kl;
}

static void raw_put(const char *dir, const void *k, size_t kl, const void *v,
                    size_t vl)
{
    leveldb_t *db = raw_open(dir);
    leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
    char *e = NULL;
    leveldb_put(db, wo, k, kl, v, vl, &e);
    assert_null(e);
    leveldb_writeoptions_destroy(wo);
    leveldb_close(db);
}

static void raw_delete(const char *dir, const void *k, size_t kl)
{
    leveldb_t *db = raw_open(dir);
    leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
    char *e = NULL;
    leveldb_delete(db, wo, k, kl, &e);
    assert_null(e);
    leveldb_writeoptions_destroy(wo);
    leveldb_close(db);
}

static void seq_key(uint64_t seq, uint8_t k[9])
{
    k[0] = 's';
    for (int i = 8; i >= 1; i--, seq >>= 8)
        k[i] = (uint8_t)seq;
}

/* Write order in build_trail: seq 1 = ts 3000, 2 = 1000, 3 = 3500,
 * 4 = 1200, 5 = 2000, 6 = 2100. Time order: 1000(2) 1200(4) 2000(5)
 * 2100(6) 3000(1) 3500(3). */

static void test_tamper_edit(void **state)
{
    struct fixture *fx = *state;
    build_trail(fx->dir);
    uint8_t key[STORE_KEY_MAX];
    size_t kl = nth_key(fx->dir, 2, key); /* ts 2000: seq 5 */
    /* a well-formed record with one field changed */
    store_t *s = NULL;
    char err[256];
    assert_int_equal(store_open(fx->dir, 0, &s, err, sizeof(err)), 0);
    store_iter_t *it = store_iter_new(s, 2000, 2001, NULL, 0);
    struct audit_record r;
    assert_int_equal(store_iter_next(it, &r), 1);
    size_t vl;
    const char *v = store_iter_value(it, &vl);
    char *copy = malloc(vl);
    memcpy(copy, v, vl);
    store_iter_destroy(&it);
    store_close(&s);
    char *get = memmem(copy, vl, "GET", 3);
    assert_non_null(get);
    memcpy(get, "PUT", 3);
    raw_put(fx->dir, key, kl, copy, vl);
    free(copy);
    expect_verify_bad(fx->dir, 5, "hash mismatch");
}

static void test_tamper_garbage_value(void **state)
{
    struct fixture *fx = *state;
    build_trail(fx->dir);
    uint8_t key[STORE_KEY_MAX];
    size_t kl = nth_key(fx->dir, 0, key); /* ts 1000: seq 2 */
    raw_put(fx->dir, key, kl, "\xc1garbage", 8);
    expect_verify_bad(fx->dir, 2, "hash mismatch");
    /* readers skip it with an error and go on */
    store_t *s = NULL;
    char err[256];
    assert_int_equal(store_open(fx->dir, 0, &s, err, sizeof(err)), 0);
    store_iter_t *it = store_iter_new(s, 0, UINT64_MAX, NULL, 0);
    struct audit_record r;
    assert_int_equal(store_iter_next(it, &r), -EBADMSG);
    assert_int_equal(store_iter_next(it, &r), 1);
    assert_int_equal(r.ts_ns, 1200);
    store_iter_destroy(&it);
    store_close(&s);
}

static void test_tamper_delete_record(void **state)
{
    struct fixture *fx = *state;
    build_trail(fx->dir);
    uint8_t key[STORE_KEY_MAX];
    size_t kl = nth_key(fx->dir, 5, key); /* ts 3500: seq 3 */
    raw_delete(fx->dir, key, kl);
    expect_verify_bad(fx->dir, 3, "record missing (deleted)");
}

static void test_tamper_delete_chain_entry(void **state)
{
    struct fixture *fx = *state;
    build_trail(fx->dir);
    uint8_t k[9];
    seq_key(4, k);
    raw_delete(fx->dir, k, sizeof(k));
    expect_verify_bad(fx->dir, 4, "chain entry missing (deleted)");
}

/* Deleting the newest record with its chain entry leaves a consistent
 * chain; the meta key still says 6. */
static void test_tamper_delete_last(void **state)
{
    struct fixture *fx = *state;
    build_trail(fx->dir);
    uint8_t key[STORE_KEY_MAX];
    size_t kl = nth_key(fx->dir, 3, key); /* ts 2100: seq 6 */
    raw_delete(fx->dir, key, kl);
    uint8_t k[9];
    seq_key(6, k);
    raw_delete(fx->dir, k, sizeof(k));
    expect_verify_bad(fx->dir, 6, "meta says the last is seq 6");
}

static void test_tamper_insert(void **state)
{
    struct fixture *fx = *state;
    build_trail(fx->dir);
    /* a copy of a real record under a new time */
    uint8_t key[STORE_KEY_MAX];
    size_t kl = nth_key(fx->dir, 1, key);
    store_t *s = NULL;
    char err[256];
    assert_int_equal(store_open(fx->dir, 0, &s, err, sizeof(err)), 0);
    store_iter_t *it = store_iter_new(s, 0, UINT64_MAX, NULL, 0);
    struct audit_record r;
    assert_int_equal(store_iter_next(it, &r), 1);
    size_t vl;
    const char *v = store_iter_value(it, &vl);
    char *copy = malloc(vl);
    memcpy(copy, v, vl);
    store_iter_destroy(&it);
    store_close(&s);
    key[8] ^= 0x40; /* another timestamp */
    raw_put(fx->dir, key, kl, copy, vl);
    free(copy);
    expect_verify_bad(fx->dir, 0, "record not in the chain (inserted)");
}

static void test_tamper_meta(void **state)
{
    struct fixture *fx = *state;
    build_trail(fx->dir);
    raw_delete(fx->dir, "m", 1);
    expect_verify_bad(fx->dir, 6, "meta key missing");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order_and_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_odd_uid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_continues_chain, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_producers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outage_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_edit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_garbage_value, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tamper_delete_record, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tamper_delete_chain_entry, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tamper_delete_last, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tamper_insert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_meta, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
