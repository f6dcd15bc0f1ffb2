/* stage.c - shared process scaffolding for the five stages. */
#include "stage.h"
#include "clock.h"
#include "fsutil.h"
#include "log.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

static int on_signal(loop_t *l, void *ctx);
static int on_stats_timer(loop_t *l, void *ctx);

static void print_help(const char *name, unsigned opts, const char *summary)
{
    printf("usage: hark-%s [options]\n\n%s\n\noptions:\n", name, summary);
    printf("  -c, --config FILE     configuration (default: built-in, "
           "see hark.yaml)\n");
    printf("      --run-dir DIR     ipc endpoints and stats live here "
           "(default: bus.run_dir)\n");
    printf("      --id ID           this process's id on the bus "
           "(default: the stage name)\n");
    if (opts & STAGE_OPT_SHARD)
        printf("      --shard N         which shard of the flow hash this "
               "process takes (0-based)\n");
    if (opts & STAGE_OPT_READ)
        printf("  -r, --read FILE       read a pcap/pcapng file instead of "
               "an interface\n");
    if (opts & STAGE_OPT_DEVICE)
        printf("  -i, --interface DEV   interface to sniff (default: any)\n");
    if (opts & STAGE_OPT_FILTER)
        printf("  -f, --filter EXPR     libpcap filter (default: tcp)\n");
    if (opts & STAGE_OPT_PROMISC)
        printf("  -p, --promisc         promiscuous mode\n");
    if (opts & STAGE_OPT_DB)
        printf("      --db DIR          LevelDB audit trail (default: "
               "logger.db)\n");
    printf("  -v, --verbose         more diagnostics (repeat for debug)\n");
    printf("  -q, --quiet           errors only\n");
    printf("  -h, --help            this help\n");
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

int stage_init(struct stage *st, const char *name, unsigned opts,
               const char *summary, int argc, char **argv)
{
    memset(st, 0, sizeof(*st));
    st->name = name;
    st->signal_fd = -1;
    st->started_ns = clock_mono_ns();
    msgpack_sbuffer_init(&st->stats_buf);
    snprintf(st->id, sizeof(st->id), "%s", name);
    log_init(st->id, LOG_INFO);

    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "run-dir", required_argument, NULL, 'R' },
        { "id", required_argument, NULL, 'I' },
        { "shard", required_argument, NULL, 'S' },
        { "read", required_argument, NULL, 'r' },
        { "interface", required_argument, NULL, 'i' },
        { "filter", required_argument, NULL, 'f' },
        { "promisc", no_argument, NULL, 'p' },
        { "db", required_argument, NULL, 'D' },
        { "verbose", no_argument, NULL, 'v' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config_path = NULL, *run_dir = NULL, *id = NULL;
    const char *read = NULL, *device = NULL, *filter = NULL, *db = NULL;
    bool promisc = false, have_shard = false;
    int verbosity = LOG_INFO;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:r:i:f:pvqh", longopts, NULL)) !=
           -1) {
        unsigned need = 0;
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'R': run_dir = optarg; break;
        case 'I': id = optarg; break;
        case 'S': {
            need = STAGE_OPT_SHARD;
            char *end;
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (errno || *end || end == optarg || v >= CONFIG_MAX_SHARDS) {
                fprintf(stderr, "hark-%s: --shard: expected a number "
                                "below %d, got '%s'\n",
                        name, CONFIG_MAX_SHARDS, optarg);
                return 2;
            }
            st->shard = (unsigned)v;
            have_shard = true;
            break;
        }
        case 'r': need = STAGE_OPT_READ; read = optarg; break;
        case 'i': need = STAGE_OPT_DEVICE; device = optarg; break;
        case 'f': need = STAGE_OPT_FILTER; filter = optarg; break;
        case 'p': need = STAGE_OPT_PROMISC; promisc = true; break;
        case 'D': need = STAGE_OPT_DB; db = optarg; break;
        case 'v': verbosity = LOG_DEBUG; break;
        case 'q': verbosity = LOG_ERROR; break;
        case 'h': print_help(name, opts, summary); return -1;
        default:
            fprintf(stderr, "hark-%s: try --help\n", name);
            return 2;
        }
        if (need && !(opts & need)) {
            fprintf(stderr, "hark-%s: option -%c does not apply to this "
                            "stage (try --help)\n", name, c);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hark-%s: unexpected argument '%s' (try --help)\n",
                name, argv[optind]);
        return 2;
    }
    if (id)
        snprintf(st->id, sizeof(st->id), "%s", id);
    else if (have_shard)
        snprintf(st->id, sizeof(st->id), "%s-%u", name, st->shard);
    log_init(st->id, (enum log_level)verbosity);

    char err[512];
    if (config_path) {
        if (config_load(config_path, &st->cfg, err, sizeof(err)) < 0) {
            fprintf(stderr, "hark-%s: %s\n", name, err);
            return 2;
        }
    } else if (!(st->cfg = config_default())) {
        fprintf(stderr, "hark-%s: out of memory\n", name);
        return 1;
    }
    struct config *cfg = st->cfg;
    if ((run_dir && config_set_string(&cfg->bus.run_dir, run_dir)) ||
        (read && config_set_string(&cfg->capture.read, read)) ||
        (device && config_set_string(&cfg->capture.device, device)) ||
        (filter && config_set_string(&cfg->capture.filter, filter)) ||
        (db && config_set_string(&cfg->logger.db, db))) {
        fprintf(stderr, "hark-%s: out of memory\n", name);
        return 1;
    }
    if (promisc)
        cfg->capture.promiscuous = true;
    if (have_shard && st->shard >= cfg->reassemble.shards) {
        fprintf(stderr, "hark-%s: --shard %u, but the config has %u "
                        "shard(s) (reassemble.shards)\n",
                name, st->shard, cfg->reassemble.shards);
        return 2;
    }

    snprintf(st->stats_dir, sizeof(st->stats_dir), "%s/stats",
             cfg->bus.run_dir);
    int rc = fs_mkdir_p(st->stats_dir);
    if (rc < 0) {
        log_error("cannot create %s: %s", st->stats_dir, strerror(-rc));
        return 1;
    }
    st->stats = stats_new(name, st->id);
    st->zmq = zmq_ctx_new();
    if (!st->stats || !st->zmq) {
        log_error("out of memory");
        return 1;
    }
    st->cpu_user_ms = stats_add(st->stats, "cpu_user_ms");
    st->cpu_sys_ms = stats_add(st->stats, "cpu_sys_ms");
    st->max_rss_kb = stats_add(st->stats, "max_rss_kb");
    char tap[4200];
    if (!config_tap_endpoint(cfg, st->id, tap, sizeof(tap))) {
        log_error("tap endpoint for %s does not fit", st->id);
        return 1;
    }
    st->tap = bus_tap_new(st->zmq, tap, st->stats);
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

void stage_on_stop(struct stage *st,
                   void (*fn)(struct stage *st, void *ctx), void *ctx)
{
    st->on_stop = fn;
    st->on_stop_ctx = ctx;
}

static int on_signal(loop_t *l, void *ctx)
{
    struct stage *st = ctx;
    struct signalfd_siginfo si;
    while (read(st->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
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
    stats_destroy(&st->stats);
    loop_destroy(&st->loop);
    config_destroy(&st->cfg);
    msgpack_sbuffer_destroy(&st->stats_buf);
    if (st->signal_fd >= 0)
        close(st->signal_fd);
    st->signal_fd = -1;
}
