/* test_reassemble_http.c - HTTP/1.x framing on every split of every input.
 *
 * Table-driven, in the manner of picohttpparser's test.c: each case is a
 * byte stream (with at most one gap and an optional close) and the
 * messages it must produce, written as text by describe(). Each case is
 * fed whole, in two pieces split at every position, and one byte at a
 * time; every run must give the same messages and the same counters.
 * Every piece is fed from the end of a page followed by a PROT_NONE page,
 * and scribbled over once feed returns, so an over-read faults and a
 * pointer kept into the caller's bytes shows up as garbage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http.h"

#define TS0 1000u
#define MAX_MSGS 8
#define TEXT_MAX 4096

static uint8_t *guard_end;  /* first byte of the PROT_NONE page */
static size_t guard_room;   /* readable bytes before it */

/* ---- text forms ------------------------------------------------------ */

struct text {
    char *p;
    size_t cap, len;
};

static void put(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (t->len >= t->cap)
        return;
    va_start(ap, fmt);
    n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len += (size_t)n;
    if (t->len >= t->cap)
        t->len = t->cap - 1;
}

static void put_esc(struct text *t, struct bytes b)
{
    for (uint32_t i = 0; i < b.n; i++) {
        uint8_t c = (uint8_t)b.p[i];
        if (c == '\r')
            put(t, "\\r");
        else if (c == '\n')
            put(t, "\\n");
        else if (c < 0x20 || c >= 0x7f || c == '\'' || c == '\\')
            put(t, "\\x%02x", c);
        else
            put(t, "%c", c);
    }
}

/* "GET /a 1.1; Host: x; body=5 'hello'; flags=gap" for a request,
 * "1.1 200 'OK'; ...; flags=" for a response. */
static void describe(const struct http_parsed *m, char *out, size_t cap)
{
    struct text t = { out, cap, 0 };
    bool first = true;
    out[0] = 0;
    if (m->dir == HTTP_DIR_REQUEST) {
        put_esc(&t, m->method);
        put(&t, " ");
        put_esc(&t, m->uri);
        put(&t, " ");
        put_esc(&t, m->version);
    } else {
        put_esc(&t, m->version);
        put(&t, " %u '", m->status);
        put_esc(&t, m->reason);
        put(&t, "'");
    }
    for (uint32_t i = 0; i < m->n_headers; i++) {
        put(&t, "; ");
        put_esc(&t, m->headers[i].name);
        put(&t, ": ");
        put_esc(&t, m->headers[i].value);
    }
    put(&t, "; body=%llu '", (unsigned long long)m->body_len);
    put_esc(&t, m->body);
    put(&t, "'; flags=");
    for (int i = 0; i < MSG_FLAG_COUNT; i++) {
        if (m->flags & (1u << i)) {
            put(&t, "%s%s", first ? "" : ",", msg_flag_names[i]);
            first = false;
        }
    }
}

/* The non-zero counters: "requests=1 resync_bytes=4". */
static void count_text(const struct http_counters *c, char *out, size_t cap)
{
    struct text t = { out, cap, 0 };
    const struct {
        const char *name;
        uint64_t v;
    } f[] = {
        { "requests", c->requests },
        { "responses", c->responses },
        { "interim", c->interim },
        { "malformed", c->malformed },
        { "incomplete", c->incomplete },
        { "header_overflow", c->header_overflow },
        { "headers_dropped", c->headers_dropped },
        { "body_truncated", c->body_truncated },
        { "resync_bytes", c->resync_bytes },
        { "gap_bytes", c->gap_bytes },
        { "upgrades", c->upgrades },
    };
    out[0] = 0;
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        if (f[i].v)
            put(&t, "%s%s=%llu", t.len ? " " : "", f[i].name,
                (unsigned long long)f[i].v);
}

/* ---- the table ------------------------------------------------------- */

struct tcase {
    const char *label;
    enum http_dir dir;
    const char *in;
    size_t len;
    const char *classes;       /* response parsers: 'N' 'H' 'C', in order */
    size_t gap_at;             /* with gap_len: gap before in[gap_at] */
    uint64_t gap_len;
    bool close;                /* http_parser_close after the input */
    const struct http_limits *lim;
    const char *want[MAX_MSGS];
    const char *counters;
    bool stopped;
};

#define IN(s) s, sizeof(s) - 1
#define REQ HTTP_DIR_REQUEST
#define RESP HTTP_DIR_RESPONSE

static const struct http_limits lim_default = { 4096, 32, 1024 };
static const struct http_limits lim_2hdrs = { 4096, 2, 1024 };
static const struct http_limits lim_head64 = { 64, 32, 1024 };
static const struct http_limits lim_body4 = { 4096, 32, 4 };

#define X10 "xxxxxxxxxx"
#define X100 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10
#define X1000 X100 X100 X100 X100 X100 X100 X100 X100 X100 X100
#define E70 X10 X10 X10 X10 X10 X10 X10

