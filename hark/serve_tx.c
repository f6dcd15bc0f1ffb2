/* serve_tx.c - GET /api/record (serve_tx.h).
 *
 * Records borrow the source's memory only while they are visited, and a
 * proof is a read of its own, so each side of the transaction is written
 * into its own JSON buffer as it is visited and finished with its chain
 * proof once the reads are done.
 */
#include "serve_tx.h"
#include "clock.h"
#include "policy.h"
#include "record_json.h"
#include "serve_body.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* What each flag means, in enum msg_flag's order. */
static const char *const flag_words[MSG_FLAG_COUNT] = {
    "the body was sent in chunks (Transfer-Encoding: chunked); it is "
    "shown joined",
    "the body is longer than the policy keeps: the captured bytes are "
    "its beginning",
    "the message ended before it was complete (the connection or the "
    "capture ended)",
    "bytes of the message are missing from the capture",
    "the body ended when the connection closed (no length was given)",
    "the connection switched protocols (CONNECT or 101): HTTP stops "
    "after this message",
    "the message's framing was invalid; it was read as well as it could "
    "be",
    "the connection was picked up without its handshake (the capture "
    "began in the middle of it)",
    "the message had more headers than hark keeps",
    "overlapping copies of its bytes (TCP segments or IP fragments) "
    "differed; resolved as the server would",
    "TCP allows another request as the one this response answers",
    "the response began before the request was complete",
    "servers may read the path in ways that route it differently",
};

static const struct {
    const char *name, *words;
} outcome_words[] = {
    { OUTCOME_OK, "the response came in time" },
    { OUTCOME_TIMEOUT, "no response came in time: the record's time is "
                       "when the wait ended" },
    { OUTCOME_CLOSED, "the connection ended before a response came" },
    { OUTCOME_EOF, "the capture (or hark) ended before a response came" },
    { OUTCOME_LATE, "a response that completed after its wait had timed "
                    "out" },
    { OUTCOME_ORPHAN, "a response whose request was never seen" },
    { OUTCOME_LOST, "the server answered, but the capture lost the "
                    "response" },
};

struct side {
    struct serve_key key;
    uint64_t seq;                 /* its chain entry, when known */
    struct json_out j;            /* the side's object, still open */
    int kind;
    bool timeout;                 /* a timeout: a late one may follow */
};

/* A record of the transaction found among the summaries, read whole
 * once the search is over. */
struct partner {
    struct serve_key key;
    uint64_t seq;
    int kind;
    bool timeout;
};

struct tx {
    const struct serve_key *focus;
    struct side sides[1 + SERVE_TX_RESPONSES_MAX];
    size_t n;
    struct partner found[1 + SERVE_TX_RESPONSES_MAX];
    size_t n_found;
    bool have_focus, more;        /* more: responses past the max */
    /* the transaction, from the first record seen */
    char uid[UID_LEN + 1];
    uint32_t idx;
    uint64_t req_ts;
    bool orphan;
    uint64_t scanned;
};

static void key_str(struct json_out *j, const char *k, const char *v)
{
    json_out_key(j, k);
    json_out_cstr(j, v);
}

static void key_u64(struct json_out *j, const char *k, uint64_t v)
{
    json_out_key(j, k);
    json_out_u64(j, v);
}

static void key_bool(struct json_out *j, const char *k, bool v)
{
    json_out_key(j, k);
    json_out_bool(j, v);
}

static void timings(struct json_out *j, const struct audit_record *r)
{
    char ts[40];
    json_out_key(j, "timings");
    json_out_obj(j);
    if (r->kind == RECORD_REQUEST) {
        key_str(j, "request_start",
                clock_format_rfc3339(r->ts_ns, ts, sizeof(ts)));
    } else {
        if (r->req_ts_ns)
            key_str(j, "request_start",
                    clock_format_rfc3339(r->req_ts_ns, ts, sizeof(ts)));
        key_str(j, record_answered(r) ? "response_start" : "wait_end",
                clock_format_rfc3339(r->ts_ns, ts, sizeof(ts)));
        if (record_answered(r)) {
            json_out_key(j, "latency_ms");
            json_out_ms(j, r->latency_ns);
        }
    }
    json_out_obj_end(j);
}

static void outcome(struct json_out *j, const struct audit_record *r)
{
    if (r->kind != RECORD_RESPONSE)
        return;
    json_out_key(j, "outcome");
    json_out_obj(j);
    json_out_key(j, "name");
    json_out_bytes(j, r->outcome);
    const char *w = "not an outcome hark writes";
    for (size_t i = 0; i < sizeof(outcome_words) / sizeof(outcome_words[0]);
         i++)
        if (bytes_eq(r->outcome, outcome_words[i].name))
            w = outcome_words[i].words;
    key_str(j, "meaning", w);
    json_out_obj_end(j);
}

