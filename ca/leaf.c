/* leaf.c: issues the X.509-SVID leaf of CONTRACT section 4. Everything constant
 * per issuer (extensions, digests, issuer name) was built by ca_issuer_new; this
 * file only adds what is unique to one certificate: serial, validity, key,
 * SANs and SKID, then signs. */
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "internal.h"

#define MIN_TTL_S    60
#define BACKDATE_S   60
#define MIN_ISSUER_S 60 /* an intermediate closer than this to its end issues nothing */

void ca_leaf_cleanup(struct ca_leaf *leaf)
{
    if (leaf == NULL) {
        return;
    }
    OPENSSL_free(leaf->der);
    OPENSSL_free(leaf->pem);
    memset(leaf, 0, sizeof(*leaf));
}

/* resolve_not_after turns the requested |ttl_s| into the leaf's notAfter: 0
 * means the policy's default, the policy's maximum and the intermediate's own
 * notAfter both clamp it. */
static enum ca_err resolve_not_after(const struct ca_issuer *issuer, int64_t ttl_s, int64_t now,
                                     int64_t *out_not_after, struct ca_error *err)
{
    if (ttl_s < 0 || (ttl_s > 0 && ttl_s < MIN_TTL_S)) {
        return ca_fail(err, CA_ERR_INVALID_TTL, "TTL must be at least %d seconds", MIN_TTL_S);
    }
    if (ttl_s == 0) {
        ttl_s = issuer->policy.default_ttl_s;
    }
    if (ttl_s > issuer->policy.max_ttl_s) {
        ttl_s = issuer->policy.max_ttl_s;
    }
    int64_t left = 0;
    if (__builtin_sub_overflow(issuer->not_after, now, &left) || left <= 0) {
        return ca_fail(err, CA_ERR_ISSUER_EXPIRED, "the intermediate CA has expired");
    }
    if (left < MIN_ISSUER_S) {
        return ca_fail(err, CA_ERR_ISSUER_EXPIRED,
                       "the intermediate CA expires in less than %d seconds", MIN_ISSUER_S);
    }
    /* RFC 5280 4.1.2.5 leaves it to the CA; a leaf never outlives its issuer,
     * because relying parties would refuse the chain from then on. */
    *out_not_after = ttl_s < left ? now + ttl_s : issuer->not_after;
    return CA_OK;
}

enum ca_err ca_leaf_issue(const struct ca_issuer *issuer, const char *csr_pem, size_t csr_pem_len,
                          const struct ca_identity *id, int64_t ttl_s, int64_t now,
                          struct ca_leaf *out, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    struct ca_spki spki = {0};
    struct ca_ids ids;
    int64_t not_after = 0;

    ENSURE(issuer != NULL && out != NULL, CA_ERR_INVALID_ARGUMENT, "issuer or output missing");
    memset(out, 0, sizeof(*out));
    TRY(resolve_not_after(issuer, ttl_s, now, &not_after, err));
    TRY(ca_identity_check(id, issuer->policy.trust_domain, &ids, err));
    TRY(ca_issuer_dns_check(issuer, &ids, err));
    TRY(ca_csr_check(issuer, csr_pem, csr_pem_len, &ids, &spki, err));
    TRY(ca_leaf_build(issuer, &spki, &ids, now, not_after, out, err));
out:
    ca_spki_cleanup(&spki);
    return rc;
}

enum ca_err ca_leaf_issue_for_key(const struct ca_issuer *issuer, EVP_PKEY *pub,
                                  const struct ca_identity *id, int64_t ttl_s, int64_t now,
                                  struct ca_leaf *out, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    struct ca_spki spki = {0};
    struct ca_ids ids;
    int64_t not_after = 0;

    ENSURE(issuer != NULL && out != NULL, CA_ERR_INVALID_ARGUMENT, "issuer or output missing");
    memset(out, 0, sizeof(*out));
    TRY(resolve_not_after(issuer, ttl_s, now, &not_after, err));
    TRY(ca_identity_check(id, issuer->policy.trust_domain, &ids, err));
    TRY(ca_issuer_dns_check(issuer, &ids, err));
    TRY(ca_spki_from_pkey(pub, &spki, err));
    TRY(ca_leaf_build(issuer, &spki, &ids, now, not_after, out, err));
out:
    ca_spki_cleanup(&spki);
    return rc;
}

