/* test_common_frame.c - the bus schema codec.
 *
 * Every frame type round-trips through writer and reader with every field
 * intact; batches keep item order; the validator refuses bodies that lie
 * about their lengths (before msgpack-c would allocate for them), other
 * versions, unknown topics and truncations at every byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "frame.h"
#include "mpcheck.h"
#include "stats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void assert_bytes(struct bytes b, const char *s)
{
    assert_int_equal(b.n, strlen(s));
    assert_memory_equal(b.p, s, b.n);
}

/* Copies the writer's body so the test owns it after reset. */
static void *finish(frame_writer_t *w, uint64_t seq, uint64_t wm, bool live,
                    size_t *len)
{
    const void *body;
    frame_writer_finish(w, seq, wm, live, &body, len);
    void *copy = malloc(*len);
    assert_non_null(copy);
    memcpy(copy, body, *len);
    return copy;
}

static void test_pkt_roundtrip(void **state)
{
    (void)state;
    frame_writer_t *w = frame_writer_new(FRAME_PKT, "capture");
    assert_non_null(w);
    frame_writer_set_link(w, 113);
    const uint8_t a[] = { 1, 2, 3, 4, 5 }, b[] = { 0xff };
    assert_int_equal(frame_add_pkt(w, 1000000001ull, 60, a, sizeof(a)), 0);
    assert_int_equal(frame_add_pkt(w, 1000000002ull, 1, b, sizeof(b)), 0);
    assert_int_equal(frame_add_pkt(w, 0, 0, "", 0), 0);
    assert_int_equal(frame_writer_items(w), 3);
    size_t len;
    void *body = finish(w, 42, 777, true, &len);

    frame_reader_t *r = frame_reader_new();
    struct frame f;
    assert_int_equal(frame_read(r, "pkt", 3, body, len, &f), 0);
    assert_int_equal(f.type, FRAME_PKT);
    assert_int_equal(f.version, FRAME_VERSION);
    assert_bytes(f.src, "capture");
    assert_int_equal(f.seq, 42);
    assert_int_equal(f.wm_ns, 777);
    assert_true(f.live);
    assert_int_equal(f.link, 113);
    assert_int_equal(f.n_items, 3);
    struct pkt p;
    assert_int_equal(frame_item_pkt(&f, 0, &p), 0);
    assert_int_equal(p.ts_ns, 1000000001ull);
    assert_int_equal(p.wirelen, 60);
    assert_int_equal(p.data.n, 5);
    assert_memory_equal(p.data.p, a, 5);
    assert_int_equal(frame_item_pkt(&f, 1, &p), 0);
    assert_int_equal(p.data.n, 1);
    assert_int_equal((uint8_t)p.data.p[0], 0xff);
    assert_int_equal(frame_item_pkt(&f, 2, &p), 0);
    assert_int_equal(p.data.n, 0);
    assert_int_equal(frame_item_pkt(&f, 3, &p), -EBADMSG);

    /* The writer is reusable and a reset batch is empty. */
    frame_writer_reset(w);
    assert_int_equal(frame_writer_items(w), 0);
    free(body);
    body = finish(w, 43, 0, false, &len);
    assert_int_equal(frame_read(r, "pkt", 3, body, len, &f), 0);
    assert_int_equal(f.n_items, 0);
    assert_int_equal(f.seq, 43);
    assert_false(f.live);
    assert_int_equal(f.link, 113);
    free(body);
    frame_reader_destroy(&r);
    frame_writer_destroy(&w);
    assert_null(w);
    frame_writer_destroy(&w); /* twice is fine */
}

static const struct msg_header hdrs[] = {
    { { "Host", 4 }, { "example.com", 11 } },
    { { "Content-Type", 12 }, { "text/plain", 10 } },
};

