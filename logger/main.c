/* main.c - hark-logger: "Log Message" / "Log Message Payload" into the
 * audit trail.
 *
 * Appends every record of every `log` frame to the LevelDB trail
 * (common/store.h) in write batches: a batch is committed when it holds
 * logger.batch records, when the input has been quiet for 100 ms or its
 * oldest record is a second old (a live trail shows up quickly), and at
 * the end with fsync. While it holds the trail (LevelDB's lock keeps
 * everyone else out) it answers `hark query` on a REP socket: one page
 * of stored records per request, see store_query_serve().
 *
 * A batch that cannot be written stays pending and is retried each
 * second; meanwhile no input is read, so the pipeline backs up instead
 * of losing records.
 *
 * The input is acknowledged (producers.h): a batch is committed only at
 * a frame boundary, with each producer's last frame in it, and then
 * acknowledged; what a producer sends again is taken once. Records are
 * counted when committed, so the counts summed over restarts are what
 * the trail holds.
 */
#include "clock.h"
#include "input.h"
#include "log.h"
#include "producers.h"
#include "stage.h"
#include "store.h"
#include "store_query.h"
#include "upstream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define IDLE_COMMIT_MS 100
#define MAX_AGE_MS 1000
#define RETRY_MS 1000

struct logger {
    struct stage st;
    upstream_t *up;
    store_t *store;
    producers_t *producers;
    input_t *in;
    int commit_timer;
    void *rep;
    frame_reader_t *reader;
    msgpack_sbuffer reply;
    uint32_t batch;
    uint64_t first_pending_ns;    /* monotonic: oldest uncommitted frame */
    uint64_t pending_kind[3];     /* uncommitted records by kind - 1 */
    bool failing;
    bool commit_now;              /* an eof waits for its acknowledgement */
    struct log_limit bad_record, write_error;
    uint64_t *records, *requests, *responses, *outages, *batches,
        *bytes_written,
        *records_malformed, *records_other,
        *records_failed, *commit_errors, *queries;
};

static bool anything_pending(const struct logger *l)
{
    return store_pending(l->store) || producers_pending(l->producers);
}

/* Counts what a commit made durable. */
static void count_committed(struct logger *l)
{
    uint64_t *by_kind[3] = { l->requests, l->responses, l->outages };
    for (unsigned k = 0; k < 3; k++) {
        *by_kind[k] += l->pending_kind[k];
        *l->records += l->pending_kind[k];
        l->pending_kind[k] = 0;
    }
}

/* Writes the pending batch and acknowledges the frames it covers. On
 * failure it stays pending for a retry. */
static int commit(struct logger *l, bool sync)
{
    if (!anything_pending(l))
        return 0;
    char err[512] = "";
    int rc = producers_stage(l->producers);
    if (rc == 0)
        rc = store_commit(l->store, sync, err, sizeof(err));
    else
        snprintf(err, sizeof(err), "%s", strerror(-rc));
    if (rc < 0) {
        (*l->commit_errors)++;
        log_limited(&l->write_error, LOG_ERROR,
                    "cannot write the audit trail %s: %s (%u records "
                    "pending; retrying)",
                    l->st.cfg->logger.db, err, store_pending(l->store));
        if (!l->failing)
            input_pause(l->in, true); /* back up instead of losing */
        l->failing = true;
        loop_timer_arm(l->st.loop, l->commit_timer, RETRY_MS, false);
        return rc;
    }
    if (l->failing)
        input_pause(l->in, false);
    l->failing = false;
    producers_committed(l->producers);
    count_committed(l);
    (*l->batches)++;
    *l->bytes_written = store_bytes_written(l->store);
    return 0;
}

static void on_records(struct logger *l, const struct frame *f)
{
    for (uint32_t i = 0; i < f->n_items; i++) {
        struct audit_record r;
        if (frame_item_record(l->reader, f, i, &r) != 0) {
            (*l->records_malformed)++;
            log_limited(&l->bad_record, LOG_WARN,
                        "dropped a malformed record from %.*s",
                        (int)f->src.n, f->src.p);
            continue;
        }
        int rc = store_put(l->store, &r);
        if (rc < 0) {
            (*l->records_failed)++;
            log_limited(&l->write_error, LOG_ERROR,
                        "cannot add a record to the batch: %s",
                        strerror(-rc));
            continue;
        }
        l->pending_kind[r.kind - 1]++;
    }
}

