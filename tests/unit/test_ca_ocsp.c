/* test_ca_ocsp.c: the OCSP responder core (ca/ocsp.c), driven by requests
 * that the real `openssl ocsp` makes, its responses checked by `openssl ocsp`. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/bn.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "revocation_fixture.h"
#include "testpki.h"

/* hex_of_cert gives a certificate's serial as the responder writes it. */
static void hex_of_cert(X509 *cert, char out[2 * CA_MAX_SERIAL_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char serial[CA_MAX_SERIAL_LEN];
    size_t len = serial_of_cert(cert, serial);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (i > 0 || serial[i] >= 0x10) {
            out[n++] = digits[serial[i] >> 4];
        }
        out[n++] = digits[serial[i] & 0x0f];
    }
    out[n] = '\0';
}

static struct ca_ocsp_responder *responder;

#define VALIDITY (4 * 3600)

static void ocsp_setup(void)
{
    pki_setup();
    struct ca_error err = {0};
    enum ca_err rc = ca_ocsp_responder_new(inter, int_key, VALIDITY, &responder, &err);
    cr_assert_eq(rc, CA_OK, "%s: %s", ca_err_name(rc), err.msg);
}

static void ocsp_teardown(void)
{
    ca_ocsp_responder_free(responder);
    pki_teardown();
}

TestSuite(ca_ocsp, .init = ocsp_setup, .fini = ocsp_teardown);

/* ---- Helpers for the tests ---- */

static unsigned char *read_file(const char *name, size_t *out_len)
{
    char path[128];
    path_of(path, sizeof(path), name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    unsigned char *buf = OPENSSL_malloc(65536);
    cr_assert_not_null(buf);
    *out_len = fread(buf, 1, 65536, f);
    cr_assert_eq(fclose(f), 0);
    return buf;
}

/* make_request has `openssl ocsp` write req.der with |flags| ("-no_nonce",
 * "-sha256", ...) and returns its bytes. */
static unsigned char *make_request(const char *flags, size_t *out_len)
{
    char cmd[512];
    char out[4096];
    snprintf(cmd, sizeof(cmd), "openssl ocsp %s -reqout req.der", flags);
    int status = run(out, sizeof(out), cmd);
    cr_assert_eq(status, 0, "%s: %s", cmd, out);
    return read_file("req.der", out_len);
}

static void parse_ok(const unsigned char *der, size_t len, struct ca_ocsp_request *req)
{
    struct ca_error err = {0};
    enum ca_err rc = ca_ocsp_request_parse(responder, der, len, req, &err);
    cr_assert_eq(rc, CA_OK, "%s: %s", ca_err_name(rc), err.msg);
}

static enum ca_err parse(const unsigned char *der, size_t len)
{
    struct ca_ocsp_request req;
    struct ca_error err = {0};
    enum ca_err rc = ca_ocsp_request_parse(responder, der, len, &req, &err);
    cr_assert(rc == CA_OK || (err.code == rc && err.msg[0] != '\0'), "a message with the code");
    return rc;
}

static void respond(const struct ca_ocsp_request *req, enum ca_ocsp_cert_status cert_status,
                    int64_t revoked_at, enum ca_crl_reason reason)
{
    struct ca_ocsp_status status = {cert_status, revoked_at, reason};
    unsigned char *der = NULL;
    size_t der_len = 0;
    struct ca_error err = {0};
    enum ca_err rc =
        ca_ocsp_response_build(responder, req, &status, (int64_t)time(NULL), &der, &der_len, &err);
    cr_assert_eq(rc, CA_OK, "%s: %s", ca_err_name(rc), err.msg);
    write_file("resp.der", der, der_len);
    OPENSSL_free(der);
}

/* check runs `openssl ocsp` on resp.der for |cert| and returns its output,
 * asserting that it verified the response. */
static void check(const char *cert, const char *flags, char *out, size_t out_len)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "openssl ocsp -respin resp.der -issuer intermediate.pem -CAfile root.pem -no_nonce %s "
             "-cert %s",
             flags, cert);
    int status = run(out, out_len, cmd);
    cr_assert_eq(status, 0, "%s: %s", cmd, out);
    cr_assert_not_null(strstr(out, "Response verify OK"), "%s", out);
}

static OCSP_BASICRESP *read_basic(void)
{
    size_t len = 0;
    unsigned char *der = read_file("resp.der", &len);
    const unsigned char *p = der;
    OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
    cr_assert_not_null(resp);
    cr_assert_eq(OCSP_response_status(resp), OCSP_RESPONSE_STATUS_SUCCESSFUL);
    OCSP_BASICRESP *basic = OCSP_response_get1_basic(resp);
    cr_assert_not_null(basic);
    OCSP_RESPONSE_free(resp);
    OPENSSL_free(der);
    return basic;
}

