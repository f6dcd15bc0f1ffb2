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
#include "store_index.h"
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

static int pack_flag(msgpack_packer *pk, const char *key, bool on)
{
    return on && (pack_key(pk, key) || msgpack_pack_true(pk)) ? -1 : 0;
}

int store_query_encode_scan(msgpack_sbuffer *sb, const struct store_query *q,
                            const struct store_query_scan *scan)
{
    static const struct store_query_scan plain;
    const struct store_query_scan *c = scan ? scan : &plain;
    msgpack_packer pk;
    uint32_t n = 4 + (q->after != NULL) + c->reverse + c->summaries +
                 c->keys + c->by_status + (c->path != NULL) + (c->kind != 0);
    if (begin(sb, &pk, n) || pack_key(&pk, "since") ||
        msgpack_pack_uint64(&pk, q->since_ns) || pack_key(&pk, "until") ||
        msgpack_pack_uint64(&pk, q->until_ns) || pack_key(&pk, "limit") ||
        msgpack_pack_uint32(&pk, q->limit))
        return -ENOMEM;
    if (q->after && (pack_key(&pk, "after") ||
                     msgpack_pack_bin_with_body(&pk, q->after, q->after_len)))
        return -ENOMEM;
    if (pack_flag(&pk, "reverse", c->reverse) ||
        pack_flag(&pk, "summaries", c->summaries) ||
        pack_flag(&pk, "keys", c->keys))
        return -ENOMEM;
    if (c->by_status &&
        (pack_key(&pk, "status") || msgpack_pack_array(&pk, 2) ||
         msgpack_pack_uint32(&pk, c->status_lo) ||
         msgpack_pack_uint32(&pk, c->status_hi)))
        return -ENOMEM;
    if (c->path && (pack_key(&pk, "path") ||
                    msgpack_pack_bin_with_body(&pk, c->path, c->path_len)))
        return -ENOMEM;
    if (c->kind && (pack_key(&pk, "kind") ||
                    msgpack_pack_uint32(&pk, (uint32_t)c->kind)))
        return -ENOMEM;
    return 0;
}

int store_query_encode(msgpack_sbuffer *sb, const struct store_query *q)
{
    return store_query_encode_scan(sb, q, NULL);
}

