/* test_api_revoke.c: the POST /v1/revoke body parser of api/revoke.c (who may
 * revoke, and the store, are covered end to end by
 * tests/integration/test_revoke.sh). */
#include <string.h>

#include <criterion/criterion.h>

#include "../../api/internal.h"

TestSuite(api_revoke);

static enum api_err parse(const char *body, struct api_revoke_body *out, struct api_error *err)
{
    return api_revoke_parse_body(body, strlen(body), out, err);
}

Test(api_revoke, parses_a_serial_and_a_reason)
{
    struct api_revoke_body b;
    cr_assert_eq(parse("{\"serial\": \"0a0B0c\", \"reason\": \"keyCompromise\"}", &b, NULL),
                 API_OK);
    cr_assert_eq(b.serial_len, 3);
    cr_assert_eq(memcmp(b.serial, "\x0a\x0b\x0c", 3), 0);
    cr_assert_eq(b.reason, CA_REASON_KEY_COMPROMISE);
}

Test(api_revoke, takes_unspecified_when_no_reason_is_given)
{
    struct api_revoke_body b;
    cr_assert_eq(parse("{\"serial\": \"01\"}", &b, NULL), API_OK);
    cr_assert_eq(b.reason, CA_REASON_UNSPECIFIED);
    cr_assert_eq(b.serial_len, 1);
    cr_assert_eq(b.serial[0], 1);
}

Test(api_revoke, accepts_every_rfc5280_reason_but_remove_from_crl)
{
    static const char *const names[] = {
        "unspecified",        "keyCompromise",      "cACompromise",
        "affiliationChanged", "superseded",         "cessationOfOperation",
        "certificateHold",    "privilegeWithdrawn", "aACompromise"};
    char body[128];
    struct api_revoke_body b;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(body, sizeof(body), "{\"serial\": \"ab\", \"reason\": \"%s\"}", names[i]);
        cr_assert_eq(parse(body, &b, NULL), API_OK, "%s", names[i]);
        cr_assert_str_eq(ca_crl_reason_name(b.reason), names[i]);
    }
}

Test(api_revoke, refuses_remove_from_crl)
{
    struct api_revoke_body b;
    struct api_error err = {0};
    cr_assert_eq(parse("{\"serial\": \"ab\", \"reason\": \"removeFromCRL\"}", &b, &err),
                 API_ERR_BAD_REQUEST);
    cr_assert(strstr(err.msg, "delta") != NULL, "%s", err.msg);
}

Test(api_revoke, refuses_an_unknown_reason)
{
    struct api_revoke_body b;
    cr_assert_eq(parse("{\"serial\": \"ab\", \"reason\": \"keycompromise\"}", &b, NULL),
                 API_ERR_BAD_REQUEST);
    cr_assert_eq(parse("{\"serial\": \"ab\", \"reason\": 1}", &b, NULL), API_ERR_BAD_REQUEST);
}

Test(api_revoke, refuses_bad_serials)
{
    struct api_revoke_body b;
    struct api_error err = {0};
    const char *bodies[] = {
        "{\"serial\": \"\"}",
        "{\"serial\": \"00\"}",
        "{\"serial\": \"xyz\"}",
        "{\"serial\": \"ab:cd\"}",
        "{\"serial\": \"0123456789012345678901234567890123456789a\"}", /* 41 digits */
        "{\"serial\": 12}",
        "{\"reason\": \"superseded\"}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        cr_assert_eq(parse(bodies[i], &b, &err), API_ERR_BAD_REQUEST, "%s", bodies[i]);
    }
}

Test(api_revoke, refuses_unknown_keys_duplicates_and_non_json)
{
    struct api_revoke_body b;
    cr_assert_eq(parse("{\"serial\": \"ab\", \"why\": \"x\"}", &b, NULL), API_ERR_BAD_REQUEST);
    cr_assert_eq(parse("{\"serial\": \"ab\", \"serial\": \"cd\"}", &b, NULL), API_ERR_BAD_REQUEST);
    cr_assert_eq(parse("[\"ab\"]", &b, NULL), API_ERR_BAD_REQUEST);
    cr_assert_eq(parse("serial=ab", &b, NULL), API_ERR_BAD_REQUEST);
    cr_assert_eq(api_revoke_parse_body(NULL, 0, &b, NULL), API_ERR_BAD_REQUEST);
}
