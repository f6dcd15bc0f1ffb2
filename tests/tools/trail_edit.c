/* trail_edit.c - `trail_edit DB cut N | rewrite | swap A B`: what someone
 * with write access to a stopped trail's files could do, for the
 * end-to-end tests (trailedit.h does the work).
 *
 *   cut N      keep chain entries 1..N (records and entries after go,
 *              their bodies too), fix the meta key, drop the
 *              checkpoints after N
 *   rewrite    change a field of the record entry 1 names (GET->PUT,
 *              OK->KO, ...), then recompute the chain, the meta and the
 *              checkpoints' heads (their signatures cannot be redone)
 *   swap A B   put entries A and B in each other's place, recomputed so
 *              (the body segments rewritten in the new order)
 */
#include "trailedit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Changes one field of the record entry 1 names, keeping it a valid
 * record: the first of these strings it holds. */
static int edit_first_record(leveldb_t *db)
{
    static const char *const edits[][2] = {
        { "GET", "PUT" }, { "POST", "PUSH" }, { "DELETE", "DELATE" },
        { "OK", "KO" }, { "Not Found", "Not Fount" }, { "1.1", "1.0" },
    };
    uint8_t key[TE_KEY_MAX];
    int kl = te_entry_key(db, 1, key);
    size_t vl;
    char *v = kl < 0 ? NULL : te_get(db, key, (size_t)kl, &vl);
    if (!v)
        return -1;
    int rc = -1;
    for (size_t i = 0; rc && i < sizeof(edits) / sizeof(edits[0]); i++) {
        char *at = memmem(v, vl, edits[i][0], strlen(edits[i][0]));
        if (at) {
            memcpy(at, edits[i][1], strlen(edits[i][1]));
            rc = te_put(db, key, (size_t)kl, v, vl);
        }
    }
    leveldb_free(v);
    return rc;
}

static int swap(const char *dir, leveldb_t *db, uint64_t last, uint64_t a,
                uint64_t b)
{
    if (!a || !b || a > last || b > last)
        return -1;
    uint64_t *order = calloc(last, sizeof(*order));
    if (!order)
        return -1;
    for (uint64_t i = 0; i < last; i++)
        order[i] = i + 1;
    order[a - 1] = b;
    order[b - 1] = a;
    /* the chain in the new order, the bodies rewritten in that order
     * (their records' references change), then the chain over those */
    int rc = te_rechain(db, last, order) ||
             te_bodies_reorder(dir, db, last) || te_rechain(db, last, NULL);
    free(order);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: trail_edit DB cut N | rewrite | swap A B\n");
        return 2;
    }
    leveldb_options_t *o = leveldb_options_create();
    char *e = NULL;
    leveldb_t *db = leveldb_open(o, argv[1], &e);
    if (e) {
        fprintf(stderr, "trail_edit: %s\n", e);
        return 1;
    }
    uint64_t last = te_last_seq(db);
    const char *cmd = argv[2];
    int rc = -1;
    if (!strcmp(cmd, "cut") && argc == 4) {
        uint64_t keep = strtoull(argv[3], NULL, 10);
        if (keep >= 1 && keep < last)
            rc = te_cut_after(db, keep, last) ||
                 te_drop_checkpoints(db, keep, last) ||
                 te_bodies_cut(argv[1], db, keep);
    } else if (!strcmp(cmd, "rewrite") && argc == 3) {
        rc = edit_first_record(db) || te_rechain(db, last, NULL);
    } else if (!strcmp(cmd, "swap") && argc == 5) {
        rc = swap(argv[1], db, last, strtoull(argv[3], NULL, 10),
                  strtoull(argv[4], NULL, 10));
    }
    leveldb_close(db);
    leveldb_options_destroy(o);
    if (rc) {
        fprintf(stderr, "trail_edit: %s failed on %s (%llu entries)\n", cmd,
                argv[1], (unsigned long long)last);
        return 1;
    }
    printf("trail_edit: %s done on %s (%llu entries before)\n", cmd, argv[1],
           (unsigned long long)last);
    return 0;
}
