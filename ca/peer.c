/* peer.c: ca_issuer_verify_peer, the check of a client certificate that
 * starts every renewal, every revocation by the certificate itself and every
 * admin request.
 *
 * Why not d2i_X509 and X509_verify_cert: d2i_X509 decodes the certificate's
 * public key eagerly through OSSL_DECODER_CTX_new_for_pkey (as d2i_X509_REQ
 * would, see csr.c), a key a renewal never uses, and X509_verify_cert builds
 * a chain whose only possible shape is known in advance. Together they cost
 * about 190 CPU-us per certificate on one thread and 240 on two
 * (`bench_ca_issue 3 peer`), twice a whole issuance.
 *
 * A certificate we accept must be signed by this very intermediate, which
 * start-up verified against the roots. So: split the DER with OpenSSL's
 * generic decoder (ca_der_split), check the signature over the exact
 * TBSCertificate bytes with the intermediate's public key, then read what a
 * renewal needs (serial, validity, extensions) from those signed bytes. The
 * TBSCertificate must have the shape this CA issues (RFC 5280 4.1: v3,
 * extensions, no unique identifiers). Nothing of a certificate that another
 * key signed is decoded beyond that split: not its extensions, whose walk
 * (and the repeated-extension check, quadratic in their number) only our own
 * certificates reach. All DER decoding is OpenSSL's. */
#include <string.h>

#include <openssl/x509v3.h>

#include "internal.h"

#define MAX_PEER_DER (64 * 1024)

/* RFC 5280 4.1.1.1 TBSCertificate, as this CA issues it. */
enum {
    TBS_VERSION,
    TBS_SERIAL,
    TBS_SIGNATURE,
    TBS_ISSUER,
    TBS_VALIDITY,
    TBS_SUBJECT,
    TBS_SPKI,
    TBS_EXTENSIONS,
    TBS_NUM
};

/* What a peer's extensions say, for the checks that follow. */
struct peer_exts {
    int ca;               /* basicConstraints cA TRUE */
    int has_ku;           /* keyUsage present ... */
    int ku_client;        /* ... with digitalSignature or keyAgreement */
    int has_eku;          /* extKeyUsage present ... */
    int eku_client;       /* ... naming clientAuth */
    int has_ns;           /* Netscape certificate type present ... */
    int ns_client;        /* ... with its SSL client bit */
    int unknown_critical; /* a critical extension none of the above */
    GENERAL_NAMES *san;
};

static void peer_exts_cleanup(struct peer_exts *x)
{
    GENERAL_NAMES_free(x->san);
    memset(x, 0, sizeof(*x));
}

/* read_extension records what one extension says; |x| owns what it keeps. */
static enum ca_err read_extension(X509_EXTENSION *ext, struct peer_exts *x, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    BASIC_CONSTRAINTS *bc = NULL;
    ASN1_BIT_STRING *ku = NULL;
    EXTENDED_KEY_USAGE *eku = NULL;
    ASN1_BIT_STRING *ns = NULL;

    switch (OBJ_obj2nid(X509_EXTENSION_get_object(ext))) {
        case NID_basic_constraints:
            bc = X509V3_EXT_d2i(ext);
            ENSURE(bc != NULL, CA_ERR_INVALID_CERT, "certificate basicConstraints malformed");
            x->ca = bc->ca != 0;
            break;
        case NID_key_usage:
            ku = X509V3_EXT_d2i(ext);
            ENSURE(ku != NULL, CA_ERR_INVALID_CERT, "certificate keyUsage malformed");
            x->has_ku = 1;
            /* RFC 5280 4.2.1.3 bits: digitalSignature (0), keyAgreement (4). */
            x->ku_client = ASN1_BIT_STRING_get_bit(ku, 0) || ASN1_BIT_STRING_get_bit(ku, 4);
            break;
        case NID_ext_key_usage:
            eku = X509V3_EXT_d2i(ext);
            ENSURE(eku != NULL, CA_ERR_INVALID_CERT, "certificate extKeyUsage malformed");
            x->has_eku = 1;
            for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
                x->eku_client |= OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == NID_client_auth;
            }
            break;
        case NID_netscape_cert_type:
            /* Never issued here; OpenSSL's SSL client purpose honours it. */
            ns = X509V3_EXT_d2i(ext);
            ENSURE(ns != NULL, CA_ERR_INVALID_CERT, "certificate nsCertType malformed");
            x->has_ns = 1;
            x->ns_client = ASN1_BIT_STRING_get_bit(ns, 0);
            break;
        case NID_subject_alt_name:
            x->san = X509V3_EXT_d2i(ext);
            ENSURE(x->san != NULL, CA_ERR_INVALID_CERT, "certificate subjectAltName malformed");
            break;
        default:
            x->unknown_critical |= X509_EXTENSION_get_critical(ext) != 0;
            break;
    }
