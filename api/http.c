/* http.c: the thin HTTP layer over the handlers: per-request state, body
 * accumulation, the routing table, JSON error answers and the headers every
 * response carries. Decisions that need no body (route, method, media type,
 * size) are taken on MHD's first call, before a byte of the body is read. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>

#include "internal.h"

/* A client streaming a chunked body past the cap is answered 413 once it
 * stops; one that keeps going past this much more is dropped. */
#define API_MAX_DISCARD (1024 * 1024)

/* CONTRACT section 6; (H) routes have plain_http = 1. */
static const struct api_route routes[] = {
    {API_ROUTE_SIGN, "POST", "/v1/sign", "/v1/sign", 0, 1, 1, api_route_sign},
    {API_ROUTE_RENEW, "POST", "/v1/renew", "/v1/renew", 0, 1, 1, api_route_renew},
    {API_ROUTE_BUNDLE, "GET", "/v1/bundle", "/v1/bundle", 1, 0, 1, api_route_bundle},
    {API_ROUTE_BUNDLE_JSON, "GET", "/v1/bundle.json", "/v1/bundle.json", 1, 0, 1,
     api_route_bundle_json},
    {API_ROUTE_CA_CRT, "GET", "/ca.crt", "/ca.crt", 1, 0, 1, api_route_ca_crt},
    {API_ROUTE_HEALTHZ, "GET", "/healthz", "/healthz", 1, 0, 0, api_route_healthz},
    {API_ROUTE_READYZ, "GET", "/readyz", "/readyz", 1, 0, 0, api_route_readyz},
    {API_ROUTE_METRICS, "GET", "/metrics", "/metrics", 1, 0, 0, api_route_metrics},
    /* Revocation (api/revoke.c, certs.c, crl.c, ocsp.c). A path ending in
     * '*' matches any non-empty rest. */
    {API_ROUTE_REVOKE, "POST", "/v1/revoke", "/v1/revoke", 0, API_BODY_JSON, 1, api_route_revoke},
    {API_ROUTE_CERTS, "GET", "/v1/certs", "/v1/certs", 0, 0, 1, api_route_certs},
    {API_ROUTE_CERT, "GET", "/v1/certs/*", "/v1/certs/{serial}", 0, 0, 1, api_route_cert},
    {API_ROUTE_CRL, "GET", "/crl", "/crl", 1, 0, 0, api_route_crl},
    {API_ROUTE_CRL_PEM, "GET", "/crl.pem", "/crl.pem", 1, 0, 0, api_route_crl_pem},
    {API_ROUTE_ROOT_CRL, "GET", "/root.crl", "/root.crl", 1, 0, 0, api_route_root_crl},
    {API_ROUTE_CRLS_PEM, "GET", "/v1/crls.pem", "/v1/crls.pem", 1, 0, 0, api_route_crls_pem},
    {API_ROUTE_OCSP, "POST", "/ocsp", "/ocsp", 1, API_BODY_OCSP, 0, api_route_ocsp},
    {API_ROUTE_OCSP_GET, "GET", "/ocsp/*", "/ocsp/{base64}", 1, 0, 0, api_route_ocsp_get},
};

#define NUM_ROUTES (sizeof(routes) / sizeof(routes[0]))

/* path_matches compares exactly, or by prefix for a pattern ending in '*'
 * (the rest must be non-empty). */
static int path_matches(const char *pattern, const char *path)
{
    size_t n = strlen(pattern);
    if (n > 0 && pattern[n - 1] == '*') {
        return strncmp(path, pattern, n - 1) == 0 && path[n - 1] != '\0';
    }
    return strcmp(path, pattern) == 0;
}