/* ---- Responses that openssl ocsp accepts ---- */

Test(ca_ocsp, answers_good_for_a_sha1_request)
{
    size_t len = 0;
    unsigned char *der = make_request("-issuer intermediate.pem -cert leaf1.pem -no_nonce", &len);
    struct ca_ocsp_request req;
    parse_ok(der, len, &req);
    cr_assert_eq(req.for_us, 1);
    cr_assert_eq(req.hash, CA_OCSP_HASH_SHA1);
    cr_assert_eq(req.serial_len, 16);
    char hex[2 * CA_MAX_SERIAL_LEN + 1];
    hex_of_cert(leaf1, hex);
    cr_assert_str_eq(req.serial_hex, hex);
    cr_assert_eq(req.nonce_len, 0);
    respond(&req, CA_OCSP_GOOD, 0, CA_REASON_UNSPECIFIED);
    char out[4096];
    check("leaf1.pem", "", out, sizeof(out));
    cr_assert_not_null(strstr(out, "leaf1.pem: good"), "%s", out);
    OPENSSL_free(der);
}

Test(ca_ocsp, answers_revoked_with_time_and_reason)
{
    size_t len = 0;
    unsigned char *der = make_request("-issuer intermediate.pem -cert leaf1.pem -no_nonce", &len);
    struct ca_ocsp_request req;
    parse_ok(der, len, &req);
    respond(&req, CA_OCSP_REVOKED, 1800000000, CA_REASON_KEY_COMPROMISE);
    char out[4096];
    check("leaf1.pem", "", out, sizeof(out));
    cr_assert_not_null(strstr(out, "leaf1.pem: revoked"), "%s", out);
    cr_assert_not_null(strstr(out, "Reason: keyCompromise"), "%s", out);
    cr_assert_not_null(strstr(out, "Revocation Time: Jan 15 08:00:00 2027 GMT"), "%s", out);
    OPENSSL_free(der);
}

Test(ca_ocsp, answers_revoked_without_reason_when_unspecified)
{
    size_t len = 0;
    unsigned char *der = make_request("-issuer intermediate.pem -cert leaf1.pem -no_nonce", &len);
    struct ca_ocsp_request req;
    parse_ok(der, len, &req);
    respond(&req, CA_OCSP_REVOKED, 1800000000, CA_REASON_UNSPECIFIED);
    char out[4096];
    check("leaf1.pem", "", out, sizeof(out));
    cr_assert_not_null(strstr(out, "leaf1.pem: revoked"), "%s", out);
    cr_assert_null(strstr(out, "Reason:"), "%s", out);
    OPENSSL_free(der);
}

Test(ca_ocsp, answers_unknown)
{
    size_t len = 0;
    unsigned char *der = make_request("-issuer intermediate.pem -cert leaf2.pem -no_nonce", &len);
    struct ca_ocsp_request req;
    parse_ok(der, len, &req);
    char hex[2 * CA_MAX_SERIAL_LEN + 1];
    hex_of_cert(leaf2, hex);
    cr_assert_str_eq(req.serial_hex, hex);
    respond(&req, CA_OCSP_UNKNOWN, 0, CA_REASON_UNSPECIFIED);
    char out[4096];
    check("leaf2.pem", "", out, sizeof(out));
    cr_assert_not_null(strstr(out, "leaf2.pem: unknown"), "%s", out);
    OPENSSL_free(der);
}

Test(ca_ocsp, answers_a_sha256_certid_in_kind)
{
    size_t len = 0;
    unsigned char *der =
        make_request("-sha256 -issuer intermediate.pem -cert leaf1.pem -no_nonce", &len);
    struct ca_ocsp_request req;
    parse_ok(der, len, &req);
    cr_assert_eq(req.for_us, 1);
    cr_assert_eq(req.hash, CA_OCSP_HASH_SHA256);
    respond(&req, CA_OCSP_GOOD, 0, CA_REASON_UNSPECIFIED);
    char out[4096];
    check("leaf1.pem", "-sha256", out, sizeof(out));
    cr_assert_not_null(strstr(out, "leaf1.pem: good"), "%s", out);
    OPENSSL_free(der);
}

