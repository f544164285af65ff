/* certs.c: GET /v1/certs and GET /v1/certs/{serial}, the admin's view of the
 * issuance records, and the small helpers the revocation routes share (the
 * admin check, serial spelling, HTTP dates). Records are read on the poll
 * thread: a read transaction never waits for a writer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/pem.h>

#include "internal.h"

#define CERTS_PREFIX "/v1/certs/"

int api_is_admin(const struct api_config *cfg, const char *spiffe_id)
{
    for (size_t i = 0; i < cfg->num_admins; i++) {
        if (strcmp(cfg->admins[i], spiffe_id) == 0) {
            return 1;
        }
    }
    return 0;
}

void api_serial_hex(const unsigned char *serial, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;

    if (len > CA_MAX_SERIAL_LEN) {
        len = CA_MAX_SERIAL_LEN;
    }
    for (size_t i = 0; i < len; i++) {
        if (n > 0 || (serial[i] >> 4) != 0) {
            out[n++] = hex[serial[i] >> 4];
        }
        if (n > 0 || (serial[i] & 0xf) != 0) {
            out[n++] = hex[serial[i] & 0xf];
        }
    }
    if (n == 0) {
        out[n++] = '0';
    }
    out[n] = '\0';
}

int api_http_date(int64_t t, char *buf, size_t buf_len)
{
    struct tm tm;
    time_t tt = (time_t)t;

    if (t < 0 || gmtime_r(&tt, &tm) == NULL) {
        return 0;
    }
    /* strftime's %a and %b follow the locale; the server never sets one, so
     * they are the C locale's English names that RFC 9110 asks for. */
    return strftime(buf, buf_len, "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0;
}

/* parse_status maps the status parameter. */
static int parse_status(const char *s, enum store_status *out)
{
    static const struct {
        const char *name;
        enum store_status status;
    } names[] = {
        {"valid", STORE_STATUS_VALID},
        {"revoked", STORE_STATUS_REVOKED},
        {"expired", STORE_STATUS_EXPIRED},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].status;
            return 1;
        }
    }
    return 0;
}

/* parse_limit reads 1..STORE_LIST_MAX in decimal digits only. */
static int parse_limit(const char *s, size_t *out)
{
    size_t len = strlen(s);
    if (len == 0 || len > 4) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    errno = 0;
    char *end = NULL;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno != 0 || end != s + len || n < 1 || n > STORE_LIST_MAX) {
        return 0;
    }
    *out = (size_t)n;
    return 1;
}

const char *const api_certs_params[API_CERTS_NUM_PARAMS] = {"spiffe_id", "status", "limit", "after",
                                                            "renewed_from"};

/* serial_param parses the hex serial |value| of the parameter |name| into
 * |buf| (CA_MAX_SERIAL_LEN bytes). */
static enum api_err serial_param(const char *name, const char *value, unsigned char *buf,
                                 size_t *out_len, struct api_error *err)
{
    enum api_err rc = API_OK;
    struct ca_error cerr = {0};
    size_t len = strlen(value);

    ENSURE(len <= 2 * CA_MAX_SERIAL_LEN &&
               ca_serial_from_hex(value, len, buf, out_len, &cerr) == CA_OK,
           API_ERR_BAD_REQUEST, "'%s' must be a serial: 1..40 hex digits, not zero", name);
out:
    return rc;
}

enum api_err api_certs_query_parse(const char *const values[API_CERTS_NUM_PARAMS], int64_t now,
                                   struct api_certs_parsed *out, struct api_error *err)
{
    enum api_err rc = API_OK;
    struct store_query *q = &out->q;
    const char *spiffe_id = values[API_CERTS_SPIFFE_ID];
    const char *status = values[API_CERTS_STATUS];
    const char *limit = values[API_CERTS_LIMIT];

    memset(out, 0, sizeof(*out));
    q->status = STORE_STATUS_ANY;
    q->limit = API_CERTS_DEFAULT_LIMIT;
    q->now = now;
    if (spiffe_id != NULL) {
        size_t len = strlen(spiffe_id);
        ENSURE(len > 0 && len <= CA_MAX_SPIFFE_ID_LEN, API_ERR_BAD_REQUEST,
               "'spiffe_id' must be 1..%d bytes", CA_MAX_SPIFFE_ID_LEN);
        q->spiffe_id = spiffe_id;
    }
    ENSURE(status == NULL || parse_status(status, &q->status), API_ERR_BAD_REQUEST,
           "'status' must be valid, revoked or expired");
    ENSURE(limit == NULL || parse_limit(limit, &q->limit), API_ERR_BAD_REQUEST,
           "'limit' must be an integer from 1 to %d", STORE_LIST_MAX);
    if (values[API_CERTS_AFTER] != NULL) {
        TRY(serial_param("after", values[API_CERTS_AFTER], out->after, &q->after_len, err));
        q->after = out->after;
    }
    if (values[API_CERTS_RENEWED_FROM] != NULL) {
        TRY(serial_param("renewed_from", values[API_CERTS_RENEWED_FROM], out->renewed_from,
                         &q->renewed_from_len, err));
        q->renewed_from = out->renewed_from;
    }
out:
    return rc;
}

