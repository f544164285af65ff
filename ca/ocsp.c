/* ocsp.c: the OCSP responder core (RFC 6960, RFC 5019 profile): parse a
 * request, POST (DER) or GET (base64), and sign a response for one CertID.
 * The issuing CA signs its own responses (RFC 6960 4.2.2.2: "the key used
 * to sign the response MUST belong to ... the CA who issued the certificate in
 * question"), so there is no delegated responder certificate to manage. */
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>

#include "internal.h"

#define NUM_HASHES       CA_OCSP_NUM_HASHES
#define MAX_VALIDITY_S   ((int64_t)7 * 24 * 3600)
#define MAX_UNIX_SECONDS ((int64_t)253402300799) /* 9999-12-31T23:59:59Z */

struct ca_ocsp_responder {
    X509 *issuer;
    EVP_PKEY *key;
    const EVP_MD *md; /* NULL for Ed25519 */
    int64_t validity_s;
    /* RFC 6960 4.1.1: issuerNameHash is "the hash of the issuer's
     * distinguished name", issuerKeyHash "the hash of the issuer's public key
     * ... (excluding the tag and length fields)", per enum ca_ocsp_hash. */
    unsigned char name_hash[NUM_HASHES][EVP_MAX_MD_SIZE];
    unsigned char key_hash[NUM_HASHES][EVP_MAX_MD_SIZE];
    unsigned int hash_len[NUM_HASHES];
};

/* hash_nids maps enum ca_ocsp_hash to the CertID's hashAlgorithm. */
static const int hash_nids[NUM_HASHES] = {NID_sha1, NID_sha256, NID_sha384, NID_sha512};

static const EVP_MD *hash_md(enum ca_ocsp_hash hash)
{
    return EVP_get_digestbynid(hash_nids[hash]);
}

enum ca_err ca_ocsp_responder_new(X509 *issuer, EVP_PKEY *issuer_key, int64_t validity_s,
                                  struct ca_ocsp_responder **out, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    struct ca_ocsp_responder *r = NULL;

    ENSURE(issuer != NULL && issuer_key != NULL && out != NULL, CA_ERR_INVALID_ARGUMENT,
           "missing issuer or key");
    ENSURE(validity_s >= 1 && validity_s <= MAX_VALIDITY_S, CA_ERR_INVALID_ARGUMENT,
           "OCSP validity must be 1 s .. 7 days");
    r = OPENSSL_zalloc(sizeof(*r));
    ENSURE(r != NULL, CA_ERR_INTERNAL, "out of memory");
    TRY(ca_sign_digest(issuer_key, &r->md, err));
    OSSL(X509_check_private_key(issuer, issuer_key), CA_ERR_KEY_MISMATCH,
         "the key does not match the issuer certificate");
    for (int h = 0; h < NUM_HASHES; h++) {
        unsigned int name_len = 0;
        unsigned int key_len = 0;
        const EVP_MD *md = hash_md((enum ca_ocsp_hash)h);
        OSSL(X509_NAME_digest(X509_get_subject_name(issuer), md, r->name_hash[h], &name_len),
             CA_ERR_INTERNAL, "cannot hash the issuer name");
        OSSL(X509_pubkey_digest(issuer, md, r->key_hash[h], &key_len), CA_ERR_INTERNAL,
             "cannot hash the issuer key");
        ENSURE(name_len == key_len, CA_ERR_INTERNAL, "hash lengths differ");
        r->hash_len[h] = name_len;
    }
    OSSL(X509_up_ref(issuer), CA_ERR_INTERNAL, "cannot reference the issuer");
    r->issuer = issuer;
    OSSL(EVP_PKEY_up_ref(issuer_key), CA_ERR_INTERNAL, "cannot reference the key");
    r->key = issuer_key;
    r->validity_s = validity_s;
    *out = r;
    r = NULL;
out:
    ca_ocsp_responder_free(r);
    return rc;
}

void ca_ocsp_responder_free(struct ca_ocsp_responder *responder)
{
    if (responder == NULL) {
        return;
    }
    EVP_PKEY_free(responder->key); /* OpenSSL cleanses private key material */
    X509_free(responder->issuer);
    OPENSSL_free(responder);
}

int64_t ca_ocsp_responder_validity(const struct ca_ocsp_responder *responder)
{
    return responder->validity_s;
}

static void serial_to_hex(const unsigned char *serial, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (i > 0 || serial[i] >= 0x10) {
            out[n++] = digits[serial[i] >> 4];
        }
        out[n++] = digits[serial[i] & 0x0f];
    }
    out[n] = '\0';
}