enum api_err api_route_match(const char *method, const char *path, int https,
                             const struct api_route **out, struct api_error *err)
{
    for (size_t i = 0; i < NUM_ROUTES; i++) {
        const struct api_route *r = &routes[i];
        if (!path_matches(r->path, path)) {
            continue;
        }
        if (!https && !r->plain_http) {
            break;
        }
        *out = r;
        /* RFC 9110 9.3.2: "The server SHOULD send the same header fields in
         * response to a HEAD request as it would have sent if the request
         * method had been GET"; MHD leaves the body out. */
        if (strcmp(method, r->method) == 0 ||
            (strcmp(r->method, "GET") == 0 && strcmp(method, "HEAD") == 0)) {
            return API_OK;
        }
        return api_fail(err, API_ERR_METHOD_NOT_ALLOWED, "%s takes %s only", r->name, r->method);
    }
    *out = NULL;
    if (path[0] == '\0') {
        /* api_http_unescape empties a path holding an encoded NUL. */
        return api_fail(err, API_ERR_NOT_FOUND, "no such route: the path is empty or holds %%00");
    }
    return api_fail(err, API_ERR_NOT_FOUND, "no such route");
}

const char *api_route_name(enum api_route_id id)
{
    for (size_t i = 0; i < NUM_ROUTES; i++) {
        if (routes[i].id == id) {
            return routes[i].name;
        }
    }
    return "other";
}

int api_content_type_is(const char *value, const char *type)
{
    size_t len = strlen(type);

    if (value == NULL) {
        return 0;
    }
    while (*value == ' ' || *value == '\t') {
        value++;
    }
    if (strncasecmp(value, type, len) != 0) {
        return 0;
    }
    char next = value[len];
    return next == '\0' || next == ';' || next == ' ' || next == '\t';
}

int api_content_length_parse(const char *value, uint64_t *out_len)
{
    if (value == NULL || value[0] < '0' || value[0] > '9' || strlen(value) > 19) {
        return 0;
    }
    for (const char *p = value; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return 0;
        }
    }
    errno = 0;
    char *end = NULL;
    unsigned long long n = strtoull(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0') {
        return 0;
    }
    *out_len = (uint64_t)n;
    return 1;
}

enum api_err api_body_append(struct api_body *body, const char *data, size_t len,
                             struct api_error *err)
{
    if (len > API_MAX_BODY_LEN - body->len || body->discarded > 0) {
        if (__builtin_add_overflow(body->discarded, len, &body->discarded)) {
            body->discarded = SIZE_MAX;
        }
        return api_fail(err, API_ERR_PAYLOAD_TOO_LARGE, "request body exceeds %d bytes",
                        API_MAX_BODY_LEN);
    }
    size_t need = body->len + len + 1; /* bounded by API_MAX_BODY_LEN + 1 */
    if (need > body->cap) {
        size_t cap = body->cap == 0 ? 4096 : body->cap;
        while (cap < need) {
            cap *= 2;
        }
        if (cap > API_MAX_BODY_LEN + 1) {
            cap = API_MAX_BODY_LEN + 1;
        }
        char *grown = malloc(cap);
        if (grown == NULL) {
            return api_fail(err, API_ERR_INTERNAL, "out of memory");
        }
        if (body->len > 0) {
            memcpy(grown, body->data, body->len);
        }
        OPENSSL_clear_free(body->data, body->cap);
        body->data = grown;
        body->cap = cap;
    }
    memcpy(body->data + body->len, data, len);
    body->len += len;
    body->data[body->len] = '\0';
    return API_OK;
}

void api_body_cleanup(struct api_body *body)
{
    if (body == NULL) {
        return;
    }
    OPENSSL_clear_free(body->data, body->cap);
    body->data = NULL;
    body->len = 0;
    body->cap = 0;
    body->discarded = 0;
}

char *api_error_json(const struct api_error *err, size_t *out_len)
{
    json_t *doc = json_pack("{s:s, s:s}", "error", api_err_wire(err->code), "message", err->msg);
    if (doc == NULL) {
        /* The message was not UTF-8 (it may quote client bytes). */
        doc =
            json_pack("{s:s, s:s}", "error", api_err_wire(err->code), "message", "request refused");
    }
    if (doc == NULL) {
        return NULL;
    }
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (s != NULL) {
        *out_len = strlen(s);
    }
    return s;
}

