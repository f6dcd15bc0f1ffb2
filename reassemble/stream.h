/* stream.h - TCP reassembly of one direction of a connection.
 *
 * The stream hands its bytes to a sink in sequence order, each byte once:
 * in-order segments straight from the packet (no copy), out-of-order
 * segments copied into a sorted list until the hole before them fills.
 * Where bytes are known to be lost - the peer acknowledged past a hole, a
 * cap forced a skip, or the direction ended with holes - the sink is told
 * a gap of that many bytes and delivery continues after it.
 *
 * Rules a reader must know:
 *   - sequence numbers are compared only through SEQ_LT/SEQ_GT (wrap-safe
 *     int32_t difference), so streams may start anywhere, 2^32-1 included;
 *     positions handed to the sink are 64-bit offsets from the stream's
 *     first byte (gaps included), which never wrap;
 *   - bytes already delivered are never replaced (the receiving
 *     application has read them); where a new segment overlaps bytes
 *     still buffered, the overlap policy decides which copy the receiver
 *     keeps, as the target's TCP stack would (stream_policy); when the
 *     copies differ, the sink is told (a conflict) and it is counted;
 *   - a hole the peer acknowledged past is not a gap at once: the capture
 *     may have reordered the ACK before the data. stream_settle() (the
 *     connection calls it once the hole outlived its reorder window)
 *     declares it;
 *   - buffered bytes (data plus a per-segment overhead) are capped per
 *     direction (max_buffered, STREAM_MAX_SEGMENTS) and per shard
 *     (memcap), checked before allocating; over a cap the stream declares
 *     the hole before its earliest data a gap and delivers from there.
 * A struct stream is embedded in its connection (no allocation per flow);
 * its fields are private to stream.c.
 */
#ifndef HARK_REASSEMBLE_STREAM_H
#define HARK_REASSEMBLE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEQ_DIFF(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)))
#define SEQ_LT(a, b) (SEQ_DIFF(a, b) < 0)
#define SEQ_LEQ(a, b) (SEQ_DIFF(a, b) <= 0)
#define SEQ_GT(a, b) (SEQ_DIFF(a, b) > 0)
#define SEQ_GEQ(a, b) (SEQ_DIFF(a, b) >= 0)

/* Out-of-order segments held per direction; bounds the sorted insert.
 * Reaching it is handled like max_buffered (counted in buffer_gaps). */
#define STREAM_MAX_SEGMENTS 1024
/* Data further ahead of the next expected byte than this is outside any
 * TCP window (1 GiB with the largest window scale): dropped, counted in
 * out_of_window. Also bounds one segment's length. */
#define STREAM_MAX_AHEAD (1u << 30)

/* Which copy of an overlapping byte the receiver keeps, when a segment
 * overlaps one still held out of order (Novak & Sturges, "Target-Based
 * TCP Stream Reassembly"; the same as Suricata's policies):
 *   FIRST    the copy that arrived first;
 *   LAST     the copy that arrived last;
 *   BSD      the new copy when it begins before the held one (also
 *            Windows);
 *   LINUX    as BSD, and also when it begins at the same byte and ends
 *            after the held one (Linux's out-of-order queue). */
enum stream_policy {
    STREAM_POLICY_LINUX,
    STREAM_POLICY_FIRST,
    STREAM_POLICY_LAST,
    STREAM_POLICY_BSD,
    STREAM_POLICY_WINDOWS,
};

/* Where a stream's bytes go. Called only from stream_* functions; a sink
 * must not call back into the same stream. */
struct stream_sink {
    /* n > 0 in-order bytes at packet time ts_ns (borrowed for the call);
     * mark is the mark of the segment they came in */
    void (*data)(void *ctx, const uint8_t *p, size_t n, uint64_t ts_ns,
                 uint64_t mark);
    /* len bytes are missing at this point of the stream */
    void (*gap)(void *ctx, uint64_t len, uint64_t ts_ns);
    /* the direction ended (FIN reached, or stream_end); called once */
    void (*end)(void *ctx, uint64_t ts_ns);
    /* two copies of the byte at `offset` differed (see the policy) */
    void (*conflict)(void *ctx, uint64_t offset);
};

struct stream_counters {
    uint64_t out_of_order;     /* segments buffered ahead of a hole */
    uint64_t retransmit_bytes; /* bytes received again, dropped */
    uint64_t gaps, gap_bytes;  /* holes reported to sinks */
    uint64_t buffer_gaps;      /* skips forced by max_buffered or
                                  STREAM_MAX_SEGMENTS */
    uint64_t memcap_gaps;      /* skips forced by the shard's memcap */
    uint64_t out_of_window;    /* segments beyond STREAM_MAX_AHEAD */
    uint64_t alloc_failed;     /* segment copies malloc refused */
    uint64_t overlap_conflicts; /* overlapping copies that differed */
    uint64_t ack_gaps;         /* holes declared because the peer had
                                  acknowledged past them */
    uint64_t mem_used;         /* gauge: bytes buffered in the shard */
};

