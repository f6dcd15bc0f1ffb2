/* record_json.c - JSON lines with ECS names, and table rows, for records.
 *
 * Every byte of a record came off the wire, so nothing here trusts it to
 * be text: strings go through one escaper (json_out_str) and table
 * fields through one sanitizer (table_field).
 */
#include "record_json.h"
#include "clock.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- writer --------------------------------------------------------- */

void json_out_init(struct json_out *j)
{
    memset(j, 0, sizeof(*j));
}

void json_out_free(struct json_out *j)
{
    free(j->p);
    memset(j, 0, sizeof(*j));
}

void json_out_reset(struct json_out *j)
{
    j->len = 0;
    j->comma = false;
    j->failed = false;
    if (j->p)
        j->p[0] = '\0';
}

/* Makes room for n more bytes and the NUL. */
static bool reserve(struct json_out *j, size_t n)
{
    if (j->failed)
        return false;
    if (j->cap - j->len > n)
        return true;
    size_t cap = j->cap ? j->cap : 256;
    while (cap - j->len <= n) {
        if (cap > SIZE_MAX / 2) {
            j->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *p = realloc(j->p, cap);
    if (!p) {
        j->failed = true;
        return false;
    }
    j->p = p;
    j->cap = cap;
    return true;
}

void json_out_raw(struct json_out *j, const char *s, size_t n)
{
    if (!reserve(j, n))
        return;
    memcpy(j->p + j->len, s, n);
    j->len += n;
    j->p[j->len] = '\0';
}

static void put_c(struct json_out *j, char c)
{
    json_out_raw(j, &c, 1);
}

/* Before a value: the comma when one is due. */
static void value_start(struct json_out *j)
{
    if (j->comma)
        put_c(j, ',');
    j->comma = true;
}

void json_out_obj(struct json_out *j)
{
    value_start(j);
    put_c(j, '{');
    j->comma = false;
}

void json_out_obj_end(struct json_out *j)
{
    put_c(j, '}');
    j->comma = true;
}

void json_out_arr(struct json_out *j)
{
    value_start(j);
    put_c(j, '[');
    j->comma = false;
}

void json_out_arr_end(struct json_out *j)
{
    put_c(j, ']');
    j->comma = true;
}

void json_out_key(struct json_out *j, const char *key)
{
    json_out_cstr(j, key);
    put_c(j, ':');
    j->comma = false;
}

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlong forms,
 * no surrogates, nothing past U+10FFFF), or 0. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return len;
}

bool json_is_text(const void *p, size_t n)
{
    const uint8_t *s = p;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_len(s + i, n - i);
        if (!l || !s[i])
            return false;
        i += l;
    }
    return true;
}

void json_out_str(struct json_out *j, const void *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *s = p ? p : (const uint8_t *)"";
    value_start(j);
    put_c(j, '"');
    size_t run = 0; /* bytes copied as they are, flushed in one go */
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t l = 1;
        const char *esc = NULL;
        char u[7];
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c == '\b')
            esc = "\\b";
        else if (c == '\f')
            esc = "\\f";
        else if (c < 0x20 || c == 0x7f) {
            memcpy(u, "\\u00", 4);
            u[4] = hex[c >> 4];
            u[5] = hex[c & 0xf];
            u[6] = '\0';
            esc = u;
        } else if (c >= 0x80 && !(l = utf8_len(s + i, n - i))) {
            esc = "\\ufffd";
            l = 1;
        }
        if (esc) {
            json_out_raw(j, (const char *)s + i - run, run);
            run = 0;
            json_out_raw(j, esc, strlen(esc));
        } else {
            run += l;
        }
        i += l;
    }
    json_out_raw(j, (const char *)s + n - run, run);
    put_c(j, '"');
}

void json_out_bytes(struct json_out *j, struct bytes b)
{
    json_out_str(j, b.p, b.n);
}

void json_out_cstr(struct json_out *j, const char *s)
{
    json_out_str(j, s, strlen(s));
}

void json_out_base64(struct json_out *j, const void *p, size_t n)
{
    size_t need = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    value_start(j);
    put_c(j, '"');
    if (reserve(j, need)) {
        sodium_bin2base64(j->p + j->len, need, p, n,
                          sodium_base64_VARIANT_ORIGINAL);
        j->len += need - 1; /* need counts the NUL */
    }
    put_c(j, '"');
}

void json_out_u64(struct json_out *j, uint64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof(b), "%" PRIu64, v);
    value_start(j);
    json_out_raw(j, b, (size_t)n);
}

