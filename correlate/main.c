/* main.c - hark-correlate: "Wait for Response Packets", then the rest of
 * the policy.
 *
 * Wiring only: messages from dispatch go to the wait table (wait.h),
 * which decides every wait by packet time; its records go to the logger,
 * together with the request records dispatch made, as they are.
 *
 * The link to the logger is acknowledged (bus.h): every `log` frame is
 * kept until the logger has committed it and sent again if the logger
 * restarted, so a logger that dies loses nothing. While too much is
 * unacknowledged the input is left unread (backpressure, never a drop),
 * and at the end correlate exits only once everything, eof included, is
 * acknowledged (or supervisor.drain_timeout passed).
 */
#include "clock.h"
#include "log.h"
#include "input.h"
#include "stage.h"
#include "upstream.h"
#include "wait.h"

#include <errno.h>
#include <string.h>

#define ACKS_MAX_WAIT_MS (3600 * 1000)

struct correlate {
    struct stage st;
    upstream_t *up;
    wait_t *wait;
    input_t *in;
    bus_out_t *out;
    frame_reader_t *reader;
    frame_writer_t *logs;
    int ack_timer, give_up_timer;
    bool paused;                  /* input unread: logger far behind */
    bool ended;                   /* eof sent: waiting for the last acks */
    struct log_limit bad_item;
    struct wait_counters n;
    uint64_t *records_passed, *items_malformed,
        *frames_other;
};

static int add_record(void *ctx, const struct audit_record *r)
{
    struct correlate *c = ctx;
    return frame_add_record(c->logs, r);
}

/* Leaves the input unread while the logger is too far behind. */
static void hold_back(struct correlate *c)
{
    bool full = bus_out_backlogged(c->out);
    if (full != c->paused)
        input_pause(c->in, full);
    c->paused = full;
}

static int flush(struct correlate *c)
{
    int rc = bus_out_flush(c->out, c->logs, upstream_watermark(c->up),
                           upstream_live(c->up));
    if (rc == 0 && bus_out_unacked(c->out)) {
        hold_back(c);
        loop_timer_arm(c->st.loop, c->ack_timer, BUS_ACK_TIMEOUT_MS, true);
    }
    return rc;
}

static int on_acks(loop_t *l, void *ctx)
{
    struct correlate *c = ctx;
    int rc = bus_out_take_acks(c->out);
    if (rc < 0)
        return rc;
    if (!c->ended)
        hold_back(c);
    else if (!bus_out_unacked(c->out))
        loop_stop(l, 0);
    return 0;
}

/* Sends everything unacknowledged again when the logger went quiet. */
static int on_ack_timer(loop_t *l, void *ctx)
{
    struct correlate *c = ctx;
    return bus_out_tick(c->out); /* -1 is LOOP_TIMER_OFF: nothing kept */
}

static int on_give_up(loop_t *l, void *ctx)
{
    return -ETIMEDOUT;
}

/* After eof: runs the loop until the logger has acknowledged all. */
static bool await_acks(struct correlate *c)
{
    c->ended = true;
    input_pause(c->in, true);
    unsigned n = bus_out_unacked(c->out);
    if (!n)
        return true;
    log_debug("waiting for the logger to acknowledge %u frames", n);
    uint64_t ms = c->st.cfg->supervisor.drain_timeout_ns / NS_PER_MS;
    loop_timer_arm(c->st.loop, c->ack_timer, 0, true);
    loop_timer_arm(c->st.loop, c->give_up_timer,
                   ms < ACKS_MAX_WAIT_MS ? (int)ms : ACKS_MAX_WAIT_MS, false);
    int rc = loop_run(c->st.loop);
    if (rc < 0)
        log_error("%u frames the logger never acknowledged: %s",
                  bus_out_unacked(c->out), strerror(-rc));
    return rc == 0;
}

