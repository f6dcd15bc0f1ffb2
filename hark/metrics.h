/* metrics.h - the stages' counters in the Prometheus text format.
 *
 * Every counter of every stats file in the run directory becomes a
 * sample: counters as hark_<name>_total, the few gauges (memory, open
 * flows, waits held, unacknowledged frames) as hark_<name>, each labelled
 * with its stage and, for a reassembler, its shard:
 *
 *     hark_requests_total{stage="reassemble",shard="0"} 12
 *     hark_flows_active{stage="reassemble",shard="0"} 3
 *
 * Values are each process's own since it started: a restarted stage
 * starts again from 0, which Prometheus reads as a counter reset. The
 * stats files are written by the stages (another user than a root
 * supervisor), so names that are not [a-z0-9_] are left out and label
 * values are escaped.
 */
#ifndef HARK_METRICS_H
#define HARK_METRICS_H

#include "stats.h"
#include "topology.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define METRICS_MAX_STAGES 80

/* Reads every <id>.json of stats_dir into snaps (at most max), in
 * pipeline order. The count, or -errno (-ENOENT: no such directory). */
int metrics_load(const char *stats_dir, struct stats_snapshot *snaps,
                 unsigned max);

/* What only the supervisor knows, for its /metrics. */
struct metrics_child {
    const char *id;
    const char *stage;
    bool up;                  /* running now */
    unsigned restarts;
};
struct metrics_supervisor {
    const struct metrics_child *children;
    unsigned n;
    unsigned outages;
    unsigned reloads, reload_failures;
    uint64_t scrapes_refused, scrapes_dropped; /* metrics_http.h */
};

/* Writes the samples of snaps, and sup's when not NULL, to f. */
void metrics_write(FILE *f, const struct stats_snapshot *snaps, unsigned n,
                   const struct metrics_supervisor *sup);

/* True when name is one of the gauges (not a counter). */
bool metrics_is_gauge(const char *name);

#endif
