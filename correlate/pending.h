/* pending.h - requests waiting for their response ("Wait for Response
 * Packets").
 *
 * A request waits under the key (connection uid, request index): the
 * reassembler gives a response the index of the request it answers. The
 * uid is keyed as uid_value() (uid.h), which keeps ids that are not hex
 * apart too.
 * Waits sit in one FIFO per timeout (whichever policy, of whichever
 * config, gave it), so a FIFO is already in deadline order and expiry only looks at heads
 * (nearly: shards interleave, so an entry can outlive its deadline behind
 * a later one; correlate judges by packet time, not by what is still
 * here). A wait whose response has begun can be moved to a later deadline
 * (the ceiling of the whole response): moved waits leave their FIFO for
 * a heap ordered by deadline, since they move in no particular order.
 * An expired wait stays as a tombstone for one more timeout, so a late
 * response is still recognised as late (and logged as such) rather than
 * as a response without request. Requests that wait for nothing (no
 * route, or a policy without a wait) are kept briefly too, so their
 * responses are not mistaken for orphans.
 *
 * Capped at max entries; beyond, requests are refused and counted.
 */
#ifndef HARK_CORRELATE_PENDING_H
#define HARK_CORRELATE_PENDING_H

#include "config.h"
#include "policy.h"
#include "stats.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The hash of a wait's key (uid_value(), request index); tables keyed
 * like the waits use it too. */
static inline uint64_t pending_key_hash(uint64_t uid, uint32_t idx)
{
    return (uid ^ ((uint64_t)idx * 0x9e3779b97f4a7c15ull)) *
           0xff51afd7ed558ccdull;
}

/* How long a request that waits for nothing is remembered. */
#define PENDING_UNWAITED_NS (60ull * 1000000000ull)

typedef struct pending pending_t;
typedef struct pending_entry pending_entry_t;

/* NULL on ENOMEM. Registers the counters "pending", "pending_refused",
 * "pending_duplicate", "pending_move_failed". */
pending_t *pending_new(uint32_t max, stats_t *st);
void pending_destroy(pending_t **p);

/* Adds a request. policy is NULL when it waits for nothing; it must
 * outlive the entry. raw (may be
 * NULL) is kept: the request as received, for steps after the wait that
 * log the request itself. Returns NULL when refused (cap or duplicate). */
pending_entry_t *pending_add(pending_t *p, const struct http_msg *req,
                             const struct config_policy *policy,
                             const void *raw, size_t raw_len);

pending_entry_t *pending_find(pending_t *p, struct bytes uid, uint32_t idx);

/* Forgets and frees an entry. */
void pending_remove(pending_t *p, pending_entry_t *e);

/* The entry whose deadline passed first at watermark wm, or NULL. Live
 * waits come before tombstones. */
pending_entry_t *pending_next_expired(pending_t *p, uint64_t wm);

/* Gives the live wait e the later deadline `deadline` (its response
 * began). 0, or -ENOMEM (counted in pending_move_failed): e keeps its
 * deadline. */
int pending_move(pending_t *p, pending_entry_t *e, uint64_t deadline);

/* Turns an expired wait into a tombstone (it stays findable). */
void pending_bury(pending_t *p, pending_entry_t *e);

/* Any entry at all (for draining at the end), live waits first. */
pending_entry_t *pending_any(pending_t *p);

const struct req_summary *pending_summary(const pending_entry_t *e);
const struct config_policy *pending_policy(const pending_entry_t *e);
uint64_t pending_deadline(const pending_entry_t *e);
bool pending_is_tombstone(const pending_entry_t *e);
/* True once pending_move() gave the wait its later deadline. */
bool pending_is_moved(const pending_entry_t *e);
bool pending_waits(const pending_entry_t *e);
/* The raw request kept at add, or NULL. */
const void *pending_raw(const pending_entry_t *e, size_t *len);

#endif
