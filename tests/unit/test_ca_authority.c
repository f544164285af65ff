/* test_ca_authority.c: the root and intermediate profiles of CONTRACT section
 * 4, checked by parsing what ca/authority.c signs, and the intermediate's name
 * constraints checked by OpenSSL's own path validation. */
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "testpki.h"

TestSuite(ca_authority);

static EVP_PKEY *new_key(enum ca_key_type type)
{
    struct ca_error err = {0};
    EVP_PKEY *key = NULL;
    cr_assert_eq(ca_key_generate(type, &key, &err), CA_OK, "%s", err.msg);
    return key;
}

static X509 *new_root(EVP_PKEY *key, const char *td, int64_t now, int64_t ttl)
{
    struct ca_error err = {0};
    X509 *root = NULL;
    cr_assert_eq(ca_root_create(key, td, now, ttl, &root, &err), CA_OK, "%s", err.msg);
    return root;
}

static X509_REQ *new_csr(EVP_PKEY *key, const char *td)
{
    struct ca_error err = {0};
    X509_REQ *csr = NULL;
    cr_assert_eq(ca_intermediate_csr_create(key, td, &csr, &err), CA_OK, "%s", err.msg);
    return csr;
}

static int64_t unix_time(const ASN1_TIME *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    cr_assert_eq(ASN1_TIME_to_tm(t, &tm), 1);
    return (int64_t)timegm(&tm);
}

static int ext_critical(X509 *cert, int nid)
{
    int idx = X509_get_ext_by_NID(cert, nid, -1);
    cr_assert(idx >= 0, "extension %s missing", OBJ_nid2sn(nid));
    cr_assert_eq(X509_get_ext_by_NID(cert, nid, idx), -1, "%s twice", OBJ_nid2sn(nid));
    return X509_EXTENSION_get_critical(X509_get_ext(cert, idx));
}

static void assert_ca_basics(X509 *cert, long pathlen)
{
    int crit = 0;
    cr_assert_eq(X509_get_version(cert), X509_VERSION_3);
    BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(cert, NID_basic_constraints, &crit, NULL);
    cr_assert_not_null(bc);
    cr_assert_eq(crit, 1, "basicConstraints must be critical");
    cr_assert_neq(bc->ca, 0);
    cr_assert_not_null(bc->pathlen);
    cr_assert_eq(ASN1_INTEGER_get(bc->pathlen), pathlen);
    BASIC_CONSTRAINTS_free(bc);

    ASN1_BIT_STRING *ku = X509_get_ext_d2i(cert, NID_key_usage, &crit, NULL);
    cr_assert_not_null(ku);
    cr_assert_eq(crit, 1, "keyUsage must be critical");
    ASN1_BIT_STRING_free(ku);
    cr_assert_eq(X509_get_key_usage(cert), (uint32_t)(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
    cr_assert_eq(ext_critical(cert, NID_subject_key_identifier), 0);
    cr_assert_not_null(X509_get0_subject_key_id(cert));

    /* RFC 5280 4.1.2.2: positive, at most 20 octets; ours are 128-bit. */
    const ASN1_INTEGER *serial = X509_get0_serialNumber(cert);
    BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
    cr_assert_not_null(bn);
    cr_assert_eq(BN_is_negative(bn), 0);
    cr_assert_eq(BN_is_zero(bn), 0);
    cr_assert(BN_num_bytes(bn) <= 16);
    BN_free(bn);
}

static void assert_td_san(X509 *cert, const char *td)
{
    char want[300];
    int crit = 0;
    snprintf(want, sizeof(want), "spiffe://%s", td);
    GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
    cr_assert_not_null(gens);
    cr_assert_eq(crit, 0);
    cr_assert_eq(sk_GENERAL_NAME_num(gens), 1);
    const GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, 0);
    cr_assert_eq(gn->type, GEN_URI);
    cr_assert_eq(ASN1_STRING_length(gn->d.uniformResourceIdentifier), (int)strlen(want));
    cr_assert_eq(memcmp(ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier), want, strlen(want)),
                 0);
    GENERAL_NAMES_free(gens);
}

static const char *cn_of(X509 *cert)
{
    static char cn[128];
    cr_assert(
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn)) > 0);
    return cn;
}

struct key_case {
    enum ca_key_type type;
    int sig_nid;
};

