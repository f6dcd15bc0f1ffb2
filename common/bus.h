/* bus.h - the ZeroMQ links between stages.
 *
 * Rules every stage follows, so stages can start in any order, restart,
 * and move to other machines:
 *   - a stage binds its input (PULL) and its tap (PUB), and connects its
 *     outputs (PUSH) to the next stage's input;
 *   - pipeline sends block at the high-water mark: a slow stage slows its
 *     producer instead of losing frames, and queued frames wait (linger
 *     forever) for a restarted peer;
 *   - tap sends never block: a frame a slow subscriber cannot take is
 *     dropped and counted in `tap_dropped`;
 *   - a tap carries what the trail could hold, never more: `msg` and `pkt`
 *     frames go out as redacted copies (tapcopy.h), and only while
 *     someone subscribes to their topic, so an unwatched tap costs no
 *     copy.
 * A message is two frames: topic, then MessagePack body (frame.h).
 */
#ifndef HARK_BUS_H
#define HARK_BUS_H

#include "frame.h"
#include "stats.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

/* Frames in flight per link before the sender blocks. */
#define BUS_PIPE_HWM 64
#define BUS_TAP_HWM 256

typedef struct bus_tap bus_tap_t;
typedef struct bus_out bus_out_t;
typedef struct bus_in bus_in_t;

/* Binds a tap (an XPUB socket, so it sees subscriptions) at endpoint
 * (NULL or "" for none). Counts drops in the stats counter "tap_dropped",
 * frames it could not make a redacted copy of in "tap_withheld". NULL on
 * failure (errno set). */
bus_tap_t *bus_tap_new(void *ctx, const char *endpoint, stats_t *st);
void bus_tap_destroy(bus_tap_t **t);
/* Publishes a frame on the tap only (used for stats), as any frame is:
 * redacted when its type needs it, not at all when nobody listens. */
void bus_tap_publish(bus_tap_t *t, enum frame_type type, const void *body,
                     size_t len);

/* Connects a PUSH output to endpoint. src is this producer's id (copied);
 * tap may be NULL. NULL on failure (errno set). */
bus_out_t *bus_out_new(void *ctx, const char *endpoint, const char *src,
                       bus_tap_t *tap);
/* Closes the socket; queued frames are delivered first (linger). */
void bus_out_destroy(bus_out_t **o);

/* Sends the writer's batch (if it holds any item) with the next sequence
 * number, mirrors it to the tap (tapcopy.h) and resets the writer. Blocks
 * while the link is full. 0 or -errno. */
int bus_out_flush(bus_out_t *o, frame_writer_t *w, uint64_t wm_ns, bool live);

/* Same, but sends even an empty batch: a heartbeat that carries the
 * watermark forward when a producer has nothing else to say. */
int bus_out_heartbeat(bus_out_t *o, frame_writer_t *w, uint64_t wm_ns,
                      bool live);

/* Sends an already encoded body of the given type (a frame passed
 * through unchanged, or one made by frame_encode_*). */
int bus_out_send(bus_out_t *o, enum frame_type type, const void *body,
                 size_t len);

/* Sends `eof` with the next sequence number. */
int bus_out_eof(bus_out_t *o, uint64_t wm_ns, const char *reason);

/* Binds a PULL input at endpoint. NULL on failure (errno set). */
bus_in_t *bus_in_new(void *ctx, const char *endpoint);
void bus_in_destroy(bus_in_t **i);
void *bus_in_socket(bus_in_t *i);

/* Receives one message without blocking (timeout_ms 0) or waiting up to
 * timeout_ms (-1: forever). On success the topic and body stay valid until
 * the next call. Returns 1 when a message was read, 0 when none came,
 * -EBADMSG when it did not have exactly two parts (already consumed), or
 * another -errno. */
int bus_in_recv(bus_in_t *i, int timeout_ms, const void **topic,
                size_t *tlen, const void **body, size_t *blen);

/* Creates the directory of an ipc:// endpoint (mode 0700) if missing. */
int bus_prepare_endpoint(const char *endpoint);

#endif
