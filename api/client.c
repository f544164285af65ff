/* client.c: the HTTPS client of `signet agent`, `signet revoke` and `signet
 * certs`, over libcurl with the OpenSSL backend. The server is trusted only
 * through the --ca roots; the client certificate and key are handed to each
 * new TLS context as OpenSSL objects (CURLOPT_SSL_CTX_FUNCTION), never as PEM
 * for libcurl to copy and parse; every response is capped while it is
 * received; a pending SIGTERM or SIGINT aborts a request so that callers stop
 * promptly. Answers are parsed with jansson, strictly where we act on them (an
 * SVID) and leniently where we only print them (records). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "internal.h"

#define MAX_URL_LEN   2048
#define MAX_PAGES     100000
#define CERTS_PAGE    100
#define MAX_PEM_FIELD (64 * 1024)

struct api_client {
    CURL *curl;
    char *server; /* without a trailing '/' */
    char *ca_file;
    STACK_OF(X509) *roots; /* --ca's certificates: what an SVID must chain to as well */
    /* The identity presented over mTLS, or all NULL. The key exists only as
     * this EVP_PKEY (and the references each SSL_CTX takes): no PEM copy of
     * it is kept, and the provider cleanses the key when the last reference
     * goes. libcurl is given no key blob because it would parse the PEM with
     * PEM_read_bio_PrivateKey, whose decoder frees the PEM lines uncleansed,
     * and because later releases (8.x) copy a key blob into each connection's
     * configuration and free that copy uncleansed, CURL_BLOB_NOCOPY or not. */
    X509 *cert;
    STACK_OF(X509) *chain; /* sent after |cert| */
    EVP_PKEY *key;
};

static STACK_OF(X509) *pem_certs(const char *pem, size_t len);

struct recv_buf {
    char *data;
    size_t len;
    size_t cap;
    int too_large;
};

void api_reply_cleanup(struct api_reply *r)
{
    if (r == NULL) {
        return;
    }
    free(r->body);
    memset(r, 0, sizeof(*r));
}

int api_client_stop_pending(void)
{
    sigset_t pending;

    if (sigpending(&pending) != 0) {
        return 0;
    }
    return sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1;
}

static char *dup_bytes(const char *s, size_t len)
{
    char *d = malloc(len + 1);

    if (d != NULL) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

static void clear_identity(struct api_client *c)
{
    EVP_PKEY_free(c->key);
    X509_free(c->cert);
    sk_X509_pop_free(c->chain, X509_free);
    c->key = NULL;
    c->cert = NULL;
    c->chain = NULL;
}

/* hold_identity makes |certs| (leaf first, then its chain) and |key|, which
 * must match, |c|'s identity. On success it has taken both; on failure they
 * are untouched and still the caller's. */
static enum api_err hold_identity(struct api_client *c, STACK_OF(X509) *certs, EVP_PKEY *key,
                                  struct api_error *err)
{
    enum api_err rc = API_OK;

    OSSL(X509_check_private_key(sk_X509_value(certs, 0), key), API_ERR_BAD_REQUEST,
         "the client key does not match its certificate");
    c->cert = sk_X509_shift(certs);
    c->chain = certs;
    c->key = key;
out:
    return rc;
}

enum api_err api_client_new(const char *server, const char *ca_file, struct api_client **out,
                            struct api_error *err)
{
    enum api_err rc = API_OK;
    struct api_client *c = NULL;
    STACK_OF(X509) *roots = NULL;
    struct ca_error cerr = {0};

    ENSURE(server != NULL && ca_file != NULL, API_ERR_BAD_REQUEST,
           "--server and --ca are required");
    size_t len = strlen(server);
    ENSURE(len > 8 && len < MAX_URL_LEN && strncasecmp(server, "https://", 8) == 0,
           API_ERR_BAD_REQUEST, "--server must be an https:// URL");
    while (len > 8 && server[len - 1] == '/') {
        len--;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)server[i];
        ENSURE(ch > 0x20 && ch < 0x7f && ch != '?' && ch != '#', API_ERR_BAD_REQUEST,
               "--server holds a character a URL may not have here");
    }
    /* Read the roots once, so that a wrong --ca is said plainly, up front. */
    ENSURE(ca_certs_read(ca_file, &roots, &cerr) == CA_OK, API_ERR_BAD_REQUEST,
           "cannot read --ca %s: %s", ca_file, cerr.msg);
    ENSURE(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK, API_ERR_INTERNAL,
           "cannot initialise libcurl");
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        curl_global_cleanup();
    }
    ENSURE(c != NULL, API_ERR_INTERNAL, "out of memory");
    c->curl = curl_easy_init();
    c->server = dup_bytes(server, len);
    c->ca_file = dup_bytes(ca_file, strlen(ca_file));
    ENSURE(c->curl != NULL && c->server != NULL && c->ca_file != NULL, API_ERR_INTERNAL,
           "out of memory");
    c->roots = roots;
    roots = NULL;

    *out = c;
    c = NULL;
