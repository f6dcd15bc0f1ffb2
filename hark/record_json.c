/* record_json.c - an audit record as one JSON line with ECS names.
 *
 * The key order is fixed (see record_json()) so the same trail gives the
 * same bytes; all text goes through the JSON writer's escaper.
 */
#include "record_json.h"
#include "clock.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

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

bool record_answered(const struct audit_record *r)
{
    return r->kind == RECORD_RESPONSE &&
           (r->status != 0 || bytes_eq(r->outcome, "ok"));
}

const char *record_event_outcome(const struct audit_record *r)
{
    if (r->kind != RECORD_RESPONSE)
        return "unknown";
    if (r->status == 0 && record_answered(r))
        return "success";
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

/* Opens event {kind "event", category [category], type [type], action,
 * outcome}; the caller adds the rest and closes it. */
static void event_open(struct json_out *j, const char *category,
                       const char *type, const char *action,
                       const char *outcome)
{
    json_out_key(j, "event");
    json_out_obj(j);
    json_out_key(j, "kind");
    json_out_cstr(j, "event");
    json_out_key(j, "category");
    json_out_arr(j);
    json_out_cstr(j, category);
    json_out_arr_end(j);
    json_out_key(j, "type");
    json_out_arr(j);
    json_out_cstr(j, type);
    json_out_arr_end(j);
    json_out_key(j, "action");
    json_out_cstr(j, action);
    json_out_key(j, "outcome");
    json_out_cstr(j, outcome);
}

/* event {kind, category, type, action, outcome, duration?} */
static void json_event(struct json_out *j, const struct audit_record *r)
{
    bool resp = r->kind == RECORD_RESPONSE;
    event_open(j, "web", "access", resp ? "response" : "request",
               record_event_outcome(r));
    if (record_answered(r))
        key_u64(j, "duration", r->latency_ns);
    json_out_obj_end(j);
}

/* url {original, path?, query?, fragment?, domain?, port?} */
static void json_url(struct json_out *j, const struct audit_record *r)
{
    struct url_parts u;
    urlsplit(r->uri, &u);
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
}

/* http {version?, request? {method?, body {bytes}}, response?
 *       {status_code?, body {bytes}}} */
static void json_http(struct json_out *j, const struct audit_record *r)
{
    bool resp = r->kind == RECORD_RESPONSE;
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
    if (record_answered(r)) {
        json_out_key(j, "response");
        json_out_obj(j);
        if (r->status != 0) /* none in an HTTP/0.9 answer */
            key_u64(j, "status_code", r->status);
        body_bytes(j, r->body_len);
        json_out_obj_end(j);
    }
    json_out_obj_end(j);
}

void record_json_flags(struct json_out *j, uint32_t flags)
{
    json_out_arr(j);
    for (unsigned i = 0; i < MSG_FLAG_COUNT; i++)
        if (flags & (1u << i))
            json_out_cstr(j, msg_flag_names[i]);
    json_out_arr_end(j);
}

/* The message as captured: flags, headers, body {captured, content? |
 * base64?}. */
static void json_message(struct json_out *j, const struct audit_record *r)
{
    json_out_key(j, "flags");
    record_json_flags(j, r->flags);
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
    if (r->body.n && json_out_is_text(r->body.p, r->body.n)) {
        key_str(j, "content", r->body);
    } else if (r->body.n) {
        json_out_key(j, "base64");
        json_out_base64(j, r->body.p, r->body.n);
    }
    json_out_obj_end(j);
}

/* hark {uid, idx, service_group?, route?, policy?, step?, outcome?,
 *       reason?, flags, headers, body} */
static void json_hark(struct json_out *j, const struct audit_record *r)
{
    json_out_key(j, "hark");
    json_out_obj(j);
    key_str(j, "uid", r->uid);
    key_u64(j, "idx", r->idx);
    key_str_opt(j, "service_group", r->route.group);
    key_str_opt(j, "route", r->route.path);
    key_str_opt(j, "policy", r->route.policy);
    key_str_opt(j, "step", r->step);
    if (r->kind == RECORD_RESPONSE) {
        key_str_opt(j, "outcome", r->outcome);
        key_str_opt(j, "reason", r->reason);
    }
    json_message(j, r);
    json_out_obj_end(j);
}

/* An outage (a stage that died):
 *   @timestamp (when the loss may begin)
 *   event {kind, category, type, action "outage", outcome "failure",
 *          end, duration}
 *   hark {outage {stage, reason, lost {name: count...}}} */
void record_json_lost(struct json_out *j, const struct audit_record *r)
{
    json_out_obj(j);
    for (uint32_t i = 0; i < r->n_lost; i++) {
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)r->lost[i].name.n,
                 r->lost[i].name.p ? r->lost[i].name.p : "");
        key_u64(j, name, r->lost[i].n);
    }
    json_out_obj_end(j);
}

static int outage_json(struct json_out *j, const struct audit_record *r)
{
    char ts[40], end[40];
    clock_format_rfc3339(r->ts_ns, ts, sizeof(ts));
    clock_format_rfc3339(r->until_ns, end, sizeof(end));
    json_out_obj(j);
    json_out_key(j, "@timestamp");
    json_out_cstr(j, ts);
    event_open(j, "process", "end", "outage", "failure");
    json_out_key(j, "end");
    json_out_cstr(j, end);
    key_u64(j, "duration",
            r->until_ns > r->ts_ns ? r->until_ns - r->ts_ns : 0);
    json_out_obj_end(j);
    json_out_key(j, "hark");
    json_out_obj(j);
    json_out_key(j, "outage");
    json_out_obj(j);
    key_str(j, "stage", r->who);
    key_str(j, "reason", r->reason);
    json_out_key(j, "lost");
    record_json_lost(j, r);
    json_out_obj_end(j);
    json_out_obj_end(j);
    json_out_obj_end(j);
    return j->failed ? -ENOMEM : 0;
}

/* Key order (fixed; optional keys are left out, never reordered):
 *   @timestamp
 *   event {kind, category, type, action, outcome, duration?}
 *   source {ip?, port?}  destination {ip?, port?}
 *   network {transport, protocol}
 *   url {original, path?, query?, fragment?, domain?, port?}
 *   http {version?, request? {method?, body {bytes}}, response?
 *         {status_code?, body {bytes}}}
 *   hark {uid, idx, service_group?, route?, policy?, step?, outcome?,
 *         reason?, flags, headers, body {captured, content? | base64?}}
 * Requests carry http.request.body; responses carry http.request.method
 * as context and http.response (left out when no response came, as for
 * a timeout). event.duration is the response latency in ns. */
int record_json(struct json_out *j, const struct audit_record *r)
{
    if (r->kind == RECORD_OUTAGE)
        return outage_json(j, r);
    char ts[40];
    clock_format_rfc3339(r->ts_ns, ts, sizeof(ts));
    json_out_obj(j);
    json_out_key(j, "@timestamp");
    json_out_cstr(j, ts);
    json_event(j, r);
    endpoint(j, "source", r->addr.src_ip, r->addr.src_port);
    endpoint(j, "destination", r->addr.dst_ip, r->addr.dst_port);
    json_out_key(j, "network");
    json_out_obj(j);
    json_out_key(j, "transport");
    json_out_cstr(j, "tcp");
    json_out_key(j, "protocol");
    json_out_cstr(j, "http");
    json_out_obj_end(j);
    json_url(j, r);
    json_http(j, r);
    json_hark(j, r);
    json_out_obj_end(j);
    return j->failed ? -ENOMEM : 0;
}
