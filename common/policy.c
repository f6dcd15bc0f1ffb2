/* policy.c - audit records made by log steps. */
#include "policy.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

const char *const policy_default_redact[POLICY_DEFAULT_REDACT_COUNT] = {
    "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie",
};

const struct config_step policy_orphan_step = {
    .kind = STEP_LOG,
    .label = "Orphan Response",
    .message = STEP_MSG_RESPONSE,
    .headers = true,
    .body_max = POLICY_DEFAULT_BODY_MAX,
    /* A config step owns its strings (char **); this one is only read. */
    .redact = (char **)policy_default_redact,
    .n_redact = POLICY_DEFAULT_REDACT_COUNT,
};

/* Adds name to names[0, *n) unless there (case-insensitively); false
 * when it does not fit. */
static bool add_name(const char **names, unsigned *n, unsigned cap,
                     const char *name)
{
    for (unsigned i = 0; i < *n; i++)
        if (!strcasecmp(names[i], name))
            return true;
    if (*n == cap)
        return false;
    names[(*n)++] = name;
    return true;
}

/* Folds step s into the orphan step o; false when its names overflow. */
static bool stricter(struct config_step *o, const struct config_step *s,
                     const char **names, unsigned cap)
{
    o->headers = o->headers && s->headers;
    if (s->body_max < o->body_max)
        o->body_max = s->body_max;
    for (unsigned k = 0; k < s->n_redact; k++)
        if (!add_name(names, &o->n_redact, cap, s->redact[k]))
            return false;
    return true;
}

/* True when a relative path of cfg routes to policy i (one no route
 * names never logs anything). */
static bool routed(const struct config *cfg, unsigned i)
{
    for (unsigned g = 0; g < cfg->n_groups; g++)
        for (unsigned r = 0; r < cfg->groups[g].n_routes; r++)
            if (cfg->groups[g].routes[r].policy_index == (int)i)
                return true;
    return false;
}

bool policy_orphan_step_for(const struct config *cfg, const char **names,
                            unsigned cap, struct config_step *out)
{
    *out = policy_orphan_step;
    out->redact = (char **)names;
    out->n_redact = 0;
    bool fits = true;
    for (unsigned k = 0; k < POLICY_DEFAULT_REDACT_COUNT; k++)
        fits = fits && add_name(names, &out->n_redact, cap,
                                policy_default_redact[k]);
    bool any_response = false;
    for (unsigned i = 0; cfg && i < cfg->n_policies; i++)
        for (unsigned j = 0; routed(cfg, i) && j < cfg->policies[i].n_steps;
             j++) {
            const struct config_step *s = &cfg->policies[i].steps[j];
            any_response |= s->kind == STEP_LOG &&
                            s->message == STEP_MSG_RESPONSE;
        }
    bool first = true;
    for (unsigned i = 0; cfg && i < cfg->n_policies; i++)
        for (unsigned j = 0; routed(cfg, i) && j < cfg->policies[i].n_steps;
             j++) {
            const struct config_step *s = &cfg->policies[i].steps[j];
            if (s->kind != STEP_LOG ||
                (any_response && s->message != STEP_MSG_RESPONSE))
                continue;
            if (first) /* the steps', not the default's, body size */
                out->body_max = s->body_max;
            first = false;
            fits = stricter(out, s, names, cap) && fits;
        }
    /* names it cannot hold are values it cannot redact: no headers */
    if (!fits)
        out->headers = false;
    return fits;
}

uint64_t policy_body_carried(const struct config *cfg, uint64_t cap)
{
    const char *names[POLICY_ORPHAN_REDACT_MAX];
    struct config_step orphan;
    policy_orphan_step_for(cfg, names, POLICY_ORPHAN_REDACT_MAX, &orphan);
    uint64_t most = orphan.body_max;
    for (unsigned i = 0; cfg && i < cfg->n_policies; i++)
        for (unsigned j = 0; routed(cfg, i) && j < cfg->policies[i].n_steps;
             j++) {
            const struct config_step *s = &cfg->policies[i].steps[j];
            if (s->kind == STEP_LOG && s->body_max > most)
                most = s->body_max;
        }
    return most < cap ? most : cap;
}

void policy_summarize(const struct http_msg *req, struct req_summary *out)
{
    memset(out, 0, sizeof(*out));
    out->uid = req->uid;
    out->idx = req->idx;
    out->ts_ns = req->ts_ns;
    out->ts_end_ns = req->ts_end_ns;
    out->addr = req->addr;
    out->route = req->route;
    out->method = req->method;
    out->uri = req->uri;
    out->host = policy_header(req->headers, req->n_headers, "host");
}

struct bytes policy_header(const struct msg_header *h, uint32_t n,
                           const char *name)
{
    size_t len = strlen(name);
    for (uint32_t i = 0; i < n; i++)
        if (h[i].name.n == len && !strncasecmp(h[i].name.p, name, len))
            return h[i].value;
    struct bytes none = { NULL, 0 };
    return none;
}

