/* test_common_store.c - the audit trail: order, chain, reopen, tamper.
 *
 * Each test builds a trail in its own temporary directory. Tampering is
 * done with LevelDB directly, as someone with access to the files would.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "store.h"
#include "store_index.h"
#include "store_query.h"
#include "store_verify.h"
#include "trailedit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <leveldb/c.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "trailtmp.h"

static const struct msg_header hdrs[] = {
    { BYTES_LIT("Host"), BYTES_LIT("example.com") },
    { BYTES_LIT("Accept"), BYTES_LIT("*/*") },
};

static struct audit_record make(enum record_kind kind, uint64_t ts,
                                const char *uid, uint32_t idx)
{
    struct audit_record r = {
        .kind = kind,
        .uid = bytes_of(uid),
        .idx = idx,
        .ts_ns = ts,
        .addr = { BYTES_LIT("192.0.2.1"), 40000, BYTES_LIT("192.0.2.2"), 80 },
        .route = { BYTES_LIT("g"), BYTES_LIT("/"), BYTES_LIT("audit"), 1 },
        .step = BYTES_LIT("log"),
        .method = BYTES_LIT("GET"),
        .uri = BYTES_LIT("/x?y=1"),
        .host = BYTES_LIT("example.com"),
        .version = BYTES_LIT("1.1"),
        .headers = hdrs,
        .n_headers = 2,
        .body = BYTES_LIT("body\0bytes"),
        .body_len = 100,
    };
    if (kind == RECORD_RESPONSE) {
        r.status = 200;
        r.reason = BYTES_LIT("OK");
        r.outcome = BYTES_LIT("ok");
        r.latency_ns = 7;
    }
    return r;
}

static store_t *open_rw(const char *dir)
{
    store_t *s = NULL;
    char err[256] = "";
    int rc = store_open(dir, STORE_CREATE, &s, err, sizeof(err));
    if (rc)
        fail_msg("store_open %s: %d %s", dir, rc, err);
    return s;
}

static void put_commit(store_t *s, const struct audit_record *r, size_t n)
{
    char err[256];
    for (size_t i = 0; i < n; i++)
        assert_int_equal(store_put(s, &r[i]), 0);
    assert_int_equal(store_commit(s, true, err, sizeof(err)), 0);
    assert_int_equal(store_pending(s), 0);
}

/* Six records written out of time order, in two batches. */
static void build_trail(const char *dir)
{
    struct audit_record a[] = {
        make(RECORD_REQUEST, 3000, "00000000000000c3", 0),
        make(RECORD_REQUEST, 1000, "00000000000000a1", 0),
        make(RECORD_RESPONSE, 3500, "00000000000000c3", 0),
    };
    struct audit_record b[] = {
        make(RECORD_RESPONSE, 1200, "00000000000000a1", 0),
        make(RECORD_REQUEST, 2000, "00000000000000b2", 1),
        make(RECORD_RESPONSE, 2100, "00000000000000b2", 1),
    };
    store_t *s = open_rw(dir);
    put_commit(s, a, 3);
    put_commit(s, b, 3);
    assert_int_equal(store_last_seq(s), 6);
    store_close(&s);
    assert_null(s);
    store_close(&s); /* safe twice */
}

static uint64_t expect_verify_ok(const char *dir)
{
    store_t *s = NULL;
    char err[256];
    assert_int_equal(store_open(dir, 0, &s, err, sizeof(err)), 0);
    struct store_verify v;
    int rc = store_verify(s, NULL, &v);
    if (rc)
        fail_msg("verify: %d seq %llu: %s", rc, (unsigned long long)v.bad_seq,
                 v.why);
    uint8_t head[STORE_HASH_BYTES];
    store_head(s, head);
    assert_memory_equal(head, v.head, sizeof(head));
    store_close(&s);
    return v.records;
}

/* Runs verify and checks it fails at seq with a reason containing why. */
static void expect_verify_bad(const char *dir, uint64_t seq, const char *why)
{
    store_t *s = NULL;
    char err[256];
    assert_int_equal(store_open(dir, 0, &s, err, sizeof(err)), 0);
    struct store_verify v;
    assert_int_equal(store_verify(s, NULL, &v), -EBADMSG);
    if (v.bad_seq != seq || !strstr(v.why, why))
        fail_msg("verify: want seq %llu '%s', got seq %llu '%s'",
                 (unsigned long long)seq, why, (unsigned long long)v.bad_seq,
                 v.why);
    store_close(&s);
}

