/* test_api_jwks.c: api/jwks.c, verification keys from JWKS and PEM files, and
 * base64url decoding. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <openssl/pem.h>

#include "../../api/internal.h"
#include "testfs.h"
#include "testjwt.h"

static char dir[64];
static char path[128];
static struct api_error err;
static struct api_jwk *keys;
static size_t num_keys;

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/signet-jwks-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/jwks.json", dir);
    memset(&err, 0, sizeof(err));
    keys = NULL;
    num_keys = 0;
}

static void teardown(void)
{
    for (size_t i = 0; i < num_keys; i++) {
        api_jwk_cleanup(&keys[i]);
    }
    free(keys);
    testfs_rmtree(dir);
}

TestSuite(api_jwks, .init = setup, .fini = teardown);

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    testjwt_shared_cleanup();
}

static void write_text(const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void expect_refused(const char *needle)
{
    enum api_err rc = api_jwks_load(path, &keys, &num_keys, &err);
    cr_assert_eq(rc, API_ERR_BAD_REQUEST, "rc %d", rc);
    cr_assert_not_null(strstr(err.msg, needle), "message '%s' lacks '%s'", err.msg, needle);
    cr_assert_null(keys);
}

/* ---- base64url ---- */

struct b64_case {
    char in[16];
    char out[16]; /* "!" when refused */
};

