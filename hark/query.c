/* query.c - `hark query`: print the audit trail as a table or JSON lines.
 *
 * Reads the LevelDB trail directly when it can. LevelDB has no read-only
 * mode (every open takes <db>/LOCK), so while the logger runs the open
 * fails as busy and the same range is asked of the logger over its query
 * socket (topology_query(), a REQ/REP exchange of pages, see
 * store_query.h); the output is the same either way. Filters other than the
 * time range run here, on decoded records.
 */
#include "commands.h"
#include "clock.h"
#include "curve.h"
#include "record_json.h"
#include "record_table.h"
#include "store_query.h"
#include "topology.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define QUERY_TIMEOUT_MS 10000

struct filter {
    int kind;                     /* 0 any, else enum record_kind */
    const char *path;             /* url.path prefix, or NULL */
    bool has_status;
    uint32_t status;
    const char *uid;
    uint64_t limit;               /* 0: none */
};

struct printer {
    bool json;
    struct json_out j;
    uint64_t printed;
    uint64_t unreadable;
};

static void usage(FILE *f)
{
    fprintf(f,
        "usage: hark query [-c FILE] [--db DIR] [--json] [--since TIME] "
        "[--until TIME]\n"
        "                  [--kind request|response|outage] [--path PREFIX] "
        "[--status N]\n"
        "                  [--uid UID] [--limit N]\n\n"
        "Prints the audit trail in time order: a table, or one JSON object "
        "per record\n(Elastic Common Schema names) with --json. Works while "
        "`hark run` is running:\nthe logger answers over its query "
        "socket.\n\n"
        "options:\n"
        "  -c, --config FILE   configuration (for logger.db and the query "
        "socket)\n"
        "      --db DIR        the trail (default: logger.db, hark.db)\n"
        "      --run-dir DIR   where the running logger's query socket is "
        "(bus.run_dir)\n"
        "      --json          JSON lines instead of the table\n"
        "      --since TIME    records at or after TIME (RFC 3339, e.g. "
        "2026-11-26T05:29:38Z,\n"
        "                      or seconds since the epoch)\n"
        "      --until TIME    records before TIME\n"
        "      --kind KIND     request, response or outage records only\n"
        "      --path PREFIX   records whose url.path starts with PREFIX\n"
        "      --status N      response records with HTTP status N\n"
        "      --uid UID       records of one connection\n"
        "  -n, --limit N       at most N records\n"
        "  -h, --help          this help\n");
}

/* ---- shared helpers (commands.h) ------------------------------------ */

int trail_config(const char *cmd, const char *config_path, const char *db,
                 const char *run_dir, struct config **out)
{
    char err[512];
    struct config *cfg = NULL;
    *out = NULL;
    if (config_path) {
        if (config_load(config_path, &cfg, err, sizeof(err)) < 0) {
            fprintf(stderr, "hark %s: %s\n", cmd, err);
            return 2;
        }
    } else if (!(cfg = config_default())) {
        fprintf(stderr, "hark %s: out of memory\n", cmd);
        return 1;
    }
    if ((db && config_set_string(&cfg->logger.db, db)) ||
        (run_dir && config_set_string(&cfg->bus.run_dir, run_dir))) {
        fprintf(stderr, "hark %s: out of memory\n", cmd);
        config_destroy(&cfg);
        return 1;
    }
    *out = cfg;
    return 0;
}

int trail_open(const char *cmd, const char *path, bool busy_ok, store_t **out)
{
    char err[512] = "";
    int rc = store_open(path, 0, out, err, sizeof(err));
    if (rc == 0)
        return 0;
    if (rc == -EBUSY && busy_ok)
        return -EBUSY;
    if (rc == -ENOENT)
        fprintf(stderr, "hark %s: no audit trail at %s (run `hark run` "
                        "first, or pass --db)\n", cmd, path);
    else if (rc == -EBUSY)
        fprintf(stderr, "hark %s: the logger is running (it holds %s); "
                        "stop it or use `hark query`\n", cmd, path);
    else
        fprintf(stderr, "hark %s: cannot open audit trail %s: %s\n", cmd,
                path, err);
    return -1;
}

