/* main.c - hark-logger: "Log Message" / "Log Message Payload" into the
 * audit trail.
 *
 * Appends every record of every `log` frame to the LevelDB trail
 * (common/store.h) in write batches: a batch is committed when it holds
 * logger.batch records, when the input has been quiet for 100 ms or its
 * oldest record is a second old (a live trail shows up quickly), and at
 * the end with fsync. `records` counts what is committed, never what is
 * only pending. While it holds the trail (LevelDB's lock keeps everyone
 * else out) it answers `hark query` on a ROUTER socket (REQ clients): one
 * page of stored records per request, see store_query_serve(); a reply
 * that cannot be sent is dropped and counted, and the socket goes on.
 *
 * Every logger.checkpoint_records records or checkpoint_interval, and
 * when it ends, it adds a checkpoint of the chain's head, signed with
 * logger.sign_key when one is set (read while still root), and leaves
 * the last head in <run_dir>/head for `hark run` to print.
 *
 * A batch that cannot be written (a full disk) stays pending and is
 * retried each second; meanwhile no input is read, so the pipeline
 * backs up instead of losing records. It says so once. After
 * logger.disk_full_wait, or at once when told to stop, it gives up: the
 * batch and every record after it are counted in records_lost (the
 * pipeline flows, so a drain ends in bounded time), and each
 * PROBE_MS it tries to write again. A logger that lost records exits 1.
 *
 * The input is acknowledged (producers.h): a batch is committed only at
 * a frame boundary, with each producer's last frame in it, and then
 * acknowledged; what a producer sends again is taken once. Frames whose
 * records are given up are acknowledged too (they are counted in
 * records_lost), so the pipeline keeps flowing.
 */
#include "clock.h"
#include "input.h"
#include "keyfile.h"
#include "log.h"
#include "producers.h"
#include "rundir.h"
#include "stage.h"
#include "store.h"
#include "store_query.h"
#include "upstream.h"

#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDLE_COMMIT_MS 100
#define MAX_AGE_MS 1000
#define RETRY_MS 1000
#define FAILING_TICK_MS 100   /* sees a stop before the input gives up */
#define PROBE_MS 5000         /* giving up: how often to try again */
#define QUERY_MAX_PARTS 16    /* envelope frames + request */

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
    uint64_t first_pending_ns;    /* monotonic: oldest uncommitted record */
    uint32_t pending_requests, pending_responses, pending_outages;
    bool commit_now;              /* an eof waits for its acknowledgement */
    bool failing;                 /* the trail cannot be written */
    uint64_t failing_since_ns, last_retry_ns;
    bool discarding;              /* gave up waiting: counting, not writing */
    bool gave_up;                 /* this failure was given up on once */
    uint64_t probe_at_ns;
    uint64_t lost_at_give_up;
    uint64_t checkpoint_ns;       /* monotonic: the last checkpoint */
    uint8_t sign_sk[STORE_SIGN_SECRET_BYTES];
    bool have_key;
    struct log_limit bad_record, write_error, query_error;
    uint64_t *records, *requests, *responses, *outages, *batches,
        *bytes_written,
        *records_malformed, *records_other, *records_failed, *records_lost,
        *commit_errors, *checkpoints, *queries, *query_errors;
};

static int on_commit_timer(loop_t *loop, void *ctx);

/* A checkpoint of the head into the pending batch when one is due. */
static void checkpoint(struct logger *l, bool final)
{
    const struct config_logger *cfg = &l->st.cfg->logger;
    uint64_t n = store_uncheckpointed(l->store), now = clock_mono_ns();
    if (!final && n < cfg->checkpoint_records &&
        (!n || now - l->checkpoint_ns < cfg->checkpoint_interval_ns))
        return;
    if (store_checkpoint(l->store, final) < 0) {
        log_limited(&l->write_error, LOG_ERROR, "cannot add a checkpoint: "
                    "out of memory");
        return;
    }
    l->checkpoint_ns = now;
    (*l->checkpoints)++;
}

/* What a commit made durable; the frames it covers are acknowledged. */
static void committed(struct logger *l, uint32_t n, uint32_t requests,
                      uint32_t responses, uint32_t outages)
{
    *l->records += n;
    *l->requests += requests;
    *l->responses += responses;
    *l->outages += outages;
    l->pending_requests = l->pending_responses = l->pending_outages = 0;
    producers_committed(l->producers);
    (*l->batches)++;
    *l->bytes_written = store_bytes_written(l->store);
}

