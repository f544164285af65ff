/* ca.h: the X.509 engine's interface. Keys, CSR checks, certificate profiles,
 * issuance, chain and bundle (and later CRL and OCSP). It uses OpenSSL only and
 * knows nothing of HTTP or LMDB. */
#ifndef SIGNET_CA_H
#define SIGNET_CA_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Caps on untrusted input, checked before any parsing. */
#define CA_MAX_CSR_LEN       (32 * 1024)
#define CA_MAX_SPIFFE_ID_LEN 2048
#define CA_MAX_DNS_NAME_LEN  253
#define CA_MAX_SANS          32
#define CA_SERIAL_LEN        16 /* bytes: 128-bit random, positive */
#define CA_SERIAL_HEX_MAX    (2 * CA_SERIAL_LEN + 1)

/* The module's error table: code, short name. CA_OK is 0. */
#define CA_ERRORS(X)                                                                               \
    X(CA_OK, "ok")                                                                                 \
    X(CA_ERR_INTERNAL, "internal")                                                                 \
    X(CA_ERR_INVALID_ARGUMENT, "invalid_argument")                                                 \
    X(CA_ERR_INVALID_CSR, "invalid_csr")                                                           \
    X(CA_ERR_UNSUPPORTED_KEY, "unsupported_key")                                                   \
    X(CA_ERR_INVALID_SPIFFE_ID, "invalid_spiffe_id")                                               \
    X(CA_ERR_FORBIDDEN_SAN, "forbidden_san")                                                       \
    X(CA_ERR_INVALID_TTL, "invalid_ttl")                                                           \
    X(CA_ERR_ISSUER_EXPIRED, "issuer_expired")                                                     \
    X(CA_ERR_INVALID_CERT, "invalid_cert")                                                         \
    X(CA_ERR_UNTRUSTED_CERT, "untrusted_cert")                                                     \
    X(CA_ERR_INVALID_KEY, "invalid_key")                                                           \
    X(CA_ERR_KEY_MISMATCH, "key_mismatch")                                                         \
    X(CA_ERR_BAD_PASSPHRASE, "bad_passphrase")                                                     \
    X(CA_ERR_EXISTS, "exists")                                                                     \
    X(CA_ERR_IO, "io")

enum ca_err {
#define CA_ERR_ENUM(code, name) code,
    CA_ERRORS(CA_ERR_ENUM)
#undef CA_ERR_ENUM
};

/* struct ca_error carries a client-safe message with a code: what was wrong and
 * why, never a path, a key or an OpenSSL reason code. */
struct ca_error {
    enum ca_err code;
    char msg[160];
};

/* ca_err_name returns the short name of |code| ("invalid_csr"), a static string. */
const char *ca_err_name(enum ca_err code);

/* ca_fail sets |err| (which may be NULL) to |code| and the formatted message and
 * returns |code|, so that callers can write `return ca_fail(err, ...)`. */
