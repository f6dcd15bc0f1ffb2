/* test_common_store_body.c - long bodies in segment files: read back
 * whole (from the trail and through the query protocol), verified with
 * the chain, cut back after a logger died mid-batch, never overwritten
 * when the system lost committed ones, and tampering with them caught.
 *
 * Each test builds a trail in its own temporary directory; segments are
 * edited with plain file calls, as someone with access to them would.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "store.h"
#include "store_proof.h"
#include "store_body.h"
#include "store_query.h"
#include "store_verify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trailtmp.h"

/* A body of n bytes that differs with seed at every position. */
static char *body_of(size_t n, unsigned seed)
{
    char *b = malloc(n ? n : 1);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++)
        b[i] = (char)((i * 31 + seed * 7 + (i >> 9)) & 0xff);
    return b;
}

static struct audit_record make(uint64_t ts, uint32_t idx, const char *body,
                                size_t n)
{
    struct audit_record r = {
        .kind = RECORD_RESPONSE,
        .uid = BYTES_LIT("00000000000000c3"),
        .idx = idx,
        .ts_ns = ts,
        .addr = { BYTES_LIT("192.0.2.1"), 40000, BYTES_LIT("192.0.2.2"), 80 },
        .route = { BYTES_LIT("g"), BYTES_LIT("/"), BYTES_LIT("audit"), 1 },
        .step = BYTES_LIT("log"),
        .method = BYTES_LIT("POST"),
        .uri = BYTES_LIT("/upload"),
        .version = BYTES_LIT("1.1"),
        .status = 200,
        .reason = BYTES_LIT("OK"),
        .outcome = BYTES_LIT("ok"),
        .body = { body, (uint32_t)n },
        .body_len = n + 5,
    };
    return r;
}

static store_t *open_store(const char *dir, unsigned flags)
{
    store_t *s = NULL;
    char err[256] = "";
    int rc = store_open(dir, flags, &s, err, sizeof(err));
    if (rc)
        fail_msg("store_open %s: %d %s", dir, rc, err);
    return s;
}

static void commit(store_t *s)
{
    char err[256] = "";
    int rc = store_commit(s, true, err, sizeof(err));
    if (rc)
        fail_msg("store_commit: %d %s", rc, err);
}

/* Sizes around the inline limit, one written straight from the caller's
 * bytes (a buffer or more) and an empty one. */
static const size_t sizes[] = { 0, 100, 512, 513, 70000, 3u << 20, 9000 };
#define N_SIZES (sizeof(sizes) / sizeof(sizes[0]))

/* Puts one record per size, ts 1000 + i, in two batches. */
static void build(const char *dir)
{
    store_t *s = open_store(dir, STORE_CREATE);
    for (size_t i = 0; i < N_SIZES; i++) {
        char *b = body_of(sizes[i], (unsigned)i);
        struct audit_record r = make(1000 + i, (uint32_t)i, b, sizes[i]);
        assert_int_equal(store_put(s, &r), 0);
        free(b);
        if (i == 3)
            commit(s);
    }
    commit(s);
    store_close(&s);
}

/* The first n records read back with their bodies, in time order; with
 * `all`, there are no more. */
static void expect_bodies(const char *dir, size_t n, bool all)
{
    store_t *s = open_store(dir, 0);
    store_iter_t *it = store_iter_new(s, 0, UINT64_MAX, NULL, 0);
    struct audit_record r;
    for (size_t i = 0; i < n; i++) {
        size_t want = sizes[i % N_SIZES];
        assert_int_equal(store_iter_next(it, &r), 1);
        assert_int_equal(r.ts_ns, 1000 + i);
        assert_int_equal(r.body.n, want);
        assert_int_equal(r.body_len, want + 5);
        char *b = body_of(want, (unsigned)(i % N_SIZES));
        assert_memory_equal(r.body.p, b, want);
        free(b);
    }
    if (all)
        assert_int_equal(store_iter_next(it, &r), 0);
    store_iter_destroy(&it);
    store_close(&s);
}

