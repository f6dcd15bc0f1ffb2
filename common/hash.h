/* hash.h - FNV-1a, the one non-cryptographic byte hash of the codebase.
 *
 * Its values are visible: the capture's shard choice, connection uids and
 * the trail's keys for odd uids derive from them, so these functions
 * must keep giving the same numbers. Each takes the state to continue
 * from: HASH_FNV*_INIT for a fresh hash, or a seed mixed into it. Where
 * an adversary chooses the bytes and collisions would cost more than
 * time, use a keyed hash (libsodium's crypto_shorthash) instead.
 */
#ifndef HARK_HASH_H
#define HARK_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV32_INIT 2166136261u
#define HASH_FNV64_INIT 14695981039346656037ull

static inline uint32_t hash_fnv1a32(uint32_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

static inline uint64_t hash_fnv1a64(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

#endif
