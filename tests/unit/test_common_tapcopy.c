/* test_common_tapcopy.c - what a tap publishes of a frame.
 *
 * A `msg` frame carrying a secret in a header and in a body, and a `pkt`
 * frame carrying it in a TCP payload, go through tapcopy and through a
 * real bus (inproc PUSH/PULL with an XPUB tap and a SUB reader): the
 * copy the tap publishes must not hold the secret anywhere, must still
 * decode as the schema says, with names, request line and lengths kept,
 * and the pipeline must get the frame untouched. Frames nobody
 * subscribes to are not published.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bus.h"
#include "frame.h"
#include "policy.h"
#include "stats.h"
#include "tapcopy.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define SECRET "c4n4ry-s3cr3t"

static const struct msg_header hdrs[] = {
    { BYTES_LIT("Host"), BYTES_LIT("example.com") },
    { BYTES_LIT("Authorization"), BYTES_LIT("Bearer " SECRET) },
    { BYTES_LIT("X-Custom"), BYTES_LIT(SECRET) },
};

static const struct http_msg req = {
    .kind = MSG_REQ,
    .uid = BYTES_LIT("00000000000000ab"),
    .idx = 0,
    .ts_ns = 1000,
    .ts_end_ns = 1200,
    .addr = { BYTES_LIT("10.0.0.1"), 40000, BYTES_LIT("10.0.0.2"), 80 },
    .method = BYTES_LIT("POST"),
    .uri = BYTES_LIT("/login"),
    .version = BYTES_LIT("1.1"),
    .headers = hdrs,
    .n_headers = 3,
    .body = BYTES_LIT("password=" SECRET),
    .body_len = 22,
};

/* Ethernet + IPv4 + TCP (20-byte headers) + an HTTP payload. */
static size_t make_packet(uint8_t *p)
{
    static const char payload[] =
        "GET / HTTP/1.1\r\nCookie: " SECRET "\r\n\r\n";
    size_t plen = sizeof(payload) - 1, ip_len = 20 + 20 + plen;
    memset(p, 0, 54);
    p[12] = 0x08; /* IPv4 */
    uint8_t *ip = p + 14;
    ip[0] = 0x45;
    ip[2] = (uint8_t)(ip_len >> 8);
    ip[3] = (uint8_t)ip_len;
    ip[8] = 64;
    ip[9] = 6; /* TCP */
    ip[12] = 10, ip[15] = 1, ip[16] = 10, ip[19] = 2;
    uint8_t *tcp = ip + 20;
    tcp[1] = 80, tcp[3] = 80;
    tcp[12] = 5 << 4;
    tcp[13] = 0x18;
    memcpy(tcp + 20, payload, plen);
    return 14 + ip_len;
}

static bool holds(const void *p, size_t n, const char *s)
{
    return memmem(p, n, s, strlen(s)) != NULL;
}

static void frame_of(frame_writer_t *w, const void **body, size_t *len)
{
    frame_writer_finish(w, 7, 5000, false, body, len);
}

/* The copy of a msg frame decodes, keeps what it may, holds no secret. */
static void check_msg_copy(const void *body, size_t len)
{
    assert_false(holds(body, len, SECRET));
    frame_reader_t *r = frame_reader_new();
    struct frame f;
    assert_int_equal(frame_read(r, "msg", 3, body, len, &f), 0);
    assert_int_equal(f.seq, 7);
    assert_int_equal(f.wm_ns, 5000);
    assert_int_equal(f.n_items, 1);
    struct http_msg m;
    assert_int_equal(frame_item_msg(r, &f, 0, &m), 0);
    assert_true(bytes_eq(m.method, "POST"));
    assert_true(bytes_eq(m.uri, "/login"));
    assert_int_equal(m.n_headers, 3);
    for (uint32_t i = 0; i < m.n_headers; i++) {
        assert_true(bytes_eq(m.headers[i].name, hdrs[i].name.p));
        assert_true(bytes_eq(m.headers[i].value, POLICY_REDACTED));
    }
    assert_int_equal(m.body.n, 0);
    assert_int_equal(m.body_len, 22);
    frame_reader_destroy(&r);
}

