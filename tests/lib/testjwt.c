/* testjwt.c: see testjwt.h. Test code: failures return NULL or 0 and the
 * test's assertions catch them. */
#include "testjwt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

EVP_PKEY *testjwt_rsa_key(int bits)
{
    return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
}

static void shared_path(char *buf, size_t size, long pid)
{
    snprintf(buf, size, "/tmp/signet-testjwt-rsa-%ld.pem", pid);
}

EVP_PKEY *testjwt_rsa_key_shared(void)
{
    char path[64];
    char tmp[96];
    shared_path(path, sizeof(path), (long)getppid());
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
        if (key != NULL) {
            return key;
        }
    }
    EVP_PKEY *key = testjwt_rsa_key(2048);
    snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
    if (key != NULL && testjwt_privkey_write(tmp, key)) {
        rename(tmp, path); /* atomic: readers see a whole file or none */
    }
    return key;
}

void testjwt_shared_cleanup(void)
{
    char path[64];
    shared_path(path, sizeof(path), (long)getpid());
    remove(path);
}

EVP_PKEY *testjwt_ec_key(void)
{
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

char *testjwt_b64url(const unsigned char *data, size_t len)
{
    size_t cap = 4 * ((len + 2) / 3) + 1;
    char *out = malloc(cap);
    if (out == NULL) {
        return NULL;
    }
    int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    size_t j = 0;
    for (int i = 0; i < n; i++) {
        char c = out[i];
        if (c == '=') {
            break;
        }
        out[j++] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    out[j] = '\0';
    return out;
}

static char *bn_b64(const BIGNUM *bn, int pad)
{
    unsigned char buf[1024];
    int len = pad > 0 ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
    return len <= 0 ? NULL : testjwt_b64url(buf, (size_t)len);
}

/* jwk_json writes one JWK object for |key| into |f|. */
static int jwk_json(FILE *f, EVP_PKEY *key, const char *kid)
{
    BIGNUM *a = NULL;
    BIGNUM *b = NULL;
    char *sa = NULL;
    char *sb = NULL;
    int ok = 0;
    int rsa = EVP_PKEY_is_a(key, "RSA");

    if (rsa) {
        ok = EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &a) == 1 &&
             EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &b) == 1;
    } else {
        ok = EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &a) == 1 &&
             EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &b) == 1;
    }
    if (ok) {
        sa = bn_b64(a, rsa ? 0 : 32);
        sb = bn_b64(b, rsa ? 0 : 32);
        ok = sa != NULL && sb != NULL;
    }
    if (ok) {
        fprintf(f, "{");
        if (kid != NULL) {
            fprintf(f, "\"kid\":\"%s\",", kid);
        }
        if (rsa) {
            fprintf(f,
                    "\"kty\":\"RSA\",\"use\":\"sig\",\"alg\":\"RS256\",\"n\":\"%s\",\"e\":\"%s\"}",
                    sa, sb);
        } else {
            fprintf(f, "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}", sa, sb);
        }
    }
    free(sa);
    free(sb);
    BN_free(a);
    BN_free(b);
    return ok;
}

int testjwt_jwks_write(const char *path, EVP_PKEY *const *keys, const char *const *kids, size_t num)
{
    FILE *f = fopen(path, "w");
    int ok = f != NULL;
    if (ok) {
        fprintf(f, "{\"keys\":[");
        for (size_t i = 0; i < num && ok; i++) {
            fprintf(f, "%s", i > 0 ? "," : "");
            ok = jwk_json(f, keys[i], kids == NULL ? NULL : kids[i]);
        }
        fprintf(f, "]}\n");
    }
    if (f != NULL) {
        ok = fclose(f) == 0 && ok;
    }
    return ok;
}

char *testjwt_pubkey_pem(EVP_PKEY *key, size_t *out_len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    char *out = NULL;
    if (bio != NULL && PEM_write_bio_PUBKEY(bio, key) == 1) {
        long len = BIO_get_mem_data(bio, &data);
        out = malloc((size_t)len + 1);
        if (out != NULL) {
            memcpy(out, data, (size_t)len);
            out[len] = '\0';
            *out_len = (size_t)len;
        }
    }
    BIO_free(bio);
    return out;
}

