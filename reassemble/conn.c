/* conn.c - flows, streams and HTTP parsers of a shard, tied together.
 *
 * A connection lives in its flow's data area, so the flow pool is its
 * allocator; only its two parsers, its out-of-order copies and packets
 * it holds back are allocated, and they are freed as soon as it closes
 * (its flow then lingers as a small tombstone). Everything is indexed by
 * role: [0] client -> server (requests), [1] server -> client
 * (responses).
 *
 * A packet's ACK is applied before its data. When the ACK covers bytes
 * of the other direction that have not been delivered (the capture
 * reordered them, or never had them), the packet's data is held back
 * until those bytes arrive or, after the reorder window, are declared a
 * gap: so a response is parsed after every request it could answer.
 */
#include "conn.h"
#include "checksum.h"
#include "pairing.h"

#include <stdlib.h>
#include <string.h>

#define ADDR_TEXT 46 /* INET6_ADDRSTRLEN */
/* Conflicting overlaps remembered per direction until their message is
 * emitted; past it the next message is flagged anyway. */
#define MAX_CONFLICTS 8
/* Bytes of held-back packets per connection; past it the other
 * direction's hole is declared a gap at once. */
#define HELD_MAX (1u << 20)
/* An acknowledged hole is also settled after this many more packets of
 * its connection (as TCP's duplicate-ACK threshold): captures reorder
 * neighbours, not whole exchanges. */
#define REORDER_PKTS 4
/* A packet's ACK that tells nothing (no ACK flag, the other direction not
 * started, or none of its bytes acknowledged: crafted captures carry 0):
 * ordering then falls back to the capture's. */
#define MARK_UNKNOWN UINT64_MAX

/* A packet held back (see the top of the file). */
struct held {
    struct held *next;
    uint32_t seq;
    uint32_t len, cut;
    bool fin;
    uint64_t ts_ns;
    uint64_t mark;
    uint8_t data[];
};

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
    bool last_req_http09;      /* the last request had no version */
    uint64_t pkts[2], bytes[2];
    uint64_t ts_last_ns;       /* latest packet time on the connection */
    char ip[2][ADDR_TEXT];     /* [0] client, [1] server */
    uint16_t port[2];
    /* pairing (pairing.h) */
    struct pairing pair;
    struct pairing_result decision; /* for the response under way */
    bool have_decision;
    uint64_t fed_end[2];       /* stream offset after the bytes being fed */
    /* overlap conflicts not yet attached to a message */
    uint64_t conflicts[2][MAX_CONFLICTS];
    uint32_t n_conflicts[2];
    bool conflict_overflow[2];
    /* packets held back, per role, oldest first */
    struct held *held[2], *held_tail[2];
    uint64_t held_bytes;
    uint64_t hole_since[2];    /* packet time an acked hole was first seen */
    uint32_t hole_pkts[2];     /* packets of the connection since then */
    struct conn *next_waiting; /* in the tracker's list while holding */
    bool waiting;
    /* checksums (checksum.h): per role, decided by its first segment */
    enum { SUMS_UNSET, SUMS_STRICT, SUMS_REWRITTEN } sums[2];
};

struct conn_tracker {
    struct conn_config cfg;
    flow_table_t *flows;
    struct stream_shared sh;
    struct http_counters http;
    struct conn_counters c;
    conn_emit_fn emit;
    void *ctx;
    struct conn *waiting;      /* connections with packets held back */
    uint64_t body_max_cap;     /* the body_max it was made with */
};

static void emit(conn_tracker_t *t, const struct http_msg *m);
static void emit_about(conn_tracker_t *t, const struct conn *c,
                       const char *event, uint32_t first, uint32_t n,
                       uint64_t ts_ns);

/* ---- stream -> parser ---------------------------------------------- */

/* A stream's sink context is its side of the conn. */
static void sink_data(void *ctx, const uint8_t *p, size_t n, uint64_t ts,
                      uint64_t mark)
{
    struct conn_side *s = ctx;
    struct conn *c = s->c;
    http_parser_t *hp = c->http[s->dir];
    c->fed_end[s->dir] = c->st[s->dir].offset + n;
    /* a stopped parser only counts them (tunnel bytes) */
    http_parser_set_mark(hp, mark);
    http_parser_feed(hp, p, n, ts);
}

