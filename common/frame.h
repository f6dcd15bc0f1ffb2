/* frame.h - the bus schema: every frame hark sends, and its codec.
 *
 * A message on the bus is two ZeroMQ frames: a topic ("pkt", "msg", "log",
 * "stats", "eof", "ack") and one MessagePack map. Every map carries "v" (schema
 * version), "src" (the producer's id) and "seq" (the producer's frame
 * counter on that socket). Batches carry their items in one array, so a
 * frame holds many packets or messages. docs/bus.md is the same contract
 * written for consumers in other languages; change both together.
 *
 * Ownership: views filled by the reader (struct pkt, struct http_msg,
 * struct audit_record with `struct bytes` fields) borrow the received
 * buffer and the reader's scratch space; they are valid until the next
 * frame_read() on the same reader. Structs passed to the writer are only
 * read during the call.
 */
#ifndef HARK_FRAME_H
#define HARK_FRAME_H

#include "bytes.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FRAME_VERSION 1

/* Hard caps on what one frame may describe, so a bad peer cannot make a
 * consumer allocate without bound. */
#define FRAME_MAX_BYTES (64u << 20)
#define FRAME_MAX_HEADERS 256
#define FRAME_MAX_DEPTH 8

enum frame_type {
    FRAME_PKT,   /* batch of captured packets: capture -> reassemble */
    FRAME_MSG,   /* batch of HTTP messages and connection events */
    FRAME_LOG,   /* batch of audit records: -> logger */
    FRAME_STATS, /* a stage's counters (taps only) */
    FRAME_EOF,   /* end of input: every stage flushes, then forwards it */
    FRAME_ACK,   /* logger -> a producer: its frames up to seq are
                    committed (an acknowledged link, bus.h) */
    FRAME_TYPE_COUNT
};

const char *frame_topic(enum frame_type t);
/* Returns the type for a topic, or -1 when unknown. */
int frame_type_of(const void *topic, size_t len);

/* ---- items ---------------------------------------------------------- */

/* One captured packet; data is the first caplen bytes of the frame. */
struct pkt {
    uint64_t ts_ns;
    uint32_t wirelen;
    struct bytes data;
};

enum msg_kind { MSG_REQ = 1, MSG_RESP = 2, MSG_CONN = 3 };

/* Message flags; on the wire an array of these names (msg_flag_names). */
enum msg_flag {
    MSG_F_CHUNKED = 1u << 0,        /* body was chunked (body is de-chunked) */
    MSG_F_TRUNCATED = 1u << 1,      /* body holds a prefix of body_len bytes */
    MSG_F_INCOMPLETE = 1u << 2,     /* ended before the message completed */
    MSG_F_GAP = 1u << 3,            /* bytes missing inside the message */
    MSG_F_CLOSE_DELIMITED = 1u << 4, /* body ended by connection close */
    MSG_F_UPGRADE = 1u << 5,        /* CONNECT / 101: parsing stops after */
    MSG_F_MALFORMED = 1u << 6,      /* framing was invalid; best effort */
    MSG_F_MIDSTREAM = 1u << 7,      /* connection picked up without SYN */
    MSG_F_HEADERS_TRUNCATED = 1u << 8, /* more headers than kept */
    MSG_F_OVERLAP_CONFLICT = 1u << 9, /* overlapping copies of its bytes
                                         (TCP segments or IP fragments)
                                         differed; resolved as the
                                         target would */
    MSG_F_UNCERTAIN_PAIRING = 1u << 10, /* TCP allows another request as
                                           the one this response answers */
    MSG_F_EARLY_RESPONSE = 1u << 11, /* the response began before the
                                        request was complete */
    MSG_F_AMBIGUOUS_PATH = 1u << 12, /* servers may read the path in ways
                                        that route differently */
};
#define MSG_FLAG_COUNT 13
extern const char *const msg_flag_names[MSG_FLAG_COUNT];

struct msg_header {
    struct bytes name;
    struct bytes value;
};

/* The client is the side that sent the SYN (or the requests, midstream). */
struct conn_addr {
    struct bytes src_ip;   /* client, text form */
    uint16_t src_port;
    struct bytes dst_ip;   /* server */
    uint16_t dst_port;
};

