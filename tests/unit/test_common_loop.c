/* test_common_loop.c - the event loop every stage runs.
 *
 * Timers run in deadline order and re-arm from their return value; a
 * readable fd calls its handler, a paused one does not; a handler's error
 * and loop_stop() end the run with their value; stats_attach reads a
 * module's own counter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock.h"
#include "loop.h"
#include "stats.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

struct trace {
    char order[16];
    unsigned n;
    int runs_left;    /* the repeating timer stops the loop after these */
    int pipe_reads;
    int fd;
};

static int timer_a(loop_t *l, void *ctx)
{
    struct trace *t = ctx;
    t->order[t->n++] = 'a';
    return LOOP_TIMER_OFF;
}

static int timer_b(loop_t *l, void *ctx)
{
    struct trace *t = ctx;
    t->order[t->n++] = 'b';
    return LOOP_TIMER_OFF;
}

static int repeating(loop_t *l, void *ctx)
{
    struct trace *t = ctx;
    t->order[t->n++] = 'r';
    if (--t->runs_left == 0) {
        loop_stop(l, 7);
        return LOOP_TIMER_OFF;
    }
    return 1;
}

static void test_timers_in_deadline_order(void **state)
{
    (void)state;
    struct trace t = { .runs_left = 3 };
    loop_t *l = loop_new();
    assert_non_null(l);
    /* registered out of order: b is due first */
    assert_true(loop_add_timer(l, 20, timer_a, &t) >= 0);
    assert_true(loop_add_timer(l, 5, timer_b, &t) >= 0);
    assert_true(loop_add_timer(l, 40, repeating, &t) >= 0);
    uint64_t t0 = clock_mono_ns();
    assert_int_equal(loop_run(l), 7);
    assert_string_equal(t.order, "barrr");
    /* the repeating timer re-armed itself at 1 ms twice after 40 ms */
    assert_true(clock_mono_ns() - t0 >= 40 * NS_PER_MS);
    loop_destroy(&l);
    assert_null(l);
    loop_destroy(&l); /* twice is safe */
}

static int on_pipe(loop_t *l, void *ctx)
{
    struct trace *t = ctx;
    char c;
    if (read(t->fd, &c, 1) == 1)
        t->pipe_reads++;
    return t->pipe_reads == 2 ? -EPIPE : 0;
}

static int unpause_later(loop_t *l, void *ctx)
{
    loop_pause(l, 0, false);
    return LOOP_TIMER_OFF;
}

static void test_fd_source_pause_and_error(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct trace t = { .fd = p[0] };
    loop_t *l = loop_new();
    assert_int_equal(loop_add_fd(l, p[0], on_pipe, &t), 0);
    assert_true(loop_add_timer(l, 30, unpause_later, &t) >= 0);
    loop_pause(l, 0, true);
    assert_int_equal(write(p[1], "xy", 2), 2);
    uint64_t t0 = clock_mono_ns();
    /* Paused, the bytes wait; once resumed, the second read fails the
     * handler, which ends the run with its error. */
    assert_int_equal(loop_run(l), -EPIPE);
    assert_int_equal(t.pipe_reads, 2);
    assert_true(clock_mono_ns() - t0 >= 30 * NS_PER_MS);
    loop_destroy(&l);
    close(p[0]);
    close(p[1]);
}

static void test_limits(void **state)
{
    (void)state;
    struct trace t = { 0 };
    loop_t *l = loop_new();
    for (int i = 0; i < LOOP_MAX_TIMERS; i++)
        assert_int_equal(loop_add_timer(l, LOOP_TIMER_OFF, timer_a, &t), i);
    assert_int_equal(loop_add_timer(l, 1, timer_a, &t), -ENOSPC);
    for (int i = 0; i < LOOP_MAX_SOURCES; i++)
        assert_int_equal(loop_add_fd(l, 0, on_pipe, &t), i);
    assert_int_equal(loop_add_fd(l, 0, on_pipe, &t), -ENOSPC);
    loop_destroy(&l);
}

static void test_ms_until(void **state)
{
    (void)state;
    uint64_t now = clock_mono_ns();
    assert_int_equal(loop_ms_until(now - NS_PER_SEC, 1000), 0);
    assert_int_equal(loop_ms_until(now + 3600 * NS_PER_SEC, 250), 250);
    int ms = loop_ms_until(now + 50 * NS_PER_MS, 1000);
    assert_true(ms > 40 && ms <= 50);
}

static void test_stats_attach(void **state)
{
    (void)state;
    stats_t *s = stats_new("t", "t-0");
    uint64_t module_counter = 5;
    uint64_t *own = stats_add(s, "own");
    assert_int_equal(stats_attach(s, "module", &module_counter), 0);
    assert_int_equal(stats_attach(s, "module", &module_counter), -EEXIST);
    assert_int_equal(stats_attach(s, "own", &module_counter), -EEXIST);
    /* an attached name cannot be taken over by stats_add */
    assert_null(stats_add(s, "module"));
    *own = 3;
    module_counter = 42;
    assert_int_equal(stats_get(s, "own"), 3);
    assert_int_equal(stats_get(s, "module"), 42);
    assert_int_equal(stats_count(s), 2);
    assert_string_equal(stats_name(s, 1), "module");
    assert_int_equal(stats_value(s, 1), 42);
    stats_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timers_in_deadline_order),
        cmocka_unit_test(test_fd_source_pause_and_error),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_ms_until),
        cmocka_unit_test(test_stats_attach),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
