/* token.c: minting provisioner tokens for `signet token` (CONTRACT section 7).
 * libjwt signs (ES256); OpenSSL reads and re-encodes the key so that libjwt
 * never sees an encrypted PEM (it would prompt on the terminal). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "internal.h"

#define DEFAULT_TTL_S 300
#define JTI_BYTES     16

void api_token_free(char *token)
{
    if (token != NULL) {
        OPENSSL_clear_free(token, strlen(token));
    }
}

/* no_passphrase refuses encrypted keys instead of prompting. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* key_pem reads the EC P-256 private key at |path| and returns it as a fresh
 * unencrypted PEM the caller frees with OPENSSL_clear_free(). */
static enum api_err key_pem(const char *path, char **out, size_t *out_len, struct api_error *err)
{
    enum api_err rc = API_OK;
    char *text = NULL;
    size_t text_len = 0;
    BIO *in = NULL;
    BIO *mem = NULL;
    EVP_PKEY *pkey = NULL;
    char group[32];
    size_t group_len = 0;
    char *data = NULL;

    TRY(api_file_read(path, "key", API_MAX_KEY_BYTES, &text, &text_len, err));
    in = BIO_new_mem_buf(text, (int)text_len); /* bounded by API_MAX_KEY_BYTES */
    mem = BIO_new(BIO_s_secmem());
    ENSURE(in != NULL && mem != NULL, API_ERR_INTERNAL, "out of memory");
    pkey = PEM_read_bio_PrivateKey(in, NULL, no_passphrase, NULL);
    ENSURE(pkey != NULL, API_ERR_BAD_REQUEST, "key: not an unencrypted PEM private key");
    ENSURE(EVP_PKEY_is_a(pkey, "EC") &&
               EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                              sizeof(group), &group_len) == 1 &&
               strcmp(group, "prime256v1") == 0,
           API_ERR_BAD_REQUEST, "key: provisioner keys must be EC P-256");
    OSSL(PEM_write_bio_PrivateKey(mem, pkey, NULL, NULL, 0, NULL, NULL), API_ERR_INTERNAL,
         "key: cannot encode");
    long len = BIO_get_mem_data(mem, &data);
    ENSURE(len > 0, API_ERR_INTERNAL, "key: cannot encode");
    *out = OPENSSL_malloc((size_t)len + 1);
    ENSURE(*out != NULL, API_ERR_INTERNAL, "out of memory");
    memcpy(*out, data, (size_t)len);
    (*out)[len] = '\0';
    *out_len = (size_t)len;
out:
    ERR_clear_error();
    EVP_PKEY_free(pkey);
    BIO_free(mem);
    BIO_free(in);
    OPENSSL_clear_free(text, text_len);
    return rc;
}

/* trust_domain_of copies the trust domain of a spiffe:// ID into |td|. */
static enum api_err trust_domain_of(const char *id, char *td, size_t td_size, struct api_error *err)
{
    enum api_err rc = API_OK;
    static const char scheme[] = "spiffe://";

    ENSURE(strncmp(id, scheme, sizeof(scheme) - 1) == 0, API_ERR_BAD_REQUEST,
           "spiffe-id: must start with spiffe://");
    const char *host = id + sizeof(scheme) - 1;
    const char *slash = strchr(host, '/');
    size_t len = slash == NULL ? strlen(host) : (size_t)(slash - host);
    ENSURE(len > 0 && len < td_size, API_ERR_BAD_REQUEST, "spiffe-id: bad trust domain");
    memcpy(td, host, len);
    td[len] = '\0';
out:
    return rc;
}

/* dns_json makes {"dns": [...]} for jwt_add_grants_json. */
static enum api_err dns_json(const struct api_token_params *p, char **out, struct api_error *err)
{
    enum api_err rc = API_OK;
    json_t *obj = NULL;
    json_t *list = NULL;

    ENSURE(p->num_dns_names <= CA_MAX_SANS, API_ERR_BAD_REQUEST, "dns: at most %d names",
           CA_MAX_SANS);
    list = json_array();
    obj = json_object();
    ENSURE(list != NULL && obj != NULL, API_ERR_INTERNAL, "out of memory");
    for (size_t i = 0; i < p->num_dns_names; i++) {
        const char *name = p->dns_names[i];
        ENSURE(name != NULL && api_dns_name_check(name, strlen(name)), API_ERR_BAD_REQUEST,
               "dns: '%.64s' is not a valid lower-case DNS name", name == NULL ? "" : name);
        ENSURE(json_array_append_new(list, json_string(name)) == 0, API_ERR_INTERNAL,
               "out of memory");
    }
    ENSURE(json_object_set(obj, "dns", list) == 0, API_ERR_INTERNAL, "out of memory");
    *out = json_dumps(obj, JSON_COMPACT);
    ENSURE(*out != NULL, API_ERR_INTERNAL, "out of memory");
out:
    json_decref(list);
    json_decref(obj);
    return rc;
}

