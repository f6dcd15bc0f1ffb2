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
 */
#include "clock.h"
#include "log.h"
#include "stage.h"
#include "store.h"
#include "upstream.h"

#include <errno.h>
#include <string.h>

#define FRAMES_PER_TURN 64
#define IDLE_COMMIT_MS 100
#define MAX_AGE_MS 1000
#define STOP_QUIET_MS 200
#define RETRY_MS 1000

struct logger {
    struct stage st;
    upstream_t *up;
    store_t *store;
    bus_in_t *in;
    void *rep;
    frame_reader_t *reader;
    msgpack_sbuffer reply;
    uint32_t batch;
    uint64_t last_input_ns;       /* monotonic: last frame received */
    uint64_t first_pending_ns;    /* monotonic: oldest uncommitted record */
    uint64_t retry_ns;            /* when failing: next commit attempt */
    bool failing;
    struct log_limit bad_frame, bad_record, write_error;
    uint64_t *records, *requests, *responses, *batches, *bytes_written,
        *frames_malformed, *records_malformed, *records_other,
        *records_failed, *commit_errors, *queries;
};

/* Writes the pending batch. On failure it stays pending for a retry. */
static int commit(struct logger *l, bool sync)
{
    if (!store_pending(l->store))
        return 0;
    char err[512];
    int rc = store_commit(l->store, sync, err, sizeof(err));
    if (rc < 0) {
        (*l->commit_errors)++;
        log_limited(&l->write_error, LOG_ERROR,
                    "cannot write the audit trail %s: %s (%u records "
                    "pending; retrying)",
                    l->st.cfg->logger.db, err, store_pending(l->store));
        l->failing = true;
        l->retry_ns = clock_mono_ns() + RETRY_MS * NS_PER_MS;
        return rc;
    }
    l->failing = false;
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
        if (store_pending(l->store) == 1)
            l->first_pending_ns = clock_mono_ns();
        (*l->records)++;
        (*(r.kind == RECORD_REQUEST ? l->requests : l->responses))++;
        if (store_pending(l->store) >= l->batch)
            commit(l, l->st.cfg->logger.sync);
    }
}

/* Returns true once every producer has sent eof. */
static bool on_frame(struct logger *l, const void *topic, size_t tlen,
                     const void *body, size_t blen)
{
    struct frame f;
    int rc = frame_read(l->reader, topic, tlen, body, blen, &f);
    if (rc != 0) {
        (*l->frames_malformed)++;
        log_limited(&l->bad_frame, LOG_WARN, "dropped a bad frame: %s",
                    rc == -EPROTONOSUPPORT ? "unsupported version"
                    : rc == -ENOMSG        ? "unknown topic"
                                           : "malformed");
        return false;
    }
    if (!upstream_frame(l->up, &f))
        return false;
    switch (f.type) {
    case FRAME_LOG:
        on_records(l, &f);
        return false;
    case FRAME_EOF:
        return upstream_eof(l->up, &f);
    default:
        (*l->records_other)++;
        return false;
    }
}

/* One request on the query socket, one reply (REP must always answer). */
static void serve_query(struct logger *l)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, l->rep, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return;
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
}

/* The poll timeout: stats tick, idle commit, max age, retry, drain. */
static int next_timeout(struct logger *l)
{
    int t = stage_tick(&l->st);
    if (l->failing) {
        int r = stage_ms_until(l->retry_ns, RETRY_MS);
        return r < t ? r : t;
    }
    if (store_pending(l->store)) {
        int idle = stage_ms_until(l->last_input_ns + IDLE_COMMIT_MS * NS_PER_MS,
                                  IDLE_COMMIT_MS);
        int age = stage_ms_until(l->first_pending_ns + MAX_AGE_MS * NS_PER_MS,
                                 MAX_AGE_MS);
        t = idle < t ? idle : t;
        t = age < t ? age : t;
    }
    if (l->st.stop && t > STOP_QUIET_MS)
        t = STOP_QUIET_MS;
    return t;
}

/* Runs until eof from every producer, or a stop signal and a quiet
 * input. Returns 0, or -errno when polling fails. */