static void test_order_and_fields(void **state)
{
    struct trailtmp *fx = *state;
    build_trail(fx->dir);
    store_t *s = NULL;
    char err[256];
    assert_int_equal(store_open(fx->dir, 0, &s, err, sizeof(err)), 0);
    store_iter_t *it = store_iter_new(s, 0, UINT64_MAX, NULL, 0);
    assert_non_null(it);
    static const uint64_t want_ts[] = { 1000, 1200, 2000, 2100, 3000, 3500 };
    static const char *const want_uid[] = {
        "00000000000000a1", "00000000000000a1", "00000000000000b2",
        "00000000000000b2", "00000000000000c3", "00000000000000c3",
    };
    struct audit_record r;
    size_t n = 0;
    int rc;
    while ((rc = store_iter_next(it, &r)) == 1) {
        assert_true(n < 6);
        assert_int_equal(r.ts_ns, want_ts[n]);
        assert_true(bytes_eq(r.uid, want_uid[n]));
        assert_int_equal(r.kind, n % 2 ? RECORD_RESPONSE : RECORD_REQUEST);
        assert_true(bytes_eq(r.method, "GET"));
        assert_true(bytes_eq(r.uri, "/x?y=1"));
        assert_int_equal(r.n_headers, 2);
        assert_true(bytes_eq(r.headers[1].name, "Accept"));
        assert_true(bytes_eq(r.headers[1].value, "*/*"));
        assert_int_equal(r.body.n, 10);
        assert_memory_equal(r.body.p, "body\0bytes", 10);
        assert_int_equal(r.body_len, 100);
        assert_int_equal(r.addr.src_port, 40000);
        assert_true(bytes_eq(r.route.policy, "audit"));
        if (r.kind == RECORD_RESPONSE) {
            assert_int_equal(r.status, 200);
            assert_true(bytes_eq(r.outcome, "ok"));
            assert_int_equal(r.latency_ns, 7);
        }
        size_t kl;
        const uint8_t *k = store_iter_key(it, &kl);
        assert_int_equal(kl, 22);
        assert_int_equal(k[0], 't');
        n++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, 6);
    store_iter_destroy(&it);
    assert_null(it);

    /* [since, until) */
    it = store_iter_new(s, 1200, 3000, NULL, 0);
    n = 0;
    while (store_iter_next(it, &r) == 1) {
        assert_true(r.ts_ns >= 1200 && r.ts_ns < 3000);
        n++;
    }
    assert_int_equal(n, 3);
    store_iter_destroy(&it);
    store_close(&s);
    assert_int_equal(expect_verify_ok(fx->dir), 6);
}

/* The trail holds n records, in key order with these steps (labels) and
 * key lengths (22: no dup suffix, 26: one). */
static void expect_steps_and_keys(store_t *s, const char *const *steps,
                                  const size_t *key_len, int n)
{
    store_iter_t *it = store_iter_new(s, 0, UINT64_MAX, NULL, 0);
    struct audit_record got;
    for (int i = 0; i < n; i++) {
        assert_int_equal(store_iter_next(it, &got), 1);
        assert_true(bytes_eq(got.step, steps[i]));
        size_t kl;
        store_iter_key(it, &kl);
        assert_int_equal(kl, key_len[i]);
    }
    assert_int_equal(store_iter_next(it, &got), 0);
    store_iter_destroy(&it);
}

/* Same (ts, uid, idx, kind) twice, in one batch and across batches: all
 * kept, none overwritten (the chain would call that an edit). */
static void test_duplicate_keys(void **state)
{
    struct trailtmp *fx = *state;
    store_t *s = open_rw(fx->dir);
    struct audit_record r[3] = {
        make(RECORD_REQUEST, 5, "00000000000000aa", 0),
        make(RECORD_REQUEST, 5, "00000000000000aa", 0),
        make(RECORD_REQUEST, 5, "00000000000000aa", 0),
    };
    r[1].step = BYTES_LIT("second");
    r[2].step = BYTES_LIT("third");
    put_commit(s, r, 2);
    put_commit(s, r + 2, 1);
    static const char *const steps[] = { "log", "second", "third" };
    static const size_t key_len[] = { 22, 26, 26 };
    expect_steps_and_keys(s, steps, key_len, 3);
    store_close(&s);
    assert_int_equal(expect_verify_ok(fx->dir), 3);
}

/* Keys past the largest one stored skip the lookup (free_key): one
 * equal to a stored key after a reopen, one older than the newest, and
 * one repeated in the next batch still get their dup suffix. */
static void test_duplicate_keys_after_reopen(void **state)
{
    struct trailtmp *fx = *state;
    store_t *s = open_rw(fx->dir);
    struct audit_record a = make(RECORD_REQUEST, 5, "00000000000000aa", 0);
    struct audit_record b = make(RECORD_REQUEST, 9, "00000000000000bb", 0);
    struct audit_record c = make(RECORD_REQUEST, 3, "00000000000000cc", 0);
    put_commit(s, &a, 1);
    store_close(&s);
    s = open_rw(fx->dir);
    a.step = BYTES_LIT("a again");
    put_commit(s, &a, 1);   /* the largest key, from the DB */
    put_commit(s, &b, 1);
    put_commit(s, &c, 1);   /* older than b: looked up, new */
    c.step = BYTES_LIT("c again");
    put_commit(s, &c, 1);   /* older, and stored: dup */
    b.step = BYTES_LIT("b again");
    put_commit(s, &b, 1);   /* the largest committed key: dup */
    static const char *const steps[] = { "log", "c again", "log", "a again",
                                         "log", "b again" };
    static const size_t key_len[] = { 22, 26, 22, 26, 22, 26 };
    expect_steps_and_keys(s, steps, key_len, 6);
    store_close(&s);
    assert_int_equal(expect_verify_ok(fx->dir), 6);
}

/* A uid that is not 16 hex digits still sorts and reads back. */
static void test_odd_uid(void **state)
{
    struct trailtmp *fx = *state;
    store_t *s = open_rw(fx->dir);
    struct audit_record r = make(RECORD_REQUEST, 9, "not-hex", 0);
    put_commit(s, &r, 1);
    store_iter_t *it = store_iter_new(s, 0, UINT64_MAX, NULL, 0);
    struct audit_record got;
    assert_int_equal(store_iter_next(it, &got), 1);
    assert_true(bytes_eq(got.uid, "not-hex"));
    store_iter_destroy(&it);
    /* not a request or response */
    r.kind = (enum record_kind)7;
    assert_int_equal(store_put(s, &r), -EINVAL);
    store_close(&s);
}

