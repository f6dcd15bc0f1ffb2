/* test_reassemble_flow.c - the flow table, and connections on top of it.
 *
 * Table: both directions find one flow, the key is canonical, uids are
 * deterministic, the cap refuses or evicts with counters (half-open flows
 * first, whatever their age), the pool stays within its memcap, idle
 * expiry and tombstones. A SYN flood through a tracker with a small
 * memcap: every later exchange is logged, memory stays under the cap.
 * Connections (conn.h, with the real HTTP parser): a whole
 * exchange, port reuse after FIN giving a new uid, late packets absorbed,
 * midstream pickup, RST, idle and end-of-input closes. Sequence numbers
 * run at ISNs 0, 1, 2^32-1 and 2^32-10.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "conn.h"
#include "flow.h"

#define SEC 1000000000ull

static const uint32_t isns[] = { 0, 1, 0xffffffffu, 0xfffffff6u };
#define N_ISNS (sizeof(isns) / sizeof(isns[0]))

static struct packet_info mkpkt(const char *src, uint16_t sport,
                                const char *dst, uint16_t dport,
                                uint8_t flags, uint32_t seq, uint32_t ack,
                                const char *payload)
{
    struct packet_info pi;
    memset(&pi, 0, sizeof(pi));
    if (strchr(src, ':')) {
        pi.family = 6;
        assert_int_equal(inet_pton(AF_INET6, src, pi.src), 1);
        assert_int_equal(inet_pton(AF_INET6, dst, pi.dst), 1);
    } else {
        pi.family = 4;
        assert_int_equal(inet_pton(AF_INET, src, pi.src), 1);
        assert_int_equal(inet_pton(AF_INET, dst, pi.dst), 1);
    }
    pi.proto = 6;
    pi.sport = sport;
    pi.dport = dport;
    pi.tcp_flags = flags;
    pi.seq = seq;
    pi.ack = ack;
    pi.payload = (const uint8_t *)payload;
    pi.payload_len = payload ? strlen(payload) : 0;
    return pi;
}

/* ---- keys ----------------------------------------------------------- */

static void test_key_canonical(void **state)
{
    static const struct {
        const char *a, *b;
        uint16_t pa, pb;
        unsigned a_side; /* expected side of a */
    } t[] = {
        { "10.0.0.1", "10.0.0.2", 40000, 80, 0 },
        { "10.0.0.2", "10.0.0.1", 80, 40000, 1 },
        { "10.0.0.1", "10.0.0.1", 40000, 80, 1 }, /* same address: ports */
        { "10.0.0.1", "10.0.0.1", 80, 40000, 0 },
        { "2001:db8::2", "2001:db8::1", 443, 50000, 1 },
        { "::1", "::1", 8080, 8080, 0 },           /* to itself */
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct packet_info fwd = mkpkt(t[i].a, t[i].pa, t[i].b, t[i].pb,
                                       TCP_ACK, 0, 0, NULL);
        struct packet_info rev = mkpkt(t[i].b, t[i].pb, t[i].a, t[i].pa,
                                       TCP_ACK, 0, 0, NULL);
        struct flow_key k1, k2;
        unsigned s1, s2;
        flow_key_make(&fwd, &k1, &s1);
        flow_key_make(&rev, &k2, &s2);
        assert_memory_equal(&k1, &k2, sizeof(k1));
        assert_int_equal(s1, t[i].a_side);
        if (strcmp(t[i].a, t[i].b) || t[i].pa != t[i].pb)
            assert_int_equal(s2, !s1);
        assert_int_equal(k1.port[s1], t[i].pa);
    }
}

/* ---- table ---------------------------------------------------------- */

struct ended {
    int n;
    enum flow_end why[16];
    char uid[16][FLOW_UID_LEN + 1];
};

static void on_end(void *ctx, struct flow *f, enum flow_end why)
{
    struct ended *e = ctx;
    assert_true(e->n < 16);
    assert_false(f->closed);
    e->why[e->n] = why;
    memcpy(e->uid[e->n], f->uid, FLOW_UID_LEN + 1);
    e->n++;
}

static struct flow_key key_of(const char *a, uint16_t pa, const char *b,
                              uint16_t pb)
{
    struct packet_info pi = mkpkt(a, pa, b, pb, 0, 0, 0, NULL);
    struct flow_key k;
    unsigned side;
    flow_key_make(&pi, &k, &side);
    return k;
}

