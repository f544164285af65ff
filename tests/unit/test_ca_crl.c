/* test_ca_crl.c: CRL building (ca/crl.c), checked by parsing the DER back and
 * with the real openssl binary (`openssl crl`, `openssl verify -crl_check`). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "revocation_fixture.h"
#include "testpki.h"

TestSuite(ca_crl, .init = pki_setup, .fini = pki_teardown);

/* ---- Helpers for the tests ---- */

static struct ca_crl_entry entry(unsigned long serial, int64_t when, enum ca_crl_reason reason)
{
    struct ca_crl_entry e;
    memset(&e, 0, sizeof(e));
    unsigned char be[8];
    for (int i = 7; i >= 0; i--) {
        be[i] = (unsigned char)(serial & 0xff);
        serial >>= 8;
    }
    size_t skip = 0;
    while (skip < 7 && be[skip] == 0) {
        skip++;
    }
    memcpy(e.serial, be + skip, 8 - skip);
    e.serial_len = 8 - skip;
    e.revoked_at = when;
    e.reason = reason;
    return e;
}

static struct ca_crl_entry entry_of(X509 *cert, int64_t when, enum ca_crl_reason reason)
{
    struct ca_crl_entry e;
    memset(&e, 0, sizeof(e));
    e.serial_len = serial_of_cert(cert, e.serial);
    e.revoked_at = when;
    e.reason = reason;
    return e;
}

static X509_CRL *build(X509 *issuer, EVP_PKEY *key, const struct ca_crl_entry *entries, size_t num)
{
    unsigned char *der = NULL;
    size_t der_len = 0;
    struct ca_error err = {0};
    enum ca_err rc =
        ca_crl_build(issuer, key, entries, num, 42, NOW, NOW + 86400, &der, &der_len, &err);
    cr_assert_eq(rc, CA_OK, "%s: %s", ca_err_name(rc), err.msg);
    const unsigned char *p = der;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)der_len);
    cr_assert_not_null(crl);
    cr_assert_eq(p, der + der_len);
    OPENSSL_free(der);
    return crl;
}

static int64_t unix_time(const ASN1_TIME *t)
{
    struct tm tm;
    cr_assert_eq(ASN1_TIME_to_tm(t, &tm), 1);
    return (int64_t)timegm(&tm);
}

static long serial_of(const X509_REVOKED *rev)
{
    return ASN1_INTEGER_get(X509_REVOKED_get0_serialNumber(rev));
}

static void write_crl_der(const char *name, X509 *issuer, EVP_PKEY *key,
                          const struct ca_crl_entry *entries, size_t num)
{
    unsigned char *der = NULL;
    size_t der_len = 0;
    cr_assert_eq(ca_crl_build(issuer, key, entries, num, 1, (int64_t)time(NULL) - 60,
                              (int64_t)time(NULL) + 3600, &der, &der_len, NULL),
                 CA_OK);
    write_file(name, der, der_len);
    OPENSSL_free(der);
}

static void write_crl_pem(const char *name, X509 *issuer, EVP_PKEY *key,
                          const struct ca_crl_entry *entries, size_t num)
{
    unsigned char *der = NULL;
    size_t der_len = 0;
    char *pem = NULL;
    size_t pem_len = 0;
    cr_assert_eq(ca_crl_build(issuer, key, entries, num, 1, (int64_t)time(NULL) - 60,
                              (int64_t)time(NULL) + 3600, &der, &der_len, NULL),
                 CA_OK);
    cr_assert_eq(ca_crl_der_to_pem(der, der_len, &pem, &pem_len, NULL), CA_OK);
    write_file(name, pem, pem_len);
    OPENSSL_free(pem);
    OPENSSL_free(der);
}

/* ---- Structure ---- */

Test(ca_crl, builds_a_version_2_crl_named_after_the_issuer)
{
    X509_CRL *crl = build(inter, int_key, NULL, 0);
    cr_assert_eq(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
    cr_assert_eq(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(inter)), 0);
    /* RFC 5280 5.1.2.6: "When there are no revoked certificates, the revoked
     * certificates list MUST be absent." */
    cr_assert_null(X509_CRL_get_REVOKED(crl));
    X509_CRL_free(crl);
}

Test(ca_crl, sets_this_update_and_next_update)
{
    X509_CRL *crl = build(inter, int_key, NULL, 0);
    cr_assert_eq(unix_time(X509_CRL_get0_lastUpdate(crl)), NOW);
    cr_assert_eq(unix_time(X509_CRL_get0_nextUpdate(crl)), NOW + 86400);
    X509_CRL_free(crl);
}

