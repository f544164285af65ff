/* testfs.c: see testfs.h. */
#define _XOPEN_SOURCE 700
#include "testfs.h"

#include <ftw.h>
#include <stdio.h>

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void testfs_rmtree(const char *dir)
{
    if (dir != NULL) {
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}
