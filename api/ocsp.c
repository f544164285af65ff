/* ocsp.c: the OCSP responder's HTTP side (POST /ocsp, GET /ocsp/{base64})
 * and its cache of pre-signed responses.
 *
 * RFC 5019 2.2: a responder may answer requests without a nonce with
 * pre-produced responses. The cache is a set-associative table (API_OCSP_WAYS
 * entries per set) split into shards, each under its own mutex, so a lookup
 * costs one hash, one short critical section and a copy. It is bounded: a
 * full set evicts its oldest entry. An entry is re-signed on the first
 * request past half its validity and dropped by api_ocsp_invalidate on
 * revocation; each shard counts invalidations (its epoch), and a response
 * signed from a store read that an invalidation may have overtaken is served
 * but not cached. Requests with a nonce get a freshly signed response. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "internal.h"

#define OCSP_PREFIX     "/ocsp/"
#define API_OCSP_WAYS   8
#define API_OCSP_SHARDS 64
#define MAX_CACHE       (1u << 22)
#define OCSP_TYPE       "application/ocsp-response" /* RFC 6960 appendix C.2 */

enum err_doc {
    ERR_MALFORMED,
    ERR_INTERNAL,
    ERR_TRY_LATER,
    ERR_UNAUTHORIZED,
    NUM_ERR_DOCS,
};

static const enum ca_ocsp_error_status err_status[NUM_ERR_DOCS] = {
    CA_OCSP_MALFORMED_REQUEST,
    CA_OCSP_INTERNAL_ERROR,
    CA_OCSP_TRY_LATER,
    CA_OCSP_UNAUTHORIZED,
};

struct entry {
    unsigned char serial[CA_MAX_SERIAL_LEN];
    uint8_t serial_len; /* 0: empty */
    uint8_t hash;
    int64_t this_update;
    int64_t next_update;
    int64_t refresh_at;
    unsigned char *der;
    size_t der_len;
    char etag[24];
};

struct shard {
    pthread_mutex_t mu;
    uint64_t epoch;        /* invalidations so far */
    struct entry *entries; /* sets_per_shard * API_OCSP_WAYS */
} __attribute__((aligned(64)));

struct api_ocsp {
    struct store *st;
    struct ca_ocsp_responder *responder;
    int64_t validity_s;
    unsigned char *err_der[NUM_ERR_DOCS];
    size_t err_der_len[NUM_ERR_DOCS];
    uint64_t seed[2]; /* keys the hash: clients choose serials */
    size_t sets_per_shard;
    size_t num_shards_ready;
    _Atomic uint64_t hits;
    _Atomic uint64_t signs;
    _Atomic uint64_t evictions;
    struct shard shards[API_OCSP_SHARDS];
};

/* ---- The cache ---- */

