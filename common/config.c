/* config.c - loads hark.yaml over the built-in defaults.
 *
 * The file is parsed whole with libyaml's document API and walked once
 * against a fixed schema. The first problem refuses the whole file with
 * "FILE:LINE: dotted.key: what is wrong (expected ..., found ...)".
 * Every mapping is checked for unknown and duplicate keys before any of
 * its values is read, so a typo never falls back to a default. Sections
 * are read in a fixed order whatever the file's order: policies before
 * service_groups (a route resolves its policy as it is read) and
 * reassemble before bus (bus.reassemble is counted against the shards).
 * On error the half-built config is destroyed; the caller gets nothing.
 */
#include "config.h"

#include "clock.h"
#include "frame.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define KIB 1024ull
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)

/* Caps on what a file may describe. Aliases let a short file name a node
 * many times, so every list the loader copies is bounded. */
#define MAX_FILE_BYTES (16u << 20)
#define MAX_GROUPS 256
#define MAX_ROUTES 4096     /* per group */
#define MAX_POLICIES 256
#define MAX_STEPS 32        /* per policy */
#define MAX_NAMES 64        /* methods of a route, redact of a step */
#define IPC_PATH_MAX 107    /* sizeof(sun_path) minus its NUL */
#define KEY_MAX 256         /* dotted keys in messages; longer ones cut */
#define TOP_LEVEL "(top level)" /* the key named when there is none */

/* Tap ports: base + 0..3 for the single stages, + 10 + shard for the
 * reassemblers (10..73), + 80..99 by hash for any other id, so that no
 * shard count can collide with a hashed id. */
#define TAP_SHARD_BASE 10
#define TAP_HASH_BASE 80
#define TAP_HASH_SPAN 20
#define TAP_PORT_MAX (65535 - TAP_HASH_BASE - TAP_HASH_SPAN + 1)

#define DEFAULT_BODY_MAX 65536
#define DEFAULT_WAIT_NS (30 * NS_PER_SEC)

static const char *const default_redact[] = {
    "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie",
};

struct loader {
    yaml_document_t *doc;
    const char *name;         /* file name for messages */
    char *err;
    size_t errlen;
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
    free(c->bus.run_dir);
    for (unsigned i = 0; i < CONFIG_MAX_SHARDS; i++)
        free(c->bus.reassemble[i]);
    free(c->bus.dispatch);
    free(c->bus.correlate);
    free(c->bus.logger);
    free(c->bus.query);
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
        return 0;
    }
    s->headers = true;
    s->body_max = DEFAULT_BODY_MAX;
    unsigned n = sizeof(default_redact) / sizeof(default_redact[0]);
    if (!(s->redact = calloc(n, sizeof(*s->redact))))
        return -ENOMEM;
    s->n_redact = n;
    for (unsigned i = 0; i < n; i++)
        if (!(s->redact[i] = strdup(default_redact[i])))
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
    };
    c->correlate.max_pending = 262144;
    c->logger.batch = 512;
    c->logger.sync = false;
    c->bus.tap_base_port = 0;
    c->supervisor.max_restarts = 5;
    c->supervisor.drain_timeout_ns = 30 * NS_PER_SEC;

    char run_dir[64];
    snprintf(run_dir, sizeof(run_dir), "/tmp/hark-%u", (unsigned)getuid());
    if (!(c->source = strdup("(defaults)")) ||
        !(c->capture.device = strdup("any")) ||
        !(c->capture.filter = strdup("tcp")) ||
        !(c->logger.db = strdup("hark.db")) ||
        !(c->bus.run_dir = strdup(run_dir)))
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

/* ---- messages ---- */

static unsigned line_of(const yaml_node_t *n)
{
    return (unsigned)n->start_mark.line + 1;
}

static void errorf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void errorf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Writes "FILE:LINE: key: <fmt>" and returns -EINVAL, so every check can
 * be `return fail(...)`. */
