/* test_api_client.c: api/client.c: parsing of the server's answers (an SVID,
 * an error body) with well-formed and malformed inputs, serials, times, and
 * the client's refusals before and below HTTP. The SVIDs are signed by a
 * throw-away PKI from tests/lib (real OpenSSL). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <openssl/pem.h>

#include "../../api/internal.h"
#include "testpki.h"

#define ID "spiffe://example.org/ns/default/sa/web"

static struct testpki pki;
static EVP_PKEY *key;
static X509 *leaf;
static char *leaf_pem;
static char *inter_pem;
static char *root_pem;
static char serial[API_CLIENT_SERIAL_MAX];
static int64_t not_after;

static char *pem_of(X509 *x)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;

    cr_assert(PEM_write_bio_X509(bio, x) == 1);
    long n = BIO_get_mem_data(bio, &data);
    char *s = malloc((size_t)n + 1);
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    BIO_free(bio);
    return s;
}

static void setup(void)
{
    testpki_init(&pki, "example.org");
    key = testpki_key_new(TESTPKI_P256);
    int64_t now = (int64_t)time(NULL);
    not_after = now + 3600;
    leaf = testpki_sign_leaf(&pki, key, ID, now - 60, not_after, 0);
    leaf_pem = pem_of(leaf);
    inter_pem = pem_of(pki.inter);
    root_pem = pem_of(pki.root);
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL);
    char *hex = BN_bn2hex(bn);
    cr_assert(api_serial_normalize(hex, serial, NULL) == API_OK);
    OPENSSL_free(hex);
    BN_free(bn);
}

static void teardown(void)
{
    free(leaf_pem);
    free(inter_pem);
    free(root_pem);
    X509_free(leaf);
    EVP_PKEY_free(key);
    testpki_cleanup(&pki);
}

TestSuite(api_client, .init = setup, .fini = teardown);

/* answer builds a 201 body; |drop| leaves a key out, |set|/|value| overrides one. */
static char *answer(const char *drop, const char *set, json_t *value)
{
    char na[32], ra[32];

    cr_assert(api_time_rfc3339(not_after, na, sizeof(na)));
    cr_assert(api_time_rfc3339(not_after - 1800, ra, sizeof(ra)));
    json_t *doc = json_pack("{s:s, s:s, s:[], s:s, s:s, s:s, s:s, s:s, s:s}", "serial", serial,
                            "spiffe_id", ID, "dns_names", "not_before", "2026-01-01T00:00:00Z",
                            "not_after", na, "renew_after", ra, "certificate", leaf_pem, "chain",
                            inter_pem, "bundle", root_pem);
    cr_assert_not_null(doc);
    if (drop != NULL) {
        json_object_del(doc, drop);
    }
    if (set != NULL) {
        json_object_set_new(doc, set, value);
    }
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return s;
}

static enum api_err parse(const char *body, struct api_error *err)
{
    struct api_svid svid;
    enum api_err rc = api_svid_parse(body, strlen(body), &svid, err);
    api_svid_cleanup(&svid);
    return rc;
}

Test(api_client, parses_a_well_formed_svid_answer)
{
    char *body = answer(NULL, NULL, NULL);
    struct api_svid svid;
    struct api_error err = {0};

    cr_assert_eq(api_svid_parse(body, strlen(body), &svid, &err), API_OK, "%s", err.msg);
    cr_assert_str_eq(svid.serial, serial);
    cr_assert_str_eq(svid.spiffe_id, ID);
    cr_assert_eq(svid.not_after, not_after);
    cr_assert_eq(svid.renew_after, not_after - 1800);
    cr_assert_eq(X509_check_private_key(svid.leaf, key), 1);
    /* svid.pem is the leaf then the chain */
    cr_assert_eq(strncmp(svid.cert_pem, leaf_pem, strlen(leaf_pem)), 0);
    cr_assert_str_eq(svid.cert_pem + strlen(leaf_pem), inter_pem);
    cr_assert_str_eq(svid.bundle_pem, root_pem);
    api_svid_cleanup(&svid);
    free(body);
}

Test(api_client, ignores_unknown_keys_from_a_newer_server)
{
    char *body = answer(NULL, "future_field", json_string("x"));
    struct api_error err = {0};

    cr_assert_eq(parse(body, &err), API_OK, "%s", err.msg);
    free(body);
}

