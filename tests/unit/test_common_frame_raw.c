/* test_common_frame_raw.c - items passed on as the bytes they came in.
 *
 * What a stage passes on unchanged (frame_item_raw, frame_add_raw) is
 * byte for byte what it received, for frames written by hark's writer
 * and for frames laid out otherwise (the items array not last, short map
 * headers, other key encodings, the items key twice); a request with its
 * route appended (frame_add_routed) is what frame_add_msg packs for it
 * routed; and a frame sent without a copy (frame_writer_swap) is the one
 * that was packed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct msg_header hdrs[] = {
    { BYTES_LIT("Host"), BYTES_LIT("example.com") },
    { BYTES_LIT("Content-Length"), BYTES_LIT("5") },
};

static struct http_msg msg(enum msg_kind kind, uint32_t idx)
{
    struct http_msg m = {
        .kind = kind,
        .uid = BYTES_LIT("00000000000000c3"),
        .idx = idx,
        .ts_ns = 1000 + idx,
        .ts_end_ns = 2000 + idx,
        .addr = { BYTES_LIT("192.0.2.1"), 40000, BYTES_LIT("192.0.2.2"), 80 },
        .method = BYTES_LIT("POST"),
        .uri = BYTES_LIT("/x"),
        .status = 200,
        .reason = BYTES_LIT("OK"),
        .version = BYTES_LIT("1.1"),
        .headers = hdrs,
        .n_headers = 2,
        .body = BYTES_LIT("hello"),
        .body_len = 5,
        .flags = MSG_F_CHUNKED,
        .event = BYTES_LIT("close"),
        .reason_text = BYTES_LIT("fin"),
    };
    return m;
}

static const struct msg_route route = {
    BYTES_LIT("Group"), BYTES_LIT("/"), BYTES_LIT("audit"), 2
};

/* The item bytes one frame_add_msg() packs for m. */
static struct bytes packed(frame_writer_t *w, const struct http_msg *m)
{
    frame_writer_reset(w);
    size_t before = frame_writer_bytes(w);
    assert_int_equal(frame_add_msg(w, m), 0);
    const void *body;
    size_t len;
    frame_writer_finish(w, 0, 0, false, &body, &len);
    return (struct bytes){ (const char *)body + before,
                           (uint32_t)(len - before) };
}

static void assert_same(struct bytes a, struct bytes b)
{
    assert_int_equal(a.n, b.n);
    assert_memory_equal(a.p, b.p, a.n);
}

/* hark's own frames: every item's bytes, and the routed request. */
static void test_raw_items_of_own_frames(void **state)
{
    (void)state;
    struct http_msg in[] = { msg(MSG_REQ, 0), msg(MSG_RESP, 0),
                             msg(MSG_CONN, 0), msg(MSG_REQ, 1) };
    frame_writer_t *w = frame_writer_new(FRAME_MSG, "reassemble-0");
    frame_writer_t *one = frame_writer_new(FRAME_MSG, "x");
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(frame_add_msg(w, &in[i]), 0);
    const void *body;
    size_t len;
    frame_writer_finish(w, 3, 9, false, &body, &len);

    frame_reader_t *r = frame_reader_new();
    struct frame f;
    assert_int_equal(frame_read(r, "msg", 3, body, len, &f), 0);
    for (uint32_t i = 0; i < 4; i++) {
        struct bytes raw;
        assert_int_equal(frame_item_raw(r, &f, i, &raw), 0);
        assert_same(raw, packed(one, &in[i]));
    }
    struct bytes raw;
    assert_int_equal(frame_item_raw(r, &f, 4, &raw), -EBADMSG);

    /* the route appended to the bytes == the request packed routed */
    assert_int_equal(frame_item_raw(r, &f, 3, &raw), 0);
    frame_writer_t *a = frame_writer_new(FRAME_MSG, "dispatch");
    frame_writer_t *b = frame_writer_new(FRAME_MSG, "dispatch");
    assert_int_equal(frame_add_routed(a, raw, &route), 0);
    struct http_msg routed = in[3];
    routed.routed = true;
    routed.route = route;
    assert_int_equal(frame_add_msg(b, &routed), 0);
    const void *ba, *bb;
    size_t la, lb;
    frame_writer_finish(a, 1, 1, false, &ba, &la);
    frame_writer_finish(b, 1, 1, false, &bb, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, la);

    /* and it reads back with its route */
    assert_int_equal(frame_read(r, "msg", 3, ba, la, &f), 0);
    struct http_msg m;
    assert_int_equal(frame_item_msg(r, &f, 0, &m), 0);
    assert_true(m.routed);
    assert_true(bytes_eq(m.route.policy, "audit"));
    assert_int_equal(m.route.next_step, 2);
    assert_true(bytes_eq(m.body, "hello"));

    /* not a map: refused */
    assert_int_equal(frame_add_routed(a, BYTES_LIT("\x93\x01\x02\x03"),
                                      &route), -EINVAL);
    frame_reader_destroy(&r);
    frame_writer_destroy(&w);
    frame_writer_destroy(&one);
    frame_writer_destroy(&a);
    frame_writer_destroy(&b);
}