/* ---- Leaf templates ----
 * Building a leaf from X509_new costs a third of its non-signature work:
 * the issuer name is copied (encoded and decoded) and six constant extensions
 * encoded each time. A leaf that was signed is instead kept in the issuer's
 * pool and the next leaf starts from it, overwriting every per-leaf field:
 * serial, validity, key, keyUsage (RSA differs), subjectAltName, SKID and,
 * by signing, the signature. A leaf whose build failed half-way is freed,
 * never pooled. */
#define LEAF_POOL_MAX 16

struct ca_leaf_pool {
    pthread_mutex_t mu;
    X509 *certs[LEAF_POOL_MAX];
    size_t num;
};

struct ca_leaf_pool *ca_leaf_pool_new(void)
{
    struct ca_leaf_pool *pool = OPENSSL_zalloc(sizeof(*pool));
    if (pool != NULL && pthread_mutex_init(&pool->mu, NULL) != 0) {
        OPENSSL_free(pool);
        return NULL;
    }
    return pool;
}

void ca_leaf_pool_free(struct ca_leaf_pool *pool)
{
    if (pool == NULL) {
        return;
    }
    for (size_t i = 0; i < pool->num; i++) {
        X509_free(pool->certs[i]);
    }
    pthread_mutex_destroy(&pool->mu);
    OPENSSL_free(pool);
}

/* pool_take returns a pooled leaf, or NULL when there is none. */
static X509 *pool_take(struct ca_leaf_pool *pool)
{
    X509 *cert = NULL;
    pthread_mutex_lock(&pool->mu);
    if (pool->num > 0) {
        cert = pool->certs[--pool->num];
    }
    pthread_mutex_unlock(&pool->mu);
    return cert;
}

/* pool_give keeps |cert| for a later leaf, or frees it when the pool is full. */
static void pool_give(struct ca_leaf_pool *pool, X509 *cert)
{
    pthread_mutex_lock(&pool->mu);
    if (pool->num < LEAF_POOL_MAX) {
        pool->certs[pool->num++] = cert;
        cert = NULL;
    }
    pthread_mutex_unlock(&pool->mu);
    X509_free(cert);
}

/* push_name appends a URI, DNS (IA5String) or IP (OCTET STRING) name. */
static int push_name(GENERAL_NAMES *gens, int type, const void *data, size_t len)
{
    GENERAL_NAME *gen = GENERAL_NAME_new();
    ASN1_STRING *s = type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
    if (gen == NULL || s == NULL || ASN1_STRING_set(s, data, (int)len) != 1) {
        GENERAL_NAME_free(gen);
        ASN1_STRING_free(s);
        return 0;
    }
    GENERAL_NAME_set0_value(gen, type, s);
    if (sk_GENERAL_NAME_push(gens, gen) <= 0) {
        GENERAL_NAME_free(gen);
        return 0;
    }
    return 1;
}

/* add_sans adds the subjectAltName, or replaces a pooled leaf's in place. SPIFFE X509-SVID 2: "An
 * X.509 SVID MUST contain exactly one URI SAN"; RFC 5280 4.2.1.6: "If the subject field contains an
 * empty sequence, then the issuing CA MUST include a subjectAltName extension that is marked as
 * critical." */
static enum ca_err add_sans(X509 *cert, const struct ca_ids *ids, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    GENERAL_NAMES *gens = GENERAL_NAMES_new();

    ENSURE(gens != NULL, CA_ERR_INTERNAL, "out of memory");
    ENSURE(push_name(gens, GEN_URI, ids->spiffe_id, ids->spiffe_id_len), CA_ERR_INTERNAL,
           "out of memory");
    for (size_t i = 0; i < ids->num_dns; i++) {
        ENSURE(push_name(gens, GEN_DNS, ids->dns[i], ids->dns_len[i]), CA_ERR_INTERNAL,
               "out of memory");
    }
    for (size_t i = 0; i < ids->num_ips; i++) {
        ENSURE(push_name(gens, GEN_IPADD, ids->ip[i], ids->ip_len[i]), CA_ERR_INTERNAL,
               "out of memory");
    }
    OSSL(X509_add1_ext_i2d(cert, NID_subject_alt_name, gens, 1, X509V3_ADD_REPLACE),
         CA_ERR_INTERNAL, "cannot add subjectAltName");
out:
    GENERAL_NAMES_free(gens);
    return rc;
}

/* set_key copies the CSR's key into the certificate as DER pieces: no
 * EVP_PKEY round trip (X509_set_pubkey re-encodes through OSSL_ENCODER and
 * decodes again, about 250 us in OpenSSL 3.0). */
