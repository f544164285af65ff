/* test_api_http.c: the routing table, the first-call checks (media type,
 * Content-Length) and the bounded body of api/http.c. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "../../api/internal.h"

TestSuite(api_http);

Test(api_http, matches_post_sign_on_https)
{
    const struct api_route *r = NULL;
    cr_assert_eq(api_route_match("POST", "/v1/sign", 1, &r, NULL), API_OK);
    cr_assert_eq(r->id, API_ROUTE_SIGN);
    cr_assert(r->json_body);
}

Test(api_http, refuses_sign_on_plain_http_as_not_found)
{
    const struct api_route *r = NULL;
    cr_assert_eq(api_route_match("POST", "/v1/sign", 0, &r, NULL), API_ERR_NOT_FOUND);
    cr_assert_eq(api_route_match("POST", "/v1/renew", 0, &r, NULL), API_ERR_NOT_FOUND);
}

Test(api_http, serves_public_routes_on_plain_http)
{
    static const char *const paths[] = {"/v1/bundle", "/v1/bundle.json", "/ca.crt",
                                        "/healthz",   "/readyz",         "/metrics"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        const struct api_route *r = NULL;
        cr_assert_eq(api_route_match("GET", paths[i], 0, &r, NULL), API_OK, "%s", paths[i]);
        cr_assert_str_eq(r->path, paths[i]);
    }
}

Test(api_http, answers_get_on_sign_with_method_not_allowed_naming_post)
{
    const struct api_route *r = NULL;
    struct api_error err = {0};
    cr_assert_eq(api_route_match("GET", "/v1/sign", 1, &r, &err), API_ERR_METHOD_NOT_ALLOWED);
    cr_assert_not_null(r);
    cr_assert_str_eq(r->method, "POST");
    cr_assert(strstr(err.msg, "POST") != NULL);
}

Test(api_http, answers_post_on_healthz_with_method_not_allowed)
{
    const struct api_route *r = NULL;
    cr_assert_eq(api_route_match("POST", "/healthz", 1, &r, NULL), API_ERR_METHOD_NOT_ALLOWED);
}

Test(api_http, accepts_head_on_get_routes)
{
    const struct api_route *r = NULL;
    cr_assert_eq(api_route_match("HEAD", "/healthz", 0, &r, NULL), API_OK);
}

Test(api_http, answers_unknown_paths_with_not_found)
{
    const struct api_route *r = NULL;
    cr_assert_eq(api_route_match("GET", "/v1/sign/", 1, &r, NULL), API_ERR_NOT_FOUND);
    cr_assert_eq(api_route_match("GET", "/", 1, &r, NULL), API_ERR_NOT_FOUND);
    cr_assert_eq(api_route_match("GET", "/healthz/../v1/sign", 1, &r, NULL), API_ERR_NOT_FOUND);
}

/* unescaped runs api_http_unescape on a copy of |in| into |out|. */
static size_t unescaped(const char *in, char *out, size_t out_len)
{
    cr_assert_lt(strlen(in), out_len);
    memcpy(out, in, strlen(in) + 1);
    return api_http_unescape(NULL, NULL, out);
}

Test(api_http, unescapes_paths_as_libmicrohttpd_does)
{
    char s[64];

    /* OCSP GET takes base64 whose '+', '/' and '=' may come percent-encoded. */
    cr_assert_eq(unescaped("/ocsp/MEM%2Bw%2FQ%3D%3d", s, sizeof(s)), 15);
    cr_assert_str_eq(s, "/ocsp/MEM+w/Q==");
    cr_assert_eq(unescaped("/v1/bundle", s, sizeof(s)), 10);
    cr_assert_str_eq(s, "/v1/bundle");
    cr_assert_eq(unescaped("/v1/bundle%2500", s, sizeof(s)), 13, "a '%%', not a NUL");
    cr_assert_str_eq(s, "/v1/bundle%00");
    cr_assert_eq(unescaped("/a%0", s, sizeof(s)), 4, "not an escape: left as it is");
    cr_assert_str_eq(s, "/a%0");
    cr_assert_eq(unescaped("", s, sizeof(s)), 0);
}

Test(api_http, empties_what_unescapes_to_a_nul_rather_than_cutting_it_there)
{
    const char *nul[] = {"/v1/bundle%00junk", "/v1/bundle%00", "%00",
                         "/v1/certs/12%00",   "revoked%00x",   "/%00/v1/bundle"};
    char s[64];

    for (size_t i = 0; i < sizeof(nul) / sizeof(nul[0]); i++) {
        cr_assert_eq(unescaped(nul[i], s, sizeof(s)), 0, "%s", nul[i]);
        cr_assert_str_eq(s, "", "%s", nul[i]);
    }
}

