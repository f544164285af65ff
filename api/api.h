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

/* ==== HTTP client (api/client.c): `signet revoke`, `signet certs`, the agent ==== */

#define API_CLIENT_MAX_RESPONSE (256 * 1024) /* bytes; more is refused while receiving */

/* What went wrong below HTTP, when no response came back. */
enum api_client_fail {
    API_CLIENT_FAIL_NONE = 0,  /* an HTTP response arrived */
    API_CLIENT_FAIL_CONNECT,   /* cannot connect: refused, unresolvable or timed out */
    API_CLIENT_FAIL_UNTRUSTED, /* the server's certificate does not verify against --ca */
    API_CLIENT_FAIL_TLS,       /* another TLS failure (handshake, our client certificate) */
    API_CLIENT_FAIL_TOO_LARGE, /* the response passed API_CLIENT_MAX_RESPONSE */
    API_CLIENT_FAIL_STOPPED,   /* SIGTERM or SIGINT became pending during the request */
    API_CLIENT_FAIL_LOCAL,     /* out of memory, a bad URL */
};

/* struct api_reply is one exchange's outcome. Free it with api_reply_cleanup(). */
struct api_reply {
    long status; /* HTTP status; 0 when no response arrived */
    enum api_client_fail fail;
    char *body; /* NUL-terminated (body_len bytes before the NUL), owned */
    size_t body_len;
    int64_t retry_after_s; /* the Retry-After header in seconds; 0 when absent */
    char error[32];        /* "error" of a JSON error body, "" otherwise */
    char message[160];     /* its "message" */
};

/* api_reply_cleanup frees |r|'s body and zeroes it; NULL is allowed. */
void api_reply_cleanup(struct api_reply *r);

/* struct api_client is a libcurl handle for one server. Not thread-safe: use
 * one per thread. */
struct api_client;

/* api_client_new makes a client for the server at |server| ("https://host:port",
 * no path; a trailing '/' is allowed), whose certificate must verify against
 * the PEM roots in |ca_file| and nothing else, with TLS 1.2 or later, a 5 s
 * connect timeout, a 30 s total timeout and responses capped at
 * API_CLIENT_MAX_RESPONSE. A request gives up (API_CLIENT_FAIL_STOPPED) once
 * SIGTERM or SIGINT is pending for the calling thread, so a caller that
 * blocks those signals can stop promptly. API_ERR_BAD_REQUEST for a URL that
 * is not https or an unreadable |ca_file|. The caller frees |*out| with
 * api_client_free(). Both strings are copied. */
enum api_err api_client_new(const char *server, const char *ca_file, struct api_client **out,
                            struct api_error *err) __attribute__((warn_unused_result));

/* api_client_free frees |c| and cleanses any client key it holds; NULL is allowed. */
void api_client_free(struct api_client *c);

/* api_client_identity_files reads a client certificate (PEM, leaf first, then
 * any chain) from |cert_file| and its unencrypted PKCS#8 key from |key_file|,
 * checks that they match, and presents them (mTLS) in later requests. The key
 * stays in memory only and is cleansed when replaced or freed.
 * API_ERR_BAD_REQUEST with a message naming the file otherwise. */
enum api_err api_client_identity_files(struct api_client *c, const char *cert_file,
                                       const char *key_file, struct api_error *err)
    __attribute__((warn_unused_result));

/* api_client_call sends |method| |path| (starting with '/') with an optional
 * bearer |token| (NULL for none; never logged) and an optional JSON |body|
 * (NULL for none) and fills |*out| (clean it up even on failure). It returns
 * API_OK for a 2xx answer. For another status it returns the api_err of the
 * body's wire code (else one matching the status) with err->msg "server
 * refused (<status> <code>): <message>". When no response arrives it returns
 * API_ERR_UNAVAILABLE with out->fail set and a one-line message: "cannot
 * connect to <server> (<reason>)", "server certificate not trusted by --ca
 * <file>", "TLS handshake with <server> failed (<reason>)", and so on. */
enum api_err api_client_call(struct api_client *c, const char *method, const char *path,
                             const char *token, const char *body, size_t body_len,
                             struct api_reply *out, struct api_error *err)
    __attribute__((warn_unused_result));

#define API_CLIENT_SERIAL_MAX 41 /* 40 hex digits and a NUL */

/* struct api_revocation is the answer of POST /v1/revoke. */
struct api_revocation {
    char serial[API_CLIENT_SERIAL_MAX];
    char revoked_at[32];
    char reason[32];
};

