/* test_store_cert.c: put, get, revoke and the revoked walk. */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "test_store.h"

#define ID "spiffe://example.org/ns/prod/sa/web"

static char *dir;
static struct store *st;

static void setup(void)
{
    dir = tst_dir();
    st = tst_open(dir);
}

static void teardown(void)
{
    store_close(st);
    tst_dir_remove(dir);
}

TestSuite(store_cert, .init = setup, .fini = teardown);

Test(store_cert, round_trips_every_field_through_put_and_get)
{
    struct store_record in;
    struct store_record out;
    unsigned char cert[3] = {0x30, 0x01, 0x00};

    memset(&in, 0, sizeof(in));
    in.serial_len = 3;
    memcpy(in.serial, "\x01\x02\x03", 3);
    snprintf(in.spiffe_id, sizeof(in.spiffe_id), "%s", ID);
    in.issued_at = 1700000000;
    in.not_before = 1699999940;
    in.not_after = 1700003600;
    in.revoked_at = 0;
    in.revocation_reason = 0;
    in.auth_method = 3;
    in.cert_der = cert;
    in.cert_der_len = sizeof(cert);
    cr_assert_eq(store_put(st, &in), STORE_OK);

    cr_assert_eq(store_get(st, in.serial, 3, &out), STORE_OK);
    cr_assert_eq(out.serial_len, 3);
    cr_assert_eq(memcmp(out.serial, "\x01\x02\x03", 3), 0);
    cr_assert_str_eq(out.spiffe_id, ID);
    cr_assert_eq(out.issued_at, 1700000000);
    cr_assert_eq(out.not_before, 1699999940);
    cr_assert_eq(out.not_after, 1700003600);
    cr_assert_eq(out.revoked_at, 0);
    cr_assert_eq(out.auth_method, 3);
    cr_assert_eq(out.cert_der_len, 3);
    cr_assert_eq(memcmp(out.cert_der, cert, 3), 0);
    store_record_cleanup(&out);
}

Test(store_cert, refuses_a_duplicate_serial_as_exists)
{
    struct store_record rec;
    tst_put(st, 7, ID, 2000000000);
    tst_record(&rec, 7, "spiffe://example.org/other", 2000000001);
    cr_assert_eq(store_put(st, &rec), STORE_ERR_EXISTS);

    struct store_record out;
    cr_assert_eq(store_get(st, rec.serial, 16, &out), STORE_OK);
    cr_assert_str_eq(out.spiffe_id, ID, "the first record stands");
    store_record_cleanup(&out);
}

Test(store_cert, reports_an_unknown_serial_as_not_found)
{
    struct store_record out;
    unsigned char serial[16];
    tst_put(st, 1, ID, 2000000000);
    tst_serial(2, serial);
    cr_assert_eq(store_get(st, serial, 16, &out), STORE_ERR_NOT_FOUND);
    cr_assert_eq(store_get(st, serial, 15, &out), STORE_ERR_NOT_FOUND);
}

Test(store_cert, refuses_bad_put_arguments_as_invalid_argument)
{
    struct store_record rec;

    cr_assert_eq(store_put(st, NULL), STORE_ERR_INVALID_ARGUMENT);
    tst_record(&rec, 1, ID, 2000000000);
    cr_assert_eq(store_put(NULL, &rec), STORE_ERR_INVALID_ARGUMENT);
    rec.serial_len = 0;
    cr_assert_eq(store_put(st, &rec), STORE_ERR_INVALID_ARGUMENT);
    rec.serial_len = STORE_SERIAL_MAX + 1;
    cr_assert_eq(store_put(st, &rec), STORE_ERR_INVALID_ARGUMENT);
    tst_record(&rec, 1, "", 2000000000);
    cr_assert_eq(store_put(st, &rec), STORE_ERR_INVALID_ARGUMENT);
    tst_record(&rec, 1, ID, 2000000000);
    rec.cert_der_len = STORE_CERT_MAX + 1;
    cr_assert_eq(store_put(st, &rec), STORE_ERR_INVALID_ARGUMENT);
    rec.cert_der_len = 0;
    cr_assert_eq(store_put(st, &rec), STORE_ERR_INVALID_ARGUMENT);
    rec.cert_der = NULL;
    rec.cert_der_len = 10;
    cr_assert_eq(store_put(st, &rec), STORE_ERR_INVALID_ARGUMENT);
}

Test(store_cert, refuses_bad_get_arguments_as_invalid_argument)
{
    struct store_record out;
    unsigned char serial[STORE_SERIAL_MAX + 1] = {1};

    cr_assert_eq(store_get(st, serial, 0, &out), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_get(st, serial, sizeof(serial), &out), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_get(st, NULL, 16, &out), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_get(st, serial, 16, NULL), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_get(NULL, serial, 16, &out), STORE_ERR_INVALID_ARGUMENT);
}

