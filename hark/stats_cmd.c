/* stats_cmd.c - `hark stats`: every stage's counters from the run dir.
 *
 * Stages rewrite <run_dir>/stats/<id>.json each second and once more as
 * they exit, so this works during a live run and after an offline one.
 * (The same counters go out as `stats` frames on each stage's tap, for
 * stages on other machines: `hark tap stats`.)
 */
#include "supervisor.h"
#include "clock.h"
#include "config.h"
#include "stats.h"
#include "topology.h"

#include <dirent.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SNAPSHOTS 80

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

static void usage(FILE *f)
{
    fprintf(f, "usage: hark stats [-c FILE] [--run-dir DIR] [--json] "
               "[--all]\n\n"
               "Prints the counters of every stage of the pipeline that "
               "uses DIR (default:\nbus.run_dir): what each stage took in, "
               "made, refused and dropped.\n"
               "  --json   one JSON object per stage, one per line\n"
               "  --all    also counters that are zero\n");
}

int hark_stats_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "run-dir", required_argument, NULL, 'R' },
        { "json", no_argument, NULL, 'j' },
        { "all", no_argument, NULL, 'a' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config_path = NULL, *run_dir = NULL;
    bool json = false, all = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'R': run_dir = optarg; break;
        case 'j': json = true; break;
        case 'a': all = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    struct config *cfg = NULL;
    char err[512];
    if (config_path ? config_load(config_path, &cfg, err, sizeof(err)) < 0
                    : !(cfg = config_default())) {
        fprintf(stderr, "hark stats: %s\n", config_path ? err : "no memory");
        return 2;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/stats", run_dir ? run_dir
                                                    : cfg->bus.run_dir);
    config_destroy(&cfg);
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "hark stats: no pipeline stats in %s (is `hark run` "
                        "using another --run-dir?)\n", dir);
        return 1;
    }
    static struct stats_snapshot snaps[MAX_SNAPSHOTS];
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_SNAPSHOTS) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json"))
            continue;
        char path[PATH_MAX + 300];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stats_snapshot_load(path, &snaps[n]) == 0)
            n++;
    }
    closedir(d);
    if (n == 0) {
        fprintf(stderr, "hark stats: no stage has written stats to %s yet\n",
                dir);
        return 1;
    }
    qsort(snaps, n, sizeof(snaps[0]), by_pipeline);
    for (unsigned i = 0; i < n; i++) {
        const struct stats_snapshot *s = &snaps[i];
        char when[40];
        clock_format_rfc3339(s->time_ns, when, sizeof(when));
        if (json) {
            printf("{\"id\":\"%s\",\"stage\":\"%s\",\"pid\":%ld,"
                   "\"time\":\"%s\",\"final\":%s,\"counters\":{",
                   s->id, s->stage, s->pid, when, s->final ? "true" : "false");
            for (unsigned k = 0; k < s->n; k++)
                printf("%s\"%s\":%llu", k ? "," : "", s->names[k],
                       (unsigned long long)s->values[k]);
            printf("}}\n");
            continue;
        }
        printf("%s (pid %ld, %s, %s)\n", s->id, s->pid,
               s->final ? "finished" : "running", when);
        for (unsigned k = 0; k < s->n; k++)
            if (all || s->values[k])
                printf("  %-24s %llu\n", s->names[k],
                       (unsigned long long)s->values[k]);
    }
    return 0;
}
