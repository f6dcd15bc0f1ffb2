/* main.c - hark-reassemble: `pkt` frames in, HTTP messages out.
 *
 * One process per shard of the flow hash. Its input (input.h) hands it
 * `pkt` frames; it decodes each packet and hands its TCP segment to the
 * connection tracker (conn.h), whose messages are batched here and
 * pushed to dispatch when a batch is full or the input runs dry. Rules a
 * reader must know:
 *   - the clock is packet time: the largest packet timestamp (or upstream
 *     watermark) seen; idle expiry and the watermark sent downstream run
 *     on it. Live, when no packet came for LIVE_IDLE_NS of wall time, it
 *     follows the wall clock LIVE_LAG_NS behind;
 *   - a malformed frame or packet is counted and dropped, never fatal;
 *   - on `eof` from every producer, or a stop signal, every flow is
 *     closed and emitted, the batch flushed and `eof` sent on.
 */
#include "bus.h"
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "defrag.h"
#include "frame.h"
#include "input.h"
#include "log.h"
#include "packet.h"
#include "policy.h"
#include "stage.h"
#include "stats.h"
#include "upstream.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define HEARTBEAT_NS NS_PER_SEC     /* watermark move that forces a send */
#define EXPIRE_EVERY_NS NS_PER_SEC  /* idle expiry period, packet time */
#define LIVE_IDLE_NS NS_PER_SEC     /* live: no packet for this long ... */
#define LIVE_LAG_NS (2 * NS_PER_SEC) /* ... and the clock follows the wall */

static const char summary[] =
    "Reassembles the TCP connections of one shard of the capture and\n"
    "frames their HTTP/1.x requests and responses.\n"
    "Input: `pkt` frames from hark-capture; output: `msg` frames to\n"
    "hark-dispatch.";

struct reasm {
    struct stage st;
    input_t *in;
    bus_out_t *out;
    frame_reader_t *rd;
    frame_writer_t *wr;
    upstream_t *up;
    conn_tracker_t *conns;
    defrag_t *defrag;
    uint64_t clock_ns;          /* packet time */
    uint64_t sent_wm_ns;        /* watermark of the last frame sent */
    uint64_t next_expire_ns;
    uint64_t last_pkt_mono_ns;  /* wall (monotonic) time of the last pkt */
    bool live;
    enum flow_end why;          /* how the input ended */
    /* stats */
    uint64_t *packets, *bytes, *not_ip, *not_tcp, *truncated, *malformed;
    uint64_t *unknown_link, *frames_unexpected;
    uint64_t *items_malformed, *msgs_out, *send_errors;
};

/* The tracker's modules count in their own structs; the stats read them
 * there. */
static void attach(struct reasm *r, const char *name, const uint64_t *src)
{
    if (stats_attach(r->st.stats, name, src) < 0)
        log_warn("too many counters: %s not reported", name);
}

