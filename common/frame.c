/* frame.c - MessagePack codec for the bus schema in frame.h.
 *
 * Batch frames are written in place: the header goes first with
 * fixed-width placeholders for seq, watermark, live flag and item count,
 * items are packed behind it, and finish() patches the placeholders. No
 * copy of the items is made. Reading validates the whole body with a
 * cursor walk before msgpack-c builds objects, because msgpack-c sizes
 * arrays from the claimed count before reading their elements.
 */
#include "frame.h"
#include "cursor.h"
#include "stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *const msg_flag_names[MSG_FLAG_COUNT] = {
    "chunked", "truncated", "incomplete", "gap", "close_delimited",
    "upgrade", "malformed", "midstream", "headers_truncated",
};

static const char *const topics[FRAME_TYPE_COUNT] = {
    "pkt", "msg", "log", "stats", "eof",
};

/* Name of the items array in each batch frame type. */
static const char *const item_keys[FRAME_TYPE_COUNT] = {
    "pkts", "msgs", "records", NULL, NULL,
};

struct bytes bytes_of(const char *s)
{
    struct bytes b = { s, s ? (uint32_t)strlen(s) : 0 };
    return b;
}

bool bytes_eq(struct bytes a, const char *s)
{
    size_t n = strlen(s);
    return a.n == n && (n == 0 || memcmp(a.p, s, n) == 0);
}

bool bytes_case_eq(struct bytes a, const char *s)
{
    size_t n = strlen(s);
    return a.n == n && (n == 0 || strncasecmp(a.p, s, n) == 0);
}

const char *frame_topic(enum frame_type t)
{
    return (unsigned)t < FRAME_TYPE_COUNT ? topics[t] : "?";
}

int frame_type_of(const void *topic, size_t len)
{
    for (int t = 0; t < FRAME_TYPE_COUNT; t++)
        if (strlen(topics[t]) == len && !memcmp(topics[t], topic, len))
            return t;
    return -1;
}

/* ---- writer ---------------------------------------------------------- */

struct frame_writer {
    enum frame_type type;
    char src[64];
    int link;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    uint32_t items;
    size_t off_seq, off_wm, off_live, off_link, off_count;
};

static void pack_key(msgpack_packer *pk, const char *k)
{
    msgpack_pack_str_with_body(pk, k, strlen(k));
}

static void pack_bytes_str(msgpack_packer *pk, struct bytes b)
{
    msgpack_pack_str_with_body(pk, b.p ? b.p : "", b.n);
}

static void pack_bytes_bin(msgpack_packer *pk, struct bytes b)
{
    msgpack_pack_bin_with_body(pk, b.p ? b.p : "", b.n);
}

static void put_be(char *dst, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        dst[i] = (char)(v & 0xff);
        v >>= 8;
    }
}

/* Writes a fixed-width uint64 (0xcf) and returns its payload offset. */
static size_t reserve_u64(frame_writer_t *w)
{
    char b[9] = { (char)0xcf };
    msgpack_sbuffer_write(&w->sb, b, sizeof(b));
    return w->sb.size - 8;
}

static void writer_begin(frame_writer_t *w)
{
    msgpack_sbuffer_clear(&w->sb);
    w->items = 0;
    msgpack_pack_map(&w->pk, w->type == FRAME_PKT ? 7 : 6);
    pack_key(&w->pk, "v");
    msgpack_pack_uint32(&w->pk, FRAME_VERSION);
    pack_key(&w->pk, "src");
    msgpack_pack_str_with_body(&w->pk, w->src, strlen(w->src));
    pack_key(&w->pk, "seq");
    w->off_seq = reserve_u64(w);
    pack_key(&w->pk, "wm");
    w->off_wm = reserve_u64(w);
    pack_key(&w->pk, "live");
    w->off_live = w->sb.size;
    msgpack_pack_false(&w->pk);
    if (w->type == FRAME_PKT) {
        pack_key(&w->pk, "link");
        char b[5] = { (char)0xce };
        put_be(b + 1, (uint64_t)(uint32_t)w->link, 4);
        msgpack_sbuffer_write(&w->sb, b, sizeof(b));
        w->off_link = w->sb.size - 4;
    }
    pack_key(&w->pk, item_keys[w->type]);
    char a[5] = { (char)0xdd };
    msgpack_sbuffer_write(&w->sb, a, sizeof(a));
    w->off_count = w->sb.size - 4;
}