out:
    api_client_free(c);
    sk_X509_pop_free(roots, X509_free);
    return rc;
}

void api_client_free(struct api_client *c)
{
    if (c == NULL) {
        return;
    }
    clear_identity(c);
    curl_easy_cleanup(c->curl);
    free(c->server);
    free(c->ca_file);
    sk_X509_pop_free(c->roots, X509_free);
    free(c);
    curl_global_cleanup();
}

enum api_err api_client_identity_pem(struct api_client *c, const char *cert_pem, size_t cert_len,
                                     const char *key_pem, size_t key_len, struct api_error *err)
{
    enum api_err rc = API_OK;
    STACK_OF(X509) *certs = NULL;
    EVP_PKEY *key = NULL;
    struct ca_error cerr = {0};

    clear_identity(c);
    if (cert_pem == NULL) {
        return API_OK;
    }
    ENSURE(key_pem != NULL && cert_len > 0 && key_len > 0, API_ERR_BAD_REQUEST,
           "a client certificate needs its key");
    ENSURE(cert_len <= API_CLIENT_MAX_RESPONSE, API_ERR_BAD_REQUEST,
           "the client certificate is longer than %d bytes", API_CLIENT_MAX_RESPONSE);
    certs = pem_certs(cert_pem, cert_len);
    ENSURE(certs != NULL, API_ERR_BAD_REQUEST, "the client certificate is not PEM");
    /* ca_key_parse cleanses every buffer the PEM passes through. */
    ENSURE(ca_key_parse(key_pem, key_len, NULL, 0, &key, &cerr) == CA_OK, API_ERR_BAD_REQUEST,
           "the client key: %s", cerr.msg);
    TRY(hold_identity(c, certs, key, err));
    certs = NULL;
    key = NULL;
out:
    EVP_PKEY_free(key);
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

enum api_err api_client_identity_files(struct api_client *c, const char *cert_file,
                                       const char *key_file, struct api_error *err)
{
    enum api_err rc = API_OK;
    struct ca_error cerr = {0};
    STACK_OF(X509) *certs = NULL;
    EVP_PKEY *key = NULL;

    clear_identity(c);
    ENSURE(cert_file != NULL && key_file != NULL, API_ERR_BAD_REQUEST,
           "--cert and --key are required");
    ENSURE(ca_certs_read(cert_file, &certs, &cerr) == CA_OK, API_ERR_BAD_REQUEST,
           "cannot read --cert %s: %s", cert_file, cerr.msg);
    /* ca_key_read reads the file with read(2) (no stdio buffer) and cleanses
     * every buffer the key passes through. */
    ENSURE(ca_key_read(key_file, NULL, 0, &key, &cerr) == CA_OK, API_ERR_BAD_REQUEST,
           "cannot read --key %s: %s", key_file, cerr.msg);
    OSSL(X509_check_private_key(sk_X509_value(certs, 0), key), API_ERR_BAD_REQUEST,
         "--key %s does not match --cert %s", key_file, cert_file);
    TRY(hold_identity(c, certs, key, err));
    certs = NULL;
    key = NULL;
out:
    EVP_PKEY_free(key);
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct recv_buf *b = userdata;
    size_t n = size * nmemb; /* curl guarantees size == 1 */

    if (n > API_CLIENT_MAX_RESPONSE - b->len) {
        b->too_large = 1;
        return 0;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap == 0 ? 4096 : b->cap;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        char *d = realloc(b->data, cap);
        if (d == NULL) {
            return 0;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

static int on_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)clientp;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return api_client_stop_pending(); /* non-zero aborts the transfer */
}

/* one_line copies |s| into |out| with control characters replaced. */
static void one_line(char *out, size_t out_len, const char *s, size_t len)
{
    size_t n = len < out_len - 1 ? len : out_len - 1;

    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    out[n] = '\0';
}

void api_reply_parse_error(struct api_reply *r)
{
    json_t *doc = NULL;
    json_error_t jerr;

    r->error[0] = '\0';
    r->message[0] = '\0';
    if (r->body == NULL || r->body_len == 0 || r->body_len > API_CLIENT_MAX_RESPONSE) {
        return;
    }
    doc = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *code = json_object_get(doc, "error");
    json_t *msg = json_object_get(doc, "message");
    if (json_is_string(code)) {
        one_line(r->error, sizeof(r->error), json_string_value(code), json_string_length(code));
    }
    if (json_is_string(msg)) {
        one_line(r->message, sizeof(r->message), json_string_value(msg), json_string_length(msg));
    }
    json_decref(doc);
}

/* refusal maps an answer's wire code (or else its status) to our code. */
static enum api_err refusal(const struct api_reply *r)
{
    static const enum api_err codes[] = {
#define API_ERR_LIST(c, wire, status) c,
        API_ERRORS(API_ERR_LIST)
#undef API_ERR_LIST
    };
    for (size_t i = 1; i < sizeof(codes) / sizeof(codes[0]); i++) {
        if (r->error[0] != '\0' && strcmp(r->error, api_err_wire(codes[i])) == 0) {
            return codes[i];
        }
    }
    for (size_t i = 1; i < sizeof(codes) / sizeof(codes[0]); i++) {
        if ((long)api_err_status(codes[i]) == r->status) {
            return codes[i];
        }
    }
    return r->status >= 500 ? API_ERR_INTERNAL : API_ERR_BAD_REQUEST;
}

static enum api_err transport_failure(struct api_client *c, CURLcode cc, const struct recv_buf *b,
                                      const char *errbuf, struct api_reply *out,
                                      struct api_error *err)
{
    const char *why = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc);

    switch (cc) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
            out->fail = API_CLIENT_FAIL_CONNECT;
            return api_fail(err, API_ERR_UNAVAILABLE, "cannot connect to %s (%s)", c->server, why);
        case CURLE_PEER_FAILED_VERIFICATION:
            out->fail = API_CLIENT_FAIL_UNTRUSTED;
            if (strstr(why, "name") != NULL) {
                return api_fail(err, API_ERR_UNAVAILABLE,
                                "server certificate does not name the host of %s", c->server);
            }
            return api_fail(err, API_ERR_UNAVAILABLE, "server certificate not trusted by --ca %s",
                            c->ca_file);
        case CURLE_SSL_CACERT_BADFILE:
            out->fail = API_CLIENT_FAIL_LOCAL;
            return api_fail(err, API_ERR_BAD_REQUEST, "cannot use --ca %s", c->ca_file);
        case CURLE_SSL_CERTPROBLEM:
            out->fail = API_CLIENT_FAIL_TLS;
            return api_fail(err, API_ERR_BAD_REQUEST, "the client certificate cannot be used (%s)",
                            why);
        case CURLE_ABORTED_BY_CALLBACK:
            out->fail = API_CLIENT_FAIL_STOPPED;
            return api_fail(err, API_ERR_UNAVAILABLE, "stopped by a signal");
        case CURLE_WRITE_ERROR:
        case CURLE_FILESIZE_EXCEEDED:
            if (b->too_large || cc == CURLE_FILESIZE_EXCEEDED) {
                out->fail = API_CLIENT_FAIL_TOO_LARGE;
                return api_fail(err, API_ERR_UNAVAILABLE, "answer from %s larger than %d bytes",
                                c->server, API_CLIENT_MAX_RESPONSE);
            }
            out->fail = API_CLIENT_FAIL_LOCAL;
            return api_fail(err, API_ERR_INTERNAL, "out of memory");
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_OUT_OF_MEMORY:
            out->fail = API_CLIENT_FAIL_LOCAL;
            return api_fail(err, API_ERR_BAD_REQUEST, "cannot request %s (%s)", c->server, why);
        default:
            break;
    }
    out->fail = API_CLIENT_FAIL_TLS; /* CURLE_SSL_CONNECT_ERROR and the other TLS codes */
    return api_fail(err, API_ERR_UNAVAILABLE, "TLS with %s failed (%s)", c->server, why);
}

