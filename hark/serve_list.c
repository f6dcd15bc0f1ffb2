/* serve_list.c - GET /api/records (serve_list.h).
 *
 * The trail is read forward, in key order, from `since` up to `before`
 * (or `until`); the keys of the last limit + 1 matching records stay in
 * a ring, and the page is those records read again by key, newest
 * first. The extra one says whether an older page exists.
 */
#include "serve_list.h"
#include "clock.h"
#include "record_json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct ring {
    const struct serve_params *p;
    struct serve_key *keys;       /* limit + 1 of them */
    size_t cap, n, head;          /* head: the oldest */
};

static int key_cmp(const struct serve_key *a, const struct serve_key *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    int c = memcmp(a->b, b->b, n);
    return c ? c : (a->n > b->n) - (a->n < b->n);
}

static int remember(void *ctx, const struct audit_record *r,
                    const struct serve_key *k)
{
    struct ring *ring = ctx;
    if ((ring->p->given & SP_BEFORE) && key_cmp(k, &ring->p->before) >= 0)
        return 0; /* keys go up: the rest are newer still */
    if (!serve_params_match(ring->p, r))
        return 1;
    if (ring->n < ring->cap) {
        ring->keys[(ring->head + ring->n++) % ring->cap] = *k;
    } else {
        ring->keys[ring->head] = *k;
        ring->head = (ring->head + 1) % ring->cap;
    }
    return 1;
}

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
    json_out_cstr(j, resp ? "response" : "request");
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
        json_out_key(j, "duration_ms");
        json_out_ms(j, r->latency_ns);
    }
    json_out_key(j, "bytes");
    json_out_u64(j, r->body_len);
    if (resp)
        opt_str(j, "outcome", r->outcome);
    json_out_key(j, "flags");
    json_out_arr(j);
    for (unsigned i = 0; i < MSG_FLAG_COUNT; i++)
        if (r->flags & (1u << i))
            json_out_cstr(j, msg_flag_names[i]);
    json_out_arr_end(j);
    opt_str(j, "group", r->route.group);
    opt_str(j, "route", r->route.path);
    opt_str(j, "policy", r->route.policy);
    json_out_obj_end(j);
}

static int write_row(void *ctx, const struct audit_record *r,
                     const struct serve_key *k)
{
    serve_list_row(ctx, r, k);
    return 0;
}

void serve_list(serve_source_t *s, const struct serve_params *p,
                struct serve_reply *out)
{
    struct ring ring = { .p = p, .cap = p->limit + 1u };
    char err[512];
    if (!(ring.keys = calloc(ring.cap, sizeof(*ring.keys)))) {
        serve_reply_error(out, 500, "out of memory");
        return;
    }
    uint64_t t0 = clock_mono_ns();
    struct serve_scan q = { p->since_ns, p->until_ns, NULL };
    if ((p->given & SP_BEFORE) && serve_key_ts(&p->before) < q.until_ns)
        q.until_ns = serve_key_ts(&p->before) + 1;
    int rc = serve_source_scan(s, &q, remember, &ring, err, sizeof(err));
    if (rc < 0) {
        serve_reply_error(out, 500, err);
        free(ring.keys);
        return;
    }
    struct json_out *j = &out->json;
    size_t shown = ring.n < p->limit ? ring.n : p->limit;
    json_out_obj(j);
    json_out_key(j, "records");
    json_out_arr(j);
    for (size_t i = 0; i < shown && rc >= 0; i++) {
        const struct serve_key *k =
            &ring.keys[(ring.head + ring.n - 1 - i) % ring.cap];
        rc = serve_source_get(s, k, write_row, j, err, sizeof(err));
    }
    json_out_arr_end(j);
    json_out_key(j, "next");
    if (ring.n > p->limit) {
        char hex[SERVE_KEY_HEX];
        serve_key_hex(&ring.keys[(ring.head + 1) % ring.cap], hex);
        json_out_cstr(j, hex);
    } else {
        json_out_json(j, "null", 4);
    }
    json_out_key(j, "live");
    json_out_bool(j, serve_source_live(s));
    json_out_key(j, "ms");
    json_out_ms(j, clock_mono_ns() - t0);
    json_out_obj_end(j);
    free(ring.keys);
    if (rc < 0)
        serve_reply_error(out, 500, err);
}
