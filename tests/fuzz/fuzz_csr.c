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
#include "fuzz_issuer.h"

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

static void init(void)
{
    EVP_PKEY *key = NULL;
    issuer = fuzz_issuer_new(&key);
    EVP_PKEY_free(key);
}

static void issue(const char *pem, size_t len)
{
    struct ca_leaf leaf = {0};
    struct ca_error err = {0};
    enum ca_err rc = ca_leaf_issue(issuer, pem, len, &ident, 0, FUZZ_NOW, &leaf, &err);
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
