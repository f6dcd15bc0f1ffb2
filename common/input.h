/* input.h - a stage's bus input, read on the stage's loop.
 *
 * Every stage after capture binds one input that its producers push
 * batches to. The input owns what they all do the same way: taking up to
 * INPUT_FRAMES_PER_TURN frames each time the socket is readable (so
 * timers and signals are never starved), decoding each frame and counting
 * the bad ones (`frames_malformed`), the producer accounting (sequence,
 * watermark, eof from each producer: upstream.h), and the two ways an
 * input ends:
 *   - every expected producer sent eof: ops->end(ctx, eof);
 *   - the stage was told to stop (its producers are gone): it takes what
 *     is still queued and ends once the input has been quiet for
 *     INPUT_STOP_QUIET_MS: ops->end(ctx, NULL).
 * After end the loop stops with 0 (or the error end returned).
 */
#ifndef HARK_INPUT_H
#define HARK_INPUT_H

#include "bus.h"
#include "frame.h"
#include "stage.h"
#include "upstream.h"

#define INPUT_FRAMES_PER_TURN 64
#define INPUT_STOP_QUIET_MS 200

struct input_ops {
    /* A decoded data frame (not eof) from an accounted producer.
     * 0 to go on, -errno to fail the stage. */
    int (*frame)(void *ctx, const struct frame *f);
    /* The input ended: f is the last producer's eof, or NULL when the
     * stage was stopped. Flush what is held. 0 or -errno. */
    int (*end)(void *ctx, const struct frame *f);
    /* Optional: the queue ran dry; send what waits. 0 or -errno. */
    int (*idle)(void *ctx);
};

/* An acknowledged input's first look at every decoded frame (eof too)
 * and the routing id of its sender: true to take it, false to drop it
 * unaccounted (a frame sent again that was already taken, or one that
 * came out of order). */
typedef bool (*input_admit_fn)(void *ctx, const struct frame *f,
                               struct bytes peer);

typedef struct input input_t;

/* Binds `endpoint` and registers it on the stage's loop. `reader` decodes
 * the frames (borrowed; the stage decodes items with it too), `up` is the
 * stage's producer accounting (borrowed). NULL on failure, with the
 * reason logged. */
input_t *input_new(struct stage *st, const char *endpoint,
                   frame_reader_t *reader, upstream_t *up,
                   const struct input_ops *ops, void *ctx);
/* The same for an acknowledged input (the logger's, bus.h): a ROUTER
 * that producers connect DEALERs to, answered with input_reply(); admit
 * sees each frame first. */
input_t *input_new_acked(struct stage *st, const char *endpoint,
                         frame_reader_t *reader, upstream_t *up,
                         const struct input_ops *ops, input_admit_fn admit,
                         void *ctx);
void input_destroy(input_t **in);

/* Leaves the input unread (true) or reads it again (false). */
void input_pause(input_t *in, bool paused);

/* Sends a frame to the producer with routing id peer (an acknowledged
 * input), without waiting. 0 or -errno. */
int input_reply(input_t *in, struct bytes peer, enum frame_type type,
                const void *body, size_t len);

/* Monotonic time at which the last frame arrived. */
uint64_t input_last_ns(const input_t *in);

#endif
