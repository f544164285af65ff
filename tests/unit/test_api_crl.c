/* test_api_crl.c: the CRL publisher of api/crl.c with a real issuer (from
 * tests/lib/testpki), a real LMDB store and real OpenSSL parsing of what it
 * publishes: first CRL, re-signing after a revocation, CRL numbers across a
 * restart, expired entries leaving, the root's CRL and the concatenation. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../../api/internal.h"
#include "testfs.h"
#include "testpki.h"

static struct testpki pki;
static struct ca_issuer *issuer;
static struct store *st;
static struct api_config cfg;
static char db[160];

static void open_store(void)
{
    struct store_options so = {.path = db, .map_size = 64u * 1024 * 1024};
    cr_assert_eq(store_open(&so, &st), STORE_OK);
}

static void setup(void)
{
    struct ca_error cerr = {0};
    struct ca_policy policy = {.default_ttl_s = 3600, .max_ttl_s = 86400};

    testpki_init(&pki, "example.org");
    snprintf(policy.trust_domain, sizeof(policy.trust_domain), "example.org");
    snprintf(policy.public_url, sizeof(policy.public_url), "http://127.0.0.1:8080");
    cr_assert_eq(ca_issuer_new(pki.inter, pki.inter_key, pki.roots, &policy, &issuer, &cerr), CA_OK,
                 "%s", cerr.msg);
    snprintf(db, sizeof(db), "%s/db", pki.dir);
    open_store();
    memset(&cfg, 0, sizeof(cfg));
    cfg.crl_validity_s = 86400;
    cfg.crl_refresh_s = 3600;
}

static void teardown(void)
{
    store_close(st);
    ca_issuer_free(issuer);
    testfs_rmtree(db);
    testpki_cleanup(&pki);
}

TestSuite(api_crl, .init = setup, .fini = teardown);

/* put_record records serial {0x42, n} valid until |not_after|. */
static void put_record(unsigned char n, int64_t not_after)
{
    static unsigned char cert[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    struct store_record rec = {
        .serial = {0x42, n},
        .serial_len = 2,
        .spiffe_id = "spiffe://example.org/w",
        .issued_at = not_after - 7200,
        .not_before = not_after - 7200,
        .not_after = not_after,
        .cert_der = cert,
        .cert_der_len = sizeof(cert),
    };
    cr_assert_eq(store_put(st, &rec), STORE_OK);
}

static void revoke_serial(unsigned char n, int32_t reason)
{
    unsigned char serial[2] = {0x42, n};
    cr_assert_eq(store_revoke(st, serial, 2, api_now() - 10, reason, NULL), STORE_OK);
}

/* fetch returns the document |which| parsed as a CRL (X509_CRL_free it). */
static X509_CRL *fetch(struct api_crl *crl, enum api_crl_doc which, struct api_response *resp)
{
    struct api_error err = {0};
    memset(resp, 0, sizeof(*resp));
    cr_assert_eq(api_crl_respond(crl, which, api_now(), resp, &err), API_OK, "%s", err.msg);
    X509_CRL *x = NULL;
    if (which == API_CRL_DOC_DER || which == API_CRL_DOC_ROOT_DER) {
        const unsigned char *p = resp->body;
        x = d2i_X509_CRL(NULL, &p, (long)resp->body_len);
    } else {
        BIO *bio = BIO_new_mem_buf(resp->body, (int)resp->body_len);
        x = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
        BIO_free(bio);
    }
    cr_assert_not_null(x);
    return x;
}

static long crl_number(X509_CRL *x)
{
    ASN1_INTEGER *n = X509_CRL_get_ext_d2i(x, NID_crl_number, NULL, NULL);
    cr_assert_not_null(n);
    long v = ASN1_INTEGER_get(n);
    ASN1_INTEGER_free(n);
    return v;
}

/* num_revoked counts the entries (an empty CRL has no list at all). */
static int num_revoked(X509_CRL *x)
{
    STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(x);
    return revs == NULL ? 0 : sk_X509_REVOKED_num(revs);
}

static int lists(X509_CRL *x, unsigned char n)
{
    STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(x);
    for (int i = 0; i < sk_X509_REVOKED_num(revs); i++) {
        const ASN1_INTEGER *s = X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revs, i));
        if (ASN1_INTEGER_get(s) == (0x42L << 8 | n)) {
            return 1;
        }
    }
    return 0;
}

