/* record.c: the versioned record encoding, written and read by hand with
 * fixed-width big-endian fields and length prefixes (never a struct copy). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void store_record_cleanup(struct store_record *rec)
{
    if (rec == NULL) {
        return;
    }
    free(rec->cert_der);
    rec->cert_der = NULL;
    rec->cert_der_len = 0;
}

/* fields_ok holds the rules shared by store_put, the encoder and the decoder,
 * so that whatever decodes also encodes to the same bytes. */
static int fields_ok(const struct store_record *rec, size_t spiffe_len)
{
    return rec->serial_len >= 1 && rec->serial_len <= STORE_SERIAL_MAX && spiffe_len >= 1 &&
           spiffe_len <= STORE_SPIFFE_ID_MAX && rec->cert_der_len >= 1 &&
           rec->cert_der_len <= (size_t)STORE_CERT_MAX && rec->revoked_at >= 0 &&
           rec->renewed_from_len <= STORE_SERIAL_MAX;
}

enum store_err store_record_check(const struct store_record *rec)
{
    if (rec == NULL) {
        return STORE_ERR_INVALID_ARGUMENT;
    }
    size_t spiffe_len = strnlen(rec->spiffe_id, sizeof(rec->spiffe_id));
    if (spiffe_len == sizeof(rec->spiffe_id) || !fields_ok(rec, spiffe_len) ||
        rec->cert_der == NULL) {
        return STORE_ERR_INVALID_ARGUMENT;
    }
    return STORE_OK;
}

size_t store_record_encoded_len(const struct store_record *rec)
{
    return STORE_RECORD_FIXED_LEN + rec->serial_len +
           strnlen(rec->spiffe_id, sizeof(rec->spiffe_id)) + rec->renewed_from_len +
           rec->cert_der_len;
}

static unsigned char *put_i64(unsigned char *p, int64_t v)
{
    store_u64_put(p, (uint64_t)v);
    return p + 8;
}

enum store_err store_record_encode(const struct store_record *rec, unsigned char *buf, size_t cap,
                                   size_t *out_len)
{
    enum store_err rc = STORE_OK;

    TRY(store_record_check(rec));
    size_t spiffe_len = strnlen(rec->spiffe_id, sizeof(rec->spiffe_id));
    size_t len = store_record_encoded_len(rec);
    ENSURE(buf != NULL && cap >= len && out_len != NULL, STORE_ERR_INVALID_ARGUMENT);

    unsigned char *p = buf;
    *p++ = STORE_RECORD_VERSION;
    *p++ = (unsigned char)rec->serial_len;
    memcpy(p, rec->serial, rec->serial_len);
    p += rec->serial_len;
    *p++ = (unsigned char)(spiffe_len >> 8);
    *p++ = (unsigned char)(spiffe_len & 0xff);
    memcpy(p, rec->spiffe_id, spiffe_len);
    p += spiffe_len;
    p = put_i64(p, rec->issued_at);
    p = put_i64(p, rec->not_before);
    p = put_i64(p, rec->not_after);
    p = put_i64(p, rec->revoked_at);
    store_u32_put(p, (uint32_t)rec->revocation_reason);
    p += 4;
    *p++ = rec->auth_method;
    *p++ = (unsigned char)rec->renewed_from_len;
    memcpy(p, rec->renewed_from, rec->renewed_from_len);
    p += rec->renewed_from_len;
    store_u32_put(p, (uint32_t)rec->cert_der_len);
    p += 4;
    memcpy(p, rec->cert_der, rec->cert_der_len);
    p += rec->cert_der_len;
    *out_len = (size_t)(p - buf);
out:
    return rc;
}

/* struct reader is a bounds-checked view (BoringSSL's CBS): each take fails
 * rather than read past the end. */
struct reader {
    const unsigned char *p;
    size_t left;
};

static int take(struct reader *r, size_t n, const unsigned char **out)
{
    if (n > r->left) {
        return 0;
    }
    *out = r->p;
    r->p += n;
    r->left -= n;
    return 1;
}

static int take_u8(struct reader *r, uint8_t *out)
{
    const unsigned char *b;
    if (!take(r, 1, &b)) {
        return 0;
    }
    *out = b[0];
    return 1;
}

static int take_u16(struct reader *r, size_t *out)
{
    const unsigned char *b;
    if (!take(r, 2, &b)) {
        return 0;
    }
    *out = ((size_t)b[0] << 8) | b[1];
    return 1;
}

static int take_u32(struct reader *r, uint32_t *out)
{
    const unsigned char *b;
    if (!take(r, 4, &b)) {
        return 0;
    }
    *out = store_u32_get(b);
    return 1;
}

static int take_i64(struct reader *r, int64_t *out)
{
    const unsigned char *b;
    if (!take(r, 8, &b)) {
        return 0;
    }
    uint64_t u = store_u64_get(b);
    memcpy(out, &u, sizeof(*out)); /* two's complement reinterpretation */
    return 1;
}

