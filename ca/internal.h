/* internal.h: shared by the files of ca/ only. */
#ifndef SIGNET_CA_INTERNAL_H
#define SIGNET_CA_INTERNAL_H

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca.h"

/* The three error macros of STYLE.md section 4. Each expects `enum ca_err rc`,
 * `struct ca_error *err` and an `out:` label in the calling function. */
#define TRY(call)                                                                                  \
    do {                                                                                           \
        rc = (call);                                                                               \
        if (rc != CA_OK) {                                                                         \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

#define ENSURE(cond, code, ...)                                                                    \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            rc = ca_fail(err, (code), __VA_ARGS__);                                                \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

/* OSSL fails unless the OpenSSL call returned exactly 1 (verifiers return 1, 0
 * or -1), and clears OpenSSL's error queue so no stale reason leaks later. */
#define OSSL(call, code, ...)                                                                      \
    do {                                                                                           \
        if ((call) != 1) {                                                                         \
            ERR_clear_error();                                                                     \
            rc = ca_fail(err, (code), __VA_ARGS__);                                                \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

/* ca_file_write_new writes |len| bytes of |data| to a new file |path| created
 * with O_CREAT|O_EXCL|O_NOFOLLOW and |mode| (never chmod-ed afterwards), then
 * fsyncs it. An existing path (a symlink included) is CA_ERR_EXISTS and is left
 * untouched; on any later failure the new file is removed. (ca/file.c) */
enum ca_err ca_file_write_new(const char *path, const void *data, size_t len, unsigned int mode,
                              struct ca_error *err) __attribute__((warn_unused_result));

/* ca_file_read_all reads the whole regular file |path| (at most |max_len|
 * bytes, else CA_ERR_INVALID_ARGUMENT) into a new NUL-terminated buffer that the
 * caller frees with OPENSSL_clear_free(*out_data, *out_len + 1). (ca/file.c) */
enum ca_err ca_file_read_all(const char *path, size_t max_len, char **out_data, size_t *out_len,
                             struct ca_error *err) __attribute__((warn_unused_result));

/* ca_key_usable_by_ca accepts the keys a CA of ours may hold or certify: EC
 * P-256 or P-384 with a named curve, Ed25519, RSA 2048..8192 with an
 * exponent ca_key_rsa_exponent_check accepts; anything else is
 * CA_ERR_UNSUPPORTED_KEY naming the reason. (ca/key.c) */
enum ca_err ca_key_usable_by_ca(EVP_PKEY *key, struct ca_error *err)
    __attribute__((warn_unused_result));

/* ca_key_rsa_exponent_check accepts an RSA public exponent that is odd and
 * from 65537 to 2^256 - 1 (CA/Browser Forum Baseline Requirements 6.1.6): an
 * exponent of 1 makes every signature checkable without the private key,
 * so anyone could sign as that key. CA_ERR_UNSUPPORTED_KEY otherwise.
 * (ca/key.c) */
enum ca_err ca_key_rsa_exponent_check(const EVP_PKEY *key, struct ca_error *err)
    __attribute__((warn_unused_result));

/* ca_pem_block_next steps over blank lines from |*pos| in |text| (|len| bytes,
 * at most INT_MAX) and decodes the PEM block that must start there: labelled
 * |label| or |alt_label| (NULL |label| accepts any), with no headers. It
 * returns 1 with |*out_der| (the caller frees it with OPENSSL_clear_free(der,
 * len)), |*out_der_len| set and |*pos| moved past the block; 0 at the end of the
 * text; -1 for anything else (text outside blocks, another label, bad base64).
 * Every buffer the text passes through on its way is cleansed when freed, so
 * it may hold a private key. (ca/file.c) */
int ca_pem_block_next(const char *text, size_t len, size_t *pos, const char *label,
                      const char *alt_label, unsigned char **out_der, long *out_der_len);

/* ca_bio_write_new writes the contents of the memory BIO |bio| to a new file
 * as ca_file_write_new does, then cleanses the BIO's buffer. (ca/file.c) */
enum ca_err ca_bio_write_new(const char *path, BIO *bio, unsigned int mode, struct ca_error *err)
    __attribute__((warn_unused_result));

/* ---- Issuance internals (ca/issuer.c, ca/csr.c, ca/leaf.c, ca/identity.c) ---- */

/* The public key types a leaf may carry (CONTRACT section 4). */
enum ca_leaf_key {
    CA_LEAF_KEY_EC_P256,
    CA_LEAF_KEY_EC_P384,
    CA_LEAF_KEY_ED25519,
    CA_LEAF_KEY_RSA,
};

/* struct ca_issuer (see ca.h). Everything constant per issuer is built once in
 * ca_issuer_new so that issuing a leaf only does what is unique to it; after
 * that the struct is read-only and shared by every thread. */
struct ca_issuer {
    X509 *cert;
    EVP_PKEY *key;
    STACK_OF(X509) *roots;
    X509_STORE *store; /* the roots, for verifying the intermediate at start-up */
    struct ca_policy policy;
    int64_t not_before;
    int64_t not_after;
    unsigned char *subject_der; /* the intermediate's subject: its leaves' issuer (peer.c) */
    size_t subject_der_len;
    EVP_MD *sign_md; /* NULL for an Ed25519 intermediate (pure EdDSA) */
    EVP_MD *sha1;    /* subjectKeyIdentifier, RFC 5280 4.2.1.2 method (1) */
    EVP_MD *sha256;  /* CSR signature digests */
    EVP_MD *sha384;
    EVP_MD *sha512;
    EVP_PKEY *ec_p256; /* domain parameters only: templates for CSR keys */
    EVP_PKEY *ec_p384;
    /* The values of the constant leaf extensions, built once. A leaf adds
     * them with X509_add1_ext_i2d, which only reads them (encoding a value
     * costs less than X509_add_ext's copy of a ready extension, which
     * encodes and decodes it again). */
    BASIC_CONSTRAINTS *ext_bc;
    ASN1_BIT_STRING *ext_ku;
    ASN1_BIT_STRING *ext_ku_rsa;
    EXTENDED_KEY_USAGE *ext_eku;
    AUTHORITY_KEYID *ext_akid;
    AUTHORITY_INFO_ACCESS *ext_aia;
    CRL_DIST_POINTS *ext_cdp;
    char *chain_pem;
    size_t chain_pem_len;
    char *bundle_pem;
    size_t bundle_pem_len;
    unsigned char *cert_der;
    size_t cert_der_len;
    unsigned char **root_der;
    size_t *root_der_len;
    size_t num_roots;
    /* The intermediate's DNS nameConstraints, to refuse names that relying
     * parties would reject. */
    char **permit_dns;
    size_t num_permit_dns;
    char **exclude_dns;
    size_t num_exclude_dns;
    /* A signing context initialised once with |key| and |sign_md|, which
     * each leaf copies (EVP_MD_CTX_copy_ex only reads it) instead of looking
     * up the key management and signature algorithm again; NULL when the
     * provider cannot copy one, and each leaf then initialises its own
     * (OpenSSL 3.0.19 copies ECDSA, RSA and pure Ed25519 contexts alike). */
    EVP_MD_CTX *sign_ctx;
    /* The same for checking client certificates' signatures with the
     * intermediate's public key (peer.c). */
    EVP_MD_CTX *verify_ctx;
    /* Leaves already built, kept for the next ones to start from (leaf.c):
     * everything per issuer stays, each leaf overwrites the rest. */
    struct ca_leaf_pool *pool;
};

/* ca_leaf_pool_new and ca_leaf_pool_free make and free an issuer's pool of
 * leaf templates (leaf.c); free takes NULL. */
struct ca_leaf_pool *ca_leaf_pool_new(void);
void ca_leaf_pool_free(struct ca_leaf_pool *pool);

/* struct ca_ids is a checked identity: the SPIFFE ID, DNS names and IP
 * addresses (4 or 16 bytes each) that a leaf may carry. Plain data. */
struct ca_ids {
    const char *spiffe_id; /* borrowed from the struct ca_identity */
    size_t spiffe_id_len;
    const char *dns[CA_MAX_SANS];
    size_t dns_len[CA_MAX_SANS];
    size_t num_dns;
    unsigned char ip[CA_MAX_SANS][16];
    size_t ip_len[CA_MAX_SANS];
    size_t num_ips;
};

/* ca_identity_check validates |id| for |trust_domain| (its SPIFFE ID, each DNS
 * name and each IP address) and fills |out|, which borrows |id|'s strings.
 * (ca/identity.c) */
enum ca_err ca_identity_check(const struct ca_identity *id, const char *trust_domain,
                              struct ca_ids *out, struct ca_error *err)
    __attribute__((warn_unused_result));

/* ca_dns_name_check accepts a DNS name of LDH labels (1..63 bytes each, no
 * leading or trailing '-'), at most CA_MAX_DNS_NAME_LEN bytes, no trailing
 * dot and no wildcard. (ca/identity.c) */
enum ca_err ca_dns_name_check(const char *name, size_t len, struct ca_error *err)
    __attribute__((warn_unused_result));

/* ca_issuer_dns_check refuses (CA_ERR_FORBIDDEN_SAN) a DNS name of |ids| that
 * the intermediate's nameConstraints exclude or do not permit (RFC 5280
 * 4.2.1.10), since relying parties would reject the leaf. (ca/issuer.c) */
enum ca_err ca_issuer_dns_check(const struct ca_issuer *issuer, const struct ca_ids *ids,
                                struct ca_error *err) __attribute__((warn_unused_result));

/* struct ca_spki is the public key a leaf will carry, as DER pieces: the
 * subjectPublicKey BIT STRING contents (owned, OPENSSL_free) and its type. */
struct ca_spki {
    enum ca_leaf_key type;
    unsigned char *key;
    size_t key_len;
};

/* ca_spki_cleanup frees |spki|'s buffer; NULL is allowed. */
void ca_spki_cleanup(struct ca_spki *spki);

/* DER steps shared by csr.c and peer.c (ca/der.c). ca_der_split decodes
 * one DER SEQUENCE (all |len| bytes) into exactly |num| elements, or returns
 * NULL; free it with ca_der_split_free. ca_der_seq returns the whole encoding
 * of element |i| when it is a SEQUENCE (else NULL), ca_der_bits element |i|
 * when it is a BIT STRING with no unused bits, ca_der_algor element |i|
 * decoded as an AlgorithmIdentifier (the caller frees it), and ca_der_tagged
 * the contents of element |i| when it is a constructed context-specific [tag]
 * (EXPLICIT, or IMPLICIT over a constructed type). */
ASN1_SEQUENCE_ANY *ca_der_split(const unsigned char *der, long len, int num);
void ca_der_split_free(ASN1_SEQUENCE_ANY *seq);
const unsigned char *ca_der_seq(const ASN1_SEQUENCE_ANY *seq, int i, long *out_len);
const ASN1_BIT_STRING *ca_der_bits(const ASN1_SEQUENCE_ANY *seq, int i);
X509_ALGOR *ca_der_algor(const ASN1_SEQUENCE_ANY *seq, int i);
const unsigned char *ca_der_tagged(const ASN1_SEQUENCE_ANY *seq, int i, int tag, long *out_len);

/* ca_time_unix returns the UTCTime or GeneralizedTime |t| in Unix seconds,
 * or 0 when it is missing or malformed. (ca/der.c) */
int64_t ca_time_unix(const ASN1_TIME *t);

/* ca_csr_check decodes the PEM CSR, checks its key type, its signature and
 * that every SAN it lists is in |ids|, and hands back the public key in
 * |*out| (ca_spki_cleanup). Thread-safe. (ca/csr.c) */
enum ca_err ca_csr_check(const struct ca_issuer *issuer, const char *pem, size_t pem_len,
                         const struct ca_ids *ids, struct ca_spki *out, struct ca_error *err)
    __attribute__((warn_unused_result));

/* ca_spki_from_pkey is ca_csr_check's key step for a key the caller holds. */
enum ca_err ca_spki_from_pkey(EVP_PKEY *pub, struct ca_spki *out, struct ca_error *err)
    __attribute__((warn_unused_result));

/* ca_serial_hex writes the |len|-byte big-endian serial as lower-case hex
 * without leading zeros into |out| (2 * len + 1 bytes). (ca/leaf.c) */
void ca_serial_hex(const unsigned char *serial, size_t len, char *out);

/* ca_leaf_build issues the leaf of CONTRACT section 4 for |spki| and |ids|,
 * valid from |now| - 60 s to |not_after|. Thread-safe. (ca/leaf.c) */
enum ca_err ca_leaf_build(const struct ca_issuer *issuer, const struct ca_spki *spki,
                          const struct ca_ids *ids, int64_t now, int64_t not_after,
                          struct ca_leaf *out, struct ca_error *err)
    __attribute__((warn_unused_result));

/* ---- Revocation internals (ca/crl.c, ca/ocsp.c) ---- */

/* ca_sign_digest picks the signature hash for a CA |key|, as for certificates:
 * SHA-256 for P-256 and RSA, SHA-384 for P-384, NULL (pure EdDSA) for Ed25519;
 * any other key is CA_ERR_UNSUPPORTED_KEY. (ca/key.c) */
enum ca_err ca_sign_digest(EVP_PKEY *key, const EVP_MD **out_md, struct ca_error *err)
    __attribute__((warn_unused_result));

#endif