static void test_reopen_continues_chain(void **state)
{
    struct trailtmp *fx = *state;
    build_trail(fx->dir);
    store_t *s = open_rw(fx->dir);
    assert_int_equal(store_last_seq(s), 6);
    uint8_t head6[STORE_HASH_BYTES];
    store_head(s, head6);
    struct audit_record r = make(RECORD_REQUEST, 500, "00000000000000d4", 0);
    put_commit(s, &r, 1);
    assert_int_equal(store_last_seq(s), 7);
    uint8_t head7[STORE_HASH_BYTES];
    store_head(s, head7);
    assert_memory_not_equal(head6, head7, sizeof(head6));
    assert_true(store_bytes_written(s) > 0);
    /* an uncommitted record is dropped at close */
    r.ts_ns = 600;
    assert_int_equal(store_put(s, &r), 0);
    assert_int_equal(store_pending(s), 1);
    store_close(&s);
    assert_int_equal(expect_verify_ok(fx->dir), 7);
    s = open_rw(fx->dir);
    assert_int_equal(store_last_seq(s), 7);
    uint8_t again[STORE_HASH_BYTES];
    store_head(s, again);
    assert_memory_equal(again, head7, sizeof(again));
    store_close(&s);
}

/* The last committed frame per producer incarnation: written with the
 * batch (even one without records), read back after a reopen, and the
 * first commit of a new incarnation removes the older one's entry. */
static void test_producers(void **state)
{
    struct trailtmp *fx = *state;
    char err[256];
    struct bytes a1 = BYTES_LIT("correlate:00000000000000a1");
    struct bytes a2 = BYTES_LIT("correlate:00000000000000a2");
    struct bytes h = BYTES_LIT("hark:0000000000000001");
    uint64_t seq = 99;
    store_t *s = open_rw(fx->dir);
    assert_int_equal(store_producer_get(s, a1, &seq), -ENOENT);
    struct audit_record r = make(RECORD_REQUEST, 100, "00000000000000d1", 0);
    assert_int_equal(store_put(s, &r), 0);
    assert_int_equal(store_producer_put(s, a1, 7, true), 0);
    assert_int_equal(store_producer_put(s, h, 0, true), 0);
    /* not visible before the commit */
    assert_int_equal(store_producer_get(s, a1, &seq), -ENOENT);
    assert_int_equal(store_commit(s, true, err, sizeof(err)), 0);
    assert_int_equal(store_producer_get(s, a1, &seq), 0);
    assert_int_equal(seq, 7);
    /* an uncommitted update is dropped with the batch at close */
    assert_int_equal(store_producer_put(s, a1, 9, false), 0);
    store_close(&s);

    s = open_rw(fx->dir);
    assert_int_equal(store_producer_get(s, a1, &seq), 0);
    assert_int_equal(seq, 7);
    /* a batch of only a producer's progress (an eof) is committed */
    assert_int_equal(store_producer_put(s, a1, 8, false), 0);
    assert_int_equal(store_pending(s), 0);
    assert_int_equal(store_commit(s, true, err, sizeof(err)), 0);
    assert_int_equal(store_producer_get(s, a1, &seq), 0);
    assert_int_equal(seq, 8);
    /* the next incarnation of correlate replaces it; hark's stays */
    assert_int_equal(store_producer_put(s, a2, 0, true), 0);
    assert_int_equal(store_commit(s, true, err, sizeof(err)), 0);
    assert_int_equal(store_producer_get(s, a1, &seq), -ENOENT);
    assert_int_equal(store_producer_get(s, a2, &seq), 0);
    assert_int_equal(seq, 0);
    assert_int_equal(store_producer_get(s, h, &seq), 0);
    /* ids that do not fit */
    char big[STORE_PRODUCER_ID_MAX + 2];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(store_producer_put(s, bytes_of(big), 1, true), -EINVAL);
    assert_int_equal(store_producer_put(s, bytes_of(""), 1, true), -EINVAL);
    store_close(&s);
    /* the chain does not include them: verify still passes */
    assert_int_equal(expect_verify_ok(fx->dir), 1);
}

/* An outage record is stored like the others: keyed by its start,
 * chained, decoded with who, until, reason and what it lost. */
static void test_outage_record(void **state)
{
    struct trailtmp *fx = *state;
    static const struct record_count lost[] = {
        { BYTES_LIT("open_connections"), 12 },
        { BYTES_LIT("waits"), 0 },
    };
    struct audit_record in[2] = {
        make(RECORD_REQUEST, 200, "00000000000000d1", 0),
        { .kind = RECORD_OUTAGE, .ts_ns = 150, .until_ns = 450,
          .who = BYTES_LIT("reassemble-1"),
          .reason = BYTES_LIT("killed by signal 9 (Killed)"),
          .route.next_step = -1, .lost = lost, .n_lost = 2 },
    };
    store_t *s = open_rw(fx->dir);
    put_commit(s, in, 2);
    store_iter_t *it = store_iter_new(s, 0, UINT64_MAX, NULL, 0);
    struct audit_record r;
    assert_int_equal(store_iter_next(it, &r), 1);
    assert_int_equal(r.kind, RECORD_OUTAGE);
    assert_int_equal(r.ts_ns, 150);
    assert_int_equal(r.until_ns, 450);
    assert_true(bytes_eq(r.who, "reassemble-1"));
    assert_true(bytes_eq(r.reason, "killed by signal 9 (Killed)"));
    assert_int_equal(r.n_lost, 2);
    assert_true(bytes_eq(r.lost[0].name, "open_connections"));
    assert_int_equal(r.lost[0].n, 12);
    assert_int_equal(r.lost[1].n, 0);
    assert_int_equal(r.n_headers, 0);
    assert_int_equal(r.uid.n, 0);
    assert_int_equal(store_iter_next(it, &r), 1);
    assert_int_equal(r.kind, RECORD_REQUEST);
    assert_int_equal(store_iter_next(it, &r), 0);
    store_iter_destroy(&it);
    store_close(&s);
    assert_int_equal(expect_verify_ok(fx->dir), 2);
}

