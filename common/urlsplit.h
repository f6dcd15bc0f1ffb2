/* urlsplit.h - a request target split the ECS way, bytes as sent.
 *
 * path runs up to '?' or '#', query between them without the '?',
 * fragment after '#'. The absolute form ("http://host/p?q") is split
 * after its authority; the authority form of CONNECT has no path.
 * Nothing is decoded (urlpath.h reads paths as servers do); the JSON of
 * a record (url.path) and the trail's path index use this split.
 */
#ifndef HARK_URLSPLIT_H
#define HARK_URLSPLIT_H

#include "bytes.h"

#include <stdbool.h>

struct url_parts {
    struct bytes path, query, fragment;
    bool has_query, has_fragment;
};

/* Splits uri into *out; the parts borrow uri. */
void urlsplit(struct bytes uri, struct url_parts *out);

#endif