frame_writer_t *frame_writer_new(enum frame_type type, const char *src)
{
    if (type != FRAME_PKT && type != FRAME_MSG && type != FRAME_LOG)
        return NULL;
    frame_writer_t *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->type = type;
    snprintf(w->src, sizeof(w->src), "%s", src);
    msgpack_sbuffer_init(&w->sb);
    msgpack_packer_init(&w->pk, &w->sb, msgpack_sbuffer_write);
    writer_begin(w);
    if (!w->sb.data) {
        frame_writer_destroy(&w);
        return NULL;
    }
    return w;
}

void frame_writer_destroy(frame_writer_t **w)
{
    if (!w || !*w)
        return;
    msgpack_sbuffer_destroy(&(*w)->sb);
    free(*w);
    *w = NULL;
}

enum frame_type frame_writer_type(const frame_writer_t *w) { return w->type; }
uint32_t frame_writer_items(const frame_writer_t *w) { return w->items; }
size_t frame_writer_bytes(const frame_writer_t *w) { return w->sb.size; }

bool frame_writer_full(const frame_writer_t *w)
{
    return w->items >= FRAME_BATCH_ITEMS || w->sb.size >= FRAME_BATCH_BYTES;
}

void frame_writer_set_link(frame_writer_t *w, int link)
{
    w->link = link;
    if (w->type == FRAME_PKT)
        put_be(w->sb.data + w->off_link, (uint64_t)(uint32_t)link, 4);
}

void frame_writer_finish(frame_writer_t *w, uint64_t seq, uint64_t wm_ns,
                         bool live, const void **body, size_t *len)
{
    put_be(w->sb.data + w->off_seq, seq, 8);
    put_be(w->sb.data + w->off_wm, wm_ns, 8);
    w->sb.data[w->off_live] = live ? (char)0xc3 : (char)0xc2;
    put_be(w->sb.data + w->off_count, w->items, 4);
    *body = w->sb.data;
    *len = w->sb.size;
}

void frame_writer_reset(frame_writer_t *w)
{
    writer_begin(w);
}

int frame_add_pkt(frame_writer_t *w, uint64_t ts_ns, uint32_t wirelen,
                  const void *data, uint32_t caplen)
{
    if (w->type != FRAME_PKT)
        return -EINVAL;
    msgpack_pack_array(&w->pk, 3);
    msgpack_pack_uint64(&w->pk, ts_ns);
    msgpack_pack_uint32(&w->pk, wirelen);
    msgpack_pack_bin_with_body(&w->pk, data, caplen);
    w->items++;
    return 0;
}

void frame_pack_flags(msgpack_packer *pk, uint32_t flags)
{
    unsigned n = 0;
    for (unsigned i = 0; i < MSG_FLAG_COUNT; i++)
        if (flags & (1u << i))
            n++;
    msgpack_pack_array(pk, n);
    for (unsigned i = 0; i < MSG_FLAG_COUNT; i++)
        if (flags & (1u << i))
            pack_key(pk, msg_flag_names[i]);
}

static void pack_headers(msgpack_packer *pk, const struct msg_header *h,
                         uint32_t n)
{
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++) {
        msgpack_pack_array(pk, 2);
        pack_bytes_str(pk, h[i].name);
        pack_bytes_str(pk, h[i].value);
    }
}

static void pack_addr(msgpack_packer *pk, const struct conn_addr *a)
{
    pack_key(pk, "src_ip");
    pack_bytes_str(pk, a->src_ip);
    pack_key(pk, "src_port");
    msgpack_pack_uint16(pk, a->src_port);
    pack_key(pk, "dst_ip");
    pack_bytes_str(pk, a->dst_ip);
    pack_key(pk, "dst_port");
    msgpack_pack_uint16(pk, a->dst_port);
}

static void pack_route(msgpack_packer *pk, const struct msg_route *r)
{
    pack_key(pk, "group");
    pack_bytes_str(pk, r->group);
    pack_key(pk, "route");
    pack_bytes_str(pk, r->path);
    pack_key(pk, "policy");
    pack_bytes_str(pk, r->policy);
    pack_key(pk, "step");
    msgpack_pack_int32(pk, r->next_step);
}