static void test_msg(void **state)
{
    (void)state;
    frame_writer_t *w = frame_writer_new(FRAME_MSG, "reassemble-0");
    assert_int_equal(frame_add_msg(w, &req), 0);
    const void *body, *copy;
    size_t len, clen;
    frame_of(w, &body, &len);
    assert_true(holds(body, len, SECRET)); /* the test can see it */
    tapcopy_t *t = tapcopy_new();
    assert_true(tapcopy_needed(FRAME_MSG));
    assert_int_equal(tapcopy_make(t, FRAME_MSG, body, len, &copy, &clen), 0);
    check_msg_copy(copy, clen);
    tapcopy_destroy(&t);
    assert_null(t);
    frame_writer_destroy(&w);
}

static void test_pkt(void **state)
{
    (void)state;
    uint8_t pkt[256];
    size_t n = make_packet(pkt);
    frame_writer_t *w = frame_writer_new(FRAME_PKT, "capture");
    frame_writer_set_link(w, 1); /* DLT_EN10MB */
    assert_int_equal(frame_add_pkt(w, 1000, (uint32_t)n + 100, pkt,
                                   (uint32_t)n), 0);
    /* not IP: nothing of it is kept */
    assert_int_equal(frame_add_pkt(w, 1001, 60, SECRET, sizeof(SECRET)), 0);
    const void *body, *copy;
    size_t len, clen;
    frame_of(w, &body, &len);
    assert_true(holds(body, len, SECRET));
    tapcopy_t *t = tapcopy_new();
    assert_int_equal(tapcopy_make(t, FRAME_PKT, body, len, &copy, &clen), 0);
    assert_false(holds(copy, clen, SECRET));
    frame_reader_t *r = frame_reader_new();
    struct frame f;
    assert_int_equal(frame_read(r, "pkt", 3, copy, clen, &f), 0);
    assert_int_equal(f.link, 1);
    assert_int_equal(f.n_items, 2);
    struct pkt p;
    assert_int_equal(frame_item_pkt(&f, 0, &p), 0);
    assert_int_equal(p.ts_ns, 1000);
    assert_int_equal(p.wirelen, n + 100);
    assert_int_equal(p.data.n, 14 + 20 + 20); /* headers, no payload */
    assert_memory_equal(p.data.p, pkt, 54);
    assert_int_equal(frame_item_pkt(&f, 1, &p), 0);
    assert_int_equal(p.data.n, 0);
    assert_int_equal(p.wirelen, 60);
    frame_reader_destroy(&r);
    tapcopy_destroy(&t);
    frame_writer_destroy(&w);
}

static void test_other_frames(void **state)
{
    (void)state;
    assert_false(tapcopy_needed(FRAME_LOG));
    assert_false(tapcopy_needed(FRAME_EOF));
    assert_false(tapcopy_needed(FRAME_STATS));
    tapcopy_t *t = tapcopy_new();
    const void *copy;
    size_t clen;
    assert_int_equal(tapcopy_make(t, FRAME_MSG, "\xc1", 1, &copy, &clen),
                     -EBADMSG);
    assert_int_equal(tapcopy_make(t, FRAME_MSG, "\x01", 1, &copy, &clen),
                     -EBADMSG);
    tapcopy_destroy(&t);
}

/* Receives one two-part message on sock within 2 s: 1, or 0. */
static int recv_two(void *sock, zmq_msg_t *topic, zmq_msg_t *body)
{
    zmq_pollitem_t it = { sock, 0, ZMQ_POLLIN, 0 };
    if (zmq_poll(&it, 1, 2000) <= 0)
        return 0;
    assert_true(zmq_msg_recv(topic, sock, 0) >= 0);
    assert_true(zmq_msg_recv(body, sock, 0) >= 0);
    return 1;
}

