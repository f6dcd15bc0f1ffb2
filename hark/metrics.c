/* metrics.c - the stages' counters in the Prometheus text format. */
#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Counters that go down as well as up. A name not listed is a counter:
 * a new gauge must be added here. */
static const char *const gauges[] = {
    "flows_active", "flows_halfopen", "flow_mem", "http_mem",
    "reassembly_mem", "frag_mem", "pending", "unacked_frames",
    "unacked_since_ns", "max_rss_kb", NULL,
};

/* Counters kept in other units than Prometheus's base ones: renamed
 * and scaled (value * mul / div). */
static const struct unit {
    const char *name, *metric;
    uint64_t mul, div;
} units[] = {
    { "cpu_user_ms", "cpu_user_seconds", 1, 1000 },
    { "cpu_sys_ms", "cpu_sys_seconds", 1, 1000 },
    { "max_rss_kb", "max_rss_bytes", 1024, 1 },
    { "unacked_since_ns", "unacked_since_seconds", 1, 1000000000 },
};

static const struct unit *unit_of(const char *name)
{
    for (unsigned i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (!strcmp(units[i].name, name))
            return &units[i];
    return NULL;
}

static void put_number(FILE *f, uint64_t v, const struct unit *u)
{
    if (!u)
        fprintf(f, " %llu\n", (unsigned long long)v);
    else if (u->div == 1)
        fprintf(f, " %llu\n", (unsigned long long)(v * u->mul));
    else
        fprintf(f, " %.9g\n", (double)v / (double)u->div);
}

bool metrics_is_gauge(const char *name)
{
    for (unsigned i = 0; gauges[i]; i++)
        if (!strcmp(gauges[i], name))
            return true;
    return false;
}

/* Pipeline order; anything else last. */
static int rank(const struct stats_snapshot *s)
{
    for (unsigned r = 0; r < ROLE_COUNT; r++)
        if (!strcmp(s->stage, topology_stage(r)->name))
            return topology_stage(r)->level;
    return ROLE_COUNT;
}

static int by_pipeline(const void *a, const void *b)
{
    const struct stats_snapshot *x = a, *y = b;
    int d = rank(x) - rank(y);
    return d ? d : strcmp(x->id, y->id);
}

int metrics_load(const char *stats_dir, struct stats_snapshot *snaps,
                 unsigned max)
{
    DIR *d = opendir(stats_dir);
    if (!d)
        return -errno;
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json"))
            continue;
        char path[PATH_MAX + 300];
        snprintf(path, sizeof(path), "%s/%s", stats_dir, e->d_name);
        if (stats_snapshot_load(path, &snaps[n]) == 0)
            n++;
    }
    closedir(d);
    qsort(snaps, n, sizeof(snaps[0]), by_pipeline);
    return (int)n;
}

static bool valid_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

