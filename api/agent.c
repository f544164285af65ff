/* agent.c: `signet agent`, the sidecar. It keeps an X.509-SVID in a folder for
 * a proxy to read: a fresh key per certificate (never leaving memory but for
 * svid.key), issued with the bearer token the first time and renewed over mTLS
 * afterwards, published so that the key and certificate always change
 * together (api/README.md, "The agent's files"), renewed at the server's
 * renew_after, with backoff and full jitter on failures. One thread; it sleeps
 * in sigtimedwait so that SIGTERM and SIGINT end it at once. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "internal.h"

#define BACKOFF_BASE_MS   1000
#define BACKOFF_CAP_MS    60000
#define MIN_DELAY_MS      100
#define MAX_RETRY_AFTER_S 3600
#define CRL_RETRY_MS      30000
#define RENEW_MIN_MS      5000 /* between renewals, whatever renew_after says */
#define GEN_PREFIX        ".svid."
#define CURRENT           "current"

static const char *const published[] = {"svid.pem", "svid.key", "bundle.pem"};

/* ---- Small pure helpers ---- */

int64_t api_agent_backoff_ms(unsigned attempt, int64_t base_ms, int64_t cap_ms, uint64_t rnd)
{
    int64_t ceiling = base_ms;

    for (unsigned i = 0; i < attempt && ceiling < cap_ms; i++) {
        ceiling *= 2;
    }
    if (ceiling > cap_ms) {
        ceiling = cap_ms;
    }
    int64_t floor = base_ms < MIN_DELAY_MS ? base_ms : MIN_DELAY_MS;
    if (ceiling <= floor) {
        return floor;
    }
    /* Full jitter (uniform in [floor, ceiling]); the modulo bias is below 2^-40. */
    return floor + (int64_t)(rnd % (uint64_t)(ceiling - floor + 1));
}

static uint64_t random_u64(void)
{
    uint64_t r = 0;

    if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1) {
        r = (uint64_t)time(NULL) * 2654435761u; /* never fails in practice; still some spread */
    }
    return r;
}

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* now_ms is the wall clock, for certificate times and logs; mono_ms is what
 * the agent schedules by, so that a step of the wall clock neither delays a
 * renewal (a step back once made it sleep past the SVID's expiry) nor
 * hurries one. */
static int64_t now_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

static int64_t mono_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

/* ---- Logging: JSON lines on stderr, typed fields only (no token, no key) ---- */

static void agent_log(const char *level, const char *msg, const struct api_agent_svid *s,
                      int64_t next_ms, const char *error)
{
    char ts[40], day[24], t[32];
    struct timespec now;
    struct tm tm;
    json_t *doc = json_object();

    if (doc == NULL) {
        return;
    }
    clock_gettime(CLOCK_REALTIME, &now);
    if (gmtime_r(&now.tv_sec, &tm) == NULL ||
        strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        day[0] = '\0';
    }
    snprintf(ts, sizeof(ts), "%.20s.%03dZ", day, (int)(now.tv_nsec / 1000000L) % 1000);
    json_object_set_new(doc, "ts", json_string(ts));
    json_object_set_new(doc, "level", json_string(level));
    json_object_set_new(doc, "msg", json_string(msg));
    if (s != NULL && s->serial[0] != '\0') {
        json_object_set_new(doc, "spiffe_id", json_string(s->spiffe_id));
        json_object_set_new(doc, "serial", json_string(s->serial));
        if (api_time_rfc3339(s->not_after, t, sizeof(t))) {
            json_object_set_new(doc, "not_after", json_string(t));
        }
    }
    if (next_ms > 0 && api_time_rfc3339(next_ms / 1000, t, sizeof(t))) {
        json_object_set_new(doc, "next_renewal", json_string(t));
    }
    if (error != NULL && error[0] != '\0') {
        json_object_set_new(doc, "error", json_string(error)); /* NULL for bad UTF-8: left out */
    }
    char *line = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (line != NULL) {
        fprintf(stderr, "%s\n", line);
        fflush(stderr);
        free(line);
    }
    json_decref(doc);
}

/* ---- Files ---- */

static int write_all(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return 0;
        }
        p += n;
        len -= (size_t)n;
    }
    return 1;
}

/* write_new creates |name| in the folder |dfd| and writes, fsyncs and closes it. */
static enum api_err write_new(int dfd, const char *name, const void *data, size_t len,
                              unsigned mode, struct api_error *err)
{
    enum api_err rc = API_OK;
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);

    ENSURE(fd >= 0, API_ERR_UNAVAILABLE, "cannot create %s: %s", name, strerror(errno));
    ENSURE(write_all(fd, data, len), API_ERR_UNAVAILABLE, "cannot write %s: %s", name,
           strerror(errno));
    ENSURE(fsync(fd) == 0, API_ERR_UNAVAILABLE, "cannot sync %s: %s", name, strerror(errno));
