/* run_summary.c - what `hark run` prints when it ends, and the counters
 * it sums for it.
 *
 * Every incarnation of every stage adds its last counters as it exits
 * (run_summary_bank), so a restart never resets what the run reports.
 * The summary names each counter it reads once, with the stage that
 * registers it; a cleanly finished stage lacking one is a bug that fails
 * the run instead of printing 0.
 */
#include "run_summary.h"
#include "run_private.h"

#include "clock.h"
#include "stats.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* The summary's numbers, each a sum of counters. */
enum total {
    T_PACKETS, T_KDROP, T_FLOWS, T_GAPS, T_REQUESTS, T_RESPONSES, T_PAIRS,
    T_UNMATCHED, T_RECORDS, T_REFUSED, T_MALFORMED, T_LOST, T_FRAGMENTS,
    T_GAP_BYTES, T_RESP_LOST, T_SKIPPED, T_TUNNEL_BYTES, T_COUNT
};

/* Every counter the summary reads, named once, with the stage that
 * registers it (`inputs`: every stage that reads the bus). A counter the
 * final stats of a cleanly finished stage lack is misnamed here or was
 * renamed there: the summary says so and the run fails, rather than
 * printing 0 for it. */
static const struct summary_counter {
    enum total total;
    enum topology_role role;
    bool inputs;
    const char *name;
} summary_counters[] = {
    { T_PACKETS, ROLE_CAPTURE, false, "packets" },
    { T_KDROP, ROLE_CAPTURE, false, "kernel_dropped" },
    { T_KDROP, ROLE_CAPTURE, false, "if_dropped" },
    { T_FLOWS, ROLE_REASSEMBLE, false, "flows" },
    { T_GAPS, ROLE_REASSEMBLE, false, "gaps" },
    { T_REQUESTS, ROLE_REASSEMBLE, false, "requests" },
    { T_RESPONSES, ROLE_REASSEMBLE, false, "responses" },
    { T_REFUSED, ROLE_REASSEMBLE, false, "flows_refused" },
    { T_PAIRS, ROLE_CORRELATE, false, "pairs" },
    { T_UNMATCHED, ROLE_CORRELATE, false, "timeouts" },
    { T_UNMATCHED, ROLE_CORRELATE, false, "closed" },
    { T_UNMATCHED, ROLE_CORRELATE, false, "eof_unanswered" },
    { T_UNMATCHED, ROLE_CORRELATE, false, "orphans" },
    { T_UNMATCHED, ROLE_CORRELATE, false, "lost" },
    { T_RESP_LOST, ROLE_CORRELATE, false, "lost" },
    { T_GAP_BYTES, ROLE_REASSEMBLE, false, "gap_bytes" },
    /* captured, but not HTTP/1.x: not in the trail */
    { T_SKIPPED, ROLE_REASSEMBLE, false, "http_resync_bytes" },
    { T_TUNNEL_BYTES, ROLE_REASSEMBLE, false, "tunnel_bytes_client" },
    { T_TUNNEL_BYTES, ROLE_REASSEMBLE, false, "tunnel_bytes_server" },
    /* datagrams that could not be put back together */
    { T_FRAGMENTS, ROLE_REASSEMBLE, false, "frag_overlaps" },
    { T_FRAGMENTS, ROLE_REASSEMBLE, false, "frag_timeouts" },
    { T_FRAGMENTS, ROLE_REASSEMBLE, false, "frag_evicted" },
    { T_FRAGMENTS, ROLE_REASSEMBLE, false, "frag_refused" },
    { T_FRAGMENTS, ROLE_REASSEMBLE, false, "frag_invalid" },
    { T_REFUSED, ROLE_CORRELATE, false, "pending_refused" },
    { T_RECORDS, ROLE_LOGGER, false, "records" },
    { T_REFUSED, ROLE_LOGGER, false, "records_failed" },
    { T_REFUSED, ROLE_LOGGER, false, "records_lost" },
    { T_MALFORMED, ROLE_COUNT, true, "frames_malformed" },
    { T_LOST, ROLE_COUNT, true, "frames_lost" },
};
#define N_SUMMARY_COUNTERS \
    (sizeof(summary_counters) / sizeof(summary_counters[0]))
_Static_assert(N_SUMMARY_COUNTERS <= RUN_SUMMARY_MAX_COUNTERS,
               "struct run_summary has a slot for each counter");
_Static_assert(T_COUNT <= RUN_SUMMARY_MAX_TOTALS,
               "struct run_summary has a slot for each total");

static bool snapshot_value(const struct stats_snapshot *snap,
                           const char *name, uint64_t *v)
{
    for (unsigned i = 0; i < snap->n; i++)
        if (!strcmp(snap->names[i], name)) {
            *v = snap->values[i];
            return true;
        }
    return false;
}

static void add_snapshot(struct run_summary *sum, const struct child *c,
                         const struct stats_snapshot *snap)
{
    for (unsigned k = 0; k < N_SUMMARY_COUNTERS; k++) {
        const struct summary_counter *sc = &summary_counters[k];
        uint64_t v;
        if (sc->inputs ? !c->ts->input : sc->role != c->ts->role)
            continue;
        if (snapshot_value(snap, sc->name, &v))
            sum->v[sc->total] += v;
        else if (c->state == CHILD_DONE && snap->final && !sum->unknown[k])
            sum->unknown[k] = c->id;
    }
}

/* Adds the last counters of incarnation pid of c, read before a restart
 * overwrites them. One that was killed before its first report (each
 * second) left none; one that exited cleanly always leaves its final
 * ones. */
