/* verify.c - `hark verify`: check the trail's hash chain.
 *
 * Prints "ok: N records, head HASH" and exits 0, or names the first bad
 * chain entry (sequence number, what is wrong) and exits 1. The head
 * hash covers every record; keeping a copy of it elsewhere (a ticket, a
 * log of the run) is what makes a rewrite of the whole chain detectable.
 */
#include "commands.h"
#include "store_verify.h"

#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
        "usage: hark verify [-c FILE] [--db DIR]\n\n"
        "Checks the audit trail's hash chain: every record is present, "
        "unchanged, in\nits place, and nothing was added. Prints \"ok: N "
        "records, head HASH\" (exit 0)\nor the first bad sequence number "
        "and why (exit 1). Stop the logger first.\n\n"
        "options:\n"
        "  -c, --config FILE   configuration (for logger.db)\n"
        "      --db DIR        the trail (default: logger.db, hark.db)\n"
        "  -h, --help          this help\n");
}

int hark_verify_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "db", required_argument, NULL, 'D' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config_path = NULL, *db = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'D': db = optarg; break;
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, "hark verify: try --help\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hark verify: unexpected argument '%s' (try "
                        "--help)\n", argv[optind]);
        return 2;
    }
    struct config *cfg;
    int rc = trail_config("verify", config_path, db, NULL, &cfg);
    if (rc)
        return rc;
    store_t *s = NULL;
    if (trail_open("verify", cfg->logger.db, false, &s) < 0) {
        config_destroy(&cfg);
        return 1;
    }
    struct store_verify v;
    rc = store_verify(s, &v);
    int status = 1;
    if (rc == 0) {
        char hex[STORE_HASH_BYTES * 2 + 1];
        sodium_bin2hex(hex, sizeof(hex), v.head, sizeof(v.head));
        printf("ok: %llu records, head %s\n", (unsigned long long)v.records,
               hex);
        status = 0;
    } else if (rc == -EBADMSG && v.bad_seq) {
        printf("FAILED: %s: seq %llu: %s\n", cfg->logger.db,
               (unsigned long long)v.bad_seq, v.why);
    } else if (rc == -EBADMSG) {
        printf("FAILED: %s: %s\n", cfg->logger.db, v.why);
    } else {
        fprintf(stderr, "hark verify: %s: %s\n", cfg->logger.db,
                v.why[0] ? v.why : strerror(-rc));
    }
    store_close(&s);
    config_destroy(&cfg);
    if (fflush(stdout) != 0)
        status = 1;
    return status;
}
