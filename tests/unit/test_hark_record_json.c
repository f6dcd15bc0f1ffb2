/* test_hark_record_json.c - the JSON line of records (ECS names).
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

/* A stage that died: when, until when, how, and what it held. */
static void test_outage(void **state)
{
    static const struct record_count lost[] = {
        { BYTES_LIT("open_connections"), 12 },
    };
    struct audit_record r = {
        .kind = RECORD_OUTAGE, .ts_ns = 1795670978123456789ull,
        .until_ns = 1795670979623456789ull,
        .who = BYTES_LIT("reassemble-1"),
        .reason = BYTES_LIT("killed by signal 9 (Killed)"),
        .lost = lost, .n_lost = 1,
    };
    expect_json(&r,
        "{\"@timestamp\":\"2026-11-26T05:29:38.123456Z\","
        "\"event\":{\"kind\":\"event\",\"category\":[\"process\"],"
        "\"type\":[\"end\"],\"action\":\"outage\","
        "\"outcome\":\"failure\",\"end\":\"2026-11-26T05:29:39.623456Z\","
        "\"duration\":1500000000},"
        "\"hark\":{\"outage\":{\"stage\":\"reassemble-1\","
        "\"reason\":\"killed by signal 9 (Killed)\","
        "\"lost\":{\"open_connections\":12}}}}");
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
        urlsplit(bytes_of(cases[i].uri), &u);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_response),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_outage),
        cmocka_unit_test(test_event_outcome),
        cmocka_unit_test(test_record_escaping),
        cmocka_unit_test(test_url_split),
        cmocka_unit_test(test_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
