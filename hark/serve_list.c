/* serve_list.c - GET /api/records (serve_list.h).
 *
 * The trail is read backwards from `before` (or `until`) as summaries,
 * narrowed by the index when the filter has a status or a path; each row
 * is written as its record comes. One match past the page says whether
 * an older page exists.
 */
#include "serve_list.h"
#include "clock.h"
#include "record_json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct page {
    const struct serve_params *p;
    struct json_out *j;
    uint32_t rows;
    struct serve_key last;        /* of the last row written */
    bool more;
};

static void addr(struct json_out *j, const char *name, struct bytes ip,
                 uint16_t port)
{
    char buf[80];
    bool v6 = memchr(ip.p ? ip.p : "", ':', ip.n) != NULL;
    int n = snprintf(buf, sizeof(buf), v6 ? "[%.*s]:%u" : "%.*s:%u",
                     (int)(ip.n < 60 ? ip.n : 60), ip.p ? ip.p : "",
                     (unsigned)port);
    json_out_key(j, name);
    json_out_str(j, buf, n > 0 && (size_t)n < sizeof(buf) ? (size_t)n : 0);
}

static void opt_str(struct json_out *j, const char *name, struct bytes v)
{
    if (!v.n)
        return;
    json_out_key(j, name);
    json_out_bytes(j, v);
}

/* An outage's row: which stage, why, until when, what it lost. */
static void outage_row(struct json_out *j, const struct audit_record *r)
{
    char ts[40];
    opt_str(j, "stage", r->who);
    opt_str(j, "reason", r->reason);
    json_out_key(j, "until");
    json_out_cstr(j, clock_format_rfc3339(r->until_ns, ts, sizeof(ts)));
    json_out_key(j, "lost");
    record_json_lost(j, r);
    json_out_obj_end(j);
}

void serve_list_row(struct json_out *j, const struct audit_record *r,
                    const struct serve_key *k)
{
    char ts[40], hex[SERVE_KEY_HEX];
    bool resp = r->kind == RECORD_RESPONSE;
    serve_key_hex(k, hex);
    json_out_obj(j);
    json_out_key(j, "key");
    json_out_cstr(j, hex);
    json_out_key(j, "@timestamp");
    json_out_cstr(j, clock_format_rfc3339(r->ts_ns, ts, sizeof(ts)));
    json_out_key(j, "kind");
    json_out_cstr(j, resp                           ? "response"
                     : r->kind == RECORD_OUTAGE ? "outage"
                                                : "request");
    if (r->kind == RECORD_OUTAGE) {
        outage_row(j, r);
        return;
    }
    json_out_key(j, "uid");
    json_out_bytes(j, r->uid);
    json_out_key(j, "idx");
    json_out_u64(j, r->idx);
    addr(j, "client", r->addr.src_ip, r->addr.src_port);
    addr(j, "server", r->addr.dst_ip, r->addr.dst_port);
    opt_str(j, "method", r->method);
    json_out_key(j, "uri");
    json_out_bytes(j, r->uri);
    if (resp && r->status) {
        json_out_key(j, "status");
        json_out_u64(j, r->status);
    }
    if (record_answered(r)) {
        json_out_key(j, "duration_ms");
        json_out_ms(j, r->latency_ns);
    }
    json_out_key(j, "bytes");
    json_out_u64(j, r->body_len);
    if (resp)
        opt_str(j, "outcome", r->outcome);
    json_out_key(j, "flags");
    record_json_flags(j, r->flags);
    opt_str(j, "group", r->route.group);
    opt_str(j, "route", r->route.path);
    opt_str(j, "policy", r->route.policy);
    json_out_obj_end(j);
}

static int add_row(void *ctx, const struct audit_record *r,
                   const struct serve_key *k, uint64_t seq)
{
    struct page *pg = ctx;
    if (!serve_params_match(pg->p, r))
        return 1;
    if (pg->rows == pg->p->limit) {
        pg->more = true;
        return 0;
    }
    serve_list_row(pg->j, r, k);
    pg->last = *k;
    pg->rows++;
    return 1;
}

void serve_list(serve_source_t *s, const struct serve_params *p,
                struct serve_reply *out)
{
    struct json_out *j = &out->json;
    struct page pg = { .p = p, .j = j };
    char err[512];
    uint64_t t0 = clock_mono_ns();
    struct serve_scan q = {
        .since_ns = p->since_ns, .until_ns = p->until_ns,
        .after = (p->given & SP_BEFORE) ? &p->before : NULL,
        .reverse = true, .summaries = true, .narrow = p,
    };
    json_out_obj(j);
    json_out_key(j, "records");
    json_out_arr(j);
    int rc = serve_source_scan(s, &q, add_row, &pg, err, sizeof(err));
    if (rc < 0) {
        serve_reply_error(out, 500, err);
        return;
    }
    json_out_arr_end(j);
    json_out_key(j, "next");
    if (pg.more) {
        char hex[SERVE_KEY_HEX];
        serve_key_hex(&pg.last, hex);
        json_out_cstr(j, hex);
    } else {
        json_out_json(j, "null", 4);
    }
    json_out_key(j, "live");
    json_out_bool(j, serve_source_live(s));
    json_out_key(j, "ms");
    json_out_ms(j, clock_mono_ns() - t0);
    json_out_obj_end(j);
}