Test(ca_crl, carries_the_issuer_skid_as_authority_key_identifier)
{
    X509_CRL *crl = build(inter, int_key, NULL, 0);
    AUTHORITY_KEYID *akid = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, NULL, NULL);
    cr_assert_not_null(akid);
    cr_assert_not_null(akid->keyid);
    cr_assert_eq(ASN1_OCTET_STRING_cmp(akid->keyid, X509_get0_subject_key_id(inter)), 0);
    AUTHORITY_KEYID_free(akid);
    X509_CRL_free(crl);
}

Test(ca_crl, carries_the_crl_number_non_critical)
{
    X509_CRL *crl = build(inter, int_key, NULL, 0);
    int crit = -1;
    ASN1_INTEGER *number = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL);
    cr_assert_not_null(number);
    cr_assert_eq(ASN1_INTEGER_get(number), 42);
    cr_assert_eq(crit, 0);
    ASN1_INTEGER_free(number);
    X509_CRL_free(crl);
}

Test(ca_crl, has_no_issuing_distribution_point)
{
    X509_CRL *crl = build(inter, int_key, NULL, 0);
    cr_assert_lt(X509_CRL_get_ext_by_NID(crl, NID_issuing_distribution_point, -1), 0);
    cr_assert_eq(X509_CRL_get_ext_count(crl), 2);
    X509_CRL_free(crl);
}

Test(ca_crl, sorts_entries_by_serial_with_their_dates)
{
    struct ca_crl_entry e[3] = {
        entry(0x0300, NOW - 30, CA_REASON_UNSPECIFIED),
        entry(0x05, NOW - 20, CA_REASON_KEY_COMPROMISE),
        entry(0x010203, NOW - 10, CA_REASON_SUPERSEDED),
    };
    X509_CRL *crl = build(inter, int_key, e, 3);
    STACK_OF(X509_REVOKED) *list = X509_CRL_get_REVOKED(crl);
    cr_assert_eq(sk_X509_REVOKED_num(list), 3);
    cr_assert_eq(serial_of(sk_X509_REVOKED_value(list, 0)), 0x05);
    cr_assert_eq(serial_of(sk_X509_REVOKED_value(list, 1)), 0x0300);
    cr_assert_eq(serial_of(sk_X509_REVOKED_value(list, 2)), 0x010203);
    cr_assert_eq(unix_time(X509_REVOKED_get0_revocationDate(sk_X509_REVOKED_value(list, 0))),
                 NOW - 20);
    cr_assert_eq(unix_time(X509_REVOKED_get0_revocationDate(sk_X509_REVOKED_value(list, 2))),
                 NOW - 10);
    X509_CRL_free(crl);
}

Test(ca_crl, writes_a_reason_code_unless_unspecified)
{
    struct ca_crl_entry e[2] = {
        entry(0x10, NOW, CA_REASON_UNSPECIFIED),
        entry(0x20, NOW, CA_REASON_KEY_COMPROMISE),
    };
    X509_CRL *crl = build(inter, int_key, e, 2);
    STACK_OF(X509_REVOKED) *list = X509_CRL_get_REVOKED(crl);
    X509_REVOKED *unspecified = sk_X509_REVOKED_value(list, 0);
    X509_REVOKED *compromised = sk_X509_REVOKED_value(list, 1);
    cr_assert_eq(X509_REVOKED_get_ext_count(unspecified), 0);
    ASN1_ENUMERATED *reason = X509_REVOKED_get_ext_d2i(compromised, NID_crl_reason, NULL, NULL);
    cr_assert_not_null(reason);
    cr_assert_eq(ASN1_ENUMERATED_get(reason), 1);
    ASN1_ENUMERATED_free(reason);
    X509_CRL_free(crl);
}

Test(ca_crl, signature_verifies_with_the_issuer_key_only)
{
    X509_CRL *crl = build(inter, int_key, NULL, 0);
    cr_assert_eq(X509_CRL_verify(crl, X509_get0_pubkey(inter)), 1);
    cr_assert_neq(X509_CRL_verify(crl, X509_get0_pubkey(root)), 1);
    cr_assert_eq(X509_CRL_get_signature_nid(crl), NID_ecdsa_with_SHA256);
    X509_CRL_free(crl);
}

Test(ca_crl, signs_with_sha384_for_a_p384_issuer)
{
    struct testpki other;
    testpki_init_ex(&other, "example.org", TESTPKI_P256, TESTPKI_P384, 86400, NULL, 0);
    X509_CRL *crl = build(other.inter, other.inter_key, NULL, 0);
    cr_assert_eq(X509_CRL_get_signature_nid(crl), NID_ecdsa_with_SHA384);
    cr_assert_eq(X509_CRL_verify(crl, other.inter_key), 1);
    X509_CRL_free(crl);
    testpki_cleanup(&other);
}

