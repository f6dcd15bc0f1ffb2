/* serve_tx.h - GET /api/record?key=KEY: one transaction, whole.
 *
 * The record under KEY, its request and its responses (a request can
 * have two: a late response and its timeout), each as
 *   {"key", "record": ECS (record_json.h), "view": {"body", "redacted",
 *    "flags", "outcome", "timings"}, "chain": {...}}
 * "view" says in words what the record's codes mean, "body" what
 * serve_body.h adds to the captured bytes, "chain" where the record sits
 * in the hash chain and whether it still matches it (store_proof.h). An
 * outage record (a stage that died) comes alone, as "outage", with its
 * record and chain only.
 */
#ifndef HARK_SERVE_TX_H
#define HARK_SERVE_TX_H

#include "serve_http.h"
#include "serve_source.h"

#define SERVE_TX_PARAMS SP_KEY
/* A request's responses are looked for this long after it, and among at
 * most this many records. */
#define SERVE_TX_WINDOW_NS (15ull * 60 * 1000000000)
#define SERVE_TX_SCAN_MAX 100000u
#define SERVE_TX_RESPONSES_MAX 4

void serve_tx(serve_source_t *s, const struct serve_params *p,
              struct serve_reply *out);

#endif
