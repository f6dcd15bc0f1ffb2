/* urlsplit.c - a request target split the ECS way (urlsplit.h). */
#include "urlsplit.h"

#include <stdint.h>
#include <string.h>

static const char *find_any(const char *p, const char *end, const char *set)
{
    for (; p < end; p++)
        if (strchr(set, *p))
            return p;
    return end;
}

void urlsplit(struct bytes uri, struct url_parts *out)
{
    memset(out, 0, sizeof(*out));
    const char *p = uri.p ? uri.p : "", *end = p + uri.n;
    if (p == end)
        return;
    if (*p != '/' && *p != '*') {
        /* absolute form: skip scheme "://" authority */
        const char *sep = NULL;
        for (const char *q = p; q + 3 <= end; q++)
            if (q[0] == ':' && q[1] == '/' && q[2] == '/') {
                sep = q;
                break;
            }
        if (!sep)
            return; /* authority form (CONNECT host:port): no path */
        p = find_any(sep + 3, end, "/?#");
    }
    const char *q = find_any(p, end, "?#");
    out->path.p = p;
    out->path.n = (uint32_t)(q - p);
    if (q < end && *q == '?') {
        const char *f = find_any(q + 1, end, "#");
        out->has_query = true;
        out->query.p = q + 1;
        out->query.n = (uint32_t)(f - q - 1);
        q = f;
    }
    if (q < end && *q == '#') {
        out->has_fragment = true;
        out->fragment.p = q + 1;
        out->fragment.n = (uint32_t)(end - q - 1);
    }
}