static const struct tcase cases[] = {
    /* ---- requests ---- */
    { "simple GET", REQ,
      IN("GET /index.html HTTP/1.1\r\nHost: example.com\r\n"
         "User-Agent: t/1\r\n\r\n"),
      .want = { "GET /index.html 1.1; Host: example.com; User-Agent: t/1; "
                "body=0 ''; flags=" },
      .counters = "requests=1" },
    { "POST with Content-Length", REQ,
      IN("POST /submit HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n"
         "hello world"),
      .want = { "POST /submit 1.1; Host: a; Content-Length: 11; "
                "body=11 'hello world'; flags=" },
      .counters = "requests=1" },
    { "pipelined requests", REQ,
      IN("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
         "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
         "GET /3 HTTP/1.0\r\n\r\n"),
      .want = { "GET /1 1.1; Host: a; body=0 ''; flags=",
                "POST /2 1.1; Host: a; Content-Length: 3; body=3 'abc'; "
                "flags=",
                "GET /3 1.0; body=0 ''; flags=" },
      .counters = "requests=3" },
    { "leading CRLF and unknown method", REQ,
      IN("\r\n\r\nFROB * HTTP/1.1\r\n\r\n\nget  /x   HTTP/1.1\r\n\r\n"),
      .want = { "FROB * 1.1; body=0 ''; flags=",
                "get /x 1.1; body=0 ''; flags=" },
      .counters = "requests=2" },
    { "chunked request", REQ,
      IN("POST /c HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"
         "4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n"
         "GET /next HTTP/1.1\r\n\r\n"),
      .want = { "POST /c 1.1; Transfer-Encoding: gzip, Chunked; "
                "body=23 'Wikipedia in\\r\\n\\r\\nchunks.'; flags=chunked",
                "GET /next 1.1; body=0 ''; flags=" },
      .counters = "requests=2" },
    { "bare LF line ends", REQ,
      IN("GET /lf HTTP/1.1\nHost: a\nContent-Length: 2\n\nok"
         "POST /lf2 HTTP/1.1\nTransfer-Encoding: chunked\n\n"
         "2\nhi\n0\n\n"),
      .want = { "GET /lf 1.1; Host: a; Content-Length: 2; body=2 'ok'; "
                "flags=",
                "POST /lf2 1.1; Transfer-Encoding: chunked; body=2 'hi'; "
                "flags=chunked" },
      .counters = "requests=2" },
    { "obs-fold", REQ,
      IN("GET / HTTP/1.1\r\nX-Long: first\r\n  second \r\n\tthird\r\n"
         "X-Empty:\r\n folded\r\nHost: a\r\n\r\n"),
      .want = { "GET / 1.1; X-Long: first second third; X-Empty: folded; "
                "Host: a; body=0 ''; flags=" },
      .counters = "requests=1" },
    { "too many headers", REQ,
      IN("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nContent-Length: 2\r\n"
         "\r\nokGET /n HTTP/1.1\r\n\r\n"),
      .lim = &lim_2hdrs,
      .want = { "GET / 1.1; A: 1; B: 2; body=2 'ok'; "
                "flags=headers_truncated",
                "GET /n 1.1; body=0 ''; flags=" },
      .counters = "requests=2 headers_dropped=2" },
    { "header block over the cap", REQ,
      IN("GET /big HTTP/1.1\r\nHost: a\r\n"
         "X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"
         "GET /next HTTP/1.1\r\n\r\n"),
      .lim = &lim_head64,
      .want = { "GET /big 1.1; Host: a; body=0 ''; flags=incomplete,"
                "malformed",
                "GET /next 1.1; body=0 ''; flags=" },
      .counters = "requests=2 malformed=1 incomplete=1 header_overflow=1 "
                  "resync_bytes=23" },
    { "start line over the cap", REQ,
      IN("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaa HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n"),
      .lim = &lim_head64,
      .want = { "GET / 1.1; body=0 ''; flags=" },
      .counters = "requests=1 header_overflow=1 resync_bytes=90" },
    { "body over body_max", REQ,
      IN("POST /up HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789"
         "POST /up2 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"),
      .lim = &lim_body4,
      .want = { "POST /up 1.1; Content-Length: 10; body=10 '0123'; "
                "flags=truncated",
                "POST /up2 1.1; Content-Length: 3; body=3 'abc'; flags=" },
      .counters = "requests=2 body_truncated=1" },
    { "repeated equal Content-Length", REQ,
      IN("POST / HTTP/1.1\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n"
         "\r\nabc"),
      .want = { "POST / 1.1; Content-Length: 3, 3; Content-Length: 3; "
                "body=3 'abc'; flags=" },
      .counters = "requests=1" },
    { "conflicting Content-Length", REQ,
      IN("POST /c HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n"
         "\r\nhello\r\nGET /after HTTP/1.1\r\n\r\n"),
      .want = { "POST /c 1.1; Content-Length: 5; Content-Length: 6; "
                "body=0 ''; flags=malformed",
                "GET /after 1.1; body=0 ''; flags=" },
      .counters = "requests=2 malformed=1 resync_bytes=7" },
    { "invalid Content-Length", REQ,
      IN("POST /a HTTP/1.1\r\nContent-Length: 5x\r\n\r\n"
         "POST /b HTTP/1.1\r\nContent-Length: 4611686018427387905\r\n\r\n"
         "POST /c HTTP/1.1\r\nContent-Length: 4611686018427387904\r\n\r\n"
         "abc"),
      .close = true,
      .want = { "POST /a 1.1; Content-Length: 5x; body=0 ''; flags=malformed",
                "POST /b 1.1; Content-Length: 4611686018427387905; "
                "body=0 ''; flags=malformed",
                "POST /c 1.1; Content-Length: 4611686018427387904; "
                "body=3 'abc'; flags=incomplete" },
      .counters = "requests=3 malformed=2 incomplete=1" },
    { "Content-Length and chunked", REQ,
      IN("POST /s HTTP/1.1\r\nContent-Length: 4\r\n"
         "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
         "GET /t HTTP/1.1\r\n\r\n"),
      .want = { "POST /s 1.1; Content-Length: 4; Transfer-Encoding: chunked; "
                "body=3 'abc'; flags=chunked,malformed",
                "GET /t 1.1; body=0 ''; flags=" },
      .counters = "requests=2 malformed=1" },
    { "Transfer-Encoding not chunked", REQ,
      IN("POST /z HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
         "xyz\r\nGET /t HTTP/1.1\r\n\r\n"),
      .want = { "POST /z 1.1; Transfer-Encoding: chunked, gzip; body=0 ''; "
                "flags=malformed",
                "GET /t 1.1; body=0 ''; flags=" },
      .counters = "requests=2 malformed=1 resync_bytes=5" },
    { "space before colon", REQ,
      IN("POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n"
         "Content-Length: 2\r\nno colon here\r\n\r\nok"),
      .want = { "POST / 1.1; Transfer-Encoding : chunked; Content-Length: 2; "
                "body=2 'ok'; flags=malformed" },
      .counters = "requests=1 malformed=1" },
    { "gap inside a Content-Length body", REQ,
      IN("POST /g HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123"
         "789GET /n HTTP/1.1\r\n\r\n"),
      .gap_at = 44, .gap_len = 3,
      .want = { "POST /g 1.1; Content-Length: 10; body=10 '0123'; flags=gap",
                "GET /n 1.1; body=0 ''; flags=" },
      .counters = "requests=2 gap_bytes=3" },
    { "gap ends a Content-Length body", REQ,
      IN("POST /g HTTP/1.1\r\nContent-Length: 4\r\n\r\n01"
         "GET /n HTTP/1.1\r\n\r\n"),
      .gap_at = 41, .gap_len = 2,
      .want = { "POST /g 1.1; Content-Length: 4; body=4 '01'; flags=gap",
                "GET /n 1.1; body=0 ''; flags=" },
      .counters = "requests=2 gap_bytes=2" },
    { "gap before the first byte", REQ,
      IN("ST /x HTTP/1.1\r\n\r\nGET /y HTTP/1.1\r\n\r\n"),
      .gap_at = 0, .gap_len = 7,
      .want = { "GET /y 1.1; body=0 ''; flags=" },
      .counters = "requests=1 resync_bytes=18 gap_bytes=7" },
    { "gap inside headers, then a request", REQ,
      IN("GET /a HTTP/1.1\r\nHost: x\r\nGET /b HTTP/1.1\r\nHost: y\r\n\r\n"),
      .gap_at = 26, .gap_len = 10,
      .want = { "GET /a 1.1; Host: x; body=0 ''; flags=incomplete,gap",
                "GET /b 1.1; Host: y; body=0 ''; flags=" },
      .counters = "requests=2 incomplete=1 gap_bytes=10" },
    { "gap past a Content-Length body", REQ,
      IN("POST /g HTTP/1.1\r\nContent-Length: 4\r\n\r\n01"
         "1\r\nPUT /n HTTP/1.1\r\n\r\n"),
      .gap_at = 41, .gap_len = 5,
      .want = { "POST /g 1.1; Content-Length: 4; body=2 '01'; "
                "flags=incomplete,gap",
                "PUT /n 1.1; body=0 ''; flags=" },
      .counters = "requests=2 incomplete=1 resync_bytes=3 gap_bytes=5" },
    { "gap in the start line", REQ,
      IN("GET /inde.html HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n"),
      .gap_at = 8, .gap_len = 2,
      .want = { "GET / 1.1; body=0 ''; flags=" },
      .counters = "requests=1 resync_bytes=27 gap_bytes=2" },
    { "garbage before a request", REQ,
      IN("\x16\x03\x01\x02\x00garbage\r\nGET / HTTP/1.1\r\n\r\n"),
      .want = { "GET / 1.1; body=0 ''; flags=" },
      .counters = "requests=1 resync_bytes=14" },
    { "start line without version", REQ,
      IN("GET /path\r\n\r\njunk line here\r\nGET / HTTP/1.1\r\n\r\n"),
      .want = { "GET /path ; body=0 ''; flags=malformed",
                "GET / 1.1; body=0 ''; flags=" },
      .counters = "requests=2 malformed=1 resync_bytes=16" },
    { "close in headers", REQ,
      IN("GET /c HTTP/1.1\r\nHost: a\r\nAcc"),
      .close = true,
      .want = { "GET /c 1.1; Host: a; body=0 ''; flags=incomplete" },
      .counters = "requests=1 incomplete=1" },
    { "close in the start line", REQ,
      IN("GET /incompl"),
      .close = true,
      .counters = "resync_bytes=12" },
    { "close in a body", REQ,
      IN("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"),
      .close = true,
      .want = { "POST / 1.1; Content-Length: 10; body=3 'abc'; "
                "flags=incomplete" },
      .counters = "requests=1 incomplete=1" },
    { "large head grows the buffer", REQ,
      IN("GET /big HTTP/1.1\r\nCookie: " X1000 X1000 "\r\nHost: a  \r\n"
         "\r\n"),
      .want = { "GET /big 1.1; Cookie: " X1000 X1000 "; Host: a; body=0 ''; "
                "flags=" },
      .counters = "requests=1" },
    { "bad bytes in request lines", REQ,
      IN("GET\x01/a HTTP/1.1\r\nget /\r\nFOO /b\r\nBREW\t/pot HTTP/1.1\r\n"
         "GET  \r\nPUT / HTTP/1.1\r\n\r\n"),
      .want = { "PUT / 1.1; body=0 ''; flags=" },
      .counters = "requests=1 resync_bytes=59" },
    /* what servers answer: Python's http.server, nginx (tests/e2e) */
    { "HTTP/0.9 request", REQ,
      IN("GET /\r\n\r\nGET /09h\r\nHost: a\r\n\r\nGET /n HTTP/1.1\r\n\r\n"),
      .want = { "GET / ; body=0 ''; flags=malformed",
                "GET /09h ; Host: a; body=0 ''; flags=malformed",
                "GET /n 1.1; body=0 ''; flags=" },
      .counters = "requests=3 malformed=2" },
    { "odd versions", REQ,
      IN("GET /a HTTP/1.\r\n\r\nGET /b HTTP/2\r\n\r\n"
         "GET /c HTTP/1.1x\r\nHost: a\r\n\r\nGET /d FOO/1.1\r\n\r\n"),
      .want = { "GET /a 1.; body=0 ''; flags=malformed",
                "GET /b 2; body=0 ''; flags=malformed",
                "GET /c 1.1x; Host: a; body=0 ''; flags=malformed",
                "GET /d FOO/1.1 ; body=0 ''; flags=malformed" },
      .counters = "requests=4 malformed=4" },
    { "blanks as separators", REQ,
      IN("GET\t/t\tHTTP/1.1\r\n\r\nGET\x0b/v\x0cHTTP/1.1\r\n\r\n"
         "POST\r/r HTTP/1.1 \r\nContent-Length: 1\r\n\r\nx"),
      .want = { "GET /t 1.1; body=0 ''; flags=malformed",
                "GET /v 1.1; body=0 ''; flags=malformed",
                "POST /r 1.1; Content-Length: 1; body=1 'x'; flags=malformed" },
      .counters = "requests=3 malformed=3" },
    { "extra words and blanks in the target", REQ,
      IN("GET / HTTP/1.1 extra\r\n\r\nGET /uri afterspace HTTP/1.1\r\n\r\n"
         "GET /a b\r\n\r\n"),
      .want = { "GET / 1.1 extra; body=0 ''; flags=malformed",
                "GET /uri afterspace 1.1; body=0 ''; flags=malformed",
                "GET /a b ; body=0 ''; flags=malformed" },
      .counters = "requests=3 malformed=3" },
    { "NUL and control bytes in the target", REQ,
      IN("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n"
         "GET /c\x01\x7f HTTP/1.1\r\n\r\n"),
      .want = { "GET /a\\x00b 1.1; Host: a; body=0 ''; flags=malformed",
                "GET /c\\x01\\x7f 1.1; body=0 ''; flags=malformed" },
      .counters = "requests=2 malformed=2" },
    { "request after binary bytes", REQ,
      IN("\x05\x01\x00\x05\x01\x00\x03\x0b" "example.com\x00\x50"
         "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"),
      .want = { "GET / 1.1; Host: example.com; body=0 ''; flags=" },
      .counters = "requests=1 resync_bytes=21" },
    { "gap, a body's tail, a request", REQ,
      IN("POST /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
         "10\r\n0123\x00\x01\x02GET /n HTTP/1.1\r\n\r\n"),
      .gap_at = 55, .gap_len = 7,
      .want = { "POST /u 1.1; Transfer-Encoding: chunked; body=3 '012'; "
                "flags=chunked,incomplete,gap",
                "GET /n 1.1; body=0 ''; flags=" },
      .counters = "requests=2 incomplete=1 resync_bytes=4 gap_bytes=7" },
    { "resync takes only the grammar", REQ,
      IN("\x01GET /\r\nGET \x01GET\t/ HTTP/1.1\r\nPOST /p HTTP/1.1\r\n\r\n"),
      .want = { "POST /p 1.1; body=0 ''; flags=" },
      .counters = "requests=1 resync_bytes=29" },
    { "fold before any header", REQ,
      IN("GET / HTTP/1.1\r\n folded\r\nHost: a\r\n\r\n"),
      .want = { "GET / 1.1; Host: a; body=0 ''; flags=malformed" },
      .counters = "requests=1 malformed=1" },
    { "empty Transfer-Encoding", REQ,
      IN("POST / HTTP/1.1\r\nTransfer-Encoding: ,\r\n\r\n"),
      .want = { "POST / 1.1; Transfer-Encoding: ,; body=0 ''; "
                "flags=malformed" },
      .counters = "requests=1 malformed=1" },
    { "close during a resync candidate", REQ,
      IN("xx\r\nGE"),
      .close = true,
      .counters = "resync_bytes=6" },
    { "CONNECT request keeps going", REQ,
      IN("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
         "\x16\x03\x01\x00\x05hello"),
      .want = { "CONNECT example.com:443 1.1; Host: example.com:443; "
                "body=0 ''; flags=" },
      .counters = "requests=1 resync_bytes=10" },

    /* ---- responses ---- */
    { "keep-alive responses", RESP,
      IN("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
         "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n\r\n"
         "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx"),
      .want = { "1.1 200 'OK'; Content-Length: 2; body=2 'hi'; flags=",
                "1.1 404 'Not Found'; Content-Length: 0; body=0 ''; flags=",
                "1.1 200 ''; Content-Length: 1; body=1 'x'; flags=" },
      .counters = "responses=3" },
    { "chunked with extensions and trailers", RESP,
      IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         "5;name=value\r\nhello\r\n6 ; x=\"y\"\r\n world\r\n"
         "0\r\nExpires: never\r\nX-T: 1\r\n\r\n"
         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         "a\nabcdefghij\n0;end\n\n"),
      .want = { "1.1 200 'OK'; Transfer-Encoding: chunked; "
                "body=11 'hello world'; flags=chunked",
                "1.1 200 'OK'; Transfer-Encoding: chunked; "
                "body=10 'abcdefghij'; flags=chunked" },
      .counters = "responses=2" },
    { "HEAD response", RESP,
      IN("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
         "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
      .classes = "HN",
      .want = { "1.1 200 'OK'; Content-Length: 1000; body=0 ''; flags=",
                "1.1 200 'OK'; Content-Length: 2; body=2 'ok'; flags=" },
      .counters = "responses=2" },
    { "204 and 304 without body", RESP,
      IN("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"
         "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n"
         "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
      .want = { "1.1 204 'No Content'; Content-Length: 5; body=0 ''; flags=",
                "1.1 304 'Not Modified'; ETag: \"x\"; body=0 ''; flags=",
                "1.1 200 'OK'; Content-Length: 0; body=0 ''; flags=" },
      .counters = "responses=3" },
    { "100 Continue then 200", RESP,
      IN("HTTP/1.1 100 Continue\r\n\r\n"
         "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
      .want = { "1.1 200 'OK'; Content-Length: 2; body=2 'ok'; flags=" },
      .counters = "responses=1 interim=1" },
    { "1xx keeps the request class", RESP,
      IN("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
         "HTTP/1.1 100 Continue\r\n\r\n"
         "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
         "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
      .classes = "HN",
      .want = { "1.1 200 'OK'; Content-Length: 2; body=0 ''; flags=",
                "1.1 200 'OK'; Content-Length: 2; body=2 'ok'; flags=" },
      .counters = "responses=2 interim=2" },
    { "close-delimited response", RESP,
      IN("HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody until close"),
      .close = true,
      .want = { "1.0 200 'OK'; Server: x; body=16 'body until close'; "
                "flags=close_delimited" },
      .counters = "responses=1" },
    { "Transfer-Encoding gzip runs to close", RESP,
      IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzzz"),
      .close = true,
      .want = { "1.1 200 'OK'; Transfer-Encoding: gzip; body=4 'zzzz'; "
                "flags=close_delimited" },
      .counters = "responses=1" },
    { "chunked in HTTP/1.0", RESP,
      IN("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n"
         "0\r\n\r\n"),
      .want = { "1.0 200 'OK'; Transfer-Encoding: chunked; body=1 'a'; "
                "flags=chunked,malformed" },
      .counters = "responses=1 malformed=1" },
    { "CONNECT 200 stops", RESP,
      IN("HTTP/1.1 200 Connection established\r\n\r\n"
         "\x16\x03\x01\x00\x05hello"),
      .classes = "C",
      .want = { "1.1 200 'Connection established'; body=0 ''; "
                "flags=upgrade" },
      .counters = "responses=1 upgrades=1", .stopped = true },
    { "CONNECT refused goes on", RESP,
      IN("HTTP/1.1 407 Proxy Authentication Required\r\n"
         "Content-Length: 1\r\n\r\nx"
         "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\ny"),
      .classes = "CN",
      .want = { "1.1 407 'Proxy Authentication Required'; "
                "Content-Length: 1; body=1 'x'; flags=",
                "1.1 200 'OK'; Content-Length: 1; body=1 'y'; flags=" },
      .counters = "responses=2" },
    { "101 stops", RESP,
      IN("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
         "Connection: Upgrade\r\n\r\n\x81\x05hello"),
      .want = { "1.1 101 'Switching Protocols'; Upgrade: websocket; "
                "Connection: Upgrade; body=0 ''; flags=upgrade" },
      .counters = "responses=1 upgrades=1", .stopped = true },
    { "chunked body over body_max", RESP,
      IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         "5\r\nabcde\r\n5\r\nfghij\r\n0\r\n\r\n"),
      .lim = &lim_body4,
      .want = { "1.1 200 'OK'; Transfer-Encoding: chunked; "
                "body=10 'abcd'; flags=chunked,truncated" },
      .counters = "responses=1 body_truncated=1" },
    { "bad chunk size", RESP,
      IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         "3\r\nabc\r\nzz\r\nHTTP/1.1 204 No Content\r\n\r\n"),
      .want = { "1.1 200 'OK'; Transfer-Encoding: chunked; body=3 'abc'; "
                "flags=chunked,incomplete,malformed",
                "1.1 204 'No Content'; body=0 ''; flags=" },
      .counters = "responses=2 malformed=1 incomplete=1 resync_bytes=4" },
    { "chunk size over 2^62", RESP,
      IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         "4000000000000001\r\n"),
      .want = { "1.1 200 'OK'; Transfer-Encoding: chunked; body=0 ''; "
                "flags=chunked,incomplete,malformed" },
      .counters = "responses=1 malformed=1 incomplete=1 resync_bytes=3" },
    { "chunk data without CRLF", RESP,
      IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         "2\r\nabcd\r\n0\r\n\r\n"),
      .want = { "1.1 200 'OK'; Transfer-Encoding: chunked; body=2 'ab'; "
                "flags=chunked,incomplete,malformed" },
      .counters = "responses=1 malformed=1 incomplete=1 resync_bytes=9" },
    { "gap in a chunked body", RESP,
      IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         "5\r\nab"
         "\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
      .gap_at = 52, .gap_len = 3,
      .want = { "1.1 200 'OK'; Transfer-Encoding: chunked; body=2 'ab'; "
                "flags=chunked,incomplete,gap",
                "1.1 200 'OK'; Content-Length: 0; body=0 ''; flags=" },
      .counters = "responses=2 incomplete=1 resync_bytes=7 gap_bytes=3" },
    { "close in a chunked body", RESP,
      IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"),
      .close = true,
      .want = { "1.1 200 'OK'; Transfer-Encoding: chunked; body=2 'ab'; "
                "flags=chunked,incomplete" },
      .counters = "responses=1 incomplete=1" },
    { "bad bytes in status lines", RESP,
      IN("HTTP/1.1 OK\r\nHTTP/1.1 2000 OK\r\nHTTP/x 200\r\nHTTPS/1.1 200\r\n"
         "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
      .want = { "1.1 200 'OK'; Content-Length: 0; body=0 ''; flags=" },
      .counters = "responses=1 resync_bytes=58" },
    { "status lines clients read", RESP,
      IN("HTTP/1.0 2XX OK\r\nContent-Length: 4\r\n\r\ntoto"
         "HTTP/1.1 2\r\nContent-Length: 0\r\n\r\n"
         "HTTP/1. 099 Low\r\nContent-Length: 0\r\n\r\n"
         "HTTP/1.1\t404\tNot Found\r\nContent-Length: 0\r\n\r\n"
         "HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n"),
      .want = { "1.0 2 'XX OK'; Content-Length: 4; body=4 'toto'; "
                "flags=malformed",
                "1.1 2 ''; Content-Length: 0; body=0 ''; flags=malformed",
                "1. 99 'Low'; Content-Length: 0; body=0 ''; flags=malformed",
                "1.1 404 'Not Found'; Content-Length: 0; body=0 ''; "
                "flags=malformed",
                "1.1 200 'OK'; Content-Length: 0; body=0 ''; flags=malformed" },
      .counters = "responses=5 malformed=5" },
    { "response after binary bytes", RESP,
      IN("\x05\x00\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x50"
         "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
      .want = { "1.1 200 'OK'; Content-Length: 2; body=2 'ok'; flags=" },
      .counters = "responses=1 resync_bytes=12" },
    { "invalid Content-Length in a response", RESP,
      IN("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"
         "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
      .want = { "1.1 200 'OK'; Content-Length: -1; body=0 ''; "
                "flags=malformed",
                "1.1 200 'OK'; Content-Length: 0; body=0 ''; flags=" },
      .counters = "responses=2 malformed=1" },
    { "close in an interim response", RESP,
      IN("HTTP/1.1 100 Continue\r\nX: y\r\n"),
      .close = true,
      .counters = "interim=1" },
    { "close in response headers", RESP,
      IN("HTTP/1.1 200 OK\r\nContent-Le"),
      .classes = "H", .close = true,
      .want = { "1.1 200 'OK'; body=0 ''; flags=incomplete" },
      .counters = "responses=1 incomplete=1" },
    { "chunk extension over the cap", RESP,
      IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         "1;" E70 "\r\nx\r\n0\r\n\r\n"),
      .lim = &lim_head64,
      .want = { "1.1 200 'OK'; Transfer-Encoding: chunked; body=0 ''; "
                "flags=chunked,incomplete,malformed" },
      .counters = "responses=1 malformed=1 incomplete=1 resync_bytes=16" },
    { "trailer over the cap", RESP,
      IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         "1\r\nx\r\n0\r\nA: 1\r\nB: " E70 "\r\n\r\n"),
      .lim = &lim_head64,
      .want = { "1.1 200 'OK'; Transfer-Encoding: chunked; body=1 'x'; "
                "flags=chunked,incomplete,malformed" },
      .counters = "responses=1 malformed=1 incomplete=1 resync_bytes=19" },
    { "bad chunk size line end", RESP,
      IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         "1 x\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         "1\rx\r\n"),
      .want = { "1.1 200 'OK'; Transfer-Encoding: chunked; body=0 ''; "
                "flags=chunked,incomplete,malformed",
                "1.1 200 'OK'; Transfer-Encoding: chunked; body=0 ''; "
                "flags=chunked,incomplete,malformed" },
      .counters = "responses=2 malformed=2 incomplete=2 resync_bytes=6" },
    { "garbage before a response", RESP,
      IN("xHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
         "HTTP/1.1 304 Not Modified\r\n\r\n"),
      .want = { "1.1 200 'OK'; Content-Length: 0; body=0 ''; flags=",
                "1.1 304 'Not Modified'; body=0 ''; flags=" },
      .counters = "responses=2 resync_bytes=1" },
};

