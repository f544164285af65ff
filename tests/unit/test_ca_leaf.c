/* test_ca_leaf.c: the issued X.509-SVID (ca/leaf.c), parsed back with OpenSSL
 * and checked field by field against CONTRACT section 4, for every accepted
 * key type and several intermediate key types; TTL rules; serials; and the
 * real `openssl verify`. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "testpki.h"

#define DAY 86400

static struct testpki pki;
static struct ca_issuer *issuer;

static const struct ca_policy policy = {
    .trust_domain = "example.org",
    .public_url = "http://ca.example.org:8080",
    .default_ttl_s = 3600,
    .max_ttl_s = DAY,
};

static void make_issuer(enum testpki_key inter_type, int64_t inter_ttl_s)
{
    struct ca_error err = {0};
    testpki_init_ex(&pki, "example.org", TESTPKI_P256, inter_type, inter_ttl_s, NULL, 0);
    cr_assert_eq(ca_issuer_new(pki.inter, pki.inter_key, pki.roots, &policy, &issuer, &err), CA_OK,
                 "%s", err.msg);
}

static void setup(void)
{
    make_issuer(TESTPKI_P256, 365 * DAY);
}

static void teardown(void)
{
    ca_issuer_free(issuer);
    issuer = NULL;
    testpki_cleanup(&pki);
}

TestSuite(ca_leaf, .init = setup, .fini = teardown);

static const char *const dns_names[] = {"web.example.org"};
static const char *const ips[] = {"10.0.0.7", "2001:db8::1"};
static const struct ca_identity ident = {
    .spiffe_id = "spiffe://example.org/ns/default/sa/web",
    .dns_names = dns_names,
    .num_dns_names = 1,
    .ips = ips,
    .num_ips = 2,
};

static enum ca_err issue_key(EVP_PKEY *key, int extras, int64_t ttl, int64_t now,
                             struct ca_leaf *leaf, struct ca_error *err)
{
    size_t len = 0;
    char *pem = testpki_csr_pem(key, NULL, 0, extras, &len);
    enum ca_err rc = ca_leaf_issue(issuer, pem, len, &ident, ttl, now, leaf, err);
    free(pem);
    return rc;
}

static X509 *parse(const struct ca_leaf *leaf)
{
    const unsigned char *p = leaf->der;
    X509 *x = d2i_X509(NULL, &p, (long)leaf->der_len);
    cr_assert_not_null(x);
    cr_assert_eq(p, leaf->der + leaf->der_len);
    return x;
}

static X509_EXTENSION *ext_at(X509 *x, int nid, int want_critical)
{
    int idx = X509_get_ext_by_NID(x, nid, -1);
    cr_assert_geq(idx, 0, "extension %s missing", OBJ_nid2sn(nid));
    cr_assert_lt(X509_get_ext_by_NID(x, nid, idx), 0, "extension %s twice", OBJ_nid2sn(nid));
    X509_EXTENSION *ext = X509_get_ext(x, idx);
    cr_assert_eq(X509_EXTENSION_get_critical(ext), want_critical, "%s criticality",
                 OBJ_nid2sn(nid));
    return ext;
}

static void assert_uri(const GENERAL_NAME *gen, const char *want)
{
    int type = -1;
    const ASN1_STRING *s = GENERAL_NAME_get0_value(gen, &type);
    cr_assert_eq(type, GEN_URI);
    cr_assert_eq((size_t)ASN1_STRING_length(s), strlen(want));
    cr_assert_eq(memcmp(ASN1_STRING_get0_data(s), want, strlen(want)), 0);
}

/* assert_profile checks every field of CONTRACT section 4's leaf profile. */
static void assert_profile(const struct ca_leaf *leaf, EVP_PKEY *key, int64_t now, int64_t ttl)
{
    X509 *x = parse(leaf);

    /* Version 3, serial 20 bytes positive, equal to what the struct says. */
    cr_assert_eq(X509_get_version(x), X509_VERSION_3);
    const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
    cr_assert_eq(ASN1_STRING_type(sn), V_ASN1_INTEGER);
    cr_assert_eq(ASN1_STRING_length(sn), CA_SERIAL_LEN);
    cr_assert_neq(ASN1_STRING_get0_data(sn)[0], 0);
    cr_assert_eq(memcmp(ASN1_STRING_get0_data(sn), leaf->serial, CA_SERIAL_LEN), 0);

    /* Signature algorithm follows the intermediate key; the signature verifies. */
    int want_sig = NID_ecdsa_with_SHA256;
    if (EVP_PKEY_is_a(pki.inter_key, "ED25519")) {
        want_sig = NID_ED25519;
    } else if (EVP_PKEY_is_a(pki.inter_key, "RSA")) {
        want_sig = NID_sha256WithRSAEncryption;
    } else if (EVP_PKEY_get_bits(pki.inter_key) == 384) {
        want_sig = NID_ecdsa_with_SHA384;
    }
    cr_assert_eq(X509_get_signature_nid(x), want_sig, "signature %s",
                 OBJ_nid2sn(X509_get_signature_nid(x)));
    cr_assert_eq(X509_verify(x, pki.inter_key), 1);
    /* The DER is OpenSSL's own encoding of what it holds: re-encoding the
     * parsed certificate gives the same bytes (leaf.c writes the outer
     * SEQUENCE and BIT STRING around the TBS it signed). */
    unsigned char *re = NULL;
    int re_len = i2d_X509(x, &re);
    cr_assert_eq(re_len, (int)leaf->der_len);
    cr_assert_eq(memcmp(re, leaf->der, leaf->der_len), 0);
    OPENSSL_free(re);
    unsigned char *tbs = NULL;
    int tbs_len = i2d_re_X509_tbs(x, &tbs);
    cr_assert_gt(tbs_len, 0);
    size_t header = leaf->der[1] & 0x80 ? 2 + (size_t)(leaf->der[1] & 0x7f) : 2;
    cr_assert_leq(header + (size_t)tbs_len, leaf->der_len);
    cr_assert_eq(memcmp(tbs, leaf->der + header, (size_t)tbs_len), 0,
                 "the TBS is encoded as OpenSSL encodes it afresh");
    OPENSSL_free(tbs);

    /* Empty subject, issuer = the intermediate's subject. */
    cr_assert_eq(X509_NAME_entry_count(X509_get_subject_name(x)), 0);
    cr_assert_eq(X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(pki.inter)), 0);

    /* Validity: now - 60 s to now + ttl. */
    int days = 0;
    int secs = 0;
    ASN1_TIME *t = ASN1_TIME_new();
    cr_assert_not_null(ASN1_TIME_set(t, (time_t)(now - 60)));
    cr_assert_eq(ASN1_TIME_compare(X509_get0_notBefore(x), t), 0);
    cr_assert_not_null(ASN1_TIME_set(t, (time_t)(now + ttl)));
    cr_assert_eq(ASN1_TIME_compare(X509_get0_notAfter(x), t), 0);
    cr_assert_eq(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x)), 1);
    cr_assert_eq((int64_t)days * DAY + secs, ttl + 60);
    ASN1_TIME_free(t);
    cr_assert_eq(leaf->not_before, now - 60);
    cr_assert_eq(leaf->not_after, now + ttl);

    /* The key is the CSR's. */
    cr_assert_eq(EVP_PKEY_eq(X509_get0_pubkey(x), key), 1);

    /* Exactly eight extensions, none from the CSR. */
    cr_assert_eq(X509_get_ext_count(x), 8);

    ext_at(x, NID_basic_constraints, 1);
    BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
    cr_assert_not_null(bc);
    cr_assert_eq(bc->ca, 0);
    cr_assert_null(bc->pathlen);
    BASIC_CONSTRAINTS_free(bc);

    ext_at(x, NID_key_usage, 1);
    uint32_t want_ku = KU_DIGITAL_SIGNATURE;
    if (EVP_PKEY_is_a(key, "RSA")) {
        want_ku |= KU_KEY_ENCIPHERMENT;
    }
    cr_assert_eq(X509_get_key_usage(x), want_ku);

    ext_at(x, NID_ext_key_usage, 0);
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
    cr_assert_eq(sk_ASN1_OBJECT_num(eku), 2);
    cr_assert_eq(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)), NID_server_auth);
    cr_assert_eq(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 1)), NID_client_auth);
    sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);

    ext_at(x, NID_subject_alt_name, 1);
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    cr_assert_eq(sk_GENERAL_NAME_num(gens), 4);
    assert_uri(sk_GENERAL_NAME_value(gens, 0), ident.spiffe_id);
    int type = -1;
    const ASN1_STRING *s = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(gens, 1), &type);
    cr_assert_eq(type, GEN_DNS);
    cr_assert_eq(ASN1_STRING_length(s), (int)strlen("web.example.org"));
    cr_assert_eq(memcmp(ASN1_STRING_get0_data(s), "web.example.org", 15), 0);
    static const unsigned char ip4[] = {10, 0, 0, 7};
    s = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(gens, 2), &type);
    cr_assert_eq(type, GEN_IPADD);
    cr_assert_eq(ASN1_STRING_length(s), 4);
    cr_assert_eq(memcmp(ASN1_STRING_get0_data(s), ip4, 4), 0);
    s = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(gens, 3), &type);
    cr_assert_eq(type, GEN_IPADD);
    cr_assert_eq(ASN1_STRING_length(s), 16);
    GENERAL_NAMES_free(gens);

    /* SKID: SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2 method 1). */
    ext_at(x, NID_subject_key_identifier, 0);
    const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(x);
    unsigned char md[20];
    cr_assert_eq(EVP_Digest(bits->data, (size_t)bits->length, md, NULL, EVP_sha1(), NULL), 1);
    const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(x);
    cr_assert_eq(ASN1_STRING_length(skid), 20);
    cr_assert_eq(memcmp(ASN1_STRING_get0_data(skid), md, 20), 0);

    /* AKID: keyid only, the intermediate's SKID. */
    ext_at(x, NID_authority_key_identifier, 0);
    AUTHORITY_KEYID *akid = X509_get_ext_d2i(x, NID_authority_key_identifier, NULL, NULL);
    cr_assert_not_null(akid->keyid);
    cr_assert_null(akid->issuer);
    cr_assert_null(akid->serial);
    cr_assert_eq(ASN1_OCTET_STRING_cmp(akid->keyid, X509_get0_subject_key_id(pki.inter)), 0);
    AUTHORITY_KEYID_free(akid);

    /* AIA: OCSP and caIssuers under public_url. */
    ext_at(x, NID_info_access, 0);
    AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(x, NID_info_access, NULL, NULL);
    cr_assert_eq(sk_ACCESS_DESCRIPTION_num(aia), 2);
    ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, 0);
    cr_assert_eq(OBJ_obj2nid(ad->method), NID_ad_OCSP);
    assert_uri(ad->location, "http://ca.example.org:8080/ocsp");
    ad = sk_ACCESS_DESCRIPTION_value(aia, 1);
    cr_assert_eq(OBJ_obj2nid(ad->method), NID_ad_ca_issuers);
    assert_uri(ad->location, "http://ca.example.org:8080/ca.crt");
    AUTHORITY_INFO_ACCESS_free(aia);

    /* CRL distribution point: one fullName URI. */
    ext_at(x, NID_crl_distribution_points, 0);
    CRL_DIST_POINTS *cdp = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
    cr_assert_eq(sk_DIST_POINT_num(cdp), 1);
    DIST_POINT *dp = sk_DIST_POINT_value(cdp, 0);
    cr_assert_null(dp->reasons);
    cr_assert_null(dp->CRLissuer);
    cr_assert_eq(dp->distpoint->type, 0);
    cr_assert_eq(sk_GENERAL_NAME_num(dp->distpoint->name.fullname), 1);
    assert_uri(sk_GENERAL_NAME_value(dp->distpoint->name.fullname, 0),
               "http://ca.example.org:8080/crl");
    CRL_DIST_POINTS_free(cdp);

    /* The PEM is the DER. */
    BIO *bio = BIO_new_mem_buf(leaf->pem, (int)leaf->pem_len);
    X509 *from_pem = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    cr_assert_not_null(from_pem);
    cr_assert_eq(X509_cmp(from_pem, x), 0);
    cr_assert_eq(strlen(leaf->pem), leaf->pem_len);
    X509_free(from_pem);
    BIO_free(bio);
    X509_free(x);
}

