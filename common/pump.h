/* pump.h - the input loop of a stage that turns frames into frames.
 *
 * dispatch and correlate (and any stage like them) read batches from one
 * bound input, act on each frame, and keep output batches that must not
 * sit idle. The pump owns what they share: polling the input with the
 * signal fd and the stats tick, decoding and counting bad frames, the
 * producer accounting (sequence, watermark, eof from each producer), an
 * idle flush of pending output, and the stop rule: told to stop without
 * an eof (its producers are gone), a stage takes what is still queued and
 * ends once the input has been quiet for PUMP_STOP_QUIET_MS.
 */
#ifndef HARK_PUMP_H
#define HARK_PUMP_H

#include "bus.h"
#include "frame.h"
#include "stage.h"
#include "upstream.h"

#include <stdbool.h>

#define PUMP_FRAMES_PER_TURN 64
#define PUMP_IDLE_FLUSH_MS 20
#define PUMP_STOP_QUIET_MS 200

struct pump_ops {
    /* A decoded data frame (not eof) from an accounted producer.
     * 0 to go on, -errno to fail the stage. */
    int (*frame)(void *ctx, const struct frame *f);
    /* Every expected producer has sent eof (the last one is f), or the
     * stage was stopped (f is NULL): flush what is held. 0 or -errno. */
    int (*end)(void *ctx, const struct frame *f);
    /* True when output items wait to be sent. */
    bool (*pending)(void *ctx);
    /* Sends waiting output. 0 or -errno. */
    int (*flush)(void *ctx);
};

/* Runs until the input ends (0) or a failure (-errno). frames_malformed
 * counts frames that did not decode or came from one producer too many. */
int pump_run(struct stage *st, bus_in_t *in, frame_reader_t *reader,
             upstream_t *up, uint64_t *frames_malformed,
             const struct pump_ops *ops, void *ctx);

#endif
