/* internal.h: shared by the files of store/ only. Nothing here crosses into
 * store.h: LMDB types stay inside the module. */
#ifndef SIGNET_STORE_INTERNAL_H
#define SIGNET_STORE_INTERNAL_H

#include <pthread.h>
#include <semaphore.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "store.h"

/* meta "version". 2: records may be version 2 (renewed_from); a version 1
 * store is upgraded on open, and a newer one is STORE_ERR_VERSION. */
#define STORE_SCHEMA_VERSION 2
#define STORE_RECORD_VERSION 2 /* first byte of every encoded record */
#define STORE_RECORD_V1      1 /* read still: version 2 less renewed_from */
#define STORE_BATCH_DEFAULT  64
#define STORE_BATCH_LIMIT    4096
#define STORE_MAX_READERS    512
#define STORE_PRUNE_CHUNK    1000 /* deletions per prune transaction */

/* Key sizes. LMDB keys are at most 511 bytes, so the spiffe index keeps at most
 * STORE_SPIFFE_KEY_PREFIX bytes of the ID (longer IDs share a prefix and are
 * told apart by the record itself). */
#define STORE_SERIAL_KEY_MAX    (1 + STORE_SERIAL_MAX)
#define STORE_SPIFFE_KEY_PREFIX 448
#define STORE_SPIFFE_KEY_MAX    (STORE_SPIFFE_KEY_PREFIX + 1 + STORE_SERIAL_KEY_MAX)
#define STORE_TIME_KEY_LEN      16
#define STORE_JTI_KEY_MAX       (8 + STORE_JTI_MAX)

/* Encoded record: version(1) serial_len(1) serial spiffe_len(2) spiffe
 * issued_at(8) not_before(8) not_after(8) revoked_at(8) reason(4) auth(1)
 * renewed_from_len(1) renewed_from cert_len(4) cert; every integer
 * big-endian. Version 1 records lack renewed_from_len and renewed_from. */
#define STORE_RECORD_FIXED_LEN (1 + 1 + 2 + 8 * 4 + 4 + 1 + 1 + 4)
#define STORE_RECORD_MAX_LEN                                                                       \
    (STORE_RECORD_FIXED_LEN + 2 * STORE_SERIAL_MAX + STORE_SPIFFE_ID_MAX + STORE_CERT_MAX)

/* The error macros of STYLE.md section 4, for functions with `enum store_err rc`
 * and an `out:` label. The store has no message struct: its callers (api/)
 * word the messages, so ENSURE takes a code only. MDB() maps an LMDB return. */
