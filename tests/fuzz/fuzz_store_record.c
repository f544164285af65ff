/* fuzz_store_record.c: the strict record decoder. Whatever decodes must
 * re-encode to exactly the same bytes (the encoding is canonical), but for a
 * version 1 record, which re-encodes as version 2 with an empty renewed_from;
 * and decoding must never read past the input or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../store/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct store_record rec;
    static unsigned char out[STORE_RECORD_MAX_LEN];
    static unsigned char want[STORE_RECORD_MAX_LEN];
    size_t len = 0;

    if (store_record_decode(data, size, 1, &rec) != STORE_OK) {
        return 0;
    }
    size_t want_len = size;
    memcpy(want, data, size); /* size <= STORE_RECORD_MAX_LEN - 1 once decoded */
    if (data[0] == STORE_RECORD_V1) {
        size_t cert_at = size - rec.cert_der_len - 4; /* where renewed_from_len goes */
        want[0] = STORE_RECORD_VERSION;
        want[cert_at] = 0;
        memcpy(want + cert_at + 1, data + cert_at, size - cert_at);
        want_len = size + 1;
    }
    if (store_record_encode(&rec, out, sizeof(out), &len) != STORE_OK || len != want_len ||
        memcmp(out, want, want_len) != 0) {
        abort();
    }
    store_record_cleanup(&rec);
    if (store_record_decode(data, size, 0, &rec) != STORE_OK || rec.cert_der != NULL) {
        abort();
    }
    return 0;
}
