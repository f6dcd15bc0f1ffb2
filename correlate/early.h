/* early.h - responses held until their request arrives.
 *
 * A response can complete while its request is still uploading (a 413
 * during a large POST): the reassembler sends it first, flagged
 * early_response, with the index of the request it answers. Correlate
 * holds such a response, as received, until the request with the same
 * (uid, idx) comes, and pairs them then. Responses whose request never
 * comes are taken back at the connection's close or at the end of input
 * (they become orphans).
 *
 * Capped at EARLY_MAX responses and EARLY_MAX_BYTES held at once;
 * beyond, a response is refused (counted) and the caller records it at
 * once.
 */
#ifndef HARK_CORRELATE_EARLY_H
#define HARK_CORRELATE_EARLY_H

#include "bytes.h"
#include "stats.h"

#include <stddef.h>
#include <stdint.h>

/* Early responses are rare: a client that uploads while the server has
 * already answered. More than this many at once is a broken peer. */
#define EARLY_MAX 1024u
/* Each can carry up to reassemble.body_max of body: bound the sum too. */
#define EARLY_MAX_BYTES (64u << 20)

typedef struct early early_t;
typedef struct early_item early_item_t;

/* NULL on ENOMEM. Registers the counters "early_held" (responses held)
 * and "early_refused" (refused: a cap, a second response for the same
 * request, or no memory). */
early_t *early_new(stats_t *st);
/* Frees what is still held. */
void early_destroy(early_t **h);

/* Keeps a copy of raw (the response as received, borrowed for the call)
 * under (uid, idx). 0, or -ENOSPC / -EEXIST / -ENOMEM when refused. */
int early_hold(early_t *h, struct bytes uid, uint32_t idx, const void *raw,
               size_t len);

/* Takes the response held for (uid, idx) out of the table, or NULL. The
 * caller frees it (early_item_free). */
early_item_t *early_take(early_t *h, struct bytes uid, uint32_t idx);

/* Takes out the oldest response held on connection uid (every one when
 * uid is NULL), or NULL when there is none. The caller frees it. */
early_item_t *early_take_conn(early_t *h, const struct bytes *uid);

/* The response as it was received; borrowed from the item. */
const void *early_item_raw(const early_item_t *it, size_t *len);
void early_item_free(early_item_t **it);

#endif