enum store_err store_record_decode(const unsigned char *buf, size_t len, int with_cert,
                                   struct store_record *out)
{
    enum store_err rc = STORE_OK;
    struct store_record rec;
    struct reader r = {buf, len};
    const unsigned char *serial = NULL;
    const unsigned char *spiffe = NULL;
    const unsigned char *cert = NULL;
    const unsigned char *from = NULL;
    uint8_t version = 0;
    uint8_t serial_len = 0;
    uint8_t from_len = 0;
    size_t spiffe_len = 0;
    uint32_t reason = 0;
    uint32_t cert_len = 0;

    memset(&rec, 0, sizeof(rec));
    ENSURE(buf != NULL && out != NULL, STORE_ERR_INVALID_ARGUMENT);
    ENSURE(take_u8(&r, &version) && (version == STORE_RECORD_VERSION || version == STORE_RECORD_V1),
           STORE_ERR_CORRUPT);
    ENSURE(take_u8(&r, &serial_len) && serial_len >= 1 && serial_len <= STORE_SERIAL_MAX,
           STORE_ERR_CORRUPT);
    ENSURE(take(&r, serial_len, &serial), STORE_ERR_CORRUPT);
    ENSURE(take_u16(&r, &spiffe_len) && spiffe_len >= 1 && spiffe_len <= STORE_SPIFFE_ID_MAX,
           STORE_ERR_CORRUPT);
    ENSURE(take(&r, spiffe_len, &spiffe), STORE_ERR_CORRUPT);
    ENSURE(memchr(spiffe, 0, spiffe_len) == NULL, STORE_ERR_CORRUPT);
    ENSURE(take_i64(&r, &rec.issued_at) && take_i64(&r, &rec.not_before) &&
               take_i64(&r, &rec.not_after) && take_i64(&r, &rec.revoked_at),
           STORE_ERR_CORRUPT);
    ENSURE(take_u32(&r, &reason) && take_u8(&r, &rec.auth_method), STORE_ERR_CORRUPT);
    if (version != STORE_RECORD_V1) {
        ENSURE(take_u8(&r, &from_len) && from_len <= STORE_SERIAL_MAX && take(&r, from_len, &from),
               STORE_ERR_CORRUPT);
    }
    ENSURE(take_u32(&r, &cert_len) && cert_len >= 1 && cert_len <= STORE_CERT_MAX,
           STORE_ERR_CORRUPT);
    ENSURE(take(&r, cert_len, &cert), STORE_ERR_CORRUPT);
    ENSURE(r.left == 0, STORE_ERR_CORRUPT);

    rec.serial_len = serial_len;
    memcpy(rec.serial, serial, serial_len);
    memcpy(rec.spiffe_id, spiffe, spiffe_len);
    rec.spiffe_id[spiffe_len] = '\0';
    memcpy(&rec.revocation_reason, &reason, sizeof(reason));
    rec.renewed_from_len = from_len;
    if (from_len > 0) {
        memcpy(rec.renewed_from, from, from_len);
    }
    rec.cert_der_len = cert_len;
    ENSURE(fields_ok(&rec, spiffe_len), STORE_ERR_CORRUPT);
    if (with_cert) {
        rec.cert_der = malloc(cert_len);
        ENSURE(rec.cert_der != NULL, STORE_ERR_INTERNAL);
        memcpy(rec.cert_der, cert, cert_len);
    }
    *out = rec;
out:
    return rc;
}

enum store_err store_record_load(const struct store *st, MDB_txn *txn, uint64_t seq, int with_cert,
                                 struct store_record *out)
{
    enum store_err rc = STORE_OK;
    unsigned char key[8];
    MDB_val k = {sizeof(key), key};
    MDB_val v;

    store_u64_put(key, seq);
    MDB(mdb_get(txn, st->db.records, &k, &v));
    /* v points into the map: decode copies what it keeps before the txn ends. */
    TRY(store_record_decode(v.mv_data, v.mv_size, with_cert, out));
out:
    if (rc == STORE_ERR_NOT_FOUND) {
        rc = STORE_ERR_CORRUPT; /* an index entry without its record */
    }
    return rc;
}

enum store_err store_seq_by_serial(const struct store *st, MDB_txn *txn,
                                   const unsigned char *serial, size_t serial_len,
                                   uint64_t *out_seq)
{
    enum store_err rc = STORE_OK;
    unsigned char key[STORE_SERIAL_KEY_MAX];
    MDB_val k = {store_serial_key(serial, serial_len, key), key};
    MDB_val v;

    MDB(mdb_get(txn, st->db.serial, &k, &v));
    ENSURE(v.mv_size == 8, STORE_ERR_CORRUPT);
    *out_seq = store_u64_get(v.mv_data);
out:
    return rc;
}
