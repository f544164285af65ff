/* test_ca_issuer.c: building an issuer (ca/issuer.c), its pre-encoded chain and
 * bundle, and verifying client certificates against it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "testpki.h"

static struct testpki pki;
static struct ca_issuer *issuer;

static const struct ca_policy policy = {
    .trust_domain = "example.org",
    .public_url = "https://ca.example.org/",
    .default_ttl_s = 3600,
    .max_ttl_s = 86400,
};

static void setup(void)
{
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

TestSuite(ca_issuer, .init = setup, .fini = teardown);

static const char *const dns_names[] = {"web.example.org", "web"};
static const struct ca_identity ident = {
    .spiffe_id = "spiffe://example.org/ns/default/sa/web",
    .dns_names = dns_names,
    .num_dns_names = 2,
};

static void issue(const struct ca_issuer *iss, struct ca_leaf *leaf)
{
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    size_t len = 0;
    struct ca_error err = {0};
    char *pem = testpki_csr_pem(key, NULL, 0, 0, &len);
    cr_assert_eq(ca_leaf_issue(iss, pem, len, &ident, 0, (int64_t)time(NULL), leaf, &err), CA_OK,
                 "%s", err.msg);
    free(pem);
    EVP_PKEY_free(key);
}

static void assert_msg(const struct ca_error *err, const char *needle)
{
    cr_assert_not_null(strstr(err->msg, needle), "message '%s' lacks '%s'", err->msg, needle);
}

Test(ca_issuer, refuses_a_key_that_does_not_match_the_certificate)
{
    struct ca_issuer *iss = NULL;
    EVP_PKEY *other = testpki_key_new(TESTPKI_P256);
    cr_assert_eq(ca_issuer_new(pki.inter, other, pki.roots, &policy, &iss, NULL),
                 CA_ERR_KEY_MISMATCH);
    cr_assert_null(iss);
    EVP_PKEY_free(other);
}

Test(ca_issuer, refuses_an_intermediate_that_does_not_chain_to_the_roots)
{
    struct testpki other;
    struct ca_issuer *iss = NULL;
    struct ca_error err = {0};
    testpki_init(&other, "example.org");
    cr_assert_eq(ca_issuer_new(pki.inter, pki.inter_key, other.roots, &policy, &iss, &err),
                 CA_ERR_UNTRUSTED_CERT);
    assert_msg(&err, "roots");
    testpki_cleanup(&other);
}

Test(ca_issuer, refuses_a_policy_it_cannot_honour)
{
    struct ca_issuer *iss = NULL;
    struct ca_policy p = policy;
    p.default_ttl_s = 30;
    cr_assert_eq(ca_issuer_new(pki.inter, pki.inter_key, pki.roots, &p, &iss, NULL),
                 CA_ERR_INVALID_ARGUMENT);
    p = policy;
    p.max_ttl_s = 60;
    cr_assert_eq(ca_issuer_new(pki.inter, pki.inter_key, pki.roots, &p, &iss, NULL),
                 CA_ERR_INVALID_ARGUMENT);
    p = policy;
    memcpy(p.public_url, "ftp://x", 8);
    cr_assert_eq(ca_issuer_new(pki.inter, pki.inter_key, pki.roots, &p, &iss, NULL),
                 CA_ERR_INVALID_ARGUMENT);
    p = policy;
    memcpy(p.trust_domain, "Example.org", 12);
    cr_assert_eq(ca_issuer_new(pki.inter, pki.inter_key, pki.roots, &p, &iss, NULL),
                 CA_ERR_INVALID_SPIFFE_ID);
    cr_assert_null(iss);
}

Test(ca_issuer, serves_the_chain_bundle_and_ders_pre_encoded)
{
    size_t len = 0;
    const char *chain = ca_issuer_chain_pem(issuer, &len);
    cr_assert_eq(strlen(chain), len);
    BIO *bio = BIO_new_mem_buf(chain, (int)len);
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    cr_assert_eq(X509_cmp(x, pki.inter), 0);
    cr_assert_null(PEM_read_bio_X509(bio, NULL, NULL, NULL)); /* just the intermediate */
    ERR_clear_error();
    X509_free(x);
    BIO_free(bio);

    const char *bundle = ca_issuer_bundle_pem(issuer, &len);
    bio = BIO_new_mem_buf(bundle, (int)len);
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    cr_assert_eq(X509_cmp(x, pki.root), 0);
    X509_free(x);
    BIO_free(bio);

    unsigned char *want = NULL;
    int want_len = i2d_X509(pki.inter, &want);
    const unsigned char *der = ca_issuer_cert_der(issuer, &len);
    cr_assert_eq(len, (size_t)want_len);
    cr_assert_eq(memcmp(der, want, len), 0);
    OPENSSL_free(want);

    cr_assert_eq(ca_issuer_num_roots(issuer), 1);
    want = NULL;
    want_len = i2d_X509(pki.root, &want);
    der = ca_issuer_root_der(issuer, 0, &len);
    cr_assert_eq(len, (size_t)want_len);
    cr_assert_eq(memcmp(der, want, len), 0);
    OPENSSL_free(want);
    cr_assert_null(ca_issuer_root_der(issuer, 1, &len));

    cr_assert_eq(
        ASN1_TIME_cmp_time_t(X509_get0_notAfter(pki.inter), (time_t)ca_issuer_not_after(issuer)),
        0);
}

