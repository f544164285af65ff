/* crl.c: the CRL publisher and the CRL routes (GET /crl, /crl.pem, /root.crl,
 * /v1/crls.pem). A thread re-signs the intermediate's CRL when woken by a
 * revocation (at most every API_CRL_MIN_INTERVAL_MS, so that a burst of
 * revocations makes few CRLs) and every crl.refresh, and re-reads
 * pki.root_crl when the file changes. The routes serve pre-encoded,
 * reference-counted documents: they never wait for signing. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "internal.h"

#define NUM_DOCS      4
#define MS            1000000ull /* nanoseconds */
#define RETRY_AFTER_S 1          /* after a failed signing */
#define BACKDATE_S    60         /* thisUpdate, as leaves and intermediates are backdated */

/* struct doc is one published document with its caching metadata:
 * immutable once published, freed when its last reader lets go. */
struct doc {
    _Atomic long refs;
    unsigned char *data;
    size_t len;
    int64_t last_modified;
    int64_t expires; /* 0: none */
    char etag[40];
};

struct api_crl {
    const struct ca_issuer *issuer;
    struct store *st;
    const struct api_config *cfg;
    enum api_log_level log_level;
    STACK_OF(X509) *roots;     /* for checking the root's CRL */
    _Atomic int inter_revoked; /* the root CRL served revokes our intermediate */

    pthread_mutex_t mu; /* guards the fields below up to the thread's own */
    pthread_cond_t cv;
    struct doc *docs[NUM_DOCS];
    uint64_t number;
    int dirty;
    int stopping;
    pthread_t thread;
    int started;

    /* The publisher's own state (the thread, or api_crl_new before it). */
    uint64_t last_number;  /* the last CRL number taken, recorded or not */
    int number_unrecorded; /* the last one could not be recorded in the store */
    uint64_t last_sign_ns;
    uint64_t next_refresh_ns;
    uint64_t next_root_check_ns;
    struct stat root_stat; /* of the last file tried */
    unsigned char *root_der;
    size_t root_der_len;
    char *root_pem;
    size_t root_pem_len;
    struct ca_crl_info root_info; /* of the root CRL served */
    int64_t root_mtime;
    char root_err[160]; /* the last reload failure logged, so that it is logged once */
    char *crl_pem;      /* the current CRL's PEM, for the concatenation */
    size_t crl_pem_len;
    int64_t this_update;
    int64_t next_update;
};

/* ---- Documents ---- */

static void doc_unref(struct doc *d)
{
    if (d == NULL || atomic_fetch_sub(&d->refs, 1) != 1) {
        return;
    }
    free(d->data);
    free(d);
}

/* doc_new copies |a| then |b| (either may be empty) into a new document. */
static struct doc *doc_new(const void *a, size_t a_len, const void *b, size_t b_len,
                           int64_t last_modified, int64_t expires)
{
    struct doc *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return NULL;
    }
    d->data = malloc(a_len + b_len + 1);
    if (d->data == NULL) {
        free(d);
        return NULL;
    }
    if (a_len > 0) {
        memcpy(d->data, a, a_len);
    }
    if (b_len > 0) {
        memcpy(d->data + a_len, b, b_len);
    }
    d->len = a_len + b_len;
    d->last_modified = last_modified;
    d->expires = expires;
    atomic_init(&d->refs, 1);
    return d;
}

/* doc_etag sets |d|'s ETag to a digest of its bytes (RFC 9110 8.8.3: an
 * opaque, quoted string). */
static void doc_etag(struct doc *d)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    static const char hex[] = "0123456789abcdef";

    if (EVP_Digest(d->data, d->len, md, &md_len, EVP_sha256(), NULL) != 1 || md_len < 16) {
        ERR_clear_error();
        snprintf(d->etag, sizeof(d->etag), "\"%zx\"", d->len);
        return;
    }
    d->etag[0] = '"';
    for (size_t i = 0; i < 16; i++) {
        d->etag[1 + 2 * i] = hex[md[i] >> 4];
        d->etag[2 + 2 * i] = hex[md[i] & 0xf];
    }
    d->etag[33] = '"';
    d->etag[34] = '\0';
}

