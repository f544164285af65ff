/* public.c: the unauthenticated routes: trust bundles, the intermediate,
 * health, readiness and metrics. None of them waits behind signing. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "internal.h"

enum api_err api_route_bundle(struct api_request *req, struct api_error *err)
{
    enum api_err rc = API_OK;
    size_t len = 0;

    const char *pem = ca_issuer_bundle_pem(api_server_issuer(req->srv), &len);
    ENSURE(api_response_set_bytes(&req->resp, MHD_HTTP_OK, "application/x-pem-file", pem, len),
           API_ERR_INTERNAL, "out of memory");
out:
    return rc;
}

enum api_err api_route_bundle_json(struct api_request *req, struct api_error *err)
{
    enum api_err rc = API_OK;
    size_t len = 0;

    const char *doc = api_server_bundle_json(req->srv, &len);
    ENSURE(api_response_set_bytes(&req->resp, MHD_HTTP_OK, "application/json", doc, len),
           API_ERR_INTERNAL, "out of memory");
out:
    return rc;
}

enum api_err api_route_ca_crt(struct api_request *req, struct api_error *err)
{
    enum api_err rc = API_OK;
    size_t len = 0;

    const unsigned char *der = ca_issuer_cert_der(api_server_issuer(req->srv), &len);
    ENSURE(api_response_set_bytes(&req->resp, MHD_HTTP_OK, "application/pkix-cert", der, len),
           API_ERR_INTERNAL, "out of memory");
out:
    return rc;
}

enum api_err api_route_healthz(struct api_request *req, struct api_error *err)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    enum api_err rc = API_OK;

    ENSURE(api_response_set_bytes(&req->resp, MHD_HTTP_OK, "application/json", ok, sizeof(ok) - 1),
           API_ERR_INTERNAL, "out of memory");
out:
    return rc;
}

enum api_err api_route_readyz(struct api_request *req, struct api_error *err)
{
    static const char ok[] = "{\"status\":\"ready\"}";
    enum api_err rc = API_OK;
    const char *why = NULL;

    ENSURE(api_server_ready(req->srv, api_now(), &why), API_ERR_UNAVAILABLE, "not ready: %s", why);
    ENSURE(api_response_set_bytes(&req->resp, MHD_HTTP_OK, "application/json", ok, sizeof(ok) - 1),
           API_ERR_INTERNAL, "out of memory");
out:
    return rc;
}

enum api_err api_route_metrics(struct api_request *req, struct api_error *err)
{
    enum api_err rc = API_OK;
    struct api_metrics_gauges g;
    size_t len = 0;
    char *text = NULL;

    memset(&g, 0, sizeof(g));
    int64_t now = api_now();
    g.intermediate_expiry_s = ca_issuer_not_after(api_server_issuer(req->srv)) - now;
    struct api_crl *crl = api_server_crl(req->srv);
    int64_t next = api_crl_next_update(crl, API_CRL_DOC_DER);
    int64_t root_next = api_crl_next_update(crl, API_CRL_DOC_ROOT_DER);
    g.has_crl = next > 0;
    g.crl_next_update_s = next - now;
    g.has_root_crl = root_next > 0;
    g.root_crl_next_update_s = root_next - now;
    g.store_ok = store_stats_get(api_server_store(req->srv), &g.store) == STORE_OK;
    api_ocsp_stats_get(api_server_ocsp(req->srv), &g.ocsp);
    text = api_metrics_render(api_server_metrics(req->srv), &g, &len);
    ENSURE(text != NULL, API_ERR_INTERNAL, "out of memory");
    ENSURE(api_response_set_bytes(&req->resp, MHD_HTTP_OK, "text/plain; version=0.0.4", text, len),
           API_ERR_INTERNAL, "out of memory");
out:
    free(text);
    return rc;
}

/* ---- The SPIFFE trust bundle (SPIFFE Trust Domain and Bundle, section 4) ---- */

