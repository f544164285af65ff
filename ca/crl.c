/* crl.c: X.509 v2 CRLs (RFC 5280 section 5): the CRLReason names, serials
 * written in hex, building and signing a CRL, PEM encoding, reading one back. */
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "internal.h"

static const struct {
    enum ca_crl_reason code;
    const char *name;
} reasons[] = {
    {CA_REASON_UNSPECIFIED, "unspecified"},
    {CA_REASON_KEY_COMPROMISE, "keyCompromise"},
    {CA_REASON_CA_COMPROMISE, "cACompromise"},
    {CA_REASON_AFFILIATION_CHANGED, "affiliationChanged"},
    {CA_REASON_SUPERSEDED, "superseded"},
    {CA_REASON_CESSATION_OF_OPERATION, "cessationOfOperation"},
    {CA_REASON_CERTIFICATE_HOLD, "certificateHold"},
    {CA_REASON_REMOVE_FROM_CRL, "removeFromCRL"},
    {CA_REASON_PRIVILEGE_WITHDRAWN, "privilegeWithdrawn"},
    {CA_REASON_AA_COMPROMISE, "aACompromise"},
};

enum ca_err ca_crl_reason_parse(const char *name, enum ca_crl_reason *out_reason,
                                struct ca_error *err)
{
    for (size_t i = 0; name != NULL && i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        if (strcmp(name, reasons[i].name) == 0) {
            *out_reason = reasons[i].code;
            return CA_OK;
        }
    }
    return ca_fail(err, CA_ERR_INVALID_ARGUMENT,
                   "unknown revocation reason: use an RFC 5280 name such as keyCompromise");
}

const char *ca_crl_reason_name(enum ca_crl_reason reason)
{
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        if (reasons[i].code == reason) {
            return reasons[i].name;
        }
    }
    return NULL;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

enum ca_err ca_serial_from_hex(const char *hex, size_t hex_len,
                               unsigned char out_serial[CA_MAX_SERIAL_LEN], size_t *out_serial_len,
                               struct ca_error *err)
{
    if (hex == NULL || hex_len == 0 || hex_len > (size_t)2 * CA_MAX_SERIAL_LEN) {
        return ca_fail(err, CA_ERR_INVALID_ARGUMENT, "a serial is 1..%d hex digits",
                       2 * CA_MAX_SERIAL_LEN);
    }
    for (size_t i = 0; i < hex_len; i++) {
        if (hex_value(hex[i]) < 0) {
            return ca_fail(err, CA_ERR_INVALID_ARGUMENT, "a serial holds only hex digits");
        }
    }
    size_t start = 0;
    while (start < hex_len && hex[start] == '0') {
        start++;
    }
    if (start == hex_len) {
        /* RFC 5280 4.1.2.2: "The serial number MUST be a positive integer". */
        return ca_fail(err, CA_ERR_INVALID_ARGUMENT, "a serial is positive, not zero");
    }
    size_t digits = hex_len - start;
    size_t len = (digits + 1) / 2;
    size_t pos = start;
    for (size_t i = 0; i < len; i++) {
        int hi = 0;
        if (i > 0 || digits % 2 == 0) {
            hi = hex_value(hex[pos++]);
        }
        int lo = hex_value(hex[pos++]);
        out_serial[i] = (unsigned char)(hi << 4 | lo);
    }
    *out_serial_len = len;
    return CA_OK;
}

