/* auth.c: bearer-token authentication (CONTRACT section 6). A token is
 * size-capped and shape-checked, its header and payload parsed strictly, and
 * its `iss` (unverified) used only to choose a key. The key fixes the one
 * algorithm it accepts, so `alg` none, HS*, PS* and cross-type tokens are
 * refused before libjwt runs; after jwt_decode the algorithm is compared again
 * (libjwt 1.10.2 verifies with whatever `alg` names, and accepts an HS256
 * token keyed with our public-key PEM). Only then are claims read, from the
 * verified payload bytes. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "internal.h"

#define CACHE_SLOTS  256 /* verified Kubernetes tokens, direct-mapped by hash */
#define HASH_LEN     32
#define SERVER_AUD_F "spiffe://%s/signet/server"
#define MAX_AUDS     16 /* entries in a token's `aud` array */

struct provisioner {
    char name[API_MAX_NAME_LEN + 1];
    struct api_jwk key;
    int64_t max_ttl_s;
};

struct cache_slot {
    unsigned char hash[HASH_LEN]; /* SHA-256 of the token */
    int64_t exp;
    int used;
    char spiffe_id[CA_MAX_SPIFFE_ID_LEN + 1];
};

struct api_auth {
    char trust_domain[256];
    char server_aud[300];
    int k8s_enabled;
    char k8s_issuer[512];
    char k8s_audiences[API_MAX_LIST][API_MAX_NAME_LEN + 1];
    size_t num_k8s_audiences;
    struct api_jwk *k8s_keys;
    size_t num_k8s_keys;
    struct provisioner provisioners[API_MAX_LIST];
    size_t num_provisioners;
    struct store *st; /* borrowed */
    pthread_mutex_t cache_lock;
    int cache_lock_ready;
    struct cache_slot *cache; /* CACHE_SLOTS, under cache_lock */
    /* SHA-256 for the cache's token hashes, fetched once: EVP_sha256()
     * looks the implementation up again on every digest. */
    EVP_MD *sha256;
};

/* ---- Set-up ---- */

enum api_err api_auth_new(const struct api_config *cfg, struct store *st, struct api_auth **out,
                          struct api_error *err)
{
    enum api_err rc = API_OK;
    struct api_auth *auth = NULL;
    char what[64];

    auth = calloc(1, sizeof(*auth));
    ENSURE(auth != NULL, API_ERR_INTERNAL, "out of memory");
    auth->cache = calloc(CACHE_SLOTS, sizeof(*auth->cache));
    ENSURE(auth->cache != NULL, API_ERR_INTERNAL, "out of memory");
    ENSURE(pthread_mutex_init(&auth->cache_lock, NULL) == 0, API_ERR_INTERNAL, "out of memory");
    auth->cache_lock_ready = 1;
    auth->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    ENSURE(auth->sha256 != NULL, API_ERR_INTERNAL, "SHA-256 is not available");
    ENSURE(cfg->num_provisioners <= API_MAX_LIST && cfg->num_k8s_audiences <= API_MAX_LIST,
           API_ERR_INTERNAL, "config lists too long");
    ENSURE(cfg->num_provisioners == 0 || st != NULL, API_ERR_INTERNAL,
           "provisioner tokens need a store for their jti");
    memcpy(auth->trust_domain, cfg->trust_domain, sizeof(auth->trust_domain));
    auth->trust_domain[sizeof(auth->trust_domain) - 1] = '\0';
    int n = snprintf(auth->server_aud, sizeof(auth->server_aud), SERVER_AUD_F, auth->trust_domain);
    ENSURE(n > 0 && (size_t)n < sizeof(auth->server_aud), API_ERR_INTERNAL,
           "trust domain too long");
    auth->st = st;

    if (cfg->k8s_enabled) {
        auth->k8s_enabled = 1;
        memcpy(auth->k8s_issuer, cfg->k8s_issuer, sizeof(auth->k8s_issuer));
        memcpy(auth->k8s_audiences, cfg->k8s_audiences, sizeof(auth->k8s_audiences));
        auth->num_k8s_audiences = cfg->num_k8s_audiences;
        ENSURE(auth->num_k8s_audiences > 0 && auth->k8s_issuer[0] != '\0', API_ERR_BAD_REQUEST,
               "auth.kubernetes: issuer and audiences are required");
        TRY(api_jwks_load(cfg->k8s_jwks_file, &auth->k8s_keys, &auth->num_k8s_keys, err));
    }
    for (size_t i = 0; i < cfg->num_provisioners; i++) {
        struct provisioner *p = &auth->provisioners[i];
        memcpy(p->name, cfg->provisioners[i].name, sizeof(p->name));
        p->max_ttl_s = cfg->provisioners[i].max_ttl_s;
        snprintf(what, sizeof(what), "auth.provisioners[%zu].public_key", i);
        TRY(api_jwk_pubkey_load(cfg->provisioners[i].public_key, what, &p->key, err));
        auth->num_provisioners = i + 1;
    }