static void test_both_directions(void **state)
{
    struct ended e = { 0 };
    flow_table_t *t = flow_table_new(16, 64, on_end, &e);
    assert_non_null(t);
    struct flow_key k1 = key_of("192.0.2.1", 1234, "192.0.2.9", 80);
    struct flow_key k2 = key_of("192.0.2.9", 80, "192.0.2.1", 1234);
    assert_null(flow_find(t, &k1));
    struct flow *f = flow_create(t, &k1, 5 * SEC, 5 * SEC);
    assert_non_null(f);
    assert_ptr_equal(flow_find(t, &k1), f);
    assert_ptr_equal(flow_find(t, &k2), f);
    assert_null(flow_find(t, &(struct flow_key){ 0 }));
    /* the data area is zeroed and aligned */
    for (int i = 0; i < 64; i++)
        assert_int_equal(((uint8_t *)f->data)[i], 0);
    assert_int_equal((uintptr_t)f->data % 16, 0);
    const struct flow_counters *c = flow_table_counters(t);
    assert_int_equal(c->flows, 1);
    assert_int_equal(c->flows_active, 1);
    flow_end_all(t, FLOW_END_EOF);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.why[0], FLOW_END_EOF);
    assert_int_equal(c->flows_active, 0);
    assert_int_equal(flow_table_size(t), 0);
    flow_table_destroy(&t);
    assert_null(t);
    flow_table_destroy(&t);
}