static struct http_msg sample_req(void)
{
    struct http_msg m;
    memset(&m, 0, sizeof(m));
    m.kind = MSG_REQ;
    m.uid = bytes_of("0123456789abcdef");
    m.idx = 3;
    m.ts_ns = 100;
    m.ts_end_ns = 200;
    m.addr.src_ip = bytes_of("10.0.0.1");
    m.addr.src_port = 51000;
    m.addr.dst_ip = bytes_of("2001:db8::1");
    m.addr.dst_port = 80;
    m.method = bytes_of("POST");
    m.uri = bytes_of("/a/b?x=1");
    m.version = bytes_of("1.1");
    m.headers = hdrs;
    m.n_headers = 2;
    m.body.p = "hel\0lo";
    m.body.n = 6;
    m.body_len = 10;
    m.flags = MSG_F_CHUNKED | MSG_F_TRUNCATED;
    return m;
}

/* A msg frame holding the sample request, routed and not, a response
 * and a connection event; the caller frees it. */
static void *sample_msg_frame(size_t *len)
{
    frame_writer_t *w = frame_writer_new(FRAME_MSG, "reassemble-1");
    struct http_msg req = sample_req();
    assert_int_equal(frame_add_msg(w, &req), 0);
    req.routed = true;
    req.route.group = bytes_of("Packet Sniffer Group");
    req.route.path = bytes_of("/a");
    req.route.policy = bytes_of("audit");
    req.route.next_step = 1;
    assert_int_equal(frame_add_msg(w, &req), 0);

    struct http_msg resp;
    memset(&resp, 0, sizeof(resp));
    resp.kind = MSG_RESP;
    resp.uid = req.uid;
    resp.idx = 3;
    resp.status = 404;
    resp.reason = bytes_of("Not Found");
    resp.version = bytes_of("1.0");
    resp.flags = MSG_F_CLOSE_DELIMITED | MSG_F_GAP;
    assert_int_equal(frame_add_msg(w, &resp), 0);

    struct http_msg conn;
    memset(&conn, 0, sizeof(conn));
    conn.kind = MSG_CONN;
    conn.uid = req.uid;
    conn.event = bytes_of("close");
    conn.reason_text = bytes_of("rst");
    conn.pkts[0] = 7;
    conn.pkts[1] = 9;
    conn.bytes_seen[0] = 700;
    conn.bytes_seen[1] = 90000;
    conn.gaps = 2;
    conn.requests = 4;
    conn.responses = 3;
    assert_int_equal(frame_add_msg(w, &conn), 0);
    void *body = finish(w, 0, 5, false, len);
    frame_writer_destroy(&w);
    return body;
}

static void test_msg_roundtrip(void **state)
{
    (void)state;
    size_t len;
    void *body = sample_msg_frame(&len);
    frame_reader_t *r = frame_reader_new();
    struct frame f;
    assert_int_equal(frame_read(r, "msg", 3, body, len, &f), 0);
    assert_int_equal(f.n_items, 4);

    struct http_msg m;
    for (uint32_t i = 0; i < 2; i++) {
        assert_int_equal(frame_item_msg(r, &f, i, &m), 0);
        assert_int_equal(m.kind, MSG_REQ);
        assert_bytes(m.uid, "0123456789abcdef");
        assert_int_equal(m.idx, 3);
        assert_int_equal(m.ts_ns, 100);
        assert_int_equal(m.ts_end_ns, 200);
        assert_bytes(m.addr.src_ip, "10.0.0.1");
        assert_int_equal(m.addr.src_port, 51000);
        assert_bytes(m.addr.dst_ip, "2001:db8::1");
        assert_int_equal(m.addr.dst_port, 80);
        assert_bytes(m.method, "POST");
        assert_bytes(m.uri, "/a/b?x=1");
        assert_bytes(m.version, "1.1");
        assert_int_equal(m.n_headers, 2);
        assert_bytes(m.headers[0].name, "Host");
        assert_bytes(m.headers[1].value, "text/plain");
        assert_int_equal(m.body.n, 6);
        assert_memory_equal(m.body.p, "hel\0lo", 6);
        assert_int_equal(m.body_len, 10);
        assert_int_equal(m.flags, MSG_F_CHUNKED | MSG_F_TRUNCATED);
        assert_int_equal(m.routed, i == 1);
    }
    assert_bytes(m.route.group, "Packet Sniffer Group");
    assert_bytes(m.route.path, "/a");
    assert_bytes(m.route.policy, "audit");
    assert_int_equal(m.route.next_step, 1);

    assert_int_equal(frame_item_msg(r, &f, 2, &m), 0);
    assert_int_equal(m.kind, MSG_RESP);
    assert_int_equal(m.status, 404);
    assert_bytes(m.reason, "Not Found");
    assert_bytes(m.version, "1.0");
    assert_int_equal(m.flags, MSG_F_CLOSE_DELIMITED | MSG_F_GAP);
    assert_false(m.routed);

    assert_int_equal(frame_item_msg(r, &f, 3, &m), 0);
    assert_int_equal(m.kind, MSG_CONN);
    assert_bytes(m.event, "close");
    assert_bytes(m.reason_text, "rst");
    assert_int_equal(m.pkts[0], 7);
    assert_int_equal(m.pkts[1], 9);
    assert_int_equal(m.bytes_seen[1], 90000);
    assert_int_equal(m.gaps, 2);
    assert_int_equal(m.requests, 4);
    assert_int_equal(m.responses, 3);
    free(body);
    frame_reader_destroy(&r);
}

