/* export.c - `hark export`: the trail as JSON lines or one HAR 1.2 file.
 *
 * JSON lines are what `hark query --json` prints. HAR pairs the request
 * and response records of a transaction (uid, idx) into one entry. The
 * records come in time order and a response follows its request, so
 * entries wait in a FIFO (in the order of their first record) and are
 * written as soon as the head one is complete; entries whose response
 * never comes wait until the end. Memory is the transactions still open
 * at any point in time, not the trail. A second request record for the
 * same transaction (a policy with two request log steps) adds nothing to
 * HAR and is skipped.
 *
 * With -o the output goes to FILE.tmp, renamed to FILE once complete, so
 * a failed export never leaves a cut file under the name asked for.
 */
#include "commands.h"
#include "clock.h"
#include "hash.h"
#include "record_json.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef HARK_VERSION
#define HARK_VERSION "0.1.0"
#endif

#define HAR_BUCKETS 4096u

struct har_entry {
    struct har_entry *next;       /* FIFO */
    struct har_entry *hnext;      /* bucket chain */
    char *uid;
    uint32_t idx;
    bool has_resp;
    uint64_t started_ns;
    uint64_t time_ns;
    char *request;                /* JSON of entry.request */
    char *response;               /* JSON of entry.response, or NULL */
    char *server_ip;
    char outcome[24];             /* response record's, "" when none */
};

struct har {
    FILE *out;
    struct har_entry *head, *tail;
    struct har_entry *buckets[HAR_BUCKETS];
    struct json_out j;
    uint64_t entries;
    bool failed;                  /* out of memory */
};

static void usage(FILE *f)
{
    fprintf(f,
        "usage: hark export [-c FILE] [--db DIR] [--format json|har] "
        "[-o FILE]\n"
        "                   [--since TIME] [--until TIME]\n\n"
        "Writes the audit trail out: JSON lines (as `hark query --json`), or "
        "one HAR 1.2\nfile whose entries pair each request with its "
        "response. Stop the logger\nfirst (or use `hark query --json` "
        "while it runs).\n\n"
        "options:\n"
        "  -c, --config FILE   configuration (for logger.db)\n"
        "      --db DIR        the trail (default: logger.db, hark.db)\n"
        "  -f, --format FMT    json (default) or har\n"
        "  -o, --output FILE   write to FILE instead of stdout\n"
        "      --since TIME    records at or after TIME (RFC 3339 or epoch "
        "seconds)\n"
        "      --until TIME    records before TIME\n"
        "  -h, --help          this help\n");
}

/* ---- HAR pieces ----------------------------------------------------- */

static char *take(struct har *h)
{
    char *s = h->j.failed ? NULL : strdup(h->j.p ? h->j.p : "");
    if (!s)
        h->failed = true;
    json_out_reset(&h->j);
    return s;
}

static const struct msg_header *find_header(const struct audit_record *r,
                                            const char *name)
{
    for (uint32_t i = 0; i < r->n_headers; i++)
        if (bytes_case_eq(r->headers[i].name, name))
            return &r->headers[i];
    return NULL;
}

static void har_headers(struct json_out *j, const struct audit_record *r)
{
    json_out_key(j, "headers");
    json_out_arr(j);
    for (uint32_t i = 0; i < r->n_headers; i++) {
        json_out_obj(j);
        json_out_key(j, "name");
        json_out_bytes(j, r->headers[i].name);
        json_out_key(j, "value");
        json_out_bytes(j, r->headers[i].value);
        json_out_obj_end(j);
    }
    json_out_arr_end(j);
}

static void har_version(struct json_out *j, struct bytes v)
{
    char b[32];
    json_out_key(j, "httpVersion");
    if (!v.n) {
        json_out_cstr(j, "");
        return;
    }
    snprintf(b, sizeof(b), "HTTP/%.*s", v.n > 16 ? 16 : (int)v.n, v.p);
    json_out_cstr(j, b);
}

static void har_mime(struct json_out *j, const struct audit_record *r)
{
    const struct msg_header *ct = find_header(r, "Content-Type");
    json_out_key(j, "mimeType");
    json_out_bytes(j, ct ? ct->value : BYTES_LIT(""));
}

