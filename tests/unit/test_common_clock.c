/* test_common_clock.c - times and durations as users type them.
 *
 * `hark query --since/--until` and `hark export` take these from the
 * command line: every form a user may mean is read exactly, and every
 * other one (an impossible date, a time past 64 bits of ns, what strtod
 * would have taken: exponents, hex, inf, nan, signs, spaces) is refused
 * with a reason, never read as something else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock.h"

#include <errno.h>
#include <string.h>

#define S NS_PER_SEC

struct time_case {
    const char *in;
    int rc;             /* 0, -EINVAL or -ERANGE */
    uint64_t ns;        /* when rc is 0 */
    const char *why;    /* a fragment of the reason, when rc is not 0 */
};

#define FORM "not a time (expected RFC 3339"
#define DATE "no such date"
#define TOD "no such time of day"
#define RANGE "out of range (expected a time from 1970-01-01T00:00:00Z"

static const struct time_case times[] = {
    { "0", 0, 0, NULL },
    { "1795670978", 0, 1795670978 * S, NULL },
    { "1795670978.5", 0, 1795670978 * S + 500000000, NULL },
    { "1.123456789999", 0, S + 123456789, NULL },
    { "18446744073.709551615", 0, UINT64_MAX, NULL },
    { "2026-11-26T05:29:38Z", 0, 1795670978 * S, NULL },
    { "2026-11-26t05:29:38z", 0, 1795670978 * S, NULL },
    { "2026-11-26 05:29:38", 0, 1795670978 * S, NULL },
    { "2026-11-26T05:29:38.25Z", 0, 1795670978 * S + 250000000, NULL },
    { "2026-11-26T06:29:38+01:00", 0, 1795670978 * S, NULL },
    { "2026-11-26T00:29:38-05:00", 0, 1795670978 * S, NULL },
    { "2026-11-26", 0, 1795651200 * S, NULL },
    { "1970-01-01T00:00:00Z", 0, 0, NULL },
    { "2024-02-29T00:00:00Z", 0, 1709164800 * S, NULL },
    { "2000-02-29", 0, 951782400 * S, NULL },
    { "2016-12-31T23:59:60Z", 0, 1483228800 * S, NULL }, /* leap second */
    { "2554-07-21T23:34:33.709551615Z", 0, UINT64_MAX, NULL },
    /* the two */
    { "1e30", -EINVAL, 0, FORM },
    { "2026-02-30", -EINVAL, 0, DATE },
    /* what strtod and strptime let through */
    { "2026-02-30T00:00:00Z", -EINVAL, 0, DATE },
    { "2026-02-29", -EINVAL, 0, DATE },
    { "1900-02-29", -EINVAL, 0, DATE },
    { "2026-04-31", -EINVAL, 0, DATE },
    { "2026-13-01", -EINVAL, 0, DATE },
    { "2026-00-10", -EINVAL, 0, DATE },
    { "2026-01-00", -EINVAL, 0, DATE },
    { "2026-02-28T24:00:00Z", -EINVAL, 0, TOD },
    { "2026-02-28T23:60:00Z", -EINVAL, 0, TOD },
    { "2026-02-28T23:59:61Z", -EINVAL, 0, TOD },
    { "2026-02-28T23:59:59+24:00", -EINVAL, 0, TOD },
    { "1e3", -EINVAL, 0, FORM },
    { "0x10", -EINVAL, 0, FORM },
    { "inf", -EINVAL, 0, FORM },
    { "nan", -EINVAL, 0, FORM },
    { "-5", -EINVAL, 0, FORM },
    { "+5", -EINVAL, 0, FORM },
    { " 5", -EINVAL, 0, FORM },
    { "5 ", -EINVAL, 0, FORM },
    { "5.", -EINVAL, 0, FORM },
    { ".5", -EINVAL, 0, FORM },
    { "", -EINVAL, 0, FORM },
    { "yesterday", -EINVAL, 0, FORM },
    { "2026-11-26T05:29Z", -EINVAL, 0, FORM },
    { "2026-11-26T05:29:38.Z", -EINVAL, 0, FORM },
    { "2026-11-26T05:29:38+0100", -EINVAL, 0, FORM },
    { "2026-11-26T05:29:38Zjunk", -EINVAL, 0, FORM },
    { "26-11-26", -EINVAL, 0, FORM },
    { "20261-11-26", -EINVAL, 0, FORM },
    /* past what 64 bits of ns hold, or before the epoch */
    { "18446744073.709551616", -ERANGE, 0, RANGE },
    { "18446744074", -ERANGE, 0, RANGE },
    { "99999999999999999999999999", -ERANGE, 0, RANGE },
    { "2554-07-21T23:34:34Z", -ERANGE, 0, RANGE },
    { "9999-12-31", -ERANGE, 0, RANGE },
    { "1969-12-31T23:59:59Z", -ERANGE, 0, RANGE },
    { "1970-01-01T00:00:00+00:01", -ERANGE, 0, RANGE },
};