static struct key_case key_cases[] = {
    {CA_KEY_EC_P256, NID_ecdsa_with_SHA256},
    {CA_KEY_EC_P384, NID_ecdsa_with_SHA384},
    {CA_KEY_ED25519, NID_ED25519},
    {CA_KEY_RSA_3072, NID_sha256WithRSAEncryption},
};

ParameterizedTestParameters(ca_authority, makes_the_root_profile_for_each_key_type)
{
    return cr_make_param_array(struct key_case, key_cases,
                               sizeof(key_cases) / sizeof(key_cases[0]));
}

ParameterizedTest(struct key_case *p, ca_authority, makes_the_root_profile_for_each_key_type)
{
    int64_t now = (int64_t)time(NULL);
    EVP_PKEY *key = new_key(p->type);
    X509 *root = new_root(key, "example.org", now, 87600LL * 3600);

    assert_ca_basics(root, 1);
    assert_td_san(root, "example.org");
    cr_assert_str_eq(cn_of(root), "example.org root");
    cr_assert_eq(X509_NAME_cmp(X509_get_subject_name(root), X509_get_issuer_name(root)), 0);
    cr_assert_eq(X509_get_signature_nid(root), p->sig_nid);
    cr_assert_eq(X509_verify(root, key), 1, "self-signed with its own key");
    cr_assert_eq(unix_time(X509_get0_notBefore(root)), now - 60);
    cr_assert_eq(unix_time(X509_get0_notAfter(root)), now + 87600LL * 3600);
    cr_assert_eq(X509_check_ca(root), 1);
    cr_assert_eq(EVP_PKEY_eq(X509_get0_pubkey(root), key), 1);
    X509_free(root);
    EVP_PKEY_free(key);
}

Test(ca_authority, gives_each_root_its_own_random_serial)
{
    int64_t now = (int64_t)time(NULL);
    EVP_PKEY *key = new_key(CA_KEY_EC_P256);
    X509 *a = new_root(key, "example.org", now, 3600);
    X509 *b = new_root(key, "example.org", now, 3600);
    cr_assert_neq(ASN1_INTEGER_cmp(X509_get0_serialNumber(a), X509_get0_serialNumber(b)), 0);
    X509_free(a);
    X509_free(b);
    EVP_PKEY_free(key);
}

Test(ca_authority, names_a_long_trust_domain_in_the_san_only)
{
    char td[201];
    memset(td, 'a', sizeof(td) - 1);
    td[sizeof(td) - 1] = '\0';
    EVP_PKEY *key = new_key(CA_KEY_EC_P256);
    X509 *root = new_root(key, td, (int64_t)time(NULL), 3600);
    cr_assert_str_eq(cn_of(root), "signet root");
    assert_td_san(root, td);
    char got[256];
    cr_assert_eq(ca_cert_trust_domain(root, got, sizeof(got), NULL), CA_OK);
    cr_assert_str_eq(got, td);
    X509_free(root);
    EVP_PKEY_free(key);
}

Test(ca_authority, refuses_an_invalid_trust_domain_with_invalid_spiffe_id)
{
    struct ca_error err = {0};
    X509 *root = NULL;
    EVP_PKEY *key = new_key(CA_KEY_EC_P256);
    cr_assert_eq(ca_root_create(key, "Example.org", (int64_t)time(NULL), 3600, &root, &err),
                 CA_ERR_INVALID_SPIFFE_ID);
    cr_assert_eq(ca_root_create(key, "", (int64_t)time(NULL), 3600, &root, &err),
                 CA_ERR_INVALID_SPIFFE_ID);
    cr_assert_eq(ca_root_create(key, "a/b", (int64_t)time(NULL), 3600, &root, &err),
                 CA_ERR_INVALID_SPIFFE_ID);
    cr_assert_null(root);
    EVP_PKEY_free(key);
}

Test(ca_authority, refuses_a_root_lifetime_under_a_minute_with_invalid_ttl)
{
    X509 *root = NULL;
    EVP_PKEY *key = new_key(CA_KEY_EC_P256);
    cr_assert_eq(ca_root_create(key, "example.org", (int64_t)time(NULL), 0, &root, NULL),
                 CA_ERR_INVALID_TTL);
    cr_assert_eq(ca_root_create(key, "example.org", (int64_t)time(NULL), -5, &root, NULL),
                 CA_ERR_INVALID_TTL);
    cr_assert_null(root);
    EVP_PKEY_free(key);
}

