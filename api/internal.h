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

#endif
