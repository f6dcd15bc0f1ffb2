/* flow.c - chained hash of canonical 5-tuples, LRU lists, entry pool.
 *
 * Every entry is on exactly one list: `half` (open, half-open, LRU oldest
 * first), `live` (open, LRU), `dead` (tombstones, oldest first) or
 * `free`. Buckets are a power of two at
 * least max_flows, so chains stay short; the bucket hash is our own, not
 * packet_flow_hash(), whose value modulo the shard count is the same for
 * every flow of a shard.
 */
#include "flow.h"
#include "hash.h"

#include <stdlib.h>
#include <string.h>

#define ALIGN16(n) (((n) + 15) & ~(size_t)15)
#define MAX_BUCKETS (1u << 24)

struct list {
    struct flow *head, *tail;
};

struct slab {
    struct slab *next;
};

struct flow_table {
    uint32_t max_flows;
    uint32_t n;              /* entries in use */
    size_t data_size;
    size_t stride;           /* entry + data, 16-aligned */
    struct flow **buckets;
    uint32_t mask;
    struct list half, live, dead;
    uint64_t memcap;         /* pool slabs stop growing here */
    struct flow *free;       /* free list through `next` */
    struct slab *slabs;
    flow_end_cb cb;
    void *ctx;
    struct flow_counters c;
};

const char *flow_end_name(enum flow_end why)
{
    switch (why) {
    case FLOW_END_FIN: return "fin";
    case FLOW_END_RST: return "rst";
    case FLOW_END_IDLE: return "idle";
    case FLOW_END_EOF: return "eof";
    case FLOW_END_SIGNAL: return "signal";
    case FLOW_END_EVICTED: return "evicted";
    case FLOW_END_REUSED: return "reused";
    }
    return "?";
}

void flow_key_make(const struct packet_info *pi, struct flow_key *k,
                   unsigned *src_side)
{
    size_t n = pi->family == 6 ? 16 : 4;
    memset(k, 0, sizeof(*k));
    k->family = pi->family;
    int c = memcmp(pi->src, pi->dst, n);
    if (c == 0)
        c = pi->sport < pi->dport ? -1 : pi->sport > pi->dport;
    /* A connection to itself (same address and port) maps to side 0. */
    unsigned s = c <= 0 ? 0 : 1;
    memcpy(k->addr[s], pi->src, n);
    memcpy(k->addr[!s], pi->dst, n);
    k->port[s] = pi->sport;
    k->port[!s] = pi->dport;
    *src_side = s;
}

