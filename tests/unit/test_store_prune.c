/* test_store_prune.c: dropping expired jti entries and old records. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "test_store.h"

#define ID  "spiffe://example.org/a"
#define NOW INT64_C(1800000000)
#define DAY INT64_C(86400)

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

TestSuite(store_prune, .init = setup, .fini = teardown);

Test(store_prune, drops_expired_jti_entries_so_they_can_be_used_again)
{
    size_t num = 0;
    cr_assert_eq(store_jti_use(st, "old", 3, NOW - 1), STORE_OK);
    cr_assert_eq(store_jti_use(st, "live", 4, NOW + 60), STORE_OK);
    cr_assert_eq(store_prune(st, NOW, 30 * DAY, &num), STORE_OK);
    cr_assert_eq(num, 1);
    cr_assert_eq(store_jti_use(st, "old", 3, NOW + 60), STORE_OK);
    cr_assert_eq(store_jti_use(st, "live", 4, NOW + 60), STORE_ERR_REPLAY);
}

/* A prune run while the clock is ahead deletes the ids of tokens that are
 * still valid once the clock is set back: every token expiring by the latest
 * expiry pruned is refused from then on, also after a reopen. */
Test(store_prune, refuses_tokens_whose_spent_id_may_have_been_pruned)
{
    size_t num = 0;
    cr_assert_eq(store_jti_use(st, "spent", 5, NOW + 3600), STORE_OK);
    cr_assert_eq(store_jti_use(st, "earlier", 7, NOW + 600), STORE_OK);
    /* The clock two hours ahead: both look expired. */
    cr_assert_eq(store_prune(st, NOW + 7200, 30 * DAY, &num), STORE_OK);
    cr_assert_eq(num, 2);
    /* Set back: the spent token is valid again, and still refused. */
    cr_assert_eq(store_jti_check(st, "spent", 5, NOW + 3600), STORE_ERR_REPLAY);
    cr_assert_eq(store_jti_use(st, "spent", 5, NOW + 3600), STORE_ERR_REPLAY);
    cr_assert_eq(store_jti_use(st, "earlier", 7, NOW + 600), STORE_ERR_REPLAY);
    /* As is any token expiring by then, which may have been spent... */
    cr_assert_eq(store_jti_use(st, "unseen", 6, NOW + 3600), STORE_ERR_REPLAY);
    /* ...but not one expiring later. */
    cr_assert_eq(store_jti_check(st, "later", 5, NOW + 3601), STORE_OK);
    cr_assert_eq(store_jti_use(st, "later", 5, NOW + 3601), STORE_OK);
    /* A put spending such a token is refused the same way, writing nothing. */
    struct tst_async a;
    struct store_jti j = {"unseen", 6, NOW + 3600};
    memset(&a, 0, sizeof(a));
    tst_record(&a.rec, 77, ID, NOW + 86400);
    a.cond.jti = &j;
    tst_async_run(st, &a, 1);
    cr_assert_eq(a.rc, STORE_ERR_REPLAY);
    cr_assert_not(a.readable);
    /* The mark is durable and only rises: a later prune of earlier ids
     * leaves it. */
    store_close(st);
    st = tst_open(dir);
    cr_assert_eq(store_jti_check(st, "spent", 5, NOW + 3600), STORE_ERR_REPLAY);
    cr_assert_eq(store_jti_use(st, "short", 5, NOW + 10), STORE_ERR_REPLAY);
    cr_assert_eq(store_prune(st, NOW, 30 * DAY, &num), STORE_OK);
    cr_assert_eq(store_jti_use(st, "unseen", 6, NOW + 3600), STORE_ERR_REPLAY);
}

/* Deleting needs new pages too: in a map filled to the last page, a prune of
 * STORE_PRUNE_CHUNK deletions cannot commit, and fewer at a time can. */
Test(store_prune, empties_a_full_map_of_expired_records)
{
    enum store_err rc = STORE_OK;
    struct store_record rec;
    uint32_t n = 0;
    size_t num = 0;

    store_close(st);
    st = tst_open_map(dir, 256 * 1024);
    for (n = 0; n < 10000; n++) {
        tst_record(&rec, n, ID, NOW - 40 * DAY);
        rc = store_put(st, &rec);
        if (rc != STORE_OK) {
            break;
        }
    }
    cr_assert_eq(rc, STORE_ERR_MAP_FULL, "%s after %u puts", store_err_name(rc), n);
    cr_assert_eq(store_prune(st, NOW, 30 * DAY, &num), STORE_OK);
    cr_assert_eq(num, n, "every record was pruned: %zu of %u", num, n);
    struct store_stats stats;
    cr_assert_eq(store_stats_get(st, &stats), STORE_OK);
    cr_assert_eq(stats.num_records, 0);
    tst_record(&rec, 20000, ID, NOW + DAY);
    cr_assert_eq(store_put(st, &rec), STORE_OK, "and the map takes records again");
}

