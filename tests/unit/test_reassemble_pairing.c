/* test_reassemble_pairing.c - which request a response answers.
 *
 * Each row is a connection told as events with stream offsets: requests
 * (client offsets, and the server offset they acknowledged when sent),
 * unparsed holes of either stream, and responses (server offset, client
 * offset acknowledged). Expected: each response's request (or orphan),
 * its flags, and the requests reported lost before it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pairing.h"

#include <string.h>

enum ev_kind { END, REQ, CUR, HOLE_C, HOLE_S, RESP, RESP_END };

struct ev {
    enum ev_kind kind;
    uint64_t a, b, c;      /* REQ: start, end, ack; CUR: start, ack;
                              HOLE: start, end; RESP: start, ack;
                              RESP_END: end */
    /* RESP: expected */
    int idx;               /* -1 orphan */
    uint32_t flags;
    uint32_t lost_first, n_lost;
};

#define REQUEST(s, e, ack) { REQ, s, e, ack, 0, 0, 0, 0 }
#define UNDER_WAY(s, ack) { CUR, s, ack, 0, 0, 0, 0, 0 }
#define CLIENT_HOLE(s, e) { HOLE_C, s, e, 0, 0, 0, 0, 0 }
#define SERVER_HOLE(s, e) { HOLE_S, s, e, 0, 0, 0, 0, 0 }
#define RESPONSE(s, ack, idx, flags) { RESP, s, ack, 0, idx, flags, 0, 0 }
#define RESPONSE_LOST(s, ack, idx, flags, first, n) \
    { RESP, s, ack, 0, idx, flags, first, n }
#define ENDS(e) { RESP_END, e, 0, 0, 0, 0, 0, 0 }

struct row {
    const char *label;
    struct ev ev[16];
};

static const struct row rows[] = {
    { "one after the other",
      { REQUEST(0, 100, 0), RESPONSE(0, 100, 0, 0), ENDS(300),
        REQUEST(100, 200, 300), RESPONSE(300, 200, 1, 0), ENDS(500) } },
    { "pipelined, clean: in order, certain",
      { REQUEST(0, 100, 0), REQUEST(100, 200, 0), REQUEST(200, 300, 0),
        RESPONSE(0, 300, 0, 0), ENDS(100), RESPONSE(100, 300, 1, 0),
        ENDS(200), RESPONSE(200, 300, 2, 0), ENDS(300) } },
    { "a whole response lost: the next pairs with its own request",
      { REQUEST(0, 100, 0), SERVER_HOLE(0, 300),
        REQUEST(100, 200, 300), RESPONSE_LOST(300, 200, 1, 0, 0, 1),
        ENDS(400) } },
    { "two responses lost in one hole",
      { REQUEST(0, 100, 0), SERVER_HOLE(0, 600),
        REQUEST(100, 200, 300), REQUEST(200, 300, 600),
        RESPONSE_LOST(600, 300, 2, 0, 0, 2), ENDS(700) } },
    { "a response's start lost while the next request is under way",
      { REQUEST(0, 100, 0), SERVER_HOLE(0, 300), UNDER_WAY(100, 300),
        RESPONSE_LOST(300, 150, 1, PAIRING_EARLY, 0, 1) } },
    { "pipelined around a lost response: oldest, but uncertain",
      { REQUEST(0, 100, 0), REQUEST(100, 200, 0), REQUEST(200, 300, 0),
        SERVER_HOLE(0, 100), RESPONSE(100, 300, 0, PAIRING_UNCERTAIN),
        ENDS(200), RESPONSE(200, 300, 1, PAIRING_UNCERTAIN), ENDS(300),
        /* no request left that a shifted count could point at: anchored */
        RESPONSE(300, 300, 2, 0) } },
    { "early response: answers the request still arriving",
      { UNDER_WAY(0, 0), RESPONSE(0, 1000, 0, PAIRING_EARLY) } },
    { "nothing asked: orphan",
      { RESPONSE(0, 0, -1, PAIRING_ORPHAN) } },
    { "the request sent after the response began is not its request",
      { REQUEST(0, 100, 500), RESPONSE(0, 100, -1, PAIRING_ORPHAN) } },
    { "a request lost in a client hole: its response is an orphan, the "
      "next pair is uncertain once",
      { CLIENT_HOLE(0, 100), RESPONSE(0, 100, -1, PAIRING_ORPHAN),
        ENDS(300), REQUEST(100, 200, 300),
        RESPONSE(300, 200, 0, PAIRING_UNCERTAIN), ENDS(500),
        REQUEST(200, 300, 500), RESPONSE(500, 300, 1, 0) } },
    { "a hole inside a paired response's body is not a lost response",
      { REQUEST(0, 100, 0), RESPONSE(0, 100, 0, 0), SERVER_HOLE(50, 80),
        ENDS(300), REQUEST(100, 200, 300), RESPONSE(300, 200, 1, 0) } },
};

