/* test_api_auth.c: api/auth.c, bearer tokens. Every hostile token is built here
 * with OpenSSL (tests/lib/testjwt.c) and must get 401 with its reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../../api/internal.h"
#include "testfs.h"
#include "testjwt.h"

#define NOW   1900000000LL
#define ISS   "https://kubernetes.default.svc.cluster.local"
#define PAUD  "spiffe://example.org/signet/server"
#define PSUB  "spiffe://example.org/ns/default/sa/web"
#define HDR_K "{\"alg\":\"%s\",\"kid\":\"%s\"}"

static char dir[64];
static char db_path[128];
static EVP_PKEY *rsa_key;  /* Kubernetes, kid "rsa1" */
static EVP_PKEY *ec_key;   /* Kubernetes, kid "ec1" */
static EVP_PKEY *prov_key; /* provisioner "bootstrap" */
static EVP_PKEY *other_ec; /* nobody's */
static struct api_config cfg;
static struct store *st;
static struct api_auth *auth;
static struct api_principal who;
static struct api_error err;

static void open_store(void)
{
    struct store_options opts = {.path = db_path, .map_size = 16 << 20};
    cr_assert_eq(store_open(&opts, &st), STORE_OK);
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/signet-auth-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    rsa_key = testjwt_rsa_key_shared();
    ec_key = testjwt_ec_key();
    prov_key = testjwt_ec_key();
    other_ec = testjwt_ec_key();
    cr_assert(rsa_key != NULL && ec_key != NULL && prov_key != NULL && other_ec != NULL);

    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.trust_domain, sizeof(cfg.trust_domain), "example.org");
    cfg.k8s_enabled = 1;
    snprintf(cfg.k8s_issuer, sizeof(cfg.k8s_issuer), ISS);
    snprintf(cfg.k8s_audiences[0], sizeof(cfg.k8s_audiences[0]), "signet");
    cfg.num_k8s_audiences = 1;
    snprintf(cfg.k8s_jwks_file, sizeof(cfg.k8s_jwks_file), "%s/jwks.json", dir);
    EVP_PKEY *keys[] = {rsa_key, ec_key};
    const char *kids[] = {"rsa1", "ec1"};
    cr_assert(testjwt_jwks_write(cfg.k8s_jwks_file, keys, kids, 2));
    snprintf(cfg.provisioners[0].name, sizeof(cfg.provisioners[0].name), "bootstrap");
    snprintf(cfg.provisioners[0].public_key, sizeof(cfg.provisioners[0].public_key),
             "%s/bootstrap.pub", dir);
    cr_assert(testjwt_pubkey_write(cfg.provisioners[0].public_key, prov_key));
    cfg.provisioners[0].max_ttl_s = 7200;
    cfg.num_provisioners = 1;

    snprintf(db_path, sizeof(db_path), "%s/db", dir);
    open_store();
    cr_assert_eq(api_auth_new(&cfg, st, &auth, &err), API_OK, "%s", err.msg);
    memset(&who, 0, sizeof(who));
    memset(&err, 0, sizeof(err));
}

static void teardown(void)
{
    api_auth_free(auth);
    store_close(st);
    EVP_PKEY_free(rsa_key);
    EVP_PKEY_free(ec_key);
    EVP_PKEY_free(prov_key);
    EVP_PKEY_free(other_ec);
    testfs_rmtree(dir);
}

TestSuite(api_auth, .init = setup, .fini = teardown);

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    testjwt_shared_cleanup();
}

/* ---- Token builders ---- */

static char claims[2048];

/* k8s_claims fills |claims| for a Kubernetes service-account token. */
static const char *k8s_claims(const char *iss, const char *aud, long long exp)
{
    snprintf(claims, sizeof(claims),
             "{\"iss\":\"%s\",\"aud\":%s,\"exp\":%lld,\"iat\":%lld,\"nbf\":%lld,"
             "\"sub\":\"system:serviceaccount:default:web\","
             "\"kubernetes.io\":{\"namespace\":\"default\",\"pod\":{\"name\":\"web-1\"},"
             "\"serviceaccount\":{\"name\":\"web\",\"uid\":\"0c8f\"}}}",
             iss, aud, exp, NOW - 30, NOW - 30);
    return claims;
}

static const char *k8s_default(void)
{
    return k8s_claims(ISS, "[\"signet\"]", NOW + 600);
}

/* prov_claims fills |claims| for a provisioner token; |extra| is appended
 * inside the object (e.g. ",\"dns\":[...]"). */
static const char *prov_claims(const char *jti, long long iat, long long exp, const char *extra)
{
    snprintf(claims, sizeof(claims),
             "{\"iss\":\"bootstrap\",\"sub\":\"" PSUB "\",\"aud\":\"" PAUD "\","
             "\"jti\":\"%s\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld%s}",
             jti, iat, iat, exp, extra);
    return claims;
}

static char *k8s_token(EVP_PKEY *key, const char *alg, const char *kid, const char *body)
{
    char hdr[128];
    snprintf(hdr, sizeof(hdr), HDR_K, alg, kid);
    char *t = testjwt_sign(hdr, body, key);
    cr_assert_not_null(t);
    return t;
}

static char *prov_token(EVP_PKEY *key, const char *body)
{
    char *t = testjwt_sign("{\"alg\":\"ES256\",\"typ\":\"JWT\"}", body, key);
    cr_assert_not_null(t);
    return t;
}

static enum api_err bearer(const char *token)
{
    return api_auth_bearer(auth, token, strlen(token), NOW, &who, &err);
}