Test(ca_crl, signs_pure_eddsa_for_an_ed25519_issuer)
{
    struct testpki other;
    testpki_init_ex(&other, "example.org", TESTPKI_P256, TESTPKI_ED25519, 86400, NULL, 0);
    X509_CRL *crl = build(other.inter, other.inter_key, NULL, 0);
    cr_assert_eq(X509_CRL_get_signature_nid(crl), NID_ED25519);
    cr_assert_eq(X509_CRL_verify(crl, other.inter_key), 1);
    X509_CRL_free(crl);
    testpki_cleanup(&other);
}

Test(ca_crl, signs_with_sha256_for_an_rsa_issuer)
{
    struct testpki other;
    testpki_init_ex(&other, "example.org", TESTPKI_P256, TESTPKI_RSA2048, 86400, NULL, 0);
    X509_CRL *crl = build(other.inter, other.inter_key, NULL, 0);
    cr_assert_eq(X509_CRL_get_signature_nid(crl), NID_sha256WithRSAEncryption);
    X509_CRL_free(crl);
    testpki_cleanup(&other);
}

Test(ca_crl, uses_generalized_time_after_2049)
{
    unsigned char *der = NULL;
    size_t der_len = 0;
    int64_t y2051 = 2556144000; /* 2051-01-01 */
    cr_assert_eq(ca_crl_build(inter, int_key, NULL, 0, 1, NOW, y2051, &der, &der_len, NULL), CA_OK);
    const unsigned char *p = der;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)der_len);
    cr_assert_not_null(crl);
    cr_assert_eq(ASN1_STRING_type(X509_CRL_get0_nextUpdate(crl)), V_ASN1_GENERALIZEDTIME);
    cr_assert_eq(ASN1_STRING_type(X509_CRL_get0_lastUpdate(crl)), V_ASN1_UTCTIME);
    X509_CRL_free(crl);
    OPENSSL_free(der);
}

/* ---- Refusals ---- */

static enum ca_err try_build(X509 *issuer, EVP_PKEY *key, const struct ca_crl_entry *entries,
                             size_t num, int64_t this_update, int64_t next_update)
{
    unsigned char *der = NULL;
    size_t der_len = 0;
    struct ca_error err = {0};
    enum ca_err rc =
        ca_crl_build(issuer, key, entries, num, 1, this_update, next_update, &der, &der_len, &err);
    cr_assert(rc == CA_OK || err.msg[0] != '\0', "a failure comes with a message");
    OPENSSL_free(der);
    return rc;
}

Test(ca_crl, refuses_a_serial_listed_twice)
{
    struct ca_crl_entry e[3] = {
        entry(0x77, NOW, CA_REASON_UNSPECIFIED),
        entry(0x01, NOW, CA_REASON_UNSPECIFIED),
        entry(0x77, NOW, CA_REASON_SUPERSEDED),
    };
    cr_assert_eq(try_build(inter, int_key, e, 3, NOW, NOW + 60), CA_ERR_INVALID_ARGUMENT);
}

Test(ca_crl, refuses_next_update_not_after_this_update)
{
    cr_assert_eq(try_build(inter, int_key, NULL, 0, NOW, NOW), CA_ERR_INVALID_ARGUMENT);
    cr_assert_eq(try_build(inter, int_key, NULL, 0, NOW, NOW - 1), CA_ERR_INVALID_ARGUMENT);
}

Test(ca_crl, refuses_a_zero_empty_or_oversized_serial)
{
    struct ca_crl_entry e = entry(1, NOW, CA_REASON_UNSPECIFIED);
    e.serial[0] = 0;
    cr_assert_eq(try_build(inter, int_key, &e, 1, NOW, NOW + 60), CA_ERR_INVALID_ARGUMENT);
    e = entry(1, NOW, CA_REASON_UNSPECIFIED);
    e.serial_len = 0;
    cr_assert_eq(try_build(inter, int_key, &e, 1, NOW, NOW + 60), CA_ERR_INVALID_ARGUMENT);
    e.serial_len = CA_MAX_SERIAL_LEN + 1;
    cr_assert_eq(try_build(inter, int_key, &e, 1, NOW, NOW + 60), CA_ERR_INVALID_ARGUMENT);
}

Test(ca_crl, accepts_a_20_byte_serial)
{
    struct ca_crl_entry e = entry(1, NOW, CA_REASON_UNSPECIFIED);
    memset(e.serial, 0xff, CA_MAX_SERIAL_LEN);
    e.serial_len = CA_MAX_SERIAL_LEN;
    cr_assert_eq(try_build(inter, int_key, &e, 1, NOW, NOW + 60), CA_OK);
}