/* The kept body as "text", base64 when it is not text. */
static void har_text(struct json_out *j, const struct audit_record *r,
                     const char *encoding_key)
{
    if (!r->body.n)
        return;
    bool text = json_out_is_text(r->body.p, r->body.n);
    json_out_key(j, "text");
    if (text)
        json_out_bytes(j, r->body);
    else
        json_out_base64(j, r->body.p, r->body.n);
    if (!text) {
        json_out_key(j, encoding_key);
        json_out_cstr(j, "base64");
    }
    if (r->body.n < r->body_len) {
        char c[64];
        snprintf(c, sizeof(c), "first %u of %llu bytes", (unsigned)r->body.n,
                 (unsigned long long)r->body_len);
        json_out_key(j, "comment");
        json_out_cstr(j, c);
    }
}

/* http://host + uri; the absolute form as it is; the server's address
 * when there is no Host. */
static void har_url(struct json_out *j, const struct audit_record *r)
{
    size_t cap = (size_t)r->host.n + r->uri.n + r->addr.dst_ip.n + 32;
    char *b = malloc(cap);
    json_out_key(j, "url");
    if (!b) {
        j->failed = true;
        return;
    }
    size_t n = 0;
    bool absolute = r->uri.n && r->uri.p[0] != '/' && r->uri.p[0] != '*' &&
                    memmem(r->uri.p, r->uri.n, "://", 3);
    if (!absolute) {
        memcpy(b, "http://", 7);
        n = 7;
        if (r->host.n) {
            memcpy(b + n, r->host.p, r->host.n);
            n += r->host.n;
        } else {
            bool v6 = memchr(r->addr.dst_ip.p, ':', r->addr.dst_ip.n);
            n += (size_t)snprintf(b + n, cap - n, v6 ? "[%.*s]:%u" : "%.*s:%u",
                                  (int)r->addr.dst_ip.n, r->addr.dst_ip.p,
                                  (unsigned)r->addr.dst_port);
        }
    }
    memcpy(b + n, r->uri.p, r->uri.n);
    n += r->uri.n;
    json_out_str(j, b, n);
    free(b);
}

/* name=value pairs of the query string, as sent (not decoded). */
static void har_query_string(struct json_out *j, const struct audit_record *r)
{
    struct url_parts u;
    urlsplit(r->uri, &u);
    json_out_key(j, "queryString");
    json_out_arr(j);
    const char *p = u.query.p, *end = p + u.query.n;
    while (u.has_query && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (stop > p) {
            json_out_obj(j);
            json_out_key(j, "name");
            json_out_str(j, p, (size_t)((eq ? eq : stop) - p));
            json_out_key(j, "value");
            if (eq)
                json_out_str(j, eq + 1, (size_t)(stop - eq - 1));
            else
                json_out_str(j, "", 0);
            json_out_obj_end(j);
        }
        p = stop + 1;
    }
    json_out_arr_end(j);
}

/* entry.request; from a response record only the request line is known. */
static void har_request(struct json_out *j, const struct audit_record *r)
{
    bool req = r->kind == RECORD_REQUEST;
    json_out_obj(j);
    json_out_key(j, "method");
    json_out_bytes(j, r->method);
    har_url(j, r);
    har_version(j, req ? r->version : BYTES_LIT("1.1"));
    json_out_key(j, "cookies");
    json_out_arr(j);
    json_out_arr_end(j);
    if (req) {
        har_headers(j, r);
    } else {
        json_out_key(j, "headers");
        json_out_arr(j);
        json_out_arr_end(j);
    }
    har_query_string(j, r);
    if (req && r->body.n) {
        json_out_key(j, "postData");
        json_out_obj(j);
        har_mime(j, r);
        har_text(j, r, "_encoding");
        json_out_obj_end(j);
    }
    json_out_key(j, "headersSize");
    json_out_i64(j, -1);
    json_out_key(j, "bodySize");
    if (req)
        json_out_u64(j, r->body_len);
    else
        json_out_i64(j, -1);
    json_out_obj_end(j);
}