/* spend records the jti the last accepted provisioner token carried, as the
 * issuance's commit does. */
static void spend(void)
{
    cr_assert_gt(who.jti_len, 0, "the principal carries the token's jti");
    cr_assert_eq(store_jti_use(st, who.jti, who.jti_len, who.jti_expires_at), STORE_OK);
}

/* refused checks a 401 with exactly |msg| and frees |token|. */
static void refused(char *token, const char *msg)
{
    enum api_err rc = bearer(token);
    free(token);
    cr_assert_eq(rc, API_ERR_UNAUTHENTICATED, "rc %d (%s), wanted 401 '%s'", rc, err.msg, msg);
    cr_assert_str_eq(err.msg, msg);
}

/* ---- Accepted ---- */

Test(api_auth, kubernetes_rs256_token_gives_the_service_account_identity)
{
    char *t = k8s_token(rsa_key, "RS256", "rsa1", k8s_default());
    enum api_err rc = bearer(t);
    free(t);
    cr_assert_eq(rc, API_OK, "%s", err.msg);
    cr_assert_eq(who.method, API_AUTH_KUBERNETES);
    cr_assert_str_eq(who.spiffe_id, "spiffe://example.org/ns/default/sa/web");
    cr_assert_eq(who.num_dns_names, 0);
    cr_assert_eq(who.max_ttl_s, 0);
}

Test(api_auth, kubernetes_es256_token_gives_the_service_account_identity)
{
    char *t = k8s_token(ec_key, "ES256", "ec1", k8s_default());
    enum api_err rc = bearer(t);
    free(t);
    cr_assert_eq(rc, API_OK, "%s", err.msg);
    cr_assert_str_eq(who.spiffe_id, "spiffe://example.org/ns/default/sa/web");
}

Test(api_auth, kubernetes_audience_may_be_a_string_among_others)
{
    char *t =
        k8s_token(rsa_key, "RS256", "rsa1", k8s_claims(ISS, "[\"api\",\"signet\"]", NOW + 60));
    cr_assert_eq(bearer(t), API_OK, "%s", err.msg);
    free(t);
    t = k8s_token(rsa_key, "RS256", "rsa1", k8s_claims(ISS, "\"signet\"", NOW + 60));
    cr_assert_eq(bearer(t), API_OK, "%s", err.msg);
    free(t);
}

Test(api_auth, provisioner_token_gives_its_subject_dns_names_and_ttl_cap)
{
    char *t = prov_token(
        prov_key, prov_claims("j-1", NOW - 5, NOW + 300, ",\"dns\":[\"web.example.org\",\"web\"]"));
    enum api_err rc = bearer(t);
    free(t);
    cr_assert_eq(rc, API_OK, "%s", err.msg);
    cr_assert_eq(who.method, API_AUTH_PROVISIONER);
    cr_assert_str_eq(who.spiffe_id, PSUB);
    cr_assert_eq(who.num_dns_names, 2);
    cr_assert_str_eq(who.dns_names[0], "web.example.org");
    cr_assert_str_eq(who.dns_names[1], "web");
    cr_assert_eq(who.max_ttl_s, 7200);
}

Test(api_auth, token_expired_within_the_skew_is_accepted)
{
    char *t = k8s_token(rsa_key, "RS256", "rsa1", k8s_claims(ISS, "[\"signet\"]", NOW - 30));
    enum api_err rc = bearer(t);
    free(t);
    cr_assert_eq(rc, API_OK, "%s", err.msg);
}

Test(api_auth, repeated_kubernetes_token_is_accepted_and_still_expires)
{
    char *t = k8s_token(rsa_key, "RS256", "rsa1", k8s_claims(ISS, "[\"signet\"]", NOW + 100));
    cr_assert_eq(bearer(t), API_OK, "%s", err.msg);
    memset(&who, 0, sizeof(who));
    cr_assert_eq(bearer(t), API_OK, "%s", err.msg); /* from the cache */
    cr_assert_str_eq(who.spiffe_id, "spiffe://example.org/ns/default/sa/web");
    cr_assert_eq(who.method, API_AUTH_KUBERNETES);
    /* Later than exp + skew: the cached entry must not outlive the token. */
    enum api_err rc = api_auth_bearer(auth, t, strlen(t), NOW + 161, &who, &err);
    free(t);
    cr_assert_eq(rc, API_ERR_UNAUTHENTICATED);
    cr_assert_str_eq(err.msg, "token expired");
}

/* ---- Algorithm confusion ---- */

Test(api_auth, alg_none_is_refused)
{
    char hdr[64];
    snprintf(hdr, sizeof(hdr), HDR_K, "none", "rsa1");
    refused(testjwt_unsigned(hdr, k8s_default()), "algorithm none not accepted for this key");
}

Test(api_auth, alg_none_with_a_signature_segment_is_refused)
{
    char hdr[64];
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"none\"}");
    refused(testjwt_sign(hdr, prov_claims("j-n", NOW, NOW + 60, ""), prov_key),
            "algorithm none not accepted for this key");
}

Test(api_auth, hs256_keyed_with_the_rsa_public_key_pem_is_refused)
{
    size_t pem_len = 0;
    char *pem = testjwt_pubkey_pem(rsa_key, &pem_len);
    char hdr[64];
    snprintf(hdr, sizeof(hdr), HDR_K, "HS256", "rsa1");
    char *t = testjwt_sign_hmac(hdr, k8s_default(), (unsigned char *)pem, pem_len);
    free(pem);
    refused(t, "algorithm HS256 not accepted for this key");
}

