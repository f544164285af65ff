/* test_ca_csr.c: CSR checks (ca/csr.c), driven through ca_leaf_issue with real
 * OpenSSL-made CSRs: size, PEM framing, DER structure, key type, signature and
 * SAN authorisation, each with its specific error. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <openssl/pem.h>

#include "ca.h"
#include "testpki.h"

static struct testpki pki;
static struct ca_issuer *issuer;

static void setup(void)
{
    struct ca_policy policy = {
        .trust_domain = "example.org",
        .public_url = "http://ca.example.org:8080",
        .default_ttl_s = 3600,
        .max_ttl_s = 86400,
    };
    struct ca_error err = {0};
    testpki_init(&pki, "example.org");
    cr_assert_eq(ca_issuer_new(pki.inter, pki.inter_key, pki.roots, &policy, &issuer, &err), CA_OK,
                 "%s", err.msg);
}

static void teardown(void)
{
    ca_issuer_free(issuer);
    testpki_cleanup(&pki);
}

TestSuite(ca_csr, .init = setup, .fini = teardown);

static const char *const dns_names[] = {"web.example.org", "web"};
static const char *const ips[] = {"10.0.0.7", "2001:db8::1"};
static const struct ca_identity ident = {
    .spiffe_id = "spiffe://example.org/ns/default/sa/web",
    .dns_names = dns_names,
    .num_dns_names = 2,
    .ips = ips,
    .num_ips = 2,
};

/* issue runs ca_leaf_issue on |pem| and returns its code, message in |err|. */
static enum ca_err issue(const char *pem, size_t len, struct ca_error *err)
{
    struct ca_leaf leaf = {0};
    enum ca_err rc = ca_leaf_issue(issuer, pem, len, &ident, 0, (int64_t)time(NULL), &leaf, err);
    if (rc == CA_OK) {
        cr_assert_gt(leaf.der_len, 0);
    }
    ca_leaf_cleanup(&leaf);
    return rc;
}

static enum ca_err issue_for(enum testpki_key type, const char *const *sans, size_t num_sans,
                             int extras, struct ca_error *err)
{
    EVP_PKEY *key = testpki_key_new(type);
    size_t len = 0;
    char *pem = testpki_csr_pem(key, sans, num_sans, extras, &len);
    enum ca_err rc = issue(pem, len, err);
    free(pem);
    EVP_PKEY_free(key);
    return rc;
}

static void assert_msg(const struct ca_error *err, const char *needle)
{
    cr_assert_not_null(strstr(err->msg, needle), "message '%s' lacks '%s'", err->msg, needle);
}

Test(ca_csr, accepts_p256_p384_ed25519_and_rsa2048_keys)
{
    static const enum testpki_key types[] = {TESTPKI_P256, TESTPKI_P384, TESTPKI_ED25519,
                                             TESTPKI_RSA2048};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        struct ca_error err = {0};
        cr_assert_eq(issue_for(types[i], NULL, 0, 0, &err), CA_OK, "type %zu: %s", i, err.msg);
    }
}

Test(ca_csr, refuses_rsa_1024_with_unsupported_key)
{
    struct ca_error err = {0};
    cr_assert_eq(issue_for(TESTPKI_RSA1024, NULL, 0, 0, &err), CA_ERR_UNSUPPORTED_KEY);
    assert_msg(&err, "RSA key of 1024 bits: at least 2048 required");
}

/* With e = 1 a "signature" is the padded digest itself: the CSR's own
 * signature verifies, and anyone could sign as the certified key. */
Test(ca_csr, refuses_an_rsa_exponent_of_one_with_unsupported_key)
{
    struct ca_error err = {0};
    cr_assert_eq(issue_for(TESTPKI_RSA_E1, NULL, 0, 0, &err), CA_ERR_UNSUPPORTED_KEY);
    assert_msg(&err, "RSA public exponent must be odd, at least 65537");
}