Test(ca_authority, makes_a_csr_naming_the_intermediate_without_extensions)
{
    EVP_PKEY *key = new_key(CA_KEY_EC_P256);
    X509_REQ *csr = new_csr(key, "example.org");
    char cn[128];
    cr_assert(X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(csr), NID_commonName, cn,
                                        sizeof(cn)) > 0);
    cr_assert_str_eq(cn, "example.org intermediate");
    cr_assert_eq(X509_REQ_verify(csr, key), 1);
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
    cr_assert_eq(sk_X509_EXTENSION_num(exts), 0);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
}

/* A signed intermediate and what made it. */
struct chain {
    EVP_PKEY *root_key;
    X509 *root;
    EVP_PKEY *key;
    X509 *cert;
};

static void chain_make(struct chain *c, enum ca_key_type type, int64_t now, int64_t root_ttl,
                       int64_t ttl, const char *const *dns, size_t num_dns)
{
    struct ca_error err = {0};
    c->root_key = new_key(type);
    c->root = new_root(c->root_key, "example.org", now, root_ttl);
    c->key = new_key(type);
    X509_REQ *csr = new_csr(c->key, "example.org");
    struct ca_intermediate_params params = {
        .trust_domain = "example.org",
        .permit_dns = dns,
        .num_permit_dns = num_dns,
        .now = now,
        .ttl_s = ttl,
    };
    c->cert = NULL;
    cr_assert_eq(ca_intermediate_sign(c->root, c->root_key, csr, &params, &c->cert, &err), CA_OK,
                 "%s", err.msg);
    X509_REQ_free(csr);
}

static void chain_free(struct chain *c)
{
    X509_free(c->cert);
    EVP_PKEY_free(c->key);
    X509_free(c->root);
    EVP_PKEY_free(c->root_key);
}

ParameterizedTestParameters(ca_authority, makes_the_intermediate_profile_for_each_key_type)
{
    return cr_make_param_array(struct key_case, key_cases,
                               sizeof(key_cases) / sizeof(key_cases[0]));
}

ParameterizedTest(struct key_case *p, ca_authority,
                  makes_the_intermediate_profile_for_each_key_type)
{
    static const char *const dns[] = {"example.org", ".svc.cluster.local"};
    int64_t now = (int64_t)time(NULL);
    struct chain c;
    int crit = 0;
    chain_make(&c, p->type, now, 87600LL * 3600, 8760LL * 3600, dns, 2);

    assert_ca_basics(c.cert, 0);
    assert_td_san(c.cert, "example.org");
    cr_assert_str_eq(cn_of(c.cert), "example.org intermediate");
    cr_assert_eq(X509_NAME_cmp(X509_get_issuer_name(c.cert), X509_get_subject_name(c.root)), 0);
    cr_assert_eq(X509_get_signature_nid(c.cert), p->sig_nid);
    cr_assert_eq(X509_verify(c.cert, c.root_key), 1);
    cr_assert_eq(EVP_PKEY_eq(X509_get0_pubkey(c.cert), c.key), 1);
    cr_assert_eq(ext_critical(c.cert, NID_authority_key_identifier), 0);
    cr_assert_eq(
        ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(c.cert), X509_get0_subject_key_id(c.root)),
        0, "AKID must be the root's SKID");
    cr_assert_eq(unix_time(X509_get0_notBefore(c.cert)), now - 60);
    cr_assert_eq(unix_time(X509_get0_notAfter(c.cert)), now + 8760LL * 3600);

    NAME_CONSTRAINTS *nc = X509_get_ext_d2i(c.cert, NID_name_constraints, &crit, NULL);
    cr_assert_not_null(nc);
    cr_assert_eq(crit, 1, "nameConstraints must be critical");
    cr_assert_null(nc->excludedSubtrees);
    cr_assert_eq(sk_GENERAL_SUBTREE_num(nc->permittedSubtrees), 3);
    static const struct {
        int type;
        const char *value;
    } want[] = {
        {GEN_URI, "example.org"}, {GEN_DNS, "example.org"}, {GEN_DNS, ".svc.cluster.local"}};
    for (int i = 0; i < 3; i++) {
        GENERAL_SUBTREE *sub = sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, i);
        cr_assert_eq(sub->base->type, want[i].type, "subtree %d", i);
        const ASN1_IA5STRING *s = sub->base->d.ia5;
        cr_assert_eq(ASN1_STRING_length(s), (int)strlen(want[i].value));
        cr_assert_eq(memcmp(ASN1_STRING_get0_data(s), want[i].value, strlen(want[i].value)), 0);
        cr_assert_null(sub->minimum);
        cr_assert_null(sub->maximum);
    }
    NAME_CONSTRAINTS_free(nc);
    chain_free(&c);
}