/* A gap inside a body of known length belongs to that message; any other
 * ends the message under way where the gap begins (as far as anyone
 * knows) and is a hole that may hide messages, for pairing. */
static void sink_gap(void *ctx, uint64_t len, uint64_t ts)
{
    struct conn_side *s = ctx;
    struct conn *c = s->c;
    http_parser_t *hp = c->http[s->dir];
    uint64_t at = c->st[s->dir].offset;
    c->fed_end[s->dir] = at;
    if (hp && http_parser_gap(hp, len, ts))
        return;
    pairing_hole(&c->pair, (int)s->dir, at, at + len);
}

static void sink_end(void *ctx, uint64_t ts)
{
    struct conn_side *s = ctx;
    s->c->fed_end[s->dir] = s->c->st[s->dir].offset;
    http_parser_close(s->c->http[s->dir], ts);
}

static void sink_conflict(void *ctx, uint64_t offset)
{
    struct conn_side *s = ctx;
    struct conn *c = s->c;
    if (c->n_conflicts[s->dir] == MAX_CONFLICTS) {
        c->conflict_overflow[s->dir] = true;
        return;
    }
    c->conflicts[s->dir][c->n_conflicts[s->dir]++] = offset;
}

static const struct stream_sink http_sink = {
    sink_data, sink_gap, sink_end, sink_conflict,
};

/* True when a conflict lies in [from, to) of direction dir; those are
 * forgotten (an overflow flags the next message of the direction). */
static bool take_conflicts(struct conn *c, unsigned dir, uint64_t from,
                           uint64_t to)
{
    bool hit = c->conflict_overflow[dir];
    c->conflict_overflow[dir] = false;
    uint32_t w = 0;
    for (uint32_t i = 0; i < c->n_conflicts[dir]; i++) {
        uint64_t o = c->conflicts[dir][i];
        if (o < to)
            hit |= o >= from;
        else
            c->conflicts[dir][w++] = o;
    }
    c->n_conflicts[dir] = w;
    return hit;
}

/* ---- pairing ------------------------------------------------------- */

/* A request whose ACK tells nothing was sent before any response. */
static uint64_t request_ack(uint64_t mark)
{
    return mark == MARK_UNKNOWN ? 0 : mark;
}

static enum pairing_class class_of(struct bytes method)
{
    /* Methods are case-sensitive. */
    if (bytes_eq(method, "HEAD"))
        return PAIRING_HEAD;
    if (bytes_eq(method, "CONNECT"))
        return PAIRING_CONNECT;
    return PAIRING_NORMAL;
}

/* The response parser's question: which request does the response that
 * began at s answer? Decided here, once, from TCP positions. */
static enum http_req_class classify(void *ctx, const struct http_start *s)
{
    struct conn *c = ctx;
    conn_tracker_t *t = c->tr;
    struct pairing_req cur, *curp = NULL;
    struct http_start cs;
    struct bytes method;
    if (c->http[0] && http_parser_current(c->http[0], &cs, &method)) {
        cur = (struct pairing_req){ c->n_req, cs.pos, 0,
                                    request_ack(cs.mark), class_of(method) };
        curp = &cur;
    }
    pairing_response(&c->pair, s->pos, s->mark, curp, &c->decision);
    c->have_decision = true;
    if (c->decision.n_lost) {
        t->c.responses_lost += c->decision.n_lost;
        emit_about(t, c, "lost", c->decision.lost_first,
                   c->decision.n_lost, s->ts_ns);
    }
    /* Wait for Response Packets counts from the first byte by default. */
    if (c->decision.paired)
        emit_about(t, c, "responding", c->decision.idx, 1, s->ts_ns);
    switch (c->decision.cls) {
    case PAIRING_HEAD: return HTTP_REQ_HEAD;
    case PAIRING_CONNECT: return HTTP_REQ_CONNECT;
    case PAIRING_NORMAL: break;
    }
    return HTTP_REQ_NORMAL;
}

/* The response parser's other question: do server bytes that are no
 * status line answer an HTTP/0.9 request? Yes while one is unanswered:
 * the last request emitted, or the one whose headers are not yet over
 * (nginx answers "GET /" before the client's blank line). */
