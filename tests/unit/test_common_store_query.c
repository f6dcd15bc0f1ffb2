/* test_common_store_query.c - scans and proofs over the query protocol.
 *
 * What a client gets from the logger, page by page, must be what a
 * store_scan of the trail gives: the same records, keys and chain
 * entries, in the same order, for every kind of scan. Proofs travel
 * whole. Requests with bad scan fields are refused, and a reply whose
 * keys do not pair with its records is malformed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "store.h"
#include "store_index.h"
#include "store_proof.h"
#include "store_query.h"

#include "trailtmp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fixture {
    char dir[TRAILTMP_PATH];
    store_t *s;
};

/* 400 records: 200 requests and their responses, statuses and paths
 * varied, in two commits. */
static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    if (trailtmp_new("squery", fx->dir) < 0)
        return -1;
    char err[256];
    if (store_open(fx->dir, STORE_CREATE, &fx->s, err, sizeof(err)))
        return -1;
    static const char *const paths[] = { "/a", "/a/b", "/b", "/a?x" };
    static const uint32_t statuses[] = { 200, 404, 500, 0, 301 };
    for (int i = 0; i < 200; i++) {
        char uid[17];
        snprintf(uid, sizeof(uid), "%016x", i % 13 + 1);
        for (int k = RECORD_REQUEST; k <= RECORD_RESPONSE; k++) {
            struct audit_record r = {
                .kind = (enum record_kind)k,
                .uid = bytes_of(uid),
                .idx = (uint32_t)i,
                .ts_ns = 1000 + (uint64_t)((i * 71) % 200) * 5 + (k - 1),
                .method = BYTES_LIT("GET"),
                .uri = bytes_of(paths[i % 4]),
                .body = BYTES_LIT("abc"),
                .body_len = 3,
                .status = k == RECORD_RESPONSE ? statuses[i % 5] : 0,
                .outcome = k == RECORD_RESPONSE ? BYTES_LIT("ok")
                                                : BYTES_LIT(""),
            };
            if (store_put(fx->s, &r) < 0)
                return -1;
        }
        if (i == 99 && store_commit(fx->s, false, err, sizeof(err)))
            return -1;
    }
    if (store_commit(fx->s, true, err, sizeof(err)))
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    store_close(&fx->s);
    trailtmp_remove(fx->dir);
    free(fx);
    return 0;
}

struct seen {
    uint8_t keys[500][STORE_KEY_MAX];
    size_t lens[500];
    uint64_t seqs[500], ts[500];
    size_t n;
};

static void remember(struct seen *s, const void *k, size_t kl, uint64_t seq,
                     uint64_t ts)
{
    assert_true(s->n < 500);
    memcpy(s->keys[s->n], k, kl);
    s->lens[s->n] = kl;
    s->seqs[s->n] = seq;
    s->ts[s->n++] = ts;
}

static void local(store_t *st, const struct store_query_scan *c,
                  struct seen *out)
{
    struct store_scan_opts o = {
        .since_ns = 0, .until_ns = UINT64_MAX, .reverse = c->reverse,
        .summaries = c->summaries, .kind = c->kind,
        .by_status = c->by_status, .status_lo = c->status_lo,
        .status_hi = c->status_hi, .path = c->path, .path_len = c->path_len,
    };
    store_scan_t *sc = store_scan_new(st, &o);
    struct audit_record r;
    out->n = 0;
    while (store_scan_next(sc, &r) == 1) {
        size_t kl;
        const void *k = store_scan_key(sc, &kl);
        remember(out, k, kl, store_scan_seq(sc), r.ts_ns);
    }
    store_scan_destroy(&sc);
}