static void run_row(const struct row *row)
{
    struct pairing p;
    memset(&p, 0, sizeof(p));
    uint32_t next_idx = 0;
    struct pairing_req cur;
    bool have_cur = false;
    print_message("row: %s\n", row->label);
    for (int i = 0; i < 16 && row->ev[i].kind != END; i++) {
        const struct ev *e = &row->ev[i];
        struct pairing_result res;
        uint32_t evicted;
        switch (e->kind) {
        case REQ: {
            struct pairing_req r = { next_idx++, e->a, e->b, e->c,
                                     PAIRING_NORMAL };
            assert_true(pairing_request(&p, &r, &evicted));
            break;
        }
        case CUR:
            cur = (struct pairing_req){ next_idx, e->a, 0, e->b,
                                        PAIRING_NORMAL };
            have_cur = true;
            break;
        case HOLE_C: pairing_hole(&p, 0, e->a, e->b); break;
        case HOLE_S: pairing_hole(&p, 1, e->a, e->b); break;
        case RESP:
            pairing_response(&p, e->a, e->b, have_cur ? &cur : NULL, &res);
            assert_int_equal(res.paired, e->idx >= 0);
            if (e->idx >= 0)
                assert_int_equal(res.idx, (uint32_t)e->idx);
            assert_int_equal(res.flags, e->flags);
            assert_int_equal(res.n_lost, e->n_lost);
            if (e->n_lost)
                assert_int_equal(res.lost_first, e->lost_first);
            if (e->flags & PAIRING_EARLY)
                assert_int_equal(res.early_bytes, e->b - cur.start);
            break;
        case RESP_END: pairing_response_end(&p, e->a); break;
        case END: break;
        }
    }
    pairing_release(&p);
}

static void test_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        run_row(&rows[i]);
}

static void test_early_then_complete(void **state)
{
    (void)state;
    struct pairing p;
    memset(&p, 0, sizeof(p));
    struct pairing_req cur = { 0, 0, 0, 0, PAIRING_NORMAL };
    struct pairing_result res;
    pairing_response(&p, 0, 500, &cur, &res);
    assert_int_equal(res.flags, PAIRING_EARLY);
    pairing_response_end(&p, 200);
    /* The request completes later: it is not queued again, and the next
     * request pairs with the next response. */
    assert_false(pairing_take_early(&p, 1, 9000));
    assert_true(pairing_take_early(&p, 0, 9000));
    assert_false(pairing_take_early(&p, 0, 9000));
    struct pairing_req next = { 1, 9000, 9100, 200, PAIRING_HEAD };
    uint32_t evicted;
    assert_true(pairing_request(&p, &next, &evicted));
    pairing_response(&p, 200, 9100, NULL, &res);
    assert_true(res.paired);
    assert_int_equal(res.idx, 1);
    assert_int_equal(res.cls, PAIRING_HEAD);
    assert_int_equal(res.flags, 0);
    pairing_release(&p);
}

static void test_queue_cap(void **state)
{
    (void)state;
    struct pairing p;
    memset(&p, 0, sizeof(p));
    uint32_t evicted = 0;
    for (uint32_t i = 0; i < PAIRING_MAX_PENDING; i++) {
        struct pairing_req r = { i, i * 10, i * 10 + 10, 0, PAIRING_NORMAL };
        assert_true(pairing_request(&p, &r, &evicted));
    }
    struct pairing_req r = { 999, 5000, 5010, 0, PAIRING_NORMAL };
    assert_false(pairing_request(&p, &r, &evicted));
    assert_int_equal(evicted, 0);
    struct pairing_result res;
    pairing_response(&p, 0, 6000, NULL, &res);
    assert_int_equal(res.idx, 1);
    assert_int_equal(pairing_mem(&p),
                     PAIRING_MAX_PENDING * sizeof(struct pairing_req));
    pairing_release(&p);
    assert_int_equal(pairing_mem(&p), 0);
}

static void test_hole_table_full_stays_cautious(void **state)
{
    (void)state;
    struct pairing p;
    memset(&p, 0, sizeof(p));
    for (uint64_t i = 0; i < 3 * PAIRING_MAX_HOLES; i++)
        pairing_hole(&p, 1, i * 100, i * 100 + 10);
    assert_int_equal(p.n_holes[1], PAIRING_MAX_HOLES);
    /* the oldest hole still starts where the first did */
    assert_int_equal(p.holes[1][0].start, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_early_then_complete),
        cmocka_unit_test(test_queue_cap),
        cmocka_unit_test(test_hole_table_full_stays_cautious),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
