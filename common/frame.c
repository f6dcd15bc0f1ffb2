/* frame.c - MessagePack codec for the bus schema in frame.h.
 *
 * Batch frames are written in place: the header goes first with
 * fixed-width placeholders for seq, watermark, live flag and item count,
 * items are packed behind it, and finish() patches the placeholders. No
 * copy of the items is made. Reading validates the whole body
 * (mpcheck.h) before msgpack-c builds objects.
 *
 * Messages and records are described once, by a table of their fields
 * (msg_fields, record_fields): the writer packs the rows that apply to
 * an item's kind, in table order, and the reader decodes any row by its
 * key. Adding a field is adding a row; map counts follow (mpout.h).
 */
#include "frame.h"
#include "mpcheck.h"
#include "mpobj.h"
#include "mpout.h"
#include "stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *const msg_flag_names[MSG_FLAG_COUNT] = {
    "chunked", "truncated", "incomplete", "gap", "close_delimited",
    "upgrade", "malformed", "midstream", "headers_truncated",
    "overlap_conflict", "uncertain_pairing", "early_response",
    "ambiguous_path",
};

static const char *const topics[FRAME_TYPE_COUNT] = {
    "pkt", "msg", "log", "stats", "eof", "ack",
};

/* Name of the items array in each batch frame type. */
static const char *const item_keys[FRAME_TYPE_COUNT] = {
    "pkts", "msgs", "records", NULL, NULL, NULL,
};

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

/* ---- item schemas --------------------------------------------------- */

/* How a field is held in its struct and written on the wire. */
enum field_type {
    FT_STR,     /* struct bytes, as str */
    FT_BIN,     /* struct bytes, as bin */
    FT_U16,     /* uint16_t */
    FT_U32,     /* uint32_t */
    FT_U64,     /* uint64_t */
    FT_STEP,    /* int32_t policy step: -1 (none) to INT32_MAX */
    FT_PAIR,    /* uint64_t[2], as a 2-array */
    FT_HEADERS, /* const struct msg_header *; aux: its uint32_t count */
    FT_FLAGS,   /* uint32_t of enum msg_flag, as an array of names */
    FT_GROUP,   /* FT_STR that marks a message routed; aux: the bool */
    FT_COUNTS,  /* const struct record_count *; aux: its uint32_t count */
};

/* Which items carry a field: the bit of the item's kind (MSG_* or
 * RECORD_*: 1 request, 2 response, 3 connection event or outage), and
 * ON_ROUTED for a request that dispatch routed. */
#define ON_REQ 1u
#define ON_RESP 2u
#define ON_CONN 4u
#define ON_OUTAGE ON_CONN
#define ON_ROUTED 8u
#define ON_ALL (ON_REQ | ON_RESP | ON_CONN)
#define ON_HTTP (ON_REQ | ON_RESP)

#define F_REQUIRED 1u  /* an item without it is malformed */
#define F_PACK_ONLY 2u /* a second member written under an existing key */

struct field {
    const char *key;
    uint8_t key_len;
    uint8_t type;   /* enum field_type */
    uint8_t on;     /* ON_* */
    uint8_t flags;  /* F_* */
    uint16_t off;   /* of the member in the item struct */
    uint16_t aux;   /* of the second member (FT_HEADERS, FT_GROUP) */
};

#define FIELD(T, k, t, on, m, f, a) \
    { k, sizeof(k) - 1, t, on, f, offsetof(T, m), offsetof(T, a) }
#define MSG_FIELD(k, t, on, m) FIELD(struct http_msg, k, t, on, m, 0, m)
#define RECORD_FIELD(k, t, on, m) FIELD(struct audit_record, k, t, on, m, 0, m)

/* The parts messages and records share: the connection's addresses, and
 * the logged message's headers and body. */
#define ADDR_FIELDS(T, on)                                              \
    FIELD(T, "src_ip", FT_STR, on, addr.src_ip, 0, addr),               \
    FIELD(T, "src_port", FT_U16, on, addr.src_port, 0, addr),           \
    FIELD(T, "dst_ip", FT_STR, on, addr.dst_ip, 0, addr),               \
    FIELD(T, "dst_port", FT_U16, on, addr.dst_port, 0, addr)
