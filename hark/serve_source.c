/* serve_source.c - the trail at rest, or the logger's query socket.
 *
 * At rest a scan is a store_scan (store_index.h) of the trail, opened as
 * a view (store_view.h) and kept from request to request until the
 * trail's directory changes (a view is cheap to keep, but each open
 * replays the log the logger left); live it is the same scan asked of
 * the logger in pages of
 * the query protocol (store_query.h), with each record's key and chain
 * entry. The REQ socket is made again after any failure (a REQ socket
 * that lost its reply cannot send again).
 */
#include "serve_source.h"
#include "curve.h"
#include "errbuf.h"
#include "store_index.h"
#include "store_query.h"
#include "store_view.h"
#include "topology.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#define SOURCE_TIMEOUT_MS 10000

struct serve_source {
    const struct config *cfg;
    store_t *store;               /* the trail at rest, while unchanged */
    struct stat stamp;            /* its directory when it was opened */
    bool live;
    void *zctx, *sock;            /* the logger's query socket */
    char ep[4200];
    store_decoder_t *dec;
    msgpack_sbuffer req;
    zmq_msg_t msg;                /* the logger's last reply */
};

serve_source_t *serve_source_new(const struct config *cfg)
{
    serve_source_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->cfg = cfg;
    msgpack_sbuffer_init(&s->req);
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
    char why[512];
    s->sock = zmq_socket(s->zctx, ZMQ_REQ);
    /* a tcp:// query socket is a CURVE server: this machine's keys */
    if (s->sock && curve_connect_setup(s->zctx, s->cfg, s->sock, s->ep, why,
                                       sizeof(why)) < 0) {
        errbuf_set(err, errlen, "%s", why);
        drop_socket(s);
        return -EIO;
    }
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

/* True when the trail open at rest is still the trail: nobody holds it
 * and its directory is as it was (a logger that opens it makes a new
 * log file there at once). */
static bool unchanged(const serve_source_t *s, const char *path)
{
    struct stat st;
    return s->store && stat(path, &st) == 0 && st.st_dev == s->stamp.st_dev &&
           st.st_ino == s->stamp.st_ino &&
           st.st_mtim.tv_sec == s->stamp.st_mtim.tv_sec &&
           st.st_mtim.tv_nsec == s->stamp.st_mtim.tv_nsec &&
           !store_view_held(path);
}

int serve_source_open(serve_source_t *s, char *err, size_t errlen)
{
    const char *path = s->cfg->logger.db;
    char why[512] = "";
    if (unchanged(s, path))
        return 0;
    store_close(&s->store);
    struct stat st;
    int rc = stat(path, &st) == 0 ? 0 : -ENOENT;
    if (rc == 0)
        rc = store_open(path, 0, &s->store, why, sizeof(why));
    if (rc == 0) {
        s->stamp = st;
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
    /* at rest the trail stays open for the next request (unchanged());
     * live there is nothing to let go of */
    (void)s;
}

bool serve_source_live(const serve_source_t *s)
{
    return s->live;
}

int serve_source_indexed(const serve_source_t *s)
{
    return s->store ? store_indexed(s->store) : -1;
}

const char *serve_source_path(const serve_source_t *s)
{
    return s->cfg->logger.db;
}

/* Sends the request in s->req to the logger; its reply is then in
 * s->msg. 0 or -EIO with err. */
static int ask_logger(serve_source_t *s, char *err, size_t errlen)
{
    if (!s->sock && connect_logger(s, err, errlen) < 0)
        return -EIO;
    zmq_msg_close(&s->msg);
    zmq_msg_init(&s->msg);
    if (zmq_send(s->sock, s->req.data, s->req.size, 0) < 0 ||
        zmq_msg_recv(&s->msg, s->sock, 0) < 0) {
        errbuf_set(err, errlen, "the trail is locked by the logger, and "
                   "its query socket %s did not answer: %s", s->ep,
                   zmq_strerror(errno));
        drop_socket(s);
        return -EIO;
    }
    return 0;
}

/* The scan's store options. */
static struct store_scan_opts scan_opts(const struct serve_scan *q)
{
    struct store_scan_opts o = {
        .since_ns = q->since_ns, .until_ns = q->until_ns,
        .reverse = q->reverse, .summaries = q->summaries,
        .after = q->after ? q->after->b : NULL,
        .after_len = q->after ? q->after->n : 0,
    };
    const struct serve_params *p = q->narrow;
    if (p && (p->given & SP_KIND))
        o.kind = p->kind;
    if (p && (p->given & SP_STATUS)) {
        o.by_status = true;
        o.status_lo = p->status_lo;
        o.status_hi = p->status_hi;
    }
    if (p && (p->given & SP_PATH)) {
        o.path = p->path;
        o.path_len = strlen(p->path);
    }
    return o;
}

static int scan_local(serve_source_t *s, const struct serve_scan *q,
                      serve_visit_fn visit, void *ctx, char *err,
                      size_t errlen)
{
    struct store_scan_opts o = scan_opts(q);
    store_scan_t *sc = store_scan_new(s->store, &o);
    if (!sc) {
        errbuf_set(err, errlen, "out of memory");
        return -ENOMEM;
    }
    struct audit_record r;
    struct serve_key key;
    int rc;
    while ((rc = store_scan_next(sc, &r)) != 0) {
        if (rc == -EBADMSG)
            continue; /* `hark verify` names it; the page cannot */
        if (rc < 0) {
            errbuf_set(err, errlen, "reading the trail: %s",
                       store_scan_error(sc));
            break;
        }
        const void *k = store_scan_key(sc, &key.n);
        memcpy(key.b, k, key.n);
        if ((rc = visit(ctx, &r, &key, store_scan_seq(sc))) <= 0)
            break;
    }
    store_scan_destroy(&sc);
    return rc;
}

/* One page of the logger's answer: visits its records, and says where
 * the next page starts (after->n 0 when done). */
static int visit_page(serve_source_t *s, struct serve_key *after,
                      serve_visit_fn visit, void *ctx, char *err,
                      size_t errlen)
{
    char why[256];
    uint32_t n;
    const void *next;
    size_t next_len;
    if (store_reply_read(s->dec, zmq_msg_data(&s->msg),
                         zmq_msg_size(&s->msg), &n, &next, &next_len, why,
                         sizeof(why)) < 0) {
        errbuf_set(err, errlen, "the logger answered: %s", why);
        return -EIO;
    }
    after->n = 0;
    if (next && next_len <= sizeof(after->b)) {
        memcpy(after->b, next, next_len);
        after->n = next_len;
    }
    for (uint32_t i = 0; i < n; i++) {
        struct audit_record r;
        struct serve_key key;
        const void *k;
        uint64_t seq;
        if (store_reply_record(s->dec, i, &r) < 0 ||
            store_reply_key(s->dec, i, &k, &key.n, &seq) < 0)
            continue;
        memcpy(key.b, k, key.n);
        int rc = visit(ctx, &r, &key, seq);
        if (rc <= 0)
            return rc;
    }
    return 1;
}

static int scan_remote(serve_source_t *s, const struct serve_scan *q,
                       serve_visit_fn visit, void *ctx, char *err,
                       size_t errlen)
{
    struct store_scan_opts o = scan_opts(q);
    struct store_query_scan c = {
        .reverse = q->reverse, .summaries = q->summaries, .keys = true,
        .kind = o.kind, .by_status = o.by_status, .status_lo = o.status_lo,
        .status_hi = o.status_hi, .path = o.path, .path_len = o.path_len,
    };
    struct serve_key after = { .n = 0 };
    if (q->after)
        after = *q->after;
    for (;;) {
        struct store_query sq = { q->since_ns, q->until_ns, 0,
                                  after.n ? after.b : NULL, after.n };
        if (store_query_encode_scan(&s->req, &sq, &c) < 0) {
            errbuf_set(err, errlen, "out of memory");
            return -ENOMEM;
        }
        int rc = ask_logger(s, err, errlen);
        if (rc == 0)
            rc = visit_page(s, &after, visit, ctx, err, errlen);
        if (rc <= 0 || !after.n)
            return rc < 0 ? rc : 0;
    }
}

int serve_source_scan(serve_source_t *s, const struct serve_scan *q,
                      serve_visit_fn visit, void *ctx, char *err,
                      size_t errlen)
{
    int rc = s->store ? scan_local(s, q, visit, ctx, err, errlen)
                      : scan_remote(s, q, visit, ctx, err, errlen);
    return rc < 0 ? rc : 0;
}

struct get_ctx {
    const struct serve_key *want;
    serve_visit_fn visit;
    void *ctx;
    int found;
};

static int get_visit(void *ctx, const struct audit_record *r,
                     const struct serve_key *key, uint64_t seq)
{
    struct get_ctx *g = ctx;
    if (key->n != g->want->n || memcmp(key->b, g->want->b, key->n))
        return 1;
    int rc = g->visit(g->ctx, r, key, seq);
    g->found = rc < 0 ? rc : 1;
    return 0;
}

int serve_source_get(serve_source_t *s, const struct serve_key *key,
                     serve_visit_fn visit, void *ctx, char *err,
                     size_t errlen)
{
    uint64_t ts = serve_key_ts(key);
    struct get_ctx g = { key, visit, ctx, 0 };
    struct serve_scan q = { .since_ns = ts, .until_ns = ts + 1 };
    int rc = serve_source_scan(s, &q, get_visit, &g, err, errlen);
    return rc < 0 ? rc : g.found;
}

int serve_source_proof(serve_source_t *s, const struct serve_key *key,
                       uint64_t seq, struct store_proof *out)
{
    char err[256];
    memset(out, 0, sizeof(*out));
    if (s->store)
        return store_proof(s->store, key->b, key->n, seq, out);
    if (store_query_encode_proof(&s->req, key->b, key->n, seq) < 0)
        return -ENOMEM;
    int rc = ask_logger(s, err, sizeof(err));
    if (rc < 0)
        return rc;
    rc = store_reply_proof(s->dec, zmq_msg_data(&s->msg),
                           zmq_msg_size(&s->msg), out, err, sizeof(err));
    return rc == -EREMOTEIO || rc == -EBADMSG ? -EIO : rc;
}
