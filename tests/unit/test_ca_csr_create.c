/* test_ca_csr_create.c: ca/csr_create.c: the agent's CSR for each key type,
 * read back with plain OpenSSL: empty subject, no extensions, self-signed by
 * the key. */
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca.h"

TestSuite(ca_csr_create);

ParameterizedTestParameters(ca_csr_create, makes_a_self_signed_csr_with_an_empty_subject)
{
    static enum ca_key_type types[] = {CA_KEY_EC_P256, CA_KEY_EC_P384, CA_KEY_ED25519,
                                       CA_KEY_RSA_3072};
    return cr_make_param_array(enum ca_key_type, types, sizeof(types) / sizeof(types[0]));
}

ParameterizedTest(enum ca_key_type *type, ca_csr_create,
                  makes_a_self_signed_csr_with_an_empty_subject)
{
    EVP_PKEY *key = NULL;
    struct ca_error err = {0};
    char *pem = NULL;
    size_t len = 0;

    cr_assert_eq(ca_key_generate(*type, &key, &err), CA_OK, "%s", err.msg);
    cr_assert_eq(ca_csr_create(key, &pem, &len, &err), CA_OK, "%s", err.msg);
    cr_assert_eq(strlen(pem), len);
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    X509_REQ *req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
    cr_assert_not_null(req);
    cr_assert_eq(X509_NAME_entry_count(X509_REQ_get_subject_name(req)), 0);
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    cr_assert_eq(sk_X509_EXTENSION_num(exts), 0);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
    cr_assert_eq(EVP_PKEY_eq(pub, key), 1);
    cr_assert_eq(X509_REQ_verify(req, pub), 1);
    X509_REQ_free(req);
    BIO_free(bio);
    OPENSSL_free(pem);
    EVP_PKEY_free(key);
}

Test(ca_csr_create, refuses_a_missing_key)
{
    char *pem = NULL;
    size_t len = 0;
    struct ca_error err = {0};

    cr_assert_eq(ca_csr_create(NULL, &pem, &len, &err), CA_ERR_INVALID_ARGUMENT);
    cr_assert_null(pem);
}

Test(ca_csr_create, refuses_a_key_type_no_ca_accepts)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    char *pem = NULL;
    size_t len = 0;
    struct ca_error err = {0};

    cr_assert_not_null(key);
    cr_assert_eq(ca_csr_create(key, &pem, &len, &err), CA_ERR_UNSUPPORTED_KEY);
    cr_assert_null(pem);
    EVP_PKEY_free(key);
}
