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
#define CA_MAX_SERIAL_LEN    20 /* bytes: RFC 5280 4.1.2.2, serials are at most 20 octets */
#define CA_SERIAL_LEN        20 /* bytes signet issues: 48-bit time in ms, then 112 random bits */
#define CA_SERIAL_TIME_LEN   6
#define CA_SERIAL_HEX_MAX    (2 * CA_MAX_SERIAL_LEN + 1)

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
    X(CA_ERR_IO, "io")                                                                             \
    X(CA_ERR_INVALID_CRL, "invalid_crl")                                                           \
    X(CA_ERR_INVALID_OCSP_REQUEST, "invalid_ocsp_request")

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

/* ca_key_read reads a PKCS#8 private key from |path|. With a |passphrase|
 * the key must be encrypted and is decrypted with it (a wrong one is
 * CA_ERR_BAD_PASSPHRASE, a plain key CA_ERR_INVALID_KEY); without one it
 * must be plain. The caller owns |*out_key|. */
enum ca_err ca_key_read(const char *path, const char *passphrase, size_t passphrase_len,
                        EVP_PKEY **out_key, struct ca_error *err)
    __attribute__((warn_unused_result));

/* ca_key_parse is ca_key_read for a PEM text in memory (|pem_len| bytes, at
 * most 64 KiB; it need not end in a NUL). Every buffer it decodes the key
 * through is cleansed before it is freed, so that the key is left only in
 * |*out_key| (and in |pem|, which the caller cleanses). Same errors as
 * ca_key_read, and CA_ERR_INVALID_KEY for an empty or oversized text. */
enum ca_err ca_key_parse(const char *pem, size_t pem_len, const char *passphrase,
                         size_t passphrase_len, EVP_PKEY **out_key, struct ca_error *err)
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

/* ca_csr_write writes |csr| as PEM to a new file |path| (mode 0644, O_EXCL);
 * an existing file is CA_ERR_EXISTS. */
enum ca_err ca_csr_write(const char *path, X509_REQ *csr, struct ca_error *err)
    __attribute__((warn_unused_result));

/* ca_csr_read reads exactly one PEM certificate request from |path| (at most
 * CA_MAX_CSR_LEN bytes, nothing else but blank lines) and checks its
 * self-signature (CA_ERR_INVALID_CSR). The caller owns |*out_csr| and frees it
 * with X509_REQ_free(). */
enum ca_err ca_csr_read(const char *path, X509_REQ **out_csr, struct ca_error *err)
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

/* ca_cert_trust_domain copies into |out| (|out_len| bytes, NUL-terminated) the
 * trust domain that |cert| names in its URI SAN "spiffe://<td>" (the form roots
 * and intermediates carry: no path). CA_ERR_INVALID_CERT when there is none or
 * more than one, or it is not a valid trust domain. |cert| is borrowed. */
enum ca_err ca_cert_trust_domain(X509 *cert, char *out, size_t out_len, struct ca_error *err)
    __attribute__((warn_unused_result));

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

/* ca_random_bytes fills |out| (|len| bytes) from OpenSSL's CSPRNG, drawn in
 * blocks into a thread-local buffer (one RAND_bytes per call cost about 1% of
 * an issuance); each byte is handed out once and cleansed from the buffer,
 * and a child process after fork() never gets its parent's bytes. Returns 1,
 * or 0 when OpenSSL has no randomness. Serials and the server's jitter and
 * request ids use it. */
int ca_random_bytes(unsigned char *out, size_t len) __attribute__((warn_unused_result));

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

/* ca_issuer_cert and ca_issuer_key return the intermediate's certificate and
 * private key (get0: borrowed for the issuer's lifetime; never modify or free
 * them), for the CRL and OCSP signers. */
X509 *ca_issuer_cert(const struct ca_issuer *issuer);
EVP_PKEY *ca_issuer_key(const struct ca_issuer *issuer);

