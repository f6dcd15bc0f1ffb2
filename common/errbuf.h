/* errbuf.h - error text for a caller-supplied buffer.
 *
 * Functions that can fail for reasons a user must read (a LevelDB error,
 * a bad config line) take `char *err, size_t errlen` and fill it with
 * errbuf_set(). The caller may pass NULL (or a length of 0) when it does
 * not want the text.
 */
#ifndef HARK_ERRBUF_H
#define HARK_ERRBUF_H

#include <stdarg.h>
#include <stddef.h>

/* printf into err[len], cut to fit and always NUL-terminated; does
 * nothing when err is NULL or len is 0. */
void errbuf_set(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends to what err holds, cut to fit: a message built in parts (file,
 * line and key first, then the reason). Nothing when err is full. */
void errbuf_vappend(char *err, size_t len, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