    *out = auth;
    auth = NULL;
out:
    api_auth_free(auth);
    return rc;
}

void api_auth_free(struct api_auth *auth)
{
    if (auth == NULL) {
        return;
    }
    for (size_t i = 0; i < auth->num_k8s_keys; i++) {
        api_jwk_cleanup(&auth->k8s_keys[i]);
    }
    free(auth->k8s_keys);
    for (size_t i = 0; i < API_MAX_LIST; i++) {
        api_jwk_cleanup(&auth->provisioners[i].key);
    }
    if (auth->cache_lock_ready) {
        pthread_mutex_destroy(&auth->cache_lock);
    }
    free(auth->cache);
    EVP_MD_free(auth->sha256);
    free(auth);
}

/* ---- The cache of verified Kubernetes tokens ---- */

static int cache_get(struct api_auth *auth, const unsigned char *hash, int64_t now,
                     struct api_principal *out)
{
    int hit = 0;
    struct cache_slot *slot = &auth->cache[hash[0] % CACHE_SLOTS];

    pthread_mutex_lock(&auth->cache_lock);
    if (slot->used && CRYPTO_memcmp(slot->hash, hash, HASH_LEN) == 0 &&
        slot->exp > now - API_AUTH_SKEW_S) {
        memset(out, 0, sizeof(*out));
        out->method = API_AUTH_KUBERNETES;
        memcpy(out->spiffe_id, slot->spiffe_id, sizeof(out->spiffe_id));
        hit = 1;
    }
    pthread_mutex_unlock(&auth->cache_lock);
    return hit;
}

static void cache_put(struct api_auth *auth, const unsigned char *hash, int64_t exp,
                      const char *spiffe_id)
{
    struct cache_slot *slot = &auth->cache[hash[0] % CACHE_SLOTS];

    pthread_mutex_lock(&auth->cache_lock);
    memcpy(slot->hash, hash, HASH_LEN);
    slot->exp = exp;
    slot->used = 1;
    snprintf(slot->spiffe_id, sizeof(slot->spiffe_id), "%s", spiffe_id);
    pthread_mutex_unlock(&auth->cache_lock);
}

/* ---- Token shape and segments ---- */

/* split checks the charset and the three-segment shape and returns the
 * lengths of the header and payload segments. */
static enum api_err split(const char *token, size_t len, size_t *out_hdr_len,
                          size_t *out_payload_len, struct api_error *err)
{
    enum api_err rc = API_OK;
    size_t dots[2] = {0, 0};
    size_t num_dots = 0;

    ENSURE(token != NULL && len > 0, API_ERR_UNAUTHENTICATED, "missing token");
    ENSURE(len <= API_MAX_TOKEN_LEN, API_ERR_UNAUTHENTICATED, "token longer than %d bytes",
           API_MAX_TOKEN_LEN);
    for (size_t i = 0; i < len; i++) {
        char c = token[i];
        if (c == '.') {
            ENSURE(num_dots < 2, API_ERR_UNAUTHENTICATED, "malformed token: not three segments");
            dots[num_dots++] = i;
            continue;
        }
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_';
        ENSURE(ok, API_ERR_UNAUTHENTICATED, "malformed token: not base64url");
    }
    ENSURE(num_dots == 2, API_ERR_UNAUTHENTICATED, "malformed token: not three segments");
    ENSURE(dots[0] > 0 && dots[1] > dots[0] + 1, API_ERR_UNAUTHENTICATED,
           "malformed token: empty segment");
    *out_hdr_len = dots[0];
    *out_payload_len = dots[1] - dots[0] - 1;
out:
    return rc;
}

/* segment_json decodes one base64url segment into a JSON object. */
static enum api_err segment_json(const char *seg, size_t len, const char *what, json_t **out,
                                 struct api_error *err)
{
    enum api_err rc = API_OK;
    unsigned char *raw = NULL;
    size_t raw_len = 0;
    json_error_t jerr;

