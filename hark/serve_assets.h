/* serve_assets.h - the files of `hark serve`'s page, built into hark.
 *
 * The page is plain HTML, one script and one style sheet (hark/web/);
 * serve_web.S embeds them at build time, so the browser gets
 * everything from hark and nothing from anywhere else.
 */
#ifndef HARK_SERVE_ASSETS_H
#define HARK_SERVE_ASSETS_H

#include <stdbool.h>
#include <stddef.h>

struct serve_asset {
    const char *path;             /* URL path, "/app.js" */
    const char *type;             /* Content-Type */
    const unsigned char *data;
    size_t len;
};

/* The asset served at path into *out: false when there is none. "/" is
 * the page. */
bool serve_asset_find(const char *path, struct serve_asset *out);

#endif
