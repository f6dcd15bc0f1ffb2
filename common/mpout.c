/* mpout.c - MessagePack maps with counts derived from what is packed. */
#include "mpout.h"

#include <assert.h>

void mpout_map_open(struct mpout_map *m, msgpack_sbuffer *sb,
                    msgpack_packer *pk, enum mpout_width width)
{
    static const char fix[1] = { (char)0x80 };
    static const char map16[3] = { (char)0xde, 0, 0 };
    m->sb = sb;
    m->pk = pk;
    m->at = sb->size;
    m->width = width;
    m->n = 0;
    if (width == MPOUT_FIX)
        msgpack_sbuffer_write(sb, fix, sizeof(fix));
    else
        msgpack_sbuffer_write(sb, map16, sizeof(map16));
}

void mpout_map_close(struct mpout_map *m)
{
    size_t width = m->width == MPOUT_FIX ? 1 : 3;
    assert(m->width == MPOUT_FIX ? m->n <= 15 : m->n <= UINT16_MAX);
    /* A failed allocation left the buffer short: nothing to patch. */
    if (!m->sb->data || m->sb->size < m->at + width)
        return;
    char *h = m->sb->data + m->at;
    if (m->width == MPOUT_FIX) {
        h[0] = (char)(0x80 | m->n);
    } else {
        h[1] = (char)(m->n >> 8);
        h[2] = (char)(m->n & 0xff);
    }
}
