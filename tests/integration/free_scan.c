/* free_scan.c: an LD_PRELOAD shim for test_key_hygiene.sh. It wraps free()
 * and realloc() and, before the block goes back to the allocator, looks in
 * it (all of malloc_usable_size() bytes) for key material: the PEM armour
 * "PRIVATE KEY-----" and each string of FREE_SCAN_NEEDLES (colon-separated,
 * e.g. the first base64 line of a key). A hit is written to the file
 * FREE_SCAN_LOG as one line, with a backtrace, so that the test can fail on
 * any key left in freed heap memory (STYLE.md 5: key material is cleansed
 * when freed).
 *
 * Test code, built by the test with cc: not part of signet. It cannot work
 * in a sanitizer build (ASan and TSan replace malloc and free), so the test
 * skips itself there. Mutable statics are fine here: they are set up once, in
 * the constructor, and the reentrancy guard is per thread. */
#define _GNU_SOURCE /* memmem, RTLD_NEXT */
#include <dlfcn.h>
#include <execinfo.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_NEEDLES    8
#define MAX_NEEDLE_LEN 256

static void (*real_free)(void *);
static void *(*real_realloc)(void *, size_t);
static int resolving;
static char needles[MAX_NEEDLES][MAX_NEEDLE_LEN];
static size_t needle_lens[MAX_NEEDLES];
static size_t num_needles;
static int log_fd = -1;
static __thread int in_hook;

static const char armour[] = "PRIVATE KEY-----";

static void resolve(void)
{
    if (real_free != NULL || resolving) {
        return;
    }
    resolving = 1; /* dlsym may free; such blocks are leaked, not scanned */
    real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    resolving = 0;
}

static void add_needle(const char *s, size_t len)
{
    if (num_needles < MAX_NEEDLES && len > 0 && len < MAX_NEEDLE_LEN) {
        memcpy(needles[num_needles], s, len);
        needle_lens[num_needles++] = len;
    }
}

__attribute__((constructor)) static void setup(void)
{
    void *frames[4];

    resolve();
    add_needle(armour, sizeof(armour) - 1);
    const char *list = getenv("FREE_SCAN_NEEDLES");
    while (list != NULL && *list != '\0') {
        const char *end = strchr(list, ':');
        size_t len = end != NULL ? (size_t)(end - list) : strlen(list);
        add_needle(list, len);
        list = end != NULL ? end + 1 : NULL;
    }
    const char *path = getenv("FREE_SCAN_LOG");
    if (path != NULL) {
        log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    }
    backtrace(frames, 4); /* loads libgcc now, not inside free() */
}

static void put(const char *s)
{
    if (write(log_fd, s, strlen(s)) < 0) {
        return;
    }
}

/* scan reports |p| when its usable bytes hold one of the needles, naming
 * each it holds, with a backtrace of the free. */
static void scan(void *p, const char *what)
{
    int found = 0;

    if (p == NULL || log_fd < 0 || in_hook) {
        return;
    }
    in_hook = 1;
    size_t size = malloc_usable_size(p);
    for (size_t i = 0; i < num_needles; i++) {
        if (memmem(p, size, needles[i], needle_lens[i]) == NULL) {
            continue;
        }
        put(found++ == 0 ? what : ",");
        put(found == 1 ? ": a freed block holds \"" : " \"");
        if (write(log_fd, needles[i], needle_lens[i]) < 0) {
            break;
        }
        put("\"");
    }
    if (found > 0) {
        void *frames[16];
        int n = backtrace(frames, 16);
        put("\n");
        backtrace_symbols_fd(frames, n, log_fd);
    }
    in_hook = 0;
}

void free(void *p)
{
    resolve();
    if (real_free == NULL) {
        return;
    }
    scan(p, "free");
    real_free(p);
}

/* realloc may move the block and free the old one inside the allocator, where
 * free() does not see it: scan the old block first, report only if it moved. */
void *realloc(void *p, size_t size)
{
    resolve();
    if (real_realloc == NULL) {
        return NULL;
    }
    int held = 0;
    if (p != NULL && log_fd >= 0 && !in_hook) {
        size_t usable = malloc_usable_size(p);
        for (size_t i = 0; i < num_needles && !held; i++) {
            held = memmem(p, usable, needles[i], needle_lens[i]) != NULL;
        }
    }
    void *q = real_realloc(p, size);
    if (held && q != NULL && q != p && !in_hook) {
        in_hook = 1;
        void *frames[16];
        int n = backtrace(frames, 16);
        put("realloc: a block that moved held key material\n");
        backtrace_symbols_fd(frames, n, log_fd);
        in_hook = 0;
    }
    return q;
}
