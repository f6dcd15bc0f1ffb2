/* test_common_curve.c - CurveZMQ keys and the ZAP handler.
 *
 * Real sockets on 127.0.0.1: a server set up by curve_server() (with the
 * handler running) answers a client set up by curve_client() with this
 * machine's key, and answers nobody else: not a client without keys, not
 * one with a key of its own that bus.peers does not list, not one that
 * expects another server key. tcp:// without keys is refused unless
 * bus.insecure; ipc:// needs nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "curve.h"
#include "keyfile.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

struct fixture {
    char dir[64];
    char yaml[2048];
    char endpoint[64];
    void *ctx;
    curve_t *curve;
    void *server;
};

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    return remove(path);
}

/* Keys "this" (ours) and "peer" (listed) and "stranger" (not). */
static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    char err[256], prefix[128];
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/hark-curve-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    static const char *const names[] = { "this", "peer", "stranger" };
    for (unsigned i = 0; i < 3; i++) {
        snprintf(prefix, sizeof(prefix), "%s/%s", fx->dir, names[i]);
        if (keyfile_generate(prefix, false, err, sizeof(err)) < 0)
            return -1;
    }
    snprintf(fx->yaml, sizeof(fx->yaml),
             "bus:\n  curve_key: %s/this.curve\n  peers:\n"
             "    10.9.9.9: %s/peer.curve.pub\n",
             fx->dir, fx->dir);
    fx->ctx = zmq_ctx_new();
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    if (fx->server)
        zmq_close(fx->server);
    zmq_ctx_term(fx->ctx);
    curve_destroy(&fx->curve);
    nftw(fx->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

static struct config *load(const char *yaml)
{
    struct config *c = NULL;
    char err[256];
    if (config_load_string(yaml, "t.yaml", &c, err, sizeof(err)) < 0)
        fail_msg("%s", err);
    return c;
}

/* A REP server on a free 127.0.0.1 port with our keys and the handler. */
static void start_server(struct fixture *fx)
{
    char err[256];
    struct config *c = load(fx->yaml);
    fx->curve = curve_new(fx->ctx, c, CURVE_ZAP, err, sizeof(err));
    if (!fx->curve)
        fail_msg("%s", err);
    config_destroy(&c);
    assert_true(curve_enabled(fx->curve));
    fx->server = zmq_socket(fx->ctx, ZMQ_REP);
    int linger = 0;
    zmq_setsockopt(fx->server, ZMQ_LINGER, &linger, sizeof(linger));
    assert_int_equal(curve_server(fx->curve, fx->server, "tcp://127.0.0.1:0",
                                  err, sizeof(err)), 0);
    assert_int_equal(zmq_bind(fx->server, "tcp://127.0.0.1:*"), 0);
    size_t n = sizeof(fx->endpoint);
    zmq_getsockopt(fx->server, ZMQ_LAST_ENDPOINT, fx->endpoint, &n);
}

/* Asks the server once from a client set up by `keys` (a config, or NULL
 * for a client with explicit Z85 keys or none); true when it answered. */
static bool answered(struct fixture *fx, void *client)
{
    int linger = 0, tmo = 700;
    zmq_setsockopt(client, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(client, ZMQ_RCVTIMEO, &tmo, sizeof(tmo));
    assert_int_equal(zmq_connect(client, fx->endpoint), 0);
    bool ok = false;
    if (zmq_send(client, "ping", 4, 0) == 4) {
        zmq_pollitem_t it = { fx->server, 0, ZMQ_POLLIN, 0 };
        char buf[8];
        if (zmq_poll(&it, 1, 700) == 1 &&
            zmq_recv(fx->server, buf, sizeof(buf), 0) == 4) {
            zmq_send(fx->server, "pong", 4, 0);
            ok = zmq_recv(client, buf, sizeof(buf), 0) == 4;
        }
    }
    zmq_close(client);
    return ok;
}

static void *client_with(struct fixture *fx, const char *who,
                         const char *server_pub)
{
    char path[128], err[256], sec[41], pub[41];
    void *c = zmq_socket(fx->ctx, ZMQ_REQ);
    snprintf(path, sizeof(path), "%s/%s.curve", fx->dir, who);
    assert_int_equal(keyfile_load_curve_secret(path, sec, pub, err,
                                               sizeof(err)), 0);
    zmq_setsockopt(c, ZMQ_CURVE_SERVERKEY, server_pub, 40);
    zmq_setsockopt(c, ZMQ_CURVE_PUBLICKEY, pub, 40);
    zmq_setsockopt(c, ZMQ_CURVE_SECRETKEY, sec, 40);
    return c;
}

static void test_admits_listed_keys_only(void **state)
{
    struct fixture *fx = *state;
    start_server(fx);
    char err[256], this_pub[41], path[128];
    snprintf(path, sizeof(path), "%s/this.curve.pub", fx->dir);
    assert_int_equal(keyfile_load_curve_public(path, this_pub, err,
                                               sizeof(err)), 0);

    /* our own client, set up from the config: loopback is our key */
    struct config *c = load(fx->yaml);
    void *mine = zmq_socket(fx->ctx, ZMQ_REQ);
    assert_int_equal(curve_connect_setup(fx->ctx, c, mine, fx->endpoint, err,
                                         sizeof(err)), 0);
    assert_true(answered(fx, mine));
    /* a listed peer's key */
    assert_true(answered(fx, client_with(fx, "peer", this_pub)));
    /* a key nobody listed: the handler refuses it */
    assert_false(answered(fx, client_with(fx, "stranger", this_pub)));
    assert_true(*curve_refused(fx->curve) >= 1);
    /* no keys at all: the CURVE handshake fails */
    assert_false(answered(fx, zmq_socket(fx->ctx, ZMQ_REQ)));
    /* a client that expects another server's key */
    char peer_pub[41];
    snprintf(path, sizeof(path), "%s/peer.curve.pub", fx->dir);
    keyfile_load_curve_public(path, peer_pub, err, sizeof(err));
    assert_false(answered(fx, client_with(fx, "this", peer_pub)));
    config_destroy(&c);
}

static void test_client_server_keys(void **state)
{
    struct fixture *fx = *state;
    char err[256];
    struct config *c = load(fx->yaml);
    curve_t *cv = curve_new(fx->ctx, c, 0, err, sizeof(err));
    assert_non_null(cv);
    void *s = zmq_socket(fx->ctx, ZMQ_PUSH);
    /* a listed host, loopback, brackets */
    assert_int_equal(curve_client(cv, s, "tcp://10.9.9.9:1", err,
                                  sizeof(err)), 0);
    assert_int_equal(curve_client(cv, s, "tcp://[::1]:1", err, sizeof(err)),
                     0);
    /* a host nobody gave a key for */
    assert_int_equal(curve_client(cv, s, "tcp://10.1.1.1:5601", err,
                                  sizeof(err)), -ENOKEY);
    assert_non_null(strstr(err, "no CURVE key for host 10.1.1.1"));
    /* other transports need nothing */
    assert_int_equal(curve_client(cv, s, "ipc:///tmp/x", err, sizeof(err)),
                     0);
    zmq_close(s);
    curve_destroy(&cv);
    config_destroy(&c);
}

static void test_refusals(void **state)
{
    struct fixture *fx = *state;
    char err[256];
    struct config *c = load("bus: {}\n");
    curve_t *cv = curve_new(fx->ctx, c, CURVE_ZAP, err, sizeof(err));
    assert_non_null(cv);
    assert_false(curve_enabled(cv));
    assert_int_equal(curve_allows(cv, "ipc:///tmp/x", err, sizeof(err)), 0);
    assert_int_equal(curve_allows(cv, "tcp://127.0.0.1:5601", err,
                                  sizeof(err)), -EPERM);
    assert_non_null(strstr(err, "bus.insecure"));
    assert_int_equal(curve_allows(NULL, "tcp://h:1", err, sizeof(err)),
                     -EPERM);
    curve_destroy(&cv);
    config_destroy(&c);

    c = load("bus: {insecure: true}\n");
    cv = curve_new(fx->ctx, c, 0, err, sizeof(err));
    assert_int_equal(curve_allows(cv, "tcp://127.0.0.1:5601", err,
                                  sizeof(err)), 0);
    curve_destroy(&cv);
    config_destroy(&c);

    /* a key file that cannot be read, or is readable by others */
    c = load("bus: {curve_key: /nonexistent/this.curve}\n");
    assert_null(curve_new(fx->ctx, c, 0, err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/this.curve"));
    config_destroy(&c);
    char yaml[256], path[128];
    snprintf(path, sizeof(path), "%s/this.curve", fx->dir);
    chmod(path, 0644);
    snprintf(yaml, sizeof(yaml), "bus: {curve_key: %s}\n", path);
    c = load(yaml);
    assert_null(curve_new(fx->ctx, c, 0, err, sizeof(err)));
    assert_non_null(strstr(err, "readable by others"));
    config_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_admits_listed_keys_only, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client_server_keys, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
