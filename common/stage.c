/* stage.c - shared process scaffolding for the five stages. */
#include "stage.h"
#include "clock.h"
#include "fsutil.h"
#include "log.h"
#include "rundir.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define NO_FIELD SIZE_MAX

/* A stage's own options: which stages take one is topology.h's. `field`
 * is the config setting a value overrides (a string; a flag sets a bool). */
static const struct stage_option {
    struct option getopt;
    unsigned opt;             /* enum stage_opt */
    const char *help;
    size_t field;             /* offsetof(struct config, ...) */
} stage_options[] = {
    { { "shard", required_argument, NULL, 'S' }, STAGE_OPT_SHARD,
      "      --shard N         which shard of the flow hash this process "
      "takes (0-based)\n", NO_FIELD },
    { { "read", required_argument, NULL, 'r' }, STAGE_OPT_READ,
      "  -r, --read FILE       read a pcap/pcapng file instead of an "
      "interface\n", offsetof(struct config, capture.read) },
    { { "interface", required_argument, NULL, 'i' }, STAGE_OPT_DEVICE,
      "  -i, --interface DEV   interface to sniff (default: any)\n",
      offsetof(struct config, capture.device) },
    { { "filter", required_argument, NULL, 'f' }, STAGE_OPT_FILTER,
      "  -f, --filter EXPR     libpcap filter (default: tcp)\n",
      offsetof(struct config, capture.filter) },
    { { "promisc", no_argument, NULL, 'p' }, STAGE_OPT_PROMISC,
      "  -p, --promisc         promiscuous mode\n",
      offsetof(struct config, capture.promiscuous) },
    { { "db", required_argument, NULL, 'D' }, STAGE_OPT_DB,
      "      --db DIR          LevelDB audit trail (default: logger.db)\n",
      offsetof(struct config, logger.db) },
};
#define N_OPTIONS (sizeof(stage_options) / sizeof(stage_options[0]))

/* What the command line asked for, applied once the config is loaded. */
struct stage_args {
    const char *config_path, *run_dir, *id;
    const char *value[N_OPTIONS]; /* by stage_options index; "" for a flag */
    bool have_shard;
    int verbosity;
};

static int on_signal(loop_t *l, void *ctx);
static int on_stats_timer(loop_t *l, void *ctx);

static void print_help(const struct stage *st, const char *summary)
{
    unsigned opts = topology_stage(st->role)->opts;
    printf("usage: hark-%s [options]\n\n%s\n\noptions:\n", st->name,
           summary);
    printf("  -c, --config FILE     configuration (default: built-in, "
           "see hark.yaml)\n");
    printf("      --run-dir DIR     ipc endpoints and stats live here "
           "(default: bus.run_dir)\n");
    printf("      --id ID           this process's id on the bus "
           "(default: the stage name)\n");
    for (unsigned i = 0; i < N_OPTIONS; i++)
        if (opts & stage_options[i].opt)
            fputs(stage_options[i].help, stdout);
    printf("  -v, --verbose         more diagnostics (repeat for debug)\n");
    printf("  -q, --quiet           errors only\n");
    printf("  -h, --help            this help\n");
}

