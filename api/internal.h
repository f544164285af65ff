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
    int64_t max_ttl_s; /* the provisioner's cap; 0 for none beyond the policy */
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
 * API_ERR_UNAVAILABLE when the replay cache cannot be written. */
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
    const char *name;  /* metrics and log label */
    int plain_http;    /* also served on the plain HTTP listener: (H) in CONTRACT section 6 */
    int json_body;     /* POST with an application/json body of at most API_MAX_BODY_LEN */
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

/* api_content_type_is_json says whether a Content-Type header value (NULL
 * when absent) is application/json, optionally with parameters. */
int api_content_type_is_json(const char *value);

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
    char allow[32];     /* Allow header for 405, "" otherwise */
    int retry_after;    /* seconds for a Retry-After header; 0 for none */
    const char *error;  /* wire code for the log, NULL on success */
    char message[160];  /* error message for the log */
};

/* api_response_set_error makes |resp| the JSON error answer for |err|.
 * Returns 0 when out of memory. */
int api_response_set_error(struct api_response *resp, const struct api_error *err);

/* api_response_set_json makes |resp| a JSON answer with |status| from |doc|
 * (borrowed). Returns 0 when out of memory. */
int api_response_set_json(struct api_response *resp, unsigned status, const void *doc);

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
    int phase; /* api/http.c's enum phase */
    int pending; /* handed to a signer: the connection is suspended */
    char method[8];
    char request_id[17];
    uint64_t start_ns; /* CLOCK_MONOTONIC */
    struct api_body body;
    struct api_response resp;
    char spiffe_id[CA_MAX_SPIFFE_ID_LEN + 1]; /* for the log */
    char serial_hex[CA_SERIAL_HEX_MAX];
    /* Copied on the poll thread for the signer thread. */
    char *token; /* bearer token; cleansed when freed */
    size_t token_len;
    unsigned char *peer_der; /* client certificate, or NULL */
    size_t peer_der_len;
    void *doc;        /* the parsed body (json_t), owning csr */
    const char *csr;  /* borrowed from doc */
    size_t csr_len;
    int64_t ttl_s;    /* 0 when the body names none */
    struct api_request *next; /* signer queue link */
};

/* ---- Metrics (api/metrics.c): lock-free counters, safe from any thread ---- */

#define API_METRICS_NUM_BUCKETS 12

struct api_metrics {
    _Atomic uint64_t requests[API_NUM_ROUTES][16]; /* by route and status slot */
    _Atomic uint64_t duration_buckets[API_NUM_ROUTES][API_METRICS_NUM_BUCKETS];
    _Atomic uint64_t duration_count[API_NUM_ROUTES];
    _Atomic uint64_t duration_sum_us[API_NUM_ROUTES];
    _Atomic uint64_t issuances[4]; /* by enum api_auth_method */
    _Atomic int64_t queue_depth;
};

/* api_metrics_observe counts one answered request of |route| with |status|
 * that took |us| microseconds. */
void api_metrics_observe(struct api_metrics *m, enum api_route_id route, unsigned status,
                         uint64_t us);

/* api_metrics_issued counts one issuance by |method|. */
void api_metrics_issued(struct api_metrics *m, enum api_auth_method method);

/* struct api_metrics_gauges are the values read at scrape time. */
struct api_metrics_gauges {
    int64_t intermediate_expiry_s; /* seconds until the intermediate's notAfter */
    int store_ok;                  /* store_stats_get succeeded */
    struct store_stats store;
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
    double ms;
};

/* api_log_request writes |e| as one JSON line to |f| at a level derived from
 * the status (5xx error, 4xx warn, else info) when that level is at least
 * |min_level|. Thread-safe (one write per line). */
void api_log_request(FILE *f, enum api_log_level min_level, const struct api_log_entry *e);

/* api_log_event writes a JSON line {"ts","level","msg"} plus an optional
 * "error" field (NULL for none) to |f| when |level| >= |min_level|. */
void api_log_event(FILE *f, enum api_log_level min_level, enum api_log_level level,
                   const char *msg, const char *error);

/* api_log_level_parse maps "debug", "info", "warn", "error" (NULL: info). */
enum api_log_level api_log_level_parse(const char *name);

/* ---- Peer certificates (api/peer.c) ---- */

/* api_peer_der copies the client certificate of |conn| (the leaf, DER) into
 * a new buffer the caller frees with free(). Returns API_ERR_UNAUTHENTICATED
 * "client certificate required" when there is none. */
enum api_err api_peer_der(struct MHD_Connection *conn, unsigned char **out_der, size_t *out_len,
                          struct api_error *err) __attribute__((warn_unused_result));

/* api_peer_verify verifies a client certificate's DER against the issuer at
 * |now| and checks the store: it must be recorded and not revoked. Any
 * failure is API_ERR_UNAUTHENTICATED with the reason, API_ERR_UNAVAILABLE
 * when the store cannot be read. Thread-safe. */
enum api_err api_peer_verify(const struct ca_issuer *issuer, struct store *st,
                             const unsigned char *der, size_t der_len, int64_t now,
                             struct ca_peer *out, struct api_error *err)
    __attribute__((warn_unused_result));

/* ---- Signing (api/sign.c) ---- */

struct api_signer;

/* api_signer_new starts |num_threads| signer threads over a queue of at most
 * |depth| requests for |srv|. The caller stops it with api_signer_free(). */
enum api_err api_signer_new(struct api_server *srv, size_t num_threads, size_t depth,
                            struct api_signer **out, struct api_error *err)
    __attribute__((warn_unused_result));

/* api_signer_free lets the threads finish what is queued, joins them and
 * frees |s|; NULL is allowed. */
void api_signer_free(struct api_signer *s);

/* api_sign_parse_body parses a /v1/sign or /v1/renew body: {"csr": PEM,
 * "ttl": duration} (ttl optional). |*out_csr| borrows from |*out_doc| (a
 * jansson json_t the caller json_decref-s); |*out_ttl_s| is 0 when absent.
 * API_ERR_BAD_REQUEST naming the key for anything else. */
enum api_err api_sign_parse_body(const char *body, size_t len, void **out_doc,
                                 const char **out_csr, size_t *out_csr_len, int64_t *out_ttl_s,
                                 struct api_error *err) __attribute__((warn_unused_result));

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

/* api_server_store_failed records that a store write failed with |code| (so
 * /readyz answers 503 until a write succeeds) or succeeded (STORE_OK). */
void api_server_store_result(struct api_server *srv, enum store_err code);

/* api_server_ready says whether the store is open and writable and the
 * intermediate valid at |now|; on 0 |*out_why| gets a static reason. */
int api_server_ready(struct api_server *srv, int64_t now, const char **out_why);

/* api_server_log_level returns the minimum level of request logs. */
enum api_log_level api_server_log_level(const struct api_server *srv);

/* api_now returns the wall clock in Unix seconds; api_mono_ns CLOCK_MONOTONIC. */
int64_t api_now(void);
uint64_t api_mono_ns(void);

/* api_server_inflight_add adds |delta| to the count of requests in flight
 * (started and not yet completed), which a graceful stop waits for. */
void api_server_inflight_add(struct api_server *srv, int delta);

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

/* api_signer_submit suspends |req|'s connection and queues it for a signer.
 * API_ERR_OVERLOADED (connection not suspended) when the queue is full,
 * API_ERR_UNAVAILABLE while stopping. Called on a poll thread. */
enum api_err api_signer_submit(struct api_signer *s, struct api_request *req,
                               struct api_error *err) __attribute__((warn_unused_result));

#endif