static enum ca_err set_key(X509 *cert, const struct ca_spki *spki, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    unsigned char *key = OPENSSL_memdup(spki->key, spki->key_len);
    int alg = NID_X9_62_id_ecPublicKey;
    int ptype = V_ASN1_OBJECT;
    void *pval = NULL;

    ENSURE(key != NULL, CA_ERR_INTERNAL, "out of memory");
    switch (spki->type) {
        case CA_LEAF_KEY_EC_P256:
            pval = OBJ_nid2obj(NID_X9_62_prime256v1);
            break;
        case CA_LEAF_KEY_EC_P384:
            pval = OBJ_nid2obj(NID_secp384r1);
            break;
        case CA_LEAF_KEY_ED25519:
            /* RFC 8410 3: "the parameters MUST be absent". */
            alg = NID_ED25519;
            ptype = V_ASN1_UNDEF;
            break;
        case CA_LEAF_KEY_RSA:
            /* RFC 3279 2.3.1: the parameters "SHALL be the ASN.1 type NULL". */
            alg = NID_rsaEncryption;
            ptype = V_ASN1_NULL;
            break;
    }
    OSSL(X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(cert), OBJ_nid2obj(alg), ptype, pval, key,
                                (int)spki->key_len),
         CA_ERR_INTERNAL, "cannot set the public key");
    key = NULL; /* taken */
out:
    OPENSSL_free(key);
    return rc;
}

/* add_skid adds the subjectKeyIdentifier, or replaces a pooled leaf's. RFC 5280 4.2.1.2: "For end
 * entity certificates, the subject key identifier extension provides a means for identifying
 * certificates containing the particular public key"; method (1): the SHA-1 of the BIT STRING
 * subjectPublicKey. */
static enum ca_err add_skid(const struct ca_issuer *issuer, X509 *cert, const struct ca_spki *spki,
                            struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    ASN1_OCTET_STRING *skid = ASN1_OCTET_STRING_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    ENSURE(skid != NULL, CA_ERR_INTERNAL, "out of memory");
    OSSL(EVP_Digest(spki->key, spki->key_len, md, &md_len, issuer->sha1, NULL), CA_ERR_INTERNAL,
         "cannot hash the public key");
    OSSL(ASN1_OCTET_STRING_set(skid, md, (int)md_len), CA_ERR_INTERNAL, "out of memory");
    OSSL(X509_add1_ext_i2d(cert, NID_subject_key_identifier, skid, 0, X509V3_ADD_REPLACE),
         CA_ERR_INTERNAL, "cannot add subjectKeyIdentifier");
out:
    ASN1_OCTET_STRING_free(skid);
    return rc;
}

/* Random bytes are drawn RANDOM_BLOCK at a time into a thread-local buffer.
 * A fork handler empties the forking thread's buffer in the child (the only
 * thread there), so parent and child never share bytes; without that handler
 * every call draws directly. */
#define RANDOM_BLOCK (CA_SERIAL_LEN * 16)

static __thread unsigned char tls_random[RANDOM_BLOCK];
static __thread size_t tls_random_left; /* unused bytes, at the end of tls_random */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static int fork_guarded;

static void random_forget(void)
{
    OPENSSL_cleanse(tls_random, sizeof(tls_random));
    tls_random_left = 0;
}

static void fork_guard_init(void)
{
    fork_guarded = pthread_atfork(NULL, NULL, random_forget) == 0;
}

int ca_random_bytes(unsigned char *out, size_t len)
{
    if (len > sizeof(tls_random) || pthread_once(&fork_once, fork_guard_init) != 0 ||
        !fork_guarded) {
        return len <= INT_MAX && RAND_bytes(out, (int)len) == 1;
    }
    if (tls_random_left < len) {
        if (RAND_bytes(tls_random, (int)sizeof(tls_random)) != 1) {
            random_forget();
            return 0;
        }
        tls_random_left = sizeof(tls_random);
    }
    unsigned char *next = tls_random + sizeof(tls_random) - tls_random_left;
    memcpy(out, next, len);
    OPENSSL_cleanse(next, len);
    tls_random_left -= len;
    return 1;
}

