/* testpki.c: see testpki.h. Plain OpenSSL, with extensions written in
 * OpenSSL's config syntax so that the fixture shares no code with ca/. */
#include "testpki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "testpki: %s:%d: %s failed\n", __FILE__, __LINE__, #cond);             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* rsa_exponent_one makes an RSA key pair with a random 2048-bit odd modulus
 * and e = d = 1: its signatures are the padded digests themselves. */
static EVP_PKEY *rsa_exponent_one(void)
{
    BIGNUM *n = BN_new();
    BIGNUM *one = BN_new();
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *key = NULL;

    CHECK(n != NULL && one != NULL && bld != NULL && ctx != NULL);
    CHECK(BN_rand(n, 2048, BN_RAND_TOP_TWO, BN_RAND_BOTTOM_ODD) == 1 && BN_one(one) == 1);
    CHECK(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
          OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, one) == 1 &&
          OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, one) == 1);
    params = OSSL_PARAM_BLD_to_param(bld);
    CHECK(params != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
          EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params) == 1);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_free(one);
    BN_free(n);
    return key;
}

EVP_PKEY *testpki_key_new(enum testpki_key type)
{
    EVP_PKEY *key = NULL;
    switch (type) {
        case TESTPKI_P256:
            key = EVP_EC_gen("P-256");
            break;
        case TESTPKI_P384:
            key = EVP_EC_gen("P-384");
            break;
        case TESTPKI_P192:
            key = EVP_EC_gen("P-192");
            break;
        case TESTPKI_ED25519:
            key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
            break;
        case TESTPKI_RSA2048:
            key = EVP_RSA_gen(2048);
            break;
        case TESTPKI_RSA1024:
            key = EVP_RSA_gen(1024);
            break;
        case TESTPKI_RSA_E1:
            key = rsa_exponent_one();
            break;
        case TESTPKI_P256_EXPLICIT:
            key = EVP_EC_gen("P-256");
            CHECK(key != NULL &&
                  EVP_PKEY_set_utf8_string_param(key, OSSL_PKEY_PARAM_EC_ENCODING,
                                                 OSSL_PKEY_EC_ENCODING_EXPLICIT) == 1);
            break;
    }
    CHECK(key != NULL);
    return key;
}

static const EVP_MD *md_for(EVP_PKEY *key)
{
    if (EVP_PKEY_is_a(key, "ED25519")) {
        return NULL;
    }
    if (EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) > 256) {
        return EVP_sha384();
    }
    return EVP_sha256();
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    CHECK(ext != NULL);
    CHECK(X509_add_ext(cert, ext, -1) == 1);
    X509_EXTENSION_free(ext);
}

static void random_serial(X509 *cert)
{
    unsigned char buf[16];
    CHECK(RAND_bytes(buf, sizeof(buf)) == 1);
    buf[0] = (unsigned char)((buf[0] & 0x7f) | 0x01);
    BIGNUM *bn = BN_bin2bn(buf, sizeof(buf), NULL);
    CHECK(bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL);
    BN_free(bn);
}

static X509 *new_cert(EVP_PKEY *pub, const char *cn, int64_t not_before, int64_t not_after)
{
    X509 *cert = X509_new();
    CHECK(cert != NULL);
    CHECK(X509_set_version(cert, X509_VERSION_3) == 1);
    random_serial(cert);
    if (cn != NULL) {
        CHECK(X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_UTF8,
                                         (const unsigned char *)cn, -1, -1, 0) == 1);
    }
    CHECK(ASN1_TIME_set(X509_getm_notBefore(cert), (time_t)not_before) != NULL);
    CHECK(ASN1_TIME_set(X509_getm_notAfter(cert), (time_t)not_after) != NULL);
    CHECK(X509_set_pubkey(cert, pub) == 1);
    return cert;
}

static void write_cert(const struct testpki *pki, const char *name, X509 *cert, char *path,
                       size_t path_len)
{
    CHECK((size_t)snprintf(path, path_len, "%s/%s", pki->dir, name) < path_len);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    CHECK(PEM_write_X509(f, cert) == 1);
    CHECK(fclose(f) == 0);
}

void testpki_init(struct testpki *pki, const char *trust_domain)
{
    testpki_init_ex(pki, trust_domain, TESTPKI_P256, TESTPKI_P256, 365 * 24 * 3600, NULL, 0);
}

