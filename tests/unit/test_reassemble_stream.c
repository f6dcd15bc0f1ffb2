/* test_reassemble_stream.c - TCP reassembly of one direction.
 *
 * Table-driven in the spirit of Suricata's stream-tcp-list.c: each case
 * is a list of operations (SYN, segments, FIN, ACK, end) with offsets
 * relative to the first data byte, and the exact text a recording sink
 * must see: data bytes as they are, a gap as "[gN]", the end as "|".
 * Every case runs at initial sequence numbers 0, 1, 2^32-1 and 2^32-10,
 * so the offsets of most cases cross the 32-bit wrap somewhere.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "stream.h"

static const uint32_t isns[] = { 0, 1, 0xffffffffu, 0xfffffff6u };
#define N_ISNS (sizeof(isns) / sizeof(isns[0]))

/* ---- recording sink ----------------------------------------------- */

struct rec {
    char buf[8192];
    size_t n;
    int ends;
};

static void rec_put(struct rec *r, const char *p, size_t n)
{
    assert_true(r->n + n < sizeof(r->buf));
    memcpy(r->buf + r->n, p, n);
    r->n += n;
    r->buf[r->n] = '\0';
}

static void rec_data(void *ctx, const uint8_t *p, size_t n, uint64_t ts,
                     uint64_t mark)
{
    struct rec *r = ctx;
    assert_true(n > 0);
    assert_int_equal(r->ends, 0);
    rec_put(r, (const char *)p, n);
}

static void rec_gap(void *ctx, uint64_t len, uint64_t ts)
{
    struct rec *r = ctx;
    char tmp[32];
    assert_true(len > 0);
    assert_int_equal(r->ends, 0);
    int n = snprintf(tmp, sizeof(tmp), "[g%llu]", (unsigned long long)len);
    rec_put(r, tmp, (size_t)n);
}

static void rec_end(void *ctx, uint64_t ts)
{
    struct rec *r = ctx;
    r->ends++;
    rec_put(r, "|", 1);
}

/* Conflicting overlaps show as "[!offset]" where they are reported. */
static void rec_conflict(void *ctx, uint64_t offset)
{
    struct rec *r = ctx;
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "[!%llu]", (unsigned long long)offset);
    rec_put(r, tmp, (size_t)n);
}

static const struct stream_sink rec_sink = { rec_data, rec_gap, rec_end,
                                             rec_conflict };

/* ---- table -------------------------------------------------------- */

enum op_kind {
    OP_NONE,
    OP_SYN,   /* SYN with isn; data, if any, is the SYN's payload */
    OP_SEG,   /* segment at offset */
    OP_FIN,   /* segment at offset carrying FIN */
    OP_ACK,   /* the peer acknowledges up to offset, and the reorder
                 window passes (stream_settle) */
    OP_ACKW,  /* the same within the window: recorded only */
    OP_SETTLE, /* the window passes */
    OP_START, /* stream_start at offset */
    OP_END,   /* stream_end */
};

struct op {
    enum op_kind k;
    int32_t off;       /* bytes from the first data byte (ISN + 1) */
    const char *data;
    uint32_t cut;      /* OP_SEG/OP_FIN: bytes sent after data, not
                          captured (snaplen) */
};

/* Rows leave the trailing policy out when it is the default. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

struct scase {
    const char *label;
    struct op ops[12];
    const char *expect;
    uint64_t retransmit;  /* expected retransmit_bytes */
    uint64_t gaps;        /* expected gaps */
    enum stream_policy policy; /* LINUX unless given */
};

#define SYN { OP_SYN, 0, "", 0 }
#define SEG(o, d) { OP_SEG, (o), (d), 0 }
#define FIN(o, d) { OP_FIN, (o), (d), 0 }
#define ACK(o) { OP_ACK, (o), "", 0 }
#define ACKW(o) { OP_ACKW, (o), "", 0 }
#define SETTLE { OP_SETTLE, 0, "", 0 }
#define END { OP_END, 0, "", 0 }
#define CUT(o, d, c) { OP_SEG, (o), (d), (c) }
#define CUTFIN(o, d, c) { OP_FIN, (o), (d), (c) }