int store_query_encode_proof(msgpack_sbuffer *sb, const void *key,
                             size_t len, uint64_t seq)
{
    msgpack_packer pk;
    if (begin(sb, &pk, 3) || pack_key(&pk, "proof") ||
        msgpack_pack_bin_with_body(&pk, key, len) || pack_key(&pk, "seq") ||
        msgpack_pack_uint64(&pk, seq))
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

/* A proof request's key and hint. */
struct proof_req {
    struct bytes key;
    uint64_t seq;
    bool asked;
};

/* A scan's fields (store_query.h): true when k is one and v is valid for
 * it (read into q), false when it is not one of them or is invalid. */
static bool parse_scan_field(const msgpack_object *k,
                             const msgpack_object *v,
                             struct store_query_scan *q)
{
    bool flag = v->type == MSGPACK_OBJECT_BOOLEAN;
    struct bytes b;
    uint32_t u;
    if (mpobj_key(k, "reverse") && flag) {
        q->reverse = v->via.boolean;
    } else if (mpobj_key(k, "summaries") && flag) {
        q->summaries = v->via.boolean;
    } else if (mpobj_key(k, "keys") && flag) {
        q->keys = v->via.boolean;
    } else if (mpobj_key(k, "status") && v->type == MSGPACK_OBJECT_ARRAY &&
               v->via.array.size == 2) {
        q->by_status = mpobj_u32(&v->via.array.ptr[0], &q->status_lo) &&
                       mpobj_u32(&v->via.array.ptr[1], &q->status_hi);
        return q->by_status;
    } else if (mpobj_key(k, "kind") && mpobj_u32(v, &u) &&
               u >= RECORD_REQUEST && u <= RECORD_OUTAGE) {
        q->kind = (int)u;
    } else if (mpobj_key(k, "path") && mpobj_bytes(v, &b)) {
        q->path = b.p;
        q->path_len = b.n;
    } else {
        return false;
    }
    return true;
}

/* Reads a request into q (q->after borrows req) or p. NULL, or why it is
 * refused. */
static const char *parse_request(store_t *s, const void *req, size_t len,
                                 struct store_query *q,
                                 struct store_query_scan *scan,
                                 struct proof_req *p)
{
    msgpack_object o;
    /* a map, and in it at most the [lo, hi] of "status" */
    if (mpcheck_unpack(&s->zone, req, len, 3, &o) < 0 ||
        o.type != MSGPACK_OBJECT_MAP)
        return "malformed request";
    bool have_v = false;
    for (uint32_t i = 0; i < o.via.map.size; i++) {
        const msgpack_object *k = &o.via.map.ptr[i].key;
        const msgpack_object *v = &o.via.map.ptr[i].val;
        bool uint = v->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
        if (parse_scan_field(k, v, scan))
            continue;
        if (mpobj_key(k, "proof") && mpobj_bytes(v, &p->key)) {
            p->asked = true;
        } else if (mpobj_key(k, "seq") && uint) {
            p->seq = v->via.u64;
        } else if (mpobj_key(k, "v")) {
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

/* One page of a scan (store_index.h) into s->records, with keys into
 * ks and seqs into ss when asked. Returns the count or -errno as
 * collect(). */
static long collect_scan(store_t *s, const struct store_query *q,
                         const struct store_query_scan *c,
                         msgpack_sbuffer *ks, msgpack_sbuffer *ss,
                         uint8_t last[STORE_KEY_MAX], size_t *last_len,
                         bool *more, char *err, size_t errlen)
{
    struct store_scan_opts o = {
        .since_ns = q->since_ns, .until_ns = q->until_ns,
        .reverse = c->reverse, .summaries = c->summaries, .kind = c->kind,
        .by_status = c->by_status, .status_lo = c->status_lo,
        .status_hi = c->status_hi, .path = c->path,
        .path_len = c->path_len, .after = q->after,
        .after_len = q->after_len,
    };
    uint32_t cap = c->summaries ? STORE_REPLY_MAX_SUMMARIES
                                : STORE_REPLY_MAX_RECORDS;
    if (q->limit && q->limit < cap)
        cap = q->limit;
    store_scan_t *sc = store_scan_new(s, &o);
    if (!sc)
        return -ENOMEM;
    msgpack_packer rp, kp;
    msgpack_sbuffer_clear(&s->records);
    msgpack_packer_init(&rp, &s->records, msgpack_sbuffer_write);
    msgpack_packer_init(&kp, ks, msgpack_sbuffer_write);
    msgpack_packer sp;
    msgpack_packer_init(&sp, ss, msgpack_sbuffer_write);
    long n = 0;
    int rc;
    struct audit_record rec;
    *more = false;
    *last_len = 0;
    while ((rc = store_scan_next(sc, &rec)) != 0) {
        if (rc == -EIO || rc == -ENOMEM) {
            errbuf_set(err, errlen, "reading the trail: %s",
                       store_scan_error(sc));
            n = rc;
            break;
        }
        if ((uint32_t)n == cap || s->records.size >= STORE_REPLY_MAX_BYTES) {
            *more = true;
            break;
        }
        size_t kl, il;
        const void *k = store_scan_key(sc, &kl);
        const void *item = store_scan_item(sc, &il);
        if ((rc > 0 && item ? msgpack_sbuffer_write(&s->records, item, il)
                            : msgpack_pack_nil(&rp)) ||
            (c->keys && (msgpack_pack_bin_with_body(&kp, k, kl) ||
                         msgpack_pack_uint64(&sp, store_scan_seq(sc))))) {
            n = -ENOMEM;
            break;
        }
        if (k && kl <= STORE_KEY_MAX) {
            memcpy(last, k, kl);
            *last_len = kl;
        }
        n++;
    }
    store_scan_destroy(&sc);
    return n;
}

/* Packs a page: records, next, and keys and seqs when asked. */
static int pack_page(store_t *s, msgpack_sbuffer *reply, long n, bool more,
                     const uint8_t *last, size_t last_len,
                     const msgpack_sbuffer *ks, const msgpack_sbuffer *ss)
{
    msgpack_packer pk;
    if (begin(reply, &pk, ks ? 5 : 3) || pack_key(&pk, "records") ||
        msgpack_pack_array(&pk, (uint32_t)n) ||
        (s->records.size &&
         msgpack_sbuffer_write(reply, s->records.data, s->records.size)) ||
        pack_key(&pk, "next") ||
        (more && last_len ? msgpack_pack_bin_with_body(&pk, last, last_len)
                          : msgpack_pack_nil(&pk)))
        return -ENOMEM;
    if (ks && (pack_key(&pk, "keys") ||
               msgpack_pack_array(&pk, (uint32_t)n) ||
               (ks->size && msgpack_sbuffer_write(reply, ks->data, ks->size)) ||
               pack_key(&pk, "seqs") ||
               msgpack_pack_array(&pk, (uint32_t)n) ||
               (ss->size && msgpack_sbuffer_write(reply, ss->data, ss->size))))
        return -ENOMEM;
    return 0;
}

static int serve_scan(store_t *s, const struct store_query *q,
                      const struct store_query_scan *c,
                      msgpack_sbuffer *reply)
{
    msgpack_sbuffer ks, ss;
    msgpack_sbuffer_init(&ks);
    msgpack_sbuffer_init(&ss);
    uint8_t last[STORE_KEY_MAX];
    size_t last_len;
    bool more;
    char err[300];
    long n = collect_scan(s, q, c, &ks, &ss, last, &last_len, &more, err,
                          sizeof(err));
    int rc = n < 0 ? serve_error(reply, n == -EIO ? err : "out of memory")
             : pack_page(s, reply, n, more, last, last_len,
                         c->keys ? &ks : NULL, &ss) < 0
                 ? serve_error(reply, "out of memory")
                 : 0;
    msgpack_sbuffer_destroy(&ks);
    msgpack_sbuffer_destroy(&ss);
    return rc;
}

static int serve_proof(store_t *s, const struct proof_req *p,
                       msgpack_sbuffer *reply)
{
    struct store_proof pr;
    int rc = store_proof(s, p->key.p, p->key.n, p->seq, &pr);
    msgpack_packer pk;
    if (rc == -ENOENT)
        return begin(reply, &pk, 2) || pack_key(&pk, "missing") ||
                       msgpack_pack_true(&pk)
                   ? -ENOMEM
                   : 0;
    if (rc < 0)
        return serve_error(reply, rc == -EIO ? "reading the trail failed"
                                             : "out of memory");
    if (begin(reply, &pk, 2) || pack_key(&pk, "proof") ||
        msgpack_pack_map(&pk, 9) || pack_key(&pk, "seq") ||
        msgpack_pack_uint64(&pk, pr.seq) || pack_key(&pk, "last_seq") ||
        msgpack_pack_uint64(&pk, pr.last_seq) ||
        pack_key(&pk, "verifies") ||
        (pr.verifies ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk)) ||
        pack_key(&pk, "why") ||
        msgpack_pack_str_with_body(&pk, pr.why, strlen(pr.why)) ||
        pack_key(&pk, "hash") ||
        msgpack_pack_bin_with_body(&pk, pr.hash, sizeof(pr.hash)) ||
        pack_key(&pk, "cp_seq") || msgpack_pack_uint64(&pk, pr.cp_seq) ||
        pack_key(&pk, "cp_matches") ||
        (pr.cp_matches ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk)) ||
        pack_key(&pk, "cp_signed") ||
        (pr.cp_signed ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk)) ||
        pack_key(&pk, "cp_final") ||
        (pr.cp_final ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk)))
        return -ENOMEM;
    return 0;
}

