/* internal.h: shared by the files of api/ only. */
#ifndef SIGNET_API_INTERNAL_H
#define SIGNET_API_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "ca.h"
#include "store.h"

/* The error macros of STYLE.md section 4, for functions with `enum api_err rc`,
 * `struct api_error *err` and an `out:` label. */
#define TRY(call)                                                                                  \
    do {                                                                                           \
        rc = (call);                                                                               \
        if (rc != API_OK) {                                                                        \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

#define ENSURE(cond, code, ...)                                                                    \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            rc = api_fail(err, (code), __VA_ARGS__);                                               \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

/* OSSL fails unless the OpenSSL call returned exactly 1 (verifiers return 1, 0
 * or -1) and clears OpenSSL's error queue. Needs <openssl/err.h>. */
#ifndef OSSL
#define OSSL(call, code, ...)                                                                      \
    do {                                                                                           \
        if ((call) != 1) {                                                                         \
            ERR_clear_error();                                                                     \
            rc = api_fail(err, (code), __VA_ARGS__);                                               \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)
#endif

/* ==== Configuration (api/config.c) ==== */

#define API_MAX_PATH_LEN     4096
#define API_MAX_LIST         16 /* audiences, provisioners, admins, tls names */
#define API_MAX_NAME_LEN     255
#define API_MAX_CONFIG_BYTES (256 * 1024)

struct api_provisioner {
    char name[API_MAX_NAME_LEN + 1];
    char public_key[API_MAX_PATH_LEN]; /* path, resolved against the config's folder */
    int64_t max_ttl_s;
};

/* struct api_config is CONTRACT section 5, parsed and checked. Paths are
 * absolute or relative to the current directory (already resolved against the
 * config file's folder). Optional paths are "" when absent. */
struct api_config {
    char trust_domain[256];
    char listen_https[128]; /* "host:port" */
    char listen_http[128];  /* "" to disable the plain listener */
    char public_url[512];
    char pki_roots[API_MAX_PATH_LEN];
    char pki_intermediate_cert[API_MAX_PATH_LEN];
    char pki_intermediate_key[API_MAX_PATH_LEN];
    char pki_root_crl[API_MAX_PATH_LEN];
    char tls_dns_names[API_MAX_LIST][API_MAX_NAME_LEN + 1];
    size_t num_tls_dns_names;
    char tls_ip_addresses[API_MAX_LIST][64];
    size_t num_tls_ip_addresses;
    char tls_cert[API_MAX_PATH_LEN]; /* optional: files instead of a self-issued cert */
    char tls_key[API_MAX_PATH_LEN];
    char store_path[API_MAX_PATH_LEN];
    size_t store_map_size_mb;
    int64_t leaf_default_ttl_s;
    int64_t leaf_max_ttl_s;
    int k8s_enabled; /* auth.kubernetes present */
    char k8s_issuer[512];
    char k8s_audiences[API_MAX_LIST][API_MAX_NAME_LEN + 1];
    size_t num_k8s_audiences;
    char k8s_jwks_file[API_MAX_PATH_LEN];
    struct api_provisioner provisioners[API_MAX_LIST];
    size_t num_provisioners;
    char admins[API_MAX_LIST][CA_MAX_SPIFFE_ID_LEN + 1];
    size_t num_admins;
    int64_t crl_validity_s;
    int64_t crl_refresh_s;
    int64_t ocsp_validity_s;
};

/* api_config_load reads and checks the JSON config at |path| into |*out|.
 * Unknown keys, wrong types, missing required keys, bad durations and missing
 * files are API_ERR_BAD_REQUEST with a message naming the key or file. */
enum api_err api_config_load(const char *path, struct api_config *out, struct api_error *err)
    __attribute__((warn_unused_result));

/* api_duration_parse parses "<integer><s|m|h|d>" (|len| bytes) into seconds;
 * anything else (empty, no unit, overflow, > 10 years) is API_ERR_BAD_REQUEST. */
enum api_err api_duration_parse(const char *s, size_t len, int64_t *out_seconds,
                                struct api_error *err) __attribute__((warn_unused_result));

/* ==== Authentication (api/auth.c, api/jwks.c) ==== */

enum api_auth_method {
    API_AUTH_NONE = 0,
    API_AUTH_KUBERNETES = 1,
    API_AUTH_PROVISIONER = 2,
    API_AUTH_MTLS = 3,
};

/* struct api_principal is an authenticated caller and the identity it may have. */
struct api_principal {
    enum api_auth_method method;
    char spiffe_id[CA_MAX_SPIFFE_ID_LEN + 1];
    char dns_names[CA_MAX_SANS][CA_MAX_DNS_NAME_LEN + 1];
    size_t num_dns_names;
    /* The provisioner's cap, or the renewed certificate's lifetime; 0 for none. */
    int64_t max_ttl_s;
    /* A provisioner token's one-time id (jti_len 0 otherwise), which the
     * issuance spends in the transaction that records its certificate. */
    char jti[STORE_JTI_MAX];
    size_t jti_len;
    int64_t jti_expires_at; /* keep the id until then: exp plus the skew */
    /* A renewal's presented certificate (renewed_len 0 otherwise), which
     * must still be unrevoked when the new certificate's record commits. */
    unsigned char renewed[CA_MAX_SERIAL_LEN];
    size_t renewed_len;
};

/* struct api_auth holds the verification keys (JWKS, provisioner keys), built
 * at start-up and read-only afterwards; safe to use from many threads. */
struct api_auth;

/* api_auth_new loads the keys |cfg| names. |st| (borrowed, outlives the auth)
 * is where provisioner jti values are recorded. */
enum api_err api_auth_new(const struct api_config *cfg, struct store *st, struct api_auth **out,
                          struct api_error *err) __attribute__((warn_unused_result));

/* api_auth_free frees |auth|; NULL is allowed. */
void api_auth_free(struct api_auth *auth);

/* api_auth_bearer verifies a bearer token (|token_len| bytes, the part after
 * "Bearer ") at time |now| and fills |*out|. Any failure is
 * API_ERR_UNAUTHENTICATED with the reason (never the token itself);
 * API_ERR_UNAVAILABLE when the replay cache cannot be read. A provisioner
 * token already spent is refused, but authenticating does not spend one: the
 * caller passes out->jti to store_put_async with the certificate it issues,
 * so a token is spent exactly when, and only if, a certificate is recorded. */
enum api_err api_auth_bearer(struct api_auth *auth, const char *token, size_t token_len,
                             int64_t now, struct api_principal *out, struct api_error *err)
    __attribute__((warn_unused_result));

/* ---- Authentication internals (api/config.c, api/jwks.c) ---- */

#define API_MAX_TOKEN_LEN (8 * 1024)
#define API_MAX_KEY_BYTES (64 * 1024) /* PEM key files and JWKS files */
#define API_MAX_JWKS_KEYS 16
#define API_AUTH_SKEW_S   60
#define API_MAX_TOKEN_TTL 3600 /* provisioner tokens live at most 1h */

/* The one algorithm a key accepts (the key fixes the algorithm). */
enum api_jwt_alg {
    API_JWT_RS256 = 1,
    API_JWT_ES256 = 2,
};

/* struct api_jwk is one verification key as PEM SubjectPublicKeyInfo (what
 * libjwt 1.10 takes) with its key id and its one algorithm. */
struct api_jwk {
    char kid[API_MAX_NAME_LEN + 1]; /* "" when none was given */
    enum api_jwt_alg alg;
    char *pem; /* owned; freed by api_jwk_cleanup() */
    size_t pem_len;
};

/* api_jwk_cleanup frees what |key| owns; NULL is allowed. */
void api_jwk_cleanup(struct api_jwk *key);

/* api_jwks_load reads the JWKS file |path| (RSA keys with n/e for RS256, EC
 * P-256 keys with crv/x/y for ES256; `kid` required when there are several).
 * The caller owns |*out_keys| (|*out_num| entries) and frees each with
 * api_jwk_cleanup() and the array with free(). Errors are API_ERR_BAD_REQUEST
 * with a message naming the key entry. */
enum api_err api_jwks_load(const char *path, struct api_jwk **out_keys, size_t *out_num,
                           struct api_error *err) __attribute__((warn_unused_result));

/* api_jwk_pubkey_load reads one PEM public key from |path|, which must be EC
 * P-256 (ES256), into |*out| (clean it up with api_jwk_cleanup()). Messages
 * name |what| (the config key). */
enum api_err api_jwk_pubkey_load(const char *path, const char *what, struct api_jwk *out,
                                 struct api_error *err) __attribute__((warn_unused_result));

/* api_b64url_decode decodes unpadded base64url (|in_len| bytes). The caller
 * owns |*out| (|*out_len| bytes, NUL-terminated for convenience) and frees it
 * with OPENSSL_clear_free(). API_ERR_BAD_REQUEST for anything else. */
enum api_err api_b64url_decode(const char *in, size_t in_len, unsigned char **out, size_t *out_len,
                               struct api_error *err) __attribute__((warn_unused_result));

/* api_file_read reads the whole of |path| (at most |max| bytes) into a new
 * NUL-terminated buffer the caller frees with OPENSSL_clear_free(). The message
 * names |what| (a config key), never the contents. */
enum api_err api_file_read(const char *path, const char *what, size_t max, char **out,
                           size_t *out_len, struct api_error *err)
    __attribute__((warn_unused_result));

/* api_dns_name_check returns 1 when |s| (|len| bytes) is a lower-case DNS
 * host name (LDH labels of 1..63 bytes, at most 253 bytes, no wildcard), else 0. */
int api_dns_name_check(const char *s, size_t len);

/* ==== Server (api/server.c, http.c, sign.c, public.c, metrics.c, log.c, peer.c) ==== */

#include <stdio.h>

#include <microhttpd.h>

/* Routes. The order is the order of the metrics' route labels. */
enum api_route_id {
    API_ROUTE_SIGN,
    API_ROUTE_RENEW,
    API_ROUTE_BUNDLE,
    API_ROUTE_BUNDLE_JSON,
    API_ROUTE_CA_CRT,
    API_ROUTE_HEALTHZ,
    API_ROUTE_READYZ,
    API_ROUTE_METRICS,
    API_ROUTE_REVOKE, /* api/revoke.c, certs.c, crl.c, ocsp.c */
    API_ROUTE_CERTS,
    API_ROUTE_CERT,
    API_ROUTE_CRL,
    API_ROUTE_CRL_PEM,
    API_ROUTE_ROOT_CRL,
    API_ROUTE_CRLS_PEM,
    API_ROUTE_OCSP,
    API_ROUTE_OCSP_GET,
    API_ROUTE_OTHER, /* unknown routes, refused methods */
    API_NUM_ROUTES
};

struct api_request;
struct api_server;

/* struct api_route is one row of the routing table in api/http.c. */
struct api_route {
    enum api_route_id id;
    const char *method; /* "GET" or "POST" */
    const char *path;
    const char *name;   /* metrics and log label */
    int plain_http;     /* also served on the plain HTTP listener: (H) in CONTRACT section 6 */
    int json_body;      /* POST with an application/json body of at most API_MAX_BODY_LEN */
    int cache_no_store; /* the response holds certificates or records */
    /* handler answers the request (fills req->resp) and returns API_OK, or
     * returns an error for the caller to answer; a handler that hands the
     * request to another thread returns API_OK with req->pending set. */
    enum api_err (*handler)(struct api_request *req, struct api_error *err);
};

/* api_route_match finds the route for |method| and |path| as seen on the
 * HTTPS (|https| = 1) or plain HTTP listener. It returns API_OK and sets
 * |*out|; API_ERR_NOT_FOUND for an unknown path (or one not served on plain
 * HTTP); API_ERR_METHOD_NOT_ALLOWED with |*out| set to the route whose method
 * differs, so that the caller can say which method is allowed. Thread-safe. */
enum api_err api_route_match(const char *method, const char *path, int https,
                             const struct api_route **out, struct api_error *err)
    __attribute__((warn_unused_result));

/* api_route_name returns the metrics label of |id|, a static string. */
const char *api_route_name(enum api_route_id id);

/* api_content_type_is says whether a Content-Type header value (NULL when
 * absent) is the media type |type|, in any case, optionally with
 * parameters. */
int api_content_type_is(const char *value, const char *type);

/* api_content_length_parse parses a Content-Length value: digits only, at most
 * 2^63. Returns 1 and sets |*out_len|, or 0 for anything else. */
int api_content_length_parse(const char *value, uint64_t *out_len);

/* struct api_body accumulates a request body up to API_MAX_BODY_LEN bytes. */
struct api_body {
    char *data; /* NUL-terminated once anything was added */
    size_t len;
    size_t cap;
    size_t discarded; /* bytes refused past the cap */
};

/* api_body_append adds |len| bytes to |body|. Past API_MAX_BODY_LEN the bytes
 * are counted in |discarded| and API_ERR_PAYLOAD_TOO_LARGE is returned (the
 * body keeps what it had); API_ERR_INTERNAL when memory runs out. */
enum api_err api_body_append(struct api_body *body, const char *data, size_t len,
                             struct api_error *err) __attribute__((warn_unused_result));

/* api_body_cleanup frees |body|'s buffer (cleansed: it may hold a CSR). */
void api_body_cleanup(struct api_body *body);

/* api_error_json returns a new NUL-terminated `{"error","message"}` document
 * for |err| (the caller frees it with free()), or NULL when out of memory. */
char *api_error_json(const struct api_error *err, size_t *out_len);

/* struct api_response is what a handler answers. */
struct api_response {
    unsigned status;
    const char *content_type; /* static string */
    unsigned char *body;      /* owned, malloc-ed; freed with the request */
    size_t body_len;
    char allow[32];    /* Allow header for 405, "" otherwise */
    int retry_after;   /* seconds for a Retry-After header; 0 for none */
    const char *error; /* wire code for the log, NULL on success */
    char message[160]; /* error message for the log */
    /* HTTP caching of public documents (CRLs, OCSP): each header is sent
     * when non-empty. */
    char cache_control[96];
    char last_modified[32];
    char expires[32];
    char etag[48];
};

/* api_response_set_error makes |resp| the JSON error answer for |err|.
 * Returns 0 when out of memory. */
int api_response_set_error(struct api_response *resp, const struct api_error *err);

/* api_response_set_json makes |resp| a JSON answer with |status| from |doc|
 * (borrowed). Returns 0 when out of memory. */
int api_response_set_json(struct api_response *resp, unsigned status, const void *doc);

/* An api_json_part is a run of object members already encoded as JSON,
 * without braces (what json_dumps writes with JSON_COMPACT | JSON_EMBED, or
 * api_json_pem_member). */
struct api_json_part {
    const char *text;
    size_t len;
};

/* api_response_set_json_more is api_response_set_json with more members after
 * those of the object |doc|: the |n_more| parts, in order (empty ones are
 * skipped), so that members which never change are encoded once and large
 * ones are encoded without jansson's per-character work. */
int api_response_set_json_more(struct api_response *resp, unsigned status, const void *doc,
                               const struct api_json_part *more, size_t n_more);

/* api_json_pem_member encodes the member "|name|":"|pem|" (|pem_len| bytes)
 * for PEM text signet wrote itself. RFC 7468 text is printable ASCII and
 * newlines; of those, JSON needs only the newline escaped. Any other byte, and
 * a quote or a backslash, is refused, so the result is always valid JSON.
 * jansson checks and escapes every character through its UTF-8 decoder: for
 * the certificate alone that was about 3% of an issuance's CPU (perf, c=64). |name| must be
 * plain (letters, digits, '_'). Returns a malloc'd string of |*out_len| bytes
 * with a NUL after them, or NULL for a refused byte or no memory. */
char *api_json_pem_member(const char *name, const char *pem, size_t pem_len, size_t *out_len);

/* api_response_set_bytes makes |resp| an answer with |status|, |content_type|
 * (a static string) and a copy of |len| bytes. Returns 0 when out of memory. */
int api_response_set_bytes(struct api_response *resp, unsigned status, const char *content_type,
                           const void *data, size_t len);

/* api_response_cleanup frees |resp|'s body. */
void api_response_cleanup(struct api_response *resp);

/* struct api_request is the per-request state kept in MHD's *req_cls. */
struct api_request {
    struct api_server *srv;
    struct MHD_Connection *conn;
    const struct api_route *route; /* NULL until matched */
    enum api_route_id route_id;
    int https;
    int phase;   /* api/http.c's enum phase */
    int pending; /* handed to a signer: the connection is suspended */
    int refused; /* answered with |refusal| once the body has been read and discarded */
    struct api_error refusal;
    char method[8];
    char request_id[17];
    uint64_t start_ns; /* CLOCK_MONOTONIC */
    uint64_t stage_ns; /* when the issuance entered its current enum api_stage */
    struct api_body body;
    struct api_response resp;
    char spiffe_id[CA_MAX_SPIFFE_ID_LEN + 1]; /* for the log */
    char serial_hex[CA_SERIAL_HEX_MAX];
    /* Copied on the poll thread for the signer thread. */
    char *token; /* bearer token; cleansed when freed */
    size_t token_len;
    unsigned char *peer_der; /* client certificate, or NULL */
    size_t peer_der_len;
    void *doc;       /* the parsed body (json_t), owning csr */
    const char *csr; /* borrowed from doc */
    size_t csr_len;
    int64_t ttl_s;            /* 0 when the body names none */
    struct api_request *next; /* signer queue link */
    /* An issuance waiting for its group commit: the record points into the
     * leaf, and the response is ready but not released until the commit. */
    struct ca_leaf leaf;
    struct store_record rec;
    /* the path as MHD decoded it, valid for the request */
    const char *url;
};

/* ---- Metrics (api/metrics.c): lock-free counters, safe from any thread ---- */

#define API_METRICS_NUM_BUCKETS 12

struct api_histogram {
    _Atomic uint64_t buckets[API_METRICS_NUM_BUCKETS]; /* not cumulative */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us;
};

/* The stages of an issuance, timed for signet_issuance_stage_seconds: where
 * the time goes when issuance slows down. */
enum api_stage {
    API_STAGE_QUEUE,  /* queued, until a signer thread takes it */
    API_STAGE_SIGN,   /* authenticate, check the CSR, sign, encode */
    API_STAGE_COMMIT, /* handed to the group commit, until synced */
    API_NUM_STAGES
};

struct api_metrics {
    _Atomic uint64_t requests[API_NUM_ROUTES][16]; /* by route and status slot */
    struct api_histogram durations[API_NUM_ROUTES];
    struct api_histogram stages[API_NUM_STAGES];
    _Atomic uint64_t issuances[4]; /* by enum api_auth_method */
    _Atomic int64_t queue_depth;
};

/* api_metrics_observe counts one answered request of |route| with |status|
 * that took |us| microseconds. */
void api_metrics_observe(struct api_metrics *m, enum api_route_id route, unsigned status,
                         uint64_t us);

/* api_metrics_stage counts one issuance that spent |us| microseconds in
 * |stage|. */
void api_metrics_stage(struct api_metrics *m, enum api_stage stage, uint64_t us);

/* api_metrics_issued counts one issuance by |method|. */
void api_metrics_issued(struct api_metrics *m, enum api_auth_method method);

/* struct api_ocsp_stats are the OCSP responder's counters (api/ocsp.c). */
struct api_ocsp_stats {
    uint64_t hits;      /* answered from the cache */
    uint64_t signs;     /* responses signed (misses, refreshes, nonces) */
    uint64_t evictions; /* live entries pushed out for room */
    size_t capacity;    /* entries */
};

/* struct api_metrics_gauges are the values read at scrape time. */
struct api_metrics_gauges {
    int64_t intermediate_expiry_s; /* seconds until the intermediate's notAfter */
    /* Seconds until the nextUpdate of the intermediate's CRL and of the
     * root's (pki.root_crl); a line is left out when its has_ flag is 0. */
    int64_t crl_next_update_s;
    int64_t root_crl_next_update_s;
    int has_crl;
    int has_root_crl;
    int store_ok; /* store_stats_get succeeded */
    struct store_stats store;
    struct api_ocsp_stats ocsp;
};

/* api_metrics_render writes the Prometheus text exposition of |m| and |g|.
 * Returns a new NUL-terminated buffer the caller frees with free() and sets
 * |*out_len|, or NULL when out of memory. */
char *api_metrics_render(struct api_metrics *m, const struct api_metrics_gauges *g,
                         size_t *out_len);

/* ---- Logging (api/log.c) ---- */

enum api_log_level {
    API_LOG_DEBUG,
    API_LOG_INFO,
    API_LOG_WARN,
    API_LOG_ERROR,
};

/* struct api_log_entry holds the typed fields of one request's log line.
 * Strings may be NULL or "" when absent. There is deliberately no field for
 * headers, tokens or bodies. */
struct api_log_entry {
    const char *request_id;
    const char *route;
    const char *method;
    unsigned status;
    const char *error;
    const char *message;
    const char *spiffe_id;
    const char *serial;
    const char *client; /* the peer's IP address, numeric */
    double ms;
};

/* api_log_request writes |e| as one JSON line to |f| at a level derived from
 * the status (5xx error, 4xx warn, else info) when that level is at least
 * |min_level|. Thread-safe (one write per line). */
void api_log_request(FILE *f, enum api_log_level min_level, const struct api_log_entry *e);

/* api_log_event writes a JSON line {"ts","level","msg"} plus an optional
 * "error" field (NULL for none) to |f| when |level| >= |min_level|. */
void api_log_event(FILE *f, enum api_log_level min_level, enum api_log_level level, const char *msg,
                   const char *error);

/* api_log_level_parse maps "debug", "info", "warn", "error" (NULL: info). */
enum api_log_level api_log_level_parse(const char *name);

/* ---- Peer certificates (api/peer.c) ---- */

/* api_peer_der copies the client certificate of |conn| (the leaf, DER) into
 * a new buffer the caller frees with free(). Returns API_ERR_UNAUTHENTICATED
 * "client certificate required" when there is none. */
enum api_err api_peer_der(struct MHD_Connection *conn, unsigned char **out_der, size_t *out_len,
                          struct api_error *err) __attribute__((warn_unused_result));

/* api_peer_verify verifies a client certificate's DER against the issuer at
 * |now| and checks the store: it must be recorded, with these very bytes,
 * and not revoked. With |out_revoked| non-NULL a revoked certificate passes
 * and *out_revoked says so (a certificate may revoke itself again). Any
 * failure is API_ERR_UNAUTHENTICATED with the reason, API_ERR_UNAVAILABLE
 * when the store cannot be read; |out| holds the identity once the
 * certificate itself verified, even when the store then refuses it.
 * Thread-safe. */
enum api_err api_peer_verify(const struct ca_issuer *issuer, struct store *st,
                             const unsigned char *der, size_t der_len, int64_t now,
                             struct ca_peer *out, int *out_revoked, struct api_error *err)
    __attribute__((warn_unused_result));

/* ---- Signing (api/sign.c) ---- */

struct api_signer;

/* api_signer_new starts |num_threads| signer threads over a queue of at most
 * |depth| requests for |srv|. The caller stops it with api_signer_stop() and
 * frees it with api_signer_free(). */
enum api_err api_signer_new(struct api_server *srv, size_t num_threads, size_t depth,
                            struct api_signer **out, struct api_error *err)
    __attribute__((warn_unused_result));

/* api_signer_stop lets the threads finish what is queued, joins them and
 * waits until every issuance handed to the store has resumed its connection.
 * Afterwards api_signer_submit answers API_ERR_UNAVAILABLE: |s| stays valid
 * for the poll threads until api_signer_free, which must wait until the
 * daemons have stopped. Idempotent; NULL is allowed. */
void api_signer_stop(struct api_signer *s);

/* api_signer_free stops |s| (if not yet stopped) and frees it; NULL is
 * allowed. No poll thread may hold |s| any more. */
void api_signer_free(struct api_signer *s);

/* api_sign_parse_body parses a /v1/sign or /v1/renew body: {"csr": PEM,
 * "ttl": duration} (ttl optional). |*out_csr| borrows from |*out_doc| (a
 * jansson json_t the caller json_decref-s); |*out_ttl_s| is 0 when absent.
 * API_ERR_BAD_REQUEST naming the key for anything else. */
enum api_err api_sign_parse_body(const char *body, size_t len, void **out_doc, const char **out_csr,
                                 size_t *out_csr_len, int64_t *out_ttl_s, struct api_error *err)
    __attribute__((warn_unused_result));

/* api_renew_after picks the renew_after time for a certificate valid from
 * |not_before| (which is 60 s before issuance) to |not_after|: about half the
 * lifetime after issuance, with a uniformly random jitter of +-10% of the
 * lifetime, never before issuance or after not_after. Thread-safe. */
int64_t api_renew_after(int64_t not_before, int64_t not_after);

/* api_time_rfc3339 formats |t| (Unix seconds, UTC) as "2026-11-27T10:00:00Z"
 * into |buf| (at least 21 bytes). Returns 0 when |t| cannot be formatted. */
int api_time_rfc3339(int64_t t, char *buf, size_t buf_len);

/* api_route_sign and api_route_renew check a complete body cheaply and hand
 * the request to the signer pool (routing-table handlers). */
enum api_err api_route_sign(struct api_request *req, struct api_error *err);
enum api_err api_route_renew(struct api_request *req, struct api_error *err);

/* ---- Public routes (api/public.c) ---- */

enum api_err api_route_bundle(struct api_request *req, struct api_error *err);
enum api_err api_route_bundle_json(struct api_request *req, struct api_error *err);
enum api_err api_route_ca_crt(struct api_request *req, struct api_error *err);
enum api_err api_route_healthz(struct api_request *req, struct api_error *err);
enum api_err api_route_readyz(struct api_request *req, struct api_error *err);
enum api_err api_route_metrics(struct api_request *req, struct api_error *err);

/* api_bundle_json_build returns the SPIFFE trust bundle document of |issuer|'s
 * roots as a new NUL-terminated string (free() it), or an error. */
enum api_err api_bundle_json_build(const struct ca_issuer *issuer, int64_t refresh_hint_s,
                                   char **out, size_t *out_len, struct api_error *err)
    __attribute__((warn_unused_result));

/* ---- The server (api/server.c) ---- */

/* Accessors for handlers; everything they return is read-only after start-up
 * and safe from any thread. */
const struct ca_issuer *api_server_issuer(const struct api_server *srv);
struct store *api_server_store(const struct api_server *srv);
struct api_auth *api_server_auth(const struct api_server *srv);
const struct api_config *api_server_config(const struct api_server *srv);
struct api_metrics *api_server_metrics(struct api_server *srv);
struct api_signer *api_server_signer(const struct api_server *srv);
const char *api_server_bundle_json(const struct api_server *srv, size_t *out_len);

/* api_server_store_result records that a store write failed with |code| (so
 * /readyz answers 503 until a write succeeds) or succeeded (STORE_OK). */
void api_server_store_result(struct api_server *srv, enum store_err code);

/* api_server_ready says whether the store is open and writable and the
 * intermediate valid at |now| and not revoked by the root CRL served; on 0
 * |*out_why| gets a static reason. After a
 * failed write it probes the store with a small write (store_probe), at most
 * every 5 s, and is ready again once one succeeds. */
int api_server_ready(struct api_server *srv, int64_t now, const char **out_why);

/* api_server_log_level returns the minimum level of request logs. */
enum api_log_level api_server_log_level(const struct api_server *srv);

/* api_now returns the wall clock in Unix seconds; api_mono_ns CLOCK_MONOTONIC. */
int64_t api_now(void);
uint64_t api_mono_ns(void);

/* api_random_u64 returns 64 bits of ca_random_bytes, for jitter and request
 * ids; 0 when OpenSSL has no randomness. */
uint64_t api_random_u64(void);

/* api_server_inflight_add adds |delta| to the count of requests in flight
 * (started and not yet completed), which a graceful stop waits for. */
void api_server_inflight_add(struct api_server *srv, int delta);

/* api_server_draining is 1 once the server is stopping: responses then carry
 * Connection: close, so that keep-alive clients reconnect (to a new server)
 * instead of sending more requests into the shutdown. */
int api_server_draining(const struct api_server *srv);

/* ---- MHD callbacks (api/http.c) ---- */

/* struct api_listener is the closure of one daemon's callbacks. */
struct api_listener {
    struct api_server *srv;
    int https;
};

/* Request phases (struct api_request's phase). */
enum api_phase {
    API_PHASE_BODY,    /* receiving the body */
    API_PHASE_PENDING, /* queued for a signer, connection suspended */
    API_PHASE_READY,   /* the signer filled resp and resumed the connection */
    API_PHASE_SENT,    /* a response was queued */
};

/* api_http_access is the MHD_AccessHandlerCallback of both daemons (|cls| is
 * a struct api_listener *) and api_http_completed their
 * MHD_OPTION_NOTIFY_COMPLETED callback, which logs, counts and frees the
 * request. */
enum MHD_Result api_http_access(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_data_size, void **req_cls);
void api_http_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                        enum MHD_RequestTerminationCode toe);

/* api_http_unescape is the MHD_OPTION_UNESCAPE_CALLBACK of both daemons: it
 * decodes the %HH escapes of the NUL-terminated |s| in place, as MHD's own
 * does, and returns the length left. MHD hands the path, and each query key
 * and value, to the handlers as C strings, so a decoded NUL would cut them
 * short ("/v1/bundle%00junk" would be served as "/v1/bundle"): a string that
 * decodes to one is left empty instead (0). An empty path names no route, so
 * it is 404 not_found like any other path we do not serve, and an empty query
 * value or name fails the checks of GET /v1/certs (400), the one route that
 * reads a query. |cls| and |conn| are unused. Thread-safe. */
size_t api_http_unescape(void *cls, struct MHD_Connection *conn, char *s);

/* api_signer_submit suspends |req|'s connection and queues it for a signer.
 * API_ERR_OVERLOADED (connection not suspended) when the queue is full,
 * API_ERR_UNAVAILABLE while stopping. Called on a poll thread. */
enum api_err api_signer_submit(struct api_signer *s, struct api_request *req, struct api_error *err)
    __attribute__((warn_unused_result));

/* ==== HTTP client (api/client.c) ==== */

#define API_AGENT_MAX_FILE (64 * 1024) /* svid.pem, svid.key, token files read back */

/* api_client_identity_pem presents |cert_pem| (leaf first, then any chain)
 * and the PEM private key |key_pem| in later requests, from memory (libcurl
 * blobs, no temp files). Both are copied; the key copy is cleansed when
 * replaced or freed. A NULL |cert_pem| removes the identity. */
enum api_err api_client_identity_pem(struct api_client *c, const char *cert_pem, size_t cert_len,
                                     const char *key_pem, size_t key_len, struct api_error *err)
    __attribute__((warn_unused_result));

/* api_reply_parse_error fills |r|'s error and message from a JSON error body
 * {"error": "...", "message": "..."}; anything else leaves them "". Control
 * characters are replaced so that the strings print on one line. */
void api_reply_parse_error(struct api_reply *r);

/* api_time_parse_rfc3339 reads "YYYY-MM-DDTHH:MM:SSZ" (exactly that form, as
 * the server writes it) into Unix seconds. Returns 1, or 0 for anything else. */
int api_time_parse_rfc3339(const char *s, size_t len, int64_t *out);

/* struct api_svid is a parsed 201 answer of /v1/sign or /v1/renew. */
struct api_svid {
    char serial[API_CLIENT_SERIAL_MAX];
    char spiffe_id[CA_MAX_SPIFFE_ID_LEN + 1];
    int64_t not_before;  /* from the certificate */
    int64_t not_after;   /* from the certificate */
    int64_t renew_after; /* from the answer */
    X509 *leaf;          /* owned */
    char *cert_pem;      /* leaf then chain, owned, NUL-terminated */
    size_t cert_pem_len;
    char *bundle_pem; /* owned, NUL-terminated */
    size_t bundle_pem_len;
};

/* api_svid_parse checks and decodes a 201 answer (|len| bytes, at most
 * API_CLIENT_MAX_RESPONSE): a JSON object (duplicate keys refused; unknown
 * keys ignored, for newer servers) whose "serial", "spiffe_id", "not_after",
 * "renew_after", "certificate", "chain" and "bundle" are strings of the right
 * form; the certificate must be one PEM certificate carrying |spiffe_id| that
 * verifies against the bundle with the chain. |out|'s cert_pem (leaf, then
 * chain) and bundle_pem are the parsed certificates encoded afresh, so that
 * text around them never reaches a file. API_ERR_BAD_REQUEST naming the
 * field otherwise. Clean |*out| up with api_svid_cleanup() in any case. */
enum api_err api_svid_parse(const char *body, size_t len, struct api_svid *out,
                            struct api_error *err) __attribute__((warn_unused_result));

/* api_client_chain_trusted checks that the first certificate of |pem| (|len|
 * bytes) verifies against the client's --ca, with the others as the chain:
 * the server's own bundle alone does not make an SVID trusted.
 * API_ERR_BAD_REQUEST saying why otherwise. */
enum api_err api_client_chain_trusted(const struct api_client *c, const char *pem, size_t len,
                                      struct api_error *err) __attribute__((warn_unused_result));

/* api_svid_cleanup frees what |s| owns; NULL is allowed. */
void api_svid_cleanup(struct api_svid *s);

/* api_client_stop_pending says whether SIGTERM or SIGINT is pending for the
 * calling thread. */
int api_client_stop_pending(void);

/* ==== The sidecar (api/agent.c) ==== */

/* api_agent_backoff_ms is the delay before retry |attempt| (0 for the first
 * retry) with exponential backoff and full jitter: |rnd| (uniformly random)
 * picks a delay in [min(100, base_ms), min(cap_ms, base_ms * 2^attempt)].
 * Pure, thread-safe. */
int64_t api_agent_backoff_ms(unsigned attempt, int64_t base_ms, int64_t cap_ms, uint64_t rnd);

/* api_agent_file_replace writes |len| bytes of |data| to |dir|/|name|
 * atomically: a new temp file in |dir| (O_CREAT|O_EXCL|O_NOFOLLOW, |mode|),
 * written, fsync-ed, renamed over |name|, then |dir| fsync-ed. A reader sees
 * the old file or the new one, never part of one; on failure the temp file is
 * removed and |name| is untouched. */
enum api_err api_agent_file_replace(const char *dir, const char *name, const void *data, size_t len,
                                    unsigned mode, struct api_error *err)
    __attribute__((warn_unused_result));

/* struct api_agent_svid is an SVID the agent holds: key and certificate. */
struct api_agent_svid {
    EVP_PKEY *key;
    char *key_pem; /* PKCS#8 PEM, cleansed when freed */
    size_t key_pem_len;
    char *cert_pem; /* leaf then chain */
    size_t cert_pem_len;
    char *bundle_pem;
    size_t bundle_pem_len;
    char serial[API_CLIENT_SERIAL_MAX];
    char spiffe_id[CA_MAX_SPIFFE_ID_LEN + 1];
    int64_t not_before;
    int64_t not_after;
    int64_t renew_after;
};

/* api_agent_svid_cleanup frees and cleanses what |s| owns; NULL is allowed. */
void api_agent_svid_cleanup(struct api_agent_svid *s);

/* api_agent_publish makes |s| (key, certificate and bundle) visible in |dir|
 * as one unit: the three files go into a new generation directory
 * |dir|/.svid.XXXXXX, the symlink |dir|/current is swapped to it with one
 * rename, and svid.pem, svid.key and bundle.pem in |dir| are symlinks through
 * current (api/README.md, "The agent's files"). Generation directories other
 * than the new one and |keep| (the previous one, or NULL) are removed. On
 * success the new generation's name goes into |out_gen| (|out_gen_len| bytes). */
enum api_err api_agent_publish(const char *dir, const struct api_agent_svid *s, const char *keep,
                               char *out_gen, size_t out_gen_len, struct api_error *err)
    __attribute__((warn_unused_result));

/* api_agent_load reads |dir|/svid.pem and |dir|/svid.key back (as left by a
 * previous run) into |*out|: the key must match the leaf, and the leaf must be
 * an SVID valid at |now|. API_ERR_NOT_FOUND when either file is missing,
 * API_ERR_BAD_REQUEST with the reason otherwise. Clean |*out| up in any case. */
enum api_err api_agent_load(const char *dir, int64_t now, struct api_agent_svid *out,
                            struct api_error *err) __attribute__((warn_unused_result));

/* api_agent_token_read reads the bearer token in |path| (at most
 * API_MAX_TOKEN_LEN bytes once surrounding whitespace is stripped; base64url
 * and dots only). The caller frees |*out| with OPENSSL_clear_free(*out,
 * *out_len + 1). API_ERR_BAD_REQUEST with a reason (never the contents). */
enum api_err api_agent_token_read(const char *path, char **out, size_t *out_len,
                                  struct api_error *err) __attribute__((warn_unused_result));

/* ==== Revocation (api/revoke.c, certs.c, crl.c, ocsp.c) ==== */

/* A route row's json_body: API_BODY_JSON takes application/json of at most
 * API_MAX_BODY_LEN bytes, API_BODY_OCSP application/ocsp-request of at most
 * CA_MAX_OCSP_REQUEST_LEN bytes (POST /ocsp). */
#define API_BODY_JSON 1
#define API_BODY_OCSP 2

#define API_CERTS_DEFAULT_LIMIT 100
#define API_CRL_MIN_INTERVAL_MS 150 /* revocations in a burst share one CRL */
#define API_ROOT_CRL_CHECK_S    2   /* how often pki.root_crl's mtime is looked at */
/* An expired revoked certificate stays on the CRL this many crl.refresh
 * periods after its notAfter (api/crl.c sign_crl says why). */
#define API_CRL_KEEP_EXPIRED_REFRESHES 2
/* Expired records are kept this long after their notAfter, then pruned (with
 * expired jti entries) at every scheduled CRL refresh, so that the store does
 * not grow until its map is full. */
#define API_STORE_RETENTION_S  (7 * 24 * 3600)
#define API_OCSP_CACHE_DEFAULT 32768 /* pre-signed responses kept; SIGNET_OCSP_CACHE */

/* api_is_admin says whether |spiffe_id| is listed in auth.admins. */
int api_is_admin(const struct api_config *cfg, const char *spiffe_id);

/* api_serial_hex writes |serial| (|len| big-endian bytes, at most
 * CA_MAX_SERIAL_LEN) as the server spells serials (lower-case hex, no leading
 * zeros) into |out| (at least 2 * CA_MAX_SERIAL_LEN + 1 bytes). */
void api_serial_hex(const unsigned char *serial, size_t len, char *out);

/* api_http_date formats |t| as an IMF-fixdate ("Fri, 27 Nov 2026 10:00:00
 * GMT", RFC 9110 5.6.7) into |buf| (at least 30 bytes). Returns 0 when |t|
 * cannot be formatted. */
int api_http_date(int64_t t, char *buf, size_t buf_len);

/* struct api_revoke_body is a parsed POST /v1/revoke body. */
struct api_revoke_body {
    unsigned char serial[CA_MAX_SERIAL_LEN];
    size_t serial_len;
    enum ca_crl_reason reason; /* unspecified when the body names none */
};

/* api_revoke_parse_body parses {"serial": hex, "reason": RFC 5280 name}
 * (reason optional; removeFromCRL refused: it belongs to delta CRLs).
 * API_ERR_BAD_REQUEST naming the key for anything else. Thread-safe. */
enum api_err api_revoke_parse_body(const char *body, size_t len, struct api_revoke_body *out,
                                   struct api_error *err) __attribute__((warn_unused_result));

/* The query parameters of GET /v1/certs, as indexes of api_certs_params. */
enum api_certs_param {
    API_CERTS_SPIFFE_ID,
    API_CERTS_STATUS,
    API_CERTS_LIMIT,
    API_CERTS_AFTER,
    API_CERTS_RENEWED_FROM,
    API_CERTS_NUM_PARAMS,
};

/* api_certs_params names them: "spiffe_id", "status", ... */
extern const char *const api_certs_params[API_CERTS_NUM_PARAMS];

/* struct api_certs_parsed is a store query with room for the serials it
 * points at. */
struct api_certs_parsed {
    struct store_query q;
    unsigned char after[CA_MAX_SERIAL_LEN];
    unsigned char renewed_from[CA_MAX_SERIAL_LEN];
};

/* api_certs_query_parse builds a store query from the raw values of
 * GET /v1/certs (each NULL when absent): spiffe_id (1..2048 bytes), status
 * (valid, revoked or expired), limit (1..1000, default 100), after and
 * renewed_from (hex serials). |out->q.spiffe_id| borrows the value.
 * API_ERR_BAD_REQUEST naming the parameter otherwise. */
enum api_err api_certs_query_parse(const char *const values[API_CERTS_NUM_PARAMS], int64_t now,
                                   struct api_certs_parsed *out, struct api_error *err)
    __attribute__((warn_unused_result));

/* api_cert_record_json returns |rec| as the JSON object of GET /v1/certs
 * (a new jansson json_t *, returned as void *; json_decref it), or NULL when
 * out of memory. Fields: serial, spiffe_id, status (valid|revoked|expired at
 * |now|), issued_at, not_before, not_after, revoked_at and reason (revoked
 * only), auth_method, certificate (PEM). */
void *api_cert_record_json(const struct store_record *rec, int64_t now);

/* ---- The CRL publisher (api/crl.c) ---- */

/* struct api_crl keeps the intermediate's current CRL (DER and PEM), the
 * root's CRL and their concatenation, pre-encoded, and a thread that re-signs
 * the CRL after revocations (at most every API_CRL_MIN_INTERVAL_MS) and every
 * crl.refresh, and re-reads pki.root_crl when the file changes. Readers never
 * wait for signing: they take a reference to the current documents. */
struct api_crl;

/* api_crl_new signs the first CRL (so that it is served from the start),
 * loads pki.root_crl when configured (it must be a CRL signed by one of the
 * issuer's roots, with a cRLNumber; an expired one is served with a warning)
 * and starts the publisher, which replaces it only with a newer, unexpired
 * one. |issuer|, |st| and |cfg| are
 * borrowed and must outlive it. Free it with api_crl_free(). */
enum api_err api_crl_new(const struct ca_issuer *issuer, struct store *st,
                         const struct api_config *cfg, struct api_crl **out, struct api_error *err)
    __attribute__((warn_unused_result));

/* api_crl_free stops the publisher and frees |crl|; NULL is allowed. */
void api_crl_free(struct api_crl *crl);

/* api_crl_revoked tells the publisher that a revocation was committed: a new
 * CRL follows within about API_CRL_MIN_INTERVAL_MS. Thread-safe, never blocks
 * on signing. */
void api_crl_revoked(struct api_crl *crl);

/* The documents api_crl_respond serves. */
enum api_crl_doc {
    API_CRL_DOC_DER,      /* GET /crl */
    API_CRL_DOC_PEM,      /* GET /crl.pem */
    API_CRL_DOC_ROOT_DER, /* GET /root.crl */
    API_CRL_DOC_ALL_PEM,  /* GET /v1/crls.pem: the intermediate's then the root's */
};

/* api_crl_respond fills |resp| with a copy of document |doc| and its caching
 * headers (Last-Modified, Expires, ETag, Cache-Control) at |now|.
 * API_ERR_NOT_FOUND for the root CRL when none is configured or readable.
 * Thread-safe. */
enum api_err api_crl_respond(struct api_crl *crl, enum api_crl_doc doc, int64_t now,
                             struct api_response *resp, struct api_error *err)
    __attribute__((warn_unused_result));

/* api_store_retention_s returns how long after its notAfter a record is kept
 * before store_prune may delete it: API_STORE_RETENTION_S, or longer when a
 * long crl.refresh keeps revoked ones on the CRL for longer than that. */
int64_t api_store_retention_s(const struct api_config *cfg);

/* api_crl_number returns the CRL number of the current CRL. Thread-safe. */
uint64_t api_crl_number(struct api_crl *crl);

/* api_crl_intermediate_revoked says whether the root CRL served (pki.root_crl)
 * revokes the intermediate we issue with (0 when |crl| is NULL or there is
 * no root CRL). Thread-safe. */
int api_crl_intermediate_revoked(struct api_crl *crl);

/* api_crl_next_update returns the nextUpdate (Unix seconds) of the CRL that
 * document |doc| serves, or 0 when there is none (no root CRL configured,
 * none signed yet, or |crl| NULL). Thread-safe. */
int64_t api_crl_next_update(struct api_crl *crl, enum api_crl_doc doc);

/* ---- The OCSP responder (api/ocsp.c) ---- */

/* struct api_ocsp answers OCSP requests for the issuer. Responses to requests
 * without a nonce come from a bounded cache of pre-signed responses keyed by
 * (serial, CertID hash): a set-associative table in sharded mutexes, entries
 * re-signed once past half their validity and dropped on revocation. */
struct api_ocsp;

/* api_ocsp_new builds the responder (responses valid ocsp.validity) with room
 * for |cache_entries| cached responses (rounded up; 0 for the default).
 * |issuer| and |st| are borrowed and must outlive it. */
enum api_err api_ocsp_new(const struct ca_issuer *issuer, struct store *st, int64_t validity_s,
                          size_t cache_entries, struct api_ocsp **out, struct api_error *err)
    __attribute__((warn_unused_result));

/* api_ocsp_free frees |o|; NULL is allowed. */
void api_ocsp_free(struct api_ocsp *o);

/* api_ocsp_invalidate drops the cached responses of |serial| (every hash):
 * the next request reads the store again. Call it after store_revoke and
 * before answering. Thread-safe. */
void api_ocsp_invalidate(struct api_ocsp *o, const unsigned char *serial, size_t serial_len);

/* api_ocsp_respond_der answers the DER OCSP request |der| (POST) and
 * api_ocsp_respond_base64 the base64 one of GET /ocsp/{base64}: |resp| gets an
 * application/ocsp-response (status 200, also for OCSP errors:
 * malformedRequest for garbage, unauthorized for another issuer,
 * internalError / tryLater when the store fails) with RFC 5019 caching
 * headers when it came without a nonce. API_ERR_INTERNAL only when out of
 * memory. Thread-safe. */
enum api_err api_ocsp_respond_der(struct api_ocsp *o, const unsigned char *der, size_t der_len,
                                  int64_t now, struct api_response *resp, struct api_error *err)
    __attribute__((warn_unused_result));
enum api_err api_ocsp_respond_base64(struct api_ocsp *o, const char *b64, size_t b64_len,
                                     int64_t now, struct api_response *resp, struct api_error *err)
    __attribute__((warn_unused_result));

/* api_ocsp_stats_get reads the counters. Thread-safe. */
void api_ocsp_stats_get(struct api_ocsp *o, struct api_ocsp_stats *out);

/* ---- Handlers and server wiring ---- */

enum api_err api_route_revoke(struct api_request *req, struct api_error *err);
enum api_err api_route_certs(struct api_request *req, struct api_error *err);
enum api_err api_route_cert(struct api_request *req, struct api_error *err);
enum api_err api_route_crl(struct api_request *req, struct api_error *err);
enum api_err api_route_crl_pem(struct api_request *req, struct api_error *err);
enum api_err api_route_root_crl(struct api_request *req, struct api_error *err);
enum api_err api_route_crls_pem(struct api_request *req, struct api_error *err);
enum api_err api_route_ocsp(struct api_request *req, struct api_error *err);
enum api_err api_route_ocsp_get(struct api_request *req, struct api_error *err);

/* api_server_crl and api_server_ocsp return the server's publisher and
 * responder (api/server.c), built at start-up. */
struct api_crl *api_server_crl(const struct api_server *srv);
struct api_ocsp *api_server_ocsp(const struct api_server *srv);

#endif
