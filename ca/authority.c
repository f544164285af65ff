/* authority.c: the root and intermediate profiles of CONTRACT section 4, made
 * offline by `signet root init`, `intermediate init` and `root sign-intermediate`.
 * Every extension is built here from our own inputs: nothing is copied from a
 * CSR but its public key. */
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "internal.h"

#define SPIFFE_SCHEME  "spiffe://"
#define BACKDATE_S     60
#define MIN_TTL_S      60
#define MAX_TTL_S      (100LL * 366 * 86400) /* a century is past any sane CA */
#define MAX_PERMIT_DNS 64
/* RFC 5280 appendix A: ub-common-name INTEGER ::= 64 */
#define UB_COMMON_NAME 64

/* td_check applies the SPIFFE trust-domain rules to a NUL-terminated |td|. */
static enum ca_err td_check(const char *td, struct ca_error *err)
{
    if (td == NULL) {
        return ca_fail(err, CA_ERR_INVALID_SPIFFE_ID, "no trust domain");
    }
    return ca_trust_domain_check(td, strlen(td), err);
}

/* dns_suffix_check accepts a --permit-dns suffix: an optional leading '.', then
 * dot-separated labels of [A-Za-z0-9-] of 1..63 bytes, 1..253 bytes in all. An
 * empty suffix would permit every DNS name, so it is refused. */
static enum ca_err dns_suffix_check(const char *s, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    size_t len = s == NULL ? 0 : strlen(s);
    size_t label = 0;
    size_t i = 0;

    ENSURE(len >= 1 && len <= CA_MAX_DNS_NAME_LEN, CA_ERR_INVALID_ARGUMENT,
           "DNS suffix must be 1..%d bytes", CA_MAX_DNS_NAME_LEN);
    if (s[0] == '.') {
        i = 1;
    }
    ENSURE(i < len, CA_ERR_INVALID_ARGUMENT, "DNS suffix has no label");
    for (; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            ENSURE(label > 0, CA_ERR_INVALID_ARGUMENT, "DNS suffix has an empty label");
            label = 0;
            continue;
        }
        ENSURE((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-',
               CA_ERR_INVALID_ARGUMENT, "DNS suffix may hold only letters, digits, '-' and '.'");
        label++;
        ENSURE(label <= 63, CA_ERR_INVALID_ARGUMENT, "DNS label longer than 63 bytes");
    }
    ENSURE(label > 0, CA_ERR_INVALID_ARGUMENT, "DNS suffix ends with '.'");
out:
    return rc;
}

/* make_name builds "O=signet, CN=<td> <role>"; past RFC 5280's 64-byte bound
 * on a common name, CN is "signet <role>" (the URI SAN names the domain). */
static enum ca_err make_name(const char *td, const char *role, X509_NAME **out_name,
                             struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    X509_NAME *name = NULL;
    char cn[UB_COMMON_NAME + 1];

    int n = snprintf(cn, sizeof(cn), "%s %s", td, role);
    if (n < 0 || (size_t)n >= sizeof(cn)) {
        n = snprintf(cn, sizeof(cn), "signet %s", role);
        ENSURE(n > 0 && (size_t)n < sizeof(cn), CA_ERR_INTERNAL, "common name too long");
    }
    name = X509_NAME_new();
    ENSURE(name != NULL, CA_ERR_INTERNAL, "out of memory");
    OSSL(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"signet", -1,
                                    -1, 0),
         CA_ERR_INTERNAL, "cannot build the subject");
    OSSL(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0),
         CA_ERR_INTERNAL, "cannot build the subject");
    *out_name = name;
    name = NULL;
out:
    X509_NAME_free(name);
    return rc;
}

/* set_random_serial gives |cert| a random positive 128-bit serial
 * (RFC 5280 4.1.2.2: "The serial number MUST be a positive integer"). */
static enum ca_err set_random_serial(X509 *cert, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    unsigned char bytes[16]; /* 128 bits; CA certificates are rare, no time prefix */
    BIGNUM *bn = NULL;
    ASN1_INTEGER *serial = NULL;

    do {
        OSSL(RAND_bytes(bytes, sizeof(bytes)), CA_ERR_INTERNAL, "no randomness");
        bytes[0] &= 0x7f; /* positive without a leading zero byte */
        BN_free(bn);
        bn = BN_bin2bn(bytes, sizeof(bytes), NULL);
        ENSURE(bn != NULL, CA_ERR_INTERNAL, "out of memory");
    } while (BN_is_zero(bn));
    serial = BN_to_ASN1_INTEGER(bn, NULL);
    ENSURE(serial != NULL, CA_ERR_INTERNAL, "out of memory");
    OSSL(X509_set_serialNumber(cert, serial), CA_ERR_INTERNAL, "cannot set the serial");
out:
    ASN1_INTEGER_free(serial);
    BN_free(bn);
    return rc;
}