Test(ca_csr, refuses_p192_with_unsupported_key)
{
    struct ca_error err = {0};
    cr_assert_eq(issue_for(TESTPKI_P192, NULL, 0, 0, &err), CA_ERR_UNSUPPORTED_KEY);
    assert_msg(&err, "EC curve P-192 not accepted");
}

Test(ca_csr, refuses_a_bad_signature_with_invalid_csr)
{
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    unsigned char *der = NULL;
    size_t der_len = 0;
    struct ca_error err = {0};
    testpki_csr_der(key, NULL, 0, 0, &der, &der_len);
    der[der_len - 1] ^= 0x01; /* the last byte is inside the signature */
    size_t len = 0;
    char *pem = testpki_pem_encode("CERTIFICATE REQUEST", der, der_len, &len);
    cr_assert_eq(issue(pem, len, &err), CA_ERR_INVALID_CSR);
    assert_msg(&err, "signature");
    free(pem);
    OPENSSL_free(der);
    EVP_PKEY_free(key);
}

Test(ca_csr, refuses_a_csr_signed_by_another_key)
{
    /* The key in the request and the key that signed it differ. */
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    EVP_PKEY *other = testpki_key_new(TESTPKI_P256);
    X509_REQ *req = X509_REQ_new();
    struct ca_error err = {0};
    cr_assert(X509_REQ_set_pubkey(req, key) == 1);
    cr_assert(X509_REQ_sign(req, other, EVP_sha256()) > 0);
    unsigned char *der = NULL;
    int der_len = i2d_X509_REQ(req, &der);
    size_t len = 0;
    char *pem = testpki_pem_encode("CERTIFICATE REQUEST", der, (size_t)der_len, &len);
    cr_assert_eq(issue(pem, len, &err), CA_ERR_INVALID_CSR);
    assert_msg(&err, "does not verify");
    free(pem);
    OPENSSL_free(der);
    X509_REQ_free(req);
    EVP_PKEY_free(other);
    EVP_PKEY_free(key);
}

Test(ca_csr, refuses_garbage_with_invalid_csr)
{
    static const char garbage[] = "hello, I am not a CSR\n";
    struct ca_error err = {0};
    cr_assert_eq(issue(garbage, strlen(garbage), &err), CA_ERR_INVALID_CSR);
}

Test(ca_csr, refuses_a_pem_block_holding_garbage_der)
{
    static const unsigned char junk[] = {0x30, 0x03, 0x02, 0x01, 0x00, 0xff};
    size_t len = 0;
    struct ca_error err = {0};
    char *pem = testpki_pem_encode("CERTIFICATE REQUEST", junk, sizeof(junk), &len);
    cr_assert_eq(issue(pem, len, &err), CA_ERR_INVALID_CSR);
    free(pem);
}

Test(ca_csr, refuses_a_pem_block_of_another_type)
{
    size_t len = 0;
    struct ca_error err = {0};
    unsigned char *der = NULL;
    int der_len = i2d_X509(pki.inter, &der);
    char *pem = testpki_pem_encode("CERTIFICATE", der, (size_t)der_len, &len);
    cr_assert_eq(issue(pem, len, &err), CA_ERR_INVALID_CSR);
    assert_msg(&err, "CERTIFICATE REQUEST");
    free(pem);
    OPENSSL_free(der);
}

Test(ca_csr, refuses_two_pem_objects)
{
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    size_t len = 0;
    struct ca_error err = {0};
    char *pem = testpki_csr_pem(key, NULL, 0, 0, &len);
    char *two = malloc(2 * len + 1);
    memcpy(two, pem, len);
    memcpy(two + len, pem, len + 1);
    cr_assert_eq(issue(two, 2 * len, &err), CA_ERR_INVALID_CSR);
    assert_msg(&err, "exactly one PEM object");
    free(two);
    free(pem);
    EVP_PKEY_free(key);
}

