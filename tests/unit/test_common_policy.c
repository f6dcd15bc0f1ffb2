/* test_common_policy.c - what a log step keeps of a message.
 *
 * Table-driven: each case is a log step (headers on or off, body_max,
 * redact list), the kind of record, the logged message and outcome, and
 * the record it must give, written as text by describe(). Single-purpose
 * tests below cover the request summary, header lookup, the header cap
 * and the defaults shared with the config.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "policy.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define TEXT_MAX 1024

/* ---- messages -------------------------------------------------------- */

static const struct msg_header req_headers[] = {
    { BYTES_LIT("Host"), BYTES_LIT("example.com") },
    { BYTES_LIT("Authorization"), BYTES_LIT("Basic dTpw") },
    { BYTES_LIT("proxy-authorization"), BYTES_LIT("Basic cDpw") },
    { BYTES_LIT("COOKIE"), BYTES_LIT("sid=1") },
    { BYTES_LIT("X-Api-Key"), BYTES_LIT("k1") },
    { BYTES_LIT("Accept"), BYTES_LIT("*/*") },
};

static const struct msg_header resp_headers[] = {
    { BYTES_LIT("Set-Cookie"), BYTES_LIT("sid=2") },
    { BYTES_LIT("Content-Type"), BYTES_LIT("text/plain") },
    { BYTES_LIT("x-api-key"), BYTES_LIT("k2") },
};

static const struct http_msg req = {
    .kind = MSG_REQ,
    .uid = BYTES_LIT("00000000000000ab"),
    .idx = 3,
    .ts_ns = 1000,
    .ts_end_ns = 1200,
    .addr = { BYTES_LIT("10.0.0.1"), 40000, BYTES_LIT("10.0.0.2"), 80 },
    .method = BYTES_LIT("POST"),
    .uri = BYTES_LIT("/a?x=1"),
    .version = BYTES_LIT("1.1"),
    .headers = req_headers,
    .n_headers = 6,
    .body = BYTES_LIT("hello world"),
    .body_len = 11,
    .routed = true,
    .route = { BYTES_LIT("g"), BYTES_LIT("/a"), BYTES_LIT("audit"), 1 },
};

static const struct http_msg resp = {
    .kind = MSG_RESP,
    .uid = BYTES_LIT("00000000000000ab"),
    .idx = 3,
    .ts_ns = 1500,
    .ts_end_ns = 1600,
    .status = 201,
    .reason = BYTES_LIT("Created"),
    .version = BYTES_LIT("1.1"),
    .headers = resp_headers,
    .n_headers = 3,
    .body = BYTES_LIT("0123456789"),
    .body_len = 10,
    .flags = MSG_F_CHUNKED,
};

/* Its first byte before the request's last: a server that answers early. */
static const struct http_msg resp_early = {
    .kind = MSG_RESP,
    .ts_ns = 1100,
    .ts_end_ns = 1300,
    .status = 413,
    .reason = BYTES_LIT("Too Large"),
    .version = BYTES_LIT("1.1"),
};

/* The reassembler carried 3 of 5000 body bytes. */
static const struct http_msg resp_cut = {
    .kind = MSG_RESP,
    .ts_ns = 1500,
    .ts_end_ns = 1900,
    .status = 200,
    .reason = BYTES_LIT("OK"),
    .version = BYTES_LIT("1.0"),
    .body = BYTES_LIT("abc"),
    .body_len = 5000,
    .flags = MSG_F_TRUNCATED | MSG_F_CLOSE_DELIMITED,
};

/* ---- steps ----------------------------------------------------------- */

static char *api_key[] = { "x-API-key" };

#define STEP(lbl, hdr, max, names, n) \
    { .kind = STEP_LOG, .label = (lbl), .headers = (hdr), \
      .body_max = (max), .redact = (names), .n_redact = (n) }
#define DEFAULT_REDACT (char **)policy_default_redact

static const struct config_step step_default =
    STEP("log", true, 65536, DEFAULT_REDACT, POLICY_DEFAULT_REDACT_COUNT);
static const struct config_step step_api_key =
    STEP("log", true, 65536, api_key, 1);
static const struct config_step step_no_redact =
    STEP("log", true, 65536, NULL, 0);
static const struct config_step step_no_headers =
    STEP("log", false, 65536, DEFAULT_REDACT, POLICY_DEFAULT_REDACT_COUNT);