void testpki_init_ex(struct testpki *pki, const char *trust_domain, enum testpki_key root_type,
                     enum testpki_key inter_type, int64_t inter_ttl_s,
                     const char *const *permit_dns, size_t num_permit_dns)
{
    char text[1024];
    int64_t now = (int64_t)time(NULL);

    memset(pki, 0, sizeof(*pki));
    CHECK(strlen(trust_domain) < sizeof(pki->trust_domain));
    memcpy(pki->trust_domain, trust_domain, strlen(trust_domain) + 1);
    memcpy(pki->dir, "/tmp/testpki.XXXXXX", sizeof("/tmp/testpki.XXXXXX"));
    CHECK(mkdtemp(pki->dir) != NULL);

    /* Root: CA:TRUE pathlen:1, keyCertSign+cRLSign, SKID, 10 years. */
    pki->root_key = testpki_key_new(root_type);
    CHECK((size_t)snprintf(text, sizeof(text), "%s root", trust_domain) < sizeof(text));
    pki->root = new_cert(pki->root_key, text, now - 3600, now + 10LL * 365 * 24 * 3600);
    CHECK(X509_set_issuer_name(pki->root, X509_get_subject_name(pki->root)) == 1);
    add_ext(pki->root, pki->root, NID_basic_constraints, "critical,CA:TRUE,pathlen:1");
    add_ext(pki->root, pki->root, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(pki->root, pki->root, NID_subject_key_identifier, "hash");
    CHECK(X509_sign(pki->root, pki->root_key, md_for(pki->root_key)) > 0);

    /* Intermediate: CA:TRUE pathlen:0, keyCertSign+cRLSign, SKID, AKID, URI
     * SAN spiffe://<td>, critical nameConstraints permitting URI <td>. */
    pki->inter_key = testpki_key_new(inter_type);
    CHECK((size_t)snprintf(text, sizeof(text), "%s intermediate", trust_domain) < sizeof(text));
    pki->inter = new_cert(pki->inter_key, text, now - 3600, now + inter_ttl_s);
    CHECK(X509_set_issuer_name(pki->inter, X509_get_subject_name(pki->root)) == 1);
    add_ext(pki->inter, pki->root, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    add_ext(pki->inter, pki->root, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(pki->inter, pki->root, NID_subject_key_identifier, "hash");
    add_ext(pki->inter, pki->root, NID_authority_key_identifier, "keyid:always");
    CHECK((size_t)snprintf(text, sizeof(text), "URI:spiffe://%s", trust_domain) < sizeof(text));
    add_ext(pki->inter, pki->root, NID_subject_alt_name, text);
    size_t n = (size_t)snprintf(text, sizeof(text), "critical,permitted;URI:%s", trust_domain);
    for (size_t i = 0; i < num_permit_dns; i++) {
        CHECK(n < sizeof(text));
        n += (size_t)snprintf(text + n, sizeof(text) - n, ",permitted;DNS:%s", permit_dns[i]);
    }
    CHECK(n < sizeof(text));
    add_ext(pki->inter, pki->root, NID_name_constraints, text);
    CHECK(X509_sign(pki->inter, pki->root_key, md_for(pki->root_key)) > 0);

    pki->roots = sk_X509_new_null();
    CHECK(pki->roots != NULL && X509_up_ref(pki->root) == 1);
    CHECK(sk_X509_push(pki->roots, pki->root) > 0);
    write_cert(pki, "root.pem", pki->root, pki->root_path, sizeof(pki->root_path));
    write_cert(pki, "intermediate.pem", pki->inter, pki->inter_path, sizeof(pki->inter_path));
}

void testpki_cleanup(struct testpki *pki)
{
    char cmd[128];
    if (pki == NULL) {
        return;
    }
    EVP_PKEY_free(pki->root_key);
    EVP_PKEY_free(pki->inter_key);
    X509_free(pki->root);
    X509_free(pki->inter);
    sk_X509_pop_free(pki->roots, X509_free);
    if (pki->dir[0] != '\0' && strncmp(pki->dir, "/tmp/testpki.", 13) == 0) {
        CHECK((size_t)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pki->dir) < sizeof(cmd));
        CHECK(system(cmd) == 0);
    }
    memset(pki, 0, sizeof(*pki));
}

void testpki_csr_der(EVP_PKEY *key, const char *const *sans, size_t num_sans, int extras,
                     unsigned char **out_der, size_t *out_der_len)
{
    char text[4096];
    X509_REQ *req = X509_REQ_new();
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();

    CHECK(req != NULL && exts != NULL);
    CHECK(X509_REQ_set_version(req, 0) == 1);
    CHECK(X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
                                     (const unsigned char *)"test", -1, -1, 0) == 1);
    CHECK(X509_REQ_set_pubkey(req, key) == 1);
    if (num_sans > 0) {
        size_t n = 0;
        for (size_t i = 0; i < num_sans; i++) {
            n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%s", i > 0 ? "," : "", sans[i]);
            CHECK(n < sizeof(text));
        }
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, text);
        CHECK(ext != NULL && sk_X509_EXTENSION_push(exts, ext) > 0);
    }
    if (extras & TESTPKI_CSR_CA_TRUE) {
        X509_EXTENSION *ext =
            X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE");
        CHECK(ext != NULL && sk_X509_EXTENSION_push(exts, ext) > 0);
    }
    if (extras & TESTPKI_CSR_KEY_USAGE) {
        X509_EXTENSION *ext =
            X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage, "keyCertSign,cRLSign,dataEncipherment");
        CHECK(ext != NULL && sk_X509_EXTENSION_push(exts, ext) > 0);
    }
    if (extras & TESTPKI_CSR_EKU) {
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_ext_key_usage, "codeSigning");
        CHECK(ext != NULL && sk_X509_EXTENSION_push(exts, ext) > 0);
    }
    if (sk_X509_EXTENSION_num(exts) > 0) {
        CHECK(X509_REQ_add_extensions(req, exts) == 1);
    }
    CHECK(X509_REQ_sign(req, key, md_for(key)) > 0);
    unsigned char *der = NULL;
    int len = i2d_X509_REQ(req, &der);
    CHECK(len > 0);
    *out_der = der;
    *out_der_len = (size_t)len;
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(req);
}