/* State shared by every stream of a shard: limits, counters, memory. */
struct stream_shared {
    uint64_t max_buffered;     /* per direction, bytes incl. overhead */
    uint64_t memcap;           /* per shard, bytes incl. overhead */
    enum stream_policy policy;
    struct stream_counters c;
};

struct stream_seg;

struct stream {
    const struct stream_sink *sink;
    void *ctx;
    struct stream_shared *sh;
    struct stream_seg *head, *tail; /* sorted, non-overlapping, all
                                       strictly after next_seq */
    uint64_t buffered;         /* bytes charged for the list */
    uint64_t delivered;        /* bytes handed to the sink */
    uint64_t offset;           /* position of next_seq: bytes delivered
                                  plus gap bytes */
    /* the segment being taken in: its whole extent and its mark */
    uint32_t in_start, in_end;
    uint64_t in_mark;
    uint32_t n_segs;
    uint32_t next_seq;         /* next byte owed to the sink */
    uint32_t fin_seq;          /* sequence number of the FIN */
    uint32_t isn;              /* of the SYN, when syn_seen */
    uint32_t peer_ack;         /* highest ack the peer sent */
    uint32_t gaps;             /* holes reported on this direction */
    uint8_t state;             /* enum in stream.c */
    bool have_fin, have_ack, syn_seen;
};

/* Prepares s (any previous content is ignored: call stream_release
 * first). sh, sink and ctx are borrowed and must outlive the stream. */
void stream_init(struct stream *s, struct stream_shared *sh,
                 const struct stream_sink *sink, void *ctx);

/* A SYN with initial sequence isn: data starts at isn + 1. A repeated
 * SYN with the same isn is a retransmission; a different isn is taken
 * only while nothing has been delivered or buffered. */
void stream_syn(struct stream *s, uint32_t isn);

/* Starts a stream with no SYN seen at seq (e.g. from the SYN-ACK's
 * acknowledgement); no-op once the stream has a sequence. */
void stream_start(struct stream *s, uint32_t seq);

/* A segment whose first payload byte has sequence seq (for a SYN, one
 * past the SYN's own number). data is borrowed for the call. fin: the
 * segment ends the direction after its data. A stream with no sequence
 * yet starts at the first segment with data or FIN (midstream). */
void stream_segment(struct stream *s, uint32_t seq, const uint8_t *data,
                    size_t len, bool fin, uint64_t ts_ns);

/* The same for a segment the capture cut short (snaplen), with a mark
 * that travels with its bytes to the sink (conn.c: how much of the other
 * direction the segment acknowledged): its first len bytes are data,
 * the next `cut` bytes were sent but not captured. They count for the
 * FIN's position, and are reported as a gap at once when the segment is
 * in order (otherwise when settled, or at the end). */
void stream_segment_cut(struct stream *s, uint32_t seq, const uint8_t *data,
                        size_t len, size_t cut, bool fin, uint64_t ts_ns,
                        uint64_t mark);

/* The peer acknowledged every byte before ack. Recorded only: see
 * stream_settle. */
void stream_ack(struct stream *s, uint32_t ack, uint64_t ts_ns);

/* True when the peer acknowledged bytes this stream has not delivered:
 * they are in flight in the capture (reordered) or were never captured. */
bool stream_acked_hole(const struct stream *s);

/* Declares the holes before the peer's acknowledgement, and before
 * `upto`, as gaps (the bytes will not come: the receiver had them, so
 * nobody resends them), and delivers what follows them. */
void stream_settle(struct stream *s, uint32_t upto, uint64_t ts_ns);

/* The 64-bit position of sequence number seq in the stream (0 before the
 * stream has a sequence; never below 0). */
uint64_t stream_offset_of(const struct stream *s, uint32_t seq);

/* Sequence number of the next byte owed to the sink, and whether the
 * stream has one yet. */
bool stream_next_seq(const struct stream *s, uint32_t *seq);

/* The direction ends now (RST, idle, end of input): delivers what is
 * buffered with its holes as gaps, then ends the sink. Idempotent. */
void stream_end(struct stream *s, uint64_t ts_ns);

/* Frees buffered segments without delivering them. */
void stream_release(struct stream *s);

/* True once the sink was ended (FIN delivered or stream_end). */
bool stream_ended(const struct stream *s);

/* Checks the invariants (list sorted, non-overlapping, after next_seq,
 * within the caps, memory accounted); for tests and fuzzing. */
bool stream_invariants_ok(const struct stream *s);

#endif