#define BODY_FIELDS(T, on)                                              \
    FIELD(T, "headers", FT_HEADERS, on, headers, 0, n_headers),         \
    FIELD(T, "body", FT_BIN, on, body, 0, body),                        \
    FIELD(T, "body_len", FT_U64, on, body_len, 0, body_len),            \
    FIELD(T, "flags", FT_FLAGS, on, flags, 0, flags)

/* "reason" is a response's status text and a connection event's close
 * reason: one key, two members; the reader fills reason_text from it. */
static const struct field msg_fields[] = {
    FIELD(struct http_msg, "uid", FT_STR, ON_ALL, uid, F_REQUIRED, uid),
    MSG_FIELD("idx", FT_U32, ON_ALL, idx),
    MSG_FIELD("ts", FT_U64, ON_ALL, ts_ns),
    MSG_FIELD("te", FT_U64, ON_ALL, ts_end_ns),
    ADDR_FIELDS(struct http_msg, ON_ALL),
    MSG_FIELD("method", FT_STR, ON_REQ, method),
    MSG_FIELD("uri", FT_STR, ON_REQ, uri),
    MSG_FIELD("status", FT_U32, ON_RESP, status),
    MSG_FIELD("reason", FT_STR, ON_RESP, reason),
    MSG_FIELD("event", FT_STR, ON_CONN, event),
    FIELD(struct http_msg, "reason", FT_STR, ON_CONN, reason_text,
          F_PACK_ONLY, reason_text),
    MSG_FIELD("version", FT_STR, ON_REQ | ON_RESP, version),
    BODY_FIELDS(struct http_msg, ON_REQ | ON_RESP),
    FIELD(struct http_msg, "group", FT_GROUP, ON_ROUTED, route.group, 0,
          routed),
    MSG_FIELD("route", FT_STR, ON_ROUTED, route.path),
    MSG_FIELD("policy", FT_STR, ON_ROUTED, route.policy),
    MSG_FIELD("step", FT_STEP, ON_ROUTED, route.next_step),
    MSG_FIELD("pkts", FT_PAIR, ON_CONN, pkts),
    MSG_FIELD("bytes", FT_PAIR, ON_CONN, bytes_seen),
    MSG_FIELD("gaps", FT_U32, ON_CONN, gaps),
    MSG_FIELD("requests", FT_U32, ON_CONN, requests),
    MSG_FIELD("responses", FT_U32, ON_CONN, responses),
};

/* An outage carries ts, who, until, reason and lost; "reason" is a
 * response's status text and how an outage's stage died. */
static const struct field record_fields[] = {
    RECORD_FIELD("uid", FT_STR, ON_HTTP, uid),
    RECORD_FIELD("idx", FT_U32, ON_HTTP, idx),
    RECORD_FIELD("ts", FT_U64, ON_ALL, ts_ns),
    ADDR_FIELDS(struct audit_record, ON_HTTP),
    RECORD_FIELD("group", FT_STR, ON_HTTP, route.group),
    RECORD_FIELD("route", FT_STR, ON_HTTP, route.path),
    RECORD_FIELD("policy", FT_STR, ON_HTTP, route.policy),
    RECORD_FIELD("step", FT_STEP, ON_HTTP, route.next_step),
    RECORD_FIELD("step_label", FT_STR, ON_HTTP, step),
    RECORD_FIELD("method", FT_STR, ON_HTTP, method),
    RECORD_FIELD("uri", FT_STR, ON_HTTP, uri),
    RECORD_FIELD("host", FT_STR, ON_HTTP, host),
    RECORD_FIELD("req_ts", FT_U64, ON_HTTP, req_ts_ns),
    RECORD_FIELD("version", FT_STR, ON_HTTP, version),
    BODY_FIELDS(struct audit_record, ON_HTTP),
    RECORD_FIELD("status", FT_U32, ON_RESP, status),
    RECORD_FIELD("reason", FT_STR, ON_RESP | ON_OUTAGE, reason),
    RECORD_FIELD("outcome", FT_STR, ON_RESP, outcome),
    RECORD_FIELD("latency_ns", FT_U64, ON_RESP, latency_ns),
    RECORD_FIELD("who", FT_STR, ON_OUTAGE, who),
    RECORD_FIELD("until", FT_U64, ON_OUTAGE, until_ns),
    FIELD(struct audit_record, "lost", FT_COUNTS, ON_OUTAGE, lost, 0,
          n_lost),
};