/* getopt's table: the common options around every stage's own ones. */
static void build_longopts(struct option *o)
{
    static const struct option head[] = {
        { "config", required_argument, NULL, 'c' },
        { "run-dir", required_argument, NULL, 'R' },
        { "id", required_argument, NULL, 'I' },
    };
    static const struct option tail[] = {
        { "verbose", no_argument, NULL, 'v' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    memcpy(o, head, sizeof(head));
    o += sizeof(head) / sizeof(head[0]);
    for (unsigned i = 0; i < N_OPTIONS; i++)
        *o++ = stage_options[i].getopt;
    memcpy(o, tail, sizeof(tail));
}

static int parse_shard(struct stage *st, const char *arg)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(arg, &end, 10);
    if (errno || *end || end == arg || v >= CONFIG_MAX_SHARDS) {
        fprintf(stderr, "hark-%s: --shard: expected a number below %d, "
                        "got '%s'\n", st->name, CONFIG_MAX_SHARDS, arg);
        return -1;
    }
    st->shard = (unsigned)v;
    return 0;
}

/* One of the stage options (getopt's answer c). 0, or 2 after saying
 * why the command line is wrong. */
static int take_option(struct stage *st, struct stage_args *a, int c,
                       const char *arg)
{
    unsigned i = 0;
    while (i < N_OPTIONS && stage_options[i].getopt.val != c)
        i++;
    if (i == N_OPTIONS) {
        fprintf(stderr, "hark-%s: try --help\n", st->name);
        return 2;
    }
    const struct stage_option *o = &stage_options[i];
    if (o->opt == STAGE_OPT_SHARD) {
        if (parse_shard(st, arg) < 0)
            return 2;
        a->have_shard = true;
    }
    a->value[i] = o->getopt.has_arg == no_argument ? "" : arg;
    if (!(topology_stage(st->role)->opts & o->opt)) {
        fprintf(stderr, "hark-%s: option -%c does not apply to this "
                        "stage (try --help)\n", st->name, c);
        return 2;
    }
    return 0;
}

/* 0; -1 after --help; 2 after saying why the command line is wrong. */
static int parse_args(struct stage *st, const char *summary,
                      struct stage_args *a, int argc, char **argv)
{
    struct option longopts[3 + N_OPTIONS + 4];
    build_longopts(longopts);
    memset(a, 0, sizeof(*a));
    a->verbosity = LOG_INFO;
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:r:i:f:pvqh", longopts, NULL)) !=
           -1) {
        switch (c) {
        case 'c': a->config_path = optarg; break;
        case 'R': a->run_dir = optarg; break;
        case 'I': a->id = optarg; break;
        case 'v': a->verbosity = LOG_DEBUG; break;
        case 'q': a->verbosity = LOG_ERROR; break;
        case 'h': print_help(st, summary); return -1;
        default:
            if ((rc = take_option(st, a, c, optarg)) != 0)
                return rc;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hark-%s: unexpected argument '%s' (try --help)\n",
                st->name, argv[optind]);
        return 2;
    }
    return 0;
}

/* The config file (or the defaults) with the command line over it. 0; 2
 * for a bad file or shard; 1 when out of memory. */
static int load_config(struct stage *st, const struct stage_args *a)
{
    char err[512];
    if (a->config_path) {
        if (config_load(a->config_path, &st->cfg, err, sizeof(err)) < 0) {
            fprintf(stderr, "hark-%s: %s\n", st->name, err);
            return 2;
        }
    } else if (!(st->cfg = config_default())) {
        fprintf(stderr, "hark-%s: out of memory\n", st->name);
        return 1;
    }
    struct config *cfg = st->cfg;
    bool nomem = a->run_dir && config_set_string(&cfg->bus.run_dir,
                                                 a->run_dir);
    for (unsigned i = 0; i < N_OPTIONS && !nomem; i++) {
        const struct stage_option *o = &stage_options[i];
        void *field = (char *)cfg + o->field;
        if (!a->value[i] || o->field == NO_FIELD)
            continue;
        if (o->getopt.has_arg == no_argument)
            *(bool *)field = true;
        else
            nomem = config_set_string(field, a->value[i]) < 0;
    }
    if (nomem) {
        fprintf(stderr, "hark-%s: out of memory\n", st->name);
        return 1;
    }
    if (a->have_shard && st->shard >= cfg->reassemble.shards) {
        fprintf(stderr, "hark-%s: --shard %u, but the config has %u "
                        "shard(s) (reassemble.shards)\n",
                st->name, st->shard, cfg->reassemble.shards);
        return 2;
    }
    return 0;
}