Test(api_client, refuses_an_answer_that_is_not_json)
{
    struct api_error err = {0};

    cr_assert_eq(parse("<html>502 Bad Gateway</html>", &err), API_ERR_BAD_REQUEST);
    cr_assert_eq(parse("[1,2]", &err), API_ERR_BAD_REQUEST);
    cr_assert_eq(parse("{\"serial\": ", &err), API_ERR_BAD_REQUEST);
}

Test(api_client, refuses_an_empty_answer)
{
    struct api_svid svid;
    struct api_error err = {0};

    cr_assert_eq(api_svid_parse("", 0, &svid, &err), API_ERR_BAD_REQUEST);
    api_svid_cleanup(&svid);
}

Test(api_client, refuses_an_answer_with_duplicate_keys)
{
    char *body = answer(NULL, NULL, NULL);
    size_t len = strlen(body);
    char *dup = malloc(len + 32);
    struct api_error err = {0};

    /* {"serial":"x", ...} -> {"serial":"1","serial":"x", ...} */
    snprintf(dup, len + 32, "{\"serial\":\"1\",%s", body + 1);
    cr_assert_eq(parse(dup, &err), API_ERR_BAD_REQUEST);
    free(dup);
    free(body);
}

Test(api_client, refuses_an_answer_missing_each_required_field)
{
    static const char *const fields[] = {"serial",      "spiffe_id", "not_after", "renew_after",
                                         "certificate", "chain",     "bundle"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        char *body = answer(fields[i], NULL, NULL);
        struct api_error err = {0};
        cr_assert_eq(parse(body, &err), API_ERR_BAD_REQUEST, "without %s", fields[i]);
        free(body);
    }
}

Test(api_client, refuses_a_field_of_the_wrong_type)
{
    char *body = answer(NULL, "not_after", json_integer(1700000000));
    struct api_error err = {0};

    cr_assert_eq(parse(body, &err), API_ERR_BAD_REQUEST);
    free(body);
}

Test(api_client, refuses_a_serial_not_in_canonical_form)
{
    static const char *const bad[] = {"ABC", "0abc", "ab:cd", "", "xyz"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *body = answer(NULL, "serial", json_string(bad[i]));
        struct api_error err = {0};
        cr_assert_eq(parse(body, &err), API_ERR_BAD_REQUEST, "serial %s", bad[i]);
        free(body);
    }
}

Test(api_client, refuses_a_time_not_in_rfc3339_utc_form)
{
    char *body = answer(NULL, "renew_after", json_string("2026-11-27 10:00:00"));
    struct api_error err = {0};

    cr_assert_eq(parse(body, &err), API_ERR_BAD_REQUEST);
    cr_assert_not_null(strstr(err.msg, "renew_after"));
    free(body);
}

Test(api_client, refuses_a_not_after_that_differs_from_the_certificate)
{
    char *body = answer(NULL, "not_after", json_string("2030-01-01T00:00:00Z"));
    struct api_error err = {0};

    cr_assert_eq(parse(body, &err), API_ERR_BAD_REQUEST);
    free(body);
}

Test(api_client, refuses_a_certificate_for_another_spiffe_id)
{
    char *body = answer(NULL, "spiffe_id", json_string("spiffe://example.org/other"));
    struct api_error err = {0};

    cr_assert_eq(parse(body, &err), API_ERR_BAD_REQUEST);
    cr_assert_not_null(strstr(err.msg, "spiffe_id"));
    free(body);
}

Test(api_client, refuses_a_certificate_field_holding_two_certificates)
{
    size_t len = 2 * strlen(leaf_pem) + 1;
    char *two = malloc(len);
    snprintf(two, len, "%s%s", leaf_pem, leaf_pem);
    char *body = answer(NULL, "certificate", json_string(two));
    struct api_error err = {0};

    cr_assert_eq(parse(body, &err), API_ERR_BAD_REQUEST);
    free(body);
    free(two);
}

Test(api_client, refuses_a_certificate_that_is_not_pem)
{
    char *body = answer(NULL, "certificate", json_string("-----BEGIN CERTIFICATE-----\nAAAA\n"));
    struct api_error err = {0};

    cr_assert_eq(parse(body, &err), API_ERR_BAD_REQUEST);
    free(body);
}