static void check_key_type(enum testpki_key type)
{
    EVP_PKEY *key = testpki_key_new(type);
    struct ca_leaf leaf = {0};
    struct ca_error err = {0};
    int64_t now = (int64_t)time(NULL);
    cr_assert_eq(issue_key(key, 0, 7200, now, &leaf, &err), CA_OK, "%s", err.msg);
    assert_profile(&leaf, key, now, 7200);
    ca_leaf_cleanup(&leaf);
    EVP_PKEY_free(key);
}

Test(ca_leaf, issues_the_exact_profile_for_a_p256_key)
{
    check_key_type(TESTPKI_P256);
}

Test(ca_leaf, issues_the_exact_profile_for_a_p384_key)
{
    check_key_type(TESTPKI_P384);
}

Test(ca_leaf, issues_the_exact_profile_for_an_ed25519_key)
{
    check_key_type(TESTPKI_ED25519);
}

Test(ca_leaf, issues_the_exact_profile_with_key_encipherment_for_an_rsa_2048_key)
{
    check_key_type(TESTPKI_RSA2048);
}

Test(ca_leaf, signs_with_pure_ed25519_under_an_ed25519_intermediate)
{
    teardown();
    make_issuer(TESTPKI_ED25519, 365 * DAY);
    check_key_type(TESTPKI_P256);
    check_key_type(TESTPKI_ED25519);
}

