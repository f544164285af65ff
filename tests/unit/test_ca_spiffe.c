/* test_ca_spiffe.c: the SPIFFE ID and trust domain validators, rule by rule. */
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "ca.h"

TestSuite(ca_spiffe);

struct id_case {
    char id[64];
    char why[48]; /* a word the refusal message must contain; empty when valid */
};

ParameterizedTestParameters(ca_spiffe, accepts_valid_workload_ids)
{
    static struct id_case cases[] = {
        {"spiffe://example.org/a", ""},       {"spiffe://example.org/ns/default/sa/web", ""},
        {"spiffe://example.org/A-Z_0.9", ""}, {"spiffe://example.org/a/.../b", ""},
        {"spiffe://example.org/.hidden", ""},
    };
    return cr_make_param_array(struct id_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct id_case *c, ca_spiffe, accepts_valid_workload_ids)
{
    struct ca_error err = {0};
    enum ca_err rc = ca_spiffe_id_check(c->id, strlen(c->id), "example.org", &err);
    cr_assert_eq(rc, CA_OK, "%s refused: %s", c->id, err.msg);
}

ParameterizedTestParameters(ca_spiffe, refuses_each_malformed_id_with_its_reason)
{
    static struct id_case cases[] = {
        {"", "spiffe://"},
        {"http://example.org/a", "spiffe://"},
        {"SPIFFE://example.org/a", "spiffe://"},
        {"spiffe:/example.org/a", "spiffe://"},
        {"spiffe://", "empty"},
        {"spiffe:///a", "empty"},
        {"spiffe://example.org", "path"},
        {"spiffe://example.org/", "trailing"},
        {"spiffe://example.org/a/", "trailing"},
        {"spiffe://example.org//a", "empty path segment"},
        {"spiffe://example.org/a//b", "empty path segment"},
        {"spiffe://example.org/./a", "'.'"},
        {"spiffe://example.org/a/..", "'.'"},
        {"spiffe://example.org/a/../b", "'.'"},
        {"spiffe://example.org/a?b=c", "query"},
        {"spiffe://example.org/a#frag", "fragment"},
        {"spiffe://example.org/a%20b", "percent"},
        {"spiffe://example.org:443/a", "port"},
        {"spiffe://user@example.org/a", "userinfo"},
        {"spiffe://Example.org/a", "lower-case"},
        {"spiffe://exa mple.org/a", "0x20"},
        {"spiffe://example.org/a b", "0x20"},
        {"spiffe://example.org/a:b", "':'"},
        {"spiffe://example.org/caf\xc3\xa9", "0xc3"},
        {"spiffe://other.org/a", "trust domain"},
        {"spiffe://example.org.evil/a", "trust domain"},
        {"spiffe://example.or/a", "trust domain"},
    };
    return cr_make_param_array(struct id_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct id_case *c, ca_spiffe, refuses_each_malformed_id_with_its_reason)
{
    struct ca_error err = {0};
    enum ca_err rc = ca_spiffe_id_check(c->id, strlen(c->id), "example.org", &err);
    cr_assert_eq(rc, CA_ERR_INVALID_SPIFFE_ID, "%s accepted", c->id);
    cr_assert_eq(err.code, CA_ERR_INVALID_SPIFFE_ID);
    cr_assert_not_null(strstr(err.msg, c->why), "%s: message '%s' lacks '%s'", c->id, err.msg,
                       c->why);
}

Test(ca_spiffe, refuses_an_id_with_an_embedded_nul)
{
    static const char id[] = "spiffe://example.org/a\0b";
    struct ca_error err = {0};
    cr_assert_eq(ca_spiffe_id_check(id, sizeof(id) - 1, "example.org", &err),
                 CA_ERR_INVALID_SPIFFE_ID);
    cr_assert_not_null(strstr(err.msg, "0x00"), "%s", err.msg);
}

Test(ca_spiffe, only_reads_the_given_length)
{
    /* The view is not NUL-terminated: the ID ends where the length says. */
    static const char text[] = "spiffe://example.org/abc/../x";
    cr_assert_eq(ca_spiffe_id_check(text, strlen("spiffe://example.org/abc"), "example.org", NULL),
                 CA_OK);
}

Test(ca_spiffe, accepts_an_id_of_exactly_2048_bytes)
{
    static char id[CA_MAX_SPIFFE_ID_LEN + 1];
    size_t prefix = strlen("spiffe://example.org/");
    memcpy(id, "spiffe://example.org/", prefix);
    memset(id + prefix, 'a', CA_MAX_SPIFFE_ID_LEN - prefix);
    cr_assert_eq(ca_spiffe_id_check(id, CA_MAX_SPIFFE_ID_LEN, "example.org", NULL), CA_OK);
}

Test(ca_spiffe, refuses_an_id_longer_than_2048_bytes)
{
    static char id[CA_MAX_SPIFFE_ID_LEN + 2];
    size_t prefix = strlen("spiffe://example.org/");
    struct ca_error err = {0};
    memcpy(id, "spiffe://example.org/", prefix);
    memset(id + prefix, 'a', CA_MAX_SPIFFE_ID_LEN + 1 - prefix);
    cr_assert_eq(ca_spiffe_id_check(id, CA_MAX_SPIFFE_ID_LEN + 1, "example.org", &err),
                 CA_ERR_INVALID_SPIFFE_ID);
    cr_assert_not_null(strstr(err.msg, "2048"), "%s", err.msg);
}

Test(ca_spiffe, accepts_trust_domains_of_the_allowed_charset)
{
    static const char td[] = "a-b_c.example0.org";
    cr_assert_eq(ca_trust_domain_check(td, strlen(td), NULL), CA_OK);
}

Test(ca_spiffe, refuses_trust_domains_outside_the_charset_or_length)
{
    static char long_td[257];
    memset(long_td, 'a', 256);
    cr_assert_eq(ca_trust_domain_check("Example.org", 11, NULL), CA_ERR_INVALID_SPIFFE_ID);
    cr_assert_eq(ca_trust_domain_check("example.org:443", 15, NULL), CA_ERR_INVALID_SPIFFE_ID);
    cr_assert_eq(ca_trust_domain_check("a/b", 3, NULL), CA_ERR_INVALID_SPIFFE_ID);
    cr_assert_eq(ca_trust_domain_check("", 0, NULL), CA_ERR_INVALID_SPIFFE_ID);
    cr_assert_eq(ca_trust_domain_check(long_td, 256, NULL), CA_ERR_INVALID_SPIFFE_ID);
    cr_assert_eq(ca_trust_domain_check(long_td, 255, NULL), CA_OK);
}
