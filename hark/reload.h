/* reload.h - SIGHUP for `hark run`: the config checked, then the stages
 * told in order.
 *
 * The file is loaded and checked first (check_config.h): one that does
 * not load is refused with its error and no stage hears of it, so the
 * running config stays everywhere. Then correlate reloads first and says
 * so in its stats (config_reloads, config_reload_failed); only then are
 * the others told, so that a request dispatch routes by the new config
 * finds its policy in correlate, and one routed before still finds the
 * old one there (wait.h). When correlate refuses, the others are not
 * told; when it does not answer within RELOAD_FIRST_WAIT_MS, they are,
 * with a warning.
 */
#ifndef HARK_RELOAD_H
#define HARK_RELOAD_H

#include "config.h"

#include <stdbool.h>

#define RELOAD_FIRST_WAIT_MS 5000

typedef struct reload reload_t;

/* config_path: the file `hark run -c` read (NULL: none); the stages'
 * stats are in stats_dir. NULL on ENOMEM. */
reload_t *reload_new(const char *config_path, const char *stats_dir);
void reload_destroy(reload_t **r);

/* SIGHUP: checks the file and names what needs a restart (against
 * running). 0 when the stages are to reload; -1 after logging why not. */
int reload_check(reload_t *r, const struct config *running);

/* The stage id is about to get SIGHUP first: its reload counters are
 * read now, to see them move. Returns true. */
bool reload_first(reload_t *r, const char *id);

/* True, once, when the other stages are to get SIGHUP now. */
bool reload_rest_due(reload_t *r);

/* Milliseconds until reload_rest_due() must be asked again, or -1. */
int reload_timeout_ms(const reload_t *r);

/* Reloads begun (failed: files refused, or the first stage refused). */
unsigned reload_count(const reload_t *r, bool failed);

#endif
