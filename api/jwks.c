/* jwks.c: verification keys for bearer tokens. A Kubernetes JWKS file (RSA
 * n/e for RS256, EC P-256 crv/x/y for ES256) and provisioner PEM public keys
 * (EC P-256 only) become PEM SubjectPublicKeyInfo, which libjwt 1.10 takes,
 * each pinned to its one algorithm. Base64url goes through OpenSSL's decoder. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "internal.h"

#define JWKS_WHAT "auth.kubernetes.jwks_file"
#define P256_LEN  32

void api_jwk_cleanup(struct api_jwk *key)
{
    if (key == NULL) {
        return;
    }
    OPENSSL_clear_free(key->pem, key->pem_len);
    key->pem = NULL;
    key->pem_len = 0;
}

enum api_err api_file_read(const char *path, const char *what, size_t max, char **out,
                           size_t *out_len, struct api_error *err)
{
    enum api_err rc = API_OK;
    int fd = -1;
    char *buf = NULL;
    size_t len = 0;
    struct stat st;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    ENSURE(fd >= 0 || errno != ENOENT, API_ERR_BAD_REQUEST, "%s: file not found", what);
    ENSURE(fd >= 0, API_ERR_BAD_REQUEST, "%s: file not readable", what);
    ENSURE(fstat(fd, &st) == 0 && S_ISREG(st.st_mode), API_ERR_BAD_REQUEST,
           "%s: not a regular file", what);
    ENSURE((uint64_t)st.st_size <= max, API_ERR_BAD_REQUEST, "%s: larger than %zu bytes", what,
           max);
    buf = OPENSSL_malloc(max + 1);
    ENSURE(buf != NULL, API_ERR_INTERNAL, "out of memory");
    /* Read up to max + 1 bytes: a file that grew after fstat is still refused. */
    for (;;) {
        ssize_t n = read(fd, buf + len, max + 1 - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        ENSURE(n >= 0, API_ERR_BAD_REQUEST, "%s: file not readable", what);
        if (n == 0) {
            break;
        }
        len += (size_t)n;
        ENSURE(len <= max, API_ERR_BAD_REQUEST, "%s: larger than %zu bytes", what, max);
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    buf = NULL;
out:
    if (buf != NULL) {
        OPENSSL_clear_free(buf, max + 1);
    }
    if (fd >= 0) {
        close(fd);
    }
    return rc;
}

enum api_err api_b64url_decode(const char *in, size_t in_len, unsigned char **out, size_t *out_len,
                               struct api_error *err)
{
    enum api_err rc = API_OK;
    unsigned char *b64 = NULL;
    unsigned char *bin = NULL;
    size_t b64_len = 0;
    size_t bin_cap = 0;

    /* Unpadded base64url: a length of 4k+1 cannot occur. The cap keeps the
     * length inside EVP_DecodeBlock's int. */
    ENSURE(in_len <= (1u << 24) && in_len % 4 != 1, API_ERR_BAD_REQUEST, "not base64url");
    size_t pad = (4 - in_len % 4) % 4;
    b64_len = in_len + pad;
    b64 = OPENSSL_malloc(b64_len + 1);
    bin_cap = b64_len / 4 * 3 + 1;
    bin = OPENSSL_malloc(bin_cap);
    ENSURE(b64 != NULL && bin != NULL, API_ERR_INTERNAL, "out of memory");
    for (size_t i = 0; i < in_len; i++) {
        char c = in[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        ENSURE(ok || c == '-' || c == '_', API_ERR_BAD_REQUEST, "not base64url");
        b64[i] = (unsigned char)(c == '-' ? '+' : c == '_' ? '/' : c);
    }
    memset(b64 + in_len, '=', pad);
    b64[b64_len] = '\0';
    /* EVP_DecodeBlock counts padding as zero bytes: take the pad back off. */
    int n = EVP_DecodeBlock(bin, b64, (int)b64_len);
    ENSURE(n >= 0 && (size_t)n == b64_len / 4 * 3, API_ERR_BAD_REQUEST, "not base64url");
    bin[(size_t)n - pad] = '\0';
    *out_len = (size_t)n - pad;
    *out = bin;
    bin = NULL;
out:
    OPENSSL_clear_free(b64, b64_len + 1);
    OPENSSL_clear_free(bin, bin_cap);
    return rc;
}

/* finish_key checks |pkey| as a public key and writes it as PEM into |out|. */
static enum api_err finish_key(EVP_PKEY *pkey, const char *what, struct api_jwk *out,
                               struct api_error *err)
{
    enum api_err rc = API_OK;
    EVP_PKEY_CTX *ctx = NULL;
    BIO *bio = NULL;
    char *mem = NULL;

    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    ENSURE(ctx != NULL, API_ERR_INTERNAL, "out of memory");
    OSSL(EVP_PKEY_public_check(ctx), API_ERR_BAD_REQUEST, "%s: invalid public key", what);
    if (out->alg == API_JWT_RS256) {
        int bits = EVP_PKEY_get_bits(pkey);
        ENSURE(bits >= 2048 && bits <= 8192, API_ERR_BAD_REQUEST,
               "%s: RSA keys must have 2048..8192 bits", what);
    }
    bio = BIO_new(BIO_s_mem());
    ENSURE(bio != NULL, API_ERR_INTERNAL, "out of memory");
    OSSL(PEM_write_bio_PUBKEY(bio, pkey), API_ERR_INTERNAL, "%s: cannot encode key", what);
    long len = BIO_get_mem_data(bio, &mem);
    ENSURE(len > 0, API_ERR_INTERNAL, "%s: cannot encode key", what);
    out->pem = OPENSSL_malloc((size_t)len + 1);
    ENSURE(out->pem != NULL, API_ERR_INTERNAL, "out of memory");
    memcpy(out->pem, mem, (size_t)len);
    out->pem[len] = '\0';
    out->pem_len = (size_t)len;
out:
    BIO_free(bio);
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

/* from_params builds a public key of |type| ("RSA" or "EC") from |bld|. */
static enum api_err from_params(const char *type, OSSL_PARAM_BLD *bld, const char *what,
                                EVP_PKEY **out, struct api_error *err)
{
    enum api_err rc = API_OK;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;

    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    ENSURE(params != NULL && ctx != NULL, API_ERR_INTERNAL, "out of memory");
    OSSL(EVP_PKEY_fromdata_init(ctx), API_ERR_INTERNAL, "%s: cannot build key", what);
    OSSL(EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params), API_ERR_BAD_REQUEST,
         "%s: invalid public key", what);
out:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return rc;
}

/* get_b64 decodes the base64url string member |name| of |jwk|. */
static enum api_err get_b64(const json_t *jwk, const char *name, const char *what,
                            unsigned char **out, size_t *out_len, struct api_error *err)
{
    enum api_err rc = API_OK;
    const json_t *v = json_object_get(jwk, name);

    ENSURE(json_is_string(v), API_ERR_BAD_REQUEST, "%s: \"%s\" must be a string", what, name);
    ENSURE(api_b64url_decode(json_string_value(v), json_string_length(v), out, out_len, NULL) ==
               API_OK,
           API_ERR_BAD_REQUEST, "%s: \"%s\" is not base64url", what, name);
    ENSURE(*out_len > 0, API_ERR_BAD_REQUEST, "%s: \"%s\" is empty", what, name);
out:
    return rc;
}

static enum api_err rsa_from_jwk(const json_t *jwk, const char *what, EVP_PKEY **out,
                                 struct api_error *err)
{
    enum api_err rc = API_OK;
    unsigned char *n = NULL;
    unsigned char *e = NULL;
    size_t n_len = 0;
    size_t e_len = 0;
    BIGNUM *bn_n = NULL;
    BIGNUM *bn_e = NULL;
    OSSL_PARAM_BLD *bld = NULL;

    TRY(get_b64(jwk, "n", what, &n, &n_len, err));
    TRY(get_b64(jwk, "e", what, &e, &e_len, err));
    ENSURE(n_len <= 1024 && e_len <= 8, API_ERR_BAD_REQUEST, "%s: RSA key too large", what);
    bn_n = BN_bin2bn(n, (int)n_len, NULL);
    bn_e = BN_bin2bn(e, (int)e_len, NULL);
    bld = OSSL_PARAM_BLD_new();
    ENSURE(bn_n != NULL && bn_e != NULL && bld != NULL, API_ERR_INTERNAL, "out of memory");
    OSSL(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n), API_ERR_INTERNAL,
         "out of memory");
    OSSL(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e), API_ERR_INTERNAL,
         "out of memory");
    TRY(from_params("RSA", bld, what, out, err));
out:
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    OPENSSL_clear_free(n, n_len + 1);
    OPENSSL_clear_free(e, e_len + 1);
    return rc;
}