static int setup_signals(struct stage *st)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        return -errno;
    st->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (st->signal_fd < 0)
        return -errno;
    /* A vanished reader of our stderr must not kill us. */
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/* The ZeroMQ context and the keys for tcp:// sockets (read before root
 * is given up: the secret key file is its owner's alone; their ZAP
 * handler starts after, see setup()). 0; 2 when the config asks for
 * tcp:// without keys or names a key that cannot be read; 1 when out of
 * memory. */
static int setup_bus(struct stage *st)
{
    char err[512], tcp[4200];
    st->zmq = zmq_ctx_new();
    if (!st->zmq) {
        log_error("out of memory");
        return 1;
    }
    st->curve = curve_new(st->zmq, st->cfg, 0, err, sizeof(err));
    if (!st->curve) {
        log_error("%s", err);
        return 2;
    }
    if (topology_tcp(st->cfg, tcp, sizeof(tcp)) &&
        curve_allows(st->curve, tcp, err, sizeof(err)) < 0) {
        log_error("%s", err);
        return 2;
    }
    st->bus = (struct bus_env){ st->zmq, st->curve };
    return 0;
}

/* Checks the run directory (making it the stage user's when we are
 * root: a stage started alone finds none yet), runs `privileged`, then
 * gives root up for good. 0, or the exit status. */
static int drop_root(struct stage *st, stage_privileged_fn privileged,
                     void *ctx)
{
    char err[512];
    if (runas_resolve(st->cfg->supervisor.run_as, &st->user, err,
                      sizeof(err)) < 0) {
        log_error("%s", err);
        return 2;
    }
    int fd = rundir_prepare(st->cfg->bus.run_dir, &st->user, err,
                            sizeof(err));
    if (fd < 0) {
        log_error("run directory: %s", err);
        return 1;
    }
    close(fd);
    int rc = privileged ? privileged(st, ctx) : 0;
    if (rc != 0)
        return rc;
    if (runas_become(&st->user, err, sizeof(err)) < 0) {
        log_error("%s", err);
        return 1;
    }
    if (st->user.switching)
        log_debug("running as %s (uid %u)", st->user.name,
                  (unsigned)st->user.uid);
    return 0;
}

/* 0, -1 after --help, 2 for bad input, 1 for a setup failure. */
static int setup(struct stage *st, enum topology_role role,
                 const char *summary, int argc, char **argv,
                 stage_privileged_fn privileged, void *ctx)
{
    memset(st, 0, sizeof(*st));
    st->role = role;
    st->name = topology_stage(role)->name;
    st->signal_fd = -1;
    st->started_ns = clock_mono_ns();
    msgpack_sbuffer_init(&st->stats_buf);
    snprintf(st->id, sizeof(st->id), "%s", st->name);
    log_init(st->id, LOG_INFO);

    struct stage_args a;
    int rc = parse_args(st, summary, &a, argc, argv);
    if (rc != 0)
        return rc;
    st->config_path = a.config_path;
    if (a.id)
        snprintf(st->id, sizeof(st->id), "%s", a.id);
    else if (a.have_shard)
        topology_id(role, st->shard, st->id, sizeof(st->id));
    log_init(st->id, (enum log_level)a.verbosity);
    if ((rc = load_config(st, &a)) != 0)
        return rc;
    if ((rc = setup_bus(st)) != 0 ||
        (rc = drop_root(st, privileged, ctx)) != 0)
        return rc;
    struct config *cfg = st->cfg;

    snprintf(st->stats_dir, sizeof(st->stats_dir), "%s/stats",
             cfg->bus.run_dir);
    rc = fs_mkdir_p(st->stats_dir);
    if (rc < 0) {
        log_error("cannot create %s: %s", st->stats_dir, strerror(-rc));
        return 1;
    }
    st->stats = stats_new(st->name, st->id);
    if (!st->stats) {
        log_error("out of memory");
        return 1;
    }
    st->cpu_user_ms = stats_add(st->stats, "cpu_user_ms");
    st->cpu_sys_ms = stats_add(st->stats, "cpu_sys_ms");
    st->max_rss_kb = stats_add(st->stats, "max_rss_kb");
    stats_attach(st->stats, "curve_refused", curve_refused(st->curve));
    char err[512];
    if (curve_serve(st->curve, st->zmq, err, sizeof(err)) < 0) {
        log_error("%s", err);
        return 1;
    }
    char tap[4200];
    if (!topology_tap(cfg, st->id, tap, sizeof(tap))) {
        log_error("tap endpoint for %s does not fit", st->id);
        return 1;
    }
    st->tap = bus_tap_new(st->bus, tap, st->stats);
    if (!st->tap) {
        log_error("cannot bind tap %s: %s", tap, zmq_strerror(errno));
        return 1;
    }
    rc = setup_signals(st);
    if (rc < 0) {
        log_error("signals: %s", strerror(-rc));
        return 1;
    }
    st->loop = loop_new();
    if (!st->loop ||
        loop_add_fd(st->loop, st->signal_fd, on_signal, st) < 0 ||
        loop_add_timer(st->loop, 1000, on_stats_timer, st) < 0) {
        log_error("out of memory");
        return 1;
    }
    return 0;
}

