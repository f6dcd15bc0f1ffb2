/* curve.h - CurveZMQ on tcp:// links: who may connect, whom we trust.
 *
 * Every tcp:// socket hark binds or connects (pipeline links, taps, the
 * query socket) is authenticated and encrypted with CurveZMQ once the
 * config names this machine's key pair (bus.curve_key, made by `hark
 * keygen`). ipc:// and inproc:// sockets are left alone: the run
 * directory's permissions guard them.
 *   - A socket that binds is a CURVE server with this machine's secret
 *     key. A ZAP handler (RFC 27: a thread with a REP socket on the
 *     process's context at inproc://zeromq.zap.01) admits a client only
 *     when its public key is this machine's or one of bus.peers.
 *   - A socket that connects is a CURVE client with this machine's key
 *     pair; the server must hold the key bus.peers gives for the host the
 *     endpoint names (this machine's own key for a loopback host).
 * Without keys a tcp:// endpoint is refused (-EPERM), unless
 * bus.insecure: true, which is warned about once per process.
 */
#ifndef HARK_CURVE_H
#define HARK_CURVE_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct curve curve_t;

/* This process binds sockets: run the ZAP handler. */
#define CURVE_ZAP 1u

/* Reads the keys the config names (bus.curve_key and every peer's).
 * With CURVE_ZAP and keys, binds the ZAP handler on ctx before
 * returning, so no server socket exists without it. NULL on failure with
 * a one-line reason in err. */
curve_t *curve_new(void *ctx, const struct config *c, unsigned flags,
                   char *err, size_t errlen);
/* Starts the ZAP handler on ctx later (a process that reads its keys as
 * root and gives root up before it binds anything): before the first
 * server socket. 0 (also without keys, or when it runs) or -errno with
 * the reason in err. */
int curve_serve(curve_t *c, void *ctx, char *err, size_t errlen);

/* Call after zmq_ctx_term(ctx) (which ends the handler); joins it and
 * wipes the secret key. NULLs *c; safe twice. */
void curve_destroy(curve_t **c);

/* True when this machine has a key pair. */
bool curve_enabled(const curve_t *c);

/* Clients the ZAP handler refused so far (read by the stats). */
const uint64_t *curve_refused(const curve_t *c);

/* 0 when endpoint may be used: it is not tcp://, this machine has keys,
 * or bus.insecure is set; else -EPERM with the reason in err. */
int curve_allows(const curve_t *c, const char *endpoint, char *err,
                 size_t errlen);

/* Prepares sock to bind (server) or connect (client) to endpoint: CURVE
 * for tcp://, nothing for other transports. 0, or -EPERM (tcp without
 * keys, not insecure), -ENOKEY (no key for the endpoint's host) or
 * -errno from zmq_setsockopt, with the reason in err. c may be NULL (no
 * keys, not insecure). */
int curve_server(const curve_t *c, void *sock, const char *endpoint,
                 char *err, size_t errlen);
int curve_client(const curve_t *c, void *sock, const char *endpoint,
                 char *err, size_t errlen);

/* For a process that only connects one socket (hark query, hark tap):
 * when endpoint is tcp://, loads this machine's keys from the config
 * and makes sock a CURVE client (a secret key file readable only by its
 * owner keeps other local users out); nothing for other transports.
 * 0 or -errno with the reason in err, as curve_client(). */
int curve_connect_setup(void *ctx, const struct config *cfg, void *sock,
                        const char *endpoint, char *err, size_t errlen);

#endif