Test(ca_crl, refuses_a_reason_that_is_not_a_crl_reason)
{
    struct ca_crl_entry e = entry(1, NOW, (enum ca_crl_reason)7);
    cr_assert_eq(try_build(inter, int_key, &e, 1, NOW, NOW + 60), CA_ERR_INVALID_ARGUMENT);
    e.reason = (enum ca_crl_reason)11;
    cr_assert_eq(try_build(inter, int_key, &e, 1, NOW, NOW + 60), CA_ERR_INVALID_ARGUMENT);
}

Test(ca_crl, refuses_a_key_that_does_not_match_the_issuer)
{
    cr_assert_eq(try_build(inter, root_key, NULL, 0, NOW, NOW + 60), CA_ERR_KEY_MISMATCH);
}

/* without_skid re-signs a copy of the intermediate without its SKID. */
static X509 *without_skid(void)
{
    X509 *copy = X509_dup(inter);
    cr_assert_not_null(copy);
    X509_EXTENSION *ext =
        X509_delete_ext(copy, X509_get_ext_by_NID(copy, NID_subject_key_identifier, -1));
    cr_assert_not_null(ext);
    X509_EXTENSION_free(ext);
    cr_assert_gt(X509_sign(copy, root_key, EVP_sha256()), 0);
    unsigned char *der = NULL;
    int len = i2d_X509(copy, &der);
    const unsigned char *p = der;
    X509 *fresh = d2i_X509(NULL, &p, len); /* no cached extension data */
    cr_assert_not_null(fresh);
    OPENSSL_free(der);
    X509_free(copy);
    return fresh;
}

Test(ca_crl, refuses_an_issuer_without_subject_key_identifier)
{
    X509 *ca = without_skid();
    cr_assert_null(X509_get0_subject_key_id(ca));
    cr_assert_eq(try_build(ca, int_key, NULL, 0, NOW, NOW + 60), CA_ERR_INVALID_CERT);
    X509_free(ca);
}

Test(ca_crl, refuses_a_missing_issuer)
{
    cr_assert_eq(try_build(NULL, int_key, NULL, 0, NOW, NOW + 60), CA_ERR_INVALID_ARGUMENT);
}

/* ---- With the openssl binary ---- */

Test(ca_crl, openssl_crl_verifies_the_signature)
{
    struct ca_crl_entry e = entry(0x1001, NOW, CA_REASON_KEY_COMPROMISE);
    write_crl_der("int.crl", inter, int_key, &e, 1);
    char out[4096];
    int status = run(out, sizeof(out),
                     "openssl crl -inform DER -in int.crl -CAfile intermediate.pem -noout");
    cr_assert_eq(status, 0, "%s", out);
    cr_assert_not_null(strstr(out, "verify OK"), "%s", out);
    status = run(out, sizeof(out), "openssl crl -inform DER -in int.crl -noout -text");
    cr_assert_eq(status, 0, "%s", out);
    cr_assert_not_null(strstr(out, "Serial Number: 1001"), "%s", out);
    cr_assert_not_null(strstr(out, "Key Compromise"), "%s", out);
}

Test(ca_crl, openssl_crl_refuses_another_issuer)
{
    write_crl_der("int.crl", inter, int_key, NULL, 0);
    char out[4096];
    int status =
        run(out, sizeof(out), "openssl crl -inform DER -in int.crl -CAfile root.pem -noout");
    cr_assert_neq(status, 0, "%s", out);
}

Test(ca_crl, openssl_verify_crl_check_fails_for_a_revoked_leaf_only)
{
    struct ca_crl_entry e = entry_of(leaf1, (int64_t)time(NULL) - 30, CA_REASON_KEY_COMPROMISE);
    write_crl_pem("int.crl.pem", inter, int_key, &e, 1);
    char out[4096];
    int status = run(out, sizeof(out),
                     "openssl verify -crl_check -CRLfile int.crl.pem -CAfile root.pem "
                     "-untrusted intermediate.pem leaf1.pem");
    cr_assert_neq(status, 0, "%s", out);
    cr_assert_not_null(strstr(out, "certificate revoked"), "%s", out);
    status = run(out, sizeof(out),
                 "openssl verify -crl_check -CRLfile int.crl.pem -CAfile root.pem "
                 "-untrusted intermediate.pem leaf2.pem");
    cr_assert_eq(status, 0, "%s", out);
}

Test(ca_crl, openssl_verify_crl_check_all_needs_the_root_crl_too)
{
    write_crl_pem("int.crl.pem", inter, int_key, NULL, 0);
    write_crl_pem("root.crl.pem", root, root_key, NULL, 0);
    char out[4096];
    int status = run(out, sizeof(out),
                     "openssl verify -crl_check_all -CRLfile int.crl.pem -CAfile root.pem "
                     "-untrusted intermediate.pem leaf2.pem");
    cr_assert_neq(status, 0, "without the root's CRL: %s", out);
    status = run(out, sizeof(out),
                 "cat int.crl.pem root.crl.pem > crls.pem && openssl verify -crl_check_all "
                 "-CRLfile crls.pem -CAfile root.pem -untrusted intermediate.pem leaf2.pem");
    cr_assert_eq(status, 0, "%s", out);
}