/* claims_add puts every claim on |jwt|. */
static enum api_err claims_add(jwt_t *jwt, const struct api_token_params *p, const char *aud,
                               int64_t ttl_s, struct api_error *err)
{
    enum api_err rc = API_OK;
    unsigned char rnd[JTI_BYTES];
    char jti[2 * JTI_BYTES + 1];
    char *dns = NULL;

    OSSL(RAND_bytes(rnd, sizeof(rnd)), API_ERR_INTERNAL, "no randomness");
    for (size_t i = 0; i < sizeof(rnd); i++) {
        snprintf(jti + 2 * i, 3, "%02x", rnd[i]);
    }
    ENSURE(jwt_add_grant(jwt, "iss", p->provisioner) == 0 &&
               jwt_add_grant(jwt, "sub", p->spiffe_id) == 0 &&
               jwt_add_grant(jwt, "aud", aud) == 0 && jwt_add_grant(jwt, "jti", jti) == 0 &&
               jwt_add_grant_int(jwt, "iat", (long)p->now) == 0 &&
               jwt_add_grant_int(jwt, "nbf", (long)p->now) == 0 &&
               jwt_add_grant_int(jwt, "exp", (long)(p->now + ttl_s)) == 0,
           API_ERR_INTERNAL, "cannot build the token");
    if (p->num_dns_names > 0) {
        TRY(dns_json(p, &dns, err));
        ENSURE(jwt_add_grants_json(jwt, dns) == 0, API_ERR_INTERNAL, "cannot build the token");
    }
out:
    free(dns);
    return rc;
}

enum api_err api_token_mint(const struct api_token_params *p, char **out_token,
                            struct api_error *err)
{
    enum api_err rc = API_OK;
    char *pem = NULL;
    size_t pem_len = 0;
    jwt_t *jwt = NULL;
    char *enc = NULL;
    int64_t ttl_s = DEFAULT_TTL_S;
    char td[256];
    char aud[300];
    struct api_error perr;
    struct ca_error cerr;

    ENSURE(p->provisioner != NULL && p->provisioner[0] != '\0' &&
               strlen(p->provisioner) <= API_MAX_NAME_LEN,
           API_ERR_BAD_REQUEST, "provisioner: 1..%d bytes", API_MAX_NAME_LEN);
    ENSURE(p->spiffe_id != NULL, API_ERR_BAD_REQUEST, "spiffe-id: required");
    ENSURE(p->key_path != NULL, API_ERR_BAD_REQUEST, "key: required");
    if (p->ttl != NULL) {
        ENSURE(api_duration_parse(p->ttl, strlen(p->ttl), &ttl_s, &perr) == API_OK,
               API_ERR_BAD_REQUEST, "ttl: %s", perr.msg);
    }
    ENSURE(ttl_s <= API_MAX_TOKEN_TTL, API_ERR_BAD_REQUEST, "ttl: at most 1h");
    TRY(trust_domain_of(p->spiffe_id, td, sizeof(td), err));
    ENSURE(ca_spiffe_id_check(p->spiffe_id, strlen(p->spiffe_id), td, &cerr) == CA_OK,
           API_ERR_BAD_REQUEST, "spiffe-id: %s", cerr.msg);
    int n = snprintf(aud, sizeof(aud), "spiffe://%s/signet/server", td);
    ENSURE(n > 0 && (size_t)n < sizeof(aud), API_ERR_BAD_REQUEST, "spiffe-id: too long");
    TRY(key_pem(p->key_path, &pem, &pem_len, err));

    ENSURE(jwt_new(&jwt) == 0, API_ERR_INTERNAL, "out of memory");
    TRY(claims_add(jwt, p, aud, ttl_s, err));
    ENSURE(jwt_set_alg(jwt, JWT_ALG_ES256, (const unsigned char *)pem, (int)pem_len) == 0,
           API_ERR_INTERNAL, "cannot set the signing key");
    enc = jwt_encode_str(jwt);
    ERR_clear_error();
    ENSURE(enc != NULL, API_ERR_INTERNAL, "cannot sign the token");
    *out_token = OPENSSL_strdup(enc);
    ENSURE(*out_token != NULL, API_ERR_INTERNAL, "out of memory");
out:
    if (enc != NULL) {
        OPENSSL_cleanse(enc, strlen(enc));
        free(enc);
    }
    jwt_free(jwt);
    OPENSSL_clear_free(pem, pem_len + 1);
    return rc;
}
