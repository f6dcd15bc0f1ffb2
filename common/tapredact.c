/* tapredact.c - header values a policy redacts, hidden on the taps. */
#include "tapredact.h"
#include "frame.h"
#include "policy.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tapredact {
    const struct config *cfg;
    frame_reader_t *reader;
    frame_writer_t *writer;       /* for the src it was made for */
    char src[64];
    struct msg_header scratch[FRAME_MAX_HEADERS];
};

tapredact_t *tapredact_new(const struct config *c)
{
    tapredact_t *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->cfg = c;
    t->reader = frame_reader_new();
    if (!t->reader) {
        free(t);
        return NULL;
    }
    return t;
}

void tapredact_destroy(tapredact_t **t)
{
    if (!t || !*t)
        return;
    frame_reader_destroy(&(*t)->reader);
    frame_writer_destroy(&(*t)->writer);
    free(*t);
    *t = NULL;
}

/* Whether any log step would hide the header called name. */
static bool hidden(const tapredact_t *t, struct bytes name)
{
    if (policy_redacts(&policy_orphan_step, name))
        return true;
    for (unsigned p = 0; p < t->cfg->n_policies; p++) {
        const struct config_policy *pol = &t->cfg->policies[p];
        for (unsigned s = 0; s < pol->n_steps; s++)
            if (pol->steps[s].kind == STEP_LOG &&
                policy_redacts(&pol->steps[s], name))
                return true;
    }
    return false;
}

static bool any_hidden(const tapredact_t *t, const struct http_msg *m)
{
    for (uint32_t i = 0; i < m->n_headers; i++)
        if (hidden(t, m->headers[i].name))
            return true;
    return false;
}

/* A writer for frames of src, made again when src changes. */
static int writer_for(tapredact_t *t, struct bytes src)
{
    char id[sizeof(t->src)];
    snprintf(id, sizeof(id), "%.*s", (int)src.n, src.p ? src.p : "");
    if (t->writer && !strcmp(id, t->src)) {
        frame_writer_reset(t->writer);
        return 0;
    }
    frame_writer_destroy(&t->writer);
    snprintf(t->src, sizeof(t->src), "%s", id);
    t->writer = frame_writer_new(FRAME_MSG, t->src);
    return t->writer ? 0 : -ENOMEM;
}

/* Adds item i of f to the writer, its hidden header values replaced. */
static int add_redacted(tapredact_t *t, const struct frame *f, uint32_t i)
{
    struct http_msg m;
    if (frame_item_msg(t->reader, f, i, &m) != 0)
        return -EBADMSG;
    if (!any_hidden(t, &m))
        return frame_add_object(t->writer, &f->items[i]);
    for (uint32_t h = 0; h < m.n_headers; h++) {
        t->scratch[h] = m.headers[h];
        if (hidden(t, m.headers[h].name))
            t->scratch[h].value = BYTES_LIT(POLICY_REDACTED);
    }
    m.headers = t->scratch;
    return frame_add_msg(t->writer, &m);
}

int tapredact_msg(tapredact_t *t, const void *body, size_t len,
                  const void **out, size_t *outlen)
{
    struct frame f;
    if (frame_read(t->reader, "msg", 3, body, len, &f) != 0 ||
        f.type != FRAME_MSG)
        return -EBADMSG;
    bool change = false;
    for (uint32_t i = 0; i < f.n_items && !change; i++) {
        struct http_msg m;
        if (frame_item_msg(t->reader, &f, i, &m) != 0)
            return -EBADMSG;
        change = any_hidden(t, &m);
    }
    if (!change)
        return 0;
    int rc = writer_for(t, f.src);
    for (uint32_t i = 0; i < f.n_items && rc == 0; i++)
        rc = add_redacted(t, &f, i);
    if (rc < 0)
        return rc;
    frame_writer_finish(t->writer, f.seq, f.wm_ns, f.live, out, outlen);
    return *out ? 1 : -ENOMEM;
}