out:
    if (fd >= 0 && close(fd) != 0 && rc == API_OK) {
        rc = api_fail(err, API_ERR_UNAVAILABLE, "cannot close %s: %s", name, strerror(errno));
    }
    if (rc != API_OK && fd >= 0) {
        unlinkat(dfd, name, 0);
    }
    return rc;
}

static int open_dir(const char *dir)
{
    return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

enum api_err api_agent_file_replace(const char *dir, const char *name, const void *data, size_t len,
                                    unsigned mode, struct api_error *err)
{
    enum api_err rc = API_OK;
    int dfd = open_dir(dir);
    int fd = -1;
    char tmp[NAME_MAX + 1];

    ENSURE(dfd >= 0, API_ERR_UNAVAILABLE, "cannot open %s: %s", dir, strerror(errno));
    ENSURE(strlen(name) < 200 && strchr(name, '/') == NULL, API_ERR_BAD_REQUEST, "bad file name");
    for (int tries = 0; tries < 8 && fd < 0; tries++) {
        snprintf(tmp, sizeof(tmp), ".%s.tmp.%016llx", name, (unsigned long long)random_u64());
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
        ENSURE(fd >= 0 || errno == EEXIST, API_ERR_UNAVAILABLE, "cannot create a file in %s: %s",
               dir, strerror(errno));
    }
    ENSURE(fd >= 0, API_ERR_UNAVAILABLE, "cannot create a temporary file in %s", dir);
    int ok = write_all(fd, data, len) && fsync(fd) == 0;
    int e = errno;
    ok = close(fd) == 0 && ok;
    fd = -1;
    if (!ok || renameat(dfd, tmp, dfd, name) != 0) {
        e = ok ? errno : e;
        unlinkat(dfd, tmp, 0);
        ENSURE(0, API_ERR_UNAVAILABLE, "cannot write %s/%s: %s", dir, name, strerror(e));
    }
    ENSURE(fsync(dfd) == 0, API_ERR_UNAVAILABLE, "cannot sync %s: %s", dir, strerror(errno));
out:
    if (dfd >= 0) {
        close(dfd);
    }
    return rc;
}

/* remove_gen removes the generation folder |name| in |dfd| and its files. */
static void remove_gen(int dfd, const char *name)
{
    int sfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = sfd >= 0 ? fdopendir(sfd) : NULL;
    struct dirent *e;

    if (d == NULL) {
        if (sfd >= 0) {
            close(sfd);
        }
        return;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            unlinkat(sfd, e->d_name, 0);
        }
    }
    closedir(d);
    unlinkat(dfd, name, AT_REMOVEDIR);
}

