/* serve_charts.h - GET /api/chart/NAME: the numbers behind the charts.
 *
 * Every chart counts the response records the filters select: one per
 * request, whether a response came or not (status "none": timeout,
 * closed, eof, lost). NAME is
 *   rate      responses per time bucket by status class:
 *             {"since_ms", "until_ms", "bucket_ms", "classes": [...],
 *              "buckets": [[count per class]...], "totals": [...]}
 *   latency   response time per relative path (route), for responses
 *             that came: {"routes": [{"group", "route", "count",
 *             "p50_ms", "p90_ms", "p99_ms", "max_ms"}]}, most used first
 *   paths     {"paths": [{"name", "count", "errors"}], "distinct"}
 *   clients   {"clients": [{"name", "count", "errors"}], "distinct"}
 *   outcomes  {"outcomes": [{"name", "count"}]}
 * errors are 4xx, 5xx and no response. All carry "total" (responses
 * counted), "live" and "ms".
 */
#ifndef HARK_SERVE_CHARTS_H
#define HARK_SERVE_CHARTS_H

#include "serve_http.h"
#include "serve_source.h"

#define SERVE_CHART_PARAMS ((SP_FILTERS & ~SP_KIND) | SP_TOP)
#define SERVE_RATE_BUCKETS_MAX 120

enum serve_chart {
    SERVE_CHART_RATE,
    SERVE_CHART_LATENCY,
    SERVE_CHART_PATHS,
    SERVE_CHART_CLIENTS,
    SERVE_CHART_OUTCOMES,
};

/* The chart named name ("rate", ...): 0 and *out, or -1. */
int serve_chart_find(const char *name, enum serve_chart *out);

void serve_chart(serve_source_t *s, enum serve_chart which,
                 const struct serve_params *p, struct serve_reply *out);

/* The bucket width for a range of span_ns: a round width (1 ms, 2 ms,
 * 5 ms, ... 1 s, 2 s, 5 s, 10 s, 15 s, 30 s, 1 min, ... 1 day, ...)
 * that makes at most SERVE_RATE_BUCKETS_MAX buckets. */
uint64_t serve_chart_bucket_ns(uint64_t span_ns);

#endif