Test(ca_csr, refuses_trailing_garbage)
{
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    size_t len = 0;
    struct ca_error err = {0};
    char *pem = testpki_csr_pem(key, NULL, 0, 0, &len);
    char *more = malloc(len + 8);
    memcpy(more, pem, len);
    memcpy(more + len, "\nxyz\n", 6);
    cr_assert_eq(issue(more, len + 5, &err), CA_ERR_INVALID_CSR);
    assert_msg(&err, "nothing after it");
    free(more);
    free(pem);
    EVP_PKEY_free(key);
}

Test(ca_csr, refuses_text_before_the_pem_block)
{
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    size_t len = 0;
    struct ca_error err = {0};
    char *pem = testpki_csr_pem(key, NULL, 0, 0, &len);
    char *more = malloc(len + 8);
    memcpy(more, "junk\n", 5);
    memcpy(more + 5, pem, len + 1);
    cr_assert_eq(issue(more, len + 5, &err), CA_ERR_INVALID_CSR);
    free(more);
    free(pem);
    EVP_PKEY_free(key);
}

Test(ca_csr, accepts_blank_lines_around_the_block_and_the_old_label)
{
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    unsigned char *der = NULL;
    size_t der_len = 0;
    struct ca_error err = {0};
    testpki_csr_der(key, NULL, 0, 0, &der, &der_len);
    size_t len = 0;
    char *pem = testpki_pem_encode("NEW CERTIFICATE REQUEST", der, der_len, &len);
    char *more = malloc(len + 8);
    memcpy(more, "\n \r\n", 4);
    memcpy(more + 4, pem, len);
    memcpy(more + 4 + len, "\n\n", 3);
    cr_assert_eq(issue(more, len + 6, &err), CA_OK, "%s", err.msg);
    free(more);
    free(pem);
    OPENSSL_free(der);
    EVP_PKEY_free(key);
}

Test(ca_csr, refuses_an_oversize_csr_before_parsing)
{
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    size_t len = 0;
    struct ca_error err = {0};
    char *pem = testpki_csr_pem(key, NULL, 0, 0, &len);
    char *big = malloc(CA_MAX_CSR_LEN + 1);
    memset(big, '\n', CA_MAX_CSR_LEN + 1);
    memcpy(big, pem, len); /* a valid CSR followed by blank lines: only the size is wrong */
    cr_assert_eq(issue(big, CA_MAX_CSR_LEN + 1, &err), CA_ERR_INVALID_CSR);
    assert_msg(&err, "bytes");
    cr_assert_eq(issue(big, CA_MAX_CSR_LEN, &err), CA_OK, "%s", err.msg);
    cr_assert_eq(issue(big, 0, &err), CA_ERR_INVALID_CSR);
    free(big);
    free(pem);
    EVP_PKEY_free(key);
}

Test(ca_csr, accepts_the_spiffe_id_and_covered_dns_names_and_ips)
{
    static const char *const sans[] = {"URI:spiffe://example.org/ns/default/sa/web",
                                       "DNS:WEB.example.org", "DNS:web", "IP:10.0.0.7",
                                       "IP:2001:db8:0:0:0:0:0:1"};
    struct ca_error err = {0};
    cr_assert_eq(issue_for(TESTPKI_P256, sans, 5, 0, &err), CA_OK, "%s", err.msg);
}

Test(ca_csr, refuses_another_uri_san_naming_it)
{
    static const char *const sans[] = {"URI:spiffe://example.org/ns/default/sa/web",
                                       "URI:spiffe://example.org/admin"};
    struct ca_error err = {0};
    cr_assert_eq(issue_for(TESTPKI_P256, sans, 2, 0, &err), CA_ERR_FORBIDDEN_SAN);
    assert_msg(&err, "spiffe://example.org/admin");
}

Test(ca_csr, refuses_an_uncovered_dns_name_naming_it)
{
    static const char *const sans[] = {"DNS:web.example.org", "DNS:evil.example.com"};
    struct ca_error err = {0};
    cr_assert_eq(issue_for(TESTPKI_P256, sans, 2, 0, &err), CA_ERR_FORBIDDEN_SAN);
    assert_msg(&err, "evil.example.com");
}