/* Route annotation added by dispatch. */
struct msg_route {
    struct bytes group;    /* service group */
    struct bytes path;     /* the relative path that matched */
    struct bytes policy;
    int32_t next_step;     /* index of the policy step to run next; -1 none */
};

/* An HTTP request or response, or a connection event. */
struct http_msg {
    enum msg_kind kind;
    struct bytes uid;      /* connection id: 16 hex digits */
    uint32_t idx;          /* request: n-th on the connection; response:
                              the request it answers; conn: see event */
    uint64_t ts_ns;        /* first byte */
    uint64_t ts_end_ns;    /* last byte */
    struct conn_addr addr;
    /* MSG_REQ */
    struct bytes method, uri;
    /* MSG_RESP */
    uint32_t status;
    struct bytes reason;
    /* both */
    struct bytes version;  /* "1.1" */
    const struct msg_header *headers;
    uint32_t n_headers;
    struct bytes body;     /* captured (de-chunked) prefix */
    uint64_t body_len;     /* whole body length */
    uint32_t flags;        /* enum msg_flag */
    bool routed;           /* MSG_REQ after dispatch */
    struct msg_route route;
    /* MSG_CONN */
    struct bytes event;    /* "open" | "close" | "lost" | "responding";
                              lost: the responses to requests idx ..
                              idx + requests - 1 were lost; responding:
                              the response to request idx began at ts_ns */
    /* close: "fin", "rst", "idle", "eof", "signal", "evicted" or
     * "reused" (the reassembler's flow_end_name(); docs/bus.md lists
     * them too) */
    struct bytes reason_text;
    uint64_t pkts[2], bytes_seen[2]; /* [0] client->server, [1] back */
    uint32_t gaps, requests, responses;
};

enum record_kind { RECORD_REQUEST = 1, RECORD_RESPONSE = 2,
                   RECORD_OUTAGE = 3 };

/* Outcome of waiting for a response (RECORD_RESPONSE). */
#define OUTCOME_OK "ok"            /* response arrived within the timeout
                                      (its first byte, then the rest within
                                      max_response; or its last byte) */
#define OUTCOME_TIMEOUT "timeout"  /* none arrived within the timeout */
#define OUTCOME_CLOSED "closed"    /* connection ended without a response */
#define OUTCOME_EOF "eof"          /* input ended while waiting */
#define OUTCOME_LATE "late"        /* arrived after its wait had timed out */
#define OUTCOME_ORPHAN "orphan"    /* response with no request seen */
#define OUTCOME_LOST "lost"        /* the server answered, the capture lost
                                      the response (a later one was paired
                                      past it) */

/* A named count: what an outage lost ("open_connections", 12). */
struct record_count {
    struct bytes name;
    uint64_t n;
};
#define FRAME_MAX_COUNTS 32

/* One entry of the audit trail, made by a Log Message step, or an outage:
 * a stage that died, from ts_ns to until_ns, and what it took with it
 * (`who`, `reason`, `lost`; the request and message fields are empty). */
struct audit_record {
    enum record_kind kind;
    struct bytes uid;
    uint32_t idx;
    uint64_t ts_ns;        /* request: first byte; response: first byte,
                              or the moment the wait ended */
    struct conn_addr addr;
    struct msg_route route;
    struct bytes step;     /* label of the logging step */
    /* request line (present in both kinds) */
    struct bytes method, uri, host;
    uint64_t req_ts_ns;
    /* the logged message */
    struct bytes version;
    uint32_t status;       /* response */
    struct bytes reason;
    const struct msg_header *headers;
    uint32_t n_headers;
    struct bytes body;
    uint64_t body_len;
    uint32_t flags;
    struct bytes outcome;  /* response: OUTCOME_* */
    uint64_t latency_ns;   /* response: first response byte - request end */
    /* outage */
    struct bytes who;      /* the stage's process id */
    uint64_t until_ns;     /* when it was back (or the run ended) */
    const struct record_count *lost;
    uint32_t n_lost;
};

/* ---- writer: batches into a reused buffer ------------------------- */

typedef struct frame_writer frame_writer_t;

/* A writer for batch frames of `type` (PKT, MSG or LOG) produced by `src`
 * (copied). NULL on failure. */
frame_writer_t *frame_writer_new(enum frame_type type, const char *src);
void frame_writer_destroy(frame_writer_t **w);

