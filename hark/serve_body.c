/* serve_body.c - a logged body's digest and decoded form (serve_body.h).
 *
 * The bytes are whatever the peer sent: zlib reads them with its own
 * bounds checks, and the output buffer only grows up to the cap.
 */
#include "serve_body.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define CHUNK (64u << 10)

void serve_decoded_free(struct serve_decoded *d)
{
    free(d->p);
    memset(d, 0, sizeof(*d));
}

/* Inflates with zlib's windowBits wbits into out. 0 or -ENOMEM. */
static int inflate_all(int wbits, const void *p, size_t n,
                       struct serve_decoded *out)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, wbits) != Z_OK)
        return -ENOMEM;
    size_t cap = 0;
    int rc = 0;
    z.next_in = (Bytef *)p;
    for (;;) {
        if (z.avail_in == 0 && n > 0) {
            z.avail_in = n > (1u << 30) ? (1u << 30) : (uInt)n;
            n -= z.avail_in;
        }
        if (out->n == cap) {
            if (cap == SERVE_BODY_DECODED_MAX) {
                out->state = SERVE_DECODE_CAPPED;
                break;
            }
            size_t ncap = cap ? cap * 2 : CHUNK;
            if (ncap > SERVE_BODY_DECODED_MAX)
                ncap = SERVE_BODY_DECODED_MAX;
            uint8_t *np = realloc(out->p, ncap);
            if (!np) {
                rc = -ENOMEM;
                break;
            }
            out->p = np;
            cap = ncap;
        }
        z.next_out = out->p + out->n;
        z.avail_out = (uInt)(cap - out->n);
        int zrc = inflate(&z, Z_NO_FLUSH);
        out->n = cap - z.avail_out;
        if (zrc == Z_STREAM_END) {
            out->state = SERVE_DECODE_WHOLE;
            break;
        }
        if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
            out->state = SERVE_DECODE_INVALID;
            break;
        }
        if (z.avail_in == 0 && n == 0 && z.avail_out > 0) {
            out->state = SERVE_DECODE_PREFIX; /* it wants more input */
            break;
        }
    }
    inflateEnd(&z);
    return rc;
}

int serve_body_decode(const char *encoding, const void *p, size_t n,
                      struct serve_decoded *out)
{
    memset(out, 0, sizeof(*out));
    bool gzip = !strcasecmp(encoding, "gzip") ||
                !strcasecmp(encoding, "x-gzip");
    if (!n || (!gzip && strcasecmp(encoding, "deflate")))
        return 0;
    /* gzip, or deflate as RFC 9110 means it (zlib-wrapped): 15 + 32
     * reads either header; servers that send raw deflate get a second
     * try without one */
    int rc = inflate_all(gzip ? 15 + 16 : 15 + 32, p, n, out);
    if (rc == 0 && !gzip && out->state == SERVE_DECODE_INVALID &&
        out->n == 0) {
        serve_decoded_free(out);
        rc = inflate_all(-15, p, n, out);
    }
    if (rc < 0)
        serve_decoded_free(out);
    return rc;
}

static const char *state_name(enum serve_decode s)
{
    switch (s) {
    case SERVE_DECODE_WHOLE: return "whole";
    case SERVE_DECODE_PREFIX: return "prefix";
    case SERVE_DECODE_CAPPED: return "capped";
    case SERVE_DECODE_INVALID: return "invalid";
    default: return "none";
    }
}

/* The Content-Encoding of r into buf ("" when none; the raw value, cut
 * to fit, when it lists several). */
static void content_encoding(const struct audit_record *r, char *buf,
                             size_t size)
{
    buf[0] = '\0';
    for (uint32_t i = 0; i < r->n_headers; i++) {
        struct bytes v = r->headers[i].value;
        if (!bytes_case_eq(r->headers[i].name, "Content-Encoding"))
            continue;
        /* trim the optional whitespace around a field value */
        while (v.n && (v.p[0] == ' ' || v.p[0] == '\t')) {
            v.p++;
            v.n--;
        }
        while (v.n && (v.p[v.n - 1] == ' ' || v.p[v.n - 1] == '\t'))
            v.n--;
        size_t n = v.n < size - 1 ? v.n : size - 1;
        memcpy(buf, v.p, n);
        buf[n] = '\0';
        for (size_t k = 0; k < n; k++)
            if ((unsigned char)buf[k] < 0x20)
                buf[k] = '?';
        return;
    }
}

static void write_decoded(struct json_out *j, const char *enc,
                          const struct audit_record *r)
{
    struct serve_decoded d;
    if (serve_body_decode(enc, r->body.p, r->body.n, &d) < 0) {
        j->failed = true;
        return;
    }
    if (d.state == SERVE_DECODE_NONE)
        return;
    json_out_key(j, "decoded");
    json_out_obj(j);
    json_out_key(j, "state");
    json_out_cstr(j, state_name(d.state));
    json_out_key(j, "bytes");
    json_out_u64(j, d.n);
    if (d.n && json_out_is_text(d.p, d.n)) {
        json_out_key(j, "content");
        json_out_str(j, d.p, d.n);
    } else if (d.n) {
        json_out_key(j, "base64");
        json_out_base64(j, d.p, d.n);
    }
    json_out_obj_end(j);
    serve_decoded_free(&d);
}

void serve_body_json(struct json_out *j, const struct audit_record *r)
{
    uint8_t h[crypto_hash_sha256_BYTES];
    char hex[2 * sizeof(h) + 1];
    crypto_hash_sha256(h, (const unsigned char *)r->body.p, r->body.n);
    sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
    char enc[64];
    content_encoding(r, enc, sizeof(enc));
    json_out_obj(j);
    json_out_key(j, "captured");
    json_out_u64(j, r->body.n);
    json_out_key(j, "length");
    json_out_u64(j, r->body_len);
    json_out_key(j, "truncated");
    json_out_bool(j, r->body.n < r->body_len);
    json_out_key(j, "sha256");
    json_out_cstr(j, hex);
    if (enc[0]) {
        json_out_key(j, "encoding");
        json_out_cstr(j, enc);
        write_decoded(j, enc, r);
    }
    json_out_obj_end(j);
}