/* ---- running a case -------------------------------------------------- */

struct rec {
    const struct http_limits *lim;
    char msgs[MAX_MSGS][TEXT_MAX];
    size_t n;
    bool bytewise;
    size_t len;
};

static void on_message(void *ctx, const struct http_parsed *m)
{
    struct rec *r = ctx;
    assert_true(m->n_headers <= r->lim->max_headers);
    assert_true(m->body.n <= r->lim->body_max);
    assert_true(m->body.n <= m->body_len);
    assert_true(m->n_headers == 0 || m->headers != NULL);
    assert_true(m->ts_first_ns <= m->ts_last_ns);
    assert_true(m->ts_first_ns >= TS0 && m->ts_last_ns <= TS0 + r->len);
    assert_true(r->n < MAX_MSGS);
    describe(m, r->msgs[r->n++], TEXT_MAX);
}

/* The classifier of the cases: the classes of their requests in order,
 * one letter each (H head, C connect, anything else normal). */
static enum http_req_class class_in_order(void *ctx,
                                          const struct http_start *s)
{
    const char **c = ctx;
    if (!*c || !**c)
        return HTTP_REQ_NORMAL;
    char k = *(*c)++;
    return k == 'H' ? HTTP_REQ_HEAD : k == 'C' ? HTTP_REQ_CONNECT
                                                : HTTP_REQ_NORMAL;
}

