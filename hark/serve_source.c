/* serve_source.c - the trail at rest, or the logger's query socket.
 *
 * Every read is a query of the protocol in store_query.h: asked of the
 * store itself (store_query_serve() on a trail opened for this request)
 * or sent to the logger, and its reply read the same way. The REQ socket
 * is made again after any failure (a REQ socket that lost its reply
 * cannot send again).
 */
#include "serve_source.h"
#include "errbuf.h"
#include "store_query.h"
#include "topology.h"
#include "uid.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define SOURCE_TIMEOUT_MS 10000

struct serve_source {
    const struct config *cfg;
    store_t *store;               /* open during a request, at rest */
    bool live;
    void *zctx, *sock;            /* the logger's query socket */
    char ep[4200];
    store_decoder_t *dec;
    msgpack_sbuffer req, reply;
    zmq_msg_t msg;                /* the logger's last reply */
};

serve_source_t *serve_source_new(const struct config *cfg)
{
    serve_source_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->cfg = cfg;
    msgpack_sbuffer_init(&s->req);
    msgpack_sbuffer_init(&s->reply);
    zmq_msg_init(&s->msg);
    if (!(s->dec = store_decoder_new()) || !(s->zctx = zmq_ctx_new()))
        serve_source_destroy(&s);
    return s;
}

static void drop_socket(serve_source_t *s)
{
    if (s->sock)
        zmq_close(s->sock);
    s->sock = NULL;
}

void serve_source_destroy(serve_source_t **sp)
{
    if (!sp || !*sp)
        return;
    serve_source_t *s = *sp;
    store_close(&s->store);
    drop_socket(s);
    if (s->zctx)
        zmq_ctx_term(s->zctx);
    zmq_msg_close(&s->msg);
    store_decoder_destroy(&s->dec);
    msgpack_sbuffer_destroy(&s->req);
    msgpack_sbuffer_destroy(&s->reply);
    free(s);
    *sp = NULL;
}

static int connect_logger(serve_source_t *s, char *err, size_t errlen)
{
    if (s->sock)
        return 0;
    if (!topology_query(s->cfg, s->ep, sizeof(s->ep))) {
        errbuf_set(err, errlen, "the logger's query endpoint does not fit");
        return -EIO;
    }
    int linger = 0, tmo = SOURCE_TIMEOUT_MS;
    s->sock = zmq_socket(s->zctx, ZMQ_REQ);
    if (!s->sock ||
        zmq_setsockopt(s->sock, ZMQ_LINGER, &linger, sizeof(linger)) ||
        zmq_setsockopt(s->sock, ZMQ_RCVTIMEO, &tmo, sizeof(tmo)) ||
        zmq_setsockopt(s->sock, ZMQ_SNDTIMEO, &tmo, sizeof(tmo)) ||
        zmq_connect(s->sock, s->ep)) {
        errbuf_set(err, errlen, "cannot connect to the logger at %s: %s",
                   s->ep, zmq_strerror(errno));
        drop_socket(s);
        return -EIO;
    }
    return 0;
}

int serve_source_open(serve_source_t *s, char *err, size_t errlen)
{
    const char *path = s->cfg->logger.db;
    char why[512] = "";
    serve_source_close(s);
    int rc = store_open(path, 0, &s->store, why, sizeof(why));
    if (rc == 0) {
        s->live = false;
        return 0;
    }
    if (rc == -EBUSY) {
        s->live = true;
        return connect_logger(s, err, errlen);
    }
    if (rc == -ENOENT)
        errbuf_set(err, errlen, "no audit trail at %s yet", path);
    else
        errbuf_set(err, errlen, "cannot open the audit trail %s: %s", path,
                   rc == -ENOMEM ? "out of memory" : why);
    return rc == -ENOENT ? -ENOENT : -EIO;
}

void serve_source_close(serve_source_t *s)
{
    store_close(&s->store);
}

bool serve_source_live(const serve_source_t *s)
{
    return s->live;
}

const char *serve_source_path(const serve_source_t *s)
{
    return s->cfg->logger.db;
}

/* Asks q of the trail or the logger; the reply is then in s->dec. *n
 * gets its record count, next/next_len where the range goes on (NULL
 * when done). 0 or -errno with err. */
