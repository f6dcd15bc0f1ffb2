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
 *     copy;
 *   - every tcp:// socket is a CURVE server (binds) or client (connects),
 *     see curve.h.
 * One link is acknowledged: the logger's input is a ROUTER, and a
 * producer that connects a DEALER (bus_out_new_acked) keeps each frame
 * until the logger acknowledges its commit (`ack` frames back on the
 * same connection), and sends again what a restarted logger never
 * committed.
 * A message is two frames: topic, then MessagePack body (frame.h).
 */
#ifndef HARK_BUS_H
#define HARK_BUS_H

#include "curve.h"
#include "frame.h"
#include "stats.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

/* Frames in flight per link before the sender blocks. */
#define BUS_PIPE_HWM 64
#define BUS_TAP_HWM 256
/* An acknowledged link: frames kept before the producer stops taking
 * input, and how long it waits for an acknowledgement before it sends
 * everything kept again (the consumer may have restarted). */
#define BUS_ACKED_MAX_FRAMES 1024
#define BUS_ACKED_MAX_BYTES (256u << 20)
#define BUS_ACK_TIMEOUT_MS 2000

/* What every socket of a process shares. Passed by value, so that a bare
 * ZeroMQ context given where it belongs fails to compile; the keys it
 * points to outlive the sockets. */
struct bus_env {
    void *zmq;                /* the process's ZeroMQ context */
    const curve_t *curve;     /* keys for tcp:// (NULL: none) */
};

typedef struct bus_tap bus_tap_t;
typedef struct bus_out bus_out_t;
typedef struct bus_in bus_in_t;

/* Binds a PUB tap at endpoint (NULL or "" for none). Counts drops in the
 * stats counter "tap_dropped", frames it would not show in
 * "tap_withheld". NULL on failure (errno set; the reason logged). */
bus_tap_t *bus_tap_new(struct bus_env env, const char *endpoint,
                       stats_t *st);
void bus_tap_destroy(bus_tap_t **t);
/* Publishes a frame on the tap only (used for stats). */
void bus_tap_publish(bus_tap_t *t, enum frame_type type, const void *body,
                     size_t len);

/* Connects a PUSH output to endpoint. src is this producer's id (copied);
 * tap may be NULL. NULL on failure (errno set; the reason logged). */
bus_out_t *bus_out_new(struct bus_env env, const char *endpoint,
                       const char *src, bus_tap_t *tap);

/* Connects an acknowledged output (a DEALER with the routing id
 * "<src>:<16 hex digits>", new for each process) to a ROUTER input.
 * hwm: frames queued before a send blocks (BUS_PIPE_HWM; 0 never blocks,
 * for a producer that must not wait, the supervisor).
 * Registers "frames_resent", "acks_in" and the gauges "unacked_frames"
 * and "unacked_since_ns" (when the oldest was sent, wall clock) in st.
 * NULL on failure. */
bus_out_t *bus_out_new_acked(struct bus_env env, const char *endpoint,
                             const char *src, bus_tap_t *tap, stats_t *st,
                             int hwm);
/* Closes the socket; queued frames are delivered first (linger). */
void bus_out_destroy(bus_out_t **o);

/* Sends the writer's batch (if it holds any item) with the next sequence
 * number, mirrors it to the tap and resets the writer. Blocks while the
 * link is full. 0 or -errno. */
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

/* ---- acknowledged outputs ---- */

/* The socket to poll for acknowledgements. */
void *bus_out_socket(bus_out_t *o);
/* Takes the acknowledgements that arrived, without waiting; returns the
 * frames they released, or -errno. */
int bus_out_take_acks(bus_out_t *o);
/* Frames sent and not acknowledged yet. */
unsigned bus_out_unacked(const bus_out_t *o);
/* True while so much is unacknowledged that the producer should stop
 * taking input. */
bool bus_out_backlogged(const bus_out_t *o);
/* Sends everything kept again when nothing was acknowledged for
 * BUS_ACK_TIMEOUT_MS. Returns the milliseconds until it should be asked
 * again (-1: nothing kept), or -errno. */
int bus_out_tick(bus_out_t *o);
/* Sends everything kept again now (the consumer restarted). 0 or
 * -errno. */
int bus_out_resend(bus_out_t *o);

/* Binds a PULL input at endpoint; with `router`, a ROUTER that producers
 * connect DEALERs to and that answers them (bus_in_reply). NULL on
 * failure (errno set; the reason logged). */
bus_in_t *bus_in_new(struct bus_env env, const char *endpoint,
                     bool router);
void bus_in_destroy(bus_in_t **i);
void *bus_in_socket(bus_in_t *i);

/* Receives one message without blocking (timeout_ms 0) or waiting up to
 * timeout_ms (-1: forever). On success the topic and body stay valid until
 * the next call. Returns 1 when a message was read, 0 when none came,
 * -EBADMSG when it did not have exactly two parts (three on a router:
 * the peer first; already consumed), or another -errno. */
int bus_in_recv(bus_in_t *i, int timeout_ms, const void **topic,
                size_t *tlen, const void **body, size_t *blen);

/* The routing id of the peer that sent the last message (a router's;
 * empty on a PULL input). Valid until the next recv. */
struct bytes bus_in_peer(const bus_in_t *i);

/* Sends a frame to the peer with routing id `peer` (a router only),
 * without waiting: an answer the peer cannot take now is dropped (an
 * acknowledgement is repeated by the next one). 0 or -errno. */
int bus_in_reply(bus_in_t *i, struct bytes peer, enum frame_type type,
                 const void *body, size_t len);

/* Creates the directory of an ipc:// endpoint (mode 0700) if missing. */
int bus_prepare_endpoint(const char *endpoint);

#endif
