/* server.c: `signet serve`'s lifecycle: configuration, issuer, store,
 * authentication, the server's own TLS certificate (issued by the
 * intermediate and renewed at two thirds of its life), the HTTPS and HTTP
 * daemons, and a graceful stop. */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "internal.h"

/* CONTRACT section 6: TLS 1.2 and 1.3 only, ECDHE key exchange (EC groups
 * only, also for TLS 1.3), AEAD ciphers only (so no CBC and no SHA-1 MAC),
 * no SHA-1 signatures (neither ours in a TLS 1.2 key exchange nor a
 * client's CertificateVerify), and our order of preference rather than the
 * client's. */
#define API_TLS_PRIORITIES                                                                         \
    "NONE:+VERS-TLS1.3:+VERS-TLS1.2:+ECDHE-ECDSA:+ECDHE-RSA:+AES-256-GCM:+AES-128-GCM:"            \
    "+CHACHA20-POLY1305:+AEAD:+SIGN-ALL:-SIGN-RSA-SHA1:-SIGN-ECDSA-SHA1:-SIGN-DSA-SHA1:"           \
    "+COMP-NULL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:+GROUP-SECP521R1:"                 \
    "+CTYPE-X509:%SERVER_PRECEDENCE"

#define API_TLS_TTL_S        (24 * 3600)
#define API_TLS_MAX_CERTS    8
#define API_CONNECTION_LIMIT 4096u
/* Connections one client address may hold on each listener: one address
 * alone cannot fill API_CONNECTION_LIMIT with slow or idle connections. */
#define API_CONNECTIONS_PER_IP  256u
#define API_CONNECTION_TIMEOUT  10u /* seconds idle */
#define API_CONNECTION_MEMORY   (32 * 1024)
#define API_SIGN_QUEUE_DEFAULT  256
#define API_STOP_GRACE_MS       10000
#define API_MAINTENANCE_EVERY_S 30
#define API_STORE_PROBE_EVERY_S 5
#define API_STORE_ROOM          ((size_t)256 * 1024) /* a batch of 64 issuances, with margin */
#define API_BUNDLE_REFRESH_S    300

/* The TLS identity the handshake presents: leaf first, then the chain. */
struct tls_identity {
    gnutls_pcert_st pcerts[API_TLS_MAX_CERTS];
    unsigned num_pcerts;
    gnutls_privkey_t key;
    int64_t not_after;
    int64_t renew_at; /* INT64_MAX for certificates read from files */
};

struct api_server {
    struct api_config cfg;
    struct ca_issuer *issuer;
    struct store *store;
    struct api_auth *auth;
    struct api_signer *signer;
    struct api_crl *crl;   /* api/crl.c */
    struct api_ocsp *ocsp; /* api/ocsp.c */
    struct api_metrics metrics;
    enum api_log_level log_level;
    char *bundle_json;
    size_t bundle_json_len;
    char *trust_pem; /* roots and intermediate: the CAs named in CertificateRequest */
    _Atomic int inflight;
    _Atomic int store_failed;
    _Atomic int64_t store_probed_at; /* api_server_ready's last probe, monotonic s */
    _Atomic int draining;            /* stopping: every response closes its connection */
    struct api_listener https_listener;
    struct api_listener http_listener;
    struct MHD_Daemon *https;
    struct MHD_Daemon *http;
    pthread_mutex_t tls_mu;
    struct tls_identity *tls_cur;
    struct tls_identity *tls_prev; /* kept one generation: a handshake may still hold it */
    pthread_mutex_t maint_mu;
    pthread_cond_t maint_cv;
    pthread_t maint;
    int maint_started;
    int stopping;
};

/* GnuTLS's certificate callback has no user pointer, so the one running
 * server is found here. Set once before the HTTPS daemon starts and cleared
 * after it stops; read-only in between. */
static struct api_server *_Atomic tls_server;

int64_t api_now(void)
{
    return (int64_t)time(NULL);
}

uint64_t api_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t api_random_u64(void)
{
    uint64_t v = 0;
    if (ca_random_bytes((unsigned char *)&v, sizeof(v)) != 1) {
        ERR_clear_error();
        return 0;
    }
    return v;
}

