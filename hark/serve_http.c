/* serve_http.c - libmicrohttpd under `hark serve` (serve_http.h).
 *
 * libmicrohttpd parses the requests; here each one is checked (method,
 * Host, token, the number of arguments) before its route runs, and every
 * response gets the same security headers. The daemon runs one internal
 * polling thread, so routes never run at the same time.
 */
#include "serve_http.h"
#include "errbuf.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define CONNECTION_LIMIT 64
#define CONNECTION_TIMEOUT_S 30
#define TOKEN_COOKIE "hark_token"
#define URL_MAX 8192              /* a redirect's rebuilt URL */

/* The page loads its own script and style; the API is fetched from the
 * same origin; nothing else, and no one may frame it. */
#define CSP                                                                \
    "default-src 'none'; script-src 'self'; style-src 'self'; "           \
    "img-src 'self'; connect-src 'self'; form-action 'self'; "            \
    "base-uri 'none'; frame-ancestors 'none'"

struct serve_http {
    struct MHD_Daemon *d;
    serve_route_fn route;
    void *ctx;
    char *token;                  /* owned; NULL: none */
    bool loopback;
    uint16_t port;
    struct log_limit bad_host;
};

void serve_reply_error(struct serve_reply *out, unsigned status,
                       const char *why)
{
    out->status = status;
    out->type = NULL;
    out->data = NULL;
    json_out_reset(&out->json);
    json_out_obj(&out->json);
    json_out_key(&out->json, "error");
    json_out_cstr(&out->json, why);
    json_out_obj_end(&out->json);
}

/* ---- addresses ------------------------------------------------------ */

static bool ip_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)ss;
    static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0,
                                          0, 0, 0xff, 0xff };
    if (!memcmp(a6->sin6_addr.s6_addr, v4mapped, 12))
        return a6->sin6_addr.s6_addr[12] == 127;
    return IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
}

/* "host" of "host:port" or "[v6]:port" into buf; the port into *port
 * (-1 when absent). false when it is not of that form. */
static bool split_host(const char *s, char *buf, size_t size, long *port)
{
    const char *colon, *h = s;
    size_t n;
    *port = -1;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close)
            return false;
        h = s + 1;
        n = (size_t)(close - h);
        colon = close[1] == ':' ? close + 1 : NULL;
        if (!colon && close[1])
            return false;
    } else {
        colon = strrchr(s, ':');
        if (colon && strchr(s, ':') != colon)
            return false; /* a bare IPv6 address needs brackets */
        n = colon ? (size_t)(colon - s) : strlen(s);
    }
    if (n == 0 || n >= size)
        return false;
    memcpy(buf, h, n);
    buf[n] = '\0';
    if (colon) {
        char *end;
        errno = 0;
        long v = strtol(colon + 1, &end, 10);
        if (errno || end == colon + 1 || *end || v < 0 || v > 65535)
            return false;
        *port = v;
    }
    return true;
}

int serve_http_parse_listen(const char *s, struct sockaddr_storage *ss,
                            bool *loopback)
{
    char host[64];
    long port;
    memset(ss, 0, sizeof(*ss));
    if (!split_host(s, host, sizeof(host), &port) || port < 0)
        return -EINVAL;
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (!strcmp(host, "localhost"))
        strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &a->sin_addr) == 1) {
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
    } else {
        return -EINVAL;
    }
    *loopback = ip_loopback(ss);
    return 0;
}

/* A Host header naming this machine's loopback: localhost or a
 * loopback address, any port. */
