/* prune.c: deletes expired jti entries and records long past their
 * not_after, walking the expiry-ordered indexes from their oldest entry. It
 * runs in the caller's thread in transactions of STORE_PRUNE_CHUNK deletions,
 * so that group commits wait at most one chunk behind it; fewer when the map
 * is full, since a deletion needs new pages as well. */
#include <string.h>

#include "internal.h"

/* first_before finds the first entry of |dbi| whose time prefix is below
 * |limit|, copying its key into |key| (room for |cap|). 0 when none. */
static enum store_err first_before(MDB_txn *txn, MDB_dbi dbi, int64_t limit, unsigned char *key,
                                   size_t cap, size_t *out_len)
{
    enum store_err rc = STORE_OK;
    MDB_cursor *cur = NULL;
    MDB_val k;
    MDB_val v;

    *out_len = 0;
    MDB(mdb_cursor_open(txn, dbi, &cur));
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    if (mrc == MDB_NOTFOUND) {
        goto out;
    }
    MDB(mrc);
    ENSURE(k.mv_size >= 8 && k.mv_size <= cap, STORE_ERR_CORRUPT);
    if (store_time_key_time(k.mv_data) >= limit) {
        goto out;
    }
    memcpy(key, k.mv_data, k.mv_size);
    *out_len = k.mv_size;
out:
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    return rc;
}

static enum store_err del_key(MDB_txn *txn, MDB_dbi dbi, void *key, size_t len)
{
    enum store_err rc = STORE_OK;
    MDB_val k = {len, key};

    MDB(mdb_del(txn, dbi, &k, NULL));
out:
    return rc;
}

static enum store_err prune_jti(struct store *st, MDB_txn *txn, int64_t now, size_t budget,
                                size_t *io_num)
{
    enum store_err rc = STORE_OK;
    unsigned char key[STORE_JTI_KEY_MAX];
    size_t len = 0;
    int64_t latest = 0;

    for (size_t n = 0; n < budget; n++) {
        TRY(first_before(txn, st->db.jti_exp, now, key, sizeof(key), &len));
        if (len == 0) {
            break;
        }
        ENSURE(len > 8, STORE_ERR_CORRUPT);
        TRY(del_key(txn, st->db.jti, key + 8, len - 8));
        TRY(del_key(txn, st->db.jti_exp, key, len));
        latest = store_time_key_time(key); /* oldest first: each one later */
        (*io_num)++;
    }
    /* A token expiring by then may have been spent: its id is gone, and
     * only this mark refuses it, should the clock now be behind |now|. */
    if (latest > 0) {
        TRY(store_jti_pruned_raise(st, txn, latest));
    }
out:
    return rc;
}

static enum store_err prune_records(struct store *st, MDB_txn *txn, int64_t cutoff, size_t budget,
                                    size_t *io_num)
{
    enum store_err rc = STORE_OK;
    unsigned char key[STORE_TIME_KEY_LEN];
    unsigned char seqkey[8];
    unsigned char skey[STORE_SERIAL_KEY_MAX];
    unsigned char xkey[STORE_SPIFFE_KEY_MAX];
    struct store_record rec;
    size_t len = 0;

    for (size_t n = 0; n < budget; n++) {
        TRY(first_before(txn, st->db.expiry, cutoff, key, sizeof(key), &len));
        if (len == 0) {
            break;
        }
        ENSURE(len == STORE_TIME_KEY_LEN, STORE_ERR_CORRUPT);
        uint64_t seq = store_time_key_seq(key);
        TRY(store_record_load(st, txn, seq, 0, &rec));
        store_u64_put(seqkey, seq);
        TRY(del_key(txn, st->db.records, seqkey, sizeof(seqkey)));
        TRY(del_key(txn, st->db.serial, skey, store_serial_key(rec.serial, rec.serial_len, skey)));
        size_t xlen = store_spiffe_key(rec.spiffe_id, strlen(rec.spiffe_id), rec.serial,
                                       rec.serial_len, xkey);
        TRY(del_key(txn, st->db.spiffe, xkey, xlen));
        if (rec.revoked_at != 0) {
            TRY(del_key(txn, st->db.revoked, key, sizeof(key)));
        }
        TRY(del_key(txn, st->db.expiry, key, sizeof(key)));
        (*io_num)++;
    }
out:
    if (rc == STORE_ERR_NOT_FOUND) {
        rc = STORE_ERR_CORRUPT; /* an index entry was missing */
    }
    return rc;
}

enum store_err store_prune(struct store *st, int64_t now, int64_t retention_s, size_t *out_num)
{
    enum store_err rc = STORE_OK;
    MDB_txn *txn = NULL;
    int64_t cutoff = 0;
    size_t total = 0;
    size_t num = 0;
    size_t chunk = STORE_PRUNE_CHUNK;

    ENSURE(st != NULL && out_num != NULL && retention_s >= 0, STORE_ERR_INVALID_ARGUMENT);
    if (__builtin_sub_overflow(now, retention_s, &cutoff)) {
        cutoff = INT64_MIN; /* nothing is that old */
    }
    for (;;) {
        num = 0;
        MDB(mdb_txn_begin(st->env, NULL, 0, &txn));
        rc = prune_jti(st, txn, now, chunk, &num);
        if (rc == STORE_OK) {
            rc = prune_records(st, txn, cutoff, chunk - num, &num);
        }
        if (rc == STORE_OK) {
            int mrc = mdb_txn_commit(txn);
            txn = NULL;
            rc = store_err_from_mdb(mrc);
        }
        if (rc == STORE_ERR_MAP_FULL && chunk > 1) {
            /* Deleting copies pages too: in a full map, delete fewer at a
             * time; each commit frees pages the next one can use. */
            if (txn != NULL) {
                mdb_txn_abort(txn);
                txn = NULL;
            }
            chunk /= 2;
            continue;
        }
        TRY(rc);
        total += num;
        if (num < chunk) {
            break; /* nothing more to delete */
        }
    }
    *out_num = total;
out:
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    return rc;
}
