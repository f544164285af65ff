/* csr.c: checks a PKCS#10 certificate request (RFC 2986) from an untrusted
 * workload and hands back only its public key.
 *
 * Order (STYLE.md section 7): size cap, exactly one PEM object, DER structure,
 * key type, signature, then SANs against the authorised identity. The key type
 * comes before the signature because a key we refuse (RSA-1024, P-192, DSA...)
 * is never decoded, let alone used to verify.
 *
 * Why not d2i_X509_REQ: OpenSSL 3.0 decodes the public key eagerly through
 * OSSL_DECODER_CTX_new_for_pkey, which enumerates every decoder under global
 * read-write locks (about 125 us of the 260 us a leaf would cost, and the
 * reason two threads scale badly). OpenSSL's generic DER decoder
 * (d2i_ASN1_SEQUENCE_ANY) splits the request into its three parts without
 * touching the key, the signature is checked over the exact bytes received,
 * and the key is built from a pre-built curve template (about 6 us). All DER
 * decoding is OpenSSL's; this file only says which part is which. */
#include <pthread.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "internal.h"

#define SAN_TEXT_MAX 64 /* how much of a refused SAN a message repeats */

void ca_spki_cleanup(struct ca_spki *spki)
{
    if (spki == NULL) {
        return;
    }
    OPENSSL_free(spki->key);
    spki->key = NULL;
    spki->key_len = 0;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* pem_to_der decodes the one PEM block "CERTIFICATE REQUEST" (or the older
 * "NEW CERTIFICATE REQUEST") that |pem| must hold, with nothing but blank
 * space around it. The caller frees |*out_der| with OPENSSL_free(). */
static enum ca_err pem_to_der(const char *pem, size_t pem_len, unsigned char **out_der,
                              long *out_der_len, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    BIO *bio = NULL;
    char *name = NULL;
    char *header = NULL;
    unsigned char *der = NULL;
    long der_len = 0;
    static const char begin[] = "-----BEGIN ";

    size_t i = 0;
    while (i < pem_len && is_blank(pem[i])) {
        i++;
    }
    /* PEM_read_bio skips any text before a BEGIN line; we do not. */
    ENSURE(pem_len - i >= sizeof(begin) - 1 && memcmp(pem + i, begin, sizeof(begin) - 1) == 0,
           CA_ERR_INVALID_CSR, "CSR is not PEM: text before -----BEGIN");
    bio = BIO_new_mem_buf(pem + i, (int)(pem_len - i)); /* pem_len <= CA_MAX_CSR_LEN */
    ENSURE(bio != NULL, CA_ERR_INTERNAL, "out of memory");
    OSSL(PEM_read_bio(bio, &name, &header, &der, &der_len), CA_ERR_INVALID_CSR,
         "CSR is not a well-formed PEM block");
    ENSURE(strcmp(name, PEM_STRING_X509_REQ) == 0 || strcmp(name, PEM_STRING_X509_REQ_OLD) == 0,
           CA_ERR_INVALID_CSR, "PEM block is not a CERTIFICATE REQUEST");
    ENSURE(header[0] == '\0', CA_ERR_INVALID_CSR, "PEM headers are not allowed in a CSR");
    ENSURE(der_len > 0, CA_ERR_INVALID_CSR, "empty CSR");

    char rest[256];
    int n;
    while ((n = BIO_read(bio, rest, (int)sizeof(rest))) > 0) {
        for (int k = 0; k < n; k++) {
            ENSURE(is_blank(rest[k]), CA_ERR_INVALID_CSR,
                   "CSR must be exactly one PEM object with nothing after it");
        }
    }

    *out_der = der;
    *out_der_len = der_len;
    der = NULL;
out:
    OPENSSL_free(der);
    OPENSSL_free(header);
    OPENSSL_free(name);
    BIO_free(bio);
    return rc;
}

/* Each thread keeps one EC key per curve for CSR signature checks and sets a
 * CSR's point into it: EVP_PKEY_dup of the curve template looks up the key
 * management on every call (about 2% of an issuance). The keys live in
 * thread-local storage, so no other thread sees them, and a pthread key
 * destructor frees them when the thread ends. */
struct thread_keys {
    EVP_PKEY *p256;
    EVP_PKEY *p384;
};

static __thread struct thread_keys tls_keys;
static pthread_key_t keys_key;
static pthread_once_t keys_once = PTHREAD_ONCE_INIT;
static int keys_ready;

static void thread_keys_free(void *arg)
{
    struct thread_keys *keys = arg;
    EVP_PKEY_free(keys->p256);
    EVP_PKEY_free(keys->p384);
    keys->p256 = NULL;
    keys->p384 = NULL;
}

static void thread_keys_init(void)
{
    keys_ready = pthread_key_create(&keys_key, thread_keys_free) == 0;
}

/* ec_key_for returns a key of |tmpl|'s curve holding the encoded point
 * |data|, which OpenSSL refuses unless it is on the curve: this thread's key
 * when thread-local storage is available, else a new duplicate of |tmpl|.
 * The caller frees the result (a new reference either way); NULL means the
 * point is invalid or memory ran out, and |*out_oom| tells which. */
static EVP_PKEY *ec_key_for(EVP_PKEY *tmpl, int p384, const unsigned char *data, size_t len,
                            int *out_oom)
{
    EVP_PKEY **slot = NULL;
    EVP_PKEY *pkey = NULL;

    *out_oom = 0;
    if (pthread_once(&keys_once, thread_keys_init) == 0 && keys_ready &&
        pthread_setspecific(keys_key, &tls_keys) == 0) {
        slot = p384 ? &tls_keys.p384 : &tls_keys.p256;
    }
    if (slot != NULL && *slot == NULL) {
        *slot = EVP_PKEY_dup(tmpl); /* dup only reads the shared template */
    }
    if (slot != NULL && *slot != NULL && EVP_PKEY_up_ref(*slot) == 1) {
        pkey = *slot;
    } else {
        pkey = EVP_PKEY_dup(tmpl);
    }
    if (pkey == NULL) {
        *out_oom = 1;
        return NULL;
    }
    if (EVP_PKEY_set1_encoded_public_key(pkey, data, len) != 1) {
        /* A refused point may leave the key half-set: drop this thread's
         * key so that the next request starts from the template again. */
        if (slot != NULL && *slot == pkey) {
            EVP_PKEY_free(*slot);
            *slot = NULL;
        }
        EVP_PKEY_free(pkey);
        return NULL;
    }
    return pkey;
}

/* decode_key accepts the key types of CONTRACT section 4 and builds an
 * EVP_PKEY for the signature check. The caller frees |*out_pkey|. */
static enum ca_err decode_key(const struct ca_issuer *issuer, const X509_ALGOR *alg,
                              const ASN1_BIT_STRING *bits, enum ca_leaf_key *out_type,
                              EVP_PKEY **out_pkey, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    EVP_PKEY *pkey = NULL;
    const ASN1_OBJECT *aobj = NULL;
    const void *pval = NULL;
    int ptype = V_ASN1_UNDEF;

    X509_ALGOR_get0(&aobj, &ptype, &pval, alg);
    int nid = OBJ_obj2nid(aobj);
    const unsigned char *data = bits->data;
    long len = bits->length;
    if (nid == NID_X9_62_id_ecPublicKey) {
        /* RFC 5480 2.1.1: "namedCurve ... MUST" be used; implicit and
         * specified curves are refused. */
        ENSURE(ptype == V_ASN1_OBJECT, CA_ERR_UNSUPPORTED_KEY, "EC key must name its curve");
        int curve = OBJ_obj2nid(pval);
        EVP_PKEY *tmpl = NULL;
        if (curve == NID_X9_62_prime256v1) {
            tmpl = issuer->ec_p256;
            *out_type = CA_LEAF_KEY_EC_P256;
        } else if (curve == NID_secp384r1) {
            tmpl = issuer->ec_p384;
            *out_type = CA_LEAF_KEY_EC_P384;
        }
        if (tmpl == NULL) {
            const char *name = EC_curve_nid2nist(curve);
            if (name == NULL) {
                name = curve == NID_undef ? "unknown" : OBJ_nid2sn(curve);
            }
            rc = ca_fail(err, CA_ERR_UNSUPPORTED_KEY,
                         "EC curve %s not accepted (P-256 and P-384 are)", name);
            goto out;
        }
        /* EC_POINT_oct2point underneath refuses a point not on the curve. */
        int oom = 0;
        pkey = ec_key_for(tmpl, curve == NID_secp384r1, data, (size_t)len, &oom);
        ENSURE(pkey != NULL || !oom, CA_ERR_INTERNAL, "out of memory");
        ENSURE(pkey != NULL, CA_ERR_INVALID_CSR, "CSR holds an invalid EC public key");
    } else if (nid == NID_ED25519) {
        /* RFC 8410 3: "the parameters MUST be absent". */
        ENSURE(ptype == V_ASN1_UNDEF, CA_ERR_INVALID_CSR, "Ed25519 key with parameters");
        pkey = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, data, (size_t)len);
        ENSURE(pkey != NULL, CA_ERR_INVALID_CSR, "CSR holds an invalid Ed25519 public key");
        *out_type = CA_LEAF_KEY_ED25519;
    } else if (nid == NID_rsaEncryption) {
        /* RFC 3279 2.3.1: "the parameters component of that type SHALL be
         * the ASN.1 type NULL". */
        ENSURE(ptype == V_ASN1_NULL || ptype == V_ASN1_UNDEF, CA_ERR_INVALID_CSR,
               "RSA key with parameters");
        const unsigned char *p = data;
        pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, len);
        ENSURE(pkey != NULL && p == data + len, CA_ERR_INVALID_CSR,
               "CSR holds an invalid RSA public key");
        int nbits = EVP_PKEY_get_bits(pkey);
        ENSURE(nbits >= 2048, CA_ERR_UNSUPPORTED_KEY, "RSA key of %d bits: at least 2048 required",
               nbits);
        ENSURE(nbits <= 8192, CA_ERR_UNSUPPORTED_KEY, "RSA key of %d bits: at most 8192 accepted",
               nbits);
        TRY(ca_key_rsa_exponent_check(pkey, err));
        *out_type = CA_LEAF_KEY_RSA;
    } else {
        const char *name = nid == NID_undef ? "unknown" : OBJ_nid2sn(nid);
        rc = ca_fail(err, CA_ERR_UNSUPPORTED_KEY,
                     "public key algorithm %s not accepted (EC P-256, P-384, Ed25519, RSA "
                     "2048-8192 are)",
                     name);
        goto out;
    }

    *out_pkey = pkey;
    pkey = NULL;