static enum api_err ec_from_jwk(const json_t *jwk, const char *what, EVP_PKEY **out,
                                struct api_error *err)
{
    enum api_err rc = API_OK;
    unsigned char *x = NULL;
    unsigned char *y = NULL;
    size_t x_len = 0;
    size_t y_len = 0;
    OSSL_PARAM_BLD *bld = NULL;
    unsigned char point[1 + 2 * P256_LEN];

    const json_t *crv = json_object_get(jwk, "crv");
    ENSURE(json_is_string(crv) && strcmp(json_string_value(crv), "P-256") == 0, API_ERR_BAD_REQUEST,
           "%s: only EC curve P-256 is accepted", what);
    TRY(get_b64(jwk, "x", what, &x, &x_len, err));
    TRY(get_b64(jwk, "y", what, &y, &y_len, err));
    ENSURE(x_len == P256_LEN && y_len == P256_LEN, API_ERR_BAD_REQUEST,
           "%s: P-256 coordinates are 32 bytes", what);
    point[0] = 0x04; /* SEC 1 uncompressed point */
    memcpy(point + 1, x, P256_LEN);
    memcpy(point + 1 + P256_LEN, y, P256_LEN);
    bld = OSSL_PARAM_BLD_new();
    ENSURE(bld != NULL, API_ERR_INTERNAL, "out of memory");
    OSSL(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0),
         API_ERR_INTERNAL, "out of memory");
    OSSL(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)),
         API_ERR_INTERNAL, "out of memory");
    TRY(from_params("EC", bld, what, out, err));