Test(api_http, answers_an_empty_path_with_not_found_naming_the_nul)
{
    const struct api_route *r = NULL;
    struct api_error err = {0};

    cr_assert_eq(api_route_match("GET", "", 0, &r, &err), API_ERR_NOT_FOUND);
    cr_assert_null(r);
    cr_assert_not_null(strstr(err.msg, "%00"), "%s", err.msg);
    cr_assert_eq(api_route_match("POST", "", 1, &r, NULL), API_ERR_NOT_FOUND);
}

Test(api_http, names_routes_for_metrics)
{
    cr_assert_str_eq(api_route_name(API_ROUTE_SIGN), "/v1/sign");
    cr_assert_str_eq(api_route_name(API_ROUTE_OTHER), "other");
}

#define J "application/json"

Test(api_http, accepts_application_json_with_parameters_in_any_case)
{
    cr_assert(api_content_type_is("application/json", J));
    cr_assert(api_content_type_is("application/json; charset=utf-8", J));
    cr_assert(api_content_type_is("Application/JSON", J));
    cr_assert(api_content_type_is(" application/OCSP-request", "application/ocsp-request"));
}

Test(api_http, refuses_other_media_types)
{
    cr_assert_not(api_content_type_is("application/ocsp-requestX", "application/ocsp-request"));
    cr_assert_not(api_content_type_is(NULL, J));
    cr_assert_not(api_content_type_is("", J));
    cr_assert_not(api_content_type_is("text/plain", J));
    cr_assert_not(api_content_type_is("application/jsonp", J));
    cr_assert_not(api_content_type_is("application/x-www-form-urlencoded", J));
}

Test(api_http, parses_content_length_digits_only)
{
    uint64_t n = 0;
    cr_assert(api_content_length_parse("65536", &n));
    cr_assert_eq(n, 65536);
    cr_assert_not(api_content_length_parse("-1", &n));
    cr_assert_not(api_content_length_parse("1e3", &n));
    cr_assert_not(api_content_length_parse("", &n));
    cr_assert_not(api_content_length_parse(" 5", &n));
    cr_assert_not(api_content_length_parse("99999999999999999999", &n));
}

Test(api_http, accumulates_a_body_of_exactly_the_cap)
{
    struct api_body body = {0};
    char chunk[1024];
    memset(chunk, 'a', sizeof(chunk));
    for (size_t i = 0; i < API_MAX_BODY_LEN / sizeof(chunk); i++) {
        cr_assert_eq(api_body_append(&body, chunk, sizeof(chunk), NULL), API_OK);
    }
    cr_assert_eq(body.len, API_MAX_BODY_LEN);
    cr_assert_eq(body.data[body.len], '\0');
    cr_assert_eq(body.discarded, 0);
    api_body_cleanup(&body);
}

Test(api_http, refuses_the_byte_past_the_cap_with_payload_too_large)
{
    struct api_body body = {0};
    struct api_error err = {0};
    char *big = calloc(1, API_MAX_BODY_LEN);
    cr_assert_not_null(big);
    cr_assert_eq(api_body_append(&body, big, API_MAX_BODY_LEN, &err), API_OK);
    cr_assert_eq(api_body_append(&body, "x", 1, &err), API_ERR_PAYLOAD_TOO_LARGE);
    cr_assert_eq(err.code, API_ERR_PAYLOAD_TOO_LARGE);
    cr_assert_eq(body.len, API_MAX_BODY_LEN);
    cr_assert_eq(body.discarded, 1);
    /* Once refused, later chunks are refused too, even small ones. */
    cr_assert_eq(api_body_append(&body, "y", 1, &err), API_ERR_PAYLOAD_TOO_LARGE);
    cr_assert_eq(body.discarded, 2);
    free(big);
    api_body_cleanup(&body);
    cr_assert_null(body.data);
}

Test(api_http, writes_errors_as_json_with_the_wire_code_and_message)
{
    struct api_error err = {0};
    api_fail(&err, API_ERR_FORBIDDEN, "SAN dns:evil.example is not authorised");
    size_t len = 0;
    char *s = api_error_json(&err, &len);
    cr_assert_not_null(s);
    cr_assert_eq(strlen(s), len);
    json_error_t jerr;
    json_t *doc = json_loads(s, 0, &jerr);
    cr_assert_not_null(doc);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "error")), "forbidden");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "message")),
                     "SAN dns:evil.example is not authorised");
    cr_assert_eq(json_object_size(doc), 2);
    json_decref(doc);
    free(s);
}