Test(api_auth, hs256_keyed_with_the_provisioner_public_key_pem_is_refused)
{
    size_t pem_len = 0;
    char *pem = testjwt_pubkey_pem(prov_key, &pem_len);
    char *t =
        testjwt_sign_hmac("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
                          prov_claims("j-h", NOW, NOW + 60, ""), (unsigned char *)pem, pem_len);
    free(pem);
    refused(t, "algorithm HS256 not accepted for this key");
}

Test(api_auth, rs256_token_for_an_ec_key_is_refused)
{
    char *t = testjwt_sign("{\"alg\":\"RS256\"}", prov_claims("j-r", NOW, NOW + 60, ""), rsa_key);
    refused(t, "algorithm RS256 not accepted for this key");
}

Test(api_auth, es256_token_for_an_rsa_key_is_refused)
{
    refused(k8s_token(ec_key, "ES256", "rsa1", k8s_default()),
            "algorithm ES256 not accepted for this key");
}

Test(api_auth, ps256_and_es384_are_refused)
{
    refused(k8s_token(rsa_key, "PS256", "rsa1", k8s_default()),
            "algorithm PS256 not accepted for this key");
    refused(k8s_token(ec_key, "ES384", "ec1", k8s_default()),
            "algorithm ES384 not accepted for this key");
}

Test(api_auth, unprintable_alg_is_not_echoed)
{
    refused(k8s_token(rsa_key, "RS256\\n", "rsa1", k8s_default()),
            "algorithm not accepted for this key");
}

/* ---- Keys and signatures ---- */

Test(api_auth, unknown_kid_is_refused)
{
    refused(k8s_token(rsa_key, "RS256", "rsa2", k8s_default()), "unknown key id");
}

Test(api_auth, missing_kid_with_several_keys_is_refused)
{
    refused(testjwt_sign("{\"alg\":\"RS256\"}", k8s_default(), rsa_key), "token has no key id");
}

Test(api_auth, token_signed_by_another_key_is_refused)
{
    refused(k8s_token(other_ec, "ES256", "ec1", k8s_default()), "signature invalid");
    refused(prov_token(other_ec, prov_claims("j-o", NOW, NOW + 60, "")), "signature invalid");
}

Test(api_auth, truncated_signature_is_refused)
{
    char *t = k8s_token(rsa_key, "RS256", "rsa1", k8s_default());
    t[strlen(t) - 4] = '\0';
    refused(t, "signature invalid");
    t = prov_token(prov_key, prov_claims("j-t", NOW, NOW + 60, ""));
    t[strlen(t) - 2] = '\0';
    refused(t, "signature invalid");
}

Test(api_auth, flipped_signature_byte_is_refused)
{
    char *t = k8s_token(ec_key, "ES256", "ec1", k8s_default());
    char *sig = strrchr(t, '.') + 1;
    sig[10] = sig[10] == 'A' ? 'B' : 'A';
    refused(t, "signature invalid");
}

Test(api_auth, payload_changed_after_signing_is_refused)
{
    char *good = k8s_token(rsa_key, "RS256", "rsa1", k8s_default());
    char *forged =
        k8s_token(rsa_key, "RS256", "rsa1", k8s_claims(ISS, "[\"signet\"]", NOW + 999999));
    /* forged header.payload with the good signature */
    char *sig = strrchr(good, '.');
    char *fsig = strrchr(forged, '.');
    cr_assert_eq(strlen(sig), strlen(fsig));
    memcpy(fsig, sig, strlen(sig));
    free(good);
    refused(forged, "signature invalid");
}

/* ---- Claims ---- */

Test(api_auth, token_expired_beyond_the_skew_is_refused)
{
    refused(k8s_token(rsa_key, "RS256", "rsa1", k8s_claims(ISS, "[\"signet\"]", NOW - 61)),
            "token expired");
}

Test(api_auth, token_not_yet_valid_is_refused)
{
    refused(prov_token(prov_key, prov_claims("j-f", NOW + 120, NOW + 600, "")),
            "token not yet valid");
}

Test(api_auth, wrong_issuer_is_refused)
{
    refused(k8s_token(rsa_key, "RS256", "rsa1",
                      k8s_claims("https://evil.example", "[\"signet\"]", NOW + 60)),
            "unknown issuer");
}

Test(api_auth, missing_issuer_is_refused)
{
    refused(k8s_token(rsa_key, "RS256", "rsa1", "{\"exp\":1900000100}"), "token has no issuer");
}

Test(api_auth, wrong_kubernetes_audience_is_refused)
{
    refused(k8s_token(rsa_key, "RS256", "rsa1", k8s_claims(ISS, "[\"vault\"]", NOW + 60)),
            "token audience not accepted");
}

Test(api_auth, kubernetes_audience_that_is_not_a_string_is_refused)
{
    refused(k8s_token(rsa_key, "RS256", "rsa1", k8s_claims(ISS, "7", NOW + 60)),
            "token audience missing or malformed");
}

Test(api_auth, provisioner_token_for_another_server_audience_is_refused)
{
    snprintf(claims, sizeof(claims),
             "{\"iss\":\"bootstrap\",\"sub\":\"" PSUB "\",\"aud\":\"spiffe://other.org/signet/"
             "server\",\"jti\":\"j-a\",\"iat\":%lld,\"exp\":%lld}",
             NOW, NOW + 60);
    refused(prov_token(prov_key, claims), "token audience not accepted");
}

