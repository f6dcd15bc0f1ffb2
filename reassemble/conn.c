/* conn.c - flows, streams and HTTP parsers of a shard, tied together.
 *
 * A connection lives in its flow's data area, so the flow pool is its
 * allocator; only its two parsers and its out-of-order copies are
 * allocated, and they are freed as soon as it closes (its flow then
 * lingers as a small tombstone). Everything is indexed by role:
 * [0] client -> server (requests), [1] server -> client (responses).
 */
#include "conn.h"

#include <stdlib.h>
#include <string.h>

#define ADDR_TEXT 46 /* INET6_ADDRSTRLEN */

struct conn {
    conn_tracker_t *tr;
    struct flow *flow;
    struct stream st[2];
    http_parser_t *http[2];
    struct conn_side {
        struct conn *c;
        unsigned dir;
    } side[2];                 /* stream sink contexts */
    uint8_t client;            /* key side of the client */
    bool midstream;
    bool open;                 /* parsers live, close not yet emitted */
    uint32_t n_req, n_resp;
    uint64_t pkts[2], bytes[2];
    uint64_t ts_last_ns;       /* latest packet time on the connection */
    char ip[2][ADDR_TEXT];     /* [0] client, [1] server */
    uint16_t port[2];
};

struct conn_tracker {
    struct conn_config cfg;
    flow_table_t *flows;
    struct stream_shared sh;
    struct http_counters http;
    struct conn_counters c;
    conn_emit_fn emit;
    void *ctx;
};

/* ---- stream -> parser ---------------------------------------------- */

/* A stream's sink context is its side of the conn. */
static void sink_data(void *ctx, const uint8_t *p, size_t n, uint64_t ts)
{
    struct conn_side *s = ctx;
    http_parser_t *hp = s->c->http[s->dir];
    if (!http_parser_stopped(hp))
        http_parser_feed(hp, p, n, ts);
}

static void sink_gap(void *ctx, uint64_t len, uint64_t ts)
{
    struct conn_side *s = ctx;
    http_parser_t *hp = s->c->http[s->dir];
    if (!http_parser_stopped(hp))
        http_parser_gap(hp, len, ts);
}

static void sink_end(void *ctx, uint64_t ts)
{
    struct conn_side *s = ctx;
    http_parser_close(s->c->http[s->dir], ts);
}

static const struct stream_sink http_sink = { sink_data, sink_gap, sink_end };

/* ---- messages ------------------------------------------------------ */

static void msg_base(const struct conn *c, struct http_msg *m)
{
    memset(m, 0, sizeof(*m));
    m->uid.p = c->flow->uid;
    m->uid.n = FLOW_UID_LEN;
    m->addr.src_ip = bytes_of(c->ip[0]);
    m->addr.src_port = c->port[0];
    m->addr.dst_ip = bytes_of(c->ip[1]);
    m->addr.dst_port = c->port[1];
}

static void emit(conn_tracker_t *t, const struct http_msg *m)
{
    if (t->emit)
        t->emit(t->ctx, m);
}

static void on_message(void *ctx, const struct http_parsed *p)
{
    struct conn *c = ctx;
    conn_tracker_t *t = c->tr;
    struct http_msg m;
    msg_base(c, &m);
    m.ts_ns = p->ts_first_ns;
    m.ts_end_ns = p->ts_last_ns;
    m.version = p->version;
    m.headers = p->headers;
    m.n_headers = p->n_headers;
    m.body = p->body;
    m.body_len = p->body_len;
    m.flags = p->flags | (c->midstream ? MSG_F_MIDSTREAM : 0);
    if (p->dir == HTTP_DIR_REQUEST) {
        m.kind = MSG_REQ;
        m.idx = c->n_req++;
        m.method = p->method;
        m.uri = p->uri;
        t->c.requests++;
        /* The response parser must know which responses have no body
         * (HEAD) or open a tunnel (CONNECT). Methods are case-sensitive. */
        enum http_req_class cls = HTTP_REQ_NORMAL;
        if (bytes_eq(p->method, "HEAD"))
            cls = HTTP_REQ_HEAD;
        else if (bytes_eq(p->method, "CONNECT"))
            cls = HTTP_REQ_CONNECT;
        if (c->http[1])
            http_parser_expect(c->http[1], cls);
    } else {
        m.kind = MSG_RESP;
        /* A response with no request before it and none under way (the
         * capture began after the request, or its packets came out of
         * order) must not take the next request's place: it keeps the
         * index of that request without consuming it, and correlate,
         * finding no request there yet, records it as an orphan. */
        bool asked = c->n_resp < c->n_req ||
                     (c->http[0] && !http_parser_between_messages(c->http[0]));
        if (asked) {
            m.idx = c->n_resp++;
        } else {
            m.idx = c->n_req;
            t->c.unsolicited++;
        }
        m.status = p->status;
        m.reason = p->reason;
        t->c.responses++;
    }
    emit(t, &m);
}

