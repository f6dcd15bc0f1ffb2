/* run.c - the supervisor behind `hark run`.
 *
 * Children are the rows of the topology table (topology.h), one per shard
 * for the sharded stage, each at its level in the pipeline (0 capture ..
 * 4 logger). A stage's input is done when every stage one level up has
 * finished; a stage whose input is done but who lost its eof (its
 * producer died, or it was restarted after the eof went by) is told to
 * stop with SIGTERM, which makes it drain what is queued and pass eof on.
 * Signals reach the supervisor through a signalfd, so the loop is a plain
 * poll with timers.
 *
 * Counters are summed over incarnations: each time a stage exits, the
 * last stats file of that incarnation is added in, before a restart
 * overwrites it (run_summary.h, which prints them at the end). A stage other than the logger that dies opens an
 * outage (outage.h), written into the trail; `hark run` then exits 3
 * (EXIT_LOST) and the summary says what was lost.
 *
 * With --only (roles.h) it supervises part of the pipeline: the stages
 * of the other machines are not its children. A stage whose producers
 * run elsewhere learns the end of its input from their eof alone (its
 * input is never "done" here), and is the one told to stop when this
 * machine drains. Only the supervisor that runs the logger ends the
 * logger's input with its eof; the others send their outage records as
 * producers of their own ("hark@<roles>") and wait for them to be
 * acknowledged before they exit.
 *
 * SIGHUP reloads (reload.h): the file is checked, then correlate reloads
 * before dispatch, so a request dispatch routes by the new config finds
 * its policy in correlate.
 *
 * Started as root, the supervisor alone stays root (it restarts the
 * capture, which needs root to open its device); every stage gives root
 * up itself (stage.h). The run directory is made and checked first
 * (rundir.h) and handed to the stages' user.
 */
#include "supervisor.h"
#include "clock.h"
#include "config.h"
#include "curve.h"
#include "downtime.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "outage.h"
#include "reload.h"
#include "roles.h"
#include "run_private.h"
#include "run_summary.h"
#include "rundir.h"
#include "runas.h"
#include "stats.h"
#include "topology.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

const char *run_state_name(enum child_state s)
{
    switch (s) {
    case CHILD_RUNNING: return "running";
    case CHILD_BACKOFF: return "restarting";
    case CHILD_DONE: return "done";
    case CHILD_DEAD: return "dead";
    case CHILD_FAILED: return "failed";
    }
    return "?";
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: hark run [options]\n\n"
        "Runs the pipeline: capture -> reassemble (shards) -> dispatch -> "
        "correlate -> logger,\nsupervised. Offline (-r) it ends when the "
        "whole file is in the audit trail; live\nit runs until SIGINT or "
        "SIGTERM, then drains in order;\nSIGHUP reloads service groups, "
        "relative paths and policies.\n\n"
        "options:\n"
        "  -c, --config FILE     configuration (default: built-in; see "
        "hark.yaml)\n"
        "  -r, --read FILE       read a pcap/pcapng file\n"
        "  -i, --interface DEV   sniff this interface (default: any)\n"
        "  -f, --filter EXPR     libpcap filter (default: tcp)\n"
        "  -p, --promisc         promiscuous mode\n"
        "      --only ROLE[,ROLE] run only these stages here (capture, "
        "reassemble[:SHARD,..],\n"
        "                        dispatch, correlate, logger); the others "
        "run on other machines\n"
        "      --db DIR          audit trail (default: logger.db, "
        "hark.db)\n"
        "      --run-dir DIR     ipc sockets and stats (default: "
        "bus.run_dir)\n"
        "  -v, --verbose         more diagnostics from every stage\n"
        "  -q, --quiet           errors only\n"
        "  -h, --help            this help\n");
}

