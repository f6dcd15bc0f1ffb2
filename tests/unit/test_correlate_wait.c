/* test_correlate_wait.c - wait verdicts by packet time, case by case.
 *
 * Table-driven: each case is a sequence of events (requests, responses,
 * connection closes, watermarks, the end of input) with packet times in
 * milliseconds, the records the wait table must make, in order, written
 * as text by describe(), and its non-zero counters. Every message goes
 * through a real MSG frame and back, as correlate receives it.
 *
 * Verdicts depend on packet time only, so each case is run a second time
 * without its watermark events: the same records (in any order) and the
 * same counters must come out.
 *
 * Policy p waits 1s for the first byte (and 10 minutes for the whole
 * response): a request ending at 1000 has its deadline at 2000 and its
 * tombstone ends (it is forgotten) at 3000. Policy ceil waits 1s for the
 * first byte and 3s for the whole response: its ceiling is at 4000 and
 * its tombstone after the ceiling ends at 5000. Policy lb waits 1s for
 * the last byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock.h"
#include "config.h"
#include "early.h"
#include "frame.h"
#include "stats.h"
#include "wait.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS NS_PER_MS
#define MAX_EVENTS 12
#define MAX_RECORDS 8
#define TEXT_MAX 256

static const char yaml[] =
    "policies:\n"
    "  p:\n"
    "    - log: request\n"
    "    - wait_for_response: 1s\n"
    "    - log: {message: response, label: logged}\n"
    "  slow:\n"
    "    - log: request\n"
    "    - wait_for_response: 3s\n"
    "    - log: {message: response, label: slow}\n"
    "  after:\n"
    "    - wait_for_response: 1s\n"
    "    - log: {message: request, label: req-after}\n"
    "    - log: {message: response, label: resp-after}\n"
    "  nowait:\n"
    "    - log: request\n"
    "  ceil:\n"
    "    - wait_for_response: {timeout: 1s, max_response: 3s}\n"
    "    - log: {message: response, label: ceil}\n"
    "  lb:\n"
    "    - wait_for_response: {timeout: 1s, until: last_byte}\n"
    "    - log: {message: response, label: lb}\n";

/* ---- the table ------------------------------------------------------- */

enum ev_kind { EV_REQ, EV_RESP, EV_CONN, EV_WM, EV_EOF };

/* conn 'a' is uid 00000000000000aa ('x' gives 00000000000000xx, not hex).
 * t0/t1: first and last byte (ms); a watermark or the end of input is at
 * t1. A request is routed to policy at next_step (policy NULL: not
 * routed); a connection event is `event` with `reason` about n requests
 * from idx (a close: after n requests). flags: the message's. */
struct event {
    enum ev_kind kind;
    char conn;
    uint32_t idx;
    uint64_t t0, t1;
    const char *policy;
    int next_step;
    const char *event, *reason;
    uint32_t n;
    uint32_t flags;
};

struct wcase {
    const char *label;
    struct event ev[MAX_EVENTS];
    const char *want[MAX_RECORDS];
    const char *counters;
    uint32_t max_pending;     /* 0: the config's */
};

#define EARLY MSG_F_EARLY_RESPONSE
#define REQ(c, i, t0, t1) { EV_REQ, (c), (i), (t0), (t1), "p", 1, 0, 0, 0, 0 }
#define REQ_TO(c, i, t0, t1, pol, step) \
    { EV_REQ, (c), (i), (t0), (t1), (pol), (step), 0, 0, 0, 0 }
/* A request whose response began before it ended. */
#define REQ_EARLY(c, i, t0, t1, pol, step) \
    { EV_REQ, (c), (i), (t0), (t1), (pol), (step), 0, 0, 0, EARLY }
#define UNROUTED(c, i, t0, t1) \
    { EV_REQ, (c), (i), (t0), (t1), 0, -1, 0, 0, 0, 0 }
#define RESP(c, i, t0, t1) { EV_RESP, (c), (i), (t0), (t1), 0, 0, 0, 0, 0, 0 }
/* A response that completed before its request did. */
#define RESP_EARLY(c, i, t0, t1) \
    { EV_RESP, (c), (i), (t0), (t1), 0, 0, 0, 0, 0, EARLY }
#define CLOSE(c, n, t, why) \
    { EV_CONN, (c), 0, (t), (t), 0, 0, "close", (why), (n), 0 }
#define OPEN(c, t) { EV_CONN, (c), 0, (t), (t), 0, 0, "open", "", 0, 0 }
/* The responses to requests i .. i + n - 1 were lost (seen at t). */
#define LOST(c, i, n, t) \
    { EV_CONN, (c), (i), (t), (t), 0, 0, "lost", "", (n), 0 }
/* The response to request i began at t. */
#define RESPONDING(c, i, t) \
    { EV_CONN, (c), (i), (t), (t), 0, 0, "responding", "", 1, 0 }
#define WM(t) { EV_WM, 0, 0, 0, (t), 0, 0, 0, 0, 0, 0 }
#define END(t) { EV_EOF, 0, 0, 0, (t), 0, 0, 0, 0, 0, 0 }