Test(ca_issuer, verify_peer_accepts_its_own_leaf_and_reads_the_identity)
{
    struct ca_leaf leaf = {0};
    struct ca_peer peer;
    struct ca_error err = {0};
    issue(issuer, &leaf);
    cr_assert_eq(
        ca_issuer_verify_peer(issuer, leaf.der, leaf.der_len, (int64_t)time(NULL), &peer, &err),
        CA_OK, "%s", err.msg);
    cr_assert_str_eq(peer.spiffe_id, ident.spiffe_id);
    cr_assert_eq(peer.num_dns_names, 2);
    cr_assert_str_eq(peer.dns_names[0], "web.example.org");
    cr_assert_str_eq(peer.dns_names[1], "web");
    cr_assert_eq(peer.serial_len, leaf.serial_len);
    cr_assert_eq(memcmp(peer.serial, leaf.serial, leaf.serial_len), 0);
    cr_assert_str_eq(peer.serial_hex, leaf.serial_hex);
    cr_assert_eq(peer.not_before, leaf.not_before);
    cr_assert_eq(peer.not_after, leaf.not_after);
    ca_leaf_cleanup(&leaf);
}

Test(ca_issuer, verify_peer_refuses_an_expired_certificate)
{
    struct ca_leaf leaf = {0};
    struct ca_peer peer;
    struct ca_error err = {0};
    issue(issuer, &leaf);
    cr_assert_eq(
        ca_issuer_verify_peer(issuer, leaf.der, leaf.der_len, leaf.not_after + 10, &peer, &err),
        CA_ERR_UNTRUSTED_CERT);
    assert_msg(&err, "certificate expired");
    cr_assert_eq(peer.spiffe_id[0], '\0');
    ca_leaf_cleanup(&leaf);
}

Test(ca_issuer, verify_peer_refuses_a_certificate_from_a_foreign_ca)
{
    struct testpki other;
    struct ca_issuer *foreign = NULL;
    struct ca_leaf leaf = {0};
    struct ca_peer peer;
    struct ca_error err = {0};
    testpki_init(&other, "example.org");
    cr_assert_eq(ca_issuer_new(other.inter, other.inter_key, other.roots, &policy, &foreign, &err),
                 CA_OK, "%s", err.msg);
    issue(foreign, &leaf);
    cr_assert_eq(
        ca_issuer_verify_peer(issuer, leaf.der, leaf.der_len, (int64_t)time(NULL), &peer, &err),
        CA_ERR_UNTRUSTED_CERT);
    assert_msg(&err, "not issued by this CA");
    ca_leaf_cleanup(&leaf);
    ca_issuer_free(foreign);
    testpki_cleanup(&other);
}

Test(ca_issuer, verify_peer_refuses_the_intermediate_itself)
{
    struct ca_peer peer;
    struct ca_error err = {0};
    size_t len = 0;
    const unsigned char *der = ca_issuer_cert_der(issuer, &len);
    cr_assert_eq(ca_issuer_verify_peer(issuer, der, len, (int64_t)time(NULL), &peer, &err),
                 CA_ERR_UNTRUSTED_CERT);
    assert_msg(&err, "not issued by this CA"); /* signed by the root */
}