static int parse_options(struct options *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "read", required_argument, NULL, 'r' },
        { "interface", required_argument, NULL, 'i' },
        { "filter", required_argument, NULL, 'f' },
        { "promisc", no_argument, NULL, 'p' },
        { "db", required_argument, NULL, 'D' },
        { "run-dir", required_argument, NULL, 'R' },
        { "only", required_argument, NULL, 'O' },
        { "verbose", no_argument, NULL, 'v' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    char err[300];
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:r:i:f:pvqh", longopts, NULL)) !=
           -1) {
        switch (c) {
        case 'O':
            if (roles_parse(&o->only, optarg, err, sizeof(err)) < 0) {
                fprintf(stderr, "hark run: %s\n", err);
                return 2;
            }
            break;
        case 'c': o->config_path = optarg; break;
        case 'r': o->read = optarg; break;
        case 'i': o->device = optarg; break;
        case 'f': o->filter = optarg; break;
        case 'p': o->promisc = true; break;
        case 'D': o->db = optarg; break;
        case 'R': o->run_dir = optarg; break;
        case 'v': o->verbosity = 1; break;
        case 'q': o->verbosity = -1; break;
        case 'h': usage(stdout); return 1;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hark run: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (o->read && o->device) {
        fprintf(stderr, "hark run: -r and -i exclude each other: read a "
                        "file or sniff a device\n");
        return 2;
    }
    if ((o->read || o->device || o->filter || o->promisc) &&
        !roles_has(&o->only, ROLE_CAPTURE, 0)) {
        fprintf(stderr, "hark run: -r, -i, -f and -p are the capture's, "
                        "and --only does not run it here\n");
        return 2;
    }
    if (o->db && !roles_has(&o->only, ROLE_LOGGER, 0)) {
        fprintf(stderr, "hark run: --db is the logger's, and --only does "
                        "not run it here\n");
        return 2;
    }
    return 0;
}

static bool finished(const struct child *c)
{
    return c->state == CHILD_DONE || c->state == CHILD_DEAD ||
           c->state == CHILD_FAILED;
}

static void add_child(struct supervisor *s, enum topology_role role,
                      unsigned shard)
{
    struct child *c = &s->children[s->n++];
    memset(c, 0, sizeof(*c));
    c->ts = topology_stage(role);
    c->shard = c->ts->sharded ? (int)shard : -1;
    c->state = CHILD_DEAD; /* until spawned */
    c->backoff_ms = BACKOFF_MIN_MS;
    topology_id(role, shard, c->id, sizeof(c->id));
}

/* Downstream first, so each stage's input is bound before anyone sends
 * to it (not required by ZeroMQ, but quieter). */
static void add_children(struct supervisor *s)
{
    for (int r = ROLE_COUNT - 1; r >= 0; r--)
        for (unsigned i = 0; i < topology_instances(s->cfg, r); i++)
            if (roles_has(&s->opt.only, (enum topology_role)r, i))
                add_child(s, (enum topology_role)r, i);
}

/* True when every producer of c's input is a child here: then its input
 * has ended once they all finished. Else they run on other machines,
 * and only their eof tells c. */
static bool producers_here(const struct supervisor *s, const struct child *c)
{
    return c->ts->level > 0 &&
           roles_all_of(&s->opt.only, s->cfg,
                        (enum topology_role)(c->ts->level - 1));
}

/* The stage options of c's role that `hark run` was given, appended to
 * argv at n; returns the new n. */
static int stage_options(const struct supervisor *s, const struct child *c,
                         const char **argv, int n)
{
    const struct options *o = &s->opt;
    const struct {
        unsigned opt;
        const char *flag, *value; /* value NULL: a flag without one */
        bool given;
    } forward[] = {
        { STAGE_OPT_READ, "-r", o->read, o->read != NULL },
        { STAGE_OPT_DEVICE, "-i", o->device, o->device != NULL },
        { STAGE_OPT_FILTER, "-f", o->filter, o->filter != NULL },
        { STAGE_OPT_PROMISC, "-p", NULL, o->promisc },
        { STAGE_OPT_DB, "--db", o->db, o->db != NULL },
    };
    for (unsigned i = 0; i < sizeof(forward) / sizeof(forward[0]); i++) {
        if (!(c->ts->opts & forward[i].opt) || !forward[i].given)
            continue;
        argv[n++] = forward[i].flag;
        if (forward[i].value)
            argv[n++] = forward[i].value;
    }
    return n;
}

static int spawn(struct supervisor *s, struct child *c)
{
    char path[PATH_MAX + 32], shard[16];
    snprintf(path, sizeof(path), "%s/hark-%s", s->bindir, c->ts->name);
    const char *argv[MAX_ARGS];
    int n = 0;
    argv[n++] = path;
    if (s->opt.config_path) {
        argv[n++] = "-c";
        argv[n++] = s->opt.config_path;
    }
    argv[n++] = "--run-dir";
    argv[n++] = s->run_dir;
    argv[n++] = "--id";
    argv[n++] = c->id;
    if (c->shard >= 0) {
        snprintf(shard, sizeof(shard), "%d", c->shard);
        argv[n++] = "--shard";
        argv[n++] = shard;
    }
    n = stage_options(s, c, argv, n);
    if (s->opt.verbosity > 0)
        argv[n++] = "-v";
    else if (s->opt.verbosity < 0)
        argv[n++] = "-q";
    argv[n] = NULL;

    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        /* Own process group: a terminal's Ctrl-C is for the supervisor,
         * which stops the stages in order. Stop signals stay blocked
         * until the stage's signalfd takes them, so one sent right after
         * the start is not lost. */
        setpgid(0, 0);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGHUP);
        sigprocmask(SIG_SETMASK, &set, NULL);
        dup2(STDERR_FILENO, STDOUT_FILENO);
        /* The logger waits for our eof too: outage records may follow
         * the pipeline's last records. */
        if (c->ts->role == ROLE_LOGGER)
            setenv("HARK_SUPERVISED", "1", 1);
        execv(path, (char *const *)argv);
        fprintf(stderr, "hark: cannot start %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    c->pid = pid;
    c->state = CHILD_RUNNING;
    c->started_ns = clock_mono_ns();
    c->spawned_wall_ns = clock_wall_ns();
    c->term_sent = false;
    log_debug("started %s as pid %ld", c->id, (long)pid);
    return 0;
}

static bool input_done(const struct supervisor *s, const struct child *c,
                       bool *all_clean)
{
    *all_clean = true;
    if (!producers_here(s, c))
        return false;
    for (unsigned i = 0; i < s->n; i++) {
        const struct child *u = &s->children[i];
        if (u->ts->level != c->ts->level - 1)
            continue;
        if (!finished(u))
            return false;
        if (u->state != CHILD_DONE)
            *all_clean = false;
    }
    return true;
}

static void send_term(struct child *c, uint64_t now, const char *why)
{
    if (c->state != CHILD_RUNNING || c->term_sent)
        return;
    log_debug("stopping %s (pid %ld): %s", c->id, (long)c->pid, why);
    kill(c->pid, SIGTERM);
    c->term_sent = true;
    c->term_sent_ns = now;
}

static void begin_shutdown(struct supervisor *s, const char *why)
{
    if (s->shutting_down)
        return;
    s->shutting_down = true;
    log_info("%s: draining the pipeline", why);
    for (unsigned i = 0; i < s->n; i++) {
        struct child *c = &s->children[i];
        if (c->state == CHILD_BACKOFF)
            c->state = CHILD_DEAD;
        /* The capture, or where this machine's part begins: the stages
         * after it drain when its eof reaches them. */
        if (!producers_here(s, c))
            send_term(c, clock_mono_ns(), why);
    }
}

static void describe_status(int status, char *buf, size_t size)
{
    if (WIFSIGNALED(status))
        snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
}

static unsigned recent_restarts(const struct child *c, uint64_t now)
{
    unsigned k = 0;
    unsigned n = c->n_restart_times < CONFIG_MAX_RESTARTS
                     ? c->n_restart_times
                     : CONFIG_MAX_RESTARTS;
    for (unsigned i = 0; i < n; i++)
        if (now - c->restart_times[i] < RESTART_WINDOW_NS)
            k++;
    return k;
}

static void on_exit_status(struct supervisor *s, struct child *c, int status)
{
    uint64_t now = clock_mono_ns();
    c->pid = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        c->state = CHILD_DONE;
        log_debug("%s finished", c->id);
        return;
    }
    char how[96];
    describe_status(status, how, sizeof(how));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
        /* The stage refused its config or input: restarting repeats it. */
        c->state = CHILD_FAILED;
        s->failed = s->input_error = true;
        begin_shutdown(s, "a stage refused its input");
        return;
    }
    bool logger = c->ts->role == ROLE_LOGGER, clean;
    if ((s->shutting_down && !logger) ||
        (c->ts->level == 0 && s->offline) ||
        (input_done(s, c, &clean) &&
         !(logger && outages_waiting(s->outages))) ||
        (c->term_sent && WIFSIGNALED(status) &&
         WTERMSIG(status) == SIGKILL)) {
        /* Offline, a new capture would read the file again from the
         * start; while draining, or once its input has ended, what the
         * stage held is gone anyway and a new one has nothing to read.
         * A new logger loses nothing (its producers send again what it
         * never committed), so it is restarted even while draining, and
         * after its input ended while the supervisor's outage records
         * wait for it. */
        log_error("%s %s", c->id, how);
        c->state = CHILD_DEAD;
        s->failed = true;
        if (c->ts->level == 0)
            begin_shutdown(s, "capture failed");
        return;
    }
    if (now - c->started_ns > STABLE_NS)
        c->backoff_ms = BACKOFF_MIN_MS;
    if (recent_restarts(c, now) >= s->cfg->supervisor.max_restarts) {
        log_error("%s %s; it restarted %u times within a minute, giving up",
                  c->id, how, s->cfg->supervisor.max_restarts);
        c->state = CHILD_FAILED;
        s->failed = true;
        begin_shutdown(s, "a stage keeps failing");
        return;
    }
    log_warn("%s %s; restarting in %u ms", c->id, how, c->backoff_ms);
    c->state = CHILD_BACKOFF;
    c->restart_at = now + (uint64_t)c->backoff_ms * NS_PER_MS;
    c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                       : c->backoff_ms * 2;
}

