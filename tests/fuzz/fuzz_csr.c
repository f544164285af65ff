/* fuzz_csr.c: the CSR checks of ca/csr.c through ca_leaf_issue, fed as PEM
 * text and, for input that is not PEM, as DER wrapped in a PEM block so that
 * the DER walker sees the bytes directly. A CSR that passes is issued, so the
 * leaf builder sees every key the checks let through. The corpus
 * (tests/fuzz/corpus/csr/) is described in tests/fuzz/corpus/README.md. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca.h"

static struct ca_issuer *issuer;

static const char *const dns_names[] = {"web.example.org"};
static const char *const ips[] = {"10.0.0.7"};
static const struct ca_identity ident = {
    .spiffe_id = "spiffe://example.org/ns/default/sa/web",
    .dns_names = dns_names,
    .num_dns_names = 1,
    .ips = ips,
    .num_ips = 1,
};

static X509 *make_ca(EVP_PKEY *key, const char *cn, X509 *parent, EVP_PKEY *parent_key,
                     const char *bc)
{
    X509 *cert = X509_new();
    X509V3_CTX ctx;
    if (cert == NULL || X509_set_version(cert, X509_VERSION_3) != 1 ||
        ASN1_INTEGER_set(X509_get_serialNumber(cert), 7) != 1 ||
        X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                                   (const unsigned char *)cn, -1, -1, 0) != 1 ||
        X509_set_issuer_name(cert, X509_get_subject_name(parent != NULL ? parent : cert)) != 1 ||
        X509_gmtime_adj(X509_getm_notBefore(cert), -3600) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(cert), 365L * 86400) == NULL ||
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

static void init(void)
{
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
    X509 *root = make_ca(root_key, "fuzz root", NULL, NULL, "critical,CA:TRUE,pathlen:1");
    X509 *inter = make_ca(key, "fuzz intermediate", root, root_key, "critical,CA:TRUE,pathlen:0");
    if (sk_X509_push(roots, root) <= 0 ||
        ca_issuer_new(inter, key, roots, &policy, &issuer, NULL) != CA_OK) {
        abort();
    }
    sk_X509_pop_free(roots, X509_free);
    X509_free(inter);
    EVP_PKEY_free(key);
    EVP_PKEY_free(root_key);
}

static void issue(const char *pem, size_t len)
{
    struct ca_leaf leaf = {0};
    struct ca_error err = {0};
    enum ca_err rc = ca_leaf_issue(issuer, pem, len, &ident, 0, 1800000000, &leaf, &err);
    /* A success must be a certificate; a failure must say why. */
    if ((rc == CA_OK && (leaf.der_len == 0 || leaf.pem == NULL)) ||
        (rc != CA_OK && (err.code != rc || err.msg[0] == '\0'))) {
        abort();
    }
    ca_leaf_cleanup(&leaf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (issuer == NULL) {
        init();
    }
    issue((const char *)data, size);
    if (size == 0 || data[0] == '-' || size > CA_MAX_CSR_LEN / 2) {
        return 0;
    }
    /* Not PEM: treat the bytes as DER. */
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;
    if (bio == NULL || PEM_write_bio(bio, "CERTIFICATE REQUEST", "", data, (long)size) <= 0) {
        abort();
    }
    long len = BIO_get_mem_data(bio, &pem);
    issue(pem, (size_t)len);
    BIO_free(bio);
    return 0;
}
