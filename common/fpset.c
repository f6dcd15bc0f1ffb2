/* fpset.c - open addressing over 64-bit fingerprints, 0 marking an empty
 * slot, at most half full. */
#include "fpset.h"

#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FPSET_MIN_CAP 1024

struct fpset {
    uint64_t *v;
    size_t cap, n;               /* cap: 0 or a power of two */
    uint8_t key[crypto_shorthash_KEYBYTES];
};

fpset_t *fpset_new(void)
{
    fpset_t *s = calloc(1, sizeof(*s));
    if (s)
        randombytes_buf(s->key, sizeof(s->key));
    return s;
}

void fpset_destroy(fpset_t **s)
{
    if (!s || !*s)
        return;
    free((*s)->v);
    free(*s);
    *s = NULL;
}

static uint64_t fingerprint(const fpset_t *s, const void *k, size_t n)
{
    uint8_t out[crypto_shorthash_BYTES];
    uint64_t v;
    crypto_shorthash(out, k, n, s->key);
    memcpy(&v, out, sizeof(v));
    return v ? v : 1;
}

/* The slot holding v, or the empty slot where it would go. */
static size_t slot_of(const uint64_t *slots, size_t cap, uint64_t v)
{
    size_t i = v & (cap - 1);
    while (slots[i] && slots[i] != v)
        i = (i + 1) & (cap - 1);
    return i;
}

static int grow(fpset_t *s)
{
    size_t cap = s->cap ? s->cap * 2 : FPSET_MIN_CAP;
    uint64_t *nv = calloc(cap, sizeof(*nv));
    if (!nv)
        return -ENOMEM;
    for (size_t i = 0; i < s->cap; i++)
        if (s->v[i])
            nv[slot_of(nv, cap, s->v[i])] = s->v[i];
    free(s->v);
    s->v = nv;
    s->cap = cap;
    return 0;
}

int fpset_add(fpset_t *s, const void *k, size_t n)
{
    if ((s->n + 1) * 2 > s->cap && grow(s) < 0)
        return -ENOMEM;
    uint64_t v = fingerprint(s, k, n);
    size_t i = slot_of(s->v, s->cap, v);
    if (!s->v[i]) {
        s->v[i] = v;
        s->n++;
    }
    return 0;
}

bool fpset_has(const fpset_t *s, const void *k, size_t n)
{
    if (!s->n)
        return false;
    uint64_t v = fingerprint(s, k, n);
    return s->v[slot_of(s->v, s->cap, v)] == v;
}

void fpset_clear(fpset_t *s)
{
    if (s->n)
        memset(s->v, 0, s->cap * sizeof(*s->v));
    s->n = 0;
}