Test(ca_csr, refuses_an_uncovered_ip_address)
{
    static const char *const sans[] = {"IP:10.0.0.8"};
    struct ca_error err = {0};
    cr_assert_eq(issue_for(TESTPKI_P256, sans, 1, 0, &err), CA_ERR_FORBIDDEN_SAN);
    assert_msg(&err, "IP address");
}

Test(ca_csr, refuses_an_email_san_naming_it)
{
    static const char *const sans[] = {"email:admin@example.org"};
    struct ca_error err = {0};
    cr_assert_eq(issue_for(TESTPKI_P256, sans, 1, 0, &err), CA_ERR_FORBIDDEN_SAN);
    assert_msg(&err, "admin@example.org");
}

Test(ca_csr, ignores_requested_ca_true_key_usage_and_eku)
{
    struct ca_error err = {0};
    cr_assert_eq(issue_for(TESTPKI_P256, NULL, 0,
                           TESTPKI_CSR_CA_TRUE | TESTPKI_CSR_KEY_USAGE | TESTPKI_CSR_EKU, &err),
                 CA_OK, "%s", err.msg);
}

/* ---- Adversarial review: SAN spellings an attacker might try ---- */

#include <openssl/x509v3.h>

/* raw_csr_pem makes a P-256 CSR whose extensionRequest attributes hold the
 * given SANs as raw bytes (so they may embed NULs): |num_attrs| attributes,
 * attribute i holding names[i] (|lens[i]| bytes, of GEN_* type types[i]),
 * the last one as msExtReq when |ms_last|. free() the result. */
static char *raw_csr_pem(const int *types, const char *const *names, const size_t *lens,
                         size_t num_attrs, int ms_last)
{
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    X509_REQ *req = X509_REQ_new();
    cr_assert(req != NULL && X509_REQ_set_pubkey(req, key) == 1);
    for (size_t i = 0; i < num_attrs; i++) {
        GENERAL_NAMES *gens = GENERAL_NAMES_new();
        GENERAL_NAME *gen = GENERAL_NAME_new();
        ASN1_IA5STRING *s = ASN1_IA5STRING_new();
        cr_assert(gens != NULL && gen != NULL && s != NULL);
        cr_assert_eq(ASN1_STRING_set(s, names[i], (int)lens[i]), 1);
        GENERAL_NAME_set0_value(gen, types[i], s);
        cr_assert(sk_GENERAL_NAME_push(gens, gen) > 0);
        STACK_OF(X509_EXTENSION) *exts = NULL;
        cr_assert_eq(X509V3_add1_i2d(&exts, NID_subject_alt_name, gens, 0, 0), 1);
        int nid = ms_last && i + 1 == num_attrs ? NID_ms_ext_req : NID_ext_req;
        /* X509_REQ_add_extensions_nid refuses a second attribute: add it raw. */
        unsigned char *der = NULL;
        int der_len = i2d_X509_EXTENSIONS(exts, &der);
        cr_assert_gt(der_len, 0);
        cr_assert_eq(X509_REQ_add1_attr_by_NID(req, nid, V_ASN1_SEQUENCE, der, der_len), 1);
        OPENSSL_free(der);
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
        GENERAL_NAMES_free(gens);
    }
    cr_assert(X509_REQ_sign(req, key, EVP_sha256()) > 0);
    BIO *bio = BIO_new(BIO_s_mem());
    cr_assert_eq(PEM_write_bio_X509_REQ(bio, req), 1);
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    char *pem = malloc((size_t)len + 1);
    memcpy(pem, data, (size_t)len);
    pem[len] = '\0';
    BIO_free(bio);
    X509_REQ_free(req);
    EVP_PKEY_free(key);
    return pem;
}