static void test_open_errors(void **state)
{
    struct trailtmp *fx = *state;
    store_t *s = NULL, *t = NULL;
    char err[256] = "";
    assert_int_equal(store_open(fx->dir, 0, &s, err, sizeof(err)), -ENOENT);
    assert_null(s);
    assert_non_null(strstr(err, "no audit trail at"));
    s = open_rw(fx->dir);
    /* LevelDB's lock: a second open fails, as when the logger runs */
    assert_int_equal(store_open(fx->dir, 0, &t, err, sizeof(err)), -EBUSY);
    assert_null(t);
    assert_non_null(strstr(err, "LOCK"));
    store_close(&s);
    assert_int_equal(store_open(fx->dir, 0, &t, err, sizeof(err)), 0);
    store_close(&t);
    /* an empty trail verifies */
    assert_int_equal(expect_verify_ok(fx->dir), 0);
}

/* Every file under a trail: its name, size, inode and modification time,
 * one line each (nftw walks in a stable order for an unchanged tree). */
static char tree_print[16384];

static int tree_entry(const char *path, const struct stat *sb, int flag,
                      struct FTW *ftw)
{
    (void)flag;
    (void)ftw;
    size_t n = strlen(tree_print);
    snprintf(tree_print + n, sizeof(tree_print) - n, "%s %lld %llu %lld.%09ld\n",
             path, (long long)sb->st_size, (unsigned long long)sb->st_ino,
             (long long)sb->st_mtim.tv_sec, sb->st_mtim.tv_nsec);
    return 0;
}

static char *tree_of(const char *dir)
{
    tree_print[0] = '\0';
    assert_int_equal(nftw(dir, tree_entry, 16, FTW_PHYS), 0);
    assert_true(strlen(tree_print) < sizeof(tree_print) - 1);
    return strdup(tree_print);
}

/* Readers (query, export, verify, serve at rest) open views: the trail's
 * files are exactly as they were, though LevelDB, opened on them, would
 * have replayed the log the writer left and written new files; and the
 * views are gone once the readers close. */
static void test_readers_leave_trail_alone(void **state)
{
    struct trailtmp *fx = *state;
    build_trail(fx->dir);
    char views[TRAILTMP_PATH + 16];
    snprintf(views, sizeof(views), "%s.views", fx->dir);
    assert_int_equal(mkdir(views, 0700), 0);
    const char *old_tmp = getenv("TMPDIR");
    char *saved = old_tmp ? strdup(old_tmp) : NULL;
    setenv("TMPDIR", views, 1);

    /* a view a killed reader left is swept; one of a live process stays */
    pid_t dead = fork();
    assert_true(dead >= 0);
    if (dead == 0)
        _exit(0);
    assert_int_equal(waitpid(dead, NULL, 0), dead);
    char stale[TRAILTMP_PATH + 64], alive[TRAILTMP_PATH + 64];
    snprintf(stale, sizeof(stale), "%s/hark-view-%ld-abcdef", views,
             (long)dead);
    snprintf(alive, sizeof(alive), "%s/hark-view-%ld-ghijkl", views,
             (long)getppid());
    assert_int_equal(mkdir(stale, 0700), 0);
    assert_int_equal(mkdir(alive, 0700), 0);
    char inside[TRAILTMP_PATH + 80];
    snprintf(inside, sizeof(inside), "%s/CURRENT", stale);
    FILE *f = fopen(inside, "w");
    assert_non_null(f);
    fclose(f);

    char *before = tree_of(fx->dir);
    assert_non_null(strstr(before, ".log"));
    store_t *s = NULL, *t = NULL;
    char err[256];
    assert_int_equal(store_open(fx->dir, 0, &s, err, sizeof(err)), 0);
    assert_int_equal(store_open(fx->dir, 0, &t, err, sizeof(err)), 0);
    store_iter_t *it = store_iter_new(s, 0, UINT64_MAX, NULL, 0);
    struct audit_record r;
    int n = 0;
    while (store_iter_next(it, &r) == 1)
        n++;
    assert_int_equal(n, 6);
    store_iter_destroy(&it);
    struct store_verify v;
    assert_int_equal(store_verify(t, NULL, &v), 0);
    assert_int_equal(v.records, 6);
    /* a narrowed scan opens the index (a view of it too) */
    struct store_scan_opts o = { .until_ns = UINT64_MAX, .by_status = true,
                                 .status_lo = 100, .status_hi = 599 };
    store_scan_t *sc = store_scan_new(s, &o);
    assert_non_null(sc);
    assert_true(store_indexed(s));
    n = 0;
    while (store_scan_next(sc, &r) == 1)
        n++;
    assert_int_equal(n, 3);
    store_scan_destroy(&sc);
    store_close(&s);
    store_close(&t);
    char *after = tree_of(fx->dir);
    assert_string_equal(before, after);
    struct stat st;
    assert_int_equal(stat(stale, &st), -1);
    assert_int_equal(rmdir(alive), 0);
    DIR *d = opendir(views);
    struct dirent *de;
    int left = 0;
    while ((de = readdir(d)))
        left += de->d_name[0] != '.';
    closedir(d);
    assert_int_equal(left, 0);

    /* the writer goes on where it was: the readers took nothing from it */
    s = open_rw(fx->dir);
    assert_int_equal(store_last_seq(s), 6);
    store_close(&s);
    free(before);
    free(after);
    if (saved) {
        setenv("TMPDIR", saved, 1);
        free(saved);
    } else {
        unsetenv("TMPDIR");
    }
}

