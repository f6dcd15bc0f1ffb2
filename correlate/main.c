/* main.c - hark-correlate: "Wait for Response Packets", then the rest of
 * the policy.
 *
 * Pairs the n-th response of a connection with its n-th request. A wait
 * ends in one of: ok (the whole response arrived within the timeout),
 * timeout, closed (the connection ended first), eof (the input ended
 * first). The decision uses packet time only: a response is in time when
 * its last byte is no later than the request's last byte plus the
 * timeout, whatever order shards' frames arrive in, so a replay gives the
 * same trail. The policy's steps after the wait then run (Log Message
 * Payload), and every record goes to the logger, together with the
 * request records dispatch made.
 */
#include "clock.h"
#include "log.h"
#include "pending.h"
#include "policy.h"
#include "pump.h"
#include "stage.h"
#include "upstream.h"

#include <errno.h>
#include <string.h>

/* Requests of one connection looked up when it closes. */
#define CLOSE_SCAN_MAX 65536u

static char *default_redact[] = { "Authorization", "Proxy-Authorization",
                                  "Cookie", "Set-Cookie" };

/* How a response nobody asked for is recorded: no policy applies. */
static const struct config_step orphan_step = {
    .kind = STEP_LOG,
    .label = "Orphan Response",
    .message = STEP_MSG_RESPONSE,
    .headers = true,
    .body_max = 65536,
    .redact = default_redact,
    .n_redact = 4,
};

struct correlate {
    struct stage st;
    upstream_t *up;
    pending_t *pending;
    bus_in_t *in;
    bus_out_t *out;
    frame_reader_t *reader;
    frame_reader_t *raw_reader;   /* decodes kept requests */
    frame_writer_t *logs;
    msgpack_sbuffer raw;          /* a request re-packed to be kept */
    msgpack_packer raw_pk;
    struct msg_header scratch[FRAME_MAX_HEADERS];
    struct log_limit bad_item;
    uint64_t *requests, *responses, *pairs, *timeouts, *closed, *eof_waits,
        *late, *orphans, *not_waited, *records, *records_passed,
        *policy_mismatch, *close_scan_capped, *frames_malformed, *items_malformed, *frames_other;
};

static bool logs_request_after_wait(const struct config_policy *p)
{
    for (unsigned i = (unsigned)p->wait_step + 1; i < p->n_steps; i++)
        if (p->steps[i].kind == STEP_LOG &&
            p->steps[i].message == STEP_MSG_REQUEST)
            return true;
    return false;
}

static int add_record(struct correlate *c, const struct audit_record *r)
{
    int rc = frame_add_record(c->logs, r);
    if (rc == 0)
        (*c->records)++;
    return rc;
}

