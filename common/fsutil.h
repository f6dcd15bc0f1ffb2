/* fsutil.h - small file-system helpers shared by stages and the front end. */
#ifndef HARK_FSUTIL_H
#define HARK_FSUTIL_H

/* mkdir -p with mode 0700 (run directories hold sockets and stats that
 * are the user's alone). 0 or -errno. */
int fs_mkdir_p(const char *path);

#endif
