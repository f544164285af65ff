/* env.c: the LMDB environment: open (directory, databases, schema check),
 * close, statistics, and the mapping of LMDB errors onto the store's table. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "internal.h"

enum store_err store_err_from_mdb(int mdb_rc)
{
    switch (mdb_rc) {
        case MDB_SUCCESS:
            return STORE_OK;
        case MDB_NOTFOUND:
            return STORE_ERR_NOT_FOUND;
        case MDB_KEYEXIST:
            return STORE_ERR_EXISTS;
        case MDB_MAP_FULL:
            return STORE_ERR_MAP_FULL;
        case MDB_VERSION_MISMATCH:
            return STORE_ERR_VERSION;
        case MDB_INVALID:
        case MDB_CORRUPTED:
        case MDB_PAGE_NOTFOUND:
        case MDB_INCOMPATIBLE:
            return STORE_ERR_CORRUPT;
        case EIO:
        case ENOSPC:
        case EROFS:
        case EACCES:
        case EPERM:
        case EDQUOT:
        case ENOENT:
        case ENOTDIR:
        case EFBIG:
            return STORE_ERR_IO;
        default:
            return STORE_ERR_INTERNAL;
    }
}

/* make_dirs creates |path| and any missing parents, the last one 0700. */
static enum store_err make_dirs(const char *path)
{
    enum store_err rc = STORE_OK;
    char buf[PATH_MAX];
    size_t len = strnlen(path, sizeof(buf));
    struct stat sb;

    ENSURE(len > 0 && len < sizeof(buf), STORE_ERR_INVALID_ARGUMENT);
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0') {
            continue;
        }
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
            rc = store_err_from_mdb(errno);
            goto out;
        }
        buf[i] = saved;
    }
    ENSURE(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode), STORE_ERR_IO);
out:
    return rc;
}

/* check_schema writes the schema version into a new store, upgrades a
 * version 1 store (its records stay readable as they are; the new version
 * keeps binaries that cannot read version 2 records from opening it), and
 * refuses a store written by a newer (or unknown) schema. */
static enum store_err check_schema(struct store *st, MDB_txn *txn)
{
    enum store_err rc = STORE_OK;
    char name[] = "version";
    MDB_val k = {sizeof(name) - 1, name};
    MDB_val v;
    unsigned char buf[4];

    int mrc = mdb_get(txn, st->db.meta, &k, &v);
    if (mrc == MDB_SUCCESS && v.mv_size == 4 && store_u32_get(v.mv_data) == 1) {
        mrc = MDB_NOTFOUND; /* upgrade */
    }
    if (mrc == MDB_NOTFOUND) {
        store_u32_put(buf, STORE_SCHEMA_VERSION);
        v.mv_size = sizeof(buf);
        v.mv_data = buf;
        MDB(mdb_put(txn, st->db.meta, &k, &v, 0));
        goto out;
    }
    MDB(mrc);
    ENSURE(v.mv_size == 4, STORE_ERR_CORRUPT);
    ENSURE(store_u32_get(v.mv_data) == STORE_SCHEMA_VERSION, STORE_ERR_VERSION);
out:
    return rc;
}

static enum store_err open_dbs(struct store *st)
{
    enum store_err rc = STORE_OK;
    MDB_txn *txn = NULL;
    const struct {
        const char *name;
        MDB_dbi *dbi;
    } dbs[] = {
        {"records", &st->db.records}, {"serial", &st->db.serial},   {"spiffe", &st->db.spiffe},
        {"expiry", &st->db.expiry},   {"revoked", &st->db.revoked}, {"jti", &st->db.jti},
        {"jti_exp", &st->db.jti_exp}, {"meta", &st->db.meta},
    };

    MDB(mdb_txn_begin(st->env, NULL, 0, &txn));
    for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
        MDB(mdb_dbi_open(txn, dbs[i].name, MDB_CREATE, dbs[i].dbi));
    }
    TRY(check_schema(st, txn));
    int mrc = mdb_txn_commit(txn);
    txn = NULL; /* commit frees the txn, also on failure */
    MDB(mrc);
