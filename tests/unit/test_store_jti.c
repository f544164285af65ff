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

Test(store_jti, accepts_a_first_use_and_refuses_a_replay_as_exists)
{
    cr_assert_eq(store_jti_use(st, "token-1", 7, 1800000000), STORE_OK);
    cr_assert_eq(store_jti_use(st, "token-1", 7, 1800000000), STORE_ERR_EXISTS);
    cr_assert_eq(store_jti_use(st, "token-1", 7, 1900000000), STORE_ERR_EXISTS);
    cr_assert_eq(store_jti_use(st, "token-2", 7, 1800000000), STORE_OK);
    cr_assert_eq(store_jti_use(st, "token-1x", 8, 1800000000), STORE_OK);
}

Test(store_jti, refuses_a_replay_after_reopen_as_exists)
{
    cr_assert_eq(store_jti_use(st, "token-1", 7, 1800000000), STORE_OK);
    store_close(st);
    st = tst_open(dir);
    cr_assert_eq(store_jti_use(st, "token-1", 7, 1800000000), STORE_ERR_EXISTS);
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
        cr_assert(results[i] == STORE_OK || results[i] == STORE_ERR_EXISTS, "%d", results[i]);
        ok += results[i] == STORE_OK;
    }
    cr_assert_eq(ok, 1);
}
