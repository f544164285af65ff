/* test_store_meta.c: the CRL number counter, raised to a floor (and the
 * sequence counter behind record keys). */
#include <pthread.h>
#include <stdint.h>

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

TestSuite(store_meta, .init = setup, .fini = teardown);

Test(store_meta, hands_out_crl_numbers_from_one_and_across_reopen)
{
    uint64_t n = 0;
    for (uint64_t i = 1; i <= 3; i++) {
        cr_assert_eq(store_crl_number_advance(st, 0, &n), STORE_OK);
        cr_assert_eq(n, i);
    }
    store_close(st);
    st = tst_open(dir);
    cr_assert_eq(store_crl_number_advance(st, 0, &n), STORE_OK);
    cr_assert_eq(n, 4);
}

Test(store_meta, takes_the_floor_when_it_is_above_the_last_number)
{
    uint64_t n = 0;
    cr_assert_eq(store_crl_number_advance(st, 1700000000000ull, &n), STORE_OK);
    cr_assert_eq(n, 1700000000000ull);
    cr_assert_eq(store_crl_number_advance(st, 1700000000000ull, &n), STORE_OK);
    cr_assert_eq(n, 1700000000001ull, "the same floor again: the next number");
    cr_assert_eq(store_crl_number_advance(st, 5, &n), STORE_OK);
    cr_assert_eq(n, 1700000000002ull, "a floor below the last number (a clock set back)");
    store_close(st);
    st = tst_open(dir);
    cr_assert_eq(store_crl_number_advance(st, 0, &n), STORE_OK);
    cr_assert_eq(n, 1700000000003ull);
}

Test(store_meta, refuses_a_null_output_or_the_largest_floor_as_invalid_argument)
{
    uint64_t n = 0;
    cr_assert_eq(store_crl_number_advance(st, 0, NULL), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_crl_number_advance(NULL, 0, &n), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_crl_number_advance(st, UINT64_MAX, &n), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_crl_number_advance(st, UINT64_MAX - 1, &n), STORE_OK);
    cr_assert_eq(n, UINT64_MAX - 1);
    /* Nothing is left to hand out: the counter cannot be stored. */
    cr_assert_eq(store_crl_number_advance(st, 0, &n), STORE_ERR_CORRUPT);
}

#define THREADS 8
#define EACH    10

static uint64_t numbers[THREADS][EACH];

static void *take(void *arg)
{
    uint64_t *out = arg;
    for (int i = 0; i < EACH; i++) {
        if (store_crl_number_advance(st, 0, &out[i]) != STORE_OK) {
            out[i] = 0;
        }
    }
    return NULL;
}

Test(store_meta, never_hands_out_the_same_crl_number_twice_under_concurrency)
{
    pthread_t t[THREADS];
    int seen[THREADS * EACH + 1] = {0};

    for (int i = 0; i < THREADS; i++) {
        cr_assert_eq(pthread_create(&t[i], NULL, take, numbers[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
    }
    for (int i = 0; i < THREADS; i++) {
        for (int j = 0; j < EACH; j++) {
            uint64_t n = numbers[i][j];
            cr_assert(n >= 1 && n <= THREADS * EACH, "number %llu", (unsigned long long)n);
            cr_assert_eq(seen[n], 0, "number %llu twice", (unsigned long long)n);
            seen[n] = 1;
        }
    }
}

Test(store_meta, keeps_crl_numbers_apart_from_record_puts)
{
    uint64_t n = 0;
    tst_put(st, 1, "spiffe://example.org/a", 2000000000);
    tst_put(st, 2, "spiffe://example.org/a", 2000000000);
    cr_assert_eq(store_crl_number_advance(st, 0, &n), STORE_OK);
    cr_assert_eq(n, 1);
}
