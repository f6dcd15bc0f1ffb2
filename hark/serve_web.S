/* serve_web.S - the page of `hark serve` (hark/web/), built into the
 * binary so that it serves nothing from disk.
 *
 * Each file becomes serve_web_<name> .. serve_web_<name>_end in .rodata;
 * serve_assets.c names them. Paths are relative to the repository root,
 * where make runs; the Makefile rebuilds this when a web file changes.
 */
#define WEB_FILE(sym, file)        \
    .global sym;                   \
    .global sym##_end;             \
    .balign 16;                    \
sym:                               \
    .incbin file;                  \
sym##_end:                         \
    .byte 0

    .section .rodata
WEB_FILE(serve_web_index_html, "hark/web/index.html")
WEB_FILE(serve_web_app_js, "hark/web/app.js")
WEB_FILE(serve_web_style_css, "hark/web/style.css")
WEB_FILE(serve_web_icon_svg, "hark/web/icon.svg")

    .section .note.GNU-stack, "", %progbits