static struct store_verify verify(const char *dir, int want_rc)
{
    store_t *s = open_store(dir, 0);
    struct store_verify v;
    int rc = store_verify(s, NULL, &v);
    if (rc != want_rc)
        fail_msg("verify: %d, want %d (seq %llu: %s)", rc, want_rc,
                 (unsigned long long)v.bad_seq, v.why);
    store_close(&s);
    return v;
}

static void seg_path(const char *dir, unsigned seg, char *out, size_t n)
{
    snprintf(out, n, "%s/bodies/%08u.seg", dir, seg);
}

static off_t seg_size(const char *dir, unsigned seg)
{
    char p[128];
    struct stat st;
    seg_path(dir, seg, p, sizeof(p));
    return stat(p, &st) == 0 ? st.st_size : -1;
}

/* Bodies over the inline limit: 513, 70000, 3 MiB and 9000 bytes. */
#define APART_BYTES (513 + 70000 + (3u << 20) + 9000)
#define APART 4

static void test_round_trip(void **state)
{
    struct trailtmp *fx = *state;
    build(fx->dir);
    expect_bodies(fx->dir, N_SIZES, true);
    assert_int_equal(seg_size(fx->dir, 0),
                     APART_BYTES + APART * STORE_BODY_HEADER_BYTES);
    struct store_verify v = verify(fx->dir, 0);
    assert_int_equal(v.records, N_SIZES);
    assert_int_equal(v.bodies, APART);
    assert_int_equal(v.body_bytes, APART_BYTES);
}

/* A query reply carries each record whole: the client reads no segment. */
static void test_query_reply_has_bodies(void **state)
{
    struct trailtmp *fx = *state;
    build(fx->dir);
    store_t *s = open_store(fx->dir, 0);
    store_decoder_t *d = store_decoder_new();
    msgpack_sbuffer req, reply;
    msgpack_sbuffer_init(&req);
    msgpack_sbuffer_init(&reply);
    struct store_query q = { 0, UINT64_MAX, 0, NULL, 0 };
    assert_int_equal(store_query_encode(&req, &q), 0);
    assert_int_equal(store_query_serve(s, req.data, req.size, &reply), 0);
    store_close(&s); /* the reply stands alone */
    uint32_t n;
    const void *next;
    size_t next_len;
    char err[256];
    assert_int_equal(store_reply_read(d, reply.data, reply.size, &n, &next,
                                      &next_len, err, sizeof(err)), 0);
    assert_int_equal(n, N_SIZES);
    for (uint32_t i = 0; i < n; i++) {
        struct audit_record r;
        assert_int_equal(store_reply_record(d, i, &r), 0);
        char *b = body_of(sizes[i], i);
        assert_int_equal(r.body.n, sizes[i]);
        assert_memory_equal(r.body.p, b, sizes[i]);
        free(b);
    }
    msgpack_sbuffer_destroy(&req);
    msgpack_sbuffer_destroy(&reply);
    store_decoder_destroy(&d);
}

/* More than a segment holds: the next one takes over, and the walk
 * follows. */
static void test_segments_roll(void **state)
{
    struct trailtmp *fx = *state;
    size_t n = 2u << 20, count = STORE_BODY_SEGMENT_BYTES / n + 2;
    char *b = body_of(n, 3);
    store_t *s = open_store(fx->dir, STORE_CREATE);
    for (size_t i = 0; i < count; i++) {
        struct audit_record r = make(1000 + i, (uint32_t)i, b, n);
        assert_int_equal(store_put(s, &r), 0);
    }
    commit(s);
    store_close(&s);
    assert_true(seg_size(fx->dir, 0) <= (off_t)STORE_BODY_SEGMENT_BYTES);
    assert_true(seg_size(fx->dir, 1) > 0);
    assert_int_equal(seg_size(fx->dir, 2), -1);
    struct store_verify v = verify(fx->dir, 0);
    assert_int_equal(v.bodies, count);
    s = open_store(fx->dir, 0);
    store_iter_t *it = store_iter_new(s, 0, UINT64_MAX, NULL, 0);
    struct audit_record r;
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(store_iter_next(it, &r), 1);
        assert_int_equal(r.body.n, n);
        assert_memory_equal(r.body.p, b, n);
    }
    store_iter_destroy(&it);
    store_close(&s);
    free(b);
}