Test(ca_leaf, signs_with_ecdsa_sha384_under_a_p384_intermediate)
{
    teardown();
    make_issuer(TESTPKI_P384, 365 * DAY);
    check_key_type(TESTPKI_P256);
    check_key_type(TESTPKI_P384);
}

Test(ca_leaf, signs_with_sha256_rsa_under_an_rsa_intermediate)
{
    teardown();
    make_issuer(TESTPKI_RSA2048, 365 * DAY);
    check_key_type(TESTPKI_P256);
}

Test(ca_leaf, ignores_ca_true_key_usage_and_eku_asked_for_in_the_csr)
{
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    struct ca_leaf leaf = {0};
    struct ca_error err = {0};
    int64_t now = (int64_t)time(NULL);
    cr_assert_eq(issue_key(key, TESTPKI_CSR_CA_TRUE | TESTPKI_CSR_KEY_USAGE | TESTPKI_CSR_EKU, 600,
                           now, &leaf, &err),
                 CA_OK, "%s", err.msg);
    assert_profile(&leaf, key, now, 600);
    ca_leaf_cleanup(&leaf);
    EVP_PKEY_free(key);
}

Test(ca_leaf, issues_for_a_key_without_a_csr)
{
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    struct ca_leaf leaf = {0};
    struct ca_error err = {0};
    int64_t now = (int64_t)time(NULL);
    cr_assert_eq(ca_leaf_issue_for_key(issuer, key, &ident, 0, now, &leaf, &err), CA_OK, "%s",
                 err.msg);
    assert_profile(&leaf, key, now, 3600);
    ca_leaf_cleanup(&leaf);
    EVP_PKEY_free(key);
}

