/* test_api_certs.c: the query parser, the record's JSON and the small helpers
 * of api/certs.c (the routes are covered end to end by
 * tests/integration/test_revoke.sh). */
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "../../api/internal.h"

TestSuite(api_certs);

static enum api_err query(const char *id, const char *status, const char *limit, const char *after,
                          struct api_certs_parsed *cq)
{
    const char *values[API_CERTS_NUM_PARAMS] = {id, status, limit, after, NULL};
    return api_certs_query_parse(values, 1000, cq, NULL);
}

Test(api_certs, defaults_to_every_status_and_100_records)
{
    struct api_certs_parsed cq;
    cr_assert_eq(query(NULL, NULL, NULL, NULL, &cq), API_OK);
    cr_assert_eq(cq.q.status, STORE_STATUS_ANY);
    cr_assert_eq(cq.q.limit, 100);
    cr_assert_null(cq.q.spiffe_id);
    cr_assert_null(cq.q.after);
    cr_assert_eq(cq.q.now, 1000);
}

Test(api_certs, parses_every_parameter)
{
    struct api_certs_parsed cq;
    cr_assert_eq(query("spiffe://example.org/w", "revoked", "1000", "00Ab", &cq), API_OK);
    cr_assert_str_eq(cq.q.spiffe_id, "spiffe://example.org/w");
    cr_assert_eq(cq.q.status, STORE_STATUS_REVOKED);
    cr_assert_eq(cq.q.limit, 1000);
    cr_assert_eq(cq.q.after_len, 1);
    cr_assert_eq(cq.q.after[0], 0xab);
    cr_assert_eq(query(NULL, "valid", "1", NULL, &cq), API_OK);
    cr_assert_eq(cq.q.status, STORE_STATUS_VALID);
    cr_assert_eq(query(NULL, "expired", NULL, NULL, &cq), API_OK);
    cr_assert_eq(cq.q.status, STORE_STATUS_EXPIRED);
}

Test(api_certs, refuses_an_unknown_status)
{
    struct api_certs_parsed cq;
    struct api_error err = {0};
    const char *values[API_CERTS_NUM_PARAMS] = {NULL, "Valid", NULL, NULL, NULL};
    cr_assert_eq(api_certs_query_parse(values, 0, &cq, &err), API_ERR_BAD_REQUEST);
    cr_assert(strstr(err.msg, "status") != NULL);
    cr_assert_eq(query(NULL, "", NULL, NULL, &cq), API_ERR_BAD_REQUEST);
}

Test(api_certs, refuses_a_limit_outside_1_to_1000)
{
    struct api_certs_parsed cq;
    const char *bad[] = {"0", "1001", "", "-1", "+5", "10x", "ten", "99999", " 5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(query(NULL, NULL, bad[i], NULL, &cq), API_ERR_BAD_REQUEST, "'%s'", bad[i]);
    }
}

Test(api_certs, refuses_an_after_that_is_not_a_serial)
{
    struct api_certs_parsed cq;
    const char *bad[] = {"", "0", "xyz", "ab:cd", "0123456789012345678901234567890123456789a"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(query(NULL, NULL, NULL, bad[i], &cq), API_ERR_BAD_REQUEST, "'%s'", bad[i]);
    }
}

Test(api_certs, parses_renewed_from_as_a_serial)
{
    struct api_certs_parsed cq;
    const char *values[API_CERTS_NUM_PARAMS] = {NULL, NULL, NULL, "1f", "0A0b"};
    cr_assert_eq(api_certs_query_parse(values, 0, &cq, NULL), API_OK);
    cr_assert_eq(cq.q.renewed_from_len, 2);
    cr_assert_eq(cq.q.renewed_from[0], 0x0a);
    cr_assert_eq(cq.q.renewed_from[1], 0x0b);
    cr_assert_eq(cq.q.after[0], 0x1f);
    struct api_error err = {0};
    const char *bad[] = {"", "0", "xyz", "0123456789012345678901234567890123456789a"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        values[API_CERTS_RENEWED_FROM] = bad[i];
        cr_assert_eq(api_certs_query_parse(values, 0, &cq, &err), API_ERR_BAD_REQUEST, "'%s'",
                     bad[i]);
        cr_assert(strstr(err.msg, "renewed_from") != NULL, "%s", err.msg);
    }
}

