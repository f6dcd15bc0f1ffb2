/* upstream.c - producer sequence, watermark and eof tracking. */
#include "upstream.h"

#include <stdlib.h>
#include <string.h>

struct producer {
    char id[64];
    uint64_t next_seq;
    uint64_t wm_ns;
    bool heard;
    bool ended;
};

struct upstream {
    unsigned expected;
    unsigned n;
    struct producer p[UPSTREAM_MAX];
    bool live;
    uint64_t wm_max;
    uint64_t *frames_in, *frames_lost, *frames_before_join, *eof_in,
        *producers_refused;
};

upstream_t *upstream_new(unsigned expected, stats_t *st)
{
    upstream_t *u = calloc(1, sizeof(*u));
    if (!u)
        return NULL;
    u->expected = expected ? expected : 1;
    u->frames_in = stats_add(st, "frames_in");
    u->frames_lost = stats_add(st, "frames_lost");
    u->frames_before_join = stats_add(st, "frames_before_join");
    u->eof_in = stats_add(st, "eof_in");
    u->producers_refused = stats_add(st, "producers_refused");
    return u;
}

void upstream_destroy(upstream_t **u)
{
    if (!u || !*u)
        return;
    free(*u);
    *u = NULL;
}

static struct producer *find(upstream_t *u, struct bytes src)
{
    for (unsigned i = 0; i < u->n; i++)
        if (bytes_eq(src, u->p[i].id))
            return &u->p[i];
    /* An id with a NUL would never match itself again: each of its
     * frames would take a new slot and hold the watermark back. */
    if (u->n == UPSTREAM_MAX || src.n >= sizeof(u->p[0].id) ||
        (src.n && memchr(src.p, '\0', src.n))) {
        (*u->producers_refused)++;
        return NULL;
    }
    struct producer *p = &u->p[u->n++];
    memset(p, 0, sizeof(*p));
    if (src.n) /* a frame without "src" has src.p NULL */
        memcpy(p->id, src.p, src.n);
    p->id[src.n] = '\0';
    return p;
}

bool upstream_frame(upstream_t *u, const struct frame *f)
{
    struct producer *p = find(u, f->src);
    if (!p)
        return false;
    (*u->frames_in)++;
    /* The first frame we see from a producer tells where we joined it:
     * what came before went to a predecessor of ours (we restarted), not
     * lost on the link. A restarted producer starts again at 0; frames it
     * lost before are unknowable, so only forward jumps count as lost. */
    if (!p->heard)
        *u->frames_before_join += f->seq;
    else if (f->seq > p->next_seq)
        *u->frames_lost += f->seq - p->next_seq;
    p->heard = true;
    p->next_seq = f->seq + 1;
    if (f->wm_ns > p->wm_ns)
        p->wm_ns = f->wm_ns;
    if (f->wm_ns > u->wm_max)
        u->wm_max = f->wm_ns;
    if (f->type == FRAME_PKT || f->type == FRAME_MSG || f->type == FRAME_LOG)
        u->live = f->live;
    return true;
}

bool upstream_eof(upstream_t *u, const struct frame *f)
{
    struct producer *p = find(u, f->src);
    if (p && !p->ended) {
        p->ended = true;
        (*u->eof_in)++;
    }
    return upstream_done(u);
}

bool upstream_done(const upstream_t *u)
{
    unsigned ended = 0;
    for (unsigned i = 0; i < u->n; i++)
        ended += u->p[i].ended;
    return ended >= u->expected;
}

uint64_t upstream_watermark(const upstream_t *u)
{
    unsigned active = 0;
    uint64_t wm = UINT64_MAX;
    for (unsigned i = 0; i < u->n; i++) {
        if (u->p[i].ended)
            continue;
        active++;
        if (u->p[i].wm_ns < wm)
            wm = u->p[i].wm_ns;
    }
    unsigned ended = u->n - active;
    if (active + ended < u->expected)
        return 0; /* someone expected has not been heard from yet */
    return active ? wm : u->wm_max;
}

uint64_t upstream_watermark_max(const upstream_t *u)
{
    return u->wm_max;
}

bool upstream_live(const upstream_t *u)
{
    return u->live;
}