const struct ca_issuer *api_server_issuer(const struct api_server *srv)
{
    return srv->issuer;
}

struct store *api_server_store(const struct api_server *srv)
{
    return srv->store;
}

struct api_auth *api_server_auth(const struct api_server *srv)
{
    return srv->auth;
}

const struct api_config *api_server_config(const struct api_server *srv)
{
    return &srv->cfg;
}

struct api_metrics *api_server_metrics(struct api_server *srv)
{
    return &srv->metrics;
}

struct api_signer *api_server_signer(const struct api_server *srv)
{
    return srv->signer;
}

struct api_crl *api_server_crl(const struct api_server *srv)
{
    return srv->crl;
}

struct api_ocsp *api_server_ocsp(const struct api_server *srv)
{
    return srv->ocsp;
}

const char *api_server_bundle_json(const struct api_server *srv, size_t *out_len)
{
    *out_len = srv->bundle_json_len;
    return srv->bundle_json;
}

enum api_log_level api_server_log_level(const struct api_server *srv)
{
    return srv->log_level;
}

void api_server_inflight_add(struct api_server *srv, int delta)
{
    atomic_fetch_add(&srv->inflight, delta);
}

int api_server_draining(const struct api_server *srv)
{
    return atomic_load_explicit(&srv->draining, memory_order_relaxed);
}

void api_server_store_result(struct api_server *srv, enum store_err code)
{
    int failed = code == STORE_ERR_MAP_FULL || code == STORE_ERR_IO || code == STORE_ERR_CLOSED;
    if (code == STORE_OK || failed) {
        atomic_store(&srv->store_failed, failed);
    }
}

/* has_room says whether the store has the pages a full batch of issuances
 * needs, in its map and on its filesystem. */
static int has_room(const struct store_stats *st)
{
    return (st->map_size == 0 || st->map_size - st->map_used >= API_STORE_ROOM) &&
           st->disk_free >= API_STORE_ROOM;
}

int api_server_ready(struct api_server *srv, int64_t now, const char **out_why)
{
    struct store_stats st;

    if (ca_issuer_not_after(srv->issuer) <= now) {
        *out_why = "the intermediate has expired";
        return 0;
    }
    if (api_crl_intermediate_revoked(srv->crl)) {
        /* Relying parties that check the root's CRL refuse what it issues,
         * so a load balancer should send work elsewhere (or nowhere). */
        *out_why = "the intermediate is revoked by pki.root_crl";
        return 0;
    }
    if (store_stats_get(srv->store, &st) != STORE_OK) {
        *out_why = "the store cannot be read";
        return 0;
    }
    if (st.map_size > 0 && st.map_used >= st.map_size) {
        *out_why = "the store is full";
        return 0;
    }
    if (atomic_load(&srv->store_failed)) {
        /* While not ready the server gets no issuances (a Service drops the
         * pod), so none would learn that writes work again. A small synced
         * write, at most every API_STORE_PROBE_EVERY_S, does, once there is
         * room again: the probe alone can succeed on pages LMDB recycles
         * while an issuance, which needs more, still fails. */
        int64_t mono = (int64_t)(api_mono_ns() / 1000000000u);
        int64_t last = atomic_load(&srv->store_probed_at);
        if (has_room(&st) && mono - last >= API_STORE_PROBE_EVERY_S &&
            atomic_compare_exchange_strong(&srv->store_probed_at, &last, mono)) {
            api_server_store_result(srv, store_probe(srv->store));
        }
    }
    if (atomic_load(&srv->store_failed)) {
        *out_why = "the last store write failed";
        return 0;
    }
    return 1;
}

/* ---- Environment knobs (tests and tuning) ---- */

static unsigned pool_size(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1u : n > 64 ? 64u : (unsigned)n;
}

/* Signer threads only compute: the group commit answers for them, so one per
 * core keeps the cores busy. More only share the cores: each signature then
 * takes longer in wall time and answers leave out of order. Measured with
 * tests/bench/bench_issue.sh-style runs on 2 cores, alternating, 3 pairs of
 * 10 s at c=64: p99 28-31 ms with 2 signers against 37-39 ms with 8, and
 * as many or more certificates per second; c=1 and c=16 alike or better. */