/* read_serial takes the CertID's serial: RFC 5280 4.1.2.2 makes serials
 * positive and at most 20 octets, so nothing else can name a certificate. */
static enum ca_err read_serial(const ASN1_INTEGER *serial, struct ca_ocsp_request *out,
                               struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);

    ENSURE(bn != NULL, CA_ERR_INVALID_OCSP_REQUEST, "unreadable serial");
    ENSURE(!BN_is_negative(bn) && !BN_is_zero(bn), CA_ERR_INVALID_OCSP_REQUEST,
           "the serial is not positive");
    ENSURE(BN_num_bytes(bn) <= CA_MAX_SERIAL_LEN, CA_ERR_INVALID_OCSP_REQUEST,
           "the serial is longer than %d bytes", CA_MAX_SERIAL_LEN);
    out->serial_len = (size_t)BN_bn2bin(bn, out->serial);
    serial_to_hex(out->serial, out->serial_len, out->serial_hex);
out:
    BN_free(bn);
    return rc;
}

/* match_issuer sets out->for_us when the CertID's hash algorithm is one we
 * precomputed and both hashes are those of our issuer. */
static void match_issuer(const struct ca_ocsp_responder *r, OCSP_CERTID *cid,
                         struct ca_ocsp_request *out)
{
    ASN1_OCTET_STRING *name_hash = NULL;
    ASN1_OCTET_STRING *key_hash = NULL;
    ASN1_OBJECT *alg = NULL;

    out->for_us = 0;
    if (OCSP_id_get0_info(&name_hash, &alg, &key_hash, NULL, cid) != 1) {
        return;
    }
    int nid = OBJ_obj2nid(alg);
    int h = 0;
    while (h < NUM_HASHES && hash_nids[h] != nid) {
        h++;
    }
    if (h == NUM_HASHES) {
        return;
    }
    out->hash = (enum ca_ocsp_hash)h;
    unsigned int len = r->hash_len[out->hash];
    if ((unsigned int)ASN1_STRING_length(name_hash) != len ||
        (unsigned int)ASN1_STRING_length(key_hash) != len) {
        return;
    }
    out->for_us =
        CRYPTO_memcmp(ASN1_STRING_get0_data(name_hash), r->name_hash[out->hash], len) == 0 &&
        CRYPTO_memcmp(ASN1_STRING_get0_data(key_hash), r->key_hash[out->hash], len) == 0;
}

/* read_nonce copies the nonce, if any. RFC 8954 2.1: "Nonce ::= OCTET
 * STRING(SIZE(1..32))", and a responder receiving a longer one "MUST reject
 * ... with a malformedRequest". */
static enum ca_err read_nonce(OCSP_REQUEST *req, struct ca_ocsp_request *out, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    ASN1_OCTET_STRING *nonce = NULL;

    out->nonce_len = 0;
    int idx = OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1);
    if (idx < 0) {
        return CA_OK;
    }
    ENSURE(OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, idx) < 0,
           CA_ERR_INVALID_OCSP_REQUEST, "more than one nonce");
    const ASN1_OCTET_STRING *value = X509_EXTENSION_get_data(OCSP_REQUEST_get_ext(req, idx));
    ENSURE(value != NULL, CA_ERR_INVALID_OCSP_REQUEST, "unreadable nonce");
    const unsigned char *p = ASN1_STRING_get0_data(value);
    long len = ASN1_STRING_length(value);
    nonce = d2i_ASN1_OCTET_STRING(NULL, &p, len);
    ENSURE(nonce != NULL && p == ASN1_STRING_get0_data(value) + len, CA_ERR_INVALID_OCSP_REQUEST,
           "the nonce is not one OCTET STRING");
    int nonce_len = ASN1_STRING_length(nonce);
    ENSURE(nonce_len >= 1 && nonce_len <= CA_MAX_OCSP_NONCE_LEN, CA_ERR_INVALID_OCSP_REQUEST,
           "the nonce must be 1..%d bytes", CA_MAX_OCSP_NONCE_LEN);
    memcpy(out->nonce, ASN1_STRING_get0_data(nonce), (size_t)nonce_len);
    out->nonce_len = (size_t)nonce_len;
out:
    ASN1_OCTET_STRING_free(nonce);
    return rc;
}

/* no_unknown_critical refuses a request carrying a critical extension we do
 * not understand, in the request or in its one Request. RFC 6960 4.4:
 * "Unrecognized extensions MUST be ignored (unless they have the critical
 * flag set and are not understood)". The nonce is the one we understand. */
