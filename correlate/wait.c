/* wait.c - wait verdicts by packet time, and the log steps after them. */
#include "wait.h"

#include "early.h"
#include "pending.h"
#include "policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A config whose policies waits may point at: the first one borrowed,
 * each one a reload brings owned. */
struct generation {
    const struct config *cfg;
    struct config *owned;
    uint64_t waits;               /* entries with one of its policies */
};

struct wait {
    /* [0] the config in force, [1] the one before it (requests routed
     * before dispatch reloaded), then older ones that waits still use */
    struct generation gen[WAIT_MAX_CONFIGS];
    unsigned n_gen;
    pending_t *pending;
    early_t *early;               /* responses that came before their
                                     request */
    struct wait_counters n;
    wait_sink_fn *sink;
    void *sink_ctx;
    frame_reader_t *raw_reader;   /* decodes kept requests */
    frame_reader_t *early_reader; /* decodes held early responses */
    msgpack_sbuffer raw;          /* a message re-packed to be kept */
    msgpack_packer raw_pk;
    struct msg_header scratch[FRAME_MAX_HEADERS];
};

wait_t *wait_new(const struct config *cfg, stats_t *st,
                 const struct wait_counters *counters, wait_sink_fn *sink,
                 void *sink_ctx)
{
    wait_t *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->gen[0].cfg = cfg;
    w->n_gen = 1;
    w->n = *counters;
    w->sink = sink;
    w->sink_ctx = sink_ctx;
    msgpack_sbuffer_init(&w->raw);
    msgpack_packer_init(&w->raw_pk, &w->raw, msgpack_sbuffer_write);
    w->pending = pending_new(cfg->correlate.max_pending, st);
    w->early = early_new(st);
    w->raw_reader = frame_reader_new();
    w->early_reader = frame_reader_new();
    if (!w->pending || !w->early || !w->raw_reader || !w->early_reader)
        wait_destroy(&w);
    return w;
}

void wait_destroy(wait_t **pw)
{
    wait_t *w = pw ? *pw : NULL;
    if (!w)
        return;
    pending_destroy(&w->pending); /* before the policies it points at */
    for (unsigned i = 0; i < w->n_gen; i++)
        config_destroy(&w->gen[i].owned);
    early_destroy(&w->early);
    frame_reader_destroy(&w->raw_reader);
    frame_reader_destroy(&w->early_reader);
    msgpack_sbuffer_destroy(&w->raw);
    free(w);
    *pw = NULL;
}

static bool logs_request_after_wait(const struct config_policy *p)
{
    for (unsigned i = (unsigned)p->wait_step + 1; i < p->n_steps; i++)
        if (p->steps[i].kind == STEP_LOG &&
            p->steps[i].message == STEP_MSG_REQUEST)
            return true;
    return false;
}

static int emit(wait_t *w, const struct audit_record *r)
{
    int rc = w->sink(w->sink_ctx, r);
    if (rc == 0)
        (*w->n.records)++;
    return rc;
}

/* The record of a step after the wait that logs the request: from the
 * request kept at add time. false when there is none to decode. */
static bool request_record(wait_t *w, const struct config_step *step,
                           const pending_entry_t *e,
                           struct audit_record *rec)
{
    size_t len;
    const void *raw = pending_raw(e, &len);
    const msgpack_object *o;
    struct http_msg req;
    if (!raw || frame_unpack(w->raw_reader, raw, len, &o) != 0 ||
        frame_decode_msg(w->raw_reader, o, &req) != 0)
        return false; /* kept at add time whenever this step exists */
    const struct req_summary *sum = pending_summary(e);
    policy_make_record(step, RECORD_REQUEST, sum, &req, NULL, sum->ts_ns,
                       w->scratch, rec);
    return true;
}

/* Runs the steps after the wait for entry e. resp is NULL when none came;
 * ts_ns is then the moment the wait ended. */
