/* store_producer.c - the last committed frame of each acknowledged
 * producer, kept in the trail beside the records it covers (store.h). */
#include "store_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX 'p'

/* "p" id into k; its length, or 0 when id does not fit. */
static size_t producer_key(struct bytes id, uint8_t *k)
{
    if (!id.n || id.n > STORE_PRODUCER_ID_MAX)
        return 0;
    k[0] = PREFIX;
    memcpy(k + 1, id.p, id.n);
    return 1 + (size_t)id.n;
}

int store_producer_get(store_t *s, struct bytes id, uint64_t *seq)
{
    uint8_t k[1 + STORE_PRODUCER_ID_MAX];
    size_t kl = producer_key(id, k), vl = 0;
    if (!kl)
        return -ENOENT;
    if (!s->db)
        return -EIO; /* a reopen after a failed write failed too */
    char *e = NULL;
    char *v = leveldb_get(s->db, s->ro, (const char *)k, kl, &vl, &e);
    if (e) {
        leveldb_free(e);
        return -EIO;
    }
    if (!v)
        return -ENOENT;
    int rc = vl == 8 ? 0 : -EIO;
    if (rc == 0)
        *seq = store_get_be((const uint8_t *)v, 8);
    leveldb_free(v);
    return rc;
}

/* Deletes, in the pending batch, the entries of other incarnations of
 * id's producer: the same bytes up to and including the last ':'. */
static int retire_others(store_t *s, struct bytes id, const uint8_t *key,
                         size_t kl)
{
    const char *colon = memrchr(id.p, ':', id.n);
    if (!colon || !s->db)
        return 0;
    size_t plen = 1 + (size_t)(colon - id.p) + 1; /* "p" src ":" */
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ro);
    if (!it)
        return -ENOMEM;
    for (leveldb_iter_seek(it, (const char *)key, plen);
         leveldb_iter_valid(it); leveldb_iter_next(it)) {
        size_t l;
        const char *k = leveldb_iter_key(it, &l);
        if (l < plen || memcmp(k, key, plen))
            break;
        if (l != kl || memcmp(k, key, kl))
            leveldb_writebatch_delete(s->batch, k, l);
    }
    char *e = NULL;
    leveldb_iter_get_error(it, &e);
    leveldb_iter_destroy(it);
    if (e) {
        leveldb_free(e);
        return -EIO;
    }
    return 0;
}

int store_producer_put(store_t *s, struct bytes id, uint64_t seq,
                       bool first)
{
    uint8_t k[1 + STORE_PRODUCER_ID_MAX], v[8];
    size_t kl = producer_key(id, k);
    if (!kl)
        return -EINVAL;
    /* Entries of dead incarnations are only clutter (nobody reads them
     * again), so failing to find them does not stop the put. */
    if (first)
        retire_others(s, id, k, kl);
    for (int i = 7; i >= 0; i--) {
        v[i] = (uint8_t)(seq & 0xff);
        seq >>= 8;
    }
    store_batch_put(s, k, kl, v, sizeof(v));
    s->pending_producers++;
    return 0;
}