Test(ca_issuer, verify_peer_refuses_a_ca_certificate)
{
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    int64_t now = (int64_t)time(NULL);
    X509 *x = testpki_sign_leaf(&pki, key, "spiffe://example.org/x", now - 60, now + 600, 1);
    unsigned char *der = NULL;
    int der_len = i2d_X509(x, &der);
    struct ca_peer peer;
    struct ca_error err = {0};
    cr_assert_eq(ca_issuer_verify_peer(issuer, der, (size_t)der_len, now, &peer, &err),
                 CA_ERR_UNTRUSTED_CERT);
    assert_msg(&err, "CA certificate");
    OPENSSL_free(der);
    X509_free(x);
    EVP_PKEY_free(key);
}

Test(ca_issuer, verify_peer_refuses_a_certificate_outside_the_trust_domain)
{
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    int64_t now = (int64_t)time(NULL);
    X509 *x = testpki_sign_leaf(&pki, key, "spiffe://evil.org/x", now - 60, now + 600, 0);
    unsigned char *der = NULL;
    int der_len = i2d_X509(x, &der);
    struct ca_peer peer;
    struct ca_error err = {0};
    cr_assert_eq(ca_issuer_verify_peer(issuer, der, (size_t)der_len, now, &peer, &err),
                 CA_ERR_UNTRUSTED_CERT);
    assert_msg(&err, "not in trust domain");
    OPENSSL_free(der);
    X509_free(x);
    EVP_PKEY_free(key);
}

Test(ca_issuer, verify_peer_refuses_garbage_der_with_invalid_cert)
{
    static const unsigned char junk[] = {0x30, 0x82, 0x01, 0x00, 0x01};
    struct ca_peer peer;
    struct ca_error err = {0};
    cr_assert_eq(
        ca_issuer_verify_peer(issuer, junk, sizeof(junk), (int64_t)time(NULL), &peer, &err),
        CA_ERR_INVALID_CERT);
    cr_assert_eq(ca_issuer_verify_peer(issuer, junk, 0, (int64_t)time(NULL), &peer, &err),
                 CA_ERR_INVALID_CERT);
}

Test(ca_issuer, verify_peer_refuses_trailing_bytes_with_invalid_cert)
{
    struct ca_leaf leaf = {0};
    struct ca_peer peer;
    struct ca_error err = {0};
    issue(issuer, &leaf);
    unsigned char *more = malloc(leaf.der_len + 1);
    memcpy(more, leaf.der, leaf.der_len);
    more[leaf.der_len] = 0;
    cr_assert_eq(
        ca_issuer_verify_peer(issuer, more, leaf.der_len + 1, (int64_t)time(NULL), &peer, &err),
        CA_ERR_INVALID_CERT);
    assert_msg(&err, "trailing");
    free(more);
    ca_leaf_cleanup(&leaf);
}

/* expect_resigned signs |x| again with the intermediate key (its content is
 * then "ours" as far as the signature goes), checks it at |now| and frees it:
 * the result must be |want|, and a refusal's message must hold |msg|. */
static void expect_resigned(X509 *x, int64_t now, enum ca_err want, const char *msg)
{
    struct ca_peer peer;
    struct ca_error err = {0};
    unsigned char *der = NULL;
    cr_assert_gt(X509_sign(x, pki.inter_key, EVP_sha256()), 0);
    int der_len = i2d_X509(x, &der);
    cr_assert_gt(der_len, 0);
    cr_assert_eq(ca_issuer_verify_peer(issuer, der, (size_t)der_len, now, &peer, &err), want, "%s",
                 err.msg);
    if (want != CA_OK) {
        assert_msg(&err, msg);
    }
    OPENSSL_free(der);
    X509_free(x);
}

/* signed_leaf is an X.509-SVID signed by the intermediate key without the
 * engine (testpki_sign_leaf), for the tests to change one thing in. */
static X509 *signed_leaf(int64_t not_before, int64_t not_after)
{
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    X509 *x = testpki_sign_leaf(&pki, key, "spiffe://example.org/x", not_before, not_after, 0);
    EVP_PKEY_free(key);
    return x;
}

/* set_ext adds an extension made from |value| to |x|, in place of the one of
 * the same |nid| when |replace| is set, else beside it. */