static const struct config_step step_body5 = STEP("log", true, 5, NULL, 0);
static const struct config_step step_body11 = STEP("log", true, 11, NULL, 0);
static const struct config_step step_body0 = STEP("log", true, 0, NULL, 0);

/* ---- the table ------------------------------------------------------- */

struct pcase {
    const char *label;
    const struct config_step *step;
    enum record_kind kind;
    const struct http_msg *msg;
    const char *outcome;
    uint64_t ts;
    const char *want;
};

#define REQ_HDRS_KEPT "Host: example.com; Authorization: Basic dTpw; " \
    "proxy-authorization: Basic cDpw; COOKIE: sid=1; X-Api-Key: k1; " \
    "Accept: */*"

static const struct pcase cases[] = {
    { "request, default redaction (any case)", &step_default,
      RECORD_REQUEST, &req, NULL, 1000,
      "request t=1000 'log' v=1.1 status=0 '' lat=0 outcome=-; "
      "Host: example.com; Authorization: [redacted]; "
      "proxy-authorization: [redacted]; COOKIE: [redacted]; X-Api-Key: k1; "
      "Accept: */*; body=11 'hello world' flags=" },
    { "response, default redaction", &step_default, RECORD_RESPONSE, &resp,
      OUTCOME_OK, 1500,
      "response t=1500 'log' v=1.1 status=201 'Created' lat=300 outcome=ok; "
      "Set-Cookie: [redacted]; Content-Type: text/plain; x-api-key: k2; "
      "body=10 '0123456789' flags=chunked" },
    { "request, custom list replaces the default", &step_api_key,
      RECORD_REQUEST, &req, NULL, 1000,
      "request t=1000 'log' v=1.1 status=0 '' lat=0 outcome=-; "
      "Host: example.com; Authorization: Basic dTpw; "
      "proxy-authorization: Basic cDpw; COOKIE: sid=1; "
      "X-Api-Key: [redacted]; Accept: */*; body=11 'hello world' flags=" },
    { "response, custom list", &step_api_key, RECORD_RESPONSE, &resp,
      OUTCOME_LATE, 1500,
      "response t=1500 'log' v=1.1 status=201 'Created' lat=300 outcome=late; "
      "Set-Cookie: sid=2; Content-Type: text/plain; x-api-key: [redacted]; "
      "body=10 '0123456789' flags=chunked" },
    { "empty redact list keeps every value", &step_no_redact,
      RECORD_REQUEST, &req, NULL, 1000,
      "request t=1000 'log' v=1.1 status=0 '' lat=0 outcome=-; "
      REQ_HDRS_KEPT "; body=11 'hello world' flags=" },
    { "headers off", &step_no_headers, RECORD_RESPONSE, &resp, OUTCOME_OK,
      1500,
      "response t=1500 'log' v=1.1 status=201 'Created' lat=300 outcome=ok; "
      "(no headers); body=10 '0123456789' flags=chunked" },
    { "body cut at body_max", &step_body5, RECORD_REQUEST, &req, NULL, 1000,
      "request t=1000 'log' v=1.1 status=0 '' lat=0 outcome=-; "
      REQ_HDRS_KEPT "; body=11 'hello' flags=truncated" },
    { "body exactly body_max", &step_body11, RECORD_REQUEST, &req, NULL,
      1000,
      "request t=1000 'log' v=1.1 status=0 '' lat=0 outcome=-; "
      REQ_HDRS_KEPT "; body=11 'hello world' flags=" },
    { "body_max 0 keeps no body", &step_body0, RECORD_RESPONSE, &resp,
      OUTCOME_OK, 1500,
      "response t=1500 'log' v=1.1 status=201 'Created' lat=300 outcome=ok; "
      "Set-Cookie: sid=2; Content-Type: text/plain; x-api-key: k2; "
      "body=10 '' flags=chunked,truncated" },
    { "body cut upstream stays cut", &step_default, RECORD_RESPONSE,
      &resp_cut, OUTCOME_OK, 1500,
      "response t=1500 'log' v=1.0 status=200 'OK' lat=300 outcome=ok; "
      "(no headers); body=5000 'abc' flags=truncated,close_delimited" },
    { "response before the request ended: no latency", &step_default,
      RECORD_RESPONSE, &resp_early, OUTCOME_OK, 1100,
      "response t=1100 'log' v=1.1 status=413 'Too Large' lat=0 outcome=ok; "
      "(no headers); body=0 '' flags=" },
    { "no response: the wait's outcome only", &step_default,
      RECORD_RESPONSE, NULL, OUTCOME_TIMEOUT, 31200,
      "response t=31200 'log' v= status=0 '' lat=0 outcome=timeout; "
      "(no headers); body=0 '' flags=" },
    { "orphan step", &policy_orphan_step, RECORD_RESPONSE, &resp,
      OUTCOME_ORPHAN, 1500,
      "response t=1500 'Orphan Response' v=1.1 status=201 'Created' lat=300 "
      "outcome=orphan; Set-Cookie: [redacted]; Content-Type: text/plain; "
      "x-api-key: k2; body=10 '0123456789' flags=chunked" },
};