static const struct wcase cases[] = {
    /* ---- answered ---- */
    { "ok",
      { REQ('a', 0, 900, 1000), RESP('a', 0, 1400, 1500), END(5000) },
      { "resp a#0 ok t=1400 'logged' [200 lat=400 hdrs=1 body='ok']" },
      .counters = "requests=1 responses=1 pairs=1 records=1" },
    { "ok with the last byte at the deadline",
      { REQ('a', 0, 900, 1000), RESP('a', 0, 1900, 2000), END(5000) },
      { "resp a#0 ok t=1900 'logged' [200 lat=900 hdrs=1 body='ok']" },
      .counters = "requests=1 responses=1 pairs=1 records=1" },
    { "pipelined, answered out of order",
      { REQ('a', 0, 900, 1000), REQ('a', 1, 1100, 1200),
        RESP('a', 1, 1300, 1400), RESP('a', 0, 1500, 1600), END(5000) },
      { "resp a#1 ok t=1300 'logged' [200 lat=100 hdrs=1 body='ok']",
        "resp a#0 ok t=1500 'logged' [200 lat=500 hdrs=1 body='ok']" },
      .counters = "requests=2 responses=2 pairs=2 records=2" },
    { "an open event changes nothing",
      { OPEN('a', 800), REQ('a', 0, 900, 1000), RESP('a', 0, 1400, 1500),
        END(5000) },
      { "resp a#0 ok t=1400 'logged' [200 lat=400 hdrs=1 body='ok']" },
      .counters = "requests=1 responses=1 pairs=1 records=1" },

    /* ---- timeout, late, forgotten ---- */
    { "timeout at the watermark, then late",
      { REQ('a', 0, 900, 1000), WM(2001), RESP('a', 0, 2400, 2500),
        END(5000) },
      { "resp a#0 timeout t=2000 'logged'",
        "resp a#0 late t=2400 'logged' [200 lat=1400 hdrs=1 body='ok']" },
      .counters = "requests=1 responses=1 timeouts=1 late=1 records=2" },
    { "watermark lags: the response itself times the wait out",
      { REQ('a', 0, 900, 1000), RESP('a', 0, 2400, 2500), END(5000) },
      { "resp a#0 timeout t=2000 'logged'",
        "resp a#0 late t=2400 'logged' [200 lat=1400 hdrs=1 body='ok']" },
      .counters = "requests=1 responses=1 timeouts=1 late=1 records=2" },
    { "late with the last byte at the tombstone's end",
      { REQ('a', 0, 900, 1000), WM(2500), RESP('a', 0, 2900, 3000),
        END(5000) },
      { "resp a#0 timeout t=2000 'logged'",
        "resp a#0 late t=2900 'logged' [200 lat=1900 hdrs=1 body='ok']" },
      .counters = "requests=1 responses=1 timeouts=1 late=1 records=2" },
    { "past the tombstone, watermark behind",
      { REQ('a', 0, 900, 1000), WM(1000), RESP('a', 0, 3900, 4000),
        END(5000) },
      { "resp a#0 timeout t=2000 'logged'",
        "resp a#0 orphan t=3900 'Orphan Response' "
        "[200 lat=0 hdrs=1 body='ok']" },
      .counters = "requests=1 responses=1 timeouts=1 orphans=1 records=2" },
    { "past the tombstone, watermark swept it",
      { REQ('a', 0, 900, 1000), WM(3500), RESP('a', 0, 3900, 4000),
        END(5000) },
      { "resp a#0 timeout t=2000 'logged'",
        "resp a#0 orphan t=3900 'Orphan Response' "
        "[200 lat=0 hdrs=1 body='ok']" },
      .counters = "requests=1 responses=1 timeouts=1 orphans=1 records=2" },
    { "behind a later deadline in its FIFO: judged by packet time",
      { REQ('b', 0, 4900, 5000), REQ('a', 0, 900, 1000), WM(2500),
        RESP('a', 0, 2400, 2500), END(8000) },
      { "resp a#0 timeout t=2000 'logged'",
        "resp a#0 late t=2400 'logged' [200 lat=1400 hdrs=1 body='ok']",
        "resp b#0 timeout t=6000 'logged'" },
      .counters = "requests=2 responses=1 timeouts=2 late=1 records=3" },
    { "expiry in deadline order across policies",
      { REQ_TO('a', 0, 900, 1000, "slow", 1), REQ('b', 0, 1400, 1500),
        WM(5000), END(6000) },
      { "resp b#0 timeout t=2500 'logged'",
        "resp a#0 timeout t=4000 'slow'" },
      .counters = "requests=2 timeouts=2 records=2" },

    /* ---- no request ---- */
    { "orphan: no request seen",
      { RESP('b', 0, 1400, 1500), END(5000) },
      { "resp b#0 orphan t=1400 'Orphan Response' "
        "[200 lat=0 hdrs=1 body='ok']" },
      .counters = "responses=1 orphans=1 records=1" },
    { "orphan: the request was refused at max_pending",
      { REQ('a', 0, 900, 1000), REQ('b', 0, 900, 1000),
        RESP('b', 0, 1400, 1500), END(5000) },
      { "resp b#0 orphan t=1400 'Orphan Response' "
        "[200 lat=0 hdrs=1 body='ok']",
        "resp a#0 timeout t=2000 'logged'" },
      .counters = "requests=2 responses=1 timeouts=1 orphans=1 records=2 "
      "pending_refused=1",
      .max_pending = 1 },
    /* Ids that are not hex digits (a bad producer; conns 'x' and 'y')
     * are still told apart: one does not answer the other's request. */
    { "orphan: a response on another id that is not hex",
      { REQ('x', 0, 900, 1000), RESP('y', 0, 1400, 1500), END(5000) },
      { "resp y#0 orphan t=1400 'Orphan Response' "
        "[200 lat=0 hdrs=1 body='ok']",
        "resp x#0 timeout t=2000 'logged'" },
      .counters = "requests=1 responses=1 timeouts=1 orphans=1 records=2" },

    /* ---- connection and input end ---- */
    { "closed before the response",
      { REQ('a', 0, 900, 1000), CLOSE('a', 1, 1500, "fin"), END(5000) },
      { "resp a#0 closed t=1500 'logged'" },
      .counters = "requests=1 closed=1 records=1" },
    { "closed after the deadline: timeout",
      { REQ('a', 0, 900, 1000), CLOSE('a', 1, 2500, "rst"), END(5000) },
      { "resp a#0 timeout t=2000 'logged'" },
      .counters = "requests=1 timeouts=1 records=1" },
    { "closed because capture ended: eof",
      { REQ('a', 0, 900, 1000), REQ('a', 1, 1000, 1100),
        CLOSE('a', 2, 1500, "eof"), END(5000) },
      { "resp a#0 eof t=1500 'logged'", "resp a#1 eof t=1500 'logged'" },
      .counters = "requests=2 eof_unanswered=2 records=2" },
    { "closed because hark was stopped: eof",
      { REQ('a', 0, 900, 1000), CLOSE('a', 1, 1500, "signal"), END(5000) },
      { "resp a#0 eof t=1500 'logged'" },
      .counters = "requests=1 eof_unanswered=1 records=1" },
    { "a close forgets tombstones and unwaited requests",
      { REQ('a', 0, 900, 1000), UNROUTED('a', 1, 1000, 1100), WM(2100),
        CLOSE('a', 2, 2200, "fin"), RESP('a', 0, 2250, 2300),
        RESP('a', 1, 2350, 2400), END(5000) },
      { "resp a#0 timeout t=2000 'logged'",
        "resp a#0 orphan t=2250 'Orphan Response' "
        "[200 lat=0 hdrs=1 body='ok']",
        "resp a#1 orphan t=2350 'Orphan Response' "
        "[200 lat=0 hdrs=1 body='ok']" },
      .counters = "requests=2 responses=2 timeouts=1 orphans=2 records=3" },
    { "close scan capped: the rest end by timeout",
      { REQ('a', 0, 900, 1000), REQ('a', WAIT_CLOSE_SCAN_MAX, 900, 1000),
        CLOSE('a', WAIT_CLOSE_SCAN_MAX + 1, 1500, "fin"), END(5000) },
      { "resp a#0 closed t=1500 'logged'",
        "resp a#65536 timeout t=2000 'logged'" },
      .counters = "requests=2 timeouts=1 closed=1 records=2 "
                  "close_scan_capped=1" },
    { "close scan at the cap is whole",
      { REQ('a', WAIT_CLOSE_SCAN_MAX - 1, 900, 1000),
        CLOSE('a', WAIT_CLOSE_SCAN_MAX, 1500, "fin"), END(5000) },
      { "resp a#65535 closed t=1500 'logged'" },
      .counters = "requests=1 closed=1 records=1" },
    { "eof ends what still waits",
      { REQ('a', 0, 900, 1000), END(1500) },
      { "resp a#0 eof t=1500 'logged'" },
      .counters = "requests=1 eof_unanswered=1 records=1" },
    { "eof after a deadline behind a later one",
      { REQ('a', 0, 4900, 5000), REQ('b', 0, 900, 1000), END(3000) },
      { "resp a#0 eof t=3000 'logged'", "resp b#0 timeout t=2000 'logged'" },
      .counters = "requests=2 timeouts=1 eof_unanswered=1 records=2" },
    { "eof after a deadline, in order",
      { REQ('b', 0, 900, 1000), REQ('a', 0, 4900, 5000), END(3000) },
      { "resp b#0 timeout t=2000 'logged'", "resp a#0 eof t=3000 'logged'" },
      .counters = "requests=2 timeouts=1 eof_unanswered=1 records=2" },

    /* ---- requests that wait for nothing ---- */
    { "not routed: not waited",
      { UNROUTED('a', 0, 900, 1000), RESP('a', 0, 1400, 1500), END(5000) },
      { NULL },
      .counters = "requests=1 responses=1 not_waited=1" },
    { "policy without a wait: not waited",
      { REQ_TO('a', 0, 900, 1000, "nowait", -1), RESP('a', 0, 1400, 1500),
        END(5000) },
      { NULL },
      .counters = "requests=1 responses=1 not_waited=1" },
    { "unwaited request forgotten after 60s",
      { UNROUTED('a', 0, 900, 1000), RESP('a', 0, 61000, 61001),
        END(70000) },
      { "resp a#0 orphan t=61000 'Orphan Response' "
        "[200 lat=0 hdrs=1 body='ok']" },
      .counters = "requests=1 responses=1 orphans=1 records=1" },
    { "policy mismatch: dispatch runs another config",
      { REQ_TO('a', 0, 900, 1000, "p", 2), REQ_TO('a', 1, 900, 1000, "zz", 1),
        RESP('a', 0, 1400, 1500), END(5000) },
      { NULL },
      .counters = "requests=2 responses=1 not_waited=1 policy_mismatch=2" },

    /* ---- the request logged after the wait, from the kept request ---- */
    { "request logged after the wait: ok",
      { REQ_TO('a', 0, 900, 1000, "after", 0), RESP('a', 0, 1400, 1500),
        END(5000) },
      { "req a#0 - t=900 'req-after' [hdrs=2 body='q=1']",
        "resp a#0 ok t=1400 'resp-after' [200 lat=400 hdrs=1 body='ok']" },
      .counters = "requests=1 responses=1 pairs=1 records=2" },
    { "request logged after the wait: timeout",
      { REQ_TO('a', 0, 900, 1000, "after", 0), WM(2500), END(5000) },
      { "req a#0 - t=900 'req-after' [hdrs=2 body='q=1']",
        "resp a#0 timeout t=2000 'resp-after'" },
      .counters = "requests=1 timeouts=1 records=2" },
    /* Each end of the wait runs the steps after it: the timeout and the
     * late response each log the request. */
    { "request logged after the wait: timeout, then late",
      { REQ_TO('a', 0, 900, 1000, "after", 0), RESP('a', 0, 2400, 2500),
        END(5000) },
      { "req a#0 - t=900 'req-after' [hdrs=2 body='q=1']",
        "resp a#0 timeout t=2000 'resp-after'",
        "req a#0 - t=900 'req-after' [hdrs=2 body='q=1']",
        "resp a#0 late t=2400 'resp-after' [200 lat=1400 hdrs=1 body='ok']" },
      .counters = "requests=1 responses=1 timeouts=1 late=1 records=4" },
    { "request logged after the wait: closed",
      { REQ_TO('a', 0, 900, 1000, "after", 0), CLOSE('a', 1, 1200, "fin"),
        END(5000) },
      { "req a#0 - t=900 'req-after' [hdrs=2 body='q=1']",
        "resp a#0 closed t=1200 'resp-after'" },
      .counters = "requests=1 closed=1 records=2" },

    /* ---- first byte in time, then the rest ---- */
    { "first byte in time, last byte after the timeout: ok",
      { REQ('a', 0, 900, 1000), RESPONDING('a', 0, 1500), WM(2500),
        RESP('a', 0, 1500, 2800), END(5000) },
      { "resp a#0 ok t=1500 'logged' [200 lat=500 hdrs=1 body='ok']" },
      .counters = "requests=1 responses=1 pairs=1 records=1" },
    { "until last_byte: the same response times out, then is late",
      { REQ_TO('a', 0, 900, 1000, "lb", 0), RESPONDING('a', 0, 1500),
        WM(2500), RESP('a', 0, 1500, 2800), END(5000) },
      { "resp a#0 timeout t=2000 'lb'",
        "resp a#0 late t=1500 'lb' [200 lat=500 hdrs=1 body='ok']" },
      .counters = "requests=1 responses=1 timeouts=1 late=1 records=2" },
    { "until last_byte: the last byte at the deadline is ok",
      { REQ_TO('a', 0, 900, 1000, "lb", 0), RESP('a', 0, 1500, 2000),
        END(5000) },
      { "resp a#0 ok t=1500 'lb' [200 lat=500 hdrs=1 body='ok']" },
      .counters = "requests=1 responses=1 pairs=1 records=1" },
    { "first byte late: timeout, then late",
      { REQ('a', 0, 900, 1000), WM(2100), RESPONDING('a', 0, 2200),
        RESP('a', 0, 2200, 2300), END(5000) },
      { "resp a#0 timeout t=2000 'logged'",
        "resp a#0 late t=2200 'logged' [200 lat=1200 hdrs=1 body='ok']" },
      .counters = "requests=1 responses=1 timeouts=1 late=1 records=2" },
    { "first byte at the deadline: ok",
      { REQ('a', 0, 900, 1000), RESPONDING('a', 0, 2000), WM(2900),
        RESP('a', 0, 2000, 3000), END(5000) },
      { "resp a#0 ok t=2000 'logged' [200 lat=1000 hdrs=1 body='ok']" },
      .counters = "requests=1 responses=1 pairs=1 records=1" },
    { "responding moves the deadline to the ceiling",
      { REQ_TO('a', 0, 900, 1000, "ceil", 0), RESPONDING('a', 0, 1500),
        WM(3900), END(3950) },
      { "resp a#0 eof t=3950 'ceil'" },
      .counters = "requests=1 eof_unanswered=1 records=1" },
    { "a moved wait closes as closed until the ceiling",
      { REQ('a', 0, 900, 1000), RESPONDING('a', 0, 1500),
        CLOSE('a', 1, 2500, "fin"), END(5000) },
      { "resp a#0 closed t=2500 'logged'" },
      .counters = "requests=1 closed=1 records=1" },
    { "ceiling passed: timeout at the ceiling, then late",
      { REQ_TO('a', 0, 900, 1000, "ceil", 0), RESPONDING('a', 0, 1500),
        WM(4500), RESP('a', 0, 1500, 4800), END(9000) },
      { "resp a#0 timeout t=4000 'ceil'",
        "resp a#0 late t=1500 'ceil' [200 lat=500 hdrs=1 body='ok']" },
      .counters = "requests=1 responses=1 timeouts=1 late=1 records=2" },
    { "ceiling and its tombstone passed: timeout, then orphan",
      { REQ_TO('a', 0, 900, 1000, "ceil", 0), RESPONDING('a', 0, 1500),
        WM(5200), RESP('a', 0, 1500, 5500), END(9000) },
      { "resp a#0 timeout t=4000 'ceil'",
        "resp a#0 orphan t=1500 'Orphan Response' "
        "[200 lat=0 hdrs=1 body='ok']" },
      .counters = "requests=1 responses=1 timeouts=1 orphans=1 records=2" },
    { "moved waits expire in deadline order, with the others",
      { REQ_TO('a', 0, 900, 1000, "ceil", 0),
        REQ_TO('b', 0, 1900, 2000, "ceil", 0), RESPONDING('b', 0, 2100),
        RESPONDING('a', 0, 1500), REQ('c', 0, 3000, 3100), WM(6000),
        END(9000) },
      { "resp a#0 timeout t=4000 'ceil'", "resp c#0 timeout t=4100 'logged'",
        "resp b#0 timeout t=5000 'ceil'" },
      .counters = "requests=3 timeouts=3 records=3" },
    { "responding for an unknown request changes nothing",
      { RESPONDING('b', 0, 1500), REQ('a', 0, 900, 1000),
        RESPONDING('a', 1, 1500), WM(2500), END(5000) },
      { "resp a#0 timeout t=2000 'logged'" },
      .counters = "requests=1 timeouts=1 records=1" },

    /* ---- responses the capture lost ---- */
    { "lost ends the waits it names",
      { REQ('a', 0, 900, 1000), REQ('a', 1, 1000, 1100),
        REQ('a', 2, 1100, 1200), LOST('a', 0, 2, 1300),
        RESP('a', 2, 1300, 1400), END(5000) },
      { "resp a#0 lost t=1300 'logged'", "resp a#1 lost t=1300 'logged'",
        "resp a#2 ok t=1300 'logged' [200 lat=100 hdrs=1 body='ok']" },
      .counters = "requests=3 responses=1 pairs=1 lost=2 records=3" },
    { "lost after the deadline: timeout",
      { REQ('a', 0, 900, 1000), WM(2100), LOST('a', 0, 1, 2500),
        END(5000) },
      { "resp a#0 timeout t=2000 'logged'" },
      .counters = "requests=1 timeouts=1 records=1" },
    { "lost forgets tombstones and unwaited requests",
      { REQ('a', 0, 900, 1000), UNROUTED('a', 1, 1000, 1100), WM(2100),
        LOST('a', 0, 2, 2200), RESP('a', 0, 2250, 2300),
        RESP('a', 1, 2350, 2400), END(5000) },
      { "resp a#0 timeout t=2000 'logged'",
        "resp a#0 orphan t=2250 'Orphan Response' "
        "[200 lat=0 hdrs=1 body='ok']",
        "resp a#1 orphan t=2350 'Orphan Response' "
        "[200 lat=0 hdrs=1 body='ok']" },
      .counters = "requests=2 responses=2 timeouts=1 orphans=2 records=3" },
    { "lost runs the steps after the wait",
      { REQ_TO('a', 0, 900, 1000, "after", 0), LOST('a', 0, 1, 1200),
        END(5000) },
      { "req a#0 - t=900 'req-after' [hdrs=2 body='q=1']",
        "resp a#0 lost t=1200 'resp-after'" },
      .counters = "requests=1 lost=1 records=2" },

    /* ---- responses that complete before their request ---- */
    { "early response held until its request, then paired",
      { RESP_EARLY('a', 0, 1000, 1100), WM(5000),
        REQ_EARLY('a', 0, 900, 6000, "p", 1), END(9000) },
      { "resp a#0 ok t=1000 'logged' "
        "[200 lat=0 hdrs=1 body='ok' early_response]" },
      .counters = "requests=1 responses=1 pairs=1 records=1 early_held=1" },
    { "early response: the request logged after the wait",
      { RESP_EARLY('a', 0, 1000, 1100),
        REQ_EARLY('a', 0, 900, 1200, "after", 0), END(5000) },
      { "req a#0 - t=900 'req-after' "
        "[hdrs=2 body='q=1' early_response]",
        "resp a#0 ok t=1000 'resp-after' "
        "[200 lat=0 hdrs=1 body='ok' early_response]" },
      .counters = "requests=1 responses=1 pairs=1 records=2 early_held=1" },
    { "early response whose request never came: orphan at close",
      { RESP_EARLY('a', 0, 1000, 1100), RESP_EARLY('b', 0, 1000, 1100),
        CLOSE('a', 0, 1500, "fin"), REQ('b', 0, 900, 1200), END(5000) },
      { "resp a#0 orphan t=1000 'Orphan Response' "
        "[200 lat=0 hdrs=1 body='ok' early_response]",
        "resp b#0 ok t=1000 'logged' "
        "[200 lat=0 hdrs=1 body='ok' early_response]" },
      .counters = "requests=1 responses=2 pairs=1 orphans=1 records=2 "
                  "early_held=2" },
    { "early response whose request never came: orphan at the end",
      { RESP_EARLY('a', 0, 1000, 1100), END(5000) },
      { "resp a#0 orphan t=1000 'Orphan Response' "
        "[200 lat=0 hdrs=1 body='ok' early_response]" },
      .counters = "responses=1 orphans=1 records=1 early_held=1" },
    { "a second early response for one request: orphan at once",
      { RESP_EARLY('a', 0, 1000, 1100), RESP_EARLY('a', 0, 1200, 1300),
        REQ('a', 0, 900, 1400), END(5000) },
      { "resp a#0 orphan t=1200 'Orphan Response' "
        "[200 lat=0 hdrs=1 body='ok' early_response]",
        "resp a#0 ok t=1000 'logged' "
        "[200 lat=0 hdrs=1 body='ok' early_response]" },
      .counters = "requests=1 responses=2 pairs=1 orphans=1 records=2 "
                  "early_held=1 early_refused=1" },
    { "early response to a request that waits for nothing",
      { RESP_EARLY('a', 0, 1000, 1100), UNROUTED('a', 0, 900, 1200),
        END(5000) },
      { NULL },
      .counters = "requests=1 responses=1 not_waited=1 early_held=1" },
    { "early response after its request: paired as it comes",
      { REQ_EARLY('a', 0, 900, 1000, "p", 1), WM(2500),
        RESP_EARLY('a', 0, 800, 2800), END(5000) },
      { "resp a#0 ok t=800 'logged' "
        "[200 lat=0 hdrs=1 body='ok' early_response]" },
      .counters = "requests=1 responses=1 pairs=1 records=1" },
};

