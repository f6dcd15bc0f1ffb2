/* test_hark_serve_tally.c - the counts behind the charts: names counted
 * and ranked, percentiles by nearest rank, and the rate chart's bucket
 * widths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "serve_charts.h"
#include "serve_tally.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static void test_top(void **state)
{
    assert_true(sodium_init() >= 0);
    serve_tally_t *t = serve_tally_new(false);
    assert_non_null(t);
    /* b x3 (1 error), a x3, c x1, and 5000 names once each */
    const char *names[] = { "b", "a", "b", "c", "a", "b", "a" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        assert_int_equal(serve_tally_add(t, bytes_of(names[i]),
                                         i == 2, 0), 0);
    char buf[32];
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(buf, sizeof(buf), "/p/%d", i);
        assert_int_equal(serve_tally_add(t, (struct bytes){ buf,
                                             (uint32_t)n }, false, 0), 0);
    }
    assert_int_equal(serve_tally_names(t), 5003);
    struct serve_tally_entry **e;
    size_t n = serve_tally_top(t, 3, &e);
    assert_int_equal(n, 3);
    /* most first, ties by name */
    assert_true(bytes_eq(e[0]->name, "a"));
    assert_int_equal(e[0]->count, 3);
    assert_int_equal(e[0]->errors, 0);
    assert_true(bytes_eq(e[1]->name, "b"));
    assert_int_equal(e[1]->count, 3);
    assert_int_equal(e[1]->errors, 1);
    assert_true(bytes_eq(e[2]->name, "/p/0")); /* "/" sorts before "c" */
    serve_tally_destroy(&t);
    serve_tally_destroy(&t); /* safe twice */
}

static void test_long_names(void **state)
{
    serve_tally_t *t = serve_tally_new(false);
    char a[SERVE_TALLY_NAME_MAX + 50], b[SERVE_TALLY_NAME_MAX + 80];
    memset(a, 'x', sizeof(a));
    memset(b, 'x', sizeof(b));
    /* names that differ only past the cap are one name */
    assert_int_equal(serve_tally_add(t, (struct bytes){ a, sizeof(a) },
                                     false, 0), 0);
    assert_int_equal(serve_tally_add(t, (struct bytes){ b, sizeof(b) },
                                     false, 0), 0);
    struct serve_tally_entry **e;
    assert_int_equal(serve_tally_top(t, 10, &e), 1);
    assert_int_equal(e[0]->count, 2);
    assert_int_equal(e[0]->name.n, SERVE_TALLY_NAME_MAX);
    serve_tally_destroy(&t);
}

static void test_percentiles(void **state)
{
    serve_tally_t *t = serve_tally_new(true);
    /* 1..100 added backwards: the values come out sorted */
    for (uint64_t v = 100; v >= 1; v--)
        assert_int_equal(serve_tally_add(t, BYTES_LIT("/r"), false, v), 0);
    struct serve_tally_entry **e;
    assert_int_equal(serve_tally_top(t, 1, &e), 1);
    assert_int_equal(e[0]->n_values, 100);
    assert_int_equal(serve_tally_percentile(e[0]->values, 100, 50), 50);
    assert_int_equal(serve_tally_percentile(e[0]->values, 100, 90), 90);
    assert_int_equal(serve_tally_percentile(e[0]->values, 100, 99), 99);
    assert_int_equal(serve_tally_percentile(e[0]->values, 100, 100), 100);
    /* nearest rank on few values: p99 of 3 is the largest */
    static const uint64_t three[] = { 10, 20, 30 };
    assert_int_equal(serve_tally_percentile(three, 3, 50), 20);
    assert_int_equal(serve_tally_percentile(three, 3, 99), 30);
    assert_int_equal(serve_tally_percentile(three, 1, 99), 10);
    assert_int_equal(serve_tally_percentile(three, 0, 50), 0);
    serve_tally_destroy(&t);
}

static void test_buckets(void **state)
{
    static const uint64_t ms = 1000000ull, s = 1000 * ms;
    static const struct {
        uint64_t span, width;
    } cases[] = {
        { 0, ms },
        { 100 * ms, ms },
        { 119 * ms, ms },
        { 120 * ms, 2 * ms },
        { 10 * s, 100 * ms },
        { 60 * s, 1 * s },
        { 3600 * s, 1 * 60 * s },
        { 86400 * s, 15 * 60 * s },
        { 400ull * 86400 * s, 7ull * 86400 * s },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t w = serve_chart_bucket_ns(cases[i].span);
        if (w != cases[i].width)
            fail_msg("span %llu: width %llu, want %llu",
                     (unsigned long long)cases[i].span,
                     (unsigned long long)w,
                     (unsigned long long)cases[i].width);
    }
    /* any span, up to the largest: at most the promised buckets */
    for (uint64_t span = 1; span < UINT64_MAX / 3; span = span * 3 + 7)
        assert_true(span / serve_chart_bucket_ns(span) <
                    SERVE_RATE_BUCKETS_MAX);
    assert_true(UINT64_MAX / serve_chart_bucket_ns(UINT64_MAX) <
                SERVE_RATE_BUCKETS_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_top),
        cmocka_unit_test(test_long_names),
        cmocka_unit_test(test_percentiles),
        cmocka_unit_test(test_buckets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
