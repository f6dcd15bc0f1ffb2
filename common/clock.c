/* clock.c - clocks, duration and timestamp parsing. */
#include "clock.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t clock_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

int clock_parse_duration(const char *s, uint64_t *ns)
{
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return -EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    /* "nan" passes every comparison below; refuse it first */
    if (errno || end == s || v != v || v < 0 || v > 1e9)
        return -EINVAL;
    double mult;
    if (!strcmp(end, "") || !strcmp(end, "s"))
        mult = 1e9;
    else if (!strcmp(end, "ms"))
        mult = 1e6;
    else if (!strcmp(end, "us"))
        mult = 1e3;
    else if (!strcmp(end, "m"))
        mult = 60e9;
    else if (!strcmp(end, "h"))
        mult = 3600e9;
    else
        return -EINVAL;
    /* 1e9 h does not fit: converting it would be undefined */
    if (v * mult >= 18446744073709549568.0)
        return -ERANGE;
    *ns = (uint64_t)(v * mult);
    return 0;
}

char *clock_format_rfc3339(uint64_t ns, char *buf, size_t size)
{
    time_t sec = (time_t)(ns / NS_PER_SEC);
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (unsigned)(ns % NS_PER_SEC / 1000));
    return buf;
}

/* The last second a uint64_t of ns since the epoch holds:
 * 2554-07-21T23:34:33.709551615Z. */
#define MAX_SECS (UINT64_MAX / NS_PER_SEC)

static const char *const why_form = "not a time (expected RFC 3339 such as "
    "2026-11-26T05:29:38Z or 2026-11-26, or seconds since the epoch)";
static const char *const why_range = "out of range (expected a time from "
    "1970-01-01T00:00:00Z to 2554-07-21T23:34:33Z)";

/* n decimal digits at *p into *v; advances *p. */
static bool digits(const char **p, int n, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return false;
        *v = *v * 10 + (unsigned)(**p - '0');
    }
    return true;
}

/* The digits after '.': the first 9 are ns, more are read and dropped. */
static bool fraction(const char **p, uint64_t *ns)
{
    uint64_t scale = NS_PER_SEC / 10;
    const char *start = *p;
    *ns = 0;
    for (; **p >= '0' && **p <= '9'; (*p)++) {
        *ns += (uint64_t)(**p - '0') * scale;
        scale /= 10;
    }
    return *p > start;
}

/* Seconds since the epoch: digits, an optional fraction, nothing else
 * (strtod would take "1e30", "0x10", "inf" and leading spaces). */
static int parse_epoch(const char *s, uint64_t *ns, const char **why)
{
    uint64_t secs = 0, frac = 0;
    const char *p = s;
    bool over = false;
    for (; *p >= '0' && *p <= '9'; p++) {
        secs = secs * 10 + (uint64_t)(*p - '0');
        over |= secs > MAX_SECS;
    }
    if (p == s)
        return *why = why_form, -EINVAL;
    if (*p == '.' && (++p, !fraction(&p, &frac)))
        return *why = why_form, -EINVAL;
    if (*p)
        return *why = why_form, -EINVAL;
    if (over || (secs == MAX_SECS && frac > UINT64_MAX % NS_PER_SEC))
        return *why = why_range, -ERANGE;
    *ns = secs * NS_PER_SEC + frac;
    return 0;
}

static bool leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(unsigned y, unsigned m)
{
    static const unsigned days[12] = { 31, 28, 31, 30, 31, 30,
                                       31, 31, 30, 31, 30, 31 };
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d (y >= 1970). */
static uint64_t days_since_epoch(unsigned y, unsigned m, unsigned d)
{
    uint64_t days = 0;
    for (unsigned k = 1970; k < y; k++)
        days += leap(k) ? 366 : 365;
    for (unsigned k = 1; k < m; k++)
        days += month_days(y, k);
    return days + d - 1;
}

/* RFC 3339 ("2026-11-26T05:29:38.5+01:00"; "t", "z" or a space too), a
 * bare date (midnight UTC), or a date and time without an offset (UTC).
 * Every field is checked against the calendar: no February 30th. */
static int parse_rfc3339(const char *s, uint64_t *ns, const char **why)
{
    const char *p = s;
    unsigned y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0;
    uint64_t frac = 0;
    int sign = 0;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) ||
        *p++ != '-' || !digits(&p, 2, &d))
        return *why = why_form, -EINVAL;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) ||
            *p++ != ':' || !digits(&p, 2, &sec))
            return *why = why_form, -EINVAL;
        if (*p == '.' && (++p, !fraction(&p, &frac)))
            return *why = why_form, -EINVAL;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            sign = *p++ == '+' ? 1 : -1;
            if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om))
                return *why = why_form, -EINVAL;
        }
    }
    if (*p)
        return *why = why_form, -EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo))
        return *why = "no such date (expected a day that exists in its "
                      "month and year)", -EINVAL;
    /* 60 is a leap second; it reads as the next second */
    if (h > 23 || mi > 59 || sec > 60 || oh > 23 || om > 59)
        return *why = "no such time of day (expected hours 00-23, minutes "
                      "00-59, seconds 00-60, offset up to 23:59)", -EINVAL;
    if (y < 1970 || y > 2554)
        return *why = why_range, -ERANGE;
    int64_t t = (int64_t)days_since_epoch(y, mo, d) * 86400 +
                (int64_t)h * 3600 + mi * 60 + sec -
                sign * ((int64_t)oh * 3600 + om * 60);
    if (t < 0 || (uint64_t)t > MAX_SECS ||
        ((uint64_t)t == MAX_SECS && frac > UINT64_MAX % NS_PER_SEC))
        return *why = why_range, -ERANGE;
    *ns = (uint64_t)t * NS_PER_SEC + frac;
    return 0;
}

int clock_parse_time(const char *s, uint64_t *ns, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    if (!s || !*s)
        return *why = why_form, -EINVAL;
    size_t n = strspn(s, "0123456789");
    if (s[n] == '-' && n == 4)
        return parse_rfc3339(s, ns, why);
    return parse_epoch(s, ns, why);
}