int api_response_set_bytes(struct api_response *resp, unsigned status, const char *content_type,
                           const void *data, size_t len)
{
    unsigned char *copy = malloc(len > 0 ? len : 1);
    if (copy == NULL) {
        return 0;
    }
    if (len > 0) {
        memcpy(copy, data, len);
    }
    free(resp->body);
    resp->body = copy;
    resp->body_len = len;
    resp->status = status;
    resp->content_type = content_type;
    return 1;
}

int api_response_set_json(struct api_response *resp, unsigned status, const void *doc)
{
    const json_t *j = doc;
    char *s = json_dumps(j, JSON_COMPACT);
    if (s == NULL) {
        return 0;
    }
    free(resp->body);
    resp->body = (unsigned char *)s;
    resp->body_len = strlen(s);
    resp->status = status;
    resp->content_type = "application/json";
    return 1;
}

int api_response_set_json_more(struct api_response *resp, unsigned status, const void *doc,
                               const struct api_json_part *more, size_t n_more)
{
    char *members = json_dumps(doc, JSON_COMPACT | JSON_EMBED);
    if (members == NULL) {
        return 0;
    }
    size_t len = strlen(members);
    /* '{' members (',' part)... '}' NUL; every length is bounded by memory. */
    size_t cap = len + 3;
    for (size_t i = 0; i < n_more; i++) {
        cap += more[i].len + 1;
    }
    char *body = malloc(cap);
    if (body == NULL) {
        free(members);
        return 0;
    }
    size_t n = 0;
    body[n++] = '{';
    memcpy(body + n, members, len);
    n += len;
    for (size_t i = 0; i < n_more; i++) {
        if (more[i].len == 0) {
            continue;
        }
        if (n > 1) {
            body[n++] = ',';
        }
        memcpy(body + n, more[i].text, more[i].len);
        n += more[i].len;
    }
    body[n++] = '}';
    body[n] = '\0';
    free(members);
    free(resp->body);
    resp->body = (unsigned char *)body;
    resp->body_len = n;
    resp->status = status;
    resp->content_type = "application/json";
    return 1;
}

char *api_json_pem_member(const char *name, const char *pem, size_t pem_len, size_t *out_len)
{
    size_t name_len = strlen(name);
    for (size_t i = 0; i < name_len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_')) {
            return NULL;
        }
    }
    size_t newlines = 0;
    for (size_t i = 0; i < pem_len; i++) {
        unsigned char c = (unsigned char)pem[i];
        if (c == '\n') {
            newlines++;
        } else if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
            return NULL;
        }
    }
    /* '"' name '":"' pem, one more byte per newline, '"' NUL */
    size_t cap = name_len + pem_len + newlines + 7;
    char *out = malloc(cap);
    if (out == NULL) {
        return NULL;
    }
    size_t n = 0;
    out[n++] = '"';
    memcpy(out + n, name, name_len);
    n += name_len;
    memcpy(out + n, "\":\"", 3);
    n += 3;
    for (size_t i = 0; i < pem_len; i++) {
        if (pem[i] == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
        } else {
            out[n++] = pem[i];
        }
    }
    out[n++] = '"';
    out[n] = '\0';
    *out_len = n;
    return out;
}

int api_response_set_error(struct api_response *resp, const struct api_error *err)
{
    size_t len = 0;
    char *s = api_error_json(err, &len);
    if (s == NULL) {
        return 0;
    }
    free(resp->body);
    resp->body = (unsigned char *)s;
    resp->body_len = len;
    resp->status = api_err_status(err->code);
    resp->content_type = "application/json";
    resp->error = api_err_wire(err->code);
    snprintf(resp->message, sizeof(resp->message), "%s", err->msg);
    if (err->code == API_ERR_OVERLOADED) {
        resp->retry_after = 1;
    }
    return 1;
}