static bool is_uid(const char *u)
{
    if (strlen(u) != FLOW_UID_LEN)
        return false;
    for (int i = 0; i < FLOW_UID_LEN; i++)
        if (!((u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' && u[i] <= 'f')))
            return false;
    return true;
}

static void test_uid(void **state)
{
    struct flow_key k = key_of("10.1.1.1", 5555, "10.2.2.2", 80);
    struct flow_key kr = key_of("10.2.2.2", 80, "10.1.1.1", 5555);
    struct flow_key k6 = key_of("2001:db8::1", 5555, "2001:db8::2", 80);
    char a[17], b[17], c[17], d[17], e[17];
    flow_uid(&k, 1700000000123456789ull, a);
    flow_uid(&kr, 1700000000123456789ull, b);
    flow_uid(&k, 1700000000123456790ull, c);
    flow_uid(&k6, 1700000000123456789ull, d);
    flow_uid(&k, 0, e);
    assert_true(is_uid(a) && is_uid(c) && is_uid(d) && is_uid(e));
    assert_string_equal(a, b);          /* direction does not matter */
    assert_string_not_equal(a, c);      /* the first packet's time does */
    assert_string_not_equal(a, d);
    assert_string_not_equal(a, e);

    /* the same key and time in two tables (a replay) give the same uid */
    flow_table_t *t1 = flow_table_new(4, 0, NULL, NULL);
    flow_table_t *t2 = flow_table_new(4, 0, NULL, NULL);
    struct flow *f1 = flow_create(t1, &k, 42, 42);
    struct flow *f2 = flow_create(t2, &kr, 42, 99);
    assert_string_equal(f1->uid, f2->uid);
    assert_int_equal(f1->ts_first_ns, 42);
    flow_table_destroy(&t1);
    flow_table_destroy(&t2);
}

static void test_cap_refuse_evict(void **state)
{
    struct ended e = { 0 };
    flow_table_t *t = flow_table_new(2, 8, on_end, &e);
    const struct flow_counters *c = flow_table_counters(t);
    struct flow_key k1 = key_of("10.0.0.1", 1001, "10.0.0.9", 80);
    struct flow_key k2 = key_of("10.0.0.1", 1002, "10.0.0.9", 80);
    struct flow_key k3 = key_of("10.0.0.1", 1003, "10.0.0.9", 80);
    struct flow_key k4 = key_of("10.0.0.1", 1004, "10.0.0.9", 80);
    struct flow *f1 = flow_create(t, &k1, 100 * SEC, 100 * SEC);
    struct flow *f2 = flow_create(t, &k2, 101 * SEC, 101 * SEC);
    assert_non_null(f1);
    assert_non_null(f2);
    assert_int_equal(c->flows_halfopen, 2);
    flow_set_live(t, f1);
    flow_set_live(t, f2);
    assert_int_equal(c->flows_halfopen, 0);
    /* full of live flows, none idle long enough: refused */
    assert_null(flow_create(t, &k3, 102 * SEC, 102 * SEC));
    assert_int_equal(c->flows_refused, 1);
    assert_int_equal(e.n, 0);
    /* f1 is touched, so f2 is the least recently used */
    flow_touch(t, f1, 105 * SEC);
    char uid2[17];
    memcpy(uid2, f2->uid, sizeof(uid2));
    struct flow *f3 =
        flow_create(t, &k3, 101 * SEC + FLOW_EVICT_MIN_IDLE_NS,
                    101 * SEC + FLOW_EVICT_MIN_IDLE_NS);
    assert_non_null(f3);
    assert_int_equal(c->flows_evicted, 1);
    assert_int_equal(c->evicted_idle, 1);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.why[0], FLOW_END_EVICTED);
    assert_string_equal(e.uid[0], uid2);
    assert_null(flow_find(t, &k2));
    assert_non_null(flow_find(t, &k1));
    assert_int_equal(flow_table_size(t), 2);
    assert_int_equal(c->flows_active, 2);

    /* a tombstone is recycled before anything is evicted */
    flow_close(t, f1, 120 * SEC);
    assert_int_equal(c->flows_active, 1);
    assert_ptr_equal(flow_find(t, &k1), f1);
    assert_true(f1->closed);
    struct flow *f4 = flow_create(t, &k4, 120 * SEC, 120 * SEC);
    assert_non_null(f4);
    assert_null(flow_find(t, &k1));
    assert_int_equal(c->flows_evicted, 1);
    assert_int_equal(e.n, 1);
    assert_int_equal(c->flows, 4);
    flow_table_destroy(&t);
}

/* A flood of half-open flows never locks out the next connection, nor
 * pushes out one that carries data; they go first, whatever their age. */
static void test_halfopen_first(void **state)
{
    struct ended e = { 0 };
    flow_table_t *t = flow_table_new(3, 8, on_end, &e);
    const struct flow_counters *c = flow_table_counters(t);
    struct flow_key k[8];
    for (uint16_t i = 0; i < 8; i++)
        k[i] = key_of("10.0.0.1", (uint16_t)(1000 + i), "10.0.0.9", 80);
    struct flow *live = flow_create(t, &k[0], SEC, SEC);
    flow_set_live(t, live);
    assert_non_null(flow_create(t, &k[1], SEC, SEC));
    assert_non_null(flow_create(t, &k[2], SEC, SEC));
    /* full; the oldest half-open flow goes, however young */
    for (uint16_t i = 3; i < 6; i++)
        assert_non_null(flow_create(t, &k[i], SEC, SEC));
    assert_int_equal(c->evicted_halfopen, 3);
    assert_int_equal(c->flows_refused, 0);
    assert_ptr_equal(flow_find(t, &k[0]), live);
    assert_null(flow_find(t, &k[1]));
    assert_null(flow_find(t, &k[3]));
    assert_non_null(flow_find(t, &k[5]));
    /* once every flow is live and busy, a new one is refused */
    flow_set_live(t, flow_find(t, &k[4]));
    flow_set_live(t, flow_find(t, &k[5]));
    assert_null(flow_create(t, &k[6], 2 * SEC, 2 * SEC));
    assert_int_equal(c->flows_refused, 1);
    assert_int_equal(c->flows_halfopen, 0);
    flow_table_destroy(&t);
}

/* Emergency mode: half-open flows go first, then the least recently
 * used live ones, idle or not; the flow being served never. */
static void test_evict_order(void **state)
{
    struct ended e = { 0 };
    flow_table_t *t = flow_table_new(8, 8, on_end, &e);
    const struct flow_counters *c = flow_table_counters(t);
    struct flow_key k[4];
    struct flow *f[4];
    for (uint16_t i = 0; i < 4; i++) {
        k[i] = key_of("10.0.0.1", (uint16_t)(1000 + i), "10.0.0.9", 80);
        f[i] = flow_create(t, &k[i], SEC, SEC);
    }
    flow_set_live(t, f[0]);
    flow_set_live(t, f[1]);
    flow_touch(t, f[1], 30 * SEC);
    assert_true(flow_evict(t, 30 * SEC, f[2]));  /* half-open, not f[2] */
    assert_null(flow_find(t, &k[3]));
    assert_true(flow_evict(t, 30 * SEC, NULL));  /* the other half-open */
    assert_int_equal(c->evicted_halfopen, 2);
    assert_true(flow_evict(t, 30 * SEC, NULL));  /* f[0]: idle 29 s */
    assert_int_equal(c->evicted_idle, 1);
    assert_false(flow_evict(t, 30 * SEC, f[1]));
    assert_true(flow_evict(t, 30 * SEC, NULL));  /* f[1]: busy */
    assert_int_equal(c->evicted_pressure, 1);
    assert_int_equal(c->flows_evicted, 4);
    assert_int_equal(e.n, 4);
    assert_int_equal(flow_table_size(t), 0);
    flow_table_destroy(&t);
}

/* The pool stops growing at its memcap and reuses entries. */
static void test_pool_memcap(void **state)
{
    flow_table_t *t = flow_table_new(100000, 4096, NULL, NULL);
    const struct flow_counters *c = flow_table_counters(t);
    uint64_t start = c->mem_used;
    uint64_t cap = start + 3 * (256 * (4096 + 128) + 16);
    flow_table_set_memcap(t, cap);
    for (uint32_t i = 0; i < 5000; i++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "10.0.%u.%u", (i >> 8) & 255, i & 255);
        struct flow_key k = key_of(ip, 40000, "10.255.255.255", 80);
        assert_non_null(flow_create(t, &k, i, i));
    }
    assert_true(c->mem_used <= cap);
    assert_true(c->mem_used > start);
    assert_true(flow_table_size(t) <= 3 * 256);
    assert_int_equal(c->flows_refused, 0);
    assert_int_equal(c->evicted_halfopen, 5000 - flow_table_size(t));
    flow_table_destroy(&t);
}

static void test_expire(void **state)
{
    struct ended e = { 0 };
    flow_table_t *t = flow_table_new(64, 8, on_end, &e);
    const struct flow_counters *c = flow_table_counters(t);
    struct flow_key ka = key_of("10.0.0.1", 1, "10.0.0.9", 80);
    struct flow_key kb = key_of("10.0.0.1", 2, "10.0.0.9", 80);
    struct flow_key kc = key_of("10.0.0.1", 3, "10.0.0.9", 80);
    struct flow *a = flow_create(t, &ka, 10 * SEC, 10 * SEC);
    struct flow *b = flow_create(t, &kb, 11 * SEC, 11 * SEC);
    struct flow *cl = flow_create(t, &kc, 12 * SEC, 12 * SEC);
    flow_close(t, cl, 12 * SEC);
    flow_expire(t, 12 * SEC + FLOW_LINGER_NS - 1, 30 * SEC);
    assert_non_null(flow_find(t, &kc));      /* linger... */
    flow_expire(t, 12 * SEC + FLOW_LINGER_NS, 30 * SEC);
    assert_null(flow_find(t, &kc));          /* ...is over */
    flow_touch(t, a, 20 * SEC);
    flow_expire(t, 40 * SEC, 30 * SEC);      /* nothing idle 30 s yet */
    assert_int_equal(e.n, 0);
    flow_expire(t, 41 * SEC, 30 * SEC);      /* b: idle since 11 s */
    assert_int_equal(e.n, 1);
    assert_int_equal(e.why[0], FLOW_END_IDLE);
    assert_string_equal(e.uid[0], b->uid);
    assert_non_null(flow_find(t, &ka));
    flow_expire(t, 50 * SEC, 30 * SEC);
    assert_int_equal(e.n, 2);
    assert_int_equal(c->flows_active, 0);
    assert_int_equal(flow_table_size(t), 0);
    /* huge timeouts do not overflow into expiring everything */
    struct flow *d = flow_create(t, &ka, 60 * SEC, 60 * SEC);
    assert_non_null(d);
    flow_expire(t, 61 * SEC, UINT64_MAX);
    assert_int_equal(e.n, 2);
    flow_end_all(t, FLOW_END_SIGNAL);
    assert_int_equal(e.why[2], FLOW_END_SIGNAL);
    flow_table_destroy(&t);
}

/* Entries are recycled: many flows through a small table. */
static void test_pool_reuse(void **state)
{
    flow_table_t *t = flow_table_new(1000, 256, NULL, NULL);
    for (uint32_t i = 0; i < 20000; i++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "10.%u.%u.%u", (i >> 16) & 255,
                 (i >> 8) & 255, i & 255);
        struct flow_key k = key_of(ip, 40000, "10.255.255.255", 80);
        struct flow *f = flow_create(t, &k, i, i);
        assert_non_null(f);
        memset(f->data, 0xab, 256);
        if (i % 3)
            flow_remove(t, f);
        else
            flow_close(t, f, i);
        flow_expire(t, i, 100);
    }
    assert_true(flow_table_size(t) <= 1000);
    assert_int_equal(flow_table_counters(t)->flows, 20000);
    assert_int_equal(flow_table_counters(t)->flows_refused, 0);
    flow_table_destroy(&t);
}

