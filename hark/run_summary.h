/* run_summary.h - the counters `hark run` sums over every incarnation
 * of its stages, and the summary it prints from them.
 */
#ifndef HARK_RUN_SUMMARY_H
#define HARK_RUN_SUMMARY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define RUN_SUMMARY_MAX_TOTALS 24
#define RUN_SUMMARY_MAX_COUNTERS 40

struct child;
struct supervisor;

struct run_summary {
    uint64_t v[RUN_SUMMARY_MAX_TOTALS];
    bool missing;             /* a stage left no stats file */
    /* the id of a finished stage lacking counter k of the summary */
    const char *unknown[RUN_SUMMARY_MAX_COUNTERS];
};

/* Adds the last counters of incarnation pid of c (from its stats file in
 * run_dir), read before a restart overwrites them. One that was killed
 * before its first report (each second) left none; one that exited
 * cleanly always leaves its final ones. */
void run_summary_bank(struct run_summary *sum, const char *run_dir,
                      const struct child *c, pid_t pid);

/* Prints what the run did, from s->banked; false when a counter it needs
 * is unknown. *any_lost: something was lost (drops, gaps, outages). */
bool run_summary_print(const struct supervisor *s, bool *any_lost);

#endif
