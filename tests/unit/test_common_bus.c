/* test_common_bus.c - the acknowledged link and what taps show.
 *
 * Real ZeroMQ sockets over inproc in one process: an acknowledged output
 * (DEALER) to a router input, with the router's acknowledgements
 * releasing kept frames and a resend bringing back the rest in order;
 * and a tap behind a pipeline output, which shows only redacted copies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bus.h"

#include <errno.h>
#include <string.h>

struct got {
    struct frame f;
    frame_reader_t *r;
};

/* Receives one frame on in (waiting up to a second) and decodes it. */
static void recv_frame(bus_in_t *in, struct got *g)
{
    const void *t, *b;
    size_t tl, bl;
    assert_int_equal(bus_in_recv(in, 1000, &t, &tl, &b, &bl), 1);
    assert_int_equal(frame_read(g->r, t, tl, b, bl, &g->f), 0);
}

static void send_record(bus_out_t *o, frame_writer_t *w, uint32_t idx)
{
    struct audit_record r = {
        .kind = RECORD_REQUEST, .uid = BYTES_LIT("00000000000000aa"),
        .idx = idx, .ts_ns = 1000 + idx, .route.next_step = -1,
    };
    assert_int_equal(frame_add_record(w, &r), 0);
    assert_int_equal(bus_out_flush(o, w, 0, false), 0);
}

static void ack(bus_in_t *in, struct bytes peer, uint64_t seq)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(frame_encode_ack(&sb, "logger", seq), 0);
    assert_int_equal(bus_in_reply(in, peer, FRAME_ACK, sb.data, sb.size), 0);
    msgpack_sbuffer_destroy(&sb);
}

/* Takes acknowledgements until unacked frames are left (or a second). */
static void take_until(bus_out_t *o, unsigned left)
{
    for (int i = 0; i < 100 && bus_out_unacked(o) != left; i++) {
        zmq_pollitem_t it = { bus_out_socket(o), 0, ZMQ_POLLIN, 0 };
        zmq_poll(&it, 1, 10);
        assert_true(bus_out_take_acks(o) >= 0);
    }
    assert_int_equal(bus_out_unacked(o), left);
}

static void test_acked_link(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    struct bus_env env = { ctx, NULL };
    stats_t *st = stats_new("correlate", "correlate");
    bus_in_t *in = bus_in_new(env, "inproc://logger", true);
    bus_out_t *o = bus_out_new_acked(env, "inproc://logger", "correlate",
                                     NULL, st, BUS_PIPE_HWM);
    frame_writer_t *w = frame_writer_new(FRAME_LOG, "correlate");
    struct got g = { .r = frame_reader_new() };
    assert_non_null(in);
    assert_non_null(o);

    for (uint32_t i = 0; i < 3; i++)
        send_record(o, w, i);
    assert_int_equal(bus_out_unacked(o), 3);
    assert_int_equal(stats_get(st, "unacked_frames"), 3);
    assert_true(stats_get(st, "unacked_since_ns") > 0);
    char peer[64];
    for (uint64_t i = 0; i < 3; i++) {
        recv_frame(in, &g);
        assert_int_equal(g.f.seq, i);
        struct bytes p = bus_in_peer(in);
        /* "<src>:<16 hex digits>": the incarnation */
        assert_int_equal(p.n, strlen("correlate:") + 16);
        assert_memory_equal(p.p, "correlate:", 10);
        memcpy(peer, p.p, p.n);
    }
    struct bytes id = { peer, (uint32_t)(strlen("correlate:") + 16) };

    ack(in, id, 1);
    take_until(o, 1);
    assert_int_equal(stats_get(st, "acks_in"), 1);
    /* the logger restarted: what it never acknowledged comes again */
    assert_int_equal(bus_out_resend(o), 0);
    recv_frame(in, &g);
    assert_int_equal(g.f.seq, 2);
    assert_int_equal(g.f.n_items, 1);
    assert_int_equal(stats_get(st, "frames_resent"), 1);
    /* eof is kept like any frame, after the records */
    assert_int_equal(bus_out_eof(o, 0, "end"), 0);
    recv_frame(in, &g);
    assert_int_equal(g.f.type, FRAME_EOF);
    assert_int_equal(g.f.seq, 3);
    ack(in, id, 3);
    take_until(o, 0);
    assert_int_equal(stats_get(st, "unacked_since_ns"), 0);
    assert_int_equal(bus_out_tick(o), -1); /* nothing kept */

    frame_reader_destroy(&g.r);
    frame_writer_destroy(&w);
    bus_out_destroy(&o);
    bus_in_destroy(&in);
    stats_destroy(&st);
    zmq_ctx_term(ctx);
}

