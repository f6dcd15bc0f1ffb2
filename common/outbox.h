/* outbox.h - frames sent on an acknowledged link, kept until acknowledged.
 *
 * A producer whose consumer acknowledges what it has made durable (the
 * logger acknowledges committed frames) keeps every frame it sent, by
 * sequence number, until an acknowledgement covers it, so it can send
 * them again to a consumer that restarted. Frames are kept by reference
 * (zmq_msg_copy shares the bytes with the message being sent), so
 * keeping costs no copy. The outbox never drops: it grows past its
 * limits, and outbox_full() tells the producer to stop taking input
 * (backpressure) until acknowledgements bring it back below them.
 */
#ifndef HARK_OUTBOX_H
#define HARK_OUTBOX_H

#include "frame.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

typedef struct outbox outbox_t;

/* max_frames and max_bytes: where outbox_full() turns true. NULL on
 * ENOMEM. */
outbox_t *outbox_new(unsigned max_frames, size_t max_bytes);
/* Releases every kept frame; NULLs *o; safe twice. */
void outbox_destroy(outbox_t **o);

/* Keeps a reference to msg (still the caller's) as frame seq of type,
 * sent at wall time now_ns. Sequence numbers must increase. 0 or
 * -ENOMEM. */
int outbox_keep(outbox_t *o, uint64_t seq, enum frame_type type,
                zmq_msg_t *msg, uint64_t now_ns);

/* Releases every frame with a sequence number up to seq; returns how
 * many it released. */
unsigned outbox_ack(outbox_t *o, uint64_t seq);

unsigned outbox_count(const outbox_t *o);
/* When the oldest kept frame was sent (wall ns), 0 when none is kept. */
uint64_t outbox_oldest_ns(const outbox_t *o);
size_t outbox_bytes(const outbox_t *o);
bool outbox_full(const outbox_t *o);

/* The i-th kept frame, oldest first: its seq, type and a new reference
 * to its bytes in *msg (initialised here; the caller sends or closes
 * it). 0, or -ENOENT past the end, or -errno. */
int outbox_get(outbox_t *o, unsigned i, uint64_t *seq,
               enum frame_type *type, zmq_msg_t *msg);

#endif