#define API_SIGNERS_PER_CPU 1

static size_t env_size(const char *name, size_t def, size_t max)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] < '0' || v[0] > '9') {
        return def;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno != 0 || *end != '\0' || n == 0 || n > max) {
        return def;
    }
    return (size_t)n;
}

/* ---- The server's TLS identity ---- */

static void tls_identity_free(struct tls_identity *t)
{
    if (t == NULL) {
        return;
    }
    for (unsigned i = 0; i < t->num_pcerts; i++) {
        gnutls_pcert_deinit(&t->pcerts[i]);
    }
    gnutls_privkey_deinit(t->key);
    free(t);
}

/* tls_identity_build converts |certs| (DER, leaf first) and |key| to GnuTLS. */
static enum api_err tls_identity_build(unsigned char *const *ders, const size_t *der_lens,
                                       size_t num, EVP_PKEY *key, struct tls_identity **out,
                                       struct api_error *err)
{
    enum api_err rc = API_OK;
    struct tls_identity *t = NULL;
    BIO *bio = NULL;
    BUF_MEM *mem = NULL;

    ENSURE(num > 0 && num <= API_TLS_MAX_CERTS, API_ERR_BAD_REQUEST,
           "tls.cert: 1..%d certificates expected", API_TLS_MAX_CERTS);
    t = calloc(1, sizeof(*t));
    ENSURE(t != NULL, API_ERR_INTERNAL, "out of memory");
    for (; t->num_pcerts < num; t->num_pcerts++) {
        gnutls_datum_t d = {.data = ders[t->num_pcerts], .size = (unsigned)der_lens[t->num_pcerts]};
        ENSURE(gnutls_pcert_import_x509_raw(&t->pcerts[t->num_pcerts], &d, GNUTLS_X509_FMT_DER,
                                            0) == 0,
               API_ERR_INTERNAL, "TLS certificate not accepted by GnuTLS");
    }
    /* The key crosses to GnuTLS as PKCS#8 PEM in a secure-heap BIO, which
     * OpenSSL cleanses when it is freed. */
    bio = BIO_new(BIO_s_secmem());
    ENSURE(bio != NULL, API_ERR_INTERNAL, "out of memory");
    ENSURE(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1, API_ERR_INTERNAL,
           "cannot encode the TLS key");
    BIO_get_mem_ptr(bio, &mem);
    ENSURE(mem != NULL && gnutls_privkey_init(&t->key) == 0, API_ERR_INTERNAL, "out of memory");
    gnutls_datum_t kd = {.data = (unsigned char *)mem->data, .size = (unsigned)mem->length};
    ENSURE(gnutls_privkey_import_x509_raw(t->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0) == 0,
           API_ERR_INTERNAL, "TLS key not accepted by GnuTLS");
    t->renew_at = INT64_MAX;
    t->not_after = INT64_MAX;
    *out = t;
    t = NULL;
out:
    BIO_free(bio);
    tls_identity_free(t);
    return rc;
}

/* tls_issue issues the server's own certificate from the intermediate for a
 * new P-256 key: SPIFFE ID spiffe://<td>/signet/server, SANs from tls.*,
 * recorded in the store like any other issuance. */
static enum api_err tls_issue(struct api_server *srv, int64_t now, struct tls_identity **out,
                              struct api_error *err)
{
    enum api_err rc = API_OK;
    EVP_PKEY *key = NULL;
    unsigned char *inter_copy = NULL;
    struct ca_leaf leaf = {0};
    struct ca_error cerr = {0};
    char spiffe_id[300];
    const char *dns[API_MAX_LIST];
    const char *ips[API_MAX_LIST];

