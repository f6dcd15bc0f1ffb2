/* roles.c - which stages `hark run --only` supervises on this machine. */
#include "roles.h"
#include "errbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int role_named(const char *name, size_t n)
{
    for (unsigned r = 0; r < ROLE_COUNT; r++) {
        const char *known = topology_stage(r)->name;
        if (strlen(known) == n && !strncmp(known, name, n))
            return (int)r;
    }
    return -1;
}

/* A shard number: digits only, below CONFIG_MAX_SHARDS. */
static int shard_of(const char *s, size_t n)
{
    if (!n || n > 2 || strspn(s, "0123456789") < n || (n == 2 && s[0] == '0'))
        return -1;
    int v = n == 1 ? s[0] - '0' : (s[0] - '0') * 10 + (s[1] - '0');
    return v < CONFIG_MAX_SHARDS ? v : -1;
}

/* The shard of a process id "reassemble-<N>", or -1. */
static int shard_id(const char *s, size_t n)
{
    const char *name = topology_stage(ROLE_REASSEMBLE)->name;
    size_t len = strlen(name);
    if (n <= len + 1 || strncmp(s, name, len) || s[len] != '-')
        return -1;
    return shard_of(s + len + 1, n - len - 1);
}

int roles_parse(struct roles *r, const char *text, char *err,
                size_t errlen)
{
    bool in_list = false; /* the last item opened a shard list */
    const char *p = text;
    r->some = true;
    for (;;) {
        size_t n = strcspn(p, ",");
        const char *colon = memchr(p, ':', n);
        int shard = shard_of(p, n);
        if (shard >= 0 && in_list) {
            r->shards |= 1ull << shard;
        } else if (!colon && (shard = shard_id(p, n)) >= 0) {
            /* a shard by its process id: reassemble-1 */
            r->mask |= 1u << ROLE_REASSEMBLE;
            r->shards |= 1ull << shard;
            in_list = false;
        } else {
            int role = role_named(p, colon ? (size_t)(colon - p) : n);
            if (role < 0) {
                errbuf_set(err, errlen, "--only: '%.*s' is not a stage "
                           "(capture, reassemble[:SHARD,...], dispatch, "
                           "correlate, logger)", (int)n, p);
                return -EINVAL;
            }
            in_list = colon != NULL;
            if (colon && !topology_stage(role)->sharded) {
                errbuf_set(err, errlen, "--only: %s has no shards",
                           topology_stage(role)->name);
                return -EINVAL;
            }
            if (colon) {
                const char *d = colon + 1;
                shard = shard_of(d, n - (size_t)(d - p));
                if (shard < 0) {
                    errbuf_set(err, errlen, "--only: '%.*s': expected a "
                               "shard number below %d", (int)n, p,
                               CONFIG_MAX_SHARDS);
                    return -EINVAL;
                }
                r->shards |= 1ull << shard;
            } else if (topology_stage(role)->sharded) {
                r->every_shard = true;
            }
            r->mask |= 1u << role;
        }
        if (!p[n])
            return 0;
        p += n + 1;
    }
}

int roles_check(const struct roles *r, const struct config *cfg, char *err,
                size_t errlen)
{
    unsigned shards = cfg->reassemble.shards;
    for (unsigned i = shards; i < CONFIG_MAX_SHARDS; i++)
        if (r->shards & (1ull << i)) {
            errbuf_set(err, errlen, "--only: reassemble:%u, but the config "
                       "has %u shard(s) (reassemble.shards)", i, shards);
            return -EINVAL;
        }
    return 0;
}

bool roles_has(const struct roles *r, enum topology_role role,
               unsigned shard)
{
    if (!r->some)
        return true;
    if (!(r->mask & (1u << role)))
        return false;
    if (!topology_stage(role)->sharded || r->every_shard)
        return true;
    return shard < CONFIG_MAX_SHARDS && (r->shards & (1ull << shard));
}

bool roles_all_of(const struct roles *r, const struct config *cfg,
                  enum topology_role role)
{
    for (unsigned i = 0; i < topology_instances(cfg, role); i++)
        if (!roles_has(r, role, i))
            return false;
    return true;
}

char *roles_describe(const struct roles *r, const struct config *cfg,
                     char *buf, size_t size)
{
    size_t len = 0;
    int n = 0;
    buf[0] = '\0';
    if (!r->some)
        return snprintf(buf, size, "all") < (int)size ? buf : NULL;
    for (unsigned role = 0; role < ROLE_COUNT; role++) {
        if (!(r->mask & (1u << role)))
            continue;
        const char *name = topology_stage(role)->name;
        n = snprintf(buf + len, size - len, "%s%s", len ? "," : "", name);
        if (n < 0 || (size_t)n >= size - len)
            return NULL;
        len += (size_t)n;
        if (!topology_stage(role)->sharded || r->every_shard)
            continue;
        char sep = ':';
        for (unsigned i = 0; i < cfg->reassemble.shards; i++) {
            if (!roles_has(r, role, i))
                continue;
            n = snprintf(buf + len, size - len, "%c%u", sep, i);
            if (n < 0 || (size_t)n >= size - len)
                return NULL;
            len += (size_t)n;
            sep = ',';
        }
    }
    return buf;
}