/* Feeds from the end of the readable area, then scribbles over it. */
static void feed(http_parser_t *p, const char *d, size_t n, uint64_t ts)
{
    uint8_t *slot;
    assert_true(n <= guard_room);
    slot = guard_end - n;
    memcpy(slot, d, n);
    http_parser_feed(p, slot, n, ts);
    memset(slot, 0xee, n);
}

struct result {
    struct rec rec;
    char counters[512];
    bool stopped;
};

/* Feeds tc->in in pieces: cut at `cut` (0: none), or byte by byte. The
 * timestamp of a piece is TS0 + the offset of its first byte. */
static void run(const struct tcase *tc, size_t cut, bool bytewise,
                struct result *res)
{
    struct http_counters cnt;
    const struct http_limits *lim = tc->lim ? tc->lim : &lim_default;
    http_parser_t *p;
    size_t pos = 0;

    memset(res, 0, sizeof(*res));
    memset(&cnt, 0, sizeof(cnt));
    res->rec.lim = lim;
    res->rec.bytewise = bytewise;
    res->rec.len = tc->len;
    p = http_parser_new(tc->dir, lim, &cnt, on_message, &res->rec);
    assert_non_null(p);
    const char *classes = tc->classes;
    http_parser_set_classifier(p, class_in_order, &classes);
    if (tc->gap_len && tc->gap_at == 0)
        http_parser_gap(p, tc->gap_len, TS0);
    while (pos < tc->len) {
        size_t end = bytewise ? pos + 1 : tc->len;
        if (cut > pos && cut < end)
            end = cut;
        if (tc->gap_len && tc->gap_at > pos && tc->gap_at < end)
            end = tc->gap_at;
        feed(p, tc->in + pos, end - pos, TS0 + pos);
        pos = end;
        if (tc->gap_len && pos == tc->gap_at)
            http_parser_gap(p, tc->gap_len, TS0 + pos);
    }
    if (tc->close)
        http_parser_close(p, TS0 + tc->len);
    res->stopped = http_parser_stopped(p);
    count_text(&cnt, res->counters, sizeof(res->counters));
    assert_true(cnt.mem_used > 0);
    http_parser_destroy(&p);
    assert_null(p);
    assert_int_equal(cnt.mem_used, 0);
    http_parser_destroy(&p);
}

