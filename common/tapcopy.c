/* tapcopy.c - the redacted copy of a frame a tap publishes.
 *
 * The frame is unpacked (validated, depth-bounded) and packed again key
 * by key: everything is copied as it is except the values tapcopy.h
 * names. A frame that does not unpack is not published at all: a tap
 * never carries bytes it could not look at.
 */
#include "tapcopy.h"
#include "mpobj.h"
#include "packet.h"
#include "policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct tapcopy {
    frame_reader_t *reader;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    bool failed;      /* a write ran out of memory: the copy is cut */
};

/* The packer's writer: remembers a failed write, as the pack calls'
 * results are not checked one by one. */
static int write_sb(void *data, const char *buf, size_t len)
{
    tapcopy_t *t = data;
    if (len == 0)
        return 0; /* buf may be NULL then (an empty bin) */
    if (msgpack_sbuffer_write(&t->sb, buf, len) != 0)
        t->failed = true;
    return 0;
}

tapcopy_t *tapcopy_new(void)
{
    tapcopy_t *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    if (!(t->reader = frame_reader_new())) {
        free(t);
        return NULL;
    }
    msgpack_sbuffer_init(&t->sb);
    msgpack_packer_init(&t->pk, t, write_sb);
    return t;
}

void tapcopy_destroy(tapcopy_t **t)
{
    if (!t || !*t)
        return;
    frame_reader_destroy(&(*t)->reader);
    msgpack_sbuffer_destroy(&(*t)->sb);
    free(*t);
    *t = NULL;
}

bool tapcopy_needed(enum frame_type type)
{
    return type == FRAME_MSG || type == FRAME_PKT;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* [[name, value], ...] -> [[name, "[redacted]"], ...]; an entry of
 * another shape is replaced whole. */
static void pack_headers(msgpack_packer *pk, const msgpack_object *v)
{
    if (v->type != MSGPACK_OBJECT_ARRAY) {
        pack_str(pk, POLICY_REDACTED);
        return;
    }
    msgpack_pack_array(pk, v->via.array.size);
    for (uint32_t i = 0; i < v->via.array.size; i++) {
        const msgpack_object *h = &v->via.array.ptr[i];
        if (h->type != MSGPACK_OBJECT_ARRAY || h->via.array.size == 0) {
            pack_str(pk, POLICY_REDACTED);
            continue;
        }
        msgpack_pack_array(pk, h->via.array.size);
        msgpack_pack_object(pk, h->via.array.ptr[0]);
        for (uint32_t k = 1; k < h->via.array.size; k++)
            pack_str(pk, POLICY_REDACTED);
    }
}

static void pack_msg(msgpack_packer *pk, const msgpack_object *item)
{
    if (item->type != MSGPACK_OBJECT_MAP) {
        msgpack_pack_nil(pk);
        return;
    }
    msgpack_pack_map(pk, item->via.map.size);
    for (uint32_t i = 0; i < item->via.map.size; i++) {
        const msgpack_object_kv *kv = &item->via.map.ptr[i];
        msgpack_pack_object(pk, kv->key);
        if (mpobj_key(&kv->key, "headers"))
            pack_headers(pk, &kv->val);
        else if (mpobj_key(&kv->key, "body"))
            msgpack_pack_bin(pk, 0);
        else
            msgpack_pack_object(pk, kv->val);
    }
}

/* Bytes of a captured packet up to its TCP payload (or its IP payload,
 * when it has no TCP header to keep); none when it cannot be decoded. */
static size_t headers_len(int link, const uint8_t *data, size_t caplen)
{
    struct packet_info pi;
    memset(&pi, 0, sizeof(pi));
    enum packet_status st = packet_decode(link, data, caplen, &pi);
    const uint8_t *cut = st == PACKET_OK ? pi.payload : pi.ip_payload;
    if (!cut || cut < data || cut > data + caplen)
        return 0;
    return (size_t)(cut - data);
}

static void pack_pkt(msgpack_packer *pk, const msgpack_object *item,
                     int link)
{
    if (item->type != MSGPACK_OBJECT_ARRAY || item->via.array.size < 3 ||
        item->via.array.ptr[2].type != MSGPACK_OBJECT_BIN) {
        msgpack_pack_nil(pk);
        return;
    }
    const msgpack_object *a = item->via.array.ptr;
    const uint8_t *data = (const uint8_t *)a[2].via.bin.ptr;
    size_t keep = link < 0 ? 0 : headers_len(link, data, a[2].via.bin.size);
    msgpack_pack_array(pk, item->via.array.size);
    msgpack_pack_object(pk, a[0]);
    msgpack_pack_object(pk, a[1]);
    msgpack_pack_bin(pk, keep);
    msgpack_pack_bin_body(pk, data, keep);
    for (uint32_t i = 3; i < item->via.array.size; i++)
        msgpack_pack_object(pk, a[i]);
}

static void pack_items(msgpack_packer *pk, enum frame_type type,
                       const msgpack_object *v, int link)
{
    if (v->type != MSGPACK_OBJECT_ARRAY) {
        msgpack_pack_nil(pk);
        return;
    }
    msgpack_pack_array(pk, v->via.array.size);
    for (uint32_t i = 0; i < v->via.array.size; i++) {
        if (type == FRAME_MSG)
            pack_msg(pk, &v->via.array.ptr[i]);
        else
            pack_pkt(pk, &v->via.array.ptr[i], link);
    }
}

/* The frame's link type, or -1 (then no packet bytes are kept). */
static int frame_link(const msgpack_object *root)
{
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object_kv *kv = &root->via.map.ptr[i];
        int64_t v;
        if (mpobj_key(&kv->key, "link") && mpobj_int(&kv->val, &v) &&
            v >= 0 && v <= 0xffff)
            return (int)v;
    }
    return -1;
}

int tapcopy_make(tapcopy_t *t, enum frame_type type, const void *body,
                 size_t len, const void **out, size_t *outlen)
{
    const msgpack_object *root;
    int rc = frame_unpack(t->reader, body, len, &root);
    if (rc < 0)
        return rc == -ENOMEM ? rc : -EBADMSG;
    if (root->type != MSGPACK_OBJECT_MAP)
        return -EBADMSG;
    const char *items = type == FRAME_MSG ? "msgs" : "pkts";
    int link = type == FRAME_PKT ? frame_link(root) : -1;
    msgpack_sbuffer_clear(&t->sb);
    t->failed = false;
    msgpack_pack_map(&t->pk, root->via.map.size);
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object_kv *kv = &root->via.map.ptr[i];
        msgpack_pack_object(&t->pk, kv->key);
        if (tapcopy_needed(type) && mpobj_key(&kv->key, items))
            pack_items(&t->pk, type, &kv->val, link);
        else
            msgpack_pack_object(&t->pk, kv->val);
    }
    if (t->failed || !t->sb.data)
        return -ENOMEM;
    *out = t->sb.data;
    *outlen = t->sb.size;
    return 0;
}
