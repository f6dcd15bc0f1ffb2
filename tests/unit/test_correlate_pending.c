/* test_correlate_pending.c - waits in FIFOs and moved waits in heaps.
 *
 * Requests are added in the order of their last byte, so each policy's
 * FIFO is in deadline order; some are then moved to later deadlines in
 * another order (their responses began), some removed from anywhere and
 * some expired into tombstones. Whatever the mix, expiry must hand out
 * live waits before tombstones, each in deadline order, and every entry
 * exactly once; lookups must find moved entries as the others.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock.h"
#include "config.h"
#include "frame.h"
#include "pending.h"
#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 2000
#define MS NS_PER_MS

static const char yaml[] =
    "policies:\n"
    "  p:\n"
    "    - wait_for_response: 1s\n"
    "  q:\n"
    "    - wait_for_response: {timeout: 2s, max_response: 1m}\n";

/* A small deterministic generator (xorshift), so a failure repeats. */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(uint64_t n)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state % n;
}

struct model {
    bool present, moved, tombstone;
    uint64_t deadline;
};

static void request(uint32_t i, char *uid, struct http_msg *m)
{
    memset(m, 0, sizeof(*m));
    snprintf(uid, 17, "%016x", i % 7);
    m->kind = MSG_REQ;
    m->uid = bytes_of(uid);
    m->idx = i;
    m->ts_ns = m->ts_end_ns = (1000 + i) * MS;
}

static void test_order(void **state)
{
    (void)state;
    char err[256];
    struct config *cfg = NULL;
    assert_int_equal(config_load_string(yaml, "p.yaml", &cfg, err,
                                        sizeof(err)), 0);
    const struct config_policy *pol[2] = { config_policy_find(cfg, "p"),
                                           config_policy_find(cfg, "q") };
    stats_t *st = stats_new("correlate", "correlate");
    pending_t *p = pending_new(N, st);
    assert_non_null(p);
    static struct model m[N];
    memset(m, 0, sizeof(m));
    char uid[17];
    struct http_msg req;
    for (uint32_t i = 0; i < N; i++) {
        request(i, uid, &req);
        const struct config_policy *pl = pol[rnd(2)];
        pending_entry_t *e = pending_add(p, &req, pl, NULL, 0);
        assert_non_null(e);
        m[i] = (struct model){ true, false, false, pending_deadline(e) };
        assert_int_equal(m[i].deadline,
                         req.ts_end_ns +
                             pl->steps[pl->wait_step].timeout_ns);
    }
    /* Moves in random order, to random later deadlines. */
    for (uint32_t k = 0; k < N / 2; k++) {
        uint32_t i = (uint32_t)rnd(N);
        request(i, uid, &req);
        pending_entry_t *e = pending_find(p, req.uid, i);
        if (m[i].moved)
            continue;
        uint64_t d = m[i].deadline + rnd(60000) * MS;
        assert_int_equal(pending_move(p, e, d), 0);
        assert_true(pending_is_moved(e));
        m[i].moved = true;
        m[i].deadline = d;
    }
    /* Removals from anywhere: FIFO heads, middles, heap middles. */
    for (uint32_t k = 0; k < N / 4; k++) {
        uint32_t i = (uint32_t)rnd(N);
        if (!m[i].present)
            continue;
        request(i, uid, &req);
        pending_entry_t *e = pending_find(p, req.uid, i);
        assert_non_null(e);
        pending_remove(p, e);
        m[i].present = false;
    }
    /* Expire the first third of live waits into tombstones. */
    uint64_t last = 0;
    uint32_t buried = 0;
    pending_entry_t *e;
    while (buried < N / 3 && (e = pending_next_expired(p, UINT64_MAX)) &&
           !pending_is_tombstone(e)) {
        assert_true(pending_deadline(e) >= last);
        last = pending_deadline(e);
        const struct req_summary *s = pending_summary(e);
        assert_true(m[s->idx].present && !m[s->idx].tombstone);
        assert_int_equal(m[s->idx].deadline, last);
        pending_bury(p, e);
        const struct config_policy *pl = pending_policy(e);
        m[s->idx].tombstone = true;
        m[s->idx].deadline = last + pl->steps[pl->wait_step].timeout_ns;
        assert_int_equal(pending_deadline(e), m[s->idx].deadline);
        buried++;
    }
    /* Everything else: live in deadline order, then tombstones. */
    bool tombstones = false;
    last = 0;
    uint32_t left = 0;
    for (uint32_t i = 0; i < N; i++)
        left += m[i].present;
    while ((e = pending_next_expired(p, UINT64_MAX))) {
        const struct req_summary *s = pending_summary(e);
        if (pending_is_tombstone(e) && !tombstones) {
            tombstones = true;
            last = 0;
        }
        assert_int_equal(pending_is_tombstone(e), tombstones);
        assert_true(pending_deadline(e) >= last);
        last = pending_deadline(e);
        assert_true(m[s->idx].present);
        assert_int_equal(m[s->idx].deadline, last);
        assert_int_equal(pending_is_moved(e), m[s->idx].moved);
        m[s->idx].present = false;
        pending_remove(p, e);
        left--;
    }
    assert_int_equal(left, 0);
    assert_null(pending_any(p));
    assert_int_equal(stats_get(st, "pending"), 0);
    pending_destroy(&p);
    assert_null(p);
    stats_destroy(&st);
    config_destroy(&cfg);
}

/* Moved waits and their tombstones are freed with the table. */
static void test_destroy_with_moved(void **state)
{
    (void)state;
    char err[256], uid[17];
    struct config *cfg = NULL;
    assert_int_equal(config_load_string(yaml, "p.yaml", &cfg, err,
                                        sizeof(err)), 0);
    const struct config_policy *pol = config_policy_find(cfg, "q");
    stats_t *st = stats_new("correlate", "correlate");
    pending_t *p = pending_new(16, st);
    struct http_msg req;
    for (uint32_t i = 0; i < 3; i++) {
        request(i, uid, &req);
        pending_entry_t *e = pending_add(p, &req, pol, "raw", 3);
        assert_int_equal(pending_move(p, e, pending_deadline(e) + 1), 0);
        if (i == 0)
            pending_bury(p, e);
    }
    pending_entry_t *e = pending_any(p);
    assert_false(pending_is_tombstone(e)); /* live waits first */
    assert_int_equal(pending_summary(e)->idx, 1);
    pending_destroy(&p);
    stats_destroy(&st);
    config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_destroy_with_moved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