ParameterizedTestParameters(api_jwks, base64url_decodes_exactly_or_refuses)
{
    static struct b64_case cases[] = {
        {"", ""},           {"YQ", "a"},         {"YWI", "ab"}, {"YWJj", "abc"},
        {"YWJjZA", "abcd"}, {"-_8", "\xfb\xff"}, {"Y", "!"},    {"YWJjZ", "!"},
        {"YQ==", "!"},      {"YW+j", "!"},       {"YW/j", "!"}, {"YW j", "!"},
        {"YW\nj", "!"},
    };
    return cr_make_param_array(struct b64_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct b64_case *c, api_jwks, base64url_decodes_exactly_or_refuses)
{
    unsigned char *out = NULL;
    size_t out_len = 0;
    enum api_err rc = api_b64url_decode(c->in, strlen(c->in), &out, &out_len, &err);
    if (strcmp(c->out, "!") == 0) {
        cr_assert_eq(rc, API_ERR_BAD_REQUEST, "'%s' accepted", c->in);
        cr_assert_null(out);
        return;
    }
    cr_assert_eq(rc, API_OK, "'%s' refused", c->in);
    cr_assert_eq(out_len, strlen(c->out), "'%s' gave %zu bytes", c->in, out_len);
    cr_assert_eq(memcmp(out, c->out, out_len), 0);
    cr_assert_eq(out[out_len], '\0');
    OPENSSL_clear_free(out, out_len + 1);
}

/* ---- JWKS ---- */

Test(api_jwks, rsa_and_ec_keys_load_as_pem_pinned_to_one_algorithm)
{
    EVP_PKEY *rsa = testjwt_rsa_key_shared();
    EVP_PKEY *ec = testjwt_ec_key();
    EVP_PKEY *in[] = {rsa, ec};
    const char *kids[] = {"r", "e"};
    cr_assert(testjwt_jwks_write(path, in, kids, 2));
    cr_assert_eq(api_jwks_load(path, &keys, &num_keys, &err), API_OK, "%s", err.msg);
    cr_assert_eq(num_keys, 2);
    cr_assert_str_eq(keys[0].kid, "r");
    cr_assert_eq(keys[0].alg, API_JWT_RS256);
    cr_assert_str_eq(keys[1].kid, "e");
    cr_assert_eq(keys[1].alg, API_JWT_ES256);
    for (size_t i = 0; i < 2; i++) {
        size_t want_len = 0;
        char *want = testjwt_pubkey_pem(in[i], &want_len);
        cr_assert_eq(keys[i].pem_len, want_len);
        cr_assert_eq(memcmp(keys[i].pem, want, want_len), 0, "key %zu PEM differs", i);
        free(want);
    }
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
}

Test(api_jwks, a_single_key_needs_no_kid)
{
    EVP_PKEY *ec = testjwt_ec_key();
    cr_assert(testjwt_jwks_write(path, &ec, NULL, 1));
    EVP_PKEY_free(ec);
    cr_assert_eq(api_jwks_load(path, &keys, &num_keys, &err), API_OK, "%s", err.msg);
    cr_assert_eq(num_keys, 1);
    cr_assert_str_eq(keys[0].kid, "");
}

Test(api_jwks, several_keys_without_kid_are_refused)
{
    EVP_PKEY *in[] = {testjwt_ec_key(), testjwt_ec_key()};
    const char *kids[] = {"a", NULL};
    cr_assert(testjwt_jwks_write(path, in, kids, 2));
    EVP_PKEY_free(in[0]);
    EVP_PKEY_free(in[1]);
    expect_refused("keys[1]: \"kid\" is required when there are several keys");
}

Test(api_jwks, duplicate_kids_are_refused)
{
    EVP_PKEY *in[] = {testjwt_ec_key(), testjwt_ec_key()};
    const char *kids[] = {"a", "a"};
    cr_assert(testjwt_jwks_write(path, in, kids, 2));
    EVP_PKEY_free(in[0]);
    EVP_PKEY_free(in[1]);
    expect_refused("keys[1]: duplicate \"kid\"");
}

static const char p256_x[] = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
static const char p256_y[] = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

Test(api_jwks, known_p256_jwk_from_rfc7515_loads)
{
    char text[512];
    snprintf(text, sizeof(text),
             "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}]}", p256_x,
             p256_y);
    write_text(text);
    cr_assert_eq(api_jwks_load(path, &keys, &num_keys, &err), API_OK, "%s", err.msg);
    cr_assert_not_null(strstr(keys[0].pem, "BEGIN PUBLIC KEY"));
}

Test(api_jwks, point_off_the_curve_is_refused)
{
    char text[512];
    char y[sizeof(p256_y)];
    memcpy(y, p256_y, sizeof(y));
    y[5] = y[5] == 'A' ? 'B' : 'A';
    snprintf(text, sizeof(text),
             "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}]}", p256_x,
             y);
    write_text(text);
    expect_refused("keys[0]: invalid public key");
}

Test(api_jwks, other_curves_are_refused)
{
    write_text("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AA\",\"y\":\"AA\"}]}");
    expect_refused("only EC curve P-256");
}

Test(api_jwks, short_coordinates_are_refused)
{
    write_text("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"}]}");
    expect_refused("P-256 coordinates are 32 bytes");
}

Test(api_jwks, symmetric_keys_are_refused)
{
    write_text("{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}");
    expect_refused("\"kty\" must be RSA or EC");
}

Test(api_jwks, private_key_material_is_refused)
{
    char text[512];
    snprintf(
        text, sizeof(text),
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"d\":\"AA\"}]}",
        p256_x, p256_y);
    write_text(text);
    expect_refused("holds private key material");
}

Test(api_jwks, key_declaring_another_algorithm_is_refused)
{
    char text[512];
    snprintf(text, sizeof(text),
             "{\"keys\":[{\"kty\":\"EC\",\"alg\":\"HS256\",\"crv\":\"P-256\",\"x\":\"%s\","
             "\"y\":\"%s\"}]}",
             p256_x, p256_y);
    write_text(text);
    expect_refused("EC keys are accepted for ES256 only");
}

Test(api_jwks, encryption_keys_are_refused)
{
    char text[512];
    snprintf(text, sizeof(text),
             "{\"keys\":[{\"kty\":\"EC\",\"use\":\"enc\",\"crv\":\"P-256\",\"x\":\"%s\","
             "\"y\":\"%s\"}]}",
             p256_x, p256_y);
    write_text(text);
    expect_refused("\"use\" must be \"sig\"");
}