/* publish replaces the documents whose new version is non-NULL. */
static void publish(struct api_crl *crl, struct doc *fresh[NUM_DOCS], uint64_t number)
{
    struct doc *old[NUM_DOCS] = {0};

    pthread_mutex_lock(&crl->mu);
    for (size_t i = 0; i < NUM_DOCS; i++) {
        if (fresh[i] != NULL) {
            old[i] = crl->docs[i];
            crl->docs[i] = fresh[i];
            fresh[i] = NULL;
        }
    }
    if (number != 0) {
        crl->number = number;
    }
    pthread_mutex_unlock(&crl->mu);
    for (size_t i = 0; i < NUM_DOCS; i++) {
        doc_unref(old[i]);
    }
}

/* all_pem_doc is GET /v1/crls.pem: our CRL, then the root's when there is one. */
static struct doc *all_pem_doc(const struct api_crl *crl)
{
    int64_t lm = crl->this_update > crl->root_mtime ? crl->this_update : crl->root_mtime;
    int64_t exp = crl->next_update;
    if (crl->root_pem != NULL && crl->root_info.next_update > 0 &&
        crl->root_info.next_update < exp) {
        exp = crl->root_info.next_update;
    }
    struct doc *d =
        doc_new(crl->crl_pem, crl->crl_pem_len, crl->root_pem, crl->root_pem_len, lm, exp);
    if (d != NULL) {
        doc_etag(d);
    }
    return d;
}

/* ---- Signing the intermediate's CRL ---- */

struct entries {
    struct ca_crl_entry *v;
    size_t num;
    size_t cap;
    int oom;
};

static int collect(const struct store_record *rec, void *ctx)
{
    struct entries *e = ctx;

    if (rec->serial_len == 0 || rec->serial_len > CA_MAX_SERIAL_LEN) {
        return 0; /* not a serial a CRL can hold; never issued by us */
    }
    if (e->num == e->cap) {
        size_t cap = e->cap == 0 ? 64 : e->cap * 2;
        struct ca_crl_entry *grown = NULL;
        size_t bytes = 0;
        if (__builtin_mul_overflow(cap, sizeof(*grown), &bytes) ||
            (grown = realloc(e->v, bytes)) == NULL) {
            e->oom = 1;
            return 1;
        }
        e->v = grown;
        e->cap = cap;
    }
    struct ca_crl_entry *x = &e->v[e->num++];
    memset(x, 0, sizeof(*x));
    memcpy(x->serial, rec->serial, rec->serial_len);
    x->serial_len = rec->serial_len;
    x->revoked_at = rec->revoked_at;
    x->reason = ca_crl_reason_name((enum ca_crl_reason)rec->revocation_reason) != NULL &&
                        rec->revocation_reason != CA_REASON_REMOVE_FROM_CRL
                    ? (enum ca_crl_reason)rec->revocation_reason
                    : CA_REASON_UNSPECIFIED;
    return 0;
}

/* wall_ms returns the wall clock in milliseconds since the epoch. */
static uint64_t wall_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0) {
        return 0;
    }
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* take_number returns the next CRL's number. RFC 5280 5.2.3: "a
 * monotonically increasing sequence number for a given CRL scope and CRL
 * issuer", so it is the largest of the time in milliseconds (about 6 octets
 * of the 20 allowed; numbers recorded in a restored backup are older), the
 * last number this process used plus one (the clock may step back), and the
 * store's last recorded number plus one (which outlives a restart). Recording
 * it is best effort: a CRL signed while the store cannot be written (full,
 * EIO) is better than none, since relying parties refuse every certificate
 * once the last CRL has expired. */
static uint64_t take_number(struct api_crl *crl)
{
    uint64_t number = wall_ms();

    if (number <= crl->last_number) {
        number = crl->last_number + 1;
    }
    uint64_t recorded = 0;
    enum store_err src = store_crl_number_advance(crl->st, number, &recorded);
    if (src == STORE_OK) {
        number = recorded;
        crl->number_unrecorded = 0;
    } else if (!crl->number_unrecorded) {
        /* Once per failure streak: a refresh may be every few seconds. */
        api_log_event(stderr, crl->log_level, API_LOG_WARN,
                      "CRL number not recorded in the store; signing with it anyway",
                      store_err_name(src));
        crl->number_unrecorded = 1;
    }
    crl->last_number = number;
    return number;
}