/* Sends the frame until the tap has published one (the subscription
 * travels on its own), draining the pipeline; returns the pipeline's
 * copy of the last frame in *pipe. */
static void send_until_published(bus_out_t *out, void *pull,
                                 const stats_t *st, const void *body,
                                 size_t len, zmq_msg_t *pipe)
{
    zmq_msg_t topic;
    zmq_msg_init(&topic);
    for (int i = 0; i < 200 && !stats_get(st, "tap_published"); i++) {
        assert_int_equal(bus_out_send(out, FRAME_MSG, body, len), 0);
        assert_int_equal(recv_two(pull, &topic, pipe), 1);
        if (!stats_get(st, "tap_published"))
            usleep(10000);
    }
    zmq_msg_close(&topic);
}

static void test_bus_tap(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    struct bus_env env = { ctx, NULL };
    stats_t *st = stats_new("test", "test-0");
    void *pull = zmq_socket(ctx, ZMQ_PULL);
    assert_int_equal(zmq_bind(pull, "inproc://pipe"), 0);
    bus_tap_t *tap = bus_tap_new(env, "inproc://tap", st);
    assert_non_null(tap);
    bus_out_t *out = bus_out_new(env, "inproc://pipe", "test-0", tap);
    assert_non_null(out);
    frame_writer_t *w = frame_writer_new(FRAME_MSG, "test-0");
    assert_int_equal(frame_add_msg(w, &req), 0);
    const void *body;
    size_t len;
    frame_of(w, &body, &len);

    /* Nobody listens: the pipeline gets the frame, the tap sends none. */
    zmq_msg_t topic, got;
    zmq_msg_init(&topic);
    zmq_msg_init(&got);
    assert_int_equal(bus_out_send(out, FRAME_MSG, body, len), 0);
    assert_int_equal(recv_two(pull, &topic, &got), 1);
    assert_int_equal(stats_get(st, "tap_published"), 0);

    void *sub = zmq_socket(ctx, ZMQ_SUB);
    assert_int_equal(zmq_connect(sub, "inproc://tap"), 0);
    assert_int_equal(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "ms", 2), 0);
    send_until_published(out, pull, st, body, len, &got);
    assert_int_equal(stats_get(st, "tap_published"), 1);
    /* the pipeline's copy is the frame as sent, secret included */
    assert_int_equal(zmq_msg_size(&got), len);
    assert_memory_equal(zmq_msg_data(&got), body, len);
    /* the tap's copy is redacted */
    assert_int_equal(recv_two(sub, &topic, &got), 1);
    assert_int_equal(zmq_msg_size(&topic), 3);
    assert_memory_equal(zmq_msg_data(&topic), "msg", 3);
    check_msg_copy(zmq_msg_data(&got), zmq_msg_size(&got));

    /* The subscriber leaves: the tap stops publishing. */
    zmq_close(sub);
    uint64_t before = 0;
    for (int i = 0; i < 100; i++) {
        before = stats_get(st, "tap_published");
        assert_int_equal(bus_out_send(out, FRAME_MSG, body, len), 0);
        assert_int_equal(recv_two(pull, &topic, &got), 1);
        if (stats_get(st, "tap_published") == before)
            break;
        usleep(10000);
    }
    assert_int_equal(stats_get(st, "tap_published"), before);
    assert_int_equal(stats_get(st, "tap_withheld"), 0);

    zmq_msg_close(&topic);
    zmq_msg_close(&got);
    frame_writer_destroy(&w);
    bus_out_destroy(&out);
    bus_tap_destroy(&tap);
    zmq_close(pull);
    zmq_ctx_term(ctx);
    stats_destroy(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msg),
        cmocka_unit_test(test_pkt),
        cmocka_unit_test(test_other_frames),
        cmocka_unit_test(test_bus_tap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
