/* check_config.c - `hark check-config FILE`, and the file a reload reads.
 *
 * A reload applies service groups, relative paths and policies (with
 * their redaction); everything else is read once when a stage starts, so
 * a change to it is named here rather than silently ignored.
 */
#include "check_config.h"
#include "curve.h"
#include "errbuf.h"
#include "log.h"
#include "topology.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#define EP_MAX 4200

/* Every endpoint of the pipeline fits (an ipc path within a socket
 * address). 0 or -ENAMETOOLONG (err). */
static int check_endpoints(const struct config *c, char *err, size_t errlen)
{
    char ep[EP_MAX];
    for (unsigned r = 0; r < ROLE_COUNT; r++) {
        for (unsigned i = 0; i < topology_instances(c, r); i++) {
            char id[48];
            if (topology_stage(r)->input &&
                !topology_input(c, r, i, ep, sizeof(ep))) {
                errbuf_set(err, errlen, "%s: the input endpoint of %s does "
                           "not fit: shorten bus.run_dir", c->source,
                           topology_id(r, i, id, sizeof(id)));
                return -ENAMETOOLONG;
            }
            if (!topology_id(r, i, id, sizeof(id)) ||
                !topology_tap(c, id, ep, sizeof(ep))) {
                errbuf_set(err, errlen, "%s: the tap endpoint of %s does "
                           "not fit", c->source, id);
                return -ENAMETOOLONG;
            }
        }
    }
    if (!topology_query(c, ep, sizeof(ep))) {
        errbuf_set(err, errlen, "%s: the query endpoint does not fit",
                   c->source);
        return -ENAMETOOLONG;
    }
    return 0;
}

/* Reads the keys the file names and checks tcp:// has them. */
static int check_keys(const struct config *c, char *err, size_t errlen)
{
    void *zmq = zmq_ctx_new();
    if (!zmq) {
        errbuf_set(err, errlen, "out of memory");
        return -ENOMEM;
    }
    char why[512], tcp[EP_MAX];
    int rc = 0;
    curve_t *curve = curve_new(zmq, c, 0, why, sizeof(why));
    if (!curve)
        rc = -EINVAL;
    else if (topology_tcp(c, tcp, sizeof(tcp)))
        rc = curve_allows(curve, tcp, why, sizeof(why)) < 0 ? -EPERM : 0;
    if (rc < 0)
        errbuf_set(err, errlen, "%s: %s", c->source, why);
    zmq_ctx_term(zmq);
    curve_destroy(&curve);
    return rc;
}

int check_config_load(const char *path, struct config **out, char *err,
                      size_t errlen)
{
    struct config *c = NULL;
    int rc = config_load(path, &c, err, errlen);
    if (rc == 0 && (rc = check_endpoints(c, err, errlen)) == 0)
        rc = check_keys(c, err, errlen);
    if (rc < 0) {
        config_destroy(&c);
        return rc;
    }
    *out = c;
    return 0;
}

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

/* Each differing setting: one warning, counted in *n. */
#define SAME_NUM(n, a, b, key)                                            \
    do {                                                                  \
        if ((a)->key != (b)->key) {                                       \
            log_warn("reload: %s changed; it takes effect when hark "     \
                     "restarts", #key);                                   \
            (*(n))++;                                                     \
        }                                                                 \
    } while (0)
#define SAME_STR(n, a, b, key)                                            \
    do {                                                                  \
        if (!same_str((a)->key, (b)->key)) {                              \
            log_warn("reload: %s changed; it takes effect when hark "     \
                     "restarts", #key);                                   \
            (*(n))++;                                                     \
        }                                                                 \
    } while (0)

/* The endpoints as the stages compute them. */
static unsigned endpoints_differ(const struct config *a,
                                 const struct config *b)
{
    char x[EP_MAX], y[EP_MAX];
    unsigned n = 0;
    for (unsigned r = 0; r < ROLE_COUNT; r++)
        for (unsigned i = 0; i < topology_instances(a, r); i++) {
            const char *ex = topology_input(a, r, i, x, sizeof(x));
            const char *ey = topology_input(b, r, i, y, sizeof(y));
            n += !same_str(ex, ey);
        }
    n += !same_str(topology_query(a, x, sizeof(x)),
                   topology_query(b, y, sizeof(y)));
    n += !same_str(topology_tap(a, "capture", x, sizeof(x)),
                   topology_tap(b, "capture", y, sizeof(y)));
    if (n)
        log_warn("reload: bus endpoints changed; they take effect when "
                 "hark restarts");
    return n ? 1 : 0;
}

unsigned check_config_restart_only(const struct config *a,
                                   const struct config *b)
{
    unsigned n = 0;
    SAME_NUM(&n, a, b, reassemble.shards);
    SAME_NUM(&n, a, b, reassemble.max_flows);
    SAME_NUM(&n, a, b, reassemble.max_buffered);
    SAME_NUM(&n, a, b, reassemble.memcap);
    SAME_NUM(&n, a, b, reassemble.max_header_bytes);
    SAME_NUM(&n, a, b, reassemble.max_headers);
    SAME_NUM(&n, a, b, reassemble.body_max);
    SAME_NUM(&n, a, b, reassemble.idle_timeout_ns);
    SAME_NUM(&n, a, b, reassemble.reorder_ns);
    SAME_NUM(&n, a, b, reassemble.overlap);
    SAME_NUM(&n, a, b, reassemble.checksums);
    SAME_STR(&n, a, b, capture.device);
    SAME_STR(&n, a, b, capture.filter);
    SAME_NUM(&n, a, b, capture.promiscuous);
    SAME_NUM(&n, a, b, capture.snaplen);
    SAME_NUM(&n, a, b, correlate.max_pending);
    SAME_STR(&n, a, b, logger.db);
    SAME_STR(&n, a, b, logger.sign_key);
    SAME_NUM(&n, a, b, logger.batch);
    SAME_STR(&n, a, b, bus.curve_key);
    SAME_NUM(&n, a, b, bus.n_peers);
    SAME_NUM(&n, a, b, bus.tap_base_port);
    SAME_STR(&n, a, b, supervisor.run_as);
    SAME_STR(&n, a, b, supervisor.metrics);
    SAME_NUM(&n, a, b, supervisor.max_restarts);
    SAME_NUM(&n, a, b, supervisor.drain_timeout_ns);
    if (a->reassemble.shards == b->reassemble.shards)
        n += endpoints_differ(a, b);
    return n;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: hark check-config FILE\n\n"
               "Checks FILE as every stage would when it starts: the YAML, "
               "every key and value,\nthe endpoints, and the CURVE key files "
               "it names. Runs nothing. Prints 'FILE: ok'\nand exits 0, or "
               "prints the first problem (FILE:LINE: KEY: ...) and exits "
               "2.\n");
}

int hark_check_config_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        usage(stderr);
        return 2;
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    char err[1024];
    struct config *cfg = NULL;
    if (check_config_load(argv[optind], &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "hark check-config: %s\n", err);
        return 2;
    }
    printf("%s: ok (%u service group(s), %u polic%s, %u reassembler "
           "shard(s))\n", argv[optind], cfg->n_groups, cfg->n_policies,
           cfg->n_policies == 1 ? "y" : "ies", cfg->reassemble.shards);
    config_destroy(&cfg);
    return 0;
}
