/* serve_tally.c - counts per name (serve_tally.h).
 *
 * Open addressing over a power-of-two table of entry pointers, keyed by
 * SipHash (libsodium's crypto_shorthash) with a key drawn per tally:
 * paths and addresses are chosen by whoever sent the traffic.
 */
#include "serve_tally.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct serve_tally {
    struct serve_tally_entry **slots;
    size_t cap, n;
    struct serve_tally_entry **sorted;
    bool keep_values;
    uint64_t dropped;
    uint8_t key[crypto_shorthash_KEYBYTES];
};

serve_tally_t *serve_tally_new(bool keep_values)
{
    serve_tally_t *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->cap = 1024;
    t->keep_values = keep_values;
    if (!(t->slots = calloc(t->cap, sizeof(*t->slots)))) {
        free(t);
        return NULL;
    }
    crypto_shorthash_keygen(t->key);
    return t;
}

void serve_tally_destroy(serve_tally_t **tp)
{
    if (!tp || !*tp)
        return;
    serve_tally_t *t = *tp;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i])
            continue;
        free(t->slots[i]->values);
        free(t->slots[i]);
    }
    free(t->slots);
    free(t->sorted);
    free(t);
    *tp = NULL;
}

static size_t slot_of(const serve_tally_t *t, struct bytes name)
{
    uint8_t h[crypto_shorthash_BYTES];
    uint64_t v;
    crypto_shorthash(h, (const unsigned char *)name.p, name.n, t->key);
    memcpy(&v, h, sizeof(v));
    return (size_t)v & (t->cap - 1);
}

static struct serve_tally_entry **find(serve_tally_t *t, struct bytes name)
{
    size_t i = slot_of(t, name);
    while (t->slots[i] && (t->slots[i]->name.n != name.n ||
                           memcmp(t->slots[i]->name.p, name.p, name.n)))
        i = (i + 1) & (t->cap - 1);
    return &t->slots[i];
}

static int grow(serve_tally_t *t)
{
    struct serve_tally_entry **old = t->slots;
    size_t old_cap = t->cap;
    struct serve_tally_entry **slots = calloc(old_cap * 2, sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    t->slots = slots;
    t->cap = old_cap * 2;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i])
            *find(t, old[i]->name) = old[i];
    free(old);
    return 0;
}

static int keep(struct serve_tally_entry *e, uint64_t value)
{
    if (e->n_values == e->cap_values) {
        size_t cap = e->cap_values ? e->cap_values * 2 : 16;
        uint64_t *v = realloc(e->values, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        e->values = v;
        e->cap_values = cap;
    }
    e->values[e->n_values++] = value;
    return 0;
}

int serve_tally_add(serve_tally_t *t, struct bytes name, bool error,
                    uint64_t value)
{
    if (name.n > SERVE_TALLY_NAME_MAX)
        name.n = SERVE_TALLY_NAME_MAX;
    struct serve_tally_entry **slot = find(t, name);
    if (!*slot) {
        if (t->n == SERVE_TALLY_NAMES) {
            t->dropped++;
            return 0;
        }
        if ((t->n + 1) * 2 > t->cap) {
            if (grow(t) < 0)
                return -ENOMEM;
            slot = find(t, name);
        }
        struct serve_tally_entry *e = calloc(1, sizeof(*e) + name.n + 1);
        if (!e)
            return -ENOMEM;
        char *copy = (char *)(e + 1);
        if (name.n)
            memcpy(copy, name.p, name.n);
        e->name.p = copy;
        e->name.n = name.n;
        *slot = e;
        t->n++;
    }
    (*slot)->count++;
    (*slot)->errors += error;
    return t->keep_values ? keep(*slot, value) : 0;
}

typedef const struct serve_tally_entry *entry_ptr;

static int by_count(const void *a, const void *b)
{
    entry_ptr x = *(const entry_ptr *)a, y = *(const entry_ptr *)b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    size_t n = x->name.n < y->name.n ? x->name.n : y->name.n;
    int c = n ? memcmp(x->name.p, y->name.p, n) : 0;
    if (c)
        return c;
    return x->name.n < y->name.n ? -1 : x->name.n > y->name.n;
}

static int by_value(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

size_t serve_tally_top(serve_tally_t *t, size_t top,
                       struct serve_tally_entry ***out)
{
    free(t->sorted);
    t->sorted = malloc((t->n ? t->n : 1) * sizeof(*t->sorted));
    *out = t->sorted;
    if (!t->sorted)
        return 0;
    size_t k = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i])
            t->sorted[k++] = t->slots[i];
    if (k > 1)
        qsort(t->sorted, k, sizeof(*t->sorted), by_count);
    if (k > top)
        k = top;
    for (size_t i = 0; i < k; i++)
        if (t->sorted[i]->n_values > 1)
            qsort(t->sorted[i]->values, t->sorted[i]->n_values,
                  sizeof(uint64_t), by_value);
    return k;
}

size_t serve_tally_names(const serve_tally_t *t)
{
    return t->n;
}

uint64_t serve_tally_dropped(const serve_tally_t *t)
{
    return t->dropped;
}

uint64_t serve_tally_percentile(const uint64_t *v, size_t n, unsigned q)
{
    if (!n)
        return 0;
    /* nearest rank: the smallest value with q% of them at or below it */
    size_t rank = ((size_t)q * n + 99) / 100;
    return v[rank ? rank - 1 : 0];
}
