/* loop.h - the event loop every hark process runs (after redis's ae.c).
 *
 * Two kinds of events: a source (a ZeroMQ socket or a file descriptor)
 * that became readable, and a timer that fell due on the monotonic clock.
 * One turn: work out the nearest timer, zmq_poll the sources (EINTR is a
 * turn with no events), call the handler of each ready source, then the
 * handlers of the due timers. A handler that returns a negative value
 * stops the loop with it; loop_stop() ends it after the current turn.
 *
 * The loop owns nothing it is given: sockets, fds and contexts are the
 * caller's and must outlive their registration.
 */
#ifndef HARK_LOOP_H
#define HARK_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#define LOOP_MAX_SOURCES 8
#define LOOP_MAX_TIMERS 8

/* A timer's handler returns the milliseconds until it runs again, or
 * LOOP_TIMER_OFF to stay disarmed until loop_timer_arm(); below that, an
 * error that stops the loop. */
#define LOOP_TIMER_OFF (-1)

typedef struct loop loop_t;

/* Called when the source is readable: 0 to go on, -errno to stop. */
typedef int (*loop_source_fn)(loop_t *l, void *ctx);
/* Called when the timer is due: see LOOP_TIMER_OFF. */
typedef int (*loop_timer_fn)(loop_t *l, void *ctx);

loop_t *loop_new(void);
void loop_destroy(loop_t **l);

/* Registers a ZeroMQ socket or an fd. Returns its id (>= 0), or -ENOSPC
 * past LOOP_MAX_SOURCES. */
int loop_add_socket(loop_t *l, void *socket, loop_source_fn fn, void *ctx);
int loop_add_fd(loop_t *l, int fd, loop_source_fn fn, void *ctx);

/* A paused source is not polled: what it holds waits (the logger leaves
 * its input unread while the trail cannot be written). */
void loop_pause(loop_t *l, int source, bool paused);

/* Registers a timer, armed to run after `after_ms` (LOOP_TIMER_OFF for
 * disarmed). Returns its id, or -ENOSPC past LOOP_MAX_TIMERS. */
int loop_add_timer(loop_t *l, int after_ms, loop_timer_fn fn, void *ctx);

/* (Re)arms a timer to run after `after_ms`, or disarms it with
 * LOOP_TIMER_OFF. Arming an armed timer earlier keeps the earlier time
 * only when `earliest` is true. */
void loop_timer_arm(loop_t *l, int timer, int after_ms, bool earliest);

/* Runs turns until a handler fails or loop_stop(). Returns the value
 * given to loop_stop(), a handler's error, or -errno when polling fails. */
int loop_run(loop_t *l);

/* Ends loop_run() after the current turn with `rc`. */
void loop_stop(loop_t *l, int rc);

/* Milliseconds from now until deadline_ns (monotonic), clamped to
 * [0, cap_ms]. */
int loop_ms_until(uint64_t deadline_ns, int cap_ms);

#endif