/* new_serial draws the serial. RFC 5280 4.1.2.2: "The serial number MUST be a
 * positive integer", at most 20 octets; CA/B BR 7.1: "non-sequential", with
 * "at least 64 bits of output from a CSPRNG". 20 bytes: the wall clock in
 * milliseconds since the epoch (6 bytes, big-endian), then 112 random bits.
 * The time prefix makes serials grow with time, so the store's serial index
 * (and each identity's run of the SPIFFE index) takes appends instead of
 * random inserts: a group commit dirties a few pages instead of one per
 * record. Its first byte is 0x01 until 2039 and below 0x80 for millennia;
 * a clock set before November 2004 would give 0, which becomes 1 so that the
 * INTEGER stays 20 bytes long. */
static enum ca_err new_serial(unsigned char serial[CA_SERIAL_LEN], struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    struct timespec ts;

    ENSURE(clock_gettime(CLOCK_REALTIME, &ts) == 0 && ts.tv_sec >= 0, CA_ERR_INTERNAL,
           "no wall clock");
    uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    for (size_t i = 0; i < CA_SERIAL_TIME_LEN; i++) {
        serial[i] = (unsigned char)(ms >> (8 * (CA_SERIAL_TIME_LEN - 1 - i)));
    }
    serial[0] &= 0x7f;
    if (serial[0] == 0) {
        serial[0] = 1;
    }
    OSSL(ca_random_bytes(serial + CA_SERIAL_TIME_LEN, CA_SERIAL_LEN - CA_SERIAL_TIME_LEN),
         CA_ERR_INTERNAL, "no randomness available");
out:
    return rc;
}

void ca_serial_hex(const unsigned char *serial, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (n > 0 || (serial[i] >> 4) != 0) {
            out[n++] = digits[serial[i] >> 4];
        }
        if (n > 0 || (serial[i] & 0x0f) != 0 || i + 1 == len) {
            out[n++] = digits[serial[i] & 0x0f];
        }
    }
    out[n] = '\0';
}

/* start_signing returns a signing context for the intermediate key and the
 * digest fixed at start-up (ecdsa-with-SHA256 for P-256, SHA-384 for P-384,
 * pure Ed25519, sha256WithRSAEncryption): a copy of the issuer's
 * pre-initialised context when there is one. */
static EVP_MD_CTX *start_signing(const struct ca_issuer *issuer)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    int ok = mctx != NULL &&
             (issuer->sign_ctx != NULL
                  ? EVP_MD_CTX_copy_ex(mctx, issuer->sign_ctx)
                  : EVP_DigestSignInit(mctx, NULL, issuer->sign_md, NULL, issuer->key)) == 1;
    if (!ok) {
        EVP_MD_CTX_free(mctx);
        return NULL;
    }
    return mctx;
}

/* sign_template signs a new leaf template once with X509_sign_ctx, which
 * writes both of its AlgorithmIdentifiers (the TBS's signature field and the
 * outer signatureAlgorithm). OpenSSL has no other setter for the first; a
 * pooled template keeps both, and sign_encode reuses them. */
static enum ca_err sign_template(const struct ca_issuer *issuer, X509 *cert, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    EVP_MD_CTX *mctx = start_signing(issuer);

    ENSURE(mctx != NULL, CA_ERR_INTERNAL, "cannot start signing");
    ENSURE(X509_sign_ctx(cert, mctx) > 0, CA_ERR_INTERNAL, "cannot sign the certificate");
out:
    ERR_clear_error();
    EVP_MD_CTX_free(mctx);
    return rc;
}

/* sign_encode encodes |cert|'s TBSCertificate once, signs those bytes and
 * writes the Certificate (RFC 5280 4.1: SEQUENCE { tbsCertificate,
 * signatureAlgorithm, signatureValue BIT STRING }) around them into |out|.
 * X509_sign_ctx followed by i2d_X509 would encode the TBS twice: OpenSSL does
 * not keep the encoding it signed. The signatureAlgorithm is the template's
 * own (sign_template), the same the TBS names; ASN1_put_object writes the
 * two headers. The X509 keeps its old signature: it is only a template. */
