/* revocation_fixture.h: the fixture test_ca_crl.c and test_ca_ocsp.c share:
 * the PKI of testpki.h plus two P-256 leaves (leaf1.pem, leaf2.pem written to
 * the PKI's directory), and helpers to write certificates, run the real
 * openssl binary there and read serials. Header-only on purpose: each test
 * file gets its own copy of these statics, set up by pki_setup in .init. */
#ifndef SIGNET_TEST_REVOCATION_FIXTURE_H
#define SIGNET_TEST_REVOCATION_FIXTURE_H

#include <stdio.h>
#include <sys/wait.h>
#include <time.h>

#include <criterion/criterion.h>
#include <openssl/bn.h>
#include <openssl/x509.h>

#include "ca.h"
#include "testpki.h"

static struct testpki pki;
static EVP_PKEY *root_key; /* aliases into pki */
static EVP_PKEY *int_key;
static X509 *root;
static X509 *inter;
static EVP_PKEY *leaf_key;
static X509 *leaf1;
static X509 *leaf2;

#define NOW ((int64_t)1800000000) /* 2027-01-15 */

static void path_of(char *out, size_t len, const char *name)
{
    int n = snprintf(out, len, "%s/%s", pki.dir, name);
    cr_assert(n > 0 && (size_t)n < len);
}

static void write_file(const char *name, const void *data, size_t len)
{
    char path[128];
    testpki_write(&pki, name, data, len, path, sizeof(path));
}

static void write_cert(const char *name, X509 *cert)
{
    char path[128];
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);
    cr_assert_gt(len, 0);
    testpki_write_der_cert(&pki, name, der, (size_t)len, path, sizeof(path));
    OPENSSL_free(der);
}

/* run runs a shell command in the PKI's directory and returns its exit
 * status, with stdout and stderr in |out|. */
static int run(char *out, size_t out_len, const char *cmd)
{
    char full[1024];
    int n = snprintf(full, sizeof(full), "cd '%s' && %s 2>&1", pki.dir, cmd);
    cr_assert(n > 0 && (size_t)n < sizeof(full));
    FILE *p = popen(full, "r");
    cr_assert_not_null(p);
    size_t got = fread(out, 1, out_len - 1, p);
    out[got] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* serial_of_cert gives a certificate's serial as big-endian bytes. */
static size_t serial_of_cert(X509 *cert, unsigned char out[CA_MAX_SERIAL_LEN])
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    cr_assert_not_null(bn);
    cr_assert_leq(BN_num_bytes(bn), CA_MAX_SERIAL_LEN);
    size_t len = (size_t)BN_bn2bin(bn, out);
    BN_free(bn);
    return len;
}

static void pki_setup(void)
{
    testpki_init(&pki, "example.org");
    root = pki.root;
    root_key = pki.root_key;
    inter = pki.inter;
    int_key = pki.inter_key;
    leaf_key = testpki_key_new(TESTPKI_P256);
    int64_t now = (int64_t)time(NULL);
    leaf1 =
        testpki_sign_leaf(&pki, leaf_key, "spiffe://example.org/one", now - 3600, now + 86400, 0);
    leaf2 =
        testpki_sign_leaf(&pki, leaf_key, "spiffe://example.org/two", now - 3600, now + 86400, 0);
    write_cert("leaf1.pem", leaf1);
    write_cert("leaf2.pem", leaf2);
}

static void pki_teardown(void)
{
    X509_free(leaf2);
    X509_free(leaf1);
    EVP_PKEY_free(leaf_key);
    testpki_cleanup(&pki);
}

#endif
