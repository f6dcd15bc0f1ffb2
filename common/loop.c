/* loop.c - sources and timers around one zmq_poll. */
#include "loop.h"
#include "clock.h"

#include <errno.h>
#include <stdlib.h>
#include <zmq.h>

struct source {
    loop_source_fn fn;
    void *ctx;
    bool paused;
};

struct timer {
    loop_timer_fn fn;
    void *ctx;
    bool armed;
    uint64_t due_ns;
};

struct loop {
    zmq_pollitem_t items[LOOP_MAX_SOURCES];
    struct source sources[LOOP_MAX_SOURCES];
    unsigned n_sources;
    struct timer timers[LOOP_MAX_TIMERS];
    unsigned n_timers;
    bool stopped;
    int stop_rc;
};

loop_t *loop_new(void)
{
    return calloc(1, sizeof(loop_t));
}

void loop_destroy(loop_t **l)
{
    if (!l || !*l)
        return;
    free(*l);
    *l = NULL;
}

static int add_source(loop_t *l, void *socket, int fd, loop_source_fn fn,
                      void *ctx)
{
    if (l->n_sources == LOOP_MAX_SOURCES)
        return -ENOSPC;
    unsigned i = l->n_sources++;
    l->items[i] = (zmq_pollitem_t){ socket, fd, ZMQ_POLLIN, 0 };
    l->sources[i] = (struct source){ fn, ctx, false };
    return (int)i;
}

int loop_add_socket(loop_t *l, void *socket, loop_source_fn fn, void *ctx)
{
    return add_source(l, socket, 0, fn, ctx);
}

int loop_add_fd(loop_t *l, int fd, loop_source_fn fn, void *ctx)
{
    return add_source(l, NULL, fd, fn, ctx);
}

void loop_pause(loop_t *l, int source, bool paused)
{
    if (source >= 0 && (unsigned)source < l->n_sources)
        l->sources[source].paused = paused;
}

int loop_add_timer(loop_t *l, int after_ms, loop_timer_fn fn, void *ctx)
{
    if (l->n_timers == LOOP_MAX_TIMERS)
        return -ENOSPC;
    int id = (int)l->n_timers++;
    l->timers[id] = (struct timer){ fn, ctx, false, 0 };
    loop_timer_arm(l, id, after_ms, false);
    return id;
}

void loop_timer_arm(loop_t *l, int timer, int after_ms, bool earliest)
{
    if (timer < 0 || (unsigned)timer >= l->n_timers)
        return;
    struct timer *t = &l->timers[timer];
    if (after_ms < 0) {
        t->armed = false;
        return;
    }
    uint64_t due = clock_mono_ns() + (uint64_t)after_ms * NS_PER_MS;
    if (earliest && t->armed && t->due_ns <= due)
        return;
    t->armed = true;
    t->due_ns = due;
}

void loop_stop(loop_t *l, int rc)
{
    l->stopped = true;
    l->stop_rc = rc;
}

int loop_ms_until(uint64_t deadline_ns, int cap_ms)
{
    uint64_t now = clock_mono_ns();
    if (deadline_ns <= now)
        return 0;
    uint64_t ms = (deadline_ns - now + NS_PER_MS - 1) / NS_PER_MS;
    return ms > (uint64_t)cap_ms ? cap_ms : (int)ms;
}

/* Poll timeout: until the nearest armed timer; -1 (forever) when none. */
static long next_timeout(const loop_t *l)
{
    long best = -1;
    for (unsigned i = 0; i < l->n_timers; i++) {
        const struct timer *t = &l->timers[i];
        if (!t->armed)
            continue;
        long ms = loop_ms_until(t->due_ns, 3600 * 1000);
        if (best < 0 || ms < best)
            best = ms;
    }
    return best;
}

static int run_timers(loop_t *l)
{
    uint64_t now = clock_mono_ns();
    for (unsigned i = 0; i < l->n_timers && !l->stopped; i++) {
        struct timer *t = &l->timers[i];
        if (!t->armed || t->due_ns > now)
            continue;
        t->armed = false;
        int next = t->fn(l, t->ctx);
        if (next < LOOP_TIMER_OFF)
            return next;
        /* the handler may have re-armed it itself */
        if (next >= 0)
            loop_timer_arm(l, (int)i, next, true);
    }
    return 0;
}

/* Polls the unpaused sources; paused ones get an fd of -1, which poll()
 * and zmq_poll() skip. */
static int poll_sources(loop_t *l, long timeout)
{
    zmq_pollitem_t items[LOOP_MAX_SOURCES];
    for (unsigned i = 0; i < l->n_sources; i++) {
        items[i] = l->items[i];
        if (l->sources[i].paused) {
            items[i].socket = NULL;
            items[i].fd = -1;
        }
        items[i].revents = 0;
    }
    int n = zmq_poll(items, (int)l->n_sources, timeout);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (unsigned i = 0; i < l->n_sources && !l->stopped; i++) {
        if (!(items[i].revents & ZMQ_POLLIN) || l->sources[i].paused)
            continue;
        int rc = l->sources[i].fn(l, l->sources[i].ctx);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int loop_run(loop_t *l)
{
    l->stopped = false;
    l->stop_rc = 0;
    while (!l->stopped) {
        int rc = poll_sources(l, next_timeout(l));
        if (rc == 0 && !l->stopped)
            rc = run_timers(l);
        if (rc < 0)
            return rc;
    }
    return l->stop_rc;
}
