/* wait.c - wait verdicts by packet time, and the log steps after them. */
#include "wait.h"

#include "pending.h"
#include "policy.h"

#include <stdlib.h>
#include <string.h>

struct wait {
    const struct config *cfg;
    pending_t *pending;
    struct wait_counters n;
    wait_sink_fn *sink;
    void *sink_ctx;
    frame_reader_t *raw_reader;   /* decodes kept requests */
    msgpack_sbuffer raw;          /* a request re-packed to be kept */
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
    w->cfg = cfg;
    w->n = *counters;
    w->sink = sink;
    w->sink_ctx = sink_ctx;
    msgpack_sbuffer_init(&w->raw);
    msgpack_packer_init(&w->raw_pk, &w->raw, msgpack_sbuffer_write);
    w->pending = pending_new(cfg, cfg->correlate.max_pending, st);
    w->raw_reader = frame_reader_new();
    if (!w->pending || !w->raw_reader)
        wait_destroy(&w);
    return w;
}

void wait_destroy(wait_t **pw)
{
    wait_t *w = pw ? *pw : NULL;
    if (!w)
        return;
    pending_destroy(&w->pending);
    frame_reader_destroy(&w->raw_reader);
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
    const struct config_policy *pol = config_policy_find(w->cfg, name);
    if (!pol || pol->wait_step != m->route.next_step) {
        /* dispatch runs another config than ours */
        (*w->n.policy_mismatch)++;
        return NULL;
    }
    return pol;
}

int wait_request(wait_t *w, const struct http_msg *m,
                 const msgpack_object *item)
{
    (*w->n.requests)++;
    const struct config_policy *pol = routed_policy(w, m);
    const void *raw = NULL;
    size_t raw_len = 0;
    if (pol && logs_request_after_wait(pol)) {
        msgpack_sbuffer_clear(&w->raw);
        msgpack_pack_object(&w->raw_pk, *item);
        raw = w->raw.data;
        raw_len = w->raw.size;
    }
    pending_add(w->pending, m, pol, raw, raw_len);
    return 0;
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
    struct audit_record rec;
    policy_make_record(&policy_orphan_step, RECORD_RESPONSE, &sum, m,
                       OUTCOME_ORPHAN, m->ts_ns, w->scratch, &rec);
    return emit(w, &rec);
}

/* When entry e is forgotten: the end of its tombstone (a live wait is
 * buried for one more timeout), or the deadline of an unwaited request. */
static uint64_t forget_at(const pending_entry_t *e)
{
    uint64_t t = pending_deadline(e);
    if (pending_waits(e) && !pending_is_tombstone(e)) {
        const struct config_policy *pol = pending_policy(e);
        t += pol->steps[pol->wait_step].timeout_ns;
    }
    return t;
}

/* The verdict on a found entry e for response m, by packet time. */
static int judge_response(wait_t *w, const pending_entry_t *e,
                          const struct http_msg *m, bool forgotten)
{
    if (!pending_waits(e)) {
        if (!forgotten)
            (*w->n.not_waited)++;
        return 0;
    }
    if (pending_is_tombstone(e)) {
        if (forgotten)
            return 0;
        (*w->n.late)++;
        return finish_wait(w, e, m, OUTCOME_LATE, m->ts_ns);
    }
    if (m->ts_end_ns > pending_deadline(e)) {
        /* Not yet expired only because the watermark lags: the same
         * verdict as if it had been. */
        (*w->n.timeouts)++;
        int rc = finish_wait(w, e, NULL, OUTCOME_TIMEOUT,
                             pending_deadline(e));
        if (rc == 0 && !forgotten) {
            (*w->n.late)++;
            rc = finish_wait(w, e, m, OUTCOME_LATE, m->ts_ns);
        }
        return rc;
    }
    (*w->n.pairs)++;
    return finish_wait(w, e, m, OUTCOME_OK, m->ts_ns);
}

int wait_response(wait_t *w, const struct http_msg *m)
{
    (*w->n.responses)++;
    pending_entry_t *e = pending_find(w->pending, m->uid, m->idx);
    if (!e)
        return log_orphan(w, m);
    /* Finding e proves nothing about time: it outlives its deadlines
     * while the watermark lags behind another shard, or while it sits
     * behind a later deadline in its FIFO. Only packet times decide. */
    bool forgotten = m->ts_end_ns > forget_at(e);
    int rc = judge_response(w, e, m, forgotten);
    pending_remove(w->pending, e);
    if (rc == 0 && forgotten)
        rc = log_orphan(w, m);
    return rc;
}

/* Ends the live wait e because its connection closed at ts_end. */
static int close_wait(wait_t *w, const pending_entry_t *e, uint64_t ts_end,
                      bool ended)
{
    /* ts_end: the connection's last packet, when it ended. */
    if (ts_end > pending_deadline(e)) {
        (*w->n.timeouts)++;
        return finish_wait(w, e, NULL, OUTCOME_TIMEOUT, pending_deadline(e));
    }
    (*(ended ? w->n.eof_unanswered : w->n.closed))++;
    return finish_wait(w, e, NULL, ended ? OUTCOME_EOF : OUTCOME_CLOSED,
                       ts_end);
}

int wait_conn(wait_t *w, const struct http_msg *m)
{
    if (!bytes_eq(m->event, "close"))
        return 0;
    bool ended = bytes_eq(m->reason_text, "eof") ||
                 bytes_eq(m->reason_text, "signal");
    uint32_t n = m->requests < WAIT_CLOSE_SCAN_MAX ? m->requests
                                                   : WAIT_CLOSE_SCAN_MAX;
    if (m->requests > WAIT_CLOSE_SCAN_MAX)
        (*w->n.close_scan_capped)++;
    for (uint32_t idx = 0; idx < n; idx++) {
        pending_entry_t *e = pending_find(w->pending, m->uid, idx);
        if (!e)
            continue;
        int rc = 0;
        if (pending_waits(e) && !pending_is_tombstone(e))
            rc = close_wait(w, e, m->ts_end_ns, ended);
        pending_remove(w->pending, e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int wait_expire(wait_t *w, uint64_t wm)
{
    pending_entry_t *e;
    while ((e = pending_next_expired(w->pending, wm))) {
        if (!pending_waits(e) || pending_is_tombstone(e)) {
            pending_remove(w->pending, e);
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
        pending_remove(w->pending, e);
    }
    return rc;
}