int testjwt_pubkey_write(const char *path, EVP_PKEY *key)
{
    FILE *f = fopen(path, "w");
    int ok = f != NULL && PEM_write_PUBKEY(f, key) == 1;
    if (f != NULL) {
        ok = fclose(f) == 0 && ok;
    }
    return ok;
}

int testjwt_privkey_write(const char *path, EVP_PKEY *key)
{
    FILE *f = fopen(path, "w");
    int ok = f != NULL && PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;
    if (f != NULL) {
        ok = fclose(f) == 0 && ok;
    }
    return ok;
}

/* signing_input returns "b64(header).b64(claims)" (malloc'd). */
static char *signing_input(const char *header_json, const char *claims_json)
{
    char *h = testjwt_b64url((const unsigned char *)header_json, strlen(header_json));
    char *c = testjwt_b64url((const unsigned char *)claims_json, strlen(claims_json));
    char *out = NULL;
    if (h != NULL && c != NULL) {
        size_t len = strlen(h) + strlen(c) + 2;
        out = malloc(len);
        if (out != NULL) {
            snprintf(out, len, "%s.%s", h, c);
        }
    }
    free(h);
    free(c);
    return out;
}

/* append_sig returns "input.b64(sig)" and frees |input|. */
static char *append_sig(char *input, const unsigned char *sig, size_t sig_len)
{
    char *s = testjwt_b64url(sig, sig_len);
    char *out = NULL;
    if (input != NULL && s != NULL) {
        size_t len = strlen(input) + strlen(s) + 2;
        out = malloc(len);
        if (out != NULL) {
            snprintf(out, len, "%s.%s", input, s);
        }
    }
    free(s);
    free(input);
    return out;
}

/* der_to_raw turns a DER ECDSA-Sig-Value into JWS's 64-byte r||s. */
static int der_to_raw(const unsigned char *der, size_t der_len, unsigned char raw[64])
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    const BIGNUM *r = NULL;
    const BIGNUM *s = NULL;
    int ok = sig != NULL;
    if (ok) {
        ECDSA_SIG_get0(sig, &r, &s);
        ok = BN_bn2binpad(r, raw, 32) == 32 && BN_bn2binpad(s, raw + 32, 32) == 32;
    }
    ECDSA_SIG_free(sig);
    return ok;
}

char *testjwt_sign(const char *header_json, const char *claims_json, EVP_PKEY *key)
{
    char *input = signing_input(header_json, claims_json);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char sig[1024];
    size_t sig_len = sizeof(sig);
    unsigned char raw[64];
    int ok = input != NULL && md != NULL &&
             EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)input, strlen(input)) == 1;
    EVP_MD_CTX_free(md);
    if (!ok) {
        free(input);
        return NULL;
    }
    if (EVP_PKEY_is_a(key, "EC")) {
        if (!der_to_raw(sig, sig_len, raw)) {
            free(input);
            return NULL;
        }
        return append_sig(input, raw, sizeof(raw));
    }
    return append_sig(input, sig, sig_len);
}

char *testjwt_sign_hmac(const char *header_json, const char *claims_json,
                        const unsigned char *secret, size_t secret_len)
{
    char *input = signing_input(header_json, claims_json);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (input == NULL || HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)input,
                              strlen(input), mac, &mac_len) == NULL) {
        free(input);
        return NULL;
    }
    return append_sig(input, mac, mac_len);
}

char *testjwt_unsigned(const char *header_json, const char *claims_json)
{
    char *input = signing_input(header_json, claims_json);
    char *out = NULL;
    if (input != NULL) {
        size_t len = strlen(input) + 2;
        out = malloc(len);
        if (out != NULL) {
            snprintf(out, len, "%s.", input);
        }
    }
    free(input);
    return out;
}