static int finish_wait(wait_t *w, const pending_entry_t *e,
                       const struct http_msg *resp, const char *outcome,
                       uint64_t ts_ns)
{
    const struct config_policy *pol = pending_policy(e);
    for (unsigned i = (unsigned)pol->wait_step + 1; i < pol->n_steps; i++) {
        const struct config_step *step = &pol->steps[i];
        if (step->kind != STEP_LOG)
            continue;
        struct audit_record rec;
        if (step->message == STEP_MSG_RESPONSE)
            policy_make_record(step, RECORD_RESPONSE, pending_summary(e),
                               resp, outcome, resp ? resp->ts_ns : ts_ns,
                               w->scratch, &rec);
        else if (!request_record(w, step, e, &rec))
            continue;
        int rc = emit(w, &rec);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The policy whose wait the request is routed to, or NULL when it waits
 * for nothing (no route, no wait, or a route this config cannot run). */
static const struct config_policy *routed_policy(wait_t *w,
                                                 const struct http_msg *m)
{
    if (!m->routed || m->route.next_step < 0)
        return NULL;
    char name[256];
    size_t n = m->route.policy.n < sizeof(name) - 1 ? m->route.policy.n
                                                     : sizeof(name) - 1;
    memcpy(name, m->route.policy.p, n);
    name[n] = '\0';
    /* The config in force, then the one before it: dispatch may have
     * routed the request before it reloaded. */
    for (unsigned g = 0; g < w->n_gen && g < 2; g++) {
        const struct config_policy *pol =
            config_policy_find(w->gen[g].cfg, name);
        if (pol && pol->wait_step == m->route.next_step)
            return pol;
    }
    /* dispatch runs another config than ours */
    (*w->n.policy_mismatch)++;
    return NULL;
}

/* The generation whose config holds policy pol. */
static struct generation *generation_of(wait_t *w,
                                        const struct config_policy *pol)
{
    for (unsigned g = 0; g < w->n_gen; g++) {
        const struct config *c = w->gen[g].cfg;
        if (pol >= c->policies && pol < c->policies + c->n_policies)
            return &w->gen[g];
    }
    return NULL; /* not reached: every policy comes from a generation */
}

/* Frees the generations past the previous one that no wait uses. */
static void retire(wait_t *w)
{
    unsigned k = 2;
    for (unsigned g = 2; g < w->n_gen; g++) {
        if (!w->gen[g].waits)
            config_destroy(&w->gen[g].owned);
        else
            w->gen[k++] = w->gen[g];
    }
    w->n_gen = w->n_gen < k ? w->n_gen : k;
}

/* Forgets entry e and what it held of its config. */
static void forget(wait_t *w, pending_entry_t *e)
{
    if (pending_waits(e)) {
        struct generation *g = generation_of(w, pending_policy(e));
        if (g && g->waits && !--g->waits && g - w->gen >= 2)
            retire(w);
    }
    pending_remove(w->pending, e);
}

int wait_reload(wait_t *w, struct config *cfg)
{
    retire(w);
    if (w->n_gen == WAIT_MAX_CONFIGS) {
        config_destroy(&cfg);
        return -EBUSY;
    }
    memmove(&w->gen[1], &w->gen[0], w->n_gen * sizeof(w->gen[0]));
    w->gen[0] = (struct generation){ cfg, cfg, 0 };
    w->n_gen++;
    retire(w); /* the one before the previous, when no wait uses it */
    return 0;
}

static const struct config_step *wait_step_of(const pending_entry_t *e)
{
    const struct config_policy *pol = pending_policy(e);
    return &pol->steps[pol->wait_step];
}

/* When the wait e ends unless a response with its first byte at first_ns
 * ends it: the timeout after the request's last byte or, when the step
 * waits for the first byte and it came within the timeout, the ceiling
 * of the whole response. Packet time only. */
static uint64_t wait_end(const pending_entry_t *e, uint64_t first_ns)
{
    const struct config_step *s = wait_step_of(e);
    uint64_t req_end = pending_summary(e)->ts_end_ns;
    uint64_t due = req_end + s->timeout_ns;
    if (s->until == WAIT_UNTIL_FIRST_BYTE && first_ns <= due)
        return req_end + s->max_response_ns;
    return due;
}

/* The response to the live wait e began at first_ns: in first_byte mode
 * and in time, the wait moves to the ceiling, so the watermark does not
 * end it while the rest arrives. */
static void responding(wait_t *w, pending_entry_t *e, uint64_t first_ns)
{
    if (!pending_waits(e) || pending_is_tombstone(e) || pending_is_moved(e))
        return;
    uint64_t end = wait_end(e, first_ns);
    if (end != pending_deadline(e))
        pending_move(w->pending, e, end); /* on ENOMEM (counted) the wait
                                             keeps its deadline */
}

static int log_orphan(wait_t *w, const struct http_msg *m)
{
    (*w->n.orphans)++;
    struct req_summary sum;
    memset(&sum, 0, sizeof(sum));
    sum.uid = m->uid;
    sum.idx = m->idx;
    sum.ts_ns = sum.ts_end_ns = m->ts_ns;
    sum.addr = m->addr;
    /* no request, so no policy: as strict as the strictest of the config
     * in force */
    const char *names[POLICY_ORPHAN_REDACT_MAX];
    struct config_step step;
    if (!policy_orphan_step_for(w->gen[0].cfg, names,
                                POLICY_ORPHAN_REDACT_MAX, &step))
        (*w->n.orphan_headers_withheld)++;
    struct audit_record rec;
    policy_make_record(&step, RECORD_RESPONSE, &sum, m, OUTCOME_ORPHAN,
                       m->ts_ns, w->scratch, &rec);
    return emit(w, &rec);
}

/* The verdict on a found entry e for response m, by packet time.
 * *forgotten: e was forgotten before m completed (m is an orphan). */
static int judge_response(wait_t *w, const pending_entry_t *e,
                          const struct http_msg *m, bool *forgotten)
{
    /* Finding e proves nothing about time: it outlives its deadlines
     * while the watermark lags behind another shard, or while it sits
     * behind a later deadline in its FIFO. Only packet times decide. */
    *forgotten = m->ts_end_ns > pending_deadline(e);
    if (!pending_waits(e)) {
        if (!*forgotten)
            (*w->n.not_waited)++;
        return 0;
    }
    if (pending_is_tombstone(e)) {
        if (*forgotten)
            return 0;
        (*w->n.late)++;
        return finish_wait(w, e, m, OUTCOME_LATE, m->ts_ns);
    }
    uint64_t end = wait_end(e, m->ts_ns);
    *forgotten = m->ts_end_ns > end + wait_step_of(e)->timeout_ns;
    if (m->ts_end_ns <= end) {
        (*w->n.pairs)++;
        return finish_wait(w, e, m, OUTCOME_OK, m->ts_ns);
    }
    /* Not yet expired only because the watermark lags: the same verdict
     * as if it had been. */
    (*w->n.timeouts)++;
    int rc = finish_wait(w, e, NULL, OUTCOME_TIMEOUT, end);
    if (rc == 0 && !*forgotten) {
        (*w->n.late)++;
        rc = finish_wait(w, e, m, OUTCOME_LATE, m->ts_ns);
    }
    return rc;
}

/* Response m answers entry e (NULL: no request for it). */
static int answer(wait_t *w, pending_entry_t *e, const struct http_msg *m)
{
    if (!e)
        return log_orphan(w, m);
    bool forgotten;
    int rc = judge_response(w, e, m, &forgotten);
    forget(w, e);
    if (rc == 0 && forgotten)
        rc = log_orphan(w, m);
    return rc;
}

/* A held early response answers e (NULL: an orphan after all); frees it. */
static int answer_held(wait_t *w, pending_entry_t *e, early_item_t *it)
{
    size_t len;
    const void *raw = early_item_raw(it, &len);
    const msgpack_object *o;
    struct http_msg m;
    int rc = 0;
    /* It decoded when it came; a failure here is not possible. */
    if (frame_unpack(w->early_reader, raw, len, &o) == 0 &&
        frame_decode_msg(w->early_reader, o, &m) == 0)
        rc = answer(w, e, &m);
    early_item_free(&it);
    return rc;
}

/* Keeps a copy of item in w->raw. */
static void repack(wait_t *w, const msgpack_object *item)
{
    msgpack_sbuffer_clear(&w->raw);
    msgpack_pack_object(&w->raw_pk, *item);
}

int wait_request(wait_t *w, const struct http_msg *m,
                 const msgpack_object *item)
{
    (*w->n.requests)++;
    const struct config_policy *pol = routed_policy(w, m);
    const void *raw = NULL;
    size_t raw_len = 0;
    if (pol && logs_request_after_wait(pol)) {
        repack(w, item);
        raw = w->raw.data;
        raw_len = w->raw.size;
    }
    pending_entry_t *e = pending_add(w->pending, m, pol, raw, raw_len);
    if (e && pol)
        generation_of(w, pol)->waits++;
    /* Its response began before it ended: the first byte is in time. */
    if (e && (m->flags & MSG_F_EARLY_RESPONSE))
        responding(w, e, m->ts_end_ns);
    early_item_t *held = early_take(w->early, m->uid, m->idx);
    return held ? answer_held(w, e, held) : 0;
}

int wait_response(wait_t *w, const struct http_msg *m,
                  const msgpack_object *item)
{
    (*w->n.responses)++;
    pending_entry_t *e = pending_find(w->pending, m->uid, m->idx);
    if (!e && (m->flags & MSG_F_EARLY_RESPONSE)) {
        /* Its request is still on its way (it was still uploading when
         * this response completed). */
        repack(w, item);
        if (early_hold(w->early, m->uid, m->idx, w->raw.data,
                       w->raw.size) == 0)
            return 0;
    }
    return answer(w, e, m);
}

/* Ends the live wait e at ts_ns because its connection closed (ended:
 * the capture or hark stopped) or its response was lost. */
static int end_wait(wait_t *w, const pending_entry_t *e, uint64_t ts_ns,
                    const char *outcome, uint64_t *counter)
{
    if (ts_ns > pending_deadline(e)) {
        (*w->n.timeouts)++;
        return finish_wait(w, e, NULL, OUTCOME_TIMEOUT, pending_deadline(e));
    }
    (*counter)++;
    return finish_wait(w, e, NULL, outcome, ts_ns);
}

/* Requests first .. first + n - 1 of connection uid will get no
 * response: their live waits end with outcome (or timeout, when ts_ns is
 * past their deadline); the rest is forgotten. */
static int end_waits(wait_t *w, struct bytes uid, uint32_t first,
                     uint32_t n, uint64_t ts_ns, const char *outcome,
                     uint64_t *counter)
{
    if (n > WAIT_CLOSE_SCAN_MAX) {
        (*w->n.close_scan_capped)++;
        n = WAIT_CLOSE_SCAN_MAX;
    }
    for (uint32_t i = 0; i < n && first + i >= first; i++) {
        pending_entry_t *e = pending_find(w->pending, uid, first + i);
        if (!e)
            continue;
        int rc = 0;
        if (pending_waits(e) && !pending_is_tombstone(e))
            rc = end_wait(w, e, ts_ns, outcome, counter);
        forget(w, e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Early responses still held at a close or the end: orphans. uid NULL
 * takes them all. */
static int orphan_held(wait_t *w, const struct bytes *uid)
{
    early_item_t *it;
    int rc = 0;
    while (rc == 0 && (it = early_take_conn(w->early, uid)))
        rc = answer_held(w, NULL, it);
    return rc;
}

int wait_conn(wait_t *w, const struct http_msg *m)
{
    if (bytes_eq(m->event, "lost"))
        return end_waits(w, m->uid, m->idx, m->requests, m->ts_ns,
                         OUTCOME_LOST, w->n.lost);
    if (bytes_eq(m->event, "responding")) {
        pending_entry_t *e = pending_find(w->pending, m->uid, m->idx);
        if (e)
            responding(w, e, m->ts_ns);
        return 0;
    }
    if (!bytes_eq(m->event, "close"))
        return 0;
    bool ended = bytes_eq(m->reason_text, "eof") ||
                 bytes_eq(m->reason_text, "signal");
    /* ts_end: the connection's last packet, when it ended. */
    int rc = end_waits(w, m->uid, 0, m->requests, m->ts_end_ns,
                       ended ? OUTCOME_EOF : OUTCOME_CLOSED,
                       ended ? w->n.eof_unanswered : w->n.closed);
    return rc < 0 ? rc : orphan_held(w, &m->uid);
}

int wait_expire(wait_t *w, uint64_t wm)
{
    pending_entry_t *e;
    while ((e = pending_next_expired(w->pending, wm))) {
        if (!pending_waits(e) || pending_is_tombstone(e)) {
            forget(w, e);
            continue;
        }
        (*w->n.timeouts)++;
        int rc = finish_wait(w, e, NULL, OUTCOME_TIMEOUT,
                             pending_deadline(e));
        if (rc < 0)
            return rc;
        pending_bury(w->pending, e);
    }
    return 0;
}

int wait_drain(wait_t *w, uint64_t end_ns)
{
    int rc = wait_expire(w, end_ns);
    pending_entry_t *e;
    while (rc == 0 && (e = pending_any(w->pending))) {
        if (pending_waits(e) && !pending_is_tombstone(e)) {
            if (pending_deadline(e) < end_ns) {
                /* wait_expire() stops at a FIFO head with a later
                 * deadline (shards interleave): this wait had timed out
                 * too. */
                (*w->n.timeouts)++;
                rc = finish_wait(w, e, NULL, OUTCOME_TIMEOUT,
                                 pending_deadline(e));
            } else {
                (*w->n.eof_unanswered)++;
                rc = finish_wait(w, e, NULL, OUTCOME_EOF, end_ns);
            }
        }
        forget(w, e);
    }
    return rc < 0 ? rc : orphan_held(w, NULL);
}
