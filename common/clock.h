/* clock.h - monotonic and wall clocks in nanoseconds, and durations.
 *
 * Pipeline state expires on packet time (timestamps in frames) so a
 * replayed capture gives the same trail; these clocks drive only flush
 * timers, live idle expiry and progress reports.
 */
#ifndef HARK_CLOCK_H
#define HARK_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define NS_PER_SEC 1000000000ull
#define NS_PER_MS 1000000ull

uint64_t clock_mono_ns(void);
uint64_t clock_wall_ns(void);

/* Parses "250ms", "30s", "5m", "1h" or a bare number of seconds.
 * Returns 0 and sets *ns, -EINVAL, or -ERANGE past 2^64 ns. */
int clock_parse_duration(const char *s, uint64_t *ns);

/* Formats ns since the epoch as RFC 3339 UTC with microseconds
 * ("2026-11-26T05:29:38.123456Z") into buf; returns buf. */
char *clock_format_rfc3339(uint64_t ns, char *buf, size_t size);

/* Parses RFC 3339 ("2026-11-26T05:29:38Z"; fractional seconds and an
 * offset optional, UTC without one), a bare date ("2026-11-26", midnight
 * UTC) or seconds since the epoch ("1764134978.5": digits only, no
 * exponent, sign or space). The date must exist and the time fit in
 * 64 bits of ns (1970 to 2554). Returns 0, or -EINVAL / -ERANGE with
 * *why (if not NULL) saying what is wrong and what is expected. */
int clock_parse_time(const char *s, uint64_t *ns, const char **why);

#endif