/* sign_crl builds and publishes a new CRL at |now|. */
static enum api_err sign_crl(struct api_crl *crl, int64_t now, struct api_error *err)
{
    enum api_err rc = API_OK;
    struct entries e = {0};
    struct ca_error cerr = {0};
    unsigned char *der = NULL;
    size_t der_len = 0;
    char *pem = NULL;
    size_t pem_len = 0;
    uint64_t number = 0;
    struct doc *fresh[NUM_DOCS] = {0};

    /* Expired certificates leave the CRL, which keeps it small, but only
     * after one more scheduled CRL: RFC 5280 3.3, "An entry MUST NOT be
     * removed from the CRL until it appears on one regularly scheduled CRL
     * issued beyond the revoked certificate's validity period." A CRL is
     * signed crl.refresh after the previous one (sooner after a revocation)
     * plus the time it takes to wake, prune and sign, so an entry kept just
     * crl.refresh past its notAfter could miss the first CRL signed after
     * it and appear on none. Two periods leave a whole period of slack; only
     * a signing outage longer than that could still drop one unlisted (the
     * CRL is stale by then, which signet_crl_next_update_seconds shows). */
    int64_t keep_after = now - API_CRL_KEEP_EXPIRED_REFRESHES * crl->cfg->crl_refresh_s;
    enum store_err src = store_revoked_foreach(crl->st, keep_after, collect, &e);
    ENSURE(src == STORE_OK, API_ERR_UNAVAILABLE, "reading revocations failed (%s)",
           store_err_name(src));
    ENSURE(!e.oom, API_ERR_INTERNAL, "out of memory");
    number = take_number(crl);
    /* OpenSSL allows no skew on thisUpdate: to a relying party whose clock
     * runs a few seconds behind ours a CRL dated now is "not yet valid", and
     * with crl_check it then refuses every certificate. nextUpdate stays
     * crl.validity after the signing. */
    int64_t this_update = now - BACKDATE_S;
    int64_t next = now + crl->cfg->crl_validity_s;
    ENSURE(ca_crl_build(ca_issuer_cert(crl->issuer), ca_issuer_key(crl->issuer), e.v, e.num, number,
                        this_update, next, &der, &der_len, &cerr) == CA_OK,
           API_ERR_INTERNAL, "signing the CRL failed: %s", cerr.msg);
    ENSURE(ca_crl_der_to_pem(der, der_len, &pem, &pem_len, &cerr) == CA_OK, API_ERR_INTERNAL,
           "encoding the CRL failed: %s", cerr.msg);
    /* Last-Modified is thisUpdate, as for OCSP (RFC 5019 6.2), and Expires
     * nextUpdate; max-age counts down to it (api_crl_respond). */
    fresh[API_CRL_DOC_DER] = doc_new(der, der_len, NULL, 0, this_update, next);
    fresh[API_CRL_DOC_PEM] = doc_new(pem, pem_len, NULL, 0, this_update, next);
    ENSURE(fresh[API_CRL_DOC_DER] != NULL && fresh[API_CRL_DOC_PEM] != NULL, API_ERR_INTERNAL,
           "out of memory");
    /* RFC 9110 8.8.3: the CRL number names the version. */
    snprintf(fresh[API_CRL_DOC_DER]->etag, sizeof(fresh[0]->etag), "\"%llx\"",
             (unsigned long long)number);
    snprintf(fresh[API_CRL_DOC_PEM]->etag, sizeof(fresh[0]->etag), "\"%llx-pem\"",
             (unsigned long long)number);
    OPENSSL_free(crl->crl_pem);
    crl->crl_pem = pem;
    crl->crl_pem_len = pem_len;
    pem = NULL;
    crl->this_update = this_update;
    crl->next_update = next;
    fresh[API_CRL_DOC_ALL_PEM] = all_pem_doc(crl);
    ENSURE(fresh[API_CRL_DOC_ALL_PEM] != NULL, API_ERR_INTERNAL, "out of memory");
    publish(crl, fresh, number);
out:
    for (size_t i = 0; i < NUM_DOCS; i++) {
        doc_unref(fresh[i]);
    }
    OPENSSL_free(pem);
    OPENSSL_free(der);
    free(e.v);
    return rc;
}

