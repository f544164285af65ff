/* test_store_jti.c: the one-time token cache. */
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

#include <criterion/criterion.h>

#include "test_store.h"

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

TestSuite(store_jti, .init = setup, .fini = teardown);

Test(store_jti, accepts_a_first_use_and_refuses_a_replay_as_replay)
{
    cr_assert_eq(store_jti_use(st, "token-1", 7, 1800000000), STORE_OK);
    cr_assert_eq(store_jti_use(st, "token-1", 7, 1800000000), STORE_ERR_REPLAY);
    cr_assert_eq(store_jti_use(st, "token-1", 7, 1900000000), STORE_ERR_REPLAY);
    cr_assert_eq(store_jti_use(st, "token-2", 7, 1800000000), STORE_OK);
    cr_assert_eq(store_jti_use(st, "token-1x", 8, 1800000000), STORE_OK);
}

Test(store_jti, refuses_a_replay_after_reopen_as_replay)
{
    cr_assert_eq(store_jti_use(st, "token-1", 7, 1800000000), STORE_OK);
    store_close(st);
    st = tst_open(dir);
    cr_assert_eq(store_jti_use(st, "token-1", 7, 1800000000), STORE_ERR_REPLAY);
}

Test(store_jti, refuses_bad_arguments_as_invalid_argument)
{
    char big[STORE_JTI_MAX + 1];
    memset(big, 'j', sizeof(big));
    cr_assert_eq(store_jti_use(st, big, sizeof(big), 1800000000), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_jti_use(st, big, STORE_JTI_MAX, 1800000000), STORE_OK);
    cr_assert_eq(store_jti_use(st, "x", 0, 1800000000), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_jti_use(st, NULL, 1, 1800000000), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_jti_use(NULL, "x", 1, 1800000000), STORE_ERR_INVALID_ARGUMENT);
}

#define RACERS 8

static int results[RACERS];

static void *race(void *arg)
{
    int *out = arg;
    *out = store_jti_use(st, "same-token", 10, 1800000000);
    return NULL;
}

Test(store_jti, lets_exactly_one_of_concurrent_uses_through)
{
    pthread_t t[RACERS];
    int ok = 0;

    for (int i = 0; i < RACERS; i++) {
        cr_assert_eq(pthread_create(&t[i], NULL, race, &results[i]), 0);
    }
    for (int i = 0; i < RACERS; i++) {
        pthread_join(t[i], NULL);
    }
    for (int i = 0; i < RACERS; i++) {
        cr_assert(results[i] == STORE_OK || results[i] == STORE_ERR_REPLAY, "%d", results[i]);
        ok += results[i] == STORE_OK;
    }
    cr_assert_eq(ok, 1);
}

/* ---- A jti spent with the certificate it paid for (store_put_async) ---- */

#define ID "spiffe://example.org/ns/prod/sa/api"

/* put_spending queues |num| records (serials from |first|), each spending
 * |jti|, and returns how many were recorded; a record exists exactly when
 * its put spent the token. */
static int put_spending(size_t num, uint32_t first, const char *jti)
{
    static struct tst_async a[RACERS];
    struct store_jti j = {jti, strlen(jti), 1800000000};
    int recorded = 0;

    cr_assert_leq(num, RACERS);
    for (size_t i = 0; i < num; i++) {
        tst_record(&a[i].rec, first + (uint32_t)i, ID, 2000000000);
        a[i].cond.jti = &j;
    }
    tst_async_run(st, a, num);
    for (size_t i = 0; i < num; i++) {
        cr_assert(a[i].rc == STORE_OK || a[i].rc == STORE_ERR_REPLAY, "put %zu: %s", i,
                  store_err_name(a[i].rc));
        cr_assert_eq(a[i].readable, a[i].rc == STORE_OK,
                     "put %zu: a record exists exactly when its put spent the token", i);
        recorded += a[i].rc == STORE_OK;
    }
    return recorded;
}

