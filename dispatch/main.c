/* main.c - hark-dispatch: routes each request to its policy.
 *
 * Takes the messages of every reassembler shard, finds each request's
 * service group and relative path, runs the policy's steps that come
 * before "Wait for Response Packets" (the request's Log Message), and
 * passes everything on to correlate in stream order: requests annotated
 * with their route and the step to resume at, responses and connection
 * events unchanged. Audit records made here travel in `log` frames on the
 * same link, so correlate can hand them to the logger.
 */
#include "clock.h"
#include "log.h"
#include "policy.h"
#include "route.h"
#include "input.h"
#include "stage.h"
#include "upstream.h"

#include <errno.h>
#include <string.h>


struct dispatch {
    struct stage st;
    router_t *router;
    upstream_t *up;
    input_t *in;
    bus_out_t *out;
    frame_reader_t *reader;
    frame_writer_t *msgs;
    frame_writer_t *logs;
    uint64_t sent_wm;
    struct msg_header scratch[FRAME_MAX_HEADERS];
    struct log_limit bad_item;
    uint64_t *requests, *routed, *unrouted, *responses, *conn_events,
        *records, *items_malformed, *frames_other;
};

static int flush(struct dispatch *d, bool heartbeat)
{
    uint64_t wm = upstream_watermark(d->up);
    bool live = upstream_live(d->up);
    /* Records first: a request's record is older than its message. */
    int rc = bus_out_flush(d->out, d->logs, wm, live);
    if (rc == 0)
        rc = heartbeat ? bus_out_heartbeat(d->out, d->msgs, wm, live)
                       : bus_out_flush(d->out, d->msgs, wm, live);
    if (rc == 0 && heartbeat)
        d->sent_wm = wm;
    return rc;
}

/* Routes a request and runs its policy up to the wait. */
static int dispatch_request(struct dispatch *d, struct http_msg *m)
{
    (*d->requests)++;
    struct bytes host = policy_header(m->headers, m->n_headers, "host");
    struct route_match match;
    if (router_match(d->router, m->method, m->uri, host, &match) != 0) {
        (*d->unrouted)++;
        return frame_add_msg(d->msgs, m);
    }
    (*d->routed)++;
    const struct config_policy *pol = match.policy;
    if (match.ambiguous)
        m->flags |= MSG_F_AMBIGUOUS_PATH;
    m->routed = true;
    m->route.group = bytes_of(match.group->name);
    m->route.path = bytes_of(match.route->path);
    m->route.policy = bytes_of(pol->name);
    unsigned stop = pol->wait_step >= 0 ? (unsigned)pol->wait_step
                                        : pol->n_steps;
    m->route.next_step = pol->wait_step;
    struct req_summary sum;
    policy_summarize(m, &sum);
    for (unsigned i = 0; i < stop; i++) {
        const struct config_step *step = &pol->steps[i];
        if (step->kind != STEP_LOG || step->message != STEP_MSG_REQUEST)
            continue; /* the config refuses response logs before a wait */
        struct audit_record rec;
        policy_make_record(step, RECORD_REQUEST, &sum, m, NULL, m->ts_ns,
                           d->scratch, &rec);
        int rc = frame_add_record(d->logs, &rec);
        if (rc < 0)
            return rc;
        (*d->records)++;
    }
    return frame_add_msg(d->msgs, m);
}