/* ---- The root's CRL ---- */

/* read_file reads |path| (at most CA_MAX_CRL_LEN bytes) and its stat. */
static enum api_err read_file(const char *path, unsigned char **out, size_t *out_len,
                              struct stat *out_st, struct api_error *err)
{
    enum api_err rc = API_OK;
    int fd = -1;
    unsigned char *buf = NULL;
    size_t len = 0;

    /* A symlink is followed, as stat() in load_root follows it: Kubernetes
     * ConfigMap and Secret volumes present each file as name -> ..data/name
     * and update them by swapping ..data. The file is a public, signed CRL,
     * checked against our roots, so where the link points cannot matter. */
    fd = open(path, O_RDONLY | O_CLOEXEC);
    ENSURE(fd >= 0, API_ERR_BAD_REQUEST, "pki.root_crl: file not readable");
    ENSURE(fstat(fd, out_st) == 0 && S_ISREG(out_st->st_mode), API_ERR_BAD_REQUEST,
           "pki.root_crl: not a regular file");
    ENSURE(out_st->st_size > 0 && (uint64_t)out_st->st_size <= CA_MAX_CRL_LEN, API_ERR_BAD_REQUEST,
           "pki.root_crl: must be 1..%d bytes", CA_MAX_CRL_LEN);
    size_t cap = (size_t)out_st->st_size + 1;
    buf = malloc(cap);
    ENSURE(buf != NULL, API_ERR_INTERNAL, "out of memory");
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        ENSURE(n >= 0, API_ERR_BAD_REQUEST, "pki.root_crl: file not readable");
        if (n == 0) {
            break;
        }
        len += (size_t)n;
        ENSURE(len < cap, API_ERR_BAD_REQUEST, "pki.root_crl: changed while being read");
    }
    *out = buf;
    *out_len = len;
    buf = NULL;
out:
    free(buf);
    if (fd >= 0) {
        close(fd);
    }
    return rc;
}

/* number_hex writes |info|'s cRLNumber as openssl prints it ("0x1a2b"). */
static void number_hex(const struct ca_crl_info *info, char out[2 * CA_MAX_CRL_NUMBER_LEN + 3])
{
    static const char hex[] = "0123456789ABCDEF";
    size_t pos = 0;

    out[pos++] = '0';
    out[pos++] = 'x';
    for (size_t i = 0; i < info->number_len; i++) {
        out[pos++] = hex[info->number[i] >> 4];
        out[pos++] = hex[info->number[i] & 0xf];
    }
    out[pos] = '\0';
}

/* check_replacement says whether |next| may replace the root CRL served
 * (|crl->root_info|) at |now|. The root's CRL comes from an offline ceremony
 * and is copied in by hand: a mistake, or someone who can write the file but
 * not sign, must not roll revocations back or stop every relying party. */
static enum api_err check_replacement(const struct api_crl *crl, const struct ca_crl_info *next,
                                      int64_t now, struct api_error *err)
{
    enum api_err rc = API_OK;
    char have[2 * CA_MAX_CRL_NUMBER_LEN + 3];
    char got[2 * CA_MAX_CRL_NUMBER_LEN + 3];

    number_hex(&crl->root_info, have);
    number_hex(next, got);
    /* RFC 5280 5.2.3: the cRLNumber is "monotonically increasing", so a
     * CRL with a number not above ours is older (or a different CRL with
     * the same number): serving it could un-revoke an intermediate. */
    ENSURE(ca_crl_number_cmp(next, &crl->root_info) > 0, API_ERR_BAD_REQUEST,
           "pki.root_crl: CRL number %s is not greater than the served one's (%s): an older CRL",
           got, have);
    /* An expired CRL makes relying parties that check it refuse every
     * chain; the one served is no worse, and may still be valid. */
    ENSURE(next->next_update == 0 || next->next_update > now, API_ERR_BAD_REQUEST,
           "pki.root_crl: CRL number %s has expired (its nextUpdate has passed)", got);
out:
    return rc;
}