/* ---- running a case -------------------------------------------------- */

struct run {
    char got[MAX_RECORDS][TEXT_MAX];
    size_t n;
    int fail_rc;              /* the sink's answer when non-zero */
    bool count_only;          /* count records, keep none */
};

/* "resp a#0 ok t=1400 'logged' [200 lat=400 hdrs=1 body='ok']"; the part
 * in brackets is the logged message, when there is one, with its flags
 * last when it has any ("... body='ok' early_response]"). */
static void describe(const struct audit_record *r, char *out, size_t cap)
{
    bool resp = r->kind == RECORD_RESPONSE;
    int n = snprintf(out, cap, "%s %c#%u %.*s t=%llu '%.*s'",
                     resp ? "resp" : "req",
                     r->uid.n ? r->uid.p[r->uid.n - 1] : '?', r->idx,
                     r->outcome.n ? (int)r->outcome.n : 1,
                     r->outcome.n ? r->outcome.p : "-",
                     (unsigned long long)(r->ts_ns / MS), (int)r->step.n,
                     r->step.p);
    if (!r->version.n || n < 0 || (size_t)n >= cap)
        return;
    char status[64] = "";
    if (resp)
        snprintf(status, sizeof(status), "%u lat=%llu ", r->status,
                 (unsigned long long)(r->latency_ns / MS));
    char flags[128] = "";
    for (unsigned i = 0, len = 0; i < MSG_FLAG_COUNT && len < sizeof(flags);
         i++)
        if (r->flags & (1u << i))
            len += (unsigned)snprintf(flags + len, sizeof(flags) - len,
                                      " %s", msg_flag_names[i]);
    snprintf(out + n, cap - (size_t)n, " [%shdrs=%u body='%.*s'%s]", status,
             r->n_headers, (int)r->body.n, r->body.p, flags);
}

