/* metrics_http.h - the supervisor's /metrics, for a Prometheus server.
 *
 * A listening TCP socket on supervisor.metrics and at most
 * METRICS_HTTP_CLIENTS connections, all non-blocking, polled with the
 * supervisor's other sources: it never waits on a client. A request is
 * its head only (up to METRICS_HTTP_HEAD bytes, within
 * METRICS_HTTP_DEADLINE_MS); GET or HEAD of /metrics gets the text
 * format, any other path 404, any other method 405, anything else 400.
 * Each connection serves one request and is closed.
 */
#ifndef HARK_METRICS_HTTP_H
#define HARK_METRICS_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <zmq.h>

#define METRICS_HTTP_CLIENTS 8
#define METRICS_HTTP_HEAD 4096
#define METRICS_HTTP_DEADLINE_MS 5000

typedef struct metrics_server metrics_server_t;

/* Writes the page (the text format) to f. */
typedef void metrics_render_fn(FILE *f, void *ctx);

/* Listens on addr (HOST:PORT, [V6]:PORT). NULL with the reason in err. */
metrics_server_t *metrics_server_new(const char *addr, metrics_render_fn *fn,
                                     void *ctx, char *err, size_t errlen);
void metrics_server_destroy(metrics_server_t **m);

/* Fills items (room for 1 + METRICS_HTTP_CLIENTS) with what to poll;
 * returns how many. */
unsigned metrics_server_poll_items(const metrics_server_t *m,
                                   zmq_pollitem_t *items);

/* Connections refused because every client slot was taken, and clients
 * dropped without an answer (a head too long, past the deadline, a read
 * or write error). */
void metrics_server_counts(const metrics_server_t *m, uint64_t *refused,
                           uint64_t *dropped);

/* Handles what the poll found on those items, and clients past their
 * deadline. */
void metrics_server_handle(metrics_server_t *m, const zmq_pollitem_t *items,
                           unsigned n);

#endif
