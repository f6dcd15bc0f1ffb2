/* log.h - one-line diagnostics on stderr, tagged with the process's id.
 *
 * Stages run under a supervisor that merges their stderr, so every line
 * carries the stage id. Messages triggered by input bytes go through
 * log_limited() so a hostile peer cannot flood the log.
 */
#ifndef HARK_LOG_H
#define HARK_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Sets the tag printed on each line (copied) and the most verbose level. */
void log_init(const char *tag, enum log_level level);
bool log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints at most once per second per call site; *last is the site's state.
 * Lines suppressed in between are counted and reported with the next one. */
struct log_limit {
    uint64_t last_ns;
    uint64_t suppressed;
};
void log_limited(struct log_limit *site, enum log_level level,
                 const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) \
    do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