/* prune removes generation folders other than |gen| and |keep|. */
static void prune(int dfd, const char *gen, const char *keep)
{
    int fd = dup(dfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;
    char names[16][NAME_MAX + 1];
    size_t num = 0;

    if (d == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    while ((e = readdir(d)) != NULL && num < 16) {
        if (strncmp(e->d_name, GEN_PREFIX, strlen(GEN_PREFIX)) != 0 ||
            strcmp(e->d_name, gen) == 0 || (keep != NULL && strcmp(e->d_name, keep) == 0)) {
            continue;
        }
        snprintf(names[num++], sizeof(names[0]), "%s", e->d_name);
    }
    closedir(d);
    for (size_t i = 0; i < num; i++) {
        remove_gen(dfd, names[i]);
    }
}

/* link_swap points the symlink |name| in |dfd| at |target| with one rename. */
static enum api_err link_swap(int dfd, const char *name, const char *target, struct api_error *err)
{
    enum api_err rc = API_OK;
    char buf[PATH_MAX];
    char tmp[NAME_MAX + 1];

    ssize_t n = readlinkat(dfd, name, buf, sizeof(buf) - 1);
    if (n >= 0 && (size_t)n == strlen(target) && memcmp(buf, target, (size_t)n) == 0) {
        return API_OK;
    }
    snprintf(tmp, sizeof(tmp), ".%s.link.tmp", name);
    unlinkat(dfd, tmp, 0); /* a leftover of a crash */
    ENSURE(symlinkat(target, dfd, tmp) == 0, API_ERR_UNAVAILABLE, "cannot create a symlink: %s",
           strerror(errno));
    if (renameat(dfd, tmp, dfd, name) != 0) {
        int e = errno;
        unlinkat(dfd, tmp, 0);
        ENSURE(0, API_ERR_UNAVAILABLE, "cannot replace %s (%s)", name, strerror(e));
    }
out:
    return rc;
}

enum api_err api_agent_publish(const char *dir, const struct api_agent_svid *s, const char *keep,
                               char *out_gen, size_t out_gen_len, struct api_error *err)
{
    enum api_err rc = API_OK;
    int dfd = -1;
    int gfd = -1;
    char path[PATH_MAX];
    const char *gen = NULL;
    int swapped = 0;

    dfd = open_dir(dir);
    ENSURE(dfd >= 0, API_ERR_UNAVAILABLE, "cannot open %s: %s", dir, strerror(errno));
    int n = snprintf(path, sizeof(path), "%s/" GEN_PREFIX "XXXXXX", dir);
    ENSURE(n > 0 && (size_t)n < sizeof(path), API_ERR_BAD_REQUEST, "--out path too long");
    ENSURE(mkdtemp(path) != NULL, API_ERR_UNAVAILABLE, "cannot create a folder in %s: %s", dir,
           strerror(errno));
    gen = strrchr(path, '/') + 1;
    ENSURE(strlen(gen) < out_gen_len, API_ERR_INTERNAL, "generation name too long");
    gfd = openat(dfd, gen, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    ENSURE(gfd >= 0 && fchmod(gfd, 0755) == 0, API_ERR_UNAVAILABLE, "cannot open %s: %s", path,
           strerror(errno));
    /* Each file is complete and synced before any name points at it. */
    TRY(write_new(gfd, "svid.key", s->key_pem, s->key_pem_len, 0600, err));
    TRY(write_new(gfd, "svid.pem", s->cert_pem, s->cert_pem_len, 0644, err));
    TRY(write_new(gfd, "bundle.pem", s->bundle_pem, s->bundle_pem_len, 0644, err));
    ENSURE(fsync(gfd) == 0, API_ERR_UNAVAILABLE, "cannot sync %s: %s", path, strerror(errno));
    /* The one step that publishes key and certificate together. */
    TRY(link_swap(dfd, CURRENT, gen, err));
    swapped = 1;
    for (size_t i = 0; i < sizeof(published) / sizeof(published[0]); i++) {
        char target[64];
        snprintf(target, sizeof(target), CURRENT "/%s", published[i]);
        TRY(link_swap(dfd, published[i], target, err));
    }
    ENSURE(fsync(dfd) == 0, API_ERR_UNAVAILABLE, "cannot sync %s: %s", dir, strerror(errno));
    snprintf(out_gen, out_gen_len, "%s", gen);
    prune(dfd, gen, keep);
out:
    if (gfd >= 0) {
        close(gfd);
    }
    if (rc != API_OK && gen != NULL && !swapped && dfd >= 0) {
        remove_gen(dfd, gen);
    }
    if (dfd >= 0) {
        close(dfd);
    }
    return rc;
}

/* ---- Keys and certificates in memory ---- */

void api_agent_svid_cleanup(struct api_agent_svid *s)
{
    if (s == NULL) {
        return;
    }
    EVP_PKEY_free(s->key);
    if (s->key_pem != NULL) {
        OPENSSL_clear_free(s->key_pem, s->key_pem_len);
    }
    free(s->cert_pem);
    free(s->bundle_pem);
    memset(s, 0, sizeof(*s));
}

/* key_pem encodes |key| as unencrypted PKCS#8 PEM; OPENSSL_clear_free() it. */
static enum api_err key_pem(EVP_PKEY *key, char **out, size_t *out_len, struct api_error *err)
{
    enum api_err rc = API_OK;
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;

    ENSURE(bio != NULL, API_ERR_INTERNAL, "out of memory");
    OSSL(PEM_write_bio_PKCS8PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), API_ERR_INTERNAL,
         "cannot encode the key");
    long n = BIO_get_mem_data(bio, &data);
    ENSURE(n > 0, API_ERR_INTERNAL, "cannot encode the key");
    *out = OPENSSL_malloc((size_t)n + 1);
    if (*out != NULL) {
        memcpy(*out, data, (size_t)n);
        (*out)[n] = '\0';
        *out_len = (size_t)n;
    }
    OPENSSL_cleanse(data, (size_t)n);
    ENSURE(*out != NULL, API_ERR_INTERNAL, "out of memory");
out:
    BIO_free(bio);
    return rc;
}

/* issued_at is when the server signed: it backdates notBefore by 60 s. */
static int64_t issued_at(int64_t not_before, int64_t not_after)
{
    return not_before + 60 < not_after ? not_before + 60 : not_before;
}

static int64_t half_life(int64_t not_before, int64_t not_after)
{
    int64_t issued = issued_at(not_before, not_after);
    return issued + (not_after - issued) / 2;
}

static int64_t cert_time(const ASN1_TIME *t)
{
    struct tm tm;

    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
        return 0;
    }
    return (int64_t)timegm(&tm);
}

/* svid_identity fills |s|'s serial and SPIFFE ID from |leaf|. */
static enum api_err svid_identity(X509 *leaf, struct api_agent_svid *s, struct api_error *err)
{
    enum api_err rc = API_OK;
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL);
    char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
    GENERAL_NAMES *names = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    int uris = 0;

    ENSURE(hex != NULL, API_ERR_BAD_REQUEST, "unreadable serial");
    for (char *p = hex; *p != '\0'; p++) {
        *p = (*p >= 'A' && *p <= 'F') ? (char)(*p - 'A' + 'a') : *p;
    }
    TRY(api_serial_normalize(hex, s->serial, err));
    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        if (g->type != GEN_URI) {
            continue;
        }
        const ASN1_IA5STRING *u = g->d.uniformResourceIdentifier;
        uris++;
        ENSURE(u->length > 9 && u->length <= CA_MAX_SPIFFE_ID_LEN &&
                   memcmp(u->data, "spiffe://", 9) == 0 &&
                   memchr(u->data, 0, (size_t)u->length) == NULL,
               API_ERR_BAD_REQUEST, "the certificate's URI SAN is not a SPIFFE ID");
        memcpy(s->spiffe_id, u->data, (size_t)u->length);
        s->spiffe_id[u->length] = '\0';
    }
    ENSURE(uris == 1, API_ERR_BAD_REQUEST, "the certificate is not an X.509-SVID");
    s->not_before = cert_time(X509_get0_notBefore(leaf));
    s->not_after = cert_time(X509_get0_notAfter(leaf));
