/* mpcheck.c - a MessagePack walker and builder over a bounds-checked
 * cursor.
 *
 * Every container element takes at least one byte, so a count beyond the
 * bytes left is refused before any element is looked at: the walk costs
 * at most one step per byte.
 */
#include "mpcheck.h"
#include "cursor.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static bool walk(cursor_t *c, int depth);

static bool skip_n(cursor_t *c, uint64_t n)
{
    return n <= cur_left(c) && cur_skip(c, (size_t)n);
}

static bool walk_items(cursor_t *c, uint64_t count, int depth)
{
    if (count > cur_left(c))
        return false;
    for (uint64_t i = 0; i < count; i++)
        if (!walk(c, depth))
            return false;
    return true;
}

static bool read_len(cursor_t *c, int width, uint64_t *n)
{
    uint8_t b8;
    uint16_t b16;
    uint32_t b32;
    switch (width) {
    case 1: if (!cur_u8(c, &b8)) return false; *n = b8; return true;
    case 2: if (!cur_be16(c, &b16)) return false; *n = b16; return true;
    default: if (!cur_be32(c, &b32)) return false; *n = b32; return true;
    }
}

/* The types after the fixed ranges: 0xc0 .. 0xdf. */
static bool walk_tagged(cursor_t *c, uint8_t t, int depth)
{
    uint64_t n;
    switch (t) {
    case 0xc0: case 0xc2: case 0xc3: return true;
    case 0xc4: case 0xd9: return read_len(c, 1, &n) && skip_n(c, n);
    case 0xc5: case 0xda: return read_len(c, 2, &n) && skip_n(c, n);
    case 0xc6: case 0xdb: return read_len(c, 4, &n) && skip_n(c, n);
    case 0xc7: return read_len(c, 1, &n) && skip_n(c, n + 1);
    case 0xc8: return read_len(c, 2, &n) && skip_n(c, n + 1);
    case 0xc9: return read_len(c, 4, &n) && skip_n(c, n + 1);
    case 0xca: case 0xce: case 0xd2: return cur_skip(c, 4);
    case 0xcb: case 0xcf: case 0xd3: return cur_skip(c, 8);
    case 0xcc: case 0xd0: return cur_skip(c, 1);
    case 0xcd: case 0xd1: return cur_skip(c, 2);
    case 0xd4: return cur_skip(c, 2);
    case 0xd5: return cur_skip(c, 3);
    case 0xd6: return cur_skip(c, 5);
    case 0xd7: return cur_skip(c, 9);
    case 0xd8: return cur_skip(c, 17);
    case 0xdc: return read_len(c, 2, &n) && walk_items(c, n, depth - 1);
    case 0xdd: return read_len(c, 4, &n) && walk_items(c, n, depth - 1);
    case 0xde: return read_len(c, 2, &n) && walk_items(c, n * 2, depth - 1);
    case 0xdf: return read_len(c, 4, &n) && walk_items(c, n * 2, depth - 1);
    default: return false; /* 0xc1 is never used */
    }
}

static bool walk(cursor_t *c, int depth)
{
    uint8_t t;
    if (depth <= 0 || !cur_u8(c, &t))
        return false;
    if (t <= 0x7f || t >= 0xe0)
        return true;
    if (t <= 0x8f)
        return walk_items(c, (uint64_t)(t & 0x0f) * 2, depth - 1);
    if (t <= 0x9f)
        return walk_items(c, t & 0x0f, depth - 1);
    if (t <= 0xbf)
        return skip_n(c, t & 0x1f);
    return walk_tagged(c, t, depth);
}

long mpcheck_size(const void *p, size_t n, int max_depth)
{
    cursor_t c = cur_make(p, n);
    if (!walk(&c, max_depth))
        return -1;
    return (long)(n - cur_left(&c));
}

/* ---- building: one checked pass ------------------------------------- */

/* What msgpack_unpack() would build, in one pass that checks as it goes:
 * every count against the bytes left before anything is allocated for
 * it, nesting against the depth. Walking first and then letting msgpack-c
 * read the same bytes again cost each stage a second pass over every
 * frame. Strings, bins and exts point into the input, as msgpack-c's. */
struct builder {
    cursor_t c;
    msgpack_zone *z;
};

static bool build(struct builder *b, int depth, msgpack_object *o);

static bool read_be(cursor_t *c, int width, uint64_t *v)
{
    uint32_t hi, lo;
    if (width == 8) {
        if (!cur_be32(c, &hi) || !cur_be32(c, &lo))
            return false;
        *v = (uint64_t)hi << 32 | lo;
        return true;
    }
    return read_len(c, width, v);
}

static void set_int(msgpack_object *o, int64_t v)
{
    if (v >= 0) {
        o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.u64 = (uint64_t)v;
    } else {
        o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
        o->via.i64 = v;
    }
}

static bool build_raw(cursor_t *c, uint64_t n, msgpack_object_type type,
                      msgpack_object *o)
{
    const uint8_t *p;
    if (n > cur_left(c) || !cur_bytes(c, (size_t)n, &p))
        return false;
    o->type = type;
    if (type == MSGPACK_OBJECT_BIN) {
        o->via.bin.size = (uint32_t)n;
        o->via.bin.ptr = (const char *)p;
    } else {
        o->via.str.size = (uint32_t)n;
        o->via.str.ptr = (const char *)p;
    }
    return true;
}