/* A frame laid out as another producer may: the items array before
 * other keys, items with short map headers and str8 keys, an empty map,
 * and the items key twice (the reader takes the last, so must the raw
 * bytes). */
static void test_raw_items_of_other_layouts(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    static const char decoy[] = "\x91\x80";          /* [{}] */
    static const char item0[] = "\x82\xd9\x01k\xa3req\xa3uid\xa1x";
    static const char item1[] = "\x80";              /* {} */
    static const char item2[] = "\x81\xa1k\xa4resp";
    msgpack_pack_map(&pk, 5);
    msgpack_pack_str_with_body(&pk, "msgs", 4);
    msgpack_sbuffer_write(&sb, decoy, sizeof(decoy) - 1);
    msgpack_pack_str_with_body(&pk, "msgs", 4);
    msgpack_pack_array(&pk, 3);
    msgpack_sbuffer_write(&sb, item0, sizeof(item0) - 1);
    msgpack_sbuffer_write(&sb, item1, sizeof(item1) - 1);
    msgpack_sbuffer_write(&sb, item2, sizeof(item2) - 1);
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_uint8(&pk, FRAME_VERSION);
    msgpack_pack_str_with_body(&pk, "src", 3);
    msgpack_pack_str_with_body(&pk, "odd", 3);
    msgpack_pack_uint8(&pk, 7); /* a key that is not a str */
    msgpack_pack_nil(&pk);

    frame_reader_t *r = frame_reader_new();
    struct frame f;
    assert_int_equal(frame_read(r, "msg", 3, sb.data, sb.size, &f), 0);
    assert_int_equal(f.n_items, 3);
    const char *want[] = { item0, item1, item2 };
    size_t wlen[] = { sizeof(item0) - 1, sizeof(item1) - 1,
                      sizeof(item2) - 1 };
    for (uint32_t i = 0; i < 3; i++) {
        struct bytes raw;
        assert_int_equal(frame_item_raw(r, &f, i, &raw), 0);
        assert_int_equal(raw.n, wlen[i]);
        assert_memory_equal(raw.p, want[i], wlen[i]);
    }
    /* passed on, they read as they did */
    frame_writer_t *w = frame_writer_new(FRAME_MSG, "dispatch");
    for (uint32_t i = 0; i < 3; i++) {
        struct bytes raw;
        assert_int_equal(frame_item_raw(r, &f, i, &raw), 0);
        assert_int_equal(frame_add_raw(w, raw), 0);
    }
    const void *body;
    size_t len;
    frame_writer_finish(w, 0, 0, false, &body, &len);
    assert_int_equal(frame_read(r, "msg", 3, body, len, &f), 0);
    assert_int_equal(f.n_items, 3);
    struct http_msg m;
    assert_int_equal(frame_item_msg(r, &f, 2, &m), -EBADMSG); /* no uid */
    frame_writer_destroy(&w);
    frame_reader_destroy(&r);
    msgpack_sbuffer_destroy(&sb);
}

/* A frame handed over without a copy is the frame that was packed, and
 * the writer goes on in the new buffer. */
static void test_swap(void **state)
{
    (void)state;
    frame_writer_t *w = frame_writer_new(FRAME_MSG, "x");
    struct http_msg m = msg(MSG_RESP, 4);
    assert_int_equal(frame_add_msg(w, &m), 0);
    const void *body;
    size_t len, got;
    frame_writer_finish(w, 5, 6, true, &body, &len);
    void *copy = malloc(len);
    memcpy(copy, body, len);
    void *out = frame_writer_swap(w, malloc(64 << 10), 64 << 10, &got);
    assert_non_null(out);
    assert_int_equal(got, len);
    assert_memory_equal(out, copy, len);
    assert_int_equal(frame_writer_items(w), 0);
    assert_int_equal(frame_add_msg(w, &m), 0);
    frame_writer_finish(w, 5, 6, true, &body, &len);
    assert_int_equal(got, len);
    assert_memory_equal(body, copy, len);
    free(out);
    /* without a new buffer one as large as the last is made */
    out = frame_writer_swap(w, NULL, 0, &got);
    assert_non_null(out);
    assert_int_equal(got, len);
    free(out);
    free(copy);
    frame_writer_destroy(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_items_of_own_frames),
        cmocka_unit_test(test_raw_items_of_other_layouts),
        cmocka_unit_test(test_swap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