/* cleanse_slist wipes the headers (one holds the bearer token) and frees them. */
static void cleanse_slist(struct curl_slist *list)
{
    for (struct curl_slist *p = list; p != NULL; p = p->next) {
        OPENSSL_cleanse(p->data, strlen(p->data));
    }
    curl_slist_free_all(list);
}

/* on_ssl_ctx gives each new TLS context (one per request: connections are
 * never reused) the client's certificate, chain and key. SSL_CTX_use_* take
 * references, so the key is neither copied nor encoded. */
static CURLcode on_ssl_ctx(CURL *curl, void *ssl_ctx, void *clientp)
{
    struct api_client *c = clientp;
    SSL_CTX *ctx = ssl_ctx;
    int ok = SSL_CTX_use_certificate(ctx, c->cert) == 1 && SSL_CTX_use_PrivateKey(ctx, c->key) == 1;

    (void)curl;
    for (int i = 0; ok && i < sk_X509_num(c->chain); i++) {
        ok = SSL_CTX_add1_chain_cert(ctx, sk_X509_value(c->chain, i)) == 1;
    }
    ERR_clear_error();
    return ok ? CURLE_OK : CURLE_SSL_CERTPROBLEM;
}

static int setopts(struct api_client *c, const char *method, const char *url, const char *body,
                   size_t body_len, struct curl_slist *headers, struct recv_buf *b, char *errbuf)
{
    CURL *h = c->curl;
    int ok = 1;

    curl_easy_reset(h);
    ok &= curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https") == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_CAPATH, NULL) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) == CURLE_OK;
    /* One connection per request and no TLS session reuse: a resumed session,
     * or a pooled connection (which libcurl reuses without calling
     * on_ssl_ctx again), would present the identity of an older client
     * certificate. */
    ok &= curl_easy_setopt(h, CURLOPT_SSL_SESSIONID_CACHE, 0L) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)API_CLIENT_MAX_RESPONSE) ==
          CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_WRITEDATA, b) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_USERAGENT, "signet/" SIGNET_VERSION) == CURLE_OK;
    if (body != NULL) {
        ok &= curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) == CURLE_OK;
        ok &= curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len) == CURLE_OK;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0) {
        ok &= curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK;
    }
    if (c->key != NULL) {
        ok &= curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx) == CURLE_OK;
        ok &= curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, c) == CURLE_OK;
    }
    return ok;
}