Test(ca_leaf, refuses_an_rsa_1024_key_without_a_csr)
{
    EVP_PKEY *key = testpki_key_new(TESTPKI_RSA1024);
    struct ca_leaf leaf = {0};
    cr_assert_eq(ca_leaf_issue_for_key(issuer, key, &ident, 0, (int64_t)time(NULL), &leaf, NULL),
                 CA_ERR_UNSUPPORTED_KEY);
    EVP_PKEY_free(key);
}

Test(ca_leaf, uses_the_default_ttl_for_zero)
{
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    struct ca_leaf leaf = {0};
    int64_t now = (int64_t)time(NULL);
    cr_assert_eq(issue_key(key, 0, 0, now, &leaf, NULL), CA_OK);
    cr_assert_eq(leaf.not_after, now + policy.default_ttl_s);
    ca_leaf_cleanup(&leaf);
    EVP_PKEY_free(key);
}

Test(ca_leaf, clamps_the_ttl_to_the_policy_maximum)
{
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    struct ca_leaf leaf = {0};
    int64_t now = (int64_t)time(NULL);
    cr_assert_eq(issue_key(key, 0, 30 * DAY, now, &leaf, NULL), CA_OK);
    cr_assert_eq(leaf.not_after, now + DAY);
    X509 *x = parse(&leaf);
    int days = -1;
    int secs = -1;
    cr_assert_eq(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x)), 1);
    cr_assert_eq(days * DAY + secs, DAY + 60);
    X509_free(x);
    ca_leaf_cleanup(&leaf);
    EVP_PKEY_free(key);
}

