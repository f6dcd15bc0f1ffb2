/* defrag.c - fragments held per datagram, in runs of contiguous bytes. */
#include "defrag.h"
#include "hash.h"

#include <stdlib.h>
#include <string.h>

/* A range of the datagram's payload that is held, [start, end). Adjacent
 * fragments merge into one run, as Linux's frag runs do. */
struct run {
    uint32_t start, end;
};

struct datagram {
    struct datagram *hnext;          /* hash chain */
    struct datagram *older, *newer;  /* age list, by first fragment */
    uint8_t family, proto;
    uint8_t src[16], dst[16];
    uint32_t id;
    uint64_t first_ts;
    uint32_t total;                  /* payload length, once the last
                                        fragment is in */
    bool have_last;
    bool dead;                       /* dropped and counted: absorbs the
                                        rest of its fragments silently
                                        until it times out */
    bool conflict;
    uint32_t n_frags, n_runs;
    struct run runs[DEFRAG_MAX_FRAGMENTS];
    uint8_t *buf;
    uint32_t cap;
};

struct defrag {
    struct defrag_config cfg;
    struct defrag_counters c;
    struct datagram **buckets;
    uint32_t n_buckets;              /* a power of two */
    uint32_t n_held;
    struct datagram *oldest, *newest;
    struct datagram *delivered;      /* backs the last *out until the next
                                        call */
};

defrag_t *defrag_new(const struct defrag_config *cfg)
{
    defrag_t *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->cfg = *cfg;
    if (d->cfg.max_datagrams == 0)
        d->cfg.max_datagrams = 1;
    d->n_buckets = 64;
    while (d->n_buckets < d->cfg.max_datagrams && d->n_buckets < (1u << 20))
        d->n_buckets <<= 1;
    d->buckets = calloc(d->n_buckets, sizeof(*d->buckets));
    if (!d->buckets) {
        free(d);
        return NULL;
    }
    return d;
}

static void free_datagram(defrag_t *d, struct datagram *g)
{
    if (!g)
        return;
    d->c.mem_used -= sizeof(*g) + g->cap;
    free(g->buf);
    free(g);
}

void defrag_destroy(defrag_t **dp)
{
    if (!dp || !*dp)
        return;
    defrag_t *d = *dp;
    struct datagram *g = d->oldest;
    while (g) {
        struct datagram *next = g->newer;
        free_datagram(d, g);
        g = next;
    }
    free_datagram(d, d->delivered);
    free(d->buckets);
    free(d);
    *dp = NULL;
}

const struct defrag_counters *defrag_counters(const defrag_t *d)
{
    return &d->c;
}

static uint32_t key_hash(const struct packet_info *pi)
{
    size_t n = pi->family == 4 ? 4 : 16;
    uint64_t h = hash_fnv1a64(HASH_FNV64_INIT, &pi->frag_id,
                              sizeof(pi->frag_id));
    h = hash_fnv1a64(h, pi->src, n);
    h = hash_fnv1a64(h, pi->dst, n);
    return (uint32_t)(h ^ (h >> 32));
}

static bool same_key(const struct datagram *g, const struct packet_info *pi)
{
    size_t n = pi->family == 4 ? 4 : 16;
    return g->family == pi->family && g->proto == pi->proto &&
           g->id == pi->frag_id && !memcmp(g->src, pi->src, n) &&
           !memcmp(g->dst, pi->dst, n);
}

static struct datagram **slot_of(defrag_t *d, const struct packet_info *pi)
{
    struct datagram **s = &d->buckets[key_hash(pi) & (d->n_buckets - 1)];
    while (*s && !same_key(*s, pi))
        s = &(*s)->hnext;
    return s;
}

