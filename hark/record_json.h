/* record_json.h - an audit record as one JSON line (ECS names).
 *
 * The JSON of a record is a nested object with Elastic Common Schema
 * names, keys always in the same order, so the same trail gives the same
 * bytes (the full key list is at record_json() in record_json.c).
 * Names, URIs and header values are JSON strings (json_out.h says what
 * becomes of bytes that are not UTF-8). Bodies are lossless: "content"
 * when the captured bytes are valid UTF-8 without NUL, else "base64".
 */
#ifndef HARK_RECORD_JSON_H
#define HARK_RECORD_JSON_H

#include "frame.h"
#include "json_out.h"
#include "urlsplit.h"

#include <stdbool.h>

/* Appends r as one JSON object (no newline). 0, or -ENOMEM. */
int record_json(struct json_out *j, const struct audit_record *r);

/* Appends flags (enum msg_flag) as an array of their names. */
void record_json_flags(struct json_out *j, uint32_t flags);
/* Appends an outage's lost counts as an object {name: n}. */
void record_json_lost(struct json_out *j, const struct audit_record *r);

/* True for a response record the server sent: one with a status, or an
 * HTTP/0.9 answer (no status line; outcome "ok"). False for the records
 * that say no response came (timeout, closed, eof, lost). */
bool record_answered(const struct audit_record *r);

/* "success" (2xx/3xx, an HTTP/0.9 answer), "failure" (4xx/5xx or no
 * response: timeout, closed, eof), "unknown" (requests, 1xx): ECS
 * event.outcome. */
const char *record_event_outcome(const struct audit_record *r);

#endif