static int sink(void *ctx, const struct audit_record *r)
{
    struct run *run = ctx;
    if (run->fail_rc)
        return run->fail_rc;
    if (run->count_only) {
        run->n++;
        return 0;
    }
    assert_true(run->n < MAX_RECORDS);
    describe(r, run->got[run->n++], TEXT_MAX);
    return 0;
}

static const struct msg_header req_headers[] = {
    { BYTES_LIT("Host"), BYTES_LIT("h") },
    { BYTES_LIT("Authorization"), BYTES_LIT("secret") },
};
static const struct msg_header resp_headers[] = {
    { BYTES_LIT("Content-Type"), BYTES_LIT("text/plain") },
};

static void fill_msg(const struct event *e, char *uid, struct http_msg *m)
{
    memset(m, 0, sizeof(*m));
    snprintf(uid, 17, "00000000000000%c%c", e->conn, e->conn);
    m->kind = e->kind == EV_REQ ? MSG_REQ : e->kind == EV_RESP ? MSG_RESP
                                                               : MSG_CONN;
    m->uid = bytes_of(uid);
    m->idx = e->idx;
    m->flags = e->flags;
    m->ts_ns = e->t0 * MS;
    m->ts_end_ns = e->t1 * MS;
    m->addr = (struct conn_addr){ BYTES_LIT("10.0.0.1"), 40000,
                                  BYTES_LIT("10.0.0.2"), 80 };
    if (m->kind == MSG_REQ) {
        m->version = bytes_of("1.1");
        m->method = bytes_of("GET");
        m->uri = bytes_of("/x");
        m->headers = req_headers;
        m->n_headers = 2;
        m->body = bytes_of("q=1");
        m->body_len = 3;
        m->routed = e->policy != NULL;
        m->route = (struct msg_route){ BYTES_LIT("g"), BYTES_LIT("/"),
                                       bytes_of(e->policy), e->next_step };
    } else if (m->kind == MSG_RESP) {
        m->version = bytes_of("1.1");
        m->status = 200;
        m->reason = bytes_of("OK");
        m->headers = resp_headers;
        m->n_headers = 1;
        m->body = bytes_of("ok");
        m->body_len = 2;
    } else {
        m->event = bytes_of(e->event);
        m->reason_text = bytes_of(e->reason);
        m->requests = e->n;
    }
}

