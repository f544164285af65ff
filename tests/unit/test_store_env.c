/* test_store_env.c: opening and closing the environment, the schema check,
 * the error mapping and the statistics. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include <criterion/criterion.h>
#include <lmdb.h>

#include "../../store/internal.h"
#include "test_store.h"

static char *dir;

static void setup(void)
{
    dir = tst_dir();
}

static void teardown(void)
{
    tst_dir_remove(dir);
}

TestSuite(store_env, .init = setup, .fini = teardown);

Test(store_env, creates_missing_directories_with_mode_0700)
{
    char path[512];
    struct stat sb;

    snprintf(path, sizeof(path), "%s/var/db", dir);
    struct store *st = tst_open(path);
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert(S_ISDIR(sb.st_mode));
    cr_assert_eq(sb.st_mode & 0777, 0700);
    store_close(st);
}

Test(store_env, refuses_bad_options_as_invalid_argument)
{
    struct store *st = NULL;
    struct store_options opts = {.path = dir, .map_size = TST_MAP_SIZE};

    cr_assert_eq(store_open(NULL, &st), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_open(&opts, NULL), STORE_ERR_INVALID_ARGUMENT);
    opts.map_size = 0;
    cr_assert_eq(store_open(&opts, &st), STORE_ERR_INVALID_ARGUMENT);
    opts.map_size = TST_MAP_SIZE;
    opts.max_batch = STORE_BATCH_LIMIT + 1;
    cr_assert_eq(store_open(&opts, &st), STORE_ERR_INVALID_ARGUMENT);
    opts.max_batch = 0;
    opts.path = "";
    cr_assert_eq(store_open(&opts, &st), STORE_ERR_INVALID_ARGUMENT);
    opts.path = NULL;
    cr_assert_eq(store_open(&opts, &st), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_null(st);
}

Test(store_env, refuses_a_path_that_is_a_file_as_io)
{
    char path[512];
    struct store *st = NULL;

    snprintf(path, sizeof(path), "%s/file", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fclose(f);
    struct store_options opts = {.path = path, .map_size = TST_MAP_SIZE};
    cr_assert_eq(store_open(&opts, &st), STORE_ERR_IO);
}

/* set_schema writes |version| into the meta database with plain LMDB. */
static void set_schema(uint32_t version)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi meta;
    unsigned char buf[4];
    char name[] = "version";
    MDB_val k = {sizeof(name) - 1, name};
    MDB_val v = {sizeof(buf), buf};

    store_u32_put(buf, version);
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 8), 0);
    cr_assert_eq(mdb_env_open(env, dir, 0, 0600), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    cr_assert_eq(mdb_put(txn, meta, &k, &v, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

Test(store_env, refuses_a_newer_schema_version_as_version)
{
    struct store *st = NULL;
    struct store_options opts = {.path = dir, .map_size = TST_MAP_SIZE};

    store_close(tst_open(dir));
    set_schema(STORE_SCHEMA_VERSION + 1);
    cr_assert_eq(store_open(&opts, &st), STORE_ERR_VERSION);
    cr_assert_null(st);
    set_schema(STORE_SCHEMA_VERSION);
    store_close(tst_open(dir));
}

/* get_schema reads the meta database's version with plain LMDB. */
static uint32_t get_schema(void)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi meta;
    char name[] = "version";
    MDB_val k = {sizeof(name) - 1, name};
    MDB_val v;

    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 8), 0);
    cr_assert_eq(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    cr_assert_eq(mdb_get(txn, meta, &k, &v), 0);
    cr_assert_eq(v.mv_size, 4);
    uint32_t version = store_u32_get(v.mv_data);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return version;
}

/* to_version_1_records rewrites every record in the store as version 1, as
 * a signet before renewed_from wrote them (none of the tests' records has
 * renewed_from), with plain LMDB. */
static void to_version_1_records(void)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_dbi records;
    MDB_val k, v;
    static unsigned char v1[STORE_RECORD_MAX_LEN];
    size_t num = 0;

    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 8), 0);
    cr_assert_eq(mdb_env_open(env, dir, 0, 0600), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "records", 0, &records), 0);
    cr_assert_eq(mdb_cursor_open(txn, records, &cur), 0);
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const unsigned char *b = v.mv_data;
        uint32_t cert_len = store_u32_get(b + v.mv_size - TST_CERT_LEN - 4);
        cr_assert_eq(cert_len, TST_CERT_LEN);
        size_t from_at = v.mv_size - TST_CERT_LEN - 4 - 1;
        cr_assert_eq(b[0], STORE_RECORD_VERSION);
        cr_assert_eq(b[from_at], 0, "no renewed_from");
        memcpy(v1, b, from_at);
        memcpy(v1 + from_at, b + from_at + 1, v.mv_size - from_at - 1);
        v1[0] = STORE_RECORD_V1;
        MDB_val nv = {v.mv_size - 1, v1};
        cr_assert_eq(mdb_cursor_put(cur, &k, &nv, MDB_CURRENT), 0);
        num++;
    }
    cr_assert_gt(num, 0);
    mdb_cursor_close(cur);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

