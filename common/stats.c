/* stats.c - named counters with JSON snapshots. */
#include "stats.h"
#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct stats {
    char stage[32];
    char id[48];
    unsigned n;
    const char *names[STATS_MAX];
    uint64_t values[STATS_MAX];
};

stats_t *stats_new(const char *stage, const char *id)
{
    stats_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    snprintf(s->stage, sizeof(s->stage), "%s", stage);
    snprintf(s->id, sizeof(s->id), "%s", id);
    return s;
}

void stats_destroy(stats_t **s)
{
    if (!s || !*s)
        return;
    free(*s);
    *s = NULL;
}

uint64_t *stats_add(stats_t *s, const char *name)
{
    for (unsigned i = 0; i < s->n; i++)
        if (!strcmp(s->names[i], name))
            return &s->values[i];
    if (s->n == STATS_MAX)
        return NULL;
    s->names[s->n] = name;
    s->values[s->n] = 0;
    return &s->values[s->n++];
}

uint64_t stats_get(const stats_t *s, const char *name)
{
    for (unsigned i = 0; i < s->n; i++)
        if (!strcmp(s->names[i], name))
            return s->values[i];
    return 0;
}

unsigned stats_count(const stats_t *s) { return s->n; }
const char *stats_name(const stats_t *s, unsigned i) { return s->names[i]; }
uint64_t stats_value(const stats_t *s, unsigned i) { return s->values[i]; }
const char *stats_id(const stats_t *s) { return s->id; }
const char *stats_stage(const stats_t *s) { return s->stage; }

int stats_write_file(const stats_t *s, const char *dir, bool final)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof(path), "%s/%s.json", dir, s->id);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -errno;
    fprintf(f, "{\"id\":\"%s\",\"stage\":\"%s\",\"pid\":%ld,"
               "\"time_ns\":%llu,\"final\":%s,\"counters\":{",
            s->id, s->stage, (long)getpid(),
            (unsigned long long)clock_wall_ns(), final ? "true" : "false");
    for (unsigned i = 0; i < s->n; i++)
        fprintf(f, "%s\"%s\":%llu", i ? "," : "", s->names[i],
                (unsigned long long)s->values[i]);
    fprintf(f, "}}\n");
    if (fclose(f) != 0) {
        int e = -errno;
        unlink(tmp);
        return e;
    }
    if (rename(tmp, path) != 0)
        return -errno;
    return 0;
}
