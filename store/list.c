/* list.c: paged listing of records in ascending serial order, through the
 * serial index or, for one identity, the spiffe index. */
#include <string.h>

#include "internal.h"

static int status_match(const struct store_record *rec, enum store_status status, int64_t now)
{
    switch (status) {
        case STORE_STATUS_ANY:
            return 1;
        case STORE_STATUS_VALID:
            return rec->revoked_at == 0 && rec->not_after > now;
        case STORE_STATUS_REVOKED:
            return rec->revoked_at != 0;
        case STORE_STATUS_EXPIRED:
            return rec->revoked_at == 0 && rec->not_after <= now;
    }
    return 0;
}

static int renewed_from_match(const struct store_record *rec, const struct store_query *q)
{
    return q->renewed_from == NULL ||
           (rec->renewed_from_len == q->renewed_from_len &&
            memcmp(rec->renewed_from, q->renewed_from, q->renewed_from_len) == 0);
}

static enum store_err query_check(const struct store_query *q, size_t *out_id_len)
{
    size_t id_len = 0;

    if (q->limit < 1 || q->limit > STORE_LIST_MAX) {
        return STORE_ERR_INVALID_ARGUMENT;
    }
    if (q->status != STORE_STATUS_ANY && q->status != STORE_STATUS_VALID &&
        q->status != STORE_STATUS_REVOKED && q->status != STORE_STATUS_EXPIRED) {
        return STORE_ERR_INVALID_ARGUMENT;
    }
    if (q->after != NULL && (q->after_len < 1 || q->after_len > STORE_SERIAL_MAX)) {
        return STORE_ERR_INVALID_ARGUMENT;
    }
    if (q->renewed_from != NULL &&
        (q->renewed_from_len < 1 || q->renewed_from_len > STORE_SERIAL_MAX)) {
        return STORE_ERR_INVALID_ARGUMENT;
    }
    if (q->spiffe_id != NULL) {
        id_len = strnlen(q->spiffe_id, STORE_SPIFFE_ID_MAX + 1);
        if (id_len < 1 || id_len > STORE_SPIFFE_ID_MAX) {
            return STORE_ERR_INVALID_ARGUMENT;
        }
    }
    *out_id_len = id_len;
    return STORE_OK;
}

/* entry_serial copies the serial key that ends index key |k| (after a
 * |prefix_len|-byte identity prefix) into |out|: where a listing that stops
 * at this entry resumes. */
static enum store_err entry_serial(const MDB_val *k, size_t prefix_len, unsigned char *out,
                                   size_t *out_len)
{
    enum store_err rc = STORE_OK;
    const unsigned char *key = k->mv_data;

    ENSURE(k->mv_size > prefix_len + 1, STORE_ERR_CORRUPT);
    size_t len = key[prefix_len];
    ENSURE(len >= 1 && len <= STORE_SERIAL_MAX && k->mv_size == prefix_len + 1 + len,
           STORE_ERR_CORRUPT);
    memcpy(out, key + prefix_len + 1, len);
    *out_len = len;
out:
    return rc;
}

enum store_err store_list(struct store *st, const struct store_query *q, struct store_record *out,
                          size_t *out_num, unsigned char *out_next, size_t *out_next_len)
{
    enum store_err rc = STORE_OK;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    unsigned char start[STORE_SPIFFE_KEY_MAX];
    unsigned char next[STORE_SERIAL_MAX];
    size_t next_len = 0;
    size_t prefix_len = 0;
    size_t start_len = 0;
    size_t id_len = 0;
    size_t num = 0;
    size_t examined = 0;
    int more = 0;
    struct store_record rec;

    memset(&rec, 0, sizeof(rec));
    ENSURE(st != NULL && q != NULL && out != NULL && out_num != NULL && out_next != NULL &&
               out_next_len != NULL,
           STORE_ERR_INVALID_ARGUMENT);
    TRY(query_check(q, &id_len));

    /* Both indexes end in a serial key; the spiffe index puts the ID's
     * prefix before it. Start at prefix + |after| and stay within prefix. */
    if (q->spiffe_id != NULL) {
        prefix_len = store_spiffe_prefix(q->spiffe_id, id_len, start);
    }
    start_len = prefix_len;
    if (q->after != NULL) {
        start_len += store_serial_key(q->after, q->after_len, start + prefix_len);
    }
    MDB(mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn));
    MDB(mdb_cursor_open(txn, q->spiffe_id != NULL ? st->db.spiffe : st->db.serial, &cur));
    MDB_val k = {start_len, start};
    MDB_val v;
    int mrc = start_len == 0 ? mdb_cursor_get(cur, &k, &v, MDB_FIRST)
                             : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (; mrc == MDB_SUCCESS; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < prefix_len || memcmp(k.mv_data, start, prefix_len) != 0) {
            break; /* past this identity's entries */
        }
        if (q->after != NULL && k.mv_size == start_len &&
            memcmp(k.mv_data, start, start_len) == 0) {
            continue; /* strictly after */
        }
        /* An entry follows the last one examined: stop at the bound and let
         * the caller resume from there, so that a filter few records match
         * costs one call a bounded walk, never the whole index. */
        if (examined == STORE_LIST_SCAN_MAX) {
            more = 1;
            break;
        }
        examined++;
        ENSURE(v.mv_size == 8, STORE_ERR_CORRUPT);
        uint64_t seq = store_u64_get(v.mv_data);
        /* Read without the certificate first: most entries a filter
         * examines are not kept, and copying their DER would be wasted. */
        TRY(store_record_load(st, txn, seq, 0, &rec));
        int match = status_match(&rec, q->status, q->now) && renewed_from_match(&rec, q) &&
                    (q->spiffe_id == NULL || strcmp(rec.spiffe_id, q->spiffe_id) == 0);
        if (match && num == q->limit) {
            more = 1; /* |next| stays on the entry before: the next call returns this one */
            break;
        }
        if (match) {
            TRY(store_record_load(st, txn, seq, 1, &out[num]));
            num++;
        }
        TRY(entry_serial(&k, prefix_len, next, &next_len));
    }
    ENSURE(more || mrc == MDB_SUCCESS || mrc == MDB_NOTFOUND, store_err_from_mdb(mrc));
    /* |next| is set: a break with |more| comes after at least one entry
     * examined, as limit and STORE_LIST_SCAN_MAX are at least 1. */
    if (more) {
        memcpy(out_next, next, next_len);
    }
    *out_next_len = more ? next_len : 0;
    *out_num = num;
    num = 0;
out:
    store_record_cleanup(&rec);
    for (size_t i = 0; i < num; i++) {
        store_record_cleanup(&out[i]);
    }
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    return rc;
}