/* ---- running a case -------------------------------------------------- */

static void put(char *out, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    if (*len >= cap)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(out + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len += (size_t)n;
}

/* The logged message's part of a record (the request's facts are checked
 * in test_record_carries_request). */
static void describe(const struct audit_record *r, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    put(out, cap, &len, "%s t=%llu '%.*s' v=%.*s status=%u '%.*s' lat=%llu "
        "outcome=%.*s;", r->kind == RECORD_REQUEST ? "request" : "response",
        (unsigned long long)r->ts_ns, (int)r->step.n, r->step.p,
        (int)r->version.n, r->version.p, r->status, (int)r->reason.n,
        r->reason.p, (unsigned long long)r->latency_ns,
        r->outcome.n ? (int)r->outcome.n : 1,
        r->outcome.n ? r->outcome.p : "-");
    if (r->n_headers == 0)
        put(out, cap, &len, " (no headers);");
    for (uint32_t i = 0; i < r->n_headers; i++)
        put(out, cap, &len, " %.*s: %.*s;", (int)r->headers[i].name.n,
            r->headers[i].name.p, (int)r->headers[i].value.n,
            r->headers[i].value.p);
    put(out, cap, &len, " body=%llu '%.*s' flags=",
        (unsigned long long)r->body_len, (int)r->body.n, r->body.p);
    const char *sep = "";
    for (int i = 0; i < MSG_FLAG_COUNT; i++)
        if (r->flags & (1u << i)) {
            put(out, cap, &len, "%s%s", sep, msg_flag_names[i]);
            sep = ",";
        }
}

static void test_case(void **state)
{
    const struct pcase *tc = *state;
    static struct msg_header scratch[FRAME_MAX_HEADERS];
    struct req_summary sum;
    struct audit_record rec;
    char got[TEXT_MAX];
    policy_summarize(&req, &sum);
    policy_make_record(tc->step, tc->kind, &sum, tc->msg, tc->outcome,
                       tc->ts, scratch, &rec);
    describe(&rec, got, sizeof(got));
    if (strcmp(got, tc->want) != 0)
        fail_msg("%s\n  want: %s\n  got:  %s", tc->label, tc->want, got);
}

/* ---- single-purpose tests ------------------------------------------- */

static void test_summarize(void **state)
{
    (void)state;
    static const struct msg_header hosts[] = {
        { BYTES_LIT("X-Host"), BYTES_LIT("not this") },
        { BYTES_LIT("hOST"), BYTES_LIT("first.example") },
        { BYTES_LIT("Host"), BYTES_LIT("second.example") },
    };
    struct http_msg m = req;
    m.headers = hosts;
    m.n_headers = 3;
    struct req_summary s;
    policy_summarize(&m, &s);
    /* Borrowed, not copied. */
    assert_ptr_equal(s.uid.p, m.uid.p);
    assert_ptr_equal(s.method.p, m.method.p);
    assert_ptr_equal(s.uri.p, m.uri.p);
    assert_ptr_equal(s.route.policy.p, m.route.policy.p);
    assert_ptr_equal(s.addr.src_ip.p, m.addr.src_ip.p);
    assert_int_equal(s.idx, 3);
    assert_int_equal(s.ts_ns, 1000);
    assert_int_equal(s.ts_end_ns, 1200);
    assert_int_equal(s.addr.src_port, 40000);
    assert_int_equal(s.addr.dst_port, 80);
    assert_int_equal(s.route.next_step, 1);
    assert_ptr_equal(s.host.p, hosts[1].value.p);
    assert_int_equal(s.host.n, hosts[1].value.n);

    m.n_headers = 1;
    policy_summarize(&m, &s);
    assert_null(s.host.p);
    assert_int_equal(s.host.n, 0);
}

static void test_header(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *want;    /* NULL: not found */
    } t[] = {
        { "authorization", "Basic dTpw" },
        { "Cookie", "sid=1" },
        { "PROXY-AUTHORIZATION", "Basic cDpw" },
        { "Hos", NULL },
        { "Hostname", NULL },
        { "", NULL },
        { "Content-Type", NULL },
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct bytes v = policy_header(req_headers, 6, t[i].name);
        if (!t[i].want) {
            assert_null(v.p);
            assert_int_equal(v.n, 0);
            continue;
        }
        assert_int_equal(v.n, strlen(t[i].want));
        assert_memory_equal(v.p, t[i].want, v.n);
    }
    assert_null(policy_header(req_headers, 0, "Host").p);
}