/* An ext of n data bytes after its type byte. */
static bool build_ext(cursor_t *c, uint64_t n, msgpack_object *o)
{
    uint8_t t;
    const uint8_t *p;
    if (!cur_u8(c, &t) || n > cur_left(c) || !cur_bytes(c, (size_t)n, &p))
        return false;
    o->type = MSGPACK_OBJECT_EXT;
    o->via.ext.type = (int8_t)t;
    o->via.ext.size = (uint32_t)n;
    o->via.ext.ptr = (const char *)p;
    return true;
}

static bool build_array(struct builder *b, uint64_t n, int depth,
                        msgpack_object *o)
{
    o->type = MSGPACK_OBJECT_ARRAY;
    o->via.array.size = 0;
    o->via.array.ptr = NULL;
    if (n > cur_left(&b->c)) /* each element takes a byte at least */
        return false;
    if (!n)
        return true;
    msgpack_object *items =
        msgpack_zone_malloc(b->z, (size_t)n * sizeof(*items));
    if (!items)
        return false;
    for (uint64_t i = 0; i < n; i++)
        if (!build(b, depth - 1, &items[i]))
            return false;
    o->via.array.ptr = items;
    o->via.array.size = (uint32_t)n;
    return true;
}

static bool build_map(struct builder *b, uint64_t n, int depth,
                      msgpack_object *o)
{
    o->type = MSGPACK_OBJECT_MAP;
    o->via.map.size = 0;
    o->via.map.ptr = NULL;
    if (n > cur_left(&b->c) / 2)
        return false;
    if (!n)
        return true;
    msgpack_object_kv *kv =
        msgpack_zone_malloc(b->z, (size_t)n * sizeof(*kv));
    if (!kv)
        return false;
    for (uint64_t i = 0; i < n; i++)
        if (!build(b, depth - 1, &kv[i].key) ||
            !build(b, depth - 1, &kv[i].val))
            return false;
    o->via.map.ptr = kv;
    o->via.map.size = (uint32_t)n;
    return true;
}

static bool build_float(cursor_t *c, int width, msgpack_object *o)
{
    uint64_t bits;
    if (!read_be(c, width, &bits))
        return false;
    if (width == 4) {
        uint32_t b32 = (uint32_t)bits;
        float f;
        memcpy(&f, &b32, sizeof(f));
        o->type = MSGPACK_OBJECT_FLOAT32;
        o->via.f64 = f;
    } else {
        double d;
        memcpy(&d, &bits, sizeof(d));
        o->type = MSGPACK_OBJECT_FLOAT64;
        o->via.f64 = d;
    }
    return true;
}

/* The tags after the fixed ranges: 0xc0 .. 0xdf. */
static bool build_tagged(struct builder *b, uint8_t t, int depth,
                         msgpack_object *o)
{
    cursor_t *c = &b->c;
    uint64_t n;
    switch (t) {
    case 0xc0: o->type = MSGPACK_OBJECT_NIL; return true;
    case 0xc2: case 0xc3:
        o->type = MSGPACK_OBJECT_BOOLEAN;
        o->via.boolean = t == 0xc3;
        return true;
    case 0xc4: case 0xc5: case 0xc6:
        return read_len(c, 1 << (t - 0xc4), &n) &&
               build_raw(c, n, MSGPACK_OBJECT_BIN, o);
    case 0xd9: case 0xda: case 0xdb:
        return read_len(c, 1 << (t - 0xd9), &n) &&
               build_raw(c, n, MSGPACK_OBJECT_STR, o);
    case 0xc7: case 0xc8: case 0xc9:
        return read_len(c, 1 << (t - 0xc7), &n) && build_ext(c, n, o);
    case 0xca: return build_float(c, 4, o);
    case 0xcb: return build_float(c, 8, o);
    case 0xcc: case 0xcd: case 0xce: case 0xcf:
        if (!read_be(c, 1 << (t - 0xcc), &n))
            return false;
        o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.u64 = n;
        return true;
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
        int width = 1 << (t - 0xd0);
        if (!read_be(c, width, &n))
            return false;
        /* sign-extend the width's two's complement */
        int shift = 64 - 8 * width;
        set_int(o, (int64_t)(n << shift) >> shift);
        return true;
    }
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
        return build_ext(c, (uint64_t)1 << (t - 0xd4), o);
    case 0xdc: return read_len(c, 2, &n) && build_array(b, n, depth, o);
    case 0xdd: return read_len(c, 4, &n) && build_array(b, n, depth, o);
    case 0xde: return read_len(c, 2, &n) && build_map(b, n, depth, o);
    case 0xdf: return read_len(c, 4, &n) && build_map(b, n, depth, o);
    default: return false; /* 0xc1 is never used */
    }
}

static bool build(struct builder *b, int depth, msgpack_object *o)
{
    uint8_t t;
    if (depth <= 0 || !cur_u8(&b->c, &t))
        return false;
    if (t <= 0x7f) {
        o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.u64 = t;
        return true;
    }
    if (t >= 0xe0) {
        set_int(o, (int8_t)t);
        return true;
    }
    if (t <= 0x8f)
        return build_map(b, t & 0x0f, depth, o);
    if (t <= 0x9f)
        return build_array(b, t & 0x0f, depth, o);
    if (t <= 0xbf)
        return build_raw(&b->c, t & 0x1f, MSGPACK_OBJECT_STR, o);
    return build_tagged(b, t, depth, o);
}

int mpcheck_unpack(msgpack_zone *z, const void *p, size_t n, int max_depth,
                   msgpack_object *out)
{
    struct builder b = { cur_make(p, n), z };
    msgpack_zone_clear(z);
    if (!build(&b, max_depth, out) || cur_left(&b.c) != 0)
        return -EBADMSG;
    return 0;
}