static bool answers_http09(void *ctx)
{
    struct conn *c = ctx;
    return http_parser_current_http09(c->http[0]) ||
           (c->last_req_http09 && c->n_resp < c->n_req);
}

static void request_done(struct conn *c, const struct http_parsed *p,
                         struct http_msg *m)
{
    conn_tracker_t *t = c->tr;
    m->kind = MSG_REQ;
    m->idx = c->n_req++;
    m->method = p->method;
    m->uri = p->uri;
    c->last_req_http09 = p->version.n == 0;
    t->c.requests++;
    if (pairing_take_early(&c->pair, m->idx, c->fed_end[0])) {
        m->flags |= MSG_F_EARLY_RESPONSE;
        return;
    }
    struct pairing_req r = { m->idx, p->start.pos, c->fed_end[0],
                             request_ack(p->start.mark),
                             class_of(p->method) };
    uint32_t evicted;
    size_t before = pairing_mem(&c->pair);
    if (!pairing_request(&c->pair, &r, &evicted))
        t->c.pairing_evicted++;
    /* under the memcap with the parsers (t->http.mem_used) */
    t->http.mem_used += pairing_mem(&c->pair) - before;
}

static void response_done(struct conn *c, const struct http_parsed *p,
                          struct http_msg *m)
{
    conn_tracker_t *t = c->tr;
    m->kind = MSG_RESP;
    m->status = p->status;
    m->reason = p->reason;
    t->c.responses++;
    c->n_resp++;
    struct pairing_result *d = &c->decision;
    if (c->have_decision && d->paired) {
        m->idx = d->idx;
        if (d->flags & PAIRING_UNCERTAIN) {
            m->flags |= MSG_F_UNCERTAIN_PAIRING;
            t->c.pairs_uncertain++;
        }
        if (d->flags & PAIRING_EARLY) {
            m->flags |= MSG_F_EARLY_RESPONSE;
            t->c.responses_early++;
        }
    } else {
        /* Nothing it can answer (the capture began after the request,
         * or the request was lost): it keeps the index of the next
         * request without taking it, and correlate records an orphan. */
        m->idx = c->n_req;
        t->c.unsolicited++;
    }
    c->have_decision = false;
    pairing_response_end(&c->pair, c->fed_end[1]);
}

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
    unsigned dir = p->dir == HTTP_DIR_REQUEST ? 0 : 1;
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
    if (take_conflicts(c, dir, p->start.pos, c->fed_end[dir]))
        m.flags |= MSG_F_OVERLAP_CONFLICT;
    if (dir == 0)
        request_done(c, p, &m);
    else
        response_done(c, p, &m);
    emit(c->tr, &m);
    /* after a 2xx to CONNECT or a 101 the client's bytes are the tunnel's
     * too: nothing in it is HTTP */
    if (dir == 1 && (p->flags & MSG_F_UPGRADE)) {
        http_parser_tunnel(c->http[0]);
        c->tr->c.tunnels++;
    }
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

/* A `conn` event about requests first..first+n-1: "lost" (answered in
 * bytes the capture lost) or "responding" (a response to it began at
 * ts_ns). */
static void emit_about(conn_tracker_t *t, const struct conn *c,
                       const char *event, uint32_t first, uint32_t n,
                       uint64_t ts_ns)
{
    struct http_msg m;
    msg_base(c, &m);
    m.kind = MSG_CONN;
    m.ts_ns = m.ts_end_ns = ts_ns;
    m.event = bytes_of(event);
    m.idx = first;
    m.requests = n;
    emit(t, &m);
}

/* ---- held-back packets --------------------------------------------- */

static void wait_list_add(conn_tracker_t *t, struct conn *c)
{
    if (c->waiting)
        return;
    c->waiting = true;
    c->next_waiting = t->waiting;
    t->waiting = c;
}

static void wait_list_remove(conn_tracker_t *t, struct conn *c)
{
    if (!c->waiting)
        return;
    for (struct conn **p = &t->waiting; *p; p = &(*p)->next_waiting) {
        if (*p == c) {
            *p = c->next_waiting;
            break;
        }
    }
    c->waiting = false;
}

