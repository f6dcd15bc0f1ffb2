/* input.c - frames in: receive, decode, account, hand to the stage. */
#include "input.h"
#include "clock.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct input {
    struct stage *st;
    bus_in_t *bus;
    frame_reader_t *reader;
    upstream_t *up;
    const struct input_ops *ops;
    input_admit_fn admit;
    void *ctx;
    int source;
    int quiet_timer;            /* stopping: ends the input when it fires */
    bool stopping;
    uint64_t last_ns;
    uint64_t *frames_malformed;
    struct log_limit bad;
};

static int finish(input_t *in, const struct frame *eof)
{
    int rc = in->ops->end(in->ctx, eof);
    loop_stop(in->st->loop, rc < 0 ? rc : 0);
    return rc < 0 ? rc : 0;
}

/* 1 when the input has ended, 0 to go on, -errno on failure. */
static int take_frame(input_t *in, const void *topic, size_t tlen,
                      const void *body, size_t blen)
{
    struct frame f;
    int rc = frame_read(in->reader, topic, tlen, body, blen, &f);
    if (rc != 0) {
        (*in->frames_malformed)++;
        log_limited(&in->bad, LOG_WARN, "dropped a bad frame: %s",
                    rc == -EPROTONOSUPPORT ? "unsupported version"
                    : rc == -ENOMSG        ? "unknown topic"
                                           : "malformed");
        return 0;
    }
    if (in->admit && !in->admit(in->ctx, &f, bus_in_peer(in->bus)))
        return 0;
    if (!upstream_frame(in->up, &f)) {
        (*in->frames_malformed)++;
        return 0;
    }
    if (f.type != FRAME_EOF)
        return in->ops->frame(in->ctx, &f);
    if (!upstream_eof(in->up, &f))
        return 0;
    rc = finish(in, &f);
    return rc < 0 ? rc : 1;
}

static int on_readable(loop_t *l, void *ctx)
{
    input_t *in = ctx;
    int got = 0;
    while (got < INPUT_FRAMES_PER_TURN) {
        const void *topic, *body;
        size_t tlen, blen;
        int rc = bus_in_recv(in->bus, 0, &topic, &tlen, &body, &blen);
        if (rc == 0)
            break;
        got++;
        in->last_ns = clock_mono_ns();
        if (rc == -EBADMSG) {
            (*in->frames_malformed)++;
            log_limited(&in->bad, LOG_WARN,
                        "dropped a message that was not topic + body");
            continue;
        }
        if (rc < 0)
            return rc;
        rc = take_frame(in, topic, tlen, body, blen);
        if (rc != 0)
            return rc < 0 ? rc : 0;
    }
    if (in->stopping && got)
        loop_timer_arm(l, in->quiet_timer, INPUT_STOP_QUIET_MS, false);
    if (got < INPUT_FRAMES_PER_TURN && in->ops->idle)
        return in->ops->idle(in->ctx);
    return 0;
}

static int on_quiet(loop_t *l, void *ctx)
{
    int rc = finish(ctx, NULL);
    return rc < 0 ? rc : LOOP_TIMER_OFF;
}

static void on_stop(struct stage *st, void *ctx)
{
    input_t *in = ctx;
    if (in->stopping)
        return;
    in->stopping = true;
    loop_timer_arm(st->loop, in->quiet_timer, INPUT_STOP_QUIET_MS, false);
}

input_t *input_new(struct stage *st, const char *endpoint,
                   frame_reader_t *reader, upstream_t *up,
                   const struct input_ops *ops, void *ctx)
{
    return input_new_acked(st, endpoint, reader, up, ops, NULL, ctx);
}

input_t *input_new_acked(struct stage *st, const char *endpoint,
                         frame_reader_t *reader, upstream_t *up,
                         const struct input_ops *ops, input_admit_fn admit,
                         void *ctx)
{
    input_t *in = calloc(1, sizeof(*in));
    if (!in) {
        log_error("out of memory");
        return NULL;
    }
    *in = (struct input){ .st = st, .reader = reader, .up = up, .ops = ops,
                          .admit = admit, .ctx = ctx,
                          .last_ns = clock_mono_ns() };
    in->frames_malformed = stats_add(st->stats, "frames_malformed");
    in->bus = bus_in_new(st->bus, endpoint, admit != NULL);
    if (!in->bus) {
        log_error("cannot bind %s: %s", endpoint, zmq_strerror(errno));
        input_destroy(&in);
        return NULL;
    }
    in->source = loop_add_socket(st->loop, bus_in_socket(in->bus),
                                 on_readable, in);
    in->quiet_timer = loop_add_timer(st->loop, LOOP_TIMER_OFF, on_quiet, in);
    if (in->source < 0 || in->quiet_timer < 0 || !in->frames_malformed) {
        log_error("input %s: too many sources, timers or counters",
                  endpoint);
        input_destroy(&in);
        return NULL;
    }
    stage_on_stop(st, on_stop, in);
    return in;
}

void input_destroy(input_t **inp)
{
    if (!inp || !*inp)
        return;
    bus_in_destroy(&(*inp)->bus);
    free(*inp);
    *inp = NULL;
}

void input_pause(input_t *in, bool paused)
{
    loop_pause(in->st->loop, in->source, paused);
}

int input_reply(input_t *in, struct bytes peer, enum frame_type type,
                const void *body, size_t len)
{
    return bus_in_reply(in->bus, peer, type, body, len);
}

uint64_t input_last_ns(const input_t *in)
{
    return in->last_ns;
}