Test(ca_crl, openssl_verify_crl_check_all_fails_for_a_revoked_intermediate)
{
    struct ca_crl_entry e = entry_of(inter, (int64_t)time(NULL) - 30, CA_REASON_CA_COMPROMISE);
    write_crl_pem("int.crl.pem", inter, int_key, NULL, 0);
    write_crl_pem("root.crl.pem", root, root_key, &e, 1);
    char out[4096];
    int status = run(out, sizeof(out),
                     "cat int.crl.pem root.crl.pem > crls.pem && openssl verify -crl_check_all "
                     "-CRLfile crls.pem -CAfile root.pem -untrusted intermediate.pem leaf2.pem");
    cr_assert_neq(status, 0, "%s", out);
    cr_assert_not_null(strstr(out, "certificate revoked"), "%s", out);
}

/* ---- Reasons and serials ---- */

Test(ca_crl, maps_every_rfc5280_reason_name_both_ways)
{
    static const struct {
        const char *name;
        int code;
    } want[] = {
        {"unspecified", 0},        {"keyCompromise", 1}, {"cACompromise", 2},
        {"affiliationChanged", 3}, {"superseded", 4},    {"cessationOfOperation", 5},
        {"certificateHold", 6},    {"removeFromCRL", 8}, {"privilegeWithdrawn", 9},
        {"aACompromise", 10},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        enum ca_crl_reason reason = CA_REASON_UNSPECIFIED;
        cr_assert_eq(ca_crl_reason_parse(want[i].name, &reason, NULL), CA_OK, "%s", want[i].name);
        cr_assert_eq((int)reason, want[i].code, "%s", want[i].name);
        cr_assert_str_eq(ca_crl_reason_name(reason), want[i].name);
    }
}

Test(ca_crl, refuses_an_unknown_or_miscased_reason_name)
{
    enum ca_crl_reason reason = CA_REASON_SUPERSEDED;
    struct ca_error err = {0};
    cr_assert_eq(ca_crl_reason_parse("KeyCompromise", &reason, &err), CA_ERR_INVALID_ARGUMENT);
    cr_assert_eq(err.code, CA_ERR_INVALID_ARGUMENT);
    cr_assert_eq(ca_crl_reason_parse("", &reason, NULL), CA_ERR_INVALID_ARGUMENT);
    cr_assert_eq(ca_crl_reason_parse(NULL, &reason, NULL), CA_ERR_INVALID_ARGUMENT);
    cr_assert_eq(reason, CA_REASON_SUPERSEDED, "untouched on failure");
}

Test(ca_crl, names_no_reason_for_code_7)
{
    cr_assert_null(ca_crl_reason_name((enum ca_crl_reason)7));
    cr_assert_null(ca_crl_reason_name((enum ca_crl_reason) - 1));
}

Test(ca_crl, parses_hex_serials_in_either_case)
{
    unsigned char s[CA_MAX_SERIAL_LEN];
    size_t len = 0;
    cr_assert_eq(ca_serial_from_hex("0a1B", 4, s, &len, NULL), CA_OK);
    cr_assert_eq(len, 2);
    cr_assert_eq(s[0], 0x0a);
    cr_assert_eq(s[1], 0x1b);
    cr_assert_eq(ca_serial_from_hex("000f", 4, s, &len, NULL), CA_OK);
    cr_assert_eq(len, 1, "leading zeros dropped");
    cr_assert_eq(s[0], 0x0f);
    cr_assert_eq(ca_serial_from_hex("abc", 3, s, &len, NULL), CA_OK);
    cr_assert_eq(len, 2);
    cr_assert_eq(s[0], 0x0a);
    cr_assert_eq(s[1], 0xbc);
    const char *max = "ffffffffffffffffffffffffffffffffffffffff";
    cr_assert_eq(ca_serial_from_hex(max, 40, s, &len, NULL), CA_OK);
    cr_assert_eq(len, 20);
}

Test(ca_crl, refuses_bad_hex_serials)
{
    unsigned char s[CA_MAX_SERIAL_LEN];
    size_t len = 0;
    cr_assert_eq(ca_serial_from_hex("", 0, s, &len, NULL), CA_ERR_INVALID_ARGUMENT);
    cr_assert_eq(ca_serial_from_hex("000", 3, s, &len, NULL), CA_ERR_INVALID_ARGUMENT);
    cr_assert_eq(ca_serial_from_hex("12:34", 5, s, &len, NULL), CA_ERR_INVALID_ARGUMENT);
    cr_assert_eq(ca_serial_from_hex("0x12", 4, s, &len, NULL), CA_ERR_INVALID_ARGUMENT);
    cr_assert_eq(ca_serial_from_hex("12g", 3, s, &len, NULL), CA_ERR_INVALID_ARGUMENT);
    const char *long41 = "1ffffffffffffffffffffffffffffffffffffffff";
    cr_assert_eq(ca_serial_from_hex(long41, 41, s, &len, NULL), CA_ERR_INVALID_ARGUMENT);
}