/* b64 encodes |len| bytes as base64, or base64url without padding when |url|
 * (RFC 7518 6: JWK parameters). Returns a jansson string or NULL. */
static json_t *b64(const unsigned char *data, size_t len, int url)
{
    json_t *s = NULL;
    size_t cap = 4 * ((len + 2) / 3) + 1;
    unsigned char *out = malloc(cap);

    if (out == NULL || len > 1024 * 1024) {
        free(out);
        return NULL;
    }
    int n = EVP_EncodeBlock(out, data, (int)len);
    if (n >= 0) {
        size_t m = (size_t)n;
        if (url) {
            while (m > 0 && out[m - 1] == '=') {
                m--;
            }
            for (size_t i = 0; i < m; i++) {
                out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
            }
        }
        s = json_stringn((const char *)out, m);
    }
    free(out);
    return s;
}

/* bn_param returns the big-endian bytes of |name| of |key|, left-padded to
 * |pad| bytes (0: minimal), as a base64url string. */
static json_t *bn_param(const EVP_PKEY *key, const char *name, size_t pad)
{
    BIGNUM *bn = NULL;
    json_t *s = NULL;

    if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) {
        return NULL;
    }
    size_t len = (size_t)BN_num_bytes(bn);
    if (pad < len) {
        pad = len;
    }
    unsigned char *buf = malloc(pad > 0 ? pad : 1);
    if (buf != NULL && BN_bn2binpad(bn, buf, (int)pad) == (int)pad) {
        s = b64(buf, pad, 1);
    }
    free(buf);
    BN_free(bn);
    return s;
}

/* jwk fills |jwk| with the public parameters of |key| (RFC 7518 6, RFC 8037). */
static enum api_err jwk_params(const EVP_PKEY *key, json_t *jwk, struct api_error *err)
{
    enum api_err rc = API_OK;
    char group[64] = "";
    size_t group_len = 0;

    if (EVP_PKEY_is_a(key, "EC")) {
        ENSURE(EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                              &group_len) == 1,
               API_ERR_INTERNAL, "root key has no curve");
        const char *crv = strcmp(group, "prime256v1") == 0  ? "P-256"
                          : strcmp(group, "secp384r1") == 0 ? "P-384"
                          : strcmp(group, "secp521r1") == 0 ? "P-521"
                                                            : NULL;
        ENSURE(crv != NULL, API_ERR_INTERNAL, "root key curve has no JWK name");
        size_t size = (size_t)(EVP_PKEY_get_bits(key) + 7) / 8;
        json_t *x = bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, size);
        json_t *y = bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, size);
        int ok = x != NULL && y != NULL;
        json_object_set_new(jwk, "kty", json_string("EC"));
        json_object_set_new(jwk, "crv", json_string(crv));
        json_object_set_new(jwk, "x", x != NULL ? x : json_null());
        json_object_set_new(jwk, "y", y != NULL ? y : json_null());
        ENSURE(ok, API_ERR_INTERNAL, "cannot encode root key");
    } else if (EVP_PKEY_is_a(key, "RSA")) {
        json_t *n = bn_param(key, OSSL_PKEY_PARAM_RSA_N, 0);
        json_t *e = bn_param(key, OSSL_PKEY_PARAM_RSA_E, 0);
        int ok = n != NULL && e != NULL;
        json_object_set_new(jwk, "kty", json_string("RSA"));
        json_object_set_new(jwk, "n", n != NULL ? n : json_null());
        json_object_set_new(jwk, "e", e != NULL ? e : json_null());
        ENSURE(ok, API_ERR_INTERNAL, "cannot encode root key");
    } else if (EVP_PKEY_is_a(key, "ED25519")) {
        unsigned char raw[32];
        size_t raw_len = sizeof(raw);
        ENSURE(EVP_PKEY_get_raw_public_key(key, raw, &raw_len) == 1, API_ERR_INTERNAL,
               "cannot encode root key");
        json_object_set_new(jwk, "kty", json_string("OKP"));
        json_object_set_new(jwk, "crv", json_string("Ed25519"));
        json_t *x = b64(raw, raw_len, 1);
        ENSURE(x != NULL, API_ERR_INTERNAL, "out of memory");
        json_object_set_new(jwk, "x", x);
    } else {
        rc = api_fail(err, API_ERR_INTERNAL, "root key type has no JWK form");
    }
