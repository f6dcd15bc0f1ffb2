/* verify.c - `hark verify`: check the trail's hash chain and anchors.
 *
 * Prints "ok: N records, head HASH" and what anchors it (exit 0), or
 * names the first bad chain entry (sequence number, what is wrong) and
 * exits 1. The chain alone proves every record is unchanged and in its
 * place, but not that nothing was cut from the end or that the chain was
 * not rewritten as a whole: --pubkey (the logger's signed checkpoints)
 * and --head (a head hash kept elsewhere, as `hark run` prints it) do.
 * Without either, the second line says that the trail is not anchored.
 */
#include "commands.h"
#include "keyfile.h"
#include "store_verify.h"

#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
        "usage: hark verify [-c FILE] [--db DIR] [--pubkey FILE] "
        "[--head HASH]\n\n"
        "Checks the audit trail's hash chain: every record is present, "
        "unchanged, in\nits place, and nothing was added. Prints \"ok: N "
        "records, head HASH\" (exit 0)\nor the first bad sequence number "
        "and why (exit 1). Stop the logger first.\n\n"
        "The trail is read through a private view in $TMPDIR (hard links, "
        "or a copy\non read-only media) and none of its files change; with "
        "$TMPDIR on another\nfile system a writable trail is opened in "
        "place.\n\n"
        "A cut at the end of the trail, or a rewrite of the whole chain, "
        "is only\ncaught against something kept outside the trail:\n"
        "  --pubkey FILE  the logger's signing key (FILE.pub of `hark "
        "keygen`, the\n"
        "                 logger's logger.sign_key): every checkpoint it "
        "signed must\n"
        "                 be valid, and the last record must be covered by "
        "a final one\n"
        "  --head HASH    a head hash printed by `hark run` (or an earlier "
        "verify):\n"
        "                 it must be in the chain\n\n"
        "options:\n"
        "  -c, --config FILE   configuration (for logger.db)\n"
        "      --db DIR        the trail (default: logger.db, hark.db)\n"
        "      --pubkey FILE   check the signed checkpoints with this "
        "public key\n"
        "      --head HASH     check that this head (64 hex digits) is in "
        "the chain\n"
        "  -h, --help          this help\n");
}

struct verify_args {
    const char *config_path, *db, *pubkey_path, *head_hex;
    uint8_t pubkey[KEYFILE_SIGN_PUBLIC_BYTES];
    uint8_t head[STORE_HASH_BYTES];
    struct store_verify_opts opts;
};

/* 0, -1 after --help, or the exit status 2 after saying what is wrong. */
static int parse(struct verify_args *a, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "db", required_argument, NULL, 'D' },
        { "pubkey", required_argument, NULL, 'P' },
        { "head", required_argument, NULL, 'H' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': a->config_path = optarg; break;
        case 'D': a->db = optarg; break;
        case 'P': a->pubkey_path = optarg; break;
        case 'H': a->head_hex = optarg; break;
        case 'h': usage(stdout); return -1;
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
    size_t got = 0;
    if (a->head_hex &&
        (strlen(a->head_hex) != STORE_HASH_BYTES * 2 ||
         sodium_hex2bin(a->head, sizeof(a->head), a->head_hex,
                        strlen(a->head_hex), NULL, &got, NULL) != 0 ||
         got != sizeof(a->head))) {
        fprintf(stderr, "hark verify: --head: expected 64 hex digits (a "
                        "head hash as hark run prints it), got '%s'\n",
                a->head_hex);
        return 2;
    }
    char err[512];
    if (a->pubkey_path &&
        keyfile_load_sign_public(a->pubkey_path, a->pubkey, err,
                                 sizeof(err)) < 0) {
        fprintf(stderr, "hark verify: --pubkey: %s\n", err);
        return 2;
    }
    a->opts.pubkey = a->pubkey_path ? a->pubkey : NULL;
    a->opts.head = a->head_hex ? a->head : NULL;
    return 0;
}

/* The lines after "ok": what anchors the trail. */
static void print_anchors(const struct verify_args *a,
                          const struct store_verify *v)
{
    if (a->opts.pubkey)
        printf("  signed: the last record is covered by a final checkpoint "
               "signed by this key (%llu signature%s checked)\n",
               (unsigned long long)v->signed_ok, v->signed_ok == 1 ? "" : "s");
    if (a->opts.head)
        printf("  head %s is seq %llu (%llu record%s after it)\n",
               a->head_hex, (unsigned long long)v->head_seq,
               (unsigned long long)(v->records - v->head_seq),
               v->records - v->head_seq == 1 ? "" : "s");
    if (!a->opts.pubkey && !a->opts.head)
        printf("  not anchored: the chain and its %llu checkpoint%s agree, "
               "but a cut at its\n  end or a rewrite would pass too; check "
               "with --pubkey FILE or --head HASH\n",
               (unsigned long long)v->checkpoints,
               v->checkpoints == 1 ? "" : "s");
}

int hark_verify_main(int argc, char **argv)
{
    struct verify_args a;
    memset(&a, 0, sizeof(a));
    int rc = parse(&a, argc, argv);
    if (rc)
        return rc < 0 ? 0 : rc;
    struct config *cfg;
    rc = trail_config("verify", a.config_path, a.db, NULL, &cfg);
    if (rc)
        return rc;
    store_t *s = NULL;
    if (trail_open("verify", cfg->logger.db, false, &s) < 0) {
        config_destroy(&cfg);
        return 1;
    }
    struct store_verify v;
    rc = store_verify(s, &a.opts, &v);
    int status = 1;
    if (rc == 0) {
        char hex[STORE_HASH_BYTES * 2 + 1];
        sodium_bin2hex(hex, sizeof(hex), v.head, sizeof(v.head));
        printf("ok: %llu records, head %s\n", (unsigned long long)v.records,
               hex);
        print_anchors(&a, &v);
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