/* load_root reads pki.root_crl when it changed since the last load (or
 * always, with |force|): it must be a CRL signed by one of our roots with a
 * cRLNumber and, when one is served already, a newer unexpired one. */
static enum api_err load_root(struct api_crl *crl, int force, int64_t now, struct api_error *err)
{
    enum api_err rc = API_OK;
    unsigned char *data = NULL;
    size_t len = 0;
    unsigned char *der = NULL;
    size_t der_len = 0;
    char *pem = NULL;
    size_t pem_len = 0;
    struct ca_crl_info info;
    struct stat st;
    struct ca_error cerr = {0};
    struct doc *fresh[NUM_DOCS] = {0};
    enum ca_err crc = CA_ERR_UNTRUSTED_CERT;
    char number[2 * CA_MAX_CRL_NUMBER_LEN + 3];
    char msg[160];

    memset(&info, 0, sizeof(info));
    ENSURE(stat(crl->cfg->pki_root_crl, &st) == 0, API_ERR_BAD_REQUEST,
           "pki.root_crl: file not found");
    if (!force && st.st_mtim.tv_sec == crl->root_stat.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == crl->root_stat.st_mtim.tv_nsec &&
        st.st_size == crl->root_stat.st_size && st.st_ino == crl->root_stat.st_ino) {
        goto out;
    }
    crl->root_stat = st; /* a file that fails is tried again only once it changes */
    TRY(read_file(crl->cfg->pki_root_crl, &data, &len, &st, err));
    for (int i = 0; i < sk_X509_num(crl->roots) && crc != CA_OK; i++) {
        OPENSSL_free(der);
        der = NULL;
        crc = ca_crl_parse(data, len, sk_X509_value(crl->roots, i), &der, &der_len, &info, &cerr);
        if (crc == CA_ERR_INVALID_CRL) {
            break;
        }
    }
    ENSURE(crc == CA_OK, API_ERR_BAD_REQUEST, "pki.root_crl: %s",
           crc == CA_ERR_INVALID_CRL ? cerr.msg : "not a CRL signed by one of pki.roots");
    int first = crl->root_der == NULL;
    if (!first && der_len == crl->root_der_len && memcmp(der, crl->root_der, der_len) == 0) {
        goto out; /* the same CRL copied again: no change at all */
    }
    /* RFC 5280 5.2.3: "CRL issuers conforming to this profile MUST include
     * this extension in all CRLs"; without it, an older CRL cannot be told
     * from a newer one. */
    ENSURE(info.number_len > 0, API_ERR_BAD_REQUEST,
           "pki.root_crl: the CRL has no cRLNumber, so it cannot be told from an older one");
    if (!first) {
        TRY(check_replacement(crl, &info, now, err));
    }
    int revoked = 0;
    ENSURE(ca_crl_lists_cert(der, der_len, ca_issuer_cert(crl->issuer), &revoked, &cerr) == CA_OK,
           API_ERR_INTERNAL, "reading the root CRL's entries failed");
    ENSURE(ca_crl_der_to_pem(der, der_len, &pem, &pem_len, &cerr) == CA_OK, API_ERR_INTERNAL,
           "encoding the root CRL failed");
    int64_t mtime = (int64_t)st.st_mtim.tv_sec;
    fresh[API_CRL_DOC_ROOT_DER] = doc_new(der, der_len, NULL, 0, mtime, info.next_update);
    ENSURE(fresh[API_CRL_DOC_ROOT_DER] != NULL, API_ERR_INTERNAL, "out of memory");
    doc_etag(fresh[API_CRL_DOC_ROOT_DER]);
    OPENSSL_free(crl->root_der);
    OPENSSL_free(crl->root_pem);
    crl->root_der = der;
    crl->root_der_len = der_len;
    crl->root_pem = pem;
    crl->root_pem_len = pem_len;
    der = NULL;
    pem = NULL;
    crl->root_info = info;
    crl->root_mtime = mtime;
    if (crl->crl_pem != NULL) {
        fresh[API_CRL_DOC_ALL_PEM] = all_pem_doc(crl);
        ENSURE(fresh[API_CRL_DOC_ALL_PEM] != NULL, API_ERR_INTERNAL, "out of memory");
    }
    publish(crl, fresh, 0);
    atomic_store(&crl->inter_revoked, revoked);
    number_hex(&info, number);
    snprintf(msg, sizeof(msg), "pki.root_crl loaded: CRL number %s", number);
    api_log_event(stderr, crl->log_level, API_LOG_INFO, msg, NULL);
    if (info.next_update != 0 && info.next_update <= now) {
        /* Only at start-up (a replacement must be unexpired): refusing to
         * start would stop issuance and OCSP as well, and fix nothing. */
        api_log_event(stderr, crl->log_level, API_LOG_WARN,
                      "pki.root_crl has expired: relying parties that check it refuse every "
                      "chain until a new one is signed (signet root crl)",
                      NULL);
    }
    if (revoked) {
        /* Relying parties that check the root's CRL now refuse everything
         * it issued: /readyz says so (api_server_ready) until it is rotated. */
        api_log_event(stderr, crl->log_level, API_LOG_ERROR,
                      "the intermediate is revoked by pki.root_crl: rotate it (operations.md "
                      "section 5); /readyz answers 503 meanwhile",
                      NULL);
    }
out:
    for (size_t i = 0; i < NUM_DOCS; i++) {
        doc_unref(fresh[i]);
    }
    OPENSSL_free(pem);
    OPENSSL_free(der);
    free(data);
    return rc;
}