/* A stage that died takes what it held with it, unless it is the
 * logger (its producers send again) or it refused to start (exit 2:
 * the run stops). */
static void lost_stage(struct supervisor *s, const struct child *c,
                       pid_t pid, int status)
{
    if (c->ts->role == ROLE_LOGGER ||
        (WIFEXITED(status) && (WEXITSTATUS(status) == 0 ||
                               WEXITSTATUS(status) == 2)))
        return;
    char how[96], err[512];
    describe_status(status, how, sizeof(how));
    outages_begin(s->outages, c->id, c->ts->role, pid, c->spawned_wall_ns,
                  how);
    if (c->ts->role != ROLE_CAPTURE || s->offline || s->downtime)
        return;
    s->downtime = downtime_start(&s->cfg->capture, err, sizeof(err));
    if (!s->downtime)
        log_warn("cannot count what passes while the capture is down: %s",
                 err);
}


/* Every stage that exited, handled upstream first: whether a stage's
 * input had ended depends on its producers' exits seen in the same
 * turn. */
static void reap(struct supervisor *s)
{
    int status[MAX_CHILDREN];
    bool exited[MAX_CHILDREN] = { false };
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        for (unsigned i = 0; i < s->n; i++) {
            if (s->children[i].pid == pid &&
                s->children[i].state == CHILD_RUNNING) {
                exited[i] = true;
                status[i] = st;
                break;
            }
        }
    }
    for (int level = 0; level < ROLE_COUNT; level++)
        for (unsigned i = 0; i < s->n; i++) {
            struct child *c = &s->children[i];
            if (!exited[i] || c->ts->level != level)
                continue;
            pid_t dead = c->pid;
            on_exit_status(s, c, status[i]);
            run_summary_bank(&s->banked, s->run_dir, c, dead);
            lost_stage(s, c, dead, status[i]);
        }
}