static int fail(struct loader *ld, const yaml_node_t *n, const char *key,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(struct loader *ld, const yaml_node_t *n, const char *key,
                const char *fmt, ...)
{
    if (!ld->err || !ld->errlen)
        return -EINVAL;
    int k = snprintf(ld->err, ld->errlen, "%s:%u: %s: ", ld->name,
                     line_of(n), key);
    if (k >= 0 && (size_t)k < ld->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ld->err + k, ld->errlen - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static bool is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE ||
        n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") ||
           !strcmp(v, "Null") || !strcmp(v, "NULL");
}

/* What a node is, for "found ..." in messages: a short quoted excerpt of
 * a scalar, or its kind. */
static const char *describe(const yaml_node_t *n, char *buf, size_t size)
{
    if (n->type == YAML_MAPPING_NODE)
        return "a mapping";
    if (n->type == YAML_SEQUENCE_NODE)
        return "a list";
    if (is_null(n))
        return "nothing";
    const unsigned char *v = n->data.scalar.value;
    size_t len = n->data.scalar.length, keep = len > 40 ? 40 : len, o = 0;
    buf[o++] = '\'';
    for (size_t i = 0; i < keep && o + 5 < size; i++)
        buf[o++] = v[i] >= 0x20 && v[i] != 0x7f ? (char)v[i] : '?';
    if (keep < len && o + 5 < size) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '\'';
    buf[o] = '\0';
    return buf;
}

/* Keys are only for messages: one too long is cut and ends in "...". */
static const char *mark_cut(char *buf, int n)
{
    if (n < 0 || n >= KEY_MAX)
        memcpy(buf + KEY_MAX - 4, "...", 4);
    return buf;
}

static const char *child(char *buf, const char *parent, const char *name)
{
    return mark_cut(buf, snprintf(buf, KEY_MAX, "%s%s%s", parent,
                                  *parent ? "." : "", name));
}

static const char *item_key(char *buf, const char *parent, unsigned i)
{
    return mark_cut(buf, snprintf(buf, KEY_MAX, "%s[%u]", parent, i));
}

static void join_names(char *buf, size_t size, const char *const *names)
{
    size_t o = 0;
    buf[0] = '\0';
    for (unsigned i = 0; names[i] && o < size; i++) {
        int k = snprintf(buf + o, size - o, "%s%s", i ? ", " : "",
                         names[i]);
        if (k < 0)
            break;
        o += (size_t)k;
    }
}

static const char *fmt_size(uint64_t v, char *buf, size_t size)
{
    if (v && v % GIB == 0)
        snprintf(buf, size, "%lluGiB", (unsigned long long)(v / GIB));
    else if (v && v % MIB == 0)
        snprintf(buf, size, "%lluMiB", (unsigned long long)(v / MIB));
    else if (v && v % KIB == 0)
        snprintf(buf, size, "%lluKiB", (unsigned long long)(v / KIB));
    else
        snprintf(buf, size, "%llu", (unsigned long long)v);
    return buf;
}

static const char *fmt_duration(uint64_t ns, char *buf, size_t size)
{
    static const struct {
        uint64_t ns;
        const char *unit;
    } units[] = {
        { 3600 * NS_PER_SEC, "h" }, { 60 * NS_PER_SEC, "m" },
        { NS_PER_SEC, "s" },        { NS_PER_MS, "ms" },
        { 1000, "us" },
    };
    for (unsigned i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (ns && ns % units[i].ns == 0) {
            snprintf(buf, size, "%llu%s",
                     (unsigned long long)(ns / units[i].ns), units[i].unit);
            return buf;
        }
    snprintf(buf, size, "%lluns", (unsigned long long)ns);
    return buf;
}

/* ---- nodes ---- */

static yaml_node_t *node_at(struct loader *ld, int index)
{
    return yaml_document_get_node(ld->doc, index);
}

static const char *key_name(struct loader *ld, const yaml_node_pair_t *p)
{
    return (const char *)node_at(ld, p->key)->data.scalar.value;
}

static unsigned n_pairs(const yaml_node_t *map)
{
    return (unsigned)(map->data.mapping.pairs.top -
                      map->data.mapping.pairs.start);
}

static unsigned n_items(const yaml_node_t *seq)
{
    return (unsigned)(seq->data.sequence.items.top -
                      seq->data.sequence.items.start);
}

static yaml_node_t *item_at(struct loader *ld, const yaml_node_t *seq,
                            unsigned i)
{
    return node_at(ld, seq->data.sequence.items.start[i]);
}

/* Value of key in map, or NULL when map is not a mapping or lacks it.
 * Only valid after check_keys() accepted map. */
static yaml_node_t *map_get(struct loader *ld, const yaml_node_t *map,
                            const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++)
        if (!strcmp(key_name(ld, p), key))
            return node_at(ld, p->value);
    return NULL;
}

/* Every key a scalar, each once, each in allowed (NULL-terminated; NULL
 * allows any name). */
static int check_keys(struct loader *ld, const yaml_node_t *map,
                      const char *key, const char *const *allowed)
{
    char sub[KEY_MAX], found[64];
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(ld, p->key);
        if (k->type != YAML_SCALAR_NODE)
            return fail(ld, k, *key ? key : TOP_LEVEL, "not a key name "
                        "(expected a plain name, found %s)",
                        describe(k, found, sizeof(found)));
        const char *name = (const char *)k->data.scalar.value;
        child(sub, key, name);
        if (strlen(name) != k->data.scalar.length)
            return fail(ld, k, sub, "key contains a NUL byte (expected a "
                        "plain name)");
        if (allowed) {
            unsigned i = 0;
            while (allowed[i] && strcmp(allowed[i], name))
                i++;
            if (!allowed[i]) {
                char list[512];
                join_names(list, sizeof(list), allowed);
                return fail(ld, k, sub, "unknown key (expected one of %s)",
                            list);
            }
        }
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p;
             q++)
            if (!strcmp(key_name(ld, q), name))
                return fail(ld, k, sub, "duplicate key (expected each key "
                            "once, found it again after line %u)",
                            line_of(node_at(ld, q->key)));
    }
    return 0;
}

/* A mapping checked against allowed; null counts as an empty mapping so a
 * section with everything commented out is valid. */
static int open_map(struct loader *ld, const yaml_node_t *n, const char *key,
                    const char *const *allowed, const char *what)
{
    char found[64];
    if (is_null(n))
        return 0;
    if (n->type != YAML_MAPPING_NODE)
        return fail(ld, n, key, "wrong type (expected %s, found %s)", what,
                    describe(n, found, sizeof(found)));
    return check_keys(ld, n, key, allowed);
}

/* ---- scalars ---- */

/* The text of a non-null scalar, or NULL after reporting. */
static const char *scalar(struct loader *ld, const yaml_node_t *n,
                          const char *key, const char *what)
{
    char found[64];
    if (n->type != YAML_SCALAR_NODE || is_null(n)) {
        fail(ld, n, key, "wrong type (expected %s, found %s)", what,
             describe(n, found, sizeof(found)));
        return NULL;
    }
    const char *v = (const char *)n->data.scalar.value;
    if (strlen(v) != n->data.scalar.length) {
        fail(ld, n, key, "contains a NUL byte (expected %s)", what);
        return NULL;
    }
    return v;
}

enum str_rule {
    STR_REQUIRED,  /* non-empty */
    STR_OPTIONAL,  /* non-empty, or null for unset */
    STR_ANY,       /* anything; null for unset */
};

static int get_string(struct loader *ld, const yaml_node_t *n,
                      const char *key, enum str_rule rule, char **out)
{
    if (rule != STR_REQUIRED && is_null(n))
        return config_set_string(out, NULL);
    const char *v = scalar(ld, n, key, "a string");
    if (!v)
        return -EINVAL;
    if (!*v && rule != STR_ANY)
        return fail(ld, n, key, "empty string (expected a non-empty "
                    "string)");
    return config_set_string(out, v);
}