/* struct ca_peer is what a verified client certificate proves. */
struct ca_peer {
    char spiffe_id[CA_MAX_SPIFFE_ID_LEN + 1];
    char dns_names[CA_MAX_SANS][CA_MAX_DNS_NAME_LEN + 1];
    size_t num_dns_names;
    unsigned char serial[CA_MAX_SERIAL_LEN];
    size_t serial_len;
    char serial_hex[CA_SERIAL_HEX_MAX];
    int64_t not_before;
    int64_t not_after;
};

/* ca_issuer_verify_peer verifies a client certificate (|der|, |der_len| bytes)
 * against the issuer: it must be a v3 certificate signed by this very
 * intermediate (which ca_issuer_new verified against the roots), be within
 * its validity at |now| as the intermediate must be, allow client
 * authentication (extKeyUsage, keyUsage), carry no critical extension it does
 * not know, and be an X.509-SVID of the trust domain (exactly one spiffe://
 * URI SAN, CA:FALSE). Revocation is the caller's check. CA_ERR_INVALID_CERT
 * for undecodable bytes, CA_ERR_UNTRUSTED_CERT otherwise, each with the
 * reason. (ca/peer.c) */
enum ca_err ca_issuer_verify_peer(const struct ca_issuer *issuer, const unsigned char *der,
                                  size_t der_len, int64_t now, struct ca_peer *out,
                                  struct ca_error *err) __attribute__((warn_unused_result));

/* ---- Revocation (ca/crl.c, ca/ocsp.c) ---- */

#define CA_MAX_CRL_LEN          (16 * 1024 * 1024) /* a CRL read back from a file */
#define CA_MAX_OCSP_REQUEST_LEN 4096 /* DER; an unsigned one-CertID request is ~120 bytes */
#define CA_MAX_OCSP_BASE64_LEN  (3 * 4 * ((CA_MAX_OCSP_REQUEST_LEN + 2) / 3)) /* all %XX */
#define CA_MAX_OCSP_NONCE_LEN   32 /* RFC 8954 section 2.1 */

/* RFC 5280 section 5.3.1 CRLReason codes (7 is not used). */
enum ca_crl_reason {
    CA_REASON_UNSPECIFIED = 0,
    CA_REASON_KEY_COMPROMISE = 1,
    CA_REASON_CA_COMPROMISE = 2,
    CA_REASON_AFFILIATION_CHANGED = 3,
    CA_REASON_SUPERSEDED = 4,
    CA_REASON_CESSATION_OF_OPERATION = 5,
    CA_REASON_CERTIFICATE_HOLD = 6,
    CA_REASON_REMOVE_FROM_CRL = 8,
    CA_REASON_PRIVILEGE_WITHDRAWN = 9,
    CA_REASON_AA_COMPROMISE = 10,
};

/* ca_crl_reason_parse maps an RFC 5280 reason name, spelt exactly as there
 * ("keyCompromise"), to its code. Anything else is CA_ERR_INVALID_ARGUMENT. */
enum ca_err ca_crl_reason_parse(const char *name, enum ca_crl_reason *out_reason,
                                struct ca_error *err) __attribute__((warn_unused_result));

/* ca_crl_reason_name returns the RFC 5280 name of |reason| ("keyCompromise"),
 * a static string, or NULL for a code that is not a CRLReason. */
const char *ca_crl_reason_name(enum ca_crl_reason reason);

/* struct ca_crl_entry is one revoked certificate. */
struct ca_crl_entry {
    unsigned char serial[CA_MAX_SERIAL_LEN]; /* big-endian, positive, 1..20 bytes */
    size_t serial_len;
    int64_t revoked_at;        /* Unix seconds */
    enum ca_crl_reason reason; /* unspecified: no reasonCode extension */
};

/* ca_serial_from_hex parses a serial written as 1..40 hex digits (either case,
 * no colons; leading zeros allowed) into big-endian bytes without leading
 * zeros. Zero and anything else are CA_ERR_INVALID_ARGUMENT. */
enum ca_err ca_serial_from_hex(const char *hex, size_t hex_len,
                               unsigned char out_serial[CA_MAX_SERIAL_LEN], size_t *out_serial_len,
                               struct ca_error *err) __attribute__((warn_unused_result));