static enum ca_err no_unknown_critical(OCSP_REQUEST *req, OCSP_ONEREQ *one, struct ca_error *err)
{
    enum ca_err rc = CA_OK;

    for (int i = 0; i < OCSP_REQUEST_get_ext_count(req); i++) {
        X509_EXTENSION *ext = OCSP_REQUEST_get_ext(req, i);
        ENSURE(!X509_EXTENSION_get_critical(ext) ||
                   OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == NID_id_pkix_OCSP_Nonce,
               CA_ERR_INVALID_OCSP_REQUEST, "an unrecognized critical request extension");
    }
    for (int i = 0; i < OCSP_ONEREQ_get_ext_count(one); i++) {
        ENSURE(!X509_EXTENSION_get_critical(OCSP_ONEREQ_get_ext(one, i)),
               CA_ERR_INVALID_OCSP_REQUEST, "an unrecognized critical singleRequestExtension");
    }
out:
    return rc;
}

enum ca_err ca_ocsp_request_parse(const struct ca_ocsp_responder *responder,
                                  const unsigned char *der, size_t der_len,
                                  struct ca_ocsp_request *out, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    OCSP_REQUEST *req = NULL;
    struct ca_ocsp_request parsed;

    memset(&parsed, 0, sizeof(parsed));
    ENSURE(responder != NULL && out != NULL, CA_ERR_INVALID_ARGUMENT, "missing responder");
    ENSURE(der != NULL && der_len > 0 && der_len <= CA_MAX_OCSP_REQUEST_LEN,
           CA_ERR_INVALID_OCSP_REQUEST, "an OCSP request is 1..%d bytes", CA_MAX_OCSP_REQUEST_LEN);
    const unsigned char *p = der;
    req = d2i_OCSP_REQUEST(NULL, &p, (long)der_len); /* length bounded above */
    ENSURE(req != NULL, CA_ERR_INVALID_OCSP_REQUEST, "not a DER OCSP request");
    ENSURE(p == der + der_len, CA_ERR_INVALID_OCSP_REQUEST, "bytes after the OCSP request");
    /* RFC 5019 2.1.1: "OCSPRequests conformant to this profile MUST include
     * only one Request in the OCSPRequest.RequestList structure." */
    ENSURE(OCSP_request_onereq_count(req) == 1, CA_ERR_INVALID_OCSP_REQUEST,
           "an OCSP request must hold exactly one CertID");
    OCSP_ONEREQ *one = OCSP_request_onereq_get0(req, 0);
    OCSP_CERTID *cid = OCSP_onereq_get0_id(one);
    ASN1_INTEGER *serial = NULL;
    OSSL(OCSP_id_get0_info(NULL, NULL, NULL, &serial, cid), CA_ERR_INVALID_OCSP_REQUEST,
         "unreadable CertID");
    TRY(read_serial(serial, &parsed, err));
    TRY(read_nonce(req, &parsed, err));
    TRY(no_unknown_critical(req, one, err));
    match_issuer(responder, cid, &parsed);
    *out = parsed;
out:
    ERR_clear_error(); /* a failed d2i leaves reasons we do not report */
    OCSP_REQUEST_free(req);
    return rc;
}

/* url_unescape maps the three escapes RFC 6960 A.1's base64 may need. */
static int url_unescape(char hi, char lo)
{
    if (hi == '2' && (lo == 'B' || lo == 'b')) {
        return '+';
    }
    if (hi == '2' && (lo == 'F' || lo == 'f')) {
        return '/';
    }
    if (hi == '3' && (lo == 'D' || lo == 'd')) {
        return '=';
    }
    return -1;
}

static int is_base64(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/' || c == '=';
}

