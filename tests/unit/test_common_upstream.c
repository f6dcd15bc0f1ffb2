/* test_common_upstream.c - producer accounting of a stage's input.
 *
 * Sequence jumps and restarts, the watermark as the minimum over the
 * expected producers, eof, and producer ids a bad frame can carry: none
 * ("src" missing) or one with a NUL, which must not take a slot each time
 * and hold the watermark back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "upstream.h"

#include <string.h>

static struct frame mkframe(enum frame_type type, const char *src,
                            size_t src_len, uint64_t seq, uint64_t wm)
{
    struct frame f;
    memset(&f, 0, sizeof(f));
    f.type = type;
    f.src.p = src;
    f.src.n = (uint32_t)src_len;
    f.seq = seq;
    f.wm_ns = wm;
    return f;
}

static void test_seq_and_watermark(void **state)
{
    (void)state;
    stats_t *st = stats_new("t", "t");
    upstream_t *u = upstream_new(2, st);
    assert_non_null(u);
    struct frame f = mkframe(FRAME_MSG, "a", 1, 0, 10);
    assert_true(upstream_frame(u, &f));
    assert_int_equal(upstream_watermark(u), 0); /* b not heard from */
    /* Joining b at its 5th frame (we restarted) is not a loss. */
    f = mkframe(FRAME_MSG, "b", 1, 4, 7);
    assert_true(upstream_frame(u, &f));
    assert_int_equal(upstream_watermark(u), 7);
    assert_int_equal(stats_get(st, "frames_lost"), 0);
    assert_int_equal(stats_get(st, "frames_before_join"), 4);
    /* a jump counts as lost; a restart (back to 0) does not */
    f = mkframe(FRAME_MSG, "a", 1, 3, 12);
    assert_true(upstream_frame(u, &f));
    assert_int_equal(stats_get(st, "frames_lost"), 2);
    f = mkframe(FRAME_MSG, "b", 1, 0, 1);
    assert_true(upstream_frame(u, &f));
    assert_int_equal(stats_get(st, "frames_lost"), 2);
    assert_int_equal(upstream_watermark(u), 7); /* never goes back */
    f = mkframe(FRAME_EOF, "b", 1, 1, 9);
    assert_true(upstream_frame(u, &f));
    assert_false(upstream_eof(u, &f));
    assert_int_equal(upstream_watermark(u), 12);
    f = mkframe(FRAME_EOF, "a", 1, 4, 12);
    assert_true(upstream_frame(u, &f));
    assert_true(upstream_eof(u, &f));
    upstream_destroy(&u);
    assert_null(u);
    stats_destroy(&st);
}

static void test_bad_ids(void **state)
{
    (void)state;
    stats_t *st = stats_new("t", "t");
    upstream_t *u = upstream_new(1, st);
    assert_non_null(u);
    /* no "src": a producer with the empty id, and no read through NULL */
    struct frame f = mkframe(FRAME_MSG, NULL, 0, 0, 5);
    assert_true(upstream_frame(u, &f));
    assert_int_equal(upstream_watermark(u), 5);
    upstream_destroy(&u);

    u = upstream_new(1, st);
    f = mkframe(FRAME_MSG, "a", 1, 0, 5);
    assert_true(upstream_frame(u, &f));
    /* an id with a NUL is refused every time, not given a slot that
     * never matches again and never ends */
    for (int i = 0; i < 3; i++) {
        f = mkframe(FRAME_MSG, "a\0x", 3, (uint64_t)i, 1);
        assert_false(upstream_frame(u, &f));
    }
    assert_int_equal(stats_get(st, "producers_refused"), 3);
    f = mkframe(FRAME_MSG, "a", 1, 1, 8);
    assert_true(upstream_frame(u, &f));
    assert_int_equal(upstream_watermark(u), 8);
    f = mkframe(FRAME_EOF, "a", 1, 2, 8);
    assert_true(upstream_frame(u, &f));
    assert_true(upstream_eof(u, &f));
    upstream_destroy(&u);
    stats_destroy(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seq_and_watermark),
        cmocka_unit_test(test_bad_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