static uint64_t key_hash(const struct api_ocsp *o, const unsigned char *serial, size_t len,
                         unsigned hash)
{
    /* FNV-1a from a secret basis, then a murmur3 finaliser keyed again. */
    uint64_t h = o->seed[0] ^ ((uint64_t)hash << 56);
    for (size_t i = 0; i < len; i++) {
        h = (h ^ serial[i]) * 0x100000001b3ull;
    }
    h ^= o->seed[1];
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static struct shard *shard_of(struct api_ocsp *o, uint64_t h)
{
    return &o->shards[h % API_OCSP_SHARDS];
}

static struct entry *set_of(struct api_ocsp *o, struct shard *s, uint64_t h)
{
    return &s->entries[((h / API_OCSP_SHARDS) % o->sets_per_shard) * API_OCSP_WAYS];
}

static int entry_is(const struct entry *e, const struct ca_ocsp_request *r)
{
    return e->serial_len == r->serial_len && e->hash == (uint8_t)r->hash &&
           memcmp(e->serial, r->serial, r->serial_len) == 0;
}

static void entry_clear(struct entry *e)
{
    free(e->der);
    memset(e, 0, sizeof(*e));
}

/* set_cache_headers: RFC 5019 section 6.2's HTTP caching headers. */
static void set_cache_headers(struct api_response *resp, int64_t this_update, int64_t next_update,
                              const char *etag, int64_t now)
{
    int64_t max_age = next_update - now > 0 ? next_update - now : 0;

    snprintf(resp->cache_control, sizeof(resp->cache_control),
             "max-age=%lld, public, no-transform, must-revalidate", (long long)max_age);
    if (!api_http_date(this_update, resp->last_modified, sizeof(resp->last_modified))) {
        resp->last_modified[0] = '\0';
    }
    if (!api_http_date(next_update, resp->expires, sizeof(resp->expires))) {
        resp->expires[0] = '\0';
    }
    snprintf(resp->etag, sizeof(resp->etag), "%s", etag);
}

/* cache_lookup answers |r| from the cache when it holds a response still
 * fresh at |now|: returns 1 with |resp| filled, 0 on a miss (|*out_epoch|
 * then says what an insert must find), -1 when out of memory. */
static int cache_lookup(struct api_ocsp *o, const struct ca_ocsp_request *r, int64_t now,
                        struct api_response *resp, uint64_t *out_epoch)
{
    uint64_t h = key_hash(o, r->serial, r->serial_len, r->hash);
    struct shard *s = shard_of(o, h);
    int found = 0;

    pthread_mutex_lock(&s->mu);
    struct entry *set = set_of(o, s, h);
    for (size_t i = 0; i < API_OCSP_WAYS; i++) {
        struct entry *e = &set[i];
        if (!entry_is(e, r) || now >= e->refresh_at || now < e->this_update) {
            continue;
        }
        found = api_response_set_bytes(resp, MHD_HTTP_OK, OCSP_TYPE, e->der, e->der_len) ? 1 : -1;
        if (found == 1) {
            set_cache_headers(resp, e->this_update, e->next_update, e->etag, now);
        }
        break;
    }
    *out_epoch = s->epoch;
    pthread_mutex_unlock(&s->mu);
    if (found == 1) {
        atomic_fetch_add_explicit(&o->hits, 1, memory_order_relaxed);
    }
    return found;
}

/* cache_insert keeps a copy of a response unless the shard saw an
 * invalidation since |epoch|. */
static void cache_insert(struct api_ocsp *o, const struct ca_ocsp_request *r, uint64_t epoch,
                         const unsigned char *der, size_t der_len, int64_t this_update,
                         const char *etag)
{
    uint64_t h = key_hash(o, r->serial, r->serial_len, r->hash);
    struct shard *s = shard_of(o, h);
    unsigned char *copy = malloc(der_len);

    if (copy == NULL) {
        return;
    }
    memcpy(copy, der, der_len);
    pthread_mutex_lock(&s->mu);
    if (s->epoch != epoch) {
        pthread_mutex_unlock(&s->mu);
        free(copy);
        return;
    }
    struct entry *set = set_of(o, s, h);
    struct entry *slot = NULL;
    for (size_t i = 0; i < API_OCSP_WAYS && slot == NULL; i++) {
        if (entry_is(&set[i], r)) {
            slot = &set[i];
        }
    }
    for (size_t i = 0; i < API_OCSP_WAYS && slot == NULL; i++) {
        if (set[i].serial_len == 0) {
            slot = &set[i];
        }
    }
    if (slot == NULL) {
        slot = &set[0];
        for (size_t i = 1; i < API_OCSP_WAYS; i++) {
            if (set[i].this_update < slot->this_update) {
                slot = &set[i];
            }
        }
        atomic_fetch_add_explicit(&o->evictions, 1, memory_order_relaxed);
    }
    entry_clear(slot);
    memcpy(slot->serial, r->serial, r->serial_len);
    slot->serial_len = (uint8_t)r->serial_len;
    slot->hash = (uint8_t)r->hash;
    slot->this_update = this_update;
    slot->next_update = this_update + o->validity_s;
    slot->refresh_at = this_update + o->validity_s / 2;
    slot->der = copy;
    slot->der_len = der_len;
    snprintf(slot->etag, sizeof(slot->etag), "%s", etag);
    pthread_mutex_unlock(&s->mu);
}

void api_ocsp_invalidate(struct api_ocsp *o, const unsigned char *serial, size_t serial_len)
{
    struct ca_ocsp_request r;

    if (o == NULL || serial_len == 0 || serial_len > CA_MAX_SERIAL_LEN) {
        return;
    }
    memset(&r, 0, sizeof(r));
    memcpy(r.serial, serial, serial_len);
    r.serial_len = serial_len;
    for (unsigned hash = 0; hash < CA_OCSP_NUM_HASHES; hash++) {
        r.hash = (enum ca_ocsp_hash)hash;
        uint64_t h = key_hash(o, serial, serial_len, hash);
        struct shard *s = shard_of(o, h);
        pthread_mutex_lock(&s->mu);
        s->epoch++;
        struct entry *set = set_of(o, s, h);
        for (size_t i = 0; i < API_OCSP_WAYS; i++) {
            if (entry_is(&set[i], &r)) {
                entry_clear(&set[i]);
            }
        }
        pthread_mutex_unlock(&s->mu);
    }
}

/* ---- Answers ---- */

static enum api_err respond_error(struct api_ocsp *o, enum err_doc which, struct api_response *resp,
                                  struct api_error *err)
{
    enum api_err rc = API_OK;

    /* RFC 6960 2.3: errors are OCSP responses too, sent with HTTP 200. */
    ENSURE(api_response_set_bytes(resp, MHD_HTTP_OK, OCSP_TYPE, o->err_der[which],
                                  o->err_der_len[which]),
           API_ERR_INTERNAL, "out of memory");
    snprintf(resp->cache_control, sizeof(resp->cache_control), "no-store");
out:
    return rc;
}

/* cert_status reads the store: unknown serials are "unknown" (RFC 6960
 * 2.2), a store failure is 1 (answer tryLater). */
static int cert_status(struct api_ocsp *o, const struct ca_ocsp_request *r,
                       struct ca_ocsp_status *out)
{
    struct store_record rec;

    memset(out, 0, sizeof(*out));
    memset(&rec, 0, sizeof(rec));
    enum store_err src = store_get(o->st, r->serial, r->serial_len, &rec);
    if (src == STORE_ERR_NOT_FOUND) {
        out->status = CA_OCSP_UNKNOWN;
        return 0;
    }
    if (src != STORE_OK) {
        store_record_cleanup(&rec);
        return 1;
    }
    out->status = CA_OCSP_GOOD;
    if (rec.revoked_at != 0) {
        out->status = CA_OCSP_REVOKED;
        out->revoked_at = rec.revoked_at;
        out->reason = ca_crl_reason_name((enum ca_crl_reason)rec.revocation_reason) != NULL
                          ? (enum ca_crl_reason)rec.revocation_reason
                          : CA_REASON_UNSPECIFIED;
    }
    store_record_cleanup(&rec);
    return 0;
}

static void etag_of(const unsigned char *der, size_t der_len, char *out, size_t out_len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    if (EVP_Digest(der, der_len, md, &md_len, EVP_sha256(), NULL) != 1 || md_len < 8) {
        ERR_clear_error();
        snprintf(out, out_len, "\"%zx\"", der_len);
        return;
    }
    snprintf(out, out_len, "\"%02x%02x%02x%02x%02x%02x%02x%02x\"", md[0], md[1], md[2], md[3],
             md[4], md[5], md[6], md[7]);
}

static enum api_err answer(struct api_ocsp *o, const struct ca_ocsp_request *r, int64_t now,
                           struct api_response *resp, struct api_error *err)
{
    enum api_err rc = API_OK;
    struct ca_error cerr = {0};
    struct ca_ocsp_status status;
    unsigned char *der = NULL;
    size_t der_len = 0;
    uint64_t epoch = 0;
    char etag[24];

    if (!r->for_us) {
        /* RFC 5019 2.2.3: "unauthorized" for a certificate the responder
         * does not know the issuer of. */
        return respond_error(o, ERR_UNAUTHORIZED, resp, err);
    }
    if (r->nonce_len == 0) {
        int hit = cache_lookup(o, r, now, resp, &epoch);
        ENSURE(hit >= 0, API_ERR_INTERNAL, "out of memory");
        if (hit == 1) {
            goto out;
        }
    }
    if (cert_status(o, r, &status) != 0) {
        rc = respond_error(o, ERR_TRY_LATER, resp, err);
        goto out;
    }
    if (ca_ocsp_response_build(o->responder, r, &status, now, &der, &der_len, &cerr) != CA_OK) {
        rc = respond_error(o, ERR_INTERNAL, resp, err);
        goto out;
    }
    atomic_fetch_add_explicit(&o->signs, 1, memory_order_relaxed);
    ENSURE(api_response_set_bytes(resp, MHD_HTTP_OK, OCSP_TYPE, der, der_len), API_ERR_INTERNAL,
           "out of memory");
    if (r->nonce_len > 0) {
        snprintf(resp->cache_control, sizeof(resp->cache_control), "no-store");
        goto out;
    }
    etag_of(der, der_len, etag, sizeof(etag));
    /* "unknown" is not kept: it is final (a certificate is recorded before
     * it is handed out), but random serials would otherwise push the
     * answers for our certificates out of the cache. */
    if (status.status != CA_OCSP_UNKNOWN) {
        cache_insert(o, r, epoch, der, der_len, now, etag);
    }
    set_cache_headers(resp, now, now + o->validity_s, etag, now);
out:
    OPENSSL_free(der);
    return rc;
}

enum api_err api_ocsp_respond_der(struct api_ocsp *o, const unsigned char *der, size_t der_len,
                                  int64_t now, struct api_response *resp, struct api_error *err)
{
    struct ca_ocsp_request r;
    struct ca_error cerr = {0};

    memset(&r, 0, sizeof(r));
    enum ca_err crc = ca_ocsp_request_parse(o->responder, der, der_len, &r, &cerr);
    if (crc == CA_ERR_INVALID_OCSP_REQUEST) {
        return respond_error(o, ERR_MALFORMED, resp, err);
    }
    if (crc != CA_OK) {
        return respond_error(o, ERR_INTERNAL, resp, err);
    }
    return answer(o, &r, now, resp, err);
}

enum api_err api_ocsp_respond_base64(struct api_ocsp *o, const char *b64, size_t b64_len,
                                     int64_t now, struct api_response *resp, struct api_error *err)
{
    struct ca_ocsp_request r;
    struct ca_error cerr = {0};

    memset(&r, 0, sizeof(r));
    enum ca_err crc = ca_ocsp_request_from_base64(o->responder, b64, b64_len, &r, &cerr);
    if (crc == CA_ERR_INVALID_OCSP_REQUEST) {
        return respond_error(o, ERR_MALFORMED, resp, err);
    }
    if (crc != CA_OK) {
        return respond_error(o, ERR_INTERNAL, resp, err);
    }
    return answer(o, &r, now, resp, err);
}

void api_ocsp_stats_get(struct api_ocsp *o, struct api_ocsp_stats *out)
{
    out->hits = atomic_load_explicit(&o->hits, memory_order_relaxed);
    out->signs = atomic_load_explicit(&o->signs, memory_order_relaxed);
    out->evictions = atomic_load_explicit(&o->evictions, memory_order_relaxed);
    out->capacity = o->sets_per_shard * API_OCSP_SHARDS * API_OCSP_WAYS;
}

/* ---- Lifecycle ---- */

static size_t cache_size(size_t asked)
{
    if (asked > 0) {
        return asked > MAX_CACHE ? MAX_CACHE : asked;
    }
    const char *v = getenv("SIGNET_OCSP_CACHE");
    if (v == NULL || v[0] < '0' || v[0] > '9') {
        return API_OCSP_CACHE_DEFAULT;
    }
    char *end = NULL;
    unsigned long long n = strtoull(v, &end, 10);
    if (*end != '\0' || n == 0 || n > MAX_CACHE) {
        return API_OCSP_CACHE_DEFAULT;
    }
    return (size_t)n;
}

enum api_err api_ocsp_new(const struct ca_issuer *issuer, struct store *st, int64_t validity_s,
                          size_t cache_entries, struct api_ocsp **out, struct api_error *err)
{
    enum api_err rc = API_OK;
    struct api_ocsp *o = NULL;
    struct ca_error cerr = {0};

    o = calloc(1, sizeof(*o));
    ENSURE(o != NULL, API_ERR_INTERNAL, "out of memory");
    o->st = st;
    o->validity_s = validity_s;
    ENSURE(ca_ocsp_responder_new(ca_issuer_cert(issuer), ca_issuer_key(issuer), validity_s,
                                 &o->responder, &cerr) == CA_OK,
           API_ERR_BAD_REQUEST, "ocsp.validity: %s", cerr.msg);
    for (size_t i = 0; i < NUM_ERR_DOCS; i++) {
        ENSURE(ca_ocsp_error_response(err_status[i], &o->err_der[i], &o->err_der_len[i], &cerr) ==
                   CA_OK,
               API_ERR_INTERNAL, "cannot encode OCSP error responses");
    }
    ENSURE(RAND_bytes((unsigned char *)o->seed, sizeof(o->seed)) == 1, API_ERR_INTERNAL,
           "no randomness");
    size_t per_set = API_OCSP_SHARDS * API_OCSP_WAYS;
    o->sets_per_shard = (cache_size(cache_entries) + per_set - 1) / per_set;
    for (; o->num_shards_ready < API_OCSP_SHARDS; o->num_shards_ready++) {
        struct shard *s = &o->shards[o->num_shards_ready];
        s->entries = calloc(o->sets_per_shard * API_OCSP_WAYS, sizeof(*s->entries));
        ENSURE(s->entries != NULL, API_ERR_INTERNAL, "out of memory");
        pthread_mutex_init(&s->mu, NULL);
    }
    *out = o;
    o = NULL;
out:
    ERR_clear_error();
    api_ocsp_free(o);
    return rc;
}

void api_ocsp_free(struct api_ocsp *o)
{
    if (o == NULL) {
        return;
    }
    for (size_t i = 0; i < o->num_shards_ready; i++) {
        struct shard *s = &o->shards[i];
        for (size_t j = 0; j < o->sets_per_shard * API_OCSP_WAYS; j++) {
            free(s->entries[j].der);
        }
        free(s->entries);
        pthread_mutex_destroy(&s->mu);
    }
    for (size_t i = 0; i < NUM_ERR_DOCS; i++) {
        OPENSSL_free(o->err_der[i]);
    }
    ca_ocsp_responder_free(o->responder);
    free(o);
}

/* ---- Routes ---- */

enum api_err api_route_ocsp(struct api_request *req, struct api_error *err)
{
    enum api_err rc = API_OK;

    /* http.c checked the media type for API_BODY_OCSP rows; checked again
     * here so that the handler stands on its own. */
    const char *ct =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    ENSURE(api_content_type_is(ct, "application/ocsp-request"), API_ERR_UNSUPPORTED_MEDIA_TYPE,
           "Content-Type must be application/ocsp-request");
    ENSURE(req->body.len <= CA_MAX_OCSP_REQUEST_LEN, API_ERR_PAYLOAD_TOO_LARGE,
           "an OCSP request is at most %d bytes", CA_MAX_OCSP_REQUEST_LEN);
    TRY(api_ocsp_respond_der(api_server_ocsp(req->srv), (const unsigned char *)req->body.data,
                             req->body.len, api_now(), &req->resp, err));
out:
    return rc;
}

enum api_err api_route_ocsp_get(struct api_request *req, struct api_error *err)
{
    const char *url = req->url != NULL ? req->url : "";
    size_t prefix = strlen(OCSP_PREFIX);
    const char *b64 = strncmp(url, OCSP_PREFIX, prefix) == 0 ? url + prefix : "";

    return api_ocsp_respond_base64(api_server_ocsp(req->srv), b64, strlen(b64), api_now(),
                                   &req->resp, err);
}
