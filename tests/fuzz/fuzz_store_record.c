/* fuzz_store_record.c: the strict record decoder. Whatever decodes must
 * re-encode to exactly the same bytes (the encoding is canonical), and
 * decoding must never read past the input or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../store/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct store_record rec;
    static unsigned char out[STORE_RECORD_MAX_LEN];
    size_t len = 0;

    if (store_record_decode(data, size, 1, &rec) != STORE_OK) {
        return 0;
    }
    if (store_record_encode(&rec, out, sizeof(out), &len) != STORE_OK || len != size ||
        memcmp(out, data, size) != 0) {
        abort();
    }
    store_record_cleanup(&rec);
    if (store_record_decode(data, size, 0, &rec) != STORE_OK || rec.cert_der != NULL) {
        abort();
    }
    return 0;
}