Test(store_jti, a_put_spends_its_jti_with_the_record_and_a_second_put_is_a_replay)
{
    cr_assert_eq(store_jti_check(st, "paid", 4, 2000000000), STORE_OK, "unused before");
    cr_assert_eq(put_spending(1, 100, "paid"), 1);
    cr_assert_eq(store_jti_check(st, "paid", 4, 2000000000), STORE_ERR_REPLAY, "spent by the put");
    cr_assert_eq(store_jti_use(st, "paid", 4, 1800000000), STORE_ERR_REPLAY);
    cr_assert_eq(put_spending(1, 200, "paid"), 0, "a second put with the same token");
    store_close(st);
    st = tst_open(dir);
    cr_assert_eq(store_jti_check(st, "paid", 4, 2000000000), STORE_ERR_REPLAY, "durably");
    cr_assert_eq(put_spending(1, 300, "paid"), 0, "also after a reopen");
}

Test(store_jti, of_puts_sharing_a_jti_in_one_batch_exactly_one_is_recorded)
{
    /* Queued back to back, they land in one or two transactions. */
    cr_assert_eq(put_spending(RACERS, 400, "shared"), 1);
    struct store_stats stats;
    cr_assert_eq(store_stats_get(st, &stats), STORE_OK);
    cr_assert_eq(stats.num_records, 1);
}

Test(store_jti, a_put_that_fails_leaves_its_jti_unspent)
{
    struct tst_async a;
    struct store_jti j = {"unspent", 7, 1800000000};

    /* The same serial again: EXISTS, and the token is not spent by it. */
    tst_put(st, 500, ID, 2000000000);
    memset(&a, 0, sizeof(a));
    tst_record(&a.rec, 500, ID, 2000000000);
    a.cond.jti = &j;
    tst_async_run(st, &a, 1);
    cr_assert_eq(a.rc, STORE_ERR_EXISTS);
    cr_assert_eq(store_jti_check(st, "unspent", 7, 2000000000), STORE_OK);
    cr_assert_eq(put_spending(1, 501, "unspent"), 1, "the token still pays for one");

    struct store_jti bad[] = {{NULL, 1, 1}, {"x", 0, 1}, {"x", STORE_JTI_MAX + 1, 1}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct store_put_if cond = {.jti = &bad[i]};
        cr_assert_eq(store_put_async(st, &a.rec, &cond, tst_async_done, &a),
                     STORE_ERR_INVALID_ARGUMENT, "bad jti %zu", i);
    }
    cr_assert_eq(store_jti_check(st, NULL, 1, 2000000000), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_jti_check(st, "x", 0, 2000000000), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_jti_check(NULL, "x", 1, 2000000000), STORE_ERR_INVALID_ARGUMENT);
}

Test(store_jti, a_put_refused_by_a_full_map_leaves_its_jti_unspent)
{
    struct store_jti j = {"on-full", 7, 1800000000};
    struct tst_async a;
    enum store_err rc = STORE_OK;
    uint32_t n = 0;

    store_close(st);
    testfs_rmtree(dir);
    cr_assert_eq(mkdir(dir, 0700), 0);
    st = tst_open_map(dir, 256 * 1024);
    for (; n < 5000 && rc == STORE_OK; n++) {
        struct store_record rec;
        tst_record(&rec, n, ID, 2000000000);
        rc = store_put(st, &rec);
    }
    cr_assert_eq(rc, STORE_ERR_MAP_FULL, "%s after %u puts", store_err_name(rc), n);
    memset(&a, 0, sizeof(a));
    tst_record(&a.rec, 100000, ID, 2000000000);
    a.cond.jti = &j;
    tst_async_run(st, &a, 1);
    cr_assert_eq(a.rc, STORE_ERR_MAP_FULL);
    cr_assert_eq(a.readable, 0);
    cr_assert_eq(store_jti_check(st, "on-full", 7, 2000000000), STORE_OK, "the token is not spent");
}
