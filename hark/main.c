/* main.c - `hark`: the front end. One binary, one subcommand per task. */
#include "check_config.h"
#include "commands.h"
#include "supervisor.h"

#include <stdio.h>
#include <string.h>

#define HARK_VERSION "0.1.0"

struct command {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    { "run", hark_run_main,
      "run the pipeline on an interface or a capture file" },
    { "query", hark_query_main,
      "print the audit trail (table, or JSON lines with --json)" },
    { "export", hark_export_main, "export the trail as JSON lines or HAR" },
    { "verify", hark_verify_main,
      "check the trail's hash chain for edited or deleted records" },
    { "serve", hark_serve_main,
      "look at the trail in a browser (read-only web page and JSON API)" },
    { "stats", hark_stats_main, "print every stage's counters" },
    { "tap", hark_tap_main, "print what stages put on the bus, live" },
    { "keygen", hark_keygen_main,
      "make this machine's signing and CURVE key pairs" },
    { "check-config", hark_check_config_main,
      "check a config file as the stages would, without running" },
};

static void usage(FILE *f)
{
    fprintf(f, "usage: hark COMMAND [options]   (hark COMMAND --help for "
               "details)\n\n"
               "hark passively records the HTTP requests and responses of a "
               "service into a\ntamper-evident audit trail, from packets "
               "sniffed off an interface or read from\na capture file.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nexamples:\n"
               "  hark run -c hark.yaml -r tests/data/demo.pcap --db demo.db\n"
               "  hark run -c hark.yaml -i eth0 -f 'tcp port 80'\n"
               "  hark query --db demo.db --json\n"
               "  hark verify --db demo.db\n"
               "  hark serve --db demo.db          # then open "
               "http://127.0.0.1:8080/\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("hark %s\n", HARK_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "hark: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
