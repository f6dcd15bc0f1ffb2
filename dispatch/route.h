/* route.h - service groups and relative paths: which policy a request gets.
 *
 * The seed's model: a service group holds relative paths, each bound to a
 * policy; a request assembled for a path is dispatched to that policy.
 * The longest matching path wins; at equal length a route that also
 * names the host, then the methods, is more specific; then config order.
 * A relative path matches whole segments: "/a" takes "/a", "/a/b" and
 * "/a?x", not "/ab"; "/" takes everything.
 *
 * Paths are normalised before matching (percent-escapes of unreserved
 * characters decoded, "." and ".." segments resolved, repeated slashes
 * collapsed), so "/x/../a" or "/%61" cannot slip past the policy for "/a".
 */
#ifndef HARK_DISPATCH_ROUTE_H
#define HARK_DISPATCH_ROUTE_H

#include "config.h"
#include "frame.h"

#include <stddef.h>

/* Least room for a normalised path; a router makes room for the longest
 * request line of its config (reassemble.max_header_bytes). */
#define ROUTE_MAX_PATH 8192

struct route_match {
    const struct config_group *group;
    const struct config_route *route;
    const struct config_policy *policy;
};

typedef struct router router_t;

/* Builds the table from cfg, which must outlive the router. */
router_t *router_new(const struct config *cfg);
void router_destroy(router_t **r);

/* Returns 0 and fills *m, or -ENOENT when no relative path takes it.
 * Normalises into the router's own buffer: one caller at a time. */
int router_match(const router_t *r, struct bytes method, struct bytes uri,
                 struct bytes host, struct route_match *m);

/* The path part of a request target, normalised, into buf (NUL-ended).
 * Absolute-form targets ("http://h/p") give their path; "*" gives "*".
 * Returns the length. */
size_t route_normalize(struct bytes uri, char *buf, size_t size);

#endif
