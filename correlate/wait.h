/* wait.h - "Wait for Response Packets": the verdict on every wait, then
 * the rest of the policy.
 *
 * A response carries the index of the request it answers (the
 * reassembler pairs them by TCP positions). A wait ends in one of: ok,
 * timeout, closed (the connection ended first), eof (the input ended
 * first), lost (the capture lost the response: the reassembler paired a
 * later response past it); a response after its wait timed out is late,
 * one without a request (or after its wait was forgotten) an orphan.
 *
 * When is a response in time? With `until: first_byte` (the default) its
 * first byte must come within the timeout of the request's last byte and
 * its last byte within max_response of it; with `until: last_byte` its
 * last byte within the timeout. A response whose first byte came in time
 * but whose end passed the ceiling ends the wait as timeout at the
 * ceiling and is logged late when it completes.
 *
 * The decision uses packet time only, whatever order shards' frames
 * arrive in and wherever the watermark stands, so a replay gives the same
 * trail. The watermark only decides when a wait nobody answered ends: a
 * `responding` event (the response's first byte came in time) moves the
 * wait's deadline to the ceiling, so it does not expire while the body is
 * still arriving. A response that completes before its request (early,
 * as a 413 during an upload) is held until the request comes. When a wait
 * ends, the policy's log steps after it run and each record goes to the
 * sink.
 *
 * A reload (wait_reload) brings a new config. A request's policy is the
 * one its route names in the config in force when it arrives or, when
 * that has none of that name waiting at the request's step, in the
 * config before it (dispatch routed the request before it reloaded);
 * neither: policy_mismatch, not waited. A wait keeps the policy it began
 * with to its end, so a config stays while any wait uses it.
 *
 * The caller feeds messages as they come and the watermark (every packet
 * up to it has been seen) when it moves; it owns the transport.
 */
#ifndef HARK_CORRELATE_WAIT_H
#define HARK_CORRELATE_WAIT_H

#include "config.h"
#include "frame.h"
#include "stats.h"

#include <msgpack.h>
#include <stdint.h>

/* Requests looked up for one close or lost event; the rest end by
 * timeout instead (counted in close_scan_capped). */
#define WAIT_CLOSE_SCAN_MAX 65536u

/* Configs held at once: the one in force, the one before it, and older
 * ones that waits still use. */
#define WAIT_MAX_CONFIGS 8

/* What the table counts. Each points at a counter the caller registered
 * (stats_add) and that outlives the table. */
struct wait_counters {
    uint64_t *requests, *responses;
    uint64_t *pairs;              /* ok */
    uint64_t *timeouts, *closed, *eof_unanswered, *late, *orphans;
    uint64_t *lost;               /* waits ended by a lost event */
    uint64_t *not_waited;         /* responses to requests without a wait */
    uint64_t *records;            /* records the sink took */
    uint64_t *policy_mismatch;    /* route names another config's policy */
    uint64_t *close_scan_capped;
    /* orphans logged without headers: more redacted names in the config
     * than the orphan step holds (POLICY_ORPHAN_REDACT_MAX) */
    uint64_t *orphan_headers_withheld;
};

/* Takes one record (borrowed for the call). 0, or -errno: the feeding
 * call stops and returns it. */
typedef int wait_sink_fn(void *ctx, const struct audit_record *r);

typedef struct wait wait_t;

/* cfg (policies, correlate.max_pending) and the counters must outlive the
 * table; st receives the pending table's and the early responses'
 * counters. NULL on ENOMEM. */
wait_t *wait_new(const struct config *cfg, stats_t *st,
                 const struct wait_counters *counters, wait_sink_fn *sink,
                 void *sink_ctx);
void wait_destroy(wait_t **w);

/* Puts cfg (taken: freed with the table, or at once on failure) in
 * force for requests from now on. 0, or -EBUSY when WAIT_MAX_CONFIGS
 * configs still have waits (cfg is not used). */
int wait_reload(wait_t *w, struct config *cfg);

/* A request from dispatch. item is the request as received; it is kept
 * (borrowed for the call only) when a step after the wait logs the
 * request itself. 0 or -errno. */
int wait_request(wait_t *w, const struct http_msg *req,
                 const msgpack_object *item);

/* A response: ends its request's wait, or is recorded as an orphan. An
 * early response whose request has not come yet is kept (item, as
 * received, borrowed for the call) until it does. */
int wait_response(wait_t *w, const struct http_msg *resp,
                  const msgpack_object *item);

/* A connection event: a close ends the waits of the connection's
 * requests (closed, or eof when capture ended) and makes orphans of the
 * early responses held for it; lost ends the named waits as lost;
 * responding moves a wait to its ceiling; others are ignored. */
int wait_conn(wait_t *w, const struct http_msg *ev);

/* The watermark reached wm: waits whose deadline is before it time out,
 * tombstones and unwaited requests past it are forgotten. */
int wait_expire(wait_t *w, uint64_t wm);

/* The input ended at end_ns: every wait still open ends (timeout when
 * its deadline is before end_ns, else eof), early responses still held
 * become orphans and the table is emptied. */
int wait_drain(wait_t *w, uint64_t end_ns);

#endif