static void restart_due(struct supervisor *s)
{
    uint64_t now = clock_mono_ns();
    for (unsigned i = 0; i < s->n; i++) {
        struct child *c = &s->children[i];
        if (c->state != CHILD_BACKOFF || now < c->restart_at)
            continue;
        c->restart_times[c->n_restart_times++ % CONFIG_MAX_RESTARTS] = now;
        c->restarts++;
        int rc = spawn(s, c);
        if (rc < 0) {
            log_error("cannot restart %s: %s", c->id, strerror(-rc));
            c->state = CHILD_FAILED;
            s->failed = true;
            begin_shutdown(s, "a stage could not be restarted");
            continue;
        }
        log_warn("restarted %s as pid %ld (restart %u)", c->id, (long)c->pid,
                 c->restarts);
        if (c->ts->role == ROLE_LOGGER)
            outages_resend(s->outages);
        /* Its producers have finished: their eof went to the instance
         * that died, so this one is told to drain what is queued and end.
         * (Stop signals stay pending until its signalfd takes them.) */
        bool clean;
        if (input_done(s, c, &clean))
            send_term(c, now, "restarted after its input ended");
    }
}

/* Stops stages whose input has ended without reaching them, and kills
 * those that ignore it. */
static void drive_drain(struct supervisor *s)
{
    uint64_t now = clock_mono_ns();
    uint64_t grace = s->cfg->supervisor.drain_timeout_ns;
    for (unsigned i = 0; i < s->n; i++) {
        struct child *c = &s->children[i];
        bool clean;
        if (c->state != CHILD_RUNNING) {
            c->input_done_ns = 0;
            continue;
        }
        if (!input_done(s, c, &clean)) {
            c->input_done_ns = 0;
        } else {
            if (!c->input_done_ns)
                c->input_done_ns = now;
            if (!clean)
                send_term(c, now, "its producer is gone");
            else if (now - c->input_done_ns > grace)
                send_term(c, now, "its input ended but it did not finish");
        }
        /* Any stage told to stop, capture too: begin_shutdown tells it,
         * and it can be stuck sending to a shard that is gone. */
        if (c->term_sent && now - c->term_sent_ns > grace) {
            log_error("%s did not stop within %.0fs; killing it", c->id,
                      (double)grace / 1e9);
            kill(c->pid, SIGKILL);
            c->term_sent_ns = now; /* once per grace period */
        }
    }
}

