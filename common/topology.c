/* topology.c - the five stages, where each sits and where it listens. */
#include "topology.h"
#include "hash.h"

#include "endpoint.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAP_SHARD_BASE 10
#define TAP_HASH_BASE 80
#define TAP_HASH_SPAN 20

static const struct topology_stage stages[ROLE_COUNT] = {
    { ROLE_CAPTURE, "capture", 0, false, NULL,
      STAGE_OPT_READ | STAGE_OPT_DEVICE | STAGE_OPT_FILTER |
          STAGE_OPT_PROMISC,
      0 },
    { ROLE_REASSEMBLE, "reassemble", 1, true, "reassemble", STAGE_OPT_SHARD,
      TAP_SHARD_BASE },
    { ROLE_DISPATCH, "dispatch", 2, false, "dispatch", 0, 1 },
    { ROLE_CORRELATE, "correlate", 3, false, "correlate", 0, 2 },
    { ROLE_LOGGER, "logger", 4, false, "logger", STAGE_OPT_DB, 3 },
};

_Static_assert(TOPOLOGY_TAP_PORT_MAX + TAP_HASH_BASE + TAP_HASH_SPAN - 1 ==
                   65535, "tap ports must stay below 65536");
_Static_assert(TAP_SHARD_BASE + CONFIG_MAX_SHARDS <= TAP_HASH_BASE,
               "shard taps must not reach the hashed ones");

const struct topology_stage *topology_stage(enum topology_role role)
{
    return &stages[role];
}

unsigned topology_instances(const struct config *c, enum topology_role role)
{
    return stages[role].sharded ? c->reassemble.shards : 1;
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
    if (n < 0 || (size_t)n >= size || !endpoint_fits(buf))
        return NULL;
    return buf;
}

char *topology_id(enum topology_role role, unsigned shard, char *buf,
                  size_t size)
{
    const struct topology_stage *ts = &stages[role];
    int n = ts->sharded ? snprintf(buf, size, "%s-%u", ts->name, shard)
                        : snprintf(buf, size, "%s", ts->name);
    return n < 0 || (size_t)n >= size ? NULL : buf;
}

/* bus.<input> of role from the file, or NULL for the default. */
static const char *explicit_input(const struct config *c,
                                  enum topology_role role, unsigned shard)
{
    switch (role) {
    case ROLE_REASSEMBLE: return c->bus.reassemble[shard];
    case ROLE_DISPATCH: return c->bus.dispatch;
    case ROLE_CORRELATE: return c->bus.correlate;
    case ROLE_LOGGER: return c->bus.logger;
    case ROLE_CAPTURE:
    case ROLE_COUNT: break;
    }
    return NULL;
}

char *topology_input(const struct config *c, enum topology_role role,
                     unsigned shard, char *buf, size_t size)
{
    const struct topology_stage *ts = &stages[role];
    if (!ts->input)
        return NULL;
    if (ts->sharded &&
        (shard >= c->reassemble.shards || shard >= CONFIG_MAX_SHARDS))
        return NULL;
    const char *explicit = explicit_input(c, role, shard);
    if (explicit)
        return put(buf, size, "%s", explicit);
    if (ts->sharded)
        return put(buf, size, "ipc://%s/%s-%u", c->bus.run_dir, ts->input,
                   shard);
    return put(buf, size, "ipc://%s/%s", c->bus.run_dir, ts->input);
}

char *topology_query(const struct config *c, char *buf, size_t size)
{
    if (c->bus.query)
        return put(buf, size, "%s", c->bus.query);
    return put(buf, size, "ipc://%s/query", c->bus.run_dir);
}

/* A stage's id ("dispatch", "reassemble-3") to its tap offset; -1 for any
 * other id. "reassemble-07" is not shard 7: one spelling per port. */
static int stage_tap_offset(const char *id)
{
    for (unsigned r = 0; r < ROLE_COUNT; r++) {
        const struct topology_stage *ts = &stages[r];
        size_t len = strlen(ts->name);
        if (strncmp(id, ts->name, len))
            continue;
        if (!ts->sharded && !id[len])
            return (int)ts->tap_offset;
        if (!ts->sharded || id[len] != '-')
            continue;
        const char *d = id + len + 1;
        size_t digits = strspn(d, "0123456789");
        if (digits && digits <= 2 && !d[digits] && (d[0] != '0' || !d[1])) {
            unsigned shard = (unsigned)atoi(d);
            if (shard < CONFIG_MAX_SHARDS)
                return (int)(ts->tap_offset + shard);
        }
    }
    return -1;
}

/* Port offset of a tap: fixed for the stages, a stable FNV-1a hash into
 * 80..99 for anything else (the front end, a custom --id). */
static unsigned tap_offset(const char *id)
{
    int fixed = stage_tap_offset(id);
    if (fixed >= 0)
        return (unsigned)fixed;
    uint32_t h = hash_fnv1a32(HASH_FNV32_INIT, id, strlen(id));
    return TAP_HASH_BASE + h % TAP_HASH_SPAN;
}

/* tcp://HOST:PORT, an IPv6 literal in brackets. */
static char *put_tcp(char *buf, size_t size, const char *host,
                     unsigned port)
{
    if (strchr(host, ':') && host[0] != '[')
        return put(buf, size, "tcp://[%s]:%u", host, port);
    return put(buf, size, "tcp://%s:%u", host, port);
}

/* The tap's tcp port for id, or 0 when taps are ipc or it overflows. */
static unsigned tap_port(const struct config *c, const char *id)
{
    if (c->bus.tap_base_port <= 0)
        return 0;
    unsigned port = (unsigned)c->bus.tap_base_port + tap_offset(id);
    return port > 65535 ? 0 : port;
}

char *topology_tap(const struct config *c, const char *id, char *buf,
                   size_t size)
{
    if (!id || !*id)
        return NULL;
    if (c->bus.tap_base_port > 0) {
        unsigned port = tap_port(c, id);
        if (!port)
            return NULL;
        return put_tcp(buf, size, c->bus.tap_bind, port);
    }
    return put(buf, size, "ipc://%s/tap-%s", c->bus.run_dir, id);
}

char *topology_tap_reader(const struct config *c, const char *id,
                          const char *host, char *buf, size_t size)
{
    if (!id || !*id)
        return NULL;
    if (c->bus.tap_base_port <= 0)
        return topology_tap(c, id, buf, size);
    unsigned port = tap_port(c, id);
    if (!port)
        return NULL;
    if (!host) {
        /* A tap bound on every interface is read on this machine. */
        host = c->bus.tap_bind;
        if (!strcmp(host, "*") || !strcmp(host, "0.0.0.0"))
            host = "127.0.0.1";
        else if (!strcmp(host, "::") || !strcmp(host, "[::]"))
            host = "::1";
    }
    return put_tcp(buf, size, host, port);
}

char *topology_tcp(const struct config *c, char *buf, size_t size)
{
    for (unsigned r = 0; r < ROLE_COUNT; r++)
        for (unsigned i = 0; i < topology_instances(c, r); i++)
            if (topology_input(c, r, i, buf, size) &&
                !strncmp(buf, "tcp://", 6))
                return buf;
    if (topology_query(c, buf, size) && !strncmp(buf, "tcp://", 6))
        return buf;
    if (topology_tap(c, "capture", buf, size) &&
        !strncmp(buf, "tcp://", 6))
        return buf;
    return NULL;
}