static void register_stats(struct reasm *r)
{
    STAGE_COUNTERS(&r->st, { "packets", &r->packets },
                   { "bytes", &r->bytes }, { "not_ip", &r->not_ip },
                   { "not_tcp", &r->not_tcp },
                   { "truncated", &r->truncated },
                   { "malformed_pkts", &r->malformed },
                   { "unknown_link", &r->unknown_link },
                   { "frames_unexpected", &r->frames_unexpected },
                   { "items_malformed", &r->items_malformed },
                   { "msgs_out", &r->msgs_out },
                   { "send_errors", &r->send_errors });

    struct conn_stats cs;
    conn_tracker_stats(r->conns, &cs);
    attach(r, "flows", &cs.flow->flows);
    attach(r, "flows_active", &cs.flow->flows_active);
    attach(r, "flows_refused", &cs.flow->flows_refused);
    attach(r, "flows_evicted", &cs.flow->flows_evicted);
    attach(r, "flows_halfopen", &cs.flow->flows_halfopen);
    attach(r, "flows_evicted_halfopen", &cs.flow->evicted_halfopen);
    attach(r, "flows_evicted_idle", &cs.flow->evicted_idle);
    attach(r, "flows_evicted_pressure", &cs.flow->evicted_pressure);
    attach(r, "flow_mem", &cs.flow->mem_used);
    attach(r, "http_mem", &cs.http->mem_used);
    attach(r, "requests", &cs.conn->requests);
    attach(r, "responses", &cs.conn->responses);
    attach(r, "conn_closed", &cs.conn->conn_closed);
    attach(r, "responses_unsolicited", &cs.conn->unsolicited);
    attach(r, "pkts_no_flow", &cs.conn->pkts_no_flow);
    attach(r, "pkts_after_close", &cs.conn->pkts_after_close);
    attach(r, "alloc_failed", &cs.conn->alloc_failed);
    attach(r, "rst_ignored", &cs.conn->rst_ignored);
    attach(r, "ports_reused", &cs.conn->ports_reused);
    attach(r, "pkts_held", &cs.conn->pkts_held);
    attach(r, "responses_lost", &cs.conn->responses_lost);
    attach(r, "pairs_uncertain", &cs.conn->pairs_uncertain);
    attach(r, "responses_early", &cs.conn->responses_early);
    attach(r, "pairing_evicted", &cs.conn->pairing_evicted);
    attach(r, "tunnels", &cs.conn->tunnels);
    attach(r, "tunnel_bytes_client", &cs.conn->tunnel_bytes[0]);
    attach(r, "tunnel_bytes_server", &cs.conn->tunnel_bytes[1]);
    attach(r, "overlap_conflicts", &cs.stream->overlap_conflicts);
    attach(r, "checksum_bad", &cs.conn->checksum_bad);
    attach(r, "checksum_offloaded", &cs.conn->checksum_offloaded);
    attach(r, "checksum_rewritten", &cs.conn->checksum_rewritten);
    attach(r, "checksum_unchecked", &cs.conn->checksum_unchecked);
    attach(r, "ack_gaps", &cs.stream->ack_gaps);
    attach(r, "gaps", &cs.stream->gaps);
    attach(r, "gap_bytes", &cs.stream->gap_bytes);
    attach(r, "retransmit_bytes", &cs.stream->retransmit_bytes);
    attach(r, "out_of_order", &cs.stream->out_of_order);
    attach(r, "memcap_gaps", &cs.stream->memcap_gaps);
    attach(r, "buffer_gaps", &cs.stream->buffer_gaps);
    attach(r, "out_of_window", &cs.stream->out_of_window);
    attach(r, "segment_alloc_failed", &cs.stream->alloc_failed);
    attach(r, "reassembly_mem", &cs.stream->mem_used);
    attach(r, "http_interim", &cs.http->interim);
    attach(r, "http_malformed", &cs.http->malformed);
    attach(r, "http_incomplete", &cs.http->incomplete);
    attach(r, "http_header_overflow", &cs.http->header_overflow);
    attach(r, "http_headers_dropped", &cs.http->headers_dropped);
    attach(r, "http_body_truncated", &cs.http->body_truncated);
    attach(r, "http_resync_bytes", &cs.http->resync_bytes);
    attach(r, "http_upgrades", &cs.http->upgrades);
    const struct defrag_counters *dc = defrag_counters(r->defrag);
    attach(r, "fragments", &dc->fragments);
    attach(r, "frag_datagrams", &dc->datagrams);
    attach(r, "frag_duplicates", &dc->duplicates);
    attach(r, "frag_conflicts", &dc->conflicts);
    attach(r, "frag_overlaps", &dc->overlaps);
    attach(r, "frag_timeouts", &dc->timeouts);
    attach(r, "frag_evicted", &dc->evicted);
    attach(r, "frag_refused", &dc->refused);
    attach(r, "frag_invalid", &dc->invalid);
    attach(r, "frag_mem", &dc->mem_used);
}

/* ---- output -------------------------------------------------------- */

static void send_batch(struct reasm *r, bool heartbeat)
{
    int rc = heartbeat
                 ? bus_out_heartbeat(r->out, r->wr, r->clock_ns, r->live)
                 : bus_out_flush(r->out, r->wr, r->clock_ns, r->live);
    if (rc < 0) {
        static struct log_limit lim;
        (*r->send_errors)++;
        log_limited(&lim, LOG_ERROR, "send to dispatch: %s",
                    zmq_strerror(-rc));
        return;
    }
    r->sent_wm_ns = r->clock_ns;
}

static void flush(struct reasm *r)
{
    if (frame_writer_items(r->wr) > 0)
        send_batch(r, false);
}

/* Sends a heartbeat when the watermark moved a second since the last
 * frame, so downstream watermarks advance on quiet shards. */
static void heartbeat(struct reasm *r)
{
    if (r->clock_ns >= r->sent_wm_ns + HEARTBEAT_NS)
        send_batch(r, frame_writer_items(r->wr) == 0);
}