/* Takes frames in order from each producer (producers.h); the first
 * frame of a batch arms the commit timer (an eof or an empty frame has
 * to be committed, and acknowledged, too). */
static bool admit(void *ctx, const struct frame *f, struct bytes peer)
{
    struct logger *l = ctx;
    bool first = !anything_pending(l);
    if (!producers_admit(l->producers, f, peer))
        return false;
    if (first && !l->failing) {
        l->first_pending_ns = clock_mono_ns();
        loop_timer_arm(l->st.loop, l->commit_timer, IDLE_COMMIT_MS, true);
    }
    /* A producer that sent eof waits for its acknowledgement to exit. */
    if (f->type == FRAME_EOF && !l->failing) {
        l->commit_now = true;
        loop_timer_arm(l->st.loop, l->commit_timer, 0, true);
    }
    return true;
}

static int on_frame(void *ctx, const struct frame *f)
{
    struct logger *l = ctx;
    if (f->type == FRAME_LOG)
        on_records(l, f);
    else
        (*l->records_other)++;
    /* A batch ends at a frame boundary: a frame is committed whole, so
     * its producer's seq says exactly what the trail holds. */
    if (store_pending(l->store) >= l->batch)
        commit(l, l->st.cfg->logger.sync);
    return 0;
}

static int reply(void *ctx, struct bytes peer, const void *body, size_t len)
{
    struct logger *l = ctx;
    return input_reply(l->in, peer, FRAME_ACK, body, len);
}

/* The input ended; main() makes the last, synced commit. */
static int on_end(void *ctx, const struct frame *f)
{
    return 0;
}

static const struct input_ops logger_ops = { on_frame, on_end, NULL };

/* One request on the query socket, one reply (REP must always answer). */
static int serve_query(loop_t *loop, void *ctx)
{
    struct logger *l = ctx;
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, l->rep, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return 0;
    }
    /* Only the first part is the request; take the rest off the socket. */
    int more = 0;
    size_t ml = sizeof(more);
    zmq_msg_t extra;
    zmq_msg_init(&extra);
    while (zmq_getsockopt(l->rep, ZMQ_RCVMORE, &more, &ml) == 0 && more &&
           zmq_msg_recv(&extra, l->rep, ZMQ_DONTWAIT) >= 0)
        ;
    zmq_msg_close(&extra);
    (*l->queries)++;
    if (store_query_serve(l->store, zmq_msg_data(&m), zmq_msg_size(&m),
                          &l->reply) == 0)
        zmq_send(l->rep, l->reply.data, l->reply.size, ZMQ_DONTWAIT);
    else
        zmq_send(l->rep, "", 0, ZMQ_DONTWAIT); /* still answer */
    zmq_msg_close(&m);
    return 0;
}

/* Commits a batch once the input has been quiet for IDLE_COMMIT_MS or
 * its oldest record is MAX_AGE_MS old (a live trail shows up quickly);
 * while the trail cannot be written, retries every RETRY_MS. */
static int on_commit_timer(loop_t *loop, void *ctx)
{
    struct logger *l = ctx;
    if (l->failing) {
        commit(l, l->st.cfg->logger.sync);
        return l->failing ? RETRY_MS : LOOP_TIMER_OFF;
    }
    if (!anything_pending(l))
        return LOOP_TIMER_OFF;
    int idle = loop_ms_until(input_last_ns(l->in) + IDLE_COMMIT_MS *
                             NS_PER_MS, IDLE_COMMIT_MS);
    int age = loop_ms_until(l->first_pending_ns + MAX_AGE_MS * NS_PER_MS,
                            MAX_AGE_MS);
    if (idle > 0 && age > 0 && !l->commit_now)
        return idle < age ? idle : age;
    l->commit_now = false;
    commit(l, l->st.cfg->logger.sync);
    return l->failing ? RETRY_MS : LOOP_TIMER_OFF;
}