Test(ca_authority, clamps_the_intermediate_to_the_root_not_after)
{
    int64_t now = (int64_t)time(NULL);
    struct chain c;
    chain_make(&c, CA_KEY_EC_P256, now, 7200, 8760LL * 3600, NULL, 0);
    cr_assert_eq(unix_time(X509_get0_notAfter(c.cert)), now + 7200);
    cr_assert_eq(unix_time(X509_get0_notAfter(c.cert)), unix_time(X509_get0_notAfter(c.root)));
    chain_free(&c);
}

Test(ca_authority, refuses_to_sign_under_an_expired_root_with_issuer_expired)
{
    int64_t now = (int64_t)time(NULL);
    EVP_PKEY *root_key = new_key(CA_KEY_EC_P256);
    X509 *root = new_root(root_key, "example.org", now - 10 * 86400, 86400);
    EVP_PKEY *key = new_key(CA_KEY_EC_P256);
    X509_REQ *csr = new_csr(key, "example.org");
    struct ca_intermediate_params params = {
        .trust_domain = "example.org", .now = now, .ttl_s = 3600};
    X509 *cert = NULL;
    cr_assert_eq(ca_intermediate_sign(root, root_key, csr, &params, &cert, NULL),
                 CA_ERR_ISSUER_EXPIRED);
    cr_assert_null(cert);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
    X509_free(root);
    EVP_PKEY_free(root_key);
}

static enum ca_err sign_with(X509 *root, EVP_PKEY *root_key, X509_REQ *csr, const char *td,
                             const char *const *dns, size_t num_dns, struct ca_error *err)
{
    struct ca_intermediate_params params = {
        .trust_domain = td,
        .permit_dns = dns,
        .num_permit_dns = num_dns,
        .now = (int64_t)time(NULL),
        .ttl_s = 3600,
    };
    X509 *cert = NULL;
    enum ca_err rc = ca_intermediate_sign(root, root_key, csr, &params, &cert, err);
    cr_assert(rc != CA_OK || cert != NULL);
    cr_assert(rc == CA_OK || cert == NULL);
    X509_free(cert);
    return rc;
}

Test(ca_authority, refuses_a_csr_with_a_bad_signature_with_invalid_csr)
{
    struct ca_error err = {0};
    EVP_PKEY *root_key = new_key(CA_KEY_EC_P256);
    X509 *root = new_root(root_key, "example.org", (int64_t)time(NULL), 86400);
    EVP_PKEY *key = new_key(CA_KEY_EC_P256);
    X509_REQ *csr = new_csr(key, "example.org");
    unsigned char *der = NULL;
    int len = i2d_X509_REQ(csr, &der);
    cr_assert(len > 0);
    unsigned char *hit = memmem(der, (size_t)len, "intermediate", 12);
    cr_assert_not_null(hit);
    hit[0] = 'j'; /* well-formed still, but no longer what was signed */
    const unsigned char *p = der;
    X509_REQ *bad = d2i_X509_REQ(NULL, &p, len);
    cr_assert_not_null(bad);
    cr_assert_eq(sign_with(root, root_key, bad, "example.org", NULL, 0, &err), CA_ERR_INVALID_CSR);
    cr_assert_str_eq(err.msg, "bad CSR signature");
    cr_assert_eq(sign_with(root, root_key, csr, "example.org", NULL, 0, &err), CA_OK, "%s",
                 err.msg);
    OPENSSL_free(der);
    X509_REQ_free(bad);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
    X509_free(root);
    EVP_PKEY_free(root_key);
}