Test(ca_leaf, clamps_the_ttl_to_the_intermediate_not_after)
{
    teardown();
    make_issuer(TESTPKI_P256, 1800); /* the intermediate ends in 30 minutes */
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    struct ca_leaf leaf = {0};
    int64_t now = (int64_t)time(NULL);
    cr_assert_eq(issue_key(key, 0, 7200, now, &leaf, NULL), CA_OK);
    cr_assert_eq(leaf.not_after, ca_issuer_not_after(issuer));
    X509 *x = parse(&leaf);
    cr_assert_eq(ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(pki.inter)), 0);
    X509_free(x);
    ca_leaf_cleanup(&leaf);
    EVP_PKEY_free(key);
}

Test(ca_leaf, refuses_a_ttl_under_a_minute_or_negative_with_invalid_ttl)
{
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    struct ca_leaf leaf = {0};
    struct ca_error err = {0};
    int64_t now = (int64_t)time(NULL);
    cr_assert_eq(issue_key(key, 0, 59, now, &leaf, &err), CA_ERR_INVALID_TTL);
    cr_assert_eq(issue_key(key, 0, 1, now, &leaf, &err), CA_ERR_INVALID_TTL);
    cr_assert_eq(issue_key(key, 0, -1, now, &leaf, &err), CA_ERR_INVALID_TTL);
    cr_assert_eq(issue_key(key, 0, 60, now, &leaf, &err), CA_OK, "%s", err.msg);
    cr_assert_eq(leaf.not_after, now + 60);
    ca_leaf_cleanup(&leaf);
    EVP_PKEY_free(key);
}

Test(ca_leaf, refuses_to_issue_from_an_intermediate_about_to_expire)
{
    teardown();
    make_issuer(TESTPKI_P256, 30); /* less than 60 s left */
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    struct ca_leaf leaf = {0};
    struct ca_error err = {0};
    cr_assert_eq(issue_key(key, 0, 0, (int64_t)time(NULL), &leaf, &err), CA_ERR_ISSUER_EXPIRED);
    EVP_PKEY_free(key);
}

Test(ca_leaf, refuses_to_issue_after_the_intermediate_expired)
{
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    struct ca_leaf leaf = {0};
    int64_t later = ca_issuer_not_after(issuer) + 10;
    cr_assert_eq(issue_key(key, 0, 0, later, &leaf, NULL), CA_ERR_ISSUER_EXPIRED);
    EVP_PKEY_free(key);
}