static int handle_msgs(struct dispatch *d, const struct frame *f)
{
    for (uint32_t i = 0; i < f->n_items; i++) {
        struct http_msg m;
        if (frame_item_msg(d->reader, f, i, &m) != 0) {
            (*d->items_malformed)++;
            log_limited(&d->bad_item, LOG_WARN,
                        "malformed message item from %.*s",
                        (int)f->src.n, f->src.p);
            continue;
        }
        int rc;
        if (m.kind == MSG_REQ) {
            rc = dispatch_request(d, &m);
        } else {
            if (m.kind == MSG_RESP)
                (*d->responses)++;
            else
                (*d->conn_events)++;
            rc = frame_add_object(d->msgs, &f->items[i]);
        }
        if (rc < 0)
            return rc;
        if (frame_writer_full(d->msgs) || frame_writer_full(d->logs)) {
            rc = flush(d, false);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static int on_frame(void *ctx, const struct frame *f)
{
    struct dispatch *d = ctx;
    if (f->type != FRAME_MSG) {
        (*d->frames_other)++;
        return 0;
    }
    int rc = handle_msgs(d, f);
    if (rc < 0)
        return rc;
    /* Live traffic should not wait for a batch to fill. */
    if (f->live)
        return flush(d, false);
    if (upstream_watermark(d->up) >= d->sent_wm + NS_PER_SEC)
        return flush(d, true);
    return 0;
}

static int on_end(void *ctx, const struct frame *f)
{
    struct dispatch *d = ctx;
    int rc = flush(d, false);
    if (rc == 0)
        rc = bus_out_eof(d->out, upstream_watermark_max(d->up),
                         f ? "end of input" : "signal");
    return rc;
}

static int on_idle(void *ctx)
{
    return flush(ctx, false);
}

static const struct input_ops dispatch_ops = { on_frame, on_end, on_idle };

/* SIGHUP: routes and policies from cfg for the requests from now on
 * (those routed before went out whole). The reassemblers keep the limits
 * they started with, so the router's room for a path does too. */
static int reload(struct stage *st, struct config *cfg, void *ctx)
{
    struct dispatch *d = ctx;
    cfg->reassemble = st->cfg->reassemble;
    router_t *r = router_new_owned(cfg);
    if (!r) {
        log_error("reload: out of memory; the running routes stay");
        return -ENOMEM;
    }
    router_destroy(&d->router);
    d->router = r;
    return 0;
}

int main(int argc, char **argv)
{
    struct dispatch d;
    memset(&d, 0, sizeof(d));
    int rc = stage_init(&d.st, ROLE_DISPATCH,
                        "Routes each assembled request by service group and "
                        "relative path to its policy,\nruns the policy's "
                        "steps before the wait for the response, and passes "
                        "the\nmessages on to correlate.",
                        argc, argv);
    if (rc != 0)
        return rc - 1;
    struct config *cfg = d.st.cfg;
    STAGE_COUNTERS(&d.st, { "requests", &d.requests },
                   { "routed", &d.routed }, { "unrouted", &d.unrouted },
                   { "responses", &d.responses },
                   { "conn_events", &d.conn_events },
                   { "records", &d.records },
                   { "items_malformed", &d.items_malformed },
                   { "frames_other", &d.frames_other });
    char in_ep[4200];
    bool ok = false;
    if (!stage_input_endpoint(&d.st, in_ep, sizeof(in_ep)))
        goto out;
    d.router = router_new(cfg);
    d.up = upstream_new(cfg->reassemble.shards, d.st.stats);
    d.reader = frame_reader_new();
    d.msgs = frame_writer_new(FRAME_MSG, d.st.id);
    d.logs = frame_writer_new(FRAME_LOG, d.st.id);
    if (!d.router || !d.up || !d.reader || !d.msgs || !d.logs) {
        log_error("out of memory");
        goto out;
    }
    d.in = input_new(&d.st, in_ep, d.reader, d.up, &dispatch_ops, &d);
    if (!d.in)
        goto out;
    d.out = stage_output(&d.st, ROLE_CORRELATE);
    stage_on_reload(&d.st, reload, &d);
    ok = d.out && stage_run(&d.st);
out:
    bus_out_destroy(&d.out);
    input_destroy(&d.in);
    frame_writer_destroy(&d.msgs);
    frame_writer_destroy(&d.logs);
    frame_reader_destroy(&d.reader);
    upstream_destroy(&d.up);
    router_destroy(&d.router);
    stage_finish(&d.st, ok);
    return ok ? 0 : 1;
}
