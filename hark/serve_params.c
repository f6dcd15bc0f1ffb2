/* serve_params.c - the API's query parameters: known, once, valid.
 *
 * The values come from a browser's address bar or a script: hostile
 * until checked. Each is read into a fixed-size field of serve_params
 * (nothing here allocates) and refused with a reason a person can act
 * on.
 */
#include "serve_params.h"
#include "clock.h"
#include "errbuf.h"
#include "hex.h"
#include "record_json.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const outcomes[] = {
    OUTCOME_OK, OUTCOME_TIMEOUT, OUTCOME_CLOSED, OUTCOME_EOF,
    OUTCOME_LATE, OUTCOME_ORPHAN, OUTCOME_LOST,
};

/* The parameters in enum serve_param's bit order. */
static const char *const names[] = {
    "since", "until", "path", "method", "status", "outcome", "flag",
    "client", "server", "uid", "kind", "before", "limit", "key", "top",
};
#define N_PARAMS (sizeof(names) / sizeof(names[0]))

/* A value's complaint: false, with why written. expected is either
 * what would do ("a number ...") or clock.h's own words, which say
 * "(expected ...)" themselves. */
static bool refuse(char *why, size_t whylen, const char *name,
                   const char *value, const char *expected)
{
    errbuf_set(why, whylen, "%s: %s%s, got '%.80s'", name,
               strstr(expected, "expected") ? "" : "expected ", expected,
               value);
    return false;
}

static bool parse_uint(const char *s, uint64_t max, uint64_t *v)
{
    char *end;
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end || x > max)
        return false;
    *v = x;
    return true;
}

/* "404", "4xx" (either case) or "none". */
static bool parse_status(const char *s, uint32_t *lo, uint32_t *hi)
{
    uint64_t v;
    if (!strcmp(s, "none")) {
        *lo = *hi = 0;
        return true;
    }
    if (strlen(s) == 3 && s[0] >= '1' && s[0] <= '9' &&
        (s[1] == 'x' || s[1] == 'X') && (s[2] == 'x' || s[2] == 'X')) {
        *lo = (uint32_t)(s[0] - '0') * 100;
        *hi = *lo + 99;
        return true;
    }
    if (!parse_uint(s, 999, &v) || v < 100)
        return false;
    *lo = *hi = (uint32_t)v;
    return true;
}

/* An HTTP method is a token (RFC 9110): no separators, no controls. */
static bool parse_method(const char *s, char *out)
{
    size_t n = strlen(s);
    if (n > SERVE_METHOD_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("!#$%&'*+-.^_`|~", s[i]) &&
            !(s[i] >= '0' && s[i] <= '9') && !(s[i] >= 'A' && s[i] <= 'Z') &&
            !(s[i] >= 'a' && s[i] <= 'z'))
            return false;
    memcpy(out, s, n + 1);
    return true;
}

/* A path prefix as the trail holds url.path: starts with '/', printable
 * bytes (UTF-8 included), no controls. */
static bool parse_path(const char *s, char *out)
{
    size_t n = strlen(s);
    if (n > SERVE_PATH_MAX || s[0] != '/')
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    memcpy(out, s, n + 1);
    return true;
}

/* "ip", "ip:port" (IPv4), "v6" or "[v6]:port"; the address is kept in
 * inet_ntop's form, which is how the trail writes it. */
static bool parse_addr(const char *s, struct serve_addr *a)
{
    char host[SERVE_IP_MAX + 2];
    const char *port = NULL;
    size_t n = strlen(s);
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || (size_t)(close - s - 1) >= sizeof(host))
            return false;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        if (close[1] == ':')
            port = close + 2;
        else if (close[1])
            return false;
    } else {
        const char *colon = strchr(s, ':');
        bool v4_port = colon && !strchr(colon + 1, ':');
        size_t hn = v4_port ? (size_t)(colon - s) : n;
        if (hn >= sizeof(host))
            return false;
        memcpy(host, s, hn);
        host[hn] = '\0';
        port = v4_port ? colon + 1 : NULL;
    }
    unsigned char bin[16];
    int af = strchr(host, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(af, host, bin) != 1 ||
        !inet_ntop(af, bin, a->ip, sizeof(a->ip)))
        return false;
    uint64_t v = 0;
    if (port && (!parse_uint(port, 65535, &v) || v == 0))
        return false;
    a->port = (uint16_t)v;
    return true;
}