/* A logger that died mid-batch left bodies past the committed end (and
 * a torn entry): the next open cuts them off, and writing goes on. */
static void test_dead_logger_tail_cut(void **state)
{
    struct trailtmp *fx = *state;
    build(fx->dir);
    off_t committed = seg_size(fx->dir, 0);
    store_t *s = open_store(fx->dir, STORE_CREATE);
    char *b = body_of(3u << 20, 9);
    struct audit_record r = make(5000, 9, b, 3u << 20);
    assert_int_equal(store_put(s, &r), 0); /* written, never committed */
    store_close(&s);
    assert_true(seg_size(fx->dir, 0) > committed);
    char p[128];
    seg_path(fx->dir, 0, p, sizeof(p));
    int fd = open(p, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "HKB1torn", 8), 8);
    close(fd);
    verify(fx->dir, 0); /* what is past the committed end is not the trail */

    s = open_store(fx->dir, STORE_CREATE);
    assert_int_equal(store_bodies_dropped(s),
                     (3u << 20) + STORE_BODY_HEADER_BYTES + 8);
    assert_int_equal(store_bodies_missing(s), 0);
    assert_int_equal(seg_size(fx->dir, 0), committed);
    free(b);
    /* goes on after the cut: one body apart, one inline */
    b = body_of(70000, 5);
    r = make(1000 + N_SIZES, N_SIZES, b, 70000);
    assert_int_equal(store_put(s, &r), 0);
    r = make(1000 + N_SIZES + 1, N_SIZES + 1, b, 100);
    assert_int_equal(store_put(s, &r), 0);
    free(b);
    commit(s);
    store_close(&s);
    struct store_verify v = verify(fx->dir, 0);
    assert_int_equal(v.records, N_SIZES + 2);
    assert_int_equal(v.bodies, APART + 1);
}

/* A discarded batch takes its bodies with it. */
static void test_discard(void **state)
{
    struct trailtmp *fx = *state;
    build(fx->dir);
    off_t committed = seg_size(fx->dir, 0);
    store_t *s = open_store(fx->dir, STORE_CREATE);
    char *b = body_of(3u << 20, 1);
    struct audit_record r = make(7000, 1, b, 3u << 20);
    assert_int_equal(store_put(s, &r), 0);
    assert_true(store_pending_bytes(s) > (3u << 20));
    assert_int_equal(store_discard(s), 1);
    assert_int_equal(store_pending_bytes(s), 0);
    assert_int_equal(seg_size(fx->dir, 0), committed);
    r = make(7001, 2, b, 1000);
    assert_int_equal(store_put(s, &r), 0);
    commit(s);
    store_close(&s);
    free(b);
    struct store_verify v = verify(fx->dir, 0);
    assert_int_equal(v.bodies, APART + 1);
}

/* The system went down and lost committed bodies (a segment shorter
 * than the meta says): nothing is written over the gap, and verify names
 * the record that lost its body. */
static void test_lost_bodies_not_overwritten(void **state)
{
    struct trailtmp *fx = *state;
    build(fx->dir);
    char p[128];
    seg_path(fx->dir, 0, p, sizeof(p));
    off_t size = seg_size(fx->dir, 0);
    assert_int_equal(truncate(p, size - 100), 0);
    store_t *s = open_store(fx->dir, STORE_CREATE);
    assert_int_equal(store_bodies_missing(s), 100);
    char *b = body_of(2000, 2);
    struct audit_record r = make(9000, 2, b, 2000);
    assert_int_equal(store_put(s, &r), 0);
    commit(s);
    store_close(&s);
    free(b);
    assert_int_equal(seg_size(fx->dir, 0), size - 100);
    assert_int_equal(seg_size(fx->dir, 1), 2000 + STORE_BODY_HEADER_BYTES);
    struct store_verify v = verify(fx->dir, -EBADMSG);
    assert_non_null(strstr(v.why, "body is missing"));
    assert_int_equal(v.bad_seq, N_SIZES); /* the last body, 9000 bytes */
}

