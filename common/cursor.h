/* cursor.h - bounds-checked reads over untrusted bytes.
 *
 * Every parser of network or bus bytes reads through a cursor: a {p, end}
 * view whose accessors check the remaining length before any pointer
 * arithmetic. A failed read leaves the cursor unchanged and returns false,
 * so a parser can bail out with one test per field.
 */
#ifndef HARK_CURSOR_H
#define HARK_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct cursor {
    const uint8_t *p;
    const uint8_t *end;
} cursor_t;

static inline cursor_t cur_make(const void *p, size_t n)
{
    cursor_t c = { (const uint8_t *)p, (const uint8_t *)p + n };
    return c;
}

static inline size_t cur_left(const cursor_t *c)
{
    return (size_t)(c->end - c->p);
}

static inline bool cur_skip(cursor_t *c, size_t n)
{
    if (cur_left(c) < n)
        return false;
    c->p += n;
    return true;
}

static inline bool cur_u8(cursor_t *c, uint8_t *v)
{
    if (cur_left(c) < 1)
        return false;
    *v = c->p[0];
    c->p += 1;
    return true;
}

static inline bool cur_be16(cursor_t *c, uint16_t *v)
{
    if (cur_left(c) < 2)
        return false;
    *v = (uint16_t)((c->p[0] << 8) | c->p[1]);
    c->p += 2;
    return true;
}

static inline bool cur_le16(cursor_t *c, uint16_t *v)
{
    if (cur_left(c) < 2)
        return false;
    *v = (uint16_t)((c->p[1] << 8) | c->p[0]);
    c->p += 2;
    return true;
}

static inline bool cur_be32(cursor_t *c, uint32_t *v)
{
    if (cur_left(c) < 4)
        return false;
    *v = ((uint32_t)c->p[0] << 24) | ((uint32_t)c->p[1] << 16) |
         ((uint32_t)c->p[2] << 8) | (uint32_t)c->p[3];
    c->p += 4;
    return true;
}

static inline bool cur_le32(cursor_t *c, uint32_t *v)
{
    if (cur_left(c) < 4)
        return false;
    *v = ((uint32_t)c->p[3] << 24) | ((uint32_t)c->p[2] << 16) |
         ((uint32_t)c->p[1] << 8) | (uint32_t)c->p[0];
    c->p += 4;
    return true;
}

/* Borrows n bytes: *out points into the cursor's buffer. */
static inline bool cur_bytes(cursor_t *c, size_t n, const uint8_t **out)
{
    if (cur_left(c) < n)
        return false;
    *out = c->p;
    c->p += n;
    return true;
}

static inline bool cur_copy(cursor_t *c, void *dst, size_t n)
{
    if (cur_left(c) < n)
        return false;
    memcpy(dst, c->p, n);
    c->p += n;
    return true;
}

/* A sub-view of the next n bytes; the parent advances past them. */
static inline bool cur_sub(cursor_t *c, size_t n, cursor_t *sub)
{
    if (cur_left(c) < n)
        return false;
    sub->p = c->p;
    sub->end = c->p + n;
    c->p += n;
    return true;
}

/* Reads without consuming. */
static inline bool cur_peek_u8(const cursor_t *c, size_t off, uint8_t *v)
{
    if (cur_left(c) <= off)
        return false;
    *v = c->p[off];
    return true;
}

#endif