Test(api_client, refuses_a_certificate_that_does_not_chain_to_the_bundle)
{
    struct testpki other;
    testpki_init(&other, "example.org");
    char *other_root = pem_of(other.root);
    char *body = answer(NULL, "bundle", json_string(other_root));
    struct api_error err = {0};

    cr_assert_eq(parse(body, &err), API_ERR_BAD_REQUEST);
    cr_assert_not_null(strstr(err.msg, "bundle"));
    free(body);
    free(other_root);
    testpki_cleanup(&other);
}

Test(api_client, refuses_an_answer_larger_than_the_cap)
{
    size_t len = API_CLIENT_MAX_RESPONSE + 1;
    char *big = malloc(len + 1);
    memset(big, ' ', len);
    big[0] = '{';
    big[len - 1] = '}';
    big[len] = '\0';
    struct api_error err = {0};

    cr_assert_eq(parse(big, &err), API_ERR_BAD_REQUEST);
    free(big);
}

Test(api_client, reads_rfc3339_utc_times)
{
    int64_t t = 0;

    cr_assert(api_time_parse_rfc3339("2026-11-27T10:00:00Z", 20, &t));
    cr_assert_eq(t, 1795773600);
    cr_assert(api_time_parse_rfc3339("1970-01-01T00:00:00Z", 20, &t));
    cr_assert_eq(t, 0);
}

Test(api_client, refuses_malformed_times)
{
    static const char *const bad[] = {"2026-11-27T10:00:00",  "2026-11-27T10:00:00+00:00",
                                      "2026-02-31T10:00:00Z", "2026-13-01T10:00:00Z",
                                      "2026-11-27t10:00:00Z", "2026-11-27T24:00:00Z",
                                      "+026-11-27T10:00:00Z", "2026-11-27T10:00:0xZ"};
    int64_t t = 0;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_not(api_time_parse_rfc3339(bad[i], strlen(bad[i]), &t), "%s", bad[i]);
    }
}

Test(api_client, normalizes_serials_with_colons_case_and_leading_zeros)
{
    char out[API_CLIENT_SERIAL_MAX];

    cr_assert_eq(api_serial_normalize("00:3F:9A:01", out, NULL), API_OK);
    cr_assert_str_eq(out, "3f9a01");
    cr_assert_eq(api_serial_normalize("0abc", out, NULL), API_OK);
    cr_assert_str_eq(out, "abc");
}

Test(api_client, refuses_bad_serials)
{
    static const char *const bad[] = {"",       "0",
                                      "00:00",  "xyz",
                                      "3f:",    ":3f",
                                      "3f::9a", "-1",
                                      "0x3f",   "0102030405060708090a0b0c0d0e0f101112131415"};
    char out[API_CLIENT_SERIAL_MAX];
    struct api_error err = {0};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(api_serial_normalize(bad[i], out, &err), API_ERR_BAD_REQUEST, "%s", bad[i]);
    }
}

Test(api_client, reads_the_code_and_message_of_an_error_body)
{
    char body[] = "{\"error\":\"unauthenticated\",\"message\":\"bad\\nline\"}";
    struct api_reply r = {.status = 401, .body = body, .body_len = sizeof(body) - 1};

    api_reply_parse_error(&r);
    cr_assert_str_eq(r.error, "unauthenticated");
    cr_assert_str_eq(r.message, "bad?line"); /* one line, whatever the server sends */
}

Test(api_client, leaves_the_error_empty_for_a_body_that_is_not_json)
{
    char body[] = "Service Unavailable";
    struct api_reply r = {.status = 503, .body = body, .body_len = sizeof(body) - 1};

    api_reply_parse_error(&r);
    cr_assert_str_eq(r.error, "");
    cr_assert_str_eq(r.message, "");
}

Test(api_client, refuses_a_server_url_that_is_not_https)
{
    struct api_client *c = NULL;
    struct api_error err = {0};

    cr_assert_eq(api_client_new("http://127.0.0.1:8080", pki.root_path, &c, &err),
                 API_ERR_BAD_REQUEST);
    cr_assert_null(c);
}

Test(api_client, refuses_a_ca_file_that_cannot_be_read)
{
    struct api_client *c = NULL;
    struct api_error err = {0};

    cr_assert_eq(api_client_new("https://127.0.0.1:8443", "/nonexistent/root.pem", &c, &err),
                 API_ERR_BAD_REQUEST);
    cr_assert_not_null(strstr(err.msg, "--ca"));
}