Test(api_jwks, rsa_keys_below_2048_bits_are_refused)
{
    EVP_PKEY *small = testjwt_rsa_key(1024);
    cr_assert(testjwt_jwks_write(path, &small, NULL, 1));
    EVP_PKEY_free(small);
    expect_refused("RSA keys must have 2048..8192 bits");
}

Test(api_jwks, rsa_modulus_that_is_not_base64url_is_refused)
{
    write_text("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"a+b\",\"e\":\"AQAB\"}]}");
    expect_refused("\"n\" is not base64url");
}

Test(api_jwks, empty_key_list_is_refused)
{
    write_text("{\"keys\":[]}");
    expect_refused("\"keys\" must be an array of 1..16 keys");
}

Test(api_jwks, unknown_top_level_member_is_refused)
{
    write_text("{\"keys\":[],\"x\":1}");
    expect_refused("expected an object with only \"keys\"");
}

Test(api_jwks, duplicate_members_are_refused)
{
    write_text("{\"keys\":[],\"keys\":[]}");
    expect_refused("not valid JSON");
}

Test(api_jwks, missing_file_is_refused)
{
    expect_refused("auth.kubernetes.jwks_file: file not found");
}

Test(api_jwks, oversize_file_is_refused)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (size_t i = 0; i <= API_MAX_KEY_BYTES; i++) {
        fputc(' ', f);
    }
    fclose(f);
    expect_refused("larger than");
}

/* ---- Provisioner public keys ---- */

static enum api_err load_pub(EVP_PKEY *key, struct api_jwk *out)
{
    cr_assert(testjwt_pubkey_write(path, key));
    EVP_PKEY_free(key);
    return api_jwk_pubkey_load(path, "prov.public_key", out, &err);
}

Test(api_jwks, p256_public_key_loads_pinned_to_es256)
{
    struct api_jwk k = {0};
    cr_assert_eq(load_pub(testjwt_ec_key(), &k), API_OK, "%s", err.msg);
    cr_assert_eq(k.alg, API_JWT_ES256);
    cr_assert_not_null(strstr(k.pem, "BEGIN PUBLIC KEY"));
    api_jwk_cleanup(&k);
}

Test(api_jwks, rsa_public_key_is_refused_for_a_provisioner)
{
    struct api_jwk k = {0};
    cr_assert_eq(load_pub(testjwt_rsa_key_shared(), &k), API_ERR_BAD_REQUEST);
    cr_assert_str_eq(err.msg, "prov.public_key: provisioner keys must be EC P-256");
}

Test(api_jwks, p384_public_key_is_refused_for_a_provisioner)
{
    struct api_jwk k = {0};
    cr_assert_eq(load_pub(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"), &k), API_ERR_BAD_REQUEST);
    cr_assert_str_eq(err.msg, "prov.public_key: provisioner keys must be EC P-256");
}

Test(api_jwks, trailing_data_after_the_public_key_is_refused)
{
    struct api_jwk k = {0};
    EVP_PKEY *ec = testjwt_ec_key();
    cr_assert(testjwt_pubkey_write(path, ec));
    EVP_PKEY_free(ec);
    FILE *f = fopen(path, "a");
    fputs("trailing\n", f);
    fclose(f);
    cr_assert_eq(api_jwk_pubkey_load(path, "p", &k, &err), API_ERR_BAD_REQUEST);
    cr_assert_str_eq(err.msg, "p: trailing data after the key");
}

Test(api_jwks, text_that_is_not_pem_is_refused)
{
    struct api_jwk k = {0};
    write_text("hello\n");
    cr_assert_eq(api_jwk_pubkey_load(path, "p", &k, &err), API_ERR_BAD_REQUEST);
    cr_assert_str_eq(err.msg, "p: not a PEM public key");
}