static struct config *cfg;

struct harness {
    stats_t *st;
    struct wait_counters n;
    wait_t *w;
    frame_writer_t *fw;
    frame_reader_t *fr;
    uint64_t seq;
};

static void harness_open(struct harness *h, struct run *run)
{
    memset(h, 0, sizeof(*h));
    h->st = stats_new("correlate", "correlate");
    assert_non_null(h->st);
    h->n.requests = stats_add(h->st, "requests");
    h->n.responses = stats_add(h->st, "responses");
    h->n.pairs = stats_add(h->st, "pairs");
    h->n.timeouts = stats_add(h->st, "timeouts");
    h->n.closed = stats_add(h->st, "closed");
    h->n.eof_unanswered = stats_add(h->st, "eof_unanswered");
    h->n.late = stats_add(h->st, "late");
    h->n.orphans = stats_add(h->st, "orphans");
    h->n.lost = stats_add(h->st, "lost");
    h->n.not_waited = stats_add(h->st, "not_waited");
    h->n.records = stats_add(h->st, "records");
    h->n.policy_mismatch = stats_add(h->st, "policy_mismatch");
    h->n.close_scan_capped = stats_add(h->st, "close_scan_capped");
    h->n.orphan_headers_withheld = stats_add(h->st,
                                             "orphan_headers_withheld");
    h->w = wait_new(cfg, h->st, &h->n, sink, run);
    h->fw = frame_writer_new(FRAME_MSG, "dispatch");
    h->fr = frame_reader_new();
    assert_non_null(h->w);
    assert_non_null(h->fw);
    assert_non_null(h->fr);
}

