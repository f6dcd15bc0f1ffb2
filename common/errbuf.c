/* errbuf.c - one-line error messages into a buffer the caller owns. */
#include "errbuf.h"

#include <stdio.h>
#include <string.h>

void errbuf_set(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    err[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    errbuf_vappend(err, errlen, fmt, ap);
    va_end(ap);
}

void errbuf_append(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    errbuf_vappend(err, errlen, fmt, ap);
    va_end(ap);
}

void errbuf_vappend(char *err, size_t errlen, const char *fmt, va_list ap)
{
    if (!err || !errlen)
        return;
    size_t used = strnlen(err, errlen - 1);
    vsnprintf(err + used, errlen - used, fmt, ap);
}
