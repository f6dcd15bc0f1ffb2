/* test_hark_json_out.c - the JSON writer: escaping, commas, growth.
 *
 * Expected outputs are written out in full: a change of escaping must
 * show up here as a diff.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "json_out.h"

#include <stdio.h>
#include <string.h>

static void test_escape(void **state)
{
    static const struct {
        const char *in;
        size_t n;
        const char *want;
        const char *label;
    } cases[] = {
        { "plain", 5, "\"plain\"", "ascii" },
        { "a\"b\\c", 5, "\"a\\\"b\\\\c\"", "quote and backslash" },
        { "\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"", "short escapes" },
        { "\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\"", "control, DEL" },
        { "a\0b", 3, "\"a\\u0000b\"", "NUL" },
        { "caf\xc3\xa9", 5, "\"caf\xc3\xa9\"", "valid 2-byte UTF-8" },
        { "\xe2\x82\xac\xf0\x9f\x98\x80", 7, "\"\xe2\x82\xac\xf0\x9f\x98\x80\"",
          "valid 3- and 4-byte UTF-8" },
        { "a\xff" "b", 3, "\"a\\ufffdb\"", "invalid byte" },
        { "\xc3", 1, "\"\\ufffd\"", "truncated sequence at the end" },
        { "\xc3(", 2, "\"\\ufffd(\"", "bad continuation" },
        { "\xc0\xaf", 2, "\"\\ufffd\\ufffd\"", "overlong slash" },
        { "\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"", "surrogate" },
        { "\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"",
          "past U+10FFFF" },
    };
    struct json_out j;
    json_out_init(&j);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_out_reset(&j);
        json_out_str(&j, cases[i].in, cases[i].n);
        if (strcmp(j.p, cases[i].want))
            fail_msg("%s: got %s want %s", cases[i].label, j.p,
                     cases[i].want);
    }
    json_out_free(&j);
}

static void test_is_text(void **state)
{
    /* A body with NUL is not text even if it is valid UTF-8. */
    assert_false(json_out_is_text("a\0b", 3));
    assert_true(json_out_is_text("caf\xc3\xa9", 5));
    assert_false(json_out_is_text("\xc3", 1));
    assert_true(json_out_is_text("", 0));
}

static void test_writer_commas(void **state)
{
    struct json_out j;
    json_out_init(&j);
    json_out_obj(&j);
    json_out_key(&j, "a");
    json_out_arr(&j);
    json_out_u64(&j, 1);
    json_out_i64(&j, -2);
    json_out_obj(&j);
    json_out_obj_end(&j);
    json_out_arr(&j);
    json_out_arr_end(&j);
    json_out_bool(&j, true);
    json_out_arr_end(&j);
    json_out_key(&j, "t");
    json_out_ms(&j, 1234567);
    json_out_key(&j, "b64");
    json_out_base64(&j, "hello", 5);
    json_out_obj_end(&j);
    assert_string_equal(j.p, "{\"a\":[1,-2,{},[],true],\"t\":1.234,"
                             "\"b64\":\"aGVsbG8=\"}");
    /* grows past the first allocation */
    json_out_reset(&j);
    char big[5000];
    memset(big, 'x', sizeof(big));
    json_out_str(&j, big, sizeof(big));
    assert_int_equal(j.len, sizeof(big) + 2);
    assert_false(j.failed);
    json_out_free(&j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_is_text),
        cmocka_unit_test(test_writer_commas),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
