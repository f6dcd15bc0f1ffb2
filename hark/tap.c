/* tap.c - `hark tap`: what the stages publish, as JSON lines.
 *
 * Every stage binds a PUB tap and publishes each frame it emits there
 * (and its stats each second). This subscribes to the taps of the whole
 * pipeline named by the config and prints each frame as one JSON line:
 * {"tap":ID,"topic":T,"frame":{...the MessagePack map...}}. Binary
 * fields (bodies, packet bytes) are base64. A tap never slows the
 * pipeline: a reader that falls behind loses frames, counted in the
 * stage's tap_dropped.
 */
#include "supervisor.h"
#include "config.h"
#include "curve.h"
#include "frame.h"
#include "record_json.h"
#include "topology.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define TAP_MAX (CONFIG_MAX_SHARDS + 4)

static volatile sig_atomic_t tap_stop;

static void on_signal(int sig)
{
    (void)sig;
    tap_stop = 1;
}

static void to_json(struct json_out *j, const msgpack_object *o, int depth)
{
    if (depth > FRAME_MAX_DEPTH) {
        json_out_cstr(j, "...");
        return;
    }
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: json_out_cstr(j, ""); break; /* unused by the schema */
    case MSGPACK_OBJECT_BOOLEAN: json_out_bool(j, o->via.boolean); break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: json_out_u64(j, o->via.u64); break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: json_out_i64(j, o->via.i64); break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: json_out_i64(j, (int64_t)o->via.f64); break;
    case MSGPACK_OBJECT_STR:
        json_out_str(j, o->via.str.ptr, o->via.str.size);
        break;
    case MSGPACK_OBJECT_BIN:
        json_out_base64(j, o->via.bin.ptr, o->via.bin.size);
        break;
    case MSGPACK_OBJECT_ARRAY:
        json_out_arr(j);
        for (uint32_t i = 0; i < o->via.array.size; i++)
            to_json(j, &o->via.array.ptr[i], depth + 1);
        json_out_arr_end(j);
        break;
    case MSGPACK_OBJECT_MAP:
        json_out_obj(j);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;
            char key[128];
            if (k->type == MSGPACK_OBJECT_STR) {
                size_t n = k->via.str.size < sizeof(key) - 1
                               ? k->via.str.size : sizeof(key) - 1;
                memcpy(key, k->via.str.ptr, n);
                key[n] = '\0';
            } else {
                snprintf(key, sizeof(key), "?");
            }
            json_out_key(j, key);
            to_json(j, &o->via.map.ptr[i].val, depth + 1);
        }
        json_out_obj_end(j);
        break;
    default:
        json_out_cstr(j, "?");
        break;
    }
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: hark tap [-c FILE] [--run-dir DIR] [--host HOST] "
        "[--stage ID]... [--count N]\n"
        "                [TOPIC...]\n\n"
        "Prints the frames the pipeline's stages publish on their taps, one "
        "JSON line each.\nTOPIC: msg, log, eof, stats, pkt (default: msg log "
        "eof). --stage limits the taps\n(capture, reassemble-0, dispatch, "
        "correlate, logger, ...). With tcp taps\n(bus.tap_base_port), --host "
        "reads those of another machine (CURVE keys:\nbus.curve_key, "
        "bus.peers).\n");
}

static bool more_parts(void *sock)
{
    int more = 0;
    size_t sz = sizeof(more);
    return zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) == 0 && more;
}

/* One whole message into topic and body: false, with every part taken
 * off the socket, when it is not exactly two parts (the next message
 * must not start in the middle of this one). */
static bool recv_pair(void *sub, zmq_msg_t *topic, zmq_msg_t *body)
{
    if (zmq_msg_recv(topic, sub, 0) < 0)
        return false;
    bool ok = more_parts(sub) && zmq_msg_recv(body, sub, 0) >= 0 &&
              !more_parts(sub);
    while (more_parts(sub) && zmq_msg_recv(body, sub, 0) >= 0)
        ;
    return ok;
}

struct tap_options {
    const char *config_path, *run_dir, *host;
    const char *only[TAP_MAX];    /* --stage: these process ids only */
    unsigned n_only;
    long count;                   /* frames to print; -1 for no end */
};

/* -1 to go on, else the exit status (usage printed, or the error). */
static int parse_options(struct tap_options *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "run-dir", required_argument, NULL, 'R' },
        { "stage", required_argument, NULL, 's' },
        { "count", required_argument, NULL, 'n' },
        { "host", required_argument, NULL, 'H' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    memset(o, 0, sizeof(*o));
    o->count = -1;
    int c;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:n:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': o->config_path = optarg; break;
        case 'R': o->run_dir = optarg; break;
        case 's':
            if (o->n_only == TAP_MAX) {
                fprintf(stderr, "hark tap: more than %d --stage options\n",
                        TAP_MAX);
                return 2;
            }
            o->only[o->n_only++] = optarg;
            break;
        case 'n':
            errno = 0;
            o->count = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || o->count < 1) {
                fprintf(stderr, "hark tap: --count '%s': expected a number "
                                "of frames, 1 or more\n", optarg);
                return 2;
            }
            break;
        case 'H': o->host = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    for (int i = optind; i < argc; i++)
        if (frame_type_of(argv[i], strlen(argv[i])) < 0) {
            fprintf(stderr, "hark tap: unknown topic '%s'\n", argv[i]);
            return 2;
        }
    return -1;
}

