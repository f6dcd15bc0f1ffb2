/* source.h - where packets come from: an interface or a capture file.
 *
 * Wraps libpcap so the capture loop sees one thing: a handle that yields
 * packets with nanosecond timestamps, a selectable fd when live, and
 * kernel drop counts. Opening fails with a message a user can act on
 * (no such device, not root, not a capture file, bad filter).
 */
#ifndef HARK_CAPTURE_SOURCE_H
#define HARK_CAPTURE_SOURCE_H

#include "config.h"

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct source source_t;

/* Opens the file cfg->read when set, else the device live, and applies
 * the filter. NULL on failure with the reason in err. */
source_t *source_open(const struct config_capture *cfg, char *err,
                      size_t errlen);
void source_close(source_t **s);

pcap_t *source_pcap(source_t *s);
bool source_live(const source_t *s);
int source_link(const source_t *s);
const char *source_link_name(const source_t *s);
/* A packet header's time in nanoseconds, whatever precision libpcap
 * granted (tv_usec holds micro- or nanoseconds). */
uint64_t source_ts_ns(const source_t *s, const struct timeval *tv);
/* Live: fd to poll for readability, or -1. */
int source_fd(const source_t *s);

/* Kernel counters since open (live only; 0 offline). */
void source_drops(source_t *s, uint64_t *dropped, uint64_t *if_dropped);

/* Offline: bytes of the file read so far and its size (for progress). */
void source_progress(source_t *s, uint64_t *pos, uint64_t *size);

#endif
