/* csr_create.c: the workload side of issuance. `signet agent` makes a fresh
 * key and sends the server a CSR that carries only that key's proof of
 * possession: an empty subject and no extensions, since the server takes the
 * identity from the token or client certificate and never copies anything
 * else from a CSR. */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "internal.h"

enum ca_err ca_csr_create(EVP_PKEY *key, char **out_pem, size_t *out_len, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    X509_REQ *req = NULL;
    X509_NAME *name = NULL;
    BIO *bio = NULL;
    char *pem = NULL;
    const EVP_MD *md = NULL;

    ENSURE(key != NULL && out_pem != NULL && out_len != NULL, CA_ERR_INVALID_ARGUMENT,
           "no key given");
    TRY(ca_sign_digest(key, &md, err));
    req = X509_REQ_new();
    name = X509_NAME_new();
    ENSURE(req != NULL && name != NULL, CA_ERR_INTERNAL, "out of memory");
    /* RFC 2986 section 4.1: version is 0 (v1). */
    OSSL(X509_REQ_set_version(req, X509_REQ_VERSION_1), CA_ERR_INTERNAL, "cannot set version");
    OSSL(X509_REQ_set_subject_name(req, name), CA_ERR_INTERNAL, "cannot set the subject");
    OSSL(X509_REQ_set_pubkey(req, key), CA_ERR_INVALID_KEY, "cannot set the public key");
    ENSURE(X509_REQ_sign(req, key, md) > 0, CA_ERR_INVALID_KEY, "cannot sign the request");
    ERR_clear_error();

    bio = BIO_new(BIO_s_mem());
    ENSURE(bio != NULL, CA_ERR_INTERNAL, "out of memory");
    OSSL(PEM_write_bio_X509_REQ(bio, req), CA_ERR_INTERNAL, "cannot encode the request");
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    ENSURE(len > 0 && (size_t)len <= CA_MAX_CSR_LEN, CA_ERR_INTERNAL, "request too large");
    pem = OPENSSL_malloc((size_t)len + 1);
    ENSURE(pem != NULL, CA_ERR_INTERNAL, "out of memory");
    memcpy(pem, data, (size_t)len);
    pem[len] = '\0';

    *out_pem = pem;
    *out_len = (size_t)len;
    pem = NULL;
out:
    OPENSSL_free(pem);
    BIO_free(bio);
    X509_NAME_free(name);
    X509_REQ_free(req);
    return rc;
}