Test(api_http, replaces_a_message_that_is_not_utf8)
{
    struct api_error err = {0};
    api_fail(&err, API_ERR_BAD_REQUEST, "unknown key '\xff\xfe'");
    size_t len = 0;
    char *s = api_error_json(&err, &len);
    cr_assert_not_null(s);
    cr_assert(strstr(s, "\"bad_request\"") != NULL);
    cr_assert(strstr(s, "request refused") != NULL);
    free(s);
}

/* A precision (%.40s) or the buffer's end can cut a multi-byte character in
 * two: the cut character is dropped and the rest of the message kept. */
Test(api_http, keeps_a_message_whose_last_character_was_cut)
{
    static const struct {
        const char *quoted; /* what %.Ns quotes */
        int precision;
        const char *want;
    } cases[] = {
        {"a\xc3\xa9\xc3\xa9", 4, "key 'a\xc3\xa9'"},         /* 2-byte char cut after 1 */
        {"a\xe2\x82\xac", 3, "key 'a'"},                     /* 3-byte char cut after 2 */
        {"a\xe2\x82\xac", 2, "key 'a'"},                     /* ... after 1 */
        {"a\xf0\x9f\x94\x91", 4, "key 'a'"},                 /* 4-byte char cut after 3 */
        {"a\xf0\x9f\x94\x91", 5, "key 'a\xf0\x9f\x94\x91'"}, /* whole */
        {"ab", 2, "key 'ab'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct api_error err = {0};
        /* The quote is left open, as a precision leaves it: the cut is at the end. */
        api_fail(&err, API_ERR_BAD_REQUEST, "key '%.*s", cases[i].precision, cases[i].quoted);
        char want[64];
        snprintf(want, sizeof(want), "%s", cases[i].want);
        want[strlen(want) - 1] = '\0'; /* no closing quote */
        cr_assert_str_eq(err.msg, want, "case %zu", i);
        size_t len = 0;
        char *s = api_error_json(&err, &len);
        cr_assert_not_null(s);
        cr_assert(strstr(s, "request refused") == NULL, "case %zu: %s", i, s);
        free(s);
    }
    /* The buffer's own end: with one of the two prefixes it falls
     * mid-character. */
    struct api_error err = {0};
    char long_msg[sizeof(err.msg) * 2];
    memset(long_msg, 0, sizeof(long_msg));
    for (size_t i = 0; i + 2 < sizeof(long_msg); i += 2) {
        memcpy(long_msg + i, "\xc3\xa9", 2);
    }
    for (const char *prefix = "xy"; *prefix != '\0'; prefix++) {
        api_fail(&err, API_ERR_BAD_REQUEST, "%s%s", prefix, long_msg);
        size_t len = 0;
        char *s = api_error_json(&err, &len);
        cr_assert_not_null(s);
        cr_assert(strstr(s, "request refused") == NULL, "%s", s);
        cr_assert_geq(strlen(err.msg), sizeof(err.msg) - 2);
        free(s);
    }
}

Test(api_http, sets_retry_after_on_overloaded_answers)
{
    struct api_response resp;
    struct api_error err = {0};
    memset(&resp, 0, sizeof(resp));
    api_fail(&err, API_ERR_OVERLOADED, "queue full");
    cr_assert(api_response_set_error(&resp, &err));
    cr_assert_eq(resp.status, 429);
    cr_assert_eq(resp.retry_after, 1);
    cr_assert_str_eq(resp.error, "overloaded");
    cr_assert_str_eq(resp.content_type, "application/json");
    api_response_cleanup(&resp);
}

Test(api_http, copies_response_bytes)
{
    struct api_response resp;
    char data[] = "abc";
    memset(&resp, 0, sizeof(resp));
    cr_assert(api_response_set_bytes(&resp, 200, "text/plain", data, 3));
    data[0] = 'z';
    cr_assert_eq(resp.body_len, 3);
    cr_assert_eq(memcmp(resp.body, "abc", 3), 0);
    api_response_cleanup(&resp);
}

/* ---- Adversarial review: routing ---- */

Test(api_http, never_matches_an_authenticated_route_on_plain_http_whatever_the_method)
{
    static const char *const paths[] = {"/v1/sign",    "/v1/renew",      "/v1/revoke",
                                        "/v1/certs",   "/v1/certs/1",    "/v1/certs/../sign",
                                        "/v1/certs/x", "/v1/certs/a/b/c"};
    static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", ""};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
            const struct api_route *r = NULL;
            cr_assert_eq(api_route_match(methods[m], paths[i], 0, &r, NULL), API_ERR_NOT_FOUND,
                         "%s %s", methods[m], paths[i]);
            cr_assert_null(r, "%s %s", methods[m], paths[i]);
        }
    }
    /* Every route the table serves on plain HTTP is public: (H) in the contract. */
    static const char *const plain_ok[] = {"/v1/bundle", "/v1/bundle.json", "/ca.crt", "/healthz",
                                           "/readyz",    "/metrics",        "/crl",    "/crl.pem",
                                           "/root.crl",  "/v1/crls.pem"};
    for (size_t i = 0; i < sizeof(plain_ok) / sizeof(plain_ok[0]); i++) {
        const struct api_route *r = NULL;
        cr_assert_eq(api_route_match("GET", plain_ok[i], 0, &r, NULL), API_OK, "%s", plain_ok[i]);
        cr_assert(r->plain_http);
        cr_assert(r->id != API_ROUTE_SIGN && r->id != API_ROUTE_RENEW &&
                  r->id != API_ROUTE_REVOKE && r->id != API_ROUTE_CERTS && r->id != API_ROUTE_CERT);
    }
}

