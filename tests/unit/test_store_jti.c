/* test_store_jti.c: the one-time token cache. */
#include <pthread.h>
#include <string.h>

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

struct spend {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t calls;
    enum store_err rc[RACERS];
};

struct spend_arg {
    struct spend *s;
    size_t index;
    struct store_record rec;
};

static void spend_cb(void *arg, enum store_err rc)
{
    struct spend_arg *a = arg;
    pthread_mutex_lock(&a->s->mu);
    a->s->rc[a->index] = rc;
    a->s->calls++;
    pthread_cond_signal(&a->s->cv);
    pthread_mutex_unlock(&a->s->mu);
}

/* put_spending queues |num| records (serials from |first|), each spending
 * |jti|, waits for every callback and returns how many were recorded. */
static int put_spending(struct spend_arg *a, size_t num, uint32_t first, const char *jti)
{
    static struct spend s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}};
    struct store_jti j = {jti, strlen(jti), 1800000000};
    int recorded = 0;

    s.calls = 0;
    for (size_t i = 0; i < num; i++) {
        a[i].s = &s;
        a[i].index = i;
        s.rc[i] = STORE_ERR_INTERNAL;
        tst_record(&a[i].rec, first + (uint32_t)i, ID, 2000000000);
        cr_assert_eq(store_put_async(st, &a[i].rec, &j, spend_cb, &a[i]), STORE_OK);
    }
    pthread_mutex_lock(&s.mu);
    while (s.calls < num) {
        pthread_cond_wait(&s.cv, &s.mu);
    }
    pthread_mutex_unlock(&s.mu);
    for (size_t i = 0; i < num; i++) {
        struct store_record got;
        memset(&got, 0, sizeof(got));
        enum store_err g = store_get(st, a[i].rec.serial, a[i].rec.serial_len, &got);
        store_record_cleanup(&got);
        cr_assert(s.rc[i] == STORE_OK || s.rc[i] == STORE_ERR_REPLAY, "put %zu: %s", i,
                  store_err_name(s.rc[i]));
        cr_assert_eq(g, s.rc[i] == STORE_OK ? STORE_OK : STORE_ERR_NOT_FOUND,
                     "put %zu: a record exists exactly when its put spent the token", i);
        recorded += s.rc[i] == STORE_OK;
    }
    return recorded;
}

Test(store_jti, a_put_spends_its_jti_with_the_record_and_a_second_put_is_a_replay)
{
    struct spend_arg a[1];

    cr_assert_eq(store_jti_check(st, "paid", 4), STORE_OK, "unused before");
    cr_assert_eq(put_spending(a, 1, 100, "paid"), 1);
    cr_assert_eq(store_jti_check(st, "paid", 4), STORE_ERR_REPLAY, "spent by the put");
    cr_assert_eq(store_jti_use(st, "paid", 4, 1800000000), STORE_ERR_REPLAY);
    cr_assert_eq(put_spending(a, 1, 200, "paid"), 0, "a second put with the same token");
    store_close(st);
    st = tst_open(dir);
    cr_assert_eq(store_jti_check(st, "paid", 4), STORE_ERR_REPLAY, "durably");
    cr_assert_eq(put_spending(a, 1, 300, "paid"), 0, "also after a reopen");
}

Test(store_jti, of_puts_sharing_a_jti_in_one_batch_exactly_one_is_recorded)
{
    struct spend_arg a[RACERS];

    /* Queued back to back, they land in one or two transactions. */
    cr_assert_eq(put_spending(a, RACERS, 400, "shared"), 1);
    struct store_stats stats;
    cr_assert_eq(store_stats_get(st, &stats), STORE_OK);
    cr_assert_eq(stats.num_records, 1);
}

Test(store_jti, a_put_that_fails_leaves_its_jti_unspent)
{
    struct store_record rec;
    struct spend_arg a[1];
    static struct spend s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}};
    struct store_jti j = {"unspent", 7, 1800000000};

    tst_put(st, 500, ID, 2000000000);
    /* The same serial again: EXISTS, and the token is not spent by it. */
    a[0].s = &s;
    a[0].index = 0;
    tst_record(&a[0].rec, 500, ID, 2000000000);
    cr_assert_eq(store_put_async(st, &a[0].rec, &j, spend_cb, &a[0]), STORE_OK);
    pthread_mutex_lock(&s.mu);
    while (s.calls < 1) {
        pthread_cond_wait(&s.cv, &s.mu);
    }
    pthread_mutex_unlock(&s.mu);
    cr_assert_eq(s.rc[0], STORE_ERR_EXISTS);
    cr_assert_eq(store_jti_check(st, "unspent", 7), STORE_OK);
    cr_assert_eq(put_spending(a, 1, 501, "unspent"), 1, "the token still pays for one");

    tst_record(&rec, 502, ID, 2000000000);
    struct store_jti bad[] = {{NULL, 1, 1}, {"x", 0, 1}, {"x", STORE_JTI_MAX + 1, 1}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(store_put_async(st, &rec, &bad[i], spend_cb, &a[0]),
                     STORE_ERR_INVALID_ARGUMENT, "bad jti %zu", i);
    }
    cr_assert_eq(store_jti_check(st, NULL, 1), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_jti_check(st, "x", 0), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_jti_check(NULL, "x", 1), STORE_ERR_INVALID_ARGUMENT);
}
