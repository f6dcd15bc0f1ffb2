/* fuzz_http.c - libFuzzer target for reassemble/http.c.
 *
 * Input: 4 control bytes, then stream bytes.
 *   [0] head cap: 0xff -> 4096, else 16 + value (small, to trip the cap)
 *   [1] headers kept: value % 16; bit 0x80: the response parser is told
 *       its requests are HTTP/0.9 (a message without a status line is
 *       their answer, to the close)
 *   [2] body kept: value (0..255)
 *   [3] request classes announced to the response parser, 2 bits each
 *       (0 normal, 1 HEAD, 2 CONNECT, 3 none), and the split seed
 * The stream goes to a request parser and to a response parser three
 * ways: whole; in pieces split at seeded positions (must give the same
 * messages and counters as whole); in pieces with gaps and closes thrown
 * in (must only not crash). Each piece is fed from its own allocation,
 * freed once feed returns, so ASan sees an over-read past a piece and any
 * pointer the parser keeps into the caller's bytes.
 */
#include "http.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
    const struct http_limits *lim;
    uint64_t digest;
    uint64_t count;
};

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t mix_bytes(uint64_t h, struct bytes b)
{
    uint32_t n = b.n;
    h = mix(h, &n, sizeof(n));
    return b.n ? mix(h, b.p, b.n) : h;
}

/* Reads every byte the message points to and checks the caps. */
static void on_message(void *ctx, const struct http_parsed *m)
{
    struct sink *s = ctx;
    uint64_t h = 0xcbf29ce484222325ull;
    if (m->n_headers > s->lim->max_headers ||
        (m->n_headers && !m->headers) || m->body.n > s->lim->body_max ||
        m->body.n > m->body_len || m->ts_first_ns > m->ts_last_ns)
        __builtin_trap();
    h = mix(h, &m->dir, sizeof(m->dir));
    h = mix_bytes(h, m->method);
    h = mix_bytes(h, m->uri);
    h = mix(h, &m->status, sizeof(m->status));
    h = mix_bytes(h, m->reason);
    h = mix_bytes(h, m->version);
    for (uint32_t i = 0; i < m->n_headers; i++) {
        h = mix_bytes(h, m->headers[i].name);
        h = mix_bytes(h, m->headers[i].value);
    }
    h = mix_bytes(h, m->body);
    h = mix(h, &m->body_len, sizeof(m->body_len));
    h = mix(h, &m->flags, sizeof(m->flags));
    s->digest = mix(s->digest, &h, sizeof(h));
    s->count++;
}

static uint32_t next(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static void feed_piece(http_parser_t *p, const uint8_t *d, size_t n,
                       uint64_t ts)
{
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        return;
    memcpy(copy, d, n);
    http_parser_feed(p, copy, n, ts);
    free(copy);
}

enum mode { WHOLE, SPLIT, EVENTS };

/* Returns the digest of everything emitted, counters included. */
/* Classes of the first four responses' requests, two bits each (3:
 * normal); then normal. */
struct classes {
    uint8_t bits;
    int n;
};

static enum http_req_class next_class(void *ctx, const struct http_start *s)
{
    struct classes *c = ctx;
    unsigned k = c->n < 4 ? (c->bits >> (2 * c->n)) & 3 : 3;
    c->n++;
    return k < 3 ? (enum http_req_class)k : HTTP_REQ_NORMAL;
}

static bool answer09(void *ctx)
{
    return *(const bool *)ctx;
}

static uint64_t run(enum http_dir dir, const struct http_limits *lim,
                    uint8_t classes, bool http09, uint32_t seed,
                    const uint8_t *d, size_t n, enum mode mode)
{
    struct http_counters cnt;
    struct sink s = { lim, 0xcbf29ce484222325ull, 0 };
    http_parser_t *p;
    size_t pos = 0;

    memset(&cnt, 0, sizeof(cnt));
    p = http_parser_new(dir, lim, &cnt, on_message, &s);
    if (!p)
        return 0;
    struct classes cl = { classes, 0 };
    http_parser_set_classifier(p, next_class, &cl);
    http_parser_set_http09(p, answer09, &http09);
    while (pos < n) {
        size_t piece = n - pos;
        if (mode != WHOLE) {
            uint32_t r = next(&seed);
            piece = 1 + r % ((r >> 8) % 4 == 0 ? 64 : 8);
            if (piece > n - pos)
                piece = n - pos;
        }
        feed_piece(p, d + pos, piece, pos);
        pos += piece;
        (void)http_parser_current_http09(p); /* depends on the pieces */
        if (mode == EVENTS) {
            uint32_t r = next(&seed);
            if (r % 11 == 0)
                http_parser_gap(p, 1 + (r >> 8) % 40, pos);
            else if (r % 37 == 0)
                http_parser_close(p, pos);
        }
    }
    http_parser_close(p, n);
    if (http_parser_stopped(p))
        s.digest = mix(s.digest, "stopped", 7);
    http_parser_destroy(&p);
    if (p)
        __builtin_trap();
    /* gap bytes differ with the events; the rest must not with splits */
    s.digest = mix(s.digest, &cnt, sizeof(cnt));
    return s.digest;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_limits lim;
    uint32_t seed;
    const uint8_t *d;
    size_t n;

    if (size < 4)
        return 0;
    lim.max_header_bytes = data[0] == 0xff ? 4096 : 16u + data[0];
    lim.max_headers = data[1] % 16;
    lim.body_max = data[2];
    seed = 0x9e3779b9u ^ ((uint32_t)data[3] << 16) ^ (uint32_t)size;
    d = data + 4;
    n = size - 4;

    /* probes on the raw stream */
    (void)http_looks_like_request(d, n);
    (void)http_looks_like_response(d, n);

    bool http09 = data[1] & 0x80;
    for (int dir = HTTP_DIR_REQUEST; dir <= HTTP_DIR_RESPONSE; dir++) {
        uint64_t whole = run((enum http_dir)dir, &lim, data[3], http09, seed,
                             d, n, WHOLE);
        uint64_t split = run((enum http_dir)dir, &lim, data[3], http09, seed,
                             d, n, SPLIT);
        if (whole != split)
            __builtin_trap();
        run((enum http_dir)dir, &lim, data[3], http09, seed, d, n, EVENTS);
    }
    return 0;
}