static void pack_body(msgpack_packer *pk, const struct msg_header *h,
                      uint32_t nh, struct bytes body, uint64_t body_len,
                      uint32_t flags)
{
    pack_key(pk, "headers");
    pack_headers(pk, h, nh);
    pack_key(pk, "body");
    pack_bytes_bin(pk, body);
    pack_key(pk, "body_len");
    msgpack_pack_uint64(pk, body_len);
    pack_key(pk, "flags");
    frame_pack_flags(pk, flags);
}

int frame_add_msg(frame_writer_t *w, const struct http_msg *m)
{
    if (w->type != FRAME_MSG)
        return -EINVAL;
    msgpack_packer *pk = &w->pk;
    uint32_t n = 9;
    switch (m->kind) {
    case MSG_REQ: n += 7 + (m->routed ? 4 : 0); break;
    case MSG_RESP: n += 7; break;
    case MSG_CONN: n += 7; break;
    default: return -EINVAL;
    }
    msgpack_pack_map(pk, n);
    pack_key(pk, "k");
    pack_key(pk, m->kind == MSG_REQ ? "req" : m->kind == MSG_RESP ? "resp"
                                                                  : "conn");
    pack_key(pk, "uid");
    pack_bytes_str(pk, m->uid);
    pack_key(pk, "idx");
    msgpack_pack_uint32(pk, m->idx);
    pack_key(pk, "ts");
    msgpack_pack_uint64(pk, m->ts_ns);
    pack_key(pk, "te");
    msgpack_pack_uint64(pk, m->ts_end_ns);
    pack_addr(pk, &m->addr);
    if (m->kind == MSG_REQ) {
        pack_key(pk, "method");
        pack_bytes_str(pk, m->method);
        pack_key(pk, "uri");
        pack_bytes_str(pk, m->uri);
        pack_key(pk, "version");
        pack_bytes_str(pk, m->version);
        pack_body(pk, m->headers, m->n_headers, m->body, m->body_len,
                  m->flags);
        if (m->routed)
            pack_route(pk, &m->route);
    } else if (m->kind == MSG_RESP) {
        pack_key(pk, "status");
        msgpack_pack_uint32(pk, m->status);
        pack_key(pk, "reason");
        pack_bytes_str(pk, m->reason);
        pack_key(pk, "version");
        pack_bytes_str(pk, m->version);
        pack_body(pk, m->headers, m->n_headers, m->body, m->body_len,
                  m->flags);
    } else {
        pack_key(pk, "event");
        pack_bytes_str(pk, m->event);
        pack_key(pk, "reason");
        pack_bytes_str(pk, m->reason_text);
        pack_key(pk, "pkts");
        msgpack_pack_array(pk, 2);
        msgpack_pack_uint64(pk, m->pkts[0]);
        msgpack_pack_uint64(pk, m->pkts[1]);
        pack_key(pk, "bytes");
        msgpack_pack_array(pk, 2);
        msgpack_pack_uint64(pk, m->bytes_seen[0]);
        msgpack_pack_uint64(pk, m->bytes_seen[1]);
        pack_key(pk, "gaps");
        msgpack_pack_uint32(pk, m->gaps);
        pack_key(pk, "requests");
        msgpack_pack_uint32(pk, m->requests);
        pack_key(pk, "responses");
        msgpack_pack_uint32(pk, m->responses);
    }
    w->items++;
    return 0;
}

int frame_add_record(frame_writer_t *w, const struct audit_record *r)
{
    if (w->type != FRAME_LOG)
        return -EINVAL;
    if (r->kind != RECORD_REQUEST && r->kind != RECORD_RESPONSE)
        return -EINVAL;
    bool resp = r->kind == RECORD_RESPONSE;
    msgpack_packer *pk = &w->pk;
    msgpack_pack_map(pk, 22 + (resp ? 4 : 0));
    pack_key(pk, "kind");
    pack_key(pk, resp ? "response" : "request");
    pack_key(pk, "uid");
    pack_bytes_str(pk, r->uid);
    pack_key(pk, "idx");
    msgpack_pack_uint32(pk, r->idx);
    pack_key(pk, "ts");
    msgpack_pack_uint64(pk, r->ts_ns);
    pack_addr(pk, &r->addr);
    pack_route(pk, &r->route);
    pack_key(pk, "step_label");
    pack_bytes_str(pk, r->step);
    pack_key(pk, "method");
    pack_bytes_str(pk, r->method);
    pack_key(pk, "uri");
    pack_bytes_str(pk, r->uri);
    pack_key(pk, "host");
    pack_bytes_str(pk, r->host);
    pack_key(pk, "req_ts");
    msgpack_pack_uint64(pk, r->req_ts_ns);
    pack_key(pk, "version");
    pack_bytes_str(pk, r->version);
    pack_body(pk, r->headers, r->n_headers, r->body, r->body_len, r->flags);
    if (resp) {
        pack_key(pk, "status");
        msgpack_pack_uint32(pk, r->status);
        pack_key(pk, "reason");
        pack_bytes_str(pk, r->reason);
        pack_key(pk, "outcome");
        pack_bytes_str(pk, r->outcome);
        pack_key(pk, "latency_ns");
        msgpack_pack_uint64(pk, r->latency_ns);
    }
    w->items++;
    return 0;
}