/* The same scan through the protocol, `limit` records a page. */
static void remote(store_t *st, const struct store_query_scan *c,
                   uint32_t limit, struct seen *out)
{
    msgpack_sbuffer req, reply;
    msgpack_sbuffer_init(&req);
    msgpack_sbuffer_init(&reply);
    store_decoder_t *d = store_decoder_new();
    uint8_t after[STORE_KEY_MAX];
    size_t after_len = 0;
    out->n = 0;
    for (int pages = 0; pages < 1000; pages++) {
        struct store_query q = { 0, UINT64_MAX, limit,
                                 after_len ? after : NULL, after_len };
        assert_int_equal(store_query_encode_scan(&req, &q, c), 0);
        assert_int_equal(store_query_serve(st, req.data, req.size, &reply),
                         0);
        uint32_t n;
        const void *next;
        size_t next_len;
        char err[256];
        if (store_reply_read(d, reply.data, reply.size, &n, &next,
                             &next_len, err, sizeof(err)) != 0)
            fail_msg("page %d: %s", pages, err);
        for (uint32_t i = 0; i < n; i++) {
            struct audit_record r;
            const void *k;
            size_t kl;
            uint64_t seq;
            assert_int_equal(store_reply_record(d, i, &r), 0);
            assert_int_equal(store_reply_key(d, i, &k, &kl, &seq), 0);
            if (c->summaries)
                assert_int_equal(r.body.n, 0);
            remember(out, k, kl, seq, r.ts_ns);
        }
        if (!next)
            break;
        memcpy(after, next, next_len);
        after_len = next_len;
    }
    store_decoder_destroy(&d);
    msgpack_sbuffer_destroy(&req);
    msgpack_sbuffer_destroy(&reply);
}

static void test_scans(void **state)
{
    struct fixture *fx = *state;
    static const struct store_query_scan scans[] = {
        { .keys = true },
        { .reverse = true, .summaries = true, .keys = true },
        { .summaries = true, .keys = true, .kind = RECORD_RESPONSE },
        { .reverse = true, .keys = true, .by_status = true,
          .status_lo = 400, .status_hi = 599 },
        { .summaries = true, .keys = true, .path = "/a", .path_len = 2 },
        { .reverse = true, .summaries = true, .keys = true,
          .kind = RECORD_REQUEST, .path = "/a/", .path_len = 3 },
    };
    static struct seen want, got;
    for (size_t i = 0; i < sizeof(scans) / sizeof(scans[0]); i++) {
        local(fx->s, &scans[i], &want);
        assert_true(want.n > 0);
        for (uint32_t limit = 0; limit <= 37; limit += 37) {
            remote(fx->s, &scans[i], limit, &got);
            if (got.n != want.n)
                fail_msg("scan %zu limit %u: %zu records, want %zu", i,
                         limit, got.n, want.n);
            for (size_t k = 0; k < got.n; k++) {
                assert_int_equal(got.lens[k], want.lens[k]);
                assert_memory_equal(got.keys[k], want.keys[k],
                                    got.lens[k]);
                assert_int_equal(got.seqs[k], want.seqs[k]);
                assert_int_equal(got.ts[k], want.ts[k]);
            }
        }
    }
}

static void test_proof(void **state)
{
    struct fixture *fx = *state;
    static struct seen all;
    struct store_query_scan c = { .summaries = true, .keys = true };
    local(fx->s, &c, &all);
    msgpack_sbuffer req, reply;
    msgpack_sbuffer_init(&req);
    msgpack_sbuffer_init(&reply);
    store_decoder_t *d = store_decoder_new();
    char err[256];
    for (size_t i = 0; i < all.n; i += 41) {
        struct store_proof want, got;
        assert_int_equal(store_proof(fx->s, all.keys[i], all.lens[i], 0,
                                     &want), 0);
        assert_int_equal(store_query_encode_proof(&req, all.keys[i],
                                                  all.lens[i], all.seqs[i]),
                         0);
        assert_int_equal(store_query_serve(fx->s, req.data, req.size,
                                           &reply), 0);
        assert_int_equal(store_reply_proof(d, reply.data, reply.size, &got,
                                           err, sizeof(err)), 0);
        assert_int_equal(got.seq, all.seqs[i]);
        assert_int_equal(got.seq, want.seq);
        assert_int_equal(got.last_seq, want.last_seq);
        assert_true(got.verifies);
        assert_memory_equal(got.hash, want.hash, sizeof(got.hash));
        assert_int_equal(got.cp_seq, want.cp_seq);
    }
    /* a key no record has */
    uint8_t nokey[22] = { 't', 0, 0, 0, 0, 0, 0, 0, 9 };
    nokey[21] = RECORD_REQUEST;
    struct store_proof got;
    assert_int_equal(store_query_encode_proof(&req, nokey, sizeof(nokey), 0),
                     0);
    assert_int_equal(store_query_serve(fx->s, req.data, req.size, &reply),
                     0);
    assert_int_equal(store_reply_proof(d, reply.data, reply.size, &got, err,
                                       sizeof(err)), -ENOENT);
    store_decoder_destroy(&d);
    msgpack_sbuffer_destroy(&req);
    msgpack_sbuffer_destroy(&reply);
}

