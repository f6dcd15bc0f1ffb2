/* test_common_record_json.c - the JSON line and table row of records.
 *
 * Expected outputs are written out in full: a change of key order,
 * escaping or field choice must show up here as a diff.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "record_json.h"

#include <stdio.h>
#include <string.h>

#define TS_REQ 1795670978123456789ull  /* 2026-11-26T05:29:38.123456789Z */
#define TS_RESP 1795670978125456789ull

static const struct msg_header req_headers[] = {
    { BYTES_LIT("Host"), BYTES_LIT("example.com:8080") },
    { BYTES_LIT("User-Agent"), BYTES_LIT("curl/8.0") },
};

static const struct msg_header resp_headers[] = {
    { BYTES_LIT("Content-Type"), BYTES_LIT("text/plain") },
};

static struct audit_record request_record(void)
{
    struct audit_record r = {
        .kind = RECORD_REQUEST,
        .uid = BYTES_LIT("00000000000000ab"),
        .idx = 2,
        .ts_ns = TS_REQ,
        .addr = { BYTES_LIT("10.0.0.1"), 51000, BYTES_LIT("10.0.0.2"), 8080 },
        .route = { BYTES_LIT("Packet Sniffer Group"), BYTES_LIT("/a"),
                   BYTES_LIT("audit"), 1 },
        .step = BYTES_LIT("Log Message"),
        .method = BYTES_LIT("POST"),
        .uri = BYTES_LIT("/a/b?x=1&y=2"),
        .host = BYTES_LIT("example.com:8080"),
        .req_ts_ns = TS_REQ,
        .version = BYTES_LIT("1.1"),
        .headers = req_headers,
        .n_headers = 2,
        .body = BYTES_LIT("k=v"),
        .body_len = 3,
    };
    return r;
}

static struct audit_record response_record(void)
{
    struct audit_record r = request_record();
    r.kind = RECORD_RESPONSE;
    r.ts_ns = TS_RESP;
    r.step = BYTES_LIT("Log Message Payload");
    r.status = 200;
    r.reason = BYTES_LIT("OK");
    r.headers = resp_headers;
    r.n_headers = 1;
    r.body = BYTES_LIT("hello");
    r.body_len = 11;
    r.flags = MSG_F_CHUNKED | MSG_F_TRUNCATED;
    r.outcome = BYTES_LIT("ok");
    r.latency_ns = 1500000;
    return r;
}

static void expect_json(const struct audit_record *r, const char *want)
{
    struct json_out j;
    json_out_init(&j);
    assert_int_equal(record_json(&j, r), 0);
    assert_string_equal(j.p, want);
    assert_int_equal(j.len, strlen(want));
    json_out_free(&j);
}

static void test_request(void **state)
{
    struct audit_record r = request_record();
    expect_json(&r,
        "{\"@timestamp\":\"2026-11-26T05:29:38.123456Z\","
        "\"event\":{\"kind\":\"event\",\"category\":[\"web\"],"
        "\"type\":[\"access\"],\"action\":\"request\",\"outcome\":\"unknown\"},"
        "\"source\":{\"ip\":\"10.0.0.1\",\"port\":51000},"
        "\"destination\":{\"ip\":\"10.0.0.2\",\"port\":8080},"
        "\"network\":{\"transport\":\"tcp\",\"protocol\":\"http\"},"
        "\"url\":{\"original\":\"/a/b?x=1&y=2\",\"path\":\"/a/b\","
        "\"query\":\"x=1&y=2\",\"domain\":\"example.com\",\"port\":8080},"
        "\"http\":{\"version\":\"1.1\",\"request\":{\"method\":\"POST\","
        "\"body\":{\"bytes\":3}}},"
        "\"hark\":{\"uid\":\"00000000000000ab\",\"idx\":2,"
        "\"service_group\":\"Packet Sniffer Group\",\"route\":\"/a\","
        "\"policy\":\"audit\",\"step\":\"Log Message\",\"flags\":[],"
        "\"headers\":[[\"Host\",\"example.com:8080\"],"
        "[\"User-Agent\",\"curl/8.0\"]],"
        "\"body\":{\"captured\":3,\"content\":\"k=v\"}}}");
}

static void test_response(void **state)
{
    struct audit_record r = response_record();
    expect_json(&r,
        "{\"@timestamp\":\"2026-11-26T05:29:38.125456Z\","
        "\"event\":{\"kind\":\"event\",\"category\":[\"web\"],"
        "\"type\":[\"access\"],\"action\":\"response\","
        "\"outcome\":\"success\",\"duration\":1500000},"
        "\"source\":{\"ip\":\"10.0.0.1\",\"port\":51000},"
        "\"destination\":{\"ip\":\"10.0.0.2\",\"port\":8080},"
        "\"network\":{\"transport\":\"tcp\",\"protocol\":\"http\"},"
        "\"url\":{\"original\":\"/a/b?x=1&y=2\",\"path\":\"/a/b\","
        "\"query\":\"x=1&y=2\",\"domain\":\"example.com\",\"port\":8080},"
        "\"http\":{\"version\":\"1.1\",\"request\":{\"method\":\"POST\"},"
        "\"response\":{\"status_code\":200,\"body\":{\"bytes\":11}}},"
        "\"hark\":{\"uid\":\"00000000000000ab\",\"idx\":2,"
        "\"service_group\":\"Packet Sniffer Group\",\"route\":\"/a\","
        "\"policy\":\"audit\",\"step\":\"Log Message Payload\","
        "\"outcome\":\"ok\",\"reason\":\"OK\","
        "\"flags\":[\"chunked\",\"truncated\"],"
        "\"headers\":[[\"Content-Type\",\"text/plain\"]],"
        "\"body\":{\"captured\":5,\"content\":\"hello\"}}}");
}