/* wait_number polls until the CRL number passes |than| (at most 5 s). */
static X509_CRL *wait_number(struct api_crl *crl, uint64_t than)
{
    for (int i = 0; i < 500 && api_crl_number(crl) <= than; i++) {
        usleep(10000);
    }
    struct api_response resp;
    X509_CRL *x = fetch(crl, API_CRL_DOC_DER, &resp);
    api_response_cleanup(&resp);
    return x;
}

/* now_ms returns the wall clock in milliseconds since the epoch. */
static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

Test(api_crl, signs_a_first_crl_that_verifies_with_the_intermediate)
{
    struct api_crl *crl = NULL;
    struct api_response resp;
    char etag[40];

    cr_assert_eq(api_crl_new(issuer, st, &cfg, &crl, NULL), API_OK);
    X509_CRL *x = fetch(crl, API_CRL_DOC_DER, &resp);
    cr_assert_str_eq(resp.content_type, "application/pkix-crl");
    cr_assert_eq(X509_CRL_verify(x, pki.inter_key), 1);
    cr_assert_eq((uint64_t)crl_number(x), api_crl_number(crl));
    cr_assert_eq(num_revoked(x), 0);
    snprintf(etag, sizeof(etag), "\"%lx\"", crl_number(x));
    cr_assert_str_eq(resp.etag, etag);
    cr_assert_str_eq(resp.cache_control, "public, max-age=3600");
    cr_assert_neq(resp.last_modified[0], '\0');
    cr_assert_neq(resp.expires[0], '\0');
    X509_CRL_free(x);
    api_response_cleanup(&resp);
    api_crl_free(crl);
}

Test(api_crl, resigns_after_a_revocation_listing_the_serial)
{
    struct api_crl *crl = NULL;

    put_record(1, api_now() + 3600);
    put_record(2, api_now() + 3600);
    cr_assert_eq(api_crl_new(issuer, st, &cfg, &crl, NULL), API_OK);
    uint64_t before = api_crl_number(crl);
    revoke_serial(1, CA_REASON_KEY_COMPROMISE);
    api_crl_revoked(crl);
    X509_CRL *x = wait_number(crl, before);
    cr_assert_gt((uint64_t)crl_number(x), before);
    cr_assert(lists(x, 1));
    cr_assert_not(lists(x, 2));
    cr_assert_eq(X509_CRL_verify(x, pki.inter_key), 1);
    X509_CRL_free(x);
    api_crl_free(crl);
}

Test(api_crl, coalesces_a_burst_of_revocations_into_few_crls)
{
    struct api_crl *crl = NULL;

    for (unsigned char n = 1; n <= 50; n++) {
        put_record(n, api_now() + 3600);
    }
    /* With the store's number far ahead of the clock, each CRL takes the
     * next number after it, so the numbers count the CRLs. */
    uint64_t ahead = 0;
    cr_assert_eq(store_crl_number_advance(st, now_ms() + 1000000000000ull, &ahead), STORE_OK);
    cr_assert_eq(api_crl_new(issuer, st, &cfg, &crl, NULL), API_OK);
    uint64_t before = api_crl_number(crl);
    cr_assert_eq(before, ahead + 1);
    for (unsigned char n = 1; n <= 50; n++) {
        revoke_serial(n, CA_REASON_SUPERSEDED);
        api_crl_revoked(crl);
    }
    X509_CRL *x = NULL;
    for (int i = 0; i < 500; i++) {
        x = wait_number(crl, before);
        if (lists(x, 50)) {
            break;
        }
        X509_CRL_free(x);
        x = NULL;
        usleep(10000);
    }
    cr_assert_not_null(x, "the last revocation never reached the CRL");
    cr_assert_eq(num_revoked(x), 50);
    /* 50 revocations, each committed (and synced) before the next: far
     * fewer CRLs than revocations. */
    cr_assert_lt(api_crl_number(crl) - before, 50);
    X509_CRL_free(x);
    api_crl_free(crl);
}