Test(api_auth, missing_exp_is_refused)
{
    snprintf(claims, sizeof(claims),
             "{\"iss\":\"" ISS "\",\"aud\":\"signet\",\"kubernetes.io\":{\"namespace\":\"a\","
             "\"serviceaccount\":{\"name\":\"b\"}}}");
    refused(k8s_token(rsa_key, "RS256", "rsa1", claims), "token has no expiry (exp)");
}

Test(api_auth, exp_that_is_not_an_integer_is_refused)
{
    snprintf(claims, sizeof(claims), "{\"iss\":\"" ISS "\",\"aud\":\"signet\",\"exp\":\"soon\"}");
    refused(k8s_token(rsa_key, "RS256", "rsa1", claims), "claim exp is not an integer");
}

Test(api_auth, duplicate_claims_are_refused)
{
    snprintf(claims, sizeof(claims),
             "{\"iss\":\"evil\",\"iss\":\"" ISS "\",\"aud\":\"signet\",\"exp\":%lld}", NOW + 60);
    refused(k8s_token(rsa_key, "RS256", "rsa1", claims), "malformed token: payload is not JSON");
}

Test(api_auth, critical_header_is_refused)
{
    refused(testjwt_sign("{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"crit\":[\"x\"]}", k8s_default(),
                         rsa_key),
            "critical header extensions not accepted");
}

Test(api_auth, kubernetes_token_without_service_account_claims_is_refused)
{
    snprintf(claims, sizeof(claims), "{\"iss\":\"" ISS "\",\"aud\":\"signet\",\"exp\":%lld}",
             NOW + 60);
    refused(k8s_token(rsa_key, "RS256", "rsa1", claims), "token has no kubernetes.io claims");
}

Test(api_auth, kubernetes_namespace_that_is_not_a_dns_label_is_refused)
{
    snprintf(claims, sizeof(claims),
             "{\"iss\":\"" ISS "\",\"aud\":\"signet\",\"exp\":%lld,\"kubernetes.io\":{"
             "\"namespace\":\"a/../b\",\"serviceaccount\":{\"name\":\"web\"}}}",
             NOW + 60);
    refused(k8s_token(rsa_key, "RS256", "rsa1", claims), "token namespace missing or invalid");
}

Test(api_auth, kubernetes_subject_naming_another_account_is_refused)
{
    snprintf(claims, sizeof(claims),
             "{\"iss\":\"" ISS "\",\"aud\":\"signet\",\"exp\":%lld,"
             "\"sub\":\"system:serviceaccount:kube-system:admin\",\"kubernetes.io\":{"
             "\"namespace\":\"default\",\"serviceaccount\":{\"name\":\"web\"}}}",
             NOW + 60);
    refused(k8s_token(rsa_key, "RS256", "rsa1", claims),
            "token subject does not match its service account");
}

Test(api_auth, provisioner_lifetime_over_one_hour_is_refused)
{
    refused(prov_token(prov_key, prov_claims("j-l", NOW - 10, NOW - 10 + 3601, "")),
            "token lifetime exceeds 1h");
}

Test(api_auth, provisioner_token_without_iat_or_nbf_is_refused)
{
    snprintf(claims, sizeof(claims),
             "{\"iss\":\"bootstrap\",\"sub\":\"" PSUB "\",\"aud\":\"" PAUD "\","
             "\"jti\":\"j-i\",\"exp\":%lld}",
             NOW + 60);
    refused(prov_token(prov_key, claims), "token has no issue time (iat)");
}

Test(api_auth, provisioner_token_without_jti_is_refused)
{
    snprintf(claims, sizeof(claims),
             "{\"iss\":\"bootstrap\",\"sub\":\"" PSUB "\",\"aud\":\"" PAUD "\","
             "\"iat\":%lld,\"exp\":%lld}",
             NOW, NOW + 60);
    refused(prov_token(prov_key, claims), "token has no valid jti");
}

Test(api_auth, provisioner_jti_longer_than_the_store_allows_is_refused)
{
    char jti[STORE_JTI_MAX + 2];
    memset(jti, 'j', sizeof(jti) - 1);
    jti[sizeof(jti) - 1] = '\0';
    refused(prov_token(prov_key, prov_claims(jti, NOW, NOW + 60, "")), "token has no valid jti");
}

Test(api_auth, provisioner_subject_outside_the_trust_domain_is_refused)
{
    snprintf(claims, sizeof(claims),
             "{\"iss\":\"bootstrap\",\"sub\":\"spiffe://other.org/x\",\"aud\":\"" PAUD "\","
             "\"jti\":\"j-s\",\"iat\":%lld,\"exp\":%lld}",
             NOW, NOW + 60);
    refused(prov_token(prov_key, claims), "token subject is not a SPIFFE ID in the trust domain");
}

Test(api_auth, provisioner_bad_dns_entry_is_refused)
{
    refused(prov_token(prov_key, prov_claims("j-d", NOW, NOW + 60, ",\"dns\":[\"ok\",\"*.x\"]")),
            "claim dns[1] is not a valid DNS name");
}

Test(api_auth, provisioner_dns_that_is_not_an_array_is_refused)
{
    refused(prov_token(prov_key, prov_claims("j-e", NOW, NOW + 60, ",\"dns\":\"a.example\"")),
            "claim dns must be an array of at most 32 names");
}

/* ---- Replay ---- */