out:
    GENERAL_NAMES_free(names);
    OPENSSL_free(hex);
    BN_free(bn);
    return rc;
}

static enum api_err read_text(const char *dir, const char *name, const char *what, char **out,
                              size_t *out_len, struct api_error *err)
{
    enum api_err rc = API_OK;
    char path[PATH_MAX];
    char *buf = NULL;
    size_t len = 0;

    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    ENSURE(n > 0 && (size_t)n < sizeof(path), API_ERR_BAD_REQUEST, "--out path too long");
    TRY(api_file_read(path, what, API_AGENT_MAX_FILE, &buf, &len, err));
    *out = malloc(len + 1);
    ENSURE(*out != NULL, API_ERR_INTERNAL, "out of memory");
    memcpy(*out, buf, len + 1);
    *out_len = len;
out:
    if (buf != NULL) {
        OPENSSL_clear_free(buf, len + 1);
    }
    return rc;
}

enum api_err api_agent_load(const char *dir, int64_t now, struct api_agent_svid *out,
                            struct api_error *err)
{
    enum api_err rc = API_OK;
    char cert_path[PATH_MAX], key_path[PATH_MAX];
    STACK_OF(X509) *certs = NULL;
    struct ca_error cerr = {0};
    struct stat st;

    memset(out, 0, sizeof(*out));
    ENSURE(snprintf(cert_path, sizeof(cert_path), "%s/svid.pem", dir) < (int)sizeof(cert_path) &&
               snprintf(key_path, sizeof(key_path), "%s/svid.key", dir) < (int)sizeof(key_path),
           API_ERR_BAD_REQUEST, "--out path too long");
    ENSURE(stat(cert_path, &st) == 0 && stat(key_path, &st) == 0, API_ERR_NOT_FOUND,
           "no SVID in %s", dir);
    ENSURE(ca_certs_read(cert_path, &certs, &cerr) == CA_OK, API_ERR_BAD_REQUEST, "svid.pem: %s",
           cerr.msg);
    ENSURE(ca_key_read(key_path, NULL, 0, &out->key, &cerr) == CA_OK, API_ERR_BAD_REQUEST,
           "svid.key: %s", cerr.msg);
    X509 *leaf = sk_X509_value(certs, 0);
    OSSL(X509_check_private_key(leaf, out->key), API_ERR_BAD_REQUEST,
         "svid.key does not match svid.pem");
    TRY(svid_identity(leaf, out, err));
    ENSURE(out->not_after > now, API_ERR_BAD_REQUEST, "svid.pem has expired");
    TRY(key_pem(out->key, &out->key_pem, &out->key_pem_len, err));
    TRY(read_text(dir, "svid.pem", "svid.pem", &out->cert_pem, &out->cert_pem_len, err));
    if (read_text(dir, "bundle.pem", "bundle.pem", &out->bundle_pem, &out->bundle_pem_len, NULL) !=
        API_OK) {
        out->bundle_pem = NULL; /* written again with the next SVID */
    }
    out->renew_after = half_life(out->not_before, out->not_after);
out:
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

enum api_err api_agent_token_read(const char *path, char **out, size_t *out_len,
                                  struct api_error *err)
{
    enum api_err rc = API_OK;
    char *buf = NULL;
    size_t len = 0;