static int64_t unix_time(const ASN1_TIME *t)
{
    struct tm tm;
    cr_assert_eq(ASN1_TIME_to_tm(t, &tm), 1);
    return (int64_t)timegm(&tm);
}

Test(api_crl, backdates_this_update_by_a_minute_but_not_next_update)
{
    struct api_crl *crl = NULL;
    struct api_response resp;
    char date[40];

    int64_t before = api_now();
    cr_assert_eq(api_crl_new(issuer, st, &cfg, &crl, NULL), API_OK);
    int64_t after = api_now();
    X509_CRL *x = fetch(crl, API_CRL_DOC_DER, &resp);
    int64_t this_update = unix_time(X509_CRL_get0_lastUpdate(x));
    int64_t next_update = unix_time(X509_CRL_get0_nextUpdate(x));
    cr_assert(this_update >= before - 60 && this_update <= after - 60, "thisUpdate %lld",
              (long long)this_update);
    cr_assert_eq(next_update, this_update + 60 + cfg.crl_validity_s);
    /* The caching headers follow the CRL's own dates. */
    cr_assert(api_http_date(this_update, date, sizeof(date)));
    cr_assert_str_eq(resp.last_modified, date);
    cr_assert(api_http_date(next_update, date, sizeof(date)));
    cr_assert_str_eq(resp.expires, date);
    X509_CRL_free(x);
    api_response_cleanup(&resp);
    api_crl_free(crl);
}

Test(api_crl, numbers_a_crl_with_the_signing_time_in_milliseconds)
{
    struct api_crl *crl = NULL;

    uint64_t before = now_ms();
    cr_assert_eq(api_crl_new(issuer, st, &cfg, &crl, NULL), API_OK);
    uint64_t after = now_ms();
    uint64_t n = api_crl_number(crl);
    cr_assert(n >= before && n <= after, "%llu not in [%llu, %llu]", (unsigned long long)n,
              (unsigned long long)before, (unsigned long long)after);
    api_crl_free(crl);
    /* A new store, as after restoring a backup: numbers still grow. */
    store_close(st);
    testfs_rmtree(db);
    open_store();
    cr_assert_eq(api_crl_new(issuer, st, &cfg, &crl, NULL), API_OK);
    cr_assert_gt(api_crl_number(crl), n);
    api_crl_free(crl);
}

Test(api_crl, numbers_above_the_store_when_the_clock_is_behind_it)
{
    struct api_crl *crl = NULL;
    uint64_t ahead = 0;

    /* Numbers recorded while the clock ran a day ahead. */
    cr_assert_eq(store_crl_number_advance(st, now_ms() + 86400000u, &ahead), STORE_OK);
    cr_assert_eq(api_crl_new(issuer, st, &cfg, &crl, NULL), API_OK);
    cr_assert_eq(api_crl_number(crl), ahead + 1);
    api_crl_free(crl);
}

Test(api_crl, never_reuses_a_crl_number_after_a_restart)
{
    struct api_crl *crl = NULL;

    cr_assert_eq(api_crl_new(issuer, st, &cfg, &crl, NULL), API_OK);
    uint64_t first = api_crl_number(crl);
    api_crl_free(crl);
    store_close(st);
    open_store();
    cr_assert_eq(api_crl_new(issuer, st, &cfg, &crl, NULL), API_OK);
    cr_assert_gt(api_crl_number(crl), first);
    api_crl_free(crl);
}