/* ca_crl_build signs an X.509 v2 CRL (RFC 5280 section 5) with |issuer_key|,
 * which must match |issuer| (a CA certificate with a subjectKeyIdentifier):
 * issuer = the issuer's subject, thisUpdate and nextUpdate (Unix seconds,
 * this_update < next_update), authorityKeyIdentifier = the issuer's SKID,
 * cRLNumber = |crl_number|, and the |num_entries| entries sorted by serial,
 * each with its revocationDate and a reasonCode unless unspecified. There is
 * no issuingDistributionPoint: the CRL covers everything the issuer signed.
 * The digest follows the key: SHA-256 (P-256, RSA), SHA-384 (P-384), none
 * (Ed25519). A duplicate or malformed serial, or a bad reason, is
 * CA_ERR_INVALID_ARGUMENT. On success the caller owns |*out_der|
 * (|*out_der_len| bytes) and frees it with OPENSSL_free(). Thread-safe: the
 * certificate and key are only read. */
enum ca_err ca_crl_build(X509 *issuer, EVP_PKEY *issuer_key, const struct ca_crl_entry *entries,
                         size_t num_entries, uint64_t crl_number, int64_t this_update,
                         int64_t next_update, unsigned char **out_der, size_t *out_der_len,
                         struct ca_error *err) __attribute__((warn_unused_result));

/* ca_crl_der_to_pem PEM-encodes the DER CRL |der| ("-----BEGIN X509 CRL-----").
 * On success the caller owns the NUL-terminated |*out_pem| (|*out_pem_len|
 * bytes before the NUL) and frees it with OPENSSL_free(). */
enum ca_err ca_crl_der_to_pem(const unsigned char *der, size_t der_len, char **out_pem,
                              size_t *out_pem_len, struct ca_error *err)
    __attribute__((warn_unused_result));

/* ca_crl_write writes the DER CRL |der| as PEM to a new file |path| (mode
 * 0644, O_CREAT|O_EXCL|O_NOFOLLOW, fsynced); an existing file is CA_ERR_EXISTS
 * and is left untouched. */
enum ca_err ca_crl_write(const char *path, const unsigned char *der, size_t der_len,
                         struct ca_error *err) __attribute__((warn_unused_result));

/* RFC 5280 5.2.3: "Conforming CRL issuers MUST NOT use CRLNumber values
 * longer than 20 octets." */
#define CA_MAX_CRL_NUMBER_LEN 20

/* struct ca_crl_info is what ca_crl_parse reads from a CRL's fields. */
struct ca_crl_info {
    int64_t this_update; /* Unix seconds */
    int64_t next_update; /* Unix seconds; 0 when absent */
    /* cRLNumber, big-endian without leading zeros (zero is one 0x00 byte), so
     * that a longer number is a larger one; number_len 0: no cRLNumber. */
    unsigned char number[CA_MAX_CRL_NUMBER_LEN];
    size_t number_len;
};

/* ca_crl_number_cmp compares the cRLNumbers of |a| and |b| (both present):
 * negative, 0 or positive as a's is smaller, equal or larger. */
int ca_crl_number_cmp(const struct ca_crl_info *a, const struct ca_crl_info *b);

/* ca_crl_parse reads exactly one CRL, PEM or DER (|len| bytes, at most
 * CA_MAX_CRL_LEN, nothing but blank lines after a PEM one), such as the root's
 * CRL file. When |issuer| is not NULL the CRL's issuer must be its subject and
 * its signature must verify with its key (else CA_ERR_UNTRUSTED_CERT).
 * Undecodable input, and a cRLNumber that is negative, repeated, malformed or
 * longer than CA_MAX_CRL_NUMBER_LEN octets, is CA_ERR_INVALID_CRL. On
 * success the caller owns |*out_der| (|*out_der_len| bytes; OPENSSL_free())
 * and |*out_info| (may be NULL) holds its dates and number. */
enum ca_err ca_crl_parse(const unsigned char *data, size_t len, X509 *issuer,
                         unsigned char **out_der, size_t *out_der_len, struct ca_crl_info *out_info,
                         struct ca_error *err) __attribute__((warn_unused_result));