    TRY(api_file_read(path, "--token-file", API_MAX_TOKEN_LEN + 1024, &buf, &len, err));
    size_t start = 0, end = len;
    while (start < end && strchr(" \t\r\n", buf[start]) != NULL) {
        start++;
    }
    while (end > start && strchr(" \t\r\n", buf[end - 1]) != NULL) {
        end--;
    }
    ENSURE(end > start, API_ERR_BAD_REQUEST, "--token-file: empty");
    ENSURE(end - start <= API_MAX_TOKEN_LEN, API_ERR_BAD_REQUEST,
           "--token-file: token longer than %d bytes", API_MAX_TOKEN_LEN);
    for (size_t i = start; i < end; i++) {
        char ch = buf[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '-' || ch == '_' || ch == '.';
        ENSURE(ok, API_ERR_BAD_REQUEST, "--token-file: not a JWT (unexpected character)");
    }
    memmove(buf, buf + start, end - start);
    OPENSSL_cleanse(buf + (end - start), len - (end - start));
    buf[end - start] = '\0';
    *out = buf;
    *out_len = end - start;
    buf = NULL;
out:
    if (buf != NULL) {
        OPENSSL_clear_free(buf, len + 1);
    }
    return rc;
}

/* ---- The loop ---- */

struct agent {
    const struct api_agent_config *cfg;
    struct api_client *client;
    struct api_agent_svid held; /* held.key == NULL: none */
    EVP_PKEY *next_key;         /* the key of the next certificate, kept across retries */
    /* An SVID received and checked but not yet published (the write failed):
     * published on the next attempt rather than asked for again, since the
     * token that got it may be one-time. pending.key == NULL: none. */
    struct api_agent_svid pending;
    int64_t pending_renew_at; /* mono_ms() when it is due for renewal */
    char gen[NAME_MAX + 1];   /* the published generation */
    unsigned attempts;
    int crl_warned;
    int64_t renew_at; /* mono_ms() when the held SVID is due for renewal */
};

enum outcome {
    DONE,    /* a new SVID is published */
    RETRY,   /* try again after *delay_ms */
    STOPPED, /* a signal arrived */
};

static enum outcome failed(struct agent *a, const struct api_reply *r, int64_t *delay_ms)
{
    if (r->fail == API_CLIENT_FAIL_STOPPED) {
        return STOPPED;
    }
    if ((r->status == 429 || r->status == 503) && r->retry_after_s > 0) {
        int64_t s = r->retry_after_s < MAX_RETRY_AFTER_S ? r->retry_after_s : MAX_RETRY_AFTER_S;
        *delay_ms = s * 1000 + (int64_t)(random_u64() % 1000); /* spread the herd a little */
        a->attempts++;
    } else {
        *delay_ms =
            api_agent_backoff_ms(a->attempts++, BACKOFF_BASE_MS, BACKOFF_CAP_MS, random_u64());
    }
    /* However long the server asks us to wait, the held SVID must not expire
     * meanwhile untried: wait at most half of what is left of it, so that
     * attempts come closer together as expiry nears. */
    if (a->held.key != NULL) {
        int64_t half_left = (a->held.not_after * 1000 - now_ms()) / 2;
        int64_t cap = half_left > BACKOFF_BASE_MS ? half_left : BACKOFF_BASE_MS;
        *delay_ms = *delay_ms < cap ? *delay_ms : cap;
    }
    return RETRY;
}

/* request_body builds {"csr": ..., "ttl": ...}; free() it. */
static char *request_body(const char *csr, const char *ttl)
{
    json_t *doc = ttl != NULL ? json_pack("{s:s, s:s}", "csr", csr, "ttl", ttl)
                              : json_pack("{s:s}", "csr", csr);
    char *s = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;

    json_decref(doc);
    return s;
}

/* install publishes |*s| (due for renewal at mono_ms() |renew_at|) and
 * holds it. On a failed write |*s| becomes (or stays) the pending SVID. */
static enum api_err install(struct agent *a, struct api_agent_svid *s, int64_t renew_at,
                            struct api_error *err)
{
    char gen[NAME_MAX + 1];
    enum api_err rc = api_agent_publish(a->cfg->out_dir, s, a->gen[0] != '\0' ? a->gen : NULL, gen,
                                        sizeof(gen), err);