static struct curl_slist *add_header(struct curl_slist *list, const char *h, int *ok)
{
    struct curl_slist *n = curl_slist_append(list, h);

    if (n == NULL) {
        *ok = 0;
        return list;
    }
    return n;
}

enum api_err api_client_call(struct api_client *c, const char *method, const char *path,
                             const char *token, const char *body, size_t body_len,
                             struct api_reply *out, struct api_error *err)
{
    enum api_err rc = API_OK;
    struct curl_slist *headers = NULL;
    struct recv_buf b = {0};
    char url[MAX_URL_LEN + 512];
    char errbuf[CURL_ERROR_SIZE];
    char *auth = NULL;
    size_t auth_len = 0;
    int ok = 1;

    memset(out, 0, sizeof(*out));
    errbuf[0] = '\0';
    int n = snprintf(url, sizeof(url), "%s%s", c->server, path);
    ENSURE(n > 0 && (size_t)n < sizeof(url) && path[0] == '/', API_ERR_BAD_REQUEST,
           "request path too long");
    if (token != NULL) {
        size_t tlen = strlen(token);
        ENSURE(tlen > 0 && tlen <= API_MAX_TOKEN_LEN, API_ERR_BAD_REQUEST,
               "the token is empty or longer than %d bytes", API_MAX_TOKEN_LEN);
        auth_len = tlen + sizeof("Authorization: Bearer ");
        auth = malloc(auth_len);
        ENSURE(auth != NULL, API_ERR_INTERNAL, "out of memory");
        snprintf(auth, auth_len, "Authorization: Bearer %s", token);
        headers = add_header(headers, auth, &ok);
    }
    if (body != NULL) {
        headers = add_header(headers, "Content-Type: application/json", &ok);
    }
    headers = add_header(headers, "Expect:", &ok); /* no 100-continue round trip */
    ENSURE(ok, API_ERR_INTERNAL, "out of memory");
    ENSURE(setopts(c, method, url, body, body_len, headers, &b, errbuf), API_ERR_INTERNAL,
           "libcurl lacks a needed option (version %s)", curl_version());

    CURLcode cc = curl_easy_perform(c->curl);
    if (cc != CURLE_OK) {
        rc = transport_failure(c, cc, &b, errbuf, out, err);
        goto out;
    }
    curl_off_t retry = 0;
    ENSURE(curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &out->status) == CURLE_OK,
           API_ERR_INTERNAL, "no status from libcurl");
    if (curl_easy_getinfo(c->curl, CURLINFO_RETRY_AFTER, &retry) == CURLE_OK && retry > 0) {
        out->retry_after_s = retry > 86400 ? 86400 : (int64_t)retry;
    }
    if (b.data == NULL) {
        b.data = calloc(1, 1);
        ENSURE(b.data != NULL, API_ERR_INTERNAL, "out of memory");
    }
    out->body = b.data;
    out->body_len = b.len;
    b.data = NULL;
    if (out->status >= 200 && out->status < 300) {
        goto out;
    }
    api_reply_parse_error(out);
    rc = api_fail(err, refusal(out), "server refused (%ld %s): %s", out->status,
                  out->error[0] != '\0' ? out->error : "no error code",
                  out->message[0] != '\0' ? out->message : "no message");
out:
    /* Drop the pointers to the headers and the body before they can dangle. */
    curl_easy_reset(c->curl);
    if (auth != NULL) {
        OPENSSL_cleanse(auth, auth_len);
    }
    free(auth);
    cleanse_slist(headers);
    if (b.data != NULL) {
        OPENSSL_cleanse(b.data, b.len);
    }
    free(b.data);
    return rc;
}

/* ---- Answers ---- */

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

int api_time_parse_rfc3339(const char *s, size_t len, int64_t *out)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, sec;

    if (s == NULL || len != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[19] != 'Z') {
        return 0;
    }
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec)) {
        return 0;
    }
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) {
        return 0;
    }
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_mday != d) { /* timegm normalises 31 Feb to 3 Mar */
        return 0;
    }
    *out = (int64_t)t;
    return 1;
}

enum api_err api_serial_normalize(const char *serial, char out[API_CLIENT_SERIAL_MAX],
                                  struct api_error *err)
{
    enum api_err rc = API_OK;
    char hex[2 * CA_MAX_SERIAL_LEN + 1];
    size_t n = 0;
    unsigned char bytes[CA_MAX_SERIAL_LEN];
    size_t num_bytes = 0;
    struct ca_error cerr = {0};