/* ---- PEM and reading back ---- */

static void built_der(unsigned char **der, size_t *der_len)
{
    struct ca_crl_entry e = entry(0x1001, NOW, CA_REASON_KEY_COMPROMISE);
    cr_assert_eq(ca_crl_build(inter, int_key, &e, 1, 5, NOW, NOW + 600, der, der_len, NULL), CA_OK);
}

Test(ca_crl, pem_encodes_the_same_crl)
{
    unsigned char *der = NULL;
    size_t der_len = 0;
    char *pem = NULL;
    size_t pem_len = 0;
    built_der(&der, &der_len);
    cr_assert_eq(ca_crl_der_to_pem(der, der_len, &pem, &pem_len, NULL), CA_OK);
    cr_assert_eq(strlen(pem), pem_len);
    cr_assert_eq(strncmp(pem, "-----BEGIN X509 CRL-----\n", 25), 0);
    BIO *bio = BIO_new_mem_buf(pem, (int)pem_len);
    X509_CRL *crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
    cr_assert_not_null(crl);
    unsigned char *again = NULL;
    int again_len = i2d_X509_CRL(crl, &again);
    cr_assert_eq((size_t)again_len, der_len);
    cr_assert_eq(memcmp(again, der, der_len), 0);
    OPENSSL_free(again);
    X509_CRL_free(crl);
    BIO_free(bio);
    OPENSSL_free(pem);
    OPENSSL_free(der);
}

Test(ca_crl, parses_a_der_or_pem_crl_from_its_issuer)
{
    unsigned char *der = NULL;
    size_t der_len = 0;
    char *pem = NULL;
    size_t pem_len = 0;
    unsigned char *out = NULL;
    size_t out_len = 0;
    struct ca_crl_info info;
    built_der(&der, &der_len);
    cr_assert_eq(ca_crl_parse(der, der_len, inter, &out, &out_len, &info, NULL), CA_OK);
    cr_assert_eq(out_len, der_len);
    cr_assert_eq(memcmp(out, der, der_len), 0);
    cr_assert_eq(info.this_update, NOW);
    cr_assert_eq(info.next_update, NOW + 600);
    cr_assert_eq(info.number_len, 1);
    cr_assert_eq(info.number[0], 5);
    OPENSSL_free(out);
    cr_assert_eq(ca_crl_der_to_pem(der, der_len, &pem, &pem_len, NULL), CA_OK);
    cr_assert_eq(
        ca_crl_parse((const unsigned char *)pem, pem_len, inter, &out, &out_len, NULL, NULL),
        CA_OK);
    cr_assert_eq(out_len, der_len);
    cr_assert_eq(memcmp(out, der, der_len), 0);
    OPENSSL_free(out);
    OPENSSL_free(pem);
    OPENSSL_free(der);
}

Test(ca_crl, parse_refuses_trailing_bytes_garbage_and_two_crls)
{
    unsigned char *der = NULL;
    size_t der_len = 0;
    char *pem = NULL;
    size_t pem_len = 0;
    unsigned char *out = NULL;
    size_t out_len = 0;
    built_der(&der, &der_len);
    unsigned char *longer = OPENSSL_malloc(der_len + 1);
    memcpy(longer, der, der_len);
    longer[der_len] = 0;
    cr_assert_eq(ca_crl_parse(longer, der_len + 1, NULL, &out, &out_len, NULL, NULL),
                 CA_ERR_INVALID_CRL);
    cr_assert_eq(ca_crl_parse(der, der_len - 1, NULL, &out, &out_len, NULL, NULL),
                 CA_ERR_INVALID_CRL);
    const unsigned char garbage[] = "not a CRL at all";
    cr_assert_eq(ca_crl_parse(garbage, sizeof(garbage) - 1, NULL, &out, &out_len, NULL, NULL),
                 CA_ERR_INVALID_CRL);
    cr_assert_eq(ca_crl_parse(garbage, 0, NULL, &out, &out_len, NULL, NULL), CA_ERR_INVALID_CRL);
    cr_assert_eq(ca_crl_der_to_pem(der, der_len, &pem, &pem_len, NULL), CA_OK);
    size_t two_len = 2 * pem_len;
    char *two = OPENSSL_malloc(two_len);
    memcpy(two, pem, pem_len);
    memcpy(two + pem_len, pem, pem_len);
    cr_assert_eq(
        ca_crl_parse((const unsigned char *)two, two_len, NULL, &out, &out_len, NULL, NULL),
        CA_ERR_INVALID_CRL);
    OPENSSL_free(two);
    OPENSSL_free(longer);
    OPENSSL_free(pem);
    OPENSSL_free(der);
}

