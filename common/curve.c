/* curve.c - CurveZMQ keys and the ZAP handler that admits peers. */
#include "curve.h"
#include "errbuf.h"
#include "keyfile.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define KEY_BYTES 32
#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN "hark"
#define ZAP_PARTS 7     /* a request: version .. credentials (one, CURVE) */

struct peer {
    char host[256];               /* brackets stripped */
    char z85[KEYFILE_Z85_LEN + 1];
    uint8_t key[KEY_BYTES];
};

struct curve {
    bool enabled, insecure;
    char public_z85[KEYFILE_Z85_LEN + 1], secret_z85[KEYFILE_Z85_LEN + 1];
    uint8_t public_key[KEY_BYTES];
    struct peer *peers;
    unsigned n_peers;
    void *zap;                    /* the handler's REP socket */
    pthread_t thread;
    bool running;
    uint64_t refused;             /* written by the handler thread */
    struct log_limit refused_log;
};

static void strip_brackets(const char *in, size_t n, char *out, size_t size)
{
    if (n >= 2 && in[0] == '[' && in[n - 1] == ']') {
        in++;
        n -= 2;
    }
    if (n >= size)
        n = size - 1;
    memcpy(out, in, n);
    out[n] = '\0';
}

static int load_peer(struct peer *p, const struct config_peer *cp,
                     char *err, size_t errlen)
{
    strip_brackets(cp->host, strlen(cp->host), p->host, sizeof(p->host));
    int rc;
    if (!strncmp(cp->key, "curve ", 6) ||
        strlen(cp->key) == KEYFILE_Z85_LEN) {
        rc = keyfile_parse_curve_public(cp->key, p->z85);
        if (rc < 0)
            errbuf_set(err, errlen, "bus.peers.%s: not a CURVE public key",
                       cp->host);
    } else {
        rc = keyfile_load_curve_public(cp->key, p->z85, err, errlen);
    }
    if (rc == 0)
        zmq_z85_decode(p->key, p->z85);
    return rc;
}

static int load_keys(curve_t *c, const struct config *cfg, char *err,
                     size_t errlen)
{
    const struct config_bus *b = &cfg->bus;
    c->insecure = b->insecure;
    if (!b->curve_key)
        return 0;
    if (!zmq_has("curve")) {
        errbuf_set(err, errlen, "bus.curve_key is set, but this libzmq "
                   "has no CURVE support");
        return -ENOTSUP;
    }
    int rc = keyfile_load_curve_secret(b->curve_key, c->secret_z85,
                                       c->public_z85, err, errlen);
    if (rc < 0)
        return rc;
    zmq_z85_decode(c->public_key, c->public_z85);
    if (b->n_peers && !(c->peers = calloc(b->n_peers, sizeof(*c->peers))))
        return -ENOMEM;
    for (unsigned i = 0; i < b->n_peers; i++, c->n_peers++)
        if ((rc = load_peer(&c->peers[i], &b->peers[i], err, errlen)) < 0)
            return rc;
    c->enabled = true;
    return 0;
}

/* ---- the ZAP handler ------------------------------------------------ */

static bool admitted(const curve_t *c, const zmq_msg_t *mech,
                     const zmq_msg_t *cred)
{
    size_t ml = zmq_msg_size(mech);
    const char *m = zmq_msg_data((zmq_msg_t *)mech);
    /* NULL reaches ZAP only from a socket that asked for it (a domain);
     * hark's ipc sockets do not, and its tcp ones all speak CURVE. */
    if (ml == 4 && !memcmp(m, "NULL", 4))
        return true;
    if (ml != 5 || memcmp(m, "CURVE", 5) ||
        zmq_msg_size(cred) != KEY_BYTES)
        return false;
    const uint8_t *key = zmq_msg_data((zmq_msg_t *)cred);
    if (!sodium_memcmp(key, c->public_key, KEY_BYTES))
        return true;
    for (unsigned i = 0; i < c->n_peers; i++)
        if (!sodium_memcmp(key, c->peers[i].key, KEY_BYTES))
            return true;
    return false;
}

/* Receives one request: up to ZAP_PARTS parts (more are taken off and
 * make it malformed). Returns the number of parts, or -errno. */
static int zap_recv(void *sock, zmq_msg_t *parts)
{
    int n = 0, more = 1;
    size_t ml = sizeof(more);
    bool extra = false;
    while (more) {
        zmq_msg_t *m = &parts[n < ZAP_PARTS ? n : ZAP_PARTS];
        if (zmq_msg_recv(m, sock, 0) < 0)
            return -errno;
        if (n < ZAP_PARTS)
            n++;
        else
            extra = true;
        if (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ml) != 0)
            return -errno;
    }
    return extra ? 0 : n;
}

