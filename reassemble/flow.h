/* flow.h - the flow table of a shard: one entry per TCP connection.
 *
 * Both directions of a connection find the same entry: the key is
 * canonical, its side 0 being the lower (address, port) end. Entries come
 * from a pool (slabs recycled through a free list), so once warm the table
 * allocates nothing per packet or per flow. Open flows sit on LRU lists
 * in order of last activity (packet time): half-open ones (no data and
 * no completed handshake yet) apart from live ones, so idle expiry and
 * eviction look only at what they remove, never scan the table. Closed
 * flows linger FLOW_LINGER_NS as tombstones that absorb late packets (the
 * last ACK, a retransmitted FIN) instead of starting a bogus midstream
 * flow; a SYN replaces a tombstone (port reuse) with a new flow and a new
 * uid.
 *
 * Caps: max_flows entries counting tombstones, and the pool's memory
 * (flow_table_set_memcap: slabs stop growing there, entries are reused).
 * When full, a new flow takes the oldest tombstone's entry; else the
 * oldest half-open flow's, whatever its age (a SYN flood churns through
 * its own kind); else the least recently used live flow's if it has been
 * idle FLOW_EVICT_MIN_IDLE_NS; else the new flow is refused
 * (flows_refused). So a flood of SYNs cannot lock out connections that
 * carry data, nor push out ones that are still talking. Under memory
 * pressure the owner evicts more (flow_evict, its emergency mode): half-
 * open flows first, then idle, then the least recently used. Each
 * eviction is counted by its reason.
 */
#ifndef HARK_REASSEMBLE_FLOW_H
#define HARK_REASSEMBLE_FLOW_H

#include "packet.h"
#include "uid.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLOW_UID_LEN UID_LEN
/* How long a closed flow absorbs late packets (packet time). */
#define FLOW_LINGER_NS (5 * 1000000000ull)
/* An open flow is evicted for a new one only after this much idleness. */
#define FLOW_EVICT_MIN_IDLE_NS (10 * 1000000000ull)
/* Entries allocated at once when the free list is empty. */
#define FLOW_SLAB 256

/* Why a flow ended; flow_end_name() gives the conn event's reason. */
enum flow_end {
    FLOW_END_FIN,     /* both directions sent FIN */
    FLOW_END_RST,
    FLOW_END_IDLE,    /* idle_timeout in packet time */
    FLOW_END_EOF,     /* end of input */
    FLOW_END_SIGNAL,  /* the stage was told to stop */
    FLOW_END_EVICTED, /* table full */
    FLOW_END_REUSED,  /* a new SYN with another ISN on the same ports */
};
const char *flow_end_name(enum flow_end why);

/* Canonical 5-tuple (the protocol is always TCP). Padding is zeroed so
 * keys compare and hash as bytes. */
struct flow_key {
    uint8_t family;          /* 4 or 6 */
    uint8_t pad;
    uint16_t port[2];
    uint8_t addr[2][16];     /* IPv4 in the first 4 bytes, rest zero */
};

/* Builds the key of a decoded packet; *src_side is the key side (0 or 1)
 * the packet was sent from. */
void flow_key_make(const struct packet_info *pi, struct flow_key *k,
                   unsigned *src_side);

struct flow {
    struct flow_key key;
    char uid[FLOW_UID_LEN + 1]; /* lowercase hex, NUL-terminated */
    bool closed;             /* a tombstone: its owner already ended it */
    bool live;               /* carried data or completed its handshake */
    uint64_t ts_first_ns;    /* timestamp of the packet that created it */
    uint64_t ts_last_ns;     /* table clock at the last touch / close */
    void *data;              /* the owner's area (data_size bytes), zeroed
                                at creation */
    /* private to flow.c */
    uint64_t hash;
    struct flow *hnext, *prev, *next;
};

struct flow_counters {
    uint64_t flows;          /* created */
    uint64_t flows_active;   /* gauge: open flows (tombstones excluded) */
    uint64_t flows_halfopen; /* gauge: open flows not yet live */
    uint64_t flows_refused;  /* full and nothing evictable, or no memory */
    uint64_t flows_evicted;  /* open flows ended to make room, all reasons: */
    uint64_t evicted_halfopen; /*   half-open, for a new flow or memory */
    uint64_t evicted_idle;   /*   live, idle FLOW_EVICT_MIN_IDLE_NS */
    uint64_t evicted_pressure; /* live and recent, for memory (emergency) */
    uint64_t mem_used;       /* gauge: bytes of the pool and buckets */
};

/* Told when the table ends an open flow (idle, eviction, flow_end_all):
 * the owner releases what its data area holds; the table then frees the
 * entry. The callback must not call into the table. */
typedef void (*flow_end_cb)(void *ctx, struct flow *f, enum flow_end why);

typedef struct flow_table flow_table_t;

/* A table of at most max_flows entries, each with data_size bytes for
 * the owner. cb and ctx are borrowed. NULL on failure. */
flow_table_t *flow_table_new(uint32_t max_flows, size_t data_size,
                             flow_end_cb cb, void *ctx);
/* Frees every entry without calling the callback (end them first). */
void flow_table_destroy(flow_table_t **t);

const struct flow_counters *flow_table_counters(const flow_table_t *t);
/* Entries in use, tombstones included. */
uint32_t flow_table_size(const flow_table_t *t);

/* The open flow or tombstone with key k, or NULL. */
struct flow *flow_find(flow_table_t *t, const struct flow_key *k);

/* A new open flow for k (which must not be in the table), first seen at
 * packet time ts_ns (its uid derives from k and ts_ns); now_ns is the
 * table clock. May evict (see above). NULL when refused or out of memory. */
struct flow *flow_create(flow_table_t *t, const struct flow_key *k,
                         uint64_t ts_ns, uint64_t now_ns);

/* Marks activity on an open flow at clock now_ns (moves it to the MRU
 * end). The clock should not go backwards; it is clamped if it does. */
void flow_touch(flow_table_t *t, struct flow *f, uint64_t now_ns);

/* The flow carried data or completed its handshake: it is no longer
 * half-open (evicted first). */
void flow_set_live(flow_table_t *t, struct flow *f);

/* The pool's slabs grow only while it stays within `bytes` (default: no
 * limit but max_flows). */
void flow_table_set_memcap(flow_table_t *t, uint64_t bytes);

/* Emergency mode: ends one open flow other than `keep` (NULL: any) to
 * free memory: the oldest half-open, else the least recently used live
 * one (idle or not). False when there is none. */
bool flow_evict(flow_table_t *t, uint64_t now_ns, const struct flow *keep);

/* Turns an open flow the owner has just ended into a tombstone. */
void flow_close(flow_table_t *t, struct flow *f, uint64_t now_ns);

/* Frees an entry (open or tombstone) whose owner holds nothing more. */
void flow_remove(flow_table_t *t, struct flow *f);

/* Ends open flows idle for idle_ns or more (callback FLOW_END_IDLE) and
 * frees tombstones older than FLOW_LINGER_NS (or idle_ns if shorter). */
void flow_expire(flow_table_t *t, uint64_t now_ns, uint64_t idle_ns);

/* Ends every open flow with `why` (callback), then frees every entry. */
void flow_end_all(flow_table_t *t, enum flow_end why);

/* The uid a flow with key k first seen at ts_ns gets (exposed for
 * tests): 64-bit hash as 16 lowercase hex digits into out[17]. */
void flow_uid(const struct flow_key *k, uint64_t ts_ns, char *out);

#endif
