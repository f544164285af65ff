/* test_store_record.c: the record encoding and its strict decoder. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../../store/internal.h"
#include "test_store.h"

TestSuite(store_record);

static void sample(struct store_record *rec)
{
    tst_record(rec, 42, "spiffe://example.org/ns/default/sa/web", 1800000000);
    rec->issued_at = -3;
    rec->not_before = 1700000001;
    rec->revoked_at = 1750000000;
    rec->revocation_reason = 4;
    rec->auth_method = 0xfe;
}

static size_t encode(const struct store_record *rec, unsigned char *buf, size_t cap)
{
    size_t len = 0;
    enum store_err rc = store_record_encode(rec, buf, cap, &len);
    cr_assert_eq(rc, STORE_OK, "%s", store_err_name(rc));
    cr_assert_eq(len, store_record_encoded_len(rec));
    return len;
}

Test(store_record, round_trips_every_field)
{
    struct store_record in;
    struct store_record out;
    unsigned char buf[STORE_RECORD_MAX_LEN];

    sample(&in);
    size_t len = encode(&in, buf, sizeof(buf));
    cr_assert_eq(buf[0], STORE_RECORD_VERSION);
    cr_assert_eq(store_record_decode(buf, len, 1, &out), STORE_OK);
    cr_assert_eq(out.serial_len, in.serial_len);
    cr_assert_eq(memcmp(out.serial, in.serial, in.serial_len), 0);
    cr_assert_str_eq(out.spiffe_id, in.spiffe_id);
    cr_assert_eq(out.issued_at, -3);
    cr_assert_eq(out.not_before, 1700000001);
    cr_assert_eq(out.not_after, 1800000000);
    cr_assert_eq(out.revoked_at, 1750000000);
    cr_assert_eq(out.revocation_reason, 4);
    cr_assert_eq(out.auth_method, 0xfe);
    cr_assert_eq(out.cert_der_len, TST_CERT_LEN);
    cr_assert_neq(out.cert_der, in.cert_der, "the decoder copies the DER");
    cr_assert_eq(memcmp(out.cert_der, in.cert_der, TST_CERT_LEN), 0);
    store_record_cleanup(&out);
    cr_assert_null(out.cert_der);
}

Test(store_record, round_trips_renewed_from)
{
    struct store_record in;
    struct store_record out;
    unsigned char buf[STORE_RECORD_MAX_LEN];

    sample(&in);
    memset(in.renewed_from, 0xab, STORE_SERIAL_MAX);
    in.renewed_from_len = STORE_SERIAL_MAX;
    size_t len = encode(&in, buf, sizeof(buf));
    cr_assert_eq(store_record_decode(buf, len, 1, &out), STORE_OK);
    cr_assert_eq(out.renewed_from_len, STORE_SERIAL_MAX);
    cr_assert_eq(memcmp(out.renewed_from, in.renewed_from, STORE_SERIAL_MAX), 0);
    cr_assert_eq(out.cert_der_len, TST_CERT_LEN);
    store_record_cleanup(&out);
    in.renewed_from_len = STORE_SERIAL_MAX + 1;
    cr_assert_eq(store_record_encode(&in, buf, sizeof(buf), &len), STORE_ERR_INVALID_ARGUMENT);
}

/* A version 1 record (written before renewed_from) is the version 2 encoding
 * of a record issued for a token, less the renewed_from_len byte. */
Test(store_record, reads_version_1_records)
{
    struct store_record in;
    struct store_record out;
    unsigned char buf[STORE_RECORD_MAX_LEN];
    unsigned char v1[STORE_RECORD_MAX_LEN];

    sample(&in);
    size_t len = encode(&in, buf, sizeof(buf));
    size_t from_at = len - TST_CERT_LEN - 4 - 1;
    cr_assert_eq(buf[from_at], 0, "renewed_from_len");
    memcpy(v1, buf, from_at);
    memcpy(v1 + from_at, buf + from_at + 1, len - from_at - 1);
    v1[0] = 1;
    cr_assert_eq(store_record_decode(v1, len - 1, 1, &out), STORE_OK);
    cr_assert_str_eq(out.spiffe_id, in.spiffe_id);
    cr_assert_eq(out.revoked_at, 1750000000);
    cr_assert_eq(out.auth_method, 0xfe);
    cr_assert_eq(out.renewed_from_len, 0);
    cr_assert_eq(out.cert_der_len, TST_CERT_LEN);
    cr_assert_eq(memcmp(out.cert_der, in.cert_der, TST_CERT_LEN), 0);
    store_record_cleanup(&out);
    /* and the version 2 bytes read as version 1 are corrupt, not misread */
    buf[0] = 1;
    cr_assert_eq(store_record_decode(buf, len, 1, &out), STORE_ERR_CORRUPT);
}

Test(store_record, decodes_without_the_certificate_when_asked)
{
    struct store_record in;
    struct store_record out;
    unsigned char buf[STORE_RECORD_MAX_LEN];

    sample(&in);
    size_t len = encode(&in, buf, sizeof(buf));
    cr_assert_eq(store_record_decode(buf, len, 0, &out), STORE_OK);
    cr_assert_null(out.cert_der);
    cr_assert_eq(out.cert_der_len, TST_CERT_LEN);
}

Test(store_record, refuses_every_truncation_as_corrupt)
{
    struct store_record in;
    struct store_record out;
    unsigned char buf[STORE_RECORD_MAX_LEN];

    sample(&in);
    size_t len = encode(&in, buf, sizeof(buf));
    for (size_t cut = 0; cut < len; cut++) {
        cr_assert_eq(store_record_decode(buf, cut, 1, &out), STORE_ERR_CORRUPT, "cut %zu", cut);
    }
}

