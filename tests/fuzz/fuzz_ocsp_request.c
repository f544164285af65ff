/* fuzz_ocsp_request.c: the OCSP request parsers (ca/ocsp.c), fed as DER (POST)
 * and as base64 (GET). A request that parses and names our issuer is answered,
 * so the response builder sees every CertID and nonce the parser lets through.
 * The corpus (tests/fuzz/corpus/ocsp_request/) holds requests made with
 * `openssl ocsp -issuer int.crt -serial 0x1001 [-no_nonce] [-sha256] -reqout F`
 * (two -serial for two_certids.der), their base64 (`openssl base64 -A`, and
 * with + / = URL-encoded), and copies with a byte cut or appended. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca.h"

/* The issuer is made at the first call; the corpus's CertIDs name another
 * issuer, so answer() is called whatever for_us says. */
static struct ca_ocsp_responder *responder;

static void init(void)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *cert = X509_new();
    X509_NAME *name = X509_get_subject_name(cert);
    X509V3_CTX ctx;
    if (key == NULL || cert == NULL || X509_set_version(cert, X509_VERSION_3) != 1 ||
        ASN1_INTEGER_set(X509_get_serialNumber(cert), 2) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   (const unsigned char *)"fuzz intermediate", -1, -1, 0) != 1 ||
        X509_set_issuer_name(cert, name) != 1 ||
        X509_gmtime_adj(X509_getm_notBefore(cert), 0) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(cert), 86400) == NULL ||
        X509_set_pubkey(cert, key) != 1) {
        abort();
    }
    X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_key_identifier, "hash");
    if (ext == NULL || X509_add_ext(cert, ext, -1) != 1 ||
        X509_sign(cert, key, EVP_sha256()) <= 0 ||
        ca_ocsp_responder_new(cert, key, 3600, &responder, NULL) != CA_OK) {
        abort();
    }
    X509_EXTENSION_free(ext);
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void answer(struct ca_ocsp_request *req)
{
    struct ca_ocsp_status status = {CA_OCSP_REVOKED, 1800000000, CA_REASON_KEY_COMPROMISE};
    unsigned char *der = NULL;
    size_t len = 0;

    req->for_us = 1; /* answer as if the hashes had matched */
    if (ca_ocsp_response_build(responder, req, &status, 1800000000, &der, &len, NULL) != CA_OK) {
        abort(); /* whatever the parser accepts, the builder must sign */
    }
    OPENSSL_free(der);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ca_ocsp_request req;

    if (responder == NULL) {
        init();
    }
    if (ca_ocsp_request_parse(responder, data, size, &req, NULL) == CA_OK) {
        if (req.serial_len == 0 || req.serial_len > CA_MAX_SERIAL_LEN ||
            req.nonce_len > CA_MAX_OCSP_NONCE_LEN || strlen(req.serial_hex) == 0) {
            abort();
        }
        answer(&req);
    }
    if (ca_ocsp_request_from_base64(responder, (const char *)data, size, &req, NULL) == CA_OK) {
        answer(&req);
    }
    return 0;
}
