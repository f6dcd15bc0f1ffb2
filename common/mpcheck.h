/* mpcheck.h - MessagePack validated as it is read.
 *
 * msgpack-c sizes arrays and maps from the count a value claims before
 * it reads their elements, so a few hostile bytes can make it allocate
 * gigabytes. Every MessagePack value hark reads (bus frames, stored
 * records, chain entries, query requests and replies) is read here
 * instead, with a bounds-checked cursor: each length against the bytes
 * present before anything is allocated for it, nesting against a depth
 * limit.
 */
#ifndef HARK_MPCHECK_H
#define HARK_MPCHECK_H

#include <msgpack.h>
#include <stddef.h>

/* Walks the MessagePack value at the start of [p, p+n) without building
 * it. Returns the bytes it occupies, or -1 when a length runs past n or
 * nesting exceeds max_depth (a scalar needs 1, an array of scalars 2). */
long mpcheck_size(const void *p, size_t n, int max_depth);

/* Unpacks [p, p+n) into *out when it is exactly one valid value (as
 * above, nothing after it), as msgpack_unpack() would, in the same pass
 * that checks it; z is cleared first and holds what *out points to.
 * 0, or -EBADMSG (also when z has no room): z then holds nothing to use. */
int mpcheck_unpack(msgpack_zone *z, const void *p, size_t n, int max_depth,
                   msgpack_object *out);

#endif