/* The query protocol: paged replies carry every record once. */
static void test_query_pages(void **state)
{
    struct trailtmp *fx = *state;
    build_trail(fx->dir);
    store_t *s = NULL;
    char err[256];
    assert_int_equal(store_open(fx->dir, 0, &s, err, sizeof(err)), 0);
    store_decoder_t *d = store_decoder_new();
    msgpack_sbuffer req, reply;
    msgpack_sbuffer_init(&req);
    msgpack_sbuffer_init(&reply);
    uint8_t after[STORE_KEY_MAX];
    size_t after_len = 0;
    uint64_t seen[8];
    size_t total = 0, pages = 0;
    for (;;) {
        struct store_query q = { 1100, UINT64_MAX, 2,
                                 after_len ? after : NULL, after_len };
        assert_int_equal(store_query_encode(&req, &q), 0);
        assert_int_equal(store_query_serve(s, req.data, req.size, &reply), 0);
        uint32_t n;
        const void *next;
        size_t next_len;
        assert_int_equal(store_reply_read(d, reply.data, reply.size, &n, &next,
                                          &next_len, err, sizeof(err)), 0);
        assert_true(n <= 2);
        for (uint32_t i = 0; i < n; i++) {
            struct audit_record r;
            assert_int_equal(store_reply_record(d, i, &r), 0);
            assert_true(total < 8);
            seen[total++] = r.ts_ns;
            assert_true(bytes_eq(r.headers[0].name, "Host"));
        }
        assert_int_equal(store_reply_record(d, n, &(struct audit_record){0}),
                         -EBADMSG);
        pages++;
        if (!next)
            break;
        assert_true(next_len <= sizeof(after));
        memcpy(after, next, next_len);
        after_len = next_len;
    }
    static const uint64_t want[] = { 1200, 2000, 2100, 3000, 3500 };
    assert_int_equal(total, 5);
    assert_memory_equal(seen, want, sizeof(want));
    assert_int_equal(pages, 3);

    /* bad requests get an error reply, never silence */
    assert_int_equal(store_query_serve(s, "\xc1", 1, &reply), 0);
    uint32_t n;
    const void *next;
    size_t next_len;
    assert_int_equal(store_reply_read(d, reply.data, reply.size, &n, &next,
                                      &next_len, err, sizeof(err)),
                     -EREMOTEIO);
    assert_string_equal(err, "malformed request");
    assert_int_equal(store_reply_read(d, "\x90", 1, &n, &next, &next_len, err,
                                      sizeof(err)),
                     -EBADMSG);
    msgpack_sbuffer_destroy(&req);
    msgpack_sbuffer_destroy(&reply);
    store_decoder_destroy(&d);
    store_close(&s);
}

/* ---- tampering ------------------------------------------------------ */

static leveldb_t *raw_open(const char *dir)
{
    leveldb_options_t *o = leveldb_options_create();
    char *e = NULL;
    leveldb_t *db = leveldb_open(o, dir, &e);
    leveldb_options_destroy(o);
    if (e)
        fail_msg("leveldb_open: %s", e);
    return db;
}

/* Key of the n-th (0-based, time order) record. */
static size_t nth_key(const char *dir, int n, uint8_t *key)
{
    store_t *s = NULL;
    char err[256];
    assert_int_equal(store_open(dir, 0, &s, err, sizeof(err)), 0);
    store_iter_t *it = store_iter_new(s, 0, UINT64_MAX, NULL, 0);
    struct audit_record r;
    for (int i = 0; i <= n; i++)
        assert_int_equal(store_iter_next(it, &r), 1);
    size_t kl;
    const void *k = store_iter_key(it, &kl);
    memcpy(key, k, kl);
    store_iter_destroy(&it);
    store_close(&s);
    return kl;
}

static void raw_put(const char *dir, const void *k, size_t kl, const void *v,
                    size_t vl)
{
    leveldb_t *db = raw_open(dir);
    leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
    char *e = NULL;
    leveldb_put(db, wo, k, kl, v, vl, &e);
    assert_null(e);
    leveldb_writeoptions_destroy(wo);
    leveldb_close(db);
}

static void raw_delete(const char *dir, const void *k, size_t kl)
{
    leveldb_t *db = raw_open(dir);
    leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
    char *e = NULL;
    leveldb_delete(db, wo, k, kl, &e);
    assert_null(e);
    leveldb_writeoptions_destroy(wo);
    leveldb_close(db);
}

static void seq_key(uint64_t seq, uint8_t k[9])
{
    k[0] = 's';
    for (int i = 8; i >= 1; i--, seq >>= 8)
        k[i] = (uint8_t)seq;
}

/* Write order in build_trail: seq 1 = ts 3000, 2 = 1000, 3 = 3500,
 * 4 = 1200, 5 = 2000, 6 = 2100. Time order: 1000(2) 1200(4) 2000(5)
 * 2100(6) 3000(1) 3500(3). */

/* Changes the method of the record at ts 2000 (chain seq 5) from GET to
 * PUT: a well-formed record with one field changed. */
static void edit_get_to_put(const char *dir)
{
    uint8_t key[STORE_KEY_MAX];
    size_t kl = nth_key(dir, 2, key);
    store_t *s = NULL;
    char err[256];
    assert_int_equal(store_open(dir, 0, &s, err, sizeof(err)), 0);
    store_iter_t *it = store_iter_new(s, 2000, 2001, NULL, 0);
    struct audit_record r;
    assert_int_equal(store_iter_next(it, &r), 1);
    size_t vl;
    const char *v = store_iter_value(it, &vl);
    char *copy = malloc(vl);
    memcpy(copy, v, vl);
    store_iter_destroy(&it);
    store_close(&s);
    char *get = memmem(copy, vl, "GET", 3);
    assert_non_null(get);
    memcpy(get, "PUT", 3);
    raw_put(dir, key, kl, copy, vl);
    free(copy);
}