static const struct scase cases[] = {
    { "in order",
      { SYN, SEG(0, "ABCD"), SEG(4, "EFGH"), FIN(8, "") },
      "ABCDEFGH|", 0, 0 },
    { "out of order",
      { SYN, SEG(4, "EFGH"), SEG(0, "ABCD") },
      "ABCDEFGH", 0, 0 },
    { "reversed",
      { SYN, SEG(8, "IJ"), SEG(4, "EFGH"), SEG(0, "ABCD"), END },
      "ABCDEFGHIJ|", 0, 0 },
    /* Target-based overlap policies (Novak & Sturges): which copy of the
     * bytes two segments share the receiver keeps. Differing copies are
     * reported where they meet ("[!offset]"). */
    { "linux: a copy that begins earlier wins",
      { SYN, SEG(2, "cdef"), SEG(0, "ABCDEF"), END },
      "AB[!2]CDEF|", 4, 0 },
    { "first: the held copy wins",
      { SYN, SEG(2, "cdef"), SEG(0, "ABCDEF"), END },
      "AB[!2]cdef|", 4, 0, STREAM_POLICY_FIRST },
    { "bsd: a copy that begins earlier wins",
      { SYN, SEG(2, "cdef"), SEG(0, "ABCDEF"), END },
      "AB[!2]CDEF|", 4, 0, STREAM_POLICY_BSD },
    { "linux: same start, longer: the new copy wins",
      { SYN, SEG(2, "cdef"), SEG(2, "CDEFGH"), SEG(0, "AB"), END },
      "[!2]ABCDEFGH|", 4, 0 },
    { "bsd: same start, longer: the held copy wins",
      { SYN, SEG(2, "cdef"), SEG(2, "CDEFGH"), SEG(0, "AB"), END },
      "[!2]ABcdefGH|", 4, 0, STREAM_POLICY_BSD },
    { "windows: same start, longer: the held copy wins",
      { SYN, SEG(2, "cdef"), SEG(2, "CDEFGH"), SEG(0, "AB"), END },
      "[!2]ABcdefGH|", 4, 0, STREAM_POLICY_WINDOWS },
    { "linux: same start, shorter: the held copy wins",
      { SYN, SEG(2, "cdefgh"), SEG(2, "CDEF"), SEG(0, "AB"), END },
      "[!2]ABcdefgh|", 4, 0 },
    { "last: the new copy always wins",
      { SYN, SEG(2, "cdefgh"), SEG(3, "DEF"), SEG(0, "AB"), END },
      "[!3]ABcDEFgh|", 3, 0, STREAM_POLICY_LAST },
    { "linux: a later start inside the held copy loses",
      { SYN, SEG(2, "cdefgh"), SEG(3, "DEF"), SEG(0, "AB"), END },
      "[!3]ABcdefgh|", 3, 0 },
    { "same bytes again: no conflict",
      { SYN, SEG(2, "CDEF"), SEG(0, "ABCDEF"), END },
      "ABCDEF|", 4, 0 },
    { "overlap: delivered copy wins",
      { SYN, SEG(0, "ABCD"), SEG(2, "xyEF"), END },
      "ABCDEF|", 2, 0 },
    { "overlap inside the buffer",
      { SYN, SEG(4, "EFGH"), SEG(6, "xyIJ"), SEG(0, "ABCD"), END },
      "[!6]ABCDEFGHIJ|", 2, 0 },
    { "one segment fills several holes (first)",
      { SYN, SEG(2, "CD"), SEG(6, "GH"), SEG(1, "bcdefghi"), SEG(0, "A"),
        END },
      "[!2][!6]AbCDefGHi|", 4, 0, STREAM_POLICY_FIRST },
    { "one segment fills several holes (linux: it begins earlier)",
      { SYN, SEG(2, "CD"), SEG(6, "GH"), SEG(1, "bcdefghi"), SEG(0, "A"),
        END },
      "[!2][!6]Abcdefghi|", 4, 0 },
    { "segment entirely inside a buffered one",
      { SYN, SEG(2, "CDEF"), SEG(3, "xy"), SEG(0, "AB"), END },
      "[!3]ABCDEF|", 2, 0 },
    { "retransmission of delivered bytes",
      { SYN, SEG(0, "ABCD"), SEG(0, "ABCD"), SEG(4, "EF"), SEG(1, "B") },
      "ABCDEF", 5, 0 },
    { "retransmission of buffered bytes",
      { SYN, SEG(4, "EF"), SEG(4, "EF"), SEG(0, "ABCD") },
      "ABCDEF", 2, 0 },
    { "gap, ACK beyond it",
      { SYN, SEG(0, "AB"), SEG(4, "EF"), ACK(6), SEG(6, "GH") },
      "AB[g2]EFGH", 0, 1 },
    { "ACK before the gap is not a gap",
      { SYN, SEG(0, "AB"), SEG(4, "EF"), ACK(2), SEG(2, "CD") },
      "ABCDEF", 0, 0 },
    { "ACK into the gap",
      { SYN, SEG(0, "AB"), SEG(6, "GH"), ACK(4), SEG(4, "EF") },
      "AB[g2]EFGH", 0, 1 },
    { "ACK seen before the data after the gap",
      { SYN, SEG(0, "AB"), ACKW(6), SEG(4, "EF"), SETTLE },
      "AB[g2]EF", 0, 1 },
    { "ACK seen before the data it acknowledges is not a gap",
      { SYN, SEG(0, "AB"), ACKW(6), SEG(4, "EF"), SEG(2, "CD"), SETTLE },
      "ABCDEF", 0, 0 },
    { "acknowledged bytes that never come are a gap once settled",
      { SYN, SEG(0, "AB"), ACKW(6), SETTLE, SEG(6, "GH") },
      "AB[g4]GH", 0, 1 },
    { "late bytes of a gap are retransmissions",
      { SYN, SEG(0, "AB"), SEG(4, "EF"), ACK(6), SEG(2, "CD"), END },
      "AB[g2]EF|", 2, 1 },
    { "two gaps",
      { SYN, SEG(0, "A"), SEG(3, "D"), SEG(6, "G"), ACK(7) },
      "A[g2]D[g2]G", 0, 2 },
    { "FIN with a hole, then end",
      { SYN, SEG(0, "AB"), FIN(4, "EF"), END },
      "AB[g2]EF|", 0, 1 },
    { "FIN with a hole, ACK of the FIN",
      { SYN, SEG(0, "AB"), FIN(4, "EF"), ACK(7) },
      "AB[g2]EF|", 0, 1 },
    { "FIN with a hole that fills",
      { SYN, SEG(0, "AB"), FIN(4, "EF"), SEG(2, "CD") },
      "ABCDEF|", 0, 0 },
    { "FIN before the data, then end",
      { SYN, SEG(0, "AB"), FIN(4, ""), END },
      "AB[g2]|", 0, 1 },
    { "data after FIN is dropped",
      { SYN, FIN(0, "AB"), SEG(2, "CD"), END },
      "AB|", 0, 0 },
    { "buffered data past a later FIN is clipped",
      { SYN, SEG(4, "efgh"), FIN(0, "ABCDEF") },
      "ABCD[!4]EF|", 2, 0 },
    { "end with nothing",
      { SYN, END },
      "|", 0, 0 },
    { "end without SYN or data",
      { END },
      "|", 0, 0 },
    { "end with buffered data only",
      { SYN, SEG(3, "DE"), SEG(7, "H"), END },
      "[g3]DE[g2]H|", 0, 2 },
    { "midstream: starts at the first segment",
      { SEG(10, "KL"), SEG(12, "MN"), SEG(8, "IJ"), SEG(16, "QR"), END },
      "KLMN[g2]QR|", 2, 1 },
    { "midstream FIN only",
      { FIN(5, ""), SEG(5, "X") },
      "|", 0, 0 },
    { "SYN with data",
      { { OP_SYN, 0, "AB", 0 }, SEG(2, "CD") },
      "ABCD", 0, 0 },
    { "SYN retransmitted",
      { SYN, SEG(0, "AB"), SYN, SEG(2, "CD") },
      "ABCD", 0, 0 },
    { "SYN retransmitted with its data",
      { { OP_SYN, 0, "AB", 0 }, { OP_SYN, 0, "AB", 0 }, SEG(2, "CD") },
      "ABCD", 2, 0 },
    { "start from the peer's SYN-ACK",
      { { OP_START, 0, "", 0 }, SEG(2, "CD"), SEG(0, "AB") },
      "ABCD", 0, 0 },
    { "pure ACK-only segment starts nothing",
      { SEG(4, ""), SEG(6, "GH"), SEG(4, "EF") },
      "GH", 2, 0 },
    { "cut segment in order: the uncaptured bytes are a gap at once",
      { SYN, CUT(0, "AB", 2), SEG(4, "EF") },
      "AB[g2]EF", 0, 1 },
    { "cut segment with FIN: the FIN is after the uncaptured bytes",
      { SYN, CUTFIN(0, "AB", 2) },
      "AB[g2]|", 0, 1 },
    { "cut segment out of order waits for the ACK",
      { SYN, CUT(4, "EF", 2), SEG(0, "ABCD"), SEG(8, "IJ"), ACK(10) },
      "ABCDEF[g2]IJ", 0, 1 },
    { "cut bytes already buffered are not a gap",
      { SYN, SEG(4, "ef"), CUT(0, "AB", 4) },
      "AB[g2]ef", 0, 1 },
    { "cut segment entirely retransmitted",
      { SYN, SEG(0, "ABCDEF"), CUT(0, "AB", 4), SEG(6, "G") },
      "ABCDEFG", 2, 0 },
    { "empty segments change nothing",
      { SYN, SEG(0, ""), SEG(3, ""), SEG(0, "AB"), SEG(2, "") },
      "AB", 0, 0 },
};

