/* runas.h - the unprivileged user the stages run as.
 *
 * Started as root (the capture needs it to open a device), a stage gives
 * root up as soon as it has opened what needs it, and before it reads a
 * byte from the network or the bus: every stage then runs as
 * supervisor.run_as (default: the `hark` system user that `make deps`
 * creates, else `nobody`), with no capability and no way back
 * (PR_SET_NO_NEW_PRIVS). Started as anyone else, nothing changes: the
 * stages run as that user.
 */
#ifndef HARK_RUNAS_H
#define HARK_RUNAS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define RUNAS_DEFAULT "hark"
#define RUNAS_FALLBACK "nobody"

struct runas {
    char name[64];
    uid_t uid;
    gid_t gid;
    bool switching;           /* we are root and the user is not */
};

/* Who the stages run as: `name`, or when NULL RUNAS_DEFAULT, else
 * RUNAS_FALLBACK. When we are not root it is simply us (switching
 * false). 0, or -ENOENT with the reason in err. */
int runas_resolve(const char *name, struct runas *out, char *err,
                  size_t errlen);

/* Becomes u for good when u->switching: groups, gid, uid, then checks
 * that root cannot be had back and that no capability is left. 0, or
 * -errno with the reason in err. */
int runas_become(const struct runas *u, char *err, size_t errlen);

/* Whether u can search and write the directory `path` (checked in a
 * child that becomes u). 0 or -errno (-EACCES, -ENOENT). */
int runas_check_dir(const struct runas *u, const char *path);

#endif