Test(api_http, matches_paths_exactly_without_normalising_them)
{
    static const char *const paths[] = {
        "//v1/sign", "/v1/sign/", "/V1/SIGN",  "/v1//sign", "/v1/./sign", "/v1/sign.json",
        "v1/sign",   "/v1/signx", "/v1/sign ", "",          "/v1/certs/", "/ocsp/"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        const struct api_route *r = NULL;
        cr_assert_eq(api_route_match("POST", paths[i], 1, &r, NULL), API_ERR_NOT_FOUND, "'%s'",
                     paths[i]);
    }
    /* A prefix route swallows what follows it: a dot-dot after /v1/certs/ is a
     * (bad) serial of the GET-only certs route, never /v1/sign. */
    const struct api_route *r = NULL;
    cr_assert_eq(api_route_match("POST", "/v1/certs/../sign", 1, &r, NULL),
                 API_ERR_METHOD_NOT_ALLOWED);
    cr_assert_eq(r->id, API_ROUTE_CERT);
    cr_assert_eq(api_route_match("GET", "/v1/certs/../sign", 1, &r, NULL), API_OK);
    cr_assert_eq(r->id, API_ROUTE_CERT);
}

Test(api_http, allows_head_only_where_get_is_allowed)
{
    const struct api_route *r = NULL;
    cr_assert_eq(api_route_match("HEAD", "/v1/sign", 1, &r, NULL), API_ERR_METHOD_NOT_ALLOWED);
    cr_assert_eq(api_route_match("HEAD", "/v1/renew", 1, &r, NULL), API_ERR_METHOD_NOT_ALLOWED);
    cr_assert_eq(api_route_match("HEAD", "/v1/revoke", 1, &r, NULL), API_ERR_METHOD_NOT_ALLOWED);
    cr_assert_eq(api_route_match("HEAD", "/v1/certs", 1, &r, NULL), API_OK);
    cr_assert_eq(r->id, API_ROUTE_CERTS); /* and its handler authenticates like GET */
    cr_assert_eq(api_route_match("head", "/v1/certs", 1, &r, NULL), API_ERR_METHOD_NOT_ALLOWED);
}

/* The issuance answer: an object's members, then members encoded once by
 * jansson with JSON_EMBED and the certificate encoded by api_json_pem_member;
 * the result must be one valid object holding them all, in order. */