static enum ca_err add_entry(X509_CRL *crl, const struct ca_crl_entry *entry, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    BIGNUM *bn = NULL;
    ASN1_INTEGER *serial = NULL;
    ASN1_TIME *when = NULL;
    ASN1_ENUMERATED *reason = NULL;
    X509_REVOKED *revoked = NULL;

    ENSURE(entry->serial_len >= 1 && entry->serial_len <= CA_MAX_SERIAL_LEN,
           CA_ERR_INVALID_ARGUMENT, "a revoked serial is 1..%d bytes", CA_MAX_SERIAL_LEN);
    ENSURE(ca_crl_reason_name(entry->reason) != NULL, CA_ERR_INVALID_ARGUMENT,
           "%d is not a CRLReason code", (int)entry->reason);
    bn = BN_bin2bn(entry->serial, (int)entry->serial_len, NULL); /* at most 20 bytes */
    ENSURE(bn != NULL, CA_ERR_INTERNAL, "out of memory");
    ENSURE(!BN_is_zero(bn), CA_ERR_INVALID_ARGUMENT, "a revoked serial is positive, not zero");
    serial = BN_to_ASN1_INTEGER(bn, NULL);
    ENSURE(serial != NULL, CA_ERR_INTERNAL, "out of memory");
    when = ASN1_TIME_set(NULL, (time_t)entry->revoked_at);
    ENSURE(when != NULL, CA_ERR_INVALID_ARGUMENT, "revocation time out of range");
    revoked = X509_REVOKED_new();
    ENSURE(revoked != NULL, CA_ERR_INTERNAL, "out of memory");
    OSSL(X509_REVOKED_set_serialNumber(revoked, serial), CA_ERR_INTERNAL, "cannot set a serial");
    OSSL(X509_REVOKED_set_revocationDate(revoked, when), CA_ERR_INTERNAL,
         "cannot set a revocation date");
    /* RFC 5280 5.3.1: "CRL issuers are strongly encouraged to include
     * meaningful reason codes in CRL entries; however, the reason code CRL
     * entry extension SHOULD be absent instead of using the unspecified (0)
     * reasonCode value." */
    if (entry->reason != CA_REASON_UNSPECIFIED) {
        reason = ASN1_ENUMERATED_new();
        ENSURE(reason != NULL, CA_ERR_INTERNAL, "out of memory");
        OSSL(ASN1_ENUMERATED_set(reason, (long)entry->reason), CA_ERR_INTERNAL,
             "cannot encode a reason");
        OSSL(X509_REVOKED_add1_ext_i2d(revoked, NID_crl_reason, reason, 0, 0), CA_ERR_INTERNAL,
             "cannot add a reasonCode");
    }
    OSSL(X509_CRL_add0_revoked(crl, revoked), CA_ERR_INTERNAL, "cannot add a CRL entry");
    revoked = NULL;
out:
    X509_REVOKED_free(revoked);
    ASN1_ENUMERATED_free(reason);
    ASN1_TIME_free(when);
    ASN1_INTEGER_free(serial);
    BN_free(bn);
    return rc;
}

/* After X509_CRL_sort() equal serials sit next to each other. */
static enum ca_err check_no_duplicates(X509_CRL *crl, struct ca_error *err)
{
    STACK_OF(X509_REVOKED) *list = X509_CRL_get_REVOKED(crl);
    for (int i = 1; i < sk_X509_REVOKED_num(list); i++) {
        const ASN1_INTEGER *a = X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(list, i - 1));
        const ASN1_INTEGER *b = X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(list, i));
        if (ASN1_INTEGER_cmp(a, b) == 0) {
            return ca_fail(err, CA_ERR_INVALID_ARGUMENT, "a serial is listed twice");
        }
    }
    return CA_OK;
}

static enum ca_err add_crl_extensions(X509_CRL *crl, X509 *issuer, uint64_t crl_number,
                                      struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    AUTHORITY_KEYID *akid = NULL;
    ASN1_INTEGER *number = NULL;

    /* RFC 5280 5.2.1: "Conforming CRL issuers MUST use the key identifier
     * method, and MUST include this extension in all CRLs issued." */
    const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(issuer);
    ENSURE(skid != NULL, CA_ERR_INVALID_CERT, "the issuer has no subjectKeyIdentifier");
    akid = AUTHORITY_KEYID_new();
    ENSURE(akid != NULL, CA_ERR_INTERNAL, "out of memory");
    akid->keyid = ASN1_OCTET_STRING_dup(skid);
    ENSURE(akid->keyid != NULL, CA_ERR_INTERNAL, "out of memory");
    OSSL(X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, akid, 0, X509V3_ADD_APPEND),
         CA_ERR_INTERNAL, "cannot add the authorityKeyIdentifier");
    /* RFC 5280 5.2.3: "CRL issuers conforming to this profile MUST include
     * this extension in all CRLs and MUST mark this extension as non-critical." */
    number = ASN1_INTEGER_new();
    ENSURE(number != NULL, CA_ERR_INTERNAL, "out of memory");
    OSSL(ASN1_INTEGER_set_uint64(number, crl_number), CA_ERR_INTERNAL, "bad CRL number");
    OSSL(X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, X509V3_ADD_APPEND), CA_ERR_INTERNAL,
         "cannot add the cRLNumber");