/* The pending batch is given up: its records are lost, and counted. */
static void discard(struct logger *l)
{
    *l->records_lost += store_discard(l->store);
    l->pending_requests = l->pending_responses = l->pending_outages = 0;
    producers_committed(l->producers); /* lost, counted: let them go */
}

/* Stops waiting for the trail: what is held and what comes until it can
 * be written again is counted lost, so the pipeline flows and a drain
 * ends. */
static void give_up(struct logger *l, const char *why)
{
    discard(l);
    l->discarding = true;
    l->probe_at_ns = clock_mono_ns() + PROBE_MS * NS_PER_MS;
    input_pause(l->in, false);
    if (!l->gave_up)
        log_error("%s", why);
    l->gave_up = true;
}

/* The first failure of a write: hold the batch, stop reading, say why
 * once. */
static void trail_failed(struct logger *l, int rc, const char *err)
{
    uint64_t now = clock_mono_ns();
    (*l->commit_errors)++;
    l->last_retry_ns = now;
    if (l->failing)
        return;
    l->failing = true;
    l->failing_since_ns = now;
    l->lost_at_give_up = *l->records_lost;
    input_pause(l->in, true); /* back up instead of losing */
    loop_timer_arm(l->st.loop, l->commit_timer, FAILING_TICK_MS, false);
    double wait = (double)l->st.cfg->logger.disk_full_wait_ns / 1e9;
    if (rc == -ENOSPC)
        log_error("disk full: cannot write the audit trail %s (%s); "
                  "holding %u records and pausing the pipeline for up to "
                  "%.0fs", l->st.cfg->logger.db, err,
                  store_pending(l->store), wait);
    else
        log_error("cannot write the audit trail %s: %s; holding %u records "
                  "and pausing the pipeline for up to %.0fs",
                  l->st.cfg->logger.db, err, store_pending(l->store), wait);
}

/* The trail takes writes again. */
static void trail_recovered(struct logger *l)
{
    if (!l->failing)
        return;
    if (!l->discarding)
        input_pause(l->in, false);
    else if (*l->records_lost > l->lost_at_give_up)
        log_warn("the audit trail %s can be written again; %llu records "
                 "were lost meanwhile", l->st.cfg->logger.db,
                 (unsigned long long)(*l->records_lost - l->lost_at_give_up));
    l->failing = l->discarding = l->gave_up = false;
}

/* Writes the pending batch (with a checkpoint when one is due). On
 * failure it stays pending for a retry, or is given up once the
 * failure has lasted logger.disk_full_wait or the stage is stopping. */
static int commit(struct logger *l, bool sync)
{
    if (!l->discarding)
        checkpoint(l, false);
    char err[512] = "";
    int rc = producers_stage(l->producers);
    if (rc < 0) {
        log_limited(&l->write_error, LOG_ERROR, "cannot note what the "
                    "producers sent: %s", strerror(-rc));
        return rc;
    }
    if (!store_dirty(l->store))
        return 0;
    uint32_t n = store_pending(l->store);
    uint32_t req = l->pending_requests, resp = l->pending_responses;
    uint32_t out = l->pending_outages;
    rc = store_commit(l->store, sync, err, sizeof(err));
    if (rc == 0) {
        committed(l, n, req, resp, out);
        trail_recovered(l);
        return 0;
    }
    trail_failed(l, rc, err);
    uint64_t waited = clock_mono_ns() - l->failing_since_ns;
    if (l->gave_up || l->st.stop ||
        waited >= l->st.cfg->logger.disk_full_wait_ns)
        give_up(l, l->st.stop
                       ? "stopping while the trail cannot be written: "
                         "records are counted as lost (records_lost)"
                       : "the trail could not be written in time: records "
                         "are counted as lost (records_lost) until it can "
                         "be written again");
    return rc;
}

static void on_records(struct logger *l, const struct frame *f)
{
    if (l->discarding && clock_mono_ns() >= l->probe_at_ns) {
        l->discarding = false; /* try this batch; on failure, back to it */
        l->probe_at_ns = clock_mono_ns() + PROBE_MS * NS_PER_MS;
    }
    for (uint32_t i = 0; i < f->n_items; i++) {
        struct audit_record r;
        if (l->discarding) {
            (*l->records_lost)++;
            continue;
        }
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
        (*(r.kind == RECORD_REQUEST    ? &l->pending_requests
           : r.kind == RECORD_RESPONSE ? &l->pending_responses
                                       : &l->pending_outages))++;
        /* Batches end at frame boundaries (on_frame); checkpoints keep
         * their own pace inside one. */
        checkpoint(l, false);
    }
    if (l->discarding)
        producers_committed(l->producers); /* lost, counted: let go */
}