static void test_tamper_edit(void **state)
{
    struct trailtmp *fx = *state;
    build_trail(fx->dir);
    edit_get_to_put(fx->dir);
    expect_verify_bad(fx->dir, 5, "hash mismatch");
}

static void test_tamper_garbage_value(void **state)
{
    struct trailtmp *fx = *state;
    build_trail(fx->dir);
    uint8_t key[STORE_KEY_MAX];
    size_t kl = nth_key(fx->dir, 0, key); /* ts 1000: seq 2 */
    raw_put(fx->dir, key, kl, "\xc1garbage", 8);
    expect_verify_bad(fx->dir, 2, "hash mismatch");
    /* readers skip it with an error and go on */
    store_t *s = NULL;
    char err[256];
    assert_int_equal(store_open(fx->dir, 0, &s, err, sizeof(err)), 0);
    store_iter_t *it = store_iter_new(s, 0, UINT64_MAX, NULL, 0);
    struct audit_record r;
    assert_int_equal(store_iter_next(it, &r), -EBADMSG);
    assert_int_equal(store_iter_next(it, &r), 1);
    assert_int_equal(r.ts_ns, 1200);
    store_iter_destroy(&it);
    store_close(&s);
}

static void test_tamper_delete_record(void **state)
{
    struct trailtmp *fx = *state;
    build_trail(fx->dir);
    uint8_t key[STORE_KEY_MAX];
    size_t kl = nth_key(fx->dir, 5, key); /* ts 3500: seq 3 */
    raw_delete(fx->dir, key, kl);
    expect_verify_bad(fx->dir, 3, "record missing (deleted)");
}

static void test_tamper_delete_chain_entry(void **state)
{
    struct trailtmp *fx = *state;
    build_trail(fx->dir);
    uint8_t k[9];
    seq_key(4, k);
    raw_delete(fx->dir, k, sizeof(k));
    expect_verify_bad(fx->dir, 4, "chain entry missing (deleted)");
}

/* Deleting the newest record with its chain entry leaves a consistent
 * chain; the meta key still says 6. */
static void test_tamper_delete_last(void **state)
{
    struct trailtmp *fx = *state;
    build_trail(fx->dir);
    uint8_t key[STORE_KEY_MAX];
    size_t kl = nth_key(fx->dir, 3, key); /* ts 2100: seq 6 */
    raw_delete(fx->dir, key, kl);
    uint8_t k[9];
    seq_key(6, k);
    raw_delete(fx->dir, k, sizeof(k));
    expect_verify_bad(fx->dir, 6, "meta says the last is seq 6");
}

static void test_tamper_insert(void **state)
{
    struct trailtmp *fx = *state;
    build_trail(fx->dir);
    /* a copy of a real record under a new time */
    uint8_t key[STORE_KEY_MAX];
    size_t kl = nth_key(fx->dir, 1, key);
    store_t *s = NULL;
    char err[256];
    assert_int_equal(store_open(fx->dir, 0, &s, err, sizeof(err)), 0);
    store_iter_t *it = store_iter_new(s, 0, UINT64_MAX, NULL, 0);
    struct audit_record r;
    assert_int_equal(store_iter_next(it, &r), 1);
    size_t vl;
    const char *v = store_iter_value(it, &vl);
    char *copy = malloc(vl);
    memcpy(copy, v, vl);
    store_iter_destroy(&it);
    store_close(&s);
    key[8] ^= 0x40; /* another timestamp */
    raw_put(fx->dir, key, kl, copy, vl);
    free(copy);
    expect_verify_bad(fx->dir, 0, "record not in the chain (inserted)");
}

static void test_tamper_meta(void **state)
{
    struct trailtmp *fx = *state;
    build_trail(fx->dir);
    raw_delete(fx->dir, "m", 1);
    expect_verify_bad(fx->dir, 6, "meta key missing");
}

/* ---- anchors: checkpoints and signatures ---------------------------- */

struct anchored {
    uint8_t pk[STORE_SIGN_PUBLIC_BYTES];
    uint8_t head[STORE_HASH_BYTES];  /* as the logger would print it */
};

/* build_trail's six records in two batches, a checkpoint after each, the
 * last one final, signed with a new key. */
static void build_signed(const char *dir, struct anchored *a)
{
    uint8_t sk[STORE_SIGN_SECRET_BYTES];
    assert_int_equal(sodium_init() < 0, 0);
    crypto_sign_keypair(a->pk, sk);
    build_trail(dir);
    char err[256];
    /* build_trail wrote without a key: sign on reopen, as a logger
     * restarted with logger.sign_key would (the final checkpoint covers
     * all six records) */
    store_t *s = open_rw(dir);
    store_sign_with(s, sk);
    assert_true(store_signing(s));
    assert_int_equal(store_uncheckpointed(s), 6);
    assert_int_equal(store_checkpoint(s, false), 0);
    assert_true(store_dirty(s));
    assert_int_equal(store_pending(s), 0);
    assert_int_equal(store_commit(s, true, err, sizeof(err)), 0);
    assert_int_equal(store_uncheckpointed(s), 0);
    struct audit_record r[] = {
        make(RECORD_REQUEST, 4000, "00000000000000e5", 0),
        make(RECORD_RESPONSE, 4100, "00000000000000e5", 0),
    };
    for (int i = 0; i < 2; i++)
        assert_int_equal(store_put(s, &r[i]), 0);
    assert_int_equal(store_checkpoint(s, true), 0);
    assert_int_equal(store_commit(s, true, err, sizeof(err)), 0);
    /* a second final checkpoint of the same head adds nothing */
    assert_int_equal(store_checkpoint(s, true), 0);
    assert_false(store_dirty(s));
    store_head(s, a->head);
    store_close(&s);
    sodium_memzero(sk, sizeof(sk));
}

