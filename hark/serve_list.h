/* serve_list.h - GET /api/records: the records a filter selects, newest
 * first, a page at a time.
 *
 * A page is {"records": [row...], "next": KEY | null, "live": bool}:
 * pass "next" as `before` for the page after it. A row is a summary of a
 * record (time, kind, addresses, method, uri, status, bytes, duration,
 * outcome, flags, route; for an outage, the stage, why, until when and
 * what it lost); /api/record has the whole of it.
 */
#ifndef HARK_SERVE_LIST_H
#define HARK_SERVE_LIST_H

#include "serve_http.h"
#include "serve_source.h"

/* What /api/records takes. */
#define SERVE_LIST_PARAMS (SP_FILTERS | SP_BEFORE | SP_LIMIT)

/* Answers p (checked) from the open source s into out. */
void serve_list(serve_source_t *s, const struct serve_params *p,
                struct serve_reply *out);

/* Writes the row of r under key k (the list's, and a transaction's
 * summary of each record). */
void serve_list_row(struct json_out *j, const struct audit_record *r,
                    const struct serve_key *k);

#endif