static uint32_t seq_at(uint32_t isn, int32_t off)
{
    return isn + 1u + (uint32_t)off;
}

static void run_case(const struct scase *c, uint32_t isn)
{
    struct stream_shared sh = { .max_buffered = 1 << 20, .memcap = 1 << 24,
                                .policy = c->policy };
    struct rec rec = { .n = 0 };
    struct stream s;
    stream_init(&s, &sh, &rec_sink, &rec);
    uint64_t ts = 1000;
    for (const struct op *o = c->ops; o->k != OP_NONE; o++, ts++) {
        size_t n = strlen(o->data);
        const uint8_t *d = (const uint8_t *)o->data;
        switch (o->k) {
        case OP_SYN:
            stream_syn(&s, isn);
            stream_segment(&s, seq_at(isn, 0), d, n, false, ts);
            break;
        case OP_SEG:
        case OP_FIN:
            if (o->cut)
                stream_segment_cut(&s, seq_at(isn, o->off), d, n, o->cut,
                                   o->k == OP_FIN, ts, 0);
            else
                stream_segment(&s, seq_at(isn, o->off), d, n,
                               o->k == OP_FIN, ts);
            break;
        case OP_ACK: /* as the connection does once the window passed */
            stream_ack(&s, seq_at(isn, o->off), ts);
            stream_settle(&s, s.peer_ack, ts);
            break;
        case OP_ACKW: stream_ack(&s, seq_at(isn, o->off), ts); break;
        case OP_SETTLE: stream_settle(&s, s.peer_ack, ts); break;
        case OP_START: stream_start(&s, seq_at(isn, o->off)); break;
        case OP_END: stream_end(&s, ts); break;
        case OP_NONE: break;
        }
    }
    if (strcmp(rec.buf, c->expect) != 0 ||
        sh.c.retransmit_bytes != c->retransmit || sh.c.gaps != c->gaps)
        fail_msg("%s (isn %u): got \"%s\" retransmit %llu gaps %llu, "
                 "want \"%s\" %llu %llu",
                 c->label, isn, rec.buf,
                 (unsigned long long)sh.c.retransmit_bytes,
                 (unsigned long long)sh.c.gaps, c->expect,
                 (unsigned long long)c->retransmit,
                 (unsigned long long)c->gaps);
    assert_true(rec.ends <= 1);
    stream_release(&s);
    assert_int_equal(sh.c.mem_used, 0);
}