Test(ca_ocsp, sets_next_update_validity_after_this_update_and_responder_id_by_key)
{
    struct ca_ocsp_request req;
    memset(&req, 0, sizeof(req));
    req.for_us = 1;
    req.hash = CA_OCSP_HASH_SHA1;
    req.serial[0] = 0x10;
    req.serial[1] = 0x01;
    req.serial_len = 2;
    struct ca_ocsp_status status = {CA_OCSP_GOOD, 0, CA_REASON_UNSPECIFIED};
    unsigned char *der = NULL;
    size_t der_len = 0;
    cr_assert_eq(ca_ocsp_response_build(responder, &req, &status, 1800000000, &der, &der_len, NULL),
                 CA_OK);
    write_file("resp.der", der, der_len);
    OCSP_BASICRESP *basic = read_basic();
    cr_assert_eq(OCSP_resp_count(basic), 1);
    int reason = 0;
    ASN1_GENERALIZEDTIME *rev = NULL;
    ASN1_GENERALIZEDTIME *thisupd = NULL;
    ASN1_GENERALIZEDTIME *nextupd = NULL;
    cr_assert_eq(
        OCSP_single_get0_status(OCSP_resp_get0(basic, 0), &reason, &rev, &thisupd, &nextupd),
        V_OCSP_CERTSTATUS_GOOD);
    int day = 0;
    int sec = 0;
    cr_assert_eq(ASN1_TIME_diff(&day, &sec, thisupd, nextupd), 1);
    cr_assert_eq(day * 86400 + sec, VALIDITY);
    cr_assert_eq(ca_ocsp_responder_validity(responder), VALIDITY);
    const ASN1_OCTET_STRING *key_id = NULL;
    const X509_NAME *name = NULL;
    cr_assert_eq(OCSP_resp_get0_id(basic, &key_id, &name), 1);
    cr_assert_not_null(key_id);
    cr_assert_null(name);
    cr_assert_leq(sk_X509_num(OCSP_resp_get0_certs(basic)), 0, "no certificates");
    OCSP_BASICRESP_free(basic);
    OPENSSL_free(der);
}

Test(ca_ocsp, prebuilds_a_cacheable_response_without_the_request)
{
    struct ca_ocsp_request req;
    memset(&req, 0, sizeof(req));
    req.for_us = 1;
    req.hash = CA_OCSP_HASH_SHA256;
    req.serial_len = serial_of_cert(leaf2, req.serial);
    respond(&req, CA_OCSP_REVOKED, 1800000000, CA_REASON_SUPERSEDED);
    char out[4096];
    check("leaf2.pem", "-sha256", out, sizeof(out));
    cr_assert_not_null(strstr(out, "leaf2.pem: revoked"), "%s", out);
    cr_assert_not_null(strstr(out, "Reason: superseded"), "%s", out);
}

Test(ca_ocsp, echoes_the_nonce)
{
    size_t len = 0;
    unsigned char *der = make_request("-issuer intermediate.pem -cert leaf1.pem", &len);
    struct ca_ocsp_request req;
    parse_ok(der, len, &req);
    cr_assert_eq(req.nonce_len, 16, "openssl sends 16 bytes");
    respond(&req, CA_OCSP_GOOD, 0, CA_REASON_UNSPECIFIED);
    const unsigned char *p = der;
    OCSP_REQUEST *ocsp_req = d2i_OCSP_REQUEST(NULL, &p, (long)len);
    cr_assert_not_null(ocsp_req);
    OCSP_BASICRESP *basic = read_basic();
    cr_assert_eq(OCSP_check_nonce(ocsp_req, basic), 1, "the nonces are equal");
    OCSP_BASICRESP_free(basic);
    OCSP_REQUEST_free(ocsp_req);
    /* openssl ocsp also checks it when reading the request back. */
    char out[4096];
    int status = run(out, sizeof(out),
                     "openssl ocsp -reqin req.der -respin resp.der -issuer intermediate.pem "
                     "-CAfile root.pem");
    cr_assert_eq(status, 0, "%s", out);
    cr_assert_not_null(strstr(out, "Response verify OK"), "%s", out);
    cr_assert_null(strstr(out, "nonce"), "%s", out);
    OPENSSL_free(der);
}

Test(ca_ocsp, answers_no_nonce_when_none_was_sent)
{
    size_t len = 0;
    unsigned char *der = make_request("-issuer intermediate.pem -cert leaf1.pem -no_nonce", &len);
    struct ca_ocsp_request req;
    parse_ok(der, len, &req);
    respond(&req, CA_OCSP_GOOD, 0, CA_REASON_UNSPECIFIED);
    OCSP_BASICRESP *basic = read_basic();
    cr_assert_lt(OCSP_BASICRESP_get_ext_by_NID(basic, NID_id_pkix_OCSP_Nonce, -1), 0);
    OCSP_BASICRESP_free(basic);
    OPENSSL_free(der);
}