Test(api_crl, keeps_expired_revoked_certificates_for_two_refreshes)
{
    struct api_crl *crl = NULL;
    struct api_response resp;
    int64_t now = api_now();

    /* crl.refresh is 3600 s, so the boundary is notAfter = now - 7200. 1 is
     * valid; 2 expired over one refresh ago, when the first CRL after its
     * expiry may not be out yet; 3 is just inside two refreshes, 4 just past. */
    put_record(1, now + 3600);
    put_record(2, now - 3600 - 30);
    put_record(3, now - 2 * 3600 + 30);
    put_record(4, now - 2 * 3600 - 30);
    for (unsigned char n = 1; n <= 4; n++) {
        revoke_serial(n, CA_REASON_KEY_COMPROMISE);
    }
    cr_assert_eq(api_crl_new(issuer, st, &cfg, &crl, NULL), API_OK);
    X509_CRL *x = fetch(crl, API_CRL_DOC_DER, &resp);
    cr_assert(lists(x, 1));
    cr_assert(lists(x, 2));
    cr_assert(lists(x, 3));
    cr_assert_not(lists(x, 4));
    X509_CRL_free(x);
    api_response_cleanup(&resp);
    api_crl_free(crl);
}

Test(api_crl, keeps_records_in_the_store_while_the_crl_may_list_them)
{
    cr_assert_eq(api_store_retention_s(&cfg), API_STORE_RETENTION_S);
    /* A 5-day refresh keeps revoked entries 10 days: no pruning before. */
    cfg.crl_refresh_s = 5 * 86400;
    cr_assert_eq(api_store_retention_s(&cfg), 10 * 86400);
}

Test(api_crl, answers_not_found_for_the_root_crl_when_none_is_configured)
{
    struct api_crl *crl = NULL;
    struct api_response resp;
    struct api_error err = {0};

    memset(&resp, 0, sizeof(resp));
    cr_assert_eq(api_crl_new(issuer, st, &cfg, &crl, NULL), API_OK);
    cr_assert_eq(api_crl_respond(crl, API_CRL_DOC_ROOT_DER, api_now(), &resp, &err),
                 API_ERR_NOT_FOUND);
    X509_CRL *x = fetch(crl, API_CRL_DOC_ALL_PEM, &resp);
    cr_assert_eq(X509_CRL_verify(x, pki.inter_key), 1);
    X509_CRL_free(x);
    api_response_cleanup(&resp);
    api_crl_free(crl);
}

/* write_der writes |der| to dir/|name| and puts its path in |path|. */
static void write_der(const unsigned char *der, size_t der_len, const char *name, char *path,
                      size_t path_len)
{
    snprintf(path, path_len, "%s/%s", pki.dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(der, 1, der_len, f), der_len);
    fclose(f);
}

/* write_crl_file_at writes a DER CRL signed by |key| for |issuer_cert|,
 * valid from |this_update| to |next_update|, to dir/|name| and puts its path
 * in |path|. */
static void write_crl_file_at(X509 *issuer_cert, EVP_PKEY *key, uint64_t number,
                              int64_t this_update, int64_t next_update, const char *name,
                              char *path, size_t path_len)
{
    unsigned char *der = NULL;
    size_t der_len = 0;
    struct ca_error cerr = {0};

    cr_assert_eq(ca_crl_build(issuer_cert, key, NULL, 0, number, this_update, next_update, &der,
                              &der_len, &cerr),
                 CA_OK, "%s", cerr.msg);
    write_der(der, der_len, name, path, path_len);
    OPENSSL_free(der);
}

/* write_crl_file writes a DER CRL valid from now for a day. */
static void write_crl_file(X509 *issuer_cert, EVP_PKEY *key, uint64_t number, const char *name,
                           char *path, size_t path_len)
{
    int64_t now = api_now();
    write_crl_file_at(issuer_cert, key, number, now, now + 86400, name, path, path_len);
}

/* write_root_crl writes a CRL signed by |key| for |issuer_cert| to dir/name
 * and makes it pki.root_crl (before api_crl_new only: the publisher reads cfg). */
static void write_root_crl(X509 *issuer_cert, EVP_PKEY *key, uint64_t number, const char *name)
{
    write_crl_file(issuer_cert, key, number, name, cfg.pki_root_crl, sizeof(cfg.pki_root_crl));
}