out:
    OSSL_PARAM_BLD_free(bld);
    OPENSSL_clear_free(x, x_len + 1);
    OPENSSL_clear_free(y, y_len + 1);
    return rc;
}

/* optional_equals: member |name| of |jwk| is absent or the string |want|. */
static int optional_equals(const json_t *jwk, const char *name, const char *want)
{
    const json_t *v = json_object_get(jwk, name);
    return v == NULL || (json_is_string(v) && strcmp(json_string_value(v), want) == 0);
}

/* jwk_parse turns one JWKS entry into a pinned PEM key. */
static enum api_err jwk_parse(const json_t *jwk, size_t i, struct api_jwk *out,
                              struct api_error *err)
{
    enum api_err rc = API_OK;
    EVP_PKEY *pkey = NULL;
    char what[64];

    snprintf(what, sizeof(what), JWKS_WHAT ": keys[%zu]", i);
    ENSURE(json_is_object(jwk), API_ERR_BAD_REQUEST, "%s: expected an object", what);
    const json_t *kty = json_object_get(jwk, "kty");
    ENSURE(json_is_string(kty), API_ERR_BAD_REQUEST, "%s: \"kty\" must be a string", what);
    ENSURE(json_object_get(jwk, "d") == NULL, API_ERR_BAD_REQUEST, "%s: holds private key material",
           what);
    ENSURE(optional_equals(jwk, "use", "sig"), API_ERR_BAD_REQUEST, "%s: \"use\" must be \"sig\"",
           what);
    const json_t *kid = json_object_get(jwk, "kid");
    if (kid != NULL) {
        ENSURE(json_is_string(kid) && json_string_length(kid) > 0 &&
                   json_string_length(kid) < sizeof(out->kid) &&
                   strlen(json_string_value(kid)) == json_string_length(kid),
               API_ERR_BAD_REQUEST, "%s: \"kid\" must be a string of 1..%zu bytes", what,
               sizeof(out->kid) - 1);
        memcpy(out->kid, json_string_value(kid), json_string_length(kid) + 1);
    }
    if (strcmp(json_string_value(kty), "RSA") == 0) {
        out->alg = API_JWT_RS256;
        ENSURE(optional_equals(jwk, "alg", "RS256"), API_ERR_BAD_REQUEST,
               "%s: RSA keys are accepted for RS256 only", what);
        TRY(rsa_from_jwk(jwk, what, &pkey, err));
    } else if (strcmp(json_string_value(kty), "EC") == 0) {
        out->alg = API_JWT_ES256;
        ENSURE(optional_equals(jwk, "alg", "ES256"), API_ERR_BAD_REQUEST,
               "%s: EC keys are accepted for ES256 only", what);
        TRY(ec_from_jwk(jwk, what, &pkey, err));
    } else {
        ENSURE(0, API_ERR_BAD_REQUEST, "%s: \"kty\" must be RSA or EC", what);
    }
    TRY(finish_key(pkey, what, out, err));
out:
    EVP_PKEY_free(pkey);
    return rc;
}

/* check_kids requires a unique, non-empty kid on every key when there are several. */
static enum api_err check_kids(const struct api_jwk *keys, size_t num, struct api_error *err)
{
    enum api_err rc = API_OK;