static bool parse_uid(const char *s, char *out)
{
    if (strlen(s) != UID_LEN)
        return false;
    for (size_t i = 0; i < UID_LEN; i++)
        if (hex_digit((unsigned char)s[i]) < 0)
            return false;
    memcpy(out, s, UID_LEN + 1);
    return true;
}

static bool parse_flag(const char *s, uint32_t *flag)
{
    for (unsigned i = 0; i < MSG_FLAG_COUNT; i++)
        if (!strcmp(s, msg_flag_names[i])) {
            *flag = 1u << i;
            return true;
        }
    return false;
}

static bool parse_outcome(const char *s, char *out)
{
    for (size_t i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++)
        if (!strcmp(s, outcomes[i])) {
            strcpy(out, outcomes[i]);
            return true;
        }
    return false;
}

static bool parse_kind(const char *s, int *kind)
{
    if (!strcmp(s, "request"))
        *kind = RECORD_REQUEST;
    else if (!strcmp(s, "response"))
        *kind = RECORD_RESPONSE;
    else if (!strcmp(s, "outage"))
        *kind = RECORD_OUTAGE;
    else if (!strcmp(s, "any"))
        *kind = 0;
    else
        return false;
    return true;
}

/* Reads the value of parameter bit into p; false with why written. */
static bool parse_one(unsigned bit, const char *name, const char *v,
                      struct serve_params *p, char *why, size_t whylen)
{
    uint64_t n;
    bool ok;
    const char *expected;
    switch (bit) {
    case SP_SINCE:
    case SP_UNTIL:
        /* clock.h words what it expects (and a date that does not exist) */
        expected = "an RFC 3339 time or seconds since the epoch";
        ok = clock_parse_time(v, bit == SP_SINCE ? &p->since_ns
                                                 : &p->until_ns,
                              &expected) == 0;
        break;
    case SP_PATH:
        ok = parse_path(v, p->path);
        expected = "a path starting with '/', at most 1024 bytes, "
                   "without control characters";
        break;
    case SP_METHOD:
        ok = parse_method(v, p->method);
        expected = "an HTTP method (a token of at most 32 characters)";
        break;
    case SP_STATUS:
        ok = parse_status(v, &p->status_lo, &p->status_hi);
        expected = "a status (100-999), a class (2xx) or none";
        break;
    case SP_OUTCOME:
        ok = parse_outcome(v, p->outcome);
        expected = "ok, timeout, closed, eof, late, orphan or lost";
        break;
    case SP_FLAG:
        ok = parse_flag(v, &p->flag);
        expected = "a flag name (truncated, gap, chunked, ...)";
        break;
    case SP_CLIENT:
    case SP_SERVER:
        ok = parse_addr(v, bit == SP_CLIENT ? &p->client : &p->server);
        expected = "an IP address, with :port or [IPv6]:port optional";
        break;
    case SP_UID:
        ok = parse_uid(v, p->uid);
        expected = "a connection uid (16 hex digits)";
        break;
    case SP_KIND:
        ok = parse_kind(v, &p->kind);
        expected = "request, response, outage or any";
        break;
    case SP_BEFORE:
    case SP_KEY:
        ok = serve_key_parse(v, bit == SP_KEY ? &p->key : &p->before);
        expected = "a record key (hex, as the API gives it)";
        break;
    case SP_LIMIT:
        ok = parse_uint(v, SERVE_LIMIT_MAX, &n) && n > 0;
        p->limit = (uint32_t)n;
        expected = "a number of rows from 1 to 500";
        break;
    default: /* SP_TOP */
        ok = parse_uint(v, SERVE_TOP_MAX, &n) && n > 0;
        p->top = (uint32_t)n;
        expected = "a number of entries from 1 to 100";
        break;
    }
    return ok || refuse(why, whylen, name, v, expected);
}