static enum ca_err issue_raw(const int *types, const char *const *names, const size_t *lens,
                             size_t num, int ms_last, struct ca_error *err)
{
    char *pem = raw_csr_pem(types, names, lens, num, ms_last);
    enum ca_err rc = issue(pem, strlen(pem), err);
    free(pem);
    return rc;
}

Test(ca_csr, refuses_spellings_of_the_spiffe_id_that_differ_in_case_encoding_or_slashes)
{
    static const char *const variants[] = {
        "URI:spiffe://example.org/ns/default/sa/WEB",
        "URI:spiffe://EXAMPLE.org/ns/default/sa/web",
        "URI:SPIFFE://example.org/ns/default/sa/web",
        "URI:spiffe://example.org/ns/default/sa/%77eb",
        "URI:spiffe://example.org/ns/default/sa/web/",
        "URI:spiffe://example.org//ns/default/sa/web",
        "URI:spiffe://example.org/ns/default/sa/./web",
        "URI:spiffe://example.org:443/ns/default/sa/web",
        "URI:spiffe://example.org/ns/default/sa/web?x",
    };
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        struct ca_error err = {0};
        cr_assert_eq(issue_for(TESTPKI_P256, &variants[i], 1, 0, &err), CA_ERR_FORBIDDEN_SAN,
                     "%s was accepted", variants[i]);
    }
}

Test(ca_csr, compares_dns_names_ignoring_ascii_case_only)
{
    static const char *const same[] = {"DNS:Web.Example.ORG", "DNS:WEB"};
    struct ca_error err = {0};
    cr_assert_eq(issue_for(TESTPKI_P256, same, 2, 0, &err), CA_OK, "%s", err.msg);
    static const char *const others[] = {
        "DNS:web.example.org.",        "DNS:.web.example.org",         "DNS:*.example.org",
        "DNS:xn--web-9ra.example.org", "DNS:web.example.org.evil.com", "DNS:eb.example.org",
        "DNS:web.example.or",
    };
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        cr_assert_eq(issue_for(TESTPKI_P256, &others[i], 1, 0, &err), CA_ERR_FORBIDDEN_SAN,
                     "%s was accepted", others[i]);
    }
}

Test(ca_csr, refuses_sans_with_an_embedded_nul)
{
    static const int types[] = {GEN_DNS, GEN_DNS, GEN_URI};
    static const char *const names[] = {"web.example.org\0.evil.com", "web\0",
                                        "spiffe://example.org/ns/default/sa/web\0/admin"};
    static const size_t lens[] = {26, 4, 45};
    for (size_t i = 0; i < 3; i++) {
        struct ca_error err = {0};
        cr_assert_eq(issue_raw(&types[i], &names[i], &lens[i], 1, 0, &err), CA_ERR_FORBIDDEN_SAN,
                     "SAN %zu was accepted", i);
        cr_assert_null(strchr(err.msg, '\n'));
    }
    /* The same helper with clean bytes is accepted: the refusal is the NUL. */
    static const size_t clean[] = {15, 3, 38};
    for (size_t i = 0; i < 3; i++) {
        struct ca_error err = {0};
        cr_assert_eq(issue_raw(&types[i], &names[i], &clean[i], 1, 0, &err), CA_OK, "%s", err.msg);
    }
}

Test(ca_csr, checks_the_sans_of_every_extension_request_attribute)
{
    /* An extensionRequest with the authorised name and, after it, a
     * Microsoft msExtReq with another (OpenSSL 3 refuses to build two
     * attributes of one type; the engine would read both anyway). */
    static const int types[] = {GEN_DNS, GEN_DNS};
    static const char *const names[] = {"web.example.org", "evil.example.com"};
    static const size_t lens[] = {15, 16};
    struct ca_error err = {0};
    cr_assert_eq(issue_raw(types, names, lens, 2, 1, &err), CA_ERR_FORBIDDEN_SAN);
    assert_msg(&err, "evil.example.com");
    cr_assert_eq(issue_raw(types, names, lens, 1, 1, &err), CA_OK, "%s", err.msg);
}