    for (size_t i = 0; i < num && num > 1; i++) {
        ENSURE(keys[i].kid[0] != '\0', API_ERR_BAD_REQUEST,
               JWKS_WHAT ": keys[%zu]: \"kid\" is required when there are several keys", i);
        for (size_t j = 0; j < i; j++) {
            ENSURE(strcmp(keys[i].kid, keys[j].kid) != 0, API_ERR_BAD_REQUEST,
                   JWKS_WHAT ": keys[%zu]: duplicate \"kid\"", i);
        }
    }
out:
    return rc;
}

enum api_err api_jwks_load(const char *path, struct api_jwk **out_keys, size_t *out_num,
                           struct api_error *err)
{
    enum api_err rc = API_OK;
    char *text = NULL;
    size_t text_len = 0;
    json_t *root = NULL;
    struct api_jwk *keys = NULL;
    size_t cap = 0;
    size_t num = 0;
    const json_t *list = NULL;
    json_error_t jerr;

    TRY(api_file_read(path, JWKS_WHAT, API_MAX_KEY_BYTES, &text, &text_len, err));
    root = json_loadb(text, text_len, JSON_REJECT_DUPLICATES, &jerr);
    ENSURE(root != NULL, API_ERR_BAD_REQUEST, JWKS_WHAT ": not valid JSON (line %d)", jerr.line);
    ENSURE(json_is_object(root) && json_object_size(root) == 1, API_ERR_BAD_REQUEST,
           JWKS_WHAT ": expected an object with only \"keys\"");
    list = json_object_get(root, "keys");
    ENSURE(json_is_array(list) && json_array_size(list) >= 1 &&
               json_array_size(list) <= API_MAX_JWKS_KEYS,
           API_ERR_BAD_REQUEST, JWKS_WHAT ": \"keys\" must be an array of 1..%d keys",
           API_MAX_JWKS_KEYS);
    keys = calloc(json_array_size(list), sizeof(*keys));
    ENSURE(keys != NULL, API_ERR_INTERNAL, "out of memory");
    cap = json_array_size(list);
    for (num = 0; num < json_array_size(list); num++) {
        TRY(jwk_parse(json_array_get(list, num), num, &keys[num], err));
    }
    TRY(check_kids(keys, num, err));

    *out_keys = keys;
    *out_num = num;
    keys = NULL;
out:
    for (size_t i = 0; keys != NULL && i < cap; i++) {
        api_jwk_cleanup(&keys[i]);
    }
    free(keys);
    json_decref(root);
    OPENSSL_clear_free(text, text_len);
    return rc;
}

/* rest_is_blank: after one PEM object only white space may follow. */
static int rest_is_blank(BIO *bio)
{
    char buf[256];
    int n;
    while ((n = BIO_read(bio, buf, sizeof(buf))) > 0) {
        for (int i = 0; i < n; i++) {
            if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\r' && buf[i] != '\n') {
                return 0;
            }
        }
    }
    return 1;
}

enum api_err api_jwk_pubkey_load(const char *path, const char *what, struct api_jwk *out,
                                 struct api_error *err)
{
    enum api_err rc = API_OK;
    char *text = NULL;
    size_t text_len = 0;
    BIO *bio = NULL;
    EVP_PKEY *pkey = NULL;
    char group[32];
    size_t group_len = 0;

    TRY(api_file_read(path, what, API_MAX_KEY_BYTES, &text, &text_len, err));
    bio = BIO_new_mem_buf(text, (int)text_len); /* bounded by API_MAX_KEY_BYTES */
    ENSURE(bio != NULL, API_ERR_INTERNAL, "out of memory");
    pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    ERR_clear_error();
    ENSURE(pkey != NULL, API_ERR_BAD_REQUEST, "%s: not a PEM public key", what);
    ENSURE(rest_is_blank(bio), API_ERR_BAD_REQUEST, "%s: trailing data after the key", what);
    ENSURE(EVP_PKEY_is_a(pkey, "EC") &&
               EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                              sizeof(group), &group_len) == 1 &&
               strcmp(group, "prime256v1") == 0,
           API_ERR_BAD_REQUEST, "%s: provisioner keys must be EC P-256", what);
    out->alg = API_JWT_ES256;
    out->kid[0] = '\0';
    TRY(finish_key(pkey, what, out, err));
out:
    ERR_clear_error();
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    OPENSSL_clear_free(text, text_len);
    return rc;
}