static void test_table(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        for (size_t j = 0; j < N_ISNS; j++)
            run_case(&cases[i], isns[j]);
}

/* Every arrival order of overlapping, consistent segments gives back the
 * content exactly, with the memory returned. */
static const char content[] = "0123456789abcdefghij";
static const struct { int32_t off, len; } pieces[] = {
    { 0, 5 }, { 3, 6 }, { 9, 5 }, { 12, 8 }, { 5, 2 },
};
#define N_PIECES 5

static void permute(int *idx, int k, uint32_t isn, unsigned *runs)
{
    if (k == N_PIECES) {
        struct stream_shared sh = { .max_buffered = 1 << 20,
                                    .memcap = 1 << 24 };
        struct rec rec = { .n = 0 };
        struct stream s;
        stream_init(&s, &sh, &rec_sink, &rec);
        stream_syn(&s, isn);
        for (int i = 0; i < N_PIECES; i++) {
            int p = idx[i];
            stream_segment(&s, seq_at(isn, pieces[p].off),
                           (const uint8_t *)content + pieces[p].off,
                           (size_t)pieces[p].len, false, 1);
        }
        stream_segment(&s, seq_at(isn, 20), NULL, 0, true, 2);
        assert_string_equal(rec.buf, "0123456789abcdefghij|");
        assert_int_equal(sh.c.gaps, 0);
        assert_int_equal(sh.c.mem_used, 0);
        (*runs)++;
        return;
    }
    for (int i = k; i < N_PIECES; i++) {
        int t = idx[k];
        idx[k] = idx[i];
        idx[i] = t;
        permute(idx, k + 1, isn, runs);
        idx[i] = idx[k];
        idx[k] = t;
    }
}

