/* config.c - loads hark.yaml over the built-in defaults.
 *
 * The file is parsed whole with libyaml's document API and walked once
 * against a fixed schema; ydoc.h reads each value as its type and words
 * the error. The first problem refuses the whole file with
 * "FILE:LINE: dotted.key: what is wrong (expected ..., found ...)".
 * Every mapping is checked for unknown and duplicate keys before any of
 * its values is read, so a typo never falls back to a default. Sections
 * are read in a fixed order whatever the file's order: policies before
 * service_groups (a route resolves its policy as it is read) and
 * reassemble before bus (bus.reassemble is counted against the shards).
 * On error the half-built config is destroyed; the caller gets nothing.
 */
#include "config.h"
#include "policy.h"

#include "clock.h"
#include "errbuf.h"
#include "frame.h"
#include "keyfile.h"
#include "topology.h"
#include "urlpath.h"
#include "ydoc.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/* Caps on what a file may describe. Aliases let a short file name a node
 * many times, so every list the loader copies is bounded. */
#define MAX_FILE_BYTES (16u << 20)
#define MAX_GROUPS 256
#define MAX_ROUTES 4096     /* per group */
#define MAX_ALL_ROUTES 16384 /* in all groups: aliases let a group reuse
                                another's list, so the sum is capped too */
#define MAX_POLICIES 256
#define MAX_STEPS 32        /* per policy */

#define DEFAULT_WAIT_NS (30 * NS_PER_SEC)
#define DEFAULT_MAX_RESPONSE_NS (600 * NS_PER_SEC)

/* The document being read and the config it fills. */
struct loader {
    struct ydoc y;
    struct config *c;
};

/* ---- freeing ---- */

static void free_names(char ***v, unsigned *n)
{
    for (unsigned i = 0; *v && i < *n; i++)
        free((*v)[i]);
    free(*v);
    *v = NULL;
    *n = 0;
}

static void free_step(struct config_step *s)
{
    free(s->label);
    free_names(&s->redact, &s->n_redact);
}

static void free_steps(struct config_policy *p)
{
    for (unsigned i = 0; p->steps && i < p->n_steps; i++)
        free_step(&p->steps[i]);
    free(p->steps);
    p->steps = NULL;
    p->n_steps = 0;
    p->wait_step = -1;
}

static void free_groups(struct config *c)
{
    for (unsigned g = 0; c->groups && g < c->n_groups; g++) {
        struct config_group *grp = &c->groups[g];
        for (unsigned r = 0; grp->routes && r < grp->n_routes; r++) {
            struct config_route *rt = &grp->routes[r];
            free(rt->path);
            free(rt->host);
            free(rt->policy);
            free_names(&rt->methods, &rt->n_methods);
        }
        free(grp->routes);
        free(grp->name);
    }
    free(c->groups);
    c->groups = NULL;
    c->n_groups = 0;
}

static void free_peers(struct config_bus *b)
{
    for (unsigned i = 0; b->peers && i < b->n_peers; i++) {
        free(b->peers[i].host);
        free(b->peers[i].key);
    }
    free(b->peers);
    b->peers = NULL;
    b->n_peers = 0;
}

void config_destroy(struct config **cp)
{
    struct config *c = cp ? *cp : NULL;
    if (!c)
        return;
    free(c->source);
    free(c->capture.device);
    free(c->capture.filter);
    free(c->capture.read);
    free_groups(c);
    for (unsigned i = 0; c->policies && i < c->n_policies; i++) {
        free_steps(&c->policies[i]);
        free(c->policies[i].name);
    }
    free(c->policies);
    free(c->logger.db);
    free(c->logger.sign_key);
    free(c->supervisor.run_as);
    free(c->supervisor.metrics);
    free(c->bus.run_dir);
    for (unsigned i = 0; i < CONFIG_MAX_SHARDS; i++)
        free(c->bus.reassemble[i]);
    free(c->bus.dispatch);
    free(c->bus.correlate);
    free(c->bus.logger);
    free(c->bus.query);
    free(c->bus.tap_bind);
    free(c->bus.curve_key);
    free_peers(&c->bus);
    free(c);
    *cp = NULL;
}

int config_set_string(char **field, const char *value)
{
    char *v = NULL;
    if (value && !(v = strdup(value)))
        return -ENOMEM;
    free(*field);
    *field = v;
    return 0;
}

/* ---- defaults ---- */

static const char *default_label(enum step_kind kind, enum step_message m)
{
    if (kind == STEP_WAIT)
        return "Assemble Response Packets";
    return m == STEP_MSG_REQUEST ? "Log Request Message"
                                 : "Log Response Message";
}

/* Fills s with the defaults of its kind; the label is left NULL so the
 * loader can tell whether the file set one. */
static int step_defaults(struct config_step *s, enum step_kind kind)
{
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    if (kind == STEP_WAIT) {
        s->timeout_ns = DEFAULT_WAIT_NS;
        s->until = WAIT_UNTIL_FIRST_BYTE;
        s->max_response_ns = DEFAULT_MAX_RESPONSE_NS;
        return 0;
    }
    s->headers = true;
    s->body_max = POLICY_DEFAULT_BODY_MAX;
    unsigned n = POLICY_DEFAULT_REDACT_COUNT;
    if (!(s->redact = calloc(n, sizeof(*s->redact))))
        return -ENOMEM;
    s->n_redact = n;
    for (unsigned i = 0; i < n; i++)
        if (!(s->redact[i] = strdup(policy_default_redact[i])))
            return -ENOMEM;
    return 0;
}

static int set_default_label(struct config_step *s)
{
    if (s->label)
        return 0;
    s->label = strdup(default_label(s->kind, s->message));
    return s->label ? 0 : -ENOMEM;
}