Test(store_cert, keeps_the_first_revocation)
{
    struct store_record out;
    unsigned char serial[16];

    tst_put(st, 5, ID, 2000000000);
    tst_serial(5, serial);
    cr_assert_eq(store_revoke(st, serial, 16, 1700000100, 1, &out), STORE_OK);
    cr_assert_eq(out.revoked_at, 1700000100);
    cr_assert_eq(out.revocation_reason, 1);
    cr_assert_eq(out.cert_der_len, TST_CERT_LEN);
    cr_assert_eq(memcmp(out.cert_der, tst_cert(), TST_CERT_LEN), 0);
    store_record_cleanup(&out);

    cr_assert_eq(store_revoke(st, serial, 16, 1700000200, 4, &out), STORE_OK);
    cr_assert_eq(out.revoked_at, 1700000100);
    cr_assert_eq(out.revocation_reason, 1);
    store_record_cleanup(&out);
    cr_assert_eq(store_revoke(st, serial, 16, 1700000300, 5, NULL), STORE_OK);

    cr_assert_eq(store_get(st, serial, 16, &out), STORE_OK);
    cr_assert_eq(out.revoked_at, 1700000100);
    cr_assert_eq(out.revocation_reason, 1);
    store_record_cleanup(&out);
}

Test(store_cert, reports_revoking_an_unknown_serial_as_not_found)
{
    unsigned char serial[16];
    tst_serial(9, serial);
    cr_assert_eq(store_revoke(st, serial, 16, 1700000100, 1, NULL), STORE_ERR_NOT_FOUND);
}

Test(store_cert, refuses_bad_revoke_arguments_as_invalid_argument)
{
    unsigned char serial[16];
    tst_put(st, 5, ID, 2000000000);
    tst_serial(5, serial);
    cr_assert_eq(store_revoke(st, serial, 16, 0, 1, NULL), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_revoke(st, serial, 16, 1700000000, 7, NULL), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_revoke(st, serial, 16, 1700000000, 11, NULL), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_revoke(st, serial, 16, 1700000000, -1, NULL), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_revoke(st, serial, 0, 1700000000, 1, NULL), STORE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(store_revoke(st, NULL, 16, 1700000000, 1, NULL), STORE_ERR_INVALID_ARGUMENT);
}

struct walk {
    uint32_t seen[16];
    size_t num;
    size_t stop_after;
};

static int collect(const struct store_record *rec, void *ctx)
{
    struct walk *w = ctx;
    cr_assert_null(rec->cert_der);
    cr_assert_neq(rec->revoked_at, 0);
    cr_assert_lt(w->num, 16);
    w->seen[w->num++] = ((uint32_t)rec->serial[14] << 8) | rec->serial[15];
    return w->stop_after != 0 && w->num >= w->stop_after;
}

static int has(const struct walk *w, uint32_t n)
{
    for (size_t i = 0; i < w->num; i++) {
        if (w->seen[i] == n) {
            return 1;
        }
    }
    return 0;
}

Test(store_cert, walks_revoked_unexpired_records_only)
{
    const int64_t now = 1800000000;
    unsigned char serial[16];
    struct walk w = {{0}, 0, 0};

    tst_put(st, 1, ID, now + 100); /* revoked, valid: listed */
    tst_put(st, 2, ID, now - 100); /* revoked, expired: not listed */
    tst_put(st, 3, ID, now + 100); /* not revoked */
    tst_put(st, 4, ID, now + 1);   /* revoked, expires next second: listed */
    tst_put(st, 5, ID, now);       /* revoked, expires now: not listed */
    const uint32_t revoke[] = {1, 2, 4, 5};
    for (size_t i = 0; i < 4; i++) {
        tst_serial(revoke[i], serial);
        cr_assert_eq(store_revoke(st, serial, 16, 1700000000, 1, NULL), STORE_OK);
    }
    struct store_record rec;
    tst_record(&rec, 6, ID, now + 50); /* put already revoked: listed */
    rec.revoked_at = 1700000000;
    rec.revocation_reason = 3;
    cr_assert_eq(store_put(st, &rec), STORE_OK);

    cr_assert_eq(store_revoked_foreach(st, now, collect, &w), STORE_OK);
    cr_assert_eq(w.num, 3);
    cr_assert(has(&w, 1) && has(&w, 4) && has(&w, 6));
}

Test(store_cert, stops_the_revoked_walk_when_the_callback_says_so)
{
    unsigned char serial[16];
    struct walk w = {{0}, 0, 2};

    for (uint32_t i = 1; i <= 4; i++) {
        tst_put(st, i, ID, 2000000000);
        tst_serial(i, serial);
        cr_assert_eq(store_revoke(st, serial, 16, 1700000000, 0, NULL), STORE_OK);
    }
    cr_assert_eq(store_revoked_foreach(st, 1700000000, collect, &w), STORE_OK);
    cr_assert_eq(w.num, 2);
    cr_assert_eq(store_revoked_foreach(st, 1700000000, NULL, &w), STORE_ERR_INVALID_ARGUMENT);
}