int frame_add_object(frame_writer_t *w, const msgpack_object *item)
{
    if (msgpack_pack_object(&w->pk, *item) != 0)
        return -ENOMEM;
    w->items++;
    return 0;
}

static void pack_head(msgpack_packer *pk, const char *src, uint64_t seq,
                      uint64_t wm_ns)
{
    pack_key(pk, "v");
    msgpack_pack_uint32(pk, FRAME_VERSION);
    pack_key(pk, "src");
    pack_key(pk, src);
    pack_key(pk, "seq");
    msgpack_pack_uint64(pk, seq);
    pack_key(pk, "wm");
    msgpack_pack_uint64(pk, wm_ns);
}

int frame_encode_eof(msgpack_sbuffer *sb, const char *src, uint64_t seq,
                     uint64_t wm_ns, const char *reason)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    pack_head(&pk, src, seq, wm_ns);
    pack_key(&pk, "reason");
    pack_key(&pk, reason);
    return sb->data ? 0 : -ENOMEM;
}

int frame_encode_stats(msgpack_sbuffer *sb, const char *src, uint64_t seq,
                       const struct stats *s)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    pack_head(&pk, src, seq, 0);
    pack_key(&pk, "stage");
    pack_key(&pk, stats_stage(s));
    pack_key(&pk, "counters");
    msgpack_pack_map(&pk, stats_count(s));
    for (unsigned i = 0; i < stats_count(s); i++) {
        pack_key(&pk, stats_name(s, i));
        msgpack_pack_uint64(&pk, stats_value(s, i));
    }
    return sb->data ? 0 : -ENOMEM;
}

/* ---- validation ------------------------------------------------------ */

static bool mp_walk(cursor_t *c, int depth);

static bool mp_skip_n(cursor_t *c, uint64_t n)
{
    return n <= cur_left(c) && cur_skip(c, (size_t)n);
}

static bool mp_walk_items(cursor_t *c, uint64_t count, int depth)
{
    /* Every element takes at least one byte: a count beyond what is left
     * is a lie, whatever the elements are. */
    if (count > cur_left(c))
        return false;
    for (uint64_t i = 0; i < count; i++)
        if (!mp_walk(c, depth))
            return false;
    return true;
}

static bool mp_len(cursor_t *c, int width, uint64_t *n)
{
    uint8_t b8;
    uint16_t b16;
    uint32_t b32;
    switch (width) {
    case 1: if (!cur_u8(c, &b8)) return false; *n = b8; return true;
    case 2: if (!cur_be16(c, &b16)) return false; *n = b16; return true;
    default: if (!cur_be32(c, &b32)) return false; *n = b32; return true;
    }
}