/* ---- filtering and printing ----------------------------------------- */

static bool match(const struct filter *f, const struct audit_record *r)
{
    if (f->kind && (int)r->kind != f->kind)
        return false;
    if (f->has_status && (r->kind != RECORD_RESPONSE || r->status != f->status))
        return false;
    if (f->uid && !bytes_case_eq(r->uid, f->uid))
        return false;
    if (f->path) {
        struct url_parts u;
        urlsplit(r->uri, &u);
        size_t n = strlen(f->path);
        if (u.path.n < n || memcmp(u.path.p, f->path, n))
            return false;
    }
    return true;
}

/* Prints r when it matches; false once the limit is reached. */
static bool emit(struct printer *p, const struct filter *f,
                 const struct audit_record *r)
{
    if (!match(f, r))
        return true;
    if (p->json) {
        json_out_reset(&p->j);
        record_json(&p->j, r);
        json_out_raw(&p->j, "\n", 1);
        fwrite(p->j.p, 1, p->j.len, stdout);
    } else {
        char row[1024];
        int n = record_table_row(row, sizeof(row), r);
        fwrite(row, 1, n < (int)sizeof(row) ? (size_t)n : sizeof(row) - 1,
               stdout);
    }
    p->printed++;
    return !f->limit || p->printed < f->limit;
}

static void unreadable(struct printer *p, const void *key, size_t klen)
{
    char desc[160];
    p->unreadable++;
    fprintf(stderr, "hark query: skipping an unreadable record (%s)\n",
            key ? store_key_describe(key, klen, desc, sizeof(desc))
                : "from the logger");
}

static int query_local(store_t *s, uint64_t since, uint64_t until,
                       const struct filter *f, struct printer *p)
{
    store_iter_t *it = store_iter_new(s, since, until, NULL, 0);
    if (!it) {
        fprintf(stderr, "hark query: out of memory\n");
        return 1;
    }
    struct audit_record r;
    int rc;
    while ((rc = store_iter_next(it, &r)) != 0) {
        if (rc == -EIO) {
            fprintf(stderr, "hark query: cannot read the trail on: %s\n",
                    store_iter_error(it));
            store_iter_destroy(&it);
            return 1;
        }
        if (rc < 0) {
            size_t kl;
            const void *k = store_iter_key(it, &kl);
            unreadable(p, k, kl);
            continue;
        }
        if (!emit(p, f, &r))
            break;
    }
    store_iter_destroy(&it);
    return 0;
}

/* A REQ socket connected to the logger's query endpoint ep, with
 * timeouts; a CURVE client with this machine's keys when ep is tcp://.
 * 0, or 1 with the reason printed. */
static int connect_logger(void *ctx, const struct config *cfg,
                          const char *ep, void **sock)
{
    int linger = 0, tmo = QUERY_TIMEOUT_MS;
    *sock = ctx ? zmq_socket(ctx, ZMQ_REQ) : NULL;
    if (!*sock) {
        fprintf(stderr, "hark query: out of memory\n");
        return 1;
    }
    char err[512];
    int rc = curve_connect_setup(ctx, cfg, *sock, ep, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "hark query: %s\n", err);
        return rc == -EPERM || rc == -ENOKEY ? 2 : 1;
    }
    if (zmq_setsockopt(*sock, ZMQ_LINGER, &linger, sizeof(linger)) ||
        zmq_setsockopt(*sock, ZMQ_RCVTIMEO, &tmo, sizeof(tmo)) ||
        zmq_setsockopt(*sock, ZMQ_SNDTIMEO, &tmo, sizeof(tmo)) ||
        zmq_connect(*sock, ep)) {
        fprintf(stderr, "hark query: cannot connect to the logger at %s: "
                        "%s\n", ep, zmq_strerror(errno));
        return 1;
    }
    return 0;
}

/* Sends q and receives the reply into m (initialised here; the caller
 * closes it). 0, or 1 with the reason printed. */
