/* sign.c: POST /v1/sign and POST /v1/renew, and the signer threads.
 *
 * The poll threads only do what is cheap (headers, body syntax); the request
 * is then put on a bounded queue and its connection suspended. A signer
 * thread (one per CPU) authenticates (JWT signature or client chain), checks
 * the CSR, signs, prepares the 201 and hands the record to the store's group
 * commit without waiting; the writer thread's callback (committed) releases
 * the answer once the record is synced, or swaps it for an error, and resumes
 * the connection. Health, bundle and metrics routes never wait behind
 * signing. A full queue answers 429 at once rather than slowing everyone
 * down. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>

#include "internal.h"

struct api_signer {
    struct api_server *srv;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* signers wait here for requests */
    pthread_cond_t settled; /* api_signer_free waits here for |committing| to reach 0 */
    struct api_request *head;
    struct api_request *tail;
    size_t len;
    size_t depth;
    size_t committing; /* issuances handed to the store, not yet resumed */
    int stopping;
    pthread_t *threads;
    size_t num_threads;
    char *chain_members; /* "chain":...,"bundle":... as jansson encoded them, once */
    size_t chain_members_len;
};

int api_time_rfc3339(int64_t t, char *buf, size_t buf_len)
{
    struct tm tm;
    time_t tt = (time_t)t;

    if (gmtime_r(&tt, &tm) == NULL) {
        return 0;
    }
    return strftime(buf, buf_len, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0;
}

int64_t api_renew_after(int64_t not_before, int64_t not_after)
{
    int64_t issued = not_before + 60; /* CONTRACT section 4: notBefore = now - 60 s */
    if (issued > not_after) {
        issued = not_before;
    }
    int64_t life = not_after - issued;
    int64_t spread = life / 10;
    int64_t jitter = 0;
    if (spread > 0) {
        /* The modulo bias is below 2^-40 for any lifetime we issue. */
        jitter = (int64_t)(api_random_u64() % (uint64_t)(2 * spread + 1)) - spread;
    }
    int64_t at = issued + life / 2 + jitter;
    if (at < issued) {
        at = issued;
    }
    if (at > not_after) {
        at = not_after;
    }
    return at;
}

enum api_err api_sign_parse_body(const char *body, size_t len, void **out_doc, const char **out_csr,
                                 size_t *out_csr_len, int64_t *out_ttl_s, struct api_error *err)
{
    enum api_err rc = API_OK;
    json_error_t jerr;
    json_t *doc = NULL;
    const char *key = NULL;
    json_t *value = NULL;
    const char *csr = NULL;
    size_t csr_len = 0;
    const char *ttl = NULL;
    size_t ttl_len = 0;
    int64_t ttl_s = 0;

    ENSURE(len > 0, API_ERR_BAD_REQUEST, "request body is empty");
    doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    ENSURE(doc != NULL, API_ERR_BAD_REQUEST, "body is not valid JSON: %s", jerr.text);
    ENSURE(json_is_object(doc), API_ERR_BAD_REQUEST, "body must be a JSON object");
    /* Name the offending key; json_unpack_ex's own messages do not. */
    json_object_foreach(doc, key, value)
    {
        ENSURE(strcmp(key, "csr") == 0 || strcmp(key, "ttl") == 0, API_ERR_BAD_REQUEST,
               "unknown key '%.40s'", key);
        ENSURE(json_is_string(value), API_ERR_BAD_REQUEST, "'%s' must be a string", key);
    }
    ENSURE(json_object_get(doc, "csr") != NULL, API_ERR_BAD_REQUEST, "'csr' is required");
    ENSURE(json_unpack_ex(doc, &jerr, JSON_STRICT, "{s:s%, s?:s% !}", "csr", &csr, &csr_len, "ttl",
                          &ttl, &ttl_len) == 0,
           API_ERR_BAD_REQUEST, "body must be {\"csr\": string, \"ttl\": string}");
    ENSURE(csr_len > 0, API_ERR_INVALID_CSR, "'csr' is empty");
    ENSURE(csr_len <= CA_MAX_CSR_LEN, API_ERR_INVALID_CSR, "'csr' exceeds %d bytes",
           CA_MAX_CSR_LEN);
    if (ttl != NULL) {
        struct api_error terr = {0};
        if (api_duration_parse(ttl, ttl_len, &ttl_s, &terr) != API_OK) {
            rc = api_fail(err, API_ERR_BAD_REQUEST, "'ttl': %s", terr.msg);
            goto out;
        }
        ENSURE(ttl_s > 0, API_ERR_BAD_REQUEST, "'ttl' must be positive");
    }
    *out_doc = doc;
    doc = NULL;
    *out_csr = csr;
    *out_csr_len = csr_len;
    *out_ttl_s = ttl_s;
out:
    json_decref(doc);
    return rc;
}

/* ---- On the poll thread ---- */

static enum api_err take_body(struct api_request *req, struct api_error *err)
{
    return api_sign_parse_body(req->body.data, req->body.len, &req->doc, &req->csr, &req->csr_len,
                               &req->ttl_s, err);
}

enum api_err api_route_sign(struct api_request *req, struct api_error *err)
{
    enum api_err rc = API_OK;

    const char *auth =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    ENSURE(auth != NULL, API_ERR_UNAUTHENTICATED, "bearer token required");
    ENSURE(strncasecmp(auth, "Bearer ", 7) == 0, API_ERR_UNAUTHENTICATED,
           "Authorization must be a Bearer token");
    const char *token = auth + 7;
    while (*token == ' ') {
        token++;
    }
    size_t token_len = strlen(token);
    ENSURE(token_len > 0, API_ERR_UNAUTHENTICATED, "bearer token required");
    ENSURE(token_len <= API_MAX_TOKEN_LEN, API_ERR_UNAUTHENTICATED, "bearer token too long");
    TRY(take_body(req, err));
    req->token = malloc(token_len + 1);
    ENSURE(req->token != NULL, API_ERR_INTERNAL, "out of memory");
    memcpy(req->token, token, token_len + 1);
    req->token_len = token_len + 1; /* what OPENSSL_clear_free cleanses */
    TRY(api_signer_submit(api_server_signer(req->srv), req, err));
out:
    return rc;
}

enum api_err api_route_renew(struct api_request *req, struct api_error *err)
{
    enum api_err rc = API_OK;

    TRY(api_peer_der(req->conn, &req->peer_der, &req->peer_der_len, err));
    TRY(take_body(req, err));
    TRY(api_signer_submit(api_server_signer(req->srv), req, err));
out:
    return rc;
}

/* ---- On a signer thread ---- */

/* issue_err maps the engine's errors to the contract's wire codes. */
static enum api_err issue_err(enum ca_err code, const struct ca_error *cerr, struct api_error *err)
{
    switch (code) {
        case CA_ERR_INVALID_CSR:
        case CA_ERR_UNSUPPORTED_KEY:
            return api_fail(err, API_ERR_INVALID_CSR, "%s", cerr->msg);
        case CA_ERR_FORBIDDEN_SAN:
            return api_fail(err, API_ERR_FORBIDDEN, "%s", cerr->msg);
        case CA_ERR_INVALID_TTL:
        case CA_ERR_INVALID_ARGUMENT:
        case CA_ERR_INVALID_SPIFFE_ID:
            return api_fail(err, API_ERR_BAD_REQUEST, "%s", cerr->msg);
        case CA_ERR_ISSUER_EXPIRED:
            return api_fail(err, API_ERR_UNAVAILABLE, "%s", cerr->msg);
        default:
            return api_fail(err, API_ERR_INTERNAL, "issuance failed");
    }
}

static enum api_err store_err_map(enum store_err code, struct api_error *err)
{
    switch (code) {
        case STORE_OK:
            return API_OK;
        case STORE_ERR_MAP_FULL:
        case STORE_ERR_IO:
        case STORE_ERR_CLOSED:
            return api_fail(err, API_ERR_UNAVAILABLE, "the issuance store is full or unwritable");
        case STORE_ERR_REPLAY:
            /* Another request spent the same token first; this certificate
             * was never recorded and never leaves. */
            return api_fail(err, API_ERR_UNAUTHENTICATED, "token already used");
        /* The certificate a renewal presented was revoked, or its record
         * pruned, after it was checked and before the new record committed. */
        case STORE_ERR_REVOKED:
            return api_fail(err, API_ERR_UNAUTHENTICATED,
                            "client certificate refused: it was revoked during the renewal");
        case STORE_ERR_NOT_FOUND:
            return api_fail(err, API_ERR_UNAUTHENTICATED,
                            "client certificate refused: its record is gone");
        default:
            return api_fail(err, API_ERR_INTERNAL, "recording the issuance failed");
    }
}

/* chain_members encodes the members every answer ends with, the chain and
 * the bundle, once (JSON_EMBED: without the braces). */
static enum api_err chain_members(const struct ca_issuer *issuer, char **out, size_t *out_len,
                                  struct api_error *err)
{
    enum api_err rc = API_OK;
    size_t chain_len = 0;
    size_t bundle_len = 0;

    const char *chain = ca_issuer_chain_pem(issuer, &chain_len);
    const char *bundle = ca_issuer_bundle_pem(issuer, &bundle_len);
    json_t *doc =
        json_pack("{s:s%, s:s%}", "chain", chain, chain_len, "bundle", bundle, bundle_len);
    ENSURE(doc != NULL, API_ERR_INTERNAL, "cannot encode the chain");
    *out = json_dumps(doc, JSON_COMPACT | JSON_EMBED);
    ENSURE(*out != NULL, API_ERR_INTERNAL, "out of memory");
    *out_len = strlen(*out);
out:
    json_decref(doc);
    return rc;
}

static enum api_err respond_issued(struct api_request *req, const struct api_principal *p,
                                   const struct ca_leaf *leaf, struct api_error *err)
{
    enum api_err rc = API_OK;
    const struct api_signer *s = api_server_signer(req->srv);
    json_t *doc = NULL;
    json_t *dns = NULL;
    char *cert = NULL;
    size_t cert_len = 0;
    char nb[32], na[32], ra[32];

    ENSURE(api_time_rfc3339(leaf->not_before, nb, sizeof(nb)) &&
               api_time_rfc3339(leaf->not_after, na, sizeof(na)) &&
               api_time_rfc3339(api_renew_after(leaf->not_before, leaf->not_after), ra, sizeof(ra)),
           API_ERR_INTERNAL, "time out of range");
    dns = json_array();
    ENSURE(dns != NULL, API_ERR_INTERNAL, "out of memory");
    for (size_t i = 0; i < p->num_dns_names; i++) {
        ENSURE(json_array_append_new(dns, json_string(p->dns_names[i])) == 0, API_ERR_INTERNAL,
               "out of memory");
    }
    doc = json_pack("{s:s, s:s, s:O, s:s, s:s, s:s}", "serial", leaf->serial_hex, "spiffe_id",
                    p->spiffe_id, "dns_names", dns, "not_before", nb, "not_after", na,
                    "renew_after", ra);
    ENSURE(doc != NULL, API_ERR_INTERNAL, "building the response failed");
    cert = api_json_pem_member("certificate", leaf->pem, leaf->pem_len, &cert_len);
    ENSURE(cert != NULL, API_ERR_INTERNAL, "building the response failed");
    const struct api_json_part more[] = {
        {cert, cert_len},
        {s->chain_members, s->chain_members_len},
    };
    ENSURE(api_response_set_json_more(&req->resp, MHD_HTTP_CREATED, doc, more,
                                      sizeof(more) / sizeof(more[0])),
           API_ERR_INTERNAL, "out of memory");
out:
    free(cert);
    json_decref(dns);
    json_decref(doc);
    return rc;
}

/* answer_error answers |err| in |req|, dropping any answer built so far. */
static void answer_error(struct api_request *req, const struct api_error *err)
{
    if (!api_response_set_error(&req->resp, err)) {
        api_response_cleanup(&req->resp);
        req->resp.status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        req->resp.content_type = "application/json";
        req->resp.error = "internal";
    }
}

/* committed runs on the store's writer thread once the issuance's record is
 * synced (or has failed): only now may the certificate leave. It must not
 * touch |req| after resuming the connection, which may free it. */
static void committed(void *arg, enum store_err src)
{
    struct api_request *req = arg;
    struct api_server *srv = req->srv;
    struct api_signer *s = api_server_signer(srv);
    struct api_error err = {0};

    api_metrics_stage(api_server_metrics(srv), API_STAGE_COMMIT,
                      (api_mono_ns() - req->stage_ns) / 1000);
    api_server_store_result(srv, src);
    if (store_err_map(src, &err) == API_OK) {
        snprintf(req->serial_hex, sizeof(req->serial_hex), "%s", req->leaf.serial_hex);
        api_metrics_issued(api_server_metrics(srv), (enum api_auth_method)req->rec.auth_method);
    } else {
        answer_error(req, &err);
    }
    ca_leaf_cleanup(&req->leaf);
    req->phase = API_PHASE_READY;
    MHD_resume_connection(req->conn);
    pthread_mutex_lock(&s->mu);
    if (--s->committing == 0) {
        pthread_cond_broadcast(&s->settled);
    }
    pthread_mutex_unlock(&s->mu);
}

/* issue signs and answers in |req|, then hands the record to the group
 * commit; API_OK means committed() will release the answer. */
static enum api_err issue(struct api_request *req, const struct api_principal *p, int64_t now,
                          struct api_error *err)
{
    enum api_err rc = API_OK;
    struct api_server *srv = req->srv;
    struct api_signer *s = api_server_signer(srv);
    const struct api_config *cfg = api_server_config(srv);
    struct ca_error cerr = {0};
    const char *dns[CA_MAX_SANS];

    int64_t ttl = req->ttl_s > 0 ? req->ttl_s : cfg->leaf_default_ttl_s;
    if (p->max_ttl_s > 0 && ttl > p->max_ttl_s) {
        ttl = p->max_ttl_s;
    }
    size_t num_dns = p->num_dns_names < CA_MAX_SANS ? p->num_dns_names : CA_MAX_SANS;
    for (size_t i = 0; i < num_dns; i++) {
        dns[i] = p->dns_names[i];
    }
    struct ca_identity id = {.spiffe_id = p->spiffe_id, .dns_names = dns, .num_dns_names = num_dns};
    snprintf(req->spiffe_id, sizeof(req->spiffe_id), "%s", p->spiffe_id);
    enum ca_err crc = ca_leaf_issue(api_server_issuer(srv), req->csr, req->csr_len, &id, ttl, now,
                                    &req->leaf, &cerr);
    if (crc != CA_OK) {
        rc = issue_err(crc, &cerr, err);
        goto out;
    }
    struct store_record *rec = &req->rec;
    memset(rec, 0, sizeof(*rec));
    rec->serial_len = req->leaf.serial_len;
    memcpy(rec->serial, req->leaf.serial, req->leaf.serial_len);
    rec->issued_at = now;
    rec->not_before = req->leaf.not_before;
    rec->not_after = req->leaf.not_after;
    rec->auth_method = (uint8_t)p->method;
    rec->renewed_from_len = p->renewed_len;
    memcpy(rec->renewed_from, p->renewed, p->renewed_len);
    rec->cert_der = req->leaf.der;
    rec->cert_der_len = req->leaf.der_len;
    snprintf(rec->spiffe_id, sizeof(rec->spiffe_id), "%s", p->spiffe_id);
    TRY(respond_issued(req, p, &req->leaf, err));
    pthread_mutex_lock(&s->mu);
    s->committing++;
    pthread_mutex_unlock(&s->mu);
    uint64_t signed_ns = api_mono_ns();
    api_metrics_stage(api_server_metrics(srv), API_STAGE_SIGN, (signed_ns - req->stage_ns) / 1000);
    req->stage_ns = signed_ns; /* before committed() can read it */
    struct store_jti jti = {p->jti, p->jti_len, p->jti_expires_at};
    struct store_put_if cond = {.jti = p->jti_len > 0 ? &jti : NULL,
                                .unrevoked = p->renewed_len > 0 ? p->renewed : NULL,
                                .unrevoked_len = p->renewed_len};
    enum store_err src = store_put_async(api_server_store(srv), rec, &cond, committed, req);
    if (src != STORE_OK) {
        pthread_mutex_lock(&s->mu);
        s->committing--;
        pthread_mutex_unlock(&s->mu);
        api_server_store_result(srv, src);
        TRY(store_err_map(src, err));
    }
out:
    if (rc != API_OK) {
        ca_leaf_cleanup(&req->leaf);
    }
    return rc;
}

/* renew_ttl is the lifetime the presented certificate was given (its
 * notBefore is backdated by 60 s): a renewal never outlives it, or a
 * provisioner's max_ttl would end at the first renewal. The certificate's own
 * dates serve: api_peer_verify has checked that the store holds these very
 * bytes. */
static int64_t renew_ttl(const struct ca_peer *peer)
{
    int64_t ttl = peer->not_after - peer->not_before - 60;
    return ttl < 60 ? 60 : ttl;
}

static enum api_err authenticate(struct api_request *req, int64_t now, struct api_principal *p,
                                 struct api_error *err)
{
    enum api_err rc = API_OK;
    struct ca_peer peer;

    if (req->route_id == API_ROUTE_SIGN) {
        rc =
            api_auth_bearer(api_server_auth(req->srv), req->token, req->token_len - 1, now, p, err);
        OPENSSL_clear_free(req->token, req->token_len);
        req->token = NULL;
        req->token_len = 0;
        return rc;
    }
    memset(&peer, 0, sizeof(peer));
    TRY(api_peer_verify(api_server_issuer(req->srv), api_server_store(req->srv), req->peer_der,
                        req->peer_der_len, now, &peer, NULL, err));
    /* The new SVID keeps the identity of the presented one, for the new key. */
    p->method = API_AUTH_MTLS;
    snprintf(p->spiffe_id, sizeof(p->spiffe_id), "%s", peer.spiffe_id);
    p->num_dns_names = peer.num_dns_names < CA_MAX_SANS ? peer.num_dns_names : CA_MAX_SANS;
    for (size_t i = 0; i < p->num_dns_names; i++) {
        snprintf(p->dns_names[i], sizeof(p->dns_names[i]), "%s", peer.dns_names[i]);
    }
    p->max_ttl_s = renew_ttl(&peer);
    memcpy(p->renewed, peer.serial, peer.serial_len);
    p->renewed_len = peer.serial_len;
out:
    return rc;
}

/* sign_one handles one request; it returns 1 when the answer is ready and 0
 * when the group commit will release it. */
static int sign_one(struct api_request *req)
{
    struct api_error err = {0};
    struct api_principal p;

    memset(&p, 0, sizeof(p));
    int64_t now = api_now();
    enum api_err rc = authenticate(req, now, &p, &err);
    if (rc == API_OK) {
        rc = issue(req, &p, now, &err);
        if (rc == API_OK) {
            return 0;
        }
    }
    answer_error(req, &err);
    return 1;
}

static void *signer_main(void *arg)
{
    struct api_signer *s = arg;

    pthread_setname_np(pthread_self(), "signet-signer"); /* for top -H, perf */
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (s->head == NULL && !s->stopping) {
            pthread_cond_wait(&s->cv, &s->mu);
        }
        struct api_request *req = s->head;
        if (req == NULL) {
            pthread_mutex_unlock(&s->mu);
            break; /* stopping and drained */
        }
        s->head = req->next;
        if (s->head == NULL) {
            s->tail = NULL;
        }
        s->len--;
        atomic_store_explicit(&api_server_metrics(s->srv)->queue_depth, (int64_t)s->len,
                              memory_order_relaxed);
        pthread_mutex_unlock(&s->mu);

        req->next = NULL;
        uint64_t taken_ns = api_mono_ns();
        api_metrics_stage(api_server_metrics(s->srv), API_STAGE_QUEUE,
                          (taken_ns - req->stage_ns) / 1000);
        req->stage_ns = taken_ns;
        if (sign_one(req)) {
            req->phase = API_PHASE_READY;
            /* MHD takes its own lock here, which orders our writes to req
             * before the poll thread reads them. */
            MHD_resume_connection(req->conn);
        }
    }
    return NULL;
}