static void free_held(conn_tracker_t *t, struct conn *c)
{
    for (int r = 0; r < 2; r++) {
        while (c->held[r]) {
            struct held *h = c->held[r];
            c->held[r] = h->next;
            t->sh.c.mem_used -= sizeof(*h) + h->len;
            free(h);
        }
        c->held_tail[r] = NULL;
    }
    c->held_bytes = 0;
    wait_list_remove(t, c);
}

static void segment(struct conn *c, unsigned role, uint32_t seq,
                    const uint8_t *data, size_t len, size_t cut, bool fin,
                    uint64_t ts_ns, uint64_t mark)
{
    stream_segment_cut(&c->st[role], seq, data, len, cut, fin, ts_ns, mark);
}

/* Keeps a copy of a packet's data to take in later. False when it does
 * not fit (the caller then settles and takes it in now). */
static bool hold(conn_tracker_t *t, struct conn *c, unsigned role,
                 uint32_t seq, const uint8_t *data, size_t len, size_t cut,
                 bool fin, uint64_t ts_ns, uint64_t mark)
{
    uint64_t cost = sizeof(struct held) + len;
    if (c->held_bytes + len > HELD_MAX ||
        t->sh.c.mem_used + cost > t->sh.memcap)
        return false;
    struct held *h = malloc(sizeof(*h) + len);
    if (!h) {
        t->sh.c.alloc_failed++;
        return false;
    }
    *h = (struct held){ NULL, seq, (uint32_t)len, (uint32_t)cut, fin, ts_ns,
                        mark };
    if (len)
        memcpy(h->data, data, len);
    if (c->held_tail[role])
        c->held_tail[role]->next = h;
    else
        c->held[role] = h;
    c->held_tail[role] = h;
    c->held_bytes += len;
    t->sh.c.mem_used += cost;
    t->c.pkts_held++;
    wait_list_add(t, c);
    return true;
}

/* Takes in the oldest packet a role holds. */
static void replay(conn_tracker_t *t, struct conn *c, unsigned role)
{
    struct held *h = c->held[role];
    c->held[role] = h->next;
    if (!c->held[role])
        c->held_tail[role] = NULL;
    c->held_bytes -= h->len;
    t->sh.c.mem_used -= sizeof(*h) + h->len;
    segment(c, role, h->seq, h->data, h->len, h->cut, h->fin, h->ts_ns,
            h->mark);
    free(h);
}

/* Takes in held packets whose turn has come: every byte their ACKs
 * cover has been delivered. Packets held longer than the reorder window
 * go in anyway (two sides cannot wait for each other for ever: only
 * crafted traffic acknowledges each other's unsent bytes). */
static void release(conn_tracker_t *t, struct conn *c, uint64_t now_ns,
                    bool force)
{
    bool progress = true;
    while (progress) {
        progress = false;
        for (unsigned role = 0; role < 2; role++) {
            while (c->held[role] &&
                   (!stream_acked_hole(&c->st[!role]) || force ||
                    c->held[role]->ts_ns + t->cfg.reorder_ns < now_ns)) {
                replay(t, c, role);
                progress = true;
            }
        }
    }
    if (!c->held[0] && !c->held[1])
        wait_list_remove(t, c);
}

/* An acknowledged hole that nothing held back will fill: the capture
 * reordered its bytes, or lost them. */
static bool hole_pending(const struct conn *c, unsigned dir)
{
    uint32_t next;
    if (!stream_acked_hole(&c->st[dir]))
        return false;
    stream_next_seq(&c->st[dir], &next);
    return !(c->held[dir] && SEQ_LEQ(c->held[dir]->seq, next));
}

/* Declares acknowledged holes gaps once they outlived the reorder window
 * (or at once with `now`), then takes in what waited for them. */
