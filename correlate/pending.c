/* pending.c - waits keyed by (uid, index), in deadline FIFOs by timeout;
 * moved waits in deadline heaps. */
#include "pending.h"
#include "uid.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct pending_entry {
    pending_entry_t *hnext;          /* hash chain */
    pending_entry_t *prev, *next;    /* FIFO, unless moved */
    unsigned lane;                   /* its timeout's lane, when waiting */
    bool moved;                      /* in a heap instead of a FIFO */
    uint32_t slot;                   /* its place in that heap */
    uint64_t uid;
    uint32_t idx;
    uint64_t deadline;
    const struct config_policy *policy;
    bool tombstone;
    struct req_summary sum;          /* points into data[] */
    size_t raw_len;
    const char *raw;
    char data[];                     /* the summary's strings, then raw */
};

struct fifo {
    pending_entry_t *head, *tail;
};

/* The waits of one timeout, whatever policy or config it came from:
 * added in order of their last byte, each FIFO is in deadline order. */
struct lane {
    uint64_t timeout;
    struct fifo live, buried;
};

/* A binary min-heap by deadline; each entry knows its slot, so it can
 * leave from anywhere. */
struct heap {
    pending_entry_t **a;
    uint32_t n, cap;
};

struct pending {
    uint32_t max, count;
    uint32_t nbuckets;               /* power of two */
    pending_entry_t **buckets;
    struct lane *lanes;              /* one per timeout seen */
    unsigned nlanes, lanes_cap;
    struct fifo unwaited;
    struct heap moved[2];            /* [0] live waits, [1] tombstones */
    uint64_t *gauge, *refused, *duplicate, *move_failed;
};

pending_t *pending_new(uint32_t max, stats_t *st)
{
    pending_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->max = max ? max : 1;
    p->nbuckets = 1024;
    while (p->nbuckets < p->max && p->nbuckets < (1u << 24))
        p->nbuckets <<= 1;
    p->buckets = calloc(p->nbuckets, sizeof(*p->buckets));
    if (!p->buckets) {
        pending_destroy(&p);
        return NULL;
    }
    p->gauge = stats_add(st, "pending");
    p->refused = stats_add(st, "pending_refused");
    p->duplicate = stats_add(st, "pending_duplicate");
    p->move_failed = stats_add(st, "pending_move_failed");
    return p;
}

static void free_fifo(struct fifo *f)
{
    pending_entry_t *e = f->head;
    while (e) {
        pending_entry_t *next = e->next;
        free(e);
        e = next;
    }
}

void pending_destroy(pending_t **pp)
{
    pending_t *p = pp ? *pp : NULL;
    if (!p)
        return;
    free_fifo(&p->unwaited);
    for (unsigned l = 0; l < p->nlanes; l++) {
        free_fifo(&p->lanes[l].live);
        free_fifo(&p->lanes[l].buried);
    }
    for (int h = 0; h < 2; h++) {
        for (uint32_t i = 0; i < p->moved[h].n; i++)
            free(p->moved[h].a[i]);
        free(p->moved[h].a);
    }
    free(p->lanes);
    free(p->buckets);
    free(p);
    *pp = NULL;
}

static uint32_t bucket_of(const pending_t *p, uint64_t uid, uint32_t idx)
{
    return (uint32_t)(pending_key_hash(uid, idx) >> 32) & (p->nbuckets - 1);
}

static void fifo_push(struct fifo *f, pending_entry_t *e)
{
    e->next = NULL;
    e->prev = f->tail;
    if (f->tail)
        f->tail->next = e;
    else
        f->head = e;
    f->tail = e;
}

static void fifo_unlink(struct fifo *f, pending_entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        f->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        f->tail = e->prev;
    e->prev = e->next = NULL;
}

static void heap_set(struct heap *h, uint32_t i, pending_entry_t *e)
{
    h->a[i] = e;
    e->slot = i;
}

static void heap_up(struct heap *h, uint32_t i)
{
    pending_entry_t *e = h->a[i];
    while (i > 0) {
        uint32_t up = (i - 1) / 2;
        if (h->a[up]->deadline <= e->deadline)
            break;
        heap_set(h, i, h->a[up]);
        i = up;
    }
    heap_set(h, i, e);
}

static void heap_down(struct heap *h, uint32_t i)
{
    pending_entry_t *e = h->a[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->a[c + 1]->deadline < h->a[c]->deadline)
            c++;
        if (e->deadline <= h->a[c]->deadline)
            break;
        heap_set(h, i, h->a[c]);
        i = c;
    }
    heap_set(h, i, e);
}

