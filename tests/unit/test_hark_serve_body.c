/* test_hark_serve_body.c - what the page shows of a body: decoded when
 * it was sent compressed, with its digest and whether it is whole.
 *
 * The compressed inputs are made here with zlib: whole streams, streams
 * cut where a body limit would cut them, streams that are not valid, and
 * one that expands past the cap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "serve_body.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* text compressed with windowBits wbits (31 gzip, 15 zlib, -15 raw). */
static size_t squeeze(const void *text, size_t n, int wbits, uint8_t *out,
                      size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, wbits, 8,
                                  Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)text;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t len = cap - z.avail_out;
    deflateEnd(&z);
    return len;
}

static const char text[] =
    "{\"users\":[{\"id\":1,\"name\":\"ada\"},{\"id\":2,\"name\":\"grace\"},"
    "{\"id\":3,\"name\":\"edsger\"},{\"id\":4,\"name\":\"barbara\"}]}";

static void test_decode(void **state)
{
    static uint8_t buf[4096];
    static const struct {
        const char *encoding;
        int wbits;
        size_t cut;               /* bytes dropped from the end */
        enum serve_decode want;
    } cases[] = {
        { "gzip", 31, 0, SERVE_DECODE_WHOLE },
        { "x-gzip", 31, 0, SERVE_DECODE_WHOLE },
        { "GZIP", 31, 0, SERVE_DECODE_WHOLE },
        { "deflate", 15, 0, SERVE_DECODE_WHOLE },
        { "deflate", -15, 0, SERVE_DECODE_WHOLE }, /* raw, as some send */
        { "gzip", 31, 20, SERVE_DECODE_PREFIX },
        { "deflate", 15, 10, SERVE_DECODE_PREFIX },
        { "gzip", 15, 0, SERVE_DECODE_INVALID },  /* zlib bytes as gzip */
        { "br", 31, 0, SERVE_DECODE_NONE },
        { "gzip, br", 31, 0, SERVE_DECODE_NONE },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = squeeze(text, strlen(text), cases[i].wbits, buf,
                           sizeof(buf)) - cases[i].cut;
        struct serve_decoded d;
        assert_int_equal(serve_body_decode(cases[i].encoding, buf, n, &d),
                         0);
        if (d.state != cases[i].want)
            fail_msg("case %zu (%s): state %d, want %d", i,
                     cases[i].encoding, d.state, cases[i].want);
        if (d.state == SERVE_DECODE_WHOLE) {
            assert_int_equal(d.n, strlen(text));
            assert_memory_equal(d.p, text, d.n);
        } else if (d.state == SERVE_DECODE_PREFIX) {
            /* what came out is the beginning of the text */
            assert_true(d.n < strlen(text));
            assert_memory_equal(d.p, text, d.n);
        }
        serve_decoded_free(&d);
    }
    /* garbage, and nothing */
    struct serve_decoded d;
    assert_int_equal(serve_body_decode("gzip", "not gzip at all", 15, &d),
                     0);
    assert_int_equal(d.state, SERVE_DECODE_INVALID);
    serve_decoded_free(&d);
    assert_int_equal(serve_body_decode("gzip", "", 0, &d), 0);
    assert_int_equal(d.state, SERVE_DECODE_NONE);
}

static void test_cap(void **state)
{
    /* 16 MiB of zeros squeeze into a few KiB: decoding stops at the cap */
    size_t big = 16u << 20;
    uint8_t *zeros = calloc(1, big), *out = malloc(1u << 20);
    assert_non_null(zeros);
    assert_non_null(out);
    size_t n = squeeze(zeros, big, 31, out, 1u << 20);
    assert_true(n < 64 * 1024);
    struct serve_decoded d;
    assert_int_equal(serve_body_decode("gzip", out, n, &d), 0);
    assert_int_equal(d.state, SERVE_DECODE_CAPPED);
    assert_int_equal(d.n, SERVE_BODY_DECODED_MAX);
    serve_decoded_free(&d);
    free(zeros);
    free(out);
}

static void test_json(void **state)
{
    static uint8_t gz[4096];
    size_t n = squeeze(text, strlen(text), 31, gz, sizeof(gz));
    const struct msg_header hdrs[] = {
        { BYTES_LIT("Content-Type"), BYTES_LIT("application/json") },
        { BYTES_LIT("content-encoding"), BYTES_LIT(" gzip ") },
    };
    struct audit_record r = {
        .kind = RECORD_RESPONSE,
        .headers = hdrs,
        .n_headers = 2,
        .body = { (const char *)gz, (uint32_t)n },
        .body_len = n,
    };
    struct json_out j;
    json_out_init(&j);
    serve_body_json(&j, &r);
    assert_false(j.failed);
    assert_non_null(strstr(j.p, "\"truncated\":false"));
    assert_non_null(strstr(j.p, "\"encoding\":\"gzip\""));
    assert_non_null(strstr(j.p, "\"state\":\"whole\""));
    assert_non_null(strstr(j.p, "\\\"name\\\":\\\"edsger\\\""));

    /* a body the policy cut: a prefix, said so */
    json_out_reset(&j);
    r.body.n = (uint32_t)(n / 2);
    serve_body_json(&j, &r);
    assert_non_null(strstr(j.p, "\"truncated\":true"));
    assert_non_null(strstr(j.p, "\"state\":\"prefix\""));

    /* no encoding: no decoded part; the digest of the bytes */
    json_out_reset(&j);
    r.n_headers = 1;
    r.body = BYTES_LIT("abc");
    r.body_len = 3;
    serve_body_json(&j, &r);
    assert_null(strstr(j.p, "decoded"));
    assert_non_null(strstr(j.p, "\"sha256\":\"ba7816bf8f01cfea414140de5dae2"
                                "223b00361a396177a9cb410ff61f20015ad\""));
    json_out_free(&j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