/* Pass-through keeps the item byte for byte. */
static void test_pass_through(void **state)
{
    (void)state;
    size_t len, len2;
    void *body = sample_msg_frame(&len);
    frame_reader_t *r = frame_reader_new(), *r2 = frame_reader_new();
    struct frame f, f2;
    assert_int_equal(frame_read(r, "msg", 3, body, len, &f), 0);
    frame_writer_t *w2 = frame_writer_new(FRAME_MSG, "dispatch");
    assert_int_equal(frame_add_object(w2, &f.items[0]), 0);
    void *body2 = finish(w2, 1, 5, false, &len2);
    assert_int_equal(frame_read(r2, "msg", 3, body2, len2, &f2), 0);
    struct http_msg m;
    assert_int_equal(frame_item_msg(r2, &f2, 0, &m), 0);
    assert_bytes(m.uri, "/a/b?x=1");
    assert_bytes(f2.src, "dispatch");
    free(body);
    free(body2);
    frame_reader_destroy(&r);
    frame_reader_destroy(&r2);
    frame_writer_destroy(&w2);
}

static void test_record_roundtrip(void **state)
{
    (void)state;
    frame_writer_t *w = frame_writer_new(FRAME_LOG, "correlate");
    struct audit_record rec;
    memset(&rec, 0, sizeof(rec));
    rec.kind = RECORD_RESPONSE;
    rec.uid = bytes_of("00000000000000ff");
    rec.idx = 1;
    rec.ts_ns = 5000;
    rec.addr.src_ip = bytes_of("127.0.0.1");
    rec.addr.src_port = 1;
    rec.addr.dst_ip = bytes_of("127.0.0.2");
    rec.addr.dst_port = 2;
    rec.route.group = bytes_of("g");
    rec.route.path = bytes_of("/");
    rec.route.policy = bytes_of("audit");
    rec.route.next_step = 1;
    rec.step = bytes_of("Log Response Message");
    rec.method = bytes_of("GET");
    rec.uri = bytes_of("/x");
    rec.host = bytes_of("h");
    rec.req_ts_ns = 4000;
    rec.version = bytes_of("1.1");
    rec.status = 200;
    rec.reason = bytes_of("OK");
    rec.headers = hdrs;
    rec.n_headers = 1;
    rec.body = bytes_of("abc");
    rec.body_len = 3;
    rec.outcome = bytes_of(OUTCOME_OK);
    rec.latency_ns = 123;
    assert_int_equal(frame_add_record(w, &rec), 0);
    rec.kind = RECORD_REQUEST;
    assert_int_equal(frame_add_record(w, &rec), 0);
    rec.kind = 0;
    assert_int_equal(frame_add_record(w, &rec), -EINVAL);
    assert_int_equal(frame_add_pkt(w, 0, 0, "", 0), -EINVAL);

    size_t len;
    void *body = finish(w, 9, 0, false, &len);
    frame_reader_t *r = frame_reader_new();
    struct frame f;
    assert_int_equal(frame_read(r, "log", 3, body, len, &f), 0);
    assert_int_equal(f.n_items, 2);
    struct audit_record out;
    assert_int_equal(frame_item_record(r, &f, 0, &out), 0);
    assert_int_equal(out.kind, RECORD_RESPONSE);
    assert_bytes(out.uid, "00000000000000ff");
    assert_int_equal(out.idx, 1);
    assert_int_equal(out.ts_ns, 5000);
    assert_bytes(out.route.policy, "audit");
    assert_int_equal(out.route.next_step, 1);
    assert_bytes(out.step, "Log Response Message");
    assert_bytes(out.host, "h");
    assert_int_equal(out.req_ts_ns, 4000);
    assert_int_equal(out.status, 200);
    assert_bytes(out.reason, "OK");
    assert_int_equal(out.n_headers, 1);
    assert_bytes(out.body, "abc");
    assert_bytes(out.outcome, "ok");
    assert_int_equal(out.latency_ns, 123);
    assert_int_equal(frame_item_record(r, &f, 1, &out), 0);
    assert_int_equal(out.kind, RECORD_REQUEST);
    assert_int_equal(out.status, 0); /* not packed for requests */
    /* A log frame is not a msg frame. */
    struct http_msg m;
    assert_int_equal(frame_item_msg(r, &f, 0, &m), -EBADMSG);
    free(body);
    frame_reader_destroy(&r);
    frame_writer_destroy(&w);
}