/* A request map: "v":1 and one more entry packed by the caller. */
static void bad_request(store_t *st, const char *key,
                        void (*val)(msgpack_packer *))
{
    msgpack_sbuffer req, reply;
    msgpack_sbuffer_init(&req);
    msgpack_sbuffer_init(&reply);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &req, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_uint32(&pk, 1);
    msgpack_pack_str_with_body(&pk, key, strlen(key));
    val(&pk);
    assert_int_equal(store_query_serve(st, req.data, req.size, &reply), 0);
    store_decoder_t *d = store_decoder_new();
    uint32_t n;
    const void *next;
    size_t nl;
    char err[256];
    if (store_reply_read(d, reply.data, reply.size, &n, &next, &nl, err,
                         sizeof(err)) != -EREMOTEIO ||
        !strstr(err, "malformed request"))
        fail_msg("\"%s\" was not refused (%s)", key, err);
    store_decoder_destroy(&d);
    msgpack_sbuffer_destroy(&req);
    msgpack_sbuffer_destroy(&reply);
}

static void pack_str(msgpack_packer *pk)
{
    msgpack_pack_str_with_body(pk, "x", 1);
}

static void pack_kind7(msgpack_packer *pk)
{
    msgpack_pack_uint32(pk, 7);
}

static void pack_short_status(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_uint32(pk, 200);
}

static void pack_int(msgpack_packer *pk)
{
    msgpack_pack_int32(pk, -1);
}

static void test_bad_requests(void **state)
{
    struct fixture *fx = *state;
    bad_request(fx->s, "status", pack_str);
    bad_request(fx->s, "status", pack_short_status);
    bad_request(fx->s, "kind", pack_kind7);
    bad_request(fx->s, "reverse", pack_str);
    bad_request(fx->s, "path", pack_int);
    bad_request(fx->s, "proof", pack_int);
}

static void test_keys_must_pair(void **state)
{
    /* two records, one key: malformed */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_uint32(&pk, 1);
    msgpack_pack_str_with_body(&pk, "records", 7);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_nil(&pk);
    msgpack_pack_nil(&pk);
    msgpack_pack_str_with_body(&pk, "next", 4);
    msgpack_pack_nil(&pk);
    msgpack_pack_str_with_body(&pk, "keys", 4);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_bin_with_body(&pk, "t", 1);
    msgpack_pack_str_with_body(&pk, "seqs", 4);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_uint32(&pk, 1);
    store_decoder_t *d = store_decoder_new();
    uint32_t n;
    const void *next;
    size_t nl;
    char err[256];
    assert_int_equal(store_reply_read(d, sb.data, sb.size, &n, &next, &nl,
                                      err, sizeof(err)), -EBADMSG);
    const void *k;
    size_t kl;
    uint64_t seq;
    assert_int_equal(store_reply_key(d, 0, &k, &kl, &seq), -ENOENT);
    store_decoder_destroy(&d);
    msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proof, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
        cmocka_unit_test(test_keys_must_pair),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