Test(ca_authority, never_copies_csr_extensions_or_subject)
{
    struct ca_error err = {0};
    EVP_PKEY *root_key = new_key(CA_KEY_EC_P256);
    X509 *root = new_root(root_key, "example.org", (int64_t)time(NULL), 86400);
    EVP_PKEY *key = new_key(CA_KEY_EC_P256);
    X509_REQ *csr = X509_REQ_new();
    X509_NAME *name = X509_REQ_get_subject_name(csr);
    cr_assert_eq(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"evil",
                                            -1, -1, 0),
                 1);
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    X509_EXTENSION *e1 = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, "DNS:evil.com");
    X509_EXTENSION *e2 =
        X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE,pathlen:9");
    cr_assert_not_null(e1);
    cr_assert_not_null(e2);
    sk_X509_EXTENSION_push(exts, e1);
    sk_X509_EXTENSION_push(exts, e2);
    cr_assert_eq(X509_REQ_add_extensions(csr, exts), 1);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    cr_assert_eq(X509_REQ_set_pubkey(csr, key), 1);
    cr_assert(X509_REQ_sign(csr, key, EVP_sha256()) > 0);

    struct ca_intermediate_params params = {
        .trust_domain = "example.org", .now = (int64_t)time(NULL), .ttl_s = 3600};
    X509 *cert = NULL;
    cr_assert_eq(ca_intermediate_sign(root, root_key, csr, &params, &cert, &err), CA_OK, "%s",
                 err.msg);
    assert_ca_basics(cert, 0);
    assert_td_san(cert, "example.org");
    cr_assert_str_eq(cn_of(cert), "example.org intermediate");
    X509_free(cert);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
    X509_free(root);
    EVP_PKEY_free(root_key);
}

Test(ca_authority, refuses_a_root_key_that_does_not_match_with_key_mismatch)
{
    EVP_PKEY *root_key = new_key(CA_KEY_EC_P256);
    EVP_PKEY *other = new_key(CA_KEY_EC_P256);
    X509 *root = new_root(root_key, "example.org", (int64_t)time(NULL), 86400);
    EVP_PKEY *key = new_key(CA_KEY_EC_P256);
    X509_REQ *csr = new_csr(key, "example.org");
    cr_assert_eq(sign_with(root, other, csr, "example.org", NULL, 0, NULL), CA_ERR_KEY_MISMATCH);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
    X509_free(root);
    EVP_PKEY_free(other);
    EVP_PKEY_free(root_key);
}

Test(ca_authority, refuses_a_trust_domain_other_than_the_roots_with_invalid_argument)
{
    EVP_PKEY *root_key = new_key(CA_KEY_EC_P256);
    X509 *root = new_root(root_key, "example.org", (int64_t)time(NULL), 86400);
    EVP_PKEY *key = new_key(CA_KEY_EC_P256);
    X509_REQ *csr = new_csr(key, "example.org");
    cr_assert_eq(sign_with(root, root_key, csr, "other.org", NULL, 0, NULL),
                 CA_ERR_INVALID_ARGUMENT);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
    X509_free(root);
    EVP_PKEY_free(root_key);
}

Test(ca_authority, refuses_malformed_dns_suffixes_with_invalid_argument)
{
    EVP_PKEY *root_key = new_key(CA_KEY_EC_P256);
    X509 *root = new_root(root_key, "example.org", (int64_t)time(NULL), 86400);
    EVP_PKEY *key = new_key(CA_KEY_EC_P256);
    X509_REQ *csr = new_csr(key, "example.org");
    static const char *const bad[] = {
        "", ".", "a..b", "*.example.org", "example.org.", "exa mple.org", "a/b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(sign_with(root, root_key, csr, "example.org", &bad[i], 1, NULL),
                     CA_ERR_INVALID_ARGUMENT, "'%s'", bad[i]);
    }
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
    X509_free(root);
    EVP_PKEY_free(root_key);
}

Test(ca_authority, refuses_a_csr_key_on_another_curve_with_unsupported_key)
{
    EVP_PKEY *root_key = new_key(CA_KEY_EC_P256);
    X509 *root = new_root(root_key, "example.org", (int64_t)time(NULL), 86400);
    EVP_PKEY *k1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
    cr_assert_not_null(k1);
    X509_REQ *csr = X509_REQ_new();
    cr_assert_eq(X509_REQ_set_pubkey(csr, k1), 1);
    cr_assert(X509_REQ_sign(csr, k1, EVP_sha256()) > 0);
    cr_assert_eq(sign_with(root, root_key, csr, "example.org", NULL, 0, NULL),
                 CA_ERR_UNSUPPORTED_KEY);
    X509_REQ_free(csr);
    EVP_PKEY_free(k1);
    X509_free(root);
    EVP_PKEY_free(root_key);
}