static void har_response(struct json_out *j, const struct audit_record *r)
{
    bool answered = r && record_answered(r);
    json_out_obj(j);
    json_out_key(j, "status");
    json_out_u64(j, answered ? r->status : 0);
    json_out_key(j, "statusText");
    json_out_bytes(j, answered ? r->reason : BYTES_LIT(""));
    har_version(j, answered ? r->version : BYTES_LIT(""));
    json_out_key(j, "cookies");
    json_out_arr(j);
    json_out_arr_end(j);
    if (answered) {
        har_headers(j, r);
    } else {
        json_out_key(j, "headers");
        json_out_arr(j);
        json_out_arr_end(j);
    }
    json_out_key(j, "content");
    json_out_obj(j);
    json_out_key(j, "size");
    json_out_u64(j, answered ? r->body_len : 0);
    if (answered) {
        har_mime(j, r);
        har_text(j, r, "encoding");
    } else {
        json_out_key(j, "mimeType");
        json_out_cstr(j, "");
    }
    json_out_obj_end(j);
    const struct msg_header *loc = answered ? find_header(r, "Location") : NULL;
    json_out_key(j, "redirectURL");
    json_out_bytes(j, loc ? loc->value : BYTES_LIT(""));
    json_out_key(j, "headersSize");
    json_out_i64(j, -1);
    json_out_key(j, "bodySize");
    if (answered)
        json_out_u64(j, r->body_len);
    else
        json_out_i64(j, -1);
    json_out_obj_end(j);
}

/* ---- pairing -------------------------------------------------------- */

static unsigned bucket_of(struct bytes uid, uint32_t idx)
{
    return hash_fnv1a32(HASH_FNV32_INIT ^ idx, uid.p, uid.n) % HAR_BUCKETS;
}

/* The open entry of (uid, idx), without a response yet. */
static struct har_entry *find_open(struct har *h, struct bytes uid,
                                   uint32_t idx, struct har_entry ***link)
{
    struct har_entry **pp = &h->buckets[bucket_of(uid, idx)];
    for (; *pp; pp = &(*pp)->hnext) {
        struct har_entry *e = *pp;
        if (e->idx == idx && bytes_eq(uid, e->uid) && !e->has_resp) {
            *link = pp;
            return e;
        }
    }
    return NULL;
}

static void entry_free(struct har_entry *e)
{
    free(e->uid);
    free(e->request);
    free(e->response);
    free(e->server_ip);
    free(e);
}

static void write_entry(struct har *h, struct har_entry *e)
{
    struct json_out *j = &h->j;
    char when[40];
    clock_format_rfc3339(e->started_ns, when, sizeof(when));
    json_out_reset(j);
    json_out_obj(j);
    json_out_key(j, "startedDateTime");
    json_out_cstr(j, when);
    json_out_key(j, "time");
    json_out_ms(j, e->time_ns);
    json_out_key(j, "request");
    json_out_json(j, e->request, strlen(e->request));
    json_out_key(j, "response");
    if (e->response)
        json_out_json(j, e->response, strlen(e->response));
    else
        har_response(j, NULL);
    json_out_key(j, "cache");
    json_out_obj(j);
    json_out_obj_end(j);
    json_out_key(j, "timings");
    json_out_obj(j);
    json_out_key(j, "send");
    json_out_u64(j, 0);
    json_out_key(j, "wait");
    json_out_ms(j, e->time_ns);
    json_out_key(j, "receive");
    json_out_u64(j, 0);
    json_out_obj_end(j);
    json_out_key(j, "serverIPAddress");
    json_out_cstr(j, e->server_ip);
    json_out_key(j, "connection");
    json_out_cstr(j, e->uid);
    if (!e->response) {
        json_out_key(j, "_hark_outcome");
        json_out_cstr(j, e->outcome[0] ? e->outcome : "unknown");
    }
    json_out_obj_end(j);
    if (j->failed) {
        h->failed = true;
        return;
    }
    fputs(h->entries++ ? ",\n" : "\n", h->out);
    fwrite(j->p, 1, j->len, h->out);
    json_out_reset(j);
}

/* Writes and frees the complete entries at the head of the FIFO (all of
 * them when `all`). */
static void flush_entries(struct har *h, bool all)
{
    while (h->head && (all || h->head->has_resp)) {
        struct har_entry *e = h->head;
        h->head = e->next;
        if (!h->head)
            h->tail = NULL;
        if (!e->has_resp) {
            struct har_entry **link;
            struct bytes uid = bytes_of(e->uid);
            if (find_open(h, uid, e->idx, &link) == e)
                *link = e->hnext;
        }
        write_entry(h, e);
        entry_free(e);
    }
}