static void emit_event(conn_tracker_t *t, const struct conn *c,
                       const char *event, const char *reason)
{
    struct http_msg m;
    msg_base(c, &m);
    m.kind = MSG_CONN;
    m.ts_ns = c->flow->ts_first_ns;
    m.ts_end_ns = c->ts_last_ns;
    m.event = bytes_of(event);
    m.reason_text = bytes_of(reason);
    for (int r = 0; r < 2; r++) {
        m.pkts[r] = c->pkts[r];
        m.bytes_seen[r] = c->bytes[r];
    }
    m.gaps = c->st[0].gaps + c->st[1].gaps;
    m.requests = c->n_req;
    m.responses = c->n_resp;
    emit(t, &m);
}

/* ---- connection life ----------------------------------------------- */

/* Which key side is the client of a flow started by this packet. */
static uint8_t pick_client(const struct packet_info *pi, unsigned side,
                           bool *midstream)
{
    bool syn = pi->tcp_flags & TCP_SYN, ack = pi->tcp_flags & TCP_ACK;
    *midstream = !syn;
    if (syn)
        return (uint8_t)(ack ? !side : side);
    if (http_looks_like_request(pi->payload, pi->payload_len))
        return (uint8_t)side;
    if (http_looks_like_response(pi->payload, pi->payload_len))
        return (uint8_t)!side;
    /* Servers usually listen on the lower port. */
    return (uint8_t)(pi->sport < pi->dport ? !side : side);
}

static int conn_open(conn_tracker_t *t, struct flow *f,
                     const struct packet_info *pi, unsigned side,
                     uint64_t ts_ns)
{
    struct conn *c = f->data; /* zeroed by the table */
    c->tr = t;
    c->flow = f;
    c->client = pick_client(pi, side, &c->midstream);
    c->ts_last_ns = ts_ns;
    c->http[0] = http_parser_new(HTTP_DIR_REQUEST, &t->cfg.http, &t->http,
                                 on_message, c);
    c->http[1] = http_parser_new(HTTP_DIR_RESPONSE, &t->cfg.http, &t->http,
                                 on_message, c);
    if (!c->http[0] || !c->http[1]) {
        http_parser_destroy(&c->http[0]);
        http_parser_destroy(&c->http[1]);
        t->c.alloc_failed++;
        return -1;
    }
    for (int r = 0; r < 2; r++) {
        c->side[r].c = c;
        c->side[r].dir = (unsigned)r;
        stream_init(&c->st[r], &t->sh, &http_sink, &c->side[r]);
    }
    const struct flow_key *k = &f->key;
    packet_addr_str(k->family, k->addr[c->client], c->ip[0], ADDR_TEXT);
    packet_addr_str(k->family, k->addr[!c->client], c->ip[1], ADDR_TEXT);
    c->port[0] = k->port[c->client];
    c->port[1] = k->port[!c->client];
    c->open = true;
    emit_event(t, c, "open", "");
    return 0;
}

/* Delivers what each direction still holds (requests first, so the
 * response parser knows what it answers), emits the close event and
 * frees the parsers and buffers. */
static void conn_end(conn_tracker_t *t, struct conn *c, enum flow_end why)
{
    if (!c->open)
        return;
    for (int r = 0; r < 2; r++)
        stream_end(&c->st[r], c->ts_last_ns);
    emit_event(t, c, "close", flow_end_name(why));
    t->c.conn_closed++;
    for (int r = 0; r < 2; r++) {
        stream_release(&c->st[r]);
        http_parser_destroy(&c->http[r]);
    }
    c->open = false;
}

