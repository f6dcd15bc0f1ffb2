/* json_out.h - a small JSON text writer (JSON lines, HAR, tap output).
 *
 * It inserts the commas itself: after a key comes one value, objects and
 * arrays nest. Strings are escaped per RFC 8259: quote, backslash and
 * control characters (and DEL) escaped, valid UTF-8 passed through, and
 * each byte that does not start a valid UTF-8 sequence replaced by
 * U+FFFD (written "\ufffd"), so invalid bytes in a string are lost; write
 * bytes that must survive with json_out_base64(). On allocation failure
 * it stops growing and sets `failed`.
 */
#ifndef HARK_JSON_OUT_H
#define HARK_JSON_OUT_H

#include "bytes.h"

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

/* True when p holds valid UTF-8 without NUL: a string json_out_str()
 * keeps whole, so it can be shown as text rather than base64. */
bool json_out_is_text(const void *p, size_t n);

#endif