    if (rc != API_OK) {
        if (s != &a->pending) {
            api_agent_svid_cleanup(&a->pending);
            a->pending = *s;
            a->pending_renew_at = renew_at;
            memset(s, 0, sizeof(*s));
        }
        return rc;
    }
    memcpy(a->gen, gen, sizeof(a->gen));
    api_agent_svid_cleanup(&a->held);
    a->held = *s;
    memset(s, 0, sizeof(*s));
    a->renew_at = renew_at;
    return API_OK;
}

/* accept_svid checks an answer against our key (and, for a renewal, against
 * the identity held: |want_id|, else NULL), then installs it. */
static enum api_err accept_svid(struct agent *a, const struct api_reply *r, const char *want_id,
                                struct api_error *err)
{
    enum api_err rc = API_OK;
    struct api_svid svid = {0};
    struct api_agent_svid next = {0};

    TRY(api_svid_parse(r->body, r->body_len, &svid, err));
    TRY(api_client_chain_trusted(a->client, svid.cert_pem, svid.cert_pem_len, err));
    OSSL(X509_check_private_key(svid.leaf, a->next_key), API_ERR_BAD_REQUEST,
         "the certificate is not for our key");
    ENSURE(want_id == NULL || strcmp(svid.spiffe_id, want_id) == 0, API_ERR_BAD_REQUEST,
           "the renewed certificate is for another SPIFFE ID");
    TRY(key_pem(a->next_key, &next.key_pem, &next.key_pem_len, err));
    next.cert_pem = svid.cert_pem;
    next.cert_pem_len = svid.cert_pem_len;
    next.bundle_pem = svid.bundle_pem;
    next.bundle_pem_len = svid.bundle_pem_len;
    svid.cert_pem = NULL;
    svid.bundle_pem = NULL;
    memcpy(next.serial, svid.serial, sizeof(next.serial));
    memcpy(next.spiffe_id, svid.spiffe_id, sizeof(next.spiffe_id));
    next.not_before = svid.not_before;
    next.not_after = svid.not_after;
    next.renew_after = svid.renew_after;
    int64_t now = now_ms() / 1000;
    if (next.renew_after <= now || next.renew_after >= next.not_after) {
        next.renew_after = half_life(next.not_before, next.not_after);
    }
    /* Due after the same span from now as renew_after is from the signing,
     * in the server's own time: our wall clock may be off or step. */
    int64_t due_ms = (next.renew_after - issued_at(next.not_before, next.not_after)) * 1000;
    next.key = a->next_key; /* the key is spent: this certificate is for it */
    a->next_key = NULL;
    rc = install(a, &next, mono_ms() + (due_ms > RENEW_MIN_MS ? due_ms : RENEW_MIN_MS), err);
out:
    api_agent_svid_cleanup(&next);
    api_svid_cleanup(&svid);
    return rc;
}

static void drop_identity(struct api_client *c)
{
    if (api_client_identity_pem(c, NULL, 0, NULL, 0, NULL) != API_OK) {
        return; /* removing an identity cannot fail */
    }
}

/* renew tries POST /v1/renew with the held SVID; *refused is set on a 401. */
static enum outcome renew(struct agent *a, const char *body, int *refused, int64_t *delay_ms)
{
    struct api_reply r = {0};
    struct api_error err = {0};
    enum outcome o = DONE;

    if (api_client_identity_pem(a->client, a->held.cert_pem, a->held.cert_pem_len, a->held.key_pem,
                                a->held.key_pem_len, &err) == API_OK &&
        api_client_call(a->client, "POST", "/v1/renew", NULL, body, strlen(body), &r, &err) ==
            API_OK &&
        accept_svid(a, &r, a->held.spiffe_id, &err) == API_OK) {
        agent_log("info", "SVID renewed", &a->held, a->held.renew_after * 1000, NULL);
        goto out;
    }
    /* 401: this certificate no longer renews (revoked, or unknown to a new
     * store); 403: its identity no longer may. The token may still. */
    if (r.status == 401 || r.status == 403) {
        *refused = 1;
        agent_log("warn", "renewal refused; falling back to the token", &a->held, 0, err.msg);
        goto out;
    }
    o = failed(a, &r, delay_ms);
    if (o == RETRY) {
        agent_log("error", "renewal failed", &a->held, now_ms() + *delay_ms, err.msg);
    }
out:
    drop_identity(a->client);
    api_reply_cleanup(&r);
    return o;
}

static enum outcome sign(struct agent *a, const char *body, int64_t *delay_ms)
{
    struct api_reply r = {0};
    struct api_error err = {0};
    char *token = NULL;
    size_t token_len = 0;
    enum outcome o = DONE;

