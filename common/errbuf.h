/* errbuf.h - one-line error messages into a buffer the caller owns.
 *
 * Library code reports why it failed by writing into (char *err, size_t
 * errlen) and returning -errno. These write nothing when err is NULL or
 * errlen is 0, and always leave a NUL-terminated (possibly cut) string.
 */
#ifndef HARK_ERRBUF_H
#define HARK_ERRBUF_H

#include <stdarg.h>
#include <stddef.h>

/* Replaces what err holds with the formatted message. */
void errbuf_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends to what err holds: a message built from a prefix (file, line,
 * key) and a reason. Nothing more once the buffer is full. */
void errbuf_append(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void errbuf_vappend(char *err, size_t errlen, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