static void on_emit(void *ctx, const struct http_msg *m)
{
    struct reasm *r = ctx;
    if (frame_add_msg(r->wr, m) < 0) {
        static struct log_limit lim;
        (*r->items_malformed)++;
        log_limited(&lim, LOG_WARN, "message of kind %d not encodable",
                    (int)m->kind);
        return;
    }
    (*r->msgs_out)++;
    if (frame_writer_full(r->wr))
        send_batch(r, false);
}

/* ---- input --------------------------------------------------------- */

static void advance_clock(struct reasm *r, uint64_t t)
{
    if (t > r->clock_ns)
        r->clock_ns = t;
    if (r->clock_ns >= r->next_expire_ns) {
        conn_expire(r->conns, r->clock_ns);
        defrag_expire(r->defrag, r->clock_ns);
        r->next_expire_ns = r->clock_ns + EXPIRE_EVERY_NS;
    }
}

static void count_status(struct reasm *r, enum packet_status s)
{
    switch (s) {
    case PACKET_OK: break;
    case PACKET_FRAGMENT: break; /* defrag counts them */
    case PACKET_NOT_IP: (*r->not_ip)++; break;
    case PACKET_NOT_TCP: (*r->not_tcp)++; break;
    case PACKET_UNKNOWN_LINK: (*r->unknown_link)++; break;
    case PACKET_TRUNCATED: (*r->truncated)++; break;
    case PACKET_MALFORMED: (*r->malformed)++; break;
    }
}

static void handle_pkts(struct reasm *r, const struct frame *f)
{
    if (f->n_items)
        r->last_pkt_mono_ns = clock_mono_ns();
    for (uint32_t i = 0; i < f->n_items; i++) {
        struct pkt p;
        if (frame_item_pkt(f, i, &p) < 0) {
            static struct log_limit lim;
            (*r->items_malformed)++;
            log_limited(&lim, LOG_WARN, "malformed packet item from %.*s",
                        (int)f->src.n, f->src.p);
            continue;
        }
        (*r->packets)++;
        *r->bytes += p.data.n;
        advance_clock(r, p.ts_ns);
        struct packet_info pi;
        enum packet_status s = packet_decode(
            f->link, (const uint8_t *)p.data.p, p.data.n, &pi);
        /* Bytes the snaplen cut off the end of the frame are payload
         * bytes the segment carried (a link trailer is not expected on
         * a frame long enough to be cut). */
        size_t cut = pi.ip_truncated && p.wirelen > p.data.n
                         ? p.wirelen - p.data.n
                         : 0;
        if (s == PACKET_FRAGMENT) {
            /* capture sends every fragment of a datagram to one shard */
            struct packet_info whole;
            bool conflict;
            if (defrag_add(r->defrag, &pi, p.ts_ns, &whole, &conflict) > 0)
                conn_packet(r->conns, &whole, 0,
                            conflict ? CONN_PKT_CONFLICT : 0, p.ts_ns,
                            r->clock_ns);
        } else if (s == PACKET_OK) {
            conn_packet(r->conns, &pi, cut, 0, p.ts_ns, r->clock_ns);
        } else {
            count_status(r, s);
        }
    }
}

static int on_frame(void *ctx, const struct frame *f)
{
    struct reasm *r = ctx;
    if (f->type != FRAME_PKT) {
        static struct log_limit lim;
        (*r->frames_unexpected)++;
        log_limited(&lim, LOG_WARN, "dropped a %s frame from %.*s",
                    frame_topic(f->type), (int)f->src.n, f->src.p);
        return 0;
    }
    r->live = f->live;
    handle_pkts(r, f);
    advance_clock(r, f->wm_ns);
    if (f->live)
        flush(r);
    heartbeat(r);
    return 0;
}

/* The input ran dry: send what waits. */
static int on_idle(void *ctx)
{
    flush(ctx);
    return 0;
}

/* Every flow ends with the input: partial messages and close events go
 * out before eof. */
static int on_end(void *ctx, const struct frame *f)
{
    struct reasm *r = ctx;
    if (f)
        advance_clock(r, f->wm_ns);
    r->why = f ? FLOW_END_EOF : FLOW_END_SIGNAL;
    conn_close_all(r->conns, r->why);
    flush(r);
    int rc = bus_out_eof(r->out, r->clock_ns, flow_end_name(r->why));
    if (rc < 0)
        log_error("sending eof: %s", zmq_strerror(-rc));
    return rc;
}

