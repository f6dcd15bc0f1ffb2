/* bus.c - PUSH/PULL pipeline links, the acknowledged link and PUB taps. */
#include "bus.h"
#include "clock.h"
#include "fsutil.h"
#include "log.h"
#include "loop.h"
#include "outbox.h"
#include "tapcopy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

struct bus_tap {
    void *sock;               /* XPUB: it tells who subscribes to what */
    uint64_t *dropped;
    uint64_t *published;
    uint64_t *withheld;       /* frames a redacted copy could not be made of */
    unsigned wanted[FRAME_TYPE_COUNT]; /* subscriptions taking each topic */
    tapcopy_t *copy;
};

struct bus_out {
    void *sock;
    bus_tap_t *tap;
    char src[64];
    uint64_t seq;
    msgpack_sbuffer scratch;
    /* acknowledged outputs only */
    outbox_t *outbox;
    frame_reader_t *acks;
    uint64_t progress_ns;         /* monotonic: last ack that released */
    uint64_t *resent, *acks_in, *unacked, *unacked_since;
};

struct bus_in {
    void *sock;
    bool router;
    zmq_msg_t peer, topic, body;
};

int bus_prepare_endpoint(const char *endpoint)
{
    if (strncmp(endpoint, "ipc://", 6) != 0)
        return 0;
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", endpoint + 6);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    return fs_mkdir_p(dir);
}

static int set_int(void *sock, int opt, int v)
{
    return zmq_setsockopt(sock, opt, &v, sizeof(v));
}

static bool more_parts(void *sock)
{
    int more = 0;
    size_t sz = sizeof(more);
    zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz);
    return more != 0;
}

/* zmq_bind or zmq_connect after the CURVE setup an endpoint needs. */
static int attach(struct bus_env env, void *sock, const char *ep,
                  bool bind)
{
    char err[512];
    int rc = bind ? curve_server(env.curve, sock, ep, err, sizeof(err))
                  : curve_client(env.curve, sock, ep, err, sizeof(err));
    if (rc < 0) {
        log_error("%s", err);
        errno = -rc;
        return -1;
    }
    return bind ? zmq_bind(sock, ep) : zmq_connect(sock, ep);
}

/* ---- taps ----------------------------------------------------------- */

bus_tap_t *bus_tap_new(struct bus_env env, const char *endpoint,
                       stats_t *st)
{
    bus_tap_t *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->dropped = stats_add(st, "tap_dropped");
    t->published = stats_add(st, "tap_published");
    t->withheld = stats_add(st, "tap_withheld");
    if (!endpoint || !*endpoint)
        return t;
    int rc = bus_prepare_endpoint(endpoint);
    if (rc < 0) {
        free(t);
        errno = -rc;
        return NULL;
    }
    t->copy = tapcopy_new();
    t->sock = t->copy ? zmq_socket(env.zmq, ZMQ_XPUB) : NULL;
    if (!t->sock || set_int(t->sock, ZMQ_SNDHWM, BUS_TAP_HWM) ||
        set_int(t->sock, ZMQ_XPUB_NODROP, 1) ||
        set_int(t->sock, ZMQ_LINGER, 0) ||
        attach(env, t->sock, endpoint, true)) {
        int e = t->copy ? errno : ENOMEM;
        if (t->sock)
            zmq_close(t->sock);
        tapcopy_destroy(&t->copy);
        free(t);
        errno = e;
        return NULL;
    }
    return t;
}

void bus_tap_destroy(bus_tap_t **t)
{
    if (!t || !*t)
        return;
    if ((*t)->sock)
        zmq_close((*t)->sock);
    tapcopy_destroy(&(*t)->copy);
    free(*t);
    *t = NULL;
}

/* Takes the (un)subscriptions that arrived. XPUB passes on the first
 * subscription to a prefix and the last unsubscription (a subscriber
 * leaving counts), so a count per topic says whether anyone listens. */
