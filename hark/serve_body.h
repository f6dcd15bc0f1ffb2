/* serve_body.h - what the page shows of a logged body besides its bytes.
 *
 * The captured bytes themselves are in the record's JSON (text, or
 * base64 the page shows as hex). Here: their SHA-256, whether they are
 * a prefix of the body (the policy's `body` size), and, for a body sent
 * compressed (Content-Encoding gzip, x-gzip or deflate, alone), the bytes
 * zlib makes of it. Decoding stops at SERVE_BODY_DECODED_MAX: a small
 * compressed body can expand without bound.
 */
#ifndef HARK_SERVE_BODY_H
#define HARK_SERVE_BODY_H

#include "frame.h"
#include "json_out.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERVE_BODY_DECODED_MAX (4u << 20)

enum serve_decode {
    SERVE_DECODE_NONE,            /* no encoding, or one not decoded here */
    SERVE_DECODE_WHOLE,           /* the compressed stream ended: all of it */
    SERVE_DECODE_PREFIX,          /* the captured bytes end before it does */
    SERVE_DECODE_CAPPED,          /* stopped at SERVE_BODY_DECODED_MAX */
    SERVE_DECODE_INVALID,         /* not valid for its encoding */
};

struct serve_decoded {
    enum serve_decode state;
    uint8_t *p;                   /* owned; serve_decoded_free() */
    size_t n;
};

/* Inflates the n bytes at p as `encoding` ("gzip", "x-gzip", "deflate"
 * zlib-wrapped or raw; any other: SERVE_DECODE_NONE). 0, or -ENOMEM. */
int serve_body_decode(const char *encoding, const void *p, size_t n,
                      struct serve_decoded *out);
void serve_decoded_free(struct serve_decoded *d);

/* Writes r's body view as a JSON object: {"captured", "length",
 * "truncated", "sha256", "encoding"?, "decoded"? {"state", "bytes",
 * "content" | "base64"}}. */
void serve_body_json(struct json_out *j, const struct audit_record *r);

#endif