int stage_init_privileged(struct stage *st, enum topology_role role,
                          const char *summary, int argc, char **argv,
                          stage_privileged_fn privileged, void *ctx)
{
    int rc = setup(st, role, summary, argc, argv, privileged, ctx);
    if (rc == 0)
        return 0;
    stage_finish(st, false);
    return rc < 0 ? 1 : rc + 1;
}

int stage_init(struct stage *st, enum topology_role role,
               const char *summary, int argc, char **argv)
{
    return stage_init_privileged(st, role, summary, argc, argv, NULL, NULL);
}

bus_out_t *stage_output(struct stage *st, enum topology_role to)
{
    return stage_output_acked(st, to, false);
}

bus_out_t *stage_output_acked(struct stage *st, enum topology_role to,
                              bool acked)
{
    char ep[4200];
    if (!topology_input(st->cfg, to, 0, ep, sizeof(ep))) {
        log_error("the %s endpoint does not fit: shorten bus.run_dir",
                  topology_stage(to)->name);
        return NULL;
    }
    bus_out_t *out = acked ? bus_out_new_acked(st->bus, ep, st->id,
                                               st->tap, st->stats,
                                               BUS_PIPE_HWM)
                           : bus_out_new(st->bus, ep, st->id, st->tap);
    if (!out)
        log_error("cannot connect %s: %s", ep, zmq_strerror(errno));
    return out;
}

char *stage_input_endpoint(struct stage *st, char *buf, size_t size)
{
    if (topology_input(st->cfg, st->role, st->shard, buf, size))
        return buf;
    log_error("the input endpoint does not fit: shorten bus.run_dir");
    return NULL;
}

bool stage_run(struct stage *st)
{
    int rc = loop_run(st->loop);
    if (rc < 0)
        log_error("stopped: %s", zmq_strerror(-rc));
    return rc == 0;
}

void stage_counters(struct stage *st, const struct stage_counter *c,
                    unsigned n)
{
    static uint64_t sink;
    for (unsigned i = 0; i < n; i++) {
        *c[i].slot = stats_add(st->stats, c[i].name);
        if (!*c[i].slot) {
            log_warn("too many counters: %s not reported", c[i].name);
            *c[i].slot = &sink;
        }
    }
}

void stage_on_stop(struct stage *st,
                   void (*fn)(struct stage *st, void *ctx), void *ctx)
{
    st->on_stop = fn;
    st->on_stop_ctx = ctx;
}