enum api_err api_signer_submit(struct api_signer *s, struct api_request *req, struct api_error *err)
{
    enum api_err rc = API_OK;

    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        rc = api_fail(err, API_ERR_UNAVAILABLE, "the server is shutting down");
    } else if (s->len >= s->depth) {
        rc = api_fail(err, API_ERR_OVERLOADED, "too many issuances pending; retry later");
    } else {
        /* Suspend before queueing: resuming a connection that is not yet
         * suspended is undefined in MHD. */
        MHD_suspend_connection(req->conn);
        req->stage_ns = api_mono_ns();
        req->pending = 1;
        req->phase = API_PHASE_PENDING;
        req->next = NULL;
        if (s->tail != NULL) {
            s->tail->next = req;
        } else {
            s->head = req;
        }
        s->tail = req;
        s->len++;
        atomic_store_explicit(&api_server_metrics(s->srv)->queue_depth, (int64_t)s->len,
                              memory_order_relaxed);
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

enum api_err api_signer_new(struct api_server *srv, size_t num_threads, size_t depth,
                            struct api_signer **out, struct api_error *err)
{
    enum api_err rc = API_OK;
    struct api_signer *s = NULL;

    ENSURE(num_threads > 0 && num_threads <= 1024 && depth > 0, API_ERR_INTERNAL,
           "bad signer pool size");
    s = calloc(1, sizeof(*s));
    ENSURE(s != NULL, API_ERR_INTERNAL, "out of memory");
    s->srv = srv;
    s->depth = depth;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_cond_init(&s->settled, NULL);
    TRY(chain_members(api_server_issuer(srv), &s->chain_members, &s->chain_members_len, err));
    s->threads = calloc(num_threads, sizeof(*s->threads));
    ENSURE(s->threads != NULL, API_ERR_INTERNAL, "out of memory");
    for (; s->num_threads < num_threads; s->num_threads++) {
        ENSURE(pthread_create(&s->threads[s->num_threads], NULL, signer_main, s) == 0,
               API_ERR_INTERNAL, "cannot start signer threads");
    }
    *out = s;
    s = NULL;
out:
    api_signer_free(s);
    return rc;
}

void api_signer_stop(struct api_signer *s)
{
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (; s->num_threads > 0; s->num_threads--) {
        pthread_join(s->threads[s->num_threads - 1], NULL);
    }
    /* Issuances still in the group commit resume their connections from
     * the store's writer: the daemons must outlive them. */
    pthread_mutex_lock(&s->mu);
    while (s->committing > 0) {
        pthread_cond_wait(&s->settled, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
}

void api_signer_free(struct api_signer *s)
{
    if (s == NULL) {
        return;
    }
    api_signer_stop(s);
    free(s->threads);
    free(s->chain_members);
    pthread_cond_destroy(&s->settled);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