out:
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    return rc;
}

/* store_new allocates a store with its lock and condition variable ready. */
static struct store *store_new(unsigned max_batch)
{
    struct store *st = calloc(1, sizeof(*st));
    if (st == NULL) {
        return NULL;
    }
    st->max_batch = max_batch == 0 ? STORE_BATCH_DEFAULT : max_batch;
    if (pthread_mutex_init(&st->mu, NULL) != 0) {
        free(st);
        return NULL;
    }
    if (pthread_cond_init(&st->wake, NULL) != 0) {
        pthread_mutex_destroy(&st->mu);
        free(st);
        return NULL;
    }
    return st;
}

static void store_free(struct store *st)
{
    if (st->env != NULL) {
        mdb_env_close(st->env);
    }
    pthread_cond_destroy(&st->wake);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

enum store_err store_open(const struct store_options *opts, struct store **out)
{
    enum store_err rc = STORE_OK;
    struct store *st = NULL;
    int dead = 0;

    ENSURE(opts != NULL && out != NULL && opts->path != NULL, STORE_ERR_INVALID_ARGUMENT);
    ENSURE(opts->map_size > 0 && opts->max_batch <= STORE_BATCH_LIMIT, STORE_ERR_INVALID_ARGUMENT);
    TRY(make_dirs(opts->path));
    st = store_new(opts->max_batch);
    ENSURE(st != NULL, STORE_ERR_INTERNAL);

    MDB(mdb_env_create(&st->env));
    MDB(mdb_env_set_mapsize(st->env, opts->map_size));
    MDB(mdb_env_set_maxdbs(st->env, 8));
    MDB(mdb_env_set_maxreaders(st->env, STORE_MAX_READERS));
    /* MDB_NOTLS: read transactions are not tied to a thread's slot, so many
     * reader threads work. No MDB_NOSYNC/NOMETASYNC: every commit is durable. */
    MDB(mdb_env_open(st->env, opts->path, MDB_NOTLS, 0600));
    MDB(mdb_reader_check(st->env, &dead)); /* slots left by crashed processes */
    TRY(open_dbs(st));
    TRY(store_writer_start(st));

    *out = st;
    st = NULL;
out:
    if (st != NULL) {
        store_free(st);
    }
    return rc;
}

void store_close(struct store *st)
{
    if (st == NULL) {
        return;
    }
    store_writer_stop(st); /* drains the queue: every queued op commits first */
    store_free(st);
}

enum store_err store_stats_get(struct store *st, struct store_stats *out)
{
    enum store_err rc = STORE_OK;
    MDB_txn *txn = NULL;
    MDB_envinfo info;
    MDB_stat env_stat;
    MDB_stat rec_stat;

    ENSURE(st != NULL && out != NULL, STORE_ERR_INVALID_ARGUMENT);
    memset(out, 0, sizeof(*out));
    MDB(mdb_env_info(st->env, &info));
    MDB(mdb_env_stat(st->env, &env_stat));
    MDB(mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn));
    MDB(mdb_stat(txn, st->db.records, &rec_stat));

    pthread_mutex_lock(&st->mu);
    out->commits = st->commits;
    out->committed = st->committed;
    out->last_batch = st->last_batch;
    pthread_mutex_unlock(&st->mu);
    out->map_size = info.me_mapsize;
    out->map_used = ((size_t)info.me_last_pgno + 1) * env_stat.ms_psize;
    out->num_records = rec_stat.ms_entries;
    const char *path = NULL;
    struct statvfs fs;
    MDB(mdb_env_get_path(st->env, &path));
    ENSURE(statvfs(path, &fs) == 0, STORE_ERR_IO);
    out->disk_free = (uint64_t)fs.f_bavail * fs.f_frsize;
out:
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    return rc;
}
