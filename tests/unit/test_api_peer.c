/* test_api_peer.c: api_peer_verify (api/peer.c), the client-certificate check
 * of /v1/renew and the admin routes, against a real issuer and a real LMDB
 * store: a certificate counts only if this intermediate signed it, the store
 * holds that very certificate, and it is not revoked. (api_peer_der needs a
 * live TLS connection; tests/integration/test_security.sh covers it.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <openssl/x509.h>

#include "../../api/internal.h"
#include "testfs.h"
#include "testpki.h"

#define WEB "spiffe://example.org/ns/default/sa/web"

static struct testpki pki;
static struct testpki other;
static struct ca_issuer *issuer;
static struct store *st;
static char dir[64];
static struct ca_leaf leaf;
static int64_t now;

static const struct ca_policy policy = {
    .trust_domain = "example.org",
    .public_url = "http://127.0.0.1:8080",
    .default_ttl_s = 3600,
    .max_ttl_s = 86400,
};

/* issue_leaf issues a leaf for WEB with the engine into |out|. */
static void issue_leaf(const struct ca_issuer *iss, struct ca_leaf *out)
{
    static const char *const dns[] = {"web.example.org"};
    struct ca_identity id = {.spiffe_id = WEB, .dns_names = dns, .num_dns_names = 1};
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    size_t len = 0;
    struct ca_error err = {0};
    char *pem = testpki_csr_pem(key, NULL, 0, 0, &len);
    cr_assert_eq(ca_leaf_issue(iss, pem, len, &id, 0, now, out, &err), CA_OK, "%s", err.msg);
    free(pem);
    EVP_PKEY_free(key);
}

/* record puts |l| in the store as sign.c does. */
static void record(const struct ca_leaf *l, const char *spiffe_id)
{
    struct store_record rec = {
        .serial_len = l->serial_len,
        .issued_at = now,
        .not_before = l->not_before,
        .not_after = l->not_after,
        .auth_method = API_AUTH_PROVISIONER,
        .cert_der = l->der,
        .cert_der_len = l->der_len,
    };
    memcpy(rec.serial, l->serial, l->serial_len);
    snprintf(rec.spiffe_id, sizeof(rec.spiffe_id), "%s", spiffe_id);
    cr_assert_eq(store_put(st, &rec), STORE_OK);
}