static int verify_with(const char *dir, const struct store_verify_opts *o,
                       struct store_verify *v)
{
    store_t *s = NULL;
    char err[256];
    assert_int_equal(store_open(dir, 0, &s, err, sizeof(err)), 0);
    int rc = store_verify(s, o, v);
    store_close(&s);
    return rc;
}

static void expect_anchor_bad(const char *dir, const struct store_verify_opts *o,
                              const char *why)
{
    struct store_verify v;
    int rc = verify_with(dir, o, &v);
    if (rc != -EBADMSG || !strstr(v.why, why))
        fail_msg("verify: want '%s', got %d seq %llu '%s'", why, rc,
                 (unsigned long long)v.bad_seq, v.why);
}

/* One edit of trailedit.h on the trail at dir. */
#define EDIT(dir, call)                                                  \
    do {                                                                 \
        leveldb_t *db = raw_open(dir);                                   \
        int edit_rc_ = (call);                                           \
        leveldb_close(db);                                               \
        assert_int_equal(edit_rc_, 0);                                   \
    } while (0)

static void test_checkpoints_signed(void **state)
{
    struct trailtmp *fx = *state;
    struct anchored a;
    build_signed(fx->dir, &a);
    struct store_verify v;
    struct store_verify_opts o = { a.pk, a.head };
    assert_int_equal(verify_with(fx->dir, &o, &v), 0);
    assert_int_equal(v.records, 8);
    assert_int_equal(v.checkpoints, 2);
    assert_int_equal(v.signed_ok, 2);
    assert_int_equal(v.last_signed_seq, 8);
    assert_true(v.last_signed_final);
    assert_int_equal(v.head_seq, 8);
    /* another key: nothing it signed, so nothing anchors the trail */
    uint8_t other[STORE_SIGN_PUBLIC_BYTES], osk[STORE_SIGN_SECRET_BYTES];
    crypto_sign_keypair(other, osk);
    struct store_verify_opts wrong = { other, NULL };
    expect_anchor_bad(fx->dir, &wrong, "no checkpoint signed by this key");
    /* an unsigned trail has checkpoints that match, but no signature */
    struct trailtmp plain = *fx;
    strcat(plain.dir, "2");
    build_trail(plain.dir);
    store_t *s = open_rw(plain.dir);
    char err[256];
    assert_int_equal(store_checkpoint(s, true), 0);
    assert_int_equal(store_commit(s, true, err, sizeof(err)), 0);
    store_close(&s);
    assert_int_equal(verify_with(plain.dir, NULL, &v), 0);
    assert_int_equal(v.checkpoints, 1);
    struct store_verify_opts just_key = { a.pk, NULL };
    expect_anchor_bad(plain.dir, &just_key, "no checkpoint signed");
}

/* Cutting the newest records and fixing the meta passes the chain check;
 * the checkpoints, the signature and the printed head catch it. */
static void test_anchor_truncation(void **state)
{
    struct trailtmp *fx = *state;
    struct anchored a;
    build_signed(fx->dir, &a);
    EDIT(fx->dir, te_cut_after(db, 7, 8));
    expect_anchor_bad(fx->dir, NULL, "records were cut from the end");
    /* the cutter removes the last checkpoint too */
    EDIT(fx->dir, te_drop_checkpoints(db, 7, 8));
    assert_int_equal(expect_verify_ok(fx->dir), 7); /* the chain alone */
    struct store_verify_opts key = { a.pk, NULL }, head = { NULL, a.head };
    expect_anchor_bad(fx->dir, &key, "records 7 to 7 are not covered");
    expect_anchor_bad(fx->dir, &head, "is not in the chain");
    /* cut back to the earlier (signed, not final) checkpoint at seq 6 */
    EDIT(fx->dir, te_cut_after(db, 6, 7));
    assert_int_equal(expect_verify_ok(fx->dir), 6);
    expect_anchor_bad(fx->dir, &key, "not a final one");
}

/* An edited record with the chain (and the heads the checkpoints hold)
 * recomputed from it on: a consistent trail that only the signature and
 * the kept head catch. */
static void test_anchor_rewrite(void **state)
{
    struct trailtmp *fx = *state;
    struct anchored a;
    build_signed(fx->dir, &a);
    edit_get_to_put(fx->dir);
    expect_verify_bad(fx->dir, 5, "hash mismatch");
    EDIT(fx->dir, te_rechain(db, 8, NULL));
    assert_int_equal(expect_verify_ok(fx->dir), 8); /* the chain alone */
    struct store_verify_opts by_key = { a.pk, NULL };
    struct store_verify_opts head = { NULL, a.head };
    expect_anchor_bad(fx->dir, &by_key, "checkpoint signature invalid");
    expect_anchor_bad(fx->dir, &head, "is not in the chain");
    /* the rewriter drops the checkpoints it cannot sign */
    EDIT(fx->dir, te_drop_checkpoints(db, 0, 8));
    expect_anchor_bad(fx->dir, &by_key, "no checkpoint signed by this key");
}

