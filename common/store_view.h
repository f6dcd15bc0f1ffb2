/* store_view.h - a private, read-only view of a LevelDB directory.
 *
 * LevelDB has no read-only open: opening a database replays its log
 * into a new table, writes a new manifest and log, and takes a lock
 * file. A reader of the trail (hark query, export, verify, serve at
 * rest) would so rewrite the files of the evidence it reads, and could
 * not open a trail on read-only media at all. Instead it opens a view: a
 * directory of its own under $TMPDIR (default /tmp) holding a hard link
 * to each of the database's files. LevelDB never writes into a file it
 * did not create (with reuse_logs off, as hark leaves it): new files and
 * renames land in the view, the originals stay as they were. The view
 * is removed when the reader closes it, and one a reader left behind
 * (killed) when the next reader of this user makes its own.
 *
 * Links need $TMPDIR on the trail's file system (and mount). Elsewhere a
 * trail on writable media is opened in place, as LevelDB expects (a view
 * would copy the records' part of the trail, some 5% of it, on every
 * open); a trail on read-only media, which cannot be opened in place,
 * is copied into the view.
 *
 * A database a process holds (its LOCK file is locked: a running logger)
 * is not viewed: the caller learns it (-EBUSY) and asks that process.
 */
#ifndef HARK_STORE_VIEW_H
#define HARK_STORE_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#define STORE_VIEW_PATH 4096

/* Makes the view of the database in dir: its path in view. 0, -ENOENT
 * (no database there), -EBUSY (a process holds it), -EXDEV (no view:
 * open dir itself), or -errno with the reason in err. */
int store_view_make(const char *dir, char view[STORE_VIEW_PATH], char *err,
                    size_t errlen);

/* True when a process holds the database in dir (LevelDB locks its LOCK
 * file with fcntl for as long as it has the database open). */
bool store_view_held(const char *dir);

/* Removes a view and what LevelDB wrote into it. */
void store_view_remove(const char *view);

#endif