static const char *status_name(const struct store_record *rec, int64_t now)
{
    if (rec->revoked_at != 0) {
        return "revoked";
    }
    return rec->not_after <= now ? "expired" : "valid";
}

static const char *auth_method_name(uint8_t method)
{
    switch (method) {
        case API_AUTH_KUBERNETES:
            return "kubernetes";
        case API_AUTH_PROVISIONER:
            return "provisioner";
        case API_AUTH_MTLS:
            return "mtls";
        default:
            return "none";
    }
}

/* cert_pem PEM-encodes a record's DER certificate. The caller frees it. */
static char *cert_pem(const unsigned char *der, size_t der_len)
{
    char *pem = NULL;
    BIO *bio = NULL;
    BUF_MEM *mem = NULL;

    if (der == NULL || der_len == 0 || der_len > STORE_CERT_MAX) {
        return NULL;
    }
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL || PEM_write_bio(bio, "CERTIFICATE", "", der, (long)der_len) <= 0) {
        goto out;
    }
    BIO_get_mem_ptr(bio, &mem);
    pem = malloc(mem->length + 1);
    if (pem != NULL) {
        memcpy(pem, mem->data, mem->length);
        pem[mem->length] = '\0';
    }
out:
    BIO_free(bio);
    return pem;
}

void *api_cert_record_json(const struct store_record *rec, int64_t now)
{
    json_t *doc = NULL;
    char *pem = NULL;
    char serial[2 * CA_MAX_SERIAL_LEN + 1];
    char issued[32], nb[32], na[32], ra[32];

    api_serial_hex(rec->serial, rec->serial_len, serial);
    if (!api_time_rfc3339(rec->issued_at, issued, sizeof(issued)) ||
        !api_time_rfc3339(rec->not_before, nb, sizeof(nb)) ||
        !api_time_rfc3339(rec->not_after, na, sizeof(na))) {
        return NULL;
    }
    pem = cert_pem(rec->cert_der, rec->cert_der_len);
    doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "serial", serial, "spiffe_id",
                    rec->spiffe_id, "status", status_name(rec, now), "issued_at", issued,
                    "not_before", nb, "not_after", na, "auth_method",
                    auth_method_name(rec->auth_method));
    if (doc == NULL) {
        goto out;
    }
    if (rec->revoked_at != 0) {
        const char *reason = ca_crl_reason_name((enum ca_crl_reason)rec->revocation_reason);
        if (!api_time_rfc3339(rec->revoked_at, ra, sizeof(ra)) ||
            json_object_set_new(doc, "revoked_at", json_string(ra)) != 0 ||
            json_object_set_new(doc, "reason",
                                json_string(reason != NULL ? reason : "unspecified")) != 0) {
            goto fail;
        }
    }
    if (rec->renewed_from_len > 0) {
        char from[2 * CA_MAX_SERIAL_LEN + 1];
        api_serial_hex(rec->renewed_from, rec->renewed_from_len, from);
        if (json_object_set_new(doc, "renewed_from", json_string(from)) != 0) {
            goto fail;
        }
    }
    if (pem != NULL && json_object_set_new(doc, "certificate", json_string(pem)) != 0) {
        goto fail;
    }
    goto out;
fail:
    json_decref(doc);
    doc = NULL;
out:
    free(pem);
    return doc;
}

/* admin_authenticate checks that the request carries a valid client
 * certificate (401) of an admin (403). */
static enum api_err admin_authenticate(struct api_request *req, int64_t now, struct api_error *err)
{
    enum api_err rc = API_OK;
    struct ca_peer peer;

    memset(&peer, 0, sizeof(peer));
    if (req->peer_der == NULL) {
        TRY(api_peer_der(req->conn, &req->peer_der, &req->peer_der_len, err));
    }
    TRY(api_peer_verify(api_server_issuer(req->srv), api_server_store(req->srv), req->peer_der,
                        req->peer_der_len, now, &peer, NULL, err));
    snprintf(req->spiffe_id, sizeof(req->spiffe_id), "%s", peer.spiffe_id);
    ENSURE(api_is_admin(api_server_config(req->srv), peer.spiffe_id), API_ERR_FORBIDDEN,
           "%s is not an admin (auth.admins)", peer.spiffe_id);
out:
    return rc;
}

static enum api_err store_read_err(enum store_err code, struct api_error *err)
{
    if (code == STORE_ERR_NOT_FOUND) {
        return api_fail(err, API_ERR_NOT_FOUND, "no certificate with this serial");
    }
    return api_fail(err, API_ERR_UNAVAILABLE, "the issuance store cannot be read (%s)",
                    store_err_name(code));
}

/* The query parameters GET /v1/certs knows; anything else is refused. */
struct certs_args {
    const char *values[API_CERTS_NUM_PARAMS];
    int dup;
    const char *unknown;
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct certs_args *a = cls;