static void tap_read_subscriptions(bus_tap_t *t)
{
    unsigned char buf[64];
    int n;
    while ((n = zmq_recv(t->sock, buf, sizeof(buf), ZMQ_DONTWAIT)) >= 0) {
        /* a longer prefix is no topic's; other messages are not ours */
        if (n < 1 || (size_t)n > sizeof(buf) || buf[0] > 1)
            continue;
        size_t len = (size_t)n - 1;
        for (int type = 0; type < FRAME_TYPE_COUNT; type++) {
            const char *topic = frame_topic(type);
            if (len > strlen(topic) || memcmp(topic, buf + 1, len))
                continue;
            if (buf[0] == 1)
                t->wanted[type]++;
            else if (t->wanted[type] > 0)
                t->wanted[type]--;
        }
    }
}

/* True when someone subscribes to frames of this type. */
static bool tap_wants(bus_tap_t *t, enum frame_type type)
{
    if (!t || !t->sock)
        return false;
    tap_read_subscriptions(t);
    return t->wanted[type] > 0;
}

/* Sends topic + msg on the tap without waiting; takes the msg. */
static void tap_send_msg(bus_tap_t *t, enum frame_type type, zmq_msg_t *msg)
{
    const char *topic = frame_topic(type);
    if (zmq_send(t->sock, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT)
        < 0) {
        (*t->dropped)++;
        zmq_msg_close(msg);
        return;
    }
    /* With XPUB_NODROP the first part is accepted only when the whole
     * message fits, so the body cannot fail on the mark. */
    if (zmq_msg_send(msg, t->sock, ZMQ_DONTWAIT) < 0) {
        (*t->dropped)++;
        zmq_msg_close(msg);
        return;
    }
    (*t->published)++;
}

/* Publishes a copy of body: redacted (tapcopy.h) when its type needs it. */
static void tap_publish(bus_tap_t *t, enum frame_type type, const void *body,
                        size_t len)
{
    if (tapcopy_needed(type) &&
        tapcopy_make(t->copy, type, body, len, &body, &len) < 0) {
        (*t->withheld)++;
        return;
    }
    zmq_msg_t msg;
    if (zmq_msg_init_size(&msg, len) != 0) {
        (*t->dropped)++;
        return;
    }
    memcpy(zmq_msg_data(&msg), body, len);
    tap_send_msg(t, type, &msg);
}

void bus_tap_publish(bus_tap_t *t, enum frame_type type, const void *body,
                     size_t len)
{
    if (tap_wants(t, type))
        tap_publish(t, type, body, len);
}

/* ---- outputs -------------------------------------------------------- */

static bus_out_t *out_new(struct bus_env env, const char *endpoint,
                          const char *src, bus_tap_t *tap, int type,
                          const char *routing_id, int hwm)
{
    bus_out_t *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    snprintf(o->src, sizeof(o->src), "%s", src);
    o->tap = tap;
    msgpack_sbuffer_init(&o->scratch);
    o->sock = zmq_socket(env.zmq, type);
    if (!o->sock || set_int(o->sock, ZMQ_SNDHWM, hwm) ||
        set_int(o->sock, ZMQ_LINGER, -1) ||
        set_int(o->sock, ZMQ_RECONNECT_IVL, 100) ||
        (routing_id && zmq_setsockopt(o->sock, ZMQ_ROUTING_ID, routing_id,
                                      strlen(routing_id))) ||
        attach(env, o->sock, endpoint, false)) {
        int e = errno;
        if (o->sock)
            zmq_close(o->sock);
        msgpack_sbuffer_destroy(&o->scratch);
        free(o);
        errno = e;
        return NULL;
    }
    return o;
}

bus_out_t *bus_out_new(struct bus_env env, const char *endpoint,
                       const char *src, bus_tap_t *tap)
{
    return out_new(env, endpoint, src, tap, ZMQ_PUSH, NULL, BUS_PIPE_HWM);
}