static void test_parse_time(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        const struct time_case *c = &times[i];
        uint64_t ns = 12345;
        const char *why = NULL;
        int rc = clock_parse_time(c->in, &ns, &why);
        if (rc != c->rc)
            fail_msg("'%s': rc %d, want %d (%s)", c->in, rc, c->rc,
                     why ? why : "");
        if (rc == 0 && ns != c->ns)
            fail_msg("'%s': %llu ns, want %llu", c->in,
                     (unsigned long long)ns, (unsigned long long)c->ns);
        if (rc != 0 && (!why || !strstr(why, c->why)))
            fail_msg("'%s': reason '%s', want '%s...'", c->in,
                     why ? why : "(none)", c->why);
        if (rc != 0 && ns != 12345)
            fail_msg("'%s': refused but wrote %llu", c->in,
                     (unsigned long long)ns);
    }
    uint64_t ns;
    assert_int_equal(clock_parse_time("x", &ns, NULL), -EINVAL);
    assert_int_equal(clock_parse_time(NULL, &ns, NULL), -EINVAL);
}

/* What is printed reads back as the same time (to the microsecond). */
static void test_round_trip(void **state)
{
    (void)state;
    static const uint64_t t[] = { 0, 1764134978123456000ull,
                                  951782400 * S, 4102444799 * S };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char buf[40];
        uint64_t ns;
        clock_format_rfc3339(t[i], buf, sizeof(buf));
        assert_int_equal(clock_parse_time(buf, &ns, NULL), 0);
        assert_int_equal(ns, t[i]);
    }
}

static void test_parse_duration(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc;
        uint64_t ns;
    } t[] = {
        { "250ms", 0, 250000000 },
        { "30s", 0, 30 * S },
        { "30", 0, 30 * S },
        { "5m", 0, 300 * S },
        { "1h", 0, 3600 * S },
        { "1.5s", 0, 1500000000 },
        { "10us", 0, 10000 },
        { "5000000h", 0, 5000000ull * 3600 * S },
        { "1000000000h", -ERANGE, 0 }, /* 3.6e21 ns */
        { "nan", -EINVAL, 0 },
        { "nans", -EINVAL, 0 },
        { "inf", -EINVAL, 0 },
        { "-1s", -EINVAL, 0 },
        { "+1s", -EINVAL, 0 },
        { " 1s", -EINVAL, 0 },
        { "1e10h", -EINVAL, 0 },
        { "1d", -EINVAL, 0 },
        { "", -EINVAL, 0 },
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        uint64_t ns = 0;
        int rc = clock_parse_duration(t[i].in, &ns);
        if (rc != t[i].rc || (rc == 0 && ns != t[i].ns))
            fail_msg("'%s': rc %d ns %llu, want rc %d ns %llu", t[i].in, rc,
                     (unsigned long long)ns, t[i].rc,
                     (unsigned long long)t[i].ns);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_parse_duration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
