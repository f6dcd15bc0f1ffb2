/* rundir.c - making and checking the run directory (rundir.h). */
#include "rundir.h"
#include "errbuf.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Makes the missing directories above path 0755. When `strict`, each
 * existing one must be root's or ours, and sticky when others can write
 * it (else another user could swap what is below). */
static int prepare_parents(const char *path, bool strict, char *err,
                           size_t errlen)
{
    char buf[4096];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
        errbuf_set(err, errlen, "%s: path too long", path);
        return -ENAMETOOLONG;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        struct stat sb;
        errno = 0;
        if (stat(buf, &sb) != 0 && errno == ENOENT &&
            mkdir(buf, 0755) != 0 && errno != EEXIST) {
            int e = errno;
            errbuf_set(err, errlen, "cannot create %s: %s", buf, strerror(e));
            return -e;
        }
        if (stat(buf, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            int e = errno ? errno : ENOTDIR;
            errbuf_set(err, errlen, "%s: %s", buf, strerror(e));
            return -e;
        }
        bool foreign = sb.st_uid != 0 && sb.st_uid != geteuid();
        bool writable = (sb.st_mode & 022) && !(sb.st_mode & S_ISVTX);
        if (strict && (foreign || writable)) {
            errbuf_set(err, errlen, "%s, above %s, can be changed by "
                       "another user (owner uid %u, mode %04o): choose a "
                       "run directory elsewhere", buf, path,
                       (unsigned)sb.st_uid, (unsigned)(sb.st_mode & 07777));
            return -EPERM;
        }
        *p = '/';
    }
    return 0;
}

/* Opens dir `name` (relative to at, or a path) without following a
 * link, making it 0700 first when missing, and checks and takes it:
 * ours or u's, closed to others, then u's. The fd, or -errno. */
static int take_dir(int at, const char *name, const char *shown,
                    const struct runas *u, char *err, size_t errlen)
{
    if (mkdirat(at, name, 0700) != 0 && errno != EEXIST) {
        int e = errno;
        errbuf_set(err, errlen, "cannot create %s: %s", shown, strerror(e));
        return -e;
    }
    int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                  O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        errbuf_set(err, errlen, "%s: %s; refusing it", shown,
                   e == ELOOP || e == ENOTDIR
                       ? "a symbolic link or not a directory"
                       : strerror(e));
        return -e;
    }
    struct stat sb;
    int rc = 0;
    if (fstat(fd, &sb) != 0) {
        rc = -errno;
        errbuf_set(err, errlen, "%s: %s", shown, strerror(-rc));
    } else if (sb.st_uid != geteuid() && sb.st_uid != u->uid) {
        rc = -EPERM;
        errbuf_set(err, errlen, "%s belongs to uid %u, not to us: refusing "
                   "it (remove it, or choose another run directory)",
                   shown, (unsigned)sb.st_uid);
    } else if (sb.st_mode & 022) {
        rc = -EPERM;
        errbuf_set(err, errlen, "%s can be written by others (mode %04o): "
                   "refusing it", shown, (unsigned)(sb.st_mode & 07777));
    } else if (fchmod(fd, 0700) != 0 ||
               (u->switching && fchown(fd, u->uid, u->gid) != 0)) {
        rc = -errno;
        errbuf_set(err, errlen, "cannot hand %s to %s: %s", shown, u->name,
                   strerror(-rc));
    }
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

int rundir_prepare(const char *path, const struct runas *u, char *err,
                   size_t errlen)
{
    int rc = prepare_parents(path, true, err, errlen);
    if (rc < 0)
        return rc;
    int fd = take_dir(AT_FDCWD, path, path, u, err, errlen);
    if (fd < 0)
        return fd;
    char shown[4200];
    snprintf(shown, sizeof(shown), "%s/%s", path, RUNDIR_STATS);
    int sfd = take_dir(fd, RUNDIR_STATS, shown, u, err, errlen);
    if (sfd < 0) {
        close(fd);
        return sfd;
    }
    close(sfd);
    return fd;
}

int rundir_prepare_trail(const char *path, const struct runas *u, char *err,
                         size_t errlen)
{
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if (!u->switching || sb.st_uid == u->uid)
            return 0;
        errbuf_set(err, errlen, "the audit trail %s belongs to uid %u, but "
                   "the stages run as %s: chown -R %s: %s (or set "
                   "supervisor.run_as)", path, (unsigned)sb.st_uid, u->name,
                   u->name, path);
        return -EPERM;
    }
    if (!u->switching)
        return 0; /* LevelDB makes it */
    int rc = prepare_parents(path, false, err, errlen);
    if (rc < 0)
        return rc;
    int fd = take_dir(AT_FDCWD, path, path, u, err, errlen);
    if (fd < 0)
        return fd;
    close(fd);
    return 0;
}

int rundir_lock(int dirfd, char *err, size_t errlen)
{
    int fd = openat(dirfd, "hark.lock",
                    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        errbuf_set(err, errlen, "hark.lock: %s", e == ELOOP
                   ? "a symbolic link; refusing it" : strerror(e));
        return -e;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_nlink != 1) {
        errbuf_set(err, errlen, "hark.lock is not a plain file of its own; "
                   "refusing it");
        close(fd);
        return -EPERM;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        if (n > 0)
            pid[n] = '\0';
        errbuf_set(err, errlen, "another pipeline (pid %s) uses it",
                   strtok(pid, "\n") ? pid : "?");
        close(fd);
        return -EBUSY;
    }
    char buf[32];
    int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
        int e = errno;
        errbuf_set(err, errlen, "cannot write hark.lock: %s", strerror(e));
        close(fd);
        return -e;
    }
    return fd;
}

void rundir_clear(int dirfd)
{
    unlinkat(dirfd, RUNDIR_HEAD, 0);
    int sfd = openat(dirfd, RUNDIR_STATS, O_RDONLY | O_DIRECTORY |
                                              O_NOFOLLOW | O_CLOEXEC);
    DIR *d = sfd >= 0 ? fdopendir(sfd) : NULL;
    if (!d) {
        if (sfd >= 0)
            close(sfd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 5 && !strcmp(e->d_name + n - 5, ".json"))
            unlinkat(sfd, e->d_name, 0);
    }
    closedir(d);
}

int rundir_write_head(const char *run_dir, const char *line)
{
    char path[4200], tmp[4300];
    snprintf(path, sizeof(path), "%s/%s", run_dir, RUNDIR_HEAD);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                  0644);
    if (fd < 0)
        return -errno;
    size_t n = strlen(line);
    int rc = write(fd, line, n) == (ssize_t)n ? 0 : -EIO;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc < 0)
        unlink(tmp);
    return rc;
}

int rundir_read_head(int dirfd, char *buf, size_t size)
{
    int fd = openat(dirfd, RUNDIR_HEAD,
                    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat sb;
    ssize_t n = -1;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
        n = read(fd, buf, size - 1);
    close(fd);
    if (n <= 0)
        return -EINVAL;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}