static void on_flow_end(void *ctx, struct flow *f, enum flow_end why)
{
    conn_end(ctx, f->data, why);
}

/* ---- tracker ------------------------------------------------------- */

conn_tracker_t *conn_tracker_new(const struct conn_config *cfg,
                                 conn_emit_fn emit_fn, void *ctx)
{
    conn_tracker_t *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->cfg = *cfg;
    t->sh.max_buffered = cfg->max_buffered;
    t->sh.memcap = cfg->memcap;
    t->emit = emit_fn;
    t->ctx = ctx;
    t->flows = flow_table_new(cfg->max_flows, sizeof(struct conn),
                              on_flow_end, t);
    if (!t->flows) {
        free(t);
        return NULL;
    }
    return t;
}

void conn_tracker_destroy(conn_tracker_t **tp)
{
    if (!tp || !*tp)
        return;
    conn_tracker_t *t = *tp;
    t->emit = NULL;
    flow_end_all(t->flows, FLOW_END_EOF);
    flow_table_destroy(&t->flows);
    free(t);
    *tp = NULL;
}

void conn_tracker_stats(const conn_tracker_t *t, struct conn_stats *out)
{
    out->conn = &t->c;
    out->flow = flow_table_counters(t->flows);
    out->stream = &t->sh.c;
    out->http = &t->http;
}

void conn_packet(conn_tracker_t *t, const struct packet_info *pi, size_t cut,
                 uint64_t ts_ns, uint64_t now_ns)
{
    struct flow_key k;
    unsigned side;
    flow_key_make(pi, &k, &side);
    bool syn = pi->tcp_flags & TCP_SYN, ack = pi->tcp_flags & TCP_ACK;
    bool rst = pi->tcp_flags & TCP_RST, fin = pi->tcp_flags & TCP_FIN;

    struct flow *f = flow_find(t->flows, &k);
    if (f && f->closed) {
        if (!syn || ack) {
            t->c.pkts_after_close++;
            return;
        }
        flow_remove(t->flows, f); /* port reuse: a new connection */
        f = NULL;
    }
    if (!f) {
        if (rst || (!syn && pi->payload_len == 0 && cut == 0)) {
            t->c.pkts_no_flow++;
            return;
        }
        f = flow_create(t->flows, &k, ts_ns, now_ns);
        if (!f)
            return; /* counted by the table */
        if (conn_open(t, f, pi, side, ts_ns) < 0) {
            flow_remove(t->flows, f);
            return;
        }
    } else {
        flow_touch(t->flows, f, now_ns);
    }

    struct conn *c = f->data;
    unsigned role = side == c->client ? 0 : 1;
    struct stream *s = &c->st[role], *peer = &c->st[!role];
    c->pkts[role]++;
    c->bytes[role] += pi->payload_len + cut;
    if (ts_ns > c->ts_last_ns)
        c->ts_last_ns = ts_ns;

    if (rst) {
        conn_end(t, c, FLOW_END_RST);
        flow_close(t->flows, f, now_ns);
        return;
    }
    uint32_t seq = pi->seq;
    if (syn) {
        stream_syn(s, seq);
        seq++; /* the SYN takes one sequence number; data follows it */
        if (ack)
            stream_start(peer, pi->ack); /* client's SYN was missed */
    }
    stream_segment_cut(s, seq, pi->payload, pi->payload_len, cut, fin, ts_ns);
    if (ack)
        stream_ack(peer, pi->ack, ts_ns);
    if (stream_ended(&c->st[0]) && stream_ended(&c->st[1])) {
        conn_end(t, c, FLOW_END_FIN);
        flow_close(t->flows, f, now_ns);
    }
}

void conn_expire(conn_tracker_t *t, uint64_t now_ns)
{
    flow_expire(t->flows, now_ns, t->cfg.idle_timeout_ns);
}

void conn_close_all(conn_tracker_t *t, enum flow_end why)
{
    flow_end_all(t->flows, why);
}