/* Both kinds carry the request's facts, whatever message they log. */
static void test_record_carries_request(void **state)
{
    (void)state;
    static struct msg_header scratch[FRAME_MAX_HEADERS];
    const struct http_msg *msgs[] = { &req, &resp, NULL };
    struct req_summary s;
    policy_summarize(&req, &s);
    for (size_t i = 0; i < 3; i++) {
        struct audit_record r;
        enum record_kind kind = i == 0 ? RECORD_REQUEST : RECORD_RESPONSE;
        policy_make_record(&step_default, kind, &s, msgs[i],
                           i ? OUTCOME_OK : NULL, 7, scratch, &r);
        assert_int_equal(r.kind, kind);
        assert_true(bytes_eq(r.uid, "00000000000000ab"));
        assert_int_equal(r.idx, 3);
        assert_int_equal(r.ts_ns, 7);
        assert_int_equal(r.req_ts_ns, 1000);
        assert_true(bytes_eq(r.addr.src_ip, "10.0.0.1"));
        assert_true(bytes_eq(r.addr.dst_ip, "10.0.0.2"));
        assert_int_equal(r.addr.src_port, 40000);
        assert_true(bytes_eq(r.route.group, "g"));
        assert_true(bytes_eq(r.route.path, "/a"));
        assert_true(bytes_eq(r.route.policy, "audit"));
        assert_true(bytes_eq(r.method, "POST"));
        assert_true(bytes_eq(r.uri, "/a?x=1"));
        assert_true(bytes_eq(r.host, "example.com"));
        assert_true(bytes_eq(r.step, "log"));
    }
}

/* More headers than a record holds: the first FRAME_MAX_HEADERS. */
static void test_header_cap(void **state)
{
    (void)state;
    static struct msg_header many[FRAME_MAX_HEADERS + 44];
    static struct msg_header scratch[FRAME_MAX_HEADERS];
    static char names[FRAME_MAX_HEADERS + 44][8];
    for (size_t i = 0; i < FRAME_MAX_HEADERS + 44; i++) {
        snprintf(names[i], sizeof(names[i]), "H%zu", i);
        many[i].name = bytes_of(names[i]);
        many[i].value = BYTES_LIT("v");
    }
    struct http_msg m = resp;
    m.headers = many;
    m.n_headers = FRAME_MAX_HEADERS + 44;
    struct req_summary s;
    struct audit_record r;
    policy_summarize(&req, &s);
    policy_make_record(&step_no_redact, RECORD_RESPONSE, &s, &m, OUTCOME_OK,
                       1500, scratch, &r);
    assert_int_equal(r.n_headers, FRAME_MAX_HEADERS);
    assert_ptr_equal(r.headers, scratch);
    assert_true(bytes_eq(r.headers[FRAME_MAX_HEADERS - 1].name, "H255"));
}

/* The default log step of the config redacts the shared names, and an
 * orphan is logged like a default response step. */
static void test_defaults_shared_with_config(void **state)
{
    (void)state;
    struct config *c = config_default();
    assert_non_null(c);
    const struct config_policy *p = config_policy_find(c, "audit");
    assert_non_null(p);
    for (unsigned i = 0; i < p->n_steps; i++) {
        const struct config_step *st = &p->steps[i];
        if (st->kind != STEP_LOG)
            continue;
        assert_int_equal(st->n_redact, POLICY_DEFAULT_REDACT_COUNT);
        for (unsigned k = 0; k < st->n_redact; k++)
            assert_string_equal(st->redact[k], policy_default_redact[k]);
        assert_true(st->headers);
        assert_int_equal(st->body_max, policy_orphan_step.body_max);
    }
    assert_true(policy_orphan_step.headers);
    assert_int_equal(policy_orphan_step.message, STEP_MSG_RESPONSE);
    assert_ptr_equal(policy_orphan_step.redact, policy_default_redact);
    assert_int_equal(policy_orphan_step.n_redact,
                     POLICY_DEFAULT_REDACT_COUNT);
    config_destroy(&c);
}