Test(api_crl, serves_the_root_crl_and_both_crls_in_crls_pem)
{
    struct api_crl *crl = NULL;
    struct api_response resp;

    write_root_crl(pki.root, pki.root_key, 7, "root.crl");
    cr_assert_eq(api_crl_new(issuer, st, &cfg, &crl, NULL), API_OK);
    X509_CRL *root = fetch(crl, API_CRL_DOC_ROOT_DER, &resp);
    cr_assert_eq(X509_CRL_verify(root, pki.root_key), 1);
    cr_assert_eq(crl_number(root), 7);
    X509_CRL_free(root);
    api_response_cleanup(&resp);

    memset(&resp, 0, sizeof(resp));
    cr_assert_eq(api_crl_respond(crl, API_CRL_DOC_ALL_PEM, api_now(), &resp, NULL), API_OK);
    BIO *bio = BIO_new_mem_buf(resp.body, (int)resp.body_len);
    X509_CRL *first = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
    X509_CRL *second = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
    cr_assert_not_null(first);
    cr_assert_not_null(second);
    cr_assert_eq(X509_CRL_verify(first, pki.inter_key), 1);
    cr_assert_eq(X509_CRL_verify(second, pki.root_key), 1);
    X509_CRL_free(first);
    X509_CRL_free(second);
    BIO_free(bio);
    api_response_cleanup(&resp);
    api_crl_free(crl);
}

Test(api_crl, refuses_a_root_crl_not_signed_by_a_root)
{
    struct api_crl *crl = NULL;
    struct api_error err = {0};

    /* Signed by the intermediate: a CRL, but not the root's. */
    write_root_crl(pki.inter, pki.inter_key, 1, "fake.crl");
    cr_assert_eq(api_crl_new(issuer, st, &cfg, &crl, &err), API_ERR_BAD_REQUEST);
    cr_assert_null(crl);
    cr_assert(strstr(err.msg, "pki.root_crl") != NULL, "%s", err.msg);
}

Test(api_crl, refuses_a_root_crl_file_that_is_not_a_crl)
{
    struct api_crl *crl = NULL;
    struct api_error err = {0};
    char path[256];

    testpki_write(&pki, "junk.crl", "not a CRL\n", 10, path, sizeof(path));
    snprintf(cfg.pki_root_crl, sizeof(cfg.pki_root_crl), "%s", path);
    cr_assert_eq(api_crl_new(issuer, st, &cfg, &crl, &err), API_ERR_BAD_REQUEST);
    cr_assert_null(crl);
}

Test(api_crl, rereads_the_root_crl_when_the_file_changes)
{
    struct api_crl *crl = NULL;
    struct api_response resp;

    write_root_crl(pki.root, pki.root_key, 1, "root.crl");
    cr_assert_eq(api_crl_new(issuer, st, &cfg, &crl, NULL), API_OK);
    /* A different size and a new inode, whatever the mtime granularity. */
    char fresh[API_MAX_PATH_LEN];
    write_crl_file(pki.root, pki.root_key, 0x123456789, "root2.crl", fresh, sizeof(fresh));
    cr_assert_eq(rename(fresh, cfg.pki_root_crl), 0);
    long number = 0;
    for (int i = 0; i < 100 && number != 0x123456789; i++) {
        usleep(100000);
        X509_CRL *x = fetch(crl, API_CRL_DOC_ROOT_DER, &resp);
        number = crl_number(x);
        X509_CRL_free(x);
        api_response_cleanup(&resp);
    }
    cr_assert_eq(number, 0x123456789);
    api_crl_free(crl);
}

Test(api_crl, prunes_records_expired_past_the_retention_at_a_scheduled_refresh)
{
    struct api_crl *crl = NULL;
    unsigned char old[2] = {0x42, 1};
    unsigned char fresh[2] = {0x42, 2};
    struct store_record rec = {0};

    put_record(1, api_now() - API_STORE_RETENTION_S - 3600);
    put_record(2, api_now() + 3600);
    cr_assert_eq(store_jti_use(st, "spent", 5, api_now() - 3600), STORE_OK);
    cfg.crl_refresh_s = 1;
    cr_assert_eq(api_crl_new(issuer, st, &cfg, &crl, NULL), API_OK);
    enum store_err src = STORE_OK;
    for (int i = 0; i < 40 && src != STORE_ERR_NOT_FOUND; i++) {
        usleep(100 * 1000);
        src = store_get(st, old, sizeof(old), &rec);
        store_record_cleanup(&rec);
    }
    api_crl_free(crl);
    cr_assert_eq(src, STORE_ERR_NOT_FOUND, "the long-expired record was not pruned");
    cr_assert_eq(store_get(st, fresh, sizeof(fresh), &rec), STORE_OK);
    store_record_cleanup(&rec);
    /* The expired jti is gone too, so the same id is accepted again. */
    cr_assert_eq(store_jti_use(st, "spent", 5, api_now() + 60), STORE_OK);
}

