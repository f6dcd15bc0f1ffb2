/* shard.h - spreading packets over the reassembler shards, in batches.
 *
 * A connection must reach one shard whole: packets are routed by the
 * symmetric flow hash, and IPv4/IPv6 fragments by the shard their first
 * fragment took (a small table keyed by addresses and fragment id). Each
 * shard has its own batch, sent when full, when the flush timer fires,
 * and as a heartbeat when the shard has been idle for a second of packet
 * time, so every reassembler's watermark keeps moving.
 */
#ifndef HARK_CAPTURE_SHARD_H
#define HARK_CAPTURE_SHARD_H

#include "bus.h"
#include "config.h"
#include "packet.h"
#include "stats.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct sharder sharder_t;

/* Connects one output per shard. src is the producer id. NULL on failure
 * with errno set. */
sharder_t *sharder_new(struct bus_env bus, const struct config *cfg,
                       const char *src, bus_tap_t *tap, int link, bool live,
                       stats_t *st);
void sharder_destroy(sharder_t **s);

/* Routes one captured packet; may send a full batch (blocking while the
 * shard's link is full). 0 or -errno from the bus. */
int sharder_add(sharder_t *s, uint64_t ts_ns, uint32_t wirelen,
                const uint8_t *data, uint32_t caplen);

/* Sends a heartbeat to each shard idle for a second of packet time, and
 * with `partial` every non-empty batch too (the live flush timer). */
int sharder_flush(sharder_t *s, bool partial);

/* Flushes, then sends eof to every shard. */
int sharder_eof(sharder_t *s, const char *reason);

#endif