void json_out_i64(struct json_out *j, int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof(b), "%" PRId64, v);
    value_start(j);
    json_out_raw(j, b, (size_t)n);
}

void json_out_ms(struct json_out *j, uint64_t ns)
{
    char b[32];
    int n = snprintf(b, sizeof(b), "%" PRIu64 ".%03" PRIu64, ns / 1000000,
                     ns / 1000 % 1000);
    value_start(j);
    json_out_raw(j, b, (size_t)n);
}

void json_out_json(struct json_out *j, const char *text, size_t n)
{
    value_start(j);
    json_out_raw(j, text, n);
}

void json_out_bool(struct json_out *j, bool v)
{
    value_start(j);
    json_out_raw(j, v ? "true" : "false", v ? 4 : 5);
}

/* ---- url ------------------------------------------------------------ */

static const char *find_any(const char *p, const char *end, const char *set)
{
    for (; p < end; p++)
        if (strchr(set, *p))
            return p;
    return end;
}

void record_url_split(struct bytes uri, struct url_parts *out)
{
    memset(out, 0, sizeof(*out));
    const char *p = uri.p ? uri.p : "", *end = p + uri.n;
    if (p == end)
        return;
    if (*p != '/' && *p != '*') {
        /* absolute form: skip scheme "://" authority */
        const char *sep = NULL;
        for (const char *q = p; q + 3 <= end; q++)
            if (q[0] == ':' && q[1] == '/' && q[2] == '/') {
                sep = q;
                break;
            }
        if (!sep)
            return; /* authority form (CONNECT host:port): no path */
        p = find_any(sep + 3, end, "/?#");
    }
    const char *q = find_any(p, end, "?#");
    out->path.p = p;
    out->path.n = (uint32_t)(q - p);
    if (q < end && *q == '?') {
        const char *f = find_any(q + 1, end, "#");
        out->has_query = true;
        out->query.p = q + 1;
        out->query.n = (uint32_t)(f - q - 1);
        q = f;
    }
    if (q < end && *q == '#') {
        out->has_fragment = true;
        out->fragment.p = q + 1;
        out->fragment.n = (uint32_t)(end - q - 1);
    }
}

/* Host header "name[:port]" or "[v6][:port]": the domain keeps the
 * brackets (as ECS says); port is 0 when absent or not a port. */
static void host_split(struct bytes host, struct bytes *domain, uint32_t *port)
{
    *domain = host;
    *port = 0;
    const char *colon = NULL;
    for (uint32_t i = host.n; i > 0; i--)
        if (host.p[i - 1] == ':') {
            colon = host.p + i - 1;
            break;
        }
    if (!colon)
        return;
    bool bracketed = host.p[0] == '[';
    if (bracketed ? colon[-1] != ']'
                  : memchr(host.p, ':', (size_t)(colon - host.p)) != NULL)
        return; /* "[v6]" alone, or a bare v6 address: no port */
    const char *d = colon + 1, *end = host.p + host.n;
    uint32_t v = 0;
    if (d == end || end - d > 5)
        return;
    for (; d < end; d++) {
        if (*d < '0' || *d > '9')
            return;
        v = v * 10 + (uint32_t)(*d - '0');
    }
    if (v == 0 || v > 65535)
        return;
    domain->n = (uint32_t)(colon - host.p);
    *port = v;
}

/* ---- record --------------------------------------------------------- */

const char *record_event_outcome(const struct audit_record *r)
{
    if (r->kind != RECORD_RESPONSE)
        return "unknown";
    if (r->status == 0 || (r->status >= 400 && r->status <= 599))
        return "failure";
    if (r->status >= 200 && r->status <= 399)
        return "success";
    return "unknown";
}

static void key_str(struct json_out *j, const char *k, struct bytes v)
{
    json_out_key(j, k);
    json_out_bytes(j, v);
}

static void key_str_opt(struct json_out *j, const char *k, struct bytes v)
{
    if (v.n)
        key_str(j, k, v);
}

static void key_u64(struct json_out *j, const char *k, uint64_t v)
{
    json_out_key(j, k);
    json_out_u64(j, v);
}

static void endpoint(struct json_out *j, const char *k, struct bytes ip,
                     uint16_t port)
{
    json_out_key(j, k);
    json_out_obj(j);
    key_str_opt(j, "ip", ip);
    if (port)
        key_u64(j, "port", port);
    json_out_obj_end(j);
}