out:
    ERR_clear_error();
    EVP_PKEY_free(pkey);
    return rc;
}

/* verify_signature checks the CSR's self-signature over the exact
 * CertificationRequestInfo bytes received (RFC 2986 4.2), with a digest the
 * signature algorithm names and that suits the key. */
static enum ca_err verify_signature(const struct ca_issuer *issuer, const X509_ALGOR *sigalg,
                                    const ASN1_BIT_STRING *sig, const unsigned char *tbs,
                                    long tbs_len, enum ca_leaf_key type, EVP_PKEY *pkey,
                                    struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    EVP_MD_CTX *mctx = NULL;
    const ASN1_OBJECT *aobj = NULL;
    int ptype = V_ASN1_UNDEF;
    int md_nid = NID_undef;
    int pk_nid = NID_undef;

    X509_ALGOR_get0(&aobj, &ptype, NULL, sigalg);
    ENSURE(OBJ_find_sigid_algs(OBJ_obj2nid(aobj), &md_nid, &pk_nid) == 1, CA_ERR_INVALID_CSR,
           "CSR signature algorithm not recognised");
    int want_pk = type == CA_LEAF_KEY_RSA       ? NID_rsaEncryption
                  : type == CA_LEAF_KEY_ED25519 ? NID_ED25519
                                                : NID_X9_62_id_ecPublicKey;
    ENSURE(pk_nid == want_pk, CA_ERR_INVALID_CSR,
           "CSR signature algorithm does not match its key type");
    const EVP_MD *md = NULL;
    if (type == CA_LEAF_KEY_ED25519) {
        ENSURE(md_nid == NID_undef && ptype == V_ASN1_UNDEF, CA_ERR_INVALID_CSR,
               "CSR signature algorithm not accepted");
    } else {
        md = md_nid == NID_sha256   ? issuer->sha256
             : md_nid == NID_sha384 ? issuer->sha384
             : md_nid == NID_sha512 ? issuer->sha512
                                    : NULL;
        ENSURE(md != NULL, CA_ERR_INVALID_CSR,
               "CSR signature algorithm not accepted (SHA-256, SHA-384 or SHA-512 only)");
    }
    mctx = EVP_MD_CTX_new();
    ENSURE(mctx != NULL, CA_ERR_INTERNAL, "out of memory");
    OSSL(EVP_DigestVerifyInit(mctx, NULL, md, NULL, pkey), CA_ERR_INVALID_CSR,
         "CSR signature cannot be checked");
    OSSL(EVP_DigestVerify(mctx, sig->data, (size_t)sig->length, tbs, (size_t)tbs_len),
         CA_ERR_INVALID_CSR, "CSR signature does not verify");
out:
    EVP_MD_CTX_free(mctx);
    return rc;
}