/* Header names and values as the wire may carry them, and whether the
 * default step (and one redacting X-Api-Key) replaces the value: every
 * spelling a server may read as a credential is redacted, names that
 * are other headers are not. */
/* An orphan (a response without its request) has no policy: it is logged
 * as strictly as the strictest response step of the config, or of any
 * log step when none logs responses; names past the cap mean no headers. */
static struct config *load_policies(const char *policies)
{
    /* /b goes to b when there is one, else to a */
    const char *b = strstr(policies, "  b:\n") ? "b" : "a";
    char yaml[8192];
    snprintf(yaml, sizeof(yaml),
             "service_groups:\n"
             "  - name: G\n"
             "    relative_paths:\n"
             "      - { path: /, policy: a }\n"
             "      - { path: /b, policy: %s }\n"
             "policies:\n%s", b, policies);
    struct config *c = NULL;
    char err[512] = "";
    if (config_load_string(yaml, "orphan.yaml", &c, err, sizeof(err)) != 0)
        fail_msg("config: %s\n%s", err, yaml);
    return c;
}

static bool has_name(const struct config_step *s, const char *name)
{
    for (unsigned i = 0; i < s->n_redact; i++)
        if (!strcasecmp(s->redact[i], name))
            return true;
    return false;
}

static void test_orphan_as_strict_as_config(void **state)
{
    (void)state;
    const char *names[POLICY_ORPHAN_REDACT_MAX];
    struct config_step o;

    struct config *c = load_policies(
        "  a:\n"
        "    - log: { message: request, redact: [X-Req-Secret], body: 0 }\n"
        "    - wait_for_response: 5s\n"
        "    - log: { message: response, redact: [X-Api-Key], body: 100 }\n"
        "  b:\n"
        "    - wait_for_response: 5s\n"
        "    - log: { message: response, headers: false, body: 1MiB }\n");
    policy_orphan_step_for(c, names, POLICY_ORPHAN_REDACT_MAX, &o);
    assert_false(o.headers);            /* b keeps none */
    assert_int_equal(o.body_max, 100);  /* a keeps 100 bytes */
    assert_true(has_name(&o, "x-api-key"));
    assert_true(has_name(&o, "Set-Cookie")); /* the defaults stay */
    assert_false(has_name(&o, "X-Req-Secret")); /* a request step's */
    assert_int_equal(o.message, STEP_MSG_RESPONSE);
    assert_true(bytes_eq(bytes_of(o.label), "Orphan Response"));
    config_destroy(&c);

    /* no step logs a response: the request steps decide */
    c = load_policies(
        "  a:\n"
        "    - log: { message: request, redact: [X-Req-Secret], body: 0 }\n");
    policy_orphan_step_for(c, names, POLICY_ORPHAN_REDACT_MAX, &o);
    assert_true(o.headers);
    assert_int_equal(o.body_max, 0);
    assert_true(has_name(&o, "X-Req-Secret"));
    assert_int_equal(o.n_redact, POLICY_DEFAULT_REDACT_COUNT + 1);
    config_destroy(&c);

    /* a step keeping more than the default keeps it for orphans too */
    c = load_policies(
        "  a:\n"
        "    - wait_for_response: 5s\n"
        "    - log: { message: response, body: 1MiB }\n");
    policy_orphan_step_for(c, names, POLICY_ORPHAN_REDACT_MAX, &o);
    assert_true(o.headers);
    assert_int_equal(o.body_max, 1u << 20);
    config_destroy(&c);

    /* more names than it can hold: no headers rather than unredacted */
    c = load_policies(
        "  a:\n"
        "    - wait_for_response: 5s\n"
        "    - log: { message: response, redact: [A, B, C, D, E, F] }\n");
    assert_false(policy_orphan_step_for(c, names,
                                        POLICY_DEFAULT_REDACT_COUNT + 3, &o));
    assert_false(o.headers);
    assert_true(policy_orphan_step_for(c, names,
                                       POLICY_DEFAULT_REDACT_COUNT + 6, &o));
    assert_true(o.headers);
    assert_int_equal(o.n_redact, POLICY_DEFAULT_REDACT_COUNT + 6);
    config_destroy(&c);

    /* a policy no relative path routes to logs nothing: it does not count
     * (here the built-in "audit", and "c") */
    c = load_policies(
        "  a:\n"
        "    - wait_for_response: 5s\n"
        "    - log: { message: response, body: 7 }\n"
        "  c:\n"
        "    - wait_for_response: 5s\n"
        "    - log: { message: response, headers: false, body: 1 }\n");
    policy_orphan_step_for(c, names, POLICY_ORPHAN_REDACT_MAX, &o);
    assert_true(o.headers);
    assert_int_equal(o.body_max, 7);
    config_destroy(&c);

    /* no config at all: the default orphan step */
    policy_orphan_step_for(NULL, names, POLICY_ORPHAN_REDACT_MAX, &o);
    assert_true(o.headers);
    assert_int_equal(o.body_max, POLICY_DEFAULT_BODY_MAX);
    assert_int_equal(o.n_redact, POLICY_DEFAULT_REDACT_COUNT);
}

