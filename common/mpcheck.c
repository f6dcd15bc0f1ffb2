/* mpcheck.c - a MessagePack walker over a bounds-checked cursor.
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

int mpcheck_unpack(msgpack_zone *z, const void *p, size_t n, int max_depth,
                   msgpack_object *out)
{
    long used = mpcheck_size(p, n, max_depth);
    if (used < 0 || (size_t)used != n)
        return -EBADMSG;
    msgpack_zone_clear(z);
    size_t off = 0;
    if (msgpack_unpack(p, n, &off, z, out) != MSGPACK_UNPACK_SUCCESS)
        return -EBADMSG;
    return 0;
}
