/* issuer.c: the online intermediate. ca_issuer_new checks the key, the chain
 * and the policy once and pre-builds everything constant per issuer (digests,
 * curve templates, the constant leaf extensions, the chain and bundle in PEM
 * and DER); afterwards the issuer is read-only and shared by all threads.
 * ca_issuer_verify_peer (peer.c) verifies client certificates against it. */
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "internal.h"

#define MIN_TTL_S 60
#define MAX_TTL_S (10LL * 365 * 24 * 3600)
#define URL_MAX   600

void ca_issuer_free(struct ca_issuer *issuer)
{
    if (issuer == NULL) {
        return;
    }
    X509_free(issuer->cert);
    EVP_PKEY_free(issuer->key); /* the provider cleanses key material on free */
    sk_X509_pop_free(issuer->roots, X509_free);
    X509_STORE_free(issuer->store);
    EVP_MD_CTX_free(issuer->verify_ctx);
    OPENSSL_free(issuer->subject_der);
    EVP_MD_free(issuer->sign_md);
    EVP_MD_CTX_free(issuer->sign_ctx);
    EVP_MD_free(issuer->sha1);
    EVP_MD_free(issuer->sha256);
    EVP_MD_free(issuer->sha384);
    EVP_MD_free(issuer->sha512);
    EVP_PKEY_free(issuer->ec_p256);
    EVP_PKEY_free(issuer->ec_p384);
    BASIC_CONSTRAINTS_free(issuer->ext_bc);
    ASN1_BIT_STRING_free(issuer->ext_ku);
    ASN1_BIT_STRING_free(issuer->ext_ku_rsa);
    EXTENDED_KEY_USAGE_free(issuer->ext_eku);
    AUTHORITY_KEYID_free(issuer->ext_akid);
    AUTHORITY_INFO_ACCESS_free(issuer->ext_aia);
    CRL_DIST_POINTS_free(issuer->ext_cdp);
    OPENSSL_free(issuer->chain_pem);
    OPENSSL_free(issuer->bundle_pem);
    OPENSSL_free(issuer->cert_der);
    for (size_t i = 0; issuer->root_der != NULL && i < issuer->num_roots; i++) {
        OPENSSL_free(issuer->root_der[i]);
    }
    OPENSSL_free(issuer->root_der);
    OPENSSL_free(issuer->root_der_len);
    for (size_t i = 0; issuer->permit_dns != NULL && i < issuer->num_permit_dns; i++) {
        OPENSSL_free(issuer->permit_dns[i]);
    }
    OPENSSL_free(issuer->permit_dns);
    for (size_t i = 0; issuer->exclude_dns != NULL && i < issuer->num_exclude_dns; i++) {
        OPENSSL_free(issuer->exclude_dns[i]);
    }
    OPENSSL_free(issuer->exclude_dns);
    ca_leaf_pool_free(issuer->pool);
    OPENSSL_free(issuer);
}

/* check_policy refuses a policy the engine could not honour. */
static enum ca_err check_policy(const struct ca_policy *p, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    size_t td_len = strnlen(p->trust_domain, sizeof(p->trust_domain));
    size_t url_len = strnlen(p->public_url, sizeof(p->public_url));

    ENSURE(td_len < sizeof(p->trust_domain) && url_len < sizeof(p->public_url),
           CA_ERR_INVALID_ARGUMENT, "policy strings must be NUL-terminated");
    TRY(ca_trust_domain_check(p->trust_domain, td_len, err));
    ENSURE(strncmp(p->public_url, "http://", 7) == 0 || strncmp(p->public_url, "https://", 8) == 0,
           CA_ERR_INVALID_ARGUMENT, "public_url must start with http:// or https://");
    for (size_t i = 0; i < url_len; i++) {
        unsigned char c = (unsigned char)p->public_url[i];
        ENSURE(c > 0x20 && c < 0x7f, CA_ERR_INVALID_ARGUMENT,
               "public_url must be printable ASCII without spaces");
    }
    ENSURE(p->default_ttl_s >= MIN_TTL_S && p->max_ttl_s >= p->default_ttl_s &&
               p->max_ttl_s <= MAX_TTL_S,
           CA_ERR_INVALID_ARGUMENT, "leaf TTLs must satisfy 60 s <= default <= max <= 10 years");
out:
    return rc;
}

