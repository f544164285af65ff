/* testfs.h: file-system helpers shared by tests and benchmarks. */
#ifndef SIGNET_TESTFS_H
#define SIGNET_TESTFS_H

/* testfs_rmtree removes |dir| and everything below it, without following
 * symbolic links; NULL and a missing directory are ignored. */
void testfs_rmtree(const char *dir);

#endif
