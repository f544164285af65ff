/* bench_store.c: store_put throughput with 1, 8 and 64 concurrent writers,
 * each put a realistic record (40-byte SPIFFE ID, 500-byte DER, random
 * 16-byte serial), and the average group-commit batch.
 * Usage: bench_store [parent-dir (default .)] [seconds per run (default 3)] */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "testfs.h"

struct run {
    struct store *st;
    atomic_int stop;
    atomic_ullong puts;
    atomic_ullong failures;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *writer(void *arg)
{
    struct run *r = arg;
    struct store_record rec;
    unsigned char cert[500];

    memset(&rec, 0, sizeof(rec));
    memset(cert, 0x5a, sizeof(cert));
    /* "spiffe://example.org/ns/prod/sa/svc-NNNN": 40 bytes */
    snprintf(rec.spiffe_id, sizeof(rec.spiffe_id), "spiffe://example.org/ns/prod/sa/svc-%04d",
             rand() % 10000);
    rec.cert_der = cert;
    rec.cert_der_len = sizeof(cert);
    rec.serial_len = 16;
    while (!atomic_load(&r->stop)) {
        if (getrandom(rec.serial, 16, 0) != 16) {
            atomic_fetch_add(&r->failures, 1);
            continue;
        }
        rec.serial[0] &= 0x7f;
        rec.issued_at = (int64_t)time(NULL);
        rec.not_before = rec.issued_at - 60;
        rec.not_after = rec.issued_at + 3600;
        if (store_put(r->st, &rec) == STORE_OK) {
            atomic_fetch_add(&r->puts, 1);
        } else {
            atomic_fetch_add(&r->failures, 1);
        }
    }
    return NULL;
}

static int run_one(struct store *st, int threads, double seconds)
{
    struct run r;
    pthread_t *t = calloc((size_t)threads, sizeof(*t));
    struct store_stats before;
    struct store_stats after;

    if (t == NULL || store_stats_get(st, &before) != STORE_OK) {
        free(t);
        return 1;
    }
    r.st = st;
    atomic_init(&r.stop, 0);
    atomic_init(&r.puts, 0);
    atomic_init(&r.failures, 0);
    double start = now_s();
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&t[i], NULL, writer, &r) != 0) {
            free(t);
            return 1;
        }
    }
    usleep((useconds_t)(seconds * 1e6));
    atomic_store(&r.stop, 1);
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
    }
    double elapsed = now_s() - start;
    free(t);
    if (store_stats_get(st, &after) != STORE_OK) {
        return 1;
    }
    uint64_t commits = after.commits - before.commits;
    uint64_t writes = after.committed - before.committed;
    printf("| %7d | %9.0f | %8llu | %7llu | %9.1f | %9.2f | %8llu |\n", threads,
           (double)atomic_load(&r.puts) / elapsed, (unsigned long long)atomic_load(&r.puts),
           (unsigned long long)commits, commits ? (double)writes / (double)commits : 0.0,
           commits ? elapsed * 1000.0 / (double)commits : 0.0,
           (unsigned long long)atomic_load(&r.failures));
    return 0;
}

int main(int argc, char **argv)
{
    char dir[4096];
    const char *parent = argc > 1 ? argv[1] : ".";
    double seconds = 3.0;
    struct store *st = NULL;
    int rc = 0;
    const int threads[] = {1, 8, 64};

    if (argc > 2) {
        char *end = NULL;
        seconds = strtod(argv[2], &end);
        if (end == argv[2] || *end != '\0' || seconds <= 0 || seconds > 600) {
            fprintf(stderr, "usage: bench_store [parent-dir] [seconds]\n");
            return 2;
        }
    }
    int n = snprintf(dir, sizeof(dir), "%s/bench-store-XXXXXX", parent);
    if (n < 0 || (size_t)n >= sizeof(dir) || mkdtemp(dir) == NULL) {
        fprintf(stderr, "bench_store: cannot make a directory under %s\n", parent);
        return 1;
    }
    struct store_options opts = {.path = dir, .map_size = (size_t)4 << 30, .max_batch = 0};
    enum store_err err = store_open(&opts, &st);
    if (err != STORE_OK) {
        fprintf(stderr, "bench_store: store_open: %s\n", store_err_name(err));
        testfs_rmtree(dir);
        return 1;
    }
    srand((unsigned)getpid());
    printf("store_put, %.1f s per run, store in %s\n", seconds, dir);
    printf("| threads | records/s |     puts | commits | avg batch | ms/commit | failures |\n");
    printf("|---------|-----------|----------|---------|-----------|-----------|----------|\n");
    for (size_t i = 0; i < sizeof(threads) / sizeof(threads[0]) && rc == 0; i++) {
        rc = run_one(st, threads[i], seconds);
    }
    struct store_stats stats;
    if (store_stats_get(st, &stats) == STORE_OK) {
        printf("records %llu, map used %.1f MiB\n", (unsigned long long)stats.num_records,
               (double)stats.map_used / (1024.0 * 1024.0));
    }
    store_close(st);
    testfs_rmtree(dir);
    return rc;
}