static void body_bytes(struct json_out *j, uint64_t n)
{
    json_out_key(j, "body");
    json_out_obj(j);
    key_u64(j, "bytes", n);
    json_out_obj_end(j);
}

/* Key order (fixed; optional keys are left out, never reordered):
 *   @timestamp
 *   event {kind, category, type, action, outcome, duration?}
 *   source {ip?, port?}  destination {ip?, port?}
 *   network {transport, protocol}
 *   url {original, path?, query?, fragment?, domain?, port?}
 *   http {version?, request? {method?, body {bytes}}, response?
 *         {status_code, body {bytes}}}
 *   hark {uid, idx, service_group?, route?, policy?, step?, outcome?,
 *         reason?, flags, headers, body {captured, content? | base64?}}
 * Requests carry http.request.body; responses carry http.request.method
 * as context and http.response (left out when no response came, as for
 * a timeout). event.duration is the response latency in ns. */
int record_json(struct json_out *j, const struct audit_record *r)
{
    bool resp = r->kind == RECORD_RESPONSE;
    bool answered = resp && r->status != 0;
    char ts[40];
    clock_format_rfc3339(r->ts_ns, ts, sizeof(ts));

    json_out_obj(j);
    json_out_key(j, "@timestamp");
    json_out_cstr(j, ts);

    json_out_key(j, "event");
    json_out_obj(j);
    json_out_key(j, "kind");
    json_out_cstr(j, "event");
    json_out_key(j, "category");
    json_out_arr(j);
    json_out_cstr(j, "web");
    json_out_arr_end(j);
    json_out_key(j, "type");
    json_out_arr(j);
    json_out_cstr(j, "access");
    json_out_arr_end(j);
    json_out_key(j, "action");
    json_out_cstr(j, resp ? "response" : "request");
    json_out_key(j, "outcome");
    json_out_cstr(j, record_event_outcome(r));
    if (answered)
        key_u64(j, "duration", r->latency_ns);
    json_out_obj_end(j);

    endpoint(j, "source", r->addr.src_ip, r->addr.src_port);
    endpoint(j, "destination", r->addr.dst_ip, r->addr.dst_port);

    json_out_key(j, "network");
    json_out_obj(j);
    json_out_key(j, "transport");
    json_out_cstr(j, "tcp");
    json_out_key(j, "protocol");
    json_out_cstr(j, "http");
    json_out_obj_end(j);

    struct url_parts u;
    record_url_split(r->uri, &u);
    struct bytes domain;
    uint32_t port;
    host_split(r->host, &domain, &port);
    json_out_key(j, "url");
    json_out_obj(j);
    key_str(j, "original", r->uri);
    key_str_opt(j, "path", u.path);
    if (u.has_query)
        key_str(j, "query", u.query);
    if (u.has_fragment)
        key_str(j, "fragment", u.fragment);
    key_str_opt(j, "domain", domain);
    if (port)
        key_u64(j, "port", port);
    json_out_obj_end(j);

    json_out_key(j, "http");
    json_out_obj(j);
    key_str_opt(j, "version", r->version);
    if (!resp || r->method.n) {
        json_out_key(j, "request");
        json_out_obj(j);
        key_str_opt(j, "method", r->method);
        if (!resp)
            body_bytes(j, r->body_len);
        json_out_obj_end(j);
    }
    if (answered) {
        json_out_key(j, "response");
        json_out_obj(j);
        key_u64(j, "status_code", r->status);
        body_bytes(j, r->body_len);
        json_out_obj_end(j);
    }
    json_out_obj_end(j);

    json_out_key(j, "hark");
    json_out_obj(j);
    key_str(j, "uid", r->uid);
    key_u64(j, "idx", r->idx);
    key_str_opt(j, "service_group", r->route.group);
    key_str_opt(j, "route", r->route.path);
    key_str_opt(j, "policy", r->route.policy);
    key_str_opt(j, "step", r->step);
    if (resp) {
        key_str_opt(j, "outcome", r->outcome);
        key_str_opt(j, "reason", r->reason);
    }
    json_out_key(j, "flags");
    json_out_arr(j);
    for (unsigned i = 0; i < MSG_FLAG_COUNT; i++)
        if (r->flags & (1u << i))
            json_out_cstr(j, msg_flag_names[i]);
    json_out_arr_end(j);
    json_out_key(j, "headers");
    json_out_arr(j);
    for (uint32_t i = 0; i < r->n_headers; i++) {
        json_out_arr(j);
        json_out_bytes(j, r->headers[i].name);
        json_out_bytes(j, r->headers[i].value);
        json_out_arr_end(j);
    }
    json_out_arr_end(j);
    json_out_key(j, "body");
    json_out_obj(j);
    key_u64(j, "captured", r->body.n);
    if (r->body.n && json_is_text(r->body.p, r->body.n)) {
        key_str(j, "content", r->body);
    } else if (r->body.n) {
        json_out_key(j, "base64");
        json_out_base64(j, r->body.p, r->body.n);
    }
    json_out_obj_end(j);
    json_out_obj_end(j);

    json_out_obj_end(j);
    return j->failed ? -ENOMEM : 0;
}

