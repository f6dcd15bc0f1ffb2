/* policy.c - audit records made by log steps. */
#include "policy.h"

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

static bool redacted(const struct config_step *step, struct bytes name)
{
    for (unsigned i = 0; i < step->n_redact; i++)
        if (bytes_case_eq(name, step->redact[i]))
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
            if (redacted(step, scratch[i].name))
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

bool policy_redacts(const struct config_step *step, struct bytes name)
{
    return redacted(step, name);
}
