/* test_store_list.c: listing by identity and status, and paging. */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "test_store.h"

#define ID_A "spiffe://example.org/a"
#define ID_B "spiffe://example.org/b"
#define NOW  INT64_C(1800000000)

static char *dir;
static struct store *st;
static struct store_record page[STORE_LIST_MAX];

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

TestSuite(store_list, .init = setup, .fini = teardown);

static uint32_t number(const struct store_record *rec)
{
    return ((uint32_t)rec->serial[12] << 24) | ((uint32_t)rec->serial[13] << 16) |
           ((uint32_t)rec->serial[14] << 8) | rec->serial[15];
}

/* list_all pages through |q| with |limit| and returns the numbers seen. */
static size_t list_all(struct store_query *q, size_t limit, uint32_t *seen, size_t cap)
{
    size_t total = 0;
    unsigned char after[STORE_SERIAL_MAX];
    int more = 1;

    q->limit = limit;
    q->after = NULL;
    q->after_len = 0;
    while (more) {
        size_t num = 0;
        enum store_err rc = store_list(st, q, page, &num, &more);
        cr_assert_eq(rc, STORE_OK, "%s", store_err_name(rc));
        cr_assert_leq(num, limit);
        cr_assert(num > 0 || !more);
        for (size_t i = 0; i < num; i++) {
            cr_assert_lt(total, cap);
            cr_assert_not_null(page[i].cert_der);
            seen[total++] = number(&page[i]);
        }
        if (num > 0) {
            memcpy(after, page[num - 1].serial, page[num - 1].serial_len);
            q->after = after;
            q->after_len = page[num - 1].serial_len;
        }
        for (size_t i = 0; i < num; i++) {
            store_record_cleanup(&page[i]);
        }
    }
    return total;
}

Test(store_list, pages_through_every_record_once_in_serial_order)
{
    uint32_t seen[100];
    struct store_query q = {.status = STORE_STATUS_ANY, .now = NOW};

    /* Put out of order, so that order comes from the index. */
    for (uint32_t i = 0; i < 50; i++) {
        tst_put(st, (i * 37) % 50, (i % 2) ? ID_A : ID_B, NOW + 100);
    }
    const size_t limits[] = {1, 7, 50, 1000};
    for (size_t l = 0; l < 4; l++) {
        size_t total = list_all(&q, limits[l], seen, 100);
        cr_assert_eq(total, 50, "limit %zu", limits[l]);
        for (uint32_t i = 0; i < 50; i++) {
            cr_assert_eq(seen[i], i, "limit %zu position %u", limits[l], i);
        }
    }
}

Test(store_list, sets_more_only_when_records_follow)
{
    size_t num = 0;
    int more = 0;
    struct store_query q = {.status = STORE_STATUS_ANY, .now = NOW, .limit = 3};

    for (uint32_t i = 0; i < 3; i++) {
        tst_put(st, i, ID_A, NOW + 100);
    }
    cr_assert_eq(store_list(st, &q, page, &num, &more), STORE_OK);
    cr_assert_eq(num, 3);
    cr_assert_eq(more, 0);
    for (size_t i = 0; i < num; i++) {
        store_record_cleanup(&page[i]);
    }
    q.limit = 2;
    cr_assert_eq(store_list(st, &q, page, &num, &more), STORE_OK);
    cr_assert_eq(num, 2);
    cr_assert_eq(more, 1);
    for (size_t i = 0; i < num; i++) {
        store_record_cleanup(&page[i]);
    }
}

Test(store_list, resumes_after_a_serial_that_is_not_stored)
{
    size_t num = 0;
    int more = 0;
    unsigned char after[16];
    struct store_query q = {.status = STORE_STATUS_ANY, .now = NOW, .limit = 10};

    tst_put(st, 10, ID_A, NOW + 100);
    tst_put(st, 20, ID_A, NOW + 100);
    tst_serial(15, after);
    q.after = after;
    q.after_len = 16;
    cr_assert_eq(store_list(st, &q, page, &num, &more), STORE_OK);
    cr_assert_eq(num, 1);
    cr_assert_eq(number(&page[0]), 20);
    store_record_cleanup(&page[0]);
}

Test(store_list, lists_one_identity_through_its_index)
{
    uint32_t seen[100];
    struct store_query q = {.spiffe_id = ID_A, .status = STORE_STATUS_ANY, .now = NOW};

    for (uint32_t i = 0; i < 40; i++) {
        tst_put(st, 39 - i, (i % 3 == 0) ? ID_A : ID_B, NOW + 100);
    }
    tst_put(st, 100, ID_A "x", NOW + 100); /* shares ID_A as a prefix */
    size_t total = list_all(&q, 4, seen, 100);
    cr_assert_eq(total, 14);
    for (size_t i = 0; i < total; i++) {
        cr_assert_eq((39 - seen[i]) % 3, 0, "only ID_A: %u", seen[i]);
        cr_assert(i == 0 || seen[i] > seen[i - 1], "ascending");
    }
    q.spiffe_id = "spiffe://example.org/nobody";
    cr_assert_eq(list_all(&q, 10, seen, 100), 0);
}

