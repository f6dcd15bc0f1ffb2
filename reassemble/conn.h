/* conn.h - a shard's TCP connections, turned into HTTP messages.
 *
 * Each decoded TCP segment finds its flow (flow.h), goes into the stream
 * of its direction (stream.h), and the in-order bytes of the client's
 * direction feed a request parser, the server's a response parser
 * (http.h). Every message a parser completes, and a `conn` event when a
 * connection opens and closes, is handed to the owner's emit callback as
 * a struct http_msg ready for frame_add_msg().
 *
 * Rules a reader must know:
 *   - a flow starts on a SYN (or SYN-ACK) or on a segment with data;
 *     without a SYN it is "midstream" and its messages carry
 *     MSG_F_MIDSTREAM;
 *   - the client is the SYN sender (the SYN-ACK receiver); midstream, the
 *     sender of the first payload if it looks like a request, its
 *     receiver if it looks like a response, else the higher port;
 *   - a segment with a bad checksum is dropped as its receiver would
 *     drop it, offload artifacts and rewritten captures excepted
 *     (checksum.h); segment size is not limited to the MSS (TSO/GRO);
 *   - a RST is believed only where the receiver would believe it (RFC
 *     5961: at the byte it expects next); others are counted and the
 *     connection goes on;
 *   - a SYN with a new ISN on ports still tracked ends the old connection
 *     ("reused") and starts a new one;
 *   - which request a response answers is decided by TCP positions
 *     (pairing.h), not by counting, and a packet whose ACK covers bytes
 *     the other direction has not delivered is held back until they come
 *     or, after reorder_ns of packet time, are declared a gap;
 *   - time is packet time: ts_ns of the packet for message timestamps,
 *     and the stage clock (the largest packet time seen) for expiry.
 */
#ifndef HARK_REASSEMBLE_CONN_H
#define HARK_REASSEMBLE_CONN_H

#include "checksum.h"
#include "flow.h"
#include "frame.h"
#include "http.h"
#include "packet.h"
#include "stream.h"

#include <stddef.h>
#include <stdint.h>

struct conn_config {
    uint32_t max_flows;        /* flow table cap */
    uint64_t max_buffered;     /* out-of-order bytes per direction */
    uint64_t memcap;           /* bytes per shard: flow table (at most
                                  half), parsers, out-of-order copies,
                                  held packets */
    uint64_t idle_timeout_ns;  /* packet time */
    uint64_t reorder_ns;       /* how long an acknowledged hole may wait
                                  for its bytes (packet time) */
    enum stream_policy overlap_policy;
    enum checksum_mode checksums;
    struct http_limits http;
};

struct conn_counters {
    uint64_t requests, responses;  /* messages emitted */
    uint64_t conn_closed;          /* close events emitted */
    uint64_t unsolicited;          /* responses with no request before
                                      them (capture began mid-exchange) */
    uint64_t pkts_no_flow;         /* no flow and nothing to start one
                                      (pure ACK, FIN or RST) */
    uint64_t pkts_after_close;     /* absorbed by a closed flow */
    uint64_t alloc_failed;         /* parser allocation failed: the
                                      flow's bytes are not parsed */
    uint64_t rst_ignored;          /* RSTs the receiver would not believe */
    uint64_t ports_reused;         /* new SYN on a tracked port pair */
    uint64_t pkts_held;            /* held back behind an acked hole */
    uint64_t responses_lost;       /* requests whose responses the
                                      capture lost (a later one paired) */
    uint64_t pairs_uncertain;      /* responses flagged uncertain_pairing */
    uint64_t responses_early;      /* responses before their request's end */
    uint64_t pairing_evicted;      /* requests pushed out of a full
                                      pairing queue */
    uint64_t checksum_bad;         /* segments dropped: bad checksum */
    uint64_t checksum_offloaded;   /* kept: offload's partial checksum */
    uint64_t checksum_rewritten;   /* kept: a direction whose first
                                      segment failed (rewritten capture) */
    uint64_t checksum_unchecked;   /* kept: cut short, or TSO-sized */
    uint64_t tunnels;              /* CONNECT 2xx or 101: the rest of the
                                      connection is not HTTP */
    uint64_t tunnel_bytes[2];      /* their bytes after that, [0] client
                                      -> server, [1] back; counted when
                                      the connection closes */
};

/* Views of every counter the tracker keeps, for the stage's stats. */
struct conn_stats {
    const struct conn_counters *conn;
    const struct flow_counters *flow;
    const struct stream_counters *stream;
    const struct http_counters *http;
};

/* Receives each message; m and everything it points to are borrowed for
 * the call. */
typedef void (*conn_emit_fn)(void *ctx, const struct http_msg *m);

typedef struct conn_tracker conn_tracker_t;

/* cfg is copied; emit and ctx are borrowed. NULL on failure. */
conn_tracker_t *conn_tracker_new(const struct conn_config *cfg,
                                 conn_emit_fn emit, void *ctx);
/* Body bytes kept of the messages from now on: at most the body_max the
 * tracker was made with (reassemble.body_max). */
void conn_tracker_set_body_max(conn_tracker_t *t, uint64_t n);
/* Frees everything; connections still open end without emitting (call
 * conn_close_all first to have them emitted). */
void conn_tracker_destroy(conn_tracker_t **t);

void conn_tracker_stats(const conn_tracker_t *t, struct conn_stats *out);

/* pkt_flags of conn_packet */
#define CONN_PKT_CONFLICT 1u   /* reassembled from IP fragments whose
                                  overlapping copies differed */

/* One decoded TCP segment (PACKET_OK) captured at ts_ns; `cut` is how
 * many payload bytes the capture did not keep (snaplen; 0 normally);
 * now_ns is the stage clock (>= every packet time seen so far). pi
 * borrows the packet. */
void conn_packet(conn_tracker_t *t, const struct packet_info *pi, size_t cut,
                 uint32_t pkt_flags, uint64_t ts_ns, uint64_t now_ns);

/* Closes connections idle for idle_timeout_ns at clock now_ns (reason
 * "idle") and forgets closed ones. Cheap: call it once a second. */
void conn_expire(conn_tracker_t *t, uint64_t now_ns);

/* Closes every connection with `why` (FLOW_END_EOF or FLOW_END_SIGNAL):
 * partial messages and close events are emitted. */
void conn_close_all(conn_tracker_t *t, enum flow_end why);

#endif
