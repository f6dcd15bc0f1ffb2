/* fuzz_frame.c - libFuzzer target for the bus codec (common/frame.c) and
 * what reads records back (common/store.c decode, common/store_query.c
 * replies, hark/record_json.c and hark/record_table.c).
 *
 * Input: 1 selector byte, then a body.
 *   selector % 8: 0 pkt, 1 msg, 2 log, 3 stats, 4 eof, 5 an unknown
 *   topic (frame_read must refuse it), 6 the body is a stored record
 *   value (store_decode), 7 the body is a query reply (store_reply_read).
 * Every item of a frame that reads is decoded with the accessor of its
 * type and, to check they refuse, with the other two. Every byte a view
 * points to is read (ASan sees a view past the body). A record that
 * decodes is rendered as JSON and as a table row, and re-encoded with
 * frame_add_record: the re-encoded frame must read back to the same
 * record (a decoder/encoder disagreement traps). Every body is also
 * unpacked by mpcheck_unpack and by msgpack-c after the walk: both must
 * accept or refuse it, and build the same tree.
 */
#include "frame.h"
#include "hash.h"
#include "mpcheck.h"
#include "mpsame.h"
#include "record_json.h"
#include "record_table.h"
#include "store.h"
#include "store_query.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static frame_reader_t *reader, *reader2;
static frame_writer_t *writer;
static store_decoder_t *decoder;
static struct json_out json;

static uint64_t mix_bytes(uint64_t h, struct bytes b)
{
    if (b.n && !b.p)
        __builtin_trap();
    return b.n ? hash_fnv1a64(h, b.p, b.n) : h;
}

static bool same(struct bytes a, struct bytes b)
{
    return a.n == b.n && (!a.n || !memcmp(a.p, b.p, a.n));
}

static volatile uint64_t sink;

/* mpcheck_unpack() against mpcheck_size() + msgpack_unpack(). */
static void unpack_both(const uint8_t *p, size_t n)
{
    static msgpack_zone za, zb;
    static bool ready;
    if (!ready && (!msgpack_zone_init(&za, 4096) ||
                   !msgpack_zone_init(&zb, 4096)))
        abort();
    ready = true;
    msgpack_object a, b;
    size_t off = 0;
    msgpack_zone_clear(&za);
    bool ok_a = mpcheck_size(p, n, FRAME_MAX_DEPTH) == (long)n &&
                msgpack_unpack((const char *)p, n, &off, &za, &a) ==
                    MSGPACK_UNPACK_SUCCESS;
    bool ok_b = mpcheck_unpack(&zb, p, n, FRAME_MAX_DEPTH, &b) == 0;
    if (ok_a != ok_b || (ok_a && !mpsame(&a, &b)))
        __builtin_trap();
}

static void touch_headers(const struct msg_header *h, uint32_t n)
{
    uint64_t d = 0;
    if (n > FRAME_MAX_HEADERS || (n && !h))
        __builtin_trap();
    for (uint32_t i = 0; i < n; i++)
        d = mix_bytes(mix_bytes(d, h[i].name), h[i].value);
    sink += d;
}

/* Encodes r again and checks the copy reads back the same. */
static void roundtrip(const struct audit_record *r)
{
    frame_writer_reset(writer);
    if (frame_add_record(writer, r) != 0)
        __builtin_trap(); /* a decoded record always has a valid kind */
    const void *body;
    size_t len;
    frame_writer_finish(writer, 1, 2, false, &body, &len);
    struct frame f;
    struct audit_record b;
    if (frame_read(reader2, "log", 3, body, len, &f) != 0 || f.n_items != 1 ||
        frame_item_record(reader2, &f, 0, &b) != 0)
        __builtin_trap();
    if (b.kind != r->kind || !same(b.uid, r->uid) || b.idx != r->idx ||
        b.ts_ns != r->ts_ns || !same(b.addr.src_ip, r->addr.src_ip) ||
        b.addr.src_port != r->addr.src_port ||
        !same(b.addr.dst_ip, r->addr.dst_ip) ||
        b.addr.dst_port != r->addr.dst_port ||
        !same(b.route.group, r->route.group) ||
        !same(b.route.path, r->route.path) ||
        !same(b.route.policy, r->route.policy) ||
        b.route.next_step != r->route.next_step || !same(b.step, r->step) ||
        !same(b.method, r->method) || !same(b.uri, r->uri) ||
        !same(b.host, r->host) || b.req_ts_ns != r->req_ts_ns ||
        !same(b.version, r->version) || !same(b.body, r->body) ||
        b.body_len != r->body_len || b.flags != r->flags ||
        b.n_headers != r->n_headers)
        __builtin_trap();
    for (uint32_t i = 0; i < b.n_headers; i++)
        if (!same(b.headers[i].name, r->headers[i].name) ||
            !same(b.headers[i].value, r->headers[i].value))
            __builtin_trap();
    if (r->kind == RECORD_RESPONSE &&
        (b.status != r->status || !same(b.reason, r->reason) ||
         !same(b.outcome, r->outcome) || b.latency_ns != r->latency_ns))
        __builtin_trap();
}