/* An item type: its kind goes first, under kind_key, as a name. */
struct schema {
    const char *kind_key;
    const char *const *kind_names; /* by kind; [0] unused */
    unsigned n_kinds;              /* kinds are 1 .. n_kinds */
    const struct field *fields;
    size_t n_fields;
};

static const char *const msg_kind_names[] = { NULL, "req", "resp", "conn" };
static const char *const record_kind_names[] = { NULL, "request",
                                                 "response", "outage" };

_Static_assert(sizeof(msg_fields) / sizeof(msg_fields[0]) <= 64 &&
                   sizeof(record_fields) / sizeof(record_fields[0]) <= 64,
               "decode_item() marks required rows in a uint64_t");

static const struct schema msg_schema = {
    "k", msg_kind_names, 3, msg_fields,
    sizeof(msg_fields) / sizeof(msg_fields[0]),
};

static const struct schema record_schema = {
    "kind", record_kind_names, 3, record_fields,
    sizeof(record_fields) / sizeof(record_fields[0]),
};

/* ---- writer --------------------------------------------------------- */

struct frame_writer {
    enum frame_type type;
    char src[64];
    int link;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    uint32_t items;
    size_t off_seq, off_wm, off_live, off_link, off_count;
};

static void put_be(char *dst, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        dst[i] = (char)(v & 0xff);
        v >>= 8;
    }
}

/* Writes a fixed-width value (tag t, width payload bytes, v) and returns
 * the payload's offset, for finish() to patch. */
static size_t reserve(frame_writer_t *w, uint8_t t, int width, uint64_t v)
{
    char b[9] = { (char)t };
    put_be(b + 1, v, width);
    msgpack_sbuffer_write(&w->sb, b, (size_t)width + 1);
    return w->sb.size - (size_t)width;
}

static void writer_begin(frame_writer_t *w)
{
    struct mpout_map m;
    msgpack_sbuffer_clear(&w->sb);
    w->items = 0;
    mpout_map_open(&m, &w->sb, &w->pk, MPOUT_FIX);
    mpout_key(&m, "v");
    msgpack_pack_uint32(&w->pk, FRAME_VERSION);
    mpout_key(&m, "src");
    mpout_cstr(&w->pk, w->src);
    mpout_key(&m, "seq");
    w->off_seq = reserve(w, 0xcf, 8, 0);    /* uint64 */
    mpout_key(&m, "wm");
    w->off_wm = reserve(w, 0xcf, 8, 0);
    mpout_key(&m, "live");
    w->off_live = w->sb.size;
    msgpack_pack_false(&w->pk);
    if (w->type == FRAME_PKT) {
        mpout_key(&m, "link");
        w->off_link = reserve(w, 0xce, 4, (uint32_t)w->link); /* uint32 */
    }
    mpout_key(&m, item_keys[w->type]);
    w->off_count = reserve(w, 0xdd, 4, 0);  /* array32 */
    mpout_map_close(&m);
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

static void pack_flags(msgpack_packer *pk, uint32_t flags)
{
    unsigned n = 0;
    for (unsigned i = 0; i < MSG_FLAG_COUNT; i++)
        if (flags & (1u << i))
            n++;
    msgpack_pack_array(pk, n);
    for (unsigned i = 0; i < MSG_FLAG_COUNT; i++)
        if (flags & (1u << i))
            mpout_cstr(pk, msg_flag_names[i]);
}

static void pack_headers(msgpack_packer *pk, const struct msg_header *h,
                         uint32_t n)
{
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++) {
        msgpack_pack_array(pk, 2);
        mpout_str(pk, h[i].name);
        mpout_str(pk, h[i].value);
    }
}

static void pack_counts(msgpack_packer *pk, const struct record_count *c,
                        uint32_t n)
{
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++) {
        msgpack_pack_array(pk, 2);
        mpout_str(pk, c[i].name);
        msgpack_pack_uint64(pk, c[i].n);
    }
}

