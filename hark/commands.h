/* commands.h - `hark query`, `hark export`, `hark verify`, `hark serve`:
 * the trail's readers.
 *
 * Each takes argv with argv[0] = its own name and returns the exit
 * status: 0 done, 1 failed (the reason on stderr), 2 bad command line.
 * The helpers at the end are shared by the three (they live in query.c).
 */
#ifndef HARK_COMMANDS_H
#define HARK_COMMANDS_H

#include "config.h"
#include "store.h"

#include <stdbool.h>

int hark_query_main(int argc, char **argv);
int hark_export_main(int argc, char **argv);
int hark_verify_main(int argc, char **argv);
/* `hark serve` (serve.c) */
int hark_serve_main(int argc, char **argv);
/* `hark keygen` (keygen.c) */
int hark_keygen_main(int argc, char **argv);

/* ---- shared by the trail commands ----------------------------------- */

/* Loads config_path (NULL: the defaults) and applies --db and --run-dir
 * (NULL: keep). Returns 0 and *out (caller destroys), or prints
 * "hark CMD: reason" and returns the exit status (2 for a bad file). */
int trail_config(const char *cmd, const char *config_path, const char *db,
                 const char *run_dir, struct config **out);

/* Opens the trail at path for reading. Returns 0 and *out; -EBUSY, with
 * nothing printed, when busy_ok and the logger holds the trail; else
 * prints why ("no audit trail at X (run `hark run` first, or pass
 * --db)", or the logger is running) and returns -1. */
int trail_open(const char *cmd, const char *path, bool busy_ok,
               store_t **out);

#endif
