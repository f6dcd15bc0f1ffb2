/* pairing.c - requests and responses ordered by what each side had seen. */
#include "pairing.h"

#include <stdlib.h>
#include <string.h>

static uint64_t max64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

static struct pairing_req *queued(struct pairing *p, uint32_t i)
{
    return &p->q[(p->head + i) % p->cap];
}

static void pop(struct pairing *p)
{
    p->answered_end = max64(p->answered_end, queued(p, 0)->end);
    p->head = (p->head + 1) % p->cap;
    p->n--;
}

/* Doubles the ring (up to PAIRING_MAX_PENDING), oldest first again. */
static bool grow(struct pairing *p)
{
    uint32_t cap = p->cap ? p->cap * 2 : PAIRING_FIRST_PENDING;
    if (cap > PAIRING_MAX_PENDING)
        return false;
    struct pairing_req *q = malloc(cap * sizeof(*q));
    if (!q)
        return false;
    for (uint32_t i = 0; i < p->n; i++)
        q[i] = *queued(p, i);
    free(p->q);
    p->q = q;
    p->cap = cap;
    p->head = 0;
    return true;
}

bool pairing_request(struct pairing *p, const struct pairing_req *r,
                     uint32_t *evicted_idx)
{
    bool room = true;
    if (p->n == p->cap && !grow(p)) {
        if (!p->cap) {
            *evicted_idx = r->idx;
            return false;
        }
        *evicted_idx = queued(p, 0)->idx;
        pop(p);
        room = false;
    }
    p->n++;
    *queued(p, p->n - 1) = *r;
    return room;
}

void pairing_release(struct pairing *p)
{
    free(p->q);
    memset(p, 0, sizeof(*p));
}

size_t pairing_mem(const struct pairing *p)
{
    return p->cap * sizeof(*p->q);
}

/* Drops holes that end before `floor`: nothing undecided lies there. */
static void prune(struct pairing *p, int side, uint64_t floor)
{
    uint32_t w = 0;
    for (uint32_t i = 0; i < p->n_holes[side]; i++)
        if (p->holes[side][i].end > floor)
            p->holes[side][w++] = p->holes[side][i];
    p->n_holes[side] = w;
}

void pairing_hole(struct pairing *p, int side, uint64_t start, uint64_t end)
{
    if (end <= start)
        return;
    struct pairing_hole *h = p->holes[side];
    uint32_t *n = &p->n_holes[side];
    if (*n && h[*n - 1].end >= start) {
        h[*n - 1].end = max64(h[*n - 1].end, end);
        return;
    }
    if (*n == PAIRING_MAX_HOLES) {
        /* Full: the two oldest become one hole covering both, which can
         * only make later decisions more cautious. */
        h[0].end = h[1].end;
        memmove(&h[1], &h[2], (PAIRING_MAX_HOLES - 2) * sizeof(h[0]));
        (*n)--;
    }
    h[(*n)++] = (struct pairing_hole){ start, end };
}

/* The client received unparsed server bytes after it had `since` and
 * before it had `until` (both server offsets), all before the response
 * at `resp_start`: part of a response nobody parsed lies there. */
static bool unparsed_server_bytes(const struct pairing *p, uint64_t since,
                                  uint64_t until, uint64_t resp_start)
{
    for (uint32_t i = 0; i < p->n_holes[1]; i++) {
        const struct pairing_hole *h = &p->holes[1][i];
        uint64_t from = max64(max64(h->start, p->resp_end), since);
        if (from < h->end && from < resp_start && from < until)
            return true;
    }
    return false;
}

/* Evidence that request i (queued) was answered in unparsed bytes: a
 * later request (or the one under way) was sent after the client had
 * received such bytes. */
static bool response_was_lost(struct pairing *p, uint32_t i,
                              const struct pairing_req *cur,
                              uint64_t resp_start)
{
    uint64_t since = queued(p, i)->ack;
    for (uint32_t j = i + 1; j < p->n; j++)
        if (unparsed_server_bytes(p, since, queued(p, j)->ack, resp_start))
            return true;
    return cur && unparsed_server_bytes(p, since, cur->ack, resp_start);
}

/* A request may be hidden in a client hole before `before`. */
static bool client_hole_before(const struct pairing *p, uint64_t before)
{
    for (uint32_t i = 0; i < p->n_holes[0]; i++) {
        const struct pairing_hole *h = &p->holes[0][i];
        if (max64(h->start, p->answered_end) < h->end && h->start < before)
            return true;
    }
    return false;
}

static bool can_answer(const struct pairing_req *r, uint64_t start,
                       uint64_t ack)
{
    return r->start < ack && r->ack <= start;
}

void pairing_response(struct pairing *p, uint64_t start, uint64_t ack,
                      const struct pairing_req *cur,
                      struct pairing_result *out)
{
    memset(out, 0, sizeof(*out));
    while (p->n && response_was_lost(p, 0, cur, start)) {
        if (!out->n_lost)
            out->lost_first = queued(p, 0)->idx;
        out->n_lost++;
        pop(p);
    }
    prune(p, 0, p->answered_end);
    const struct pairing_req *r = p->n ? queued(p, 0) : NULL;
    if (r && can_answer(r, start, ack)) {
        out->paired = true;
        out->idx = r->idx;
        out->cls = r->cls;
        /* Unparsed server bytes may hold a response nobody saw, which
         * would make this one answer the next request. That reading
         * stays open while the next request could be answered too;
         * once it cannot, the count is known to be right again. */
        if (unparsed_server_bytes(p, 0, UINT64_MAX, start))
            p->doubt = true;
        if (p->doubt && !(p->n > 1 && can_answer(queued(p, 1), start, ack)))
            p->doubt = false;
        if (p->doubt || client_hole_before(p, r->start))
            out->flags |= PAIRING_UNCERTAIN;
        pop(p);
        return;
    }
    if (!r && cur && can_answer(cur, start, ack)) {
        out->paired = true;
        out->idx = cur->idx;
        out->cls = cur->cls;
        out->flags = PAIRING_EARLY;
        out->early_bytes = ack - cur->start;
        if (client_hole_before(p, cur->start))
            out->flags |= PAIRING_UNCERTAIN;
        p->early = true;
        p->early_idx = cur->idx;
        return;
    }
    out->flags = PAIRING_ORPHAN;
}

void pairing_response_end(struct pairing *p, uint64_t end)
{
    p->resp_end = max64(p->resp_end, end);
    prune(p, 1, p->resp_end);
}

bool pairing_take_early(struct pairing *p, uint32_t idx, uint64_t end)
{
    if (!p->early || p->early_idx != idx)
        return false;
    p->early = false;
    p->answered_end = max64(p->answered_end, end);
    return true;
}