/* Runs the steps after the wait for entry e. resp is NULL when none came. */
static int finish_wait(struct correlate *c, pending_entry_t *e,
                       const struct http_msg *resp, const char *outcome,
                       uint64_t ts_ns)
{
    const struct config_policy *pol = pending_policy(e);
    const struct req_summary *sum = pending_summary(e);
    for (unsigned i = (unsigned)pol->wait_step + 1; i < pol->n_steps; i++) {
        const struct config_step *step = &pol->steps[i];
        if (step->kind != STEP_LOG)
            continue;
        struct audit_record rec;
        if (step->message == STEP_MSG_RESPONSE) {
            policy_make_record(step, RECORD_RESPONSE, sum, resp, outcome,
                               resp ? resp->ts_ns : ts_ns, c->scratch, &rec);
        } else {
            size_t len;
            const void *raw = pending_raw(e, &len);
            const msgpack_object *o;
            struct http_msg req;
            if (!raw || frame_unpack(c->raw_reader, raw, len, &o) != 0 ||
                frame_decode_msg(c->raw_reader, o, &req) != 0)
                continue; /* kept at add time whenever this step exists */
            policy_make_record(step, RECORD_REQUEST, sum, &req, NULL,
                               sum->ts_ns, c->scratch, &rec);
        }
        int rc = add_record(c, &rec);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int on_request(struct correlate *c, const struct http_msg *m,
                      const msgpack_object *item)
{
    (*c->requests)++;
    const struct config_policy *pol = NULL;
    if (m->routed && m->route.next_step >= 0) {
        char name[256];
        size_t n = m->route.policy.n < sizeof(name) - 1 ? m->route.policy.n
                                                         : sizeof(name) - 1;
        memcpy(name, m->route.policy.p, n);
        name[n] = '\0';
        pol = config_policy_find(c->st.cfg, name);
        if (!pol || pol->wait_step != m->route.next_step) {
            /* dispatch runs another config than ours */
            (*c->policy_mismatch)++;
            pol = NULL;
        }
    }
    const void *raw = NULL;
    size_t raw_len = 0;
    if (pol && logs_request_after_wait(pol)) {
        msgpack_sbuffer_clear(&c->raw);
        msgpack_pack_object(&c->raw_pk, *item);
        raw = c->raw.data;
        raw_len = c->raw.size;
    }
    pending_add(c->pending, m, pol, raw, raw_len);
    return 0;
}

static int on_orphan(struct correlate *c, const struct http_msg *m)
{
    (*c->orphans)++;
    struct req_summary sum;
    memset(&sum, 0, sizeof(sum));
    sum.uid = m->uid;
    sum.idx = m->idx;
    sum.ts_ns = sum.ts_end_ns = m->ts_ns;
    sum.addr = m->addr;
    struct audit_record rec;
    policy_make_record(&orphan_step, RECORD_RESPONSE, &sum, m, OUTCOME_ORPHAN,
                       m->ts_ns, c->scratch, &rec);
    return add_record(c, &rec);
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

static int on_response(struct correlate *c, const struct http_msg *m)
{
    (*c->responses)++;
    pending_entry_t *e = pending_find(c->pending, m->uid, m->idx);
    if (!e)
        return on_orphan(c, m);
    /* Finding e proves nothing about time: it outlives its deadlines
     * while the watermark lags behind another shard, or while it sits
     * behind a later deadline in its FIFO. Only packet times decide. */
    bool forgotten = m->ts_end_ns > forget_at(e);
    int rc = 0;
    if (!pending_waits(e)) {
        if (!forgotten)
            (*c->not_waited)++;
    } else if (pending_is_tombstone(e)) {
        if (!forgotten) {
            (*c->late)++;
            rc = finish_wait(c, e, m, OUTCOME_LATE, m->ts_ns);
        }
    } else if (m->ts_end_ns > pending_deadline(e)) {
        /* Not yet expired only because the watermark lags: the same
         * verdict as if it had been. */
        (*c->timeouts)++;
        rc = finish_wait(c, e, NULL, OUTCOME_TIMEOUT, pending_deadline(e));
        if (rc == 0 && !forgotten) {
            (*c->late)++;
            rc = finish_wait(c, e, m, OUTCOME_LATE, m->ts_ns);
        }
    } else {
        (*c->pairs)++;
        rc = finish_wait(c, e, m, OUTCOME_OK, m->ts_ns);
    }
    pending_remove(c->pending, e);
    if (rc == 0 && forgotten)
        rc = on_orphan(c, m);
    return rc;
}

static int on_close(struct correlate *c, const struct http_msg *m)
{
    if (!bytes_eq(m->event, "close"))
        return 0;
    bool ended = bytes_eq(m->reason_text, "eof") ||
                 bytes_eq(m->reason_text, "signal");
    uint32_t n = m->requests < CLOSE_SCAN_MAX ? m->requests : CLOSE_SCAN_MAX;
    if (m->requests > CLOSE_SCAN_MAX)
        (*c->close_scan_capped)++; /* the rest end by timeout instead */
    for (uint32_t idx = 0; idx < n; idx++) {
        pending_entry_t *e = pending_find(c->pending, m->uid, idx);
        if (!e)
            continue;
        int rc = 0;
        if (pending_waits(e) && !pending_is_tombstone(e)) {
            /* ts_end: the connection's last packet, when it ended. */
            if (m->ts_end_ns > pending_deadline(e)) {
                (*c->timeouts)++;
                rc = finish_wait(c, e, NULL, OUTCOME_TIMEOUT,
                                 pending_deadline(e));
            } else {
                (*(ended ? c->eof_waits : c->closed))++;
                rc = finish_wait(c, e, NULL,
                                 ended ? OUTCOME_EOF : OUTCOME_CLOSED,
                                 m->ts_end_ns);
            }
        }
        pending_remove(c->pending, e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Ends the waits whose deadline is before wm. */
static int expire(struct correlate *c, uint64_t wm)
{
    pending_entry_t *e;
    while ((e = pending_next_expired(c->pending, wm))) {
        if (!pending_waits(e) || pending_is_tombstone(e)) {
            pending_remove(c->pending, e);
            continue;
        }
        (*c->timeouts)++;
        int rc = finish_wait(c, e, NULL, OUTCOME_TIMEOUT, pending_deadline(e));
        if (rc < 0)
            return rc;
        pending_bury(c->pending, e);
    }
    return 0;
}

/* The input ended: what still waits will never be answered. */
static int drain(struct correlate *c, uint64_t end_ns)
{
    int rc = expire(c, end_ns);
    pending_entry_t *e;
    while (rc == 0 && (e = pending_any(c->pending))) {
        if (pending_waits(e) && !pending_is_tombstone(e)) {
            if (pending_deadline(e) < end_ns) {
                /* expire() stops at a FIFO head with a later deadline
                 * (shards interleave): this wait had timed out too. */
                (*c->timeouts)++;
                rc = finish_wait(c, e, NULL, OUTCOME_TIMEOUT,
                                 pending_deadline(e));
            } else {
                (*c->eof_waits)++;
                rc = finish_wait(c, e, NULL, OUTCOME_EOF, end_ns);
            }
        }
        pending_remove(c->pending, e);
    }
    return rc;
}

static int flush(struct correlate *c)
{
    return bus_out_flush(c->out, c->logs, upstream_watermark(c->up),
                         upstream_live(c->up));
}

static int handle_items(struct correlate *c, const struct frame *f)
{
    for (uint32_t i = 0; i < f->n_items; i++) {
        int rc = 0;
        if (f->type == FRAME_LOG) {
            /* Records made by dispatch: on to the logger as they are. */
            rc = frame_add_object(c->logs, &f->items[i]);
            if (rc == 0)
                (*c->records_passed)++;
        } else {
            struct http_msg m;
            if (frame_item_msg(c->reader, f, i, &m) != 0) {
                (*c->items_malformed)++;
                log_limited(&c->bad_item, LOG_WARN,
                            "malformed message item from %.*s",
                            (int)f->src.n, f->src.p);
                continue;
            }
            if (m.kind == MSG_REQ)
                rc = on_request(c, &m, &f->items[i]);
            else if (m.kind == MSG_RESP)
                rc = on_response(c, &m);
            else
                rc = on_close(c, &m);
        }
        if (rc < 0)
            return rc;
        if (frame_writer_full(c->logs) && (rc = flush(c)) < 0)
            return rc;
    }
    return 0;
}

static int on_frame(void *ctx, const struct frame *f)
{
    struct correlate *c = ctx;
    if (f->type != FRAME_MSG && f->type != FRAME_LOG) {
        (*c->frames_other)++;
        return 0;
    }
    int rc = handle_items(c, f);
    if (rc == 0)
        rc = expire(c, upstream_watermark(c->up));
    if (rc == 0 && f->live)
        rc = flush(c);
    return rc;
}

static int on_end(void *ctx, const struct frame *f)
{
    struct correlate *c = ctx;
    /* Without an eof (stopped), the last packet time seen ends the waits. */
    uint64_t end = f && f->wm_ns ? f->wm_ns : upstream_watermark_max(c->up);
    int rc = drain(c, end);
    if (rc == 0)
        rc = flush(c);
    if (rc == 0)
        rc = bus_out_eof(c->out, upstream_watermark_max(c->up),
                         f ? "end of input" : "signal");
    return rc;
}

static bool on_pending(void *ctx)
{
    struct correlate *c = ctx;
    return frame_writer_items(c->logs) > 0;
}

static int on_flush(void *ctx)
{
    return flush(ctx);
}

static const struct pump_ops correlate_ops = {
    on_frame, on_end, on_pending, on_flush,
};

int main(int argc, char **argv)
{
    struct correlate c;
    memset(&c, 0, sizeof(c));
    msgpack_sbuffer_init(&c.raw);
    msgpack_packer_init(&c.raw_pk, &c.raw, msgpack_sbuffer_write);
    int rc = stage_init(&c.st, ROLE_CORRELATE,
                        "Waits for each request's response (\"Wait for "
                        "Response Packets\"), pairs them by\nconnection and "
                        "order, runs the policy's remaining steps and sends "
                        "the audit\nrecords to the logger.",
                        argc, argv);
    if (rc != 0) {
        stage_finish(&c.st, false);
        msgpack_sbuffer_destroy(&c.raw);
        return rc < 0 ? 0 : rc;
    }
    struct config *cfg = c.st.cfg;
    stats_t *s = c.st.stats;
    c.requests = stats_add(s, "requests");
    c.responses = stats_add(s, "responses");
    c.pairs = stats_add(s, "pairs");
    c.timeouts = stats_add(s, "timeouts");
    c.closed = stats_add(s, "closed");
    c.eof_waits = stats_add(s, "eof_unanswered");
    c.late = stats_add(s, "late");
    c.orphans = stats_add(s, "orphans");
    c.not_waited = stats_add(s, "not_waited");
    c.records = stats_add(s, "records");
    c.records_passed = stats_add(s, "records_passed");
    c.policy_mismatch = stats_add(s, "policy_mismatch");
    c.close_scan_capped = stats_add(s, "close_scan_capped");
    c.frames_malformed = stats_add(s, "frames_malformed");
    c.items_malformed = stats_add(s, "items_malformed");
    c.frames_other = stats_add(s, "frames_other");

    char in_ep[4200], out_ep[4200];
    bool ok = false;
    if (!topology_input(cfg, ROLE_CORRELATE, 0, in_ep, sizeof(in_ep)) ||
        !topology_input(cfg, ROLE_LOGGER, 0, out_ep, sizeof(out_ep))) {
        log_error("endpoint does not fit: shorten bus.run_dir");
        goto out;
    }
    c.up = upstream_new(1, s);
    c.pending = pending_new(cfg, cfg->correlate.max_pending, s);
    c.reader = frame_reader_new();
    c.raw_reader = frame_reader_new();
    c.logs = frame_writer_new(FRAME_LOG, c.st.id);
    if (!c.up || !c.pending || !c.reader || !c.raw_reader || !c.logs) {
        log_error("out of memory");
        goto out;
    }
    c.in = bus_in_new(c.st.zmq, in_ep);
    if (!c.in) {
        log_error("cannot bind %s: %s", in_ep, zmq_strerror(errno));
        goto out;
    }
    c.out = bus_out_new(c.st.zmq, out_ep, c.st.id, c.st.tap);
    if (!c.out) {
        log_error("cannot connect %s: %s", out_ep, zmq_strerror(errno));
        goto out;
    }
    rc = pump_run(&c.st, c.in, c.reader, c.up, c.frames_malformed,
                  &correlate_ops, &c);
    if (rc < 0)
        log_error("stopped: %s", zmq_strerror(-rc));
    ok = rc == 0;
out:
    bus_out_destroy(&c.out);
    bus_in_destroy(&c.in);
    frame_writer_destroy(&c.logs);
    frame_reader_destroy(&c.reader);
    frame_reader_destroy(&c.raw_reader);
    pending_destroy(&c.pending);
    upstream_destroy(&c.up);
    msgpack_sbuffer_destroy(&c.raw);
    stage_finish(&c.st, ok);
    return ok ? 0 : 1;
}
