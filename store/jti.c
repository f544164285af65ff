/* jti.c: the one-time token cache. A jti is spent either on its own
 * (store_jti_use) or in the transaction that records the certificate it paid
 * for (store_put_async), and is refused from then on until store_prune drops
 * it after it expired. An expiry-ordered index lets the prune walk only
 * expired ids. */
#include <string.h>

#include "internal.h"

static int jti_ok(const char *jti, size_t jti_len)
{
    return jti != NULL && jti_len >= 1 && jti_len <= STORE_JTI_MAX;
}

/* jti_key copies |op|'s jti into |buf| (LMDB takes keys as non-const). */
static MDB_val jti_key(const struct store_op *op, unsigned char buf[STORE_JTI_MAX])
{
    memcpy(buf, op->jti, op->jti_len); /* length checked when the op was made */
    return (MDB_val){op->jti_len, buf};
}

enum store_err store_jti_unused(const struct store *st, MDB_txn *txn, const struct store_op *op)
{
    enum store_err rc = STORE_OK;
    unsigned char key[STORE_JTI_MAX];
    MDB_val k = jti_key(op, key);
    MDB_val v;
    int64_t pruned = 0;

    int mrc = mdb_get(txn, st->db.jti, &k, &v);
    ENSURE(mrc != MDB_SUCCESS, STORE_ERR_REPLAY);
    ENSURE(mrc == MDB_NOTFOUND, store_err_from_mdb(mrc));
    /* Absent, but a prune run with the clock ahead may have deleted it while
     * the token was still valid. */
    TRY(store_jti_pruned_get(st, txn, &pruned));
    ENSURE(op->expires_at > pruned, STORE_ERR_REPLAY);
out:
    return rc;
}

enum store_err store_jti_write(struct store *st, MDB_txn *txn, const struct store_op *op)
{
    enum store_err rc = STORE_OK;
    unsigned char exp[8];
    unsigned char key[STORE_JTI_MAX];
    unsigned char xkey[STORE_JTI_KEY_MAX];
    MDB_val k = jti_key(op, key);
    MDB_val v = {sizeof(exp), exp};

    store_u64_put(exp, (uint64_t)op->expires_at);
    MDB(mdb_put(txn, st->db.jti, &k, &v, MDB_NOOVERWRITE));
    k.mv_size = store_jti_exp_key(op->expires_at, op->jti, op->jti_len, xkey);
    k.mv_data = xkey;
    v.mv_size = 0;
    v.mv_data = NULL;
    MDB(mdb_put(txn, st->db.jti_exp, &k, &v, 0));
out:
    return rc;
}

enum store_err store_jti_apply(struct store *st, MDB_txn *txn, struct store_op *op)
{
    enum store_err rc = STORE_OK;

    TRY(store_jti_unused(st, txn, op)); /* a replay: nothing written */
    rc = store_jti_write(st, txn, op);
    if (store_err_clean(rc)) {
        rc = STORE_ERR_CORRUPT; /* checked absent a moment ago */
    }
out:
    return rc;
}

enum store_err store_jti_use(struct store *st, const char *jti, size_t jti_len, int64_t expires_at)
{
    struct store_op op;

    if (st == NULL || !jti_ok(jti, jti_len)) {
        return STORE_ERR_INVALID_ARGUMENT;
    }
    memset(&op, 0, sizeof(op));
    op.kind = STORE_OP_JTI;
    op.jti = jti;
    op.jti_len = jti_len;
    op.expires_at = expires_at;
    return store_submit(st, &op);
}

enum store_err store_jti_check(struct store *st, const char *jti, size_t jti_len,
                               int64_t expires_at)
{
    enum store_err rc = STORE_OK;
    MDB_txn *txn = NULL;
    struct store_op op;

    ENSURE(st != NULL && jti_ok(jti, jti_len), STORE_ERR_INVALID_ARGUMENT);
    memset(&op, 0, sizeof(op));
    op.jti = jti;
    op.jti_len = jti_len;
    op.expires_at = expires_at;
    MDB(mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn));
    rc = store_jti_unused(st, txn, &op);
out:
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    return rc;
}