static enum ca_err set_validity(X509 *cert, int64_t not_before, int64_t not_after,
                                struct ca_error *err)
{
    enum ca_err rc = CA_OK;

    ENSURE(ASN1_TIME_set(X509_getm_notBefore(cert), (time_t)not_before) != NULL, CA_ERR_INTERNAL,
           "cannot set notBefore");
    ENSURE(ASN1_TIME_set(X509_getm_notAfter(cert), (time_t)not_after) != NULL, CA_ERR_INTERNAL,
           "cannot set notAfter");
out:
    return rc;
}

/* add_ext adds the extension |nid| written in OpenSSL's configuration syntax.
 * Only our own constant strings reach it, never caller input. */
static enum ca_err add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value,
                           struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);

    ENSURE(ext != NULL, CA_ERR_INTERNAL, "cannot build extension %s", OBJ_nid2sn(nid));
    OSSL(X509_add_ext(cert, ext, -1), CA_ERR_INTERNAL, "cannot add extension %s", OBJ_nid2sn(nid));
out:
    ERR_clear_error();
    X509_EXTENSION_free(ext);
    return rc;
}

/* new_name makes a GENERAL_NAME of |type| (GEN_URI or GEN_DNS) holding
 * |prefix| followed by |value|. */
static GENERAL_NAME *new_name(int type, const char *prefix, const char *value)
{
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
    size_t plen = strlen(prefix);
    size_t vlen = strlen(value);
    char buf[CA_MAX_SPIFFE_ID_LEN + 1];

    if (gn == NULL || ia5 == NULL || plen + vlen >= sizeof(buf)) {
        goto fail;
    }
    memcpy(buf, prefix, plen);
    memcpy(buf + plen, value, vlen);
    if (ASN1_STRING_set(ia5, buf, (int)(plen + vlen)) != 1) {
        goto fail;
    }
    GENERAL_NAME_set0_value(gn, type, ia5);
    return gn;
fail:
    ASN1_IA5STRING_free(ia5);
    GENERAL_NAME_free(gn);
    return NULL;
}

/* add_td_san adds the non-critical URI SAN spiffe://<td> that records the
 * trust domain in roots and intermediates. */
static enum ca_err add_td_san(X509 *cert, const char *td, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    GENERAL_NAME *gn = new_name(GEN_URI, SPIFFE_SCHEME, td);

    ENSURE(gens != NULL && gn != NULL, CA_ERR_INTERNAL, "out of memory");
    ENSURE(sk_GENERAL_NAME_push(gens, gn) > 0, CA_ERR_INTERNAL, "out of memory");
    gn = NULL;
    OSSL(X509_add1_ext_i2d(cert, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT),
         CA_ERR_INTERNAL, "cannot add the subject alternative name");
out:
    GENERAL_NAME_free(gn);
    GENERAL_NAMES_free(gens);
    return rc;
}

/* push_subtree appends a permitted subtree of |type| for |value|. */
static enum ca_err push_subtree(STACK_OF(GENERAL_SUBTREE) *trees, int type, const char *value,
                                struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    GENERAL_SUBTREE *sub = GENERAL_SUBTREE_new();
    GENERAL_NAME *gn = new_name(type, "", value);

    ENSURE(sub != NULL && gn != NULL, CA_ERR_INTERNAL, "out of memory");
    GENERAL_NAME_free(sub->base);
    sub->base = gn;
    gn = NULL;
    ENSURE(sk_GENERAL_SUBTREE_push(trees, sub) > 0, CA_ERR_INTERNAL, "out of memory");
    sub = NULL;
out:
    GENERAL_NAME_free(gn);
    GENERAL_SUBTREE_free(sub);
    return rc;
}

/* add_name_constraints adds the critical nameConstraints extension that
 * confines what the intermediate can certify.
 * RFC 5280 4.2.1.10: "Conforming CAs MUST mark this extension as critical".
 * For URIs: "The constraint applies to the host part of the name. [...] the
 * constraint MUST be specified as a fully qualified domain name", so the
 * trust domain itself is the constraint; a SPIFFE ID's trust domain is its
 * host part. For DNS: "any DNS name that can be constructed by simply adding
 * zero or more labels to the left-hand side of the name satisfies the name
 * constraint". Name types with no permitted subtree stay unconstrained. */