/* Takes g out of the table and the age list. */
static void unlink_datagram(defrag_t *d, struct datagram *g)
{
    struct packet_info key;
    memset(&key, 0, sizeof(key));
    key.family = g->family;
    key.proto = g->proto;
    key.frag_id = g->id;
    memcpy(key.src, g->src, sizeof(key.src));
    memcpy(key.dst, g->dst, sizeof(key.dst));
    struct datagram **s = slot_of(d, &key);
    if (*s == g)
        *s = g->hnext;
    if (g->older)
        g->older->newer = g->newer;
    else
        d->oldest = g->newer;
    if (g->newer)
        g->newer->older = g->older;
    else
        d->newest = g->older;
    d->n_held--;
}

static void remove_datagram(defrag_t *d, struct datagram *g)
{
    unlink_datagram(d, g);
    free_datagram(d, g);
}

/* Drops a datagram's bytes and counts it once in `counter`; it stays in
 * the table, dead, so its later fragments are not counted again. */
static void kill(defrag_t *d, struct datagram *g, uint64_t *counter)
{
    if (!g->dead)
        (*counter)++;
    g->dead = true;
    d->c.mem_used -= g->cap;
    free(g->buf);
    g->buf = NULL;
    g->cap = 0;
}

static void evict_oldest(defrag_t *d, const struct datagram *keep)
{
    struct datagram *g = d->oldest;
    if (g == keep)
        g = g->newer;
    if (!g)
        return;
    if (!g->dead)
        d->c.evicted++;
    remove_datagram(d, g);
}

static struct datagram *create(defrag_t *d, struct datagram **slot,
                               const struct packet_info *pi, uint64_t ts)
{
    if (d->n_held >= d->cfg.max_datagrams) {
        evict_oldest(d, NULL);
        slot = slot_of(d, pi); /* the chain may have changed */
    }
    struct datagram *g = calloc(1, sizeof(*g));
    if (!g) {
        d->c.refused++;
        return NULL;
    }
    g->family = pi->family;
    g->proto = pi->proto;
    g->id = pi->frag_id;
    memcpy(g->src, pi->src, sizeof(g->src));
    memcpy(g->dst, pi->dst, sizeof(g->dst));
    g->first_ts = ts;
    g->older = d->newest;
    if (d->newest)
        d->newest->newer = g;
    else
        d->oldest = g;
    d->newest = g;
    *slot = g;
    d->n_held++;
    d->c.mem_used += sizeof(*g);
    return g;
}

/* Room for `end` bytes, within the memcap (evicting older datagrams). */
static bool reserve(defrag_t *d, struct datagram *g, uint32_t end)
{
    if (end <= g->cap)
        return true;
    uint32_t cap = g->cap ? g->cap : 2048;
    while (cap < end)
        cap *= 2;
    if (cap > DEFRAG_MAX_BYTES)
        cap = DEFRAG_MAX_BYTES;
    uint64_t grow = cap - g->cap;
    while (d->c.mem_used + grow > d->cfg.memcap && d->oldest &&
           (d->oldest != g || g->newer))
        evict_oldest(d, g);
    if (d->c.mem_used + grow > d->cfg.memcap)
        return false;
    uint8_t *b = realloc(g->buf, cap);
    if (!b)
        return false;
    memset(b + g->cap, 0, cap - g->cap);
    g->buf = b;
    g->cap = cap;
    d->c.mem_used += grow;
    return true;
}

enum fit { FIT_NEW, FIT_INSIDE, FIT_OVERLAP };

static enum fit fit(const struct datagram *g, uint32_t start, uint32_t end)
{
    for (uint32_t i = 0; i < g->n_runs; i++) {
        const struct run *r = &g->runs[i];
        if (end <= r->start || start >= r->end)
            continue;
        return start >= r->start && end <= r->end ? FIT_INSIDE : FIT_OVERLAP;
    }
    return FIT_NEW;
}