/* sign_csr_of signs a CSR for |key| with |md| and submits it for an
 * intermediate; the CSR's own signature verifies in every case. */
static enum ca_err sign_csr_of(EVP_PKEY *key, const EVP_MD *md, struct ca_error *err)
{
    EVP_PKEY *root_key = new_key(CA_KEY_EC_P256);
    X509 *root = new_root(root_key, "example.org", (int64_t)time(NULL), 86400);
    X509_REQ *csr = X509_REQ_new();
    cr_assert_eq(X509_REQ_set_pubkey(csr, key), 1);
    cr_assert(X509_REQ_sign(csr, key, md) > 0);
    cr_assert_eq(X509_REQ_verify(csr, key), 1, "the CSR's signature verifies");
    enum ca_err rc = sign_with(root, root_key, csr, "example.org", NULL, 0, err);
    X509_REQ_free(csr);
    X509_free(root);
    EVP_PKEY_free(root_key);
    return rc;
}

/* An intermediate whose RSA exponent is 1 would let anyone sign certificates
 * under the root without any private key. */
Test(ca_authority, refuses_a_csr_key_with_an_rsa_exponent_of_one)
{
    struct ca_error err = {0};
    EVP_PKEY *key = testpki_key_new(TESTPKI_RSA_E1);
    cr_assert_eq(sign_csr_of(key, EVP_sha256(), &err), CA_ERR_UNSUPPORTED_KEY);
    cr_assert_not_null(strstr(err.msg, "RSA public exponent"), "%s", err.msg);
    EVP_PKEY_free(key);
}

Test(ca_authority, refuses_a_csr_key_with_explicit_curve_parameters)
{
    struct ca_error err = {0};
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256_EXPLICIT);
    cr_assert_eq(sign_csr_of(key, EVP_sha256(), &err), CA_ERR_UNSUPPORTED_KEY);
    cr_assert_not_null(strstr(err.msg, "explicit curve parameters"), "%s", err.msg);
    EVP_PKEY_free(key);
}

Test(ca_authority, refuses_a_csr_signed_with_sha1_or_md5)
{
    struct ca_error err = {0};
    EVP_PKEY *ec = new_key(CA_KEY_EC_P256);
    EVP_PKEY *rsa = testpki_key_new(TESTPKI_RSA2048);
    cr_assert_eq(sign_csr_of(ec, EVP_sha1(), &err), CA_ERR_INVALID_CSR);
    cr_assert_not_null(strstr(err.msg, "SHA1: SHA-256, SHA-384 or SHA-512 required"), "%s",
                       err.msg);
    cr_assert_eq(sign_csr_of(rsa, EVP_md5(), &err), CA_ERR_INVALID_CSR);
    cr_assert_not_null(strstr(err.msg, "MD5"), "%s", err.msg);
    cr_assert_eq(sign_csr_of(ec, EVP_sha384(), &err), CA_OK, "%s", err.msg);
    cr_assert_eq(sign_csr_of(rsa, EVP_sha512(), &err), CA_OK, "%s", err.msg);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
}

Test(ca_authority, reads_the_trust_domain_back_from_the_root)
{
    char td[256];
    struct ca_error err = {0};
    EVP_PKEY *key = new_key(CA_KEY_EC_P256);
    X509 *root = new_root(key, "prod.example.org", (int64_t)time(NULL), 3600);
    cr_assert_eq(ca_cert_trust_domain(root, td, sizeof(td), &err), CA_OK, "%s", err.msg);
    cr_assert_str_eq(td, "prod.example.org");
    cr_assert_eq(ca_cert_trust_domain(root, td, 5, &err), CA_ERR_INVALID_ARGUMENT);
    X509_free(root);
    EVP_PKEY_free(key);
}

Test(ca_authority, refuses_a_certificate_without_a_spiffe_san_with_invalid_cert)
{
    char td[256];
    X509 *bare = X509_new();
    cr_assert_eq(ca_cert_trust_domain(bare, td, sizeof(td), NULL), CA_ERR_INVALID_CERT);
    X509_free(bare);
}