static void check(const struct tcase *tc, const char *mode, size_t cut,
                  const struct result *res)
{
    size_t want_n = 0;
    const char *want_cnt = tc->counters ? tc->counters : "";
    while (want_n < MAX_MSGS && tc->want[want_n])
        want_n++;
    for (size_t i = 0; i < want_n || i < res->rec.n; i++) {
        const char *w = i < want_n ? tc->want[i] : "(none)";
        const char *g = i < res->rec.n ? res->rec.msgs[i] : "(none)";
        if (strcmp(w, g) != 0)
            fail_msg("%s [%s %zu] message %zu\n  want: %s\n  got:  %s",
                     tc->label, mode, cut, i, w, g);
    }
    if (strcmp(want_cnt, res->counters) != 0)
        fail_msg("%s [%s %zu] counters\n  want: %s\n  got:  %s", tc->label,
                 mode, cut, want_cnt, res->counters);
    if (tc->stopped != res->stopped)
        fail_msg("%s [%s %zu] stopped: want %d", tc->label, mode, cut,
                 tc->stopped);
}

static void test_case(void **state)
{
    const struct tcase *tc = *state;
    struct result *res = malloc(sizeof(*res));
    assert_non_null(res);
    run(tc, 0, false, res);
    check(tc, "whole", 0, res);
    for (size_t k = 1; k < tc->len; k++) {
        run(tc, k, false, res);
        check(tc, "split", k, res);
    }
    run(tc, 0, true, res);
    check(tc, "bytewise", 0, res);
    free(res);
}