    ENSURE(serial != NULL && serial[0] != '\0', API_ERR_BAD_REQUEST, "the serial is empty");
    for (const char *p = serial; *p != '\0'; p++) {
        if (*p == ':' && p != serial && p[1] != '\0' && p[1] != ':') {
            continue;
        }
        ENSURE(n < sizeof(hex) - 1, API_ERR_BAD_REQUEST, "the serial is longer than %d bytes",
               CA_MAX_SERIAL_LEN);
        hex[n++] = *p;
    }
    hex[n] = '\0';
    ENSURE(ca_serial_from_hex(hex, n, bytes, &num_bytes, &cerr) == CA_OK, API_ERR_BAD_REQUEST,
           "the serial must be 1..40 hex digits, not zero");
    static const char xd[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < num_bytes; i++) {
        if (o > 0 || (bytes[i] >> 4) != 0) {
            out[o++] = xd[bytes[i] >> 4];
        }
        out[o++] = xd[bytes[i] & 15];
    }
    out[o] = '\0';
out:
    return rc;
}

void api_svid_cleanup(struct api_svid *s)
{
    if (s == NULL) {
        return;
    }
    X509_free(s->leaf);
    free(s->cert_pem);
    free(s->bundle_pem);
    memset(s, 0, sizeof(*s));
}

static int64_t asn1_time(const ASN1_TIME *t)
{
    struct tm tm;

    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
        return 0;
    }
    return (int64_t)timegm(&tm);
}

/* pem_certs reads every certificate of a PEM text (at least one, nothing else). */
static STACK_OF(X509) *pem_certs(const char *pem, size_t len)
{
    STACK_OF(X509) *certs = sk_X509_new_null();
    BIO *bio = BIO_new_mem_buf(pem, (int)len); /* len <= MAX_PEM_FIELD */
    X509 *x = NULL;

    while (certs != NULL && bio != NULL && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (!sk_X509_push(certs, x)) {
            X509_free(x);
            break;
        }
    }
    unsigned long e = ERR_peek_last_error();
    int clean_end = ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
    ERR_clear_error();
    BIO_free(bio);
    if (certs == NULL || sk_X509_num(certs) == 0 || (e != 0 && !clean_end)) {
        sk_X509_pop_free(certs, X509_free);
        return NULL;
    }
    return certs;
}

/* leaf_has_uri says whether |leaf| carries exactly one URI SAN, equal to |id|. */
static int leaf_has_uri(X509 *leaf, const char *id)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    int uris = 0, match = 0;

    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        if (g->type != GEN_URI) {
            continue;
        }
        uris++;
        const ASN1_IA5STRING *u = g->d.uniformResourceIdentifier;
        match = (size_t)u->length == strlen(id) && memcmp(u->data, id, (size_t)u->length) == 0;
    }
    GENERAL_NAMES_free(names);
    return uris == 1 && match;
}

/* verify_leaf checks |leaf| against |roots| (named |what| in the message)
 * with |chain| as untrusted intermediates. */