enum ca_err ca_fail(struct ca_error *err, enum ca_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- Keys and files (ca/key.c, ca/file.c) ---- */

enum ca_key_type {
    CA_KEY_EC_P256,
    CA_KEY_EC_P384,
    CA_KEY_ED25519,
    CA_KEY_RSA_3072,
};

/* ca_key_type_parse maps "ec-p256", "ec-p384", "ed25519" or "rsa-3072" to a
 * key type; anything else is CA_ERR_INVALID_ARGUMENT. */
enum ca_err ca_key_type_parse(const char *name, enum ca_key_type *out_type, struct ca_error *err)
    __attribute__((warn_unused_result));

/* ca_key_generate makes a new private key of |type|. On success the caller owns
 * |*out_key| and frees it with EVP_PKEY_free(). Thread-safe. */
enum ca_err ca_key_generate(enum ca_key_type type, EVP_PKEY **out_key, struct ca_error *err)
    __attribute__((warn_unused_result));

/* ca_key_write writes |key| as PKCS#8 PEM to a new file |path|, created with
 * O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600 (never chmod-ed afterwards). With a
 * non-NULL |passphrase| (|passphrase_len| > 0 bytes) the PKCS#8 is encrypted
 * (AES-256-CBC, scrypt or PBKDF2 key derivation). An existing file is
 * CA_ERR_EXISTS and is left untouched. The PEM is cleansed from memory. */
enum ca_err ca_key_write(const char *path, EVP_PKEY *key, const char *passphrase,
                         size_t passphrase_len, struct ca_error *err)
    __attribute__((warn_unused_result));

/* ca_key_read reads a PKCS#8 private key from |path|, decrypting it with
 * |passphrase| when it is encrypted (a wrong one is CA_ERR_BAD_PASSPHRASE).
 * The caller owns |*out_key|. */
enum ca_err ca_key_read(const char *path, const char *passphrase, size_t passphrase_len,
                        EVP_PKEY **out_key, struct ca_error *err)
    __attribute__((warn_unused_result));

/* ca_pubkey_write writes the public half of |key| as SubjectPublicKeyInfo PEM to
 * a new file |path| (mode 0644, O_EXCL). */
enum ca_err ca_pubkey_write(const char *path, EVP_PKEY *key, struct ca_error *err)
    __attribute__((warn_unused_result));

/* ca_cert_write writes |cert| as PEM to a new file |path| (mode 0644, O_EXCL);
 * an existing file is CA_ERR_EXISTS. */
enum ca_err ca_cert_write(const char *path, X509 *cert, struct ca_error *err)
    __attribute__((warn_unused_result));

/* ca_certs_read reads one or more PEM certificates from |path| (nothing else
 * in the file but blank lines). The caller owns |*out_certs| and frees it with
 * OSSL_STACK_OF_X509_free() or sk_X509_pop_free(.., X509_free). */
enum ca_err ca_certs_read(const char *path, STACK_OF(X509) **out_certs, struct ca_error *err)
    __attribute__((warn_unused_result));

/* ---- Root and intermediate profiles (ca/authority.c) ---- */

/* ca_root_create makes the self-signed root of CONTRACT section 4 for |key|:
 * CA:TRUE pathlen:1 (critical), keyUsage keyCertSign+cRLSign (critical), SKID,
 * subject CN "<trust_domain> root", valid from |now| - 60 s for |ttl_s| seconds.
 * The caller owns |*out_cert|. */
enum ca_err ca_root_create(EVP_PKEY *key, const char *trust_domain, int64_t now, int64_t ttl_s,
                           X509 **out_cert, struct ca_error *err)
    __attribute__((warn_unused_result));

/* ca_intermediate_csr_create makes the intermediate's CSR for |key| (subject CN
 * "<trust_domain> intermediate"). The caller owns |*out_csr|. */
enum ca_err ca_intermediate_csr_create(EVP_PKEY *key, const char *trust_domain, X509_REQ **out_csr,
                                       struct ca_error *err) __attribute__((warn_unused_result));

struct ca_intermediate_params {
    const char *trust_domain;
    const char *const *permit_dns; /* DNS suffixes also permitted; borrowed */
    size_t num_permit_dns;
    int64_t now;
    int64_t ttl_s; /* clamped to the root's notAfter */
};

/* ca_intermediate_sign signs |csr| (its signature checked, its extensions never
 * copied) as the intermediate of CONTRACT section 4: CA:TRUE pathlen:0,
 * keyCertSign+cRLSign, SKID, AKID, URI SAN spiffe://<td>, critical
 * nameConstraints permitting URI <td> and each permit_dns suffix. */
enum ca_err ca_intermediate_sign(X509 *root, EVP_PKEY *root_key, X509_REQ *csr,
                                 const struct ca_intermediate_params *params, X509 **out_cert,
                                 struct ca_error *err) __attribute__((warn_unused_result));

/* ---- SPIFFE IDs (ca/spiffe.c) ---- */

/* ca_trust_domain_check accepts a trust domain name as the SPIFFE-ID
 * specification says: 1..255 bytes of [a-z0-9.-_]. */
enum ca_err ca_trust_domain_check(const char *td, size_t td_len, struct ca_error *err)
    __attribute__((warn_unused_result));

/* ca_spiffe_id_check accepts |id| (|id_len| bytes, not necessarily NUL-
 * terminated) only if it is a valid workload SPIFFE ID in |trust_domain|: see
 * CONTRACT section 4. Otherwise CA_ERR_INVALID_SPIFFE_ID with the reason. */
enum ca_err ca_spiffe_id_check(const char *id, size_t id_len, const char *trust_domain,
                               struct ca_error *err) __attribute__((warn_unused_result));

/* ---- Issuance (ca/issuer.c, ca/csr.c, ca/leaf.c) ---- */

/* struct ca_policy is the part of the configuration the engine enforces. */
struct ca_policy {
    char trust_domain[256];
    char public_url[512]; /* base of the AIA, caIssuers and CRL DP URLs */
    int64_t default_ttl_s;
    int64_t max_ttl_s;
};

/* struct ca_identity is what the caller proved (token or client certificate).
 * All pointers are borrowed for the duration of the call. */
struct ca_identity {
    const char *spiffe_id;
    const char *const *dns_names;
    size_t num_dns_names;
    const char *const *ips; /* textual IPv4 or IPv6 addresses */
    size_t num_ips;
};

/* struct ca_leaf is an issued certificate. Free its buffers with ca_leaf_cleanup(). */
struct ca_leaf {
    unsigned char serial[CA_SERIAL_LEN];
    size_t serial_len;
    char serial_hex[CA_SERIAL_HEX_MAX]; /* lower-case, no leading zeros */
    int64_t not_before;
    int64_t not_after;
    unsigned char *der;
    size_t der_len;
    char *pem;
    size_t pem_len;
};

/* struct ca_issuer is the online intermediate: certificate, key, chain and
 * roots, pre-encoded. Built once at start-up, then read-only: every function
 * taking a const struct ca_issuer * is safe to call from many threads. */
struct ca_issuer;

/* ca_issuer_new builds an issuer from the intermediate |cert| and its private
 * |key| (which must match), the trust anchors |roots| (the intermediate must
 * verify against them) and |policy| (copied). It takes its own references; the
 * caller keeps and frees its own. The caller frees |*out| with ca_issuer_free(). */
enum ca_err ca_issuer_new(X509 *cert, EVP_PKEY *key, STACK_OF(X509) *roots,
                          const struct ca_policy *policy, struct ca_issuer **out,
                          struct ca_error *err) __attribute__((warn_unused_result));

/* ca_issuer_free frees |issuer| and cleanses its key; NULL is allowed. */
void ca_issuer_free(struct ca_issuer *issuer);

/* ca_leaf_issue checks the PEM CSR (|csr_pem_len| bytes, at most
 * CA_MAX_CSR_LEN): its signature, its key type (CONTRACT section 4), and that
 * every SAN it lists is covered by |id|; then it issues the X.509-SVID for |id|
 * with lifetime |ttl_s| (0 for the policy's default; clamped to the policy's
 * maximum and to the intermediate's notAfter) at time |now|. Only the CSR's
 * public key is used. On success |*out| holds the leaf (ca_leaf_cleanup()). */
enum ca_err ca_leaf_issue(const struct ca_issuer *issuer, const char *csr_pem, size_t csr_pem_len,
                          const struct ca_identity *id, int64_t ttl_s, int64_t now,
                          struct ca_leaf *out, struct ca_error *err)
    __attribute__((warn_unused_result));

/* ca_leaf_issue_for_key is ca_leaf_issue for a public key the caller already
 * holds (the server's own TLS certificate): no CSR is involved. */
enum ca_err ca_leaf_issue_for_key(const struct ca_issuer *issuer, EVP_PKEY *pub,
                                  const struct ca_identity *id, int64_t ttl_s, int64_t now,
                                  struct ca_leaf *out, struct ca_error *err)
    __attribute__((warn_unused_result));

/* ca_leaf_cleanup frees the buffers of |leaf|; NULL is allowed. */
void ca_leaf_cleanup(struct ca_leaf *leaf);

/* ca_issuer_chain_pem returns the intermediate's PEM (what a leaf's "chain"
 * holds), borrowed for the issuer's lifetime; |*out_len| gets its length. */
const char *ca_issuer_chain_pem(const struct ca_issuer *issuer, size_t *out_len);

/* ca_issuer_bundle_pem returns the roots as PEM, borrowed likewise. */
const char *ca_issuer_bundle_pem(const struct ca_issuer *issuer, size_t *out_len);

/* ca_issuer_cert_der returns the intermediate's DER, borrowed likewise. */
const unsigned char *ca_issuer_cert_der(const struct ca_issuer *issuer, size_t *out_len);

/* ca_issuer_num_roots and ca_issuer_root_der give each root's DER (for the
 * SPIFFE bundle's x5c), borrowed likewise. */
size_t ca_issuer_num_roots(const struct ca_issuer *issuer);
const unsigned char *ca_issuer_root_der(const struct ca_issuer *issuer, size_t i, size_t *out_len);

/* ca_issuer_not_after returns the intermediate's notAfter (Unix seconds). */
int64_t ca_issuer_not_after(const struct ca_issuer *issuer);

/* struct ca_peer is what a verified client certificate proves. */
struct ca_peer {
    char spiffe_id[CA_MAX_SPIFFE_ID_LEN + 1];
    char dns_names[CA_MAX_SANS][CA_MAX_DNS_NAME_LEN + 1];
    size_t num_dns_names;
    unsigned char serial[CA_SERIAL_LEN + 4];
    size_t serial_len;
    char serial_hex[2 * (CA_SERIAL_LEN + 4) + 1];
    int64_t not_after;
};

/* ca_issuer_verify_peer verifies a client certificate (|der|, |der_len| bytes)
 * against the issuer: it must be signed by this intermediate, chain to the
 * roots, be within its validity at |now|, be an X.509-SVID of the trust domain
 * (exactly one spiffe:// URI SAN, CA:FALSE). Revocation is the caller's check.
 * CA_ERR_INVALID_CERT for undecodable bytes, CA_ERR_UNTRUSTED_CERT otherwise,
 * each with the reason. */
enum ca_err ca_issuer_verify_peer(const struct ca_issuer *issuer, const unsigned char *der,
                                  size_t der_len, int64_t now, struct ca_peer *out,
                                  struct ca_error *err) __attribute__((warn_unused_result));

#endif