static void pack_field(msgpack_packer *pk, const struct field *f,
                       const char *item)
{
    const void *m = item + f->off;
    const uint64_t *pair = m;
    switch ((enum field_type)f->type) {
    case FT_STR:
    case FT_GROUP: mpout_str(pk, *(const struct bytes *)m); break;
    case FT_BIN: mpout_bin(pk, *(const struct bytes *)m); break;
    case FT_U16: msgpack_pack_uint16(pk, *(const uint16_t *)m); break;
    case FT_U32: msgpack_pack_uint32(pk, *(const uint32_t *)m); break;
    case FT_U64: msgpack_pack_uint64(pk, *(const uint64_t *)m); break;
    case FT_STEP: msgpack_pack_int32(pk, *(const int32_t *)m); break;
    case FT_PAIR:
        msgpack_pack_array(pk, 2);
        msgpack_pack_uint64(pk, pair[0]);
        msgpack_pack_uint64(pk, pair[1]);
        break;
    case FT_HEADERS:
        pack_headers(pk, *(const struct msg_header *const *)m,
                     *(const uint32_t *)(item + f->aux));
        break;
    case FT_FLAGS: pack_flags(pk, *(const uint32_t *)m); break;
    case FT_COUNTS:
        pack_counts(pk, *(const struct record_count *const *)m,
                    *(const uint32_t *)(item + f->aux));
        break;
    }
}

/* Packs the kind and the fields for `on`, as one map. */
static void pack_item(frame_writer_t *w, const struct schema *s,
                      unsigned kind, unsigned on, const void *item)
{
    struct mpout_map m;
    mpout_map_open(&m, &w->sb, &w->pk, MPOUT_16);
    mpout_key(&m, s->kind_key);
    mpout_cstr(&w->pk, s->kind_names[kind]);
    for (size_t i = 0; i < s->n_fields; i++) {
        if (!(s->fields[i].on & on))
            continue;
        mpout_keyn(&m, s->fields[i].key, s->fields[i].key_len);
        pack_field(&w->pk, &s->fields[i], item);
    }
    mpout_map_close(&m);
    w->items++;
}

int frame_add_msg(frame_writer_t *w, const struct http_msg *m)
{
    if (w->type != FRAME_MSG)
        return -EINVAL;
    if (m->kind != MSG_REQ && m->kind != MSG_RESP && m->kind != MSG_CONN)
        return -EINVAL;
    unsigned on = 1u << (m->kind - 1);
    if (m->kind == MSG_REQ && m->routed)
        on |= ON_ROUTED;
    pack_item(w, &msg_schema, m->kind, on, m);
    return 0;
}

int frame_add_record(frame_writer_t *w, const struct audit_record *r)
{
    if (w->type != FRAME_LOG)
        return -EINVAL;
    if (r->kind != RECORD_REQUEST && r->kind != RECORD_RESPONSE &&
        r->kind != RECORD_OUTAGE)
        return -EINVAL;
    if (r->n_lost > FRAME_MAX_COUNTS)
        return -EINVAL;
    pack_item(w, &record_schema, r->kind, 1u << (r->kind - 1), r);
    return 0;
}

int frame_add_object(frame_writer_t *w, const msgpack_object *item)
{
    if (msgpack_pack_object(&w->pk, *item) != 0)
        return -ENOMEM;
    w->items++;
    return 0;
}

/* The keys every frame starts with, for frames packed in one go. */
static void pack_head(struct mpout_map *m, const char *src, uint64_t seq,
                      uint64_t wm_ns)
{
    mpout_key(m, "v");
    msgpack_pack_uint32(m->pk, FRAME_VERSION);
    mpout_key(m, "src");
    mpout_cstr(m->pk, src);
    mpout_key(m, "seq");
    msgpack_pack_uint64(m->pk, seq);
    mpout_key(m, "wm");
    msgpack_pack_uint64(m->pk, wm_ns);
}

