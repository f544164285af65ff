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

#endif