out:
    ERR_clear_error();
    BASIC_CONSTRAINTS_free(bc);
    ASN1_BIT_STRING_free(ku);
    EXTENDED_KEY_USAGE_free(eku);
    ASN1_BIT_STRING_free(ns);
    return rc;
}

/* read_extensions decodes the [3] EXPLICIT Extensions of |tbs|; an extension
 * that appears twice makes the certificate invalid (RFC 5280 4.2). */
static enum ca_err read_extensions(const ASN1_SEQUENCE_ANY *tbs, struct peer_exts *x,
                                   struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    long len = 0;
    const unsigned char *der = ca_der_tagged(tbs, TBS_EXTENSIONS, 3, &len);

    ENSURE(der != NULL, CA_ERR_INVALID_CERT, "certificate extensions malformed");
    const unsigned char *p = der;
    exts = d2i_X509_EXTENSIONS(NULL, &p, len);
    ENSURE(exts != NULL && p == der + len, CA_ERR_INVALID_CERT, "certificate extensions malformed");
    for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
        X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, i);
        for (int k = 0; k < i; k++) {
            ENSURE(OBJ_cmp(X509_EXTENSION_get_object(ext),
                           X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts, k))) != 0,
                   CA_ERR_INVALID_CERT, "certificate repeats an extension");
        }
        TRY(read_extension(ext, x, err));
    }
out:
    ERR_clear_error();
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return rc;
}

/* check_signature verifies |sig| over the exact |tbs| bytes with the
 * intermediate's public key and the algorithm it signs leaves with; a
 * certificate of any other CA (or of no CA) fails here. */
static enum ca_err check_signature(const struct ca_issuer *issuer, const unsigned char *tbs,
                                   long tbs_len, const ASN1_BIT_STRING *sig, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();

    ENSURE(mctx != NULL, CA_ERR_INTERNAL, "out of memory");
    if (issuer->verify_ctx != NULL) {
        OSSL(EVP_MD_CTX_copy_ex(mctx, issuer->verify_ctx), CA_ERR_INTERNAL,
             "cannot start verification");
    } else {
        OSSL(
            EVP_DigestVerifyInit(mctx, NULL, issuer->sign_md, NULL, X509_get0_pubkey(issuer->cert)),
            CA_ERR_INTERNAL, "cannot start verification");
    }
    OSSL(EVP_DigestVerify(mctx, sig->data, (size_t)sig->length, tbs, (size_t)tbs_len),
         CA_ERR_UNTRUSTED_CERT, "not issued by this CA");
out:
    EVP_MD_CTX_free(mctx);
    return rc;
}

/* check_validity reads the leaf's dates and checks them, and the
 * intermediate's, against |now| (RFC 5280 6.1.3 (a)(2)). */
static enum ca_err check_validity(const struct ca_issuer *issuer, const ASN1_SEQUENCE_ANY *tbs,
                                  int64_t now, struct ca_peer *out, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    ASN1_SEQUENCE_ANY *validity = NULL;
    long len = 0;
    const unsigned char *der = ca_der_seq(tbs, TBS_VALIDITY, &len);

    validity = der != NULL ? ca_der_split(der, len, 2) : NULL;
    ENSURE(validity != NULL, CA_ERR_INVALID_CERT, "validity dates unreadable");
    for (int i = 0; i < 2; i++) {
        const ASN1_TYPE *t = sk_ASN1_TYPE_value(validity, i);
        int64_t *at = i == 0 ? &out->not_before : &out->not_after;
        ENSURE(t->type == V_ASN1_UTCTIME || t->type == V_ASN1_GENERALIZEDTIME, CA_ERR_INVALID_CERT,
               "validity dates unreadable");
        *at = ca_time_unix(t->value.asn1_string);
    }
    ENSURE(out->not_before != 0 && out->not_after > out->not_before, CA_ERR_INVALID_CERT,
           "validity dates unreadable");
    ENSURE(now >= out->not_before, CA_ERR_UNTRUSTED_CERT, "certificate not yet valid");
    ENSURE(now < out->not_after, CA_ERR_UNTRUSTED_CERT, "certificate expired");
    ENSURE(now >= issuer->not_before, CA_ERR_UNTRUSTED_CERT,
           "issuing CA certificate not yet valid");
    ENSURE(now < issuer->not_after, CA_ERR_UNTRUSTED_CERT, "issuing CA certificate expired");
out:
    ca_der_split_free(validity);
    return rc;
}