static GENERAL_NAME *uri_name(const char *uri)
{
    GENERAL_NAME *gen = GENERAL_NAME_new();
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();
    if (gen == NULL || s == NULL || ASN1_STRING_set(s, uri, (int)strlen(uri)) != 1) {
        GENERAL_NAME_free(gen);
        ASN1_IA5STRING_free(s);
        return NULL;
    }
    GENERAL_NAME_set0_value(gen, GEN_URI, s);
    return gen;
}

/* RFC 5280 4.2.1.9: "Conforming CAs MUST include this extension in all CA
 * certificates"; for a leaf we state CA:FALSE explicitly, critical, as
 * SPIFFE X509-SVID 4.1 requires: "Leaf certificates MUST set the cA field to
 * false." */
static BASIC_CONSTRAINTS *ext_basic_constraints(void)
{
    return BASIC_CONSTRAINTS_new(); /* cA FALSE (DEFAULT, so not encoded), no pathLen */
}

/* SPIFFE X509-SVID 4.3: "Leaf SVIDs MUST set digitalSignature. They MAY set
 * keyEncipherment and/or keyAgreement"; keyEncipherment only means something
 * for RSA (TLS 1.2 RSA key transport). RFC 5280 4.2.1.3: "conforming CAs
 * SHOULD mark this extension as critical". */
static ASN1_BIT_STRING *ext_key_usage(int rsa)
{
    ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
    if (ku == NULL || ASN1_BIT_STRING_set_bit(ku, 0, 1) != 1 ||
        (rsa && ASN1_BIT_STRING_set_bit(ku, 2, 1) != 1)) {
        ASN1_BIT_STRING_free(ku);
        return NULL;
    }
    return ku;
}

/* SPIFFE X509-SVID 4.4: "Leaf SVIDs SHOULD include this extension, and it MAY
 * be marked as critical. When included, fields id-kp-serverAuth and
 * id-kp-clientAuth MUST be set." */
static EXTENDED_KEY_USAGE *ext_ext_key_usage(void)
{
    EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
    if (eku == NULL || sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_server_auth)) <= 0 ||
        sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_client_auth)) <= 0) {
        EXTENDED_KEY_USAGE_free(eku); /* the objects are static: freeing them is a no-op */
        return NULL;
    }
    return eku;
}

/* RFC 5280 4.2.1.1: "The keyIdentifier field of the authorityKeyIdentifier
 * extension MUST be included in all certificates generated by conforming CAs"
 * and "Conforming CAs MUST mark this extension as non-critical." The key
 * identifier is the intermediate's SKID, or the SHA-1 of its key when it has
 * none (method 1 of 4.2.1.2). */
static AUTHORITY_KEYID *ext_akid(X509 *cert, const EVP_MD *sha1)
{
    AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    if (akid == NULL) {
        return NULL;
    }
    const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(cert);
    if (skid != NULL) {
        akid->keyid = ASN1_OCTET_STRING_dup(skid);
    } else {
        const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(cert);
        akid->keyid = ASN1_OCTET_STRING_new();
        if (bits == NULL || akid->keyid == NULL ||
            EVP_Digest(bits->data, (size_t)bits->length, md, &md_len, sha1, NULL) != 1 ||
            ASN1_OCTET_STRING_set(akid->keyid, md, (int)md_len) != 1) {
            AUTHORITY_KEYID_free(akid);
            return NULL;
        }
    }
    if (akid->keyid == NULL) {
        AUTHORITY_KEYID_free(akid);
        return NULL;
    }
    return akid;
}

