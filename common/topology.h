/* topology.h - the five stages, where each sits and where it listens.
 *
 * One table names every stage once: its place in the pipeline, whether
 * it runs as reassemble.shards processes, the socket it reads from and
 * the options it takes. Code refers to a stage by its role; the supervisor
 * starts its children from the table, a stage finds its input and its
 * tap from it, and a producer finds the stage it sends to.
 *
 * Endpoints: a stage's input is bus.<input> from the config when set,
 * else ipc://<run_dir>/<input> (ipc://<run_dir>/<input>-<shard> for a
 * shard). Taps are ipc://<run_dir>/tap-<id>, or tcp at bus.tap_bind
 * (default loopback) on bus.tap_base_port plus the offset below.
 */
#ifndef HARK_TOPOLOGY_H
#define HARK_TOPOLOGY_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>

/* Tap ports: base + 0..3 for the single stages, + 10 + shard for the
 * reassemblers (10..73), + 80..99 by hash for any other id, so that no
 * shard count can collide with a hashed id. The highest base that keeps
 * every port valid: */
#define TOPOLOGY_TAP_PORT_MAX (65535 - 99)

/* In pipeline order: a role's value is its level. */
enum topology_role {
    ROLE_CAPTURE,
    ROLE_REASSEMBLE,
    ROLE_DISPATCH,
    ROLE_CORRELATE,
    ROLE_LOGGER,
    ROLE_COUNT
};

/* Options a stage takes beyond -c, --run-dir, --id, -v, -q, -h. */
enum stage_opt {
    STAGE_OPT_SHARD = 1u << 0,   /* --shard N */
    STAGE_OPT_READ = 1u << 1,    /* -r/--read FILE */
    STAGE_OPT_DEVICE = 1u << 2,  /* -i/--interface DEV */
    STAGE_OPT_FILTER = 1u << 3,  /* -f/--filter EXPR */
    STAGE_OPT_PROMISC = 1u << 4, /* -p/--promisc */
    STAGE_OPT_DB = 1u << 5,      /* --db DIR */
};

struct topology_stage {
    enum topology_role role;
    const char *name;         /* hark-<name>, its stats' "stage", its id
                                 when it is not sharded */
    int level;                /* 0 capture .. 4 logger: the previous
                                 level feeds it */
    bool sharded;             /* one process per reassemble.shards, each
                                 with --shard i and id <name>-<i> */
    const char *input;        /* ipc name of its input socket and its
                                 bus.* key; NULL: reads no bus */
    unsigned opts;            /* enum stage_opt it takes */
    unsigned tap_offset;      /* from bus.tap_base_port (+ shard) */
};

/* The row of role (which must be below ROLE_COUNT). */
const struct topology_stage *topology_stage(enum topology_role role);

/* How many processes role runs as: reassemble.shards for the sharded
 * stage, else 1. */
unsigned topology_instances(const struct config *c, enum topology_role role);

/* The process id of role's shard ("reassemble-1"; "dispatch", shard
 * ignored, when not sharded) into buf. Returns buf, or NULL when cut. */
char *topology_id(enum topology_role role, unsigned shard, char *buf,
                  size_t size);

/* Where role's process (shard for the sharded one) reads its input, into
 * buf: it binds there, its producers connect there. Returns buf, or NULL
 * for a role without input, a shard past reassemble.shards, or an
 * endpoint that does not fit (buf, or an ipc socket address). */
char *topology_input(const struct config *c, enum topology_role role,
                     unsigned shard, char *buf, size_t size);

/* The logger's query socket (REP; `hark query` connects). NULL when it
 * does not fit. */
char *topology_query(const struct config *c, char *buf, size_t size);

/* The tap of the process id (any id: a stage's, "hark", a custom --id),
 * where it binds. NULL for an empty id or when it does not fit. */
char *topology_tap(const struct config *c, const char *id, char *buf,
                   size_t size);

/* Where a reader connects to that tap: on host (NULL: this machine,
 * bus.tap_bind, or loopback when that is every interface). */
char *topology_tap_reader(const struct config *c, const char *id,
                          const char *host, char *buf, size_t size);

/* The first tcp:// endpoint of the pipeline (an input, the query socket
 * or a tap) into buf, or NULL when every one is ipc:// (or inproc://). */
char *topology_tcp(const struct config *c, char *buf, size_t size);

#endif