/* ---- redaction: names as servers may read them ---- */

/* RFC 9110 tchar: what a clean header name is made of. */
static bool tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Case folded, and "_" read as "-" as CGI, WSGI and PHP do (both become
 * HTTP_PROXY_AUTHORIZATION). */
static unsigned char fold(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return (unsigned char)(c - 'A' + 'a');
    return c == '_' ? '-' : c;
}

/* Compares the tchars of p[i..n), folded, with want: the index past the
 * match, or 0 when it does not match. Other bytes (spaces, NUL, control
 * bytes, UTF-8) are skipped: no server reads them as part of a name. */
static size_t match_at(const unsigned char *p, size_t i, size_t n,
                       const char *want)
{
    for (const char *w = want; *w; w++) {
        while (i < n && !tchar(p[i]))
            i++;
        if (i >= n || fold(p[i]) != fold((unsigned char)*w))
            return 0;
        i++;
    }
    return i;
}

/* Unclean names longer than this are redacted without a search. */
#define POLICY_NAME_SCAN_MAX 1024

/* A name is redacted when, its odd bytes skipped, it reads as a redacted
 * name; a name that is not a clean token ("Authorization ",
 * "Authorization\0", "X Cookie") also when a redacted name can be read
 * anywhere in it. */
static bool name_redacted(struct bytes name, const char *want)
{
    const unsigned char *p = (const unsigned char *)name.p;
    bool clean = name.n > 0;
    for (uint32_t i = 0; i < name.n && clean; i++)
        clean = tchar(p[i]);
    size_t end = match_at(p, 0, name.n, want);
    if (end) {
        while (end < name.n && !tchar(p[end]))
            end++;
        if (end == name.n)
            return true;
    }
    if (clean)
        return false;
    if (name.n > POLICY_NAME_SCAN_MAX)
        return true;
    for (uint32_t i = 0; i < name.n; i++)
        if (tchar(p[i]) && match_at(p, i, name.n, want))
            return true;
    return false;
}

/* A value that carries a header line of a redacted name: after a bare CR
 * some servers start a new line, after an obs-fold (unfolded to a space)
 * others do, so "X: a\rAuthorization: s" is a credential to them. Each
 * ':' is looked at once, with the token before it. */
static bool value_carries(struct bytes value, const char *want)
{
    if (value.n == 0)
        return false; /* p may be NULL then */
    const unsigned char *p = (const unsigned char *)value.p;
    const unsigned char *c = p, *end = p + value.n;
    while ((c = memchr(c, ':', (size_t)(end - c))) != NULL) {
        const unsigned char *e = c;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        const unsigned char *t = e;
        while (t > p && tchar(t[-1]))
            t--;
        if (t < e && match_at(t, 0, (size_t)(e - t), want) ==
                         (size_t)(e - t))
            return true;
        c++;
    }
    return false;
}

bool policy_redacts(const struct config_step *step, struct bytes name,
                    struct bytes value)
{
    for (unsigned i = 0; i < step->n_redact; i++)
        if (name_redacted(name, step->redact[i]) ||
            value_carries(value, step->redact[i]))
            return true;
    return false;
}

void policy_make_record(const struct config_step *step, enum record_kind kind,
                        const struct req_summary *req,
                        const struct http_msg *msg, const char *outcome,
                        uint64_t ts_ns, struct msg_header *scratch,
                        struct audit_record *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = kind;
    out->uid = req->uid;
    out->idx = req->idx;
    out->ts_ns = ts_ns;
    out->addr = req->addr;
    out->route = req->route;
    out->step = bytes_of(step->label);
    out->method = req->method;
    out->uri = req->uri;
    out->host = req->host;
    out->req_ts_ns = req->ts_ns;
    if (outcome)
        out->outcome = bytes_of(outcome);
    if (!msg)
        return;
    out->version = msg->version;
    out->flags = msg->flags;
    out->body_len = msg->body_len;
    if (kind == RECORD_RESPONSE) {
        out->status = msg->status;
        out->reason = msg->reason;
        /* From the end of the request to the first byte of the answer:
         * the service's time, not the client's upload time. */
        if (msg->ts_ns > req->ts_end_ns)
            out->latency_ns = msg->ts_ns - req->ts_end_ns;
    }
    if (step->headers) {
        uint32_t n = msg->n_headers;
        if (n > FRAME_MAX_HEADERS)
            n = FRAME_MAX_HEADERS;
        for (uint32_t i = 0; i < n; i++) {
            scratch[i] = msg->headers[i];
            if (policy_redacts(step, scratch[i].name, scratch[i].value))
                scratch[i].value = BYTES_LIT(POLICY_REDACTED);
        }
        out->headers = scratch;
        out->n_headers = n;
    }
    out->body = msg->body;
    if (out->body.n > step->body_max) {
        out->body.n = (uint32_t)step->body_max;
        out->flags |= MSG_F_TRUNCATED;
    }
}
