/* hold_reader.c: a helper for test_faults_storage.sh, built there with cc.
 * It opens the LMDB environment in the directory argv[1] read-only, begins a
 * read transaction, prints "holding" and keeps the transaction until killed.
 *
 * LMDB never reuses a page freed after the snapshot of its oldest reader (an
 * mdb_copy backup is one), so while this runs every write needs pages the
 * file does not have yet: on a full filesystem the store then cannot commit
 * anything, where otherwise small writes still succeed now and then on pages
 * earlier writes freed. */
#include <stdio.h>
#include <unistd.h>

#include <lmdb.h>

int main(int argc, char **argv)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;

    if (argc != 2) {
        fprintf(stderr, "usage: hold_reader DIR\n");
        return 2;
    }
    int rc = mdb_env_create(&env);
    if (rc == 0) {
        rc = mdb_env_set_maxdbs(env, 16);
    }
    if (rc == 0) {
        rc = mdb_env_open(env, argv[1], MDB_RDONLY, 0600);
    }
    if (rc == 0) {
        rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    }
    if (rc != 0) {
        fprintf(stderr, "hold_reader: %s\n", mdb_strerror(rc));
        return 1;
    }
    printf("holding\n");
    fflush(stdout);
    for (;;) {
        pause();
    }
}