static bool mp_walk(cursor_t *c, int depth)
{
    uint8_t t;
    uint64_t n;
    if (depth <= 0 || !cur_u8(c, &t))
        return false;
    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3)
        return true;
    if (t >= 0x80 && t <= 0x8f)
        return mp_walk_items(c, (uint64_t)(t & 0x0f) * 2, depth - 1);
    if (t >= 0x90 && t <= 0x9f)
        return mp_walk_items(c, t & 0x0f, depth - 1);
    if (t >= 0xa0 && t <= 0xbf)
        return mp_skip_n(c, t & 0x1f);
    switch (t) {
    case 0xc4: case 0xd9: return mp_len(c, 1, &n) && mp_skip_n(c, n);
    case 0xc5: case 0xda: return mp_len(c, 2, &n) && mp_skip_n(c, n);
    case 0xc6: case 0xdb: return mp_len(c, 4, &n) && mp_skip_n(c, n);
    case 0xc7: return mp_len(c, 1, &n) && mp_skip_n(c, n + 1);
    case 0xc8: return mp_len(c, 2, &n) && mp_skip_n(c, n + 1);
    case 0xc9: return mp_len(c, 4, &n) && mp_skip_n(c, n + 1);
    case 0xca: case 0xce: case 0xd2: return cur_skip(c, 4);
    case 0xcb: case 0xcf: case 0xd3: return cur_skip(c, 8);
    case 0xcc: case 0xd0: return cur_skip(c, 1);
    case 0xcd: case 0xd1: return cur_skip(c, 2);
    case 0xd4: return cur_skip(c, 2);
    case 0xd5: return cur_skip(c, 3);
    case 0xd6: return cur_skip(c, 5);
    case 0xd7: return cur_skip(c, 9);
    case 0xd8: return cur_skip(c, 17);
    case 0xdc: return mp_len(c, 2, &n) && mp_walk_items(c, n, depth - 1);
    case 0xdd: return mp_len(c, 4, &n) && mp_walk_items(c, n, depth - 1);
    case 0xde: return mp_len(c, 2, &n) && mp_walk_items(c, n * 2, depth - 1);
    case 0xdf: return mp_len(c, 4, &n) && mp_walk_items(c, n * 2, depth - 1);
    default: return false; /* 0xc1 is never used */
    }
}

long frame_msgpack_check(const void *p, size_t n, int max_depth)
{
    cursor_t c = cur_make(p, n);
    if (!mp_walk(&c, max_depth))
        return -1;
    return (long)(n - cur_left(&c));
}

/* ---- reader ---------------------------------------------------------- */

struct frame_reader {
    msgpack_zone zone;
    struct msg_header headers[FRAME_MAX_HEADERS];
};

frame_reader_t *frame_reader_new(void)
{
    frame_reader_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    if (!msgpack_zone_init(&r->zone, 64 * 1024)) {
        free(r);
        return NULL;
    }
    return r;
}

void frame_reader_destroy(frame_reader_t **r)
{
    if (!r || !*r)
        return;
    msgpack_zone_destroy(&(*r)->zone);
    free(*r);
    *r = NULL;
}

static bool obj_key(const msgpack_object *k, const char *s)
{
    size_t n = strlen(s);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
           !memcmp(k->via.str.ptr, s, n);
}

static bool obj_uint(const msgpack_object *o, uint64_t *v)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *v = o->via.u64;
    return true;
}

static bool obj_int(const msgpack_object *o, int64_t *v)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > INT64_MAX)
            return false;
        *v = (int64_t)o->via.u64;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *v = o->via.i64;
        return true;
    }
    return false;
}

static bool obj_bytes(const msgpack_object *o, struct bytes *b)
{
    if (o->type == MSGPACK_OBJECT_STR) {
        b->p = o->via.str.ptr;
        b->n = o->via.str.size;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_BIN) {
        b->p = o->via.bin.ptr;
        b->n = o->via.bin.size;
        return true;
    }
    return false;
}

static bool obj_u32(const msgpack_object *o, uint32_t *v)
{
    uint64_t u;
    if (!obj_uint(o, &u) || u > UINT32_MAX)
        return false;
    *v = (uint32_t)u;
    return true;
}

static bool obj_u16(const msgpack_object *o, uint16_t *v)
{
    uint64_t u;
    if (!obj_uint(o, &u) || u > UINT16_MAX)
        return false;
    *v = (uint16_t)u;
    return true;
}

int frame_unpack(frame_reader_t *r, const void *data, size_t len,
                 const msgpack_object **out)
{
    if (len > FRAME_MAX_BYTES)
        return -EBADMSG;
    long used = frame_msgpack_check(data, len, FRAME_MAX_DEPTH);
    if (used < 0 || (size_t)used != len)
        return -EBADMSG;
    msgpack_zone_clear(&r->zone);
    msgpack_object *obj = msgpack_zone_malloc(&r->zone, sizeof(*obj));
    if (!obj)
        return -ENOMEM;
    size_t off = 0;
    if (msgpack_unpack(data, len, &off, &r->zone, obj) !=
        MSGPACK_UNPACK_SUCCESS)
        return -EBADMSG;
    *out = obj;
    return 0;
}

