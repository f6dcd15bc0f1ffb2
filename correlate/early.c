/* early.c - held early responses: a hash by (uid, idx) for their
 * requests, a list in arrival order for closes and the end. */
#include "early.h"
#include "pending.h"
#include "uid.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define EARLY_BUCKETS 256u /* power of two */

struct early_item {
    early_item_t *hnext;           /* hash chain */
    early_item_t *prev, *next;     /* arrival order */
    uint64_t uid;
    uint32_t idx;
    size_t len;
    unsigned char raw[];
};

struct early {
    early_item_t *buckets[EARLY_BUCKETS];
    early_item_t *oldest, *newest;
    uint32_t count;
    size_t bytes;                  /* of the raw responses held */
    uint64_t *held, *refused;
};

early_t *early_new(stats_t *st)
{
    early_t *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->held = stats_add(st, "early_held");
    h->refused = stats_add(st, "early_refused");
    return h;
}

void early_destroy(early_t **ph)
{
    early_t *h = ph ? *ph : NULL;
    if (!h)
        return;
    early_item_t *it;
    while ((it = early_take_conn(h, NULL)))
        early_item_free(&it);
    free(h);
    *ph = NULL;
}

static early_item_t **bucket_of(early_t *h, uint64_t uid, uint32_t idx)
{
    return &h->buckets[(pending_key_hash(uid, idx) >> 32) &
                       (EARLY_BUCKETS - 1)];
}

static early_item_t **find(early_t *h, uint64_t uid, uint32_t idx)
{
    early_item_t **pp = bucket_of(h, uid, idx);
    while (*pp && ((*pp)->uid != uid || (*pp)->idx != idx))
        pp = &(*pp)->hnext;
    return pp;
}

int early_hold(early_t *h, struct bytes uid, uint32_t idx, const void *raw,
               size_t len)
{
    uint64_t v = uid_value(uid);
    int rc = 0;
    early_item_t **pp = find(h, v, idx), *it = NULL;
    if (*pp)
        rc = -EEXIST;
    else if (h->count >= EARLY_MAX || len > EARLY_MAX_BYTES - h->bytes)
        rc = -ENOSPC;
    else if (!(it = malloc(sizeof(*it) + len)))
        rc = -ENOMEM;
    if (rc < 0) {
        (*h->refused)++;
        return rc;
    }
    it->uid = v;
    it->idx = idx;
    it->len = len;
    if (len)
        memcpy(it->raw, raw, len);
    it->hnext = NULL;
    *pp = it;
    it->next = NULL;
    it->prev = h->newest;
    if (h->newest)
        h->newest->next = it;
    else
        h->oldest = it;
    h->newest = it;
    h->count++;
    h->bytes += len;
    (*h->held)++;
    return 0;
}

/* Unlinks the item *pp points at (in its hash chain). */
static early_item_t *take(early_t *h, early_item_t **pp)
{
    early_item_t *it = *pp;
    *pp = it->hnext;
    if (it->prev)
        it->prev->next = it->next;
    else
        h->oldest = it->next;
    if (it->next)
        it->next->prev = it->prev;
    else
        h->newest = it->prev;
    h->count--;
    h->bytes -= it->len;
    it->hnext = it->prev = it->next = NULL;
    return it;
}

early_item_t *early_take(early_t *h, struct bytes uid, uint32_t idx)
{
    if (!h->count)
        return NULL;
    early_item_t **pp = find(h, uid_value(uid), idx);
    return *pp ? take(h, pp) : NULL;
}

early_item_t *early_take_conn(early_t *h, const struct bytes *uid)
{
    uint64_t v = uid ? uid_value(*uid) : 0;
    for (early_item_t *it = h->oldest; it; it = it->next)
        if (!uid || it->uid == v)
            return take(h, find(h, it->uid, it->idx));
    return NULL;
}

const void *early_item_raw(const early_item_t *it, size_t *len)
{
    *len = it->len;
    return it->raw;
}

void early_item_free(early_item_t **it)
{
    if (!it)
        return;
    free(*it);
    *it = NULL;
}