static bool host_loopback(const char *host)
{
    char h[64];
    long port;
    if (!host || !split_host(host, h, sizeof(h), &port))
        return false;
    if (!strcasecmp(h, "localhost"))
        return true;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, h, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
        ss.ss_family = AF_INET;
    else if (inet_pton(AF_INET6, h,
                       &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
        ss.ss_family = AF_INET6;
    else
        return false;
    return ip_loopback(&ss);
}

/* ---- the token ------------------------------------------------------ */

static bool token_is(const serve_http_t *h, const char *t)
{
    size_t n = strlen(h->token);
    return t && strlen(t) == n && sodium_memcmp(t, h->token, n) == 0;
}

static bool authorized(serve_http_t *h, struct MHD_Connection *c)
{
    if (!h->token)
        return true;
    const char *auth =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (auth && !strncasecmp(auth, "Bearer ", 7) && token_is(h, auth + 7))
        return true;
    return token_is(h, MHD_lookup_connection_value(c, MHD_COOKIE_KIND,
                                                   TOKEN_COOKIE));
}

/* ---- replies -------------------------------------------------------- */

static void add_headers(struct MHD_Response *r, const struct serve_reply *o)
{
    MHD_add_response_header(r, "Content-Type",
                            o->type ? o->type
                                    : "application/json; charset=utf-8");
    MHD_add_response_header(r, "Content-Security-Policy", CSP);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Cross-Origin-Resource-Policy",
                            "same-origin");
    MHD_add_response_header(r, "Cache-Control",
                            o->cacheable ? "private, max-age=60"
                                         : "no-store");
}

/* Queues o; the JSON text passes to libmicrohttpd, which frees it. */
static enum MHD_Result send_reply(struct MHD_Connection *c,
                                  struct serve_reply *o,
                                  const char *location,
                                  const char *cookie)
{
    struct MHD_Response *r;
    if (o->data || o->status == MHD_HTTP_SEE_OTHER) {
        r = MHD_create_response_from_buffer(o->len, (void *)o->data,
                                            MHD_RESPMEM_PERSISTENT);
    } else if (o->json.failed) {
        static const char oom[] = "{\"error\":\"out of memory\"}";
        o->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        r = MHD_create_response_from_buffer(sizeof(oom) - 1, (void *)oom,
                                            MHD_RESPMEM_PERSISTENT);
    } else {
        json_out_raw(&o->json, "\n", 1);
        r = MHD_create_response_from_buffer(o->json.len, o->json.p,
                                            MHD_RESPMEM_MUST_FREE);
        if (r)
            o->json.p = NULL; /* libmicrohttpd frees it now */
    }
    if (!r)
        return MHD_NO;
    add_headers(r, o);
    if (location)
        MHD_add_response_header(r, "Location", location);
    if (cookie)
        MHD_add_response_header(r, "Set-Cookie", cookie);
    if (o->status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, "Allow", "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(c, o->status, r);
    MHD_destroy_response(r);
    return rc;
}

/* ---- requests ------------------------------------------------------- */

struct args {
    struct serve_arg a[SERVE_ARGS_MAX];
    size_t n;
    bool too_many;
};

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind,
                               const char *key, const char *value)
{
    struct args *a = cls;
    if (a->n == SERVE_ARGS_MAX) {
        a->too_many = true;
        return MHD_NO;
    }
    a->a[a->n].name = key;
    a->a[a->n].value = value;
    a->n++;
    return MHD_YES;
}

/* Appends s percent-encoded (all but unreserved characters). */
static void url_encode(char *dst, size_t size, size_t *at, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s && *at + 4 < size; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
            (ch >= '0' && ch <= '9') || strchr("-._~", ch)) {
            dst[(*at)++] = (char)ch;
        } else {
            dst[(*at)++] = '%';
            dst[(*at)++] = hex[ch >> 4];
            dst[(*at)++] = hex[ch & 15];
        }
    }
    dst[*at] = '\0';
}

/* The address of the same view without the token: the page opened as
 * /?token=T gets its cookie and is sent there. */
