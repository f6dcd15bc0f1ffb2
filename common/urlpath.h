/* urlpath.h - what servers make of a request's path: a few readings.
 *
 * A relative path is a policy for a subtree, so a request must be routed
 * by the path a server will serve, and servers disagree about it:
 * nginx and Python's http.server decode "%2F" into a separator, Tomcat
 * drops ";params" from each segment ("..;/" is ".."), IIS takes "\" as a
 * separator and ignores case, a proxy chain decodes twice. Each reading
 * below is one principled way a real server reads a path (docs/paths.md
 * names the servers); the router matches every reading and flags a
 * request whose readings route differently.
 *
 * Every reading returns a path that starts with "/", has no "." or ".."
 * segments and no empty segments (a trailing "/" is kept when the path
 * ends in "/", "/." or "/.."), so "the path is under /a" is a prefix test
 * on whole segments. A decoded reading may hold any byte, NUL included:
 * results are (pointer, length), NUL-terminated only for convenience.
 */
#ifndef HARK_URLPATH_H
#define HARK_URLPATH_H

#include <stdbool.h>
#include <stddef.h>

enum urlpath_reading {
    URLPATH_RFC3986,  /* unreserved escapes decoded, dots resolved per
                         RFC 3986 (empty segments count for ".."); the
                         reading of a conforming proxy, WHATWG URL */
    URLPATH_DECODED,  /* every escape decoded once ("%2F" separates),
                         "//" merged, dots resolved: nginx, Python's
                         http.server, Apache's file mapping, Go */
    URLPATH_CSTRING,  /* decoded, then cut at the first NUL, as a path
                         handed to open() as a C string is */
    URLPATH_SERVLET,  /* ";params" dropped from each raw segment, then
                         decoded: Tomcat, Jetty, Undertow, Spring */
    URLPATH_WINDOWS,  /* decoded ("%uXXXX" too), overlong UTF-8 read as
                         ASCII, "\" separates, case folded, trailing dots
                         and spaces of a segment dropped: IIS, Windows */
    URLPATH_DOUBLE,   /* decoded twice, "\" separates: proxy chains that
                         forward the decoded path, IIS's double decode */
    URLPATH_READINGS
};

/* Short name of a reading, for messages and docs ("servlet"). */
const char *urlpath_reading_name(enum urlpath_reading r);
/* Who reads paths this way, for messages ("Tomcat, Jetty, Spring"). */
const char *urlpath_reading_servers(enum urlpath_reading r);

/* The path of request target t[0..n) as reading r makes it, into buf
 * (size >= 2). Origin form ("/p?q"), absolute form ("http://h/p") and
 * "*" (kept as "*") are understood; the query and fragment are dropped.
 * A target longer than buf holds is cut first (never overrun). Returns
 * the length; buf[len] is NUL. */
size_t urlpath_read(enum urlpath_reading r, const char *t, size_t n,
                    char *buf, size_t size);

/* Length of a read path without its trailing "/" (unless it is "/"):
 * "/a/" and "/a" name the same subtree. */
size_t urlpath_subtree_len(const char *path, size_t len);

/* Segments of a read path (of urlpath_subtree_len length): "/" has 0,
 * "/a/b" has 2. How specific a relative path is. */
unsigned urlpath_depth(const char *path, size_t len);

/* True when read path p (length n) is the subtree s (length sn, from
 * urlpath_subtree_len) or lies under it: whole segments only. */
bool urlpath_under(const char *p, size_t n, const char *s, size_t sn);

#endif
