/* test_api_ocsp.c: the OCSP responder and its cache (api/ocsp.c) with a real
 * issuer (tests/lib/testpki), a real LMDB store, requests built and responses
 * checked with OpenSSL's own OCSP code. */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <openssl/bn.h>
#include <openssl/ocsp.h>

#include "../../api/internal.h"
#include "testfs.h"
#include "testpki.h"

static struct testpki pki;
static struct ca_issuer *issuer;
static struct store *st;
static struct api_ocsp *ocsp;
static char db[160];

#define VALIDITY 3600

static void setup(void)
{
    struct ca_error cerr = {0};
    struct ca_policy policy = {.default_ttl_s = 3600, .max_ttl_s = 86400};

    testpki_init(&pki, "example.org");
    snprintf(policy.trust_domain, sizeof(policy.trust_domain), "example.org");
    snprintf(policy.public_url, sizeof(policy.public_url), "http://127.0.0.1:8080");
    cr_assert_eq(ca_issuer_new(pki.inter, pki.inter_key, pki.roots, &policy, &issuer, &cerr), CA_OK,
                 "%s", cerr.msg);
    snprintf(db, sizeof(db), "%s/db", pki.dir);
    struct store_options so = {.path = db, .map_size = 64u * 1024 * 1024};
    cr_assert_eq(store_open(&so, &st), STORE_OK);
    cr_assert_eq(api_ocsp_new(issuer, st, VALIDITY, 0, &ocsp, NULL), API_OK);
}

static void teardown(void)
{
    api_ocsp_free(ocsp);
    store_close(st);
    ca_issuer_free(issuer);
    testfs_rmtree(db);
    testpki_cleanup(&pki);
}

TestSuite(api_ocsp, .init = setup, .fini = teardown);

static const unsigned char serial_a[] = {0x51, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};

