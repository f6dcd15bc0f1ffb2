/* pairing.h - which request a response answers, decided by TCP.
 *
 * Counting messages (the n-th response answers the n-th request) is
 * exact on clean traffic and silently wrong after a capture gap: one lost
 * response shifts every later pair on the connection. TCP says more than
 * the count: every segment acknowledges the other direction, so each
 * message carries where it began in its own stream and how much of the
 * other stream its sender had received by then. From those positions:
 *   - a response can only answer a request that began before the bytes
 *     its first segment acknowledges (req.start < resp.ack), and that was
 *     sent before the response began (req.ack <= resp.start);
 *   - HTTP/1.x answers in order, so among those it answers the oldest
 *     still unanswered;
 *   - a request sent after the client received server bytes that were
 *     never parsed (a gap, or bytes skipped while resynchronising) shows
 *     that the older requests were answered in those bytes: their
 *     responses were lost, and they are reported as such instead of
 *     taking a later response;
 *   - where positions allow more than one reading (pipelined requests
 *     around a gap), the pair is marked uncertain: never a confident wrong
 *     pair.
 * Positions are 64-bit byte offsets from the start of each stream, gaps
 * included, so they never wrap. The module is pure bookkeeping: conn.c
 * feeds it what the parsers and streams saw.
 */
#ifndef HARK_REASSEMBLE_PAIRING_H
#define HARK_REASSEMBLE_PAIRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Requests held unanswered per connection; the oldest is pushed out when
 * more arrive (a pipeline this deep is an attack or a broken peer). The
 * queue is allocated with the first request and grows to this. */
#define PAIRING_MAX_PENDING 64
#define PAIRING_FIRST_PENDING 4
/* Unparsed regions of each stream remembered per connection; past it the
 * oldest two merge, which can only make decisions more cautious. */
#define PAIRING_MAX_HOLES 8

/* What a response is answering. */
enum pairing_class {
    PAIRING_NORMAL,
    PAIRING_HEAD,      /* no body */
    PAIRING_CONNECT,   /* a 2xx opens a tunnel */
};

/* How a pair was decided (flags of the response, and of its request). */
#define PAIRING_UNCERTAIN 1u  /* positions allow another request too */
#define PAIRING_EARLY 2u      /* response began before its request ended */
#define PAIRING_ORPHAN 4u     /* no request it can answer */

struct pairing_req {
    uint32_t idx;
    uint64_t start, end;      /* client stream offsets */
    uint64_t ack;             /* server offset acknowledged at its start */
    enum pairing_class cls;
};

struct pairing_hole {
    uint64_t start, end;
};

/* Per connection; embedded in it, zeroed to start, pairing_release()
 * at its end. */
struct pairing {
    struct pairing_req *q;    /* unanswered, oldest first, ring of cap */
    uint32_t head, n, cap;
    uint64_t answered_end;    /* client offset: end of the newest request
                                 answered or lost */
    uint64_t resp_end;        /* server offset: end of the newest response
                                 paired */
    struct pairing_hole holes[2][PAIRING_MAX_HOLES]; /* [0] client,
                                                        [1] server */
    uint32_t n_holes[2];
    uint32_t early_idx;       /* request answered before it ended */
    bool early;
    bool doubt;               /* a response may have been lost unseen:
                                 pairs stay uncertain until the count is
                                 anchored again */
};

/* The decision for one response. */
struct pairing_result {
    bool paired;              /* false: an orphan */
    uint32_t idx;             /* request it answers (when paired) */
    uint32_t flags;           /* PAIRING_* */
    enum pairing_class cls;
    uint64_t early_bytes;     /* early: request bytes sent by then */
    /* Requests whose responses were lost before this one: the oldest
     * index and how many (they end their wait as lost). */
    uint32_t lost_first, n_lost;
};

/* A complete request. Returns false when it had to push the oldest
 * unanswered request out (reported through *evicted_idx), or could not
 * grow the queue (then *evicted_idx is r's own index). */
bool pairing_request(struct pairing *p, const struct pairing_req *r,
                     uint32_t *evicted_idx);

/* Frees the queue; the pairing is empty and usable again. */
void pairing_release(struct pairing *p);

/* Bytes allocated beyond the struct itself. */
size_t pairing_mem(const struct pairing *p);

/* Bytes of a stream that were never parsed: side 0 client, 1 server. */
void pairing_hole(struct pairing *p, int side, uint64_t start,
                  uint64_t end);

/* A response whose first byte is at server offset `start`, sent with
 * client bytes up to `ack` acknowledged. `cur` is the request under way
 * on the client stream (NULL when none): its start, its ack and the index
 * it will get. Decides, removes what it answers, and returns the result. */
void pairing_response(struct pairing *p, uint64_t start, uint64_t ack,
                      const struct pairing_req *cur,
                      struct pairing_result *out);

/* The response decided last ended at server offset `end`. */
void pairing_response_end(struct pairing *p, uint64_t end);

/* True when request idx (now complete, ending at client offset `end`)
 * was answered early, before it was complete: it carries the early flag
 * and is not queued. Clears the mark. */
bool pairing_take_early(struct pairing *p, uint32_t idx, uint64_t end);

#endif
