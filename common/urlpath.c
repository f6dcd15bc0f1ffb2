/* urlpath.c - the readings of a request path (docs/paths.md).
 *
 * A reading is a fixed sequence of steps on a copy of the raw path, each
 * in place and never longer than its input: strip ";params", decode
 * escapes (0, 1 or 2 rounds), fold overlong UTF-8, cut at NUL, map "\" to
 * "/", fold case, then resolve segments. Only the leading "/" a target
 * without one gets can grow the path, and room for it is kept.
 */
#include "urlpath.h"
#include "hex.h"

#include <string.h>

struct reading {
    const char *name, *servers;
    unsigned rounds;   /* decoding rounds; 0: unreserved escapes only */
    bool params;       /* ";..." dropped from each raw segment */
    bool percent_u;    /* "%uXXXX" decoded too */
    bool overlong;     /* overlong UTF-8 of an ASCII byte read as it */
    bool nul_cut;      /* the path ends at the first NUL */
    bool backslash;    /* "\" separates segments */
    bool fold_case;
    bool trim;         /* trailing dots and spaces of a segment dropped */
    bool keep_empty;   /* empty segments count for ".." (RFC 3986) */
};

static const struct reading readings[URLPATH_READINGS] = {
    [URLPATH_RFC3986] = { "rfc3986", "RFC 3986 proxies, WHATWG URL",
                          0, false, false, false, false, false, false,
                          false, true },
    [URLPATH_DECODED] = { "decoded", "nginx, Python http.server, Apache, "
                          "Go", 1, false, false, false, false, false,
                          false, false, false },
    [URLPATH_CSTRING] = { "c-string", "C and CGI programs, open()",
                          1, false, false, false, true, false, false,
                          false, false },
    [URLPATH_SERVLET] = { "servlet", "Tomcat, Jetty, Undertow, Spring",
                          1, true, false, false, false, false, false,
                          false, false },
    [URLPATH_WINDOWS] = { "windows", "IIS, ASP.NET, Windows file systems",
                          1, false, true, true, false, true, true, true,
                          false },
    [URLPATH_DOUBLE] = { "double-decoded", "proxy chains, IIS double "
                         "decoding", 2, false, false, false, false, true,
                         false, false, false },
};

const char *urlpath_reading_name(enum urlpath_reading r)
{
    return r < URLPATH_READINGS ? readings[r].name : "?";
}

const char *urlpath_reading_servers(enum urlpath_reading r)
{
    return r < URLPATH_READINGS ? readings[r].servers : "?";
}

static bool unreserved(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

/* The raw path of target t: after "scheme://authority" in absolute
 * form, up to "?" or "#". */
static void path_span(const char *t, size_t n, size_t *start, size_t *end)
{
    size_t s = 0;
    const char *colon = memchr(t, ':', n);
    if (colon && (size_t)(t + n - colon) >= 3 && colon[1] == '/' &&
        colon[2] == '/' && !memchr(t, '/', (size_t)(colon - t))) {
        s = (size_t)(colon - t) + 3;
        while (s < n && t[s] != '/' && t[s] != '?' && t[s] != '#')
            s++;
    }
    size_t e = s;
    while (e < n && t[e] != '?' && t[e] != '#')
        e++;
    *start = s;
    *end = e;
}

/* Drops ";..." up to the end of each segment (Tomcat's path parameters,
 * read before decoding: "..;/" is ".."). */
static size_t strip_params(char *b, size_t n)
{
    size_t w = 0;
    bool in_param = false;
    for (size_t r = 0; r < n; r++) {
        if (b[r] == '/')
            in_param = false;
        else if (b[r] == ';')
            in_param = true;
        if (!in_param)
            b[w++] = b[r];
    }
    return w;
}

static char upper_hex(char c)
{
    return c >= 'a' && c <= 'f' ? (char)(c - 'a' + 'A') : c;
}

/* One round of percent-decoding. With all false only unreserved
 * characters are decoded and the other escapes get upper-case digits,
 * so "%2f" and "%2F" read the same (RFC 3986 6.2.2). */
static size_t decode(char *b, size_t n, bool all, bool percent_u)
{
    size_t w = 0;
    for (size_t r = 0; r < n;) {
        uint64_t v;
        if (b[r] == '%' && n - r >= 3 && hex_u64(b + r + 1, 2, &v)) {
            if (all || unreserved((int)v)) {
                b[w++] = (char)v;
            } else {
                b[w++] = '%';
                b[w++] = upper_hex(b[r + 1]);
                b[w++] = upper_hex(b[r + 2]);
            }
            r += 3;
        } else if (percent_u && b[r] == '%' && n - r >= 6 &&
                   (b[r + 1] == 'u' || b[r + 1] == 'U') &&
                   hex_u64(b + r + 2, 4, &v) && v < 0x80) {
            b[w++] = (char)v; /* IIS: "%u002f" is "/" */
            r += 6;
        } else {
            b[w++] = b[r++];
        }
    }
    return w;
}

static bool cont(unsigned char c)
{
    return c >= 0x80 && c <= 0xbf;
}

/* Overlong UTF-8 encodings of ASCII ("\xc0\xaf" for "/"), which lenient
 * decoders (IIS 4/5, old Java) took for the byte itself. */
static size_t fold_overlong(char *b, size_t n)
{
    size_t w = 0;
    const unsigned char *u = (const unsigned char *)b;
    for (size_t r = 0; r < n;) {
        unsigned c = u[r];
        if ((c == 0xc0 || c == 0xc1) && n - r >= 2 && cont(u[r + 1])) {
            b[w++] = (char)(((c & 0x1f) << 6) | (u[r + 1] & 0x3f));
            r += 2;
        } else if (c == 0xe0 && n - r >= 3 && u[r + 1] <= 0x81 &&
                   cont(u[r + 1]) && cont(u[r + 2])) {
            b[w++] = (char)(((u[r + 1] & 0x3f) << 6) | (u[r + 2] & 0x3f));
            r += 3;
        } else if (c == 0xf0 && n - r >= 4 && u[r + 1] == 0x80 &&
                   u[r + 2] <= 0x81 && cont(u[r + 2]) && cont(u[r + 3])) {
            b[w++] = (char)(((u[r + 2] & 0x3f) << 6) | (u[r + 3] & 0x3f));
            r += 4;
        } else {
            b[w++] = b[r++];
        }
    }
    return w;
}

static bool all_dots(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != '.')
            return false;
    return true;
}