/* A label value, escaped as the text format wants. */
static void put_value(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fprintf(f, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

/* {stage="reassemble",shard="1"}: the shard from an id <stage>-<digits>
 * of a sharded stage. */
static void put_labels(FILE *f, const char *stage, const char *id)
{
    fputs("{stage=\"", f);
    put_value(f, stage);
    fputc('"', f);
    size_t n = strlen(stage);
    for (unsigned r = 0; r < ROLE_COUNT; r++) {
        const struct topology_stage *ts = topology_stage(r);
        if (!ts->sharded || strcmp(ts->name, stage) ||
            strncmp(id, stage, n) || id[n] != '-')
            continue;
        const char *d = id + n + 1;
        if (*d && strspn(d, "0123456789") == strlen(d))
            fprintf(f, ",shard=\"%s\"", d);
    }
    fputc('}', f);
}

/* True when name was already written (an earlier snapshot had it). */
static bool seen_before(const struct stats_snapshot *snaps, unsigned upto,
                        const char *name)
{
    for (unsigned i = 0; i < upto; i++)
        for (unsigned k = 0; k < snaps[i].n; k++)
            if (!strcmp(snaps[i].names[k], name))
                return true;
    return false;
}

/* Every sample of counter `name`, across the snapshots, as one family. */
static void put_family(FILE *f, const struct stats_snapshot *snaps,
                       unsigned n, const char *name)
{
    bool gauge = metrics_is_gauge(name);
    const struct unit *u = unit_of(name);
    const char *metric = u ? u->metric : name, *suffix = gauge ? "" : "_total";
    fprintf(f, "# HELP hark_%s%s the stages' %s %s (hark stats)\n"
               "# TYPE hark_%s%s %s\n", metric, suffix,
            gauge ? "gauge" : "counter", name, metric, suffix,
            gauge ? "gauge" : "counter");
    for (unsigned i = 0; i < n; i++)
        for (unsigned k = 0; k < snaps[i].n; k++) {
            if (strcmp(snaps[i].names[k], name))
                continue;
            fprintf(f, "hark_%s%s", metric, suffix);
            put_labels(f, snaps[i].stage, snaps[i].id);
            put_number(f, snaps[i].values[k], u);
        }
}

static void put_stage_info(FILE *f, const struct stats_snapshot *snaps,
                           unsigned n)
{
    fputs("# HELP hark_stage_reporting 1 while the stage writes its stats, "
          "0 once it has ended\n# TYPE hark_stage_reporting gauge\n", f);
    for (unsigned i = 0; i < n; i++) {
        fputs("hark_stage_reporting", f);
        put_labels(f, snaps[i].stage, snaps[i].id);
        fprintf(f, " %d\n", snaps[i].final ? 0 : 1);
    }
    fputs("# HELP hark_stage_report_time_seconds when the stage last wrote "
          "its stats\n# TYPE hark_stage_report_time_seconds gauge\n", f);
    for (unsigned i = 0; i < n; i++) {
        fputs("hark_stage_report_time_seconds", f);
        put_labels(f, snaps[i].stage, snaps[i].id);
        fprintf(f, " %llu.%03llu\n",
                (unsigned long long)(snaps[i].time_ns / 1000000000ull),
                (unsigned long long)(snaps[i].time_ns / 1000000ull % 1000));
    }
}

static void put_supervisor(FILE *f, const struct metrics_supervisor *sup)
{
    fputs("# HELP hark_stage_up 1 while the supervisor runs the stage\n"
          "# TYPE hark_stage_up gauge\n", f);
    for (unsigned i = 0; i < sup->n; i++) {
        fputs("hark_stage_up", f);
        put_labels(f, sup->children[i].stage, sup->children[i].id);
        fprintf(f, " %d\n", sup->children[i].up ? 1 : 0);
    }
    fputs("# HELP hark_stage_restarts_total times the supervisor restarted "
          "the stage\n# TYPE hark_stage_restarts_total counter\n", f);
    for (unsigned i = 0; i < sup->n; i++) {
        fputs("hark_stage_restarts_total", f);
        put_labels(f, sup->children[i].stage, sup->children[i].id);
        fprintf(f, " %u\n", sup->children[i].restarts);
    }
    fprintf(f, "# HELP hark_supervisor_outages_total stages that died and "
               "took what they held (outage records)\n"
               "# TYPE hark_supervisor_outages_total counter\n"
               "hark_supervisor_outages_total %u\n"
               "# HELP hark_supervisor_reloads_total SIGHUPs that reloaded "
               "the config\n"
               "# TYPE hark_supervisor_reloads_total counter\n"
               "hark_supervisor_reloads_total %u\n"
               "# HELP hark_supervisor_reload_failures_total SIGHUPs "
               "refused (a file that does not load)\n"
               "# TYPE hark_supervisor_reload_failures_total counter\n"
               "hark_supervisor_reload_failures_total %u\n"
               "# HELP hark_metrics_refused_total /metrics connections "
               "refused: every client slot taken\n"
               "# TYPE hark_metrics_refused_total counter\n"
               "hark_metrics_refused_total %llu\n"
               "# HELP hark_metrics_dropped_total /metrics clients closed "
               "without an answer (too long, too slow, an error)\n"
               "# TYPE hark_metrics_dropped_total counter\n"
               "hark_metrics_dropped_total %llu\n",
            sup->outages, sup->reloads, sup->reload_failures,
            (unsigned long long)sup->scrapes_refused,
            (unsigned long long)sup->scrapes_dropped);
}

void metrics_write(FILE *f, const struct stats_snapshot *snaps, unsigned n,
                   const struct metrics_supervisor *sup)
{
    for (unsigned i = 0; i < n; i++)
        for (unsigned k = 0; k < snaps[i].n; k++) {
            const char *name = snaps[i].names[k];
            bool dup = seen_before(snaps, i, name);
            for (unsigned j = 0; j < k && !dup; j++)
                dup = !strcmp(snaps[i].names[j], name);
            if (valid_name(name) && !dup)
                put_family(f, snaps, n, name);
        }
    put_stage_info(f, snaps, n);
    if (sup)
        put_supervisor(f, sup);
}
