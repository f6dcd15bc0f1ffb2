/* stats.c - named counters with JSON snapshots. */
#include "stats.h"
#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct stats {
    char stage[32];
    char id[48];
    unsigned n;
    const char *names[STATS_MAX];
    /* Where each counter lives: in own[] (stats_add) or in the module
     * that counts (stats_attach); snapshots read through the pointer. */
    const uint64_t *where[STATS_MAX];
    uint64_t own[STATS_MAX];
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

static int find(const stats_t *s, const char *name)
{
    for (unsigned i = 0; i < s->n; i++)
        if (!strcmp(s->names[i], name))
            return (int)i;
    return -1;
}

uint64_t *stats_add(stats_t *s, const char *name)
{
    int i = find(s, name);
    if (i >= 0)
        return s->where[i] == &s->own[i] ? &s->own[i] : NULL;
    if (s->n == STATS_MAX)
        return NULL;
    s->names[s->n] = name;
    s->own[s->n] = 0;
    s->where[s->n] = &s->own[s->n];
    return &s->own[s->n++];
}

int stats_attach(stats_t *s, const char *name, const uint64_t *counter)
{
    if (find(s, name) >= 0)
        return -EEXIST;
    if (s->n == STATS_MAX)
        return -ENOSPC;
    s->names[s->n] = name;
    s->where[s->n++] = counter;
    return 0;
}

uint64_t stats_get(const stats_t *s, const char *name)
{
    int i = find(s, name);
    return i >= 0 ? *s->where[i] : 0;
}

unsigned stats_count(const stats_t *s) { return s->n; }
const char *stats_name(const stats_t *s, unsigned i) { return s->names[i]; }
uint64_t stats_value(const stats_t *s, unsigned i) { return *s->where[i]; }
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
                (unsigned long long)*s->where[i]);
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

/* The files are ours and flat: {"id":"..","stage":"..","pid":N,
 * "time_ns":N,"final":B,"counters":{"name":N,...}}. Still read with
 * bounds checks: a truncated or foreign file is refused, not trusted. */
static const char *json_string(const char *p, const char *end, char *out,
                               size_t size)
{
    if (p >= end || *p != '"')
        return NULL;
    size_t n = 0;
    for (p++; p < end && *p != '"'; p++) {
        if (*p == '\\')
            return NULL; /* names we write never need escapes */
        if (n + 1 < size)
            out[n++] = *p;
    }
    if (p >= end)
        return NULL;
    out[n] = '\0';
    return p + 1;
}

static const char *json_uint(const char *p, const char *end, uint64_t *v)
{
    if (p >= end || *p < '0' || *p > '9')
        return NULL;
    uint64_t x = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++)
        x = x * 10 + (uint64_t)(*p - '0');
    *v = x;
    return p;
}

static const char *json_expect(const char *p, const char *end, char c)
{
    return p < end && *p == c ? p + 1 : NULL;
}

int stats_snapshot_load(const char *path, struct stats_snapshot *snap)
{
    char buf[16384];
    /* Read by root from a directory the stages' user writes: never
     * through a link, never blocking on something that is not a file. */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat sb;
    ssize_t got = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)
                      ? read(fd, buf, sizeof(buf))
                      : -1;
    close(fd);
    if (got < 0)
        return -EINVAL;
    size_t len = (size_t)got;
    memset(snap, 0, sizeof(*snap));
    const char *p = buf, *end = buf + len;
    char key[48];
    if (!(p = json_expect(p, end, '{')))
        return -EBADMSG;
    for (;;) {
        if (!(p = json_string(p, end, key, sizeof(key))) ||
            !(p = json_expect(p, end, ':')))
            return -EBADMSG;
        uint64_t v = 0;
        if (!strcmp(key, "id")) {
            p = json_string(p, end, snap->id, sizeof(snap->id));
        } else if (!strcmp(key, "stage")) {
            p = json_string(p, end, snap->stage, sizeof(snap->stage));
        } else if (!strcmp(key, "pid")) {
            p = json_uint(p, end, &v);
            snap->pid = (long)v;
        } else if (!strcmp(key, "time_ns")) {
            p = json_uint(p, end, &snap->time_ns);
        } else if (!strcmp(key, "final")) {
            snap->final = end - p >= 4 && !memcmp(p, "true", 4);
            p = snap->final ? p + 4 : end - p >= 5 ? p + 5 : NULL;
        } else if (!strcmp(key, "counters")) {
            if (!(p = json_expect(p, end, '{')))
                return -EBADMSG;
            while (p && p < end && *p != '}') {
                if (snap->n == STATS_MAX)
                    return -EBADMSG;
                p = json_string(p, end, snap->names[snap->n],
                                sizeof(snap->names[0]));
                if (p)
                    p = json_expect(p, end, ':');
                if (p)
                    p = json_uint(p, end, &snap->values[snap->n]);
                snap->n++;
                if (p && p < end && *p == ',')
                    p++;
            }
            if (p)
                p = json_expect(p, end, '}');
        } else {
            return -EBADMSG;
        }
        if (!p || p >= end)
            return -EBADMSG;
        if (*p == '}')
            return 0;
        if (!(p = json_expect(p, end, ',')))
            return -EBADMSG;
    }
}

uint64_t stats_snapshot_get(const struct stats_snapshot *snap,
                            const char *name)
{
    for (unsigned i = 0; i < snap->n; i++)
        if (!strcmp(snap->names[i], name))
            return snap->values[i];
    return 0;
}