/* read_names reads the SANs: SPIFFE X509-SVID 2 "MUST contain exactly one URI
 * SAN", a valid SPIFFE ID of our trust domain; DNS names are copied. */
static enum ca_err read_names(const struct ca_issuer *issuer, const GENERAL_NAMES *gens,
                              struct ca_peer *out, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    size_t num_uris = 0;

    ENSURE(gens != NULL, CA_ERR_UNTRUSTED_CERT, "certificate has no subjectAltName");
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        int type = -1;
        const ASN1_STRING *s = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(gens, i), &type);
        if (type != GEN_URI && type != GEN_DNS) {
            continue; /* |s| is no string for a directoryName or otherName */
        }
        size_t len = (size_t)ASN1_STRING_length(s);
        if (type == GEN_URI) {
            struct ca_error why = {0};
            num_uris++;
            ENSURE(num_uris == 1, CA_ERR_UNTRUSTED_CERT, "certificate has more than one URI SAN");
            if (ca_spiffe_id_check((const char *)ASN1_STRING_get0_data(s), len,
                                   issuer->policy.trust_domain, &why) != CA_OK) {
                rc = ca_fail(err, CA_ERR_UNTRUSTED_CERT, "not an X.509-SVID: %s", why.msg);
                goto out;
            }
            memcpy(out->spiffe_id, ASN1_STRING_get0_data(s), len);
            out->spiffe_id[len] = '\0';
        } else {
            ENSURE(out->num_dns_names < CA_MAX_SANS && len > 0 && len <= CA_MAX_DNS_NAME_LEN &&
                       memchr(ASN1_STRING_get0_data(s), '\0', len) == NULL,
                   CA_ERR_UNTRUSTED_CERT, "certificate DNS names too many or too long");
            memcpy(out->dns_names[out->num_dns_names], ASN1_STRING_get0_data(s), len);
            out->dns_names[out->num_dns_names][len] = '\0';
            out->num_dns_names++;
        }
    }
    ENSURE(num_uris == 1, CA_ERR_UNTRUSTED_CERT, "not an X.509-SVID: no URI SAN");
out:
    return rc;
}

/* read_serial copies the serial, which must be a positive INTEGER of at most
 * 20 bytes (RFC 5280 4.1.2.2). */
static enum ca_err read_serial(const ASN1_SEQUENCE_ANY *tbs, struct ca_peer *out,
                               struct ca_error *err)
{
    const ASN1_TYPE *t = sk_ASN1_TYPE_value(tbs, TBS_SERIAL);
    if (t->type != V_ASN1_INTEGER || ASN1_STRING_type(t->value.integer) != V_ASN1_INTEGER) {
        return ca_fail(err, CA_ERR_UNTRUSTED_CERT,
                       "certificate serial is not a positive integer of at most 20 bytes");
    }
    const unsigned char *data = ASN1_STRING_get0_data(t->value.integer);
    size_t len = (size_t)ASN1_STRING_length(t->value.integer);
    while (len > 1 && data[0] == 0) {
        data++;
        len--;
    }
    if (len == 0 || len > sizeof(out->serial) || data[0] == 0) {
        return ca_fail(err, CA_ERR_UNTRUSTED_CERT,
                       "certificate serial is not a positive integer of at most 20 bytes");
    }
    memcpy(out->serial, data, len);
    out->serial_len = len;
    ca_serial_hex(data, len, out->serial_hex);
    return CA_OK;
}