static void test_every_order(void **state)
{
    for (size_t j = 0; j < N_ISNS; j++) {
        int idx[N_PIECES] = { 0, 1, 2, 3, 4 };
        unsigned runs = 0;
        permute(idx, 0, isns[j], &runs);
        assert_int_equal(runs, 120);
    }
}

/* The cost of buffering n bytes, as stream.c charges it: measured. */
static uint64_t cost_of(uint32_t n)
{
    struct stream_shared sh = { .max_buffered = 1 << 20, .memcap = 1 << 24 };
    struct rec rec = { .n = 0 };
    struct stream s;
    stream_init(&s, &sh, &rec_sink, &rec);
    stream_syn(&s, 0);
    uint8_t buf[64] = { 0 };
    stream_segment(&s, 100, buf, n, false, 1);
    uint64_t c = sh.c.mem_used;
    stream_release(&s);
    return c;
}

static void test_max_buffered(void **state)
{
    uint64_t c4 = cost_of(4);
    assert_true(c4 > 4);
    for (size_t j = 0; j < N_ISNS; j++) {
        uint32_t isn = isns[j];
        struct stream_shared sh = { .max_buffered = 2 * c4 + 3,
                                    .memcap = 1 << 24 };
        struct rec rec = { .n = 0 };
        struct stream s;
        stream_init(&s, &sh, &rec_sink, &rec);
        stream_syn(&s, isn);
        const uint8_t *d = (const uint8_t *)"ABCDEFGHIJKLMNOPQRST";
        stream_segment(&s, seq_at(isn, 0), d, 2, false, 1);
        stream_segment(&s, seq_at(isn, 4), d + 4, 4, false, 2);
        stream_segment(&s, seq_at(isn, 10), d + 10, 4, false, 3);
        assert_string_equal(rec.buf, "AB");
        /* third buffered segment does not fit: skip to the first */
        stream_segment(&s, seq_at(isn, 16), d + 16, 4, false, 4);
        assert_string_equal(rec.buf, "AB[g2]EFGH");
        assert_int_equal(sh.c.buffer_gaps, 1);
        assert_int_equal(s.buffered, 2 * c4);
        stream_end(&s, 5);
        assert_string_equal(rec.buf, "AB[g2]EFGH[g2]KLMN[g2]QRST|");
        assert_int_equal(sh.c.gaps, 3);
        assert_int_equal(sh.c.gap_bytes, 6);
        assert_int_equal(sh.c.mem_used, 0);
    }
}

