/* serve_charts.c - GET /api/chart/NAME (serve_charts.h).
 *
 * One pass over the summaries of the selected records per chart (the
 * index narrows by status or path when the filter has one): the rate
 * chart keeps the time and class of each (the buckets are laid out once
 * the range is known), the others count names in a tally.
 */
#include "serve_charts.h"
#include "clock.h"
#include "record_json.h"
#include "serve_tally.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define N_CLASSES 6               /* 1xx..5xx, none */

static const char *const chart_names[] = {
    "rate", "latency", "paths", "clients", "outcomes",
};
static const char *const class_names[N_CLASSES] = {
    "1xx", "2xx", "3xx", "4xx", "5xx", "none",
};
static const char *const outcomes[] = {
    OUTCOME_OK, OUTCOME_TIMEOUT, OUTCOME_CLOSED, OUTCOME_EOF,
    OUTCOME_LATE, OUTCOME_ORPHAN, OUTCOME_LOST,
};
#define N_OUTCOMES (sizeof(outcomes) / sizeof(outcomes[0]))

struct point {
    uint64_t ts;
    uint8_t cls;
};

struct chart {
    enum serve_chart which;
    const struct serve_params *p;
    uint64_t total;
    /* rate */
    struct point *points;
    size_t n_points, cap_points;
    uint64_t min_ts, max_ts;
    /* latency, paths, clients */
    serve_tally_t *tally;
    /* outcomes: the known ones, then any other */
    uint64_t outcome_counts[N_OUTCOMES + 1];
};

int serve_chart_find(const char *name, enum serve_chart *out)
{
    for (size_t i = 0; i < sizeof(chart_names) / sizeof(chart_names[0]);
         i++)
        if (!strcmp(name, chart_names[i])) {
            *out = (enum serve_chart)i;
            return 0;
        }
    return -1;
}

uint64_t serve_chart_bucket_ns(uint64_t span_ns)
{
    static const uint64_t ms = 1000000ull, s = 1000 * ms, min = 60 * s,
                          h = 60 * min, d = 24 * h;
    static const uint64_t widths[] = {
        ms, 2 * ms, 5 * ms, 10 * ms, 20 * ms, 50 * ms, 100 * ms, 200 * ms,
        500 * ms, s, 2 * s, 5 * s, 10 * s, 15 * s, 30 * s, min, 2 * min,
        5 * min, 10 * min, 15 * min, 30 * min, h, 2 * h, 3 * h, 6 * h,
        12 * h, d, 2 * d, 7 * d, 14 * d, 30 * d, 90 * d, 365 * d,
    };
    for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++)
        if (span_ns / widths[i] < SERVE_RATE_BUCKETS_MAX)
            return widths[i];
    /* past a year a bucket: whole years, as many as it takes */
    return (span_ns / SERVE_RATE_BUCKETS_MAX / (365 * d) + 1) * (365 * d);
}

static int status_class(const struct audit_record *r)
{
    if (r->status >= 100 && r->status < 600)
        return (int)(r->status / 100) - 1;
    return N_CLASSES - 1; /* none, or a status past 5xx: not a class */
}

static bool is_error(const struct audit_record *r)
{
    return !record_answered(r) || r->status >= 400;
}