Test(api_client, reports_a_server_that_cannot_be_reached)
{
    struct api_client *c = NULL;
    struct api_reply r;
    struct api_error err = {0};

    cr_assert_eq(api_client_new("https://127.0.0.1:1/", pki.root_path, &c, &err), API_OK, "%s",
                 err.msg);
    cr_assert_eq(api_client_call(c, "GET", "/healthz", NULL, NULL, 0, &r, &err),
                 API_ERR_UNAVAILABLE);
    cr_assert_eq(r.fail, API_CLIENT_FAIL_CONNECT);
    cr_assert_eq(r.status, 0);
    cr_assert_not_null(strstr(err.msg, "cannot connect to https://127.0.0.1:1"), "%s", err.msg);
    api_reply_cleanup(&r);
    api_client_free(c);
}

Test(api_client, refuses_a_client_key_that_does_not_match_the_certificate)
{
    struct api_client *c = NULL;
    struct api_error err = {0};
    char cert_path[256], key_path[256];
    EVP_PKEY *other = testpki_key_new(TESTPKI_P256);
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;

    cr_assert(PEM_write_bio_PKCS8PrivateKey(bio, other, NULL, NULL, 0, NULL, NULL) == 1);
    long n = BIO_get_mem_data(bio, &data);
    testpki_write(&pki, "other.key", data, (size_t)n, key_path, sizeof(key_path));
    testpki_write(&pki, "leaf.pem", leaf_pem, strlen(leaf_pem), cert_path, sizeof(cert_path));
    cr_assert_eq(api_client_new("https://127.0.0.1:1", pki.root_path, &c, &err), API_OK);
    cr_assert_eq(api_client_identity_files(c, cert_path, key_path, &err), API_ERR_BAD_REQUEST);
    cr_assert_not_null(strstr(err.msg, "does not match"), "%s", err.msg);
    api_client_free(c);
    BIO_free(bio);
    EVP_PKEY_free(other);
}

Test(api_client, holds_an_identity_given_as_pem_and_drops_it_on_null)
{
    struct api_client *c = NULL;
    struct api_error err = {0};
    size_t key_len = 0;
    char *key_pem = testpki_key_pem(key, &key_len);
    char chain[16384];
    int n = snprintf(chain, sizeof(chain), "%s%s", leaf_pem, inter_pem);

    cr_assert(n > 0 && n < (int)sizeof(chain));
    cr_assert_eq(api_client_new("https://127.0.0.1:1", pki.root_path, &c, &err), API_OK);
    cr_assert_eq(api_client_identity_pem(c, chain, (size_t)n, key_pem, key_len, &err), API_OK, "%s",
                 err.msg);
    cr_assert_eq(api_client_identity_pem(c, NULL, 0, NULL, 0, NULL), API_OK);
    api_client_free(c);
    OPENSSL_free(key_pem);
}

Test(api_client, refuses_a_pem_identity_whose_key_does_not_match)
{
    struct api_client *c = NULL;
    struct api_error err = {0};
    EVP_PKEY *other = testpki_key_new(TESTPKI_P256);
    size_t key_len = 0;
    char *key_pem = testpki_key_pem(other, &key_len);

    cr_assert_eq(api_client_new("https://127.0.0.1:1", pki.root_path, &c, &err), API_OK);
    cr_assert_eq(api_client_identity_pem(c, leaf_pem, strlen(leaf_pem), key_pem, key_len, &err),
                 API_ERR_BAD_REQUEST);
    cr_assert_not_null(strstr(err.msg, "does not match"), "%s", err.msg);
    api_client_free(c);
    OPENSSL_free(key_pem);
    EVP_PKEY_free(other);
}

Test(api_client, refuses_a_pem_identity_whose_key_is_not_a_key)
{
    struct api_client *c = NULL;
    struct api_error err = {0};

    cr_assert_eq(api_client_new("https://127.0.0.1:1", pki.root_path, &c, &err), API_OK);
    cr_assert_eq(
        api_client_identity_pem(c, leaf_pem, strlen(leaf_pem), leaf_pem, strlen(leaf_pem), &err),
        API_ERR_BAD_REQUEST);
    cr_assert_not_null(strstr(err.msg, "client key"), "%s", err.msg);
    api_client_free(c);
}
