/* tapredact.h - a message frame as a tap may show it.
 *
 * Taps publish what a stage emits, for anyone allowed to subscribe; the
 * trail itself never holds a header value a policy redacts, so neither
 * may a tap. The reassembler is the first stage that has headers, and
 * dispatch passes its messages on, so every `msg` frame a tap publishes
 * goes through here: a header that any log step of any policy (or the
 * orphan step) would redact gets the value POLICY_REDACTED. `log` frames
 * hold records, already redacted by their step.
 */
#ifndef HARK_TAPREDACT_H
#define HARK_TAPREDACT_H

#include "config.h"

#include <stddef.h>

typedef struct tapredact tapredact_t;

/* Borrows c (its policies) for its whole life. NULL on ENOMEM. */
tapredact_t *tapredact_new(const struct config *c);
void tapredact_destroy(tapredact_t **t);

/* A `msg` frame body with every redacted header value replaced. Returns
 * 1 with *out (valid until the next call) when it changed something, 0
 * when the body may be shown as it is, -EBADMSG when the body or an item
 * does not decode (show nothing), -ENOMEM. */
int tapredact_msg(tapredact_t *t, const void *body, size_t len,
                  const void **out, size_t *outlen);

#endif