bus_out_t *bus_out_new_acked(struct bus_env env, const char *endpoint,
                             const char *src, bus_tap_t *tap, stats_t *st,
                             int hwm)
{
    /* The routing id names this incarnation: the consumer keeps the
     * last committed seq per id, across its own restarts. */
    uint64_t inc;
    if (getrandom(&inc, sizeof(inc), 0) != (ssize_t)sizeof(inc))
        inc = clock_wall_ns() ^ ((uint64_t)getpid() << 32);
    char id[96];
    snprintf(id, sizeof(id), "%.63s:%016llx", src, (unsigned long long)inc);
    bus_out_t *o = out_new(env, endpoint, src, tap, ZMQ_DEALER, id, hwm);
    if (!o)
        return NULL;
    o->outbox = outbox_new(BUS_ACKED_MAX_FRAMES, BUS_ACKED_MAX_BYTES);
    o->acks = frame_reader_new();
    o->resent = stats_add(st, "frames_resent");
    o->acks_in = stats_add(st, "acks_in");
    o->unacked = stats_add(st, "unacked_frames");
    o->unacked_since = stats_add(st, "unacked_since_ns");
    if (!o->outbox || !o->acks || !o->resent || !o->acks_in ||
        !o->unacked || !o->unacked_since) {
        bus_out_destroy(&o);
        errno = ENOMEM;
        return NULL;
    }
    o->progress_ns = clock_mono_ns();
    return o;
}

void bus_out_destroy(bus_out_t **o)
{
    if (!o || !*o)
        return;
    zmq_close((*o)->sock);
    msgpack_sbuffer_destroy(&(*o)->scratch);
    outbox_destroy(&(*o)->outbox);
    frame_reader_destroy(&(*o)->acks);
    free(*o);
    *o = NULL;
}

/* What is unacknowledged, for the stats (and an outage's start). */
static void update_gauges(bus_out_t *o)
{
    if (!o->outbox)
        return;
    *o->unacked = outbox_count(o->outbox);
    *o->unacked_since = outbox_oldest_ns(o->outbox);
}

/* Sends topic + msg, blocking; takes msg. 0 or -errno. */
static int send_msg(bus_out_t *o, enum frame_type type, zmq_msg_t *msg)
{
    const char *topic = frame_topic(type);
    int rc = 0;
    for (;;) {
        if (zmq_send(o->sock, topic, strlen(topic), ZMQ_SNDMORE) >= 0)
            break;
        if (errno != EINTR) {
            rc = -errno;
            goto out;
        }
    }
    for (;;) {
        if (zmq_msg_send(msg, o->sock, 0) >= 0)
            return 0;
        if (errno != EINTR) {
            rc = -errno;
            goto out;
        }
    }
out:
    zmq_msg_close(msg);
    return rc;
}

int bus_out_send(bus_out_t *o, enum frame_type type, const void *body,
                 size_t len)
{
    zmq_msg_t msg, tapmsg;
    if (zmq_msg_init_size(&msg, len) != 0)
        return -errno;
    memcpy(zmq_msg_data(&msg), body, len);
    int rc = o->outbox ? outbox_keep(o->outbox, o->seq, type, &msg,
                                     clock_wall_ns())
                       : 0;
    if (rc < 0) {
        zmq_msg_close(&msg);
        return rc;
    }
    bool tapping = tap_wants(o->tap, type);
    /* A frame the tap may carry as it is shares the buffer (reference
     * counted), no second copy; the others get a redacted one. */
    bool shared = tapping && !tapcopy_needed(type);
    if (shared && (zmq_msg_init(&tapmsg) != 0 ||
                   zmq_msg_copy(&tapmsg, &msg) != 0))
        shared = tapping = false;
    rc = send_msg(o, type, &msg);
    if (rc == 0)
        o->seq++;
    update_gauges(o);
    if (shared && rc == 0)
        tap_send_msg(o->tap, type, &tapmsg);
    else if (shared)
        zmq_msg_close(&tapmsg);
    else if (tapping && rc == 0)
        tap_publish(o->tap, type, body, len);
    return rc;
}

int bus_out_flush(bus_out_t *o, frame_writer_t *w, uint64_t wm_ns, bool live)
{
    if (frame_writer_items(w) == 0)
        return 0;
    return bus_out_heartbeat(o, w, wm_ns, live);
}