static int push_access(AUTHORITY_INFO_ACCESS *aia, int method, const char *url)
{
    ACCESS_DESCRIPTION *ad = ACCESS_DESCRIPTION_new();
    GENERAL_NAME *gen = uri_name(url);
    if (ad == NULL || gen == NULL) {
        ACCESS_DESCRIPTION_free(ad);
        GENERAL_NAME_free(gen);
        return 0;
    }
    ASN1_OBJECT_free(ad->method);
    ad->method = OBJ_nid2obj(method);
    GENERAL_NAME_free(ad->location);
    ad->location = gen;
    if (sk_ACCESS_DESCRIPTION_push(aia, ad) <= 0) {
        ACCESS_DESCRIPTION_free(ad);
        return 0;
    }
    return 1;
}

/* RFC 5280 4.2.2.1: authorityInfoAccess "MUST be marked as non-critical";
 * OCSP at <public_url>/ocsp and caIssuers at <public_url>/ca.crt (DER). */
static AUTHORITY_INFO_ACCESS *ext_aia(const char *ocsp_url, const char *ca_url)
{
    AUTHORITY_INFO_ACCESS *aia = sk_ACCESS_DESCRIPTION_new_null();
    if (aia == NULL || !push_access(aia, NID_ad_OCSP, ocsp_url) ||
        !push_access(aia, NID_ad_ca_issuers, ca_url)) {
        AUTHORITY_INFO_ACCESS_free(aia);
        return NULL;
    }
    return aia;
}

/* RFC 5280 4.2.1.13: "The extension SHOULD be non-critical"; one
 * distributionPoint with a fullName URI <public_url>/crl. */
static CRL_DIST_POINTS *ext_cdp(const char *crl_url)
{
    CRL_DIST_POINTS *cdp = sk_DIST_POINT_new_null();
    CRL_DIST_POINTS *ret = NULL;
    DIST_POINT *dp = DIST_POINT_new();
    GENERAL_NAME *gen = uri_name(crl_url);

    if (cdp == NULL || dp == NULL || gen == NULL) {
        goto out;
    }
    dp->distpoint = DIST_POINT_NAME_new();
    if (dp->distpoint == NULL) {
        goto out;
    }
    dp->distpoint->type = 0; /* fullName */
    dp->distpoint->name.fullname = GENERAL_NAMES_new();
    if (dp->distpoint->name.fullname == NULL ||
        sk_GENERAL_NAME_push(dp->distpoint->name.fullname, gen) <= 0) {
        goto out;
    }
    gen = NULL;
    if (sk_DIST_POINT_push(cdp, dp) <= 0) {
        goto out;
    }
    dp = NULL;
    ret = cdp;
    cdp = NULL;
out:
    GENERAL_NAME_free(gen);
    DIST_POINT_free(dp);
    CRL_DIST_POINTS_free(cdp);
    return ret;
}

/* curve_template makes a parameters-only EC key that csr.c duplicates and
 * fills with a CSR's point: cheaper than building the group per request. */
static EVP_PKEY *curve_template(const char *group)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)(uintptr_t)group, 0),
        OSSL_PARAM_END,
    };
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEY_PARAMETERS, params) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

/* signing_digest picks the digest the profile ties to the intermediate key. */
static enum ca_err signing_digest(EVP_PKEY *key, EVP_MD **out_md, struct ca_error *err)
{
    const char *md = NULL;
    *out_md = NULL;
    if (EVP_PKEY_is_a(key, "ED25519")) {
        return CA_OK; /* RFC 8410 6: pure EdDSA, no separate digest */
    }
    if (EVP_PKEY_is_a(key, "RSA")) {
        md = "SHA256";
    } else if (EVP_PKEY_is_a(key, "EC")) {
        int bits = EVP_PKEY_get_bits(key);
        md = bits <= 256 ? "SHA256" : bits <= 384 ? "SHA384" : "SHA512";
    } else {
        return ca_fail(err, CA_ERR_INVALID_KEY, "intermediate key type not supported");
    }
    *out_md = EVP_MD_fetch(NULL, md, NULL);
    if (*out_md == NULL) {
        ERR_clear_error();
        return ca_fail(err, CA_ERR_INTERNAL, "digest %s unavailable", md);
    }
    return CA_OK;
}

/* digest_context makes the context every leaf's signature (|verify| 0) or
 * every client certificate's check (|verify| 1, with the intermediate's
 * public key) starts from, and checks once that it can be copied; when it
 * cannot, |*out| stays NULL and each call initialises its own. */