static void harness_close(struct harness *h)
{
    wait_destroy(&h->w);
    assert_null(h->w);
    wait_destroy(&h->w);
    frame_writer_destroy(&h->fw);
    frame_reader_destroy(&h->fr);
    stats_destroy(&h->st);
}

/* The non-zero counters, in the order they were registered. */
static void count_text(const stats_t *st, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < stats_count(st) && len < cap; i++)
        if (stats_value(st, i))
            len += (size_t)snprintf(out + len, cap - len, "%s%s=%llu",
                                    len ? " " : "", stats_name(st, i),
                                    (unsigned long long)stats_value(st, i));
}

/* Sends the message of e through a MSG frame and hands what comes out to
 * the table, as correlate does. */
static int feed_msg(struct harness *h, const struct event *e)
{
    char uid[17];
    struct http_msg m;
    fill_msg(e, uid, &m);
    frame_writer_reset(h->fw);
    assert_int_equal(frame_add_msg(h->fw, &m), 0);
    const void *body;
    size_t len;
    frame_writer_finish(h->fw, h->seq++, 0, false, &body, &len);
    const char *topic = frame_topic(FRAME_MSG);
    struct frame f;
    assert_int_equal(frame_read(h->fr, topic, strlen(topic), body, len, &f),
                     0);
    assert_int_equal(f.n_items, 1);
    assert_int_equal(frame_item_msg(h->fr, &f, 0, &m), 0);
    if (m.kind == MSG_REQ)
        return wait_request(h->w, &m, &f.items[0]);
    if (m.kind == MSG_RESP)
        return wait_response(h->w, &m, &f.items[0]);
    return wait_conn(h->w, &m);
}

static int feed(struct harness *h, const struct event *e)
{
    if (e->kind == EV_WM)
        return wait_expire(h->w, e->t1 * MS);
    if (e->kind == EV_EOF)
        return wait_drain(h->w, e->t1 * MS);
    return feed_msg(h, e);
}

static void run_case(const struct wcase *tc, bool watermarks, struct run *run,
                     char *counters, size_t cap)
{
    struct harness h;
    uint32_t max_pending = cfg->correlate.max_pending;
    memset(run, 0, sizeof(*run));
    if (tc->max_pending)
        cfg->correlate.max_pending = tc->max_pending;
    harness_open(&h, run);
    cfg->correlate.max_pending = max_pending;
    for (size_t i = 0; i < MAX_EVENTS && tc->ev[i].t1; i++)
        if (watermarks || tc->ev[i].kind != EV_WM)
            assert_int_equal(feed(&h, &tc->ev[i]), 0);
    count_text(h.st, counters, cap);
    harness_close(&h);
}