/* ---- single-purpose tests ------------------------------------------- */

struct stamps {
    uint64_t first[4], last[4];
    const char *method_p[4];
    const char *body_p[4];
    size_t n;
};

static void on_stamp(void *ctx, const struct http_parsed *m)
{
    struct stamps *s = ctx;
    assert_true(s->n < 4);
    s->first[s->n] = m->ts_first_ns;
    s->last[s->n] = m->ts_last_ns;
    s->method_p[s->n] = m->method.p;
    s->body_p[s->n] = m->body.p;
    s->n++;
}

/* ts_first is the time of the start line's first byte, ts_last that of
 * the message's last byte; leading CRLFs belong to no message. */
static void test_timestamps(void **state)
{
    static const char in[] = "GET /a HTTP/1.1\r\n\r\n\r\n"
                             "POST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nok";
    struct http_counters cnt = { 0 };
    struct stamps s = { .n = 0 };
    http_parser_t *p = http_parser_new(REQ, &lim_default, &cnt, on_stamp,
                                       &s);
    assert_non_null(p);
    for (size_t i = 0; i < sizeof(in) - 1; i++)
        feed(p, in + i, 1, 100 + i);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.first[0], 100);
    assert_int_equal(s.last[0], 118);
    assert_int_equal(s.first[1], 121);
    assert_int_equal(s.last[1], 100 + sizeof(in) - 2);
    http_parser_destroy(&p);

    /* a message cut by bad framing ends at its last byte consumed */
    static const char bad[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
                              "\r\n\r\n1\r\nx\r\nzz";
    memset(&s, 0, sizeof(s));
    p = http_parser_new(RESP, &lim_default, &cnt, on_stamp, &s);
    assert_non_null(p);
    for (size_t i = 0; i < sizeof(bad) - 1; i++)
        feed(p, bad + i, 1, 100 + i);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.first[0], 100);
    assert_int_equal(s.last[0], 100 + sizeof(bad) - 4);
    http_parser_destroy(&p);
}

/* A message that arrives whole in one feed is lent, not copied. */
static void test_zero_copy(void **state)
{
    static const char in[] = "POST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nok"
                             "POST /c HTTP/1.1\r\nContent-Length: 2\r\n\r\nok";
    struct http_counters cnt = { 0 };
    struct stamps s = { .n = 0 };
    http_parser_t *p = http_parser_new(REQ, &lim_default, &cnt, on_stamp,
                                       &s);
    const uint8_t *slot = guard_end - (sizeof(in) - 1);
    assert_non_null(p);
    memcpy((void *)slot, in, sizeof(in) - 1);
    http_parser_feed(p, slot, sizeof(in) - 1, 1);
    assert_int_equal(s.n, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_true((const uint8_t *)s.method_p[i] >= slot &&
                    (const uint8_t *)s.method_p[i] < guard_end);
        assert_true((const uint8_t *)s.body_p[i] >= slot &&
                    (const uint8_t *)s.body_p[i] < guard_end);
    }
    http_parser_destroy(&p);
}

static void on_nothing(void *ctx, const struct http_parsed *m)
{
    (*(int *)ctx)++;
}