/* ---- connections ---------------------------------------------------- */

struct rmsg {
    enum msg_kind kind;
    char uid[17];
    uint32_t idx;
    char event[8], reason[16], method[16], src_ip[48];
    uint32_t status, flags, gaps, requests, responses;
    uint16_t src_port, dst_port;
    uint64_t pkts[2], bytes[2];
};

struct sink {
    struct rmsg m[64];
    int n;
    int responding; /* "responding" events, counted apart */
};

static void copy_bytes(char *dst, size_t size, struct bytes b)
{
    size_t n = b.n < size - 1 ? b.n : size - 1;
    if (n)
        memcpy(dst, b.p, n);
    dst[n] = '\0';
}

static void on_emit(void *ctx, const struct http_msg *m)
{
    struct sink *s = ctx;
    if (m->kind == MSG_CONN && bytes_eq(m->event, "responding")) {
        s->responding++;
        return;
    }
    assert_true(s->n < 64);
    struct rmsg *r = &s->m[s->n++];
    memset(r, 0, sizeof(*r));
    r->kind = m->kind;
    copy_bytes(r->uid, sizeof(r->uid), m->uid);
    r->idx = m->idx;
    copy_bytes(r->event, sizeof(r->event), m->event);
    copy_bytes(r->reason, sizeof(r->reason), m->reason_text);
    copy_bytes(r->method, sizeof(r->method), m->method);
    copy_bytes(r->src_ip, sizeof(r->src_ip), m->addr.src_ip);
    r->status = m->status;
    r->flags = m->flags;
    r->gaps = m->gaps;
    r->requests = m->requests;
    r->responses = m->responses;
    r->src_port = m->addr.src_port;
    r->dst_port = m->addr.dst_port;
    memcpy(r->pkts, m->pkts, sizeof(r->pkts));
    memcpy(r->bytes, m->bytes_seen, sizeof(r->bytes));
}

