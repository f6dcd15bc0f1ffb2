/* keyfile.c - Ed25519 and CurveZMQ key files. */
#include "keyfile.h"
#include "errbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define MAX_KEYFILE 512 /* bytes: a key file is a line or two */
#define B64 sodium_base64_VARIANT_ORIGINAL

/* Reads a small key file whole. Secret files must not be readable by
 * anyone but their owner. */
static int read_small(const char *path, bool secret, char *buf,
                      size_t size, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        errbuf_set(err, errlen, "cannot read key file %s: %s", path,
                   strerror(e));
        return -e;
    }
    struct stat sb;
    int rc = 0;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        errbuf_set(err, errlen, "key file %s: not a regular file", path);
        rc = -EINVAL;
    } else if (secret && (sb.st_mode & 077)) {
        errbuf_set(err, errlen,
                   "key file %s: readable by others (mode %03o); "
                   "chmod 600 it", path, (unsigned)(sb.st_mode & 0777));
        rc = -EPERM;
    } else {
        ssize_t n = read(fd, buf, size - 1);
        if (n < 0 || (size_t)n >= size - 1) {
            errbuf_set(err, errlen, "key file %s: %s", path,
                       n < 0 ? strerror(errno) : "too long");
            rc = -EINVAL;
        } else {
            buf[n] = '\0';
        }
    }
    close(fd);
    return rc;
}

/* The value after "<label> " on a line of buf, into out (NUL-ended).
 * 0, or -EINVAL when there is no such line. */
static int field(const char *buf, const char *label, char *out, size_t size)
{
    size_t ll = strlen(label);
    const char *p = buf;
    while (*p) {
        if (!strncmp(p, label, ll) && p[ll] == ' ') {
            const char *v = p + ll + 1;
            size_t n = strcspn(v, "\r\n");
            if (n == 0 || n >= size)
                return -EINVAL;
            memcpy(out, v, n);
            out[n] = '\0';
            return 0;
        }
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    return -EINVAL;
}

static int load_b64(const char *path, bool secret, const char *label,
                    uint8_t *out, size_t want, char *err, size_t errlen)
{
    char buf[MAX_KEYFILE], text[MAX_KEYFILE];
    int rc = read_small(path, secret, buf, sizeof(buf), err, errlen);
    if (rc < 0)
        return rc;
    size_t got = 0;
    if (field(buf, label, text, sizeof(text)) != 0 ||
        sodium_base642bin(out, want, text, strlen(text), NULL, &got, NULL,
                          B64) != 0 ||
        got != want) {
        errbuf_set(err, errlen, "key file %s: expected a line \"%s <key>\" "
                   "(made by hark keygen)", path, label);
        return -EINVAL;
    }
    return 0;
}

int keyfile_load_sign_secret(const char *path,
                             uint8_t sk[KEYFILE_SIGN_SECRET_BYTES],
                             char *err, size_t errlen)
{
    return load_b64(path, true, "ed25519-secret", sk,
                    KEYFILE_SIGN_SECRET_BYTES, err, errlen);
}

int keyfile_load_sign_public(const char *path,
                             uint8_t pk[KEYFILE_SIGN_PUBLIC_BYTES],
                             char *err, size_t errlen)
{
    return load_b64(path, false, "ed25519", pk, KEYFILE_SIGN_PUBLIC_BYTES,
                    err, errlen);
}

static bool z85_key_ok(const char *z85)
{
    uint8_t bin[32];
    return strlen(z85) == KEYFILE_Z85_LEN && zmq_z85_decode(bin, z85);
}

static int load_z85(const char *buf, const char *path, const char *label,
                    char out[41], char *err, size_t errlen)
{
    if (field(buf, label, out, 41) != 0 || !z85_key_ok(out)) {
        errbuf_set(err, errlen, "key file %s: expected a line \"%s <40 "
                   "Z85 characters>\" (made by hark keygen)", path, label);
        return -EINVAL;
    }
    return 0;
}

int keyfile_load_curve_secret(const char *path, char secret_z85[41],
                              char public_z85[41], char *err,
                              size_t errlen)
{
    char buf[MAX_KEYFILE];
    int rc = read_small(path, true, buf, sizeof(buf), err, errlen);
    if (rc == 0)
        rc = load_z85(buf, path, "curve-secret", secret_z85, err, errlen);
    if (rc == 0)
        rc = load_z85(buf, path, "curve-public", public_z85, err, errlen);
    return rc;
}

int keyfile_load_curve_public(const char *path, char public_z85[41],
                              char *err, size_t errlen)
{
    char buf[MAX_KEYFILE];
    int rc = read_small(path, false, buf, sizeof(buf), err, errlen);
    return rc < 0 ? rc : load_z85(buf, path, "curve", public_z85, err, errlen);
}

int keyfile_parse_curve_public(const char *text, char public_z85[41])
{
    if (!strncmp(text, "curve ", 6))
        text += 6;
    if (strlen(text) != KEYFILE_Z85_LEN)
        return -EINVAL;
    memcpy(public_z85, text, KEYFILE_Z85_LEN + 1);
    return z85_key_ok(public_z85) ? 0 : -EINVAL;
}

/* Creates path with `text`; O_EXCL unless force, so a key is never
 * silently replaced. */
static int write_file(const char *path, const char *text, mode_t mode,
                      bool force, char *err, size_t errlen)
{
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
                (force ? O_TRUNC : O_EXCL);
    int fd = open(path, flags, mode);
    if (fd < 0) {
        int e = errno;
        errbuf_set(err, errlen, "cannot create %s: %s%s", path,
                   strerror(e),
                   e == EEXIST ? " (keep it, or pass --force)" : "");
        return -e;
    }
    size_t n = strlen(text);
    int rc = 0;
    if (fchmod(fd, mode) != 0 || write(fd, text, n) != (ssize_t)n ||
        fsync(fd) != 0) {
        rc = -errno;
        errbuf_set(err, errlen, "cannot write %s: %s", path, strerror(-rc));
    }
    if (close(fd) != 0 && rc == 0) {
        rc = -errno;
        errbuf_set(err, errlen, "cannot write %s: %s", path, strerror(-rc));
    }
    return rc;
}

static int write_pair(const char *prefix, const char *ext,
                      const char *secret, const char *pub, bool force,
                      char *err, size_t errlen)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s.%s", prefix, ext) >=
        sizeof(path)) {
        errbuf_set(err, errlen, "key file prefix too long");
        return -ENAMETOOLONG;
    }
    int rc = write_file(path, secret, 0600, force, err, errlen);
    if (rc < 0)
        return rc;
    strncat(path, ".pub", sizeof(path) - strlen(path) - 1);
    return write_file(path, pub, 0644, force, err, errlen);
}