/* No response came: no http.response, no duration, outcome failure. */
static void test_timeout(void **state)
{
    struct audit_record r = response_record();
    r.status = 0;
    r.reason = BYTES_LIT("");
    r.version = BYTES_LIT("");
    r.n_headers = 0;
    r.body = BYTES_LIT("");
    r.body_len = 0;
    r.flags = 0;
    r.outcome = BYTES_LIT("timeout");
    r.latency_ns = 0;
    r.host = BYTES_LIT("");
    r.uri = BYTES_LIT("/");
    r.route = (struct msg_route){ BYTES_LIT(""), BYTES_LIT(""),
                                  BYTES_LIT(""), -1 };
    r.step = BYTES_LIT("");
    expect_json(&r,
        "{\"@timestamp\":\"2026-11-26T05:29:38.125456Z\","
        "\"event\":{\"kind\":\"event\",\"category\":[\"web\"],"
        "\"type\":[\"access\"],\"action\":\"response\","
        "\"outcome\":\"failure\"},"
        "\"source\":{\"ip\":\"10.0.0.1\",\"port\":51000},"
        "\"destination\":{\"ip\":\"10.0.0.2\",\"port\":8080},"
        "\"network\":{\"transport\":\"tcp\",\"protocol\":\"http\"},"
        "\"url\":{\"original\":\"/\",\"path\":\"/\"},"
        "\"http\":{\"request\":{\"method\":\"POST\"}},"
        "\"hark\":{\"uid\":\"00000000000000ab\",\"idx\":2,"
        "\"outcome\":\"timeout\",\"flags\":[],\"headers\":[],"
        "\"body\":{\"captured\":0}}}");
}

