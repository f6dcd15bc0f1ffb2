/* outage.c - outages opened when a stage dies, written to the trail. */
#include "outage.h"
#include "bus.h"
#include "clock.h"
#include "curve.h"
#include "log.h"
#include "stats.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define LOST_MAX 4
/* Records sent and not acknowledged before the next one waits. */
#define UNACKED_MAX 32

enum outage_state { OUTAGE_OPEN, OUTAGE_READY, OUTAGE_SENT };

struct outage {
    char who[48];
    char how[96];
    enum topology_role role;
    enum outage_state state;
    uint64_t from_ns, until_ns;
    struct record_count lost[LOST_MAX];
    unsigned n_lost;
};

struct outages {
    char stats_dir[PATH_MAX];
    void *zmq;
    curve_t *curve;
    struct bus_env env;
    stats_t *stats;
    bus_out_t *out;
    frame_writer_t *writer;
    struct outage list[OUTAGE_MAX];
    unsigned n;                   /* in list */
    unsigned total;               /* all there were */
    bool ended;
};

/* What a dead stage's last report says it held, by role: the counter and
 * the name it has in the outage. */
static const struct held {
    enum topology_role role;
    const char *counter, *name;
} held[] = {
    { ROLE_REASSEMBLE, "flows_active", "open_connections" },
    { ROLE_CORRELATE, "pending", "waits" },
    { ROLE_CORRELATE, "unacked_frames", "unacknowledged_frames" },
};

outages_t *outages_new(const struct config *cfg, const char *run_dir,
                       const char *id, char *err, size_t errlen)
{
    outages_t *o = calloc(1, sizeof(*o));
    if (!o) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(o->stats_dir, sizeof(o->stats_dir), "%s/stats", run_dir);
    char ep[4200];
    o->zmq = zmq_ctx_new();
    o->stats = stats_new("hark", id);
    o->writer = frame_writer_new(FRAME_LOG, id);
    if (!o->zmq || !o->stats || !o->writer) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (!(o->curve = curve_new(o->zmq, cfg, 0, err, errlen)))
        goto fail;
    o->env = (struct bus_env){ o->zmq, o->curve };
    if (!topology_input(cfg, ROLE_LOGGER, 0, ep, sizeof(ep))) {
        snprintf(err, errlen, "the logger endpoint does not fit");
        goto fail;
    }
    /* Never blocks: the supervisor must keep supervising. */
    o->out = bus_out_new_acked(o->env, ep, id, NULL, o->stats, 0);
    if (!o->out) {
        snprintf(err, errlen, "cannot connect %s: %s", ep,
                 zmq_strerror(errno));
        goto fail;
    }
    return o;
fail:
    outages_destroy(&o);
    return NULL;
}

void outages_destroy(outages_t **op)
{
    if (!op || !*op)
        return;
    outages_t *o = *op;
    if (o->out) {
        /* What the logger never took is in the summary already: the
         * supervisor does not wait for a logger that is gone. */
        int zero = 0;
        zmq_setsockopt(bus_out_socket(o->out), ZMQ_LINGER, &zero,
                       sizeof(zero));
    }
    bus_out_destroy(&o->out);
    if (o->zmq)
        zmq_ctx_term(o->zmq);
    curve_destroy(&o->curve);
    frame_writer_destroy(&o->writer);
    stats_destroy(&o->stats);
    free(o);
    *op = NULL;
}

static bool load_stats(const outages_t *o, const char *id,
                       struct stats_snapshot *snap)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/%s.json", o->stats_dir, id);
    return stats_snapshot_load(path, snap) == 0;
}

/* Sends an ended outage, unless too many wait for acknowledgement. */
static void send_ready(outages_t *o, struct outage *g)
{
    if (g->state != OUTAGE_READY ||
        bus_out_unacked(o->out) >= UNACKED_MAX)
        return;
    struct audit_record r;
    memset(&r, 0, sizeof(r));
    r.kind = RECORD_OUTAGE;
    r.ts_ns = g->from_ns;
    r.until_ns = g->until_ns;
    r.who = bytes_of(g->who);
    r.reason = bytes_of(g->how);
    r.route.next_step = -1;
    r.lost = g->lost;
    r.n_lost = g->n_lost;
    if (frame_add_record(o->writer, &r) < 0 ||
        bus_out_flush(o->out, o->writer, 0, false) < 0) {
        log_error("cannot send the outage of %s to the logger", g->who);
        frame_writer_reset(o->writer);
        return;
    }
    g->state = OUTAGE_SENT;
}