/* ---- Replacing the root's CRL ---- */

/* log_capture sends this test process's stderr, where the publisher logs,
 * to dir/log; log_count counts the lines holding |needle| so far. */
static char log_path[256];

static void log_capture(void)
{
    snprintf(log_path, sizeof(log_path), "%s/log", pki.dir);
    fflush(stderr);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    close(fd);
}

static int log_count(const char *needle)
{
    char line[1024];
    int n = 0;

    fflush(stderr);
    FILE *f = fopen(log_path, "r");
    cr_assert_not_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        n += strstr(line, needle) != NULL;
    }
    fclose(f);
    return n;
}

/* root_number returns the cRLNumber of the root CRL served now. */
static long root_number(struct api_crl *crl)
{
    struct api_response resp;
    X509_CRL *x = fetch(crl, API_CRL_DOC_ROOT_DER, &resp);
    long n = crl_number(x);
    X509_CRL_free(x);
    api_response_cleanup(&resp);
    return n;
}

/* replace_root moves dir/|name| over pki.root_crl, as an operator would. */
static void replace_root(const char *name)
{
    char path[API_MAX_PATH_LEN];
    snprintf(path, sizeof(path), "%s/%s", pki.dir, name);
    cr_assert_eq(rename(path, cfg.pki_root_crl), 0);
}

/* wait_root polls until the root CRL served has |number| (at most 10 s). */
static long wait_root(struct api_crl *crl, long number)
{
    long n = root_number(crl);
    for (int i = 0; i < 100 && n != number; i++) {
        usleep(100000);
        n = root_number(crl);
    }
    return n;
}

/* Long enough for the publisher to look at the file (every
 * API_ROOT_CRL_CHECK_S) twice: once to refuse it, once more to show that
 * the refusal is not logged again. */
#define TWO_CHECKS_US ((2 * API_ROOT_CRL_CHECK_S + 1) * 1000000)

Test(api_crl, refuses_an_older_root_crl_once_and_keeps_serving_the_current_one)
{
    struct api_crl *crl = NULL;
    char path[API_MAX_PATH_LEN];

    log_capture();
    write_root_crl(pki.root, pki.root_key, 10, "root.crl");
    cr_assert_eq(api_crl_new(issuer, st, &cfg, &crl, NULL), API_OK);
    /* Validly signed, but older: it would un-revoke what 10 revoked. */
    write_crl_file(pki.root, pki.root_key, 9, "older.crl", path, sizeof(path));
    replace_root("older.crl");
    usleep(TWO_CHECKS_US);
    cr_assert_eq(root_number(crl), 10);
    cr_assert_eq(log_count("pki.root_crl loaded: CRL number 0x0A"), 1);
    cr_assert_eq(log_count("CRL number 0x09 is not greater than the served one's (0x0A)"), 1);
    /* The same number is no newer either. */
    write_crl_file(pki.root, pki.root_key, 10, "same.crl", path, sizeof(path));
    replace_root("same.crl");
    usleep(TWO_CHECKS_US);
    cr_assert_eq(root_number(crl), 10);
    cr_assert_eq(log_count("CRL number 0x0A is not greater"), 1);
    /* A newer one is taken, and its reload logged with its number. */
    write_crl_file(pki.root, pki.root_key, 11, "newer.crl", path, sizeof(path));
    replace_root("newer.crl");
    cr_assert_eq(wait_root(crl, 11), 11);
    cr_assert_eq(log_count("pki.root_crl loaded: CRL number 0x0B"), 1);
    api_crl_free(crl);
}