/* Windows drops trailing dots and spaces of a name ("admin." and
 * "admin " are "admin"); "." and ".." stay what they are. */
static size_t trim_segment(const char *s, size_t n)
{
    while (n && s[n - 1] == ' ')
        n--;
    if (all_dots(s, n))
        return n;
    while (n && (s[n - 1] == '.' || s[n - 1] == ' '))
        n--;
    return n;
}

/* Resolves the segments of b[0..n), which starts with "/": "." and ".."
 * removed, empty segments dropped (after ".." has seen them when
 * keep_empty). Returns the new length. */
static size_t resolve(char *b, size_t n, const struct reading *rd)
{
    size_t w = 0, i = 0;
    bool trailing = false;
    while (i < n) {
        size_t s = i + 1, e = s;
        while (e < n && b[e] != '/')
            e++;
        size_t len = rd->trim ? trim_segment(b + s, e - s) : e - s;
        bool last = e >= n;
        trailing = false;
        if (len == 0) {
            trailing = last;
            if (rd->keep_empty && !last)
                b[w++] = '/';
        } else if (len == 1 && b[s] == '.') {
            trailing = last;
        } else if (len == 2 && b[s] == '.' && b[s + 1] == '.') {
            while (w > 0 && b[w - 1] != '/')
                w--;
            if (w > 0)
                w--;
            trailing = last;
        } else {
            b[w++] = '/';
            memmove(b + w, b + s, len);
            w += len;
        }
        i = e;
    }
    if (rd->keep_empty) { /* now merge what ".." did not use */
        size_t k = 0;
        for (size_t r = 0; r < w; r++)
            if (b[r] != '/' || r + 1 == w || b[r + 1] != '/')
                b[k++] = b[r];
        w = k;
    }
    if (w == 0 || (trailing && b[w - 1] != '/'))
        b[w++] = '/';
    return w;
}

size_t urlpath_read(enum urlpath_reading r, const char *t, size_t n,
                    char *buf, size_t size)
{
    const struct reading *rd = &readings[r < URLPATH_READINGS ? r : 0];
    if (size < 2) {
        if (size)
            buf[0] = '\0';
        return 0;
    }
    if (n == 1 && t[0] == '*') {
        buf[0] = '*';
        buf[1] = '\0';
        return 1;
    }
    size_t s, e;
    path_span(t, n, &s, &e);
    bool slash = e > s && t[s] == '/';
    /* room for a leading "/" and the NUL */
    size_t len = e - s, room = size - (slash ? 1 : 2);
    if (len > room)
        len = room;
    memcpy(buf + (slash ? 0 : 1), t + s, len);
    buf[0] = '/';
    len += slash ? 0 : 1;
    if (rd->params)
        len = strip_params(buf, len);
    if (rd->rounds == 0)
        len = decode(buf, len, false, false);
    for (unsigned k = 0; k < rd->rounds; k++)
        len = decode(buf, len, true, rd->percent_u);
    if (rd->overlong)
        len = fold_overlong(buf, len);
    if (rd->nul_cut) {
        const char *z = memchr(buf, '\0', len);
        if (z)
            len = (size_t)(z - buf);
    }
    for (size_t i = 0; i < len; i++) {
        if (rd->backslash && buf[i] == '\\')
            buf[i] = '/';
        if (rd->fold_case && buf[i] >= 'A' && buf[i] <= 'Z')
            buf[i] = (char)(buf[i] - 'A' + 'a');
    }
    len = resolve(buf, len, rd);
    buf[len] = '\0';
    return len;
}

size_t urlpath_subtree_len(const char *path, size_t len)
{
    while (len > 1 && path[len - 1] == '/')
        len--;
    return len;
}

unsigned urlpath_depth(const char *path, size_t len)
{
    unsigned d = 0;
    if (len <= 1)
        return 0;
    for (size_t i = 0; i < len; i++)
        d += path[i] == '/';
    return d;
}

bool urlpath_under(const char *p, size_t n, const char *s, size_t sn)
{
    if (sn == 1 && s[0] == '/')
        return true;
    if (n < sn || memcmp(p, s, sn) != 0)
        return false;
    return n == sn || p[sn] == '/';
}