/* FNV-1a 64 over the key, then a finaliser (splitmix64). */
static uint64_t key_hash(const struct flow_key *k, uint64_t seed)
{
    uint64_t h = hash_fnv1a64(HASH_FNV64_INIT ^ seed, k, sizeof(*k));
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

void flow_uid(const struct flow_key *k, uint64_t ts_ns, char *out)
{
    static const char hex[] = "0123456789abcdef";
    /* The protocol (6) is part of the 5-tuple; mixing it in keeps uids
     * distinct should other protocols ever share the scheme. */
    uint64_t h = key_hash(k, ts_ns * 0x9e3779b97f4a7c15ull + 6);
    h ^= ts_ns;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    for (int i = FLOW_UID_LEN - 1; i >= 0; i--) {
        out[i] = hex[h & 15];
        h >>= 4;
    }
    out[FLOW_UID_LEN] = '\0';
}

static void list_push(struct list *l, struct flow *f)
{
    f->next = NULL;
    f->prev = l->tail;
    if (l->tail)
        l->tail->next = f;
    else
        l->head = f;
    l->tail = f;
}

static void list_unlink(struct list *l, struct flow *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        l->head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        l->tail = f->prev;
    f->prev = f->next = NULL;
}

flow_table_t *flow_table_new(uint32_t max_flows, size_t data_size,
                             flow_end_cb cb, void *ctx)
{
    flow_table_t *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->max_flows = max_flows ? max_flows : 1;
    t->data_size = data_size;
    t->stride = ALIGN16(sizeof(struct flow)) + ALIGN16(data_size);
    uint32_t nb = 16;
    while (nb < t->max_flows && nb < MAX_BUCKETS)
        nb <<= 1;
    t->buckets = calloc(nb, sizeof(*t->buckets));
    if (!t->buckets) {
        free(t);
        return NULL;
    }
    t->mask = nb - 1;
    t->memcap = UINT64_MAX;
    t->c.mem_used = (uint64_t)nb * sizeof(*t->buckets);
    t->cb = cb;
    t->ctx = ctx;
    return t;
}

void flow_table_destroy(flow_table_t **tp)
{
    if (!tp || !*tp)
        return;
    flow_table_t *t = *tp;
    while (t->slabs) {
        struct slab *s = t->slabs;
        t->slabs = s->next;
        free(s);
    }
    free(t->buckets);
    free(t);
    *tp = NULL;
}

const struct flow_counters *flow_table_counters(const flow_table_t *t)
{
    return &t->c;
}

uint32_t flow_table_size(const flow_table_t *t)
{
    return t->n;
}

static size_t slab_bytes(const flow_table_t *t)
{
    return ALIGN16(sizeof(struct slab)) + t->stride * FLOW_SLAB;
}

/* The first slab is always allowed, so a tiny memcap still tracks. */
static bool may_grow(const flow_table_t *t)
{
    return !t->slabs || t->c.mem_used + slab_bytes(t) <= t->memcap;
}

/* Carves a new slab into the free list. */
static int grow(flow_table_t *t)
{
    size_t head = ALIGN16(sizeof(struct slab));
    struct slab *s = malloc(slab_bytes(t));
    if (!s)
        return -1;
    t->c.mem_used += slab_bytes(t);
    s->next = t->slabs;
    t->slabs = s;
    uint8_t *base = (uint8_t *)s + head;
    for (unsigned i = 0; i < FLOW_SLAB; i++) {
        struct flow *f = (struct flow *)(base + t->stride * i);
        f->data = (uint8_t *)f + ALIGN16(sizeof(struct flow));
        f->next = t->free;
        t->free = f;
    }
    return 0;
}

struct flow *flow_find(flow_table_t *t, const struct flow_key *k)
{
    uint64_t h = key_hash(k, 0);
    for (struct flow *f = t->buckets[h & t->mask]; f; f = f->hnext)
        if (f->hash == h && memcmp(&f->key, k, sizeof(*k)) == 0)
            return f;
    return NULL;
}

void flow_remove(flow_table_t *t, struct flow *f)
{
    struct flow **pp = &t->buckets[f->hash & t->mask];
    while (*pp && *pp != f)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = f->hnext;
    if (f->closed) {
        list_unlink(&t->dead, f);
    } else if (f->live) {
        list_unlink(&t->live, f);
        t->c.flows_active--;
    } else {
        list_unlink(&t->half, f);
        t->c.flows_active--;
        t->c.flows_halfopen--;
    }
    t->n--;
    f->next = t->free;
    t->free = f;
}

/* True when f has seen nothing for at least d at clock now (written so
 * that no sum can overflow). */
static bool idle_for(const struct flow *f, uint64_t now_ns, uint64_t d)
{
    return now_ns >= f->ts_last_ns && now_ns - f->ts_last_ns >= d;
}

/* Ends an open flow through the owner, then frees it. */
static void end_flow(flow_table_t *t, struct flow *f, enum flow_end why)
{
    if (t->cb)
        t->cb(t->ctx, f, why);
    flow_remove(t, f);
}

static void evict(flow_table_t *t, struct flow *f, uint64_t *reason)
{
    end_flow(t, f, FLOW_END_EVICTED);
    t->c.flows_evicted++;
    (*reason)++;
}

/* Frees an entry for a new flow if the table is full: a tombstone, a
 * half-open flow, a live one idle long enough. False when none may go. */
static bool make_room(flow_table_t *t, uint64_t now_ns)
{
    struct flow *old = t->live.head;
    if (t->n < t->max_flows && (t->free || may_grow(t)))
        return true;
    if (t->dead.head)
        flow_remove(t, t->dead.head);
    else if (t->half.head)
        evict(t, t->half.head, &t->c.evicted_halfopen);
    else if (old && idle_for(old, now_ns, FLOW_EVICT_MIN_IDLE_NS))
        evict(t, old, &t->c.evicted_idle);
    else
        return false;
    return true;
}

struct flow *flow_create(flow_table_t *t, const struct flow_key *k,
                         uint64_t ts_ns, uint64_t now_ns)
{
    if (!make_room(t, now_ns)) {
        t->c.flows_refused++;
        return NULL;
    }
    if (!t->free && grow(t) < 0) {
        t->c.flows_refused++;
        return NULL;
    }
    struct flow *f = t->free;
    t->free = f->next;
    void *data = f->data;
    memset(f, 0, sizeof(*f));
    f->data = data;
    memset(data, 0, t->data_size);
    f->key = *k;
    f->hash = key_hash(k, 0);
    flow_uid(k, ts_ns, f->uid);
    f->ts_first_ns = ts_ns;
    f->ts_last_ns = now_ns;
    struct flow **b = &t->buckets[f->hash & t->mask];
    f->hnext = *b;
    *b = f;
    list_push(&t->half, f);
    t->n++;
    t->c.flows++;
    t->c.flows_active++;
    t->c.flows_halfopen++;
    return f;
}

void flow_touch(flow_table_t *t, struct flow *f, uint64_t now_ns)
{
    struct list *l = f->live ? &t->live : &t->half;
    if (now_ns > f->ts_last_ns)
        f->ts_last_ns = now_ns;
    if (f->closed || l->tail == f)
        return;
    list_unlink(l, f);
    list_push(l, f);
}

void flow_set_live(flow_table_t *t, struct flow *f)
{
    if (f->closed || f->live)
        return;
    list_unlink(&t->half, f);
    t->c.flows_halfopen--;
    f->live = true;
    list_push(&t->live, f);
}

void flow_table_set_memcap(flow_table_t *t, uint64_t bytes)
{
    t->memcap = bytes;
}

bool flow_evict(flow_table_t *t, uint64_t now_ns, const struct flow *keep)
{
    struct flow *f = t->half.head;
    if (f && f == keep)
        f = f->next;
    if (f) {
        evict(t, f, &t->c.evicted_halfopen);
        return true;
    }
    f = t->live.head;
    if (f && f == keep)
        f = f->next;
    if (!f)
        return false;
    evict(t, f, idle_for(f, now_ns, FLOW_EVICT_MIN_IDLE_NS)
                    ? &t->c.evicted_idle
                    : &t->c.evicted_pressure);
    return true;
}

void flow_close(flow_table_t *t, struct flow *f, uint64_t now_ns)
{
    if (f->closed)
        return;
    if (f->live) {
        list_unlink(&t->live, f);
    } else {
        list_unlink(&t->half, f);
        t->c.flows_halfopen--;
    }
    t->c.flows_active--;
    f->closed = true;
    if (now_ns > f->ts_last_ns)
        f->ts_last_ns = now_ns;
    list_push(&t->dead, f);
}

void flow_expire(flow_table_t *t, uint64_t now_ns, uint64_t idle_ns)
{
    struct flow *f;
    while ((f = t->half.head) && idle_for(f, now_ns, idle_ns))
        end_flow(t, f, FLOW_END_IDLE);
    while ((f = t->live.head) && idle_for(f, now_ns, idle_ns))
        end_flow(t, f, FLOW_END_IDLE);
    uint64_t linger = idle_ns < FLOW_LINGER_NS ? idle_ns : FLOW_LINGER_NS;
    while ((f = t->dead.head) && idle_for(f, now_ns, linger))
        flow_remove(t, f);
}

void flow_end_all(flow_table_t *t, enum flow_end why)
{
    /* half-open flows carry no messages: ending them first changes the
     * order of no record */
    while (t->half.head)
        end_flow(t, t->half.head, why);
    while (t->live.head)
        end_flow(t, t->live.head, why);
    while (t->dead.head)
        flow_remove(t, t->dead.head);
}
