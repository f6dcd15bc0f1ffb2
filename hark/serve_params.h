/* serve_params.h - the query parameters of `hark serve`'s API, checked.
 *
 * Every request's query string goes through serve_params_parse() before
 * anything reads the trail: each parameter must be known, given once,
 * taken by the endpoint and hold a valid value, or the request gets a 400
 * with the reason written here. An empty value counts as absent (a form
 * submits its empty fields). The filters then select records with
 * serve_params_match().
 */
#ifndef HARK_SERVE_PARAMS_H
#define HARK_SERVE_PARAMS_H

#include "frame.h"
#include "store.h"
#include "uid.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERVE_PATH_MAX 1024       /* bytes of a path prefix */
#define SERVE_METHOD_MAX 32
#define SERVE_LIMIT_DEFAULT 50    /* rows of a list page */
#define SERVE_LIMIT_MAX 500
#define SERVE_TOP_DEFAULT 10      /* entries of a top list */
#define SERVE_TOP_MAX 100
#define SERVE_IP_MAX 46           /* INET6_ADDRSTRLEN */

/* The parameters, as bits: what a request gave, what an endpoint takes. */
enum serve_param {
    SP_SINCE = 1u << 0,           /* RFC 3339 or epoch seconds */
    SP_UNTIL = 1u << 1,
    SP_PATH = 1u << 2,            /* url.path prefix */
    SP_METHOD = 1u << 3,
    SP_STATUS = 1u << 4,          /* 404, 4xx, or none (no response) */
    SP_OUTCOME = 1u << 5,         /* ok, timeout, ... */
    SP_FLAG = 1u << 6,            /* a flag name: truncated, gap, ... */
    SP_CLIENT = 1u << 7,          /* ip, or ip:port ([v6]:port) */
    SP_SERVER = 1u << 8,
    SP_UID = 1u << 9,             /* a connection uid */
    SP_KIND = 1u << 10,           /* request, response, outage or any */
    SP_BEFORE = 1u << 11,         /* list: the page after this key */
    SP_LIMIT = 1u << 12,          /* list: rows per page */
    SP_KEY = 1u << 13,            /* one record */
    SP_TOP = 1u << 14,            /* top lists: entries */
};
/* What selects records: every list and chart takes these. */
#define SP_FILTERS                                                         \
    (SP_SINCE | SP_UNTIL | SP_PATH | SP_METHOD | SP_STATUS | SP_OUTCOME |  \
     SP_FLAG | SP_CLIENT | SP_SERVER | SP_UID | SP_KIND)

/* A record key as the API writes it: hex of the trail's key bytes. */
struct serve_key {
    uint8_t b[STORE_KEY_MAX];
    size_t n;
};
#define SERVE_KEY_HEX (2 * STORE_KEY_MAX + 1)

struct serve_addr {
    char ip[SERVE_IP_MAX];        /* inet_ntop's form */
    uint16_t port;                /* 0: any */
};

struct serve_params {
    unsigned given;               /* enum serve_param */
    uint64_t since_ns, until_ns;  /* [since, until); until UINT64_MAX */
    char path[SERVE_PATH_MAX + 1];
    char method[SERVE_METHOD_MAX + 1];
    uint32_t status_lo, status_hi; /* inclusive; 0 0 is "none" */
    char outcome[16];
    uint32_t flag;                /* one enum msg_flag */
    struct serve_addr client, server;
    char uid[UID_LEN + 1];
    int kind;                     /* 0 any, else enum record_kind */
    struct serve_key before, key;
    uint32_t limit, top;
};

/* One query argument as the HTTP layer decoded it; value may be NULL. */
struct serve_arg {
    const char *name, *value;
};

/* Reads args for an endpoint that takes `allowed` (enum serve_param)
 * into *out, defaults filled in. 0, or -EINVAL with the reason in why. */
int serve_params_parse(const struct serve_arg *args, size_t n,
                       unsigned allowed, struct serve_params *out,
                       char *why, size_t whylen);

/* True when r passes every filter p gives (time range included). */
bool serve_params_match(const struct serve_params *p,
                        const struct audit_record *r);

/* The key's hex (2n digits and a NUL) into out[SERVE_KEY_HEX]. */
void serve_key_hex(const struct serve_key *k, char *out);
/* Reads a record key from hex: true when it is one (the trail's "t"
 * key, with or without its dup suffix). */
bool serve_key_parse(const char *hex, struct serve_key *k);
/* The time in a record key. */
uint64_t serve_key_ts(const struct serve_key *k);

#endif