static int add_point(struct chart *c, const struct audit_record *r)
{
    if (c->n_points == c->cap_points) {
        size_t cap = c->cap_points ? c->cap_points * 2 : 4096;
        struct point *p = realloc(c->points, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        c->points = p;
        c->cap_points = cap;
    }
    c->points[c->n_points++] = (struct point){ r->ts_ns,
                                               (uint8_t)status_class(r) };
    if (c->n_points == 1 || r->ts_ns < c->min_ts)
        c->min_ts = r->ts_ns;
    if (r->ts_ns > c->max_ts)
        c->max_ts = r->ts_ns;
    return 0;
}

/* The route's tally name: group, a newline, the relative path. */
static int add_route(struct chart *c, const struct audit_record *r)
{
    char name[2 * SERVE_TALLY_NAME_MAX + 1];
    size_t g = r->route.group.n < SERVE_TALLY_NAME_MAX ? r->route.group.n
                                                       : SERVE_TALLY_NAME_MAX;
    size_t p = r->route.path.n < SERVE_TALLY_NAME_MAX - 1
                   ? r->route.path.n
                   : SERVE_TALLY_NAME_MAX - 1;
    if (g + 1 + p > SERVE_TALLY_NAME_MAX)
        g = SERVE_TALLY_NAME_MAX - 1 - p;
    if (g)
        memcpy(name, r->route.group.p, g);
    name[g] = '\n';
    if (p)
        memcpy(name + g + 1, r->route.path.p, p);
    struct bytes b = { name, (uint32_t)(g + 1 + p) };
    return serve_tally_add(c->tally, b, false, r->latency_ns);
}

static int visit(void *ctx, const struct audit_record *r,
                 const struct serve_key *k, uint64_t seq)
{
    struct chart *c = ctx;
    struct url_parts u;
    if (!serve_params_match(c->p, r))
        return 1;
    c->total++;
    int rc = 0;
    switch (c->which) {
    case SERVE_CHART_RATE:
        rc = add_point(c, r);
        break;
    case SERVE_CHART_LATENCY:
        if (record_answered(r))
            rc = add_route(c, r);
        break;
    case SERVE_CHART_PATHS:
        urlsplit(r->uri, &u);
        rc = serve_tally_add(c->tally, u.path, is_error(r), 0);
        break;
    case SERVE_CHART_CLIENTS:
        rc = serve_tally_add(c->tally, r->addr.src_ip, is_error(r), 0);
        break;
    case SERVE_CHART_OUTCOMES: {
        size_t i = 0;
        while (i < N_OUTCOMES && !bytes_eq(r->outcome, outcomes[i]))
            i++;
        c->outcome_counts[i]++;
        break;
    }
    }
    return rc < 0 ? rc : 1;
}

/* ---- output --------------------------------------------------------- */

static void write_rate(struct chart *c, struct json_out *j)
{
    uint64_t since = c->p->since_ns, until = c->p->until_ns;
    if (!(c->p->given & SP_SINCE))
        since = c->n_points ? c->min_ts : 0;
    if (!(c->p->given & SP_UNTIL))
        until = c->n_points ? c->max_ts + 1 : since + 1;
    uint64_t width = serve_chart_bucket_ns(until - since);
    /* buckets start on a multiple of their width, as a clock reads */
    uint64_t first = since / width * width;
    size_t n = (size_t)((until - first) / width +
                        ((until - first) % width != 0));
    uint64_t (*counts)[N_CLASSES] = calloc(n ? n : 1, sizeof(*counts));
    uint64_t totals[N_CLASSES] = { 0 };
    if (!counts) {
        j->failed = true;
        return;
    }
    for (size_t i = 0; i < c->n_points; i++) {
        size_t b = (size_t)((c->points[i].ts - first) / width);
        counts[b][c->points[i].cls]++;
        totals[c->points[i].cls]++;
    }
    json_out_key(j, "since_ms");
    json_out_ms(j, since);
    json_out_key(j, "until_ms");
    json_out_ms(j, until);
    json_out_key(j, "start_ms");
    json_out_ms(j, first);
    json_out_key(j, "bucket_ms");
    json_out_ms(j, width);
    json_out_key(j, "classes");
    json_out_arr(j);
    for (int k = 0; k < N_CLASSES; k++)
        json_out_cstr(j, class_names[k]);
    json_out_arr_end(j);
    json_out_key(j, "buckets");
    json_out_arr(j);
    for (size_t b = 0; b < n; b++) {
        json_out_arr(j);
        for (int k = 0; k < N_CLASSES; k++)
            json_out_u64(j, counts[b][k]);
        json_out_arr_end(j);
    }
    json_out_arr_end(j);
    json_out_key(j, "totals");
    json_out_arr(j);
    for (int k = 0; k < N_CLASSES; k++)
        json_out_u64(j, totals[k]);
    json_out_arr_end(j);
    free(counts);
}

static void write_latency(struct chart *c, struct json_out *j)
{
    struct serve_tally_entry **e;
    size_t n = serve_tally_top(c->tally, c->p->top, &e);
    json_out_key(j, "routes");
    json_out_arr(j);
    for (size_t i = 0; i < n; i++) {
        const char *nl = memchr(e[i]->name.p, '\n', e[i]->name.n);
        size_t g = nl ? (size_t)(nl - e[i]->name.p) : 0;
        json_out_obj(j);
        json_out_key(j, "group");
        json_out_str(j, e[i]->name.p, g);
        json_out_key(j, "route");
        json_out_str(j, e[i]->name.p + g + 1, e[i]->name.n - g - 1);
        json_out_key(j, "count");
        json_out_u64(j, e[i]->count);
        static const unsigned qs[] = { 50, 90, 99, 100 };
        static const char *const names[] = { "p50_ms", "p90_ms", "p99_ms",
                                             "max_ms" };
        for (int q = 0; q < 4; q++) {
            json_out_key(j, names[q]);
            json_out_ms(j, serve_tally_percentile(e[i]->values,
                                                  e[i]->n_values, qs[q]));
        }
        json_out_obj_end(j);
    }
    json_out_arr_end(j);
}

static void write_top(struct chart *c, struct json_out *j, const char *key)
{
    struct serve_tally_entry **e;
    size_t n = serve_tally_top(c->tally, c->p->top, &e);
    json_out_key(j, key);
    json_out_arr(j);
    for (size_t i = 0; i < n; i++) {
        json_out_obj(j);
        json_out_key(j, "name");
        json_out_bytes(j, e[i]->name);
        json_out_key(j, "count");
        json_out_u64(j, e[i]->count);
        json_out_key(j, "errors");
        json_out_u64(j, e[i]->errors);
        json_out_obj_end(j);
    }
    json_out_arr_end(j);
    json_out_key(j, "distinct");
    json_out_u64(j, serve_tally_names(c->tally));
}

static void write_outcomes(struct chart *c, struct json_out *j)
{
    json_out_key(j, "outcomes");
    json_out_arr(j);
    for (size_t i = 0; i <= N_OUTCOMES; i++) {
        if (i == N_OUTCOMES && !c->outcome_counts[i])
            break;
        json_out_obj(j);
        json_out_key(j, "name");
        json_out_cstr(j, i < N_OUTCOMES ? outcomes[i] : "other");
        json_out_key(j, "count");
        json_out_u64(j, c->outcome_counts[i]);
        json_out_obj_end(j);
    }
    json_out_arr_end(j);
}

void serve_chart(serve_source_t *s, enum serve_chart which,
                 const struct serve_params *p, struct serve_reply *out)
{
    struct serve_params rp = *p;
    struct chart c = { .which = which, .p = &rp };
    char err[512];
    uint64_t t0 = clock_mono_ns();
    /* a chart counts transactions: their response records */
    rp.given |= SP_KIND;
    rp.kind = RECORD_RESPONSE;
    if (which != SERVE_CHART_RATE && which != SERVE_CHART_OUTCOMES &&
        !(c.tally = serve_tally_new(which == SERVE_CHART_LATENCY))) {
        serve_reply_error(out, 500, "out of memory");
        return;
    }
    struct serve_scan q = { .since_ns = p->since_ns, .until_ns = p->until_ns,
                            .summaries = true, .narrow = &rp };
    int rc = serve_source_scan(s, &q, visit, &c, err, sizeof(err));
    if (rc < 0) {
        serve_reply_error(out, 500, rc == -ENOMEM ? "out of memory" : err);
    } else {
        struct json_out *j = &out->json;
        json_out_obj(j);
        json_out_key(j, "chart");
        json_out_cstr(j, chart_names[which]);
        json_out_key(j, "total");
        json_out_u64(j, c.total);
        if (which == SERVE_CHART_RATE)
            write_rate(&c, j);
        else if (which == SERVE_CHART_LATENCY)
            write_latency(&c, j);
        else if (which == SERVE_CHART_PATHS)
            write_top(&c, j, "paths");
        else if (which == SERVE_CHART_CLIENTS)
            write_top(&c, j, "clients");
        else
            write_outcomes(&c, j);
        json_out_key(j, "live");
        json_out_bool(j, serve_source_live(s));
        json_out_key(j, "ms");
        json_out_ms(j, clock_mono_ns() - t0);
        json_out_obj_end(j);
    }
    free(c.points);
    serve_tally_destroy(&c.tally);
}