int bus_out_heartbeat(bus_out_t *o, frame_writer_t *w, uint64_t wm_ns,
                      bool live)
{
    const void *body;
    size_t len;
    frame_writer_finish(w, o->seq, wm_ns, live, &body, &len);
    int rc = bus_out_send(o, frame_writer_type(w), body, len);
    frame_writer_reset(w);
    return rc;
}

int bus_out_eof(bus_out_t *o, uint64_t wm_ns, const char *reason)
{
    int rc = frame_encode_eof(&o->scratch, o->src, o->seq, wm_ns, reason);
    if (rc < 0)
        return rc;
    return bus_out_send(o, FRAME_EOF, o->scratch.data, o->scratch.size);
}

/* ---- acknowledged outputs -------------------------------------------- */

void *bus_out_socket(bus_out_t *o) { return o->sock; }

unsigned bus_out_unacked(const bus_out_t *o)
{
    return o->outbox ? outbox_count(o->outbox) : 0;
}

bool bus_out_backlogged(const bus_out_t *o)
{
    return o->outbox && outbox_full(o->outbox);
}

int bus_out_take_acks(bus_out_t *o)
{
    int released = 0;
    zmq_msg_t topic, body;
    zmq_msg_init(&topic);
    zmq_msg_init(&body);
    for (;;) {
        if (zmq_msg_recv(&topic, o->sock, ZMQ_DONTWAIT) < 0)
            break;
        int more = 0;
        size_t ml = sizeof(more);
        zmq_getsockopt(o->sock, ZMQ_RCVMORE, &more, &ml);
        if (!more || zmq_msg_recv(&body, o->sock, ZMQ_DONTWAIT) < 0)
            continue;
        if (more_parts(o->sock)) {
            /* a third part or more: not an acknowledgement */
            while (more_parts(o->sock) &&
                   zmq_msg_recv(&body, o->sock, ZMQ_DONTWAIT) >= 0)
                ;
            continue;
        }
        struct frame f;
        if (!o->outbox ||
            frame_read(o->acks, zmq_msg_data(&topic), zmq_msg_size(&topic),
                       zmq_msg_data(&body), zmq_msg_size(&body), &f) != 0 ||
            f.type != FRAME_ACK)
            continue;
        (*o->acks_in)++;
        unsigned n = outbox_ack(o->outbox, f.seq);
        if (n)
            o->progress_ns = clock_mono_ns();
        released += (int)n;
    }
    int e = errno;
    zmq_msg_close(&topic);
    zmq_msg_close(&body);
    update_gauges(o);
    return e == EAGAIN || e == EINTR ? released : -e;
}

int bus_out_tick(bus_out_t *o)
{
    if (!o->outbox || !outbox_count(o->outbox)) {
        if (o->outbox)
            o->progress_ns = clock_mono_ns();
        return -1;
    }
    uint64_t due = o->progress_ns + BUS_ACK_TIMEOUT_MS * NS_PER_MS;
    int wait = loop_ms_until(due, BUS_ACK_TIMEOUT_MS);
    if (wait > 0)
        return wait;
    unsigned n = outbox_count(o->outbox);
    int rc = bus_out_resend(o);
    if (rc < 0)
        return rc;
    log_info("no acknowledgement for %d ms: sent %u frames again",
             BUS_ACK_TIMEOUT_MS, n);
    return BUS_ACK_TIMEOUT_MS;
}

int bus_out_resend(bus_out_t *o)
{
    /* The consumer may have restarted and lost what it had not
     * committed. It drops what it has already committed and what
     * arrives out of order, so all of it goes again, oldest first. */
    unsigned n = o->outbox ? outbox_count(o->outbox) : 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t seq;
        enum frame_type type;
        zmq_msg_t msg;
        int rc = outbox_get(o->outbox, i, &seq, &type, &msg);
        if (rc == 0)
            rc = send_msg(o, type, &msg);
        if (rc < 0)
            return rc;
        (*o->resent)++;
    }
    o->progress_ns = clock_mono_ns();
    return 0;
}