/* What a reassembler carries of a body: the most any routed log step (or
 * the orphan step) keeps, never past reassemble.body_max. */
static void test_body_carried(void **state)
{
    (void)state;
    /* a keeps 100 of a response and none of a request, b 300 */
    struct config *c = load_policies(
        "  a:\n"
        "    - log: { message: request, body: 0 }\n"
        "    - wait_for_response: 5s\n"
        "    - log: { message: response, body: 100 }\n"
        "  b:\n"
        "    - log: { message: request, body: 300 }\n");
    assert_int_equal(policy_body_carried(c, 1u << 20), 300);
    assert_int_equal(policy_body_carried(c, 200), 200); /* the cap */
    config_destroy(&c);

    /* policies no path routes to (the built-in audit, 64 KiB, and c)
     * keep nothing from the wire */
    c = load_policies(
        "  a:\n"
        "    - wait_for_response: 5s\n"
        "    - log: { message: response, body: 7 }\n"
        "  c:\n"
        "    - log: { message: request, body: 1MiB }\n");
    assert_int_equal(policy_body_carried(c, 1u << 20), 7);
    config_destroy(&c);

    /* nothing logs a body: nothing is carried */
    c = load_policies(
        "  a:\n"
        "    - log: { message: request, body: 0 }\n");
    assert_int_equal(policy_body_carried(c, 1u << 20), 0);
    config_destroy(&c);

    /* no log step at all: orphans are logged with the default step */
    c = load_policies("  a:\n    - wait_for_response: 5s\n");
    assert_int_equal(policy_body_carried(c, 1u << 20),
                     POLICY_DEFAULT_BODY_MAX);
    config_destroy(&c);
}

