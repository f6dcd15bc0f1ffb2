/* main.c - hark-reassemble: `pkt` frames in, HTTP messages out.
 *
 * One process per shard of the flow hash. It binds its PULL input, pushes
 * `msg` batches to dispatch, and runs one loop: poll the input and the
 * signal fd, take up to FRAMES_PER_TURN frames, decode each packet and
 * hand its TCP segment to the connection tracker (conn.h), whose messages
 * are batched here. Rules a reader must know:
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
#include "frame.h"
#include "log.h"
#include "packet.h"
#include "stage.h"
#include "stats.h"
#include "upstream.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define FRAMES_PER_TURN 64          /* input frames per loop turn */
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
    bus_in_t *in;
    bus_out_t *out;
    frame_reader_t *rd;
    frame_writer_t *wr;
    upstream_t *up;
    conn_tracker_t *conns;
    uint64_t clock_ns;          /* packet time */
    uint64_t sent_wm_ns;        /* watermark of the last frame sent */
    uint64_t next_expire_ns;
    uint64_t last_pkt_mono_ns;  /* wall (monotonic) time of the last pkt */
    bool live;
    /* stats */
    uint64_t *packets, *bytes, *not_ip, *not_tcp, *truncated, *malformed;
    uint64_t *unknown_link, *fragments, *frames_malformed;
    uint64_t *frames_unexpected, *items_malformed, *msgs_out, *send_errors;
    struct mirror {
        const char *name;
        const uint64_t *src;
        uint64_t *dst;
    } mirror[40];
    unsigned n_mirror;
};

/* A counter that never fails: past STATS_MAX it points at a sink. */
static uint64_t *counter(struct reasm *r, const char *name)
{
    static uint64_t sink;
    uint64_t *p = stats_add(r->st.stats, name);
    if (!p) {
        log_warn("too many counters: %s not reported", name);
        p = &sink;
    }
    return p;
}

static void mirror_add(struct reasm *r, const char *name, const uint64_t *src)
{
    if (r->n_mirror == sizeof(r->mirror) / sizeof(r->mirror[0])) {
        log_warn("mirror table full: %s not reported", name);
        return;
    }
    struct mirror *m = &r->mirror[r->n_mirror++];
    m->name = name;
    m->src = src;
    m->dst = counter(r, name);
}

/* Copies the modules' counters into the stats before a snapshot. */
static void mirror_stats(struct reasm *r)
{
    for (unsigned i = 0; i < r->n_mirror; i++)
        *r->mirror[i].dst = *r->mirror[i].src;
}

static void register_stats(struct reasm *r)
{
    r->packets = counter(r, "packets");
    r->bytes = counter(r, "bytes");
    r->not_ip = counter(r, "not_ip");
    r->not_tcp = counter(r, "not_tcp");
    r->truncated = counter(r, "truncated");
    r->malformed = counter(r, "malformed_pkts");
    r->unknown_link = counter(r, "unknown_link");
    r->fragments = counter(r, "fragments");
    r->frames_malformed = counter(r, "frames_malformed");
    r->frames_unexpected = counter(r, "frames_unexpected");
    r->items_malformed = counter(r, "items_malformed");
    r->msgs_out = counter(r, "msgs_out");
    r->send_errors = counter(r, "send_errors");

    struct conn_stats cs;
    conn_tracker_stats(r->conns, &cs);
    mirror_add(r, "flows", &cs.flow->flows);
    mirror_add(r, "flows_active", &cs.flow->flows_active);
    mirror_add(r, "flows_refused", &cs.flow->flows_refused);
    mirror_add(r, "flows_evicted", &cs.flow->flows_evicted);
    mirror_add(r, "requests", &cs.conn->requests);
    mirror_add(r, "responses", &cs.conn->responses);
    mirror_add(r, "conn_closed", &cs.conn->conn_closed);
    mirror_add(r, "responses_unsolicited", &cs.conn->unsolicited);
    mirror_add(r, "pkts_no_flow", &cs.conn->pkts_no_flow);
    mirror_add(r, "pkts_after_close", &cs.conn->pkts_after_close);
    mirror_add(r, "alloc_failed", &cs.conn->alloc_failed);
    mirror_add(r, "gaps", &cs.stream->gaps);
    mirror_add(r, "gap_bytes", &cs.stream->gap_bytes);
    mirror_add(r, "retransmit_bytes", &cs.stream->retransmit_bytes);
    mirror_add(r, "out_of_order", &cs.stream->out_of_order);
    mirror_add(r, "memcap_gaps", &cs.stream->memcap_gaps);
    mirror_add(r, "buffer_gaps", &cs.stream->buffer_gaps);
    mirror_add(r, "out_of_window", &cs.stream->out_of_window);
    mirror_add(r, "segment_alloc_failed", &cs.stream->alloc_failed);
    mirror_add(r, "reassembly_mem", &cs.stream->mem_used);
    mirror_add(r, "http_interim", &cs.http->interim);
    mirror_add(r, "http_malformed", &cs.http->malformed);
    mirror_add(r, "http_incomplete", &cs.http->incomplete);
    mirror_add(r, "http_header_overflow", &cs.http->header_overflow);
    mirror_add(r, "http_headers_dropped", &cs.http->headers_dropped);
    mirror_add(r, "http_body_truncated", &cs.http->body_truncated);
    mirror_add(r, "http_resync_bytes", &cs.http->resync_bytes);
    mirror_add(r, "http_upgrades", &cs.http->upgrades);
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
        r->next_expire_ns = r->clock_ns + EXPIRE_EVERY_NS;
    }
}