/* A subscriber to the tap at inproc://tap, subscribed to topic. */
static void *subscriber(void *ctx, const char *topic)
{
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof(linger));
    assert_int_equal(zmq_connect(sub, "inproc://tap"), 0);
    assert_int_equal(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, topic,
                                    strlen(topic)), 0);
    return sub;
}

/* The next message on sub within 300 ms: 1 with its decoded frame, 0. */
static int tap_recv(void *sub, struct got *g, zmq_msg_t *body)
{
    zmq_pollitem_t it = { sub, 0, ZMQ_POLLIN, 0 };
    if (zmq_poll(&it, 1, 300) <= 0)
        return 0;
    zmq_msg_t topic;
    zmq_msg_init(&topic);
    assert_true(zmq_msg_recv(&topic, sub, 0) >= 0);
    assert_true(zmq_msg_recv(body, sub, 0) >= 0);
    assert_int_equal(frame_read(g->r, zmq_msg_data(&topic),
                                zmq_msg_size(&topic), zmq_msg_data(body),
                                zmq_msg_size(body), &g->f), 0);
    zmq_msg_close(&topic);
    return 1;
}

static void send_request(bus_out_t *o, frame_writer_t *w)
{
    static const struct msg_header h[] = {
        { BYTES_LIT("Host"), BYTES_LIT("example.com") },
        { BYTES_LIT("authorization"), BYTES_LIT("Bearer s3cret") },
        { BYTES_LIT("X-Api-Key"), BYTES_LIT("k3y") },
    };
    struct http_msg m = {
        .kind = MSG_REQ, .uid = BYTES_LIT("00000000000000aa"),
        .method = BYTES_LIT("GET"), .uri = BYTES_LIT("/a"),
        .version = BYTES_LIT("1.1"), .headers = h, .n_headers = 3,
        .route.next_step = -1,
    };
    assert_int_equal(frame_add_msg(w, &m), 0);
    assert_int_equal(bus_out_flush(o, w, 0, false), 0);
}

/* A tap reached through a pipeline output shows the redacted copy
 * (tapcopy.h), and the next stage still gets the message whole. */
static void test_tap_hides(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    struct bus_env env = { ctx, NULL };
    stats_t *st = stats_new("reassemble", "reassemble-0");
    bus_tap_t *tap = bus_tap_new(env, "inproc://tap", st);
    bus_in_t *in = bus_in_new(env, "inproc://next", false);
    bus_out_t *o = bus_out_new(env, "inproc://next", "reassemble-0", tap);
    frame_writer_t *msgs = frame_writer_new(FRAME_MSG, "reassemble-0");
    struct got g = { .r = frame_reader_new() };
    struct got down = { .r = frame_reader_new() };
    void *sub = subscriber(ctx, "");
    zmq_msg_t body;
    zmq_msg_init(&body);
    /* a subscription reaches the tap after a while: send until one shows
     * (nothing is copied for a tap nobody subscribes to) */
    int seen = 0;
    for (int i = 0; i < 50 && !seen; i++) {
        send_request(o, msgs);
        recv_frame(in, &down);
        seen = tap_recv(sub, &g, &body);
    }
    assert_true(seen);
    struct http_msg m;
    assert_int_equal(frame_item_msg(g.r, &g.f, 0, &m), 0);
    assert_true(bytes_eq(m.headers[1].value, "[redacted]"));
    assert_null(memmem(zmq_msg_data(&body), zmq_msg_size(&body), "s3cret",
                       6));
    assert_int_equal(frame_item_msg(down.r, &down.f, 0, &m), 0);
    assert_true(bytes_eq(m.headers[1].value, "Bearer s3cret"));
    assert_true(stats_get(st, "tap_published") >= 1);

    zmq_msg_close(&body);
    zmq_close(sub);
    frame_reader_destroy(&g.r);
    frame_reader_destroy(&down.r);
    frame_writer_destroy(&msgs);
    bus_out_destroy(&o);
    bus_in_destroy(&in);
    bus_tap_destroy(&tap);
    stats_destroy(&st);
    zmq_ctx_term(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acked_link),
        cmocka_unit_test(test_tap_hides),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