Test(api_certs, refuses_an_empty_spiffe_id)
{
    struct api_certs_parsed cq;
    cr_assert_eq(query("", NULL, NULL, NULL, &cq), API_ERR_BAD_REQUEST);
}

Test(api_certs, spells_serials_in_lower_case_without_leading_zeros)
{
    char out[2 * CA_MAX_SERIAL_LEN + 1];
    api_serial_hex((const unsigned char *)"\x0a\xbc\x00", 3, out);
    cr_assert_str_eq(out, "abc00");
    api_serial_hex((const unsigned char *)"\x7f", 1, out);
    cr_assert_str_eq(out, "7f");
    unsigned char twenty[20];
    memset(twenty, 0xff, sizeof(twenty));
    api_serial_hex(twenty, sizeof(twenty), out);
    cr_assert_eq(strlen(out), 40);
}

Test(api_certs, formats_http_dates_as_imf_fixdate)
{
    char buf[40];
    cr_assert(api_http_date(1795773600, buf, sizeof(buf)));
    cr_assert_str_eq(buf, "Fri, 27 Nov 2026 10:00:00 GMT");
    cr_assert_not(api_http_date(-1, buf, sizeof(buf)));
}

Test(api_certs, knows_admins_by_exact_spiffe_id)
{
    struct api_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.admins[0], sizeof(cfg.admins[0]), "spiffe://example.org/admin/ops");
    cfg.num_admins = 1;
    cr_assert(api_is_admin(&cfg, "spiffe://example.org/admin/ops"));
    cr_assert_not(api_is_admin(&cfg, "spiffe://example.org/admin/ops/x"));
    cr_assert_not(api_is_admin(&cfg, "spiffe://example.org/admin/op"));
}

static json_t *record_json(int64_t not_after, int64_t revoked_at, int32_t reason, int64_t now)
{
    static unsigned char cert[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    struct store_record rec = {
        .serial = {0x01, 0x02},
        .serial_len = 2,
        .spiffe_id = "spiffe://example.org/w",
        .issued_at = 1795773600,
        .not_before = 1795773540,
        .not_after = not_after,
        .revoked_at = revoked_at,
        .revocation_reason = reason,
        .auth_method = API_AUTH_KUBERNETES,
        .cert_der = cert,
        .cert_der_len = sizeof(cert),
    };
    json_t *doc = api_cert_record_json(&rec, now);
    cr_assert_not_null(doc);
    return doc;
}

static const char *field(json_t *doc, const char *key)
{
    json_t *v = json_object_get(doc, key);
    return v != NULL ? json_string_value(v) : NULL;
}

Test(api_certs, describes_a_valid_record)
{
    json_t *doc = record_json(1795777200, 0, 0, 1795773700);
    cr_assert_str_eq(field(doc, "serial"), "102");
    cr_assert_str_eq(field(doc, "spiffe_id"), "spiffe://example.org/w");
    cr_assert_str_eq(field(doc, "status"), "valid");
    cr_assert_str_eq(field(doc, "issued_at"), "2026-11-27T10:00:00Z");
    cr_assert_str_eq(field(doc, "not_before"), "2026-11-27T09:59:00Z");
    cr_assert_str_eq(field(doc, "not_after"), "2026-11-27T11:00:00Z");
    cr_assert_str_eq(field(doc, "auth_method"), "kubernetes");
    cr_assert_null(json_object_get(doc, "revoked_at"));
    cr_assert_null(json_object_get(doc, "reason"));
    cr_assert(strstr(field(doc, "certificate"), "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n") != NULL);
    json_decref(doc);
}

Test(api_certs, describes_expired_and_revoked_records)
{
    json_t *doc = record_json(1795777200, 0, 0, 1795777200);
    cr_assert_str_eq(field(doc, "status"), "expired");
    json_decref(doc);
    doc = record_json(1795777200, 1795774000, CA_REASON_SUPERSEDED, 1795780000);
    cr_assert_str_eq(field(doc, "status"), "revoked", "revoked wins over expired");
    cr_assert_str_eq(field(doc, "revoked_at"), "2026-11-27T10:06:40Z");
    cr_assert_str_eq(field(doc, "reason"), "superseded");
    json_decref(doc);
}