    ENSURE(api_b64url_decode(seg, len, &raw, &raw_len, NULL) == API_OK, API_ERR_UNAUTHENTICATED,
           "malformed token: %s is not base64url", what);
    *out = json_loadb((const char *)raw, raw_len, JSON_REJECT_DUPLICATES, &jerr);
    ENSURE(*out != NULL, API_ERR_UNAUTHENTICATED, "malformed token: %s is not JSON", what);
    ENSURE(json_is_object(*out), API_ERR_UNAUTHENTICATED, "malformed token: %s is not an object",
           what);
out:
    OPENSSL_clear_free(raw, raw_len + 1);
    return rc;
}

/* string_claim returns the string member |name| of |obj| (no NUL inside), or NULL. */
static const char *string_claim(const json_t *obj, const char *name, size_t *out_len)
{
    const json_t *v = json_object_get(obj, name);
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        return NULL;
    }
    if (out_len != NULL) {
        *out_len = json_string_length(v);
    }
    return json_string_value(v);
}

/* printable_alg tells whether |alg| is safe to echo in a message. */
static int printable_alg(const char *alg)
{
    size_t len = strlen(alg);
    for (size_t i = 0; i < len; i++) {
        char c = alg[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            return 0;
        }
    }
    return len > 0 && len <= 16;
}

/* header_check reads `alg` and `kid` from the header; `typ` must be JWT when
 * present and `crit` (extensions we would have to understand) is refused. */
static enum api_err header_check(const json_t *hdr, const char **out_alg, const char **out_kid,
                                 struct api_error *err)
{
    enum api_err rc = API_OK;

    *out_alg = string_claim(hdr, "alg", NULL);
    ENSURE(*out_alg != NULL, API_ERR_UNAUTHENTICATED, "malformed token: header has no alg");
    const json_t *kid = json_object_get(hdr, "kid");
    ENSURE(kid == NULL || string_claim(hdr, "kid", NULL) != NULL, API_ERR_UNAUTHENTICATED,
           "malformed token: kid is not a string");
    *out_kid = kid == NULL ? NULL : json_string_value(kid);
    const json_t *typ = json_object_get(hdr, "typ");
    ENSURE(typ == NULL || (json_is_string(typ) && strcasecmp(json_string_value(typ), "JWT") == 0),
           API_ERR_UNAUTHENTICATED, "token type not accepted");
    ENSURE(json_object_get(hdr, "crit") == NULL, API_ERR_UNAUTHENTICATED,
           "critical header extensions not accepted");
out:
    return rc;
}

/* select_key picks the key from the unverified `iss` and `kid`; nothing else
 * of the payload is read before the signature verifies. */
static enum api_err select_key(struct api_auth *auth, const json_t *payload, const char *kid,
                               const struct api_jwk **out_key, const struct provisioner **out_prov,
                               struct api_error *err)
{
    enum api_err rc = API_OK;
    size_t iss_len = 0;
    const char *iss = string_claim(payload, "iss", &iss_len);

    *out_key = NULL;
    *out_prov = NULL;
    ENSURE(iss != NULL, API_ERR_UNAUTHENTICATED, "token has no issuer");
    if (auth->k8s_enabled && strcmp(iss, auth->k8s_issuer) == 0) {
        for (size_t i = 0; i < auth->num_k8s_keys && *out_key == NULL; i++) {
            const struct api_jwk *k = &auth->k8s_keys[i];
            if (kid == NULL ? auth->num_k8s_keys == 1
                            : (strcmp(kid, k->kid) == 0 ||
                               (auth->num_k8s_keys == 1 && k->kid[0] == '\0'))) {
                *out_key = k;
            }
        }
        ENSURE(*out_key != NULL, API_ERR_UNAUTHENTICATED,
               kid == NULL ? "token has no key id" : "unknown key id");
        goto out;
    }
    for (size_t i = 0; i < auth->num_provisioners; i++) {
        if (strcmp(iss, auth->provisioners[i].name) == 0) {
            *out_prov = &auth->provisioners[i];
            *out_key = &auth->provisioners[i].key;
            goto out;
        }
    }
    ENSURE(0, API_ERR_UNAUTHENTICATED, "unknown issuer");
out:
    return rc;
}

static const char *alg_name(enum api_jwt_alg alg)
{
    return alg == API_JWT_RS256 ? "RS256" : "ES256";
}