void api_response_cleanup(struct api_response *resp)
{
    if (resp == NULL) {
        return;
    }
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
}

/* ---- MHD glue ---- */

static struct api_request *request_new(const struct api_listener *l, struct MHD_Connection *conn,
                                       const char *method)
{
    struct api_request *req = calloc(1, sizeof(*req));

    if (req == NULL) {
        return NULL;
    }
    req->srv = l->srv;
    req->conn = conn;
    req->https = l->https;
    req->route_id = API_ROUTE_OTHER;
    req->phase = API_PHASE_BODY;
    req->start_ns = api_mono_ns();
    snprintf(req->method, sizeof(req->method), "%s", method);
    snprintf(req->request_id, sizeof(req->request_id), "%016" PRIx64, api_random_u64());
    api_server_inflight_add(l->srv, 1);
    return req;
}

static void request_free(struct api_request *req)
{
    api_body_cleanup(&req->body);
    api_response_cleanup(&req->resp);
    OPENSSL_clear_free(req->token, req->token_len);
    free(req->peer_der);
    json_decref(req->doc);
    ca_leaf_cleanup(&req->leaf);
    free(req);
}

static enum MHD_Result respond(struct api_request *req)
{
    struct MHD_Response *r = NULL;
    enum MHD_Result ret = MHD_NO;

    r = MHD_create_response_from_buffer(req->resp.body_len, req->resp.body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL) {
        return MHD_NO;
    }
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, req->resp.content_type) !=
            MHD_YES ||
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") != MHD_YES ||
        MHD_add_response_header(r, "X-Request-Id", req->request_id) != MHD_YES) {
        goto out;
    }
    if (req->https &&
        MHD_add_response_header(r, "Strict-Transport-Security", "max-age=31536000") != MHD_YES) {
        goto out;
    }
    if (req->route != NULL && req->route->cache_no_store &&
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES) {
        goto out;
    }
    if ((req->resp.cache_control[0] != '\0' &&
         MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, req->resp.cache_control) !=
             MHD_YES) ||
        (req->resp.last_modified[0] != '\0' &&
         MHD_add_response_header(r, MHD_HTTP_HEADER_LAST_MODIFIED, req->resp.last_modified) !=
             MHD_YES) ||
        (req->resp.expires[0] != '\0' &&
         MHD_add_response_header(r, MHD_HTTP_HEADER_EXPIRES, req->resp.expires) != MHD_YES) ||
        (req->resp.etag[0] != '\0' &&
         MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, req->resp.etag) != MHD_YES)) {
        goto out;
    }
    if (req->resp.allow[0] != '\0' &&
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, req->resp.allow) != MHD_YES) {
        goto out;
    }
    if (api_server_draining(req->srv) &&
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES) {
        goto out;
    }
    if (req->resp.retry_after > 0) {
        char secs[16];
        snprintf(secs, sizeof(secs), "%d", req->resp.retry_after);
        if (MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, secs) != MHD_YES) {
            goto out;
        }
    }
    req->phase = API_PHASE_SENT;
    ret = MHD_queue_response(req->conn, req->resp.status, r);
out:
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result respond_error(struct api_request *req, const struct api_error *err)
{
    if (!api_response_set_error(&req->resp, err)) {
        return MHD_NO;
    }
    return respond(req);
}

/* content_length reads the request's Content-Length into |*len| (0 when
 * absent); 0 when it cannot be parsed, else 1. */
static int content_length(const struct api_request *req, uint64_t *len)
{
    const char *cl =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return cl == NULL || api_content_length_parse(cl, len);
}

/* refuse answers |err| once the request is read. A small body (at most
 * API_MAX_DISCARD bytes, or chunked) is read and discarded first, and the
 * answer sent after it: closing a socket with unread data makes the kernel
 * send a reset, which can destroy the answer before the client reads it.
 * A larger or unparsable Content-Length is answered at once, and MHD
 * closes the connection. */
