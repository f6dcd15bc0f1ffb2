/* upstream.h - what a stage knows about the producers feeding its input.
 *
 * A stage's input may be fed by several producers (dispatch by every
 * reassembler shard). Per producer it tracks the frame sequence (a jump
 * within what this process saw is counted as frames lost), the
 * packet-time watermark and whether it has sent `eof`. The stage's own
 * watermark is the minimum over the producers it expects, so state is
 * only expired once every producer has moved past it: replaying a
 * capture expires the same state whatever the interleaving of shards.
 */
#ifndef HARK_UPSTREAM_H
#define HARK_UPSTREAM_H

#include "frame.h"
#include "stats.h"

#include <stdbool.h>
#include <stdint.h>

#define UPSTREAM_MAX 64

typedef struct upstream upstream_t;

/* expected: how many distinct producers must end before the input is
 * done. Registers counters "frames_in", "frames_lost" (sequence jumps
 * within a producer's run), "frames_before_join" (frames a producer sent
 * before this process first heard it, i.e. to our predecessor), "eof_in"
 * and "producers_refused". */
upstream_t *upstream_new(unsigned expected, stats_t *st);
void upstream_destroy(upstream_t **u);

/* Accounts a received frame (any type): sequence and watermark. Returns
 * false when the producer table is full (frame should be dropped). */
bool upstream_frame(upstream_t *u, const struct frame *f);

/* Accounts an eof frame; true once every expected producer has ended. */
bool upstream_eof(upstream_t *u, const struct frame *f);

/* True once every expected producer has ended. */
bool upstream_done(const upstream_t *u);

/* Minimum watermark over the expected producers; 0 until each of them
 * has been heard from. Ended producers no longer hold it back. */
uint64_t upstream_watermark(const upstream_t *u);

/* Highest watermark seen from any producer. */
uint64_t upstream_watermark_max(const upstream_t *u);

/* True when the last frame seen was from a live capture. */
bool upstream_live(const upstream_t *u);

#endif