/* One byte of a body changed: verify names its record. */
static void test_tamper_body(void **state)
{
    struct trailtmp *fx = *state;
    build(fx->dir);
    char p[128];
    seg_path(fx->dir, 0, p, sizeof(p));
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    /* the second body (70000 bytes) starts after the first entry */
    off_t at = STORE_BODY_HEADER_BYTES + 513 + STORE_BODY_HEADER_BYTES + 10;
    char c;
    assert_int_equal(pread(fd, &c, 1, at), 1);
    c ^= 1;
    assert_int_equal(pwrite(fd, &c, 1, at), 1);
    close(fd);
    struct store_verify v = verify(fx->dir, -EBADMSG);
    assert_non_null(strstr(v.why, "body was edited"));
    assert_int_equal(v.bad_seq, 5);
    /* a reader still gets the record, with the bytes as they are now */
    expect_bodies(fx->dir, 4, false);
    /* but its proof (what hark serve shows of one record) says the body
     * no longer matches, while the record before it still verifies */
    store_t *s = open_store(fx->dir, 0);
    store_iter_t *it = store_iter_new(s, 0, UINT64_MAX, NULL, 0);
    struct audit_record r;
    uint8_t keys[2][STORE_KEY_MAX];
    size_t lens[2] = { 0, 0 };
    int rc;
    while ((rc = store_iter_next(it, &r)) != 0) {
        size_t kl;
        const void *k = store_iter_key(it, &kl);
        int which = r.idx == 4 ? 0 : r.idx == 3 ? 1 : -1; /* 70000, 513 */
        if (which >= 0) {
            memcpy(keys[which], k, kl);
            lens[which] = kl;
        }
    }
    store_iter_destroy(&it);
    assert_true(lens[0] && lens[1]);
    struct store_proof p70k, p513;
    assert_int_equal(store_proof(s, keys[0], lens[0], 0, &p70k), 0);
    assert_false(p70k.verifies);
    assert_non_null(strstr(p70k.why, "segment file was edited"));
    assert_int_equal(store_proof(s, keys[1], lens[1], 0, &p513), 0);
    assert_true(p513.verifies);
    store_close(&s);
}

/* Segments removed or cut at the end: verify says so. */
static void test_tamper_segment_removed(void **state)
{
    struct trailtmp *fx = *state;
    build(fx->dir);
    char p[128];
    seg_path(fx->dir, 0, p, sizeof(p));
    assert_int_equal(unlink(p), 0);
    struct store_verify v = verify(fx->dir, -EBADMSG);
    assert_non_null(strstr(v.why, "body is missing"));
    assert_int_equal(v.bad_seq, 4);
    /* readers skip what they cannot read and go on */
    store_t *s = open_store(fx->dir, 0);
    store_iter_t *it = store_iter_new(s, 0, UINT64_MAX, NULL, 0);
    struct audit_record r;
    int ok = 0, bad = 0, rc;
    while ((rc = store_iter_next(it, &r)) != 0)
        rc == 1 ? ok++ : bad++;
    assert_int_equal(ok, N_SIZES - APART);
    assert_int_equal(bad, APART);
    store_iter_destroy(&it);
    store_close(&s);
}

/* Each test in a trail directory of its own. */
#define TEST(f) cmocka_unit_test_setup_teardown(f, trailtmp_setup, \
                                                trailtmp_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_round_trip),
        TEST(test_query_reply_has_bodies),
        TEST(test_segments_roll),
        TEST(test_dead_logger_tail_cut),
        TEST(test_discard),
        TEST(test_lost_bodies_not_overwritten),
        TEST(test_tamper_body),
        TEST(test_tamper_segment_removed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