int frame_encode_eof(msgpack_sbuffer *sb, const char *src, uint64_t seq,
                     uint64_t wm_ns, const char *reason)
{
    msgpack_packer pk;
    struct mpout_map m;
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    mpout_map_open(&m, sb, &pk, MPOUT_FIX);
    pack_head(&m, src, seq, wm_ns);
    mpout_key(&m, "reason");
    mpout_cstr(&pk, reason);
    mpout_map_close(&m);
    return sb->data ? 0 : -ENOMEM;
}

int frame_encode_ack(msgpack_sbuffer *sb, const char *src, uint64_t seq)
{
    msgpack_packer pk;
    struct mpout_map m;
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    mpout_map_open(&m, sb, &pk, MPOUT_FIX);
    pack_head(&m, src, seq, 0);
    mpout_map_close(&m);
    return sb->data ? 0 : -ENOMEM;
}

int frame_encode_stats(msgpack_sbuffer *sb, const char *src, uint64_t seq,
                       const struct stats *s)
{
    msgpack_packer pk;
    struct mpout_map m;
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    mpout_map_open(&m, sb, &pk, MPOUT_FIX);
    pack_head(&m, src, seq, 0);
    mpout_key(&m, "stage");
    mpout_cstr(&pk, stats_stage(s));
    mpout_key(&m, "counters");
    msgpack_pack_map(&pk, stats_count(s));
    for (unsigned i = 0; i < stats_count(s); i++) {
        mpout_cstr(&pk, stats_name(s, i));
        msgpack_pack_uint64(&pk, stats_value(s, i));
    }
    mpout_map_close(&m);
    return sb->data ? 0 : -ENOMEM;
}

/* ---- reader --------------------------------------------------------- */

