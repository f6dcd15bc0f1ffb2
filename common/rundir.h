/* rundir.h - the run directory: ipc sockets, stats, the trail's head.
 *
 * Whoever controls the run directory controls the pipeline (it binds the
 * sockets every stage connects to) and the files root writes there, so
 * it is made and checked before use: the directory itself is never a
 * symbolic link, belongs to us or to the stage user, and no one else can
 * write it; the directories above it are root's or ours and, when others
 * can write them, sticky (/tmp). Files in it are opened relative to the
 * directory's fd with O_NOFOLLOW, so a link planted there is refused,
 * never followed.
 *
 * Defaults (config.c): /run/hark for root, $XDG_RUNTIME_DIR/hark for
 * others, else a private directory made with mkdtemp by `hark run`.
 */
#ifndef HARK_RUNDIR_H
#define HARK_RUNDIR_H

#include "runas.h"

#include <stddef.h>

#define RUNDIR_STATS "stats"
#define RUNDIR_HEAD "head"        /* the logger's last head, for hark run */
#define RUNDIR_HEAD_MAX 256

/* Makes path (missing parents 0755, itself 0700) and its stats
 * directory, refuses them when unsafe (above), and hands them to the
 * stage user u when we are root. Returns an fd of the directory (the
 * caller closes it), or -errno with a one-line reason in err. */
int rundir_prepare(const char *path, const struct runas *u, char *err,
                   size_t errlen);

/* Makes the directory of the audit trail for u when it is missing
 * (parents 0755, itself 0700, handed to u), or checks that u owns it.
 * 0, or -errno with the reason in err. */
int rundir_prepare_trail(const char *path, const struct runas *u, char *err,
                         size_t errlen);

/* Takes <dir>/hark.lock (one pipeline per run directory) and writes our
 * pid into it. Returns the fd to hold for the run, -EBUSY (err says
 * which pid holds it), or -errno. */
int rundir_lock(int dirfd, char *err, size_t errlen);

/* Removes the stats files and the head a previous run left. */
void rundir_clear(int dirfd);

/* The logger's head line ("SEQ HASH KEY"), written in run_dir; and read
 * back by `hark run` through the directory's fd. 0 or -errno. */
int rundir_write_head(const char *run_dir, const char *line);
int rundir_read_head(int dirfd, char *buf, size_t size);

#endif
