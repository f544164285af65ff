/* testpki.h: a throw-away PKI for tests, made with plain OpenSSL calls (not
 * with the engine under test): a root and an intermediate following CONTRACT
 * section 4 (the intermediate with its critical nameConstraints), CSRs of any
 * key type, and hand-signed leaves. PEM files go to a mkdtemp directory that
 * testpki_cleanup removes. Every helper aborts the test on an OpenSSL failure,
 * so callers need not check. */
#ifndef SIGNET_TESTPKI_H
#define SIGNET_TESTPKI_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

enum testpki_key {
    TESTPKI_P256,
    TESTPKI_P384,
    TESTPKI_ED25519,
    TESTPKI_RSA2048,
    TESTPKI_RSA1024,
    TESTPKI_P192,
    TESTPKI_RSA_E1,        /* RSA-2048 with e = d = 1: anyone can sign as it */
    TESTPKI_P256_EXPLICIT, /* P-256 encoded with explicit curve parameters */
};

struct testpki {
    char dir[64];         /* the mkdtemp directory */
    char root_path[128];  /* dir/root.pem */
    char inter_path[128]; /* dir/intermediate.pem */
    char trust_domain[256];
    EVP_PKEY *root_key;
    X509 *root;
    EVP_PKEY *inter_key;
    X509 *inter;
    STACK_OF(X509) *roots; /* just the root */
};

/* testpki_key_new makes a new private key of |type|; EVP_PKEY_free() it. */
EVP_PKEY *testpki_key_new(enum testpki_key type);

/* testpki_init makes a P-256 root and a P-256 intermediate for |trust_domain|,
 * the intermediate valid for a year. */
void testpki_init(struct testpki *pki, const char *trust_domain);

/* testpki_init_ex is testpki_init with the key types chosen, the
 * intermediate's notAfter at now + |inter_ttl_s| (notBefore an hour ago), and
 * |num_permit_dns| DNS suffixes added to its permitted subtrees. */
void testpki_init_ex(struct testpki *pki, const char *trust_domain, enum testpki_key root_type,
                     enum testpki_key inter_type, int64_t inter_ttl_s,
                     const char *const *permit_dns, size_t num_permit_dns);

/* testpki_cleanup frees everything and removes the directory. */
void testpki_cleanup(struct testpki *pki);

/* Extras a CSR may ask for (never honoured by the engine). */
#define TESTPKI_CSR_CA_TRUE   1 /* basicConstraints critical CA:TRUE */
#define TESTPKI_CSR_KEY_USAGE 2 /* keyUsage keyCertSign, cRLSign, dataEncipherment */
#define TESTPKI_CSR_EKU       4 /* extendedKeyUsage codeSigning */

/* testpki_csr_der makes a CSR for |key| signed by it, subject CN=test, with
 * the SANs in OpenSSL config syntax ("URI:spiffe://td/x", "DNS:a.example",
 * "IP:10.0.0.1", "email:a@b") and the |extras| flags. The caller frees
 * |*out_der| with OPENSSL_free(). */
void testpki_csr_der(EVP_PKEY *key, const char *const *sans, size_t num_sans, int extras,
                     unsigned char **out_der, size_t *out_der_len);

/* testpki_csr_pem is testpki_csr_der in PEM; free() the NUL-terminated result. */
char *testpki_csr_pem(EVP_PKEY *key, const char *const *sans, size_t num_sans, int extras,
                      size_t *out_len);

/* testpki_key_pem encodes |key| as unencrypted PKCS#8 PEM, NUL-terminated,
 * |*out_len| bytes before the NUL; OPENSSL_free() it. */
char *testpki_key_pem(EVP_PKEY *key, size_t *out_len);

/* testpki_pem_encode wraps |der| in a PEM block labelled |label|; free() it. */
char *testpki_pem_encode(const char *label, const unsigned char *der, size_t der_len,
                         size_t *out_len);

/* testpki_sign_leaf signs, with the intermediate key and without the engine,
 * a leaf for |pub| with URI SAN |uri|, validity [not_before, not_after], and
 * CA:TRUE when |ca| is set. X509_free() it. */
X509 *testpki_sign_leaf(const struct testpki *pki, EVP_PKEY *pub, const char *uri,
                        int64_t not_before, int64_t not_after, int ca);

/* testpki_write writes |len| bytes to dir/|name| and puts the path in |path|. */
void testpki_write(const struct testpki *pki, const char *name, const void *data, size_t len,
                   char *path, size_t path_len);

/* testpki_write_der_cert writes a DER certificate as PEM to dir/|name|. */
void testpki_write_der_cert(const struct testpki *pki, const char *name, const unsigned char *der,
                            size_t der_len, char *path, size_t path_len);

/* testpki_openssl_verify runs the real `openssl verify -CAfile root.pem
 * -untrusted intermediate.pem <leaf_path>` and returns its exit status; its
 * output (stdout and stderr) goes to |out| (NUL-terminated, truncated). */
int testpki_openssl_verify(const struct testpki *pki, const char *leaf_path, char *out,
                           size_t out_len);

#endif
