/* ca.h: the X.509 engine's interface. Keys, CSR checks, certificate profiles,
 * issuance, chain and bundle (and later CRL and OCSP). It uses OpenSSL only and
 * knows nothing of HTTP or LMDB. */
#ifndef SIGNET_CA_H
#define SIGNET_CA_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Caps on untrusted input, checked before any parsing. */
#define CA_MAX_CSR_LEN       (32 * 1024)
#define CA_MAX_SPIFFE_ID_LEN 2048
#define CA_MAX_DNS_NAME_LEN  253
#define CA_MAX_SANS          32
#define CA_SERIAL_LEN        16 /* bytes: 128-bit random, positive */
#define CA_SERIAL_HEX_MAX    (2 * CA_SERIAL_LEN + 1)

/* The module's error table: code, short name. CA_OK is 0. */
#define CA_ERRORS(X)                                                                               \
    X(CA_OK, "ok")                                                                                 \
    X(CA_ERR_INTERNAL, "internal")                                                                 \
    X(CA_ERR_INVALID_ARGUMENT, "invalid_argument")                                                 \
    X(CA_ERR_INVALID_CSR, "invalid_csr")                                                           \
    X(CA_ERR_UNSUPPORTED_KEY, "unsupported_key")                                                   \
    X(CA_ERR_INVALID_SPIFFE_ID, "invalid_spiffe_id")                                               \
    X(CA_ERR_FORBIDDEN_SAN, "forbidden_san")                                                       \
    X(CA_ERR_INVALID_TTL, "invalid_ttl")                                                           \
    X(CA_ERR_ISSUER_EXPIRED, "issuer_expired")                                                     \
    X(CA_ERR_INVALID_CERT, "invalid_cert")                                                         \
    X(CA_ERR_UNTRUSTED_CERT, "untrusted_cert")                                                     \
    X(CA_ERR_INVALID_KEY, "invalid_key")                                                           \
    X(CA_ERR_KEY_MISMATCH, "key_mismatch")                                                         \
    X(CA_ERR_BAD_PASSPHRASE, "bad_passphrase")                                                     \
    X(CA_ERR_EXISTS, "exists")                                                                     \
    X(CA_ERR_IO, "io")

enum ca_err {
#define CA_ERR_ENUM(code, name) code,
    CA_ERRORS(CA_ERR_ENUM)
#undef CA_ERR_ENUM
};

/* struct ca_error carries a client-safe message with a code: what was wrong and
 * why, never a path, a key or an OpenSSL reason code. */
struct ca_error {
    enum ca_err code;
    char msg[160];
};

/* ca_err_name returns the short name of |code| ("invalid_csr"), a static string. */
const char *ca_err_name(enum ca_err code);

/* ca_fail sets |err| (which may be NULL) to |code| and the formatted message and
 * returns |code|, so that callers can write `return ca_fail(err, ...)`. */
enum ca_err ca_fail(struct ca_error *err, enum ca_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