Test(api_crl, refuses_an_expired_replacement_root_crl_once)
{
    struct api_crl *crl = NULL;
    char path[API_MAX_PATH_LEN];
    int64_t now = api_now();

    log_capture();
    write_root_crl(pki.root, pki.root_key, 10, "root.crl");
    cr_assert_eq(api_crl_new(issuer, st, &cfg, &crl, NULL), API_OK);
    write_crl_file_at(pki.root, pki.root_key, 20, now - 7200, now - 60, "expired.crl", path,
                      sizeof(path));
    replace_root("expired.crl");
    usleep(TWO_CHECKS_US);
    cr_assert_eq(root_number(crl), 10);
    cr_assert_eq(log_count("CRL number 0x14 has expired"), 1);
    cr_assert_eq(log_count("pki.root_crl loaded"), 1);
    api_crl_free(crl);
}

Test(api_crl, serves_an_expired_root_crl_at_start_up_with_a_warning)
{
    struct api_crl *crl = NULL;
    int64_t now = api_now();

    log_capture();
    write_crl_file_at(pki.root, pki.root_key, 10, now - 7200, now - 60, "root.crl",
                      cfg.pki_root_crl, sizeof(cfg.pki_root_crl));
    cr_assert_eq(api_crl_new(issuer, st, &cfg, &crl, NULL), API_OK);
    cr_assert_eq(root_number(crl), 10);
    cr_assert_eq(log_count("\"level\":\"warn\",\"msg\":\"pki.root_crl has expired"), 1);
    api_crl_free(crl);
}

Test(api_crl, treats_a_copy_of_the_served_root_crl_as_no_change)
{
    struct api_crl *crl = NULL;
    char copy[API_MAX_PATH_LEN];
    unsigned char buf[4096];

    log_capture();
    write_root_crl(pki.root, pki.root_key, 10, "root.crl");
    FILE *f = fopen(cfg.pki_root_crl, "rb");
    cr_assert_not_null(f);
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    cr_assert_eq(api_crl_new(issuer, st, &cfg, &crl, NULL), API_OK);
    /* Another inode and mtime, the same bytes: a redeployed Secret. */
    write_der(buf, n, "copy.crl", copy, sizeof(copy));
    replace_root("copy.crl");
    usleep(TWO_CHECKS_US);
    cr_assert_eq(root_number(crl), 10);
    cr_assert_eq(log_count("pki.root_crl"), 1, "only the start-up load is logged");
    api_crl_free(crl);
}

Test(api_crl, refuses_a_root_crl_without_a_crl_number)
{
    struct api_crl *crl = NULL;
    struct api_error err = {0};
    X509_CRL *x = X509_CRL_new();
    ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t)api_now());
    unsigned char *der = NULL;

    cr_assert(x != NULL && t != NULL);
    cr_assert_eq(X509_CRL_set_version(x, X509_CRL_VERSION_2), 1);
    cr_assert_eq(X509_CRL_set_issuer_name(x, X509_get_subject_name(pki.root)), 1);
    cr_assert_eq(X509_CRL_set1_lastUpdate(x, t), 1);
    cr_assert_gt(X509_CRL_sign(x, pki.root_key, EVP_sha256()), 0);
    int len = i2d_X509_CRL(x, &der);
    cr_assert_gt(len, 0);
    write_der(der, (size_t)len, "unnumbered.crl", cfg.pki_root_crl, sizeof(cfg.pki_root_crl));
    cr_assert_eq(api_crl_new(issuer, st, &cfg, &crl, &err), API_ERR_BAD_REQUEST);
    cr_assert(strstr(err.msg, "cRLNumber") != NULL, "%s", err.msg);
    OPENSSL_free(der);
    ASN1_TIME_free(t);
    X509_CRL_free(x);
}

/* kube_publish writes a root CRL numbered |number| as dir/kube/|gen|/root.crl,
 * then points dir/kube/..data at |gen| with a rename over the old link, as
 * the kubelet updates a ConfigMap or Secret volume. */
