/* test_store_list.c: listing by identity and status, and paging. */
#include <inttypes.h>
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

struct walk {
    size_t pages;
    size_t short_pages; /* fewer than limit records, and a cursor */
    size_t empty_pages; /* no record, and a cursor */
};

/* walk pages through |q| with |limit|, following each page's cursor until
 * there is none, and returns the numbers seen. It checks the bound on each
 * call: the tests' serials are dense, so a cursor that moves past at most
 * STORE_LIST_SCAN_MAX numbers examined at most that many entries. */
static size_t walk(struct store_query *q, size_t limit, uint32_t *seen, size_t cap, struct walk *w)
{
    size_t total = 0;
    unsigned char after[STORE_SERIAL_MAX];
    unsigned char next[STORE_SERIAL_MAX];
    size_t next_len = 0;
    int64_t from = -1; /* the number resumed after */

    memset(w, 0, sizeof(*w));
    q->limit = limit;
    q->after = NULL;
    q->after_len = 0;
    do {
        size_t num = 0;
        enum store_err rc = store_list(st, q, page, &num, next, &next_len);
        cr_assert_eq(rc, STORE_OK, "%s", store_err_name(rc));
        cr_assert_leq(num, limit);
        w->pages++;
        for (size_t i = 0; i < num; i++) {
            cr_assert_lt(total, cap);
            cr_assert_not_null(page[i].cert_der);
            seen[total++] = number(&page[i]);
            store_record_cleanup(&page[i]);
        }
        if (next_len == 0) {
            break;
        }
        cr_assert_eq(next_len, 16);
        struct store_record at;
        memcpy(at.serial, next, 16);
        int64_t to = number(&at);
        cr_assert_gt(to, from, "the cursor moves forward");
        cr_assert_leq(to - from, STORE_LIST_SCAN_MAX, "page %zu examined %" PRId64 " entries",
                      w->pages, to - from);
        cr_assert(num == 0 || to >= seen[total - 1], "the cursor is past the records returned");
        w->short_pages += num < limit;
        w->empty_pages += num == 0;
        from = to;
        memcpy(after, next, 16);
        q->after = after;
        q->after_len = 16;
    } while (1);
    return total;
}