/* The view: what the page shows beside the record. */
static void view(struct json_out *j, const struct audit_record *r)
{
    json_out_key(j, "view");
    json_out_obj(j);
    json_out_key(j, "body");
    serve_body_json(j, r);
    json_out_key(j, "redacted");
    json_out_arr(j);
    for (uint32_t i = 0; i < r->n_headers; i++)
        if (bytes_eq(r->headers[i].value, POLICY_REDACTED))
            json_out_u64(j, i);
    json_out_arr_end(j);
    json_out_key(j, "flags");
    json_out_arr(j);
    for (unsigned i = 0; i < MSG_FLAG_COUNT; i++) {
        if (!(r->flags & (1u << i)))
            continue;
        json_out_obj(j);
        key_str(j, "name", msg_flag_names[i]);
        key_str(j, "meaning", flag_words[i]);
        json_out_obj_end(j);
    }
    json_out_arr_end(j);
    outcome(j, r);
    timings(j, r);
    json_out_obj_end(j);
}

static void add_side(struct tx *t, const struct audit_record *r,
                     const struct serve_key *k, uint64_t seq)
{
    struct side *s = &t->sides[t->n++];
    char hex[SERVE_KEY_HEX];
    s->key = *k;
    s->seq = seq;
    s->kind = (int)r->kind;
    s->timeout = bytes_eq(r->outcome, OUTCOME_TIMEOUT);
    json_out_init(&s->j);
    json_out_obj(&s->j);
    serve_key_hex(k, hex);
    key_str(&s->j, "key", hex);
    json_out_key(&s->j, "record");
    record_json(&s->j, r);
    if (r->kind != RECORD_OUTAGE) /* an outage's record says it all */
        view(&s->j, r);
}

static bool same_key(const struct serve_key *a, const struct serve_key *b)
{
    return a->n == b->n && !memcmp(a->b, b->b, a->n);
}

static bool have(const struct tx *t, const struct serve_key *k)
{
    for (size_t i = 0; i < t->n_found; i++)
        if (same_key(&t->found[i].key, k))
            return true;
    return false;
}

static int visit_focus(void *ctx, const struct audit_record *r,
                       const struct serve_key *k, uint64_t seq)
{
    struct tx *t = ctx;
    if (!same_key(k, t->focus))
        return 1; /* another record of the same time */
    size_t n = r->uid.n < UID_LEN ? r->uid.n : UID_LEN;
    memcpy(t->uid, r->uid.p, n);
    t->uid[n] = '\0';
    t->idx = r->idx;
    t->req_ts = r->kind == RECORD_REQUEST ? r->ts_ns : r->req_ts_ns;
    t->orphan = r->kind == RECORD_RESPONSE && bytes_eq(r->outcome,
                                                       OUTCOME_ORPHAN);
    t->have_focus = true;
    t->found[t->n_found++] = (struct partner){
        *k, seq, (int)r->kind, bytes_eq(r->outcome, OUTCOME_TIMEOUT) };
    return 0;
}

/* A record read whole, after the search. */
static int visit_whole(void *ctx, const struct audit_record *r,
                       const struct serve_key *k, uint64_t seq)
{
    struct tx *t = ctx;
    add_side(t, r, k, seq);
    return 0;
}

/* Whether the search can stop: the request and a response that is not
 * a timeout are in (a late response only ever follows a timeout). */
static bool settled(const struct tx *t)
{
    bool req = false, resp = false;
    for (size_t i = 0; i < t->n_found; i++) {
        req |= t->found[i].kind == RECORD_REQUEST;
        resp |= t->found[i].kind == RECORD_RESPONSE && !t->found[i].timeout;
    }
    return req && resp;
}

/* The other records of the transaction: same uid and idx. */
static int visit_partner(void *ctx, const struct audit_record *r,
                         const struct serve_key *k, uint64_t seq)
{
    struct tx *t = ctx;
    if (++t->scanned > SERVE_TX_SCAN_MAX)
        return 0;
    if (r->idx != t->idx || !bytes_eq(r->uid, t->uid) || have(t, k) ||
        (r->kind == RECORD_RESPONSE && bytes_eq(r->outcome, OUTCOME_ORPHAN)))
        return 1;
    if (t->n_found == sizeof(t->found) / sizeof(t->found[0])) {
        t->more = true;
        return 0;
    }
    t->found[t->n_found++] = (struct partner){
        *k, seq, (int)r->kind, bytes_eq(r->outcome, OUTCOME_TIMEOUT) };
    return settled(t) ? 0 : 1;
}