Test(ca_ocsp, signs_with_an_ed25519_issuer)
{
    struct testpki ed;
    testpki_init_ex(&ed, "example.org", TESTPKI_P256, TESTPKI_ED25519, 86400, NULL, 0);
    int64_t now = (int64_t)time(NULL);
    X509 *leaf =
        testpki_sign_leaf(&ed, leaf_key, "spiffe://example.org/ed", now - 60, now + 600, 0);
    write_cert("edroot.pem", ed.root);
    write_cert("ed.pem", ed.inter);
    write_cert("edleaf.pem", leaf);
    struct ca_ocsp_responder *r = NULL;
    cr_assert_eq(ca_ocsp_responder_new(ed.inter, ed.inter_key, 60, &r, NULL), CA_OK);
    size_t len = 0;
    unsigned char *der = make_request("-issuer ed.pem -cert edleaf.pem -no_nonce", &len);
    struct ca_ocsp_request req;
    cr_assert_eq(ca_ocsp_request_parse(r, der, len, &req, NULL), CA_OK);
    cr_assert_eq(req.for_us, 1);
    struct ca_ocsp_status status = {CA_OCSP_GOOD, 0, CA_REASON_UNSPECIFIED};
    unsigned char *resp = NULL;
    size_t resp_len = 0;
    cr_assert_eq(ca_ocsp_response_build(r, &req, &status, now, &resp, &resp_len, NULL), CA_OK);
    write_file("resp.der", resp, resp_len);
    char out[4096];
    int rc = run(out, sizeof(out),
                 "openssl ocsp -respin resp.der -issuer ed.pem -CAfile edroot.pem "
                 "-cert edleaf.pem -no_nonce");
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert_not_null(strstr(out, "Response verify OK"), "%s", out);
    cr_assert_not_null(strstr(out, "edleaf.pem: good"), "%s", out);
    OPENSSL_free(resp);
    OPENSSL_free(der);
    ca_ocsp_responder_free(r);
    X509_free(leaf);
    testpki_cleanup(&ed);
}

/* ---- Requests that are not for us ---- */

Test(ca_ocsp, marks_a_request_for_another_issuer_not_for_us)
{
    size_t len = 0;
    unsigned char *der = make_request("-issuer root.pem -cert intermediate.pem -no_nonce", &len);
    struct ca_ocsp_request req;
    parse_ok(der, len, &req);
    cr_assert_eq(req.for_us, 0);
    struct ca_ocsp_status status = {CA_OCSP_GOOD, 0, CA_REASON_UNSPECIFIED};
    unsigned char *resp = NULL;
    size_t resp_len = 0;
    cr_assert_eq(
        ca_ocsp_response_build(responder, &req, &status, 1800000000, &resp, &resp_len, NULL),
        CA_ERR_INVALID_ARGUMENT, "never signed for another issuer");
    OPENSSL_free(der);
}

Test(ca_ocsp, marks_an_unsupported_hash_not_for_us)
{
    size_t len = 0;
    unsigned char *der =
        make_request("-sha224 -issuer intermediate.pem -cert leaf1.pem -no_nonce", &len);
    struct ca_ocsp_request req;
    parse_ok(der, len, &req);
    cr_assert_eq(req.for_us, 0);
    OPENSSL_free(der);
}

Test(ca_ocsp, answers_sha384_and_sha512_certids)
{
    const char *algs[] = {"-sha384", "-sha512"};
    const enum ca_ocsp_hash want[] = {CA_OCSP_HASH_SHA384, CA_OCSP_HASH_SHA512};
    for (size_t i = 0; i < 2; i++) {
        char args[128];
        size_t len = 0;
        snprintf(args, sizeof(args), "%s -issuer intermediate.pem -cert leaf1.pem -no_nonce",
                 algs[i]);
        unsigned char *der = make_request(args, &len);
        struct ca_ocsp_request req;
        parse_ok(der, len, &req);
        cr_assert_eq(req.for_us, 1, "%s", algs[i]);
        cr_assert_eq(req.hash, want[i]);
        struct ca_ocsp_status status = {CA_OCSP_GOOD, 0, CA_REASON_UNSPECIFIED};
        unsigned char *resp = NULL;
        size_t resp_len = 0;
        cr_assert_eq(
            ca_ocsp_response_build(responder, &req, &status, 1800000000, &resp, &resp_len, NULL),
            CA_OK);
        OPENSSL_free(resp);
        OPENSSL_free(der);
    }
}

/* ---- Malformed requests ---- */

Test(ca_ocsp, refuses_truncated_der)
{
    size_t len = 0;
    unsigned char *der = make_request("-issuer intermediate.pem -cert leaf1.pem", &len);
    cr_assert_eq(parse(der, len - 1), CA_ERR_INVALID_OCSP_REQUEST);
    cr_assert_eq(parse(der, len / 2), CA_ERR_INVALID_OCSP_REQUEST);
    cr_assert_eq(parse(der, 1), CA_ERR_INVALID_OCSP_REQUEST);
    OPENSSL_free(der);
}