Test(api_auth, authenticating_hands_over_the_jti_without_spending_it)
{
    char *t = prov_token(prov_key, prov_claims("carried", NOW, NOW + 60, ""));
    cr_assert_eq(bearer(t), API_OK, "%s", err.msg);
    cr_assert_eq(who.jti_len, 7);
    cr_assert_eq(memcmp(who.jti, "carried", 7), 0);
    cr_assert_eq(who.jti_expires_at, NOW + 60 + API_AUTH_SKEW_S, "kept while it could be accepted");
    /* Only the issuance's commit spends it, so a failed issuance does not. */
    cr_assert_eq(bearer(t), API_OK, "%s", err.msg);
    cr_assert_eq(store_jti_check(st, "carried", 7, who.jti_expires_at), STORE_OK);
    free(t);
    /* A Kubernetes token carries none. */
    t = k8s_token(rsa_key, "RS256", "rsa1", k8s_default());
    cr_assert_eq(bearer(t), API_OK, "%s", err.msg);
    cr_assert_eq(who.jti_len, 0);
    free(t);
}

Test(api_auth, replayed_jti_is_refused)
{
    char *t = prov_token(prov_key, prov_claims("once", NOW, NOW + 60, ""));
    cr_assert_eq(bearer(t), API_OK, "%s", err.msg);
    spend();
    enum api_err rc = bearer(t);
    cr_assert_eq(rc, API_ERR_UNAUTHENTICATED);
    cr_assert_str_eq(err.msg, "token already used");
    /* Another token with the same jti is a replay too. */
    refused(prov_token(prov_key, prov_claims("once", NOW + 1, NOW + 61, "")), "token already used");
    free(t);
}

Test(api_auth, replayed_jti_is_refused_after_the_store_is_reopened)
{
    char *t = prov_token(prov_key, prov_claims("durable", NOW, NOW + 60, ""));
    cr_assert_eq(bearer(t), API_OK, "%s", err.msg);
    spend();
    api_auth_free(auth);
    store_close(st);
    open_store();
    cr_assert_eq(api_auth_new(&cfg, st, &auth, &err), API_OK, "%s", err.msg);
    refused(t, "token already used");
}

Test(api_auth, refused_provisioner_token_does_not_spend_its_jti)
{
    refused(prov_token(prov_key, prov_claims("spare", NOW, NOW + 60, ",\"dns\":[\"-\"]")),
            "claim dns[0] is not a valid DNS name");
    char *t = prov_token(prov_key, prov_claims("spare", NOW, NOW + 60, ""));
    cr_assert_eq(bearer(t), API_OK, "%s", err.msg);
    free(t);
}

/* ---- Shape ---- */

Test(api_auth, garbage_tokens_are_refused_before_parsing)
{
    refused(strdup(""), "missing token");
    refused(strdup("not a token"), "malformed token: not base64url");
    refused(strdup("abc.def"), "malformed token: not three segments");
    refused(strdup("a.b.c.d"), "malformed token: not three segments");
    refused(strdup("..sig"), "malformed token: empty segment");
    refused(strdup("e30.e30.=="), "malformed token: not base64url");
    refused(strdup("Zm9v.e30.c2ln"), "malformed token: header is not JSON");
    refused(strdup("W10.e30.c2ln"), "malformed token: header is not an object");
    refused(strdup("e30xx.e30.c2ln"), "malformed token: header is not base64url");
    refused(strdup("e30.e30.c2ln"), "malformed token: header has no alg");
}

Test(api_auth, oversize_token_is_refused)
{
    size_t len = API_MAX_TOKEN_LEN + 1;
    char *t = malloc(len + 1);
    memset(t, 'A', len);
    t[10] = '.';
    t[20] = '.';
    t[len] = '\0';
    refused(t, "token longer than 8192 bytes");
}

Test(api_auth, token_with_an_embedded_nul_is_refused)
{
    char *t = k8s_token(rsa_key, "RS256", "rsa1", k8s_default());
    size_t len = strlen(t);
    t[len / 2] = '\0';
    enum api_err rc = api_auth_bearer(auth, t, len, NOW, &who, &err);
    free(t);
    cr_assert_eq(rc, API_ERR_UNAUTHENTICATED);
}

/* ---- Set-up ---- */

Test(api_auth, rsa_provisioner_key_is_refused_at_start_up)
{
    struct api_auth *a = NULL;
    cr_assert_eq(remove(cfg.provisioners[0].public_key), 0);
    cr_assert(testjwt_pubkey_write(cfg.provisioners[0].public_key, rsa_key));
    cr_assert_eq(api_auth_new(&cfg, st, &a, &err), API_ERR_BAD_REQUEST);
    cr_assert_str_eq(err.msg, "auth.provisioners[0].public_key: provisioner keys must be EC P-256");
    cr_assert_null(a);
}

Test(api_auth, provisioners_without_a_store_are_refused)
{
    struct api_auth *a = NULL;
    cr_assert_eq(api_auth_new(&cfg, NULL, &a, &err), API_ERR_INTERNAL);
    cr_assert_null(a);
}

Test(api_auth, kubernetes_only_config_needs_no_store_and_knows_no_provisioner)
{
    struct api_auth *a = NULL;
    cfg.num_provisioners = 0;
    cr_assert_eq(api_auth_new(&cfg, NULL, &a, &err), API_OK, "%s", err.msg);
    char *t = prov_token(prov_key, prov_claims("j-k", NOW, NOW + 60, ""));
    enum api_err rc = api_auth_bearer(a, t, strlen(t), NOW, &who, &err);
    free(t);
    api_auth_free(a);
    cr_assert_eq(rc, API_ERR_UNAUTHENTICATED);
    cr_assert_str_eq(err.msg, "unknown issuer");
}

/* ---- Adversarial review: replay races, the token cache, claim edge cases ---- */

#include <pthread.h>

#include <openssl/evp.h>

