/* serve.c - `hark serve`: the trail in a browser, read-only.
 *
 * Serves the page (serve_assets.h) and the JSON API under /api/ that it
 * and scripts use:
 *   /api/info              the trail, whether the logger holds it, and
 *                          whether it has its secondary keys
 *   /api/records           a page of records, newest first (serve_list.h)
 *   /api/record?key=K      one transaction, whole (serve_tx.h)
 *   /api/chart/NAME        rate, latency, paths, clients, outcomes
 *                          (serve_charts.h)
 * Every parameter is checked first (serve_params.h): bad input gets a
 * 400 with the reason. The trail is read per request (serve_source.h),
 * live through the logger while `hark run` holds it.
 */
#include "commands.h"
#include "serve_assets.h"
#include "serve_charts.h"
#include "serve_http.h"
#include "serve_list.h"
#include "serve_source.h"
#include "serve_tx.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_LISTEN "127.0.0.1:8080"
#define TOKEN_MAX 256

struct serve {
    serve_source_t *src;
};

static void usage(FILE *f)
{
    fprintf(f,
        "usage: hark serve [-c FILE] [--db DIR] [--run-dir DIR] "
        "[--listen ADDR:PORT]\n"
        "                  [--token-file FILE]\n\n"
        "Serves a read-only web page over the audit trail: the records, "
        "newest first,\nwith filters; each transaction whole; charts of "
        "the traffic. Works on a trail\nat rest and while `hark run` "
        "writes it (through the logger's query socket).\nThe page and a "
        "JSON API under /api/ come from hark alone: nothing is loaded\n"
        "from anywhere else.\n\n"
        "options:\n"
        "  -c, --config FILE     configuration (for logger.db and the "
        "query socket)\n"
        "      --db DIR          the trail (default: logger.db, hark.db)\n"
        "      --run-dir DIR     where the running logger's query socket "
        "is (bus.run_dir)\n"
        "  -l, --listen ADDR     address and port (default "
        DEFAULT_LISTEN "; port 0 picks one)\n"
        "      --token-file FILE a secret the browser and scripts must "
        "present; required\n"
        "                        on an address that is not loopback. Open "
        "the page once as\n"
        "                        http://HOST:PORT/?token=TOKEN; scripts "
        "send\n"
        "                        Authorization: Bearer TOKEN\n"
        "  -h, --help            this help\n");
}

/* ---- routes --------------------------------------------------------- */

typedef void (*endpoint_fn)(serve_source_t *s, const struct serve_params *p,
                            struct serve_reply *out);

static void info(serve_source_t *s, const struct serve_params *p,
                 struct serve_reply *out)
{
    struct json_out *j = &out->json;
    json_out_obj(j);
    json_out_key(j, "trail");
    json_out_cstr(j, serve_source_path(s));
    json_out_key(j, "live");
    json_out_bool(j, serve_source_live(s));
    json_out_key(j, "indexed");
    int indexed = serve_source_indexed(s);
    if (indexed < 0)
        json_out_json(j, "null", 4);
    else
        json_out_bool(j, indexed);
    json_out_obj_end(j);
}

static const struct {
    const char *path;
    unsigned params;
    endpoint_fn fn;
} endpoints[] = {
    { "/api/info", 0, info },
    { "/api/records", SERVE_LIST_PARAMS, serve_list },
    { "/api/record", SERVE_TX_PARAMS, serve_tx },
};

#define CHART_PREFIX "/api/chart/"

static void api(struct serve *sv, const char *path,
                const struct serve_arg *args, size_t n,
                struct serve_reply *out)
{
    struct serve_params p;
    char why[512];
    endpoint_fn fn = NULL;
    unsigned params = 0;
    enum serve_chart chart = SERVE_CHART_RATE;
    bool is_chart = !strncmp(path, CHART_PREFIX, strlen(CHART_PREFIX)) &&
                    serve_chart_find(path + strlen(CHART_PREFIX),
                                     &chart) == 0;
    for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++)
        if (!strcmp(path, endpoints[i].path)) {
            fn = endpoints[i].fn;
            params = endpoints[i].params;
        }
    if (is_chart)
        params = SERVE_CHART_PARAMS;
    if (!fn && !is_chart) {
        serve_reply_error(out, 404, "no such API endpoint (/api/info, "
                          "/api/records, /api/record, /api/chart/rate, "
                          "latency, paths, clients, outcomes)");
        return;
    }
    if (serve_params_parse(args, n, params, &p, why, sizeof(why)) < 0) {
        serve_reply_error(out, 400, why);
        return;
    }
    int rc = serve_source_open(sv->src, why, sizeof(why));
    if (rc < 0) {
        serve_reply_error(out, rc == -ENOENT ? 404 : 503, why);
        return;
    }
    if (is_chart)
        serve_chart(sv->src, chart, &p, out);
    else
        fn(sv->src, &p, out);
    serve_source_close(sv->src);
}