/* ---- The publisher thread ---- */

static uint64_t mono_ns(void)
{
    return api_mono_ns();
}

static void wait_until(struct api_crl *crl, uint64_t deadline_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(deadline_ns / 1000000000u),
                          .tv_nsec = (long)(deadline_ns % 1000000000u)};
    pthread_cond_timedwait(&crl->cv, &crl->mu, &ts);
}

int64_t api_store_retention_s(const struct api_config *cfg)
{
    int64_t crl_keeps = API_CRL_KEEP_EXPIRED_REFRESHES * cfg->crl_refresh_s;
    return crl_keeps > API_STORE_RETENTION_S ? crl_keeps : API_STORE_RETENTION_S;
}

/* prune drops expired jti entries and records expired longer ago than
 * api_store_retention_s; revoked records the CRL still lists are younger. */
static void prune(struct api_crl *crl)
{
    size_t num = 0;
    enum store_err src = store_prune(crl->st, api_now(), api_store_retention_s(crl->cfg), &num);
    if (src != STORE_OK) {
        api_log_event(stderr, crl->log_level, API_LOG_WARN, "pruning the store failed",
                      store_err_name(src));
    }
}

static void *publisher_main(void *arg)
{
    struct api_crl *crl = arg;
    int has_root = crl->cfg->pki_root_crl[0] != '\0';

    pthread_mutex_lock(&crl->mu);
    while (!crl->stopping) {
        uint64_t now = mono_ns();
        uint64_t wake = crl->next_refresh_ns;
        if (has_root && crl->next_root_check_ns < wake) {
            wake = crl->next_root_check_ns;
        }
        uint64_t coalesced = crl->last_sign_ns + API_CRL_MIN_INTERVAL_MS * MS;
        if (crl->dirty && coalesced < wake) {
            wake = coalesced;
        }
        if (now < wake) {
            wait_until(crl, wake);
            continue;
        }
        int sign = now >= crl->next_refresh_ns || (crl->dirty && now >= coalesced);
        int root = has_root && now >= crl->next_root_check_ns;
        if (sign) {
            crl->dirty = 0; /* revocations from now on ask for another CRL */
        }
        pthread_mutex_unlock(&crl->mu);
        if (root) {
            struct api_error err = {0};
            if (load_root(crl, 0, api_now(), &err) != API_OK) {
                /* Checked every few seconds: say it once, not every time. */
                if (strcmp(err.msg, crl->root_err) != 0) {
                    api_log_event(stderr, crl->log_level, API_LOG_WARN,
                                  "pki.root_crl not reloaded; serving the previous one", err.msg);
                    snprintf(crl->root_err, sizeof(crl->root_err), "%s", err.msg);
                }
            } else {
                crl->root_err[0] = '\0';
            }
            crl->next_root_check_ns = mono_ns() + API_ROOT_CRL_CHECK_S * 1000 * MS;
        }
        if (now >= crl->next_refresh_ns) {
            prune(crl);
        }
        if (sign) {
            struct api_error err = {0};
            crl->last_sign_ns = mono_ns();
            if (sign_crl(crl, api_now(), &err) != API_OK) {
                api_log_event(stderr, crl->log_level, API_LOG_ERROR,
                              "signing the CRL failed; retrying", err.msg);
                crl->next_refresh_ns = mono_ns() + RETRY_AFTER_S * 1000 * MS;
            } else {
                crl->next_refresh_ns = mono_ns() + (uint64_t)crl->cfg->crl_refresh_s * 1000 * MS;
            }
        }
        pthread_mutex_lock(&crl->mu);
    }
    pthread_mutex_unlock(&crl->mu);
    return NULL;
}

