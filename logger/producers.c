/* producers.c - in-order intake and acknowledgements per producer. */
#include "producers.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define INC_DIGITS 16

struct producer {
    char id[STORE_PRODUCER_ID_MAX];
    uint32_t len;
    uint64_t next;                /* the seq taken next */
    uint64_t taken;               /* last seq taken (valid when next) */
    bool pending;                 /* taken since the last commit */
    bool committed;               /* `taken` is durable */
    bool first;                   /* no commit of this incarnation yet */
    uint64_t used;                /* for replacing the least recent */
};

struct producers {
    store_t *store;
    char src[64];
    producers_reply_fn reply;
    void *ctx;
    struct producer p[PRODUCERS_MAX];
    unsigned n;
    uint64_t clock;
    msgpack_sbuffer sb;
    struct log_limit gap_log;
    uint64_t *duplicates, *out_of_order, *dropped;
};

producers_t *producers_new(store_t *store, const char *src, stats_t *st,
                           producers_reply_fn reply, void *ctx)
{
    producers_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->store = store;
    snprintf(p->src, sizeof(p->src), "%s", src);
    p->reply = reply;
    p->ctx = ctx;
    msgpack_sbuffer_init(&p->sb);
    p->duplicates = stats_add(st, "frames_duplicate");
    p->out_of_order = stats_add(st, "frames_out_of_order");
    p->dropped = stats_add(st, "producers_dropped");
    if (!p->duplicates || !p->out_of_order || !p->dropped) {
        producers_destroy(&p);
        return NULL;
    }
    return p;
}

void producers_destroy(producers_t **pp)
{
    if (!pp || !*pp)
        return;
    msgpack_sbuffer_destroy(&(*pp)->sb);
    free(*pp);
    *pp = NULL;
}

/* "<src>:<16 hex digits>", as bus_out_new_acked() names an incarnation. */
static bool acked_id(struct bytes peer)
{
    if (peer.n < INC_DIGITS + 2 || peer.n > STORE_PRODUCER_ID_MAX ||
        peer.p[peer.n - INC_DIGITS - 1] != ':')
        return false;
    for (uint32_t i = peer.n - INC_DIGITS; i < peer.n; i++)
        if (!strchr("0123456789abcdef", peer.p[i]) || !peer.p[i])
            return false;
    return true;
}

static void ack(producers_t *p, const struct producer *pr)
{
    if (!pr->committed ||
        frame_encode_ack(&p->sb, p->src, pr->taken) < 0)
        return;
    struct bytes peer = { pr->id, pr->len };
    p->reply(p->ctx, peer, p->sb.data, p->sb.size);
}

/* A slot for a producer first heard now: a free one, or the least
 * recently used one with nothing pending (forgetting it is safe: the
 * trail has its committed seq). NULL when every slot is pending. */
static struct producer *slot(producers_t *p)
{
    if (p->n < PRODUCERS_MAX)
        return &p->p[p->n++];
    struct producer *old = NULL;
    for (unsigned i = 0; i < p->n; i++)
        if (!p->p[i].pending && (!old || p->p[i].used < old->used))
            old = &p->p[i];
    if (old)
        (*p->dropped)++;
    return old;
}

static struct producer *find(producers_t *p, struct bytes peer)
{
    for (unsigned i = 0; i < p->n; i++)
        if (p->p[i].len == peer.n && !memcmp(p->p[i].id, peer.p, peer.n))
            return &p->p[i];
    struct producer *pr = slot(p);
    if (!pr)
        return NULL;
    memset(pr, 0, sizeof(*pr));
    memcpy(pr->id, peer.p, peer.n);
    pr->len = peer.n;
    uint64_t seq;
    int rc = store_producer_get(p->store, peer, &seq);
    if (rc == 0) {
        /* a producer we knew before a restart */
        pr->taken = seq;
        pr->next = seq + 1;
        pr->committed = true;
    } else {
        pr->first = true;
    }
    return pr;
}

bool producers_admit(producers_t *p, const struct frame *f,
                     struct bytes peer)
{
    if (!acked_id(peer))
        return true;
    struct producer *pr = find(p, peer);
    if (!pr) {
        (*p->out_of_order)++; /* it sends again once we have room */
        return false;
    }
    pr->used = ++p->clock;
    if (f->seq < pr->next) {
        (*p->duplicates)++;
        ack(p, pr); /* it may have missed the acknowledgement */
        return false;
    }
    if (f->seq > pr->next) {
        (*p->out_of_order)++;
        log_limited(&p->gap_log, LOG_INFO,
                    "%.*s: frame %llu before %llu: waiting for it to be "
                    "sent again", (int)peer.n, peer.p,
                    (unsigned long long)f->seq,
                    (unsigned long long)pr->next);
        return false;
    }
    pr->taken = f->seq;
    pr->next = f->seq + 1;
    pr->pending = true;
    return true;
}

bool producers_pending(const producers_t *p)
{
    for (unsigned i = 0; i < p->n; i++)
        if (p->p[i].pending)
            return true;
    return false;
}

int producers_stage(producers_t *p)
{
    for (unsigned i = 0; i < p->n; i++) {
        struct producer *pr = &p->p[i];
        if (!pr->pending)
            continue;
        struct bytes id = { pr->id, pr->len };
        int rc = store_producer_put(p->store, id, pr->taken, pr->first);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void producers_committed(producers_t *p)
{
    for (unsigned i = 0; i < p->n; i++) {
        struct producer *pr = &p->p[i];
        if (!pr->pending)
            continue;
        pr->pending = false;
        pr->first = false;
        pr->committed = true;
        ack(p, pr);
    }
}
