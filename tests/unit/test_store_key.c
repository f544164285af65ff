/* test_store_key.c: the key layouts, whose byte order is the order LMDB keeps. */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../../store/internal.h"

TestSuite(store_key);

static int keycmp(const unsigned char *a, size_t a_len, const unsigned char *b, size_t b_len)
{
    /* LMDB's default order: memcmp, then the shorter first. */
    int c = memcmp(a, b, a_len < b_len ? a_len : b_len);
    if (c != 0) {
        return c;
    }
    return a_len < b_len ? -1 : a_len > b_len;
}

Test(store_key, orders_time_keys_by_signed_time_then_sequence)
{
    const int64_t times[] = {INT64_MIN, -5, -1, 0, 1, 1700000000, INT64_MAX};
    unsigned char a[STORE_TIME_KEY_LEN];
    unsigned char b[STORE_TIME_KEY_LEN];

    for (size_t i = 0; i + 1 < sizeof(times) / sizeof(times[0]); i++) {
        store_time_key(times[i], 99, a);
        store_time_key(times[i + 1], 1, b);
        cr_assert_lt(memcmp(a, b, sizeof(a)), 0, "time %lld", (long long)times[i]);
        cr_assert_eq(store_time_key_time(a), times[i]);
        cr_assert_eq(store_time_key_seq(a), 99);
    }
    store_time_key(7, 1, a);
    store_time_key(7, 2, b);
    cr_assert_lt(memcmp(a, b, sizeof(a)), 0);
}

Test(store_key, orders_serial_keys_numerically)
{
    const unsigned char small[] = {0xff};
    const unsigned char big[] = {0x01, 0x00};
    unsigned char a[STORE_SERIAL_KEY_MAX];
    unsigned char b[STORE_SERIAL_KEY_MAX];

    size_t a_len = store_serial_key(small, sizeof(small), a);
    size_t b_len = store_serial_key(big, sizeof(big), b);
    cr_assert_eq(a_len, 2);
    cr_assert_lt(keycmp(a, a_len, b, b_len), 0);
}

Test(store_key, truncates_long_spiffe_ids_in_the_index_prefix)
{
    char id[STORE_SPIFFE_ID_MAX + 1];
    unsigned char key[STORE_SPIFFE_KEY_MAX];
    const unsigned char serial[] = {0x12, 0x34};

    memset(id, 'a', STORE_SPIFFE_ID_MAX);
    id[STORE_SPIFFE_ID_MAX] = '\0';
    size_t len = store_spiffe_key(id, STORE_SPIFFE_ID_MAX, serial, sizeof(serial), key);
    cr_assert_eq(len, STORE_SPIFFE_KEY_PREFIX + 1 + 1 + sizeof(serial));
    cr_assert_leq(len, 511, "LMDB's key limit");
    cr_assert_eq(key[STORE_SPIFFE_KEY_PREFIX], 0x00);
    cr_assert_eq(store_spiffe_prefix("spiffe://a/b", 12, key), 13);
    cr_assert_eq(key[12], 0x00);
}

Test(store_key, round_trips_big_endian_integers)
{
    unsigned char buf[8];
    store_u64_put(buf, UINT64_C(0x0102030405060708));
    cr_assert_eq(buf[0], 0x01);
    cr_assert_eq(buf[7], 0x08);
    cr_assert_eq(store_u64_get(buf), UINT64_C(0x0102030405060708));
    store_u32_put(buf, 0xa1b2c3d4u);
    cr_assert_eq(buf[0], 0xa1);
    cr_assert_eq(store_u32_get(buf), 0xa1b2c3d4u);
}

Test(store_key, puts_the_expiry_first_in_jti_index_keys)
{
    unsigned char a[STORE_JTI_KEY_MAX];
    unsigned char b[STORE_JTI_KEY_MAX];
    size_t a_len = store_jti_exp_key(100, "zzz", 3, a);
    size_t b_len = store_jti_exp_key(200, "aaa", 3, b);
    cr_assert_eq(a_len, 11);
    cr_assert_lt(keycmp(a, a_len, b, b_len), 0);
    cr_assert_eq(store_time_key_time(a), 100);
    cr_assert_eq(memcmp(a + 8, "zzz", 3), 0);
}
