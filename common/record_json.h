/* record_json.h - an audit record as one JSON line (ECS names) or a row.
 *
 * The JSON of a record is a nested object with Elastic Common Schema
 * names, keys always in the same order, so the same trail gives the same
 * bytes (the full key list is at record_json() in record_json.c).
 * Strings are escaped per RFC 8259: quote, backslash and control
 * characters (and DEL) escaped, valid UTF-8 passed through, and each byte
 * that does not start a valid UTF-8 sequence replaced by U+FFFD (written
 * "\ufffd"): names, URIs and header values are text in JSON, so invalid
 * bytes there are lost. Bodies are lossless: "content" when the
 * captured bytes are valid UTF-8 without NUL, else "base64".
 *
 * The small JSON writer below also serves the HAR export. It inserts the
 * commas itself: after a key comes one value, objects and arrays nest.
 * On allocation failure it stops growing and sets `failed`.
 */
#ifndef HARK_RECORD_JSON_H
#define HARK_RECORD_JSON_H

#include "frame.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_out {
    char *p;                      /* NUL-terminated text, owned */
    size_t len, cap;
    bool comma;                   /* the next value needs a comma */
    bool failed;                  /* an allocation failed: text is cut */
};

void json_out_init(struct json_out *j);
void json_out_free(struct json_out *j);
/* Empties the text, keeping the buffer. */
void json_out_reset(struct json_out *j);

void json_out_obj(struct json_out *j);      /* { */
void json_out_obj_end(struct json_out *j);  /* } */
void json_out_arr(struct json_out *j);      /* [ */
void json_out_arr_end(struct json_out *j);  /* ] */
void json_out_key(struct json_out *j, const char *key);
/* String values (escaped as above). */
void json_out_str(struct json_out *j, const void *p, size_t n);
void json_out_bytes(struct json_out *j, struct bytes b);
void json_out_cstr(struct json_out *j, const char *s);
void json_out_base64(struct json_out *j, const void *p, size_t n);
void json_out_u64(struct json_out *j, uint64_t v);
void json_out_i64(struct json_out *j, int64_t v);
/* A duration in ns as milliseconds with three decimals ("12.345"). */
void json_out_ms(struct json_out *j, uint64_t ns);
void json_out_bool(struct json_out *j, bool v);
/* Appends already encoded JSON (made by another json_out) as a value. */
void json_out_json(struct json_out *j, const char *text, size_t n);
/* Appends raw text that is not a value (a newline between lines). */
void json_out_raw(struct json_out *j, const char *s, size_t n);

/* True when p holds valid UTF-8 without NUL: shown as text, not base64. */
bool json_is_text(const void *p, size_t n);

/* A request target split the ECS way: path up to '?' or '#', query
 * between them without the '?', fragment after '#'. The absolute form
 * ("http://host/p?q") is split after its authority; the authority form
 * of CONNECT has no path. All borrow uri. */
struct url_parts {
    struct bytes path, query, fragment;
    bool has_query, has_fragment;
};
void record_url_split(struct bytes uri, struct url_parts *out);

/* Appends r as one JSON object (no newline). 0, or -ENOMEM. */
int record_json(struct json_out *j, const struct audit_record *r);

/* "success" (2xx/3xx), "failure" (4xx/5xx or no response: timeout,
 * closed, eof), "unknown" (requests, 1xx): ECS event.outcome. */
const char *record_event_outcome(const struct audit_record *r);

/* Table for `hark query` without --json: fixed-width columns, bytes that
 * are not printable ASCII shown as \xHH so a record cannot drive the
 * terminal. Both write a line with its newline into buf as snprintf
 * does and return the length it needed. */
int record_table_header(char *buf, size_t size);
int record_table_row(char *buf, size_t size, const struct audit_record *r);

#endif