int frame_read(frame_reader_t *r, const void *topic, size_t tlen,
               const void *body, size_t blen, struct frame *f)
{
    memset(f, 0, sizeof(*f));
    int type = frame_type_of(topic, tlen);
    if (type < 0)
        return -ENOMSG;
    if (blen > FRAME_MAX_BYTES)
        return -EBADMSG;
    long used = frame_msgpack_check(body, blen, FRAME_MAX_DEPTH);
    if (used < 0 || (size_t)used != blen)
        return -EBADMSG;
    msgpack_zone_clear(&r->zone);
    msgpack_object root;
    size_t off = 0;
    if (msgpack_unpack(body, blen, &off, &r->zone, &root) !=
            MSGPACK_UNPACK_SUCCESS ||
        root.type != MSGPACK_OBJECT_MAP)
        return -EBADMSG;
    /* The zone keeps `root` only by value here; hold it in the frame. */
    msgpack_object *keep = msgpack_zone_malloc(&r->zone, sizeof(root));
    if (!keep)
        return -ENOMEM;
    *keep = root;
    f->root = keep;
    f->type = (enum frame_type)type;
    bool have_v = false, have_items = false;
    const msgpack_object_map *m = &root.via.map;
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key, *v = &m->ptr[i].val;
        uint64_t u;
        if (obj_key(k, "v")) {
            if (!obj_uint(v, &u))
                return -EBADMSG;
            if (u != FRAME_VERSION)
                return -EPROTONOSUPPORT;
            f->version = (uint32_t)u;
            have_v = true;
        } else if (obj_key(k, "src")) {
            if (!obj_bytes(v, &f->src))
                return -EBADMSG;
        } else if (obj_key(k, "seq")) {
            if (!obj_uint(v, &f->seq))
                return -EBADMSG;
        } else if (obj_key(k, "wm")) {
            if (!obj_uint(v, &f->wm_ns))
                return -EBADMSG;
        } else if (obj_key(k, "live")) {
            if (v->type != MSGPACK_OBJECT_BOOLEAN)
                return -EBADMSG;
            f->live = v->via.boolean;
        } else if (obj_key(k, "link")) {
            if (!obj_uint(v, &u) || u > INT32_MAX)
                return -EBADMSG;
            f->link = (int)u;
        } else if (obj_key(k, "reason")) {
            if (!obj_bytes(v, &f->reason))
                return -EBADMSG;
        } else if (obj_key(k, "counters")) {
            if (v->type != MSGPACK_OBJECT_MAP)
                return -EBADMSG;
            f->counters = v;
        } else if (item_keys[type] && obj_key(k, item_keys[type])) {
            if (v->type != MSGPACK_OBJECT_ARRAY)
                return -EBADMSG;
            f->items = v->via.array.ptr;
            f->n_items = v->via.array.size;
            have_items = true;
        }
    }
    if (!have_v || (item_keys[type] && !have_items))
        return -EBADMSG;
    if (type == FRAME_STATS && !f->counters)
        return -EBADMSG;
    return 0;
}

int frame_item_pkt(const struct frame *f, uint32_t i, struct pkt *out)
{
    if (f->type != FRAME_PKT || i >= f->n_items)
        return -EBADMSG;
    const msgpack_object *o = &f->items[i];
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 3)
        return -EBADMSG;
    const msgpack_object *a = o->via.array.ptr;
    if (!obj_uint(&a[0], &out->ts_ns) || !obj_u32(&a[1], &out->wirelen) ||
        a[2].type != MSGPACK_OBJECT_BIN)
        return -EBADMSG;
    out->data.p = a[2].via.bin.ptr;
    out->data.n = a[2].via.bin.size;
    return 0;
}

static bool read_headers(frame_reader_t *r, const msgpack_object *v,
                         const struct msg_header **out, uint32_t *n,
                         uint32_t *flags)
{
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return false;
    uint32_t count = v->via.array.size;
    if (count > FRAME_MAX_HEADERS) {
        count = FRAME_MAX_HEADERS;
        *flags |= MSG_F_HEADERS_TRUNCATED;
    }
    for (uint32_t i = 0; i < count; i++) {
        const msgpack_object *h = &v->via.array.ptr[i];
        if (h->type != MSGPACK_OBJECT_ARRAY || h->via.array.size != 2 ||
            !obj_bytes(&h->via.array.ptr[0], &r->headers[i].name) ||
            !obj_bytes(&h->via.array.ptr[1], &r->headers[i].value))
            return false;
    }
    *out = r->headers;
    *n = count;
    return true;
}