    for (size_t i = 0; i < srv->cfg.num_tls_dns_names; i++) {
        dns[i] = srv->cfg.tls_dns_names[i];
    }
    for (size_t i = 0; i < srv->cfg.num_tls_ip_addresses; i++) {
        ips[i] = srv->cfg.tls_ip_addresses[i];
    }
    snprintf(spiffe_id, sizeof(spiffe_id), "spiffe://%s/signet/server", srv->cfg.trust_domain);
    struct ca_identity id = {
        .spiffe_id = spiffe_id,
        .dns_names = dns,
        .num_dns_names = srv->cfg.num_tls_dns_names,
        .ips = ips,
        .num_ips = srv->cfg.num_tls_ip_addresses,
    };
    ENSURE(ca_key_generate(CA_KEY_EC_P256, &key, &cerr) == CA_OK, API_ERR_INTERNAL,
           "cannot make the TLS key");
    /* SIGNET_TLS_TTL_S shortens the lifetime, so that renewal can be watched. */
    int64_t ttl = (int64_t)env_size("SIGNET_TLS_TTL_S", API_TLS_TTL_S, API_TLS_TTL_S);
    enum ca_err crc = ca_leaf_issue_for_key(srv->issuer, key, &id, ttl, now, &leaf, &cerr);
    ENSURE(crc == CA_OK, crc == CA_ERR_ISSUER_EXPIRED ? API_ERR_UNAVAILABLE : API_ERR_BAD_REQUEST,
           "tls: cannot issue the server certificate: %s", cerr.msg);
    struct store_record rec = {
        .serial_len = leaf.serial_len,
        .issued_at = now,
        .not_before = leaf.not_before,
        .not_after = leaf.not_after,
        .auth_method = API_AUTH_NONE,
        .cert_der = leaf.der,
        .cert_der_len = leaf.der_len,
    };
    memcpy(rec.serial, leaf.serial, leaf.serial_len);
    snprintf(rec.spiffe_id, sizeof(rec.spiffe_id), "%s", spiffe_id);
    enum store_err src = store_put(srv->store, &rec);
    api_server_store_result(srv, src);
    ENSURE(src != STORE_ERR_MAP_FULL, API_ERR_UNAVAILABLE,
           "cannot record the server certificate: the store is full (raise store.map_size_mb)");
    ENSURE(src == STORE_OK, API_ERR_UNAVAILABLE, "cannot record the server certificate (%s)",
           store_err_name(src));
    size_t inter_len = 0;
    const unsigned char *inter = ca_issuer_cert_der(srv->issuer, &inter_len);
    inter_copy = malloc(inter_len);
    ENSURE(inter_copy != NULL, API_ERR_INTERNAL, "out of memory");
    memcpy(inter_copy, inter, inter_len);
    unsigned char *ders[2] = {leaf.der, inter_copy};
    size_t lens[2] = {leaf.der_len, inter_len};
    TRY(tls_identity_build(ders, lens, 2, key, out, err));
    (*out)->not_after = leaf.not_after;
    (*out)->renew_at = now + (leaf.not_after - now) * 2 / 3;
out:
    free(inter_copy);
    ca_leaf_cleanup(&leaf);
    EVP_PKEY_free(key);
    return rc;
}

/* tls_from_files reads tls.cert (leaf first, then its chain) and tls.key. */
static enum api_err tls_from_files(const struct api_config *cfg, struct tls_identity **out,
                                   struct api_error *err)
{
    enum api_err rc = API_OK;
    STACK_OF(X509) *certs = NULL;
    EVP_PKEY *key = NULL;
    struct ca_error cerr = {0};
    unsigned char *ders[API_TLS_MAX_CERTS] = {0};
    size_t lens[API_TLS_MAX_CERTS] = {0};
    size_t num = 0;