struct frame_reader {
    msgpack_zone zone;
    struct msg_header headers[FRAME_MAX_HEADERS];
    struct record_count counts[FRAME_MAX_COUNTS];
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

/* Checks and unpacks a whole body into the reader's zone; the object is
 * kept in the zone too, so views of it live as long as the zone. */
static int unpack_kept(frame_reader_t *r, const void *data, size_t len,
                       const msgpack_object **out)
{
    msgpack_object o;
    if (len > FRAME_MAX_BYTES ||
        mpcheck_unpack(&r->zone, data, len, FRAME_MAX_DEPTH, &o) < 0)
        return -EBADMSG;
    msgpack_object *keep = msgpack_zone_malloc(&r->zone, sizeof(o));
    if (!keep)
        return -ENOMEM;
    *keep = o;
    *out = keep;
    return 0;
}

int frame_unpack(frame_reader_t *r, const void *data, size_t len,
                 const msgpack_object **out)
{
    return unpack_kept(r, data, len, out);
}

/* One key of a frame's header map: 0 (read or not a header key),
 * -EBADMSG, or -EPROTONOSUPPORT. *seen gets 1 for "v", 2 for the items. */
static int read_head_key(struct frame *f, const msgpack_object *k,
                         const msgpack_object *v, unsigned *seen)
{
    uint64_t u;
    const char *items = item_keys[f->type];
    if (mpobj_key(k, "v")) {
        if (!mpobj_uint(v, &u))
            return -EBADMSG;
        if (u != FRAME_VERSION)
            return -EPROTONOSUPPORT;
        f->version = (uint32_t)u;
        *seen |= 1;
    } else if (mpobj_key(k, "src")) {
        return mpobj_bytes(v, &f->src) ? 0 : -EBADMSG;
    } else if (mpobj_key(k, "seq")) {
        return mpobj_uint(v, &f->seq) ? 0 : -EBADMSG;
    } else if (mpobj_key(k, "wm")) {
        return mpobj_uint(v, &f->wm_ns) ? 0 : -EBADMSG;
    } else if (mpobj_key(k, "live")) {
        if (v->type != MSGPACK_OBJECT_BOOLEAN)
            return -EBADMSG;
        f->live = v->via.boolean;
    } else if (mpobj_key(k, "link")) {
        if (!mpobj_uint(v, &u) || u > INT32_MAX)
            return -EBADMSG;
        f->link = (int)u;
    } else if (mpobj_key(k, "reason")) {
        return mpobj_bytes(v, &f->reason) ? 0 : -EBADMSG;
    } else if (mpobj_key(k, "counters")) {
        if (v->type != MSGPACK_OBJECT_MAP)
            return -EBADMSG;
        f->counters = v;
    } else if (items && mpobj_key(k, items)) {
        if (v->type != MSGPACK_OBJECT_ARRAY)
            return -EBADMSG;
        f->items = v->via.array.ptr;
        f->n_items = v->via.array.size;
        *seen |= 2;
    }
    return 0;
}

int frame_read(frame_reader_t *r, const void *topic, size_t tlen,
               const void *body, size_t blen, struct frame *f)
{
    memset(f, 0, sizeof(*f));
    int type = frame_type_of(topic, tlen);
    if (type < 0)
        return -ENOMSG;
    const msgpack_object *root;
    int rc = unpack_kept(r, body, blen, &root);
    if (rc < 0)
        return rc;
    if (root->type != MSGPACK_OBJECT_MAP)
        return -EBADMSG;
    f->root = root;
    f->type = (enum frame_type)type;
    unsigned seen = 0;
    const msgpack_object_map *m = &root->via.map;
    for (uint32_t i = 0; i < m->size; i++) {
        rc = read_head_key(f, &m->ptr[i].key, &m->ptr[i].val, &seen);
        if (rc < 0)
            return rc;
    }
    if (!(seen & 1) || (item_keys[type] && !(seen & 2)))
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
    if (!mpobj_uint(&a[0], &out->ts_ns) || !mpobj_u32(&a[1], &out->wirelen) ||
        a[2].type != MSGPACK_OBJECT_BIN)
        return -EBADMSG;
    out->data.p = a[2].via.bin.ptr;
    out->data.n = a[2].via.bin.size;
    return 0;
}

/* Item i of the array v when it is a pair ([a, b]): its two items. */
static const msgpack_object *pair_item(const msgpack_object *v, uint32_t i)
{
    const msgpack_object *p = &v->via.array.ptr[i];
    if (p->type != MSGPACK_OBJECT_ARRAY || p->via.array.size != 2)
        return NULL;
    return p->via.array.ptr;
}

/* Headers beyond FRAME_MAX_HEADERS are dropped and *cut set. */
static bool read_headers(frame_reader_t *r, const msgpack_object *v,
                         const struct msg_header **out, uint32_t *n,
                         bool *cut)
{
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return false;
    uint32_t count = v->via.array.size;
    if (count > FRAME_MAX_HEADERS) {
        count = FRAME_MAX_HEADERS;
        *cut = true;
    }
    for (uint32_t i = 0; i < count; i++) {
        const msgpack_object *h = pair_item(v, i);
        if (!h || !mpobj_bytes(&h[0], &r->headers[i].name) ||
            !mpobj_bytes(&h[1], &r->headers[i].value))
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
        if (!mpobj_bytes(&v->via.array.ptr[i], &b))
            return false;
        /* Unknown names come from newer producers: ignore them. */
        for (unsigned j = 0; j < MSG_FLAG_COUNT; j++)
            if (bytes_eq(b, msg_flag_names[j]))
                *flags |= 1u << j;
    }
    return true;
}

/* More counts than FRAME_MAX_COUNTS make the item malformed: an outage
 * names a few. */
static bool read_counts(frame_reader_t *r, const msgpack_object *v,
                        const struct record_count **out, uint32_t *n)
{
    if (v->type != MSGPACK_OBJECT_ARRAY ||
        v->via.array.size > FRAME_MAX_COUNTS)
        return false;
    for (uint32_t i = 0; i < v->via.array.size; i++) {
        const msgpack_object *c = pair_item(v, i);
        if (!c || !mpobj_bytes(&c[0], &r->counts[i].name) ||
            !mpobj_uint(&c[1], &r->counts[i].n))
            return false;
    }
    *out = r->counts;
    *n = v->via.array.size;
    return true;
}

static bool read_pair(const msgpack_object *v, uint64_t out[2])
{
    if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size != 2)
        return false;
    return mpobj_uint(&v->via.array.ptr[0], &out[0]) &&
           mpobj_uint(&v->via.array.ptr[1], &out[1]);
}

