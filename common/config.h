/* config.h - the one YAML file that configures every stage.
 *
 * Every stage loads the same file (`-c FILE`), so a pipeline spread over
 * machines agrees on shards, endpoints, routes and policies. A bad file
 * is refused as a whole with an error naming the file, the line and the
 * dotted key ("hark.yaml:12: capture.snaplen: ..."); unknown keys are
 * errors, so a typo never silently falls back to a default.
 *
 * The config owns every string and array in it; config_destroy() frees
 * them. Nothing in it changes after config_load() returns. topology.h
 * turns bus.* into each stage's endpoints.
 */
#ifndef HARK_CONFIG_H
#define HARK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_SHARDS 64
#define CONFIG_MAX_RESTARTS 1000  /* supervisor.max_restarts */

enum step_kind { STEP_LOG, STEP_WAIT };
enum step_message { STEP_MSG_REQUEST, STEP_MSG_RESPONSE };
/* What must arrive within a wait's timeout: the response's first byte
 * (then the rest within max_response) or, as before, its last byte. */
enum wait_until { WAIT_UNTIL_FIRST_BYTE, WAIT_UNTIL_LAST_BYTE };

/* One filter of a policy's chain. */
struct config_step {
    enum step_kind kind;
    char *label;              /* shown in the trail; default from kind */
    /* STEP_LOG: "Log Message" (request) / "Log Message Payload" (response) */
    enum step_message message;
    bool headers;             /* keep headers (default true) */
    uint64_t body_max;        /* body bytes kept (default 65536; 0 none) */
    char **redact;            /* header names whose values are replaced */
    unsigned n_redact;        /* default: Authorization, Proxy-Authorization,
                                 Cookie, Set-Cookie */
    /* STEP_WAIT: "Wait for Response Packets" */
    uint64_t timeout_ns;      /* default 30s */
    int until;                /* enum wait_until, default first_byte */
    uint64_t max_response_ns; /* first_byte: the whole response's ceiling,
                                 from the request's last byte; default
                                 10m, at least timeout_ns */
};

struct config_policy {
    char *name;
    struct config_step *steps;
    unsigned n_steps;
    int wait_step;            /* index of the wait step, -1 when none */
};

/* A relative path of a service group. */
struct config_route {
    char *path;               /* prefix of the request path, "/" or "/a" */
    char *host;               /* optional Host match (case-insensitive),
                                 NULL for any */
    char **methods;           /* optional; NULL/0 for any */
    unsigned n_methods;
    char *policy;             /* policy name */
    int policy_index;         /* into config.policies */
};

struct config_group {
    char *name;
    struct config_route *routes;
    unsigned n_routes;
};

struct config_capture {
    char *device;             /* default "any" */
    char *filter;             /* default "tcp" */
    bool promiscuous;         /* default false */
    int snaplen;              /* default 262144 */
    int buffer_mb;            /* kernel buffer, default 32 */
    char *read;               /* capture file instead of a device, or NULL */
    uint32_t batch_packets;   /* packets per frame, default 256 */
    uint32_t batch_bytes;     /* bytes per frame, default 256 KiB */
    uint64_t flush_ns;        /* live: longest a packet waits, 20ms */
};

struct config_reassemble {
    unsigned shards;          /* reassembler processes, default 2 */
    uint32_t max_flows;       /* per shard, default 262144 */
    uint64_t max_buffered;    /* out-of-order bytes per direction, 1 MiB */
    uint64_t memcap;          /* all reassembly memory per shard, 256 MiB */
    uint32_t max_header_bytes; /* request/status line + headers, 64 KiB */
    uint32_t max_headers;     /* header lines kept, 128 */
    uint64_t body_max;        /* body bytes carried on the bus, 1 MiB */
    uint64_t idle_timeout_ns; /* flow idle expiry (packet time), 120s */
    uint64_t reorder_ns;      /* an acknowledged hole waits this long for
                                 its bytes (packet time), 50ms */
    int overlap;              /* enum stream_policy: linux (default),
                                 first, last, bsd, windows */
    int checksums;            /* enum checksum_mode: auto (default),
                                 verify, off */
};