static void test_segment_too_big_for_buffer(void **state)
{
    struct stream_shared sh = { .max_buffered = 8, .memcap = 1 << 24 };
    struct rec rec = { .n = 0 };
    struct stream s;
    stream_init(&s, &sh, &rec_sink, &rec);
    stream_syn(&s, 0xfffffff0u);
    stream_segment(&s, 0xfffffff1u, (const uint8_t *)"AB", 2, false, 1);
    /* nothing can be buffered: delivery skips straight to it */
    stream_segment(&s, 0xfffffff5u, (const uint8_t *)"EF", 2, false, 2);
    assert_string_equal(rec.buf, "AB[g2]EF");
    assert_int_equal(sh.c.buffer_gaps, 1);
    assert_int_equal(sh.c.mem_used, 0);
}

static void test_memcap(void **state)
{
    uint64_t c4 = cost_of(4);
    for (size_t j = 0; j < N_ISNS; j++) {
        uint32_t isn = isns[j];
        struct stream_shared sh = { .max_buffered = 1 << 20,
                                    .memcap = 2 * c4 };
        struct rec r1 = { .n = 0 }, r2 = { .n = 0 };
        struct stream s1, s2;
        stream_init(&s1, &sh, &rec_sink, &r1);
        stream_init(&s2, &sh, &rec_sink, &r2);
        stream_syn(&s1, isn);
        stream_syn(&s2, isn);
        const uint8_t *d = (const uint8_t *)"ABCDEFGHIJKLMNOP";
        stream_segment(&s1, seq_at(isn, 4), d + 4, 4, false, 1);
        stream_segment(&s1, seq_at(isn, 10), d + 10, 4, false, 1);
        assert_int_equal(sh.c.mem_used, 2 * c4);
        /* s2 holds nothing: it skips to its own segment */
        stream_segment(&s2, seq_at(isn, 2), d + 2, 4, false, 2);
        assert_string_equal(r2.buf, "[g2]CDEF");
        assert_int_equal(sh.c.memcap_gaps, 1);
        assert_int_equal(sh.c.mem_used, 2 * c4);
        /* s1 over the memcap: skips to its own buffered data */
        stream_segment(&s1, seq_at(isn, 15), d + 15, 1, false, 3);
        assert_string_equal(r1.buf, "[g4]EFGH");
        assert_int_equal(sh.c.memcap_gaps, 2);
        stream_end(&s1, 4);
        stream_end(&s2, 4);
        assert_string_equal(r1.buf, "[g4]EFGH[g2]KLMN[g1]P|");
        assert_int_equal(sh.c.mem_used, 0);
    }
}

static void test_segment_cap(void **state)
{
    struct stream_shared sh = { .max_buffered = 1 << 30, .memcap = 1 << 30 };
    struct rec rec = { .n = 0 };
    struct stream s;
    stream_init(&s, &sh, &rec_sink, &rec);
    stream_syn(&s, 0xffffff00u);
    /* one byte at every other offset: 1, 3, 5, ... */
    for (uint32_t i = 0; i < STREAM_MAX_SEGMENTS; i++)
        stream_segment(&s, 0xffffff01u + 1 + 2 * i, (const uint8_t *)"x", 1,
                       false, 1);
    assert_int_equal(s.n_segs, STREAM_MAX_SEGMENTS);
    assert_int_equal(sh.c.buffer_gaps, 0);
    stream_segment(&s, 0xffffff01u + 1 + 2 * STREAM_MAX_SEGMENTS,
                   (const uint8_t *)"y", 1, false, 1);
    assert_int_equal(sh.c.buffer_gaps, 1);
    assert_string_equal(rec.buf, "[g1]x");
    assert_int_equal(s.n_segs, STREAM_MAX_SEGMENTS);
    stream_release(&s);
    assert_int_equal(sh.c.mem_used, 0);
}