static conn_tracker_t *tracker(struct sink *s, uint32_t max_flows)
{
    struct conn_config cfg = {
        .max_flows = max_flows,
        .max_buffered = 1 << 20,
        .memcap = 1 << 26,
        .idle_timeout_ns = 120 * SEC,
        .http = { .max_header_bytes = 65536, .max_headers = 128,
                  .body_max = 1 << 20 },
    };
    conn_tracker_t *t = conn_tracker_new(&cfg, on_emit, s);
    assert_non_null(t);
    return t;
}

static const char REQ[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
static const char RESP[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";

#define C "10.0.0.1"
#define S "10.0.0.2"
#define CP 40000
#define SP 80

/* One whole exchange with handshake and both FINs, starting at time t.
 * Client ISN ci, server ISN si. */
static void exchange(conn_tracker_t *t, uint32_t ci, uint32_t si,
                     uint64_t ts, uint16_t cport)
{
    struct packet_info p;
    uint32_t rq = (uint32_t)strlen(REQ), rs = (uint32_t)strlen(RESP);
    p = mkpkt(C, cport, S, SP, TCP_SYN, ci, 0, NULL);
    conn_packet(t, &p, 0, 0, ts, ts);
    p = mkpkt(S, SP, C, cport, TCP_SYN | TCP_ACK, si, ci + 1, NULL);
    conn_packet(t, &p, 0, 0, ts + 1, ts + 1);
    p = mkpkt(C, cport, S, SP, TCP_ACK | TCP_PSH, ci + 1, si + 1, REQ);
    conn_packet(t, &p, 0, 0, ts + 2, ts + 2);
    p = mkpkt(S, SP, C, cport, TCP_ACK | TCP_PSH, si + 1, ci + 1 + rq, RESP);
    conn_packet(t, &p, 0, 0, ts + 3, ts + 3);
    p = mkpkt(C, cport, S, SP, TCP_ACK | TCP_FIN, ci + 1 + rq, si + 1 + rs,
              NULL);
    conn_packet(t, &p, 0, 0, ts + 4, ts + 4);
    p = mkpkt(S, SP, C, cport, TCP_ACK | TCP_FIN, si + 1 + rs, ci + 2 + rq,
              NULL);
    conn_packet(t, &p, 0, 0, ts + 5, ts + 5);
}

static void test_conn_exchange(void **state)
{
    for (size_t i = 0; i < N_ISNS; i++) {
        struct sink s = { .n = 0 };
        conn_tracker_t *t = tracker(&s, 16);
        exchange(t, isns[i], isns[N_ISNS - 1 - i], 1000, CP);
        assert_int_equal(s.n, 4);
        assert_int_equal(s.m[0].kind, MSG_CONN);
        assert_string_equal(s.m[0].event, "open");
        assert_int_equal(s.m[1].kind, MSG_REQ);
        assert_string_equal(s.m[1].method, "GET");
        assert_int_equal(s.m[1].idx, 0);
        assert_int_equal(s.m[2].kind, MSG_RESP);
        assert_int_equal(s.m[2].status, 200);
        assert_int_equal(s.m[2].idx, 0);
        assert_int_equal(s.m[3].kind, MSG_CONN);
        assert_string_equal(s.m[3].event, "close");
        assert_string_equal(s.m[3].reason, "fin");
        assert_int_equal(s.m[3].requests, 1);
        assert_int_equal(s.m[3].responses, 1);
        assert_int_equal(s.m[3].gaps, 0);
        assert_int_equal(s.m[3].pkts[0], 3);
        assert_int_equal(s.m[3].pkts[1], 3);
        assert_int_equal(s.m[3].bytes[0], strlen(REQ));
        assert_int_equal(s.m[3].bytes[1], strlen(RESP));
        for (int j = 0; j < 4; j++) {
            assert_string_equal(s.m[j].uid, s.m[0].uid);
            assert_string_equal(s.m[j].src_ip, C);
            assert_int_equal(s.m[j].src_port, CP);
            assert_int_equal(s.m[j].dst_port, SP);
            assert_int_equal(s.m[j].flags & MSG_F_MIDSTREAM, 0);
        }
        struct conn_stats cs;
        conn_tracker_stats(t, &cs);
        assert_int_equal(cs.conn->requests, 1);
        assert_int_equal(cs.conn->responses, 1);
        assert_int_equal(cs.conn->conn_closed, 1);
        assert_int_equal(cs.flow->flows_active, 0);
        assert_int_equal(cs.stream->mem_used, 0);
        conn_tracker_destroy(&t);
    }
}

static void test_conn_port_reuse(void **state)
{
    struct sink s = { .n = 0 };
    conn_tracker_t *t = tracker(&s, 16);
    struct conn_stats cs;
    conn_tracker_stats(t, &cs);
    exchange(t, 0xfffffff6u, 0xffffffffu, 1000, CP);
    assert_int_equal(s.n, 4);
    /* the last ACK and a retransmitted FIN land on the tombstone */
    struct packet_info p = mkpkt(C, CP, S, SP, TCP_ACK, 5, 5, NULL);
    conn_packet(t, &p, 0, 0, 1010, 1010);
    p = mkpkt(S, SP, C, CP, TCP_ACK | TCP_FIN, 5, 5, NULL);
    conn_packet(t, &p, 0, 0, 1011, 1011);
    assert_int_equal(s.n, 4);
    assert_int_equal(cs.conn->pkts_after_close, 2);
    assert_int_equal(cs.flow->flows, 1);
    /* same 5-tuple, new SYN: a new connection with its own uid */
    exchange(t, 1, 0, 2000, CP);
    assert_int_equal(s.n, 8);
    assert_string_equal(s.m[4].event, "open");
    assert_string_equal(s.m[7].reason, "fin");
    assert_string_equal(s.m[7].uid, s.m[4].uid);
    assert_string_not_equal(s.m[4].uid, s.m[0].uid);
    assert_int_equal(cs.flow->flows, 2);

    /* a replay gives the same uids */
    struct sink s2 = { .n = 0 };
    conn_tracker_t *t2 = tracker(&s2, 16);
    exchange(t2, 0xfffffff6u, 0xffffffffu, 1000, CP);
    exchange(t2, 1, 0, 2000, CP);
    assert_string_equal(s2.m[0].uid, s.m[0].uid);
    assert_string_equal(s2.m[4].uid, s.m[4].uid);
    conn_tracker_destroy(&t2);
    conn_tracker_destroy(&t);
}

static void test_conn_midstream(void **state)
{
    for (size_t i = 0; i < N_ISNS; i++) {
        struct sink s = { .n = 0 };
        conn_tracker_t *t = tracker(&s, 16);
        uint32_t cs = isns[i], ss = isns[(i + 1) % N_ISNS];
        /* a pure ACK starts nothing */
        struct packet_info p = mkpkt(C, 8080, S, 9999, TCP_ACK, cs, ss, NULL);
        conn_packet(t, &p, 0, 0, 10, 10);
        assert_int_equal(s.n, 0);
        /* the response comes first, from the higher port: still the
         * server, because it looks like a response */
        p = mkpkt(S, 9999, C, 8080, TCP_ACK, ss, cs, RESP);
        conn_packet(t, &p, 0, 0, 11, 11);
        p = mkpkt(C, 8080, S, 9999, TCP_ACK, cs, ss + strlen(RESP), REQ);
        conn_packet(t, &p, 0, 0, 12, 12);
        conn_close_all(t, FLOW_END_EOF);
        assert_true(s.n >= 3);
        assert_string_equal(s.m[0].event, "open");
        assert_string_equal(s.m[0].src_ip, C);
        assert_int_equal(s.m[0].src_port, 8080);
        assert_int_equal(s.m[0].dst_port, 9999);
        int req = 0, resp = 0;
        for (int j = 1; j < s.n - 1; j++) {
            assert_true(s.m[j].flags & MSG_F_MIDSTREAM);
            req += s.m[j].kind == MSG_REQ;
            resp += s.m[j].kind == MSG_RESP;
        }
        assert_int_equal(req, 1);
        assert_int_equal(resp, 1);
        assert_string_equal(s.m[s.n - 1].reason, "eof");
        conn_tracker_destroy(&t);
    }
}

static void test_conn_rst_idle_eof(void **state)
{
    struct sink s = { .n = 0 };
    conn_tracker_t *t = tracker(&s, 16);
    struct conn_stats cs;
    conn_tracker_stats(t, &cs);
    /* RST */
    struct packet_info p = mkpkt(C, 1111, S, SP, TCP_SYN, 0xffffffffu, 0,
                                 NULL);
    conn_packet(t, &p, 0, 0, 1 * SEC, 1 * SEC);
    p = mkpkt(S, SP, C, 1111, TCP_RST | TCP_ACK, 0, 0, NULL);
    conn_packet(t, &p, 0, 0, 2 * SEC, 2 * SEC);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.m[1].reason, "rst");
    /* a RST alone starts nothing */
    p = mkpkt(C, 2222, S, SP, TCP_RST, 7, 0, NULL);
    conn_packet(t, &p, 0, 0, 3 * SEC, 3 * SEC);
    assert_int_equal(s.n, 2);
    assert_int_equal(cs.conn->pkts_no_flow, 1);
    /* idle: a request with no answer, then 120 s of silence */
    p = mkpkt(C, 3333, S, SP, TCP_SYN, 1, 0, NULL);
    conn_packet(t, &p, 0, 0, 4 * SEC, 4 * SEC);
    p = mkpkt(C, 3333, S, SP, TCP_ACK, 2, 0, "GET / HTTP/1.1\r\n");
    conn_packet(t, &p, 0, 0, 5 * SEC, 5 * SEC);
    conn_expire(t, 100 * SEC);
    assert_int_equal(s.n, 3);
    conn_expire(t, 125 * SEC);
    assert_true(s.n >= 4);
    assert_string_equal(s.m[s.n - 1].event, "close");
    assert_string_equal(s.m[s.n - 1].reason, "idle");
    /* eof closes what is left */
    int before = s.n;
    p = mkpkt(C, 4444, S, SP, TCP_SYN, 0, 0, NULL);
    conn_packet(t, &p, 0, 0, 130 * SEC, 130 * SEC);
    conn_close_all(t, FLOW_END_SIGNAL);
    assert_int_equal(s.n, before + 2);
    assert_string_equal(s.m[s.n - 1].reason, "signal");
    assert_int_equal(cs.flow->flows_active, 0);
    assert_int_equal(cs.conn->conn_closed, 3);
    conn_tracker_destroy(&t);
}

static void test_conn_cap(void **state)
{
    struct sink s = { .n = 0 };
    conn_tracker_t *t = tracker(&s, 1);
    struct conn_stats cs;
    conn_tracker_stats(t, &cs);
    /* a SYN that goes nowhere gives way to the next connection */
    struct packet_info p = mkpkt(C, 1, S, SP, TCP_SYN, 0, 0, NULL);
    conn_packet(t, &p, 0, 0, SEC, SEC);
    p = mkpkt(C, 2, S, SP, TCP_SYN, 0, 0, NULL);
    conn_packet(t, &p, 0, 0, 2 * SEC, 2 * SEC);
    assert_int_equal(cs.flow->flows_refused, 0);
    assert_int_equal(cs.flow->evicted_halfopen, 1);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.m[1].reason, "evicted");
    assert_string_equal(s.m[2].event, "open");
    /* it carries a request: live, so the next one is refused ... */
    p = mkpkt(C, 2, S, SP, TCP_ACK | TCP_PSH, 1, 0, REQ);
    conn_packet(t, &p, 0, 0, 2 * SEC, 2 * SEC);
    p = mkpkt(C, 3, S, SP, TCP_SYN, 0, 0, NULL);
    conn_packet(t, &p, 0, 0, 3 * SEC, 3 * SEC);
    assert_int_equal(cs.flow->flows_refused, 1);
    /* ... until it has been idle FLOW_EVICT_MIN_IDLE_NS */
    p = mkpkt(C, 3, S, SP, TCP_SYN, 0, 0, NULL);
    conn_packet(t, &p, 0, 0, 20 * SEC, 20 * SEC);
    assert_int_equal(cs.flow->flows_evicted, 2);
    assert_int_equal(cs.flow->evicted_idle, 1);
    assert_string_equal(s.m[s.n - 2].reason, "evicted");
    assert_string_equal(s.m[s.n - 1].event, "open");
    conn_tracker_destroy(&t);
}