static X509 *set_ext(X509 *x, int nid, const char *value, int replace)
{
    X509V3_CTX ctx;
    int at = X509_get_ext_by_NID(x, nid, -1);
    if (replace && at >= 0) {
        X509_EXTENSION_free(X509_delete_ext(x, at));
    }
    X509V3_set_ctx(&ctx, pki.inter, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    cr_assert_not_null(ext);
    cr_assert_eq(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
    return x;
}

Test(ca_issuer, verify_peer_accepts_a_leaf_the_engine_did_not_build_when_the_key_signed_it)
{
    /* The base of the tests below: refusals there come from what they change. */
    int64_t now = (int64_t)time(NULL);
    expect_resigned(signed_leaf(now - 60, now + 600), now, CA_OK, NULL);
}

Test(ca_issuer, verify_peer_refuses_every_single_bit_change)
{
    struct ca_leaf leaf = {0};
    struct ca_peer peer;
    int64_t now = (int64_t)time(NULL);
    issue(issuer, &leaf);
    unsigned char *der = malloc(leaf.der_len);
    for (size_t i = 0; i < leaf.der_len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            struct ca_error err = {0};
            memcpy(der, leaf.der, leaf.der_len);
            der[i] ^= (unsigned char)(1u << bit);
            enum ca_err rc = ca_issuer_verify_peer(issuer, der, leaf.der_len, now, &peer, &err);
            cr_assert(rc == CA_ERR_INVALID_CERT || rc == CA_ERR_UNTRUSTED_CERT,
                      "byte %zu bit %d: got %d", i, bit, rc);
            cr_assert_eq(err.code, rc);
            cr_assert_neq(err.msg[0], '\0');
            cr_assert_eq(peer.spiffe_id[0], '\0');
        }
    }
    free(der);
    ca_leaf_cleanup(&leaf);
}

Test(ca_issuer, verify_peer_works_for_every_intermediate_key_type)
{
    /* The signature check copies a context made at start-up with the
     * intermediate's key and digest (OpenSSL 3.0.19 copies one for ECDSA,
     * RSA and pure Ed25519 alike): each key type, and a flipped signature
     * bit. */
    static const enum testpki_key types[] = {TESTPKI_P384, TESTPKI_ED25519, TESTPKI_RSA2048};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        struct testpki other;
        struct ca_issuer *iss = NULL;
        struct ca_leaf leaf = {0};
        struct ca_peer peer;
        struct ca_error err = {0};
        int64_t now = (int64_t)time(NULL);
        testpki_init_ex(&other, "example.org", TESTPKI_P256, types[i], 86400, NULL, 0);
        cr_assert_eq(ca_issuer_new(other.inter, other.inter_key, other.roots, &policy, &iss, &err),
                     CA_OK, "%s", err.msg);
        issue(iss, &leaf);
        cr_assert_eq(ca_issuer_verify_peer(iss, leaf.der, leaf.der_len, now, &peer, &err), CA_OK,
                     "key type %d: %s", types[i], err.msg);
        cr_assert_str_eq(peer.spiffe_id, ident.spiffe_id);
        leaf.der[leaf.der_len - 1] ^= 0x01; /* the signature's last byte */
        cr_assert_eq(ca_issuer_verify_peer(iss, leaf.der, leaf.der_len, now, &peer, &err),
                     CA_ERR_UNTRUSTED_CERT, "key type %d", types[i]);
        assert_msg(&err, "not issued by this CA");
        /* ... and the leaf of the P-256 intermediate is not one of its own. */
        struct ca_leaf mine = {0};
        issue(issuer, &mine);
        cr_assert_eq(ca_issuer_verify_peer(iss, mine.der, mine.der_len, now, &peer, &err),
                     CA_ERR_UNTRUSTED_CERT, "key type %d", types[i]);
        ca_leaf_cleanup(&mine);
        ca_leaf_cleanup(&leaf);
        ca_issuer_free(iss);
        testpki_cleanup(&other);
    }
}

Test(ca_issuer, verify_peer_refuses_every_truncation)
{
    struct ca_leaf leaf = {0};
    struct ca_peer peer;
    issue(issuer, &leaf);
    for (size_t len = 1; len < leaf.der_len; len++) {
        struct ca_error err = {0};
        cr_assert_eq(ca_issuer_verify_peer(issuer, leaf.der, len, (int64_t)time(NULL), &peer, &err),
                     CA_ERR_INVALID_CERT, "length %zu", len);
    }
    ca_leaf_cleanup(&leaf);
}

