/* runas.c - giving root up for the stage user. */
#include "runas.h"
#include "errbuf.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static bool lookup(const char *name, struct runas *out)
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) != 0 || !res)
        return false;
    snprintf(out->name, sizeof(out->name), "%s", res->pw_name);
    out->uid = res->pw_uid;
    out->gid = res->pw_gid;
    return true;
}

int runas_resolve(const char *name, struct runas *out, char *err,
                  size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (geteuid() != 0) {
        out->uid = geteuid();
        out->gid = getegid();
        struct passwd *pw = getpwuid(out->uid);
        snprintf(out->name, sizeof(out->name), "%s",
                 pw ? pw->pw_name : "(this user)");
        return 0;
    }
    bool found = name ? lookup(name, out)
                      : lookup(RUNAS_DEFAULT, out) ||
                            lookup(RUNAS_FALLBACK, out);
    if (!found) {
        if (name)
            errbuf_set(err, errlen, "supervisor.run_as: no user '%s' on "
                       "this machine (create it, or name another)", name);
        else
            errbuf_set(err, errlen, "no user '%s' or '%s' to run the "
                       "stages as (make deps creates '%s'; or set "
                       "supervisor.run_as)", RUNAS_DEFAULT, RUNAS_FALLBACK,
                       RUNAS_DEFAULT);
        return -ENOENT;
    }
    out->switching = out->uid != 0;
    return 0;
}

/* True when the effective and permitted capability sets are empty. */
static bool no_capabilities(void)
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof(d));
    if (syscall(SYS_capget, &h, d) != 0)
        return false;
    return !d[0].effective && !d[1].effective && !d[0].permitted &&
           !d[1].permitted;
}

/* Groups, gid, uid: the order in which each step is still allowed. */
static const char *drop(const struct runas *u)
{
    if (setgroups(1, &u->gid) != 0)
        return "groups";
    if (setresgid(u->gid, u->gid, u->gid) != 0)
        return "group";
    if (setresuid(u->uid, u->uid, u->uid) != 0)
        return "user";
    return NULL;
}

int runas_become(const struct runas *u, char *err, size_t errlen)
{
    if (!u->switching)
        return 0;
    const char *step = drop(u);
    if (step) {
        int e = errno;
        errbuf_set(err, errlen, "cannot become %s (uid %u): setting the %s "
                   "failed: %s", u->name, (unsigned)u->uid, step,
                   strerror(e));
        return -e;
    }
    /* No setuid program may give back what was just given up. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || setuid(0) == 0 ||
        !no_capabilities()) {
        errbuf_set(err, errlen, "gave up root for %s, but could get "
                   "privileges back; stopping", u->name);
        return -EPERM;
    }
    return 0;
}

int runas_check_dir(const struct runas *u, const char *path)
{
    if (!u->switching)
        return access(path, W_OK | X_OK) == 0 ? 0 : -errno;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        if (drop(u))
            _exit(EPERM);
        _exit(access(path, W_OK | X_OK) == 0 ? 0 : errno);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    if (!WIFEXITED(status))
        return -EIO;
    return -WEXITSTATUS(status);
}