static enum ca_err add_name_constraints(X509 *cert, const struct ca_intermediate_params *params,
                                        struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    NAME_CONSTRAINTS *nc = NAME_CONSTRAINTS_new();

    ENSURE(nc != NULL, CA_ERR_INTERNAL, "out of memory");
    nc->permittedSubtrees = sk_GENERAL_SUBTREE_new_null();
    ENSURE(nc->permittedSubtrees != NULL, CA_ERR_INTERNAL, "out of memory");
    TRY(push_subtree(nc->permittedSubtrees, GEN_URI, params->trust_domain, err));
    for (size_t i = 0; i < params->num_permit_dns; i++) {
        TRY(push_subtree(nc->permittedSubtrees, GEN_DNS, params->permit_dns[i], err));
    }
    OSSL(X509_add1_ext_i2d(cert, NID_name_constraints, nc, 1, X509V3_ADD_DEFAULT), CA_ERR_INTERNAL,
         "cannot add the name constraints");
out:
    NAME_CONSTRAINTS_free(nc);
    return rc;
}

/* cert_not_after returns |cert|'s notAfter in Unix seconds, or -1. */
static int64_t cert_not_after(X509 *cert)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) {
        ERR_clear_error();
        return -1;
    }
    return (int64_t)timegm(&tm);
}

