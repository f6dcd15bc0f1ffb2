/* keyfile.h - the key files `hark keygen` writes and hark reads.
 *
 * Two key pairs per machine, each a secret file (mode 0600, refused when
 * others can read it, as ssh refuses) and a public file an operator can
 * copy into the config of other machines. Text, one line per key:
 *
 *   PREFIX.sign        "ed25519-secret <base64 of 64 bytes>"
 *   PREFIX.sign.pub    "ed25519 <base64 of 32 bytes>"
 *       Ed25519 (libsodium): the logger signs checkpoints of the trail's
 *       hash chain with it; `hark verify --pubkey` checks them.
 *   PREFIX.curve       "curve-secret <Z85, 40 chars>" and
 *                      "curve-public <Z85>" on the next line
 *   PREFIX.curve.pub   "curve <Z85, 40 chars>"
 *       CurveZMQ: authenticates and encrypts tcp:// links between
 *       machines.
 *
 * Errors are returned as -errno with a one-line reason in err.
 */
#ifndef HARK_KEYFILE_H
#define HARK_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYFILE_SIGN_SECRET_BYTES 64
#define KEYFILE_SIGN_PUBLIC_BYTES 32
#define KEYFILE_Z85_LEN 40

/* Writes the four files. Refuses to overwrite existing ones unless
 * `force`. */
int keyfile_generate(const char *prefix, bool force, char *err,
                     size_t errlen);

int keyfile_load_sign_secret(const char *path,
                             uint8_t sk[KEYFILE_SIGN_SECRET_BYTES],
                             char *err, size_t errlen);
int keyfile_load_sign_public(const char *path,
                             uint8_t pk[KEYFILE_SIGN_PUBLIC_BYTES],
                             char *err, size_t errlen);

/* Z85 text, NUL-terminated (KEYFILE_Z85_LEN + 1 bytes each). */
int keyfile_load_curve_secret(const char *path, char secret_z85[41],
                              char public_z85[41], char *err,
                              size_t errlen);
int keyfile_load_curve_public(const char *path, char public_z85[41],
                              char *err, size_t errlen);

/* A public CURVE key given inline in the config ("curve <Z85>" or the
 * bare 40 characters), checked. 0 or -EINVAL. */
int keyfile_parse_curve_public(const char *text, char public_z85[41]);

#endif
