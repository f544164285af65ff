/* bench_ca_issue.c: certificates per second for the engine's full issuance
 * path (PEM CSR in, signed DER + PEM out, P-256 CSR and intermediate) on one
 * and two threads, next to OpenSSL's convenience path (PEM_read_bio_X509_REQ,
 * X509_REQ_verify, X509_set_pubkey, X509_sign) and to `openssl speed
 * ecdsap256` from the same run, which bounds the engine at one verify plus
 * one sign per certificate. On a shared machine wall-clock figures move with
 * other load; CPU microseconds per certificate and "busy" (CPU time over
 * threads x wall time) tell contention from preemption.
 *
 * usage: bench_ca_issue [seconds per measurement, default 3] [engine | peer | count N]
 * ("engine": measure only the engine, on one and two threads, for profiling;
 * "peer": measure ca_issuer_verify_peer, the check of a client certificate
 * that starts every renewal, on one and two threads;
 * "count N": issue exactly N certificates on this thread and print the CPU
 * microseconds per certificate, for instruction counts under
 * valgrind --tool=callgrind, which are repeatable where timings are not) */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/rand.h>

#include "ca.h"
#include "testpki.h"

#define NUM_CSRS 16

struct bench {
    const struct ca_issuer *issuer;
    const struct testpki *pki;
    char *csr[NUM_CSRS];
    size_t csr_len[NUM_CSRS];
    unsigned char *peer_der[NUM_CSRS]; /* leaves issued from csr[], for "peer" */
    size_t peer_der_len[NUM_CSRS];
    double seconds;
    enum {
        MODE_ENGINE,
        MODE_NAIVE,
        MODE_PEER
    } mode;
    atomic_long done;
    atomic_long cpu_ns; /* CPU time the worker threads used */
    atomic_int failed;
};

static const struct ca_identity ident = {.spiffe_id = "spiffe://example.org/ns/default/sa/web"};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* naive_issue is the straightforward OpenSSL 3.0 way, for comparison: no
 * profile extensions, so it does strictly less than the engine. */
static int naive_issue(const struct bench *b, const char *pem, size_t len)
{
    int ok = 0;
    BIO *in = BIO_new_mem_buf(pem, (int)len);
    BIO *out = BIO_new(BIO_s_mem());
    X509_REQ *req = PEM_read_bio_X509_REQ(in, NULL, NULL, NULL);
    X509 *x = X509_new();
    unsigned char serial[16];
    unsigned char *der = NULL;
    if (req == NULL || x == NULL || out == NULL) {
        goto out;
    }
    EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
    if (pub == NULL || X509_REQ_verify(req, pub) != 1 || RAND_bytes(serial, 16) != 1) {
        goto out;
    }
    serial[0] = (unsigned char)((serial[0] & 0x7f) | 1);
    time_t t = time(NULL);
    if (X509_set_version(x, X509_VERSION_3) != 1 ||
        ASN1_STRING_set(X509_get_serialNumber(x), serial, 16) != 1 ||
        X509_set_issuer_name(x, X509_get_subject_name(b->pki->inter)) != 1 ||
        ASN1_TIME_set(X509_getm_notBefore(x), t - 60) == NULL ||
        ASN1_TIME_set(X509_getm_notAfter(x), t + 3600) == NULL || X509_set_pubkey(x, pub) != 1 ||
        X509_sign(x, b->pki->inter_key, EVP_sha256()) <= 0 || i2d_X509(x, &der) <= 0 ||
        PEM_write_bio_X509(out, x) != 1) {
        goto out;
    }
    ok = 1;
out:
    OPENSSL_free(der);
    X509_free(x);
    X509_REQ_free(req);
    BIO_free(out);
    BIO_free(in);
    return ok;
}