/* wall_ms is the wall clock in milliseconds since the epoch. */
static uint64_t wall_ms(void)
{
    struct timespec ts;
    cr_assert_eq(clock_gettime(CLOCK_REALTIME, &ts), 0);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* serial_ms reads the time prefix of a serial signet issued. */
static uint64_t serial_ms(const unsigned char *serial)
{
    uint64_t ms = 0;
    for (size_t i = 0; i < CA_SERIAL_TIME_LEN; i++) {
        ms = ms << 8 | serial[i];
    }
    return ms;
}

Test(ca_leaf, draws_distinct_positive_20_byte_serials_that_grow_with_time)
{
    enum {
        N = 40
    };
    static unsigned char seen[N][CA_SERIAL_LEN];
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    size_t len = 0;
    char *pem = testpki_csr_pem(key, NULL, 0, 0, &len);
    for (int i = 0; i < N; i++) {
        struct ca_leaf leaf = {0};
        uint64_t before = wall_ms();
        cr_assert_eq(ca_leaf_issue(issuer, pem, len, &ident, 0, (int64_t)time(NULL), &leaf, NULL),
                     CA_OK);
        uint64_t after = wall_ms();
        /* The first 6 bytes are the issuance time in ms, so serials sort in
         * issuance order (what keeps the store's indexes append-mostly). */
        cr_assert(serial_ms(leaf.serial) >= before && serial_ms(leaf.serial) <= after,
                  "serial time %llu not in [%llu, %llu]",
                  (unsigned long long)serial_ms(leaf.serial), (unsigned long long)before,
                  (unsigned long long)after);
        if (i > 0) {
            cr_assert_geq(memcmp(leaf.serial, seen[i - 1], CA_SERIAL_TIME_LEN), 0);
        }
        cr_assert_eq(leaf.serial_len, CA_SERIAL_LEN);
        cr_assert(leaf.serial[0] != 0 && leaf.serial[0] < 0x80);
        /* Hex: lower-case, no leading zero, the same number. */
        cr_assert_neq(leaf.serial_hex[0], '0');
        BIGNUM *bn = NULL;
        cr_assert_gt(BN_hex2bn(&bn, leaf.serial_hex), 0);
        unsigned char back[CA_SERIAL_LEN];
        cr_assert_eq(BN_bn2binpad(bn, back, CA_SERIAL_LEN), CA_SERIAL_LEN);
        cr_assert_eq(memcmp(back, leaf.serial, CA_SERIAL_LEN), 0);
        for (const char *c = leaf.serial_hex; *c != '\0'; c++) {
            cr_assert((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'));
        }
        BN_free(bn);
        for (int k = 0; k < i; k++) {
            cr_assert_neq(memcmp(seen[k], leaf.serial, CA_SERIAL_LEN), 0);
        }
        memcpy(seen[i], leaf.serial, CA_SERIAL_LEN);
        ca_leaf_cleanup(&leaf);
    }
    free(pem);
    EVP_PKEY_free(key);
}

/* Leaves are built from the pooled previous leaf (leaf.c): alternate key
 * types, identities and lifetimes so that anything one leaf left behind
 * would show in the next. */
Test(ca_leaf, a_leaf_built_from_a_pooled_one_keeps_nothing_of_it)
{
    static const enum testpki_key types[] = {TESTPKI_P256, TESTPKI_RSA2048, TESTPKI_ED25519,
                                             TESTPKI_P384, TESTPKI_RSA2048, TESTPKI_P256};
    static const struct ca_identity other = {.spiffe_id = "spiffe://example.org/other"};
    int64_t now = (int64_t)time(NULL);
    int first_order[8];

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        EVP_PKEY *key = testpki_key_new(types[i]);
        struct ca_leaf leaf = {0};
        struct ca_error err = {0};
        int64_t ttl = 3600 + 60 * (int64_t)i;
        if (i % 2 == 0) {
            cr_assert_eq(issue_key(key, 0, ttl, now + (int64_t)i, &leaf, &err), CA_OK, "%s",
                         err.msg);
            assert_profile(&leaf, key, now + (int64_t)i, ttl);
        } else {
            size_t len = 0;
            char *pem = testpki_csr_pem(key, NULL, 0, 0, &len);
            cr_assert_eq(ca_leaf_issue(issuer, pem, len, &other, ttl, now, &leaf, &err), CA_OK,
                         "%s", err.msg);
            free(pem);
            X509 *x = parse(&leaf);
            cr_assert_eq(X509_verify(x, pki.inter_key), 1);
            cr_assert_eq(EVP_PKEY_eq(X509_get0_pubkey(x), key), 1);
            cr_assert_eq(leaf.not_after, now + ttl);
            cr_assert_eq(X509_get_ext_count(x), 8);
            GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
            cr_assert_eq(sk_GENERAL_NAME_num(gens), 1, "only the one URI of this identity");
            assert_uri(sk_GENERAL_NAME_value(gens, 0), other.spiffe_id);
            GENERAL_NAMES_free(gens);
            uint32_t want_ku = KU_DIGITAL_SIGNATURE;
            if (EVP_PKEY_is_a(key, "RSA")) {
                want_ku |= KU_KEY_ENCIPHERMENT;
            }
            cr_assert_eq(X509_get_key_usage(x), want_ku);
            const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(x);
            unsigned char md[20];
            cr_assert_eq(EVP_Digest(bits->data, (size_t)bits->length, md, NULL, EVP_sha1(), NULL),
                         1);
            cr_assert_eq(memcmp(ASN1_STRING_get0_data(X509_get0_subject_key_id(x)), md, 20), 0);
            X509_free(x);
        }
        /* The extensions keep the profile's order whatever was replaced. */
        X509 *x = parse(&leaf);
        for (int e = 0; e < 8; e++) {
            int nid = OBJ_obj2nid(X509_EXTENSION_get_object(X509_get_ext(x, e)));
            if (i == 0) {
                first_order[e] = nid;
            }
            cr_assert_eq(nid, first_order[e], "extension %d of leaf %zu", e, i);
        }
        X509_free(x);
        ca_leaf_cleanup(&leaf);
        EVP_PKEY_free(key);
    }
}

/* ca_random_bytes hands buffered bytes out once: never the same draw twice,
 * and never the parent's next bytes to a child after fork(). */
Test(ca_leaf, random_bytes_are_never_handed_out_twice_also_across_fork)
{
    unsigned char a[16], b[16], big[1000];

    cr_assert_eq(ca_random_bytes(a, sizeof(a)), 1);
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(ca_random_bytes(b, sizeof(b)), 1);
        cr_assert_neq(memcmp(a, b, sizeof(a)), 0);
    }
    cr_assert_eq(ca_random_bytes(big, sizeof(big)), 1, "more than one block at once");

    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    cr_assert_eq(ca_random_bytes(a, 8), 1); /* the buffer now holds unused bytes */
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        unsigned char c[16];
        int ok = ca_random_bytes(c, sizeof(c));
        _exit(ok == 1 && write(fds[1], c, sizeof(c)) == (ssize_t)sizeof(c) ? 0 : 1);
    }
    unsigned char child[16];
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_eq(read(fds[0], child, sizeof(child)), (ssize_t)sizeof(child));
    cr_assert_eq(ca_random_bytes(b, sizeof(b)), 1);
    cr_assert_neq(memcmp(child, b, sizeof(b)), 0, "the child drew the parent's next bytes");
    close(fds[0]);
    close(fds[1]);
}