Test(ca_crl, parse_refuses_a_crl_of_another_issuer_or_a_bad_signature)
{
    unsigned char *der = NULL;
    size_t der_len = 0;
    unsigned char *out = NULL;
    size_t out_len = 0;
    built_der(&der, &der_len);
    cr_assert_eq(ca_crl_parse(der, der_len, root, &out, &out_len, NULL, NULL),
                 CA_ERR_UNTRUSTED_CERT);
    der[der_len - 1] ^= 0x01; /* the last byte of the signature */
    cr_assert_eq(ca_crl_parse(der, der_len, inter, &out, &out_len, NULL, NULL),
                 CA_ERR_UNTRUSTED_CERT);
    OPENSSL_free(der);
}

/* hand_made_der signs, with the intermediate, a CRL whose cRLNumber is the
 * big-endian |number| (|len| bytes, |negative|), or has none when |len| is 0:
 * numbers ca_crl_build cannot make. */
static void hand_made_der(const unsigned char *number, size_t len, int negative,
                          unsigned char **der, size_t *der_len)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t)NOW);
    cr_assert(crl != NULL && t != NULL);
    cr_assert_eq(X509_CRL_set_version(crl, X509_CRL_VERSION_2), 1);
    cr_assert_eq(X509_CRL_set_issuer_name(crl, X509_get_subject_name(inter)), 1);
    cr_assert_eq(X509_CRL_set1_lastUpdate(crl, t), 1);
    cr_assert_not_null(ASN1_TIME_set(t, (time_t)(NOW + 600)));
    cr_assert_eq(X509_CRL_set1_nextUpdate(crl, t), 1);
    if (len > 0) {
        BIGNUM *bn = BN_bin2bn(number, (int)len, NULL);
        cr_assert_not_null(bn);
        BN_set_negative(bn, negative);
        ASN1_INTEGER *n = BN_to_ASN1_INTEGER(bn, NULL);
        cr_assert_not_null(n);
        cr_assert_eq(X509_CRL_add1_ext_i2d(crl, NID_crl_number, n, 0, X509V3_ADD_APPEND), 1);
        ASN1_INTEGER_free(n);
        BN_free(bn);
    }
    cr_assert_gt(X509_CRL_sign(crl, int_key, EVP_sha256()), 0);
    *der = NULL;
    int n = i2d_X509_CRL(crl, der);
    cr_assert_gt(n, 0);
    *der_len = (size_t)n;
    ASN1_TIME_free(t);
    X509_CRL_free(crl);
}

Test(ca_crl, parse_reads_crl_numbers_up_to_20_octets_and_orders_them)
{
    unsigned char big[20];
    unsigned char *der = NULL;
    size_t der_len = 0;
    unsigned char *out = NULL;
    size_t out_len = 0;
    struct ca_crl_info small;
    struct ca_crl_info large;

    built_der(&der, &der_len);
    cr_assert_eq(ca_crl_parse(der, der_len, inter, &out, &out_len, &small, NULL), CA_OK);
    OPENSSL_free(out);
    OPENSSL_free(der);
    memset(big, 0xff, sizeof(big));
    big[0] = 0x01;
    hand_made_der(big, sizeof(big), 0, &der, &der_len);
    cr_assert_eq(ca_crl_parse(der, der_len, inter, &out, &out_len, &large, NULL), CA_OK);
    cr_assert_eq(large.number_len, 20);
    cr_assert_eq(memcmp(large.number, big, 20), 0);
    cr_assert_lt(ca_crl_number_cmp(&small, &large), 0);
    cr_assert_gt(ca_crl_number_cmp(&large, &small), 0);
    cr_assert_eq(ca_crl_number_cmp(&large, &large), 0);
    OPENSSL_free(out);
    OPENSSL_free(der);
}

Test(ca_crl, parse_reads_zero_and_no_crl_number_apart)
{
    unsigned char zero[1] = {0};
    unsigned char *der = NULL;
    size_t der_len = 0;
    unsigned char *out = NULL;
    size_t out_len = 0;
    struct ca_crl_info info;

    hand_made_der(zero, 1, 0, &der, &der_len);
    cr_assert_eq(ca_crl_parse(der, der_len, inter, &out, &out_len, &info, NULL), CA_OK);
    cr_assert_eq(info.number_len, 1);
    cr_assert_eq(info.number[0], 0);
    OPENSSL_free(out);
    OPENSSL_free(der);
    hand_made_der(NULL, 0, 0, &der, &der_len);
    cr_assert_eq(ca_crl_parse(der, der_len, inter, &out, &out_len, &info, NULL), CA_OK);
    cr_assert_eq(info.number_len, 0);
    cr_assert_eq(info.next_update, NOW + 600);
    OPENSSL_free(out);
    OPENSSL_free(der);
}

