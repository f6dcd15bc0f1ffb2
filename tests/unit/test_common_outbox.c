/* test_common_outbox.c - frames kept until acknowledged.
 *
 * Kept in order across ring growth and wrap-around, released up to an
 * acknowledged seq (never past it, never twice), full at either limit
 * and never dropping, and handed out again with their bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "outbox.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void keep(outbox_t *o, uint64_t seq, size_t len)
{
    zmq_msg_t m;
    assert_int_equal(zmq_msg_init_size(&m, len), 0);
    memset(zmq_msg_data(&m), (int)(seq & 0xff), len);
    assert_int_equal(outbox_keep(o, seq, FRAME_LOG, &m, 1000 + seq), 0);
    zmq_msg_close(&m); /* the outbox holds its own reference */
}

static void expect_frame(outbox_t *o, unsigned i, uint64_t seq, size_t len)
{
    uint64_t got;
    enum frame_type t;
    zmq_msg_t m;
    assert_int_equal(outbox_get(o, i, &got, &t, &m), 0);
    assert_int_equal(got, seq);
    assert_int_equal(t, FRAME_LOG);
    assert_int_equal(zmq_msg_size(&m), len);
    const unsigned char *p = zmq_msg_data(&m);
    for (size_t k = 0; k < len; k++)
        assert_int_equal(p[k], seq & 0xff);
    zmq_msg_close(&m);
}

static void test_keep_ack_order(void **state)
{
    (void)state;
    outbox_t *o = outbox_new(1000, 1 << 20);
    assert_non_null(o);
    assert_int_equal(outbox_oldest_ns(o), 0);
    /* past the first ring size, with acks in between: wraps and grows;
     * `kept` is the oldest seq still kept */
    uint64_t next = 0, kept = 0;
    for (unsigned round = 0; round < 20; round++) {
        for (unsigned i = 0; i < 50; i++, next++)
            keep(o, next, 40 + next % 7);
        assert_int_equal(outbox_ack(o, kept + 29), 30);
        kept += 30;
    }
    assert_int_equal(outbox_count(o), next - kept);
    for (unsigned i = 0; i < outbox_count(o); i++)
        expect_frame(o, i, kept + i, 40 + (kept + i) % 7);
    assert_int_equal(outbox_oldest_ns(o), 1000 + kept);
    /* an old or repeated acknowledgement releases nothing */
    assert_int_equal(outbox_ack(o, kept - 1), 0);
    assert_int_equal(outbox_ack(o, 3), 0);
    uint64_t seq;
    enum frame_type t;
    zmq_msg_t m;
    assert_int_equal(outbox_get(o, outbox_count(o), &seq, &t, &m), -ENOENT);
    assert_int_equal(outbox_ack(o, UINT64_MAX), next - kept);
    assert_int_equal(outbox_count(o), 0);
    assert_int_equal(outbox_bytes(o), 0);
    outbox_destroy(&o);
    outbox_destroy(&o);
    assert_null(o);
}

static void test_full_never_drops(void **state)
{
    (void)state;
    outbox_t *o = outbox_new(4, 1000);
    for (uint64_t s = 0; s < 3; s++)
        keep(o, s, 100);
    assert_false(outbox_full(o));
    keep(o, 3, 100);
    assert_true(outbox_full(o));   /* frames */
    keep(o, 4, 100);               /* still kept */
    assert_int_equal(outbox_count(o), 5);
    outbox_ack(o, 2);
    assert_false(outbox_full(o));
    keep(o, 5, 900);
    assert_true(outbox_full(o));   /* bytes: 100 + 100 + 900 */
    assert_int_equal(outbox_bytes(o), 1100);
    outbox_destroy(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keep_ack_order),
        cmocka_unit_test(test_full_never_drops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
