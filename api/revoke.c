/* revoke.c: POST /v1/revoke. An admin (auth.admins) may revoke any serial; any
 * other client only the very certificate it presents. The revocation is
 * committed to the store, the cached OCSP answers for the serial are dropped
 * and the CRL publisher is woken, all before the 200 goes out, so that OCSP
 * reflects it at once and the CRL within about API_CRL_MIN_INTERVAL_MS. */
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "internal.h"

enum api_err api_revoke_parse_body(const char *body, size_t len, struct api_revoke_body *out,
                                   struct api_error *err)
{
    enum api_err rc = API_OK;
    json_t *doc = NULL;
    json_error_t jerr;
    struct ca_error cerr = {0};
    const char *serial = NULL;
    const char *reason = NULL;
    size_t serial_len = 0;
    size_t reason_len = 0;

    memset(out, 0, sizeof(*out));
    ENSURE(len > 0 && len <= API_MAX_BODY_LEN, API_ERR_BAD_REQUEST, "a JSON body is required");
    doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    ENSURE(doc != NULL, API_ERR_BAD_REQUEST, "body is not JSON: %s", jerr.text);
    ENSURE(json_is_object(doc), API_ERR_BAD_REQUEST, "body must be a JSON object");
    ENSURE(json_unpack_ex(doc, &jerr, JSON_STRICT, "{s:s%, s?s%}", "serial", &serial, &serial_len,
                          "reason", &reason, &reason_len) == 0,
           API_ERR_BAD_REQUEST, "body: %s (keys: serial, reason)", jerr.text);
    ENSURE(serial_len > 0 && serial_len <= 2 * CA_MAX_SERIAL_LEN &&
               ca_serial_from_hex(serial, serial_len, out->serial, &out->serial_len, &cerr) ==
                   CA_OK,
           API_ERR_BAD_REQUEST, "'serial' must be 1..40 hex digits, not zero");
    out->reason = CA_REASON_UNSPECIFIED;
    if (reason != NULL) {
        ENSURE(reason_len < 64 && strlen(reason) == reason_len &&
                   ca_crl_reason_parse(reason, &out->reason, &cerr) == CA_OK,
               API_ERR_BAD_REQUEST,
               "'reason' must be an RFC 5280 reason name (keyCompromise, ...)");
        /* RFC 5280 5.3.1: removeFromCRL "is only used in delta CRLs". */
        ENSURE(out->reason != CA_REASON_REMOVE_FROM_CRL, API_ERR_BAD_REQUEST,
               "'reason' removeFromCRL is for delta CRLs only");
    }
out:
    json_decref(doc);
    return rc;
}

/* struct caller is who asks: the verified client certificate and whether it
 * is the certificate being revoked. */
struct caller {
    struct ca_peer peer;
    int is_target;
    int already_revoked; /* the presented certificate itself is revoked */
};

/* authenticate verifies the client certificate as api_peer_verify does,
 * except that a certificate already revoked may still ask to be revoked
 * (again): the answer is then the first revocation, as for anyone revoking
 * twice. */
static enum api_err authenticate(struct api_request *req, const struct api_revoke_body *b,
                                 int64_t now, struct caller *out, struct api_error *err)
{
    enum api_err rc =
        api_peer_verify(api_server_issuer(req->srv), api_server_store(req->srv), req->peer_der,
                        req->peer_der_len, now, &out->peer, &out->already_revoked, err);
    /* The log names whoever the certificate proved, even if the store refused it. */
    snprintf(req->spiffe_id, sizeof(req->spiffe_id), "%s", out->peer.spiffe_id);
    if (rc != API_OK) {
        return rc;
    }
    out->is_target = out->peer.serial_len == b->serial_len &&
                     memcmp(out->peer.serial, b->serial, b->serial_len) == 0;
    if (out->already_revoked && !out->is_target) {
        return api_fail(err, API_ERR_UNAUTHENTICATED,
                        "client certificate refused: serial %s is revoked", out->peer.serial_hex);
    }
    return API_OK;
}

static enum api_err store_write_err(enum store_err code, struct api_error *err)
{
    switch (code) {
        case STORE_ERR_NOT_FOUND:
            return api_fail(err, API_ERR_NOT_FOUND, "no certificate with this serial");
        case STORE_ERR_MAP_FULL:
        case STORE_ERR_IO:
        case STORE_ERR_CLOSED:
            return api_fail(err, API_ERR_UNAVAILABLE, "the issuance store is full or unwritable");
        default:
            return api_fail(err, API_ERR_INTERNAL, "recording the revocation failed");
    }
}

static enum api_err respond_revoked(struct api_request *req, const struct store_record *rec,
                                    struct api_error *err)
{
    enum api_err rc = API_OK;
    json_t *doc = NULL;
    char serial[2 * CA_MAX_SERIAL_LEN + 1];
    char at[32];

    api_serial_hex(rec->serial, rec->serial_len, serial);
    const char *reason = ca_crl_reason_name((enum ca_crl_reason)rec->revocation_reason);
    ENSURE(api_time_rfc3339(rec->revoked_at, at, sizeof(at)), API_ERR_INTERNAL,
           "time out of range");
    doc = json_pack("{s:s, s:s, s:s}", "serial", serial, "revoked_at", at, "reason",
                    reason != NULL ? reason : "unspecified");
    ENSURE(doc != NULL, API_ERR_INTERNAL, "building the response failed");
    ENSURE(api_response_set_json(&req->resp, MHD_HTTP_OK, doc), API_ERR_INTERNAL, "out of memory");
out:
    json_decref(doc);
    return rc;
}

enum api_err api_route_revoke(struct api_request *req, struct api_error *err)
{
    enum api_err rc = API_OK;
    struct api_server *srv = req->srv;
    struct api_revoke_body b;
    struct caller who;
    struct store_record rec;
    char shown[2 * CA_MAX_SERIAL_LEN + 1];

    memset(&who, 0, sizeof(who));
    memset(&rec, 0, sizeof(rec));
    TRY(api_peer_der(req->conn, &req->peer_der, &req->peer_der_len, err));
    TRY(api_revoke_parse_body(req->body.data, req->body.len, &b, err));
    api_serial_hex(b.serial, b.serial_len, shown);
    snprintf(req->serial_hex, sizeof(req->serial_hex), "%.*s", (int)sizeof(req->serial_hex) - 1,
             shown);
    int64_t now = api_now();
    TRY(authenticate(req, &b, now, &who, err));
    ENSURE(who.is_target || api_is_admin(api_server_config(srv), who.peer.spiffe_id),
           API_ERR_FORBIDDEN, "%s may revoke only its own certificate (it is not in auth.admins)",
           who.peer.spiffe_id);
    /* Revoking twice keeps the first revocation: store_revoke answers with
     * the record as it stands, and that is what we report. */
    enum store_err src =
        store_revoke(api_server_store(srv), b.serial, b.serial_len, now, (int32_t)b.reason, &rec);
    api_server_store_result(srv, src);
    if (src != STORE_OK) {
        rc = store_write_err(src, err);
        goto out;
    }
    api_ocsp_invalidate(api_server_ocsp(srv), b.serial, b.serial_len);
    api_crl_revoked(api_server_crl(srv));
    TRY(respond_revoked(req, &rec, err));
out:
    store_record_cleanup(&rec);
    return rc;
}
