/* store.h: issuance records in LMDB. Records in, records out: no LMDB type
 * crosses this interface, so that another backend can sit behind it. The store
 * parses no X.509; a record carries the certificate's DER only as bytes. */
#ifndef SIGNET_STORE_H
#define SIGNET_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_SERIAL_MAX    20 /* bytes; signet issues 16 */
#define STORE_SPIFFE_ID_MAX 2048
#define STORE_CERT_MAX      (16 * 1024)
#define STORE_JTI_MAX       256

/* The module's error table: code, short name. STORE_OK is 0. */
#define STORE_ERRORS(X)                                                                            \
    X(STORE_OK, "ok")                                                                              \
    X(STORE_ERR_INTERNAL, "internal")                                                              \
    X(STORE_ERR_INVALID_ARGUMENT, "invalid_argument")                                              \
    X(STORE_ERR_NOT_FOUND, "not_found")                                                            \
    X(STORE_ERR_EXISTS, "exists")                                                                  \
    X(STORE_ERR_MAP_FULL, "map_full")                                                              \
    X(STORE_ERR_IO, "io")                                                                          \
    X(STORE_ERR_CORRUPT, "corrupt")                                                                \
    X(STORE_ERR_VERSION, "version")                                                                \
    X(STORE_ERR_CLOSED, "closed")                                                                  \
    X(STORE_ERR_REPLAY, "replay")                                                                  \
    X(STORE_ERR_REVOKED, "revoked")

enum store_err {
#define STORE_ERR_ENUM(code, name) code,
    STORE_ERRORS(STORE_ERR_ENUM)
#undef STORE_ERR_ENUM
};

/* store_err_name returns the short name of |code| ("map_full"), a static string. */
const char *store_err_name(enum store_err code);

/* struct store is one open LMDB environment. All functions are safe to call
 * from many threads at once. */
struct store;

struct store_options {
    const char *path;   /* directory, created 0700 if absent */
    size_t map_size;    /* bytes */
    unsigned max_batch; /* most writes per group commit; 0 for the default (64) */
};

/* store_open opens (creating if needed) the store at |opts->path|, checks the
 * schema version, and starts the group-commit writer. The caller closes
 * |*out| with store_close(). */
enum store_err store_open(const struct store_options *opts, struct store **out)
    __attribute__((warn_unused_result));

/* store_close commits what is pending, stops the writer and closes the
 * environment; NULL is allowed. No other call may be in flight. */
void store_close(struct store *st);

/* struct store_record is one issuance. For store_put every pointer is borrowed;
 * records filled by store_get and store_list own |cert_der| and are freed with
 * store_record_cleanup(). */
struct store_record {
    unsigned char serial[STORE_SERIAL_MAX];
    size_t serial_len;
    char spiffe_id[STORE_SPIFFE_ID_MAX + 1];
    int64_t issued_at; /* Unix seconds */
    int64_t not_before;
    int64_t not_after;
    int64_t revoked_at;        /* 0 while not revoked */
    int32_t revocation_reason; /* RFC 5280 CRLReason code, when revoked */
    uint8_t auth_method;       /* opaque to the store */
    /* The serial of the certificate presented to renew (POST /v1/renew);
     * renewed_from_len 0 for a certificate issued for a token. */
    unsigned char renewed_from[STORE_SERIAL_MAX];
    size_t renewed_from_len;
    unsigned char *cert_der;
    size_t cert_der_len;
};

/* store_record_cleanup frees what a filled record owns; NULL is allowed. */
void store_record_cleanup(struct store_record *rec);

/* store_put records |rec| durably: it returns only once the record is committed
 * and synced to disk. Concurrent puts share one write transaction and one sync
 * (group commit). STORE_ERR_EXISTS for a serial already present,
 * STORE_ERR_MAP_FULL when the map is full (the store stays readable). */
enum store_err store_put(struct store *st, const struct store_record *rec)
    __attribute__((warn_unused_result));

/* struct store_jti is a one-time token id (|len| bytes, 1..STORE_JTI_MAX) to
 * keep until |expires_at|. */
struct store_jti {
    const char *id;
    size_t len;
    int64_t expires_at;
};

/* struct store_put_if is what a put requires of the store when it commits.
 * |jti|, when non-NULL, is a one-time token id that must be unspent; it is
 * spent with the record. |unrevoked|, when non-NULL, is the serial
 * (|unrevoked_len| bytes) of a record that must still exist and not be
 * revoked: the certificate a renewal presented, so that a renewal racing
 * a revocation of that certificate is settled by the commit order. */
struct store_put_if {
    const struct store_jti *jti;
    const unsigned char *unrevoked;
    size_t unrevoked_len;
};

/* store_put_async queues |rec| for the next group commit and returns at once.
 * done(arg, rc) then runs on the store's writer thread once that commit is
 * synced (STORE_OK) or has failed (the codes of store_put); until it runs,
 * |rec| and what it points to must stay valid and unchanged. |cond| (NULL for
 * none; what it points to is copied) is checked in the commit's transaction
 * before anything is written: when it fails, nothing is written and the code
 * is STORE_ERR_REPLAY (the jti was spent), STORE_ERR_REVOKED (the |unrevoked|
 * record is revoked) or STORE_ERR_NOT_FOUND (that record is gone). When
 * store_put_async itself fails (STORE_ERR_CLOSED once the store is closing),
 * |done| is never called. |done| must be quick and must not write to the
 * store: the next batch waits for it. store_close runs every pending |done|. */
enum store_err store_put_async(struct store *st, const struct store_record *rec,
                               const struct store_put_if *cond,
                               void (*done)(void *arg, enum store_err rc), void *arg)
    __attribute__((warn_unused_result));