static enum ca_err digest_context(struct ca_issuer *iss, int verify, EVP_MD_CTX **out,
                                  struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_MD_CTX *copy = EVP_MD_CTX_new();

    ENSURE(ctx != NULL && copy != NULL, CA_ERR_INTERNAL, "out of memory");
    if (verify) {
        OSSL(EVP_DigestVerifyInit(ctx, NULL, iss->sign_md, NULL, X509_get0_pubkey(iss->cert)),
             CA_ERR_INVALID_CERT, "the intermediate's public key cannot verify");
    } else {
        OSSL(EVP_DigestSignInit(ctx, NULL, iss->sign_md, NULL, iss->key), CA_ERR_INVALID_KEY,
             "the intermediate key cannot sign");
    }
    if (EVP_MD_CTX_copy_ex(copy, ctx) == 1) {
        *out = ctx;
        ctx = NULL;
    }
out:
    ERR_clear_error();
    EVP_MD_CTX_free(copy);
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* pem_of writes |certs| as PEM into a new NUL-terminated buffer. */
static enum ca_err pem_of(STACK_OF(X509) *certs, char **out, size_t *out_len, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;

    ENSURE(bio != NULL, CA_ERR_INTERNAL, "out of memory");
    for (int i = 0; i < sk_X509_num(certs); i++) {
        OSSL(PEM_write_bio_X509(bio, sk_X509_value(certs, i)), CA_ERR_INTERNAL,
             "cannot encode a certificate");
    }
    long len = BIO_get_mem_data(bio, &data);
    ENSURE(len > 0 && data != NULL, CA_ERR_INTERNAL, "cannot encode certificates");
    *out = OPENSSL_malloc((size_t)len + 1);
    ENSURE(*out != NULL, CA_ERR_INTERNAL, "out of memory");
    memcpy(*out, data, (size_t)len);
    (*out)[len] = '\0';
    *out_len = (size_t)len;
out:
    BIO_free(bio);
    return rc;
}

/* own_copy re-decodes |cert| from its DER so that the issuer holds an object
 * no caller can change, with every cached encoding in place before threads
 * share it. The caller owns |*out_der| and |*out|. */
static enum ca_err own_copy(X509 *cert, unsigned char **out_der, size_t *out_der_len, X509 **out,
                            struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    int len = i2d_X509(cert, out_der);
    ENSURE(len > 0, CA_ERR_INVALID_CERT, "certificate cannot be encoded");
    *out_der_len = (size_t)len;
    const unsigned char *p = *out_der;
    *out = d2i_X509(NULL, &p, len);
    ENSURE(*out != NULL && p == *out_der + len, CA_ERR_INVALID_CERT,
           "certificate cannot be decoded");
    /* Cache the extension flags now (X509_check_ca computes them). */
    (void)X509_check_ca(*out);
out:
    ERR_clear_error();
    return rc;
}

/* verify_chain checks the intermediate against the roots: signatures and
 * constraints. Time is left out on purpose: each issuance checks the
 * intermediate's notAfter against its own |now| (CA_ERR_ISSUER_EXPIRED), so a
 * server with an expired intermediate starts and reports why it cannot issue. */
static enum ca_err verify_chain(struct ca_issuer *iss, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();

    ENSURE(ctx != NULL, CA_ERR_INTERNAL, "out of memory");
    OSSL(X509_STORE_CTX_init(ctx, iss->store, iss->cert, NULL), CA_ERR_INTERNAL,
         "cannot verify the intermediate");
    X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx), X509_V_FLAG_NO_CHECK_TIME);
    if (X509_verify_cert(ctx) != 1) {
        int code = X509_STORE_CTX_get_error(ctx);
        ERR_clear_error();
        rc = ca_fail(err, CA_ERR_UNTRUSTED_CERT,
                     "the intermediate does not verify against the roots: %s",
                     X509_verify_cert_error_string(code));
        goto out;
    }
    ENSURE(X509_check_ca(iss->cert) != 0, CA_ERR_INVALID_CERT,
           "the intermediate certificate is not a CA");
