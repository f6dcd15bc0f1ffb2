/* fuzz_serve.c - libFuzzer target for what `hark serve` reads from a
 * browser or a script: the API's query parameters (hark/serve_params.c)
 * and the bodies it decodes for the page (hark/serve_body.c).
 *
 * Input: the first byte picks what the rest is.
 *   even: a query string, split at '&' and the first '=' of each part
 *         into at most 32 arguments, parsed for an endpoint that takes
 *         every parameter; a query that parses must hold values in
 *         range, and its filter is run on a record.
 *   odd:  a body under one of five Content-Encodings (byte / 2 % 5),
 *         decoded, and written as the page's JSON; the decoded bytes
 *         never pass the cap, and the JSON is whole.
 */
#include "serve_body.h"
#include "serve_params.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void query(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    struct serve_arg args[32];
    size_t n = 0;
    if (!buf)
        return;
    memcpy(buf, data, size);
    buf[size] = '\0';
    for (char *part = buf; part && n < 32; n++) {
        char *amp = strchr(part, '&');
        if (amp)
            *amp = '\0';
        char *eq = strchr(part, '=');
        if (eq)
            *eq = '\0';
        args[n].name = part;
        args[n].value = eq ? eq + 1 : NULL;
        part = amp ? amp + 1 : NULL;
    }
    struct serve_params p;
    char why[256];
    if (serve_params_parse(args, n, ~0u, &p, why, sizeof(why)) == 0) {
        if (p.since_ns >= p.until_ns || p.limit < 1 ||
            p.limit > SERVE_LIMIT_MAX || p.top < 1 || p.top > SERVE_TOP_MAX ||
            strlen(p.path) > SERVE_PATH_MAX ||
            ((p.given & SP_KEY) && p.key.n != 22 && p.key.n != 26))
            __builtin_trap();
        static const struct msg_header none[1];
        struct audit_record r = {
            .kind = RECORD_RESPONSE,
            .uid = BYTES_LIT("00000000000000aa"),
            .ts_ns = 1700000000000000000ull,
            .addr = { BYTES_LIT("10.0.0.1"), 1, BYTES_LIT("::1"), 80 },
            .method = BYTES_LIT("GET"),
            .uri = BYTES_LIT("http://h/a/b?c#d"),
            .status = 200,
            .outcome = BYTES_LIT("ok"),
            .headers = none,
        };
        serve_params_match(&p, &r);
    } else if (!why[0]) {
        __builtin_trap(); /* a refusal always says why */
    }
    free(buf);
}

static void body(uint8_t pick, const uint8_t *data, size_t size)
{
    static const char *const encodings[] = { "gzip", "deflate", "x-gzip",
                                             "br", "" };
    const char *enc = encodings[pick / 2 % 5];
    struct serve_decoded d;
    if (serve_body_decode(enc, data, size, &d) == 0) {
        if (d.n > SERVE_BODY_DECODED_MAX)
            __builtin_trap();
        serve_decoded_free(&d);
    }
    struct msg_header h[1] = {
        { BYTES_LIT("Content-Encoding"), { enc, (uint32_t)strlen(enc) } },
    };
    struct audit_record r = {
        .kind = RECORD_RESPONSE,
        .headers = h,
        .n_headers = 1,
        .body = { (const char *)data, (uint32_t)size },
        .body_len = size + pick,
    };
    struct json_out j;
    json_out_init(&j);
    serve_body_json(&j, &r);
    if (!j.failed && (!j.len || j.p[0] != '{' || j.p[j.len - 1] != '}'))
        __builtin_trap();
    json_out_free(&j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 20))
        return 0;
    if (data[0] % 2 == 0)
        query(data + 1, size - 1);
    else
        body(data[0], data + 1, size - 1);
    return 0;
}