static void test_hostile_names(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        size_t name_len;    /* 0: strlen */
        const char *value;
        size_t value_len;   /* 0: strlen */
        bool redacted;
    } t[] = {
        { "Authorization", 0, "s", 0, true },
        { "authorization", 0, "s", 0, true },
        { "AUTHORIZATION", 0, "s", 0, true },
        { "Authorization ", 0, "s", 0, true }, /* "Authorization : s" */
        { "Authorization\t", 0, "s", 0, true },
        { "Authorization\0", 14, "s", 0, true }, /* "Authorization\0: s" */
        { "Author\0ization", 14, "s", 0, true },
        { "Authorization\r", 0, "s", 0, true },
        { "\x01" "Authorization", 0, "s", 0, true },
        { "Proxy_Authorization", 0, "s", 0, true }, /* CGI: HTTP_PROXY_... */
        { "proxy-authorization\x7f", 0, "s", 0, true },
        { "Set_Cookie", 0, "s", 0, true },
        { "Cookie ", 0, "s", 0, true },
        { "X Cookie", 0, "s", 0, true },            /* unclean, contains it */
        { "Authorization x", 0, "s", 0, true },
        { "Authorizati\xc3\xb3n", 0, "s", 0, false }, /* no one folds it */
        { "X-Authorization", 0, "s", 0, false },   /* a different header */
        { "Authorization-Info", 0, "s", 0, false },
        { "Cookies", 0, "s", 0, false },
        { "", 0, "s", 0, false },
        { "X-Api-Key", 0, "k", 0, false },         /* not in the defaults */
        /* values carrying a header line: bare CR, obs-fold, NUL */
        { "X-Foo", 0, "a\rAuthorization: s", 0, true },
        { "X-Foo", 0, "a Authorization: s", 0, true },
        { "X-Foo", 0, "a\0Cookie:s", 10, true },
        { "X-Foo", 0, "a\rproxy_authorization\t: s", 0, true },
        { "X-Foo", 0, "Authorization, Cookie", 0, false },
        { "Date", 0, "Mon, 01 Jan 2024 12:00:00 GMT", 0, false },
        { "Referer", 0, "http://h/?next=https://x", 0, false },
        { "X-Foo", 0, "NotAuthorization: s", 0, false },
    };
    static char *api_key_names[] = { "X_API_KEY" };
    const struct config_step key_step = STEP("log", true, 1, api_key_names, 1);
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct bytes name = { t[i].name, (uint32_t)(t[i].name_len
            ? t[i].name_len : strlen(t[i].name)) };
        struct bytes value = { t[i].value, (uint32_t)(t[i].value_len
            ? t[i].value_len : strlen(t[i].value)) };
        if (policy_redacts(&step_default, name, value) != t[i].redacted)
            fail_msg("case %zu ('%s'): redacted %d, want %d", i, t[i].name,
                     !t[i].redacted, t[i].redacted);
    }
    /* Configured names are read the same way. */
    assert_true(policy_redacts(&key_step, BYTES_LIT("x-api-key"),
                               BYTES_LIT("k")));
    assert_true(policy_redacts(&key_step, BYTES_LIT("X-Api-Key "),
                               BYTES_LIT("k")));
    assert_false(policy_redacts(&key_step, BYTES_LIT("Authorization"),
                                BYTES_LIT("s")));
    /* A long unclean name is redacted without a search. */
    static char junk[2000];
    memset(junk, ' ', sizeof(junk));
    assert_true(policy_redacts(&step_default,
                               (struct bytes){ junk, sizeof(junk) },
                               BYTES_LIT("v")));
}

/* A record keeps the hostile header, its value redacted, in place. */
static void test_hostile_record(void **state)
{
    (void)state;
    static const struct msg_header hdrs[] = {
        { BYTES_LIT("Host"), BYTES_LIT("h") },
        { { "Authorization\0", 14 }, BYTES_LIT("Basic c2VjcmV0") },
        { BYTES_LIT("Authorization "), BYTES_LIT("Bearer t0ken") },
        { BYTES_LIT("Accept"), BYTES_LIT("*/*") },
    };
    static struct msg_header scratch[FRAME_MAX_HEADERS];
    struct http_msg m = req;
    m.headers = hdrs;
    m.n_headers = 4;
    m.flags = MSG_F_MALFORMED;
    struct req_summary s;
    struct audit_record r;
    policy_summarize(&m, &s);
    policy_make_record(&step_default, RECORD_REQUEST, &s, &m, NULL, 1, scratch,
                       &r);
    assert_int_equal(r.n_headers, 4);
    assert_true(bytes_eq(r.headers[0].value, "h"));
    assert_int_equal(r.headers[1].name.n, 14);
    assert_true(bytes_eq(r.headers[1].value, POLICY_REDACTED));
    assert_true(bytes_eq(r.headers[2].value, POLICY_REDACTED));
    assert_true(bytes_eq(r.headers[3].value, "*/*"));
    assert_int_equal(r.flags & MSG_F_MALFORMED, MSG_F_MALFORMED);
}

int main(void)
{
    size_t n_cases = sizeof(cases) / sizeof(cases[0]);
    struct CMUnitTest tests[sizeof(cases) / sizeof(cases[0]) + 16];
    size_t n = 0;
    memset(tests, 0, sizeof(tests));
    for (size_t i = 0; i < n_cases; i++) {
        tests[n].name = cases[i].label;
        tests[n].test_func = test_case;
        tests[n].initial_state = (void *)&cases[i];
        n++;
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_summarize);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_header);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(
        test_record_carries_request);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_header_cap);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(
        test_defaults_shared_with_config);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_hostile_names);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(
        test_orphan_as_strict_as_config);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_body_carried);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_hostile_record);
    return _cmocka_run_group_tests("common_policy", tests, n, NULL, NULL);
}
