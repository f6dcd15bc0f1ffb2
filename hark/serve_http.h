/* serve_http.h - `hark serve`'s HTTP side, on libmicrohttpd.
 *
 * One thread answers every request in turn (the trail source is not
 * shared between threads). Only GET and HEAD are served. Every response
 * carries a Content-Security-Policy that lets the page load its own
 * script, style and nothing else, and forbids framing. On a loopback
 * address, the Host header must name a loopback host (so a web page that
 * rebinds its name to 127.0.0.1 gets nothing); elsewhere a token is
 * required: `Authorization: Bearer TOKEN`, or the cookie the page gets
 * by being opened once as /?token=TOKEN.
 */
#ifndef HARK_SERVE_HTTP_H
#define HARK_SERVE_HTTP_H

#include "json_out.h"
#include "serve_params.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERVE_ARGS_MAX 32         /* query arguments of one request */
#define SERVE_TOKEN_MIN 16        /* characters of a token */

typedef struct serve_http serve_http_t;

/* What a route answers. Either data (static, not freed) or json. */
struct serve_reply {
    unsigned status;
    const char *type;             /* Content-Type; NULL: JSON */
    const void *data;
    size_t len;
    struct json_out json;
    bool cacheable;               /* an asset: may be cached briefly */
};

/* Answers one GET: path (decoded, without the query) and its arguments
 * (borrowed for the call) into out, whose json is initialised. */
typedef void (*serve_route_fn)(void *ctx, const char *path,
                               const struct serve_arg *args, size_t n,
                               struct serve_reply *out);

struct serve_http_opts {
    const char *listen;           /* "127.0.0.1:8080", "[::1]:0", ... */
    const char *token;            /* NULL: none (loopback only) */
};

/* Listens and starts answering with route(ctx, ...). NULL with err
 * saying why (a bad address, the port is taken, no token for an address
 * that is not loopback). */
serve_http_t *serve_http_start(const struct serve_http_opts *o,
                               serve_route_fn route, void *ctx, char *err,
                               size_t errlen);
/* Stops listening, waits for the request in progress; NULLs *h. */
void serve_http_stop(serve_http_t **h);
/* The port it listens on (the one chosen, for port 0). */
uint16_t serve_http_port(const serve_http_t *h);

/* Splits "host:port", "[v6]:port" (or "localhost:port") into a socket
 * address: 0, or -EINVAL. *loopback tells whether it is one. */
struct sockaddr_storage;
int serve_http_parse_listen(const char *s, struct sockaddr_storage *ss,
                            bool *loopback);

/* A JSON error reply {"error": why}. */
void serve_reply_error(struct serve_reply *out, unsigned status,
                       const char *why);

#endif
