/* store_query.c - the trail's query protocol (store_query.h).
 *
 * The logger serves pages of stored values as they are (each was checked
 * as a whole MessagePack map when read), so a reply costs a copy, not a
 * decode and re-encode; the client decodes them as it would the trail.
 * A record whose body is in a segment is sent whole: re-encoded with its
 * body (store_iter_record), since the client cannot read segments.
 */
#include "store_private.h"
#include "errbuf.h"
#include "mpcheck.h"
#include "mpobj.h"
#include "store_query.h"

#include <errno.h>
#include <string.h>

/* msgpack-c's packers return 0, or -1 when the buffer could not grow
 * (the write is then dropped): every one is checked. */
static int pack_key(msgpack_packer *pk, const char *key)
{
    return msgpack_pack_str_with_body(pk, key, strlen(key));
}

/* Starts a request or reply of n entries in sb (cleared): the map and
 * its version. 0 or -1. */
static int begin(msgpack_sbuffer *sb, msgpack_packer *pk, uint32_t n)
{
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(pk, sb, msgpack_sbuffer_write);
    return msgpack_pack_map(pk, n) || pack_key(pk, "v") ||
                   msgpack_pack_uint32(pk, STORE_QUERY_VERSION)
               ? -1
               : 0;
}

int store_query_encode(msgpack_sbuffer *sb, const struct store_query *q)
{
    msgpack_packer pk;
    if (begin(sb, &pk, q->after ? 5 : 4) || pack_key(&pk, "since") ||
        msgpack_pack_uint64(&pk, q->since_ns) || pack_key(&pk, "until") ||
        msgpack_pack_uint64(&pk, q->until_ns) || pack_key(&pk, "limit") ||
        msgpack_pack_uint32(&pk, q->limit))
        return -ENOMEM;
    if (q->after && (pack_key(&pk, "after") ||
                     msgpack_pack_bin_with_body(&pk, q->after, q->after_len)))
        return -ENOMEM;
    return 0;
}

static int serve_error(msgpack_sbuffer *reply, const char *why)
{
    msgpack_packer pk;
    if (begin(reply, &pk, 2) || pack_key(&pk, "error") ||
        msgpack_pack_str_with_body(&pk, why, strlen(why)))
        return -ENOMEM;
    return 0;
}

/* Reads a request into q (q->after borrows req). NULL, or why it is
 * refused. */
static const char *parse_request(store_t *s, const void *req, size_t len,
                                 struct store_query *q)
{
    msgpack_object o;
    if (mpcheck_unpack(&s->zone, req, len, 2, &o) < 0 ||
        o.type != MSGPACK_OBJECT_MAP)
        return "malformed request";
    bool have_v = false;
    for (uint32_t i = 0; i < o.via.map.size; i++) {
        const msgpack_object *k = &o.via.map.ptr[i].key;
        const msgpack_object *v = &o.via.map.ptr[i].val;
        bool uint = v->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
        if (mpobj_key(k, "v")) {
            if (!uint || v->via.u64 != STORE_QUERY_VERSION)
                return "unsupported query version";
            have_v = true;
        } else if (mpobj_key(k, "since") && uint) {
            q->since_ns = v->via.u64;
        } else if (mpobj_key(k, "until") && uint) {
            q->until_ns = v->via.u64;
        } else if (mpobj_key(k, "limit") && uint) {
            q->limit = v->via.u64 > UINT32_MAX ? UINT32_MAX
                                               : (uint32_t)v->via.u64;
        } else if (mpobj_key(k, "after") && v->type == MSGPACK_OBJECT_BIN) {
            q->after = v->via.bin.ptr;
            q->after_len = v->via.bin.size;
        } else if (!mpobj_key(k, "after") || v->type != MSGPACK_OBJECT_NIL) {
            return "malformed request";
        }
    }
    return have_v ? NULL : "request without version";
}

/* One page of q's records, packed one after another into s->records.
 * Returns the count, or -EIO (why in err) when LevelDB cannot read on,
 * -ENOMEM; *last gets the key of the last one (its length in *last_len)
 * and *more whether records remain after it. */
