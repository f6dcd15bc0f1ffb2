/* route.h - service groups and relative paths: which policy a request gets.
 *
 * The seed's model: a service group holds relative paths, each bound to a
 * policy; a request assembled for a path is dispatched to that policy.
 * A relative path matches whole segments: "/a" takes "/a", "/a/b" and
 * "/a?x", not "/ab"; "/" takes everything.
 *
 * Servers read a path in more than one way ("/public/..%2Fadmin/x" is
 * /admin/x to nginx and Python, /public/... to a proxy that keeps "%2F";
 * "..;/" is ".." to Tomcat), so a request is matched under every reading
 * of urlpath.h, the relative paths too. Each reading picks its most
 * specific match (most segments, then a host, then methods, then config
 * order). Of those picks the most specific wins; at equal depth the pick
 * of the literal (rfc3986) reading loses to another reading's, as the
 * path as written is the decoy of a traversal, then the pick of more
 * readings wins. When the readings do not all pick the same relative
 * path the match is `ambiguous` and the request is flagged. docs/paths.md
 * has the readings and the servers that make them.
 */
#ifndef HARK_DISPATCH_ROUTE_H
#define HARK_DISPATCH_ROUTE_H

#include "config.h"
#include "frame.h"

#include <stdbool.h>
#include <stddef.h>

/* Least room for a normalised path; a router makes room for the longest
 * request line of its config (reassemble.max_header_bytes). */
#define ROUTE_MAX_PATH 8192

struct route_match {
    const struct config_group *group;
    const struct config_route *route;
    const struct config_policy *policy;
    bool ambiguous;   /* readings of the path route differently */
};

typedef struct router router_t;

/* Builds the table from cfg, which must outlive the router. */
router_t *router_new(const struct config *cfg);
/* The same, taking cfg (a config loaded on reload): freed with the
 * router, or at once when it cannot be built (NULL). */
router_t *router_new_owned(struct config *cfg);
void router_destroy(router_t **r);

/* Returns 0 and fills *m, or -ENOENT when no reading of the path finds a
 * relative path. Reads into the router's own buffer: one caller at a
 * time. */
int router_match(const router_t *r, struct bytes method, struct bytes uri,
                 struct bytes host, struct route_match *m);

#endif
