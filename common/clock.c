/* clock.c - clocks, duration and timestamp parsing. */
#include "clock.h"

#include <errno.h>
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
    if (!s || !*s)
        return -EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0 || v > 1e9)
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

int clock_parse_time(const char *s, uint64_t *ns)
{
    if (!s || !*s)
        return -EINVAL;
    char *end;
    errno = 0;
    double secs = strtod(s, &end);
    if (!errno && end != s && *end == '\0' && secs >= 0) {
        *ns = (uint64_t)(secs * 1e9);
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return -EINVAL;
    uint64_t frac = 0;
    if (*rest == '.') {
        uint64_t scale = NS_PER_SEC / 10;
        for (rest++; *rest >= '0' && *rest <= '9'; rest++) {
            frac += (uint64_t)(*rest - '0') * scale;
            scale /= 10;
        }
    }
    if (strcmp(rest, "Z") && strcmp(rest, "") && strcmp(rest, "+00:00"))
        return -EINVAL;
    time_t t = timegm(&tm);
    if (t < 0)
        return -EINVAL;
    *ns = (uint64_t)t * NS_PER_SEC + frac;
    return 0;
}
