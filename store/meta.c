/* meta.c: the values of the meta database: the next record sequence number,
 * the last CRL number, the writes that probed the store, and how far spent
 * jti entries have been pruned. */
#include <string.h>

#include "internal.h"

/* meta_key copies |name| into |buf| (LMDB takes keys as non-const). */
static MDB_val meta_key(const char *name, char buf[16])
{
    size_t len = strnlen(name, 16);
    memcpy(buf, name, len);
    return (MDB_val){len, buf};
}

/* counter_take reads the u64 counter |name| (absent: |first|), raises it to
 * |at_least|, returns it and stores it plus one. */
static enum store_err counter_take(struct store *st, MDB_txn *txn, const char *name, uint64_t first,
                                   uint64_t at_least, uint64_t *out)
{
    enum store_err rc = STORE_OK;
    char key[16];
    unsigned char buf[8];
    MDB_val k = meta_key(name, key);
    MDB_val v;
    uint64_t n = first;

    int mrc = mdb_get(txn, st->db.meta, &k, &v);
    if (mrc != MDB_NOTFOUND) {
        MDB(mrc);
        ENSURE(v.mv_size == 8, STORE_ERR_CORRUPT);
        n = store_u64_get(v.mv_data);
    }
    if (n < at_least) {
        n = at_least;
    }
    ENSURE(n < UINT64_MAX, STORE_ERR_CORRUPT);
    store_u64_put(buf, n + 1);
    v.mv_size = sizeof(buf);
    v.mv_data = buf;
    MDB(mdb_put(txn, st->db.meta, &k, &v, 0));
    *out = n;
out:
    return rc;
}

enum store_err store_meta_seq_take(struct store *st, MDB_txn *txn, uint64_t *out_seq)
{
    return counter_take(st, txn, "seq", 1, 0, out_seq);
}

enum store_err store_crl_apply(struct store *st, MDB_txn *txn, struct store_op *op)
{
    /* meta "crl" holds the smallest number the next CRL may take (the last
     * one recorded plus one; absent: 1). op->number comes in as the caller's
     * floor and goes out as the number recorded. */
    return counter_take(st, txn, "crl", 1, op->number, &op->number);
}

enum store_err store_crl_number_advance(struct store *st, uint64_t at_least, uint64_t *out_number)
{
    enum store_err rc = STORE_OK;
    struct store_op op;

    memset(&op, 0, sizeof(op));
    ENSURE(st != NULL && out_number != NULL && at_least < UINT64_MAX, STORE_ERR_INVALID_ARGUMENT);
    op.kind = STORE_OP_CRL;
    op.number = at_least;
    TRY(store_submit(st, &op));
    *out_number = op.number;
out:
    return rc;
}

enum store_err store_jti_pruned_get(const struct store *st, MDB_txn *txn, int64_t *out)
{
    enum store_err rc = STORE_OK;
    char key[16];
    MDB_val k = meta_key("jti_pruned", key);
    MDB_val v;

    *out = 0;
    int mrc = mdb_get(txn, st->db.meta, &k, &v);
    if (mrc == MDB_NOTFOUND) {
        goto out;
    }
    MDB(mrc);
    ENSURE(v.mv_size == 8, STORE_ERR_CORRUPT);
    *out = store_time_key_time(v.mv_data);
out:
    return rc;
}

enum store_err store_jti_pruned_raise(struct store *st, MDB_txn *txn, int64_t t)
{
    enum store_err rc = STORE_OK;
    unsigned char buf[STORE_TIME_KEY_LEN];
    char key[16];
    MDB_val k = meta_key("jti_pruned", key);
    MDB_val v = {8, buf};
    int64_t cur = 0;

    TRY(store_jti_pruned_get(st, txn, &cur));
    if (t > cur) {
        store_time_key(t, 0, buf); /* its first 8 bytes: the time */
        MDB(mdb_put(txn, st->db.meta, &k, &v, 0));
    }
out:
    return rc;
}

enum store_err store_probe_apply(struct store *st, MDB_txn *txn, struct store_op *op)
{
    return counter_take(st, txn, "probe", 1, 0, &op->number);
}

enum store_err store_probe(struct store *st)
{
    struct store_op op;

    if (st == NULL) {
        return STORE_ERR_INVALID_ARGUMENT;
    }
    memset(&op, 0, sizeof(op));
    op.kind = STORE_OP_PROBE;
    return store_submit(st, &op);
}
