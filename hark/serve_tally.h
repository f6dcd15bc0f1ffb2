/* serve_tally.h - counts per name, for the charts: requests per path,
 * per client, per route (with their response times).
 *
 * Names come off the wire (a path, an address), so the table hashes them
 * with a keyed hash, keeps at most SERVE_TALLY_NAME_MAX bytes of each and
 * at most SERVE_TALLY_NAMES names; what does not fit is counted in
 * serve_tally_dropped().
 */
#ifndef HARK_SERVE_TALLY_H
#define HARK_SERVE_TALLY_H

#include "bytes.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERVE_TALLY_NAME_MAX 256
#define SERVE_TALLY_NAMES (1u << 20)

typedef struct serve_tally serve_tally_t;

struct serve_tally_entry {
    struct bytes name;            /* owned by the tally */
    uint64_t count, errors;
    uint64_t *values;             /* with keep_values: one per add */
    size_t n_values, cap_values;
};

/* An empty tally; keep_values keeps each add's value (for percentiles).
 * NULL on ENOMEM. */
serve_tally_t *serve_tally_new(bool keep_values);
void serve_tally_destroy(serve_tally_t **t);

/* Counts one for name (an error too when error). 0 or -ENOMEM. */
int serve_tally_add(serve_tally_t *t, struct bytes name, bool error,
                    uint64_t value);

/* The entries by count, most first (ties by name), at most top of them:
 * returns how many; *out borrows t until its next change. Each entry's
 * values come sorted. */
size_t serve_tally_top(serve_tally_t *t, size_t top,
                       struct serve_tally_entry ***out);
size_t serve_tally_names(const serve_tally_t *t);
/* Adds refused because the table was full. */
uint64_t serve_tally_dropped(const serve_tally_t *t);

/* The q-th percentile (0 < q <= 100) of n sorted values, nearest rank. */
uint64_t serve_tally_percentile(const uint64_t *v, size_t n, unsigned q);

#endif
