/* test_api_log.c: request log lines of api/log.c: one JSON object per line,
 * the typed fields only, levels from the status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "../../api/internal.h"

TestSuite(api_log);

/* capture runs the logger into a memory stream and returns the text. */
static char *capture_request(enum api_log_level min, const struct api_log_entry *e)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    api_log_request(f, min, e);
    fclose(f);
    return buf;
}

Test(api_log, writes_one_json_line_with_the_typed_fields)
{
    struct api_log_entry e = {.request_id = "0123456789abcdef",
                              .route = "/v1/sign",
                              .method = "POST",
                              .status = 201,
                              .spiffe_id = "spiffe://example.org/ns/a/sa/b",
                              .serial = "3f9a",
                              .client = "192.0.2.7",
                              .ms = 1.5};
    char *s = capture_request(API_LOG_INFO, &e);
    size_t len = strlen(s);
    cr_assert(len > 0 && s[len - 1] == '\n');
    cr_assert_eq(strchr(s, '\n'), s + len - 1, "exactly one line");
    json_error_t jerr;
    json_t *doc = json_loadb(s, len, 0, &jerr);
    cr_assert_not_null(doc, "%s", jerr.text);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "level")), "info");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "request_id")), "0123456789abcdef");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "route")), "/v1/sign");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "method")), "POST");
    cr_assert_eq(json_integer_value(json_object_get(doc, "status")), 201);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "spiffe_id")),
                     "spiffe://example.org/ns/a/sa/b");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "serial")), "3f9a");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "client")), "192.0.2.7");
    cr_assert_float_eq(json_real_value(json_object_get(doc, "ms")), 1.5, 1e-9);
    const char *ts = json_string_value(json_object_get(doc, "ts"));
    cr_assert_not_null(ts);
    cr_assert_eq(strlen(ts), 24, "RFC 3339 with milliseconds: %s", ts);
    cr_assert_eq(ts[23], 'Z');
    cr_assert_null(json_object_get(doc, "error"));
    json_decref(doc);
    free(s);
}

Test(api_log, logs_client_errors_as_warn_and_server_errors_as_error)
{
    struct api_log_entry e = {.route = "/v1/sign", .status = 403, .error = "forbidden"};
    char *s = capture_request(API_LOG_INFO, &e);
    cr_assert(strstr(s, "\"level\":\"warn\"") != NULL);
    cr_assert(strstr(s, "\"error\":\"forbidden\"") != NULL);
    free(s);
    e.status = 500;
    e.error = "internal";
    s = capture_request(API_LOG_INFO, &e);
    cr_assert(strstr(s, "\"level\":\"error\"") != NULL);
    free(s);
}

Test(api_log, skips_lines_below_the_minimum_level)
{
    struct api_log_entry e = {.route = "/healthz", .status = 200};
    char *s = capture_request(API_LOG_WARN, &e);
    cr_assert_str_eq(s, "");
    free(s);
}

Test(api_log, leaves_out_fields_that_are_not_utf8)
{
    struct api_log_entry e = {.route = "/v1/sign", .status = 400, .message = "bad \xff"};
    char *s = capture_request(API_LOG_INFO, &e);
    json_t *doc = json_loads(s, 0, NULL);
    cr_assert_not_null(doc);
    cr_assert_null(json_object_get(doc, "message"));
    json_decref(doc);
    free(s);
}

Test(api_log, writes_events_with_msg_and_error)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    api_log_event(f, API_LOG_INFO, API_LOG_ERROR, "renewal failed", "store full");
    api_log_event(f, API_LOG_INFO, API_LOG_DEBUG, "hidden", NULL);
    fclose(f);
    json_t *doc = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
    cr_assert_not_null(doc);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "msg")), "renewal failed");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "error")), "store full");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "level")), "error");
    cr_assert_null(strstr(buf, "hidden"));
    json_decref(doc);
    free(buf);
}

Test(api_log, parses_level_names_defaulting_to_info)
{
    cr_assert_eq(api_log_level_parse("debug"), API_LOG_DEBUG);
    cr_assert_eq(api_log_level_parse("warn"), API_LOG_WARN);
    cr_assert_eq(api_log_level_parse("error"), API_LOG_ERROR);
    cr_assert_eq(api_log_level_parse(NULL), API_LOG_INFO);
    cr_assert_eq(api_log_level_parse("loud"), API_LOG_INFO);
}
