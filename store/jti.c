/* jti.c: the one-time token cache. A jti is stored with MDB_NOOVERWRITE, so a
 * second use of the same id is refused until store_prune drops it after it
 * expired. An expiry-ordered index lets the prune walk only expired ids. */
#include <string.h>

#include "internal.h"

enum store_err store_jti_apply(struct store *st, MDB_txn *txn, struct store_op *op)
{
    enum store_err rc = STORE_OK;
    unsigned char exp[8];
    unsigned char key[STORE_JTI_MAX];
    unsigned char xkey[STORE_JTI_KEY_MAX];
    MDB_val k = {op->jti_len, key};
    MDB_val v = {sizeof(exp), exp};
    int wrote = 0;

    memcpy(key, op->jti, op->jti_len); /* length checked by store_jti_use */
    store_u64_put(exp, (uint64_t)op->expires_at);
    MDB(mdb_put(txn, st->db.jti, &k, &v, MDB_NOOVERWRITE)); /* a replay: EXISTS, nothing written */
    wrote = 1;
    k.mv_size = store_jti_exp_key(op->expires_at, op->jti, op->jti_len, xkey);
    k.mv_data = xkey;
    v.mv_size = 0;
    v.mv_data = NULL;
    MDB(mdb_put(txn, st->db.jti_exp, &k, &v, 0));
out:
    if (wrote && rc == STORE_ERR_EXISTS) {
        rc = STORE_ERR_CORRUPT;
    }
    return rc;
}

enum store_err store_jti_use(struct store *st, const char *jti, size_t jti_len, int64_t expires_at)
{
    struct store_op op;

    if (st == NULL || jti == NULL || jti_len == 0 || jti_len > STORE_JTI_MAX) {
        return STORE_ERR_INVALID_ARGUMENT;
    }
    memset(&op, 0, sizeof(op));
    op.kind = STORE_OP_JTI;
    op.jti = jti;
    op.jti_len = jti_len;
    op.expires_at = expires_at;
    return store_submit(st, &op);
}