static enum api_err verify_leaf(X509 *leaf, STACK_OF(X509) *chain, STACK_OF(X509) *roots,
                                const char *what, struct api_error *err)
{
    enum api_err rc = API_OK;
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();

    ENSURE(store != NULL && ctx != NULL, API_ERR_INTERNAL, "out of memory");
    for (int i = 0; i < sk_X509_num(roots); i++) {
        OSSL(X509_STORE_add_cert(store, sk_X509_value(roots, i)), API_ERR_INTERNAL,
             "out of memory");
    }
    OSSL(X509_STORE_CTX_init(ctx, store, leaf, chain), API_ERR_INTERNAL, "out of memory");
    OSSL(X509_verify_cert(ctx), API_ERR_BAD_REQUEST,
         "the certificate does not verify against %s: %s", what,
         X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
out:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return rc;
}

/* certs_pem writes |first| (when non-NULL) and then |rest| as PEM, freshly
 * encoded: nothing of the server's text but the certificates themselves
 * reaches the files the agent writes. NULL when out of memory. */
static char *certs_pem(X509 *first, STACK_OF(X509) *rest, size_t *out_len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *s = NULL;
    int ok = bio != NULL && (first == NULL || PEM_write_bio_X509(bio, first) == 1);

    for (int i = 0; ok && i < sk_X509_num(rest); i++) {
        ok = PEM_write_bio_X509(bio, sk_X509_value(rest, i)) == 1;
    }
    char *data = NULL;
    long len = ok ? BIO_get_mem_data(bio, &data) : 0;
    if (ok && len > 0) {
        s = dup_bytes(data, (size_t)len);
        *out_len = (size_t)len;
    }
    BIO_free(bio);
    return s;
}

enum api_err api_svid_parse(const char *body, size_t len, struct api_svid *out,
                            struct api_error *err)
{
    enum api_err rc = API_OK;
    json_t *doc = NULL;
    json_error_t jerr;
    STACK_OF(X509) *leaf = NULL;
    STACK_OF(X509) *chain = NULL;
    STACK_OF(X509) *roots = NULL;
    const char *serial = NULL, *id = NULL, *na = NULL, *ra = NULL;
    const char *cert = NULL, *chain_pem = NULL, *bundle = NULL;
    size_t serial_len = 0, id_len = 0, na_len = 0, ra_len = 0;
    size_t cert_len = 0, chain_len = 0, bundle_len = 0;
    int64_t not_after = 0;
    char norm[API_CLIENT_SERIAL_MAX];

    memset(out, 0, sizeof(*out));
    ENSURE(body != NULL && len > 0 && len <= API_CLIENT_MAX_RESPONSE, API_ERR_BAD_REQUEST,
           "the answer is empty or too large");
    doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    ENSURE(json_is_object(doc), API_ERR_BAD_REQUEST, "the answer is not a JSON object");
    ENSURE(json_unpack_ex(doc, &jerr, 0, "{s:s%, s:s%, s:s%, s:s%, s:s%, s:s%, s:s%}", "serial",
                          &serial, &serial_len, "spiffe_id", &id, &id_len, "not_after", &na,
                          &na_len, "renew_after", &ra, &ra_len, "certificate", &cert, &cert_len,
                          "chain", &chain_pem, &chain_len, "bundle", &bundle, &bundle_len) == 0,
           API_ERR_BAD_REQUEST, "the answer lacks a field or has one of the wrong type: %s",
           jerr.text);
    ENSURE(serial_len == strlen(serial) && serial_len < API_CLIENT_SERIAL_MAX &&
               api_serial_normalize(serial, norm, NULL) == API_OK && strcmp(norm, serial) == 0,
           API_ERR_BAD_REQUEST, "serial: not a lower-case hex serial");
    ENSURE(id_len == strlen(id) && id_len <= CA_MAX_SPIFFE_ID_LEN &&
               strncmp(id, "spiffe://", 9) == 0,
           API_ERR_BAD_REQUEST, "spiffe_id: not a SPIFFE ID");
    ENSURE(api_time_parse_rfc3339(na, na_len, &not_after), API_ERR_BAD_REQUEST,
           "not_after: not an RFC 3339 UTC time");
    ENSURE(api_time_parse_rfc3339(ra, ra_len, &out->renew_after), API_ERR_BAD_REQUEST,
           "renew_after: not an RFC 3339 UTC time");
    ENSURE(cert_len == strlen(cert) && cert_len <= MAX_PEM_FIELD, API_ERR_BAD_REQUEST,
           "certificate: not a PEM text");
    ENSURE(chain_len == strlen(chain_pem) && chain_len <= MAX_PEM_FIELD, API_ERR_BAD_REQUEST,
           "chain: not a PEM text");
    ENSURE(bundle_len == strlen(bundle) && bundle_len <= MAX_PEM_FIELD, API_ERR_BAD_REQUEST,
           "bundle: not a PEM text");
    leaf = pem_certs(cert, cert_len);
    ENSURE(leaf != NULL && sk_X509_num(leaf) == 1, API_ERR_BAD_REQUEST,
           "certificate: not exactly one PEM certificate");
    chain = chain_len > 0 ? pem_certs(chain_pem, chain_len) : sk_X509_new_null();
    ENSURE(chain != NULL, API_ERR_BAD_REQUEST, "chain: not PEM certificates");
    roots = pem_certs(bundle, bundle_len);
    ENSURE(roots != NULL, API_ERR_BAD_REQUEST, "bundle: not PEM certificates");
    out->leaf = sk_X509_shift(leaf);
    ENSURE(leaf_has_uri(out->leaf, id), API_ERR_BAD_REQUEST,
           "certificate: its URI SAN is not the spiffe_id");
    TRY(verify_leaf(out->leaf, chain, roots, "the bundle", err));
    out->not_before = asn1_time(X509_get0_notBefore(out->leaf));
    out->not_after = asn1_time(X509_get0_notAfter(out->leaf));
    ENSURE(out->not_after == not_after, API_ERR_BAD_REQUEST,
           "not_after: differs from the certificate's");
    memcpy(out->serial, serial, serial_len + 1);
    memcpy(out->spiffe_id, id, id_len + 1);
    out->cert_pem = certs_pem(out->leaf, chain, &out->cert_pem_len);
    out->bundle_pem = certs_pem(NULL, roots, &out->bundle_pem_len);
    ENSURE(out->cert_pem != NULL && out->bundle_pem != NULL, API_ERR_INTERNAL, "out of memory");
out:
    sk_X509_pop_free(leaf, X509_free);
    sk_X509_pop_free(chain, X509_free);
    sk_X509_pop_free(roots, X509_free);
    json_decref(doc);
    return rc;
}

enum api_err api_client_chain_trusted(const struct api_client *c, const char *pem, size_t len,
                                      struct api_error *err)
{
    enum api_err rc = API_OK;
    STACK_OF(X509) *certs = pem_certs(pem, len);
    X509 *leaf = NULL;

    ENSURE(certs != NULL, API_ERR_BAD_REQUEST, "not PEM certificates");
    leaf = sk_X509_shift(certs);
    TRY(verify_leaf(leaf, certs, c->roots, "--ca", err));
out:
    X509_free(leaf);
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

/* ---- Admin calls ---- */

static void copy_field(json_t *obj, const char *key, char *out, size_t out_len)
{
    json_t *v = json_object_get(obj, key);

    out[0] = '\0';
    if (json_is_string(v)) {
        one_line(out, out_len, json_string_value(v), json_string_length(v));
    } else if (json_is_integer(v)) {
        snprintf(out, out_len, "%lld", (long long)json_integer_value(v));
    }
}

/* json_text dumps |v| for --json output; NULL when out of memory. */
static char *json_text(json_t *v)
{
    return json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
}

static enum api_err cert_info(json_t *rec, struct api_cert_info *out, struct api_error *err)
{
    enum api_err rc = API_OK;

    memset(out, 0, sizeof(*out));
    ENSURE(json_is_object(rec) && json_is_string(json_object_get(rec, "serial")), API_ERR_INTERNAL,
           "the server's answer has a record without a serial");
    copy_field(rec, "serial", out->serial, sizeof(out->serial));
    copy_field(rec, "spiffe_id", out->spiffe_id, sizeof(out->spiffe_id));
    copy_field(rec, "status", out->status, sizeof(out->status));
    copy_field(rec, "not_before", out->not_before, sizeof(out->not_before));
    copy_field(rec, "not_after", out->not_after, sizeof(out->not_after));
    copy_field(rec, "revoked_at", out->revoked_at, sizeof(out->revoked_at));
    copy_field(rec, "reason", out->reason, sizeof(out->reason));
out:
    return rc;
}

static enum api_err load_answer(const struct api_reply *r, json_t **out, struct api_error *err)
{
    enum api_err rc = API_OK;
    json_error_t jerr;

    *out = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
    ENSURE(json_is_object(*out), API_ERR_INTERNAL, "the server's answer is not a JSON object");
out:
    return rc;
}

enum api_err api_client_revoke(struct api_client *c, const char *serial, const char *reason,
                               struct api_revocation *out, char **out_json, struct api_error *err)
{
    enum api_err rc = API_OK;
    struct api_reply r = {0};
    json_t *req = NULL;
    json_t *doc = NULL;
    char *body = NULL;
    char norm[API_CLIENT_SERIAL_MAX];
    enum ca_crl_reason code;
    struct ca_error cerr = {0};

    memset(out, 0, sizeof(*out));
    TRY(api_serial_normalize(serial, norm, err));
    ENSURE(reason == NULL || ca_crl_reason_parse(reason, &code, &cerr) == CA_OK,
           API_ERR_BAD_REQUEST, "unknown reason '%s' (RFC 5280 names, e.g. keyCompromise)", reason);
    req = reason != NULL ? json_pack("{s:s, s:s}", "serial", norm, "reason", reason)
                         : json_pack("{s:s}", "serial", norm);
    ENSURE(req != NULL, API_ERR_INTERNAL, "out of memory");
    body = json_dumps(req, JSON_COMPACT);
    ENSURE(body != NULL, API_ERR_INTERNAL, "out of memory");
    TRY(api_client_call(c, "POST", "/v1/revoke", NULL, body, strlen(body), &r, err));
    TRY(load_answer(&r, &doc, err));
    copy_field(doc, "serial", out->serial, sizeof(out->serial));
    copy_field(doc, "revoked_at", out->revoked_at, sizeof(out->revoked_at));
    copy_field(doc, "reason", out->reason, sizeof(out->reason));
    ENSURE(out->serial[0] != '\0' && out->revoked_at[0] != '\0', API_ERR_INTERNAL,
           "the server's answer lacks serial or revoked_at");
    if (out_json != NULL) {
        *out_json = json_text(doc);
        ENSURE(*out_json != NULL, API_ERR_INTERNAL, "out of memory");
    }
out:
    free(body);
    json_decref(req);
    json_decref(doc);
    api_reply_cleanup(&r);
    return rc;
}

enum api_err api_client_cert_show(struct api_client *c, const char *serial,
                                  struct api_cert_info *out, char **out_json, struct api_error *err)
{
    enum api_err rc = API_OK;
    struct api_reply r = {0};
    json_t *doc = NULL;
    char norm[API_CLIENT_SERIAL_MAX];
    char path[64 + API_CLIENT_SERIAL_MAX];

    memset(out, 0, sizeof(*out));
    TRY(api_serial_normalize(serial, norm, err));
    snprintf(path, sizeof(path), "/v1/certs/%s", norm);
    TRY(api_client_call(c, "GET", path, NULL, NULL, 0, &r, err));
    TRY(load_answer(&r, &doc, err));
    TRY(cert_info(doc, out, err));
    if (out_json != NULL) {
        *out_json = json_text(doc);
        ENSURE(*out_json != NULL, API_ERR_INTERNAL, "out of memory");
    }
out:
    json_decref(doc);
    api_reply_cleanup(&r);
    return rc;
}

/* append_param adds "&key=<escaped value>" (or "?" first) to |path|. */
static int append_param(CURL *h, char *path, size_t path_len, const char *key, const char *value)
{
    char *esc = curl_easy_escape(h, value, 0);
    size_t used = strlen(path);

    if (esc == NULL) {
        return 0;
    }
    int n =
        snprintf(path + used, path_len - used, "%s%s=%s", strchr(path, '?') ? "&" : "?", key, esc);
    curl_free(esc);
    return n > 0 && (size_t)n < path_len - used;
}

/* next_cursor finds where the next page starts: "next" (or "next_after"),
 * else the last serial when "more" (or "has_more") is true; "" at the end. */
static void next_cursor(json_t *doc, json_t *list, char *out, size_t out_len)
{
    static const char *const cursors[] = {"next", "next_after"};
    static const char *const mores[] = {"more", "has_more"};

    out[0] = '\0';
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(doc, cursors[i]);
        if (json_is_string(v)) {
            one_line(out, out_len, json_string_value(v), json_string_length(v));
            return;
        }
    }
    for (size_t i = 0; i < 2; i++) {
        if (json_is_true(json_object_get(doc, mores[i])) && json_array_size(list) > 0) {
            json_t *last = json_array_get(list, json_array_size(list) - 1);
            copy_field(last, "serial", out, out_len);
            return;
        }
    }
}

/* serial_after says whether the serial |next| comes after |after| ("" for
 * the start) in the server's order, the numeric one. */
static int serial_after(const char *next, const char *after)
{
    char a[API_CLIENT_SERIAL_MAX];
    char b[API_CLIENT_SERIAL_MAX];

    if (api_serial_normalize(next, b, NULL) != API_OK) {
        return 0;
    }
    if (after[0] == '\0') {
        return 1;
    }
    if (api_serial_normalize(after, a, NULL) != API_OK) {
        return 0;
    }
    size_t la = strlen(a);
    size_t lb = strlen(b);
    return lb > la || (lb == la && strcmp(b, a) > 0);
}

enum api_err api_client_certs_list(struct api_client *c, const struct api_certs_query *q,
                                   int (*each)(const struct api_cert_info *info, const char *json,
                                               void *ctx),
                                   void *ctx, struct api_error *err)
{
    enum api_err rc = API_OK;
    struct api_reply r = {0};
    json_t *doc = NULL;
    char *text = NULL;
    struct api_cert_info *info = NULL;
    char after[API_CLIENT_SERIAL_MAX] = "";
    char path[8192];
    size_t seen = 0;

    info = malloc(sizeof(*info));
    ENSURE(info != NULL, API_ERR_INTERNAL, "out of memory");
    for (size_t page = 0; page < MAX_PAGES; page++) {
        size_t want = CERTS_PAGE;
        if (q->limit > 0 && q->limit - seen < want) {
            want = q->limit - seen;
        }
        char num[24];
        snprintf(num, sizeof(num), "%zu", want);
        snprintf(path, sizeof(path), "/v1/certs");
        ENSURE((q->spiffe_id == NULL ||
                append_param(c->curl, path, sizeof(path), "spiffe_id", q->spiffe_id)) &&
                   (q->status == NULL ||
                    append_param(c->curl, path, sizeof(path), "status", q->status)) &&
                   (q->renewed_from == NULL ||
                    append_param(c->curl, path, sizeof(path), "renewed_from", q->renewed_from)) &&
                   append_param(c->curl, path, sizeof(path), "limit", num) &&
                   (after[0] == '\0' || append_param(c->curl, path, sizeof(path), "after", after)),
               API_ERR_BAD_REQUEST, "the query is too long");
        TRY(api_client_call(c, "GET", path, NULL, NULL, 0, &r, err));
        TRY(load_answer(&r, &doc, err));
        json_t *list = json_object_get(doc, "certs");
        ENSURE(json_is_array(list), API_ERR_INTERNAL, "the server's answer has no \"certs\" list");
        size_t i;
        json_t *rec;
        json_array_foreach(list, i, rec)
        {
            TRY(cert_info(rec, info, err));
            text = json_text(rec);
            ENSURE(text != NULL, API_ERR_INTERNAL, "out of memory");
            int stop = each(info, text, ctx);
            free(text);
            text = NULL;
            seen++;
            if (stop || (q->limit > 0 && seen >= q->limit)) {
                goto out;
            }
        }
        char next[API_CLIENT_SERIAL_MAX];
        next_cursor(doc, list, next, sizeof(next));
        /* Stop at the end, and on a cursor that does not move forward (a
         * server bug; one going back and forth would loop). A page may be
         * empty and still go on: the server examines a bounded number of
         * records per request, and a filter may match none of them. */
        if (next[0] == '\0' || !serial_after(next, after)) {
            goto out;
        }
        memcpy(after, next, sizeof(after));
        json_decref(doc);
        doc = NULL;
        api_reply_cleanup(&r);
    }
out:
    free(text);
    free(info);
    json_decref(doc);
    api_reply_cleanup(&r);
    return rc;
}
