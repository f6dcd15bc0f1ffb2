/* store_view.c - a private, read-only view of a LevelDB directory. */
#include "store_view.h"

#include "errbuf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* What LevelDB keeps for itself: its lock and its text log. */
static bool private_file(const char *name)
{
    return !strcmp(name, "LOCK") || !strcmp(name, "LOG") ||
           !strcmp(name, "LOG.old");
}

/* An open file description's test (F_OFD_GETLK) sees this process's own
 * lock too, which F_GETLK would not. */
static bool held(int dirfd)
{
    int fd = openat(dirfd, "LOCK", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    bool locked = fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
    close(fd);
    return locked;
}

static int copy_fd(int in, int out)
{
    for (;;) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
        if (n == 0)
            return 0;
        if (n > 0)
            continue;
        if (errno == EINTR)
            continue;
        if (errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
            errno != EOPNOTSUPP)
            return -errno;
        break;
    }
    /* copy_file_range refused these two files: plain reads */
    char buf[1 << 16];
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n == 0)
            return 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return w < 0 ? -errno : -EIO;
            off += w;
        }
    }
}

static int copy_file(int dirfd, int viewfd, const char *name)
{
    int in = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return -errno;
    int out = openat(viewfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                     0600);
    if (out < 0) {
        int e = -errno;
        close(in);
        return e;
    }
    int rc = copy_fd(in, out);
    close(in);
    if (close(out) != 0 && rc == 0)
        rc = -errno;
    return rc;
}

/* True when dir is on media this process can write (so opening the
 * database in place works, as LevelDB expects). */
static bool writable(int dirfd)
{
    struct statvfs vfs;
    return faccessat(dirfd, ".", W_OK, AT_EACCESS) == 0 &&
           fstatvfs(dirfd, &vfs) == 0 && !(vfs.f_flag & ST_RDONLY);
}

/* Links every file of the database into the view; where a link cannot be
 * made, -EXDEV when the database could be opened in place instead, or
 * copies of it when it cannot (read-only media). */
static int fill(int dirfd, int viewfd, const char *dir, char *err,
                size_t errlen)
{
    int fd = dup(dirfd);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        errbuf_set(err, errlen, "%s: %s", dir, strerror(e));
        return -e;
    }
    int rc = 0;
    bool copying = false;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        struct stat st;
        if (de->d_name[0] == '.' || private_file(de->d_name) ||
            fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode))
            continue; /* bodies/, index/ and anything not LevelDB's */
        if (!copying) {
            if (linkat(dirfd, de->d_name, viewfd, de->d_name, 0) == 0)
                continue;
            if (writable(dirfd)) {
                rc = -EXDEV;
                break;
            }
            copying = true;
        }
        rc = copy_file(dirfd, viewfd, de->d_name);
        if (rc < 0)
            errbuf_set(err, errlen, "%s/%s: %s", dir, de->d_name,
                       strerror(-rc));
    }
    closedir(d);
    return rc;
}

/* Removes the views in tmp of readers that died without removing them
 * (hark-view-PID-XXXXXX of a PID that is gone): a killed `hark serve`
 * would otherwise pin the files its links name, or copies of them. */
static void sweep(const char *tmp)
{
    DIR *d = opendir(tmp);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        long pid;
        char rest[16];
        if (sscanf(de->d_name, "hark-view-%ld-%15s", &pid, rest) != 2 ||
            pid <= 0 || strlen(rest) != 6 || pid == (long)getpid() ||
            kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
            continue;
        char path[STORE_VIEW_PATH];
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", tmp, de->d_name) <
            sizeof(path))
            store_view_remove(path);
    }
    closedir(d);
}

int store_view_make(const char *dir, char view[STORE_VIEW_PATH], char *err,
                    size_t errlen)
{
    view[0] = '\0';
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        int e = errno;
        errbuf_set(err, errlen, "%s: %s", dir, strerror(e));
        return e == ENOENT || e == ENOTDIR ? -ENOENT : -e;
    }
    struct stat st;
    if (fstatat(dirfd, "CURRENT", &st, 0) != 0) {
        close(dirfd);
        errbuf_set(err, errlen, "%s: no database there", dir);
        return -ENOENT;
    }
    if (held(dirfd)) {
        close(dirfd);
        errbuf_set(err, errlen, "%s is held by a running process (its LOCK "
                   "is locked)", dir);
        return -EBUSY;
    }
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    sweep(tmp);
    int e = 0;
    if ((size_t)snprintf(view, STORE_VIEW_PATH, "%s/hark-view-%ld-XXXXXX",
                         tmp, (long)getpid()) >= STORE_VIEW_PATH)
        e = ENAMETOOLONG;
    else if (!mkdtemp(view))
        e = errno;
    if (e) {
        close(dirfd);
        errbuf_set(err, errlen, "a view of %s in %s: %s", dir, tmp,
                   strerror(e));
        view[0] = '\0';
        return -e;
    }
    int viewfd = open(view, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = viewfd < 0 ? -errno : fill(dirfd, viewfd, dir, err, errlen);
    if (viewfd < 0)
        errbuf_set(err, errlen, "%s: %s", view, strerror(-rc));
    else if (rc == -EXDEV)
        errbuf_set(err, errlen, "%s and %s are on different file systems",
                   dir, view);
    else
        close(viewfd);
    close(dirfd);
    if (rc < 0) {
        store_view_remove(view);
        view[0] = '\0';
    }
    return rc;
}

void store_view_remove(const char *view)
{
    if (!view || !*view)
        return;
    DIR *d = opendir(view);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
    }
    rmdir(view);
}

bool store_view_held(const char *dir)
{
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return false;
    bool h = held(dirfd);
    close(dirfd);
    return h;
}