void run_summary_bank(struct run_summary *sum, const char *run_dir,
                      const struct child *c, pid_t pid)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/stats/%s.json", run_dir, c->id);
    struct stats_snapshot snap;
    if (stats_snapshot_load(path, &snap) == 0 && snap.pid == (long)pid)
        add_snapshot(sum, c, &snap);
    else if (c->state == CHILD_DONE)
        sum->missing = true;
}

/* Prints what the run did; false when a counter it needs is unknown.
 * *any_lost: something was lost (drops, outages). */
bool run_summary_print(const struct supervisor *s, bool *any_lost)
{
    const struct run_summary sum = s->banked;
    bool known = true;
    for (unsigned k = 0; k < N_SUMMARY_COUNTERS; k++)
        known &= !sum.unknown[k];
    uint64_t packets = sum.v[T_PACKETS], kdrop = sum.v[T_KDROP];
    uint64_t flows = sum.v[T_FLOWS], gaps = sum.v[T_GAPS];
    uint64_t reqs = sum.v[T_REQUESTS], resps = sum.v[T_RESPONSES];
    uint64_t pairs = sum.v[T_PAIRS], unmatched = sum.v[T_UNMATCHED];
    uint64_t records = sum.v[T_RECORDS], refused = sum.v[T_REFUSED];
    uint64_t malformed = sum.v[T_MALFORMED], lost = sum.v[T_LOST];
    uint64_t fragments = sum.v[T_FRAGMENTS];
    uint64_t gap_bytes = sum.v[T_GAP_BYTES], resp_lost = sum.v[T_RESP_LOST];
    uint64_t skipped = sum.v[T_SKIPPED], tunneled = sum.v[T_TUNNEL_BYTES];
    unsigned restarts = 0;
    for (unsigned i = 0; i < s->n; i++)
        restarts += s->children[i].restarts;
    double secs = (double)(clock_mono_ns() - s->started_ns) / 1e9;
    uint64_t drops = kdrop + refused + malformed + lost + fragments;
    unsigned outages = outages_count(s->outages);
    /* The sniffer's own misses are losses of the trail too. */
    *any_lost = drops || outages || gaps || resp_lost;
    printf("hark: %s in %.1fs%s\n",
           s->failed || !known ? "run FAILED" : "run complete", secs,
           *any_lost ? ", with LOSSES" : "");
    const struct roles *here = &s->opt.only;
    if (s->opt.only.some) {
        char what[200];
        printf("  stages     %s (--only; the others run elsewhere)\n",
               roles_describe(here, s->cfg, what, sizeof(what)) ? what
                                                                : "?");
    }
    if (roles_has(here, ROLE_CAPTURE, 0))
        printf("  packets    %llu (kernel dropped %llu)\n",
               (unsigned long long)packets, (unsigned long long)kdrop);
    if (here->mask & (1u << ROLE_REASSEMBLE) || !here->some) {
        printf("  flows      %llu (gaps %llu)\n", (unsigned long long)flows,
               (unsigned long long)gaps);
        printf("  requests   %llu   responses %llu\n",
               (unsigned long long)reqs, (unsigned long long)resps);
    }
    if (roles_has(here, ROLE_CORRELATE, 0))
        printf("  pairs      %llu   unmatched %llu\n",
               (unsigned long long)pairs, (unsigned long long)unmatched);
    if (s->runs_logger)
        printf("  records    %llu written to %s\n",
               (unsigned long long)records, s->cfg->logger.db);
    printf("  drops      %llu (refused %llu, malformed frames %llu, "
           "frames lost %llu, fragments %llu)\n",
           (unsigned long long)drops,
           (unsigned long long)refused, (unsigned long long)malformed,
           (unsigned long long)lost, (unsigned long long)fragments);
    if (gaps || resp_lost)
        printf("  not captured: %llu gap(s), %llu bytes; %llu response(s) "
               "lost (records flagged gap, outcome lost)\n",
               (unsigned long long)gaps, (unsigned long long)gap_bytes,
               (unsigned long long)resp_lost);
    /* captured, but no record holds them: an HTTP/2 or TLS stream on the
     * port, bytes before a start line, a CONNECT tunnel */
    if (skipped || tunneled)
        printf("  not HTTP/1.x: %llu bytes skipped, %llu bytes in tunnels "
               "(captured, in no record)\n", (unsigned long long)skipped,
               (unsigned long long)tunneled);
    if (outages) {
        printf("  outages    %u: records may be missing while a stage was "
               "down (hark query --kind outage)\n", outages);
        outages_print(s->outages, stdout);
    }
    unsigned unwritten = outages_unwritten(s->outages);
    if (unwritten)
        printf("  NOT IN THE TRAIL: %u outage record(s); the logger never "
               "acknowledged them\n", unwritten);
    if (restarts)
        printf("  restarts   %u\n", restarts);
    for (unsigned i = 0; i < s->n; i++) {
        const struct child *c = &s->children[i];
        if (c->state != CHILD_DONE)
            printf("  stage %-14s %s\n", c->id, run_state_name(c->state));
    }
    for (unsigned k = 0; k < N_SUMMARY_COUNTERS; k++)
        if (sum.unknown[k])
            printf("  BUG: %s has no counter '%s'; the summary cannot count "
                   "it\n", sum.unknown[k], summary_counters[k].name);
    if (sum.missing)
        printf("  (some stages left no stats; see %s/stats)\n", s->run_dir);
    printf("  details: hark stats --run-dir %s\n", s->run_dir);
    fflush(stdout);
    return known;
}