static void on_record(const struct audit_record *r, bool check_roundtrip)
{
    uint64_t d = mix_bytes(0, r->uid);
    d = mix_bytes(d, r->addr.src_ip);
    d = mix_bytes(d, r->addr.dst_ip);
    d = mix_bytes(d, r->route.group);
    d = mix_bytes(d, r->route.path);
    d = mix_bytes(d, r->route.policy);
    d = mix_bytes(d, r->step);
    d = mix_bytes(d, r->method);
    d = mix_bytes(d, r->uri);
    d = mix_bytes(d, r->host);
    d = mix_bytes(d, r->version);
    d = mix_bytes(d, r->reason);
    d = mix_bytes(d, r->body);
    d = mix_bytes(d, r->outcome);
    sink += d;
    touch_headers(r->headers, r->n_headers);
    json_out_reset(&json);
    if (record_json(&json, r) != 0 || !json.p || strlen(json.p) != json.len)
        __builtin_trap(); /* JSON text never holds a NUL */
    char row[1024];
    int n = record_table_row(row, sizeof(row), r);
    if (n < 0)
        __builtin_trap();
    if (check_roundtrip)
        roundtrip(r);
}

static void on_msg(const struct http_msg *m)
{
    uint64_t d = mix_bytes(0, m->uid);
    d = mix_bytes(d, m->addr.src_ip);
    d = mix_bytes(d, m->addr.dst_ip);
    d = mix_bytes(d, m->method);
    d = mix_bytes(d, m->uri);
    d = mix_bytes(d, m->reason);
    d = mix_bytes(d, m->version);
    d = mix_bytes(d, m->body);
    d = mix_bytes(d, m->route.group);
    d = mix_bytes(d, m->route.path);
    d = mix_bytes(d, m->route.policy);
    d = mix_bytes(d, m->event);
    d = mix_bytes(d, m->reason_text);
    sink += d;
    touch_headers(m->headers, m->n_headers);
}

static void on_frame(const struct frame *f)
{
    sink += mix_bytes(0, f->src) + mix_bytes(0, f->reason) + f->seq + f->wm_ns;
    if ((f->type == FRAME_PKT || f->type == FRAME_MSG ||
         f->type == FRAME_LOG) && f->n_items && !f->items)
        __builtin_trap();
    for (uint32_t i = 0; i < f->n_items; i++) {
        struct pkt p;
        struct http_msg m;
        struct audit_record r;
        int a = frame_item_pkt(f, i, &p);
        int b = frame_item_msg(reader, f, i, &m);
        int c = frame_item_record(reader, f, i, &r);
        /* an accessor of another type always refuses */
        if ((f->type != FRAME_PKT && a == 0) ||
            (f->type != FRAME_MSG && b == 0) ||
            (f->type != FRAME_LOG && c == 0))
            __builtin_trap();
        if (a == 0)
            sink += mix_bytes(p.ts_ns, p.data);
        if (b == 0)
            on_msg(&m);
        if (c == 0)
            on_record(&r, true);
    }
    /* past the end */
    struct pkt p;
    if (frame_item_pkt(f, f->n_items, &p) == 0)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const topics[] = { "pkt", "msg", "log", "stats",
                                          "eof", "bogus" };
    if (!reader) {
        reader = frame_reader_new();
        reader2 = frame_reader_new();
        writer = frame_writer_new(FRAME_LOG, "fuzz");
        decoder = store_decoder_new();
        json_out_init(&json);
        if (!reader || !reader2 || !writer || !decoder)
            abort();
    }
    if (size < 1)
        return 0;
    unsigned sel = data[0] % 8;
    /* The body in its own allocation, so ASan sees reads past it. */
    size_t blen = size - 1;
    uint8_t *body = malloc(blen ? blen : 1);
    if (!body)
        return 0;
    memcpy(body, data + 1, blen);
    unpack_both(body, blen);
    if (sel < 6) {
        struct frame f;
        const char *t = topics[sel];
        int rc = frame_read(reader, t, strlen(t), body, blen, &f);
        if (sel == 5 && rc == 0)
            __builtin_trap();
        if (rc == 0)
            on_frame(&f);
    } else if (sel == 6) {
        struct audit_record r;
        if (store_decode(decoder, body, blen, &r) == 0)
            on_record(&r, false);
    } else {
        uint32_t n;
        const void *next;
        size_t next_len;
        char err[128];
        if (store_reply_read(decoder, body, blen, &n, &next, &next_len, err,
                             sizeof(err)) == 0) {
            if (next)
                sink += hash_fnv1a64(0, next, next_len);
            for (uint32_t i = 0; i < n; i++) {
                struct audit_record r;
                if (store_reply_record(decoder, i, &r) == 0)
                    on_record(&r, false);
            }
        }
    }
    free(body);
    return 0;
}
