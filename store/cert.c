/* cert.c: issuance records: put, get, revoke and the walk over revoked
 * records that a CRL needs. Writes go through the group-commit writer. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int serial_ok(const unsigned char *serial, size_t serial_len)
{
    return serial != NULL && serial_len >= 1 && serial_len <= STORE_SERIAL_MAX;
}

/* after_write turns a "clean" code met after the op has written into
 * STORE_ERR_CORRUPT: an index disagrees with another, and the batch must not
 * commit the half-written op. */
static enum store_err after_write(enum store_err rc)
{
    return store_err_clean(rc) ? STORE_ERR_CORRUPT : rc;
}

/* put_encoded writes |rec| at |seq| in the records database, encoding it
 * straight into the page LMDB reserves for it. */
static enum store_err put_encoded(struct store *st, MDB_txn *txn, uint64_t seq,
                                  const struct store_record *rec, unsigned flags)
{
    enum store_err rc = STORE_OK;
    unsigned char key[8];
    MDB_val k = {sizeof(key), key};
    MDB_val v = {store_record_encoded_len(rec), NULL};
    size_t len = 0;

    store_u64_put(key, seq);
    MDB(mdb_put(txn, st->db.records, &k, &v, flags | MDB_RESERVE));
    TRY(store_record_encode(rec, v.mv_data, v.mv_size, &len));
    ENSURE(len == v.mv_size, STORE_ERR_INTERNAL);
out:
    return rc;
}

static enum store_err put_time_index(MDB_txn *txn, MDB_dbi dbi, int64_t t, uint64_t seq)
{
    enum store_err rc = STORE_OK;
    unsigned char key[STORE_TIME_KEY_LEN];
    MDB_val k = {sizeof(key), key};
    MDB_val v = {0, NULL};

    store_time_key(t, seq, key);
    MDB(mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE));
out:
    return rc;
}

/* unrevoked returns STORE_OK when the record of |serial| is in |txn| and not
 * revoked, STORE_ERR_REVOKED when it is revoked, STORE_ERR_NOT_FOUND when it
 * is gone (pruned). */
static enum store_err unrevoked(const struct store *st, MDB_txn *txn, const unsigned char *serial,
                                size_t serial_len)
{
    enum store_err rc = STORE_OK;
    struct store_record rec;
    uint64_t seq = 0;

    memset(&rec, 0, sizeof(rec));
    TRY(store_seq_by_serial(st, txn, serial, serial_len, &seq));
    TRY(store_record_load(st, txn, seq, 0, &rec));
    ENSURE(rec.serial_len == serial_len && memcmp(rec.serial, serial, serial_len) == 0,
           STORE_ERR_CORRUPT);
    ENSURE(rec.revoked_at == 0, STORE_ERR_REVOKED);
out:
    store_record_cleanup(&rec);
    return rc;
}

enum store_err store_put_apply(struct store *st, MDB_txn *txn, struct store_op *op)
{
    enum store_err rc = STORE_OK;
    const struct store_record *rec = op->rec;
    unsigned char skey[STORE_SERIAL_KEY_MAX];
    unsigned char xkey[STORE_SPIFFE_KEY_MAX];
    unsigned char seqbuf[8];
    uint64_t seq = 0;
    int wrote = 0;

