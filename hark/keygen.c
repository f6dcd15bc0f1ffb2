/* keygen.c - `hark keygen`: this machine's signing and CURVE key pairs. */
#include "commands.h"
#include "keyfile.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

static void usage(FILE *f)
{
    fprintf(f,
        "usage: hark keygen [-o PREFIX] [--force]\n\n"
        "Writes this machine's two key pairs:\n"
        "  PREFIX.sign, PREFIX.sign.pub    Ed25519: the logger signs "
        "checkpoints of the\n"
        "                                  trail with it; hark verify "
        "--pubkey checks them\n"
        "  PREFIX.curve, PREFIX.curve.pub  CurveZMQ: authenticates and "
        "encrypts tcp://\n"
        "                                  links between machines\n"
        "The secret files are mode 0600; copy only the .pub files to other "
        "machines.\n\n"
        "options:\n"
        "  -o, --out PREFIX   where to write (default: hark)\n"
        "      --force        replace existing key files\n"
        "  -h, --help         this help\n");
}

int hark_keygen_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "out", required_argument, NULL, 'o' },
        { "force", no_argument, NULL, 'F' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *prefix = "hark";
    bool force = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': prefix = optarg; break;
        case 'F': force = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hark keygen: unexpected argument '%s'\n",
                argv[optind]);
        return 2;
    }
    char err[512];
    if (keyfile_generate(prefix, force, err, sizeof(err)) < 0) {
        fprintf(stderr, "hark keygen: %s\n", err);
        return 1;
    }
    printf("wrote %s.sign, %s.sign.pub, %s.curve, %s.curve.pub\n", prefix,
           prefix, prefix, prefix);
    return 0;
}