Test(store_record, refuses_trailing_bytes_as_corrupt)
{
    struct store_record in;
    struct store_record out;
    unsigned char buf[STORE_RECORD_MAX_LEN + 1];

    sample(&in);
    size_t len = encode(&in, buf, sizeof(buf));
    buf[len] = 0;
    cr_assert_eq(store_record_decode(buf, len + 1, 1, &out), STORE_ERR_CORRUPT);
}

Test(store_record, refuses_an_unknown_version_as_corrupt)
{
    struct store_record in;
    struct store_record out;
    unsigned char buf[STORE_RECORD_MAX_LEN];

    sample(&in);
    size_t len = encode(&in, buf, sizeof(buf));
    buf[0] = STORE_RECORD_VERSION + 1;
    cr_assert_eq(store_record_decode(buf, len, 1, &out), STORE_ERR_CORRUPT);
    buf[0] = 0;
    cr_assert_eq(store_record_decode(buf, len, 1, &out), STORE_ERR_CORRUPT);
}

Test(store_record, refuses_oversized_and_zero_length_fields_as_corrupt)
{
    struct store_record in;
    struct store_record out;
    unsigned char buf[STORE_RECORD_MAX_LEN];

    sample(&in);
    size_t len = encode(&in, buf, sizeof(buf));
    size_t spiffe_at = 2 + in.serial_len;
    size_t cert_at = len - TST_CERT_LEN - 4;

    buf[1] = STORE_SERIAL_MAX + 1;
    cr_assert_eq(store_record_decode(buf, len, 1, &out), STORE_ERR_CORRUPT);
    buf[1] = 0;
    cr_assert_eq(store_record_decode(buf, len, 1, &out), STORE_ERR_CORRUPT);
    buf[1] = (unsigned char)in.serial_len;

    buf[spiffe_at] = 0xff; /* spiffe_len 0xff.. > 2048 */
    cr_assert_eq(store_record_decode(buf, len, 1, &out), STORE_ERR_CORRUPT);
    buf[spiffe_at] = 0;

    buf[cert_at] = 0x00;
    buf[cert_at + 1] = 0x01; /* cert_len 65536 + ... > STORE_CERT_MAX */
    cr_assert_eq(store_record_decode(buf, len, 1, &out), STORE_ERR_CORRUPT);
    memset(buf + cert_at, 0, 4); /* cert_len 0 */
    cr_assert_eq(store_record_decode(buf, len, 1, &out), STORE_ERR_CORRUPT);
}

Test(store_record, refuses_a_nul_inside_the_spiffe_id_as_corrupt)
{
    struct store_record in;
    struct store_record out;
    unsigned char buf[STORE_RECORD_MAX_LEN];

    sample(&in);
    size_t len = encode(&in, buf, sizeof(buf));
    buf[2 + in.serial_len + 2 + 5] = 0;
    cr_assert_eq(store_record_decode(buf, len, 1, &out), STORE_ERR_CORRUPT);
}

Test(store_record, refuses_a_negative_revocation_time_as_corrupt)
{
    struct store_record in;
    struct store_record out;
    unsigned char buf[STORE_RECORD_MAX_LEN];

    sample(&in);
    size_t len = encode(&in, buf, sizeof(buf));
    size_t revoked_at = 2 + in.serial_len + 2 + strlen(in.spiffe_id) + 24;
    buf[revoked_at] = 0x80;
    cr_assert_eq(store_record_decode(buf, len, 1, &out), STORE_ERR_CORRUPT);
}

Test(store_record, refuses_to_encode_into_a_short_buffer)
{
    struct store_record in;
    unsigned char buf[STORE_RECORD_MAX_LEN];
    size_t len = 0;

    sample(&in);
    cr_assert_eq(store_record_encode(&in, buf, store_record_encoded_len(&in) - 1, &len),
                 STORE_ERR_INVALID_ARGUMENT);
}

Test(store_record, checks_the_fields_of_a_record_to_put)
{
    struct store_record rec;

    sample(&rec);
    cr_assert_eq(store_record_check(&rec), STORE_OK);
    cr_assert_eq(store_record_check(NULL), STORE_ERR_INVALID_ARGUMENT);
    rec.serial_len = 0;
    cr_assert_eq(store_record_check(&rec), STORE_ERR_INVALID_ARGUMENT);
    rec.serial_len = STORE_SERIAL_MAX + 1;
    cr_assert_eq(store_record_check(&rec), STORE_ERR_INVALID_ARGUMENT);
    sample(&rec);
    rec.spiffe_id[0] = '\0';
    cr_assert_eq(store_record_check(&rec), STORE_ERR_INVALID_ARGUMENT);
    memset(rec.spiffe_id, 'a', sizeof(rec.spiffe_id)); /* no terminator */
    cr_assert_eq(store_record_check(&rec), STORE_ERR_INVALID_ARGUMENT);
    sample(&rec);
    rec.cert_der = NULL;
    cr_assert_eq(store_record_check(&rec), STORE_ERR_INVALID_ARGUMENT);
    sample(&rec);
    rec.cert_der_len = STORE_CERT_MAX + 1;
    cr_assert_eq(store_record_check(&rec), STORE_ERR_INVALID_ARGUMENT);
    sample(&rec);
    rec.revoked_at = -1;
    cr_assert_eq(store_record_check(&rec), STORE_ERR_INVALID_ARGUMENT);
}

Test(store_record, accepts_null_in_cleanup)
{
    store_record_cleanup(NULL);
}
