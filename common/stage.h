/* stage.h - what every stage process does the same way.
 *
 * Command line (-c FILE, --run-dir, --id and the stage's own options),
 * config loading with a clear error, logging tag, ZeroMQ context, the tap,
 * signals through a signalfd polled with the sockets, and the stats
 * snapshot written each second to <run_dir>/stats/<id>.json and published
 * on the tap, all on the process's event loop (loop.h). A stage's main()
 * is: stage_init, its own sockets and timers on st->loop (an input:
 * input.h), loop_run(st->loop), and stage_finish() at the end.
 *
 * Started as root, stage_init gives root up for supervisor.run_as
 * (runas.h) once the config is read, before the run directory, the tap
 * or anything from the network is touched. A stage that needs root for
 * one thing (the capture's device, the logger's key) does it in the
 * `privileged` step of stage_init_privileged(), which runs just before.
 */
#ifndef HARK_STAGE_H
#define HARK_STAGE_H

#include "bus.h"
#include "config.h"
#include "loop.h"
#include "runas.h"
#include "stats.h"
#include "topology.h"

#include <stdbool.h>
#include <stdint.h>
#include <zmq.h>

struct stage {
    enum topology_role role;
    const char *name;         /* "reassemble" */
    char id[48];              /* "reassemble-1": unique in the pipeline */
    unsigned shard;
    struct config *cfg;
    void *zmq;
    curve_t *curve;           /* keys for tcp:// sockets (curve.h) */
    struct bus_env bus;       /* the two above, for the bus's sockets */
    loop_t *loop;
    stats_t *stats;
    bus_tap_t *tap;
    int signal_fd;
    char stats_dir[4096];
    bool stop;                /* a stop signal arrived */
    int last_signal;
    void (*on_stop)(struct stage *st, void *ctx);
    void *on_stop_ctx;
    const char *config_path;  /* -c FILE (argv's), or NULL: defaults */
    int (*on_reload)(struct stage *st, struct config *cfg, void *ctx);
    void *on_reload_ctx;
    uint64_t *reloads, *reload_failed;
    uint64_t stats_seq;
    msgpack_sbuffer stats_buf;
    uint64_t started_ns;
    uint64_t *cpu_user_ms, *cpu_sys_ms, *max_rss_kb;
    struct runas user;        /* who the stage runs as */
};

/* Parses the command line (the options of role in topology.h), loads the
 * config, sets up logging, the ZeroMQ context, the tap and the signal fd.
 * `summary` is what the stage does, for --help. Returns 0 to go on.
 * Otherwise the stage is already finished and the return value is the
 * process's exit status plus one: 1 after --help (exit 0), 3 for a bad
 * command line or config (exit 2), 2 for a setup failure (exit 1). */
int stage_init(struct stage *st, enum topology_role role,
               const char *summary, int argc, char **argv);

/* The same, with a step that runs once the config is loaded and before
 * root is given up (st->cfg is set; the loop, tap and stats are not).
 * It returns 0 to go on, else the exit status (2: bad input, 1: a
 * failure) after logging why. */
typedef int (*stage_privileged_fn)(struct stage *st, void *ctx);
int stage_init_privileged(struct stage *st, enum topology_role role,
                          const char *summary, int argc, char **argv,
                          stage_privileged_fn privileged, void *ctx);

/* What a stop signal (SIGINT, SIGTERM) does beyond setting st->stop: by
 * default it stops the loop; an input (input.h) drains first. The last
 * call wins. */
void stage_on_stop(struct stage *st,
                   void (*fn)(struct stage *st, void *ctx), void *ctx);

/* What SIGHUP does: the config file is read again and, when it loads,
 * fn gets it (taken: fn frees it, or keeps it) between two frames; it
 * returns 0, or -errno after logging why it refused it. A file that does
 * not load is refused with its error, and the running config stays.
 * Registers the counters "config_reloads" and "config_reload_failed"
 * (the stats are written at once, so `hark run` sees the reload done).
 * A stage that sets none ignores SIGHUP: its settings need a restart. */
typedef int (*stage_reload_fn)(struct stage *st, struct config *cfg,
                               void *ctx);
void stage_on_reload(struct stage *st, stage_reload_fn fn, void *ctx);

/* Connects this stage's output to the input of `to` (shard 0). NULL,
 * with the reason logged, on failure. */
bus_out_t *stage_output(struct stage *st, enum topology_role to);
/* The same; with `acked`, an acknowledged output (bus_out_new_acked). */
bus_out_t *stage_output_acked(struct stage *st, enum topology_role to,
                              bool acked);

/* This stage's own input endpoint, into buf. NULL (logged) when it does
 * not fit. */
char *stage_input_endpoint(struct stage *st, char *buf, size_t size);

/* Runs the loop; true when it ended cleanly (the reason is logged when
 * not). */
bool stage_run(struct stage *st);

/* Registers counters in the order given, each into *slot; past STATS_MAX
 * a counter points at a sink (and is logged as not reported). */
struct stage_counter {
    const char *name;
    uint64_t **slot;
};
void stage_counters(struct stage *st, const struct stage_counter *c,
                    unsigned n);
#define STAGE_COUNTERS(st, ...)                                          \
    do {                                                                 \
        const struct stage_counter stage_counters_[] = { __VA_ARGS__ };  \
        stage_counters((st), stage_counters_,                            \
                       sizeof(stage_counters_) / sizeof(stage_counters_[0])); \
    } while (0)

/* Final stats snapshot (marked final), tap and context closed, config
 * freed. `ok` says whether the stage ends cleanly (logged). */
void stage_finish(struct stage *st, bool ok);

#endif