/* Room for want entries; the heaps never hold more than the table. */
static int heap_reserve(struct heap *h, uint32_t want)
{
    if (want <= h->cap)
        return 0;
    uint32_t cap = h->cap ? h->cap : 64;
    while (cap < want)
        cap *= 2;
    pending_entry_t **a = realloc(h->a, (size_t)cap * sizeof(*a));
    if (!a)
        return -ENOMEM;
    h->a = a;
    h->cap = cap;
    return 0;
}

/* The caller reserved the room. */
static void heap_push(struct heap *h, pending_entry_t *e)
{
    heap_set(h, h->n++, e);
    heap_up(h, e->slot);
}

static void heap_remove(struct heap *h, pending_entry_t *e)
{
    uint32_t i = e->slot;
    pending_entry_t *last = h->a[--h->n];
    if (i == h->n)
        return;
    heap_set(h, i, last);
    heap_down(h, i);
    heap_up(h, last->slot);
}

static pending_entry_t *heap_top(const struct heap *h)
{
    return h->n ? h->a[0] : NULL;
}

/* The FIFO e sits in when it is not moved. */
static struct fifo *fifo_of(pending_t *p, const pending_entry_t *e)
{
    if (!e->policy)
        return &p->unwaited;
    struct lane *l = &p->lanes[e->lane];
    return e->tombstone ? &l->buried : &l->live;
}

/* Takes e out of its FIFO or heap. */
static void unlink_entry(pending_t *p, pending_entry_t *e)
{
    if (e->moved)
        heap_remove(&p->moved[e->tombstone], e);
    else
        fifo_unlink(fifo_of(p, e), e);
}

/* The lane of timeout, added when new. Its index, or -ENOMEM. */
static int lane_of(pending_t *p, uint64_t timeout)
{
    for (unsigned i = 0; i < p->nlanes; i++)
        if (p->lanes[i].timeout == timeout)
            return (int)i;
    if (p->nlanes == p->lanes_cap) {
        unsigned cap = p->lanes_cap ? 2 * p->lanes_cap : 8;
        struct lane *l = realloc(p->lanes, cap * sizeof(*l));
        if (!l)
            return -ENOMEM;
        p->lanes = l;
        p->lanes_cap = cap;
    }
    memset(&p->lanes[p->nlanes], 0, sizeof(p->lanes[0]));
    p->lanes[p->nlanes].timeout = timeout;
    return (int)p->nlanes++;
}

/* Copies b into the entry's data area at *off and points dst at it. */
static void keep(pending_entry_t *e, size_t *off, struct bytes b,
                 struct bytes *dst)
{
    if (b.n)
        memcpy(e->data + *off, b.p, b.n);
    dst->p = e->data + *off;
    dst->n = b.n;
    *off += b.n;
}

pending_entry_t *pending_add(pending_t *p, const struct http_msg *req,
                             const struct config_policy *policy,
                             const void *raw, size_t raw_len)
{
    uint64_t uid = uid_value(req->uid);
    if (pending_find(p, req->uid, req->idx)) {
        (*p->duplicate)++;
        return NULL;
    }
    if (p->count >= p->max) {
        (*p->refused)++;
        return NULL;
    }
    int lane = policy ? lane_of(p, policy->steps[policy->wait_step].timeout_ns)
                      : 0;
    if (lane < 0) {
        (*p->refused)++;
        return NULL;
    }
    struct req_summary s;
    policy_summarize(req, &s);
    size_t need = (size_t)s.uid.n + s.addr.src_ip.n + s.addr.dst_ip.n +
                  s.route.group.n + s.route.path.n + s.route.policy.n +
                  s.method.n + s.uri.n + s.host.n + (raw ? raw_len : 0);
    pending_entry_t *e = malloc(sizeof(*e) + need);
    if (!e) {
        (*p->refused)++;
        return NULL;
    }
    memset(e, 0, sizeof(*e));
    e->uid = uid;
    e->idx = req->idx;
    e->policy = policy;
    e->sum = s;
    size_t off = 0;
    keep(e, &off, s.uid, &e->sum.uid);
    keep(e, &off, s.addr.src_ip, &e->sum.addr.src_ip);
    keep(e, &off, s.addr.dst_ip, &e->sum.addr.dst_ip);
    keep(e, &off, s.route.group, &e->sum.route.group);
    keep(e, &off, s.route.path, &e->sum.route.path);
    keep(e, &off, s.route.policy, &e->sum.route.policy);
    keep(e, &off, s.method, &e->sum.method);
    keep(e, &off, s.uri, &e->sum.uri);
    keep(e, &off, s.host, &e->sum.host);
    if (raw) {
        memcpy(e->data + off, raw, raw_len);
        e->raw = e->data + off;
        e->raw_len = raw_len;
    }
    e->lane = (unsigned)lane;
    e->deadline = req->ts_end_ns +
                  (policy ? p->lanes[lane].timeout : PENDING_UNWAITED_NS);
    fifo_push(fifo_of(p, e), e);
    uint32_t b = bucket_of(p, uid, req->idx);
    e->hnext = p->buckets[b];
    p->buckets[b] = e;
    p->count++;
    *p->gauge = p->count;
    return e;
}

