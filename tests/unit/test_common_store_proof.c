/* test_common_store_proof.c - one record's place in the chain.
 *
 * A trail of five records with a checkpoint after the third: each
 * record's proof names its entry and the checkpoint that covers it.
 * Then the trail is edited with LevelDB directly, as someone with access
 * to the files would: a record changed, a record added outside the
 * chain, a checkpoint changed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "store.h"
#include "store_proof.h"
#include "trailedit.h"

#include "trailtmp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct audit_record make(uint64_t ts, uint32_t idx)
{
    struct audit_record r = {
        .kind = RECORD_REQUEST,
        .uid = BYTES_LIT("00000000000000aa"),
        .idx = idx,
        .ts_ns = ts,
        .addr = { BYTES_LIT("192.0.2.1"), 40000, BYTES_LIT("192.0.2.2"), 80 },
        .method = BYTES_LIT("GET"),
        .uri = BYTES_LIT("/proof"),
        .body_len = 0,
    };
    return r;
}

/* The key of the record at ts (uid aa, request): store.h's layout. */
static size_t key_at(uint64_t ts, uint32_t idx, uint8_t *k)
{
    memset(k, 0, 22);
    k[0] = 't';
    for (int i = 8; i >= 1; i--, ts >>= 8)
        k[i] = (uint8_t)ts;
    k[16] = 0xaa;
    for (int i = 20; i >= 17; i--, idx >>= 8)
        k[i] = (uint8_t)idx;
    k[21] = RECORD_REQUEST;
    return 22;
}

/* Seq 1..5 are ts 500, 100, 300, 200, 400 (written out of time order);
 * a checkpoint follows seq 3. */
static void build(const char *dir)
{
    static const uint64_t ts[] = { 500, 100, 300, 200, 400 };
    store_t *s = NULL;
    char err[256] = "";
    assert_int_equal(store_open(dir, STORE_CREATE, &s, err, sizeof(err)), 0);
    for (int i = 0; i < 5; i++) {
        struct audit_record r = make(ts[i], (uint32_t)i);
        assert_int_equal(store_put(s, &r), 0);
        if (i == 2)
            assert_int_equal(store_checkpoint(s, false), 0);
    }
    assert_int_equal(store_commit(s, true, err, sizeof(err)), 0);
    store_close(&s);
}

static int proof(const char *dir, uint64_t ts, uint32_t idx, uint64_t hint,
                 struct store_proof *p)
{
    store_t *s = NULL;
    char err[256];
    uint8_t k[32];
    size_t kl = key_at(ts, idx, k);
    assert_int_equal(store_open(dir, 0, &s, err, sizeof(err)), 0);
    int rc = store_proof(s, k, kl, hint, p);
    store_close(&s);
    return rc;
}

static void test_intact(void **state)
{
    struct trailtmp *fx = *state;
    static const struct {
        uint64_t ts;
        uint32_t idx;
        uint64_t seq, cp;
    } want[] = {
        { 500, 0, 1, 3 }, { 100, 1, 2, 3 }, { 300, 2, 3, 3 },
        { 200, 3, 4, 0 }, { 400, 4, 5, 0 },
    };
    build(fx->dir);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        struct store_proof p;
        assert_int_equal(proof(fx->dir, want[i].ts, want[i].idx, 0, &p), 0);
        assert_int_equal(p.seq, want[i].seq);
        assert_int_equal(p.last_seq, 5);
        assert_true(p.verifies);
        assert_int_equal(p.cp_seq, want[i].cp);
        assert_int_equal(p.cp_matches, want[i].cp != 0);
        assert_false(p.cp_signed);
        /* a right hint gives the same answer, a wrong one is looked past */
        struct store_proof q;
        assert_int_equal(proof(fx->dir, want[i].ts, want[i].idx,
                               want[i].seq, &q), 0);
        assert_int_equal(q.seq, want[i].seq);
        assert_memory_equal(q.hash, p.hash, sizeof(p.hash));
        assert_int_equal(proof(fx->dir, want[i].ts, want[i].idx,
                               want[i].seq % 5 + 1, &q), 0);
        assert_int_equal(q.seq, want[i].seq);
        assert_true(q.verifies);
    }
    struct store_proof p;
    assert_int_equal(proof(fx->dir, 999, 0, 0, &p), -ENOENT);
}

static leveldb_t *raw_open(const char *dir)
{
    leveldb_t *db = trailtmp_raw(dir);
    assert_non_null(db);
    return db;
}

static void test_edited_record(void **state)
{
    struct trailtmp *fx = *state;
    build(fx->dir);
    leveldb_t *db = raw_open(fx->dir);
    uint8_t k[32];
    size_t kl = key_at(300, 2, k), vl;
    char *v = te_get(db, k, kl, &vl);
    assert_non_null(v);
    char *get = memmem(v, vl, "GET", 3);
    assert_non_null(get);
    memcpy(get, "PUT", 3);
    assert_int_equal(te_put(db, k, kl, v, vl), 0);
    leveldb_free(v);
    leveldb_close(db);

    struct store_proof p;
    assert_int_equal(proof(fx->dir, 300, 2, 0, &p), 0);
    assert_int_equal(p.seq, 3);
    assert_false(p.verifies);
    assert_non_null(strstr(p.why, "edited"));
    /* its neighbours still verify: the proof is about this record */
    assert_int_equal(proof(fx->dir, 100, 1, 0, &p), 0);
    assert_true(p.verifies);
}

static void test_inserted_record(void **state)
{
    struct trailtmp *fx = *state;
    build(fx->dir);
    leveldb_t *db = raw_open(fx->dir);
    uint8_t k[32], k2[32];
    size_t kl = key_at(300, 2, k), vl;
    char *v = te_get(db, k, kl, &vl);
    assert_non_null(v);
    /* a copy of a record under a key of its own: no entry names it */
    size_t k2l = key_at(350, 9, k2);
    assert_int_equal(te_put(db, k2, k2l, v, vl), 0);
    leveldb_free(v);
    leveldb_close(db);

    struct store_proof p;
    assert_int_equal(proof(fx->dir, 350, 9, 0, &p), 0);
    assert_int_equal(p.seq, 0);
    assert_false(p.verifies);
    assert_non_null(strstr(p.why, "inserted"));
}

static void test_edited_checkpoint(void **state)
{
    struct trailtmp *fx = *state;
    build(fx->dir);
    leveldb_t *db = raw_open(fx->dir);
    uint8_t ck[9];
    size_t vl;
    te_key('c', 3, ck);
    char *v = te_get(db, ck, sizeof(ck), &vl);
    assert_non_null(v);
    /* the head is the only 32-byte bin: flip its last byte */
    char *head = memmem(v, vl, "head", 4);
    assert_non_null(head);
    head[4 + 2 + 31] ^= 1;
    assert_int_equal(te_put(db, ck, sizeof(ck), v, vl), 0);
    leveldb_free(v);
    leveldb_close(db);

    struct store_proof p;
    assert_int_equal(proof(fx->dir, 100, 1, 0, &p), 0);
    assert_true(p.verifies);
    assert_int_equal(p.cp_seq, 3);
    assert_false(p.cp_matches);
}

/* Each test in a trail directory of its own. */
#define TEST(f) cmocka_unit_test_setup_teardown(f, trailtmp_setup, \
                                                trailtmp_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_intact),
        TEST(test_edited_record),
        TEST(test_inserted_record),
        TEST(test_edited_checkpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