    ENSURE(ca_certs_read(cfg->tls_cert, &certs, &cerr) == CA_OK, API_ERR_BAD_REQUEST,
           "tls.cert: %s", cerr.msg);
    ENSURE(ca_key_read(cfg->tls_key, NULL, 0, &key, &cerr) == CA_OK, API_ERR_BAD_REQUEST,
           "tls.key: %s", cerr.msg);
    ENSURE(sk_X509_num(certs) > 0 && sk_X509_num(certs) <= API_TLS_MAX_CERTS, API_ERR_BAD_REQUEST,
           "tls.cert: 1..%d certificates expected", API_TLS_MAX_CERTS);
    ENSURE(X509_check_private_key(sk_X509_value(certs, 0), key) == 1, API_ERR_BAD_REQUEST,
           "tls.key does not match tls.cert");
    for (; num < (size_t)sk_X509_num(certs); num++) {
        int n = i2d_X509(sk_X509_value(certs, (int)num), &ders[num]);
        ENSURE(n > 0, API_ERR_INTERNAL, "cannot encode tls.cert");
        lens[num] = (size_t)n;
    }
    TRY(tls_identity_build(ders, lens, num, key, out, err));
out:
    for (size_t i = 0; i < API_TLS_MAX_CERTS; i++) {
        OPENSSL_free(ders[i]);
    }
    EVP_PKEY_free(key);
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

static int tls_cert_cb(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                       const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                       gnutls_pcert_st **pcert, unsigned int *pcert_length,
                       gnutls_privkey_t *privkey)
{
    (void)session;
    (void)req_ca_rdn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    struct api_server *srv = atomic_load(&tls_server);
    if (srv == NULL) {
        return -1;
    }
    pthread_mutex_lock(&srv->tls_mu);
    struct tls_identity *t = srv->tls_cur;
    *pcert = t->pcerts;
    *pcert_length = t->num_pcerts;
    *privkey = t->key;
    pthread_mutex_unlock(&srv->tls_mu);
    return 0;
}

/* ---- Maintenance: renewing the TLS certificate ---- */

static void maintain(struct api_server *srv, int64_t now)
{
    struct api_error err = {0};
    struct tls_identity *fresh = NULL;

    pthread_mutex_lock(&srv->tls_mu);
    int64_t renew_at = srv->tls_cur->renew_at;
    pthread_mutex_unlock(&srv->tls_mu);
    if (now < renew_at) {
        return;
    }
    if (tls_issue(srv, now, &fresh, &err) != API_OK) {
        api_log_event(stderr, srv->log_level, API_LOG_ERROR,
                      "renewing the server certificate failed; retrying", err.msg);
        return;
    }
    pthread_mutex_lock(&srv->tls_mu);
    struct tls_identity *old = srv->tls_prev;
    srv->tls_prev = srv->tls_cur;
    srv->tls_cur = fresh;
    pthread_mutex_unlock(&srv->tls_mu);
    tls_identity_free(old);
    api_log_event(stderr, srv->log_level, API_LOG_INFO, "server certificate renewed", NULL);
}

static void *maintenance_main(void *arg)
{
    struct api_server *srv = arg;

    pthread_mutex_lock(&srv->maint_mu);
    while (!srv->stopping) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += API_MAINTENANCE_EVERY_S;
        pthread_cond_timedwait(&srv->maint_cv, &srv->maint_mu, &deadline);
        if (srv->stopping) {
            break;
        }
        pthread_mutex_unlock(&srv->maint_mu);
        maintain(srv, api_now());
        pthread_mutex_lock(&srv->maint_mu);
    }
    pthread_mutex_unlock(&srv->maint_mu);
    return NULL;
}

/* ---- Daemons ---- */

__attribute__((format(printf, 2, 0))) static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    const struct api_server *srv = cls;
    char msg[256];

    if (srv->log_level > API_LOG_DEBUG) {
        return;
    }
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t len = strlen(msg);
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r')) {
        msg[--len] = '\0';
    }
    api_log_event(stderr, srv->log_level, API_LOG_DEBUG, "libmicrohttpd", msg);
}

/* parse_listen resolves "host:port" or "[v6]:port" (numeric hosts only). */
static enum api_err parse_listen(const char *key, const char *value, struct sockaddr_storage *out,
                                 struct api_error *err)
{
    enum api_err rc = API_OK;
    struct addrinfo *res = NULL;
    char host[128];
    const char *colon = strrchr(value, ':');

    ENSURE(colon != NULL && colon[1] != '\0', API_ERR_BAD_REQUEST, "%s: expected host:port", key);
    const char *h = value;
    size_t hlen = (size_t)(colon - value);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    ENSURE(hlen > 0 && hlen < sizeof(host), API_ERR_BAD_REQUEST, "%s: expected host:port", key);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE};
    ENSURE(getaddrinfo(host, colon + 1, &hints, &res) == 0 && res != NULL &&
               res->ai_addrlen <= sizeof(*out),
           API_ERR_BAD_REQUEST, "%s: expected a numeric address and port", key);
    memset(out, 0, sizeof(*out));
    memcpy(out, res->ai_addr, res->ai_addrlen);
