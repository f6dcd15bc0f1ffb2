/* hex.h - hexadecimal digits, as HTTP chunk sizes, percent-escapes and
 * connection uids write them (either case). */
#ifndef HARK_HEX_H
#define HARK_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The value of hex digit c, or -1 when c is not one. */
static inline int hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The number written by the n hex digits at p (1 to 16 of them): true
 * and *out, or false (no digits, too many, or a non-digit). */
static inline bool hex_u64(const char *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 16)
        return false;
    for (size_t i = 0; i < n; i++) {
        int d = hex_digit((unsigned char)p[i]);
        if (d < 0)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return true;
}

#endif