out:
    ASN1_INTEGER_free(number);
    AUTHORITY_KEYID_free(akid);
    return rc;
}

enum ca_err ca_crl_build(X509 *issuer, EVP_PKEY *issuer_key, const struct ca_crl_entry *entries,
                         size_t num_entries, uint64_t crl_number, int64_t this_update,
                         int64_t next_update, unsigned char **out_der, size_t *out_der_len,
                         struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    X509_CRL *crl = NULL;
    ASN1_TIME *t = NULL;
    unsigned char *der = NULL;
    const EVP_MD *md = NULL;

    ENSURE(issuer != NULL && issuer_key != NULL && (entries != NULL || num_entries == 0),
           CA_ERR_INVALID_ARGUMENT, "missing issuer, key or entries");
    ENSURE(num_entries <= INT32_MAX, CA_ERR_INVALID_ARGUMENT, "too many CRL entries");
    ENSURE(this_update < next_update, CA_ERR_INVALID_ARGUMENT,
           "nextUpdate must come after thisUpdate");
    TRY(ca_sign_digest(issuer_key, &md, err));
    OSSL(X509_check_private_key(issuer, issuer_key), CA_ERR_KEY_MISMATCH,
         "the key does not match the issuer certificate");

    crl = X509_CRL_new();
    ENSURE(crl != NULL, CA_ERR_INTERNAL, "out of memory");
    OSSL(X509_CRL_set_version(crl, X509_CRL_VERSION_2), CA_ERR_INTERNAL, "cannot set version");
    OSSL(X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)), CA_ERR_INTERNAL,
         "cannot set the issuer");
    /* ASN1_TIME_set picks UTCTime through 2049 and GeneralizedTime after, as
     * RFC 5280 5.1.2.4 and 5.1.2.5 require. */
    t = ASN1_TIME_set(NULL, (time_t)this_update);
    ENSURE(t != NULL, CA_ERR_INVALID_ARGUMENT, "thisUpdate out of range");
    OSSL(X509_CRL_set1_lastUpdate(crl, t), CA_ERR_INTERNAL, "cannot set thisUpdate");
    ENSURE(ASN1_TIME_set(t, (time_t)next_update) != NULL, CA_ERR_INVALID_ARGUMENT,
           "nextUpdate out of range");
    OSSL(X509_CRL_set1_nextUpdate(crl, t), CA_ERR_INTERNAL, "cannot set nextUpdate");
    for (size_t i = 0; i < num_entries; i++) {
        TRY(add_entry(crl, &entries[i], err));
    }
    OSSL(X509_CRL_sort(crl), CA_ERR_INTERNAL, "cannot sort the CRL");
    TRY(check_no_duplicates(crl, err));
    TRY(add_crl_extensions(crl, issuer, crl_number, err));
    OSSL(X509_CRL_sign(crl, issuer_key, md) > 0, CA_ERR_INTERNAL, "cannot sign the CRL");

    int len = i2d_X509_CRL(crl, &der);
    ENSURE(len > 0, CA_ERR_INTERNAL, "cannot encode the CRL");
    *out_der = der;
    *out_der_len = (size_t)len;
    der = NULL;
out:
    OPENSSL_free(der);
    ASN1_TIME_free(t);
    X509_CRL_free(crl);
    return rc;
}