out:
    if (res != NULL) {
        freeaddrinfo(res);
    }
    return rc;
}

/* raise_fd_limit lifts the soft descriptor limit (often 1024) towards the
 * hard one, so that both listeners can hold API_CONNECTION_LIMIT connections
 * besides the store, the log and the signers: 1,000 idle connections and a
 * burst of half-open handshakes must not lock issuance out
 * (tests/integration/test_faults_connections.sh). Best effort: at the limit,
 * libmicrohttpd stops accepting until a connection closes. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    rlim_t want = 2 * (rlim_t)API_CONNECTION_LIMIT + 256;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want) {
        return;
    }
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
}

static enum api_err start_daemons(struct api_server *srv, struct api_error *err)
{
    enum api_err rc = API_OK;
    struct sockaddr_storage https_addr;
    struct sockaddr_storage http_addr;
    /* poll(), not epoll: with TLS, libmicrohttpd 0.9.75's epoll mode spins
     * (recv EAGAIN, epoll_wait with timeout 0) while a handshake waits for the
     * client, which cut handshakes per second by 3-5x on loopback. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME;
    unsigned per_ip = (unsigned)env_size("SIGNET_CONNECTIONS_PER_IP", API_CONNECTIONS_PER_IP,
                                         API_CONNECTION_LIMIT);

    raise_fd_limit();
    TRY(parse_listen("listen.https", srv->cfg.listen_https, &https_addr, err));
    srv->https_listener.srv = srv;
    srv->https_listener.https = 1;
    srv->https = MHD_start_daemon(
        flags | MHD_USE_TLS, 0, NULL, NULL, api_http_access, &srv->https_listener,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&https_addr, MHD_OPTION_THREAD_POOL_SIZE,
        pool_size(), MHD_OPTION_CONNECTION_LIMIT, API_CONNECTION_LIMIT,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
        API_CONNECTION_TIMEOUT, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)API_CONNECTION_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, api_http_completed, NULL, MHD_OPTION_UNESCAPE_CALLBACK,
        api_http_unescape, NULL, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, srv,
        MHD_OPTION_HTTPS_PRIORITIES, API_TLS_PRIORITIES, MHD_OPTION_HTTPS_MEM_TRUST, srv->trust_pem,
        MHD_OPTION_HTTPS_CERT_CALLBACK, tls_cert_cb, MHD_OPTION_END);
    ENSURE(srv->https != NULL, API_ERR_UNAVAILABLE, "listen.https: cannot listen on %s",
           srv->cfg.listen_https);
    if (srv->cfg.listen_http[0] == '\0') {
        goto out;
    }
    TRY(parse_listen("listen.http", srv->cfg.listen_http, &http_addr, err));
    srv->http_listener.srv = srv;
    srv->http_listener.https = 0;
    srv->http = MHD_start_daemon(
        flags, 0, NULL, NULL, api_http_access, &srv->http_listener, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&http_addr, MHD_OPTION_THREAD_POOL_SIZE, pool_size(),
        MHD_OPTION_CONNECTION_LIMIT, API_CONNECTION_LIMIT, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        per_ip, MHD_OPTION_CONNECTION_TIMEOUT, API_CONNECTION_TIMEOUT,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)API_CONNECTION_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, api_http_completed, NULL, MHD_OPTION_UNESCAPE_CALLBACK,
        api_http_unescape, NULL, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, srv, MHD_OPTION_END);
    ENSURE(srv->http != NULL, API_ERR_UNAVAILABLE, "listen.http: cannot listen on %s",
           srv->cfg.listen_http);
out:
    return rc;
}

/* ---- Start and stop ---- */

static enum api_err load_issuer(struct api_server *srv, struct api_error *err)
{
    enum api_err rc = API_OK;
    STACK_OF(X509) *inter = NULL;
    STACK_OF(X509) *roots = NULL;
    EVP_PKEY *key = NULL;
    struct ca_error cerr = {0};
    struct ca_policy policy;

