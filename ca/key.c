/* key.c: private keys of the ceremony: generation, PKCS#8 files (encrypted
 * with scrypt and AES-256-CBC for the root), and SubjectPublicKeyInfo files. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "internal.h"

#define MAX_KEY_FILE_LEN   (64 * 1024)
#define MAX_PASSPHRASE_LEN 4096
/* scrypt parameters of `openssl pkcs8 -scrypt`: N = 2^14, r = 8, p = 1 (16 MiB).
 * OpenSSL refuses to decrypt past 32 MiB, so N = 2^15 would not read back. */
#define SCRYPT_N 16384
#define SCRYPT_R 8
#define SCRYPT_P 1

static const struct {
    const char *name;
    enum ca_key_type type;
} key_types[] = {
    {"ec-p256", CA_KEY_EC_P256},
    {"ec-p384", CA_KEY_EC_P384},
    {"ed25519", CA_KEY_ED25519},
    {"rsa-3072", CA_KEY_RSA_3072},
};

enum ca_err ca_key_type_parse(const char *name, enum ca_key_type *out_type, struct ca_error *err)
{
    for (size_t i = 0; name != NULL && i < sizeof(key_types) / sizeof(key_types[0]); i++) {
        if (strcmp(name, key_types[i].name) == 0) {
            *out_type = key_types[i].type;
            return CA_OK;
        }
    }
    return ca_fail(err, CA_ERR_INVALID_ARGUMENT,
                   "unknown key type (use ec-p256, ec-p384, ed25519 or rsa-3072)");
}

enum ca_err ca_key_generate(enum ca_key_type type, EVP_PKEY **out_key, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    EVP_PKEY *key = NULL;

    switch (type) {
        case CA_KEY_EC_P256:
            key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
            break;
        case CA_KEY_EC_P384:
            key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
            break;
        case CA_KEY_ED25519:
            key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
            break;
        case CA_KEY_RSA_3072:
            key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
            break;
        default:
            ENSURE(0, CA_ERR_INVALID_ARGUMENT, "unknown key type");
    }
    ERR_clear_error();
    ENSURE(key != NULL, CA_ERR_INTERNAL, "key generation failed");
    *out_key = key;
    key = NULL;
out:
    EVP_PKEY_free(key);
    return rc;
}

enum ca_err ca_key_rsa_exponent_check(const EVP_PKEY *key, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    BIGNUM *e = NULL;

    OSSL(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e), CA_ERR_UNSUPPORTED_KEY,
         "RSA key without a public exponent");
    ENSURE(BN_is_odd(e) && BN_num_bits(e) > 16 && BN_num_bits(e) <= 256, CA_ERR_UNSUPPORTED_KEY,
           "RSA public exponent must be odd, at least 65537 and below 2^256");
out:
    BN_free(e);
    return rc;
}

enum ca_err ca_key_usable_by_ca(EVP_PKEY *key, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    char group[64];
    size_t group_len = 0;
    char encoding[32];
    size_t encoding_len = 0;

    switch (EVP_PKEY_get_base_id(key)) {
        case EVP_PKEY_EC:
            OSSL(EVP_PKEY_get_group_name(key, group, sizeof(group), &group_len),
                 CA_ERR_UNSUPPORTED_KEY, "EC key without a named curve");
            ENSURE(strcmp(group, SN_X9_62_prime256v1) == 0 || strcmp(group, SN_secp384r1) == 0,
                   CA_ERR_UNSUPPORTED_KEY, "EC curve %s is not P-256 or P-384", group);
            /* A key given with explicit curve parameters still reports the
             * curve's name, and keeps them when copied into a certificate,
             * which RFC 5480 2.1.1 forbids and verifiers refuse. */
            OSSL(EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_EC_ENCODING, encoding,
                                                sizeof(encoding), &encoding_len),
                 CA_ERR_UNSUPPORTED_KEY, "EC key without a parameter encoding");
            ENSURE(strcmp(encoding, OSSL_PKEY_EC_ENCODING_GROUP) == 0, CA_ERR_UNSUPPORTED_KEY,
                   "EC key with explicit curve parameters: a named curve is required");
            break;
        case EVP_PKEY_ED25519:
            break;
        case EVP_PKEY_RSA:
            ENSURE(EVP_PKEY_get_bits(key) >= 2048 && EVP_PKEY_get_bits(key) <= 8192,
                   CA_ERR_UNSUPPORTED_KEY, "RSA key of %d bits (2048..8192 allowed)",
                   EVP_PKEY_get_bits(key));
            TRY(ca_key_rsa_exponent_check(key, err));
            break;
        default:
            ENSURE(0, CA_ERR_UNSUPPORTED_KEY, "key type is not EC, Ed25519 or RSA");
    }