static int ask(void *sock, const struct config *cfg, const char *ep,
               msgpack_sbuffer *sb, const struct store_query *q,
               zmq_msg_t *m)
{
    zmq_msg_init(m);
    if (store_query_encode(sb, q) < 0 ||
        zmq_send(sock, sb->data, sb->size, 0) < 0) {
        fprintf(stderr, "hark query: the trail %s is locked by the "
                        "logger, and sending to its query socket %s "
                        "failed: %s\n",
                cfg->logger.db, ep, zmq_strerror(errno));
        return 1;
    }
    if (zmq_msg_recv(m, sock, 0) < 0) {
        fprintf(stderr, "hark query: the trail %s is locked (is the "
                        "logger running?), and nothing answered on %s "
                        "within %ds; pass the logger's config with -c "
                        "or --run-dir\n",
                cfg->logger.db, ep, QUERY_TIMEOUT_MS / 1000);
        return 1;
    }
    return 0;
}

/* Prints the records of reply m. 0, or 1 with the reason printed; *more
 * turns false at the limit or the last page, else after holds the key
 * to continue from. */
static int print_page(store_decoder_t *d, zmq_msg_t *m, const char *ep,
                      const struct filter *f, struct printer *p,
                      uint8_t after[STORE_KEY_MAX], size_t *after_len,
                      bool *more)
{
    char err[256];
    uint32_t n;
    const void *next;
    size_t next_len;
    if (store_reply_read(d, zmq_msg_data(m), zmq_msg_size(m), &n, &next,
                         &next_len, err, sizeof(err)) < 0) {
        fprintf(stderr, "hark query: the logger at %s answered: %s\n", ep,
                err);
        return 1;
    }
    for (uint32_t i = 0; i < n && *more; i++) {
        struct audit_record r;
        if (store_reply_record(d, i, &r) < 0)
            unreadable(p, NULL, 0);
        else
            *more = emit(p, f, &r);
    }
    if (!next || next_len > STORE_KEY_MAX)
        *more = false;
    else
        memcpy(after, next, *after_len = next_len);
    return 0;
}

/* The logger holds the trail: page through its query socket. */
static int query_remote(const struct config *cfg, uint64_t since,
                        uint64_t until, const struct filter *f,
                        struct printer *p)
{
    char ep[4200];
    if (!topology_query(cfg, ep, sizeof(ep))) {
        fprintf(stderr, "hark query: the query endpoint does not fit\n");
        return 1;
    }
    void *ctx = zmq_ctx_new(), *sock = NULL;
    store_decoder_t *d = store_decoder_new();
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int status = d ? connect_logger(ctx, cfg, ep, &sock) : 1;
    if (!d)
        fprintf(stderr, "hark query: out of memory\n");
    uint8_t after[STORE_KEY_MAX];
    size_t after_len = 0;
    for (bool more = true; status == 0 && more;) {
        struct store_query q = { since, until, 0, after_len ? after : NULL,
                                 after_len };
        zmq_msg_t m;
        status = ask(sock, cfg, ep, &sb, &q, &m);
        if (status == 0)
            status = print_page(d, &m, ep, f, p, after, &after_len, &more);
        zmq_msg_close(&m);
    }
    msgpack_sbuffer_destroy(&sb);
    store_decoder_destroy(&d);
    if (sock)
        zmq_close(sock);
    if (ctx)
        zmq_ctx_term(ctx);
    return status;
}

/* Digits only: strtoull alone takes " -5" as 2^64 - 5. */
static bool parse_u64(const char *s, uint64_t *v)
{
    char *end;
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *v = x;
    return true;
}

struct query_opts {
    const char *config_path, *db, *run_dir;
    uint64_t since, until;
    struct filter f;
    bool json;
};

/* One filter option (--kind, --status, --limit): 0, or 2 with the
 * complaint printed. */