    ENSURE(ca_certs_read(srv->cfg.pki_intermediate_cert, &inter, &cerr) == CA_OK,
           API_ERR_BAD_REQUEST, "pki.intermediate_cert: %s", cerr.msg);
    ENSURE(ca_certs_read(srv->cfg.pki_roots, &roots, &cerr) == CA_OK, API_ERR_BAD_REQUEST,
           "pki.roots: %s", cerr.msg);
    ENSURE(ca_key_read(srv->cfg.pki_intermediate_key, NULL, 0, &key, &cerr) == CA_OK,
           API_ERR_BAD_REQUEST, "pki.intermediate_key: %s", cerr.msg);
    memset(&policy, 0, sizeof(policy));
    snprintf(policy.trust_domain, sizeof(policy.trust_domain), "%s", srv->cfg.trust_domain);
    snprintf(policy.public_url, sizeof(policy.public_url), "%s", srv->cfg.public_url);
    policy.default_ttl_s = srv->cfg.leaf_default_ttl_s;
    policy.max_ttl_s = srv->cfg.leaf_max_ttl_s;
    ENSURE(ca_issuer_new(sk_X509_value(inter, 0), key, roots, &policy, &srv->issuer, &cerr) ==
               CA_OK,
           API_ERR_BAD_REQUEST, "pki: %s", cerr.msg);
out:
    EVP_PKEY_free(key);
    sk_X509_pop_free(roots, X509_free);
    sk_X509_pop_free(inter, X509_free);
    return rc;
}

static enum api_err build_trust(struct api_server *srv, struct api_error *err)
{
    enum api_err rc = API_OK;
    size_t roots_len = 0;
    size_t chain_len = 0;

    const char *roots = ca_issuer_bundle_pem(srv->issuer, &roots_len);
    const char *chain = ca_issuer_chain_pem(srv->issuer, &chain_len);
    srv->trust_pem = malloc(roots_len + chain_len + 2);
    ENSURE(srv->trust_pem != NULL, API_ERR_INTERNAL, "out of memory");
    memcpy(srv->trust_pem, roots, roots_len);
    srv->trust_pem[roots_len] = '\n';
    memcpy(srv->trust_pem + roots_len + 1, chain, chain_len);
    srv->trust_pem[roots_len + 1 + chain_len] = '\0';
out:
    return rc;
}

enum api_err api_server_start(const char *config_path, struct api_server **out,
                              struct api_error *err)
{
    enum api_err rc = API_OK;
    struct api_server *srv = NULL;
    struct api_server *expected = NULL;

    srv = calloc(1, sizeof(*srv));
    ENSURE(srv != NULL, API_ERR_INTERNAL, "out of memory");
    pthread_mutex_init(&srv->tls_mu, NULL);
    pthread_mutex_init(&srv->maint_mu, NULL);
    pthread_cond_init(&srv->maint_cv, NULL);
    srv->log_level = api_log_level_parse(getenv("SIGNET_LOG_LEVEL"));
    TRY(api_config_load(config_path, &srv->cfg, err));
    TRY(load_issuer(srv, err));
    struct store_options so = {.path = srv->cfg.store_path,
                               .map_size = srv->cfg.store_map_size_mb * 1024 * 1024};
    enum store_err src = store_open(&so, &srv->store);
    ENSURE(src != STORE_ERR_VERSION, API_ERR_UNAVAILABLE,
           "store.path: the store's format is unknown to this signet (written by a newer one?)");
    ENSURE(src == STORE_OK, API_ERR_UNAVAILABLE, "store.path: cannot open the store (%s)",
           store_err_name(src));
    /* What the scheduled prune (at each CRL refresh) would drop goes first:
     * a store full of long-expired records then has room for the server's
     * certificate and new issuances from the start. */
    size_t pruned = 0;
    src = store_prune(srv->store, api_now(), api_store_retention_s(&srv->cfg), &pruned);
    ENSURE(src == STORE_OK || src == STORE_ERR_MAP_FULL, API_ERR_UNAVAILABLE,
           "store.path: cannot prune the store (%s)", store_err_name(src));
    TRY(api_auth_new(&srv->cfg, srv->store, &srv->auth, err));
    TRY(api_bundle_json_build(srv->issuer, API_BUNDLE_REFRESH_S, &srv->bundle_json,
                              &srv->bundle_json_len, err));
    TRY(build_trust(srv, err));
    if (srv->cfg.tls_cert[0] != '\0') {
        TRY(tls_from_files(&srv->cfg, &srv->tls_cur, err));
    } else {
        TRY(tls_issue(srv, api_now(), &srv->tls_cur, err));
    }
    TRY(api_crl_new(srv->issuer, srv->store, &srv->cfg, &srv->crl, err));
    TRY(api_ocsp_new(srv->issuer, srv->store, srv->cfg.ocsp_validity_s, 0, &srv->ocsp, err));
    TRY(api_signer_new(srv, env_size("SIGNET_SIGNERS", API_SIGNERS_PER_CPU * pool_size(), 1024),
                       env_size("SIGNET_SIGN_QUEUE", API_SIGN_QUEUE_DEFAULT, 1u << 20),
                       &srv->signer, err));
    ENSURE(atomic_compare_exchange_strong(&tls_server, &expected, srv), API_ERR_INTERNAL,
           "a server is already running in this process");
    TRY(start_daemons(srv, err));
    ENSURE(pthread_create(&srv->maint, NULL, maintenance_main, srv) == 0, API_ERR_INTERNAL,
           "cannot start the maintenance thread");
    srv->maint_started = 1;
    api_log_event(stderr, srv->log_level, API_LOG_INFO, "signet serve: listening", NULL);
    *out = srv;
    srv = NULL;
out:
    api_server_stop(srv);
    return rc;
}