    if (api_agent_token_read(a->cfg->token_file, &token, &token_len, &err) == API_OK &&
        api_client_call(a->client, "POST", "/v1/sign", token, body, strlen(body), &r, &err) ==
            API_OK &&
        accept_svid(a, &r, NULL, &err) == API_OK) {
        agent_log("info", "SVID issued", &a->held, a->held.renew_after * 1000, NULL);
        goto out;
    }
    o = failed(a, &r, delay_ms);
    if (o == RETRY) {
        agent_log("error", "issuance failed", NULL, now_ms() + *delay_ms, err.msg);
    }
out:
    if (token != NULL) {
        OPENSSL_clear_free(token, token_len + 1);
    }
    api_reply_cleanup(&r);
    return o;
}

static enum outcome attempt(struct agent *a, int64_t *delay_ms)
{
    struct ca_error cerr = {0};
    char *csr = NULL;
    size_t csr_len = 0;
    char *body = NULL;
    enum outcome o = RETRY;

    if (a->pending.key != NULL && a->pending.not_after > now_ms() / 1000) {
        struct api_error err = {0};
        if (install(a, &a->pending, a->pending_renew_at, &err) == API_OK) {
            agent_log("info", "SVID published after a failed write", &a->held,
                      a->held.renew_after * 1000, NULL);
            a->attempts = 0;
            return DONE;
        }
        agent_log("error", "cannot publish the SVID", &a->pending, 0, err.msg);
        *delay_ms =
            api_agent_backoff_ms(a->attempts++, BACKOFF_BASE_MS, BACKOFF_CAP_MS, random_u64());
        return RETRY;
    }
    api_agent_svid_cleanup(&a->pending); /* expired unpublished: ask anew */

    if (a->next_key == NULL &&
        ca_key_generate((enum ca_key_type)a->cfg->key_type, &a->next_key, &cerr) != CA_OK) {
        agent_log("error", "cannot make a key", NULL, 0, cerr.msg);
        *delay_ms =
            api_agent_backoff_ms(a->attempts++, BACKOFF_BASE_MS, BACKOFF_CAP_MS, random_u64());
        return RETRY;
    }
    if (ca_csr_create(a->next_key, &csr, &csr_len, &cerr) != CA_OK ||
        (body = request_body(csr, a->cfg->ttl)) == NULL) {
        agent_log("error", "cannot make a CSR", NULL, 0, cerr.msg);
        *delay_ms =
            api_agent_backoff_ms(a->attempts++, BACKOFF_BASE_MS, BACKOFF_CAP_MS, random_u64());
        goto out;
    }
    int refused = 0;
    if (a->held.key != NULL && a->held.not_after > now_ms() / 1000) {
        o = renew(a, body, &refused, delay_ms);
        if (!refused) {
            goto out;
        }
    }
    o = sign(a, body, delay_ms);
out:
    if (o == DONE) {
        a->attempts = 0;
    }
    free(body);
    OPENSSL_free(csr);
    return o;
}

/* crl_valid says whether |pem| is one or more PEM CRLs and nothing else. */
static int crl_valid(const char *pem, size_t len)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len); /* len <= API_CLIENT_MAX_RESPONSE */
    X509_CRL *crl = NULL;
    int num = 0;

    while (bio != NULL && (crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
        X509_CRL_free(crl);
        num++;
    }
    unsigned long e = ERR_peek_last_error();
    int clean_end = ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
    ERR_clear_error();
    BIO_free(bio);
    return num > 0 && (e == 0 || clean_end);
}

/* refresh_crl fetches /v1/crls.pem into crl.pem; returns when to try next. */
static int64_t refresh_crl(struct agent *a, int *stopped)
{
    struct api_reply r = {0};
    struct api_error err = {0};
    int64_t refresh_ms = a->cfg->crl_refresh_s * 1000;
    int64_t retry_ms = refresh_ms < CRL_RETRY_MS ? refresh_ms : CRL_RETRY_MS;
    int64_t next = mono_ms() + retry_ms;

    enum api_err rc = api_client_call(a->client, "GET", "/v1/crls.pem", NULL, NULL, 0, &r, &err);
    if (r.fail == API_CLIENT_FAIL_STOPPED) {
        *stopped = 1;
    } else if (rc == API_OK && crl_valid(r.body, r.body_len)) {
        if (api_agent_file_replace(a->cfg->out_dir, "crl.pem", r.body, r.body_len, 0644, &err) ==
            API_OK) {
            next = mono_ms() + refresh_ms;
            a->crl_warned = 0;
        } else {
            agent_log("error", "cannot write crl.pem", NULL, 0, err.msg);
        }
    } else if (r.status == 404) {
        if (!a->crl_warned) {
            agent_log("warn", "the server has no /v1/crls.pem; crl.pem not written", NULL, 0,
                      err.msg);
        }
        a->crl_warned = 1;
        next = mono_ms() + refresh_ms;
    } else {
        agent_log("warn", "cannot refresh crl.pem", NULL, 0,
                  rc == API_OK ? "the answer is not PEM CRLs" : err.msg);
    }
    api_reply_cleanup(&r);
    return next;
}

/* sleep_until waits until mono_ms() reaches |deadline_ms| or a stop signal;
 * returns 1 on a signal. */
static int sleep_until(int64_t deadline_ms)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    for (;;) {
        int64_t left = deadline_ms - mono_ms();
        if (left <= 0) {
            return api_client_stop_pending();
        }
        struct timespec ts = {.tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000L};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            return 1;
        }
        if (sig < 0 && errno != EAGAIN && errno != EINTR) {
            return 0;
        }
    }
}

