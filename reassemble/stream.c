/* stream.c - TCP reassembly of one direction.
 *
 * Invariant between calls: every buffered segment lies strictly after
 * next_seq, the list is sorted and segments do not overlap. A segment's
 * bytes are trimmed against what is delivered (next_seq) and what is
 * buffered (the list) so that each byte is kept once, first copy wins.
 * Arithmetic on sequence numbers is uint32_t (wrapping); order only
 * through SEQ_* macros.
 */
#include "stream.h"

#include <stdlib.h>
#include <string.h>

enum { STREAM_NEW, STREAM_OPEN, STREAM_ENDED };

struct stream_seg {
    struct stream_seg *prev, *next;
    uint32_t seq;
    uint32_t len;
    /* the segment these bytes arrived in, for the overlap policy */
    uint32_t orig_start, orig_end;
    uint64_t mark;
    uint8_t data[];
};

/* Does a new copy [ns, ne) replace the held copy [os, oe) of the bytes
 * they share? See enum stream_policy. */
static bool new_wins(enum stream_policy policy, uint32_t ns, uint32_t ne,
                     uint32_t os, uint32_t oe)
{
    switch (policy) {
    case STREAM_POLICY_FIRST: return false;
    case STREAM_POLICY_LAST: return true;
    case STREAM_POLICY_BSD:
    case STREAM_POLICY_WINDOWS: return SEQ_LT(ns, os);
    case STREAM_POLICY_LINUX:
        return SEQ_LT(ns, os) || (ns == os && SEQ_GT(ne, oe));
    }
    return false;
}

/* What a buffered piece costs against the caps. */
static uint64_t seg_cost(uint32_t len)
{
    return (uint64_t)sizeof(struct stream_seg) + len;
}

void stream_init(struct stream *s, struct stream_shared *sh,
                 const struct stream_sink *sink, void *ctx)
{
    memset(s, 0, sizeof(*s));
    s->sh = sh;
    s->sink = sink;
    s->ctx = ctx;
    s->state = STREAM_NEW;
}

bool stream_ended(const struct stream *s)
{
    return s->state == STREAM_ENDED;
}

static void seg_unlink(struct stream *s, struct stream_seg *g)
{
    if (g->prev)
        g->prev->next = g->next;
    else
        s->head = g->next;
    if (g->next)
        g->next->prev = g->prev;
    else
        s->tail = g->prev;
    uint64_t cost = seg_cost(g->len);
    s->buffered -= cost;
    s->sh->c.mem_used -= cost;
    s->n_segs--;
    free(g);
}

void stream_release(struct stream *s)
{
    while (s->head)
        seg_unlink(s, s->head);
}

/* Hands n in-order bytes to the sink. */
static void emit(struct stream *s, const uint8_t *p, uint32_t n,
                 uint64_t ts_ns, uint64_t mark)
{
    if (n == 0)
        return;
    s->sink->data(s->ctx, p, n, ts_ns, mark);
    s->next_seq += n;
    s->delivered += n;
    s->offset += n;
}

/* Two copies of n bytes at sequence seq: say when they differ. */
static void compare(struct stream *s, uint32_t seq, const uint8_t *a,
                    const uint8_t *b, uint32_t n)
{
    if (n == 0 || memcmp(a, b, n) == 0)
        return;
    s->sh->c.overlap_conflicts++;
    if (s->sink->conflict)
        s->sink->conflict(s->ctx, stream_offset_of(s, seq));
}

static void gap(struct stream *s, uint32_t n, uint64_t ts_ns)
{
    if (n == 0)
        return;
    s->sink->gap(s->ctx, n, ts_ns);
    s->next_seq += n;
    s->offset += n;
    s->gaps++;
    s->sh->c.gaps++;
    s->sh->c.gap_bytes += n;
}

/* Delivers the bytes p[0..len) of the segment being taken in, which
 * start at next_seq, interleaved with buffered segments: where both hold
 * a byte, the overlap policy picks the copy. Then delivers every buffered
 * segment that became contiguous. */