Test(ca_ocsp, refuses_trailing_bytes)
{
    size_t len = 0;
    unsigned char *der = make_request("-issuer intermediate.pem -cert leaf1.pem", &len);
    der[len] = 0x00;
    cr_assert_eq(parse(der, len + 1), CA_ERR_INVALID_OCSP_REQUEST);
    OPENSSL_free(der);
}

Test(ca_ocsp, refuses_garbage_empty_and_oversize_input)
{
    const unsigned char garbage[] = "GET / HTTP/1.1\r\n\r\n";
    cr_assert_eq(parse(garbage, sizeof(garbage) - 1), CA_ERR_INVALID_OCSP_REQUEST);
    cr_assert_eq(parse(garbage, 0), CA_ERR_INVALID_OCSP_REQUEST);
    cr_assert_eq(parse(NULL, 10), CA_ERR_INVALID_OCSP_REQUEST);
    unsigned char *big = OPENSSL_zalloc(CA_MAX_OCSP_REQUEST_LEN + 1);
    big[0] = 0x30;
    cr_assert_eq(parse(big, CA_MAX_OCSP_REQUEST_LEN + 1), CA_ERR_INVALID_OCSP_REQUEST);
    OPENSSL_free(big);
}

Test(ca_ocsp, refuses_two_certids)
{
    size_t len = 0;
    unsigned char *der =
        make_request("-issuer intermediate.pem -cert leaf1.pem -cert leaf2.pem -no_nonce", &len);
    cr_assert_eq(parse(der, len), CA_ERR_INVALID_OCSP_REQUEST);
    OPENSSL_free(der);
}

/* build_request makes a request for our issuer with |serial| and, when
 * nonce_len > 0, a nonce of that many bytes. */
static unsigned char *build_request(long serial, int nonce_len, size_t *out_len)
{
    ASN1_INTEGER *sn = ASN1_INTEGER_new();
    cr_assert_eq(ASN1_INTEGER_set(sn, serial), 1);
    OCSP_CERTID *cid = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(inter),
                                        X509_get0_pubkey_bitstr(inter), sn);
    cr_assert_not_null(cid);
    OCSP_REQUEST *req = OCSP_REQUEST_new();
    cr_assert_not_null(OCSP_request_add0_id(req, cid));
    if (nonce_len > 0) {
        unsigned char nonce[64];
        memset(nonce, 0xab, sizeof(nonce));
        cr_assert_eq(OCSP_request_add1_nonce(req, nonce, nonce_len), 1);
    }
    unsigned char *der = NULL;
    int len = i2d_OCSP_REQUEST(req, &der);
    cr_assert_gt(len, 0);
    *out_len = (size_t)len;
    OCSP_REQUEST_free(req);
    ASN1_INTEGER_free(sn);
    return der;
}

/* request_with_ext makes a request for serial 0x1001 with an extension of
 * OID 1.2.3.4.5 (critical or not) on the request (|single| 0) or on its one
 * Request (|single| 1). */
static unsigned char *request_with_ext(int critical, int single, size_t *out_len)
{
    ASN1_INTEGER *sn = ASN1_INTEGER_new();
    cr_assert_eq(ASN1_INTEGER_set(sn, 0x1001), 1);
    OCSP_CERTID *cid = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(inter),
                                        X509_get0_pubkey_bitstr(inter), sn);
    OCSP_REQUEST *req = OCSP_REQUEST_new();
    OCSP_ONEREQ *one = OCSP_request_add0_id(req, cid);
    cr_assert_not_null(one);
    ASN1_OBJECT *oid = OBJ_txt2obj("1.2.3.4.5", 1);
    ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
    cr_assert_eq(ASN1_OCTET_STRING_set(value, (const unsigned char *)"\x05\x00", 2), 1);
    X509_EXTENSION *ext = X509_EXTENSION_create_by_OBJ(NULL, oid, critical, value);
    cr_assert_not_null(ext);
    cr_assert_eq(single ? OCSP_ONEREQ_add_ext(one, ext, -1) : OCSP_REQUEST_add_ext(req, ext, -1),
                 1);
    unsigned char *der = NULL;
    int len = i2d_OCSP_REQUEST(req, &der);
    cr_assert_gt(len, 0);
    *out_len = (size_t)len;
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(value);
    ASN1_OBJECT_free(oid);
    OCSP_REQUEST_free(req);
    ASN1_INTEGER_free(sn);
    return der;
}

Test(ca_ocsp, refuses_an_unknown_critical_extension_and_ignores_others)
{
    for (int single = 0; single <= 1; single++) {
        size_t len = 0;
        struct ca_ocsp_request req;
        unsigned char *der = request_with_ext(1, single, &len);
        cr_assert_eq(parse(der, len), CA_ERR_INVALID_OCSP_REQUEST, "single %d", single);
        OPENSSL_free(der);
        der = request_with_ext(0, single, &len);
        parse_ok(der, len, &req);
        cr_assert_eq(req.for_us, 1);
        OPENSSL_free(der);
    }
}