static enum ca_err sign_encode(const struct ca_issuer *issuer, X509 *cert, struct ca_leaf *out,
                               struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    EVP_MD_CTX *mctx = NULL;
    unsigned char *tbs = NULL;
    unsigned char *alg = NULL;
    unsigned char sig[1024]; /* an RSA-8192 signature; ECDSA and Ed25519 need far less */
    size_t sig_len = sizeof(sig);
    const X509_ALGOR *sig_alg = NULL;

    int tbs_len = i2d_re_X509_tbs(cert, &tbs);
    ENSURE(tbs_len > 0, CA_ERR_INTERNAL, "cannot encode the certificate");
    X509_get0_signature(NULL, &sig_alg, cert);
    int alg_len = i2d_X509_ALGOR(sig_alg, &alg);
    ENSURE(alg_len > 0, CA_ERR_INTERNAL, "cannot encode the signature algorithm");
    ENSURE(EVP_PKEY_get_size(issuer->key) <= (int)sizeof(sig), CA_ERR_INTERNAL,
           "signature too long");
    mctx = start_signing(issuer);
    ENSURE(mctx != NULL, CA_ERR_INTERNAL, "cannot start signing");
    OSSL(EVP_DigestSign(mctx, sig, &sig_len, tbs, (size_t)tbs_len), CA_ERR_INTERNAL,
         "cannot sign the certificate");

    /* All three lengths are a few KiB at most: no int overflows. */
    int bits_len = 1 + (int)sig_len; /* no unused bits, then the signature */
    int body_len = tbs_len + alg_len + ASN1_object_size(0, bits_len, V_ASN1_BIT_STRING);
    int der_len = ASN1_object_size(1, body_len, V_ASN1_SEQUENCE);
    ENSURE(der_len > 0, CA_ERR_INTERNAL, "cannot encode the certificate");
    out->der = OPENSSL_malloc((size_t)der_len);
    ENSURE(out->der != NULL, CA_ERR_INTERNAL, "out of memory");
    unsigned char *p = out->der;
    ASN1_put_object(&p, 1, body_len, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
    memcpy(p, tbs, (size_t)tbs_len);
    p += tbs_len;
    memcpy(p, alg, (size_t)alg_len);
    p += alg_len;
    ASN1_put_object(&p, 0, bits_len, V_ASN1_BIT_STRING, V_ASN1_UNIVERSAL);
    *p++ = 0;
    memcpy(p, sig, sig_len);
    p += sig_len;
    ENSURE(p == out->der + der_len, CA_ERR_INTERNAL, "cannot encode the certificate");
    out->der_len = (size_t)der_len;
out:
    ERR_clear_error();
    EVP_MD_CTX_free(mctx);
    OPENSSL_free(tbs);
    OPENSSL_free(alg);
    return rc;
}

/* add_const appends the constant extension |nid| built from the issuer's
 * |value|, which X509_add1_ext_i2d only reads (it encodes it), so threads
 * share it; criticality as the profile sets it. */
static int add_const(X509 *cert, int nid, void *value, int crit)
{
    return X509_add1_ext_i2d(cert, nid, value, crit, X509V3_ADD_APPEND);
}

/* encode_pem fills |out|'s PEM from its DER. The PEM is what PEM_write_bio
 * writes (RFC 7468 2: BEGIN line, base64 in lines of 64 characters, END
 * line), encoded by EVP_EncodeUpdate straight into the output instead of
 * through a memory BIO and a copy. */
static enum ca_err encode_pem(struct ca_leaf *out, struct ca_error *err)
{
    static const char begin[] = "-----BEGIN " PEM_STRING_X509 "-----\n";
    static const char end[] = "-----END " PEM_STRING_X509 "-----\n";
    enum ca_err rc = CA_OK;
    EVP_ENCODE_CTX *ctx = NULL;

    int der_len = (int)out->der_len; /* a few KiB (sign_encode) */
    ctx = EVP_ENCODE_CTX_new();
    ENSURE(ctx != NULL, CA_ERR_INTERNAL, "out of memory");
    /* EVP_ENCODE_LENGTH bounds the base64 and its newlines; der_len is far
     * below INT_MAX / 2, so nothing overflows. */
    size_t cap = sizeof(begin) - 1 + (size_t)EVP_ENCODE_LENGTH(der_len) + sizeof(end);
    out->pem = OPENSSL_malloc(cap);
    ENSURE(out->pem != NULL, CA_ERR_INTERNAL, "out of memory");
    memcpy(out->pem, begin, sizeof(begin) - 1);
    size_t n = sizeof(begin) - 1;
    int body = 0;
    int tail = 0;
    EVP_EncodeInit(ctx);
    OSSL(EVP_EncodeUpdate(ctx, (unsigned char *)out->pem + n, &body, out->der, der_len),
         CA_ERR_INTERNAL, "cannot encode the certificate");
    EVP_EncodeFinal(ctx, (unsigned char *)out->pem + n + (size_t)body, &tail);
    n += (size_t)body + (size_t)tail;
    ENSURE(n + sizeof(end) <= cap, CA_ERR_INTERNAL, "cannot encode the certificate");
    memcpy(out->pem + n, end, sizeof(end)); /* with its NUL */
    out->pem_len = n + sizeof(end) - 1;
out:
    EVP_ENCODE_CTX_free(ctx);
    return rc;
}

enum ca_err ca_leaf_build(const struct ca_issuer *issuer, const struct ca_spki *spki,
                          const struct ca_ids *ids, int64_t now, int64_t not_after,
                          struct ca_leaf *out, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    X509 *cert = NULL;
    struct ca_leaf leaf = {0};

    TRY(new_serial(leaf.serial, err));
    leaf.serial_len = CA_SERIAL_LEN;
    ca_serial_hex(leaf.serial, leaf.serial_len, leaf.serial_hex);
    leaf.not_before = now - BACKDATE_S;
    leaf.not_after = not_after;

    /* X509V3_ADD_REPLACE overwrites a pooled leaf's extension where it
     * stands and appends to a new one, so the order below holds for both. */
    cert = pool_take(issuer->pool);
    int fresh = cert == NULL;
    if (fresh) {
        cert = X509_new();
        ENSURE(cert != NULL, CA_ERR_INTERNAL, "out of memory");
        /* SPIFFE X509-SVID 4 and RFC 5280 4.1.2.1: extensions need version 3. */
        OSSL(X509_set_version(cert, X509_VERSION_3), CA_ERR_INTERNAL, "cannot set version");
        /* The subject stays the empty SEQUENCE X509_new made: the identity
         * is in the SAN alone. The issuer is the intermediate's subject (RFC
         * 5280 4.1.2.4: "MUST contain a non-empty distinguished name"). */
        OSSL(X509_set_issuer_name(cert, X509_get_subject_name(issuer->cert)), CA_ERR_INTERNAL,
             "cannot set issuer");
    }
    OSSL(ASN1_STRING_set(X509_get_serialNumber(cert), leaf.serial, (int)leaf.serial_len),
         CA_ERR_INTERNAL, "cannot set serial");
    ENSURE(ASN1_TIME_set(X509_getm_notBefore(cert), (time_t)leaf.not_before) != NULL &&
               ASN1_TIME_set(X509_getm_notAfter(cert), (time_t)leaf.not_after) != NULL,
           CA_ERR_INTERNAL, "cannot set validity");
    TRY(set_key(cert, spki, err));

    /* Extensions, in the profile's order. Constant ones are encoded from the
     * issuer's values; nothing comes from the CSR. */
    ASN1_BIT_STRING *ku = spki->type == CA_LEAF_KEY_RSA ? issuer->ext_ku_rsa : issuer->ext_ku;
    if (fresh) {
        OSSL(add_const(cert, NID_basic_constraints, issuer->ext_bc, 1), CA_ERR_INTERNAL,
             "cannot add extension");
    }
    OSSL(X509_add1_ext_i2d(cert, NID_key_usage, ku, 1, X509V3_ADD_REPLACE), CA_ERR_INTERNAL,
         "cannot add extension");
    if (fresh) {
        OSSL(add_const(cert, NID_ext_key_usage, issuer->ext_eku, 0), CA_ERR_INTERNAL,
             "cannot add extension");
    }
    TRY(add_sans(cert, ids, err));
    TRY(add_skid(issuer, cert, spki, err));
    if (fresh) {
        OSSL(add_const(cert, NID_authority_key_identifier, issuer->ext_akid, 0), CA_ERR_INTERNAL,
             "cannot add extension");
        OSSL(add_const(cert, NID_info_access, issuer->ext_aia, 0), CA_ERR_INTERNAL,
             "cannot add extension");
        OSSL(add_const(cert, NID_crl_distribution_points, issuer->ext_cdp, 0), CA_ERR_INTERNAL,
             "cannot add extension");
    }

    if (fresh) {
        TRY(sign_template(issuer, cert, err));
    }
    TRY(sign_encode(issuer, cert, &leaf, err));
    TRY(encode_pem(&leaf, err));

    *out = leaf;
    memset(&leaf, 0, sizeof(leaf));
    pool_give(issuer->pool, cert);
    cert = NULL;
out:
    ERR_clear_error();
    ca_leaf_cleanup(&leaf);
    X509_free(cert);
    return rc;
}