out:
    X509_STORE_CTX_free(ctx);
    return rc;
}

static enum ca_err add_roots(struct ca_issuer *iss, STACK_OF(X509) *roots, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    int num = sk_X509_num(roots);

    ENSURE(num > 0, CA_ERR_INVALID_ARGUMENT, "at least one root is needed");
    iss->roots = sk_X509_new_null();
    iss->store = X509_STORE_new();
    iss->root_der = OPENSSL_zalloc(sizeof(*iss->root_der) * (size_t)num);
    iss->root_der_len = OPENSSL_zalloc(sizeof(*iss->root_der_len) * (size_t)num);
    ENSURE(iss->roots != NULL && iss->store != NULL && iss->root_der != NULL &&
               iss->root_der_len != NULL,
           CA_ERR_INTERNAL, "out of memory");
    iss->num_roots = (size_t)num;
    for (int i = 0; i < num; i++) {
        X509 *copy = NULL;
        TRY(own_copy(sk_X509_value(roots, i), &iss->root_der[i], &iss->root_der_len[i], &copy,
                     err));
        if (sk_X509_push(iss->roots, copy) <= 0) {
            X509_free(copy);
            rc = ca_fail(err, CA_ERR_INTERNAL, "out of memory");
            goto out;
        }
        OSSL(X509_STORE_add_cert(iss->store, copy), CA_ERR_INVALID_CERT, "cannot use root %d", i);
    }
out:
    return rc;
}

static enum ca_err build_extensions(struct ca_issuer *iss, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    char ocsp[URL_MAX];
    char ca_crt[URL_MAX];
    char crl[URL_MAX];
    size_t base_len = strlen(iss->policy.public_url);

    if (base_len > 0 && iss->policy.public_url[base_len - 1] == '/') {
        base_len--; /* "http://h/" and "http://h" name the same base */
    }
    int n1 = snprintf(ocsp, sizeof(ocsp), "%.*s/ocsp", (int)base_len, iss->policy.public_url);
    int n2 = snprintf(ca_crt, sizeof(ca_crt), "%.*s/ca.crt", (int)base_len, iss->policy.public_url);
    int n3 = snprintf(crl, sizeof(crl), "%.*s/crl", (int)base_len, iss->policy.public_url);
    ENSURE(n1 > 0 && n2 > 0 && n3 > 0 && (size_t)n2 < sizeof(ca_crt), CA_ERR_INVALID_ARGUMENT,
           "public_url too long");

    iss->ext_bc = ext_basic_constraints();
    iss->ext_ku = ext_key_usage(0);
    iss->ext_ku_rsa = ext_key_usage(1);
    iss->ext_eku = ext_ext_key_usage();
    iss->ext_akid = ext_akid(iss->cert, iss->sha1);
    iss->ext_aia = ext_aia(ocsp, ca_crt);
    iss->ext_cdp = ext_cdp(crl);
    ENSURE(iss->ext_bc != NULL && iss->ext_ku != NULL && iss->ext_ku_rsa != NULL &&
               iss->ext_eku != NULL && iss->ext_akid != NULL && iss->ext_aia != NULL &&
               iss->ext_cdp != NULL,
           CA_ERR_INTERNAL, "cannot build the leaf extensions");
out:
    ERR_clear_error();
    return rc;
}

/* dns_subtrees copies the dNSName bases of |subtrees| into a new array. */
static enum ca_err dns_subtrees(STACK_OF(GENERAL_SUBTREE) *subtrees, char ***out, size_t *out_num,
                                struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    int num = sk_GENERAL_SUBTREE_num(subtrees);

    if (num <= 0) {
        return CA_OK;
    }
    *out = OPENSSL_zalloc(sizeof(**out) * (size_t)num);
    ENSURE(*out != NULL, CA_ERR_INTERNAL, "out of memory");
    for (int i = 0; i < num; i++) {
        const GENERAL_NAME *base = sk_GENERAL_SUBTREE_value(subtrees, i)->base;
        int type = -1;
        const ASN1_STRING *s = GENERAL_NAME_get0_value(base, &type);
        if (type != GEN_DNS) {
            continue;
        }
        size_t len = (size_t)ASN1_STRING_length(s);
        ENSURE(memchr(ASN1_STRING_get0_data(s), '\0', len) == NULL, CA_ERR_INVALID_CERT,
               "the intermediate's DNS name constraint is malformed");
        (*out)[*out_num] = OPENSSL_strndup((const char *)ASN1_STRING_get0_data(s), len);
        ENSURE((*out)[*out_num] != NULL, CA_ERR_INTERNAL, "out of memory");
        (*out_num)++;
    }
out:
    return rc;
}