/* Connects sub to the taps of the stages o asks for: 0, or 2 (a --stage
 * that names no stage of cfg, a key that does not load). */
static int connect_taps(const struct tap_options *o,
                        const struct config *cfg, void *ctx, void *sub)
{
    char ids[TAP_MAX][48];
    unsigned n_ids = 0;
    for (unsigned r = 0; r < ROLE_COUNT; r++)
        for (unsigned i = 0; i < topology_instances(cfg, r) &&
                             n_ids < TAP_MAX; i++)
            topology_id(r, i, ids[n_ids++], sizeof(ids[0]));
    for (unsigned k = 0; k < o->n_only; k++) {
        bool known = false;
        for (unsigned i = 0; i < n_ids; i++)
            known |= !strcmp(o->only[k], ids[i]);
        if (!known) {
            fprintf(stderr, "hark tap: --stage '%s' is not a stage of this "
                            "config (", o->only[k]);
            for (unsigned i = 0; i < n_ids; i++)
                fprintf(stderr, "%s%s", i ? ", " : "", ids[i]);
            fprintf(stderr, ")\n");
            return 2;
        }
    }
    bool keyed = false;
    char err[512];
    for (unsigned i = 0; i < n_ids; i++) {
        bool wanted = o->n_only == 0;
        for (unsigned k = 0; k < o->n_only; k++)
            wanted |= !strcmp(o->only[k], ids[i]);
        char ep[4200];
        if (!wanted ||
            !topology_tap_reader(cfg, ids[i], o->host, ep, sizeof(ep)))
            continue;
        /* Every tap read here is on one host: one server key. */
        if (!keyed && curve_connect_setup(ctx, cfg, sub, ep, err,
                                          sizeof(err)) < 0) {
            fprintf(stderr, "hark tap: %s\n", err);
            return 2;
        }
        keyed = true;
        if (zmq_connect(sub, ep) != 0)
            fprintf(stderr, "hark tap: %s: %s\n", ep, zmq_strerror(errno));
    }
    return 0;
}

/* Prints each frame as a JSON line until count frames, a signal, or a
 * closed stdout. 0, or 1 when stdout failed. */
static int print_frames(void *sub, long count)
{
    frame_reader_t *reader = frame_reader_new();
    if (!reader)
        return 1;
    struct json_out j;
    json_out_init(&j);
    zmq_msg_t topic, body;
    zmq_msg_init(&topic);
    zmq_msg_init(&body);
    int rc = 0;
    while (!tap_stop && count != 0) {
        zmq_pollitem_t it = { sub, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(&it, 1, 200) <= 0)
            continue;
        if (!recv_pair(sub, &topic, &body)) {
            fprintf(stderr, "hark tap: skipped a message that was not topic "
                            "+ body\n");
            continue;
        }
        const msgpack_object *o;
        if (frame_unpack(reader, zmq_msg_data(&body), zmq_msg_size(&body),
                         &o) != 0) {
            fprintf(stderr, "hark tap: a malformed frame on topic %.*s\n",
                    (int)zmq_msg_size(&topic), (char *)zmq_msg_data(&topic));
            continue;
        }
        json_out_reset(&j);
        json_out_obj(&j);
        json_out_key(&j, "topic");
        json_out_str(&j, zmq_msg_data(&topic), zmq_msg_size(&topic));
        json_out_key(&j, "frame");
        to_json(&j, o, 0);
        json_out_obj_end(&j);
        if (fwrite(j.p, 1, j.len, stdout) != j.len || putchar('\n') == EOF ||
            fflush(stdout) != 0) {
            rc = errno == EPIPE ? 0 : 1;
            break;
        }
        if (count > 0)
            count--;
    }
    zmq_msg_close(&topic);
    zmq_msg_close(&body);
    json_out_free(&j);
    frame_reader_destroy(&reader);
    return rc;
}

int hark_tap_main(int argc, char **argv)
{
    struct tap_options o;
    int rc = parse_options(&o, argc, argv);
    if (rc >= 0)
        return rc;
    struct config *cfg = NULL;
    char err[512];
    if (o.config_path ? config_load(o.config_path, &cfg, err, sizeof(err)) < 0
                      : !(cfg = config_default())) {
        fprintf(stderr, "hark tap: %s\n", o.config_path ? err : "no memory");
        return 2;
    }
    if (o.run_dir && config_set_string(&cfg->bus.run_dir, o.run_dir) < 0) {
        fprintf(stderr, "hark tap: no memory\n");
        config_destroy(&cfg);
        return 1;
    }
    void *ctx = zmq_ctx_new();
    void *sub = ctx ? zmq_socket(ctx, ZMQ_SUB) : NULL;
    rc = sub ? connect_taps(&o, cfg, ctx, sub) : 1;
    if (rc == 0) {
        static const char *const defaults[] = { "msg", "log", "eof" };
        if (optind < argc) {
            for (int i = optind; i < argc; i++)
                zmq_setsockopt(sub, ZMQ_SUBSCRIBE, argv[i], strlen(argv[i]));
        } else {
            for (unsigned i = 0; i < 3; i++)
                zmq_setsockopt(sub, ZMQ_SUBSCRIBE, defaults[i],
                               strlen(defaults[i]));
        }
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGPIPE, SIG_IGN);
        rc = print_frames(sub, o.count);
    }
    if (sub)
        zmq_close(sub);
    if (ctx)
        zmq_ctx_term(ctx);
    config_destroy(&cfg);
    return rc;
}