/* The classifier is asked once per final response, at its head, with
 * where the response began; interim responses are not classified. */
struct asked {
    struct http_start s[4];
    int n;
};

static enum http_req_class record_start(void *ctx,
                                        const struct http_start *s)
{
    struct asked *a = ctx;
    if (a->n < 4)
        a->s[a->n++] = *s;
    return a->n == 2 ? HTTP_REQ_HEAD : HTTP_REQ_NORMAL;
}

static void test_classifier_positions(void **state)
{
    (void)state;
    struct http_counters cnt = { 0 };
    int n = 0;
    struct asked a = { .n = 0 };
    http_parser_t *p = http_parser_new(RESP, &lim_default, &cnt, on_nothing,
                                       &n);
    assert_non_null(p);
    http_parser_set_classifier(p, record_start, &a);
    http_parser_set_mark(p, 100);
    const char *r1 = "\r\nHTTP/1.1 100 Continue\r\n\r\n"
                     "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    http_parser_feed(p, (const uint8_t *)r1, strlen(r1), 1);
    assert_int_equal(a.n, 1);
    /* the final response began after the CRLF and the 100 Continue */
    assert_int_equal(a.s[0].pos, 2 + 25);
    assert_int_equal(a.s[0].mark, 100);
    assert_int_equal(n, 1);
    http_parser_gap(p, 1000, 2);
    http_parser_set_mark(p, 250);
    /* after the gap: positions count the missing bytes; the second
     * response is classified HEAD, so its Content-Length has no body */
    const char *r2 = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
                     "HTTP/1.1 204 No Content\r\n\r\n";
    http_parser_feed(p, (const uint8_t *)r2, strlen(r2), 3);
    assert_int_equal(a.n, 3);
    assert_int_equal(a.s[1].pos, strlen(r1) + 1000);
    assert_int_equal(a.s[1].mark, 250);
    assert_int_equal(a.s[1].ts_ns, 3);
    assert_int_equal(n, 3);
    http_parser_destroy(&p);
}

/* A request under way, with where it began and its method once known. */
static void test_current(void **state)
{
    (void)state;
    struct http_counters cnt = { 0 };
    int n = 0;
    struct http_start s;
    struct bytes m;
    http_parser_t *p = http_parser_new(REQ, &lim_default, &cnt, on_nothing,
                                       &n);
    assert_non_null(p);
    assert_false(http_parser_current(p, &s, &m));
    http_parser_set_mark(p, 7);
    http_parser_feed(p, (const uint8_t *)"\r\nPOST /u HTTP/1.1\r\n", 20, 1);
    assert_true(http_parser_current(p, &s, &m));
    assert_int_equal(s.pos, 2);
    assert_int_equal(s.mark, 7);
    assert_int_equal(m.n, 0); /* head not yet whole */
    http_parser_feed(p, (const uint8_t *)"Content-Length: 3\r\n\r\nab", 23,
                     2);
    assert_true(http_parser_current(p, &s, &m)); /* body under way */
    assert_true(bytes_eq(m, "POST"));
    http_parser_feed(p, (const uint8_t *)"c", 1, 3);
    assert_int_equal(n, 1);
    assert_false(http_parser_current(p, &s, &m));
    /* A stray CRLF after a body is not a request under way. */
    http_parser_feed(p, (const uint8_t *)"\r\n", 2, 4);
    assert_false(http_parser_current(p, &s, &m));
    http_parser_feed(p, (const uint8_t *)"G", 1, 5);
    assert_true(http_parser_current(p, &s, &m));
    assert_int_equal(s.pos, 2 + 18 + 23 + 1 + 2);
    http_parser_destroy(&p);
}

/* After a 2xx to CONNECT both directions are a tunnel: nothing in it is
 * parsed, its bytes are counted from the end of the last message. */
static void feed_text(http_parser_t *p, const char *text, uint64_t ts)
{
    feed(p, text, strlen(text), ts);
}

static void test_tunnel(void **state)
{
    (void)state;
    struct http_counters cnt = { 0 };
    int n = 0;
    const char *classes = "C";
    http_parser_t *req = http_parser_new(REQ, &lim_default, &cnt,
                                         on_nothing, &n);
    http_parser_t *resp = http_parser_new(RESP, &lim_default, &cnt,
                                          on_nothing, &n);
    assert_non_null(req);
    assert_non_null(resp);
    http_parser_set_classifier(resp, class_in_order, &classes);
    feed_text(req, "CONNECT m:25 HTTP/1.1\r\n\r\nEHLO", 1);
    assert_int_equal(n, 1);
    assert_false(http_parser_in_tunnel(req));
    assert_int_equal(http_parser_tunnel_bytes(req), 0);
    /* the response and the server's first tunnel bytes in one segment */
    feed_text(resp, "HTTP/1.1 200 OK\r\n\r\n220 smtp\r\n", 2);
    assert_int_equal(n, 2);
    assert_true(http_parser_in_tunnel(resp));
    assert_int_equal(http_parser_tunnel_bytes(resp), 10);
    http_parser_tunnel(req);
    assert_true(http_parser_stopped(req));
    feed_text(req, " c\r\nGET /in HTTP/1.1\r\n\r\n", 3);
    http_parser_gap(req, 5, 4);
    http_parser_close(req, 5);
    http_parser_close(resp, 5);
    assert_int_equal(n, 2);
    assert_int_equal(http_parser_tunnel_bytes(req), 4 + 24 + 5);
    assert_int_equal(http_parser_tunnel_bytes(resp), 10);
    assert_int_equal(cnt.requests + cnt.responses, 2);
    assert_int_equal(cnt.upgrades, 1);
    http_parser_destroy(&req);
    http_parser_destroy(&resp);
}

/* An HTTP/0.9 request's answer has no status line: with the question
 * answered yes it is a message of every byte to the close, however the
 * segments split it (its first byte alone included); answered no, the
 * same bytes are skipped as before. The request parser tells a request
 * line without a version while its headers are under way. */
static struct http_parsed last09;
static char last09_body[64];
static int n09;

static void on_http09(void *ctx, const struct http_parsed *m)
{
    (void)ctx;
    last09 = *m;
    assert_true(m->body.n < sizeof(last09_body));
    memcpy(last09_body, m->body.p ? m->body.p : "", m->body.n);
    last09.body.p = last09_body;
    n09++;
}

static bool yes09(void *ctx)
{
    return *(const bool *)ctx;
}

