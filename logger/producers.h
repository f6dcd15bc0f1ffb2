/* producers.h - the producers on the logger's acknowledged input.
 *
 * A producer (correlate, the supervisor) connects with a routing id
 * "<src>:<incarnation>" (bus.h) and keeps each frame until it is
 * acknowledged. The logger takes a producer's frames strictly in
 * sequence: a frame it already took (sent again) is a duplicate and
 * dropped, one past a gap (frames lost to a restart of ours) is dropped
 * and waits for the producer to send the gap again. The last sequence
 * number taken goes into the trail in the same batch as the records
 * (store_producer_put), and is acknowledged once that batch is
 * committed, so a frame is acknowledged only when it is durable, and a
 * restarted logger knows where each producer stands.
 */
#ifndef HARK_PRODUCERS_H
#define HARK_PRODUCERS_H

#include "frame.h"
#include "stats.h"
#include "store.h"

#include <stdbool.h>

#define PRODUCERS_MAX 16

typedef struct producers producers_t;

/* Sends an acknowledgement body to peer; 0 or -errno. */
typedef int (*producers_reply_fn)(void *ctx, struct bytes peer,
                                  const void *body, size_t len);

/* store and the reply function are borrowed; src names the logger in
 * its acknowledgements. Registers "frames_duplicate",
 * "frames_out_of_order" and "producers_dropped". NULL on ENOMEM. */
producers_t *producers_new(store_t *store, const char *src, stats_t *st,
                           producers_reply_fn reply, void *ctx);
void producers_destroy(producers_t **p);

/* Whether to take frame f sent by peer. A peer whose routing id is not
 * "<src>:<16 hex digits>" does not take part: its frames are taken as
 * they come. A duplicate is acknowledged again. */
bool producers_admit(producers_t *p, const struct frame *f,
                     struct bytes peer);

/* True when frames were taken since the last commit. */
bool producers_pending(const producers_t *p);

/* Puts each producer's last taken seq into the store's pending batch,
 * just before store_commit(). 0 or -errno. */
int producers_stage(producers_t *p);

/* The commit succeeded: acknowledges what it covered. */
void producers_committed(producers_t *p);

#endif