/* ca_crl_lists_cert sets |*out_listed| to 1 when the DER CRL |der|
 * (|der_len| bytes, at most CA_MAX_CRL_LEN) revokes |cert|: it has an entry
 * with |cert|'s serial and its issuer is |cert|'s issuer (an entry with
 * reason removeFromCRL, which only delta CRLs use, does not count); else 0.
 * Undecodable input is CA_ERR_INVALID_CRL. It checks no signature: give it a
 * CRL ca_crl_parse has verified. */
enum ca_err ca_crl_lists_cert(const unsigned char *der, size_t der_len, X509 *cert, int *out_listed,
                              struct ca_error *err) __attribute__((warn_unused_result));

/* The OCSP responder (RFC 6960 with the RFC 5019 profile). Responses are signed
 * by the issuing CA itself, an authorised responder by RFC 6960 section
 * 4.2.2.2, so no delegated responder certificate (with id-pkix-ocsp-nocheck)
 * has to be issued, rotated or kept online: one key online, not two. The
 * responder ID is byKey and no certificate rides along (the client has the
 * issuer already). */

/* The CertID hash algorithms we answer for. */
enum ca_ocsp_hash {
    CA_OCSP_HASH_SHA1 = 0, /* RFC 5019 section 2.1.1: clients use SHA-1 */
    CA_OCSP_HASH_SHA256 = 1,
    CA_OCSP_HASH_SHA384 = 2,
    CA_OCSP_HASH_SHA512 = 3,
    CA_OCSP_NUM_HASHES = 4,
};

/* An OCSPResponseStatus other than successful (RFC 6960 section 4.2.1). */
enum ca_ocsp_error_status {
    CA_OCSP_MALFORMED_REQUEST = 1,
    CA_OCSP_INTERNAL_ERROR = 2,
    CA_OCSP_TRY_LATER = 3,
    CA_OCSP_UNAUTHORIZED = 6,
};

/* struct ca_ocsp_request is a parsed OCSPRequest with its one CertID. Plain
 * data in caller storage; a caller may also fill one itself (hash, serial and
 * no nonce) to pre-sign a cacheable response. */
struct ca_ocsp_request {
    int for_us; /* 1: the CertID names our issuer; 0: answer CA_OCSP_UNAUTHORIZED */
    enum ca_ocsp_hash hash;
    unsigned char serial[CA_MAX_SERIAL_LEN]; /* big-endian, no leading zeros */
    size_t serial_len;
    char serial_hex[2 * CA_MAX_SERIAL_LEN + 1]; /* lower-case, no leading zeros */
    unsigned char nonce[CA_MAX_OCSP_NONCE_LEN];
    size_t nonce_len; /* 0: no nonce, so the response may come from a cache */
};

/* The answer for one certificate. */
enum ca_ocsp_cert_status {
    CA_OCSP_GOOD = 0,
    CA_OCSP_REVOKED = 1,
    CA_OCSP_UNKNOWN = 2,
};

struct ca_ocsp_status {
    enum ca_ocsp_cert_status status;
    int64_t revoked_at;        /* Unix seconds; CA_OCSP_REVOKED only */
    enum ca_crl_reason reason; /* CA_OCSP_REVOKED only; unspecified: no reason */
};

/* struct ca_ocsp_responder holds the issuer, its key and the issuer's name and
 * key hashes for SHA-1 and SHA-256. Built once, then read-only: every function
 * taking a const struct ca_ocsp_responder * is safe from many threads. */
struct ca_ocsp_responder;

/* ca_ocsp_responder_new builds a responder for the CA |issuer| with its
 * private |issuer_key| (which must match: else CA_ERR_KEY_MISMATCH), whose
 * responses are valid for |validity_s| seconds (1 s .. 7 days; else
 * CA_ERR_INVALID_ARGUMENT). It takes its own references. The caller frees
 * |*out| with ca_ocsp_responder_free(). */
enum ca_err ca_ocsp_responder_new(X509 *issuer, EVP_PKEY *issuer_key, int64_t validity_s,
                                  struct ca_ocsp_responder **out, struct ca_error *err)
    __attribute__((warn_unused_result));

/* ca_ocsp_responder_free frees |responder|; NULL is allowed. */
void ca_ocsp_responder_free(struct ca_ocsp_responder *responder);

