/* test_common_fpset.c - the trail's set of keys: what was added is
 * found, through growth and after a clear, and what was not is not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fpset.h"

#include <sodium.h>
#include <stdio.h>

/* A record key's shape: "t", then numbers. */
static size_t key_of(unsigned i, char *k, size_t size)
{
    return (size_t)snprintf(k, size, "t%020u", i);
}

static void test_add_has_clear(void **state)
{
    assert_true(sodium_init() >= 0);
    fpset_t *s = fpset_new();
    assert_non_null(s);
    char k[32];
    size_t n = key_of(1, k, sizeof(k));
    assert_false(fpset_has(s, k, n)); /* empty, before any memory */
    /* Well past the first table (1024 slots, half full). */
    for (unsigned i = 0; i < 5000; i += 2) {
        n = key_of(i, k, sizeof(k));
        assert_int_equal(fpset_add(s, k, n), 0);
        assert_int_equal(fpset_add(s, k, n), 0); /* twice is once */
    }
    for (unsigned i = 0; i < 5000; i++) {
        n = key_of(i, k, sizeof(k));
        if (fpset_has(s, k, n) != (i % 2 == 0))
            fail_msg("key %u: has %d", i, fpset_has(s, k, n));
    }
    /* A prefix of a key is another key. */
    n = key_of(0, k, sizeof(k));
    assert_false(fpset_has(s, k, n - 1));
    fpset_clear(s);
    for (unsigned i = 0; i < 5000; i += 2) {
        n = key_of(i, k, sizeof(k));
        assert_false(fpset_has(s, k, n));
    }
    n = key_of(3, k, sizeof(k));
    assert_int_equal(fpset_add(s, k, n), 0);
    assert_true(fpset_has(s, k, n));
    fpset_destroy(&s);
    assert_null(s);
    fpset_destroy(&s); /* twice is fine */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_has_clear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