static void quiesce(struct MHD_Daemon *d)
{
    if (d == NULL) {
        return;
    }
    MHD_socket fd = MHD_quiesce_daemon(d);
    if (fd != MHD_INVALID_SOCKET) {
        close(fd);
    }
}

/* wait_inflight waits until no request is in flight, or |ms| have passed. */
static void wait_inflight(struct api_server *srv, int ms)
{
    uint64_t deadline = api_mono_ns() + (uint64_t)ms * 1000 * 1000;
    while (atomic_load(&srv->inflight) > 0 && api_mono_ns() < deadline) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void api_server_stop(struct api_server *srv)
{
    if (srv == NULL) {
        return;
    }
    if (srv->maint_started) {
        pthread_mutex_lock(&srv->maint_mu);
        srv->stopping = 1;
        pthread_cond_signal(&srv->maint_cv);
        pthread_mutex_unlock(&srv->maint_mu);
        pthread_join(srv->maint, NULL);
    }
    /* Stop accepting, let what is in flight finish, then drain the signers:
     * every suspended connection is resumed before its daemon stops. A
     * connection accepted before the quiesce can still bring a request
     * after the drain (its TLS handshake or headers were slow): the poll
     * threads use the stopped signer until the daemons stop, and it answers
     * 503. So it is freed only after them. */
    atomic_store(&srv->draining, 1);
    quiesce(srv->https);
    quiesce(srv->http);
    wait_inflight(srv, API_STOP_GRACE_MS);
    api_signer_stop(srv->signer);
    wait_inflight(srv, 2000);
    if (srv->https != NULL) {
        MHD_stop_daemon(srv->https);
    }
    if (srv->http != NULL) {
        MHD_stop_daemon(srv->http);
    }
    api_signer_free(srv->signer);
    struct api_server *expected = srv;
    atomic_compare_exchange_strong(&tls_server, &expected, NULL);
    api_auth_free(srv->auth);
    api_ocsp_free(srv->ocsp);
    api_crl_free(srv->crl);
    store_close(srv->store);
    ca_issuer_free(srv->issuer);
    tls_identity_free(srv->tls_cur);
    tls_identity_free(srv->tls_prev);
    free(srv->bundle_json);
    free(srv->trust_pem);
    pthread_cond_destroy(&srv->maint_cv);
    pthread_mutex_destroy(&srv->maint_mu);
    pthread_mutex_destroy(&srv->tls_mu);
    if (srv->stopping || srv->https != NULL) {
        api_log_event(stderr, srv->log_level, API_LOG_INFO, "signet serve: stopped", NULL);
    }
    free(srv);
}
