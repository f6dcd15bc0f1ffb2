/* roles.h - which stages `hark run --only` supervises on this machine.
 *
 * A pipeline spread over machines runs one `hark run` per machine, each
 * with the same config and its own part: "--only capture",
 * "--only reassemble" (every shard), "--only reassemble:0,1" (some),
 * "--only dispatch,correlate,logger". A number after a shard list is one
 * more shard ("reassemble:0,1,dispatch" is shards 0 and 1, and
 * dispatch); a shard's process id names it too ("reassemble-1", for a
 * systemd instance name, which takes no ':'). Without --only, every
 * stage runs here.
 */
#ifndef HARK_ROLES_H
#define HARK_ROLES_H

#include "config.h"
#include "topology.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct roles {
    bool some;                /* --only was given */
    unsigned mask;            /* bit r: role r runs here (some shards) */
    bool every_shard;         /* "reassemble" without a list */
    uint64_t shards;          /* bit i: shard i, when a list was given */
};

/* Adds the roles of text (one --only argument) to r. 0, or -EINVAL with
 * the reason in err. */
int roles_parse(struct roles *r, const char *text, char *err,
                size_t errlen);

/* Checks r against cfg: every shard named exists. 0 or -EINVAL (err). */
int roles_check(const struct roles *r, const struct config *cfg, char *err,
                size_t errlen);

/* True when role's instance shard runs here. */
bool roles_has(const struct roles *r, enum topology_role role,
               unsigned shard);

/* True when every instance of role (cfg's shards) runs here. */
bool roles_all_of(const struct roles *r, const struct config *cfg,
                  enum topology_role role);

/* The selection as text in pipeline order ("reassemble:0,1,logger";
 * "all" without --only) into buf. Returns buf, NULL when it is cut. */
char *roles_describe(const struct roles *r, const struct config *cfg,
                     char *buf, size_t size);

#endif