out:
    return rc;
}

/* root_jwk builds the JWK of one root: its public key, use x509-svid and the
 * certificate as its only x5c; no kid. */
static enum api_err root_jwk(const unsigned char *der, size_t der_len, json_t **out,
                             int64_t *out_not_before, struct api_error *err)
{
    enum api_err rc = API_OK;
    X509 *cert = NULL;
    json_t *jwk = NULL;
    json_t *x5c = NULL;
    const unsigned char *p = der;

    ENSURE(der_len <= 1024 * 1024, API_ERR_INTERNAL, "root too large");
    cert = d2i_X509(NULL, &p, (long)der_len);
    ENSURE(cert != NULL && p == der + der_len, API_ERR_INTERNAL, "root does not decode");
    EVP_PKEY *key = X509_get0_pubkey(cert); /* borrowed */
    ENSURE(key != NULL, API_ERR_INTERNAL, "root has no key");
    jwk = json_object();
    ENSURE(jwk != NULL, API_ERR_INTERNAL, "out of memory");
    TRY(jwk_params(key, jwk, err));
    json_object_set_new(jwk, "use", json_string("x509-svid"));
    x5c = json_array();
    ENSURE(x5c != NULL && json_array_append_new(x5c, b64(der, der_len, 0)) == 0, API_ERR_INTERNAL,
           "out of memory");
    json_object_set(jwk, "x5c", x5c);
    time_t nb = 0;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (ASN1_TIME_to_tm(X509_get0_notBefore(cert), &tm) == 1) {
        nb = timegm(&tm);
    }
    *out_not_before = (int64_t)nb;
    *out = jwk;
    jwk = NULL;
out:
    json_decref(x5c);
    json_decref(jwk);
    X509_free(cert);
    return rc;
}

enum api_err api_bundle_json_build(const struct ca_issuer *issuer, int64_t refresh_hint_s,
                                   char **out, size_t *out_len, struct api_error *err)
{
    enum api_err rc = API_OK;
    json_t *doc = NULL;
    json_t *keys = NULL;
    json_t *jwk = NULL;
    int64_t sequence = 0;

    keys = json_array();
    ENSURE(keys != NULL, API_ERR_INTERNAL, "out of memory");
    for (size_t i = 0; i < ca_issuer_num_roots(issuer); i++) {
        size_t der_len = 0;
        int64_t nb = 0;
        const unsigned char *der = ca_issuer_root_der(issuer, i, &der_len);
        TRY(root_jwk(der, der_len, &jwk, &nb, err));
        ENSURE(json_array_append_new(keys, jwk) == 0, API_ERR_INTERNAL, "out of memory");
        jwk = NULL;
        /* The sequence grows when a newer root joins the bundle. */
        if (nb > sequence) {
            sequence = nb;
        }
    }
    doc = json_pack("{s:O, s:I, s:I}", "keys", keys, "spiffe_sequence", (json_int_t)sequence,
                    "spiffe_refresh_hint", (json_int_t)refresh_hint_s);
    ENSURE(doc != NULL, API_ERR_INTERNAL, "out of memory");
    *out = json_dumps(doc, JSON_COMPACT);
    ENSURE(*out != NULL, API_ERR_INTERNAL, "out of memory");
    *out_len = strlen(*out);
out:
    json_decref(jwk);
    json_decref(keys);
    json_decref(doc);
    return rc;
}