/* ---- table ---------------------------------------------------------- */

#define W_TIME 23
#define W_UID 22
#define W_KIND 4
#define W_ADDR 21
#define W_METHOD 7
#define W_URI 40
#define W_STATUS 6
#define W_BYTES 9

/* Renders b as printable ASCII (others as \xHH) into dst, stopping
 * before the first character that does not fit in max. Returns the
 * length; *all says whether every byte fit. */
static size_t render(char *dst, struct bytes b, size_t max, bool *all)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    *all = false;
    for (uint32_t i = 0; i < b.n; i++) {
        uint8_t c = (uint8_t)b.p[i];
        bool plain = c >= 0x20 && c < 0x7f;
        if (o + (plain ? 1 : 4) > max)
            return o;
        if (plain) {
            dst[o++] = (char)c;
        } else {
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 0xf];
        }
    }
    *all = true;
    return o;
}

/* b as a table field of at most max characters; cut with "..." at the
 * end when longer. */
static void table_field(char *dst, size_t cap, struct bytes b, size_t max)
{
    bool all;
    if (max > cap - 1)
        max = cap - 1;
    size_t o = render(dst, b, max, &all);
    if (!all && max >= 3) {
        o = render(dst, b, max - 3, &all);
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

static void table_addr(char *dst, size_t cap, struct bytes ip, uint16_t port)
{
    char s[64];
    table_field(s, sizeof(s), ip, sizeof(s) - 1);
    bool v6 = memchr(s, ':', strlen(s)) != NULL;
    snprintf(dst, cap, v6 ? "[%s]:%u" : "%s:%u", s, (unsigned)port);
}

int record_table_header(char *buf, size_t size)
{
    return snprintf(buf, size,
                    "%-*s  %-*s  %-*s  %-*s    %-*s  %-*s %-*s  %*s  %*s  %s\n",
                    W_TIME, "TIME (UTC)", W_UID, "UID:IDX", W_KIND, "KIND",
                    W_ADDR, "CLIENT", W_ADDR, "SERVER", W_METHOD, "METHOD",
                    W_URI, "URI", W_STATUS, "STATUS", W_BYTES, "BYTES",
                    "OUTCOME");
}

int record_table_row(char *buf, size_t size, const struct audit_record *r)
{
    bool resp = r->kind == RECORD_RESPONSE;
    time_t sec = (time_t)(r->ts_ns / NS_PER_SEC);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char when[40];
    snprintf(when, sizeof(when), "%04d-%02d-%02d %02d:%02d:%02d.%03u",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (unsigned)(r->ts_ns % NS_PER_SEC / 1000000));
    char uid[40], conn[64], cli[80], srv[80], method[40], uri[W_URI + 1];
    char status[16] = "-", outcome[40] = "-";
    table_field(uid, sizeof(uid), r->uid, 16);
    snprintf(conn, sizeof(conn), "%s:%u", uid, (unsigned)r->idx);
    table_addr(cli, sizeof(cli), r->addr.src_ip, r->addr.src_port);
    table_addr(srv, sizeof(srv), r->addr.dst_ip, r->addr.dst_port);
    table_field(method, sizeof(method), r->method, 16);
    table_field(uri, sizeof(uri), r->uri, W_URI);
    if (resp && r->status)
        snprintf(status, sizeof(status), "%u", (unsigned)r->status);
    if (resp && r->outcome.n)
        table_field(outcome, sizeof(outcome), r->outcome, 16);
    return snprintf(buf, size,
                    "%-*s  %-*s  %-*s  %-*s -> %-*s  %-*s %-*s  %*s  %*" PRIu64
                    "  %s\n",
                    W_TIME, when, W_UID, conn, W_KIND, resp ? "resp" : "req",
                    W_ADDR, cli, W_ADDR, srv, W_METHOD, method, W_URI, uri,
                    W_STATUS, status, W_BYTES, r->body_len, outcome);
}