static void push(struct stream *s, const uint8_t *p, uint32_t len,
                 uint64_t ts_ns)
{
    for (;;) {
        struct stream_seg *h = s->head;
        if (h && SEQ_LEQ(h->seq, s->next_seq)) {
            /* By the invariant h->seq == next_seq; a head behind it would
             * be a bug, so its stale front is trimmed rather than sent. */
            uint32_t stale = s->next_seq - h->seq;
            if (stale < h->len) {
                uint32_t n = h->len - stale;
                uint32_t dup = len < n ? len : n;
                const uint8_t *held = h->data + stale;
                if (dup) {
                    /* (p may be NULL when len is 0) */
                    s->sh->c.retransmit_bytes += dup;
                    compare(s, s->next_seq, p, held, dup);
                    if (new_wins(s->sh->policy, s->in_start, s->in_end,
                                 h->orig_start, h->orig_end)) {
                        emit(s, p, dup, ts_ns, s->in_mark);
                        held += dup;
                        n -= dup;
                    }
                    p += dup;
                    len -= dup;
                }
                emit(s, held, n, ts_ns, h->mark);
            }
            seg_unlink(s, h);
            continue;
        }
        if (len == 0)
            return;
        uint32_t n = len;
        if (h && SEQ_LT(h->seq, s->next_seq + len))
            n = h->seq - s->next_seq;
        emit(s, p, n, ts_ns, s->in_mark);
        p += n;
        len -= n;
    }
}

/* Walks the hole pieces of [seq, seq+len) against the list. Without
 * commit it only sums their cost; with commit it inserts copies and
 * counts the bytes already held as retransmissions. */
static void walk(struct stream *s, uint32_t seq, const uint8_t *p,
                 uint32_t len, bool commit, uint64_t *cost, uint32_t *pieces)
{
    uint32_t end = seq + len, pos = seq;
    /* Scan from the tail: segments mostly arrive in order after a hole. */
    struct stream_seg *g = s->tail;
    while (g && SEQ_GT(g->seq, seq))
        g = g->prev;
    if (!g)
        g = s->head;
    else if (SEQ_LEQ(g->seq + g->len, seq))
        g = g->next;
    *cost = 0;
    *pieces = 0;
    while (SEQ_LT(pos, end)) {
        uint32_t stop = end;
        if (g && SEQ_LT(g->seq, end))
            stop = SEQ_LT(pos, g->seq) ? g->seq : pos;
        if (SEQ_LT(pos, stop)) {
            uint32_t n = stop - pos;
            *cost += seg_cost(n);
            (*pieces)++;
            if (commit) {
                struct stream_seg *k = malloc(sizeof(*k) + n);
                if (!k) {
                    s->sh->c.alloc_failed++;
                } else {
                    k->seq = pos;
                    k->len = n;
                    k->orig_start = s->in_start;
                    k->orig_end = s->in_end;
                    k->mark = s->in_mark;
                    memcpy(k->data, p + (pos - seq), n);
                    /* insert before g (at the tail when g is NULL) */
                    k->next = g;
                    k->prev = g ? g->prev : s->tail;
                    if (k->prev)
                        k->prev->next = k;
                    else
                        s->head = k;
                    if (g)
                        g->prev = k;
                    else
                        s->tail = k;
                    s->n_segs++;
                    s->buffered += seg_cost(n);
                    s->sh->c.mem_used += seg_cost(n);
                }
            }
            pos = stop;
        }
        if (!SEQ_LT(pos, end))
            break;
        /* pos is inside g: those bytes are already held */
        uint32_t g_end = g->seq + g->len;
        uint32_t upto = SEQ_LT(g_end, end) ? g_end : end;
        if (commit) {
            uint8_t *held = g->data + (pos - g->seq);
            const uint8_t *mine = p + (pos - seq);
            s->sh->c.retransmit_bytes += upto - pos;
            compare(s, pos, mine, held, upto - pos);
            if (new_wins(s->sh->policy, s->in_start, s->in_end,
                         g->orig_start, g->orig_end))
                memcpy(held, mine, upto - pos);
        }
        pos = upto;
        g = g->next;
    }
}

/* Drops buffered bytes at or after the FIN. */
static void clip_to_fin(struct stream *s)
{
    while (s->tail && SEQ_GEQ(s->tail->seq, s->fin_seq))
        seg_unlink(s, s->tail);
    struct stream_seg *t = s->tail;
    if (t && SEQ_GT(t->seq + t->len, s->fin_seq)) {
        uint32_t keep = s->fin_seq - t->seq;
        uint64_t freed = t->len - keep;
        t->len = keep; /* the allocation stays; charge only what is kept */
        s->buffered -= freed;
        s->sh->c.mem_used -= freed;
    }
}

/* Buffers [seq, seq+len), which starts after next_seq. Over a cap, the
 * hole before the earliest data (buffered or this segment) becomes a gap
 * and delivery resumes there, until the segment fits or is in order. */
