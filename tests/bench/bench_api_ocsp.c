/* bench_api_ocsp.c: the OCSP responder below HTTP (api/ocsp.c): answers per
 * second and CPU microseconds per answer for DER requests without a nonce
 * (parse + cache lookup + copy: what POST /ocsp costs besides HTTP) and with
 * a nonce (parse + store read + a fresh ECDSA P-256 signature), on one and
 * two threads, over 1000 recorded serials. tests/bench/bench_ocsp.sh measures
 * the whole server over HTTP.
 *
 * usage: bench_api_ocsp [seconds per measurement, default 2] */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/ocsp.h>
#include <openssl/rand.h>

#include "../../api/internal.h"
#include "testfs.h"
#include "testpki.h"

#define NUM_SERIALS 1000

struct bench {
    struct api_ocsp *ocsp;
    unsigned char *req[2][NUM_SERIALS]; /* [nonce][i] */
    size_t req_len[2][NUM_SERIALS];
    int nonce;
    double seconds;
    atomic_long done;
    atomic_long cpu_ns;
    atomic_int failed;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (long)ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void *worker(void *arg)
{
    struct bench *b = arg;
    long c0 = thread_cpu_ns();
    double end = now_s() + b->seconds;
    unsigned i = 0;
    long n = 0;

    RAND_bytes((unsigned char *)&i, sizeof(i));
    while (now_s() < end) {
        for (int k = 0; k < 64; k++, i++, n++) {
            struct api_response resp;
            memset(&resp, 0, sizeof(resp));
            size_t j = i % NUM_SERIALS;
            if (api_ocsp_respond_der(b->ocsp, b->req[b->nonce][j], b->req_len[b->nonce][j],
                                     api_now(), &resp, NULL) != API_OK ||
                resp.body_len < 100) {
                atomic_store(&b->failed, 1);
            }
            api_response_cleanup(&resp);
        }
    }
    atomic_fetch_add(&b->done, n);
    atomic_fetch_add(&b->cpu_ns, thread_cpu_ns() - c0);
    return NULL;
}

static void measure(struct bench *b, const char *what, int threads)
{
    pthread_t t[2];

    atomic_store(&b->done, 0);
    atomic_store(&b->cpu_ns, 0);
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        pthread_create(&t[i], NULL, worker, b);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
    }
    double wall = now_s() - t0;
    long n = atomic_load(&b->done);
    printf("%-34s %d thread%s  %10.0f answers/s  %7.2f us CPU/answer%s\n", what, threads,
           threads > 1 ? "s" : " ", (double)n / wall,
           (double)atomic_load(&b->cpu_ns) / 1e3 / (double)n,
           atomic_load(&b->failed) ? "  (FAILURES)" : "");
}

int main(int argc, char **argv)
{
    static struct bench b;
    struct testpki pki;
    struct ca_issuer *issuer = NULL;
    struct store *st = NULL;
    struct ca_error cerr = {0};
    struct ca_policy policy = {.default_ttl_s = 3600, .max_ttl_s = 86400};
    char db[160];
    static unsigned char cert[] = {0x30, 0x03, 0x02, 0x01, 0x01};

    b.seconds = argc > 1 ? strtod(argv[1], NULL) : 2.0;
    if (b.seconds <= 0 || b.seconds > 60) {
        b.seconds = 2.0;
    }
    testpki_init(&pki, "example.org");
    snprintf(policy.trust_domain, sizeof(policy.trust_domain), "example.org");
    snprintf(policy.public_url, sizeof(policy.public_url), "http://127.0.0.1:8080");
    snprintf(db, sizeof(db), "%s/db", pki.dir);
    struct store_options so = {.path = db, .map_size = 64u * 1024 * 1024};
    if (ca_issuer_new(pki.inter, pki.inter_key, pki.roots, &policy, &issuer, &cerr) != CA_OK ||
        store_open(&so, &st) != STORE_OK ||
        api_ocsp_new(issuer, st, 4 * 3600, 0, &b.ocsp, NULL) != API_OK) {
        fprintf(stderr, "bench_api_ocsp: set-up failed\n");
        return 1;
    }
    for (size_t i = 0; i < NUM_SERIALS; i++) {
        struct store_record rec = {.serial_len = 16,
                                   .spiffe_id = "spiffe://example.org/w",
                                   .issued_at = api_now(),
                                   .not_before = api_now() - 60,
                                   .not_after = api_now() + 3600,
                                   .cert_der = cert,
                                   .cert_der_len = sizeof(cert)};
        RAND_bytes(rec.serial, 16);
        rec.serial[0] = (unsigned char)(0x40 | (rec.serial[0] & 0x3f));
        if (store_put(st, &rec) != STORE_OK) {
            fprintf(stderr, "bench_api_ocsp: store_put failed\n");
            return 1;
        }
        for (int nonce = 0; nonce < 2; nonce++) {
            OCSP_REQUEST *req = OCSP_REQUEST_new();
            BIGNUM *bn = BN_bin2bn(rec.serial, 16, NULL);
            ASN1_INTEGER *s = BN_to_ASN1_INTEGER(bn, NULL);
            OCSP_CERTID *id = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(pki.inter),
                                               X509_get0_pubkey_bitstr(pki.inter), s);
            OCSP_request_add0_id(req, id);
            if (nonce) {
                OCSP_request_add1_nonce(req, NULL, 16);
            }
            unsigned char *der = NULL;
            int len = i2d_OCSP_REQUEST(req, &der);
            b.req[nonce][i] = der;
            b.req_len[nonce][i] = len > 0 ? (size_t)len : 0;
            ASN1_INTEGER_free(s);
            BN_free(bn);
            OCSP_REQUEST_free(req);
        }
    }
    printf("# api/ocsp.c below HTTP: %d serials, P-256 intermediate, %.1f s per point\n",
           NUM_SERIALS, b.seconds);
    b.nonce = 0;
    b.seconds = 0.2; /* warm the cache: every serial signed once */
    measure(&b, "warm-up (no nonce)", 1);
    b.seconds = argc > 1 ? strtod(argv[1], NULL) : 2.0;
    if (b.seconds <= 0 || b.seconds > 60) {
        b.seconds = 2.0;
    }
    measure(&b, "no nonce: pre-signed cache", 1);
    measure(&b, "no nonce: pre-signed cache", 2);
    b.nonce = 1;
    measure(&b, "nonce: store read + fresh signature", 1);
    measure(&b, "nonce: store read + fresh signature", 2);
    struct api_ocsp_stats stats;
    api_ocsp_stats_get(b.ocsp, &stats);
    printf("cache: %llu hits, %llu signatures, %llu evictions, capacity %zu\n",
           (unsigned long long)stats.hits, (unsigned long long)stats.signs,
           (unsigned long long)stats.evictions, stats.capacity);
    for (int nonce = 0; nonce < 2; nonce++) {
        for (size_t i = 0; i < NUM_SERIALS; i++) {
            OPENSSL_free(b.req[nonce][i]);
        }
    }
    api_ocsp_free(b.ocsp);
    store_close(st);
    ca_issuer_free(issuer);
    testfs_rmtree(db);
    testpki_cleanup(&pki);
    return atomic_load(&b.failed) ? 1 : 0;
}