static bool all_finished(const struct supervisor *s)
{
    for (unsigned i = 0; i < s->n; i++)
        if (!finished(&s->children[i]))
            return false;
    return true;
}

static int next_timeout_ms(const struct supervisor *s)
{
    int ms = 1000;
    uint64_t now = clock_mono_ns();
    for (unsigned i = 0; i < s->n; i++) {
        const struct child *c = &s->children[i];
        if (c->state != CHILD_BACKOFF)
            continue;
        uint64_t left = c->restart_at > now ? c->restart_at - now : 0;
        if (left / NS_PER_MS < (uint64_t)ms)
            ms = (int)(left / NS_PER_MS) + 1;
    }
    return ms;
}

static void kill_all(struct supervisor *s, int sig)
{
    for (unsigned i = 0; i < s->n; i++)
        if (s->children[i].state == CHILD_RUNNING)
            kill(s->children[i].pid, sig);
}

/* Ends outages whose stage is back or gone, and once nothing upstream
 * of the logger runs and every outage is out, ends the supervisor's
 * input to the logger. */
static void track_outages(struct supervisor *s)
{
    bool upstream_done = true;
    outages_take_acks(s->outages);
    for (unsigned i = 0; i < s->n; i++) {
        const struct child *c = &s->children[i];
        bool gone = finished(c);
        pid_t pid = c->state == CHILD_RUNNING ? c->pid : 0;
        if (c->ts->role == ROLE_CAPTURE && s->downtime &&
            outages_due(s->outages, c->id, pid, gone)) {
            uint64_t packets, connections;
            downtime_stop(&s->downtime, &packets, &connections);
            outages_add_lost(s->outages, c->id, "packets", packets);
            outages_add_lost(s->outages, c->id, "connections", connections);
        }
        outages_check(s->outages, c->id, pid, gone);
        if (c->ts->role != ROLE_LOGGER && !gone)
            upstream_done = false;
    }
    if (s->runs_logger && upstream_done && !outages_open(s->outages))
        outages_end(s->outages);
}

/* ---- SIGHUP ---------------------------------------------------------- */

static struct child *child_of(struct supervisor *s, enum topology_role role)
{
    for (unsigned i = 0; i < s->n; i++)
        if (s->children[i].ts->role == role &&
            s->children[i].state == CHILD_RUNNING)
            return &s->children[i];
    return NULL;
}

/* Correlate is told first (reload.h); the others once it has reloaded,
 * or when it did not say so in time. */
static void on_sighup(struct supervisor *s)
{
    if (s->shutting_down) {
        log_info("SIGHUP while draining: ignored");
        return;
    }
    if (reload_check(s->reload, s->cfg) < 0)
        return;
    struct child *c = child_of(s, ROLE_CORRELATE);
    if (c && reload_first(s->reload, c->id))
        kill(c->pid, SIGHUP);
}

static void reload_tick(struct supervisor *s)
{
    if (!reload_rest_due(s->reload))
        return;
    struct child *first = child_of(s, ROLE_CORRELATE);
    for (unsigned i = 0; i < s->n; i++) {
        struct child *c = &s->children[i];
        if (c->state == CHILD_RUNNING && c != first)
            kill(c->pid, SIGHUP);
    }
}

/* ---- /metrics -------------------------------------------------------- */