static long thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void *run(void *arg)
{
    struct bench *b = arg;
    long cpu0 = thread_cpu_ns();
    double end = now_s() + b->seconds;
    long n = 0;
    while (now_s() < end) {
        for (int i = 0; i < NUM_CSRS; i++) {
            if (b->mode == MODE_NAIVE) {
                if (!naive_issue(b, b->csr[i], b->csr_len[i])) {
                    atomic_store(&b->failed, 1);
                    return NULL;
                }
                continue;
            }
            if (b->mode == MODE_PEER) {
                struct ca_peer peer;
                struct ca_error err = {0};
                if (ca_issuer_verify_peer(b->issuer, b->peer_der[i], b->peer_der_len[i],
                                          (int64_t)time(NULL), &peer, &err) != CA_OK) {
                    fprintf(stderr, "verify_peer failed: %s\n", err.msg);
                    atomic_store(&b->failed, 1);
                    return NULL;
                }
                continue;
            }
            struct ca_leaf leaf = {0};
            struct ca_error err = {0};
            if (ca_leaf_issue(b->issuer, b->csr[i], b->csr_len[i], &ident, 0, (int64_t)time(NULL),
                              &leaf, &err) != CA_OK) {
                fprintf(stderr, "issue failed: %s\n", err.msg);
                atomic_store(&b->failed, 1);
                return NULL;
            }
            ca_leaf_cleanup(&leaf);
        }
        n += NUM_CSRS;
    }
    atomic_fetch_add(&b->done, n);
    atomic_fetch_add(&b->cpu_ns, thread_cpu_ns() - cpu0);
    return NULL;
}

/* issue_n issues |count| certificates on the calling thread. */
static int issue_n(struct bench *b, long count)
{
    long cpu0 = thread_cpu_ns();
    for (long n = 0; n < count; n++) {
        struct ca_leaf leaf = {0};
        struct ca_error err = {0};
        if (ca_leaf_issue(b->issuer, b->csr[n % NUM_CSRS], b->csr_len[n % NUM_CSRS], &ident, 0,
                          (int64_t)time(NULL), &leaf, &err) != CA_OK) {
            fprintf(stderr, "issue failed: %s\n", err.msg);
            return 1;
        }
        ca_leaf_cleanup(&leaf);
    }
    printf("engine: %ld certificates, %.1f CPU-us/cert\n", count,
           (double)(thread_cpu_ns() - cpu0) / 1e3 / (double)count);
    return 0;
}

struct result {
    double per_s;  /* certificates per second of wall-clock time */
    double cpu_us; /* CPU microseconds per certificate, all threads */
    double busy; /* CPU time / (threads * wall time): below 1 when threads wait or are preempted */
};

static struct result measure(struct bench *b, int threads, int mode)
{
    pthread_t t[2];
    b->mode = mode;
    atomic_store(&b->done, 0);
    atomic_store(&b->cpu_ns, 0);
    double start = now_s();
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&t[i], NULL, run, b) != 0) {
            exit(1);
        }
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
    }
    double elapsed = now_s() - start;
    if (atomic_load(&b->failed)) {
        fprintf(stderr, "bench: issuance failed\n");
        exit(1);
    }
    double done = (double)atomic_load(&b->done);
    double cpu_s = (double)atomic_load(&b->cpu_ns) / 1e9;
    return (struct result){done / elapsed, 1e6 * cpu_s / done, cpu_s / (threads * elapsed)};
}

static void report(const char *what, int threads, struct result r, struct result one)
{
    printf("%-42s %d thread%s %7.0f certs/s  x%.2f  %6.1f CPU-us/cert  busy %3.0f%%\n", what,
           threads, threads == 1 ? " " : "s", r.per_s, r.per_s / one.per_s, r.cpu_us,
           100.0 * r.busy);
}

/* openssl_speed runs `openssl speed -seconds 3 ecdsap256` and reads the
 * sign/s and verify/s columns of its last line. */