struct racer {
    const char *token;
    pthread_barrier_t *start;
    enum api_err rc;
    struct api_principal who;
    struct api_error err;
    enum store_err spent;
};

static void *race_one(void *arg)
{
    struct racer *r = arg;
    pthread_barrier_wait(r->start);
    r->rc = api_auth_bearer(auth, r->token, strlen(r->token), NOW, &r->who, &r->err);
    if (r->rc == API_OK) {
        /* What the issuance does next: spend the jti in its commit. */
        r->spent = store_jti_use(st, r->who.jti, r->who.jti_len, r->who.jti_expires_at);
    }
    return NULL;
}

Test(api_auth, one_provisioner_token_used_by_eight_threads_at_once_succeeds_exactly_once)
{
    enum {
        N = 8
    };
    char *t = prov_token(prov_key, prov_claims("race", NOW, NOW + 60, ""));
    pthread_barrier_t start;
    pthread_t th[N];
    struct racer r[N];
    cr_assert_eq(pthread_barrier_init(&start, NULL, N), 0);
    for (int i = 0; i < N; i++) {
        memset(&r[i], 0, sizeof(r[i]));
        r[i].token = t;
        r[i].start = &start;
        cr_assert_eq(pthread_create(&th[i], NULL, race_one, &r[i]), 0);
    }
    int wins = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        if (r[i].rc == API_OK && r[i].spent == STORE_OK) {
            wins++;
            cr_assert_str_eq(r[i].who.spiffe_id, PSUB);
        } else if (r[i].rc == API_OK) {
            cr_assert_eq(r[i].spent, STORE_ERR_REPLAY); /* lost at the commit */
        } else {
            cr_assert_eq(r[i].rc, API_ERR_UNAUTHENTICATED); /* saw it spent already */
            cr_assert_str_eq(r[i].err.msg, "token already used");
        }
    }
    pthread_barrier_destroy(&start);
    free(t);
    cr_assert_eq(wins, 1, "%d threads won the race", wins);
}

/* slot_of is the cache slot api/auth.c files a token under: the first byte of
 * its SHA-256 (mod 256). */
static unsigned slot_of(const char *token)
{
    unsigned char md[32];
    cr_assert_eq(EVP_Digest(token, strlen(token), md, NULL, EVP_sha256(), NULL), 1);
    return md[0];
}

/* k8s_for fills |claims| with a token body for namespace |ns|, service account
 * |sa| and pod |pod| (the pod name only changes the token's bytes). */
static const char *k8s_for(const char *ns, const char *sa, int pod)
{
    snprintf(claims, sizeof(claims),
             "{\"iss\":\"" ISS "\",\"aud\":[\"signet\"],\"exp\":%lld,\"iat\":%lld,"
             "\"kubernetes.io\":{\"namespace\":\"%s\",\"pod\":{\"name\":\"p-%d\"},"
             "\"serviceaccount\":{\"name\":\"%s\",\"uid\":\"1\"}}}",
             NOW + 600, NOW - 5, ns, pod, sa);
    return claims;
}

Test(api_auth, cache_slot_collision_never_returns_another_tokens_identity)
{
    char *a = k8s_token(ec_key, "ES256", "ec1", k8s_for("default", "web", 0));
    char *b = NULL;
    for (int pod = 1; pod < 4096 && b == NULL; pod++) {
        char *c = k8s_token(ec_key, "ES256", "ec1", k8s_for("kube-system", "admin", pod));
        if (slot_of(c) == slot_of(a)) {
            b = c;
        } else {
            free(c);
        }
    }
    cr_assert_not_null(b, "no token found in the same cache slot");
    /* a is cached, then b takes the same slot, then a again, then b again:
     * each answer is the token's own identity. */
    for (int round = 0; round < 2; round++) {
        cr_assert_eq(bearer(a), API_OK, "%s", err.msg);
        cr_assert_str_eq(who.spiffe_id, "spiffe://example.org/ns/default/sa/web");
        cr_assert_eq(bearer(b), API_OK, "%s", err.msg);
        cr_assert_str_eq(who.spiffe_id, "spiffe://example.org/ns/kube-system/sa/admin");
    }
    free(a);
    free(b);
}

Test(api_auth, cached_token_with_another_signature_is_verified_and_refused)
{
    char *t = k8s_token(ec_key, "ES256", "ec1", k8s_default());
    cr_assert_eq(bearer(t), API_OK, "%s", err.msg); /* now cached */
    /* Same header and payload, signature of another key: not a cache hit. */
    char *other = k8s_token(other_ec, "ES256", "ec1", k8s_default());
    char *dot = strrchr(t, '.');
    char *odot = strrchr(other, '.');
    size_t keep = (size_t)(dot - t);
    char *forged = malloc(keep + strlen(odot) + 1);
    memcpy(forged, t, keep);
    memcpy(forged + keep, odot, strlen(odot) + 1);
    free(other);
    refused(forged, "signature invalid");
    /* A prefix of the cached token is not a hit either. */
    enum api_err rc = api_auth_bearer(auth, t, strlen(t) - 1, NOW, &who, &err);
    free(t);
    cr_assert_eq(rc, API_ERR_UNAUTHENTICATED);
}

