/* log.c: JSON lines on stderr, one per request, built with jansson from typed
 * fields only, so that no header, token, key or body can get in. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "internal.h"

static const char *level_name(enum api_log_level level)
{
    switch (level) {
        case API_LOG_DEBUG:
            return "debug";
        case API_LOG_INFO:
            return "info";
        case API_LOG_WARN:
            return "warn";
        case API_LOG_ERROR:
            return "error";
    }
    return "info";
}

enum api_log_level api_log_level_parse(const char *name)
{
    static const enum api_log_level levels[] = {API_LOG_DEBUG, API_LOG_INFO, API_LOG_WARN,
                                                API_LOG_ERROR};
    if (name == NULL) {
        return API_LOG_INFO;
    }
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        if (strcmp(name, level_name(levels[i])) == 0) {
            return levels[i];
        }
    }
    return API_LOG_INFO;
}

/* ts: RFC 3339 UTC with milliseconds. */
static void timestamp(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (gmtime_r(&ts.tv_sec, &tm) == NULL) {
        snprintf(buf, len, "1970-01-01T00:00:00.000Z");
        return;
    }
    char day[24];
    if (strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        day[0] = '\0';
    }
    snprintf(buf, len, "%.20s.%03dZ", day, (int)(ts.tv_nsec / 1000000L) % 1000);
}

/* set_str adds |key| when |value| is a non-empty UTF-8 string. */
static void set_str(json_t *doc, const char *key, const char *value)
{
    if (value != NULL && value[0] != '\0') {
        json_t *s = json_string(value); /* NULL for invalid UTF-8: left out */
        if (s != NULL) {
            json_object_set_new(doc, key, s);
        }
    }
}

static void emit(FILE *f, json_t *doc)
{
    char *line = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    if (line == NULL) {
        return;
    }
    size_t len = strlen(line);
    flockfile(f);
    fwrite(line, 1, len, f);
    fputc('\n', f);
    fflush(f);
    funlockfile(f);
    free(line);
}

void api_log_request(FILE *f, enum api_log_level min_level, const struct api_log_entry *e)
{
    enum api_log_level level = API_LOG_INFO;
    if (e->status >= 500) {
        level = API_LOG_ERROR;
    } else if (e->status >= 400) {
        level = API_LOG_WARN;
    }
    if (level < min_level) {
        return;
    }
    char ts[40];
    timestamp(ts, sizeof(ts));
    json_t *doc = json_object();
    if (doc == NULL) {
        return;
    }
    set_str(doc, "ts", ts);
    set_str(doc, "level", level_name(level));
    set_str(doc, "request_id", e->request_id);
    set_str(doc, "route", e->route);
    set_str(doc, "method", e->method);
    json_object_set_new(doc, "status", json_integer(e->status));
    set_str(doc, "error", e->error);
    set_str(doc, "message", e->message);
    set_str(doc, "spiffe_id", e->spiffe_id);
    set_str(doc, "serial", e->serial);
    set_str(doc, "client", e->client);
    json_object_set_new(doc, "ms", json_real(e->ms));
    emit(f, doc);
    json_decref(doc);
}

void api_log_event(FILE *f, enum api_log_level min_level, enum api_log_level level, const char *msg,
                   const char *error)
{
    if (level < min_level) {
        return;
    }
    char ts[40];
    timestamp(ts, sizeof(ts));
    json_t *doc = json_object();
    if (doc == NULL) {
        return;
    }
    set_str(doc, "ts", ts);
    set_str(doc, "level", level_name(level));
    set_str(doc, "msg", msg);
    set_str(doc, "error", error);
    emit(f, doc);
    json_decref(doc);
}