Test(ca_ocsp, accepts_nonces_of_1_to_32_bytes)
{
    size_t len = 0;
    struct ca_ocsp_request req;
    unsigned char *der = build_request(0x1001, 32, &len);
    parse_ok(der, len, &req);
    cr_assert_eq(req.nonce_len, 32);
    cr_assert_eq(req.nonce[31], 0xab);
    cr_assert_eq(req.for_us, 1);
    OPENSSL_free(der);
    der = build_request(0x1001, 1, &len);
    parse_ok(der, len, &req);
    cr_assert_eq(req.nonce_len, 1);
    OPENSSL_free(der);
}

Test(ca_ocsp, refuses_a_nonce_longer_than_32_bytes)
{
    size_t len = 0;
    unsigned char *der = build_request(0x1001, 33, &len);
    cr_assert_eq(parse(der, len), CA_ERR_INVALID_OCSP_REQUEST);
    OPENSSL_free(der);
}

Test(ca_ocsp, refuses_a_zero_or_negative_serial)
{
    size_t len = 0;
    unsigned char *der = build_request(0, 0, &len);
    cr_assert_eq(parse(der, len), CA_ERR_INVALID_OCSP_REQUEST);
    OPENSSL_free(der);
    der = build_request(-5, 0, &len);
    cr_assert_eq(parse(der, len), CA_ERR_INVALID_OCSP_REQUEST);
    OPENSSL_free(der);
}

/* ---- Error responses ---- */

Test(ca_ocsp, encodes_each_error_status_in_five_bytes)
{
    static const int statuses[] = {CA_OCSP_MALFORMED_REQUEST, CA_OCSP_INTERNAL_ERROR,
                                   CA_OCSP_TRY_LATER, CA_OCSP_UNAUTHORIZED};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        unsigned char *der = NULL;
        size_t len = 0;
        cr_assert_eq(
            ca_ocsp_error_response((enum ca_ocsp_error_status)statuses[i], &der, &len, NULL),
            CA_OK);
        cr_assert_eq(len, 5);
        const unsigned char *p = der;
        OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
        cr_assert_not_null(resp);
        cr_assert_eq(OCSP_response_status(resp), statuses[i]);
        cr_assert_null(OCSP_response_get1_basic(resp));
        OCSP_RESPONSE_free(resp);
        OPENSSL_free(der);
    }
}

Test(ca_ocsp, refuses_an_error_status_that_is_not_one)
{
    unsigned char *der = NULL;
    size_t len = 0;
    cr_assert_eq(ca_ocsp_error_response((enum ca_ocsp_error_status)0, &der, &len, NULL),
                 CA_ERR_INVALID_ARGUMENT, "successful is not an error");
    cr_assert_eq(ca_ocsp_error_response((enum ca_ocsp_error_status)4, &der, &len, NULL),
                 CA_ERR_INVALID_ARGUMENT);
}

Test(ca_ocsp, openssl_reads_the_unauthorized_response)
{
    unsigned char *der = NULL;
    size_t len = 0;
    cr_assert_eq(ca_ocsp_error_response(CA_OCSP_UNAUTHORIZED, &der, &len, NULL), CA_OK);
    write_file("resp.der", der, len);
    char out[4096];
    run(out, sizeof(out), "openssl ocsp -respin resp.der -resp_text -noverify");
    cr_assert_not_null(strstr(out, "unauthorized (6)"), "%s", out);
    OPENSSL_free(der);
}

/* ---- GET: base64 ---- */

static char *to_base64(const unsigned char *der, size_t len)
{
    char *b64 = OPENSSL_malloc(4 * ((len + 2) / 3) + 1);
    cr_assert_not_null(b64);
    EVP_EncodeBlock((unsigned char *)b64, der, (int)len);
    return b64;
}

/* url_encode escapes '+', '/' and '=' as %2B, %2F and %3D (lower-case hex
 * when |lower|). */
static char *url_encode(const char *b64, int lower)
{
    char *out = OPENSSL_malloc(3 * strlen(b64) + 1);
    size_t n = 0;
    for (const char *c = b64; *c != '\0'; c++) {
        const char *esc = *c == '+' ? "%2B" : *c == '/' ? "%2F" : *c == '=' ? "%3D" : NULL;
        if (esc == NULL) {
            out[n++] = *c;
            continue;
        }
        out[n++] = '%';
        out[n++] = esc[1];
        out[n++] = lower ? (char)(esc[2] | 0x20) : esc[2];
    }
    out[n] = '\0';
    return out;
}