pending_entry_t *pending_find(pending_t *p, struct bytes uid, uint32_t idx)
{
    uint64_t v = uid_value(uid);
    for (pending_entry_t *e = p->buckets[bucket_of(p, v, idx)]; e;
         e = e->hnext)
        if (e->uid == v && e->idx == idx)
            return e;
    return NULL;
}

void pending_remove(pending_t *p, pending_entry_t *e)
{
    pending_entry_t **pp = &p->buckets[bucket_of(p, e->uid, e->idx)];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    unlink_entry(p, e);
    p->count--;
    *p->gauge = p->count;
    free(e);
}

/* The first entry due among the FIFO heads and heap tops: live waits
 * (pass 0) or tombstones and unwaited requests (pass 1). */
static pending_entry_t *earlier(pending_entry_t *best, pending_entry_t *h)
{
    return h && (!best || h->deadline < best->deadline) ? h : best;
}

static pending_entry_t *first_due(pending_t *p, int pass)
{
    pending_entry_t *best = heap_top(&p->moved[pass]);
    if (pass == 1)
        best = earlier(best, p->unwaited.head);
    for (unsigned l = 0; l < p->nlanes; l++)
        best = earlier(best, pass == 0 ? p->lanes[l].live.head
                                       : p->lanes[l].buried.head);
    return best;
}

pending_entry_t *pending_next_expired(pending_t *p, uint64_t wm)
{
    /* Live waits first, so a wait is reported before any tombstone is
     * swept at the same watermark. */
    for (int pass = 0; pass < 2; pass++) {
        pending_entry_t *e = first_due(p, pass);
        if (e && e->deadline < wm)
            return e;
    }
    return NULL;
}

int pending_move(pending_t *p, pending_entry_t *e, uint64_t deadline)
{
    if (e->moved || e->tombstone || !e->policy)
        return 0;
    /* Room for its tombstone too, so that burying it cannot fail. */
    struct heap *live = &p->moved[0], *dead = &p->moved[1];
    if (heap_reserve(live, live->n + 1) < 0 ||
        heap_reserve(dead, live->n + dead->n + 1) < 0) {
        (*p->move_failed)++;
        return -ENOMEM;
    }
    fifo_unlink(fifo_of(p, e), e);
    e->moved = true;
    e->deadline = deadline;
    heap_push(live, e);
    return 0;
}

void pending_bury(pending_t *p, pending_entry_t *e)
{
    if (e->tombstone || !e->policy)
        return;
    unlink_entry(p, e);
    e->tombstone = true;
    e->deadline += p->lanes[e->lane].timeout;
    if (e->moved)
        heap_push(&p->moved[1], e);
    else
        fifo_push(fifo_of(p, e), e);
}

pending_entry_t *pending_any(pending_t *p)
{
    pending_entry_t *e = first_due(p, 0);
    return e ? e : first_due(p, 1);
}

const struct req_summary *pending_summary(const pending_entry_t *e)
{
    return &e->sum;
}

const struct config_policy *pending_policy(const pending_entry_t *e)
{
    return e->policy;
}

uint64_t pending_deadline(const pending_entry_t *e) { return e->deadline; }
bool pending_is_tombstone(const pending_entry_t *e) { return e->tombstone; }
bool pending_is_moved(const pending_entry_t *e) { return e->moved; }
bool pending_waits(const pending_entry_t *e) { return e->policy != NULL; }

const void *pending_raw(const pending_entry_t *e, size_t *len)
{
    *len = e->raw_len;
    return e->raw;
}