/* ---- inputs --------------------------------------------------------- */

bus_in_t *bus_in_new(struct bus_env env, const char *endpoint,
                     bool router)
{
    bus_in_t *in = calloc(1, sizeof(*in));
    if (!in)
        return NULL;
    int rc = bus_prepare_endpoint(endpoint);
    if (rc < 0) {
        free(in);
        errno = -rc;
        return NULL;
    }
    in->router = router;
    in->sock = zmq_socket(env.zmq, router ? ZMQ_ROUTER : ZMQ_PULL);
    /* A router's last acknowledgements must get out after its last
     * commit: a little linger. */
    if (!in->sock || set_int(in->sock, ZMQ_RCVHWM, BUS_PIPE_HWM) ||
        set_int(in->sock, ZMQ_LINGER, router ? 2000 : 0) ||
        (router && set_int(in->sock, ZMQ_ROUTER_HANDOVER, 1)) ||
        attach(env, in->sock, endpoint, true)) {
        int e = errno;
        if (in->sock)
            zmq_close(in->sock);
        free(in);
        errno = e;
        return NULL;
    }
    zmq_msg_init(&in->peer);
    zmq_msg_init(&in->topic);
    zmq_msg_init(&in->body);
    return in;
}

void bus_in_destroy(bus_in_t **i)
{
    if (!i || !*i)
        return;
    zmq_msg_close(&(*i)->peer);
    zmq_msg_close(&(*i)->topic);
    zmq_msg_close(&(*i)->body);
    zmq_close((*i)->sock);
    free(*i);
    *i = NULL;
}

void *bus_in_socket(bus_in_t *i) { return i->sock; }

struct bytes bus_in_peer(const bus_in_t *i)
{
    struct bytes b = { NULL, 0 };
    if (i->router) {
        b.p = zmq_msg_data((zmq_msg_t *)&i->peer);
        b.n = (uint32_t)zmq_msg_size(&i->peer);
    }
    return b;
}

int bus_in_recv(bus_in_t *in, int timeout_ms, const void **topic,
                size_t *tlen, const void **body, size_t *blen)
{
    if (timeout_ms != 0) {
        zmq_pollitem_t item = { in->sock, 0, ZMQ_POLLIN, 0 };
        int n = zmq_poll(&item, 1, timeout_ms);
        if (n < 0)
            return errno == EINTR ? 0 : -errno;
        if (n == 0)
            return 0;
    }
    zmq_msg_t *first = in->router ? &in->peer : &in->topic;
    if (zmq_msg_recv(first, in->sock, ZMQ_DONTWAIT) < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
    /* ZeroMQ delivers all parts of a message atomically, so the body is
     * already here when the first part is. */
    bool ok = !in->router || (more_parts(in->sock) &&
                              zmq_msg_recv(&in->topic, in->sock,
                                           ZMQ_DONTWAIT) >= 0);
    ok = ok && more_parts(in->sock) &&
         zmq_msg_recv(&in->body, in->sock, ZMQ_DONTWAIT) >= 0;
    if (ok && !more_parts(in->sock)) {
        *topic = zmq_msg_data(&in->topic);
        *tlen = zmq_msg_size(&in->topic);
        *body = zmq_msg_data(&in->body);
        *blen = zmq_msg_size(&in->body);
        return 1;
    }
    while (more_parts(in->sock))
        if (zmq_msg_recv(&in->body, in->sock, ZMQ_DONTWAIT) < 0)
            break;
    return -EBADMSG;
}

int bus_in_reply(bus_in_t *in, struct bytes peer, enum frame_type type,
                 const void *body, size_t len)
{
    if (!in->router)
        return -EINVAL;
    const char *topic = frame_topic(type);
    /* A router drops what it cannot route; DONTWAIT keeps a peer that
     * stopped reading from stalling us. */
    if (zmq_send(in->sock, peer.p, peer.n, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(in->sock, topic, strlen(topic),
                 ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(in->sock, body, len, ZMQ_DONTWAIT) < 0)
        return -errno;
    return 0;
}