static void count_status(struct reasm *r, enum packet_status s)
{
    switch (s) {
    case PACKET_OK: break;
    /* IPv4/IPv6 fragments are counted and dropped for now; reassembling
     * them is future work for reassemble/defrag.c (capture already sends
     * every fragment of a datagram to the same shard). */
    case PACKET_FRAGMENT: (*r->fragments)++; break;
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
        if (s == PACKET_OK)
            conn_packet(r->conns, &pi, cut, p.ts_ns, r->clock_ns);
        else
            count_status(r, s);
    }
}

/* Handles one received message; true once every producer sent eof. */
static bool handle_frame(struct reasm *r, const void *topic, size_t tlen,
                         const void *body, size_t blen)
{
    struct frame f;
    int rc = frame_read(r->rd, topic, tlen, body, blen, &f);
    if (rc < 0) {
        static struct log_limit lim;
        (*r->frames_malformed)++;
        log_limited(&lim, LOG_WARN, "dropped a frame: %s", strerror(-rc));
        return false;
    }
    if (!upstream_frame(r->up, &f))
        return false;
    switch (f.type) {
    case FRAME_PKT:
        r->live = f.live;
        handle_pkts(r, &f);
        advance_clock(r, f.wm_ns);
        if (f.live)
            flush(r);
        return false;
    case FRAME_EOF:
        advance_clock(r, f.wm_ns);
        return upstream_eof(r->up, &f);
    default: {
        static struct log_limit lim;
        (*r->frames_unexpected)++;
        log_limited(&lim, LOG_WARN, "dropped a %s frame from %.*s",
                    frame_topic(f.type), (int)f.src.n, f.src.p);
        return false;
    }
    }
}

/* Nothing more queued: send what waits; live, let the clock follow the
 * wall when packets stopped, so idle flows expire and watermarks move. */
static void idle(struct reasm *r)
{
    flush(r);
    if (!r->live ||
        clock_mono_ns() - r->last_pkt_mono_ns < LIVE_IDLE_NS)
        return;
    uint64_t wall = clock_wall_ns();
    if (wall > LIVE_LAG_NS)
        advance_clock(r, wall - LIVE_LAG_NS);
}

/* Reads input until it is empty or FRAMES_PER_TURN were taken.
 * Returns 1 at end of input, 0 when more may come, -1 on a socket error. */