static int in_list(const char *id, uint32_t n)
{
    static struct store_record page[20];
    size_t num = 0;
    unsigned char next[STORE_SERIAL_MAX];
    size_t next_len = 0;
    int found = 0;
    struct store_query q = {.spiffe_id = id, .status = STORE_STATUS_ANY, .now = NOW, .limit = 20};
    cr_assert_eq(store_list(st, &q, page, &num, next, &next_len), STORE_OK);
    for (size_t i = 0; i < num; i++) {
        found |= page[i].serial[15] == n;
        store_record_cleanup(&page[i]);
    }
    return found;
}

Test(store_prune, drops_records_past_retention_with_their_index_entries)
{
    size_t num = 0;
    unsigned char serial[16];
    struct store_record rec;

    tst_put(st, 1, ID, NOW - 31 * DAY); /* past retention */
    tst_put(st, 2, ID, NOW - 29 * DAY); /* expired, kept */
    tst_put(st, 3, ID, NOW + DAY);      /* valid */
    tst_put(st, 4, ID, NOW - 40 * DAY); /* revoked and past retention */
    tst_serial(4, serial);
    cr_assert_eq(store_revoke(st, serial, 16, NOW - 45 * DAY, 1, NULL), STORE_OK);
    cr_assert_eq(store_prune(st, NOW, 30 * DAY, &num), STORE_OK);
    cr_assert_eq(num, 2);

    tst_serial(1, serial);
    cr_assert_eq(store_get(st, serial, 16, &rec), STORE_ERR_NOT_FOUND);
    tst_serial(4, serial);
    cr_assert_eq(store_get(st, serial, 16, &rec), STORE_ERR_NOT_FOUND);
    tst_serial(2, serial);
    cr_assert_eq(store_get(st, serial, 16, &rec), STORE_OK);
    store_record_cleanup(&rec);
    cr_assert(!in_list(ID, 1));
    cr_assert(in_list(ID, 2));
    cr_assert(in_list(NULL, 3));

    struct store_stats stats;
    cr_assert_eq(store_stats_get(st, &stats), STORE_OK);
    cr_assert_eq(stats.num_records, 2);
    tst_put(st, 1, ID, NOW + DAY); /* the serial index entry went too */
}

static int count(const struct store_record *rec, void *ctx)
{
    (void)rec;
    (*(size_t *)ctx)++;
    return 0;
}

Test(store_prune, keeps_revoked_records_that_have_not_expired)
{
    size_t num = 0;
    size_t listed = 0;
    unsigned char serial[16];

    tst_put(st, 1, ID, NOW + DAY);
    tst_serial(1, serial);
    cr_assert_eq(store_revoke(st, serial, 16, NOW - DAY, 1, NULL), STORE_OK);
    cr_assert_eq(store_prune(st, NOW, 0, &num), STORE_OK);
    cr_assert_eq(num, 0);
    cr_assert_eq(store_revoked_foreach(st, NOW, count, &listed), STORE_OK);
    cr_assert_eq(listed, 1);
}

#define JTI_THREADS 10
#define JTI_EACH    150

static void *use_jtis(void *arg)
{
    char jti[32];
    int base = *(int *)arg;
    for (int j = base; j < base + JTI_EACH; j++) {
        int n = snprintf(jti, sizeof(jti), "jti-%d", j);
        if (store_jti_use(st, jti, (size_t)n, NOW - 10) != STORE_OK) {
            return arg; /* reported as a failure below */
        }
    }
    return NULL;
}

Test(store_prune, drops_more_than_one_chunk)
{
    size_t num = 0;
    pthread_t t[JTI_THREADS];
    int base[JTI_THREADS];
    void *failed = NULL;

    /* Threads, so that group commit keeps the number of syncs low. */
    for (int i = 0; i < JTI_THREADS; i++) {
        base[i] = i * JTI_EACH;
        cr_assert_eq(pthread_create(&t[i], NULL, use_jtis, &base[i]), 0);
    }
    for (int i = 0; i < JTI_THREADS; i++) {
        void *r = NULL;
        pthread_join(t[i], &r);
        failed = r != NULL ? r : failed;
    }
    cr_assert_null(failed);
    cr_assert_eq(store_prune(st, NOW, DAY, &num), STORE_OK);
    cr_assert_eq(num, JTI_THREADS * JTI_EACH);
    cr_assert_gt(num, 1000, "more than one prune transaction");
    cr_assert_eq(store_prune(st, NOW, DAY, &num), STORE_OK);
    cr_assert_eq(num, 0);
}

Test(store_prune, refuses_bad_arguments_as_invalid_argument)
{
    size_t num = 0;
    cr_assert_eq(store_prune(st, NOW, -1, &num), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_prune(st, NOW, DAY, NULL), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_prune(NULL, NOW, DAY, &num), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_prune(st, INT64_MIN, INT64_MAX, &num), STORE_OK);
}