static void zap_reply(void *sock, const zmq_msg_t *request_id, bool ok)
{
    zmq_send(sock, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(sock, zmq_msg_data((zmq_msg_t *)request_id),
             zmq_msg_size(request_id), ZMQ_SNDMORE);
    zmq_send(sock, ok ? "200" : "400", 3, ZMQ_SNDMORE);
    zmq_send(sock, ok ? "OK" : "key not listed", ok ? 2 : 14, ZMQ_SNDMORE);
    zmq_send(sock, "", 0, ZMQ_SNDMORE); /* user id */
    zmq_send(sock, "", 0, 0);           /* metadata */
}

static void *zap_main(void *arg)
{
    curve_t *c = arg;
    zmq_msg_t parts[ZAP_PARTS + 1];
    for (unsigned i = 0; i <= ZAP_PARTS; i++)
        zmq_msg_init(&parts[i]);
    for (;;) {
        int n = zap_recv(c->zap, parts);
        if (n == -ETERM)
            break;
        if (n < 0)
            continue;
        /* version, request id, domain, address, identity, mechanism,
         * credentials */
        bool ok = n == ZAP_PARTS && zmq_msg_size(&parts[0]) == 3 &&
                  !memcmp(zmq_msg_data(&parts[0]), "1.0", 3) &&
                  admitted(c, &parts[5], &parts[6]);
        if (!ok) {
            __atomic_add_fetch(&c->refused, 1, __ATOMIC_RELAXED);
            log_limited(&c->refused_log, LOG_WARN,
                        "refused a connection from %.*s: its CURVE key is "
                        "not this machine's nor in bus.peers",
                        n > 3 ? (int)zmq_msg_size(&parts[3]) : 1,
                        n > 3 ? (const char *)zmq_msg_data(&parts[3])
                              : "?");
        }
        if (n >= 2)
            zap_reply(c->zap, &parts[1], ok);
    }
    for (unsigned i = 0; i <= ZAP_PARTS; i++)
        zmq_msg_close(&parts[i]);
    zmq_close(c->zap);
    return NULL;
}

static int start_zap(curve_t *c, void *ctx, char *err, size_t errlen)
{
    int linger = 0;
    c->zap = zmq_socket(ctx, ZMQ_REP);
    if (!c->zap || zmq_setsockopt(c->zap, ZMQ_LINGER, &linger,
                                  sizeof(linger)) ||
        zmq_bind(c->zap, ZAP_ENDPOINT)) {
        int e = errno;
        errbuf_set(err, errlen, "cannot start the ZAP handler: %s",
                   zmq_strerror(e));
        if (c->zap)
            zmq_close(c->zap);
        c->zap = NULL;
        return -e;
    }
    /* Bound here, so no server socket of ours exists without it (libzmq
     * admits every key when nobody answers on the ZAP endpoint). */
    int rc = pthread_create(&c->thread, NULL, zap_main, c);
    if (rc != 0) {
        errbuf_set(err, errlen, "cannot start the ZAP handler: %s",
                   strerror(rc));
        zmq_close(c->zap);
        c->zap = NULL;
        return -rc;
    }
    c->running = true;
    return 0;
}

curve_t *curve_new(void *ctx, const struct config *cfg, unsigned flags,
                   char *err, size_t errlen)
{
    if (sodium_init() < 0) {
        errbuf_set(err, errlen, "libsodium failed to initialise");
        return NULL;
    }
    curve_t *c = calloc(1, sizeof(*c));
    if (!c) {
        errbuf_set(err, errlen, "out of memory");
        return NULL;
    }
    int rc = load_keys(c, cfg, err, errlen);
    if (rc == 0 && c->enabled && (flags & CURVE_ZAP))
        rc = start_zap(c, ctx, err, errlen);
    if (rc < 0) {
        if (rc == -ENOMEM)
            errbuf_set(err, errlen, "out of memory");
        curve_destroy(&c);
        return NULL;
    }
    return c;
}

int curve_serve(curve_t *c, void *ctx, char *err, size_t errlen)
{
    if (!c->enabled || c->running)
        return 0;
    return start_zap(c, ctx, err, errlen);
}

void curve_destroy(curve_t **cp)
{
    if (!cp || !*cp)
        return;
    curve_t *c = *cp;
    if (c->running)
        pthread_join(c->thread, NULL);
    sodium_memzero(c->secret_z85, sizeof(c->secret_z85));
    free(c->peers);
    free(c);
    *cp = NULL;
}

bool curve_enabled(const curve_t *c)
{
    return c && c->enabled;
}

const uint64_t *curve_refused(const curve_t *c)
{
    return &c->refused;
}

/* ---- sockets -------------------------------------------------------- */

/* The host of a tcp endpoint ("tcp://[SRC;]HOST:PORT"), brackets
 * stripped; false when it is not tcp. */
static bool tcp_host(const char *endpoint, char *host, size_t size)
{
    if (strncmp(endpoint, "tcp://", 6) != 0)
        return false;
    const char *h = endpoint + 6;
    const char *semi = strchr(h, ';');
    if (semi)
        h = semi + 1;
    const char *colon = strrchr(h, ':');
    size_t n = colon ? (size_t)(colon - h) : strlen(h);
    strip_brackets(h, n, host, size);
    return true;
}

static bool loopback(const char *host)
{
    return !strcmp(host, "127.0.0.1") || !strcmp(host, "localhost") ||
           !strcmp(host, "::1");
}

/* 1 when endpoint needs CURVE and c has keys; 0 when nothing is needed
 * (not tcp, or insecure); -EPERM otherwise. */
static int need_curve(const curve_t *c, const char *endpoint, char *host,
                      size_t size, char *err, size_t errlen)
{
    static bool warned;
    if (!tcp_host(endpoint, host, size))
        return 0;
    if (curve_enabled(c))
        return 1;
    if (c && c->insecure) {
        if (!warned)
            log_warn("bus.insecure: %s and every other tcp:// socket run "
                     "without authentication or encryption", endpoint);
        warned = true;
        return 0;
    }
    errbuf_set(err, errlen, "%s is tcp:// but no CURVE keys are set: give "
               "this machine's key (bus.curve_key, from hark keygen) and "
               "its peers (bus.peers), or set bus.insecure: true",
               endpoint);
    return -EPERM;
}

int curve_allows(const curve_t *c, const char *endpoint, char *err,
                 size_t errlen)
{
    char host[256];
    int rc = need_curve(c, endpoint, host, sizeof(host), err, errlen);
    return rc < 0 ? rc : 0;
}

static int set_opt(void *sock, int opt, const void *v, size_t n,
                   const char *endpoint, char *err, size_t errlen)
{
    if (zmq_setsockopt(sock, opt, v, n) == 0)
        return 0;
    int e = errno;
    errbuf_set(err, errlen, "%s: cannot set up CURVE: %s", endpoint,
               zmq_strerror(e));
    return -e;
}

int curve_server(const curve_t *c, void *sock, const char *endpoint,
                 char *err, size_t errlen)
{
    char host[256];
    int rc = need_curve(c, endpoint, host, sizeof(host), err, errlen);
    if (rc <= 0)
        return rc;
    int one = 1;
    rc = set_opt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one), endpoint, err,
                 errlen);
    if (rc == 0)
        rc = set_opt(sock, ZMQ_CURVE_SECRETKEY, c->secret_z85,
                     KEYFILE_Z85_LEN, endpoint, err, errlen);
    if (rc == 0)
        rc = set_opt(sock, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN),
                     endpoint, err, errlen);
    return rc;
}