static void store(struct stream *s, uint32_t seq, const uint8_t *p,
                  uint32_t len, uint64_t ts_ns)
{
    for (;;) {
        if (SEQ_LEQ(seq, s->next_seq)) {
            uint32_t old = s->next_seq - seq;
            if (old >= len) {
                s->sh->c.retransmit_bytes += len;
                return;
            }
            s->sh->c.retransmit_bytes += old;
            push(s, p + old, len - old, ts_ns);
            return;
        }
        uint64_t cost;
        uint32_t pieces;
        walk(s, seq, p, len, false, &cost, &pieces);
        if (pieces == 0) {
            /* all of it is held already: the policy picks the copy */
            walk(s, seq, p, len, true, &cost, &pieces);
            return;
        }
        bool over_dir = s->buffered + cost > s->sh->max_buffered ||
                        s->n_segs + pieces > STREAM_MAX_SEGMENTS;
        bool over_mem = s->sh->c.mem_used + cost > s->sh->memcap;
        if (!over_dir && !over_mem) {
            walk(s, seq, p, len, true, &cost, &pieces);
            s->sh->c.out_of_order++;
            return;
        }
        if (over_mem)
            s->sh->c.memcap_gaps++;
        else
            s->sh->c.buffer_gaps++;
        uint32_t target = seq;
        if (s->head && SEQ_LT(s->head->seq, seq))
            target = s->head->seq;
        gap(s, target - s->next_seq, ts_ns);
        push(s, NULL, 0, ts_ns);
    }
}

/* How far the peer acknowledged past next_seq; 0 when not, or when the
 * acknowledgement lies outside any window (recorded before the stream
 * had a sequence, or forged). */
static uint32_t acked_ahead(const struct stream *s)
{
    if (s->state != STREAM_OPEN || !s->have_ack)
        return 0;
    int32_t d = SEQ_DIFF(s->peer_ack, s->next_seq);
    return d > 0 && d <= (int32_t)STREAM_MAX_AHEAD ? (uint32_t)d : 0;
}

/* Reports as gaps the holes the peer acknowledged past, up to `upto`. */
static void ack_gaps(struct stream *s, uint32_t upto, uint64_t ts_ns)
{
    if (!acked_ahead(s))
        return;
    uint32_t limit = SEQ_LT(upto, s->peer_ack) ? upto : s->peer_ack;
    while (SEQ_GT(limit, s->next_seq)) {
        uint32_t target = limit;
        if (s->head && SEQ_LT(s->head->seq, target))
            target = s->head->seq;
        if (s->have_fin && SEQ_LT(s->fin_seq, target))
            target = s->fin_seq;
        if (target == s->next_seq)
            return; /* only the FIN's own number is acknowledged */
        s->sh->c.ack_gaps++;
        gap(s, target - s->next_seq, ts_ns);
        push(s, NULL, 0, ts_ns);
    }
}

static void finish(struct stream *s, uint64_t ts_ns)
{
    stream_release(s);
    s->state = STREAM_ENDED;
    s->sink->end(s->ctx, ts_ns);
}

/* Ends the direction once every byte up to the FIN is delivered. */
static void check_fin(struct stream *s, uint64_t ts_ns)
{
    if (s->state == STREAM_OPEN && s->have_fin &&
        SEQ_GEQ(s->next_seq, s->fin_seq))
        finish(s, ts_ns);
}

void stream_syn(struct stream *s, uint32_t isn)
{
    if (s->state == STREAM_ENDED)
        return;
    if (s->state == STREAM_OPEN &&
        (s->delivered || s->head || s->gaps || s->have_fin ||
         (s->syn_seen && s->next_seq == isn + 1)))
        return; /* a retransmission, or too late to restart */
    s->next_seq = isn + 1;
    s->isn = isn;
    s->state = STREAM_OPEN;
    s->syn_seen = true;
}

void stream_start(struct stream *s, uint32_t seq)
{
    if (s->state != STREAM_NEW)
        return;
    s->next_seq = seq;
    s->state = STREAM_OPEN;
}