static const struct input_ops reassemble_ops = { on_frame, on_end, on_idle };

/* Live, when packets stopped, the clock follows the wall so idle flows
 * expire and watermarks move downstream. */
static int on_live_tick(loop_t *l, void *ctx)
{
    struct reasm *r = ctx;
    if (r->live && clock_mono_ns() - r->last_pkt_mono_ns >= LIVE_IDLE_NS) {
        uint64_t wall = clock_wall_ns();
        if (wall > LIVE_LAG_NS)
            advance_clock(r, wall - LIVE_LAG_NS);
        flush(r);
        heartbeat(r);
    }
    return (int)(LIVE_IDLE_NS / NS_PER_MS);
}

/* SIGHUP: the policies decide how much of a body is worth carrying
 * (policy_body_carried); the other limits stay as they started. */
static int reload(struct stage *st, struct config *cfg, void *ctx)
{
    struct reasm *r = ctx;
    uint64_t n = policy_body_carried(cfg, st->cfg->reassemble.body_max);
    conn_tracker_set_body_max(r->conns, n);
    log_debug("bodies carried up to %llu bytes", (unsigned long long)n);
    config_destroy(&cfg);
    return 0;
}

static int setup(struct reasm *r)
{
    struct config *cfg = r->st.cfg;
    const struct config_reassemble *rc = &cfg->reassemble;
    struct conn_config cc = {
        .max_flows = rc->max_flows,
        .max_buffered = rc->max_buffered,
        .memcap = rc->memcap,
        .idle_timeout_ns = rc->idle_timeout_ns,
        .reorder_ns = rc->reorder_ns,
        .overlap_policy = (enum stream_policy)rc->overlap,
        .checksums = (enum checksum_mode)rc->checksums,
        .http = {
            .max_header_bytes = rc->max_header_bytes,
            .max_headers = rc->max_headers,
            .body_max = rc->body_max,
        },
    };
    r->conns = conn_tracker_new(&cc, on_emit, r);
    if (r->conns)
        conn_tracker_set_body_max(r->conns,
                                  policy_body_carried(cfg, rc->body_max));
    /* Linux's defaults: ipfrag_time 30s, ipfrag_high_thresh 4 MiB (per
     * namespace; a shard serves many hosts, so more). */
    struct defrag_config dc = {
        .memcap = 32u << 20,
        .timeout_ns = 30 * NS_PER_SEC,
        .max_datagrams = 8192,
    };
    r->defrag = defrag_new(&dc);
    r->rd = frame_reader_new();
    r->wr = frame_writer_new(FRAME_MSG, r->st.id);
    r->up = upstream_new(1, r->st.stats);
    if (!r->conns || !r->defrag || !r->rd || !r->wr || !r->up) {
        log_error("out of memory");
        return -1;
    }
    register_stats(r);

    char in_ep[4200];
    if (!stage_input_endpoint(&r->st, in_ep, sizeof(in_ep)))
        return -1;
    r->in = input_new(&r->st, in_ep, r->rd, r->up, &reassemble_ops, r);
    if (!r->in ||
        loop_add_timer(r->st.loop, (int)(LIVE_IDLE_NS / NS_PER_MS),
                       on_live_tick, r) < 0)
        return -1;
    r->out = stage_output(&r->st, ROLE_DISPATCH);
    stage_on_reload(&r->st, reload, r);
    return r->out ? 0 : -1;
}

/* The sockets close before stage_finish() (it ends the ZeroMQ context);
 * the tracker goes after it, since its final stats read the tracker's
 * counters. */
static void teardown(struct reasm *r, bool ok)
{
    input_destroy(&r->in);
    bus_out_destroy(&r->out);
    stage_finish(&r->st, ok);
    conn_tracker_destroy(&r->conns);
    defrag_destroy(&r->defrag);
    frame_writer_destroy(&r->wr);
    frame_reader_destroy(&r->rd);
    upstream_destroy(&r->up);
}

int main(int argc, char **argv)
{
    static struct reasm r;
    int rc = stage_init(&r.st, ROLE_REASSEMBLE, summary, argc, argv);
    if (rc != 0)
        return rc - 1;
    bool ok = setup(&r) == 0;
    if (ok) {
        ok = stage_run(&r.st);
        log_info("%s: %llu packets, %llu messages", flow_end_name(r.why),
                 (unsigned long long)*r.packets,
                 (unsigned long long)*r.msgs_out);
    }
    teardown(&r, ok);
    return ok ? 0 : 1;
}