int curve_client(const curve_t *c, void *sock, const char *endpoint,
                 char *err, size_t errlen)
{
    char host[256];
    int rc = need_curve(c, endpoint, host, sizeof(host), err, errlen);
    if (rc <= 0)
        return rc;
    const char *server = NULL;
    for (unsigned i = 0; i < c->n_peers && !server; i++)
        if (!strcmp(c->peers[i].host, host))
            server = c->peers[i].z85;
    if (!server && loopback(host))
        server = c->public_z85;
    if (!server) {
        errbuf_set(err, errlen, "%s: no CURVE key for host %s (add "
                   "\"%s: <its .curve.pub>\" to bus.peers)", endpoint, host,
                   host);
        return -ENOKEY;
    }
    rc = set_opt(sock, ZMQ_CURVE_SERVERKEY, server, KEYFILE_Z85_LEN,
                 endpoint, err, errlen);
    if (rc == 0)
        rc = set_opt(sock, ZMQ_CURVE_PUBLICKEY, c->public_z85,
                     KEYFILE_Z85_LEN, endpoint, err, errlen);
    if (rc == 0)
        rc = set_opt(sock, ZMQ_CURVE_SECRETKEY, c->secret_z85,
                     KEYFILE_Z85_LEN, endpoint, err, errlen);
    return rc;
}

int curve_connect_setup(void *ctx, const struct config *cfg, void *sock,
                        const char *endpoint, char *err, size_t errlen)
{
    if (strncmp(endpoint, "tcp://", 6) != 0)
        return 0;
    curve_t *c = curve_new(ctx, cfg, 0, err, errlen);
    if (!c)
        return -EPERM;
    int rc = curve_client(c, sock, endpoint, err, errlen);
    curve_destroy(&c); /* the socket keeps its own copy of the keys */
    return rc;
}
