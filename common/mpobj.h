/* mpobj.h - typed reads of unpacked MessagePack objects.
 *
 * Each accessor checks the object's type (and range) and returns false
 * when it does not match, so a decoder can refuse a field in one test.
 * Objects come from mpcheck_unpack(); bytes views borrow their zone.
 */
#ifndef HARK_MPOBJ_H
#define HARK_MPOBJ_H

#include "bytes.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* True when k is the str key s. */
static inline bool mpobj_key(const msgpack_object *k, const char *s)
{
    size_t n = strlen(s);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
           !memcmp(k->via.str.ptr, s, n);
}

static inline bool mpobj_uint(const msgpack_object *o, uint64_t *v)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *v = o->via.u64;
    return true;
}

static inline bool mpobj_u32(const msgpack_object *o, uint32_t *v)
{
    uint64_t u;
    if (!mpobj_uint(o, &u) || u > UINT32_MAX)
        return false;
    *v = (uint32_t)u;
    return true;
}

static inline bool mpobj_u16(const msgpack_object *o, uint16_t *v)
{
    uint64_t u;
    if (!mpobj_uint(o, &u) || u > UINT16_MAX)
        return false;
    *v = (uint16_t)u;
    return true;
}

static inline bool mpobj_int(const msgpack_object *o, int64_t *v)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > INT64_MAX)
            return false;
        *v = (int64_t)o->via.u64;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *v = o->via.i64;
        return true;
    }
    return false;
}

/* A str or a bin, as a view of its bytes. */
static inline bool mpobj_bytes(const msgpack_object *o, struct bytes *b)
{
    if (o->type == MSGPACK_OBJECT_STR) {
        b->p = o->via.str.ptr;
        b->n = o->via.str.size;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_BIN) {
        b->p = o->via.bin.ptr;
        b->n = o->via.bin.size;
        return true;
    }
    return false;
}

/* A bin of min to max bytes, as a view of its bytes. */
static inline bool mpobj_bin(const msgpack_object *o, uint32_t min,
                             uint32_t max, struct bytes *b)
{
    if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size < min ||
        o->via.bin.size > max)
        return false;
    b->p = o->via.bin.ptr;
    b->n = o->via.bin.size;
    return true;
}

#endif
