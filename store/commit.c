/* commit.c: the group-commit writer. Callers queue an operation and wait; a
 * single writer thread takes everything queued (up to max_batch) into one
 * write transaction and one synced commit, then wakes each caller with its own
 * result. While it commits, new operations queue up for the next batch. */
#include <stdlib.h>

#include "internal.h"

static enum store_err apply(struct store *st, MDB_txn *txn, struct store_op *op)
{
    switch (op->kind) {
        case STORE_OP_PUT:
            return store_put_apply(st, txn, op);
        case STORE_OP_REVOKE:
            return store_revoke_apply(st, txn, op);
        case STORE_OP_JTI:
            return store_jti_apply(st, txn, op);
        case STORE_OP_CRL:
            return store_crl_apply(st, txn, op);
        case STORE_OP_PROBE:
            return store_probe_apply(st, txn, op);
    }
    return STORE_ERR_INTERNAL;
}

/* reset drops what a failed or retried op had gathered. */
static void reset(struct store_op *op)
{
    store_record_cleanup(&op->result);
    op->number = 0;
}

/* run_txn applies |ops| (|num| of them) in one transaction and commits it.
 * It returns STORE_OK when the commit went through (each op->rc then holds
 * that op's own result), or the error that sank the whole transaction. */
static enum store_err run_txn(struct store *st, struct store_op **ops, size_t num)
{
    enum store_err rc = STORE_OK;
    MDB_txn *txn = NULL;

    MDB(mdb_txn_begin(st->env, NULL, 0, &txn));
    for (size_t i = 0; i < num; i++) {
        ops[i]->rc = apply(st, txn, ops[i]);
        if (ops[i]->rc != STORE_OK && !store_err_clean(ops[i]->rc)) {
            rc = ops[i]->rc; /* the txn holds part of this op: drop it all */
            goto out;
        }
    }
    int mrc = mdb_txn_commit(txn); /* writes, then fsyncs data and meta page */
    txn = NULL;                    /* commit frees the txn, also on failure */
    MDB(mrc);
out:
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    return rc;
}

/* run_batch commits a batch; when it cannot commit as one (a full map, say),
 * each op is retried alone so that those that fit still succeed. */
static void run_batch(struct store *st, struct store_op **ops, size_t num)
{
    size_t ok = 0;
    uint64_t commits = 0;
    enum store_err rc = run_txn(st, ops, num);

    if (rc == STORE_OK) {
        commits = 1;
    } else {
        for (size_t i = 0; i < num; i++) {
            reset(ops[i]);
        }
        for (size_t i = 0; i < num; i++) {
            rc = num > 1 ? run_txn(st, &ops[i], 1) : rc;
            if (rc != STORE_OK) {
                reset(ops[i]);
                ops[i]->rc = rc;
                continue;
            }
            commits++;
        }
    }
    for (size_t i = 0; i < num; i++) {
        if (ops[i]->rc == STORE_OK) {
            ok++;
        } else {
            reset(ops[i]);
        }
    }

    pthread_mutex_lock(&st->mu);
    st->commits += commits;
    st->committed += ok;
    if (commits > 0) {
        st->last_batch = ok;
    }
    pthread_mutex_unlock(&st->mu);
    /* Woken callers need not take the queue's lock, so they do not contend
     * with each other or with the next batch being queued. */
    for (size_t i = 0; i < num; i++) {
        struct store_op *op = ops[i];
        if (op->on_done == NULL) {
            sem_post(&op->done);
            continue;
        }
        void (*on_done)(void *, enum store_err) = op->on_done;
        void *arg = op->arg;
        enum store_err op_rc = op->rc;
        free(op);
        on_done(arg, op_rc);
    }
}

static void *writer_main(void *arg)
{
    struct store *st = arg;

    pthread_setname_np(pthread_self(), "signet-store"); /* for top -H, perf */
    pthread_mutex_lock(&st->mu);
    for (;;) {
        while (st->head == NULL && !st->stopping) {
            pthread_cond_wait(&st->wake, &st->mu);
        }
        if (st->head == NULL) {
            break; /* stopping, and the queue is drained */
        }
        size_t num = 0;
        while (st->head != NULL && num < st->max_batch) {
            st->batch[num++] = st->head;
            st->head = st->head->next;
        }
        if (st->head == NULL) {
            st->tail = NULL;
        }
        pthread_mutex_unlock(&st->mu);
        run_batch(st, st->batch, num);
        pthread_mutex_lock(&st->mu);
    }
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

enum store_err store_writer_start(struct store *st)
{
    st->batch = calloc(st->max_batch, sizeof(struct store_op *));
    if (st->batch == NULL) {
        return STORE_ERR_INTERNAL;
    }
    if (pthread_create(&st->writer, NULL, writer_main, st) != 0) {
        free(st->batch);
        st->batch = NULL;
        return STORE_ERR_INTERNAL;
    }
    st->writer_running = 1;
    return STORE_OK;
}

void store_writer_stop(struct store *st)
{
    if (!st->writer_running) {
        return;
    }
    pthread_mutex_lock(&st->mu);
    st->stopping = 1;
    pthread_cond_signal(&st->wake);
    pthread_mutex_unlock(&st->mu);
    pthread_join(st->writer, NULL);
    st->writer_running = 0;
    free(st->batch);
    st->batch = NULL;
}

enum store_err store_enqueue(struct store *st, struct store_op *op)
{
    op->next = NULL;
    op->rc = STORE_OK;
    pthread_mutex_lock(&st->mu);
    if (st->stopping) {
        pthread_mutex_unlock(&st->mu);
        return STORE_ERR_CLOSED;
    }
    if (st->tail != NULL) {
        st->tail->next = op;
    } else {
        st->head = op;
    }
    st->tail = op;
    pthread_cond_signal(&st->wake);
    pthread_mutex_unlock(&st->mu);
    return STORE_OK;
}

enum store_err store_submit(struct store *st, struct store_op *op)
{
    if (sem_init(&op->done, 0, 0) != 0) {
        return STORE_ERR_INTERNAL;
    }
    op->on_done = NULL;
    enum store_err rc = store_enqueue(st, op);
    if (rc != STORE_OK) {
        sem_destroy(&op->done);
        return rc;
    }
    while (sem_wait(&op->done) != 0) {
        /* EINTR: a signal handler ran; keep waiting for the commit. */
    }
    sem_destroy(&op->done);
    return op->rc;
}
