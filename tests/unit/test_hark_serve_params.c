/* test_hark_serve_params.c - `hark serve`'s API parameters: every value
 * read or refused with a reason, and the filters they make.
 *
 * Table-driven: a query (name=value pairs, as libmicrohttpd hands them
 * over, already percent-decoded), the endpoint's parameters, and either
 * what must come out or the words the 400 must contain.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "serve_params.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define LIST (SP_FILTERS | SP_BEFORE | SP_LIMIT)
#define KEY_HEX "74" "0000000000000064" "00000000000000aa" "00000001" "02"

/* Parses "a=1&b=2" (no decoding; a name without '=' has a NULL value)
 * for an endpoint taking allowed. */
static int parse(const char *query, unsigned allowed, struct serve_params *p,
                 char *why, size_t whylen)
{
    static char buf[4096];
    struct serve_arg args[32];
    size_t n = 0;
    snprintf(buf, sizeof(buf), "%s", query);
    for (char *save = NULL, *tok = strtok_r(buf, "&", &save); tok;
         tok = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(tok, '=');
        if (eq)
            *eq = '\0';
        args[n].name = tok;
        args[n].value = eq ? eq + 1 : NULL;
        n++;
    }
    return serve_params_parse(args, n, allowed, p, why, whylen);
}

static void test_bad_input(void **state)
{
    static const struct {
        const char *query;
        unsigned allowed;
        const char *why;
    } cases[] = {
        { "nope=1", LIST, "unknown parameter 'nope'" },
        { "key=" KEY_HEX, LIST, "'key' does not apply" },
        { "limit=5&limit=6", LIST, "given twice" },
        { "since=yesterday", LIST, "since: not a time (expected RFC 3339" },
        { "until=2026-13-01T00:00:00Z", LIST, "until: no such date" },
        { "since=2000&until=1000", LIST, "since must be before until" },
        { "since=1000&until=1000", LIST, "since must be before until" },
        { "path=api", LIST, "path: expected a path starting with '/'" },
        { "path=/a\x01", LIST, "without control characters" },
        { "method=GE T", LIST, "method: expected an HTTP method" },
        { "method=GET\"", LIST, "method:" },
        { "method=ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG", LIST, "method:" },
        { "status=abc", LIST, "status: expected" },
        { "status=99", LIST, "status:" },
        { "status=1000", LIST, "status:" },
        { "status=0xx", LIST, "status:" },
        { "status=5x", LIST, "status:" },
        { "status=-200", LIST, "status:" },
        { "status=+200", LIST, "status:" },
        { "status=200 ", LIST, "status:" },
        { "outcome=fine", LIST, "outcome: expected ok, timeout" },
        { "flag=red", LIST, "flag: expected a flag name" },
        { "client=1.2.3", LIST, "client: expected an IP address" },
        { "client=1.2.3.4:0", LIST, "client:" },
        { "client=1.2.3.4:65536", LIST, "client:" },
        { "client=1.2.3.4:80x", LIST, "client:" },
        { "server=[::1", LIST, "server:" },
        { "server=[::1]x", LIST, "server:" },
        { "server=example.com", LIST, "server:" },
        { "uid=123", LIST, "uid: expected a connection uid" },
        { "uid=00000000000000zz", LIST, "uid:" },
        { "kind=both", LIST, "kind: expected request, response, outage or "
                             "any" },
        { "kind=outage", LIST, NULL },
        { "key=74" "0000000000000064" "00000000000000aa" "00000001" "04",
          SP_KEY, "key: expected a record key" },
        { "before=74", LIST, "before: expected a record key" },
        { "before=" KEY_HEX "0", LIST, "before:" },
        { "before=75" KEY_HEX, LIST, "before:" },
        { "limit=0", LIST, "limit: expected a number of rows" },
        { "limit=501", LIST, "limit:" },
        { "limit=-1", LIST, "limit:" },
        { "limit=1e3", LIST, "limit:" },
        { "limit=99999999999999999999999", LIST, "limit:" },
        { "top=0", SP_TOP, "top: expected a number of entries" },
        { "top=101", SP_TOP, "top:" },
        { "key=zz", SP_KEY, "key: expected a record key" },
        { "key=" KEY_HEX, SP_KEY | LIST, NULL },
        { "=1", LIST, "unknown parameter ''" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct serve_params p;
        char why[256] = "";
        int rc = parse(cases[i].query, cases[i].allowed, &p, why,
                       sizeof(why));
        if (!cases[i].why) {
            if (rc != 0)
                fail_msg("%s: refused: %s", cases[i].query, why);
            continue;
        }
        if (rc != -EINVAL || !strstr(why, cases[i].why))
            fail_msg("%s: rc %d, why '%s', want '%s'", cases[i].query, rc,
                     why, cases[i].why);
    }
}

static void test_values(void **state)
{
    struct serve_params p;
    char why[256] = "";
    assert_int_equal(parse("since=2026-11-26T05:29:38Z&until=1800000000"
                           "&path=/api/v1&method=PATCH&status=5XX"
                           "&outcome=timeout&flag=early_response"
                           "&client=[::0001]:443&server=10.0.0.2"
                           "&uid=00000000000000AA&kind=request&limit=7"
                           "&before=" KEY_HEX,
                           LIST, &p, why, sizeof(why)), 0);
    assert_int_equal(p.since_ns, 1795670978ull * 1000000000ull);
    assert_int_equal(p.until_ns, 1800000000ull * 1000000000ull);
    assert_string_equal(p.path, "/api/v1");
    assert_string_equal(p.method, "PATCH");
    assert_int_equal(p.status_lo, 500);
    assert_int_equal(p.status_hi, 599);
    assert_string_equal(p.outcome, "timeout");
    assert_int_equal(p.flag, MSG_F_EARLY_RESPONSE);
    assert_string_equal(p.client.ip, "::1"); /* inet_ntop's form */
    assert_int_equal(p.client.port, 443);
    assert_string_equal(p.server.ip, "10.0.0.2");
    assert_int_equal(p.server.port, 0);
    assert_string_equal(p.uid, "00000000000000AA");
    assert_int_equal(p.kind, RECORD_REQUEST);
    assert_int_equal(p.limit, 7);
    assert_int_equal(p.before.n, 22);
    assert_int_equal(serve_key_ts(&p.before), 100);
    char hex[SERVE_KEY_HEX];
    serve_key_hex(&p.before, hex);
    assert_string_equal(hex, KEY_HEX);

    /* defaults; empty values and bare names are absent */
    assert_int_equal(parse("path=&status&limit=", LIST, &p, why,
                           sizeof(why)), 0);
    assert_int_equal(p.given, 0);
    assert_int_equal(p.since_ns, 0);
    assert_int_equal(p.until_ns, UINT64_MAX);
    assert_int_equal(p.limit, SERVE_LIMIT_DEFAULT);
    assert_int_equal(p.top, SERVE_TOP_DEFAULT);
    assert_int_equal(parse("status=none", LIST, &p, why, sizeof(why)), 0);
    assert_int_equal(p.status_lo, 0);
    assert_int_equal(p.status_hi, 0);
    assert_int_equal(parse("status=404", LIST, &p, why, sizeof(why)), 0);
    assert_int_equal(p.status_lo, 404);
    assert_int_equal(p.status_hi, 404);
}

static const struct msg_header no_headers[1];

static struct audit_record response(uint32_t status, const char *outcome)
{
    struct audit_record r = {
        .kind = RECORD_RESPONSE,
        .uid = BYTES_LIT("00000000000000aa"),
        .ts_ns = 5000,
        .addr = { BYTES_LIT("10.0.0.1"), 40000, BYTES_LIT("10.0.0.2"), 80 },
        .method = BYTES_LIT("GET"),
        .uri = BYTES_LIT("/api/v1/users?page=2"),
        .status = status,
        .outcome = bytes_of(outcome),
        .headers = no_headers,
        .flags = MSG_F_CHUNKED,
    };
    return r;
}

static void test_match(void **state)
{
    static const struct {
        const char *query;
        bool ok200, ok_timeout;
    } cases[] = {
        { "", true, true },
        { "since=0.000004&until=0.000006", true, true },
        { "since=0.000006", false, false },
        { "until=0.000005", false, false },
        { "path=/api/v1/users", true, true },
        { "path=/api/v1/users?", false, false }, /* the query is not path */
        { "path=/api/v2", false, false },
        { "method=GET", true, true },
        { "method=get", false, false },
        { "status=200", true, false },
        { "status=2xx", true, false },
        { "status=none", false, true },
        { "status=4xx", false, false },
        { "outcome=ok", true, false },
        { "outcome=timeout", false, true },
        { "flag=chunked", true, true },
        { "flag=gap", false, false },
        { "client=10.0.0.1", true, true },
        { "client=10.0.0.1:40000", true, true },
        { "client=10.0.0.1:40001", false, false },
        { "server=10.0.0.2:80", true, true },
        { "server=10.0.0.1", false, false },
        { "uid=00000000000000AA", true, true },
        { "uid=00000000000000ab", false, false },
        { "kind=response", true, true },
        { "kind=request", false, false },
        { "kind=any", true, true },
    };
    struct audit_record ok = response(200, "ok");
    struct audit_record to = response(0, "timeout");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct serve_params p;
        char why[256];
        if (parse(cases[i].query, LIST, &p, why, sizeof(why)) != 0)
            fail_msg("%s: %s", cases[i].query, why);
        if (serve_params_match(&p, &ok) != cases[i].ok200 ||
            serve_params_match(&p, &to) != cases[i].ok_timeout)
            fail_msg("%s: matched %d %d, want %d %d", cases[i].query,
                     serve_params_match(&p, &ok),
                     serve_params_match(&p, &to), cases[i].ok200,
                     cases[i].ok_timeout);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