static enum MHD_Result refuse(struct api_request *req, const struct api_error *err)
{
    uint64_t len = 0;
    if (!content_length(req, &len) || len > API_MAX_DISCARD) {
        return respond_error(req, err);
    }
    req->refused = 1;
    req->refusal = *err;
    req->phase = API_PHASE_BODY;
    return MHD_YES;
}

struct framing {
    unsigned content_length;
    unsigned transfer_encoding;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct framing *f = cls;

    (void)kind;
    (void)value;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        f->content_length++;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->transfer_encoding++;
    }
    return MHD_YES;
}

/* ambiguous_length says why the request's body has no single agreed end, or
 * NULL when it has one. With two Content-Length headers, or Content-Length
 * and Transfer-Encoding, a proxy in front may frame the body differently
 * from libmicrohttpd (which takes the first Content-Length), and the rest
 * of the body would be read as another request (RFC 9112 6.1, 6.3). */
static const char *ambiguous_length(const struct api_request *req)
{
    struct framing f = {0, 0};

    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, count_framing, &f);
    if (f.content_length > 1) {
        return "more than one Content-Length";
    }
    if (f.content_length > 0 && f.transfer_encoding > 0) {
        return "both Content-Length and Transfer-Encoding";
    }
    return NULL;
}

static enum MHD_Result first_call(struct api_request *req, const char *url, const char *method)
{
    struct api_error e = {0};
    struct api_error *err = &e;
    const struct api_route *route = NULL;
    uint64_t len = 0;

    const char *ambiguous = ambiguous_length(req);
    if (ambiguous != NULL) {
        /* Answered before the body is read: MHD then closes the connection,
         * so nothing after this request's headers is read as a request. */
        api_fail(err, API_ERR_BAD_REQUEST, "ambiguous request length: %s", ambiguous);
        return respond_error(req, err);
    }

    enum api_err rc = api_route_match(method, url, req->https, &route, err);
    req->route = route;
    if (rc == API_ERR_METHOD_NOT_ALLOWED) {
        snprintf(req->resp.allow, sizeof(req->resp.allow), "%s", route->method);
        req->route = NULL; /* counted and logged as "other" */
    }
    if (rc != API_OK) {
        return refuse(req, err);
    }
    req->route_id = route->id;
    req->url = url;
    if (!content_length(req, &len)) {
        api_fail(err, API_ERR_BAD_REQUEST, "bad Content-Length");
        return refuse(req, err);
    }
    if (!route->json_body) {
        if (len > API_MAX_DISCARD) {
            api_fail(err, API_ERR_PAYLOAD_TOO_LARGE, "this route takes no request body");
            return refuse(req, err);
        }
        rc = route->handler(req, err);
        if (rc != API_OK) {
            return refuse(req, err);
        }
        /* Sent on the next call, once the request is complete: MHD closes
         * the connection after an answer queued on the first call. */
        req->phase = API_PHASE_READY;
        return MHD_YES;
    }
    const char *ct =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    int ocsp = route->json_body == API_BODY_OCSP;
    const char *want = ocsp ? "application/ocsp-request" : "application/json";
    if (!api_content_type_is(ct, want)) {
        api_fail(err, API_ERR_UNSUPPORTED_MEDIA_TYPE, "Content-Type must be %s", want);
        return refuse(req, err);
    }
    if (len > (ocsp ? CA_MAX_OCSP_REQUEST_LEN : API_MAX_BODY_LEN)) {
        api_fail(err, API_ERR_PAYLOAD_TOO_LARGE, "request body exceeds %d bytes",
                 ocsp ? CA_MAX_OCSP_REQUEST_LEN : API_MAX_BODY_LEN);
        return refuse(req, err);
    }
    req->phase = API_PHASE_BODY;
    return MHD_YES;
}