enum frame_type frame_writer_type(const frame_writer_t *w);
uint32_t frame_writer_items(const frame_writer_t *w);
size_t frame_writer_bytes(const frame_writer_t *w);

/* Message and record batches are sent once they hold this much: big
 * enough that a bus hop costs little per item, small enough to keep
 * latency and memory down. */
#define FRAME_BATCH_ITEMS 256
#define FRAME_BATCH_BYTES (256u * 1024)
/* True when the batch reached FRAME_BATCH_ITEMS or FRAME_BATCH_BYTES. */
bool frame_writer_full(const frame_writer_t *w);

/* PKT frames: link type (DLT_*) of the packets. Set before adding. */
void frame_writer_set_link(frame_writer_t *w, int link);

int frame_add_pkt(frame_writer_t *w, uint64_t ts_ns, uint32_t wirelen,
                  const void *data, uint32_t caplen);
int frame_add_msg(frame_writer_t *w, const struct http_msg *m);
int frame_add_record(frame_writer_t *w, const struct audit_record *r);
/* Adds an item received in another frame, unchanged (pass-through). */
int frame_add_object(frame_writer_t *w, const msgpack_object *item);

/* Completes the frame and exposes its body (valid until the next reset).
 * wm_ns is the packet-time watermark: the producer has seen every packet
 * up to it; live is true when the packets come from an interface. */
void frame_writer_finish(frame_writer_t *w, uint64_t seq, uint64_t wm_ns,
                         bool live, const void **body, size_t *len);
/* Empties the batch, keeping the buffer. */
void frame_writer_reset(frame_writer_t *w);

/* Encodes a non-batch frame into sb (cleared first). */
int frame_encode_eof(msgpack_sbuffer *sb, const char *src, uint64_t seq,
                     uint64_t wm_ns, const char *reason);

/* An acknowledgement: every frame of the producer it goes to, up to and
 * including seq, is committed. */
int frame_encode_ack(msgpack_sbuffer *sb, const char *src, uint64_t seq);

struct stats;
int frame_encode_stats(msgpack_sbuffer *sb, const char *src, uint64_t seq,
                       const struct stats *s);

/* ---- reader ------------------------------------------------------- */

struct frame {
    enum frame_type type;
    uint32_t version;
    struct bytes src;
    uint64_t seq;
    uint64_t wm_ns;
    bool live;
    int link;                    /* PKT */
    uint32_t n_items;            /* PKT, MSG, LOG */
    const msgpack_object *items;
    struct bytes reason;         /* EOF */
    const msgpack_object *counters; /* STATS: map name -> uint */
    const msgpack_object *root;
};

typedef struct frame_reader frame_reader_t;

frame_reader_t *frame_reader_new(void);
void frame_reader_destroy(frame_reader_t **r);

/* Decodes one frame. The body is validated in full (every length against
 * the bytes present, nesting depth, version) before anything is built.
 * Returns 0, -EBADMSG (malformed), -EPROTONOSUPPORT (other version) or
 * -ENOMSG (unknown topic). */
int frame_read(frame_reader_t *r, const void *topic, size_t tlen,
               const void *body, size_t blen, struct frame *f);

/* Item accessors: 0, or -EBADMSG when item i does not match the schema.
 * Headers of a decoded message live in the reader's scratch space until
 * the next item is decoded. */
int frame_item_pkt(const struct frame *f, uint32_t i, struct pkt *out);
int frame_item_msg(frame_reader_t *r, const struct frame *f, uint32_t i,
                   struct http_msg *out);
int frame_item_record(frame_reader_t *r, const struct frame *f, uint32_t i,
                      struct audit_record *out);
/* The same decoders for an object that is not in a frame (an item kept
 * by a stage or read back from the store). */
int frame_decode_msg(frame_reader_t *r, const msgpack_object *o,
                     struct http_msg *out);
int frame_decode_record(frame_reader_t *r, const msgpack_object *o,
                        struct audit_record *out);
/* Unpacks one MessagePack value (validated first) into the reader's zone;
 * valid until the next frame_read/frame_unpack on this reader. */
int frame_unpack(frame_reader_t *r, const void *data, size_t len,
                 const msgpack_object **out);

#endif