/* The keys of each item, in order: docs/bus.md's schema, and the bytes
 * stored in the trail (which the hash chain covers) must not drift.
 * Checks the items of w's frame against want[0..n). */
static void expect_keys(frame_writer_t *w, const char *const *want,
                        uint32_t n)
{
    frame_reader_t *r = frame_reader_new();
    struct frame f;
    size_t len;
    void *body = finish(w, 0, 0, false, &len);
    const char *topic = frame_topic(frame_writer_type(w));
    assert_int_equal(frame_read(r, topic, strlen(topic), body, len, &f), 0);
    assert_int_equal(f.n_items, n);
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *o = &f.items[i];
        char keys[512];
        size_t at = 0;
        keys[0] = '\0';
        assert_int_equal(o->type, MSGPACK_OBJECT_MAP);
        for (uint32_t k = 0; k < o->via.map.size; k++) {
            const msgpack_object *key = &o->via.map.ptr[k].key;
            assert_int_equal(key->type, MSGPACK_OBJECT_STR);
            at += (size_t)snprintf(keys + at, sizeof(keys) - at, "%s%.*s",
                                   k ? "," : "", (int)key->via.str.size,
                                   key->via.str.ptr);
            assert_true(at < sizeof(keys));
        }
        assert_string_equal(keys, want[i]);
    }
    free(body);
    frame_reader_destroy(&r);
}

