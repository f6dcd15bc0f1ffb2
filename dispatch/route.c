/* route.c - routing a request under every reading of its path.
 *
 * Each relative path is read once per reading when the router is built
 * (a route "/Admin" is "/admin" to the windows reading), so a request
 * costs one read of its path per reading and one pass over the table per
 * reading.
 */
#include "route.h"
#include "urlpath.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct entry {
    const struct config_group *group;
    const struct config_route *route;
    const struct config_policy *policy;
    char *path[URLPATH_READINGS];     /* the subtree as each reading has it */
    size_t len[URLPATH_READINGS];
    unsigned depth[URLPATH_READINGS];
};

struct router {
    struct config *owned;  /* router_new_owned's config, freed with it */
    struct entry *entries; /* config order */
    unsigned n;
    /* The request's path under one reading: room for any request line
     * the reassembler emits, so a long path is never cut (a cut
     * "/x...x/../a" would take the policy of "/x", not that of "/a"). */
    char *path;
    size_t path_size;
};

static void free_entries(router_t *r)
{
    for (unsigned i = 0; i < r->n; i++)
        for (unsigned k = 0; k < URLPATH_READINGS; k++)
            free(r->entries[i].path[k]);
    free(r->entries);
}

static int add_entry(router_t *r, const struct config *cfg,
                     const struct config_group *grp,
                     const struct config_route *rt)
{
    struct entry *e = &r->entries[r->n++];
    e->group = grp;
    e->route = rt;
    e->policy = &cfg->policies[rt->policy_index];
    size_t n = strlen(rt->path);
    for (unsigned k = 0; k < URLPATH_READINGS; k++) {
        if (!(e->path[k] = malloc(n + 2)))
            return -ENOMEM;
        size_t len = urlpath_read(k, rt->path, n, e->path[k], n + 2);
        e->len[k] = urlpath_subtree_len(e->path[k], len);
        e->depth[k] = urlpath_depth(e->path[k], e->len[k]);
    }
    return 0;
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
    bool ok = r->entries && r->path;
    for (unsigned g = 0; ok && g < cfg->n_groups; g++)
        for (unsigned i = 0; ok && i < cfg->groups[g].n_routes; i++)
            ok = add_entry(r, cfg, &cfg->groups[g],
                           &cfg->groups[g].routes[i]) == 0;
    if (!ok)
        router_destroy(&r);
    return r;
}

router_t *router_new_owned(struct config *cfg)
{
    router_t *r = router_new(cfg);
    if (r)
        r->owned = cfg;
    else
        config_destroy(&cfg);
    return r;
}

void router_destroy(router_t **r)
{
    if (!r || !*r)
        return;
    if ((*r)->entries)
        free_entries(*r);
    config_destroy(&(*r)->owned);
    free((*r)->path);
    free(*r);
    *r = NULL;
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

/* A relative path some reading picked, and how. */
struct candidate {
    const struct entry *e;
    unsigned depth;   /* its segments in the reading(s) that picked it */
    bool literal;     /* the rfc3986 reading picked it */
    unsigned votes;   /* readings that picked it */
};

/* > 0 when a is more specific than b: deeper, then naming a host, then
 * methods; then, between readings that disagree, not the literal pick
 * (the path as written is the decoy of a traversal, "/public/..;/admin"
 * is served from /admin), then the pick of more readings, then earlier
 * in the config. */
static int more_specific(const struct candidate *a,
                         const struct candidate *b)
{
    if (a->depth != b->depth)
        return a->depth > b->depth ? 1 : -1;
    int ah = a->e->route->host != NULL, bh = b->e->route->host != NULL;
    if (ah != bh)
        return ah - bh;
    int am = a->e->route->n_methods > 0, bm = b->e->route->n_methods > 0;
    if (am != bm)
        return am - bm;
    if (a->literal != b->literal)
        return a->literal ? -1 : 1;
    if (a->votes != b->votes)
        return a->votes > b->votes ? 1 : -1;
    return a->e < b->e ? 1 : a->e > b->e ? -1 : 0;
}

/* The most specific entry reading k of the path matches, or -1. */
static int best_for_reading(const router_t *r, unsigned k, const char *path,
                            size_t len, struct bytes method,
                            struct bytes host)
{
    int best = -1;
    struct candidate b = { 0 };
    for (unsigned i = 0; i < r->n; i++) {
        const struct entry *e = &r->entries[i];
        if (!urlpath_under(path, len, e->path[k], e->len[k]) ||
            (e->route->host && !host_matches(e->route->host, host)) ||
            !method_matches(e->route, method))
            continue;
        struct candidate c = { e, e->depth[k], false, 0 };
        if (best < 0 || more_specific(&c, &b) > 0) {
            best = (int)i;
            b = c;
        }
    }
    return best;
}

int router_match(const router_t *r, struct bytes method, struct bytes uri,
                 struct bytes host, struct route_match *m)
{
    int pick[URLPATH_READINGS];
    for (unsigned k = 0; k < URLPATH_READINGS; k++) {
        size_t len = urlpath_read(k, uri.p, uri.n, r->path, r->path_size);
        pick[k] = best_for_reading(r, k, r->path, len, method, host);
    }
    struct candidate win = { 0 };
    bool ambiguous = false;
    for (unsigned k = 0; k < URLPATH_READINGS; k++) {
        ambiguous |= pick[k] != pick[0];
        if (pick[k] < 0)
            continue;
        struct candidate c = { &r->entries[pick[k]], 0,
                               pick[k] == pick[URLPATH_RFC3986], 0 };
        for (unsigned j = 0; j < URLPATH_READINGS; j++)
            if (pick[j] == pick[k]) {
                c.votes++;
                if (c.e->depth[j] > c.depth)
                    c.depth = c.e->depth[j];
            }
        if (!win.e || more_specific(&c, &win) > 0)
            win = c;
    }
    if (!win.e)
        return -ENOENT;
    const struct entry *e = win.e;
    m->group = e->group;
    m->route = e->route;
    m->policy = e->policy;
    m->ambiguous = ambiguous;
    return 0;
}