void outages_begin(outages_t *o, const char *id, enum topology_role role,
                   pid_t pid, uint64_t spawned_ns, const char *how)
{
    o->total++;
    if (o->n == OUTAGE_MAX) {
        log_warn("more than %d outages: %s's is counted, not written",
                 OUTAGE_MAX, id);
        return;
    }
    struct outage *g = &o->list[o->n++];
    memset(g, 0, sizeof(*g));
    snprintf(g->who, sizeof(g->who), "%s", id);
    snprintf(g->how, sizeof(g->how), "%s", how);
    g->role = role;
    g->from_ns = spawned_ns;
    struct stats_snapshot snap;
    if (!load_stats(o, id, &snap) || snap.pid != (long)pid)
        return; /* it died before its first report */
    g->from_ns = snap.time_ns;
    /* Unacknowledged records went out before the report. */
    uint64_t since = stats_snapshot_get(&snap, "unacked_since_ns");
    if (since && since < g->from_ns)
        g->from_ns = since;
    for (unsigned i = 0; i < sizeof(held) / sizeof(held[0]); i++) {
        if (held[i].role != role || g->n_lost == LOST_MAX)
            continue;
        g->lost[g->n_lost].name = bytes_of(held[i].name);
        g->lost[g->n_lost++].n = stats_snapshot_get(&snap, held[i].counter);
    }
}

/* The open outage of id, or NULL. */
static struct outage *open_of(const outages_t *o, const char *id)
{
    for (unsigned i = 0; i < o->n; i++)
        if (o->list[i].state == OUTAGE_OPEN && !strcmp(o->list[i].who, id))
            return (struct outage *)&o->list[i];
    return NULL;
}

/* When the open outage g ends: now when gone, the first report of the
 * incarnation pid, or 0 when not yet. */
static uint64_t end_of(const outages_t *o, const struct outage *g, pid_t pid,
                       bool gone)
{
    struct stats_snapshot snap;
    if (gone)
        return clock_wall_ns();
    if (pid > 0 && load_stats(o, g->who, &snap) && snap.pid == (long)pid)
        return snap.time_ns; /* the new one is reporting */
    return 0;
}

bool outages_due(const outages_t *o, const char *id, pid_t pid, bool gone)
{
    const struct outage *g = open_of(o, id);
    return g && end_of(o, g, pid, gone) != 0;
}

void outages_add_lost(outages_t *o, const char *id, const char *name,
                      uint64_t n)
{
    struct outage *g = open_of(o, id);
    if (!g || g->n_lost == LOST_MAX)
        return;
    g->lost[g->n_lost].name = bytes_of(name);
    g->lost[g->n_lost++].n = n;
}

void outages_check(outages_t *o, const char *id, pid_t pid, bool gone)
{
    for (unsigned i = 0; i < o->n; i++)
        if (o->list[i].state == OUTAGE_READY)
            send_ready(o, &o->list[i]);
    struct outage *g = open_of(o, id);
    uint64_t end = g ? end_of(o, g, pid, gone) : 0;
    if (!end)
        return;
    g->until_ns = end;
    g->state = OUTAGE_READY;
    send_ready(o, g);
}

bool outages_open(const outages_t *o)
{
    for (unsigned i = 0; i < o->n; i++)
        if (o->list[i].state != OUTAGE_SENT)
            return true;
    return false;
}

bool outages_waiting(const outages_t *o)
{
    return outages_open(o) || bus_out_unacked(o->out) || !o->ended;
}

bool outages_unsent(const outages_t *o)
{
    return outages_open(o) || bus_out_unacked(o->out);
}

void outages_end(outages_t *o)
{
    if (o->ended)
        return;
    o->ended = true;
    if (bus_out_eof(o->out, 0, "supervisor done") < 0)
        log_error("cannot send eof to the logger");
}

void *outages_socket(outages_t *o) { return bus_out_socket(o->out); }

void outages_take_acks(outages_t *o)
{
    bus_out_take_acks(o->out);
    for (unsigned i = 0; i < o->n; i++)
        send_ready(o, &o->list[i]);
}

int outages_tick(outages_t *o) { return bus_out_tick(o->out); }

void outages_resend(outages_t *o)
{
    bus_out_resend(o->out);
}

unsigned outages_count(const outages_t *o) { return o->total; }

unsigned outages_unwritten(const outages_t *o)
{
    unsigned n = o->total - o->n; /* past OUTAGE_MAX */
    for (unsigned i = 0; i < o->n; i++)
        n += o->list[i].state != OUTAGE_SENT;
    /* frames sent but never acknowledged (the eof among them) */
    unsigned unacked = bus_out_unacked(o->out);
    if (unacked && o->ended)
        unacked--;
    return n + unacked;
}

void outages_print(const outages_t *o, FILE *f)
{
    for (unsigned i = 0; i < o->n; i++) {
        const struct outage *g = &o->list[i];
        uint64_t until = g->until_ns ? g->until_ns : clock_wall_ns();
        char from[40];
        clock_format_rfc3339(g->from_ns, from, sizeof(from));
        fprintf(f, "    %-14s %s for %.1fs (%s)", g->who, from,
                (double)(until > g->from_ns ? until - g->from_ns : 0) / 1e9,
                g->how);
        if (!g->n_lost)
            fprintf(f, ": what it held is not counted");
        for (unsigned k = 0; k < g->n_lost; k++)
            fprintf(f, "%s%s %llu", k ? ", " : ": ", g->lost[k].name.p,
                    (unsigned long long)g->lost[k].n);
        fputc('\n', f);
    }
    if (o->total > o->n)
        fprintf(f, "    (%u more)\n", o->total - o->n);
}
