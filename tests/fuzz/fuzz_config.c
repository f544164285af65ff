/* fuzz_config.c: api_config_load and api_duration_parse over arbitrary bytes.
 * The input is handed over as a memfd so that the real file-reading path
 * (size cap, then JSON, then the strict walk) runs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../api/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct api_error err;
    int64_t seconds = 0;
    enum api_err rc = api_duration_parse((const char *)data, size, &seconds, &err);
    (void)rc;

    int fd = memfd_create("signet-fuzz-config", 0);
    if (fd < 0) {
        return 0;
    }
    if (write(fd, data, size) == (ssize_t)size) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        struct api_config *cfg = malloc(sizeof(*cfg));
        if (cfg != NULL) {
            rc = api_config_load(path, cfg, &err);
            free(cfg);
        }
    }
    close(fd);
    return 0;
}