static void *bind_query(struct logger *l)
{
    char ep[4200];
    if (!topology_query(l->st.cfg, ep, sizeof(ep))) {
        log_warn("query endpoint does not fit: `hark query` cannot reach "
                 "this logger");
        return NULL;
    }
    int linger = 0;
    char err[512];
    void *s = zmq_socket(l->st.zmq, ZMQ_REP);
    if (s && curve_server(l->st.curve, s, ep, err, sizeof(err)) < 0) {
        log_error("%s", err);
        zmq_close(s);
        return NULL;
    }
    if (!s || bus_prepare_endpoint(ep) < 0 ||
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)) ||
        zmq_bind(s, ep)) {
        log_warn("cannot bind the query socket %s: %s; `hark query` "
                 "cannot reach this logger", ep, zmq_strerror(errno));
        if (s)
            zmq_close(s);
        return NULL;
    }
    return s;
}

int main(int argc, char **argv)
{
    struct logger l;
    memset(&l, 0, sizeof(l));
    msgpack_sbuffer_init(&l.reply);
    int rc = stage_init(&l.st, ROLE_LOGGER,
                        "Writes the audit records it receives to the LevelDB "
                        "audit trail (logger.db),\nin batches, hash-chained; "
                        "answers `hark query` while it runs.",
                        argc, argv);
    if (rc != 0) {
        msgpack_sbuffer_destroy(&l.reply);
        return rc - 1;
    }
    struct config *cfg = l.st.cfg;
    STAGE_COUNTERS(&l.st, { "records", &l.records },
                   { "requests", &l.requests },
                   { "responses", &l.responses },
                   { "outages", &l.outages }, { "batches", &l.batches },
                   { "bytes_written", &l.bytes_written },
                   { "records_malformed", &l.records_malformed },
                   { "records_other", &l.records_other },
                   { "records_failed", &l.records_failed },
                   { "commit_errors", &l.commit_errors },
                   { "queries", &l.queries });
    l.batch = cfg->logger.batch ? cfg->logger.batch : 1;

    bool ok = false;
    char err[512] = "", in_ep[4200];
    /* The trail first: a second logger stops here, on LevelDB's lock,
     * before it could take over the running one's sockets. */
    rc = store_open(cfg->logger.db, STORE_CREATE, &l.store, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "hark-logger: cannot open audit trail %s: %s\n",
                cfg->logger.db, err[0] ? err : strerror(-rc));
        goto out;
    }
    if (!stage_input_endpoint(&l.st, in_ep, sizeof(in_ep)))
        goto out;
    /* Under hark run the supervisor is a producer too (its outage
     * records), and its eof says no more will come. */
    l.up = upstream_new(getenv("HARK_SUPERVISED") ? 2 : 1, l.st.stats);
    l.reader = frame_reader_new();
    l.producers = producers_new(l.store, l.st.id, l.st.stats, reply, &l);
    if (!l.up || !l.reader || !l.producers) {
        log_error("out of memory");
        goto out;
    }
    l.in = input_new_acked(&l.st, in_ep, l.reader, l.up, &logger_ops, admit,
                           &l);
    l.commit_timer = loop_add_timer(l.st.loop, LOOP_TIMER_OFF,
                                    on_commit_timer, &l);
    if (!l.in || l.commit_timer < 0)
        goto out;
    l.rep = bind_query(&l);
    if (l.rep && loop_add_socket(l.st.loop, l.rep, serve_query, &l) < 0)
        goto out;
    log_debug("trail %s: %llu records so far", cfg->logger.db,
              (unsigned long long)store_last_seq(l.store));
    bool ran = stage_run(&l.st);
    /* The last batch of a run is always synced. */
    int crc = commit(&l, true);
    ok = ran && crc == 0;
    if (crc < 0)
        log_error("the last %u records could not be written",
                  store_pending(l.store));
out:
    if (l.rep)
        zmq_close(l.rep);
    input_destroy(&l.in);
    producers_destroy(&l.producers);
    store_close(&l.store);
    frame_reader_destroy(&l.reader);
    upstream_destroy(&l.up);
    msgpack_sbuffer_destroy(&l.reply);
    stage_finish(&l.st, ok);
    return ok ? 0 : 1;
}
