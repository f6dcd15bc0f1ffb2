/* defrag.h - IPv4 and IPv6 fragments put back together.
 *
 * Capture sends every fragment of a datagram to one shard, so each
 * reassembler holds the fragments of its own datagrams until a datagram
 * is whole, then hands its TCP segment on as if it had come in one
 * packet. Rules a reader must know:
 *   - overlaps are resolved as Linux does (net/ipv4/inet_fragment.c since
 *     4.19, and RFC 5722 for IPv6): a fragment that lies inside what is
 *     already held is a duplicate and ignored (the first copy wins; when
 *     its bytes differ the datagram is marked `conflict`); one that
 *     partly overlaps what is held discards the whole datagram, as the
 *     endpoint would;
 *   - a datagram is bounded: at most DEFRAG_MAX_BYTES of payload and
 *     DEFRAG_MAX_FRAGMENTS pieces; every datagram held counts against
 *     the memcap, and the oldest is evicted to make room;
 *   - time is packet time: a datagram still incomplete timeout_ns after
 *     its first fragment is dropped;
 *   - every datagram that is not delivered is counted in exactly one of
 *     the drop counters (overlaps, timeouts, evicted, refused, invalid),
 *     so the run summary can say what was lost.
 */
#ifndef HARK_REASSEMBLE_DEFRAG_H
#define HARK_REASSEMBLE_DEFRAG_H

#include "packet.h"

#include <stdbool.h>
#include <stdint.h>

#define DEFRAG_MAX_BYTES 65535u
#define DEFRAG_MAX_FRAGMENTS 128u

struct defrag_config {
    uint64_t memcap;          /* bytes of fragment data held per shard */
    uint64_t timeout_ns;      /* packet time; Linux's ipfrag_time is 30s */
    uint32_t max_datagrams;   /* datagrams held at once */
};

struct defrag_counters {
    uint64_t fragments;       /* fragments taken in */
    uint64_t datagrams;       /* datagrams completed and delivered */
    uint64_t duplicates;      /* fragments inside what was held: ignored */
    uint64_t conflicts;       /* ... of which with different bytes */
    /* datagrams dropped, each in one counter: */
    uint64_t overlaps;        /* a partly overlapping fragment */
    uint64_t timeouts;        /* incomplete after timeout_ns */
    uint64_t evicted;         /* oldest, to stay under the memcap */
    uint64_t refused;         /* table full, or allocation failed */
    uint64_t invalid;         /* too big, too many pieces, cut short by
                                 the snaplen, inconsistent last fragment */
    uint64_t mem_used;        /* gauge: bytes held */
};

typedef struct defrag defrag_t;

/* cfg is copied. NULL on failure. */
defrag_t *defrag_new(const struct defrag_config *cfg);
/* Frees every datagram held (without counting them). */
void defrag_destroy(defrag_t **d);

const struct defrag_counters *defrag_counters(const defrag_t *d);

/* One fragment (packet_decode returned PACKET_FRAGMENT for pi) seen at
 * ts_ns. Returns 1 when it completed its datagram: *out is the whole
 * datagram decoded down to TCP (as packet_decode does for a packet that
 * was never fragmented; its payload lives in d until the next call) and
 * *conflict says whether duplicate fragments disagreed. Returns 0 when
 * the fragment is held, -1 when it (or its datagram) was dropped. */
int defrag_add(defrag_t *d, const struct packet_info *pi, uint64_t ts_ns,
               struct packet_info *out, bool *conflict);

/* Drops datagrams whose first fragment came timeout_ns before now_ns. */
void defrag_expire(defrag_t *d, uint64_t now_ns);

#endif