static int run(struct logger *l)
{
    for (;;) {
        zmq_pollitem_t items[3] = {
            stage_pollitem(&l->st),
            /* without a query socket, fd -1: poll() ignores the item */
            { l->rep, l->rep ? 0 : -1, ZMQ_POLLIN, 0 },
            { bus_in_socket(l->in), 0, ZMQ_POLLIN, 0 },
        };
        /* While a batch cannot be written, leave the input unread. */
        int n_items = l->failing ? 2 : 3;
        int n = zmq_poll(items, n_items, next_timeout(l));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (items[0].revents)
            stage_handle_signal(&l->st);
        if (items[1].revents)
            serve_query(l);
        uint64_t now = clock_mono_ns();
        if (l->failing) {
            if (now >= l->retry_ns)
                commit(l, l->st.cfg->logger.sync);
            if (l->st.stop)
                return 0; /* the final commit tries once more */
            continue;
        }
        bool got = false;
        for (int i = 0; n_items == 3 && items[2].revents &&
                        i < FRAMES_PER_TURN;
             i++) {
            const void *topic, *body;
            size_t tlen, blen;
            int rc = bus_in_recv(l->in, 0, &topic, &tlen, &body, &blen);
            if (rc == 0)
                break;
            got = true;
            l->last_input_ns = clock_mono_ns();
            if (rc < 0) {
                (*l->frames_malformed)++;
                continue;
            }
            if (on_frame(l, topic, tlen, body, blen))
                return 0;
        }
        now = clock_mono_ns();
        if (store_pending(l->store) &&
            (now >= l->last_input_ns + IDLE_COMMIT_MS * NS_PER_MS ||
             now >= l->first_pending_ns + MAX_AGE_MS * NS_PER_MS))
            commit(l, l->st.cfg->logger.sync);
        if (l->st.stop && !got)
            return 0; /* stopped without an eof, and the input is quiet */
    }
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
    void *s = zmq_socket(l->st.zmq, ZMQ_REP);
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
        stage_finish(&l.st, false);
        msgpack_sbuffer_destroy(&l.reply);
        return rc < 0 ? 0 : rc;
    }
    struct config *cfg = l.st.cfg;
    stats_t *s = l.st.stats;
    l.records = stats_add(s, "records");
    l.requests = stats_add(s, "requests");
    l.responses = stats_add(s, "responses");
    l.batches = stats_add(s, "batches");
    l.bytes_written = stats_add(s, "bytes_written");
    l.frames_malformed = stats_add(s, "frames_malformed");
    l.records_malformed = stats_add(s, "records_malformed");
    l.records_other = stats_add(s, "records_other");
    l.records_failed = stats_add(s, "records_failed");
    l.commit_errors = stats_add(s, "commit_errors");
    l.queries = stats_add(s, "queries");
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
    if (!topology_input(cfg, ROLE_LOGGER, 0, in_ep, sizeof(in_ep))) {
        log_error("endpoint does not fit: shorten bus.run_dir");
        goto out;
    }
    l.up = upstream_new(1, s);
    l.reader = frame_reader_new();
    if (!l.up || !l.reader) {
        log_error("out of memory");
        goto out;
    }
    l.in = bus_in_new(l.st.zmq, in_ep);
    if (!l.in) {
        log_error("cannot bind %s: %s", in_ep, zmq_strerror(errno));
        goto out;
    }
    l.rep = bind_query(&l);
    log_debug("trail %s: %llu records so far", cfg->logger.db,
              (unsigned long long)store_last_seq(l.store));
    l.last_input_ns = clock_mono_ns();
    rc = run(&l);
    if (rc < 0)
        log_error("stopped: %s", zmq_strerror(-rc));
    /* The last batch of a run is always synced. */
    int crc = commit(&l, true);
    ok = rc == 0 && crc == 0;
    if (crc < 0)
        log_error("the last %u records could not be written",
                  store_pending(l.store));
out:
    if (l.rep)
        zmq_close(l.rep);
    bus_in_destroy(&l.in);
    store_close(&l.store);
    frame_reader_destroy(&l.reader);
    upstream_destroy(&l.up);
    msgpack_sbuffer_destroy(&l.reply);
    stage_finish(&l.st, ok);
    return ok ? 0 : 1;
}