out:
    return rc;
}

enum ca_err ca_key_write(const char *path, EVP_PKEY *key, const char *passphrase,
                         size_t passphrase_len, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    BIO *bio = NULL;
    PKCS8_PRIV_KEY_INFO *p8inf = NULL;
    X509_ALGOR *pbe = NULL;
    X509_SIG *p8 = NULL;

    ENSURE(key != NULL, CA_ERR_INVALID_ARGUMENT, "no key");
    ENSURE(passphrase == NULL || (passphrase_len > 0 && passphrase_len <= MAX_PASSPHRASE_LEN),
           CA_ERR_INVALID_ARGUMENT, "passphrase must be 1..%d bytes", MAX_PASSPHRASE_LEN);
    TRY(ca_key_usable_by_ca(key, err));
    bio = BIO_new(BIO_s_secmem());
    ENSURE(bio != NULL, CA_ERR_INTERNAL, "out of memory");
    if (passphrase == NULL) {
        OSSL(PEM_write_bio_PKCS8PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), CA_ERR_INTERNAL,
             "cannot encode the key");
    } else {
        p8inf = EVP_PKEY2PKCS8(key);
        ENSURE(p8inf != NULL, CA_ERR_INTERNAL, "cannot encode the key");
        pbe = PKCS5_pbe2_set_scrypt(EVP_aes_256_cbc(), NULL, 0, NULL, SCRYPT_N, SCRYPT_R, SCRYPT_P);
        ENSURE(pbe != NULL, CA_ERR_INTERNAL, "cannot set up key encryption");
        /* PKCS8_set0_pbe takes |pbe| on success only. */
        p8 = PKCS8_set0_pbe(passphrase, (int)passphrase_len, p8inf, pbe);
        ENSURE(p8 != NULL, CA_ERR_INTERNAL, "cannot encrypt the key");
        pbe = NULL;
        OSSL(PEM_write_bio_PKCS8(bio, p8), CA_ERR_INTERNAL, "cannot encode the key");
    }
    TRY(ca_bio_write_new(path, bio, 0600, err));
out:
    ERR_clear_error();
    X509_SIG_free(p8);
    X509_ALGOR_free(pbe);
    PKCS8_PRIV_KEY_INFO_free(p8inf); /* cleanses the key bytes it holds */
    if (bio != NULL) {
        char *data = NULL;
        long len = BIO_get_mem_data(bio, &data);
        if (len > 0 && data != NULL) {
            OPENSSL_cleanse(data, (size_t)len);
        }
    }
    BIO_free(bio);
    return rc;
}

enum ca_err ca_key_read(const char *path, const char *passphrase, size_t passphrase_len,
                        EVP_PKEY **out_key, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    char *text = NULL;
    size_t text_len = 0;

    TRY(ca_file_read_all(path, MAX_KEY_FILE_LEN, &text, &text_len, err));
    TRY(ca_key_parse(text, text_len, passphrase, passphrase_len, out_key, err));
out:
    OPENSSL_clear_free(text, text_len + 1);
    return rc;
}