/* 300,000 spoofed SYNs, then 50 exchanges, through a tracker whose
 * memcap holds a fraction of them: every exchange is logged, nothing is
 * refused, and flows, parsers and buffers stay under the memcap. */
static void test_conn_syn_flood(void **state)
{
    struct sink s = { .n = 0 };
    struct conn_config cfg = {
        .max_flows = 262144,
        .max_buffered = 1 << 20,
        .memcap = 16u << 20,
        .idle_timeout_ns = 120 * SEC,
        .http = { .max_header_bytes = 65536, .max_headers = 128,
                  .body_max = 1 << 20 },
    };
    conn_tracker_t *t = conn_tracker_new(&cfg, on_emit, &s);
    struct conn_stats cs;
    uint64_t peak = 0;
    assert_non_null(t);
    conn_tracker_stats(t, &cs);
    for (uint32_t i = 0; i < 300000; i++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "10.%u.%u.%u", (i >> 16) & 255,
                 (i >> 8) & 255, i & 255);
        struct packet_info p = mkpkt(ip, (uint16_t)(1024 + i % 60000), S,
                                     SP, TCP_SYN, i * 7919u, 0, NULL);
        uint64_t ts = SEC + i * 1000ull;
        conn_packet(t, &p, 0, 0, ts, ts);
        s.n = 0; /* the open and evicted events */
        uint64_t mem = cs.flow->mem_used + cs.http->mem_used +
                       cs.stream->mem_used;
        if (mem > peak)
            peak = mem;
    }
    assert_int_equal(cs.flow->flows_refused, 0);
    assert_true(cs.flow->evicted_halfopen > 200000);
    uint64_t ts = 2 * SEC;
    for (uint16_t i = 0; i < 50; i++) {
        s.n = 0;
        exchange(t, 1000u * i, 5000u * i, ts + i * 10, (uint16_t)(2000 + i));
        /* each new flow also pushes out a half-open one ("evicted") */
        int req = 0, ok = 0, fin = 0;
        for (int j = 0; j < s.n; j++) {
            req += s.m[j].kind == MSG_REQ;
            ok += s.m[j].kind == MSG_RESP && s.m[j].status == 200;
            fin += s.m[j].kind == MSG_CONN && !strcmp(s.m[j].reason, "fin");
        }
        assert_int_equal(req, 1);
        assert_int_equal(ok, 1);
        assert_int_equal(fin, 1);
        uint64_t mem = cs.flow->mem_used + cs.http->mem_used +
                       cs.stream->mem_used;
        if (mem > peak)
            peak = mem;
    }
    assert_int_equal(cs.conn->requests, 50);
    assert_int_equal(cs.conn->responses, 50);
    assert_int_equal(cs.flow->flows_refused, 0);
    assert_true(peak <= cfg.memcap);
    conn_tracker_destroy(&t);
}

