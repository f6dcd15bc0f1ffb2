/* reload.c - SIGHUP for `hark run`: the config checked, then the stages
 * told in order. */
#include "reload.h"
#include "check_config.h"
#include "clock.h"
#include "log.h"
#include "stats.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum reload_state { RELOAD_IDLE, RELOAD_WAIT_FIRST, RELOAD_REST_DUE };

struct reload {
    const char *config_path;
    char stats_dir[PATH_MAX];
    enum reload_state state;
    char first[48];
    uint64_t mark_ok, mark_failed; /* the first one's counters before */
    uint64_t deadline_ns;
    unsigned done, failed;
};

reload_t *reload_new(const char *config_path, const char *stats_dir)
{
    reload_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->config_path = config_path;
    snprintf(r->stats_dir, sizeof(r->stats_dir), "%s", stats_dir);
    return r;
}

void reload_destroy(reload_t **r)
{
    if (!r || !*r)
        return;
    free(*r);
    *r = NULL;
}

int reload_check(reload_t *r, const struct config *running)
{
    char err[1024];
    struct config *next = NULL;
    if (!r->config_path) {
        log_warn("SIGHUP: started without -c FILE: nothing to reload");
        return -1;
    }
    if (check_config_load(r->config_path, &next, err, sizeof(err)) < 0) {
        log_error("reload refused, the running config stays: %s", err);
        r->failed++;
        return -1;
    }
    check_config_restart_only(running, next);
    config_destroy(&next);
    log_info("SIGHUP: reloading service groups, relative paths and "
             "policies from %s", r->config_path);
    r->done++;
    r->state = RELOAD_REST_DUE;
    return 0;
}

/* The reload counters of stage id's stats; false when it has none. */
static bool counters_of(const reload_t *r, const char *id, uint64_t *ok,
                        uint64_t *failed)
{
    char path[PATH_MAX + 64];
    struct stats_snapshot snap;
    snprintf(path, sizeof(path), "%s/%s.json", r->stats_dir, id);
    if (stats_snapshot_load(path, &snap) < 0)
        return false;
    *ok = stats_snapshot_get(&snap, "config_reloads");
    *failed = stats_snapshot_get(&snap, "config_reload_failed");
    return true;
}

bool reload_first(reload_t *r, const char *id)
{
    snprintf(r->first, sizeof(r->first), "%s", id);
    if (!counters_of(r, id, &r->mark_ok, &r->mark_failed))
        r->mark_ok = r->mark_failed = 0;
    r->deadline_ns = clock_mono_ns() +
                     (uint64_t)RELOAD_FIRST_WAIT_MS * NS_PER_MS;
    r->state = RELOAD_WAIT_FIRST;
    return true;
}

bool reload_rest_due(reload_t *r)
{
    if (r->state == RELOAD_REST_DUE) {
        r->state = RELOAD_IDLE;
        return true;
    }
    if (r->state != RELOAD_WAIT_FIRST)
        return false;
    uint64_t ok = 0, failed = 0;
    counters_of(r, r->first, &ok, &failed);
    if (failed > r->mark_failed) {
        log_error("reload: %s refused it; the other stages keep the "
                  "running config", r->first);
        r->failed++;
        r->state = RELOAD_IDLE;
        return false;
    }
    if (ok > r->mark_ok) {
        r->state = RELOAD_IDLE;
        return true;
    }
    if (clock_mono_ns() < r->deadline_ns)
        return false;
    log_warn("reload: %s did not say it reloaded within %d ms; telling the "
             "other stages anyway", r->first, RELOAD_FIRST_WAIT_MS);
    r->state = RELOAD_IDLE;
    return true;
}

int reload_timeout_ms(const reload_t *r)
{
    return r->state == RELOAD_IDLE ? -1 : 50;
}

unsigned reload_count(const reload_t *r, bool failed)
{
    return failed ? r->failed : r->done;
}