Test(api_http, joins_an_objects_members_with_pre_encoded_ones)
{
    struct api_response resp = {0};
    json_t *fixed = json_pack("{s:s, s:s}", "chain", "-----BEGIN X-----\n\"q\"\n", "bundle", "b");
    cr_assert_not_null(fixed);
    char *chain = json_dumps(fixed, JSON_COMPACT | JSON_EMBED);
    cr_assert_not_null(chain);
    size_t cert_len = 0;
    char *cert = api_json_pem_member("certificate", "-----BEGIN C-----\nAB+/=\n", 24, &cert_len);
    cr_assert_not_null(cert);
    json_t *doc = json_pack("{s:s, s:[s]}", "serial", "3f", "dns_names", "a.example");
    cr_assert_not_null(doc);
    const struct api_json_part more[] = {{cert, cert_len}, {"", 0}, {chain, strlen(chain)}};

    cr_assert(api_response_set_json_more(&resp, 201, doc, more, 3));
    cr_assert_eq(resp.status, 201);
    cr_assert_str_eq(resp.content_type, "application/json");
    cr_assert_eq(strlen((char *)resp.body), resp.body_len);
    json_error_t jerr;
    json_t *back = json_loadb((char *)resp.body, resp.body_len, JSON_REJECT_DUPLICATES, &jerr);
    cr_assert_not_null(back, "not JSON: %s: %s", jerr.text, (char *)resp.body);
    cr_assert_eq(json_object_size(back), 5);
    cr_assert_str_eq(json_string_value(json_object_get(back, "serial")), "3f");
    cr_assert_str_eq(json_string_value(json_object_get(back, "certificate")),
                     "-----BEGIN C-----\nAB+/=\n");
    cr_assert_str_eq(json_string_value(json_object_get(back, "chain")),
                     "-----BEGIN X-----\n\"q\"\n");
    cr_assert_str_eq(json_string_value(json_object_get(back, "bundle")), "b");
    const char *first = json_object_iter_key(json_object_iter(back));
    cr_assert_str_eq(first, "serial", "the object's own members come first");
    json_decref(back);

    /* An empty object with pre-encoded members, and members with none. */
    json_t *empty = json_object();
    cr_assert(api_response_set_json_more(&resp, 201, empty, more + 1, 2));
    back = json_loadb((char *)resp.body, resp.body_len, 0, &jerr);
    cr_assert_not_null(back, "%s", (char *)resp.body);
    cr_assert_eq(json_object_size(back), 2);
    json_decref(back);
    cr_assert(api_response_set_json_more(&resp, 201, doc, more + 1, 1));
    back = json_loadb((char *)resp.body, resp.body_len, 0, &jerr);
    cr_assert_not_null(back, "%s", (char *)resp.body);
    cr_assert_eq(json_object_size(back), 2);
    json_decref(back);
    cr_assert(api_response_set_json_more(&resp, 201, empty, NULL, 0));
    cr_assert_str_eq((char *)resp.body, "{}");

    json_decref(empty);
    json_decref(doc);
    free(cert);
    free(chain);
    json_decref(fixed);
    api_response_cleanup(&resp);
}

/* api_json_pem_member gives what jansson gives for the same member, byte for
 * byte, for a real certificate's PEM; and refuses, rather than emit invalid
 * JSON, any byte PEM never holds. */
Test(api_http, encodes_pem_members_like_jansson_and_refuses_other_bytes)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    cr_assert_not_null(key);
    X509 *x = X509_new();
    cr_assert_not_null(x);
    cr_assert(X509_set_pubkey(x, key));
    cr_assert(X509_sign(x, key, EVP_sha256()) > 0);
    BIO *bio = BIO_new(BIO_s_mem());
    cr_assert(PEM_write_bio_X509(bio, x));
    char *pem = NULL;
    long pem_len = BIO_get_mem_data(bio, &pem);
    cr_assert_gt(pem_len, 200); /* several 64-character lines */

    size_t len = 0;
    char *ours = api_json_pem_member("certificate", pem, (size_t)pem_len, &len);
    cr_assert_not_null(ours);
    json_t *obj = json_pack("{s:s%}", "certificate", pem, (size_t)pem_len);
    char *theirs = json_dumps(obj, JSON_COMPACT | JSON_EMBED);
    cr_assert_not_null(theirs);
    cr_assert_str_eq(ours, theirs);
    cr_assert_eq(len, strlen(theirs));
    free(theirs);
    free(ours);
    json_decref(obj);

    /* An empty PEM is an empty string. */
    ours = api_json_pem_member("c", "", 0, &len);
    cr_assert_str_eq(ours, "\"c\":\"\"");
    cr_assert_eq(len, 6);
    free(ours);

    /* Bytes JSON would need escaped (or that are not ASCII), and a name that
     * is not plain, are refused. */
    static const char *bad[] = {"A\"B", "A\\B", "A\rB", "A\tB", "A\001B", "A\177B", "A\303\251B"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_null(api_json_pem_member("c", bad[i], strlen(bad[i]), &len), "%zu", i);
    }
    char nul[] = {'A', '\0', 'B'};
    cr_assert_null(api_json_pem_member("c", nul, sizeof(nul), &len));
    cr_assert_null(api_json_pem_member("a\"b", "AB", 2, &len));
    cr_assert_null(api_json_pem_member("a b", "AB", 2, &len));

    BIO_free(bio);
    X509_free(x);
    EVP_PKEY_free(key);
}