static int get_bool(struct loader *ld, const yaml_node_t *n, const char *key,
                    bool *out)
{
    static const char *const yes[] = { "true", "yes", "on" };
    static const char *const no[] = { "false", "no", "off" };
    char found[64];
    const char *v = scalar(ld, n, key, "a boolean (true or false)");
    if (!v)
        return -EINVAL;
    for (unsigned i = 0; i < 3; i++) {
        if (!strcasecmp(v, yes[i])) {
            *out = true;
            return 0;
        }
        if (!strcasecmp(v, no[i])) {
            *out = false;
            return 0;
        }
    }
    return fail(ld, n, key, "wrong type (expected a boolean (true or "
                "false), found %s)", describe(n, found, sizeof(found)));
}

/* Digits only. -EINVAL when not a number, -ERANGE when negative or past
 * 64 bits. */
static int parse_u64(const char *s, const char **end, uint64_t *out)
{
    const char *p = s;
    bool neg = *p == '-';
    if (neg)
        p++;
    if (*p < '0' || *p > '9')
        return -EINVAL;
    uint64_t v = 0;
    bool over = false;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            over = true;
        else
            v = v * 10 + d;
    }
    *end = p;
    *out = v;
    return neg && v ? -ERANGE : over ? -ERANGE : 0;
}

static int get_uint(struct loader *ld, const yaml_node_t *n, const char *key,
                    uint64_t min, uint64_t max, uint64_t *out)
{
    char found[64];
    const char *v = scalar(ld, n, key, "an integer");
    if (!v)
        return -EINVAL;
    const char *end;
    uint64_t x;
    int rc = parse_u64(v, &end, &x);
    if (rc == -EINVAL || (rc == 0 && *end))
        return fail(ld, n, key, "wrong type (expected an integer, found %s)",
                    describe(n, found, sizeof(found)));
    if (rc < 0 || x < min || x > max)
        return fail(ld, n, key, "out of range (expected %llu..%llu, "
                    "found %s)", (unsigned long long)min,
                    (unsigned long long)max,
                    describe(n, found, sizeof(found)));
    *out = x;
    return 0;
}

/* A plain integer is bytes; suffixes are binary whatever their spelling
 * (KB = KiB = 1024), as buffer sizes are always meant that way. */
static int parse_size(const char *s, uint64_t *out)
{
    static const struct {
        const char *suffix;
        uint64_t mult;
    } units[] = {
        { "", 1 },     { "b", 1 },      { "k", KIB },   { "kb", KIB },
        { "kib", KIB }, { "m", MIB },   { "mb", MIB },  { "mib", MIB },
        { "g", GIB },  { "gb", GIB },   { "gib", GIB },
    };
    const char *end;
    uint64_t v;
    int rc = parse_u64(s, &end, &v);
    if (rc == -EINVAL)
        return rc;
    while (*end == ' ')
        end++;
    for (unsigned i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(end, units[i].suffix))
            continue;
        if (rc < 0 || v > UINT64_MAX / units[i].mult)
            return -ERANGE;
        *out = v * units[i].mult;
        return 0;
    }
    return -EINVAL;
}

static int get_size(struct loader *ld, const yaml_node_t *n, const char *key,
                    uint64_t min, uint64_t max, uint64_t *out)
{
    char found[64], lo[32], hi[32];
    const char *v = scalar(ld, n, key, "a size");
    if (!v)
        return -EINVAL;
    uint64_t x;
    int rc = parse_size(v, &x);
    if (rc == -EINVAL)
        return fail(ld, n, key, "wrong type (expected a size such as 65536, "
                    "64KiB, 1MiB or 1GiB, found %s)",
                    describe(n, found, sizeof(found)));
    if (rc < 0 || x < min || x > max)
        return fail(ld, n, key, "out of range (expected %s..%s, found %s)",
                    fmt_size(min, lo, sizeof(lo)),
                    fmt_size(max, hi, sizeof(hi)),
                    describe(n, found, sizeof(found)));
    *out = x;
    return 0;
}

/* clock_parse_duration() takes what strtod() takes (hex, exponents, nan);
 * a config only needs "<decimal><unit>", so the shape is checked first. */
static bool duration_shaped(const char *s)
{
    const char *p = s;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p == s)
        return false;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    for (; *p; p++)
        if (*p < 'a' || *p > 'z')
            return false;
    return true;
}

static int get_duration(struct loader *ld, const yaml_node_t *n,
                        const char *key, uint64_t min, uint64_t max,
                        uint64_t *out)
{
    char found[64], lo[32], hi[32];
    const char *v = scalar(ld, n, key, "a duration");
    if (!v)
        return -EINVAL;
    uint64_t ns;
    if (!duration_shaped(v) || clock_parse_duration(v, &ns) < 0)
        return fail(ld, n, key, "wrong type (expected a duration such as "
                    "250ms, 30s, 5m or 1h, found %s)",
                    describe(n, found, sizeof(found)));
    if (ns < min || ns > max)
        return fail(ld, n, key, "out of range (expected %s..%s, found %s)",
                    fmt_duration(min, lo, sizeof(lo)),
                    fmt_duration(max, hi, sizeof(hi)),
                    describe(n, found, sizeof(found)));
    *out = ns;
    return 0;
}

static bool ipc_fits(const char *endpoint)
{
    return strncmp(endpoint, "ipc://", 6) ||
           strlen(endpoint + 6) <= IPC_PATH_MAX;
}

/* HOST:PORT, HOST possibly "*" or "[v6]"; zmq resolves the rest. */
static bool tcp_address_ok(const char *a)
{
    const char *colon = strrchr(a, ':');
    if (!colon || colon == a || !colon[1])
        return false;
    return colon[1 + strspn(colon + 1, "0123456789")] == '\0';
}