static enum MHD_Result body_complete(struct api_request *req)
{
    struct api_error e = {0};
    struct api_error *err = &e;

    if (req->refused) {
        return respond_error(req, &req->refusal);
    }
    if (req->body.discarded > 0) {
        api_fail(err, API_ERR_PAYLOAD_TOO_LARGE, "request body exceeds %d bytes", API_MAX_BODY_LEN);
        return respond_error(req, err);
    }
    enum api_err rc = req->route->handler(req, err);
    if (rc != API_OK) {
        return respond_error(req, err);
    }
    if (req->pending) {
        return MHD_YES; /* a signer answers; MHD calls again after the resume */
    }
    return respond(req);
}

enum MHD_Result api_http_access(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_data_size, void **req_cls)
{
    const struct api_listener *l = cls;
    struct api_request *req = *req_cls;

    (void)version;
    if (req == NULL) {
        req = request_new(l, conn, method);
        if (req == NULL) {
            return MHD_NO;
        }
        *req_cls = req;
        return first_call(req, url, method);
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (req->phase != API_PHASE_BODY || req->refused) {
            /* Refused, or a route that takes no body: read and dropped. */
            req->body.discarded += n < API_MAX_DISCARD ? n : API_MAX_DISCARD;
            return req->body.discarded > API_MAX_DISCARD ? MHD_NO : MHD_YES;
        }
        enum api_err rc = api_body_append(&req->body, upload_data, n, NULL);
        if (rc == API_ERR_INTERNAL ||
            (rc == API_ERR_PAYLOAD_TOO_LARGE && req->body.discarded > API_MAX_DISCARD)) {
            return MHD_NO;
        }
        return MHD_YES;
    }
    switch (req->phase) {
        case API_PHASE_BODY:
            return body_complete(req);
        case API_PHASE_READY:
            return respond(req);
        default:
            return MHD_YES;
    }
}

size_t api_http_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    size_t len = MHD_http_unescape(s);
    /* Emptied rather than cut at the NUL: what comes before the NUL may be
     * a route of its own, and what follows would be lost without a trace. */
    if (memchr(s, '\0', len) != NULL) {
        s[0] = '\0';
        return 0;
    }
    return len;
}

/* client_address writes the numeric IP address of |conn|'s peer into |buf|,
 * or "" when it is not known. */
static void client_address(struct MHD_Connection *conn, char *buf, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;

    buf[0] = '\0';
    if (sa == NULL) {
        return;
    }
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)(const void *)sa;
        if (inet_ntop(AF_INET, &in4->sin_addr, buf, (socklen_t)len) == NULL) {
            buf[0] = '\0';
        }
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        if (inet_ntop(AF_INET6, &in6->sin6_addr, buf, (socklen_t)len) == NULL) {
            buf[0] = '\0';
        }
    }
}

void api_http_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                        enum MHD_RequestTerminationCode toe)
{
    struct api_request *req = *req_cls;

    (void)cls;
    (void)toe;
    if (req == NULL) {
        return;
    }
    *req_cls = NULL;
    struct api_server *srv = req->srv;
    if (req->phase == API_PHASE_SENT) {
        uint64_t us = (api_mono_ns() - req->start_ns) / 1000;
        api_metrics_observe(api_server_metrics(srv), req->route_id, req->resp.status, us);
        char client[INET6_ADDRSTRLEN];
        client_address(conn, client, sizeof(client));
        struct api_log_entry e = {
            .request_id = req->request_id,
            .route = api_route_name(req->route_id),
            .method = req->method,
            .status = req->resp.status,
            .error = req->resp.error,
            .message = req->resp.error != NULL ? req->resp.message : NULL,
            .spiffe_id = req->spiffe_id,
            .serial = req->serial_hex,
            .client = client,
            .ms = (double)us / 1000.0,
        };
        api_log_request(stderr, api_server_log_level(srv), &e);
    }
    request_free(req);
    api_server_inflight_add(srv, -1);
}