enum ca_err ca_crl_der_to_pem(const unsigned char *der, size_t der_len, char **out_pem,
                              size_t *out_pem_len, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    BIO *bio = NULL;
    char *pem = NULL;

    ENSURE(der != NULL && der_len > 0 && der_len <= (size_t)CA_MAX_CRL_LEN, CA_ERR_INVALID_ARGUMENT,
           "a CRL is 1..%d bytes", CA_MAX_CRL_LEN);
    bio = BIO_new(BIO_s_mem());
    ENSURE(bio != NULL, CA_ERR_INTERNAL, "out of memory");
    OSSL(PEM_write_bio(bio, PEM_STRING_X509_CRL, "", der, (long)der_len) > 0, CA_ERR_INTERNAL,
         "cannot PEM-encode the CRL");
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    ENSURE(len > 0 && data != NULL, CA_ERR_INTERNAL, "cannot PEM-encode the CRL");
    pem = OPENSSL_malloc((size_t)len + 1);
    ENSURE(pem != NULL, CA_ERR_INTERNAL, "out of memory");
    memcpy(pem, data, (size_t)len);
    pem[len] = '\0';
    *out_pem = pem;
    *out_pem_len = (size_t)len;
    pem = NULL;
out:
    OPENSSL_free(pem);
    BIO_free(bio);
    return rc;
}

/* decode_crl accepts one DER CRL, or one PEM "X509 CRL" block with only blank
 * lines around it. */
static enum ca_err decode_crl(const unsigned char *data, size_t len, X509_CRL **out_crl,
                              struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    unsigned char *pem_der = NULL;
    long pem_der_len = 0;
    X509_CRL *crl = NULL;

    const unsigned char *der = data;
    long der_len = (long)len; /* at most CA_MAX_CRL_LEN */
    if (data[0] != 0x30) {    /* not a DER SEQUENCE, so PEM */
        const char *text = (const char *)data;
        size_t pos = 0;
        ENSURE(ca_pem_block_next(text, len, &pos, PEM_STRING_X509_CRL, NULL, &pem_der,
                                 &pem_der_len) == 1,
               CA_ERR_INVALID_CRL, "not a PEM or DER CRL");
        unsigned char *extra = NULL;
        long extra_len = 0;
        int more = ca_pem_block_next(text, len, &pos, NULL, NULL, &extra, &extra_len);
        OPENSSL_free(extra);
        ENSURE(more == 0, CA_ERR_INVALID_CRL, "more than one CRL, or text after it");
        der = pem_der;
        der_len = pem_der_len;
    }
    const unsigned char *p = der;
    crl = d2i_X509_CRL(NULL, &p, der_len);
    ERR_clear_error();
    ENSURE(crl != NULL && p == der + der_len, CA_ERR_INVALID_CRL, "not a CRL, or bytes after it");
    *out_crl = crl;
    crl = NULL;
out:
    X509_CRL_free(crl);
    OPENSSL_free(pem_der);
    return rc;
}

/* read_number copies |crl|'s cRLNumber into |info| (number_len 0 when absent). */
static enum ca_err read_number(const X509_CRL *crl, struct ca_crl_info *info, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    ASN1_INTEGER *number = NULL;
    BIGNUM *bn = NULL;
    int crit = 0;

    info->number_len = 0;
    number = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL);
    if (number == NULL) {
        ERR_clear_error();
        /* -1: absent; -2: more than once; else present but undecodable. */
        ENSURE(crit == -1, CA_ERR_INVALID_CRL, "a malformed or repeated cRLNumber");
        goto out;
    }
    /* RFC 5280 5.2.3: "CRLNumber ::= INTEGER (0..MAX)" */
    ENSURE(ASN1_STRING_type(number) == V_ASN1_INTEGER, CA_ERR_INVALID_CRL, "a negative cRLNumber");
    bn = ASN1_INTEGER_to_BN(number, NULL);
    ENSURE(bn != NULL, CA_ERR_INTERNAL, "out of memory");
    /* RFC 5280 5.2.3: "Conforming CRL issuers MUST NOT use CRLNumber values
     * longer than 20 octets." */
    int n = BN_num_bytes(bn);
    ENSURE(n <= CA_MAX_CRL_NUMBER_LEN, CA_ERR_INVALID_CRL, "a cRLNumber longer than %d octets",
           CA_MAX_CRL_NUMBER_LEN);
    if (n == 0) {
        info->number[0] = 0;
        info->number_len = 1;
        goto out;
    }
    ENSURE(BN_bn2bin(bn, info->number) == n, CA_ERR_INTERNAL, "cannot copy the cRLNumber");
    info->number_len = (size_t)n;
