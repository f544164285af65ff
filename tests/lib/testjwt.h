/* testjwt.h: test-only helpers to build every token a hostile client could
 * send: keys, JWKS files, and JWS tokens signed directly with OpenSSL over any
 * header and claims JSON (so that `alg` can lie about the signature). */
#ifndef SIGNET_TESTJWT_H
#define SIGNET_TESTJWT_H

#include <stddef.h>

#include <openssl/evp.h>

/* testjwt_rsa_key makes an RSA key of |bits|; the caller frees it. NULL on failure. */
EVP_PKEY *testjwt_rsa_key(int bits);

/* testjwt_rsa_key_shared returns an RSA-2048 key shared by the test processes
 * of one Criterion run (a PEM file keyed by the runner's pid, made by the
 * first test that needs it), because RSA key generation is slow and every test
 * runs in its own process. The caller frees the EVP_PKEY. */
EVP_PKEY *testjwt_rsa_key_shared(void);

/* testjwt_shared_cleanup removes the shared key file; call it from a
 * ReportHook(POST_ALL), which runs in the runner process. */
void testjwt_shared_cleanup(void);

/* testjwt_ec_key makes an EC P-256 key; the caller frees it. */
EVP_PKEY *testjwt_ec_key(void);

/* testjwt_b64url encodes |len| bytes as unpadded base64url (malloc'd string). */
char *testjwt_b64url(const unsigned char *data, size_t len);

/* testjwt_jwks_write writes a JWKS of the public halves of |keys| (RSA n/e,
 * EC crv/x/y) to |path|; |kids| may be NULL, and each kid NULL for none.
 * Returns 1 on success. */
int testjwt_jwks_write(const char *path, EVP_PKEY *const *keys, const char *const *kids,
                       size_t num);

/* testjwt_pubkey_pem returns the SubjectPublicKeyInfo PEM of |key| (malloc'd,
 * NUL-terminated), |*out_len| its length: the bytes the server verifies with. */
char *testjwt_pubkey_pem(EVP_PKEY *key, size_t *out_len);

/* testjwt_pubkey_write and testjwt_privkey_write write PEM files (1 on success). */
int testjwt_pubkey_write(const char *path, EVP_PKEY *key);
int testjwt_privkey_write(const char *path, EVP_PKEY *key);

/* testjwt_sign returns "b64(header).b64(claims).b64(sig)" (malloc'd) where the
 * signature is made with |key| whatever the header says: RS256 (PKCS#1 v1.5,
 * SHA-256) for an RSA key, ES256 (raw r||s) for an EC key. */
char *testjwt_sign(const char *header_json, const char *claims_json, EVP_PKEY *key);

/* testjwt_sign_hmac signs with HMAC-SHA256 keyed with |secret|. */
char *testjwt_sign_hmac(const char *header_json, const char *claims_json,
                        const unsigned char *secret, size_t secret_len);

/* testjwt_unsigned returns "b64(header).b64(claims)." (alg none). */
char *testjwt_unsigned(const char *header_json, const char *claims_json);

#endif