Test(ca_issuer, verify_peer_refuses_a_leaf_not_for_client_authentication)
{
    static const struct {
        int nid;
        const char *value;
    } cases[] = {
        {NID_ext_key_usage, "serverAuth"},
        {NID_key_usage, "critical,keyEncipherment"},
        {NID_netscape_cert_type, "server"},
    };
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        X509 *x = set_ext(signed_leaf(now - 60, now + 600), cases[i].nid, cases[i].value, 1);
        expect_resigned(x, now, CA_ERR_UNTRUSTED_CERT, "not for client authentication");
    }
}

Test(ca_issuer, verify_peer_refuses_an_unknown_critical_extension_and_a_repeated_one)
{
    int64_t now = (int64_t)time(NULL);
    X509 *x = signed_leaf(now - 60, now + 600);
    ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.99999.1", 1);
    ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
    cr_assert(oid != NULL && value != NULL &&
              ASN1_OCTET_STRING_set(value, (const unsigned char *)"\x05\x00", 2) == 1);
    X509_EXTENSION *unknown = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, value);
    cr_assert_not_null(unknown);
    cr_assert_eq(X509_add_ext(x, unknown, -1), 1);
    X509_EXTENSION_free(unknown);
    ASN1_OCTET_STRING_free(value);
    ASN1_OBJECT_free(oid);
    expect_resigned(x, now, CA_ERR_UNTRUSTED_CERT, "unsupported critical extension");

    /* A second subjectAltName. */
    x = set_ext(signed_leaf(now - 60, now + 600), NID_subject_alt_name,
                "URI:spiffe://example.org/other", 0);
    expect_resigned(x, now, CA_ERR_INVALID_CERT, "repeats an extension");
}

Test(ca_issuer, verify_peer_checks_both_ends_of_the_leaf_and_the_intermediate_validity)
{
    int64_t now = (int64_t)time(NULL);
    expect_resigned(signed_leaf(now + 3600, now + 7200), now, CA_ERR_UNTRUSTED_CERT,
                    "certificate not yet valid");
    /* A leaf that outlives the intermediate (the engine never makes one). */
    int64_t inter_end = ca_issuer_not_after(issuer);
    expect_resigned(signed_leaf(now - 60, inter_end + 7200), inter_end + 60, CA_ERR_UNTRUSTED_CERT,
                    "issuing CA certificate expired");
}

Test(ca_issuer, verify_peer_refuses_a_leaf_naming_another_issuer)
{
    int64_t now = (int64_t)time(NULL);
    X509 *x = signed_leaf(now - 60, now + 600);
    X509_NAME *other = X509_NAME_new();
    cr_assert_eq(X509_NAME_add_entry_by_txt(other, "CN", MBSTRING_ASC,
                                            (const unsigned char *)"other", -1, -1, 0),
                 1);
    cr_assert_eq(X509_set_issuer_name(x, other), 1);
    X509_NAME_free(other);
    expect_resigned(x, now, CA_ERR_UNTRUSTED_CERT, "not issued by this CA");
}

Test(ca_issuer, verify_peer_refuses_a_v1_certificate)
{
    int64_t now = (int64_t)time(NULL);
    X509 *x = signed_leaf(now - 60, now + 600);
    while (X509_get_ext_count(x) > 0) {
        X509_EXTENSION_free(X509_delete_ext(x, 0));
    }
    cr_assert_eq(X509_set_version(x, X509_VERSION_1), 1);
    expect_resigned(x, now, CA_ERR_UNTRUSTED_CERT, "not a v3 X.509-SVID");
}

struct worker {
    const struct ca_issuer *iss;
    char *pem;
    size_t pem_len;
    int ok;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 20; i++) {
        struct ca_leaf leaf = {0};
        struct ca_peer peer;
        int64_t now = (int64_t)time(NULL);
        if (ca_leaf_issue(w->iss, w->pem, w->pem_len, &ident, 0, now, &leaf, NULL) != CA_OK ||
            ca_issuer_verify_peer(w->iss, leaf.der, leaf.der_len, now, &peer, NULL) != CA_OK) {
            ca_leaf_cleanup(&leaf);
            return NULL;
        }
        ca_leaf_cleanup(&leaf);
    }
    w->ok = 1;
    return NULL;
}