Test(store_env, upgrades_a_version_1_store_and_refuses_version_0)
{
    struct store *st = NULL;
    struct store_options opts = {.path = dir, .map_size = TST_MAP_SIZE};
    struct store_record rec;

    st = tst_open(dir);
    cr_assert_eq(get_schema(), STORE_SCHEMA_VERSION);
    tst_put(st, 1, "spiffe://example.org/a", 2000000000);
    store_close(st);
    set_schema(1);
    to_version_1_records();
    st = tst_open(dir);
    cr_assert_eq(get_schema(), 2, "upgraded on open");
    unsigned char serial[16];
    tst_serial(1, serial);
    cr_assert_eq(store_get(st, serial, 16, &rec), STORE_OK);
    cr_assert_str_eq(rec.spiffe_id, "spiffe://example.org/a");
    cr_assert_eq(rec.renewed_from_len, 0);
    store_record_cleanup(&rec);
    cr_assert_eq(store_revoke(st, serial, 16, 1800000000, 1, &rec), STORE_OK);
    cr_assert_eq(rec.revoked_at, 1800000000);
    store_record_cleanup(&rec);
    store_close(st);
    st = NULL;
    set_schema(0);
    cr_assert_eq(store_open(&opts, &st), STORE_ERR_VERSION);
    cr_assert_null(st);
}

Test(store_env, refuses_a_data_file_that_is_not_lmdb_as_corrupt)
{
    char path[512];
    char junk[8192];
    struct store *st = NULL;
    struct store_options opts = {.path = dir, .map_size = TST_MAP_SIZE};

    memset(junk, 'x', sizeof(junk));
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(junk, 1, sizeof(junk), f), sizeof(junk));
    fclose(f);
    cr_assert_eq(store_open(&opts, &st), STORE_ERR_CORRUPT);
}

Test(store_env, keeps_records_across_close_and_reopen)
{
    struct store *st = tst_open(dir);
    tst_put(st, 1, "spiffe://example.org/a", 2000000000);
    store_close(st);

    st = tst_open(dir);
    struct store_record rec;
    unsigned char serial[16];
    tst_serial(1, serial);
    cr_assert_eq(store_get(st, serial, 16, &rec), STORE_OK);
    cr_assert_str_eq(rec.spiffe_id, "spiffe://example.org/a");
    store_record_cleanup(&rec);
    store_close(st);
}

Test(store_env, reports_records_commits_and_map_use_in_stats)
{
    struct store_stats stats;
    struct store *st = tst_open(dir);

    cr_assert_eq(store_stats_get(st, &stats), STORE_OK);
    cr_assert_eq(stats.num_records, 0);
    cr_assert_eq(stats.commits, 0);
    cr_assert_eq(stats.map_size, TST_MAP_SIZE);
    for (uint32_t i = 0; i < 3; i++) {
        tst_put(st, i, "spiffe://example.org/a", 2000000000);
    }
    cr_assert_eq(store_stats_get(st, &stats), STORE_OK);
    cr_assert_eq(stats.num_records, 3);
    cr_assert_eq(stats.commits, 3, "one caller at a time: one commit each");
    cr_assert_eq(stats.committed, 3);
    cr_assert_eq(stats.last_batch, 1);
    cr_assert_gt(stats.map_used, 0);
    cr_assert_leq(stats.map_used, stats.map_size);
    cr_assert_gt(stats.disk_free, 0, "the test directory's filesystem has room");
    uint64_t commits = stats.commits;
    cr_assert_eq(store_probe(st), STORE_OK);
    cr_assert_eq(store_stats_get(st, &stats), STORE_OK);
    cr_assert_eq(stats.commits, commits + 1, "a probe is one synced commit");
    cr_assert_eq(stats.num_records, 3, "and adds no record");
    cr_assert_eq(store_probe(NULL), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_stats_get(st, NULL), STORE_ERR_INVALID_ARGUMENT);
    store_close(st);
}

Test(store_env, accepts_null_in_close)
{
    store_close(NULL);
}

Test(store_env, maps_lmdb_and_system_errors)
{
    cr_assert_eq(store_err_from_mdb(MDB_SUCCESS), STORE_OK);
    cr_assert_eq(store_err_from_mdb(MDB_NOTFOUND), STORE_ERR_NOT_FOUND);
    cr_assert_eq(store_err_from_mdb(MDB_KEYEXIST), STORE_ERR_EXISTS);
    cr_assert_eq(store_err_from_mdb(MDB_MAP_FULL), STORE_ERR_MAP_FULL);
    cr_assert_eq(store_err_from_mdb(MDB_CORRUPTED), STORE_ERR_CORRUPT);
    cr_assert_eq(store_err_from_mdb(MDB_VERSION_MISMATCH), STORE_ERR_VERSION);
    cr_assert_eq(store_err_from_mdb(EIO), STORE_ERR_IO);
    cr_assert_eq(store_err_from_mdb(ENOSPC), STORE_ERR_IO);
    cr_assert_eq(store_err_from_mdb(MDB_READERS_FULL), STORE_ERR_INTERNAL);
}
