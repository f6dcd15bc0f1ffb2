/* shard.c - flow-hash routing to shards with per-shard batches. */
#include "shard.h"
#include "clock.h"
#include "log.h"
#include "topology.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Fragments seen recently, by (addresses, id). Old entries are simply
 * overwritten: a fragment train lives for milliseconds. */
#define FRAG_SLOTS 4096

struct frag_slot {
    uint32_t key;   /* hash of addresses and id; 0 = empty */
    uint32_t shard;
};

struct shard_out {
    bus_out_t *out;
    frame_writer_t *batch;
    uint64_t sent_wm;
};

struct sharder {
    unsigned n;
    struct shard_out *shards;
    bool live;
    int link;
    uint32_t batch_packets;
    uint32_t batch_bytes;
    uint64_t clock_ns; /* packet time: highest timestamp seen */
    struct frag_slot frags[FRAG_SLOTS];
    uint64_t *packets, *bytes, *frames_out, *heartbeats, *not_ip, *not_tcp,
        *truncated, *malformed, *unknown_link, *fragments,
        *fragments_unrouted, *short_captured;
    struct log_limit link_warn;
};

sharder_t *sharder_new(struct bus_env bus, const struct config *cfg,
                       const char *src, bus_tap_t *tap, int link, bool live,
                       stats_t *st)
{
    sharder_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->n = cfg->reassemble.shards;
    s->live = live;
    s->link = link;
    s->batch_packets = cfg->capture.batch_packets;
    s->batch_bytes = cfg->capture.batch_bytes;
    s->shards = calloc(s->n, sizeof(*s->shards));
    if (!s->shards)
        goto fail;
    for (unsigned i = 0; i < s->n; i++) {
        char ep[4200];
        if (!topology_input(cfg, ROLE_REASSEMBLE, i, ep, sizeof(ep))) {
            errno = ENAMETOOLONG;
            goto fail;
        }
        s->shards[i].out = bus_out_new(bus, ep, src, tap);
        s->shards[i].batch = frame_writer_new(FRAME_PKT, src);
        if (!s->shards[i].out || !s->shards[i].batch)
            goto fail;
        frame_writer_set_link(s->shards[i].batch, link);
    }
    s->packets = stats_add(st, "packets");
    s->bytes = stats_add(st, "bytes");
    s->frames_out = stats_add(st, "frames_out");
    s->heartbeats = stats_add(st, "heartbeats");
    s->not_ip = stats_add(st, "not_ip");
    s->not_tcp = stats_add(st, "not_tcp");
    s->truncated = stats_add(st, "truncated");
    s->malformed = stats_add(st, "malformed");
    s->unknown_link = stats_add(st, "unknown_link");
    s->fragments = stats_add(st, "fragments");
    s->fragments_unrouted = stats_add(st, "fragments_unrouted");
    s->short_captured = stats_add(st, "short_captured");
    return s;
fail:;
    int e = errno;
    sharder_destroy(&s);
    errno = e ? e : ENOMEM;
    return NULL;
}

void sharder_destroy(sharder_t **sp)
{
    sharder_t *s = sp ? *sp : NULL;
    if (!s)
        return;
    for (unsigned i = 0; s->shards && i < s->n; i++) {
        bus_out_destroy(&s->shards[i].out);
        frame_writer_destroy(&s->shards[i].batch);
    }
    free(s->shards);
    free(s);
    *sp = NULL;
}

static uint32_t frag_key(const struct packet_info *pi)
{
    uint32_t h = packet_addr_hash(pi) ^ (pi->frag_id * 2654435761u);
    return h ? h : 1;
}

static unsigned route(sharder_t *s, enum packet_status st,
                      const struct packet_info *pi)
{
    if (st == PACKET_OK)
        return packet_flow_hash(pi) % s->n;
    if (st != PACKET_FRAGMENT)
        /* Not for the reassembler to parse, but it counts them too and a
         * fixed shard keeps this cheap. */
        return 0;
    (*s->fragments)++;
    uint32_t key = frag_key(pi);
    struct frag_slot *slot = &s->frags[key % FRAG_SLOTS];
    if (pi->frag_offset == 0) {
        /* The first fragment carries the ports. */
        slot->key = key;
        slot->shard = packet_flow_hash(pi) % s->n;
        return slot->shard;
    }
    if (slot->key == key)
        return slot->shard;
    (*s->fragments_unrouted)++;
    return packet_addr_hash(pi) % s->n;
}

static int send_batch(sharder_t *s, struct shard_out *so, bool heartbeat)
{
    int rc = heartbeat ? bus_out_heartbeat(so->out, so->batch, s->clock_ns,
                                           s->live)
                       : bus_out_flush(so->out, so->batch, s->clock_ns,
                                       s->live);
    if (rc == 0) {
        so->sent_wm = s->clock_ns;
        (*s->frames_out)++;
        if (heartbeat)
            (*s->heartbeats)++;
    }
    return rc;
}

int sharder_add(sharder_t *s, uint64_t ts_ns, uint32_t wirelen,
                const uint8_t *data, uint32_t caplen)
{
    struct packet_info pi;
    enum packet_status st = packet_decode(s->link, data, caplen, &pi);
    switch (st) {
    case PACKET_OK: case PACKET_FRAGMENT: break;
    case PACKET_NOT_IP: (*s->not_ip)++; break;
    case PACKET_NOT_TCP: (*s->not_tcp)++; break;
    case PACKET_TRUNCATED: (*s->truncated)++; break;
    case PACKET_MALFORMED: (*s->malformed)++; break;
    case PACKET_UNKNOWN_LINK:
        (*s->unknown_link)++;
        log_limited(&s->link_warn, LOG_WARN,
                    "link type %d is not decoded; packets are passed on "
                    "unrouted", s->link);
        break;
    }
    (*s->packets)++;
    *s->bytes += wirelen;
    if (caplen < wirelen)
        (*s->short_captured)++;
    if (ts_ns > s->clock_ns)
        s->clock_ns = ts_ns;
    struct shard_out *so = &s->shards[route(s, st, &pi)];
    int rc = frame_add_pkt(so->batch, ts_ns, wirelen, data, caplen);
    if (rc < 0)
        return rc;
    if (frame_writer_items(so->batch) >= s->batch_packets ||
        frame_writer_bytes(so->batch) >= s->batch_bytes)
        return send_batch(s, so, false);
    return 0;
}

int sharder_flush(sharder_t *s, bool partial)
{
    for (unsigned i = 0; i < s->n; i++) {
        struct shard_out *so = &s->shards[i];
        bool idle = frame_writer_items(so->batch) == 0;
        if (!idle && !partial)
            continue;
        if (idle && s->clock_ns < so->sent_wm + NS_PER_SEC)
            continue;
        int rc = send_batch(s, so, idle);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int sharder_eof(sharder_t *s, const char *reason)
{
    for (unsigned i = 0; i < s->n; i++) {
        struct shard_out *so = &s->shards[i];
        int rc = bus_out_flush(so->out, so->batch, s->clock_ns, s->live);
        if (rc == 0)
            rc = bus_out_eof(so->out, s->clock_ns, reason);
        if (rc < 0)
            return rc;
    }
    return 0;
}