static size_t list_all(struct store_query *q, size_t limit, uint32_t *seen, size_t cap)
{
    struct walk w;

    return walk(q, limit, seen, cap, &w);
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

Test(store_list, gives_a_cursor_only_when_records_follow)
{
    size_t num = 0;
    unsigned char next[STORE_SERIAL_MAX];
    size_t next_len = 99;
    struct store_query q = {.status = STORE_STATUS_ANY, .now = NOW, .limit = 3};

    for (uint32_t i = 0; i < 3; i++) {
        tst_put(st, i, ID_A, NOW + 100);
    }
    cr_assert_eq(store_list(st, &q, page, &num, next, &next_len), STORE_OK);
    cr_assert_eq(num, 3);
    cr_assert_eq(next_len, 0);
    for (size_t i = 0; i < num; i++) {
        store_record_cleanup(&page[i]);
    }
    q.limit = 2;
    cr_assert_eq(store_list(st, &q, page, &num, next, &next_len), STORE_OK);
    cr_assert_eq(num, 2);
    cr_assert_eq(next_len, 16, "the cursor is the last record returned");
    cr_assert_eq(memcmp(next, page[1].serial, 16), 0);
    for (size_t i = 0; i < num; i++) {
        store_record_cleanup(&page[i]);
    }
}

Test(store_list, resumes_after_a_serial_that_is_not_stored)
{
    size_t num = 0;
    unsigned char next[STORE_SERIAL_MAX];
    size_t next_len = 0;
    unsigned char after[16];
    struct store_query q = {.status = STORE_STATUS_ANY, .now = NOW, .limit = 10};

    tst_put(st, 10, ID_A, NOW + 100);
    tst_put(st, 20, ID_A, NOW + 100);
    tst_serial(15, after);
    q.after = after;
    q.after_len = 16;
    cr_assert_eq(store_list(st, &q, page, &num, next, &next_len), STORE_OK);
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

Test(store_list, lists_the_renewals_made_with_one_serial)
{
    uint32_t seen[10];
    struct store_record rec;
    unsigned char from[16];
    struct store_query q = {.status = STORE_STATUS_ANY, .now = NOW};

    tst_put(st, 1, ID_A, NOW + 100);
    const uint32_t parents[] = {1, 2, 1, 3, 1}; /* records 2..6 */
    for (uint32_t i = 0; i < 5; i++) {
        tst_record(&rec, 2 + i, ID_A, NOW + 100);
        tst_serial(parents[i], rec.renewed_from);
        rec.renewed_from_len = 16;
        cr_assert_eq(store_put(st, &rec), STORE_OK);
    }
    tst_serial(1, from);
    q.renewed_from = from;
    q.renewed_from_len = 16;
    cr_assert_eq(list_all(&q, 2, seen, 10), 3);
    cr_assert_eq(seen[0], 2);
    cr_assert_eq(seen[1], 4);
    cr_assert_eq(seen[2], 6);
    q.renewed_from_len = 15; /* a prefix of the serial is another serial */
    cr_assert_eq(list_all(&q, 2, seen, 10), 0);
    q.spiffe_id = ID_A; /* through the identity's index too */
    q.renewed_from_len = 16;
    cr_assert_eq(list_all(&q, 10, seen, 10), 3);
    q.renewed_from_len = 0;
    size_t num = 0;
    unsigned char next[STORE_SERIAL_MAX];
    size_t next_len = 0;
    q.limit = 1;
    cr_assert_eq(store_list(st, &q, page, &num, next, &next_len), STORE_ERR_INVALID_ARGUMENT);
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
    unsigned char next[STORE_SERIAL_MAX];
    size_t next_len = 0;
    struct store_query q = {.status = STORE_STATUS_ANY, .now = NOW, .limit = 10};

    tst_record(&rec, 0, ID_A, NOW);
    rec.serial_len = 2;
    rec.serial[0] = 0x01;
    rec.serial[1] = 0x00; /* 256 */
    cr_assert_eq(store_put(st, &rec), STORE_OK);
    rec.serial_len = 1;
    rec.serial[0] = 0xff; /* 255 */
    cr_assert_eq(store_put(st, &rec), STORE_OK);
    cr_assert_eq(store_list(st, &q, page, &num, next, &next_len), STORE_OK);
    cr_assert_eq(num, 2);
    cr_assert_eq(page[0].serial_len, 1);
    cr_assert_eq(page[1].serial_len, 2);
    store_record_cleanup(&page[0]);
    store_record_cleanup(&page[1]);
}

Test(store_list, refuses_bad_queries_as_invalid_argument)
{
    size_t num = 0;
    unsigned char next[STORE_SERIAL_MAX];
    size_t next_len = 0;
    unsigned char after[STORE_SERIAL_MAX + 1] = {0};
    struct store_query q = {.status = STORE_STATUS_ANY, .now = NOW, .limit = 0};

    cr_assert_eq(store_list(st, &q, page, &num, next, &next_len), STORE_ERR_INVALID_ARGUMENT);
    q.limit = STORE_LIST_MAX + 1;
    cr_assert_eq(store_list(st, &q, page, &num, next, &next_len), STORE_ERR_INVALID_ARGUMENT);
    q.limit = 1;
    q.status = (enum store_status)9;
    cr_assert_eq(store_list(st, &q, page, &num, next, &next_len), STORE_ERR_INVALID_ARGUMENT);
    q.status = STORE_STATUS_ANY;
    q.after = after;
    q.after_len = sizeof(after);
    cr_assert_eq(store_list(st, &q, page, &num, next, &next_len), STORE_ERR_INVALID_ARGUMENT);
    q.after_len = 0;
    cr_assert_eq(store_list(st, &q, page, &num, next, &next_len), STORE_ERR_INVALID_ARGUMENT);
    q.after = NULL;
    q.spiffe_id = "";
    cr_assert_eq(store_list(st, &q, page, &num, next, &next_len), STORE_ERR_INVALID_ARGUMENT);
    q.spiffe_id = NULL;
    cr_assert_eq(store_list(st, &q, NULL, &num, next, &next_len), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_list(st, &q, page, &num, NULL, &next_len), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_list(st, &q, page, &num, next, NULL), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_list(st, &q, page, &num, next, &next_len), STORE_OK);
}

/* ---- The bound on the work of one call ---- */

#define SPARSE_NUM (4 * STORE_LIST_SCAN_MAX + 100)

/* Few records match: revoked ones, expired ones, and the valid rest. Both
 * small sets sit at the edges of the scan windows and leave more than two
 * windows without a match. */
static const uint32_t sparse_revoked[] = {0,
                                          7,
                                          STORE_LIST_SCAN_MAX - 1,
                                          STORE_LIST_SCAN_MAX,
                                          STORE_LIST_SCAN_MAX + 1,
                                          3 * STORE_LIST_SCAN_MAX + 500,
                                          SPARSE_NUM - 1};
static const uint32_t sparse_expired[] = {3, STORE_LIST_SCAN_MAX + 2, SPARSE_NUM - 2};

static int in_set(uint32_t n, const uint32_t *set, size_t num)
{
    for (size_t i = 0; i < num; i++) {
        if (set[i] == n) {
            return 1;
        }
    }
    return 0;
}

#define NUM_OF(a) (sizeof(a) / sizeof((a)[0]))

/* put_sparse stores records 0..SPARSE_NUM-1 of ID_A in group commits, then
 * revokes the few of sparse_revoked. */
static void put_sparse(void)
{
    struct tst_async *a = calloc(SPARSE_NUM, sizeof(*a));
    unsigned char serial[16];

    cr_assert_not_null(a);
    for (uint32_t i = 0; i < SPARSE_NUM; i++) {
        int expired = in_set(i, sparse_expired, NUM_OF(sparse_expired));
        tst_record(&a[i].rec, i, ID_A, expired ? NOW - 100 : NOW + 100);
    }
    tst_async_run(st, a, SPARSE_NUM);
    for (uint32_t i = 0; i < SPARSE_NUM; i++) {
        cr_assert_eq(a[i].rc, STORE_OK, "put %u: %s", i, store_err_name(a[i].rc));
    }
    free(a);
    for (size_t i = 0; i < NUM_OF(sparse_revoked); i++) {
        tst_serial(sparse_revoked[i], serial);
        cr_assert_eq(store_revoke(st, serial, 16, 1700000000, 1, NULL), STORE_OK);
    }
}

static void check_exactly(const uint32_t *seen, size_t total, const uint32_t *want, size_t num)
{
    cr_assert_eq(total, num, "%zu records, want %zu", total, num);
    for (size_t i = 0; i < num; i++) {
        cr_assert_eq(seen[i], want[i], "position %zu: %u, want %u", i, seen[i], want[i]);
    }
}

Test(store_list, examines_a_bounded_number_of_entries_per_call, .timeout = 120)
{
    static uint32_t seen[SPARSE_NUM];
    unsigned char next[STORE_SERIAL_MAX];
    size_t next_len = 0;
    size_t num = 0;
    struct store_query q = {.status = STORE_STATUS_REVOKED, .now = NOW, .limit = 100};

    put_sparse();
    /* The first call stops after STORE_LIST_SCAN_MAX entries with the three
     * matches among them and the last entry examined as its cursor. */
    cr_assert_eq(store_list(st, &q, page, &num, next, &next_len), STORE_OK);
    cr_assert_eq(num, 3);
    cr_assert_eq(number(&page[2]), STORE_LIST_SCAN_MAX - 1);
    for (size_t i = 0; i < num; i++) {
        store_record_cleanup(&page[i]);
    }
    unsigned char want[16];
    tst_serial(STORE_LIST_SCAN_MAX - 1, want);
    cr_assert_eq(next_len, 16);
    cr_assert_eq(memcmp(next, want, 16), 0);

    /* A window with no match is an empty page that still has a cursor. */
    struct walk w;
    size_t total = walk(&q, 100, seen, SPARSE_NUM, &w);
    check_exactly(seen, total, sparse_revoked, NUM_OF(sparse_revoked));
    cr_assert_geq(w.pages, SPARSE_NUM / STORE_LIST_SCAN_MAX);
    cr_assert_geq(w.empty_pages, 1);
}

Test(store_list, following_cursors_lists_every_match_once_in_order, .timeout = 120)
{
    static uint32_t seen[SPARSE_NUM];
    static uint32_t valid[SPARSE_NUM];
    size_t num_valid = 0;
    struct walk w;
    struct store_query q = {.now = NOW};
    const char *ids[] = {NULL, ID_A}; /* the serial index, then the spiffe index */
    const size_t limits[] = {1, 2, 100, STORE_LIST_MAX};

    put_sparse();
    for (uint32_t i = 0; i < SPARSE_NUM; i++) {
        if (!in_set(i, sparse_revoked, NUM_OF(sparse_revoked)) &&
            !in_set(i, sparse_expired, NUM_OF(sparse_expired))) {
            valid[num_valid++] = i;
        }
    }
    for (size_t d = 0; d < 2; d++) {
        q.spiffe_id = ids[d];
        for (size_t l = 0; l < NUM_OF(limits); l++) {
            q.status = STORE_STATUS_REVOKED;
            size_t total = walk(&q, limits[l], seen, SPARSE_NUM, &w);
            check_exactly(seen, total, sparse_revoked, NUM_OF(sparse_revoked));
            cr_assert_geq(w.short_pages, 1, "the bound cut pages short");
            q.status = STORE_STATUS_EXPIRED;
            total = walk(&q, limits[l], seen, SPARSE_NUM, &w);
            check_exactly(seen, total, sparse_expired, NUM_OF(sparse_expired));
        }
        /* Where nearly every entry matches, pages are full. */
        q.status = STORE_STATUS_VALID;
        size_t total = walk(&q, STORE_LIST_MAX, seen, SPARSE_NUM, &w);
        check_exactly(seen, total, valid, num_valid);
        cr_assert_eq(w.short_pages, 0);
        q.status = STORE_STATUS_ANY;
        total = walk(&q, STORE_LIST_MAX, seen, SPARSE_NUM, &w);
        cr_assert_eq(total, SPARSE_NUM);
        cr_assert_eq(w.short_pages, 0);
    }
}