static void settle(conn_tracker_t *t, struct conn *c, uint64_t ts_ns,
                   bool now)
{
    for (unsigned dir = 0; dir < 2; dir++) {
        if (!hole_pending(c, dir)) {
            c->hole_since[dir] = 0;
            continue;
        }
        c->hole_pkts[dir]++;
        if (!c->hole_since[dir]) {
            c->hole_since[dir] = ts_ns;
            c->hole_pkts[dir] = 0;
        }
        if (now || ts_ns >= c->hole_since[dir] + t->cfg.reorder_ns ||
            c->hole_pkts[dir] >= REORDER_PKTS) {
            /* up to what is held back: those bytes are not lost */
            uint32_t upto = c->held[dir] ? c->held[dir]->seq
                                         : c->st[dir].peer_ack;
            stream_settle(&c->st[dir], upto, ts_ns);
            c->hole_since[dir] = 0;
        }
    }
    release(t, c, ts_ns, now);
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

/* The parsers come with the first data, so a half-open flow (a SYN
 * flood) costs only its entry. Without them its bytes are dropped,
 * counted in alloc_failed. */
static void conn_parsers(conn_tracker_t *t, struct conn *c)
{
    if (c->http[0])
        return;
    c->http[0] = http_parser_new(HTTP_DIR_REQUEST, &t->cfg.http, &t->http,
                                 on_message, c);
    c->http[1] = http_parser_new(HTTP_DIR_RESPONSE, &t->cfg.http, &t->http,
                                 on_message, c);
    if (!c->http[0] || !c->http[1]) {
        http_parser_destroy(&c->http[0]);
        http_parser_destroy(&c->http[1]);
        t->c.alloc_failed++;
        return;
    }
    http_parser_set_classifier(c->http[1], classify, c);
    http_parser_set_http09(c->http[1], answers_http09, c);
}

/* Takes in what is held back, delivers what each direction still holds
 * (requests first, so a response finds what it answers), emits the
 * close event and frees the parsers and buffers. */
static void conn_end(conn_tracker_t *t, struct conn *c, enum flow_end why)
{
    if (!c->open)
        return;
    settle(t, c, c->ts_last_ns, true);
    free_held(t, c); /* nothing is left; this only unlinks the list */
    for (int r = 0; r < 2; r++)
        stream_end(&c->st[r], c->ts_last_ns);
    emit_event(t, c, "close", flow_end_name(why));
    t->c.conn_closed++;
    t->c.tunnel_bytes[0] += http_parser_tunnel_bytes(c->http[0]);
    t->c.tunnel_bytes[1] += http_parser_tunnel_bytes(c->http[1]);
    for (int r = 0; r < 2; r++) {
        stream_release(&c->st[r]);
        http_parser_destroy(&c->http[r]);
    }
    t->http.mem_used -= pairing_mem(&c->pair);
    pairing_release(&c->pair);
    c->open = false;
}

static void on_flow_end(void *ctx, struct flow *f, enum flow_end why)
{
    conn_end(ctx, f->data, why);
}

/* ---- tracker ------------------------------------------------------- */

void conn_tracker_set_body_max(conn_tracker_t *t, uint64_t n)
{
    /* the parsers read it through their limits: the next body byte on */
    t->cfg.http.body_max = n < t->body_max_cap ? n : t->body_max_cap;
}

conn_tracker_t *conn_tracker_new(const struct conn_config *cfg,
                                 conn_emit_fn emit_fn, void *ctx)
{
    conn_tracker_t *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->cfg = *cfg;
    t->body_max_cap = cfg->http.body_max;
    t->sh.max_buffered = cfg->max_buffered;
    t->sh.memcap = cfg->memcap;
    t->sh.policy = cfg->overlap_policy;
    t->emit = emit_fn;
    t->ctx = ctx;
    t->flows = flow_table_new(cfg->max_flows, sizeof(struct conn),
                              on_flow_end, t);
    if (!t->flows) {
        free(t);
        return NULL;
    }
    /* the pool may take half: a full table leaves room for its data */
    flow_table_set_memcap(t->flows, cfg->memcap / 2);
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

/* RFC 5961: a reset is believed only at the byte the receiver expects
 * next (or, before the sender said anything, when it acknowledges the
 * receiver's SYN). Others would be answered with a challenge ACK and the
 * connection carries on; so does the trail. */
static bool rst_believed(const struct conn *c, unsigned role,
                         const struct packet_info *pi)
{
    const struct stream *s = &c->st[role];
    uint32_t next;
    if (!stream_next_seq(s, &next)) {
        uint32_t peer_next;
        return !(pi->tcp_flags & TCP_ACK) ||
               !stream_next_seq(&c->st[!role], &peer_next) ||
               pi->ack == peer_next;
    }
    return pi->seq == next || (s->have_ack && pi->seq == s->peer_ack) ||
           (s->have_fin && pi->seq == s->fin_seq + 1);
}

/* A SYN without ACK and with another ISN than the one the flow began
 * with: the ports were reused for a new connection (its end went
 * unseen). */
static bool new_syn(const struct conn *c, unsigned role,
                    const struct packet_info *pi)
{
    if ((pi->tcp_flags & (TCP_SYN | TCP_ACK)) != TCP_SYN)
        return false;
    if (role != 0)
        return true; /* the server side opens: a new connection */
    const struct stream *s = &c->st[0];
    if (!s->syn_seen)
        return s->delivered > 0 || s->gaps > 0; /* was picked up midstream */
    return pi->seq != s->isn; /* the same ISN: a retransmitted SYN */
}

/* A flow is live (no longer half-open, evicted first) once it carries
 * data or the client acknowledged the server's SYN-ACK; its parsers come
 * with the first data. */
static void conn_data(conn_tracker_t *t, struct conn *c, unsigned role,
                      const struct packet_info *pi, size_t cut)
{
    bool data = pi->payload_len || cut;
    if (data)
        conn_parsers(t, c);
    if (data || (role == 0 && (pi->tcp_flags & (TCP_SYN | TCP_ACK)) ==
                                  TCP_ACK && c->st[1].syn_seen))
        flow_set_live(t->flows, c->flow);
}

/* Finds or makes the connection of a packet; NULL when it starts none. */
static struct conn *lookup(conn_tracker_t *t, const struct packet_info *pi,
                           size_t cut, uint64_t ts_ns, uint64_t now_ns,
                           unsigned *role)
{
    struct flow_key k;
    unsigned side;
    flow_key_make(pi, &k, &side);
    bool syn = pi->tcp_flags & TCP_SYN, ack = pi->tcp_flags & TCP_ACK;
    bool rst = pi->tcp_flags & TCP_RST;
    struct flow *f = flow_find(t->flows, &k);
    if (f && !f->closed) {
        struct conn *c = f->data;
        if (new_syn(c, side == c->client ? 0 : 1, pi)) {
            t->c.ports_reused++;
            conn_end(t, c, FLOW_END_REUSED);
            flow_close(t->flows, f, now_ns);
        }
    }
    if (f && f->closed) {
        if (!syn || ack) {
            t->c.pkts_after_close++;
            return NULL;
        }
        flow_remove(t->flows, f); /* port reuse: a new connection */
        f = NULL;
    }
    if (!f) {
        if (rst || (!syn && pi->payload_len == 0 && cut == 0)) {
            t->c.pkts_no_flow++;
            return NULL;
        }
        f = flow_create(t->flows, &k, ts_ns, now_ns);
        if (!f)
            return NULL; /* counted by the table */
        if (conn_open(t, f, pi, side, ts_ns) < 0) {
            flow_remove(t->flows, f);
            return NULL;
        }
    } else {
        flow_touch(t->flows, f, now_ns);
    }
    struct conn *c = f->data;
    *role = side == c->client ? 0 : 1;
    return c;
}

/* Whether a segment with this checksum status reaches the connection
 * (see checksum.h); counts what it decides. */
static bool checksum_accepts(conn_tracker_t *t, struct conn *c,
                             unsigned role, enum checksum_status cs)
{
    switch (cs) {
    case CHECKSUM_OK:
        c->sums[role] = SUMS_STRICT;
        return true;
    case CHECKSUM_UNKNOWN:
        t->c.checksum_unchecked++;
        return true;
    case CHECKSUM_PARTIAL:
        /* a real stack's segment: this direction's sums mean something
         * (on the sniffing host, or on lo, no segment is ever OK) */
        c->sums[role] = SUMS_STRICT;
        if (t->cfg.checksums == CHECKSUM_AUTO) {
            t->c.checksum_offloaded++;
            return true;
        }
        break;
    case CHECKSUM_BAD:
        if (t->cfg.checksums == CHECKSUM_AUTO &&
            c->sums[role] != SUMS_STRICT) {
            c->sums[role] = SUMS_REWRITTEN;
            t->c.checksum_rewritten++;
            return true;
        }
        break;
    }
    t->c.checksum_bad++;
    return false;
}

/* Bytes held by flows, parsers, out-of-order copies and held packets:
 * what memcap bounds. */
static uint64_t mem_total(const conn_tracker_t *t)
{
    return flow_table_counters(t->flows)->mem_used + t->http.mem_used +
           t->sh.c.mem_used;
}

/* Streams may buffer what flows and parsers leave of the memcap. */
static void stream_budget(conn_tracker_t *t)
{
    uint64_t other = flow_table_counters(t->flows)->mem_used +
                     t->http.mem_used;
    t->sh.memcap = other < t->cfg.memcap ? t->cfg.memcap - other : 0;
}

/* Over the memcap (emergency mode): other flows go, half-open first. */
static void relieve(conn_tracker_t *t, const struct conn *c, uint64_t now_ns)
{
    while (mem_total(t) > t->cfg.memcap &&
           flow_evict(t->flows, now_ns, c->flow))
        ;
}

void conn_packet(conn_tracker_t *t, const struct packet_info *pi, size_t cut,
                 uint32_t pkt_flags, uint64_t ts_ns, uint64_t now_ns)
{
    enum checksum_status cs = t->cfg.checksums == CHECKSUM_OFF
                                  ? CHECKSUM_OK
                                  : checksum_check(pi);
    if (t->cfg.checksums == CHECKSUM_VERIFY && cs != CHECKSUM_OK &&
        cs != CHECKSUM_UNKNOWN) {
        t->c.checksum_bad++;
        return;
    }
    unsigned role;
    stream_budget(t);
    struct conn *c = lookup(t, pi, cut, ts_ns, now_ns, &role);
    if (!c || !checksum_accepts(t, c, role, cs))
        return;
    conn_data(t, c, role, pi, cut);
    bool syn = pi->tcp_flags & TCP_SYN, ack = pi->tcp_flags & TCP_ACK;
    bool rst = pi->tcp_flags & TCP_RST, fin = pi->tcp_flags & TCP_FIN;
    struct stream *s = &c->st[role], *peer = &c->st[!role];
    c->pkts[role]++;
    c->bytes[role] += pi->payload_len + cut;
    if (ts_ns > c->ts_last_ns)
        c->ts_last_ns = ts_ns;

    if (rst) {
        if (!rst_believed(c, role, pi)) {
            t->c.rst_ignored++;
            return;
        }
        conn_end(t, c, FLOW_END_RST);
        flow_close(t->flows, c->flow, now_ns);
        return;
    }
    uint32_t seq = pi->seq;
    if (syn) {
        stream_syn(s, seq);
        seq++; /* the SYN takes one sequence number; data follows it */
        if (ack)
            stream_start(peer, pi->ack); /* client's SYN was missed */
    }
    uint64_t mark = MARK_UNKNOWN;
    uint32_t peer_next;
    if (ack) {
        stream_ack(peer, pi->ack, ts_ns);
        if (stream_next_seq(peer, &peer_next) &&
            stream_offset_of(peer, pi->ack) > 0)
            mark = stream_offset_of(peer, pi->ack);
    }
    if (pkt_flags & CONN_PKT_CONFLICT)
        sink_conflict(&c->side[role], stream_offset_of(s, seq));
    if (pi->payload_len || cut || fin) {
        bool wait = c->held[role] || stream_acked_hole(peer);
        if (!wait || !hold(t, c, role, seq, pi->payload, pi->payload_len,
                           cut, fin, ts_ns, mark)) {
            if (wait)
                settle(t, c, ts_ns, true);
            segment(c, role, seq, pi->payload, pi->payload_len, cut, fin,
                    ts_ns, mark);
        }
    }
    settle(t, c, ts_ns, false);
    if (stream_ended(&c->st[0]) && stream_ended(&c->st[1])) {
        conn_end(t, c, FLOW_END_FIN);
        flow_close(t->flows, c->flow, now_ns);
    }
    relieve(t, c, now_ns);
}

void conn_expire(conn_tracker_t *t, uint64_t now_ns)
{
    /* Holes whose packets stopped coming are settled on the clock. */
    struct conn *c = t->waiting;
    while (c) {
        struct conn *next = c->next_waiting;
        settle(t, c, now_ns, false);
        c = next;
    }
    flow_expire(t->flows, now_ns, t->cfg.idle_timeout_ns);
}

void conn_close_all(conn_tracker_t *t, enum flow_end why)
{
    flow_end_all(t->flows, why);
}