static jwt_alg_t alg_jwt(enum api_jwt_alg alg)
{
    return alg == API_JWT_RS256 ? JWT_ALG_RS256 : JWT_ALG_ES256;
}

/* verify_signature checks the signature with libjwt and the pinned key, then
 * checks that libjwt used the pinned algorithm. */
static enum api_err verify_signature(const char *token, size_t len, const struct api_jwk *key,
                                     struct api_error *err)
{
    enum api_err rc = API_OK;
    char *copy = NULL;
    jwt_t *jwt = NULL;

    copy = OPENSSL_malloc(len + 1); /* jwt_decode wants a C string */
    ENSURE(copy != NULL, API_ERR_INTERNAL, "out of memory");
    memcpy(copy, token, len);
    copy[len] = '\0';
    int jrc = jwt_decode(&jwt, copy, (const unsigned char *)key->pem, (int)key->pem_len);
    ERR_clear_error();
    ENSURE(jrc == 0 && jwt != NULL, API_ERR_UNAUTHENTICATED, "signature invalid");
    ENSURE(jwt_get_alg(jwt) == alg_jwt(key->alg), API_ERR_UNAUTHENTICATED,
           "algorithm not accepted for this key");
out:
    jwt_free(jwt);
    OPENSSL_clear_free(copy, len + 1);
    return rc;
}

/* ---- Claims ---- */

/* int_claim reads an optional integer claim; |*out_present| says whether it was there. */
static enum api_err int_claim(const json_t *payload, const char *name, int64_t *out,
                              int *out_present, struct api_error *err)
{
    enum api_err rc = API_OK;
    const json_t *v = json_object_get(payload, name);

    *out_present = v != NULL;
    *out = 0;
    ENSURE(v == NULL || json_is_integer(v), API_ERR_UNAUTHENTICATED, "claim %s is not an integer",
           name);
    if (v != NULL) {
        *out = (int64_t)json_integer_value(v);
    }
out:
    return rc;
}

/* check_times: `exp` required, `nbf` and `iat` when present, 60 s of skew. */
static enum api_err check_times(const json_t *payload, int64_t now, int64_t *out_exp,
                                int64_t *out_start, int *out_has_start, struct api_error *err)
{
    enum api_err rc = API_OK;
    int64_t exp = 0, nbf = 0, iat = 0;
    int has_exp = 0, has_nbf = 0, has_iat = 0;

    TRY(int_claim(payload, "exp", &exp, &has_exp, err));
    TRY(int_claim(payload, "nbf", &nbf, &has_nbf, err));
    TRY(int_claim(payload, "iat", &iat, &has_iat, err));
    ENSURE(has_exp, API_ERR_UNAUTHENTICATED, "token has no expiry (exp)");
    ENSURE(exp > now - API_AUTH_SKEW_S, API_ERR_UNAUTHENTICATED, "token expired");
    ENSURE(!has_nbf || nbf <= now + API_AUTH_SKEW_S, API_ERR_UNAUTHENTICATED,
           "token not yet valid");
    ENSURE(!has_iat || iat <= now + API_AUTH_SKEW_S, API_ERR_UNAUTHENTICATED,
           "token issued in the future");
    /* The lifetime starts at the earliest of iat and nbf. */
    *out_has_start = has_iat || has_nbf;
    *out_start = has_iat ? iat : nbf;
    if (has_iat && has_nbf && nbf < iat) {
        *out_start = nbf;
    }
    *out_exp = exp;
out:
    return rc;
}

/* check_aud: `aud` (a string or an array of strings) holds one of |accepted|. */
static enum api_err check_aud(const json_t *payload, const char *const *accepted,
                              size_t num_accepted, struct api_error *err)
{
    enum api_err rc = API_OK;
    const json_t *aud = json_object_get(payload, "aud");
    int found = 0;

    ENSURE(json_is_string(aud) || (json_is_array(aud) && json_array_size(aud) <= MAX_AUDS),
           API_ERR_UNAUTHENTICATED, "token audience missing or malformed");
    size_t num = json_is_string(aud) ? 1 : json_array_size(aud);
    for (size_t i = 0; i < num; i++) {
        const json_t *a = json_is_string(aud) ? aud : json_array_get(aud, i);
        ENSURE(json_is_string(a), API_ERR_UNAUTHENTICATED, "token audience malformed");
        for (size_t j = 0; j < num_accepted; j++) {
            found |= strlen(accepted[j]) == json_string_length(a) &&
                     memcmp(accepted[j], json_string_value(a), json_string_length(a)) == 0;
        }
    }
    ENSURE(found, API_ERR_UNAUTHENTICATED, "token audience not accepted");
out:
    return rc;
}