/* printable copies up to SAN_TEXT_MAX bytes of |in| for a message, with '?'
 * for anything but printable ASCII. */
static void printable(char *out, size_t out_len, const unsigned char *in, int in_len)
{
    size_t n = 0;
    for (int i = 0; i < in_len && n + 4 < out_len; i++) {
        out[n++] = (in[i] >= 0x20 && in[i] < 0x7f) ? (char)in[i] : '?';
    }
    if (in_len > 0 && (size_t)in_len > n) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

static int ascii_case_eq(const unsigned char *a, const char *b, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char x = a[i];
        unsigned char y = (unsigned char)b[i];
        x = (x >= 'A' && x <= 'Z') ? (unsigned char)(x + 32) : x;
        y = (y >= 'A' && y <= 'Z') ? (unsigned char)(y + 32) : y;
        if (x != y) {
            return 0;
        }
    }
    return 1;
}

/* check_san accepts one SAN only when |ids| covers it. */
static enum ca_err check_san(const GENERAL_NAME *gen, const struct ca_ids *ids,
                             struct ca_error *err)
{
    char text[SAN_TEXT_MAX + 4];
    int type = -1;
    const ASN1_STRING *s = GENERAL_NAME_get0_value(gen, &type);

    switch (type) {
        case GEN_URI:
            if ((size_t)s->length == ids->spiffe_id_len &&
                memcmp(s->data, ids->spiffe_id, ids->spiffe_id_len) == 0) {
                return CA_OK;
            }
            printable(text, sizeof(text), s->data, s->length);
            return ca_fail(err, CA_ERR_FORBIDDEN_SAN,
                           "CSR asks for URI SAN %s, which is not the authorised SPIFFE ID", text);
        case GEN_DNS:
            for (size_t i = 0; i < ids->num_dns; i++) {
                if ((size_t)s->length == ids->dns_len[i] &&
                    ascii_case_eq(s->data, ids->dns[i], ids->dns_len[i])) {
                    return CA_OK;
                }
            }
            printable(text, sizeof(text), s->data, s->length);
            return ca_fail(err, CA_ERR_FORBIDDEN_SAN,
                           "CSR asks for DNS SAN %s, which the identity does not cover", text);
        case GEN_IPADD:
            for (size_t i = 0; i < ids->num_ips; i++) {
                if ((size_t)s->length == ids->ip_len[i] &&
                    memcmp(s->data, ids->ip[i], ids->ip_len[i]) == 0) {
                    return CA_OK;
                }
            }
            return ca_fail(err, CA_ERR_FORBIDDEN_SAN,
                           "CSR asks for an IP address SAN the identity does not cover");
        case GEN_EMAIL:
            printable(text, sizeof(text), s->data, s->length);
            return ca_fail(err, CA_ERR_FORBIDDEN_SAN, "CSR asks for email SAN %s: not allowed",
                           text);
        default:
            return ca_fail(err, CA_ERR_FORBIDDEN_SAN,
                           "CSR asks for a SAN of type %d (not URI, DNS or IP): not allowed", type);
    }
}