/* Out-of-order and lost segments through the whole path: the response's
 * body arrives before its head, then a hole the client acknowledges. */
static void test_conn_reorder_gap(void **state)
{
    for (size_t i = 0; i < N_ISNS; i++) {
        struct sink s = { .n = 0 };
        conn_tracker_t *t = tracker(&s, 16);
        uint32_t ci = isns[i], si = isns[(i + 2) % N_ISNS];
        uint32_t rq = (uint32_t)strlen(REQ);
        struct packet_info p = mkpkt(C, CP, S, SP, TCP_SYN, ci, 0, NULL);
        conn_packet(t, &p, 0, 0, 1, 1);
        p = mkpkt(S, SP, C, CP, TCP_SYN | TCP_ACK, si, ci + 1, NULL);
        conn_packet(t, &p, 0, 0, 2, 2);
        p = mkpkt(C, CP, S, SP, TCP_ACK, ci + 1, si + 1, REQ);
        conn_packet(t, &p, 0, 0, 3, 3);
        /* "HTTP/1.1 200 OK\r\n" | "Content-Length: 2\r\n\r\n" | "hi" */
        const char *r1 = "HTTP/1.1 200 OK\r\n";
        const char *r2 = "Content-Length: 2\r\n\r\n";
        uint32_t n1 = (uint32_t)strlen(r1), n2 = (uint32_t)strlen(r2);
        p = mkpkt(S, SP, C, CP, TCP_ACK, si + 1 + n1, ci + 1 + rq, r2);
        conn_packet(t, &p, 0, 0, 4, 4);
        p = mkpkt(S, SP, C, CP, TCP_ACK, si + 1, ci + 1 + rq, r1);
        conn_packet(t, &p, 0, 0, 5, 5);
        p = mkpkt(S, SP, C, CP, TCP_ACK, si + 1 + n1 + n2, ci + 1 + rq, "hi");
        conn_packet(t, &p, 0, 0, 6, 6);
        assert_int_equal(s.n, 3);
        assert_int_equal(s.m[2].kind, MSG_RESP);
        assert_int_equal(s.m[2].flags & (MSG_F_GAP | MSG_F_INCOMPLETE), 0);
        /* second request: its first 4 bytes are lost, the server ACKs */
        p = mkpkt(C, CP, S, SP, TCP_ACK, ci + 1 + rq + 4, si + 1, REQ + 4);
        conn_packet(t, &p, 0, 0, 7, 7);
        p = mkpkt(S, SP, C, CP, TCP_ACK, si + 1 + n1 + n2 + 2,
                  ci + 1 + 2 * rq, NULL);
        conn_packet(t, &p, 0, 0, 8, 8);
        conn_close_all(t, FLOW_END_EOF);
        struct rmsg *cl = &s.m[s.n - 1];
        assert_string_equal(cl->reason, "eof");
        assert_int_equal(cl->gaps, 1);
        struct conn_stats cs;
        conn_tracker_stats(t, &cs);
        assert_int_equal(cs.stream->gap_bytes, 4);
        assert_int_equal(cs.stream->out_of_order, 2);
        assert_int_equal(cs.stream->mem_used, 0);
        conn_tracker_destroy(&t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_canonical),
        cmocka_unit_test(test_both_directions),
        cmocka_unit_test(test_uid),
        cmocka_unit_test(test_cap_refuse_evict),
        cmocka_unit_test(test_halfopen_first),
        cmocka_unit_test(test_evict_order),
        cmocka_unit_test(test_pool_memcap),
        cmocka_unit_test(test_expire),
        cmocka_unit_test(test_pool_reuse),
        cmocka_unit_test(test_conn_exchange),
        cmocka_unit_test(test_conn_port_reuse),
        cmocka_unit_test(test_conn_midstream),
        cmocka_unit_test(test_conn_rst_idle_eof),
        cmocka_unit_test(test_conn_cap),
        cmocka_unit_test(test_conn_syn_flood),
        cmocka_unit_test(test_conn_reorder_gap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