/* read_name_constraints keeps the intermediate's DNS name constraints. */
static enum ca_err read_name_constraints(struct ca_issuer *iss, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    int crit = 0;
    NAME_CONSTRAINTS *nc = X509_get_ext_d2i(iss->cert, NID_name_constraints, &crit, NULL);

    ENSURE(nc != NULL || crit == -1, CA_ERR_INVALID_CERT,
           "the intermediate's nameConstraints are unreadable");
    if (nc != NULL) {
        TRY(dns_subtrees(nc->permittedSubtrees, &iss->permit_dns, &iss->num_permit_dns, err));
        TRY(dns_subtrees(nc->excludedSubtrees, &iss->exclude_dns, &iss->num_exclude_dns, err));
    }
out:
    NAME_CONSTRAINTS_free(nc);
    return rc;
}

static int ascii_case_eq(const char *a, const char *b, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char x = (unsigned char)a[i];
        unsigned char y = (unsigned char)b[i];
        x = (x >= 'A' && x <= 'Z') ? (unsigned char)(x + 32) : x;
        y = (y >= 'A' && y <= 'Z') ? (unsigned char)(y + 32) : y;
        if (x != y) {
            return 0;
        }
    }
    return 1;
}

/* dns_within applies RFC 5280 4.2.1.10: "Any DNS name that can be constructed
 * by simply adding zero or more labels to the left-hand side of the name
 * satisfies the name constraint"; a base with a leading '.' (as OpenSSL
 * reads it) needs at least one added label. */
static int dns_within(const char *name, size_t len, const char *base)
{
    size_t blen = strlen(base);
    if (blen == 0) {
        return 1;
    }
    if (base[0] == '.') {
        return len > blen && ascii_case_eq(name + len - blen, base, blen);
    }
    if (len == blen) {
        return ascii_case_eq(name, base, len);
    }
    return len > blen && name[len - blen - 1] == '.' &&
           ascii_case_eq(name + len - blen, base, blen);
}

enum ca_err ca_issuer_dns_check(const struct ca_issuer *issuer, const struct ca_ids *ids,
                                struct ca_error *err)
{
    for (size_t i = 0; i < ids->num_dns; i++) {
        int permitted = issuer->num_permit_dns == 0;
        for (size_t k = 0; k < issuer->num_permit_dns; k++) {
            permitted |= dns_within(ids->dns[i], ids->dns_len[i], issuer->permit_dns[k]);
        }
        for (size_t k = 0; k < issuer->num_exclude_dns; k++) {
            permitted &= !dns_within(ids->dns[i], ids->dns_len[i], issuer->exclude_dns[k]);
        }
        if (!permitted) {
            return ca_fail(err, CA_ERR_FORBIDDEN_SAN,
                           "DNS name %.*s is outside the intermediate's name constraints",
                           (int)ids->dns_len[i], ids->dns[i]);
        }
    }
    return CA_OK;
}