struct config_correlate {
    uint32_t max_pending;     /* waits held at once, default 262144 */
};

struct config_logger {
    char *db;                 /* LevelDB directory, default "hark.db" */
    uint32_t batch;           /* records per write batch, default 512 */
    bool sync;                /* fsync each batch, default false (the
                                 last batch of a run is always synced) */
    char *sign_key;           /* Ed25519 secret key file (hark keygen's
                                 PREFIX.sign), or NULL: unsigned */
    uint32_t checkpoint_records; /* a checkpoint at least every this many
                                    records, default 10000 */
    uint64_t checkpoint_interval_ns; /* ... or this often, default 10s */
    uint64_t disk_full_wait_ns; /* how long a trail that cannot be
                                   written holds the pipeline back before
                                   records are counted lost, 10s */
};

/* A machine of the pipeline for CurveZMQ (curve.h): the host its
 * endpoints name and its public key. */
struct config_peer {
    char *host;               /* as written in tcp:// endpoints */
    char *key;                /* a .curve.pub file, or "curve <Z85>" */
};

#define CONFIG_MAX_PEERS 64

struct config_bus {
    char *run_dir;            /* ipc endpoints, stats; default /run/hark
                                 (root), $XDG_RUNTIME_DIR/hark, else
                                 /tmp/hark-<uid> */
    bool run_dir_private;     /* that last default: `hark run` makes a
                                 private directory (mkdtemp) instead */
    /* Explicit endpoints for stages on other machines; NULL means
     * ipc://<run_dir>/<name>. reassemble has one per shard. */
    char *reassemble[CONFIG_MAX_SHARDS];
    char *dispatch;
    char *correlate;
    char *logger;
    char *query;              /* logger's query socket */
    int tap_base_port;        /* taps on tcp port <port+k> when > 0,
                                 else ipc://<run_dir>/tap-<id> */
    char *tap_bind;           /* address tcp taps bind, default
                                 127.0.0.1 */
    /* CurveZMQ for tcp:// links, taps and queries (curve.h) */
    char *curve_key;          /* this machine's secret key file */
    struct config_peer *peers; /* who may connect, and whose key a
                                  connection to its host expects */
    unsigned n_peers;
    bool insecure;            /* tcp:// without keys: allowed, warned */
};

struct config_supervisor {
    char *run_as;             /* the stages' user when started as root;
                                 NULL: hark, else nobody (runas.h) */
    unsigned max_restarts;    /* per stage per minute, default 5 */
    uint64_t drain_timeout_ns; /* per stage on shutdown, default 30s */
    char *metrics;            /* HOST:PORT `hark run` serves /metrics on
                                 (Prometheus), or NULL: none */
};

struct config {
    char *source;             /* file it came from, or "(defaults)" */
    struct config_capture capture;
    struct config_reassemble reassemble;
    struct config_group *groups;
    unsigned n_groups;
    struct config_policy *policies;
    unsigned n_policies;
    struct config_correlate correlate;
    struct config_logger logger;
    struct config_bus bus;
    struct config_supervisor supervisor;
};

/* Built-in defaults: one group "Packet Sniffer Group" routing "/" to the
 * policy "audit" (log request, wait 30s, log response). NULL on ENOMEM. */
struct config *config_default(void);

/* Loads path over the defaults. Returns 0 and *out, or -errno with a
 * one-line message in err ("FILE:LINE: KEY: what is wrong"). */
int config_load(const char *path, struct config **out, char *err,
                size_t errlen);

/* Same, from a string (name is used in messages); for tests. */
int config_load_string(const char *text, const char *name,
                       struct config **out, char *err, size_t errlen);

void config_destroy(struct config **c);

const struct config_policy *config_policy_find(const struct config *c,
                                               const char *name);

/* Replaces a string field (old value freed, new one copied). 0 or -ENOMEM.
 * For command-line overrides. */
int config_set_string(char **field, const char *value);

#endif
