/* bench_store.c: store_put throughput with 1, 8 and 64 concurrent writers,
 * each put a realistic record (40-byte SPIFFE ID, one per writer, 500-byte
 * DER), and the average group-commit batch; side by side for fully random
 * 16-byte serials and for the 20-byte serials signet issues (6 bytes of
 * millisecond time, then random), each into a new store, to show what key
 * order does to a commit.
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
    int time_prefix; /* serials as signet issues them, else fully random */
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
    rec.serial_len = r->time_prefix ? 20 : 16;
    while (!atomic_load(&r->stop)) {
        if (getrandom(rec.serial, rec.serial_len, 0) != (ssize_t)rec.serial_len) {
            atomic_fetch_add(&r->failures, 1);
            continue;
        }
        rec.serial[0] &= 0x7f;
        if (r->time_prefix) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
            for (int i = 0; i < 6; i++) {
                rec.serial[i] = (unsigned char)(ms >> (8 * (5 - i)));
            }
        }
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

static int run_one(struct store *st, int time_prefix, int threads, double seconds)
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
    r.time_prefix = time_prefix;
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
    printf("| %-6s | %7d | %9.0f | %8llu | %7llu | %9.1f | %9.2f | %8llu |\n",
           time_prefix ? "time" : "random", threads, (double)atomic_load(&r.puts) / elapsed,
           (unsigned long long)atomic_load(&r.puts), (unsigned long long)commits,
           commits ? (double)writes / (double)commits : 0.0,
           commits ? elapsed * 1000.0 / (double)commits : 0.0,
           (unsigned long long)atomic_load(&r.failures));
    return 0;
}

/* open_new makes a store in a new directory under |parent| (|dir| gets its path). */
static struct store *open_new(const char *parent, char *dir, size_t dir_len)
{
    struct store *st = NULL;
    int n = snprintf(dir, dir_len, "%s/bench-store-XXXXXX", parent);
    if (n < 0 || (size_t)n >= dir_len || mkdtemp(dir) == NULL) {
        fprintf(stderr, "bench_store: cannot make a directory under %s\n", parent);
        return NULL;
    }
    struct store_options opts = {.path = dir, .map_size = (size_t)4 << 30, .max_batch = 0};
    enum store_err err = store_open(&opts, &st);
    if (err != STORE_OK) {
        fprintf(stderr, "bench_store: store_open: %s\n", store_err_name(err));
        testfs_rmtree(dir);
        return NULL;
    }
    return st;
}

int main(int argc, char **argv)
{
    char dir[2][4096];
    const char *parent = argc > 1 ? argv[1] : ".";
    double seconds = 3.0;
    struct store *st[2] = {NULL, NULL};
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
    for (int m = 0; m < 2 && rc == 0; m++) {
        st[m] = open_new(parent, dir[m], sizeof(dir[m]));
        rc = st[m] == NULL;
    }
    srand((unsigned)getpid());
    printf("store_put, %.1f s per run, stores under %s\n", seconds, parent);
    printf("| serial | threads | records/s |     puts | commits | avg batch | ms/commit | failures "
           "|\n");
    printf("|--------|---------|-----------|----------|---------|-----------|-----------|----------"
           "|\n");
    /* Interleaved, so that a change in the machine's load hits both alike. */
    for (size_t i = 0; i < sizeof(threads) / sizeof(threads[0]) && rc == 0; i++) {
        for (int m = 0; m < 2 && rc == 0; m++) {
            rc = run_one(st[m], m, threads[i], seconds);
        }
    }
    for (int m = 0; m < 2; m++) {
        struct store_stats stats;
        if (st[m] != NULL && store_stats_get(st[m], &stats) == STORE_OK) {
            printf("%s: records %llu, map used %.1f MiB\n", m ? "time" : "random",
                   (unsigned long long)stats.num_records,
                   (double)stats.map_used / (1024.0 * 1024.0));
        }
        if (st[m] != NULL) {
            store_close(st[m]);
            testfs_rmtree(dir[m]);
        }
    }
    return rc;
}
