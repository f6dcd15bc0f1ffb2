/* stats_cmd.c - `hark stats`: every stage's counters from the run dir.
 *
 * Stages rewrite <run_dir>/stats/<id>.json each second and once more as
 * they exit, so this works during a live run and after an offline one.
 * (The same counters go out as `stats` frames on each stage's tap, for
 * stages on other machines: `hark tap stats`.) --prometheus prints them
 * in the Prometheus text format (metrics.h).
 */
#include "supervisor.h"
#include "clock.h"
#include "config.h"
#include "metrics.h"
#include "stats.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: hark stats [-c FILE] [--run-dir DIR] [--json | "
               "--prometheus] [--all]\n\n"
               "Prints the counters of every stage of the pipeline that "
               "uses DIR (default:\nbus.run_dir): what each stage took in, "
               "made, refused and dropped.\n"
               "  --json   one JSON object per stage, one per line\n"
               "  --all    also counters that are zero\n"
               "  --prometheus  the Prometheus text format (counters "
               "hark_<name>_total,\n"
               "           labelled with stage and shard)\n");
}

int hark_stats_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "run-dir", required_argument, NULL, 'R' },
        { "json", no_argument, NULL, 'j' },
        { "all", no_argument, NULL, 'a' },
        { "prometheus", no_argument, NULL, 'P' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config_path = NULL, *run_dir = NULL;
    bool json = false, all = false, prometheus = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'R': run_dir = optarg; break;
        case 'j': json = true; break;
        case 'a': all = true; break;
        case 'P': prometheus = true; break;
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
    static struct stats_snapshot snaps[METRICS_MAX_STAGES];
    int loaded = metrics_load(dir, snaps, METRICS_MAX_STAGES);
    if (loaded == -ENOENT || loaded == -ENOTDIR) {
        fprintf(stderr, "hark stats: no pipeline stats in %s (is `hark run` "
                        "using another --run-dir?)\n", dir);
        return 1;
    }
    if (loaded <= 0) {
        fprintf(stderr, "hark stats: no stage has written stats to %s yet"
                        "%s%s\n", dir, loaded < 0 ? ": " : "",
                loaded < 0 ? strerror(-loaded) : "");
        return 1;
    }
    unsigned n = (unsigned)loaded;
    if (prometheus) {
        metrics_write(stdout, snaps, n, NULL);
        return fflush(stdout) == 0 ? 0 : 1;
    }
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