Test(ca_crl, parse_refuses_a_crl_number_over_20_octets_or_negative)
{
    unsigned char big[21];
    unsigned char one[1] = {1};
    unsigned char *der = NULL;
    size_t der_len = 0;
    unsigned char *out = NULL;
    size_t out_len = 0;
    struct ca_error err = {0};

    memset(big, 0x11, sizeof(big));
    hand_made_der(big, sizeof(big), 0, &der, &der_len);
    cr_assert_eq(ca_crl_parse(der, der_len, inter, &out, &out_len, NULL, &err), CA_ERR_INVALID_CRL);
    cr_assert(strstr(err.msg, "20 octets") != NULL, "%s", err.msg);
    OPENSSL_free(der);
    hand_made_der(one, 1, 1, &der, &der_len);
    cr_assert_eq(ca_crl_parse(der, der_len, inter, &out, &out_len, NULL, &err), CA_ERR_INVALID_CRL);
    OPENSSL_free(der);
}

/* lists_cert builds a CRL by |issuer| with |entries| and asks whether it
 * lists |cert|. */
static int lists_cert(X509 *issuer, EVP_PKEY *key, const struct ca_crl_entry *entries, size_t num,
                      X509 *cert)
{
    unsigned char *der = NULL;
    size_t der_len = 0;
    int listed = -1;
    cr_assert_eq(ca_crl_build(issuer, key, entries, num, 3, NOW, NOW + 600, &der, &der_len, NULL),
                 CA_OK);
    cr_assert_eq(ca_crl_lists_cert(der, der_len, cert, &listed, NULL), CA_OK);
    OPENSSL_free(der);
    return listed;
}

Test(ca_crl, lists_cert_finds_an_intermediate_its_root_revoked)
{
    struct ca_crl_entry e[2] = {entry(0x77, NOW, CA_REASON_SUPERSEDED),
                                entry_of(inter, NOW, CA_REASON_CA_COMPROMISE)};
    cr_assert_eq(lists_cert(root, root_key, e, 2, inter), 1);
    cr_assert_eq(lists_cert(root, root_key, e, 1, inter), 0, "another serial only");
    cr_assert_eq(lists_cert(root, root_key, NULL, 0, inter), 0, "an empty CRL");
}

Test(ca_crl, lists_cert_needs_the_crl_of_the_certificates_issuer)
{
    /* The intermediate's serial on the intermediate's own CRL (of leaves). */
    struct ca_crl_entry e = entry_of(inter, NOW, CA_REASON_KEY_COMPROMISE);
    cr_assert_eq(lists_cert(inter, int_key, &e, 1, inter), 0);
}

Test(ca_crl, lists_cert_does_not_count_remove_from_crl)
{
    struct ca_crl_entry e = entry_of(inter, NOW, CA_REASON_REMOVE_FROM_CRL);
    cr_assert_eq(lists_cert(root, root_key, &e, 1, inter), 0);
}

Test(ca_crl, lists_cert_refuses_what_is_not_a_crl)
{
    static const unsigned char junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    int listed = -1;
    cr_assert_eq(ca_crl_lists_cert(junk, sizeof(junk), inter, &listed, NULL), CA_ERR_INVALID_CRL);
    cr_assert_eq(ca_crl_lists_cert(NULL, 0, inter, &listed, NULL), CA_ERR_INVALID_ARGUMENT);
}

Test(ca_crl, writes_a_pem_file_and_never_overwrites_one)
{
    unsigned char *der = NULL;
    size_t der_len = 0;
    char path[128];
    char out[4096];
    built_der(&der, &der_len);
    path_of(path, sizeof(path), "written.crl");
    cr_assert_eq(ca_crl_write(path, der, der_len, NULL), CA_OK);
    int status =
        run(out, sizeof(out), "openssl crl -in written.crl -CAfile intermediate.pem -noout");
    cr_assert_eq(status, 0, "%s", out);
    cr_assert_not_null(strstr(out, "verify OK"), "%s", out);
    struct ca_error err = {0};
    cr_assert_eq(ca_crl_write(path, (const unsigned char *)"x", 1, &err), CA_ERR_EXISTS);
    status = run(out, sizeof(out), "openssl crl -in written.crl -CAfile intermediate.pem -noout");
    cr_assert_eq(status, 0, "the file is left as it was: %s", out);
    OPENSSL_free(der);
}