static int default_policy(struct config_policy *p)
{
    static const struct {
        enum step_kind kind;
        enum step_message message;
    } chain[] = {
        { STEP_LOG, STEP_MSG_REQUEST },
        { STEP_WAIT, STEP_MSG_REQUEST },
        { STEP_LOG, STEP_MSG_RESPONSE },
    };
    unsigned n = sizeof(chain) / sizeof(chain[0]);
    p->wait_step = 1;
    if (!(p->name = strdup("audit")) ||
        !(p->steps = calloc(n, sizeof(*p->steps))))
        return -ENOMEM;
    p->n_steps = n;
    for (unsigned i = 0; i < n; i++) {
        if (step_defaults(&p->steps[i], chain[i].kind) < 0)
            return -ENOMEM;
        p->steps[i].message = chain[i].message;
        if (set_default_label(&p->steps[i]) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int default_group(struct config_group *g)
{
    if (!(g->name = strdup("Packet Sniffer Group")) ||
        !(g->routes = calloc(1, sizeof(*g->routes))))
        return -ENOMEM;
    g->n_routes = 1;
    g->routes[0].policy_index = 0;
    if (!(g->routes[0].path = strdup("/")) ||
        !(g->routes[0].policy = strdup("audit")))
        return -ENOMEM;
    return 0;
}

/* /run/hark for root, $XDG_RUNTIME_DIR/hark for others (a directory
 * only they can use), else /tmp/hark-<uid>: a name for commands to look
 * at, which `hark run` replaces with a private mkdtemp directory (true
 * is returned then). Never a predictable path in /tmp that someone else
 * could make first. */
static bool default_run_dir(char *buf, size_t size)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (geteuid() == 0) {
        snprintf(buf, size, "/run/hark");
        return false;
    }
    if (xdg && xdg[0] == '/' &&
        (size_t)snprintf(buf, size, "%s/hark", xdg) < size)
        return false;
    snprintf(buf, size, "/tmp/hark-%u", (unsigned)getuid());
    return true;
}

struct config *config_default(void)
{
    struct config *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->capture = (struct config_capture){
        .promiscuous = false,
        .snaplen = 262144,
        .buffer_mb = 32,
        .batch_packets = 256,
        .batch_bytes = 256 * KIB,
        .flush_ns = 20 * NS_PER_MS,
    };
    c->reassemble = (struct config_reassemble){
        .shards = 2,
        .max_flows = 262144,
        .max_buffered = 1 * MIB,
        .memcap = 256 * MIB,
        .max_header_bytes = 64 * KIB,
        .max_headers = 128,
        .body_max = 1 * MIB,
        .idle_timeout_ns = 120 * NS_PER_SEC,
        .reorder_ns = 50 * NS_PER_MS,
    };
    c->correlate.max_pending = 262144;
    c->logger.batch = 512;
    c->logger.sync = false;
    c->logger.checkpoint_records = 10000;
    c->logger.checkpoint_interval_ns = 10 * NS_PER_SEC;
    c->logger.disk_full_wait_ns = 10 * NS_PER_SEC;
    c->bus.tap_base_port = 0;
    c->supervisor.max_restarts = 5;
    c->supervisor.drain_timeout_ns = 30 * NS_PER_SEC;

    char run_dir[4096];
    c->bus.run_dir_private = default_run_dir(run_dir, sizeof(run_dir));
    if (!(c->source = strdup("(defaults)")) ||
        !(c->capture.device = strdup("any")) ||
        !(c->capture.filter = strdup("tcp")) ||
        !(c->logger.db = strdup("hark.db")) ||
        !(c->bus.run_dir = strdup(run_dir)) ||
        !(c->bus.tap_bind = strdup("127.0.0.1")))
        goto fail;
    if (!(c->policies = calloc(1, sizeof(*c->policies))))
        goto fail;
    c->n_policies = 1;
    if (default_policy(&c->policies[0]) < 0)
        goto fail;
    if (!(c->groups = calloc(1, sizeof(*c->groups))))
        goto fail;
    c->n_groups = 1;
    if (default_group(&c->groups[0]) < 0)
        goto fail;
    return c;
fail:
    config_destroy(&c);
    return NULL;
}

/* ---- values the config keeps a copy of ---- */

static int get_string(struct loader *ld, const yaml_node_t *n,
                      const char *key, enum ydoc_str rule, char **out)
{
    const char *v;
    int rc = ydoc_string(&ld->y, n, key, rule, &v);
    return rc < 0 ? rc : config_set_string(out, v);
}

static int get_endpoint(struct loader *ld, const yaml_node_t *n,
                        const char *key, char **out)
{
    const char *v;
    int rc = ydoc_endpoint(&ld->y, n, key, &v);
    return rc < 0 ? rc : config_set_string(out, v);
}

/* The file's list replaces the default one as a whole. */
static int get_tokens(struct loader *ld, const yaml_node_t *n,
                      const char *key, const char *what, bool one_ok,
                      bool empty_ok, char ***out, unsigned *nout)
{
    free_names(out, nout);
    return ydoc_tokens(&ld->y, n, key, what, one_ok, empty_ok, out, nout);
}

/* ---- flat sections, table-driven ---- */

enum field_type {
    F_STR,        /* YDOC_STR_REQUIRED */
    F_STR_OPT,    /* YDOC_STR_OPTIONAL */
    F_STR_ANY,    /* YDOC_STR_ANY */
    F_BOOL,
    F_UINT,       /* stored in a 4- or 8-byte integer, in [min, max] */
    F_SIZE,
    F_DURATION,
    F_ENDPOINT,
    F_SHARD_ENDPOINTS, /* bus.reassemble */
    F_PEERS,      /* bus.peers */
    F_CHOICE,     /* one of `choices`, stored as its index (an int) */
};

struct field {
    const char *key;
    enum field_type type;
    size_t off;               /* in struct config */
    size_t size;
    uint64_t min, max;
    const char *const *choices; /* F_CHOICE: NULL-terminated */
};

#define FIELD(k, t, member, lo, hi)                                       \
    { k, t, offsetof(struct config, member),                             \
      sizeof(((struct config *)0)->member), lo, hi, NULL }
#define FIELD_CHOICE(k, member, names)                                    \
    { k, F_CHOICE, offsetof(struct config, member),                      \
      sizeof(((struct config *)0)->member), 0, 0, names }
#define FIELD_END { NULL, F_STR, 0, 0, 0, 0, NULL }

/* reassemble.checksums: in the order of enum checksum_mode */
static const char *const checksum_names[] = { "auto", "verify", "off", NULL };

/* reassemble.overlap: in the order of enum stream_policy */
static const char *const overlap_names[] = {
    "linux", "first", "last", "bsd", "windows", NULL,
};

static int get_choice(struct loader *ld, const yaml_node_t *n,
                      const char *key, const char *const *choices,
                      int *out)
{
    char list[256] = "", found[64];
    const char *v = ydoc_scalar(&ld->y, n, key, "a name");
    if (!v)
        return -EINVAL;
    for (int i = 0; choices[i]; i++) {
        if (!strcmp(v, choices[i])) {
            *out = i;
            return 0;
        }
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
                 i ? ", " : "", choices[i]);
    }
    return ydoc_fail(&ld->y, n, key, "unknown value (expected one of %s, "
                     "found %s)", list, ydoc_describe(n, found,
                                                      sizeof(found)));
}

static const struct field capture_fields[] = {
    FIELD("device", F_STR, capture.device, 0, 0),
    FIELD("filter", F_STR_ANY, capture.filter, 0, 0),
    FIELD("promiscuous", F_BOOL, capture.promiscuous, 0, 0),
    FIELD("snaplen", F_UINT, capture.snaplen, 64, 262144),
    FIELD("buffer_mb", F_UINT, capture.buffer_mb, 1, 4096),
    FIELD("read", F_STR_OPT, capture.read, 0, 0),
    FIELD("batch_packets", F_UINT, capture.batch_packets, 1, 65536),
    /* a batch must stay well inside one frame (FRAME_MAX_BYTES) */
    FIELD("batch_bytes", F_SIZE, capture.batch_bytes, 1 * KIB, 16 * MIB),
    FIELD("flush", F_DURATION, capture.flush_ns, NS_PER_MS,
          10 * NS_PER_SEC),
    FIELD_END,
};

static const struct field reassemble_fields[] = {
    FIELD("shards", F_UINT, reassemble.shards, 1, CONFIG_MAX_SHARDS),
    FIELD("max_flows", F_UINT, reassemble.max_flows, 1, 1u << 24),
    FIELD("max_buffered", F_SIZE, reassemble.max_buffered, 0, 4 * GIB),
    FIELD("memcap", F_SIZE, reassemble.memcap, 1 * MIB, 1024 * GIB),
    FIELD("max_header_bytes", F_SIZE, reassemble.max_header_bytes, 1 * KIB,
          1 * MIB),
    FIELD("max_headers", F_UINT, reassemble.max_headers, 1,
          FRAME_MAX_HEADERS),
    FIELD("body_max", F_SIZE, reassemble.body_max, 0, 16 * MIB),
    FIELD("idle_timeout", F_DURATION, reassemble.idle_timeout_ns,
          NS_PER_SEC, 24 * 3600 * NS_PER_SEC),
    FIELD("reorder_window", F_DURATION, reassemble.reorder_ns, 0,
          10 * NS_PER_SEC),
    FIELD_CHOICE("overlap", reassemble.overlap, overlap_names),
    FIELD_CHOICE("checksums", reassemble.checksums, checksum_names),
    FIELD_END,
};

static const struct field correlate_fields[] = {
    FIELD("max_pending", F_UINT, correlate.max_pending, 1, 1u << 24),
    FIELD_END,
};

static const struct field logger_fields[] = {
    FIELD("db", F_STR, logger.db, 0, 0),
    FIELD("batch", F_UINT, logger.batch, 1, 65536),
    FIELD("sync", F_BOOL, logger.sync, 0, 0),
    FIELD("sign_key", F_STR_OPT, logger.sign_key, 0, 0),
    FIELD("checkpoint_records", F_UINT, logger.checkpoint_records, 1,
          1u << 30),
    FIELD("checkpoint_interval", F_DURATION, logger.checkpoint_interval_ns,
          NS_PER_SEC, 24 * 3600 * NS_PER_SEC),
    FIELD("disk_full_wait", F_DURATION, logger.disk_full_wait_ns, 0,
          3600 * NS_PER_SEC),
    FIELD_END,
};

static const struct field bus_fields[] = {
    FIELD("run_dir", F_STR, bus.run_dir, 0, 0),
    FIELD("reassemble", F_SHARD_ENDPOINTS, bus.reassemble, 0, 0),
    FIELD("dispatch", F_ENDPOINT, bus.dispatch, 0, 0),
    FIELD("correlate", F_ENDPOINT, bus.correlate, 0, 0),
    FIELD("logger", F_ENDPOINT, bus.logger, 0, 0),
    FIELD("query", F_ENDPOINT, bus.query, 0, 0),
    FIELD("tap_base_port", F_UINT, bus.tap_base_port, 0,
          TOPOLOGY_TAP_PORT_MAX),
    FIELD("tap_bind", F_STR, bus.tap_bind, 0, 0),
    FIELD("curve_key", F_STR_OPT, bus.curve_key, 0, 0),
    FIELD("peers", F_PEERS, bus.peers, 0, 0),
    FIELD("insecure", F_BOOL, bus.insecure, 0, 0),
    FIELD_END,
};

static const struct field supervisor_fields[] = {
    FIELD("run_as", F_STR_OPT, supervisor.run_as, 0, 0),
    FIELD("max_restarts", F_UINT, supervisor.max_restarts, 0,
          CONFIG_MAX_RESTARTS),
    FIELD("drain_timeout", F_DURATION, supervisor.drain_timeout_ns,
          NS_PER_MS, 3600 * NS_PER_SEC),
    FIELD("metrics", F_STR_OPT, supervisor.metrics, 0, 0),
    FIELD_END,
};

static void store_uint(void *p, size_t size, uint64_t v)
{
    /* int and unsigned fields share the 4-byte path: every range above
     * fits in an int, and signed/unsigned may alias */
    assert(size == 4 || size == 8);
    if (size == 8) {
        memcpy(p, &v, 8);
    } else {
        uint32_t v32 = (uint32_t)v;
        memcpy(p, &v32, 4);
    }
}

static int get_shard_endpoints(struct loader *ld, const yaml_node_t *n,
                               const char *key)
{
    struct config *c = ld->c;
    unsigned shards = c->reassemble.shards;
    char found[64], sub[YDOC_KEY_MAX];
    for (unsigned i = 0; i < CONFIG_MAX_SHARDS; i++) {
        free(c->bus.reassemble[i]);
        c->bus.reassemble[i] = NULL;
    }
    if (ydoc_is_null(n))
        return 0;
    if (n->type == YAML_SCALAR_NODE) {
        if (shards != 1)
            return ydoc_fail(&ld->y, n, key, "one endpoint for %u shards "
                             "(expected a list of %u endpoints, one per "
                             "reassemble.shards, found %s)", shards, shards,
                             ydoc_describe(n, found, sizeof(found)));
        return get_endpoint(ld, n, key, &c->bus.reassemble[0]);
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return ydoc_fail(&ld->y, n, key, "wrong type (expected a list of "
                         "endpoints, found %s)",
                         ydoc_describe(n, found, sizeof(found)));
    if (ydoc_n_items(n) != shards)
        return ydoc_fail(&ld->y, n, key, "wrong number of endpoints (expected "
                         "%u, one per reassemble.shards, found %u)", shards,
                         ydoc_n_items(n));
    for (unsigned i = 0; i < shards; i++) {
        yaml_node_t *it = ydoc_item(&ld->y, n, i);
        int rc = get_endpoint(ld, it, ydoc_item_key(sub, key, i),
                              &c->bus.reassemble[i]);
        if (rc < 0)
            return rc;
        if (!c->bus.reassemble[i])
            return ydoc_fail(&ld->y, it, sub, "missing endpoint (expected an "
                             "endpoint for shard %u, found nothing)", i);
    }
    return 0;
}

/* bus.peers: host -> key file or inline "curve <Z85>". An inline key is
 * checked here; a file is read when a socket needs it (curve.h). */
static int get_peers(struct loader *ld, const yaml_node_t *n,
                     const char *key)
{
    struct config_bus *b = &ld->c->bus;
    char sub[YDOC_KEY_MAX], z85[KEYFILE_Z85_LEN + 1];
    free_peers(b);
    if (n->type == YAML_MAPPING_NODE && ydoc_n_pairs(n) > CONFIG_MAX_PEERS)
        return ydoc_fail(&ld->y, n, key, "too many peers (expected at "
                         "most %d, found %u)", CONFIG_MAX_PEERS,
                         ydoc_n_pairs(n));
    int rc = ydoc_open_map(&ld->y, n, key, NULL, "a mapping of hosts to "
                           "CURVE public keys");
    if (rc < 0 || ydoc_is_null(n))
        return rc;
    b->peers = calloc(ydoc_n_pairs(n), sizeof(*b->peers));
    if (!b->peers)
        return -ENOMEM;
    for (yaml_node_pair_t *pp = n->data.mapping.pairs.start;
         pp < n->data.mapping.pairs.top; pp++) {
        const char *host = ydoc_key_name(&ld->y, pp);
        yaml_node_t *v = ydoc_node(&ld->y, pp->value);
        const char *spec;
        ydoc_child_key(sub, key, host);
        if (!*host || strpbrk(host, "/ "))
            return ydoc_fail(&ld->y, ydoc_node(&ld->y, pp->key), key,
                             "not a host (expected an address or name as "
                             "the tcp:// endpoints write it, found '%s')",
                             host);
        if ((rc = ydoc_string(&ld->y, v, sub, YDOC_STR_REQUIRED,
                              &spec)) < 0)
            return rc;
        bool inline_key = !strncmp(spec, "curve ", 6) ||
                          strlen(spec) == KEYFILE_Z85_LEN;
        if (inline_key && keyfile_parse_curve_public(spec, z85) < 0)
            return ydoc_fail(&ld->y, v, sub, "not a CURVE public key "
                             "(expected \"curve <40 Z85 characters>\" "
                             "from a .curve.pub file, or its path)");
        struct config_peer *p = &b->peers[b->n_peers++];
        if (!(p->host = strdup(host)) || !(p->key = strdup(spec)))
            return -ENOMEM;
    }
    return 0;
}

static int load_fields(struct loader *ld, const yaml_node_t *n,
                       const char *key, const struct field *fields)
{
    const char *names[16];
    unsigned nf = 0;
    if (!n)
        return 0;
    for (; fields[nf].key; nf++) {
        assert(nf < sizeof(names) / sizeof(names[0]) - 1);
        names[nf] = fields[nf].key;
    }
    names[nf] = NULL;
    char what[YDOC_KEY_MAX + 32];
    snprintf(what, sizeof(what), "a mapping of %s settings", key);
    int rc = ydoc_open_map(&ld->y, n, key, names, what);
    if (rc < 0)
        return rc;
    for (unsigned i = 0; i < nf; i++) {
        const struct field *f = &fields[i];
        yaml_node_t *v = ydoc_map_get(&ld->y, n, f->key);
        if (!v)
            continue;
        char sub[YDOC_KEY_MAX];
        ydoc_child_key(sub, key, f->key);
        void *p = (char *)ld->c + f->off;
        uint64_t x = 0;
        switch (f->type) {
        case F_STR:
            rc = get_string(ld, v, sub, YDOC_STR_REQUIRED, p);
            break;
        case F_STR_OPT:
            rc = get_string(ld, v, sub, YDOC_STR_OPTIONAL, p);
            break;
        case F_STR_ANY:
            rc = get_string(ld, v, sub, YDOC_STR_ANY, p);
            break;
        case F_BOOL:
            rc = ydoc_bool(&ld->y, v, sub, p);
            break;
        case F_UINT:
            if ((rc = ydoc_uint(&ld->y, v, sub, f->min, f->max, &x)) == 0)
                store_uint(p, f->size, x);
            break;
        case F_SIZE:
            if ((rc = ydoc_size(&ld->y, v, sub, f->min, f->max, &x)) == 0)
                store_uint(p, f->size, x);
            break;
        case F_DURATION:
            if ((rc = ydoc_duration(&ld->y, v, sub, f->min, f->max, &x)) == 0)
                store_uint(p, f->size, x);
            break;
        case F_ENDPOINT:
            rc = get_endpoint(ld, v, sub, p);
            break;
        case F_SHARD_ENDPOINTS:
            rc = get_shard_endpoints(ld, v, sub);
            break;
        case F_PEERS:
            rc = get_peers(ld, v, sub);
            break;
        case F_CHOICE:
            rc = get_choice(ld, v, sub, f->choices, p);
            break;
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- policies ---- */

static int get_message(struct loader *ld, const yaml_node_t *n,
                       const char *key, enum step_message *out)
{
    char found[64];
    const char *v = ydoc_scalar(&ld->y, n, key, "request or response");
    if (!v)
        return -EINVAL;
    if (!strcmp(v, "request"))
        *out = STEP_MSG_REQUEST;
    else if (!strcmp(v, "response"))
        *out = STEP_MSG_RESPONSE;
    else
        return ydoc_fail(&ld->y, n, key, "unknown message (expected request "
                         "or response, found %s)",
                         ydoc_describe(n, found, sizeof(found)));
    return 0;
}

/* "Log Message" / "Log Message Payload": `log: request` or the long form. */
static int load_log(struct loader *ld, struct config_step *s,
                    const yaml_node_t *n, const char *key)
{
    static const char *const keys[] = { "message", "label", "headers",
                                        "body", "redact", NULL };
    char sub[YDOC_KEY_MAX], found[64];
    int rc = step_defaults(s, STEP_LOG);
    if (rc < 0)
        return rc;
    if (n->type == YAML_SCALAR_NODE && !ydoc_is_null(n)) {
        rc = get_message(ld, n, key, &s->message);
    } else if (n->type == YAML_MAPPING_NODE) {
        yaml_node_t *v;
        if ((rc = ydoc_check_keys(&ld->y, n, key, keys)) < 0)
            return rc;
        if (!(v = ydoc_map_get(&ld->y, n, "message")))
            return ydoc_fail(&ld->y, n, key, "missing key 'message' (expected "
                             "message: request or message: response)");
        if ((rc = get_message(ld, v, ydoc_child_key(sub, key, "message"),
                              &s->message)) < 0)
            return rc;
        if ((v = ydoc_map_get(&ld->y, n, "label")) &&
            (rc = get_string(ld, v, ydoc_child_key(sub, key, "label"),
                             YDOC_STR_REQUIRED, &s->label)) < 0)
            return rc;
        if ((v = ydoc_map_get(&ld->y, n, "headers")) &&
            (rc = ydoc_bool(&ld->y, v, ydoc_child_key(sub, key, "headers"),
                            &s->headers)) < 0)
            return rc;
        if ((v = ydoc_map_get(&ld->y, n, "body")) &&
            (rc = ydoc_size(&ld->y, v, ydoc_child_key(sub, key, "body"), 0,
                            1 * GIB, &s->body_max)) < 0)
            return rc;
        if ((v = ydoc_map_get(&ld->y, n, "redact")) &&
            (rc = get_tokens(ld, v, ydoc_child_key(sub, key, "redact"),
                             "header name", false, true, &s->redact,
                             &s->n_redact)) < 0)
            return rc;
    } else {
        return ydoc_fail(&ld->y, n, key, "wrong type (expected request, "
                         "response or a mapping with message, label, headers, "
                         "body, redact, found %s)",
                         ydoc_describe(n, found, sizeof(found)));
    }
    return rc < 0 ? rc : set_default_label(s);
}

/* wait_for_response.until: in the order of enum wait_until */
static const char *const until_names[] = { "first_byte", "last_byte", NULL };

/* The long form of "Wait for Response Packets". Without max_response
 * the ceiling is at least the timeout; a shorter one is an error. */
static int load_wait_map(struct loader *ld, struct config_step *s,
                         const yaml_node_t *n, const char *key,
                         uint64_t lo, uint64_t hi)
{
    static const char *const keys[] = { "timeout", "until", "max_response",
                                        "label", NULL };
    char sub[YDOC_KEY_MAX], want[64], found[64];
    yaml_node_t *v, *timeout, *ceiling;
    int rc = ydoc_check_keys(&ld->y, n, key, keys);
    if (rc < 0)
        return rc;
    if ((timeout = ydoc_map_get(&ld->y, n, "timeout")) &&
        (rc = ydoc_duration(&ld->y, timeout,
                            ydoc_child_key(sub, key, "timeout"), lo, hi,
                            &s->timeout_ns)) < 0)
        return rc;
    if ((v = ydoc_map_get(&ld->y, n, "until")) &&
        (rc = get_choice(ld, v, ydoc_child_key(sub, key, "until"),
                         until_names, &s->until)) < 0)
        return rc;
    ydoc_child_key(sub, key, "max_response");
    if (!(ceiling = ydoc_map_get(&ld->y, n, "max_response"))) {
        if (s->max_response_ns < s->timeout_ns)
            s->max_response_ns = s->timeout_ns;
    } else if ((rc = ydoc_duration(&ld->y, ceiling, sub, lo, hi,
                                   &s->max_response_ns)) < 0) {
        return rc;
    } else if (s->max_response_ns < s->timeout_ns) {
        if (timeout)
            ydoc_describe(timeout, want, sizeof(want));
        else
            snprintf(want, sizeof(want), "the default timeout, %llus",
                     (unsigned long long)(DEFAULT_WAIT_NS / NS_PER_SEC));
        return ydoc_fail(&ld->y, ceiling, sub, "shorter than the timeout "
                         "(expected at least %s, found %s)", want,
                         ydoc_describe(ceiling, found, sizeof(found)));
    }
    if ((v = ydoc_map_get(&ld->y, n, "label")))
        rc = get_string(ld, v, ydoc_child_key(sub, key, "label"),
                        YDOC_STR_REQUIRED, &s->label);
    return rc;
}

/* "Wait for Response Packets": empty, a timeout, or the long form. */
static int load_wait(struct loader *ld, struct config_step *s,
                     const yaml_node_t *n, const char *key)
{
    const uint64_t lo = NS_PER_MS, hi = 24 * 3600 * NS_PER_SEC;
    char found[64];
    int rc = step_defaults(s, STEP_WAIT);
    if (rc < 0)
        return rc;
    if (ydoc_is_null(n))
        return set_default_label(s); /* `wait_for_response:` alone */
    if (n->type == YAML_SCALAR_NODE) {
        rc = ydoc_duration(&ld->y, n, key, lo, hi, &s->timeout_ns);
        if (s->max_response_ns < s->timeout_ns)
            s->max_response_ns = s->timeout_ns;
    } else if (n->type == YAML_MAPPING_NODE) {
        rc = load_wait_map(ld, s, n, key, lo, hi);
    } else {
        return ydoc_fail(&ld->y, n, key, "wrong type (expected a timeout such "
                         "as 30s or a mapping with timeout, until, "
                         "max_response, label, found %s)",
                         ydoc_describe(n, found, sizeof(found)));
    }
    return rc < 0 ? rc : set_default_label(s);
}

static int load_step(struct loader *ld, struct config_step *s,
                     const yaml_node_t *n, const char *key)
{
    static const char *const kinds[] = { "log", "wait_for_response", NULL };
    char sub[YDOC_KEY_MAX], found[64];
    if (n->type != YAML_MAPPING_NODE)
        return ydoc_fail(&ld->y, n, key, "not a step (expected a mapping with "
                         "one key, log or wait_for_response, found %s)",
                         ydoc_describe(n, found, sizeof(found)));
    int rc = ydoc_check_keys(&ld->y, n, key, kinds);
    if (rc < 0)
        return rc;
    if (ydoc_n_pairs(n) != 1)
        return ydoc_fail(&ld->y, n, key, "not one step (expected exactly one "
                         "of log, wait_for_response, found %u keys)",
                         ydoc_n_pairs(n));
    yaml_node_pair_t *p = n->data.mapping.pairs.start;
    const char *kind = ydoc_key_name(&ld->y, p);
    ydoc_child_key(sub, key, kind);
    if (!strcmp(kind, "log"))
        return load_log(ld, s, ydoc_node(&ld->y, p->value), sub);
    return load_wait(ld, s, ydoc_node(&ld->y, p->value), sub);
}

static int load_steps(struct loader *ld, struct config_policy *p,
                      const yaml_node_t *n, const char *key)
{
    char sub[YDOC_KEY_MAX], found[64];
    if (ydoc_is_null(n) ||
        (n->type == YAML_SEQUENCE_NODE && ydoc_n_items(n) == 0))
        return ydoc_fail(&ld->y, n, key, "policy has no steps (expected a "
                         "list with log and wait_for_response steps, found "
                         "%s)", ydoc_is_null(n) ? "nothing" : "an empty list");
    if (n->type != YAML_SEQUENCE_NODE)
        return ydoc_fail(&ld->y, n, key, "wrong type (expected a list of "
                         "steps, found %s)",
                         ydoc_describe(n, found, sizeof(found)));
    unsigned count = ydoc_n_items(n);
    if (count > MAX_STEPS)
        return ydoc_fail(&ld->y, n, key, "too many steps (expected at most "
                         "%d, found %u)", MAX_STEPS, count);
    if (!(p->steps = calloc(count, sizeof(*p->steps))))
        return -ENOMEM;
    p->n_steps = count;
    unsigned wait_line = 0;
    for (unsigned i = 0; i < count; i++) {
        yaml_node_t *it = ydoc_item(&ld->y, n, i);
        struct config_step *s = &p->steps[i];
        ydoc_item_key(sub, key, i);
        int rc = load_step(ld, s, it, sub);
        if (rc < 0)
            return rc;
        if (s->kind == STEP_WAIT) {
            if (p->wait_step >= 0)
                return ydoc_fail(&ld->y, it, sub, "second wait_for_response "
                                 "(expected one per policy, the first is at "
                                 "line %u)", wait_line);
            p->wait_step = (int)i;
            wait_line = ydoc_line(it);
        } else if (s->message == STEP_MSG_RESPONSE && p->wait_step < 0) {
            return ydoc_fail(&ld->y, it, sub, "log: response before any "
                             "wait_for_response (expected a wait_for_response "
                             "step earlier in the policy: until then there is "
                             "no response to log)");
        }
    }
    return 0;
}

/* The file's policies are added to the built-in ones; a name that exists
 * (like "audit") has its steps replaced. */
static int load_policies(struct loader *ld, const yaml_node_t *n)
{
    struct config *c = ld->c;
    char sub[YDOC_KEY_MAX];
    if (!n)
        return 0;
    /* counted first: the duplicate check below is quadratic */
    if (n->type == YAML_MAPPING_NODE && ydoc_n_pairs(n) > MAX_POLICIES)
        return ydoc_fail(&ld->y, n, "policies", "too many policies (expected "
                         "at most %d, found %u)", MAX_POLICIES,
                         ydoc_n_pairs(n));
    int rc = ydoc_open_map(&ld->y, n, "policies", NULL,
                           "a mapping of policy names to lists of steps");
    if (rc < 0 || ydoc_is_null(n))
        return rc;
    for (yaml_node_pair_t *pp = n->data.mapping.pairs.start;
         pp < n->data.mapping.pairs.top; pp++) {
        const char *name = ydoc_key_name(&ld->y, pp);
        if (!*name)
            return ydoc_fail(&ld->y, ydoc_node(&ld->y, pp->key), "policies",
                             "empty policy name (expected a name such as "
                             "audit)");
        struct config_policy *p =
            (struct config_policy *)config_policy_find(c, name);
        if (p) {
            free_steps(p);
        } else {
            p = realloc(c->policies, (c->n_policies + 1) * sizeof(*p));
            if (!p)
                return -ENOMEM;
            c->policies = p;
            p = &c->policies[c->n_policies++];
            memset(p, 0, sizeof(*p));
            p->wait_step = -1;
            if (!(p->name = strdup(name)))
                return -ENOMEM;
        }
        rc = load_steps(ld, p, ydoc_node(&ld->y, pp->value),
                        ydoc_child_key(sub, "policies", name));
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- service groups ---- */

static int resolve_policy(struct loader *ld, struct config_route *rt,
                          const yaml_node_t *n, const char *key)
{
    const struct config *c = ld->c;
    for (unsigned i = 0; i < c->n_policies; i++)
        if (!strcmp(c->policies[i].name, rt->policy)) {
            rt->policy_index = (int)i;
            return 0;
        }
    char list[512], found[64];
    size_t o = 0;
    list[0] = '\0';
    for (unsigned i = 0; i < c->n_policies && o < sizeof(list); i++) {
        int k = snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "",
                         c->policies[i].name);
        if (k < 0)
            break;
        o += (size_t)k;
    }
    return ydoc_fail(&ld->y, n, key, "unknown policy (expected one of %s, "
                     "found %s)", list,
                     ydoc_describe(n, found, sizeof(found)));
}

/* Orders routes by host (none first, any case) and methods: 0 when a
 * request would weigh them alike. */
static int cmp_scope(const struct config_route *a,
                     const struct config_route *b)
{
    if (!a->host != !b->host)
        return a->host ? 1 : -1;
    int c = a->host ? strcasecmp(a->host, b->host) : 0;
    if (c)
        return c;
    if (a->n_methods != b->n_methods)
        return a->n_methods < b->n_methods ? -1 : 1;
    for (unsigned i = 0; i < a->n_methods; i++)
        if ((c = strcmp(a->methods[i], b->methods[i])))
            return c;
    return 0;
}

/* A relative path is written as the rfc3986 reading has it, so the file
 * says what is matched: "/a/../b" is "/b", "/%61" is "/a". */
static int check_normal_path(struct loader *ld, const yaml_node_t *n,
                             const char *key, const char *path)
{
    char found[64];
    size_t len = strlen(path);
    char *norm = malloc(len + 2);
    if (!norm)
        return -ENOMEM;
    size_t nl = urlpath_read(URLPATH_RFC3986, path, len, norm, len + 2);
    int rc = 0;
    if (nl != len || memcmp(norm, path, len))
        rc = ydoc_fail(&ld->y, n, key, "not in normal form (expected "
                       "'%.80s', found %s): requests are matched by their "
                       "normalised path", norm,
                       ydoc_describe(n, found, sizeof(found)));
    free(norm);
    return rc;
}

/* n is a list of 1..max entries, its length into *count. what names one
 * entry in messages, many the cap ("too many <many>"). */
static int open_list(struct loader *ld, const yaml_node_t *n,
                     const char *key, const char *what, const char *many,
                     unsigned max, unsigned *count)
{
    char found[64];
    bool list = n->type == YAML_SEQUENCE_NODE;
    if (!list || ydoc_n_items(n) == 0)
        return ydoc_fail(&ld->y, n, key, "%s (expected a list of at least "
                         "one %s, found %s)",
                         list ? "empty list" : "wrong type", what,
                         list ? "an empty list"
                              : ydoc_describe(n, found, sizeof(found)));
    *count = ydoc_n_items(n);
    if (*count > max)
        return ydoc_fail(&ld->y, n, key, "too many %s (expected at most %u, "
                         "found %u)", many, max, *count);
    return 0;
}

/* A "Relative Path": path prefix (+ host, methods) -> policy. */
static int load_route(struct loader *ld, struct config_route *rt,
                      const yaml_node_t *n, const char *key)
{
    static const char *const keys[] = { "path", "policy", "host", "methods",
                                        NULL };
    char sub[YDOC_KEY_MAX], found[64];
    int rc = ydoc_open_map(&ld->y, n, key, keys, "a mapping with path, "
                           "policy, host, methods");
    if (rc < 0)
        return rc;
    yaml_node_t *path = ydoc_map_get(&ld->y, n, "path");
    yaml_node_t *policy = ydoc_map_get(&ld->y, n, "policy");
    yaml_node_t *v;
    if (!path)
        return ydoc_fail(&ld->y, n, key, "missing key 'path' (expected a "
                         "relative path such as / or /a)");
    if (!policy)
        return ydoc_fail(&ld->y, n, key, "missing key 'policy' (expected the "
                         "name of a policy)");
    ydoc_child_key(sub, key, "path");
    if ((rc = get_string(ld, path, sub, YDOC_STR_REQUIRED, &rt->path)) < 0)
        return rc;
    if (rt->path[0] != '/')
        return ydoc_fail(&ld->y, path, sub, "not a relative path (expected a "
                         "path starting with '/', found %s)",
                         ydoc_describe(path, found, sizeof(found)));
    if ((rc = check_normal_path(ld, path, sub, rt->path)) < 0)
        return rc;
    ydoc_child_key(sub, key, "policy");
    if ((rc = get_string(ld, policy, sub, YDOC_STR_REQUIRED,
                         &rt->policy)) < 0 ||
        (rc = resolve_policy(ld, rt, policy, sub)) < 0)
        return rc;
    if ((v = ydoc_map_get(&ld->y, n, "host")) &&
        (rc = get_string(ld, v, ydoc_child_key(sub, key, "host"),
                         YDOC_STR_OPTIONAL, &rt->host)) < 0)
        return rc;
    if ((v = ydoc_map_get(&ld->y, n, "methods")) &&
        (rc = get_tokens(ld, v, ydoc_child_key(sub, key, "methods"),
                         "method", true, false, &rt->methods,
                         &rt->n_methods)) < 0)
        return rc;
    return 0;
}

/* A "Service Group": a name and its relative paths. */
static int load_group(struct loader *ld, struct config_group *g,
                      const yaml_node_t *n, const char *key)
{
    static const char *const keys[] = { "name", "relative_paths", NULL };
    char sub[YDOC_KEY_MAX];
    int rc = ydoc_open_map(&ld->y, n, key, keys, "a mapping with name, "
                           "relative_paths");
    if (rc < 0)
        return rc;
    yaml_node_t *name = ydoc_map_get(&ld->y, n, "name");
    yaml_node_t *paths = ydoc_map_get(&ld->y, n, "relative_paths");
    if (!name)
        return ydoc_fail(&ld->y, n, key, "missing key 'name' (expected the "
                         "group's name, such as Packet Sniffer Group)");
    if ((rc = get_string(ld, name, ydoc_child_key(sub, key, "name"),
                         YDOC_STR_REQUIRED, &g->name)) < 0)
        return rc;
    ydoc_child_key(sub, key, "relative_paths");
    if (!paths)
        return ydoc_fail(&ld->y, n, sub, "missing (expected a list of "
                         "relative paths, each with path and policy)");
    unsigned count;
    if ((rc = open_list(ld, paths, sub, "relative path", "relative paths",
                        MAX_ROUTES, &count)) < 0)
        return rc;
    if (!(g->routes = calloc(count, sizeof(*g->routes))))
        return -ENOMEM;
    g->n_routes = count;
    char rkey[YDOC_KEY_MAX];
    for (unsigned i = 0; i < count; i++) {
        yaml_node_t *it = ydoc_item(&ld->y, paths, i);
        ydoc_item_key(rkey, sub, i);
        if ((rc = load_route(ld, &g->routes[i], it, rkey)) < 0)
            return rc;
    }
    return 0;
}

/* A relative path as one reading has it, and where it is written. */
struct read_route {
    char *path;
    size_t len;
    const struct config_route *rt;
    unsigned group, index;
};

static int cmp_read_route(const void *pa, const void *pb)
{
    const struct read_route *a = pa, *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->path, b->path, n);
    if (c || a->len != b->len)
        return c ? c : a->len < b->len ? -1 : 1;
    if ((c = cmp_scope(a->rt, b->rt)))
        return c;
    if (a->group != b->group)
        return a->group < b->group ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

static yaml_node_t *route_path_node(struct loader *ld, const yaml_node_t *n,
                                    const struct read_route *r)
{
    yaml_node_t *g = ydoc_item(&ld->y, n, r->group);
    yaml_node_t *list = ydoc_map_get(&ld->y, g, "relative_paths");
    return ydoc_map_get(&ld->y, ydoc_item(&ld->y, list, r->index), "path");
}

/* r[1] reads as r[0] does: the later of the two is the error. */
static int report_alias(struct loader *ld, const yaml_node_t *n,
                        const struct read_route *r, unsigned k)
{
    char key[YDOC_KEY_MAX], first[YDOC_KEY_MAX], t1[YDOC_KEY_MAX],
        t2[YDOC_KEY_MAX], found[64];
    const struct read_route *a = &r[0], *b = &r[1];
    ydoc_item_key(t1, "service_groups", a->group);
    ydoc_child_key(t2, t1, "relative_paths");
    ydoc_item_key(first, t2, a->index);
    ydoc_item_key(t1, "service_groups", b->group);
    ydoc_child_key(t2, t1, "relative_paths");
    ydoc_item_key(t1, t2, b->index);
    if (a->group == b->group && !strcmp(a->rt->path, b->rt->path)) {
        yaml_node_t *list = ydoc_map_get(&ld->y, ydoc_item(&ld->y, n,
                                                           b->group),
                                         "relative_paths");
        return ydoc_fail(&ld->y, ydoc_item(&ld->y, list, b->index), t1,
                         "duplicate relative path (expected each path, host "
                         "and methods once per group, found '%s' again after "
                         "line %u)", b->rt->path,
                         ydoc_line(ydoc_item(&ld->y, list, a->index)));
    }
    ydoc_child_key(key, t1, "path");
    yaml_node_t *at = route_path_node(ld, n, b);
    return ydoc_fail(&ld->y, at, key, "the same relative path as %s (line "
                     "%u) once normalised (expected paths no server reads "
                     "alike, found %s and '%.80s', both '%.*s' to the %s "
                     "reading: %s)", first,
                     ydoc_line(route_path_node(ld, n, a)),
                     ydoc_describe(at, found, sizeof(found)), a->rt->path,
                     (int)(a->len > 80 ? 80 : a->len), a->path,
                     urlpath_reading_name(k), urlpath_reading_servers(k));
}

/* Two relative paths that some server reads as one ("/a" and "/a/",
 * "/Admin" and "/admin" on IIS, "/a%2Fb" and "/a/b" on nginx) with the
 * same host and methods would leave one of them to chance: refused.
 * Sorted per reading, so a large file costs n log n, not n^2. */
static int check_path_aliases(struct loader *ld, const yaml_node_t *n)
{
    const struct config *c = ld->c;
    size_t total = 0;
    for (unsigned g = 0; g < c->n_groups; g++)
        total += c->groups[g].n_routes;
    struct read_route *r = calloc(total ? total : 1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    int rc = 0;
    for (unsigned k = 0; rc == 0 && k < URLPATH_READINGS; k++) {
        size_t m = 0;
        for (unsigned g = 0; rc == 0 && g < c->n_groups; g++)
            for (unsigned i = 0; rc == 0 && i < c->groups[g].n_routes; i++) {
                const struct config_route *rt = &c->groups[g].routes[i];
                size_t len = strlen(rt->path);
                struct read_route *x = &r[m++];
                if (!(x->path = malloc(len + 2))) {
                    rc = -ENOMEM;
                    break;
                }
                len = urlpath_read(k, rt->path, len, x->path, len + 2);
                x->len = urlpath_subtree_len(x->path, len);
                x->rt = rt;
                x->group = g;
                x->index = i;
            }
        if (rc == 0) {
            qsort(r, m, sizeof(*r), cmp_read_route);
            for (size_t i = 1; rc == 0 && i < m; i++)
                if (r[i].len == r[i - 1].len &&
                    !memcmp(r[i].path, r[i - 1].path, r[i].len) &&
                    !cmp_scope(r[i].rt, r[i - 1].rt))
                    rc = report_alias(ld, n, &r[i - 1], k);
        }
        for (size_t i = 0; i < m; i++) {
            free(r[i].path);
            r[i].path = NULL;
        }
    }
    free(r);
    return rc;
}

/* The file's groups replace the built-in one as a whole. */
static int load_groups(struct loader *ld, const yaml_node_t *n)
{
    struct config *c = ld->c;
    char sub[YDOC_KEY_MAX];
    if (!n)
        return 0;
    unsigned count;
    int rc = open_list(ld, n, "service_groups", "service group", "groups",
                       MAX_GROUPS, &count);
    if (rc < 0)
        return rc;
    size_t all = 0;
    for (unsigned i = 0; i < count; i++) {
        yaml_node_t *paths = ydoc_map_get(&ld->y, ydoc_item(&ld->y, n, i),
                                          "relative_paths");
        if (paths && paths->type == YAML_SEQUENCE_NODE)
            all += ydoc_n_items(paths);
    }
    if (all > MAX_ALL_ROUTES)
        return ydoc_fail(&ld->y, n, "service_groups", "too many relative "
                         "paths (expected at most %u in all groups, found "
                         "%zu)", MAX_ALL_ROUTES, all);
    free_groups(c);
    if (!(c->groups = calloc(count, sizeof(*c->groups))))
        return -ENOMEM;
    c->n_groups = count;
    for (unsigned i = 0; i < count; i++) {
        yaml_node_t *it = ydoc_item(&ld->y, n, i);
        ydoc_item_key(sub, "service_groups", i);
        if ((rc = load_group(ld, &c->groups[i], it, sub)) < 0)
            return rc;
        for (unsigned j = 0; j < i; j++)
            if (!strcmp(c->groups[j].name, c->groups[i].name)) {
                yaml_node_t *first =
                    ydoc_map_get(&ld->y, ydoc_item(&ld->y, n, j), "name");
                char nkey[YDOC_KEY_MAX];
                return ydoc_fail(&ld->y, ydoc_map_get(&ld->y, it, "name"),
                                 ydoc_child_key(nkey, sub, "name"),
                                 "duplicate group name (expected a name no "
                                 "other group has, found '%s' again after "
                                 "line %u)", c->groups[i].name,
                                 ydoc_line(first));
            }
    }
    return check_path_aliases(ld, n);
}

/* ---- the document ---- */

static int check_memcap(struct loader *ld, const yaml_node_t *sec)
{
    const struct config_reassemble *r = &ld->c->reassemble;
    char a[32], b[32];
    /* the defaults are consistent, so a conflict names a key in the file */
    if (r->max_buffered <= r->memcap || !sec)
        return 0;
    const char *key = "reassemble.max_buffered";
    yaml_node_t *n = ydoc_map_get(&ld->y, sec, "max_buffered");
    if (!n) {
        key = "reassemble.memcap";
        n = ydoc_map_get(&ld->y, sec, "memcap");
    }
    return ydoc_fail(&ld->y, n, key, "max_buffered above memcap (expected "
                     "max_buffered <= memcap, found %s > %s)",
                     ydoc_format_size(r->max_buffered, a, sizeof(a)),
                     ydoc_format_size(r->memcap, b, sizeof(b)));
}

/* supervisor.metrics: HOST:PORT ([V6]:PORT), a port 1..65535. */
static int check_metrics(struct loader *ld, const yaml_node_t *sec)
{
    const char *v = ld->c->supervisor.metrics;
    if (!v || !sec)
        return 0;
    const char *colon = strrchr(v, ':');
    const char *port = colon ? colon + 1 : "";
    size_t digits = strspn(port, "0123456789");
    long n = digits && digits <= 5 && !port[digits] ? atol(port) : 0;
    bool v6 = v[0] == '[';
    if (colon && colon > v && n >= 1 && n <= 65535 &&
        (v6 ? colon[-1] == ']' : !memchr(v, ':', (size_t)(colon - v))))
        return 0;
    char found[64];
    return ydoc_fail(&ld->y, ydoc_map_get(&ld->y, sec, "metrics"),
                     "supervisor.metrics", "not an address to listen on "
                     "(expected HOST:PORT such as 127.0.0.1:9464, found "
                     "%s)", ydoc_describe(ydoc_map_get(&ld->y, sec,
                                                       "metrics"),
                                          found, sizeof(found)));
}

static int load_root(struct loader *ld, const yaml_node_t *root)
{
    static const char *const keys[] = {
        "capture", "reassemble", "service_groups", "policies",
        "correlate", "logger", "bus", "supervisor", NULL,
    };
    char found[64];
    int rc;
    if (!root || ydoc_is_null(root))
        return 0;
    if (root->type != YAML_MAPPING_NODE)
        return ydoc_fail(&ld->y, root, YDOC_TOP_LEVEL, "wrong type (expected "
                         "a mapping of sections, found %s)",
                         ydoc_describe(root, found, sizeof(found)));
    if ((rc = ydoc_check_keys(&ld->y, root, "", keys)) < 0)
        return rc;
    const struct ydoc *y = &ld->y;
    yaml_node_t *reassemble = ydoc_map_get(y, root, "reassemble");
    yaml_node_t *bus = ydoc_map_get(y, root, "bus");
    if ((rc = load_fields(ld, ydoc_map_get(y, root, "capture"), "capture",
                          capture_fields)) < 0 ||
        (rc = load_fields(ld, reassemble, "reassemble",
                          reassemble_fields)) < 0 ||
        (rc = check_memcap(ld, reassemble)) < 0 ||
        (rc = load_policies(ld, ydoc_map_get(y, root, "policies"))) < 0 ||
        (rc = load_groups(ld, ydoc_map_get(y, root, "service_groups"))) < 0 ||
        (rc = load_fields(ld, ydoc_map_get(y, root, "correlate"), "correlate",
                          correlate_fields)) < 0 ||
        (rc = load_fields(ld, ydoc_map_get(y, root, "logger"), "logger",
                          logger_fields)) < 0 ||
        (rc = load_fields(ld, bus, "bus", bus_fields)) < 0 ||
        (rc = load_fields(ld, ydoc_map_get(y, root, "supervisor"),
                          "supervisor", supervisor_fields)) < 0 ||
        (rc = check_metrics(ld, ydoc_map_get(y, root, "supervisor"))) < 0)
        return rc;
    if (bus && ydoc_map_get(y, bus, "run_dir"))
        ld->c->bus.run_dir_private = false;
    return 0;
}

static int load_text(const char *text, size_t len, const char *name,
                     struct config **out, char *err, size_t errlen)
{
    yaml_document_t doc;
    struct config *c = config_default();
    *out = NULL;
    if (!c || config_set_string(&c->source, name) < 0) {
        errbuf_set(err, errlen, "%s: out of memory", name);
        config_destroy(&c);
        return -ENOMEM;
    }
    int rc = ydoc_parse(&doc, text, len, name, err, errlen);
    if (rc == 0) {
        struct loader ld = { { &doc, name, err, errlen }, c };
        rc = load_root(&ld, yaml_document_get_root_node(&doc));
        if (rc == -ENOMEM)
            errbuf_set(err, errlen, "%s: out of memory", name);
        yaml_document_delete(&doc);
    }
    if (rc == 0)
        *out = c;
    else
        config_destroy(&c);
    return rc;
}

int config_load_string(const char *text, const char *name,
                       struct config **out, char *err, size_t errlen)
{
    return load_text(text, strlen(text), name ? name : "(string)", out, err,
                     errlen);
}

/* What a path is when it is not a regular file. */
static const char *file_kind(mode_t mode)
{
    if (S_ISFIFO(mode))
        return "a FIFO or pipe";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a regular file";
}

/* Reads a regular file whole. Every stage reads the config, so a FIFO
 * (whose open would wait for a writer, and which only one reader could
 * drain) or a device is refused: opened without blocking, looked at,
 * closed. Returns 0, -errno, or -EINVAL with *kind set. */
static int read_file(const char *path, char **text, size_t *len,
                     const char **kind)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return -errno;
    char *buf = NULL;
    size_t size = 0, used = 0;
    int rc = 0;
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
        rc = -errno;
        goto out;
    }
    if (S_ISDIR(sb.st_mode)) {
        rc = -EISDIR;
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        *kind = file_kind(sb.st_mode);
        rc = -EINVAL;
        goto out;
    }
    for (;;) {
        if (used == size) {
            if (size >= MAX_FILE_BYTES) {
                rc = -EFBIG;
                goto out;
            }
            size = size ? size * 2 : 8192;
            char *nb = realloc(buf, size + 1);
            if (!nb) {
                rc = -ENOMEM;
                goto out;
            }
            buf = nb;
        }
        ssize_t k = read(fd, buf + used, size - used);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = -errno;
            goto out;
        }
        if (k == 0)
            break;
        used += (size_t)k;
    }
    buf[used] = '\0';
out:
    close(fd);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *text = buf;
    *len = used;
    return 0;
}

int config_load(const char *path, struct config **out, char *err,
                size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    const char *kind = NULL;
    *out = NULL;
    int rc = read_file(path, &text, &len, &kind);
    if (rc < 0 && kind) {
        errbuf_set(err, errlen, "%s: cannot read: not a regular file "
                   "(expected a YAML file every stage can read, found %s)",
                   path, kind);
        return rc;
    }
    if (rc == -EFBIG) {
        errbuf_set(err, errlen, "%s: cannot read: too large (expected at "
                   "most %u MiB)", path, MAX_FILE_BYTES >> 20);
        return rc;
    }
    if (rc < 0) {
        errbuf_set(err, errlen, "%s: cannot read: %s", path, strerror(-rc));
        return rc;
    }
    rc = load_text(text, len, path, out, err, errlen);
    free(text);
    return rc;
}

/* ---- queries ---- */

const struct config_policy *config_policy_find(const struct config *c,
                                               const char *name)
{
    for (unsigned i = 0; i < c->n_policies; i++)
        if (!strcmp(c->policies[i].name, name))
            return &c->policies[i];
    return NULL;
}