static void kube_publish(const char *gen, uint64_t number)
{
    char path[API_MAX_PATH_LEN];
    char name[64];
    char link[API_MAX_PATH_LEN];
    char data[API_MAX_PATH_LEN];

    snprintf(path, sizeof(path), "%s/kube/%s", pki.dir, gen);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(name, sizeof(name), "kube/%s/root.crl", gen);
    write_crl_file(pki.root, pki.root_key, number, name, path, sizeof(path));
    snprintf(link, sizeof(link), "%s/kube/..data_tmp", pki.dir);
    snprintf(data, sizeof(data), "%s/kube/..data", pki.dir);
    cr_assert_eq(symlink(gen, link), 0);
    cr_assert_eq(rename(link, data), 0);
}

Test(api_crl, follows_a_symlinked_root_crl_as_kubernetes_volumes_present_it)
{
    struct api_crl *crl = NULL;
    struct api_error err = {0};
    char dir[API_MAX_PATH_LEN];

    snprintf(dir, sizeof(dir), "%s/kube", pki.dir);
    cr_assert_eq(mkdir(dir, 0755), 0);
    kube_publish("..2026_11_27_10_00_00.1", 10);
    snprintf(cfg.pki_root_crl, sizeof(cfg.pki_root_crl), "%s/kube/root.crl", pki.dir);
    cr_assert_eq(symlink("..data/root.crl", cfg.pki_root_crl), 0);
    cr_assert_eq(api_crl_new(issuer, st, &cfg, &crl, &err), API_OK, "%s", err.msg);
    cr_assert_eq(root_number(crl), 10);
    kube_publish("..2026_11_28_10_00_00.2", 11);
    cr_assert_eq(wait_root(crl, 11), 11);
    api_crl_free(crl);
}

/* write_revoking_root_crl writes a root CRL numbered |number| that revokes
 * our intermediate, to dir/|name|. */
static void write_revoking_root_crl(uint64_t number, const char *name, char *path, size_t len)
{
    struct ca_crl_entry e = {.revoked_at = api_now() - 60, .reason = CA_REASON_CA_COMPROMISE};
    const ASN1_INTEGER *serial = X509_get0_serialNumber(pki.inter);
    unsigned char *der = NULL;
    size_t der_len = 0;
    int64_t now = api_now();

    cr_assert_leq(serial->length, CA_MAX_SERIAL_LEN);
    memcpy(e.serial, serial->data, (size_t)serial->length);
    e.serial_len = (size_t)serial->length;
    cr_assert_eq(
        ca_crl_build(pki.root, pki.root_key, &e, 1, number, now, now + 86400, &der, &der_len, NULL),
        CA_OK);
    write_der(der, der_len, name, path, len);
    OPENSSL_free(der);
}

Test(api_crl, says_when_the_root_crl_revokes_the_intermediate)
{
    struct api_crl *crl = NULL;
    char path[API_MAX_PATH_LEN];

    log_capture();
    write_revoking_root_crl(10, "root.crl", cfg.pki_root_crl, sizeof(cfg.pki_root_crl));
    cr_assert_eq(api_crl_new(issuer, st, &cfg, &crl, NULL), API_OK);
    cr_assert(api_crl_intermediate_revoked(crl));
    cr_assert_eq(log_count("\"level\":\"error\",\"msg\":\"the intermediate is revoked by "
                           "pki.root_crl"),
                 1);
    /* A newer root CRL without the entry (the hold released). */
    write_crl_file(pki.root, pki.root_key, 11, "newer.crl", path, sizeof(path));
    replace_root("newer.crl");
    cr_assert_eq(wait_root(crl, 11), 11);
    cr_assert_not(api_crl_intermediate_revoked(crl));
    api_crl_free(crl);
}

Test(api_crl, says_the_intermediate_is_not_revoked_without_a_root_crl)
{
    struct api_crl *crl = NULL;

    cr_assert_not(api_crl_intermediate_revoked(NULL));
    cr_assert_eq(api_crl_new(issuer, st, &cfg, &crl, NULL), API_OK);
    cr_assert_not(api_crl_intermediate_revoked(crl));
    api_crl_free(crl);
}
