/* tap_log.c - print hark's audit records as the pipeline makes them.
 *
 *   tap_log ENDPOINT [--key FILE --server-key FILE] [--count N]
 *
 * The C twin of tap_log.py, and like it a consumer of a stage's tap as
 * docs/bus.md describes it, with nothing of hark's own code: libzmq and
 * msgpack-c only.
 *
 *   cc -o tap_log tap_log.c $(pkg-config --cflags --libs libzmq msgpack)
 *
 * A SUB socket on the tap, subscribed to `log`; each message is a topic
 * and one MessagePack map, version "v" 1, whose "records" array holds
 * the audit records. Read correlate's tap (ipc://RUN_DIR/tap-correlate,
 * or tcp://127.0.0.1:BASE+2 with bus.tap_base_port BASE) to see every
 * record on its way to the logger. A tcp:// tap is CurveZMQ: --key is a
 * .curve file of `hark keygen` whose public key the pipeline lists in
 * bus.peers, --server-key the .curve.pub of the tap's machine.
 *
 * One line per record: KIND METHOD URI STATUS [OUTCOME], "-" for a
 * request's status. Ends after N records with --count.
 *
 * The map comes from the network: every field is looked up by name and
 * checked for its type before use, and text is printed with anything
 * that is not printable ASCII replaced by '?'.
 */
#include <msgpack.h>
#include <zmq.h>

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define Z85_KEY 40

/* The value of key `name` in map o, or NULL. */
static const msgpack_object *get(const msgpack_object *o, const char *name)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t n = strlen(name);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            !memcmp(k->via.str.ptr, name, n))
            return &o->via.map.ptr[i].val;
    }
    return NULL;
}

static void put_text(const msgpack_object *o)
{
    if (!o || o->type != MSGPACK_OBJECT_STR) {
        fputc('-', stdout);
        return;
    }
    for (uint32_t i = 0; i < o->via.str.size; i++) {
        unsigned char c = (unsigned char)o->via.str.ptr[i];
        fputc(isprint(c) ? c : '?', stdout);
    }
}

static bool is_str(const msgpack_object *o, const char *s)
{
    return o && o->type == MSGPACK_OBJECT_STR &&
           o->via.str.size == strlen(s) &&
           !memcmp(o->via.str.ptr, s, o->via.str.size);
}

/* Prints the request and response records of one frame; returns how
 * many. */
static unsigned put_records(const msgpack_object *frame)
{
    const msgpack_object *v = get(frame, "v");
    const msgpack_object *recs = get(frame, "records");
    if (!v || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 != 1 ||
        !recs || recs->type != MSGPACK_OBJECT_ARRAY)
        return 0; /* another schema version, or not a log frame */
    unsigned n = 0;
    for (uint32_t i = 0; i < recs->via.array.size; i++) {
        const msgpack_object *r = &recs->via.array.ptr[i];
        const msgpack_object *kind = get(r, "kind");
        if (!is_str(kind, "request") && !is_str(kind, "response"))
            continue; /* an outage record: no method or uri */
        put_text(kind);
        fputc(' ', stdout);
        put_text(get(r, "method"));
        fputc(' ', stdout);
        put_text(get(r, "uri"));
        const msgpack_object *st = get(r, "status");
        if (st && st->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            printf(" %llu", (unsigned long long)st->via.u64);
        else
            fputs(" -", stdout);
        const msgpack_object *outcome = get(r, "outcome");
        if (outcome) {
            fputc(' ', stdout);
            put_text(outcome);
        }
        fputc('\n', stdout);
        n++;
    }
    fflush(stdout);
    return n;
}

/* The Z85 key after `field ` in a hark keygen file, into out. */
static int read_key(const char *path, const char *field, char *out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "tap_log: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[256];
    size_t n = strlen(field);
    int rc = -1;
    while (rc < 0 && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!strncmp(line, field, n) && line[n] == ' ' &&
            strlen(line + n + 1) == Z85_KEY) {
            memcpy(out, line + n + 1, Z85_KEY + 1);
            rc = 0;
        }
    }
    fclose(f);
    if (rc < 0)
        fprintf(stderr, "tap_log: no '%s' key in %s\n", field, path);
    return rc;
}

static int set_keys(void *sub, const char *key, const char *server)
{
    char secret[Z85_KEY + 1], public[Z85_KEY + 1], srv[Z85_KEY + 1];
    if (read_key(key, "curve-secret", secret) < 0 ||
        read_key(key, "curve-public", public) < 0 ||
        read_key(server, "curve", srv) < 0)
        return -1;
    if (zmq_setsockopt(sub, ZMQ_CURVE_SECRETKEY, secret, Z85_KEY) ||
        zmq_setsockopt(sub, ZMQ_CURVE_PUBLICKEY, public, Z85_KEY) ||
        zmq_setsockopt(sub, ZMQ_CURVE_SERVERKEY, srv, Z85_KEY)) {
        fprintf(stderr, "tap_log: CURVE keys: %s\n", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *endpoint = NULL, *key = NULL, *server = NULL;
    unsigned long count = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--key") && i + 1 < argc)
            key = argv[++i];
        else if (!strcmp(argv[i], "--server-key") && i + 1 < argc)
            server = argv[++i];
        else if (!strcmp(argv[i], "--count") && i + 1 < argc)
            count = strtoul(argv[++i], NULL, 10);
        else if (!endpoint && argv[i][0] != '-')
            endpoint = argv[i];
        else
            count = 0, key = server = NULL, endpoint = "";
    }
    if (!endpoint || !*endpoint || !key != !server) {
        fprintf(stderr, "usage: tap_log ENDPOINT [--key FILE --server-key "
                        "FILE] [--count N]\n");
        return 2;
    }
    void *ctx = zmq_ctx_new();
    void *sub = ctx ? zmq_socket(ctx, ZMQ_SUB) : NULL;
    if (!sub || (key && set_keys(sub, key, server) < 0) ||
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "log", 3) ||
        zmq_connect(sub, endpoint)) {
        if (sub)
            fprintf(stderr, "tap_log: %s: %s\n", endpoint,
                    zmq_strerror(errno));
        return 1;
    }
    fprintf(stderr, "tap_log: reading %s\n", endpoint);
    unsigned long n = 0;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    while (!count || n < count) {
        zmq_msg_t topic, body;
        zmq_msg_init(&topic);
        zmq_msg_init(&body);
        int more = 0;
        size_t more_len = sizeof(more);
        if (zmq_msg_recv(&topic, sub, 0) < 0)
            break;
        zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &more_len);
        if (more && zmq_msg_recv(&body, sub, 0) >= 0 &&
            zmq_msg_size(&topic) == 3 &&
            !memcmp(zmq_msg_data(&topic), "log", 3)) {
            size_t off = 0;
            if (msgpack_unpack_next(&u, zmq_msg_data(&body),
                                    zmq_msg_size(&body), &off) ==
                    MSGPACK_UNPACK_SUCCESS &&
                off == zmq_msg_size(&body))
                n += put_records(&u.data);
        }
        /* any further parts of a message that is not ours */
        zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &more_len);
        while (more) {
            zmq_msg_t rest;
            zmq_msg_init(&rest);
            zmq_msg_recv(&rest, sub, 0);
            zmq_msg_close(&rest);
            zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &more_len);
        }
        zmq_msg_close(&topic);
        zmq_msg_close(&body);
    }
    msgpack_unpacked_destroy(&u);
    int zero = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_close(sub);
    zmq_ctx_term(ctx);
    return 0;
}