/* ---- Interface ---- */

static enum api_err load_roots(struct api_crl *crl, struct api_error *err)
{
    enum api_err rc = API_OK;

    crl->roots = sk_X509_new_null();
    ENSURE(crl->roots != NULL, API_ERR_INTERNAL, "out of memory");
    for (size_t i = 0; i < ca_issuer_num_roots(crl->issuer); i++) {
        size_t len = 0;
        const unsigned char *der = ca_issuer_root_der(crl->issuer, i, &len);
        const unsigned char *p = der;
        X509 *root = d2i_X509(NULL, &p, (long)len);
        ENSURE(root != NULL, API_ERR_INTERNAL, "cannot decode a root");
        if (sk_X509_push(crl->roots, root) <= 0) {
            X509_free(root);
            rc = api_fail(err, API_ERR_INTERNAL, "out of memory");
            goto out;
        }
    }
out:
    return rc;
}

enum api_err api_crl_new(const struct ca_issuer *issuer, struct store *st,
                         const struct api_config *cfg, struct api_crl **out, struct api_error *err)
{
    enum api_err rc = API_OK;
    struct api_crl *crl = NULL;
    pthread_condattr_t ca;

    ENSURE(cfg->crl_validity_s > 0 && cfg->crl_refresh_s > 0, API_ERR_BAD_REQUEST,
           "crl.validity and crl.refresh must be positive");
    crl = calloc(1, sizeof(*crl));
    ENSURE(crl != NULL, API_ERR_INTERNAL, "out of memory");
    crl->issuer = issuer;
    crl->st = st;
    crl->cfg = cfg;
    crl->log_level = api_log_level_parse(getenv("SIGNET_LOG_LEVEL"));
    pthread_mutex_init(&crl->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&crl->cv, &ca);
    pthread_condattr_destroy(&ca);
    TRY(load_roots(crl, err));
    if (cfg->pki_root_crl[0] != '\0') {
        TRY(load_root(crl, 1, api_now(), err));
    }
    TRY(sign_crl(crl, api_now(), err));
    uint64_t now = mono_ns();
    crl->last_sign_ns = now;
    crl->next_refresh_ns = now + (uint64_t)cfg->crl_refresh_s * 1000 * MS;
    crl->next_root_check_ns = now + API_ROOT_CRL_CHECK_S * 1000 * MS;
    ENSURE(pthread_create(&crl->thread, NULL, publisher_main, crl) == 0, API_ERR_INTERNAL,
           "cannot start the CRL publisher");
    crl->started = 1;
    *out = crl;
    crl = NULL;
out:
    api_crl_free(crl);
    return rc;
}

void api_crl_free(struct api_crl *crl)
{
    if (crl == NULL) {
        return;
    }
    if (crl->started) {
        pthread_mutex_lock(&crl->mu);
        crl->stopping = 1;
        pthread_cond_signal(&crl->cv);
        pthread_mutex_unlock(&crl->mu);
        pthread_join(crl->thread, NULL);
    }
    for (size_t i = 0; i < NUM_DOCS; i++) {
        doc_unref(crl->docs[i]);
    }
    sk_X509_pop_free(crl->roots, X509_free);
    OPENSSL_free(crl->root_der);
    OPENSSL_free(crl->root_pem);
    OPENSSL_free(crl->crl_pem);
    pthread_cond_destroy(&crl->cv);
    pthread_mutex_destroy(&crl->mu);
    free(crl);
}

