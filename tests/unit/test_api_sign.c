/* test_api_sign.c: the body parser, renew_after and time formatting of
 * api/sign.c (issuance itself is covered end to end by
 * tests/integration/test_serve.sh). */
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "../../api/internal.h"

TestSuite(api_sign);

static enum api_err parse(const char *body, const char **csr, int64_t *ttl, struct api_error *err)
{
    void *doc = NULL;
    size_t csr_len = 0;
    enum api_err rc = api_sign_parse_body(body, strlen(body), &doc, csr, &csr_len, ttl, err);
    json_decref(doc);
    return rc;
}

Test(api_sign, parses_csr_and_ttl)
{
    void *doc = NULL;
    const char *csr = NULL;
    size_t csr_len = 0;
    int64_t ttl = -1;
    const char body[] = "{\"csr\": \"-----BEGIN\", \"ttl\": \"2h\"}";
    cr_assert_eq(api_sign_parse_body(body, strlen(body), &doc, &csr, &csr_len, &ttl, NULL), API_OK);
    cr_assert_eq(csr_len, strlen("-----BEGIN"));
    cr_assert_eq(memcmp(csr, "-----BEGIN", csr_len), 0);
    cr_assert_eq(ttl, 7200);
    json_decref(doc);
}

Test(api_sign, leaves_ttl_zero_when_absent)
{
    const char *csr = NULL;
    int64_t ttl = -1;
    cr_assert_eq(parse("{\"csr\": \"x\"}", &csr, &ttl, NULL), API_OK);
    cr_assert_eq(ttl, 0);
}

Test(api_sign, refuses_invalid_json_with_bad_request)
{
    const char *csr = NULL;
    int64_t ttl = 0;
    struct api_error err = {0};
    cr_assert_eq(parse("{\"csr\": ", &csr, &ttl, &err), API_ERR_BAD_REQUEST);
    cr_assert(strstr(err.msg, "not valid JSON") != NULL);
}

Test(api_sign, refuses_duplicate_keys_with_bad_request)
{
    const char *csr = NULL;
    int64_t ttl = 0;
    struct api_error err = {0};
    cr_assert_eq(parse("{\"csr\": \"a\", \"csr\": \"b\"}", &csr, &ttl, &err), API_ERR_BAD_REQUEST);
    cr_assert(strstr(err.msg, "csr") != NULL, "%s", err.msg);
}

Test(api_sign, refuses_unknown_keys_naming_them)
{
    const char *csr = NULL;
    int64_t ttl = 0;
    struct api_error err = {0};
    cr_assert_eq(parse("{\"csr\": \"a\", \"san\": \"b\"}", &csr, &ttl, &err), API_ERR_BAD_REQUEST);
    cr_assert(strstr(err.msg, "'san'") != NULL, "%s", err.msg);
}

Test(api_sign, refuses_wrong_types_naming_the_key)
{
    const char *csr = NULL;
    int64_t ttl = 0;
    struct api_error err = {0};
    cr_assert_eq(parse("{\"csr\": \"a\", \"ttl\": 3600}", &csr, &ttl, &err), API_ERR_BAD_REQUEST);
    cr_assert(strstr(err.msg, "'ttl'") != NULL, "%s", err.msg);
    cr_assert_eq(parse("{\"csr\": [\"a\"]}", &csr, &ttl, &err), API_ERR_BAD_REQUEST);
    cr_assert(strstr(err.msg, "'csr'") != NULL, "%s", err.msg);
}

Test(api_sign, refuses_a_missing_csr)
{
    const char *csr = NULL;
    int64_t ttl = 0;
    struct api_error err = {0};
    cr_assert_eq(parse("{\"ttl\": \"1h\"}", &csr, &ttl, &err), API_ERR_BAD_REQUEST);
    cr_assert(strstr(err.msg, "'csr' is required") != NULL, "%s", err.msg);
}

Test(api_sign, refuses_non_objects_and_empty_bodies)
{
    const char *csr = NULL;
    int64_t ttl = 0;
    cr_assert_eq(parse("[\"csr\"]", &csr, &ttl, NULL), API_ERR_BAD_REQUEST);
    cr_assert_eq(parse("\"csr\"", &csr, &ttl, NULL), API_ERR_BAD_REQUEST);
    cr_assert_eq(parse("", &csr, &ttl, NULL), API_ERR_BAD_REQUEST);
}

Test(api_sign, refuses_an_empty_csr_as_invalid_csr)
{
    const char *csr = NULL;
    int64_t ttl = 0;
    cr_assert_eq(parse("{\"csr\": \"\"}", &csr, &ttl, NULL), API_ERR_INVALID_CSR);
}

Test(api_sign, refuses_bad_durations_naming_ttl)
{
    const char *csr = NULL;
    int64_t ttl = 0;
    struct api_error err = {0};
    cr_assert_eq(parse("{\"csr\": \"a\", \"ttl\": \"1 hour\"}", &csr, &ttl, &err),
                 API_ERR_BAD_REQUEST);
    cr_assert(strstr(err.msg, "'ttl'") != NULL, "%s", err.msg);
    cr_assert_eq(parse("{\"csr\": \"a\", \"ttl\": \"0s\"}", &csr, &ttl, &err), API_ERR_BAD_REQUEST);
}

Test(api_sign, picks_renew_after_near_half_the_lifetime)
{
    /* Issued at 1000 (notBefore 940), valid 3600 s: half is 1800 +- 360. */
    int64_t lo = INT64_MAX;
    int64_t hi = INT64_MIN;
    for (int i = 0; i < 200; i++) {
        int64_t at = api_renew_after(940, 4600);
        cr_assert_geq(at, 1000 + 1800 - 360);
        cr_assert_leq(at, 1000 + 1800 + 360);
        lo = at < lo ? at : lo;
        hi = at > hi ? at : hi;
    }
    cr_assert_gt(hi, lo, "renew_after has jitter");
}

Test(api_sign, keeps_renew_after_inside_the_validity)
{
    int64_t at = api_renew_after(0, 30);
    cr_assert_geq(at, 0);
    cr_assert_leq(at, 30);
}

Test(api_sign, formats_times_as_rfc3339_utc)
{
    char buf[32];
    cr_assert(api_time_rfc3339(1795773600, buf, sizeof(buf)));
    cr_assert_str_eq(buf, "2026-11-27T10:00:00Z");
}