int serve_params_parse(const struct serve_arg *args, size_t n,
                       unsigned allowed, struct serve_params *out,
                       char *why, size_t whylen)
{
    memset(out, 0, sizeof(*out));
    out->until_ns = UINT64_MAX;
    out->limit = SERVE_LIMIT_DEFAULT;
    out->top = SERVE_TOP_DEFAULT;
    for (size_t i = 0; i < n; i++) {
        const char *name = args[i].name ? args[i].name : "";
        const char *v = args[i].value ? args[i].value : "";
        size_t k = 0;
        while (k < N_PARAMS && strcmp(names[k], name))
            k++;
        unsigned bit = 1u << k;
        if (k == N_PARAMS) {
            errbuf_set(why, whylen, "unknown parameter '%.40s'", name);
            return -EINVAL;
        }
        if (!(allowed & bit)) {
            errbuf_set(why, whylen, "parameter '%s' does not apply here",
                       name);
            return -EINVAL;
        }
        if (!*v)
            continue;
        if (out->given & bit) {
            errbuf_set(why, whylen, "parameter '%s' given twice", name);
            return -EINVAL;
        }
        out->given |= bit;
        if (!parse_one(bit, name, v, out, why, whylen))
            return -EINVAL;
    }
    if (out->since_ns >= out->until_ns) {
        errbuf_set(why, whylen, "since must be before until");
        return -EINVAL;
    }
    return 0;
}

static bool addr_match(const struct serve_addr *a, struct bytes ip,
                       uint16_t port)
{
    return bytes_eq(ip, a->ip) && (!a->port || a->port == port);
}

bool serve_params_match(const struct serve_params *p,
                        const struct audit_record *r)
{
    unsigned g = p->given;
    if (r->ts_ns < p->since_ns || r->ts_ns >= p->until_ns)
        return false;
    if ((g & SP_KIND) && p->kind && (int)r->kind != p->kind)
        return false;
    if ((g & SP_STATUS) &&
        (r->kind != RECORD_RESPONSE || r->status < p->status_lo ||
         r->status > p->status_hi))
        return false;
    if ((g & SP_OUTCOME) &&
        (r->kind != RECORD_RESPONSE || !bytes_eq(r->outcome, p->outcome)))
        return false;
    if ((g & SP_METHOD) && !bytes_eq(r->method, p->method))
        return false;
    if ((g & SP_FLAG) && !(r->flags & p->flag))
        return false;
    if ((g & SP_UID) && !bytes_case_eq(r->uid, p->uid))
        return false;
    if ((g & SP_CLIENT) &&
        !addr_match(&p->client, r->addr.src_ip, r->addr.src_port))
        return false;
    if ((g & SP_SERVER) &&
        !addr_match(&p->server, r->addr.dst_ip, r->addr.dst_port))
        return false;
    if (g & SP_PATH) {
        struct url_parts u;
        urlsplit(r->uri, &u);
        size_t n = strlen(p->path);
        if (u.path.n < n || memcmp(u.path.p, p->path, n))
            return false;
    }
    return true;
}

/* ---- record keys ---------------------------------------------------- */

#define KEY_BASE 22               /* "t" ts:8 uid:8 idx:4 kind:1 */
#define KEY_DUP 26                /* + dup:4 */

void serve_key_hex(const struct serve_key *k, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t n = k->n <= STORE_KEY_MAX ? k->n : STORE_KEY_MAX;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[k->b[i] >> 4];
        out[2 * i + 1] = digits[k->b[i] & 15];
    }
    out[2 * n] = '\0';
}

bool serve_key_parse(const char *hex, struct serve_key *k)
{
    size_t len = strlen(hex);
    if (len != 2 * KEY_BASE && len != 2 * KEY_DUP)
        return false;
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hex_digit((unsigned char)hex[2 * i]);
        int lo = hex_digit((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        k->b[i] = (uint8_t)(hi << 4 | lo);
    }
    k->n = len / 2;
    return k->b[0] == 't' && k->b[21] >= RECORD_REQUEST &&
           k->b[21] <= RECORD_OUTAGE;
}

uint64_t serve_key_ts(const struct serve_key *k)
{
    uint64_t v = 0;
    for (int i = 1; i <= 8; i++)
        v = v << 8 | k->b[i];
    return v;
}