/* api_serial_normalize writes |serial| as the server spells serials (lower-case
 * hex, no colons or leading zeros) into |out|. It accepts either case, colons
 * between bytes (as `openssl x509 -serial` and browsers print them) and
 * leading zeros; 1..20 bytes, non-zero. Else API_ERR_BAD_REQUEST. */
enum api_err api_serial_normalize(const char *serial, char out[API_CLIENT_SERIAL_MAX],
                                  struct api_error *err) __attribute__((warn_unused_result));

/* api_client_revoke sends POST /v1/revoke {"serial", "reason"} (|reason| an
 * RFC 5280 name, or NULL to let the server choose) and fills |*out| from the
 * 200 answer. When |out_json| is not NULL it gets the answer's JSON text
 * (free() it). Errors as api_client_call; a bad serial or reason is
 * API_ERR_BAD_REQUEST before anything is sent. */
enum api_err api_client_revoke(struct api_client *c, const char *serial, const char *reason,
                               struct api_revocation *out, char **out_json, struct api_error *err)
    __attribute__((warn_unused_result));

/* struct api_cert_info is one issuance record of GET /v1/certs. Strings the
 * server leaves out are "". */
struct api_cert_info {
    char serial[API_CLIENT_SERIAL_MAX];
    char spiffe_id[2049];
    char status[16]; /* valid, revoked or expired */
    char not_before[32];
    char not_after[32];
    char revoked_at[32];
    char reason[32];
};

/* struct api_certs_query filters GET /v1/certs. Pointers are borrowed. */
struct api_certs_query {
    const char *spiffe_id;    /* NULL for all */
    const char *status;       /* "valid", "revoked", "expired" or NULL for all */
    const char *renewed_from; /* a serial: the renewals made with it; NULL for all */
    size_t limit;             /* at most this many records in all; 0 for no limit */
};

/* api_client_certs_list walks
 * GET /v1/certs?spiffe_id=&status=&renewed_from=&limit=&after=,
 * following the pagination cursor (the answer's "next", or the last serial
 * when it says "more": true), also past pages with no records, for as long as
 * it moves forward, until the records end or |q->limit| is reached,
 * and calls |each| for every record with the record and its JSON text (both
 * borrowed for the call). A non-zero return from |each| stops the walk (API_OK).
 * The answer is {"certs": [record...], "next": "<serial>"}, where a record
 * has at least "serial". Errors as api_client_call, and API_ERR_INTERNAL for
 * an answer of another shape. */
enum api_err
api_client_certs_list(struct api_client *c, const struct api_certs_query *q,
                      int (*each)(const struct api_cert_info *info, const char *json, void *ctx),
                      void *ctx, struct api_error *err) __attribute__((warn_unused_result));

/* api_client_cert_show fetches GET /v1/certs/<serial> into |*out| and, when
 * |out_json| is not NULL, its JSON text (free() it). Errors as
 * api_client_revoke. */
enum api_err api_client_cert_show(struct api_client *c, const char *serial,
                                  struct api_cert_info *out, char **out_json, struct api_error *err)
    __attribute__((warn_unused_result));

/* ==== The sidecar (api/agent.c): `signet agent` ==== */

/* struct api_agent_config says what the agent does. Pointers are borrowed
 * for the run. */
struct api_agent_config {
    const char *server;     /* https URL of `signet serve` */
    const char *ca_file;    /* PEM roots that the server's certificate must chain to */
    const char *token_file; /* bearer token, re-read on every attempt */
    const char *out_dir;    /* where svid.pem, svid.key, bundle.pem and crl.pem go */
    int key_type;           /* an enum ca_key_type */
    int once;               /* get one SVID, then return */
    int64_t crl_refresh_s;  /* how often to fetch crl.pem */
    const char *ttl;        /* requested SVID lifetime ("10m"), NULL for the server's default */
};

/* api_agent_run runs the sidecar until SIGTERM or SIGINT (which the caller
 * must block in every thread beforehand: the agent waits for them with
 * sigtimedwait and checks for them during requests), writing JSON log lines
 * to stderr. It returns API_OK when stopped by a signal, or, with |once|,
 * after writing one SVID; an error when |once| could not get one, or when
 * the output directory cannot be used. */
enum api_err api_agent_run(const struct api_agent_config *cfg, struct api_error *err)
    __attribute__((warn_unused_result));

#endif
