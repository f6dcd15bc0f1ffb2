/* bus.c - PUSH/PULL pipeline links and PUB taps over ZeroMQ. */
#include "bus.h"
#include "fsutil.h"
#include "tapcopy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
};

struct bus_in {
    void *sock;
    zmq_msg_t topic, body;
    bool have;
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

bus_tap_t *bus_tap_new(void *ctx, const char *endpoint, stats_t *st)
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
    t->sock = t->copy ? zmq_socket(ctx, ZMQ_XPUB) : NULL;
    if (!t->sock || set_int(t->sock, ZMQ_SNDHWM, BUS_TAP_HWM) ||
        set_int(t->sock, ZMQ_XPUB_NODROP, 1) ||
        set_int(t->sock, ZMQ_LINGER, 0) || zmq_bind(t->sock, endpoint)) {
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

bus_out_t *bus_out_new(void *ctx, const char *endpoint, const char *src,
                       bus_tap_t *tap)
{
    bus_out_t *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    snprintf(o->src, sizeof(o->src), "%s", src);
    o->tap = tap;
    msgpack_sbuffer_init(&o->scratch);
    o->sock = zmq_socket(ctx, ZMQ_PUSH);
    if (!o->sock || set_int(o->sock, ZMQ_SNDHWM, BUS_PIPE_HWM) ||
        set_int(o->sock, ZMQ_LINGER, -1) ||
        set_int(o->sock, ZMQ_RECONNECT_IVL, 100) ||
        zmq_connect(o->sock, endpoint)) {
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

void bus_out_destroy(bus_out_t **o)
{
    if (!o || !*o)
        return;
    zmq_close((*o)->sock);
    msgpack_sbuffer_destroy(&(*o)->scratch);
    free(*o);
    *o = NULL;
}

int bus_out_send(bus_out_t *o, enum frame_type type, const void *body,
                 size_t len)
{
    zmq_msg_t msg, tapmsg;
    if (zmq_msg_init_size(&msg, len) != 0)
        return -errno;
    memcpy(zmq_msg_data(&msg), body, len);
    bool tapping = tap_wants(o->tap, type);
    /* A frame the tap may carry as it is shares the buffer (reference
     * counted), no second copy; the others get a redacted one. */
    bool shared = tapping && !tapcopy_needed(type);
    if (shared && (zmq_msg_init(&tapmsg) != 0 ||
                   zmq_msg_copy(&tapmsg, &msg) != 0))
        shared = tapping = false;
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
        if (zmq_msg_send(&msg, o->sock, 0) >= 0)
            break;
        if (errno != EINTR) {
            rc = -errno;
            goto out;
        }
    }
    o->seq++;
    if (shared) {
        tap_send_msg(o->tap, type, &tapmsg);
        shared = false;
    } else if (tapping) {
        tap_publish(o->tap, type, body, len);
    }
out:
    zmq_msg_close(&msg);
    if (shared)
        zmq_msg_close(&tapmsg);
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

bus_in_t *bus_in_new(void *ctx, const char *endpoint)
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
    in->sock = zmq_socket(ctx, ZMQ_PULL);
    if (!in->sock || set_int(in->sock, ZMQ_RCVHWM, BUS_PIPE_HWM) ||
        set_int(in->sock, ZMQ_LINGER, 0) || zmq_bind(in->sock, endpoint)) {
        int e = errno;
        if (in->sock)
            zmq_close(in->sock);
        free(in);
        errno = e;
        return NULL;
    }
    zmq_msg_init(&in->topic);
    zmq_msg_init(&in->body);
    return in;
}

void bus_in_destroy(bus_in_t **i)
{
    if (!i || !*i)
        return;
    zmq_msg_close(&(*i)->topic);
    zmq_msg_close(&(*i)->body);
    zmq_close((*i)->sock);
    free(*i);
    *i = NULL;
}

void *bus_in_socket(bus_in_t *i) { return i->sock; }

static bool more_parts(void *sock)
{
    int more = 0;
    size_t sz = sizeof(more);
    zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz);
    return more != 0;
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
    if (zmq_msg_recv(&in->topic, in->sock, ZMQ_DONTWAIT) < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
    /* ZeroMQ delivers all parts of a message atomically, so the body is
     * already here when the topic is. */
    bool ok = more_parts(in->sock) &&
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