static char *dup_bytes(struct bytes b)
{
    return strndup(b.p ? b.p : "", b.n);
}

static struct har_entry *entry_new(struct har *h, const struct audit_record *r)
{
    struct har_entry *e = calloc(1, sizeof(*e));
    if (!e) {
        h->failed = true;
        return NULL;
    }
    e->uid = dup_bytes(r->uid);
    e->server_ip = dup_bytes(r->addr.dst_ip);
    e->idx = r->idx;
    e->started_ns = r->kind == RECORD_REQUEST || !r->req_ts_ns ? r->ts_ns
                                                               : r->req_ts_ns;
    json_out_reset(&h->j);
    har_request(&h->j, r);
    e->request = take(h);
    if (!e->uid || !e->server_ip || !e->request) {
        entry_free(e);
        h->failed = true;
        return NULL;
    }
    if (h->tail)
        h->tail->next = e;
    else
        h->head = e;
    h->tail = e;
    return e;
}

static void attach_response(struct har *h, struct har_entry *e,
                            const struct audit_record *r)
{
    e->has_resp = true;
    snprintf(e->outcome, sizeof(e->outcome), "%.*s",
             r->outcome.n > 20 ? 20 : (int)r->outcome.n, r->outcome.p);
    if (record_answered(r)) {
        e->time_ns = r->latency_ns;
        json_out_reset(&h->j);
        har_response(&h->j, r);
        e->response = take(h);
    } else {
        /* no response: the time waited until the wait ended */
        e->time_ns = r->ts_ns > e->started_ns ? r->ts_ns - e->started_ns : 0;
    }
}

static void har_add(struct har *h, const struct audit_record *r)
{
    struct har_entry **link, *e = find_open(h, r->uid, r->idx, &link);
    if (r->kind == RECORD_REQUEST) {
        if (e)
            return; /* a second request record of the transaction */
        e = entry_new(h, r);
        if (e) {
            unsigned b = bucket_of(r->uid, r->idx);
            e->hnext = h->buckets[b];
            h->buckets[b] = e;
        }
        return;
    }
    if (e) {
        *link = e->hnext; /* no longer open */
    } else if (!(e = entry_new(h, r))) {
        return; /* request outside the range, or an orphan */
    }
    attach_response(h, e, r);
    flush_entries(h, false);
}

/* ---- the command ---------------------------------------------------- */

static int export_records(store_t *s, uint64_t since, uint64_t until,
                          bool har, FILE *out)
{
    store_iter_t *it = store_iter_new(s, since, until, NULL, 0);
    struct har *h = calloc(1, sizeof(*h));
    int status = 1;
    if (!it || !h) {
        fprintf(stderr, "hark export: out of memory\n");
        goto done;
    }
    h->out = out;
    json_out_init(&h->j);
    if (har)
        fprintf(out, "{\"log\":{\"version\":\"1.2\",\"creator\":{\"name\":"
                     "\"hark\",\"version\":\"%s\"},\"entries\":[",
                HARK_VERSION);
    uint64_t bad = 0, outages = 0;
    struct audit_record r;
    int rc;
    while (!h->failed && (rc = store_iter_next(it, &r)) != 0) {
        if (rc == -EIO) {
            fprintf(stderr, "hark export: cannot read the trail on: %s\n",
                    store_iter_error(it));
            goto done;
        }
        if (rc < 0) {
            size_t kl;
            char desc[160];
            const void *k = store_iter_key(it, &kl);
            fprintf(stderr, "hark export: skipping an unreadable record "
                            "(%s)\n",
                    store_key_describe(k, kl, desc, sizeof(desc)));
            bad++;
            continue;
        }
        if (har && r.kind == RECORD_OUTAGE) {
            outages++; /* HAR has no place for it */
            continue;
        }
        if (har) {
            har_add(h, &r);
            continue;
        }
        json_out_reset(&h->j);
        record_json(&h->j, &r);
        json_out_raw(&h->j, "\n", 1);
        if (h->j.failed)
            h->failed = true;
        else
            fwrite(h->j.p, 1, h->j.len, out);
    }
    if (har) {
        flush_entries(h, true);
        fputs(h->entries ? "\n]}}\n" : "]}}\n", out);
    }
    if (outages)
        fprintf(stderr, "hark export: the trail records %llu outage(s) "
                        "HAR cannot hold; see hark query --kind outage\n",
                (unsigned long long)outages);
    if (h->failed)
        fprintf(stderr, "hark export: out of memory\n");
    else if (bad)
        fprintf(stderr, "hark export: %llu unreadable record(s) left out; "
                        "run `hark verify`\n", (unsigned long long)bad);
    else
        status = 0;
done:
    if (h) {
        for (struct har_entry *e = h->head, *n; e; e = n) {
            n = e->next;
            entry_free(e);
        }
        json_out_free(&h->j);
        free(h);
    }
    store_iter_destroy(&it);
    return status;
}