static void route(void *ctx, const char *path, const struct serve_arg *args,
                  size_t n, struct serve_reply *out)
{
    struct serve_asset a;
    if (!strncmp(path, "/api/", 5)) {
        api(ctx, path, args, n, out);
    } else if (serve_asset_find(path, &a)) {
        /* the page reads its own arguments: the server ignores them */
        out->type = a.type;
        out->data = a.data;
        out->len = a.len;
        out->cacheable = strcmp(path, "/") != 0;
    } else {
        serve_reply_error(out, 404, "no such page");
    }
}

/* ---- the command ---------------------------------------------------- */

/* The first line of path, which only its owner may read, into token.
 * 0, or 1 with the reason printed. */
static int read_token(const char *path, char *token, size_t size)
{
    FILE *f = fopen(path, "r");
    struct stat st;
    if (!f) {
        fprintf(stderr, "hark serve: --token-file %s: %s\n", path,
                strerror(errno));
        return 1;
    }
    int rc = 1;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
        fprintf(stderr, "hark serve: --token-file %s: others can read it "
                        "(chmod 600 it)\n", path);
    } else if (!fgets(token, (int)size, f)) {
        fprintf(stderr, "hark serve: --token-file %s is empty\n", path);
    } else {
        token[strcspn(token, "\r\n")] = '\0';
        size_t n = strlen(token);
        bool ok = n >= SERVE_TOKEN_MIN && n < size - 1;
        for (size_t i = 0; ok && i < n; i++)
            ok = (token[i] >= 'A' && token[i] <= 'Z') ||
                 (token[i] >= 'a' && token[i] <= 'z') ||
                 (token[i] >= '0' && token[i] <= '9') ||
                 strchr("-._~+/=", token[i]);
        if (ok)
            rc = 0;
        else
            fprintf(stderr, "hark serve: --token-file %s: the token must "
                            "be %d to %zu letters, digits or -._~+/= on "
                            "the first line\n",
                    path, SERVE_TOKEN_MIN, size - 2);
    }
    fclose(f);
    return rc;
}

struct serve_opts {
    const char *config_path, *db, *run_dir, *listen, *token_file;
};

/* -1 to go on, else the exit status. */
static int parse_opts(int argc, char **argv, struct serve_opts *o)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "db", required_argument, NULL, 'D' },
        { "run-dir", required_argument, NULL, 'R' },
        { "listen", required_argument, NULL, 'l' },
        { "token-file", required_argument, NULL, 'T' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:l:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': o->config_path = optarg; break;
        case 'D': o->db = optarg; break;
        case 'R': o->run_dir = optarg; break;
        case 'l': o->listen = optarg; break;
        case 'T': o->token_file = optarg; break;
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, "hark serve: try --help\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hark serve: unexpected argument '%s' (try "
                        "--help)\n", argv[optind]);
        return 2;
    }
    return -1;
}

/* Blocks until SIGINT or SIGTERM (blocked in every thread before the
 * HTTP thread starts, so it is this one that takes them). */
static void wait_for_signal(const sigset_t *set)
{
    int sig;
    while (sigwait(set, &sig) != 0)
        ;
}

int hark_serve_main(int argc, char **argv)
{
    struct serve_opts o = { .listen = DEFAULT_LISTEN };
    int rc = parse_opts(argc, argv, &o);
    if (rc >= 0)
        return rc;
    char token[TOKEN_MAX + 2];
    if (o.token_file && read_token(o.token_file, token, sizeof(token)))
        return 2;
    struct config *cfg;
    if ((rc = trail_config("serve", o.config_path, o.db, o.run_dir, &cfg)))
        return rc;
    struct serve sv = { serve_source_new(cfg) };
    if (!sv.src) {
        fprintf(stderr, "hark serve: out of memory\n");
        config_destroy(&cfg);
        return 1;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    char err[512];
    struct serve_http_opts ho = { o.listen, o.token_file ? token : NULL };
    serve_http_t *h = serve_http_start(&ho, route, &sv, err, sizeof(err));
    if (!h) {
        fprintf(stderr, "hark serve: %s\n", err);
        rc = 2;
    } else {
        char host[64];
        const char *colon = strrchr(o.listen, ':');
        snprintf(host, sizeof(host), "%.*s",
                 (int)(colon ? colon - o.listen : 0), o.listen);
        printf("hark serve: http://%s:%u/ (the trail %s; Ctrl-C stops)\n",
               host, serve_http_port(h), cfg->logger.db);
        fflush(stdout);
        wait_for_signal(&set);
        serve_http_stop(&h);
        rc = 0;
    }
    memset(token, 0, sizeof(token));
    serve_source_destroy(&sv.src);
    config_destroy(&cfg);
    return rc;
}