static int cmp_text(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* got and want as lines, sorted when order does not matter. */
static void check(const struct wcase *tc, const char *mode, bool sorted,
                  const struct run *run, const char *counters)
{
    const char *want[MAX_RECORDS], *got[MAX_RECORDS];
    size_t want_n = 0;
    while (want_n < MAX_RECORDS && tc->want[want_n]) {
        want[want_n] = tc->want[want_n];
        want_n++;
    }
    for (size_t i = 0; i < run->n; i++)
        got[i] = run->got[i];
    if (sorted) {
        qsort(want, want_n, sizeof(want[0]), cmp_text);
        qsort(got, run->n, sizeof(got[0]), cmp_text);
    }
    for (size_t i = 0; i < want_n || i < run->n; i++) {
        const char *w = i < want_n ? want[i] : "(none)";
        const char *g = i < run->n ? got[i] : "(none)";
        if (strcmp(w, g) != 0)
            fail_msg("%s [%s] record %zu\n  want: %s\n  got:  %s", tc->label,
                     mode, i, w, g);
    }
    if (strcmp(tc->counters, counters) != 0)
        fail_msg("%s [%s] counters\n  want: %s\n  got:  %s", tc->label, mode,
                 tc->counters, counters);
}

static void test_case(void **state)
{
    const struct wcase *tc = *state;
    static struct run run_area; /* a failure leaves without freeing */
    struct run *run = &run_area;
    char counters[512];
    run_case(tc, true, run, counters, sizeof(counters));
    check(tc, "as written", false, run, counters);
    run_case(tc, false, run, counters, sizeof(counters));
    check(tc, "without watermarks", true, run, counters);
}

/* ---- single-purpose tests ------------------------------------------- */

/* A sink that fails stops the call with its error; nothing is counted as
 * recorded. */
static void test_sink_failure(void **state)
{
    (void)state;
    static const struct event ev[] = {
        REQ('a', 0, 900, 1000), RESP('a', 0, 1400, 1500),
        RESP('b', 0, 1400, 1500), REQ('c', 0, 900, 1000),
        CLOSE('c', 1, 1200, "fin"), REQ('d', 0, 900, 1000), WM(2500),
        REQ('e', 0, 900, 1000),
    };
    struct run run;
    struct harness h;
    memset(&run, 0, sizeof(run));
    run.fail_rc = -ENOSPC;
    harness_open(&h, &run);
    assert_int_equal(feed(&h, &ev[0]), 0);
    assert_int_equal(feed(&h, &ev[1]), -ENOSPC);   /* ok */
    assert_int_equal(feed(&h, &ev[2]), -ENOSPC);   /* orphan */
    assert_int_equal(feed(&h, &ev[3]), 0);
    assert_int_equal(feed(&h, &ev[4]), -ENOSPC);   /* closed */
    assert_int_equal(feed(&h, &ev[5]), 0);
    assert_int_equal(feed(&h, &ev[6]), -ENOSPC);   /* timeout */
    assert_int_equal(feed(&h, &ev[7]), 0);
    assert_int_equal(wait_drain(h.w, 1500 * MS), -ENOSPC); /* eof */
    assert_int_equal(stats_get(h.st, "records"), 0);
    assert_int_equal(run.n, 0);
    harness_close(&h);
}

/* The same for the new ends of a wait: lost, a held early response
 * paired or made an orphan at a close or at the end. */
static void test_sink_failure_early_and_lost(void **state)
{
    (void)state;
    static const struct event ev[] = {
        REQ('a', 0, 900, 1000), LOST('a', 0, 1, 1100),
        RESP_EARLY('b', 0, 1000, 1100), REQ('b', 0, 900, 1200),
        RESP_EARLY('c', 0, 1000, 1100), CLOSE('c', 0, 1200, "fin"),
        RESP_EARLY('d', 0, 1000, 1100),
    };
    struct run run;
    struct harness h;
    memset(&run, 0, sizeof(run));
    run.fail_rc = -ENOSPC;
    harness_open(&h, &run);
    assert_int_equal(feed(&h, &ev[0]), 0);
    assert_int_equal(feed(&h, &ev[1]), -ENOSPC);   /* lost */
    assert_int_equal(feed(&h, &ev[2]), 0);         /* held */
    assert_int_equal(feed(&h, &ev[3]), -ENOSPC);   /* paired */
    assert_int_equal(feed(&h, &ev[4]), 0);
    assert_int_equal(feed(&h, &ev[5]), -ENOSPC);   /* orphan at close */
    assert_int_equal(feed(&h, &ev[6]), 0);
    assert_int_equal(wait_drain(h.w, 1500 * MS), -ENOSPC); /* at the end */
    assert_int_equal(stats_get(h.st, "records"), 0);
    assert_int_equal(run.n, 0);
    harness_close(&h);
}

/* Past EARLY_MAX held, an early response is an orphan at once; the held
 * ones still pair with their requests. */
static void test_early_cap(void **state)
{
    (void)state;
    struct run run;
    struct harness h;
    memset(&run, 0, sizeof(run));
    run.count_only = true;
    harness_open(&h, &run);
    for (uint32_t i = 0; i <= EARLY_MAX; i++) {
        struct event e = RESP_EARLY('a', i, 1000, 1100);
        assert_int_equal(feed(&h, &e), 0);
    }
    assert_int_equal(stats_get(h.st, "early_held"), EARLY_MAX);
    assert_int_equal(stats_get(h.st, "early_refused"), 1);
    assert_int_equal(stats_get(h.st, "orphans"), 1);
    assert_int_equal(run.n, 1);
    for (uint32_t i = 0; i < EARLY_MAX; i++) {
        struct event e = REQ('a', i, 900, 1200);
        assert_int_equal(feed(&h, &e), 0);
    }
    assert_int_equal(stats_get(h.st, "pairs"), EARLY_MAX);
    assert_int_equal(wait_drain(h.w, 5000 * MS), 0);
    assert_int_equal(stats_get(h.st, "orphans"), 1);
    assert_int_equal(run.n, EARLY_MAX + 1);
    harness_close(&h);
}

/* Held bytes are capped too: large bodies fill EARLY_MAX_BYTES before
 * EARLY_MAX responses, and taking one out makes room again. */
static void test_early_byte_cap(void **state)
{
    (void)state;
    stats_t *st = stats_new("correlate", "correlate");
    early_t *h = early_new(st);
    assert_non_null(h);
    size_t big = EARLY_MAX_BYTES / 4;
    char *raw = calloc(1, big);
    assert_non_null(raw);
    struct bytes uid = bytes_of("00000000000000aa");
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(early_hold(h, uid, i, raw, big), 0);
    assert_int_equal(early_hold(h, uid, 4, raw, 1), -ENOSPC);
    assert_int_equal(early_hold(h, uid, 3, raw, 0), -EEXIST);
    early_item_t *it = early_take(h, uid, 2);
    assert_non_null(it);
    size_t len;
    assert_non_null(early_item_raw(it, &len));
    assert_int_equal(len, big);
    early_item_free(&it);
    assert_null(it);
    assert_null(early_take(h, uid, 2));
    assert_int_equal(early_hold(h, uid, 4, raw, big), 0);
    assert_int_equal(stats_get(st, "early_held"), 5);
    assert_int_equal(stats_get(st, "early_refused"), 2);
    free(raw);
    early_destroy(&h); /* frees the four still held */
    assert_null(h);
    stats_destroy(&st);
}

/* A reload puts a new config in force for the requests that come after
 * it; a wait keeps the policy it began with; a request dispatch routed
 * under the config before still finds its policy there; one named only
 * by a config two reloads back is a mismatch, while a wait begun under
 * that config still ends by its policy. Under ASan, the configs
 * freed once no wait uses them must not be touched again. */
static void test_reload(void **state)
{
    (void)state;
    static const char yaml2[] =
        "policies:\n"
        "  p:\n"
        "    - log: request\n"
        "    - wait_for_response: 3s\n"
        "    - log: {message: response, label: relogged}\n"
        "  fresh:\n"
        "    - log: request\n"
        "    - wait_for_response: 1s\n"
        "    - log: {message: response, label: fresh}\n";
    static const char yaml3[] =
        "policies:\n"
        "  p:\n"
        "    - log: request\n"
        "    - wait_for_response: 1s\n"
        "    - log: {message: response, label: third}\n";
    static const struct event before[] = {
        REQ('a', 0, 900, 1000),
    };
    static const struct event after[] = {
        REQ('b', 0, 900, 1000), REQ_TO('c', 0, 900, 1000, "slow", 1),
        REQ_TO('d', 0, 900, 1000, "fresh", 1), RESP('d', 0, 1400, 1500),
        WM(2500), RESP('b', 0, 2400, 2500), RESP('c', 0, 2400, 2500),
        REQ('g', 0, 2000, 2200),
    };
    static const struct event last[] = {
        REQ_TO('e', 0, 900, 1000, "slow", 1), REQ('f', 0, 4000, 4100),
        WM(9000), RESP('a', 0, 9000, 9001), END(9500),
    };
    static const char *const want[] = {
        "resp d#0 ok t=1400 'fresh' [200 lat=400 hdrs=1 body='ok']",
        "resp a#0 timeout t=2000 'logged'",
        "resp b#0 ok t=2400 'relogged' [200 lat=1400 hdrs=1 body='ok']",
        "resp c#0 ok t=2400 'slow' [200 lat=1400 hdrs=1 body='ok']",
        "resp f#0 timeout t=5100 'third'",
        "resp g#0 timeout t=5200 'relogged'",
        "resp a#0 orphan t=9000 'Orphan Response' "
        "[200 lat=0 hdrs=1 body='ok']",
    };
    struct config *c2, *c3, *c4;
    char err[512];
    assert_int_equal(config_load_string(yaml2, "2.yaml", &c2, err,
                                        sizeof(err)), 0);
    assert_int_equal(config_load_string(yaml3, "3.yaml", &c3, err,
                                        sizeof(err)), 0);
    assert_int_equal(config_load_string(yaml3, "4.yaml", &c4, err,
                                        sizeof(err)), 0);
    static struct run run;
    struct harness h;
    memset(&run, 0, sizeof(run));
    harness_open(&h, &run);
    for (size_t i = 0; i < sizeof(before) / sizeof(before[0]); i++)
        assert_int_equal(feed(&h, &before[i]), 0);
    assert_int_equal(wait_reload(h.w, c2), 0);
    for (size_t i = 0; i < sizeof(after) / sizeof(after[0]); i++)
        assert_int_equal(feed(&h, &after[i]), 0);
    assert_int_equal(wait_reload(h.w, c3), 0);
    /* g's config is two back now, kept while g waits, freed after */
    assert_int_equal(wait_reload(h.w, c4), 0);
    for (size_t i = 0; i < sizeof(last) / sizeof(last[0]); i++)
        assert_int_equal(feed(&h, &last[i]), 0);
    assert_int_equal(run.n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < run.n; i++)
        assert_string_equal(run.got[i], want[i]);
    assert_int_equal(stats_get(h.st, "policy_mismatch"), 1);
    harness_close(&h);
}

static int group_setup(void **state)
{
    (void)state;
    char err[512];
    return config_load_string(yaml, "wait.yaml", &cfg, err, sizeof(err));
}

static int group_teardown(void **state)
{
    (void)state;
    config_destroy(&cfg);
    return 0;
}

int main(void)
{
    size_t n_cases = sizeof(cases) / sizeof(cases[0]);
    struct CMUnitTest *tests = calloc(n_cases + 5, sizeof(*tests));
    size_t n = 0;
    if (!tests)
        return 1;
    for (size_t i = 0; i < n_cases; i++) {
        tests[n].name = cases[i].label;
        tests[n].test_func = test_case;
        tests[n].initial_state = (void *)&cases[i];
        n++;
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_sink_failure);
    tests[n++] =
        (struct CMUnitTest)cmocka_unit_test(test_sink_failure_early_and_lost);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_early_cap);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_early_byte_cap);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_reload);
    int rc = _cmocka_run_group_tests("correlate_wait", tests, n, group_setup,
                                     group_teardown);
    free(tests);
    return rc;
}