static int ask(serve_source_t *s, const struct store_query *q, uint32_t *n,
               const void **next, size_t *next_len, char *err,
               size_t errlen)
{
    if (store_query_encode(&s->req, q) < 0) {
        errbuf_set(err, errlen, "out of memory");
        return -ENOMEM;
    }
    const void *reply;
    size_t len;
    if (s->store) {
        if (store_query_serve(s->store, s->req.data, s->req.size,
                              &s->reply) < 0) {
            errbuf_set(err, errlen, "out of memory");
            return -ENOMEM;
        }
        reply = s->reply.data;
        len = s->reply.size;
    } else {
        if (!s->sock && connect_logger(s, err, errlen) < 0)
            return -EIO;
        zmq_msg_close(&s->msg);
        zmq_msg_init(&s->msg);
        if (zmq_send(s->sock, s->req.data, s->req.size, 0) < 0 ||
            zmq_msg_recv(&s->msg, s->sock, 0) < 0) {
            errbuf_set(err, errlen, "the trail is locked by the logger, "
                       "and its query socket %s did not answer: %s", s->ep,
                       zmq_strerror(errno));
            drop_socket(s);
            return -EIO;
        }
        reply = zmq_msg_data(&s->msg);
        len = zmq_msg_size(&s->msg);
    }
    char why[256];
    if (store_reply_read(s->dec, reply, len, n, next, next_len, why,
                         sizeof(why)) < 0) {
        errbuf_set(err, errlen, "reading the trail: %s", why);
        return -EIO;
    }
    return 0;
}

/* The trail's key of r (store.h's layout); dup is its suffix, 0 for
 * none. Replies carry records, not keys: the key is worked out again. */
static void key_of(const struct audit_record *r, uint32_t dup,
                   struct serve_key *k)
{
    uint64_t parts[3] = { r->ts_ns, uid_value(r->uid), r->idx };
    int widths[3] = { 8, 8, 4 };
    size_t at = 1;
    k->b[0] = 't';
    for (int i = 0; i < 3; i++)
        for (int b = widths[i] - 1; b >= 0; b--)
            k->b[at++] = (uint8_t)(parts[i] >> (8 * b));
    k->b[at++] = (uint8_t)r->kind;
    if (dup)
        for (int b = 3; b >= 0; b--)
            k->b[at++] = (uint8_t)(dup >> (8 * b));
    k->n = at;
}

int serve_source_scan(serve_source_t *s, const struct serve_scan *q,
                      serve_visit_fn visit, void *ctx, char *err,
                      size_t errlen)
{
    struct serve_key after, key, base = { .n = 0 };
    uint32_t dup = 0;
    if (q->after)
        after = *q->after;
    bool have_after = q->after != NULL;
    for (;;) {
        struct store_query sq = { q->since_ns, q->until_ns, 0,
                                  have_after ? after.b : NULL,
                                  have_after ? after.n : 0 };
        uint32_t n;
        const void *next;
        size_t next_len;
        int rc = ask(s, &sq, &n, &next, &next_len, err, errlen);
        if (rc < 0)
            return rc;
        if (next && next_len <= sizeof(after.b)) {
            memcpy(after.b, next, next_len);
            after.n = next_len;
            have_after = true;
        } else {
            next = NULL;
        }
        for (uint32_t i = 0; i < n; i++) {
            struct audit_record r;
            if (store_reply_record(s->dec, i, &r) < 0)
                continue; /* `hark verify` names it; the page cannot */
            key_of(&r, 0, &key);
            /* distinct records with one key: the suffix counts up */
            dup = base.n == key.n && !memcmp(base.b, key.b, key.n) ? dup + 1
                                                                    : 0;
            base = key;
            if (dup)
                key_of(&r, dup, &key);
            if ((rc = visit(ctx, &r, &key)) <= 0)
                return rc;
        }
        if (!next)
            return 0;
    }
}

struct get_ctx {
    const struct serve_key *want;
    serve_visit_fn visit;
    void *ctx;
    int found;
};

static int get_visit(void *ctx, const struct audit_record *r,
                     const struct serve_key *key)
{
    struct get_ctx *g = ctx;
    if (key->n != g->want->n || memcmp(key->b, g->want->b, key->n))
        return 1;
    int rc = g->visit(g->ctx, r, key);
    g->found = rc < 0 ? rc : 1;
    return 0;
}

int serve_source_get(serve_source_t *s, const struct serve_key *key,
                     serve_visit_fn visit, void *ctx, char *err,
                     size_t errlen)
{
    uint64_t ts = serve_key_ts(key);
    struct get_ctx g = { key, visit, ctx, 0 };
    struct serve_scan q = { ts, ts + 1, NULL };
    int rc = serve_source_scan(s, &q, get_visit, &g, err, errlen);
    return rc < 0 ? rc : g.found;
}

int serve_source_proof(serve_source_t *s, const struct serve_key *key,
                       struct store_proof *out)
{
    memset(out, 0, sizeof(*out));
    if (!s->store)
        return -EOPNOTSUPP;
    return store_proof(s->store, key->b, key->n, 0, out);
}