static void chain(struct json_out *j, serve_source_t *src,
                  const struct serve_key *k, uint64_t seq)
{
    struct store_proof pr;
    int rc = serve_source_proof(src, k, seq, &pr);
    char hex[2 * STORE_HASH_BYTES + 1];
    json_out_key(j, "chain");
    json_out_obj(j);
    key_bool(j, "available", rc == 0);
    if (rc < 0) {
        key_str(j, "why", "the chain could not be read");
        json_out_obj_end(j);
        return;
    }
    key_u64(j, "seq", pr.seq);
    key_u64(j, "last_seq", pr.last_seq);
    key_bool(j, "verifies", pr.verifies);
    if (!pr.verifies)
        key_str(j, "why", pr.why);
    if (pr.seq) {
        for (int i = 0; i < STORE_HASH_BYTES; i++)
            snprintf(hex + 2 * i, 3, "%02x", pr.hash[i]);
        key_str(j, "hash", hex);
    }
    json_out_key(j, "checkpoint");
    if (pr.cp_seq) {
        json_out_obj(j);
        key_u64(j, "seq", pr.cp_seq);
        key_bool(j, "matches", pr.cp_matches);
        key_bool(j, "signed", pr.cp_signed);
        key_bool(j, "final", pr.cp_final);
        json_out_obj_end(j);
    } else {
        json_out_json(j, "null", 4);
    }
    json_out_obj_end(j);
}

static void free_sides(struct tx *t)
{
    for (size_t i = 0; i < t->n; i++)
        json_out_free(&t->sides[i].j);
}

/* Finishes each side with its chain proof and writes the transaction. */
static void write_tx(struct tx *t, serve_source_t *src, struct json_out *j)
{
    char hex[SERVE_KEY_HEX];
    serve_key_hex(t->focus, hex);
    json_out_obj(j);
    key_str(j, "focus", hex);
    key_bool(j, "live", serve_source_live(src));
    bool any = false, outage = false;
    for (size_t i = 0; i < t->n; i++) {
        struct side *s = &t->sides[i];
        chain(&s->j, src, &s->key, s->seq);
        json_out_obj_end(&s->j);
        if (s->j.failed)
            j->failed = true;
    }
    json_out_key(j, "outage");
    for (size_t i = 0; i < t->n; i++)
        if (t->sides[i].kind == RECORD_OUTAGE && !outage) {
            json_out_json(j, t->sides[i].j.p, t->sides[i].j.len);
            outage = true;
        }
    if (!outage)
        json_out_json(j, "null", 4);
    json_out_key(j, "request");
    for (size_t i = 0; i < t->n; i++) {
        struct side *s = &t->sides[i];
        if (s->kind == RECORD_REQUEST && !any) {
            json_out_json(j, s->j.p, s->j.len);
            any = true;
        }
    }
    if (!any)
        json_out_json(j, "null", 4);
    json_out_key(j, "responses");
    json_out_arr(j);
    for (size_t i = 0; i < t->n; i++)
        if (t->sides[i].kind == RECORD_RESPONSE)
            json_out_json(j, t->sides[i].j.p, t->sides[i].j.len);
    json_out_arr_end(j);
    key_bool(j, "complete", !t->more && t->scanned <= SERVE_TX_SCAN_MAX);
    json_out_obj_end(j);
}

void serve_tx(serve_source_t *s, const struct serve_params *p,
              struct serve_reply *out)
{
    struct tx t = { .focus = &p->key };
    char err[512];
    if (!(p->given & SP_KEY)) {
        serve_reply_error(out, 400, "key: the record to show is missing");
        return;
    }
    struct serve_scan one = { .since_ns = serve_key_ts(&p->key),
                              .until_ns = serve_key_ts(&p->key) + 1,
                              .summaries = true };
    int rc = serve_source_scan(s, &one, visit_focus, &t, err, sizeof(err));
    if (rc == 0 && !t.have_focus) {
        serve_reply_error(out, 404, "no record under this key");
        return;
    }
    /* the request, then its responses in the window after it, among the
     * summaries; then each found record is read whole */
    if (rc == 0 && !t.orphan && t.req_ts) {
        struct serve_scan q = { .since_ns = t.req_ts,
                                .until_ns = t.req_ts + SERVE_TX_WINDOW_NS,
                                .summaries = true };
        rc = serve_source_scan(s, &q, visit_partner, &t, err, sizeof(err));
    }
    for (size_t i = 0; rc >= 0 && i < t.n_found; i++) {
        rc = serve_source_get(s, &t.found[i].key, visit_whole, &t, err,
                              sizeof(err));
        if (rc == 1)
            t.sides[t.n - 1].seq = t.found[i].seq;
    }
    if (rc < 0)
        serve_reply_error(out, 500, err);
    else
        write_tx(&t, s, &out->json);
    free_sides(&t);
}