static bool anything_pending(const struct logger *l)
{
    return store_pending(l->store) || producers_pending(l->producers);
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
     * its producer's seq says exactly what the trail holds. While the
     * trail fails, the timer retries what is held. */
    if (store_pending(l->store) >= l->batch && !l->failing)
        commit(l, l->st.cfg->logger.sync);
    return 0;
}

static int ack(void *ctx, struct bytes peer, const void *body, size_t len)
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

/* Sends the reply to the envelope of a request: a ROUTER drops what it
 * cannot deliver, so a client that went away leaves nothing behind. */
static void reply(struct logger *l, zmq_msg_t *env, int n_env,
                  const void *body, size_t len)
{
    int rc = 0;
    for (int i = 0; i < n_env && rc >= 0; i++)
        rc = zmq_send(l->rep, zmq_msg_data(&env[i]), zmq_msg_size(&env[i]),
                      ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc >= 0)
        rc = zmq_send(l->rep, body, len, ZMQ_DONTWAIT);
    if (rc < 0) {
        (*l->query_errors)++;
        log_limited(&l->query_error, LOG_WARN, "cannot answer a query: %s",
                    zmq_strerror(errno));
    }
}

/* One request on the query socket: [identity..., "", request]; every
 * part is taken off the socket, whatever its shape, and it is answered
 * (with an empty reply when it cannot be served). */
