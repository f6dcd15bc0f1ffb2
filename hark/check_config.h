/* check_config.h - a config file checked as a stage would check it,
 * without running anything: `hark check-config FILE`, and the file
 * `hark run` reloads on SIGHUP.
 */
#ifndef HARK_CHECK_CONFIG_H
#define HARK_CHECK_CONFIG_H

#include "config.h"

#include <stddef.h>

/* Loads path and checks what config_load cannot alone: every endpoint
 * fits, tcp:// has keys (or bus.insecure), and every key file it names
 * can be read. 0 and *out (the caller destroys it), or -errno with the
 * reason in err. */
int check_config_load(const char *path, struct config **out, char *err,
                      size_t errlen);

/* Logs a warning for each setting that differs between running and next
 * and takes effect only when the pipeline restarts (shards, endpoints,
 * keys, capture, logger and supervisor settings). Returns how many. */
unsigned check_config_restart_only(const struct config *running,
                                   const struct config *next);

int hark_check_config_main(int argc, char **argv);

#endif