static enum api_err prepare_dir(const char *dir, struct api_error *err)
{
    enum api_err rc = API_OK;
    struct stat st;

    if (mkdir(dir, 0755) != 0) {
        ENSURE(errno == EEXIST, API_ERR_BAD_REQUEST, "cannot create --out %s: %s", dir,
               strerror(errno));
    }
    ENSURE(stat(dir, &st) == 0 && S_ISDIR(st.st_mode), API_ERR_BAD_REQUEST,
           "--out %s is not a directory", dir);
    ENSURE(access(dir, W_OK | X_OK) == 0, API_ERR_BAD_REQUEST, "--out %s is not writable", dir);
out:
    return rc;
}

enum api_err api_agent_run(const struct api_agent_config *cfg, struct api_error *err)
{
    enum api_err rc = API_OK;
    struct agent a = {.cfg = cfg};
    struct api_error lerr = {0};
    char buf[PATH_MAX];

    ENSURE(cfg->crl_refresh_s > 0, API_ERR_BAD_REQUEST, "--crl-refresh must be positive");
    TRY(prepare_dir(cfg->out_dir, err));
    TRY(api_client_new(cfg->server, cfg->ca_file, &a.client, err));
    int fd = open_dir(cfg->out_dir);
    ssize_t n = fd >= 0 ? readlinkat(fd, CURRENT, buf, sizeof(buf) - 1) : -1;
    if (fd >= 0) {
        close(fd);
    }
    if (n > 0 && (size_t)n < sizeof(a.gen) && memchr(buf, '/', (size_t)n) == NULL) {
        memcpy(a.gen, buf, (size_t)n);
        a.gen[n] = '\0';
    }
    enum api_err lrc = api_agent_load(cfg->out_dir, now_ms() / 1000, &a.held, &lerr);
    if (lrc == API_OK) {
        lrc = api_client_chain_trusted(a.client, a.held.cert_pem, a.held.cert_pem_len, &lerr);
    }
    if (lrc == API_OK) {
        agent_log("info", "reusing the SVID found in --out", &a.held, a.held.renew_after * 1000,
                  NULL);
    } else {
        api_agent_svid_cleanup(&a.held);
        if (lrc != API_ERR_NOT_FOUND) {
            agent_log("warn", "ignoring the SVID found in --out", NULL, 0, lerr.msg);
        }
    }

    int got = 0;
    int64_t next_svid = mono_ms();
    if (a.held.key != NULL && !cfg->once) {
        next_svid += a.held.renew_after * 1000 - now_ms(); /* the wall clock's word, this once */
    }
    int64_t next_crl = mono_ms();
    for (;;) {
        if (mono_ms() >= next_svid) {
            int64_t delay = 0;
            enum outcome o = attempt(&a, &delay);
            if (o == STOPPED) {
                break;
            }
            if (o == DONE) {
                got = 1;
                next_svid = a.renew_at;
            } else {
                ENSURE(!cfg->once, API_ERR_UNAVAILABLE, "could not get an SVID");
                next_svid = mono_ms() + delay;
            }
            /* An SVID that expired while renewals failed is useless for mTLS. */
            if (a.held.key != NULL && a.held.not_after <= now_ms() / 1000) {
                agent_log("warn", "the SVID has expired", &a.held, 0, NULL);
                api_agent_svid_cleanup(&a.held);
            }
        }
        if (mono_ms() >= next_crl || cfg->once) {
            int stopped = 0;
            next_crl = refresh_crl(&a, &stopped);
            if (stopped || cfg->once) {
                break;
            }
        }
        if (sleep_until(next_svid < next_crl ? next_svid : next_crl)) {
            break;
        }
    }
    agent_log("info", cfg->once ? "done" : "stopping", &a.held, 0, NULL);
    ENSURE(!cfg->once || got, API_ERR_UNAVAILABLE, "stopped before an SVID was obtained");
out:
    EVP_PKEY_free(a.next_key);
    api_agent_svid_cleanup(&a.pending);
    api_agent_svid_cleanup(&a.held);
    api_client_free(a.client);
    return rc;
}