static bool read_flags(const msgpack_object *v, uint32_t *flags)
{
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return false;
    for (uint32_t i = 0; i < v->via.array.size; i++) {
        struct bytes b;
        if (!obj_bytes(&v->via.array.ptr[i], &b))
            return false;
        /* Unknown names come from newer producers: ignore them. */
        for (unsigned j = 0; j < MSG_FLAG_COUNT; j++)
            if (bytes_eq(b, msg_flag_names[j]))
                *flags |= 1u << j;
    }
    return true;
}

static bool read_pair(const msgpack_object *v, uint64_t out[2])
{
    if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size != 2)
        return false;
    return obj_uint(&v->via.array.ptr[0], &out[0]) &&
           obj_uint(&v->via.array.ptr[1], &out[1]);
}

/* Fields shared by messages and records; returns -1 when the key is not
 * one of them, 0 when read, 1 when malformed. */
static int read_common(frame_reader_t *r, const msgpack_object *k,
                       const msgpack_object *v, struct conn_addr *a,
                       struct msg_route *route, bool *routed,
                       const struct msg_header **hdrs, uint32_t *nh,
                       struct bytes *body, uint64_t *body_len,
                       uint32_t *flags)
{
    int64_t step;
    bool ok;
    if (obj_key(k, "src_ip"))
        ok = obj_bytes(v, &a->src_ip);
    else if (obj_key(k, "src_port"))
        ok = obj_u16(v, &a->src_port);
    else if (obj_key(k, "dst_ip"))
        ok = obj_bytes(v, &a->dst_ip);
    else if (obj_key(k, "dst_port"))
        ok = obj_u16(v, &a->dst_port);
    else if (obj_key(k, "group"))
        ok = obj_bytes(v, &route->group) && (*routed = true);
    else if (obj_key(k, "route"))
        ok = obj_bytes(v, &route->path);
    else if (obj_key(k, "policy"))
        ok = obj_bytes(v, &route->policy);
    else if (obj_key(k, "step"))
        ok = obj_int(v, &step) && step >= -1 && step <= INT32_MAX &&
             ((route->next_step = (int32_t)step), true);
    else if (obj_key(k, "headers"))
        ok = read_headers(r, v, hdrs, nh, flags);
    else if (obj_key(k, "body"))
        ok = obj_bytes(v, body);
    else if (obj_key(k, "body_len"))
        ok = obj_uint(v, body_len);
    else if (obj_key(k, "flags"))
        ok = read_flags(v, flags);
    else
        return -1;
    return ok ? 0 : 1;
}

int frame_item_msg(frame_reader_t *r, const struct frame *f, uint32_t i,
                   struct http_msg *out)
{
    if (f->type != FRAME_MSG || i >= f->n_items)
        return -EBADMSG;
    return frame_decode_msg(r, &f->items[i], out);
}