static void test_wire_keys(void **state)
{
    static const char *const want[] = {
        "k,uid,idx,ts,te,src_ip,src_port,dst_ip,dst_port,method,uri,"
        "version,headers,body,body_len,flags",
        "k,uid,idx,ts,te,src_ip,src_port,dst_ip,dst_port,method,uri,"
        "version,headers,body,body_len,flags,group,route,policy,step",
        "k,uid,idx,ts,te,src_ip,src_port,dst_ip,dst_port,status,reason,"
        "version,headers,body,body_len,flags",
        "k,uid,idx,ts,te,src_ip,src_port,dst_ip,dst_port,event,reason,pkts,"
        "bytes,gaps,requests,responses",
        "kind,uid,idx,ts,src_ip,src_port,dst_ip,dst_port,group,route,policy,"
        "step,step_label,method,uri,host,req_ts,version,headers,body,"
        "body_len,flags",
        "kind,uid,idx,ts,src_ip,src_port,dst_ip,dst_port,group,route,policy,"
        "step,step_label,method,uri,host,req_ts,version,headers,body,"
        "body_len,flags,status,reason,outcome,latency_ns",
    };
    frame_writer_t *msgs = frame_writer_new(FRAME_MSG, "t");
    frame_writer_t *logs = frame_writer_new(FRAME_LOG, "t");
    struct http_msg m = sample_req();
    assert_int_equal(frame_add_msg(msgs, &m), 0);
    m.routed = true;
    assert_int_equal(frame_add_msg(msgs, &m), 0);
    m.kind = MSG_RESP; /* routed matters for requests only */
    assert_int_equal(frame_add_msg(msgs, &m), 0);
    m.kind = MSG_CONN;
    assert_int_equal(frame_add_msg(msgs, &m), 0);
    struct audit_record rec;
    memset(&rec, 0, sizeof(rec));
    rec.kind = RECORD_REQUEST;
    assert_int_equal(frame_add_record(logs, &rec), 0);
    rec.kind = RECORD_RESPONSE;
    assert_int_equal(frame_add_record(logs, &rec), 0);

    expect_keys(msgs, want, 4);
    expect_keys(logs, want + 4, 2);
    frame_writer_destroy(&msgs);
    frame_writer_destroy(&logs);
}

/* An item is refused whole: without its kind, with an unknown kind, a
 * message without uid, a field of the wrong type. Unknown keys pass. */
#define MP(s) s, sizeof(s) - 1 /* bytes of a literal, NULs included */

static void test_item_rejects(void **state)
{
    static const struct {
        const char *bytes;
        size_t n;
        int msg, record;  /* frame_decode_msg / _record results */
        const char *label;
    } cases[] = {
        { MP("\x82\xa1k\xa3req\xa3uid\xa1x"), 0, -EBADMSG, "minimal msg" },
        { MP("\x81\xa1k\xa3req"), -EBADMSG, -EBADMSG, "msg without uid" },
        { MP("\x81\xa3uid\xa1x"), -EBADMSG, -EBADMSG, "no kind" },
        { MP("\x82\xa1k\xa3get\xa3uid\xa1x"), -EBADMSG, -EBADMSG,
          "unknown kind" },
        { MP("\x81\xa4kind\xa7request"), -EBADMSG, 0, "minimal record" },
        { MP("\x82\xa4kind\xa7request\xa3idx\xa1" "1"), -EBADMSG,
          -EBADMSG, "idx as a string" },
        { MP("\x82\xa4kind\xa7request\xa4step\xfe"), -EBADMSG, -EBADMSG,
          "step below -1" },
        { MP("\x82\xa4kind\xa7request\xa3new\x01"), -EBADMSG, 0,
          "unknown key" },
    };
    frame_reader_t *r = frame_reader_new();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const msgpack_object *o;
        struct http_msg m;
        struct audit_record rec;
        assert_int_equal(frame_unpack(r, cases[i].bytes, cases[i].n, &o), 0);
        if (frame_decode_msg(r, o, &m) != cases[i].msg ||
            frame_decode_record(r, o, &rec) != cases[i].record)
            fail_msg("%s", cases[i].label);
    }
    frame_reader_destroy(&r);
}

static void test_eof_and_stats(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(frame_encode_eof(&sb, "capture", 12, 99, "end of file"),
                     0);
    frame_reader_t *r = frame_reader_new();
    struct frame f;
    assert_int_equal(frame_read(r, "eof", 3, sb.data, sb.size, &f), 0);
    assert_int_equal(f.type, FRAME_EOF);
    assert_int_equal(f.seq, 12);
    assert_int_equal(f.wm_ns, 99);
    assert_bytes(f.reason, "end of file");

    stats_t *s = stats_new("dispatch", "dispatch");
    *stats_add(s, "requests") = 17;
    assert_int_equal(frame_encode_stats(&sb, "dispatch", 0, s), 0);
    assert_int_equal(frame_read(r, "stats", 5, sb.data, sb.size, &f), 0);
    assert_non_null(f.counters);
    assert_int_equal(f.counters->via.map.size, 1);
    assert_int_equal(f.counters->via.map.ptr[0].val.via.u64, 17);
    /* A body is checked against the topic's schema. */
    assert_int_equal(frame_read(r, "pkt", 3, sb.data, sb.size, &f), -EBADMSG);
    stats_destroy(&s);
    msgpack_sbuffer_destroy(&sb);
    frame_reader_destroy(&r);
}