static void test_http09_answer(void **state)
{
    (void)state;
    static const char answer[] = "<html>bare</html>\n";
    size_t len = sizeof(answer) - 1;
    for (size_t cut = 0; cut < len; cut++) {
        for (int ask = 0; ask < 2; ask++) {
            struct http_counters cnt = { 0 };
            bool is09 = ask == 1;
            n09 = 0;
            http_parser_t *resp = http_parser_new(RESP, &lim_default, &cnt,
                                                  on_http09, NULL);
            assert_non_null(resp);
            http_parser_set_http09(resp, yes09, &is09);
            if (cut)
                feed(resp, answer, cut, 1);
            feed(resp, answer + cut, len - cut, 2);
            http_parser_close(resp, 3);
            if (is09) {
                assert_int_equal(n09, 1);
                assert_int_equal(last09.status, 0);
                assert_int_equal(last09.version.n, 0);
                assert_true(last09.flags & MSG_F_MALFORMED);
                assert_int_equal(last09.body_len, len);
                assert_int_equal(last09.body.n, len);
                assert_memory_equal(last09.body.p, answer, len);
                assert_int_equal(cnt.responses, 1);
                assert_int_equal(cnt.resync_bytes, 0);
            } else {
                assert_int_equal(n09, 0);
                assert_int_equal(cnt.resync_bytes, len);
            }
            http_parser_destroy(&resp);
        }
    }
    /* a status line is read as one, asked or not */
    struct http_counters cnt = { 0 };
    bool is09 = true;
    n09 = 0;
    http_parser_t *resp = http_parser_new(RESP, &lim_default, &cnt,
                                          on_http09, NULL);
    http_parser_set_http09(resp, yes09, &is09);
    feed_text(resp, "HTTP/1.0 200 OK\r\n\r\nok", 1);
    http_parser_close(resp, 2);
    assert_int_equal(n09, 1);
    assert_int_equal(last09.status, 200);
    http_parser_destroy(&resp);

    /* the request side: no version, while its headers are under way */
    int n = 0;
    http_parser_t *req = http_parser_new(REQ, &lim_default, &cnt, on_nothing,
                                         &n);
    feed_text(req, "GET /", 1);
    assert_false(http_parser_current_http09(req));
    feed_text(req, "\r\n", 2);
    assert_true(http_parser_current_http09(req));
    feed_text(req, "\r\nGET /v HTTP/1.1\r\n", 3);
    assert_int_equal(n, 1);
    assert_false(http_parser_current_http09(req));
    http_parser_destroy(&req);
}

static void test_resync_gives_up(void **state)
{
    struct http_counters cnt = { 0 };
    int n = 0;
    size_t chunk = 1u << 20;
    uint8_t *junk = malloc(chunk);
    http_parser_t *p = http_parser_new(REQ, &lim_default, &cnt, on_nothing,
                                       &n);
    assert_non_null(p);
    assert_non_null(junk);
    memset(junk, 0x17, chunk);
    for (int i = 0; i < 8; i++)
        http_parser_feed(p, junk, chunk, 1);
    assert_false(http_parser_stopped(p));
    http_parser_feed(p, junk, chunk, 1);
    assert_true(http_parser_stopped(p));
    http_parser_feed(p, (const uint8_t *)"\nGET / HTTP/1.1\r\n\r\n", 19, 2);
    http_parser_gap(p, 5, 3);
    http_parser_close(p, 3);
    assert_true(http_parser_stopped(p));
    assert_int_equal(n, 0);
    assert_int_equal(cnt.gap_bytes, 5);
    /* refused at its first byte, which the resync cap counts */
    assert_int_equal(cnt.resync_bytes, (8u << 20) + 1);
    free(junk);
    http_parser_destroy(&p);
}

/* Many messages on one parser: buffers are reused, results stay right. */
static void test_reuse(void **state)
{
    static const char in[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
                             "\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    struct http_counters cnt = { 0 };
    int n = 0;
    http_parser_t *p = http_parser_new(RESP, &lim_default, &cnt, on_nothing,
                                       &n);
    assert_non_null(p);
    for (int i = 0; i < 10000; i++) {
        size_t k = (size_t)i % (sizeof(in) - 1);
        feed(p, in, k, (uint64_t)i);
        feed(p, in + k, sizeof(in) - 1 - k, (uint64_t)i);
    }
    assert_int_equal(n, 10000);
    assert_int_equal(cnt.responses, 10000);
    assert_int_equal(cnt.malformed + cnt.resync_bytes, 0);
    http_parser_destroy(&p);
}

static void test_looks_like(void **state)
{
    static const struct {
        const char *in;
        bool req, resp;
    } t[] = {
        { "GET / HTTP/1.1\r\n", true, false },
        { "PROPFIND /x HTTP/1.1", true, false },
        { "GET  /", false, false },
        { "GE", false, false },
        { "HTTP/1.1 200 OK\r\n", false, true },
        { "HTTP/1.0 404", false, true },
        { "HTTP/1.1 20", false, false },
        { "HTTP/1.1 2x0 OK", false, false },
        { "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x00", false, false },
        { "", false, false },
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        size_t n = strlen(t[i].in);
        uint8_t *slot = guard_end - n;
        memcpy(slot, t[i].in, n);
        assert_int_equal(http_looks_like_request(slot, n), t[i].req);
        assert_int_equal(http_looks_like_response(slot, n), t[i].resp);
    }
}

static void test_new_rejects(void **state)
{
    struct http_counters cnt;
    int n = 0;
    assert_null(http_parser_new(REQ, NULL, &cnt, on_nothing, &n));
    assert_null(http_parser_new(REQ, &lim_default, NULL, on_nothing, &n));
    assert_null(http_parser_new(REQ, &lim_default, &cnt, NULL, &n));
    assert_null(http_parser_new((enum http_dir)7, &lim_default, &cnt,
                                on_nothing, &n));
    http_parser_destroy(NULL);
    assert_false(http_parser_stopped(NULL));
}

int main(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t n_cases = sizeof(cases) / sizeof(cases[0]);
    struct CMUnitTest *tests;
    uint8_t *area;
    size_t n = 0;
    int rc;

    area = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED || mprotect(area + 2 * page, page, PROT_NONE))
        return 1;
    guard_end = area + 2 * page;
    guard_room = 2 * page;

    /* the cases, then the tests below (room to spare) */
    tests = calloc(n_cases + 16, sizeof(*tests));
    if (!tests)
        return 1;
    for (size_t i = 0; i < n_cases; i++) {
        tests[n].name = cases[i].label;
        tests[n].test_func = test_case;
        tests[n].initial_state = (void *)&cases[i];
        n++;
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_timestamps);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_zero_copy);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(
        test_classifier_positions);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_current);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_tunnel);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_resync_gives_up);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_http09_answer);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_reuse);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_looks_like);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_new_rejects);
    rc = _cmocka_run_group_tests("reassemble_http", tests, n, NULL, NULL);
    free(tests);
    munmap(area, 3 * page);
    return rc;
}