/* store_get fills |*out| with the record of |serial|, or STORE_ERR_NOT_FOUND. */
enum store_err store_get(struct store *st, const unsigned char *serial, size_t serial_len,
                         struct store_record *out) __attribute__((warn_unused_result));

enum store_status {
    STORE_STATUS_ANY,
    STORE_STATUS_VALID,   /* not revoked and not_after > now */
    STORE_STATUS_REVOKED, /* revoked (expired or not) */
    STORE_STATUS_EXPIRED, /* not revoked and not_after <= now */
};

struct store_query {
    const char *spiffe_id; /* NULL for every identity; borrowed */
    enum store_status status;
    int64_t now;
    const unsigned char *after; /* resume after this serial (NULL: from the start) */
    size_t after_len;
    const unsigned char *renewed_from; /* only records renewed from this serial (NULL: any) */
    size_t renewed_from_len;
    size_t limit; /* 1..STORE_LIST_MAX */
};

#define STORE_LIST_MAX 1000

/* STORE_LIST_SCAN_MAX bounds the index entries one store_list call examines.
 * A filter that few records match (status=revoked among a million) would
 * otherwise walk the whole index in one read transaction, on an HTTP poll
 * thread. Each entry costs an index step and a record lookup without the
 * certificate, so 4096 keep a call to a few milliseconds; and being above
 * STORE_LIST_MAX, they fill every page of a listing whose entries all match
 * (no status, or one identity's own index), so only filters feel the bound. */
#define STORE_LIST_SCAN_MAX 4096

/* store_list fills |out| (room for |q->limit| records) with the records
 * matching |q| in ascending serial order and sets |*out_num|. It examines at
 * most STORE_LIST_SCAN_MAX index entries. When it stops before the end of the
 * index (the page is full and another match follows, or the bound is reached)
 * it writes the serial of the last entry examined into |out_next| (room for
 * STORE_SERIAL_MAX bytes) and its length into |*out_next_len|: the same query
 * with that serial as |after| resumes there. A page may then hold fewer than
 * |q->limit| records, even none. |*out_next_len| is 0 when no entry is left
 * to examine. The caller cleans up each filled record. */
enum store_err store_list(struct store *st, const struct store_query *q, struct store_record *out,
                          size_t *out_num, unsigned char *out_next, size_t *out_next_len)
    __attribute__((warn_unused_result));

/* store_revoke marks |serial| revoked at |revoked_at| for |reason|, durably.
 * Revoking twice keeps the first revocation. When |out| is non-NULL it gets
 * the record as it stands afterwards. STORE_ERR_NOT_FOUND for unknown serials. */
enum store_err store_revoke(struct store *st, const unsigned char *serial, size_t serial_len,
                            int64_t revoked_at, int32_t reason, struct store_record *out)
    __attribute__((warn_unused_result));

/* store_revoked_foreach calls |fn| for every revoked record whose not_after is
 * after |now| (what a CRL lists), in one read transaction. The record passed is
 * borrowed for the call only (its cert_der is NULL). A non-zero return from
 * |fn| stops the walk. */
enum store_err store_revoked_foreach(struct store *st, int64_t now,
                                     int (*fn)(const struct store_record *rec, void *ctx),
                                     void *ctx) __attribute__((warn_unused_result));

/* store_jti_use records a one-time token id until |expires_at|, durably, on
 * its own. It returns STORE_ERR_REPLAY when the id was already used, or may
 * have been: when |expires_at| is not after the expiry of an id store_prune
 * has deleted (a prune run while the clock was ahead deletes ids of tokens
 * still valid once it is set back). */
enum store_err store_jti_use(struct store *st, const char *jti, size_t jti_len, int64_t expires_at)
    __attribute__((warn_unused_result));

/* store_jti_check reads, without writing, whether a token id that expires at
 * |expires_at| is still unused: STORE_OK when it is, STORE_ERR_REPLAY when it
 * was (or may have been, as for store_jti_use) spent. An answer of STORE_OK
 * promises nothing: only the commit that spends the id decides. */
enum store_err store_jti_check(struct store *st, const char *jti, size_t jti_len,
                               int64_t expires_at) __attribute__((warn_unused_result));

/* store_crl_number_advance records, durably, a CRL number and returns it:
 * the larger of |at_least| and the last number recorded plus one (1 on a new
 * store). So numbers recorded only grow, also across restarts. |at_least|
 * must be below UINT64_MAX. Thread-safe; it waits for the group commit. */
enum store_err store_crl_number_advance(struct store *st, uint64_t at_least, uint64_t *out_number)
    __attribute__((warn_unused_result));

/* store_prune deletes jti entries that expired before |now| and records whose
 * not_after is more than |retention_s| before |now|; |*out_num| gets how many. */
enum store_err store_prune(struct store *st, int64_t now, int64_t retention_s, size_t *out_num)
    __attribute__((warn_unused_result));

struct store_stats {
    uint64_t commits;    /* group commits since open */
    uint64_t committed;  /* writes in them */
    uint64_t last_batch; /* writes in the last commit */
    size_t map_size;     /* bytes */
    size_t map_used;     /* bytes in use (last page number * page size) */
    uint64_t num_records;
    uint64_t disk_free; /* bytes free for it on the store's filesystem */
};

/* store_probe commits one small synced write (a counter in the meta
 * database), to learn whether the store takes writes again after one failed:
 * STORE_OK, or the code any write would get now (STORE_ERR_MAP_FULL,
 * STORE_ERR_IO). */
enum store_err store_probe(struct store *st) __attribute__((warn_unused_result));

/* store_stats_get fills |*out|. */
enum store_err store_stats_get(struct store *st, struct store_stats *out)
    __attribute__((warn_unused_result));

#endif
