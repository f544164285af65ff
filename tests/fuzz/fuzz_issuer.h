/* fuzz_issuer.h: the issuer fuzz_csr and fuzz_peer run against: a P-256 root
 * and intermediate ("fuzz intermediate") of trust domain example.org, both
 * valid for a day either side of FUZZ_NOW, the time the targets check at. A
 * header rather than a .c, so that the CMake glob of fuzz_*.c does not take
 * it for a target; each target includes it once. */
#ifndef SIGNET_FUZZ_ISSUER_H
#define SIGNET_FUZZ_ISSUER_H

#include <stdlib.h>

#include <openssl/x509v3.h>

#include "ca.h"

#define FUZZ_NOW 1800000000

static X509 *fuzz_make_ca(EVP_PKEY *key, const char *cn, X509 *parent, EVP_PKEY *parent_key,
                          const char *bc)
{
    X509 *cert = X509_new();
    X509V3_CTX ctx;
    if (cert == NULL || X509_set_version(cert, X509_VERSION_3) != 1 ||
        ASN1_INTEGER_set(X509_get_serialNumber(cert), 7) != 1 ||
        X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                                   (const unsigned char *)cn, -1, -1, 0) != 1 ||
        X509_set_issuer_name(cert, X509_get_subject_name(parent != NULL ? parent : cert)) != 1 ||
        ASN1_TIME_set(X509_getm_notBefore(cert), FUZZ_NOW - 86400) == NULL ||
        ASN1_TIME_set(X509_getm_notAfter(cert), FUZZ_NOW + 86400) == NULL ||
        X509_set_pubkey(cert, key) != 1) {
        abort();
    }
    X509V3_set_ctx(&ctx, parent != NULL ? parent : cert, cert, NULL, NULL, 0);
    static const int nids[] = {NID_basic_constraints, NID_key_usage, NID_subject_key_identifier};
    const char *values[] = {bc, "critical,keyCertSign,cRLSign", "hash"};
    for (size_t i = 0; i < 3; i++) {
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nids[i], values[i]);
        if (ext == NULL || X509_add_ext(cert, ext, -1) != 1) {
            abort();
        }
        X509_EXTENSION_free(ext);
    }
    if (X509_sign(cert, parent_key != NULL ? parent_key : key, EVP_sha256()) <= 0) {
        abort();
    }
    return cert;
}

/* fuzz_issuer_new builds the issuer; |*out_inter_key| is the intermediate's
 * key (the caller's reference). Aborts on any failure. */
static struct ca_issuer *fuzz_issuer_new(EVP_PKEY **out_inter_key)
{
    struct ca_issuer *issuer = NULL;
    struct ca_policy policy = {
        .trust_domain = "example.org",
        .public_url = "http://127.0.0.1:8080",
        .default_ttl_s = 3600,
        .max_ttl_s = 86400,
    };
    EVP_PKEY *root_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    STACK_OF(X509) *roots = sk_X509_new_null();
    if (root_key == NULL || key == NULL || roots == NULL) {
        abort();
    }
    X509 *root = fuzz_make_ca(root_key, "fuzz root", NULL, NULL, "critical,CA:TRUE,pathlen:1");
    X509 *inter =
        fuzz_make_ca(key, "fuzz intermediate", root, root_key, "critical,CA:TRUE,pathlen:0");
    if (sk_X509_push(roots, root) <= 0 ||
        ca_issuer_new(inter, key, roots, &policy, &issuer, NULL) != CA_OK) {
        abort();
    }
    sk_X509_pop_free(roots, X509_free);
    X509_free(inter);
    EVP_PKEY_free(root_key);
    *out_inter_key = key;
    return issuer;
}

#endif
