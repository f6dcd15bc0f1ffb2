/* outage.h - stages that died, what they took with them, and the outage
 * records that say so in the trail.
 *
 * When a stage other than the logger dies (a logger that dies loses
 * nothing: correlate sends again what it never committed), what it held
 * and what was in flight to it is gone: packets while a capture was
 * down, a reassembler's open connections, the waits and unacknowledged
 * records of correlate. An outage covers that stage from its last report
 * (its stats file, written each second; its start if it never wrote
 * one) until its next incarnation reported (or, when none came, until
 * the supervisor knew none would); it names the counts the last report
 * gave of what the stage held. The supervisor writes each one into the
 * trail as an outage record, through the logger's acknowledged input
 * (bus.h) like any producer, and ends that input with its own eof once
 * nothing upstream of the logger runs (the logger, started by the
 * supervisor, waits for it: HARK_SUPERVISED).
 * Times are the wall clock, which is the packet time of a live capture.
 */
#ifndef HARK_OUTAGE_H
#define HARK_OUTAGE_H

#include "config.h"
#include "topology.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define OUTAGE_MAX 64             /* kept for the summary; more are
                                     counted and written, not listed */

typedef struct outages outages_t;

/* Connects to the logger's input (CURVE keys when it is tcp://) as the
 * producer id ("hark"; "hark@<roles>" for a supervisor of part of the
 * pipeline, which never sends eof: only the logger's supervisor ends its
 * input). NULL with the reason in err. */
outages_t *outages_new(const struct config *cfg, const char *run_dir,
                       const char *id, char *err, size_t errlen);
void outages_destroy(outages_t **o);

/* The incarnation pid of stage id died (`how`: "killed by signal 9");
 * spawned_ns: when it was started (wall). Opens an outage. */
void outages_begin(outages_t *o, const char *id, enum topology_role role,
                   pid_t pid, uint64_t spawned_ns, const char *how);

/* Ends an open outage of id: with `gone`, now (no new incarnation will
 * come); else once the stats of the running incarnation pid show it
 * reporting. An ended outage is sent to the logger. */
void outages_check(outages_t *o, const char *id, pid_t pid, bool gone);

/* True when outages_check() with the same arguments would end an open
 * outage of id now. */
bool outages_due(const outages_t *o, const char *id, pid_t pid, bool gone);

/* Adds a count (name: a literal) to the open outage of id. */
void outages_add_lost(outages_t *o, const char *id, const char *name,
                      uint64_t n);

/* True while an outage is open. */
bool outages_open(const outages_t *o);

/* True while something is not yet acknowledged by the logger: an open
 * outage, a record or the supervisor's eof. */
bool outages_waiting(const outages_t *o);

/* True while an outage is open or a record is not acknowledged. */
bool outages_unsent(const outages_t *o);

/* Sends the supervisor's eof to the logger (once). */
void outages_end(outages_t *o);

/* The socket acknowledgements arrive on, and taking them; a tick that
 * sends unacknowledged records again (bus_out_tick). */
void *outages_socket(outages_t *o);
void outages_take_acks(outages_t *o);
int outages_tick(outages_t *o);
/* The logger restarted: send what it has not acknowledged now. */
void outages_resend(outages_t *o);

/* How many outages there were; how many records the logger never
 * acknowledged. */
unsigned outages_count(const outages_t *o);
unsigned outages_unwritten(const outages_t *o);

/* A line per outage for the summary. */
void outages_print(const outages_t *o, FILE *f);

#endif
