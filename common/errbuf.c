/* errbuf.c - error text for a caller-supplied buffer. */
#include "errbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void errbuf_set(char *err, size_t len, const char *fmt, ...)
{
    if (!err || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

void errbuf_vappend(char *err, size_t len, const char *fmt, va_list ap)
{
    if (!err || !len)
        return;
    size_t used = strnlen(err, len - 1);
    vsnprintf(err + used, len - used, fmt, ap);
}