static long collect(store_t *s, store_iter_t *it, uint32_t cap,
                    uint8_t last[STORE_KEY_MAX], size_t *last_len,
                    bool *more, char *err, size_t errlen)
{
    msgpack_packer rp;
    msgpack_sbuffer_clear(&s->records);
    msgpack_packer_init(&rp, &s->records, msgpack_sbuffer_write);
    uint32_t n = 0;
    struct audit_record rec;
    int rc;
    *more = false;
    *last_len = 0;
    while ((rc = store_iter_next(it, &rec)) != 0) {
        if (rc == -EIO) {
            errbuf_set(err, errlen, "reading the trail: %s",
                       store_iter_error(it));
            return -EIO;
        }
        if (n == cap || s->records.size >= STORE_REPLY_MAX_BYTES) {
            *more = true;
            break;
        }
        size_t kl, vl;
        const void *k = store_iter_key(it, &kl);
        const void *v = rc > 0 ? store_iter_record(it, &vl) : NULL;
        /* a checked, whole record (its body in it) is embedded as is; an
         * undecodable one as nil, which keeps the client's count honest */
        if (v ? msgpack_sbuffer_write(&s->records, v, vl)
              : msgpack_pack_nil(&rp))
            return -ENOMEM;
        if (kl <= STORE_KEY_MAX) {
            memcpy(last, k, kl);
            *last_len = kl;
        }
        n++;
    }
    return n;
}

int store_query_serve(store_t *s, const void *req, size_t len,
                      msgpack_sbuffer *reply)
{
    struct store_query q = { 0, UINT64_MAX, 0, NULL, 0 };
    const char *why = parse_request(s, req, len, &q);
    if (why)
        return serve_error(reply, why);
    if (!s->db)
        return serve_error(reply, "the trail cannot be read now (the "
                                  "logger cannot open it)");
    uint32_t cap = STORE_REPLY_MAX_RECORDS;
    if (q.limit && q.limit < cap)
        cap = q.limit;
    /* q.after borrows req; the iterator copies it. */
    store_iter_t *it = store_iter_new(s, q.since_ns, q.until_ns, q.after,
                                      q.after_len);
    if (!it)
        return serve_error(reply, "out of memory");
    uint8_t last[STORE_KEY_MAX];
    size_t last_len;
    bool more;
    char err[300];
    long n = collect(s, it, cap, last, &last_len, &more, err, sizeof(err));
    store_iter_destroy(&it);
    if (n < 0)
        return serve_error(reply, n == -EIO ? err : "out of memory");

    msgpack_packer pk;
    if (begin(reply, &pk, 3) || pack_key(&pk, "records") ||
        msgpack_pack_array(&pk, (uint32_t)n) ||
        (s->records.size &&
         msgpack_sbuffer_write(reply, s->records.data, s->records.size)) ||
        pack_key(&pk, "next") ||
        (more && last_len ? msgpack_pack_bin_with_body(&pk, last, last_len)
                          : msgpack_pack_nil(&pk)))
        return serve_error(reply, "out of memory");
    return 0;
}

/* The logger's error text, cut to fit. */
static void remote_error(const msgpack_object *v, char *err, size_t errlen)
{
    char text[256];
    size_t tl = 0;
    if (v->type == MSGPACK_OBJECT_STR) {
        tl = v->via.str.size < sizeof(text) - 1 ? v->via.str.size
                                                : sizeof(text) - 1;
        memcpy(text, v->via.str.ptr, tl);
    }
    text[tl] = '\0';
    errbuf_set(err, errlen, "%s", text);
}

int store_reply_read(store_decoder_t *d, const void *reply, size_t len,
                     uint32_t *n, const void **next, size_t *next_len,
                     char *err, size_t errlen)
{
    const msgpack_object *o;
    *n = 0;
    *next = NULL;
    *next_len = 0;
    if (store_decoder_unpack(d, reply, len, &o) < 0 ||
        o->type != MSGPACK_OBJECT_MAP) {
        errbuf_set(err, errlen, "malformed reply");
        return -EBADMSG;
    }
    bool have_v = false, have_records = false;
    const msgpack_object_map *m = &o->via.map;
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key, *v = &m->ptr[i].val;
        if (mpobj_key(k, "v")) {
            have_v = v->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                     v->via.u64 == STORE_QUERY_VERSION;
        } else if (mpobj_key(k, "error")) {
            remote_error(v, err, errlen);
            return -EREMOTEIO;
        } else if (mpobj_key(k, "records")) {
            if (v->type != MSGPACK_OBJECT_ARRAY)
                break;
            d->records = v->via.array.ptr;
            d->n_records = v->via.array.size;
            have_records = true;
        } else if (mpobj_key(k, "next")) {
            if (v->type == MSGPACK_OBJECT_BIN) {
                *next = v->via.bin.ptr;
                *next_len = v->via.bin.size;
            } else if (v->type != MSGPACK_OBJECT_NIL) {
                break;
            }
        }
    }
    if (!have_v || !have_records) {
        d->records = NULL;
        d->n_records = 0;
        errbuf_set(err, errlen, "malformed reply");
        return -EBADMSG;
    }
    *n = d->n_records;
    return 0;
}

int store_reply_record(store_decoder_t *d, uint32_t i,
                       struct audit_record *out)
{
    if (i >= d->n_records)
        return -EBADMSG;
    return frame_decode_record(d->reader, &d->records[i], out);
}