Test(ca_leaf, refuses_a_bad_identity_before_looking_at_the_csr)
{
    static const char *const bad_dns[] = {"-bad-.example.org"};
    static const char *const bad_ip[] = {"10.0.0.256"};
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    size_t len = 0;
    char *pem = testpki_csr_pem(key, NULL, 0, 0, &len);
    struct ca_leaf leaf = {0};
    int64_t now = (int64_t)time(NULL);
    struct ca_identity id = {.spiffe_id = "spiffe://other.org/x"};
    cr_assert_eq(ca_leaf_issue(issuer, pem, len, &id, 0, now, &leaf, NULL),
                 CA_ERR_INVALID_SPIFFE_ID);
    id.spiffe_id = "spiffe://example.org/x";
    id.dns_names = bad_dns;
    id.num_dns_names = 1;
    cr_assert_eq(ca_leaf_issue(issuer, pem, len, &id, 0, now, &leaf, NULL),
                 CA_ERR_INVALID_ARGUMENT);
    id.num_dns_names = 0;
    id.ips = bad_ip;
    id.num_ips = 1;
    cr_assert_eq(ca_leaf_issue(issuer, pem, len, &id, 0, now, &leaf, NULL),
                 CA_ERR_INVALID_ARGUMENT);
    free(pem);
    EVP_PKEY_free(key);
}

Test(ca_leaf, passes_openssl_verify_against_root_and_intermediate)
{
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    struct ca_leaf leaf = {0};
    char path[256];
    char out[1024];
    cr_assert_eq(issue_key(key, 0, 0, (int64_t)time(NULL), &leaf, NULL), CA_OK);
    testpki_write(&pki, "leaf.pem", leaf.pem, leaf.pem_len, path, sizeof(path));
    int status = testpki_openssl_verify(&pki, path, out, sizeof(out));
    cr_assert_eq(status, 0, "openssl verify: %s", out);
    cr_assert_not_null(strstr(out, ": OK"), "%s", out);
    ca_leaf_cleanup(&leaf);
    EVP_PKEY_free(key);
}

Test(ca_leaf, a_leaf_forced_outside_the_trust_domain_fails_openssl_verify)
{
    /* Signed by hand with the intermediate key, bypassing the engine: the
     * intermediate's nameConstraints make relying parties refuse it. */
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    int64_t now = (int64_t)time(NULL);
    X509 *x = testpki_sign_leaf(&pki, key, "spiffe://evil.org/x", now - 60, now + 3600, 0);
    unsigned char *der = NULL;
    int der_len = i2d_X509(x, &der);
    char path[256];
    char out[1024];
    testpki_write_der_cert(&pki, "evil.pem", der, (size_t)der_len, path, sizeof(path));
    int status = testpki_openssl_verify(&pki, path, out, sizeof(out));
    cr_assert_neq(status, 0, "openssl verify accepted: %s", out);
    cr_assert_not_null(strstr(out, "permitted subtree violation"), "%s", out);
    OPENSSL_free(der);
    X509_free(x);
    EVP_PKEY_free(key);
}
