/* downtime.h - what passes on the wire while a live capture is down.
 *
 * Packets that arrive while no capture runs are never seen by the
 * pipeline, so the supervisor counts them itself: when a live capture
 * dies it opens the same device with the same filter (headers only, no
 * processing) until the outage ends (outage.h), counting TCP packets and
 * the distinct connections they belong to. The count is of the outage's
 * window, which runs until the next capture's first report: the last
 * second of it the new capture saw too, so it is an upper bound.
 */
#ifndef HARK_DOWNTIME_H
#define HARK_DOWNTIME_H

#include "config.h"

#include <stddef.h>
#include <stdint.h>

#define DOWNTIME_MAX_FLOWS 65536  /* distinct connections told apart */

typedef struct downtime downtime_t;

/* Opens cfg->device with cfg->filter. NULL with the reason in err. */
downtime_t *downtime_start(const struct config_capture *cfg, char *err,
                           size_t errlen);
/* The fd to poll, readable when packets wait. */
int downtime_fd(const downtime_t *d);
/* Counts what waits, without blocking. */
void downtime_read(downtime_t *d);
/* Closes the handle; its counts in *packets and *connections (at least
 * DOWNTIME_MAX_FLOWS when more were seen). NULLs *d; safe twice. */
void downtime_stop(downtime_t **d, uint64_t *packets,
                   uint64_t *connections);

#endif