struct export_opts {
    const char *config_path, *db, *output;
    bool har;
    uint64_t since, until;
};

/* --since (c 'S') or --until: 0, or 2 with the reason printed. */
static int time_opt(int c, const char *arg, struct export_opts *o)
{
    const char *why;
    if (clock_parse_time(arg, c == 'S' ? &o->since : &o->until, &why) == 0)
        return 0;
    fprintf(stderr, "hark export: --%s '%s': %s\n",
            c == 'S' ? "since" : "until", arg, why);
    return 2;
}

/* Reads the command line into o: -1 to go on, else the exit status. */
static int parse_opts(int argc, char **argv, struct export_opts *o)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "db", required_argument, NULL, 'D' },
        { "format", required_argument, NULL, 'f' },
        { "output", required_argument, NULL, 'o' },
        { "since", required_argument, NULL, 'S' },
        { "until", required_argument, NULL, 'U' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:f:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': o->config_path = optarg; break;
        case 'D': o->db = optarg; break;
        case 'f':
            if (!strcmp(optarg, "har")) {
                o->har = true;
            } else if (strcmp(optarg, "json")) {
                fprintf(stderr, "hark export: --format: json or har, not "
                                "'%s'\n", optarg);
                return 2;
            }
            break;
        case 'o': o->output = optarg; break;
        case 'S':
        case 'U':
            if (time_opt(c, optarg, o) != 0)
                return 2;
            break;
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, "hark export: try --help\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hark export: unexpected argument '%s' (try "
                        "--help)\n", argv[optind]);
        return 2;
    }
    return -1;
}

/* Exports to stdout, or to o->output through a temporary file renamed
 * once complete. Returns the exit status. */
static int export_to(store_t *s, const struct export_opts *o)
{
    FILE *out = stdout;
    const char *output = o->output;
    char tmp[4096];
    if (output) {
        if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", output) >=
            sizeof(tmp)) {
            fprintf(stderr, "hark export: -o: path too long\n");
            return 2;
        }
        if (!(out = fopen(tmp, "w"))) {
            fprintf(stderr, "hark export: cannot write %s: %s\n", tmp,
                    strerror(errno));
            return 1;
        }
    }
    int status = export_records(s, o->since, o->until, o->har, out);
    bool write_failed = fflush(out) != 0 || ferror(out);
    int werr = errno;
    if (output && fclose(out) != 0)
        write_failed = true;
    if (write_failed) {
        fprintf(stderr, "hark export: writing %s: %s\n",
                output ? tmp : "the output", strerror(werr));
        status = 1;
    }
    if (output && status == 0 && rename(tmp, output) != 0) {
        fprintf(stderr, "hark export: cannot rename %s to %s: %s\n", tmp,
                output, strerror(errno));
        status = 1;
    }
    if (output && status != 0)
        unlink(tmp);
    return status;
}

int hark_export_main(int argc, char **argv)
{
    struct export_opts o = { .until = UINT64_MAX };
    int rc = parse_opts(argc, argv, &o);
    if (rc >= 0)
        return rc;
    struct config *cfg;
    rc = trail_config("export", o.config_path, o.db, NULL, &cfg);
    if (rc)
        return rc;
    store_t *s = NULL;
    if (trail_open("export", cfg->logger.db, false, &s) < 0) {
        config_destroy(&cfg);
        return 1;
    }
    config_destroy(&cfg);
    int status = export_to(s, &o);
    store_close(&s);
    return status;
}