Test(ca_issuer, issues_and_verifies_from_two_threads_at_once)
{
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    struct worker w[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        w[i] = (struct worker){.iss = issuer, .ok = 0};
        w[i].pem = testpki_csr_pem(key, NULL, 0, 0, &w[i].pem_len);
        cr_assert_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(pthread_join(t[i], NULL), 0);
        cr_assert_eq(w[i].ok, 1);
        free(w[i].pem);
    }
    EVP_PKEY_free(key);
}

static enum ca_err issue_dns(const struct ca_issuer *iss, const char *dns, struct ca_leaf *leaf,
                             struct ca_error *err)
{
    const char *names[] = {dns};
    struct ca_identity id = {
        .spiffe_id = "spiffe://example.org/x", .dns_names = names, .num_dns_names = 1};
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    enum ca_err rc = ca_leaf_issue_for_key(iss, key, &id, 0, (int64_t)time(NULL), leaf, err);
    EVP_PKEY_free(key);
    return rc;
}

Test(ca_issuer, refuses_dns_names_outside_the_intermediate_name_constraints)
{
    static const char *const permit[] = {"svc.example.org"};
    struct testpki constrained;
    struct ca_issuer *iss = NULL;
    struct ca_leaf leaf = {0};
    struct ca_error err = {0};
    char path[256];
    char out[1024];
    testpki_init_ex(&constrained, "example.org", TESTPKI_P256, TESTPKI_P256, 86400, permit, 1);
    cr_assert_eq(ca_issuer_new(constrained.inter, constrained.inter_key, constrained.roots, &policy,
                               &iss, &err),
                 CA_OK, "%s", err.msg);
    cr_assert_eq(issue_dns(iss, "evil.com", &leaf, &err), CA_ERR_FORBIDDEN_SAN);
    assert_msg(&err, "evil.com");
    cr_assert_eq(issue_dns(iss, "badsvc.example.org", &leaf, &err), CA_ERR_FORBIDDEN_SAN);
    cr_assert_eq(issue_dns(iss, "svc.example.org", &leaf, &err), CA_OK, "%s", err.msg);
    ca_leaf_cleanup(&leaf);
    cr_assert_eq(issue_dns(iss, "web.SVC.example.org", &leaf, &err), CA_OK, "%s", err.msg);
    /* What the engine lets through, OpenSSL accepts under the constraints. */
    testpki_write(&constrained, "leaf.pem", leaf.pem, leaf.pem_len, path, sizeof(path));
    cr_assert_eq(testpki_openssl_verify(&constrained, path, out, sizeof(out)), 0, "%s", out);
    ca_leaf_cleanup(&leaf);
    ca_issuer_free(iss);
    testpki_cleanup(&constrained);
}

Test(ca_issuer, allows_any_dns_name_when_the_intermediate_constrains_only_uris)
{
    struct ca_leaf leaf = {0};
    struct ca_error err = {0};
    cr_assert_eq(issue_dns(issuer, "anything.example.net", &leaf, &err), CA_OK, "%s", err.msg);
    ca_leaf_cleanup(&leaf);
}

/* ---- Adversarial review: client certificates the engine never issues ---- */

/* resign replaces (or adds) extension |nid| of |x| with the OpenSSL config
 * text |value| (NULL: just remove it) and signs it again with the
 * intermediate's key, as a CA bug or a stolen-key forgery would. */
static void resign(X509 *x, int nid, const char *value)
{
    int at = X509_get_ext_by_NID(x, nid, -1);
    if (at >= 0) {
        X509_EXTENSION_free(X509_delete_ext(x, at));
    }
    if (value != NULL) {
        X509V3_CTX ctx;
        X509V3_set_ctx(&ctx, pki.inter, x, NULL, NULL, 0);
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
        cr_assert_not_null(ext, "bad extension text %s", value);
        cr_assert_eq(X509_add_ext(x, ext, -1), 1);
        X509_EXTENSION_free(ext);
    }
    cr_assert_gt(X509_sign(x, pki.inter_key, EVP_sha256()), 0);
}