int keyfile_generate(const char *prefix, bool force, char *err,
                     size_t errlen)
{
    if (sodium_init() < 0) {
        errbuf_set(err, errlen, "libsodium cannot start");
        return -EIO;
    }
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    char cpub[41], csec[41];
    if (crypto_sign_keypair(pk, sk) != 0 ||
        zmq_curve_keypair(cpub, csec) != 0) {
        errbuf_set(err, errlen, "cannot make keys: %s",
                   errno ? strerror(errno) : "no CURVE support in libzmq");
        return -EIO;
    }
    char b64s[sodium_base64_ENCODED_LEN(sizeof(sk), B64)];
    char b64p[sodium_base64_ENCODED_LEN(sizeof(pk), B64)];
    sodium_bin2base64(b64s, sizeof(b64s), sk, sizeof(sk), B64);
    sodium_bin2base64(b64p, sizeof(b64p), pk, sizeof(pk), B64);
    sodium_memzero(sk, sizeof(sk));
    char sec_text[MAX_KEYFILE], pub_text[MAX_KEYFILE];
    snprintf(sec_text, sizeof(sec_text), "ed25519-secret %s\n", b64s);
    snprintf(pub_text, sizeof(pub_text), "ed25519 %s\n", b64p);
    int rc = write_pair(prefix, "sign", sec_text, pub_text, force, err,
                        errlen);
    sodium_memzero(b64s, sizeof(b64s));
    sodium_memzero(sec_text, sizeof(sec_text));
    if (rc < 0)
        return rc;
    snprintf(sec_text, sizeof(sec_text),
             "curve-secret %s\ncurve-public %s\n", csec, cpub);
    snprintf(pub_text, sizeof(pub_text), "curve %s\n", cpub);
    rc = write_pair(prefix, "curve", sec_text, pub_text, force, err, errlen);
    sodium_memzero(csec, sizeof(csec));
    sodium_memzero(sec_text, sizeof(sec_text));
    return rc;
}