    /* The conditions, before anything is written: a failed one leaves the
     * batch to go on without this op. */
    if (op->jti != NULL) {
        TRY(store_jti_unused(st, txn, op));
    }
    if (op->unrevoked != NULL) {
        TRY(unrevoked(st, txn, op->unrevoked, op->unrevoked_len));
    }
    TRY(store_meta_seq_take(st, txn, &seq));
    store_u64_put(seqbuf, seq);
    MDB_val k = {store_serial_key(rec->serial, rec->serial_len, skey), skey};
    MDB_val v = {sizeof(seqbuf), seqbuf};
    /* The first write, and the only one that may meet a duplicate: with
     * MDB_NOOVERWRITE it changes nothing then, and the batch goes on. */
    MDB(mdb_put(txn, st->db.serial, &k, &v, MDB_NOOVERWRITE));
    wrote = 1;
    /* Sequence keys only grow, so MDB_APPEND fills pages in order. */
    TRY(put_encoded(st, txn, seq, rec, MDB_NOOVERWRITE | MDB_APPEND));
    size_t id_len = strnlen(rec->spiffe_id, sizeof(rec->spiffe_id));
    k.mv_size = store_spiffe_key(rec->spiffe_id, id_len, rec->serial, rec->serial_len, xkey);
    k.mv_data = xkey;
    MDB(mdb_put(txn, st->db.spiffe, &k, &v, MDB_NOOVERWRITE));
    TRY(put_time_index(txn, st->db.expiry, rec->not_after, seq));
    if (rec->revoked_at != 0) {
        TRY(put_time_index(txn, st->db.revoked, rec->not_after, seq));
    }
    if (op->jti != NULL) {
        TRY(store_jti_write(st, txn, op));
    }
out:
    return wrote ? after_write(rc) : rc;
}

enum store_err store_put(struct store *st, const struct store_record *rec)
{
    struct store_op op;

    if (st == NULL || store_record_check(rec) != STORE_OK) {
        return STORE_ERR_INVALID_ARGUMENT;
    }
    memset(&op, 0, sizeof(op));
    op.kind = STORE_OP_PUT;
    op.rec = rec;
    return store_submit(st, &op);
}

enum store_err store_put_async(struct store *st, const struct store_record *rec,
                               const struct store_put_if *cond,
                               void (*done)(void *arg, enum store_err rc), void *arg)
{
    const struct store_jti *jti = cond != NULL ? cond->jti : NULL;
    const unsigned char *parent = cond != NULL ? cond->unrevoked : NULL;
    size_t parent_len = parent != NULL ? cond->unrevoked_len : 0;

    if (st == NULL || done == NULL || store_record_check(rec) != STORE_OK ||
        (jti != NULL && (jti->id == NULL || jti->len == 0 || jti->len > STORE_JTI_MAX)) ||
        (parent != NULL && !serial_ok(parent, parent_len))) {
        return STORE_ERR_INVALID_ARGUMENT;
    }
    /* The conditions travel with the op: one allocation, freed by the writer. */
    size_t jti_len = jti != NULL ? jti->len : 0;
    struct store_op *op = calloc(1, sizeof(*op) + parent_len + jti_len);
    if (op == NULL) {
        return STORE_ERR_INTERNAL;
    }
    unsigned char *tail = (unsigned char *)(op + 1);
    op->kind = STORE_OP_PUT;
    op->rec = rec;
    if (parent != NULL) {
        memcpy(tail, parent, parent_len);
        op->unrevoked = tail;
        op->unrevoked_len = parent_len;
    }
    if (jti != NULL) {
        memcpy(tail + parent_len, jti->id, jti->len);
        op->jti = (const char *)(tail + parent_len);
        op->jti_len = jti->len;
        op->expires_at = jti->expires_at;
    }
    op->on_done = done;
    op->arg = arg;
    enum store_err rc = store_enqueue(st, op);
    if (rc != STORE_OK) {
        free(op);
    }
    return rc;
}

enum store_err store_get(struct store *st, const unsigned char *serial, size_t serial_len,
                         struct store_record *out)
{
    enum store_err rc = STORE_OK;
    MDB_txn *txn = NULL;
    struct store_record rec;
    uint64_t seq = 0;

    memset(&rec, 0, sizeof(rec));
    ENSURE(st != NULL && out != NULL && serial_ok(serial, serial_len), STORE_ERR_INVALID_ARGUMENT);
    MDB(mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn));
    TRY(store_seq_by_serial(st, txn, serial, serial_len, &seq));
    TRY(store_record_load(st, txn, seq, 1, &rec));
    ENSURE(rec.serial_len == serial_len && memcmp(rec.serial, serial, serial_len) == 0,
           STORE_ERR_CORRUPT);
    *out = rec;
    memset(&rec, 0, sizeof(rec));