Test(store_list, tells_apart_long_ids_that_share_the_index_prefix)
{
    static char long_a[STORE_SPIFFE_ID_MAX + 1];
    static char long_b[STORE_SPIFFE_ID_MAX + 1];
    uint32_t seen[10];
    struct store_query q = {.spiffe_id = long_a, .status = STORE_STATUS_ANY, .now = NOW};

    memset(long_a, 'a', STORE_SPIFFE_ID_MAX);
    memcpy(long_a, "spiffe://example.org/", 21);
    memcpy(long_b, long_a, sizeof(long_a));
    long_b[STORE_SPIFFE_ID_MAX - 1] = 'b';
    tst_put(st, 1, long_a, NOW + 100);
    tst_put(st, 2, long_b, NOW + 100);
    tst_put(st, 3, long_a, NOW + 100);
    cr_assert_eq(list_all(&q, 1, seen, 10), 2);
    cr_assert_eq(seen[0], 1);
    cr_assert_eq(seen[1], 3);
}

Test(store_list, filters_valid_revoked_and_expired_against_now)
{
    uint32_t seen[10];
    unsigned char serial[16];
    struct store_query q = {.now = NOW};

    tst_put(st, 1, ID_A, NOW + 100); /* valid */
    tst_put(st, 2, ID_A, NOW);       /* expired: not_after <= now */
    tst_put(st, 3, ID_A, NOW + 100); /* revoked */
    tst_put(st, 4, ID_B, NOW - 100); /* revoked and expired */
    tst_put(st, 5, ID_B, NOW - 1);   /* expired */
    tst_serial(3, serial);
    cr_assert_eq(store_revoke(st, serial, 16, 1700000000, 1, NULL), STORE_OK);
    tst_serial(4, serial);
    cr_assert_eq(store_revoke(st, serial, 16, 1700000000, 1, NULL), STORE_OK);

    q.status = STORE_STATUS_VALID;
    cr_assert_eq(list_all(&q, 1, seen, 10), 1);
    cr_assert_eq(seen[0], 1);
    q.status = STORE_STATUS_REVOKED;
    cr_assert_eq(list_all(&q, 1, seen, 10), 2);
    cr_assert(seen[0] == 3 && seen[1] == 4);
    q.status = STORE_STATUS_EXPIRED;
    cr_assert_eq(list_all(&q, 1, seen, 10), 2);
    cr_assert(seen[0] == 2 && seen[1] == 5);
    q.status = STORE_STATUS_EXPIRED;
    q.spiffe_id = ID_B;
    cr_assert_eq(list_all(&q, 5, seen, 10), 1);
    cr_assert_eq(seen[0], 5);
    q.status = STORE_STATUS_ANY;
    q.spiffe_id = NULL;
    cr_assert_eq(list_all(&q, 2, seen, 10), 5);
}

Test(store_list, orders_serials_of_different_lengths_numerically)
{
    struct store_record rec;
    size_t num = 0;
    int more = 0;
    struct store_query q = {.status = STORE_STATUS_ANY, .now = NOW, .limit = 10};

    tst_record(&rec, 0, ID_A, NOW);
    rec.serial_len = 2;
    rec.serial[0] = 0x01;
    rec.serial[1] = 0x00; /* 256 */
    cr_assert_eq(store_put(st, &rec), STORE_OK);
    rec.serial_len = 1;
    rec.serial[0] = 0xff; /* 255 */
    cr_assert_eq(store_put(st, &rec), STORE_OK);
    cr_assert_eq(store_list(st, &q, page, &num, &more), STORE_OK);
    cr_assert_eq(num, 2);
    cr_assert_eq(page[0].serial_len, 1);
    cr_assert_eq(page[1].serial_len, 2);
    store_record_cleanup(&page[0]);
    store_record_cleanup(&page[1]);
}

Test(store_list, refuses_bad_queries_as_invalid_argument)
{
    size_t num = 0;
    int more = 0;
    unsigned char after[STORE_SERIAL_MAX + 1] = {0};
    struct store_query q = {.status = STORE_STATUS_ANY, .now = NOW, .limit = 0};

    cr_assert_eq(store_list(st, &q, page, &num, &more), STORE_ERR_INVALID_ARGUMENT);
    q.limit = STORE_LIST_MAX + 1;
    cr_assert_eq(store_list(st, &q, page, &num, &more), STORE_ERR_INVALID_ARGUMENT);
    q.limit = 1;
    q.status = (enum store_status)9;
    cr_assert_eq(store_list(st, &q, page, &num, &more), STORE_ERR_INVALID_ARGUMENT);
    q.status = STORE_STATUS_ANY;
    q.after = after;
    q.after_len = sizeof(after);
    cr_assert_eq(store_list(st, &q, page, &num, &more), STORE_ERR_INVALID_ARGUMENT);
    q.after_len = 0;
    cr_assert_eq(store_list(st, &q, page, &num, &more), STORE_ERR_INVALID_ARGUMENT);
    q.after = NULL;
    q.spiffe_id = "";
    cr_assert_eq(store_list(st, &q, page, &num, &more), STORE_ERR_INVALID_ARGUMENT);
    q.spiffe_id = NULL;
    cr_assert_eq(store_list(st, &q, NULL, &num, &more), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_list(st, &q, page, &num, &more), STORE_OK);
}
