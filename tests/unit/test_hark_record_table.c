/* test_hark_record_table.c - the table row of records (`hark query`).
 *
 * Rows are written out in full: a change of column width, escaping or
 * cutting must show up here as a diff.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "record_table.h"

#include <stdio.h>
#include <string.h>

#define TS_REQ 1795670978123456789ull  /* 2026-11-26T05:29:38.123456789Z */
#define TS_RESP 1795670978125456789ull

/* What a row shows of a record; the rest stays zero. */
static struct audit_record record(enum record_kind kind)
{
    bool resp = kind == RECORD_RESPONSE;
    struct audit_record r = {
        .kind = kind,
        .uid = BYTES_LIT("00000000000000ab"),
        .idx = 2,
        .ts_ns = resp ? TS_RESP : TS_REQ,
        .addr = { BYTES_LIT("10.0.0.1"), 51000, BYTES_LIT("10.0.0.2"), 8080 },
        .method = BYTES_LIT("POST"),
        .uri = BYTES_LIT("/a/b?x=1&y=2"),
        .status = resp ? 200 : 0,
        .body_len = resp ? 11 : 3,
        .outcome = resp ? BYTES_LIT("ok") : BYTES_LIT(""),
    };
    return r;
}

static void test_table(void **state)
{
    char buf[512];
    struct audit_record r = record(RECORD_RESPONSE);
    int n = record_table_row(buf, sizeof(buf), &r);
    assert_int_equal(n, (int)strlen(buf));
    assert_string_equal(buf,
        "2026-11-26 05:29:38.125  00000000000000ab:2      resp  "
        "10.0.0.1:51000        -> 10.0.0.2:8080          "
        "POST    /a/b?x=1&y=2                                 200"
        "         11  ok\n");
    record_table_header(buf, sizeof(buf));
    assert_string_equal(buf,
        "TIME (UTC)               UID:IDX                 KIND  "
        "CLIENT                   SERVER                 "
        "METHOD  URI                                       STATUS"
        "      BYTES  OUTCOME\n");

    /* request: no status, no outcome; hostile bytes and a long URI */
    r = record(RECORD_REQUEST);
    r.addr.src_ip = BYTES_LIT("2001:db8::1");
    r.uri = BYTES_LIT("/\x1b[2Jabcdefghijklmnopqrstuvwxyz0123456789ABCDEF");
    record_table_row(buf, sizeof(buf), &r);
    assert_non_null(
        strstr(buf, "POST    /\\x1b[2Jabcdefghijklmnopqrstuvwxyz012...  "));
    /* an escape that does not fit whole is not cut in half */
    r.uri = BYTES_LIT("/abcdefghijklmnopqrstuvwxyz0123456\x01\x02zzzzzz");
    record_table_row(buf, sizeof(buf), &r);
    assert_string_equal(buf,
        "2026-11-26 05:29:38.123  00000000000000ab:2      req   "
        "[2001:db8::1]:51000   -> 10.0.0.2:8080          "
        "POST    /abcdefghijklmnopqrstuvwxyz0123456...          -"
        "          3  -\n");
}

static void test_outage(void **state)
{
    static const struct record_count lost[] = {
        { BYTES_LIT("waits"), 3 },
        { BYTES_LIT("unacknowledged_frames"), 40 },
    };
    struct audit_record r = {
        .kind = RECORD_OUTAGE, .ts_ns = TS_REQ,
        .until_ns = TS_REQ + 1500000000ull, .who = BYTES_LIT("correlate"),
        .reason = BYTES_LIT("killed by signal 9 (Killed)"),
        .lost = lost, .n_lost = 2,
    };
    char buf[512];
    record_table_row(buf, sizeof(buf), &r);
    assert_string_equal(buf,
        "2026-11-26 05:29:38.123  correlate               outage  "
        "until 05:29:39.623: killed by signal 9 (Killed); lost: waits 3, "
        "unacknowledged_frames 40\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_outage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