static int drain(struct reasm *r)
{
    int got = 0;
    while (got < FRAMES_PER_TURN) {
        const void *topic, *body;
        size_t tlen, blen;
        int rc = bus_in_recv(r->in, 0, &topic, &tlen, &body, &blen);
        if (rc == 0)
            break;
        got++;
        if (rc == -EBADMSG) {
            static struct log_limit lim;
            (*r->frames_malformed)++;
            log_limited(&lim, LOG_WARN, "dropped a message that was not "
                                        "topic + body");
            continue;
        }
        if (rc < 0) {
            log_error("receive: %s", zmq_strerror(-rc));
            return -1;
        }
        if (handle_frame(r, topic, tlen, body, blen))
            return 1;
    }
    if (got < FRAMES_PER_TURN)
        idle(r);
    return 0;
}

static int run(struct reasm *r)
{
    enum flow_end why = FLOW_END_SIGNAL;
    bool ok = true;
    for (;;) {
        mirror_stats(r);
        int timeout = stage_tick(&r->st);
        zmq_pollitem_t items[2] = {
            { bus_in_socket(r->in), 0, ZMQ_POLLIN, 0 },
            stage_pollitem(&r->st),
        };
        if (zmq_poll(items, 2, timeout) < 0) {
            if (errno == EINTR)
                continue;
            log_error("poll: %s", zmq_strerror(errno));
            ok = false;
            break;
        }
        if (items[1].revents & ZMQ_POLLIN)
            stage_handle_signal(&r->st);
        if (r->st.stop)
            break;
        int rc = drain(r);
        if (rc < 0) {
            ok = false;
            break;
        }
        if (rc > 0) {
            why = FLOW_END_EOF;
            break;
        }
        heartbeat(r);
    }
    conn_close_all(r->conns, why);
    flush(r);
    int rc = bus_out_eof(r->out, r->clock_ns, flow_end_name(why));
    if (rc < 0) {
        log_error("sending eof: %s", zmq_strerror(-rc));
        ok = false;
    }
    mirror_stats(r);
    log_info("%s: %llu packets, %llu messages", flow_end_name(why),
             (unsigned long long)*r->packets,
             (unsigned long long)*r->msgs_out);
    return ok ? 0 : -1;
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
        .http = {
            .max_header_bytes = rc->max_header_bytes,
            .max_headers = rc->max_headers,
            .body_max = rc->body_max,
        },
    };
    r->conns = conn_tracker_new(&cc, on_emit, r);
    r->rd = frame_reader_new();
    r->wr = frame_writer_new(FRAME_MSG, r->st.id);
    r->up = upstream_new(1, r->st.stats);
    if (!r->conns || !r->rd || !r->wr || !r->up) {
        log_error("out of memory");
        return -1;
    }
    register_stats(r);

    char in_ep[4200], out_ep[4200];
    if (!topology_input(cfg, ROLE_REASSEMBLE, r->st.shard, in_ep,
                        sizeof(in_ep)) ||
        !topology_input(cfg, ROLE_DISPATCH, 0, out_ep, sizeof(out_ep))) {
        log_error("endpoint does not fit");
        return -1;
    }
    r->in = bus_in_new(r->st.zmq, in_ep);
    if (!r->in) {
        log_error("cannot bind %s: %s", in_ep, zmq_strerror(errno));
        return -1;
    }
    r->out = bus_out_new(r->st.zmq, out_ep, r->st.id, r->st.tap);
    if (!r->out) {
        log_error("cannot connect %s: %s", out_ep, zmq_strerror(errno));
        return -1;
    }
    log_debug("input %s, output %s", in_ep, out_ep);
    return 0;
}

static void teardown(struct reasm *r)
{
    bus_in_destroy(&r->in);
    bus_out_destroy(&r->out);
    conn_tracker_destroy(&r->conns);
    frame_writer_destroy(&r->wr);
    frame_reader_destroy(&r->rd);
    upstream_destroy(&r->up);
}

int main(int argc, char **argv)
{
    static struct reasm r;
    int rc = stage_init(&r.st, ROLE_REASSEMBLE, summary, argc, argv);
    if (rc != 0) {
        stage_finish(&r.st, false);
        return rc < 0 ? 0 : rc;
    }
    bool ok = setup(&r) == 0 && run(&r) == 0;
    teardown(&r);
    stage_finish(&r.st, ok);
    return ok ? 0 : 1;
}