/* Adds [start, end) (known not to overlap) and merges neighbours. */
static void add_run(struct datagram *g, uint32_t start, uint32_t end)
{
    uint32_t i = 0;
    while (i < g->n_runs && g->runs[i].start < start)
        i++;
    memmove(&g->runs[i + 1], &g->runs[i],
            (g->n_runs - i) * sizeof(g->runs[0]));
    g->runs[i] = (struct run){ start, end };
    g->n_runs++;
    uint32_t w = 0;
    for (uint32_t r = 1; r < g->n_runs; r++) {
        if (g->runs[r].start == g->runs[w].end)
            g->runs[w].end = g->runs[r].end;
        else
            g->runs[++w] = g->runs[r];
    }
    g->n_runs = w + 1;
}

/* Checks the fragment's place against what the datagram knows of its
 * end. False when the datagram is inconsistent (the endpoint drops it). */
static bool place(struct datagram *g, const struct packet_info *pi,
                  uint32_t start, uint32_t *end)
{
    if (pi->more_fragments && (*end - start) % 8) {
        /* IPv4 (Linux) trims a non-last fragment to 8 bytes; IPv6
         * (RFC 8200) refuses it. */
        if (pi->family == 6)
            return false;
        *end -= (*end - start) % 8;
    }
    if (*end > DEFRAG_MAX_BYTES || *end <= start)
        return false;
    if (!pi->more_fragments) {
        if (g->have_last && *end != g->total)
            return false;
        for (uint32_t i = 0; i < g->n_runs; i++)
            if (g->runs[i].end > *end)
                return false;
        g->have_last = true;
        g->total = *end;
    } else if (g->have_last && *end > g->total) {
        return false;
    }
    return true;
}

/* The whole payload is held: decode it as one segment. The datagram
 * leaves the table but lives until the next call, since *out points
 * into it. */
static int deliver(defrag_t *d, struct datagram *g,
                   const struct packet_info *pi, struct packet_info *out,
                   bool *conflict)
{
    unlink_datagram(d, g);
    d->delivered = g;
    *out = *pi;
    *conflict = g->conflict;
    if (packet_decode_tcp(g->buf, g->total, out) != PACKET_OK) {
        d->c.invalid++;
        return -1;
    }
    d->c.datagrams++;
    return 1;
}

int defrag_add(defrag_t *d, const struct packet_info *pi, uint64_t ts_ns,
               struct packet_info *out, bool *conflict)
{
    free_datagram(d, d->delivered);
    d->delivered = NULL;
    d->c.fragments++;
    struct datagram **slot = slot_of(d, pi);
    struct datagram *g = *slot ? *slot : create(d, slot, pi, ts_ns);
    if (!g)
        return -1;
    if (g->dead)
        return -1;
    uint32_t start = pi->frag_offset;
    uint32_t end = start + (uint32_t)pi->ip_payload_len;
    if (pi->ip_truncated || ++g->n_frags > DEFRAG_MAX_FRAGMENTS ||
        !place(g, pi, start, &end)) {
        kill(d, g, &d->c.invalid);
        return -1;
    }
    switch (fit(g, start, end)) {
    case FIT_INSIDE:
        d->c.duplicates++;
        if (memcmp(g->buf + start, pi->ip_payload, end - start)) {
            d->c.conflicts++;
            g->conflict = true;
        }
        return 0;
    case FIT_OVERLAP:
        kill(d, g, &d->c.overlaps);
        return -1;
    case FIT_NEW:
        break;
    }
    if (!reserve(d, g, end)) {
        kill(d, g, &d->c.refused);
        return -1;
    }
    memcpy(g->buf + start, pi->ip_payload, end - start);
    add_run(g, start, end);
    if (g->have_last && g->n_runs == 1 && g->runs[0].start == 0 &&
        g->runs[0].end == g->total)
        return deliver(d, g, pi, out, conflict);
    return 0;
}

void defrag_expire(defrag_t *d, uint64_t now_ns)
{
    free_datagram(d, d->delivered);
    d->delivered = NULL;
    while (d->oldest && d->oldest->first_ts + d->cfg.timeout_ns < now_ns) {
        if (!d->oldest->dead)
            d->c.timeouts++;
        remove_datagram(d, d->oldest);
    }
}