/* check_extensions reads the SANs of one extensionRequest (RFC 2985 5.4.2)
 * and ignores every other requested extension: none is ever copied. */
static enum ca_err check_extensions(const ASN1_TYPE *value, const struct ca_ids *ids,
                                    struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    GENERAL_NAMES *gens = NULL;

    ENSURE(value != NULL && value->type == V_ASN1_SEQUENCE, CA_ERR_INVALID_CSR,
           "malformed extensionRequest");
    const unsigned char *der = value->value.sequence->data;
    long len = value->value.sequence->length;
    const unsigned char *p = der;
    exts = d2i_X509_EXTENSIONS(NULL, &p, len);
    ENSURE(exts != NULL && p == der + len, CA_ERR_INVALID_CSR, "malformed extensionRequest");
    for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
        X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, i);
        if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name) {
            continue;
        }
        gens = X509V3_EXT_d2i(ext);
        ENSURE(gens != NULL, CA_ERR_INVALID_CSR, "malformed subjectAltName in CSR");
        ENSURE(sk_GENERAL_NAME_num(gens) <= 2 * CA_MAX_SANS + 1, CA_ERR_INVALID_CSR,
               "CSR lists too many SANs");
        for (int k = 0; k < sk_GENERAL_NAME_num(gens); k++) {
            TRY(check_san(sk_GENERAL_NAME_value(gens, k), ids, err));
        }
        GENERAL_NAMES_free(gens);
        gens = NULL;
    }