static int serve_query(loop_t *loop, void *ctx)
{
    struct logger *l = ctx;
    zmq_msg_t part[QUERY_MAX_PARTS];
    int n = 0, more = 1;
    size_t ml = sizeof(more);
    while (more) {
        zmq_msg_t *m = &part[n < QUERY_MAX_PARTS ? n : QUERY_MAX_PARTS - 1];
        if (n >= QUERY_MAX_PARTS)
            zmq_msg_close(m); /* too many: keep draining into the last */
        zmq_msg_init(m);
        if (zmq_msg_recv(m, l->rep, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(m);
            if (errno == EINTR)
                continue;
            break;
        }
        if (n < QUERY_MAX_PARTS)
            n++;
        if (zmq_getsockopt(l->rep, ZMQ_RCVMORE, &more, &ml) != 0)
            more = 0;
    }
    if (!n)
        return 0;
    (*l->queries)++;
    int delim = 0;
    while (delim < n - 1 && zmq_msg_size(&part[delim]))
        delim++;
    if (delim == 0 || delim >= n - 1 || n == QUERY_MAX_PARTS) {
        (*l->query_errors)++; /* not from a REQ socket: no one to answer */
    } else if (store_query_serve(l->store, zmq_msg_data(&part[delim + 1]),
                                 zmq_msg_size(&part[delim + 1]),
                                 &l->reply) == 0) {
        reply(l, part, delim + 1, l->reply.data, l->reply.size);
    } else {
        reply(l, part, delim + 1, "", 0); /* still answer */
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&part[i]);
    return 0;
}

/* Commits a batch once the input has been quiet for IDLE_COMMIT_MS or
 * its oldest record is MAX_AGE_MS old (a live trail shows up quickly);
 * while the trail cannot be written, retries every RETRY_MS. */
static int on_commit_timer(loop_t *loop, void *ctx)
{
    struct logger *l = ctx;
    if (l->failing && !l->discarding) {
        /* ticks often so a stop is seen before the input's quiet timer
         * ends it; writes once a RETRY_MS, or at once when stopping */
        uint64_t now = clock_mono_ns();
        if (l->st.stop || now - l->last_retry_ns >= RETRY_MS * NS_PER_MS)
            commit(l, l->st.cfg->logger.sync);
        return l->failing && !l->discarding ? FAILING_TICK_MS
                                            : LOOP_TIMER_OFF;
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
    return l->failing && !l->discarding ? FAILING_TICK_MS : LOOP_TIMER_OFF;
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
    void *s = zmq_socket(l->st.zmq, ZMQ_ROUTER);
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

/* While still root: the signing key (kept where the stage user cannot
 * read it) and the trail's directory, made the stage user's. */
static int privileged(struct stage *st, void *ctx)
{
    struct logger *l = ctx;
    char err[512];
    const char *key = st->cfg->logger.sign_key;
    if (key) {
        if (keyfile_load_sign_secret(key, l->sign_sk, err, sizeof(err)) < 0) {
            log_error("logger.sign_key: %s", err);
            return 2;
        }
        l->have_key = true;
    }
    if (rundir_prepare_trail(st->cfg->logger.db, &st->user, err,
                             sizeof(err)) < 0) {
        log_error("%s", err);
        return 2;
    }
    return 0;
}

/* The head the run ends with, for `hark run` to print: "SEQ HASH KEY",
 * KEY the signing key in base64 or "-". */
static void leave_head(struct logger *l)
{
    uint8_t head[STORE_HASH_BYTES], pk[STORE_SIGN_PUBLIC_BYTES];
    char hex[STORE_HASH_BYTES * 2 + 1], key[64] = "-", line[RUNDIR_HEAD_MAX];
    store_head(l->store, head);
    sodium_bin2hex(hex, sizeof(hex), head, sizeof(head));
    if (store_signing(l->store)) {
        store_sign_public(l->store, pk);
        sodium_bin2base64(key, sizeof(key), pk, sizeof(pk),
                          sodium_base64_VARIANT_ORIGINAL);
    }
    unsigned long long seq = (unsigned long long)store_last_seq(l->store);
    snprintf(line, sizeof(line), "%llu %s %s\n", seq, hex, key);
    int rc = rundir_write_head(l->st.cfg->bus.run_dir, line);
    if (rc < 0)
        log_warn("cannot leave the head in %s: %s", l->st.cfg->bus.run_dir,
                 strerror(-rc));
    log_info("trail head: seq %llu %s (%s)", seq, hex,
             store_signing(l->store) ? "signed" : "not signed");
}

/* The input ended while the trail could not be written: what is held
 * still gets until logger.disk_full_wait (or a stop signal) for room. */
static void wait_for_room(struct logger *l)
{
    uint64_t wait = l->st.cfg->logger.disk_full_wait_ns;
    while (l->failing && !l->discarding && !l->st.stop &&
           clock_mono_ns() - l->failing_since_ns < wait) {
        struct pollfd p = { l->st.signal_fd, POLLIN, 0 };
        if (poll(&p, 1, RETRY_MS) > 0)
            break; /* stop: do not wait any longer */
        commit(l, true);
    }
}

/* The end: a final checkpoint and the last batch, synced. */
static bool finish(struct logger *l)
{
    wait_for_room(l);
    if (l->failing && !l->discarding)
        give_up(l, "ending while the trail cannot be written: the records "
                   "held are lost (records_lost)");
    if (!l->discarding)
        checkpoint(l, true);
    int rc = commit(l, true);
    if (rc < 0 && !l->discarding)
        give_up(l, "the last batch could not be written: its records are "
                   "lost (records_lost)");
    if (*l->records_lost)
        log_error("%llu records could not be written to the audit trail "
                  "(records_lost); %llu were", (unsigned long long)
                  *l->records_lost, (unsigned long long)*l->records);
    leave_head(l);
    return rc == 0 && !*l->records_lost;
}

int main(int argc, char **argv)
{
    struct logger l;
    memset(&l, 0, sizeof(l));
    msgpack_sbuffer_init(&l.reply);
    int rc = stage_init_privileged(
        &l.st, ROLE_LOGGER,
        "Writes the audit records it receives to the LevelDB audit trail "
        "(logger.db),\nin batches, hash-chained, with signed checkpoints; "
        "answers `hark query` while it\nruns.",
        argc, argv, privileged, &l);
    if (rc != 0) {
        sodium_memzero(l.sign_sk, sizeof(l.sign_sk));
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
                   { "records_lost", &l.records_lost },
                   { "commit_errors", &l.commit_errors },
                   { "checkpoints", &l.checkpoints },
                   { "queries", &l.queries },
                   { "query_errors", &l.query_errors });
    l.batch = cfg->logger.batch ? cfg->logger.batch : 1;
    l.checkpoint_ns = clock_mono_ns();

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
    if (l.have_key)
        store_sign_with(l.store, l.sign_sk);
    sodium_memzero(l.sign_sk, sizeof(l.sign_sk));
    if (!stage_input_endpoint(&l.st, in_ep, sizeof(in_ep)))
        goto out;
    /* Under hark run the supervisor is a producer too (its outage
     * records), and its eof says no more will come. */
    l.up = upstream_new(getenv("HARK_SUPERVISED") ? 2 : 1, l.st.stats);
    l.reader = frame_reader_new();
    l.producers = producers_new(l.store, l.st.id, l.st.stats, ack, &l);
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
    ok = finish(&l) && ran;
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