Test(api_auth, spent_provisioner_token_with_its_signature_re_encoded_is_still_a_replay)
{
    char *t = prov_token(prov_key, prov_claims("reenc", NOW, NOW + 60, ""));
    cr_assert_eq(bearer(t), API_OK, "%s", err.msg);
    spend();
    /* A 64-byte signature is 86 base64url characters; the last one carries 4
     * unused bits. Flipping them gives other bytes for the same signature. */
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t len = strlen(t);
    const char *at = strchr(b64, t[len - 1]);
    cr_assert_not_null(at);
    int idx = (int)(at - b64);
    cr_assert_eq(idx & 0xf, 0, "a canonical encoding has the unused bits clear");
    for (int k = 1; k < 16; k++) {
        char *v = strdup(t);
        v[len - 1] = b64[(idx & ~0xf) | k];
        enum api_err rc = bearer(v);
        free(v);
        cr_assert_eq(rc, API_ERR_UNAUTHENTICATED, "a re-encoded token was accepted");
        cr_assert(strcmp(err.msg, "token already used") == 0 ||
                      strcmp(err.msg, "signature invalid") == 0,
                  "%s", err.msg);
    }
    free(t);
}

Test(api_auth, audience_edge_cases_are_refused)
{
    refused(k8s_token(ec_key, "ES256", "ec1", k8s_claims(ISS, "[]", NOW + 60)),
            "token audience not accepted");
    /* jansson refuses \u0000 without JSON_ALLOW_NUL: the payload is not JSON. */
    refused(k8s_token(ec_key, "ES256", "ec1", k8s_claims(ISS, "\"signet\\u0000x\"", NOW + 60)),
            "malformed token: payload is not JSON");
    refused(k8s_token(ec_key, "ES256", "ec1", k8s_claims(ISS, "[\"SIGNET\"]", NOW + 60)),
            "token audience not accepted");
    refused(k8s_token(ec_key, "ES256", "ec1", k8s_claims(ISS, "[\"signet \"]", NOW + 60)),
            "token audience not accepted");
    refused(k8s_token(ec_key, "ES256", "ec1", k8s_claims(ISS, "[[\"signet\"]]", NOW + 60)),
            "token audience malformed");
    refused(k8s_token(ec_key, "ES256", "ec1", k8s_claims(ISS, "{\"signet\":1}", NOW + 60)),
            "token audience missing or malformed");
    refused(k8s_token(ec_key, "ES256", "ec1",
                      k8s_claims(ISS,
                                 "[\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\","
                                 "\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"signet\"]",
                                 NOW + 60)),
            "token audience missing or malformed");
    /* The Kubernetes audience does not open the provisioner door, nor the reverse. */
    refused(prov_token(prov_key, "{\"iss\":\"bootstrap\",\"sub\":\"" PSUB "\",\"aud\":\"signet\","
                                 "\"jti\":\"aud1\",\"iat\":1900000000,\"exp\":1900000060}"),
            "token audience not accepted");
    refused(k8s_token(ec_key, "ES256", "ec1", k8s_claims(ISS, "\"" PAUD "\"", NOW + 60)),
            "token audience not accepted");
}

Test(api_auth, time_claims_at_the_integer_limits_are_refused)
{
    /* exp far away: the lifetime check refuses it, without overflow. */
    refused(prov_token(prov_key, prov_claims("t1", NOW, 9223372036854775807LL, "")),
            "token lifetime exceeds 1h");
    /* iat at INT64_MIN: exp - iat overflows and is refused. */
    refused(prov_token(prov_key, "{\"iss\":\"bootstrap\",\"sub\":\"" PSUB "\",\"aud\":\"" PAUD
                                 "\",\"jti\":\"t2\",\"iat\":-9223372036854775808,"
                                 "\"exp\":1900000060}"),
            "token lifetime exceeds 1h");
    /* nbf and iat in the past, exp in range, but nbf long before iat. */
    refused(prov_token(prov_key, "{\"iss\":\"bootstrap\",\"sub\":\"" PSUB "\",\"aud\":\"" PAUD
                                 "\",\"jti\":\"t3\",\"iat\":1900000000,\"nbf\":1,"
                                 "\"exp\":1900000060}"),
            "token lifetime exceeds 1h");
    /* Beyond int64: jansson refuses the number, so the payload is not JSON. */
    refused(k8s_token(ec_key, "ES256", "ec1",
                      "{\"iss\":\"" ISS "\",\"aud\":\"signet\",\"exp\":99999999999999999999}"),
            "malformed token: payload is not JSON");
    refused(
        k8s_token(ec_key, "ES256", "ec1", "{\"iss\":\"" ISS "\",\"aud\":\"signet\",\"exp\":1e30}"),
        "claim exp is not an integer");
    refused(k8s_token(ec_key, "ES256", "ec1",
                      "{\"iss\":\"" ISS "\",\"aud\":\"signet\",\"exp\":\"1900000600\"}"),
            "claim exp is not an integer");
    refused(k8s_token(ec_key, "ES256", "ec1",
                      "{\"iss\":\"" ISS "\",\"aud\":\"signet\",\"exp\":-9223372036854775808}"),
            "token expired");
    refused(k8s_token(ec_key, "ES256", "ec1",
                      "{\"iss\":\"" ISS "\",\"aud\":\"signet\",\"exp\":1900000600,"
                      "\"nbf\":9223372036854775807}"),
            "token not yet valid");
    refused(k8s_token(ec_key, "ES256", "ec1",
                      "{\"iss\":\"" ISS "\",\"aud\":\"signet\",\"exp\":1900000600,"
                      "\"iat\":1900000061}"),
            "token issued in the future");
    /* Not yet valid by one second past the skew; valid at the skew's edge. */
    refused(k8s_token(ec_key, "ES256", "ec1",
                      "{\"iss\":\"" ISS "\",\"aud\":\"signet\",\"exp\":1900000600,"
                      "\"nbf\":1900000061}"),
            "token not yet valid");
}

