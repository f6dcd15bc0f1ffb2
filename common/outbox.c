/* outbox.c - a ring of sent frames, released by acknowledgement. */
#include "outbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct kept {
    uint64_t seq;
    uint64_t sent_ns;
    enum frame_type type;
    zmq_msg_t msg;
};

struct outbox {
    struct kept *ring;
    unsigned cap, head, count;    /* oldest at head */
    size_t bytes;
    unsigned max_frames;
    size_t max_bytes;
};

outbox_t *outbox_new(unsigned max_frames, size_t max_bytes)
{
    outbox_t *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    o->max_frames = max_frames ? max_frames : 1;
    o->max_bytes = max_bytes;
    return o;
}

static struct kept *at(const outbox_t *o, unsigned i)
{
    return &o->ring[(o->head + i) % o->cap];
}

void outbox_destroy(outbox_t **op)
{
    if (!op || !*op)
        return;
    outbox_t *o = *op;
    for (unsigned i = 0; i < o->count; i++)
        zmq_msg_close(&at(o, i)->msg);
    free(o->ring);
    free(o);
    *op = NULL;
}

/* Doubles the ring, unrolling it so the oldest frame is first. */
static int grow(outbox_t *o)
{
    unsigned cap = o->cap ? o->cap * 2 : 64;
    struct kept *ring = malloc((size_t)cap * sizeof(*ring));
    if (!ring)
        return -ENOMEM;
    for (unsigned i = 0; i < o->count; i++)
        memcpy(&ring[i], at(o, i), sizeof(*ring));
    free(o->ring);
    o->ring = ring;
    o->cap = cap;
    o->head = 0;
    return 0;
}

int outbox_keep(outbox_t *o, uint64_t seq, enum frame_type type,
                zmq_msg_t *msg, uint64_t now_ns)
{
    if (o->count == o->cap && grow(o) < 0)
        return -ENOMEM;
    struct kept *k = at(o, o->count);
    if (zmq_msg_init(&k->msg) != 0 || zmq_msg_copy(&k->msg, msg) != 0)
        return -errno;
    k->seq = seq;
    k->sent_ns = now_ns;
    k->type = type;
    o->count++;
    o->bytes += zmq_msg_size(&k->msg);
    return 0;
}

unsigned outbox_ack(outbox_t *o, uint64_t seq)
{
    unsigned n = 0;
    while (o->count && at(o, 0)->seq <= seq) {
        struct kept *k = at(o, 0);
        o->bytes -= zmq_msg_size(&k->msg);
        zmq_msg_close(&k->msg);
        o->head = (o->head + 1) % o->cap;
        o->count--;
        n++;
    }
    return n;
}

unsigned outbox_count(const outbox_t *o) { return o->count; }

uint64_t outbox_oldest_ns(const outbox_t *o)
{
    return o->count ? at(o, 0)->sent_ns : 0;
}
size_t outbox_bytes(const outbox_t *o) { return o->bytes; }

bool outbox_full(const outbox_t *o)
{
    return o->count >= o->max_frames || o->bytes >= o->max_bytes;
}

int outbox_get(outbox_t *o, unsigned i, uint64_t *seq,
               enum frame_type *type, zmq_msg_t *msg)
{
    if (i >= o->count)
        return -ENOENT;
    struct kept *k = at(o, i);
    if (zmq_msg_init(msg) != 0 || zmq_msg_copy(msg, &k->msg) != 0)
        return -errno;
    *seq = k->seq;
    *type = k->type;
    return 0;
}