/* verify_forged signs a leaf for spiffe://example.org/ns/default/sa/web,
 * changes extension |nid| to |value|, and runs ca_issuer_verify_peer on it. */
static enum ca_err verify_forged(int nid, const char *value, struct ca_peer *peer,
                                 struct ca_error *err)
{
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    int64_t now = (int64_t)time(NULL);
    X509 *x = testpki_sign_leaf(&pki, key, "spiffe://example.org/ns/default/sa/web", now - 60,
                                now + 600, 0);
    resign(x, nid, value);
    unsigned char *der = NULL;
    int der_len = i2d_X509(x, &der);
    cr_assert_gt(der_len, 0);
    enum ca_err rc = ca_issuer_verify_peer(issuer, der, (size_t)der_len, now, peer, err);
    OPENSSL_free(der);
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

Test(ca_issuer, verify_peer_accepts_the_unchanged_forgery_baseline)
{
    struct ca_peer peer;
    struct ca_error err = {0};
    cr_assert_eq(verify_forged(NID_subject_alt_name,
                               "critical,URI:spiffe://example.org/ns/default/sa/web", &peer, &err),
                 CA_OK, "%s", err.msg);
    cr_assert_str_eq(peer.spiffe_id, "spiffe://example.org/ns/default/sa/web");
}

Test(ca_issuer, verify_peer_skips_san_kinds_it_does_not_read)
{
    struct ca_peer peer;
    struct ca_error err = {0};
    /* An otherName, an IP address, an email and a registeredID are not
     * strings of the kind a URI or DNS name is: none may count as either. */
    cr_assert_eq(verify_forged(NID_subject_alt_name,
                               "critical,otherName:1.2.3.4;UTF8:spiffe://example.org/admin/ops,"
                               "IP:127.0.0.1,email:ops@example.org,RID:1.2.3.4,"
                               "URI:spiffe://example.org/ns/default/sa/web,DNS:web.example.org",
                               &peer, &err),
                 CA_OK, "%s", err.msg);
    cr_assert_str_eq(peer.spiffe_id, "spiffe://example.org/ns/default/sa/web");
    cr_assert_eq(peer.num_dns_names, 1);
    cr_assert_str_eq(peer.dns_names[0], "web.example.org");
}

Test(ca_issuer, verify_peer_refuses_a_leaf_with_two_uri_sans)
{
    struct ca_peer peer;
    struct ca_error err = {0};
    cr_assert_eq(verify_forged(NID_subject_alt_name,
                               "critical,URI:spiffe://example.org/ns/default/sa/web,"
                               "URI:spiffe://example.org/admin/ops",
                               &peer, &err),
                 CA_ERR_UNTRUSTED_CERT);
    assert_msg(&err, "more than one URI SAN");
    cr_assert_eq(peer.spiffe_id[0], '\0');
    /* The admin first and the workload second is refused the same way. */
    cr_assert_eq(verify_forged(NID_subject_alt_name,
                               "critical,URI:spiffe://example.org/admin/ops,"
                               "URI:spiffe://example.org/ns/default/sa/web",
                               &peer, &err),
                 CA_ERR_UNTRUSTED_CERT);
    assert_msg(&err, "more than one URI SAN");
}

Test(ca_issuer, verify_peer_refuses_spiffe_ids_that_are_not_exact)
{
    static const char *const bad[] = {
        "critical,URI:spiffe://EXAMPLE.org/ns/default/sa/web",
        "critical,URI:spiffe://example.org/ns/default/sa/%77eb",
        "critical,URI:spiffe://example.org/ns/default/sa/web/",
        "critical,URI:spiffe://example.org",
        "critical,DNS:web.example.org",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ca_peer peer;
        struct ca_error err = {0};
        cr_assert_eq(verify_forged(NID_subject_alt_name, bad[i], &peer, &err),
                     CA_ERR_UNTRUSTED_CERT, "%s was accepted", bad[i]);
        cr_assert_eq(peer.spiffe_id[0], '\0');
    }
}

Test(ca_issuer, verify_peer_refuses_a_leaf_not_made_for_clients)
{
    struct ca_peer peer;
    struct ca_error err = {0};
    cr_assert_eq(verify_forged(NID_ext_key_usage, "serverAuth", &peer, &err),
                 CA_ERR_UNTRUSTED_CERT);
    cr_assert_eq(verify_forged(NID_ext_key_usage, "codeSigning", &peer, &err),
                 CA_ERR_UNTRUSTED_CERT);
    cr_assert_eq(verify_forged(NID_key_usage, "critical,keyEncipherment", &peer, &err),
                 CA_ERR_UNTRUSTED_CERT);
}

Test(ca_issuer, verify_peer_refuses_a_leaf_not_yet_valid)
{
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    int64_t now = (int64_t)time(NULL);
    X509 *x = testpki_sign_leaf(&pki, key, "spiffe://example.org/ns/default/sa/web", now + 600,
                                now + 1200, 0);
    unsigned char *der = NULL;
    int der_len = i2d_X509(x, &der);
    struct ca_peer peer;
    struct ca_error err = {0};
    cr_assert_eq(ca_issuer_verify_peer(issuer, der, (size_t)der_len, now, &peer, &err),
                 CA_ERR_UNTRUSTED_CERT);
    OPENSSL_free(der);
    X509_free(x);
    EVP_PKEY_free(key);
}

Test(ca_issuer, verify_peer_refuses_a_leaf_of_a_sibling_intermediate_under_the_same_root)
{
    struct ca_error err = {0};
    EVP_PKEY *key2 = NULL;
    X509_REQ *csr = NULL;
    X509 *inter2 = NULL;
    struct ca_issuer *sibling = NULL;
    struct ca_intermediate_params params = {
        .trust_domain = "example.org",
        .now = (int64_t)time(NULL),
        .ttl_s = 86400,
    };
    cr_assert_eq(ca_key_generate(CA_KEY_EC_P256, &key2, &err), CA_OK, "%s", err.msg);
    cr_assert_eq(ca_intermediate_csr_create(key2, "example.org", &csr, &err), CA_OK, "%s", err.msg);
    cr_assert_eq(ca_intermediate_sign(pki.root, pki.root_key, csr, &params, &inter2, &err), CA_OK,
                 "%s", err.msg);
    cr_assert_eq(ca_issuer_new(inter2, key2, pki.roots, &policy, &sibling, &err), CA_OK, "%s",
                 err.msg);
    struct ca_leaf leaf = {0};
    issue(sibling, &leaf);
    struct ca_peer peer;
    cr_assert_eq(
        ca_issuer_verify_peer(sibling, leaf.der, leaf.der_len, (int64_t)time(NULL), &peer, &err),
        CA_OK, "%s", err.msg);
    cr_assert_eq(
        ca_issuer_verify_peer(issuer, leaf.der, leaf.der_len, (int64_t)time(NULL), &peer, &err),
        CA_ERR_UNTRUSTED_CERT);
    ca_leaf_cleanup(&leaf);
    ca_issuer_free(sibling);
    X509_free(inter2);
    X509_REQ_free(csr);
    EVP_PKEY_free(key2);
}

Test(ca_issuer, verify_peer_refuses_a_leaf_once_the_intermediate_has_expired)
{
    /* Peers are checked against the intermediate alone: its own validity
     * must still be checked. A leaf outliving it (which signet never issues,
     * but a stolen key could sign) is refused once the intermediate expired. */
    struct tm tm;
    cr_assert_eq(ASN1_TIME_to_tm(X509_get0_notAfter(pki.inter), &tm), 1);
    int64_t inter_end = (int64_t)timegm(&tm);
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    X509 *x = testpki_sign_leaf(&pki, key, "spiffe://example.org/ns/default/sa/web",
                                inter_end - 600, inter_end + 86400, 0);
    unsigned char *der = NULL;
    int der_len = i2d_X509(x, &der);
    cr_assert_gt(der_len, 0);
    struct ca_peer peer;
    struct ca_error err = {0};
    cr_assert_eq(ca_issuer_verify_peer(issuer, der, (size_t)der_len, inter_end - 60, &peer, &err),
                 CA_OK, "%s", err.msg);
    cr_assert_eq(ca_issuer_verify_peer(issuer, der, (size_t)der_len, inter_end + 60, &peer, &err),
                 CA_ERR_UNTRUSTED_CERT);
    assert_msg(&err, "expired");
    cr_assert_eq(peer.spiffe_id[0], '\0');
    OPENSSL_free(der);
    X509_free(x);
    EVP_PKEY_free(key);
}