enum ca_err ca_key_parse(const char *pem, size_t pem_len, const char *passphrase,
                         size_t passphrase_len, EVP_PKEY **out_key, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    unsigned char *der = NULL;
    long der_len = 0;
    unsigned char *rest = NULL;
    long rest_len = 0;
    X509_SIG *p8 = NULL;
    PKCS8_PRIV_KEY_INFO *p8inf = NULL;
    EVP_PKEY *key = NULL;
    size_t pos = 0;

    ENSURE(pem != NULL && pem_len > 0 && pem_len <= MAX_KEY_FILE_LEN, CA_ERR_INVALID_KEY,
           "a private key must be 1..%d bytes of PEM", MAX_KEY_FILE_LEN);
    ENSURE(passphrase == NULL || passphrase_len <= MAX_PASSPHRASE_LEN, CA_ERR_INVALID_ARGUMENT,
           "passphrase longer than %d bytes", MAX_PASSPHRASE_LEN);
    /* The PEM label says whether it is encrypted; the DER must match it exactly. */
    int encrypted = 1;
    int got = ca_pem_block_next(pem, pem_len, &pos, PEM_STRING_PKCS8, NULL, &der, &der_len);
    if (got != 1) {
        encrypted = 0;
        got = ca_pem_block_next(pem, pem_len, &pos, PEM_STRING_PKCS8INF, NULL, &der, &der_len);
    }
    ENSURE(got == 1, CA_ERR_INVALID_KEY, "not a PEM PKCS#8 private key");
    got = ca_pem_block_next(pem, pem_len, &pos, NULL, NULL, &rest, &rest_len);
    ENSURE(got == 0, CA_ERR_INVALID_KEY, "unexpected data after the key");
    const unsigned char *p = der;
    if (encrypted) {
        p8 = d2i_X509_SIG(NULL, &p, der_len);
        ENSURE(p8 != NULL && p == der + der_len, CA_ERR_INVALID_KEY,
               "undecodable encrypted private key");
        ENSURE(passphrase != NULL && passphrase_len > 0, CA_ERR_BAD_PASSPHRASE,
               "the key is encrypted and no passphrase was given");
        p8inf = PKCS8_decrypt(p8, passphrase, (int)passphrase_len);
        /* A wrong passphrase fails the padding check or, rarely, the DER parse. */
        ENSURE(p8inf != NULL, CA_ERR_BAD_PASSPHRASE, "wrong passphrase");
    } else {
        /* A caller with a passphrase reads the root key, which is stored
         * encrypted (CONTRACT 4): a plain one was put there by hand. */
        ENSURE(passphrase == NULL, CA_ERR_INVALID_KEY,
               "the key is not encrypted (an encrypted PKCS#8 key is required)");
        p8inf = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, der_len);
        ENSURE(p8inf != NULL && p == der + der_len, CA_ERR_INVALID_KEY, "undecodable private key");
    }
    key = EVP_PKCS82PKEY(p8inf);
    ENSURE(key != NULL, CA_ERR_INVALID_KEY, "unreadable private key");
    TRY(ca_key_usable_by_ca(key, err));

    *out_key = key;
    key = NULL;
out:
    ERR_clear_error();
    EVP_PKEY_free(key);
    PKCS8_PRIV_KEY_INFO_free(p8inf);
    X509_SIG_free(p8);
    if (rest != NULL) {
        OPENSSL_clear_free(rest, (size_t)rest_len);
    }
    if (der != NULL) {
        OPENSSL_clear_free(der, (size_t)der_len);
    }
    return rc;
}

enum ca_err ca_pubkey_write(const char *path, EVP_PKEY *key, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    BIO *bio = NULL;

    ENSURE(key != NULL, CA_ERR_INVALID_ARGUMENT, "no key");
    bio = BIO_new(BIO_s_mem());
    ENSURE(bio != NULL, CA_ERR_INTERNAL, "out of memory");
    OSSL(PEM_write_bio_PUBKEY(bio, key), CA_ERR_INTERNAL, "cannot encode the public key");
    TRY(ca_bio_write_new(path, bio, 0644, err));
out:
    BIO_free(bio);
    return rc;
}

enum ca_err ca_sign_digest(EVP_PKEY *key, const EVP_MD **out_md, struct ca_error *err)
{
    enum ca_err rc = CA_OK;

    TRY(ca_key_usable_by_ca(key, err));
    switch (EVP_PKEY_get_base_id(key)) {
        case EVP_PKEY_ED25519:
            *out_md = NULL; /* RFC 8410 section 6: pure EdDSA, no pre-hash */
            break;
        case EVP_PKEY_EC:
            *out_md = EVP_PKEY_get_bits(key) > 256 ? EVP_sha384() : EVP_sha256();
            break;
        default:
            *out_md = EVP_sha256();
    }
out:
    return rc;
}