void api_crl_revoked(struct api_crl *crl)
{
    if (crl == NULL) {
        return;
    }
    pthread_mutex_lock(&crl->mu);
    crl->dirty = 1;
    pthread_cond_signal(&crl->cv);
    pthread_mutex_unlock(&crl->mu);
}

uint64_t api_crl_number(struct api_crl *crl)
{
    pthread_mutex_lock(&crl->mu);
    uint64_t n = crl->number;
    pthread_mutex_unlock(&crl->mu);
    return n;
}

int api_crl_intermediate_revoked(struct api_crl *crl)
{
    return crl != NULL && atomic_load(&crl->inter_revoked);
}

int64_t api_crl_next_update(struct api_crl *crl, enum api_crl_doc doc)
{
    int64_t t = 0;

    if (crl == NULL || (unsigned)doc >= NUM_DOCS) {
        return 0;
    }
    pthread_mutex_lock(&crl->mu);
    if (crl->docs[doc] != NULL) {
        t = crl->docs[doc]->expires;
    }
    pthread_mutex_unlock(&crl->mu);
    return t;
}

static const char *const content_types[NUM_DOCS] = {
    "application/pkix-crl", /* RFC 2585 section 4.2 */
    "application/x-pem-file",
    "application/pkix-crl",
    "application/x-pem-file",
};

enum api_err api_crl_respond(struct api_crl *crl, enum api_crl_doc which, int64_t now,
                             struct api_response *resp, struct api_error *err)
{
    enum api_err rc = API_OK;
    struct doc *d = NULL;

    ENSURE((unsigned)which < NUM_DOCS, API_ERR_INTERNAL, "no such document");
    pthread_mutex_lock(&crl->mu);
    d = crl->docs[which];
    if (d != NULL) {
        atomic_fetch_add(&d->refs, 1);
    }
    pthread_mutex_unlock(&crl->mu);
    ENSURE(d != NULL, API_ERR_NOT_FOUND,
           which == API_CRL_DOC_ROOT_DER ? "no root CRL is configured (pki.root_crl)"
                                         : "no CRL has been signed yet");
    ENSURE(api_response_set_bytes(resp, MHD_HTTP_OK, content_types[which], d->data, d->len),
           API_ERR_INTERNAL, "out of memory");
    /* Caches may keep it until the next refresh, never past nextUpdate. */
    int64_t max_age = crl->cfg->crl_refresh_s;
    if (d->expires > 0 && d->expires - now < max_age) {
        max_age = d->expires - now > 0 ? d->expires - now : 0;
    }
    snprintf(resp->cache_control, sizeof(resp->cache_control), "public, max-age=%lld",
             (long long)max_age);
    if (!api_http_date(d->last_modified, resp->last_modified, sizeof(resp->last_modified))) {
        resp->last_modified[0] = '\0';
    }
    if (d->expires <= 0 || !api_http_date(d->expires, resp->expires, sizeof(resp->expires))) {
        resp->expires[0] = '\0';
    }
    snprintf(resp->etag, sizeof(resp->etag), "%s", d->etag);
out:
    doc_unref(d);
    return rc;
}

/* ---- Routes ---- */

static enum api_err route(struct api_request *req, enum api_crl_doc which, struct api_error *err)
{
    return api_crl_respond(api_server_crl(req->srv), which, api_now(), &req->resp, err);
}

enum api_err api_route_crl(struct api_request *req, struct api_error *err)
{
    return route(req, API_CRL_DOC_DER, err);
}

enum api_err api_route_crl_pem(struct api_request *req, struct api_error *err)
{
    return route(req, API_CRL_DOC_PEM, err);
}

enum api_err api_route_root_crl(struct api_request *req, struct api_error *err)
{
    return route(req, API_CRL_DOC_ROOT_DER, err);
}

enum api_err api_route_crls_pem(struct api_request *req, struct api_error *err)
{
    return route(req, API_CRL_DOC_ALL_PEM, err);
}