/* A ZeroMQ endpoint of a transport hark uses; null leaves it unset. */
static int get_endpoint(struct loader *ld, const yaml_node_t *n,
                        const char *key, char **out)
{
    char found[64];
    if (is_null(n))
        return config_set_string(out, NULL);
    const char *v = scalar(ld, n, key, "an endpoint");
    if (!v)
        return -EINVAL;
    bool ok;
    if (!strncmp(v, "ipc://", 6))
        ok = v[6] != '\0';
    else if (!strncmp(v, "inproc://", 9))
        ok = v[9] != '\0';
    else if (!strncmp(v, "tcp://", 6))
        ok = tcp_address_ok(v + 6);
    else
        ok = false;
    if (!ok)
        return fail(ld, n, key, "not an endpoint (expected ipc://PATH, "
                    "tcp://HOST:PORT or inproc://NAME, found %s)",
                    describe(n, found, sizeof(found)));
    if (!ipc_fits(v))
        return fail(ld, n, key, "ipc path too long (expected at most %d "
                    "bytes, found %zu)", IPC_PATH_MAX, strlen(v + 6));
    return config_set_string(out, v);
}

/* RFC 9110 token: what a method or a header name may be made of. */
static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)))
            return false;
    return true;
}

/* A list of HTTP tokens (or one, when one_ok). An empty list is allowed
 * only when empty_ok. */
static int get_tokens(struct loader *ld, const yaml_node_t *n,
                      const char *key, const char *what, bool one_ok,
                      bool empty_ok, char ***out, unsigned *nout)
{
    char found[64], sub[KEY_MAX];
    free_names(out, nout);
    if (one_ok && n->type == YAML_SCALAR_NODE && !is_null(n)) {
        const char *v = scalar(ld, n, key, what);
        if (!v)
            return -EINVAL;
        if (!is_token(v))
            return fail(ld, n, key, "not an HTTP token (expected letters, "
                        "digits or !#$%%&'*+-.^_`|~, found %s)",
                        describe(n, found, sizeof(found)));
        if (!(*out = calloc(1, sizeof(**out))) || !((*out)[0] = strdup(v)))
            return -ENOMEM;
        *nout = 1;
        return 0;
    }
    if (empty_ok && is_null(n))
        return 0;
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(ld, n, key, "wrong type (expected a list of %ss, found "
                    "%s)", what, describe(n, found, sizeof(found)));
    unsigned count = n_items(n);
    if (!count && !empty_ok)
        return fail(ld, n, key, "empty list (expected at least one %s, or "
                    "no key for any)", what);
    if (count > MAX_NAMES)
        return fail(ld, n, key, "too many entries (expected at most %d, "
                    "found %u)", MAX_NAMES, count);
    if (count && !(*out = calloc(count, sizeof(**out))))
        return -ENOMEM;
    *nout = count;
    for (unsigned i = 0; i < count; i++) {
        yaml_node_t *it = item_at(ld, n, i);
        item_key(sub, key, i);
        const char *v = scalar(ld, it, sub, what);
        if (!v)
            return -EINVAL;
        if (!is_token(v))
            return fail(ld, it, sub, "not an HTTP token (expected letters, "
                        "digits or !#$%%&'*+-.^_`|~, found %s)",
                        describe(it, found, sizeof(found)));
        if (!((*out)[i] = strdup(v)))
            return -ENOMEM;
    }
    return 0;
}

/* ---- flat sections, table-driven ---- */

enum field_type {
    F_STR,        /* STR_REQUIRED */
    F_STR_OPT,    /* STR_OPTIONAL */
    F_STR_ANY,    /* STR_ANY */
    F_BOOL,
    F_UINT,       /* stored in a 4- or 8-byte integer, in [min, max] */
    F_SIZE,
    F_DURATION,
    F_ENDPOINT,
    F_SHARD_ENDPOINTS, /* bus.reassemble */
};

struct field {
    const char *key;
    enum field_type type;
    size_t off;               /* in struct config */
    size_t size;
    uint64_t min, max;
};

#define FIELD(k, t, member, lo, hi)                                       \
    { k, t, offsetof(struct config, member),                             \
      sizeof(((struct config *)0)->member), lo, hi }
#define FIELD_END { NULL, F_STR, 0, 0, 0, 0 }

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
    FIELD_END,
};

static const struct field bus_fields[] = {
    FIELD("run_dir", F_STR, bus.run_dir, 0, 0),
    FIELD("reassemble", F_SHARD_ENDPOINTS, bus.reassemble, 0, 0),
    FIELD("dispatch", F_ENDPOINT, bus.dispatch, 0, 0),
    FIELD("correlate", F_ENDPOINT, bus.correlate, 0, 0),
    FIELD("logger", F_ENDPOINT, bus.logger, 0, 0),
    FIELD("query", F_ENDPOINT, bus.query, 0, 0),
    FIELD("tap_base_port", F_UINT, bus.tap_base_port, 0, TAP_PORT_MAX),
    FIELD_END,
};