void stage_on_reload(struct stage *st, stage_reload_fn fn, void *ctx)
{
    st->on_reload = fn;
    st->on_reload_ctx = ctx;
    if (!st->reloads)
        STAGE_COUNTERS(st, { "config_reloads", &st->reloads },
                       { "config_reload_failed", &st->reload_failed });
}

static void publish_stats(struct stage *st, bool final);

/* SIGHUP: the config file again, for the stage's reload function. Frames
 * are handled whole between two turns of the loop, so nothing in flight
 * sees half of each config. */
static void reload(struct stage *st)
{
    char err[512];
    struct config *cfg = NULL;
    if (!st->on_reload) {
        log_debug("SIGHUP: nothing to reload here (its settings take "
                  "effect at a restart)");
        return;
    }
    if (!st->config_path) {
        log_warn("SIGHUP: started without -c FILE: nothing to reload");
        return;
    }
    if (config_load(st->config_path, &cfg, err, sizeof(err)) < 0) {
        log_error("reload refused, the running config stays: %s", err);
        (*st->reload_failed)++;
    } else if (st->on_reload(st, cfg, st->on_reload_ctx) < 0) {
        (*st->reload_failed)++;
    } else {
        (*st->reloads)++;
        log_info("reloaded %s", st->config_path);
    }
    publish_stats(st, false);
}

static int on_signal(loop_t *l, void *ctx)
{
    struct stage *st = ctx;
    struct signalfd_siginfo si;
    while (read(st->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
            if (!st->stop)
                reload(st);
            continue;
        }
        st->last_signal = (int)si.ssi_signo;
        if (st->stop) {
            log_info("signal %d again: still draining", st->last_signal);
            continue;
        }
        log_info("signal %d: draining", st->last_signal);
        st->stop = true;
        if (st->on_stop)
            st->on_stop(st, st->on_stop_ctx);
        else
            loop_stop(l, 0);
    }
    return 0;
}

/* CPU time and peak memory, so `hark stats` and the bench show which
 * stage is the bottleneck. */
static void sample_usage(struct stage *st)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return;
    *st->cpu_user_ms = (uint64_t)ru.ru_utime.tv_sec * 1000 +
                       (uint64_t)ru.ru_utime.tv_usec / 1000;
    *st->cpu_sys_ms = (uint64_t)ru.ru_stime.tv_sec * 1000 +
                      (uint64_t)ru.ru_stime.tv_usec / 1000;
    *st->max_rss_kb = (uint64_t)ru.ru_maxrss;
}

static void publish_stats(struct stage *st, bool final)
{
    sample_usage(st);
    int rc = stats_write_file(st->stats, st->stats_dir, final);
    if (rc < 0) {
        static struct log_limit lim;
        log_limited(&lim, LOG_WARN, "stats file: %s", strerror(-rc));
    }
    if (frame_encode_stats(&st->stats_buf, st->id, st->stats_seq++,
                           st->stats) == 0)
        bus_tap_publish(st->tap, FRAME_STATS, st->stats_buf.data,
                        st->stats_buf.size);
}

static int on_stats_timer(loop_t *l, void *ctx)
{
    publish_stats(ctx, false);
    return 1000;
}

void stage_finish(struct stage *st, bool ok)
{
    if (st->stats) {
        publish_stats(st, true);
        log_debug("%s after %.1fs", ok ? "done" : "failed",
                  (double)(clock_mono_ns() - st->started_ns) / 1e9);
    }
    bus_tap_destroy(&st->tap);
    if (st->zmq) {
        zmq_ctx_term(st->zmq);
        st->zmq = NULL;
    }
    curve_destroy(&st->curve); /* after the context: ends its handler */
    stats_destroy(&st->stats);
    loop_destroy(&st->loop);
    config_destroy(&st->cfg);
    msgpack_sbuffer_destroy(&st->stats_buf);
    msgpack_sbuffer_init(&st->stats_buf); /* a second call is harmless */
    if (st->signal_fd >= 0)
        close(st->signal_fd);
    st->signal_fd = -1;
}
