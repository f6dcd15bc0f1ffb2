/* test_logger_producers.c - the logger's intake on its acknowledged input.
 *
 * Frames are taken strictly in order per producer incarnation; a frame
 * sent again is dropped and acknowledged again; one after a gap waits;
 * acknowledgements go out only after a commit, for what it covered; and
 * a logger opened again on the same trail knows where each producer
 * stood, so nothing committed is taken twice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "producers.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define A "correlate:00000000000000a1"
#define B "correlate:00000000000000b2"

struct fixture {
    char dir[64];
    stats_t *st;
    frame_reader_t *reader;
    uint64_t acked[4];            /* seqs acknowledged, in order */
    char acked_to[4][64];
    unsigned n_acked;
};

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    return remove(path);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/hark-producers-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    strcat(fx->dir, "/db");
    fx->st = stats_new("logger", "logger");
    fx->reader = frame_reader_new();
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    *strrchr(fx->dir, '/') = '\0';
    nftw(fx->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    stats_destroy(&fx->st);
    frame_reader_destroy(&fx->reader);
    free(fx);
    return 0;
}

static int reply(void *ctx, struct bytes peer, const void *body, size_t len)
{
    struct fixture *fx = ctx;
    struct frame f;
    assert_int_equal(frame_read(fx->reader, "ack", 3, body, len, &f), 0);
    assert_true(fx->n_acked < 4);
    snprintf(fx->acked_to[fx->n_acked], sizeof(fx->acked_to[0]), "%.*s",
             (int)peer.n, peer.p);
    fx->acked[fx->n_acked++] = f.seq;
    return 0;
}

static bool admit(producers_t *p, const char *peer, uint64_t seq)
{
    struct frame f = { .type = FRAME_LOG, .seq = seq };
    return producers_admit(p, &f, bytes_of(peer));
}

static void commit(producers_t *p, store_t *s)
{
    char err[256];
    assert_int_equal(producers_stage(p), 0);
    assert_int_equal(store_commit(s, true, err, sizeof(err)), 0);
    producers_committed(p);
}

static void test_in_order_once(void **state)
{
    struct fixture *fx = *state;
    store_t *s = NULL;
    char err[256];
    assert_int_equal(store_open(fx->dir, STORE_CREATE, &s, err, sizeof(err)),
                     0);
    producers_t *p = producers_new(s, "logger", fx->st, reply, fx);
    assert_false(producers_pending(p));
    assert_true(admit(p, A, 0));
    assert_true(admit(p, A, 1));
    assert_false(admit(p, A, 3));  /* a gap: waits for 2 */
    assert_true(admit(p, A, 2));
    assert_false(admit(p, A, 1));  /* sent again before the commit */
    assert_int_equal(fx->n_acked, 0); /* nothing committed: no ack */
    assert_true(producers_pending(p));
    commit(p, s);
    assert_false(producers_pending(p));
    assert_int_equal(fx->n_acked, 1);
    assert_int_equal(fx->acked[0], 2);
    assert_string_equal(fx->acked_to[0], A);
    /* a duplicate after the commit is acknowledged again */
    assert_false(admit(p, A, 0));
    assert_int_equal(fx->n_acked, 2);
    assert_int_equal(fx->acked[1], 2);
    /* a producer without an incarnation id is taken as it comes */
    assert_true(admit(p, "odd-producer", 5));
    assert_true(admit(p, "odd-producer", 5));
    assert_false(producers_pending(p));
    assert_int_equal(stats_get(fx->st, "frames_duplicate"), 2);
    assert_int_equal(stats_get(fx->st, "frames_out_of_order"), 1);
    assert_true(admit(p, A, 3));
    producers_destroy(&p);
    store_close(&s); /* 3 was never committed */

    /* the logger restarts on the same trail */
    fx->n_acked = 0;
    assert_int_equal(store_open(fx->dir, STORE_CREATE, &s, err, sizeof(err)),
                     0);
    p = producers_new(s, "logger", fx->st, reply, fx);
    assert_false(admit(p, A, 2));  /* committed before: acknowledged */
    assert_int_equal(fx->n_acked, 1);
    assert_int_equal(fx->acked[0], 2);
    assert_true(admit(p, A, 3));   /* sent again: taken now */
    /* a new incarnation starts at 0 */
    assert_false(admit(p, B, 1));
    assert_true(admit(p, B, 0));
    commit(p, s);
    assert_int_equal(fx->n_acked, 3);
    uint64_t seq;
    /* B's first commit retired A's entry */
    assert_int_equal(store_producer_get(s, bytes_of(A), &seq), -ENOENT);
    assert_int_equal(store_producer_get(s, bytes_of(B), &seq), 0);
    assert_int_equal(seq, 0);
    producers_destroy(&p);
    store_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_in_order_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