enum ca_err ca_issuer_new(X509 *cert, EVP_PKEY *key, STACK_OF(X509) *roots,
                          const struct ca_policy *policy, struct ca_issuer **out,
                          struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    struct ca_issuer *iss = NULL;
    STACK_OF(X509) *chain = NULL;

    ENSURE(cert != NULL && key != NULL && roots != NULL && policy != NULL && out != NULL,
           CA_ERR_INVALID_ARGUMENT, "certificate, key, roots and policy are required");
    TRY(check_policy(policy, err));
    iss = OPENSSL_zalloc(sizeof(*iss));
    ENSURE(iss != NULL, CA_ERR_INTERNAL, "out of memory");
    iss->policy = *policy;

    TRY(own_copy(cert, &iss->cert_der, &iss->cert_der_len, &iss->cert, err));
    OSSL(EVP_PKEY_up_ref(key), CA_ERR_INTERNAL, "cannot reference the key");
    iss->key = key;
    OSSL(X509_check_private_key(iss->cert, iss->key), CA_ERR_KEY_MISMATCH,
         "the intermediate key does not match its certificate");
    TRY(signing_digest(iss->key, &iss->sign_md, err));
    TRY(digest_context(iss, 0, &iss->sign_ctx, err));
    TRY(digest_context(iss, 1, &iss->verify_ctx, err));
    TRY(add_roots(iss, roots, err));
    TRY(verify_chain(iss, err));
    TRY(read_name_constraints(iss, err));
    iss->not_before = ca_time_unix(X509_get0_notBefore(iss->cert));
    iss->not_after = ca_time_unix(X509_get0_notAfter(iss->cert));
    ENSURE(iss->not_before != 0 && iss->not_after != 0, CA_ERR_INVALID_CERT,
           "the intermediate's validity dates are unreadable");
    int name_len = i2d_X509_NAME(X509_get_subject_name(iss->cert), &iss->subject_der);
    ENSURE(name_len > 0, CA_ERR_INVALID_CERT, "the intermediate's subject cannot be encoded");
    iss->subject_der_len = (size_t)name_len;

    iss->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    iss->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    iss->sha384 = EVP_MD_fetch(NULL, "SHA384", NULL);
    iss->sha512 = EVP_MD_fetch(NULL, "SHA512", NULL);
    iss->ec_p256 = curve_template("P-256");
    iss->ec_p384 = curve_template("P-384");
    ENSURE(iss->sha1 != NULL && iss->sha256 != NULL && iss->sha384 != NULL && iss->sha512 != NULL &&
               iss->ec_p256 != NULL && iss->ec_p384 != NULL,
           CA_ERR_INTERNAL, "digests or curves unavailable");
    TRY(build_extensions(iss, err));
    iss->pool = ca_leaf_pool_new();
    ENSURE(iss->pool != NULL, CA_ERR_INTERNAL, "out of memory");

    chain = sk_X509_new_null();
    ENSURE(chain != NULL && sk_X509_push(chain, iss->cert) > 0, CA_ERR_INTERNAL, "out of memory");
    TRY(pem_of(chain, &iss->chain_pem, &iss->chain_pem_len, err));
    TRY(pem_of(iss->roots, &iss->bundle_pem, &iss->bundle_pem_len, err));

    *out = iss;
    iss = NULL;
out:
    ERR_clear_error();
    sk_X509_free(chain); /* borrowed elements */
    ca_issuer_free(iss);
    return rc;
}

const char *ca_issuer_chain_pem(const struct ca_issuer *issuer, size_t *out_len)
{
    *out_len = issuer->chain_pem_len;
    return issuer->chain_pem;
}

const char *ca_issuer_bundle_pem(const struct ca_issuer *issuer, size_t *out_len)
{
    *out_len = issuer->bundle_pem_len;
    return issuer->bundle_pem;
}

const unsigned char *ca_issuer_cert_der(const struct ca_issuer *issuer, size_t *out_len)
{
    *out_len = issuer->cert_der_len;
    return issuer->cert_der;
}

size_t ca_issuer_num_roots(const struct ca_issuer *issuer)
{
    return issuer->num_roots;
}

const unsigned char *ca_issuer_root_der(const struct ca_issuer *issuer, size_t i, size_t *out_len)
{
    if (i >= issuer->num_roots) {
        *out_len = 0;
        return NULL;
    }
    *out_len = issuer->root_der_len[i];
    return issuer->root_der[i];
}

int64_t ca_issuer_not_after(const struct ca_issuer *issuer)
{
    return issuer->not_after;
}

X509 *ca_issuer_cert(const struct ca_issuer *issuer)
{
    return issuer->cert;
}

EVP_PKEY *ca_issuer_key(const struct ca_issuer *issuer)
{
    return issuer->key;
}