static void test_event_outcome(void **state)
{
    static const struct {
        enum record_kind kind;
        uint32_t status;
        const char *want;
    } cases[] = {
        { RECORD_REQUEST, 0, "unknown" },
        { RECORD_RESPONSE, 0, "failure" },
        { RECORD_RESPONSE, 101, "unknown" },
        { RECORD_RESPONSE, 204, "success" },
        { RECORD_RESPONSE, 304, "success" },
        { RECORD_RESPONSE, 399, "success" },
        { RECORD_RESPONSE, 404, "failure" },
        { RECORD_RESPONSE, 503, "failure" },
        { RECORD_RESPONSE, 600, "unknown" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct audit_record r = { .kind = cases[i].kind,
                                  .status = cases[i].status };
        assert_string_equal(record_event_outcome(&r), cases[i].want);
    }
}

static void test_escape(void **state)
{
    static const struct {
        const char *in;
        size_t n;
        const char *want;
        const char *label;
    } cases[] = {
        { "plain", 5, "\"plain\"", "ascii" },
        { "a\"b\\c", 5, "\"a\\\"b\\\\c\"", "quote and backslash" },
        { "\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"", "short escapes" },
        { "\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\"", "control, DEL" },
        { "a\0b", 3, "\"a\\u0000b\"", "NUL" },
        { "caf\xc3\xa9", 5, "\"caf\xc3\xa9\"", "valid 2-byte UTF-8" },
        { "\xe2\x82\xac\xf0\x9f\x98\x80", 7, "\"\xe2\x82\xac\xf0\x9f\x98\x80\"",
          "valid 3- and 4-byte UTF-8" },
        { "a\xff" "b", 3, "\"a\\ufffdb\"", "invalid byte" },
        { "\xc3", 1, "\"\\ufffd\"", "truncated sequence at the end" },
        { "\xc3(", 2, "\"\\ufffd(\"", "bad continuation" },
        { "\xc0\xaf", 2, "\"\\ufffd\\ufffd\"", "overlong slash" },
        { "\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"", "surrogate" },
        { "\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"",
          "past U+10FFFF" },
    };
    struct json_out j;
    json_out_init(&j);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_out_reset(&j);
        json_out_str(&j, cases[i].in, cases[i].n);
        if (strcmp(j.p, cases[i].want))
            fail_msg("%s: got %s want %s", cases[i].label, j.p,
                     cases[i].want);
    }
    json_out_free(&j);
}

/* Escaping inside a record, and a binary body as base64. */
static void test_record_escaping(void **state)
{
    struct audit_record r = request_record();
    static const struct msg_header h[] = {
        { BYTES_LIT("X-Q"), BYTES_LIT("say \"hi\"\\\x01") },
        { BYTES_LIT("X-Bin"), BYTES_LIT("\xfe\xff ok") },
    };
    r.headers = h;
    r.n_headers = 2;
    r.body = (struct bytes){ "\x00\x01\xff", 3 };
    r.body_len = 3;
    struct json_out j;
    json_out_init(&j);
    assert_int_equal(record_json(&j, &r), 0);
    assert_non_null(strstr(j.p, "\"headers\":[[\"X-Q\",\"say \\\"hi\\\""
                                "\\\\\\u0001\"],[\"X-Bin\",\"\\ufffd"
                                "\\ufffd ok\"]]"));
    assert_non_null(strstr(j.p, "\"body\":{\"captured\":3,"
                                "\"base64\":\"AAH/\"}"));
    /* A body with NUL is not text even if it is valid UTF-8. */
    assert_false(json_is_text("a\0b", 3));
    assert_true(json_is_text("caf\xc3\xa9", 5));
    assert_false(json_is_text("\xc3", 1));
    json_out_free(&j);
}

static void test_writer_commas(void **state)
{
    struct json_out j;
    json_out_init(&j);
    json_out_obj(&j);
    json_out_key(&j, "a");
    json_out_arr(&j);
    json_out_u64(&j, 1);
    json_out_i64(&j, -2);
    json_out_obj(&j);
    json_out_obj_end(&j);
    json_out_arr(&j);
    json_out_arr_end(&j);
    json_out_bool(&j, true);
    json_out_arr_end(&j);
    json_out_key(&j, "t");
    json_out_ms(&j, 1234567);
    json_out_key(&j, "b64");
    json_out_base64(&j, "hello", 5);
    json_out_obj_end(&j);
    assert_string_equal(j.p, "{\"a\":[1,-2,{},[],true],\"t\":1.234,"
                             "\"b64\":\"aGVsbG8=\"}");
    /* grows past the first allocation */
    json_out_reset(&j);
    char big[5000];
    memset(big, 'x', sizeof(big));
    json_out_str(&j, big, sizeof(big));
    assert_int_equal(j.len, sizeof(big) + 2);
    assert_false(j.failed);
    json_out_free(&j);
}

static void test_url_split(void **state)
{
    static const struct {
        const char *uri, *path, *query, *fragment; /* NULL: absent */
    } cases[] = {
        { "/a/b?x=1&y=2", "/a/b", "x=1&y=2", NULL },
        { "/a", "/a", NULL, NULL },
        { "/a?", "/a", "", NULL },
        { "/a?q#frag", "/a", "q", "frag" },
        { "/a#f?x", "/a", NULL, "f?x" },
        { "/?a=b?c", "/", "a=b?c", NULL },
        { "http://h.example:81/p/q?z=1#f", "/p/q", "z=1", "f" },
        { "http://h.example?z", "", "z", NULL },
        { "http://h.example", "", NULL, NULL },
        { "h.example:443", "", NULL, NULL },
        { "*", "*", NULL, NULL },
        { "", "", NULL, NULL },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct url_parts u;
        record_url_split(bytes_of(cases[i].uri), &u);
        if (!bytes_eq(u.path, cases[i].path))
            fail_msg("%s: path '%.*s'", cases[i].uri, (int)u.path.n,
                     u.path.p);
        assert_int_equal(u.has_query, cases[i].query != NULL);
        if (cases[i].query && !bytes_eq(u.query, cases[i].query))
            fail_msg("%s: query '%.*s'", cases[i].uri, (int)u.query.n,
                     u.query.p);
        assert_int_equal(u.has_fragment, cases[i].fragment != NULL);
        if (cases[i].fragment && !bytes_eq(u.fragment, cases[i].fragment))
            fail_msg("%s: fragment", cases[i].uri);
    }
}

/* Host header forms for url.domain / url.port. */
static void test_host(void **state)
{
    static const struct {
        const char *host, *want;
    } cases[] = {
        { "example.com", "\"domain\":\"example.com\"}" },
        { "example.com:8080", "\"domain\":\"example.com\",\"port\":8080}" },
        { "[::1]:8443", "\"domain\":\"[::1]\",\"port\":8443}" },
        { "[::1]", "\"domain\":\"[::1]\"}" },
        { "::1", "\"domain\":\"::1\"}" },
        { "h:99999", "\"domain\":\"h:99999\"}" },
        { "h:x", "\"domain\":\"h:x\"}" },
    };
    struct json_out j;
    json_out_init(&j);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct audit_record r = request_record();
        r.host = bytes_of(cases[i].host);
        json_out_reset(&j);
        assert_int_equal(record_json(&j, &r), 0);
        if (!strstr(j.p, cases[i].want))
            fail_msg("%s: %s", cases[i].host, j.p);
    }
    json_out_free(&j);
}

static void test_table(void **state)
{
    char buf[512];
    struct audit_record r = response_record();
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
    r = request_record();
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_response),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_event_outcome),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_record_escaping),
        cmocka_unit_test(test_writer_commas),
        cmocka_unit_test(test_url_split),
        cmocka_unit_test(test_host),
        cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
