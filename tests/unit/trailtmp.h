/* trailtmp.h - a throwaway directory for a unit test's trail.
 *
 * trailtmp_new() makes /tmp/hark-<what>-XXXXXX and gives the path of a
 * trail inside it ("<dir>/db", which store_open creates);
 * trailtmp_remove() deletes the lot. trailtmp_raw() opens the trail with
 * LevelDB directly, as someone with access to its files would.
 * trailtmp_setup() and trailtmp_teardown() are cmocka fixtures giving
 * each test a struct trailtmp of its own.
 */
#ifndef HARK_TRAILTMP_H
#define HARK_TRAILTMP_H

#include <ftw.h>
#include <leveldb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRAILTMP_PATH 64

static inline int trailtmp_rm(const char *path, const struct stat *sb,
                              int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* 0 with the trail's path in dir, or -1. */
static inline int trailtmp_new(const char *what, char dir[TRAILTMP_PATH])
{
    snprintf(dir, TRAILTMP_PATH, "/tmp/hark-%s-XXXXXX", what);
    if (!mkdtemp(dir))
        return -1;
    strcat(dir, "/db");
    return 0;
}

static inline void trailtmp_remove(char dir[TRAILTMP_PATH])
{
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    nftw(dir, trailtmp_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* The trail opened with LevelDB itself, or NULL. */
static inline leveldb_t *trailtmp_raw(const char *dir)
{
    leveldb_options_t *o = leveldb_options_create();
    char *e = NULL;
    leveldb_t *db = leveldb_open(o, dir, &e);
    leveldb_options_destroy(o);
    if (e)
        leveldb_free(e);
    return e ? NULL : db;
}

/* A cmocka fixture: a test's own trail directory. */
struct trailtmp {
    char dir[TRAILTMP_PATH];
};

static inline int trailtmp_setup(void **state)
{
    struct trailtmp *t = calloc(1, sizeof(*t));
    if (!t || trailtmp_new("unit", t->dir) < 0) {
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

static inline int trailtmp_teardown(void **state)
{
    struct trailtmp *t = *state;
    trailtmp_remove(t->dir);
    free(t);
    return 0;
}

#endif