static void setup(void)
{
    struct ca_error err = {0};
    now = (int64_t)time(NULL);
    testpki_init(&pki, "example.org");
    cr_assert_eq(ca_issuer_new(pki.inter, pki.inter_key, pki.roots, &policy, &issuer, &err), CA_OK,
                 "%s", err.msg);
    snprintf(dir, sizeof(dir), "/tmp/signet-peer-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    struct store_options opts = {.path = dir, .map_size = 16 << 20};
    cr_assert_eq(store_open(&opts, &st), STORE_OK);
    memset(&leaf, 0, sizeof(leaf));
    issue_leaf(issuer, &leaf);
    record(&leaf, WEB);
}

static void teardown(void)
{
    ca_leaf_cleanup(&leaf);
    store_close(st);
    ca_issuer_free(issuer);
    testpki_cleanup(&pki);
    testfs_rmtree(dir);
}

TestSuite(api_peer, .init = setup, .fini = teardown);

static void assert_refused(enum api_err rc, const struct api_error *err, const char *needle)
{
    cr_assert_eq(rc, API_ERR_UNAUTHENTICATED, "rc %d (%s)", rc, err->msg);
    cr_assert_not_null(strstr(err->msg, needle), "message '%s' lacks '%s'", err->msg, needle);
}

/* forge signs, with the intermediate's own key, a leaf for |uri| that reuses
 * the serial of |like|: what a signing bug or a second signer would make. */
static unsigned char *forge(const struct ca_leaf *like, const char *uri, size_t *out_len)
{
    EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
    X509 *x = testpki_sign_leaf(&pki, key, uri, now - 60, now + 600, 0);
    cr_assert_eq(ASN1_STRING_set(X509_get_serialNumber(x), like->serial, (int)like->serial_len), 1);
    cr_assert_gt(X509_sign(x, pki.inter_key, EVP_sha256()), 0);
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    cr_assert_gt(len, 0);
    X509_free(x);
    EVP_PKEY_free(key);
    *out_len = (size_t)len;
    return der;
}

Test(api_peer, accepts_a_recorded_certificate_and_reads_its_identity)
{
    struct ca_peer peer;
    struct api_error err = {0};
    cr_assert_eq(api_peer_verify(issuer, st, leaf.der, leaf.der_len, now, &peer, NULL, &err),
                 API_OK, "%s", err.msg);
    cr_assert_str_eq(peer.spiffe_id, WEB);
    cr_assert_eq(peer.num_dns_names, 1);
    cr_assert_str_eq(peer.dns_names[0], "web.example.org");
    cr_assert_str_eq(peer.serial_hex, leaf.serial_hex);
}

Test(api_peer, refuses_a_certificate_the_store_does_not_hold)
{
    struct ca_leaf stray = {0};
    struct ca_peer peer;
    struct api_error err = {0};
    issue_leaf(issuer, &stray);
    enum api_err rc = api_peer_verify(issuer, st, stray.der, stray.der_len, now, &peer, NULL, &err);
    assert_refused(rc, &err, "was not issued by this server");
    ca_leaf_cleanup(&stray);
}

Test(api_peer, refuses_a_revoked_certificate)
{
    struct ca_peer peer;
    struct api_error err = {0};
    cr_assert_eq(store_revoke(st, leaf.serial, leaf.serial_len, now, 1, NULL), STORE_OK);
    enum api_err rc = api_peer_verify(issuer, st, leaf.der, leaf.der_len, now, &peer, NULL, &err);
    assert_refused(rc, &err, "is revoked");
}

Test(api_peer, lets_a_revoked_certificate_through_only_when_asked_and_says_so)
{
    struct ca_peer peer;
    struct api_error err = {0};
    int revoked = -1;
    cr_assert_eq(api_peer_verify(issuer, st, leaf.der, leaf.der_len, now, &peer, &revoked, &err),
                 API_OK, "%s", err.msg);
    cr_assert_eq(revoked, 0);
    cr_assert_eq(store_revoke(st, leaf.serial, leaf.serial_len, now, 1, NULL), STORE_OK);
    cr_assert_eq(api_peer_verify(issuer, st, leaf.der, leaf.der_len, now, &peer, &revoked, &err),
                 API_OK, "%s", err.msg);
    cr_assert_eq(revoked, 1);
    cr_assert_str_eq(peer.spiffe_id, WEB);
    /* Every other check still holds: a certificate the store lacks is refused. */
    struct ca_leaf stray = {0};
    issue_leaf(issuer, &stray);
    enum api_err rc =
        api_peer_verify(issuer, st, stray.der, stray.der_len, now, &peer, &revoked, &err);
    assert_refused(rc, &err, "was not issued by this server");
    ca_leaf_cleanup(&stray);
}

Test(api_peer, refuses_another_certificate_that_reuses_a_recorded_serial)
{
    struct ca_peer peer;
    struct api_error err = {0};
    size_t len = 0;
    unsigned char *der = forge(&leaf, "spiffe://example.org/admin/ops", &len);
    enum api_err rc = api_peer_verify(issuer, st, der, len, now, &peer, NULL, &err);
    OPENSSL_free(der);
    assert_refused(rc, &err, "was recorded for another certificate");
    /* Even with the recorded identity: only the recorded bytes count. */
    der = forge(&leaf, WEB, &len);
    rc = api_peer_verify(issuer, st, der, len, now, &peer, NULL, &err);
    OPENSSL_free(der);
    assert_refused(rc, &err, "was recorded for another certificate");
}

Test(api_peer, refuses_a_foreign_certificate_whose_serial_is_recorded)
{
    struct ca_issuer *foreign = NULL;
    struct ca_error cerr = {0};
    struct ca_leaf theirs = {0};
    testpki_init(&other, "example.org");
    cr_assert_eq(ca_issuer_new(other.inter, other.inter_key, other.roots, &policy, &foreign, &cerr),
                 CA_OK, "%s", cerr.msg);
    issue_leaf(foreign, &theirs);
    /* The store knows this serial (as if two CAs had drawn the same one). */
    record(&theirs, WEB);
    struct ca_peer peer;
    struct api_error err = {0};
    enum api_err rc =
        api_peer_verify(issuer, st, theirs.der, theirs.der_len, now, &peer, NULL, &err);
    assert_refused(rc, &err, "not issued by this CA");
    ca_leaf_cleanup(&theirs);
    ca_issuer_free(foreign);
    testpki_cleanup(&other);
}

Test(api_peer, refuses_an_expired_certificate_even_when_recorded)
{
    struct ca_peer peer;
    struct api_error err = {0};
    enum api_err rc =
        api_peer_verify(issuer, st, leaf.der, leaf.der_len, leaf.not_after + 1, &peer, NULL, &err);
    assert_refused(rc, &err, "expired");
}