static void test_rejects(void **state)
{
    (void)state;
    frame_reader_t *r = frame_reader_new();
    struct frame f;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    frame_encode_eof(&sb, "x", 0, 0, "r");
    assert_int_equal(frame_read(r, "http.req", 8, sb.data, sb.size, &f),
                     -ENOMSG);
    /* Every truncation of a valid body is refused. */
    for (size_t n = 0; n < sb.size; n++)
        assert_int_equal(frame_read(r, "eof", 3, sb.data, n, &f), -EBADMSG);
    /* A trailing byte too. */
    char *longer = malloc(sb.size + 1);
    memcpy(longer, sb.data, sb.size);
    longer[sb.size] = 0;
    assert_int_equal(frame_read(r, "eof", 3, longer, sb.size + 1, &f),
                     -EBADMSG);
    free(longer);

    /* Another version. */
    msgpack_packer pk;
    msgpack_sbuffer_clear(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_uint32(&pk, FRAME_VERSION + 1);
    assert_int_equal(frame_read(r, "eof", 3, sb.data, sb.size, &f),
                     -EPROTONOSUPPORT);

    /* An array that claims 2^32-1 elements in 5 bytes, a map claiming
     * more pairs than bytes, a string longer than the body, nesting past
     * the limit, the never-used 0xc1: all refused before unpacking. */
    static const struct {
        const char *label;
        const char *bytes;
        size_t n;
    } lies[] = {
        { "array32 lie", "\xdd\xff\xff\xff\xff", 5 },
        { "map32 lie", "\xdf\x00\x01\x00\x00\xa1v\x01", 8 },
        { "str8 lie", "\x81\xa1v\xd9\xff" "abc", 8 },
        { "bin32 lie", "\x81\xa1v\xc6\x7f\xff\xff\xff", 8 },
        { "deep", "\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x01", 11 },
        { "c1", "\xc1", 1 },
        { "empty", "", 0 },
    };
    for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
        assert_true(mpcheck_size(lies[i].bytes, lies[i].n,
                                        FRAME_MAX_DEPTH) < 0);
        assert_int_equal(frame_read(r, "eof", 3, lies[i].bytes, lies[i].n,
                                    &f), -EBADMSG);
    }
    assert_int_equal(mpcheck_size("\x92\x01\xa1x", 4, 4), 4);
    msgpack_sbuffer_destroy(&sb);
    frame_reader_destroy(&r);
}

static void test_bytes_helpers(void **state)
{
    (void)state;
    assert_true(bytes_eq(bytes_of("abc"), "abc"));
    assert_false(bytes_eq(bytes_of("abc"), "abcd"));
    assert_true(bytes_case_eq(bytes_of("Host"), "host"));
    assert_true(bytes_eq(bytes_of(NULL), ""));
    assert_int_equal(frame_type_of("log", 3), FRAME_LOG);
    assert_int_equal(frame_type_of("lo", 2), -1);
    assert_string_equal(frame_topic(FRAME_STATS), "stats");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pkt_roundtrip),
        cmocka_unit_test(test_msg_roundtrip),
        cmocka_unit_test(test_pass_through),
        cmocka_unit_test(test_record_roundtrip),
        cmocka_unit_test(test_wire_keys),
        cmocka_unit_test(test_item_rejects),
        cmocka_unit_test(test_eof_and_stats),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_bytes_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
