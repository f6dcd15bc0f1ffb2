/* serve_assets.c - the URL paths and types of the embedded page files. */
#include "serve_assets.h"

#include <string.h>

#define WEB_SYMS(sym)                                                     \
    extern const unsigned char sym[];                                     \
    extern const unsigned char sym##_end[]

WEB_SYMS(serve_web_index_html);
WEB_SYMS(serve_web_app_js);
WEB_SYMS(serve_web_style_css);
WEB_SYMS(serve_web_icon_svg);

#define ASSET(p, t, sym) { p, t, sym, 0 }

static const struct serve_asset assets[] = {
    ASSET("/", "text/html; charset=utf-8", serve_web_index_html),
    ASSET("/app.js", "text/javascript; charset=utf-8", serve_web_app_js),
    ASSET("/style.css", "text/css; charset=utf-8", serve_web_style_css),
    ASSET("/icon.svg", "image/svg+xml", serve_web_icon_svg),
};

/* The ends are link-time addresses: each length is worked out when the
 * asset is asked for rather than written into the table. */
static const unsigned char *const ends[] = {
    serve_web_index_html_end, serve_web_app_js_end, serve_web_style_css_end,
    serve_web_icon_svg_end,
};

bool serve_asset_find(const char *path, struct serve_asset *out)
{
    for (size_t i = 0; i < sizeof(assets) / sizeof(assets[0]); i++) {
        if (strcmp(assets[i].path, path))
            continue;
        *out = assets[i];
        out->len = (size_t)(ends[i] - assets[i].data);
        return true;
    }
    return false;
}
