/* test_api_token.c: api/token.c, minting provisioner tokens for `signet token`,
 * checked by decoding them and by verifying them with api_auth_bearer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <openssl/pem.h>

#include "../../api/internal.h"
#include "testfs.h"
#include "testjwt.h"

#define NOW  1900000000LL
#define PSUB "spiffe://example.org/ns/default/sa/web"

static char dir[64];
static char key_path[128];
static char pub_path[128];
static struct api_config cfg;
static struct store *st;
static struct api_auth *auth;
static struct api_error err;
static struct api_token_params params;
static char *token;

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/signet-token-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(key_path, sizeof(key_path), "%s/bootstrap.key", dir);
    snprintf(pub_path, sizeof(pub_path), "%s/bootstrap.pub", dir);
    EVP_PKEY *key = testjwt_ec_key();
    cr_assert(testjwt_privkey_write(key_path, key));
    cr_assert(testjwt_pubkey_write(pub_path, key));
    EVP_PKEY_free(key);

    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.trust_domain, sizeof(cfg.trust_domain), "example.org");
    snprintf(cfg.provisioners[0].name, sizeof(cfg.provisioners[0].name), "bootstrap");
    snprintf(cfg.provisioners[0].public_key, sizeof(cfg.provisioners[0].public_key), "%s",
             pub_path);
    cfg.provisioners[0].max_ttl_s = 3600;
    cfg.num_provisioners = 1;
    char db[128];
    snprintf(db, sizeof(db), "%s/db", dir);
    struct store_options opts = {.path = db, .map_size = 16 << 20};
    cr_assert_eq(store_open(&opts, &st), STORE_OK);
    cr_assert_eq(api_auth_new(&cfg, st, &auth, &err), API_OK, "%s", err.msg);

    memset(&params, 0, sizeof(params));
    params.key_path = key_path;
    params.provisioner = "bootstrap";
    params.spiffe_id = PSUB;
    params.now = NOW;
    token = NULL;
    memset(&err, 0, sizeof(err));
}

static void teardown(void)
{
    api_token_free(token);
    api_auth_free(auth);
    store_close(st);
    testfs_rmtree(dir);
}

TestSuite(api_token, .init = setup, .fini = teardown);

/* part_json decodes segment |index| (0 header, 1 payload) of |t|. */
static json_t *part_json(const char *t, int index)
{
    const char *start = t;
    for (int i = 0; i < index; i++) {
        start = strchr(start, '.') + 1;
    }
    const char *end = strchr(start, '.');
    unsigned char *raw = NULL;
    size_t raw_len = 0;
    cr_assert_eq(api_b64url_decode(start, (size_t)(end - start), &raw, &raw_len, NULL), API_OK);
    json_t *j = json_loadb((const char *)raw, raw_len, JSON_REJECT_DUPLICATES, NULL);
    OPENSSL_clear_free(raw, raw_len + 1);
    cr_assert_not_null(j);
    return j;
}

static enum api_err mint(void)
{
    return api_token_mint(&params, &token, &err);
}

static void mint_refused(const char *msg)
{
    cr_assert_eq(mint(), API_ERR_BAD_REQUEST);
    cr_assert_str_eq(err.msg, msg);
    cr_assert_null(token);
}

Test(api_token, minted_token_verifies_and_gives_its_identity)
{
    const char *dns[] = {"web.example.org", "web"};
    params.dns_names = dns;
    params.num_dns_names = 2;
    cr_assert_eq(mint(), API_OK, "%s", err.msg);
    struct api_principal who;
    cr_assert_eq(api_auth_bearer(auth, token, strlen(token), NOW + 1, &who, &err), API_OK, "%s",
                 err.msg);
    cr_assert_eq(who.method, API_AUTH_PROVISIONER);
    cr_assert_str_eq(who.spiffe_id, PSUB);
    cr_assert_eq(who.num_dns_names, 2);
    cr_assert_str_eq(who.dns_names[1], "web");
    cr_assert_eq(who.max_ttl_s, 3600);
    /* and only once: spent as an issuance spends it */
    cr_assert_eq(who.jti_len, 32);
    cr_assert_eq(store_jti_use(st, who.jti, who.jti_len, who.jti_expires_at), STORE_OK);
    cr_assert_eq(api_auth_bearer(auth, token, strlen(token), NOW + 2, &who, &err),
                 API_ERR_UNAUTHENTICATED);
    cr_assert_str_eq(err.msg, "token already used");
}