char *testpki_key_pem(EVP_PKEY *key, size_t *out_len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    CHECK(bio != NULL);
    CHECK(PEM_write_bio_PKCS8PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1);
    long len = BIO_get_mem_data(bio, &data);
    CHECK(len > 0);
    char *pem = OPENSSL_malloc((size_t)len + 1);
    CHECK(pem != NULL);
    memcpy(pem, data, (size_t)len);
    pem[len] = '\0';
    *out_len = (size_t)len;
    BIO_free(bio);
    return pem;
}

char *testpki_pem_encode(const char *label, const unsigned char *der, size_t der_len,
                         size_t *out_len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    CHECK(bio != NULL);
    CHECK(PEM_write_bio(bio, label, "", der, (long)der_len) > 0);
    long len = BIO_get_mem_data(bio, &data);
    CHECK(len > 0);
    char *pem = malloc((size_t)len + 1);
    CHECK(pem != NULL);
    memcpy(pem, data, (size_t)len);
    pem[len] = '\0';
    if (out_len != NULL) {
        *out_len = (size_t)len;
    }
    BIO_free(bio);
    return pem;
}

char *testpki_csr_pem(EVP_PKEY *key, const char *const *sans, size_t num_sans, int extras,
                      size_t *out_len)
{
    unsigned char *der = NULL;
    size_t der_len = 0;
    testpki_csr_der(key, sans, num_sans, extras, &der, &der_len);
    char *pem = testpki_pem_encode("CERTIFICATE REQUEST", der, der_len, out_len);
    OPENSSL_free(der);
    return pem;
}

X509 *testpki_sign_leaf(const struct testpki *pki, EVP_PKEY *pub, const char *uri,
                        int64_t not_before, int64_t not_after, int ca)
{
    char text[2100];
    X509 *cert = new_cert(pub, NULL, not_before, not_after);
    CHECK(X509_set_issuer_name(cert, X509_get_subject_name(pki->inter)) == 1);
    add_ext(cert, pki->inter, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    add_ext(cert, pki->inter, NID_key_usage,
            ca ? "critical,digitalSignature,keyCertSign" : "critical,digitalSignature");
    add_ext(cert, pki->inter, NID_ext_key_usage, "serverAuth,clientAuth");
    CHECK((size_t)snprintf(text, sizeof(text), "critical,URI:%s", uri) < sizeof(text));
    add_ext(cert, pki->inter, NID_subject_alt_name, text);
    add_ext(cert, pki->inter, NID_authority_key_identifier, "keyid:always");
    CHECK(X509_sign(cert, pki->inter_key, md_for(pki->inter_key)) > 0);
    return cert;
}

void testpki_write(const struct testpki *pki, const char *name, const void *data, size_t len,
                   char *path, size_t path_len)
{
    CHECK((size_t)snprintf(path, path_len, "%s/%s", pki->dir, name) < path_len);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(data, 1, len, f) == len);
    CHECK(fclose(f) == 0);
}

void testpki_write_der_cert(const struct testpki *pki, const char *name, const unsigned char *der,
                            size_t der_len, char *path, size_t path_len)
{
    size_t pem_len = 0;
    char *pem = testpki_pem_encode("CERTIFICATE", der, der_len, &pem_len);
    testpki_write(pki, name, pem, pem_len, path, path_len);
    free(pem);
}

int testpki_openssl_verify(const struct testpki *pki, const char *leaf_path, char *out,
                           size_t out_len)
{
    char cmd[1024];
    CHECK((size_t)snprintf(cmd, sizeof(cmd),
                           "openssl verify -CAfile '%s' -untrusted '%s' '%s' 2>&1", pki->root_path,
                           pki->inter_path, leaf_path) < sizeof(cmd));
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    size_t n = fread(out, 1, out_len - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