static int handle_items(struct correlate *c, const struct frame *f)
{
    for (uint32_t i = 0; i < f->n_items; i++) {
        int rc = 0;
        if (f->type == FRAME_LOG) {
            /* Records made by dispatch: on to the logger as the bytes
             * they came in. */
            struct bytes raw;
            rc = frame_item_raw(c->reader, f, i, &raw) == 0
                     ? frame_add_raw(c->logs, raw)
                     : frame_add_object(c->logs, &f->items[i]);
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
                rc = wait_request(c->wait, &m, &f->items[i]);
            else if (m.kind == MSG_RESP)
                rc = wait_response(c->wait, &m, &f->items[i]);
            else
                rc = wait_conn(c->wait, &m);
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
        rc = wait_expire(c->wait, upstream_watermark(c->up));
    if (rc == 0 && f->live)
        rc = flush(c);
    return rc;
}

static int on_end(void *ctx, const struct frame *f)
{
    struct correlate *c = ctx;
    /* Without an eof (stopped), the last packet time seen ends the waits. */
    uint64_t end = f && f->wm_ns ? f->wm_ns : upstream_watermark_max(c->up);
    int rc = wait_drain(c->wait, end);
    if (rc == 0)
        rc = flush(c);
    if (rc == 0)
        rc = bus_out_eof(c->out, upstream_watermark_max(c->up),
                         f ? "end of input" : "signal");
    return rc;
}

static int on_idle(void *ctx)
{
    return flush(ctx);
}

static const struct input_ops correlate_ops = { on_frame, on_end, on_idle };

/* SIGHUP: policies for the waits that begin from now on (wait.h). */
static int reload(struct stage *st, struct config *cfg, void *ctx)
{
    struct correlate *c = ctx;
    int rc = wait_reload(c->wait, cfg);
    if (rc < 0)
        log_error("reload refused: %d configs still have waits",
                  WAIT_MAX_CONFIGS);
    return rc;
}

/* In the order `hark stats` has always shown them. */
static void register_counters(struct correlate *c)
{
    struct wait_counters *n = &c->n;
    STAGE_COUNTERS(&c->st, { "requests", &n->requests },
                   { "responses", &n->responses }, { "pairs", &n->pairs },
                   { "timeouts", &n->timeouts }, { "closed", &n->closed },
                   { "eof_unanswered", &n->eof_unanswered },
                   { "late", &n->late }, { "orphans", &n->orphans },
                   { "lost", &n->lost },
                   { "not_waited", &n->not_waited },
                   { "records", &n->records },
                   { "records_passed", &c->records_passed },
                   { "policy_mismatch", &n->policy_mismatch },
                   { "close_scan_capped", &n->close_scan_capped },
                   { "orphan_headers_withheld",
                     &n->orphan_headers_withheld },
                   { "items_malformed", &c->items_malformed },
                   { "frames_other", &c->frames_other });
}

int main(int argc, char **argv)
{
    struct correlate c;
    memset(&c, 0, sizeof(c));
    int rc = stage_init(&c.st, ROLE_CORRELATE,
                        "Waits for each request's response (\"Wait for "
                        "Response Packets\"), pairs them by\nconnection and "
                        "order, runs the policy's remaining steps and sends "
                        "the audit\nrecords to the logger.",
                        argc, argv);
    if (rc != 0)
        return rc - 1;
    struct config *cfg = c.st.cfg;
    register_counters(&c);
    char in_ep[4200];
    bool ok = false;
    if (!stage_input_endpoint(&c.st, in_ep, sizeof(in_ep)))
        goto out;
    c.up = upstream_new(1, c.st.stats);
    c.wait = wait_new(cfg, c.st.stats, &c.n, add_record, &c);
    c.reader = frame_reader_new();
    c.logs = frame_writer_new(FRAME_LOG, c.st.id);
    if (!c.up || !c.wait || !c.reader || !c.logs) {
        log_error("out of memory");
        goto out;
    }
    c.in = input_new(&c.st, in_ep, c.reader, c.up, &correlate_ops, &c);
    if (!c.in)
        goto out;
    c.out = stage_output_acked(&c.st, ROLE_LOGGER, true);
    if (!c.out)
        goto out;
    c.ack_timer = loop_add_timer(c.st.loop, LOOP_TIMER_OFF, on_ack_timer,
                                 &c);
    c.give_up_timer = loop_add_timer(c.st.loop, LOOP_TIMER_OFF, on_give_up,
                                     &c);
    if (c.ack_timer < 0 || c.give_up_timer < 0 ||
        loop_add_socket(c.st.loop, bus_out_socket(c.out), on_acks, &c) < 0) {
        log_error("too many timers or sources");
        goto out;
    }
    stage_on_reload(&c.st, reload, &c);
    ok = stage_run(&c.st) && await_acks(&c);
out:
    bus_out_destroy(&c.out);
    input_destroy(&c.in);
    frame_writer_destroy(&c.logs);
    frame_reader_destroy(&c.reader);
    wait_destroy(&c.wait);
    upstream_destroy(&c.up);
    stage_finish(&c.st, ok);
    return ok ? 0 : 1;
}