static void test_anchor_reorder(void **state)
{
    struct trailtmp *fx = *state;
    struct anchored a;
    build_signed(fx->dir, &a);
    static const uint64_t swapped[] = { 1, 3, 2, 4, 5, 6, 7, 8 };
    EDIT(fx->dir, te_rechain(db, 8, swapped));
    assert_int_equal(expect_verify_ok(fx->dir), 8); /* the chain alone */
    struct store_verify_opts by_key = { a.pk, NULL };
    expect_anchor_bad(fx->dir, &by_key, "checkpoint signature invalid");
}

/* A forged checkpoint: the head of a rewritten chain with a signature
 * copied from the real one. */
static void test_anchor_forged_signature(void **state)
{
    struct trailtmp *fx = *state;
    struct anchored a;
    build_signed(fx->dir, &a);
    leveldb_t *db = raw_open(fx->dir);
    leveldb_readoptions_t *ro = leveldb_readoptions_create();
    uint8_t k[9];
    te_key('c', 8, k);
    char *e = NULL;
    size_t vl;
    char *v = leveldb_get(db, ro, (const char *)k, sizeof(k), &vl, &e);
    assert_non_null(v);
    char *copy = malloc(vl);
    memcpy(copy, v, vl);
    leveldb_free(v);
    leveldb_readoptions_destroy(ro);
    leveldb_close(db);
    /* flip one bit of the time: the signature no longer matches */
    char *t = memmem(copy, vl, "time", 4);
    assert_non_null(t);
    t[4 + 8] ^= 1; /* "time", 0xcf, 8 bytes: the last one */
    raw_put(fx->dir, k, sizeof(k), copy, vl);
    free(copy);
    struct store_verify_opts key = { a.pk, NULL };
    expect_anchor_bad(fx->dir, &key, "checkpoint signature invalid");
    /* without the key the chain and checkpoint heads still agree */
    assert_int_equal(expect_verify_ok(fx->dir), 8);
}

/* A table file LevelDB cannot read: verify says so (-EIO), not that
 * records were deleted. */
static void test_read_error_is_not_the_end(void **state)
{
    struct trailtmp *fx = *state;
    /* enough records for several blocks of chain entries, so the walk
     * over the chain reads one that the open did not cache */
    store_t *s = open_rw(fx->dir);
    char uid[17];
    for (uint32_t i = 0; i < 400; i++) {
        snprintf(uid, sizeof(uid), "%016x", i + 1);
        struct audit_record r = make(RECORD_REQUEST, 1000 + i, uid, 0);
        assert_int_equal(store_put(s, &r), 0);
    }
    char err[256];
    assert_int_equal(store_commit(s, true, err, sizeof(err)), 0);
    store_close(&s);
    s = open_rw(fx->dir); /* the log becomes a table file */
    store_close(&s);
    DIR *d = opendir(fx->dir);
    assert_non_null(d);
    struct dirent *de;
    char path[256] = "";
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".ldb"))
            snprintf(path, sizeof(path), "%s/%s", fx->dir, de->d_name);
    closedir(d);
    assert_true(path[0]);
    /* chain entries ("s") sort before records ("t"): a few KB in */
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "\xff\xff\xff\xff\xff\xff\xff\xff", 8, 6000),
                     8);
    close(fd);
    struct store_verify v;
    int rc = verify_with(fx->dir, NULL, &v);
    if (rc != -EIO)
        fail_msg("verify of a damaged table: want -EIO, got %d '%s'", rc,
                 v.why);
    print_message("verify: %s\n", v.why);
    assert_non_null(strstr(v.why, "reading the trail"));
}

/* A batch that is given up on leaves the chain as it was committed. */
static void test_discard(void **state)
{
    struct trailtmp *fx = *state;
    build_trail(fx->dir);
    store_t *s = open_rw(fx->dir);
    uint8_t head[STORE_HASH_BYTES], after[STORE_HASH_BYTES];
    store_head(s, head);
    struct audit_record r[] = {
        make(RECORD_REQUEST, 9000, "00000000000000f6", 0),
        make(RECORD_RESPONSE, 9100, "00000000000000f6", 0),
    };
    for (int i = 0; i < 2; i++)
        assert_int_equal(store_put(s, &r[i]), 0);
    assert_int_equal(store_checkpoint(s, false), 0);
    assert_int_equal(store_discard(s), 2);
    assert_false(store_dirty(s));
    store_head(s, after);
    assert_memory_equal(head, after, sizeof(head));
    put_commit(s, r, 1);
    assert_int_equal(store_last_seq(s), 7);
    store_close(&s);
    assert_int_equal(expect_verify_ok(fx->dir), 7);
}

/* Each test in a trail directory of its own. */
#define TEST(f) cmocka_unit_test_setup_teardown(f, trailtmp_setup, \
                                                trailtmp_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_order_and_fields),
        TEST(test_duplicate_keys),
        TEST(test_duplicate_keys_after_reopen),
        TEST(test_odd_uid),
        TEST(test_reopen_continues_chain),
        TEST(test_producers),
        TEST(test_outage_record),
        TEST(test_open_errors),
        TEST(test_readers_leave_trail_alone),
        TEST(test_query_pages),
        TEST(test_tamper_edit),
        TEST(test_tamper_garbage_value),
        TEST(test_tamper_delete_record),
        TEST(test_tamper_delete_chain_entry),
        TEST(test_tamper_delete_last),
        TEST(test_tamper_insert),
        TEST(test_tamper_meta),
        TEST(test_checkpoints_signed),
        TEST(test_anchor_truncation),
        TEST(test_anchor_rewrite),
        TEST(test_anchor_reorder),
        TEST(test_anchor_forged_signature),
        TEST(test_read_error_is_not_the_end),
        TEST(test_discard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