static enum ca_err parse_b64(const char *b64, size_t len, struct ca_ocsp_request *req)
{
    struct ca_error err = {0};
    enum ca_err rc = ca_ocsp_request_from_base64(responder, b64, len, req, &err);
    cr_assert(rc == CA_OK || (err.code == rc && err.msg[0] != '\0'), "a message with the code");
    return rc;
}

/* A request whose base64 holds '+', '/' and '=': the serial is chosen so. */
static unsigned char *request_with_all_escapes(size_t *out_len, char **out_b64)
{
    for (long serial = 0x1001;; serial++) {
        unsigned char *der = build_request(serial, 16, out_len);
        char *b64 = to_base64(der, *out_len);
        if (strchr(b64, '+') && strchr(b64, '/') && strchr(b64, '=')) {
            *out_b64 = b64;
            return der;
        }
        OPENSSL_free(b64);
        OPENSSL_free(der);
    }
}

Test(ca_ocsp, decodes_standard_base64)
{
    size_t len = 0;
    char *b64 = NULL;
    unsigned char *der = request_with_all_escapes(&len, &b64);
    struct ca_ocsp_request from_get;
    struct ca_ocsp_request from_post;
    cr_assert_eq(parse_b64(b64, strlen(b64), &from_get), CA_OK);
    parse_ok(der, len, &from_post);
    cr_assert_eq(memcmp(&from_get, &from_post, sizeof(from_get)), 0);
    OPENSSL_free(b64);
    OPENSSL_free(der);
}

Test(ca_ocsp, decodes_url_encoded_base64_in_either_case)
{
    size_t len = 0;
    char *b64 = NULL;
    unsigned char *der = request_with_all_escapes(&len, &b64);
    struct ca_ocsp_request from_post;
    parse_ok(der, len, &from_post);
    for (int lower = 0; lower <= 1; lower++) {
        char *url = url_encode(b64, lower);
        struct ca_ocsp_request from_get;
        cr_assert_eq(parse_b64(url, strlen(url), &from_get), CA_OK, "%s", url);
        cr_assert_eq(memcmp(&from_get, &from_post, sizeof(from_get)), 0);
        OPENSSL_free(url);
    }
    OPENSSL_free(b64);
    OPENSSL_free(der);
}

Test(ca_ocsp, decodes_what_openssl_sends_by_get)
{
    size_t len = 0;
    unsigned char *der = make_request("-issuer intermediate.pem -cert leaf1.pem", &len);
    char *b64 = to_base64(der, len);
    char *url = url_encode(b64, 0);
    struct ca_ocsp_request req;
    cr_assert_eq(parse_b64(url, strlen(url), &req), CA_OK);
    cr_assert_eq(req.for_us, 1);
    char hex[2 * CA_MAX_SERIAL_LEN + 1];
    hex_of_cert(leaf1, hex);
    cr_assert_str_eq(req.serial_hex, hex);
    OPENSSL_free(url);
    OPENSSL_free(b64);
    OPENSSL_free(der);
}

Test(ca_ocsp, refuses_bad_base64)
{
    size_t len = 0;
    char *b64 = NULL;
    unsigned char *der = request_with_all_escapes(&len, &b64);
    struct ca_ocsp_request req;
    size_t b64_len = strlen(b64);
    char *bad = OPENSSL_strdup(b64);

    bad[3] = '-'; /* base64url is not RFC 6960's encoding */
    cr_assert_eq(parse_b64(bad, b64_len, &req), CA_ERR_INVALID_OCSP_REQUEST);
    bad[3] = ' ';
    cr_assert_eq(parse_b64(bad, b64_len, &req), CA_ERR_INVALID_OCSP_REQUEST);
    cr_assert_eq(parse_b64(b64, b64_len - 1, &req), CA_ERR_INVALID_OCSP_REQUEST, "unpadded");
    cr_assert_eq(parse_b64(b64, b64_len - 4, &req), CA_ERR_INVALID_OCSP_REQUEST, "truncated");
    cr_assert_eq(parse_b64("", 0, &req), CA_ERR_INVALID_OCSP_REQUEST);
    cr_assert_eq(parse_b64("MA==MAAA", 8, &req), CA_ERR_INVALID_OCSP_REQUEST, "data after '='");
    cr_assert_eq(parse_b64("%41AAA", 6, &req), CA_ERR_INVALID_OCSP_REQUEST, "other escapes");
    cr_assert_eq(parse_b64("AAA%2", 5, &req), CA_ERR_INVALID_OCSP_REQUEST, "cut escape");
    cr_assert_eq(parse_b64("AAAA", 4, &req), CA_ERR_INVALID_OCSP_REQUEST, "not a request");
    OPENSSL_free(bad);
    OPENSSL_free(b64);
    OPENSSL_free(der);
}