static bool read_step(const msgpack_object *v, int32_t *step)
{
    int64_t s;
    if (!mpobj_int(v, &s) || s < -1 || s > INT32_MAX)
        return false;
    *step = (int32_t)s;
    return true;
}

static bool read_field(frame_reader_t *r, const struct field *f,
                       const msgpack_object *v, char *item, bool *cut)
{
    void *m = item + f->off;
    switch ((enum field_type)f->type) {
    case FT_STR:
    case FT_BIN: return mpobj_bytes(v, m);
    case FT_GROUP:
        *(bool *)(item + f->aux) = true;
        return mpobj_bytes(v, m);
    case FT_U16: return mpobj_u16(v, m);
    case FT_U32: return mpobj_u32(v, m);
    case FT_U64: return mpobj_uint(v, m);
    case FT_STEP: return read_step(v, m);
    case FT_PAIR: return read_pair(v, m);
    case FT_HEADERS:
        return read_headers(r, v, m, (uint32_t *)(item + f->aux), cut);
    case FT_FLAGS: return read_flags(v, m);
    case FT_COUNTS:
        return read_counts(r, v, m, (uint32_t *)(item + f->aux));
    }
    return false;
}

/* The row for key k, or NULL. Items usually arrive in table order, so
 * the search starts after the row found last (*hint). */
static const struct field *find_field(const struct schema *s,
                                      const msgpack_object *k, size_t *hint)
{
    if (k->type != MSGPACK_OBJECT_STR)
        return NULL;
    for (size_t i = 0; i < s->n_fields; i++) {
        size_t j = (*hint + i) % s->n_fields;
        const struct field *f = &s->fields[j];
        if (!(f->flags & F_PACK_ONLY) && f->key_len == k->via.str.size &&
            !memcmp(f->key, k->via.str.ptr, f->key_len)) {
            *hint = j + 1;
            return f;
        }
    }
    return NULL;
}

static bool read_kind(const struct schema *s, const msgpack_object *v,
                      unsigned *kind)
{
    struct bytes b;
    if (!mpobj_bytes(v, &b))
        return false;
    for (unsigned i = 1; i <= s->n_kinds; i++)
        if (bytes_eq(b, s->kind_names[i])) {
            *kind = i;
            return true;
        }
    return false;
}

/* Decodes the map o into item (zeroed by the caller) by s's rows; keys
 * it does not know are ignored. 0 with *kind, or -EBADMSG. */
static int decode_item(frame_reader_t *r, const msgpack_object *o,
                       const struct schema *s, void *item, unsigned *kind,
                       uint32_t *flags)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return -EBADMSG;
    uint64_t required = 0; /* by row index */
    size_t hint = 0;
    bool cut = false;
    *kind = 0;
    for (uint32_t j = 0; j < o->via.map.size; j++) {
        const msgpack_object *k = &o->via.map.ptr[j].key;
        const msgpack_object *v = &o->via.map.ptr[j].val;
        if (mpobj_key(k, s->kind_key)) {
            if (!read_kind(s, v, kind))
                return -EBADMSG;
            continue;
        }
        const struct field *f = find_field(s, k, &hint);
        if (f && !read_field(r, f, v, item, &cut))
            return -EBADMSG;
        if (f && (f->flags & F_REQUIRED))
            required |= 1ull << (f - s->fields);
    }
    for (size_t i = 0; i < s->n_fields; i++)
        if ((s->fields[i].flags & F_REQUIRED) && !(required & (1ull << i)))
            return -EBADMSG;
    if (cut)
        *flags |= MSG_F_HEADERS_TRUNCATED;
    return *kind ? 0 : -EBADMSG;
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
    unsigned kind;
    memset(out, 0, sizeof(*out));
    out->route.next_step = -1;
    int rc = decode_item(r, o, &msg_schema, out, &kind, &out->flags);
    out->kind = (enum msg_kind)kind;
    out->reason_text = out->reason;
    return rc;
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
    unsigned kind;
    memset(out, 0, sizeof(*out));
    out->route.next_step = -1;
    int rc = decode_item(r, o, &record_schema, out, &kind, &out->flags);
    out->kind = (enum record_kind)kind;
    return rc;
}