static void render_metrics(FILE *f, void *ctx)
{
    struct supervisor *s = ctx;
    static struct stats_snapshot snaps[METRICS_MAX_STAGES];
    struct metrics_child kids[MAX_CHILDREN];
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof(dir), "%s/stats", s->run_dir);
    int n = metrics_load(dir, snaps, METRICS_MAX_STAGES);
    for (unsigned i = 0; i < s->n; i++)
        kids[i] = (struct metrics_child){ s->children[i].id,
                                          s->children[i].ts->name,
                                          s->children[i].state ==
                                              CHILD_RUNNING,
                                          s->children[i].restarts };
    struct metrics_supervisor sup = { kids, s->n, outages_count(s->outages),
                                      reload_count(s->reload, false),
                                      reload_count(s->reload, true), 0, 0 };
    metrics_server_counts(s->metrics, &sup.scrapes_refused,
                          &sup.scrapes_dropped);
    metrics_write(f, snaps, n > 0 ? (unsigned)n : 0, &sup);
}

/* A supervisor that does not run the logger waits, after its stages
 * ended, for its outage records to be acknowledged (the drain timeout at
 * most): they are what this machine lost. */
static bool settled(struct supervisor *s, uint64_t *since)
{
    if (s->runs_logger || !outages_unsent(s->outages))
        return true;
    uint64_t now = clock_mono_ns();
    if (!*since)
        *since = now;
    return now - *since > s->cfg->supervisor.drain_timeout_ns;
}

static int supervise(struct supervisor *s)
{
    zmq_pollitem_t items[3 + 1 + METRICS_HTTP_CLIENTS];
    uint64_t settling = 0;
    while (!all_finished(s) || !settled(s, &settling)) {
        int ms = next_timeout_ms(s);
        int resend = outages_tick(s->outages);
        if (resend >= 0 && resend < ms)
            ms = resend;
        int later = reload_timeout_ms(s->reload);
        if (later >= 0 && later < ms)
            ms = later;
        unsigned n_items = 2, down = 0, web = 0;
        items[0] = (zmq_pollitem_t){ NULL, s->sigfd, ZMQ_POLLIN, 0 };
        items[1] = (zmq_pollitem_t){ outages_socket(s->outages), 0,
                                     ZMQ_POLLIN, 0 };
        if (s->downtime) {
            down = n_items++;
            items[down] = (zmq_pollitem_t){ NULL, downtime_fd(s->downtime),
                                            ZMQ_POLLIN, 0 };
        }
        if (s->metrics) {
            web = n_items;
            n_items += metrics_server_poll_items(s->metrics, items + web);
        }
        int n = zmq_poll(items, (int)n_items, ms);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n < 0)
            for (unsigned i = 0; i < n_items; i++)
                items[i].revents = 0;
        if (s->downtime && (items[down].revents & ZMQ_POLLIN))
            downtime_read(s->downtime);
        if (s->metrics)
            metrics_server_handle(s->metrics, items + web, n_items - web);
        struct signalfd_siginfo si;
        while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
            if (si.ssi_signo == SIGCHLD)
                continue; /* reaped below */
            if (si.ssi_signo == SIGHUP) {
                on_sighup(s);
                continue;
            }
            if (s->shutting_down) {
                log_warn("signal %u again: killing every stage",
                         si.ssi_signo);
                kill_all(s, SIGKILL);
                s->failed = true;
            } else {
                begin_shutdown(s, si.ssi_signo == SIGINT ? "interrupted"
                                                         : "terminated");
            }
        }
        reap(s);
        restart_due(s);
        track_outages(s);
        drive_drain(s);
        reload_tick(s);
    }
    outages_take_acks(s->outages);
    uint64_t p, c;
    downtime_stop(&s->downtime, &p, &c);
    return 0;
}

/* ---- setup ----------------------------------------------------------- */

static int find_bindir(char *out, size_t size)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return -errno;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return -ENOENT;
    *slash = '\0';
    snprintf(out, size, "%s", self);
    return 0;
}

/* The run directory, made safely (rundir.h) and locked: one pipeline
 * per run directory, its ipc endpoints are not shared. The default
 * without a runtime directory is a new private one. Returns the lock's
 * fd, or -errno after saying why. */