enum ca_err ca_ocsp_request_from_base64(const struct ca_ocsp_responder *responder, const char *b64,
                                        size_t b64_len, struct ca_ocsp_request *out,
                                        struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    unsigned char *text = NULL;
    unsigned char *der = NULL;
    EVP_ENCODE_CTX *ctx = NULL;

    ENSURE(b64 != NULL && b64_len > 0 && b64_len <= (size_t)CA_MAX_OCSP_BASE64_LEN,
           CA_ERR_INVALID_OCSP_REQUEST, "a GET OCSP request is 1..%d characters",
           CA_MAX_OCSP_BASE64_LEN);
    text = OPENSSL_malloc(b64_len);
    ENSURE(text != NULL, CA_ERR_INTERNAL, "out of memory");
    size_t text_len = 0;
    for (size_t i = 0; i < b64_len; i++) {
        int c = (unsigned char)b64[i];
        if (c == '%') {
            ENSURE(b64_len - i > 2, CA_ERR_INVALID_OCSP_REQUEST, "truncated %%-escape");
            c = url_unescape(b64[i + 1], b64[i + 2]);
            i += 2;
        }
        ENSURE(is_base64(c), CA_ERR_INVALID_OCSP_REQUEST,
               "not base64 (only %%2B, %%2F and %%3D may be escaped)");
        text[text_len++] = (unsigned char)c;
    }
    ENSURE(text_len % 4 == 0, CA_ERR_INVALID_OCSP_REQUEST, "base64 must be padded");
    der = OPENSSL_malloc(text_len / 4 * 3 + 1);
    ctx = EVP_ENCODE_CTX_new();
    ENSURE(der != NULL && ctx != NULL, CA_ERR_INTERNAL, "out of memory");
    EVP_DecodeInit(ctx);
    int len = 0;
    int final_len = 0;
    ENSURE(EVP_DecodeUpdate(ctx, der, &len, text, (int)text_len) >= 0, /* bounded above */
           CA_ERR_INVALID_OCSP_REQUEST, "bad base64");
    OSSL(EVP_DecodeFinal(ctx, der + len, &final_len), CA_ERR_INVALID_OCSP_REQUEST, "bad base64");
    TRY(ca_ocsp_request_parse(responder, der, (size_t)len + (size_t)final_len, out, err));
out:
    EVP_ENCODE_CTX_free(ctx);
    OPENSSL_free(der);
    OPENSSL_free(text);
    return rc;
}

static enum ca_err check_build_args(const struct ca_ocsp_request *req,
                                    const struct ca_ocsp_status *status, struct ca_error *err)
{
    enum ca_err rc = CA_OK;

    ENSURE(req->for_us == 1, CA_ERR_INVALID_ARGUMENT,
           "the request is for another issuer: answer unauthorized");
    ENSURE((unsigned)req->hash < NUM_HASHES, CA_ERR_INVALID_ARGUMENT, "unknown CertID hash");
    ENSURE(req->serial_len >= 1 && req->serial_len <= CA_MAX_SERIAL_LEN, CA_ERR_INVALID_ARGUMENT,
           "a serial is 1..%d bytes", CA_MAX_SERIAL_LEN);
    ENSURE(req->nonce_len <= CA_MAX_OCSP_NONCE_LEN, CA_ERR_INVALID_ARGUMENT,
           "a nonce is at most %d bytes", CA_MAX_OCSP_NONCE_LEN);
    ENSURE(status->status == CA_OCSP_GOOD || status->status == CA_OCSP_REVOKED ||
               status->status == CA_OCSP_UNKNOWN,
           CA_ERR_INVALID_ARGUMENT, "unknown certificate status");
    ENSURE(status->status != CA_OCSP_REVOKED || ca_crl_reason_name(status->reason) != NULL,
           CA_ERR_INVALID_ARGUMENT, "%d is not a CRLReason code", (int)status->reason);
out:
    return rc;
}

/* make_certid rebuilds the CertID from the serial and hash alone, so that a
 * response can be signed ahead of any request (RFC 5019 caching). */
static enum ca_err make_certid(const struct ca_ocsp_responder *r, const struct ca_ocsp_request *req,
                               OCSP_CERTID **out_cid, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    BIGNUM *bn = NULL;
    ASN1_INTEGER *serial = NULL;

    bn = BN_bin2bn(req->serial, (int)req->serial_len, NULL); /* at most 20 bytes */
    ENSURE(bn != NULL, CA_ERR_INTERNAL, "out of memory");
    ENSURE(!BN_is_zero(bn), CA_ERR_INVALID_ARGUMENT, "a serial is positive, not zero");
    serial = BN_to_ASN1_INTEGER(bn, NULL);
    ENSURE(serial != NULL, CA_ERR_INTERNAL, "out of memory");
    *out_cid = OCSP_cert_id_new(hash_md(req->hash), X509_get_subject_name(r->issuer),
                                X509_get0_pubkey_bitstr(r->issuer), serial);
    ENSURE(*out_cid != NULL, CA_ERR_INTERNAL, "cannot build the CertID");
out:
    ASN1_INTEGER_free(serial);
    BN_free(bn);
    return rc;
}