static const struct field supervisor_fields[] = {
    FIELD("max_restarts", F_UINT, supervisor.max_restarts, 0, 1000),
    FIELD("drain_timeout", F_DURATION, supervisor.drain_timeout_ns,
          NS_PER_MS, 3600 * NS_PER_SEC),
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
    char found[64], sub[KEY_MAX];
    for (unsigned i = 0; i < CONFIG_MAX_SHARDS; i++) {
        free(c->bus.reassemble[i]);
        c->bus.reassemble[i] = NULL;
    }
    if (is_null(n))
        return 0;
    if (n->type == YAML_SCALAR_NODE) {
        if (shards != 1)
            return fail(ld, n, key, "one endpoint for %u shards (expected "
                        "a list of %u endpoints, one per reassemble.shards, "
                        "found %s)", shards, shards,
                        describe(n, found, sizeof(found)));
        return get_endpoint(ld, n, key, &c->bus.reassemble[0]);
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(ld, n, key, "wrong type (expected a list of endpoints, "
                    "found %s)", describe(n, found, sizeof(found)));
    if (n_items(n) != shards)
        return fail(ld, n, key, "wrong number of endpoints (expected %u, "
                    "one per reassemble.shards, found %u)", shards,
                    n_items(n));
    for (unsigned i = 0; i < shards; i++) {
        yaml_node_t *it = item_at(ld, n, i);
        int rc = get_endpoint(ld, it, item_key(sub, key, i),
                              &c->bus.reassemble[i]);
        if (rc < 0)
            return rc;
        if (!c->bus.reassemble[i])
            return fail(ld, it, sub, "missing endpoint (expected an "
                        "endpoint for shard %u, found nothing)", i);
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
    char what[KEY_MAX + 32];
    snprintf(what, sizeof(what), "a mapping of %s settings", key);
    int rc = open_map(ld, n, key, names, what);
    if (rc < 0)
        return rc;
    for (unsigned i = 0; i < nf; i++) {
        const struct field *f = &fields[i];
        yaml_node_t *v = map_get(ld, n, f->key);
        if (!v)
            continue;
        char sub[KEY_MAX];
        child(sub, key, f->key);
        void *p = (char *)ld->c + f->off;
        uint64_t x = 0;
        switch (f->type) {
        case F_STR:
            rc = get_string(ld, v, sub, STR_REQUIRED, p);
            break;
        case F_STR_OPT:
            rc = get_string(ld, v, sub, STR_OPTIONAL, p);
            break;
        case F_STR_ANY:
            rc = get_string(ld, v, sub, STR_ANY, p);
            break;
        case F_BOOL:
            rc = get_bool(ld, v, sub, p);
            break;
        case F_UINT:
            if ((rc = get_uint(ld, v, sub, f->min, f->max, &x)) == 0)
                store_uint(p, f->size, x);
            break;
        case F_SIZE:
            if ((rc = get_size(ld, v, sub, f->min, f->max, &x)) == 0)
                store_uint(p, f->size, x);
            break;
        case F_DURATION:
            if ((rc = get_duration(ld, v, sub, f->min, f->max, &x)) == 0)
                store_uint(p, f->size, x);
            break;
        case F_ENDPOINT:
            rc = get_endpoint(ld, v, sub, p);
            break;
        case F_SHARD_ENDPOINTS:
            rc = get_shard_endpoints(ld, v, sub);
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
    const char *v = scalar(ld, n, key, "request or response");
    if (!v)
        return -EINVAL;
    if (!strcmp(v, "request"))
        *out = STEP_MSG_REQUEST;
    else if (!strcmp(v, "response"))
        *out = STEP_MSG_RESPONSE;
    else
        return fail(ld, n, key, "unknown message (expected request or "
                    "response, found %s)", describe(n, found, sizeof(found)));
    return 0;
}

/* "Log Message" / "Log Message Payload": `log: request` or the long form. */
static int load_log(struct loader *ld, struct config_step *s,
                    const yaml_node_t *n, const char *key)
{
    static const char *const keys[] = { "message", "label", "headers",
                                        "body", "redact", NULL };
    char sub[KEY_MAX], found[64];
    int rc = step_defaults(s, STEP_LOG);
    if (rc < 0)
        return rc;
    if (n->type == YAML_SCALAR_NODE && !is_null(n)) {
        rc = get_message(ld, n, key, &s->message);
    } else if (n->type == YAML_MAPPING_NODE) {
        yaml_node_t *v;
        if ((rc = check_keys(ld, n, key, keys)) < 0)
            return rc;
        if (!(v = map_get(ld, n, "message")))
            return fail(ld, n, key, "missing key 'message' (expected "
                        "message: request or message: response)");
        if ((rc = get_message(ld, v, child(sub, key, "message"),
                              &s->message)) < 0)
            return rc;
        if ((v = map_get(ld, n, "label")) &&
            (rc = get_string(ld, v, child(sub, key, "label"), STR_REQUIRED,
                             &s->label)) < 0)
            return rc;
        if ((v = map_get(ld, n, "headers")) &&
            (rc = get_bool(ld, v, child(sub, key, "headers"),
                           &s->headers)) < 0)
            return rc;
        if ((v = map_get(ld, n, "body")) &&
            (rc = get_size(ld, v, child(sub, key, "body"), 0, 1 * GIB,
                           &s->body_max)) < 0)
            return rc;
        if ((v = map_get(ld, n, "redact")) &&
            (rc = get_tokens(ld, v, child(sub, key, "redact"),
                             "header name", false, true, &s->redact,
                             &s->n_redact)) < 0)
            return rc;
    } else {
        return fail(ld, n, key, "wrong type (expected request, response or "
                    "a mapping with message, label, headers, body, redact, "
                    "found %s)", describe(n, found, sizeof(found)));
    }
    return rc < 0 ? rc : set_default_label(s);
}

/* "Wait for Response Packets": empty, a timeout, or the long form. */
static int load_wait(struct loader *ld, struct config_step *s,
                     const yaml_node_t *n, const char *key)
{
    static const char *const keys[] = { "timeout", "label", NULL };
    const uint64_t lo = NS_PER_MS, hi = 24 * 3600 * NS_PER_SEC;
    char sub[KEY_MAX], found[64];
    yaml_node_t *v;
    int rc = step_defaults(s, STEP_WAIT);
    if (rc < 0)
        return rc;
    if (is_null(n))
        return set_default_label(s); /* `wait_for_response:` alone */
    if (n->type == YAML_SCALAR_NODE) {
        rc = get_duration(ld, n, key, lo, hi, &s->timeout_ns);
    } else if (n->type == YAML_MAPPING_NODE) {
        if ((rc = check_keys(ld, n, key, keys)) < 0)
            return rc;
        if ((v = map_get(ld, n, "timeout")) &&
            (rc = get_duration(ld, v, child(sub, key, "timeout"), lo, hi,
                               &s->timeout_ns)) < 0)
            return rc;
        if ((v = map_get(ld, n, "label")))
            rc = get_string(ld, v, child(sub, key, "label"), STR_REQUIRED,
                            &s->label);
    } else {
        return fail(ld, n, key, "wrong type (expected a timeout such as 30s "
                    "or a mapping with timeout, label, found %s)",
                    describe(n, found, sizeof(found)));
    }
    return rc < 0 ? rc : set_default_label(s);
}

static int load_step(struct loader *ld, struct config_step *s,
                     const yaml_node_t *n, const char *key)
{
    static const char *const kinds[] = { "log", "wait_for_response", NULL };
    char sub[KEY_MAX], found[64];
    if (n->type != YAML_MAPPING_NODE)
        return fail(ld, n, key, "not a step (expected a mapping with one "
                    "key, log or wait_for_response, found %s)",
                    describe(n, found, sizeof(found)));
    int rc = check_keys(ld, n, key, kinds);
    if (rc < 0)
        return rc;
    if (n_pairs(n) != 1)
        return fail(ld, n, key, "not one step (expected exactly one of log, "
                    "wait_for_response, found %u keys)", n_pairs(n));
    yaml_node_pair_t *p = n->data.mapping.pairs.start;
    const char *kind = key_name(ld, p);
    child(sub, key, kind);
    if (!strcmp(kind, "log"))
        return load_log(ld, s, node_at(ld, p->value), sub);
    return load_wait(ld, s, node_at(ld, p->value), sub);
}

static int load_steps(struct loader *ld, struct config_policy *p,
                      const yaml_node_t *n, const char *key)
{
    char sub[KEY_MAX], found[64];
    if (is_null(n) ||
        (n->type == YAML_SEQUENCE_NODE && n_items(n) == 0))
        return fail(ld, n, key, "policy has no steps (expected a list with "
                    "log and wait_for_response steps, found %s)",
                    is_null(n) ? "nothing" : "an empty list");
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(ld, n, key, "wrong type (expected a list of steps, "
                    "found %s)", describe(n, found, sizeof(found)));
    unsigned count = n_items(n);
    if (count > MAX_STEPS)
        return fail(ld, n, key, "too many steps (expected at most %d, "
                    "found %u)", MAX_STEPS, count);
    if (!(p->steps = calloc(count, sizeof(*p->steps))))
        return -ENOMEM;
    p->n_steps = count;
    unsigned wait_line = 0;
    for (unsigned i = 0; i < count; i++) {
        yaml_node_t *it = item_at(ld, n, i);
        struct config_step *s = &p->steps[i];
        item_key(sub, key, i);
        int rc = load_step(ld, s, it, sub);
        if (rc < 0)
            return rc;
        if (s->kind == STEP_WAIT) {
            if (p->wait_step >= 0)
                return fail(ld, it, sub, "second wait_for_response (expected "
                            "one per policy, the first is at line %u)",
                            wait_line);
            p->wait_step = (int)i;
            wait_line = line_of(it);
        } else if (s->message == STEP_MSG_RESPONSE && p->wait_step < 0) {
            return fail(ld, it, sub, "log: response before any "
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
    char sub[KEY_MAX];
    if (!n)
        return 0;
    /* counted first: the duplicate check below is quadratic */
    if (n->type == YAML_MAPPING_NODE && n_pairs(n) > MAX_POLICIES)
        return fail(ld, n, "policies", "too many policies (expected at most "
                    "%d, found %u)", MAX_POLICIES, n_pairs(n));
    int rc = open_map(ld, n, "policies", NULL,
                      "a mapping of policy names to lists of steps");
    if (rc < 0 || is_null(n))
        return rc;
    for (yaml_node_pair_t *pp = n->data.mapping.pairs.start;
         pp < n->data.mapping.pairs.top; pp++) {
        const char *name = key_name(ld, pp);
        if (!*name)
            return fail(ld, node_at(ld, pp->key), "policies", "empty policy "
                        "name (expected a name such as audit)");
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
        rc = load_steps(ld, p, node_at(ld, pp->value),
                        child(sub, "policies", name));
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
    return fail(ld, n, key, "unknown policy (expected one of %s, found %s)",
                list, describe(n, found, sizeof(found)));
}

static bool same_route(const struct config_route *a,
                       const struct config_route *b)
{
    if (strcmp(a->path, b->path) || !a->host != !b->host ||
        (a->host && strcasecmp(a->host, b->host)) ||
        a->n_methods != b->n_methods)
        return false;
    for (unsigned i = 0; i < a->n_methods; i++)
        if (strcmp(a->methods[i], b->methods[i]))
            return false;
    return true;
}

/* A "Relative Path": path prefix (+ host, methods) -> policy. */
static int load_route(struct loader *ld, struct config_route *rt,
                      const yaml_node_t *n, const char *key)
{
    static const char *const keys[] = { "path", "policy", "host", "methods",
                                        NULL };
    char sub[KEY_MAX], found[64];
    int rc = open_map(ld, n, key, keys, "a mapping with path, policy, host, "
                      "methods");
    if (rc < 0)
        return rc;
    yaml_node_t *path = map_get(ld, n, "path");
    yaml_node_t *policy = map_get(ld, n, "policy");
    yaml_node_t *v;
    if (!path)
        return fail(ld, n, key, "missing key 'path' (expected a relative "
                    "path such as / or /a)");
    if (!policy)
        return fail(ld, n, key, "missing key 'policy' (expected the name of "
                    "a policy)");
    child(sub, key, "path");
    if ((rc = get_string(ld, path, sub, STR_REQUIRED, &rt->path)) < 0)
        return rc;
    if (rt->path[0] != '/')
        return fail(ld, path, sub, "not a relative path (expected a path "
                    "starting with '/', found %s)",
                    describe(path, found, sizeof(found)));
    child(sub, key, "policy");
    if ((rc = get_string(ld, policy, sub, STR_REQUIRED, &rt->policy)) < 0 ||
        (rc = resolve_policy(ld, rt, policy, sub)) < 0)
        return rc;
    if ((v = map_get(ld, n, "host")) &&
        (rc = get_string(ld, v, child(sub, key, "host"), STR_OPTIONAL,
                         &rt->host)) < 0)
        return rc;
    if ((v = map_get(ld, n, "methods")) &&
        (rc = get_tokens(ld, v, child(sub, key, "methods"), "method", true,
                         false, &rt->methods, &rt->n_methods)) < 0)
        return rc;
    return 0;
}

/* A "Service Group": a name and its relative paths. */
static int load_group(struct loader *ld, struct config_group *g,
                      const yaml_node_t *n, const char *key)
{
    static const char *const keys[] = { "name", "relative_paths", NULL };
    char sub[KEY_MAX], found[64];
    int rc = open_map(ld, n, key, keys, "a mapping with name, "
                      "relative_paths");
    if (rc < 0)
        return rc;
    yaml_node_t *name = map_get(ld, n, "name");
    yaml_node_t *paths = map_get(ld, n, "relative_paths");
    if (!name)
        return fail(ld, n, key, "missing key 'name' (expected the group's "
                    "name, such as Packet Sniffer Group)");
    if ((rc = get_string(ld, name, child(sub, key, "name"), STR_REQUIRED,
                         &g->name)) < 0)
        return rc;
    child(sub, key, "relative_paths");
    if (!paths)
        return fail(ld, n, sub, "missing (expected a list of relative "
                    "paths, each with path and policy)");
    if (paths->type != YAML_SEQUENCE_NODE || n_items(paths) == 0)
        return fail(ld, paths, sub, "%s (expected a list of at least one "
                    "relative path, found %s)",
                    paths->type == YAML_SEQUENCE_NODE ? "empty list"
                                                      : "wrong type",
                    paths->type == YAML_SEQUENCE_NODE
                        ? "an empty list"
                        : describe(paths, found, sizeof(found)));
    unsigned count = n_items(paths);
    if (count > MAX_ROUTES)
        return fail(ld, paths, sub, "too many relative paths (expected at "
                    "most %d, found %u)", MAX_ROUTES, count);
    if (!(g->routes = calloc(count, sizeof(*g->routes))))
        return -ENOMEM;
    g->n_routes = count;
    char rkey[KEY_MAX];
    for (unsigned i = 0; i < count; i++) {
        yaml_node_t *it = item_at(ld, paths, i);
        item_key(rkey, sub, i);
        if ((rc = load_route(ld, &g->routes[i], it, rkey)) < 0)
            return rc;
        for (unsigned j = 0; j < i; j++)
            if (same_route(&g->routes[j], &g->routes[i]))
                return fail(ld, it, rkey, "duplicate relative path (expected "
                            "each path, host and methods once per group, "
                            "found '%s' again after line %u)",
                            g->routes[i].path,
                            line_of(item_at(ld, paths, j)));
    }
    return 0;
}

/* The file's groups replace the built-in one as a whole. */
static int load_groups(struct loader *ld, const yaml_node_t *n)
{
    struct config *c = ld->c;
    char sub[KEY_MAX], found[64];
    if (!n)
        return 0;
    if (n->type != YAML_SEQUENCE_NODE || n_items(n) == 0)
        return fail(ld, n, "service_groups", "%s (expected a list of at "
                    "least one service group, found %s)",
                    n->type == YAML_SEQUENCE_NODE ? "empty list"
                                                  : "wrong type",
                    n->type == YAML_SEQUENCE_NODE
                        ? "an empty list"
                        : describe(n, found, sizeof(found)));
    unsigned count = n_items(n);
    if (count > MAX_GROUPS)
        return fail(ld, n, "service_groups", "too many groups (expected at "
                    "most %d, found %u)", MAX_GROUPS, count);
    free_groups(c);
    if (!(c->groups = calloc(count, sizeof(*c->groups))))
        return -ENOMEM;
    c->n_groups = count;
    for (unsigned i = 0; i < count; i++) {
        yaml_node_t *it = item_at(ld, n, i);
        item_key(sub, "service_groups", i);
        int rc = load_group(ld, &c->groups[i], it, sub);
        if (rc < 0)
            return rc;
        for (unsigned j = 0; j < i; j++)
            if (!strcmp(c->groups[j].name, c->groups[i].name)) {
                yaml_node_t *first = map_get(ld, item_at(ld, n, j), "name");
                char nkey[KEY_MAX];
                return fail(ld, map_get(ld, it, "name"),
                            child(nkey, sub, "name"), "duplicate group name "
                            "(expected a name no other group has, found "
                            "'%s' again after line %u)", c->groups[i].name,
                            line_of(first));
            }
    }
    return 0;
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
    yaml_node_t *n = map_get(ld, sec, "max_buffered");
    if (!n) {
        key = "reassemble.memcap";
        n = map_get(ld, sec, "memcap");
    }
    return fail(ld, n, key, "max_buffered above memcap (expected "
                "max_buffered <= memcap, found %s > %s)",
                fmt_size(r->max_buffered, a, sizeof(a)),
                fmt_size(r->memcap, b, sizeof(b)));
}

static int load_root(struct loader *ld, const yaml_node_t *root)
{
    static const char *const keys[] = {
        "capture", "reassemble", "service_groups", "policies",
        "correlate", "logger", "bus", "supervisor", NULL,
    };
    char found[64];
    int rc;
    if (!root || is_null(root))
        return 0;
    if (root->type != YAML_MAPPING_NODE)
        return fail(ld, root, TOP_LEVEL, "wrong type (expected a mapping "
                    "of sections, found %s)",
                    describe(root, found, sizeof(found)));
    if ((rc = check_keys(ld, root, "", keys)) < 0)
        return rc;
    yaml_node_t *reassemble = map_get(ld, root, "reassemble");
    if ((rc = load_fields(ld, map_get(ld, root, "capture"), "capture",
                          capture_fields)) < 0 ||
        (rc = load_fields(ld, reassemble, "reassemble",
                          reassemble_fields)) < 0 ||
        (rc = check_memcap(ld, reassemble)) < 0 ||
        (rc = load_policies(ld, map_get(ld, root, "policies"))) < 0 ||
        (rc = load_groups(ld, map_get(ld, root, "service_groups"))) < 0 ||
        (rc = load_fields(ld, map_get(ld, root, "correlate"), "correlate",
                          correlate_fields)) < 0 ||
        (rc = load_fields(ld, map_get(ld, root, "logger"), "logger",
                          logger_fields)) < 0 ||
        (rc = load_fields(ld, map_get(ld, root, "bus"), "bus",
                          bus_fields)) < 0 ||
        (rc = load_fields(ld, map_get(ld, root, "supervisor"), "supervisor",
                          supervisor_fields)) < 0)
        return rc;
    return 0;
}

static int syntax_error(const yaml_parser_t *p, const char *text,
                        size_t len, const char *name, char *err,
                        size_t errlen)
{
    if (p->error == YAML_MEMORY_ERROR) {
        errorf(err, errlen, "%s: out of memory", name);
        return -ENOMEM;
    }
    size_t line = p->problem_mark.line + 1;
    if (p->error == YAML_READER_ERROR) {
        /* bad encoding: libyaml gives a byte offset, not a mark */
        line = 1;
        for (size_t i = 0; i < p->problem_offset && i < len; i++)
            line += text[i] == '\n';
    }
    const char *problem = p->problem ? p->problem : "malformed YAML";
    if (p->context)
        errorf(err, errlen, "%s:%zu: YAML syntax error: %s (%s at line %zu)",
               name, line, problem, p->context, p->context_mark.line + 1);
    else
        errorf(err, errlen, "%s:%zu: YAML syntax error: %s", name, line,
               problem);
    return -EINVAL;
}

/* Documents after the first would be silently ignored, so one with
 * content is refused; an empty one (a trailing "---") is harmless. */
static int extra_documents(yaml_parser_t *parser, const char *text,
                           size_t len, const char *name, char *err,
                           size_t errlen)
{
    for (;;) {
        yaml_document_t extra;
        if (!yaml_parser_load(parser, &extra))
            return syntax_error(parser, text, len, name, err, errlen);
        yaml_node_t *root = yaml_document_get_root_node(&extra);
        size_t line = extra.start_mark.line + 1;
        bool empty = !root || is_null(root), end = !root;
        yaml_document_delete(&extra);
        if (!empty) {
            errorf(err, errlen, "%s:%zu: " TOP_LEVEL ": more than one YAML "
                   "document (expected one, found another after '---')",
                   name, line);
            return -EINVAL;
        }
        if (end)
            return 0;
    }
}

static int load_text(const char *text, size_t len, const char *name,
                     struct config **out, char *err, size_t errlen)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    struct config *c = config_default();
    int rc = -ENOMEM;
    *out = NULL;
    if (!c || config_set_string(&c->source, name) < 0) {
        errorf(err, errlen, "%s: out of memory", name);
        config_destroy(&c);
        return -ENOMEM;
    }
    if (!yaml_parser_initialize(&parser)) {
        errorf(err, errlen, "%s: out of memory", name);
        goto out_config;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = syntax_error(&parser, text, len, name, err, errlen);
        goto out_parser;
    }
    rc = extra_documents(&parser, text, len, name, err, errlen);
    if (rc == 0) {
        struct loader ld = { &doc, name, err, errlen, c };
        rc = load_root(&ld, yaml_document_get_root_node(&doc));
        if (rc == -ENOMEM)
            errorf(err, errlen, "%s: out of memory", name);
    }
    yaml_document_delete(&doc);
out_parser:
    yaml_parser_delete(&parser);
out_config:
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

/* Reads until EOF rather than trusting st_size, so a pipe works too. */
static int read_file(const char *path, char **text, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
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
    *out = NULL;
    int rc = read_file(path, &text, &len);
    if (rc < 0) {
        errorf(err, errlen, "%s: cannot read: %s", path, strerror(-rc));
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

/* Formats into buf; NULL when it is cut or names an ipc path longer than
 * a socket address holds. */
static char *put(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static char *put(char *buf, size_t size, const char *fmt, ...)
{
    if (!buf || !size)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size || !ipc_fits(buf))
        return NULL;
    return buf;
}

char *config_endpoint(const struct config *c, const char *what, unsigned shard,
                      char *buf, size_t size)
{
    const char *explicit;
    if (!strcmp(what, "reassemble")) {
        if (shard >= c->reassemble.shards || shard >= CONFIG_MAX_SHARDS)
            return NULL;
        explicit = c->bus.reassemble[shard];
        if (!explicit)
            return put(buf, size, "ipc://%s/reassemble-%u", c->bus.run_dir,
                       shard);
    } else if (!strcmp(what, "dispatch")) {
        explicit = c->bus.dispatch;
    } else if (!strcmp(what, "correlate")) {
        explicit = c->bus.correlate;
    } else if (!strcmp(what, "logger")) {
        explicit = c->bus.logger;
    } else if (!strcmp(what, "query")) {
        explicit = c->bus.query;
    } else {
        return NULL;
    }
    if (explicit)
        return put(buf, size, "%s", explicit);
    return put(buf, size, "ipc://%s/%s", c->bus.run_dir, what);
}

/* Port offset of a tap: fixed for the known stages, a stable FNV-1a hash
 * into 80..99 for anything else (the front end, a custom --id). */
static unsigned tap_offset(const char *id)
{
    static const char *const fixed[] = { "capture", "dispatch", "correlate",
                                         "logger" };
    for (unsigned i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (!strcmp(id, fixed[i]))
            return i;
    static const char prefix[] = "reassemble-";
    if (!strncmp(id, prefix, sizeof(prefix) - 1)) {
        const char *d = id + sizeof(prefix) - 1;
        size_t digits = strspn(d, "0123456789");
        /* "reassemble-07" is not shard 7: one spelling per port */
        if (digits && digits <= 2 && !d[digits] && (d[0] != '0' || !d[1])) {
            unsigned shard = (unsigned)atoi(d);
            if (shard < CONFIG_MAX_SHARDS)
                return TAP_SHARD_BASE + shard;
        }
    }
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return TAP_HASH_BASE + h % TAP_HASH_SPAN;
}

char *config_tap_endpoint(const struct config *c, const char *id, char *buf,
                          size_t size)
{
    if (!id || !*id)
        return NULL;
    if (c->bus.tap_base_port > 0) {
        unsigned port = (unsigned)c->bus.tap_base_port + tap_offset(id);
        if (port > 65535)
            return NULL;
        return put(buf, size, "tcp://*:%u", port);
    }
    return put(buf, size, "ipc://%s/tap-%s", c->bus.run_dir, id);
}