enum ca_err ca_issuer_verify_peer(const struct ca_issuer *issuer, const unsigned char *der,
                                  size_t der_len, int64_t now, struct ca_peer *out,
                                  struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    ASN1_SEQUENCE_ANY *cert = NULL;
    ASN1_SEQUENCE_ANY *tbs = NULL;
    struct peer_exts x = {0};
    static const unsigned char v3[] = {0x02, 0x01, 0x02}; /* INTEGER 2 */

    ENSURE(issuer != NULL && out != NULL, CA_ERR_INVALID_ARGUMENT, "issuer or output missing");
    memset(out, 0, sizeof(*out));
    ENSURE(der != NULL && der_len > 0 && der_len <= MAX_PEER_DER, CA_ERR_INVALID_CERT,
           "certificate must be 1..%d bytes", MAX_PEER_DER);

    /* RFC 5280 4.1: Certificate ::= SEQUENCE { tbsCertificate,
     * signatureAlgorithm, signatureValue BIT STRING } */
    const unsigned char *p = der;
    long len = 0;
    int tag = 0;
    int xclass = 0;
    int ret = ASN1_get_object(&p, &len, &tag, &xclass, (long)der_len);
    ENSURE(ret == V_ASN1_CONSTRUCTED && tag == V_ASN1_SEQUENCE && xclass == V_ASN1_UNIVERSAL,
           CA_ERR_INVALID_CERT, "not a DER certificate");
    ENSURE(p + len == der + der_len, CA_ERR_INVALID_CERT, "trailing bytes after the certificate");
    cert = ca_der_split(der, (long)der_len, 3);
    ENSURE(cert != NULL, CA_ERR_INVALID_CERT, "not a DER certificate");
    long tbs_len = 0;
    long alg_len = 0;
    long inner_alg_len = 0;
    const unsigned char *tbs_der = ca_der_seq(cert, 0, &tbs_len);
    const unsigned char *alg = ca_der_seq(cert, 1, &alg_len);
    const ASN1_BIT_STRING *sig = ca_der_bits(cert, 2);
    ENSURE(tbs_der != NULL && alg != NULL && sig != NULL, CA_ERR_INVALID_CERT,
           "not a DER certificate");
    tbs = ca_der_split(tbs_der, tbs_len, TBS_NUM);
    ENSURE(tbs != NULL, CA_ERR_UNTRUSTED_CERT, "not issued by this CA (not a v3 X.509-SVID)");
    const unsigned char *version = ca_der_tagged(tbs, TBS_VERSION, 0, &len);
    ENSURE(version != NULL && len == (long)sizeof(v3) && memcmp(version, v3, sizeof(v3)) == 0,
           CA_ERR_UNTRUSTED_CERT, "not issued by this CA (not a v3 X.509-SVID)");
    /* RFC 5280 4.1.1.2: the signed algorithm identifier equals the outer one. */
    const unsigned char *inner_alg = ca_der_seq(tbs, TBS_SIGNATURE, &inner_alg_len);
    ENSURE(inner_alg != NULL && inner_alg_len == alg_len && memcmp(inner_alg, alg, alg_len) == 0,
           CA_ERR_INVALID_CERT, "certificate signature algorithms disagree");
    const unsigned char *issuer_name = ca_der_seq(tbs, TBS_ISSUER, &len);
    ENSURE(issuer_name != NULL && len == (long)issuer->subject_der_len &&
               memcmp(issuer_name, issuer->subject_der, issuer->subject_der_len) == 0,
           CA_ERR_UNTRUSTED_CERT, "not issued by this CA");
    TRY(check_signature(issuer, tbs_der, tbs_len, sig, err));

    /* From here on, every byte read was signed by this intermediate: bytes
     * from anyone else reach only the DER split and the signature check. */
    TRY(read_extensions(tbs, &x, err));
    /* SPIFFE X509-SVID 4.1: "Leaf certificates MUST set the cA field to false." */
    ENSURE(!x.ca, CA_ERR_UNTRUSTED_CERT, "a CA certificate is not a workload certificate");
    /* As X509_verify_cert: a critical extension not understood refuses it. */
    ENSURE(!x.unknown_critical, CA_ERR_UNTRUSTED_CERT,
           "certificate has an unsupported critical extension");
    TRY(check_validity(issuer, tbs, now, out, err));
    /* As X509_check_purpose(X509_PURPOSE_SSL_CLIENT) for a leaf. */
    ENSURE((!x.has_eku || x.eku_client) && (!x.has_ku || x.ku_client) && (!x.has_ns || x.ns_client),
           CA_ERR_UNTRUSTED_CERT, "certificate is not for client authentication");
    TRY(read_names(issuer, x.san, out, err));
    TRY(read_serial(tbs, out, err));
out:
    ERR_clear_error();
    if (rc != CA_OK && out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    peer_exts_cleanup(&x);
    ca_der_split_free(tbs);
    ca_der_split_free(cert);
    return rc;
}