static void without_token(const struct args *a, char *loc, size_t size)
{
    size_t at = 1;
    char sep = '?';
    strcpy(loc, "/");
    for (size_t i = 0; i < a->n; i++) {
        if (!strcmp(a->a[i].name, "token") || at + 2 >= size)
            continue;
        loc[at++] = sep;
        sep = '&';
        url_encode(loc, size, &at, a->a[i].name);
        if (a->a[i].value && at + 1 < size) {
            loc[at++] = '=';
            url_encode(loc, size, &at, a->a[i].value);
        }
    }
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    serve_http_t *h = cls;
    struct serve_reply o = { .status = MHD_HTTP_OK };
    json_out_init(&o.json);
    struct args a = { .n = 0 };
    enum MHD_Result rc;
    char cookie[256];
    const char *token_arg = NULL;
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect, &a);
    for (size_t i = 0; i < a.n; i++)
        if (!strcmp(a.a[i].name, "token"))
            token_arg = a.a[i].value ? a.a[i].value : "";

    if (strcmp(method, MHD_HTTP_METHOD_GET) &&
        strcmp(method, MHD_HTTP_METHOD_HEAD)) {
        serve_reply_error(&o, MHD_HTTP_METHOD_NOT_ALLOWED,
                          "only GET and HEAD: the trail is read-only");
    } else if (h->loopback &&
               !host_loopback(MHD_lookup_connection_value(
                   c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST))) {
        log_limited(&h->bad_host, LOG_WARN, "refused a request for another "
                    "host name (a page rebinding its name to loopback?)");
        serve_reply_error(&o, MHD_HTTP_FORBIDDEN, "the Host header must "
                          "name localhost or a loopback address");
    } else if (h->token && token_arg && !strcmp(url, "/") &&
               token_is(h, token_arg)) {
        snprintf(cookie, sizeof(cookie),
                 TOKEN_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict",
                 h->token);
        o.status = MHD_HTTP_SEE_OTHER;
        o.type = "text/plain; charset=utf-8";
        char loc[URL_MAX];
        without_token(&a, loc, sizeof(loc));
        rc = send_reply(c, &o, loc, cookie);
        json_out_free(&o.json);
        return rc;
    } else if (!authorized(h, c)) {
        serve_reply_error(&o, MHD_HTTP_UNAUTHORIZED,
                          "a token is needed: open the page as "
                          "/?token=TOKEN, or send Authorization: Bearer "
                          "TOKEN");
    } else if (a.too_many) {
        serve_reply_error(&o, MHD_HTTP_BAD_REQUEST,
                          "too many query parameters");
    } else {
        h->route(h->ctx, url, a.a, a.n, &o);
    }
    rc = send_reply(c, &o, NULL, NULL);
    json_out_free(&o.json);
    return rc;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = '\0';
    log_warn("http: %s", line);
}

serve_http_t *serve_http_start(const struct serve_http_opts *o,
                               serve_route_fn route, void *ctx, char *err,
                               size_t errlen)
{
    struct sockaddr_storage ss;
    bool loopback;
    if (serve_http_parse_listen(o->listen, &ss, &loopback) < 0) {
        errbuf_set(err, errlen, "--listen: expected ADDRESS:PORT "
                   "(127.0.0.1:8080, [::1]:8080), got '%s'", o->listen);
        return NULL;
    }
    if (!loopback && !o->token) {
        errbuf_set(err, errlen, "%s is not a loopback address: give a "
                   "token (--token-file) so that only you can read the "
                   "trail", o->listen);
        return NULL;
    }
    serve_http_t *h = calloc(1, sizeof(*h));
    if (!h || (o->token && !(h->token = strdup(o->token)))) {
        free(h);
        errbuf_set(err, errlen, "out of memory");
        return NULL;
    }
    h->route = route;
    h->ctx = ctx;
    h->loopback = loopback;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                     MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
        MHD_OPTION_END);
    if (!h->d) {
        errbuf_set(err, errlen, "cannot listen on %s (is the port taken?)",
                   o->listen);
        serve_http_stop(&h);
        return NULL;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    return h;
}

void serve_http_stop(serve_http_t **hp)
{
    if (!hp || !*hp)
        return;
    serve_http_t *h = *hp;
    if (h->d)
        MHD_stop_daemon(h->d);
    if (h->token)
        sodium_memzero(h->token, strlen(h->token));
    free(h->token);
    free(h);
    *hp = NULL;
}

uint16_t serve_http_port(const serve_http_t *h)
{
    return h->port;
}