out:
    store_record_cleanup(&rec);
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    return rc;
}

enum store_err store_revoke_apply(struct store *st, MDB_txn *txn, struct store_op *op)
{
    enum store_err rc = STORE_OK;
    struct store_record rec;
    uint64_t seq = 0;
    int wrote = 0;

    memset(&rec, 0, sizeof(rec));
    TRY(store_seq_by_serial(st, txn, op->serial, op->serial_len, &seq));
    TRY(store_record_load(st, txn, seq, 1, &rec));
    ENSURE(rec.serial_len == op->serial_len && memcmp(rec.serial, op->serial, op->serial_len) == 0,
           STORE_ERR_CORRUPT);
    if (rec.revoked_at == 0) {
        /* The first revocation stands; later ones change nothing. */
        rec.revoked_at = op->revoked_at;
        rec.revocation_reason = op->reason;
        wrote = 1;
        TRY(put_encoded(st, txn, seq, &rec, 0));
        TRY(put_time_index(txn, st->db.revoked, rec.not_after, seq));
    }
    if (op->want_record) {
        op->result = rec;
        memset(&rec, 0, sizeof(rec));
    }
out:
    store_record_cleanup(&rec);
    return wrote ? after_write(rc) : rc;
}

enum store_err store_revoke(struct store *st, const unsigned char *serial, size_t serial_len,
                            int64_t revoked_at, int32_t reason, struct store_record *out)
{
    enum store_err rc = STORE_OK;
    struct store_op op;

    memset(&op, 0, sizeof(op));
    /* RFC 5280 5.3.1: CRLReason is 0..10, and 7 is not used. */
    ENSURE(st != NULL && serial_ok(serial, serial_len) && revoked_at > 0 && reason >= 0 &&
               reason <= 10 && reason != 7,
           STORE_ERR_INVALID_ARGUMENT);
    op.kind = STORE_OP_REVOKE;
    op.serial = serial;
    op.serial_len = serial_len;
    op.revoked_at = revoked_at;
    op.reason = reason;
    op.want_record = out != NULL;
    TRY(store_submit(st, &op));
    if (out != NULL) {
        *out = op.result;
        memset(&op.result, 0, sizeof(op.result));
    }
out:
    store_record_cleanup(&op.result);
    return rc;
}

enum store_err store_revoked_foreach(struct store *st, int64_t now,
                                     int (*fn)(const struct store_record *rec, void *ctx),
                                     void *ctx)
{
    enum store_err rc = STORE_OK;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    unsigned char start[STORE_TIME_KEY_LEN];
    MDB_val k = {sizeof(start), start};
    MDB_val v;
    struct store_record rec;

    ENSURE(st != NULL && fn != NULL, STORE_ERR_INVALID_ARGUMENT);
    if (now == INT64_MAX) {
        goto out; /* nothing expires after the end of time */
    }
    MDB(mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn));
    MDB(mdb_cursor_open(txn, st->db.revoked, &cur));
    /* The index is ordered by not_after: start at the first one after |now|. */
    store_time_key(now + 1, 0, start);
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (; mrc == MDB_SUCCESS; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        ENSURE(k.mv_size == STORE_TIME_KEY_LEN, STORE_ERR_CORRUPT);
        TRY(store_record_load(st, txn, store_time_key_seq(k.mv_data), 0, &rec));
        ENSURE(rec.revoked_at != 0 && rec.not_after > now, STORE_ERR_CORRUPT);
        if (fn(&rec, ctx) != 0) {
            goto out;
        }
    }
    ENSURE(mrc == MDB_NOTFOUND, store_err_from_mdb(mrc));
out:
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    return rc;
}