#define TRY(call)                                                                                  \
    do {                                                                                           \
        rc = (call);                                                                               \
        if (rc != STORE_OK) {                                                                      \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

#define ENSURE(cond, code)                                                                         \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            rc = (code);                                                                           \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

#define MDB(call)                                                                                  \
    do {                                                                                           \
        int mdb_rc_ = (call);                                                                      \
        if (mdb_rc_ != MDB_SUCCESS) {                                                              \
            rc = store_err_from_mdb(mdb_rc_);                                                      \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

/* The named databases of one environment (README.md lists their layouts). */
struct store_dbs {
    MDB_dbi records; /* seq(8) -> encoded record */
    MDB_dbi serial;  /* serial key -> seq(8) */
    MDB_dbi spiffe;  /* spiffe prefix + 0x00 + serial key -> seq(8) */
    MDB_dbi expiry;  /* time key(not_after, seq) -> "" */
    MDB_dbi revoked; /* time key(not_after, seq) -> "" for revoked records */
    MDB_dbi jti;     /* jti -> expires_at(8) */
    MDB_dbi jti_exp; /* expires_at(8) + jti -> "" */
    MDB_dbi meta;    /* "version" u32; "seq", "crl", "probe" u64: each counter the next to hand
                        out (the smallest, for "crl"); "jti_pruned": the latest expiry of a
                        pruned jti */
};

enum store_op_kind {
    STORE_OP_PUT,
    STORE_OP_REVOKE,
    STORE_OP_JTI,
    STORE_OP_CRL,
    STORE_OP_PROBE,
};

/* struct store_op is one queued write. A waiting caller's op is on its stack
 * and the caller waits on |done| until the writer posts it; the writer touches
 * the op only between submission and that post (which orders its writes before
 * the caller's reads). An op with |on_done| (store_put_async) is on the heap:
 * the writer calls on_done(arg, rc) and frees it instead. */
struct store_op {
    enum store_op_kind kind;
    const struct store_record *rec; /* PUT: borrowed */
    const unsigned char *serial;    /* REVOKE: borrowed */
    size_t serial_len;
    int64_t revoked_at;
    int32_t reason;
    int want_record;            /* REVOKE: fill |result| (with cert) */
    struct store_record result; /* REVOKE: owned by the op until handed over */
    const char *jti;            /* JTI: borrowed; PUT: NULL, or the id to spend with it */
    size_t jti_len;
    const unsigned char *unrevoked; /* PUT: NULL, or the serial that must be unrevoked */
    size_t unrevoked_len;
    int64_t expires_at;
    uint64_t number; /* CRL: the floor asked for, then the number recorded */
    enum store_err rc;
    sem_t done;
    void (*on_done)(void *arg, enum store_err rc); /* asynchronous: no waiter */
    void *arg;
    struct store_op *next; /* queue link, guarded by store.mu */
};

struct store {
    MDB_env *env;
    struct store_dbs db;
    unsigned max_batch;
    pthread_mutex_t mu;  /* guards everything below */
    pthread_cond_t wake; /* the writer waits here for work */
    struct store_op *head;
    struct store_op *tail;
    int stopping;
    int writer_running;
    pthread_t writer;
    struct store_op **batch; /* the writer's own array of max_batch ops */
    uint64_t commits;
    uint64_t committed;
    uint64_t last_batch;
};

/* ==== env.c ==== */

/* store_err_from_mdb maps an LMDB or errno return to the store's table. */
enum store_err store_err_from_mdb(int mdb_rc);

/* store_err_clean says whether |rc| is one of the codes an op may return
 * before it has written anything (EXISTS, NOT_FOUND, INVALID_ARGUMENT,
 * REPLAY, REVOKED), so that its batch can go on without it. */
int store_err_clean(enum store_err rc);

/* ==== key.c: key layouts ==== */

void store_u64_put(unsigned char *buf, uint64_t v);
uint64_t store_u64_get(const unsigned char *buf);
void store_u32_put(unsigned char *buf, uint32_t v);
uint32_t store_u32_get(const unsigned char *buf);

/* store_serial_key writes len(1) + serial into |buf| (room for
 * STORE_SERIAL_KEY_MAX) and returns its length: the length prefix orders
 * serials numerically (shorter first, then byte order). */
size_t store_serial_key(const unsigned char *serial, size_t serial_len, unsigned char *buf);

/* store_time_key writes a 16-byte key ordering by |t| (sign bit flipped so that
 * negative times sort first), then by |seq|. */
void store_time_key(int64_t t, uint64_t seq, unsigned char *buf);
int64_t store_time_key_time(const unsigned char *buf);
uint64_t store_time_key_seq(const unsigned char *buf);

/* store_spiffe_prefix writes the spiffe index prefix of |id| (at most
 * STORE_SPIFFE_KEY_PREFIX bytes of it, then 0x00) and returns its length;
 * store_spiffe_key appends the serial key (room for STORE_SPIFFE_KEY_MAX). */
size_t store_spiffe_prefix(const char *id, size_t id_len, unsigned char *buf);
size_t store_spiffe_key(const char *id, size_t id_len, const unsigned char *serial,
                        size_t serial_len, unsigned char *buf);

/* store_jti_exp_key writes the jti expiry index key: the time part of a time
 * key for |expires_at|, then the jti (room for STORE_JTI_KEY_MAX). */
size_t store_jti_exp_key(int64_t expires_at, const char *jti, size_t jti_len, unsigned char *buf);

/* ==== record.c: the versioned record encoding ==== */

/* store_record_check validates a record given to store_put: serial 1..20 bytes,
 * a NUL-terminated non-empty SPIFFE ID, a 1..STORE_CERT_MAX DER, sane times. */
enum store_err store_record_check(const struct store_record *rec);

/* store_record_encoded_len returns the encoding's length for a checked record. */
size_t store_record_encoded_len(const struct store_record *rec);

/* store_record_encode writes |rec| into |buf| (|cap| bytes) and sets |*out_len|.
 * STORE_ERR_INVALID_ARGUMENT when a field is over its cap or |cap| is short. */
enum store_err store_record_encode(const struct store_record *rec, unsigned char *buf, size_t cap,
                                   size_t *out_len);

/* store_record_decode parses |buf| strictly into |*out|: every length is
 * checked against what remains and all of |buf| must be consumed; an unknown
 * version or a malformed field is STORE_ERR_CORRUPT. With |with_cert| the
 * DER is copied into a new buffer (free with store_record_cleanup); without,
 * cert_der is NULL and cert_der_len still gives its length. On failure |*out|
 * owns nothing. */
enum store_err store_record_decode(const unsigned char *buf, size_t len, int with_cert,
                                   struct store_record *out);

/* store_record_load reads and decodes the record at |seq| in |txn|. */
enum store_err store_record_load(const struct store *st, MDB_txn *txn, uint64_t seq, int with_cert,
                                 struct store_record *out);

/* store_seq_by_serial looks |serial| up in the serial index. */
enum store_err store_seq_by_serial(const struct store *st, MDB_txn *txn,
                                   const unsigned char *serial, size_t serial_len,
                                   uint64_t *out_seq);

/* ==== meta.c ==== */

/* store_meta_seq_take returns the next record sequence number in |txn| and
 * advances the counter (meta "seq"), so that sequence keys only grow. */
enum store_err store_meta_seq_take(struct store *st, MDB_txn *txn, uint64_t *out_seq);

/* store_jti_pruned_get reads meta "jti_pruned" (0 when absent): the latest
 * expiry among the spent jti entries store_prune has deleted. A token that
 * expires at or before it may have been spent, its entry gone, so it is
 * refused. store_jti_pruned_raise sets it to |t| when |t| is later. */
enum store_err store_jti_pruned_get(const struct store *st, MDB_txn *txn, int64_t *out);
enum store_err store_jti_pruned_raise(struct store *st, MDB_txn *txn, int64_t t);

/* ==== commit.c: the group-commit writer ==== */

enum store_err store_writer_start(struct store *st);
void store_writer_stop(struct store *st);

/* store_submit queues |op|, waits until its batch has committed (or failed),
 * and returns op->rc. Thread-safe. */
enum store_err store_submit(struct store *st, struct store_op *op);

/* store_enqueue queues |op| for the writer without waiting; STORE_ERR_CLOSED
 * once the store is closing (the op is then not queued). */
enum store_err store_enqueue(struct store *st, struct store_op *op);

/* The per-kind steps the writer runs inside its write transaction. Each
 * returns a clean code (store_err_clean) only before it has written
 * anything, so the batch can go on without it. */
enum store_err store_put_apply(struct store *st, MDB_txn *txn, struct store_op *op);
enum store_err store_revoke_apply(struct store *st, MDB_txn *txn, struct store_op *op);
enum store_err store_jti_apply(struct store *st, MDB_txn *txn, struct store_op *op);
enum store_err store_crl_apply(struct store *st, MDB_txn *txn, struct store_op *op);
enum store_err store_probe_apply(struct store *st, MDB_txn *txn, struct store_op *op);

/* store_jti_unused returns STORE_ERR_REPLAY when |op|'s jti is in |txn|'s
 * cache, or when its expiry (op->expires_at) is not after the latest expiry
 * pruned (store_jti_pruned_get), else STORE_OK; store_jti_write then records
 * it. A put that carries a jti runs the first before it writes anything and
 * the second after. */
enum store_err store_jti_unused(const struct store *st, MDB_txn *txn, const struct store_op *op);
enum store_err store_jti_write(struct store *st, MDB_txn *txn, const struct store_op *op);

#endif
