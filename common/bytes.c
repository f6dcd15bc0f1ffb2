/* bytes.c - borrowed byte strings. */
#include "bytes.h"

#include <string.h>
#include <strings.h>

struct bytes bytes_of(const char *s)
{
    struct bytes b = { s, s ? (uint32_t)strlen(s) : 0 };
    return b;
}

bool bytes_eq(struct bytes a, const char *s)
{
    size_t n = strlen(s);
    return a.n == n && (n == 0 || memcmp(a.p, s, n) == 0);
}

bool bytes_case_eq(struct bytes a, const char *s)
{
    size_t n = strlen(s);
    return a.n == n && (n == 0 || strncasecmp(a.p, s, n) == 0);
}