/* ca_ocsp_responder_validity returns the validity given at creation: a
 * response built at |now| has nextUpdate now + validity, which is also how
 * long a caller may cache a response without a nonce. */
int64_t ca_ocsp_responder_validity(const struct ca_ocsp_responder *responder);

/* ca_ocsp_request_parse decodes a DER OCSPRequest (|der_len| bytes, 1 ..
 * CA_MAX_OCSP_REQUEST_LEN, all of it one request) into |*out|. RFC 5019
 * section 2.1.1: exactly one CertID. Its serial must be positive and at most
 * 20 bytes; a nonce extension must hold an OCTET STRING of 1..32 bytes (RFC
 * 8954). A signature on the request is ignored (RFC 5019 section 2.1.2).
 * Anything else is CA_ERR_INVALID_OCSP_REQUEST: answer
 * CA_OCSP_MALFORMED_REQUEST. A well-formed CertID for another issuer or hash
 * algorithm succeeds with out->for_us = 0. Thread-safe. */
enum ca_err ca_ocsp_request_parse(const struct ca_ocsp_responder *responder,
                                  const unsigned char *der, size_t der_len,
                                  struct ca_ocsp_request *out, struct ca_error *err)
    __attribute__((warn_unused_result));

/* ca_ocsp_request_from_base64 is ca_ocsp_request_parse for the GET form (RFC
 * 6960 appendix A.1): |b64| (|b64_len| bytes, at most CA_MAX_OCSP_BASE64_LEN,
 * not NUL-terminated) is the padded standard base64 of the DER request, where
 * '+', '/' and '=' may be URL-encoded as %2B, %2F and %3D (either case). Other
 * characters and bad base64 are CA_ERR_INVALID_OCSP_REQUEST. Thread-safe. */
enum ca_err ca_ocsp_request_from_base64(const struct ca_ocsp_responder *responder, const char *b64,
                                        size_t b64_len, struct ca_ocsp_request *out,
                                        struct ca_error *err) __attribute__((warn_unused_result));

/* ca_ocsp_response_build signs a successful OCSPResponse (a BasicOCSPResponse)
 * for |req| (only hash, serial, serial_len, nonce and nonce_len are read;
 * for_us must be 1): CertID from |req|, certStatus from |status|, thisUpdate
 * = |now|, nextUpdate = |now| + validity, producedAt = the signing time, the
 * nonce echoed when there is one, responder ID byKey, no certificates. The
 * caller owns |*out_der| (|*out_der_len| bytes) and frees it with
 * OPENSSL_free(). Thread-safe. */
enum ca_err ca_ocsp_response_build(const struct ca_ocsp_responder *responder,
                                   const struct ca_ocsp_request *req,
                                   const struct ca_ocsp_status *status, int64_t now,
                                   unsigned char **out_der, size_t *out_der_len,
                                   struct ca_error *err) __attribute__((warn_unused_result));

/* ca_ocsp_error_response encodes an unsigned OCSPResponse with only
 * |status| (5 bytes). The caller owns |*out_der| (OPENSSL_free()). It does
 * not change, so a server may encode each once at start-up. */
enum ca_err ca_ocsp_error_response(enum ca_ocsp_error_status status, unsigned char **out_der,
                                   size_t *out_der_len, struct ca_error *err)
    __attribute__((warn_unused_result));

/* ---- Workload CSRs (ca/csr_create.c), for `signet agent` ---- */

/* ca_csr_create makes a PKCS#10 request for |key| (borrowed; any type that
 * ca_key_generate makes) with an empty subject and no extensions, signed by
 * |key| (SHA-256 for P-256 and RSA, SHA-384 for P-384, pure EdDSA for
 * Ed25519): the identity comes from the token or client certificate, never
 * from the CSR. On success the caller owns the NUL-terminated PEM |*out_pem|
 * (|*out_len| bytes) and frees it with OPENSSL_free(). Thread-safe. */
enum ca_err ca_csr_create(EVP_PKEY *key, char **out_pem, size_t *out_len, struct ca_error *err)
    __attribute__((warn_unused_result));

#endif
