/* policy.h - what a policy's steps do to a message.
 *
 * A policy is the seed's filter chain: Log Message, Wait for Response
 * Packets, Log Message Payload. Dispatch runs the steps before the wait,
 * correlate the steps after it; both build audit records here, so a
 * record means the same thing whichever stage made it. A log step keeps
 * what it is configured to keep: headers or not, a body prefix, and
 * header values it must redact.
 */
#ifndef HARK_POLICY_H
#define HARK_POLICY_H

#include "config.h"
#include "frame.h"

#include <stdbool.h>
#include <stdint.h>

#define POLICY_REDACTED "[redacted]"

/* The header names a log step redacts unless its config says otherwise:
 * credentials a trail must not hold. */
#define POLICY_DEFAULT_REDACT_COUNT 4
/* Body bytes a log step keeps unless it says otherwise. */
#define POLICY_DEFAULT_BODY_MAX 65536
extern const char *const policy_default_redact[POLICY_DEFAULT_REDACT_COUNT];

/* How a response nobody asked for is recorded when the config has no log
 * step: like a default response step (headers, 64 KiB of body, the
 * default redaction) under the label "Orphan Response". */
extern const struct config_step policy_orphan_step;

/* How a response nobody asked for is recorded under cfg. It has no
 * request, so no route and no policy: it is logged as strictly as the
 * strictest step that logs a response in a policy some relative path of
 * cfg routes to (any log step of those when none does): headers only
 * when every such step keeps them, the fewest body bytes any keeps, and
 * every name any of them redacts, the defaults included. More names than
 * `cap` and it keeps no headers at all: then it returns false (the
 * caller counts it). *out borrows names[] (filled here) and cfg's
 * strings. */
#define POLICY_ORPHAN_REDACT_MAX 128
bool policy_orphan_step_for(const struct config *cfg, const char **names,
                            unsigned cap, struct config_step *out);

/* The most body bytes any log step keeps in a policy some relative path
 * of cfg routes to (the orphan step's included), at most cap: what a
 * reassembler needs to carry of a body.
 * Bytes past it are counted in body_len and never leave the reassembler,
 * where they cost every hop of the bus and no record holds them. */
uint64_t policy_body_carried(const struct config *cfg, uint64_t cap);

/* The request facts a record carries, whichever message it logs. */
struct req_summary {
    struct bytes uid;
    uint32_t idx;
    uint64_t ts_ns, ts_end_ns;
    struct conn_addr addr;
    struct msg_route route;
    struct bytes method, uri, host;
};

/* Borrows from req. */
void policy_summarize(const struct http_msg *req, struct req_summary *out);

/* Value of the first header called name (case-insensitive), or {NULL,0}. */
struct bytes policy_header(const struct msg_header *h, uint32_t n,
                           const char *name);

/* True when a log step replaces this header's value: its name, read as
 * a server may (case folded, "_" as "-", spaces, NUL and control bytes
 * ignored), is one of the step's redacted names, or a name that is not a
 * clean token contains one, or the value carries a header line of one
 * ("a\rAuthorization: x", an obs-fold). Over-redacting a malformed
 * header is the price of never keeping a credential a server read. */
bool policy_redacts(const struct config_step *step, struct bytes name,
                    struct bytes value);

/* Fills *out for a log step. msg is the logged message (the request for a
 * request record, the response for a response record, NULL when no
 * response came); outcome is an OUTCOME_* for response records. ts_ns is
 * the record's time: the message's first byte, or the moment the wait
 * ended when there is no response. scratch must hold FRAME_MAX_HEADERS
 * entries; out borrows from step, req, msg and scratch. */
void policy_make_record(const struct config_step *step, enum record_kind kind,
                        const struct req_summary *req,
                        const struct http_msg *msg, const char *outcome,
                        uint64_t ts_ns, struct msg_header *scratch,
                        struct audit_record *out);

#endif