enum ca_err ca_root_create(EVP_PKEY *key, const char *trust_domain, int64_t now, int64_t ttl_s,
                           X509 **out_cert, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    X509 *cert = NULL;
    X509_NAME *name = NULL;
    const EVP_MD *md = NULL;
    X509V3_CTX ctx;

    ENSURE(key != NULL && now > BACKDATE_S, CA_ERR_INVALID_ARGUMENT, "no key or no time");
    TRY(td_check(trust_domain, err));
    ENSURE(ttl_s >= MIN_TTL_S && ttl_s <= MAX_TTL_S, CA_ERR_INVALID_TTL,
           "root lifetime must be between 1 minute and 100 years");
    TRY(ca_sign_digest(key, &md, err));
    TRY(make_name(trust_domain, "root", &name, err));
    cert = X509_new();
    ENSURE(cert != NULL, CA_ERR_INTERNAL, "out of memory");
    OSSL(X509_set_version(cert, X509_VERSION_3), CA_ERR_INTERNAL, "cannot set the version");
    TRY(set_random_serial(cert, err));
    OSSL(X509_set_subject_name(cert, name), CA_ERR_INTERNAL, "cannot set the subject");
    OSSL(X509_set_issuer_name(cert, name), CA_ERR_INTERNAL, "cannot set the issuer");
    TRY(set_validity(cert, now - BACKDATE_S, now + ttl_s, err));
    OSSL(X509_set_pubkey(cert, key), CA_ERR_INTERNAL, "cannot set the public key");

    X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
    /* RFC 5280 4.2.1.9: "Conforming CAs MUST include this extension in all CA
     * certificates [...] and mark the extension as critical". */
    TRY(add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:1", err));
    /* RFC 5280 4.2.1.3: "When present, conforming CAs SHOULD mark this
     * extension as critical." */
    TRY(add_ext(cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign", err));
    /* RFC 5280 4.2.1.2: "this extension MUST appear in all conforming CA
     * certificates". */
    TRY(add_ext(cert, &ctx, NID_subject_key_identifier, "hash", err));
    TRY(add_td_san(cert, trust_domain, err));
    ENSURE(X509_sign(cert, key, md) > 0, CA_ERR_INTERNAL, "cannot sign the root");

    *out_cert = cert;
    cert = NULL;
out:
    ERR_clear_error();
    X509_NAME_free(name);
    X509_free(cert);
    return rc;
}

enum ca_err ca_intermediate_csr_create(EVP_PKEY *key, const char *trust_domain, X509_REQ **out_csr,
                                       struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    X509_REQ *csr = NULL;
    X509_NAME *name = NULL;
    const EVP_MD *md = NULL;

    ENSURE(key != NULL, CA_ERR_INVALID_ARGUMENT, "no key");
    TRY(td_check(trust_domain, err));
    TRY(ca_sign_digest(key, &md, err));
    TRY(make_name(trust_domain, "intermediate", &name, err));
    csr = X509_REQ_new();
    ENSURE(csr != NULL, CA_ERR_INTERNAL, "out of memory");
    OSSL(X509_REQ_set_version(csr, X509_REQ_VERSION_1), CA_ERR_INTERNAL, "cannot set the version");
    OSSL(X509_REQ_set_subject_name(csr, name), CA_ERR_INTERNAL, "cannot set the subject");
    OSSL(X509_REQ_set_pubkey(csr, key), CA_ERR_INTERNAL, "cannot set the public key");
    ENSURE(X509_REQ_sign(csr, key, md) > 0, CA_ERR_INTERNAL, "cannot sign the request");

    *out_csr = csr;
    csr = NULL;
out:
    ERR_clear_error();
    X509_NAME_free(name);
    X509_REQ_free(csr);
    return rc;
}

enum ca_err ca_cert_trust_domain(X509 *cert, char *out, size_t out_len, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    GENERAL_NAMES *gens = NULL;
    const char *found = NULL;
    size_t found_len = 0;
    char td[256];
    int crit = 0;

    ENSURE(cert != NULL && out != NULL && out_len > 0, CA_ERR_INVALID_ARGUMENT, "no certificate");
    gens = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
    ENSURE(gens != NULL, CA_ERR_INVALID_CERT,
           "the certificate has no subject alternative name naming its trust domain");
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, i);
        if (gn->type != GEN_URI) {
            continue;
        }
        const char *uri = (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
        int len = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
        if (len < (int)strlen(SPIFFE_SCHEME) ||
            memcmp(uri, SPIFFE_SCHEME, strlen(SPIFFE_SCHEME)) != 0) {
            continue;
        }
        ENSURE(found == NULL, CA_ERR_INVALID_CERT, "the certificate names two trust domains");
        found = uri + strlen(SPIFFE_SCHEME);
        found_len = (size_t)len - strlen(SPIFFE_SCHEME);
    }
    ENSURE(found != NULL, CA_ERR_INVALID_CERT, "the certificate has no spiffe:// URI SAN");
    ENSURE(found_len < sizeof(td) && memchr(found, '\0', found_len) == NULL, CA_ERR_INVALID_CERT,
           "the certificate's trust domain is malformed");
    memcpy(td, found, found_len);
    td[found_len] = '\0';
    enum ca_err bad = td_check(td, NULL);
    ENSURE(bad == CA_OK, CA_ERR_INVALID_CERT,
           "the certificate's spiffe:// URI SAN is not a bare trust domain");
    ENSURE(found_len < out_len, CA_ERR_INVALID_ARGUMENT, "trust domain too long for the buffer");
    memcpy(out, td, found_len + 1);
out:
    ERR_clear_error();
    GENERAL_NAMES_free(gens);
    return rc;
}

/* check_params validates the caller's side of an intermediate signing. */
static enum ca_err check_params(const struct ca_intermediate_params *params, struct ca_error *err)
{
    enum ca_err rc = CA_OK;

    ENSURE(params != NULL && params->now > BACKDATE_S, CA_ERR_INVALID_ARGUMENT, "no parameters");
    TRY(td_check(params->trust_domain, err));
    ENSURE(params->ttl_s >= MIN_TTL_S && params->ttl_s <= MAX_TTL_S, CA_ERR_INVALID_TTL,
           "intermediate lifetime must be between 1 minute and 100 years");
    ENSURE(params->num_permit_dns <= MAX_PERMIT_DNS, CA_ERR_INVALID_ARGUMENT,
           "more than %d DNS suffixes", MAX_PERMIT_DNS);
    ENSURE(params->num_permit_dns == 0 || params->permit_dns != NULL, CA_ERR_INVALID_ARGUMENT,
           "no DNS suffixes");
    for (size_t i = 0; i < params->num_permit_dns; i++) {
        TRY(dns_suffix_check(params->permit_dns[i], err));
    }
out:
    return rc;
}

/* csr_digest_check refuses a CSR whose self-signature uses a digest weaker
 * than SHA-256 (MD5 or SHA-1, both broken for signatures), as the leaf CSR
 * check does. Ed25519 names no separate digest. */
static enum ca_err csr_digest_check(const X509_REQ *csr, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    const X509_ALGOR *alg = NULL;
    const ASN1_OBJECT *obj = NULL;
    int md = NID_undef;
    int pk = NID_undef;

    X509_REQ_get0_signature(csr, NULL, &alg);
    X509_ALGOR_get0(&obj, NULL, NULL, alg);
    ENSURE(OBJ_find_sigid_algs(OBJ_obj2nid(obj), &md, &pk) == 1, CA_ERR_INVALID_CSR,
           "CSR signature algorithm not recognised");
    ENSURE(md == NID_sha256 || md == NID_sha384 || md == NID_sha512 ||
               (md == NID_undef && pk == NID_ED25519),
           CA_ERR_INVALID_CSR, "CSR signed with %s: SHA-256, SHA-384 or SHA-512 required",
           md == NID_undef ? "an unknown digest" : OBJ_nid2sn(md));
out:
    return rc;
}

/* check_root makes sure |root| can sign: a CA certificate allowed to sign
 * certificates, matching |root_key|, naming the same trust domain if it names
 * one, and valid at |now|. */
static enum ca_err check_root(X509 *root, EVP_PKEY *root_key, const char *trust_domain, int64_t now,
                              struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    char td[256];

    ENSURE(root != NULL && root_key != NULL, CA_ERR_INVALID_ARGUMENT, "no root or root key");
    ENSURE(X509_check_ca(root) == 1, CA_ERR_INVALID_CERT, "the root is not a CA certificate");
    ENSURE((X509_get_key_usage(root) & KU_KEY_CERT_SIGN) != 0, CA_ERR_INVALID_CERT,
           "the root's key usage does not allow signing certificates");
    OSSL(X509_check_private_key(root, root_key), CA_ERR_KEY_MISMATCH,
         "the root key does not match the root certificate");
    if (ca_cert_trust_domain(root, td, sizeof(td), NULL) == CA_OK) {
        ENSURE(strcmp(td, trust_domain) == 0, CA_ERR_INVALID_ARGUMENT,
               "the root belongs to trust domain %.64s, not %.64s", td, trust_domain);
    }
    int64_t root_end = cert_not_after(root);
    ENSURE(root_end > now, CA_ERR_ISSUER_EXPIRED, "the root has expired");
out:
    ERR_clear_error();
    return rc;
}

enum ca_err ca_intermediate_sign(X509 *root, EVP_PKEY *root_key, X509_REQ *csr,
                                 const struct ca_intermediate_params *params, X509 **out_cert,
                                 struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    X509 *cert = NULL;
    X509_NAME *name = NULL;
    EVP_PKEY *pub = NULL;
    const EVP_MD *md = NULL;
    X509V3_CTX ctx;

    TRY(check_params(params, err));
    TRY(check_root(root, root_key, params->trust_domain, params->now, err));
    TRY(ca_sign_digest(root_key, &md, err));
    ENSURE(csr != NULL, CA_ERR_INVALID_CSR, "no certificate request");
    pub = X509_REQ_get_pubkey(csr); /* a new reference despite the name */
    ENSURE(pub != NULL, CA_ERR_INVALID_CSR, "unreadable public key");
    OSSL(X509_REQ_verify(csr, pub), CA_ERR_INVALID_CSR, "bad CSR signature");
    TRY(csr_digest_check(csr, err));
    TRY(ca_key_usable_by_ca(pub, err));

    int64_t not_after = params->now + params->ttl_s;
    int64_t root_end = cert_not_after(root);
    /* Never past the root: a verifier would refuse the chain from then on. */
    if (not_after > root_end) {
        not_after = root_end;
    }
    TRY(make_name(params->trust_domain, "intermediate", &name, err));
    cert = X509_new();
    ENSURE(cert != NULL, CA_ERR_INTERNAL, "out of memory");
    OSSL(X509_set_version(cert, X509_VERSION_3), CA_ERR_INTERNAL, "cannot set the version");
    TRY(set_random_serial(cert, err));
    OSSL(X509_set_subject_name(cert, name), CA_ERR_INTERNAL, "cannot set the subject");
    OSSL(X509_set_issuer_name(cert, X509_get_subject_name(root)), CA_ERR_INTERNAL,
         "cannot set the issuer");
    TRY(set_validity(cert, params->now - BACKDATE_S, not_after, err));
    OSSL(X509_set_pubkey(cert, pub), CA_ERR_INTERNAL, "cannot set the public key");

    X509V3_set_ctx(&ctx, root, cert, NULL, NULL, 0);
    TRY(add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0", err));
    TRY(add_ext(cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign", err));
    TRY(add_ext(cert, &ctx, NID_subject_key_identifier, "hash", err));
    /* RFC 5280 4.2.1.1: "The keyIdentifier field of the authorityKeyIdentifier
     * extension MUST be included in all certificates generated by conforming
     * CAs to facilitate certification path construction." */
    TRY(add_ext(cert, &ctx, NID_authority_key_identifier, "keyid:always", err));
    TRY(add_td_san(cert, params->trust_domain, err));
    TRY(add_name_constraints(cert, params, err));
    ENSURE(X509_sign(cert, root_key, md) > 0, CA_ERR_INTERNAL, "cannot sign the intermediate");

    *out_cert = cert;
    cert = NULL;
out:
    ERR_clear_error();
    EVP_PKEY_free(pub);
    X509_NAME_free(name);
    X509_free(cert);
    return rc;
}