/* k8s_name_check: a namespace is a DNS-1123 label, a service account name a
 * DNS-1123 subdomain. */
static int k8s_name_check(const char *s, size_t len, int label)
{
    if (!api_dns_name_check(s, len)) {
        return 0;
    }
    return !label || (len <= 63 && memchr(s, '.', len) == NULL);
}

static enum api_err k8s_identity(const struct api_auth *auth, const json_t *payload,
                                 struct api_principal *out, struct api_error *err)
{
    enum api_err rc = API_OK;
    size_t ns_len = 0, sa_len = 0;
    struct ca_error cerr;
    char sub[600];

    const json_t *k8s = json_object_get(payload, "kubernetes.io");
    ENSURE(json_is_object(k8s), API_ERR_UNAUTHENTICATED, "token has no kubernetes.io claims");
    const char *ns = string_claim(k8s, "namespace", &ns_len);
    const json_t *sa_obj = json_object_get(k8s, "serviceaccount");
    const char *sa = json_is_object(sa_obj) ? string_claim(sa_obj, "name", &sa_len) : NULL;
    ENSURE(ns != NULL && k8s_name_check(ns, ns_len, 1), API_ERR_UNAUTHENTICATED,
           "token namespace missing or invalid");
    ENSURE(sa != NULL && k8s_name_check(sa, sa_len, 0), API_ERR_UNAUTHENTICATED,
           "token service account missing or invalid");
    /* When present, `sub` must name the same service account. */
    const json_t *subj = json_object_get(payload, "sub");
    if (subj != NULL) {
        int n = snprintf(sub, sizeof(sub), "system:serviceaccount:%s:%s", ns, sa);
        ENSURE(n > 0 && (size_t)n < sizeof(sub) && json_is_string(subj) &&
                   strcmp(json_string_value(subj), sub) == 0,
               API_ERR_UNAUTHENTICATED, "token subject does not match its service account");
    }
    memset(out, 0, sizeof(*out));
    out->method = API_AUTH_KUBERNETES;
    int n = snprintf(out->spiffe_id, sizeof(out->spiffe_id), "spiffe://%s/ns/%s/sa/%s",
                     auth->trust_domain, ns, sa);
    ENSURE(n > 0 && (size_t)n < sizeof(out->spiffe_id), API_ERR_UNAUTHENTICATED,
           "token identity too long");
    ENSURE(ca_spiffe_id_check(out->spiffe_id, (size_t)n, auth->trust_domain, &cerr) == CA_OK,
           API_ERR_UNAUTHENTICATED, "token identity invalid");
out:
    return rc;
}

/* dns_claim copies the optional `dns` array of DNS names into |out|. */
static enum api_err dns_claim(const json_t *payload, struct api_principal *out,
                              struct api_error *err)
{
    enum api_err rc = API_OK;
    const json_t *dns = json_object_get(payload, "dns");

    if (dns == NULL) {
        goto out;
    }
    ENSURE(json_is_array(dns) && json_array_size(dns) <= CA_MAX_SANS, API_ERR_UNAUTHENTICATED,
           "claim dns must be an array of at most %d names", CA_MAX_SANS);
    for (size_t i = 0; i < json_array_size(dns); i++) {
        const json_t *name = json_array_get(dns, i);
        ENSURE(json_is_string(name) &&
                   api_dns_name_check(json_string_value(name), json_string_length(name)),
               API_ERR_UNAUTHENTICATED, "claim dns[%zu] is not a valid DNS name", i);
        memcpy(out->dns_names[i], json_string_value(name), json_string_length(name) + 1);
        out->num_dns_names = i + 1;
    }
out:
    return rc;
}

static enum api_err provisioner_identity(const struct api_auth *auth,
                                         const struct provisioner *prov, const json_t *payload,
                                         int64_t exp, int64_t start, int has_start,
                                         struct api_principal *out, struct api_error *err)
{
    enum api_err rc = API_OK;
    size_t sub_len = 0, jti_len = 0;
    int64_t lifetime = 0;
    struct ca_error cerr;