static int filter_opt(int c, const char *arg, struct filter *f)
{
    uint64_t v;
    if (c == 'k' && !strcmp(arg, "request")) {
        f->kind = RECORD_REQUEST;
    } else if (c == 'k' && !strcmp(arg, "response")) {
        f->kind = RECORD_RESPONSE;
    } else if (c == 'k' && !strcmp(arg, "outage")) {
        f->kind = RECORD_OUTAGE;
    } else if (c == 'k') {
        fprintf(stderr, "hark query: --kind: request, response or "
                        "outage, not '%s'\n", arg);
        return 2;
    } else if (c == 's') {
        if (!parse_u64(arg, &v) || v < 100 || v > 999) {
            fprintf(stderr, "hark query: --status: expected an HTTP "
                            "status (100-999), got '%s'\n", arg);
            return 2;
        }
        f->has_status = true;
        f->status = (uint32_t)v;
    } else if (c == 'n' && (!parse_u64(arg, &f->limit) || !f->limit)) {
        fprintf(stderr, "hark query: --limit: expected a positive number, "
                        "got '%s'\n", arg);
        return 2;
    }
    return 0;
}

/* --since (c 'S') or --until: 0, or 2 with the reason printed. */
static int time_opt(int c, const char *arg, struct query_opts *o)
{
    const char *why;
    if (clock_parse_time(arg, c == 'S' ? &o->since : &o->until, &why) == 0)
        return 0;
    fprintf(stderr, "hark query: --%s '%s': %s\n",
            c == 'S' ? "since" : "until", arg, why);
    return 2;
}

/* Reads the command line into o: -1 to go on, else the exit status. */
static int parse_opts(int argc, char **argv, struct query_opts *o)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "db", required_argument, NULL, 'D' },
        { "run-dir", required_argument, NULL, 'R' },
        { "json", no_argument, NULL, 'j' },
        { "since", required_argument, NULL, 'S' },
        { "until", required_argument, NULL, 'U' },
        { "kind", required_argument, NULL, 'k' },
        { "path", required_argument, NULL, 'P' },
        { "status", required_argument, NULL, 's' },
        { "uid", required_argument, NULL, 'u' },
        { "limit", required_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:n:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': o->config_path = optarg; break;
        case 'D': o->db = optarg; break;
        case 'R': o->run_dir = optarg; break;
        case 'j': o->json = true; break;
        case 'P': o->f.path = optarg; break;
        case 'u': o->f.uid = optarg; break;
        case 'S':
        case 'U':
            if (time_opt(c, optarg, o) != 0)
                return 2;
            break;
        case 'k':
        case 's':
        case 'n':
            if (filter_opt(c, optarg, &o->f))
                return 2;
            break;
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, "hark query: try --help\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hark query: unexpected argument '%s' (try --help)\n",
                argv[optind]);
        return 2;
    }
    return -1;
}

int hark_query_main(int argc, char **argv)
{
    struct query_opts o = { .until = UINT64_MAX };
    struct printer p = { 0 };
    int rc = parse_opts(argc, argv, &o);
    if (rc >= 0)
        return rc;
    p.json = o.json;
    struct config *cfg;
    rc = trail_config("query", o.config_path, o.db, o.run_dir, &cfg);
    if (rc)
        return rc;
    store_t *s = NULL;
    rc = trail_open("query", cfg->logger.db, true, &s);
    if (rc == -1) {
        config_destroy(&cfg);
        return 1;
    }
    json_out_init(&p.j);
    if (!p.json) {
        char head[512];
        record_table_header(head, sizeof(head));
        fputs(head, stdout);
    }
    int status = s ? query_local(s, o.since, o.until, &o.f, &p)
                   : query_remote(cfg, o.since, o.until, &o.f, &p);
    store_close(&s);
    config_destroy(&cfg);
    json_out_free(&p.j);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "hark query: writing the output: %s\n",
                strerror(errno));
        status = 1;
    }
    if (!status && p.unreadable) {
        fprintf(stderr, "hark query: %llu unreadable record(s); run `hark "
                        "verify`\n", (unsigned long long)p.unreadable);
        status = 1;
    }
    return status;
}