static int prepare_run_dir(struct supervisor *s)
{
    char err[600];
    if (runas_resolve(s->cfg->supervisor.run_as, &s->user, err,
                      sizeof(err)) < 0) {
        fprintf(stderr, "hark run: %s\n", err);
        return -ENOENT;
    }
    if (geteuid() == 0 && !s->user.switching)
        log_warn("supervisor.run_as is %s: every stage runs as root, the "
                 "reassemblers parsing what the network sends too",
                 s->user.name);
    if (!s->opt.run_dir && s->cfg->bus.run_dir_private) {
        snprintf(s->run_dir, sizeof(s->run_dir), "/tmp/hark-%u.XXXXXX",
                 (unsigned)getuid());
        if (!mkdtemp(s->run_dir)) {
            fprintf(stderr, "hark run: cannot make a run directory in "
                            "/tmp: %s\n", strerror(errno));
            return -errno;
        }
        log_info("run directory %s (pass --run-dir %s to hark stats, tap "
                 "and query)", s->run_dir, s->run_dir);
    }
    s->run_fd = rundir_prepare(s->run_dir, &s->user, err, sizeof(err));
    if (s->run_fd < 0) {
        fprintf(stderr, "hark run: run directory %s\n", err);
        return s->run_fd;
    }
    int rc = runas_check_dir(&s->user, s->run_dir);
    if (rc < 0) {
        fprintf(stderr, "hark run: the stages run as %s, who cannot use "
                        "%s: %s (a directory above it is closed to them: "
                        "choose another --run-dir)\n",
                s->user.name, s->run_dir, strerror(-rc));
        return rc;
    }
    int fd = rundir_lock(s->run_fd, err, sizeof(err));
    if (fd < 0) {
        fprintf(stderr, "hark run: %s: %s%s\n", s->run_dir, err,
                fd == -EBUSY ? "; pass --run-dir DIR to run a second one"
                             : "");
        return fd;
    }
    rundir_clear(s->run_fd);
    return fd; /* held open for the life of the run */
}

/* The head the logger ended with, to keep outside the trail. */
static void print_head(const struct supervisor *s)
{
    char line[RUNDIR_HEAD_MAX], hex[80], key[80];
    unsigned long long seq;
    if (rundir_read_head(s->run_fd, line, sizeof(line)) < 0 ||
        sscanf(line, "%llu %79s %79s", &seq, hex, key) != 3)
        return;
    bool is_signed = strcmp(key, "-") != 0;
    printf("  head       seq %llu %s\n", seq, hex);
    if (is_signed)
        printf("             signed by ed25519 %s\n", key);
    const char *sk = s->cfg->logger.sign_key;
    printf("  check:     hark verify --db %s --head %s", s->cfg->logger.db,
           hex);
    if (is_signed)
        printf(" --pubkey %s.pub", sk ? sk : "KEY.sign");
    printf("\n");
    fflush(stdout);
}

static int setup_signals(struct supervisor *s)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        return -errno;
    s->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return s->sigfd < 0 ? -errno : 0;
}

/* The config and what the command line puts over it. 0, or the exit
 * status: 2 for a bad file, 1 when out of memory. */
static int load_config(struct supervisor *s)
{
    char err[512];
    if (s->opt.config_path) {
        if (config_load(s->opt.config_path, &s->cfg, err, sizeof(err)) < 0) {
            fprintf(stderr, "hark run: %s\n", err);
            return 2;
        }
    } else if (!(s->cfg = config_default())) {
        return 1;
    }
    if (s->opt.read)
        config_set_string(&s->cfg->capture.read, s->opt.read);
    if (s->opt.db)
        config_set_string(&s->cfg->logger.db, s->opt.db);
    s->offline = s->cfg->capture.read != NULL;
    snprintf(s->run_dir, sizeof(s->run_dir), "%s",
             s->opt.run_dir ? s->opt.run_dir : s->cfg->bus.run_dir);
    /* Said once here, rather than by every stage refusing to start. */
    char tcp[4200];
    if (topology_tcp(s->cfg, tcp, sizeof(tcp)) &&
        curve_allows(NULL, tcp, err, sizeof(err)) < 0 &&
        !s->cfg->bus.curve_key && !s->cfg->bus.insecure) {
        fprintf(stderr, "hark run: %s\n", err);
        return 2;
    }
    return 0;
}

/* Its id on the logger's input: "hark" for the one that runs the
 * logger, "hark@<roles>" for the others (one per machine, each its own
 * producer). */
static void name_producer(struct supervisor *s)
{
    char what[200];
    s->runs_logger = roles_has(&s->opt.only, ROLE_LOGGER, 0);
    if (s->runs_logger || !roles_describe(&s->opt.only, s->cfg, what,
                                          sizeof(what)) ||
        strlen(what) + 6 > sizeof(s->producer)) {
        snprintf(s->producer, sizeof(s->producer), "hark%s",
                 s->runs_logger ? "" : "@some");
        return;
    }
    snprintf(s->producer, sizeof(s->producer), "hark@%s", what);
}