Test(api_token, minted_token_carries_the_contract_claims)
{
    params.ttl = "90s";
    cr_assert_eq(mint(), API_OK, "%s", err.msg);
    json_t *hdr = part_json(token, 0);
    json_t *c = part_json(token, 1);
    cr_assert_str_eq(json_string_value(json_object_get(hdr, "alg")), "ES256");
    cr_assert_str_eq(json_string_value(json_object_get(c, "iss")), "bootstrap");
    cr_assert_str_eq(json_string_value(json_object_get(c, "sub")), PSUB);
    cr_assert_str_eq(json_string_value(json_object_get(c, "aud")),
                     "spiffe://example.org/signet/server");
    cr_assert_eq(json_integer_value(json_object_get(c, "iat")), NOW);
    cr_assert_eq(json_integer_value(json_object_get(c, "nbf")), NOW);
    cr_assert_eq(json_integer_value(json_object_get(c, "exp")), NOW + 90);
    cr_assert_null(json_object_get(c, "dns"));
    const char *jti = json_string_value(json_object_get(c, "jti"));
    cr_assert_not_null(jti);
    cr_assert_eq(strlen(jti), 32);
    cr_assert_eq(strspn(jti, "0123456789abcdef"), 32);
    json_decref(hdr);
    json_decref(c);
}

Test(api_token, default_ttl_is_five_minutes)
{
    cr_assert_eq(mint(), API_OK, "%s", err.msg);
    json_t *c = part_json(token, 1);
    cr_assert_eq(json_integer_value(json_object_get(c, "exp")), NOW + 300);
    json_decref(c);
}

Test(api_token, two_tokens_get_different_jti)
{
    cr_assert_eq(mint(), API_OK, "%s", err.msg);
    char *first = token;
    token = NULL;
    cr_assert_eq(mint(), API_OK, "%s", err.msg);
    json_t *a = part_json(first, 1);
    json_t *b = part_json(token, 1);
    cr_assert_str_neq(json_string_value(json_object_get(a, "jti")),
                      json_string_value(json_object_get(b, "jti")));
    json_decref(a);
    json_decref(b);
    api_token_free(first);
}

Test(api_token, token_expires_for_the_server_after_its_ttl)
{
    params.ttl = "1m";
    cr_assert_eq(mint(), API_OK, "%s", err.msg);
    struct api_principal who;
    cr_assert_eq(api_auth_bearer(auth, token, strlen(token), NOW + 60 + 61, &who, &err),
                 API_ERR_UNAUTHENTICATED);
    cr_assert_str_eq(err.msg, "token expired");
}

Test(api_token, ttl_over_one_hour_is_refused)
{
    params.ttl = "61m";
    mint_refused("ttl: at most 1h");
}

Test(api_token, malformed_ttl_is_refused)
{
    params.ttl = "5 m";
    cr_assert_eq(mint(), API_ERR_BAD_REQUEST);
    cr_assert_not_null(strstr(err.msg, "ttl: "));
}

Test(api_token, spiffe_id_without_the_scheme_is_refused)
{
    params.spiffe_id = "example.org/ns/a/sa/b";
    mint_refused("spiffe-id: must start with spiffe://");
}

Test(api_token, spiffe_id_without_a_path_is_refused)
{
    params.spiffe_id = "spiffe://example.org";
    cr_assert_eq(mint(), API_ERR_BAD_REQUEST);
    cr_assert_not_null(strstr(err.msg, "spiffe-id: "));
}

Test(api_token, bad_dns_name_is_refused)
{
    const char *dns[] = {"ok.example", "Bad_Name"};
    params.dns_names = dns;
    params.num_dns_names = 2;
    mint_refused("dns: 'Bad_Name' is not a valid lower-case DNS name");
}

Test(api_token, missing_key_file_is_refused)
{
    params.key_path = "/nonexistent/key.pem";
    mint_refused("key: file not found");
}

Test(api_token, rsa_key_is_refused)
{
    EVP_PKEY *rsa = testjwt_rsa_key(1024);
    remove(key_path);
    cr_assert(testjwt_privkey_write(key_path, rsa));
    EVP_PKEY_free(rsa);
    mint_refused("key: provisioner keys must be EC P-256");
}

Test(api_token, encrypted_key_is_refused_without_prompting)
{
    EVP_PKEY *key = testjwt_ec_key();
    remove(key_path);
    FILE *f = fopen(key_path, "w");
    cr_assert_not_null(f);
    char pass[] = "secret";
    cr_assert_eq(PEM_write_PKCS8PrivateKey(f, key, EVP_aes_256_cbc(), NULL, 0, NULL, pass), 1);
    fclose(f);
    EVP_PKEY_free(key);
    mint_refused("key: not an unencrypted PEM private key");
}

Test(api_token, public_key_given_as_the_key_is_refused)
{
    params.key_path = pub_path;
    mint_refused("key: not an unencrypted PEM private key");
}