Test(ca_ocsp, refuses_oversize_base64)
{
    size_t len = CA_MAX_OCSP_BASE64_LEN + 4;
    char *big = OPENSSL_malloc(len);
    memset(big, 'A', len);
    struct ca_ocsp_request req;
    cr_assert_eq(parse_b64(big, len, &req), CA_ERR_INVALID_OCSP_REQUEST);
    OPENSSL_free(big);
}

/* ---- The responder itself ---- */

Test(ca_ocsp, responder_refuses_a_key_of_another_certificate)
{
    struct ca_ocsp_responder *r = NULL;
    cr_assert_eq(ca_ocsp_responder_new(inter, root_key, 60, &r, NULL), CA_ERR_KEY_MISMATCH);
    cr_assert_null(r);
}

Test(ca_ocsp, responder_refuses_a_validity_out_of_range)
{
    struct ca_ocsp_responder *r = NULL;
    cr_assert_eq(ca_ocsp_responder_new(inter, int_key, 0, &r, NULL), CA_ERR_INVALID_ARGUMENT);
    cr_assert_eq(ca_ocsp_responder_new(inter, int_key, 8 * 86400, &r, NULL),
                 CA_ERR_INVALID_ARGUMENT);
    cr_assert_null(r);
}

Test(ca_ocsp, response_build_refuses_a_bad_status_or_reason)
{
    struct ca_ocsp_request req;
    memset(&req, 0, sizeof(req));
    req.for_us = 1;
    req.serial[0] = 1;
    req.serial_len = 1;
    unsigned char *der = NULL;
    size_t len = 0;
    struct ca_ocsp_status status = {(enum ca_ocsp_cert_status)3, 0, CA_REASON_UNSPECIFIED};
    cr_assert_eq(ca_ocsp_response_build(responder, &req, &status, 1800000000, &der, &len, NULL),
                 CA_ERR_INVALID_ARGUMENT);
    struct ca_ocsp_status bad_reason = {CA_OCSP_REVOKED, 1800000000, (enum ca_crl_reason)7};
    cr_assert_eq(ca_ocsp_response_build(responder, &req, &bad_reason, 1800000000, &der, &len, NULL),
                 CA_ERR_INVALID_ARGUMENT);
    req.serial_len = 0;
    status.status = CA_OCSP_GOOD;
    cr_assert_eq(ca_ocsp_response_build(responder, &req, &status, 1800000000, &der, &len, NULL),
                 CA_ERR_INVALID_ARGUMENT);
}

struct signer_args {
    int ok;
};

static void *sign_many(void *arg)
{
    struct signer_args *a = arg;
    struct ca_ocsp_request req;
    memset(&req, 0, sizeof(req));
    req.for_us = 1;
    req.serial_len = serial_of_cert(leaf1, req.serial);
    struct ca_ocsp_status status = {CA_OCSP_GOOD, 0, CA_REASON_UNSPECIFIED};
    OCSP_CERTID *cid =
        OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(inter), X509_get0_pubkey_bitstr(inter),
                         X509_get0_serialNumber(leaf1));
    STACK_OF(X509) *certs = sk_X509_new_null();
    X509_STORE *store = X509_STORE_new();
    a->ok = cid != NULL && certs != NULL && store != NULL && sk_X509_push(certs, inter) > 0;
    for (int i = 0; i < 25 && a->ok; i++) {
        unsigned char *der = NULL;
        size_t len = 0;
        if (ca_ocsp_response_build(responder, &req, &status, (int64_t)time(NULL), &der, &len,
                                   NULL) != CA_OK) {
            a->ok = 0;
            break;
        }
        const unsigned char *p = der;
        OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
        OCSP_BASICRESP *basic = resp == NULL ? NULL : OCSP_response_get1_basic(resp);
        int st = -1;
        a->ok = basic != NULL &&
                OCSP_resp_find_status(basic, cid, &st, NULL, NULL, NULL, NULL) == 1 &&
                st == V_OCSP_CERTSTATUS_GOOD &&
                OCSP_basic_verify(basic, certs, store, OCSP_TRUSTOTHER | OCSP_NOVERIFY) == 1;
        OCSP_BASICRESP_free(basic);
        OCSP_RESPONSE_free(resp);
        OPENSSL_free(der);
    }
    X509_STORE_free(store);
    sk_X509_free(certs);
    OCSP_CERTID_free(cid);
    return NULL;
}

Test(ca_ocsp, signs_from_several_threads_at_once)
{
    pthread_t threads[4];
    struct signer_args args[4];
    for (int i = 0; i < 4; i++) {
        args[i].ok = 0;
        cr_assert_eq(pthread_create(&threads[i], NULL, sign_many, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(pthread_join(threads[i], NULL), 0);
        cr_assert_eq(args[i].ok, 1, "thread %d", i);
    }
}