    ENSURE(has_start, API_ERR_UNAUTHENTICATED, "token has no issue time (iat)");
    ENSURE(!__builtin_sub_overflow(exp, start, &lifetime) && lifetime <= API_MAX_TOKEN_TTL,
           API_ERR_UNAUTHENTICATED, "token lifetime exceeds 1h");
    const char *jti = string_claim(payload, "jti", &jti_len);
    ENSURE(jti != NULL && jti_len >= 1 && jti_len <= STORE_JTI_MAX, API_ERR_UNAUTHENTICATED,
           "token has no valid jti");
    const char *sub = string_claim(payload, "sub", &sub_len);
    ENSURE(sub != NULL, API_ERR_UNAUTHENTICATED, "token has no subject");
    ENSURE(ca_spiffe_id_check(sub, sub_len, auth->trust_domain, &cerr) == CA_OK,
           API_ERR_UNAUTHENTICATED, "token subject is not a SPIFFE ID in the trust domain");
    memset(out, 0, sizeof(*out));
    out->method = API_AUTH_PROVISIONER;
    out->max_ttl_s = prov->max_ttl_s;
    memcpy(out->spiffe_id, sub, sub_len + 1);
    TRY(dns_claim(payload, out, err));

    /* Refuse a spent token early. The issuance spends it, in the commit that
     * records the certificate, which alone settles a race between two uses.
     * Keep the jti as long as the token could be accepted (exp plus skew). */
    enum store_err src = store_jti_check(auth->st, jti, jti_len, exp + API_AUTH_SKEW_S);
    ENSURE(src != STORE_ERR_REPLAY, API_ERR_UNAUTHENTICATED, "token already used");
    ENSURE(src == STORE_OK, API_ERR_UNAVAILABLE, "cannot read the token cache");
    memcpy(out->jti, jti, jti_len);
    out->jti_len = jti_len;
    out->jti_expires_at = exp + API_AUTH_SKEW_S;
out:
    return rc;
}

/* ---- The entry point ---- */

enum api_err api_auth_bearer(struct api_auth *auth, const char *token, size_t token_len,
                             int64_t now, struct api_principal *out, struct api_error *err)
{
    enum api_err rc = API_OK;
    json_t *hdr = NULL;
    json_t *payload = NULL;
    size_t hdr_len = 0, payload_len = 0;
    unsigned char hash[HASH_LEN];
    const char *alg = NULL;
    const char *kid = NULL;
    const struct api_jwk *key = NULL;
    const struct provisioner *prov = NULL;
    int64_t exp = 0, start = 0;
    int has_start = 0;
    struct api_principal principal;

    TRY(split(token, token_len, &hdr_len, &payload_len, err));
    OSSL(EVP_Digest(token, token_len, hash, NULL, auth->sha256, NULL), API_ERR_INTERNAL,
         "cannot hash token");
    if (cache_get(auth, hash, now, out)) {
        goto out;
    }
    TRY(segment_json(token, hdr_len, "header", &hdr, err));
    TRY(segment_json(token + hdr_len + 1, payload_len, "payload", &payload, err));
    TRY(header_check(hdr, &alg, &kid, err));
    TRY(select_key(auth, payload, kid, &key, &prov, err));
    if (strcmp(alg, alg_name(key->alg)) != 0) {
        /* The key fixes the algorithm: none, HS*, PS* and cross-type tokens end here. */
        rc = printable_alg(alg)
                 ? api_fail(err, API_ERR_UNAUTHENTICATED, "algorithm %s not accepted for this key",
                            alg)
                 : api_fail(err, API_ERR_UNAUTHENTICATED, "algorithm not accepted for this key");
        goto out;
    }
    TRY(verify_signature(token, token_len, key, err));

    /* Verified: the payload parsed above is the signed bytes. */
    TRY(check_times(payload, now, &exp, &start, &has_start, err));
    if (prov == NULL) {
        const char *auds[API_MAX_LIST];
        for (size_t i = 0; i < auth->num_k8s_audiences; i++) {
            auds[i] = auth->k8s_audiences[i];
        }
        TRY(check_aud(payload, auds, auth->num_k8s_audiences, err));
        TRY(k8s_identity(auth, payload, &principal, err));
        cache_put(auth, hash, exp, principal.spiffe_id);
    } else {
        const char *server_aud = auth->server_aud;
        TRY(check_aud(payload, &server_aud, 1, err));
        TRY(provisioner_identity(auth, prov, payload, exp, start, has_start, &principal, err));
    }
    memcpy(out, &principal, sizeof(*out));
out:
    json_decref(hdr);
    json_decref(payload);
    return rc;
}