static int openssl_speed(double *sign_s, double *verify_s)
{
    char line[512];
    char last[512] = "";
    FILE *p = popen("openssl speed -seconds 3 ecdsap256 2>/dev/null", "r");
    if (p == NULL) {
        return 0;
    }
    while (fgets(line, sizeof(line), p) != NULL) {
        if (strstr(line, "nistp256") != NULL) {
            memcpy(last, line, sizeof(line));
        }
    }
    pclose(p);
    /* " 256 bits ecdsa (nistp256)   0.0000s   0.0001s  29900.0  10493.8" */
    const char *q = strstr(last, "(nistp256)");
    double t_sign = 0;
    double t_verify = 0;
    if (q == NULL ||
        sscanf(q, "(nistp256) %lfs %lfs %lf %lf", &t_sign, &t_verify, sign_s, verify_s) != 4) {
        return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    struct testpki pki;
    struct ca_issuer *issuer = NULL;
    struct ca_error err = {0};
    struct ca_policy policy = {
        .trust_domain = "example.org",
        .public_url = "http://127.0.0.1:8080",
        .default_ttl_s = 3600,
        .max_ttl_s = 86400,
    };
    static struct bench b;
    char *end = NULL;

    b.seconds = 3;
    long count = 0;
    if (argc > 3 && strcmp(argv[2], "count") == 0) {
        count = strtol(argv[3], &end, 10);
        if (end == argv[3] || *end != '\0' || count <= 0 || count > 10000000) {
            fprintf(stderr, "usage: %s [seconds] [engine | peer | count N]\n", argv[0]);
            return 2;
        }
    }
    if (argc > 1) {
        b.seconds = strtod(argv[1], &end);
        if (end == argv[1] || *end != '\0' || b.seconds <= 0 || b.seconds > 600) {
            fprintf(stderr, "usage: %s [seconds]\n", argv[0]);
            return 2;
        }
    }
    testpki_init(&pki, "example.org");
    if (ca_issuer_new(pki.inter, pki.inter_key, pki.roots, &policy, &issuer, &err) != CA_OK) {
        fprintf(stderr, "issuer: %s\n", err.msg);
        return 1;
    }
    b.issuer = issuer;
    b.pki = &pki;
    for (int i = 0; i < NUM_CSRS; i++) {
        EVP_PKEY *key = testpki_key_new(TESTPKI_P256);
        b.csr[i] = testpki_csr_pem(key, NULL, 0, 0, &b.csr_len[i]);
        EVP_PKEY_free(key);
    }

    if (count > 0) {
        if (issue_n(&b, count) != 0) {
            return 1;
        }
        goto out;
    }
    if (argc > 2 && strcmp(argv[2], "peer") == 0) {
        for (int i = 0; i < NUM_CSRS; i++) {
            struct ca_leaf leaf = {0};
            if (ca_leaf_issue(issuer, b.csr[i], b.csr_len[i], &ident, 0, (int64_t)time(NULL), &leaf,
                              &err) != CA_OK) {
                fprintf(stderr, "issue failed: %s\n", err.msg);
                return 1;
            }
            b.peer_der[i] = leaf.der; /* kept; ca_leaf_cleanup frees the rest */
            b.peer_der_len[i] = leaf.der_len;
            leaf.der = NULL;
            ca_leaf_cleanup(&leaf);
        }
        struct result p1 = measure(&b, 1, MODE_PEER);
        struct result p2 = measure(&b, 2, MODE_PEER);
        report("verify_peer (client certificate, P-256)", 1, p1, p1);
        report("verify_peer (client certificate, P-256)", 2, p2, p1);
        goto out;
    }
    struct result e1 = measure(&b, 1, MODE_ENGINE);
    struct result e2 = measure(&b, 2, MODE_ENGINE);
    if (argc > 2 && strcmp(argv[2], "engine") == 0) {
        report("engine", 1, e1, e1);
        report("engine", 2, e2, e1);
        goto out;
    }
    struct result n1 = measure(&b, 1, MODE_NAIVE);
    struct result n2 = measure(&b, 2, MODE_NAIVE);
    report("engine (PEM CSR -> DER+PEM leaf, P-256)", 1, e1, e1);
    report("engine (PEM CSR -> DER+PEM leaf, P-256)", 2, e2, e1);
    report("OpenSSL convenience path (no extensions)", 1, n1, n1);
    report("OpenSSL convenience path (no extensions)", 2, n2, n1);
    double sign_s = 0;
    double verify_s = 0;
    if (openssl_speed(&sign_s, &verify_s)) {
        /* openssl speed divides by CPU time, so compare CPU time per certificate. */
        double bound = 1.0 / (1.0 / sign_s + 1.0 / verify_s);
        double engine = 1e6 / e1.cpu_us;
        printf("openssl speed ecdsap256: %.0f sign/s, %.0f verify/s -> verify+sign bound %.0f "
               "certs per CPU-second; engine %.0f certs per CPU-second = %.0f%% of the bound\n",
               sign_s, verify_s, bound, engine, 100.0 * engine / bound);
    } else {
        printf("openssl speed ecdsap256: unavailable\n");
    }

out:
    for (int i = 0; i < NUM_CSRS; i++) {
        free(b.csr[i]);
        OPENSSL_free(b.peer_der[i]);
    }
    ca_issuer_free(issuer);
    testpki_cleanup(&pki);
    return 0;
}
