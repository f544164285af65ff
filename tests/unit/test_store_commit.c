/* test_store_commit.c: the group-commit writer: concurrency, per-op results
 * inside a batch, durability across a SIGKILL, and a full map. */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "test_store.h"

#define ID "spiffe://example.org/ns/prod/sa/api"

static char *dir;
static struct store *st;

static void setup(void)
{
    dir = tst_dir();
    st = tst_open(dir);
}

static void teardown(void)
{
    store_close(st);
    tst_dir_remove(dir);
}

TestSuite(store_commit, .init = setup, .fini = teardown);

#define THREADS 16
#define EACH    200

struct worker {
    uint32_t base;
    uint32_t num;
    int failures;
};

static void *put_many(void *arg)
{
    struct worker *w = arg;
    struct store_record rec;
    for (uint32_t i = 0; i < w->num; i++) {
        tst_record(&rec, w->base + i, ID, 2000000000);
        if (store_put(st, &rec) != STORE_OK) {
            w->failures++;
        }
    }
    return NULL;
}

Test(store_commit, shares_commits_between_concurrent_puts)
{
    pthread_t t[THREADS];
    struct worker w[THREADS];
    struct store_stats stats;

    for (uint32_t i = 0; i < THREADS; i++) {
        w[i] = (struct worker){i * EACH, EACH, 0};
        cr_assert_eq(pthread_create(&t[i], NULL, put_many, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(w[i].failures, 0);
    }
    cr_assert_eq(store_stats_get(st, &stats), STORE_OK);
    cr_assert_eq(stats.committed, THREADS * EACH);
    cr_assert_lt(stats.commits, stats.committed, "some batches held more than one write");
    cr_assert_eq(stats.num_records, THREADS * EACH);

    store_close(st);
    st = tst_open(dir);
    for (uint32_t n = 0; n < THREADS * EACH; n++) {
        struct store_record rec;
        unsigned char serial[16];
        tst_serial(n, serial);
        cr_assert_eq(store_get(st, serial, 16, &rec), STORE_OK, "serial %u", n);
        cr_assert_eq(rec.cert_der_len, TST_CERT_LEN);
        store_record_cleanup(&rec);
    }
}

static enum store_err dup_rc[THREADS];

static void *put_same(void *arg)
{
    struct store_record rec;
    tst_record(&rec, 77, ID, 2000000000);
    *(enum store_err *)arg = store_put(st, &rec);
    return NULL;
}

Test(store_commit, fails_only_the_duplicate_inside_a_batch)
{
    pthread_t t[THREADS];
    int ok = 0;

    for (int i = 0; i < THREADS; i++) {
        cr_assert_eq(pthread_create(&t[i], NULL, put_same, &dup_rc[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
    }
    for (int i = 0; i < THREADS; i++) {
        cr_assert(dup_rc[i] == STORE_OK || dup_rc[i] == STORE_ERR_EXISTS);
        ok += dup_rc[i] == STORE_OK;
    }
    cr_assert_eq(ok, 1);
    struct store_stats stats;
    cr_assert_eq(store_stats_get(st, &stats), STORE_OK);
    cr_assert_eq(stats.num_records, 1);
}

/* ---- crash consistency ---- */

#define CRASH_THREADS 4

struct child_worker {
    struct store *st;
    int fd;
    uint32_t base;
};

static void *child_put_loop(void *arg)
{
    struct child_worker *w = arg;
    struct store_record rec;
    for (uint32_t n = w->base;; n++) {
        tst_record(&rec, n, ID, 2000000000);
        if (store_put(w->st, &rec) != STORE_OK) {
            _exit(3);
        }
        /* Reported only once store_put said it is durable. */
        if (write(w->fd, rec.serial, 16) != 16) {
            _exit(4);
        }
    }
    return NULL;
}

static void child_main(int fd)
{
    struct store_options opts = {.path = dir, .map_size = TST_MAP_SIZE};
    struct store *cst = NULL;
    pthread_t t[CRASH_THREADS];
    struct child_worker w[CRASH_THREADS];

    if (store_open(&opts, &cst) != STORE_OK) {
        _exit(2);
    }
    for (uint32_t i = 0; i < CRASH_THREADS; i++) {
        w[i] = (struct child_worker){cst, fd, 0x01000000u * (i + 1)};
        if (pthread_create(&t[i], NULL, child_put_loop, &w[i]) != 0) {
            _exit(5);
        }
    }
    for (;;) {
        pause();
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

Test(store_commit, keeps_every_acknowledged_put_after_sigkill)
{
    static unsigned char got[1 << 20];

    store_close(st);
    st = NULL;
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    for (int round = 0; round < 5; round++) {
        int fds[2];
        size_t have = 0;
        cr_assert_eq(pipe(fds), 0);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            close(fds[0]);
            child_main(fds[1]);
        }
        close(fds[1]);
        int64_t deadline = now_ms() + 50 + rand() % 251;
        for (int64_t left; (left = deadline - now_ms()) > 0;) {
            struct pollfd p = {fds[0], POLLIN, 0};
            if (poll(&p, 1, (int)left) > 0 && have < sizeof(got)) {
                ssize_t n = read(fds[0], got + have, sizeof(got) - have);
                cr_assert_gt(n, 0, "the child died early");
                have += (size_t)n;
            }
        }
        kill(pid, SIGKILL);
        int status = 0;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child exited early");
        /* What is still in the pipe was acknowledged before the kill too. */
        for (ssize_t n;
             have < sizeof(got) && (n = read(fds[0], got + have, sizeof(got) - have)) > 0;) {
            have += (size_t)n;
        }
        close(fds[0]);

        st = tst_open(dir);
        size_t checked = 0;
        for (size_t off = 0; off + 16 <= have; off += 16) {
            struct store_record rec;
            enum store_err rc = store_get(st, got + off, 16, &rec);
            cr_assert_eq(rc, STORE_OK, "round %d: acknowledged serial lost: %s", round,
                         store_err_name(rc));
            cr_assert_eq(memcmp(rec.cert_der, tst_cert(), TST_CERT_LEN), 0);
            store_record_cleanup(&rec);
            checked++;
        }
        cr_assert_gt(checked, 0, "round %d: the child acknowledged nothing", round);
        store_close(st);
        st = NULL;
        /* The next round's child starts its serials afresh: clear the store. */
        tst_dir_remove(dir);
        dir = tst_dir();
    }
}

/* ---- a full map ---- */

Test(store_commit, reports_a_full_map_and_stays_readable)
{
    enum store_err rc = STORE_OK;
    uint32_t n = 0;
    struct store_record rec;
    unsigned char serial[16];

    store_close(st);
    st = tst_open_map(dir, 256 * 1024);
    for (n = 0; n < 10000; n++) {
        tst_record(&rec, n, ID, 2000000000);
        rc = store_put(st, &rec);
        if (rc != STORE_OK) {
            break;
        }
    }
    cr_assert_eq(rc, STORE_ERR_MAP_FULL, "%s after %u puts", store_err_name(rc), n);
    cr_assert_gt(n, 10);
    tst_serial(n, serial);
    cr_assert_eq(store_get(st, serial, 16, &rec), STORE_ERR_NOT_FOUND,
                 "the failed put is not there");
    tst_serial(0, serial);
    cr_assert_eq(store_get(st, serial, 16, &rec), STORE_OK);
    store_record_cleanup(&rec);

    static struct store_record page[5];
    size_t num = 0;
    unsigned char next[STORE_SERIAL_MAX];
    size_t next_len = 0;
    struct store_query q = {.status = STORE_STATUS_ANY, .now = 1800000000, .limit = 5};
    cr_assert_eq(store_list(st, &q, page, &num, next, &next_len), STORE_OK);
    cr_assert_eq(num, 5);
    cr_assert_gt(next_len, 0);
    for (size_t i = 0; i < num; i++) {
        store_record_cleanup(&page[i]);
    }
    store_close(st);

    st = tst_open_map(dir, 256 * 1024);
    struct store_stats stats;
    cr_assert_eq(store_stats_get(st, &stats), STORE_OK);
    cr_assert_eq(stats.num_records, n);
    tst_serial(n - 1, serial);
    cr_assert_eq(store_get(st, serial, 16, &rec), STORE_OK);
    store_record_cleanup(&rec);
    store_close(st);

    st = tst_open_map(dir, 1024 * 1024); /* a bigger map takes more */
    tst_record(&rec, n, ID, 2000000000);
    cr_assert_eq(store_put(st, &rec), STORE_OK);
}

struct full_worker {
    uint32_t base;
    int ok;
    int full;
    int other;
};

static void *put_until_full(void *arg)
{
    struct full_worker *w = arg;
    struct store_record rec;
    for (uint32_t i = 0; i < 2000; i++) {
        tst_record(&rec, w->base + i, ID, 2000000000);
        enum store_err rc = store_put(st, &rec);
        w->ok += rc == STORE_OK;
        w->full += rc == STORE_ERR_MAP_FULL;
        w->other += rc != STORE_OK && rc != STORE_ERR_MAP_FULL;
        if (rc == STORE_ERR_MAP_FULL) {
            break;
        }
    }
    return NULL;
}

Test(store_commit, reports_a_full_map_per_operation_under_concurrency)
{
    pthread_t t[8];
    struct full_worker w[8];
    int ok = 0;

    store_close(st);
    st = tst_open_map(dir, 256 * 1024);
    for (uint32_t i = 0; i < 8; i++) {
        w[i] = (struct full_worker){i * 100000, 0, 0, 0};
        cr_assert_eq(pthread_create(&t[i], NULL, put_until_full, &w[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(w[i].other, 0);
        cr_assert_eq(w[i].full, 1, "every thread ends on a full map");
        ok += w[i].ok;
    }
    struct store_stats stats;
    cr_assert_eq(store_stats_get(st, &stats), STORE_OK);
    cr_assert_eq(stats.num_records, (uint64_t)ok, "every acknowledged put is there, no other");
}

Test(store_commit, keeps_batches_within_max_batch)
{
    pthread_t t[4];
    struct worker w[4];
    struct store_stats stats;
    struct store_options opts = {.path = dir, .map_size = TST_MAP_SIZE, .max_batch = 1};

    store_close(st);
    st = NULL;
    cr_assert_eq(store_open(&opts, &st), STORE_OK);
    for (uint32_t i = 0; i < 4; i++) {
        w[i] = (struct worker){i * 20, 20, 0};
        cr_assert_eq(pthread_create(&t[i], NULL, put_many, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(w[i].failures, 0);
    }
    cr_assert_eq(store_stats_get(st, &stats), STORE_OK);
    cr_assert_eq(stats.committed, 80);
    cr_assert_eq(stats.commits, 80, "one write per commit");
}

/* ---- store_put_async ---- */

#define ASYNC_NUM 300

Test(store_commit, put_async_calls_back_once_per_record_after_the_commit)
{
    static struct tst_async a[ASYNC_NUM];

    for (size_t i = 0; i < ASYNC_NUM; i++) {
        /* The last ten repeat earlier serials: EXISTS, through the callback. */
        tst_record(&a[i].rec, (uint32_t)(i < ASYNC_NUM - 10 ? i : i - 100), ID, 2000000000);
    }
    tst_async_run(st, a, ASYNC_NUM);
    for (size_t i = 0; i < ASYNC_NUM; i++) {
        cr_assert_eq(a[i].rc, i < ASYNC_NUM - 10 ? STORE_OK : STORE_ERR_EXISTS, "record %zu: %s", i,
                     store_err_name(a[i].rc));
        cr_assert(a[i].readable, "record %zu is committed when its callback runs", i);
    }
    struct store_stats stats;
    cr_assert_eq(store_stats_get(st, &stats), STORE_OK);
    cr_assert_eq(stats.num_records, ASYNC_NUM - 10);
    cr_assert_lt(stats.commits, ASYNC_NUM - 10, "queued puts share commits");
}

/* A renewal's record requires the certificate it renewed to be unrevoked
 * when it commits: the writer orders it against that certificate's
 * revocation, so a renewal racing a revoke either lands before it (and is
 * listed by then) or is refused. */
Test(store_commit, put_async_requiring_an_unrevoked_record_is_ordered_against_its_revocation)
{
    enum {
        N = 8
    };
    static struct tst_async before[N], after[N], gone, both;
    struct store_record parent;
    struct store_jti jti = {"renewal-jti", 11, 2000000000};

    tst_record(&parent, 900, ID, 2000000000);
    cr_assert_eq(store_put(st, &parent), STORE_OK);
    for (uint32_t i = 0; i < N; i++) {
        tst_record(&before[i].rec, 910 + i, ID, 2000000000);
        tst_record(&after[i].rec, 930 + i, ID, 2000000000);
        before[i].cond = after[i].cond =
            (struct store_put_if){.unrevoked = parent.serial, .unrevoked_len = parent.serial_len};
    }
    /* Queued before the revocation, so applied before it: committed. */
    size_t calls = 0;
    tst_async_queue(st, before, N, &calls);
    cr_assert_eq(store_revoke(st, parent.serial, parent.serial_len, 1700000500, 1, NULL), STORE_OK);
    tst_async_wait(&calls, N);
    tst_async_run(st, after, N);
    for (size_t i = 0; i < N; i++) {
        cr_assert_eq(before[i].rc, STORE_OK, "before %zu: %s", i, store_err_name(before[i].rc));
        cr_assert(before[i].readable);
        cr_assert_eq(after[i].rc, STORE_ERR_REVOKED, "after %zu: %s", i,
                     store_err_name(after[i].rc));
        cr_assert_not(after[i].readable, "a refused renewal writes nothing");
    }
    /* A record that is not there (pruned) is refused as well. */
    unsigned char missing[16];
    tst_serial(999, missing);
    tst_record(&gone.rec, 950, ID, 2000000000);
    gone.cond = (struct store_put_if){.unrevoked = missing, .unrevoked_len = sizeof(missing)};
    tst_async_run(st, &gone, 1);
    cr_assert_eq(gone.rc, STORE_ERR_NOT_FOUND, "%s", store_err_name(gone.rc));
    cr_assert_not(gone.readable);
    /* Refused with a jti: the token stays unspent. */
    tst_record(&both.rec, 960, ID, 2000000000);
    both.cond = (struct store_put_if){
        .jti = &jti, .unrevoked = parent.serial, .unrevoked_len = parent.serial_len};
    tst_async_run(st, &both, 1);
    cr_assert_eq(both.rc, STORE_ERR_REVOKED);
    cr_assert_eq(store_jti_check(st, jti.id, jti.len, jti.expires_at), STORE_OK,
                 "the token is unspent");

    struct store_stats stats;
    cr_assert_eq(store_stats_get(st, &stats), STORE_OK);
    cr_assert_eq(stats.num_records, 1 + N);
    struct store_put_if bad[] = {
        {.unrevoked = parent.serial, .unrevoked_len = 0},
        {.unrevoked = parent.serial, .unrevoked_len = STORE_SERIAL_MAX + 1}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(store_put_async(st, &gone.rec, &bad[i], tst_async_done, &gone),
                     STORE_ERR_INVALID_ARGUMENT, "bad serial %zu", i);
    }
}

static void count_cb(void *arg, enum store_err rc)
{
    size_t *n = arg;
    if (rc == STORE_OK) {
        __atomic_add_fetch(n, 1, __ATOMIC_SEQ_CST);
    }
}

Test(store_commit, close_runs_every_pending_put_async_and_refuses_none_queued_before)
{
    static struct store_record recs[100];
    size_t ok = 0;

    for (uint32_t i = 0; i < 100; i++) {
        tst_record(&recs[i], 5000 + i, ID, 2000000000);
        cr_assert_eq(store_put_async(st, &recs[i], NULL, count_cb, &ok), STORE_OK);
    }
    store_close(st);
    cr_assert_eq(__atomic_load_n(&ok, __ATOMIC_SEQ_CST), 100, "close waited for all of them");
    st = tst_open(dir);
    struct store_stats stats;
    cr_assert_eq(store_stats_get(st, &stats), STORE_OK);
    cr_assert_eq(stats.num_records, 100, "and they are durable");
    cr_assert_eq(store_put_async(st, NULL, NULL, count_cb, &ok), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_put_async(st, &recs[0], NULL, NULL, NULL), STORE_ERR_INVALID_ARGUMENT);
}