static bool is_scan(const struct store_query_scan *c)
{
    return c->reverse || c->summaries || c->keys || c->by_status ||
           c->path || c->kind;
}

int store_query_serve(store_t *s, const void *req, size_t len,
                      msgpack_sbuffer *reply)
{
    struct store_query q = { 0, UINT64_MAX, 0, NULL, 0 };
    struct store_query_scan scan = { .reverse = false };
    struct proof_req p = { .asked = false };
    const char *why = parse_request(s, req, len, &q, &scan, &p);
    if (why)
        return serve_error(reply, why);
    if (!s->db)
        return serve_error(reply, "the trail cannot be read now (the "
                                  "logger cannot open it)");
    if (p.asked)
        return serve_proof(s, &p, reply);
    if (is_scan(&scan))
        return serve_scan(s, &q, &scan, reply);
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

    if (pack_page(s, reply, n, more, last, last_len, NULL, NULL) < 0)
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
        } else if (mpobj_key(k, "keys") || mpobj_key(k, "seqs")) {
            if (v->type != MSGPACK_OBJECT_ARRAY)
                break;
            *(mpobj_key(k, "keys") ? &d->keys : &d->seqs) = v;
        }
    }
    /* keys and seqs come together, one of each per record */
    bool keys_ok = !d->keys == !d->seqs &&
                   (!d->keys || (d->keys->via.array.size == d->n_records &&
                                 d->seqs->via.array.size == d->n_records));
    if (!have_v || !have_records || !keys_ok) {
        d->records = NULL;
        d->n_records = 0;
        d->keys = d->seqs = NULL;
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

int store_reply_key(const store_decoder_t *d, uint32_t i, const void **key,
                    size_t *len, uint64_t *seq)
{
    if (!d->keys || i >= d->n_records)
        return -ENOENT;
    const msgpack_object *k = &d->keys->via.array.ptr[i];
    if (k->type != MSGPACK_OBJECT_BIN || k->via.bin.size > STORE_KEY_MAX ||
        !mpobj_uint(&d->seqs->via.array.ptr[i], seq))
        return -ENOENT;
    *key = k->via.bin.ptr;
    *len = k->via.bin.size;
    return 0;
}

/* Reads the proof map m into out. false when it is not one. */
static bool read_proof(const msgpack_object *m, struct store_proof *out)
{
    if (m->type != MSGPACK_OBJECT_MAP)
        return false;
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object *k = &m->via.map.ptr[i].key;
        const msgpack_object *v = &m->via.map.ptr[i].val;
        bool b = v->type == MSGPACK_OBJECT_BOOLEAN && v->via.boolean;
        struct bytes t;
        if (mpobj_key(k, "seq") && !mpobj_uint(v, &out->seq))
            return false;
        if (mpobj_key(k, "last_seq") && !mpobj_uint(v, &out->last_seq))
            return false;
        if (mpobj_key(k, "cp_seq") && !mpobj_uint(v, &out->cp_seq))
            return false;
        if (mpobj_key(k, "verifies"))
            out->verifies = b;
        if (mpobj_key(k, "cp_matches"))
            out->cp_matches = b;
        if (mpobj_key(k, "cp_signed"))
            out->cp_signed = b;
        if (mpobj_key(k, "cp_final"))
            out->cp_final = b;
        if (mpobj_key(k, "why") && mpobj_bytes(v, &t))
            errbuf_set(out->why, sizeof(out->why), "%.*s", (int)t.n, t.p);
        if (mpobj_key(k, "hash")) {
            if (!mpobj_bin(v, STORE_HASH_BYTES, STORE_HASH_BYTES, &t))
                return false;
            memcpy(out->hash, t.p, STORE_HASH_BYTES);
        }
    }
    return true;
}

int store_reply_proof(store_decoder_t *d, const void *reply, size_t len,
                      struct store_proof *out, char *err, size_t errlen)
{
    const msgpack_object *o;
    memset(out, 0, sizeof(*out));
    if (store_decoder_unpack(d, reply, len, &o) < 0 ||
        o->type != MSGPACK_OBJECT_MAP) {
        errbuf_set(err, errlen, "malformed reply");
        return -EBADMSG;
    }
    int rc = -EBADMSG;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        const msgpack_object *v = &o->via.map.ptr[i].val;
        if (mpobj_key(k, "error")) {
            remote_error(v, err, errlen);
            return -EREMOTEIO;
        }
        if (mpobj_key(k, "missing"))
            rc = -ENOENT;
        else if (mpobj_key(k, "proof"))
            rc = read_proof(v, out) ? 0 : -EBADMSG;
    }
    if (rc == -EBADMSG)
        errbuf_set(err, errlen, "malformed reply");
    return rc;
}