static void put_record(const unsigned char *serial, size_t len)
{
    static unsigned char cert[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    struct store_record rec = {
        .serial_len = len,
        .spiffe_id = "spiffe://example.org/w",
        .issued_at = api_now(),
        .not_before = api_now() - 60,
        .not_after = api_now() + 3600,
        .cert_der = cert,
        .cert_der_len = sizeof(cert),
    };
    memcpy(rec.serial, serial, len);
    cr_assert_eq(store_put(st, &rec), STORE_OK);
}

static OCSP_CERTID *cert_id(X509 *ca, const unsigned char *serial, size_t len, const EVP_MD *md)
{
    BIGNUM *bn = BN_bin2bn(serial, (int)len, NULL);
    ASN1_INTEGER *s = BN_to_ASN1_INTEGER(bn, NULL);
    OCSP_CERTID *id =
        OCSP_cert_id_new(md, X509_get_subject_name(ca), X509_get0_pubkey_bitstr(ca), s);
    cr_assert_not_null(id);
    ASN1_INTEGER_free(s);
    BN_free(bn);
    return id;
}

/* request returns a DER OCSPRequest for |serial| (OPENSSL_free it). */
static unsigned char *request(X509 *ca, const unsigned char *serial, size_t len, const EVP_MD *md,
                              int nonce, size_t *out_len)
{
    OCSP_REQUEST *req = OCSP_REQUEST_new();
    cr_assert_not_null(OCSP_request_add0_id(req, cert_id(ca, serial, len, md)));
    if (nonce) {
        cr_assert_eq(OCSP_request_add1_nonce(req, NULL, 16), 1);
    }
    unsigned char *der = NULL;
    int n = i2d_OCSP_REQUEST(req, &der);
    cr_assert_gt(n, 0);
    *out_len = (size_t)n;
    OCSP_REQUEST_free(req);
    return der;
}

/* ask sends a request for |serial| at |now| and returns the answer. */
static void ask(const unsigned char *serial, size_t len, int nonce, int64_t now,
                struct api_response *resp)
{
    size_t der_len = 0;
    unsigned char *der = request(pki.inter, serial, len, EVP_sha1(), nonce, &der_len);
    memset(resp, 0, sizeof(*resp));
    cr_assert_eq(api_ocsp_respond_der(ocsp, der, der_len, now, resp, NULL), API_OK);
    cr_assert_eq(resp->status, 200);
    cr_assert_str_eq(resp->content_type, "application/ocsp-response");
    OPENSSL_free(der);
}

/* status_of verifies a successful response (signed by the intermediate,
 * chaining to the root) and returns the status of |serial|. */
static int status_of(const struct api_response *resp, const unsigned char *serial, size_t len,
                     const EVP_MD *md, int *out_reason)
{
    const unsigned char *p = resp->body;
    OCSP_RESPONSE *r = d2i_OCSP_RESPONSE(NULL, &p, (long)resp->body_len);
    cr_assert_not_null(r);
    cr_assert_eq(OCSP_response_status(r), OCSP_RESPONSE_STATUS_SUCCESSFUL);
    OCSP_BASICRESP *bs = OCSP_response_get1_basic(r);
    cr_assert_not_null(bs);
    X509_STORE *store = X509_STORE_new();
    X509_STORE_add_cert(store, pki.root);
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    sk_X509_push(untrusted, pki.inter);
    cr_assert_eq(OCSP_basic_verify(bs, untrusted, store, 0), 1);
    OCSP_CERTID *id = cert_id(pki.inter, serial, len, md);
    int status = -1;
    int reason = -1;
    ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
    cr_assert_eq(OCSP_resp_find_status(bs, id, &status, &reason, &rev, &thisupd, &nextupd), 1);
    if (out_reason != NULL) {
        *out_reason = reason;
    }
    OCSP_CERTID_free(id);
    sk_X509_free(untrusted);
    X509_STORE_free(store);
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(r);
    return status;
}

static int error_status(const struct api_response *resp)
{
    const unsigned char *p = resp->body;
    OCSP_RESPONSE *r = d2i_OCSP_RESPONSE(NULL, &p, (long)resp->body_len);
    cr_assert_not_null(r);
    int s = OCSP_response_status(r);
    OCSP_RESPONSE_free(r);
    return s;
}

Test(api_ocsp, answers_good_for_a_recorded_serial_with_rfc5019_headers)
{
    struct api_response resp;

    put_record(serial_a, sizeof(serial_a));
    ask(serial_a, sizeof(serial_a), 0, api_now(), &resp);
    cr_assert_eq(status_of(&resp, serial_a, sizeof(serial_a), EVP_sha1(), NULL),
                 V_OCSP_CERTSTATUS_GOOD);
    cr_assert(strstr(resp.cache_control, "public, no-transform, must-revalidate") != NULL);
    cr_assert_eq(strncmp(resp.cache_control, "max-age=3600,", 13), 0, "%s", resp.cache_control);
    cr_assert_eq(resp.etag[0], '"');
    cr_assert_neq(resp.last_modified[0], '\0');
    cr_assert_neq(resp.expires[0], '\0');
    api_response_cleanup(&resp);
}

Test(api_ocsp, serves_a_request_without_nonce_from_the_cache)
{
    struct api_response first, second;
    struct api_ocsp_stats stats;
    int64_t now = api_now();

    put_record(serial_a, sizeof(serial_a));
    ask(serial_a, sizeof(serial_a), 0, now, &first);
    ask(serial_a, sizeof(serial_a), 0, now + 10, &second);
    api_ocsp_stats_get(ocsp, &stats);
    cr_assert_eq(stats.signs, 1);
    cr_assert_eq(stats.hits, 1);
    cr_assert_eq(first.body_len, second.body_len);
    cr_assert_eq(memcmp(first.body, second.body, first.body_len), 0);
    cr_assert_str_eq(first.etag, second.etag);
    /* max-age counts down to the same nextUpdate. */
    cr_assert_eq(strncmp(second.cache_control, "max-age=3590,", 13), 0, "%s", second.cache_control);
    api_response_cleanup(&first);
    api_response_cleanup(&second);
}

Test(api_ocsp, resigns_a_cached_response_past_half_its_validity)
{
    struct api_response resp;
    struct api_ocsp_stats stats;
    int64_t now = api_now();

    put_record(serial_a, sizeof(serial_a));
    ask(serial_a, sizeof(serial_a), 0, now, &resp);
    api_response_cleanup(&resp);
    ask(serial_a, sizeof(serial_a), 0, now + VALIDITY / 2 - 1, &resp);
    api_response_cleanup(&resp);
    api_ocsp_stats_get(ocsp, &stats);
    cr_assert_eq(stats.signs, 1);
    ask(serial_a, sizeof(serial_a), 0, now + VALIDITY / 2, &resp);
    api_response_cleanup(&resp);
    api_ocsp_stats_get(ocsp, &stats);
    cr_assert_eq(stats.signs, 2);
}

Test(api_ocsp, answers_revoked_with_the_reason_once_invalidated)
{
    struct api_response resp;
    int reason = -1;

    put_record(serial_a, sizeof(serial_a));
    ask(serial_a, sizeof(serial_a), 0, api_now(), &resp);
    api_response_cleanup(&resp);
    cr_assert_eq(
        store_revoke(st, serial_a, sizeof(serial_a), api_now(), CA_REASON_KEY_COMPROMISE, NULL),
        STORE_OK);
    /* Still the cached answer: what the revocation route's invalidation is for. */
    ask(serial_a, sizeof(serial_a), 0, api_now(), &resp);
    cr_assert_eq(status_of(&resp, serial_a, sizeof(serial_a), EVP_sha1(), NULL),
                 V_OCSP_CERTSTATUS_GOOD);
    api_response_cleanup(&resp);
    api_ocsp_invalidate(ocsp, serial_a, sizeof(serial_a));
    ask(serial_a, sizeof(serial_a), 0, api_now(), &resp);
    cr_assert_eq(status_of(&resp, serial_a, sizeof(serial_a), EVP_sha1(), &reason),
                 V_OCSP_CERTSTATUS_REVOKED);
    cr_assert_eq(reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
    api_response_cleanup(&resp);
}

Test(api_ocsp, answers_unknown_for_a_serial_never_recorded)
{
    struct api_response resp;

    ask(serial_a, sizeof(serial_a), 0, api_now(), &resp);
    cr_assert_eq(status_of(&resp, serial_a, sizeof(serial_a), EVP_sha1(), NULL),
                 V_OCSP_CERTSTATUS_UNKNOWN);
    api_response_cleanup(&resp);
}

Test(api_ocsp, answers_a_sha256_certid)
{
    struct api_response resp;
    size_t der_len = 0;

    put_record(serial_a, sizeof(serial_a));
    unsigned char *der = request(pki.inter, serial_a, sizeof(serial_a), EVP_sha256(), 0, &der_len);
    memset(&resp, 0, sizeof(resp));
    cr_assert_eq(api_ocsp_respond_der(ocsp, der, der_len, api_now(), &resp, NULL), API_OK);
    cr_assert_eq(status_of(&resp, serial_a, sizeof(serial_a), EVP_sha256(), NULL),
                 V_OCSP_CERTSTATUS_GOOD);
    OPENSSL_free(der);
    api_response_cleanup(&resp);
}

Test(api_ocsp, signs_a_fresh_response_echoing_each_nonce)
{
    struct api_response resp;
    struct api_ocsp_stats stats;
    size_t der_len = 0;

    put_record(serial_a, sizeof(serial_a));
    for (int i = 0; i < 2; i++) {
        unsigned char *der =
            request(pki.inter, serial_a, sizeof(serial_a), EVP_sha1(), 1, &der_len);
        const unsigned char *p = der;
        OCSP_REQUEST *req = d2i_OCSP_REQUEST(NULL, &p, (long)der_len);
        memset(&resp, 0, sizeof(resp));
        cr_assert_eq(api_ocsp_respond_der(ocsp, der, der_len, api_now(), &resp, NULL), API_OK);
        p = resp.body;
        OCSP_RESPONSE *r = d2i_OCSP_RESPONSE(NULL, &p, (long)resp.body_len);
        OCSP_BASICRESP *bs = OCSP_response_get1_basic(r);
        cr_assert_eq(OCSP_check_nonce(req, bs), 1);
        cr_assert_str_eq(resp.cache_control, "no-store");
        cr_assert_eq(resp.etag[0], '\0');
        OCSP_BASICRESP_free(bs);
        OCSP_RESPONSE_free(r);
        OCSP_REQUEST_free(req);
        OPENSSL_free(der);
        api_response_cleanup(&resp);
    }
    api_ocsp_stats_get(ocsp, &stats);
    cr_assert_eq(stats.signs, 2);
    cr_assert_eq(stats.hits, 0);
}

Test(api_ocsp, answers_malformed_request_for_garbage_with_http_200)
{
    static const unsigned char garbage[] = "not DER at all";
    static const unsigned char malformed[] = {0x30, 0x03, 0x0a, 0x01, 0x01};
    struct api_response resp;

    memset(&resp, 0, sizeof(resp));
    cr_assert_eq(api_ocsp_respond_der(ocsp, garbage, sizeof(garbage) - 1, api_now(), &resp, NULL),
                 API_OK);
    cr_assert_eq(resp.status, 200);
    cr_assert_eq(resp.body_len, sizeof(malformed));
    cr_assert_eq(memcmp(resp.body, malformed, sizeof(malformed)), 0);
    api_response_cleanup(&resp);
    memset(&resp, 0, sizeof(resp));
    cr_assert_eq(api_ocsp_respond_base64(ocsp, "%%%", 3, api_now(), &resp, NULL), API_OK);
    cr_assert_eq(error_status(&resp), OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
    api_response_cleanup(&resp);
    memset(&resp, 0, sizeof(resp));
    cr_assert_eq(api_ocsp_respond_der(ocsp, NULL, 0, api_now(), &resp, NULL), API_OK);
    cr_assert_eq(error_status(&resp), OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
    api_response_cleanup(&resp);
}

Test(api_ocsp, answers_unauthorized_for_another_issuer)
{
    struct api_response resp;
    size_t der_len = 0;

    unsigned char *der = request(pki.root, serial_a, sizeof(serial_a), EVP_sha1(), 0, &der_len);
    memset(&resp, 0, sizeof(resp));
    cr_assert_eq(api_ocsp_respond_der(ocsp, der, der_len, api_now(), &resp, NULL), API_OK);
    cr_assert_eq(error_status(&resp), OCSP_RESPONSE_STATUS_UNAUTHORIZED);
    OPENSSL_free(der);
    api_response_cleanup(&resp);
}

Test(api_ocsp, answers_the_url_encoded_base64_form_like_der)
{
    struct api_response resp;
    size_t der_len = 0;
    char b64[1024];
    char enc[3 * 1024];

    put_record(serial_a, sizeof(serial_a));
    unsigned char *der = request(pki.inter, serial_a, sizeof(serial_a), EVP_sha1(), 0, &der_len);
    int n = EVP_EncodeBlock((unsigned char *)b64, der, (int)der_len);
    size_t m = 0;
    for (int i = 0; i < n; i++) {
        const char *esc = b64[i] == '/'   ? "%2F"
                          : b64[i] == '+' ? "%2b"
                          : b64[i] == '=' ? "%3D"
                                          : NULL;
        if (esc != NULL) {
            memcpy(enc + m, esc, 3);
            m += 3;
        } else {
            enc[m++] = b64[i];
        }
    }
    memset(&resp, 0, sizeof(resp));
    cr_assert_eq(api_ocsp_respond_base64(ocsp, enc, m, api_now(), &resp, NULL), API_OK);
    cr_assert_eq(status_of(&resp, serial_a, sizeof(serial_a), EVP_sha1(), NULL),
                 V_OCSP_CERTSTATUS_GOOD);
    cr_assert_neq(resp.etag[0], '\0');
    OPENSSL_free(der);
    api_response_cleanup(&resp);
}

Test(api_ocsp, keeps_the_cache_bounded_by_evicting)
{
    struct api_ocsp *small = NULL;
    struct api_ocsp_stats stats;
    struct api_response resp;
    size_t der_len = 0;

    cr_assert_eq(api_ocsp_new(issuer, st, VALIDITY, 1, &small, NULL), API_OK);
    api_ocsp_stats_get(small, &stats);
    cr_assert_eq(stats.capacity, 64 * 8, "the smallest cache is one set per shard");
    for (unsigned i = 1; i <= 3 * stats.capacity; i++) {
        unsigned char serial[4] = {0x40, (unsigned char)(i >> 16), (unsigned char)(i >> 8),
                                   (unsigned char)i};
        put_record(serial, sizeof(serial)); /* "unknown" answers are not cached */
        unsigned char *der = request(pki.inter, serial, sizeof(serial), EVP_sha1(), 0, &der_len);
        memset(&resp, 0, sizeof(resp));
        cr_assert_eq(api_ocsp_respond_der(small, der, der_len, api_now(), &resp, NULL), API_OK);
        api_response_cleanup(&resp);
        OPENSSL_free(der);
    }
    api_ocsp_stats_get(small, &stats);
    cr_assert_geq(stats.evictions, 2 * stats.capacity);
    cr_assert_eq(stats.signs, 3 * stats.capacity);
    api_ocsp_free(small);
}

Test(api_ocsp, keeps_no_unknown_answer_in_the_cache)
{
    struct api_response resp;
    struct api_ocsp_stats stats;
    static const unsigned char never[] = {0x52, 0x0e, 0x0e};
    int64_t now = api_now();

    put_record(serial_a, sizeof(serial_a));
    for (int i = 0; i < 2; i++) {
        ask(never, sizeof(never), 0, now, &resp);
        cr_assert_eq(status_of(&resp, never, sizeof(never), EVP_sha1(), NULL),
                     V_OCSP_CERTSTATUS_UNKNOWN);
        api_response_cleanup(&resp);
        ask(serial_a, sizeof(serial_a), 0, now, &resp);
        cr_assert_eq(status_of(&resp, serial_a, sizeof(serial_a), EVP_sha1(), NULL),
                     V_OCSP_CERTSTATUS_GOOD);
        api_response_cleanup(&resp);
    }
    api_ocsp_stats_get(ocsp, &stats);
    cr_assert_eq(stats.signs, 3, "unknown signed each time, good once then from the cache");
    cr_assert_eq(stats.hits, 1);
}
