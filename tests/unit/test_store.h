/* test_store.h: helpers shared by the tests/unit/test_store_*.c files only:
 * a mkdtemp store directory, opening a store, and making records. */
#ifndef SIGNET_TEST_STORE_H
#define SIGNET_TEST_STORE_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "../../store/store.h"
#include "testfs.h"

#define TST_MAP_SIZE (64u * 1024 * 1024)
#define TST_CERT_LEN 600

/* tst_dir makes a new directory under /tmp; free it with tst_dir_remove. */
static inline char *tst_dir(void)
{
    char *dir = strdup("/tmp/signet-store-test-XXXXXX");
    cr_assert_not_null(dir);
    cr_assert_not_null(mkdtemp(dir));
    return dir;
}

static inline void tst_dir_remove(char *dir)
{
    if (dir != NULL) {
        testfs_rmtree(dir);
        free(dir);
    }
}

static inline struct store *tst_open_map(const char *dir, size_t map_size)
{
    struct store_options opts = {.path = dir, .map_size = map_size, .max_batch = 0};
    struct store *st = NULL;
    enum store_err rc = store_open(&opts, &st);
    cr_assert_eq(rc, STORE_OK, "store_open: %s", store_err_name(rc));
    return st;
}

static inline struct store *tst_open(const char *dir)
{
    return tst_open_map(dir, TST_MAP_SIZE);
}

/* tst_cert returns a fixed certificate-sized byte pattern (static; callers only read it). */
static inline unsigned char *tst_cert(void)
{
    static unsigned char cert[TST_CERT_LEN];
    for (size_t i = 0; i < sizeof(cert); i++) {
        cert[i] = (unsigned char)(i * 7 + 3);
    }
    return cert;
}

/* tst_serial writes the 16-byte serial of number |n|: serial order is n order. */
static inline void tst_serial(uint32_t n, unsigned char *serial)
{
    memset(serial, 0, 16);
    serial[0] = 0x40;
    serial[12] = (unsigned char)(n >> 24);
    serial[13] = (unsigned char)(n >> 16);
    serial[14] = (unsigned char)(n >> 8);
    serial[15] = (unsigned char)n;
}

/* tst_record fills |rec| for number |n| with identity |id| and |not_after|;
 * its cert_der is borrowed from tst_cert(). */
static inline void tst_record(struct store_record *rec, uint32_t n, const char *id,
                              int64_t not_after)
{
    memset(rec, 0, sizeof(*rec));
    tst_serial(n, rec->serial);
    rec->serial_len = 16;
    snprintf(rec->spiffe_id, sizeof(rec->spiffe_id), "%s", id);
    rec->issued_at = 1700000000;
    rec->not_before = 1700000000;
    rec->not_after = not_after;
    rec->auth_method = 1;
    rec->cert_der = tst_cert();
    rec->cert_der_len = TST_CERT_LEN;
}

/* struct tst_async is one store_put_async: the record, what it requires (the
 * jti it spends, the serial that must be unrevoked) and, once the callback
 * ran, its result and whether the record could be read back from inside the
 * callback. tst_async_run queues |num| of them back to back and waits for
 * every callback. */
struct tst_async {
    struct store *st;
    struct store_record rec;
    struct store_put_if cond;
    enum store_err rc;
    int readable;
    size_t *calls;
};

static pthread_mutex_t tst_async_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tst_async_cv = PTHREAD_COND_INITIALIZER;

static inline void tst_async_done(void *arg, enum store_err rc)
{
    struct tst_async *a = arg;
    struct store_record got;
    memset(&got, 0, sizeof(got));
    int readable = store_get(a->st, a->rec.serial, a->rec.serial_len, &got) == STORE_OK;
    store_record_cleanup(&got);
    pthread_mutex_lock(&tst_async_mu);
    a->rc = rc;
    a->readable = readable;
    (*a->calls)++;
    pthread_cond_signal(&tst_async_cv);
    pthread_mutex_unlock(&tst_async_mu);
}

/* tst_async_queue queues |num| puts without waiting; tst_async_wait waits
 * until |*calls| callbacks have run. */
static inline void tst_async_queue(struct store *st, struct tst_async *a, size_t num, size_t *calls)
{
    for (size_t i = 0; i < num; i++) {
        a[i].st = st;
        a[i].rc = STORE_ERR_INTERNAL;
        a[i].calls = calls;
        enum store_err rc = store_put_async(st, &a[i].rec, &a[i].cond, tst_async_done, &a[i]);
        cr_assert_eq(rc, STORE_OK, "store_put_async %zu: %s", i, store_err_name(rc));
    }
}

static inline void tst_async_wait(size_t *calls, size_t num)
{
    pthread_mutex_lock(&tst_async_mu);
    while (*calls < num) {
        pthread_cond_wait(&tst_async_cv, &tst_async_mu);
    }
    pthread_mutex_unlock(&tst_async_mu);
}

static inline void tst_async_run(struct store *st, struct tst_async *a, size_t num)
{
    size_t calls = 0;
    tst_async_queue(st, a, num, &calls);
    tst_async_wait(&calls, num);
    cr_assert_eq(calls, num, "each callback ran once");
}

/* tst_put puts record |n| and asserts it worked. */
static inline void tst_put(struct store *st, uint32_t n, const char *id, int64_t not_after)
{
    struct store_record rec;
    tst_record(&rec, n, id, not_after);
    enum store_err rc = store_put(st, &rec);
    cr_assert_eq(rc, STORE_OK, "store_put %u: %s", n, store_err_name(rc));
}

#endif
