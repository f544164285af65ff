/* api.h: the HTTP(S) server: config, routing, JSON, authentication (JWT,
 * mTLS), one handler per route, metrics and logging. The only folder that
 * includes microhttpd.h, gnutls/ or jwt.h. */
#ifndef SIGNET_API_H
#define SIGNET_API_H

#include <stddef.h>
#include <stdint.h>

#define API_MAX_BODY_LEN (64 * 1024)

/* The module's error table: code, wire code, HTTP status. API_OK is 0. */
#define API_ERRORS(X)                                                                              \
    X(API_OK, "ok", 200)                                                                           \
    X(API_ERR_BAD_REQUEST, "bad_request", 400)                                                     \
    X(API_ERR_INVALID_CSR, "invalid_csr", 400)                                                     \
    X(API_ERR_UNAUTHENTICATED, "unauthenticated", 401)                                             \
    X(API_ERR_FORBIDDEN, "forbidden", 403)                                                         \
    X(API_ERR_NOT_FOUND, "not_found", 404)                                                         \
    X(API_ERR_METHOD_NOT_ALLOWED, "method_not_allowed", 405)                                       \
    X(API_ERR_PAYLOAD_TOO_LARGE, "payload_too_large", 413)                                         \
    X(API_ERR_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", 415)                               \
    X(API_ERR_OVERLOADED, "overloaded", 429)                                                       \
    X(API_ERR_INTERNAL, "internal", 500)                                                           \
    X(API_ERR_UNAVAILABLE, "unavailable", 503)

enum api_err {
#define API_ERR_ENUM(code, wire, status) code,
    API_ERRORS(API_ERR_ENUM)
#undef API_ERR_ENUM
};

/* api_err_wire returns the contract's wire code for |code| ("forbidden"). */
const char *api_err_wire(enum api_err code);

/* api_err_status returns the HTTP status for |code|. */
unsigned api_err_status(enum api_err code);

/* struct api_error carries a client-safe message with a code. */
struct api_error {
    enum api_err code;
    char msg[160];
};

/* api_fail sets |err| (may be NULL) to |code| and the formatted message and
 * returns |code|. */
enum api_err api_fail(struct api_error *err, enum api_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- Provisioner tokens (api/token.c), for `signet token` ---- */

/* struct api_token_params says what a provisioner token asserts. Every
 * pointer is borrowed for the call. */
struct api_token_params {
    const char *key_path;         /* the provisioner's private key: PEM, EC P-256, unencrypted */
    const char *provisioner;      /* `iss`: the provisioner's name in the server's config */
    const char *spiffe_id;        /* `sub`; its trust domain gives `aud` */
    const char *const *dns_names; /* optional `dns` claim */
    size_t num_dns_names;
    const char *ttl; /* a duration such as "5m", at most 1h; NULL for 5m */
    int64_t now;     /* Unix seconds: iat and nbf */
};

/* api_token_mint makes the ES256 provisioner token of CONTRACT section 7:
 * iss = provisioner, sub = spiffe_id, aud = "spiffe://<td>/signet/server",
 * a random 128-bit hex jti, iat = nbf = now, exp = now + ttl. On success the
 * caller owns the NUL-terminated |*out_token| and frees it with
 * api_token_free(). Bad parameters (a SPIFFE ID, DNS name, ttl, or a key
 * that is missing or not EC P-256) are API_ERR_BAD_REQUEST with a message;
 * the key is cleansed from memory. Thread-safe. */
enum api_err api_token_mint(const struct api_token_params *params, char **out_token,
                            struct api_error *err) __attribute__((warn_unused_result));

/* api_token_free cleanses and frees a token from api_token_mint; NULL is allowed. */
void api_token_free(char *token);

/* ==== The server (api/server.c) ==== */

/* struct api_server is a running `signet serve`: HTTPS and HTTP listeners,
 * the issuer, the store, authentication and the signer threads. */
struct api_server;

/* api_server_start loads the configuration at |config_path| (CONTRACT section
 * 5), reads the intermediate and the roots, opens the store, issues the
 * server's own TLS certificate (or reads tls.cert/tls.key) and starts both
 * listeners. Request logs go to stderr. One server per process (the TLS
 * certificate callback of GnuTLS has no user pointer). On success the caller
 * stops it with api_server_stop(); on failure |err| says why, naming the key
 * or file. Call it with SIGTERM, SIGINT and SIGPIPE blocked so that the
 * server's threads inherit the mask. */
enum api_err api_server_start(const char *config_path, struct api_server **out,
                              struct api_error *err) __attribute__((warn_unused_result));

/* api_server_stop shuts |srv| down gracefully: stops accepting, lets requests
 * in flight finish (at most about 10 s), drains the signing queue, stops the
 * listeners, closes the store (committing what is pending) and frees
 * everything; NULL is allowed. Not thread-safe: call it once, from the thread
 * that started the server. */
void api_server_stop(struct api_server *srv);

#endif
