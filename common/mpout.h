/* mpout.h - writing MessagePack maps whose entry count follows the code.
 *
 * A map header states how many entries follow. Counting them by hand
 * next to the code that packs them breaks the first time a field is
 * added to one and not the other, so maps are written with a placeholder
 * header that mpout_map_close() patches with the number of keys actually
 * put:
 *
 *     struct mpout_map m;
 *     mpout_map_open(&m, sb, pk, MPOUT_FIX);
 *     mpout_key(&m, "v");
 *     msgpack_pack_uint32(pk, 1);
 *     ...
 *     mpout_map_close(&m);
 *
 * The header's width is chosen up front, as the width msgpack-c itself
 * picks for the count the map will have: MPOUT_FIX (fixmap, at most 15
 * entries) or MPOUT_16 (map16). A fixmap given more than 15 keys is a
 * programmer error and asserts.
 */
#ifndef HARK_MPOUT_H
#define HARK_MPOUT_H

#include "bytes.h"

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum mpout_width { MPOUT_FIX, MPOUT_16 };

struct mpout_map {
    msgpack_sbuffer *sb;
    msgpack_packer *pk;          /* packs into sb */
    size_t at;                   /* offset of the header in sb */
    enum mpout_width width;
    uint32_t n;                  /* keys put so far */
};

void mpout_map_open(struct mpout_map *m, msgpack_sbuffer *sb,
                    msgpack_packer *pk, enum mpout_width width);
/* Writes the count into the header. */
void mpout_map_close(struct mpout_map *m);

/* The packers below are inline: frames pack a few dozen keys per item. */

/* A C string as str. */
static inline void mpout_cstr(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* Packs key (n bytes) and counts an entry; its value comes next. */
static inline void mpout_keyn(struct mpout_map *m, const char *key, size_t n)
{
    msgpack_pack_str_with_body(m->pk, key, n);
    m->n++;
}

/* The same for a C string. */
static inline void mpout_key(struct mpout_map *m, const char *key)
{
    mpout_keyn(m, key, strlen(key));
}

/* Borrowed bytes as str or bin (a NULL view packs as empty). */
static inline void mpout_str(msgpack_packer *pk, struct bytes b)
{
    msgpack_pack_str_with_body(pk, b.p ? b.p : "", b.n);
}

static inline void mpout_bin(msgpack_packer *pk, struct bytes b)
{
    msgpack_pack_bin_with_body(pk, b.p ? b.p : "", b.n);
}

#endif