void stream_segment_cut(struct stream *s, uint32_t seq, const uint8_t *data,
                        size_t len, size_t cut, bool fin, uint64_t ts_ns,
                        uint64_t mark)
{
    if (s->state == STREAM_ENDED)
        return;
    if (len > STREAM_MAX_AHEAD || cut > STREAM_MAX_AHEAD - len) {
        s->sh->c.out_of_window++;
        return;
    }
    if (s->state == STREAM_NEW) {
        if (len == 0 && cut == 0 && !fin)
            return;
        s->next_seq = seq; /* midstream: the first byte seen */
        s->state = STREAM_OPEN;
    }
    uint32_t n = (uint32_t)len, total = (uint32_t)(len + cut);
    s->in_start = seq;
    s->in_end = seq + total;
    s->in_mark = mark;
    /* Where the segment ends relative to next_seq, without wrapping. */
    int64_t ahead = (int64_t)SEQ_DIFF(seq, s->next_seq) + total;
    if (ahead > (int64_t)STREAM_MAX_AHEAD) {
        s->sh->c.out_of_window++;
        return;
    }
    /* A FIN is believed within the window on either side: at 2^31 the
     * order of two sequence numbers is undefined. */
    if (fin && !s->have_fin && ahead < -(int64_t)STREAM_MAX_AHEAD) {
        s->sh->c.out_of_window++;
        fin = false;
    }
    if (fin && !s->have_fin) {
        s->have_fin = true;
        s->fin_seq = seq + total;
        clip_to_fin(s);
    }
    uint32_t end = seq + total;
    if (s->have_fin && SEQ_GT(end, s->fin_seq))
        end = SEQ_GT(seq, s->fin_seq) ? seq : s->fin_seq;
    if (SEQ_LT(end, seq + n))
        n = end - seq;
    if (n > 0) {
        if (SEQ_GT(seq, s->next_seq)) {
            store(s, seq, data, n, ts_ns);
        } else {
            uint32_t old = s->next_seq - seq;
            if (old >= n) {
                s->sh->c.retransmit_bytes += n;
            } else {
                s->sh->c.retransmit_bytes += old;
                push(s, data + old, n - old, ts_ns);
            }
        }
    }
    /* Uncaptured bytes reached in order are lost: say so now rather than
     * buffer everything behind them until the peer's ACK. */
    while (SEQ_GEQ(s->next_seq, seq + n) && SEQ_LT(s->next_seq, end)) {
        uint32_t target = end;
        if (s->head && SEQ_LT(s->head->seq, target))
            target = s->head->seq;
        gap(s, target - s->next_seq, ts_ns);
        push(s, NULL, 0, ts_ns);
    }
    check_fin(s, ts_ns);
}

void stream_segment(struct stream *s, uint32_t seq, const uint8_t *data,
                    size_t len, bool fin, uint64_t ts_ns)
{
    stream_segment_cut(s, seq, data, len, 0, fin, ts_ns, 0);
}

void stream_ack(struct stream *s, uint32_t ack, uint64_t ts_ns)
{
    /* An acknowledgement beyond any window is not believed. */
    if (s->state == STREAM_OPEN &&
        SEQ_DIFF(ack, s->next_seq) > (int32_t)STREAM_MAX_AHEAD)
        return;
    if (!s->have_ack || SEQ_GT(ack, s->peer_ack)) {
        s->peer_ack = ack;
        s->have_ack = true;
    }
}

bool stream_acked_hole(const struct stream *s)
{
    return acked_ahead(s) &&
           !(s->have_fin && SEQ_GEQ(s->next_seq, s->fin_seq));
}

void stream_settle(struct stream *s, uint32_t upto, uint64_t ts_ns)
{
    ack_gaps(s, upto, ts_ns);
    check_fin(s, ts_ns);
}

uint64_t stream_offset_of(const struct stream *s, uint32_t seq)
{
    if (s->state == STREAM_NEW)
        return 0;
    int64_t d = SEQ_DIFF(seq, s->next_seq);
    if (d < 0 && (uint64_t)-d > s->offset)
        return 0;
    return s->offset + (uint64_t)d;
}

bool stream_next_seq(const struct stream *s, uint32_t *seq)
{
    *seq = s->next_seq;
    return s->state != STREAM_NEW;
}

void stream_end(struct stream *s, uint64_t ts_ns)
{
    if (s->state == STREAM_ENDED)
        return;
    if (s->state == STREAM_OPEN) {
        while (s->head) {
            gap(s, s->head->seq - s->next_seq, ts_ns);
            push(s, NULL, 0, ts_ns);
        }
        if (s->have_fin && SEQ_LT(s->next_seq, s->fin_seq))
            gap(s, s->fin_seq - s->next_seq, ts_ns);
    }
    finish(s, ts_ns);
}

bool stream_invariants_ok(const struct stream *s)
{
    uint64_t charged = 0;
    uint32_t n = 0, pos = s->next_seq;
    const struct stream_seg *prev = NULL;
    for (const struct stream_seg *g = s->head; g; prev = g, g = g->next) {
        if (g->prev != prev || g->len == 0 || !SEQ_GT(g->seq, pos) ||
            SEQ_DIFF(g->seq + g->len, s->next_seq) >
                (int32_t)STREAM_MAX_AHEAD)
            return false;
        if (s->have_fin && SEQ_GT(g->seq + g->len, s->fin_seq))
            return false;
        pos = g->seq + g->len - 1; /* the next must start after this */
        charged += seg_cost(g->len);
        n++;
    }
    return s->tail == prev && n == s->n_segs && charged == s->buffered &&
           n <= STREAM_MAX_SEGMENTS &&
           s->buffered <= s->sh->max_buffered &&
           (s->state != STREAM_ENDED || n == 0);
}
