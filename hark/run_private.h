/* run_private.h - the supervisor's state, shared by run.c and
 * run_summary.c only.
 */
#ifndef HARK_RUN_PRIVATE_H
#define HARK_RUN_PRIVATE_H

#include "clock.h"
#include "config.h"
#include "downtime.h"
#include "metrics_http.h"
#include "outage.h"
#include "reload.h"
#include "roles.h"
#include "run_summary.h"
#include "runas.h"
#include "topology.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define MAX_CHILDREN (CONFIG_MAX_SHARDS + ROLE_COUNT - 1)
#define RESTART_WINDOW_NS (60 * NS_PER_SEC)
#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 5000
#define STABLE_NS (30 * NS_PER_SEC) /* a run this long resets the backoff */
#define MAX_ARGS 32
#define EXIT_LOST 3                 /* complete, but something was lost */

enum child_state {
    CHILD_RUNNING,
    CHILD_BACKOFF,  /* died; restarts at restart_at */
    CHILD_DONE,     /* exited 0 */
    CHILD_DEAD,     /* died and was not restarted (draining) */
    CHILD_FAILED,   /* bad input, or gave up restarting */
};

struct child {
    const struct topology_stage *ts; /* its row: name, level, options */
    char id[48];
    int shard;                    /* -1 when not sharded */
    pid_t pid;
    enum child_state state;
    uint64_t started_ns;
    uint64_t spawned_wall_ns;     /* wall clock of the last start */
    uint64_t restart_at;
    unsigned backoff_ms;
    /* ring of recent restarts: room for every one max_restarts allows */
    uint64_t restart_times[CONFIG_MAX_RESTARTS];
    unsigned n_restart_times;
    unsigned restarts;
    bool term_sent;
    uint64_t input_done_ns;       /* when its producers all finished */
    uint64_t term_sent_ns;
};

struct options {
    const char *config_path;
    const char *read;
    const char *device;
    const char *filter;
    const char *db;
    const char *run_dir;
    bool promisc;
    int verbosity;                /* -1 quiet, 0 normal, 1 verbose */
    struct roles only;            /* --only: the stages run here */
};

struct supervisor {
    struct options opt;
    struct config *cfg;
    char bindir[PATH_MAX];
    char run_dir[PATH_MAX];
    int run_fd;                   /* the run directory, checked */
    struct runas user;            /* who the stages run as */
    int sigfd;
    bool offline;
    bool shutting_down;
    bool failed;
    bool input_error;
    unsigned n;
    struct child children[MAX_CHILDREN];
    uint64_t started_ns;
    outages_t *outages;
    downtime_t *downtime;         /* counting while a live capture is down */
    bool runs_logger;             /* ends the logger's input (eof) */
    char producer[64];            /* its id on the logger's input */
    reload_t *reload;
    metrics_server_t *metrics;    /* supervisor.metrics, or NULL */
    struct run_summary banked;    /* every incarnation's counters */
};

const char *run_state_name(enum child_state s);

#endif