    (void)kind;
    for (size_t i = 0; i < API_CERTS_NUM_PARAMS; i++) {
        if (strcmp(key, api_certs_params[i]) == 0) {
            if (a->values[i] != NULL) {
                a->dup = 1;
            }
            a->values[i] = value != NULL ? value : "";
            return MHD_YES;
        }
    }
    if (a->unknown == NULL) {
        a->unknown = key;
    }
    return MHD_YES;
}

enum api_err api_route_certs(struct api_request *req, struct api_error *err)
{
    enum api_err rc = API_OK;
    struct store_record *recs = NULL;
    size_t num = 0;
    json_t *doc = NULL;
    json_t *list = NULL;
    struct certs_args a;
    struct api_certs_parsed cq;
    unsigned char next[STORE_SERIAL_MAX];
    size_t next_len = 0;

    memset(&a, 0, sizeof(a));
    int64_t now = api_now();
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, collect_arg, &a);
    ENSURE(a.unknown == NULL, API_ERR_BAD_REQUEST,
           "unknown query parameter (spiffe_id, status, limit, after and renewed_from are known)");
    ENSURE(!a.dup, API_ERR_BAD_REQUEST, "a query parameter is repeated");
    TRY(api_certs_query_parse(a.values, now, &cq, err));
    TRY(admin_authenticate(req, now, err));
    recs = calloc(cq.q.limit, sizeof(*recs));
    ENSURE(recs != NULL, API_ERR_INTERNAL, "out of memory");
    enum store_err src = store_list(api_server_store(req->srv), &cq.q, recs, &num, next, &next_len);
    if (src != STORE_OK) {
        rc = store_read_err(src, err);
        goto out;
    }
    list = json_array();
    ENSURE(list != NULL, API_ERR_INTERNAL, "out of memory");
    for (size_t i = 0; i < num; i++) {
        json_t *one = api_cert_record_json(&recs[i], now);
        ENSURE(one != NULL && json_array_append_new(list, one) == 0, API_ERR_INTERNAL,
               "building the response failed");
    }
    doc = json_pack("{s:O}", "certs", list);
    ENSURE(doc != NULL, API_ERR_INTERNAL, "out of memory");
    /* The store examines a bounded number of entries per call, so a page
     * may be short, even empty, and still carry a cursor: the last serial
     * examined, past any records returned. */
    if (next_len > 0) {
        char hex[2 * CA_MAX_SERIAL_LEN + 1];
        api_serial_hex(next, next_len, hex);
        ENSURE(json_object_set_new(doc, "next", json_string(hex)) == 0, API_ERR_INTERNAL,
               "out of memory");
    }
    ENSURE(api_response_set_json(&req->resp, MHD_HTTP_OK, doc), API_ERR_INTERNAL, "out of memory");
out:
    for (size_t i = 0; recs != NULL && i < num; i++) {
        store_record_cleanup(&recs[i]);
    }
    free(recs);
    json_decref(list);
    json_decref(doc);
    return rc;
}

enum api_err api_route_cert(struct api_request *req, struct api_error *err)
{
    enum api_err rc = API_OK;
    struct store_record rec;
    struct ca_error cerr = {0};
    json_t *doc = NULL;
    unsigned char serial[CA_MAX_SERIAL_LEN];
    size_t serial_len = 0;

    memset(&rec, 0, sizeof(rec));
    int64_t now = api_now();
    const char *url = req->url != NULL ? req->url : "";
    ENSURE(strncmp(url, CERTS_PREFIX, strlen(CERTS_PREFIX)) == 0, API_ERR_NOT_FOUND,
           "no such route");
    const char *hex = url + strlen(CERTS_PREFIX);
    size_t hex_len = strlen(hex);
    ENSURE(hex_len <= 2 * CA_MAX_SERIAL_LEN &&
               ca_serial_from_hex(hex, hex_len, serial, &serial_len, &cerr) == CA_OK,
           API_ERR_BAD_REQUEST, "a serial is 1..40 hex digits, not zero");
    TRY(admin_authenticate(req, now, err));
    char shown[2 * CA_MAX_SERIAL_LEN + 1];
    api_serial_hex(serial, serial_len, shown);
    snprintf(req->serial_hex, sizeof(req->serial_hex), "%.*s", (int)sizeof(req->serial_hex) - 1,
             shown);
    enum store_err src = store_get(api_server_store(req->srv), serial, serial_len, &rec);
    if (src != STORE_OK) {
        rc = store_read_err(src, err);
        goto out;
    }
    doc = api_cert_record_json(&rec, now);
    ENSURE(doc != NULL, API_ERR_INTERNAL, "building the response failed");
    ENSURE(api_response_set_json(&req->resp, MHD_HTTP_OK, doc), API_ERR_INTERNAL, "out of memory");
out:
    store_record_cleanup(&rec);
    json_decref(doc);
    return rc;
}