enum ca_err ca_ocsp_response_build(const struct ca_ocsp_responder *responder,
                                   const struct ca_ocsp_request *req,
                                   const struct ca_ocsp_status *status, int64_t now,
                                   unsigned char **out_der, size_t *out_der_len,
                                   struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    OCSP_CERTID *cid = NULL;
    OCSP_BASICRESP *basic = NULL;
    OCSP_RESPONSE *resp = NULL;
    ASN1_TIME *this_update = NULL;
    ASN1_TIME *next_update = NULL;
    ASN1_TIME *revoked_at = NULL;
    unsigned char *der = NULL;

    ENSURE(responder != NULL && req != NULL && status != NULL && out_der != NULL &&
               out_der_len != NULL,
           CA_ERR_INVALID_ARGUMENT, "missing argument");
    TRY(check_build_args(req, status, err));
    ENSURE(now >= 0 && now <= MAX_UNIX_SECONDS - responder->validity_s, CA_ERR_INVALID_ARGUMENT,
           "time out of range");
    TRY(make_certid(responder, req, &cid, err));
    /* RFC 5019 2.2.4: thisUpdate is when the status was known to be correct,
     * nextUpdate when newer information will be available. */
    this_update = ASN1_TIME_set(NULL, (time_t)now);
    next_update = ASN1_TIME_set(NULL, (time_t)(now + responder->validity_s));
    basic = OCSP_BASICRESP_new();
    ENSURE(this_update != NULL && next_update != NULL && basic != NULL, CA_ERR_INTERNAL,
           "out of memory");
    int reason = OCSP_REVOKED_STATUS_NOSTATUS; /* unspecified: no revocationReason */
    if (status->status == CA_OCSP_REVOKED) {
        ENSURE(status->revoked_at >= 0 && status->revoked_at <= MAX_UNIX_SECONDS,
               CA_ERR_INVALID_ARGUMENT, "revocation time out of range");
        revoked_at = ASN1_TIME_set(NULL, (time_t)status->revoked_at);
        ENSURE(revoked_at != NULL, CA_ERR_INTERNAL, "out of memory");
        if (status->reason != CA_REASON_UNSPECIFIED) {
            reason = (int)status->reason;
        }
    }
    ENSURE(OCSP_basic_add1_status(basic, cid, (int)status->status, reason, revoked_at, this_update,
                                  next_update) != NULL,
           CA_ERR_INTERNAL, "cannot add the certificate status");
    if (req->nonce_len > 0) {
        /* RFC 8954 2.1: the response's nonce "MUST be the same" as the request's. */
        unsigned char nonce[CA_MAX_OCSP_NONCE_LEN];
        memcpy(nonce, req->nonce, req->nonce_len); /* OpenSSL takes a non-const pointer */
        OSSL(OCSP_basic_add1_nonce(basic, nonce, (int)req->nonce_len), CA_ERR_INTERNAL,
             "cannot add the nonce");
    }
    OSSL(OCSP_basic_sign(basic, responder->issuer, responder->key, responder->md, NULL,
                         OCSP_NOCERTS | OCSP_RESPID_KEY),
         CA_ERR_INTERNAL, "cannot sign the OCSP response");
    resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, basic);
    ENSURE(resp != NULL, CA_ERR_INTERNAL, "out of memory");
    int len = i2d_OCSP_RESPONSE(resp, &der);
    ENSURE(len > 0, CA_ERR_INTERNAL, "cannot encode the OCSP response");
    *out_der = der;
    *out_der_len = (size_t)len;
    der = NULL;
out:
    ERR_clear_error();
    OPENSSL_free(der);
    OCSP_RESPONSE_free(resp);
    OCSP_BASICRESP_free(basic);
    ASN1_TIME_free(revoked_at);
    ASN1_TIME_free(next_update);
    ASN1_TIME_free(this_update);
    OCSP_CERTID_free(cid);
    return rc;
}

enum ca_err ca_ocsp_error_response(enum ca_ocsp_error_status status, unsigned char **out_der,
                                   size_t *out_der_len, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    OCSP_RESPONSE *resp = NULL;
    unsigned char *der = NULL;

    ENSURE(status == CA_OCSP_MALFORMED_REQUEST || status == CA_OCSP_INTERNAL_ERROR ||
               status == CA_OCSP_TRY_LATER || status == CA_OCSP_UNAUTHORIZED,
           CA_ERR_INVALID_ARGUMENT, "not an OCSP error status");
    resp = OCSP_response_create((int)status, NULL);
    ENSURE(resp != NULL, CA_ERR_INTERNAL, "out of memory");
    int len = i2d_OCSP_RESPONSE(resp, &der);
    ENSURE(len > 0, CA_ERR_INTERNAL, "cannot encode the OCSP response");
    *out_der = der;
    *out_der_len = (size_t)len;
    der = NULL;
out:
    OPENSSL_free(der);
    OCSP_RESPONSE_free(resp);
    return rc;
}