/* The supervisor's own producer on the logger's input (outage.h). 0, or
 * the exit status after saying why: 2 for keys it cannot read. */
static int setup_outages(struct supervisor *s)
{
    char err[512];
    if (config_set_string(&s->cfg->bus.run_dir, s->run_dir) < 0)
        return 1;
    name_producer(s);
    s->outages = outages_new(s->cfg, s->run_dir, s->producer, err,
                             sizeof(err));
    if (!s->outages) {
        fprintf(stderr, "hark run: %s\n", err);
        return 2;
    }
    char stats_dir[PATH_MAX + 16];
    snprintf(stats_dir, sizeof(stats_dir), "%s/stats", s->run_dir);
    if (!(s->reload = reload_new(s->opt.config_path, stats_dir)))
        return 1;
    if (s->cfg->supervisor.metrics &&
        !(s->metrics = metrics_server_new(s->cfg->supervisor.metrics,
                                          render_metrics, s, err,
                                          sizeof(err)))) {
        fprintf(stderr, "hark run: %s\n", err);
        return 1;
    }
    return 0;
}

static void start_children(struct supervisor *s)
{
    add_children(s);
    for (unsigned i = 0; i < s->n && !s->failed; i++) {
        int rc = spawn(s, &s->children[i]);
        if (rc < 0) {
            log_error("cannot start %s: %s", s->children[i].id,
                      strerror(-rc));
            s->failed = true;
            begin_shutdown(s, "start failed");
        }
    }
}

int hark_run_main(int argc, char **argv)
{
    static struct supervisor sv;
    struct supervisor *s = &sv;
    memset(s, 0, sizeof(*s));
    s->sigfd = -1;
    s->run_fd = -1;
    s->started_ns = clock_mono_ns();
    int rc = parse_options(&s->opt, argc, argv);
    if (rc)
        return rc == 1 ? 0 : rc;
    log_init("hark", s->opt.verbosity > 0   ? LOG_DEBUG
                     : s->opt.verbosity < 0 ? LOG_ERROR
                                            : LOG_INFO);
    if ((rc = load_config(s)) != 0)
        return rc;
    char err[300];
    if (roles_check(&s->opt.only, s->cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "hark run: %s\n", err);
        config_destroy(&s->cfg);
        return 2;
    }
    int lockfd = -1;
    if ((rc = find_bindir(s->bindir, sizeof(s->bindir))) < 0) {
        fprintf(stderr, "hark run: cannot find the stage programs: %s\n",
                strerror(-rc));
        config_destroy(&s->cfg);
        return 1;
    }
    if ((lockfd = prepare_run_dir(s)) < 0) {
        if (s->run_fd >= 0)
            close(s->run_fd);
        config_destroy(&s->cfg);
        return lockfd == -EBUSY || lockfd == -ENOENT ? 2 : 1;
    }
    if ((rc = setup_signals(s)) < 0) {
        fprintf(stderr, "hark run: signals: %s\n", strerror(-rc));
        close(lockfd);
        close(s->run_fd);
        config_destroy(&s->cfg);
        return 1;
    }
    if ((rc = setup_outages(s)) != 0) {
        metrics_server_destroy(&s->metrics);
        reload_destroy(&s->reload);
        outages_destroy(&s->outages);
        close(lockfd);
        close(s->run_fd);
        config_destroy(&s->cfg);
        return rc;
    }
    start_children(s);
    if (s->offline)
        log_info("reading %s into %s", s->cfg->capture.read,
                 s->cfg->logger.db);
    rc = supervise(s);
    if (rc < 0)
        log_error("supervisor: %s", strerror(-rc));
    bool lost;
    bool counted = run_summary_print(s, &lost);
    print_head(s);
    int status = s->input_error                     ? 2
                 : (s->failed || rc < 0 || !counted) ? 1
                 : lost                              ? EXIT_LOST
                                                     : 0;
    outages_destroy(&s->outages);
    metrics_server_destroy(&s->metrics);
    reload_destroy(&s->reload);
    close(s->sigfd);
    close(lockfd);
    close(s->run_fd);
    config_destroy(&s->cfg);
    return status;
}