int frame_decode_msg(frame_reader_t *r, const msgpack_object *o,
                     struct http_msg *out)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return -EBADMSG;
    memset(out, 0, sizeof(*out));
    out->route.next_step = -1;
    bool have_kind = false, have_uid = false;
    for (uint32_t j = 0; j < o->via.map.size; j++) {
        const msgpack_object *k = &o->via.map.ptr[j].key;
        const msgpack_object *v = &o->via.map.ptr[j].val;
        int c = read_common(r, k, v, &out->addr, &out->route, &out->routed,
                            &out->headers, &out->n_headers, &out->body,
                            &out->body_len, &out->flags);
        if (c == 1)
            return -EBADMSG;
        if (c == 0)
            continue;
        bool ok = true;
        uint64_t pair[2] = { 0, 0 };
        if (obj_key(k, "k")) {
            struct bytes b;
            ok = obj_bytes(v, &b);
            if (ok && bytes_eq(b, "req"))
                out->kind = MSG_REQ;
            else if (ok && bytes_eq(b, "resp"))
                out->kind = MSG_RESP;
            else if (ok && bytes_eq(b, "conn"))
                out->kind = MSG_CONN;
            else
                ok = false;
            have_kind = ok;
        } else if (obj_key(k, "uid")) {
            ok = obj_bytes(v, &out->uid);
            have_uid = ok;
        } else if (obj_key(k, "idx")) {
            ok = obj_u32(v, &out->idx);
        } else if (obj_key(k, "ts")) {
            ok = obj_uint(v, &out->ts_ns);
        } else if (obj_key(k, "te")) {
            ok = obj_uint(v, &out->ts_end_ns);
        } else if (obj_key(k, "method")) {
            ok = obj_bytes(v, &out->method);
        } else if (obj_key(k, "uri")) {
            ok = obj_bytes(v, &out->uri);
        } else if (obj_key(k, "version")) {
            ok = obj_bytes(v, &out->version);
        } else if (obj_key(k, "status")) {
            ok = obj_u32(v, &out->status);
        } else if (obj_key(k, "reason")) {
            /* "reason" is the status text of a response and the close
             * reason of a connection event. */
            ok = obj_bytes(v, &out->reason);
            out->reason_text = out->reason;
        } else if (obj_key(k, "event")) {
            ok = obj_bytes(v, &out->event);
        } else if (obj_key(k, "pkts")) {
            ok = read_pair(v, out->pkts);
        } else if (obj_key(k, "bytes")) {
            ok = read_pair(v, pair);
            out->bytes_seen[0] = pair[0];
            out->bytes_seen[1] = pair[1];
        } else if (obj_key(k, "gaps")) {
            ok = obj_u32(v, &out->gaps);
        } else if (obj_key(k, "requests")) {
            ok = obj_u32(v, &out->requests);
        } else if (obj_key(k, "responses")) {
            ok = obj_u32(v, &out->responses);
        }
        if (!ok)
            return -EBADMSG;
    }
    return have_kind && have_uid ? 0 : -EBADMSG;
}

int frame_item_record(frame_reader_t *r, const struct frame *f, uint32_t i,
                      struct audit_record *out)
{
    if (f->type != FRAME_LOG || i >= f->n_items)
        return -EBADMSG;
    return frame_decode_record(r, &f->items[i], out);
}

int frame_decode_record(frame_reader_t *r, const msgpack_object *o,
                        struct audit_record *out)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return -EBADMSG;
    memset(out, 0, sizeof(*out));
    out->route.next_step = -1;
    bool routed = false, have_kind = false;
    for (uint32_t j = 0; j < o->via.map.size; j++) {
        const msgpack_object *k = &o->via.map.ptr[j].key;
        const msgpack_object *v = &o->via.map.ptr[j].val;
        int c = read_common(r, k, v, &out->addr, &out->route, &routed,
                            &out->headers, &out->n_headers, &out->body,
                            &out->body_len, &out->flags);
        if (c == 1)
            return -EBADMSG;
        if (c == 0)
            continue;
        bool ok = true;
        if (obj_key(k, "kind")) {
            struct bytes b;
            ok = obj_bytes(v, &b);
            if (ok && bytes_eq(b, "request"))
                out->kind = RECORD_REQUEST;
            else if (ok && bytes_eq(b, "response"))
                out->kind = RECORD_RESPONSE;
            else
                ok = false;
            have_kind = ok;
        } else if (obj_key(k, "uid")) {
            ok = obj_bytes(v, &out->uid);
        } else if (obj_key(k, "idx")) {
            ok = obj_u32(v, &out->idx);
        } else if (obj_key(k, "ts")) {
            ok = obj_uint(v, &out->ts_ns);
        } else if (obj_key(k, "step_label")) {
            ok = obj_bytes(v, &out->step);
        } else if (obj_key(k, "method")) {
            ok = obj_bytes(v, &out->method);
        } else if (obj_key(k, "uri")) {
            ok = obj_bytes(v, &out->uri);
        } else if (obj_key(k, "host")) {
            ok = obj_bytes(v, &out->host);
        } else if (obj_key(k, "req_ts")) {
            ok = obj_uint(v, &out->req_ts_ns);
        } else if (obj_key(k, "version")) {
            ok = obj_bytes(v, &out->version);
        } else if (obj_key(k, "status")) {
            ok = obj_u32(v, &out->status);
        } else if (obj_key(k, "reason")) {
            ok = obj_bytes(v, &out->reason);
        } else if (obj_key(k, "outcome")) {
            ok = obj_bytes(v, &out->outcome);
        } else if (obj_key(k, "latency_ns")) {
            ok = obj_uint(v, &out->latency_ns);
        }
        if (!ok)
            return -EBADMSG;
    }
    return have_kind ? 0 : -EBADMSG;
}