out:
    ERR_clear_error();
    GENERAL_NAMES_free(gens);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return rc;
}

/* check_attributes walks the [0] IMPLICIT SET OF Attribute of the request
 * (RFC 2986 4.1), element |i| of |info|, and checks the SANs of each
 * extensionRequest in it. */
static enum ca_err check_attributes(const ASN1_SEQUENCE_ANY *info, int i, const struct ca_ids *ids,
                                    struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    X509_ATTRIBUTE *attr = NULL;
    long len = 0;
    const unsigned char *p = ca_der_tagged(info, i, 0, &len);

    ENSURE(p != NULL, CA_ERR_INVALID_CSR, "CSR attributes malformed");
    const unsigned char *end = p + len;
    while (p < end) {
        attr = d2i_X509_ATTRIBUTE(NULL, &p, end - p);
        ENSURE(attr != NULL, CA_ERR_INVALID_CSR, "CSR attribute malformed");
        int nid = OBJ_obj2nid(X509_ATTRIBUTE_get0_object(attr));
        if (nid == NID_ext_req || nid == NID_ms_ext_req) {
            ENSURE(X509_ATTRIBUTE_count(attr) == 1, CA_ERR_INVALID_CSR,
                   "extensionRequest must hold one value");
            TRY(check_extensions(X509_ATTRIBUTE_get0_type(attr, 0), ids, err));
        }
        X509_ATTRIBUTE_free(attr);
        attr = NULL;
    }
out:
    ERR_clear_error();
    X509_ATTRIBUTE_free(attr);
    return rc;
}

enum ca_err ca_csr_check(const struct ca_issuer *issuer, const char *pem, size_t pem_len,
                         const struct ca_ids *ids, struct ca_spki *out, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    unsigned char *der = NULL;
    long der_len = 0;
    ASN1_SEQUENCE_ANY *req = NULL;
    ASN1_SEQUENCE_ANY *info = NULL;
    ASN1_SEQUENCE_ANY *spki = NULL;
    X509_ALGOR *sigalg = NULL;
    X509_ALGOR *keyalg = NULL;
    EVP_PKEY *pkey = NULL;
    enum ca_leaf_key type = CA_LEAF_KEY_EC_P256;

    ENSURE(pem != NULL && pem_len > 0 && pem_len <= CA_MAX_CSR_LEN, CA_ERR_INVALID_CSR,
           "CSR must be 1..%d bytes", CA_MAX_CSR_LEN);
    TRY(pem_to_der(pem, pem_len, &der, &der_len, err));

    /* RFC 2986 4.2: CertificationRequest ::= SEQUENCE { certificationRequestInfo,
     * signatureAlgorithm, signature BIT STRING } */
    req = ca_der_split(der, der_len, 3);
    ENSURE(req != NULL, CA_ERR_INVALID_CSR, "CSR is not a PKCS#10 certificate request");
    long tbs_len = 0;
    const unsigned char *tbs = ca_der_seq(req, 0, &tbs_len);
    sigalg = ca_der_algor(req, 1);
    const ASN1_BIT_STRING *sig = ca_der_bits(req, 2);
    ENSURE(tbs != NULL && sigalg != NULL && sig != NULL, CA_ERR_INVALID_CSR,
           "CSR is not a PKCS#10 certificate request");

    /* RFC 2986 4.1: CertificationRequestInfo ::= SEQUENCE { version INTEGER
     * { v1(0) }, subject Name, subjectPKInfo, attributes [0] Attributes } */
    info = ca_der_split(tbs, tbs_len, 4);
    ENSURE(info != NULL, CA_ERR_INVALID_CSR, "CSR request info malformed");
    const ASN1_TYPE *version = sk_ASN1_TYPE_value(info, 0);
    ENSURE(version->type == V_ASN1_INTEGER && ASN1_INTEGER_get(version->value.integer) == 0,
           CA_ERR_INVALID_CSR, "CSR version must be v1 (0)");
    long spki_len = 0;
    const unsigned char *spki_der = ca_der_seq(info, 2, &spki_len);
    ENSURE(sk_ASN1_TYPE_value(info, 1)->type == V_ASN1_SEQUENCE && spki_der != NULL,
           CA_ERR_INVALID_CSR, "CSR request info malformed");

    /* RFC 5280 4.1: SubjectPublicKeyInfo ::= SEQUENCE { algorithm, subjectPublicKey } */
    spki = ca_der_split(spki_der, spki_len, 2);
    ENSURE(spki != NULL, CA_ERR_INVALID_CSR, "CSR public key malformed");
    keyalg = ca_der_algor(spki, 0);
    const ASN1_BIT_STRING *key = ca_der_bits(spki, 1);
    ENSURE(keyalg != NULL && key != NULL && key->length > 0, CA_ERR_INVALID_CSR,
           "CSR public key malformed");

    TRY(decode_key(issuer, keyalg, key, &type, &pkey, err));
    TRY(verify_signature(issuer, sigalg, sig, tbs, tbs_len, type, pkey, err));
    TRY(check_attributes(info, 3, ids, err));

    out->key = OPENSSL_memdup(key->data, (size_t)key->length);
    ENSURE(out->key != NULL, CA_ERR_INTERNAL, "out of memory");
    out->key_len = (size_t)key->length;
    out->type = type;
out:
    ERR_clear_error();
    EVP_PKEY_free(pkey);
    X509_ALGOR_free(keyalg);
    X509_ALGOR_free(sigalg);
    ca_der_split_free(spki);
    ca_der_split_free(info);
    ca_der_split_free(req);
    OPENSSL_free(der);
    return rc;
}

