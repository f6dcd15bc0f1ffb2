/* test_common_uid.c - connection ids as numbers, hex digits and FNV-1a.
 *
 * The numbers are visible (shard choice, trail keys), so FNV-1a is
 * checked against the published test vectors, and uid_value() against
 * what it promises for good and bad ids: the digits' value, or a stable
 * hash that keeps two bad ids apart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hash.h"
#include "hex.h"
#include "uid.h"

#include <string.h>

static void test_fnv_vectors(void **state)
{
    static const struct {
        const char *in;
        uint32_t h32;
        uint64_t h64;
    } cases[] = {
        { "", 0x811c9dc5u, 0xcbf29ce484222325ull },
        { "a", 0xe40c292cu, 0xaf63dc4c8601ec8cull },
        { "foobar", 0xbf9cf968u, 0x85944171f73967e8ull },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i].in);
        assert_int_equal(hash_fnv1a32(HASH_FNV32_INIT, cases[i].in, n),
                         cases[i].h32);
        assert_int_equal(hash_fnv1a64(HASH_FNV64_INIT, cases[i].in, n),
                         cases[i].h64);
    }
    /* Continuing from a state is hashing the concatenation. */
    assert_int_equal(hash_fnv1a64(hash_fnv1a64(HASH_FNV64_INIT, "foo", 3),
                                  "bar", 3),
                     0x85944171f73967e8ull);
}

static void test_hex(void **state)
{
    static const char digits[] = "0123456789abcdefABCDEF";
    for (size_t i = 0; i < sizeof(digits) - 1; i++)
        assert_int_equal(hex_digit(digits[i]), i < 16 ? (int)i
                                                       : (int)i - 6);
    assert_int_equal(hex_digit('g'), -1);
    assert_int_equal(hex_digit('/'), -1);
    assert_int_equal(hex_digit(':'), -1);
    assert_int_equal(hex_digit('@'), -1);
    assert_int_equal(hex_digit(0xe6), -1);
    uint64_t v = 7;
    assert_true(hex_u64("2F", 2, &v));
    assert_int_equal(v, 0x2f);
    assert_true(hex_u64("ffffffffffffffff", 16, &v));
    assert_int_equal(v, UINT64_MAX);
    v = 7;
    assert_false(hex_u64("", 0, &v));
    assert_false(hex_u64("10000000000000000", 17, &v));
    assert_false(hex_u64("1x", 2, &v));
    assert_int_equal(v, 7); /* untouched on failure */
}

static void test_uid_value(void **state)
{
    static const struct {
        const char *uid;
        uint64_t want;
        const char *label;
    } cases[] = {
        { "0123456789abcdef", 0x0123456789abcdefull, "the reassembler's" },
        { "0123456789ABCDEF", 0x0123456789abcdefull, "upper case" },
        { "0000000000000000", 0, "zero is a uid like any other" },
        /* Anything else: FNV-1a 64 of the bytes, not the digits. */
        { "abc", 0xe71fa2190541574bull, "too short" },
        { "0123456789abcdeg", 0x2e373813e5ad65caull, "a non-digit" },
        { "not-hex", 0x87da2d209bb8142aull, "not hex" },
        { "", 0xcbf29ce484222325ull, "empty" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (uid_value(bytes_of(cases[i].uid)) != cases[i].want)
            fail_msg("%s: %s", cases[i].label, cases[i].uid);
    /* Two bad ids stay apart (they used to share 0 in correlate). */
    assert_true(uid_value(bytes_of("bad-1")) != uid_value(bytes_of("bad-2")));
    /* A short hex id is not its digits' value, which a full one owns. */
    assert_true(uid_value(bytes_of("ab")) !=
                uid_value(bytes_of("00000000000000ab")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fnv_vectors),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_uid_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
