/* stats.h - a stage's named counters, published and persisted.
 *
 * Each stage registers its counters once at start: stats_add() for one the
 * set keeps, stats_attach() for one a module keeps in its own struct.
 * Either way the hot path increments a plain uint64_t. Snapshots go out
 * as `stats` frames on the stage's tap and as a JSON file in the run
 * directory, which `hark stats` and the supervisor's summary read.
 * Nothing is dropped anywhere without a counter here.
 */
#ifndef HARK_STATS_H
#define HARK_STATS_H

#include <stdbool.h>
#include <stdint.h>

#define STATS_MAX 96

typedef struct stats stats_t;

/* Creates an empty set for the process `id` of `stage` (both copied). */
stats_t *stats_new(const char *stage, const char *id);
void stats_destroy(stats_t **s);

/* Registers a counter (name borrowed: use a literal) and returns a pointer
 * that stays valid for the life of the set, or NULL when STATS_MAX are
 * already registered (or the name is attached). Registering a name twice
 * returns the same counter. */
uint64_t *stats_add(stats_t *s, const char *name);

/* Registers a counter that a module keeps in its own struct (borrowed: it
 * must outlive the set's last snapshot); snapshots read it where it is, so nothing is
 * copied on the hot path. 0, -EEXIST for a name already registered, or
 * -ENOSPC past STATS_MAX. */
int stats_attach(stats_t *s, const char *name, const uint64_t *counter);

/* Value of a counter by name, 0 when unknown. */
uint64_t stats_get(const stats_t *s, const char *name);

unsigned stats_count(const stats_t *s);
const char *stats_name(const stats_t *s, unsigned i);
uint64_t stats_value(const stats_t *s, unsigned i);
const char *stats_stage(const stats_t *s);

/* Writes <dir>/<id>.json atomically (temp file and rename).
 * `final` marks the snapshot taken as the process ends. 0 or -errno. */
int stats_write_file(const stats_t *s, const char *dir, bool final);

/* A snapshot read back from a stats file, owning its strings. */
struct stats_snapshot {
    char id[48];
    char stage[32];
    long pid;
    uint64_t time_ns;
    bool final;
    unsigned n;
    char names[STATS_MAX][48];
    uint64_t values[STATS_MAX];
};

/* Reads a file written by stats_write_file. 0, -errno, or -EBADMSG. */
int stats_snapshot_load(const char *path, struct stats_snapshot *snap);

/* Value of a counter in a snapshot, 0 when absent. */
uint64_t stats_snapshot_get(const struct stats_snapshot *snap,
                            const char *name);

#endif