enum ca_err ca_spki_from_pkey(EVP_PKEY *pub, struct ca_spki *out, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    unsigned char *buf = NULL;
    size_t len = 0;

    ENSURE(pub != NULL, CA_ERR_INVALID_ARGUMENT, "public key missing");
    if (EVP_PKEY_is_a(pub, "EC")) {
        char group[64];
        size_t group_len = 0;
        OSSL(EVP_PKEY_get_group_name(pub, group, sizeof(group), &group_len), CA_ERR_UNSUPPORTED_KEY,
             "EC key without a named curve");
        int nid = OBJ_sn2nid(group);
        if (nid == NID_undef) {
            nid = EC_curve_nist2nid(group);
        }
        ENSURE(nid == NID_X9_62_prime256v1 || nid == NID_secp384r1, CA_ERR_UNSUPPORTED_KEY,
               "EC curve %s not accepted (P-256 and P-384 are)", group);
        out->type = nid == NID_secp384r1 ? CA_LEAF_KEY_EC_P384 : CA_LEAF_KEY_EC_P256;
        len = EVP_PKEY_get1_encoded_public_key(pub, &buf);
        ENSURE(len > 0, CA_ERR_INVALID_KEY, "EC public key cannot be encoded");
    } else if (EVP_PKEY_is_a(pub, "ED25519")) {
        OSSL(EVP_PKEY_get_raw_public_key(pub, NULL, &len), CA_ERR_INVALID_KEY,
             "Ed25519 public key cannot be encoded");
        buf = OPENSSL_malloc(len);
        ENSURE(buf != NULL, CA_ERR_INTERNAL, "out of memory");
        OSSL(EVP_PKEY_get_raw_public_key(pub, buf, &len), CA_ERR_INVALID_KEY,
             "Ed25519 public key cannot be encoded");
        out->type = CA_LEAF_KEY_ED25519;
    } else if (EVP_PKEY_is_a(pub, "RSA")) {
        int nbits = EVP_PKEY_get_bits(pub);
        ENSURE(nbits >= 2048 && nbits <= 8192, CA_ERR_UNSUPPORTED_KEY,
               "RSA key of %d bits: 2048..8192 required", nbits);
        int n = i2d_PublicKey(pub, &buf);
        ENSURE(n > 0, CA_ERR_INVALID_KEY, "RSA public key cannot be encoded");
        len = (size_t)n;
        out->type = CA_LEAF_KEY_RSA;
    } else {
        rc = ca_fail(err, CA_ERR_UNSUPPORTED_KEY, "key type %s not accepted",
                     EVP_PKEY_get0_type_name(pub) ? EVP_PKEY_get0_type_name(pub) : "unknown");
        goto out;
    }
    out->key = buf;
    out->key_len = len;
    buf = NULL;
out:
    ERR_clear_error();
    OPENSSL_free(buf);
    return rc;
}
