/* serve_source.h - where `hark serve` reads the trail from.
 *
 * A trail at rest is read through a view of it (store_view.h), so
 * `hark run` can take it at any moment; while the logger holds it (the
 * open fails as busy) the same questions go to the logger's query socket
 * (store_query.h). Both answer in pages of the query protocol, so the
 * rest of serve does not know which one it reads.
 */
#ifndef HARK_SERVE_SOURCE_H
#define HARK_SERVE_SOURCE_H

#include "config.h"
#include "serve_params.h"
#include "store_proof.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct serve_source serve_source_t;

/* A source for cfg's trail and query socket (cfg is borrowed and must
 * outlive it). NULL on ENOMEM. */
serve_source_t *serve_source_new(const struct config *cfg);
void serve_source_destroy(serve_source_t **s);

/* Gets hold of the trail for one request: 0, -ENOENT (no trail there),
 * or -EIO; err says why. serve_source_close() ends the request (a trail
 * at rest stays open while it does not change). */
int serve_source_open(serve_source_t *s, char *err, size_t errlen);
void serve_source_close(serve_source_t *s);
/* True when the logger holds the trail and answers for it. */
bool serve_source_live(const serve_source_t *s);
/* 1 when the trail has its secondary keys (store_index.h), 0 when not
 * (written before they existed: scans read whole records), -1 when the
 * logger holds it (not known here). */
int serve_source_indexed(const serve_source_t *s);
/* The trail's directory. */
const char *serve_source_path(const serve_source_t *s);

/* Records with since <= ts < until in key order (newest first when
 * reverse), after the key `after` when given. With summaries, records
 * come without headers and bodies when the trail has its secondary keys
 * (store_index.h), which is much faster over many records. narrow, when
 * given, is a filter whose status or path the trail's index may use to
 * skip records; the visitor still gets some that do not match it. */
struct serve_scan {
    uint64_t since_ns, until_ns;
    const struct serve_key *after;
    bool reverse, summaries;
    const struct serve_params *narrow;
};

/* Called with each record, its key and its chain entry (0 when not
 * known), all borrowed for the call: 1 to go on, 0 to stop, or -errno
 * to fail the scan. */
typedef int (*serve_visit_fn)(void *ctx, const struct audit_record *r,
                              const struct serve_key *key, uint64_t seq);

/* Visits q's records in order. 0, or -errno with err saying why (a
 * visitor's error is returned as is). */
int serve_source_scan(serve_source_t *s, const struct serve_scan *q,
                      serve_visit_fn visit, void *ctx, char *err,
                      size_t errlen);

/* Visits the record stored under key: 1 found (the visitor's error, if
 * any, instead), 0 not found, or -errno with err. */
int serve_source_get(serve_source_t *s, const struct serve_key *key,
                     serve_visit_fn visit, void *ctx, char *err,
                     size_t errlen);

/* The chain proof of key's record (store_proof.h; seq a hint, or 0):
 * 0, -ENOENT, or -errno. */
int serve_source_proof(serve_source_t *s, const struct serve_key *key,
                       uint64_t seq, struct store_proof *out);

#endif
