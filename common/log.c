/* log.c - tagged stderr diagnostics with per-site rate limiting. */
#include "log.h"
#include "clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static char log_tag[48] = "hark";
static enum log_level log_max = LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_init(const char *tag, enum log_level level)
{
    snprintf(log_tag, sizeof(log_tag), "%s", tag ? tag : "hark");
    log_max = level;
}

bool log_enabled(enum log_level level)
{
    return level <= log_max;
}

__attribute__((format(printf, 3, 0)))
static void log_vline(enum log_level level, const char *suffix,
                      const char *fmt, va_list ap)
{
    char line[1024];
    int n = snprintf(line, sizeof(line), "%s: %s: ", log_tag,
                     level_names[level]);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    /* One write per line keeps lines of concurrent stages unbroken. */
    fprintf(stderr, "%s%s\n", line, suffix);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vline(level, "", fmt, ap);
    va_end(ap);
}

void log_limited(struct log_limit *site, enum log_level level,
                 const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    uint64_t now = clock_mono_ns();
    if (site->last_ns && now - site->last_ns < 1000000000ull) {
        site->suppressed++;
        return;
    }
    char suffix[64] = "";
    if (site->suppressed)
        snprintf(suffix, sizeof(suffix), " (%llu similar suppressed)",
                 (unsigned long long)site->suppressed);
    site->last_ns = now;
    site->suppressed = 0;
    va_list ap;
    va_start(ap, fmt);
    log_vline(level, suffix, fmt, ap);
    va_end(ap);
}
