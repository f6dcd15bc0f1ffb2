/* route.c - longest-prefix routing of requests to policies. */
#include "route.h"
#include "hex.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct entry {
    const struct config_group *group;
    const struct config_route *route;
    const struct config_policy *policy;
    size_t path_len;
    unsigned order;
};

struct router {
    struct entry *entries; /* most specific first */
    unsigned n;
    /* Normalised path of the request being matched: room for any request
     * line the reassembler emits, so a long path is never cut (a cut
     * "/x...x/../a" would take the policy of "/x", not that of "/a"). */
    char *path;
    size_t path_size;
};

static int specificity(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->path_len != y->path_len)
        return x->path_len > y->path_len ? -1 : 1;
    int xh = x->route->host != NULL, yh = y->route->host != NULL;
    if (xh != yh)
        return yh - xh;
    int xm = x->route->n_methods > 0, ym = y->route->n_methods > 0;
    if (xm != ym)
        return ym - xm;
    return x->order < y->order ? -1 : x->order > y->order;
}

router_t *router_new(const struct config *cfg)
{
    router_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    unsigned total = 0;
    for (unsigned g = 0; g < cfg->n_groups; g++)
        total += cfg->groups[g].n_routes;
    r->entries = calloc(total ? total : 1, sizeof(*r->entries));
    r->path_size = (size_t)cfg->reassemble.max_header_bytes + 2;
    if (r->path_size < ROUTE_MAX_PATH)
        r->path_size = ROUTE_MAX_PATH;
    r->path = malloc(r->path_size);
    if (!r->entries || !r->path) {
        free(r->entries);
        free(r->path);
        free(r);
        return NULL;
    }
    for (unsigned g = 0; g < cfg->n_groups; g++) {
        const struct config_group *grp = &cfg->groups[g];
        for (unsigned i = 0; i < grp->n_routes; i++) {
            const struct config_route *rt = &grp->routes[i];
            struct entry *e = &r->entries[r->n];
            e->group = grp;
            e->route = rt;
            e->policy = &cfg->policies[rt->policy_index];
            /* "/a/" and "/a" mean the same subtree. */
            e->path_len = strlen(rt->path);
            while (e->path_len > 1 && rt->path[e->path_len - 1] == '/')
                e->path_len--;
            e->order = r->n++;
        }
    }
    qsort(r->entries, r->n, sizeof(*r->entries), specificity);
    return r;
}

void router_destroy(router_t **r)
{
    if (!r || !*r)
        return;
    free((*r)->entries);
    free((*r)->path);
    free(*r);
    *r = NULL;
}

static bool unreserved(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

/* Removes the last segment written to buf[0..*len). */
static void pop_segment(char *buf, size_t *len)
{
    while (*len > 1 && buf[*len - 1] != '/')
        (*len)--;
    if (*len > 1)
        (*len)--; /* the slash before it */
    while (*len > 1 && buf[*len - 1] != '/')
        (*len)--;
}

size_t route_normalize(struct bytes uri, char *buf, size_t size)
{
    const char *p = uri.p, *end = uri.p + uri.n;
    if (size < 2) {
        if (size)
            buf[0] = '\0';
        return 0;
    }
    if (uri.n == 1 && p[0] == '*') {
        buf[0] = '*';
        buf[1] = '\0';
        return 1;
    }
    /* Absolute form: skip "scheme://authority". */
    const char *scheme_end = memchr(p, ':', uri.n);
    if (scheme_end && end - scheme_end >= 3 && scheme_end[1] == '/' &&
        scheme_end[2] == '/' && memchr(p, '/', (size_t)(scheme_end - p)) ==
                                    NULL) {
        p = scheme_end + 3;
        while (p < end && *p != '/' && *p != '?' && *p != '#')
            p++;
    }
    size_t len = 0;
    buf[len++] = '/';
    /* seg_start: where the segment being written begins in buf */
    size_t seg_start = len;
    while (p < end && *p != '?' && *p != '#') {
        int c = (unsigned char)*p++;
        uint64_t d;
        if (c == '%' && end - p >= 2 && hex_u64(p, 2, &d) &&
            unreserved((int)d)) {
            c = (int)d;
            p += 2;
        }
        if (c == '/') {
            size_t seg = len - seg_start;
            if (seg == 0) {
                continue; /* "//" */
            } else if (seg == 1 && buf[seg_start] == '.') {
                len = seg_start; /* "/./" */
                continue;
            } else if (seg == 2 && buf[seg_start] == '.' &&
                       buf[seg_start + 1] == '.') {
                len = seg_start;
                pop_segment(buf, &len);
                seg_start = len;
                continue;
            }
            if (len + 1 >= size)
                break;
            buf[len++] = '/';
            seg_start = len;
            continue;
        }
        if (len + 1 >= size)
            break;
        buf[len++] = (char)c;
    }
    /* A trailing "." or ".." segment. */
    size_t seg = len - seg_start;
    if (seg == 1 && buf[seg_start] == '.') {
        len = seg_start;
    } else if (seg == 2 && buf[seg_start] == '.' &&
               buf[seg_start + 1] == '.') {
        len = seg_start;
        pop_segment(buf, &len);
    }
    if (len == 0)
        buf[len++] = '/';
    buf[len] = '\0';
    return len;
}

static bool host_matches(const char *want, struct bytes host)
{
    /* The Host header may carry a port; the route names the host. */
    size_t n = host.n;
    for (size_t i = n; i > 0; i--) {
        if (host.p[i - 1] == ':') {
            n = i - 1;
            break;
        }
        if (host.p[i - 1] == ']')
            break;
    }
    return strlen(want) == n && strncasecmp(want, host.p, n) == 0;
}

static bool method_matches(const struct config_route *rt, struct bytes m)
{
    if (rt->n_methods == 0)
        return true;
    for (unsigned i = 0; i < rt->n_methods; i++)
        if (bytes_eq(m, rt->methods[i]))
            return true;
    return false;
}

static bool path_matches(const struct entry *e, const char *path,
                         size_t len)
{
    if (e->path_len == 1 && e->route->path[0] == '/')
        return true;
    if (len < e->path_len || memcmp(path, e->route->path, e->path_len) != 0)
        return false;
    return len == e->path_len || path[e->path_len] == '/';
}

int router_match(const router_t *r, struct bytes method, struct bytes uri,
                 struct bytes host, struct route_match *m)
{
    char *path = r->path;
    size_t len = route_normalize(uri, path, r->path_size);
    for (unsigned i = 0; i < r->n; i++) {
        const struct entry *e = &r->entries[i];
        if (!path_matches(e, path, len))
            continue;
        if (e->route->host && !host_matches(e->route->host, host))
            continue;
        if (!method_matches(e->route, method))
            continue;
        m->group = e->group;
        m->route = e->route;
        m->policy = e->policy;
        return 0;
    }
    return -ENOENT;
}