Test(api_auth, provisioner_dns_names_must_be_exact_lower_case_host_names)
{
    static const char *const bad[] = {
        ",\"dns\":[\"WEB.example.org\"]",
        ",\"dns\":[\"web.example.org.\"]",
        ",\"dns\":[\"*.example.org\"]",
        ",\"dns\":[\"web .example.org\"]",
        ",\"dns\":[\"xn--bcher-kva.example\\u00fc\"]",
        ",\"dns\":[\"a..b\"]",
        ",\"dns\":[\"-a.b\"]",
        ",\"dns\":[\"10.0.0.1/8\"]",
        ",\"dns\":[\"\"]",
        ",\"dns\":[1]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char jti[16];
        snprintf(jti, sizeof(jti), "dns%zu", i);
        refused(prov_token(prov_key, prov_claims(jti, NOW, NOW + 60, bad[i])),
                "claim dns[0] is not a valid DNS name");
    }
    refused(prov_token(prov_key,
                       prov_claims("dnsnul", NOW, NOW + 60, ",\"dns\":[\"web\\u0000.evil.com\"]")),
            "malformed token: payload is not JSON");
    /* Punycode (the A-label) is a host name like any other. */
    char *t = prov_token(
        prov_key, prov_claims("dnsok", NOW, NOW + 60, ",\"dns\":[\"xn--bcher-kva.example\"]"));
    cr_assert_eq(bearer(t), API_OK, "%s", err.msg);
    cr_assert_str_eq(who.dns_names[0], "xn--bcher-kva.example");
    free(t);
}

Test(api_auth, provisioner_subject_must_be_an_exact_spiffe_id_of_the_trust_domain)
{
    static const char *const bad[] = {
        "spiffe://Example.org/ns/default/sa/web",
        "SPIFFE://example.org/ns/default/sa/web",
        "spiffe://example.org/ns/default/sa/%77eb",
        "spiffe://example.org/ns/../sa/web",
        "spiffe://example.org:443/ns/default/sa/web",
        "spiffe://user@example.org/x",
        "spiffe://example.org/ns/default/sa/web/",
        "spiffe://example.org",
        "spiffe://example.org.evil.com/x",
        "spiffe://example.org/x?admin",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(claims, sizeof(claims),
                 "{\"iss\":\"bootstrap\",\"sub\":\"%s\",\"aud\":\"" PAUD "\",\"jti\":\"s%zu\","
                 "\"iat\":%lld,\"exp\":%lld}",
                 bad[i], i, NOW, NOW + 60);
        refused(prov_token(prov_key, claims),
                "token subject is not a SPIFFE ID in the trust domain");
    }
    refused(prov_token(prov_key,
                       "{\"iss\":\"bootstrap\",\"sub\":\"spiffe://example.org/a\\u0000b\","
                       "\"aud\":\"" PAUD "\",\"jti\":\"nul\",\"iat\":1900000000,"
                       "\"exp\":1900000060}"),
            "malformed token: payload is not JSON");
}

Test(api_auth, kubernetes_names_cannot_steer_the_spiffe_id_path)
{
    static const char *const ns_sa[][2] = {
        {"default", "../../admin/ops"},
        {"default", "web/../x"},
        {"a/b", "web"},
        {"Default", "web"},
        {"default", "Web"},
        {"..", "web"},
        {"default", ".."},
        {"", "web"},
        {"default", ""},
        {"default", "web%2Fx"},
    };
    for (size_t i = 0; i < sizeof(ns_sa) / sizeof(ns_sa[0]); i++) {
        char *t = k8s_token(ec_key, "ES256", "ec1", k8s_for(ns_sa[i][0], ns_sa[i][1], (int)i));
        enum api_err rc = bearer(t);
        free(t);
        cr_assert_eq(rc, API_ERR_UNAUTHENTICATED, "%s/%s was accepted as %s", ns_sa[i][0],
                     ns_sa[i][1], who.spiffe_id);
    }
}

Test(api_auth, issuer_picks_the_key_and_a_token_cannot_cross_to_the_other_kind)
{
    /* iss says provisioner, signed by a Kubernetes key with its kid. */
    char *t = k8s_token(ec_key, "ES256", "ec1", prov_claims("x1", NOW, NOW + 60, ""));
    refused(t, "signature invalid");
    /* iss says Kubernetes, signed by the provisioner key. */
    refused(k8s_token(prov_key, "ES256", "ec1", k8s_default()), "signature invalid");
    /* A kid naming the RSA key does not make an ES256 token verify with it. */
    refused(k8s_token(ec_key, "ES256", "rsa1", k8s_default()),
            "algorithm ES256 not accepted for this key");
    /* iss compared exactly: a prefix, a suffix or another case is unknown. */
    refused(prov_token(prov_key, "{\"iss\":\"bootstrap \",\"sub\":\"" PSUB "\",\"aud\":\"" PAUD
                                 "\",\"jti\":\"x2\",\"iat\":1900000000,\"exp\":1900000060}"),
            "unknown issuer");
    refused(prov_token(prov_key, "{\"iss\":\"Bootstrap\",\"sub\":\"" PSUB "\",\"aud\":\"" PAUD
                                 "\",\"jti\":\"x3\",\"iat\":1900000000,\"exp\":1900000060}"),
            "unknown issuer");
    refused(prov_token(prov_key,
                       "{\"iss\":\"bootstrap\\u0000x\",\"sub\":\"" PSUB "\",\"aud\":\"" PAUD
                       "\",\"jti\":\"x4\",\"iat\":1900000000,\"exp\":1900000060}"),
            "malformed token: payload is not JSON");
}
