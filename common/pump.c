/* pump.c - the shared input loop of frame-to-frame stages. */
#include "pump.h"
#include "log.h"

#include <errno.h>

struct pump {
    struct stage *st;
    frame_reader_t *reader;
    upstream_t *up;
    uint64_t *frames_malformed;
    const struct pump_ops *ops;
    void *ctx;
    struct log_limit bad;
};

/* 1 when the input has ended, 0 to go on, -errno on failure. */
static int pump_frame(struct pump *p, const void *topic, size_t tlen,
                      const void *body, size_t blen)
{
    struct frame f;
    int rc = frame_read(p->reader, topic, tlen, body, blen, &f);
    if (rc != 0) {
        (*p->frames_malformed)++;
        log_limited(&p->bad, LOG_WARN, "dropped a bad frame: %s",
                    rc == -EPROTONOSUPPORT ? "unsupported version"
                    : rc == -ENOMSG        ? "unknown topic"
                                           : "malformed");
        return 0;
    }
    if (!upstream_frame(p->up, &f)) {
        (*p->frames_malformed)++;
        return 0;
    }
    if (f.type != FRAME_EOF)
        return p->ops->frame(p->ctx, &f);
    if (!upstream_eof(p->up, &f))
        return 0;
    rc = p->ops->end(p->ctx, &f);
    return rc < 0 ? rc : 1;
}

int pump_run(struct stage *st, bus_in_t *in, frame_reader_t *reader,
             upstream_t *up, uint64_t *frames_malformed,
             const struct pump_ops *ops, void *ctx)
{
    struct pump p = { st, reader, up, frames_malformed, ops, ctx, { 0, 0 } };
    zmq_pollitem_t items[2] = {
        stage_pollitem(st),
        { bus_in_socket(in), 0, ZMQ_POLLIN, 0 },
    };
    for (;;) {
        int timeout = stage_tick(st);
        bool pending = ops->pending(ctx);
        if (pending && timeout > PUMP_IDLE_FLUSH_MS)
            timeout = PUMP_IDLE_FLUSH_MS;
        if (st->stop && timeout > PUMP_STOP_QUIET_MS)
            timeout = PUMP_STOP_QUIET_MS;
        int n = zmq_poll(items, 2, timeout);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (items[0].revents)
            stage_handle_signal(st);
        if (st->stop && !items[1].revents && !pending)
            return ops->end(ctx, NULL);
        if (n == 0 && pending) {
            int rc = ops->flush(ctx);
            if (rc < 0)
                return rc;
            continue;
        }
        for (int i = 0; i < PUMP_FRAMES_PER_TURN; i++) {
            const void *topic, *body;
            size_t tlen, blen;
            int got = bus_in_recv(in, 0, &topic, &tlen, &body, &blen);
            if (got == 0)
                break;
            if (got < 0) {
                (*frames_malformed)++;
                continue;
            }
            int rc = pump_frame(&p, topic, tlen, body, blen);
            if (rc != 0)
                return rc < 0 ? rc : 0;
        }
    }
}