static void test_out_of_window(void **state)
{
    for (size_t j = 0; j < N_ISNS; j++) {
        uint32_t isn = isns[j];
        struct stream_shared sh = { .max_buffered = 1 << 20,
                                    .memcap = 1 << 24 };
        struct rec rec = { .n = 0 };
        struct stream s;
        stream_init(&s, &sh, &rec_sink, &rec);
        stream_syn(&s, isn);
        stream_segment(&s, seq_at(isn, 0), (const uint8_t *)"AB", 2, false,
                       1);
        stream_segment(&s, seq_at(isn, (int32_t)STREAM_MAX_AHEAD + 10),
                       (const uint8_t *)"X", 1, true, 1);
        assert_int_equal(sh.c.out_of_window, 1);
        /* a segment "behind" by more than the window is a retransmit */
        stream_segment(&s, seq_at(isn, 2) + 0x80000000u,
                       (const uint8_t *)"Y", 1, false, 1);
        /* a FIN 2^31 away is neither ahead nor behind: not believed */
        stream_segment(&s, seq_at(isn, 2) + 0x80000000u, NULL, 0, true, 1);
        stream_segment(&s, seq_at(isn, 2) + 0x80000001u, NULL, 0, true, 1);
        assert_int_equal(sh.c.out_of_window, 3);
        assert_false(stream_ended(&s));
        stream_segment(&s, seq_at(isn, 2), (const uint8_t *)"CD", 2, true,
                       1);
        assert_string_equal(rec.buf, "ABCD|");
        assert_int_equal(sh.c.mem_used, 0);
    }
}

/* Checks delivered bytes against a reference at their stream offset. */
struct pat {
    const uint8_t *ref;
    uint64_t off;
    int bad, ends;
};

static void pat_data(void *ctx, const uint8_t *p, size_t n, uint64_t ts,
                     uint64_t mark)
{
    struct pat *c = ctx;
    if (memcmp(c->ref + c->off, p, n) != 0)
        c->bad++;
    c->off += n;
}

static void pat_gap(void *ctx, uint64_t len, uint64_t ts)
{
    ((struct pat *)ctx)->off += len;
}

static void pat_end(void *ctx, uint64_t ts)
{
    ((struct pat *)ctx)->ends++;
}

static const struct stream_sink pat_sink = { pat_data, pat_gap, pat_end,
                                             NULL };

/* TSO-sized segments (64 KiB) out of order, then the first one. */
static void test_big_segments(void **state)
{
    static uint8_t big[3 * 65536];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7 + i / 251);
    for (size_t j = 0; j < N_ISNS; j++) {
        uint32_t isn = isns[j];
        struct stream_shared sh = { .max_buffered = 1 << 20,
                                    .memcap = 1 << 24 };
        struct pat chk = { .ref = big };
        struct stream s;
        stream_init(&s, &sh, &pat_sink, &chk);
        stream_syn(&s, isn);
        stream_segment(&s, seq_at(isn, 65536), big + 65536, 65536, false, 1);
        stream_segment(&s, seq_at(isn, 131072), big + 131072, 65536, false,
                       1);
        assert_int_equal(sh.c.out_of_order, 2);
        assert_true(sh.c.mem_used >= 131072);
        assert_int_equal(chk.off, 0);
        stream_segment(&s, seq_at(isn, 0), big, 65536, false, 2);
        assert_int_equal(chk.off, sizeof(big));
        assert_int_equal(chk.bad, 0);
        assert_int_equal(sh.c.mem_used, 0);
        stream_segment(&s, seq_at(isn, 196608), NULL, 0, true, 3);
        assert_int_equal(chk.ends, 1);
        assert_int_equal(s.delivered, sizeof(big));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_every_order),
        cmocka_unit_test(test_max_buffered),
        cmocka_unit_test(test_segment_too_big_for_buffer),
        cmocka_unit_test(test_memcap),
        cmocka_unit_test(test_segment_cap),
        cmocka_unit_test(test_out_of_window),
        cmocka_unit_test(test_big_segments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