out:
    BN_free(bn);
    ASN1_INTEGER_free(number);
    return rc;
}

int ca_crl_number_cmp(const struct ca_crl_info *a, const struct ca_crl_info *b)
{
    /* Both without leading zeros: the longer is the larger. */
    if (a->number_len != b->number_len) {
        return a->number_len < b->number_len ? -1 : 1;
    }
    return memcmp(a->number, b->number, a->number_len);
}

enum ca_err ca_crl_parse(const unsigned char *data, size_t len, X509 *issuer,
                         unsigned char **out_der, size_t *out_der_len, struct ca_crl_info *out_info,
                         struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    X509_CRL *crl = NULL;
    unsigned char *der = NULL;
    struct ca_crl_info info;

    memset(&info, 0, sizeof(info));
    ENSURE(data != NULL && len > 0 && len <= (size_t)CA_MAX_CRL_LEN, CA_ERR_INVALID_CRL,
           "a CRL is 1..%d bytes", CA_MAX_CRL_LEN);
    TRY(decode_crl(data, len, &crl, err));
    if (issuer != NULL) {
        ENSURE(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) == 0,
               CA_ERR_UNTRUSTED_CERT, "the CRL was issued by another CA");
        EVP_PKEY *pub = X509_get0_pubkey(issuer);
        ENSURE(pub != NULL, CA_ERR_INVALID_CERT, "unreadable issuer key");
        OSSL(X509_CRL_verify(crl, pub), CA_ERR_UNTRUSTED_CERT, "bad CRL signature");
    }
    info.this_update = ca_time_unix(X509_CRL_get0_lastUpdate(crl));
    info.next_update = ca_time_unix(X509_CRL_get0_nextUpdate(crl));
    TRY(read_number(crl, &info, err));
    int der_len = i2d_X509_CRL(crl, &der);
    ENSURE(der_len > 0, CA_ERR_INTERNAL, "cannot encode the CRL");
    if (out_info != NULL) {
        *out_info = info;
    }
    *out_der = der;
    *out_der_len = (size_t)der_len;
    der = NULL;
out:
    OPENSSL_free(der);
    X509_CRL_free(crl);
    return rc;
}

enum ca_err ca_crl_lists_cert(const unsigned char *der, size_t der_len, X509 *cert, int *out_listed,
                              struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    X509_CRL *crl = NULL;
    X509_REVOKED *entry = NULL;

    ENSURE(der != NULL && der_len > 0 && der_len <= (size_t)CA_MAX_CRL_LEN && cert != NULL &&
               out_listed != NULL,
           CA_ERR_INVALID_ARGUMENT, "missing CRL or certificate");
    const unsigned char *p = der;
    crl = d2i_X509_CRL(NULL, &p, (long)der_len); /* length bounded above */
    ERR_clear_error();
    ENSURE(crl != NULL && p == der + der_len, CA_ERR_INVALID_CRL, "not a CRL, or bytes after it");
    /* 1: listed; 2: listed as removeFromCRL; 0: not listed, or the CRL's
     * issuer is not the certificate's (it compares the names). */
    *out_listed = X509_CRL_get0_by_cert(crl, &entry, cert) == 1;
out:
    X509_CRL_free(crl);
    return rc;
}

enum ca_err ca_crl_write(const char *path, const unsigned char *der, size_t der_len,
                         struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    char *pem = NULL;
    size_t pem_len = 0;

    ENSURE(path != NULL, CA_ERR_INVALID_ARGUMENT, "missing path");
    TRY(ca_crl_der_to_pem(der, der_len, &pem, &pem_len, err));
    TRY(ca_file_write_new(path, pem, pem_len, 0644, err));
out:
    OPENSSL_free(pem);
    return rc;
}