/* leaf_verify issues, with the intermediate's key, a leaf carrying the single
 * SAN |san| (OpenSSL config syntax) and returns OpenSSL's verdict on it. */
static int leaf_verify(struct chain *c, const char *san)
{
    EVP_PKEY *leaf_key = new_key(CA_KEY_EC_P256);
    X509 *leaf = X509_new();
    X509V3_CTX ctx;
    cr_assert_eq(X509_set_version(leaf, X509_VERSION_3), 1);
    cr_assert_eq(ASN1_INTEGER_set(X509_get_serialNumber(leaf), 7), 1);
    cr_assert_eq(X509_set_issuer_name(leaf, X509_get_subject_name(c->cert)), 1);
    cr_assert_not_null(X509_gmtime_adj(X509_getm_notBefore(leaf), -60));
    cr_assert_not_null(X509_gmtime_adj(X509_getm_notAfter(leaf), 3600));
    cr_assert_eq(X509_set_pubkey(leaf, leaf_key), 1);
    X509V3_set_ctx(&ctx, c->cert, leaf, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
    cr_assert_not_null(ext);
    cr_assert_eq(X509_add_ext(leaf, ext, -1), 1);
    X509_EXTENSION_free(ext);
    cr_assert(X509_sign(leaf, c->key, EVP_sha256()) > 0);

    X509_STORE *store = X509_STORE_new();
    cr_assert_eq(X509_STORE_add_cert(store, c->root), 1);
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    sk_X509_push(untrusted, c->cert);
    X509_STORE_CTX *vctx = X509_STORE_CTX_new();
    cr_assert_eq(X509_STORE_CTX_init(vctx, store, leaf, untrusted), 1);
    int ok = X509_verify_cert(vctx);
    int verdict = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(vctx);
    cr_assert(ok == 1 || verdict != X509_V_OK);
    X509_STORE_CTX_free(vctx);
    sk_X509_free(untrusted);
    X509_STORE_free(store);
    X509_free(leaf);
    EVP_PKEY_free(leaf_key);
    return verdict;
}

Test(ca_authority, name_constraints_let_openssl_accept_spiffe_ids_of_the_trust_domain_only)
{
    static const char *const dns[] = {"svc.example.org"};
    struct chain c;
    chain_make(&c, CA_KEY_EC_P256, (int64_t)time(NULL), 86400, 3600, dns, 1);
    cr_assert_eq(leaf_verify(&c, "URI:spiffe://example.org/ns/x/sa/y"), X509_V_OK);
    cr_assert_eq(leaf_verify(&c, "URI:spiffe://EXAMPLE.org/ns/x"), X509_V_OK,
                 "a URI host compares case-insensitively");
    cr_assert_eq(leaf_verify(&c, "URI:spiffe://other.org/ns/x"), X509_V_ERR_PERMITTED_VIOLATION);
    cr_assert_eq(leaf_verify(&c, "URI:spiffe://sub.example.org/x"), X509_V_ERR_PERMITTED_VIOLATION,
                 "a URI constraint matches the host exactly");
    cr_assert_eq(leaf_verify(&c, "URI:spiffe://example.org.evil.com/x"),
                 X509_V_ERR_PERMITTED_VIOLATION);
    chain_free(&c);
}

Test(ca_authority, name_constraints_let_openssl_accept_permitted_dns_suffixes_only)
{
    static const char *const dns[] = {"svc.example.org", "localhost"};
    struct chain c;
    chain_make(&c, CA_KEY_EC_P256, (int64_t)time(NULL), 86400, 3600, dns, 2);
    cr_assert_eq(leaf_verify(&c, "DNS:web.svc.example.org"), X509_V_OK);
    cr_assert_eq(leaf_verify(&c, "DNS:svc.example.org"), X509_V_OK);
    cr_assert_eq(leaf_verify(&c, "DNS:localhost"), X509_V_OK);
    cr_assert_eq(leaf_verify(&c, "DNS:www.example.com"), X509_V_ERR_PERMITTED_VIOLATION);
    cr_assert_eq(leaf_verify(&c, "DNS:evilsvc.example.org"), X509_V_ERR_PERMITTED_VIOLATION,
                 "a suffix matches whole labels only");
    chain_free(&c);
}
